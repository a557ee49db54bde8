//! The invariants of DESIGN §4.3, written once: one function per invariant, each returning the
//! typed [`Violation`] it finds. The property tests, the exhaustive checker
//! (`yichuang-analysis`) and the replay audit (`yichuang replay`) all call these, so they cannot
//! drift apart.
//!
//! | # | function | on |
//! |---|---|---|
//! | 1 | [`Supervision::observe`] | every recorded ticket event, in log order |
//! | 2 | [`one_ticket_per_trigger`] | the events of one step (or a whole log) |
//! | 3 | [`task_order`] | a case's state |
//! | 4 | [`delivery`] | a delivered case's state |
//! | 5 | [`deadlines`] | a case's running clocks |
//! | 6 | [`replay`] | an engine and the log it recorded |
//! | 7 | [`authority`] | every recorded event |
//!
//! ```
//! use yichuang_core::invariants::{self, Invariant};
//! assert_eq!(Invariant::TaskOrder.number(), 3);
//! # let def = yichuang_core::Definition::from_ron(include_str!("../../../examples/definitions/minimal.ron"), "minimal.ron").unwrap();
//! // An empty engine replays from an empty log.
//! let engine = yichuang_core::Engine::new(std::sync::Arc::new(def));
//! assert_eq!(invariants::replay(&engine, &[]), Ok(()));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use crate::actor::{Actor, Role};
use crate::definition::{Decider, Definition, Id, MaterialNeed, MilestoneRule, WindowClass};
use crate::engine::Engine;
use crate::event::{CaseId, Event, Outcome, Recorded, SlaSubject, StreamId};
use crate::machine::case::{Case, CaseState};
use crate::machine::sla::{Sla, SlaLevel};
use crate::machine::task::{MemberSet, SignerPosition, Task, TaskState};
use crate::machine::ticket::{TicketId, TicketSource};
use crate::time::Instant;

/// An invariant of DESIGN §4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
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
    /// 6: replaying the log reproduces the state; a stream's times never run backwards.
    Replay,
    /// 7: an actor acts only within its role and department.
    Authority,
}

impl Invariant {
    /// The number in DESIGN §4.3.
    pub fn number(self) -> u8 {
        self as u8 + 1
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
            Invariant::Replay => "replaying the log reproduces the state",
            Invariant::Authority => "actors act only within their role and department",
        }
    }
}

/// A loop trigger (invariant 2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// A bad rating (≤ 2 stars) of a case.
    BadRating {
        /// The case.
        case: CaseId,
        /// Its stars.
        stars: u8,
    },
    /// An overdue task (`item`) or case (`None`).
    Overdue {
        /// The case.
        case: CaseId,
        /// The task's item, or `None` for the case clock.
        item: Option<Id>,
    },
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::BadRating { case, stars } => write!(f, "the bad rating ({stars} stars) of {case}"),
            Trigger::Overdue { case, item: Some(item) } => write!(f, "the overdue task `{item}` of {case}"),
            Trigger::Overdue { case, item: None } => write!(f, "the overdue case {case}"),
        }
    }
}

/// What is wrong with a deadline (invariant 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadlineProblem {
    /// The calendar cannot compute or measure it.
    Calendar(String),
    /// It lies `worked` working minutes after its start instead of budget + paused.
    Length {
        /// The deadline.
        deadline: Instant,
        /// The clock's start.
        start: Instant,
        /// Working minutes from start to deadline.
        worked: i64,
        /// The budget.
        budget: i64,
        /// Paused working minutes.
        paused: i64,
    },
    /// It falls on a day off.
    DayOff(Instant),
    /// The clock runs while a task is held in this state (特别程序, 补充材料), which the
    /// promise does not count.
    RunsWhileHeld(TaskState),
    /// It falls outside office hours.
    OutsideOfficeHours(Instant),
    /// The clock's next level change does not fit the deadline.
    Timer {
        /// The deadline.
        deadline: Instant,
        /// The next level change scheduled.
        next: Option<Instant>,
        /// The clock's level.
        level: SlaLevel,
        /// Whether it is paused.
        paused: bool,
    },
}

impl fmt::Display for DeadlineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadlineProblem::Calendar(e) => write!(f, "cannot be computed: {e}"),
            DeadlineProblem::Length { deadline, start, worked, budget, paused } => write!(
                f,
                "({deadline}) lies {worked} working minutes after its start {start}, not budget {budget} + paused {paused}"
            ),
            DeadlineProblem::DayOff(d) => write!(f, "({d}) falls on a day off"),
            DeadlineProblem::OutsideOfficeHours(d) => write!(f, "({d}) falls outside office hours"),
            DeadlineProblem::RunsWhileHeld(state) => {
                write!(f, "runs while a task is {}, which the promise does not count", state.name())
            }
            DeadlineProblem::Timer { deadline, next, level, paused } => write!(
                f,
                "({deadline}) does not match the clock's next level change ({}) at level {level:?}{}",
                next.map_or_else(|| "none".to_owned(), |t| t.to_string()),
                if *paused { ", paused" } else { "" }
            ),
        }
    }
}

