//! The breadth-first search: states, steps through the engine, the invariants after each step,
//! and traces.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use yichuang_core::definition::{BundleIx, Definition, DepartmentKind, WindowClass};
use yichuang_core::invariants::{self, Supervision, Violation as InvariantViolation};
use yichuang_core::machine::spec;
use yichuang_core::machine::task::TaskMachine;
use yichuang_core::{
    Actor, Applicant, Case, Ctx, Engine, Event, Id, Instant, Recorded, Rejection, StreamId, Submission,
};
use yichuang_core::{CaseState, TaskState, TicketState};

use super::key::{KeyHash, KeyWriter};
use super::liveness::liveness;
use super::moves::{Action, Move, TaskMove, default_start, submissions};
use super::{Options, Property, Report, TraceStep, Violation};

/// One explored state: the engine (one case and its tickets), the clock and the checker's
/// per-ticket bookkeeping.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) engine: Engine,
    pub(super) now: Instant,
    /// Invariant 1's bookkeeping: per ticket, whether an eligible supervision decision was
    /// recorded after its last submission.
    pub(super) supervision: Supervision,
    /// Per ticket slot: failed supervisions plus unsatisfied follow-ups so far.
    pub(super) redo: Vec<u8>,
    /// Recalls (撤回) so far in the case ([`super::Options::recall_max`]).
    pub(super) recalls: u8,
    /// Returns (退回) so far in the case ([`super::Options::return_max`]).
    pub(super) returns: u8,
}

impl Node {
    pub(super) fn case(&self) -> Option<&Case> {
        self.engine.cases().next()
    }

    pub(super) fn is_final(&self) -> bool {
        self.case().is_some_and(|c| c.state().is_final())
            && self.engine.tickets().iter().all(|t| t.state() == TicketState::Closed)
    }
}

/// The result of a move the engine accepted.
pub(super) struct Step {
    pub(super) node: Node,
    pub(super) events: Vec<Recorded>,
    pub(super) actor: Actor,
    pub(super) at: Instant,
    /// Invariant 1, found while folding the ticket events.
    pub(super) unsupervised: Option<InvariantViolation>,
}

/// The explored graph: per state its parent, the move from it and its depth; successors of
/// expanded states in expansion (= id) order.
#[derive(Default)]
pub(super) struct Graph {
    pub(super) parent: Vec<u32>,
    pub(super) moves: Vec<Option<Move>>,
    pub(super) depth: Vec<u16>,
    pub(super) is_final: Vec<bool>,
    /// Per state, where its case stands towards a decision ([`Approval`]).
    pub(super) approval: Vec<Approval>,
    pub(super) succ_start: Vec<u32>,
    pub(super) succ: Vec<u32>,
}

impl Graph {
    pub(super) fn len(&self) -> usize {
        self.parent.len()
    }

    /// States `0..expanded()` have their successors recorded.
    pub(super) fn expanded(&self) -> usize {
        self.succ_start.len().saturating_sub(1)
    }

    #[cfg(test)]
    pub(super) fn add(&mut self, parent: u32, mv: Option<Move>, depth: u16, is_final: bool) -> u32 {
        self.add_marked(parent, mv, depth, is_final, Approval::Other)
    }

    pub(super) fn add_marked(
        &mut self,
        parent: u32,
        mv: Option<Move>,
        depth: u16,
        is_final: bool,
        approval: Approval,
    ) -> u32 {
        let id = u32::try_from(self.parent.len()).expect("states_max keeps ids within u32");
        self.parent.push(parent);
        self.moves.push(mv);
        self.depth.push(depth);
        self.is_final.push(is_final);
        self.approval.push(approval);
        id
    }

    /// The root `id` descends from (its index among the roots) and the moves from it to `id`.
    pub(super) fn path(&self, mut id: u32) -> (u32, Vec<Move>) {
        let mut path = Vec::with_capacity(usize::from(self.depth[id as usize]));
        while let Some(mv) = self.moves[id as usize] {
            path.push(mv);
            id = self.parent[id as usize];
        }
        path.reverse();
        (id, path)
    }
}

