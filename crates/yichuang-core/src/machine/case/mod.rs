//! The case machine (办件): 前台综合受理 → 后台并联审批 → 统一窗口出件.
//!
//! One module, one machine: the states, commands and timers with the transition spec
//! ([`CaseMachine`]) here; `decide.rs` turns a command into events or a [`Rejection`] (never a
//! partial change) after the spec admitted it; `evolve.rs` folds one event into the state;
//! `cascade.rs` derives what follows from a state without a command (a task becoming ready or
//! cancelled, the case being decided) and records it; `timers.rs` lists the pending timers and
//! fires the due ones. The task machine ([`crate::machine::task`]) lives inside a case.
//!
//! A case changes only through [`crate::Engine`]: its fields are private and these methods are
//! crate-private; embedders read it through the accessors below.
//!
//! ```compile_fail
//! # use yichuang_core::*;
//! fn bypass(case: &mut Case) {
//!     case.state = CaseState::Closed; // the fields are private: only the engine changes a case
//! }
//! ```

mod cascade;
mod decide;
mod evolve;
mod migrate;
mod timers;

use std::sync::Arc;

use serde::Serialize;

use crate::definition::{BundleIx, Channel, Definition, Id, MaterialIx, MaterialNeed};
use crate::event::{Answers, Applicant, CaseId, DeliveryMethod, Outcome};
use crate::machine::sla::Sla;
use crate::machine::task::{MemberSet, Task, TaskCommand, TaskTimer};
use crate::rejection::{Rejection, Subject};
use crate::time::{Date, Instant};

pub use self::cascade::Gate;
pub use self::evolve::{Illegal, IllegalEvent};
pub use self::migrate::{MigrationPlan, Obstacle, TaskChange, Verdict};

/// What each member of `bundle` waits for when the members in `applies` apply: its
/// predecessors, resolved through those that do not apply (a member after one that does not
/// apply waits for what that one would have waited for), in topological order. Acceptance
/// ([`Case`]'s tasks), a migration's re-evaluation of every join, and invariant 3 read it.
pub(crate) fn waits_through(bundle: &crate::definition::Bundle, applies: MemberSet) -> [MemberSet; 64] {
    let mut waits = [MemberSet::EMPTY; 64];
    for &m in &bundle.topo {
        let mut w = MemberSet::EMPTY;
        for &p in &bundle.members[m].after {
            if applies.contains(p) {
                w.insert(p);
            } else {
                w.0 |= waits[p].0;
            }
        }
        waits[m] = w;
    }
    waits
}

crate::kind_enum! {
    /// State of a case.
    #[derive(Serialize)]
    pub enum CaseState {
        /// 帮办咨询: consulted, one-time notice given.
        Consulting,
        /// 已收件: received, awaiting the intake decision.
        Received,
        /// 待补正: a correction notice listing every missing material was given.
        AwaitingCorrection,
        /// 审批中: accepted; approval tasks run in parallel over the dependency graph.
        InApproval,
        /// 待补齐: decided, but results wait for a tolerated material.
        AwaitingCure,
        /// 暂停办理: the cure deadline passed.
        Suspended,
        /// 待出件: results ready at the unified delivery window.
        ReadyForDelivery,
        /// 已出件: delivered, awaiting the rating.
        Delivered,
        /// 已办结归档: rated (final).
        Closed,
        /// 不予受理 (final).
        Rejected,
        /// 退件 (final).
        Returned,
        /// 撤回 (final).
        Withdrawn,
        /// 撤销: certificate voided after a missed cure (final).
        Revoked,
    }
}

impl CaseState {
    /// Final states take no more commands.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CaseState::Closed | CaseState::Rejected | CaseState::Returned | CaseState::Withdrawn | CaseState::Revoked
        )
    }
}

