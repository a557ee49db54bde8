//! The approval task machine (审批任务), one per member item of a case's bundle.
//!
//! `Waiting` (predecessors not approved) → `Ready` (in the department's queue) → `InReview`
//! (claimed by a reviewer of that department) → `Approved` | `Denied`; `InReview` ↔
//! `SpecialProcedure` (特别程序, the clock stops); `InReview` → `SimulatedApproved` (模拟审批) →
//! `Approved` when the precondition is met with unchanged facts, else back to `InReview`; the
//! lapse timer → `Lapsed`. A failed predecessor cancels the task (`Cancelled`). Members whose
//! condition (情形) does not hold are `NotApplicable` from the start.
//!
//! A task changes only through [`crate::Engine`]:
//!
//! ```compile_fail
//! # use yichuang_core::*;
//! fn skip(task: &mut Task) {
//!     task.state = TaskState::Approved; // private: tasks are approved by their reviewers
//! }
//! ```

use serde::Serialize;

use crate::actor::{Actor, Ctx, Role};
use crate::definition::{Decider, Definition, Id, Item, ItemIx, LevelSigner};
use crate::event::{Event, Events, SpecialProcedureKind};
use crate::machine::sla::Sla;
use crate::machine::spec;
use crate::rejection::{Rejection, Subject};
use crate::time::Instant;

crate::kind_enum! {
    /// State of one approval task.
    #[derive(Serialize)]
    pub enum TaskState {
        /// The member's condition did not hold at acceptance (不适用).
        NotApplicable,
        /// Waiting for predecessors, a stage, or a tolerated material (等待).
        Waiting,
        /// In the department's queue (待办).
        Ready,
        /// Claimed by a reviewer (审查中).
        InReview,
        /// In a special procedure; the clock stops (特别程序). Which one:
        /// [`Task::special_procedure`].
        SpecialProcedure,
        /// Materials or explanations asked of the applicant during review (补充材料中); the
        /// clocks stop. What and by when: [`Task::supplement`].
        AwaitingSupplement,
        /// Simulated approval awaiting its precondition (模拟审批).
        SimulatedApproved,
        /// Approved (准予).
        Approved,
        /// Denied (不予).
        Denied,
        /// Cancelled because something it depends on failed, or the case ended (终止).
        Cancelled,
        /// The simulated approval lapsed (失效).
        Lapsed,
    }
}

impl TaskState {
    /// Whether the task can change no more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::NotApplicable
                | TaskState::Approved
                | TaskState::Denied
                | TaskState::Cancelled
                | TaskState::Lapsed
        )
    }
    /// Whether the task's clocks, and its case's, stand still in this state: a special
    /// procedure (特别程序) or materials asked during review (补充材料).
    pub fn holds_clock(self) -> bool {
        matches!(self, TaskState::SpecialProcedure | TaskState::AwaitingSupplement)
    }
    /// Terminal without approval (blocks dependents).
    pub fn is_failed(self) -> bool {
        matches!(self, TaskState::Denied | TaskState::Cancelled | TaskState::Lapsed)
    }
}

/// A task-level command (审批操作).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskCommand {
    /// 认领: take the task from the queue.
    Claim,
    /// 准予 (or sign, for a countersign, 会签).
    Approve,
    /// 不予, with a reason.
    Deny {
        /// The reason.
        reason: String,
    },
    /// 特别程序开始 (hearing, testing …): the clocks stop.
    StartSpecialProcedure {
        /// Which procedure.
        kind: SpecialProcedureKind,
    },
    /// 特别程序结束.
    EndSpecialProcedure,
    /// 模拟审批: approve subject to a precondition (only items that have one).
    ApproveSimulated,
    /// 前置条件满足 (e.g. 取得土地); `facts_changed` sends it back to review.
    MeetPrecondition {
        /// Whether the project facts changed since the simulated review.
        facts_changed: bool,
    },
    /// 退回: send the task back to an earlier review level, with a reason; the signatures of
    /// the returned levels are void.
    Return {
        /// The previous level or the first.
        to: ReturnTo,
        /// Why (shown to the level it returns to).
        reason: String,
    },
    /// 催办: a leader or supervisor urges the task.
    Urge {
        /// What is asked (may be empty).
        note: String,
    },
    /// 补充材料: the reviewer asks the applicant for materials or explanations, due in `days`
    /// working days; the task's and the case's clocks stop until they are supplied.
    RequestSupplement {
        /// What is asked, one entry each (materials or explanations), none empty.
        asked: Vec<String>,
        /// Working days from today, 1 to the definition's `policies.supplement_max_days`.
        days: u32,
    },
    /// The applicant (or a window clerk on their behalf) supplies what was asked; the review
    /// goes on at the same level.
    ProvideSupplement,
    /// 转办: the reviewer holding the task hands it to another reviewer of the department (who
    /// alone acts on it then), or back to the department's queue (`None`).
    Transfer {
        /// The reviewer it goes to (a person id), or `None` for the queue.
        to: Option<Id>,
    },
    /// 委派: the reviewer holding the task has another reviewer work on it; it comes back to
    /// the delegator, who signs (the delegate cannot sign the level).
    Delegate {
        /// The delegate (a person id).
        to: Id,
    },
    /// 委派完成: the delegate hands the task back to the delegator, with what was done.
    ResolveDelegation {
        /// What the delegate found or did (may be empty).
        note: String,
    },
    /// 撤回 / 拿回: the signer takes back its own signature — the last level's approval of the
    /// person who approved, or one department's signature of a countersign (会签) — while no task
    /// that depends on the approval has been claimed. The task is in review again at its last
    /// level; dependents that became ready go back to waiting.
    Recall,
    /// 加签: add a department as a countersigner of the running task, signing before the
    /// deciding signature (前加签) or after it (后加签). A leader or a reviewer of a deciding
    /// department adds; only on an item decided by one department or a countersign (会签).
    AddSigner {
        /// The department added.
        department: Id,
        /// Before or after the deciding signature.
        position: SignerPosition,
    },
    /// 减签: remove an added countersigner that has not signed.
    RemoveSigner {
        /// The added department.
        department: Id,
    },
}

/// Where an added countersigner (加签) signs, relative to the deciding department's deciding
/// signature (the last level's approval; every countersign department's for a 会签).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum SignerPosition {
    /// 前加签: it signs first; the deciding approval is refused until it has.
    Before,
    /// 后加签: it signs after the deciding approval, and its signature approves the task (the
    /// last one, when several are added).
    After,
}

/// A countersigner added to a running task (加签), and whether it has signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedSigner {
    /// The department.
    pub department: Id,
    /// Before or after the deciding signature.
    pub position: SignerPosition,
    /// Whether it has signed.
    pub signed: bool,
}

/// Where a return (退回) sends a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum ReturnTo {
    /// The level before the current one.
    Previous,
    /// The first level (承办).
    First,
}

crate::kind_enum! {
    /// The kind of a task command ([`TaskCommand::kind`]): the key of the task machine's spec.
    pub enum TaskCommandKind {
        /// 认领.
        Claim = "claim",
        /// 准予 / 会签.
        Approve = "approve",
        /// 不予.
        Deny = "deny",
        /// 特别程序开始.
        StartSpecialProcedure = "start_special_procedure",
        /// 特别程序结束.
        EndSpecialProcedure = "end_special_procedure",
        /// 模拟审批.
        ApproveSimulated = "approve_simulated",
        /// 前置条件满足.
        MeetPrecondition = "meet_precondition",
        /// 退回.
        Return = "return",
        /// 催办.
        Urge = "urge",
        /// 撤回 / 拿回.
        Recall = "recall",
        /// 加签.
        AddSigner = "add_signer",
        /// 减签.
        RemoveSigner = "remove_signer",
        /// 补充材料 (asked).
        RequestSupplement = "request_supplement",
        /// 补充材料 (supplied).
        ProvideSupplement = "provide_supplement",
        /// 转办.
        Transfer = "transfer",
        /// 委派.
        Delegate = "delegate",
        /// 委派完成.
        ResolveDelegation = "resolve_delegation",
    }
}

