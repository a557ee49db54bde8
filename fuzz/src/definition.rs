//! The definition loader (`Definition::from_ron`): any text gives a definition or diagnostics.

use std::collections::BTreeMap;

use yichuang_core::Definition;

/// Loads `data` as a definition file; a valid one plans every bundle with no answers and with
/// the answers its fields' first options give.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Definition::from_ron(text, "fuzz.ron") {
        Err(diagnostics) => {
            assert!(!diagnostics.0.is_empty(), "an invalid definition comes with at least one diagnostic");
            let rendered = diagnostics.to_string();
            assert!(!rendered.is_empty(), "the diagnostics render");
        }
        Ok(def) => {
            let start = yichuang_core::Date::from_ymd(2026, 3, 2).expect("a valid date");
            for bundle in def.bundles() {
                // A plan may be refused (answers missing, a date past the calendar), never panic.
                let _ = bundle.plan(&def, start, &BTreeMap::new());
            }
        }
    }
}
