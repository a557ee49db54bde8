//! # yichuang-store (一窗 event store)
//!
//! The durable memory of the hall: one append-only log of every case and ticket event the engine
//! records, in order, each at a **global position** (1, 2, 3, … with no gaps), plus the
//! **idempotency records** that let a client repeat a command safely.
//!
//! Two implementations of one contract ([`EventStore`] for the single writer, [`EventLog`] for
//! readers): [`MemoryStore`] (tests, demos, and the reference model the SQLite store is checked
//! against) and [`SqliteStore`] (one file, WAL, `synchronous = FULL`: a commit returns only after
//! the write-ahead log is fsync'd). What survives a crash, and when an append counts as
//! acknowledged, is stated in `docs/store.md`.
//!
//! **Architecture invariant:** an [`EventStore::append`] call is one atomic transaction. Either
//! every event and idempotency record of every [`Commit`] in it becomes durable, or none does.
//! The caller batches many commands into one call (group commit) so that they share one fsync.
//!
//! **API boundary:** the store knows the core's [`Recorded`] type and checks the log's *shape*
//! (positions contiguous, each stream's `seq` contiguous from 1, bodies decode); whether each
//! event is *legal* is the engine's question ([`yichuang_core::Engine::apply`]), asked by the
//! caller through the visitor of [`EventStore::verify`].

pub mod chain;
pub mod checkpoint;
pub mod failpoint;
mod memory;
mod postgres;
mod sqlite;
pub mod testing;
pub mod versions;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use yichuang_core::{Recorded, StreamId};

pub use chain::{ChainHead, Digest, EventLink, KeyLink};

pub use memory::MemoryStore;
pub use postgres::{PostgresReaders, PostgresStore};
pub use sqlite::{Checkpointer, SqliteReaders, SqliteStore, lock_path};

/// An event with its canonical JSON encoding, made once and shared by the log, the HTTP
/// responses and the live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    record: Recorded,
    json: Arc<str>,
}

impl EncodedEvent {
    /// Encodes a recorded event.
    pub fn encode(record: Recorded) -> EncodedEvent {
        // Serializing plain data with string map keys cannot fail.
        let json = serde_json::to_string(&record).expect("a recorded event serializes to JSON");
        EncodedEvent { record, json: json.into() }
    }

    /// Decodes the JSON body of a stored event.
    pub fn decode(json: &str) -> Result<EncodedEvent, serde_json::Error> {
        let record = serde_json::from_str(json)?;
        Ok(EncodedEvent { record, json: json.into() })
    }

    /// The event.
    pub fn record(&self) -> &Recorded {
        &self.record
    }

    /// Its JSON encoding (a JSON object).
    pub fn json(&self) -> &str {
        &self.json
    }
}

/// An event at its global position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// 1-based position in the whole log; positions have no gaps.
    pub position: u64,
    /// The event.
    pub event: EncodedEvent,
}

impl StoredEvent {
    /// The event as one JSON object with its position first:
    /// `{"position":7,"v":1,"stream":"C000001","seq":3,…}`.
    pub fn wire_json(&self) -> String {
        let body = self.event.json();
        debug_assert!(body.starts_with('{') && body.len() > 2, "an event encodes as a non-empty object");
        let mut out = String::with_capacity(body.len() + 24);
        out.push_str("{\"position\":");
        out.push_str(&self.position.to_string());
        out.push(',');
        out.push_str(&body[1..]);
        out
    }
}

/// The response a command produced, kept under the client's `Idempotency-Key` so that a repeat
/// gets it back instead of executing again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Whose key it is (the actor id): keys of different clients never collide.
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// A fingerprint of the request (method, path, body): the same key with another request is
    /// refused rather than answered with an unrelated response.
    pub fingerprint: u64,
    /// HTTP status of the stored response.
    pub status: u16,
    /// Body of the stored response (JSON).
    pub body: String,
    /// The log position of the command's last event.
    pub position: u64,
}

