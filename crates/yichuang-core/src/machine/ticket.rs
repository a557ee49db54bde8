//! The ticket machine (问题): the closed loop 评价 → 反馈 → 整改 → 监督.
//!
//! Sources: a bad rating (差评, ≤ 2 stars), a complaint (吐槽找茬) against a window, a department or
//! a process, an overdue task or case (督办), an inspection finding or plan task (巡视/巡察反馈问题).
//! Routing follows 谁办理谁负责. **No ticket is closed without a supervision decision (`pass` or
//! `uphold_appeal`) by a supervisor outside the responsible department after its last
//! rectification or explanation** (DESIGN §4.3 invariant 1).
//!
//! The transitions are the rows of [`TicketMachine`] (rendered in `docs/state-machines.md`).
//! A ticket changes only through [`crate::Engine`]; outside it, it is read through accessors:
//!
//! ```compile_fail
//! # use yichuang_core::*;
//! fn close_it(ticket: &mut Ticket) {
//!     ticket.state = TicketState::Closed; // private: no ticket closes without supervision
//! }
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Ctx, Role};
use crate::definition::{Definition, Id};
use crate::event::{CaseId, Event};
use crate::machine::spec::{self, Never};
use crate::rejection::{Allowed, Rejection, Subject};
use crate::time::{Date, Instant};

/// A ticket number, assigned in opening order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub u64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{:06}", self.0)
    }
}

/// What a complaint is about (吐槽找茬).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComplaintTarget {
    /// A window; `department` answers for it.
    Window {
        /// The window.
        window: Id,
        /// The department running it.
        department: Id,
    },
    /// A department.
    Department(Id),
    /// A process (流程), e.g. "materials asked twice"; `department` answers for it.
    Process {
        /// What is wrong.
        description: String,
        /// The department owning the process.
        department: Id,
    },
}

/// Where a ticket comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketSource {
    /// 差评: a rating ≤ 2 on a case.
    BadRating {
        /// The case.
        case: CaseId,
        /// Stars given.
        stars: u8,
    },
    /// 吐槽找茬, with or without a case.
    Complaint {
        /// Target.
        target: ComplaintTarget,
        /// Related case.
        case: Option<CaseId>,
        /// The complaint.
        text: String,
    },
    /// 督办: a task (or, with `item: None`, a whole case) went overdue.
    Overdue {
        /// The case.
        case: CaseId,
        /// The overdue item.
        item: Option<Id>,
    },
    /// 巡视/巡察反馈问题, or a task of the rectification plan (整改任务).
    Inspection {
        /// The finding.
        finding: String,
        /// The plan task it tracks.
        plan_task: Option<Id>,
    },
}

impl TicketSource {
    /// Short English name of the source kind.
    pub fn kind(&self) -> &'static str {
        match self {
            TicketSource::BadRating { .. } => "bad_rating",
            TicketSource::Complaint { .. } => "complaint",
            TicketSource::Overdue { .. } => "overdue",
            TicketSource::Inspection { plan_task: Some(_), .. } => "plan_task",
            TicketSource::Inspection { .. } => "inspection",
        }
    }
}

/// Why a supervisor failed a rectification (整改不到位).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailKind {
    /// 表面整改.
    Superficial,
    /// 敷衍整改.
    Perfunctory,
    /// 虚假整改.
    False,
    /// 整改不彻底.
    Incomplete,
}

/// A command to a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketCommand {
    /// 立行立改: fix at once (rectification due today).
    FixNow,
    /// 建立台账, 限期整改: rectify by `deadline` (≤ the policy maximum).
    Ledger {
        /// Rectification deadline.
        deadline: Date,
    },
    /// 解释说明: no legal basis for the demand; explain.
    Explain {
        /// The basis.
        basis: String,
    },
    /// 申诉: the rating was mistaken or malicious.
    Appeal {
        /// The reason.
        reason: String,
    },
    /// 提交整改: measures taken and evidence.
    SubmitRectification {
        /// Measures.
        measures: String,
        /// Evidence.
        evidence: String,
    },
    /// 监督通过.
    Pass,
    /// 监督不通过: back to rectification, round + 1, accountability record.
    Fail {
        /// Why.
        kind: FailKind,
    },
    /// 申诉成立: close, exclude the rating from statistics.
    UpholdAppeal,
    /// 反馈: tell the complainant what was done.
    FeedBack {
        /// Message.
        message: String,
    },
    /// 回访: the complainant's satisfaction.
    FollowUp {
        /// Satisfied?
        satisfied: bool,
    },
}