crate::kind_enum! {
    /// The kind of a case command ([`Command::kind`]): the key of the case machine's spec.
    pub enum CommandKind {
        /// 帮办咨询 (opens a case).
        Consult = "consult",
        /// 提交申请.
        Submit = "submit",
        /// 受理.
        Accept = "accept",
        /// 容缺受理.
        AcceptTolerating = "accept_tolerating",
        /// 补正告知.
        RequestCorrection = "request_correction",
        /// 不予受理.
        Reject = "reject",
        /// 补正后重新提交.
        Resubmit = "resubmit",
        /// 补齐容缺材料.
        Supply = "supply",
        /// A command to one of the case's tasks (the task machine decides it).
        Task = "task command",
        /// 一并出件.
        Deliver = "deliver",
        /// 好差评.
        Rate = "rate",
        /// 撤回.
        Withdraw = "withdraw",
        /// 版本迁移: an administrator moves the case to another definition version
        /// ([`crate::Engine::migrate`]).
        Migrate = "migrate",
    }
}

crate::kind_enum! {
    /// A case-level timer.
    pub enum CaseTimer {
        /// 5 wd without an intake decision → deemed accepted (行政许可法 Art. 32).
        DeemedAcceptance = "5 wd without decision",
        /// The case clock's next level (预警, then 逾期).
        Sla = "SLA warning / overdue",
        /// The cure deadline of tolerated materials (容缺).
        CureDue = "cure due",
        /// The suspension's grace period is over → 退件.
        GraceOver = "grace over",
        /// No rating after the policy's delay → the default rating.
        DefaultRating = "default rating",
        /// Materials asked during review (补充材料) not supplied by the deadline, under the policy
        /// `ReturnCase` → 退件.
        SupplementDue = "supplement due",
    }
}

crate::kind_enum! {
    /// A case-level cascade step.
    pub enum CaseCascade {
        /// Every task is terminal: `CaseDecided`.
        Decided = "every task terminal",
    }
}

crate::machine_spec! {
    /// The case machine (DESIGN §4.1): 前台综合受理 → 后台并联审批 → 统一窗口出件.
    pub struct CaseMachine {
        name: "case",
        title: "Case 办件",
        state: CaseState,
        command: CommandKind,
        timer: CaseTimer,
        cascade: CaseCascade,
        initial: [Consulting, Received],
        final: [Closed, Rejected, Returned, Withdrawn, Revoked],
    }
    (Consulting, Command(Submit)) => [Received], "receipt recorded; trip +1 at a window";
    (Received, Command(Accept)) => [InApproval], "all required and tolerable materials present; tasks created";
    (Received, Command(AcceptTolerating)) => [InApproval],
        "容缺: only tolerable missing, no credit block, cure due ≤ promised limit";
    (Received, Command(RequestCorrection)) => [AwaitingCorrection], "补正告知 lists every missing material";
    (Received, Command(Reject)) => [Rejected], "不予受理 with a reason";
    (Received, Timer(DeemedAcceptance)) => [InApproval], "deemed accepted as of receipt (Art. 32)";
    (AwaitingCorrection, Command(Resubmit)) => [Received], "acceptance date = last material's arrival; trip +1";
    (InApproval, Command(Task)) => [InApproval], "see the task machine; the decision follows as a cascade";
    (InApproval, Command(Supply)) => [InApproval], "a tolerated material arrives; blocked tasks may start";
    (InApproval, Cascade(Decided)) => [AwaitingCure, ReadyForDelivery],
        "CaseDecided: outcome Approved / PartiallyApproved / Denied";
    (InApproval, Timer(Sla)) => [InApproval], "预警 at the threshold, then 逾期";
    (InApproval, Timer(CureDue)) => [Suspended], "暂停办理";
    (AwaitingCure, Command(Supply)) => [AwaitingCure, ReadyForDelivery], "when nothing is outstanding";
    (AwaitingCure, Timer(CureDue)) => [Suspended], "暂停办理";
    (Suspended, Command(Supply)) => [Suspended, InApproval, ReadyForDelivery], "cured within the grace period: resume";
    (Suspended, Timer(GraceOver)) => [Returned], "退件";
    (InApproval, Timer(SupplementDue)) => [Returned], "补充材料 not supplied in time, policy ReturnCase: 退件";
    (ReadyForDelivery, Command(Supply)) => [ReadyForDelivery], "issue-before-cure items: cure still due";
    (ReadyForDelivery, Timer(CureDue)) => [Suspended], "暂停办理";
    (ReadyForDelivery, Command(Deliver)) => [Delivered], "一并出件; trip +1 at a window";
    (Delivered, Command(Rate)) => [Closed, Delivered], "好差评; closed once nothing is outstanding";
    (Delivered, Command(Supply)) => [Delivered, Closed], "issue-before-cure cure arrives";
    (Delivered, Timer(DefaultRating)) => [Closed, Delivered], "default rating after the policy delay";
    (Delivered, Timer(CureDue)) => [Revoked], "issue-before-cure certificate voided";
    (Consulting, Command(Migrate)) => [Consulting], "版本迁移: runs on the new version from now";
    (Received, Command(Migrate)) => [Received], "版本迁移: acceptance checks the new version's materials";
    (AwaitingCorrection, Command(Migrate)) => [AwaitingCorrection], "版本迁移: acceptance checks the new version";
    (InApproval, Command(Migrate)) => [InApproval],
        "版本迁移: joins re-evaluated, removed unstarted members leave, promises never lengthened";
    (Consulting, Command(Withdraw)) => [Withdrawn], "撤回";
    (Received, Command(Withdraw)) => [Withdrawn], "撤回";
    (AwaitingCorrection, Command(Withdraw)) => [Withdrawn], "撤回";
    (InApproval, Command(Withdraw)) => [Withdrawn], "撤回; open tasks cancelled";
    (AwaitingCure, Command(Withdraw)) => [Withdrawn], "撤回";
    (Suspended, Command(Withdraw)) => [Withdrawn], "撤回";
    (ReadyForDelivery, Command(Withdraw)) => [Withdrawn], "撤回";
    #[cfg(test)]
    (Delivered, Command(Withdraw)) => [Withdrawn], "a row only the unit tests declare (spec-probe)";
}

