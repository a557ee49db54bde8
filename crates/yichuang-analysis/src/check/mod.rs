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
//! the case, of each task and of each open ticket ([`spec::commands_in`]), each
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
//! - every ticket command on an open ticket, by the responsible department or a supervisor
//!   outside it: fix_now, ledger, explain, appeal, submit_rectification, pass, fail,
//!   uphold_appeal, feed_back, follow_up satisfied and unsatisfied;
//! - advance: the clock jumps to the next pending timer (of the part explored: the case's, a
//!   ticket's, or [`Engine::next_deadline`] in the product) and every timer due then fires.
//!
//! So a row added to a spec is explored without any change here.
//!
//! Commands happen at the current instant; only `advance` moves the clock. The first command
//! happens at [`Options::start`].
//!
//! **Bounds.** Paths are at most [`Options::depth`] moves long from the start of each part of
//! the search (`None`: no bound; the search runs to its fixed point); each ticket takes at most
//! [`Options::redo_max`] failed supervisions and unsatisfied follow-ups (new rectification
//! rounds); the search stops expanding once [`Options::states_max`] states are stored, and says
//! so. A report with nothing cut off, nothing unknown and no limit hit is
//! [`Report::exhaustive`]: a proof over every reachable state, not a bounded search.
//!
//! **State key (time abstraction).** Two states are the same when the serialization of the case
//! (and, in the product, of its tickets) is equal once every `version` counter is skipped and
//! every date and instant is written *relative to the state's clock*: the working days from
//! today to its date, whether that date is a working day, and its time of day; the clock's own
//! time of day is part of the key. The calendar's working days all have the same office hours,
//! and the engine computes every deadline in working days and working minutes from these
//! values, so two states whose times differ by the same whole number of working days have the
//! same future, shifted: no guard or timer tells them apart, and timers fire in exactly the
//! order the real clock gives them (nothing else is abstracted). A final case is keyed by its
//! final state and outcome only, a closed ticket by a marker: no row of their specs leaves a
//! final state, and nothing reads them again. The key is hashed to 128 bits (a collision among
//! n states has probability about n² / 2¹²⁹).
//!
//! **Reductions.** The case and the tickets it opens are explored apart ([`Options::reduce`]).
//! A ticket command reads and changes only its ticket, the case never reads a ticket, and a
//! ticket's rules read the clock only through today's date and whether the office is still
//! open: the ticket's future depends on the case only through the moment it was opened. So the
//! case is explored alone (its commands and its own timers; tickets are opened, not acted on),
//! and every distinct ticket it opens (by the ticket's key at opening) is explored alone from
//! there: its commands, its own deadline, and time passing within the day (to the close) or to
//! the next working day before its deadline — every instant the real clock could offer a
//! ticket command is one of these. In a ticket's key, the times already past are one marker (its
//! rules read only its pending deadline). Invariants 2–5 are about the case's steps and state,
//! invariant 1 about each ticket's own events; liveness of the whole holds when the case can
//! finish from every reachable case state and every ticket can close from every reachable
//! ticket state (tickets never block the case, and the case never blocks a ticket). The
//! product search (`reduce: false`) is kept to compare against (`tests/check.rs`).
//!
//! **Partial-order reduction** ([`Options::por`], in the case's search). Claiming a task (认领)
//! that depends on no other task commutes with everything else the case's search can do while
//! the case is under approval with nothing outstanding: it changes only that task (Ready to
//! InReview, its reviewer, its claimed mark), records no time (the case's last-event time is
//! the current instant either way, and every advance of the case's search records a case event
//! at its own instant), makes no cascade and moves no timer; no other move disables it except
//! withdrawal, which ends the case in a final state whose key does not see the claim (the case
//! cannot be suspended: nothing is outstanding; nor decided: the task is open); no other move
//! is disabled by it (a recall is refused once a *dependent* was claimed, hence the tasks
//! without predecessors only, while the task spec declares a command in `Approved`); and
//! nothing any invariant, the final marks or the decision marks read changes with it (Ready and
//! InReview are both started and open). So in such a state the first such claim the engine
//! accepts is the only move explored there: an ample set of one transition — enabled,
//! independent of every move of every path that does not take it, invisible to every property
//! checked, and claims cannot close a cycle (each leaves one task fewer in Ready). Every path
//! of the full search then has a path of the reduced search that reaches the same state with
//! the claims moved earlier: the same final and decided states, the same tickets opened, the
//! same verdicts. A trace may carry a claim earlier than needed, and a depth bound counts the
//! claims moved forward, so the reduction is exact for a search without a depth bound.
//!
//! **Verdicts.** After every move the checker verifies DESIGN §4.3 invariants 1–5
//! ([`yichuang_core::invariants`]) on the recorded events and the resulting state, and stops at
//! the first violation: breadth-first order makes its trace a shortest one within its part (for
//! a ticket: a shortest path of the case to the ticket's opening, then a shortest path of the
//! ticket). After the search it computes, over each part's explored graph, which states can
//! still reach a final state (the case final; a ticket closed; in the product, both). States at
//! the depth bound are *cut off*; a state from which no final state is reachable in the
//! explored graph, but a cut-off one is, is *unknown* (the bound hides its future); a state
//! that can reach neither is a liveness violation (a deadlock, or a cycle without exit).

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
    /// Maximum moves (commands and timer advances) on a path from the start of each part of
    /// the search; `None`: no bound, the search runs to its fixed point.
    pub depth: Option<u32>,
    /// Explore the case and each ticket it opens apart (see the module documentation,
    /// "Reductions"); `false`: the plain product of the case and its tickets, for comparison.
    pub reduce: bool,
    /// Partial-order reduction of the case's search (see the module documentation,
    /// "Partial-order reduction"): in a state where a task may be claimed and claiming commutes
    /// with every other move, only the claim is explored. `false`: every move, for comparison.
    pub por: bool,
    /// Maximum failed supervisions plus unsatisfied follow-ups per ticket.
    pub redo_max: u8,
    /// Maximum recalls (撤回) in a case: a recall and a new approval restart the clocks of the
    /// dependents, so without a bound the search would run to the calendar's end.
    pub recall_max: u8,
    /// Maximum returns (退回) in a case: a return restarts the level's clock, so without a
    /// bound the search would run to the calendar's end.
    pub return_max: u8,
    /// The search stops expanding states once it has stored this many.
    pub states_max: usize,
    /// Instant of the first command; `None`: half an hour after opening on the first working
    /// day of the calendar (early, so that every deadline stays inside the calendar).
    pub start: Option<Instant>,
}

