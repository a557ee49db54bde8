//! The exhaustive bounded checker (穷举检查, `yichuang check`): every interleaving of commands
//! and timers for **one case** of a bundle, together with the tickets it opens, driven through
//! the real [`Engine`] by its public API. The checker proposes moves; the engine accepts or
//! rejects them. No rule is re-implemented here: a move the engine rejects is simply not a
//! transition, and the invariants are [`yichuang_core::invariants`], the same functions the
//! property tests and the replay audit call.
//!
//! Files: `explore` (the breadth-first search and the steps), `moves` (what is proposed in each
//! state, derived from the machines' specs), `key` (the state key), `liveness` (the verdict
//! over the explored graph).
//!
//! **What is explored.** A breadth-first search from the initial state (nothing opened). In every
//! state, the commands proposed are exactly those the machines' specs declare for the state of
//! the case, of each task and of the lowest open ticket ([`spec::commands_in`]), each
//! instantiated by an actor entitled to it:
//! - opening: consult; submit with every material, with only the tolerable (容缺) materials
//!   missing, and with a required material missing, for each answer of every condition field
//!   (情形) of the bundle — the answer that makes the member apply and one that does not;
//! - intake: accept, accept_tolerating (cure due on the latest date the engine allows),
//!   request_correction, reject; resubmit (what the correction notice listed); supply each
//!   outstanding material;
//! - every task command on every task by a reviewer of its department: claim, approve (each
//!   countersign department signs), deny, start and end a special procedure, approve_simulated,
//!   meet_precondition with facts unchanged and changed;
//! - deliver, rate 5 (good) and 1 (bad), withdraw;
//! - every ticket command on the lowest open ticket, by the responsible department or a
//!   supervisor outside it: fix_now, ledger, explain, appeal, submit_rectification, pass, fail,
//!   uphold_appeal, feed_back, follow_up satisfied and unsatisfied;
//! - advance: the clock jumps to [`Engine::next_deadline`] and every timer due then fires.
//!
//! So a row added to a spec is explored without any change here.
//!
//! Commands happen at the current instant; only `advance` moves the clock. The first command
//! happens at [`Options::start`].
//!
//! **Bounds.** Paths are at most [`Options::depth`] moves long; each ticket takes at most
//! [`Options::redo_max`] failed supervisions and unsatisfied follow-ups (new rectification
//! rounds); the search stops expanding once [`Options::states_max`] states are stored.
//!
//! **State key.** Two states are the same when the serialization of the case and its tickets
//! is equal after erasing every date and instant and every `version` counter, the checker's
//! per-ticket bookkeeping (supervised since the last submission; rounds used) is equal, and the
//! pending timers come in the same order (each timer is replaced by its rank among the pending
//! timers, ties kept, so *which timer fires next* is preserved while *when* is not). The clock
//! always advances, so without this abstraction no state would ever be revisited; with it, a
//! case that reaches the same logical state on Monday or on Thursday is explored once, from
//! the first (shortest) path that reached it. Every trace the checker prints is a real run of
//! the engine; the abstraction can only hide behaviours that depend on exact durations. The key
//! is hashed to 128 bits (a collision among n states has probability about n² / 2¹²⁹).
//!
//! **Reductions.** Tickets are independent of each other and of the case: a ticket command
//! reads and changes only its ticket, and the case never reads a ticket. So only the
//! lowest-numbered open ticket is offered commands; the others wait (their timers still fire).
//! Closing a ticket takes commands only, no time, so every history of every ticket is still
//! explored, one ticket after another instead of in every interleaving with the others; what is
//! left out are states that differ only in how far two tickets have got, which no checked
//! property relates.
//!
//! **Verdicts.** After every move the checker verifies DESIGN §4.3 invariants 1–5
//! ([`yichuang_core::invariants`]) on the recorded events and the resulting state, and stops at the first violation: breadth-first
//! order makes its trace a shortest one. After the search it computes, over the explored graph,
//! which states can still reach a final state (case final and every ticket closed). States at
//! the depth bound are *cut off*; a state from which no final state is reachable in the explored
//! graph, but a cut-off one is, is *unknown* (the bound hides its future); a state that can
//! reach neither is a liveness violation (a deadlock, or a cycle without exit). Traces are
//! shortest within the explored graph (the state key and the reduction above shape it).

mod explore;
mod key;
mod liveness;
mod moves;

use std::sync::Arc;

use serde::Serialize;
#[cfg(doc)]
use yichuang_core::Engine;
use yichuang_core::definition::{BundleIx, Definition};
use yichuang_core::invariants::Invariant;
#[cfg(doc)]
use yichuang_core::machine::spec;
use yichuang_core::{Actor, Id, Instant, Recorded};

/// Bounds and setup of one exploration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Maximum moves (commands and timer advances) on a path from the initial state.
    pub depth: u32,
    /// Maximum failed supervisions plus unsatisfied follow-ups per ticket.
    pub redo_max: u8,
    /// The search stops expanding states once it has stored this many.
    pub states_max: usize,
    /// Instant of the first command; `None`: half an hour after opening on the first working
    /// day of the calendar (early, so that every deadline stays inside the calendar).
    pub start: Option<Instant>,
}

