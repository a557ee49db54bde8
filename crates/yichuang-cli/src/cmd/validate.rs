//! `yichuang validate FILE...`: load each definition and report every problem at once.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use yichuang_core::{Definition, Diagnostic};

use crate::cmd::read_source;
use crate::failure::Failure;
use crate::text::count;

/// Check definition files (事项与一件事定义) and print every problem, with file:line:col.
///
/// Prints `ok: FILE (N departments, N items, N bundles)` for each valid file and every diagnostic
/// of each invalid one (to stderr). Exit code 0 when all are valid, 1 when any is invalid, 2 when
/// a file cannot be read.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Definition files (RON).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format: `text` (ok lines on stdout, diagnostics on stderr) or `json` (an array of
    /// {file, valid, diagnostics} on stdout).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output format of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// A JSON array, one object per file.
    Json,
}

/// The result for one file, as printed by `--format json`.
#[derive(Debug, Serialize)]
struct FileReport {
    file: String,
    valid: bool,
    /// Counts, when valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    departments: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bundles: Option<usize>,
    diagnostics: Vec<Diagnostic>,
    /// Why the file could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Runs `validate`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let mut failures = Vec::new();
    let mut reports = Vec::new();
    for path in &args.files {
        let file = path.display().to_string();
        let mut report = FileReport {
            file: file.clone(),
            valid: false,
            departments: None,
            items: None,
            bundles: None,
            diagnostics: Vec::new(),
            error: None,
        };
        match read_source(path).map(|source| Definition::from_ron(&source, &file)) {
            Err(failure) => {
                if let Failure::Input(message) = &failure {
                    report.error = Some(message.clone());
                }
                failures.push(failure);
            }
            Ok(Ok(def)) => {
                if args.format == Format::Text {
                    writeln!(
                        out,
                        "ok: {file} ({}, {}, {})",
                        count(def.departments().len(), "department", "departments"),
                        count(def.items().len(), "item", "items"),
                        count(def.bundles().len(), "bundle", "bundles"),
                    )?;
                }
                report.valid = true;
                report.departments = Some(def.departments().len());
                report.items = Some(def.items().len());
                report.bundles = Some(def.bundles().len());
            }
            Ok(Err(diagnostics)) => {
                report.diagnostics = diagnostics.0.clone();
                failures.push(match args.format {
                    Format::Text => Failure::Invalid(diagnostics),
                    Format::Json => Failure::InvalidReported,
                });
            }
        }
        reports.push(report);
    }
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &reports)?;
        writeln!(out)?;
    }
    if failures.is_empty() { Ok(()) } else { Err(Failure::Many(failures)) }
}
