//! Crash test: the real server under concurrent writes is killed with SIGKILL (kill -9) at a
//! random moment, again and again on the same database. After every kill, every event of every
//! acknowledged (2xx) command must be in the log at the position the answer named, and the log
//! must pass the integrity check the service runs at start (shape, then every event legal in
//! order through `Engine::apply`); the next cycle then restarts the server on it.
//!
//! `YICHUANG_CRASH_CYCLES` sets the number of cycles (default 20), `YICHUANG_CRASH_SEED` the
//! seed of the kill moments (printed, to reproduce a failure).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use yichuang_store::{EventStore, SqliteStore};

const CYCLES_DEFAULT: usize = 20;
const WRITERS: usize = 8;

/// One acknowledged event: position → (stream, seq, event name).
type Acked = BTreeMap<u64, (String, u64, String)>;

fn event_name(event: &Value) -> String {
    match event {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// Works whole cases until the server dies or `stop` is set; records what was acknowledged.
fn write_until_killed(addr: SocketAddr, writer: usize, cycle: usize, stop: &AtomicBool, acked: &Mutex<(Acked, u64)>) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let applicant = format!("crash-{cycle}-{writer}-{n}");
        let mut steps: Vec<(String, String, Value)> =
            vec![("/v1/cases".into(), CLERK.into(), submission("open-business", &applicant, json!({})))];
        let mut case = String::new();
        while let Some((path, token, body)) = steps.pop() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            // Every other command carries a key, so that replays are exercised across crashes.
            let key = format!("{applicant}-{path}-{}", body["command"].as_str().unwrap_or("submit"));
            let headers: Vec<(&str, &str)> = if n % 2 == 0 { vec![("idempotency-key", &key)] } else { vec![] };
            let Ok(r) = request(addr, "POST", &path, Some(&token), &headers, Some(body.to_string().as_bytes())) else {
                return; // The server is gone: this request was not acknowledged.
            };
            if !(200..300).contains(&r.status) {
                panic!("a command of the workload was refused: {} {}", r.status, r.body);
            }
            let v = r.json();
            {
                let mut guard = acked.lock().unwrap();
                guard.1 += 1;
                for e in v["events"].as_array().unwrap() {
                    let entry =
                        (e["stream"].as_str().unwrap().to_owned(), e["seq"].as_u64().unwrap(), event_name(&e["event"]));
                    guard.0.insert(e["position"].as_u64().unwrap(), entry);
                }
            }
            if case.is_empty() {
                case = v["id"].as_str().unwrap().to_owned();
                steps.push((format!("/v1/cases/{case}/commands"), CLERK.into(), json!({"command": "accept"})));
                continue;
            }
            for e in v["events"].as_array().unwrap() {
                if let Some(item) = e["event"]["TaskReady"]["item"].as_str() {
                    let path = format!("/v1/cases/{case}/tasks/{item}/commands");
                    let deciders = deciders(item);
                    for d in deciders.iter().rev() {
                        steps.push((path.clone(), reviewer(d), json!({"command": "approve"})));
                    }
                    steps.push((path, reviewer(&deciders[0]), json!({"command": "claim"})));
                }
                if e["event"].get("CaseDecided").is_some() {
                    let path = format!("/v1/cases/{case}/commands");
                    steps.push((path.clone(), DELIVERY.into(), json!({"command": "rate", "stars": 5})));
                    steps.push((path, DELIVERY.into(), json!({"command": "deliver", "method": "Window"})));
                }
            }
        }
    }
}

/// Reads the log as the service does at start; returns position → (stream, seq, name).
fn read_log(db: &std::path::Path) -> Result<Acked, String> {
    let def = Arc::new(definition().clone());
    let mut engine = yichuang_core::Engine::new(def);
    let mut store = SqliteStore::open(db).map_err(|e| e.to_string())?;
    let mut log = Acked::new();
    store
        .verify(&mut |e| {
            let rec = e.event.record();
            log.insert(e.position, (rec.stream.to_string(), u64::from(rec.seq), rec.event.name().to_owned()));
            engine.apply((e.position - 1) as usize, rec).map_err(|why| why.to_string())
        })
        .map_err(|e| e.to_string())?;
    Ok(log)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn acknowledged_commands_survive_kill_9() {
    let cycles = std::env::var("YICHUANG_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(CYCLES_DEFAULT);
    let seed = std::env::var("YICHUANG_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("crash test: {cycles} cycles, YICHUANG_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let scratch = Scratch::new("crash");
    let (mut commands, mut events, mut lost) = (0u64, 0u64, 0u64);
    let mut log_len = 0;
    for cycle in 0..cycles {
        let s = server(&scratch.db(), &[]);
        let stop = AtomicBool::new(false);
        let acked = Mutex::new((Acked::new(), 0u64));
        let kill_after = Duration::from_millis(60 + rng.below(300));
        std::thread::scope(|scope| {
            for w in 0..WRITERS {
                let (stop, acked, addr) = (&stop, &acked, s.addr);
                scope.spawn(move || write_until_killed(addr, w, cycle, stop, acked));
            }
            std::thread::sleep(kill_after);
            s.kill();
            stop.store(true, Ordering::Relaxed);
        });
        let (acked, acked_commands) = acked.into_inner().unwrap();
        let log =
            read_log(&scratch.db()).unwrap_or_else(|e| panic!("cycle {cycle}: the log is refused after kill -9: {e}"));
        for (position, expected) in &acked {
            if log.get(position) != Some(expected) {
                lost += 1;
                eprintln!(
                    "cycle {cycle}: acknowledged event at {position} {expected:?} is {:?} in the log",
                    log.get(position)
                );
            }
        }
        assert!(log.len() >= log_len, "the log never shrinks");
        log_len = log.len();
        commands += acked_commands;
        events += acked.len() as u64;
    }
    // The service starts on the final log, and agrees about its head.
    let s = server(&scratch.db(), &[]);
    assert_eq!(head(s.addr), log_len as u64);
    println!(
        "crash test: {cycles} kill -9 cycles, {commands} acknowledged commands ({events} events), {lost} lost; \
         the log of {log_len} events passes the integrity check and replays"
    );
    assert_eq!(lost, 0, "acknowledged events were lost");
    assert!(commands > 0, "the workload ran");
}
