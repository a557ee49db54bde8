//! The PostgreSQL store: the same log, records and chain as the SQLite store, in tables of one
//! PostgreSQL schema, for deployments whose database is PostgreSQL (or a derivative that speaks
//! its protocol).
//!
//! **Client.** The blocking `postgres` crate (rust-postgres). The store is used from the
//! service's writer, one synchronous OS thread that batches commands and waits for one commit
//! at a time; an async client would need a runtime inside that thread and a pool would have one
//! connection in use. Readers run on tokio's blocking threads (`spawn_blocking`), where the
//! blocking client is allowed. Both crates are the same code underneath (`postgres` wraps
//! `tokio-postgres`), so moving to the async client later changes no SQL.
//!
//! **Schema** (migration 1; `schema_version` lists the migrations applied, newest last):
//!
//! ```sql
//! schema_version (version INTEGER PRIMARY KEY, description TEXT, applied_at TIMESTAMPTZ)
//! meta        (key TEXT PRIMARY KEY, value TEXT)
//! events      (position BIGINT PRIMARY KEY, stream TEXT, seq INTEGER, kind TEXT, at BIGINT, body TEXT,
//!              keys BIGINT, key_hash BYTEA, hash BYTEA, UNIQUE (stream, seq))
//! idempotency (id BIGINT PRIMARY KEY, scope TEXT, key TEXT, fingerprint BIGINT, status INTEGER, body TEXT,
//!              position BIGINT, hash BYTEA, UNIQUE (scope, key))
//! ```
//!
//! `body` is `TEXT`, not `JSONB`: the chain hashes the exact bytes, and `JSONB` reorders keys.
//! `UNIQUE (stream, seq)` is what per-stream optimistic concurrency needs when several
//! instances append (an insert of `seq = version + 1` fails if another instance took it).
//! `fingerprint` holds the 64-bit fingerprint's bits as a signed `BIGINT`.
//!
//! **Several writers.** Any number of writers (instances of the service) share one schema. An
//! append serializes on the log's write lock, a transaction-level advisory lock keyed by the
//! schema (`pg_advisory_xact_lock(0x79636875, hashtext(schema))`), taken by
//! [`EventStore::catch_up`] with `lock` or by [`EventStore::append`] itself and released by the
//! transaction's end. Under the lock a writer reads what the others appended since its head
//! (checking shape and chain links), decides, and appends at the next positions; the append
//! checks once more that the log's head is the writer's (else [`AppendError::HeadMoved`]) and
//! `UNIQUE (stream, seq)` refuses a second event with a stream's number. So positions stay
//! gap-free, the hash chain stays one chain, and no decision is appended on a stale state. A
//! writer that stops while holding the lock (SIGSTOP, a partition) loses it when PostgreSQL ends
//! its session after `idle_in_transaction_session_timeout` (the **lease**, [`LEASE`] unless the
//! URL sets it): its later statements fail and nothing it decided is appended. Each append
//! notifies `LISTEN`ers on the channel `yichuang_<schema>` with the new head.
//!
//! **Group commit.** An append is one transaction: one `INSERT … SELECT FROM UNNEST(…)` for the
//! events, one for the records, the recorded head, `COMMIT` (durable with the server's default
//! `synchronous_commit = on`).

use std::sync::{Arc, Mutex, PoisonError};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, GenericClient, IsolationLevel, NoTls, Transaction};
use yichuang_core::StreamId;

use crate::{
    AppendError, ChainHead, Commit, Digest, EncodedEvent, EventLink, EventLog, EventStore, IdempotencyRecord,
    IntegrityError, KeyChainRead, KeyLink, LogSummary, SNAPSHOTS_KEPT, Shape, Snapshot, StoreError, StoredEvent,
    check_snapshot_link, head_text, parse_head,
};

/// The migrations, in order: version, description, SQL. A later migration is appended here and
/// never edits an earlier one; a database of a later version than this build knows is refused.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "events, idempotency records and metadata, with the hash chain",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE events (
         position BIGINT PRIMARY KEY,
         stream TEXT NOT NULL,
         seq INTEGER NOT NULL,
         kind TEXT NOT NULL,
         at BIGINT NOT NULL,
         body TEXT NOT NULL,
         keys BIGINT NOT NULL,
         key_hash BYTEA NOT NULL,
         hash BYTEA NOT NULL,
         UNIQUE (stream, seq)
     );
     CREATE TABLE idempotency (
         id BIGINT PRIMARY KEY,
         scope TEXT NOT NULL,
         key TEXT NOT NULL,
         fingerprint BIGINT NOT NULL,
         status INTEGER NOT NULL,
         body TEXT NOT NULL,
         position BIGINT NOT NULL,
         hash BYTEA NOT NULL,
         UNIQUE (scope, key)
     );",
    ),
    (
        2,
        "snapshots of the writers' state, for a start that does not fold the whole log",
        "CREATE TABLE snapshots (
         position BIGINT PRIMARY KEY,
         keys BIGINT NOT NULL,
         key_hash BYTEA NOT NULL,
         hash BYTEA NOT NULL,
         body TEXT NOT NULL
     );",
    ),
];

