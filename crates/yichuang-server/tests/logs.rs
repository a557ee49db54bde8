//! The service's logs: one JSON line per request with its id and facts, the request id echoed
//! in the response and every error body, events at start (version, definition fingerprint,
//! store, replay, how the previous run ended), on timers, group commits and shutdown, refused
//! starts, RFC 3339 timestamps, `RUST_LOG` filtering. The old service logged none of it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// The JSON lines of a server's stderr.
fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn find<'a>(lines: &'a [Value], message: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["message"] == message).collect()
}

/// RFC 3339 in UTC as the subscriber writes it: `2026-05-01T01:30:00.123456Z`.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && text.ends_with('Z')
        && text[..4].bytes().chain(text[5..7].bytes()).chain(text[8..10].bytes()).all(|c| c.is_ascii_digit())
}

#[test]
fn every_request_is_one_json_line_with_its_id_and_facts() {
    let scratch = Scratch::new("logs-requests");
    let s = server(&scratch.db(), &["--log-format", "json"]);
    let body = submission("open-business", APPLICANT_ID, json!({}));
    let r = request(
        s.addr,
        "POST",
        "/v1/cases",
        Some(CLERK),
        &[("x-request-id", "intake-77")],
        Some(body.to_string().as_bytes()),
    )
    .unwrap();
    expect(&r, 201);
    assert_eq!(r.header("x-request-id"), Some("intake-77"), "the client's id is echoed");
    let case = r.json()["id"].as_str().unwrap().to_owned();
    expect(&post(s.addr, &format!("/v1/cases/{case}/commands"), CLERK, &json!({"command": "accept"})), 200);
    // A refused command (受审分离), with a generated id: in the header and in the error body.
    let refused =
        post(s.addr, &format!("/v1/cases/{case}/tasks/business-licence/commands"), CLERK, &json!({"command": "claim"}));
    assert_eq!(refused.status, 403, "{}", refused.body);
    let id = refused.header("x-request-id").expect("an id is generated").to_owned();
    assert_eq!(refused.json()["error"]["request_id"], id.as_str());
    // An unusable client id is replaced, and a 401 carries its id too.
    let r =
        request(s.addr, "GET", "/v1/kpis", Some("no-such-token"), &[("x-request-id", "has a space")], None).unwrap();
    assert_eq!(r.status, 401);
    let unauth = r.header("x-request-id").unwrap().to_owned();
    assert_ne!(unauth, "has a space");
    assert_eq!(r.json()["error"]["request_id"], unauth.as_str());
    let stranger = get(s.addr, &format!("/v1/cases/{case}"), "demo-applicant-li");
    assert_eq!(stranger.status, 404);

    std::thread::sleep(Duration::from_millis(200));
    let lines = json_lines(&s.stderr());
    for l in &lines {
        assert!(is_rfc3339(l["timestamp"].as_str().unwrap_or_default()), "{l}");
    }
    let requests: Vec<&Value> = lines.iter().filter(|l| l["target"] == "yichuang_server::request").collect();
    let line = |id: &str| {
        *requests.iter().find(|l| l["request_id"] == id).unwrap_or_else(|| panic!("no line for {id}: {requests:#?}"))
    };
    let submit = line("intake-77");
    assert_eq!(submit["level"], "INFO");
    for (field, value) in [
        ("message", json!("request")),
        ("method", json!("POST")),
        ("route", json!("/v1/cases")),
        ("hall", json!("county-hall")),
        ("actor", json!("clerk-intake-1")),
        ("role", json!("clerk:intake-1")),
        ("command", json!("submit")),
        ("outcome", json!("ok")),
        ("status", json!(201)),
    ] {
        assert_eq!(submit[field], value, "{field} in {submit}");
    }
    assert!(submit["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{submit}");
    assert!(submit["peer"].as_str().is_some_and(|p| p.starts_with("127.0.0.1:")), "{submit}");
    let claim = line(&id);
    assert_eq!(claim["route"], "/v1/cases/{id}/tasks/{item}/commands");
    assert_eq!((claim["case"].as_str(), claim["item"].as_str()), (Some(case.as_str()), Some("business-licence")));
    assert_eq!((claim["command"].as_str(), claim["status"].as_u64()), (Some("claim"), Some(403)));
    assert_eq!(claim["outcome"], refused.code().as_str(), "the rejection code is the outcome");
    let anonymous = line(&unauth);
    assert_eq!((anonymous["outcome"].as_str(), anonymous["status"].as_u64()), (Some("unknown_token"), Some(401)));
    assert!(anonymous.get("actor").is_none(), "{anonymous}");
    assert_eq!(line(stranger.header("x-request-id").unwrap())["outcome"], "not_found");

    // Start events: version, definition and its fingerprint, store, the replay, the first run.
    let starting = find(&lines, "starting");
    assert_eq!(starting.len(), 1);
    assert_eq!(starting[0]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(starting[0]["definition"], "county-hall");
    assert!(starting[0]["definition_fingerprint"].as_str().is_some_and(|f| f.len() == 16), "{}", starting[0]);
    assert!(starting[0]["store"].as_str().is_some_and(|s| s.starts_with("sqlite:")), "{}", starting[0]);
    let ready = find(&lines, "log replayed and checked; ready");
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0]["events"], 0);
    assert!(ready[0]["replay_ms"].is_u64(), "{}", ready[0]);
    assert_eq!(find(&lines, "first run on this database").len(), 1);
}