/// An application as handed in (收件).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Bundle id.
    pub bundle: Id,
    /// The applicant.
    pub applicant: Applicant,
    /// Channel used.
    pub channel: Channel,
    /// Material ids handed in, shared with the `Submitted` event (build with `vec![…].into()`).
    pub materials: Arc<[Id]>,
    /// Form answers (情形), shared with the `Submitted` event.
    pub answers: Answers,
    /// Green channel requested (绿色通道; only for eligible bundles).
    pub green_channel: bool,
}

/// A command to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// 帮办咨询: ask for the one-time notice of a bundle (opens a case).
    Consult {
        /// Bundle id.
        bundle: Id,
        /// The applicant.
        applicant: Applicant,
    },
    /// 提交申请 (opens a case, or continues a consultation).
    Submit(Box<Submission>),
    /// 受理.
    Accept,
    /// 容缺受理 with the promised cure date.
    AcceptTolerating {
        /// Date by which the tolerated materials must arrive.
        cure_due: Date,
    },
    /// 补正告知 (the engine lists what is missing).
    RequestCorrection,
    /// 不予受理.
    Reject {
        /// The reason (and the agency to turn to).
        reason: String,
    },
    /// 补正后重新提交.
    Resubmit {
        /// Materials handed in now.
        materials: Vec<Id>,
    },
    /// 补齐容缺材料.
    Supply {
        /// The material.
        material: Id,
    },
    /// A task-level command on one item.
    Task {
        /// Item id.
        item: Id,
        /// The action.
        action: TaskCommand,
    },
    /// 一并出件.
    Deliver {
        /// Method.
        method: DeliveryMethod,
    },
    /// 好差评.
    Rate {
        /// 1–5 stars.
        stars: u8,
    },
    /// 撤回.
    Withdraw,
}

impl Command {
    /// The command's kind (its row key in the spec).
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Consult { .. } => CommandKind::Consult,
            Command::Submit(_) => CommandKind::Submit,
            Command::Accept => CommandKind::Accept,
            Command::AcceptTolerating { .. } => CommandKind::AcceptTolerating,
            Command::RequestCorrection => CommandKind::RequestCorrection,
            Command::Reject { .. } => CommandKind::Reject,
            Command::Resubmit { .. } => CommandKind::Resubmit,
            Command::Supply { .. } => CommandKind::Supply,
            Command::Task { .. } => CommandKind::Task,
            Command::Deliver { .. } => CommandKind::Deliver,
            Command::Rate { .. } => CommandKind::Rate,
            Command::Withdraw => CommandKind::Withdraw,
        }
    }

    /// Command name for messages and traces (a task command's own name, e.g. `claim`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Task { action, .. } => action.name(),
            _ => self.kind().name(),
        }
    }
}

