//! The RON file format, exactly as written by hand. Every reference is a string id here;
//! [`super::load`] resolves and checks them and builds the validated [`super::Definition`].
//! Field-by-field reference: `docs/definitions.md`.

use serde::{Deserialize, Serialize};

use super::{Channel, DepartmentKind, ItemKind, LevelSigner, MaterialNeed, MilestoneRule, WindowClass};

/// A whole definition file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Definition")]
pub struct RawDefinition {
    pub id: String,
    pub name: String,
    pub departments: Vec<RawDepartment>,
    #[serde(default)]
    pub windows: Vec<RawWindow>,
    #[serde(default)]
    pub materials: Vec<RawMaterial>,
    #[serde(default)]
    pub fields: Vec<RawField>,
    pub items: Vec<RawItem>,
    #[serde(default)]
    pub bundles: Vec<RawBundle>,
    pub calendar: RawCalendar,
    #[serde(default)]
    pub policies: RawPolicies,
    #[serde(default)]
    pub plan: Option<RawPlan>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Department")]
pub struct RawDepartment {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub kind: DepartmentKind,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Window")]
pub struct RawWindow {
    pub id: String,
    pub name: String,
    pub class: WindowClass,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Material")]
pub struct RawMaterial {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub shared_source: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Field")]
pub struct RawField {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub choices: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename = "Decider")]
pub enum RawDecider {
    Department(String),
    Countersign(Vec<String>),
    AnyOf(Vec<String>),
    Vote { k: u32, of: Vec<String> },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "ItemMaterial")]
pub struct RawItemMaterial {
    pub material: String,
    pub need: MaterialNeed,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Simulated")]
pub struct RawSimulated {
    pub precondition: String,
    #[serde(default)]
    pub validity_days: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Item")]
pub struct RawItem {
    pub id: String,
    pub code: String,
    pub name: String,
    pub decided_by: RawDecider,
    pub kind: ItemKind,
    pub statutory_days: u32,
    pub promised_days: u32,
    #[serde(default)]
    pub materials: Vec<RawItemMaterial>,
    #[serde(default)]
    pub form_fields: Vec<String>,
    #[serde(default)]
    pub fee_yuan: u32,
    pub result: String,
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub issue_before_cure: bool,
    #[serde(default)]
    pub high_frequency: bool,
    #[serde(default)]
    pub green_channel: bool,
    #[serde(default)]
    pub simulated_approval: Option<RawSimulated>,
    #[serde(default)]
    pub levels: Vec<RawLevel>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Level")]
pub struct RawLevel {
    pub name: String,
    #[serde(default)]
    pub by: LevelSigner,
    #[serde(default)]
    pub limit_days: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Condition")]
pub struct RawCondition {
    pub field: String,
    pub equals: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Member")]
pub struct RawMember {
    pub item: String,
    #[serde(default)]
    pub after: Vec<String>,
    #[serde(default)]
    pub when: Option<RawCondition>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Stage")]
pub struct RawStage {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    #[serde(default)]
    pub milestones: Vec<String>,
    #[serde(default)]
    pub milestone_rule: MilestoneRule,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Bundle")]
pub struct RawBundle {
    pub id: String,
    pub name: String,
    pub lead: String,
    pub members: Vec<RawMember>,
    #[serde(default)]
    pub stages: Vec<RawStage>,
    pub promised_days: u32,
    #[serde(default)]
    pub government_extension: bool,
    #[serde(default)]
    pub high_frequency: bool,
    #[serde(default)]
    pub industrial: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Holiday")]
pub struct RawHoliday {
    pub name: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Year")]
pub struct RawYear {
    pub year: i32,
    pub holidays: Vec<RawHoliday>,
    #[serde(default)]
    pub makeup_workdays: Vec<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Calendar")]
pub struct RawCalendar {
    pub years: Vec<RawYear>,
    pub office_hours: Vec<(String, String)>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Policies")]
pub struct RawPolicies {
    pub warning_percent: Option<u32>,
    pub correction_notice_days: Option<u32>,
    pub default_rating_days: Option<u32>,
    pub default_rating: Option<u8>,
    pub cure_grace_days: Option<u32>,
    pub ticket_verify_days: Option<u32>,
    pub ticket_rectify_max_days: Option<u32>,
    pub ticket_follow_up_days: Option<u32>,
    pub simulated_approval_validity_days: Option<u32>,
    pub supplement_max_days: Option<u32>,
    pub supplement_lapse: Option<super::SupplementLapse>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename = "Target")]
pub enum RawTarget {
    BundlesPerSection { sections: Vec<String>, min: u32 },
    HighFrequencyBundles { min: u32 },
    HighFrequencyItemsOnMobile { min_percent: u32 },
    GreenChannelShare { min_percent: u32, by: String },
    GoodRatingRate { min_percent: u32 },
    BadRatingRectificationRate { min_percent: u32 },
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "PlanTask")]
pub struct RawPlanTask {
    pub id: String,
    pub name: String,
    pub leader: String,
    pub departments: Vec<String>,
    pub deadline: String,
    #[serde(default)]
    pub targets: Vec<RawTarget>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Plan")]
pub struct RawPlan {
    pub title: String,
    pub tasks: Vec<RawPlanTask>,
}