impl TaskCommand {
    /// The command's kind (its row key in the spec).
    pub fn kind(&self) -> TaskCommandKind {
        match self {
            TaskCommand::Claim => TaskCommandKind::Claim,
            TaskCommand::Approve => TaskCommandKind::Approve,
            TaskCommand::Deny { .. } => TaskCommandKind::Deny,
            TaskCommand::StartSpecialProcedure { .. } => TaskCommandKind::StartSpecialProcedure,
            TaskCommand::EndSpecialProcedure => TaskCommandKind::EndSpecialProcedure,
            TaskCommand::ApproveSimulated => TaskCommandKind::ApproveSimulated,
            TaskCommand::MeetPrecondition { .. } => TaskCommandKind::MeetPrecondition,
            TaskCommand::Return { .. } => TaskCommandKind::Return,
            TaskCommand::Urge { .. } => TaskCommandKind::Urge,
            TaskCommand::Recall => TaskCommandKind::Recall,
            TaskCommand::AddSigner { .. } => TaskCommandKind::AddSigner,
            TaskCommand::RemoveSigner { .. } => TaskCommandKind::RemoveSigner,
            TaskCommand::RequestSupplement { .. } => TaskCommandKind::RequestSupplement,
            TaskCommand::ProvideSupplement => TaskCommandKind::ProvideSupplement,
            TaskCommand::Transfer { .. } => TaskCommandKind::Transfer,
            TaskCommand::Delegate { .. } => TaskCommandKind::Delegate,
            TaskCommand::ResolveDelegation { .. } => TaskCommandKind::ResolveDelegation,
        }
    }

    /// Command name for messages and traces.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

crate::kind_enum! {
    /// A task-level timer.
    pub enum TaskTimer {
        /// The task clock's next level (预警, then 逾期).
        Sla = "SLA warning / overdue",
        /// The simulated approval's validity is over (失效).
        Lapse = "validity over",
        /// The current review level's clock's next level (预警, then 逾期 of the level limit).
        LevelSla = "level limit warning / overdue",
        /// The deadline of the materials asked during review (补充材料) passed, under the
        /// policy `Deny`.
        SupplementDue = "supplement due",
    }
}

crate::kind_enum! {
    /// A task-level cascade step.
    pub enum TaskCascade {
        /// Predecessors approved, the stage open, no blocking cure: into the queue.
        Ready = "predecessors approved, stage open, no blocking cure",
        /// A predecessor, or the stage before, failed: dependents are cancelled.
        PredecessorFailed = "a predecessor or the stage before failed",
        /// The case was withdrawn or returned: every open task ends with it.
        CaseEnded = "the case was withdrawn or returned",
        /// An approval it waited for was recalled (撤回): out of the queue, back to waiting.
        PredecessorRecalled = "an approval it waited for was recalled",
    }
}

crate::machine_spec! {
    /// The approval task machine (DESIGN §4.1), one per member item of a case.
    pub struct TaskMachine {
        name: "task",
        title: "Approval task 审批任务",
        state: TaskState,
        command: TaskCommandKind,
        timer: TaskTimer,
        cascade: TaskCascade,
        initial: [Waiting, NotApplicable],
        final: [Approved, Denied, Cancelled, Lapsed, NotApplicable],
    }
    (Waiting, Cascade(Ready)) => [Ready], "enters the department's queue";
    (Waiting, Cascade(PredecessorFailed)) => [Cancelled], "denial cancels only dependents";
    (Ready, Command(Claim)) => [InReview], "a reviewer of the deciding department";
    (InReview, Command(Approve)) => [Approved, InReview, Ready],
        "会签: every listed department signs; 或签: the first decides; 票签: k approvals; below the last level: to the next level's queue";
    (InReview, Command(Return)) => [Ready], "退回: to the previous or first level; their signatures void";
    (Ready, Command(Urge)) => [Ready], "催办: a leader or supervisor";
    (InReview, Command(Urge)) => [InReview], "催办: a leader or supervisor";
    (Ready, Command(AddSigner)) => [Ready], "加签: a leader or a reviewer of the deciding department";
    (InReview, Command(AddSigner)) => [InReview], "加签: before (前) or after (后) the deciding signature";
    (Ready, Command(RemoveSigner)) => [Ready], "减签: only an added countersigner that has not signed";
    (InReview, Command(RemoveSigner)) => [InReview, Approved],
        "减签: approves when that signer was all the task still waited for";
    (InReview, Command(Recall)) => [InReview], "撤回: a countersigning department takes back its own signature";
    (Approved, Command(Recall)) => [InReview],
        "撤回/拿回: the signer, while the case is in approval and no dependent has been claimed";
    (Ready, Cascade(PredecessorRecalled)) => [Waiting], "unclaimed dependents of a recalled approval wait again";
    (InReview, Command(Transfer)) => [InReview, Ready],
        "转办: the holder hands it to another reviewer of the department, or back to its queue";
    (InReview, Command(Delegate)) => [InReview], "委派: the holder has another reviewer work on it; the holder signs";
    (InReview, Command(ResolveDelegation)) => [InReview], "委派完成: the delegate hands it back to the delegator";
    (InReview, Command(Deny)) => [Denied, InReview],
        "with a reason; a 票签 vote against that leaves k approvals reachable stays in review";
    (InReview, Command(StartSpecialProcedure)) => [SpecialProcedure], "特别程序: clocks stop";
    (InReview, Command(RequestSupplement)) => [AwaitingSupplement],
        "补充材料: what is asked, due within policies.supplement_max_days; clocks stop";
    (AwaitingSupplement, Command(ProvideSupplement)) => [InReview],
        "the applicant supplies (trip +1 at a window); clocks run again, same level";
    (AwaitingSupplement, Timer(SupplementDue)) => [Denied], "not supplied in time, policy Deny: denied with the reason";
    (AwaitingSupplement, Cascade(CaseEnded)) => [Cancelled], "撤回 or 退件 (also policy ReturnCase) ends every open task";
    (SpecialProcedure, Command(EndSpecialProcedure)) => [InReview], "clocks run again";
    (InReview, Command(ApproveSimulated)) => [SimulatedApproved], "模拟审批: only items with a precondition";
    (SimulatedApproved, Command(MeetPrecondition)) => [Approved, InReview],
        "unchanged facts convert; changed facts re-review";
    (SimulatedApproved, Timer(Lapse)) => [Lapsed], "失效";
    (Ready, Timer(Sla)) => [Ready], "预警, 逾期";
    (InReview, Timer(Sla)) => [InReview], "预警, 逾期";
    (Ready, Timer(LevelSla)) => [Ready], "the level's limit: 预警, 逾期";
    (InReview, Timer(LevelSla)) => [InReview], "the level's limit: 预警, 逾期";
    (Waiting, Cascade(CaseEnded)) => [Cancelled], "撤回 or 退件 ends every open task";
    (Ready, Cascade(CaseEnded)) => [Cancelled], "撤回 or 退件 ends every open task";
    (InReview, Cascade(CaseEnded)) => [Cancelled], "撤回 or 退件 ends every open task";
    (SpecialProcedure, Cascade(CaseEnded)) => [Cancelled], "撤回 or 退件 ends every open task";
    (SimulatedApproved, Cascade(CaseEnded)) => [Cancelled], "撤回 or 退件 ends every open task";
}

/// One approval task of a case. Read-only outside the engine: its state changes only through
/// the events the engine records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    #[serde(serialize_with = "ser_ix")]
    pub(crate) item: ItemIx,
    pub(crate) item_id: Id,
    pub(crate) state: TaskState,
    /// Which special procedure, while in one.
    pub(crate) special: Option<SpecialProcedureKind>,
    pub(crate) waits_for: MemberSet,
    pub(crate) signed: u32,
    pub(crate) reviewer: Option<Id>,
    pub(crate) sla: Option<Sla>,
    pub(crate) lapse_due: Option<Instant>,
    /// The promised working days kept from an earlier version when a migration would have
    /// lengthened them (a promise is never lengthened).
    pub(crate) promised_cap: Option<u32>,
    /// The review level under way (0 = the first).
    pub(crate) level: u8,
    /// Who signed each level below `level` (受审分离: nobody signs two).
    pub(crate) signers: Vec<Id>,
    /// Times urged (催办).
    pub(crate) urged: u32,
    /// Departments of a 或签 or 票签 set that voted against (不同意), a bit per position.
    pub(crate) against: u32,
    /// Departments of a 或签 or 票签 set whose pending review was cancelled when the task was
    /// decided before they voted, a bit per position.
    pub(crate) votes_cancelled: u32,
    /// The current level's clock, when the level has a limit.
    pub(crate) level_sla: Option<Sla>,
    /// Whether a reviewer claimed it since it last became ready (a recall of a predecessor is
    /// refused then: 撤回 only while no dependent was claimed).
    pub(crate) claimed: bool,
    /// Who signed the approval (the last level's signer), while approved: the only one who
    /// may recall it (撤回).
    pub(crate) approver: Option<Id>,
    /// Countersigners added to the running task (加签), in the order added.
    pub(crate) added: Vec<AddedSigner>,
    /// What was asked of the applicant during review, while awaiting it (补充材料).
    pub(crate) supplement: Option<SupplementRequest>,
    /// Whether the task was handed to its reviewer by name (转办): only they act on it then.
    pub(crate) pinned: bool,
    /// The delegate working on it (委派), while delegated.
    pub(crate) delegate: Option<Id>,
}

