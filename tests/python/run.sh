#!/usr/bin/env bash
# Reads yichuang's exports with third-party tools: PM4Py (XES, OCEL 2.0, CSV) and SpiffWorkflow
# (BPMN 2.0: schema validation and execution). Usage: tests/python/run.sh PYTHON
# (PYTHON has the packages of requirements.txt). docs/exports.md says what is checked.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --locked -q -p yichuang-cli
yichuang=target/debug/yichuang
cargo run --locked -q --example embed -- --log "$work/restaurant.jsonl" >/dev/null

# The embedding example's one case, and the example simulation's synthetic log (300 cases).
"$yichuang" simulate examples/scenarios/county-hall.ron --cases 300 --replications 1 \
    --event-log "$work/simulated.jsonl" >/dev/null
for log in restaurant simulated; do
    "$python" tests/python/check_exports.py --yichuang "$yichuang" --work "$work" \
        --definition examples/definitions/county-hall.ron --log "$work/$log.jsonl"
done
# simulate --event-log FILE.xes writes what export writes from the same replication's events.
"$yichuang" simulate examples/scenarios/county-hall.ron --cases 300 --replications 1 \
    --event-log "$work/simulated.xes" >/dev/null
"$yichuang" export --definition examples/definitions/county-hall.ron --log "$work/simulated.jsonl" \
    --format xes --out "$work/exported.xes"
cmp "$work/simulated.xes" "$work/exported.xes"
echo "simulate --event-log: the simulated XES is byte for byte the export of the simulated log"
"$python" tests/python/check_bpmn.py --yichuang "$yichuang" --work "$work" examples/definitions/*.ron
