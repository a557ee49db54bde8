//! The SQLite store: one database file in WAL mode with `synchronous = FULL`.
//!
//! Schema (format 2; format 1, without the hash chain, is upgraded in place at the writer's
//! first open, see [`SqliteStore::upgrade_notes`]):
//!
//! ```sql
//! events      (position INTEGER PRIMARY KEY, stream TEXT, seq INTEGER, kind TEXT, at INTEGER, body TEXT,
//!              keys INTEGER, key_hash BLOB, hash BLOB, UNIQUE (stream, seq))
//! idempotency (id INTEGER PRIMARY KEY, scope TEXT, key TEXT, fingerprint TEXT, status INTEGER, body TEXT,
//!              position INTEGER, hash BLOB)
//! meta        (key TEXT PRIMARY KEY, value TEXT)
//! ```
//!
//! `body` is the event's canonical JSON (the source of truth); `stream`, `seq`, `kind` and `at`
//! are copies for indexing and for humans with the `sqlite3` shell, checked against the body by
//! [`EventStore::verify`]. `keys`, `key_hash` and `hash` are the event's link in the hash chain;
//! an idempotency record's `id` is its number in the key chain and `hash` its link
//! ([`crate::chain`]). Every append is one `BEGIN IMMEDIATE … COMMIT` that also records the
//! chain's head in `meta` (`head`); in WAL mode with `synchronous = FULL`, `COMMIT` returns
//! after the WAL is fsync'd.
//!
//! Events grow at the end only, by position. Idempotency records are appended at the end, in
//! log order, and forgotten from the start when the writer's retention drops them
//! ([`EventStore::forget_keys_before`]; `meta.keys_forgotten` names the last number forgotten).
//! Keys are found through an index in the writer's memory (a 64-bit hash of scope and key →
//! row ids), rebuilt by [`EventStore::verify`]; a SQLite index on random client keys would
//! dirty one B-tree page per key and multiply the bytes each commit writes and fsyncs.
//!
//! **One writer.** [`SqliteStore::open`] takes an exclusive lock (`flock`) on `<file>.lock`
//! beside the database and writes its holder (process id, host, time) into it; a second writer
//! is refused with [`StoreError::Locked`] naming the holder. The kernel releases the lock when
//! the process ends, however it ends, so a `kill -9` leaves no stale lock. (SQLite's own
//! `locking_mode = EXCLUSIVE` would also shut out the service's readers and every audit.)
//!
//! WAL checkpoints (copying the log into the database file) run on a separate connection,
//! [`Checkpointer`], so that they do not lengthen commits; the writer's own automatic
//! checkpoint is kept only as a safety net with a high threshold.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use yichuang_core::StreamId;

use crate::{
    AppendError, ChainHead, Commit, Digest, EncodedEvent, EventLink, EventLog, EventStore, IdempotencyRecord,
    IntegrityError, KeyChainRead, KeyChange, KeyLink, LogSummary, SNAPSHOTS_KEPT, Shape, Snapshot, StoreError,
    StoredEvent, check_snapshot_link, failpoint, head_text, parse_head,
};

/// The store format this build writes and reads.
const FORMAT: &str = "2";

/// The format before the hash chain, upgraded in place by the writer.
const FORMAT_UNCHAINED: &str = "1";

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
    keys INTEGER NOT NULL,
    key_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    UNIQUE (stream, seq)
);
CREATE TABLE IF NOT EXISTS idempotency (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    position INTEGER NOT NULL,
    hash BLOB NOT NULL
);
";

/// The writers' snapshots (docs/store.md, "Snapshots"); created by any writer that opens the
/// file, so a file written before them gains the table at its next start.
const SNAPSHOT_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS snapshots (
    position INTEGER PRIMARY KEY,
    keys INTEGER NOT NULL,
    key_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    body TEXT NOT NULL
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
    /// What opening changed in the file (an upgrade of its format), for the service's log.
    upgrades: Vec<String>,
    /// The writer's lock on `<file>.lock` (none for a read-only open); released on drop.
    _lock: Option<std::fs::File>,
}

fn configure(conn: &Connection, cache_kib: i64) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{cache_kib};"))?;
    Ok(())
}

