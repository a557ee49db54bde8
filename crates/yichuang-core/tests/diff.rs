//! `definition::diff` over edits of the test hall (`tests/data/hall.ron`): each edit of the
//! migration rules' list (a limit shortened and lengthened, a member added and removed, a
//! dependency added, a material made required, a calendar year) gives the entry it should, with
//! its effect on running cases, and nothing else.

use yichuang_core::Definition;
use yichuang_core::definition::{Change, ChangeKind, DefinitionDiff, Impact, Section, diff};

const HALL: &str = include_str!("data/hall.ron");

fn hall() -> Definition {
    Definition::from_ron(HALL, "hall.ron").expect("the test hall is valid")
}

/// The hall with each `(from, to)` replaced once; every `from` must occur.
fn edited(edits: &[(&str, &str)]) -> Definition {
    let mut text = HALL.to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "hall.ron has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    Definition::from_ron(&text, "edited.ron").unwrap_or_else(|d| panic!("the edit is valid:\n{d}"))
}

/// The one change of `section` about `subject`, showing the whole diff when there is not exactly one.
fn only<'a>(d: &'a DefinitionDiff, section: Section, subject: &str) -> &'a Change {
    let found = d.about(section, subject);
    let all: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
    assert_eq!(found.len(), 1, "{section:?} {subject}:\n{}", all.join("\n"));
    found[0]
}

/// Asserts the diff has exactly `n` changes.
fn count(d: &DefinitionDiff, n: usize) {
    let all: Vec<String> = d.changes.iter().map(ToString::to_string).collect();
    assert_eq!(d.changes.len(), n, "{}", all.join("\n"));
}

#[test]
fn same_meaning_is_identical() {
    let old = hall();
    let new = Definition::from_ron(&format!("// 注释\n{}", HALL.replace("    ", "  ")), "b.ron").unwrap();
    let d = diff(&old, &new);
    assert!(d.is_identical());
    assert!(d.changes.is_empty());
    assert_eq!(d.old.version, d.new.version);
}

#[test]
fn limit_shortened_applies_on_migration_and_lengthened_keeps_promises() {
    let old = hall();
    let new = edited(&[
        (
            "statutory_days: 10, promised_days: 5, result: \"食品经营许可证\"",
            "statutory_days: 10, promised_days: 3, result: \"食品经营许可证\"",
        ),
        ("promised_days: 1, result: \"营业执照\"", "promised_days: 2, result: \"营业执照\""),
    ]);
    let d = diff(&old, &new);
    assert!(!d.is_identical());
    assert_ne!(d.old.version, d.new.version);
    count(&d, 2);
    let food = only(&d, Section::Limit, "food");
    assert_eq!((food.change, food.impact), (ChangeKind::Changed, Impact::OnMigration));
    assert_eq!(food.detail, "item promised_days 5 → 3");
    assert!(food.effect.starts_with("limit shortened: applies to running cases on migration"), "{food}");
    let licence = only(&d, Section::Limit, "licence");
    assert_eq!(licence.impact, Impact::NewCases);
    assert!(licence.effect.starts_with("limit lengthened: running promises kept"), "{licence}");
}

#[test]
fn member_removed_may_block_and_member_added_joins_on_migration() {
    let old = hall();
    let new = edited(&[(
        "            (item: \"sign\", after: [\"licence\"]),\n",
        "            (item: \"permit\", after: [\"licence\"]),\n",
    )]);
    let d = diff(&old, &new);
    count(&d, 2);
    let removed = only(&d, Section::Member, "restaurant/sign");
    assert_eq!((removed.change, removed.impact), (ChangeKind::Removed, Impact::MayBlockMigration));
    assert_eq!(
        removed.effect,
        "member removed: unstarted tasks leave on migration, a task under review or decided blocks it"
    );
    // 施工许可证核发 requires nothing the restaurant did not (its safety plan is tolerable).
    let added = only(&d, Section::Member, "restaurant/permit");
    assert_eq!((added.change, added.impact), (ChangeKind::Added, Impact::OnMigration));
    assert_eq!(added.detail, "施工许可证核发, after licence");
}

#[test]
fn member_added_with_a_new_required_material_may_block() {
    let new = edited(&[(
        "            (item: \"sign\", after: [\"licence\"]),\n",
        "            (item: \"sign\", after: [\"licence\"]),\n            (item: \"design-review\"),\n",
    )]);
    let d = diff(&hall(), &new);
    count(&d, 1);
    let added = only(&d, Section::Member, "restaurant/design-review");
    assert_eq!(added.impact, Impact::MayBlockMigration);
    assert!(added.effect.contains("requires design, which blocks migration of accepted cases lacking it"), "{added}");
}

#[test]
fn dependency_added_may_block_and_removed_applies_on_migration() {
    // fire-check now waits for food too (the bundle's limit grows to hold the longer path);
    // tobacco-retail no longer waits for licence.
    let new = edited(&[
        ("(item: \"fire-check\", after: [\"licence\"])", "(item: \"fire-check\", after: [\"licence\", \"food\"])"),
        ("(item: \"tobacco-retail\", after: [\"licence\"], when", "(item: \"tobacco-retail\", when"),
        ("lead: \"market\", promised_days: 8", "lead: \"market\", promised_days: 12"),
    ]);
    let d = diff(&hall(), &new);
    count(&d, 3);
    let added = only(&d, Section::Dependency, "restaurant/fire-check");
    assert_eq!(
        (added.change, added.impact, added.detail.as_str()),
        (ChangeKind::Added, Impact::MayBlockMigration, "now after food")
    );
    assert!(added.effect.starts_with("dependency added: a task already claimed or decided"), "{added}");
    let removed = only(&d, Section::Dependency, "restaurant/tobacco-retail");
    assert_eq!((removed.change, removed.impact), (ChangeKind::Removed, Impact::OnMigration));
    let bundle = only(&d, Section::Limit, "restaurant");
    assert_eq!((bundle.detail.as_str(), bundle.impact), ("bundle promised_days 8 → 12", Impact::NewCases));
}

