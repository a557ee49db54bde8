//! What changed between two definition versions (定义差异), and what each change can do to a
//! running case.
//!
//! A case runs on the version it was submitted under until it is migrated
//! ([`crate::machine::case::MigrationPlan`]), so no change reaches a running case by itself. Each
//! [`Change`] therefore says whether it matters to nobody ([`Impact::None`]: a display name, a
//! calendar year added), only to cases submitted under the new version ([`Impact::NewCases`]),
//! to a running case once it is migrated ([`Impact::OnMigration`]), or whether it can stop a
//! running case from migrating ([`Impact::MayBlockMigration`]), with a sentence that names the
//! migration rule involved (the rules are in `machine/case/migrate.rs` and docs/definitions.md).
//!
//! Entities are matched by id: a renamed item or bundle shows as one removed and one added (a
//! migration plan maps the old id to the new). Members, dependencies, conditions and stages are
//! compared within a bundle present in both versions; dependencies only between members present
//! in both (an added member's predecessors are part of its own entry).
//!
//! ```
//! use yichuang_core::Definition;
//! use yichuang_core::definition::{diff, ChangeKind, Impact, Section};
//!
//! let text = include_str!("../../../../examples/definitions/minimal.ron");
//! let old = Definition::from_ron(text, "old.ron").unwrap();
//! let new = Definition::from_ron(&text.replace("promised_days: 1", "promised_days: 2"), "new.ron").unwrap();
//! let d = diff(&old, &new);
//! assert!(!d.is_identical());
//! let limit = d.changes.iter().find(|c| c.section == Section::Limit).unwrap();
//! assert_eq!((limit.change, limit.impact), (ChangeKind::Changed, Impact::NewCases));
//! assert!(limit.effect.starts_with("limit lengthened: running promises kept"), "{limit}");
//! assert!(diff(&old, &old).is_identical());
//! ```

use std::fmt;

use serde::Serialize;

use super::{Bundle, Definition, Id, Item, MaterialNeed, Policies, Target, Version};
use crate::time::Date;

/// The differences between two definitions, old first ([`diff`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefinitionDiff {
    /// The old definition's id and version.
    pub old: Side,
    /// The new definition's id and version.
    pub new: Side,
    /// Every change, by section in the file's order (departments first, the plan last), removals
    /// before additions before changes within a section's entity.
    pub changes: Vec<Change>,
}

/// One side of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    /// The definition's id.
    pub id: Id,
    /// Its version ([`Definition::version`]).
    pub version: Version,
}

impl DefinitionDiff {
    /// Whether both are the same version, i.e. mean the same (and `changes` is empty).
    pub fn is_identical(&self) -> bool {
        self.old.version == self.new.version
    }

    /// The changes of `section` about `subject`.
    pub fn about(&self, section: Section, subject: &str) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.section == section && c.subject == subject).collect()
    }
}

/// The part of a definition a change is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// The definition's own id or name, or only the order of entries.
    Definition,
    /// A department (部门).
    Department,
    /// A window (窗口).
    Window,
    /// A material of the catalogue (材料), or an item's need of one (subject `item/material`).
    Material,
    /// A form field (表单字段).
    Field,
    /// An item (事项), apart from its limit.
    Item,
    /// A bundle (一件事), apart from its limit, members and stages.
    Bundle,
    /// A member of a bundle (subject `bundle/item`).
    Member,
    /// A dependency between two members (subject `bundle/item`, the one that waits).
    Dependency,
    /// A member's condition (情形, subject `bundle/item`).
    Condition,
    /// A stage (阶段, subject `bundle/stage`).
    Stage,
    /// A promised limit (承诺时限) of an item or a bundle (subject its id).
    Limit,
    /// A policy (subject the policy's field).
    Policy,
    /// A year of the working-day calendar (subject the year).
    CalendarYear,
    /// The office hours.
    OfficeHours,
    /// The rectification plan (整改方案).
    Plan,
}

impl Section {
    /// The section's name as printed (`calendar_year` as `calendar year`).
    pub fn name(self) -> &'static str {
        match self {
            Section::Definition => "definition",
            Section::Department => "department",
            Section::Window => "window",
            Section::Material => "material",
            Section::Field => "field",
            Section::Item => "item",
            Section::Bundle => "bundle",
            Section::Member => "member",
            Section::Dependency => "dependency",
            Section::Condition => "condition",
            Section::Stage => "stage",
            Section::Limit => "limit",
            Section::Policy => "policy",
            Section::CalendarYear => "calendar year",
            Section::OfficeHours => "office hours",
            Section::Plan => "plan",
        }
    }
}

