//! The ticket machine (问题): the closed loop 评价 → 反馈 → 整改 → 监督.
//!
//! Sources: a bad rating (差评, ≤ 2 stars), a complaint (吐槽找茬) against a window, a department or
//! a process, an overdue task or case (督办), an inspection finding or plan task (巡视/巡察反馈问题).
//! Routing follows 谁办理谁负责. **No ticket is closed without a supervision decision (`pass` or
//! `uphold_appeal`) by a supervisor outside the responsible department after its last
//! rectification or explanation** (DESIGN §4.3 invariant 1).
//!
//! | from | command / timer | to |
//! |---|---|---|
//! | — | opened from a source | Verifying |
//! | Verifying | `fix_now` / `ledger(deadline ≤ 15 wd)` | Rectifying |
//! | Verifying | `explain(basis)` / `appeal(reason)` | AwaitingSupervision |
//! | Rectifying | `submit_rectification` | AwaitingSupervision |
//! | AwaitingSupervision | `pass` | FeedingBack |
//! | AwaitingSupervision | `fail(kind)` | Rectifying (round + 1, 问责) |
//! | AwaitingSupervision | `uphold_appeal` | Closed (rating excluded) |
//! | FeedingBack | `feed_back` | FollowUp |
//! | FollowUp | `follow_up(satisfied)` | Closed |
//! | FollowUp | `follow_up(unsatisfied)` | Rectifying (round + 1) |
//! | Verifying / Rectifying | timer: overdue | same, escalation + 1 (督办 L1, 约谈 L2), 问责 |

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Ctx, Role};
use crate::definition::{Definition, Id};
use crate::event::{CaseId, Event};
use crate::rejection::Rejection;
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

impl TicketCommand {
    /// Command name.
    pub fn name(&self) -> &'static str {
        match self {
            TicketCommand::FixNow => "fix_now",
            TicketCommand::Ledger { .. } => "ledger",
            TicketCommand::Explain { .. } => "explain",
            TicketCommand::Appeal { .. } => "appeal",
            TicketCommand::SubmitRectification { .. } => "submit_rectification",
            TicketCommand::Pass => "pass",
            TicketCommand::Fail { .. } => "fail",
            TicketCommand::UpholdAppeal => "uphold_appeal",
            TicketCommand::FeedBack { .. } => "feed_back",
            TicketCommand::FollowUp { .. } => "follow_up",
        }
    }
}

/// State of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

impl TicketState {
    /// All states.
    pub const ALL: [TicketState; 6] = [
        TicketState::Verifying,
        TicketState::Rectifying,
        TicketState::AwaitingSupervision,
        TicketState::FeedingBack,
        TicketState::FollowUp,
        TicketState::Closed,
    ];
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            TicketState::Verifying => "Verifying",
            TicketState::Rectifying => "Rectifying",
            TicketState::AwaitingSupervision => "AwaitingSupervision",
            TicketState::FeedingBack => "FeedingBack",
            TicketState::FollowUp => "FollowUp",
            TicketState::Closed => "Closed",
        }
    }
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

/// A ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    /// Number.
    pub id: TicketId,
    /// Source.
    pub source: TicketSource,
    /// Responsible department (谁办理谁负责).
    pub department: Id,
    /// Responsible window, when a window handled it.
    pub window: Option<Id>,
    /// State.
    pub state: TicketState,
    /// When opened.
    pub opened_at: Instant,
    /// Current deadline (verification, rectification or follow-up).
    pub deadline: Option<Instant>,
    /// Escalation level: 0, 1 (督办), 2 (约谈).
    pub escalation: u8,
    /// Rectification rounds (1 at the first rectification; + 1 per failed supervision or
    /// unsatisfied follow-up).
    pub rounds: u32,
    /// What awaits supervision.
    pub submitted: Option<Submitted>,
    /// A supervision decision has been made since the last rectification or explanation.
    /// (Closing requires it; the property tests check the stronger log-based form.)
    pub supervised: bool,
    /// The rating is excluded from statistics (appeal upheld).
    pub excluded: bool,
    /// Accountability records.
    pub accountability: Vec<Accountability>,
    /// When closed.
    pub closed_at: Option<Instant>,
    /// Events folded.
    pub version: u32,
    /// Time of the last event folded (an overdue timer found late is stamped no earlier).
    pub updated_at: Instant,
}

