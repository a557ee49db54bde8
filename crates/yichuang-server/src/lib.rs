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
//! Entry points: [`start`] (load everything, start the writer) and [`Started::serve`]; the
//! binary `yichuang-server` wraps them with command-line flags.

pub mod api;
pub mod config;
pub mod error;
pub mod extract;
pub mod query;
pub mod state;
pub mod stream;
pub mod wire;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use yichuang_core::definition::Definition;
use yichuang_store::{Checkpointer, EventStore, LogSummary, MemoryStore, SqliteStore};

use crate::api::{App, AppInner};
use crate::config::{Config, Database, Tokens};
use crate::state::Shared;
use crate::writer::{LoadError, QUEUE_MAX, Request, Writer};

/// Why the service did not start. [`StartError::exit_code`] is the binary's exit status.
#[derive(Debug)]
pub enum StartError {
    /// The definition is missing or invalid.
    Definition(String),
    /// The tokens file is missing or invalid.
    Tokens(String),
    /// The database cannot be opened.
    Store(String),
    /// The log is damaged, illegal, or belongs to another definition: the service refuses it.
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
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Definition(m) | StartError::Tokens(m) | StartError::Store(m) => f.write_str(m),
            StartError::Log(m) => write!(
                f,
                "the event log is refused, and the service does not start: {m}\n\
                 Nothing was changed. Restore the database from a backup, or start with another --db."
            ),
        }
    }
}

/// A loaded service: the writer runs, no port is bound yet.
pub struct Started {
    app: App,
    writer: JoinHandle<()>,
    checkpoints: Option<Checkpoints>,
    shutdown: watch::Sender<bool>,
    body_limit_bytes: usize,
    timer_interval: std::time::Duration,
    /// What the log held at start.
    pub summary: LogSummary,
    /// Cases and tickets rebuilt from the log.
    pub sizes: (usize, usize),
}

/// Loads the definition and the tokens, opens the store, checks and folds the log, and starts
/// the writer thread.
pub fn start(config: &Config) -> Result<Started, StartError> {
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
            let checkpointer = store.checkpointer().map_err(cannot)?;
            (Box::new(store), Some(checkpointer))
        }
    };
    let readers = store.readers();
    let shared = Arc::new(Shared::new());
    let (mut writer, summary) =
        Writer::load(Arc::clone(&def), store, config.clock, Arc::clone(&shared)).map_err(|e| match e {
            LoadError::Store(e) => StartError::Store(e.to_string()),
            other => StartError::Log(other.to_string()),
        })?;
    writer.keep_keys_for(config.idempotency_days);
    let sizes = writer.sizes();
    let (tx, rx) = mpsc::channel(QUEUE_MAX);
    let writer = std::thread::Builder::new()
        .name("yichuang-writer".into())
        .spawn(move || writer.run(rx))
        .map_err(|e| StartError::Store(format!("cannot start the writer thread: {e}")))?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let checkpoints = checkpointer.map(|c| Checkpoints::start(c, CHECKPOINT_INTERVAL)).transpose()?;
    let app = App::new(AppInner {
        writer: tx,
        readers,
        tokens,
        def,
        shared,
        shutdown: shutdown_rx,
        body_limit_bytes: config.body_limit_bytes,
    });
    Ok(Started {
        app,
        writer,
        checkpoints,
        shutdown,
        body_limit_bytes: config.body_limit_bytes,
        timer_interval: config.timer_interval,
        summary,
        sizes,
    })
}

impl Started {
    /// Serves on `listener` until `stop` completes, then ends the event streams, lets the
    /// requests in flight finish, and stops the writer (every answered command is already
    /// durable; there is nothing to flush).
    pub async fn serve(
        self,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Started { app, writer, checkpoints, shutdown, body_limit_bytes, timer_interval, .. } = self;
        let ticker = {
            let tx = app.inner().writer.clone();
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(timer_interval);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    interval.tick().await;
                    // Skip a tick when the queue is full: the commands in it fire the timers anyway.
                    match tx.try_send(Request::Tick) {
                        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                        Err(mpsc::error::TrySendError::Closed(_)) => break,
                    }
                }
            })
        };
        let router = api::router(app, body_limit_bytes);
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                stop.await;
                let _ = shutdown.send(true);
            })
            .await;
        ticker.abort();
        let _ = ticker.await;
        // The router (and with it every sender) is gone: the writer drains and returns.
        tokio::task::spawn_blocking(move || {
            let _ = writer.join();
            if let Some(c) = checkpoints {
                c.stop();
            }
        })
        .await
        .ok();
        result
    }
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
                                eprintln!("warning: the WAL checkpoint failed: {e}");
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