/// The first half of the advisory lock's key ("ychu"); the second is a hash of the schema.
const LOCK_CLASS: i32 = 0x7963_6875;

/// The lease: how long PostgreSQL lets a writer hold the write lock without a word from it
/// (`idle_in_transaction_session_timeout`) before it ends the writer's session, releasing the
/// lock for the others. A URL that sets the timeout itself (`options=-c
/// idle_in_transaction_session_timeout=…`) keeps its own value.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(5);

/// The migrations' own lock (a session-level advisory lock), so that instances starting
/// together migrate one at a time.
const MIGRATION_LOCK: i32 = 0x7963_686d;

/// Readers kept open for reuse.
const READERS_KEPT_MAX: usize = 8;

/// The single writer of a PostgreSQL event log.
pub struct PostgresStore {
    client: Client,
    /// A second connection for the reads that come through `&self` (the trait's readers,
    /// idempotency lookups, metadata).
    side: Mutex<Client>,
    config: Config,
    described: String,
    /// The schema (the write lock's key and the notification channel's name).
    schema: String,
    shape: Shape,
    verified: bool,
    /// Whether the writer's connection is inside a transaction holding the write lock.
    locked: bool,
    upgrades: Vec<String>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("database", &self.described).finish_non_exhaustive()
    }
}

/// Parses a connection URL (`postgres://user@host:port/database?options=-csearch_path%3Dschema`)
/// and names the process in `pg_stat_activity`.
fn config(url: &str) -> Result<Config, StoreError> {
    let mut config: Config =
        url.parse().map_err(|e: postgres::Error| StoreError::Url { url: redact(url), why: e.to_string() })?;
    if config.get_application_name().is_none() {
        config.application_name(&format!("yichuang pid {} on {}", std::process::id(), crate::sqlite::host_name()));
    }
    Ok(config)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn connect(config: &Config) -> Result<Client, StoreError> {
    Ok(config.connect(NoTls)?)
}

/// "database `test` on 127.0.0.1:5432, schema `public`".
fn describe(client: &mut Client, config: &Config) -> Result<(String, String), StoreError> {
    let schema: Option<String> = client.query_one("SELECT current_schema()", &[])?.get(0);
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("(the user's)");
    let Some(schema) = schema else {
        return Err(StoreError::NoSchema {
            database: format!("PostgreSQL database `{db}` on {}:{port}", hosts.join(",")),
        });
    };
    Ok((format!("PostgreSQL database `{db}` on {}:{port}, schema `{schema}`", hosts.join(",")), schema))
}

fn schema_version(client: &mut Client) -> Result<Option<i32>, StoreError> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_version')",
            &[],
        )?
        .get(0);
    if !exists {
        return Ok(None);
    }
    Ok(client.query_one("SELECT max(version) FROM schema_version", &[])?.get(0))
}