impl Ticket {
    /// A ticket as opened.
    pub fn opened(
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
            version: 0,
            updated_at: at,
        }
    }

    fn invalid(&self, command: &'static str, accepted: &str) -> Rejection {
        Rejection::InvalidState {
            command,
            subject: format!("ticket {}", self.id),
            state: self.state.name().into(),
            accepted: accepted.into(),
        }
    }

    /// The responsible department's staff act on verification, rectification and feedback.
    fn require_responsible(&self, actor: &Actor, command: &'static str) -> Result<(), Rejection> {
        match &actor.role {
            Role::Reviewer { department } if *department == self.department => Ok(()),
            Role::Reviewer { .. } => Err(Rejection::WrongDepartment {
                actor: actor.describe(),
                item: format!("ticket {}", self.id),
                departments: self.department.to_string(),
            }),
            _ => Err(Rejection::RoleNotAllowed {
                rule: "谁办理谁负责 (the responsible department rectifies)",
                actor: actor.describe(),
                command,
                allowed: format!("staff of {} may", self.department),
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
                actor: actor.describe(),
                command,
                allowed: format!("a supervisor outside {} may", self.department),
            }),
            _ => Err(Rejection::RoleNotAllowed {
                rule: "监督 (only a supervisor, 效能监察, decides supervision)",
                actor: actor.describe(),
                command,
                allowed: format!("a supervisor outside {} may", self.department),
            }),
        }
    }

    /// Decides a command: events or a rejection.
    pub fn decide(&self, def: &Definition, command: &TicketCommand, ctx: &Ctx<'_>) -> Result<Vec<Event>, Rejection> {
        use TicketState::*;
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
        let cal = def.calendar();
        let text = |s: &str, what: &'static str| {
            if s.trim().is_empty() {
                Err(Rejection::ReasonRequired { rule: "整改留痕 (every step is recorded with its content)", what })
            } else {
                Ok(())
            }
        };
        let event = match (self.state, command) {
            (Verifying, TicketCommand::FixNow) => {
                let deadline = if cal.is_working_day(ctx.now.date())? && ctx.now < cal.office_close(ctx.now.date()) {
                    cal.office_close(ctx.now.date())
                } else {
                    cal.office_close(cal.next_working_day(ctx.now.date())?)
                };
                Event::TicketRectifying { deadline, immediate: true }
            }
            (Verifying, TicketCommand::Ledger { deadline }) => {
                let latest = cal.add_working_days(ctx.now.date(), def.policies().ticket_rectify_max_days)?;
                if *deadline > latest || *deadline < ctx.now.date() {
                    return Err(Rejection::DeadlineOutOfRange {
                        due: deadline.to_string(),
                        latest: latest.to_string(),
                        max_days: def.policies().ticket_rectify_max_days,
                    });
                }
                Event::TicketRectifying { deadline: cal.office_close(*deadline), immediate: false }
            }
            (Verifying, TicketCommand::Explain { basis }) => {
                text(basis, "basis")?;
                Event::TicketSubmitted { what: Submitted::Explanation, text: basis.clone() }
            }
            (Verifying, TicketCommand::Appeal { reason }) => {
                if !matches!(self.source, TicketSource::BadRating { .. }) {
                    return Err(Rejection::NotAllowedForItem {
                        rule: "申诉复核 (only a bad rating can be appealed)",
                        item: self.id.to_string(),
                        reason: "is not about a rating; fix it, ledger it or explain",
                    });
                }
                text(reason, "reason")?;
                Event::TicketSubmitted { what: Submitted::Appeal, text: reason.clone() }
            }
            (Rectifying, TicketCommand::SubmitRectification { measures, evidence }) => {
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
            (AwaitingSupervision, TicketCommand::Pass) => {
                if self.submitted == Some(Submitted::Appeal) {
                    return Err(Rejection::NotAllowedForItem {
                        rule: "申诉复核",
                        item: self.id.to_string(),
                        reason: "awaits a decision on an appeal: uphold it (uphold_appeal) or reject it (fail)",
                    });
                }
                Event::TicketPassed
            }
            (AwaitingSupervision, TicketCommand::Fail { kind }) => {
                let deadline =
                    cal.office_close(cal.add_working_days(ctx.now.date(), def.policies().ticket_rectify_max_days)?);
                Event::TicketFailed { kind: *kind, deadline }
            }
            (AwaitingSupervision, TicketCommand::UpholdAppeal) => {
                if self.submitted != Some(Submitted::Appeal) {
                    return Err(Rejection::NotAllowedForItem {
                        rule: "申诉复核",
                        item: self.id.to_string(),
                        reason: "awaits supervision of a rectification or explanation, not an appeal: pass or fail it",
                    });
                }
                Event::TicketAppealUpheld
            }
            (FeedingBack, TicketCommand::FeedBack { message }) => {
                text(message, "message")?;
                let due = cal.office_close(cal.add_working_days(ctx.now.date(), def.policies().ticket_follow_up_days)?);
                Event::TicketFedBack { message: message.clone(), follow_up_due: due }
            }
            (FollowUp, TicketCommand::FollowUp { satisfied: true }) => Event::TicketClosed,
            (FollowUp, TicketCommand::FollowUp { satisfied: false }) => {
                let deadline =
                    cal.office_close(cal.add_working_days(ctx.now.date(), def.policies().ticket_rectify_max_days)?);
                Event::TicketReopened { deadline }
            }
            (state, _) => {
                let accepted = match state {
                    Verifying => "fix_now, ledger, explain or appeal",
                    Rectifying => "submit_rectification",
                    AwaitingSupervision => "a supervisor's pass, fail or uphold_appeal",
                    FeedingBack => "feed_back",
                    FollowUp => "follow_up",
                    Closed => "nothing: the ticket is closed",
                };
                return Err(self.invalid(name, accepted));
            }
        };
        Ok(vec![event])
    }

    /// Folds a ticket event; `Err` names why it is not legal here.
    pub fn evolve(&mut self, event: &Event, at: Instant) -> Result<(), String> {
        use TicketState::*;
        let need =
            |ok: bool, s: &Ticket| if ok { Ok(()) } else { Err(format!("ticket {} is {}", s.id, s.state.name())) };
        match event {
            Event::TicketOpened { .. } => return Err("a ticket opens once".into()),
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
                    return Err("closing needs a supervision decision after the last submission".into());
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
            _ => return Err(format!("{} is not a ticket event", event.name())),
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
    pub fn fire_due_timer(&self, def: &Definition, now: Instant) -> Option<(Instant, Event)> {
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
