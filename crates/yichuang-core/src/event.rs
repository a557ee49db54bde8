//! Events: the facts the engine records. The state of a case is the fold of its events.
//!
//! Events are serde-serializable, versioned ([`EVENT_SCHEMA_VERSION`]) and name definition
//! objects by their stable ids, never by graph or list indices.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::definition::{Channel, Id, Version};
use crate::machine::sla::SlaLevel;
use crate::machine::ticket::{TicketId, TicketSource};
use crate::time::{Date, Instant};

/// The events one command decides: at most two in most rules (a countersign's last signature
/// and the approval; a converted simulation and the approval), kept inline; a 或签 or 票签
/// decision records three (the vote, the cancelled votes, the decision).
pub(crate) type Events = smallvec::SmallVec<[Event; 2]>;

/// Schema version written into every recorded event.
pub const EVENT_SCHEMA_VERSION: u16 = 1;

/// A case number (办件编号), assigned by the engine in submission order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub u64);

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "C{:06}", self.0)
    }
}

/// Which stream an event belongs to: a case (办件) or a ticket (问题). Written as `C000001` or
/// `T000001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StreamId {
    /// A case.
    Case(CaseId),
    /// A ticket.
    Ticket(TicketId),
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamId::Case(c) => c.fmt(f),
            StreamId::Ticket(t) => t.fmt(f),
        }
    }
}

impl std::str::FromStr for StreamId {
    type Err = String;
    fn from_str(s: &str) -> Result<StreamId, String> {
        let bad = || format!("`{s}` is not a stream id; write C000001 for a case or T000001 for a ticket");
        let (kind, number) = s.split_at_checked(1).ok_or_else(bad)?;
        let n: u64 = number.parse().map_err(|_| bad())?;
        match kind {
            "C" => Ok(StreamId::Case(CaseId(n))),
            "T" => Ok(StreamId::Ticket(TicketId(n))),
            _ => Err(bad()),
        }
    }
}

impl Serialize for StreamId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StreamId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl From<CaseId> for StreamId {
    fn from(c: CaseId) -> StreamId {
        StreamId::Case(c)
    }
}

impl From<TicketId> for StreamId {
    fn from(t: TicketId) -> StreamId {
        StreamId::Ticket(t)
    }
}

/// The applicant of a case (申请人).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    /// Stable id (e.g. the unified social credit code or an ID number hash).
    pub id: Id,
    /// Name shown on notices.
    pub name: String,
    /// On a credit blacklist (失信): excluded from 容缺受理 until credit repair.
    pub credit_blocked: bool,
}

/// How results are handed over (出件方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryMethod {
    /// At the unified delivery window (统一出件窗口); a trip.
    Window,
    /// By post (邮寄送达).
    Post,
    /// Electronic certificate (电子证照).
    Electronic,
}

/// A special procedure that stops the clock (特别程序, 行政许可法 Art. 45).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpecialProcedureKind {
    /// 听证.
    Hearing,
    /// 检验/检测/检疫.
    Testing,
    /// 鉴定.
    Appraisal,
    /// 专家评审.
    ExpertReview,
    /// 现场踏勘 when the law allows excluding it.
    SiteInspection,
}

/// The outcome of a decided case (办结结果).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Every applicable item approved (准予许可).
    Approved,
    /// Some approved, some denied or cancelled.
    PartiallyApproved,
    /// Nothing approved (不予许可).
    Denied,
}

/// What an SLA event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlaSubject {
    /// The whole case.
    Case,
    /// One approval task.
    Task(Id),
}

/// Form answers (表单, 情形): field id → answer. Shared, not copied: a submission, its
/// `Submitted` event and every clone of either hold the same map (build one with
/// `BTreeMap::from([...]).into()`). Serialized as the map itself.
pub type Answers = Arc<BTreeMap<String, String>>;