/// A rating (好差评).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rating {
    /// 1–5 stars.
    pub stars: u8,
    /// Recorded by the default timer.
    pub by_default: bool,
    /// When.
    pub at: Instant,
}

/// A case (办件): one application for one bundle. Read-only outside the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    pub(crate) id: CaseId,
    #[serde(serialize_with = "ser_bundle")]
    pub(crate) bundle: BundleIx,
    pub(crate) applicant: Applicant,
    pub(crate) state: CaseState,
    pub(crate) channel: Option<Channel>,
    pub(crate) green_channel: bool,
    /// Members whose condition (情形) holds for the form answers, a bit per member position.
    /// The answers themselves stay in the `Submitted` event.
    pub(crate) applicable: u64,
    /// Materials handed in, sorted, deduplicated.
    #[serde(serialize_with = "ser_materials")]
    pub(crate) materials: Vec<MaterialIx>,
    pub(crate) correction: Vec<Id>,
    pub(crate) received_at: Option<Instant>,
    pub(crate) accepted_as_of: Option<Date>,
    pub(crate) outstanding: Vec<Id>,
    pub(crate) cure_due: Option<Instant>,
    pub(crate) suspended: Option<(Instant, CaseState)>,
    /// One task per bundle member (same positions).
    pub(crate) tasks: Vec<Task>,
    pub(crate) sla: Option<Sla>,
    pub(crate) trips: u32,
    pub(crate) window: Option<Id>,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) delivered: Option<(Instant, DeliveryMethod)>,
    pub(crate) rating: Option<Rating>,
    pub(crate) version: u32,
    /// Index of the definition version the case runs on, in the engine's list of versions
    /// ([`crate::Engine::definition_of`]).
    #[serde(skip)]
    pub(crate) def_ix: u16,
    /// The form answers (情形) of the submission, kept so that a migration can decide whether a
    /// member the new version adds applies.
    #[serde(skip)]
    pub(crate) answers: Answers,
    /// Time of the last event folded: timers found due earlier (e.g. a case clock that started
    /// in the past on a deemed acceptance) are stamped no earlier, so a log's times never run
    /// backwards.
    pub(crate) updated_at: Option<Instant>,
}

fn ser_bundle<S: serde::Serializer>(b: &BundleIx, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u32(b.index() as u32)
}
fn ser_materials<S: serde::Serializer>(m: &[MaterialIx], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter().map(|x| x.index()))
}

/// A pending timer of a case: its own, or one of a task (by member position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// A case-level timer.
    Case(CaseTimer),
    /// A timer of the task at this member position.
    Task(usize, TaskTimer),
}

