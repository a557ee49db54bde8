//! The SQLite store: one database file in WAL mode with `synchronous = FULL`.
//!
//! Schema (format 1):
//!
//! ```sql
//! events      (position INTEGER PRIMARY KEY, stream TEXT, seq INTEGER, kind TEXT, at INTEGER, body TEXT,
//!              UNIQUE (stream, seq))
//! idempotency (id INTEGER PRIMARY KEY, scope TEXT, key TEXT, fingerprint TEXT, status INTEGER, body TEXT,
//!              position INTEGER)
//! meta        (key TEXT PRIMARY KEY, value TEXT)
//! ```
//!
//! `body` is the event's canonical JSON (the source of truth); `stream`, `seq`, `kind` and `at`
//! are copies for indexing and for humans with the `sqlite3` shell, checked against the body by
//! [`EventStore::verify`]. Every append is one `BEGIN IMMEDIATE … COMMIT`; in WAL mode with
//! `synchronous = FULL`, `COMMIT` returns after the WAL is fsync'd.
//!
//! Events grow at the end only, by position. Idempotency records are appended at the end, in
//! log order, and forgotten from the start when the writer's retention drops them
//! ([`EventStore::forget_keys_before`]).
//! Keys are found through an index in the writer's memory (a 64-bit hash of scope and key →
//! row ids), rebuilt by [`EventStore::verify`]; a SQLite index on random client keys would
//! dirty one B-tree page per key and multiply the bytes each commit writes and fsyncs.
//!
//! WAL checkpoints (copying the log into the database file) run on a separate connection,
//! [`Checkpointer`], so that they do not lengthen commits; the writer's own automatic
//! checkpoint is kept only as a safety net with a high threshold.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

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

/// SQLite's page cache of the writer and the checkpointer, in KiB: the recent part of both
/// tables and their indexes stays in memory.
const CACHE_KIB: i64 = 64 * 1024;

/// SQLite's page cache of each reader, in KiB.
const READER_CACHE_KIB: i64 = 8 * 1024;

/// WAL pages after which the writer checkpoints by itself, should the [`Checkpointer`] not run
/// (32,768 pages of 4 KiB = 128 MiB).
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 32_768;

/// How long a connection waits for a lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    position INTEGER NOT NULL
);
";

/// Idempotency keys by a 64-bit hash of scope and key, to row ids. A hash shared by two keys
/// keeps both rows (`more`); a lookup compares the row's scope and key.
#[derive(Debug, Default)]
struct KeyIndex {
    first: HashMap<u64, i64>,
    more: HashMap<u64, Vec<i64>>,
}

impl KeyIndex {
    fn hash(scope: &str, key: &str) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in scope.as_bytes().iter().chain(&[0xff]).chain(key.as_bytes()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }

    fn insert(&mut self, hash: u64, id: i64) {
        if let Some(&existing) = self.first.get(&hash) {
            debug_assert_ne!(existing, id);
            self.more.entry(hash).or_default().push(id);
        } else {
            self.first.insert(hash, id);
        }
    }

    fn candidates(&self, hash: u64) -> impl Iterator<Item = i64> + '_ {
        self.first.get(&hash).copied().into_iter().chain(self.more.get(&hash).into_iter().flatten().copied())
    }

    fn len(&self) -> usize {
        self.first.len() + self.more.values().map(Vec::len).sum::<usize>()
    }

    /// Drops the row ids that `forgotten` names.
    fn forget(&mut self, forgotten: &std::collections::HashSet<i64>) {
        self.more.retain(|_, ids| {
            ids.retain(|id| !forgotten.contains(id));
            !ids.is_empty()
        });
        let mut orphaned = Vec::new();
        self.first.retain(|&hash, id| {
            let keep = !forgotten.contains(id);
            if !keep {
                orphaned.push(hash);
            }
            keep
        });
        // A hash whose first row went but that still has others: one of them becomes first.
        for hash in orphaned {
            if let Some(ids) = self.more.get_mut(&hash) {
                let id = ids.remove(0);
                if ids.is_empty() {
                    self.more.remove(&hash);
                }
                self.first.insert(hash, id);
            }
        }
    }
}

/// The single writer of a SQLite event log.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    shape: Shape,
    keys: KeyIndex,
    verified: bool,
}