crate::kind_enum! {
    /// The kind of a ticket command ([`TicketCommand::kind`]): the key of the ticket machine's
    /// spec.
    pub enum TicketCommandKind {
        /// 立行立改.
        FixNow = "fix_now",
        /// 建立台账.
        Ledger = "ledger",
        /// 解释说明.
        Explain = "explain",
        /// 申诉.
        Appeal = "appeal",
        /// 提交整改.
        SubmitRectification = "submit_rectification",
        /// 监督通过.
        Pass = "pass",
        /// 监督不通过.
        Fail = "fail",
        /// 申诉成立.
        UpholdAppeal = "uphold_appeal",
        /// 反馈.
        FeedBack = "feed_back",
        /// 回访.
        FollowUp = "follow_up",
    }
}

impl TicketCommand {
    /// The command's kind (its row key in the spec).
    pub fn kind(&self) -> TicketCommandKind {
        match self {
            TicketCommand::FixNow => TicketCommandKind::FixNow,
            TicketCommand::Ledger { .. } => TicketCommandKind::Ledger,
            TicketCommand::Explain { .. } => TicketCommandKind::Explain,
            TicketCommand::Appeal { .. } => TicketCommandKind::Appeal,
            TicketCommand::SubmitRectification { .. } => TicketCommandKind::SubmitRectification,
            TicketCommand::Pass => TicketCommandKind::Pass,
            TicketCommand::Fail { .. } => TicketCommandKind::Fail,
            TicketCommand::UpholdAppeal => TicketCommandKind::UpholdAppeal,
            TicketCommand::FeedBack { .. } => TicketCommandKind::FeedBack,
            TicketCommand::FollowUp { .. } => TicketCommandKind::FollowUp,
        }
    }

    /// Command name.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

crate::kind_enum! {
    /// State of a ticket.
    #[derive(Serialize, Deserialize)]
    pub enum TicketState {
        /// 核实: routed, being verified.
        Verifying,
        /// 整改: being rectified.
        Rectifying,
        /// 待监督: rectification, explanation or appeal awaits the supervisor.
        AwaitingSupervision,
        /// 待反馈: passed; the complainant must be told.
        FeedingBack,
        /// 回访: awaiting the follow-up visit.
        FollowUp,
        /// 办结 (final).
        Closed,
    }
}

crate::kind_enum! {
    /// A ticket timer.
    pub enum TicketTimer {
        /// The verification or rectification deadline passed: escalation + 1.
        Overdue = "overdue",
    }
}

crate::machine_spec! {
    /// The ticket machine (DESIGN §4.2): 评价 → 反馈 → 整改 → 监督.
    pub struct TicketMachine {
        name: "ticket",
        title: "Ticket 问题",
        state: TicketState,
        command: TicketCommandKind,
        timer: TicketTimer,
        cascade: Never,
        initial: [Verifying],
        final: [Closed],
    }
    (Verifying, Command(FixNow)) => [Rectifying], "立行立改: due today";
    (Verifying, Command(Ledger)) => [Rectifying], "建立台账: deadline ≤ 15 wd";
    (Verifying, Command(Explain)) => [AwaitingSupervision], "解释说明 with its basis";
    (Verifying, Command(Appeal)) => [AwaitingSupervision], "申诉: bad ratings only";
    (Verifying, Timer(Overdue)) => [Verifying], "督办 L1, 约谈 L2; 问责";
    (Rectifying, Command(SubmitRectification)) => [AwaitingSupervision], "measures and evidence";
    (Rectifying, Timer(Overdue)) => [Rectifying], "督办 L1, 约谈 L2; 问责";
    (AwaitingSupervision, Command(Pass)) => [FeedingBack], "a supervisor outside the department";
    (AwaitingSupervision, Command(Fail)) => [Rectifying], "round + 1; 问责";
    (AwaitingSupervision, Command(UpholdAppeal)) => [Closed], "rating excluded from statistics";
    (FeedingBack, Command(FeedBack)) => [FollowUp], "回访 due within 5 wd";
    (FollowUp, Command(FollowUp)) => [Closed, Rectifying], "satisfied closes; unsatisfied: round + 1";
}

/// Why a ticket event does not fit the ticket (a corrupted or reordered log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IllegalTicketEvent {
    /// The ticket is in another state.
    #[error("ticket {ticket} is {}", state.name())]
    State {
        /// The ticket.
        ticket: TicketId,
        /// Its state.
        state: TicketState,
    },
    /// Closing without a supervision decision after the last submission (invariant 1).
    #[error("ticket {0} cannot close: no supervision decision followed its last submission")]
    Unsupervised(TicketId),
    /// A ticket opens once.
    #[error("ticket {0} is already open")]
    OpensOnce(TicketId),
    /// A case event in a ticket stream.
    #[error("{0} is not a ticket event")]
    NotATicketEvent(&'static str),
}

/// What the ticket awaits supervision of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Submitted {
    /// A rectification.
    Rectification,
    /// An explanation.
    Explanation,
    /// An appeal.
    Appeal,
}