/// Added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// In both, different.
    Changed,
}

impl ChangeKind {
    /// `+`, `-` or `~`.
    pub fn sign(self) -> char {
        match self {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
        }
    }
}

/// Whether and how a change can reach a case that runs while the new version is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// No case sees it (a display name, a window, a calendar year added, the plan).
    None,
    /// Only cases submitted under the new version; a migrated case keeps what it had in this
    /// respect (a lengthened limit, a material no longer asked for).
    NewCases,
    /// A running case follows it once migrated (a shortened limit, a removed dependency).
    OnMigration,
    /// It can make a running case's migration refused with an obstacle (a member removed while
    /// under review, a material newly required, a dependency added behind a started task).
    MayBlockMigration,
}

impl Impact {
    /// The impact as printed.
    pub fn name(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::NewCases => "new cases",
            Impact::OnMigration => "on migration",
            Impact::MayBlockMigration => "may block migration",
        }
    }
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where.
    pub section: Section,
    /// Added, removed or changed.
    pub change: ChangeKind,
    /// What: an id, `bundle/item` for members, dependencies and conditions, `item/material` for
    /// an item's need of a material, `bundle/stage`, a policy's field or a year.
    pub subject: String,
    /// What differs, old → new.
    pub detail: String,
    /// Whether and how it can affect a running case.
    pub impact: Impact,
    /// The same in a sentence naming the rule, e.g. "limit shortened: applies to running cases
    /// on migration".
    pub effect: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}: {} [{}: {}]",
            self.change.sign(),
            self.section.name(),
            self.subject,
            self.detail,
            self.impact.name(),
            self.effect
        )
    }
}

/// What changed from `old` to `new`, each change with its effect on running cases. Pure and
/// deterministic: the order of `changes` follows the sections and, within one, the old file's
/// order for removals and the new file's for the rest.
pub fn diff(old: &Definition, new: &Definition) -> DefinitionDiff {
    let mut d = Differ { old, new, changes: Vec::new() };
    if old.version() != new.version() {
        d.definition();
        d.departments();
        d.windows();
        d.materials();
        d.fields();
        d.items();
        d.bundles();
        d.policies();
        d.calendar();
        d.plan();
        if d.changes.is_empty() {
            // The canonical forms differ in something no entry above shows: the order of
            // catalogue entries or members, say.
            d.push(
                Section::Definition,
                ChangeKind::Changed,
                new.id().to_string(),
                "only the order of entries differs".into(),
                Impact::None,
                "none: cases refer to entries by id",
            );
        }
    }
    // Grouped by section; within one, the order of discovery (stable sort).
    d.changes.sort_by_key(|c| c.section);
    let side = |def: &Definition| Side { id: def.id().clone(), version: def.version() };
    DefinitionDiff { old: side(old), new: side(new), changes: d.changes }
}

/// Entries of two lists matched by id: removed (old order), added and common (new order).
struct Matched<'a, T> {
    removed: Vec<&'a T>,
    added: Vec<&'a T>,
    common: Vec<(&'a T, &'a T)>,
}

fn matched<'a, T>(old: &'a [T], new: &'a [T], id: impl Fn(&T) -> &str) -> Matched<'a, T> {
    let find = |list: &'a [T], key: &str| list.iter().find(|x| id(x) == key);
    Matched {
        removed: old.iter().filter(|o| find(new, id(o)).is_none()).collect(),
        added: new.iter().filter(|n| find(old, id(n)).is_none()).collect(),
        common: new.iter().filter_map(|n| find(old, id(n)).map(|o| (o, n))).collect(),
    }
}

/// `old → new`.
fn arrow(old: impl fmt::Display, new: impl fmt::Display) -> String {
    format!("{old} → {new}")
}

/// A list of ids as text, `none` when empty.
fn ids_text<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let all: Vec<&str> = ids.into_iter().collect();
    if all.is_empty() { "none".into() } else { all.join(", ") }
}

struct Differ<'a> {
    old: &'a Definition,
    new: &'a Definition,
    changes: Vec<Change>,
}

const NAME_ONLY: &str = "none: a display name";

