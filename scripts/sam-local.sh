#!/usr/bin/env bash
# Runs the template's functions under SAM's own local runtime (sam local invoke and
# sam local start-api, in containers) against emulators on this machine, and
# checks them: every file in events/ (tests/check_events.py), the README's
# walkthrough (scripts/check-walkthrough.sh) through the template's real routes, and
# an application's own route behind the session authorizer (tests/check_app_route.py).
# That route is the README's YAML block, added to a copy of template.yaml
# (.local/sam-local/template.yaml), which this script builds and runs instead.
# Called by scripts/test.sh; needs root on a machine without a container engine.
#
# The container engine: Docker when a Docker daemon answers, else podman (installed
# from Debian if missing), whose Docker API this script serves on a socket under .local/.
# No registry is needed: the base image is a minimal Debian made with mmdebstrap
# (kept in the engine's store, rebuilt when missing), and each run adds a layer with the
# Corbado stand-in's CA as the system trust store and the emulators' endpoints.
# Containers reach the emulators, which listen on 127.0.0.1, through a relay on the
# bridge's host address (host.containers.internal); nothing goes further.
#
# The functions are built for this machine's architecture (template parameter
# Architecture), in debug mode: incremental, where release relinks with LTO on every change.
# Each step's time goes to .local/sam-local/timings.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WORK="$STATE/sam-local"
BASE_IMAGE=localhost/corbado-connect-lambda-base:bookworm
# Per run: the image SAM invokes with, and the rapid image SAM derives from it.
RUN_IMAGE=localhost/corbado-connect-sam-local-$$:latest
ANCHOR=corbado-connect-sam-local-anchor-$$
API_SECRET=corbado1_local_standin_secret
SESSIONS_TABLE=sessions
ORIGINS=http://localhost:3000,http://127.0.0.1:3000,https://app.example.com
ENGINE=
ENGINE_HOST=
API_PORT=
WROTE_ENV=false
case "$(uname -m)" in
  x86_64) ARCH=x86_64 DEB_ARCH=amd64 ;;
  aarch64) ARCH=arm64 DEB_ARCH=arm64 ;;
  *) die "no Lambda architecture for $(uname -m)" ;;
esac
rm -rf "$WORK"
mkdir -p "$WORK"

timed() { # name command...: runs it and records how long it took
  local name=$1 start=$EPOCHREALTIME
  shift
  "$@"
  awk -v name="$name" -v start="$start" -v end="$EPOCHREALTIME" 'BEGIN {printf "%-40s %6.1f s\n", name, end - start}' \
    | tee -a "$WORK/timings.txt" >&2
}

# .local/env is shared with scripts/local-stack.sh runs in the same tree: put back the one that
# was there, unless something else has replaced ours since.
restore_env() {
  WROTE_ENV=false
  cmp -s "$WORK/env" "$STATE/env" || return 0
  if [ -f "$WORK/env.before" ]; then mv "$WORK/env.before" "$STATE/env"; else rm -f "$STATE/env"; fi
}

