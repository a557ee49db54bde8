//! Definitions (事项与一件事定义): departments, windows, materials, items, bundles, the calendar,
//! policies and the rectification plan, loaded from RON.
//!
//! [`Definition::from_ron`] is the only way to build a [`Definition`]: it returns the validated
//! definition or **every** diagnostic at once. Downstream code (the engine, the planner, the CLI)
//! never re-checks references, cycles or limits. **Architecture invariant:** a `Definition` value
//! is internally consistent; every index it hands out is in range.

mod diff;
mod load;
mod plan;
pub(crate) mod raw;
mod span;
mod version;

/// Id → index. Looked up on every command (materials, items, windows), so a fast non-keyed
/// hash beats an ordered map; iteration order never reaches an output.
pub(crate) type IdMap = std::collections::HashMap<Id, u32, rustc_hash::FxBuildHasher>;
/// The address and length of a definition-owned id's text → its index: a direct-mapped table
/// (one probe; an id that collides with another falls back to the text map).
#[derive(Debug, Clone, Default)]
struct PtrMap {
    /// (address, length, index); address 0 for an empty slot.
    slots: Vec<(usize, usize, u32)>,
    shift: u32,
}

impl PtrMap {
    fn new<'a>(ids: impl ExactSizeIterator<Item = &'a Id>) -> PtrMap {
        let bits = (ids.len() * 4).next_power_of_two().trailing_zeros().max(1);
        let mut map = PtrMap { slots: vec![(0, 0, 0); 1 << bits], shift: u64::BITS - bits };
        for (i, id) in ids.enumerate() {
            let (address, len) = (id.as_str().as_ptr() as usize, id.as_str().len());
            let slot = map.slot(address);
            if map.slots[slot].0 == 0 {
                map.slots[slot] = (address, len, i as u32);
            }
        }
        map
    }

    #[inline]
    fn slot(&self, address: usize) -> usize {
        ((address as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, text: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let address = text.as_ptr() as usize;
        let (a, len, ix) = self.slots[self.slot(address)];
        (a == address && len == text.len()).then_some(ix)
    }
}
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError};
use crate::time::Date;

pub use diff::{Change, ChangeKind, DefinitionDiff, Impact, Section, Side, diff};
pub use load::{Diagnostic, Diagnostics};
pub use plan::{BundlePlan, MemberPlan, NoticeLine, PlanError};
pub use version::Version;

/// A stable definition id (English, kebab-case by convention). Cheap to clone; this is what
/// events and logs carry, never a graph index.
#[derive(Clone, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Id(Arc<str>);

impl std::hash::Hash for Id {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with `eq`: equal ids have equal text.
        self.0.hash(state);
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        // Ids handed out by a definition share their allocation: compare pointers first.
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Id {
    /// Makes an id from text.
    pub fn new(text: &str) -> Id {
        Id(Arc::from(text))
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether both are the same allocation (ids handed out by one definition are): a sufficient,
    /// not a necessary, condition for equality, and one that costs no string comparison.
    pub fn ptr_eq(&self, other: &Id) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    /// Position of `id` in `ids`: by pointer first (no string comparison for the definition's
    /// own ids), then by text.
    pub fn position_in<'a>(&self, ids: impl Iterator<Item = &'a Id> + Clone) -> Option<usize> {
        ids.clone().position(|x| x.ptr_eq(self)).or_else(|| ids.into_iter().position(|x| x == self))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Id {
    fn from(text: &str) -> Id {
        Id::new(text)
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// What kind of body a department is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DepartmentKind {
    /// A section (科室) of the approval bureau.
    #[default]
    Section,
    /// An outside agency whose items are handled in the hall (进驻部门), e.g. 消防救援.
    Agency,
    /// The supervision section (效能监察): its staff supervise tickets.
    Supervision,
}

impl DepartmentKind {
    /// Whether this is the supervision section, which supervises tickets and so is never the
    /// responsible department of one (回避).
    pub fn supervises(self) -> bool {
        self == DepartmentKind::Supervision
    }
}

/// Window class (窗口类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WindowClass {
    /// 帮办咨询: guidance, pre-review, assisted applications.
    Consult,
    /// 综合受理: intake of any application (无差别一窗受理).
    Intake,
    /// 统一出件: unified delivery of results.
    Delivery,
}

/// How strictly an item needs a material (材料必要性).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MaterialNeed {
    /// 可选: may be absent.
    Optional,
    /// 容缺: may be supplied after acceptance (容缺受理).
    Tolerable,
    /// 必备: acceptance needs it.
    Required,
}

/// Item kind (办件类型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemKind {
    /// 即办件: decided on the spot, promised limit 0.
    Immediate,
    /// 承诺件: decided within the promised limit.
    Promised,
    /// 上报件: a higher authority decides (行政许可法 Art. 43).
    Reported,
    /// 联办件: several departments jointly.
    Joint,
}

/// A channel through which an item can be applied for (办理渠道).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Channel {
    /// 窗口: in person at the hall.
    Window,
    /// 网上办: the web portal.
    Web,
    /// 掌上办: mobile app or mini-program.
    Mobile,
}

