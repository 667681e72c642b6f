#!/usr/bin/env bash
# `sam build` offline for both functions (arm64, provided.al2023) via cargo-lambda
# and zig, then prints each bootstrap's size. Not part of scripts/test.sh: a
# cold release cross-build takes several minutes, and cargo-lambda must add
# the aarch64-unknown-linux-gnu target through rustup the first time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_dev_tools
cd "$ROOT"
# cargo-lambda adds the target itself, but two parallel builds race to do it.
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
sam_offline validate --lint
sam_offline build "$@"
for f in .aws-sam/build/*Function/bootstrap; do
  printf '%-60s %9d bytes  %s\n' "$f" "$(stat -c %s "$f")" "$(file -b "$f" | cut -d, -f1-2)"
done
