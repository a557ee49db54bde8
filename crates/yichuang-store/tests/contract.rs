//! The store contract, checked against both implementations, and the SQLite store checked
//! against the in-memory reference model on random append sequences (the redb habit: a simple
//! model beside the real thing).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use yichuang_core::event::EVENT_SCHEMA_VERSION;
use yichuang_core::{Actor, CaseId, Event, Instant, Recorded, StreamId, TicketId};
use yichuang_store::testing::ScratchSchema;
use yichuang_store::{
    AppendError, ChainHead, Commit, EncodedEvent, EventLog, EventStore, IdempotencyRecord, IntegrityError, MemoryStore,
    PostgresStore, SqliteStore, StoredEvent,
};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("yichuang-store-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
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

fn event(stream: StreamId, seq: u32, position: u64) -> StoredEvent {
    let rec = Recorded {
        v: EVENT_SCHEMA_VERSION,
        stream,
        seq,
        at: Instant::from_minutes(29_000_000 + position as i64),
        by: Actor::system(),
        event: Event::Rated { stars: (position % 5 + 1) as u8, by_default: false },
    };
    StoredEvent { position, event: EncodedEvent::encode(rec) }
}

fn case(n: u64) -> StreamId {
    StreamId::Case(CaseId(n))
}

fn key(scope: &str, key: &str, position: u64) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: scope.into(),
        key: key.into(),
        fingerprint: 0xdead_beef_0000_0001,
        status: 200,
        body: format!("{{\"key\":\"{key}\"}}"),
        position,
    }
}

fn no_visit(_: &StoredEvent) -> Result<(), String> {
    Ok(())
}

