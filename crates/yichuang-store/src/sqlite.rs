//! The SQLite store: one database file in WAL mode with `synchronous = FULL`.
//!
//! Schema (format 1):
//!
//! ```sql
//! events      (position INTEGER PRIMARY KEY, stream TEXT, seq INTEGER, kind TEXT, at INTEGER, body TEXT,
//!              UNIQUE (stream, seq))
//! idempotency (scope TEXT, key TEXT, fingerprint TEXT, status INTEGER, body TEXT, position INTEGER,
//!              PRIMARY KEY (scope, key))
//! meta        (key TEXT PRIMARY KEY, value TEXT)
//! ```
//!
//! `body` is the event's canonical JSON (the source of truth); `stream`, `seq`, `kind` and `at`
//! are copies for indexing and for humans with the `sqlite3` shell, checked against the body by
//! [`EventStore::verify`]. Every append is one `BEGIN IMMEDIATE … COMMIT`; in WAL mode with
//! `synchronous = FULL`, `COMMIT` returns after the WAL is fsync'd.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use yichuang_core::StreamId;

use crate::{
    AppendError, Commit, EncodedEvent, EventLog, EventStore, IdempotencyRecord, IntegrityError, LogSummary, Shape,
    StoreError, StoredEvent,
};

/// The store format this build writes and reads.
const FORMAT: &str = "1";

/// Readers kept open for reuse; more are opened on demand and closed after use.
const READERS_KEPT_MAX: usize = 8;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (stream, seq)
);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
";

/// The single writer of a SQLite event log.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    shape: Shape,
    verified: bool,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, switching it to WAL with `synchronous = FULL`.
    /// Call [`EventStore::verify`] before the first append: it reads the log's shape (head and
    /// stream versions) that appends are checked against.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL: readers never block the writer, and a commit is one sequential WAL write + fsync.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal { mode });
        }
        // FULL: the WAL is fsync'd at every commit, so a returned commit survives power loss
        // (NORMAL would only survive a process crash).
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        conn.execute_batch(SCHEMA)?;
        let format: Option<String> =
            conn.query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| r.get(0)).optional()?;
        match format {
            None => {
                conn.execute("INSERT INTO meta (key, value) VALUES ('format', ?1)", [FORMAT])?;
            }
            Some(f) if f == FORMAT => {}
            Some(found) => return Err(StoreError::Format { found, expected: FORMAT }),
        }
        Ok(SqliteStore { conn, path, shape: Shape::default(), verified: false })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn known_key(&self, scope: &str, key: &str) -> Result<bool, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT 1 FROM idempotency WHERE scope = ?1 AND key = ?2")?;
        Ok(stmt.exists(params![scope, key])?)
    }

    fn write(&mut self, commits: &[Commit]) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert_event = tx.prepare_cached(
                "INSERT INTO events (position, stream, seq, kind, at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut insert_key = tx.prepare_cached(
                "INSERT INTO idempotency (scope, key, fingerprint, status, body, position) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for commit in commits {
                for e in &commit.events {
                    let rec = e.event.record();
                    insert_event.execute(params![
                        position_sql(e.position),
                        rec.stream.to_string(),
                        rec.seq,
                        rec.event.name(),
                        rec.at.minutes(),
                        e.event.json(),
                    ])?;
                }
                if let Some(r) = &commit.idempotency {
                    insert_key.execute(params![
                        r.scope,
                        r.key,
                        format!("{:016x}", r.fingerprint),
                        r.status,
                        r.body,
                        position_sql(r.position),
                    ])?;
                }
            }
        }
        // Dropping `tx` on an error path above rolls the transaction back.
        tx.commit()?;
        Ok(())
    }
}

fn position_sql(position: u64) -> i64 {
    i64::try_from(position).expect("positions stay below 2^63")
}

impl EventLog for SqliteStore {
    fn head(&self) -> Result<u64, StoreError> {
        head(&self.conn)
    }
    fn read_stream(&self, stream: StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        read_stream(&self.conn, stream)
    }
    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        read_after(&self.conn, after, limit)
    }
    fn idempotency(&self, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        idempotency(&self.conn, scope, key)
    }
}

impl EventStore for SqliteStore {
    fn append(&mut self, commits: &[Commit]) -> Result<u64, AppendError> {
        assert!(self.verified, "verify the log before appending: it reads the head and the stream versions");
        let (touched, new_head) = self.shape.check(commits, &|scope, key| self.known_key(scope, key))?;
        if new_head == self.shape.head && commits.iter().all(|c| c.idempotency.is_none()) {
            return Ok(new_head);
        }
        if let Err(e) = self.write(commits) {
            // The transaction was rolled back; the log is as it was, but whether the disk is
            // still usable is for the caller to find out (it re-reads the log).
            return Err(AppendError::Store(e));
        }
        self.shape.versions.extend(touched);
        self.shape.head = new_head;
        Ok(new_head)
    }