/// Materials or explanations asked of the applicant during review (补充材料).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupplementRequest {
    /// What is asked.
    pub asked: Vec<String>,
    /// When it was asked (the clocks stopped then).
    pub since: Instant,
    /// The deadline: the close of the last working day given.
    pub due: Instant,
}

impl Task {
    /// A task as acceptance (or a migration that adds its member) creates it.
    pub(crate) fn fresh(item: ItemIx, item_id: Id, applies: bool) -> Task {
        Task {
            item,
            item_id,
            state: if applies { TaskState::Waiting } else { TaskState::NotApplicable },
            special: None,
            waits_for: MemberSet::EMPTY,
            signed: 0,
            reviewer: None,
            sla: None,
            lapse_due: None,
            promised_cap: None,
            level: 0,
            signers: Vec::new(),
            urged: 0,
            against: 0,
            votes_cancelled: 0,
            level_sla: None,
            claimed: false,
            approver: None,
            added: Vec::new(),
            supplement: None,
            pinned: false,
            delegate: None,
        }
    }

    /// The promised working days of this task: its item's limit in `def` (the case's version),
    /// or the shorter limit kept by a migration.
    pub fn promised_days(&self, def: &Definition) -> u32 {
        let days = def.item(self.item).promised_days;
        self.promised_cap.map_or(days, |cap| cap.min(days))
    }

    /// The item, by index in the definition.
    pub fn item(&self) -> ItemIx {
        self.item
    }
    /// The item's stable id.
    pub fn item_id(&self) -> &Id {
        &self.item_id
    }
    /// The state.
    pub fn state(&self) -> TaskState {
        self.state
    }
    /// The special procedure under way (特别程序), in [`TaskState::SpecialProcedure`].
    pub fn special_procedure(&self) -> Option<SpecialProcedureKind> {
        self.special
    }
    /// Member positions this task waits for, resolved through members that do not apply.
    pub fn waits_for(&self) -> MemberSet {
        self.waits_for
    }
    /// Departments that have signed a countersign (会签), a bit per position in the item's
    /// list of deciding departments.
    pub fn signed(&self) -> u32 {
        self.signed
    }
    /// Departments of a 或签 or 票签 set that voted against, a bit per position in the item's
    /// list of deciding departments (their approvals are in [`Task::signed`]).
    pub fn against(&self) -> u32 {
        self.against
    }
    /// Departments of a 或签 or 票签 set whose pending review was cancelled because the task was
    /// decided before they voted, a bit per position.
    pub fn votes_cancelled(&self) -> u32 {
        self.votes_cancelled
    }
    /// The vote of the department at `position` of the item's deciding departments.
    pub fn vote(&self, position: usize) -> Vote {
        let bit = 1u32.checked_shl(position as u32).unwrap_or(0);
        if self.signed & bit != 0 {
            Vote::Approved
        } else if self.against & bit != 0 {
            Vote::Against
        } else if self.votes_cancelled & bit != 0 {
            Vote::Cancelled
        } else {
            Vote::Pending
        }
    }
    /// Countersigners added to the running task (加签), in the order added.
    pub fn added(&self) -> &[AddedSigner] {
        &self.added
    }
    /// Whether the deciding departments have given the approval their rule needs (for one
    /// department: its deciding signature, recorded while a 后加签 countersigner is pending).
    pub fn deciders_done(&self, def: &Definition) -> bool {
        let decider = &def.item(self.item).decided_by;
        self.signed.count_ones() >= decider.approvals_needed()
    }
    /// The first added countersigner (加签) still to sign at `position`.
    pub fn pending_added(&self, position: SignerPosition) -> Option<&AddedSigner> {
        self.added.iter().find(|a| !a.signed && a.position == position)
    }
    /// The reviewer who claimed it.
    pub fn reviewer(&self) -> Option<&Id> {
        self.reviewer.as_ref()
    }
    /// The promised-time clock, running from the moment the task became ready.
    pub fn sla(&self) -> Option<&Sla> {
        self.sla.as_ref()
    }
    /// When a simulated approval (模拟审批) lapses.
    pub fn lapse_due(&self) -> Option<Instant> {
        self.lapse_due
    }
    /// The review level under way (0 = the first; see the item's `levels`).
    pub fn level(&self) -> usize {
        usize::from(self.level)
    }
    /// Who signed each level below the current one, in order.
    pub fn signers(&self) -> &[Id] {
        &self.signers
    }
    /// How many times the task was urged (催办).
    pub fn urged(&self) -> u32 {
        self.urged
    }
    /// The current level's clock, when the level has a limit (`limit_days`).
    pub fn level_sla(&self) -> Option<&Sla> {
        self.level_sla.as_ref()
    }
    /// Whether a reviewer claimed it since it last became ready.
    pub fn was_claimed(&self) -> bool {
        self.claimed
    }
    /// Who signed the approval (the last level), while approved.
    pub fn approver(&self) -> Option<&Id> {
        self.approver.as_ref()
    }
    /// Whether it was handed to its reviewer by name (转办): only they act on it.
    pub fn is_pinned(&self) -> bool {
        self.pinned
    }
    /// The delegate working on it (委派), while delegated.
    pub fn delegate(&self) -> Option<&Id> {
        self.delegate.as_ref()
    }
    /// What is asked of the applicant and by when, while [`TaskState::AwaitingSupplement`].
    pub fn supplement(&self) -> Option<&SupplementRequest> {
        self.supplement.as_ref()
    }
}

