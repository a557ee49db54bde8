//! # yichuang-server (一窗 service)
//!
//! The hall's HTTP/JSON service over the engine, with a durable embedded event log.
//!
//! **Bird's eye view.** HTTP tasks (axum on tokio) authenticate the bearer token, parse the body
//! into a core command and send it to the **writer** ([`writer`]), one OS thread that owns the
//! [`yichuang_core::Engine`] and the [`yichuang_store::EventStore`]. The writer decides a whole
//! queue of commands in memory, appends their events in one fsync'd transaction (group commit)
//! and only then answers; the committed events go to the live stream ([`stream`]). Reads of
//! state (cases, queues, tickets, reports) are answered by the writer from the engine after the
//! same commit ([`query`]); reads of the log (events) go to the store's readers. Handlers take
//! what they need through the extractors of [`extract`].
//!
//! **Architecture invariant:** no client ever sees an effect that is not durable: replies,
//! queries and streamed events all follow the commit of the batch they belong to. A crash loses
//! only requests that were never answered.
//!
//! **Start.** [`prepare`] reads the definition and the tokens and opens the store (a mistake
//! there is refused at once); [`Prepared::serve`] listens at once and replays the log on the
//! writer's thread meanwhile: until the replay ends, `/healthz` answers 200 with its progress,
//! `/readyz` 503, and every other route 503 `not_ready`. A log that fails its check stops the
//! service ([`StartError::Log`]). Connections are served by [`serve`] with timeouts, a cap and
//! a bounded drain; every request is observed by [`request`] (id, span, log line, metrics).
//!
//! Entry points: [`prepare`] and [`Prepared::serve`]; the binary `yichuang-server` wraps them
//! with command-line flags and the log subscriber ([`logging`]).

pub mod api;
pub mod audit;
pub mod config;
pub mod error;
pub mod extract;
pub mod logging;
pub mod metrics;
pub mod query;
pub mod request;
pub mod serve;
pub mod state;
pub mod stream;
pub mod web;
pub mod wire;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use yichuang_core::definition::Definition;
use yichuang_store::{Checkpointer, EventStore, MemoryStore, PostgresStore, SqliteStore};

use crate::api::{About, App, AppInner};
use crate::config::{Config, Database, Tokens};
use crate::serve::DrainReport;
use crate::state::{Phase, Shared};
use crate::writer::{LoadError, Loaded, PreviousRun, QUEUE_MAX, Request, Writer};

/// Why the service did not start. [`StartError::exit_code`] is the binary's exit status.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The definition is missing or invalid.
    #[error("{0}")]
    Definition(String),
    /// The tokens file is missing or invalid.
    #[error("{0}")]
    Tokens(String),
    /// The database cannot be opened.
    #[error("{0}")]
    Store(String),
    /// The log is damaged, illegal, or belongs to another definition: the service refuses it.
    #[error(
        "the event log is refused, and the service does not start: {0}\nNothing was changed. Restore the \
         database from a backup, or start with another --db."
    )]
    Log(String),
}

impl StartError {
    /// 2 for configuration, 3 for the log.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Definition(_) | StartError::Tokens(_) => 2,
            StartError::Store(_) | StartError::Log(_) => 3,
        }
    }

    /// A short name of the reason, for the logs (`definition`, `tokens`, `store`, `log`).
    pub fn kind(&self) -> &'static str {
        match self {
            StartError::Definition(_) => "definition",
            StartError::Tokens(_) => "tokens",
            StartError::Store(_) => "store",
            StartError::Log(_) => "log",
        }
    }
}

/// The definition, the tokens and the store, checked and open; nothing is served yet and the
/// log is not read yet.
pub struct Prepared {
    def: Arc<Definition>,
    /// The definition file's text, kept in the store as a version.
    source: writer::Source,
    tokens: Tokens,
    store: Box<dyn EventStore>,
    checkpointer: Option<Checkpointer>,
    signer: Option<audit::CheckpointConfig>,
    /// The log's head before the replay (read here, off the async runtime: the PostgreSQL
    /// client blocks).
    head: u64,
    about: About,
    config: Config,
}

