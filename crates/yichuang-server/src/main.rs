//! `yichuang-server`: the hall's HTTP service.
//!
//! ```text
//! yichuang-server [--definition FILE] [--db FILE|:memory:] [--tokens FILE] [--listen ADDR]
//!                 [--clock system|YYYY-MM-DDTHH:MM] [--timer-interval-ms N] [--body-limit BYTES]
//!                 [--idempotency-days DAYS] [--header-timeout-ms N] [--body-timeout-ms N]
//!                 [--idle-timeout-ms N] [--max-connections N] [--shutdown-drain-ms N]
//!                 [--log-format text|json]
//! ```
//!
//! Logs go to stderr (`RUST_LOG` filters them; docs/operations.md). The first line on stdout
//! names the address, as soon as the port listens (before the log is replayed).
//!
//! Exit codes: 0 stopped by SIGINT/SIGTERM; 1 cannot listen or serve; 2 bad arguments, definition
//! or tokens file; 3 the database cannot be opened or its log is refused (damaged, illegal, or
//! written under another definition).

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
#[command(name = "yichuang-server", version)]
struct Args {
    /// The definition (RON) [default: examples/definitions/county-hall.ron]
    #[arg(long, value_name = "FILE")]
    definition: Option<PathBuf>,
    /// The SQLite database file (created if missing), or `:memory:` to keep nothing.
    #[arg(long, value_name = "FILE", default_value = "yichuang.db")]
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
}

fn config(args: Args) -> Result<(Config, String, LogFormat), String> {
    let clock = match args.clock.as_str() {
        "system" => ClockSetting::System,
        text => ClockSetting::Manual(text.parse::<Instant>().map_err(|e| format!("--clock: {e}, or `system`"))?),
    };
    if args.timer_interval_ms == 0 {
        return Err("--timer-interval-ms must be at least 1".into());
    }
    let database = if args.db == ":memory:" { Database::Memory } else { Database::File(PathBuf::from(&args.db)) };
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
    let (config, listen, format) = match config(Args::parse()) {
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