/// Where one deciding department of a task stands (会签, 或签, 票签).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    /// Not yet signed or voted (待签).
    Pending,
    /// Signed, or voted for (同意).
    Approved,
    /// Voted against (不同意).
    Against,
    /// Its pending review was cancelled: the task was decided before it voted (已撤销).
    Cancelled,
}

/// A set of member positions of one bundle (at most 64, which the loader enforces), as a bit
/// mask: cheap to copy and to test against the states of all tasks at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MemberSet(pub u64);

impl MemberSet {
    /// The empty set.
    pub const EMPTY: MemberSet = MemberSet(0);

    /// Whether `position` is in the set.
    pub fn contains(self, position: usize) -> bool {
        position < 64 && self.0 & (1 << position) != 0
    }

    /// Adds `position` (< 64).
    pub fn insert(&mut self, position: usize) {
        debug_assert!(position < 64, "a bundle has at most 64 members");
        self.0 |= 1 << position;
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of positions.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Positions in increasing order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let p = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                p
            })
        })
    }
}

impl FromIterator<usize> for MemberSet {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> MemberSet {
        let mut set = MemberSet::EMPTY;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

fn ser_ix<S: serde::Serializer>(ix: &ItemIx, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u32(ix.index() as u32)
}

/// Why a task event does not fit the task it is folded into (a corrupted or reordered log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IllegalTaskEvent {
    /// The task is in another state.
    #[error("task `{item}` is {}, expected {}", state.name(), names(expected))]
    State {
        /// The item.
        item: Id,
        /// Its state.
        state: TaskState,
        /// The states the event needs.
        expected: &'static [TaskState],
    },
    /// A signature by a department that does not countersign the item.
    #[error("department `{department}` does not countersign `{item}`")]
    NotACountersigner {
        /// The item.
        item: Id,
        /// The department that signed.
        department: Id,
    },
    /// A level event for another level than the task's.
    #[error("task `{item}` is at level {at}, the event is for level {level}")]
    Level {
        /// The item.
        item: Id,
        /// The task's level.
        at: u8,
        /// The event's level.
        level: u8,
    },
}

/// At most this many countersigners are added to one task (加签).
pub const MAX_ADDED: usize = 8;

pub use crate::rejection::CountersignerRule;

/// The rule's name in messages: 或签 or 票签.
fn vote_rule(decider: &Decider) -> &'static str {
    match decider {
        Decider::Vote { .. } => "票签",
        _ => "或签",
    }
}

fn names(states: &[TaskState]) -> String {
    states.iter().map(|s| s.name()).collect::<Vec<_>>().join(" or ")
}

/// Who may act on the task at its current level: the level's signer (a reviewer of the
/// deciding department, or a leader where the level says so) who has not signed an earlier
/// level of this task (受审分离); for 催办, a leader or a supervisor. Returns the position of
/// the actor's department among the deciding ones (0 for a leader).
fn authorize(
    def: &Definition,
    item: &Item,
    task: &Task,
    actor: &Actor,
    command: &TaskCommand,
) -> Result<usize, Rejection> {
    if let TaskCommand::AddSigner { .. } | TaskCommand::RemoveSigner { .. } = command {
        return match actor.role {
            Role::Leader => Ok(0),
            Role::Reviewer { .. } => reviewer_department(def, item, actor, command.name()),
            _ => Err(Rejection::RoleNotAllowed {
                rule: "加签/减签 (a leader or a reviewer of the deciding department)",
                actor: actor.clone(),
                command: command.name(),
                allowed: crate::rejection::Allowed::LeaderOrDecidingReviewer,
            }),
        };
    }
    // An added countersigner (加签) signs, or denies, for its own department: its position
    // follows the deciding departments'.
    if let (Role::Reviewer { department }, TaskCommand::Approve | TaskCommand::Deny { .. }) = (&actor.role, command)
        && let Some(k) = task.added.iter().position(|a| a.department == *department)
    {
        return Ok(item.decided_by.departments().len() + k);
    }
    if let TaskCommand::Urge { .. } = command {
        return match actor.role {
            Role::Leader | Role::Supervisor { .. } => Ok(0),
            _ => Err(Rejection::RoleNotAllowed {
                rule: "催办 (a leader or a supervisor urges)",
                actor: actor.clone(),
                command: command.name(),
                allowed: crate::rejection::Allowed::SupervisorOrLeader,
            }),
        };
    }
    if let TaskCommand::Recall = command {
        return authorize_recall(def, item, task, actor);
    }
    // The case checked that the applicant (or a clerk on their behalf) supplies.
    if let TaskCommand::ProvideSupplement = command {
        return Ok(0);
    }
    // 委派: while delegated, the delegate only hands it back; nobody signs.
    if let Some(delegate) = &task.delegate {
        return match command {
            TaskCommand::ResolveDelegation { .. } if *delegate == actor.id => Ok(0),
            _ if *delegate == actor.id => Err(Rejection::RoleNotAllowed {
                rule: "委派 (the delegate works on the task; the delegator signs it)",
                actor: actor.clone(),
                command: command.name(),
                allowed: crate::rejection::Allowed::Holder,
            }),
            _ => Err(Rejection::NotAllowedFor {
                rule: "委派 (a delegated task comes back to its delegator before anyone acts on it)",
                subject: Subject::Task(task.item_id.clone()),
                reason: "is delegated; the delegate hands it back (resolve_delegation) first",
            }),
        };
    }
    if let TaskCommand::ResolveDelegation { .. } = command {
        return Err(Rejection::NotAllowedFor {
            rule: "委派完成 (the delegate hands a delegated task back)",
            subject: Subject::Task(task.item_id.clone()),
            reason: "is not delegated",
        });
    }
    // 转办 to a named reviewer: only they act on it (the holder transfers and delegates too).
    let holds = task.reviewer.as_ref() == Some(&actor.id);
    let acts = !matches!(command, TaskCommand::Claim | TaskCommand::MeetPrecondition { .. });
    if acts
        && task.state == TaskState::InReview
        && (task.pinned || matches!(command, TaskCommand::Transfer { .. } | TaskCommand::Delegate { .. }))
        && !holds
    {
        return Err(Rejection::RoleNotAllowed {
            rule: "转办/委派 (only the reviewer holding the task acts on it, hands it on or delegates it)",
            actor: actor.clone(),
            command: command.name(),
            allowed: crate::rejection::Allowed::Holder,
        });
    }
    let level = item.levels.get(usize::from(task.level)).unwrap_or(&item.levels[0]);
    let dept = match level.by {
        LevelSigner::Leader if actor.role == Role::Leader => 0,
        LevelSigner::Leader => {
            return Err(Rejection::RoleNotAllowed {
                rule: "分级审批 (this level is signed by a leader)",
                actor: actor.clone(),
                command: command.name(),
                allowed: crate::rejection::Allowed::Leader,
            });
        }
        LevelSigner::Reviewer => reviewer_department(def, item, actor, command.name())?,
    };
    if let Some(signed) = task.signers.iter().position(|s| *s == actor.id) {
        return Err(Rejection::SignedEarlierLevel {
            actor: actor.clone(),
            item: task.item_id.clone(),
            signed: item.levels[signed].name.clone(),
            level: level.name.clone(),
        });
    }
    Ok(dept)
}