/// A fact about a case or a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// 帮办咨询: the applicant consulted; the one-time notice was given.
    Consulted {
        /// Bundle asked about.
        bundle: Id,
        /// The applicant.
        applicant: Applicant,
        /// Materials in the one-time notice (一次性告知).
        notice: Vec<Id>,
        /// The definition version the case runs on (absent in logs written before versions:
        /// the first version deployed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<Version>,
    },
    /// 收件: an application was received.
    Submitted {
        /// Bundle applied for.
        bundle: Id,
        /// The applicant.
        applicant: Applicant,
        /// Channel used.
        channel: Channel,
        /// Materials handed in.
        materials: Arc<[Id]>,
        /// Form answers (情形).
        answers: Answers,
        /// Green channel requested (绿色通道).
        green_channel: bool,
        /// The definition version the case runs on (absent in logs written before versions:
        /// the first version deployed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<Version>,
    },
    /// 补正告知: every missing material, listed once.
    CorrectionRequested {
        /// The missing materials.
        missing: Vec<Id>,
    },
    /// 补正: corrected materials handed in; the receipt date becomes today.
    Resubmitted {
        /// Materials handed in.
        materials: Vec<Id>,
    },
    /// 受理: accepted (or deemed accepted), tasks created.
    Accepted {
        /// The acceptance date counted from.
        as_of: Date,
        /// Deemed accepted by the Art. 32 timer.
        deemed: bool,
        /// Tolerated missing materials (容缺).
        tolerated: Vec<Id>,
        /// Cure deadline, when tolerating.
        cure_due: Option<Instant>,
        /// Applicable member items (conditional members decided by the answers).
        applicable: Vec<Id>,
    },
    /// 不予受理.
    Rejected {
        /// The reason given.
        reason: String,
    },
    /// A task entered its department's queue.
    TaskReady {
        /// The item.
        item: Id,
    },
    /// A reviewer claimed a task.
    TaskClaimed {
        /// The item.
        item: Id,
        /// The reviewer.
        reviewer: Id,
    },
    /// One department of a countersign approved (会签).
    TaskSigned {
        /// The item.
        item: Id,
        /// The signing department.
        department: Id,
    },
    /// A department of a 或签 or 票签 set voted against (不同意), with its reason. The task is
    /// denied when this vote decides it (或签: the first decision; 票签: `k` approvals can no
    /// longer be reached), otherwise it stays in review for the other votes.
    TaskVotedAgainst {
        /// The item.
        item: Id,
        /// The department voting.
        department: Id,
        /// Its reason.
        reason: String,
    },
    /// The task was decided before these departments of its 或签 or 票签 set voted: their
    /// pending reviews are cancelled (撤销待办) with the reason.
    TaskVotesCancelled {
        /// The item.
        item: Id,
        /// The departments that had not voted.
        departments: Vec<Id>,
        /// Why, e.g. `或签：已由 planning 决定`.
        reason: String,
    },
    /// 加签: a department was added as a countersigner of the running task.
    TaskSignerAdded {
        /// The item.
        item: Id,
        /// The department added.
        department: Id,
        /// Before (前加签) or after (后加签) the deciding signature.
        position: crate::machine::task::SignerPosition,
    },
    /// 减签: an added countersigner that had not signed was removed.
    TaskSignerRemoved {
        /// The item.
        item: Id,
        /// The department removed.
        department: Id,
    },
    /// A review level below the last signed (分级审批): the task goes back to its department's
    /// queue (`Ready`, as after `TaskReady`) for the next level.
    TaskLevelSigned {
        /// The item.
        item: Id,
        /// The level signed (0 = the first).
        level: u8,
        /// Who signed it (受审分离: nobody signs two levels of one task).
        signer: Id,
    },
    /// 退回: the task went back to an earlier review level, whose signatures (and those after
    /// it) are void; it is in its department's queue (`Ready`) again.
    TaskReturned {
        /// The item.
        item: Id,
        /// The level it returns to.
        to_level: u8,
        /// Why.
        reason: String,
    },
    /// 催办: a leader or supervisor urged the task.
    TaskUrged {
        /// The item.
        item: Id,
        /// What was asked (may be empty).
        note: String,
    },
    /// 撤回 / 拿回: a signature taken back by its signer — the approval (the task is in review
    /// again at its last level) or one department's countersign signature.
    TaskRecalled {
        /// The item.
        item: Id,
        /// The department whose signature is void.
        department: Id,
    },
    /// 转办: the holder handed the task to another reviewer (who alone acts on it now), or back
    /// to the department's queue (`to: None`, the task is `Ready`).
    TaskTransferred {
        /// The item.
        item: Id,
        /// The reviewer, or `None` for the queue.
        to: Option<Id>,
    },
    /// 委派: the holder has another reviewer work on the task; the holder signs it.
    TaskDelegated {
        /// The item.
        item: Id,
        /// The delegate.
        to: Id,
    },
    /// 委派完成: the delegate handed the task back to the delegator.
    DelegationResolved {
        /// The item.
        item: Id,
        /// What the delegate found or did.
        note: String,
    },
    /// 补充材料: the reviewer asked the applicant for materials or explanations; the clocks
    /// stop until they are supplied.
    SupplementRequested {
        /// The item.
        item: Id,
        /// What is asked.
        asked: Vec<String>,
        /// The deadline.
        due: Instant,
    },
    /// The applicant supplied what was asked; the review goes on at the same level.
    SupplementProvided {
        /// The item.
        item: Id,
    },
    /// What was asked was not supplied by the deadline: the definition's consequence follows
    /// (the task denied, or the case returned by the `CaseReturned` recorded next).
    SupplementLapsed {
        /// The item.
        item: Id,
        /// The policy applied.
        consequence: crate::definition::SupplementLapse,
    },
    /// A ready task went back to waiting: an approval it waited for was recalled (its queue
    /// place and clock are gone; it becomes ready afresh).
    TaskUnready {
        /// The item.
        item: Id,
        /// The task whose recalled approval it waited for (or the stage, `stage:ID`).
        because: Id,
    },
    /// The current review level's clock changed level (the level limit: 预警, 逾期).
    TaskLevelSlaChanged {
        /// The item.
        item: Id,
        /// The review level.
        level: u8,
        /// The clock's new level.
        to: SlaLevel,
    },
    /// The item was approved.
    TaskApproved {
        /// The item.
        item: Id,
    },
    /// The item was denied.
    TaskDenied {
        /// The item.
        item: Id,
        /// Reason.
        reason: String,
    },
    /// A dependent task was cancelled because a task it waits for failed.
    TaskCancelled {
        /// The item.
        item: Id,
        /// The failed item it depended on (or the case-level cause).
        because: Id,
    },
    /// 特别程序 started: the clocks stop.
    SpecialProcedureStarted {
        /// The item.
        item: Id,
        /// Kind.
        kind: SpecialProcedureKind,
    },
    /// 特别程序 ended: the clocks run again.
    SpecialProcedureEnded {
        /// The item.
        item: Id,
    },
    /// 模拟审批: approved subject to a precondition.
    TaskSimulatedApproved {
        /// The item.
        item: Id,
    },
    /// Precondition met with unchanged facts: the simulated approval became formal.
    SimulationConverted {
        /// The item.
        item: Id,
    },
    /// Precondition met but facts changed: back to review.
    SimulationReopened {
        /// The item.
        item: Id,
    },
    /// The simulated approval lapsed.
    TaskLapsed {
        /// The item.
        item: Id,
    },
    /// An SLA clock changed level.
    SlaLevelChanged {
        /// Case or task.
        subject: SlaSubject,
        /// New level.
        level: SlaLevel,
    },
    /// 办结: every task is terminal.
    CaseDecided {
        /// Outcome.
        outcome: Outcome,
        /// Results wait for a tolerated material (待补齐).
        awaiting_cure: bool,
    },
    /// A tolerated material was supplied (补齐).
    MaterialSupplied {
        /// The material.
        material: Id,
    },
    /// Cure deadline missed: 暂停办理.
    CaseSuspended,
    /// Cured during suspension: work resumes.
    CaseResumed,
    /// 退件 after the grace period.
    CaseReturned,
    /// 一并出件: all results handed over together.
    Delivered {
        /// Method.
        method: DeliveryMethod,
    },
    /// 好差评 rating.
    Rated {
        /// 1–5 stars; ≤ 2 is a bad rating (差评).
        stars: u8,
        /// Recorded by the default-rating timer.
        by_default: bool,
    },
    /// 撤回 by the applicant.
    Withdrawn,
    /// Certificate voided after a missed cure (issue-before-cure).
    Revoked,
    /// 版本迁移: an administrator moved the case to another definition version. Replay re-judges
    /// the move from these fields and the two versions (docs/definitions.md, "Migration"); what
    /// follows from it (a task becoming ready, the case decided) is recorded after it as usual.
    Migrated {
        /// The version the case ran on.
        from: Version,
        /// The version it runs on from now.
        to: Version,
        /// Renamed items, old id → new id.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        renames: Vec<(Id, Id)>,
        /// Renamed bundles, old id → new id.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bundle_renames: Vec<(Id, Id)>,
        /// Members removed by the new version that had not started ("removed by version `to`").
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<Id>,
    },
    /// A ticket was opened and routed (谁办理谁负责).
    TicketOpened {
        /// Where it comes from.
        source: TicketSource,
        /// Responsible department.
        department: Id,
        /// Responsible window.
        window: Option<Id>,
        /// Verification deadline.
        deadline: Option<Instant>,
    },
    /// 立行立改 or 建立台账: rectification under way.
    TicketRectifying {
        /// Rectification deadline.
        deadline: Instant,
        /// Fixed at once (立行立改) rather than ledgered.
        immediate: bool,
    },
    /// A rectification, explanation or appeal awaits supervision.
    TicketSubmitted {
        /// What.
        what: crate::machine::ticket::Submitted,
        /// Its content.
        text: String,
    },
    /// 监督通过.
    TicketPassed,
    /// 监督不通过: round + 1, accountability.
    TicketFailed {
        /// Why.
        kind: crate::machine::ticket::FailKind,
        /// New rectification deadline.
        deadline: Instant,
    },
    /// 申诉成立: closed, rating excluded.
    TicketAppealUpheld,
    /// 反馈 given; 回访 due.
    TicketFedBack {
        /// Message.
        message: String,
        /// Follow-up due.
        follow_up_due: Instant,
    },
    /// 回访满意: closed.
    TicketClosed,
    /// 回访不满意: back to rectification, round + 1.
    TicketReopened {
        /// New deadline.
        deadline: Instant,
    },
    /// Overdue: 督办 (L1) or 约谈 (L2), with an accountability record.
    TicketEscalated {
        /// New level.
        level: u8,
        /// Deadline for the next level, if any.
        next_deadline: Option<Instant>,
    },
}