/// What one command appends: its events (with their positions, assigned by the single writer)
/// and, when the client sent a key, the response to replay.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// Events in log order; positions continue the log without gaps.
    pub events: Vec<StoredEvent>,
    /// The idempotency record, if the client sent a key.
    pub idempotency: Option<IdempotencyRecord>,
}

/// A writer's state at one log position, kept in the store so that a start (or another
/// instance joining) need not fold the whole log (docs/store.md, "Snapshots"). The store keeps
/// the body as it is given and checks, when resuming from it, that the log holds the same chain
/// head at that position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The log position it was taken at (every event up to it is folded into it).
    pub position: u64,
    /// The chain's head at that position: the event's hash and the key chain it covers.
    pub head: ChainHead,
    /// The writer's state, in the writer's own versioned encoding.
    pub body: String,
}

/// Snapshots a store keeps: the newest and the one before it.
pub const SNAPSHOTS_KEPT: usize = 2;

/// Summary of a verified log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogSummary {
    /// Events in the log (= the last position).
    pub events: u64,
    /// Distinct streams.
    pub streams: u64,
    /// Idempotency records.
    pub idempotency_records: u64,
    /// The head of the hash chain: the last event's position and hash, and the key chain.
    pub head: ChainHead,
}

/// A storage failure (the disk, the database file, a body that does not decode).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored body does not decode as an event.
    #[error("the event at position {position} does not decode: {error}")]
    Decode {
        /// Position.
        position: u64,
        /// Why.
        error: serde_json::Error,
    },
    /// The database refused write-ahead logging, without which commits are not group-committed
    /// and readers block the writer.
    #[error(
        "the database refused WAL mode (its journal mode stays `{mode}`); put it on a local file system, not a network share"
    )]
    NoWal {
        /// The journal mode SQLite kept.
        mode: String,
    },
    /// The file is not a database of this store (not SQLite, or SQLite without the store's
    /// tables).
    #[error("`{}` is not a yichuang event store: give the database file the service writes (`--db` of yichuang-server, yichuang.db by default)", path.display())]
    NotAStore {
        /// The file.
        path: std::path::PathBuf,
    },
    /// A store lost one of its tables (a damaged file, or a hand edit).
    #[error("the database lacks the store's `{table}` table: it is damaged; restore it from a backup")]
    MissingTable {
        /// The table.
        table: &'static str,
    },
    /// Another process holds the database for writing.
    #[error(
        "the database {} is held for writing by {holder}; one database has one writer: stop that service first, or give this one another database",
        path.display()
    )]
    Locked {
        /// The database.
        path: std::path::PathBuf,
        /// Who holds it (process id, host, since when), as the holder wrote it.
        holder: String,
    },
    /// The writer's lock file cannot be made or locked.
    #[error("cannot lock {}: {error}", path.display())]
    Lock {
        /// The lock file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A format-1 database (before the hash chain) opened read-only: it cannot be upgraded here.
    #[error(
        "`{}` has store format 1, without the hash chain; start the service on it once (it upgrades the file in place, once), or audit a copy upgraded that way",
        path.display()
    )]
    Unchained {
        /// The file.
        path: std::path::PathBuf,
    },
    /// A backup would overwrite an existing file.
    #[error("{} exists; a backup is written to a new file only", path.display())]
    BackupExists {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The connection URL does not parse.
    #[error("the database URL `{url}` does not parse ({why}); write postgres://USER@HOST:PORT/DATABASE")]
    Url {
        /// The URL, without its password.
        url: String,
        /// Why.
        why: String,
    },
    /// The connection's `search_path` names no existing schema.
    #[error(
        "the search_path of {database} names no existing schema; create it (CREATE SCHEMA …) or name one that exists"
    )]
    NoSchema {
        /// The database.
        database: String,
    },
    /// PostgreSQL reported an error.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// The database was written by an incompatible format version.
    #[error("the database has store format {found}; this build reads format {expected}")]
    Format {
        /// Found.
        found: String,
        /// Expected.
        expected: &'static str,
    },
}