fn configure(conn: &Connection, cache_kib: i64) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{cache_kib};"))?;
    Ok(())
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, switching it to WAL with `synchronous = FULL`.
    /// Call [`EventStore::verify`] before the first append: it reads the log's shape (head,
    /// stream versions, keys) that appends are checked against.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path)?;
        configure(&conn, CACHE_KIB)?;
        // WAL: readers never block the writer, and a commit is one sequential WAL write + fsync.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal { mode });
        }
        // FULL: the WAL is fsync'd at every commit, so a returned commit survives power loss
        // (NORMAL would only survive a process crash).
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT_PAGES};"
        ))?;
        // An existing store (it has its metadata) must have every table: recreating a lost one
        // empty would hide the damage until the log fails its check.
        if table_exists(&conn, "meta")? {
            check_tables(&conn)?;
        }
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
        Ok(SqliteStore { conn, path, shape: Shape::default(), keys: KeyIndex::default(), verified: false })
    }

    /// Opens an existing database for reading only, as an audit does (`yichuang replay --db`):
    /// the file is never created and nothing in it changes (no switch to WAL, no schema, no
    /// metadata); [`EventStore::verify`] runs the same checks as before a writer's first append,
    /// and any write fails with SQLite's read-only error. A database the service has open may be
    /// read meanwhile: the reader sees the commits made before it started.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        let format = configure(&conn, CACHE_KIB).and_then(|()| {
            Ok(conn
                .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| r.get::<_, String>(0))
                .optional()?)
        });
        let not_a_store = || StoreError::NotAStore { path: path.clone() };
        match format {
            Ok(Some(f)) if f == FORMAT => {}
            Ok(Some(found)) => return Err(StoreError::Format { found, expected: FORMAT }),
            Ok(None) => return Err(not_a_store()),
            // Not SQLite at all, or SQLite without the store's tables.
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::NotADatabase =>
            {
                return Err(not_a_store());
            }
            Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(_, Some(message))))
                if message.starts_with("no such table") =>
            {
                return Err(not_a_store());
            }
            Err(e) => return Err(e),
        }
        check_tables(&conn)?;
        Ok(SqliteStore { conn, path, shape: Shape::default(), keys: KeyIndex::default(), verified: false })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second connection that checkpoints the WAL into the database file, for a background
    /// thread (see [`Checkpointer::checkpoint`]).
    pub fn checkpointer(&self) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(&self.path)?;
        configure(&conn, CACHE_KIB)?;
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        Ok(Checkpointer { conn })
    }

    fn find(&self, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        assert!(self.verified, "verify the log before looking keys up: it builds the key index");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT scope, key, fingerprint, status, body, position FROM idempotency WHERE id = ?1")?;
        for id in self.keys.candidates(KeyIndex::hash(scope, key)) {
            // A row the index names but the table lacks is skipped, not an error for every
            // later lookup of the same hash.
            let row = stmt.query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u16>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            });
            let (s, k, fingerprint, status, body, position) = match row.optional()? {
                Some(row) => row,
                None => continue,
            };
            if s == scope && k == key {
                return Ok(Some(IdempotencyRecord {
                    scope: s,
                    key: k,
                    fingerprint: u64::from_str_radix(&fingerprint, 16).unwrap_or(0),
                    status,
                    body,
                    position: position as u64,
                }));
            }
        }
        Ok(None)
    }

    /// Writes the commits in one transaction; returns the (hash, row id) of each key written.
    fn write(&mut self, commits: &[Commit]) -> Result<Vec<(u64, i64)>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut written = Vec::new();
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
                    written.push((KeyIndex::hash(&r.scope, &r.key), tx.last_insert_rowid()));
                }
            }
        }
        // Dropping `tx` on an error path above rolls the transaction back.
        tx.commit()?;
        Ok(written)
    }
}

/// Whether the database has a table of that name.
fn table_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Refuses a store that lost one of its tables.
fn check_tables(conn: &Connection) -> Result<(), StoreError> {
    for table in ["meta", "events", "idempotency"] {
        if !table_exists(conn, table)? {
            return Err(StoreError::MissingTable { table });
        }
    }
    Ok(())
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
}

impl EventStore for SqliteStore {
    fn append(&mut self, commits: &[Commit]) -> Result<u64, AppendError> {
        assert!(self.verified, "verify the log before appending: it reads the head, stream versions and keys");
        let (touched, new_head) = {
            let mut known = |scope: &str, key: &str| Ok(self.find(scope, key)?.is_some());
            self.shape.check(commits, &mut known)?
        };
        if new_head == self.shape.head && commits.iter().all(|c| c.idempotency.is_none()) {
            return Ok(new_head);
        }
        // On an error the transaction was rolled back: the log is as it was. Whether the disk
        // is still usable is for the caller to find out (it re-reads the log).
        let written = self.write(commits).map_err(AppendError::Store)?;
        for (hash, id) in written {
            self.keys.insert(hash, id);
        }
        self.shape.versions.extend(touched);
        self.shape.head = new_head;
        Ok(new_head)
    }

    fn idempotency(&self, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.find(scope, key)
    }

