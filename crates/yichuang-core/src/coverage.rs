//! Transition coverage (feature `transition-coverage`, for tests): which declared rows of the
//! machines' specs the engine took in this process. Modelled on Temporal sdk-core's
//! `transition_coverage.rs`: a test suite can fail when a declared row is never taken.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::machine::spec::{Machine, Row};

static TAKEN: Mutex<BTreeSet<(&'static str, usize)>> = Mutex::new(BTreeSet::new());

/// Records that row `row` of the machine named `machine` was taken.
pub fn record(machine: &'static str, row: usize) {
    TAKEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert((machine, row));
}

/// The rows of `M` not taken so far in this process, in declaration order.
pub fn untaken<M: Machine>() -> Vec<&'static Row<M>> {
    let taken = TAKEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    M::ROWS.iter().enumerate().filter(|(i, _)| !taken.contains(&(M::NAME, *i))).map(|(_, r)| r).collect()
}
