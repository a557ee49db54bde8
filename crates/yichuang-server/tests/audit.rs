//! The service as an auditor and an operator meet it: one writer per database (two real server
//! processes), the hash chain checked at start, `GET /v1/audit/head`, signed checkpoints, an
//! online backup under write load and its restore, and the service on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use yichuang_store::checkpoint::{VerifyingKey, read_checkpoints, read_verifying_key};
use yichuang_store::testing::ScratchSchema;
use yichuang_store::{EventLog, EventStore, SqliteStore};

/// A key pair made by `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` (a test
/// key: it shows that the service reads the files openssl writes).
const PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIO690PbKRAcQVgkhV5asvbDvPdCFCiItgfEtrDXm+AHZ
-----END PRIVATE KEY-----
";
const PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEABQfc/i0B0JJ87dbAZNLFqMAjfNJq8AqZ6dCiA0lDiDQ=
-----END PUBLIC KEY-----
";

fn restaurant_answers() -> Value {
    json!({"company-name": "张三餐饮", "food-business-type": "热食类食品制售", "sells-tobacco": "否"})
}

#[test]
fn a_second_server_on_the_same_file_is_refused_naming_the_first() {
    let scratch = Scratch::new("two-writers");
    let first = server(&scratch.db(), &[]);
    accepted_case(first.addr, "open-restaurant", restaurant_answers());
    match start(&scratch.db(), &["--clock", START]) {
        Start::Exited { code, stderr } => {
            assert_eq!(code, Some(3), "{stderr}");
            assert!(stderr.contains("is held for writing by process "), "{stderr}");
            assert!(stderr.contains("one database has one writer"), "{stderr}");
        }
        Start::Running(_) => panic!("a second writer started on the same file"),
    }
    // The first is unharmed, and after it dies (kill -9) the lock is gone with it.
    let head = head(first.addr);
    assert!(head > 0);
    first.kill();
    let second = server(&scratch.db(), &[]);
    assert_eq!(common::head(second.addr), head);
}

#[test]
fn a_database_edited_behind_the_service_is_refused_at_start_with_the_position() {
    let scratch = Scratch::new("edited");
    let s = server(&scratch.db(), &[]);
    accepted_case(s.addr, "open-restaurant", restaurant_answers());
    s.kill();
    rusqlite::Connection::open(scratch.db())
        .unwrap()
        .execute_batch("UPDATE events SET body = replace(body, '张三', '李四') WHERE position = 1")
        .unwrap();
    match start(&scratch.db(), &["--clock", START]) {
        Start::Exited { code, stderr } => {
            assert_eq!(code, Some(3), "{stderr}");
            assert!(stderr.contains("the hash chain breaks at position 1"), "{stderr}");
        }
        Start::Running(_) => panic!("the service served an edited log"),
    }
}

/// Polls (bounded) until the checkpoint file holds a checkpoint at `position`.
fn wait_for_checkpoint(
    file: &std::path::Path,
    key: &VerifyingKey,
    position: u64,
) -> Vec<yichuang_store::checkpoint::Checkpoint> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(all) = read_checkpoints(file, key)
            && all.last().is_some_and(|c| c.position == position)
        {
            return all;
        }
        assert!(Instant::now() < deadline, "no checkpoint at position {position} within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_audit_head_and_the_signed_checkpoints_name_the_same_head() {
    let scratch = Scratch::new("checkpoints");
    let key = scratch.0.join("checkpoint-key.pem");
    let public = scratch.0.join("checkpoint-key.pub");
    let file = scratch.0.join("checkpoints.jsonl");
    std::fs::write(&key, PRIVATE_PEM).unwrap();
    std::fs::write(&public, PUBLIC_PEM).unwrap();
    let key_arg = key.display().to_string();
    let file_arg = file.display().to_string();
    let s = server(
        &scratch.db(),
        &["--checkpoint-key", &key_arg, "--checkpoint-file", &file_arg, "--checkpoint-interval", "1"],
    );
    assert!(
        s.stderr().contains(PUBLIC_PEM.lines().nth(1).unwrap()),
        "the public key is printed at start: {}",
        s.stderr()
    );
    accepted_case(s.addr, "open-restaurant", restaurant_answers());
    let head = head(s.addr);

    let audit = expect(&get(s.addr, "/v1/audit/head", SUPERVISOR), 200);
    assert_eq!(audit["position"], head);
    assert_eq!(expect(&get(s.addr, "/v1/audit/head", ADMIN), 200), audit);
    for who in [CLERK, APPLICANT] {
        assert_eq!(get(s.addr, "/v1/audit/head", who).status, 403, "{who}");
    }

    let verifying = read_verifying_key(&public).unwrap();
    let checkpoints = wait_for_checkpoint(&file, &verifying, head);
    let last = checkpoints.last().unwrap();
    assert_eq!(last.hash.to_string(), audit["hash"].as_str().unwrap());
    // The database, read as an audit would, agrees with every checkpoint.
    let log = SqliteStore::open_read_only(scratch.db()).unwrap();
    for c in &checkpoints {
        c.check(&log).unwrap();
    }
}

