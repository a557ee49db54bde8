//! The single writer: one thread owns the [`Engine`] and the store, and takes requests from a
//! bounded channel.
//!
//! **Group commit.** The writer blocks for the first request, then drains whatever else is
//! queued (up to [`BATCH_MAX`]). It fires the timers due by now, decides every command of the
//! batch in memory (a refused command changes nothing), appends every resulting event and
//! idempotency record in **one** transaction (one fsync), and only then replies to every waiter
//! and publishes the events to the live stream. While it waits for the disk, new requests queue
//! up and form the next batch, so the batch grows with the load.
//!
//! **Rollback.** Commands are applied to the engine before the commit (a command must see the
//! effects of the commands before it in the same batch). If the commit fails, the engine holds
//! effects that are not in the log, so the writer rebuilds it from the log (the same fold as at
//! start) and answers every request of the batch with 503: nothing of the batch was stored, and
//! a retry with the same `Idempotency-Key` is safe. Queries are answered after the commit too,
//! so no reader ever sees a state the log does not hold.
//!
//! **Key retention.** Idempotency records are kept for a number of hall days
//! ([`Writer::keep_keys_for`]): on the first batch of each new day the writer asks the store to
//! forget the records of commands that ended before the cutoff. The writer knows where each day
//! starts in the log (the first position at or after the day's start, by the latest event time
//! so far, so that a timer stamped with an earlier due time does not move a day back).

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use yichuang_core::definition::Definition;
use yichuang_core::{
    Actor, CaseId, Command, Date, Engine, EngineSnapshot, Instant, Recorded, StreamId, TicketCommand, TicketId,
    TicketSource,
};
use yichuang_store::{Commit, EncodedEvent, EventStore, IntegrityError, LogSummary, StoredEvent};

use crate::config::{ClockSetting, china_now};
use crate::error::ApiError;
use crate::query::{Query, ReadSide, storage_failed};
use crate::state::{Shared, WireEvent};

mod command;
mod deploy;

use command::Subject;
/// The definition versions kept in the store (moved to the store crate, shared with the CLI).
pub use yichuang_store::versions;

/// Most requests decided and committed together.
pub const BATCH_MAX: usize = 1024;

/// A group commit slower than this is logged as a warning (the disk is struggling).
pub const SLOW_COMMIT_SECONDS: f64 = 1.0;

/// Capacity of the request channel; senders wait when it is full (back-pressure).
pub const QUEUE_MAX: usize = 8192;

/// A response: status and JSON body; `replayed` when it comes from an idempotency record.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// JSON body.
    pub body: String,
    /// Answered from the idempotency record (the command was not executed again).
    pub replayed: bool,
    /// The refusal, when the command was refused (the response is built from it, so that it
    /// carries the request id like every other error).
    pub error: Option<ApiError>,
}

impl Reply {
    fn error(e: &ApiError) -> Reply {
        Reply { status: e.status, body: e.body(), replayed: false, error: Some(e.clone()) }
    }
}

/// What a command acts on.
#[derive(Debug)]
pub enum Target {
    /// Open a case (`Submit` or `Consult`).
    OpenCase(Command),
    /// A command on a case (including task commands).
    Case(CaseId, Command),
    /// Open a ticket (complaint or inspection finding).
    OpenTicket(TicketSource),
    /// A command on a ticket.
    Ticket(TicketId, TicketCommand),
    /// Open one ticket per untracked task of the rectification plan.
    PlanTickets,
    /// Judge, and unless a dry run move, every open case to a definition version (admins).
    Migrate {
        /// The version (`None`: the active one).
        to: Option<yichuang_core::definition::Version>,
        /// Renamed items and bundles.
        plan: yichuang_core::machine::case::MigrationPlan,
        /// Only judge.
        dry_run: bool,
    },
}

/// The client's idempotency key and the request's fingerprint.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// The key.
    pub key: String,
    /// Fingerprint of method, path and body.
    pub fingerprint: u64,
}

/// A command from a client.
#[derive(Debug)]
pub struct CommandRequest {
    /// Who.
    pub actor: Actor,
    /// What.
    pub target: Target,
    /// The version the client decided on.
    pub expected_version: Option<u32>,
    /// The idempotency key.
    pub idempotency: Option<Idempotency>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Reply>,
}

/// A message to the writer.
#[derive(Debug)]
pub enum Request {
    /// A command.
    Command(Box<CommandRequest>),
    /// A query.
    Query {
        /// Who asks.
        actor: Actor,
        /// What.
        query: Query,
        /// Where the JSON answer goes.
        reply: oneshot::Sender<Result<String, ApiError>>,
    },
    /// Move the manual clock.
    SetClock {
        /// Who asks.
        actor: Actor,
        /// The new time.
        now: Instant,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<String, ApiError>>,
    },
    /// A read computed from the engine (the web pages' views, [`crate::web`]).
    Read(ReadJob),
    /// Deploy a definition text (`POST /v1/definitions`, admins).
    Deploy {
        /// Who asks.
        actor: Actor,
        /// The RON text.
        text: String,
        /// Where it came from.
        origin: Option<String>,
        /// Where the answer goes.
        reply: oneshot::Sender<Reply>,
    },
    /// The definition versions (`version: None`) or one version's text.
    Definitions {
        /// Who asks.
        actor: Actor,
        /// One version's text, or the list.
        version: Option<yichuang_core::definition::Version>,
        /// Where the JSON answer goes.
        reply: oneshot::Sender<Result<String, ApiError>>,
    },
    /// Fire due timers (sent periodically).
    Tick,
}

