#!/usr/bin/env bash
# The consumer portal and the operator dashboard in a real browser: starts a fresh hookd
# (tests/lib/suite.sh; SQLite, or PostgreSQL with HOOKD_UI_DATABASE_URL) and runs
# test_ui.py, which drives the system's Chromium through Playwright (no browser download:
# Debian's `chromium` package, at HOOKD_UI_CHROMIUM, default /usr/bin/chromium).
#
# Usage: bash tests/ui/run.sh [name-filter ...]
# Env:   HOOKD_BIN             binary to test (default target/release/hookd; built if missing)
#        HOOKD_UI_VENV         virtualenv for Playwright (default target/ui-venv)
#        HOOKD_UI_DATABASE_URL a PostgreSQL database for the server (default: SQLite)
#        HOOKD_UI_SHOTS        where screenshots go (default target/ui-screenshots)
# The server log is kept at target/ui-hookd.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

SUITE=ui
rm -rf "${HOOKD_UI_SHOTS:-$ROOT/target/ui-screenshots}"
HOOKD_SERVER_DATABASE_URL="${HOOKD_UI_DATABASE_URL:-}"
# shellcheck source=../lib/suite.sh
. "$ROOT/tests/lib/suite.sh"

CHROMIUM="${HOOKD_UI_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    echo "ui: no Chromium at $CHROMIUM (apt-get install chromium)" >&2
    exit 1
fi
suite_venv "${HOOKD_UI_VENV:-target/ui-venv}" "$ROOT/tests/ui/requirements.txt"
suite_binary
start_hookd

set +e
HOOKD_URL="$URL" HOOKD_TOKEN="$TOKEN" HOOKD_UI_CHROMIUM="$CHROMIUM" \
    HOOKD_UI_SHOTS="${HOOKD_UI_SHOTS:-$ROOT/target/ui-screenshots}" PYTHONUNBUFFERED=1 \
    "$PY" "$ROOT/tests/ui/test_ui.py" "$@"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    server_log_tail
fi
exit "$rc"