impl Options {
    /// Default bound on new rectification rounds per ticket.
    pub const REDO_MAX: u8 = 2;
    /// Default bound on recalls (撤回) per case.
    pub const RECALL_MAX: u8 = 1;
    /// Default bound on returns (退回) per case.
    pub const RETURN_MAX: u8 = 1;
    /// Default bound on stored states (about 0.6 KB each: the level being expanded holds whole
    /// engines, the others keys and ids): a bound for large definitions, reported when hit.
    pub const STATES_MAX: usize = 5_000_000;

    /// The default options: no depth bound, reduced, the default bounds on rounds and states.
    pub fn complete() -> Options {
        Options {
            depth: None,
            reduce: true,
            por: true,
            redo_max: Options::REDO_MAX,
            recall_max: Options::RECALL_MAX,
            return_max: Options::RETURN_MAX,
            states_max: Options::STATES_MAX,
            start: None,
        }
    }

    /// The default options with a depth bound.
    pub fn with_depth(depth: u32) -> Options {
        Options { depth: Some(depth), ..Options::complete() }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::complete()
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
    /// The depth bound used (`None`: none).
    pub depth_bound: Option<u32>,
    /// Whether the case and its tickets were explored apart (the reduction).
    pub reduced: bool,
    /// Whether the partial-order reduction was on ([`Options::por`]).
    pub por: bool,
    /// States the partial-order reduction expanded by one claim alone (every other move
    /// skipped there; with `por` off, 0).
    pub por_states: usize,
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
    /// Distinct tickets (by their state when opened) explored on their own (reduced search).
    pub tickets_apart: usize,
    /// Of [`Report::states`], those of the tickets explored on their own.
    pub ticket_states: usize,
    /// The final outcomes reached: the case's final state and outcome and the sources of the
    /// tickets it opened (`Closed Some(Approved); tickets [bad-rating]`), sorted.
    pub outcomes: std::collections::BTreeSet<String>,
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

    /// Whether the search reached its fixed point: every reachable state explored, none cut
    /// off by the depth bound or the state limit, none unknown, and nothing cut short by the
    /// calendar. A check that holds and is exhaustive is a proof, not a bounded search.
    pub fn exhaustive(&self) -> bool {
        self.complete() && self.cut_off == 0 && self.unknown == 0 && !self.states_limit_reached
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
/// let report = check(&def, bundle, &Options::complete());
/// assert!(report.holds(), "invariants 1–5 and liveness hold");
/// assert!(report.exhaustive(), "every reachable state was explored: a proof");
/// assert!(report.states > 1 && report.transitions >= report.states - 1);
/// ```
pub fn check(def: &Arc<Definition>, bundle: BundleIx, options: &Options) -> Report {
    explore::Explorer::new(def, bundle, options).run()
}