/// A read computed on the writer's thread from the engine as of its batch; what it returns is
/// run after the batch's commit with the commit's outcome, and sends the answer, so that no
/// reader sees a state the log does not hold.
pub struct ReadJob(pub Box<dyn for<'a, 'b> FnOnce(&'b mut ReadSide<'a>) -> Deliver + Send>);

/// Sends a read's answer once its batch is committed (`Ok`), or the commit's failure.
pub type Deliver = Box<dyn FnOnce(Result<(), ApiError>) + Send>;

impl std::fmt::Debug for ReadJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadJob")
    }
}

/// The writer's handle: a bounded channel.
pub type WriterHandle = mpsc::Sender<Request>;

enum Pending {
    Command(oneshot::Sender<Reply>, Reply),
    Answer(oneshot::Sender<Result<String, ApiError>>, Result<String, ApiError>),
    Read(Deliver),
}

/// The writer's state.
pub struct Writer {
    def: Arc<Definition>,
    engine: Engine,
    store: Box<dyn EventStore>,
    /// The next position to assign (head + 1 + events pending in the current batch).
    next: u64,
    clock: ClockSetting,
    /// Time never goes backwards: the latest time used, including every logged event's.
    floor: Instant,
    shared: Arc<Shared>,
    /// Set when the log can no longer be read back; every command is then refused with 503.
    failed: Option<String>,
    /// Idempotency records are kept this many days (0: for ever).
    key_days: u32,
    /// The first log position of each hall day seen, oldest first (see "Key retention").
    days: VecDeque<(Date, u64)>,
    /// The latest event time committed.
    latest: Instant,
    /// The day old keys were last forgotten.
    keys_pruned_on: Option<Date>,
    /// Events between snapshots (0: none).
    snapshot_every: u64,
    /// The position of the newest snapshot kept (or resumed from).
    snapshot_at: u64,
    /// Cases the batch (or the catch-up) touched: the finished ones are compacted after the
    /// commit.
    touched: Vec<CaseId>,
    /// How many deployments the store listed when this writer last read them (several
    /// instances: a longer list says another instance deployed).
    deployments: usize,
}

/// What a snapshot of the writer holds (its body in the store, JSON): the engine's snapshot,
/// and where each hall day starts in the log (the key retention's index).
#[derive(Debug, Serialize, Deserialize)]
struct WriterSnapshot {
    /// [`WRITER_SNAPSHOT_VERSION`].
    v: u32,
    /// The definition the log is written under.
    definition: String,
    /// The latest event time folded.
    latest: Instant,
    /// The first position of each hall day, oldest first.
    days: Vec<(Date, u64)>,
    /// The engine.
    engine: EngineSnapshot,
}

/// The format of the writer's snapshot body.
const WRITER_SNAPSHOT_VERSION: u32 = 1;

/// The log folded: the engine, the log's summary, its latest event time and where each hall day
/// starts in it.
struct Folded {
    engine: Engine,
    summary: LogSummary,
    latest: Instant,
    days: VecDeque<(Date, u64)>,
    /// The snapshot's position, when the start resumed from one.
    snapshot: Option<u64>,
}

/// Notes event `at` at `position` in the day index: a new day starts at the first event whose
/// time, or an earlier event's, reaches it.
fn note_day(days: &mut VecDeque<(Date, u64)>, latest: &mut Instant, at: Instant, position: u64) {
    *latest = (*latest).max(at);
    let date = latest.date();
    if days.back().is_none_or(|&(d, _)| d < date) {
        days.push_back((date, position));
    }
}

/// What the start found in the log.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    /// What the log held.
    pub summary: LogSummary,
    /// Cases and tickets rebuilt from it.
    pub sizes: (usize, usize),
    /// How long checking and folding it took.
    pub replay: std::time::Duration,
    /// How the previous run ended.
    pub previous: PreviousRun,
    /// The snapshot the start resumed from (its position), if it did.
    pub snapshot: Option<u64>,
}

/// Why the log could not be loaded at start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading or checking the log failed.
    #[error("{0}")]
    Integrity(IntegrityError),
    /// The log was written under another definition.
    #[error(
        "the log was written under definition `{logged}`, but the service was started with `{given}`; start it \
         with the definition the log belongs to, or with another --db"
    )]
    Definition {
        /// The definition of the log.
        logged: String,
        /// The definition given.
        given: String,
    },
    /// The store failed.
    #[error("{0}")]
    Store(yichuang_store::StoreError),
    /// The definition versions kept in the store could not be read.
    #[error("{0}")]
    Versions(versions::VersionsError),
}

/// The text of the definition file the service was started with, kept in the store as a
/// definition version ([`versions`]).
#[derive(Debug, Clone)]
pub struct Source {
    /// The RON text.
    pub text: String,
    /// The file it came from.
    pub origin: String,
}

