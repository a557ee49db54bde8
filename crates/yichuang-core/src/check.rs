//! The exhaustive bounded checker (穷举检查, `yichuang check`): every interleaving of commands
//! and timers for **one case** of a bundle, together with the tickets it opens, driven through
//! the real [`Engine`]. The checker proposes moves; the engine accepts or rejects them. No rule
//! is re-implemented here: a move the engine rejects is simply not a transition.
//!
//! **What is explored.** A breadth-first search from the initial state (nothing opened) tries,
//! in every state where the machines of DESIGN §4 list it, each of these moves by an actor
//! entitled to it:
//! - opening: consult; submit with every material, with only the tolerable (容缺) materials
//!   missing, and with a required material missing, for each answer of every condition field
//!   (情形) of the bundle — the answer that makes the member apply and one that does not;
//! - intake: accept, accept_tolerating (cure due on the latest date the engine allows),
//!   request_correction, reject; resubmit (what the correction notice listed); supply each
//!   outstanding material;
//! - every task command on every task by a reviewer of its department: claim, approve (each
//!   countersign department signs), deny, start and end a special procedure, approve_simulated,
//!   meet_precondition with facts unchanged and changed;
//! - deliver (also proposed while the case is in approval, awaiting cure or suspended, where the
//!   engine must refuse it), rate 5 (good) and 1 (bad), withdraw;
//! - every ticket command on every open ticket, by the responsible department or a supervisor
//!   outside it: fix_now, ledger, explain, appeal, submit_rectification, pass, fail,
//!   uphold_appeal, feed_back, follow_up satisfied and unsatisfied;
//! - advance: the clock jumps to [`Engine::next_deadline`] and every timer due then fires.
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
//! **Verdicts.** After every move the checker verifies DESIGN §4.3 invariants 1–5 on the
//! recorded events and the resulting state, and stops at the first violation: breadth-first
//! order makes its trace a shortest one. After the search it computes, over the explored graph,
//! which states can still reach a final state (case final and every ticket closed). States at
//! the depth bound are *cut off*; a state from which no final state is reachable in the explored
//! graph, but a cut-off one is, is *unknown* (the bound hides its future); a state that can
//! reach neither is a liveness violation (a deadlock, or a cycle without exit). Traces are
//! shortest within the explored graph (the state key and the reduction above shape it).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;
use std::hash::Hasher;
use std::sync::Arc;

use serde::Serialize;

use crate::actor::{Actor, Ctx, Role};
use crate::case::{Case, CaseState, Command, Submission, TaskCommand, Timer};
use crate::definition::{Bundle, BundleIx, Definition, DepartmentKind, Id, MaterialNeed, MilestoneRule, WindowClass};
use crate::engine::Engine;
use crate::event::{Applicant, DeliveryMethod, Event, Outcome, Recorded, SlaSubject, SpecialProcedureKind, StreamId};
use crate::rejection::Rejection;
use crate::sla::{Sla, SlaLevel};
use crate::task::{Task, TaskState};
use crate::ticket::{FailKind, Ticket, TicketCommand, TicketId, TicketSource, TicketState};
use crate::time::{Date, Instant};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Invariant {
    /// 1: no ticket reaches Closed without a supervision decision (pass or uphold_appeal) by a
    /// supervisor outside the responsible department after its last submission.
    Supervision,
    /// 2: every bad rating and every overdue task or case opens exactly one ticket.
    OneTicketPerTrigger,
    /// 3: tasks start only after their predecessors are approved, a failed task's dependents
    /// are cancelled, and the case is decided exactly when every task is terminal.
    TaskOrder,
    /// 4: nothing is delivered while a required material is missing or a tolerated material of
    /// an item that may not issue before cure is outstanding.
    Delivery,
    /// 5: running deadlines lie budget + paused working minutes after their start, on a working
    /// day, within office hours, and the overdue timer fires at the deadline.
    Deadlines,
    /// Every reachable state can still reach a final state.
    Liveness,
}

impl Invariant {
    /// The number in DESIGN §4.3 (`None` for liveness).
    pub fn number(self) -> Option<u8> {
        match self {
            Invariant::Supervision => Some(1),
            Invariant::OneTicketPerTrigger => Some(2),
            Invariant::TaskOrder => Some(3),
            Invariant::Delivery => Some(4),
            Invariant::Deadlines => Some(5),
            Invariant::Liveness => None,
        }
    }

    /// A short statement of the property.
    pub fn title(self) -> &'static str {
        match self {
            Invariant::Supervision => "no ticket is closed without supervision",
            Invariant::OneTicketPerTrigger => "every bad rating and overdue task or case opens exactly one ticket",
            Invariant::TaskOrder => {
                "tasks start after their predecessors; the case is decided when all tasks are terminal"
            }
            Invariant::Delivery => "nothing is delivered while a material it needs is missing",
            Invariant::Deadlines => "deadlines respect the calendar and exclude paused time",
            Invariant::Liveness => "every reachable state can still reach a final state",
        }
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
    pub invariant: Invariant,
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
pub fn check(def: &Arc<Definition>, bundle: BundleIx, options: &Options) -> Report {
    Explorer::new(def, bundle, options).run()
}

/// A task command of the checker, by position in the bundle's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskMove {
    Claim,
    /// Approve, or sign for the department at this position of a countersign.
    Approve(u8),
    Deny,
    StartSpecialProcedure,
    EndSpecialProcedure,
    ApproveSimulated,
    MeetPrecondition {
        facts_changed: bool,
    },
}

/// A ticket command of the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TicketMove {
    FixNow,
    Ledger,
    Explain,
    Appeal,
    SubmitRectification,
    Pass,
    Fail,
    UpholdAppeal,
    FeedBack,
    FollowUp { satisfied: bool },
}

/// A move: small, so that every stored state can keep the move that reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Consult,
    /// Submit the prepared submission with this index.
    Submit(u16),
    Accept,
    AcceptTolerating,
    RequestCorrection,
    Reject,
    Resubmit,
    /// Supply the outstanding material at this position.
    Supply(u16),
    Task(u16, TaskMove),
    Deliver,
    Rate(u8),
    Withdraw,
    /// A command on the ticket at this slot (number − 1).
    Ticket(u16, TicketMove),
    Advance,
}

/// What a move asks the engine to do.
enum Action {
    Open(Command),
    Case(Command),
    Ticket(TicketId, TicketCommand),
    Advance,
}

/// One explored state: the engine (one case and its tickets), the clock and the checker's
/// per-ticket bookkeeping.
#[derive(Debug, Clone)]
struct Node {
    engine: Engine,
    now: Instant,
    /// Per ticket slot: an eligible supervision decision was recorded after its last submission.
    supervised: Vec<bool>,
    /// Per ticket slot: failed supervisions plus unsatisfied follow-ups so far.
    redo: Vec<u8>,
}

impl Node {
    fn case(&self) -> Option<&Case> {
        self.engine.cases().next()
    }

    fn is_final(&self) -> bool {
        self.case().is_some_and(|c| c.state.is_final())
            && self.engine.tickets().iter().all(|t| t.state == TicketState::Closed)
    }
}

/// The result of a move the engine accepted.
struct Step {
    node: Node,
    events: Vec<Recorded>,
    actor: Actor,
    at: Instant,
    /// Invariant 1, found while folding the ticket events.
    unsupervised: Option<String>,
}

/// The explored graph: per state its parent, the move from it and its depth; successors of
/// expanded states in expansion (= id) order.
#[derive(Default)]
struct Graph {
    parent: Vec<u32>,
    moves: Vec<Option<Move>>,
    depth: Vec<u16>,
    is_final: Vec<bool>,
    succ_start: Vec<u32>,
    succ: Vec<u32>,
}

impl Graph {
    fn len(&self) -> usize {
        self.parent.len()
    }

    /// States `0..expanded()` have their successors recorded.
    fn expanded(&self) -> usize {
        self.succ_start.len().saturating_sub(1)
    }

