//! Several instances of the service on one PostgreSQL database (issue 18 part 2; the design is in
//! docs/scaling.md): three real server processes on one scratch schema, and
//!
//! - 32 writers racing on the same cases through two of them, with `expected_version`: no lost
//!   update (no two successes decided on the same version of a case), the losers get 409, every
//!   acknowledged event is in the log, and an SSE client on the third sees every event in order;
//! - kill -9 of one instance under load: every acknowledged command is in the log, and the timers
//!   of its cases are fired by the survivors exactly once (the counts are printed);
//! - an instance stopped with SIGSTOP while it holds the write lock (inside a decision), past its
//!   lease: the others go on, and once resumed it appends nothing it decided before the stop.
//!
//! Skipped with one line when no PostgreSQL answers (never in CI: `YICHUANG_REQUIRE_POSTGRES`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use yichuang_store::testing::ScratchSchema;
use yichuang_store::{EventStore, PostgresStore};

/// A tiny deterministic generator (the tests need spread, not randomness).
struct Spread(u64);

impl Spread {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn instance(url: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--timer-interval-ms", "50"];
    args.extend_from_slice(extra);
    server(url, &args)
}

/// Every event in the database: position → body with its position, as the API shows it.
fn log_rows(url: &str) -> BTreeMap<u64, Value> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    client
        .query("SELECT position, body FROM events ORDER BY position", &[])
        .expect("read the events")
        .iter()
        .map(|r| {
            let position = r.get::<_, i64>(0) as u64;
            let mut body: Value = serde_json::from_str(r.get::<_, &str>(1)).expect("a body is JSON");
            body.as_object_mut().unwrap().insert("position".into(), json!(position));
            (position, body)
        })
        .collect()
}

/// The log passes the check a starting instance makes: shape, hash chain, every event legal in
/// order.
fn assert_log_verifies(url: &str) -> u64 {
    let mut store = PostgresStore::open_read_only(url).expect("open for an audit");
    let mut engine = yichuang_core::Engine::new(Arc::new(definition().clone()));
    let summary = store
        .verify(&mut |e| engine.apply(e.position as usize - 1, e.event.record()).map_err(|e| e.to_string()))
        .expect("the log written by several instances verifies");
    summary.events
}

/// The events of an answer, by position.
fn answered_events(body: &Value) -> Vec<(u64, Value)> {
    body["events"]
        .as_array()
        .map(|a| a.iter().map(|e| (e["position"].as_u64().unwrap(), e.clone())).collect())
        .unwrap_or_default()
}

/// Asserts that every acknowledged event is in the log at its position, byte for byte as
/// answered; returns how many were checked.
fn assert_acknowledged_present(acked: &[(u64, Value)], rows: &BTreeMap<u64, Value>) -> usize {
    for (position, event) in acked {
        assert_eq!(rows.get(position), Some(event), "acknowledged event at position {position} is in the log");
    }
    acked.len()
}

/// An SSE client collecting `(id, data)` pairs from `GET /v1/stream?after=0`.
struct SseClient {
    got: Arc<Mutex<Vec<(u64, Value)>>>,
    stop: Arc<AtomicBool>,
}

