#!/usr/bin/env bash
# Corbado's Backend API v2 spec for the contract tests (Prism). It is not kept in the repository.
#
#   scripts/corbado-spec.sh            prints the directory holding backend_api_v2.contract.yml and
#                                      common.yml: $CORBADO_SPEC_DIR (default ../shared/corbado) if it
#                                      has them, else .local/corbado-spec, fetched as `fetch` does
#   scripts/corbado-spec.sh fetch DIR  fetches the published spec at the pinned commit into DIR,
#                                      refuses any file whose SHA-256 differs from the pinned one,
#                                      and derives the contract file (scripts/corbado_contract_fix.py)
#   scripts/corbado-spec.sh check      shows the fix equals the offline copy's contract file, and
#                                      runs the fetch through file://, intact and corrupted
#
# CORBADO_SPEC_URL_BASE (https:// or file://) replaces the source, e.g. with a mirror; the
# SHA-256 check applies to whatever it serves. Called by scripts/test.sh; needs .venv (PyYAML).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PINNED_COMMIT=bf94aa9055ff3bbeb43e7caeea3fa9259dbdf6bf
URL_BASE=${CORBADO_SPEC_URL_BASE:-https://raw.githubusercontent.com/corbado/corbado-python/$PINNED_COMMIT/scripts}
# Upstream name, name here, SHA-256 of the file at the pinned commit (the offline copy's, which
# SOURCE.txt there says is identical). common.yml keeps its name: the spec's $refs point to it.
PUBLISHED_FILES=(
  "backend_api_public_v2.yml backend_api_v2.yml dc327b01fec15375c13f2ec5b96b9ee00d38171ad465a99885420478c08f8410"
  "common.yml common.yml 2e0b7db1b3ea825a232070f23df77d5755be2d4b7b3d1fcd85235a5aea924655"
)
FIX="$ROOT/scripts/corbado_contract_fix.py"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

need_python() {
  [ -x "$VENV/bin/python" ] || die "$VENV is missing: scripts/test.sh installs it (PyYAML comes with the SAM CLI)"
}

has_offline_copy() {
  [ -f "$CORBADO_SPEC_DIR/backend_api_v2.contract.yml" ] && [ -f "$CORBADO_SPEC_DIR/common.yml" ]
}

fetch() { # dir
  local dest=$1 entry upstream name sha url actual
  case "$URL_BASE" in
    https://* | file://*) ;;
    *) die "CORBADO_SPEC_URL_BASE must start with https:// or file:// (got $URL_BASE)" ;;
  esac
  need_python
  mkdir -p "$dest"
  for entry in "${PUBLISHED_FILES[@]}"; do
    read -r upstream name sha <<<"$entry"
    # A file fetched before is kept while its hash still matches.
    [ -f "$dest/$name" ] && [ "$(sha256_of "$dest/$name")" = "$sha" ] && continue
    rm -f "$dest/$name" "$dest/backend_api_v2.contract.yml"
    url="$URL_BASE/$upstream"
    log "fetching $url"
    if ! curl --fail --silent --show-error --location --proto '=https,file' --proto-redir '=https' \
        --max-time 120 -o "$dest/$name.part" "$url"; then
      rm -f "$dest/$name.part"
      die "could not fetch Corbado's spec from $url"
    fi
    actual=$(sha256_of "$dest/$name.part")
    if [ "$actual" != "$sha" ]; then
      rm -f "$dest/$name.part"
      die "refusing $url: its SHA-256 is $actual, but $upstream at corbado-python@$PINNED_COMMIT has $sha"
    fi
    mv "$dest/$name.part" "$dest/$name"
  done
  "$VENV/bin/python" "$FIX" derive "$dest/backend_api_v2.yml" "$dest/backend_api_v2.contract.yml"
}

resolve() {
  if has_offline_copy; then
    (cd "$CORBADO_SPEC_DIR" && pwd)
    return
  fi
  log "no Corbado spec at $CORBADO_SPEC_DIR: using corbado-python@$PINNED_COMMIT in $STATE/corbado-spec"
  fetch "$STATE/corbado-spec"
  printf '%s\n' "$STATE/corbado-spec"
}