/// Who may recall (撤回): for a countersign, a reviewer of a department whose signature stands
/// (it takes back its department's own); otherwise the person who signed the approval. Returns
/// the department's position.
fn authorize_recall(def: &Definition, item: &Item, task: &Task, actor: &Actor) -> Result<usize, Rejection> {
    let not_the_signer = || Rejection::RoleNotAllowed {
        rule: "撤回 (only the signer takes back its own signature)",
        actor: actor.clone(),
        command: TaskCommandKind::Recall.name(),
        allowed: crate::rejection::Allowed::Signer,
    };
    match &item.decided_by {
        // 会签, 或签, 票签: a department takes back its own signature or vote for.
        Decider::Countersign(_) | Decider::AnyOf(_) | Decider::Vote { .. } => {
            let dept = reviewer_department(def, item, actor, TaskCommandKind::Recall.name())?;
            if task.signed & (1 << dept) == 0 {
                return Err(not_the_signer());
            }
            Ok(dept)
        }
        Decider::Department(_) if task.approver.as_ref() == Some(&actor.id) => Ok(0),
        Decider::Department(_) if task.state == TaskState::Approved => Err(not_the_signer()),
        // In review there is no signature at this level to take back: the spec and the guard
        // say so (a return is the way back to an earlier level).
        Decider::Department(_) => Ok(0),
    }
}

/// The deciding department position the actor belongs to, or the rejection (本部门办理,
/// 受审分离).
fn reviewer_department(
    def: &Definition,
    item: &Item,
    actor: &Actor,
    command: &'static str,
) -> Result<usize, Rejection> {
    let departments = || item.decided_by.departments().iter().map(|&d| def.department(d).id.clone()).collect();
    match &actor.role {
        Role::Reviewer { department } => {
            item.decided_by.departments().iter().position(|&d| def.department(d).id == *department).ok_or_else(|| {
                Rejection::WrongDepartment {
                    actor: actor.clone(),
                    subject: Subject::Task(item.id.clone()),
                    departments: departments(),
                }
            })
        }
        Role::Clerk { .. } => Err(Rejection::RoleNotAllowed {
            rule: "受审分离 (intake clerks accept but never decide)",
            actor: actor.clone(),
            command,
            allowed: crate::rejection::Allowed::ReviewersOf(departments()),
        }),
        _ => Err(Rejection::RoleNotAllowed {
            rule: "审批权限 (only the deciding department reviews)",
            actor: actor.clone(),
            command,
            allowed: crate::rejection::Allowed::ReviewersOf(departments()),
        }),
    }
}

impl Task {
    /// Decides a task command into `out`: the actor (a reviewer of a deciding department), then
    /// the spec (is the command declared in this state), then the command's own guard.
    pub(crate) fn decide(
        &self,
        def: &Definition,
        command: &TaskCommand,
        ctx: &Ctx<'_>,
        out: &mut Events,
    ) -> Result<(), Rejection> {
        let item = def.item(self.item);
        let dept = authorize(def, item, self, ctx.actor, command)?;
        spec::admit::<TaskMachine>(self.state, command.kind())
            .map_err(|r| Rejection::invalid_state(Subject::Task(self.item_id.clone()), command.name(), r))?;
        let id = || self.item_id.clone();
        let n = item.decided_by.departments().len();
        match command {
            TaskCommand::Claim => out.push(Event::TaskClaimed { item: id(), reviewer: ctx.actor.id.clone() }),
            TaskCommand::Approve if dept >= n => self.added_sign(def, dept - n, out)?,
            TaskCommand::Deny { reason } if dept >= n => {
                if reason.trim().is_empty() {
                    return Err(Rejection::ReasonRequired {
                        rule: "不予许可须说明理由 (a denial states its reason)",
                        what: "reason",
                    });
                }
                // An added countersigner denies like a countersign department (会签).
                out.push(Event::TaskDenied { item: id(), reason: reason.clone() })
            }
            TaskCommand::AddSigner { department, position } => {
                self.add_signer(def, item, department, *position, out)?
            }
            TaskCommand::RemoveSigner { department } => self.remove_signer(def, item, department, out)?,
            TaskCommand::Approve
                if usize::from(self.level) + 1 == item.levels.len()
                    && let Some(first) = self.pending_added(SignerPosition::Before) =>
            {
                return Err(self.countersigner(&first.department, CountersignerRule::SignsFirst));
            }
            TaskCommand::Approve if usize::from(self.level) + 1 < item.levels.len() => {
                out.push(Event::TaskLevelSigned { item: id(), level: self.level, signer: ctx.actor.id.clone() })
            }
            TaskCommand::Approve => match &item.decided_by {
                Decider::Department(_) if self.added.is_empty() => out.push(Event::TaskApproved { item: id() }),
                Decider::Department(d) => {
                    // 后加签 pending: the deciding signature is recorded, the added ones approve.
                    if self.signed & 1 != 0 {
                        return Err(Rejection::AlreadySigned { item: id(), department: def.department(*d).id.clone() });
                    }
                    out.push(Event::TaskSigned { item: id(), department: def.department(*d).id.clone() });
                    if self.pending_added(SignerPosition::After).is_none() {
                        out.push(Event::TaskApproved { item: id() });
                    }
                }
                Decider::Countersign(ds) => {
                    if self.signed & (1 << dept) != 0 {
                        return Err(Rejection::AlreadySigned {
                            item: id(),
                            department: def.department(ds[dept]).id.clone(),
                        });
                    }
                    out.push(Event::TaskSigned { item: id(), department: def.department(ds[dept]).id.clone() });
                    let all = (1u32 << ds.len()) - 1;
                    if self.signed | (1 << dept) == all && self.pending_added(SignerPosition::After).is_none() {
                        out.push(Event::TaskApproved { item: id() });
                    }
                }
                Decider::AnyOf(_) | Decider::Vote { .. } => self.vote_for(def, item, dept, out)?,
            },
            TaskCommand::Deny { reason } => {
                self.check_deciding_level(item)?;
                if reason.trim().is_empty() {
                    return Err(Rejection::ReasonRequired {
                        rule: "不予许可须说明理由 (a denial states its reason)",
                        what: "reason",
                    });
                }
                match &item.decided_by {
                    Decider::AnyOf(_) | Decider::Vote { .. } => self.vote_against(def, item, dept, reason, out)?,
                    _ => out.push(Event::TaskDenied { item: id(), reason: reason.clone() }),
                }
            }
            TaskCommand::StartSpecialProcedure { kind } => {
                out.push(Event::SpecialProcedureStarted { item: id(), kind: *kind })
            }
            TaskCommand::EndSpecialProcedure => out.push(Event::SpecialProcedureEnded { item: id() }),
            TaskCommand::ApproveSimulated => {
                self.check_deciding_level(item)?;
                if item.simulated_approval.is_none() {
                    return Err(Rejection::NotAllowedFor {
                        rule: "模拟审批",
                        subject: Subject::Task(item.id.clone()),
                        reason: "has no simulated-approval precondition in the definition; approve or deny it",
                    });
                }
                out.push(Event::TaskSimulatedApproved { item: id() })
            }
            TaskCommand::MeetPrecondition { facts_changed: true } => out.push(Event::SimulationReopened { item: id() }),
            TaskCommand::MeetPrecondition { facts_changed: false } => {
                out.extend([Event::SimulationConverted { item: id() }, Event::TaskApproved { item: id() }])
            }
            TaskCommand::Return { to, reason } => {
                if self.level == 0 {
                    return Err(Rejection::NotAllowedFor {
                        rule: "退回 (to an earlier review level)",
                        subject: Subject::Task(item.id.clone()),
                        reason: "is at its first level, so there is no earlier level to return it to; deny it with \
                                 a reason, or ask the applicant for materials",
                    });
                }
                if reason.trim().is_empty() {
                    return Err(Rejection::ReasonRequired {
                        rule: "退回须说明理由 (a return states its reason)",
                        what: "reason",
                    });
                }
                let to_level = match to {
                    ReturnTo::Previous => self.level - 1,
                    ReturnTo::First => 0,
                };
                out.push(Event::TaskReturned { item: id(), to_level, reason: reason.clone() })
            }
            TaskCommand::Urge { note } => out.push(Event::TaskUrged { item: id(), note: note.clone() }),
            TaskCommand::RequestSupplement { asked, days } => {
                if asked.is_empty() || asked.iter().any(|a| a.trim().is_empty()) {
                    return Err(Rejection::ReasonRequired {
                        rule: "补充材料须列明所需材料或说明 (a request lists each material or explanation asked)",
                        what: "non-empty entry in `asked`",
                    });
                }
                if !(1..=def.policies().supplement_max_days).contains(days) {
                    return Err(Rejection::OutOfRange {
                        what: "supplement deadline in working days",
                        value: days.to_string(),
                        accepted: "from 1 to the definition's policies.supplement_max_days (default 15) working days",
                    });
                }
                let cal = def.calendar();
                let date = cal.add_working_days(ctx.now.date(), *days)?;
                out.push(Event::SupplementRequested { item: id(), asked: asked.clone(), due: cal.office_close(date) })
            }
            TaskCommand::ProvideSupplement => out.push(Event::SupplementProvided { item: id() }),
            TaskCommand::Transfer { to } => {
                self.check_hand_on(item, to.as_ref(), ctx.actor)?;
                out.push(Event::TaskTransferred { item: id(), to: to.clone() })
            }
            TaskCommand::Delegate { to } => {
                self.check_hand_on(item, Some(to), ctx.actor)?;
                out.push(Event::TaskDelegated { item: id(), to: to.clone() })
            }
            TaskCommand::ResolveDelegation { note } => {
                out.push(Event::DelegationResolved { item: id(), note: note.clone() })
            }
            TaskCommand::Recall => {
                let department = match &item.decided_by {
                    Decider::Countersign(ds) | Decider::AnyOf(ds) | Decider::Vote { of: ds, .. } => {
                        def.department(ds[dept]).id.clone()
                    }
                    Decider::Department(_) if self.state == TaskState::InReview => {
                        return Err(Rejection::NotAllowedFor {
                            rule: "撤回 (a signer takes back its own signature)",
                            subject: Subject::Task(item.id.clone()),
                            reason: "is in review with no signature at its current level to take back; a review \
                                     level goes back with 退回 (return)",
                        });
                    }
                    Decider::Department(d) => def.department(*d).id.clone(),
                };
                out.push(Event::TaskRecalled { item: id(), department })
            }
        }
        Ok(())
    }