impl Differ<'_> {
    fn push(
        &mut self,
        section: Section,
        change: ChangeKind,
        subject: String,
        detail: String,
        impact: Impact,
        effect: &str,
    ) {
        self.changes.push(Change { section, change, subject, detail, impact, effect: effect.to_owned() });
    }

    /// A changed attribute of an entity, when it differs. Eight arguments: each call reads as
    /// one row of a table (where, which field, old, new, impact, effect); a struct would only
    /// name the same eight things once more.
    #[allow(clippy::too_many_arguments)]
    fn attribute<T: PartialEq + fmt::Debug>(
        &mut self,
        section: Section,
        subject: &str,
        field: &str,
        old: T,
        new: T,
        impact: Impact,
        effect: &str,
    ) {
        if old != new {
            let detail = format!("{field} {}", arrow(format!("{old:?}"), format!("{new:?}")));
            self.push(section, ChangeKind::Changed, subject.to_owned(), detail, impact, effect);
        }
    }

    fn definition(&mut self) {
        let (old, new) = (self.old, self.new);
        let id = new.id().to_string();
        self.attribute(
            Section::Definition,
            &id,
            "id",
            old.id(),
            new.id(),
            Impact::None,
            "none: cases refer to the version",
        );
        self.attribute(Section::Definition, &id, "name", old.name(), new.name(), Impact::None, NAME_ONLY);
    }

    fn departments(&mut self) {
        let m = matched(self.old.departments(), self.new.departments(), |d| &d.id);
        for d in m.removed {
            let effect = "none by itself: the items it decided show as changed";
            self.push(Section::Department, ChangeKind::Removed, d.id.to_string(), d.name.clone(), Impact::None, effect);
        }
        for d in m.added {
            let effect = "none until an item names it";
            self.push(Section::Department, ChangeKind::Added, d.id.to_string(), d.name.clone(), Impact::None, effect);
        }
        for (o, n) in m.common {
            let s = Section::Department;
            self.attribute(s, &n.id, "name", &o.name, &n.name, Impact::None, NAME_ONLY);
            let effect = "applies to new cases and to running cases once migrated";
            self.attribute(s, &n.id, "kind", o.kind, n.kind, Impact::OnMigration, effect);
        }
    }

    fn windows(&mut self) {
        let m = matched(self.old.windows(), self.new.windows(), |w| &w.id);
        let effect = "none: windows are where the hall works, not part of a case";
        for w in m.removed {
            self.push(Section::Window, ChangeKind::Removed, w.id.to_string(), w.name.clone(), Impact::None, effect);
        }
        for w in m.added {
            self.push(Section::Window, ChangeKind::Added, w.id.to_string(), w.name.clone(), Impact::None, effect);
        }
        for (o, n) in m.common {
            self.attribute(Section::Window, &n.id, "name", &o.name, &n.name, Impact::None, NAME_ONLY);
            self.attribute(Section::Window, &n.id, "class", o.class, n.class, Impact::None, effect);
        }
    }

    fn materials(&mut self) {
        let m = matched(self.old.materials(), self.new.materials(), |x| &x.id);
        for x in m.removed {
            let effect = "none by itself: the items that asked for it show as changed";
            self.push(Section::Material, ChangeKind::Removed, x.id.to_string(), x.name.clone(), Impact::None, effect);
        }
        for x in m.added {
            let effect = "none until an item asks for it";
            self.push(Section::Material, ChangeKind::Added, x.id.to_string(), x.name.clone(), Impact::None, effect);
        }
        for (o, n) in m.common {
            self.attribute(Section::Material, &n.id, "name", &o.name, &n.name, Impact::None, NAME_ONLY);
            let (impact, effect) = match (&o.shared_source, &n.shared_source) {
                (None, Some(_)) => {
                    (Impact::OnMigration, "now fetched by data sharing: counts as handed in, so it blocks no migration")
                }
                (Some(_), None) if self.required_anywhere(&n.id) => (
                    Impact::MayBlockMigration,
                    "no longer fetched by data sharing: blocks migration of accepted cases that did not hand it in, where an item requires it",
                ),
                _ => (Impact::NewCases, "new cases' notices name the new source"),
            };
            let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
            let detail = format!("shared_source {}", arrow(show(&o.shared_source), show(&n.shared_source)));
            if o.shared_source != n.shared_source {
                self.push(Section::Material, ChangeKind::Changed, n.id.to_string(), detail, impact, effect);
            }
        }
    }

    /// Whether some item of the new version requires `material`.
    fn required_anywhere(&self, material: &str) -> bool {
        let new = self.new;
        new.items().iter().any(|i| {
            i.materials.iter().any(|&(m, need)| need == MaterialNeed::Required && new.material(m).id == *material)
        })
    }

    fn fields(&mut self) {
        let m = matched(self.old.fields(), self.new.fields(), |x| &x.id);
        for x in m.removed {
            let effect = "none for running cases: answers already given stay";
            self.push(Section::Field, ChangeKind::Removed, x.id.to_string(), x.label.clone(), Impact::None, effect);
        }
        for x in m.added {
            let effect = "asked of new cases whose form includes it";
            self.push(Section::Field, ChangeKind::Added, x.id.to_string(), x.label.clone(), Impact::NewCases, effect);
        }
        for (o, n) in m.common {
            self.attribute(Section::Field, &n.id, "label", &o.label, &n.label, Impact::None, NAME_ONLY);
            let effect = "new cases' forms offer the new choices; answers already given stay";
            self.attribute(Section::Field, &n.id, "choices", &o.choices, &n.choices, Impact::NewCases, effect);
        }
    }
}