    fn add(&mut self, parent: u32, mv: Option<Move>, depth: u16, is_final: bool) -> u32 {
        let id = u32::try_from(self.parent.len()).expect("states_max keeps ids within u32");
        self.parent.push(parent);
        self.moves.push(mv);
        self.depth.push(depth);
        self.is_final.push(is_final);
        id
    }

    /// The moves from the initial state to `id`.
    fn path(&self, mut id: u32) -> Vec<Move> {
        let mut path = Vec::with_capacity(usize::from(self.depth[id as usize]));
        while let Some(mv) = self.moves[id as usize] {
            path.push(mv);
            id = self.parent[id as usize];
        }
        path.reverse();
        path
    }
}

struct Explorer {
    def: Arc<Definition>,
    bundle: BundleIx,
    options: Options,
    start: Instant,
    applicant: Applicant,
    applicant_actor: Actor,
    consult: Option<Actor>,
    intake: Option<Actor>,
    delivery: Option<Actor>,
    /// A reviewer of each department, by department index.
    reviewers: Vec<Actor>,
    /// A supervisor outside each department, by department index.
    supervisors: Vec<Option<Actor>>,
    /// The prepared submissions: a label and the submission.
    submissions: Vec<(String, Submission)>,
    /// Moves cut short by the calendar so far, and the first one's description.
    calendar: std::cell::RefCell<(usize, Option<String>)>,
}

/// At most this many answer combinations of condition fields are explored.
const ANSWER_SETS_MAX: usize = 64;

impl Explorer {
    fn new(def: &Arc<Definition>, bundle: BundleIx, options: &Options) -> Explorer {
        let clerk = |class: WindowClass| {
            def.windows().iter().find(|w| w.class == class).map(|w| Actor::clerk(&format!("clerk-{}", w.id), &w.id))
        };
        let departments = def.departments();
        let reviewers = departments.iter().map(|d| Actor::reviewer(&format!("reviewer-{}", d.id), &d.id)).collect();
        let supervisors = (0..departments.len())
            .map(|own| {
                let others = || departments.iter().enumerate().filter(move |(i, _)| *i != own).map(|(_, d)| d);
                let chosen = others().find(|d| d.kind == DepartmentKind::Supervision).or_else(|| others().next());
                chosen.map(|d| Actor::supervisor(&format!("supervisor-{}", d.id), &d.id))
            })
            .collect();
        let applicant = Applicant { id: Id::new("applicant"), name: "申请人".into(), credit_blocked: false };
        let submissions = submissions(def, def.bundle(bundle), &applicant);
        Explorer {
            def: def.clone(),
            bundle,
            options: *options,
            start: options.start.unwrap_or_else(|| default_start(def)),
            applicant_actor: Actor::applicant(applicant.id.as_str()),
            applicant,
            consult: clerk(WindowClass::Consult).or_else(|| clerk(WindowClass::Intake)),
            intake: clerk(WindowClass::Intake),
            delivery: clerk(WindowClass::Delivery),
            reviewers,
            supervisors,
            submissions,
            calendar: std::cell::RefCell::new((0, None)),
        }
    }

    fn root(&self) -> Node {
        Node { engine: Engine::new(self.def.clone()), now: self.start, supervised: Vec::new(), redo: Vec::new() }
    }

    fn run(&self) -> Report {
        let b = self.def.bundle(self.bundle);
        let mut report = Report {
            bundle: b.id.clone(),
            name: b.name.clone(),
            depth_bound: self.options.depth,
            start: self.start,
            states: 0,
            transitions: 0,
            max_depth: 0,
            final_states: 0,
            cut_off: 0,
            unknown: 0,
            states_limit_reached: false,
            calendar_refusals: 0,
            calendar_error: None,
            violation: None,
        };
        let mut graph = Graph::default();
        report.violation = self.search(&mut graph, &mut report);
        (report.calendar_refusals, report.calendar_error) = self.calendar.take();
        // Close the successor list of the last expanded state.
        graph.succ_start.push(graph.succ.len() as u32);
        report.states = graph.len();
        report.max_depth = graph.depth.iter().copied().max().map_or(0, u32::from);
        report.final_states = graph.is_final.iter().filter(|f| **f).count();
        let expanded = graph.expanded();
        report.cut_off = (expanded..graph.len()).filter(|&i| !graph.is_final[i]).count();
        if report.violation.is_none() {
            let (unknown, stuck) = liveness(&graph);
            report.unknown = unknown;
            report.violation = stuck.map(|id| self.liveness_violation(&graph, id));
        }
        report
    }

