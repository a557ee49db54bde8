//! Storage faults and crash points on the commit path (docs/testing.md), on the real binary,
//! with the store's failpoints armed through `FAILPOINTS` (test builds only;
//! `yichuang_store::failpoint`).
//!
//! - **Crash points**: the process aborts at a point of the commit path (before the
//!   transaction, between the idempotency row and the event rows, after an event row, before
//!   the head, before and after `COMMIT`, before the reply), at its first, second or fifth
//!   pass. After the restart every acknowledged command is in the log; the command that was in
//!   flight is there whole or not at all; its retry with the same `Idempotency-Key` has exactly
//!   one effect. `YICHUANG_FAILPOINT_CYCLES` repeats the whole round (default 1: 21 kills).
//! - **Storage faults**: a commit that fails as SQLite fails on a full disk or on a failed
//!   fsync is answered 503 and stores nothing; reads still answer; once the fault is gone the
//!   service writes again by itself, and the retry has one effect.
//! - **A real full disk**: the database on a 1 MiB tmpfs (where this machine lets the test
//!   mount one; otherwise it says so and passes without it, unless `YICHUANG_REQUIRE_TMPFS=1`).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use common::*;
use serde_json::{Value, json};
use yichuang_store::failpoint::COMMIT_PATH;
use yichuang_store::{EventStore, SqliteStore};

/// The log as the service checks it at start: position → (stream, seq, event name).
fn read_log(db: &Path) -> BTreeMap<u64, (String, u32, String)> {
    let def = std::sync::Arc::new(definition().clone());
    let mut engine = yichuang_core::Engine::new(def);
    let mut store = SqliteStore::open(db).unwrap_or_else(|e| panic!("the database opens: {e}"));
    let mut log = BTreeMap::new();
    store
        .verify(&mut |e| {
            let rec = e.event.record();
            log.insert(e.position, (rec.stream.to_string(), rec.seq, rec.event.name().to_owned()));
            engine.apply((e.position - 1) as usize, rec).map_err(|why| why.to_string())
        })
        .unwrap_or_else(|e| panic!("the log passes the start-up check: {e}"));
    log
}

fn started_with(db: &Path, failpoints: &str) -> Server {
    let mut command = server_command(db, &["--clock", START]);
    command.env("FAILPOINTS", failpoints);
    match ready(command) {
        Start::Running(s) => s,
        Start::Exited { code, stderr } => panic!("the server exited with {code:?}:\n{stderr}"),
    }
}

/// One command of the workload: path, token, body; every one carries an idempotency key.
#[derive(Clone, Debug)]
struct Step {
    path: String,
    token: String,
    body: Value,
    key: String,
}

