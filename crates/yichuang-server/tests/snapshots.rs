//! Snapshots (issue 18 part 4; docs/store.md, "Snapshots"): a service that stops stores a
//! snapshot of its state; the next start resumes from it (folding only the open cases and the
//! log after it) and answers exactly what a start that folds the whole log answers: every
//! case, finished ones with their tasks read back from the log, the reports, the timers. A
//! snapshot that does not match the log is not used, and the whole log is folded instead.
//! On SQLite, and on PostgreSQL when one answers.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::*;
use serde_json::{Value, json};
use yichuang_store::testing::ScratchSchema;

/// Cases in several states: closed (rated 5 and rated 1, which opens a ticket), delivered and
/// waiting for the rating, in approval, withdrawn. Returns their ids.
fn work(addr: SocketAddr) -> Vec<String> {
    let mut cases = Vec::new();
    for stars in [Some(5), Some(1), None] {
        let id = accepted_case(addr, "open-business", json!({"company-name": "示例公司"}));
        approve_all(addr, &id);
        let path = format!("/v1/cases/{id}/commands");
        expect(&post(addr, &path, DELIVERY, &json!({"command": "deliver", "method": "Window"})), 200);
        if let Some(stars) = stars {
            expect(&post(addr, &path, APPLICANT, &json!({"command": "rate", "stars": stars})), 200);
        }
        cases.push(id);
    }
    cases.push(accepted_case(addr, "open-business", json!({"company-name": "示例公司"})));
    let withdrawn = accepted_case(addr, "open-business", json!({"company-name": "示例公司"}));
    expect(&post(addr, &format!("/v1/cases/{withdrawn}/commands"), APPLICANT, &json!({"command": "withdraw"})), 200);
    cases.push(withdrawn);
    cases
}

/// What the service answers about its state: each case, the reports, the status.
fn answers(addr: SocketAddr, cases: &[String]) -> Vec<Value> {
    let mut out: Vec<Value> = cases.iter().map(|c| expect(&get(addr, &format!("/v1/cases/{c}"), CLERK), 200)).collect();
    for path in ["/v1/reports/four-lists", "/v1/kpis", "/v1/tickets", "/v1/board"] {
        out.push(expect(&get(addr, path, SUPERVISOR), 200));
    }
    out
}

fn clean_stop(mut s: Server) {
    s.terminate();
    assert_eq!(s.wait_exit(std::time::Duration::from_secs(30)), Some(Some(0)), "{}", s.stderr());
}

fn check(db: &Path, snapshots: &dyn Fn() -> Vec<u64>, damage: &dyn Fn()) {
    let every = ["--snapshot-every", "10"];
    let s = server(db, &every);
    let cases = work(s.addr);
    let before = answers(s.addr, &cases);
    assert!(before[0]["tasks"].as_array().is_some_and(|t| !t.is_empty()), "a closed case shows its tasks");
    let head = head(s.addr);
    clean_stop(s);
    let kept = snapshots();
    assert!(!kept.is_empty() && kept.len() <= 2, "the newest two snapshots are kept: {kept:?}");
    assert_eq!(kept.last(), Some(&head), "a clean stop snapshots the head");

    // From the snapshot.
    let s = server(db, &every);
    let stderr = s.stderr();
    assert!(
        stderr.contains(&format!("resumed_from_snapshot={head}")),
        "the start resumed from the snapshot:\n{stderr}"
    );
    assert_eq!(answers(s.addr, &cases), before, "the same answers after a start from the snapshot");
    // The delivered case can still be rated, and the log goes on.
    let path = format!("/v1/cases/{}/commands", cases[2]);
    expect(&post(s.addr, &path, APPLICANT, &json!({"command": "rate", "stars": 4})), 200);
    let after = answers(s.addr, &cases);
    // Killed: the events after the newest snapshot are folded at the next start.
    s.kill();
    let s = server(db, &every);
    assert_eq!(answers(s.addr, &cases), after, "the same answers after a kill -9");
    clean_stop(s);

    // A snapshot that does not match the log is not used: the whole log is folded.
    damage();
    let s = server(db, &every);
    let stderr = s.stderr();
    assert!(stderr.contains("the newest snapshot is not used"), "{stderr}");
    assert!(stderr.contains("resumed_from_snapshot=0"), "{stderr}");
    assert_eq!(answers(s.addr, &cases), after, "the same answers from the whole log");
    // A start without snapshots agrees too.
    s.stop();
    let s = server(db, &["--snapshot-every", "0"]);
    assert_eq!(answers(s.addr, &cases), after);
    s.stop();
}

#[test]
fn sqlite_starts_from_its_snapshot_and_refuses_one_that_does_not_match() {
    let dir = Scratch::new("snapshots");
    let db = dir.db();
    let positions = || -> Vec<u64> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn.prepare("SELECT position FROM snapshots ORDER BY position").unwrap();
        stmt.query_map([], |r| r.get::<_, i64>(0)).unwrap().map(|p| p.unwrap() as u64).collect()
    };
    let damage = || {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("UPDATE snapshots SET hash = zeroblob(32)", []).unwrap();
    };
    check(&db, &positions, &damage);
}

#[test]
fn postgres_starts_from_its_snapshot_and_refuses_one_that_does_not_match() {
    let Some(schema) = ScratchSchema::new("snapshots") else { return };
    let url = schema.url().to_owned();
    let positions = || -> Vec<u64> {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let rows = client.query("SELECT position FROM snapshots ORDER BY position", &[]).unwrap();
        rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect()
    };
    let damage = || schema.execute("UPDATE snapshots SET hash = decode(repeat('00', 32), 'hex')").unwrap();
    check(Path::new(&url), &positions, &damage);
}
