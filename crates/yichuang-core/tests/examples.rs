//! The example definitions under `examples/definitions/` load, validate and plan as documented,
//! and the invalid fixtures under `tests/data/` produce the documented diagnostics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yichuang_core::definition::{Bundle, BundlePlan, MaterialNeed, MemberPlan};
use yichuang_core::{Date, Definition, Diagnostics};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/definitions")
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn load(path: &Path) -> Result<Definition, Diagnostics> {
    Definition::from_ron(&read(path), &path.display().to_string())
}

fn load_ok(path: &Path) -> Definition {
    load(path).unwrap_or_else(|d| panic!("{} is not valid:\n{d}", path.display()))
}

fn county_hall() -> Definition {
    load_ok(&examples_dir().join("county-hall.ron"))
}

fn date(text: &str) -> Date {
    text.parse().expect("test dates are valid")
}

fn bundle<'d>(def: &'d Definition, id: &str) -> &'d Bundle {
    def.bundle(def.bundle_ix(id).unwrap_or_else(|| panic!("bundle `{id}` missing; have {}", def.bundle_ids_text())))
}

fn member<'p>(plan: &'p BundlePlan, item: &str) -> &'p MemberPlan {
    plan.members
        .iter()
        .find(|m| m.item == item)
        .unwrap_or_else(|| panic!("`{item}` is not a member of `{}`", plan.bundle))
}

fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn every_example_definition_is_valid() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/definitions exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected county-hall, minimal and the worked example, found {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        if let Err(diagnostics) = load(path) {
            failures.push(format!("{}:\n{diagnostics}", path.display()));
        }
    }
    assert!(failures.is_empty(), "invalid examples:\n{}", failures.join("\n\n"));
}

/// A definition saved by a Windows editor starts with a UTF-8 byte-order mark: it is the same
/// definition, and a later error keeps its line and column.
#[test]
fn a_byte_order_mark_is_not_part_of_the_definition() {
    let path = examples_dir().join("county-hall.ron");
    let text = format!("\u{feff}{}", read(&path));
    let def = Definition::from_ron(&text, "bom.ron").unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(def.id(), county_hall().id());
    let text = read(&path);
    let broken = format!("{text}\n  oops");
    let without = Definition::from_ron(&broken, "bom.ron").expect_err("trailing text").to_string();
    let with = Definition::from_ron(&format!("\u{feff}{broken}"), "bom.ron").expect_err("trailing text").to_string();
    assert!(with.contains("trailing characters"), "{with}");
    assert_eq!(with, without, "the mark moves no line or column");
}

#[test]
fn county_hall_has_the_five_bundles_and_the_industrial_one() {
    let def = county_hall();
    for id in ["open-business", "open-bookstore", "hold-performance", "open-restaurant", "open-hotel"] {
        let b = bundle(&def, id);
        assert!(!b.industrial, "`{id}` is not an industrial project");
        assert!(b.critical_days <= b.promised_days && b.promised_days <= 45, "`{id}` limits");
    }
    let industrial = bundle(&def, "industrial-project");
    assert!(industrial.industrial);
    assert!(industrial.promised_days <= 45);
    assert!(industrial.green_channel_eligible(&def));
    let stages: Vec<&str> = industrial.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["立项用地规划许可", "工程建设许可", "施工许可", "竣工验收"]);
    // Stage 1 opens at 5 (filing + 预审), stage 2 (Any) at 10, stage 3 at 20: 20 + 7 + 2.
    assert_eq!(industrial.critical_days, 29);
}

#[test]
fn county_hall_calendar_matches_the_official_tables() {
    let def = county_hall();
    let cal = def.calendar();
    assert_eq!(cal.covered_years(), (2025, 2026));
    // domain-notes §7.4: both years have 248 working days.
    assert_eq!(cal.working_days_in_year(2025).unwrap(), 248);
    assert_eq!(cal.working_days_in_year(2026).unwrap(), 248);
    // domain-notes §7.4 test vectors.
    assert_eq!(cal.add_working_days(date("2025-09-26"), 5).unwrap(), date("2025-10-10"));
    assert_eq!(cal.add_working_days(date("2025-09-26"), 20).unwrap(), date("2025-10-30"));
    assert_eq!(cal.add_working_days(date("2026-02-13"), 3).unwrap(), date("2026-02-25"));
    assert_eq!(cal.office_hours_text(), "09:00–12:00, 13:30–17:30");
}