/// How often the replay says how far it got.
pub const REPLAY_PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Folds the whole log into a fresh engine, checking every event's shape and legality, and
/// reports its progress in `shared` (for `/healthz`, `/readyz` and `/metrics`) and in the log
/// every [`REPLAY_PROGRESS_EVERY`].
fn fold(
    defs: &[Arc<Definition>],
    active: &Arc<Definition>,
    store: &mut dyn EventStore,
    shared: &Shared,
) -> Result<Folded, IntegrityError> {
    let mut engine = Engine::new(Arc::clone(&defs[0]));
    for def in defs[1..].iter().chain([active]) {
        engine.deploy(Arc::clone(def)).expect("versions of the definition the log is under");
    }
    let mut latest = Instant::from_minutes(i64::MIN / 2);
    let mut days = VecDeque::new();
    let total = store.head().unwrap_or(0);
    shared.replay.total.store(total, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut said = started;
    let summary = store.verify(&mut |e| {
        note_day(&mut days, &mut latest, e.event.record().at, e.position);
        let index = usize::try_from(e.position - 1).map_err(|_| "position out of range".to_owned())?;
        if e.position % 1024 == 0 {
            shared.replay.replayed.store(e.position, Ordering::Relaxed);
            if said.elapsed() >= REPLAY_PROGRESS_EVERY {
                said = std::time::Instant::now();
                tracing::info!(
                    replayed = e.position,
                    of = total,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "replaying the log"
                );
            }
        }
        engine.apply(index, e.event.record()).map_err(|why| why.to_string())
    })?;
    shared.replay.replayed.store(summary.events, Ordering::Relaxed);
    engine.rebuild_timers();
    compact_finished(&mut engine);
    Ok(Folded { engine, summary, latest, days, snapshot: None })
}

/// Compacts every finished case ([`Engine::compact`]): what a fold leaves as a start from a
/// snapshot would.
fn compact_finished(engine: &mut Engine) {
    let finished: Vec<CaseId> = engine.cases().filter(|c| c.is_finished()).map(|c| c.id()).collect();
    for id in finished {
        engine.compact(id);
    }
}

/// Folds the log from the store's newest snapshot: the snapshot's finished cases, the events of
/// its open cases and tickets up to its position, then the log after it, checked as the store's
/// `resume` checks it. `Ok(None)` when there is no snapshot; `Err` says why one was not used
/// (the caller then folds the whole log).
fn fold_from_snapshot(
    def: &Arc<Definition>,
    store: &mut dyn EventStore,
    shared: &Shared,
) -> Result<Option<Folded>, String> {
    let Some(snapshot) = store.latest_snapshot().map_err(|e| e.to_string())? else { return Ok(None) };
    let body: WriterSnapshot =
        serde_json::from_str(&snapshot.body).map_err(|e| format!("its body does not read: {e}"))?;
    if body.v != WRITER_SNAPSHOT_VERSION {
        return Err(format!("it has format {}; this build reads {WRITER_SNAPSHOT_VERSION}", body.v));
    }
    if body.definition != def.id().as_str() {
        return Err(format!("it was taken under definition `{}`", body.definition));
    }
    let streams = Engine::snapshot_streams(&body.engine);
    let events = store.read_streams(&streams, snapshot.position).map_err(|e| e.to_string())?;
    let mut engine = Engine::resume(Arc::clone(def), &body.engine, events.iter().map(|e| e.event.record()))
        .map_err(|e| e.to_string())?;
    drop(events);
    let versions: Vec<(StreamId, u32)> = engine
        .cases()
        .map(|c| (StreamId::Case(c.id()), c.version()))
        .chain(engine.tickets().iter().map(|t| (StreamId::Ticket(t.id()), t.version())))
        .collect();
    let (mut latest, mut days) = (body.latest, VecDeque::from(body.days));
    let summary = store
        .resume(&snapshot.head, &mut versions.into_iter(), &mut |e| {
            note_day(&mut days, &mut latest, e.event.record().at, e.position);
            let index = usize::try_from(e.position - 1).map_err(|_| "position out of range".to_owned())?;
            engine.apply(index, e.event.record()).map_err(|why| why.to_string())
        })
        .map_err(|e| e.to_string())?;
    shared.replay.replayed.store(summary.events, Ordering::Relaxed);
    engine.rebuild_timers();
    compact_finished(&mut engine);
    Ok(Some(Folded { engine, summary, latest, days, snapshot: Some(snapshot.position) }))
}

/// The log folded: from the newest snapshot when there is one that fits, else in full.
fn load_state(def: &Arc<Definition>, store: &mut dyn EventStore, shared: &Shared) -> Result<Folded, IntegrityError> {
    match fold_from_snapshot(def, store, shared) {
        Ok(Some(folded)) => return Ok(folded),
        Ok(None) => {}
        Err(why) => tracing::warn!(%why, "the newest snapshot is not used; the whole log is folded"),
    }
    fold(std::slice::from_ref(def), def, store, shared)
}

/// The store's note of whether the service is running, kept in its meta table: `running` from
/// start to a clean stop, then `stopped`. Found `running` at start, it says the previous run
/// ended without stopping (killed, crashed, the machine lost power).
pub const RUN_MARKER: &str = "run";

/// How the previous run on this database ended, as the run marker tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousRun {
    /// No run before (a new database, or one from before the marker existed).
    None,
    /// Stopped cleanly (SIGINT/SIGTERM, drained).
    Clean,
    /// Ended without stopping: killed, crashed or lost power. The log was checked and replayed.
    Unclean,
}

impl Writer {
    /// Loads the log: checks it, folds it into the engine, and records the definition id in a
    /// new log (a log is refused under another definition).
    pub fn load(
        def: Arc<Definition>,
        store: Box<dyn EventStore>,
        clock: ClockSetting,
        shared: Arc<Shared>,
    ) -> Result<(Writer, Loaded), LoadError> {
        Writer::load_with(def, None, store, clock, shared, 0)
    }

