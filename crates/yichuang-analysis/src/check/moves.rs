//! What the checker proposes in each state: exactly the commands the machines' specs declare
//! for the state of the case, of each task and of each ticket of the part explored
//! ([`spec::commands_in`]), each instantiated with its arguments and an actor entitled to it.
//! A row added to a spec is proposed here without any change.

use std::fmt::Write as _;

use yichuang_core::definition::{Bundle, Decider, Definition, LevelSigner, MaterialNeed};
use yichuang_core::machine::case::{CaseMachine, CommandKind};
use yichuang_core::machine::spec;
use yichuang_core::machine::task::{TaskCommandKind, TaskMachine};
use yichuang_core::machine::ticket::TicketCommandKind;
use yichuang_core::machine::ticket::TicketMachine;
use yichuang_core::{
    Actor, Applicant, Case, Command, Date, DeliveryMethod, FailKind, Id, Instant, Rejection, ReturnTo,
    SpecialProcedureKind, Submission, Task, TaskCommand, Ticket, TicketCommand, TicketId, TicketState,
};

use super::explore::{Explorer, Node, Part};

/// At most this many answer combinations of condition fields are explored.
const ANSWER_SETS_MAX: usize = 64;

/// A task command of the checker, by position in the bundle's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TaskMove {
    Claim,
    /// Approve, or sign for the department at this position of a countersign.
    Approve(u8),
    /// Deny, or vote against for the department at this position of a 或签 or 票签 set.
    Deny(u8),
    StartSpecialProcedure,
    EndSpecialProcedure,
    ApproveSimulated,
    MeetPrecondition {
        facts_changed: bool,
    },
    /// 退回 to the first level (`true`) or the previous one.
    Return {
        first: bool,
    },
    /// 催办 (proposed once per task: a second urge changes nothing but the count).
    Urge,
    /// 撤回 by the signer: the department at this position of a countersign takes back its
    /// signature, or (position 0 of a single department) the approver takes back the approval.
    Recall(u8),
}

/// A ticket command of the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TicketMove {
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
pub(super) enum Move {
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
    /// The clock jumps to the earliest pending timer of the case or any ticket.
    Advance,
    /// The clock jumps to the case's earliest pending timer (the case part).
    AdvanceCase,
    /// The clock jumps to the deadline of the ticket at this slot (its part).
    AdvanceTicket(u16),
    /// Time passes for the ticket at this slot without reaching its deadline: to the office's
    /// close today, or from the close to the opening of the next working day (its part).
    Later(u16),
}

/// What a move asks the engine to do.
pub(super) enum Action {
    Open(Command),
    Case(Command),
    Ticket(TicketId, TicketCommand),
    /// To this instant, or (`None`) to the engine's next deadline.
    Advance(Option<Instant>),
}

impl Explorer {
    /// The moves worth proposing in `node` for `part`; the engine decides which are accepted.
    pub(super) fn moves(&self, part: Part, node: &Node, out: &mut Vec<Move>) {
        out.clear();
        if let Part::Ticket(slot) = part {
            let Some(ticket) = node.engine.tickets().get(usize::from(slot)) else { return };
            ticket_moves(ticket, slot, self.redo_left(node, usize::from(slot)), out);
            if let Some(deadline) = ticket.next_deadline() {
                out.push(Move::AdvanceTicket(slot));
                if later(&self.def, node.now).is_some_and(|t| t < deadline) {
                    out.push(Move::Later(slot));
                }
            }
            return;
        }
        match node.case() {
            None => {
                if self.consult.is_some() {
                    out.push(Move::Consult);
                }
                out.extend((0..self.submissions.len()).map(|i| Move::Submit(i as u16)));
            }
            Some(case) => {
                let left = (node.recalls < self.options.recall_max, node.returns < self.options.return_max);
                self.case_moves(case, left, out)
            }
        }
        if part == Part::Case {
            if node.case().and_then(|c| c.next_deadline(&self.def)).is_some() {
                out.push(Move::AdvanceCase);
            }
            return;
        }
        for (slot, ticket) in node.engine.tickets().iter().enumerate() {
            ticket_moves(ticket, slot as u16, self.redo_left(node, slot), out);
        }
        if pending_timer(&self.def, node).is_some() {
            out.push(Move::Advance);
        }
    }

    /// Whether the ticket at `slot` may still fail a supervision or a follow-up.
    fn redo_left(&self, node: &Node, slot: usize) -> bool {
        node.redo.get(slot).copied().unwrap_or(0) < self.options.redo_max
    }

