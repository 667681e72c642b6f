#!/usr/bin/env bash
# Benchmarks the function binaries under the Lambda Runtime API (tools/src/bin/lambda-bench.rs)
# against DynamoDB Local, moto and the Corbado stand-in, all on loopback, and
# prints the figures as a Markdown table (docs/performance.md holds the last one).
#
#   scripts/bench.sh           release build, 10 cold starts, 1000 warm invocations,
#                              plus the arm64 bootstrap sizes (cargo lambda build)
#   scripts/bench.sh --smoke   debug build, 2 cold starts, 30 warm invocations
#   BENCH_ARM64=0 scripts/bench.sh   release figures without the arm64 build
#                              (scripts/test.sh runs --smoke, so the benchmark cannot rot)
#   scripts/bench.sh --instructions  user-space instructions per warm invocation and where
#                              they go, from callgrind (valgrind): unlike CPU time, the same on
#                              every run. Release build with line tables in target/profiling.
#   INSTRUCTIONS_BIN_DIR=dir scripts/bench.sh --instructions  the same for binaries built
#                              elsewhere (another commit's, with line tables), not built here
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_all EXIT

smoke=false instructions=false
functions="create-connect-token verify-signed-passkey-data session session-authorizer"
[ "${1:-}" = "--smoke" ] && smoke=true
[ "${1:-}" = "--instructions" ] && instructions=true
install_dev_tools
cd "$ROOT"
if $instructions; then
  command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"
  cargo build --quiet --release -p connect-tools
  profiled="${INSTRUCTIONS_BIN_DIR:-$ROOT/target/profiling/release}"
  [ -n "${INSTRUCTIONS_BIN_DIR:-}" ] ||
    CARGO_TARGET_DIR=target/profiling CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
      cargo build --quiet --release $(printf -- '-p %s ' $functions)
elif $smoke; then
  profile=debug cold=2 warm=30
  cargo build --quiet --workspace --bins
else
  profile=release cold=10 warm=1000
  cargo build --quiet --workspace --bins
  cargo build --quiet --release $(printf -- '-p %s ' $functions) -p connect-tools
fi

dynamodb_port=$(free_port)
start_dynamodb_local "$dynamodb_port"
moto_port=$(free_port)
start_moto "$moto_port"
export_local_aws_env "$dynamodb_port" "$moto_port"
standin_port=$(free_port)
export CORBADO_PROJECT_ID=pro-1234567890
start_corbado_standin "$standin_port" corbado1_bench_secret 2>/dev/null
export CORBADO_BACKEND_API="https://127.0.0.1:$standin_port/v2" STANDIN_API_SECRET=corbado1_bench_secret
# lambda-bench's counting proxy reaches the stand-in over HTTPS and needs its CA; the functions
# talk plain HTTP to the proxy. Only lambda-bench gets it: rustup and cargo below need the system's.

if $instructions; then
  # Each function runs under callgrind behind a wrapper that the harness kills at the end of a
  # run; callgrind itself stops and writes its profile when the runtime API goes away.
  out="$STATE/callgrind" few=100 many=600 valgrind=$(command -v valgrind)
  rm -rf "$out" && mkdir -p "$out/bin"
  for warm in $few $many; do
    for bin in $functions; do
      printf '#!/bin/sh\n%s --tool=callgrind --callgrind-out-file=%s/%s.%s.%%p.out %s/%s 2>>%s/valgrind.log &\nwait\n' \
        "$valgrind" "$out" "$bin" "$warm" "$profiled" "$bin" "$out" >"$out/bin/$bin"
      chmod +x "$out/bin/$bin"
    done
    log "callgrind: 1 cold start, $warm warm invocations per function"
    SSL_CERT_FILE=$STANDIN_CA target/release/lambda-bench --bin-dir "$out/bin" --cold-starts 1 --warm "$warm" >/dev/null
    # Until every callgrind of this run has written its profile and exited.
    for _ in $(seq 1 120); do
      pgrep -f "callgrind-out-file=$out" >/dev/null || break
      sleep 0.5
    done
  done
  echo "| function | part | instructions per warm invocation | share |"
  echo "| --- | --- | --- | --- |"
  for bin in $functions; do
    # The larger profile of each run is the warm process (the other is the cold start).
    "$VENV/bin/python" "$ROOT/scripts/callgrind_per_invocation.py" "$bin" \
      "$(ls -S "$out/$bin.$few."*.out | head -n1)" "$(ls -S "$out/$bin.$many."*.out | head -n1)" "$few" "$many"
  done
  exit 0
fi

log "benchmark ($profile build, $cold cold starts, $warm warm invocations, $(nproc) cores)"
SSL_CERT_FILE=$STANDIN_CA "target/$profile/lambda-bench" --bin-dir "target/$profile" --cold-starts "$cold" --warm "$warm"

for bin in $functions; do
  printf '| %s | bootstrap size, x86_64 %s (this machine) | %d bytes | | |\n' "$bin" "$profile" "$(stat -c %s "target/$profile/$bin")"
done
if ! $smoke && [ "${BENCH_ARM64:-1}" = 1 ]; then
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
  cargo lambda build --quiet --release --arm64 $(printf -- '--bin %s ' $functions)
  for bin in $functions; do
    printf '| %s | bootstrap size, arm64 release (cargo lambda) | %d bytes | | ≤ 6 MB |\n' "$bin" "$(stat -c %s "target/lambda/$bin/bootstrap")"
  done
fi