/// When a stage (阶段) of a 工改 bundle is complete (里程碑事项规则).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MilestoneRule {
    /// Every milestone item approved.
    #[default]
    All,
    /// Any one milestone item approved.
    Any,
}

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub(crate) u32);
        impl $name {
            /// Position in the definition's list.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}
index_type!(
    /// Index of a department in its definition.
    DeptIx
);
index_type!(
    /// Index of a material in its definition.
    MaterialIx
);
index_type!(
    /// Index of an item in its definition.
    ItemIx
);
index_type!(
    /// Index of a bundle in its definition.
    BundleIx
);
index_type!(
    /// Index of a form field in its definition.
    FieldIx
);

/// A department or section (部门/科室).
#[derive(Debug, Clone)]
pub struct Department {
    /// Stable id.
    pub id: Id,
    /// Display name, e.g. 市场准入科.
    pub name: String,
    /// Section, outside agency or supervision.
    pub kind: DepartmentKind,
}

/// A window of the hall (窗口).
#[derive(Debug, Clone)]
pub struct Window {
    /// Stable id.
    pub id: Id,
    /// Display name.
    pub name: String,
    /// Consult, intake or delivery.
    pub class: WindowClass,
}

/// A material in the catalogue (材料).
#[derive(Debug, Clone)]
pub struct Material {
    /// Stable id.
    pub id: Id,
    /// Display name, e.g. 营业执照副本.
    pub name: String,
    /// Where the hall can fetch it by data sharing (免提交); such a material is never missing.
    pub shared_source: Option<String>,
}

/// A form field in the catalogue (表单字段).
#[derive(Debug, Clone)]
pub struct Field {
    /// Stable id.
    pub id: Id,
    /// Label shown to the applicant.
    pub label: String,
    /// Allowed answers; empty means free text.
    pub choices: Vec<String>,
}

/// Who decides an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decider {
    /// One department.
    Department(DeptIx),
    /// 会签: every listed department must approve (多规合一 business coordination).
    Countersign(Vec<DeptIx>),
    /// 或签: any one of the listed departments decides. The first department to approve, or to
    /// deny with a reason, decides the task; the other departments' pending reviews are
    /// cancelled with the reason (钉钉's 或签: 一名审批人同意或拒绝即可).
    AnyOf(Vec<DeptIx>),
    /// 票签: each listed department votes once; the task is approved at `k` approvals and denied
    /// as soon as `k` approvals can no longer be reached (the votes not yet cast are cancelled
    /// with the reason). `1 ≤ k ≤ of.len()`, which the loader enforces.
    Vote {
        /// Approvals needed.
        k: u32,
        /// The voting departments.
        of: Vec<DeptIx>,
    },
}

impl Decider {
    /// The departments that decide: the one, or every one that signs, may sign or votes.
    pub fn departments(&self) -> &[DeptIx] {
        match self {
            Decider::Department(d) => std::slice::from_ref(d),
            Decider::Countersign(ds) | Decider::AnyOf(ds) | Decider::Vote { of: ds, .. } => ds,
        }
    }

    /// Approvals that decide the task: all of them for a countersign, one for 或签, `k` for
    /// 票签.
    pub fn approvals_needed(&self) -> u32 {
        match self {
            Decider::Department(_) | Decider::AnyOf(_) => 1,
            Decider::Countersign(ds) => ds.len() as u32,
            Decider::Vote { k, .. } => *k,
        }
    }

