//! Timeouts and limits over real sockets: partial headers, a partial body, an announced body
//! of 20 MiB with 10 bytes sent, many idle connections (also under a low file-descriptor
//! limit, and with the descriptors running out under a running service), every connection busy,
//! and SIGTERM with a stalled client. Each was a defect: the old service kept such connections
//! open for minutes, answered nothing, let `/healthz` time out, logged nothing when it ran out
//! of descriptors, and waited 120 s and more to stop.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Reads until the peer closes (or `limit`); what arrived and how long it took, or `None` if
/// the connection was still open at the limit.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<(Vec<u8>, Duration)> {
    let started = Instant::now();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return Some((got, started.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            // Reset by the peer: closed.
            Err(_) => return Some((got, started.elapsed())),
        }
    }
    None
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).expect("connect")
}

#[test]
fn partial_headers_are_cut_after_the_header_timeout_but_an_idle_connection_waits_longer() {
    let scratch = Scratch::new("header-timeout");
    let s = server(&scratch.db(), &["--header-timeout-ms", "400", "--idle-timeout-ms", "3000"]);
    let mut stalled = connect(s.addr);
    stalled.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-half: ").unwrap();
    let (_, took) = read_until_closed(&mut stalled, Duration::from_secs(10)).expect("closed by the service");
    assert!(took < Duration::from_secs(5), "closed after {took:?}");

    // A connection that finished a request and waits idle is not under the header timeout: a
    // second request 1 s later (over twice the header timeout) is still answered on it.
    let mut kept = connect(s.addr);
    let ask = b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n";
    kept.write_all(ask).unwrap();
    let mut buf = [0u8; 4096];
    kept.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = kept.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    std::thread::sleep(Duration::from_millis(1000));
    kept.write_all(ask).unwrap();
    let n = kept.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "still open: {}", String::from_utf8_lossy(&buf[..n]));
    // ... and closed once idle for --idle-timeout-ms.
    let (_, took) = read_until_closed(&mut kept, Duration::from_secs(15)).expect("closed when idle");
    assert!(took >= Duration::from_millis(2500) && took < Duration::from_secs(10), "idle close after {took:?}");
}

#[test]
fn a_partial_body_gets_408_after_the_body_timeout() {
    let scratch = Scratch::new("body-timeout");
    let s = server(&scratch.db(), &["--body-timeout-ms", "400"]);
    let mut stalled = connect(s.addr);
    let partial = format!(
        "POST /v1/cases HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {CLERK}\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n{{\"bundle\":"
    );
    stalled.write_all(partial.as_bytes()).unwrap();
    let (got, took) = read_until_closed(&mut stalled, Duration::from_secs(10)).expect("answered and closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"body_timeout\"") && text.contains("--body-timeout-ms"), "{text}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(head(s.addr), 0, "nothing was decided");
}