#[test]
fn open_restaurant_plan_skips_the_2026_spring_festival() {
    let def = county_hall();
    let b = bundle(&def, "open-restaurant");
    let plan = b.plan(&def, date("2026-02-13"), &BTreeMap::new()).expect("plannable");

    // The business licence is the only applicable member that starts at once.
    let starting: Vec<&str> =
        plan.members.iter().filter(|m| m.applies && m.start_offset == 0).map(|m| m.item.as_str()).collect();
    assert_eq!(starting, ["business-licence"]);
    let licence = member(&plan, "business-licence");
    // 2026-02-13 (Fri) + 1 wd = 2026-02-14, the Saturday make-up working day.
    assert_eq!((licence.start, licence.due), (date("2026-02-13"), date("2026-02-14")));

    // Food licence ∥ fire check ∥ signboard, all after the licence, all starting together.
    for item in ["food-licence", "fire-safety-check", "outdoor-signboard"] {
        let m = member(&plan, item);
        assert!(m.applies, "`{item}` always applies");
        assert_eq!(m.after, ["business-licence"], "`{item}` waits for the licence");
        assert_eq!(m.start_offset, 1, "`{item}` starts when the licence is due");
        assert_eq!(m.start, date("2026-02-14"));
    }
    // Working days after 2026-02-13: 02-14 (make-up) = 1, 02-15..02-23 off, 02-24 = 2, 02-25 = 3,
    // 02-26 = 4, 02-27 = 5, 02-28 (make-up) = 6, 03-02 = 7, 03-03 = 8, … 03-10 = 13.
    let due = |item: &str| member(&plan, item).due;
    assert_eq!(due("outdoor-signboard"), date("2026-02-26")); // 1 + 3
    assert_eq!(due("fire-safety-check"), date("2026-02-28")); // 1 + 5, a make-up Saturday
    assert_eq!(due("food-licence"), date("2026-03-03")); // 1 + 7
    assert_eq!(due("food-staff-health"), date("2026-02-25")); // 1 + 2, before the food licence
    for m in plan.members.iter().filter(|m| m.applies && m.start_offset > 0) {
        assert!(m.due > date("2026-02-23"), "`{}` is due inside the Spring Festival", m.item);
    }
    let tobacco = member(&plan, "tobacco-retail");
    assert!(!tobacco.applies, "tobacco applies only when sells-tobacco = 是");
    assert_eq!(plan.critical_days, 8);
    assert_eq!(plan.critical_path, ["business-licence", "food-licence"]);
    assert_eq!(plan.due, date("2026-03-03"));
    assert_eq!(plan.promised_due, date("2026-03-10")); // 13 wd
}

#[test]
fn selling_tobacco_adds_the_tobacco_licence() {
    let def = county_hall();
    let b = bundle(&def, "open-restaurant");
    let plan = b.plan(&def, date("2026-02-13"), &answers(&[("sells-tobacco", "是")])).expect("plannable");
    let tobacco = member(&plan, "tobacco-retail");
    assert!(tobacco.applies);
    assert_eq!(tobacco.after, ["business-licence"]);
    assert_eq!(tobacco.due, date("2026-03-06")); // 1 + 10 = 11 wd
    assert_eq!(plan.critical_days, 11);
    assert_eq!(plan.critical_path, ["business-licence", "tobacco-retail"]);

    let plan = b.plan(&def, date("2026-02-13"), &answers(&[("sells-tobacco", "否")])).expect("plannable");
    assert!(!member(&plan, "tobacco-retail").applies);
    assert!(b.plan(&def, date("2026-02-13"), &answers(&[("sells-tobacco", "maybe")])).is_err());
}

#[test]
fn merged_materials_are_deduplicated_with_the_strictest_need() {
    let def = county_hall();
    let b = bundle(&def, "open-restaurant");
    let ids: Vec<&str> = b.materials.iter().map(|&(m, _)| def.material(m).id.as_str()).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "duplicates in {ids:?}");
    let need = |id: &str| {
        let ix = def.material_ix(id).expect("material exists");
        b.materials.iter().find(|&&(m, _)| m == ix).map(|&(_, n)| n)
    };
    // floor-plan: Required (food licence) and Tolerable (fire check) → Required.
    assert_eq!(need("floor-plan"), Some(MaterialNeed::Required));
    // premises-proof: Required (licence, food licence) and Tolerable (signboard) → Required.
    assert_eq!(need("premises-proof"), Some(MaterialNeed::Required));
    // Only ever Tolerable or Optional: stays so.
    assert_eq!(need("staff-health-cert"), Some(MaterialNeed::Tolerable));
    assert_eq!(need("signboard-safety"), Some(MaterialNeed::Optional));
    // Strictest need is the maximum over every member that lists the material.
    for &(m, merged) in &b.materials {
        let strictest = b.members.iter().filter_map(|member| def.item(member.item).need_of(m)).max();
        assert_eq!(Some(merged), strictest, "material {}", def.material(m).id);
    }
    // The merged form asks each field once.
    let mut form = b.form.clone();
    form.sort_unstable();
    form.dedup();
    assert_eq!(form.len(), b.form.len());
}