CHECK_TMP=
check() {
  local source_dir passed=0
  need_python
  CHECK_TMP=$(mktemp -d)
  trap 'rm -rf "$CHECK_TMP"' EXIT

  if has_offline_copy && [ -f "$CORBADO_SPEC_DIR/backend_api_v2.yml" ]; then
    source_dir=$CORBADO_SPEC_DIR
    "$VENV/bin/python" "$FIX" verify "$source_dir/backend_api_v2.yml" "$source_dir/backend_api_v2.contract.yml" \
      || die "the fix is not the offline copy's: see the differences above"
    passed=$((passed + 1))
  else
    log "no offline copy at $CORBADO_SPEC_DIR: the fix is not compared with its contract file"
    source_dir=$(resolve)
  fi

  # A mirror laid out like corbado-python's scripts/, reached through file://.
  local mirror="$CHECK_TMP/mirror" fetched="$CHECK_TMP/fetched"
  mkdir -p "$mirror"
  cp "$source_dir/backend_api_v2.yml" "$mirror/backend_api_public_v2.yml"
  cp "$source_dir/common.yml" "$mirror/common.yml"
  CORBADO_SPEC_URL_BASE="file://$mirror" "$ROOT/scripts/corbado-spec.sh" fetch "$fetched" 2>"$CHECK_TMP/fetch.log" \
    || { cat "$CHECK_TMP/fetch.log" >&2; die "fetching through file:// failed"; }
  # What Prism would read: the derived file is the fix applied to the fetched spec.
  "$VENV/bin/python" "$FIX" verify "$fetched/backend_api_v2.yml" "$fetched/backend_api_v2.contract.yml" \
    || die "the contract file derived through file:// is not the fixed spec"
  cmp -s "$fetched/common.yml" "$source_dir/common.yml" || die "common.yml fetched through file:// differs"
  passed=$((passed + 1))

  # One changed byte in the published spec: refused, and nothing of it left behind.
  local corrupt="$CHECK_TMP/corrupt" refused="$CHECK_TMP/refused"
  cp -r "$mirror" "$corrupt"
  sed -i '0,/passkey-append/s//passkey-appent/' "$corrupt/backend_api_public_v2.yml"
  if CORBADO_SPEC_URL_BASE="file://$corrupt" "$ROOT/scripts/corbado-spec.sh" fetch "$refused" 2>"$CHECK_TMP/refused.log"; then
    die "a corrupted backend_api_public_v2.yml was accepted"
  fi
  grep -q "refusing file://$corrupt/backend_api_public_v2.yml: its SHA-256 is" "$CHECK_TMP/refused.log" \
    || { cat "$CHECK_TMP/refused.log" >&2; die "a corrupted file was refused without the SHA-256 message"; }
  [ ! -e "$refused/backend_api_v2.yml" ] && [ ! -e "$refused/backend_api_v2.yml.part" ] \
    && [ ! -e "$refused/backend_api_v2.contract.yml" ] \
    || die "a refused file was left in $refused"
  passed=$((passed + 1))

  # A damaged file from an earlier fetch is fetched again, not used.
  printf 'damaged\n' >>"$fetched/common.yml"
  CORBADO_SPEC_URL_BASE="file://$mirror" "$ROOT/scripts/corbado-spec.sh" fetch "$fetched" 2>"$CHECK_TMP/refetch.log" \
    || { cat "$CHECK_TMP/refetch.log" >&2; die "fetching again through file:// failed"; }
  cmp -s "$fetched/common.yml" "$source_dir/common.yml" || die "a damaged common.yml was kept"
  passed=$((passed + 1))

  echo "corbado spec: $passed passed, 0 failed" >&2
}

case "${1:-}" in
  "") resolve ;;
  fetch) [ $# = 2 ] || die "usage: $0 fetch DIR"; fetch "$2" ;;
  check) check ;;
  *) die "usage: $0 [fetch DIR | check]" ;;
esac
