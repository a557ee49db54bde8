//! Logs: `tracing` events and spans written to stderr as text or JSON lines, filtered like
//! `RUST_LOG`, stamped in RFC 3339 (UTC, microseconds).
//!
//! What is logged (docs/operations.md has a sample of each): one line per HTTP request
//! (target `yichuang_server::request`) with its request id, method, route, hall, actor, case or
//! ticket, command, outcome, status and latency; at start the version, the definition and its
//! fingerprint, the store, the replay's progress and duration and whether the previous run
//! ended cleanly; timers fired; group commits (debug); refused starts; shutdown and its drain.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event: `2026-05-01T01:30:00.123456Z  INFO target: message key=value …`.
    Text,
    /// One JSON object per line, the event's fields at the top level (for log shippers).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format `{other}`; use text or json")),
        }
    }
}

/// The filter when `RUST_LOG` is not set: information and above from the service, warnings
/// from everything else (hyper, the store).
pub const DEFAULT_FILTER: &str = "warn,yichuang_server=info,yichuang_core=warn";

/// Installs the global subscriber. `filter` is a `RUST_LOG`-style directive list; `None` reads
/// `RUST_LOG`, falling back to [`DEFAULT_FILTER`]. Errs (with what would be accepted) on a
/// filter that does not parse.
pub fn init(format: LogFormat, filter: Option<&str>) -> Result<(), String> {
    let directives = match filter {
        Some(f) => f.to_owned(),
        None => std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty()).unwrap_or(DEFAULT_FILTER.into()),
    };
    let filter = EnvFilter::builder().parse(&directives).map_err(|e| {
        format!(
            "RUST_LOG `{directives}` is not a filter: {e}; write e.g. `info`, `yichuang_server=debug` or \
             `warn,yichuang_server::request=info`"
        )
    })?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
    };
    result.map_err(|e| format!("cannot install the log subscriber: {e}"))
}
