//! The start over a long log: the port listens at once, `/readyz` answers 503 with the
//! replay's progress until the log is checked and folded, `/healthz` says the process is alive
//! meanwhile, and every other route is 503 `not_ready` with Retry-After; then the service is
//! ready with every event. The old service did not listen at all during the replay.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use yichuang_core::{Actor, Applicant, Channel, Command, Ctx, Engine, Submission};
use yichuang_store::{Commit, EncodedEvent, EventStore, SqliteStore, StoredEvent};

/// Cases written straight into the database (submitted and accepted, a few events each).
const CASES: usize = 12_000;

/// Writes `cases` accepted cases into a new database through the real engine and store.
fn long_log(db: &std::path::Path, cases: usize) -> u64 {
    let def = Arc::new(definition().clone());
    let mut engine = Engine::new(Arc::clone(&def));
    let clerk = Actor::clerk("clerk-intake-1", "intake-1");
    let now = START.parse().unwrap();
    let ctx = Ctx { now, actor: &clerk };
    let bundle = def.bundle(def.bundle_ix("open-business").unwrap());
    let materials: Vec<_> = bundle
        .materials
        .iter()
        .map(|&(m, _)| def.material(m))
        .filter(|m| m.shared_source.is_none())
        .map(|m| m.id.clone())
        .collect();
    let mut store = SqliteStore::open(db).unwrap();
    store.verify(&mut |_| Ok(())).unwrap();
    let mut position = 0;
    let mut pending = Vec::new();
    for n in 0..cases {
        let submission = Submission {
            bundle: "open-business".into(),
            applicant: Applicant {
                id: format!("91000000MA{n:08}").as_str().into(),
                name: "张三".into(),
                credit_blocked: false,
            },
            channel: Channel::Window,
            materials: materials.clone().into(),
            answers: Default::default(),
            green_channel: false,
        };
        let (id, mut events) = engine.open(Command::Submit(Box::new(submission)), &ctx).unwrap();
        events.extend(engine.execute(id, Command::Accept, &ctx).unwrap());
        for record in events {
            position += 1;
            pending.push(StoredEvent { position, event: EncodedEvent::encode(record) });
        }
        if pending.len() >= 10_000 || n + 1 == cases {
            store.append(&[Commit { events: std::mem::take(&mut pending), idempotency: None }]).unwrap();
        }
    }
    position
}

#[test]
fn the_port_listens_during_the_replay_and_readyz_says_when_it_is_ready() {
    let scratch = Scratch::new("long-replay");
    let events = long_log(&scratch.db(), CASES);
    let s = match listening(server_command(&scratch.db(), &["--clock", START, "--log-format", "json"])) {
        Ok(s) => s,
        Err((code, stderr)) => panic!("{code:?}: {stderr}"),
    };
    let mut not_ready = Vec::new();
    let mut alive = Vec::new();
    let mut refused = None;
    let started = Instant::now();
    loop {
        let r = request(s.addr, "GET", "/readyz", None, &[], None).expect("the port answers during the replay");
        if r.status == 200 {
            break;
        }
        assert_eq!((r.status, r.code()), (503, "not_ready".to_owned()), "{}", r.body);
        not_ready.push(r.json()["error"]["message"].as_str().unwrap().to_owned());
        let health = request(s.addr, "GET", "/healthz", None, &[], None).unwrap();
        if health.json()["status"] == "replaying" {
            alive.push(health.json());
        }
        if refused.is_none() {
            let r = get(s.addr, "/v1/cases/C000001", CLERK);
            if r.status == 503 {
                refused = Some(r);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "ready within two minutes");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!not_ready.is_empty(), "the replay of {events} events was seen from outside");
    assert!(not_ready.iter().all(|m| m.contains(&format!("of {events} events"))), "{not_ready:?}");
    if let Some(h) = alive.first() {
        assert_eq!(h["of"], events, "{h}");
    }
    let refused = refused.expect("a route answered during the replay");
    assert_eq!(refused.code(), "not_ready", "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(refused.body.contains("/readyz"), "{}", refused.body);

    // Ready: every event is there, and the log says how long the replay took.
    assert_eq!(head(s.addr), events);
    expect(&get(s.addr, &format!("/v1/cases/C{CASES:06}"), CLERK), 200);
    // The line is written as the writer turns ready and read from the pipe by another thread:
    // on a busy machine it may arrive a moment after /readyz says 200.
    let line = |log: String| log.lines().find(|l| l.contains("log replayed and checked; ready")).map(str::to_owned);
    let waited = Instant::now();
    let ready = loop {
        match line(s.stderr()) {
            Some(l) => break l,
            None if waited.elapsed() < Duration::from_secs(10) => std::thread::sleep(Duration::from_millis(20)),
            None => panic!("no ready line: {}", s.stderr()),
        }
    };
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["events"], events);
    assert!(ready["replay_ms"].as_u64().is_some(), "{ready}");
    let metrics = request(s.addr, "GET", "/metrics", None, &[], None).unwrap();
    assert!(metrics.body.contains(&format!("yichuang_replay_events {events}")), "{}", metrics.body);
    assert!(metrics.body.contains("yichuang_ready 1"));
}