    /// Breadth-first search; returns the first safety violation.
    fn search(&self, graph: &mut Graph, report: &mut Report) -> Option<Violation> {
        let mut seen: HashMap<u128, u32, KeyHash> = HashMap::default();
        let mut writer = KeyWriter::default();
        let root = self.root();
        seen.insert(self.key(&root, &mut writer), 0);
        graph.add(0, None, 0, false);
        let mut level = vec![(0u32, root)];
        let mut moves = Vec::new();
        let depth_max = self.options.depth.min(u32::from(u16::MAX) - 1);
        for depth in 0..depth_max {
            // States of the last level are cut off, never expanded: only their ids are kept
            // (the last level is the largest, so this roughly halves the peak memory).
            let keep_states = depth + 1 < depth_max;
            let mut next = Vec::new();
            // Each state is dropped once expanded: the memory held is about one level and a half.
            for (id, node) in std::mem::take(&mut level) {
                if graph.len() >= self.options.states_max {
                    report.states_limit_reached = true;
                    return None;
                }
                debug_assert_eq!(graph.succ_start.len(), id as usize, "states are expanded in id order");
                graph.succ_start.push(graph.succ.len() as u32);
                self.moves(&node, &mut moves);
                for &mv in &moves {
                    let Some(step) = self.step(&node, mv) else { continue };
                    report.transitions += 1;
                    if let Some(case) = step.node.case()
                        && case.timer_past_calendar(&self.def)
                    {
                        self.note_calendar(|| {
                            format!(
                                "a deadline of {} after `{}` would fall past the calendar",
                                case.id,
                                self.describe(&node, mv)
                            )
                        });
                    }
                    if let Some((invariant, message)) = self.verify(&node, &step) {
                        let mut trace = self.trace(&graph.path(id));
                        trace.push(self.trace_step(&node, mv, step));
                        return Some(Violation { invariant, message, trace });
                    }
                    let key = self.key(&step.node, &mut writer);
                    let target = match seen.entry(key) {
                        Entry::Occupied(e) => *e.get(),
                        Entry::Vacant(e) => {
                            let target = graph.add(id, Some(mv), depth as u16 + 1, step.node.is_final());
                            if keep_states {
                                next.push((target, step.node));
                            }
                            *e.insert(target)
                        }
                    };
                    graph.succ.push(target);
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        None
    }

    // ------------------------------------------------------------------ moves

    /// The moves worth proposing in `node`; the engine decides which are accepted.
    fn moves(&self, node: &Node, out: &mut Vec<Move>) {
        out.clear();
        match node.case() {
            None => {
                if self.consult.is_some() {
                    out.push(Move::Consult);
                }
                out.extend((0..self.submissions.len()).map(|i| Move::Submit(i as u16)));
            }
            Some(case) => self.case_moves(case, out),
        }
        for (slot, ticket) in node.engine.tickets().iter().enumerate() {
            let redo_left = node.redo.get(slot).copied().unwrap_or(0) < self.options.redo_max;
            ticket_moves(ticket, slot as u16, redo_left, out);
            if ticket.state != TicketState::Closed {
                // Tickets are independent of each other and of the case: only the lowest open
                // ticket acts (see the module documentation, "Reductions").
                break;
            }
        }
        if pending_timer(&self.def, node).is_some() {
            out.push(Move::Advance);
        }
    }

    fn case_moves(&self, case: &Case, out: &mut Vec<Move>) {
        use CaseState::*;
        let supplies = (0..case.outstanding.len()).map(|i| Move::Supply(i as u16));
        match case.state {
            Consulting => {
                out.extend((0..self.submissions.len()).map(|i| Move::Submit(i as u16)));
                out.push(Move::Withdraw);
            }
            Received => out.extend([
                Move::Accept,
                Move::AcceptTolerating,
                Move::RequestCorrection,
                Move::Reject,
                Move::Withdraw,
            ]),
            AwaitingCorrection => out.extend([Move::Resubmit, Move::Withdraw]),
            InApproval => {
                out.extend(supplies);
                for (p, task) in case.tasks.iter().enumerate() {
                    self.task_moves(p as u16, task, out);
                }
                // Offered before the case is decided so that the engine must refuse it.
                out.extend([Move::Deliver, Move::Withdraw]);
            }
            AwaitingCure | Suspended | ReadyForDelivery => {
                out.extend(supplies);
                out.extend([Move::Deliver, Move::Withdraw]);
            }
            Delivered => {
                out.extend([Move::Rate(5), Move::Rate(1)]);
                out.extend(supplies);
            }
            Closed | Rejected | Returned | Withdrawn | Revoked => {}
        }
    }

    fn task_moves(&self, p: u16, task: &Task, out: &mut Vec<Move>) {
        let m = |t| Move::Task(p, t);
        match task.state {
            TaskState::Ready => out.push(m(TaskMove::Claim)),
            TaskState::InReview => {
                let item = self.def.item(task.item);
                let departments = item.decided_by.departments().len().min(32);
                out.extend(
                    (0..departments).filter(|d| task.signed & (1 << d) == 0).map(|d| m(TaskMove::Approve(d as u8))),
                );
                out.extend([m(TaskMove::Deny), m(TaskMove::StartSpecialProcedure)]);
                if item.simulated_approval.is_some() {
                    out.push(m(TaskMove::ApproveSimulated));
                }
            }
            TaskState::SpecialProcedure(_) => out.push(m(TaskMove::EndSpecialProcedure)),
            TaskState::SimulatedApproved => out.extend([
                m(TaskMove::MeetPrecondition { facts_changed: false }),
                m(TaskMove::MeetPrecondition { facts_changed: true }),
            ]),
            TaskState::Waiting
            | TaskState::NotApplicable
            | TaskState::Approved
            | TaskState::Denied
            | TaskState::Cancelled
            | TaskState::Lapsed => {}
        }
    }

    // ------------------------------------------------------------------ commands

    /// The actor and the engine call of a move in `node`; `None` when nobody could issue it
    /// (e.g. the definition has no window of the class needed).
    fn command(&self, node: &Node, mv: Move) -> Option<(Actor, Action)> {
        let def = &*self.def;
        let case = node.case();
        let applicant = || self.applicant_actor.clone();
        Some(match mv {
            Move::Consult => {
                let applicant = self.applicant.clone();
                let bundle = def.bundle(self.bundle).id.clone();
                (self.consult.clone()?, Action::Open(Command::Consult { bundle, applicant }))
            }
            Move::Submit(i) => {
                let command = Command::Submit(Box::new(self.submissions[usize::from(i)].1.clone()));
                let actor = self.intake.clone().unwrap_or_else(applicant);
                (actor, if case.is_some() { Action::Case(command) } else { Action::Open(command) })
            }
            Move::Accept => (self.intake.clone()?, Action::Case(Command::Accept)),
            Move::AcceptTolerating => {
                let cal = def.calendar();
                let cure_due = self.accepted(
                    cal.add_working_days(node.now.date(), def.bundle(self.bundle).promised_days)
                        .map_err(Rejection::from),
                )?;
                (self.intake.clone()?, Action::Case(Command::AcceptTolerating { cure_due }))
            }
            Move::RequestCorrection => (self.intake.clone()?, Action::Case(Command::RequestCorrection)),
            Move::Reject => {
                let reason = "不符合受理条件 (checker)".to_owned();
                (self.intake.clone()?, Action::Case(Command::Reject { reason }))
            }
            Move::Resubmit => (applicant(), Action::Case(Command::Resubmit { materials: case?.correction.clone() })),
            Move::Supply(i) => {
                let material = case?.outstanding.get(usize::from(i))?.clone();
                (applicant(), Action::Case(Command::Supply { material }))
            }
            Move::Task(p, t) => self.task_command(case?, usize::from(p), t)?,
            Move::Deliver => {
                (self.delivery.clone()?, Action::Case(Command::Deliver { method: DeliveryMethod::Window }))
            }
            Move::Rate(stars) => (applicant(), Action::Case(Command::Rate { stars })),
            Move::Withdraw => (applicant(), Action::Case(Command::Withdraw)),
            Move::Ticket(slot, t) => self.ticket_command(node, usize::from(slot), t)?,
            Move::Advance => (Actor::system(), Action::Advance),
        })
    }

    fn task_command(&self, case: &Case, p: usize, t: TaskMove) -> Option<(Actor, Action)> {
        let task = case.tasks.get(p)?;
        let departments = self.def.item(task.item).decided_by.departments();
        let department = match t {
            TaskMove::Approve(d) => *departments.get(usize::from(d))?,
            _ => *departments.first()?,
        };
        let action = match t {
            TaskMove::Claim => TaskCommand::Claim,
            TaskMove::Approve(_) => TaskCommand::Approve,
            TaskMove::Deny => TaskCommand::Deny { reason: "不符合许可条件 (checker)".into() },
            TaskMove::StartSpecialProcedure => {
                TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::ExpertReview }
            }
            TaskMove::EndSpecialProcedure => TaskCommand::EndSpecialProcedure,
            TaskMove::ApproveSimulated => TaskCommand::ApproveSimulated,
            TaskMove::MeetPrecondition { facts_changed } => TaskCommand::MeetPrecondition { facts_changed },
        };
        let command = Command::Task { item: task.item_id.clone(), action };
        Some((self.reviewers[department.index()].clone(), Action::Case(command)))
    }

    fn ticket_command(&self, node: &Node, slot: usize, t: TicketMove) -> Option<(Actor, Action)> {
        let ticket = node.engine.tickets().get(slot)?;
        let department = self.def.department_ix(&ticket.department)?.index();
        let text = |s: &str| format!("{s} (checker)");
        let command = match t {
            TicketMove::FixNow => TicketCommand::FixNow,
            TicketMove::Ledger => {
                let days = self.def.policies().ticket_rectify_max_days;
                let deadline = self
                    .accepted(self.def.calendar().add_working_days(node.now.date(), days).map_err(Rejection::from))?;
                TicketCommand::Ledger { deadline }
            }
            TicketMove::Explain => TicketCommand::Explain { basis: text("解释说明") },
            TicketMove::Appeal => TicketCommand::Appeal { reason: text("申诉") },
            TicketMove::SubmitRectification => {
                TicketCommand::SubmitRectification { measures: text("整改措施"), evidence: text("整改证据") }
            }
            TicketMove::Pass => TicketCommand::Pass,
            TicketMove::Fail => TicketCommand::Fail { kind: FailKind::Superficial },
            TicketMove::UpholdAppeal => TicketCommand::UpholdAppeal,
            TicketMove::FeedBack => TicketCommand::FeedBack { message: text("反馈") },
            TicketMove::FollowUp { satisfied } => TicketCommand::FollowUp { satisfied },
        };
        let supervision =
            matches!(t, TicketMove::Pass | TicketMove::Fail | TicketMove::UpholdAppeal | TicketMove::FollowUp { .. });
        let actor =
            if supervision { self.supervisors[department].clone()? } else { self.reviewers[department].clone() };
        Some((actor, Action::Ticket(ticket.id, command)))
    }

    /// Counts a move cut short by the calendar, keeping the first one's description.
    fn note_calendar(&self, describe: impl FnOnce() -> String) {
        // Described before borrowing: describing a move may consult the calendar again.
        let text = self.calendar.borrow().1.is_none().then(describe);
        let mut calendar = self.calendar.borrow_mut();
        calendar.0 += 1;
        if calendar.1.is_none() {
            calendar.1 = text;
        }
    }

    /// The engine's answer as an option, counting a refusal for lack of calendar.
    fn accepted<T>(&self, result: Result<T, Rejection>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(Rejection::Calendar(e)) => {
                self.note_calendar(|| e.to_string());
                None
            }
            Err(_) => None,
        }
    }

    /// Applies `mv` to a copy of `node`: the step, or `None` if the engine rejects it (a
    /// refusal for lack of calendar is counted: it makes the check incomplete).
    fn step(&self, node: &Node, mv: Move) -> Option<Step> {
        let (actor, action) = self.command(node, mv)?;
        let ctx = Ctx { now: node.now, actor: &actor };
        // The pure `decide` screens out rejected commands before the node is copied; `execute`
        // decides again and is the authority.
        let (mut next, events, at) = match action {
            Action::Open(command) => {
                let mut next = node.clone();
                let (_, events) = self.accepted(next.engine.open(command, &ctx))?;
                (next, events, node.now)
            }
            Action::Case(command) => {
                let case = node.case()?;
                self.accepted(case.decide(&self.def, &command, &ctx))?;
                let mut next = node.clone();
                let events = self.accepted(next.engine.execute(case.id, command, &ctx))?;
                (next, events, node.now)
            }
            Action::Ticket(id, command) => {
                self.accepted(node.engine.ticket(id)?.decide(&self.def, &command, &ctx))?;
                let mut next = node.clone();
                let events = self.accepted(next.engine.execute_ticket(id, &command, &ctx))?;
                (next, events, node.now)
            }
            Action::Advance => {
                let mut next = node.clone();
                let due = next.engine.next_deadline()?;
                let events = next.engine.advance_to(due);
                next.now = next.now.max(due);
                (next, events, due)
            }
        };
        let unsupervised = fold_tickets(&mut next, &events);
        Some(Step { node: next, events, actor, at, unsupervised })
    }

    // ------------------------------------------------------------------ invariants

    /// Invariants 1–5 after `step` from `before`.
    fn verify(&self, before: &Node, step: &Step) -> Option<(Invariant, String)> {
        let def = &*self.def;
        if let Some(message) = &step.unsupervised {
            return Some((Invariant::Supervision, message.clone()));
        }
        if let Some(message) = one_ticket_per_trigger(&step.events) {
            return Some((Invariant::OneTicketPerTrigger, message));
        }
        let case = step.node.case()?;
        if let Some(message) = task_order(def, case) {
            return Some((Invariant::TaskOrder, message));
        }
        let delivered = step.events.iter().any(|r| matches!(r.event, Event::Delivered { .. }));
        if delivered && let Some(message) = delivery(def, case) {
            return Some((Invariant::Delivery, message));
        }
        debug_assert!(before.now <= step.node.now, "the clock never goes back");
        deadlines(def, case).map(|message| (Invariant::Deadlines, message))
    }

    fn liveness_violation(&self, graph: &Graph, id: u32) -> Violation {
        let trace = self.trace(&graph.path(id));
        let start = graph.succ_start[id as usize] as usize;
        let end = graph.succ_start[id as usize + 1] as usize;
        let mut node = self.root();
        for mv in graph.path(id) {
            node = self.step(&node, mv).expect("an explored path replays").node;
        }
        let what = describe_state(&node);
        let message = if start == end {
            format!("deadlock: no command or timer is possible in this state ({what}), and it is not final")
        } else {
            format!(
                "no final state is reachable from this state ({what}): every path from it stays among states \
                 that are not final (a cycle without exit)"
            )
        };
        Violation { invariant: Invariant::Liveness, message, trace }
    }

    // ------------------------------------------------------------------ traces

    /// Replays `path` from the initial state.
    fn trace(&self, path: &[Move]) -> Vec<TraceStep> {
        let mut node = self.root();
        let mut out = Vec::with_capacity(path.len());
        for &mv in path {
            let step = self.step(&node, mv).expect("an explored path replays");
            let next = step.node.clone();
            out.push(self.trace_step(&node, mv, step));
            node = next;
        }
        out
    }

    fn trace_step(&self, node: &Node, mv: Move, step: Step) -> TraceStep {
        TraceStep { at: step.at, actor: step.actor, command: self.describe(node, mv), events: step.events }
    }

    /// A move as text, in the state it is applied to.
    fn describe(&self, node: &Node, mv: Move) -> String {
        let def = &*self.def;
        let case = node.case();
        let item = |p: u16| case.and_then(|c| c.tasks.get(usize::from(p))).map_or("?", |t| t.item_id.as_str());
        let ticket = |slot: u16| TicketId(u64::from(slot) + 1);
        match mv {
            Move::Consult => format!("consult {}", def.bundle(self.bundle).id),
            Move::Submit(i) => {
                format!("submit {} with {}", def.bundle(self.bundle).id, self.submissions[usize::from(i)].0)
            }
            Move::Accept => "accept".into(),
            Move::AcceptTolerating => match self.command(node, mv) {
                Some((_, Action::Case(Command::AcceptTolerating { cure_due }))) => {
                    format!("accept_tolerating, cure due {cure_due}")
                }
                _ => "accept_tolerating".into(),
            },
            Move::RequestCorrection => "request_correction".into(),
            Move::Reject => "reject".into(),
            Move::Resubmit => format!("resubmit {}", ids(case.map_or(&[][..], |c| &c.correction))),
            Move::Supply(i) => {
                format!("supply {}", case.and_then(|c| c.outstanding.get(usize::from(i))).map_or("?", |m| m.as_str()))
            }
            Move::Task(p, t) => describe_task(def, case, item(p), p, t),
            Move::Deliver => "deliver at the window".into(),
            Move::Rate(stars) => format!("rate {stars}"),
            Move::Withdraw => "withdraw".into(),
            Move::Ticket(slot, t) => format!("{} {}", ticket_move_name(t), ticket(slot)),
            Move::Advance => match pending_timer(def, node) {
                Some(due) => format!("advance to {due}"),
                None => "advance".into(),
            },
        }
    }

    // ------------------------------------------------------------------ state key

    /// The canonical key of a state (see the module documentation).
    fn key(&self, node: &Node, writer: &mut KeyWriter) -> u128 {
        writer.clear();
        // Every field of the case and its tickets is plain data: serializing cannot fail.
        if let Some(case) = node.case() {
            let _ = case.serialize(&mut *writer);
        }
        for ticket in node.engine.tickets() {
            let _ = ticket.serialize(&mut *writer);
        }
        writer.bytes.extend(node.supervised.iter().map(|&s| u8::from(s)));
        writer.bytes.extend_from_slice(&node.redo);
        write_timer_order(&self.def, node, &mut writer.bytes);
        hash128(&writer.bytes)
    }
}

// ---------------------------------------------------------------------- setup helpers

/// Half an hour after opening (or mid-period, if shorter) on the first working day of the
/// calendar's first year.
fn default_start(def: &Definition) -> Instant {
    let cal = def.calendar();
    let (first_year, _) = cal.covered_years();
    let january = Date::from_ymd(first_year, 1, 1).expect("January 1st exists");
    let day = cal.next_working_day(january).unwrap_or(january);
    let period = cal.office_periods()[0];
    day.at_minute(period.open + (period.close - period.open).min(60) / 2)
}

/// The submissions to explore: each answer set × {every material, tolerable missing, a required
/// material missing}.
fn submissions(def: &Definition, bundle: &Bundle, applicant: &Applicant) -> Vec<(String, Submission)> {
    let mut out = Vec::new();
    for answers in answer_sets(def, bundle) {
        let applies = bundle.applicable(def, &answers);
        let materials: Vec<(Id, MaterialNeed)> = bundle
            .materials_for(def, &applies)
            .into_iter()
            .filter(|(m, _)| def.material(*m).shared_source.is_none())
            .map(|(m, need)| (def.material(m).id.clone(), need))
            .collect();
        let all: Vec<Id> = materials.iter().map(|(m, _)| m.clone()).collect();
        let mut variants = vec![("every material".to_owned(), all.clone())];
        let tolerable: Vec<Id> =
            materials.iter().filter(|(_, n)| *n == MaterialNeed::Tolerable).map(|(m, _)| m.clone()).collect();
        if !tolerable.is_empty() {
            let kept = all.iter().filter(|m| !tolerable.contains(m)).cloned().collect();
            variants.push((format!("tolerable materials missing ({})", ids(&tolerable)), kept));
        }
        if let Some((required, _)) = materials.iter().find(|(_, n)| *n == MaterialNeed::Required) {
            let kept = all.iter().filter(|m| *m != required).cloned().collect();
            variants.push((format!("required material missing ({required})"), kept));
        }
        let answered: Vec<String> = answers.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let suffix = if answered.is_empty() { String::new() } else { format!(", answers {}", answered.join(" ")) };
        let answers = crate::Answers::new(answers);
        for (label, materials) in variants {
            let submission = Submission {
                bundle: bundle.id.clone(),
                applicant: applicant.clone(),
                channel: crate::definition::Channel::Window,
                materials: materials.into(),
                answers: answers.clone(),
                green_channel: bundle.green_channel_eligible(def),
            };
            out.push((format!("{label}{suffix}"), submission));
        }
    }
    out
}

/// Every combination of answers to the bundle's condition fields: for each field, each value a
/// condition asks for and one value none asks for (unanswered when the field offers none).
fn answer_sets(def: &Definition, bundle: &Bundle) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut fields: Vec<(crate::definition::FieldIx, Vec<Option<String>>)> = Vec::new();
    for condition in bundle.members.iter().filter_map(|m| m.when.as_ref()) {
        let position = match fields.iter().position(|(f, _)| *f == condition.field) {
            Some(p) => p,
            None => {
                fields.push((condition.field, Vec::new()));
                fields.len() - 1
            }
        };
        let values = &mut fields[position].1;
        if !values.contains(&Some(condition.equals.clone())) {
            values.push(Some(condition.equals.clone()));
        }
    }
    for (field, values) in &mut fields {
        let other = def.field(*field).choices.iter().find(|c| !values.contains(&Some((*c).clone())));
        values.push(other.cloned());
    }
    let mut sets = vec![std::collections::BTreeMap::new()];
    for (field, values) in &fields {
        let id = def.field(*field).id.to_string();
        let mut grown = Vec::new();
        for set in &sets {
            for value in values {
                let mut set = set.clone();
                if let Some(v) = value {
                    set.insert(id.clone(), v.clone());
                }
                grown.push(set);
            }
        }
        grown.truncate(ANSWER_SETS_MAX);
        sets = grown;
    }
    sets
}

