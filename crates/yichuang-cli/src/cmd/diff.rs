//! `yichuang diff OLD NEW`: what changed between two definition files and what each change can
//! do to a running case (docs/definitions.md, "Diff").

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use yichuang_core::Definition;
use yichuang_core::definition::{DefinitionDiff, diff};

use crate::cmd::read_source;
use crate::failure::Failure;

/// Compare two definition files (定义差异): departments, windows, materials, items, bundles,
/// members, dependencies, conditions, stages, limits, policies and calendar years added, removed
/// or changed, each with whether and how it can affect a running case.
///
/// Both versions are shown (16 hex digits of the SHA-256 of the canonical form, so layout and
/// comments do not count). Exit code 0 when both are the same version, 1 when they differ, 2
/// when a file cannot be read or is not a valid definition (its diagnostics are printed).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The old definition (RON).
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The new definition (RON).
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Output format: `text` (one line per change, its effect under it) or `json` ({old, new,
    /// identical, changes}).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output format of `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object.
    Json,
}

/// One side as printed: the file and its version.
#[derive(Debug, Serialize)]
struct FileSide<'a> {
    file: String,
    id: &'a str,
    version: String,
}

/// The `--format json` output.
#[derive(Debug, Serialize)]
struct Report<'a> {
    old: FileSide<'a>,
    new: FileSide<'a>,
    identical: bool,
    changes: &'a [yichuang_core::definition::Change],
}

/// Reads and validates one side; an invalid file is an input error here (exit 2), since exit 1
/// means "they differ".
fn load(path: &Path) -> Result<Definition, Failure> {
    let file = path.display().to_string();
    let source = read_source(path)?;
    Definition::from_ron(&source, &file).map_err(|diagnostics| {
        Failure::input(format!(
            "`{file}` is not a valid definition; fix it first (see `yichuang validate`):\n{diagnostics}"
        ))
    })
}

/// Runs `diff`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let old = load(&args.old)?;
    let new = load(&args.new)?;
    let d = diff(&old, &new);
    match args.format {
        Format::Text => out.write_all(render(args, &d).as_bytes())?,
        Format::Json => {
            let report = Report {
                old: FileSide {
                    file: args.old.display().to_string(),
                    id: d.old.id.as_str(),
                    version: d.old.version.to_string(),
                },
                new: FileSide {
                    file: args.new.display().to_string(),
                    id: d.new.id.as_str(),
                    version: d.new.version.to_string(),
                },
                identical: d.is_identical(),
                changes: &d.changes,
            };
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
    }
    if d.is_identical() { Ok(()) } else { Err(Failure::Different) }
}

/// The text output: both versions, then each change with its effect.
fn render(args: &Args, d: &DefinitionDiff) -> String {
    let mut text = format!(
        "old: {} ({} version {})\nnew: {} ({} version {})\n",
        args.old.display(),
        d.old.id,
        d.old.version,
        args.new.display(),
        d.new.id,
        d.new.version
    );
    if d.is_identical() {
        text += "identical: same version (layout and comments aside)\n";
        return text;
    }
    let n = d.changes.len();
    text += &format!("{n} {}:\n", if n == 1 { "change" } else { "changes" });
    for c in &d.changes {
        text += &format!("{} {} {}: {}\n", c.change.sign(), c.section.name(), c.subject, c.detail);
        text += &format!("    {}: {}\n", c.impact.name(), c.effect);
    }
    text
}