    /// The case's moves: the commands its spec declares in its state.
    fn case_moves(&self, case: &Case, left: (bool, bool), out: &mut Vec<Move>) {
        for kind in spec::commands_in::<CaseMachine>(case.state()) {
            match kind {
                CommandKind::Consult => {}
                CommandKind::Submit => out.extend((0..self.submissions.len()).map(|i| Move::Submit(i as u16))),
                CommandKind::Accept => out.push(Move::Accept),
                CommandKind::AcceptTolerating => out.push(Move::AcceptTolerating),
                CommandKind::RequestCorrection => out.push(Move::RequestCorrection),
                CommandKind::Reject => out.push(Move::Reject),
                CommandKind::Resubmit => out.push(Move::Resubmit),
                CommandKind::Supply => out.extend((0..case.outstanding().len()).map(|i| Move::Supply(i as u16))),
                CommandKind::Task => {
                    for (p, task) in case.tasks().iter().enumerate() {
                        self.task_moves(p as u16, task, left, out);
                    }
                }
                CommandKind::Deliver => out.push(Move::Deliver),
                CommandKind::Rate => out.extend([Move::Rate(5), Move::Rate(1)]),
                CommandKind::Withdraw => out.push(Move::Withdraw),
                // A migration needs a second version: `check --migrations` explores it apart.
                CommandKind::Migrate => {}
            }
        }
    }

    /// A task's moves: the commands the task spec declares in its state (approve once per
    /// countersigning department; the engine refuses a second signature and a simulated
    /// approval of an item without a precondition).
    fn task_moves(&self, p: u16, task: &Task, (recall_left, return_left): (bool, bool), out: &mut Vec<Move>) {
        let m = |t| Move::Task(p, t);
        for kind in spec::commands_in::<TaskMachine>(task.state()) {
            match kind {
                TaskCommandKind::Claim => out.push(m(TaskMove::Claim)),
                TaskCommandKind::Approve => {
                    let departments = self.def.item(task.item()).decided_by.departments().len().min(32);
                    out.extend((0..departments).map(|d| m(TaskMove::Approve(d as u8))));
                }
                TaskCommandKind::Deny => {
                    // 或签 and 票签: each department may vote against; otherwise the first denies.
                    let decider = &self.def.item(task.item()).decided_by;
                    let voters = match decider {
                        Decider::AnyOf(ds) | Decider::Vote { of: ds, .. } => ds.len().min(32),
                        _ => 1,
                    };
                    out.extend((0..voters).map(|d| m(TaskMove::Deny(d as u8))));
                }
                TaskCommandKind::StartSpecialProcedure => out.push(m(TaskMove::StartSpecialProcedure)),
                TaskCommandKind::EndSpecialProcedure => out.push(m(TaskMove::EndSpecialProcedure)),
                TaskCommandKind::ApproveSimulated => out.push(m(TaskMove::ApproveSimulated)),
                TaskCommandKind::MeetPrecondition => out.extend([
                    m(TaskMove::MeetPrecondition { facts_changed: false }),
                    m(TaskMove::MeetPrecondition { facts_changed: true }),
                ]),
                // At most `return_max` in a case: a return restarts the level's clock, so
                // returning and signing again could run the case to the calendar's end.
                TaskCommandKind::Return if !return_left => {}
                // Below the second level, the previous level is the first.
                TaskCommandKind::Return if task.level() > 1 => {
                    out.extend([m(TaskMove::Return { first: false }), m(TaskMove::Return { first: true })])
                }
                TaskCommandKind::Return => out.push(m(TaskMove::Return { first: false })),
                TaskCommandKind::Urge if task.urged() == 0 => out.push(m(TaskMove::Urge)),
                TaskCommandKind::Urge => {}
                // 撤回: each countersigning department whose signature stands, or the approver;
                // at most `recall_max` in a case (a recall and a new approval restart the
                // dependents' clocks, so without a bound the case could run to the calendar's
                // end recalling and approving again).
                // 加签 / 减签 are not explored yet (the machines' tests take their rows).
                TaskCommandKind::AddSigner | TaskCommandKind::RemoveSigner => {}
                TaskCommandKind::Recall if !recall_left => {}
                TaskCommandKind::Recall => match &self.def.item(task.item()).decided_by {
                    Decider::Countersign(ds) | Decider::AnyOf(ds) | Decider::Vote { of: ds, .. } => out.extend(
                        (0..ds.len().min(32))
                            .filter(|d| task.signed() & (1 << d) != 0)
                            .map(|d| m(TaskMove::Recall(d as u8))),
                    ),
                    Decider::Department(_) => out.push(m(TaskMove::Recall(0))),
                },
                // 补充材料 is not proposed yet (its deadline is a timer the checker would have to
                // advance to; the engine's tests take its rows).
                TaskCommandKind::RequestSupplement | TaskCommandKind::ProvideSupplement => {}
                // 转办/委派 move work between people, which the checker's one actor per level
                // does not model.
                TaskCommandKind::Transfer | TaskCommandKind::Delegate | TaskCommandKind::ResolveDelegation => {}
            }
        }
    }

