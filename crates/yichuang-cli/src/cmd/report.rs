//! `yichuang report`: the four lists of the rectification plan (责任清单、任务清单、问题清单、
//! 效果清单) and the KPIs, from a definition and an event log or the service's database.

use std::io::Write;
use std::path::PathBuf;

use yichuang_analysis::report::FourLists;
use yichuang_core::Instant;

use crate::cmd::replay::{Source, rebuild};
use crate::failure::Failure;

/// Print the four lists (四个清单) with the plan's targets evaluated.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The definition with the plan (整改方案).
    #[arg(long)]
    pub definition: PathBuf,
    #[command(flatten)]
    pub source: Source,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
    /// Evaluate as of this instant (YYYY-MM-DDTHH:MM); default: the last event's time.
    #[arg(long)]
    pub at: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown tables.
    Md,
    /// One CSV table with a `list` column.
    Csv,
    /// JSON.
    Json,
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let (engine, read) = rebuild(&args.definition, &args.source)?;
    let at = match &args.at {
        Some(text) => text.parse::<Instant>().map_err(|e| Failure::input(e.to_string()))?,
        None => read.last.unwrap_or_else(|| Instant::from_minutes(0)),
    };
    let lists = FourLists::build(&engine, at);
    match args.format {
        Format::Md => write!(out, "{}", lists.to_markdown())?,
        Format::Csv => write!(out, "{}", lists.to_csv())?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&lists)?)?,
    }
    Ok(())
}