/// Reads the definition and the tokens and opens the store (fast; the log is replayed by
/// [`Prepared::serve`]).
pub fn prepare(config: &Config) -> Result<Prepared, StartError> {
    let path = &config.definition;
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartError::Definition(format!("cannot read the definition {}: {e}", path.display())))?;
    let def = Definition::from_ron(&text, &path.display().to_string()).map_err(|diagnostics| {
        StartError::Definition(format!("the definition {} is invalid:\n{diagnostics}", path.display()))
    })?;
    let def = Arc::new(def);
    let tokens = Tokens::load(&config.tokens, &def).map_err(StartError::Tokens)?;
    let (store, checkpointer): (Box<dyn EventStore>, _) = match &config.database {
        Database::Memory => (Box::new(MemoryStore::new()), None),
        Database::File(path) => {
            let cannot = |e| StartError::Store(format!("cannot open the database {}: {e}", path.display()));
            let store = SqliteStore::open(path).map_err(cannot)?;
            for note in store.upgrade_notes() {
                tracing::info!("{note}");
            }
            let checkpointer = store.checkpointer().map_err(cannot)?;
            (Box::new(store), Some(checkpointer))
        }
        Database::Postgres(url) => {
            let store = PostgresStore::open(url)
                .map_err(|e| StartError::Store(format!("cannot open the PostgreSQL store: {e}")))?;
            for note in store.upgrade_notes() {
                tracing::info!("{note}");
            }
            (Box::new(store), None)
        }
    };
    // A key that does not read refuses the start now, not after the replay.
    if let Some(c) = &config.checkpoints {
        audit::check_key(c).map_err(StartError::Store)?;
    }
    let started_unix_seconds =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let about = About {
        definition_fingerprint: format!("{:016x}", api::fnv1a(&[text.as_bytes()])),
        database: match &config.database {
            Database::File(p) => Some(p.clone()),
            Database::Memory | Database::Postgres(_) => None,
        },
        started_unix_seconds,
    };
    let signer = config.checkpoints.clone();
    let head = store.head().unwrap_or(0);
    let source = writer::Source { text, origin: path.display().to_string() };
    Ok(Prepared { def, source, tokens, store, checkpointer, signer, head, about, config: config.clone() })
}

impl Prepared {
    /// The definition.
    pub fn definition(&self) -> &Definition {
        &self.def
    }

    /// The definition's fingerprint (its version as deployed).
    pub fn definition_fingerprint(&self) -> &str {
        &self.about.definition_fingerprint
    }