    /// The first departments whose approvals approve the task (all for a countersign, the first
    /// for 或签, the first `k` for 票签): what a driver that approves everything signs with.
    pub fn approving(&self) -> &[DeptIx] {
        let ds = self.departments();
        &ds[..(self.approvals_needed() as usize).min(ds.len())]
    }

    /// The rule's name as written in a definition: `Department`, `Countersign`, `AnyOf`, `Vote`.
    pub fn rule_name(&self) -> &'static str {
        match self {
            Decider::Department(_) => "Department",
            Decider::Countersign(_) => "Countersign",
            Decider::AnyOf(_) => "AnyOf",
            Decider::Vote { .. } => "Vote",
        }
    }
}

/// 模拟审批 settings of an item that may be reviewed before a precondition (e.g. land) is met.
#[derive(Debug, Clone)]
pub struct SimulatedApproval {
    /// The precondition, e.g. `land-obtained` (取得土地).
    pub precondition: Id,
    /// Working days a simulated approval stays valid before it lapses.
    pub validity_days: u32,
}

/// A standardised service item (事项, 实施要素).
#[derive(Debug, Clone)]
pub struct Item {
    /// Stable id.
    pub id: Id,
    /// Item code (事项编码).
    pub code: String,
    /// Display name, e.g. 食品经营许可.
    pub name: String,
    /// Deciding department or countersign set.
    pub decided_by: Decider,
    /// 即办件 / 承诺件 / 上报件 / 联办件.
    pub kind: ItemKind,
    /// 法定时限 in working days.
    pub statutory_days: u32,
    /// 承诺时限 in working days (≤ statutory).
    pub promised_days: u32,
    /// Materials with their need for this item, in file order.
    pub materials: Vec<(MaterialIx, MaterialNeed)>,
    /// Form fields.
    pub form_fields: Vec<FieldIx>,
    /// Fee in yuan (0 = free).
    pub fee_yuan: u32,
    /// Result or certificate (审批结果), e.g. 食品经营许可证.
    pub result: String,
    /// Channels it can be applied through.
    pub channels: Vec<Channel>,
    /// 容缺 policy: issue the certificate before a tolerated material is cured.
    pub issue_before_cure: bool,
    /// 高频事项.
    pub high_frequency: bool,
    /// Eligible for the investment green channel (绿色通道).
    pub green_channel: bool,
    /// 模拟审批, when allowed.
    pub simulated_approval: Option<SimulatedApproval>,
    /// Review levels (审批层级), signed in order by different people (受审分离 within a task):
    /// e.g. 承办 → 审核 → 批准. Never empty: an item without `levels` has one level.
    pub levels: Vec<Level>,
}

/// One review level of an item (审批层级), e.g. 审核.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Its name, e.g. 承办, 审核, 批准.
    pub name: String,
    /// Who signs it.
    pub by: LevelSigner,
    /// Working days this level may take before it is overdue (a 纠错 trigger even when the
    /// task is within its promise); `None`: only the task's limit applies.
    pub limit_days: Option<u32>,
}

impl Level {
    /// The single level of an item that declares none.
    pub fn single() -> Level {
        Level { name: "审批".to_owned(), by: LevelSigner::Reviewer, limit_days: None }
    }
}

/// Who signs a review level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LevelSigner {
    /// A reviewer of the deciding department (审批人员).
    #[default]
    Reviewer,
    /// A leader (分管领导): the level is signed by `Role::Leader`.
    Leader,
}

impl Item {
    /// The need for `material`, if the item lists it.
    pub fn need_of(&self, material: MaterialIx) -> Option<MaterialNeed> {
        self.materials.iter().find(|(m, _)| *m == material).map(|(_, n)| *n)
    }
}

/// A condition on the form answers (情形): the member applies only when `field == equals`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The form field.
    pub field: FieldIx,
    /// The answer that makes the member apply.
    pub equals: String,
}

/// A member item of a bundle.
#[derive(Debug, Clone)]
pub struct Member {
    /// The item.
    pub item: ItemIx,
    /// Positions (in `Bundle::members`) of the members it waits for (dependency edges).
    pub after: Vec<usize>,
    /// Applies only when this holds (情形); `None` = always.
    pub when: Option<Condition>,
    /// Stage position in `Bundle::stages`, if staged.
    pub stage: Option<usize>,
}

