#!/usr/bin/env bash
# Runs the whole backend on this machine: DynamoDB Local, moto (Secrets
# Manager) and the four functions under `cargo lambda watch`, all on 127.0.0.1.
#
#   scripts/local-stack.sh
#
# With CORBADO_PROJECT_ID and CORBADO_API_SECRET set, the functions talk to
# the real Corbado (CORBADO_BACKEND_API, default https://backendapi.cloud.corbado.io/v2).
# Without them, a Corbado stand-in that verifies nothing serves HTTPS on 127.0.0.1:4010,
# with a CA made for this run that the functions trust through SSL_CERT_FILE.
#
# LAMBDA_CONCURRENCY (1): execution environments per function.
# Ports: LAMBDA_PORT (9000), DYNAMODB_PORT (8000), MOTO_PORT (5000), STANDIN_PORT (4010).
# The functions' own variables (ALLOWED_ORIGINS, NATIVE_APP_SESSIONS, SESSION_TTL_SECONDS, …)
# pass through from the environment.
# Stop with Ctrl-C; nothing is left running and nothing is kept (in-memory emulators).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_all EXIT INT TERM

LAMBDA_PORT=${LAMBDA_PORT:-9000}
DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
MOTO_PORT=${MOTO_PORT:-5000}
STANDIN_PORT=${STANDIN_PORT:-4010}
for port in "$LAMBDA_PORT" "$DYNAMODB_PORT" "$MOTO_PORT" "$STANDIN_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "127.0.0.1:$port is in use; stop what runs there or choose another port (see the top of $0)"
  fi
done

install_dev_tools
log "building the functions and tools"
cargo build --quiet --workspace --bins

start_dynamodb_local "$DYNAMODB_PORT"
start_moto "$MOTO_PORT"
export_local_aws_env "$DYNAMODB_PORT" "$MOTO_PORT"

export SESSIONS_TABLE=${SESSIONS_TABLE:-sessions}
# Browser origins allowed to use the session cookie; the events in events/ come from app.example.com.
export ALLOWED_ORIGINS=${ALLOWED_ORIGINS:-http://localhost:3000,http://127.0.0.1:3000,https://app.example.com}
"$ROOT/target/debug/connect-session" create-table

if [ -n "${CORBADO_PROJECT_ID:-}" ] && [ -n "${CORBADO_API_SECRET:-}" ]; then
  log "using the real Corbado at ${CORBADO_BACKEND_API:-https://backendapi.cloud.corbado.io/v2} for $CORBADO_PROJECT_ID"
  api_secret=$CORBADO_API_SECRET
else
  export CORBADO_PROJECT_ID=pro-1234567890
  export CORBADO_BACKEND_API="https://127.0.0.1:$STANDIN_PORT/v2"
  api_secret=corbado1_local_standin_secret
  start_corbado_standin "$STANDIN_PORT" "$api_secret"
  # In place of the system's trust store; cargo lambda watch passes it on to the functions.
  export SSL_CERT_FILE=$STANDIN_CA
fi
unset CORBADO_API_SECRET
# The secret goes to moto through stdin, never through the command line.
export CORBADO_API_SECRET_ARN=$(printf %s "$api_secret" | "$VENV/bin/python" -c '
import os, sys, boto3
client = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"])
print(client.create_secret(Name="corbado-api-secret", SecretString=sys.stdin.read())["ARN"])')
unset api_secret

# For the README walkthrough and connect-session: `source .local/env`.
cat >"$STATE/env" <<ENV
export AWS_REGION=$AWS_REGION AWS_DEFAULT_REGION=$AWS_REGION AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN=test
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SECRETS_MANAGER=$AWS_ENDPOINT_URL_SECRETS_MANAGER
export SESSIONS_TABLE=$SESSIONS_TABLE
export LAMBDA_URL=http://127.0.0.1:$LAMBDA_PORT/lambda-url
export VERIFY_URL=http://127.0.0.1:$LAMBDA_PORT/lambda-url/verify-signed-passkey-data/auth/verifySignedPasskeyData
export CONNECT_TOKEN_URL=http://127.0.0.1:$LAMBDA_PORT/lambda-url/create-connect-token/auth/createConnectToken
export SESSION_URL=http://127.0.0.1:$LAMBDA_PORT/lambda-url/session/auth/session
# The functions' settings (no secret), for a second cargo lambda watch with other ones (tests/check_openapi.py).
export CORBADO_PROJECT_ID=$CORBADO_PROJECT_ID CORBADO_API_SECRET_ARN=$CORBADO_API_SECRET_ARN
export CORBADO_BACKEND_API=${CORBADO_BACKEND_API:-} ALLOWED_ORIGINS=$ALLOWED_ORIGINS
# With the stand-in, its CA: it replaces the system's trust store, in this shell too.
${SSL_CERT_FILE:+export SSL_CERT_FILE=$SSL_CERT_FILE}
ENV

cat >&2 <<MSG

  Local stack is starting. Endpoints (JSON):
    POST http://127.0.0.1:$LAMBDA_PORT/lambda-url/verify-signed-passkey-data/auth/verifySignedPasskeyData
    POST http://127.0.0.1:$LAMBDA_PORT/lambda-url/create-connect-token/auth/createConnectToken
    GET, DELETE http://127.0.0.1:$LAMBDA_PORT/lambda-url/session/auth/session
    DELETE http://127.0.0.1:$LAMBDA_PORT/lambda-url/session/auth/sessions
  Sessions table: $SESSIONS_TABLE in DynamoDB Local; API secret: $CORBADO_API_SECRET_ARN in moto.
  In another shell, \`source .local/env\` and follow the README's walkthrough.

MSG
cd "$ROOT"
# LAMBDA_CONCURRENCY: execution environments per function, as Lambda scales out (default 1).
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" \
  --concurrency "${LAMBDA_CONCURRENCY:-1}" &
PIDS+=($!)
wait "${PIDS[-1]}"