#[test]
fn an_announced_oversized_body_gets_413_at_once() {
    let scratch = Scratch::new("early-413");
    // A long body timeout: the answer must not wait for it.
    let s = server(&scratch.db(), &["--body-timeout-ms", "60000"]);
    let mut client = connect(s.addr);
    let head = format!(
        "POST /v1/cases HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {CLERK}\r\ncontent-type: application/json\r\n\
         content-length: 20971520\r\n\r\n0123456789"
    );
    client.write_all(head.as_bytes()).unwrap();
    let (got, took) = read_until_closed(&mut client, Duration::from_secs(20)).expect("answered and closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"body_too_large\"") && text.contains("65536 bytes"), "{text}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn many_idle_connections_do_not_keep_healthz_out() {
    let scratch = Scratch::new("idle-connections");
    let s = server(&scratch.db(), &["--max-connections", "8"]);
    let idle: Vec<TcpStream> = (0..40).map(|_| connect(s.addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let health = request(s.addr, "GET", "/healthz", None, &[], None).expect("healthz answers");
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(started.elapsed() < Duration::from_secs(5));
    let metrics = request(s.addr, "GET", "/metrics", None, &[], None).unwrap();
    let evicted = metric(&metrics.body, "yichuang_connections_closed_total{reason=\"evicted\"}");
    assert!(evicted >= 30.0, "idle connections made room: {evicted}");
    assert!(metric(&metrics.body, "yichuang_connections_open") <= 9.0, "{}", metrics.body);
    drop(idle);
}

/// The value of one sample of a Prometheus exposition.
fn metric(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {series} in\n{body}"))
}

#[test]
fn under_a_low_descriptor_limit_the_cap_fits_and_healthz_answers() {
    let scratch = Scratch::new("fd-limit");
    let db = scratch.db();
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 96 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_yichuang-server"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .args(["--clock", START, "--max-connections", "1000"]);
    let s = match ready(command) {
        Start::Running(s) => s,
        Start::Exited { code, stderr } => panic!("exited {code:?}: {stderr}"),
    };
    assert!(s.stderr().contains("--max-connections lowered to fit the file-descriptor limit"), "{}", s.stderr());
    let idle: Vec<TcpStream> = (0..200).filter_map(|_| TcpStream::connect(s.addr).ok()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let health = request(s.addr, "GET", "/healthz", None, &[], None).expect("healthz answers");
    assert_eq!(health.status, 200, "{}", health.body);
    let metrics = request(s.addr, "GET", "/metrics", None, &[], None).unwrap();
    assert!(metrics.body.contains("\nprocess_max_fds 96\n"), "{}", metrics.body);
    assert_eq!(metric(&metrics.body, "yichuang_accept_errors_total"), 0.0, "the cap kept descriptors free");
    // The service still works end to end: its database has descriptors left.
    let r = post(s.addr, "/v1/cases", CLERK, &submission("open-business", APPLICANT_ID, json!({})));
    assert_eq!(r.status, 201, "{}", r.body);
    drop(idle);
}

/// Running out of descriptors after the start (the limit lowered under the running process, as
/// an operator's `prlimit` or another file-hungry part of the process would) is logged, counted,
/// and survived: an idle connection gives its descriptor back and `/healthz` answers. The old
/// service logged nothing when accept failed.
#[test]
fn running_out_of_descriptors_is_logged_and_survived() {
    let scratch = Scratch::new("fd-exhausted");
    let s = server(&scratch.db(), &[]);
    // A few idle connections that can give their descriptors back.
    let mut idle: Vec<TcpStream> = (0..8).map(|_| connect(s.addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let open = std::fs::read_dir(format!("/proc/{}/fd", s.pid())).expect("Linux's /proc").count();
    let limit = format!("--nofile={}:{}", open + 2, open + 2);
    let lowered = std::process::Command::new("prlimit").args(["--pid", &s.pid().to_string(), &limit]).status();
    assert!(lowered.is_ok_and(|st| st.success()), "prlimit (util-linux) lowers the service's limit");
    // More connections than descriptors left: accept fails with EMFILE until idle ones go.
    idle.extend((0..12).filter_map(|_| TcpStream::connect(s.addr).ok()));
    std::thread::sleep(Duration::from_millis(500));
    let health = request(s.addr, "GET", "/healthz", None, &[], None).expect("healthz answers");
    assert_eq!(health.status, 200, "{}", health.body);
    let metrics = request(s.addr, "GET", "/metrics", None, &[], None).unwrap();
    assert!(metric(&metrics.body, "yichuang_accept_errors_total") >= 1.0, "{}", metrics.body);
    assert!(metric(&metrics.body, "yichuang_connections_closed_total{reason=\"evicted\"}") >= 1.0);
    let log = s.stderr();
    let line = log.lines().find(|l| l.contains("cannot accept a connection")).unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("ERROR") && line.contains("Too many open files"), "{line}");
    drop(idle);
}

#[test]
fn when_every_connection_is_busy_a_new_one_is_refused_clearly() {
    let scratch = Scratch::new("all-busy");
    let s = server(&scratch.db(), &["--max-connections", "2"]);
    // Two event streams: requests in flight for as long as they run.
    let streams: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = connect(s.addr);
            write!(c, "GET /v1/stream HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {SUPERVISOR}\r\n\r\n").unwrap();
            let mut buf = [0u8; 512];
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let n = c.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
            c
        })
        .collect();
    let r = request(s.addr, "GET", "/healthz", None, &[], None).expect("an answer, not a hang");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.code(), "too_many_connections");
    assert!(r.body.contains("--max-connections") && r.body.contains('2'), "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["request_id"].as_str(), r.header("x-request-id"));
    std::thread::sleep(Duration::from_millis(100));
    assert!(s.stderr().contains("a connection was refused: every connection is busy"), "{}", s.stderr());
    drop(streams);
    // Once they are gone, the service answers again.
    std::thread::sleep(Duration::from_millis(300));
    expect(&request(s.addr, "GET", "/healthz", None, &[], None).unwrap(), 200);
}

#[test]
fn sigterm_with_a_stalled_client_stops_within_the_drain() {
    let scratch = Scratch::new("drain");
    let mut s = server(&scratch.db(), &["--shutdown-drain-ms", "500", "--body-timeout-ms", "600000"]);
    // A request in flight that never completes: headers sent, body never finished.
    let mut stalled = connect(s.addr);
    let head = format!(
        "POST /v1/cases HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {CLERK}\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n{{"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    // And one idle connection, which closes at once.
    let _idle = connect(s.addr);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    s.terminate();
    let code = s.wait_exit(Duration::from_secs(20)).expect("stopped within the drain");
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{}", s.stderr());
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    let log = s.stderr();
    assert!(log.contains("cut a connection still open at the end of the shutdown drain"), "{log}");
    assert!(log.contains("connections drained") && log.contains("cut=1"), "{log}");
    assert!(read_until_closed(&mut stalled, Duration::from_secs(5)).is_some(), "the stalled connection was closed");
}
