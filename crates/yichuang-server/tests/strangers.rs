//! No oracle for strangers: for an applicant, another applicant's case or any ticket is
//! indistinguishable from one that does not exist — the same status and the same body, on
//! every route — and no answer names another person. The walk covers every route the router
//! serves (a new route fails this test until it is added to the walk).

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

/// Another applicant's token (the case below belongs to [`APPLICANT`]).
const STRANGER: &str = "demo-applicant-li";
const MISSING_CASE: &str = "C000099";
const MISSING_TICKET: &str = "T000099";

fn restaurant_answers() -> Value {
    json!({"company-name": "张三餐饮", "food-business-type": "热食类食品制售", "sells-tobacco": "否"})
}

/// Every request an applicant could make about a case or ticket, with `{case}` and `{ticket}`
/// standing for the ids: (method, route as the router names it, path, body).
fn walk() -> Vec<(&'static str, &'static str, &'static str, Option<Value>)> {
    let case_commands = [
        json!({"command": "accept"}),
        json!({"command": "accept_tolerating", "cure_due": "2026-05-20"}),
        json!({"command": "request_correction"}),
        json!({"command": "reject", "reason": "x"}),
        json!({"command": "resubmit", "materials": ["premises-proof"]}),
        json!({"command": "supply", "material": "premises-proof"}),
        json!({"command": "deliver", "method": "Window"}),
        json!({"command": "rate", "stars": 5}),
        json!({"command": "withdraw"}),
        json!({"command": "withdraw", "expected_version": 1}),
        json!({"command": "submit", "bundle": "open-business", "applicant": {"id": "110101199001011234", "name": "李"}}),
    ];
    let mut walk: Vec<(&str, &str, &str, Option<Value>)> = vec![
        ("GET", "/v1/cases/{id}", "/v1/cases/{case}", None),
        ("GET", "/v1/cases/{id}/events", "/v1/cases/{case}/events", None),
        ("GET", "/v1/tickets/{id}", "/v1/tickets/{ticket}", None),
        ("GET", "/v1/tickets/{id}/events", "/v1/tickets/{ticket}/events", None),
    ];
    for body in case_commands {
        walk.push(("POST", "/v1/cases/{id}/commands", "/v1/cases/{case}/commands", Some(body)));
    }
    for body in [json!({"command": "claim"}), json!({"command": "approve"})] {
        let path = "/v1/cases/{case}/tasks/business-licence/commands";
        walk.push(("POST", "/v1/cases/{id}/tasks/{item}/commands", path, Some(body)));
        let path = "/v1/cases/{case}/tasks/no-such-item/commands";
        walk.push(("POST", "/v1/cases/{id}/tasks/{item}/commands", path, Some(json!({"command": "claim"}))));
    }
    let complaint =
        json!({"source": "complaint", "target": {"Department": "market-access"}, "case": "{case}", "text": "慢"});
    walk.push(("POST", "/v1/tickets", "/v1/tickets", Some(complaint)));
    for body in [
        json!({"command": "appeal", "reason": "x"}),
        json!({"command": "follow_up", "satisfied": false}),
        json!({"command": "fix_now", "expected_version": 1}),
    ] {
        walk.push(("POST", "/v1/tickets/{id}/commands", "/v1/tickets/{ticket}/commands", Some(body)));
    }
    walk
}

fn fill(template: &str, case: &str, ticket: &str) -> String {
    template.replace("{case}", case).replace("{ticket}", ticket)
}

fn send(s: &Server, method: &str, path: &str, body: Option<&Value>, case: &str, ticket: &str) -> Response {
    match body {
        None => request(s.addr, method, path, Some(STRANGER), &[], None).unwrap(),
        Some(b) => {
            let body = fill(&b.to_string(), case, ticket);
            request(s.addr, method, path, Some(STRANGER), &[], Some(body.as_bytes())).unwrap()
        }
    }
}

