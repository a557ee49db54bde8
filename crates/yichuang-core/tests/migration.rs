//! Migration under random edits (issue 17 part 5): random edits to the test county's
//! definition (`tests/data/hall.ron`: limits shortened or lengthened, a member removed, an item
//! renamed, a material dropped or made required, a dependency added) and random histories of
//! 我要开饭店 cases. For every open case the plan's verdict is honoured: a case judged movable
//! moves, and after it every invariant holds, the log replays to the same state, and every case
//! can still finish (no task skipped, no join stuck); a case judged immovable is refused with
//! its reasons and nothing of it changes. A deliberately broken migration rule (a waiting task
//! that forgets its predecessors) is caught.
//!
//! `PROPTEST_CASES` sets the number of runs (default 256).

mod common;

use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use yichuang_core::definition::Version;
use yichuang_core::fault::{self, Fault};
use yichuang_core::machine::case::{MigrationPlan, Verdict};
use yichuang_core::*;

/// The test hall with room in 我要开饭店's joint limit, its sign waiting at a join of food and
/// fire-check, and tobacco retail applying to every case (as in `machines/migrate.rs`).
fn base() -> String {
    include_str!("data/hall.ron")
        .replace("promised_days: 8, high_frequency", "promised_days: 14, high_frequency")
        .replace(r#"(item: "sign", after: ["licence"]),"#, r#"(item: "sign", after: ["food", "fire-check"]),"#)
        .replace(r#"when: Some((field: "sells-tobacco", equals: "是"))"#, "")
}

const MEMBERS: [(&str, &str); 5] = [
    ("licence", "market"),
    ("food", "market"),
    ("fire-check", "fire"),
    ("sign", "urban"),
    ("tobacco-retail", "tobacco"),
];

/// One edit of the definition.
#[derive(Clone, Debug)]
enum Edit {
    /// An item's promised working days set to `days` (1–3: shortened or lengthened).
    Limit { item: usize, days: u32 },
    /// A member (not the licence) removed from 我要开饭店 (and from the joins after it).
    Remove { item: usize },
    /// The licence renamed, mapped by the plan (or not: then it is removed and re-added).
    RenameLicence { mapped: bool },
    /// The sign's optional floor plan dropped.
    DropMaterial,
    /// The sign newly requires the design.
    RequireMaterial,
    /// The fire check waits for food too.
    AddDependency,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..5usize, 1..=3u32).prop_map(|(item, days)| Edit::Limit { item, days }),
        (1..5usize).prop_map(|item| Edit::Remove { item }),
        any::<bool>().prop_map(|mapped| Edit::RenameLicence { mapped }),
        Just(Edit::DropMaterial),
        Just(Edit::RequireMaterial),
        Just(Edit::AddDependency),
    ]
}

