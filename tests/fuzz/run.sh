#!/usr/bin/env bash
# API fuzzing from hookd's own OpenAPI document: starts a fresh hookd on SQLite
# (tests/lib/suite.sh), creates real resources for the path parameters to name
# (fixtures.py), then runs schemathesis over every operation of the served
# /api/v1/openapi.json with the checks `not_a_server_error` and
# `response_schema_conformance` (schemathesis.toml). Fails on any failure, or when fewer
# than HOOKD_FUZZ_MIN_CASES cases ran.
#
# Usage: bash tests/fuzz/run.sh
# Env:   HOOKD_BIN             binary to test (default target/release/hookd; built if missing)
#        HOOKD_FUZZ_VENV       virtualenv for schemathesis (default target/fuzz-venv)
#        HOOKD_FUZZ_EXAMPLES   most cases per operation and phase (default 100)
#        HOOKD_FUZZ_MIN_CASES  fewest cases the run must generate (default 5000)
#        HOOKD_FUZZ_SEED       schemathesis' seed (default 1: the same cases every run)
# The server log is kept at target/fuzz-hookd.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

SUITE=fuzz
# shellcheck source=../lib/suite.sh
. "$ROOT/tests/lib/suite.sh"

# 1. The virtualenv with the pinned schemathesis, 2. the binary, 3. a fresh server on
#    SQLite, and the resources the path parameters name.
suite_venv "${HOOKD_FUZZ_VENV:-target/fuzz-venv}" "$ROOT/tests/fuzz/requirements.txt"
suite_binary
start_hookd
eval "$("$PY" "$ROOT/tests/fuzz/fixtures.py" "$URL" "$TOKEN")"
export FUZZ_TOKEN="$TOKEN" FUZZ_APP FUZZ_ENDPOINT FUZZ_MSG FUZZ_ATTEMPT FUZZ_TASK \
    FUZZ_SOURCE FUZZ_SOURCE_ENDPOINT FUZZ_RECEIVE

# 4. Two runs: every operation but the deletions first, then the deletions (which remove
#    the fixtures the other operations work on).
EXAMPLES="${HOOKD_FUZZ_EXAMPLES:-100}"
SEED="${HOOKD_FUZZ_SEED:-1}"
total=0
run() {
    local out="$TMP/st-$1.out"
    shift
    set +e
    # From the temporary directory, where schemathesis leaves its cache (.schemathesis/).
    (cd "$TMP" && "$(dirname "$PY")/st" --config-file "$ROOT/tests/fuzz/schemathesis.toml" \
        run "$URL/api/v1/openapi.json" --max-examples "$EXAMPLES" --seed "$SEED" \
        --phases examples,coverage,fuzzing --warnings off "$@") 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: schemathesis failed (exit $rc)" >&2
        server_log_tail
        exit 1
    fi
    local cases
    cases="$(grep -Eo '[0-9]+ generated' "$out" | tail -1 | grep -Eo '[0-9]+' || echo 0)"
    total=$((total + cases))
}
run main --exclude-method DELETE
run delete --include-method DELETE

MIN="${HOOKD_FUZZ_MIN_CASES:-5000}"
if [ "$total" -lt "$MIN" ]; then
    echo "fuzz: only $total cases ran (at least $MIN expected)" >&2
    exit 1
fi
echo "fuzz: $total cases, 0 failures (not_a_server_error, response_schema_conformance; seed $SEED)"
