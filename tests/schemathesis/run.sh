#!/usr/bin/env bash
# Schemathesis against the running service (docs/testing.md, "Schemathesis"):
#   tests/schemathesis/run.sh PYTHON_VENV_BIN [SECONDS]
# builds and starts yichuang-server on a fresh database with the example hall, a manual clock
# and the demo tokens, then runs every phase (examples, coverage, fuzzing, stateful sequences
# through the spec's links) with every check for SECONDS (default 180), and fails on any
# server error, spec violation or crash. The hooks (hooks.py) send each request as the actor
# who would send it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: tests/schemathesis/run.sh VENV_BIN_DIR [SECONDS]}
seconds=${2:-180}
work=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --locked -q -p yichuang-server
target/debug/yichuang-server --listen 127.0.0.1:0 --db "$work/hall.db" --clock 2026-03-02T09:30 \
    --definition examples/definitions/county-hall.ron --tokens examples/tokens.ron \
    >"$work/stdout" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/stdout" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/stdout")
[ -n "$url" ] || { cat "$work/server.log"; echo "the service did not start" >&2; exit 1; }
"$bin/python" - "$url/readyz" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        break
    except Exception:
        time.sleep(0.1)
PY

# /v1/stream is a Server-Sent-Events stream that does not end: a generated request would wait
# for ever. Its answers are tested over real sockets in crates/yichuang-server/tests/http.rs.
status=0
SCHEMATHESIS_HOOKS=hooks PYTHONPATH=tests/schemathesis "$bin/schemathesis" \
    --config-file tests/schemathesis/schemathesis.toml run "$url/openapi.json" \
    --exclude-path /v1/stream --max-time "$seconds" --seed 22 \
    --report junit --report-dir "$work/report" || status=$?
if ! kill -0 "$server" 2>/dev/null; then
    echo "the service died during the run:" >&2
    tail -n 40 "$work/server.log" >&2
    exit 1
fi
if grep -q "panicked" "$work/server.log"; then
    grep -B2 -A10 "panicked" "$work/server.log" >&2
    echo "the service panicked during the run" >&2
    exit 1
fi
exit "$status"