/// Read-only views.
impl Case {
    /// Case number.
    pub fn id(&self) -> CaseId {
        self.id
    }
    /// The bundle applied for, by index in the definition.
    pub fn bundle(&self) -> BundleIx {
        self.bundle
    }
    /// The applicant.
    pub fn applicant(&self) -> &Applicant {
        &self.applicant
    }
    /// The state.
    pub fn state(&self) -> CaseState {
        self.state
    }
    /// The channel of the application (none for a consultation).
    pub fn channel(&self) -> Option<Channel> {
        self.channel
    }
    /// Whether the green channel (绿色通道) was used.
    pub fn green_channel(&self) -> bool {
        self.green_channel
    }
    /// Whether the member at `position` applies to this case (its condition, 情形, holds).
    pub fn applies(&self, position: usize) -> bool {
        position < 64 && self.applicable & (1 << position) != 0
    }
    /// Materials handed in, sorted, deduplicated.
    pub fn materials(&self) -> &[MaterialIx] {
        &self.materials
    }
    /// The missing materials the last correction notice (补正告知) listed.
    pub fn correction(&self) -> &[Id] {
        &self.correction
    }
    /// Receipt time (the last material's arrival after a correction).
    pub fn received_at(&self) -> Option<Instant> {
        self.received_at
    }
    /// The acceptance date (受理日期) the clock counts from.
    pub fn accepted_as_of(&self) -> Option<Date> {
        self.accepted_as_of
    }
    /// Tolerated materials still outstanding (容缺).
    pub fn outstanding(&self) -> &[Id] {
        &self.outstanding
    }
    /// When the outstanding materials are due.
    pub fn cure_due(&self) -> Option<Instant> {
        self.cure_due
    }
    /// The suspension (暂停办理): since when, and the state it resumes.
    pub fn suspended(&self) -> Option<(Instant, CaseState)> {
        self.suspended
    }
    /// The tasks, one per bundle member, at the members' positions (empty before acceptance).
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }
    /// The task of a member item, by item id.
    pub fn task(&self, item: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.item_id.as_str() == item)
    }
    /// The case clock (running from the acceptance date).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use yichuang_core::*;
    /// # use yichuang_core::definition::WindowClass;
    /// # let def = Arc::new(Definition::from_ron(include_str!("../../../../../examples/definitions/county-hall.ron"), "county-hall.ron").unwrap());
    /// # let window = |class| def.windows().iter().find(|w| w.class == class).unwrap().id.clone();
    /// # let clerk = Actor::clerk("clerk-1", &window(WindowClass::Intake));
    /// # let bundle = def.bundle(def.bundle_ix("open-business").unwrap());
    /// # let materials: Vec<Id> = bundle.materials.iter().map(|&(m, _)| def.material(m))
    /// #     .filter(|m| m.shared_source.is_none()).map(|m| m.id.clone()).collect();
    /// # let submission = Submission {
    /// #     bundle: bundle.id.clone(),
    /// #     applicant: Applicant { id: Id::new("91000000MA00000001"), name: "示例公司".into(), credit_blocked: false },
    /// #     channel: Channel::Window,
    /// #     materials: materials.into(),
    /// #     answers: std::collections::BTreeMap::from([("company-name".to_owned(), "示例公司".to_owned())]).into(),
    /// #     green_channel: false,
    /// # };
    /// # let mut engine = Engine::new(Arc::clone(&def));
    /// # let now: Instant = "2026-03-02T09:30".parse().unwrap();
    /// let (case, _) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &clerk })?;
    /// assert!(engine.case(case).unwrap().sla().is_none(), "no clock before acceptance");
    /// engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk })?;
    /// let c = engine.case(case).unwrap();
    /// let sla = c.sla().expect("the case clock runs from acceptance");
    /// assert_eq!(sla.level, machine::sla::SlaLevel::Normal);
    /// // 我要办企业 promises 2 working days: due at the close of the second working day after
    /// // Monday 2026-03-02.
    /// assert_eq!(sla.deadline(def.calendar()).unwrap().to_string(), "2026-03-04T17:30");
    /// // Each task has its own clock too.
    /// assert!(c.task("business-licence").unwrap().sla().is_some());
    /// # Ok::<(), Rejection>(())
    /// ```
    pub fn sla(&self) -> Option<&Sla> {
        self.sla.as_ref()
    }
    /// Trips to the hall (跑动次数).
    pub fn trips(&self) -> u32 {
        self.trips
    }
    /// The window that took the application (谁办理谁负责: tickets about the case go there).
    pub fn window(&self) -> Option<&Id> {
        self.window.as_ref()
    }
    /// The outcome, once decided.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }
    /// Delivery time and method.
    pub fn delivered(&self) -> Option<(Instant, DeliveryMethod)> {
        self.delivered
    }
    /// The rating (好差评).
    pub fn rating(&self) -> Option<Rating> {
        self.rating
    }
    /// Events folded so far (the stream's version).
    pub fn version(&self) -> u32 {
        self.version
    }
    /// Time of the last event folded.
    pub fn updated_at(&self) -> Option<Instant> {
        self.updated_at
    }
    /// Whether `actor` may read this case: the applicant themselves, or any member of the hall's
    /// staff (clerks, reviewers, supervisors, leaders, administrators, the system). Applicants
    /// read only their own cases.
    pub fn readable_by(&self, actor: &crate::actor::Actor) -> bool {
        actor.role != crate::actor::Role::Applicant || actor.id == self.applicant.id
    }
}

