//! `yichuang-server`: the hall's HTTP service.
//!
//! ```text
//! yichuang-server [--definition FILE] [--db FILE|postgres://…|:memory:] [--tokens FILE] [--listen ADDR]
//!                 [--clock system|YYYY-MM-DDTHH:MM] [--timer-interval-ms N] [--body-limit BYTES]
//!                 [--idempotency-days DAYS] [--header-timeout-ms N] [--body-timeout-ms N]
//!                 [--idle-timeout-ms N] [--max-connections N] [--shutdown-drain-ms N]
//!                 [--log-format text|json]
//!                 [--checkpoint-key PEM [--checkpoint-file FILE] [--checkpoint-interval SECONDS]]
//! yichuang-server backup [--db FILE] --to FILE [--definition FILE]
//! ```
//!
//! Logs go to stderr (`RUST_LOG` filters them; docs/operations.md). The first line on stdout
//! names the address, as soon as the port listens (before the log is replayed).
//!
//! Exit codes: 0 stopped by SIGINT/SIGTERM (or a backup written and audited); 1 cannot listen or
//! serve; 2 bad arguments, definition or tokens file; 3 the database cannot be opened (another
//! writer holds it, …) or its log is refused (damaged, a broken hash chain, illegal, or written
//! under another definition), or a backup failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use yichuang_core::Instant;
use yichuang_server::config::{ClockSetting, Config, Database};
use yichuang_server::logging::{self, LogFormat};
use yichuang_server::serve::Limits;

/// The example definition and demo tokens, found from the working directory or, failing that,
/// from the source tree this binary was built in (so `cargo run -p yichuang-server` works from
/// anywhere in the repository).
fn example(relative: &str) -> PathBuf {
    let here = PathBuf::from(relative);
    if here.exists() { here } else { PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(relative) }
}

/// 一窗 service: the county hall's HTTP/JSON API over the engine, with a durable SQLite log.
#[derive(Debug, Parser)]
#[command(name = "yichuang-server", version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// The definition (RON) [default: examples/definitions/county-hall.ron]
    #[arg(long, value_name = "FILE")]
    definition: Option<PathBuf>,
    /// The SQLite database file (created if missing), a PostgreSQL URL
    /// (`postgres://USER@HOST:PORT/DATABASE`, tables made by migrations), or `:memory:` to keep
    /// nothing. `--store` is the same flag.
    #[arg(long, alias = "store", value_name = "FILE|URL", default_value = "yichuang.db")]
    db: String,
    /// The bearer tokens file (RON) [default: examples/tokens.ron]
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// `system` (the machine's clock in China Standard Time, UTC+8) or a start time
    /// YYYY-MM-DDTHH:MM for a manual clock that only `POST /v1/clock` moves.
    #[arg(long, value_name = "CLOCK", default_value = "system")]
    clock: String,
    /// How often timers fire when no command arrives, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    timer_interval_ms: u64,
    /// Largest request body accepted, in bytes (larger ones get 413, at once when announced).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    body_limit: usize,
    /// Hall days an `Idempotency-Key` is remembered after its command; a repeat after that is
    /// decided as a new command. 0 keeps every key for ever.
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=36_500))]
    idempotency_days: u32,
    /// Events between two snapshots of the service's state (a start folds only the events after
    /// the newest one and the open cases; docs/store.md, "Snapshots"). 0 takes none, and every
    /// start folds the whole log.
    #[arg(long, value_name = "EVENTS", default_value_t = 100_000)]
    snapshot_every: u64,
    /// A request's headers must arrive within this many milliseconds of its first byte.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// A request's body must arrive within this many milliseconds (408 otherwise).
    #[arg(long, value_name = "MS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_ms: u64,
    /// A kept-alive connection without a request for this many milliseconds is closed.
    #[arg(long, value_name = "MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// Open connections at most (lowered at start to fit the file-descriptor limit).
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// At shutdown, how long requests in flight may finish before their connections are cut.
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    shutdown_drain_ms: u64,
    /// `text` or `json` (one object per line); `RUST_LOG` filters what is logged.
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
    /// An ed25519 private key (PKCS#8 PEM, `openssl genpkey -algorithm ed25519`): the service
    /// then signs its hash chain's head into --checkpoint-file every --checkpoint-interval.
    #[arg(long, value_name = "FILE")]
    checkpoint_key: Option<PathBuf>,
    /// Where signed checkpoints are appended (ship it elsewhere; `yichuang audit --checkpoint`).
    #[arg(long, value_name = "FILE", default_value = "yichuang-checkpoints.jsonl")]
    checkpoint_file: PathBuf,
    /// Seconds between signed checkpoints (one is written only when the head moved).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    checkpoint_interval: u64,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Copy the SQLite database while the service runs (SQLite's online backup API) and audit
    /// the copy; exit 0 only for a copy that passes. Restore: stop the service and put the copy
    /// in place of the database (docs/operations.md).
    Backup {
        /// The service's database.
        #[arg(long, value_name = "FILE", default_value = "yichuang.db")]
        db: PathBuf,
        /// The copy to write (a new file).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// The definition the log was written under [default: examples/definitions/county-hall.ron]
        #[arg(long, value_name = "FILE")]
        definition: Option<PathBuf>,
    },
}