impl SseClient {
    fn open(addr: SocketAddr) -> SseClient {
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, flag) = (Arc::clone(&got), Arc::clone(&stop));
        let mut stream = TcpStream::connect(addr).expect("connect for the stream");
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        write!(
            stream,
            "GET /v1/stream?after=0 HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {SUPERVISOR}\r\naccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut id = None;
            let mut line = String::new();
            while !flag.load(Ordering::Relaxed) {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => continue,
                }
                let text = line.trim_end();
                if let Some(v) = text.strip_prefix("id: ") {
                    id = v.parse::<u64>().ok();
                } else if let Some(data) = text.strip_prefix("data: ") {
                    let position = id.take().expect("an SSE event has its id before its data");
                    sink.lock().unwrap().push((position, serde_json::from_str(data).expect("SSE data is JSON")));
                }
            }
        });
        SseClient { got, stop }
    }

    /// Waits until the client has seen position `head`; returns what it saw.
    fn until(&self, head: u64, limit: Duration) -> Vec<(u64, Value)> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.last().is_some_and(|(p, _)| *p >= head) || Instant::now() > deadline {
                self.stop.store(true, Ordering::Relaxed);
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One answer of the race: the case, the version decided on, the status and the answer.
struct Raced {
    case: String,
    expected: u64,
    status: u16,
    code: String,
    body: Value,
}

#[test]
fn three_instances_thirty_two_writers_on_the_same_cases() {
    let Some(schema) = ScratchSchema::new("instances") else { return };
    let url = Path::new(schema.url());
    let (a, b, c) = (instance(url, &[]), instance(url, &[]), instance(url, &[]));
    let sse = SseClient::open(c.addr);
    let writers_at = [a.addr, b.addr];
    let everywhere = [a.addr, b.addr, c.addr];
    let cases: Vec<String> = (0..4).map(|i| accepted_case(writers_at[i % 2], "open-business", json!({}))).collect();
    let raced: Mutex<Vec<Raced>> = Mutex::new(Vec::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    std::thread::scope(|scope| {
        for w in 0..32 {
            let (cases, raced) = (&cases, &raced);
            scope.spawn(move || {
                let mut spread = Spread(0x9E37_79B9_7F4A_7C15 ^ ((w as u64 + 1) * 0x2545_F491));
                let mut done = BTreeSet::new();
                while done.len() < cases.len() {
                    assert!(Instant::now() < deadline, "the cases were not decided in time");
                    let case = &cases[spread.next(cases.len())];
                    let read = expect(&get(everywhere[spread.next(3)], &format!("/v1/cases/{case}"), CLERK), 200);
                    if read["state"] != "InApproval" {
                        done.insert(case.clone());
                        continue;
                    }
                    let version = read["version"].as_u64().unwrap();
                    let tasks: Vec<&Value> = read["tasks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|t| t["state"] == "Ready" || t["state"] == "InReview")
                        .collect();
                    if tasks.is_empty() {
                        continue;
                    }
                    let task = tasks[spread.next(tasks.len())];
                    let item = task["item"].as_str().unwrap();
                    let deciders = deciders(item);
                    let (token, command) = if task["state"] == "Ready" {
                        (reviewer(&deciders[0]), "claim")
                    } else {
                        (reviewer(&deciders[spread.next(deciders.len())]), "approve")
                    };
                    let r = post(
                        writers_at[spread.next(2)],
                        &format!("/v1/cases/{case}/tasks/{item}/commands"),
                        &token,
                        &json!({"command": command, "expected_version": version}),
                    );
                    let code = if r.status >= 400 { r.code() } else { String::new() };
                    assert!(r.status < 500, "no command fails: {} {}", r.status, r.body);
                    let body = r.json();
                    raced.lock().unwrap().push(Raced {
                        case: case.clone(),
                        expected: version,
                        status: r.status,
                        code,
                        body,
                    });
                }
            });
        }
    });
    let raced = raced.into_inner().unwrap();
    // No lost update: at most one success per version of a case, and each success moved the
    // case on from exactly the version it was decided on.
    let mut decided_on: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut acked = Vec::new();
    for r in raced.iter().filter(|r| r.status == 200) {
        assert!(decided_on.insert((r.case.clone(), r.expected)), "two successes on {} version {}", r.case, r.expected);
        let events = answered_events(&r.body);
        assert_eq!(
            r.body["version"].as_u64().unwrap(),
            r.expected + events.iter().filter(|(_, e)| e["stream"] == r.case).count() as u64
        );
        acked.extend(events);
    }
    let conflicts = raced.iter().filter(|r| r.status == 409 && r.code == "version_conflict").count();
    let successes = decided_on.len();
    assert!(conflicts > 0, "32 writers on 4 cases lost some races");
    let rows = log_rows(schema.url());
    let present = assert_acknowledged_present(&acked, &rows);
    let head = assert_log_verifies(schema.url());
    assert_eq!(head, *rows.keys().last().unwrap());
    // The stream on C carries every event, A's and B's, in log order and as stored.
    let streamed = sse.until(head, Duration::from_secs(30));
    let positions: Vec<u64> = streamed.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=head).collect::<Vec<_>>(), "the stream on C is the whole log in order");
    for (p, data) in &streamed {
        assert_eq!(Some(data), rows.get(p), "streamed event {p} as stored");
    }
    for case in &cases {
        let state = expect(&get(c.addr, &format!("/v1/cases/{case}"), CLERK), 200)["state"].clone();
        assert_eq!(state, "ReadyForDelivery", "{case} decided");
    }
    // An idempotency key holds across instances: the repeat on another instance is answered
    // from the record and appends nothing.
    let deliver = json!({"command": "deliver", "method": "Window"});
    let path = format!("/v1/cases/{}/commands", cases[0]);
    let first = post_key(a.addr, &path, DELIVERY, "across-instances", &deliver);
    assert_eq!(first.status, 200, "{}", first.body);
    let head_after = common::head(a.addr);
    let repeat = post_key(b.addr, &path, DELIVERY, "across-instances", &deliver);
    assert_eq!((repeat.status, repeat.body), (first.status, first.body), "the repeat on B is A's answer");
    assert_eq!(common::head(b.addr), head_after, "the repeat appended nothing");
    println!(
        "3 instances, 32 writers, 4 cases: {} commands answered, {successes} succeeded, {conflicts} lost the race \
         (409 version_conflict), {} refused by the rules; {present} acknowledged events present of {head} in the \
         log; the stream on the third instance delivered {} events in order",
        raced.len(),
        raced.len() - successes - conflicts,
        streamed.len()
    );
}

/// Submits (and every other time accepts) cases through `addr` until `stop`; records every
/// acknowledged event and the cases opened.
fn submit_until(
    addr: SocketAddr,
    tag: &str,
    stop: &AtomicBool,
    acked: &Mutex<Vec<(u64, Value)>>,
    opened: &Mutex<Vec<String>>,
) -> u64 {
    let mut failed = 0;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let body = submission("open-business", &format!("{tag}-{n}"), json!({}));
        let Ok(r) = request(addr, "POST", "/v1/cases", Some(CLERK), &[], Some(body.to_string().as_bytes())) else {
            return failed; // The instance is gone: not acknowledged.
        };
        if r.status == 503 {
            failed += 1;
            continue;
        }
        let v = expect(&r, 201);
        let case = v["id"].as_str().unwrap().to_owned();
        acked.lock().unwrap().extend(answered_events(&v));
        opened.lock().unwrap().push(case.clone());
        if n % 2 == 0 {
            let path = format!("/v1/cases/{case}/commands");
            let Ok(r) = request(addr, "POST", &path, Some(CLERK), &[], Some(br#"{"command":"accept"}"#)) else {
                return failed;
            };
            if r.status == 503 {
                failed += 1;
                continue;
            }
            acked.lock().unwrap().extend(answered_events(&expect(&r, 200)));
        }
    }
    failed
}

/// Timer events in the log (recorded by the system actor), by stream.
fn timer_events(rows: &BTreeMap<u64, Value>) -> Vec<(String, Value)> {
    rows.values()
        .filter(|e| e["by"]["role"] == "System")
        .map(|e| (e["stream"].as_str().unwrap().to_owned(), e["event"].clone()))
        .collect()
}

#[test]
fn an_instance_killed_under_load_loses_nothing_and_its_timers_fire_once_elsewhere() {
    let Some(schema) = ScratchSchema::new("kill") else { return };
    let url = Path::new(schema.url());
    let (a, b, c) = (instance(url, &[]), instance(url, &[]), instance(url, &[]));
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Vec::new());
    let opened_on = [Mutex::new(Vec::new()), Mutex::new(Vec::new()), Mutex::new(Vec::new())];
    let a_acks = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for (i, addr) in [a.addr, b.addr, c.addr].into_iter().enumerate() {
            for w in 0..4 {
                let (stop, acked, opened) = (&stop, &acked, &opened_on[i]);
                scope.spawn(move || submit_until(addr, &format!("kill-{i}-{w}"), stop, acked, opened));
            }
        }
        // Kill A once it has acknowledged some work, while all three are busy.
        let started = Instant::now();
        while opened_on[0].lock().unwrap().len() < 12 {
            assert!(started.elapsed() < Duration::from_secs(60), "A acknowledged work");
            std::thread::sleep(Duration::from_millis(10));
        }
        a_acks.store(opened_on[0].lock().unwrap().len() as u64, Ordering::Relaxed);
        a.kill();
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
    });
    let acked = acked.into_inner().unwrap();
    let rows = log_rows(schema.url());
    let present = assert_acknowledged_present(&acked, &rows);
    assert!(timer_events(&rows).is_empty(), "the clocks have not moved yet");
    // The survivors' clocks move 45 days on: B fires every timer, A's cases' included.
    let later = "2026-06-15T09:30";
    expect(&post(b.addr, "/v1/clock", ADMIN, &json!({"now": later})), 200);
    let head_b = head(b.addr);
    let deadline = Instant::now() + Duration::from_secs(30);
    while head(c.addr) < head_b {
        assert!(Instant::now() < deadline, "C caught up with B");
        std::thread::sleep(Duration::from_millis(50));
    }
    // C moves its clock to the same time: everything due has fired already; nothing fires twice.
    expect(&post(c.addr, "/v1/clock", ADMIN, &json!({"now": later})), 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(head(c.addr), head_b, "nothing was due any more");
    assert_eq!(head(b.addr), head_b);
    let rows = log_rows(schema.url());
    let timers = timer_events(&rows);
    let mut seen = BTreeSet::new();
    let duplicates = timers.iter().filter(|(s, e)| !seen.insert((s.clone(), e.to_string()))).count();
    let a_cases: Vec<String> = opened_on[0].lock().unwrap().clone();
    let on_a = timers.iter().filter(|(s, _)| a_cases.contains(s)).count();
    for case in &a_cases {
        assert!(timers.iter().any(|(s, _)| s == case), "a timer of {case} (opened on the killed instance) fired");
    }
    assert_eq!(duplicates, 0, "no timer fired twice");
    assert_log_verifies(schema.url());
    println!(
        "kill -9 under load: acknowledged {} events ({} cases opened on the killed instance), present {present}; \
         timers fired {} events, {on_a} of them on the killed instance's cases; duplicates {duplicates}",
        acked.len(),
        a_cases.len(),
        timers.len()
    );
}