impl PostgresStore {
    /// Connects as a writer of the schema the URL's `search_path` names (`public` by default),
    /// creating or upgrading its tables by the migrations this build knows. Other writers may
    /// share the schema (module documentation, "Several writers"). Call [`EventStore::verify`]
    /// before the first append.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let config = config(url)?;
        let mut client = connect(&config)?;
        let (described, schema) = describe(&mut client, &config)?;
        set_lease(&mut client)?;
        let upgrades = migrate(&mut client)?;
        let side = Mutex::new(connect(&config)?);
        Ok(PostgresStore {
            client,
            side,
            config,
            described,
            schema,
            shape: Shape::default(),
            verified: false,
            locked: false,
            upgrades,
        })
    }

    /// Connects for reading only, as an audit does: no lock, no migration, every transaction
    /// read-only. The schema must be at the version this build writes.
    pub fn open_read_only(url: &str) -> Result<PostgresStore, StoreError> {
        let config = config(url)?;
        let mut client = connect(&config)?;
        let (described, schema) = describe(&mut client, &config)?;
        client.batch_execute("SET default_transaction_read_only = on")?;
        let latest = MIGRATIONS.last().map_or(0, |m| m.0);
        match schema_version(&mut client)? {
            None => return Err(StoreError::NotAStore { path: described.into() }),
            Some(v) if v == latest => {}
            Some(v) => return Err(StoreError::Format { found: v.to_string(), expected: "1" }),
        }
        let mut side = connect(&config)?;
        side.batch_execute("SET default_transaction_read_only = on")?;
        Ok(PostgresStore {
            client,
            side: Mutex::new(side),
            config,
            described,
            schema,
            shape: Shape::default(),
            verified: false,
            locked: false,
            upgrades: Vec::new(),
        })
    }

    /// What opening changed: one line per migration applied.
    pub fn upgrade_notes(&self) -> &[String] {
        &self.upgrades
    }

    /// "PostgreSQL database `test` on 127.0.0.1:5432, schema `public`".
    pub fn describe(&self) -> &str {
        &self.described
    }

    fn write(
        &mut self,
        commits: &[Commit],
        links: &[EventLink],
        key_links: &[KeyLink],
        head: &ChainHead,
    ) -> Result<(), StoreError> {
        let n = links.len();
        let (mut position, mut stream, mut seq, mut kind, mut at, mut body, mut keys, mut key_hash, mut hash) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut k_id, mut k_scope, mut k_key, mut k_fp, mut k_status, mut k_body, mut k_position, mut k_hash) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut links = links.iter();
        let mut key_links = key_links.iter();
        for commit in commits {
            if let Some(r) = &commit.idempotency {
                let link = key_links.next().expect("one link per record");
                k_id.push(sql_i64(link.number));
                k_scope.push(r.scope.as_str());
                k_key.push(r.key.as_str());
                k_fp.push(r.fingerprint as i64);
                k_status.push(i32::from(r.status));
                k_body.push(r.body.as_str());
                k_position.push(sql_i64(r.position));
                k_hash.push(&link.hash.0[..]);
            }
            for e in &commit.events {
                let rec = e.event.record();
                let link = links.next().expect("one link per event");
                position.push(sql_i64(e.position));
                stream.push(rec.stream.to_string());
                seq.push(i32::try_from(rec.seq).expect("stream versions stay below 2^31"));
                kind.push(rec.event.name());
                at.push(rec.at.minutes());
                body.push(e.event.json());
                keys.push(sql_i64(link.keys));
                key_hash.push(&link.key_hash.0[..]);
                hash.push(&link.hash.0[..]);
            }
        }
        let tx = &mut self.client;
        if !position.is_empty() {
            tx.execute(
                "INSERT INTO events (position, stream, seq, kind, at, body, keys, key_hash, hash) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::text[], \
                 $7::bigint[], $8::bytea[], $9::bytea[])",
                &[&position, &stream, &seq, &kind, &at, &body, &keys, &key_hash, &hash],
            )?;
        }
        if !k_id.is_empty() {
            tx.execute(
                "INSERT INTO idempotency (id, scope, key, fingerprint, status, body, position, hash) \
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::text[], \
                 $7::bigint[], $8::bytea[])",
                &[&k_id, &k_scope, &k_key, &k_fp, &k_status, &k_body, &k_position, &k_hash],
            )?;
        }
        set_meta(tx, "head", &head_text(head))?;
        tx.execute("SELECT pg_notify($1, $2)", &[&channel(&self.schema), &head.position.to_string()])?;
        tx.batch_execute("COMMIT")?;
        self.locked = false;
        Ok(())
    }

    /// Begins a transaction holding the log's write lock (reconnecting first if the session was
    /// ended, e.g. by the lease).
    fn lock(&mut self) -> Result<(), StoreError> {
        if self.locked {
            return Ok(());
        }
        if self.client.is_closed() {
            self.client = connect(&self.config)?;
            set_lease(&mut self.client)?;
        }
        self.client.batch_execute("BEGIN")?;
        self.locked = true;
        if let Err(e) =
            self.client.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&LOCK_CLASS, &self.schema])
        {
            self.abandon();
            return Err(e.into());
        }
        Ok(())
    }

    /// Ends the writer's transaction without committing (after a failure, or with nothing to
    /// append).
    fn abandon(&mut self) {
        if self.locked {
            self.locked = false;
            if !self.client.is_closed() {
                let _ = self.client.batch_execute("ROLLBACK");
            }
        }
    }

    /// The notification channel of this schema's log: `LISTEN` on it to hear of every append
    /// (its payload is the new head's position).
    pub fn channel(&self) -> String {
        channel(&self.schema)
    }

    /// The connection settings (for a listener of [`PostgresStore::channel`]).
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The notification channel of a schema.
fn channel(schema: &str) -> String {
    format!("yichuang_{schema}")
}