/// A violated invariant, with what the state or log shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// 1: a ticket closed without an eligible supervision decision after its last submission.
    #[error(
        "{ticket} (responsible {department}) reached Closed ({event} recorded by {}) without a pass or \
         uphold_appeal by a supervisor outside {department} after its last submission",
        by.describe()
    )]
    Unsupervised {
        /// The ticket.
        ticket: TicketId,
        /// Its responsible department.
        department: Id,
        /// The closing event.
        event: &'static str,
        /// Who recorded it.
        by: Actor,
    },
    /// 2: a trigger recorded a different number of times than tickets opened for it.
    #[error("{trigger} was recorded {recorded} time(s) but opened {opened} ticket(s); each opens exactly one")]
    TicketCount {
        /// The trigger.
        trigger: Trigger,
        /// Times recorded.
        recorded: usize,
        /// Tickets opened for it.
        opened: usize,
    },
    /// 3: a task started before a predecessor was approved.
    #[error(
        "task `{item}` is {} although its predecessor `{predecessor}` is {}: a task starts only after \
         all its predecessors are approved",
        state.name(), predecessor_state.name()
    )]
    StartedBeforePredecessor {
        /// The task's item.
        item: Id,
        /// Its state.
        state: TaskState,
        /// The predecessor's item.
        predecessor: Id,
        /// The predecessor's state.
        predecessor_state: TaskState,
    },
    /// 3: a task started before the stage before it was complete.
    #[error(
        "task `{item}` is {} before stage `{stage}` is complete ({approved} of {milestones} milestones \
         approved, rule {rule:?})",
        state.name()
    )]
    StartedBeforeStage {
        /// The task's item.
        item: Id,
        /// Its state.
        state: TaskState,
        /// The previous stage.
        stage: Id,
        /// Milestones approved.
        approved: usize,
        /// Milestones in all.
        milestones: usize,
        /// The stage's rule.
        rule: MilestoneRule,
    },
    /// 3: a task still waits for a failed predecessor.
    #[error("task `{item}` still waits for `{failed}`, which is {}: dependents of a failed task are cancelled", failed_state.name())]
    WaitsForFailed {
        /// The task's item.
        item: Id,
        /// The failed predecessor.
        failed: Id,
        /// Its state.
        failed_state: TaskState,
    },
    /// 3: a task's review levels are out of step: approved with a level unsigned, signed
    /// twice by one person (受审分离), or its signatures do not match its level.
    #[error("task `{item}` is {} at review level {level} of {levels} with {signatures} signature(s): {why}", state.name())]
    Levels {
        /// The task's item.
        item: Id,
        /// Its state.
        state: TaskState,
        /// Its current level (0-based).
        level: usize,
        /// The item's number of levels.
        levels: usize,
        /// Signatures recorded.
        signatures: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// 3: a task without a way forward: it waits although its predecessors are approved, its
    /// stage is open and no cure holds it, so nothing will ever make it ready (a join stuck).
    #[error(
        "task `{item}` is Waiting although every predecessor is approved, its stage is open and no outstanding \
         material holds it: nothing will make it ready, and the case can never be decided (a join stuck; no task \
         may be left without a way forward)"
    )]
    Stranded {
        /// The task's item.
        item: Id,
    },
    /// 3: a 会签, 或签 or 票签 task's votes do not match its state: approved short of the
    /// approvals its rule needs, denied while they could still be reached, still open when
    /// decided, or a department counted twice.
    #[error(
        "task `{item}` ({rule}, {needed} of {departments}) is {} with {approvals} approval(s) and {against} \
         against: {why}",
        state.name()
    )]
    Votes {
        /// The task's item.
        item: Id,
        /// Its state.
        state: TaskState,
        /// `Countersign`, `AnyOf` or `Vote`.
        rule: &'static str,
        /// Approvals the rule needs.
        needed: u32,
        /// Departments in the set.
        departments: usize,
        /// Approvals recorded.
        approvals: u32,
        /// Votes against recorded.
        against: u32,
        /// What is wrong.
        why: &'static str,
    },
    /// 3: every task is terminal but the case is not decided.
    #[error("every task is terminal but the case is still InApproval: it must be decided")]
    Undecided,
    /// 3: the case is decided or final while a task is still open.
    #[error("the case is {} (outcome {outcome:?}) while task `{item}` is still {} (an orphan task)", case_state.name(), state.name())]
    OrphanTask {
        /// The case's state.
        case_state: CaseState,
        /// Its outcome.
        outcome: Option<Outcome>,
        /// The open task's item.
        item: Id,
        /// Its state.
        state: TaskState,
    },
    /// 4: results left while a material they need is missing.
    #[error(
        "results were delivered while `{material}` ({need:?} for `{item}`, issue_before_cure = \
         {issue_before_cure}) is missing"
    )]
    DeliveredWithout {
        /// The missing material.
        material: Id,
        /// The item that needs it.
        item: Id,
        /// How it needs it.
        need: MaterialNeed,
        /// Whether the item may issue before cure.
        issue_before_cure: bool,
    },
    /// 5: a running deadline is wrong.
    #[error("the deadline of {} {problem}", match item { Some(i) => format!("task `{i}`"), None => "the case".to_owned() })]
    Deadline {
        /// The task's item, or `None` for the case clock.
        item: Option<Id>,
        /// What is wrong.
        problem: DeadlineProblem,
    },
    /// 6: a stream's recorded times run backwards.
    #[error("{stream} goes back in time at {at} (its previous event was at {previous})")]
    TimeRunsBack {
        /// The stream.
        stream: StreamId,
        /// The earlier time recorded later.
        at: Instant,
        /// The time before it.
        previous: Instant,
    },
    /// 6: the log does not replay, or replays to another state.
    #[error("replaying the log {0}")]
    ReplayDiffers(String),
    /// 7: an event recorded by an actor not entitled to it.
    #[error("{stream} recorded {event} by {}, who may not", by.describe())]
    Unauthorized {
        /// The stream.
        stream: StreamId,
        /// The event.
        event: &'static str,
        /// Who recorded it.
        by: Actor,
    },
}