/// A stage of a 工改 bundle (阶段).
#[derive(Debug, Clone)]
pub struct Stage {
    /// Stable id.
    pub id: Id,
    /// Display name, e.g. 立项用地规划许可.
    pub name: String,
    /// Member positions in this stage.
    pub members: Vec<usize>,
    /// Member positions of the milestone items (里程碑事项).
    pub milestones: Vec<usize>,
    /// All or any milestone completes the stage.
    pub rule: MilestoneRule,
}

/// The legal limit of a bundle handled jointly (统一办理、联合办理、集中办理), in working days:
/// 行政许可法 Art. 42 ¶2.
pub const JOINT_LIMIT_DAYS: u32 = 45;

/// The extension of [`JOINT_LIMIT_DAYS`] that the county government's head (本级人民政府负责人)
/// may approve: 行政许可法 Art. 42 ¶2.
pub const JOINT_EXTENSION_DAYS: u32 = 15;

/// A bundle (一件事): one form, one set of materials, one process.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Stable id.
    pub id: Id,
    /// Display name, e.g. 我要开饭店.
    pub name: String,
    /// Lead department (牵头部门).
    pub lead: DeptIx,
    /// Members in file order; `after` edges form a DAG.
    pub members: Vec<Member>,
    /// Member positions in a topological order.
    pub topo: Vec<usize>,
    /// Ordered stages; members of stage `k > 0` wait until stage `k - 1` is complete.
    pub stages: Vec<Stage>,
    /// Promised limit of the whole bundle in working days; at most [`JOINT_LIMIT_DAYS`], or
    /// [`JOINT_LIMIT_DAYS`] + [`JOINT_EXTENSION_DAYS`] with `government_extension` (the loader
    /// refuses more).
    pub promised_days: u32,
    /// 延长: the county government's head approved the 15-day extension of the joint limit
    /// (行政许可法 Art. 42 ¶2).
    pub government_extension: bool,
    /// 高频一件事.
    pub high_frequency: bool,
    /// An industrial investment project (counts toward the green-channel share target).
    pub industrial: bool,
    /// Merged form: the union of the members' fields, deduplicated, in first-seen order.
    pub form: Vec<FieldIx>,
    /// Merged material list: union of the members' materials, deduplicated, need = the strictest.
    pub materials: Vec<(MaterialIx, MaterialNeed)>,
    /// Critical path in promised working days when every conditional member applies.
    pub critical_days: u32,
}

impl Bundle {
    /// Position of `item` among the members.
    pub fn member_of(&self, item: ItemIx) -> Option<usize> {
        self.members.iter().position(|m| m.item == item)
    }

    /// Whether the bundle may use the green channel (any member eligible).
    pub fn green_channel_eligible(&self, def: &Definition) -> bool {
        self.members.iter().any(|m| def.item(m.item).green_channel)
    }
}

/// Configurable rules with documented defaults (see `docs/definitions.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Policies {
    /// SLA warning (预警) when this percentage of the promised time has elapsed. Default 90.
    pub warning_percent: u32,
    /// 补正告知 must be given within this many working days of receipt, else the application is
    /// deemed accepted as of receipt (行政许可法 Art. 32). Default 5.
    pub correction_notice_days: u32,
    /// Working days after delivery before a default rating is recorded. Default 5 (新疆).
    pub default_rating_days: u32,
    /// The default rating, 1–5. Default 4 (满意).
    pub default_rating: u8,
    /// Working days of suspension after a missed cure deadline before 退件. Default 15 (台州).
    pub cure_grace_days: u32,
    /// Working days to verify a ticket (回访核实). Default 1.
    pub ticket_verify_days: u32,
    /// Maximum working days of a ledgered rectification (限期整改). Default 15.
    pub ticket_rectify_max_days: u32,
    /// Working days for the follow-up visit (回访). Default 5.
    pub ticket_follow_up_days: u32,
    /// Default validity of a simulated approval in working days. Default 120.
    pub simulated_approval_validity_days: u32,
    /// The longest deadline a reviewer may give for materials asked during review (补充材料), in
    /// working days. Default 15.
    pub supplement_max_days: u32,
    /// What follows when the materials asked during review are not supplied by the deadline.
    /// Default [`SupplementLapse::Deny`].
    pub supplement_lapse: SupplementLapse,
}