/// Sets the lease on a writer's session, unless its URL set one.
fn set_lease(client: &mut Client) -> Result<(), StoreError> {
    let current: String = client.query_one("SHOW idle_in_transaction_session_timeout", &[])?.get(0);
    if current == "0" {
        client.batch_execute(&format!("SET idle_in_transaction_session_timeout = {}", LEASE.as_millis()))?;
    }
    Ok(())
}

/// Applies the migrations the schema lacks, each in its own transaction with its row in
/// `schema_version`; returns a note per migration applied.
fn migrate(client: &mut Client) -> Result<Vec<String>, StoreError> {
    // Instances starting together: one migrates, the others wait and then find nothing to do.
    client.execute("SELECT pg_advisory_lock($1, hashtext(current_schema()))", &[&MIGRATION_LOCK])?;
    let result = migrate_locked(client);
    client.execute("SELECT pg_advisory_unlock($1, hashtext(current_schema()))", &[&MIGRATION_LOCK])?;
    result
}

fn migrate_locked(client: &mut Client) -> Result<Vec<String>, StoreError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version INTEGER PRIMARY KEY,
             description TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let current = schema_version(client)?.unwrap_or(0);
    let latest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > latest {
        return Err(StoreError::Format { found: current.to_string(), expected: "1" });
    }
    let mut notes = Vec::new();
    for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let mut tx = client.transaction()?;
        tx.batch_execute(sql)?;
        tx.execute("INSERT INTO schema_version (version, description) VALUES ($1, $2)", &[version, description])?;
        tx.commit()?;
        notes.push(format!("applied PostgreSQL schema migration {version}: {description}"));
    }
    Ok(notes)
}

/// Deletes the idempotency records of commands that ended before `position` and notes the last
/// number deleted, in the caller's transaction.
fn forget_keys(tx: &mut impl GenericClient, position: u64) -> Result<u64, StoreError> {
    let rows = tx.query("DELETE FROM idempotency WHERE position < $1 RETURNING id", &[&sql_i64(position)])?;
    let Some(last) = rows.iter().map(|r| r.get::<_, i64>(0)).max() else { return Ok(0) };
    let previous: Option<String> =
        tx.query_opt("SELECT value FROM meta WHERE key = 'keys_forgotten'", &[])?.map(|r| r.get(0));
    let last = previous.and_then(|p| p.parse::<i64>().ok()).map_or(last, |p| p.max(last));
    set_meta(tx, "keys_forgotten", &last.to_string())?;
    Ok(rows.len() as u64)
}

fn set_meta(tx: &mut impl GenericClient, key: &str, value: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )?;
    Ok(())
}

fn sql_i64(n: u64) -> i64 {
    i64::try_from(n).expect("positions and record numbers stay below 2^63")
}

fn record_of(row: &postgres::Row) -> IdempotencyRecord {
    let position: i64 = row.get("position");
    let status: i32 = row.get("status");
    let fingerprint: i64 = row.get("fingerprint");
    IdempotencyRecord {
        scope: row.get("scope"),
        key: row.get("key"),
        fingerprint: fingerprint as u64,
        status: u16::try_from(status).unwrap_or(0),
        body: row.get("body"),
        // A negative position is past any head: the dangling-key check names it.
        position: u64::try_from(position).unwrap_or(u64::MAX),
    }
}

fn stored_events(rows: Vec<postgres::Row>) -> Result<Vec<StoredEvent>, StoreError> {
    rows.into_iter()
        .map(|row| {
            let position = row.get::<_, i64>(0) as u64;
            let body: &str = row.get(1);
            let event = EncodedEvent::decode(body).map_err(|error| StoreError::Decode { position, error })?;
            Ok(StoredEvent { position, event })
        })
        .collect()
}

fn log_head(client: &mut Client) -> Result<u64, StoreError> {
    let head: i64 = client.query_one("SELECT coalesce(max(position), 0) FROM events", &[])?.get(0);
    Ok(head as u64)
}

fn log_read_stream(client: &mut Client, stream: StreamId) -> Result<Vec<StoredEvent>, StoreError> {
    let rows =
        client.query("SELECT position, body FROM events WHERE stream = $1 ORDER BY seq", &[&stream.to_string()])?;
    stored_events(rows)
}

fn log_read_after(client: &mut Client, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query("SELECT position, body FROM events WHERE position > $1 ORDER BY position LIMIT $2", &[&after, &limit])?;
    stored_events(rows)
}