#[test]
fn the_start_says_how_the_previous_run_ended_and_the_stop_is_logged() {
    let scratch = Scratch::new("logs-runs");
    let args = ["--log-format", "json"];
    let mut s = server(&scratch.db(), &args);
    accepted_case(s.addr, "open-business", json!({}));
    s.terminate();
    assert_eq!(s.wait_exit(Duration::from_secs(20)), Some(Some(0)), "{}", s.stderr());
    let lines = json_lines(&s.stderr());
    for message in ["stop requested", "connections drained", "stopped"] {
        assert_eq!(find(&lines, message).len(), 1, "{message}: {}", s.stderr());
    }
    assert_eq!(find(&lines, "stop requested")[0]["signal"], "SIGTERM");
    assert_eq!(find(&lines, "the writer stopped; the run is marked as ended cleanly").len(), 1);

    let s = server(&scratch.db(), &args);
    let lines = json_lines(&s.stderr());
    assert_eq!(find(&lines, "the previous run ended cleanly").len(), 1, "{}", s.stderr());
    assert!(find(&lines, "log replayed and checked; ready")[0]["events"].as_u64().unwrap() >= 3);
    accepted_case(s.addr, "open-business", json!({}));
    s.kill();

    let s = server(&scratch.db(), &args);
    let lines = json_lines(&s.stderr());
    let unclean: Vec<_> =
        lines.iter().filter(|l| l["message"].as_str().unwrap_or_default().contains("did not end cleanly")).collect();
    assert_eq!(unclean.len(), 1, "{}", s.stderr());
    assert_eq!(unclean[0]["level"], "WARN");
}

#[test]
fn timers_and_group_commits_are_logged_and_rust_log_filters() {
    let scratch = Scratch::new("logs-timers");
    let mut command = server_command(&scratch.db(), &["--clock", START, "--log-format", "json"]);
    command.env("RUST_LOG", "warn,yichuang_server=debug,yichuang_server::request=off");
    let s = match ready(command) {
        Start::Running(s) => s,
        Start::Exited { code, stderr } => panic!("{code:?}: {stderr}"),
    };
    expect(&post(s.addr, "/v1/cases", CLERK, &submission("open-business", APPLICANT_ID, json!({}))), 201);
    // Five working days later the case is deemed accepted by a timer.
    expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-05-15T12:00"})), 200);
    std::thread::sleep(Duration::from_millis(200));
    let lines = json_lines(&s.stderr());
    let timers = find(&lines, "timers fired");
    assert!(!timers.is_empty(), "{}", s.stderr());
    assert!(timers[0]["kinds"].as_str().unwrap().contains("Accepted"), "{}", timers[0]);
    let commits = find(&lines, "group commit");
    assert!(commits.len() >= 2, "{}", s.stderr());
    assert!(commits.iter().all(|c| c["fsync_ms"].is_f64() && c["events"].as_u64().unwrap() >= 1), "{commits:?}");
    assert!(lines.iter().all(|l| l["target"] != "yichuang_server::request"), "the filter turned request lines off");
}