impl StoreError {
    /// Whether the error says the file is damaged (as opposed to unreadable for now: busy,
    /// locked, no permission, an I/O error, or not a store at all).
    pub fn is_damage(&self) -> bool {
        match self {
            StoreError::Decode { .. } | StoreError::MissingTable { .. } => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => e.code == rusqlite::ErrorCode::DatabaseCorrupt,
            _ => false,
        }
    }
}

/// Why an append was refused. Nothing of the call was written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The first position is not the one after the log's head: another writer appended, or the
    /// caller's idea of the head is stale. Re-read the log and decide again.
    #[error("the log's head is {head}, so the next position is {}, but the append starts at {first}", head + 1)]
    HeadMoved {
        /// The store's head.
        head: u64,
        /// The first position of the append.
        first: u64,
    },
    /// Positions inside the append are not contiguous.
    #[error("positions must be contiguous: {found} follows {previous}")]
    Gap {
        /// Previous position.
        previous: u64,
        /// Found.
        found: u64,
    },
    /// An event's `seq` does not follow its stream's version (optimistic concurrency on the
    /// stream): the stream changed since the caller read it.
    #[error("stream {stream} is at version {version}, so the next event is #{}, but the append has #{seq}", version + 1)]
    StreamVersion {
        /// The stream.
        stream: StreamId,
        /// Its version in the store (plus earlier events of the same append).
        version: u32,
        /// The event's seq.
        seq: u32,
    },
    /// An idempotency key is already recorded (the caller must look keys up before deciding).
    #[error("idempotency key `{key}` of {scope} is already recorded")]
    DuplicateKey {
        /// Scope.
        scope: String,
        /// Key.
        key: String,
    },
    /// An idempotency record points past the position its commit reaches.
    #[error("idempotency key `{key}` points at position {position}, past {head}, where its commit ends")]
    KeyPastHead {
        /// The key.
        key: String,
        /// Its position.
        position: u64,
        /// The position the commit reaches.
        head: u64,
    },
    /// The storage failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a log failed its integrity check at open. The service refuses to start on any of these.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// SQLite's own check of the file failed.
    #[error("SQLite's quick_check of the database file failed: {0}")]
    File(String),
    /// Positions are not 1, 2, 3, …
    #[error("positions have a gap: expected position {expected}, found {found}")]
    Gap {
        /// Expected.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// A body does not decode, or disagrees with its indexed columns.
    #[error("the event at position {position} is damaged: {why}")]
    Damaged {
        /// Position.
        position: u64,
        /// Why.
        why: String,
    },
    /// A stream's events are not numbered 1, 2, 3, … in log order.
    #[error("the event at position {position} is #{seq} of {stream}, but that stream's previous event is #{previous}")]
    Sequence {
        /// Position.
        position: u64,
        /// The stream.
        stream: StreamId,
        /// Its seq.
        seq: u32,
        /// The stream's previous seq.
        previous: u32,
    },
    /// An idempotency key is recorded twice.
    #[error("idempotency key `{key}` of {scope} is recorded twice")]
    DuplicateKey {
        /// Scope.
        scope: String,
        /// Key.
        key: String,
    },
    /// An idempotency record points past the end of the log.
    #[error("idempotency key `{key}` points at position {position}, past the log's end {head}")]
    DanglingKey {
        /// The key.
        key: String,
        /// Its position.
        position: u64,
        /// The log's head.
        head: u64,
    },
    /// An event's stored bytes do not hash to its stored link: it was edited (or its link was),
    /// or an event before it was removed or inserted.
    #[error("the hash chain breaks at position {position}: {why}")]
    Chain {
        /// The first position whose link does not hold.
        position: u64,
        /// What does not match.
        why: String,
    },
    /// An idempotency record is missing, or does not hash to the link the chain holds for it.
    #[error("the hash chain breaks at idempotency record #{number}, bound to the chain at position {position}: {why}")]
    KeyChain {
        /// The record's number in the key chain.
        number: u64,
        /// The position of the first event whose hash covers the record.
        position: u64,
        /// What does not match.
        why: String,
    },
    /// The log ends before the head its last append recorded: events at its end were deleted.
    #[error(
        "the log ends at position {head}, but its last append recorded the head at position {recorded}: the events after position {head} were deleted"
    )]
    Truncated {
        /// The last event found.
        head: u64,
        /// The head recorded by the last append.
        recorded: u64,
    },
    /// The caller's visitor refused the event (for the engine: it is not legal in order).
    #[error("the event at position {position} is refused: {why}")]
    Refused {
        /// Position.
        position: u64,
        /// Why.
        why: String,
    },
    /// Reading failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reading the log: any number of readers, concurrently with the writer. A reader sees every