#[test]
fn a_strangers_case_or_ticket_answers_exactly_as_a_missing_one_on_every_route() {
    let scratch = Scratch::new("strangers");
    let s = server(&scratch.db(), &[]);
    // Zhang's case, decided, delivered and badly rated: closed, with ticket T000001.
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    approve_all(s.addr, &case);
    let path = format!("/v1/cases/{case}/commands");
    expect(&post(s.addr, &path, DELIVERY, &json!({"command": "deliver", "method": "Window"})), 200);
    let rated = expect(&post(s.addr, &path, APPLICANT, &json!({"command": "rate", "stars": 1})), 200);
    assert_eq!(rated["state"], "Closed");
    let ticket = "T000001";
    expect(&get(s.addr, &format!("/v1/tickets/{ticket}"), SUPERVISOR), 200);
    let before = head(s.addr);

    let mut walked = BTreeSet::new();
    for (method, route, template, body) in walk() {
        walked.insert((method.to_owned(), route.to_owned()));
        let foreign = send(&s, method, &fill(template, &case, ticket), body.as_ref(), &case, ticket);
        let missing = send(
            &s,
            method,
            &fill(template, MISSING_CASE, MISSING_TICKET),
            body.as_ref(),
            MISSING_CASE,
            MISSING_TICKET,
        );
        let what = format!("{method} {template} {}", body.as_ref().map(Value::to_string).unwrap_or_default());
        assert_eq!(foreign.status, 404, "{what}: {}", foreign.body);
        assert_eq!(foreign.code(), "not_found", "{what}: {}", foreign.body);
        let same = foreign.body_without_request_id().replace(&case, MISSING_CASE).replace(ticket, MISSING_TICKET);
        assert_eq!(same, missing.body_without_request_id(), "{what}: the same answer as for a missing one");
        assert!(!foreign.body.contains(APPLICANT_ID), "{what} names the other applicant: {}", foreign.body);
    }
    assert_eq!(head(s.addr), before, "nothing was appended");

    // The routes without a case or ticket id: staff views refuse an applicant without naming
    // anyone; the rest answer as they answer everybody.
    for (method, route) in yichuang_server::api::route_list() {
        if walked.contains(&(method.clone(), route.clone())) {
            continue;
        }
        assert!(!route.contains("{id}"), "{method} {route} names a case or ticket: add it to the walk");
        let path = route.replace("{department}", "market-access");
        let body = (method == "POST").then(|| json!({}));
        let r = send(&s, &method, &path, body.as_ref(), &case, ticket);
        assert!(r.status < 500, "{method} {path}: {}", r.body);
        assert!(!r.body.contains(APPLICANT_ID), "{method} {path} names the other applicant: {}", r.body);
        walked.insert((method, route));
    }
    assert_eq!(walked.len(), yichuang_server::api::route_list().len());

    // Opening a case in another applicant's name is refused without repeating the name.
    let body = submission("open-business", APPLICANT_ID, json!({}));
    let r = post(s.addr, "/v1/cases", STRANGER, &body);
    assert_eq!((r.status, r.code()), (403, "not_the_applicant".to_owned()), "{}", r.body);
    assert!(!r.body.contains(APPLICANT_ID), "{}", r.body);

    // The owner still sees the case.
    expect(&get(s.addr, &format!("/v1/cases/{case}"), APPLICANT), 200);
}

/// Definition versions and migrations are the administrator's: everyone else is refused with
/// 403 `role_not_allowed` (an applicant also on the lists, which are for the hall's staff), the
/// answer names no one, and nothing changes — no version deployed, no case moved.
#[test]
fn only_an_administrator_deploys_or_migrates_and_only_staff_read_the_versions() {
    let scratch = Scratch::new("strangers-versions");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    let listed = expect(&get(s.addr, "/v1/definitions", ADMIN), 200);
    let active = listed["active"].as_str().unwrap().to_owned();
    let text =
        expect(&get(s.addr, &format!("/v1/definitions/{active}"), ADMIN), 200)["text"].as_str().unwrap().to_owned();
    let changed = text.replacen("promised_days: 20,", "promised_days: 19,", 1);
    assert_ne!(changed, text, "the example has a 20-day limit to shorten");
    let before = head(s.addr);
    let reviewer = reviewer("market-access");
    for token in [APPLICANT, STRANGER, CLERK, DELIVERY, SUPERVISOR, reviewer.as_str()] {
        let r = post(s.addr, "/v1/definitions", token, &json!({ "text": changed }));
        assert_eq!((r.status, r.code()), (403, "role_not_allowed".to_owned()), "{token}: {}", r.body);
        for dry_run in [true, false] {
            let r = post(s.addr, "/v1/migrations", token, &json!({ "dry_run": dry_run }));
            assert_eq!((r.status, r.code()), (403, "role_not_allowed".to_owned()), "{token}: {}", r.body);
            assert!(!r.body.contains(&case), "{token}: a refusal lists no case: {}", r.body);
        }
    }
    for token in [APPLICANT, STRANGER] {
        for path in ["/v1/definitions".to_owned(), format!("/v1/definitions/{active}")] {
            let r = get(s.addr, &path, token);
            assert_eq!((r.status, r.code()), (403, "role_not_allowed".to_owned()), "{token} {path}: {}", r.body);
            assert!(token == APPLICANT || !r.body.contains(APPLICANT_ID), "{}", r.body);
        }
    }
    expect(&get(s.addr, "/v1/definitions", CLERK), 200);
    assert_eq!(head(s.addr), before, "nothing was appended");
    let after = expect(&get(s.addr, "/v1/definitions", ADMIN), 200);
    assert_eq!(after["versions"].as_array().unwrap().len(), 1, "no version was deployed: {after}");
    assert_eq!(after["active"], active.as_str());
}
