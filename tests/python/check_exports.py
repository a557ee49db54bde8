"""PM4Py reads yichuang's process-mining exports of a log and finds in them what the log holds.

For a JSON-lines event log and its definition: `yichuang export` in every format, then
- XES and CSV: one trace per case of the log (and as many as `yichuang replay` counts);
- XES: in the directly-follows graph of the `complete` events of 我要开饭店 (open-restaurant)
  the food licence is reachable from the business licence and not the reverse, and in every
  trace of the bundle the licence's approval comes before the food licence's;
- OCEL 2.0 JSON and SQLite: the number of cases, tasks, tickets and applicants equals what the
  log holds, every department a ticket answers to is an object, every ticket is linked to the
  case (`about case`) and the task (`about task`) it came from, and the SQLite file passes
  PM4Py's validation of the OCEL 2.0 relational schema.
Each check is also run on deliberately damaged data and must fail there.
"""

import argparse
import collections
import json
import subprocess
import sys
import warnings

import pandas as pd
import pm4py
from pm4py.objects.ocel.validation import ocel20_rel_validation

warnings.filterwarnings("ignore")

BUNDLE = "open-restaurant"
LICENCE = "business-licence"
FOOD = "food-licence"


def run(*args):
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def read_log(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def expected_counts(records):
    """What the log holds, counted from the JSON lines themselves."""
    cases = {r["stream"] for r in records if r["stream"].startswith("C")}
    tickets = {r["stream"] for r in records if r["stream"].startswith("T")}
    tasks = sum(len(r["event"]["Accepted"]["applicable"]) for r in records
                if isinstance(r["event"], dict) and "Accepted" in r["event"])
    applicants = set()
    ticket_departments = set()
    links = set()
    for r in records:
        e = r["event"]
        if isinstance(e, dict):
            for kind in ("Submitted", "Consulted"):
                if kind in e:
                    applicants.add(e[kind]["applicant"]["id"])
            if "TicketOpened" in e:
                ticket_departments.add(e["TicketOpened"]["department"])
                source = e["TicketOpened"]["source"]
                (kind, detail), = source.items() if isinstance(source, dict) else [(source, {})]
                case = detail.get("case") if isinstance(detail, dict) else None
                if case is not None:
                    links.add((r["stream"], f"C{case:06}", "about case"))
                    if kind == "Overdue" and detail.get("item"):
                        links.add((r["stream"], f"C{case:06}/{detail['item']}", "about task"))
    counts = {"case": len(cases), "task": tasks, "ticket": len(tickets), "applicant": len(applicants)}
    return counts, ticket_departments, links


def check_traces(frame, cases):
    traces = frame["case:concept:name"].nunique()
    assert traces == cases, f"{traces} traces for {cases} cases"


def check_licence_first(frame, names):
    """The business licence's approval precedes the food licence's, in the DFG and every trace."""
    licence, food = names[LICENCE], names[FOOD]
    done = frame[(frame["case:bundle"] == BUNDLE) & (frame["lifecycle:transition"] == "complete")]
    assert len(done) > 0, f"no completed events of {BUNDLE}"
    dfg, _, _ = pm4py.discover_dfg(done)
    follows = collections.defaultdict(set)
    for (a, b) in dfg:
        follows[a].add(b)

    def reachable(a, b):
        seen, todo = set(), [a]
        while todo:
            x = todo.pop()
            for y in follows[x] - seen:
                seen.add(y)
                todo.append(y)
        return b in seen

    assert reachable(licence, food), f"{food} is not reachable from {licence} in {dict(dfg)}"
    assert not reachable(food, licence), f"{licence} follows {food} in {dict(dfg)}"
    for case, trace in done.groupby("case:concept:name", sort=False):
        acts = list(trace.sort_values("time:timestamp", kind="stable")["concept:name"])
        if food in acts:
            assert licence in acts and acts.index(licence) < acts.index(food), f"{case}: {acts}"


def check_ocel(ocel, expected, ticket_departments, links):
    counts = ocel.objects.groupby("ocel:type").size().to_dict()
    for kind, n in expected.items():
        assert counts.get(kind, 0) == n, f"{counts.get(kind, 0)} {kind} objects for {n} in the log"
    departments = set(ocel.objects[ocel.objects["ocel:type"] == "department"]["ocel:oid"])
    missing = {f"department:{d}" for d in ticket_departments} - departments
    assert not missing, f"departments answering tickets but not objects: {missing}"
    o2o = set(map(tuple, ocel.o2o[["ocel:oid", "ocel:oid_2", "ocel:qualifier"]].itertuples(index=False)))
    unlinked = links - o2o
    assert not unlinked, f"tickets not linked to the case or task they came from: {sorted(unlinked)[:5]}"


def must_fail(check, *args):
    try:
        check(*args)
    except AssertionError:
        return
    sys.exit(f"{check.__name__} accepted damaged data")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yichuang", required=True)
    ap.add_argument("--definition", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()

    records = read_log(a.log)
    expected, ticket_departments, links = expected_counts(records)
    replayed = json.loads(run(a.yichuang, "replay", "--definition", a.definition, "--log", a.log, "--format", "json"))
    assert replayed["cases"] == expected["case"], (replayed, expected)
    plan = json.loads(run(a.yichuang, "plan", a.definition, "--bundle", BUNDLE, "--start", "2026-03-02",
                          "--format", "json"))
    names = {m["item"]: m["name"] for m in plan["members"]}

    out = {}
    for fmt, ext in (("xes", "xes"), ("ocel-json", "jsonocel"), ("ocel-sqlite", "sqlite"), ("csv", "csv")):
        out[fmt] = f"{a.work}/export.{ext}"
        run(a.yichuang, "export", "--definition", a.definition, "--log", a.log, "--format", fmt, "--out", out[fmt])

    xes = pm4py.read_xes(out["xes"])
    check_traces(xes, expected["case"])
    assert len(pm4py.convert_to_event_log(xes)) == expected["case"]
    check_licence_first(xes, names)
    csv = pd.read_csv(out["csv"], dtype=str)
    csv["time:timestamp"] = pd.to_datetime(csv["time:timestamp"], utc=True)
    check_traces(csv, expected["case"])
    assert len(csv) == sum(1 for r in records if r["stream"].startswith("C")), "a CSV row per case event"
    check_licence_first(csv, names)

    for fmt, ocel in (("ocel-json", pm4py.read_ocel2_json(out["ocel-json"])),
                      ("ocel-sqlite", pm4py.read_ocel2_sqlite(out["ocel-sqlite"]))):
        check_ocel(ocel, expected, ticket_departments, links)
        assert len(ocel.events) == len(records), f"{fmt}: {len(ocel.events)} events for {len(records)}"
    _, unsatisfied = ocel20_rel_validation.apply(out["ocel-sqlite"])
    assert not unsatisfied, f"OCEL 2.0 relational schema: {unsatisfied}"

    # The checks catch damage: a trace fewer, the two approvals swapped, a ticket fewer.
    first = xes["case:concept:name"].iloc[0]
    must_fail(check_traces, xes[xes["case:concept:name"] != first], expected["case"])
    swapped = xes.copy()
    licence_rows = swapped["concept:name"] == names[LICENCE]
    food_rows = swapped["concept:name"] == names[FOOD]
    swapped.loc[licence_rows, "concept:name"] = names[FOOD]
    swapped.loc[food_rows, "concept:name"] = names[LICENCE]
    must_fail(check_licence_first, swapped, names)
    more = dict(expected, ticket=expected["ticket"] + 1)
    must_fail(check_ocel, pm4py.read_ocel2_json(out["ocel-json"]), more, ticket_departments, links)
    if links:
        cut = pm4py.read_ocel2_json(out["ocel-json"])
        cut.o2o = cut.o2o[cut.o2o["ocel:qualifier"] != "about case"]
        must_fail(check_ocel, cut, expected, ticket_departments, links)

    print(f"exports: {expected['case']} cases, {expected['task']} tasks, {expected['ticket']} tickets "
          f"({len(links)} links to their case or task), "
          f"{len(records)} events read back by PM4Py {pm4py.__version__} in XES, CSV, OCEL JSON and SQLite")


if __name__ == "__main__":
    main()