    /// The actor and the engine call of a move in `node`; `None` when nobody could issue it
    /// (e.g. the definition has no window of the class needed).
    pub(super) fn command(&self, node: &Node, mv: Move) -> Option<(Actor, Action)> {
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
                let cure_due =
                    self.accepted(def.latest_cure_date(self.bundle, node.now.date()).map_err(Rejection::from))?;
                (self.intake.clone()?, Action::Case(Command::AcceptTolerating { cure_due }))
            }
            Move::RequestCorrection => (self.intake.clone()?, Action::Case(Command::RequestCorrection)),
            Move::Reject => {
                let reason = "不符合受理条件 (checker)".to_owned();
                (self.intake.clone()?, Action::Case(Command::Reject { reason }))
            }
            Move::Resubmit => (applicant(), Action::Case(Command::Resubmit { materials: case?.correction().to_vec() })),
            Move::Supply(i) => {
                let material = case?.outstanding().get(usize::from(i))?.clone();
                (applicant(), Action::Case(Command::Supply { material }))
            }
            Move::Task(p, t) => self.task_command(case?, usize::from(p), t)?,
            Move::Deliver => {
                (self.delivery.clone()?, Action::Case(Command::Deliver { method: DeliveryMethod::Window }))
            }
            Move::Rate(stars) => (applicant(), Action::Case(Command::Rate { stars })),
            Move::Withdraw => (applicant(), Action::Case(Command::Withdraw)),
            Move::Ticket(slot, t) => self.ticket_command(node, usize::from(slot), t)?,
            Move::Advance => (Actor::system(), Action::Advance(None)),
            Move::AdvanceCase => (Actor::system(), Action::Advance(Some(case?.next_deadline(def)?))),
            Move::AdvanceTicket(slot) => {
                (Actor::system(), Action::Advance(Some(node.engine.tickets().get(usize::from(slot))?.next_deadline()?)))
            }
            Move::Later(_) => (Actor::system(), Action::Advance(Some(later(def, node.now)?))),
        })
    }

    fn task_command(&self, case: &Case, p: usize, t: TaskMove) -> Option<(Actor, Action)> {
        let task = case.tasks().get(p)?;
        let departments = self.def.item(task.item()).decided_by.departments();
        let department = match t {
            TaskMove::Approve(d) | TaskMove::Recall(d) | TaskMove::Deny(d) => *departments.get(usize::from(d))?,
            _ => *departments.first()?,
        };
        let action = match t {
            TaskMove::Claim => TaskCommand::Claim,
            TaskMove::Approve(_) => TaskCommand::Approve,
            TaskMove::Deny(_) => TaskCommand::Deny { reason: "不符合许可条件 (checker)".into() },
            TaskMove::StartSpecialProcedure => {
                TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::ExpertReview }
            }
            TaskMove::EndSpecialProcedure => TaskCommand::EndSpecialProcedure,
            TaskMove::ApproveSimulated => TaskCommand::ApproveSimulated,
            TaskMove::MeetPrecondition { facts_changed } => TaskCommand::MeetPrecondition { facts_changed },
            TaskMove::Return { first } => TaskCommand::Return {
                to: if first { ReturnTo::First } else { ReturnTo::Previous },
                reason: "需要重新审查 (checker)".into(),
            },
            TaskMove::Urge => TaskCommand::Urge { note: "请加快办理 (checker)".into() },
            TaskMove::Recall(_) => TaskCommand::Recall,
        };
        let command = Command::Task { item: task.item_id().clone(), action };
        // One person per review level (受审分离): the level's signer, a leader where it says so.
        let level = task.level();
        let item = self.def.item(task.item());
        let actor = match item.levels.get(level) {
            _ if t == TaskMove::Urge => Actor::leader("leader-checker"),
            // 撤回 of an approval: the person who signed it, in the role of the last level.
            _ if matches!(t, TaskMove::Recall(_)) && matches!(item.decided_by, Decider::Department(_)) => {
                let approver = task.approver()?;
                match item.levels.last() {
                    Some(l) if l.by == LevelSigner::Leader => Actor::leader(approver.as_str()),
                    _ => Actor::reviewer(approver.as_str(), &self.def.department(department).id),
                }
            }
            // A countersigning department's own signature: its reviewer, who signed it.
            _ if matches!(t, TaskMove::Recall(_)) => self.reviewers[department.index()].clone(),
            Some(l) if l.by == LevelSigner::Leader => Actor::leader(&format!("leader-level-{level}")),
            _ if level == 0 => self.reviewers[department.index()].clone(),
            _ => {
                let base = &self.reviewers[department.index()];
                let dept = &self.def.department(department).id;
                Actor::reviewer(&format!("{}-level-{level}", base.id), dept)
            }
        };
        Some((actor, Action::Case(command)))
    }

    fn ticket_command(&self, node: &Node, slot: usize, t: TicketMove) -> Option<(Actor, Action)> {
        let ticket = node.engine.tickets().get(slot)?;
        let department = self.def.department_ix(ticket.department())?.index();
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
        Some((actor, Action::Ticket(ticket.id(), command)))
    }

    /// A move as text, in the state it is applied to.
    pub(super) fn describe(&self, node: &Node, mv: Move) -> String {
        let def = &*self.def;
        let case = node.case();
        let item = |p: u16| case.and_then(|c| c.tasks().get(usize::from(p))).map_or("?", |t| t.item_id().as_str());
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
            Move::Resubmit => format!("resubmit {}", ids(case.map_or(&[][..], |c| c.correction()))),
            Move::Supply(i) => {
                format!("supply {}", case.and_then(|c| c.outstanding().get(usize::from(i))).map_or("?", |m| m.as_str()))
            }
            Move::Task(p, t) => describe_task(def, case, item(p), p, t),
            Move::Deliver => "deliver at the window".into(),
            Move::Rate(stars) => format!("rate {stars}"),
            Move::Withdraw => "withdraw".into(),
            Move::Ticket(slot, t) => format!("{} {}", ticket_move_name(t), ticket(slot)),
            Move::Advance | Move::AdvanceCase | Move::AdvanceTicket(_) | Move::Later(_) => {
                match self.command(node, mv) {
                    Some((_, Action::Advance(Some(due)))) => format!("advance to {due}"),
                    _ => match pending_timer(def, node) {
                        Some(due) => format!("advance to {due}"),
                        None => "advance".into(),
                    },
                }
            }
        }
    }

    // ------------------------------------------------------------------ state key
}