fn log_chain_head(client: &mut Client) -> Result<ChainHead, StoreError> {
    let row =
        client.query_opt("SELECT position, keys, key_hash, hash FROM events ORDER BY position DESC LIMIT 1", &[])?;
    Ok(match row {
        Some(r) => ChainHead {
            position: r.get::<_, i64>(0) as u64,
            keys: r.get::<_, i64>(1) as u64,
            key_hash: Digest::from_slice(r.get(2)).unwrap_or_default(),
            hash: Digest::from_slice(r.get(3)).unwrap_or_default(),
        },
        None => ChainHead::default(),
    })
}

fn log_read_streams(client: &mut Client, streams: &[StreamId], through: u64) -> Result<Vec<StoredEvent>, StoreError> {
    let names: Vec<String> = streams.iter().map(ToString::to_string).collect();
    let through = i64::try_from(through).unwrap_or(i64::MAX);
    let rows = client.query(
        "SELECT position, body FROM events WHERE stream = ANY($1) AND position <= $2 ORDER BY position",
        &[&names, &through],
    )?;
    stored_events(rows)
}

fn log_link_at(client: &mut Client, position: u64) -> Result<Option<EventLink>, StoreError> {
    let Ok(position) = i64::try_from(position) else { return Ok(None) };
    let row = client.query_opt("SELECT keys, key_hash, hash FROM events WHERE position = $1", &[&position])?;
    Ok(row.map(|r| EventLink {
        keys: r.get::<_, i64>(0) as u64,
        key_hash: Digest::from_slice(r.get(1)).unwrap_or_default(),
        hash: Digest::from_slice(r.get(2)).unwrap_or_default(),
    }))
}

fn log_hash_at(client: &mut Client, position: u64) -> Result<Option<Digest>, StoreError> {
    let Ok(position) = i64::try_from(position) else { return Ok(None) };
    let row = client.query_opt("SELECT hash FROM events WHERE position = $1", &[&position])?;
    Ok(row.map(|r| Digest::from_slice(r.get(0)).unwrap_or_default()))
}

/// The events, read and checked in one snapshot with the recorded head.
fn verify_events(
    tx: &mut impl GenericClient,
    shape: &mut Shape,
    changes: &mut Vec<crate::KeyChange>,
    visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
) -> Result<u64, IntegrityError> {
    let mut read = 0;
    loop {
        let batch = verify_batch(tx, shape, changes, visit)?;
        read += batch;
        if batch < VERIFY_BATCH {
            return Ok(read);
        }
    }
}

/// Events read per query when the log is read in order. A bounded batch keeps the plan on the
/// primary key's index whatever the table's statistics say: without statistics (a table loaded
/// in bulk, or a server with autovacuum off) PostgreSQL plans an unbounded `position > $1` as a
/// sequential scan of the whole table and a sort, seconds at 10 M events even when nothing
/// follows `$1` (docs/benchmarks.md, "Start-up at 1 M and 10 M events").
const VERIFY_BATCH: u64 = 10_000;

/// One batch of [`verify_events`]: at most [`VERIFY_BATCH`] events after the shape's head.
fn verify_batch(
    tx: &mut impl GenericClient,
    shape: &mut Shape,
    changes: &mut Vec<crate::KeyChange>,
    visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
) -> Result<u64, IntegrityError> {
    let after = i64::try_from(shape.head).unwrap_or(i64::MAX);
    let limit = VERIFY_BATCH as i64;
    let mut rows = tx
        .query_raw(
            "SELECT position, stream, seq, kind, at, body, keys, key_hash, hash FROM events WHERE position > $1 \
             ORDER BY position LIMIT $2",
            [after, limit],
        )
        .map_err(StoreError::from)?;
    let mut read = 0;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        let position: i64 = row.get(0);
        let position = u64::try_from(position)
            .map_err(|_| IntegrityError::Damaged { position: 0, why: format!("negative position {position}") })?;
        let damaged = |why: String| IntegrityError::Damaged { position, why };
        let (stream, seq, kind, at, body): (&str, i32, &str, i64, &str) =
            (row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        let event = EncodedEvent::decode(body).map_err(|e| damaged(format!("the body does not decode: {e}")))?;
        let rec = event.record();
        if rec.stream.to_string() != stream
            || i64::from(rec.seq) != i64::from(seq)
            || rec.event.name() != kind
            || rec.at.minutes() != at
        {
            return Err(damaged(format!(
                "the columns say {stream} #{seq} {kind} at minute {at}, the body says {} #{} {} at minute {}",
                rec.stream,
                rec.seq,
                rec.event.name(),
                rec.at.minutes()
            )));
        }
        let keys: i64 = row.get(6);
        let link = match (u64::try_from(keys), Digest::from_slice(row.get(7)), Digest::from_slice(row.get(8))) {
            (Ok(keys), Some(key_hash), Some(hash)) => EventLink { keys, key_hash, hash },
            _ => {
                return Err(IntegrityError::Chain {
                    position,
                    why: "its stored link is not a count and two 32-byte hashes".into(),
                });
            }
        };
        let stored = StoredEvent { position, event };
        shape.verify_next(&stored, &link, changes)?;
        visit(&stored).map_err(|why| IntegrityError::Refused { position, why })?;
        read += 1;
    }
    Ok(read)
}