#[test]
fn material_made_required_may_block_unless_shared() {
    let new = edited(&[
        ("(material: \"health-cert\", need: Tolerable)", "(material: \"health-cert\", need: Required)"),
        (
            "materials: [(material: \"floor-plan\", need: Optional)]",
            "materials: [(material: \"floor-plan\", need: Optional), (material: \"id-card\", need: Required)]",
        ),
        ("(material: \"lease\", need: Optional)", ""),
    ]);
    let d = diff(&hall(), &new);
    count(&d, 3);
    let health = only(&d, Section::Material, "food/health-cert");
    assert_eq!((health.change, health.impact), (ChangeKind::Changed, Impact::MayBlockMigration));
    assert_eq!(health.detail, "need Tolerable → Required");
    assert!(
        health.effect.starts_with("material newly required: blocks migration of accepted cases lacking it"),
        "{health}"
    );
    // 身份证明 comes from 公安人口库 by data sharing: no case lacks it.
    let id_card = only(&d, Section::Material, "sign/id-card");
    assert_eq!((id_card.change, id_card.impact), (ChangeKind::Added, Impact::NewCases));
    let lease = only(&d, Section::Material, "fire-check/lease");
    assert_eq!(
        (lease.change, lease.impact, lease.detail.as_str()),
        (ChangeKind::Removed, Impact::NewCases, "need Optional → not listed")
    );
}

#[test]
fn calendar_year_added_is_none_and_changed_days_apply_on_migration() {
    let new = edited(&[
        (
            "(name: \"元旦\", from: \"2025-01-01\", to: \"2025-01-01\")",
            "(name: \"元旦\", from: \"2025-01-01\", to: \"2025-01-02\")",
        ),
        (
            "        ],\n        office_hours",
            "            (year: 2027, holidays: [], makeup_workdays: []),\n        ],\n        office_hours",
        ),
    ]);
    let d = diff(&hall(), &new);
    count(&d, 2);
    let added = only(&d, Section::CalendarYear, "2027");
    assert_eq!((added.change, added.impact), (ChangeKind::Added, Impact::None));
    assert_eq!(added.effect, "calendar year added: none (due dates may now fall in it)");
    let changed = only(&d, Section::CalendarYear, "2025");
    assert_eq!((changed.change, changed.impact), (ChangeKind::Changed, Impact::OnMigration));
    assert_eq!(changed.detail, "2025-01-02 now a day off");
}

#[test]
fn condition_stage_policy_and_decider() {
    let new = edited(&[
        (
            "(item: \"tobacco-retail\", after: [\"licence\"], when: Some((field: \"sells-tobacco\", equals: \"是\")))",
            "(item: \"tobacco-retail\", after: [\"licence\"])",
        ),
        ("members: [\"permit\"])", "members: [\"permit\"], milestone_rule: Any)"),
        (
            "name: \"户外招牌设置\", decided_by: Department(\"urban\")",
            "name: \"户外招牌设置\", decided_by: Department(\"market\")",
        ),
        ("    calendar: (\n", "    policies: (warning_percent: 80),\n    calendar: (\n"),
    ]);
    let d = diff(&hall(), &new);
    count(&d, 4);
    let condition = only(&d, Section::Condition, "restaurant/tobacco-retail");
    assert_eq!(
        (condition.detail.as_str(), condition.impact),
        ("when sells-tobacco = 是 → always", Impact::OnMigration)
    );
    let stage = only(&d, Section::Stage, "project/construction-stage");
    assert_eq!((stage.detail.as_str(), stage.impact), ("milestone_rule All → Any", Impact::MayBlockMigration));
    let decider = only(&d, Section::Item, "sign");
    assert_eq!((decider.detail.as_str(), decider.impact), ("decided_by urban → market", Impact::MayBlockMigration));
    let policy = only(&d, Section::Policy, "warning_percent");
    assert_eq!((policy.detail.as_str(), policy.impact), ("90 → 80", Impact::OnMigration));
}

#[test]
fn renamed_item_shows_removed_and_added_and_serializes() {
    let new = edited(&[
        ("(id: \"sign\", code: \"T-004\"", "(id: \"signboard\", code: \"T-004\""),
        ("(item: \"sign\", after", "(item: \"signboard\", after"),
        ("(item: \"sign\", after", "(item: \"signboard\", after"),
    ]);
    let d = diff(&hall(), &new);
    count(&d, 6);
    assert_eq!(only(&d, Section::Item, "sign").change, ChangeKind::Removed);
    assert_eq!(only(&d, Section::Item, "signboard").change, ChangeKind::Added);
    assert_eq!(only(&d, Section::Member, "restaurant/sign").change, ChangeKind::Removed);
    assert_eq!(only(&d, Section::Member, "restaurant/signboard").change, ChangeKind::Added);
    assert_eq!(only(&d, Section::Member, "venue/sign").change, ChangeKind::Removed);
    assert_eq!(only(&d, Section::Member, "venue/signboard").change, ChangeKind::Added);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["old"]["version"], d.old.version.to_string());
    assert_eq!(json["changes"][0]["section"], "item");
    assert_eq!(json["changes"][0]["change"], "removed");
    assert_eq!(json["changes"][0]["impact"], "none");
}
