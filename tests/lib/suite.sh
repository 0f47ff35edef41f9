# Sourced by the suites that drive a real hookd from outside (tests/compat, tests/fuzz):
# their Python virtualenv, the binary, and a fresh server on a free loopback port with its
# own temporary SQLite database (or $HOOKD_SERVER_DATABASE_URL), a random admin token and
# main key, loopback deliveries allowed and fast retries, stopped when the calling script
# exits.
#
# Before sourcing, set ROOT (the repository) and SUITE (its name: the log is kept at
# target/$SUITE-hookd.log). Then:
# - `suite_venv VENV REQS`: a virtualenv at VENV (relative to ROOT unless absolute) with the
#   pinned requirements REQS, reinstalled when REQS changes; sets PY.
# - `suite_binary`: BIN, from HOOKD_BIN (default target/release/hookd), built if missing.
# - `start_hookd`: sets URL, TOKEN, MAIN_KEY, SERVER_PID; the log is $TMP/server.log.
# - `server_log_tail`: prints the server log's last lines to stderr (after a failure).
# Env: HOOKD_MAIN_KEY (default: random), HOOKD_LOG (default info), PYTHON (the
# interpreter that creates the virtualenv, default python3).

suite_venv() {
    local venv="$1" reqs="$2"
    case "$venv" in /*) ;; *) venv="$ROOT/$venv" ;; esac
    PY="$venv/bin/python"
    if [ ! -x "$PY" ]; then
        echo "$SUITE: creating virtualenv $venv"
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    if ! cmp -s "$reqs" "$venv/.suite-requirements"; then
        echo "$SUITE: installing $(tr '\n' ' ' < "$reqs")"
        "$PY" -m pip install --quiet --disable-pip-version-check -r "$reqs"
        cp "$reqs" "$venv/.suite-requirements"
    fi
}

suite_binary() {
    BIN="${HOOKD_BIN:-target/release/hookd}"
    case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
    if [ ! -x "$BIN" ]; then
        echo "$SUITE: $BIN not found; cargo build --release -p hookd"
        cargo build --release -p hookd
    fi
    [ -x "$BIN" ] || { echo "$SUITE: no hookd binary at $BIN" >&2; exit 1; }
}

TMP="$(mktemp -d "${TMPDIR:-/tmp}/hookd-$SUITE.XXXXXX")"
LOG="$ROOT/target/$SUITE-hookd.log"
mkdir -p "$ROOT/target"
SERVER_PID=""

stop_hookd() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [ -f "$TMP/server.log" ] && cp "$TMP/server.log" "$LOG"
    rm -rf "$TMP"
    exit "$rc"
}
trap stop_hookd EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_hookd() {
    PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    TOKEN="${SUITE}_$("$PY" -c 'import secrets; print(secrets.token_hex(16))')"
    URL="http://127.0.0.1:$PORT"
    MAIN_KEY="${HOOKD_MAIN_KEY:-$("$PY" -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')}"

    # It runs inside the temp dir so no ./hookd.toml is picked up.
    (
        cd "$TMP"
        exec env -u HOOKD_CONFIG -u HOOKD_LISTEN \
            HOOKD_DATA_DIR="$TMP" \
            HOOKD_DATABASE_URL="${HOOKD_SERVER_DATABASE_URL:-sqlite://$TMP/hookd.db}" \
            HOOKD_ADMIN_TOKEN="$TOKEN" \
            HOOKD_MAIN_KEY="$MAIN_KEY" \
            HOOKD_ALLOWED_NETWORKS="127.0.0.0/8,::1/128" \
            HOOKD_RETRY_SCHEDULE="1,1" \
            HOOKD_LOG="${HOOKD_LOG:-info}" \
            "$BIN" serve --listen "127.0.0.1:$PORT"
    ) >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!

    # Wait (up to 30 s) for GET /api/v1/health -> 200, giving up early if the server exits.
    if ! "$PY" - "$URL/api/v1/health" "$SERVER_PID" "$SUITE" <<'PYEOF'
import os, sys, time, urllib.request
url, pid, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + 30
last = "no answer"
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        print(f"{name}: hookd exited during start-up", file=sys.stderr)
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
            last = f"HTTP {r.status}"
    except Exception as e:  # not listening yet, or not ready
        last = str(e)
    time.sleep(0.1)
print(f"{name}: {url} not healthy after 30 s ({last})", file=sys.stderr)
sys.exit(1)
PYEOF
    then
        echo "$SUITE: server log:" >&2
        tail -n 50 "$TMP/server.log" >&2 || true
        exit 1
    fi
    echo "$SUITE: hookd is up at $URL (pid $SERVER_PID)"
}

server_log_tail() {
    echo "$SUITE: last lines of the server log (full log: $LOG):" >&2
    tail -n 40 "$TMP/server.log" >&2 || true
}
