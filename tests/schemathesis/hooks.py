"""Schemathesis hooks for yichuang-server: who sends each generated request.

A request goes out with the bearer token of the actor who would send it in a hall, so that
generated sequences (submit -> accept -> claim -> approve -> deliver -> rate -> the ticket's
loop) get past the engine's rules (受审分离, 本部门办理, 申请人本人) and reach deep states:

- opening a case: the intake clerk, or the applicant zhang (online); submissions are made in
  zhang's name half of the time, so that zhang's later commands are his own;
- case commands by name: intake commands the intake clerk, delivery the delivery clerk,
  the applicant's own commands zhang;
- task commands: a reviewer of a department that decides the item (from the definition);
- ticket commands: supervision decisions the supervisor, the rest a reviewer;
- reads: an administrator, except a department's queue (its reviewer).

Schemathesis's own checks still send requests without a token, or with a wrong one
(`ignored_auth`), and these must be 401.
"""

import pathlib
import random
import re

import schemathesis

ROOT = pathlib.Path(__file__).resolve().parents[2]
ZHANG = "91000000MA00000001"


def _deciders():
    """Item id -> the departments that decide it, read from the example definition."""
    text = (ROOT / "examples/definitions/county-hall.ron").read_text(encoding="utf-8")
    items = {}
    for m in re.finditer(r'\(\s*id: "([^"]+)",[^()]*?decided_by: ([^\n]+)', text):
        items[m.group(1)] = re.findall(r'"([^"]+)"', m.group(2))
    return items


DECIDERS = _deciders()
INTAKE = {"accept", "accept_tolerating", "request_correction", "reject"}
APPLICANT = {"resubmit", "supply", "rate", "withdraw", "submit"}
SUPERVISION = {"pass", "fail", "uphold_appeal", "follow_up"}


def _token(case):
    method, path = case.operation.method.upper(), case.operation.path
    body = case.body if isinstance(case.body, dict) else {}
    command = body.get("command") if isinstance(body.get("command"), str) else None
    if method == "POST" and path == "/v1/cases":
        if body.get("command") != "consult" and random.random() < 0.5:
            return "demo-applicant-zhang"
        return "demo-clerk-intake-1" if command != "consult" else "demo-clerk-consult-1"
    if path == "/v1/cases/{id}/commands":
        if command == "deliver":
            return "demo-clerk-delivery-1"
        if command in APPLICANT:
            return "demo-applicant-zhang"
        return "demo-clerk-intake-1"
    if path == "/v1/cases/{id}/tasks/{item}/commands":
        item = (case.path_parameters or {}).get("item")
        departments = DECIDERS.get(item) or ["market-access"]
        return "demo-reviewer-" + random.choice(departments)
    if path == "/v1/tickets/{id}/commands":
        return "demo-supervisor" if command in SUPERVISION else "demo-reviewer-market-access"
    if method == "POST" and path == "/v1/tickets":
        return "demo-applicant-zhang" if body.get("source") == "complaint" else "demo-supervisor"
    if path == "/v1/departments/{department}/tasks":
        department = (case.path_parameters or {}).get("department")
        if department in {d for ds in DECIDERS.values() for d in ds}:
            return "demo-reviewer-" + department
    return "demo-admin"


@schemathesis.auth()
class HallActors:
    """The token of the actor who would send the request (see the module's docstring)."""

    def get(self, case, ctx):
        return _token(case)

    def set(self, case, data, ctx):
        body = case.body
        # Half of the submissions are zhang's, so that his commands on them are his own.
        if (
            case.operation.path == "/v1/cases"
            and isinstance(body, dict)
            and isinstance(body.get("applicant"), dict)
            and random.random() < 0.5
        ):
            body["applicant"]["id"] = ZHANG
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


ITEMS = sorted(DECIDERS)
DEPARTMENTS = sorted({d for ds in DECIDERS.values() for d in ds})


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    """Mostly ids that exist: the first cases and tickets, the definition's items and
    departments; sometimes what was generated (unknown or malformed ids must be 404)."""
    if not path_parameters:
        return path_parameters
    if random.random() < 0.2:
        return path_parameters
    path = ctx.operation.path
    if "id" in path_parameters:
        prefix = "T" if path.startswith("/v1/tickets/") else "C"
        path_parameters["id"] = f"{prefix}{random.randint(1, 12):06d}"
    if "item" in path_parameters:
        path_parameters["item"] = random.choice(ITEMS)
    if "department" in path_parameters:
        path_parameters["department"] = random.choice(DEPARTMENTS)
    return path_parameters


def _catalogue():
    text = (ROOT / "examples/definitions/county-hall.ron").read_text(encoding="utf-8")
    bundles = re.findall(r'^\s*\(\s*id: "([a-z-]+)",\s*\n\s*name: "[^"]*",\s*\n\s*lead', text[text.index("bundles: ["):text.index("plan: ")], re.M)
    materials = sorted(set(re.findall(r'material: "([^"]+)"', text)))
    return bundles or ["open-restaurant"], materials


BUNDLES, MATERIALS = _catalogue()


@schemathesis.hook
def map_body(ctx, body):
    """Mostly bundles, materials and departments the hall has, so that generated applications
    and complaints get past the first check; sometimes what was generated. Only a value of the
    right type is replaced: a negative case (a number or a boolean where the spec says a string)
    must reach the service as generated, or the service would be blamed for accepting a request
    this hook made valid."""
    if not isinstance(body, dict) or random.random() < 0.25:
        return body
    path = ctx.operation.path
    if path in ("/v1/cases", "/v1/cases/{id}/commands") and isinstance(body.get("bundle"), str):
        body["bundle"] = random.choice(BUNDLES)
        if isinstance(body.get("materials"), list) or ("materials" not in body and body.get("command") != "consult"):
            body["materials"] = random.sample(MATERIALS, k=random.randint(len(MATERIALS) // 2, len(MATERIALS)))
    if path == "/v1/tickets" and isinstance(body.get("target"), dict):
        for shape in body["target"].values():
            if isinstance(shape, dict) and isinstance(shape.get("department"), str):
                shape["department"] = random.choice(DEPARTMENTS)
        if isinstance(body["target"].get("Department"), str):
            body["target"]["Department"] = random.choice(DEPARTMENTS)
    return body