/// Items.
impl Differ<'_> {
    fn items(&mut self) {
        let m = matched(self.old.items(), self.new.items(), |x| &x.id);
        for x in m.removed {
            let effect = "none by itself: the bundles that listed it show the member removed; a migration plan can map it to a renamed item";
            self.push(Section::Item, ChangeKind::Removed, x.id.to_string(), x.name.clone(), Impact::None, effect);
        }
        for x in m.added {
            let effect = "new cases, through the bundles that list it";
            self.push(Section::Item, ChangeKind::Added, x.id.to_string(), x.name.clone(), Impact::NewCases, effect);
        }
        for (o, n) in m.common {
            self.item_attributes(o, n);
            self.item_decider(o, n);
            self.item_materials(o, n);
            self.limit(&n.id, "item", o.promised_days, n.promised_days);
        }
    }

    fn item_attributes(&mut self, o: &Item, n: &Item) {
        let (s, id) = (Section::Item, n.id.as_str());
        let display = "none: shown and reported only";
        self.attribute(s, id, "name", &o.name, &n.name, Impact::None, NAME_ONLY);
        self.attribute(s, id, "code", &o.code, &n.code, Impact::None, display);
        self.attribute(s, id, "result", &o.result, &n.result, Impact::None, display);
        self.attribute(s, id, "high_frequency", o.high_frequency, n.high_frequency, Impact::None, display);
        let submission = "matters at submission: new cases only";
        self.attribute(s, id, "channels", &o.channels, &n.channels, Impact::NewCases, submission);
        self.attribute(s, id, "green_channel", o.green_channel, n.green_channel, Impact::NewCases, submission);
        self.attribute(s, id, "fee_yuan", o.fee_yuan, n.fee_yuan, Impact::NewCases, submission);
        let notice = "new cases' notices; the promised limit is what a case is timed by";
        self.attribute(s, id, "statutory_days", o.statutory_days, n.statutory_days, Impact::NewCases, notice);
        let forms = "new cases' forms; answers already given stay";
        let (of, nf) = (self.field_ids(self.old, &o.form_fields), self.field_ids(self.new, &n.form_fields));
        self.attribute(s, id, "form_fields", of, nf, Impact::NewCases, forms);
        let follows = "running cases follow it once migrated";
        self.attribute(s, id, "kind", o.kind, n.kind, Impact::OnMigration, follows);
        self.attribute(
            s,
            id,
            "issue_before_cure",
            o.issue_before_cure,
            n.issue_before_cure,
            Impact::OnMigration,
            follows,
        );
        let simulated = |i: &Item| i.simulated_approval.as_ref().map(|a| (a.precondition.to_string(), a.validity_days));
        self.attribute(s, id, "simulated_approval", simulated(o), simulated(n), Impact::OnMigration, follows);
    }

    fn field_ids(&self, def: &Definition, fields: &[super::FieldIx]) -> Vec<String> {
        fields.iter().map(|&f| def.field(f).id.to_string()).collect()
    }

    fn item_decider(&mut self, o: &Item, n: &Item) {
        // The rule (会签, 或签, 票签 with its k) and the departments, e.g. `Vote k=3: a, b, c`.
        let text = |def: &Definition, d: &super::Decider| {
            let ids = ids_text(d.departments().iter().map(|&x| def.department(x).id.as_str()));
            match d {
                super::Decider::Department(_) => ids,
                super::Decider::Vote { k, .. } => format!("Vote k={k}: {ids}"),
                other => format!("{}: {ids}", other.rule_name()),
            }
        };
        let (old, new) = (text(self.old, &o.decided_by), text(self.new, &n.decided_by));
        if old != new {
            let effect = "decider changed: a task under review blocks migration; tasks not yet claimed go to the new department(s)";
            let detail = format!("decided_by {}", arrow(old, new));
            self.push(Section::Item, ChangeKind::Changed, n.id.to_string(), detail, Impact::MayBlockMigration, effect);
        }
    }

    /// An item's need of each material, old → new (subject `item/material`).
    fn item_materials(&mut self, o: &Item, n: &Item) {
        let (old, new) = (self.old, self.new);
        let mut ids: Vec<&Id> = o.materials.iter().map(|&(m, _)| &old.material(m).id).collect();
        ids.extend(
            n.materials.iter().map(|&(m, _)| &new.material(m).id).filter(|id| !ids.contains(id)).collect::<Vec<_>>(),
        );
        for id in ids {
            let before = old.material_ix(id).and_then(|m| o.need_of(m));
            let after = new.material_ix(id).and_then(|m| n.need_of(m));
            if before == after {
                continue;
            }
            let shared = new.material_ix(id).is_some_and(|m| new.material(m).shared_source.is_some());
            let (impact, effect) = match after {
                Some(MaterialNeed::Required) if shared => {
                    (Impact::NewCases, "required but fetched by data sharing: no running case lacks it")
                }
                Some(MaterialNeed::Required) => (
                    Impact::MayBlockMigration,
                    "material newly required: blocks migration of accepted cases lacking it (neither handed in nor tolerated)",
                ),
                _ => (Impact::NewCases, "running cases keep what they handed in; new cases' notices change"),
            };
            let show = |n: Option<MaterialNeed>| n.map_or_else(|| "not listed".to_owned(), |n| format!("{n:?}"));
            let detail = format!("need {}", arrow(show(before), show(after)));
            let change = match (before, after) {
                (None, _) => ChangeKind::Added,
                (_, None) => ChangeKind::Removed,
                _ => ChangeKind::Changed,
            };
            self.push(Section::Material, change, format!("{}/{id}", n.id), detail, impact, effect);
        }
    }

    /// A promised limit, old → new (`whose` is `item` or `bundle`).
    fn limit(&mut self, id: &Id, whose: &str, old: u32, new: u32) {
        let detail = format!("{whose} promised_days {}", arrow(old, new));
        let (impact, effect) = if new < old {
            (
                Impact::OnMigration,
                "limit shortened: applies to running cases on migration (the due date becomes the earlier of the old and the new)",
            )
        } else if new > old {
            (
                Impact::NewCases,
                "limit lengthened: running promises kept, a migration never lengthens them; new cases get the new limit",
            )
        } else {
            return;
        };
        self.push(Section::Limit, ChangeKind::Changed, id.to_string(), detail, impact, effect);
    }
}

