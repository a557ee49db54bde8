//! `yichuang export`: an event log (JSON lines, or the service's database) as XES, OCEL 2.0
//! (JSON or SQLite) or CSV for process-mining tools. The log is replayed first, exactly as
//! `replay` does: a log that does not replay is not exported (exit 1).

use std::io::Write;
use std::path::{Path, PathBuf};

use yichuang_export::{Log, UtcOffset};

use crate::cmd::replay::{Source, verified_events};
use crate::failure::Failure;

/// Export an event log for process mining (过程挖掘): XES, OCEL 2.0 or CSV.
///
/// XES has one trace per case (办件) and one event per recorded event of the case, with the
/// standard concept, time, organizational and lifecycle attributes; OCEL 2.0 has the objects
/// case, task, ticket, department and applicant and their relations; CSV is the XES log
/// flattened. Times are hall-local civil time written at --utc-offset (China Standard Time
/// by default). The mapping is in docs/exports.md.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The definition the log was written against.
    #[arg(long)]
    pub definition: PathBuf,
    #[command(flatten)]
    pub source: Source,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Write to this file (replaced if it exists) instead of standard output; required for
    /// ocel-sqlite.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The UTC offset of the hall's civil time, ±HH:MM.
    #[arg(long, value_name = "±HH:MM", default_value = "+08:00", allow_hyphen_values = true)]
    pub utc_offset: UtcOffset,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// XES (IEEE 1849-2016) XML.
    Xes,
    /// OCEL 2.0 JSON.
    OcelJson,
    /// OCEL 2.0 SQLite database (needs --out).
    OcelSqlite,
    /// CSV with the XES keys as column names.
    Csv,
}

impl From<Format> for yichuang_export::Format {
    fn from(f: Format) -> yichuang_export::Format {
        match f {
            Format::Xes => yichuang_export::Format::Xes,
            Format::OcelJson => yichuang_export::Format::OcelJson,
            Format::OcelSqlite => yichuang_export::Format::OcelSqlite,
            Format::Csv => yichuang_export::Format::Csv,
        }
    }
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    if args.format == Format::OcelSqlite && args.out.is_none() {
        return Err(Failure::input(
            "--format ocel-sqlite writes a database file, not a stream: give --out FILE (e.g. --out log.sqlite)",
        ));
    }
    let (def, events) = verified_events(&args.definition, &args.source)?;
    let log = Log::new(&def, &events);
    match &args.out {
        None => yichuang_export::write(&log, args.format.into(), args.utc_offset, out).map_err(|e| match e {
            yichuang_export::ExportError::Io(e) => Failure::Output(e),
            other => Failure::input(other.to_string()),
        }),
        Some(path) => write_file(&log, args.format.into(), args.utc_offset, path),
    }
}

/// Writes next to `path` and renames over it, so that a failed export leaves no partial file
/// and an earlier export stays whole until the new one is complete.
pub fn write_file(
    log: &Log<'_>,
    format: yichuang_export::Format,
    offset: UtcOffset,
    path: &Path,
) -> Result<(), Failure> {
    let name = path.file_name().ok_or_else(|| {
        Failure::input(format!("--out `{}` names no file; give a file path, e.g. --out log.xes", path.display()))
    })?;
    let mut partial = name.to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = path.with_file_name(partial);
    let _ = std::fs::remove_file(&partial);
    let cannot = |e: &dyn std::fmt::Display| Failure::input(format!("cannot write `{}`: {e}", path.display()));
    if let Err(e) = yichuang_export::write_file(log, format, offset, &partial) {
        let _ = std::fs::remove_file(&partial);
        return Err(match e {
            yichuang_export::ExportError::Io(e) => cannot(&e),
            yichuang_export::ExportError::Sqlite(e) => cannot(&e),
            other => cannot(&other),
        });
    }
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        cannot(&e)
    })
}