impl PostgresStore {
    fn verify_all(
        &mut self,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<(Shape, ChainHead, u64), IntegrityError> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(StoreError::from)?;
        let meta = |tx: &mut Transaction<'_>, key: &str| -> Result<Option<String>, IntegrityError> {
            Ok(tx
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
                .map_err(StoreError::from)?
                .map(|r| r.get(0)))
        };
        let recorded = meta(&mut tx, "head")?.as_deref().map(parse_head).transpose()?;
        let forgotten = match meta(&mut tx, "keys_forgotten")? {
            None => 0,
            Some(text) => text.parse().map_err(|_| IntegrityError::Damaged {
                position: 0,
                why: format!("the count of forgotten idempotency records `{text}` does not read"),
            })?,
        };
        let mut shape = Shape::default();
        let mut changes = Vec::new();
        verify_events(&mut tx, &mut shape, &mut changes, visit)?;
        shape.verify_recorded_head(recorded.as_ref())?;
        let rows = tx
            .query("SELECT id, scope, key, fingerprint, status, body, position, hash FROM idempotency ORDER BY id", &[])
            .map_err(StoreError::from)?;
        let mut read = KeyChainRead::default();
        let mut first = None;
        for row in &rows {
            let record = record_of(row);
            if record.position > shape.head {
                return Err(IntegrityError::DanglingKey {
                    key: record.key,
                    position: record.position,
                    head: shape.head,
                });
            }
            let id: i64 = row.get("id");
            let link = KeyLink {
                number: u64::try_from(id).unwrap_or(0),
                hash: Digest::from_slice(row.get("hash")).unwrap_or_default(),
            };
            read.next(&record, &link);
            if first.is_none() {
                first = Some((record, link));
            }
        }
        tx.commit().map_err(StoreError::from)?;
        let first_ref = first.as_ref().map(|(r, l)| (r, l));
        let head = read.cross_check(shape.chain, recorded.as_ref(), forgotten, &changes, first_ref)?;
        Ok((shape, head, rows.len() as u64))
    }
}

impl EventLog for PostgresStore {
    fn head(&self) -> Result<u64, StoreError> {
        // `EventLog` reads through `&self`; the writer's own connection is borrowed mutably
        // only by the writer, so a reader connection answers here.
        self.with_reader(log_head)
    }
    fn read_stream(&self, stream: StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        self.with_reader(|c| log_read_stream(c, stream))
    }
    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.with_reader(|c| log_read_after(c, after, limit))
    }
    fn chain_head(&self) -> Result<ChainHead, StoreError> {
        self.with_reader(log_chain_head)
    }
    fn hash_at(&self, position: u64) -> Result<Option<Digest>, StoreError> {
        self.with_reader(|c| log_hash_at(c, position))
    }
    fn read_streams(&self, streams: &[StreamId], through: u64) -> Result<Vec<StoredEvent>, StoreError> {
        self.with_reader(|c| log_read_streams(c, streams, through))
    }
}

impl PostgresStore {
    fn with_reader<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut side = self.side.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut side)
    }
}

impl PostgresStore {
    /// The head the last append recorded (events and idempotency records), read on the writer's
    /// connection (inside its transaction when it holds the lock).
    fn recorded_head(&mut self) -> Result<Option<ChainHead>, IntegrityError> {
        let text: Option<String> = self
            .client
            .query_opt("SELECT value FROM meta WHERE key = 'head'", &[])
            .map_err(StoreError::from)?
            .map(|r| r.get(0));
        text.as_deref().map(parse_head).transpose()
    }