/// Bundles: their own attributes, members, dependencies, conditions and stages.
impl Differ<'_> {
    fn bundles(&mut self) {
        let m = matched(self.old.bundles(), self.new.bundles(), |x| &x.id);
        for x in m.removed {
            let effect = "its running cases cannot migrate unless a plan maps it (bundle_renames); unmigrated they finish on their version";
            self.push(
                Section::Bundle,
                ChangeKind::Removed,
                x.id.to_string(),
                x.name.clone(),
                Impact::MayBlockMigration,
                effect,
            );
        }
        for x in m.added {
            self.push(
                Section::Bundle,
                ChangeKind::Added,
                x.id.to_string(),
                x.name.clone(),
                Impact::NewCases,
                "new cases only",
            );
        }
        for (o, n) in m.common {
            self.bundle_attributes(o, n);
            self.limit(&n.id, "bundle", o.promised_days, n.promised_days);
            self.members(o, n);
            self.stages(o, n);
        }
    }

    fn bundle_attributes(&mut self, o: &Bundle, n: &Bundle) {
        let (s, id) = (Section::Bundle, n.id.as_str());
        let reports = "none: reports only";
        self.attribute(s, id, "name", &o.name, &n.name, Impact::None, NAME_ONLY);
        self.attribute(s, id, "high_frequency", o.high_frequency, n.high_frequency, Impact::None, reports);
        self.attribute(s, id, "industrial", o.industrial, n.industrial, Impact::None, reports);
        let extension = "none by itself: it allows a longer joint limit, which shows under limits";
        self.attribute(
            s,
            id,
            "government_extension",
            o.government_extension,
            n.government_extension,
            Impact::None,
            extension,
        );
        let lead = "migrated cases answer to the new lead department";
        let (ol, nl) = (&self.old.department(o.lead).id, &self.new.department(n.lead).id);
        self.attribute(s, id, "lead", ol.as_str(), nl.as_str(), Impact::OnMigration, lead);
    }

    /// The member ids of a bundle.
    fn member_ids<'d>(def: &'d Definition, b: &'d Bundle) -> Vec<&'d Id> {
        b.members.iter().map(|m| &def.item(m.item).id).collect()
    }

    fn members(&mut self, o: &Bundle, n: &Bundle) {
        let (old, new) = (self.old, self.new);
        let (old_ids, new_ids) = (Self::member_ids(old, o), Self::member_ids(new, n));
        for (pos, id) in old_ids.iter().enumerate() {
            if !new_ids.contains(id) {
                let effect =
                    "member removed: unstarted tasks leave on migration, a task under review or decided blocks it";
                let detail = old.item(o.members[pos].item).name.clone();
                self.push(
                    Section::Member,
                    ChangeKind::Removed,
                    format!("{}/{id}", n.id),
                    detail,
                    Impact::MayBlockMigration,
                    effect,
                );
            }
        }
        for (pos, id) in new_ids.iter().enumerate() {
            if !old_ids.contains(id) {
                self.member_added(o, n, pos);
            }
        }
        for (pos, id) in new_ids.iter().enumerate() {
            let Some(old_pos) = old_ids.iter().position(|x| x == id) else { continue };
            self.dependencies(o, n, old_pos, pos);
            self.condition(o, n, old_pos, pos);
        }
    }

    fn member_added(&mut self, o: &Bundle, n: &Bundle, pos: usize) {
        let new = self.new;
        let member = &n.members[pos];
        let item = new.item(member.item);
        let after = ids_text(member.after.iter().map(|&p| new.item(n.members[p].item).id.as_str()));
        let mut detail = format!("{}, after {after}", item.name);
        if let Some(c) = &member.when {
            detail += &format!(", when {} = {}", new.field(c.field).id, c.equals);
        }
        // Required materials the old bundle did not require and data sharing does not supply: a
        // running case may lack them, and the migration rule refuses that.
        let old_required: Vec<&Id> = o
            .materials
            .iter()
            .filter(|(_, need)| *need == MaterialNeed::Required)
            .map(|&(m, _)| &self.old.material(m).id)
            .collect();
        let lacking: Vec<&str> = item
            .materials
            .iter()
            .filter(|&&(m, need)| {
                let x = new.material(m);
                need == MaterialNeed::Required && x.shared_source.is_none() && !old_required.contains(&&x.id)
            })
            .map(|&(m, _)| new.material(m).id.as_str())
            .collect();
        let subject = format!("{}/{}", n.id, item.id);
        if lacking.is_empty() {
            let effect = "member added: joins running cases on migration where its condition holds, ready once its predecessors are approved";
            self.push(Section::Member, ChangeKind::Added, subject, detail, Impact::OnMigration, effect);
        } else {
            let effect = format!(
                "member added: joins running cases on migration where its condition holds; it requires {}, which blocks migration of accepted cases lacking it",
                lacking.join(", ")
            );
            self.push(Section::Member, ChangeKind::Added, subject, detail, Impact::MayBlockMigration, &effect);
        }
    }

    /// Dependencies of one member present in both, between members present in both.
    fn dependencies(&mut self, o: &Bundle, n: &Bundle, old_pos: usize, pos: usize) {
        let (old, new) = (self.old, self.new);
        let (old_ids, new_ids) = (Self::member_ids(old, o), Self::member_ids(new, n));
        let before: Vec<&Id> =
            o.members[old_pos].after.iter().map(|&p| old_ids[p]).filter(|id| new_ids.contains(id)).collect();
        let now: Vec<&Id> =
            n.members[pos].after.iter().map(|&p| new_ids[p]).filter(|id| old_ids.contains(id)).collect();
        let subject = format!("{}/{}", n.id, new_ids[pos]);
        for p in before.iter().filter(|p| !now.contains(p)) {
            let effect = "dependency removed: on migration the task no longer waits for it at its join";
            self.push(
                Section::Dependency,
                ChangeKind::Removed,
                subject.clone(),
                format!("no longer after {p}"),
                Impact::OnMigration,
                effect,
            );
        }
        for p in now.iter().filter(|p| !before.contains(p)) {
            let effect = "dependency added: a task already claimed or decided whose new predecessor is not approved blocks migration; a ready one waits again";
            self.push(
                Section::Dependency,
                ChangeKind::Added,
                subject.clone(),
                format!("now after {p}"),
                Impact::MayBlockMigration,
                effect,
            );
        }
    }

    fn condition(&mut self, o: &Bundle, n: &Bundle, old_pos: usize, pos: usize) {
        let show = |def: &Definition, b: &Bundle, p: usize| match &b.members[p].when {
            Some(c) => format!("when {} = {}", def.field(c.field).id, c.equals),
            None => "always".to_owned(),
        };
        let (before, now) = (show(self.old, o, old_pos), show(self.new, n, pos));
        if before != now {
            let effect = "condition changed: tasks of cases in approval keep whether they apply; cases not yet in approval re-evaluate it on their answers at migration";
            let subject = format!("{}/{}", n.id, self.new.item(n.members[pos].item).id);
            self.push(
                Section::Condition,
                ChangeKind::Changed,
                subject,
                arrow(before, now),
                Impact::OnMigration,
                effect,
            );
        }
    }

    fn stages(&mut self, o: &Bundle, n: &Bundle) {
        let m = matched(&o.stages, &n.stages, |s| &s.id);
        let gate = "a task already claimed or decided behind a stage that is not complete blocks migration; a ready one waits again";
        for s in m.removed {
            let effect = "stage removed: its members no longer wait for the stage before";
            self.push(
                Section::Stage,
                ChangeKind::Removed,
                format!("{}/{}", n.id, s.id),
                s.name.clone(),
                Impact::OnMigration,
                effect,
            );
        }
        for s in m.added {
            self.push(
                Section::Stage,
                ChangeKind::Added,
                format!("{}/{}", n.id, s.id),
                s.name.clone(),
                Impact::MayBlockMigration,
                gate,
            );
        }
        for (os, ns) in m.common {
            let subject = format!("{}/{}", n.id, ns.id);
            let (old_ids, new_ids) = (Self::member_ids(self.old, o), Self::member_ids(self.new, n));
            let ids = |all: &[&Id], ps: &[usize]| ps.iter().map(|&p| all[p].to_string()).collect::<Vec<_>>();
            self.attribute(Section::Stage, &subject, "name", &os.name, &ns.name, Impact::None, NAME_ONLY);
            let order = |b: &Bundle, id: &Id| b.stages.iter().position(|s| s.id == *id);
            self.attribute(
                Section::Stage,
                &subject,
                "position",
                order(o, &os.id),
                order(n, &ns.id),
                Impact::MayBlockMigration,
                gate,
            );
            self.attribute(
                Section::Stage,
                &subject,
                "members",
                ids(&old_ids, &os.members),
                ids(&new_ids, &ns.members),
                Impact::MayBlockMigration,
                gate,
            );
            self.attribute(
                Section::Stage,
                &subject,
                "milestones",
                ids(&old_ids, &os.milestones),
                ids(&new_ids, &ns.milestones),
                Impact::MayBlockMigration,
                gate,
            );
            self.attribute(
                Section::Stage,
                &subject,
                "milestone_rule",
                os.rule,
                ns.rule,
                Impact::MayBlockMigration,
                gate,
            );
        }
    }
}

