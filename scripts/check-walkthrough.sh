#!/usr/bin/env bash
# Runs the README's walkthrough as written against the stack that .local/env
# describes (its VERIFY_URL, CONNECT_TOKEN_URL and SESSION_URL: cargo lambda watch from
# scripts/local-stack.sh, or sam local start-api from scripts/sam-local.sh)
# and checks what it printed. Called by scripts/check-local-stack.sh and scripts/sam-local.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .local/env ] || { echo ".local/env is missing: start a stack first" >&2; exit 1; }

script=$(awk '/<!-- walkthrough:start -->/{on=1; next} /<!-- walkthrough:end -->/{on=0} on && !/^```/' README.md)
[ -n "$script" ] || { echo "no walkthrough block in README.md" >&2; exit 1; }
output=$(bash -euo pipefail -c "$script" 2>&1) || { echo "$output" >&2; echo "walkthrough failed" >&2; exit 1; }

expect() {
  if ! grep -qE -- "$1" <<<"$output"; then
    printf '%s\n' "$output" >&2
    echo "walkthrough output lacks: $1" >&2
    exit 1
  fi
}
expect '^HTTP/1.1 200 OK'
# cargo lambda watch writes set-cookie, SAM's local server (Werkzeug) Set-Cookie.
expect '^[Ss]et-[Cc]ookie: __Host-session=[A-Za-z0-9_-]{43}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=10800'
expect '^\{"success":true\}$'
expect '^\{"connectToken":"ctk1_standin_0_'
expect '^\{"userId":"user-42","expiresAt":[0-9]+\}$'
expect '^[Ss]et-[Cc]ookie: __Host-session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0'
expect '^\{"connectToken":"ctk1_standin_1_'
expect '"code":"session_invalid"\}$'
# Both refusals of a revoked session: after the logout (3) and after connect-session revoke (5).
[ "$(grep -c '"code":"session_invalid"}$' <<<"$output")" = 2 ] || { printf '%s\n' "$output" >&2; echo "walkthrough: expected two session_invalid answers" >&2; exit 1; }
expect '"code":"invalid_signed_passkey_data"\}$'
echo "walkthrough: 10 passed, 0 failed"
