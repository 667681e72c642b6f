#!/usr/bin/env bash
# Against a fresh local stack (scripts/local-stack.sh): runs the README's
# walkthrough as written and checks what it printed, then sends every event
# file in events/ through cargo-lambda, checks openapi.yaml against the functions,
# runs the browser test and the load test. Called by scripts/test.sh.
#
# The stack's ports come from the environment (see scripts/local-stack.sh), e.g.
#   LAMBDA_PORT=9100 DYNAMODB_PORT=8100 MOTO_PORT=5100 STANDIN_PORT=4110 scripts/check-local-stack.sh
# the browser test's from BROWSER_SITE_PORT and BROWSER_CROSS_SITE_PORT (see tests/browser/cookie.test.mjs).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# One value for the stack, the wait below and the checks (tests/check_events.py reads it).
export LAMBDA_PORT=${LAMBDA_PORT:-9000}
mkdir -p .local
rm -f .local/env

# The stack runs in its own process group so that everything it started stops with it.
# Its functions log as on Lambda with LogFormat JSON, at debug; the events check reads that log.
LAMBDA_CONCURRENCY=4 AWS_LAMBDA_LOG_FORMAT=JSON RUST_LOG=debug setsid scripts/local-stack.sh >.local/local-stack.log 2>&1 &
stack=$!
stop_stack() {
  kill -TERM -- -$stack 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 $stack 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- -$stack 2>/dev/null || true
  wait $stack 2>/dev/null || true
}
trap stop_stack EXIT

for _ in $(seq 1 600); do
  if [ -f .local/env ] && (exec 3<>/dev/tcp/127.0.0.1/$LAMBDA_PORT) 2>/dev/null; then break; fi
  kill -0 $stack 2>/dev/null || { cat .local/local-stack.log >&2; echo "local stack exited" >&2; exit 1; }
  sleep 0.5
done

scripts/check-walkthrough.sh

source .local/env
PATH="$ROOT/.venv/bin:$PATH" "$ROOT/.venv/bin/python" tests/check_events.py
"$ROOT/.venv/bin/python" tests/check_openapi.py
node tests/browser/cookie.test.mjs
"$ROOT/.venv/bin/python" tests/load_test.py
