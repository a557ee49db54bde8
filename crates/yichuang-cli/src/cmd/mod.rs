//! One module per command. Each has an `Args` struct (clap derive) and a
//! `run(&Args, &mut dyn Write) -> Result<(), Failure>`; helpers shared by several commands live
//! here.

pub mod audit;
pub mod calendar;
pub mod check;
pub mod compare;
pub mod diff;
pub mod experiment;
pub mod export;
pub mod graph;
pub mod migrate;
pub mod plan;
pub mod replay;
pub mod report;
pub mod simulate;
pub mod validate;

use std::path::Path;

use yichuang_core::Definition;
use yichuang_core::definition::Bundle;

use crate::failure::Failure;

/// Reads a definition file, naming the file and the reason when it cannot be read.
pub fn read_source(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::input(format!("cannot read `{}`: {e}", path.display())))
}

/// Reads and validates a definition; an invalid one fails with all its diagnostics.
pub fn load_definition(path: &Path) -> Result<Definition, Failure> {
    let source = read_source(path)?;
    Definition::from_ron(&source, &path.display().to_string()).map_err(Failure::Invalid)
}

/// Reads an event log of JSON lines (one `Recorded` per line; blank lines skipped). A line that
/// does not parse is a corrupted log: exit 1 naming the line.
pub fn read_log(path: &Path) -> Result<Vec<yichuang_core::Recorded>, Failure> {
    let text = read_source(path)?;
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event = serde_json::from_str(line).map_err(|e| {
            Failure::Failed(format!(
                "`{}` line {} is not an event of this engine's log ({e}); the log is corrupted",
                path.display(),
                i + 1
            ))
        })?;
        events.push(event);
    }
    Ok(events)
}

/// The bundle (一件事) with id `id`, or an input error listing the bundles that exist.
pub fn find_bundle<'d>(def: &'d Definition, id: &str) -> Result<&'d Bundle, Failure> {
    match def.bundle_ix(id) {
        Some(ix) => Ok(def.bundle(ix)),
        None if def.bundles().is_empty() => Err(Failure::input(format!(
            "bundle `{id}` does not exist: definition `{}` has no bundles (一件事)",
            def.id()
        ))),
        None => Err(Failure::input(format!(
            "bundle `{id}` does not exist in definition `{}`; use one of: {}",
            def.id(),
            def.bundle_ids_text()
        ))),
    }
}