/// `RUST_LOG=…,yichuang_core=debug` shows the engine's spans: a refused command's line carries
/// the `execute` span with the case and the command, and each fired timer is a line of its own.
/// The default filter keeps them out.
#[test]
fn rust_log_debug_shows_the_cores_spans() {
    let scratch = Scratch::new("logs-core");
    let mut command = server_command(&scratch.db(), &["--clock", START, "--log-format", "json"]);
    command.env("RUST_LOG", "warn,yichuang_core=debug");
    let s = match ready(command) {
        Start::Running(s) => s,
        Start::Exited { code, stderr } => panic!("{code:?}: {stderr}"),
    };
    let case = accepted_case(s.addr, "open-business", json!({}));
    // Approving a task nobody has claimed is refused by the engine (not by the HTTP layer).
    let path = format!("/v1/cases/{case}/tasks/business-licence/commands");
    let refused = post(s.addr, &path, &reviewer("market-access"), &json!({"command": "approve"}));
    assert!((400..500).contains(&refused.status), "{}", refused.body);
    // A month later the licence's clock has fired (warning, overdue) and so has the case's.
    expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-05-29T12:00"})), 200);
    std::thread::sleep(Duration::from_millis(200));
    let lines = json_lines(&s.stderr());
    let core: Vec<&Value> = lines.iter().filter(|l| l["target"] == "yichuang_core::engine").collect();
    assert!(core.iter().all(|l| l["level"] == "DEBUG"), "{core:#?}");
    let refusal = core
        .iter()
        .find(|l| l["message"].as_str().is_some_and(|m| m.starts_with("refused:")))
        .unwrap_or_else(|| panic!("no refusal from the core: {}", s.stderr()));
    assert_eq!(refusal["span"]["name"], "execute", "{refusal}");
    assert_eq!(refusal["span"]["case"], case.as_str(), "{refusal}");
    assert_eq!(refusal["span"]["command"], "approve", "{refusal}");
    assert_eq!(refusal["code"], refused.code().as_str(), "{refusal}");
    let timers: Vec<&&Value> = core.iter().filter(|l| l["message"] == "timer fires").collect();
    assert!(timers.len() >= 2, "{}", s.stderr());
    assert!(timers.iter().all(|t| t["due"].is_string() && t["to"] == "2026-05-29T12:00"), "{timers:#?}");
    assert!(timers.iter().any(|t| t["stream"] == case.as_str()), "{timers:#?}");
    drop(s);

    // Under the default filter the core says nothing.
    let quiet = Scratch::new("logs-core-default");
    let mut command = server_command(&quiet.db(), &["--clock", START, "--log-format", "json"]);
    command.env_remove("RUST_LOG");
    let s = match ready(command) {
        Start::Running(s) => s,
        Start::Exited { code, stderr } => panic!("{code:?}: {stderr}"),
    };
    let case = accepted_case(s.addr, "open-business", json!({}));
    let path = format!("/v1/cases/{case}/tasks/business-licence/commands");
    assert!(post(s.addr, &path, &reviewer("market-access"), &json!({"command": "approve"})).status >= 400);
    expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-05-29T12:00"})), 200);
    std::thread::sleep(Duration::from_millis(200));
    let lines = json_lines(&s.stderr());
    assert!(lines.iter().all(|l| l["target"] != "yichuang_core::engine"), "{}", s.stderr());
}

#[test]
fn text_lines_carry_rfc3339_timestamps_and_a_bad_filter_is_refused() {
    let scratch = Scratch::new("logs-text");
    let s = server(&scratch.db(), &[]);
    expect(&get(s.addr, "/v1/clock", CLERK), 200);
    std::thread::sleep(Duration::from_millis(200));
    let log = s.stderr();
    let line = log.lines().find(|l| l.contains("yichuang_server::request")).unwrap_or_else(|| panic!("{log}"));
    let stamp = line.split_whitespace().next().unwrap();
    assert!(is_rfc3339(stamp), "{line}");
    assert!(line.contains("route=\"/v1/clock\"") && line.contains("status=200"), "{line}");
    drop(s);

    let mut command = server_command(&scratch.db(), &["--clock", START]);
    command.env("RUST_LOG", "yichuang_server=loud");
    match ready(command) {
        Start::Running(_) => panic!("a bad RUST_LOG must be refused"),
        Start::Exited { code, stderr } => {
            assert_eq!(code, Some(2), "{stderr}");
            assert!(stderr.contains("RUST_LOG") && stderr.contains("yichuang_server=debug"), "{stderr}");
        }
    }
}

#[test]
fn a_refused_start_is_logged_with_its_reason() {
    let scratch = Scratch::new("logs-refused");
    {
        let s = server(&scratch.db(), &[]);
        accepted_case(s.addr, "open-business", json!({}));
    }
    let conn = rusqlite::Connection::open(scratch.db()).unwrap();
    conn.execute_batch("UPDATE events SET body = json_set(body, '$.seq', 7) WHERE position = 2").unwrap();
    drop(conn);
    match start(&scratch.db(), &["--clock", START, "--log-format", "json"]) {
        Start::Running(_) => panic!("a damaged log must be refused"),
        Start::Exited { code, stderr } => {
            assert_eq!(code, Some(3), "{stderr}");
            let lines = json_lines(&stderr);
            let refused: Vec<_> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
            assert_eq!(refused.len(), 1, "{stderr}");
            assert_eq!((refused[0]["reason"].as_str(), refused[0]["exit_code"].as_u64()), (Some("log"), Some(3)));
            assert!(refused[0]["message"].as_str().unwrap().contains("position 2"), "{stderr}");
        }
    }
}