    /// Serves on `listener` at once while the log is replayed; serves every route once it is;
    /// stops when `stop` completes (or when the log is refused), then drains the connections
    /// ([`serve::Limits::drain`]), ends the event streams and stops the writer (every answered
    /// command is already durable; there is nothing to flush).
    pub async fn serve(
        self,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<DrainReport, StartError> {
        let Prepared { def, source, tokens, store, checkpointer, signer, head, about, config } = self;
        let readers = store.readers();
        let signer = signer.map(|c| (c, Arc::clone(&readers)));
        let shared = Arc::new(Shared::new());
        // What the replay has to do, known before it starts (for /readyz and /healthz).
        shared.replay.total.store(head, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE_MAX);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let app = App::new(AppInner {
            writer: tx.clone(),
            readers,
            tokens,
            def: Arc::clone(&def),
            shared: Arc::clone(&shared),
            shutdown: shutdown_rx,
            body_limit_bytes: config.body_limit_bytes,
            body_timeout: config.body_timeout,
            about,
            web: web::Web::default(),
        });
        let (loaded_tx, loaded_rx) = oneshot::channel();
        let writer = start_writer(def, source, store, &config, Arc::clone(&shared), rx, loaded_tx)?;
        // The start: ready, or refused (which stops the service).
        let (refuse_tx, refuse_rx) = oneshot::channel::<()>();
        let starter = tokio::spawn(become_ready(
            loaded_rx,
            Arc::clone(&shared),
            tx,
            shutdown.subscribe(),
            config.timer_interval,
            Background { checkpointer, signer },
            refuse_tx,
        ));
        let mut limits = config.limits;
        if let Some(fitted) = serve::fit_connections(limits.connections_max) {
            tracing::warn!(
                asked = limits.connections_max,
                fitted,
                "--max-connections lowered to fit the file-descriptor limit (ulimit -n), keeping {} descriptors \
                 for the database and the runtime",
                serve::DESCRIPTORS_RESERVED
            );
            limits.connections_max = fitted;
        }
        let router = api::router(app);
        let stop = async move {
            tokio::select! {
                () = stop => {}
                _ = refuse_rx => {}
            }
            tracing::info!("stopping: no new connections; the event streams end");
            let _ = shutdown.send(true);
        };
        let report = serve::serve(listener, router, limits, Arc::clone(&shared.connections), stop).await;
        tracing::info!(open = report.open, cut = report.cut, "connections drained");
        // The ticker and the checkpoints stop with the starter; the last sender goes with it and
        // the writer drains its queue and returns.
        let (error, checkpoints, signer) = starter.await.unwrap_or((None, None, None));
        tokio::task::spawn_blocking(move || {
            let _ = writer.join();
            if let Some(c) = checkpoints {
                c.stop();
            }
            // After the writer: the last checkpoint covers every acknowledged command.
            if let Some(s) = signer {
                s.stop();
            }
        })
        .await
        .ok();
        match error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

/// The writer's thread: replays the log, says how it went on `loaded`, then runs until every
/// sender is gone.
fn start_writer(
    def: Arc<Definition>,
    source: writer::Source,
    store: Box<dyn EventStore>,
    config: &Config,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Request>,
    loaded: oneshot::Sender<Result<Loaded, StartError>>,
) -> Result<JoinHandle<()>, StartError> {
    let (clock, key_days, snapshot_every) = (config.clock, config.idempotency_days, config.snapshot_every);
    std::thread::Builder::new()
        .name("yichuang-writer".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            match Writer::load_with(def, Some(source), store, clock, Arc::clone(&shared), snapshot_every) {
                Ok((mut writer, found)) => {
                    writer.keep_keys_for(key_days);
                    shared.idempotency_records.store(found.summary.idempotency_records, Ordering::Relaxed);
                    shared.replay.duration_micros.store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    let _ = loaded.send(Ok(found));
                    writer.run(rx);
                }
                Err(e) => {
                    let e = match e {
                        LoadError::Store(e) => StartError::Store(e.to_string()),
                        other => StartError::Log(other.to_string()),
                    };
                    let _ = loaded.send(Err(e));
                }
            }
        })
        .map_err(|e| StartError::Store(format!("cannot start the writer thread: {e}")))
}

/// What runs beside the writer once the log is ready: WAL checkpoints and the checkpoint signer.
struct Background {
    checkpointer: Option<Checkpointer>,
    signer: Option<(audit::CheckpointConfig, Arc<dyn yichuang_store::EventLog + Send + Sync>)>,
}

/// Waits for the replay; then logs it, marks the service ready and runs the timer ticker and
/// the WAL checkpoints until the writer's queue closes; or, if the log was refused, logs why
/// and stops the service. Returns the refusal and the checkpoints to stop.
async fn become_ready(
    loaded: oneshot::Receiver<Result<Loaded, StartError>>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Request>,
    mut shutdown: watch::Receiver<bool>,
    timer_interval: Duration,
    background: Background,
    refuse: oneshot::Sender<()>,
) -> (Option<StartError>, Option<Checkpoints>, Option<audit::Signer>) {
    let Background { checkpointer, signer } = background;
    let found = match loaded.await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            shared.replay.set_phase(Phase::Refused);
            tracing::error!(reason = e.kind(), exit_code = e.exit_code(), "the start is refused: {e}");
            let _ = refuse.send(());
            return (Some(e), None, None);
        }
        Err(_) => return (None, None, None),
    };
    match found.previous {
        PreviousRun::Unclean => tracing::warn!(
            "the previous run did not end cleanly (killed, crashed or power lost); its log was checked and replayed \
             in full, and every answered command is in it"
        ),
        PreviousRun::Clean => tracing::info!("the previous run ended cleanly"),
        PreviousRun::None => tracing::info!("first run on this database"),
    }
    tracing::info!(
        events = found.summary.events,
        streams = found.summary.streams,
        idempotency_records = found.summary.idempotency_records,
        cases = found.sizes.0,
        tickets = found.sizes.1,
        replay_ms = found.replay.as_millis() as u64,
        resumed_from_snapshot = found.snapshot.unwrap_or(0),
        "log replayed and checked; ready"
    );
    let checkpoints = match checkpointer.map(|c| Checkpoints::start(c, CHECKPOINT_INTERVAL)).transpose() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoints run on the writer's own schedule");
            None
        }
    };
    // Signed checkpoints start once the log passed its check: a refused log is never signed.
    let signer = signer.and_then(|(c, readers)| match audit::Signer::start(&c, readers) {
        Ok((signer, public_key)) => {
            tracing::info!(
                file = %c.file.display(),
                interval_s = c.interval.as_secs(),
                "signing the hash chain's head; the public key (publish it to the auditors):\n{}",
                public_key.trim_end()
            );
            Some(signer)
        }
        Err(e) => {
            tracing::error!(error = %e, "signed checkpoints are not written");
            None
        }
    });
    shared.replay.set_phase(Phase::Ready);
    let mut interval = tokio::time::interval(timer_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => break,
        }
        // Skip a tick when the queue is full: the commands in it fire the timers anyway.
        match tx.try_send(Request::Tick) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => break,
        }
    }
    (None, checkpoints, signer)
}

/// How often the WAL is copied into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// A thread that checkpoints the WAL off the writer's path (see `docs/store.md`).
struct Checkpoints {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Checkpoints {
    fn start(checkpointer: Checkpointer, every: Duration) -> Result<Checkpoints, StartError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("yichuang-checkpoint".into())
            .spawn(move || {
                let mut failures = 0u32;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(every);
                    match checkpointer.checkpoint() {
                        Ok(_) => failures = 0,
                        // Harmless for durability (the WAL holds every commit); the writer's own
                        // automatic checkpoint takes over. Said once per run of failures.
                        Err(e) => {
                            if failures == 0 {
                                tracing::warn!(error = %e, "the WAL checkpoint failed (harmless; retried)");
                            }
                            failures += 1;
                        }
                    }
                }
            })
            .map_err(|e| StartError::Store(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpoints { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
