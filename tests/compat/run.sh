#!/usr/bin/env bash
# Svix SDK compatibility suite: starts a fresh hookd on a free loopback port with its own
# temporary SQLite database, then drives it with the official Svix Python SDK and verifies
# every delivery with the Standard Webhooks verifier (tests/compat/test_compat.py).
#
# Usage: bash tests/compat/run.sh [CHECK-NAME-SUBSTRING ...]
# Env:   HOOKD_BIN          binary to test (default target/release/hookd; built if missing)
#        HOOKD_COMPAT_VENV  virtualenv for the SDKs (default target/compat-venv)
#        PYTHON             interpreter that creates the venv (default python3)
#        HOOKD_COMPAT_DATABASE_URL  run hookd on this database instead of a temporary
#                           SQLite file (e.g. an empty PostgreSQL database)
#        HOOKD_MAIN_KEY     main key for the server (default: a random one per run, so a
#                           reused HOOKD_COMPAT_DATABASE_URL needs the key of its first run)
#        HOOKD_LOG          the server's log filter (default info)
#        HOOKD_COMPAT_LOG_CHECK=1  after the suite, search the server log for what must
#                           never be logged (see log_check below); a find fails the run
# The server log is kept at target/compat-hookd.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

SUITE=compat
HOOKD_SERVER_DATABASE_URL="${HOOKD_COMPAT_DATABASE_URL:-}"
# shellcheck source=../lib/suite.sh
. "$ROOT/tests/lib/suite.sh"

# 1. The virtualenv with the pinned SDKs, 2. the binary, 3. a fresh server: temp data
#    dir, free port, random token, loopback deliveries allowed, fast retries.
suite_venv "${HOOKD_COMPAT_VENV:-target/compat-venv}" "$ROOT/tests/compat/requirements.txt"
suite_binary
start_hookd

# 4. The suite.
set +e
HOOKD_URL="$URL" HOOKD_TOKEN="$TOKEN" PYTHONUNBUFFERED=1 \
    "$PY" "$ROOT/tests/compat/test_compat.py" "$@"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    server_log_tail
fi

# 5. The log check: nothing the suite sent as a secret or a payload is in the server log,
#    whatever the level. The suite's credentials and payloads are random per run, so the
#    check looks for what they all share, and for what hookd never logs at all:
#    - the admin token and the main key of this run;
#    - endpoint secrets (`whsec_`, `whsk_`); the header credential `Bearer t0ken`; the
#      source secret `s3cret`; payload text (`héllo`); idempotency keys
#      (`idem-<run>-…`, also sent as a payload);
#    - receive URLs (`/ingest/<token>`: hookd logs no request path);
#    - tokio-postgres statement parameters (`executing statement … with parameters`).
log_check() {
    local found=0 pattern
    for pattern in "$TOKEN" "$MAIN_KEY" whsec_ whsk_ t0ken s3cret 'héllo' 'idem-' \
        '/ingest/' 'executing statement' 'with parameters'; do
        if grep -F -n -m 3 -- "$pattern" "$TMP/server.log" >&2; then
            echo "compat: the server log holds ${pattern:0:12}… (lines above)" >&2
            found=1
        fi
    done
    if [ "$found" -ne 0 ]; then
        return 1
    fi
    echo "compat: log check passed ($(wc -l < "$TMP/server.log") lines at HOOKD_LOG=${HOOKD_LOG:-info}, no secret or payload)"
}
if [ "$rc" -eq 0 ] && [ "${HOOKD_COMPAT_LOG_CHECK:-0}" = 1 ]; then
    log_check || rc=1
fi
exit "$rc"