    /// [`Writer::load`], from the store's newest snapshot when one fits, taking a snapshot
    /// every `snapshot_every` events (0: none), and keeping the definition's text (`source`) as
    /// a version in the store: a file whose content differs from the active version is deployed
    /// as a new version (and said so in the log), and every version the store holds is loaded,
    /// so that each case replays and runs on the version it was submitted under.
    pub fn load_with(
        def: Arc<Definition>,
        source: Option<Source>,
        mut store: Box<dyn EventStore>,
        clock: ClockSetting,
        shared: Arc<Shared>,
        snapshot_every: u64,
    ) -> Result<(Writer, Loaded), LoadError> {
        match store.meta("definition").map_err(LoadError::Store)? {
            Some(logged) if logged != def.id().as_str() => {
                return Err(LoadError::Definition { logged, given: def.id().to_string() });
            }
            Some(_) => {}
            None => store.set_meta("definition", def.id()).map_err(LoadError::Store)?,
        }
        let previous = match store.meta(RUN_MARKER).map_err(LoadError::Store)?.as_deref() {
            None => PreviousRun::None,
            Some("running") => PreviousRun::Unclean,
            Some(_) => PreviousRun::Clean,
        };
        let (mut defs, deployed) = versions::load_all(store.as_ref()).map_err(LoadError::Versions)?;
        let given = def.version();
        let active = deployed.last().map(|d| d.version);
        if active != Some(given) {
            if let Some(source) = &source {
                let now = match clock {
                    ClockSetting::Manual(t) => t,
                    ClockSetting::System => china_now(),
                };
                let deployment = versions::Deployment {
                    version: given,
                    origin: source.origin.clone(),
                    deployed_at: now.to_string(),
                    by: "--definition".into(),
                };
                versions::record(store.as_mut(), &source.text, deployment).map_err(LoadError::Versions)?;
            }
            match active {
                Some(previous) => tracing::info!(
                    version = %given,
                    previous = %previous,
                    "deployed the definition file as a new version: it differs from the active version; open cases \
                     keep the version they were submitted under until migrated"
                ),
                None => tracing::info!(version = %given, "the definition file is the log's first version"),
            }
        }
        if defs.is_empty() {
            defs.push(Arc::clone(&def));
        }
        let started = std::time::Instant::now();
        // Snapshots are taken over one version; a log with several folds whole.
        let Folded { engine, summary, latest, days, snapshot } =
            if snapshot_every > 0 && defs.len() == 1 && defs[0].version() == given {
                load_state(&def, store.as_mut(), &shared)
            } else {
                fold(&defs, &def, store.as_mut(), &shared)
            }
            .map_err(LoadError::Integrity)?;
        let replay = started.elapsed();
        store.set_meta(RUN_MARKER, "running").map_err(LoadError::Store)?;
        let floor = match clock {
            ClockSetting::Manual(t) => t.max(latest),
            ClockSetting::System => latest,
        };
        shared.head.store(summary.events, Ordering::Release);
        shared.cases.store(engine.cases_opened(), Ordering::Relaxed);
        shared.tickets.store(engine.tickets().len() as u64, Ordering::Relaxed);
        let writer = Writer {
            def,
            engine,
            store,
            next: summary.events + 1,
            clock,
            floor,
            shared,
            failed: None,
            key_days: 0,
            days,
            latest,
            keys_pruned_on: None,
            snapshot_every,
            snapshot_at: snapshot.unwrap_or(0),
            touched: Vec::new(),
            deployments: 0,
        };
        let mut writer = writer;
        writer.deployments = versions::deployments(writer.store.as_ref()).map_err(LoadError::Versions)?.len();
        // A log folded in full (no snapshot, or an old one) is snapshotted at once, so that the
        // next start is fast even if this run appends little.
        if snapshot_every > 0 && summary.events >= writer.snapshot_at + snapshot_every {
            writer.take_snapshot();
        }
        let sizes = writer.sizes();
        Ok((writer, Loaded { summary, sizes, replay, previous, snapshot }))
    }