/// Policies, the calendar and the plan.
impl Differ<'_> {
    fn policies(&mut self) {
        let (o, n): (&Policies, &Policies) = (self.old.policies(), self.new.policies());
        let fields: [(&str, u32, u32); 10] = [
            ("warning_percent", o.warning_percent, n.warning_percent),
            ("correction_notice_days", o.correction_notice_days, n.correction_notice_days),
            ("default_rating_days", o.default_rating_days, n.default_rating_days),
            ("default_rating", u32::from(o.default_rating), u32::from(n.default_rating)),
            ("cure_grace_days", o.cure_grace_days, n.cure_grace_days),
            ("ticket_verify_days", o.ticket_verify_days, n.ticket_verify_days),
            ("ticket_rectify_max_days", o.ticket_rectify_max_days, n.ticket_rectify_max_days),
            ("ticket_follow_up_days", o.ticket_follow_up_days, n.ticket_follow_up_days),
            (
                "simulated_approval_validity_days",
                o.simulated_approval_validity_days,
                n.simulated_approval_validity_days,
            ),
            ("supplement_max_days", o.supplement_max_days, n.supplement_max_days),
        ];
        if o.supplement_lapse != n.supplement_lapse {
            self.push(
                Section::Policy,
                ChangeKind::Changed,
                "supplement_lapse".to_owned(),
                format!("{:?} → {:?}", o.supplement_lapse, n.supplement_lapse),
                Impact::OnMigration,
                "applies to materials asked during review after a case runs on the new version; a deadline already \
                 running on the old version keeps the old consequence",
            );
        }
        for (name, before, now) in fields {
            if before != now {
                let effect = "applies to new cases and to running cases once migrated; cases left on the old version keep the old value";
                self.push(
                    Section::Policy,
                    ChangeKind::Changed,
                    name.to_owned(),
                    arrow(before, now),
                    Impact::OnMigration,
                    effect,
                );
            }
        }
    }

    fn calendar(&mut self) {
        let (oc, nc) = (self.old.calendar(), self.new.calendar());
        let ((of, ol), (nf, nl)) = (oc.covered_years(), nc.covered_years());
        for year in of..=ol {
            if !(nf..=nl).contains(&year) {
                let effect = "dates in that year fall outside the new calendar: a migrated case whose clock reaches it cannot be timed";
                self.push(
                    Section::CalendarYear,
                    ChangeKind::Removed,
                    year.to_string(),
                    format!("{year} removed"),
                    Impact::OnMigration,
                    effect,
                );
            }
        }
        for year in nf..=nl {
            if !(of..=ol).contains(&year) {
                let effect = "calendar year added: none (due dates may now fall in it)";
                self.push(
                    Section::CalendarYear,
                    ChangeKind::Added,
                    year.to_string(),
                    format!("{year} added"),
                    Impact::None,
                    effect,
                );
            } else {
                self.calendar_year(year);
            }
        }
        let hours = |c: &crate::calendar::Calendar| c.office_hours_text();
        let effect = "clocks of migrated cases count the new office hours; cases left on the old version keep the old";
        self.attribute(
            Section::OfficeHours,
            "office_hours",
            "periods",
            hours(oc),
            hours(nc),
            Impact::OnMigration,
            effect,
        );
    }

    /// A year in both calendars: the working days that differ, or only the holidays' names.
    fn calendar_year(&mut self, year: i32) {
        let (oc, nc) = (self.old.calendar(), self.new.calendar());
        let (Some(first), Some(next)) = (Date::from_ymd(year, 1, 1), Date::from_ymd(year + 1, 1, 1)) else { return };
        let mut differ: Vec<String> = Vec::new();
        // A year is at most 366 days: the loop is bounded.
        for offset in 0..(next.days_since_epoch() - first.days_since_epoch()) {
            let date = first.add_days(offset);
            let (a, b) = (oc.is_working_day(date), nc.is_working_day(date));
            if let (Ok(a), Ok(b)) = (a, b)
                && a != b
            {
                differ.push(format!("{date} {}", if b { "now a working day" } else { "now a day off" }));
            }
        }
        if !differ.is_empty() {
            let effect = "working days changed: clocks of migrated cases count on the new table; cases left on the old version keep the old";
            self.push(
                Section::CalendarYear,
                ChangeKind::Changed,
                year.to_string(),
                differ.join(", "),
                Impact::OnMigration,
                effect,
            );
            return;
        }
        let notes = |def: &Definition| -> Vec<(Date, String)> {
            def.holiday_notes().iter().filter(|(d, _)| d.year() == year).cloned().collect()
        };
        if notes(self.old) != notes(self.new) {
            let effect = "none: the names of holidays only";
            self.push(
                Section::CalendarYear,
                ChangeKind::Changed,
                year.to_string(),
                "holiday names".into(),
                Impact::None,
                effect,
            );
        }
    }

    fn plan(&mut self) {
        let render = |def: &Definition| def.plan().map(|p| plan_text(def, p));
        let (before, now) = (render(self.old), render(self.new));
        if before == now {
            return;
        }
        let change = match (&before, &now) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Removed,
            _ => ChangeKind::Changed,
        };
        let title = self.new.plan().or(self.old.plan()).map(|p| p.title.clone()).unwrap_or_default();
        self.push(
            Section::Plan,
            change,
            "plan".into(),
            title,
            Impact::None,
            "none for cases: the rectification plan's reports",
        );
    }
}

/// The plan with department ids in place of indices, for comparison.
fn plan_text(def: &Definition, plan: &super::Plan) -> String {
    let dept = |d: &super::DeptIx| def.department(*d).id.to_string();
    let mut text = plan.title.clone();
    for t in &plan.tasks {
        let departments: Vec<String> = t.departments.iter().map(dept).collect();
        text += &format!("\n{} {} {} {:?} {}", t.id, t.name, t.leader, departments, t.deadline);
        for target in &t.targets {
            match target {
                Target::BundlesPerSection { sections, min } => {
                    text += &format!(" sections {:?} {min}", sections.iter().map(dept).collect::<Vec<_>>());
                }
                other => text += &format!(" {other:?}"),
            }
        }
    }
    text
}
