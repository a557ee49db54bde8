//! The service over real HTTP: the real binary on an ephemeral loopback port, a scratch SQLite
//! database, and a manual clock inside the example calendar.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn restaurant_answers() -> Value {
    json!({"company-name": "张三餐饮", "food-business-type": "热食类食品制售", "sells-tobacco": "否"})
}

#[test]
fn a_restaurant_case_runs_from_submission_to_rating() {
    let scratch = Scratch::new("restaurant");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    assert_eq!(case, "C000001");

    // The department's work queue shows the first task.
    let queue =
        expect(&get(s.addr, "/v1/departments/market-access/tasks?state=ready", &reviewer("market-access")), 200);
    assert_eq!(queue["total"], 1);
    assert_eq!(queue["tasks"][0]["item"], "business-licence");

    let decided = approve_all(s.addr, &case);
    assert_eq!(decided["state"], "ReadyForDelivery", "{decided}");
    assert_eq!(decided["outcome"], "Approved");
    let path = format!("/v1/cases/{case}/commands");
    expect(&post(s.addr, &path, DELIVERY, &json!({"command": "deliver", "method": "Window"})), 200);
    let rated = expect(&post(s.addr, &path, APPLICANT, &json!({"command": "rate", "stars": 5})), 200);
    assert_eq!(rated["state"], "Closed");

    // The log holds every event in order and the case view agrees with it.
    let names = event_names(s.addr, &format!("/v1/cases/{case}"));
    assert_eq!(names.first().map(String::as_str), Some("Submitted"));
    assert_eq!(names.last().map(String::as_str), Some("Rated"));
    assert_eq!(names.len() as u64, rated["version"].as_u64().unwrap());

    // A restart replays the log into the same state.
    drop(s);
    let s = server(&scratch.db(), &[]);
    let again = expect(&get(s.addr, &format!("/v1/cases/{case}"), APPLICANT), 200);
    assert_eq!(again["state"], "Closed");
    assert_eq!(again["version"], rated["version"]);
}

#[test]
fn a_bad_rating_ticket_goes_through_rectification_and_supervision() {
    let scratch = Scratch::new("ticket");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    approve_all(s.addr, &case);
    let path = format!("/v1/cases/{case}/commands");
    expect(&post(s.addr, &path, DELIVERY, &json!({"command": "deliver", "method": "Window"})), 200);
    let rated = expect(&post(s.addr, &path, APPLICANT, &json!({"command": "rate", "stars": 1})), 200);
    let opened = rated["events"].as_array().unwrap().iter().find(|e| e["event"].get("TicketOpened").is_some());
    let opened = opened.unwrap_or_else(|| panic!("a bad rating opens a ticket: {rated}"));
    let ticket = opened["stream"].as_str().unwrap().to_owned();
    let department = opened["event"]["TicketOpened"]["department"].as_str().unwrap().to_owned();

    let board = expect(&get(s.addr, "/v1/tickets?state=verifying", SUPERVISOR), 200);
    assert_eq!(board["total"], 1);
    assert_eq!(board["tickets"][0]["source_kind"], "bad_rating");

    let t = format!("/v1/tickets/{ticket}/commands");
    let staff = reviewer(&department);
    expect(&post(s.addr, &t, &staff, &json!({"command": "fix_now"})), 200);
    let submitted = json!({"command": "submit_rectification", "measures": "窗口人员培训", "evidence": "培训签到表"});
    expect(&post(s.addr, &t, &staff, &submitted), 200);

    // No way around supervision: the department cannot pass itself (403), and nothing can
    // move the ticket toward closing before the supervisor decides (422).
    let own = post(s.addr, &t, &staff, &json!({"command": "pass"}));
    assert_eq!((own.status, own.code()), (403, "role_not_allowed".into()), "{}", own.body);
    let early = post(s.addr, &t, &staff, &json!({"command": "feed_back", "message": "已整改"}));
    assert_eq!((early.status, early.code()), (422, "invalid_state".into()), "{}", early.body);
    let close = post(s.addr, &t, SUPERVISOR, &json!({"command": "follow_up", "satisfied": true}));
    assert_eq!((close.status, close.code()), (422, "invalid_state".into()), "{}", close.body);

    expect(&post(s.addr, &t, SUPERVISOR, &json!({"command": "pass"})), 200);
    expect(&post(s.addr, &t, &staff, &json!({"command": "feed_back", "message": "已整改并回复"})), 200);
    let closed = expect(&post(s.addr, &t, SUPERVISOR, &json!({"command": "follow_up", "satisfied": true})), 200);
    assert_eq!(closed["state"], "Closed");
    let view = expect(&get(s.addr, &format!("/v1/tickets/{ticket}"), SUPERVISOR), 200);
    assert!(view["supervised"].as_bool().unwrap());
    let names = event_names(s.addr, &format!("/v1/tickets/{ticket}"));
    assert_eq!(
        names,
        ["TicketOpened", "TicketRectifying", "TicketSubmitted", "TicketPassed", "TicketFedBack", "TicketClosed"]
    );
}

