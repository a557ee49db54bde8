"""Independent SimPy model of the parity scenarios (issue 5), for two checks:

1. the KPIs of `yichuang simulate examples/scenarios/parity-*.ron` against a second
   implementation written from the model's text alone (docs/simulation.md, "Parity scenarios");
2. the speed ratio of yichuang to SimPy, measured on the same machine at the same time.

It is plain, idiomatic SimPy 4.1: one process per case, `simpy.Resource` for every station
(FIFO), `env.all_of` for the parallel join. Random numbers come from Python's `random` with a
fixed seed, so the figures match yichuang's statistically (within the confidence interval), not
case by case.

    python3 -m venv .venv && .venv/bin/pip install simpy==4.1.1
    .venv/bin/python benches/simpy/parity.py --variant parallel     # or serial, no-tolerance

Prints one JSON object with the fields `yichuang simulate --format json` gives for the parity
comparison: cases, wall_seconds, cases_per_second, cycle_time_minutes {mean, p50, p95, p99,
ci}, on_time_rate and utilisation {station: value}.
"""

import argparse
import json
import math
import random
import statistics
import time

import simpy

# (reviewers, mean minutes, share of cases the item applies to)
APPROVALS = {"a": (33, 30.0, 1.0), "b": (66, 60.0, 1.0), "c": (25, 45.0, 0.5), "d": (31, 40.0, 0.7), "e": (22, 20.0, 1.0)}
WINDOWS = {"consult": (4, 6.0), "intake": (14, 12.0), "delivery": (5, 4.5)}
CONSULT_SHARE = 0.6
MISSING_SHARE = 0.15
SUPPLY_OR_RETURN_MEAN = 120.0
ON_TIME = 360.0


class Station:
    """A resource with its busy time integrated, for utilisation."""

    def __init__(self, env, capacity):
        self.env = env
        self.resource = simpy.Resource(env, capacity)
        self.capacity = capacity
        self.busy_area = 0.0

    def serve(self, rng, mean):
        with self.resource.request() as req:
            yield req
            d = rng.expovariate(1.0 / mean)
            yield self.env.timeout(d)
            self.busy_area += d


def run(variant, cases, seed):
    rng = random.Random(seed)
    env = simpy.Environment()
    stations = {k: Station(env, c) for k, (c, _) in WINDOWS.items()}
    stations.update({k: Station(env, c) for k, (c, _, _) in APPROVALS.items()})
    cycle = []

    def review(item):
        yield from stations[item].serve(rng, APPROVALS[item][1])

    def case(applies_c, applies_d, missing, consults):
        t0 = env.now
        if consults:
            yield from stations["consult"].serve(rng, WINDOWS["consult"][1])
        yield from stations["intake"].serve(rng, WINDOWS["intake"][1])
        supplied = None
        if missing:
            if variant == "no-tolerance":
                # Sent away at intake; comes back with the material and queues again.
                yield env.timeout(rng.expovariate(1.0 / SUPPLY_OR_RETURN_MEAN))
                yield from stations["intake"].serve(rng, WINDOWS["intake"][1])
            else:
                # 容缺: accepted; the material arrives later and only E needs it.
                supplied = env.timeout(rng.expovariate(1.0 / SUPPLY_OR_RETURN_MEAN))
        applies = {"a": True, "b": True, "c": applies_c, "d": applies_d, "e": True}
        if variant == "serial":
            for item in "abcd":
                if applies[item]:
                    yield env.process(review(item))
            if supplied is not None:
                yield supplied
            yield env.process(review("e"))
        else:
            yield env.process(review("a"))
            parallel = [env.process(review(i)) for i in "bcd" if applies[i]]
            if supplied is not None:
                parallel.append(supplied)
            yield env.all_of(parallel)
            yield env.process(review("e"))
        yield from stations["delivery"].serve(rng, WINDOWS["delivery"][1])
        cycle.append(env.now - t0)

    def arrivals():
        for _ in range(cases):
            yield env.timeout(rng.expovariate(1.0))
            env.process(
                case(
                    rng.random() < APPROVALS["c"][2],
                    rng.random() < APPROVALS["d"][2],
                    rng.random() < MISSING_SHARE,
                    rng.random() < CONSULT_SHARE,
                )
            )

    env.process(arrivals())
    started = time.perf_counter()
    env.run()
    wall = time.perf_counter() - started
    return cycle, wall, env.now, stations


def summary(xs):
    s = sorted(xs)
    n = len(s)
    mean = statistics.fmean(s)

    def q(p):
        return s[min(n - 1, max(0, math.ceil(p * n) - 1))]

    # Batch means (20 batches) for the 95 % interval of the mean, as the cases are correlated.
    k = 20
    size = n // k
    batches = [statistics.fmean(xs[i * size:(i + 1) * size]) for i in range(k)]
    half = 2.093 * statistics.stdev(batches) / math.sqrt(k)  # t(0.975, 19)
    return {"mean": mean, "p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "max": s[-1], "ci": [mean - half, mean + half]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", choices=["parallel", "serial", "no-tolerance"], default="parallel")
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=20260105)
    a = p.parse_args()
    cycle, wall, end, stations = run(a.variant, a.cases, a.seed)
    out = {
        "implementation": f"SimPy {simpy.__version__}",
        "variant": a.variant,
        "cases": len(cycle),
        "wall_seconds": wall,
        "cases_per_second": len(cycle) / wall,
        "cycle_time_minutes": summary(cycle),
        "on_time_rate": sum(c <= ON_TIME for c in cycle) / len(cycle),
        "utilisation": {k: s.busy_area / (s.capacity * end) for k, s in stations.items()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
