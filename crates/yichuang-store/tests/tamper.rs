//! The hash chain against an intruder with write access to the database: each of the edits
//! that used to pass both the audit and the service's start (a changed star count, a changed
//! actor, the last event deleted, an idempotency record deleted) is found with its position, on
//! SQLite and on PostgreSQL; a tail cut together with the recorded head passes the chain but not
//! a signed checkpoint; a format-1 SQLite file is upgraded in place once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use ed25519_dalek::SigningKey;
use yichuang_core::event::EVENT_SCHEMA_VERSION;
use yichuang_core::{Actor, CaseId, Event, Instant, Recorded, StreamId};
use yichuang_store::checkpoint::{Checkpoint, CheckpointError, CheckpointWriter, read_checkpoints};
use yichuang_store::testing::ScratchSchema;
use yichuang_store::{
    Commit, EncodedEvent, EventLog, EventStore, IdempotencyRecord, IntegrityError, PostgresStore, SqliteStore,
    StoredEvent,
};

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("yichuang-tamper-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn db(&self) -> PathBuf {
        self.0.join("log.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn no_visit(_: &StoredEvent) -> Result<(), String> {
    Ok(())
}

/// Ten commands on five cases, each rated with stars 1–5 by the system or by `clerk-li`, every
/// other one with an idempotency key (records #1–#5 at positions 2, 4, 6, 8, 10).
fn fill(store: &mut dyn EventStore) {
    store.verify(&mut no_visit).unwrap();
    for n in 1..=5u64 {
        let mut events = Vec::new();
        for seq in 1..=2u32 {
            let position = (n - 1) * 2 + u64::from(seq);
            let by = if seq == 1 {
                Actor::system()
            } else {
                Actor { id: "clerk-li".into(), role: yichuang_core::Role::Admin }
            };
            let rec = Recorded {
                v: EVENT_SCHEMA_VERSION,
                stream: StreamId::Case(CaseId(n)),
                seq,
                at: Instant::from_minutes(29_000_000 + position as i64),
                by,
                event: Event::Rated { stars: (position % 5 + 1) as u8, by_default: false },
            };
            events.push(StoredEvent { position, event: EncodedEvent::encode(rec) });
        }
        let idempotency = Some(IdempotencyRecord {
            scope: "clerk-li".into(),
            key: format!("k{n}"),
            fingerprint: n,
            status: 201,
            body: format!("{{\"id\":\"C00000{n}\"}}"),
            position: n * 2,
        });
        store.append(&[Commit { events, idempotency }]).unwrap();
    }
}

/// What every store must find after each edit (SQL that both SQLite and PostgreSQL accept).
fn edits() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "a changed star count",
            // Position 3 holds 4 stars.
            "UPDATE events SET body = replace(body, '\"stars\":4', '\"stars\":5') WHERE position = 3".into(),
            "the hash chain breaks at position 3",
        ),
        (
            "a changed actor",
            "UPDATE events SET body = replace(body, '\"clerk-li\"', '\"clerk-wang\"') WHERE position = 6".into(),
            "the hash chain breaks at position 6",
        ),
        (
            "the last event deleted",
            "DELETE FROM events WHERE position = 10".into(),
            "the log ends at position 9, but its last append recorded the head at position 10",
        ),
        (
            "an idempotency record deleted",
            "DELETE FROM idempotency WHERE key = 'k3'".into(),
            "idempotency record #3, bound to the chain at position 5: the record is missing",
        ),
        (
            "the last idempotency record deleted",
            "DELETE FROM idempotency WHERE key = 'k5'".into(),
            "idempotency record #5, bound to the chain at position 9: the record is missing",
        ),
        (
            "an idempotency record's response changed",
            "UPDATE idempotency SET body = '{\"id\":\"C000009\"}' WHERE key = 'k2'".into(),
            "idempotency record #2, bound to the chain at position 3: its fields do not hash",
        ),
    ]
}

#[test]
fn sqlite_finds_every_edit_with_its_position() {
    for (what, sql, expected) in edits() {
        let scratch = Scratch::new();
        fill(&mut SqliteStore::open(scratch.db()).unwrap());
        rusqlite::Connection::open(scratch.db()).unwrap().execute_batch(&sql).unwrap();
        let found = SqliteStore::open(scratch.db()).unwrap().verify(&mut no_visit).unwrap_err().to_string();
        assert!(found.contains(expected), "{what}: {found}");
        // An audit (read-only) finds the same.
        let audit = SqliteStore::open_read_only(scratch.db()).unwrap().verify(&mut no_visit).unwrap_err().to_string();
        assert_eq!(audit, found, "{what}");
    }
}