    /// The rejection of a 加签 / 减签 rule for `department`.
    fn countersigner(&self, department: &Id, rule: CountersignerRule) -> Rejection {
        Rejection::Countersigner { item: self.item_id.clone(), department: department.clone(), rule }
    }

    /// 加签: `department` becomes a countersigner of the running task, before or after the
    /// deciding signature.
    fn add_signer(
        &self,
        def: &Definition,
        item: &Item,
        department: &Id,
        position: SignerPosition,
        out: &mut Events,
    ) -> Result<(), Rejection> {
        let Some(ix) = def.department_ix(department) else {
            return Err(Rejection::Unknown {
                what: "department",
                id: department.to_string(),
                accepted: def
                    .departments()
                    .iter()
                    .filter(|d| d.kind != crate::definition::DepartmentKind::Supervision)
                    .map(|d| d.id.clone())
                    .collect(),
            });
        };
        let rule = if matches!(item.decided_by, Decider::AnyOf(_) | Decider::Vote { .. }) {
            Some(CountersignerRule::VotingItem)
        } else if def.department(ix).kind == crate::definition::DepartmentKind::Supervision {
            Some(CountersignerRule::Supervision)
        } else if item.decided_by.departments().contains(&ix) || self.added.iter().any(|a| a.department == *department)
        {
            Some(CountersignerRule::AlreadyInSet)
        } else if self.added.len() >= MAX_ADDED {
            Some(CountersignerRule::TooMany)
        } else if position == SignerPosition::Before && self.deciders_done(def) {
            Some(CountersignerRule::DecisionSigned)
        } else {
            None
        };
        if let Some(rule) = rule {
            return Err(self.countersigner(department, rule));
        }
        out.push(Event::TaskSignerAdded { item: self.item_id.clone(), department: department.clone(), position });
        Ok(())
    }

    /// 减签: an added countersigner that has not signed leaves the task; when it was all the
    /// task still waited for, the task is approved.
    fn remove_signer(&self, def: &Definition, item: &Item, department: &Id, out: &mut Events) -> Result<(), Rejection> {
        let in_definition = def.department_ix(department).is_some_and(|ix| item.decided_by.departments().contains(&ix));
        let added = self.added.iter().find(|a| a.department == *department);
        let rule = match added {
            _ if in_definition => Some(CountersignerRule::InDefinition),
            None => Some(CountersignerRule::NotAdded),
            Some(a) if a.signed => Some(CountersignerRule::Signed),
            Some(_) => None,
        };
        if let Some(rule) = rule {
            return Err(self.countersigner(department, rule));
        }
        out.push(Event::TaskSignerRemoved { item: self.item_id.clone(), department: department.clone() });
        let rest_signed = self.added.iter().all(|a| a.signed || a.department == *department);
        if self.state == TaskState::InReview && self.deciders_done(def) && rest_signed {
            out.push(Event::TaskApproved { item: self.item_id.clone() });
        }
        Ok(())
    }

    /// An added countersigner at position `k` of [`Task::added`] signs: a 后加签 one only after
    /// the deciding approval; the last signature the task waits for approves it.
    fn added_sign(&self, def: &Definition, k: usize, out: &mut Events) -> Result<(), Rejection> {
        let a = &self.added[k];
        if a.signed {
            return Err(Rejection::AlreadySigned { item: self.item_id.clone(), department: a.department.clone() });
        }
        if a.position == SignerPosition::After && !self.deciders_done(def) {
            return Err(self.countersigner(&a.department, CountersignerRule::SignsAfter));
        }
        out.push(Event::TaskSigned { item: self.item_id.clone(), department: a.department.clone() });
        let rest_signed = self.added.iter().enumerate().all(|(i, x)| x.signed || i == k);
        if self.deciders_done(def) && rest_signed {
            out.push(Event::TaskApproved { item: self.item_id.clone() });
        }
        Ok(())
    }

    /// A department of a 或签 or 票签 set votes once.
    fn check_not_voted(&self, def: &Definition, item: &Item, dept: usize) -> Result<(), Rejection> {
        if (self.signed | self.against) & (1 << dept) != 0 {
            return Err(Rejection::AlreadyVoted {
                rule: vote_rule(&item.decided_by),
                item: self.item_id.clone(),
                department: def.department(item.decided_by.departments()[dept]).id.clone(),
            });
        }
        Ok(())
    }

    /// The departments of the set that have not voted besides `dept`, as ids, for the
    /// cancellation of their pending reviews.
    fn pending_besides(&self, def: &Definition, item: &Item, dept: usize) -> Vec<Id> {
        let voted = self.signed | self.against | (1 << dept);
        item.decided_by
            .departments()
            .iter()
            .enumerate()
            .filter(|(i, _)| voted & (1 << i) == 0)
            .map(|(_, &d)| def.department(d).id.clone())
            .collect()
    }