fn ids(list: &[Id]) -> String {
    list.iter().map(Id::as_str).collect::<Vec<_>>().join(", ")
}

fn ticket_moves(ticket: &Ticket, slot: u16, redo_left: bool, out: &mut Vec<Move>) {
    let m = |t| Move::Ticket(slot, t);
    match ticket.state {
        TicketState::Verifying => {
            out.extend([m(TicketMove::FixNow), m(TicketMove::Ledger), m(TicketMove::Explain), m(TicketMove::Appeal)])
        }
        TicketState::Rectifying => out.push(m(TicketMove::SubmitRectification)),
        TicketState::AwaitingSupervision => {
            out.extend([m(TicketMove::Pass), m(TicketMove::UpholdAppeal)]);
            if redo_left {
                out.push(m(TicketMove::Fail));
            }
        }
        TicketState::FeedingBack => out.push(m(TicketMove::FeedBack)),
        TicketState::FollowUp => {
            out.push(m(TicketMove::FollowUp { satisfied: true }));
            if redo_left {
                out.push(m(TicketMove::FollowUp { satisfied: false }));
            }
        }
        TicketState::Closed => {}
    }
}

fn ticket_move_name(t: TicketMove) -> &'static str {
    match t {
        TicketMove::FixNow => "fix_now",
        TicketMove::Ledger => "ledger",
        TicketMove::Explain => "explain",
        TicketMove::Appeal => "appeal",
        TicketMove::SubmitRectification => "submit_rectification",
        TicketMove::Pass => "pass",
        TicketMove::Fail => "fail",
        TicketMove::UpholdAppeal => "uphold_appeal",
        TicketMove::FeedBack => "feed_back",
        TicketMove::FollowUp { satisfied: true } => "follow_up (satisfied)",
        TicketMove::FollowUp { satisfied: false } => "follow_up (unsatisfied)",
    }
}