#[test]
fn postgres_finds_every_edit_with_its_position() {
    for (what, sql, expected) in edits() {
        let Some(schema) = ScratchSchema::new("tamper") else { return };
        fill(&mut PostgresStore::open(schema.url()).unwrap());
        schema.execute(&sql).unwrap();
        let found = PostgresStore::open(schema.url()).unwrap().verify(&mut no_visit).unwrap_err().to_string();
        assert!(found.contains(expected), "{what}: {found}");
    }
}

/// Without the edits, the same history verifies on both stores, to the same head.
#[test]
fn an_untouched_log_verifies_to_the_same_head_on_both_stores() {
    let scratch = Scratch::new();
    fill(&mut SqliteStore::open(scratch.db()).unwrap());
    let sqlite = SqliteStore::open(scratch.db()).unwrap().verify(&mut no_visit).unwrap();
    assert_eq!((sqlite.events, sqlite.idempotency_records, sqlite.head.keys), (10, 5, 5));
    let Some(schema) = ScratchSchema::new("untouched") else { return };
    fill(&mut PostgresStore::open(schema.url()).unwrap());
    let pg = PostgresStore::open(schema.url()).unwrap().verify(&mut no_visit).unwrap();
    assert_eq!(pg.head, sqlite.head);
}

/// An intruder who cuts the last command *and* moves the recorded head back leaves a consistent
/// chain; the signed checkpoint written before the cut exposes it, and a rewritten event too.
/// `run` executes SQL on the database, `head_at_8` is the SQL expression of the head the eighth
/// event's append recorded, `reopen` opens it read-only.
fn checkpoint_catches(
    store: &mut dyn EventStore,
    run: &dyn Fn(&str),
    head_at_8: &str,
    reopen: &dyn Fn() -> Box<dyn EventStore>,
) {
    let dir = Scratch::new();
    let key = SigningKey::from_bytes(&[42; 32]);
    let file = dir.0.join("checkpoints.jsonl");
    let mut writer = CheckpointWriter::open(&file, key.clone()).unwrap();
    fill(store);
    let head = store.chain_head().unwrap();
    assert!(writer.write(&head, 1_767_225_600).unwrap());
    assert!(!writer.write(&head, 1_767_225_601).unwrap(), "an unchanged head is not written twice");
    let checkpoints = read_checkpoints(&file, &key.verifying_key()).unwrap();
    assert_eq!(checkpoints.len(), 1);
    checkpoints[0].check(store.readers().as_ref()).expect("the untouched log matches its checkpoint");

    run(&format!(
        "DELETE FROM events WHERE position > 8; DELETE FROM idempotency WHERE key = 'k5'; \
         UPDATE meta SET value = ({head_at_8}) WHERE key = 'head'"
    ));
    let mut cut = reopen();
    let summary = cut.verify(&mut no_visit).expect("the cut is consistent: the chain alone cannot see it");
    assert_eq!(summary.events, 8);
    let found = checkpoints[0].check(cut.readers().as_ref()).unwrap_err();
    assert!(matches!(found, CheckpointError::Truncated { head: 8, position: 10, .. }), "{found}");
    assert!(found.to_string().contains("written at 2026-01-01T00:00:00Z saw position 10"), "{found}");

    run("INSERT INTO events (position, stream, seq, kind, at, body, keys, key_hash, hash) \
         SELECT 10, stream, 99, kind, at, body, keys, key_hash, hash FROM events WHERE position = 8");
    let found = checkpoints[0].check(reopen().readers().as_ref()).unwrap_err();
    assert!(matches!(found, CheckpointError::Differs { position: 10, .. }), "{found}");

    // A forged line does not verify with the service's public key.
    let forged = Checkpoint { unix_time: 1, ..checkpoints[0].clone() };
    std::fs::write(&file, format!("{}\n", forged.to_line())).unwrap();
    let refused = read_checkpoints(&file, &key.verifying_key()).unwrap_err().to_string();
    assert!(refused.contains(":1: the signature does not verify"), "{refused}");
}