    /// 或签 / 票签: the department at `dept` approves. 或签: it decides; 票签: the `k`th approval
    /// decides. A decision cancels the pending reviews of the departments that had not voted.
    fn vote_for(&self, def: &Definition, item: &Item, dept: usize, out: &mut Events) -> Result<(), Rejection> {
        self.check_not_voted(def, item, dept)?;
        let department = def.department(item.decided_by.departments()[dept]).id.clone();
        out.push(Event::TaskSigned { item: self.item_id.clone(), department: department.clone() });
        let approvals = (self.signed | (1 << dept)).count_ones();
        if approvals >= item.decided_by.approvals_needed() {
            let pending = self.pending_besides(def, item, dept);
            if !pending.is_empty() {
                let reason = match &item.decided_by {
                    Decider::Vote { k, of } => {
                        format!("票签：已有 {approvals} 个部门同意（{k}/{}），无需再投", of.len())
                    }
                    _ => format!("或签：已由 {department} 同意"),
                };
                out.push(Event::TaskVotesCancelled { item: self.item_id.clone(), departments: pending, reason });
            }
            out.push(Event::TaskApproved { item: self.item_id.clone() });
        }
        Ok(())
    }

    /// 或签 / 票签: the department at `dept` votes against with `reason`. 或签: it decides (the
    /// task is denied); 票签: the task is denied once `k` approvals can no longer be reached.
    fn vote_against(
        &self,
        def: &Definition,
        item: &Item,
        dept: usize,
        reason: &str,
        out: &mut Events,
    ) -> Result<(), Rejection> {
        self.check_not_voted(def, item, dept)?;
        let ds = item.decided_by.departments();
        let department = def.department(ds[dept]).id.clone();
        out.push(Event::TaskVotedAgainst {
            item: self.item_id.clone(),
            department: department.clone(),
            reason: reason.to_owned(),
        });
        let against = (self.against | (1 << dept)).count_ones();
        let reachable = ds.len() as u32 - against;
        let (decided, denial) = match &item.decided_by {
            Decider::Vote { k, of } => (
                reachable < *k,
                format!(
                    "票签：{against} 个部门不同意，同意最多 {reachable} 个，达不到 {k}/{}；最后意见：{reason}",
                    of.len()
                ),
            ),
            _ => (true, reason.to_owned()),
        };
        if decided {
            let pending = self.pending_besides(def, item, dept);
            if !pending.is_empty() {
                let why = match &item.decided_by {
                    Decider::Vote { k, .. } => format!("票签：已无法达到 {k} 个同意，无需再投"),
                    _ => format!("或签：已由 {department} 决定不予"),
                };
                out.push(Event::TaskVotesCancelled { item: self.item_id.clone(), departments: pending, reason: why });
            }
            out.push(Event::TaskDenied { item: self.item_id.clone(), reason: denial });
        }
        Ok(())
    }

    /// The guard of 转办 and 委派: an item decided by one department, to someone else than the
    /// holder, who signed no earlier level of the task (受审分离).
    fn check_hand_on(&self, item: &Item, to: Option<&Id>, actor: &Actor) -> Result<(), Rejection> {
        let refuse = |reason| Rejection::NotAllowedFor {
            rule: "转办/委派 (to another reviewer of the department)",
            subject: Subject::Task(item.id.clone()),
            reason,
        };
        if item.decided_by.departments().len() > 1 {
            return Err(refuse(
                "is decided by several departments (会签, 或签, 票签), each by its own reviewers; it is not handed on",
            ));
        }
        match to {
            Some(to) if *to == actor.id => Err(refuse("is held by that reviewer already; name another one")),
            Some(to) if self.signers.contains(to) => Err(refuse(
                "cannot go to someone who signed an earlier level of it (受审分离: nobody works on two levels of one task); name another reviewer",
            )),
            _ => Ok(()),
        }
    }

    /// Only the last review level decides (分级审批): below it, a reviewer passes the task on
    /// (approve) or returns it.
    fn check_deciding_level(&self, item: &Item) -> Result<(), Rejection> {
        if usize::from(self.level) + 1 < item.levels.len() {
            return Err(Rejection::NotAllowedFor {
                rule: "分级审批 (only the last review level decides)",
                subject: Subject::Task(item.id.clone()),
                reason: "is at a review level below the deciding one; approve to pass it to the next level, or \
                         return it",
            });
        }
        Ok(())
    }

