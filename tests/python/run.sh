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

"$python" tests/python/check_exports.py --yichuang "$yichuang" --work "$work" \
    --definition examples/definitions/county-hall.ron --log "$work/restaurant.jsonl"
"$python" tests/python/check_bpmn.py --yichuang "$yichuang" --work "$work" examples/definitions/*.ron