#[test]
fn pharmacy_worked_example_plans_as_documented() {
    let def = load_ok(&examples_dir().join("pharmacy.ron"));
    let b = bundle(&def, "open-pharmacy");
    let plan = b.plan(&def, date("2026-02-13"), &BTreeMap::new()).expect("plannable");
    let due = |item: &str| member(&plan, item).due;
    assert_eq!(due("business-licence"), date("2026-02-14"));
    assert_eq!(due("outdoor-signboard"), date("2026-02-26"));
    assert_eq!(due("drug-retail-licence"), date("2026-03-06")); // 1 + 10 = 11 wd
    assert!(!member(&plan, "device-filing").applies);
    assert_eq!(plan.critical_path, ["business-licence", "drug-retail-licence"]);
    assert_eq!(plan.due, date("2026-03-06"));
    assert_eq!(plan.promised_due, date("2026-03-12")); // 15 wd

    let plan = b.plan(&def, date("2026-02-13"), &answers(&[("sells-devices", "是")])).expect("plannable");
    let device = member(&plan, "device-filing");
    assert!(device.applies);
    assert_eq!((device.start, device.due), (date("2026-02-14"), date("2026-02-14")));
}

#[test]
fn syntax_error_gives_one_located_diagnostic() {
    let path = data_dir().join("syntax-error.ron");
    let diagnostics = load(&path).expect_err("the fixture has a syntax error").0;
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let (line, col) = diagnostics[0].location.expect("syntax errors are located");
    assert!(line > 1 && col > 0, "{:?}", diagnostics[0]);
    assert!(!diagnostics[0].help.is_empty());
}

#[test]
fn three_problems_are_all_reported_at_once() {
    let path = data_dir().join("three-problems.ron");
    let diagnostics = load(&path).expect_err("the fixture is invalid").0;
    let text: Vec<String> = diagnostics.iter().map(|d| format!("{} @ {}", d.message, d.path)).collect();
    assert!(diagnostics.len() >= 3, "{text:#?}");
    for d in &diagnostics {
        assert!(!d.help.is_empty(), "no help for {d:?}");
    }
    let find = |pred: &dyn Fn(&yichuang_core::Diagnostic) -> bool, what: &str| {
        assert!(diagnostics.iter().any(pred), "no diagnostic for {what} in {text:#?}");
    };
    find(
        &|d| d.message.contains("cycle") && d.message.contains("fire-check") && d.message.contains("signboard"),
        "the dependency cycle",
    );
    find(
        &|d| d.message.contains("unknown department `urban-managment`") && d.path.contains("items[outdoor-signboard]"),
        "the unknown department",
    );
    find(&|d| d.path == "items[food-licence].promised_days" && d.message.contains("statutory"), "promised > statutory");
}

/// An empty stage once validated and removed the stage ordering: stage 3 of the industrial
/// project then started in parallel with stage 1. A stage without members, or one that would have
/// no milestones, is refused with its path and how to fix it.
#[test]
fn an_empty_stage_or_a_stage_without_milestones_is_refused() {
    let path = examples_dir().join("county-hall.ron");
    let text = read(&path);
    let stage2 = r#"members: ["design-scheme-review", "construction-planning-permit"],"#;
    assert!(text.contains(stage2));
    let empty = text.replacen(stage2, "members: [],", 1).replacen(
        r#"milestones: ["design-scheme-review", "construction-planning-permit"],"#,
        "",
        1,
    );
    let diagnostics = Definition::from_ron(&empty, "county-hall.ron").expect_err("an empty stage is refused").0;
    assert!(
        diagnostics.iter().any(|d| d.path == "bundles[industrial-project].stages[engineering-permit].members"
            && d.message.contains("stage `engineering-permit` has no members")
            && d.help.contains("list")
            && d.location.is_some()),
        "{diagnostics:#?}"
    );

    // Stage 3 without explicit milestones has its unconditional members as milestones and skips
    // the conditional fire-design-review: accepted, as documented.
    let milestones3 = r#"milestones: ["construction-permit"], // a conditional member cannot be a milestone"#;
    assert!(text.contains(milestones3));
    let def = Definition::from_ron(&text.replacen(milestones3, "", 1), "county-hall.ron")
        .unwrap_or_else(|d| panic!("default milestones are the unconditional members:\n{d}"));
    let b = bundle(&def, "industrial-project");
    let stage = &b.stages[2];
    let ids: Vec<&str> = stage.milestones.iter().map(|&m| def.item(b.members[m].item).id.as_str()).collect();
    assert_eq!(ids, ["drawing-review", "construction-permit"]);

    // A stage whose members are all conditional and that names no milestones has none.
    let only_conditional = text
        .replacen(
            r#"members: ["drawing-review", "fire-design-review", "construction-permit"],"#,
            r#"members: ["fire-design-review"],"#,
            1,
        )
        .replacen(milestones3, "", 1);
    let diagnostics =
        Definition::from_ron(&only_conditional, "county-hall.ron").expect_err("a stage needs a milestone").0;
    assert!(
        diagnostics
            .iter()
            .any(|d| d.path == "bundles[industrial-project].stages[construction-permit-stage].milestones"
                && d.message.contains("no milestone")
                && d.help.contains("milestones")),
        "{diagnostics:#?}"
    );
}