impl Event {
    /// The event's name, e.g. `TaskApproved`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Consulted { .. } => "Consulted",
            Event::Submitted { .. } => "Submitted",
            Event::CorrectionRequested { .. } => "CorrectionRequested",
            Event::Resubmitted { .. } => "Resubmitted",
            Event::Accepted { .. } => "Accepted",
            Event::Rejected { .. } => "Rejected",
            Event::TaskReady { .. } => "TaskReady",
            Event::TaskClaimed { .. } => "TaskClaimed",
            Event::TaskSigned { .. } => "TaskSigned",
            Event::TaskVotedAgainst { .. } => "TaskVotedAgainst",
            Event::TaskVotesCancelled { .. } => "TaskVotesCancelled",
            Event::TaskSignerAdded { .. } => "TaskSignerAdded",
            Event::TaskSignerRemoved { .. } => "TaskSignerRemoved",
            Event::TaskLevelSigned { .. } => "TaskLevelSigned",
            Event::TaskReturned { .. } => "TaskReturned",
            Event::TaskUrged { .. } => "TaskUrged",
            Event::TaskRecalled { .. } => "TaskRecalled",
            Event::TaskUnready { .. } => "TaskUnready",
            Event::TaskTransferred { .. } => "TaskTransferred",
            Event::TaskDelegated { .. } => "TaskDelegated",
            Event::DelegationResolved { .. } => "DelegationResolved",
            Event::SupplementRequested { .. } => "SupplementRequested",
            Event::SupplementProvided { .. } => "SupplementProvided",
            Event::SupplementLapsed { .. } => "SupplementLapsed",
            Event::TaskLevelSlaChanged { .. } => "TaskLevelSlaChanged",
            Event::TaskApproved { .. } => "TaskApproved",
            Event::TaskDenied { .. } => "TaskDenied",
            Event::TaskCancelled { .. } => "TaskCancelled",
            Event::SpecialProcedureStarted { .. } => "SpecialProcedureStarted",
            Event::SpecialProcedureEnded { .. } => "SpecialProcedureEnded",
            Event::TaskSimulatedApproved { .. } => "TaskSimulatedApproved",
            Event::SimulationConverted { .. } => "SimulationConverted",
            Event::SimulationReopened { .. } => "SimulationReopened",
            Event::TaskLapsed { .. } => "TaskLapsed",
            Event::SlaLevelChanged { .. } => "SlaLevelChanged",
            Event::CaseDecided { .. } => "CaseDecided",
            Event::MaterialSupplied { .. } => "MaterialSupplied",
            Event::CaseSuspended => "CaseSuspended",
            Event::CaseResumed => "CaseResumed",
            Event::CaseReturned => "CaseReturned",
            Event::Delivered { .. } => "Delivered",
            Event::Rated { .. } => "Rated",
            Event::Withdrawn => "Withdrawn",
            Event::Revoked => "Revoked",
            Event::Migrated { .. } => "Migrated",
            Event::TicketOpened { .. } => "TicketOpened",
            Event::TicketRectifying { .. } => "TicketRectifying",
            Event::TicketSubmitted { .. } => "TicketSubmitted",
            Event::TicketPassed => "TicketPassed",
            Event::TicketFailed { .. } => "TicketFailed",
            Event::TicketAppealUpheld => "TicketAppealUpheld",
            Event::TicketFedBack { .. } => "TicketFedBack",
            Event::TicketClosed => "TicketClosed",
            Event::TicketReopened { .. } => "TicketReopened",
            Event::TicketEscalated { .. } => "TicketEscalated",
        }
    }
}

/// An event as recorded in the log: which stream (case or ticket), its position in the stream,
/// when, by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Schema version ([`EVENT_SCHEMA_VERSION`]).
    pub v: u16,
    /// The stream: a case or a ticket.
    pub stream: StreamId,
    /// 1-based position in the stream (the stream's version after this event).
    pub seq: u32,
    /// When it happened.
    pub at: Instant,
    /// Who caused it (the system for timers and cascades of timers).
    pub by: Actor,
    /// The fact.
    pub event: Event,
}

/// Where the engine writes what it records: a log (`Vec<Recorded>`), or an embedder's own
/// reaction buffer that needs neither the envelope nor a copy of the actor.
///
/// Each event reaches the sink once, after it has been folded into its stream's state, in
/// the order recorded.
pub trait EventSink {
    /// One recorded event: its stream, position in the stream, time, actor and the fact.
    fn record(&mut self, stream: StreamId, seq: u32, at: Instant, by: &Actor, event: Event);
}

impl EventSink for Vec<Recorded> {
    fn record(&mut self, stream: StreamId, seq: u32, at: Instant, by: &Actor, event: Event) {
        self.push(Recorded { v: EVENT_SCHEMA_VERSION, stream, seq, at, by: by.clone(), event });
    }
}