fn signal(server: &Server, name: &str) {
    let status = std::process::Command::new("kill").arg(format!("-{name}")).arg(server.pid().to_string()).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -{name}");
}

/// The server process of `pid` that holds the write lock inside an open transaction (deciding).
fn holds_the_lock(admin: &mut postgres::Client, pid: u32) -> Option<i32> {
    admin
        .query_opt(
            "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid \
             WHERE a.application_name LIKE $1 AND l.locktype = 'advisory' AND l.granted \
             AND a.state LIKE 'idle in transaction%' LIMIT 1",
            &[&format!("yichuang pid {pid} %")],
        )
        .expect("pg_stat_activity")
        .map(|r| r.get(0))
}

#[test]
fn an_instance_stopped_inside_a_decision_appends_nothing_stale() {
    let Some(schema) = ScratchSchema::new("sigstop") else { return };
    // A's lease: PostgreSQL ends its session 1 s after it last spoke inside a transaction.
    let leased = format!("{}%20-cidle_in_transaction_session_timeout%3D1000", schema.url());
    let a = instance(Path::new(&leased), &[]);
    let b = instance(Path::new(schema.url()), &[]);
    let mut admin = postgres::Client::connect(schema.url(), postgres::NoTls).unwrap();
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Vec::new());
    let (opened_a, opened_b) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
    let (mut failed_a, mut b_went_on, mut backend_ended) = (0, false, false);
    std::thread::scope(|scope| {
        let mut writers = Vec::new();
        for w in 0..4 {
            let (stop, acked, opened_a, opened_b) = (&stop, &acked, &opened_a, &opened_b);
            let (aa, ba) = (a.addr, b.addr);
            writers.push((true, scope.spawn(move || submit_until(aa, &format!("stop-a-{w}"), stop, acked, opened_a))));
            writers.push((false, scope.spawn(move || submit_until(ba, &format!("stop-b-{w}"), stop, acked, opened_b))));
        }
        // Stop A at a moment it holds the write lock between two statements of a batch.
        let started = Instant::now();
        let backend = loop {
            assert!(started.elapsed() < Duration::from_secs(60), "A was caught inside a decision");
            if holds_the_lock(&mut admin, a.pid()).is_none() {
                continue;
            }
            signal(&a, "STOP");
            match holds_the_lock(&mut admin, a.pid()) {
                Some(backend) => break backend,
                None => signal(&a, "CONT"),
            }
        };
        // B goes on once A's lease is over, and PostgreSQL has ended A's session.
        let b_before = opened_b.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(2500));
        b_went_on = opened_b.lock().unwrap().len() > b_before;
        backend_ended =
            admin.query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&backend]).unwrap().is_none();
        signal(&a, "CONT");
        std::thread::sleep(Duration::from_millis(1000));
        stop.store(true, Ordering::Relaxed);
        for (on_a, w) in writers {
            let failed = w.join().unwrap();
            if on_a {
                failed_a += failed;
            }
        }
    });
    assert!(b_went_on, "B appended while A was stopped holding the lock");
    assert!(backend_ended, "PostgreSQL ended the stopped instance's session after its lease");
    assert!(failed_a >= 1, "the batch A decided before it was stopped was answered 503, not appended");
    let acked = acked.into_inner().unwrap();
    let rows = log_rows(schema.url());
    let present = assert_acknowledged_present(&acked, &rows);
    let head = assert_log_verifies(schema.url());
    // A serves again, on the latest state.
    let case = accepted_case(a.addr, "open-business", json!({}));
    assert_eq!(expect(&get(b.addr, &format!("/v1/cases/{case}"), CLERK), 200)["state"], "InApproval");
    println!(
        "SIGSTOP inside a decision: A's batch answered 503 ({failed_a} commands), B went on meanwhile; {present} \
         acknowledged events present of {head}; nothing of the stopped batch in the log"
    );
}