/// The events a 2xx answer names: position → (stream, seq, event name).
fn answered(v: &Value) -> BTreeMap<u64, (String, u32, String)> {
    let name = |e: &Value| match e {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    v["events"]
        .as_array()
        .expect("an events list")
        .iter()
        .map(|e| {
            let at = e["position"].as_u64().expect("a position");
            (at, (e["stream"].as_str().unwrap().to_owned(), e["seq"].as_u64().unwrap() as u32, name(&e["event"])))
        })
        .collect()
}

/// Works whole cases, one command at a time, each with its key, until a request gets no
/// answer (the process died). Returns what was acknowledged and the step in flight.
fn work_until_crash(addr: SocketAddr, tag: &str, acked: &mut BTreeMap<u64, (String, u32, String)>) -> Option<Step> {
    for n in 0..50 {
        let applicant = format!("fp-{tag}-{n}");
        let mut steps = vec![Step {
            path: "/v1/cases".into(),
            token: CLERK.into(),
            body: submission("open-business", &applicant, json!({})),
            key: format!("{applicant}-submit"),
        }];
        let mut case = String::new();
        while let Some(step) = steps.pop() {
            let headers = [("idempotency-key", step.key.as_str())];
            let body = step.body.to_string();
            let Ok(r) = request(addr, "POST", &step.path, Some(&step.token), &headers, Some(body.as_bytes())) else {
                return Some(step);
            };
            assert!((200..300).contains(&r.status), "the workload was refused: {} {}", r.status, r.body);
            let v = r.json();
            acked.extend(answered(&v));
            if case.is_empty() {
                case = v["id"].as_str().unwrap().to_owned();
                let path = format!("/v1/cases/{case}/commands");
                steps.push(Step {
                    path,
                    token: CLERK.into(),
                    body: json!({"command": "accept"}),
                    key: format!("{case}-a"),
                });
                continue;
            }
            for e in v["events"].as_array().unwrap() {
                if let Some(item) = e["event"]["TaskReady"]["item"].as_str() {
                    let path = format!("/v1/cases/{case}/tasks/{item}/commands");
                    let deciders = deciders(item);
                    for (i, d) in deciders.iter().enumerate().rev() {
                        let key = format!("{case}-{item}-approve-{i}");
                        steps.push(Step {
                            path: path.clone(),
                            token: reviewer(d),
                            body: json!({"command": "approve"}),
                            key,
                        });
                    }
                    let key = format!("{case}-{item}-claim");
                    steps.push(Step { path, token: reviewer(&deciders[0]), body: json!({"command": "claim"}), key });
                }
            }
        }
    }
    None
}

fn send(addr: SocketAddr, step: &Step) -> Response {
    let headers = [("idempotency-key", step.key.as_str())];
    let body = step.body.to_string();
    request(addr, "POST", &step.path, Some(&step.token), &headers, Some(body.as_bytes())).expect("an answer")
}

#[test]
fn a_crash_at_any_point_of_the_commit_path_loses_nothing_acknowledged() {
    let rounds: usize = std::env::var("YICHUANG_FAILPOINT_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let scratch = Scratch::new("crash-points");
    let (mut kills, mut committed_in_flight) = (0, 0);
    for round in 0..rounds {
        for point in COMMIT_PATH {
            for pass in [1, 2, 5] {
                let armed = if pass == 1 {
                    format!("{point}=return(crash)")
                } else {
                    format!("{point}={}*off->return(crash)", pass - 1)
                };
                let mut s = started_with(&scratch.db(), &armed);
                let before = head(s.addr);
                let mut acked = BTreeMap::new();
                let tag = format!("{round}-{}-{pass}", point.replace("::", "-"));
                let in_flight = work_until_crash(s.addr, &tag, &mut acked)
                    .unwrap_or_else(|| panic!("{armed}: the process never reached the point"));
                let exit = s.wait_exit(std::time::Duration::from_secs(20));
                assert!(exit.is_some(), "{armed}: the process did not die");
                assert!(s.stderr().contains("failpoint"), "{armed}: died elsewhere:\n{}", s.stderr());
                kills += 1;

                // Everything acknowledged is in the log, at the position the answer named.
                let log = read_log(&scratch.db());
                for (position, event) in &acked {
                    assert_eq!(log.get(position), Some(event), "{armed}: an acknowledged event is missing");
                }
                let acked_head = acked.keys().max().copied().unwrap_or(before);
                let crashed_head = log.len() as u64;

                // The command in flight is there whole or not at all, and its retry has one
                // effect: the stored answer if it was committed, else one execution.
                let s = server(&scratch.db(), &[]);
                assert_eq!(head(s.addr), crashed_head);
                let r = send(s.addr, &in_flight);
                assert!((200..300).contains(&r.status), "{armed}: the retry: {} {}", r.status, r.body);
                let events = answered(&r.json());
                let first = *events.keys().min().expect("the command recorded events");
                assert_eq!(first, acked_head + 1, "{armed}: the command's events follow the last acknowledged");
                if crashed_head > acked_head {
                    committed_in_flight += 1;
                    assert_eq!(r.header("idempotent-replayed"), Some("true"), "{armed}: a committed command ran again");
                    let stored: BTreeMap<_, _> = log.range(acked_head + 1..).map(|(k, v)| (*k, v.clone())).collect();
                    assert_eq!(events, stored, "{armed}: the stored command is whole");
                } else {
                    assert_eq!(r.header("idempotent-replayed"), None, "{armed}: nothing was stored, so it runs");
                }
                let again = send(s.addr, &in_flight);
                assert_eq!(again.header("idempotent-replayed"), Some("true"));
                assert_eq!(head(s.addr), *events.keys().max().unwrap(), "{armed}: one effect");
                s.stop();
            }
        }
    }
    println!(
        "crash points: {kills} kills at {} points of the commit path; {committed_in_flight} in-flight commands \
         were already committed (their retry answered from the store), the others ran once on retry",
        COMMIT_PATH.len()
    );
    assert!(kills >= 21);
    assert!(committed_in_flight > 0, "some kills came after COMMIT");
}

fn injected_faults_answer_503_and_resume(action: &str) {
    let scratch = Scratch::new(&format!("fault-{action}"));
    // The first commit passes, the next three fail, then the fault is gone.
    let armed = format!("sqlite::write::before_commit=1*off->3*return({action})");
    let s = started_with(&scratch.db(), &armed);
    let case = {
        let r = post_key(
            s.addr,
            "/v1/cases",
            CLERK,
            "first",
            &submission("open-restaurant", APPLICANT_ID, json!({"sells-tobacco": "否"})),
        );
        expect(&r, 201)["id"].as_str().unwrap().to_owned()
    };
    let head_before = head(s.addr);
    let accept = json!({"command": "accept"});
    let path = format!("/v1/cases/{case}/commands");
    for attempt in 0..3 {
        let r = post_key(s.addr, &path, CLERK, "accept-1", &accept);
        assert_eq!(r.status, 503, "attempt {attempt} under {action}: {}", r.body);
        assert!(r.body.contains("retry"), "the 503 says to retry: {}", r.body);
        // Reads still answer, from the state the log holds.
        let c = expect(&get(s.addr, &format!("/v1/cases/{case}"), CLERK), 200);
        assert_eq!(c["state"], "Received", "the refused batch left no trace in the state");
        assert_eq!(head(s.addr), head_before, "nothing of the failed batch was stored");
        expect(&get(s.addr, &format!("/v1/cases/{case}/events"), CLERK), 200);
    }
    // The fault is gone: the same request, with the same key, now runs, once.
    let r = post_key(s.addr, &path, CLERK, "accept-1", &accept);
    assert_eq!(expect(&r, 200)["state"], "InApproval");
    assert_eq!(r.header("idempotent-replayed"), None);
    let r = post_key(s.addr, &path, CLERK, "accept-1", &accept);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    let metrics = request(s.addr, "GET", "/metrics", None, &[], None).unwrap().body;
    assert!(metrics.lines().any(|l| l.starts_with("yichuang_commit_failures_total 3")), "three failed commits counted");
    let head_after = head(s.addr);
    s.stop();
    assert_eq!(read_log(&scratch.db()).len() as u64, head_after, "the log holds what was answered");
}

#[test]
fn a_full_disk_answers_503_keeps_reads_and_resumes_by_itself() {
    injected_faults_answer_503_and_resume("full");
}

#[test]
fn a_failed_fsync_answers_503_keeps_reads_and_resumes_by_itself() {
    injected_faults_answer_503_and_resume("fsync");
}

/// A really full file system: a 1 MiB tmpfs (root can mount one here).
#[test]
fn a_really_full_tmpfs_answers_503_and_resumes_when_space_returns() {
    let scratch = Scratch::new("tmpfs");
    let mount = scratch.0.join("disk");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mount)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var("YICHUANG_REQUIRE_TMPFS").is_err(),
            "YICHUANG_REQUIRE_TMPFS=1 but tmpfs cannot be mounted"
        );
        println!("a_really_full_tmpfs: cannot mount a tmpfs here (not root?); the injected faults above stand in");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mount);
    let db = mount.join("hall.db");
    let s = server(&db, &[]);
    // Leave little room: a filler file takes most of the space.
    let filler = mount.join("filler");
    std::fs::write(&filler, vec![0u8; 700 * 1024]).expect("the filler fits");
    let mut acked = BTreeMap::new();
    let mut refused = None;
    for n in 0..2000 {
        let body = submission("open-business", &format!("full-{n}"), json!({}));
        let r = post_key(s.addr, "/v1/cases", CLERK, &format!("full-{n}"), &body);
        match r.status {
            201 => acked.extend(answered(&r.json())),
            503 => {
                refused = Some((n, body));
                break;
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    let (n, body) = refused.expect("the disk filled up");
    assert!(!acked.is_empty(), "some cases fit");
    // Reads answer while the disk is full.
    expect(&get(s.addr, "/v1/cases/C000001", CLERK), 200);
    expect(&get(s.addr, "/v1/events?limit=5", CLERK), 200);
    let r = post_key(s.addr, "/v1/cases", CLERK, &format!("full-{n}"), &body);
    assert_eq!(r.status, 503, "still full: {}", r.body);
    // Space returns; the service writes again by itself, and the retry has one effect.
    std::fs::remove_file(&filler).unwrap();
    let r = post_key(s.addr, "/v1/cases", CLERK, &format!("full-{n}"), &body);
    let v = expect(&r, 201);
    assert_eq!(r.header("idempotent-replayed"), None);
    acked.extend(answered(&v));
    let r = post_key(s.addr, "/v1/cases", CLERK, &format!("full-{n}"), &body);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    let head_now = head(s.addr);
    s.stop();
    let log = read_log(&db);
    assert_eq!(log.len() as u64, head_now);
    for (position, event) in &acked {
        assert_eq!(log.get(position), Some(event), "an acknowledged event is missing after the full disk");
    }
    println!("tmpfs: {} cases fitted in 1 MiB beside the filler; the next was 503 until space returned", n);
}