/// The consequence of materials asked during review (补充材料) not supplied by the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum SupplementLapse {
    /// 不予许可: the task is denied, the reason naming what was not supplied (the default).
    Deny,
    /// 退件: the whole case is returned to the applicant.
    ReturnCase,
}

impl Policies {
    /// The documented defaults.
    pub const DEFAULTS: Policies = Policies {
        warning_percent: 90,
        correction_notice_days: 5,
        default_rating_days: 5,
        default_rating: 4,
        cure_grace_days: 15,
        ticket_verify_days: 1,
        ticket_rectify_max_days: 15,
        ticket_follow_up_days: 5,
        simulated_approval_validity_days: 120,
        supplement_max_days: 15,
        supplement_lapse: SupplementLapse::Deny,
    };
}

/// A measurable target of the rectification plan (效果清单 rows).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Each listed section leads at least `min` published bundles.
    BundlesPerSection {
        /// Sections.
        sections: Vec<DeptIx>,
        /// Minimum bundles per section.
        min: u32,
    },
    /// At least `min` high-frequency bundles.
    HighFrequencyBundles {
        /// Minimum.
        min: u32,
    },
    /// At least `min_percent` % of high-frequency items are available on mobile (掌上办).
    HighFrequencyItemsOnMobile {
        /// Minimum percentage.
        min_percent: u32,
    },
    /// At least `min_percent` % of industrial project cases went through the green channel by `by`.
    GreenChannelShare {
        /// Minimum percentage.
        min_percent: u32,
        /// Date by which it must hold.
        by: Date,
    },
    /// 好评率 at least `min_percent` %.
    GoodRatingRate {
        /// Minimum percentage.
        min_percent: u32,
    },
    /// 差评整改率 at least `min_percent` % (must be 100).
    BadRatingRectificationRate {
        /// Minimum percentage.
        min_percent: u32,
    },
}

/// A task of the rectification plan (整改任务).
#[derive(Debug, Clone)]
pub struct PlanTask {
    /// Stable id.
    pub id: Id,
    /// What must be done.
    pub name: String,
    /// Responsible leader (责任领导).
    pub leader: String,
    /// Responsible departments (责任科室), the first leads.
    pub departments: Vec<DeptIx>,
    /// Deadline (完成时限).
    pub deadline: Date,
    /// Measurable targets.
    pub targets: Vec<Target>,
}

/// The rectification plan (整改方案).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Title.
    pub title: String,
    /// Tasks.
    pub tasks: Vec<PlanTask>,
}

/// A validated definition. Only [`Definition::from_ron`] builds one.
#[derive(Debug, Clone)]
pub struct Definition {
    id: Id,
    version: Version,
    name: String,
    departments: Vec<Department>,
    windows: Vec<Window>,
    materials: Vec<Material>,
    fields: Vec<Field>,
    items: Vec<Item>,
    bundles: Vec<Bundle>,
    calendar: Calendar,
    holiday_notes: Vec<(Date, String)>,
    policies: Policies,
    plan: Option<Plan>,
    /// Id → index, one map per [`Kind`].
    by_id: [IdMap; 6],
    /// The same by the address and length of the definition's own id text, one map per
    /// [`Kind`]: a caller that holds the definition's own [`Id`] (a simulator, or a service that
    /// resolved it once) is found without hashing or comparing text. Sound because the
    /// definition keeps those ids alive, so no other text lives at their address.
    by_ptr: [PtrMap; 6],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Department,
    Window,
    Material,
    Field,
    Item,
    Bundle,
}

