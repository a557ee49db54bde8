"""Runs yichuang and the SimPy model (parity.py) side by side and prints what docs/benchmarks.md
and docs/simulation.md record:

    kpis   the parity scenarios' KPIs from both implementations (docs/simulation.md, "Checked
           against SimPy"); several seeds for a scenario whose single runs vary a lot
    ratio  rounds of one SimPy run followed by five yichuang runs, all single-threaded, and the
           ratio of SimPy's wall time to the median of yichuang's (docs/benchmarks.md)

Run it with the Python that has SimPy 4.1, from the repository root, after
`cargo build --release -p yichuang-cli`:

    .venv/bin/python benches/simpy/compare.py kpis
    .venv/bin/python benches/simpy/compare.py kpis --variant no-tolerance --seeds 20260105 1 2 3
    .venv/bin/python benches/simpy/compare.py ratio --rounds 10
    .venv/bin/python benches/simpy/compare.py --binary target/release/yichuang \
        --binary target/pgo/use/release/yichuang ratio --rounds 6     # plain and PGO builds in turns
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(__file__).resolve().parent / "parity.py"
SCENARIO = {"parallel": "parity-parallel", "serial": "parity-serial", "no-tolerance": "parity-no-tolerance"}
DEFAULT_BINARY = str(ROOT / "target/release/yichuang")
# The SimPy model names departments by item; yichuang by department.
STATION = {"a": "dept-a", "b": "dept-b", "c": "dept-c", "d": "dept-d", "e": "dept-e"}


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out)


def yichuang(binary, variant, seed=None, cases=None):
    cmd = [binary, "simulate", f"examples/scenarios/{SCENARIO[variant]}.ron", "--threads", "1", "--format", "json"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if cases is not None:
        cmd += ["--cases", str(cases)]
    return run_json(cmd)


def simpy(variant, seed, cases):
    return run_json([sys.executable, str(MODEL), "--variant", variant, "--seed", str(seed), "--cases", str(cases)])


def kpis(args):
    print(f"{'variant':13} {'seed':>9} {'impl':9} {'mean':>8} {'95 % CI':>18} {'on time':>8}  utilisation")
    means = {"yichuang": [], "SimPy": []}
    for seed in args.seeds:
        for name, result in (
            ("yichuang", yichuang(args.binary[0], args.variant, seed, args.cases)),
            ("SimPy", simpy(args.variant, seed, args.cases)),
        ):
            c = result["cycle_time_minutes"]
            util = {STATION.get(k, k): v for k, v in result["utilisation"].items()}
            shown = " ".join(f"{k} {util[k]:.3f}" for k in ["intake", "dept-a", "dept-b", "dept-e"] if k in util)
            print(
                f"{args.variant:13} {seed:>9} {name:9} {c['mean']:8.1f} "
                f"[{c['ci'][0]:7.1f}, {c['ci'][1]:7.1f}] {result['on_time_rate']:8.3f}  {shown}"
            )
            means[name].append(c["mean"])
    if len(args.seeds) > 1:
        a, b = means["yichuang"], means["SimPy"]
        d = statistics.fmean(a) - statistics.fmean(b)
        se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
        print(
            f"over {len(args.seeds)} seeds: yichuang mean {statistics.fmean(a):.1f}, SimPy {statistics.fmean(b):.1f}; "
            f"difference {d:+.1f}, 95 % CI [{d - 1.96 * se:.1f}, {d + 1.96 * se:.1f}]"
        )


def ratio(args):
    binaries = args.binary
    ratios = {b: [] for b in binaries}
    for r in range(args.rounds):
        s = simpy("parallel", 20260105, 100_000)["wall_seconds"]
        # The binaries take turns, so that each sees the same minutes of the machine.
        runs = {b: [] for b in binaries}
        for _ in range(5):
            for b in binaries:
                runs[b].append(yichuang(b, "parallel")["wall_seconds"])
        for b in binaries:
            y = sorted(runs[b])
            ratios[b].append(s / y[2])
            name = f" {b}" if len(binaries) > 1 else ""
            print(
                f"round {r + 1}{name}: SimPy {s:.2f} s | yichuang min {y[0]:.3f} median {y[2]:.3f} max {y[-1]:.3f} s | "
                f"SimPy/yichuang {s / y[2]:.1f}x (median), {s / y[0]:.1f}x (best)",
                flush=True,
            )
    for b, rs in ratios.items():
        met = sum(x >= 20 for x in rs)
        name = f"{b}: " if len(binaries) > 1 else ""
        print(f"{name}median ratio {statistics.median(rs):.1f}x over {len(rs)} rounds; {met} of {len(rs)} rounds >= 20x")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--binary",
        action="append",
        help="a yichuang binary (default target/release/yichuang); repeat it to time several builds in turns",
    )
    sub = p.add_subparsers(dest="what", required=True)
    k = sub.add_parser("kpis", help="KPIs of both implementations")
    k.add_argument("--variant", choices=list(SCENARIO), default="parallel")
    k.add_argument("--seeds", type=int, nargs="+", default=[20260105])
    k.add_argument("--cases", type=int, default=100_000)
    r = sub.add_parser("ratio", help="wall-time ratio SimPy / yichuang, interleaved")
    r.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()
    args.binary = args.binary or [DEFAULT_BINARY]
    kpis(args) if args.what == "kpis" else ratio(args)


if __name__ == "__main__":
    main()
