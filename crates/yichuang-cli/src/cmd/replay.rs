//! `yichuang replay`: rebuild the state from an event log (JSON lines), check that every event
//! is legal in order, and summarise what it holds.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use yichuang_core::Engine;

use crate::cmd::{load_definition, read_log};
use crate::failure::Failure;

/// Rebuild and verify the state from an event log (回放校验).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The definition the log was written against.
    #[arg(long)]
    pub definition: PathBuf,
    /// The event log: one JSON-serialized event per line, as the engine records them.
    #[arg(long)]
    pub log: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable summary.
    Text,
    /// One JSON object.
    Json,
}

#[derive(Serialize)]
struct Summary {
    events: usize,
    cases: usize,
    tickets: usize,
    first: Option<String>,
    last: Option<String>,
    cases_by_state: BTreeMap<&'static str, usize>,
    tickets_by_state: BTreeMap<&'static str, usize>,
}

/// Replays the log into an engine, or fails naming the first bad event (exit 1).
pub fn rebuild(
    args_definition: &std::path::Path,
    log: &std::path::Path,
) -> Result<(Engine, Vec<yichuang_core::Recorded>), Failure> {
    let def = Arc::new(load_definition(args_definition)?);
    let events = read_log(log)?;
    let engine = Engine::replay(def, &events).map_err(|e| {
        Failure::Failed(format!(
            "`{}` does not replay: {e} (line {} of the file); the log is corrupted, reordered or belongs to another definition",
            log.display(),
            match e {
                yichuang_core::ReplayError::Illegal { position, .. }
                | yichuang_core::ReplayError::UnknownStream { position, .. }
                | yichuang_core::ReplayError::UnknownBundle { position, .. }
                | yichuang_core::ReplayError::Version { position, .. } => position + 1,
            }
        ))
    })?;
    Ok((engine, events))
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let (engine, events) = rebuild(&args.definition, &args.log)?;
    let mut cases_by_state = BTreeMap::new();
    for c in engine.cases() {
        *cases_by_state.entry(c.state.name()).or_insert(0) += 1;
    }
    let mut tickets_by_state = BTreeMap::new();
    for t in engine.tickets() {
        *tickets_by_state.entry(t.state.name()).or_insert(0) += 1;
    }
    let summary = Summary {
        events: events.len(),
        cases: engine.cases_held(),
        tickets: engine.tickets().len(),
        first: events.first().map(|e| e.at.to_string()),
        last: events.last().map(|e| e.at.to_string()),
        cases_by_state,
        tickets_by_state,
    };
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?,
        Format::Text => {
            writeln!(out, "ok: {} events replayed; every event is legal in order", summary.events)?;
            if let (Some(first), Some(last)) = (&summary.first, &summary.last) {
                writeln!(out, "from {first} to {last}")?;
            }
            writeln!(out, "cases: {}", summary.cases)?;
            for (state, n) in &summary.cases_by_state {
                writeln!(out, "  {state:<20} {n}")?;
            }
            writeln!(out, "tickets: {}", summary.tickets)?;
            for (state, n) in &summary.tickets_by_state {
                writeln!(out, "  {state:<20} {n}")?;
            }
        }
    }
    Ok(())
}