impl Definition {
    /// Loads and validates a definition from RON text. `origin` names the source in
    /// diagnostics (usually the file path). Returns every problem found, not only the first.
    ///
    /// ```
    /// use yichuang_core::Definition;
    ///
    /// let text = include_str!("../../../../examples/definitions/minimal.ron");
    /// let def = Definition::from_ron(text, "minimal.ron").expect("the example is valid");
    /// assert_eq!(def.bundles()[0].name, "我要开小卖部");
    ///
    /// // Both items now name a department that does not exist: both problems come back at
    /// // once, each with its place in the file, the field and what would be accepted.
    /// let broken = text.replace(r#"Department("market-access")"#, r#"Department("nobody")"#);
    /// let diagnostics = Definition::from_ron(&broken, "broken.ron").unwrap_err();
    /// assert_eq!(diagnostics.0.len(), 2);
    /// for d in &diagnostics.0 {
    ///     assert!(d.location.is_some() && d.message.contains("nobody"), "{d:?}");
    /// }
    /// println!("{diagnostics}"); // `error: broken.ron:LINE:COL: …` with help, one per problem
    /// ```
    pub fn from_ron(source: &str, origin: &str) -> Result<Definition, Diagnostics> {
        load::load(source, origin)
    }

    /// Stable id of the definition.
    pub fn id(&self) -> &Id {
        &self.id
    }
    /// The version (定义版本): a hash of the canonical form, the same whatever the layout and
    /// comments of the file ([`Version`]).
    pub fn version(&self) -> Version {
        self.version
    }
    /// Display name (the hall).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// All departments.
    pub fn departments(&self) -> &[Department] {
        &self.departments
    }
    /// All windows.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }
    /// The material catalogue.
    pub fn materials(&self) -> &[Material] {
        &self.materials
    }
    /// The form-field catalogue.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }
    /// All items.
    pub fn items(&self) -> &[Item] {
        &self.items
    }
    /// All bundles.
    pub fn bundles(&self) -> &[Bundle] {
        &self.bundles
    }
    /// The working-day calendar.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }
    /// The latest cure date (容缺) that an acceptance of a `bundle` case on `today` may promise:
    /// the end of the bundle's promised limit counted from `today`. `accept_tolerating` refuses
    /// a later date; the simulator and the checker ask this rather than restate the rule.
    pub fn latest_cure_date(&self, bundle: BundleIx, today: Date) -> Result<Date, CalendarError> {
        self.calendar.add_working_days(today, self.bundle(bundle).promised_days)
    }
    /// Holiday names and make-up days, for display.
    pub fn holiday_notes(&self) -> &[(Date, String)] {
        &self.holiday_notes
    }
    /// Policies with defaults filled in.
    pub fn policies(&self) -> &Policies {
        &self.policies
    }
    /// The rectification plan, if the definition has one.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// A department by index.
    pub fn department(&self, ix: DeptIx) -> &Department {
        &self.departments[ix.index()]
    }
    /// A material by index.
    pub fn material(&self, ix: MaterialIx) -> &Material {
        &self.materials[ix.index()]
    }
    /// A field by index.
    pub fn field(&self, ix: FieldIx) -> &Field {
        &self.fields[ix.index()]
    }
    /// An item by index.
    pub fn item(&self, ix: ItemIx) -> &Item {
        &self.items[ix.index()]
    }
    /// A bundle by index.
    pub fn bundle(&self, ix: BundleIx) -> &Bundle {
        &self.bundles[ix.index()]
    }

    #[inline]
    fn lookup(&self, kind: Kind, id: &str) -> Option<u32> {
        match self.by_ptr[kind as usize].get(id) {
            Some(ix) => Some(ix),
            None => self.by_id[kind as usize].get(id).copied(),
        }
    }