fn config(args: Args) -> Result<(Config, String, LogFormat), String> {
    let clock = match args.clock.as_str() {
        "system" => ClockSetting::System,
        text => ClockSetting::Manual(text.parse::<Instant>().map_err(|e| format!("--clock: {e}, or `system`"))?),
    };
    if args.timer_interval_ms == 0 {
        return Err("--timer-interval-ms must be at least 1".into());
    }
    let database = if args.db == ":memory:" {
        Database::Memory
    } else if args.db.starts_with("postgres://") || args.db.starts_with("postgresql://") {
        Database::Postgres(args.db.clone())
    } else {
        Database::File(PathBuf::from(&args.db))
    };
    let checkpoints = args.checkpoint_key.map(|key| yichuang_server::audit::CheckpointConfig {
        key,
        file: args.checkpoint_file,
        interval: Duration::from_secs(args.checkpoint_interval),
    });
    let ms = Duration::from_millis;
    let config = Config {
        definition: args.definition.unwrap_or_else(|| example("examples/definitions/county-hall.ron")),
        database,
        tokens: args.tokens.unwrap_or_else(|| example("examples/tokens.ron")),
        clock,
        timer_interval: ms(args.timer_interval_ms),
        body_limit_bytes: args.body_limit,
        body_timeout: ms(args.body_timeout_ms),
        limits: Limits {
            header_timeout: ms(args.header_timeout_ms),
            idle_timeout: ms(args.idle_timeout_ms),
            connections_max: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            drain: ms(args.shutdown_drain_ms),
        },
        idempotency_days: args.idempotency_days,
        snapshot_every: args.snapshot_every,
        checkpoints,
    };
    Ok((config, args.listen, args.log_format))
}

async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => tracing::info!(signal = "SIGINT", "stop requested"),
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "stop requested"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
        tracing::info!(signal = "Ctrl-C", "stop requested");
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Sub::Backup { db, to, definition }) = &args.command {
        let definition = definition.clone().unwrap_or_else(|| example("examples/definitions/county-hall.ron"));
        return match yichuang_server::audit::backup(db, to, &definition) {
            Ok(summary) => {
                println!("backup: {} written and audited ({summary})", to.display());
                println!("chain head: position {} hash {}", summary.head.position, summary.head.hash);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(3)
            }
        };
    }
    // Test builds arm the store's failpoints from FAILPOINTS (docs/testing.md); product builds
    // have none, and this does nothing.
    #[allow(clippy::let_unit_value)]
    let _failpoints = yichuang_store::failpoint::setup();
    let (config, listen, format) = match config(args) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if let Err(message) = logging::init(format, None) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let refused = |e: &yichuang_server::StartError| {
        tracing::error!(reason = e.kind(), exit_code = e.exit_code(), "the start is refused: {e}");
        ExitCode::from(e.exit_code())
    };
    let prepared = match yichuang_server::prepare(&config) {
        Ok(p) => p,
        Err(e) => return refused(&e),
    };
    let store = match &config.database {
        Database::File(p) => format!("sqlite:{}", p.display()),
        Database::Memory => ":memory: (nothing is kept)".into(),
        Database::Postgres(url) => format!("postgres:{}", url.rsplit('@').next().unwrap_or("")),
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        definition = %prepared.definition().id(),
        definition_file = %config.definition.display(),
        definition_fingerprint = prepared.definition_fingerprint(),
        tokens = %config.tokens.display(),
        store,
        "starting"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(address = listen, error = %e, "cannot listen; pick another --listen address");
                return ExitCode::from(1);
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the listening address");
                return ExitCode::from(1);
            }
        };
        tracing::info!(address = %addr, "listening; the log is replayed meanwhile (GET /readyz answers 200 when ready)");
        // Tests and scripts read this line to find the port when --listen ends in :0.
        println!("yichuang-server listening on http://{addr}");
        match prepared.serve(listener, stop_signal()).await {
            Ok(_) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            // Already logged where it was found.
            Err(e) => ExitCode::from(e.exit_code()),
        }
    });
    // The writer and the connections are done; nothing is left to wait for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}