/// An accountability record (问责记录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accountability {
    /// When.
    pub at: Instant,
    /// The department held to account.
    pub department: Id,
    /// Why: an escalation level or a failed supervision.
    pub reason: String,
}

/// A ticket. Read-only outside the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    pub(crate) id: TicketId,
    pub(crate) source: TicketSource,
    pub(crate) department: Id,
    pub(crate) window: Option<Id>,
    pub(crate) state: TicketState,
    pub(crate) opened_at: Instant,
    pub(crate) deadline: Option<Instant>,
    pub(crate) escalation: u8,
    pub(crate) rounds: u32,
    pub(crate) submitted: Option<Submitted>,
    /// A supervision decision has been made since the last rectification or explanation.
    /// (Closing requires it; [`crate::invariants`] checks the stronger log-based form.)
    pub(crate) supervised: bool,
    pub(crate) excluded: bool,
    pub(crate) accountability: Vec<Accountability>,
    pub(crate) closed_at: Option<Instant>,
    pub(crate) version: u32,
    /// Time of the last event folded (an overdue timer found late is stamped no earlier).
    pub(crate) updated_at: Instant,
}

/// Read-only views.
impl Ticket {
    /// Number.
    pub fn id(&self) -> TicketId {
        self.id
    }
    /// Where it comes from.
    pub fn source(&self) -> &TicketSource {
        &self.source
    }
    /// The responsible department (谁办理谁负责).
    pub fn department(&self) -> &Id {
        &self.department
    }
    /// The responsible window, when a window handled the case.
    pub fn window(&self) -> Option<&Id> {
        self.window.as_ref()
    }
    /// The state.
    pub fn state(&self) -> TicketState {
        self.state
    }
    /// When it was opened.
    pub fn opened_at(&self) -> Instant {
        self.opened_at
    }
    /// The current deadline (verification, rectification or follow-up).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    /// Escalation level: 0, 1 (督办), 2 (约谈).
    pub fn escalation(&self) -> u8 {
        self.escalation
    }
    /// Rectification rounds (1 at the first rectification; + 1 per failed supervision or
    /// unsatisfied follow-up).
    pub fn rounds(&self) -> u32 {
        self.rounds
    }
    /// What awaits supervision.
    pub fn submitted(&self) -> Option<Submitted> {
        self.submitted
    }
    /// Whether a supervision decision followed the last submission.
    pub fn supervised(&self) -> bool {
        self.supervised
    }
    /// Whether the rating is excluded from statistics (appeal upheld).
    pub fn excluded(&self) -> bool {
        self.excluded
    }
    /// The accountability records (问责记录).
    pub fn accountability(&self) -> &[Accountability] {
        &self.accountability
    }
    /// When it was closed.
    pub fn closed_at(&self) -> Option<Instant> {
        self.closed_at
    }
    /// Events folded (the stream's version).
    pub fn version(&self) -> u32 {
        self.version
    }
    /// Whether `actor` may read this ticket: staff of the hall, or the applicant of the case it
    /// is about (a bad rating, an overdue task, or a complaint linked to their case). Tickets
    /// about no case (inspection findings, complaints without a case) are staff's only.
    pub fn readable_by(&self, actor: &Actor, case_applicant: Option<&Id>) -> bool {
        actor.role != Role::Applicant || case_applicant.is_some_and(|a| *a == actor.id)
    }
    /// The case the ticket is about, if any.
    pub fn case(&self) -> Option<CaseId> {
        match &self.source {
            TicketSource::BadRating { case, .. } | TicketSource::Overdue { case, .. } => Some(*case),
            TicketSource::Complaint { case, .. } => *case,
            TicketSource::Inspection { .. } => None,
        }
    }
}