    /// Builds [`Definition::by_ptr`] from the entities' own ids.
    pub(super) fn with_pointer_index(mut self) -> Definition {
        fn map<'a>(ids: impl ExactSizeIterator<Item = &'a Id>) -> PtrMap {
            PtrMap::new(ids)
        }
        let mut by_ptr: [PtrMap; 6] = Default::default();
        by_ptr[Kind::Department as usize] = map(self.departments.iter().map(|x| &x.id));
        by_ptr[Kind::Window as usize] = map(self.windows.iter().map(|x| &x.id));
        by_ptr[Kind::Material as usize] = map(self.materials.iter().map(|x| &x.id));
        by_ptr[Kind::Field as usize] = map(self.fields.iter().map(|x| &x.id));
        by_ptr[Kind::Item as usize] = map(self.items.iter().map(|x| &x.id));
        by_ptr[Kind::Bundle as usize] = map(self.bundles.iter().map(|x| &x.id));
        self.by_ptr = by_ptr;
        self
    }
    /// Looks up a department by id.
    pub fn department_ix(&self, id: &str) -> Option<DeptIx> {
        self.lookup(Kind::Department, id).map(DeptIx)
    }
    /// Looks up a material by id.
    pub fn material_ix(&self, id: &str) -> Option<MaterialIx> {
        self.lookup(Kind::Material, id).map(MaterialIx)
    }
    /// Looks up a field by id.
    pub fn field_ix(&self, id: &str) -> Option<FieldIx> {
        self.lookup(Kind::Field, id).map(FieldIx)
    }
    /// Looks up an item by id.
    pub fn item_ix(&self, id: &str) -> Option<ItemIx> {
        self.lookup(Kind::Item, id).map(ItemIx)
    }
    /// Looks up a bundle by id.
    pub fn bundle_ix(&self, id: &str) -> Option<BundleIx> {
        self.lookup(Kind::Bundle, id).map(BundleIx)
    }
    /// Looks up a window by id.
    pub fn window(&self, id: &str) -> Option<&Window> {
        self.lookup(Kind::Window, id).map(|i| &self.windows[i as usize])
    }

    /// What-if variant for simulation: a hall open around the clock (24/7), every day a working
    /// day with one 24-hour office period, over the same years.
    pub fn with_always_open_calendar(mut self) -> Definition {
        let (first, last) = self.calendar.covered_years();
        self.calendar = Calendar::always_open(first, last);
        self
    }

    /// What-if variant for simulation: every bundle's members run one after another (串联) in
    /// their topological order instead of in parallel (并联), skipping none. Dependencies of the
    /// original stay satisfied because the chain follows a topological order. The promised limit
    /// is deliberately not re-checked: a serial what-if may exceed it, which is what it shows.
    pub fn with_serial_approval(mut self) -> Definition {
        for bundle in &mut self.bundles {
            let order = bundle.topo.clone();
            for member in &mut bundle.members {
                member.after.clear();
            }
            for pair in order.windows(2) {
                bundle.members[pair[1]].after.push(pair[0]);
            }
            let all = vec![true; bundle.members.len()];
            let times = plan::schedule(bundle, &self.items, &all);
            bundle.critical_days = times.iter().map(|t| t.1).max().unwrap_or(0);
        }
        self
    }

    /// Ids of all bundles, comma-separated, for "would be accepted" messages.
    pub fn bundle_ids_text(&self) -> String {
        self.bundles.iter().map(|b| b.id.as_str()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lookups by the definition's own ids (the address fast path) agree with lookups by text,
    /// including for text that starts at the same address but is shorter.
    #[test]
    fn lookup_by_own_id_agrees_with_lookup_by_text() {
        let def = Definition::from_ron(include_str!("../../tests/data/hall.ron"), "hall.ron").expect("valid");
        let kinds: [(Kind, Vec<&Id>); 6] = [
            (Kind::Department, def.departments.iter().map(|x| &x.id).collect()),
            (Kind::Window, def.windows.iter().map(|x| &x.id).collect()),
            (Kind::Material, def.materials.iter().map(|x| &x.id).collect()),
            (Kind::Field, def.fields.iter().map(|x| &x.id).collect()),
            (Kind::Item, def.items.iter().map(|x| &x.id).collect()),
            (Kind::Bundle, def.bundles.iter().map(|x| &x.id).collect()),
        ];
        let mut fast = 0;
        for (kind, ids) in &kinds {
            for (i, id) in ids.iter().enumerate() {
                assert_eq!(def.lookup(*kind, id.as_str()), Some(i as u32), "{kind:?} {id}");
                let copy = String::from(id.as_str());
                assert_eq!(def.lookup(*kind, &copy), Some(i as u32), "{kind:?} {id} by text");
                let prefix = &id.as_str()[..id.as_str().len() - 1];
                assert_eq!(def.lookup(*kind, prefix), def.by_id[*kind as usize].get(prefix).copied());
                fast += usize::from(def.by_ptr[*kind as usize].get(id.as_str()).is_some());
            }
        }
        assert!(fast > 0, "the address path is used");
    }
}