/// The contract every store keeps; returns the chain's head at the end, which must be the same
/// for every store (they chain the same bytes).
fn contract(store: &mut dyn EventStore) -> ChainHead {
    store.verify(&mut no_visit).expect("an empty log verifies");
    assert_eq!(store.head().unwrap(), 0);

    // One group commit of two commands on two streams, one with a key.
    let c1 = Commit { events: vec![event(case(1), 1, 1), event(case(1), 2, 2)], idempotency: Some(key("a", "k1", 2)) };
    let c2 = Commit { events: vec![event(StreamId::Ticket(TicketId(1)), 1, 3)], idempotency: None };
    assert_eq!(store.append(&[c1, c2]).unwrap(), 3);
    assert_eq!(store.head().unwrap(), 3);
    let stream: Vec<u64> = store.read_stream(case(1)).unwrap().iter().map(|e| e.position).collect();
    assert_eq!(stream, [1, 2]);
    let after: Vec<u64> = store.read_after(1, 10).unwrap().iter().map(|e| e.position).collect();
    assert_eq!(after, [2, 3]);
    assert_eq!(store.read_after(0, 1).unwrap().len(), 1, "the limit holds");
    assert_eq!(store.read_after(3, 10).unwrap().len(), 0);
    assert_eq!(store.idempotency("a", "k1").unwrap(), Some(key("a", "k1", 2)));
    assert_eq!(store.idempotency("b", "k1").unwrap(), None, "keys are scoped");

    // Refusals write nothing, not even the valid commits before the bad one.
    let good = Commit { events: vec![event(case(2), 1, 4)], idempotency: None };
    let stale_head = Commit { events: vec![event(case(3), 1, 3)], idempotency: None };
    assert!(matches!(store.append(&[stale_head]), Err(AppendError::HeadMoved { head: 3, first: 3 })));
    let gap = Commit { events: vec![event(case(3), 1, 6)], idempotency: None };
    assert!(matches!(store.append(&[good.clone(), gap]), Err(AppendError::Gap { previous: 4, found: 6 })));
    let skip_seq = Commit { events: vec![event(case(1), 4, 5)], idempotency: None };
    assert!(matches!(
        store.append(&[good.clone(), skip_seq]),
        Err(AppendError::StreamVersion { version: 2, seq: 4, .. })
    ));
    let dup = Commit { events: vec![], idempotency: Some(key("a", "k1", 4)) };
    assert!(matches!(store.append(&[good.clone(), dup]), Err(AppendError::DuplicateKey { .. })));
    let twice = Commit { events: vec![], idempotency: Some(key("a", "k2", 4)) };
    assert!(matches!(store.append(&[good.clone(), twice.clone(), twice]), Err(AppendError::DuplicateKey { .. })));
    assert_eq!(store.head().unwrap(), 3);
    assert_eq!(store.read_stream(case(2)).unwrap().len(), 0);

    assert_eq!(store.append(&[good]).unwrap(), 4);
    let mut seen = Vec::new();
    let summary = store
        .verify(&mut |e| {
            seen.push(e.position);
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, [1, 2, 3, 4]);
    assert_eq!((summary.events, summary.streams, summary.idempotency_records), (4, 3, 1));
    let refused = store.verify(&mut |e| if e.position == 3 { Err("not legal".into()) } else { Ok(()) });
    assert!(matches!(refused, Err(IntegrityError::Refused { position: 3, .. })));

    store.set_meta("definition", "county-hall").unwrap();
    assert_eq!(store.meta("definition").unwrap().as_deref(), Some("county-hall"));

    // Readers on another handle see what was appended.
    let readers = store.readers();
    assert_eq!(readers.head().unwrap(), 4);
    assert_eq!(readers.read_stream(case(1)).unwrap(), store.read_stream(case(1)).unwrap());

    // Retention: the keys of commands before a position are forgotten, later ones kept, and the
    // events stay. A forgotten key is new again.
    let c5 = Commit { events: vec![event(case(2), 2, 5)], idempotency: Some(key("a", "k3", 5)) };
    assert_eq!(store.append(&[c5]).unwrap(), 5);
    assert_eq!(store.forget_keys_before(2).unwrap(), 0, "k1's command ended at position 2");
    assert_eq!(store.forget_keys_before(3).unwrap(), 1);
    assert_eq!(store.forget_keys_before(3).unwrap(), 0);
    assert_eq!(store.idempotency("a", "k1").unwrap(), None);
    assert_eq!(store.idempotency("a", "k3").unwrap(), Some(key("a", "k3", 5)));
    assert_eq!(store.head().unwrap(), 5);
    let c6 = Commit { events: vec![event(case(2), 3, 6)], idempotency: Some(key("a", "k1", 6)) };
    assert_eq!(store.append(&[c6]).unwrap(), 6, "a forgotten key can be recorded again");
    assert_eq!(store.idempotency("a", "k1").unwrap(), Some(key("a", "k1", 6)));
    let summary = store.verify(&mut no_visit).unwrap();
    assert_eq!((summary.events, summary.streams, summary.idempotency_records), (6, 3, 2));
    // The chain: the head as stored, three records chained (one forgotten), readers agree.
    let head = store.chain_head().unwrap();
    assert_eq!((head.position, head.keys), (6, 3));
    assert_eq!(summary.head, head);
    assert_eq!(store.hash_at(6).unwrap(), Some(head.hash));
    assert_eq!(store.hash_at(7).unwrap(), None);
    assert_ne!(store.hash_at(5).unwrap(), Some(head.hash));
    assert_eq!(store.readers().chain_head().unwrap(), head);
    head
}

/// The chain every store computes for the contract's history.
fn memory_contract_head() -> ChainHead {
    contract(&mut MemoryStore::new())
}

#[test]
fn memory_store_keeps_the_contract() {
    let head = memory_contract_head();
    assert_ne!(head.hash, yichuang_store::Digest::ZERO);
}

#[test]
fn sqlite_store_keeps_the_contract_and_survives_reopening() {
    let scratch = Scratch::new();
    {
        let mut store = SqliteStore::open(scratch.db()).unwrap();
        contract(&mut store);
    }
    let mut store = SqliteStore::open(scratch.db()).unwrap();
    let summary = store.verify(&mut no_visit).unwrap();
    assert_eq!((summary.events, summary.streams, summary.idempotency_records), (6, 3, 2));
    assert_eq!(summary.head, memory_contract_head(), "SQLite chains the same bytes as the model");
    assert_eq!(store.meta("definition").unwrap().as_deref(), Some("county-hall"));
    assert_eq!(store.idempotency("a", "k1").unwrap(), Some(key("a", "k1", 6)), "keys are indexed again at open");
    assert_eq!(store.idempotency("a", "k3").unwrap(), Some(key("a", "k3", 5)));
    assert_eq!(store.append(&[Commit { events: vec![event(case(2), 4, 7)], idempotency: None }]).unwrap(), 7);
    // The background checkpoint copies the whole WAL into the database file.
    let (wal_frames, copied) = store.checkpointer().unwrap().checkpoint().unwrap();
    assert_eq!(wal_frames, copied);
}

#[test]
fn postgres_store_keeps_the_contract_and_survives_reopening() {
    let Some(schema) = ScratchSchema::new("contract") else { return };
    {
        let mut store = PostgresStore::open(schema.url()).unwrap();
        assert_eq!(store.upgrade_notes().len(), 2, "migrations 1 (the log) and 2 (snapshots) ran");
        contract(&mut store);
    }
    let mut store = PostgresStore::open(schema.url()).unwrap();
    assert!(store.upgrade_notes().is_empty(), "a migration runs once");
    let summary = store.verify(&mut no_visit).unwrap();
    assert_eq!((summary.events, summary.streams, summary.idempotency_records), (6, 3, 2));
    assert_eq!(summary.head, memory_contract_head(), "PostgreSQL chains the same bytes as the model");
    assert_eq!(store.meta("definition").unwrap().as_deref(), Some("county-hall"));
    assert_eq!(store.idempotency("a", "k1").unwrap(), Some(key("a", "k1", 6)));
    assert_eq!(store.idempotency("a", "k3").unwrap(), Some(key("a", "k3", 5)));
    assert_eq!(store.append(&[Commit { events: vec![event(case(2), 4, 7)], idempotency: None }]).unwrap(), 7);
    // A read-only open (an audit) sees the same log and writes nothing.
    let mut audit = PostgresStore::open_read_only(schema.url()).unwrap();
    assert_eq!(audit.verify(&mut no_visit).unwrap().events, 7);
    assert!(audit.set_meta("definition", "x").is_err(), "read-only");
}

/// A log longer than the batch PostgreSQL reads it in (10,000 events per query, so that the
/// plan stays on the primary key whatever the statistics say) is verified whole, in order, with
/// the same chain as SQLite's, and a writer that reopens it catches up across batch boundaries.
#[test]
fn postgres_reads_a_log_longer_than_one_batch_whole_and_in_order() {
    let Some(schema) = ScratchSchema::new("batches") else { return };
    let scratch = Scratch::new();
    let total: u64 = 25_001;
    // Seven cases' events interleaved, each stream's seq numbers consecutive from 1.
    let mut seqs = [0u32; 8];
    let events: Vec<StoredEvent> = (1..=total)
        .map(|p| {
            let n = (p % 7 + 1) as usize;
            seqs[n] += 1;
            event(case(n as u64), seqs[n], p)
        })
        .collect();
    let commits: Vec<Commit> =
        events.chunks(1_000).map(|chunk| Commit { events: chunk.to_vec(), idempotency: None }).collect();
    let mut sqlite = SqliteStore::open(scratch.db()).unwrap();
    let mut pg = PostgresStore::open(schema.url()).unwrap();
    sqlite.verify(&mut no_visit).unwrap();
    pg.verify(&mut no_visit).unwrap();
    for c in &commits {
        sqlite.append(std::slice::from_ref(c)).unwrap();
        pg.append(std::slice::from_ref(c)).unwrap();
    }
    drop(pg);
    let mut reopened = PostgresStore::open(schema.url()).unwrap();
    let mut seen = Vec::new();
    let summary = reopened
        .verify(&mut |e| {
            seen.push(e.position);
            Ok(())
        })
        .unwrap();
    assert_eq!(summary.events, total);
    assert!(seen.iter().copied().eq(1..=total), "every position once, in order");
    assert_eq!(summary.head, sqlite.verify(&mut no_visit).unwrap().head, "the same chain as SQLite's");
    let next = event(case(1), seqs[1] + 1, total + 1);
    assert_eq!(reopened.append(&[Commit { events: vec![next], idempotency: None }]).unwrap(), total + 1);
}

/// Several writers on one schema (instances of the service on one database): a writer appends
/// only at the log's head as it last saw it, so one that did not catch up is refused and writes
/// nothing; catching up under the write lock hands it the others' events in order; an append
/// waiting for the lock lands after the holder's, or is refused; the result is one hash chain,
/// the same as one writer making the same appends.
#[test]
fn postgres_writers_share_a_schema() {
    let Some(schema) = ScratchSchema::new("writers") else { return };
    let mut a = PostgresStore::open(schema.url()).unwrap();
    let mut b = PostgresStore::open(schema.url()).unwrap();
    a.verify(&mut no_visit).unwrap();
    b.verify(&mut no_visit).unwrap();
    assert!(a.shared() && !MemoryStore::new().shared());
    let mut model = MemoryStore::new();
    model.verify(&mut no_visit).unwrap();
    let c1 = Commit { events: vec![event(case(1), 1, 1), event(case(1), 2, 2)], idempotency: Some(key("a", "k1", 2)) };
    assert_eq!(a.append(std::slice::from_ref(&c1)).unwrap(), 2);
    model.append(&[c1]).unwrap();

    // B decided on an empty log: refused, nothing written.
    let stale = b.append(&[Commit { events: vec![event(case(1), 1, 1)], idempotency: None }]).unwrap_err();
    assert!(matches!(stale, AppendError::HeadMoved { head: 2, first: 1 }), "{stale}");
    // B catches up under the lock and sees A's events in order.
    let mut seen = Vec::new();
    let read = b.catch_up(true, &mut |e| {
        seen.push((e.position, e.event.record().stream, e.event.record().seq));
        Ok(())
    });
    assert_eq!(read.unwrap(), 2);
    assert_eq!(seen, [(1, case(1), 1), (2, case(1), 2)]);
    // While B holds the lock, A's append (decided without B's next event) waits for it, and is
    // then refused because B appended first.
    let waiting = std::thread::spawn(move || {
        let r = a.append(&[Commit { events: vec![event(case(2), 1, 3)], idempotency: None }]);
        (a, r.map_err(|e| e.to_string()))
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!waiting.is_finished(), "the other writer waits for the lock");
    let c2 = Commit { events: vec![event(case(1), 3, 3)], idempotency: Some(key("b", "k2", 3)) };
    assert_eq!(b.append(std::slice::from_ref(&c2)).unwrap(), 3);
    model.append(&[c2]).unwrap();
    let (mut a, refused) = waiting.join().unwrap();
    let refused = refused.unwrap_err();
    assert!(refused.contains("the log's head is 3"), "{refused}");
    // A catches up without the lock (as a reader does), then with it, and appends.
    assert_eq!(a.catch_up(false, &mut no_visit).unwrap(), 1);
    assert_eq!(a.catch_up(true, &mut no_visit).unwrap(), 0);
    let c3 = Commit { events: vec![event(case(2), 1, 4)], idempotency: Some(key("a", "k3", 4)) };
    assert_eq!(a.append(std::slice::from_ref(&c3)).unwrap(), 4);
    model.append(&[c3]).unwrap();
    // A key without events (a command that appended nothing) moves the key chain only: B must
    // catch up for it too.
    assert_eq!(b.catch_up(true, &mut no_visit).unwrap(), 1);
    let c4 = Commit { events: vec![], idempotency: Some(key("b", "k4", 4)) };
    b.append(std::slice::from_ref(&c4)).unwrap();
    model.append(&[c4]).unwrap();
    let stale = a.append(&[Commit { events: vec![event(case(2), 2, 5)], idempotency: None }]).unwrap_err();
    assert!(matches!(stale, AppendError::HeadMoved { head: 4, .. }), "{stale}");
    assert_eq!(a.catch_up(true, &mut no_visit).unwrap(), 0);
    let c5 = Commit { events: vec![event(case(2), 2, 5)], idempotency: None };
    a.append(std::slice::from_ref(&c5)).unwrap();
    model.append(&[c5]).unwrap();
    // Releasing the lock without appending lets the other writer on.
    b.catch_up(true, &mut no_visit).unwrap();
    b.release().unwrap();
    assert_eq!(a.catch_up(true, &mut no_visit).unwrap(), 0);
    a.release().unwrap();

    let mut fresh = PostgresStore::open(schema.url()).unwrap();
    let summary = fresh.verify(&mut no_visit).unwrap();
    assert_eq!((summary.events, summary.idempotency_records), (5, 4));
    assert_eq!(summary.head, model.verify(&mut no_visit).unwrap().head, "one chain, as one writer makes it");
}

/// The lease: a writer that holds the write lock and then says nothing (stopped, partitioned)
/// loses its session after `idle_in_transaction_session_timeout`; the others go on, and what it
/// decided under the lock is never appended. It reconnects and catches up afterwards.
#[test]
fn postgres_a_silent_lock_holder_loses_the_lock_and_appends_nothing() {
    let Some(schema) = ScratchSchema::new("lease") else { return };
    let leased = format!("{}%20-cidle_in_transaction_session_timeout%3D700", schema.url());
    let mut a = PostgresStore::open(&leased).unwrap();
    let mut b = PostgresStore::open(schema.url()).unwrap();
    a.verify(&mut no_visit).unwrap();
    b.verify(&mut no_visit).unwrap();
    a.catch_up(true, &mut no_visit).unwrap();
    // A decides, then goes silent past its lease. B waits for the lock, then gets it.
    let started = std::time::Instant::now();
    b.catch_up(true, &mut no_visit).unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(500), "B waited for A's lease to end");
    assert_eq!(b.append(&[Commit { events: vec![event(case(1), 1, 1)], idempotency: None }]).unwrap(), 1);
    // A wakes up and appends what it decided on the empty log: refused, not written.
    let stale = a.append(&[Commit { events: vec![event(case(1), 1, 1)], idempotency: Some(key("a", "k", 1)) }]);
    assert!(stale.is_err(), "the stale append was refused");
    assert_eq!(b.head().unwrap(), 1);
    assert_eq!(b.idempotency("a", "k").unwrap(), None);
    // A's next round reconnects and catches up.
    assert_eq!(a.catch_up(true, &mut no_visit).unwrap(), 1);
    assert_eq!(a.append(&[Commit { events: vec![event(case(1), 2, 2)], idempotency: None }]).unwrap(), 2);
    let mut fresh = PostgresStore::open(schema.url()).unwrap();
    assert_eq!(fresh.verify(&mut no_visit).unwrap().events, 2);
}

#[test]
fn sqlite_allows_one_writer_per_file() {
    let scratch = Scratch::new();
    let first = SqliteStore::open(scratch.db()).unwrap();
    let refused = SqliteStore::open(scratch.db()).unwrap_err().to_string();
    assert!(refused.contains(&format!("is held for writing by process {}", std::process::id())), "{refused}");
    // Readers and audits are not writers.
    let mut audit = SqliteStore::open_read_only(scratch.db()).unwrap();
    audit.verify(&mut no_visit).unwrap();
    drop(first);
    SqliteStore::open(scratch.db()).expect("the lock goes with the writer");
}

#[test]
fn sqlite_verify_finds_damage() {
    let damage = |sql: &str| {
        let scratch = Scratch::new();
        {
            let mut store = SqliteStore::open(scratch.db()).unwrap();
            store.verify(&mut no_visit).unwrap();
            let events = (1..=3).map(|p| event(case(1), p as u32, p)).collect();
            store.append(&[Commit { events, idempotency: None }]).unwrap();
        }
        let conn = rusqlite::Connection::open(scratch.db()).unwrap();
        conn.execute_batch(sql).unwrap();
        drop(conn);
        let mut store = SqliteStore::open(scratch.db()).unwrap();
        store.verify(&mut no_visit).unwrap_err().to_string()
    };
    let gap = damage("DELETE FROM events WHERE position = 2");
    assert!(gap.contains("expected position 2, found 3"), "{gap}");
    let body = damage("UPDATE events SET body = '{\"v\":1}' WHERE position = 2");
    assert!(body.contains("position 2 is damaged: the body does not decode"), "{body}");
    let column = damage("UPDATE events SET stream = 'C000009' WHERE position = 2");
    assert!(column.contains("the columns say C000009 #2"), "{column}");
    // A consistent edit of the columns and the body no longer hides: the chain breaks there.
    let seq = damage("UPDATE events SET seq = 5, body = replace(body, '\"seq\":3', '\"seq\":5') WHERE position = 3");
    assert!(seq.contains("the hash chain breaks at position 3"), "{seq}");
    let key = damage(
        "INSERT INTO idempotency (scope, key, fingerprint, status, body, position, hash) VALUES ('a', 'k', '0', 200, '{}', 9, X'00')",
    );
    assert!(key.contains("points at position 9, past the log's end 3"), "{key}");
    let twice = damage(
        "INSERT INTO idempotency (scope, key, fingerprint, status, body, position, hash) VALUES ('a', 'k', '0', 200, '{}', 1, X'00'); \
         INSERT INTO idempotency (scope, key, fingerprint, status, body, position, hash) VALUES ('a', 'k', '0', 200, '{}', 2, X'00')",
    );
    assert!(twice.contains("`k` of a is recorded twice"), "{twice}");
    // The keys are checked beside the events, on another connection; the first record that
    // points outside the log is named, and a damaged event is still reported before the keys.
    let negative = damage(
        "INSERT INTO idempotency (scope, key, fingerprint, status, body, position, hash) VALUES ('a', 'ok', '0', 200, '{}', 2, X'00'); \
         INSERT INTO idempotency (scope, key, fingerprint, status, body, position, hash) VALUES ('a', 'neg', '0', 200, '{}', -1, X'00'); \
         INSERT INTO idempotency (scope, key, fingerprint, status, body, position, hash) VALUES ('a', 'far', '0', 200, '{}', 7, X'00')",
    );
    assert!(negative.contains("`neg`") && negative.contains("past the log's end 3"), "{negative}");
    let utf8 = damage("UPDATE events SET body = CAST(X'7BFF7D' AS TEXT) WHERE position = 2");
    assert!(utf8.contains("position 2 is damaged: column body does not read"), "{utf8}");
    let both = damage(
        "DELETE FROM events WHERE position = 2; \
         INSERT INTO idempotency (scope, key, fingerprint, status, body, position, hash) VALUES ('a', 'k', '0', 200, '{}', 9, X'00')",
    );
    assert!(both.contains("expected position 2, found 3"), "{both}");
}

/// A lost table is damage: the writer refuses the file instead of recreating the table empty,
/// and so does a read-only open.
#[test]
fn sqlite_store_refuses_a_file_that_lost_a_table() {
    for table in ["events", "idempotency"] {
        let scratch = Scratch::new();
        {
            let mut store = SqliteStore::open(scratch.db()).unwrap();
            store.verify(&mut no_visit).unwrap();
            store.append(&[Commit { events: vec![event(case(1), 1, 1)], idempotency: None }]).unwrap();
        }
        rusqlite::Connection::open(scratch.db()).unwrap().execute_batch(&format!("DROP TABLE {table}")).unwrap();
        for error in
            [SqliteStore::open(scratch.db()).unwrap_err(), SqliteStore::open_read_only(scratch.db()).unwrap_err()]
        {
            assert!(error.is_damage(), "{error}");
            assert!(error.to_string().contains(&format!("lacks the store's `{table}` table")), "{error}");
        }
        let tables: i64 = rusqlite::Connection::open(scratch.db())
            .unwrap()
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = ?1", [table], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0, "the writer did not recreate `{table}`");
    }
}

/// An audit may read a file the service is writing. The keys are checked on a second
/// connection; its snapshot is taken before the events are read, so the events read are never
/// older than the keys, and a key never seems to point past the log's end.
#[test]
fn sqlite_verify_of_a_file_being_written_sees_one_log() {
    let scratch = Scratch::new();
    let path = scratch.db();
    let mut writer = SqliteStore::open(&path).unwrap();
    writer.verify(&mut no_visit).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let audits = std::thread::scope(|scope| {
        scope.spawn(|| {
            for n in 1..=1000u64 {
                let commit =
                    Commit { events: vec![event(case(n), 1, n)], idempotency: Some(key("a", &format!("k{n}"), n)) };
                writer.append(&[commit]).unwrap();
            }
            done.store(true, Ordering::Release);
        });
        let mut audits = 0;
        while !done.load(Ordering::Acquire) {
            let mut reader = SqliteStore::open_read_only(&path).unwrap();
            let summary = reader.verify(&mut no_visit).unwrap_or_else(|e| panic!("audit {audits}: {e}"));
            assert!(summary.idempotency_records <= summary.events, "{summary:?}");
            audits += 1;
        }
        audits
    });
    // Without the ordering, about one audit in ten failed here.
    assert!(audits > 0, "the audits ran while the log grew");
}

/// Events of one commit as (stream number, seq is right), and its key number.
type RandomCommit = (Vec<(u8, bool)>, Option<u8>);

/// One step of a random history: a group of commits, some deliberately wrong.
#[derive(Debug, Clone)]
struct Group {
    /// The commits.
    commits: Vec<RandomCommit>,
    /// Shift every position by this much (0 = correct).
    shift: u8,
    /// Then forget the keys of commands ending more than this many events before the head.
    forget: Option<u8>,
}

fn group() -> impl Strategy<Value = Group> {
    let commit = (prop::collection::vec((0u8..4, prop::bool::weighted(0.95)), 0..4), prop::option::of(0u8..12));
    (
        prop::collection::vec(commit, 1..5),
        prop::sample::select(vec![0u8, 0, 0, 0, 1]),
        prop::option::weighted(0.3, 0u8..8),
    )
        .prop_map(|(commits, shift, forget)| Group { commits, shift, forget })
}

fn build(group: &Group, model: &MemoryStore) -> Vec<Commit> {
    let mut position = model.head().unwrap() + u64::from(group.shift);
    let mut versions = std::collections::HashMap::new();
    group
        .commits
        .iter()
        .map(|(events, k)| {
            let events = events
                .iter()
                .map(|&(s, ok)| {
                    let stream = case(u64::from(s) + 1);
                    let v = *versions.entry(stream).or_insert_with(|| model.read_stream(stream).unwrap().len() as u32);
                    let seq = if ok { v + 1 } else { v + 2 };
                    versions.insert(stream, v + 1);
                    position += 1;
                    event(stream, seq, position)
                })
                .collect();
            Commit { events, idempotency: k.map(|k| key("client", &format!("key-{k}"), position)) }
        })
        .collect()
}

/// Runs a random history on `store` and on the model side by side.
fn matches_the_model(groups: &[Group], store: &mut dyn EventStore) -> Result<MemoryStore, TestCaseError> {
    store.verify(&mut no_visit).unwrap();
    let mut model = MemoryStore::new();
    model.verify(&mut no_visit).unwrap();
    for g in groups {
        let commits = build(g, &model);
        let expected = model.append(&commits).map_err(|e| e.to_string());
        let actual = store.append(&commits).map_err(|e| e.to_string());
        prop_assert_eq!(&actual, &expected);
        prop_assert_eq!(store.read_after(0, usize::MAX).unwrap(), model.read_after(0, usize::MAX).unwrap());
        prop_assert_eq!(store.chain_head().unwrap(), model.chain_head().unwrap());
        if let Some(back) = g.forget {
            let before = model.head().unwrap().saturating_sub(u64::from(back));
            prop_assert_eq!(store.forget_keys_before(before).unwrap(), model.forget_keys_before(before).unwrap());
        }
    }
    for k in 0..12 {
        let k = format!("key-{k}");
        prop_assert_eq!(store.idempotency("client", &k).unwrap(), model.idempotency("client", &k).unwrap());
    }
    Ok(model)
}

/// The reopened store verifies to the model's log, records and chain.
fn reopened_matches(reopened: &mut dyn EventStore, model: &mut MemoryStore) -> Result<(), TestCaseError> {
    let summary = reopened.verify(&mut no_visit).unwrap();
    let expected = model.verify(&mut no_visit).unwrap();
    prop_assert_eq!(summary.events, model.head().unwrap());
    prop_assert_eq!(summary.idempotency_records, expected.idempotency_records);
    prop_assert_eq!(summary.head, expected.head);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn sqlite_matches_the_memory_model(groups in prop::collection::vec(group(), 1..24)) {
        let scratch = Scratch::new();
        let mut sqlite = SqliteStore::open(scratch.db()).unwrap();
        let mut model = matches_the_model(&groups, &mut sqlite)?;
        drop(sqlite);
        reopened_matches(&mut SqliteStore::open(scratch.db()).unwrap(), &mut model)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn postgres_matches_the_memory_model(groups in prop::collection::vec(group(), 1..24)) {
        let Some(schema) = ScratchSchema::new("model") else { return Ok(()) };
        let mut pg = PostgresStore::open(schema.url()).unwrap();
        let mut model = matches_the_model(&groups, &mut pg)?;
        drop(pg);
        reopened_matches(&mut PostgresStore::open(schema.url()).unwrap(), &mut model)?;
    }
}

/// Snapshots: kept (the newest two), found, and resumed from only where the log holds the
/// snapshot's link; the events after it are read and checked, and appends go on from there.
fn snapshot_contract(open: &dyn Fn() -> Box<dyn EventStore>) {
    let mut store = open();
    store.verify(&mut no_visit).unwrap();
    let (a, b) = (case(1), case(2));
    let events = [event(a, 1, 1), event(b, 1, 2), event(a, 2, 3), event(b, 2, 4), event(a, 3, 5)];
    for e in &events {
        store.append(&[Commit { events: vec![e.clone()], idempotency: None }]).unwrap();
    }
    assert!(store.latest_snapshot().unwrap().is_none());
    for position in [2, 3, 4] {
        store.save_snapshot(position, &format!("state at {position}")).unwrap();
    }
    assert!(store.save_snapshot(9, "past the end").is_err(), "a snapshot of a position the log does not hold");
    let newest = store.latest_snapshot().unwrap().expect("a snapshot is kept");
    assert_eq!((newest.position, newest.body.as_str()), (4, "state at 4"));
    assert_eq!(Some(newest.head.hash), store.hash_at(4).unwrap());
    drop(store);

    // Another head at the position: refused, nothing read.
    let mut store = open();
    let mut other = newest.head;
    other.hash = yichuang_store::Digest::ZERO;
    let mut seen = Vec::new();
    let err = store
        .resume(&other, &mut [(a, 2), (b, 2)].into_iter(), &mut |e| {
            seen.push(e.position);
            Ok(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("the snapshot at this position does not match"), "{err}");
    assert!(seen.is_empty());
    // Stream versions that disagree with the events after it: refused.
    let err = store.resume(&newest.head, &mut [(a, 1), (b, 2)].into_iter(), &mut no_visit).unwrap_err();
    assert!(err.to_string().contains("#3 of C000001"), "{err}");
    drop(store);

    // The right one: the tail is read, and appends continue.
    let mut store = open();
    let summary = store
        .resume(&newest.head, &mut [(a, 2), (b, 2)].into_iter(), &mut |e| {
            seen.push(e.position);
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, [5]);
    assert_eq!(summary.events, 5);
    assert_eq!(store.append(&[Commit { events: vec![event(b, 3, 6)], idempotency: None }]).unwrap(), 6);
    drop(store);
    let mut full = open();
    assert_eq!(full.verify(&mut no_visit).unwrap().events, 6, "the log resumed and appended to verifies in full");
}

#[test]
fn sqlite_keeps_snapshots_and_resumes_only_from_a_matching_one() {
    let scratch = Scratch::new();
    let db = scratch.db();
    snapshot_contract(&|| Box::new(SqliteStore::open(&db).unwrap()));
}

#[test]
fn postgres_keeps_snapshots_and_resumes_only_from_a_matching_one() {
    let Some(schema) = ScratchSchema::new("snapshots") else { return };
    snapshot_contract(&|| Box::new(PostgresStore::open(schema.url()).unwrap()));
}