/// Where a state's case stands towards a decision, for the liveness of approval (no join
/// stuck, no task without a way forward): every state whose case is under approval must be
/// able to reach one whose case is decided, by the hall's own moves — withdrawal, which ends
/// every case, does not count as a way forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Approval {
    /// The case is under approval (InApproval): a decision must stay reachable.
    Pending,
    /// The case was decided (it has an outcome).
    Decided,
    /// Anything else: no case, not yet accepted, or ended without a decision; or a ticket's part.
    Other,
}

impl Approval {
    pub(super) fn of(part: Part, node: &Node) -> Approval {
        match (part, node.case()) {
            (Part::Ticket(_), _) | (_, None) => Approval::Other,
            (_, Some(case)) if case.outcome().is_some() => Approval::Decided,
            (_, Some(case)) if case.state() == yichuang_core::CaseState::InApproval => Approval::Pending,
            _ => Approval::Other,
        }
    }
}

/// Which part of the system a search explores (see the module documentation, "Reductions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// The case and every ticket it opens, interleaved (no reduction).
    Product,
    /// The case alone: the tickets it opens are set apart.
    Case,
    /// One ticket alone, by slot (number − 1), from the states the case opened it in.
    Ticket(u16),
}

/// Where a search starts: a state and the moves that reach it from the initial state.
pub(super) struct Root {
    pub(super) node: Node,
    pub(super) prefix: Vec<Move>,
}

/// A ticket opened by a move of the case: explored on its own afterwards.
pub(super) struct Spawn {
    slot: u16,
    root: Root,
}

/// The slots of the tickets opened by a step's events.
fn opened_tickets(events: &[Recorded]) -> impl Iterator<Item = u16> + '_ {
    events.iter().filter_map(|r| match (&r.event, r.stream) {
        (Event::TicketOpened { .. }, StreamId::Ticket(id)) => Some((id.0 as u16).wrapping_sub(1)),
        _ => None,
    })
}

pub(super) struct Explorer {
    pub(super) def: Arc<Definition>,
    pub(super) bundle: BundleIx,
    pub(super) options: Options,
    pub(super) start: Instant,
    pub(super) applicant: Applicant,
    pub(super) applicant_actor: Actor,
    pub(super) consult: Option<Actor>,
    pub(super) intake: Option<Actor>,
    pub(super) delivery: Option<Actor>,
    /// A reviewer of each department, by department index.
    pub(super) reviewers: Vec<Actor>,
    /// A supervisor outside each department, by department index.
    pub(super) supervisors: Vec<Option<Actor>>,
    /// The prepared submissions: a label and the submission.
    pub(super) submissions: Vec<(String, Submission)>,
    /// Moves cut short by the calendar so far, and the first one's description.
    pub(super) calendar: std::cell::RefCell<(usize, Option<String>)>,
}

impl Node {
    /// Folds the ticket events of a step into the checker's bookkeeping (invariant 1 and the
    /// bound on new rectification rounds); returns the violation of invariant 1 it finds.
    fn fold_tickets(&mut self, events: &[Recorded]) -> Option<InvariantViolation> {
        self.redo.resize(self.engine.tickets().len(), 0);
        let mut violation = None;
        for rec in events {
            let StreamId::Ticket(id) = rec.stream else { continue };
            if let Err(v) = self.supervision.observe(rec) {
                violation.get_or_insert(v);
            }
            if matches!(rec.event, Event::TicketFailed { .. } | Event::TicketReopened { .. }) {
                let slot = (id.0 as usize).wrapping_sub(1);
                if let Some(redo) = self.redo.get_mut(slot) {
                    *redo = redo.saturating_add(1);
                }
            }
        }
        violation
    }
}