    /// Stores a snapshot of the writer's state at its head (docs/store.md, "Snapshots"). A
    /// failure is logged and changes nothing: the next start folds more of the log.
    fn take_snapshot(&mut self) {
        let position = self.next - 1;
        if position == 0 || self.failed.is_some() {
            return;
        }
        let started = std::time::Instant::now();
        let body = WriterSnapshot {
            v: WRITER_SNAPSHOT_VERSION,
            definition: self.def.id().to_string(),
            latest: self.latest,
            days: self.days.iter().copied().collect(),
            engine: self.engine.snapshot(),
        };
        let (open, finished) = (body.engine.open.len(), body.engine.finished.len());
        let text = serde_json::to_string(&body).expect("a snapshot serializes to JSON");
        match self.store.save_snapshot(position, &text) {
            Ok(()) => {
                self.snapshot_at = position;
                tracing::info!(
                    position,
                    open_cases = open,
                    finished_cases = finished,
                    bytes = text.len(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "snapshot stored"
                );
            }
            Err(e) => {
                tracing::warn!(position, error = %e, "the snapshot could not be stored; the next start folds more")
            }
        }
    }

    /// Keeps idempotency records for `days` hall days after their command (0: for ever, the
    /// default). A repeat of an older key is decided as a new command.
    pub fn keep_keys_for(&mut self, days: u32) {
        self.key_days = days;
    }

    /// On the first batch of a day, forgets the keys of commands that ended more than
    /// `key_days` days before it.
    fn forget_old_keys(&mut self, now: Instant) {
        let today = now.date();
        if self.key_days == 0 || self.keys_pruned_on == Some(today) {
            return;
        }
        self.keys_pruned_on = Some(today);
        let cutoff = today.add_days(-i32::try_from(self.key_days).unwrap_or(i32::MAX));
        while self.days.front().is_some_and(|&(d, _)| d < cutoff) {
            self.days.pop_front();
        }
        // Every record of a command that ended before the first event of the cutoff day.
        let before = self.days.front().map_or(self.next, |&(_, position)| position);
        match self.store.forget_keys_before(before) {
            Ok(0) => {}
            Ok(n) => {
                self.shared.idempotency_records.fetch_sub(n, Ordering::Relaxed);
                tracing::info!(
                    forgotten = n,
                    before = %cutoff,
                    kept_days = self.key_days,
                    "forgot the idempotency records of old commands"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "old idempotency records could not be forgotten; kept until tomorrow")
            }
        }
    }

    /// Cases and tickets held.
    pub fn sizes(&self) -> (usize, usize) {
        (self.engine.cases_opened() as usize, self.engine.tickets().len())
    }

    /// Runs until every sender is gone.
    pub fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        let mut batch = Vec::with_capacity(BATCH_MAX);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < BATCH_MAX {
                match rx.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let taken = std::mem::take(&mut batch);
            // A panic is an engine bug. The batch's reply channels drop with it (the waiters
            // answer 503), nothing of it was committed, and the engine is rebuilt from the log.
            if std::panic::catch_unwind(AssertUnwindSafe(|| self.process(taken))).is_err() {
                tracing::error!("a request panicked in the writer (an engine bug); its batch is answered 503");
                self.rebuild("a request panicked");
            }
        }
        // Every sender is gone: the service stops. Everything answered is already durable.
        if self.snapshot_every > 0 && self.next - 1 > self.snapshot_at {
            self.take_snapshot();
        }
        match self.store.set_meta(RUN_MARKER, "stopped") {
            Ok(()) => tracing::info!(head = self.next - 1, "the writer stopped; the run is marked as ended cleanly"),
            Err(e) => tracing::warn!(error = %e, "the writer stopped but could not mark the run as ended cleanly"),
        }
    }

    fn now(&mut self) -> Instant {
        let t = match self.clock {
            ClockSetting::System => china_now(),
            ClockSetting::Manual(t) => t,
        };
        self.floor = self.floor.max(t);
        self.floor
    }

    fn process(&mut self, batch: Vec<Request>) {
        // Several instances on one log: first read what the others committed (without the lock,
        // so that reads see every acknowledged command of any instance); then, if this batch
        // may append (commands, the clock, due timers), take the write lock and read again, so
        // that every decision below is made on the latest state of the whole log.
        let mut blocked: Option<String> = None;
        let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
        // Deployments first, each under the write lock with the latest state (keeping one ends
        // the lock's transaction: the commands below take it again).
        let (deploys, batch): (Vec<Request>, Vec<Request>) =
            batch.into_iter().partition(|r| matches!(r, Request::Deploy { .. }));
        for request in deploys {
            let Request::Deploy { actor, text, origin, reply } = request else { continue };
            let caught = if self.store.shared() && self.failed.is_none() { self.catch_up(true) } else { Ok(()) };
            let now = self.now();
            let answer = match caught {
                Ok(()) => self.deploy(&actor, &text, origin.as_deref(), now),
                Err(why) => Reply::error(&storage_failed(&why)),
            };
            if let Err(e) = self.store.release() {
                tracing::warn!(error = %e, "the write lock could not be released cleanly; its session ends it");
            }
            pending.push(Pending::Command(reply, answer));
        }
        if self.store.shared() && self.failed.is_none() {
            blocked = self.catch_up(false).err();
            let writes = batch.iter().any(|r| matches!(r, Request::Command(_) | Request::SetClock { .. }));
            let now = self.now();
            self.forget_old_keys(now);
            let due = self.engine.next_deadline().is_some_and(|t| t <= now);
            if blocked.is_none() && (writes || due) {
                blocked = self.catch_up(true).err();
            }
            // Another instance may have deployed: new cases open under the active version.
            if blocked.is_none() && writes {
                blocked = self.notice_deployments().err();
            }
        }
        let mut now = self.now();
        let mut commits: Vec<Commit> = Vec::new();
        let mut keys: HashMap<(String, String), (u64, Reply)> = HashMap::new();
        if self.failed.is_none() && blocked.is_none() {
            self.forget_old_keys(now);
            self.fire_timers(now, &mut commits);
        }
        for request in batch {
            match request {
                Request::Command(c) => {
                    let CommandRequest { actor, target, expected_version, idempotency, reply } = *c;
                    let answer = match self.failed.as_ref().or(blocked.as_ref()) {
                        Some(why) => Reply::error(&storage_failed(why)),
                        None => {
                            self.command(&actor, target, expected_version, idempotency, now, &mut commits, &mut keys)
                        }
                    };
                    pending.push(Pending::Command(reply, answer));
                }
                Request::Query { actor, query, reply } => {
                    let answer = match &blocked {
                        Some(why) => Err(storage_failed(why)),
                        None => self.read_side(now).answer(&actor, &query),
                    };
                    pending.push(Pending::Answer(reply, answer));
                }
                Request::SetClock { actor, now: to, reply } => {
                    let answer = self.set_clock(&actor, to).map(|t| {
                        now = t;
                        // Commands after this one in the batch see the keys of the new day.
                        self.forget_old_keys(now);
                        self.fire_timers(now, &mut commits);
                        serde_json::json!({ "now": t, "clock": "manual" }).to_string()
                    });
                    pending.push(Pending::Answer(reply, answer));
                }
                Request::Read(ReadJob(job)) => {
                    let deliver = job(&mut self.read_side(now));
                    pending.push(Pending::Read(deliver));
                }
                Request::Definitions { actor, version, reply } => {
                    let answer = match &blocked {
                        Some(why) => Err(storage_failed(why)),
                        None => self.definitions(&actor, version),
                    };
                    pending.push(Pending::Answer(reply, answer));
                }
                Request::Deploy { .. } => unreachable!("deployments are taken out of the batch first"),
                Request::Tick => {}
            }
        }
        let commands = pending.iter().filter(|p| matches!(p, Pending::Command(..))).count();
        match self.commit(commits) {
            Ok(()) => {
                self.compact_touched();
                if self.snapshot_every > 0 && self.next > self.snapshot_at + self.snapshot_every {
                    self.take_snapshot();
                }
                self.shared.metrics.batch(commands);
                self.shared.cases.store(self.engine.cases_opened(), Ordering::Relaxed);
                self.shared.tickets.store(self.engine.tickets().len() as u64, Ordering::Relaxed);
                for p in pending {
                    match p {
                        Pending::Command(tx, reply) => {
                            let _ = tx.send(reply);
                        }
                        Pending::Answer(tx, answer) => {
                            let _ = tx.send(answer);
                        }
                        Pending::Read(deliver) => deliver(Ok(())),
                    }
                }
            }
            Err(why) => {
                let e = ApiError::unavailable(
                    "storage_failed",
                    format!("the batch could not be stored ({why}); nothing of this request was kept, retry it"),
                );
                for p in pending {
                    match p {
                        Pending::Command(tx, _) => {
                            let _ = tx.send(Reply::error(&e));
                        }
                        Pending::Answer(tx, _) => {
                            let _ = tx.send(Err(e.clone()));
                        }
                        Pending::Read(deliver) => deliver(Err(e.clone())),
                    }
                }
            }
        }
    }

