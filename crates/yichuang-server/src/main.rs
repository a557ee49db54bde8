//! `yichuang-server`: the hall's HTTP service.
//!
//! ```text
//! yichuang-server [--definition FILE] [--db FILE|:memory:] [--tokens FILE] [--listen ADDR]
//!                 [--clock system|YYYY-MM-DDTHH:MM] [--timer-interval-ms N] [--body-limit BYTES]
//! ```
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
    /// Largest request body accepted, in bytes (larger ones get 413).
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    body_limit: usize,
    /// Hall days an `Idempotency-Key` is remembered after its command; a repeat after that is
    /// decided as a new command. 0 keeps every key for ever.
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=36_500))]
    idempotency_days: u32,
}

fn config(args: Args) -> Result<(Config, String), String> {
    let clock = match args.clock.as_str() {
        "system" => ClockSetting::System,
        text => ClockSetting::Manual(text.parse::<Instant>().map_err(|e| format!("--clock: {e}, or `system`"))?),
    };
    if args.timer_interval_ms == 0 {
        return Err("--timer-interval-ms must be at least 1".into());
    }
    let database = if args.db == ":memory:" { Database::Memory } else { Database::File(PathBuf::from(&args.db)) };
    let config = Config {
        definition: args.definition.unwrap_or_else(|| example("examples/definitions/county-hall.ron")),
        database,
        tokens: args.tokens.unwrap_or_else(|| example("examples/tokens.ron")),
        clock,
        timer_interval: Duration::from_millis(args.timer_interval_ms),
        body_limit_bytes: args.body_limit,
        idempotency_days: args.idempotency_days,
    };
    Ok((config, args.listen))
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
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn main() -> ExitCode {
    let (config, listen) = match config(Args::parse()) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let started = match yichuang_server::start(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let db = match &config.database {
        Database::File(p) => p.display().to_string(),
        Database::Memory => ":memory: (nothing is kept)".into(),
    };
    eprintln!("definition: {}", config.definition.display());
    eprintln!("tokens:     {}", config.tokens.display());
    eprintln!("database:   {db}");
    eprintln!(
        "log:        {} (replayed and checked: {} cases, {} tickets)",
        started.summary, started.sizes.0, started.sizes.1
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}; pick another --listen address"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // Tests and scripts read this line to find the port when --listen ends in :0.
        println!("yichuang-server listening on http://{addr}");
        started.serve(listener, stop_signal()).await.map_err(|e| format!("the server stopped: {e}"))
    });
    match result {
        Ok(()) => {
            eprintln!("stopped");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}