#[test]
fn an_online_backup_under_write_load_is_consistent_audited_and_restores() {
    let scratch = Scratch::new("backup");
    let s = server(&scratch.db(), &[]);
    let addr = s.addr;
    // Cases are written until the backups are done (bounded), so every backup runs under load.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut n = 0;
            while n < 5 || (!done.load(std::sync::atomic::Ordering::Relaxed) && n < 2000) {
                accepted_case(addr, "open-restaurant", restaurant_answers());
                n += 1;
            }
        })
    };
    while head(addr) == 0 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut copies = Vec::new();
    for n in 0..3 {
        let copy = scratch.0.join(format!("backup-{n}.db"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_yichuang-server"))
            .args(["backup", "--db"])
            .arg(scratch.db())
            .arg("--to")
            .arg(&copy)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("written and audited"), "{stdout}");
        copies.push(copy);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    writing.join().unwrap();
    let final_head = head(s.addr);
    // Every copy is the log as of one commit: a prefix of the live log, hash for hash.
    let live = SqliteStore::open_read_only(scratch.db()).unwrap();
    let mut heads = Vec::new();
    for copy in &copies {
        let mut c = SqliteStore::open_read_only(copy).unwrap();
        let summary = c.verify(&mut |_| Ok(())).unwrap();
        assert!(summary.events <= final_head);
        assert_eq!(live.hash_at(summary.events).unwrap(), c.hash_at(summary.events).unwrap());
        heads.push(summary.events);
    }
    assert!(
        heads.iter().any(|&h| h > 0 && h < final_head),
        "a copy was taken while commands were written: {heads:?} of {final_head}"
    );
    // A backup never overwrites.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_yichuang-server"))
        .args(["backup", "--db"])
        .arg(scratch.db())
        .arg("--to")
        .arg(&copies[0])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&again.stderr).contains("a backup is written to a new file only"));
    // Restore: the service starts on a copy and serves its head.
    s.kill();
    let restored = server(copies.last().unwrap(), &[]);
    assert_eq!(head(restored.addr), *heads.last().unwrap());
}

#[test]
fn the_service_runs_on_postgresql() {
    let Some(schema) = ScratchSchema::new("server") else { return };
    let url = std::path::Path::new(schema.url());
    let s = server(url, &[]);
    assert!(s.stderr().contains("applied PostgreSQL schema migration 1"), "{}", s.stderr());
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    let key = "pg-retry-1";
    let body = json!({"command": "withdraw"});
    let first = post_key(s.addr, &format!("/v1/cases/{case}/commands"), APPLICANT, key, &body);
    assert_eq!(first.status, 200, "{}", first.body);
    let head_before = head(s.addr);
    let audit = expect(&get(s.addr, "/v1/audit/head", SUPERVISOR), 200);
    assert_eq!(audit["position"], head_before);
    // Several instances share a schema (docs/scaling.md): a second one starts and serves the
    // same log.
    let second = server(url, &[]);
    assert_eq!(head(second.addr), head_before);
    assert_eq!(expect(&get(second.addr, &format!("/v1/cases/{case}"), CLERK), 200)["id"], case);
    second.kill();
    s.kill();
    let again = server(url, &[]);
    assert!(!again.stderr().contains("migration"), "migrations run once: {}", again.stderr());
    assert_eq!(head(again.addr), head_before, "everything acknowledged is there after kill -9");
    let repeat = post_key(again.addr, &format!("/v1/cases/{case}/commands"), APPLICANT, key, &body);
    assert_eq!(
        (repeat.status, repeat.body.clone()),
        (first.status, first.body.clone()),
        "the key held across the restart"
    );
    assert_eq!(head(again.addr), head_before, "the repeat appended nothing");
    assert_eq!(expect(&get(again.addr, &format!("/v1/cases/{case}"), CLERK), 200)["id"], case);
}