    /// Folds the events other instances appended since this one's head (see [`Writer::process`])
    /// into the engine, rescheduling their streams' timers, and publishes them to the live
    /// stream in log order. With `lock`, the store's write lock is held afterwards until the
    /// batch's commit. An event the engine refuses stops the writer as a damaged log does at
    /// start; a database error only fails this batch.
    fn catch_up(&mut self, lock: bool) -> Result<(), String> {
        let publish = self.shared.events.receiver_count() > 0;
        let mut wire = Vec::new();
        let mut followed = 0u64;
        // Events from the first one under a version this writer does not hold (another instance
        // deployed it) on: folded after the catch-up, once the stored versions are read again.
        let mut deferred: Vec<(usize, Recorded)> = Vec::new();
        let (engine, days, latest, touched) = (&mut self.engine, &mut self.days, &mut self.latest, &mut self.touched);
        let result = self.store.catch_up(lock, &mut |e| {
            let index = usize::try_from(e.position - 1).map_err(|_| "position out of range".to_owned())?;
            if deferred.is_empty() {
                match engine.follow(index, e.event.record()) {
                    Ok(()) => {}
                    Err(yichuang_core::ReplayError::UnknownVersion { .. }) => {
                        deferred.push((index, e.event.record().clone()));
                    }
                    Err(why) => return Err(why.to_string()),
                }
            } else {
                deferred.push((index, e.event.record().clone()));
            }
            if let StreamId::Case(c) = e.event.record().stream {
                touched.push(c);
            }
            note_day(days, latest, e.event.record().at, e.position);
            followed += 1;
            if publish {
                wire.push(WireEvent::of(e));
            }
            Ok(())
        });
        if !deferred.is_empty()
            && let Err(failure) = self.follow_deferred(deferred)
        {
            tracing::error!(%failure, "every command is refused until the service is restarted");
            self.failed = Some(failure.clone());
            return Err(failure);
        }
        if followed > 0 {
            self.next += followed;
            self.floor = self.floor.max(self.latest);
            self.shared.head.store(self.next - 1, Ordering::Release);
            self.shared.metrics.events_followed.fetch_add(followed, Ordering::Relaxed);
            if !wire.is_empty() {
                let _ = self.shared.events.send(Arc::from(wire));
            }
        }
        match result {
            Ok(_) => Ok(()),
            Err(IntegrityError::Store(e)) => {
                tracing::error!(error = %e, "the events of other instances could not be read; this batch is answered 503");
                Err(format!("the log could not be read: {e}"))
            }
            Err(e) => {
                let failure = format!("the log written by other instances is refused: {e}");
                tracing::error!(%failure, "every command is refused until the service is restarted");
                self.failed = Some(failure.clone());
                Err(failure)
            }
        }
    }

    /// Folds the events a catch-up met under a version this writer did not hold, after reading
    /// the stored versions again (another instance deployed it).
    fn follow_deferred(&mut self, deferred: Vec<(usize, Recorded)>) -> Result<(), String> {
        self.reload_versions()
            .map_err(|e| format!("the definition versions of other instances could not be read: {e}"))?;
        for (index, rec) in &deferred {
            self.engine
                .follow(*index, rec)
                .map_err(|why| format!("the log written by other instances is refused: {why}"))?;
        }
        Ok(())
    }

