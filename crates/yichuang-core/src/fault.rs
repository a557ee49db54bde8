//! Deliberately broken rules, compiled only with the `fault-injection` feature, so that the
//! property tests and the checker can show that they catch a broken invariant. Production
//! builds do not contain this module.

use std::cell::Cell;

/// A rule to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Tasks become ready without waiting for their predecessors (breaks invariant 3).
    SkipPredecessorCheck,
    /// A ticket may be closed straight from rectification, skipping supervision (breaks
    /// invariant 1).
    CloseWithoutSupervision,
    /// A task's approval is taken for an event after which a settled case stays settled, so
    /// its successors are never made ready (breaks the cascade shortcut of `Case::execute`).
    ApprovalDoesNotCascade,
    /// A recalled approval (撤回) leaves the tasks that waited for it ready (breaks invariant 3:
    /// a started task whose predecessor is not approved).
    RecallLeavesDependentReady,
    /// 退回 sends the task back to `Waiting`, as if it re-entered its branch before the join
    /// (the shape of flowable-engine #1641), and nothing makes it ready again: its predecessors
    /// are approved, yet it waits for ever and the case cannot be decided (breaks invariant 3,
    /// "no task without a way forward", and the checker's liveness: no join stuck).
    ReturnStrandsTask,
    /// A migration drops the predecessors of every waiting task instead of re-evaluating its
    /// join under the new graph, so the cascade starts it early (breaks invariant 3).
    MigrationDropsWaitingPredecessor,
    /// Materials asked during review (补充材料) leave the task's clocks running (breaks invariant
    /// 5: a task held for the applicant has no running clock).
    SupplementKeepsClockRunning,
}

thread_local! {
    static ACTIVE: Cell<Option<Fault>> = const { Cell::new(None) };
}

/// Activates `fault` on this thread until the guard is dropped.
pub fn inject(fault: Fault) -> Guard {
    ACTIVE.with(|a| a.set(Some(fault)));
    Guard(())
}

/// Whether `fault` is active on this thread.
pub fn active(fault: Fault) -> bool {
    ACTIVE.with(|a| a.get() == Some(fault))
}

/// Whether any fault is active on this thread: the engine then departs from its own spec on
/// purpose, and only the invariants may judge it (the spec's landing check stands aside).
pub fn any_active() -> bool {
    ACTIVE.with(|a| a.get().is_some())
}

/// Deactivates the fault when dropped.
#[derive(Debug)]
pub struct Guard(());

impl Drop for Guard {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(None));
    }
}