    fn forget_keys_before(&mut self, position: u64) -> Result<u64, StoreError> {
        assert!(self.verified, "verify the log before forgetting keys: it builds the key index");
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let forgotten: std::collections::HashSet<i64> = {
            let mut stmt = tx.prepare("SELECT id FROM idempotency WHERE position < ?1")?;
            let ids = stmt.query_map([position_sql(position)], |r| r.get::<_, i64>(0))?;
            ids.collect::<Result<_, _>>()?
        };
        if forgotten.is_empty() {
            return Ok(0);
        }
        tx.execute("DELETE FROM idempotency WHERE position < ?1", [position_sql(position)])?;
        tx.commit()?;
        // Only after the commit: a failed delete leaves the index as the table is.
        self.keys.forget(&forgotten);
        Ok(forgotten.len() as u64)
    }

    fn verify(
        &mut self,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<LogSummary, IntegrityError> {
        // The file check and the key check read other pages than the events: on a connection
        // of their own they run on the other core while this thread decodes and folds the log.
        // The errors keep their order: a damaged file first, then the events, then the keys.
        //
        // The second connection's snapshot is taken first, before the events are read: on a
        // file a service is writing (an audit), the events' snapshot is then at least as recent,
        // so a key never points past the log's end only because a commit fell between the two.
        let beside = pinned_reader(&self.path)?;
        let (file_and_keys, shape) = std::thread::scope(|scope| {
            let beside = scope.spawn(move || check_file_and_keys(&beside));
            let shape = verify_events(&self.conn, visit);
            (beside.join(), shape)
        });
        let (check, keys) = match file_and_keys {
            Ok(result) => result?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        if check != "ok" {
            return Err(IntegrityError::File(check));
        }
        let shape = shape?;
        let keys = keys?;
        if keys.last_position > shape.head {
            return Err(first_dangling_key(&self.conn, shape.head)?);
        }
        let keys = keys.index;
        let summary = LogSummary {
            events: shape.head,
            streams: shape.versions.len() as u64,
            idempotency_records: keys.len() as u64,
        };
        self.shape = shape;
        self.keys = keys;
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

fn verify_events(
    conn: &Connection,
    visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
) -> Result<Shape, IntegrityError> {
    let mut shape = Shape::default();
    let mut stmt = conn
        .prepare("SELECT position, stream, seq, kind, at, body FROM events ORDER BY position")
        .map_err(StoreError::from)?;
    let mut rows = stmt.query([]).map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        let position: i64 = row.get(0).map_err(StoreError::from)?;
        let position = u64::try_from(position)
            .map_err(|_| IntegrityError::Damaged { position: 0, why: format!("negative position {position}") })?;
        let damaged = |why: String| IntegrityError::Damaged { position, why };
        // A value of the wrong type, or text that is not UTF-8, is damage at this position.
        let column = |e: rusqlite::Error| match e {
            rusqlite::Error::FromSqlConversionFailure(i, _, why) => damaged(format!(
                "column {} does not read: {why}",
                ["position", "stream", "seq", "kind", "at", "body"][i]
            )),
            rusqlite::Error::InvalidColumnType(_, name, found) => {
                damaged(format!("column {name} holds a value of type {found}"))
            }
            e => IntegrityError::Store(e.into()),
        };
        let stream: String = row.get(1).map_err(column)?;
        let seq: i64 = row.get(2).map_err(column)?;
        let kind: String = row.get(3).map_err(column)?;
        let at: i64 = row.get(4).map_err(column)?;
        let body: String = row.get(5).map_err(column)?;
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
    Ok(shape)
}

/// A read-only connection inside a read transaction whose snapshot is already taken.
fn pinned_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    configure(&conn, READER_CACHE_KIB)?;
    // A deferred transaction takes its snapshot at its first read.
    conn.execute_batch("BEGIN")?;
    conn.query_row("SELECT COUNT(*) FROM meta", [], |_| Ok(()))?;
    Ok(conn)
}

/// `PRAGMA quick_check` and the key check, on a read-only connection of their own (see
/// [`pinned_reader`]); the keys are not read when the file is damaged.
fn check_file_and_keys(conn: &Connection) -> Result<(String, Result<Keys, IntegrityError>), StoreError> {
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Ok((check, Ok(Keys::default())));
    }
    Ok((check, verify_keys(conn)))
}

/// The key index, and the highest log position a record names (checked against the head once
/// the events are read).
#[derive(Debug, Default)]
struct Keys {
    index: KeyIndex,
    last_position: u64,
}

fn verify_keys(conn: &Connection) -> Result<Keys, IntegrityError> {
    let mut keys = Keys::default();
    let mut stmt =
        conn.prepare("SELECT id, scope, key, position FROM idempotency ORDER BY id").map_err(StoreError::from)?;
    // Only a key whose hash is already indexed is compared, with the rows of that hash read back
    // by id: a duplicate always shares its hash, and other shared hashes are rare, so no key's
    // text is held in memory.
    let mut earlier = conn.prepare("SELECT scope, key FROM idempotency WHERE id = ?1").map_err(StoreError::from)?;
    let mut rows = stmt.query([]).map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        let id: i64 = row.get(0).map_err(StoreError::from)?;
        let scope: String = row.get(1).map_err(StoreError::from)?;
        let key: String = row.get(2).map_err(StoreError::from)?;
        let position: i64 = row.get(3).map_err(StoreError::from)?;
        // A negative position is past any head: the dangling-key check names it.
        let position = u64::try_from(position).unwrap_or(u64::MAX);
        keys.last_position = keys.last_position.max(position);
        let hash = KeyIndex::hash(&scope, &key);
        for other in keys.index.candidates(hash) {
            let (s, k): (String, String) =
                earlier.query_row([other], |r| Ok((r.get(0)?, r.get(1)?))).map_err(StoreError::from)?;
            if s == scope && k == key {
                return Err(IntegrityError::DuplicateKey { scope, key });
            }
        }
        keys.index.insert(hash, id);
    }
    Ok(keys)
}

/// The first idempotency record (in row order) that names a position outside the log.
fn first_dangling_key(conn: &Connection, head: u64) -> Result<IntegrityError, StoreError> {
    let head_sql = i64::try_from(head).unwrap_or(i64::MAX);
    let (key, position): (String, i64) = conn.query_row(
        "SELECT key, position FROM idempotency WHERE position < 0 OR position > ?1 ORDER BY id LIMIT 1",
        [head_sql],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(IntegrityError::DanglingKey { key, position: position as u64, head })
}

/// A connection that copies the WAL into the database file (a checkpoint), so that the WAL
/// stays short without the writer doing it inside a commit.
#[derive(Debug)]
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    /// Runs one passive checkpoint (it never waits for the writer or readers); returns the WAL's
    /// size in frames and how many of them are now in the database file.
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        let (_busy, log, done): (i64, i64, i64) =
            self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok((log, done))
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
                configure(&conn, READER_CACHE_KIB)?;
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
    let mut stmt =
        conn.prepare_cached("SELECT position, body FROM events WHERE position > ?1 ORDER BY position LIMIT ?2")?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![i64::try_from(after).unwrap_or(i64::MAX), limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    decode_rows(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read-only open names what the file is not, and writes nothing, not even when asked.
    #[test]
    fn a_read_only_store_refuses_other_files_and_every_write() {
        let dir = std::env::temp_dir().join(format!("yichuang-store-ro-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // SQLite, but not a store.
        let other = dir.join("other.db");
        Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
        assert!(matches!(SqliteStore::open_read_only(&other), Err(StoreError::NotAStore { .. })));
        // A store of another format.
        let newer = dir.join("newer.db");
        SqliteStore::open(&newer).unwrap();
        Connection::open(&newer).unwrap().execute("UPDATE meta SET value = '99' WHERE key = 'format'", []).unwrap();
        match SqliteStore::open_read_only(&newer) {
            Err(StoreError::Format { found, .. }) => assert_eq!(found, "99"),
            other => panic!("expected a format error, got {other:?}"),
        }
        // A store: it verifies, and refuses to change.
        let store_path = dir.join("store.db");
        SqliteStore::open(&store_path).unwrap();
        let before = std::fs::read(&store_path).unwrap();
        let mut store = SqliteStore::open_read_only(&store_path).unwrap();
        assert_eq!(store.verify(&mut |_| Ok(())).unwrap().events, 0);
        assert!(store.set_meta("definition", "x").is_err(), "metadata is not written");
        assert_eq!(store.meta("definition").unwrap(), None);
        drop(store);
        assert_eq!(std::fs::read(&store_path).unwrap(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_sharing_a_hash_keep_every_row() {
        let mut index = KeyIndex::default();
        index.insert(7, 1);
        index.insert(7, 2);
        index.insert(9, 3);
        assert_eq!(index.candidates(7).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(index.candidates(9).collect::<Vec<_>>(), [3]);
        assert_eq!(index.candidates(8).count(), 0);
        assert_eq!(index.len(), 3);
        // Scope and key are separated, so that ("ab", "c") and ("a", "bc") differ.
        assert_ne!(KeyIndex::hash("ab", "c"), KeyIndex::hash("a", "bc"));
        // Forgetting the first row of a shared hash keeps the other one findable.
        index.insert(7, 4);
        index.forget(&[1, 3].into_iter().collect());
        assert_eq!(index.candidates(7).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(index.candidates(9).count(), 0);
        index.forget(&[2, 4].into_iter().collect());
        assert_eq!((index.candidates(7).count(), index.len()), (0, 0));
    }
}