    fn fire_timers(&mut self, now: Instant, commits: &mut Vec<Commit>) {
        let mut fired = Vec::new();
        self.engine.advance_into(now, &mut fired);
        if !fired.is_empty() {
            self.shared.metrics.timer_events.fetch_add(fired.len() as u64, Ordering::Relaxed);
            let mut names: Vec<&str> = fired.iter().map(|r| r.event.name()).collect();
            names.sort_unstable();
            names.dedup();
            tracing::info!(%now, events = fired.len(), kinds = %names.join(","), "timers fired");
            commits.push(Commit { events: self.number(fired), idempotency: None });
        }
    }

    fn number(&mut self, records: Vec<Recorded>) -> Vec<StoredEvent> {
        records
            .into_iter()
            .map(|record| {
                let position = self.next;
                self.next += 1;
                StoredEvent { position, event: EncodedEvent::encode(record) }
            })
            .collect()
    }

    /// What queries read: the engine as of this batch.
    fn read_side(&mut self, now: Instant) -> ReadSide<'_> {
        ReadSide {
            def: &self.def,
            engine: &mut self.engine,
            now,
            head: self.next - 1,
            failed: self.failed.as_deref(),
            clock: self.clock,
            log: &*self.store,
        }
    }

    /// Appends the batch; on success publishes it; on failure rebuilds the engine from the log.
    fn commit(&mut self, commits: Vec<Commit>) -> Result<(), String> {
        if commits.is_empty() {
            // Nothing to append: let the other instances on (and commit the retention's
            // deletions made under the lock).
            if let Err(e) = self.store.release() {
                tracing::warn!(error = %e, "the write lock could not be released cleanly; its session ends it");
            }
            return Ok(());
        }
        let started = std::time::Instant::now();
        match self.store.append(&commits) {
            Ok(head) => {
                debug_assert_eq!(head, self.next - 1, "the store and the writer agree on the head");
                let seconds = started.elapsed().as_secs_f64();
                let metrics = &self.shared.metrics;
                metrics.commit_seconds.observe(seconds);
                metrics.commits.fetch_add(1, Ordering::Relaxed);
                let events: usize = commits.iter().map(|c| c.events.len()).sum();
                metrics.events.fetch_add(events as u64, Ordering::Relaxed);
                let keys = commits.iter().filter(|c| c.idempotency.is_some()).count() as u64;
                self.shared.idempotency_records.fetch_add(keys, Ordering::Relaxed);
                tracing::debug!(commits = commits.len(), events, head, fsync_ms = seconds * 1e3, "group commit");
                if seconds > SLOW_COMMIT_SECONDS {
                    tracing::warn!(
                        commits = commits.len(),
                        events,
                        fsync_ms = seconds * 1e3,
                        "a group commit was slow"
                    );
                }
                for e in commits.iter().flat_map(|c| &c.events) {
                    note_day(&mut self.days, &mut self.latest, e.event.record().at, e.position);
                    if let StreamId::Case(c) = e.event.record().stream {
                        self.touched.push(c);
                    }
                }
                self.shared.head.store(head, Ordering::Release);
                if events > 0 && self.shared.events.receiver_count() > 0 {
                    let wire: Vec<WireEvent> =
                        commits.iter().flat_map(|c| c.events.iter().map(WireEvent::of)).collect();
                    let _ = self.shared.events.send(Arc::from(wire));
                }
                Ok(())
            }
            Err(e) => {
                let why = e.to_string();
                self.shared.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(commits = commits.len(), error = %why, "a batch could not be stored; it is answered 503");
                self.rebuild(&why);
                Err(why)
            }
        }
    }

    /// Compacts the finished cases among those the last commit or catch-up touched: a finished
    /// case keeps what reports read, and gives back its tasks and lists (reads of one case fold
    /// it again from its events, [`crate::query::full_case`]).
    fn compact_touched(&mut self) {
        self.touched.sort_unstable();
        self.touched.dedup();
        for id in self.touched.drain(..) {
            self.engine.compact(id);
        }
    }

    /// Replaces the engine by the fold of the log (after a failed commit or a panic).
    fn rebuild(&mut self, why: &str) {
        self.touched.clear();
        let versions = self.engine.versions().to_vec();
        let active = Arc::clone(self.engine.definition());
        let folded = if self.snapshot_every > 0 && versions.len() == 1 {
            load_state(&self.def, self.store.as_mut(), &self.shared)
        } else {
            fold(&versions, &active, self.store.as_mut(), &self.shared)
        };
        match folded {
            Ok(Folded { engine, summary, latest, days, .. }) => {
                self.engine = engine;
                self.latest = latest;
                self.days = days;
                self.next = summary.events + 1;
                self.shared.head.store(summary.events, Ordering::Release);
                tracing::info!(after = why, %summary, "the engine was rebuilt from the log");
            }
            Err(e) => {
                let failure = format!("after {why}, the log could not be read back: {e}");
                tracing::error!(%failure, "every command is refused until the service is restarted");
                self.failed = Some(failure);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use yichuang_store::{AppendError, EventLog, IdempotencyRecord, MemoryStore, StoreError};

    use super::*;

    /// A memory store whose appends fail while `fail` is set, as a full disk would.
    struct FlakyStore {
        inner: MemoryStore,
        fail: Arc<AtomicBool>,
    }

    impl EventLog for FlakyStore {
        fn head(&self) -> Result<u64, StoreError> {
            self.inner.head()
        }
        fn read_stream(&self, stream: yichuang_core::StreamId) -> Result<Vec<StoredEvent>, StoreError> {
            self.inner.read_stream(stream)
        }
        fn read_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
            self.inner.read_after(after, limit)
        }
        fn chain_head(&self) -> Result<yichuang_store::ChainHead, StoreError> {
            self.inner.chain_head()
        }
        fn hash_at(&self, position: u64) -> Result<Option<yichuang_store::Digest>, StoreError> {
            self.inner.hash_at(position)
        }
    }

    impl EventStore for FlakyStore {
        fn append(&mut self, commits: &[Commit]) -> Result<u64, AppendError> {
            if self.fail.load(Ordering::Relaxed) {
                return Err(AppendError::HeadMoved { head: 0, first: 0 });
            }
            self.inner.append(commits)
        }
        fn idempotency(&self, scope: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
            self.inner.idempotency(scope, key)
        }
        fn forget_keys_before(&mut self, position: u64) -> Result<u64, StoreError> {
            self.inner.forget_keys_before(position)
        }
        fn verify(
            &mut self,
            visit: &mut dyn FnMut(&StoredEvent) -> Result<(), String>,
        ) -> Result<LogSummary, IntegrityError> {
            self.inner.verify(visit)
        }
        fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
            self.inner.meta(key)
        }
        fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
            self.inner.set_meta(key, value)
        }
        fn readers(&self) -> Arc<dyn yichuang_store::EventLog + Send + Sync> {
            self.inner.readers()
        }
    }

    fn submit(applicant: &str) -> (Request, oneshot::Receiver<Reply>) {
        let def = definition();
        let ix = def.bundle_ix("open-business").unwrap();
        let materials = def
            .bundle(ix)
            .materials
            .iter()
            .map(|&(m, _)| def.material(m))
            .filter(|m| m.shared_source.is_none())
            .map(|m| m.id.clone())
            .collect();
        let submission = yichuang_core::Submission {
            bundle: "open-business".into(),
            applicant: yichuang_core::Applicant { id: applicant.into(), name: "a".into(), credit_blocked: false },
            channel: yichuang_core::Channel::Window,
            materials,
            answers: Default::default(),
            green_channel: false,
        };
        let (tx, rx) = oneshot::channel();
        let request = CommandRequest {
            actor: Actor::clerk("c", "intake-1"),
            target: Target::OpenCase(Command::Submit(Box::new(submission))),
            expected_version: None,
            idempotency: Some(Idempotency { key: format!("k-{applicant}"), fingerprint: 7 }),
            reply: tx,
        };
        (Request::Command(Box::new(request)), rx)
    }

    fn definition() -> Arc<Definition> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
        Arc::new(Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap())
    }

    #[test]
    fn a_day_starts_where_the_latest_event_time_first_reaches_it() {
        let t = |text: &str| text.parse::<Instant>().unwrap();
        let (mut days, mut latest) = (VecDeque::new(), Instant::from_minutes(i64::MIN / 2));
        note_day(&mut days, &mut latest, t("2026-04-29T09:30"), 1);
        note_day(&mut days, &mut latest, t("2026-04-29T17:00"), 2);
        note_day(&mut days, &mut latest, t("2026-04-30T09:00"), 3);
        // A timer stamped with an earlier due time does not move the day back.
        note_day(&mut days, &mut latest, t("2026-04-29T18:00"), 4);
        note_day(&mut days, &mut latest, t("2026-05-02T10:00"), 5);
        let date = |text: &str| t(text).date();
        assert_eq!(
            Vec::from(days),
            [(date("2026-04-29T00:00"), 1), (date("2026-04-30T00:00"), 3), (date("2026-05-02T00:00"), 5)]
        );
        assert_eq!(latest, t("2026-05-02T10:00"));
    }

    #[test]
    fn a_failed_commit_answers_503_and_leaves_no_trace_in_the_engine() {
        let fail = Arc::new(AtomicBool::new(false));
        let store = FlakyStore { inner: MemoryStore::new(), fail: Arc::clone(&fail) };
        let clock = ClockSetting::Manual("2026-04-29T09:30".parse().unwrap());
        let (mut writer, _) = Writer::load(definition(), Box::new(store), clock, Arc::new(Shared::new())).unwrap();

        fail.store(true, Ordering::Relaxed);
        let (a, a_rx) = submit("a");
        let (b, b_rx) = submit("b");
        writer.process(vec![a, b]);
        for mut rx in [a_rx, b_rx] {
            let reply = rx.try_recv().expect("answered after the failed commit");
            assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
        }
        assert_eq!(writer.engine.cases_opened(), 0, "the engine was rebuilt from the log");
        assert_eq!(writer.next, 1);

        // The same requests succeed once the disk is back, with the numbers the failed batch
        // had taken: nothing of it survived anywhere.
        fail.store(false, Ordering::Relaxed);
        let (a, mut a_rx) = submit("a");
        writer.process(vec![a]);
        let reply = a_rx.try_recv().unwrap();
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert!(reply.body.starts_with(r#"{"id":"C000001""#), "{}", reply.body);
        assert!(writer.store.idempotency("c", "k-a").unwrap().is_some());
        assert!(writer.store.idempotency("c", "k-b").unwrap().is_none());
    }
}
