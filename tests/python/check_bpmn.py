"""SpiffWorkflow validates and runs the BPMN export of every bundle and agrees with `yichuang plan`.

For every bundle of every definition given: `yichuang graph --format bpmn`, validated against
the BPMN 2.0 XSD that SpiffWorkflow ships, then executed for two answer sets (every condition
of the bundle true, every one false):
- completing user tasks in the order they became ready, the members that run are exactly those
  the plan says apply, each becomes ready only after every applying member it comes `after`,
  and the completion that made it ready was one of its predecessors (or a stage's milestone);
- completing tasks in the order the plan's promised days would finish them (a clock), each
  member becomes ready at the plan's `start_offset` (stage gates, `All` and `Any`, included).
A deliberately broken process and an invalid document must be refused.
"""

import argparse
import json
import re
import subprocess
import sys

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

START = "2026-03-02"


def run(*args, check=True):
    done = subprocess.run(args, capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"{' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done


def bundles_of(yichuang, definition):
    """The bundle ids, from the message that lists them for an unknown bundle."""
    err = run(yichuang, "graph", definition, "--bundle", "\u2205", check=False).stderr
    found = re.search(r"use one of: (.*)$", err.strip())
    assert found, err
    return [b.strip() for b in found.group(1).split(",")]


def workflow(path):
    parser = BpmnParser(validator=BpmnValidator())
    parser.add_bpmn_file(path)
    (process,) = parser.get_process_ids()
    return BpmnWorkflow(parser.get_spec(process))


def execute(path, answers, days):
    """Runs the process; returns {member: (ready clock, completed before it was ready)} and the
    order of completion. `days` maps a member to its duration; None completes tasks first-ready
    first, otherwise the earliest finish (ready clock + days) goes first."""
    wf = workflow(path)
    ready_at, completed, finish = {}, [], {}
    clock = 0
    for _ in range(1000):
        wf.do_engine_steps()
        ready = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual]
        for t in ready:
            name = t.task_spec.name
            if name not in ready_at:
                ready_at[name] = (clock, list(completed))
                finish[name] = clock + (days.get(name, 0) if days else 0)
        if not ready:
            break
        if days is None:
            task = min(ready, key=lambda t: list(ready_at).index(t.task_spec.name))
        else:
            task = min(ready, key=lambda t: (finish[t.task_spec.name], list(ready_at).index(t.task_spec.name)))
            clock = finish[task.task_spec.name]
        if task.task_spec.name == "Task_intake":
            task.data["answers"] = answers
        task.run()
        completed.append(task.task_spec.name)
    assert wf.is_completed(), f"stuck after {completed}"
    return ready_at, completed


def check(path, plan, answers, label):
    members = {f"Task_m{m['position']}": m for m in plan["members"]}
    by_item = {m["item"]: f"Task_m{m['position']}" for m in plan["members"]}
    applies = {t for t, m in members.items() if m["applies"]}

    def before(task):
        """The applying members a member waits for, through members that do not apply."""
        out, todo = set(), [by_item[i] for i in members[task]["after"]]
        while todo:
            p = todo.pop()
            if p in applies:
                out.add(p)
            else:
                todo.extend(by_item[i] for i in members[p]["after"])
        return out

    ready_at, completed = execute(path, answers, None)
    ran = {t for t in completed if t.startswith("Task_m")}
    assert ran == applies, f"{label}: ran {sorted(ran)}, the plan applies {sorted(applies)}"
    assert completed[0] == "Task_intake" and completed[-1] == "Task_delivery", completed
    for task in ran:
        _, done_before = ready_at[task]
        missing = before(task) - set(done_before)
        assert not missing, f"{label}: {task} was ready before {missing}"
        cause = done_before[-1]
        staged = members[task]["stage"] is not None
        other_stage = cause in members and members[cause]["stage"] not in (None, members[task]["stage"])
        assert cause == "Task_intake" or cause in before(task) or (staged and other_stage), \
            f"{label}: {task} became ready when {cause} completed, which it does not wait for"

    days = {t: m["promised_days"] for t, m in members.items()}
    timed, _ = execute(path, answers, days)
    for task in applies:
        want = members[task]["start_offset"]
        assert timed[task][0] == want, f"{label}: {task} ready at day {timed[task][0]}, the plan says {want}"


def answer_sets(plan):
    """Every condition true, every condition false."""
    conditions = [m["condition"].split(" = ", 1) for m in plan["members"] if m["condition"]]
    yes = {field: value for field, value in conditions}
    no = {field: "\u2205" for field, _ in conditions}
    return [("all conditions hold", yes), ("no condition holds", no)]


def plan_of(yichuang, definition, bundle, answers):
    args = [yichuang, "plan", definition, "--bundle", bundle, "--start", START, "--format", "json"]
    for field, value in answers.items():
        if value != "\u2205":
            args += ["--answer", f"{field}={value}"]
    return json.loads(run(*args).stdout)


def must_fail(what, action):
    try:
        action()
    except (AssertionError, ValidationException) as e:
        print(f"refused as it must be: {what}: {str(e).splitlines()[0]}")
        return
    sys.exit(f"the check accepted {what}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yichuang", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("definitions", nargs="+")
    a = ap.parse_args()
    checked = 0
    for definition in a.definitions:
        for bundle in bundles_of(a.yichuang, definition):
            path = f"{a.work}/{bundle}.bpmn"
            with open(path, "w", encoding="utf-8") as f:
                f.write(run(a.yichuang, "graph", definition, "--bundle", bundle, "--format", "bpmn").stdout)
            for label, answers in answer_sets(plan_of(a.yichuang, definition, bundle, {})):
                plan = plan_of(a.yichuang, definition, bundle, answers)
                check(path, plan, answers, f"{definition} {bundle} ({label})")
                checked += 1

    # The checks can fail: 我要开饭店 with the business licence and the food licence swapped
    # (the food licence first), and an element the schema does not know.
    county = next(d for d in a.definitions if d.endswith("county-hall.ron"))
    xml = run(a.yichuang, "graph", county, "--bundle", "open-restaurant", "--format", "bpmn").stdout
    swap = {"Task_m0": "Task_m1", "Task_m1": "Task_m0"}
    broken = re.sub(r"Task_m[01](?!\d)", lambda m: swap[m.group(0)], xml)
    assert broken != xml
    path = f"{a.work}/broken.bpmn"
    with open(path, "w", encoding="utf-8") as f:
        f.write(broken)
    plan = plan_of(a.yichuang, county, "open-restaurant", {})
    must_fail("the food licence before the business licence", lambda: check(path, plan, {}, "broken"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(xml.replace("<bpmn:laneSet", "<bpmn:bogus/><bpmn:laneSet", 1))
    must_fail("an element outside the BPMN 2.0 schema", lambda: workflow(path))

    print(f"bpmn: {checked} runs of every bundle of {len(a.definitions)} definitions validated and executed "
          f"by SpiffWorkflow, each agreeing with yichuang plan")


if __name__ == "__main__":
    main()
