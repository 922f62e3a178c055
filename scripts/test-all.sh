#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need (Debian packages, npm tools),
# starts a throw-away PostgreSQL cluster on loopback, runs every test against the real binary.
# Usage: bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '\n== %s\n' "$*"; }

# --- system packages ---------------------------------------------------------------------
need_pkgs=()
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_pkgs+=(postgresql)
python3 -c 'import aiosmtpd' >/dev/null 2>&1 || [ -f /usr/lib/python3/dist-packages/aiosmtpd/__init__.py ] || need_pkgs+=(python3-aiosmtpd)
# Node.js + npm run newman (tests/conformance installs it locally with `npm ci`).
command -v npm >/dev/null 2>&1 || need_pkgs+=(nodejs npm)
# Headless Chromium and its WebDriver run the console's browser tests (crates/scimd/tests/browser).
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
[ -x /usr/bin/chromedriver ] || need_pkgs+=(chromium-driver)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# --- PostgreSQL: a private cluster under a temporary directory ----------------------------
source "$ROOT/scripts/pg-test-cluster.sh"
start_pg_cluster
trap stop_pg_cluster EXIT
export TEST_DATABASE_URL

# --- build once, then test ---------------------------------------------------------------
log "building"
cargo build --workspace --all-targets --locked
export SCIMD_BIN="$ROOT/target/debug/scimd"

# Every step runs even when an earlier one failed, so one run shows every failure; the
# script's exit status is non-zero if any step failed.
status=0

log "unit and integration tests (SQLite and PostgreSQL)"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast || status=1
else
  cargo test --workspace --locked --no-fail-fast || status=1
fi

log "conformance: Microsoft Postman collection and Okta SCIM SPEC test"
bash tests/conformance/run.sh || status=1

if [ "$status" -ne 0 ]; then
  log "FAILED: see the output above"
fi
exit "$status"
