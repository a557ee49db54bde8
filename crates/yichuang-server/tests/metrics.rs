//! `/metrics` under load passes `promtool check metrics` (Debian's `prometheus` package;
//! `.ci/run` installs it) and holds every family an operator alerts on, with values that follow
//! what was done. The old exposition counted responses only by class and left 400/401 out of
//! the refused commands.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use serde_json::json;

/// `promtool check metrics` over `text`: its verdict and what it said.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs: install Debian's `prometheus` package (.ci/run does)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), said)
}

/// The value of one sample.
fn value(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {series} in\n{body}"))
}

#[test]
fn promtool_catches_a_broken_exposition() {
    // The checker is worth something only if it refuses what is wrong.
    let (ok, said) = promtool("# HELP requests Requests.\n# TYPE requests counter\nrequests 3\n");
    assert!(!ok, "a counter without _total must be refused: {said}");
    let (ok, said) = promtool("# HELP latency_ms Latency.\n# TYPE latency_ms gauge\nlatency_ms 3\n");
    assert!(!ok, "a non-base unit must be refused: {said}");
    let (ok, said) = promtool("# HELP yichuang_x_total X.\n# TYPE yichuang_x_total counter\nyichuang_x_total 1\n");
    assert!(ok, "{said}");
}

#[test]
fn the_exposition_passes_promtool_under_load_and_holds_what_operators_alert_on() {
    let scratch = Scratch::new("metrics");
    let s = server(&scratch.db(), &[]);
    let stop = AtomicBool::new(false);
    let scrapes = std::thread::scope(|scope| {
        // Writers: whole cases, plus refusals of every kind (400, 401, 404, 422).
        for w in 0..4 {
            let (addr, stop) = (s.addr, &stop);
            scope.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = submission("open-business", &format!("load-{w}-{n}"), json!({}));
                    let r = post(addr, "/v1/cases", CLERK, &body);
                    assert_eq!(r.status, 201, "{}", r.body);
                    let id = r.json()["id"].as_str().unwrap().to_owned();
                    let path = format!("/v1/cases/{id}/commands");
                    expect(&post(addr, &path, CLERK, &json!({"command": "accept"})), 200);
                    assert_eq!(post(addr, &path, CLERK, &json!({"command": "acept"})).status, 400);
                    assert_eq!(post(addr, &path, "not-a-token", &json!({"command": "accept"})).status, 401);
                    assert_eq!(post(addr, &path, CLERK, &json!({"command": "accept"})).status, 422);
                    assert_eq!(get(addr, "/v1/cases/C999999", CLERK).status, 404);
                }
            });
        }
        // A stream, so that subscribers and lag are exposed.
        let stream = std::net::TcpStream::connect(s.addr).unwrap();
        write!(&stream, "GET /v1/stream HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {SUPERVISOR}\r\n\r\n").unwrap();
        let mut scrapes = Vec::new();
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(300));
            let r = request(s.addr, "GET", "/metrics", None, &[], None).unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
            scrapes.push(r.body);
        }
        stop.store(true, Ordering::Relaxed);
        drop(stream);
        scrapes
    });
    for body in &scrapes {
        let (ok, said) = promtool(body);
        assert!(ok, "promtool check metrics: {said}\n{body}");
    }
    let body = scrapes.last().unwrap();
    for family in [
        "yichuang_build_info{version=",
        "process_start_time_seconds ",
        "process_open_fds ",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "yichuang_http_requests_total{route=\"/v1/cases\",method=\"POST\",status=\"201\"}",
        "yichuang_http_request_duration_seconds_bucket{route=\"/v1/cases/{id}/commands\",method=\"POST\",status=\"422\",le=",
        "yichuang_commands_total{outcome=\"refused\",code=\"unknown_token\"}",
        "yichuang_commands_total{outcome=\"refused\",code=\"bad_request\"}",
        "yichuang_commands_total{outcome=\"refused\",code=\"invalid_state\"}",
        "yichuang_group_commit_commands_bucket{le=",
        "yichuang_group_commit_duration_seconds_bucket{le=",
        "yichuang_writer_queue_depth ",
        "yichuang_idempotency_records ",
        "yichuang_replay_duration_seconds ",
        "yichuang_database_bytes{file=\"db\"}",
        "yichuang_database_bytes{file=\"wal\"}",
        "yichuang_connections_open ",
        "yichuang_stream_subscribers ",
        "yichuang_stream_lag_events ",
        "yichuang_open_tasks{department=\"market-access\",sla=\"normal\"}",
    ] {
        assert!(body.contains(family), "{family} in\n{body}");
    }
    // The values follow the load: every case opened and accepted, and as many refusals.
    let opened = value(body, "yichuang_http_requests_total{route=\"/v1/cases\",method=\"POST\",status=\"201\"}");
    assert!(opened >= 4.0, "{opened}");
    let ok = value(body, "yichuang_commands_total{outcome=\"ok\",code=\"none\"}");
    assert!(ok >= 2.0 * opened - 8.0, "{ok} of {opened}");
    let unauthenticated = value(body, "yichuang_commands_total{outcome=\"refused\",code=\"unknown_token\"}");
    assert!((unauthenticated - opened).abs() <= 4.0, "{unauthenticated} of {opened}");
    assert_eq!(value(body, "yichuang_stream_subscribers"), 1.0);
    assert!(value(body, "yichuang_database_bytes{file=\"db\"}") > 0.0);
    // After the load: a quiet service with every open task counted once.
    let quiet = request(s.addr, "GET", "/metrics", None, &[], None).unwrap().body;
    let cases = value(&quiet, "yichuang_cases");
    let open: f64 = quiet
        .lines()
        .filter(|l| l.starts_with("yichuang_open_tasks{department=\"market-access\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(open, cases, "every accepted case waits on its business licence at market-access");
    let (ok, said) = promtool(&quiet);
    assert!(ok, "{said}");
}
