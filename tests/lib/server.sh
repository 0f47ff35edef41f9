# Sourced by the suites that drive a real hookd from outside (tests/compat, tests/fuzz):
# starts a fresh server on a free loopback port with its own temporary SQLite database
# (or $HOOKD_SERVER_DATABASE_URL), a random admin token and main key, loopback deliveries
# allowed and fast retries, and stops it when the calling script exits.
#
# Before sourcing, set: ROOT (the repository), BIN (the hookd binary), PY (a Python 3)
# and SERVER_NAME (the log is kept at target/$SERVER_NAME-hookd.log).
# Env: HOOKD_MAIN_KEY (default: random), HOOKD_LOG (default info).
# After `start_hookd`: URL, TOKEN, MAIN_KEY, SERVER_PID, and the log at $TMP/server.log.

TMP="$(mktemp -d "${TMPDIR:-/tmp}/hookd-$SERVER_NAME.XXXXXX")"
LOG="$ROOT/target/$SERVER_NAME-hookd.log"
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
    TOKEN="${SERVER_NAME}_$("$PY" -c 'import secrets; print(secrets.token_hex(16))')"
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
    if ! "$PY" - "$URL/api/v1/health" "$SERVER_PID" "$SERVER_NAME" <<'PYEOF'
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
        echo "$SERVER_NAME: server log:" >&2
        tail -n 50 "$TMP/server.log" >&2 || true
        exit 1
    fi
    echo "$SERVER_NAME: hookd is up at $URL (pid $SERVER_PID)"
}