impl Explorer {
    pub(super) fn new(def: &Arc<Definition>, bundle: BundleIx, options: &Options) -> Explorer {
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

    pub(super) fn root(&self) -> Node {
        Node {
            engine: Engine::new(self.def.clone()),
            now: self.start,
            supervision: Supervision::default(),
            redo: Vec::new(),
            recalls: 0,
            returns: 0,
        }
    }

    pub(super) fn run(&self) -> Report {
        let b = self.def.bundle(self.bundle);
        let mut report = Report {
            bundle: b.id.clone(),
            name: b.name.clone(),
            depth_bound: self.options.depth,
            reduced: self.options.reduce,
            por: self.options.por && self.options.reduce,
            por_states: 0,
            start: self.start,
            states: 0,
            transitions: 0,
            max_depth: 0,
            final_states: 0,
            cut_off: 0,
            unknown: 0,
            tickets_apart: 0,
            ticket_states: 0,
            states_limit_reached: false,
            calendar_refusals: 0,
            calendar_error: None,
            outcomes: Default::default(),
            violation: None,
        };
        let first = if self.options.reduce { Part::Case } else { Part::Product };
        let mut graph = Graph::default();
        let mut spawns = Vec::new();
        let root = Root { node: self.root(), prefix: Vec::new() };
        report.violation = self.search(first, vec![root], &mut graph, &mut report, &mut spawns);
        graph.succ_start.push(graph.succ.len() as u32);
        self.tally(&graph, &mut report);
        if report.violation.is_none() {
            let (unknown, stuck) = liveness(&graph);
            report.unknown += unknown;
            report.violation = stuck.map(|id| self.liveness_violation(first, &graph, &[], id));
        }
        // The tickets the case opened, each explored on its own from the state it was opened in
        // (see the module documentation, "Reductions").
        if self.options.reduce && report.violation.is_none() && !report.states_limit_reached {
            report.tickets_apart = spawns.len();
            let mut by_slot: Vec<Vec<Root>> = Vec::new();
            for spawn in spawns {
                let slot = usize::from(spawn.slot);
                by_slot.resize_with(by_slot.len().max(slot + 1), Vec::new);
                by_slot[slot].push(spawn.root);
            }
            for (slot, roots) in by_slot.into_iter().enumerate() {
                if roots.is_empty() || report.violation.is_some() || report.states_limit_reached {
                    continue;
                }
                let part = Part::Ticket(slot as u16);
                let mut part_graph = Graph::default();
                let prefixes: Vec<Vec<Move>> = roots.iter().map(|r| r.prefix.clone()).collect();
                report.violation = self.search(part, roots, &mut part_graph, &mut report, &mut Vec::new());
                part_graph.succ_start.push(part_graph.succ.len() as u32);
                let before = report.states;
                self.tally(&part_graph, &mut report);
                report.ticket_states += report.states - before;
                if report.violation.is_none() {
                    let (unknown, stuck) = liveness(&part_graph);
                    report.unknown += unknown;
                    report.violation = stuck.map(|id| self.liveness_violation(part, &part_graph, &prefixes, id));
                }
            }
        }
        (report.calendar_refusals, report.calendar_error) = self.calendar.take();
        report
    }

    /// Adds a part's graph to the report's counts.
    fn tally(&self, graph: &Graph, report: &mut Report) {
        report.states += graph.len();
        report.max_depth = report.max_depth.max(graph.depth.iter().copied().max().map_or(0, u32::from));
        report.final_states += graph.is_final.iter().filter(|f| **f).count();
        let expanded = graph.expanded();
        report.cut_off += (expanded..graph.len()).filter(|&i| !graph.is_final[i]).count();
    }

    /// A final outcome: the case's final state and outcome, and the sources of the tickets it
    /// opened.
    fn outcome(node: &Node) -> String {
        let case =
            node.case().map_or_else(|| "no case".to_owned(), |c| format!("{} {:?}", c.state().name(), c.outcome()));
        let tickets: Vec<String> = node.engine.tickets().iter().map(|t| t.source().kind().to_string()).collect();
        format!("{case}; tickets [{}]", tickets.join(", "))
    }

    /// Breadth-first search of one part from its roots; returns the first safety violation.
    /// Tickets opened by the case's moves (in the case part) are collected in `spawns`.
    fn search(
        &self,
        part: Part,
        roots: Vec<Root>,
        graph: &mut Graph,
        report: &mut Report,
        spawns: &mut Vec<Spawn>,
    ) -> Option<Violation> {
        let mut seen: HashMap<u128, u32, KeyHash> = HashMap::default();
        let mut spawned: HashMap<u128, (), KeyHash> = HashMap::default();
        let mut writer = KeyWriter::new(&self.def);
        let mut level = Vec::new();
        let mut prefixes = Vec::new();
        for root in roots {
            let key = self.key(part, &root.node, &mut writer);
            if let Entry::Vacant(e) = seen.entry(key) {
                let id = graph.add_marked(
                    u32::MAX,
                    None,
                    0,
                    self.is_final(part, &root.node),
                    Approval::of(part, &root.node),
                );
                e.insert(id);
                graph.parent[id as usize] = id;
                prefixes.push(root.prefix);
                level.push((id, root.node));
            }
        }
        let mut moves = Vec::new();
        let depth_max = self.options.depth.unwrap_or(u32::MAX).min(u32::from(u16::MAX) - 1);
        for depth in 0..depth_max {
            // States of the last level are cut off, never expanded: only their ids are kept
            // (the last level is the largest, so this roughly halves the peak memory).
            let keep_states = depth + 1 < depth_max;
            let mut next = Vec::new();
            // Each state is dropped once expanded: the memory held is about one level and a half.
            for (id, node) in std::mem::take(&mut level) {
                if report.states + graph.len() >= self.options.states_max {
                    report.states_limit_reached = true;
                    return None;
                }
                debug_assert_eq!(graph.succ_start.len(), id as usize, "states are expanded in id order");
                graph.succ_start.push(graph.succ.len() as u32);
                self.moves(part, &node, &mut moves);
                let mut ample = None;
                if self.options.por && part == Part::Case {
                    ample = self.claim_first(&node, &moves);
                    if let Some((mv, _)) = &ample {
                        report.por_states += 1;
                        moves.clear();
                        moves.push(*mv);
                    }
                }
                for &mv in &moves {
                    let step = match ample.take() {
                        Some((_, step)) => step,
                        None => match self.step(&node, mv) {
                            Some(step) => step,
                            None => continue,
                        },
                    };
                    report.transitions += 1;
                    if let Some(case) = step.node.case()
                        && case.timer_past_calendar(&self.def)
                    {
                        self.note_calendar(|| {
                            format!(
                                "a deadline of {} after `{}` would fall past the calendar",
                                case.id(),
                                self.describe(&node, mv)
                            )
                        });
                    }
                    if let Some(violation) = self.verify(&node, &step) {
                        let (root, path) = graph.path(id);
                        let mut full = prefixes[root as usize].clone();
                        full.extend(path);
                        let mut trace = self.trace(&full);
                        trace.push(self.trace_step(&node, mv, step));
                        let invariant = Property::Invariant(violation.invariant());
                        return Some(Violation { invariant, message: violation.to_string(), trace });
                    }
                    if part == Part::Case {
                        for slot in opened_tickets(&step.events) {
                            let key = self.key(Part::Ticket(slot), &step.node, &mut writer);
                            if let Entry::Vacant(e) = spawned.entry(key) {
                                e.insert(());
                                let (root, path) = graph.path(id);
                                let mut prefix = prefixes[root as usize].clone();
                                prefix.extend(path);
                                prefix.push(mv);
                                spawns.push(Spawn { slot, root: Root { node: step.node.clone(), prefix } });
                            }
                        }
                    }
                    if !matches!(part, Part::Ticket(_)) && step.node.case().is_some_and(|c| c.state().is_final()) {
                        report.outcomes.insert(Explorer::outcome(&step.node));
                    }
                    let key = self.key(part, &step.node, &mut writer);
                    let target = match seen.entry(key) {
                        Entry::Occupied(e) => *e.get(),
                        Entry::Vacant(e) => {
                            let is_final = self.is_final(part, &step.node);
                            let approval = Approval::of(part, &step.node);
                            let target = graph.add_marked(id, Some(mv), depth as u16 + 1, is_final, approval);
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

    /// The partial-order reduction (see the module documentation): in a state whose case is
    /// under approval with nothing outstanding, the first claim the engine accepts of a task
    /// that depends on none (any task, were no command declared in `Approved`), with its step;
    /// `None` where every move must be explored.
    fn claim_first(&self, node: &Node, moves: &[Move]) -> Option<(Move, Step)> {
        let case = node.case()?;
        if case.state() != CaseState::InApproval || !case.outstanding().is_empty() {
            return None;
        }
        // A command in Approved (撤回) is refused once a dependent was claimed: claiming a
        // dependent would disable it, so only tasks that depend on nothing are claimed first.
        let approved_moves = spec::commands_in::<TaskMachine>(TaskState::Approved).next().is_some();
        moves.iter().find_map(|&mv| match mv {
            Move::Task(p, TaskMove::Claim) => {
                let task = case.tasks().get(usize::from(p))?;
                if approved_moves && !task.waits_for().is_empty() {
                    return None;
                }
                self.step(node, mv).map(|step| (mv, step))
            }
            _ => None,
        })
    }

    /// Whether `node` is final for `part`: the case final and every ticket closed (the whole
    /// product), the case final (the case part), the ticket closed (a ticket's part).
    pub(super) fn is_final(&self, part: Part, node: &Node) -> bool {
        match part {
            Part::Product => node.is_final(),
            Part::Case => node.case().is_some_and(|c| c.state().is_final()),
            Part::Ticket(slot) => {
                node.engine.tickets().get(usize::from(slot)).is_some_and(|t| t.state() == TicketState::Closed)
            }
        }
    }

    /// Counts a move cut short by the calendar, keeping the first one's description.
    pub(super) fn note_calendar(&self, describe: impl FnOnce() -> String) {
        // Described before borrowing: describing a move may consult the calendar again.
        let text = self.calendar.borrow().1.is_none().then(describe);
        let mut calendar = self.calendar.borrow_mut();
        calendar.0 += 1;
        if calendar.1.is_none() {
            calendar.1 = text;
        }
    }

    /// The engine's answer as an option, counting a refusal for lack of calendar.
    pub(super) fn accepted<T>(&self, result: Result<T, Rejection>) -> Option<T> {
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
    pub(super) fn step(&self, node: &Node, mv: Move) -> Option<Step> {
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
                let case = node.case()?.id();
                self.accepted(node.engine.decide(case, &command, &ctx))?;
                let mut next = node.clone();
                let events = self.accepted(next.engine.execute(case, command, &ctx))?;
                (next, events, node.now)
            }
            Action::Ticket(id, command) => {
                self.accepted(node.engine.decide_ticket(id, &command, &ctx))?;
                let mut next = node.clone();
                let events = self.accepted(next.engine.execute_ticket(id, &command, &ctx))?;
                (next, events, node.now)
            }
            Action::Advance(to) => {
                let mut next = node.clone();
                let due = match to {
                    Some(to) => to,
                    None => next.engine.next_deadline()?,
                };
                let events = next.engine.advance_to(due);
                next.now = next.now.max(due);
                (next, events, due)
            }
        };
        let unsupervised = next.fold_tickets(&events);
        if events.iter().any(|r| matches!(r.event, Event::TaskRecalled { .. })) {
            next.recalls = next.recalls.saturating_add(1);
        }
        if events.iter().any(|r| matches!(r.event, Event::TaskReturned { .. })) {
            next.returns = next.returns.saturating_add(1);
        }
        Some(Step { node: next, events, actor, at, unsupervised })
    }

    /// Invariants 1–5 ([`yichuang_core::invariants`]) after `step` from `before`.
    fn verify(&self, before: &Node, step: &Step) -> Option<InvariantViolation> {
        let def = &*self.def;
        if let Some(violation) = &step.unsupervised {
            return Some(violation.clone());
        }
        let case_checks = || -> Result<(), InvariantViolation> {
            invariants::one_ticket_per_trigger(&step.events)?;
            let Some(case) = step.node.case() else { return Ok(()) };
            invariants::task_order(def, case)?;
            if step.events.iter().any(|r| matches!(r.event, Event::Delivered { .. })) {
                invariants::delivery(def, case)?;
            }
            debug_assert!(before.now <= step.node.now, "the clock never goes back");
            invariants::deadlines(def, case)
        };
        case_checks().err()
    }

    /// Replays `path` from the initial state.
    pub(super) fn trace(&self, path: &[Move]) -> Vec<TraceStep> {
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
}
