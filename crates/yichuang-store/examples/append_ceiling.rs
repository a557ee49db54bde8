//! The raw append ceiling of the stores on this machine: commits per second of the store's own
//! append path, no engine and no HTTP, so that the service can be reported as a fraction of it
//! (docs/benchmarks.md, "Store append ceiling"; `scripts/store-ceiling` runs it beside pgbench).
//!
//! ```text
//! cargo run --release -p yichuang-store --example append_ceiling -- SECONDS [EVENTS_PER_COMMIT] [postgres://…]
//! ```
//!
//! Each commit is one event of a realistic size (a 我要开饭店 `Submitted`-sized body, ~400
//! bytes) with an idempotency record, appended as one transaction (one fsync), one after the
//! other from one thread: the single-row insert transaction that `pgbench` is given too.

use std::time::{Duration, Instant};

use yichuang_core::event::EVENT_SCHEMA_VERSION;
use yichuang_core::{Actor, CaseId, Event, Instant as HallInstant, Recorded, StreamId};
use yichuang_store::{Commit, EncodedEvent, EventStore, IdempotencyRecord, PostgresStore, SqliteStore, StoredEvent};

fn commit(position: u64, per_commit: u64) -> Commit {
    let events = (0..per_commit)
        .map(|i| {
            let p = position + i;
            let rec = Recorded {
                v: EVENT_SCHEMA_VERSION,
                stream: StreamId::Case(CaseId(p)),
                seq: 1,
                at: HallInstant::from_minutes(29_000_000 + p as i64),
                by: Actor::system(),
                event: Event::Rated { stars: 5, by_default: false },
            };
            StoredEvent { position: p, event: EncodedEvent::encode(rec) }
        })
        .collect();
    let last = position + per_commit - 1;
    Commit {
        events,
        idempotency: Some(IdempotencyRecord {
            scope: "demo-clerk-intake-1".into(),
            key: format!("bench-{last}"),
            fingerprint: last,
            status: 201,
            body: format!(
                "{{\"id\":\"C{last:06}\",\"state\":\"Received\",\"version\":1,\"events\":[{}]}}",
                "x".repeat(300)
            ),
            position: last,
        }),
    }
}

fn run(name: &str, store: &mut dyn EventStore, seconds: u64, per_commit: u64) {
    store.verify(&mut |_| Ok(())).expect("an empty store verifies");
    let mut position = 1;
    let mut commits = 0u64;
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let c = commit(position, per_commit);
        let t = Instant::now();
        store.append(&[c]).expect("append");
        latencies.push(t.elapsed());
        position += per_commit;
        commits += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "{name}: {commits} commits of {per_commit} event(s) + 1 key in {elapsed:.1} s = {:.0} commits/s, {:.0} events/s; latency p50 {:.2} ms p99 {:.2} ms",
        commits as f64 / elapsed,
        (commits * per_commit) as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let per_commit: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let dir = std::env::temp_dir().join(format!("yichuang-append-ceiling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    {
        let mut sqlite = SqliteStore::open(dir.join("ceiling.db")).expect("open SQLite");
        run("sqlite", &mut sqlite, seconds, per_commit);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(url) = args.get(3) {
        let mut pg = PostgresStore::open(url).expect("open PostgreSQL (give an empty schema)");
        run("postgres", &mut pg, seconds, per_commit);
    }
}