fn describe_task(def: &Definition, case: Option<&Case>, item: &str, p: u16, t: TaskMove) -> String {
    match t {
        TaskMove::Claim => format!("claim {item}"),
        TaskMove::Approve(d) => {
            let task = case.and_then(|c| c.tasks.get(usize::from(p)));
            let departments = task.map_or(&[][..], |t| def.item(t.item).decided_by.departments());
            match departments.get(usize::from(d)) {
                Some(&dept) if departments.len() > 1 => {
                    format!("approve {item} (signs for {})", def.department(dept).id)
                }
                _ => format!("approve {item}"),
            }
        }
        TaskMove::Deny => format!("deny {item}"),
        TaskMove::StartSpecialProcedure => format!("start_special_procedure {item} (expert review)"),
        TaskMove::EndSpecialProcedure => format!("end_special_procedure {item}"),
        TaskMove::ApproveSimulated => format!("approve_simulated {item}"),
        TaskMove::MeetPrecondition { facts_changed: false } => format!("meet_precondition {item} (facts unchanged)"),
        TaskMove::MeetPrecondition { facts_changed: true } => format!("meet_precondition {item} (facts changed)"),
    }
}

fn describe_state(node: &Node) -> String {
    let mut out = match node.case() {
        Some(case) => {
            let open: Vec<String> = case
                .tasks
                .iter()
                .filter(|t| !t.state.is_terminal())
                .map(|t| format!("{} {}", t.item_id, t.state.name()))
                .collect();
            let tasks = if open.is_empty() { String::new() } else { format!(" with {}", open.join(", ")) };
            format!("case {}{tasks}", case.state.name())
        }
        None => "no case".into(),
    };
    for ticket in node.engine.tickets().iter().filter(|t| t.state != TicketState::Closed) {
        let _ = write!(out, "; ticket {} {}", ticket.id, ticket.state.name());
    }
    out
}

// ---------------------------------------------------------------------- timers and keys

/// The earliest pending timer of the case or a ticket (what [`Engine::next_deadline`] returns).
fn pending_timer(def: &Definition, node: &Node) -> Option<Instant> {
    let case = node.case().and_then(|c| c.next_deadline(def));
    let tickets = node.engine.tickets().iter().filter_map(Ticket::next_deadline);
    case.into_iter().chain(tickets).min()
}

/// Appends the pending timers in firing order, each as rank, kind, index and whether it is
/// already due; equal instants share a rank.
fn write_timer_order(def: &Definition, node: &Node, out: &mut Vec<u8>) {
    let mut timers: Vec<(Instant, u8, usize)> = Vec::new();
    if let Some(case) = node.case() {
        for (at, timer) in case.timers(def) {
            let (kind, index) = match timer {
                Timer::DeemedAcceptance => (0, 0),
                Timer::CaseSla => (1, 0),
                Timer::TaskSla(p) => (2, p),
                Timer::SimulationLapse(p) => (3, p),
                Timer::CureDue => (4, 0),
                Timer::GraceOver => (5, 0),
                Timer::DefaultRating => (6, 0),
            };
            timers.push((at, kind, index));
        }
    }
    for (slot, ticket) in node.engine.tickets().iter().enumerate() {
        if let Some(at) = ticket.next_deadline() {
            timers.push((at, 7, slot));
        }
    }
    timers.sort_unstable();
    let mut rank = 0u32;
    let mut previous = None;
    out.push(0xfe);
    for (at, kind, index) in timers {
        if previous != Some(at) {
            rank += 1;
            previous = Some(at);
        }
        out.extend_from_slice(&rank.to_le_bytes());
        out.extend_from_slice(&[kind, u8::from(at <= node.now)]);
        out.extend_from_slice(&(index as u32).to_le_bytes());
    }
}