# Containers first (the engine's CLI works without the service), then our processes.
cleanup() {
  if [ -n "$ENGINE" ]; then
    local leftovers
    leftovers=$("$ENGINE" ps -aq --filter "ancestor=${RUN_IMAGE%:*}:rapid-$ARCH" 2>/dev/null || true)
    [ -z "$leftovers" ] || "$ENGINE" rm -f $leftovers >/dev/null 2>&1 || true
    "$ENGINE" rm -f "$ANCHOR" >/dev/null 2>&1 || true
    "$ENGINE" rmi -f "${RUN_IMAGE%:*}:rapid-$ARCH" "$RUN_IMAGE" >/dev/null 2>&1 || true
  fi
  stop_all
  ! $WROTE_ENV || restore_env
  [ -z "${STANDIN_CA:-}" ] || rm -rf "$(dirname "$STANDIN_CA")"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() { # package...: those not installed yet, from Debian
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
    || die "missing ${missing[*]}: install them as root (apt-get install ${missing[*]})"
  log "installing ${missing[*]} (Debian)"
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
      >"$WORK/apt.log" 2>&1; then
    cat "$WORK/apt.log" >&2
    die "could not install ${missing[*]} with apt-get (log above)"
  fi
}

# crun 1.8 fails on this cgroup layout, hence runc. Podman's default ulimits exceed
# what this machine allows a process, so containers would not start without these.
configure_podman() {
  local nofile nproc conf=/etc/containers/containers.conf.d/50-corbado-connect-sam-local.conf
  nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  mkdir -p "$(dirname "$conf")"
  cat >"$WORK/containers.conf" <<CONF
# Written by scripts/sam-local.sh (Corbado Connect backend).
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
CONF
  cmp -s "$WORK/containers.conf" "$conf" || cp "$WORK/containers.conf" "$conf"
}

# Sets ENGINE (the CLI) and DOCKER_HOST (for SAM).
start_container_engine() {
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    log "using the running Docker daemon"
    ENGINE=docker
    return
  fi
  apt_install podman runc netavark iptables
  configure_podman
  ENGINE=podman
  local socket="$WORK/podman.sock"
  podman system service --time=0 "unix://$socket" >"$WORK/podman-service.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    [ "$(curl -s --unix-socket "$socket" http://podman/_ping 2>/dev/null)" = OK ] && break
    sleep 0.1
  done
  [ "$(curl -s --unix-socket "$socket" http://podman/_ping 2>/dev/null)" = OK ] \
    || { cat "$WORK/podman-service.log" >&2; die "podman system service did not answer on $socket"; }
  export DOCKER_HOST="unix://$socket"
}

# A minimal Debian in place of public.ecr.aws/lambda/provided:al2023 (no registry here);
# SAM adds its runtime interface emulator (rapid) to it.
build_base_image() {
  "$ENGINE" image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  apt_install mmdebstrap
  log "building $BASE_IMAGE with mmdebstrap (once; it stays in $ENGINE's image store)"
  mmdebstrap --quiet --variant=minbase --architectures="$DEB_ARCH" bookworm - 2>"$WORK/mmdebstrap.log" \
    | "$ENGINE" import - "$BASE_IMAGE" >/dev/null \
    || { cat "$WORK/mmdebstrap.log" >&2; die "could not build $BASE_IMAGE"; }
}

# With podman the bridge (and its host address) exists only while a container runs.
# Sets ENGINE_HOST: the host's address on the bridge, where the relay listens.
start_anchor_container() {
  "$ENGINE" run -d --rm --stop-signal KILL --name "$ANCHOR" "$BASE_IMAGE" sleep infinity >/dev/null
  ENGINE_HOST=$("$ENGINE" inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}' "$ANCHOR")
  [ -n "$ENGINE_HOST" ] || die "no bridge gateway address for $ANCHOR"
}

# DynamoDB Local, moto and the Corbado stand-in (HTTPS, with a CA made for this run) on
# 127.0.0.1, the relay in front of them on the bridge, the table and the secret.
# Sets CONTAINER_DYNAMODB, CONTAINER_SECRETS_MANAGER, CONTAINER_CORBADO: their URLs from a container.
start_emulators() {
  local dynamodb_port moto_port standin_port
  dynamodb_port=$(free_port) moto_port=$(free_port) standin_port=$(free_port)
  start_dynamodb_local "$dynamodb_port"
  start_moto "$moto_port"
  export_local_aws_env "$dynamodb_port" "$moto_port"
  # Every sam local command asks STS for the account id first; moto answers, not AWS.
  export AWS_ENDPOINT_URL_STS=$AWS_ENDPOINT_URL_SECRETS_MANAGER
  export SESSIONS_TABLE CORBADO_PROJECT_ID=pro-1234567890
  start_corbado_standin "$standin_port" "$API_SECRET"
  [ -s "$STANDIN_CA" ] || die "the Corbado stand-in wrote no CA certificate to $STANDIN_CA"

  "$VENV/bin/python" "$ROOT/scripts/bridge_relay.py" "$ENGINE_HOST" "$dynamodb_port" "$moto_port" "$standin_port" \
    >"$WORK/relay.ports" 2>"$WORK/relay.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [ "$(wc -l <"$WORK/relay.ports")" -eq 3 ] && break; sleep 0.1; done
  [ "$(wc -l <"$WORK/relay.ports")" -eq 3 ] || { cat "$WORK/relay.log" >&2; die "the relay did not start"; }
  relayed() { awk -v p="$1" '$1 == p {print $2}' "$WORK/relay.ports"; }
  CONTAINER_DYNAMODB="http://host.containers.internal:$(relayed "$dynamodb_port")"
  CONTAINER_SECRETS_MANAGER="http://host.containers.internal:$(relayed "$moto_port")"
  CONTAINER_CORBADO="https://host.containers.internal:$(relayed "$standin_port")/v2"

  "$ROOT/target/debug/connect-session" create-table
  # The secret goes to moto through stdin, never through the command line.
  CORBADO_API_SECRET_ARN=$(printf %s "$API_SECRET" | "$VENV/bin/python" -c '
import os, sys, boto3
client = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"])
print(client.create_secret(Name="corbado-api-secret", SecretString=sys.stdin.read())["ARN"])')
}

# The image SAM runs the functions in: the base, the stand-in's CA as the whole system
# trust store (where rustls-native-certs looks on Debian, as in production), and the
# emulators' endpoints. These are AWS SDK variables the template does not declare, and
# --env-vars sets only declared ones.
build_run_image() {
  mkdir -p "$WORK/image"
  cp "$STANDIN_CA" "$WORK/image/ca.pem"
  cat >"$WORK/image/Containerfile" <<IMAGE
FROM $BASE_IMAGE
COPY ca.pem /etc/ssl/certs/ca-certificates.crt
ENV AWS_ENDPOINT_URL_DYNAMODB=$CONTAINER_DYNAMODB AWS_ENDPOINT_URL_SECRETS_MANAGER=$CONTAINER_SECRETS_MANAGER
IMAGE
  "$ENGINE" build -q -f "$WORK/image/Containerfile" -t "$RUN_IMAGE" "$WORK/image" >/dev/null
}

# The functions' variables (all declared in the template's Globals).
write_env_vars() {
  cat >"$WORK/env-vars.json" <<JSON
{"Parameters": {
  "SESSIONS_TABLE": "$SESSIONS_TABLE",
  "CORBADO_PROJECT_ID": "$CORBADO_PROJECT_ID",
  "CORBADO_API_SECRET_ARN": "$CORBADO_API_SECRET_ARN",
  "CORBADO_BACKEND_API": "$CONTAINER_CORBADO",
  "SESSION_TTL_SECONDS": "10800",
  "ALLOWED_ORIGINS": "$ORIGINS",
  "NATIVE_APP_SESSIONS": "false",
  "METRICS_NAMESPACE": "CorbadoConnect/sam-local",
  "LOG_LEVEL": "INFO"
}}
JSON
}

# template.yaml plus the application route exactly as README.md shows it (the
# block between its app-route markers), inserted at the top of Resources.
write_template() {
  local route
  route=$(awk '/<!-- app-route:start -->/{on=1; next} /<!-- app-route:end -->/{on=0} on && !/^```/ && !/^Resources:$/' \
    "$ROOT/README.md")
  [ -n "$route" ] || die "no app-route block in README.md"
  awk -v route="$route" '{print} /^Resources:$/ {print route}' "$ROOT/template.yaml" >"$WORK/template.yaml"
}

sam_build() {
  # Plain cargo, not zig: the build is for this machine, and the container's glibc is Debian's.
  # The copy's CodeUri (.) is the workspace, and the build settings are samconfig.toml's, as
  # for template.yaml itself.
  SAM_BUILD_MODE=debug CARGO_LAMBDA_COMPILER=cargo \
    sam_offline build --no-cached --template "$WORK/template.yaml" --base-dir "$ROOT" \
    --config-file "$ROOT/samconfig.toml" --build-dir "$WORK/build" --parameter-overrides "Architecture=$ARCH" \
    >"$WORK/sam-build.log" 2>&1 || { cat "$WORK/sam-build.log" >&2; die "sam build failed"; }
}

# What every sam local command here shares: the built template, the run image, the
# variables, the host name, no registry, and nothing kept outside .local/.
sam_local_args() {
  printf '%s\n' --template "$WORK/build/template.yaml" --parameter-overrides "Architecture=$ARCH" \
    --env-vars "$WORK/env-vars.json" --invoke-image "$RUN_IMAGE" --skip-pull-image \
    --add-host "host.containers.internal:$ENGINE_HOST" --layer-cache-basedir "$WORK/layers"
}

# The walkthrough against sam local start-api, on the template's routes. Sets API_PORT.
check_start_api() {
  local port args
  port=$(free_port)
  API_PORT=$port
  mapfile -t args < <(sam_local_args)
  sam_offline local start-api "${args[@]}" --host 127.0.0.1 --port "$port" \
    --container-host-interface 127.0.0.1 --warm-containers EAGER >"$WORK/start-api.log" 2>&1 &
  PIDS+=($!)
  wait_for_port "$port" "sam local start-api" "$WORK/start-api.log"
  # As scripts/local-stack.sh writes it, for the walkthrough and connect-session.
  [ ! -f "$STATE/env" ] || cp "$STATE/env" "$WORK/env.before"
  WROTE_ENV=true
  cat >"$WORK/env" <<ENV
export AWS_REGION=$AWS_REGION AWS_DEFAULT_REGION=$AWS_REGION AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN=test
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SECRETS_MANAGER=$AWS_ENDPOINT_URL_SECRETS_MANAGER
export SESSIONS_TABLE=$SESSIONS_TABLE
export VERIFY_URL=http://127.0.0.1:$port/auth/verifySignedPasskeyData
export CONNECT_TOKEN_URL=http://127.0.0.1:$port/auth/createConnectToken
export SESSION_URL=http://127.0.0.1:$port/auth/session
ENV
  cp "$WORK/env" "$STATE/env"
  "$ROOT/scripts/check-walkthrough.sh" || { cat "$WORK/start-api.log" >&2; return 1; }
  restore_env
}

# The application's route behind the authorizer, on the same sam local start-api.
check_app_route() {
  API_URL="http://127.0.0.1:$API_PORT" ORIGIN=${ORIGINS%%,*} SAM_LOG="$WORK/start-api.log" \
    "$VENV/bin/python" "$ROOT/tests/check_app_route.py" || { cat "$WORK/start-api.log" >&2; return 1; }
}

# Every events/ file through sam local invoke, one container each, checked by tests/check_events.py.
check_invoke() {
  local args
  mapfile -t args < <(sam_local_args)
  SAM_LOCAL_INVOKE=$("$VENV/bin/python" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
    "$VENV/bin/sam" local invoke "${args[@]}") "$VENV/bin/python" "$ROOT/tests/check_events.py"
}

cd "$ROOT"
# Here, so that every SAM process inherits it, those check_events.py starts too.
sam_offline_env
log "SAM local runtime: containers from $BASE_IMAGE, functions for $ARCH"
timed "dev tools" install_dev_tools
timed "tools (cargo build connect-tools)" cargo build --quiet -p connect-tools --bins
# The build is mostly CPU, the engine and base image mostly waiting on apt: side by side.
write_template
timed "sam build ($ARCH, debug), in parallel" sam_build &
build=$!
PIDS+=("$build")
timed "container engine" start_container_engine
timed "base image" build_base_image
timed "anchor container" start_anchor_container
timed "emulators, stand-in, relay" start_emulators
timed "run image (CA, endpoints)" build_run_image
write_env_vars
timed "waiting for sam build" wait "$build"
timed "start-api + walkthrough" check_start_api
timed "app route behind the authorizer" check_app_route
timed "sam local invoke, each event" check_invoke