/// append that has returned, and nothing of an append that has not.
pub trait EventLog {
    /// The position of the last event (0 for an empty log).
    fn head(&self) -> Result<u64, StoreError>;
    /// Every event of one stream, in order.
    fn read_stream(&self, stream: StreamId) -> Result<Vec<StoredEvent>, StoreError>;
    /// Up to `limit` events after position `after`, in order.
    fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;
    /// The head of the hash chain as the last event stored it (an empty log: position 0 and
    /// zero hashes). Records chained after the last event are not counted until the next one.
    fn chain_head(&self) -> Result<ChainHead, StoreError>;
    /// The stored hash of the event at `position`, if there is one.
    fn hash_at(&self, position: u64) -> Result<Option<Digest>, StoreError>;

    /// Every event of the given streams up to position `through`, in log order (a start from a
    /// snapshot reads the open streams).
    fn read_streams(&self, streams: &[StreamId], through: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::new();
        for &stream in streams {
            out.extend(self.read_stream(stream)?.into_iter().filter(|e| e.position <= through));
        }
        out.sort_unstable_by_key(|e| e.position);
        Ok(out)
    }
}

/// Writing the log: one writer per store value (which may move between threads). SQLite and
/// memory have exactly one writer per log; on PostgreSQL several writers (service instances)
/// share a log through [`EventStore::catch_up`] and its write lock.
pub trait EventStore: EventLog + Send {
    /// Appends every commit in one atomic transaction, durable when this returns `Ok` (group
    /// commit: many commands, one fsync). Checks that positions continue the head without gaps,
    /// that each event's `seq` follows its stream's version, and that no key is recorded twice;
    /// on any failure nothing is written. Returns the new head.
    fn append(&mut self, commits: &[Commit]) -> Result<u64, AppendError>;