#[test]
fn sqlite_truncation_behind_the_chain_is_caught_by_a_checkpoint() {
    let scratch = Scratch::new();
    let path = scratch.db();
    let mut store = SqliteStore::open(&path).unwrap();
    let run = |sql: &str| rusqlite::Connection::open(&path).unwrap().execute_batch(sql).unwrap();
    let head_at_8 =
        "SELECT '8 ' || lower(hex(hash)) || ' ' || keys || ' ' || lower(hex(key_hash)) FROM events WHERE position = 8";
    checkpoint_catches(&mut store, &run, head_at_8, &|| Box::new(SqliteStore::open_read_only(&path).unwrap()));
}

#[test]
fn postgres_truncation_behind_the_chain_is_caught_by_a_checkpoint() {
    let Some(schema) = ScratchSchema::new("truncate") else { return };
    let mut store = PostgresStore::open(schema.url()).unwrap();
    let run = |sql: &str| schema.execute(sql).unwrap();
    let head_at_8 = "SELECT '8 ' || encode(hash, 'hex') || ' ' || keys || ' ' || encode(key_hash, 'hex') FROM events WHERE position = 8";
    checkpoint_catches(&mut store, &run, head_at_8, &|| Box::new(PostgresStore::open_read_only(schema.url()).unwrap()));
}

/// A file of format 1 (as the service wrote before the chain) is upgraded in place, once, with a
/// note; afterwards edits are found as in a new file.
#[test]
fn a_format_1_sqlite_file_is_upgraded_once() {
    let scratch = Scratch::new();
    let conn = rusqlite::Connection::open(scratch.db()).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
         CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, seq INTEGER NOT NULL,
             kind TEXT NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE (stream, seq));
         CREATE TABLE idempotency (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, key TEXT NOT NULL,
             fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, position INTEGER NOT NULL);
         INSERT INTO meta VALUES ('format', '1'), ('definition', 'county-hall');",
    )
    .unwrap();
    // The same ten events and five records, written as format 1 did (record ids after a
    // forgotten first one start at 2).
    let reference = Scratch::new();
    let mut model = SqliteStore::open(reference.db()).unwrap();
    fill(&mut model);
    for e in model.read_after(0, 100).unwrap() {
        let rec = e.event.record();
        conn.execute(
            "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                e.position as i64,
                rec.stream.to_string(),
                rec.seq,
                rec.event.name(),
                rec.at.minutes(),
                e.event.json()
            ],
        )
        .unwrap();
    }
    for n in 1..=5i64 {
        conn.execute(
            "INSERT INTO idempotency VALUES (?1 + 1, 'clerk-li', 'k' || ?1, printf('%016x', ?1), 201, '{\"id\":\"C00000' || ?1 || '\"}', ?1 * 2)",
            [n],
        )
        .unwrap();
    }
    drop(conn);
    assert!(
        SqliteStore::open_read_only(scratch.db()).unwrap_err().to_string().contains("has store format 1"),
        "an audit does not upgrade"
    );
    let mut store = SqliteStore::open(scratch.db()).unwrap();
    assert_eq!(store.upgrade_notes().len(), 1);
    assert!(
        store.upgrade_notes()[0].contains("10 events and 5 idempotency records chained"),
        "{:?}",
        store.upgrade_notes()
    );
    let summary = store.verify(&mut no_visit).unwrap();
    assert_eq!((summary.events, summary.idempotency_records), (10, 5));
    // Commit boundaries are not in a format-1 file: each record is chained just before the last
    // event of its command, so the hashes differ from a log appended with the chain.
    assert_eq!((summary.head.position, summary.head.keys), (10, 5));
    assert!(store.meta("chain_since").unwrap().unwrap().contains("edits made before this upgrade are not detectable"));
    assert_eq!(store.idempotency("clerk-li", "k3").unwrap().map(|r| r.position), Some(6));
    drop(store);
    let mut again = SqliteStore::open(scratch.db()).unwrap();
    assert!(again.upgrade_notes().is_empty(), "upgraded once");
    again.verify(&mut no_visit).unwrap();
    drop(again);
    rusqlite::Connection::open(scratch.db())
        .unwrap()
        .execute_batch("UPDATE events SET body = replace(body, '\"stars\":4', '\"stars\":1') WHERE position = 3")
        .unwrap();
    let found = SqliteStore::open_read_only(scratch.db()).unwrap().verify(&mut no_visit).unwrap_err();
    assert!(matches!(found, IntegrityError::Chain { position: 3, .. }), "{found}");
}
