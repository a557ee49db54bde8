//! The scenario loader (`Scenario::from_ron`): any text gives a scenario or an error.

use std::path::PathBuf;

use yichuang_sim::scenario::Scenario;

/// Loads `data` as a scenario file placed in `examples/scenarios/`, so that the examples'
/// relative definition paths (`../definitions/county-hall.ron`) resolve.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The definition path in the input may name any file: devices (`/dev/zero`, a pipe) would
    // hang the loader, which rightly reads what it is told to, so absolute paths and the
    // kernel's file systems are left out.
    if ["\"/", "dev/", "proc/", "sys/"].iter().any(|p| text.contains(p)) {
        return;
    }
    let path = scenarios_dir().join("fuzz.ron");
    match Scenario::from_ron(text, &path) {
        Ok(scenario) => assert!(!scenario.definition_id().is_empty(), "a scenario names its definition"),
        Err(e) => assert!(!e.to_string().is_empty(), "the error renders"),
    }
}

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios")
}