impl Violation {
    /// Which invariant.
    pub fn invariant(&self) -> Invariant {
        match self {
            Violation::Unsupervised { .. } => Invariant::Supervision,
            Violation::TicketCount { .. } => Invariant::OneTicketPerTrigger,
            Violation::StartedBeforePredecessor { .. }
            | Violation::StartedBeforeStage { .. }
            | Violation::WaitsForFailed { .. }
            | Violation::Undecided
            | Violation::Stranded { .. }
            | Violation::Levels { .. }
            | Violation::Votes { .. }
            | Violation::OrphanTask { .. } => Invariant::TaskOrder,
            Violation::DeliveredWithout { .. } => Invariant::Delivery,
            Violation::Deadline { .. } => Invariant::Deadlines,
            Violation::TimeRunsBack { .. } | Violation::ReplayDiffers(_) => Invariant::Replay,
            Violation::Unauthorized { .. } => Invariant::Authority,
        }
    }
}

// ---------------------------------------------------------------------- 1

/// Invariant 1 on a log, event by event: per ticket, whether an eligible supervision decision (a
/// supervisor outside the responsible department) followed its last submission. Closing without
/// one is a violation, checked on the log independently of the ticket's own flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Supervision {
    /// Per ticket (number − 1): the responsible department and the flag.
    tickets: Vec<(Id, bool)>,
}

impl Supervision {
    /// Folds one recorded event (other streams' events are ignored).
    pub fn observe(&mut self, rec: &Recorded) -> Result<(), Violation> {
        let StreamId::Ticket(id) = rec.stream else { return Ok(()) };
        let slot = (id.0 as usize).wrapping_sub(1);
        if let Event::TicketOpened { department, .. } = &rec.event {
            if self.tickets.len() <= slot {
                self.tickets.resize(slot + 1, (department.clone(), false));
            }
            self.tickets[slot] = (department.clone(), false);
            return Ok(());
        }
        let Some((department, supervised)) = self.tickets.get_mut(slot) else { return Ok(()) };
        let eligible = matches!(&rec.by.role, Role::Supervisor { department: d } if d != department);
        match &rec.event {
            Event::TicketSubmitted { .. } => *supervised = false,
            Event::TicketPassed | Event::TicketAppealUpheld => *supervised |= eligible,
            _ => {}
        }
        let closes = matches!(rec.event, Event::TicketClosed | Event::TicketAppealUpheld);
        if closes && !*supervised {
            return Err(Violation::Unsupervised {
                ticket: id,
                department: department.clone(),
                event: rec.event.name(),
                by: rec.by.clone(),
            });
        }
        Ok(())
    }

    /// Whether the ticket at `slot` (number − 1) has an eligible decision after its last
    /// submission.
    pub fn supervised(&self, slot: usize) -> bool {
        self.tickets.get(slot).is_some_and(|(_, s)| *s)
    }

    /// Tickets seen.
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    /// Whether no ticket was seen.
    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }
}

// ---------------------------------------------------------------------- 2

