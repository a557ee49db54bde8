//! DESIGN §4.3's invariants over an engine and the log it wrote, as the property tests check
//! them (`crates/yichuang-core/tests/properties.rs`), through `yichuang_core::invariants`.

use yichuang_core::invariants::{self, Violation};
use yichuang_core::{Engine, Recorded, StreamId};

/// Panics, naming the invariant, if the engine or its log break one of invariants 1–7.
pub fn hold(engine: &Engine, log: &[Recorded]) {
    if let Err(v) = violations(engine, log) {
        panic!("invariant {}: {v}", v.invariant().number());
    }
}

/// The first violation of invariants 1–7 by the engine or its log.
pub fn violations(engine: &Engine, log: &[Recorded]) -> Result<(), Violation> {
    let def = engine.definition();
    for case in engine.cases() {
        invariants::task_order(def, case)?;
        invariants::delivery(def, case)?;
        invariants::deadlines(def, case)?;
    }
    let mut supervision = invariants::Supervision::default();
    for rec in log {
        supervision.observe(rec)?;
        let applicant = match rec.stream {
            StreamId::Case(c) => engine.case(c).map(|c| &c.applicant().id),
            StreamId::Ticket(_) => None,
        };
        invariants::authority(def, applicant, rec)?;
    }
    invariants::one_ticket_per_trigger(log)?;
    invariants::replay(engine, log)?;
    Ok(())
}