/// The text with item `id`'s promised working days set to `days` (unchanged when the item is
/// not there: renamed by an earlier edit).
fn set_promise(text: &str, id: &str, days: u32) -> String {
    let Some(start) = text.find(&format!(r#"(id: "{id}", code"#)) else { return text.to_owned() };
    let at = start + text[start..].find("promised_days: ").unwrap() + "promised_days: ".len();
    let end = at + text[at..].find(',').unwrap();
    format!("{}{days}{}", &text[..at], &text[end..])
}

/// Applies the edits; the plan maps the renames. `None` when the edits make no valid definition
/// (the loader refuses it: nothing to migrate to).
fn edited(edits: &[Edit]) -> Option<(String, MigrationPlan)> {
    let mut text = base();
    let mut plan = MigrationPlan::default();
    for e in edits {
        text = match e {
            Edit::Limit { item, days } => set_promise(&text, MEMBERS[*item].0, *days),
            Edit::Remove { item } => {
                let id = MEMBERS[*item].0;
                let text = text
                    .replace(&format!(r#"(item: "{id}", after: ["licence"]),"#), "")
                    .replace(&format!(r#"(item: "{id}", after: ["licence"], ),"#), "")
                    .replace(&format!(r#"(item: "{id}", after: ["food", "fire-check"]),"#), "");
                // The join after it waits for the other one only.
                match id {
                    "food" => text.replace(r#"after: ["food", "fire-check"]"#, r#"after: ["fire-check"]"#),
                    "fire-check" => text.replace(r#"after: ["food", "fire-check"]"#, r#"after: ["food"]"#),
                    _ => text,
                }
            }
            Edit::RenameLicence { mapped } => {
                if *mapped {
                    plan.renames.insert(Id::new("licence"), Id::new("business-licence"));
                }
                text.replace(r#"(id: "licence", code"#, r#"(id: "business-licence", code"#)
                    .replace(r#"(item: "licence")"#, r#"(item: "business-licence")"#)
                    .replace(r#"after: ["licence"]"#, r#"after: ["business-licence"]"#)
            }
            Edit::DropMaterial => text.replace(r#"materials: [(material: "floor-plan", need: Optional)]),"#, "),"),
            Edit::RequireMaterial => text.replace(
                r#"materials: [(material: "floor-plan", need: Optional)]),"#,
                r#"materials: [(material: "floor-plan", need: Optional), (material: "design", need: Required)]),"#,
            ),
            Edit::AddDependency => text.replace(
                r#"(item: "fire-check", after: ["licence"]),"#,
                r#"(item: "fire-check", after: ["licence", "food"]),"#,
            ),
        };
    }
    Definition::from_ron(&text, "edited.ron").ok().map(|_| (text, plan))
}

/// A step of a case's history: the `n`-th possible move (accept; claim a ready task; approve a
/// task in review).
fn moves(h: &Hall, case: CaseId) -> Vec<(Actor, Command)> {
    let c = h.engine.case(case).unwrap();
    match c.state() {
        CaseState::Received => vec![(h.intake.clone(), Command::Accept)],
        CaseState::InApproval => {
            let def = h.engine.definition_of(c);
            let mut out = Vec::new();
            for t in c.tasks() {
                let dept = def.item(t.item()).decided_by.departments()[0];
                let actor = reviewer(def.department(dept).id.as_str());
                let action = match t.state() {
                    TaskState::Ready => TaskCommand::Claim,
                    TaskState::InReview => TaskCommand::Approve,
                    _ => continue,
                };
                out.push((actor, Command::Task { item: t.item_id().clone(), action }));
            }
            out
        }
        _ => Vec::new(),
    }
}

fn step(h: &mut Hall, log: &mut Vec<Recorded>, case: CaseId, n: usize) {
    let options = moves(h, case);
    if options.is_empty() {
        return;
    }
    let (actor, command) = options[n % options.len()].clone();
    let events = h.run(case, &actor, command).unwrap_or_else(|e| panic!("a move of the history is refused: {e}"));
    log.extend(events);
}

/// Every invariant on the state of every case, under its own version, and the log's replay.
fn holds(h: &Hall, log: &[Recorded], versions: &[Arc<Definition>]) -> Result<(), TestCaseError> {
    for case in h.engine.cases() {
        let def = h.engine.definition_of(case);
        invariants::task_order(def, case).map_err(|v| TestCaseError::fail(format!("{}: {v}", case.id())))?;
        invariants::deadlines(def, case).map_err(|v| TestCaseError::fail(format!("{}: {v}", case.id())))?;
        invariants::delivery(def, case).map_err(|v| TestCaseError::fail(format!("{}: {v}", case.id())))?;
    }
    let replayed = Engine::replay_versions(versions.to_vec(), log).map_err(|e| TestCaseError::fail(e.to_string()))?;
    for case in h.engine.cases() {
        prop_assert_eq!(Some(case), replayed.case(case.id()), "replay gives the same case");
    }
    Ok(())
}

/// The property: `edits` deployed over `histories` (one per case: its moves), every open case
/// migrated by the plan's verdict, then every case driven to its decision.
fn migration_is_honoured(edits: &[Edit], histories: &[Vec<usize>]) -> Result<(), TestCaseError> {
    let Some((text, plan)) = edited(edits) else { return Ok(()) };
    let v1 = Arc::new(Definition::from_ron(&base(), "hall.ron").unwrap());
    let v2 = Arc::new(Definition::from_ron(&text, "edited.ron").unwrap());
    let versions = [Arc::clone(&v1), Arc::clone(&v2)];
    let mut h = Hall::new();
    h.engine = Engine::new(Arc::clone(&v1));
    let mut log = Vec::new();
    let mut cases = Vec::new();
    for history in histories {
        let s = h.submission("restaurant", ALL_RESTAURANT, &[]);
        let (case, events) =
            h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &h.intake }).unwrap();
        log.extend(events);
        for &n in history {
            step(&mut h, &mut log, case, n);
        }
        cases.push(case);
    }
    h.engine.deploy(Arc::clone(&v2)).unwrap();
    let admin = Actor::admin("admin-1");
    if v1.version() == v2.version() {
        return Ok(());
    }
    for &case in &cases {
        let verdict = h.engine.migration(case, v2.version(), &plan).unwrap();
        let before = h.engine.case(case).cloned();
        let result = h.engine.migrate(case, v2.version(), &plan, &Ctx { now: h.now, actor: &admin });
        match (&verdict, result) {
            (Verdict::Migrates { .. }, Ok(events)) => {
                let first = events.first().map(|r| r.event.name());
                prop_assert_eq!(first, Some("Migrated"));
                log.extend(events);
                let c = h.engine.case(case).unwrap();
                prop_assert_eq!(h.engine.definition_of(c).version(), v2.version());
            }
            (Verdict::Cannot { obstacles }, Err(Rejection::MigrationRefused { obstacles: refused, .. })) => {
                prop_assert!(!obstacles.is_empty());
                prop_assert_eq!(obstacles, &refused, "refused with the plan's reasons");
                prop_assert_eq!(h.engine.case(case).cloned(), before, "a refused migration changes nothing");
            }
            (Verdict::Cannot { .. }, Err(e)) if !matches!(e, Rejection::MigrationRefused { .. }) => {
                // Decided cases have no migrate row: refused by the state machine.
                prop_assert_eq!(h.engine.case(case).cloned(), before, "a refused migration changes nothing");
            }
            (verdict, result) => {
                return Err(TestCaseError::fail(format!("{case}: the plan said {verdict:?}, migrate did {result:?}")));
            }
        }
        holds(&h, &log, &versions)?;
    }
    // Liveness: every case in approval finishes (no task skipped, no join stuck).
    for &case in &cases {
        for _ in 0..40 {
            if h.engine.case(case).unwrap().state() != CaseState::InApproval {
                break;
            }
            let before = log.len();
            step(&mut h, &mut log, case, 0);
            prop_assert!(
                log.len() > before,
                "{} is stuck in approval: {:?}",
                case,
                h.engine.case(case).unwrap().tasks()
            );
        }
        prop_assert_ne!(h.engine.case(case).unwrap().state(), CaseState::InApproval, "{} never finishes", case);
    }
    holds(&h, &log, &versions)
}

fn strategy() -> impl Strategy<Value = (Vec<Edit>, Vec<Vec<usize>>)> {
    (prop::collection::vec(edit(), 1..4), prop::collection::vec(prop::collection::vec(0..6usize, 0..8), 1..5))
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
    Config { cases, failure_persistence: None, ..Config::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_migration_is_refused_with_reasons_or_leaves_every_invariant_holding((edits, histories) in strategy()) {
        migration_is_honoured(&edits, &histories)?;
    }
}

/// The random edits produce valid definitions and both verdicts, so the property above judges
/// real migrations, not only refusals.
#[test]
fn the_edits_make_valid_versions_and_both_verdicts() {
    use proptest::strategy::ValueTree;
    let mut runner = TestRunner::deterministic();
    let (mut valid, mut migrates, mut cannot) = (0, 0, 0);
    for _ in 0..200 {
        let (edits, _) = strategy().new_tree(&mut runner).unwrap().current();
        let Some((text, plan)) = edited(&edits) else { continue };
        valid += 1;
        let v2 = Arc::new(Definition::from_ron(&text, "edited.ron").unwrap());
        let mut h = Hall::new();
        h.engine = Engine::new(Arc::new(Definition::from_ron(&base(), "hall.ron").unwrap()));
        let s = h.submission("restaurant", ALL_RESTAURANT, &[]);
        let (case, _) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &h.intake }).unwrap();
        let intake = h.intake.clone();
        h.ok(case, &intake, Command::Accept);
        h.approve(case, "licence", "market");
        h.task(case, "food", "market", TaskCommand::Claim);
        h.engine.deploy(Arc::clone(&v2)).unwrap();
        match h.engine.migration(case, v2.version(), &plan).unwrap() {
            Verdict::Migrates { .. } => migrates += 1,
            Verdict::Cannot { .. } => cannot += 1,
            Verdict::Current => {}
        }
    }
    assert!(valid >= 150, "most edits make valid definitions ({valid} of 200)");
    assert!(migrates >= 20 && cannot >= 20, "both verdicts occur: {migrates} migrate, {cannot} cannot");
}

/// A migration that drops a waiting task's predecessors instead of re-evaluating its join
/// (fault `MigrationDropsWaitingPredecessor`) is caught by the property.
#[test]
fn the_property_catches_a_migration_that_drops_a_waiting_tasks_predecessors() {
    let _fault = fault::inject(Fault::MigrationDropsWaitingPredecessor);
    let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
    let found = runner.run(&strategy(), |(edits, histories)| migration_is_honoured(&edits, &histories));
    let Err(e) = found else { panic!("the broken rule went unnoticed") };
    let text = e.to_string();
    eprintln!("the broken rule is caught: {text}");
    assert!(text.contains("before") || text.contains("predecessor"), "{text}");
}

/// The scenario the fault breaks, by hand: a case just accepted (the licence ready, the rest
/// waiting for it) migrated to a version with a shorter limit; without the fault the waiting
/// tasks stay waiting.
#[test]
fn waiting_tasks_keep_waiting_across_a_migration() {
    let text = set_promise(&base(), "food", 2);
    let v2: Version = Definition::from_ron(&text, "v2.ron").unwrap().version();
    assert!(migration_is_honoured(&[Edit::Limit { item: 1, days: 2 }], &[vec![0]]).is_ok());
    let _fault = fault::inject(Fault::MigrationDropsWaitingPredecessor);
    let e = migration_is_honoured(&[Edit::Limit { item: 1, days: 2 }], &[vec![0]]).unwrap_err();
    assert!(e.to_string().contains("food") || e.to_string().contains("sign"), "{e} ({v2})");
}

/// A plan that renames one task onto another's item is refused for every case in approval,
/// naming both: otherwise one task, and the work done on it, would vanish without a trace.
#[test]
fn a_plan_that_maps_two_tasks_onto_one_item_is_refused() {
    let v1 = Arc::new(Definition::from_ron(&base(), "hall.ron").unwrap());
    let v2 = Arc::new(Definition::from_ron(&set_promise(&base(), "food", 4), "v2.ron").unwrap());
    let mut h = Hall::new();
    h.engine = Engine::new(v1);
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.approve(case, "licence", "market");
    h.engine.deploy(Arc::clone(&v2)).unwrap();
    let plan: MigrationPlan = ron::from_str(r#"(renames: {"food": "licence"})"#).unwrap();
    let before = h.engine.case(case).cloned();
    let err = h.engine.migrate(case, v2.version(), &plan, &Ctx { now: h.now, actor: &Actor::admin("admin-1") });
    let Err(Rejection::MigrationRefused { obstacles, .. }) = err else { panic!("{err:?}") };
    assert!(
        obstacles
            .iter()
            .any(|o| matches!(o, machine::case::Obstacle::RenameCollision { item, .. } if item.as_str() == "licence")),
        "{obstacles:?}"
    );
    assert_eq!(h.engine.case(case).cloned(), before, "nothing changes");
}