    fn verify(
        &mut self,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<LogSummary, IntegrityError> {
        let check: String = self.conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(StoreError::from)?;
        if check != "ok" {
            return Err(IntegrityError::File(check));
        }
        let mut shape = Shape::default();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT position, stream, seq, kind, at, body FROM events ORDER BY position")
                .map_err(StoreError::from)?;
            let mut rows = stmt.query([]).map_err(StoreError::from)?;
            while let Some(row) = rows.next().map_err(StoreError::from)? {
                let position: i64 = row.get(0).map_err(StoreError::from)?;
                let position = u64::try_from(position)
                    .map_err(|_| IntegrityError::Damaged { position: 0, why: format!("negative position {position}") })?;
                let stream: String = row.get(1).map_err(StoreError::from)?;
                let seq: i64 = row.get(2).map_err(StoreError::from)?;
                let kind: String = row.get(3).map_err(StoreError::from)?;
                let at: i64 = row.get(4).map_err(StoreError::from)?;
                let body: String = row.get(5).map_err(StoreError::from)?;
                let damaged = |why: String| IntegrityError::Damaged { position, why };
                let event = EncodedEvent::decode(&body).map_err(|e| damaged(format!("the body does not decode: {e}")))?;
                let rec = event.record();
                if rec.stream.to_string() != stream
                    || i64::from(rec.seq) != seq
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
                let stored = StoredEvent { position, event };
                shape.verify_next(&stored)?;
                visit(&stored).map_err(|why| IntegrityError::Refused { position, why })?;
            }
        }
        let (keys, dangling): (i64, Option<(String, i64)>) = {
            let keys = self.conn.query_row("SELECT COUNT(*) FROM idempotency", [], |r| r.get(0));
            let dangling = self
                .conn
                .query_row(
                    "SELECT key, position FROM idempotency WHERE position > ?1 LIMIT 1",
                    [position_sql(shape.head)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional();
            (keys.map_err(StoreError::from)?, dangling.map_err(StoreError::from)?)
        };
        if let Some((key, position)) = dangling {
            return Err(IntegrityError::DanglingKey { key, position: position as u64, head: shape.head });
        }
        let summary =
            LogSummary { events: shape.head, streams: shape.versions.len() as u64, idempotency_records: keys as u64 };
        self.shape = shape;
        self.verified = true;
        Ok(summary)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn readers(&self) -> Arc<dyn EventLog + Send + Sync> {
        Arc::new(SqliteReaders::new(self.path.clone()))
    }
}

/// A pool of read-only connections to a SQLite event log, for any number of threads. Each read
/// is one SQLite read transaction: it sees every commit that finished before it began.
#[derive(Debug)]
pub struct SqliteReaders {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReaders {
    /// Readers of the database at `path` (opened lazily).
    pub fn new(path: PathBuf) -> SqliteReaders {
        SqliteReaders { path, idle: Mutex::new(Vec::new()) }
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(&self.path, flags)?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn
            }
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READERS_KEPT_MAX {
            idle.push(conn);
        }
        result
    }
}

impl EventLog for SqliteReaders {
    fn head(&self) -> Result<u64, StoreError> {
        self.with(head)
    }
    fn read_stream(&self, stream: StreamId) -> Result<Vec<StoredEvent>, StoreError> {
        self.with(|c| read_stream(c, stream))
    }
    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.with(|c| read_after(c, after, limit))
    }
    fn idempotency(&self, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.with(|c| idempotency(c, scope, key))
    }
}

fn head(conn: &Connection) -> Result<u64, StoreError> {
    let head: i64 = conn.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| r.get(0))?;
    Ok(head as u64)
}

fn decode_rows(rows: Vec<(i64, String)>) -> Result<Vec<StoredEvent>, StoreError> {
    rows.into_iter()
        .map(|(position, body)| {
            let position = position as u64;
            let event = EncodedEvent::decode(&body).map_err(|error| StoreError::Decode { position, error })?;
            Ok(StoredEvent { position, event })
        })
        .collect()
}

fn read_stream(conn: &Connection, stream: StreamId) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT position, body FROM events WHERE stream = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([stream.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    decode_rows(rows)
}

fn read_after(conn: &Connection, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT position, body FROM events WHERE position > ?1 ORDER BY position LIMIT ?2")?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![i64::try_from(after).unwrap_or(i64::MAX), limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    decode_rows(rows)
}

fn idempotency(conn: &Connection, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT fingerprint, status, body, position FROM idempotency WHERE scope = ?1 AND key = ?2",
    )?;
    let row = stmt
        .query_row(params![scope, key], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u16>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
        })
        .optional()?;
    Ok(row.map(|(fingerprint, status, body, position)| IdempotencyRecord {
        scope: scope.to_owned(),
        key: key.to_owned(),
        fingerprint: u64::from_str_radix(&fingerprint, 16).unwrap_or(0),
        status,
        body,
        position: position as u64,
    }))
}