impl Case {
    /// A new, empty case (before its first event).
    /// Whether the case is finished: final, or delivered with nothing outstanding (all that can
    /// still happen to it is its rating, which reads no task, material or list).
    pub fn is_finished(&self) -> bool {
        self.state.is_final() || (self.state == CaseState::Delivered && self.outstanding.is_empty())
    }

    pub(crate) fn new(id: CaseId, bundle: BundleIx, applicant: Applicant) -> Case {
        Case {
            id,
            bundle,
            applicant,
            state: CaseState::Consulting,
            channel: None,
            green_channel: false,
            applicable: 0,
            materials: Vec::new(),
            correction: Vec::new(),
            received_at: None,
            accepted_as_of: None,
            outstanding: Vec::new(),
            cure_due: None,
            suspended: None,
            tasks: Vec::new(),
            sla: None,
            trips: 0,
            window: None,
            outcome: None,
            delivered: None,
            rating: None,
            version: 0,
            def_ix: 0,
            answers: Answers::default(),
            updated_at: None,
        }
    }

    fn task_pos(&self, item: &Id) -> Option<usize> {
        item.position_in(self.tasks.iter().map(|t| &t.item_id))
    }

    /// Materials of the applicable members (by the answers) that are neither handed in nor
    /// shared (免提交), with their strictest need.
    pub fn missing(&self, def: &Definition) -> Vec<(MaterialIx, MaterialNeed)> {
        let bundle = def.bundle(self.bundle);
        let applicable =
            || bundle.members.iter().enumerate().filter(|&(i, _)| self.applicable & (1 << i) != 0).map(|(_, m)| m);
        let absent =
            |m: MaterialIx| def.material(m).shared_source.is_none() && self.materials.binary_search(&m).is_err();
        // Usually every material is there: answer that without building the merged list.
        if !applicable().any(|m| def.item(m.item).materials.iter().any(|&(x, _)| absent(x))) {
            return Vec::new();
        }
        let applies: Vec<bool> = (0..bundle.members.len()).map(|i| self.applicable & (1 << i) != 0).collect();
        bundle
            .materials_for(def, &applies)
            .into_iter()
            .filter(|&(m, need)| need != MaterialNeed::Optional && absent(m))
            .collect()
    }

    /// The latest cure date (容缺) that an acceptance of this case on `today` may promise
    /// ([`Definition::latest_cure_date`]).
    pub fn latest_cure_date(&self, def: &Definition, today: Date) -> Result<Date, Rejection> {
        Ok(def.latest_cure_date(self.bundle, today)?)
    }
}

/// Checks on what a command carries, before any state is consulted.
impl Case {
    fn material_ids(def: &Definition, ids: &[Id]) -> Result<(), Rejection> {
        for id in ids {
            if def.material_ix(id).is_none() {
                return Err(Rejection::Unknown {
                    what: "material",
                    id: id.to_string(),
                    accepted: def.materials().iter().map(|m| m.id.clone()).collect(),
                });
            }
        }
        Ok(())
    }

    /// Longest accepted applicant id, in characters.
    pub const APPLICANT_ID_CHARS_MAX: usize = 64;

    /// An applicant id (统一社会信用代码, 身份证号 …) is 1–64 characters, not all blank, with no
    /// control characters and no invisible formatting characters (bidirectional overrides and
    /// isolates, zero-width spaces and joiners, the byte-order mark), which could make two ids
    /// look alike or reorder what a clerk reads: it names the applicant in every event and is
    /// matched against applicants' tokens.
    pub fn check_applicant_id(id: &Id) -> Result<(), Rejection> {
        let text = id.as_str();
        // The common case, printable ASCII within the limit, in one pass over the bytes.
        let bytes = text.as_bytes();
        if bytes.len() <= Case::APPLICANT_ID_CHARS_MAX
            && bytes.iter().all(|b| (b' '..=b'~').contains(b))
            && bytes.iter().any(|&b| b != b' ')
        {
            return Ok(());
        }
        let chars = text.chars().count();
        let fits = (1..=Case::APPLICANT_ID_CHARS_MAX).contains(&chars)
            && !text.trim().is_empty()
            && !text.chars().any(|c| c.is_control() || is_invisible_format(c));
        if fits {
            return Ok(());
        }
        let value =
            if chars > Case::APPLICANT_ID_CHARS_MAX { format!("of {chars} characters") } else { format!("{text:?}") };
        Err(Rejection::OutOfRange {
            what: "applicant id",
            value,
            accepted: "an applicant id is 1–64 characters, not blank, without control characters and without \
                       invisible formatting characters (bidirectional overrides, zero-width characters), e.g. a \
                       unified social credit code (统一社会信用代码) or an ID card number",
        })
    }