    /// Reads and checks the other writers' events after this writer's head, then takes the key
    /// chain's head from the recorded head when it is at the same position (records of commands
    /// that appended no event are chained after the last event).
    fn catch_up_here(
        &mut self,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<u64, IntegrityError> {
        let mut changes = Vec::new();
        let read = verify_events(&mut self.client, &mut self.shape, &mut changes, visit)?;
        if let Some(recorded) = self.recorded_head()? {
            if recorded.position < self.shape.head {
                return Err(IntegrityError::Truncated { head: recorded.position, recorded: self.shape.head });
            }
            if recorded.position == self.shape.head && recorded.hash == self.shape.chain.hash {
                if recorded.keys < self.shape.chain.keys {
                    return Err(IntegrityError::KeyChain {
                        number: self.shape.chain.keys,
                        position: recorded.position,
                        why: format!(
                            "the recorded head counts {} idempotency records, fewer than this writer chained",
                            recorded.keys
                        ),
                    });
                }
                self.shape.chain.keys = recorded.keys;
                self.shape.chain.key_hash = recorded.key_hash;
            }
        }
        Ok(read)
    }

    /// The append, inside the transaction that holds the write lock: refused unless the log is
    /// still where this writer last saw it (events and idempotency records).
    fn append_locked(&mut self, commits: &[Commit]) -> Result<u64, AppendError> {
        let recorded = self.recorded_head().map_err(|e| match e {
            IntegrityError::Store(e) => AppendError::Store(e),
            other => AppendError::Store(StoreError::Format { found: other.to_string(), expected: "a readable head" }),
        })?;
        let recorded = recorded.unwrap_or_default();
        let first = commits.iter().flat_map(|c| c.events.first()).map(|e| e.position).next();
        if recorded.position != self.shape.head || recorded.keys != self.shape.chain.keys {
            return Err(AppendError::HeadMoved {
                head: recorded.position,
                first: first.unwrap_or(self.shape.head + 1),
            });
        }
        let planned = {
            let client = &mut self.client;
            let mut known = |scope: &str, key: &str| {
                Ok(client
                    .query_opt("SELECT 1 FROM idempotency WHERE scope = $1 AND key = $2", &[&scope, &key])?
                    .is_some())
            };
            self.shape.check(commits, &mut known)?
        };
        if planned.head == self.shape.head && planned.keys.is_empty() {
            self.abandon();
            return Ok(planned.head);
        }
        self.write(commits, &planned.events, &planned.keys, &planned.chain).map_err(AppendError::Store)?;
        let head = planned.head;
        self.shape.commit(planned);
        Ok(head)
    }
}

impl EventStore for PostgresStore {
    fn append(&mut self, commits: &[Commit]) -> Result<u64, AppendError> {
        assert!(self.verified, "verify the log before appending: it reads the head, stream versions and keys");
        if commits.iter().all(|c| c.events.is_empty() && c.idempotency.is_none()) {
            self.abandon();
            return Ok(self.shape.head);
        }
        self.lock()?;
        let result = self.append_locked(commits);
        if result.is_err() {
            self.abandon();
        }
        result
    }

    fn shared(&self) -> bool {
        true
    }