/// Whether `s` is a date (`YYYY-MM-DD`) or an instant (`YYYY-MM-DDTHH:MM`) as serialized.
fn is_time_literal(s: &[u8]) -> bool {
    const INSTANT: &[u8] = b"0000-00-00T00:00";
    (s.len() == 10 || s.len() == INSTANT.len())
        && s.iter().zip(INSTANT).all(|(c, p)| if *p == b'0' { c.is_ascii_digit() } else { c == p })
}

fn hash128(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// A serde serializer that writes a compact binary form of a value for the state key: field
/// names are left out (the order is fixed by the type), `version` fields are skipped and every
/// date or instant becomes one marker byte. Much faster than a text format, and it sees every
/// field the core adds.
#[derive(Debug, Default)]
struct KeyWriter {
    bytes: Vec<u8>,
    scratch: String,
}

/// The state keys are already hashes: the map uses their low bits as they are.
#[derive(Debug, Clone, Copy, Default)]
struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// See [`KeyHash`].
#[derive(Debug)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// Tags that keep the encoding unambiguous.
const TAG_TIME: u8 = 0xf0;
const TAG_STR: u8 = 0xf1;
const TAG_NONE: u8 = 0xf2;
const TAG_SOME: u8 = 0xf3;
const TAG_SEQ: u8 = 0xf4;
const TAG_END: u8 = 0xf5;
const TAG_UNIT: u8 = 0xf6;

impl KeyWriter {
    fn clear(&mut self) {
        self.bytes.clear();
    }

    fn str(&mut self, s: &str) {
        if is_time_literal(s.as_bytes()) {
            self.bytes.push(TAG_TIME);
        } else {
            self.bytes.push(TAG_STR);
            self.bytes.extend_from_slice(&(s.len() as u32).to_le_bytes());
            self.bytes.extend_from_slice(s.as_bytes());
        }
    }

    /// Starts a sequence or map with its length, so that no element can be mistaken for its end.
    fn len(&mut self, len: Option<usize>) {
        self.bytes.push(TAG_SEQ);
        let len = len.map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX - 1));
        self.bytes.extend_from_slice(&len.to_le_bytes());
    }

    fn int(&mut self, v: i128) {
        self.bytes.extend_from_slice(&(v as i64).to_le_bytes());
    }
}

/// The key writer's error: never produced by the core's plain data.
#[derive(Debug)]
struct KeyError;

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a state could not be encoded")
    }
}

impl std::error::Error for KeyError {}

impl serde::ser::Error for KeyError {
    fn custom<T: std::fmt::Display>(_: T) -> KeyError {
        KeyError
    }
}