    /// Folds one task event. The case folds the effects on its own clock (a special procedure
    /// pauses it) around this call.
    pub(crate) fn evolve(&mut self, def: &Definition, event: &Event, now: Instant) -> Result<(), IllegalTaskEvent> {
        use TaskState::*;
        let cal = def.calendar();
        let pct = def.policies().warning_percent;
        let need = |task: &Task, expected: &'static [TaskState]| {
            if expected.contains(&task.state) {
                Ok(())
            } else {
                Err(IllegalTaskEvent::State { item: task.item_id.clone(), state: task.state, expected })
            }
        };
        match event {
            Event::TaskReady { .. } => {
                need(self, &[Waiting])?;
                self.state = Ready;
                self.sla = Sla::start(cal, now, self.promised_days(def), pct).ok();
                self.start_level(def, 0, now);
            }
            Event::TaskLevelSigned { level, signer, .. } => {
                need(self, &[InReview])?;
                if *level != self.level {
                    return Err(IllegalTaskEvent::Level { item: self.item_id.clone(), at: self.level, level: *level });
                }
                self.signers.push(signer.clone());
                self.state = Ready;
                self.reviewer = None;
                self.pinned = false;
                self.start_level(def, self.level + 1, now);
            }
            Event::TaskReturned { to_level, .. } => {
                need(self, &[InReview])?;
                if *to_level >= self.level {
                    return Err(IllegalTaskEvent::Level {
                        item: self.item_id.clone(),
                        at: self.level,
                        level: *to_level,
                    });
                }
                // The signatures of the returned levels are void: they are signed again (the
                // deciding one and the added countersigners' too).
                self.signers.truncate(usize::from(*to_level));
                self.signed = 0;
                for a in &mut self.added {
                    a.signed = false;
                }
                self.state = Ready;
                #[cfg(feature = "fault-injection")]
                if crate::fault::active(crate::fault::Fault::ReturnStrandsTask) {
                    self.state = Waiting;
                }
                self.reviewer = None;
                self.pinned = false;
                self.start_level(def, *to_level, now);
            }
            Event::TaskUrged { .. } => {
                need(self, &[Ready, InReview])?;
                self.urged += 1;
            }
            Event::TaskRecalled { department, .. } => {
                need(self, &[InReview, Approved])?;
                if let Decider::Countersign(ds) | Decider::AnyOf(ds) | Decider::Vote { of: ds, .. } =
                    &def.item(self.item).decided_by
                {
                    let bit = ds.iter().position(|&d| def.department(d).id == *department).ok_or_else(|| {
                        IllegalTaskEvent::NotACountersigner {
                            item: self.item_id.clone(),
                            department: department.clone(),
                        }
                    })?;
                    self.signed &= !(1 << bit);
                }
                if self.state == Approved {
                    // 或签 / 票签: the reviews cancelled by the decision are pending again.
                    self.votes_cancelled = 0;
                    // One department's approval taken back: its deciding signature and the
                    // added countersigners' (加签) are given again.
                    if let Decider::Department(_) = &def.item(self.item).decided_by {
                        self.signed = 0;
                        for a in &mut self.added {
                            a.signed = false;
                        }
                    }
                    // The last level is open again: its clock starts afresh; the task's own
                    // clock runs on from where the approval stopped it (the promise covers the
                    // time it was approved, as it covers every level).
                    self.state = InReview;
                    if let Some(sla) = &mut self.sla {
                        sla.reopen(cal, pct);
                    }
                    // The signer who took its approval back holds the task (a countersign
                    // stays with the reviewer who claimed it).
                    if let (Decider::Department(_), Some(approver)) = (&def.item(self.item).decided_by, &self.approver)
                    {
                        self.reviewer = Some(approver.clone());
                    }
                    self.start_level(def, self.level, now);
                }
                self.approver = None;
            }
            Event::TaskTransferred { to, .. } => {
                need(self, &[InReview])?;
                match to {
                    Some(to) => {
                        self.reviewer = Some(to.clone());
                        self.pinned = true;
                    }
                    None => {
                        self.state = Ready;
                        self.reviewer = None;
                        self.pinned = false;
                    }
                }
            }
            Event::TaskDelegated { to, .. } => {
                need(self, &[InReview])?;
                self.delegate = Some(to.clone());
            }
            Event::DelegationResolved { .. } => {
                need(self, &[InReview])?;
                self.delegate = None;
            }
            Event::SupplementRequested { asked, due, .. } => {
                need(self, &[InReview])?;
                self.state = AwaitingSupplement;
                self.supplement = Some(SupplementRequest { asked: asked.clone(), since: now, due: *due });
                #[cfg(feature = "fault-injection")]
                if crate::fault::active(crate::fault::Fault::SupplementKeepsClockRunning) {
                    return Ok(());
                }
                if let Some(sla) = &mut self.sla {
                    sla.pause(now);
                }
                if let Some(sla) = &mut self.level_sla {
                    sla.pause(now);
                }
            }
            Event::SupplementProvided { .. } => {
                need(self, &[AwaitingSupplement])?;
                self.state = InReview;
                self.supplement = None;
                if let Some(sla) = &mut self.sla {
                    sla.resume(cal, now, pct);
                }
                if let Some(sla) = &mut self.level_sla {
                    sla.resume(cal, now, pct);
                }
            }
            Event::SupplementLapsed { consequence, .. } => {
                need(self, &[AwaitingSupplement])?;
                if *consequence == crate::definition::SupplementLapse::Deny {
                    self.state = Denied;
                    self.supplement = None;
                    self.stop_clock();
                }
                // ReturnCase: the case's `CaseReturned`, recorded next, ends the task.
            }
            Event::TaskUnready { .. } => {
                need(self, &[Ready])?;
                self.state = Waiting;
                self.sla = None;
                self.level_sla = None;
                self.level = 0;
                self.signers.clear();
                self.reviewer = None;
                self.claimed = false;
            }
            Event::TaskLevelSlaChanged { level, to, .. } => {
                need(self, &[Ready, InReview])?;
                match &mut self.level_sla {
                    Some(sla) if *level == self.level && sla.level < *to => sla.raise(*to, cal, pct),
                    _ => {
                        return Err(IllegalTaskEvent::Level {
                            item: self.item_id.clone(),
                            at: self.level,
                            level: *level,
                        });
                    }
                }
            }
            Event::TaskClaimed { reviewer, .. } => {
                need(self, &[Ready])?;
                self.state = InReview;
                self.reviewer = Some(reviewer.clone());
                self.claimed = true;
            }
            Event::TaskSigned { department, .. } => {
                need(self, &[InReview])?;
                if let Some(a) = self.added.iter_mut().find(|a| a.department == *department) {
                    a.signed = true;
                } else {
                    let bit = self.deciding_position(def, department)?;
                    self.signed |= 1 << bit;
                }
            }
            Event::TaskSignerAdded { department, position, .. } => {
                need(self, &[Ready, InReview])?;
                self.added.push(AddedSigner { department: department.clone(), position: *position, signed: false });
            }
            Event::TaskSignerRemoved { department, .. } => {
                need(self, &[Ready, InReview])?;
                let k = self.added.iter().position(|a| a.department == *department).ok_or_else(|| {
                    IllegalTaskEvent::NotACountersigner { item: self.item_id.clone(), department: department.clone() }
                })?;
                self.added.remove(k);
            }
            Event::TaskVotedAgainst { department, .. } => {
                need(self, &[InReview])?;
                let bit = self.deciding_position(def, department)?;
                self.against |= 1 << bit;
            }
            Event::TaskVotesCancelled { departments, .. } => {
                need(self, &[InReview])?;
                for department in departments {
                    let bit = self.deciding_position(def, department)?;
                    self.votes_cancelled |= 1 << bit;
                }
            }
            Event::TaskApproved { .. } => {
                need(self, &[InReview, SimulatedApproved])?;
                self.state = Approved;
                self.lapse_due = None;
                self.stop_clock();
            }
            Event::TaskDenied { .. } => {
                need(self, &[InReview])?;
                self.state = Denied;
                self.stop_clock();
            }
            Event::TaskCancelled { .. } => {
                need(self, &[Waiting])?;
                self.state = Cancelled;
            }
            Event::SpecialProcedureStarted { kind, .. } => {
                need(self, &[InReview])?;
                self.state = SpecialProcedure;
                self.special = Some(*kind);
                if let Some(sla) = &mut self.sla {
                    sla.pause(now);
                }
                if let Some(sla) = &mut self.level_sla {
                    sla.pause(now);
                }
            }
            Event::SpecialProcedureEnded { .. } => {
                need(self, &[SpecialProcedure])?;
                self.state = InReview;
                self.special = None;
                if let Some(sla) = &mut self.sla {
                    sla.resume(cal, now, pct);
                }
                if let Some(sla) = &mut self.level_sla {
                    sla.resume(cal, now, pct);
                }
            }
            Event::TaskSimulatedApproved { .. } => {
                need(self, &[InReview])?;
                let days = def.item(self.item).simulated_approval.as_ref().map_or(0, |s| s.validity_days);
                self.state = SimulatedApproved;
                self.lapse_due = cal.add_working_days(now.date(), days).ok().map(|d| cal.office_close(d));
                self.stop_clock();
            }
            Event::SimulationConverted { .. } => need(self, &[SimulatedApproved])?,
            Event::SimulationReopened { .. } => {
                need(self, &[SimulatedApproved])?;
                self.state = InReview;
                self.lapse_due = None;
                // The re-review is a review again: its promised time runs afresh.
                self.sla = Sla::start(cal, now, self.promised_days(def), pct).ok();
            }
            Event::TaskLapsed { .. } => {
                need(self, &[SimulatedApproved])?;
                self.state = Lapsed;
                self.lapse_due = None;
            }
            _ => unreachable!("Task::evolve is called for task events only"),
        }
        Ok(())
    }

    /// The position of `department` among the item's deciding departments.
    fn deciding_position(&self, def: &Definition, department: &Id) -> Result<usize, IllegalTaskEvent> {
        let ds = def.item(self.item).decided_by.departments();
        ds.iter().position(|&d| def.department(d).id == *department).ok_or_else(|| {
            IllegalTaskEvent::NotACountersigner { item: self.item_id.clone(), department: department.clone() }
        })
    }

    /// Ends an open task because its case ended (撤回, 退件): the `CaseEnded` cascade of the spec.
    pub(crate) fn end_with_case(&mut self) {
        if !self.state.is_terminal() {
            spec::cascade_taken::<TaskMachine>(self.state, TaskCascade::CaseEnded, TaskState::Cancelled);
            self.state = TaskState::Cancelled;
            self.special = None;
            self.supplement = None;
            self.delegate = None;
            self.stop_clock();
        }
    }

    /// The work is done (or leaves review for good): its clocks stop and nobody holds it by
    /// name any more.
    fn stop_clock(&mut self) {
        self.pinned = false;
        if let Some(sla) = &mut self.sla {
            sla.stop();
        }
        self.level_sla = None;
    }

    /// Enters review level `level`: its clock starts afresh when the level has a limit. The
    /// task's own clock runs on across levels (the promise covers all of them).
    fn start_level(&mut self, def: &Definition, level: u8, now: Instant) {
        self.level = level;
        let limit = def.item(self.item).levels.get(usize::from(level)).and_then(|l| l.limit_days);
        self.level_sla =
            limit.and_then(|days| Sla::start(def.calendar(), now, days, def.policies().warning_percent).ok());
    }
}