impl Ticket {
    /// A ticket as opened.
    pub(crate) fn opened(
        id: TicketId,
        source: TicketSource,
        department: Id,
        window: Option<Id>,
        at: Instant,
        deadline: Option<Instant>,
    ) -> Ticket {
        Ticket {
            id,
            source,
            department,
            window,
            state: TicketState::Verifying,
            opened_at: at,
            deadline,
            escalation: 0,
            rounds: 0,
            submitted: None,
            supervised: false,
            excluded: false,
            accountability: Vec::new(),
            closed_at: None,
            version: 1,
            updated_at: at,
        }
    }

    /// The responsible department's staff act on verification, rectification and feedback.
    fn require_responsible(&self, actor: &Actor, command: &'static str) -> Result<(), Rejection> {
        match &actor.role {
            Role::Reviewer { department } if *department == self.department => Ok(()),
            Role::Reviewer { .. } => Err(Rejection::WrongDepartment {
                actor: actor.clone(),
                subject: Subject::Ticket(self.id),
                departments: vec![self.department.clone()],
            }),
            _ => Err(Rejection::RoleNotAllowed {
                rule: "谁办理谁负责 (the responsible department rectifies)",
                actor: actor.clone(),
                command,
                allowed: Allowed::StaffOf(self.department.clone()),
            }),
        }
    }

    /// Supervision (and the supervising body's follow-up visit) by a supervisor outside the
    /// responsible department.
    fn require_supervisor(&self, actor: &Actor, command: &'static str) -> Result<(), Rejection> {
        match &actor.role {
            Role::Supervisor { department } if *department != self.department => Ok(()),
            Role::Supervisor { .. } => Err(Rejection::RoleNotAllowed {
                rule: "回避 (nobody supervises their own department)",
                actor: actor.clone(),
                command,
                allowed: Allowed::SupervisorOutside(self.department.clone()),
            }),
            _ => Err(Rejection::RoleNotAllowed {
                rule: "监督 (only a supervisor, 效能监察, decides supervision)",
                actor: actor.clone(),
                command,
                allowed: Allowed::SupervisorOutside(self.department.clone()),
            }),
        }
    }