impl Options {
    /// Default depth bound: every bundle of `examples/definitions/county-hall.ron` is checked in
    /// well under a minute in release mode (figures in `docs/check.md`).
    pub const DEPTH: u32 = 12;
    /// Default bound on new rectification rounds per ticket.
    pub const REDO_MAX: u8 = 2;
    /// Default bound on stored states: about 0.6 KB each at the default depth (the level
    /// being expanded holds whole engines, the others keys and ids), so about 1.2 GB.
    pub const STATES_MAX: usize = 2_000_000;

    /// The default bounds with the given depth.
    pub fn with_depth(depth: u32) -> Options {
        Options { depth, redo_max: Options::REDO_MAX, states_max: Options::STATES_MAX, start: None }
    }
}

/// A property the checker verifies: an invariant of DESIGN §4.3, or liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// An invariant, checked after every move.
    Invariant(Invariant),
    /// Every reachable state can still reach a final state.
    Liveness,
}

impl Property {
    /// The number in DESIGN §4.3 (`None` for liveness).
    pub fn number(self) -> Option<u8> {
        match self {
            Property::Invariant(i) => Some(i.number()),
            Property::Liveness => None,
        }
    }

    /// A short statement of the property.
    pub fn title(self) -> &'static str {
        match self {
            Property::Invariant(i) => i.title(),
            Property::Liveness => "every reachable state can still reach a final state",
        }
    }

    /// The name in reports: the invariant's (`TaskOrder`), or `Liveness`.
    pub fn name(self) -> &'static str {
        match self {
            Property::Invariant(Invariant::Supervision) => "Supervision",
            Property::Invariant(Invariant::OneTicketPerTrigger) => "OneTicketPerTrigger",
            Property::Invariant(Invariant::TaskOrder) => "TaskOrder",
            Property::Invariant(Invariant::Delivery) => "Delivery",
            Property::Invariant(Invariant::Deadlines) => "Deadlines",
            Property::Invariant(Invariant::Replay) => "Replay",
            Property::Invariant(Invariant::Authority) => "Authority",
            Property::Liveness => "Liveness",
        }
    }
}

impl Serialize for Property {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One step of a trace: a command (or the clock advancing) and what the engine recorded.
#[derive(Debug, Clone, Serialize)]
pub struct TraceStep {
    /// When (for `advance`, the instant the clock jumped to).
    pub at: Instant,
    /// Who issued it (the system for `advance`).
    pub actor: Actor,
    /// The command, e.g. `claim food`, `fix_now T000001`, `advance to 2025-01-03T17:30`.
    pub command: String,
    /// The events recorded, cascade and opened tickets included.
    pub events: Vec<Recorded>,
}

/// A violated invariant with a shortest trace that breaks it.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// Which property.
    pub invariant: Property,
    /// What is wrong, in the state the trace ends in.
    pub message: String,
    /// The moves from the initial state, one per step.
    pub trace: Vec<TraceStep>,
}

/// What one exploration found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The bundle checked.
    pub bundle: Id,
    /// Its display name.
    pub name: String,
    /// The depth bound used.
    pub depth_bound: u32,
    /// Instant of the first command.
    pub start: Instant,
    /// Distinct states stored (by the state key).
    pub states: usize,
    /// Moves the engine accepted (edges explored, including those to known states).
    pub transitions: usize,
    /// Deepest level that holds a state.
    pub max_depth: u32,
    /// States with the case final and every ticket closed.
    pub final_states: usize,
    /// Non-final states left unexpanded at the depth bound (or the state limit).
    pub cut_off: usize,
    /// Expanded states that reach no final state within the bound, only cut-off ones.
    pub unknown: usize,
    /// The search stopped early at [`Options::states_max`].
    pub states_limit_reached: bool,
    /// Moves cut short by the definition's calendar: refused by the engine because a date fell
    /// outside it, or leading to a state where a deadline could not be scheduled (it would fall
    /// past the last covered year, so the timer that would follow is missing). The paths behind
    /// them were not explored, so the check is incomplete (see [`Report::complete`]).
    pub calendar_refusals: usize,
    /// The first of those, as the engine worded it.
    pub calendar_error: Option<String>,
    /// The first violation found, if any.
    pub violation: Option<Violation>,
}

impl Report {
    /// Whether every property held within the bounds.
    pub fn holds(&self) -> bool {
        self.violation.is_none()
    }

    /// Whether the exploration reached every path within the bounds: no move was cut short by
    /// the calendar (a policy or a deadline reaching past the covered years). An incomplete
    /// check that holds proves nothing about the paths it could not take.
    pub fn complete(&self) -> bool {
        self.calendar_refusals == 0
    }
}

/// Explores one case of `bundle` (see the module documentation) and reports.
///
/// ```
/// use std::sync::Arc;
/// use yichuang_analysis::check::{Options, check};
/// use yichuang_core::Definition;
///
/// let text = include_str!("../../../../examples/definitions/minimal.ron");
/// let def = Arc::new(Definition::from_ron(text, "minimal.ron").unwrap());
/// let bundle = def.bundle_ix("open-shop").unwrap();
/// let report = check(&def, bundle, &Options::with_depth(8));
/// assert!(report.holds(), "invariants 1–5 and liveness hold");
/// assert!(report.complete(), "no path was cut short by the calendar");
/// assert!(report.states > 1 && report.transitions >= report.states - 1);
/// ```
pub fn check(def: &Arc<Definition>, bundle: BundleIx, options: &Options) -> Report {
    explore::Explorer::new(def, bundle, options).run()
}