    /// The idempotency record of a key (the writer looks a key up before deciding a command).
    /// Only the writer answers this: the SQLite store indexes keys in the writer's memory, so
    /// that recording a key appends to the end of a table instead of inserting into a B-tree
    /// at a random place (one dirty page per batch instead of one per key).
    fn idempotency(&self, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Forgets the idempotency records of the commands whose last event lies before log
    /// position `position` (the writer's retention: keys are kept for a number of days). A
    /// repeat of a forgotten key is decided as a new command. Events are never touched.
    /// Returns how many records were forgotten.
    fn forget_keys_before(&mut self, position: u64) -> Result<u64, StoreError>;

    /// Reads the whole log in order, checking its shape (positions, per-stream sequences, bodies,
    /// idempotency records) and handing each event to `visit`, whose `Err` stops the check.
    fn verify(
        &mut self,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<LogSummary, IntegrityError>;

    /// Keeps `body`, the writer's state after the event at `position`, as a snapshot with that
    /// event's chain link (and the snapshot before it; older ones are deleted). A store without
    /// snapshots keeps nothing.
    fn save_snapshot(&mut self, position: u64, body: &str) -> Result<(), StoreError> {
        let _ = (position, body);
        Ok(())
    }

    /// The newest snapshot kept, if any.
    fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(None)
    }

    /// Instead of [`EventStore::verify`], for a writer that rebuilt its state from `snapshot`:
    /// checks that the log holds the snapshot's chain head at its position, then reads and
    /// checks the events after it (shape, per-stream sequences from `versions`, the stream
    /// versions at the snapshot, and chain links) as `verify` does, handing each to `visit`.
    /// What it does not do is what makes it fast: the events up to the snapshot, their chain
    /// and the idempotency records' chain are not read again (`yichuang audit` and a start
    /// without a snapshot check them). On `Err` the writer falls back to `verify`.
    fn resume(
        &mut self,
        snapshot: &ChainHead,
        versions: &mut dyn Iterator<Item = (StreamId, u32)>,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<LogSummary, IntegrityError> {
        let _ = (snapshot, versions, visit);
        Err(IntegrityError::Refused { position: 0, why: "this store keeps no snapshots".into() })
    }

    /// Whether other writers may append to the same log (several instances of the service on one
    /// PostgreSQL database). Such a writer calls [`EventStore::catch_up`] before every decision.
    fn shared(&self) -> bool {
        false
    }

    /// Reads the events other writers appended after this writer's head, checks their shape and
    /// chain links as [`EventStore::verify`] does, and hands each to `visit` in log order; returns
    /// how many. With `lock`, first takes the log's **write lock**, held until the next
    /// [`EventStore::append`] or [`EventStore::release`]: no other writer appends in between, so
    /// whatever is decided after this call is decided on the latest state of the whole log. A
    /// store with one writer has nothing to read (and its writer is the lock).
    fn catch_up(
        &mut self,
        lock: bool,
        visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
    ) -> Result<u64, IntegrityError> {
        let _ = (lock, visit);
        Ok(0)
    }

    /// Releases the write lock taken by [`EventStore::catch_up`] without appending.
    fn release(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// A value of the store's metadata (e.g. the definition the log was written under).
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets a metadata value, durably.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;

    /// A handle for readers on other threads.
    fn readers(&self) -> Arc<dyn EventLog + Send + Sync>;
}

/// The streams' versions and the chain's head as the writer sees them, with the checks every
/// append makes. Shared by every implementation so that they refuse exactly the same appends
/// and chain exactly the same bytes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Shape {
    pub(crate) head: u64,
    pub(crate) versions: HashMap<StreamId, u32>,
    pub(crate) chain: ChainHead,
}

/// An append that passed its checks: what it leaves and the links to store with it.
#[derive(Debug)]
pub(crate) struct Planned {
    /// Stream versions it leaves (only the streams it touches).
    pub(crate) touched: HashMap<StreamId, u32>,
    /// The new head.
    pub(crate) head: u64,
    /// The chain's head after it.
    pub(crate) chain: ChainHead,
    /// One link per event, in order.
    pub(crate) events: Vec<EventLink>,
    /// One link per commit that has an idempotency record, in order.
    pub(crate) keys: Vec<KeyLink>,
}

impl Shape {
    /// Checks an append against the shape; returns what it would leave and the chain links of
    /// its events and records, or the refusal. Within a commit the record is chained before the
    /// events, so that the command's own events cover it.
    pub(crate) fn check(
        &self,
        commits: &[Commit],
        known_key: &mut dyn FnMut(&str, &str) -> Result<bool, StoreError>,
    ) -> Result<Planned, AppendError> {
        let mut touched: HashMap<StreamId, u32> = HashMap::new();
        let mut keys: HashSet<(&str, &str)> = HashSet::new();
        let mut previous = self.head;
        let mut chain = self.chain;
        let mut event_links = Vec::with_capacity(commits.iter().map(|c| c.events.len()).sum());
        let mut key_links = Vec::new();
        for commit in commits {
            let last = commit.events.last().map_or(previous, |e| e.position);
            if let Some(r) = &commit.idempotency {
                // A key answers with a position its command reached: never past the log's end,
                // or the log would fail its own integrity check when reopened.
                if r.position > last.max(previous) {
                    return Err(AppendError::KeyPastHead {
                        key: r.key.clone(),
                        position: r.position,
                        head: last.max(previous),
                    });
                }
            }
            for e in &commit.events {
                if previous == self.head && e.position != self.head + 1 {
                    return Err(AppendError::HeadMoved { head: self.head, first: e.position });
                }
                if e.position != previous + 1 {
                    return Err(AppendError::Gap { previous, found: e.position });
                }
                previous = e.position;
                let rec = e.event.record();
                let version = touched.get(&rec.stream).or_else(|| self.versions.get(&rec.stream)).copied().unwrap_or(0);
                if rec.seq != version + 1 {
                    return Err(AppendError::StreamVersion { stream: rec.stream, version, seq: rec.seq });
                }
                touched.insert(rec.stream, rec.seq);
            }
            if let Some(r) = &commit.idempotency {
                let pair = (r.scope.as_str(), r.key.as_str());
                if !keys.insert(pair) || known_key(pair.0, pair.1)? {
                    return Err(AppendError::DuplicateKey { scope: r.scope.clone(), key: r.key.clone() });
                }
                key_links.push(chain.link_key(r));
            }
            for e in &commit.events {
                event_links.push(chain.link_event(e.position, e.event.json()));
            }
        }
        Ok(Planned { touched, head: previous, chain, events: event_links, keys: key_links })
    }

    /// Takes an append that was stored.
    pub(crate) fn commit(&mut self, planned: Planned) {
        self.versions.extend(planned.touched);
        self.head = planned.head;
        self.chain = planned.chain;
    }

    /// Checks the next event of a log being verified, its shape and its link.
    pub(crate) fn verify_next(
        &mut self,
        e: &StoredEvent,
        link: &EventLink,
        changes: &mut Vec<KeyChange>,
    ) -> Result<(), IntegrityError> {
        if e.position != self.head + 1 {
            return Err(IntegrityError::Gap { expected: self.head + 1, found: e.position });
        }
        let chain_broken = |why: String| IntegrityError::Chain { position: e.position, why };
        if link.keys < self.chain.keys {
            return Err(chain_broken(format!(
                "its link counts {} idempotency records, fewer than the {} before it",
                link.keys, self.chain.keys
            )));
        }
        if link.keys == self.chain.keys && link.key_hash != self.chain.key_hash {
            return Err(chain_broken("its link names another idempotency record than the event before it".into()));
        }
        let hash = chain::event_hash(e.position, &self.chain.hash, link.keys, &link.key_hash, e.event.json());
        if hash != link.hash {
            return Err(chain_broken(
                "the event's bytes do not hash to its stored hash (the event, its hash, or an event before it was changed)"
                    .into(),
            ));
        }
        let rec = e.event.record();
        let previous = self.versions.get(&rec.stream).copied().unwrap_or(0);
        if rec.seq != previous + 1 {
            return Err(IntegrityError::Sequence { position: e.position, stream: rec.stream, seq: rec.seq, previous });
        }
        if link.keys != self.chain.keys {
            changes.push(KeyChange { keys: link.keys, key_hash: link.key_hash, position: e.position });
        }
        self.versions.insert(rec.stream, rec.seq);
        self.head = e.position;
        self.chain = ChainHead { position: e.position, hash: link.hash, keys: link.keys, key_hash: link.key_hash };
        Ok(())
    }

    /// Checks the head recorded by the last append (`position`, `hash`) against the verified
    /// log: fewer events mean the tail was deleted.
    pub(crate) fn verify_recorded_head(&self, recorded: Option<&ChainHead>) -> Result<(), IntegrityError> {
        let Some(&ChainHead { position, hash, .. }) = recorded else { return Ok(()) };
        if position > self.head {
            return Err(IntegrityError::Truncated { head: self.head, recorded: position });
        }
        if position < self.head {
            return Err(IntegrityError::Chain {
                position: position + 1,
                why: format!(
                    "the last append recorded the head at position {position}; the events after it were added without the store"
                ),
            });
        }
        if hash != self.chain.hash {
            return Err(IntegrityError::Chain {
                position,
                why: "the last event's hash differs from the head its append recorded".into(),
            });
        }
        Ok(())
    }
}

/// Where the key chain's count changes in the event chain: the event at `position` is the
/// first to cover the records up to number `keys`, whose last hash is `key_hash`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyChange {
    pub(crate) keys: u64,
    pub(crate) key_hash: Digest,
    pub(crate) position: u64,
}

/// The idempotency records as read in number order: the first number kept, and each record's
/// stored hash after it was recomputed from its fields and its predecessor's hash.
#[derive(Debug, Default)]
pub(crate) struct KeyChainRead {
    /// The first number kept (records before it were forgotten by the retention).
    pub(crate) first: u64,
    /// Stored hashes of records `first`, `first + 1`, ….
    pub(crate) hashes: Vec<Digest>,
    /// The first record whose stored hash does not match its fields, or whose number skips.
    pub(crate) broken: Option<(u64, String)>,
}

impl KeyChainRead {
    /// Takes the next record (in number order) with its stored link.
    pub(crate) fn next(&mut self, record: &IdempotencyRecord, link: &KeyLink) {
        if self.broken.is_some() {
            return;
        }
        if self.hashes.is_empty() {
            self.first = link.number;
            // The first record's predecessor may be forgotten: its link is checked against the
            // event chain instead (`cross_check`).
            self.hashes.push(link.hash);
            return;
        }
        let expected = self.first + self.hashes.len() as u64;
        if link.number != expected {
            self.broken = Some((expected, "the record is missing".into()));
            return;
        }
        let previous = self.hashes[self.hashes.len() - 1];
        if chain::key_hash(link.number, &previous, record) != link.hash {
            self.broken = Some((link.number, "its fields do not hash to its stored hash (it was changed)".into()));
            return;
        }
        self.hashes.push(link.hash);
    }