/// Invariant 2 on the events of one step (or a whole log): the bad ratings and overdue clocks
/// recorded, and the tickets opened for them, match one to one.
pub fn one_ticket_per_trigger<'a>(events: impl IntoIterator<Item = &'a Recorded>) -> Result<(), Violation> {
    let mut balance: BTreeMap<Trigger, (usize, usize)> = BTreeMap::new();
    for rec in events {
        match (&rec.event, rec.stream) {
            (Event::Rated { stars, .. }, StreamId::Case(case)) if *stars <= 2 => {
                balance.entry(Trigger::BadRating { case, stars: *stars }).or_default().0 += 1
            }
            (Event::SlaLevelChanged { subject, level: SlaLevel::Overdue }, StreamId::Case(case)) => {
                let item = match subject {
                    SlaSubject::Case => None,
                    SlaSubject::Task(item) => Some(item.clone()),
                };
                balance.entry(Trigger::Overdue { case, item }).or_default().0 += 1;
            }
            (Event::TicketOpened { source: TicketSource::BadRating { case, stars }, .. }, _) => {
                balance.entry(Trigger::BadRating { case: *case, stars: *stars }).or_default().1 += 1
            }
            (Event::TicketOpened { source: TicketSource::Overdue { case, item }, .. }, _) => {
                balance.entry(Trigger::Overdue { case: *case, item: item.clone() }).or_default().1 += 1
            }
            _ => {}
        }
    }
    match balance.into_iter().find(|(_, (recorded, opened))| recorded != opened) {
        Some((trigger, (recorded, opened))) => Err(Violation::TicketCount { trigger, recorded, opened }),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------- 3

/// Invariant 3 on the state of a case: started tasks have approved predecessors and an open
/// stage; no task waits for a failed one, and none waits once nothing holds it (a task
/// without a way forward: a join stuck); review levels are signed in order by different
/// people, and no task is approved with a level unsigned; the case is decided exactly when
/// every task is terminal.
pub fn task_order(def: &Definition, case: &Case) -> Result<(), Violation> {
    let started = |s: TaskState| !matches!(s, TaskState::Waiting | TaskState::NotApplicable | TaskState::Cancelled);
    let bundle = def.bundle(case.bundle);
    // What each task waits for by the definition's graph (not only by what the task recorded:
    // a rule that loses a task's predecessors is caught too).
    let applies = case
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state != TaskState::NotApplicable)
        .map(|(i, _)| i)
        .collect::<MemberSet>();
    let by_graph = crate::machine::case::waits_through(bundle, applies);
    for (m, task) in case.tasks.iter().enumerate() {
        // A task waiting in a case under approval must be held by something: a predecessor
        // not yet approved, the stage before not complete, or an outstanding material its item
        // may not issue without (written out here rather than asking the cascade, which is
        // what this checks).
        if case.state == CaseState::InApproval && task.state == TaskState::Waiting {
            let predecessors = task.waits_for.iter().all(|p| case.tasks[p].state == TaskState::Approved);
            let stage = match bundle.members[m].stage.filter(|&k| k > 0) {
                None => true,
                Some(k) => {
                    let previous = &bundle.stages[k - 1];
                    let approved =
                        previous.milestones.iter().filter(|&&p| case.tasks[p].state == TaskState::Approved).count();
                    match previous.rule {
                        MilestoneRule::All => approved == previous.milestones.len(),
                        MilestoneRule::Any => approved > 0,
                    }
                }
            };
            let item = def.item(task.item);
            let cure = case.outstanding.iter().any(|m| match def.material_ix(m).and_then(|ix| item.need_of(ix)) {
                Some(MaterialNeed::Required) => true,
                Some(MaterialNeed::Tolerable) => !item.issue_before_cure,
                _ => false,
            });
            if predecessors && stage && !cure {
                return Err(Violation::Stranded { item: task.item_id.clone() });
            }
        }
        if started(task.state) {
            for p in task.waits_for.iter().chain(by_graph[m].iter()) {
                let pred = &case.tasks[p];
                if pred.state != TaskState::Approved {
                    return Err(Violation::StartedBeforePredecessor {
                        item: task.item_id.clone(),
                        state: task.state,
                        predecessor: pred.item_id.clone(),
                        predecessor_state: pred.state,
                    });
                }
            }
            if let Some(k) = bundle.members[m].stage.filter(|&k| k > 0) {
                let previous = &bundle.stages[k - 1];
                let approved =
                    previous.milestones.iter().filter(|&&p| case.tasks[p].state == TaskState::Approved).count();
                let open = match previous.rule {
                    MilestoneRule::All => approved == previous.milestones.len(),
                    MilestoneRule::Any => approved > 0,
                };
                if !open {
                    return Err(Violation::StartedBeforeStage {
                        item: task.item_id.clone(),
                        state: task.state,
                        stage: previous.id.clone(),
                        approved,
                        milestones: previous.milestones.len(),
                        rule: previous.rule,
                    });
                }
            }
        }
        let levels = def.item(task.item).levels.len();
        let why = if task.level() >= levels {
            Some("the level is past the item's last")
        } else if task.signers.len() != task.level() {
            Some("every level below the current one is signed once, and no other")
        } else if task.signers.iter().enumerate().any(|(i, s)| task.signers[..i].contains(s)) {
            Some("one person signed two levels (受审分离)")
        } else if task.state == TaskState::Approved && task.level() + 1 != levels {
            Some("approved before its last level signed (no case is decided while a level is unsigned)")
        } else if task.state != TaskState::InReview && task.delegate.is_some() {
            Some("only a task in review is delegated")
        } else if !matches!(
            task.state,
            TaskState::InReview | TaskState::SpecialProcedure | TaskState::AwaitingSupplement
        ) && task.pinned
        {
            Some("only a task under review is held by a named reviewer")
        } else if task.delegate.as_ref().is_some_and(|d| task.signers.contains(d) || task.reviewer.as_ref() == Some(d))
        {
            Some("a delegate is neither the holder nor a signer of an earlier level (受审分离)")
        } else if task.state == TaskState::Waiting && (task.level() != 0 || task.sla.is_some() || task.claimed) {
            Some(
                "a waiting task has no clock, no level under way and no claim (a recalled predecessor's dependent starts afresh)",
            )
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Violation::Levels {
                item: task.item_id.clone(),
                state: task.state,
                level: task.level(),
                levels,
                signatures: task.signers.len(),
                why,
            });
        }
        votes(def, task)?;
        if case.state == CaseState::InApproval
            && task.state == TaskState::Waiting
            && let Some(p) = task.waits_for.iter().find(|&p| case.tasks[p].state.is_failed())
        {
            return Err(Violation::WaitsForFailed {
                item: task.item_id.clone(),
                failed: case.tasks[p].item_id.clone(),
                failed_state: case.tasks[p].state,
            });
        }
    }
    let open = case.tasks.iter().find(|t| !t.state.is_terminal());
    match (case.state, open) {
        (CaseState::InApproval, None) => Err(Violation::Undecided),
        (state, Some(task)) if case.outcome.is_some() || state.is_final() => Err(Violation::OrphanTask {
            case_state: state,
            outcome: case.outcome,
            item: task.item_id.clone(),
            state: task.state,
        }),
        _ => Ok(()),
    }
}

