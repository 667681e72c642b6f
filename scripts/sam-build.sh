#!/usr/bin/env bash
# `sam build` offline for the four functions (arm64, provided.al2023) via cargo-lambda
# and zig, then prints each bootstrap's size. Needs Rust, Python 3 and what
# install_build_tools puts in .venv (SAM CLI, cargo-lambda); runs on Linux and macOS.
# Not part of scripts/test.sh: a cold release cross-build takes several minutes, and
# the aarch64-unknown-linux-gnu target must be added through rustup the first time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
install_build_tools
cd "$ROOT"
# The first cargo call installs rust-toolchain.toml's toolchain if it is missing.
cargo --version >/dev/null
# cargo-lambda adds the target itself, but two parallel builds race to do it.
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
sam_offline validate --lint
sam_offline build "$@"
for f in .aws-sam/build/*Function/bootstrap; do
  # wc -c, not stat: stat's options differ between GNU and macOS.
  printf '%-60s %9d bytes  %s\n' "$f" "$(($(wc -c <"$f")))" "$(file -b "$f" | cut -d, -f1-2)"
done