    /// The last number read (or `first - 1` when none).
    fn last(&self) -> u64 {
        self.first + self.hashes.len() as u64 - 1
    }

    /// Checks the records against the event chain and the head recorded by the last append:
    /// every record an event covers and that the retention did not forget (`forgotten`: records
    /// 1 to `forgotten` were) exists with the hash the event covers, and so does the last record
    /// chained. Returns the chain's head for the next append.
    pub(crate) fn cross_check(
        self,
        verified: ChainHead,
        recorded: Option<&ChainHead>,
        forgotten: u64,
        changes: &[KeyChange],
        first_record: Option<(&IdempotencyRecord, &KeyLink)>,
    ) -> Result<ChainHead, IntegrityError> {
        // The event that first covers record `number`, for the message (the head when none
        // does yet).
        let bound_at =
            |number: u64| changes.iter().find(|c| c.keys >= number).map_or(verified.position, |c| c.position);
        let broken = |number: u64, why: String| IntegrityError::KeyChain { number, position: bound_at(number), why };
        if let Some((number, why)) = self.broken {
            return Err(broken(number, why));
        }
        let (first, last) = if self.hashes.is_empty() { (forgotten + 1, forgotten) } else { (self.first, self.last()) };
        if first > forgotten + 1 {
            return Err(broken(
                forgotten + 1,
                format!(
                    "the record is missing (the retention forgot records 1 to {forgotten}; the first kept is #{first})"
                ),
            ));
        }
        if first <= forgotten {
            return Err(broken(
                first,
                format!("the record is kept, but the retention forgot records 1 to {forgotten}"),
            ));
        }
        // The first kept record's link to its forgotten predecessor, where an event holds it.
        if let (Some((record, link)), Some(before)) = (first_record, changes.iter().rev().find(|c| c.keys == first - 1))
            && chain::key_hash(link.number, &before.key_hash, record) != link.hash
        {
            return Err(broken(first, "its fields do not hash to its stored hash (it was changed)".into()));
        }
        let hash_of = |number: u64| self.hashes[(number - first) as usize];
        for c in changes.iter().filter(|c| c.keys >= first) {
            if c.keys > last {
                return Err(IntegrityError::KeyChain {
                    number: c.keys,
                    position: c.position,
                    why: "the record is missing".into(),
                });
            }
            if hash_of(c.keys) != c.key_hash {
                return Err(IntegrityError::KeyChain {
                    number: c.keys,
                    position: c.position,
                    why: "its stored hash differs from the one the event chain holds for it".into(),
                });
            }
        }
        let mut head = verified;
        match recorded {
            Some(r) => {
                // Records chained after the last event (a command that appended nothing) are
                // covered by the recorded head until the next event.
                if r.keys < verified.keys {
                    return Err(broken(
                        verified.keys,
                        format!("the last append recorded {} idempotency records, fewer than the chain holds", r.keys),
                    ));
                }
                if r.keys > last && r.keys > forgotten {
                    return Err(broken(last.max(forgotten) + 1, "the record is missing".into()));
                }
                let expected = if r.keys >= first {
                    Some(hash_of(r.keys))
                } else if r.keys == verified.keys {
                    Some(verified.key_hash)
                } else {
                    None
                };
                if expected.is_some_and(|h| h != r.key_hash) {
                    return Err(broken(
                        r.keys,
                        "its stored hash differs from the head the last append recorded".into(),
                    ));
                }
                head.keys = r.keys;
                head.key_hash = r.key_hash;
            }
            None => {
                if last > head.keys {
                    head.keys = last;
                    head.key_hash = hash_of(last);
                }
            }
        }
        Ok(head)
    }
}

/// Checks that the log's event at the snapshot's position has the snapshot's link.
pub(crate) fn check_snapshot_link(snapshot: &ChainHead, stored: Option<EventLink>) -> Result<(), IntegrityError> {
    let why = match stored {
        None => "the log has no event there (it is shorter than the snapshot)",
        Some(l) if l.hash != snapshot.hash || l.keys != snapshot.keys || l.key_hash != snapshot.key_hash => {
            "the log's event there has another hash (the snapshot belongs to another log, or the log was changed)"
        }
        Some(_) => return Ok(()),
    };
    Err(IntegrityError::Chain {
        position: snapshot.position,
        why: format!("the snapshot at this position does not match: {why}"),
    })
}

/// The text of a recorded head in the metadata: `POSITION HASH KEYS KEY_HASH`.
pub(crate) fn head_text(chain: &ChainHead) -> String {
    format!("{} {} {} {}", chain.position, chain.hash, chain.keys, chain.key_hash)
}

/// Parses a recorded head; a value that does not parse is damage.
pub(crate) fn parse_head(text: &str) -> Result<ChainHead, IntegrityError> {
    let damaged = || IntegrityError::Damaged { position: 0, why: format!("the recorded head `{text}` does not read") };
    let mut parts = text.split(' ');
    let mut next = || parts.next().ok_or_else(damaged);
    let position = next()?.parse().map_err(|_| damaged())?;
    let hash = next()?.parse().map_err(|_| damaged())?;
    let keys = next()?.parse().map_err(|_| damaged())?;
    let key_hash = next()?.parse().map_err(|_| damaged())?;
    Ok(ChainHead { position, hash, keys, key_hash })
}

impl fmt::Display for LogSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} events in {} streams, {} idempotency records",
            self.events, self.streams, self.idempotency_records
        )
    }
}
