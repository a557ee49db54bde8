//! # yichuang-export (一窗 exports)
//!
//! Hands the engine's data to the tools its users already have:
//!
//! - **process mining** — an event log (the JSON lines of [`Recorded`](yichuang_core::Recorded) events a service
//!   writes, or the service's database) as [XES](xes) (IEEE 1849-2016: a trace per case), as
//!   [OCEL 2.0](ocel) (JSON or SQLite: objects case, task, ticket, department and applicant with
//!   their relations) and as [CSV](csv), for PM4Py, ProM, Disco or Celonis;
//! - **process modelling** — a bundle (一件事) as a [BPMN 2.0](bpmn) process with diagram
//!   interchange, which bpmn.io and Camunda Modeler open laid out and which SpiffWorkflow runs.
//!
//! The core keeps hall-local civil time without a zone; the exports write it at a fixed
//! [`UtcOffset`], China Standard Time (+08:00) unless told otherwise.
//!
//! ```
//! use yichuang_export::{Format, Log, UtcOffset};
//! # let source = include_str!("../../../examples/definitions/minimal.ron");
//! let def = yichuang_core::Definition::from_ron(source, "minimal.ron").unwrap();
//! let records: Vec<yichuang_core::Recorded> = Vec::new(); // a log read from a file or a store
//! let mut xes = Vec::new();
//! yichuang_export::write(&Log::new(&def, &records), Format::Xes, UtcOffset::CHINA_STANDARD_TIME, &mut xes).unwrap();
//! assert!(String::from_utf8(xes).unwrap().contains(r#"xes.version="1849-2016""#));
//! ```
//!
//! The mapping of every field is in `docs/exports.md` of the repository.

pub mod bpmn;
pub mod csv;
mod model;
pub mod ocel;
pub mod xes;
mod xml;

use std::io::{self, Write};

pub use model::{BadOffset, CaseFacts, EventView, Lifecycle, Log, TicketFacts, UtcOffset, Value, task_object_id};

/// A process-mining format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// XES (IEEE 1849-2016), XML.
    Xes,
    /// OCEL 2.0 as JSON.
    OcelJson,
    /// OCEL 2.0 as a SQLite database (a file, never a stream).
    OcelSqlite,
    /// CSV with the XES keys as column names.
    Csv,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing the output failed.
    #[error("cannot write the export: {0}")]
    Io(#[from] io::Error),
    /// Writing the SQLite database failed.
    #[error("cannot write the OCEL database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The format needs a file (OCEL SQLite) and was given a stream.
    #[error("the OCEL SQLite format writes a database file, not a stream; give a file to write")]
    NeedsFile,
}

/// Writes `log` in a text `format` to `out`. [`Format::OcelSqlite`] needs a file: use
/// [`write_file`].
pub fn write(log: &Log<'_>, format: Format, offset: UtcOffset, out: &mut dyn Write) -> Result<(), ExportError> {
    match format {
        Format::Xes => xes::write(log, offset, out)?,
        Format::OcelJson => ocel::Ocel::new(log).write_json(offset, out)?,
        Format::Csv => csv::write(log, offset, out)?,
        Format::OcelSqlite => return Err(ExportError::NeedsFile),
    }
    Ok(())
}

/// Writes `log` in `format` to a new file at `path` (which must not exist: SQLite would add
/// to an existing database).
pub fn write_file(log: &Log<'_>, format: Format, offset: UtcOffset, path: &std::path::Path) -> Result<(), ExportError> {
    if format == Format::OcelSqlite {
        return Ok(ocel::Ocel::new(log).write_sqlite(offset, path)?);
    }
    let file = std::fs::File::create_new(path)?;
    let mut out = io::BufWriter::new(file);
    write(log, format, offset, &mut out)?;
    out.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()?;
    Ok(())
}