    /// Validates a submission against the definition (shared by opening and consulting cases).
    pub fn check_submission(def: &Definition, s: &Submission) -> Result<BundleIx, Rejection> {
        let Some(bundle) = def.bundle_ix(&s.bundle) else {
            return Err(Rejection::Unknown {
                what: "bundle",
                id: s.bundle.to_string(),
                accepted: def.bundles().iter().map(|b| b.id.clone()).collect(),
            });
        };
        Case::check_applicant_id(&s.applicant.id)?;
        Case::material_ids(def, &s.materials)?;
        let b = def.bundle(bundle);
        b.check_answers(def, &s.answers).map_err(Rejection::FormAnswer)?;
        if s.green_channel && !b.green_channel_eligible(def) {
            return Err(Rejection::NotAllowedFor {
                rule: "绿色通道 (green channel)",
                subject: Subject::Bundle(b.id.clone()),
                reason: "has no green-channel member; submit without the green channel",
            });
        }
        Ok(bundle)
    }
}

/// Characters that change how text is shown without being seen: the bidirectional controls
/// (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069), zero-width and joiner characters
/// (U+200B–U+200D, U+2060–U+2064, U+FEFF), the soft hyphen, U+180E and the interlinear
/// annotation marks (Unicode's format characters that can occur in an id).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'
            | '\u{61C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::{Actor, Ctx};
    use crate::event::{Event, Events};
    use crate::machine::spec::{self, Kind};

    /// The spec declares `Delivered + withdraw` only in these unit tests (`#[cfg(test)]` on the
    /// row): declaring it, and nothing else, makes it reachable in `decide` (the handler runs
    /// instead of the state refusal), in the table and the diagram, and in the moves the checker
    /// proposes (`spec::commands_in`). In every other build the row does not exist and the
    /// integration tests see the command refused as an invalid state.
    #[test]
    fn a_row_declared_only_in_the_spec_is_reachable_everywhere() {
        let def = Definition::from_ron(include_str!("../../../tests/data/hall.ron"), "hall.ron").unwrap();
        let applicant = Applicant { id: Id::new("a"), name: "申请人".into(), credit_blocked: false };
        let mut case = Case::new(CaseId(1), def.bundle_ix("restaurant").unwrap(), applicant);
        case.state = CaseState::Delivered;
        let actor = Actor::applicant("a");
        let ctx = Ctx { now: "2026-03-02T09:30".parse().unwrap(), actor: &actor };
        let mut out = Events::new();
        case.decide(&def, &Command::Withdraw, &ctx, &mut out).expect("the spec admits it");
        assert_eq!(out.into_vec(), vec![Event::Withdrawn]);
        assert!(spec::markdown::<CaseMachine>().contains("| Delivered | withdraw | Withdrawn |"));
        let diagram = spec::mermaid::<CaseMachine>();
        let withdraw_from = diagram.lines().find(|l| l.contains("state \"Consulting, Received")).unwrap();
        assert!(withdraw_from.contains("ReadyForDelivery, Delivered\""), "{withdraw_from}");
        assert!(spec::commands_in::<CaseMachine>(CaseState::Delivered).any(|c| c == CommandKind::Withdraw));
        // What the checker proposes in a delivered case: supply, rate, and (with the row) withdraw.
        let names: Vec<&str> = spec::commands_in::<CaseMachine>(CaseState::Delivered).map(Kind::name).collect();
        assert_eq!(names, ["supply", "rate", "withdraw"]);
    }
}