    /// Decides a command: who (the responsible department, or a supervisor outside it), when
    /// (the spec), what (the command's guard). Events, or the rejection.
    pub(crate) fn decide(
        &self,
        def: &Definition,
        command: &TicketCommand,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<Event>, Rejection> {
        let name = command.name();
        let supervision = matches!(
            command,
            TicketCommand::Pass
                | TicketCommand::Fail { .. }
                | TicketCommand::UpholdAppeal
                | TicketCommand::FollowUp { .. }
        );
        if supervision {
            self.require_supervisor(ctx.actor, name)?;
        } else {
            self.require_responsible(ctx.actor, name)?;
        }
        spec::admit::<TicketMachine>(self.state, command.kind())
            .map_err(|r| Rejection::invalid_state(Subject::Ticket(self.id), name, r))?;
        let cal = def.calendar();
        let text = |s: &str, what: &'static str| {
            if s.trim().is_empty() {
                Err(Rejection::ReasonRequired { rule: "整改留痕 (every step is recorded with its content)", what })
            } else {
                Ok(())
            }
        };
        let event = match command {
            TicketCommand::FixNow => {
                let deadline = if cal.is_working_day(ctx.now.date())? && ctx.now < cal.office_close(ctx.now.date()) {
                    cal.office_close(ctx.now.date())
                } else {
                    cal.office_close(cal.next_working_day(ctx.now.date())?)
                };
                Event::TicketRectifying { deadline, immediate: true }
            }
            TicketCommand::Ledger { deadline } => {
                let latest = cal.add_working_days(ctx.now.date(), def.policies().ticket_rectify_max_days)?;
                if *deadline > latest || *deadline < ctx.now.date() {
                    return Err(Rejection::DeadlineOutOfRange {
                        due: *deadline,
                        latest,
                        max_days: def.policies().ticket_rectify_max_days,
                    });
                }
                Event::TicketRectifying { deadline: cal.office_close(*deadline), immediate: false }
            }
            TicketCommand::Explain { basis } => {
                text(basis, "basis")?;
                Event::TicketSubmitted { what: Submitted::Explanation, text: basis.clone() }
            }
            TicketCommand::Appeal { reason } => {
                if !matches!(self.source, TicketSource::BadRating { .. }) {
                    return Err(Rejection::NotAllowedFor {
                        rule: "申诉复核 (only a bad rating can be appealed)",
                        subject: Subject::Ticket(self.id),
                        reason: "is not about a rating; fix it, ledger it or explain",
                    });
                }
                text(reason, "reason")?;
                Event::TicketSubmitted { what: Submitted::Appeal, text: reason.clone() }
            }
            TicketCommand::SubmitRectification { measures, evidence } => {
                text(measures, "measures")?;
                text(evidence, "evidence")?;
                let submitted = Event::TicketSubmitted {
                    what: Submitted::Rectification,
                    text: format!("{measures}；证据：{evidence}"),
                };
                #[cfg(feature = "fault-injection")]
                if crate::fault::active(crate::fault::Fault::CloseWithoutSupervision) {
                    // The broken rule: the department passes its own rectification.
                    return Ok(vec![submitted, Event::TicketPassed]);
                }
                submitted
            }
            TicketCommand::Pass => {
                if self.submitted == Some(Submitted::Appeal) {
                    return Err(Rejection::NotAllowedFor {
                        rule: "申诉复核",
                        subject: Subject::Ticket(self.id),
                        reason: "awaits a decision on an appeal: uphold it (uphold_appeal) or reject it (fail)",
                    });
                }
                Event::TicketPassed
            }
            TicketCommand::Fail { kind } => {
                let deadline =
                    cal.office_close(cal.add_working_days(ctx.now.date(), def.policies().ticket_rectify_max_days)?);
                Event::TicketFailed { kind: *kind, deadline }
            }
            TicketCommand::UpholdAppeal => {
                if self.submitted != Some(Submitted::Appeal) {
                    return Err(Rejection::NotAllowedFor {
                        rule: "申诉复核",
                        subject: Subject::Ticket(self.id),
                        reason: "awaits supervision of a rectification or explanation, not an appeal: pass or fail it",
                    });
                }
                Event::TicketAppealUpheld
            }
            TicketCommand::FeedBack { message } => {
                text(message, "message")?;
                let due = cal.office_close(cal.add_working_days(ctx.now.date(), def.policies().ticket_follow_up_days)?);
                Event::TicketFedBack { message: message.clone(), follow_up_due: due }
            }
            TicketCommand::FollowUp { satisfied: true } => Event::TicketClosed,
            TicketCommand::FollowUp { satisfied: false } => {
                let deadline =
                    cal.office_close(cal.add_working_days(ctx.now.date(), def.policies().ticket_rectify_max_days)?);
                Event::TicketReopened { deadline }
            }
        };
        Ok(vec![event])
    }