    fn catch_up(
        &mut self,
        lock: bool,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<u64, IntegrityError> {
        assert!(self.verified, "verify the log before following it");
        if lock {
            self.lock()?;
        } else if self.client.is_closed() {
            self.client = connect(&self.config)?;
            set_lease(&mut self.client)?;
        }
        let result = self.catch_up_here(visit);
        if result.is_err() {
            self.abandon();
        }
        result
    }

    fn release(&mut self) -> Result<(), StoreError> {
        if self.locked {
            // COMMIT, not ROLLBACK: the transaction may hold the retention's deletions.
            self.locked = false;
            self.client.batch_execute("COMMIT")?;
        }
        Ok(())
    }

    fn idempotency(&self, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        // The writer's connection is `&mut`; lookups go through the side connection.
        self.with_reader(|c| {
            let row = c.query_opt(
                "SELECT scope, key, fingerprint, status, body, position FROM idempotency WHERE scope = $1 AND key = $2",
                &[&scope, &key],
            )?;
            Ok(row.as_ref().map(record_of))
        })
    }

    fn forget_keys_before(&mut self, position: u64) -> Result<u64, StoreError> {
        // Under the write lock, so that another writer's retention or append does not
        // interleave: inside the writer's open transaction if it holds the lock (committed with
        // its append or release), else in a transaction of its own.
        let own = !self.locked;
        self.lock()?;
        let result = forget_keys(&mut self.client, position);
        match result {
            Err(e) => {
                self.abandon();
                Err(e)
            }
            Ok(n) if own => {
                self.release()?;
                Ok(n)
            }
            Ok(n) => Ok(n),
        }
    }

    fn verify(
        &mut self,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<LogSummary, IntegrityError> {
        if self.client.is_closed() {
            // After a lost session (the lease ended it): a writer rebuilds from a new one.
            self.locked = false;
            self.client = connect(&self.config)?;
            set_lease(&mut self.client)?;
        }
        self.release()?;
        let (shape, head, records) = self.verify_all(visit)?;
        let summary = LogSummary {
            events: shape.head,
            streams: shape.versions.len() as u64,
            idempotency_records: records,
            head: ChainHead { keys: head.keys, key_hash: head.key_hash, ..shape.chain },
        };
        self.shape = shape;
        self.shape.chain = summary.head;
        self.verified = true;
        Ok(summary)
    }

    fn save_snapshot(&mut self, position: u64, body: &str) -> Result<(), StoreError> {
        self.with_reader(|c| {
            let Some(link) = log_link_at(c, position)? else {
                return Err(StoreError::Format {
                    found: format!("no event at position {position}"),
                    expected: "a snapshot of a stored position",
                });
            };
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO snapshots (position, keys, key_hash, hash, body) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (position) DO NOTHING",
                &[&sql_i64(position), &sql_i64(link.keys), &&link.key_hash.0[..], &&link.hash.0[..], &body],
            )?;
            tx.execute(
                "DELETE FROM snapshots WHERE position NOT IN \
                 (SELECT position FROM snapshots ORDER BY position DESC LIMIT $1)",
                &[&(SNAPSHOTS_KEPT as i64)],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        self.with_reader(|c| {
            let row = c.query_opt(
                "SELECT position, keys, key_hash, hash, body FROM snapshots ORDER BY position DESC LIMIT 1",
                &[],
            )?;
            Ok(row.map(|r| {
                let position = r.get::<_, i64>(0) as u64;
                Snapshot {
                    position,
                    head: ChainHead {
                        position,
                        keys: r.get::<_, i64>(1) as u64,
                        key_hash: Digest::from_slice(r.get(2)).unwrap_or_default(),
                        hash: Digest::from_slice(r.get(3)).unwrap_or_default(),
                    },
                    body: r.get(4),
                }
            }))
        })
    }

    fn resume(
        &mut self,
        snapshot: &ChainHead,
        versions: &mut dyn Iterator<Item = (StreamId, u32)>,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<LogSummary, IntegrityError> {
        if self.client.is_closed() {
            self.locked = false;
            self.client = connect(&self.config)?;
            set_lease(&mut self.client)?;
        }
        self.release()?;
        let link = self.with_reader(|c| log_link_at(c, snapshot.position))?;
        check_snapshot_link(snapshot, link)?;
        self.shape = Shape { head: snapshot.position, versions: versions.collect(), chain: *snapshot };
        self.catch_up_here(visit)?;
        let records: i64 = self.with_reader(|c| Ok(c.query_one("SELECT count(*) FROM idempotency", &[])?.get(0)))?;
        self.verified = true;
        Ok(LogSummary {
            events: self.shape.head,
            streams: self.shape.versions.len() as u64,
            idempotency_records: records as u64,
            head: self.shape.chain,
        })
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.with_reader(|c| Ok(c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?.map(|r| r.get(0))))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.release()?;
        let mut tx = self.client.transaction()?;
        set_meta(&mut tx, key, value)?;
        tx.commit()?;
        Ok(())
    }

    fn readers(&self) -> Arc<dyn EventLog + Send + Sync> {
        Arc::new(PostgresReaders { config: self.config.clone(), idle: Mutex::new(Vec::new()) })
    }
}

/// A pool of connections for readers on any thread (the service's `spawn_blocking` reads).
pub struct PostgresReaders {
    config: Config,
    idle: Mutex<Vec<Client>>,
}

impl PostgresReaders {
    fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut client = match idle {
            Some(c) if !c.is_closed() => c,
            _ => connect(&self.config)?,
        };
        let result = f(&mut client);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READERS_KEPT_MAX && result.is_ok() {
            idle.push(client);
        }
        result
    }
}

impl Drop for PostgresReaders {
    fn drop(&mut self) {
        // Closing a blocking client runs its own small runtime, which panics on a thread that
        // drives an async runtime (the service may drop its readers there): close them on a
        // thread of their own.
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

impl EventLog for PostgresReaders {
    fn head(&self) -> Result<u64, StoreError> {
        self.with(log_head)
    }
    fn read_stream(&self, stream: StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        self.with(|c| log_read_stream(c, stream))
    }
    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.with(|c| log_read_after(c, after, limit))
    }
    fn chain_head(&self) -> Result<ChainHead, StoreError> {
        self.with(log_chain_head)
    }
    fn hash_at(&self, position: u64) -> Result<Option<Digest>, StoreError> {
        self.with(|c| log_hash_at(c, position))
    }
}