/// Invariant 3 on the votes of a task decided by several departments (会签, 或签, 票签): an
/// approval has the approvals its rule needs, a 或签 or 票签 denial has its approvals out of
/// reach, an open task has neither, and each department is counted once.
fn votes(def: &Definition, task: &Task) -> Result<(), Violation> {
    let item = def.item(task.item);
    let decider = &item.decided_by;
    let n = decider.departments().len();
    let needed = decider.approvals_needed();
    let (approvals, against) = (task.signed.count_ones(), task.against.count_ones());
    // 加签: an approval has every added countersigner's signature, and a 前加签 one signs before
    // the deciding signature.
    let waiting_added = task.added.iter().any(|a| !a.signed);
    let added_why = if task.state == TaskState::Approved && waiting_added && item.simulated_approval.is_none() {
        Some("approved while an added countersigner (加签) has not signed")
    } else if approvals >= needed && task.pending_added(SignerPosition::Before).is_some() {
        Some("the deciding signature was given before a 前加签 countersigner signed")
    } else if n < 2 && task.state == TaskState::InReview && approvals >= needed && !waiting_added {
        Some("still open although its deciding and added signatures are all given")
    } else {
        None
    };
    if let Some(why) = added_why {
        return Err(Violation::Votes {
            item: task.item_id.clone(),
            state: task.state,
            rule: decider.rule_name(),
            needed,
            departments: n,
            approvals,
            against,
            why,
        });
    }
    if n < 2 {
        return Ok(());
    }
    let reachable = n as u32 - against;
    let voting = matches!(decider, Decider::AnyOf(_) | Decider::Vote { .. });
    // Whether the votes against decide a denial: 或签's first decision, or 票签's k out of reach.
    let refused = match decider {
        Decider::AnyOf(_) => against > 0,
        Decider::Vote { .. } => reachable < needed,
        _ => false,
    };
    let why = if task.signed & task.against != 0
        || task.votes_cancelled & (task.signed | task.against) != 0
        || (task.signed | task.against | task.votes_cancelled) >> n != 0
    {
        Some("a department is counted twice, or one outside the set")
    } else if task.state == TaskState::Approved && approvals < needed && item.simulated_approval.is_none() {
        Some("approved short of the approvals its rule needs")
    } else if task.state == TaskState::Denied && voting && !refused {
        Some("denied while the approvals it needs could still be reached")
    } else if !task.state.is_terminal() && ((approvals >= needed && !waiting_added) || refused) {
        Some("still open although its votes decide it")
    } else if !task.state.is_terminal() && task.votes_cancelled != 0 {
        Some("votes cancelled while the task is still open")
    } else {
        None
    };
    match why {
        Some(why) => Err(Violation::Votes {
            item: task.item_id.clone(),
            state: task.state,
            rule: decider.rule_name(),
            needed,
            departments: n,
            approvals,
            against,
            why,
        }),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------- 4

/// Invariant 4 on a case whose results left (Delivered, Closed, or Revoked after delivery):
/// every material an issued item needs is present (handed in, supplied or shared), except
/// tolerated ones of items that may issue before cure. Other cases pass.
pub fn delivery(def: &Definition, case: &Case) -> Result<(), Violation> {
    if case.delivered.is_none() || case.outcome == Some(Outcome::Denied) {
        return Ok(()); // nothing left, or a denial issues nothing a material could be missing for
    }
    for task in case.tasks.iter().filter(|t| t.state != TaskState::NotApplicable) {
        let item = def.item(task.item);
        for &(m, need) in &item.materials {
            let present = case.materials.binary_search(&m).is_ok() || def.material(m).shared_source.is_some();
            let held = need == MaterialNeed::Required || (need == MaterialNeed::Tolerable && !item.issue_before_cure);
            if held && !present {
                return Err(Violation::DeliveredWithout {
                    material: def.material(m).id.clone(),
                    item: item.id.clone(),
                    need,
                    issue_before_cure: item.issue_before_cure,
                });
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------- 5

/// Invariant 5 on every running clock of a case.
pub fn deadlines(def: &Definition, case: &Case) -> Result<(), Violation> {
    if let Some(problem) = case.sla.as_ref().filter(|s| !s.stopped).and_then(|s| deadline_problem(def, s)) {
        return Err(Violation::Deadline { item: None, problem });
    }
    // A task held for a special procedure or the applicant's supplement (补充材料) has no
    // running clock, nor has its case.
    if let Some(task) = case.tasks.iter().find(|t| t.state.holds_clock()) {
        let runs = |sla: &Option<Sla>| sla.as_ref().is_some_and(|s| !s.stopped && s.paused_since.is_none());
        if runs(&case.sla) && case.state == CaseState::InApproval {
            return Err(Violation::Deadline { item: None, problem: DeadlineProblem::RunsWhileHeld(task.state) });
        }
        for t in case.tasks.iter().filter(|t| t.state.holds_clock()) {
            if runs(&t.sla) || runs(&t.level_sla) {
                return Err(Violation::Deadline {
                    item: Some(t.item_id.clone()),
                    problem: DeadlineProblem::RunsWhileHeld(t.state),
                });
            }
        }
    }
    for task in &case.tasks {
        if let Some(problem) = task.sla.as_ref().filter(|s| !s.stopped).and_then(|s| deadline_problem(def, s)) {
            return Err(Violation::Deadline { item: Some(task.item_id.clone()), problem });
        }
        if let Some(problem) = task.level_sla.as_ref().and_then(|s| deadline_problem(def, s)) {
            return Err(Violation::Deadline { item: Some(task.item_id.clone()), problem });
        }
    }
    Ok(())
}

fn deadline_problem(def: &Definition, sla: &Sla) -> Option<DeadlineProblem> {
    let cal = def.calendar();
    let deadline = match sla.deadline(cal) {
        Ok(d) => d,
        Err(e) => return Some(DeadlineProblem::Calendar(e.to_string())),
    };
    let worked = match cal.working_minutes_between(sla.start, deadline) {
        Ok(w) => w,
        Err(e) => return Some(DeadlineProblem::Calendar(e.to_string())),
    };
    if worked != sla.budget_minutes + sla.paused_minutes {
        return Some(DeadlineProblem::Length {
            deadline,
            start: sla.start,
            worked,
            budget: sla.budget_minutes,
            paused: sla.paused_minutes,
        });
    }
    if !cal.is_working_day(deadline.date()).unwrap_or(false) {
        return Some(DeadlineProblem::DayOff(deadline));
    }
    let minute = deadline.minute_of_day();
    if !cal.office_periods().iter().any(|p| p.open < minute && minute <= p.close) {
        return Some(DeadlineProblem::OutsideOfficeHours(deadline));
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
        return Some(DeadlineProblem::Timer { deadline, next, level: sla.level, paused: sla.paused_since.is_some() });
    }
    None
}

// ---------------------------------------------------------------------- 6

/// Invariant 6 on an engine and the whole log it recorded: within each stream the recorded
/// times never run backwards (a timer found late is stamped when it is found), and replaying
/// the log gives the same cases and tickets.
pub fn replay(engine: &Engine, log: &[Recorded]) -> Result<(), Violation> {
    let mut last: BTreeMap<StreamId, Instant> = BTreeMap::new();
    for rec in log {
        if let Some(previous) = last.insert(rec.stream, rec.at)
            && previous > rec.at
        {
            return Err(Violation::TimeRunsBack { stream: rec.stream, at: rec.at, previous });
        }
    }
    let replayed = Engine::replay_versions(engine.versions().to_vec(), log)
        .map_err(|e| Violation::ReplayDiffers(format!("fails: {e}")))?;
    if let Some((a, b)) = engine.cases().zip(replayed.cases()).find(|(a, b)| a != b) {
        return Err(Violation::ReplayDiffers(format!(
            "gives case {} in {} instead of {}",
            b.id,
            b.state.name(),
            a.state.name()
        )));
    }
    if engine.cases().count() != replayed.cases().count() || engine.tickets() != replayed.tickets() {
        return Err(Violation::ReplayDiffers("gives other streams".into()));
    }
    Ok(())
}

// ---------------------------------------------------------------------- 7

/// Invariant 7 on one recorded event: the actor who recorded it was entitled to (a reviewer of
/// a deciding department for task decisions, intake clerks for intake decisions, the delivery
/// window for delivery, supervisors for supervision, the responsible department's staff for
/// rectification, the system for timers, and an applicant only for their own case:
/// `applicant` is the applicant of the event's case stream, when it is one).
pub fn authority(def: &Definition, applicant: Option<&Id>, rec: &Recorded) -> Result<(), Violation> {
    let decides = |item: &Id| match &rec.by.role {
        Role::Reviewer { department } => def.item_ix(item).is_some_and(|ix| {
            def.item(ix).decided_by.departments().iter().any(|&d| def.department(d).id == *department)
        }),
        // A leader signs the levels that say so (分级审批).
        Role::Leader => def
            .item_ix(item)
            .is_some_and(|ix| def.item(ix).levels.iter().any(|l| l.by == crate::definition::LevelSigner::Leader)),
        _ => false,
    };
    let own_department = |d: &Id| matches!(&rec.by.role, Role::Reviewer { department } if department == d);
    let clerk_of =
        |class| matches!(&rec.by.role, Role::Clerk { window } if def.window(window).is_some_and(|w| w.class == class));
    let ok = match &rec.event {
        // An added countersigner (加签) signs for its own department; whether it was added is
        // the engine's and the replay's to check (a signature by a department neither deciding
        // nor added does not fold).
        Event::TaskSigned { item, department } => decides(item) || own_department(department),
        // Its signature (or denial) may be the one that decides; a removal (减签) by a leader too.
        Event::TaskApproved { item } | Event::TaskDenied { item, .. } => {
            decides(item) || matches!(rec.by.role, Role::Leader | Role::Reviewer { .. })
        }
        Event::TaskSignerAdded { item, .. } | Event::TaskSignerRemoved { item, .. } => {
            decides(item) || rec.by.role == Role::Leader
        }
        Event::TaskClaimed { item, .. }
        | Event::TaskVotedAgainst { item, .. }
        | Event::TaskVotesCancelled { item, .. }
        | Event::TaskSimulatedApproved { item }
        | Event::SpecialProcedureStarted { item, .. }
        | Event::SpecialProcedureEnded { item }
        | Event::SimulationConverted { item }
        | Event::SimulationReopened { item }
        | Event::TaskLevelSigned { item, .. }
        | Event::TaskReturned { item, .. }
        | Event::TaskRecalled { item, .. }
        | Event::SupplementRequested { item, .. }
        | Event::TaskTransferred { item, .. }
        | Event::TaskDelegated { item, .. }
        | Event::DelegationResolved { item, .. } => decides(item),
        Event::SupplementProvided { .. } => matches!(rec.by.role, Role::Applicant | Role::Clerk { .. }),
        Event::SupplementLapsed { .. } => rec.by.role == Role::System,
        Event::TaskUrged { .. } => matches!(rec.by.role, Role::Leader | Role::Supervisor { .. }),
        Event::Accepted { deemed: true, .. } => rec.by.role == Role::System,
        Event::Accepted { deemed: false, .. } | Event::Rejected { .. } | Event::CorrectionRequested { .. } => {
            clerk_of(WindowClass::Intake)
        }
        Event::Delivered { .. } => clerk_of(WindowClass::Delivery),
        Event::Rated { by_default: false, .. } | Event::Resubmitted { .. } | Event::Withdrawn => {
            matches!(rec.by.role, Role::Applicant | Role::Clerk { .. })
        }
        Event::Rated { by_default: true, .. }
        | Event::TaskLapsed { .. }
        | Event::CaseSuspended
        | Event::CaseReturned
        | Event::Revoked
        | Event::SlaLevelChanged { .. }
        | Event::TaskLevelSlaChanged { .. }
        | Event::TicketEscalated { .. } => rec.by.role == Role::System,
        Event::TicketPassed
        | Event::TicketFailed { .. }
        | Event::TicketAppealUpheld
        | Event::TicketClosed
        | Event::TicketReopened { .. } => matches!(rec.by.role, Role::Supervisor { .. }),
        // A plan task's ticket goes to rectification when a supervisor or leader opens it.
        Event::TicketRectifying { .. } => {
            matches!(rec.by.role, Role::Reviewer { .. } | Role::Supervisor { .. } | Role::Leader)
        }
        Event::TicketSubmitted { .. } | Event::TicketFedBack { .. } => matches!(rec.by.role, Role::Reviewer { .. }),
        Event::Migrated { .. } => rec.by.role == Role::Admin,
        _ => true,
    };
    // An applicant acts only for themselves: the case they open names them, and a case they act
    // on is theirs (cascades recorded under their command are theirs too).
    let own = rec.by.role != Role::Applicant
        || match &rec.event {
            Event::Consulted { applicant: a, .. } | Event::Submitted { applicant: a, .. } => a.id == rec.by.id,
            _ => applicant.is_none_or(|a| *a == rec.by.id),
        };
    if ok && own {
        Ok(())
    } else {
        Err(Violation::Unauthorized { stream: rec.stream, event: rec.event.name(), by: rec.by.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Applicant, EVENT_SCHEMA_VERSION};
    use crate::machine::task::Task;

    fn hall() -> Definition {
        Definition::from_ron(include_str!("../tests/data/hall.ron"), "hall.ron").expect("the test hall is valid")
    }

    fn recorded(stream: StreamId, event: Event) -> Recorded {
        let at = "2025-01-02T09:30".parse().unwrap();
        Recorded { v: EVENT_SCHEMA_VERSION, stream, seq: 1, at, by: Actor::system(), event }
    }

    #[test]
    fn a_bad_rating_must_open_exactly_one_ticket() {
        let case = CaseId(1);
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
        assert_eq!(one_ticket_per_trigger(&[rated.clone(), opened.clone()]), Ok(()));
        let none = one_ticket_per_trigger(std::slice::from_ref(&rated)).expect_err("no ticket is a violation");
        assert!(matches!(none, Violation::TicketCount { recorded: 1, opened: 0, .. }), "{none}");
        assert!(none.to_string().contains("recorded 1 time(s) but opened 0 ticket(s)"), "{none}");
        assert!(one_ticket_per_trigger(&[rated, opened.clone(), opened]).is_err(), "two tickets are one too many");
        let good = recorded(case.into(), Event::Rated { stars: 5, by_default: false });
        assert_eq!(one_ticket_per_trigger(&[good]), Ok(()));
    }

    #[test]
    fn closing_needs_an_eligible_supervision_decision_after_the_last_submission() {
        let ticket: StreamId = TicketId(1).into();
        let opened = recorded(
            ticket,
            Event::TicketOpened {
                source: TicketSource::Inspection { finding: "f".into(), plan_task: None },
                department: Id::new("market"),
                window: None,
                deadline: None,
            },
        );
        let submitted = recorded(
            ticket,
            Event::TicketSubmitted { what: crate::machine::ticket::Submitted::Explanation, text: "t".into() },
        );
        let mut passed = recorded(ticket, Event::TicketPassed);
        let closed = recorded(ticket, Event::TicketClosed);
        // By a supervisor of the responsible department itself: not eligible (回避).
        passed.by = Actor::supervisor("s", "market");
        let mut log = Supervision::default();
        for rec in [&opened, &submitted, &passed] {
            log.observe(rec).unwrap();
        }
        assert!(!log.supervised(0));
        let violation = log.observe(&closed).expect_err("closed by its own department's supervision");
        assert_eq!(violation.invariant(), Invariant::Supervision);
        // Outside the department: eligible.
        passed.by = Actor::supervisor("s", "supervision");
        let mut log = Supervision::default();
        for rec in [&opened, &submitted, &passed, &closed] {
            log.observe(rec).unwrap();
        }
    }

    fn task(def: &Definition, item: &str, state: TaskState, waits_for: Vec<u16>) -> Task {
        let ix = def.item_ix(item).unwrap();
        Task {
            state,
            waits_for: waits_for.into_iter().map(usize::from).collect(),
            ..Task::fresh(ix, Id::new(item), true)
        }
    }

    fn case(def: &Definition, state: CaseState, tasks: Vec<Task>) -> Case {
        let applicant = Applicant { id: Id::new("a"), name: "申请人".into(), credit_blocked: false };
        let mut case = Case::new(CaseId(1), def.bundle_ix("restaurant").unwrap(), applicant);
        case.state = state;
        case.tasks = tasks;
        case
    }

    /// The votes rule of invariant 3 catches a 票签 task (3 of 5) decided against its votes and a
    /// 或签 task left open after its first decision, and holds for the right outcomes.
    #[test]
    fn votes_must_match_the_decision_of_a_vote_or_any_one() {
        let def = hall();
        let voted =
            |state, signed: u32, against: u32| Task { signed, against, ..task(&def, "expert-review", state, vec![]) };
        let why = |t: &Task| match votes(&def, t) {
            Err(Violation::Votes { why, .. }) => why,
            other => panic!("expected a votes violation, got {other:?}"),
        };
        // Approved with two approvals of the three needed: a broken approval rule.
        assert_eq!(why(&voted(TaskState::Approved, 0b00011, 0)), "approved short of the approvals its rule needs");
        assert_eq!(votes(&def, &voted(TaskState::Approved, 0b00111, 0)), Ok(()));
        // Denied with two against: three approvals are still reachable.
        let early = voted(TaskState::Denied, 0b00001, 0b00110);
        assert_eq!(why(&early), "denied while the approvals it needs could still be reached");
        assert_eq!(votes(&def, &voted(TaskState::Denied, 0b00001, 0b01110)), Ok(()));
        // Still in review with its third approval, or with three against.
        assert_eq!(why(&voted(TaskState::InReview, 0b00111, 0)), "still open although its votes decide it");
        assert_eq!(why(&voted(TaskState::InReview, 0, 0b00111)), "still open although its votes decide it");
        assert_eq!(votes(&def, &voted(TaskState::InReview, 0b00011, 0b01100)), Ok(()));
        // One department for and against.
        assert_eq!(why(&voted(TaskState::InReview, 0b1, 0b1)), "a department is counted twice, or one outside the set");
        // 或签: one approval decides.
        let any = Task { signed: 0b01, ..task(&def, "land-use-review", TaskState::InReview, vec![]) };
        assert_eq!(why(&any), "still open although its votes decide it");
        let v = votes(&def, &any).unwrap_err();
        assert_eq!(v.invariant(), Invariant::TaskOrder);
        assert!(v.to_string().contains("(AnyOf, 1 of 2)"), "{v}");
    }

    #[test]
    fn task_order_needs_approved_predecessors_and_a_decision_when_all_are_done() {
        let def = hall();
        let early = case(
            &def,
            CaseState::InApproval,
            vec![task(&def, "licence", TaskState::Ready, vec![]), task(&def, "food", TaskState::Ready, vec![0])],
        );
        let message = task_order(&def, &early).expect_err("food started before the licence was approved").to_string();
        assert!(message.contains("`food` is Ready although its predecessor `licence` is Ready"), "{message}");
        let stuck = case(&def, CaseState::InApproval, vec![task(&def, "licence", TaskState::Approved, vec![])]);
        assert_eq!(task_order(&def, &stuck), Err(Violation::Undecided));
        let orphan = case(&def, CaseState::Withdrawn, vec![task(&def, "licence", TaskState::InReview, vec![])]);
        assert!(matches!(task_order(&def, &orphan), Err(Violation::OrphanTask { .. })));
        let waiting = case(
            &def,
            CaseState::InApproval,
            vec![task(&def, "licence", TaskState::Denied, vec![]), task(&def, "food", TaskState::Waiting, vec![0])],
        );
        assert!(matches!(task_order(&def, &waiting), Err(Violation::WaitsForFailed { .. })));
    }

    #[test]
    fn delivery_needs_every_required_material() {
        let def = hall();
        let mut delivered = case(&def, CaseState::Delivered, vec![task(&def, "licence", TaskState::Approved, vec![])]);
        delivered.outcome = Some(Outcome::Approved);
        delivered.delivered = Some(("2025-01-02T09:30".parse().unwrap(), crate::event::DeliveryMethod::Window));
        let message = delivery(&def, &delivered).expect_err("licence-form is missing").to_string();
        assert!(message.contains("`licence-form` (Required for `licence`"), "{message}");
        delivered.materials = vec![def.material_ix("licence-form").unwrap()];
        assert_eq!(delivery(&def, &delivered), Ok(()), "id-card comes by data sharing");
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
        let problem = deadline_problem(&def, &stale).expect("the overdue timer must fire at the deadline");
        assert!(matches!(problem, DeadlineProblem::Timer { .. }), "{problem}");
        let mut outside = sla;
        outside.start = "2030-01-02T09:30".parse().unwrap();
        assert!(matches!(deadline_problem(&def, &outside), Some(DeadlineProblem::Calendar(_))));
    }

    #[test]
    fn an_applicant_acts_only_on_their_own_case() {
        let def = hall();
        let mut rec = recorded(CaseId(1).into(), Event::Withdrawn);
        rec.by = Actor::applicant("a");
        assert_eq!(authority(&def, Some(&Id::new("a")), &rec), Ok(()));
        assert!(matches!(authority(&def, Some(&Id::new("b")), &rec), Err(Violation::Unauthorized { .. })));
        rec.event = Event::CaseSuspended;
        assert!(authority(&def, Some(&Id::new("a")), &rec).is_err(), "timers are the system's");
    }
}