    /// Folds a ticket event; `Err` names why it is not legal here.
    pub(crate) fn evolve(&mut self, event: &Event, at: Instant) -> Result<(), IllegalTicketEvent> {
        use TicketState::*;
        let need = |ok: bool, s: &Ticket| {
            if ok { Ok(()) } else { Err(IllegalTicketEvent::State { ticket: s.id, state: s.state }) }
        };
        match event {
            Event::TicketOpened { .. } => return Err(IllegalTicketEvent::OpensOnce(self.id)),
            Event::TicketRectifying { deadline, .. } => {
                need(self.state == Verifying, self)?;
                self.state = Rectifying;
                self.deadline = Some(*deadline);
                self.rounds = self.rounds.max(1);
            }
            Event::TicketSubmitted { what, .. } => {
                need(
                    matches!(
                        (self.state, what),
                        (Verifying, Submitted::Explanation | Submitted::Appeal)
                            | (Rectifying, Submitted::Rectification)
                    ),
                    self,
                )?;
                self.state = AwaitingSupervision;
                self.submitted = Some(*what);
                self.supervised = false;
                self.deadline = None;
            }
            Event::TicketPassed => {
                need(self.state == AwaitingSupervision, self)?;
                self.state = FeedingBack;
                self.supervised = true;
            }
            Event::TicketFailed { kind, deadline, .. } => {
                need(self.state == AwaitingSupervision, self)?;
                self.state = Rectifying;
                self.rounds += 1;
                self.supervised = true;
                self.deadline = Some(*deadline);
                self.accountability.push(Accountability {
                    at,
                    department: self.department.clone(),
                    reason: format!("supervision failed: {kind:?}"),
                });
            }
            Event::TicketAppealUpheld => {
                need(self.state == AwaitingSupervision, self)?;
                self.state = Closed;
                self.supervised = true;
                self.excluded = true;
                self.closed_at = Some(at);
            }
            Event::TicketFedBack { follow_up_due, .. } => {
                need(self.state == FeedingBack, self)?;
                self.state = FollowUp;
                self.deadline = Some(*follow_up_due);
            }
            Event::TicketClosed => {
                need(self.state == FollowUp, self)?;
                if !self.supervised {
                    return Err(IllegalTicketEvent::Unsupervised(self.id));
                }
                self.state = Closed;
                self.deadline = None;
                self.closed_at = Some(at);
            }
            Event::TicketReopened { deadline, .. } => {
                need(self.state == FollowUp, self)?;
                self.state = Rectifying;
                self.rounds += 1;
                self.deadline = Some(*deadline);
            }
            Event::TicketEscalated { level, next_deadline, .. } => {
                need(matches!(self.state, Verifying | Rectifying) && *level == self.escalation + 1, self)?;
                self.escalation = *level;
                self.deadline = *next_deadline;
                let what = if *level == 1 { "督办 (L1)" } else { "约谈 (L2)" };
                self.accountability.push(Accountability {
                    at,
                    department: self.department.clone(),
                    reason: format!("overdue, escalated to {what}"),
                });
            }
            _ => return Err(IllegalTicketEvent::NotATicketEvent(event.name())),
        }
        self.updated_at = self.updated_at.max(at);
        self.version += 1;
        Ok(())
    }

    /// The pending timer: an overdue deadline while verifying or rectifying.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            TicketState::Verifying | TicketState::Rectifying if self.escalation < 2 => self.deadline,
            _ => None,
        }
    }

    /// Fires the overdue timer: escalation + 1 with a fresh period for the next level.
    pub(crate) fn fire_due_timer(&self, def: &Definition, now: Instant) -> Option<(Instant, Event)> {
        let due = self.next_deadline().filter(|d| *d <= now)?;
        let at = self.updated_at.max(due);
        let level = self.escalation + 1;
        let cal = def.calendar();
        let period = match self.state {
            TicketState::Verifying => def.policies().ticket_verify_days,
            _ => def.policies().ticket_rectify_max_days,
        };
        let next_deadline = if level < 2 {
            cal.add_working_days(due.date(), period.max(1)).ok().map(|d| cal.office_close(d))
        } else {
            None
        };
        Some((at, Event::TicketEscalated { level, next_deadline }))
    }
}