/// Half an hour after opening (or mid-period, if shorter) on the first working day of the
/// calendar's first year.
pub(super) fn default_start(def: &Definition) -> Instant {
    let cal = def.calendar();
    let (first_year, _) = cal.covered_years();
    let january = Date::from_ymd(first_year, 1, 1).expect("January 1st exists");
    let day = cal.next_working_day(january).unwrap_or(january);
    let period = cal.office_periods()[0];
    day.at_minute(period.open + (period.close - period.open).min(60) / 2)
}

/// The submissions to explore: each answer set × {every material, tolerable missing, a required
/// material missing}.
pub(super) fn submissions(def: &Definition, bundle: &Bundle, applicant: &Applicant) -> Vec<(String, Submission)> {
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
        let answers = yichuang_core::Answers::new(answers);
        for (label, materials) in variants {
            let submission = Submission {
                bundle: bundle.id.clone(),
                applicant: applicant.clone(),
                channel: yichuang_core::definition::Channel::Window,
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
    let mut fields: Vec<(yichuang_core::definition::FieldIx, Vec<Option<String>>)> = Vec::new();
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

/// The ticket's moves: the commands its spec declares in its state; failing a supervision and
/// an unsatisfied follow-up (a new rectification round) only while the ticket has rounds left.
fn ticket_moves(ticket: &Ticket, slot: u16, redo_left: bool, out: &mut Vec<Move>) {
    let m = |t| Move::Ticket(slot, t);
    for kind in spec::commands_in::<TicketMachine>(ticket.state()) {
        match kind {
            TicketCommandKind::FixNow => out.push(m(TicketMove::FixNow)),
            TicketCommandKind::Ledger => out.push(m(TicketMove::Ledger)),
            TicketCommandKind::Explain => out.push(m(TicketMove::Explain)),
            TicketCommandKind::Appeal => out.push(m(TicketMove::Appeal)),
            TicketCommandKind::SubmitRectification => out.push(m(TicketMove::SubmitRectification)),
            TicketCommandKind::Pass => out.push(m(TicketMove::Pass)),
            TicketCommandKind::Fail if redo_left => out.push(m(TicketMove::Fail)),
            TicketCommandKind::Fail => {}
            TicketCommandKind::UpholdAppeal => out.push(m(TicketMove::UpholdAppeal)),
            TicketCommandKind::FeedBack => out.push(m(TicketMove::FeedBack)),
            TicketCommandKind::FollowUp => {
                out.push(m(TicketMove::FollowUp { satisfied: true }));
                if redo_left {
                    out.push(m(TicketMove::FollowUp { satisfied: false }));
                }
            }
        }
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
            let task = case.and_then(|c| c.tasks().get(usize::from(p)));
            let departments = task.map_or(&[][..], |t| def.item(t.item()).decided_by.departments());
            match departments.get(usize::from(d)) {
                Some(&dept) if departments.len() > 1 => {
                    format!("approve {item} (signs for {})", def.department(dept).id)
                }
                _ => format!("approve {item}"),
            }
        }
        TaskMove::Deny(d) => {
            let decider = case.and_then(|c| c.tasks().get(usize::from(p))).map(|t| &def.item(t.item()).decided_by);
            match decider {
                Some(Decider::AnyOf(ds) | Decider::Vote { of: ds, .. }) if usize::from(d) < ds.len() => {
                    format!("deny {item} (votes against for {})", def.department(ds[usize::from(d)]).id)
                }
                _ => format!("deny {item}"),
            }
        }
        TaskMove::StartSpecialProcedure => format!("start_special_procedure {item} (expert review)"),
        TaskMove::EndSpecialProcedure => format!("end_special_procedure {item}"),
        TaskMove::ApproveSimulated => format!("approve_simulated {item}"),
        TaskMove::MeetPrecondition { facts_changed: false } => format!("meet_precondition {item} (facts unchanged)"),
        TaskMove::MeetPrecondition { facts_changed: true } => format!("meet_precondition {item} (facts changed)"),
        TaskMove::Return { first: false } => format!("return {item} to the previous level"),
        TaskMove::Return { first: true } => format!("return {item} to the first level"),
        TaskMove::Urge => format!("urge {item}"),
        TaskMove::Recall(d) => {
            let task = case.and_then(|c| c.tasks().get(usize::from(p)));
            let departments = task.map_or(&[][..], |t| def.item(t.item()).decided_by.departments());
            match departments.get(usize::from(d)) {
                Some(&dept) if departments.len() > 1 => format!("recall {item} (for {})", def.department(dept).id),
                _ => format!("recall {item}"),
            }
        }
    }
}

pub(super) fn describe_state(node: &Node) -> String {
    let mut out = match node.case() {
        Some(case) => {
            let open: Vec<String> = case
                .tasks()
                .iter()
                .filter(|t| !t.state().is_terminal())
                .map(|t| format!("{} {}", t.item_id(), t.state().name()))
                .collect();
            let tasks = if open.is_empty() { String::new() } else { format!(" with {}", open.join(", ")) };
            format!("case {}{tasks}", case.state().name())
        }
        None => "no case".into(),
    };
    for ticket in node.engine.tickets().iter().filter(|t| t.state() != TicketState::Closed) {
        let _ = write!(out, "; ticket {} {}", ticket.id(), ticket.state().name());
    }
    out
}

/// Where time passes to for a ticket on its own: the office's close today if it is still open,
/// else the opening of the next working day. A ticket's rules read the clock only through
/// today's date and whether the office is still open (its deadlines are closes of working days),
/// so these two instants stand for every instant of a day.
pub(super) fn later(def: &Definition, now: Instant) -> Option<Instant> {
    let cal = def.calendar();
    let today = now.date();
    if cal.is_working_day(today).ok()? && now < cal.office_close(today) {
        Some(cal.office_close(today))
    } else {
        Some(cal.office_open(cal.next_working_day(today).ok()?))
    }
}

/// The earliest pending timer of the case or a ticket (what [`Engine::next_deadline`] returns).
pub(super) fn pending_timer(def: &Definition, node: &Node) -> Option<Instant> {
    let case = node.case().and_then(|c| c.next_deadline(def));
    let tickets = node.engine.tickets().iter().filter_map(Ticket::next_deadline);
    case.into_iter().chain(tickets).min()
}