/// The lock file of a database: `<file>.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// This machine's host name, for naming a lock's holder.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "an unknown host".into())
}

/// Takes the writer's exclusive lock on `<file>.lock`, or names the process that holds it.
fn lock(db: &Path) -> Result<std::fs::File, StoreError> {
    use fs4::FileExt;
    let path = lock_path(db);
    let io = |error: std::io::Error| StoreError::Lock { path: path.clone(), error };
    let mut file =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    // Called through the trait: the standard library's own `File::try_lock` is newer than the
    // workspace's rust-version.
    match FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                "a process that has not yet written its name".to_owned()
            } else {
                holder.to_owned()
            };
            return Err(StoreError::Locked { path: db.to_owned(), holder });
        }
        Err(fs4::TryLockError::Error(e)) => return Err(io(e)),
    }
    let host = host_name();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let holder = format!("process {} on host {host}, since {}", std::process::id(), crate::checkpoint::rfc3339(since));
    file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(holder.as_bytes())).map_err(io)?;
    Ok(file)
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` as its only writer, switching it to WAL with
    /// `synchronous = FULL`, and upgrades a format-1 file (no hash chain) in place.
    /// Refused with [`StoreError::Locked`] while another process holds the file for writing.
    /// Call [`EventStore::verify`] before the first append: it reads the log's shape (head,
    /// stream versions, keys, the chain's head) that appends are checked against.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let lock = lock(&path)?;
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
        let existing = table_exists(&conn, "meta")?;
        if existing {
            check_tables(&conn)?;
        }
        let mut upgrades = Vec::new();
        let format: Option<String> = if existing {
            conn.query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| r.get(0)).optional()?
        } else {
            None
        };
        match format.as_deref() {
            None => {
                conn.execute_batch(SCHEMA)?;
                conn.execute("INSERT INTO meta (key, value) VALUES ('format', ?1)", [FORMAT])?;
            }
            Some(FORMAT) => {}
            Some(FORMAT_UNCHAINED) => upgrades.push(upgrade_to_chain(&conn)?),
            Some(found) => return Err(StoreError::Format { found: found.to_owned(), expected: FORMAT }),
        }
        conn.execute_batch(SNAPSHOT_SCHEMA)?;
        Ok(SqliteStore {
            conn,
            path,
            shape: Shape::default(),
            keys: KeyIndex::default(),
            verified: false,
            upgrades,
            _lock: Some(lock),
        })
    }

    /// Opens an existing database for reading only, as an audit does (`yichuang audit`,
    /// `yichuang replay --db`): the file is never created and nothing in it changes (no switch
    /// to WAL, no schema, no metadata, no lock); [`EventStore::verify`] runs the same checks as
    /// before a writer's first append, and any write fails with SQLite's read-only error. A
    /// database the service has open may be read meanwhile: the reader sees the commits made
    /// before it started. A format-1 file (no chain) is refused until the service has upgraded
    /// it.
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
            Ok(Some(f)) if f == FORMAT_UNCHAINED => return Err(StoreError::Unchained { path: path.clone() }),
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
        Ok(SqliteStore {
            conn,
            path,
            shape: Shape::default(),
            keys: KeyIndex::default(),
            verified: false,
            upgrades: Vec::new(),
            _lock: None,
        })
    }

    /// What opening changed in the file: one line per upgrade of its format (empty when it was
    /// already current). The service prints them at start.
    pub fn upgrade_notes(&self) -> &[String] {
        &self.upgrades
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
            let Some(record) = stmt.query_row([id], read_record).optional()? else { continue };
            if record.scope == scope && record.key == key {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// Writes the commits and their links in one transaction, with the chain's new head;
    /// returns the (hash, row id) of each key written.
    fn write(
        &mut self,
        commits: &[Commit],
        links: &[EventLink],
        key_links: &[KeyLink],
        head: &ChainHead,
    ) -> Result<Vec<(u64, i64)>, StoreError> {
        failpoint::hit("sqlite::write::begin")?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut written = Vec::new();
        {
            let mut insert_event = tx.prepare_cached(
                "INSERT INTO events (position, stream, seq, kind, at, body, keys, key_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let mut insert_key = tx.prepare_cached(
                "INSERT INTO idempotency (id, scope, key, fingerprint, status, body, position, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut links = links.iter();
            let mut key_links = key_links.iter();
            for commit in commits {
                if let Some(r) = &commit.idempotency {
                    let link = key_links.next().expect("one link per record");
                    insert_key.execute(params![
                        count_sql(link.number),
                        r.scope,
                        r.key,
                        format!("{:016x}", r.fingerprint),
                        r.status,
                        r.body,
                        position_sql(r.position),
                        &link.hash.0[..],
                    ])?;
                    written.push((KeyIndex::hash(&r.scope, &r.key), count_sql(link.number)));
                    failpoint::hit("sqlite::write::after_key_row")?;
                }
                for e in &commit.events {
                    let rec = e.event.record();
                    let link = links.next().expect("one link per event");
                    insert_event.execute(params![
                        position_sql(e.position),
                        rec.stream.to_string(),
                        rec.seq,
                        rec.event.name(),
                        rec.at.minutes(),
                        e.event.json(),
                        count_sql(link.keys),
                        &link.key_hash.0[..],
                        &link.hash.0[..],
                    ])?;
                    failpoint::hit("sqlite::write::after_event_row")?;
                }
            }
            failpoint::hit("sqlite::write::before_head")?;
            set_meta(&tx, "head", &head_text(head))?;
        }
        failpoint::hit("sqlite::write::before_commit")?;
        // Dropping `tx` on an error path above rolls the transaction back.
        tx.commit()?;
        failpoint::hit("sqlite::write::after_commit")?;
        Ok(written)
    }

    /// Copies the database into `destination` (a new file) while the service may be writing:
    /// SQLite's online backup API, in one step inside one read transaction, so the copy is the
    /// log as of one commit. The copy has no WAL beside it and is a complete store; audit it
    /// before relying on it. Returns the copy's head position.
    pub fn backup(source: &Path, destination: &Path) -> Result<u64, StoreError> {
        if destination.exists() {
            return Err(StoreError::BackupExists { path: destination.to_owned() });
        }
        let from =
            Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        configure(&from, READER_CACHE_KIB)?;
        let mut to = Connection::open(destination)?;
        {
            let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
            // All pages in one step (-1): the copy is one snapshot, and a commit on another
            // connection cannot restart it. Busy or locked (a checkpoint holding the file for a
            // moment) is retried for up to BUSY_TIMEOUT.
            let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
            loop {
                match backup.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    _ if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                    _ => {
                        return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                            Some("the database stayed busy during the backup".into()),
                        )));
                    }
                }
            }
        }
        // The copy is a plain file: no WAL beside it until a writer opens it.
        to.execute_batch("PRAGMA journal_mode = DELETE;")?;
        head(&to)
    }
}

/// Reads an idempotency record from a row `scope, key, fingerprint, status, body, position`.
fn read_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<IdempotencyRecord> {
    let fingerprint: String = r.get(2)?;
    let position: i64 = r.get(5)?;
    Ok(IdempotencyRecord {
        scope: r.get(0)?,
        key: r.get(1)?,
        fingerprint: u64::from_str_radix(&fingerprint, 16).unwrap_or(0),
        status: r.get(3)?,
        body: r.get(4)?,
        // A negative position is past any head: the dangling-key check names it.
        position: u64::try_from(position).unwrap_or(u64::MAX),
    })
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Format 1 → 2, once, in one transaction: adds the chain's columns, numbers the idempotency
/// records 1, 2, 3, … in their order, and chains every record and event as they stand (a
/// record just before the last event of its command). Edits made before the upgrade are not
/// detectable; the note says so, and so does `meta.chain_since`.
fn upgrade_to_chain(conn: &Connection) -> Result<String, StoreError> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(
        "ALTER TABLE events ADD COLUMN keys INTEGER;
         ALTER TABLE events ADD COLUMN key_hash BLOB;
         ALTER TABLE events ADD COLUMN hash BLOB;
         CREATE TABLE idempotency_chained (
             id INTEGER PRIMARY KEY, scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
             status INTEGER NOT NULL, body TEXT NOT NULL, position INTEGER NOT NULL, hash BLOB NOT NULL);",
    )?;
    let mut chain = ChainHead::default();
    let mut records = Vec::new();
    {
        let mut stmt =
            tx.prepare("SELECT scope, key, fingerprint, status, body, position FROM idempotency ORDER BY id")?;
        let rows = stmt.query_map([], read_record)?;
        for r in rows {
            records.push(r?);
        }
    }
    let mut pending = records.into_iter().peekable();
    let mut insert_key = tx.prepare(
        "INSERT INTO idempotency_chained (id, scope, key, fingerprint, status, body, position, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut link_key = |chain: &mut ChainHead, r: &IdempotencyRecord| -> Result<(), StoreError> {
        let link = chain.link_key(r);
        insert_key.execute(params![
            count_sql(link.number),
            r.scope,
            r.key,
            format!("{:016x}", r.fingerprint),
            r.status,
            r.body,
            position_sql(r.position),
            &link.hash.0[..],
        ])?;
        Ok(())
    };
    let events: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT position, body FROM events ORDER BY position")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
    };
    {
        let mut update = tx.prepare("UPDATE events SET keys = ?2, key_hash = ?3, hash = ?4 WHERE position = ?1")?;
        for (position, body) in &events {
            let position = u64::try_from(*position).unwrap_or(0);
            while let Some(r) = pending.next_if(|r| r.position <= position) {
                link_key(&mut chain, &r)?;
            }
            // A gap or a reordering is left for the check after the upgrade to name.
            chain.position = position.saturating_sub(1);
            let link = chain.link_event(position, body);
            update.execute(params![
                position_sql(position),
                count_sql(link.keys),
                &link.key_hash.0[..],
                &link.hash.0[..]
            ])?;
        }
    }
    for r in pending {
        link_key(&mut chain, &r)?;
    }
    drop(insert_key);
    tx.execute_batch("DROP TABLE idempotency; ALTER TABLE idempotency_chained RENAME TO idempotency;")?;
    set_meta(&tx, "head", &head_text(&chain))?;
    let note = format!(
        "upgraded the store from format 1 to format 2 (hash chain): {} events and {} idempotency records chained as they stood; edits made before this upgrade are not detectable",
        events.len(),
        chain.keys
    );
    set_meta(&tx, "chain_since", &note)?;
    set_meta(&tx, "format", FORMAT)?;
    tx.commit()?;
    Ok(note)
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

fn count_sql(count: u64) -> i64 {
    i64::try_from(count).expect("record numbers stay below 2^63")
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
    fn chain_head(&self) -> Result<ChainHead, StoreError> {
        chain_head(&self.conn)
    }
    fn hash_at(&self, position: u64) -> Result<Option<Digest>, StoreError> {
        hash_at(&self.conn, position)
    }
}

impl EventStore for SqliteStore {
    fn append(&mut self, commits: &[Commit]) -> Result<u64, AppendError> {
        assert!(self.verified, "verify the log before appending: it reads the head, stream versions and keys");
        let planned = {
            let mut known = |scope: &str, key: &str| Ok(self.find(scope, key)?.is_some());
            self.shape.check(commits, &mut known)?
        };
        if planned.head == self.shape.head && planned.keys.is_empty() {
            return Ok(planned.head);
        }
        // On an error the transaction was rolled back: the log is as it was. Whether the disk
        // is still usable is for the caller to find out (it re-reads the log).
        let written =
            self.write(commits, &planned.events, &planned.keys, &planned.chain).map_err(AppendError::Store)?;
        failpoint::hit("sqlite::append::before_index").map_err(AppendError::Store)?;
        for (hash, id) in written {
            self.keys.insert(hash, id);
        }
        let head = planned.head;
        self.shape.commit(planned);
        Ok(head)
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
        let Some(&last) = forgotten.iter().max() else { return Ok(0) };
        tx.execute("DELETE FROM idempotency WHERE position < ?1", [position_sql(position)])?;
        set_meta(&tx, "keys_forgotten", &last.to_string())?;
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
        // The key chain is checked against the head recorded in the keys' own snapshot.
        let beside = pinned_reader(&self.path)?;
        let (file_and_keys, events) = std::thread::scope(|scope| {
            let beside = scope.spawn(move || check_file_and_keys(&beside));
            let events = verify_events(&self.conn, Shape::default(), visit);
            (beside.join(), events)
        });
        let (check, keys) = match file_and_keys {
            Ok(result) => result?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        if check != "ok" {
            return Err(IntegrityError::File(check));
        }
        let Events { shape, recorded, changes } = events?;
        shape.verify_recorded_head(recorded.as_ref())?;
        let keys = keys?;
        if keys.last_position > shape.head {
            return Err(first_dangling_key(&self.conn, shape.head)?);
        }
        // Only the part of the event chain the keys' snapshot saw.
        let seen = keys.recorded.map_or(0, |r| r.position);
        let changes: Vec<KeyChange> = changes.into_iter().filter(|c| c.position <= seen).collect();
        let verified_then = match keys.recorded {
            Some(r) if r.position == shape.head => shape.chain,
            Some(r) => ChainHead {
                keys: changes.last().map_or(0, |c| c.keys),
                key_hash: changes.last().map_or(Digest::ZERO, |c| c.key_hash),
                ..r
            },
            None => shape.chain,
        };
        let first = keys.first.as_ref().map(|(r, l)| (r, l));
        let key_head =
            keys.chain.cross_check(verified_then, keys.recorded.as_ref(), keys.forgotten, &changes, first)?;
        let mut head = shape.chain;
        if keys.recorded.is_none_or(|r| r.position == shape.head) {
            head.keys = key_head.keys;
            head.key_hash = key_head.key_hash;
        }
        let index = keys.index;
        let summary = LogSummary {
            events: shape.head,
            streams: shape.versions.len() as u64,
            idempotency_records: index.len() as u64,
            head,
        };
        self.shape = shape;
        self.shape.chain = head;
        self.keys = index;
        self.verified = true;
        Ok(summary)
    }

    fn save_snapshot(&mut self, position: u64, body: &str) -> Result<(), StoreError> {
        let Some(link) = link_at(&self.conn, position)? else {
            return Err(StoreError::Format {
                found: format!("no event at position {position}"),
                expected: "a snapshot of a stored position",
            });
        };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR REPLACE INTO snapshots (position, keys, key_hash, hash, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![position_sql(position), count_sql(link.keys), &link.key_hash.0[..], &link.hash.0[..], body],
        )?;
        tx.execute(
            "DELETE FROM snapshots WHERE position NOT IN (SELECT position FROM snapshots ORDER BY position DESC LIMIT ?1)",
            [SNAPSHOTS_KEPT as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        if !table_exists(&self.conn, "snapshots")? {
            return Ok(None);
        }
        let row = self
            .conn
            .query_row(
                "SELECT position, keys, key_hash, hash, body FROM snapshots ORDER BY position DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(|(position, keys, key_hash, hash, body)| Snapshot {
            position: position as u64,
            head: ChainHead {
                position: position as u64,
                hash: Digest::from_slice(&hash).unwrap_or_default(),
                keys: keys as u64,
                key_hash: Digest::from_slice(&key_hash).unwrap_or_default(),
            },
            body,
        }))
    }

    fn resume(
        &mut self,
        snapshot: &ChainHead,
        versions: &mut dyn Iterator<Item = (StreamId, u32)>,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<LogSummary, IntegrityError> {
        check_snapshot_link(snapshot, link_at(&self.conn, snapshot.position)?)?;
        let from = Shape { head: snapshot.position, versions: versions.collect(), chain: *snapshot };
        let Events { mut shape, recorded, .. } = verify_events(&self.conn, from, visit)?;
        shape.verify_recorded_head(recorded.as_ref())?;
        // Records chained after the last event (commands that appended none) are in the head
        // the last append recorded.
        if let Some(r) = recorded
            && r.position == shape.head
            && r.keys >= shape.chain.keys
        {
            shape.chain.keys = r.keys;
            shape.chain.key_hash = r.key_hash;
        }
        // The key index: the records kept (bounded by the retention, not by the log's length).
        let mut index = KeyIndex::default();
        {
            let mut stmt = self.conn.prepare("SELECT id, scope, key FROM idempotency").map_err(StoreError::from)?;
            let mut rows = stmt.query([]).map_err(StoreError::from)?;
            while let Some(row) = rows.next().map_err(StoreError::from)? {
                let id: i64 = row.get(0).map_err(StoreError::from)?;
                let scope: String = row.get(1).map_err(StoreError::from)?;
                let key: String = row.get(2).map_err(StoreError::from)?;
                index.insert(KeyIndex::hash(&scope, &key), id);
            }
        }
        let summary = LogSummary {
            events: shape.head,
            streams: shape.versions.len() as u64,
            idempotency_records: index.len() as u64,
            head: shape.chain,
        };
        self.shape = shape;
        self.keys = index;
        self.verified = true;
        Ok(summary)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        set_meta(&self.conn, key, value)
    }

    fn readers(&self) -> Arc<dyn EventLog + Send + Sync> {
        Arc::new(SqliteReaders::new(self.path.clone()))
    }
}

/// The events read and checked: the shape, the head the last append recorded (in the same
/// snapshot) and where the key chain's count changes.
struct Events {
    shape: Shape,
    recorded: Option<ChainHead>,
    changes: Vec<KeyChange>,
}

fn verify_events(
    conn: &Connection,
    from: Shape,
    visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
) -> Result<Events, IntegrityError> {
    // One read transaction: the recorded head and the events are one snapshot.
    conn.execute_batch("BEGIN").map_err(StoreError::from)?;
    let result = verify_events_in_snapshot(conn, from, visit);
    conn.execute_batch("COMMIT").map_err(StoreError::from)?;
    result
}

fn verify_events_in_snapshot(
    conn: &Connection,
    mut shape: Shape,
    visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
) -> Result<Events, IntegrityError> {
    let recorded: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'head'", [], |r| r.get(0))
        .optional()
        .map_err(StoreError::from)?;
    let recorded = recorded.as_deref().map(parse_head).transpose()?;
    let mut changes = Vec::new();
    let mut stmt = conn
        .prepare(
            "SELECT position, stream, seq, kind, at, body, keys, key_hash, hash FROM events WHERE position > ?1 \
             ORDER BY position",
        )
        .map_err(StoreError::from)?;
    let mut rows = stmt.query([position_sql(shape.head)]).map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        let position: i64 = row.get(0).map_err(StoreError::from)?;
        let position = u64::try_from(position)
            .map_err(|_| IntegrityError::Damaged { position: 0, why: format!("negative position {position}") })?;
        let damaged = |why: String| IntegrityError::Damaged { position, why };
        // A value of the wrong type, or text that is not UTF-8, is damage at this position.
        let column = |e: rusqlite::Error| match e {
            rusqlite::Error::FromSqlConversionFailure(i, _, why) => damaged(format!(
                "column {} does not read: {why}",
                ["position", "stream", "seq", "kind", "at", "body", "keys", "key_hash", "hash"][i]
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
        let keys: i64 = row.get(6).map_err(column)?;
        let key_hash: Vec<u8> = row.get(7).map_err(column)?;
        let hash: Vec<u8> = row.get(8).map_err(column)?;
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
        let link = match (u64::try_from(keys), Digest::from_slice(&key_hash), Digest::from_slice(&hash)) {
            (Ok(keys), Some(key_hash), Some(hash)) => EventLink { keys, key_hash, hash },
            _ => {
                return Err(IntegrityError::Chain {
                    position,
                    why: "its stored link is not a count and two 32-byte hashes".into(),
                });
            }
        };
        let stored = StoredEvent { position, event };
        shape.verify_next(&stored, &link, &mut changes)?;
        visit(&stored).map_err(|why| IntegrityError::Refused { position, why })?;
    }
    Ok(Events { shape, recorded, changes })
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

/// The key index, the key chain as read, the highest log position a record names (checked
/// against the head once the events are read), and the metadata read in the same snapshot.
#[derive(Debug, Default)]
struct Keys {
    index: KeyIndex,
    last_position: u64,
    chain: KeyChainRead,
    /// The first record kept, with its link (its predecessor may be forgotten).
    first: Option<(IdempotencyRecord, KeyLink)>,
    /// Records 1 to this number were forgotten by the retention.
    forgotten: u64,
    /// The head the last append recorded, as this snapshot sees it.
    recorded: Option<ChainHead>,
}

fn verify_keys(conn: &Connection) -> Result<Keys, IntegrityError> {
    let mut keys = Keys::default();
    let meta = |key: &str| -> Result<Option<String>, IntegrityError> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(StoreError::from)?)
    };
    keys.recorded = meta("head")?.as_deref().map(parse_head).transpose()?;
    if let Some(text) = meta("keys_forgotten")? {
        keys.forgotten = text.parse().map_err(|_| IntegrityError::Damaged {
            position: 0,
            why: format!("the count of forgotten idempotency records `{text}` does not read"),
        })?;
    }
    let mut stmt = conn
        .prepare("SELECT scope, key, fingerprint, status, body, position, id, hash FROM idempotency ORDER BY id")
        .map_err(StoreError::from)?;
    // Only a key whose hash is already indexed is compared, with the rows of that hash read back
    // by id: a duplicate always shares its hash, and other shared hashes are rare, so no key's
    // text is held in memory.
    let mut earlier = conn.prepare("SELECT scope, key FROM idempotency WHERE id = ?1").map_err(StoreError::from)?;
    let mut rows = stmt.query([]).map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        let record = read_record(row).map_err(StoreError::from)?;
        let id: i64 = row.get(6).map_err(StoreError::from)?;
        let hash: Vec<u8> = row.get(7).map_err(StoreError::from)?;
        let number = u64::try_from(id).unwrap_or(0);
        let link = KeyLink { number, hash: Digest::from_slice(&hash).unwrap_or_default() };
        keys.last_position = keys.last_position.max(record.position);
        let hash = KeyIndex::hash(&record.scope, &record.key);
        for other in keys.index.candidates(hash) {
            let (s, k): (String, String) =
                earlier.query_row([other], |r| Ok((r.get(0)?, r.get(1)?))).map_err(StoreError::from)?;
            if s == record.scope && k == record.key {
                return Err(IntegrityError::DuplicateKey { scope: record.scope, key: record.key });
            }
        }
        keys.index.insert(hash, id);
        keys.chain.next(&record, &link);
        if keys.first.is_none() {
            keys.first = Some((record, link));
        }
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
    fn chain_head(&self) -> Result<ChainHead, StoreError> {
        self.with(chain_head)
    }
    fn hash_at(&self, position: u64) -> Result<Option<Digest>, StoreError> {
        self.with(|c| hash_at(c, position))
    }
}

fn chain_head(conn: &Connection) -> Result<ChainHead, StoreError> {
    let row: Option<(i64, i64, Vec<u8>, Vec<u8>)> = conn
        .query_row("SELECT position, keys, key_hash, hash FROM events ORDER BY position DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    Ok(match row {
        Some((position, keys, key_hash, hash)) => ChainHead {
            position: position as u64,
            hash: Digest::from_slice(&hash).unwrap_or_default(),
            keys: keys as u64,
            key_hash: Digest::from_slice(&key_hash).unwrap_or_default(),
        },
        None => ChainHead::default(),
    })
}

/// The stored link of the event at `position`.
fn link_at(conn: &Connection, position: u64) -> Result<Option<EventLink>, StoreError> {
    let row = conn
        .query_row("SELECT keys, key_hash, hash FROM events WHERE position = ?1", [position_sql(position)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?))
        })
        .optional()?;
    Ok(row.map(|(keys, key_hash, hash)| EventLink {
        keys: keys as u64,
        key_hash: Digest::from_slice(&key_hash).unwrap_or_default(),
        hash: Digest::from_slice(&hash).unwrap_or_default(),
    }))
}

fn hash_at(conn: &Connection, position: u64) -> Result<Option<Digest>, StoreError> {
    let Ok(position) = i64::try_from(position) else { return Ok(None) };
    let hash: Option<Vec<u8>> =
        conn.query_row("SELECT hash FROM events WHERE position = ?1", [position], |r| r.get(0)).optional()?;
    Ok(hash.map(|h| Digest::from_slice(&h).unwrap_or_default()))
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