#[test]
fn another_departments_reviewer_gets_403_and_nothing_is_appended() {
    let scratch = Scratch::new("forbidden");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    let before = head(s.addr);
    let r = post(
        s.addr,
        &format!("/v1/cases/{case}/tasks/business-licence/commands"),
        &reviewer("fire-rescue"),
        &json!({"command": "claim"}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "wrong_department");
    assert!(
        r.json()["error"]["message"].as_str().unwrap().contains("本部门办理"),
        "the message names the rule: {}",
        r.body
    );
    assert_eq!(head(s.addr), before, "a refused command appends nothing");
    // An intake clerk may not decide either (受审分离).
    let r = post(
        s.addr,
        &format!("/v1/cases/{case}/tasks/business-licence/commands"),
        CLERK,
        &json!({"command": "approve"}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(head(s.addr), before);
}

#[test]
fn the_same_idempotency_key_returns_the_same_response_and_appends_once() {
    let scratch = Scratch::new("idempotency");
    let s = server(&scratch.db(), &[]);
    let body = submission("open-business", APPLICANT_ID, json!({}));
    let first = post_key(s.addr, "/v1/cases", CLERK, "submit-zhang-1", &body);
    expect(&first, 201);
    let after_first = head(s.addr);
    let second = post_key(s.addr, "/v1/cases", CLERK, "submit-zhang-1", &body);
    assert_eq!((second.status, &second.body), (201, &first.body), "the stored response, byte for byte");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(head(s.addr), after_first, "appended once");

    // Concurrent repeats of one new key: one execution, every answer the same.
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let accept = json!({"command": "accept"});
    let answers: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| post_key(s.addr, &format!("/v1/cases/{id}/commands"), CLERK, "accept-1", &accept)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(answers.iter().all(|a| a.status == 200 && a.body == answers[0].body), "{answers:?}");
    let c = expect(&get(s.addr, &format!("/v1/cases/{id}"), CLERK), 200);
    assert_eq!(c["state"], "InApproval");
    assert_eq!(event_names(s.addr, &format!("/v1/cases/{id}")).iter().filter(|n| *n == "Accepted").count(), 1);

    // The key names one request: another body under it is refused; keys of another actor
    // are separate.
    let other =
        post_key(s.addr, "/v1/cases", CLERK, "submit-zhang-1", &submission("open-business", "someone-else", json!({})));
    assert_eq!((other.status, other.code()), (422, "idempotency_key_reused".into()), "{}", other.body);
    let r = post_key(s.addr, "/v1/cases", "demo-clerk-intake-2", "submit-zhang-1", &body);
    assert_eq!(expect(&r, 201)["id"], "C000002");

    // Keys survive a restart.
    drop(s);
    let s = server(&scratch.db(), &[]);
    let again = post_key(s.addr, "/v1/cases", CLERK, "submit-zhang-1", &body);
    assert_eq!((again.status, &again.body), (201, &first.body));
}

#[test]
fn thirty_two_concurrent_writers_on_one_case_lose_no_update() {
    let scratch = Scratch::new("writers");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    let task = format!("/v1/cases/{case}/tasks/business-licence/commands");
    let market = reviewer("market-access");
    expect(&post(s.addr, &task, &market, &json!({"command": "claim"})), 200);
    let base = expect(&get(s.addr, &format!("/v1/cases/{case}"), &market), 200)["version"].as_u64().unwrap();

    const WRITERS: usize = 32;
    const UPDATES_EACH: usize = 3;
    let conflicts = Arc::new(AtomicU64::new(0));
    let events_acknowledged = Arc::new(AtomicU64::new(0));
    std::thread::scope(|scope| {
        for _ in 0..WRITERS {
            let (conflicts, acknowledged, case, task, market) =
                (Arc::clone(&conflicts), Arc::clone(&events_acknowledged), &case, &task, &market);
            scope.spawn(move || {
                let mut done = 0;
                for _attempt in 0..2000 {
                    if done == UPDATES_EACH {
                        return;
                    }
                    let c = expect(&get(s.addr, &format!("/v1/cases/{case}"), market), 200);
                    let version = c["version"].as_u64().unwrap();
                    let state = c["tasks"][0]["state"].as_str().unwrap();
                    let command = match state {
                        "InReview" => json!({"command": "start_special_procedure", "kind": "Hearing", "expected_version": version}),
                        _ => json!({"command": "end_special_procedure", "expected_version": version}),
                    };
                    let r = post(s.addr, task, market, &command);
                    match r.status {
                        200 => {
                            done += 1;
                            acknowledged.fetch_add(r.json()["events"].as_array().unwrap().len() as u64, Ordering::Relaxed);
                        }
                        409 => {
                            assert_eq!(r.code(), "version_conflict");
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("unexpected {other}: {}", r.body),
                    }
                }
                panic!("a writer could not make {UPDATES_EACH} updates in 2000 attempts");
            });
        }
    });
    let c = expect(&get(s.addr, &format!("/v1/cases/{case}"), &market), 200);
    let updates = (WRITERS * UPDATES_EACH) as u64;
    assert_eq!(c["version"].as_u64().unwrap(), base + events_acknowledged.load(Ordering::Relaxed), "no update lost");
    let names = event_names(s.addr, &format!("/v1/cases/{case}"));
    let toggles = names.iter().filter(|n| n.starts_with("SpecialProcedure")).count() as u64;
    assert_eq!(toggles, updates, "every acknowledged update is in the log, once");
    assert!(conflicts.load(Ordering::Relaxed) > 0, "with 32 writers some must lose the race and get 409");
}

#[test]
fn client_mistakes_get_4xx_with_a_json_error() {
    let scratch = Scratch::new("mistakes");
    let s = server(&scratch.db(), &["--body-limit", "4096"]);
    let case = accepted_case(s.addr, "open-business", json!({}));
    let path = format!("/v1/cases/{case}/commands");
    let check = |r: Response, status: u16, code: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(r.code(), code, "{}", r.body);
        assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(r.header("content-type"), Some("application/json"));
    };
    check(request(s.addr, "POST", &path, Some(CLERK), &[], Some(b"{\"command\": ")).unwrap(), 400, "malformed_json");
    check(post(s.addr, &path, CLERK, &json!({"command": "acept"})), 400, "bad_request");
    check(post(s.addr, &path, CLERK, &json!({"command": "rate", "stars": 5, "star": 4})), 400, "bad_request");
    check(request(s.addr, "POST", &path, None, &[], Some(b"{}")).unwrap(), 401, "unauthenticated");
    check(request(s.addr, "POST", &path, Some("no-such-token"), &[], Some(b"{}")).unwrap(), 401, "unknown_token");
    check(post(s.addr, "/v1/cases/C000099/commands", CLERK, &json!({"command": "accept"})), 404, "not_found");
    check(post(s.addr, "/v1/cases/T000001/commands", CLERK, &json!({"command": "accept"})), 404, "not_found");
    check(
        post(s.addr, &format!("/v1/cases/{case}/tasks/no-item/commands"), CLERK, &json!({"command": "claim"})),
        404,
        "not_found",
    );
    check(get(s.addr, "/v1/nowhere", CLERK), 404, "not_found");
    check(post(s.addr, &path, CLERK, &json!({"command": "accept", "expected_version": 1})), 409, "version_conflict");
    check(post(s.addr, &path, CLERK, &json!({"command": "accept"})), 422, "invalid_state");
    check(post(s.addr, &path, DELIVERY, &json!({"command": "rate", "stars": 9})), 422, "invalid_state");
    let big = json!({"command": "reject", "reason": "很".repeat(4000)});
    check(post(s.addr, &path, CLERK, &big), 413, "body_too_large");
    check(
        request(s.addr, "POST", &path, Some(CLERK), &[("idempotency-key", "")], Some(b"{}")).unwrap(),
        400,
        "bad_idempotency_key",
    );
    check(get(s.addr, "/v1/departments/nowhere/tasks", CLERK), 404, "not_found");
    check(get(s.addr, "/v1/departments/market-access/tasks?state=sleeping", CLERK), 400, "bad_request");
    check(get(s.addr, "/v1/tickets?colour=red", CLERK), 400, "bad_request");
    check(request(s.addr, "DELETE", "/v1/cases", Some(CLERK), &[], None).unwrap(), 405, "method_not_allowed");
    // Applicants read only their own cases and no staff views.
    check(get(s.addr, &format!("/v1/cases/{case}"), "demo-applicant-li"), 404, "not_found");
    check(get(s.addr, "/v1/kpis", APPLICANT), 403, "role_not_allowed");
    check(get(s.addr, "/v1/stream", APPLICANT), 403, "role_not_allowed");
    expect(&get(s.addr, &format!("/v1/cases/{case}"), APPLICANT), 200);
}

/// Keys are remembered for `--idempotency-days` hall days after their command, then forgotten:
/// a repeat is then decided as a new command. What was forgotten stays forgotten after a
/// restart, and what was kept is kept.
#[test]
fn idempotency_keys_are_forgotten_after_the_retention_days() {
    let scratch = Scratch::new("key-retention");
    let args = ["--idempotency-days", "2"];
    let s = server(&scratch.db(), &args);
    let body = submission("open-business", APPLICANT_ID, json!({}));
    let first = post_key(s.addr, "/v1/cases", CLERK, "submit-1", &body);
    expect(&first, 201);
    // START is 2026-04-29. Two days later the key is still remembered.
    expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-05-01T09:30"})), 200);
    let kept = post_key(s.addr, "/v1/cases", CLERK, "submit-1", &body);
    assert_eq!((kept.status, &kept.body), (201, &first.body));
    assert_eq!(kept.header("idempotent-replayed"), Some("true"));
    let second = post_key(s.addr, "/v1/cases", CLERK, "submit-2", &body);
    expect(&second, 201);
    // Three days after the first command it is forgotten: the repeat opens a new case.
    expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-05-02T09:30"})), 200);
    let forgotten = post_key(s.addr, "/v1/cases", CLERK, "submit-1", &body);
    assert_eq!(forgotten.status, 201, "{}", forgotten.body);
    assert_eq!(forgotten.header("idempotent-replayed"), None);
    assert_ne!(forgotten.json()["id"], first.json()["id"]);
    // After a restart: the key of the day before stays, the re-used key names the new case.
    drop(s);
    let s = server(&scratch.db(), &args);
    let again = post_key(s.addr, "/v1/cases", CLERK, "submit-2", &body);
    assert_eq!((again.status, &again.body), (201, &second.body));
    let again = post_key(s.addr, "/v1/cases", CLERK, "submit-1", &body);
    assert_eq!((again.status, &again.body), (201, &forgotten.body));
}

#[test]
fn timers_fire_from_the_clock_and_open_a_supervision_ticket_when_work_is_overdue() {
    let scratch = Scratch::new("timers");
    let s = server(&scratch.db(), &["--timer-interval-ms", "50"]);
    // Received and never decided: deemed accepted after 5 working days (Art. 32).
    let r = post(s.addr, "/v1/cases", CLERK, &submission("open-business", APPLICANT_ID, json!({})));
    let case = expect(&r, 201)["id"].as_str().unwrap().to_owned();
    let moved = expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-05-15T12:00"})), 200);
    assert_eq!(moved["now"], "2026-05-15T12:00");
    let c = expect(&get(s.addr, &format!("/v1/cases/{case}"), CLERK), 200);
    assert_eq!(c["state"], "InApproval", "deemed accepted: {c}");
    let events = expect(&get(s.addr, &format!("/v1/cases/{case}/events"), CLERK), 200);
    let accepted = events["events"].as_array().unwrap().iter().find(|e| e["event"].get("Accepted").is_some()).unwrap();
    assert_eq!(accepted["event"]["Accepted"]["deemed"], true);
    assert_eq!(accepted["by"]["role"], "System");

    // Nobody reviews the business licence: it goes overdue and a 督办 ticket opens against
    // its department.
    expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-06-30T12:00"})), 200);
    let board = expect(&get(s.addr, "/v1/tickets?department=market-access", SUPERVISOR), 200);
    let overdue = board["tickets"].as_array().unwrap().iter().find(|t| t["source_kind"] == "overdue");
    assert!(overdue.is_some(), "an overdue task opens a ticket: {board}");

    // The clock moves forward only, and only an admin moves it.
    let back = post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-05-01T09:00"}));
    assert_eq!((back.status, back.code()), (422, "clock_backwards".into()));
    let r = post(s.addr, "/v1/clock", CLERK, &json!({"now": "2026-12-01T09:00"}));
    assert_eq!(r.status, 403);
}

#[test]
fn the_event_stream_resumes_from_last_event_id() {
    let scratch = Scratch::new("stream");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-business", json!({}));
    let total = head(s.addr);
    assert!(total >= 3);

    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        stream,
        "GET /v1/stream HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {SUPERVISOR}\r\nlast-event-id: 1\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut next_line = || {
        let mut line = String::new();
        reader.read_line(&mut line).expect("the stream stays open");
        line
    };
    assert!(next_line().starts_with("HTTP/1.1 200"));
    // Backlog 2..=head, then a live event from a new command.
    let live = std::thread::spawn({
        let addr = s.addr;
        let case = case.clone();
        move || {
            std::thread::sleep(Duration::from_millis(200));
            let path = format!("/v1/cases/{case}/tasks/business-licence/commands");
            expect(&post(addr, &path, &reviewer("market-access"), &json!({"command": "claim"})), 200);
        }
    });
    // Read SSE blocks (fields up to a blank line) until the live event has arrived.
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let (mut id, mut name, mut data) = (None, None, None);
    while ids.last() != Some(&(total + 1)) {
        let line = next_line();
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(v) = line.strip_prefix("id: ") {
            id = Some(v.parse::<u64>().unwrap());
        } else if let Some(v) = line.strip_prefix("event: ") {
            name = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = Some(serde_json::from_str::<Value>(v).unwrap());
        } else if line.is_empty() && id.is_some() {
            let (i, n, d) = (id.take().unwrap(), name.take().unwrap(), data.take().unwrap());
            assert_eq!(d["position"].as_u64(), Some(i), "the id is the position");
            ids.push(i);
            names.push(n);
        }
    }
    live.join().unwrap();
    assert_eq!(ids, (2..=total + 1).collect::<Vec<_>>(), "every event after Last-Event-ID, in order, once");
    assert_eq!(names.last().map(String::as_str), Some("TaskClaimed"));
}

#[test]
fn reports_kpis_health_metrics_and_openapi_answer() {
    let scratch = Scratch::new("reports");
    let s = server(&scratch.db(), &[]);
    accepted_case(s.addr, "open-business", json!({}));
    let plan = expect(&post(s.addr, "/v1/plan/tickets", SUPERVISOR, &json!({})), 201);
    assert_eq!(plan["opened"].as_array().unwrap().len(), 4, "one ticket per plan task: {plan}");
    let lists = expect(&get(s.addr, "/v1/reports/four-lists", "demo-leader"), 200);
    for list in ["responsibility", "tasks", "problems", "effects"] {
        assert!(lists[list].is_array(), "{list} in {lists}");
    }
    let kpis = expect(&get(s.addr, "/v1/kpis", "demo-leader"), 200);
    assert_eq!(kpis["cases"], 1);
    let health = expect(&request(s.addr, "GET", "/healthz", None, &[], None).unwrap(), 200);
    assert_eq!(health["status"], "ok");
    let metrics = request(s.addr, "GET", "/metrics", None, &[], None).unwrap();
    assert!(metrics.body.contains("yichuang_commands_total{outcome=\"ok\",code=\"none\"} 3"), "{}", metrics.body);
    assert!(metrics.body.contains("yichuang_group_commit_duration_seconds_bucket"));
    let openapi = expect(&request(s.addr, "GET", "/openapi.json", None, &[], None).unwrap(), 200);
    assert!(openapi["paths"]["/v1/cases"]["post"].is_object());
    let log = expect(&get(s.addr, "/v1/events?after=0&limit=2", SUPERVISOR), 200);
    assert_eq!(log["events"].as_array().unwrap().len(), 2);
}

#[test]
fn a_damaged_log_is_refused_at_start_with_a_clear_message() {
    let scratch = Scratch::new("damaged");
    {
        let s = server(&scratch.db(), &[]);
        accepted_case(s.addr, "open-business", json!({}));
    }
    // An event made illegal by hand: the acceptance turned into a delivery.
    let conn = rusqlite::Connection::open(scratch.db()).unwrap();
    conn.execute_batch(
        "UPDATE events SET kind = 'Delivered', body = json_set(json_remove(body, '$.event'), '$.event', json('{\"Delivered\":{\"method\":\"Window\"}}')) WHERE position = 2",
    )
    .unwrap();
    drop(conn);
    match start(&scratch.db(), &["--clock", START]) {
        Start::Running(_) => panic!("a damaged log must be refused"),
        Start::Exited { code, stderr } => {
            assert_eq!(code, Some(3), "{stderr}");
            assert!(stderr.contains("the event log is refused"), "{stderr}");
            assert!(stderr.contains("position 2"), "{stderr}");
        }
    }
    // The same database under another definition is refused too.
    let scratch = Scratch::new("other-definition");
    {
        let s = server(&scratch.db(), &[]);
        accepted_case(s.addr, "open-business", json!({}));
    }
    let minimal = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/minimal.ron");
    let tokens = scratch.0.join("tokens.ron");
    std::fs::write(&tokens, "(tokens: {\"admin-token\": (id: \"admin\", role: Admin)})").unwrap();
    match start(&scratch.db(), &["--definition", minimal, "--tokens", tokens.to_str().unwrap()]) {
        Start::Running(_) => panic!("a log of another definition must be refused"),
        Start::Exited { code, stderr } => {
            assert_eq!(code, Some(3), "{stderr}");
            assert!(stderr.contains("was written under definition `county-hall`"), "{stderr}");
        }
    }
}

fn error_of(r: &Response, status: u16, code: &str) -> String {
    assert_eq!((r.status, r.code()), (status, code.to_owned()), "{}", r.body);
    r.json()["error"]["message"].as_str().unwrap().to_owned()
}

#[test]
fn a_complaint_against_the_supervision_section_is_refused() {
    let scratch = Scratch::new("supervision-target");
    let s = server(&scratch.db(), &[]);
    let targets = [
        json!({"Department": "supervision"}),
        json!({"Window": {"window": "intake-1", "department": "supervision"}}),
        json!({"Process": {"description": "督办慢", "department": "supervision"}}),
    ];
    for target in targets {
        let body = json!({"source": "complaint", "target": target, "text": "x"});
        let m = error_of(&post(s.addr, "/v1/tickets", APPLICANT, &body), 422, "supervision_not_responsible");
        assert!(m.contains("market-access") && m.contains("leader"), "{m}");
    }
    assert_eq!(expect(&get(s.addr, "/v1/tickets", SUPERVISOR), 200)["total"], 0);
}

#[test]
fn the_clock_stays_inside_the_calendar_and_acceptance_needs_a_deadline() {
    let scratch = Scratch::new("clock-calendar");
    let s = server(&scratch.db(), &[]);
    let m = error_of(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2027-01-04T09:00"})), 422, "calendar");
    assert!(m.contains("2025–2026"), "{m}");
    assert_eq!(expect(&get(s.addr, "/v1/clock", ADMIN), 200)["now"], START);
    // At the end of the covered years a case's promised deadline falls outside the calendar:
    // acceptance is refused rather than leaving the case without a deadline.
    expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-12-29T09:00"})), 200);
    let body = submission("open-restaurant", APPLICANT_ID, restaurant_answers());
    let case = expect(&post(s.addr, "/v1/cases", CLERK, &body), 201)["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/cases/{case}/commands");
    let m = error_of(&post(s.addr, &path, CLERK, &json!({"command": "accept"})), 422, "calendar");
    assert!(m.contains("2025–2026"), "{m}");
    assert_eq!(expect(&get(s.addr, &format!("/v1/cases/{case}"), CLERK), 200)["state"], "Received");
}

#[test]
fn the_stream_refuses_a_position_past_the_head() {
    let scratch = Scratch::new("stream-ahead");
    let s = server(&scratch.db(), &[]);
    accepted_case(s.addr, "open-business", json!({}));
    let head = head(s.addr);
    let ahead = (head + 5).to_string();
    let r = request(s.addr, "GET", "/v1/stream", Some(SUPERVISOR), &[("last-event-id", &ahead)], None).unwrap();
    let m = error_of(&r, 400, "bad_request");
    assert!(m.contains(&format!("head is {head}")), "{m}");
    let r = request(s.addr, "GET", &format!("/v1/stream?after={ahead}"), Some(SUPERVISOR), &[], None).unwrap();
    error_of(&r, 400, "bad_request");
}

#[test]
fn the_ticket_board_refuses_an_unknown_department() {
    let scratch = Scratch::new("board-department");
    let s = server(&scratch.db(), &[]);
    let m = error_of(&get(s.addr, "/v1/tickets?department=unicorn", SUPERVISOR), 404, "not_found");
    assert!(m.contains("unicorn") && m.contains("market-access"), "{m}");
    expect(&get(s.addr, "/v1/tickets?department=market-access", SUPERVISOR), 200);
}

#[test]
fn applicant_ids_have_a_bounded_form() {
    let scratch = Scratch::new("applicant-id");
    let s = server(&scratch.db(), &[]);
    for id in [String::new(), "9".repeat(10_000)] {
        let body = submission("open-business", &id, json!({}));
        let m = error_of(&post(s.addr, "/v1/cases", CLERK, &body), 422, "out_of_range");
        assert!(m.contains("1–64 characters") && m.len() < 400, "{m}");
        let consult = json!({"command": "consult", "bundle": "open-business", "applicant": {"id": id, "name": "张三"}});
        error_of(&post(s.addr, "/v1/cases", "demo-clerk-consult-1", &consult), 422, "out_of_range");
    }
    assert_eq!(head(s.addr), 0);
}

#[test]
fn an_applicant_links_complaints_only_to_their_own_cases() {
    let scratch = Scratch::new("complaint-link");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-business", json!({}));
    let complaint = |case: &str| json!({"source": "complaint", "target": {"Department": "market-access"}, "case": case, "text": "x"});
    // Another applicant's case answers exactly as a missing one does.
    let foreign = post(s.addr, "/v1/tickets", "demo-applicant-li", &complaint(&case));
    error_of(&foreign, 404, "not_found");
    let missing = post(s.addr, "/v1/tickets", "demo-applicant-li", &complaint("C000002"));
    assert_eq!(foreign.body_without_request_id().replace(&case, "C000002"), missing.body_without_request_id());
    let m = error_of(&post(s.addr, "/v1/tickets", "demo-applicant-li", &complaint("C000016")), 404, "not_found");
    assert!(!m.contains("C000001"), "the applicant is not told which cases exist: {m}");
    let m = error_of(&post(s.addr, "/v1/tickets", SUPERVISOR, &complaint("C000016")), 404, "not_found");
    assert!(m.contains("C000001"), "{m}");
    expect(&post(s.addr, "/v1/tickets", APPLICANT, &complaint(&case)), 201);
}

#[test]
fn messages_name_the_parameter_the_limit_and_the_version() {
    let scratch = Scratch::new("messages");
    let s = server(&scratch.db(), &["--body-limit", "4096"]);
    for (query, name) in [("limit=-1", "limit"), ("limit=abc", "limit"), ("after=-5", "after")] {
        let m = error_of(&get(s.addr, &format!("/v1/events?{query}"), SUPERVISOR), 400, "bad_request");
        assert!(m.contains(&format!("`{name}`")) && !m.contains("Failed to deserialize"), "{m}");
        assert!(m.contains(if name == "limit" { "1–1000" } else { "≥ 0" }), "{m}");
    }
    let m = error_of(&get(s.addr, "/v1/tickets?limit=x", SUPERVISOR), 400, "bad_request");
    assert!(m.contains("1–1000"), "{m}");
    let m = error_of(&get(s.addr, "/v1/departments/market-access/tasks?limit=-1", SUPERVISOR), 400, "bad_request");
    assert!(m.contains("1–1000"), "{m}");
    let big = json!({"command": "reject", "reason": "很".repeat(4000)});
    let m = error_of(&post(s.addr, "/v1/cases/C000001/commands", CLERK, &big), 413, "body_too_large");
    assert!(m.contains("4096 bytes"), "{m}");
    let case = accepted_case(s.addr, "open-business", json!({}));
    let path = format!("/v1/cases/{case}/commands");
    let m = error_of(
        &post(s.addr, &path, CLERK, &json!({"command": "withdraw", "expected_version": 99})),
        409,
        "version_conflict",
    );
    assert!(m.contains("does not exist yet") && !m.contains("changed since"), "{m}");
    let body = submission("open-restaurant", APPLICANT_ID, json!({"favourite-colour": "red"}));
    let m = error_of(&post(s.addr, "/v1/cases", CLERK, &body), 422, "out_of_range");
    assert!(!m.contains("is not valid;"), "{m}");
}