impl serde::Serializer for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), KeyError> {
        self.bytes.push(u8::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), KeyError> {
        self.int(v.into());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), KeyError> {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), KeyError> {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), KeyError> {
        self.int(u32::from(v).into());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), KeyError> {
        self.str(v);
        Ok(())
    }
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), KeyError> {
        // Dates and instants serialize through `collect_str`; recognising them by type spares
        // formatting them (the key's main cost otherwise). Anything else is formatted.
        let name = std::any::type_name::<T>();
        if name == std::any::type_name::<Instant>() || name == std::any::type_name::<Date>() {
            self.bytes.push(TAG_TIME);
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value}");
        self.str(&scratch);
        self.scratch = scratch;
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), KeyError> {
        self.bytes.push(TAG_STR);
        self.bytes.extend_from_slice(&(v.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), KeyError> {
        self.bytes.push(TAG_SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), KeyError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> Result<(), KeyError> {
        self.int(index.into());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), KeyError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.int(index.into());
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, KeyError> {
        self.len(len);
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, KeyError> {
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, KeyError> {
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
    fn serialize_tuple_variant(self, _: &'static str, index: u32, _: &'static str, _: usize) -> Result<Self, KeyError> {
        self.int(index.into());
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, KeyError> {
        self.len(len);
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, KeyError> {
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, KeyError> {
        self.int(index.into());
        self.bytes.push(TAG_SEQ);
        Ok(self)
    }
}

impl serde::ser::SerializeSeq for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeTuple for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeTupleStruct for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeTupleVariant for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeMap for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), KeyError> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeStruct for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), KeyError> {
        // Stream versions count events: two paths to the same state differ in length, not in state.
        if name == "version" { Ok(()) } else { value.serialize(&mut **self) }
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

impl serde::ser::SerializeStructVariant for &mut KeyWriter {
    type Ok = ();
    type Error = KeyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), KeyError> {
        if name == "version" { Ok(()) } else { value.serialize(&mut **self) }
    }
    fn end(self) -> Result<(), KeyError> {
        self.bytes.push(TAG_END);
        Ok(())
    }
}

// ---------------------------------------------------------------------- invariants

/// Folds the ticket events of a step into the checker's bookkeeping; returns a violation of
/// invariant 1 if a ticket closed without an eligible supervision decision after its last
/// submission.
fn fold_tickets(node: &mut Node, events: &[Recorded]) -> Option<String> {
    let Node { engine, supervised, redo, .. } = node;
    let tickets = engine.tickets();
    supervised.resize(tickets.len(), false);
    redo.resize(tickets.len(), 0);
    let mut violation = None;
    for rec in events {
        let StreamId::Ticket(id) = rec.stream else { continue };
        let slot = (id.0 as usize).wrapping_sub(1);
        let Some(ticket) = tickets.get(slot) else { continue };
        match &rec.event {
            Event::TicketSubmitted { .. } => supervised[slot] = false,
            Event::TicketPassed | Event::TicketAppealUpheld => {
                let eligible =
                    matches!(&rec.by.role, Role::Supervisor { department } if *department != ticket.department);
                supervised[slot] |= eligible;
            }
            Event::TicketFailed { .. } | Event::TicketReopened { .. } => redo[slot] = redo[slot].saturating_add(1),
            _ => {}
        }
        let closes = matches!(rec.event, Event::TicketClosed | Event::TicketAppealUpheld);
        if closes && !supervised[slot] && violation.is_none() {
            violation = Some(format!(
                "{id} (source {}, responsible {dept}) reached Closed ({} recorded by {}) without a pass or \
                 uphold_appeal by a supervisor outside {dept} after its last submission",
                ticket.source.kind(),
                rec.event.name(),
                rec.by.describe(),
                dept = ticket.department,
            ));
        }
    }
    violation
}

/// Invariant 2 on the events of one step: the bad ratings and overdue clocks recorded, and the
/// tickets opened for them, must match one to one.
fn one_ticket_per_trigger(events: &[Recorded]) -> Option<String> {
    let mut triggers: Vec<String> = Vec::new();
    let mut opened: Vec<String> = Vec::new();
    let overdue = |case: &dyn std::fmt::Display, item: Option<&Id>| match item {
        Some(item) => format!("the overdue task `{item}` of {case}"),
        None => format!("the overdue case {case}"),
    };
    for rec in events {
        match (&rec.event, rec.stream) {
            (Event::Rated { stars, .. }, StreamId::Case(case)) if *stars <= 2 => {
                triggers.push(format!("the bad rating ({stars} stars) of {case}"))
            }
            (Event::SlaLevelChanged { subject, level: SlaLevel::Overdue }, StreamId::Case(case)) => {
                let item = match subject {
                    SlaSubject::Case => None,
                    SlaSubject::Task(item) => Some(item),
                };
                triggers.push(overdue(&case, item));
            }
            (Event::TicketOpened { source: TicketSource::BadRating { case, stars }, .. }, _) => {
                opened.push(format!("the bad rating ({stars} stars) of {case}"))
            }
            (Event::TicketOpened { source: TicketSource::Overdue { case, item }, .. }, _) => {
                opened.push(overdue(case, item.as_ref()))
            }
            _ => {}
        }
    }
    triggers.sort();
    opened.sort();
    if triggers == opened {
        return None;
    }
    let mut all = triggers.clone();
    all.extend(opened.iter().cloned());
    all.sort();
    all.dedup();
    all.into_iter().find_map(|what| {
        let (t, o) = (triggers.iter().filter(|x| **x == what).count(), opened.iter().filter(|x| **x == what).count());
        (t != o).then(|| format!("{what} was recorded {t} time(s) but opened {o} ticket(s); each opens exactly one"))
    })
}

/// Invariant 3 on the state of the case.
fn task_order(def: &Definition, case: &Case) -> Option<String> {
    let started = |s: TaskState| !matches!(s, TaskState::Waiting | TaskState::NotApplicable | TaskState::Cancelled);
    let bundle = def.bundle(case.bundle);
    for (m, task) in case.tasks.iter().enumerate() {
        if started(task.state) {
            for p in task.waits_for.iter() {
                let pred = case.tasks.get(p)?;
                if pred.state != TaskState::Approved {
                    return Some(format!(
                        "task `{}` is {} although its predecessor `{}` is {}: a task starts only after all its \
                         predecessors are approved",
                        task.item_id,
                        task.state.name(),
                        pred.item_id,
                        pred.state.name()
                    ));
                }
            }
            if let Some(message) = stage_started_early(bundle, case, m) {
                return Some(message);
            }
        }
        if case.state == CaseState::InApproval
            && task.state == TaskState::Waiting
            && let Some(p) = task.waits_for.iter().find(|&p| case.tasks[p].state.is_failed())
        {
            return Some(format!(
                "task `{}` still waits for `{}`, which is {}: dependents of a failed task are cancelled",
                task.item_id,
                case.tasks[p].item_id,
                case.tasks[p].state.name()
            ));
        }
    }
    let open = case.tasks.iter().find(|t| !t.state.is_terminal());
    match (case.state, open) {
        (CaseState::InApproval, None) => {
            Some("every task is terminal but the case is still InApproval: it must be decided".into())
        }
        (state, Some(task)) if case.outcome.is_some() || state.is_final() => Some(format!(
            "the case is {} (outcome {:?}) while task `{}` is still {} (an orphan task)",
            state.name(),
            case.outcome,
            task.item_id,
            task.state.name()
        )),
        _ => None,
    }
}

fn stage_started_early(bundle: &Bundle, case: &Case, member: usize) -> Option<String> {
    let k = bundle.members[member].stage.filter(|&k| k > 0)?;
    let previous = &bundle.stages[k - 1];
    let approved = previous.milestones.iter().filter(|&&p| case.tasks[p].state == TaskState::Approved).count();
    let open = match previous.rule {
        MilestoneRule::All => approved == previous.milestones.len(),
        MilestoneRule::Any => approved > 0,
    };
    (!open).then(|| {
        format!(
            "task `{}` is {} before stage `{}` is complete ({approved} of {} milestones approved, rule {:?})",
            case.tasks[member].item_id,
            case.tasks[member].state.name(),
            previous.id,
            previous.milestones.len(),
            previous.rule
        )
    })
}

/// Invariant 4 at a delivery: every material an issued item needs is present (handed in,
/// supplied or shared), except tolerated ones of items that may issue before cure.
fn delivery(def: &Definition, case: &Case) -> Option<String> {
    if case.outcome == Some(Outcome::Denied) {
        return None; // a denial issues nothing that a material could be missing for
    }
    for task in case.tasks.iter().filter(|t| t.state != TaskState::NotApplicable) {
        let item = def.item(task.item);
        for &(m, need) in &item.materials {
            let present = case.materials.binary_search(&m).is_ok() || def.material(m).shared_source.is_some();
            let held = need == MaterialNeed::Required || (need == MaterialNeed::Tolerable && !item.issue_before_cure);
            if held && !present {
                return Some(format!(
                    "results were delivered while `{}` ({need:?} for `{}`, issue_before_cure = {}) is missing",
                    def.material(m).id,
                    item.id,
                    item.issue_before_cure
                ));
            }
        }
    }
    None
}

/// Invariant 5 on every running clock of the case.
fn deadlines(def: &Definition, case: &Case) -> Option<String> {
    if let Some(message) = case.sla.as_ref().filter(|s| !s.stopped).and_then(|s| deadline_problem(def, s)) {
        return Some(format!("the deadline of the case {message}"));
    }
    case.tasks.iter().find_map(|task| {
        let sla = task.sla.as_ref().filter(|s| !s.stopped)?;
        deadline_problem(def, sla).map(|message| format!("the deadline of task `{}` {message}", task.item_id))
    })
}

fn deadline_problem(def: &Definition, sla: &Sla) -> Option<String> {
    let cal = def.calendar();
    let deadline = match sla.deadline(cal) {
        Ok(d) => d,
        Err(e) => return Some(format!("cannot be computed: {e}")),
    };
    let worked = match cal.working_minutes_between(sla.start, deadline) {
        Ok(w) => w,
        Err(e) => return Some(format!("({deadline}) cannot be measured: {e}")),
    };
    if worked != sla.budget_minutes + sla.paused_minutes {
        return Some(format!(
            "({deadline}) lies {worked} working minutes after its start {}, not budget {} + paused {}",
            sla.start, sla.budget_minutes, sla.paused_minutes
        ));
    }
    if !cal.is_working_day(deadline.date()).unwrap_or(false) {
        return Some(format!("({deadline}) falls on a day off"));
    }
    let minute = deadline.minute_of_day();
    if !cal.office_periods().iter().any(|p| p.open < minute && minute <= p.close) {
        return Some(format!("({deadline}) falls outside office hours"));
    }
    // The timer that raises the level: the overdue one fires at the deadline, the warning one
    // before it, and a paused clock has none.
    let next = sla.next_deadline();
    let fits = match (sla.paused_since, sla.level) {
        (Some(_), _) | (None, SlaLevel::Overdue) => next.is_none(),
        (None, SlaLevel::Warning) => next == Some(deadline),
        (None, SlaLevel::Normal) => next.is_some_and(|t| t >= sla.start && t <= deadline),
    };
    if !fits {
        let next = next.map_or_else(|| "none".to_owned(), |t| t.to_string());
        return Some(format!(
            "({deadline}) does not match the clock's next level change ({next}) at level {:?}{}",
            sla.level,
            if sla.paused_since.is_some() { ", paused" } else { "" }
        ));
    }
    None
}

/// Over the explored graph: how many expanded states reach only cut-off states (unknown), and
/// the first (shallowest) expanded state that reaches neither a final nor a cut-off state.
fn liveness(graph: &Graph) -> (usize, Option<u32>) {
    let n = graph.len();
    let expanded = graph.expanded();
    // Reverse edges in compressed form.
    let mut start = vec![0u32; n + 1];
    for &t in &graph.succ {
        start[t as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut pred = vec![0u32; graph.succ.len()];
    for from in 0..expanded {
        for &to in &graph.succ[graph.succ_start[from] as usize..graph.succ_start[from + 1] as usize] {
            pred[fill[to as usize] as usize] = from as u32;
            fill[to as usize] += 1;
        }
    }
    let reach = |seed: &dyn Fn(usize) -> bool| {
        let mut mark: Vec<bool> = (0..n).map(seed).collect();
        let mut queue: Vec<u32> = (0..n as u32).filter(|&i| mark[i as usize]).collect();
        while let Some(v) = queue.pop() {
            for &u in &pred[start[v as usize] as usize..start[v as usize + 1] as usize] {
                if !mark[u as usize] {
                    mark[u as usize] = true;
                    queue.push(u);
                }
            }
        }
        mark
    };
    let good = reach(&|i| graph.is_final[i]);
    let open = reach(&|i| i >= expanded && !graph.is_final[i]);
    let unknown = (0..expanded).filter(|&i| !good[i] && open[i]).count();
    let stuck = (0..expanded).find(|&i| !good[i] && !open[i]).map(|i| i as u32);
    (unknown, stuck)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph with `edges[i]` the successors of state `i` for the first `edges.len()` states
    /// (expanded) and `states` states in all.
    fn graph(edges: &[&[u32]], states: usize, finals: &[u32]) -> Graph {
        let mut g = Graph::default();
        for i in 0..states {
            g.add(0, None, 0, finals.contains(&(i as u32)));
        }
        for succ in edges {
            g.succ_start.push(g.succ.len() as u32);
            g.succ.extend_from_slice(succ);
        }
        g.succ_start.push(g.succ.len() as u32);
        g
    }

    #[test]
    fn liveness_tells_final_unknown_and_stuck_states_apart() {
        // 0 → 1 (final), 2 (loops on itself: a cycle without exit), 3 → 4 (cut off at the bound).
        let g = graph(&[&[1, 2, 3], &[], &[2], &[4]], 5, &[1]);
        assert_eq!(g.expanded(), 4);
        let (unknown, stuck) = liveness(&g);
        assert_eq!(unknown, 1, "state 3 reaches only the cut-off state 4");
        assert_eq!(stuck, Some(2));
        // A deadlock: a non-final state without successors.
        let g = graph(&[&[1, 2], &[], &[]], 3, &[1]);
        assert_eq!(liveness(&g), (0, Some(2)));
        // Everything can finish.
        let g = graph(&[&[1, 2], &[], &[1]], 3, &[1]);
        assert_eq!(liveness(&g), (0, None));
    }

    #[test]
    fn time_literals_are_recognised_exactly() {
        for yes in ["2025-01-02", "2025-01-02T09:30"] {
            assert!(is_time_literal(yes.as_bytes()), "{yes}");
        }
        for no in ["2025-1-02", "2025-01-02T9:30", "2025-01-02 09:30", "licence", "", "2025-01-02T09:30Z"] {
            assert!(!is_time_literal(no.as_bytes()), "{no}");
        }
    }

    fn hall() -> Definition {
        Definition::from_ron(include_str!("../tests/data/hall.ron"), "hall.ron").expect("the test hall is valid")
    }

    fn recorded(stream: StreamId, event: Event) -> Recorded {
        let at = "2025-01-02T09:30".parse().unwrap();
        Recorded { v: crate::event::EVENT_SCHEMA_VERSION, stream, seq: 1, at, by: Actor::system(), event }
    }

    #[test]
    fn a_bad_rating_must_open_exactly_one_ticket() {
        let case = crate::event::CaseId(1);
        let rated = recorded(case.into(), Event::Rated { stars: 1, by_default: false });
        let opened = recorded(
            TicketId(1).into(),
            Event::TicketOpened {
                source: TicketSource::BadRating { case, stars: 1 },
                department: Id::new("market"),
                window: None,
                deadline: None,
            },
        );
        assert_eq!(one_ticket_per_trigger(&[rated.clone(), opened.clone()]), None);
        let none = one_ticket_per_trigger(std::slice::from_ref(&rated)).expect("no ticket is a violation");
        assert!(none.contains("recorded 1 time(s) but opened 0 ticket(s)"), "{none}");
        assert!(one_ticket_per_trigger(&[rated, opened.clone(), opened]).is_some(), "two tickets are one too many");
        let good = recorded(case.into(), Event::Rated { stars: 5, by_default: false });
        assert_eq!(one_ticket_per_trigger(&[good]), None);
    }

    fn task(def: &Definition, item: &str, state: TaskState, waits_for: Vec<u16>) -> Task {
        let ix = def.item_ix(item).unwrap();
        Task {
            item: ix,
            item_id: Id::new(item),
            state,
            waits_for: waits_for.into_iter().map(usize::from).collect(),
            signed: 0,
            reviewer: None,
            sla: None,
            lapse_due: None,
        }
    }

    fn case(def: &Definition, state: CaseState, tasks: Vec<Task>) -> Case {
        let applicant = Applicant { id: Id::new("a"), name: "申请人".into(), credit_blocked: false };
        let mut case = Case::new(crate::event::CaseId(1), def.bundle_ix("restaurant").unwrap(), applicant);
        case.state = state;
        case.tasks = tasks;
        case
    }

    #[test]
    fn task_order_needs_approved_predecessors_and_a_decision_when_all_are_done() {
        let def = hall();
        let early = case(
            &def,
            CaseState::InApproval,
            vec![task(&def, "licence", TaskState::Ready, vec![]), task(&def, "food", TaskState::Ready, vec![0])],
        );
        let message = task_order(&def, &early).expect("food started before the licence was approved");
        assert!(message.contains("`food` is Ready although its predecessor `licence` is Ready"), "{message}");
        let stuck = case(&def, CaseState::InApproval, vec![task(&def, "licence", TaskState::Approved, vec![])]);
        assert!(task_order(&def, &stuck).is_some_and(|m| m.contains("must be decided")));
        let orphan = case(&def, CaseState::Withdrawn, vec![task(&def, "licence", TaskState::InReview, vec![])]);
        assert!(task_order(&def, &orphan).is_some_and(|m| m.contains("orphan")));
        let waiting = case(
            &def,
            CaseState::InApproval,
            vec![task(&def, "licence", TaskState::Denied, vec![]), task(&def, "food", TaskState::Waiting, vec![0])],
        );
        assert!(task_order(&def, &waiting).is_some_and(|m| m.contains("dependents of a failed task are cancelled")));
    }

    #[test]
    fn delivery_needs_every_required_material() {
        let def = hall();
        let mut delivered = case(&def, CaseState::Delivered, vec![task(&def, "licence", TaskState::Approved, vec![])]);
        delivered.outcome = Some(Outcome::Approved);
        let message = delivery(&def, &delivered).expect("licence-form is missing");
        assert!(message.contains("`licence-form` (Required for `licence`"), "{message}");
        delivered.materials = vec![def.material_ix("licence-form").unwrap()];
        assert_eq!(delivery(&def, &delivered), None, "id-card comes by data sharing");
    }

    #[test]
    fn a_clock_whose_timer_disagrees_with_its_deadline_breaks_invariant_5() {
        let def = hall();
        let cal = def.calendar();
        let pct = def.policies().warning_percent;
        let sla = Sla::start(cal, "2025-01-02T09:30".parse().unwrap(), 5, pct).unwrap();
        assert_eq!(deadline_problem(&def, &sla), None);
        let mut raised = sla.clone();
        raised.raise(SlaLevel::Warning, cal, pct);
        assert_eq!(deadline_problem(&def, &raised), None);
        // A level written without going through the clock keeps the stale warning timer.
        let mut stale = sla.clone();
        stale.level = SlaLevel::Warning;
        let message = deadline_problem(&def, &stale).expect("the overdue timer must fire at the deadline");
        assert!(message.contains("next level change"), "{message}");
        let mut outside = sla;
        outside.start = "2030-01-02T09:30".parse().unwrap();
        assert!(deadline_problem(&def, &outside).is_some_and(|m| m.contains("cannot be computed")));
    }

    #[derive(Clone, Serialize)]
    struct Sample {
        name: String,
        at: Instant,
        on: Option<Date>,
        version: u32,
        level: SlaLevel,
    }

    fn key_of(sample: &Sample) -> Vec<u8> {
        let mut writer = KeyWriter::default();
        sample.serialize(&mut writer).unwrap();
        writer.bytes
    }

    #[test]
    fn the_key_ignores_times_and_versions_but_nothing_else() {
        let at: Instant = "2025-01-02T09:30".parse().unwrap();
        let base = Sample { name: "a".into(), at, on: Some(at.date()), version: 1, level: SlaLevel::Normal };
        let later =
            Sample { at: at.plus_minutes(7 * 24 * 60), on: Some(at.date().add_days(9)), version: 9, ..base.clone() };
        assert_eq!(key_of(&base), key_of(&later));
        assert_ne!(key_of(&base), key_of(&Sample { level: SlaLevel::Warning, ..base.clone() }));
        assert_ne!(key_of(&base), key_of(&Sample { name: "b".into(), ..base.clone() }));
        assert_ne!(key_of(&base), key_of(&Sample { on: None, ..base.clone() }));
    }
}
