//! Definition versions and migration (版本迁移) through the engine: a case runs on the version
//! it was submitted under; a migration keeps every promise, re-evaluates joins, and is refused
//! with every reason where work or a promise would be lost. Tests named after the BPMN engines'
//! failures: Camunda 8 cannot migrate an instance with a token waiting at a parallel join
//! (camunda/camunda#46281).

use std::sync::Arc;

use super::common::*;
use yichuang_core::definition::Version;
use yichuang_core::machine::case::{MigrationPlan, Obstacle, TaskChange, Verdict};
use yichuang_core::*;

/// The test hall with room in 我要开饭店's joint limit (12 wd instead of 8), so that the edits
/// below (a join, another member on the critical path) stay valid definitions.
static HALL_TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    include_str!("../data/hall.ron").replace("promised_days: 8, high_frequency", "promised_days: 12, high_frequency")
});

fn version(text: &str) -> Arc<Definition> {
    Arc::new(Definition::from_ron(text, "hall.ron").unwrap_or_else(|e| panic!("{e}")))
}

fn admin() -> Actor {
    Actor::admin("admin-1")
}

/// The restaurant bundle with its sign waiting at a join of food and fire-check, and tobacco
/// retail applying to every case: three parallel members after the licence.
fn join_hall() -> String {
    HALL_TEXT
        .replace(r#"(item: "sign", after: ["licence"]),"#, r#"(item: "sign", after: ["food", "fire-check"]),"#)
        .replace(r#"when: Some((field: "sells-tobacco", equals: "是"))"#, "")
}

fn hall_on(text: &str) -> Hall {
    let mut h = Hall::new();
    h.engine = Engine::new(version(text));
    h
}

fn migrate(h: &mut Hall, case: CaseId, to: Version, plan: &MigrationPlan) -> Result<Vec<&'static str>, Rejection> {
    let before = h.engine.case(case).cloned();
    let result = h.engine.migrate(case, to, plan, &Ctx { now: h.now, actor: &admin() });
    match result {
        Ok(events) => Ok(events.iter().map(|r| r.event.name()).collect()),
        Err(e) => {
            assert_eq!(h.engine.case(case).cloned(), before, "a refused migration changes nothing");
            Err(e)
        }
    }
}

/// Every invariant that holds on a case's state, and replay of the whole log.
fn holds(h: &Hall, log: &[Recorded]) {
    for case in h.engine.cases() {
        let def = h.engine.definition_of(case);
        invariants::task_order(def, case).unwrap_or_else(|v| panic!("{v}"));
        invariants::deadlines(def, case).unwrap_or_else(|v| panic!("{v}"));
    }
    invariants::replay(&h.engine, log).unwrap_or_else(|v| panic!("{v}"));
}

/// Runs a command and keeps its events in `log`.
fn logged(h: &mut Hall, log: &mut Vec<Recorded>, case: CaseId, actor: &Actor, command: Command) {
    log.extend(h.run(case, actor, command).unwrap_or_else(|e| panic!("{e}")));
}

fn approve_logged(h: &mut Hall, log: &mut Vec<Recorded>, case: CaseId, item: &str, dept: &str) {
    for action in [TaskCommand::Claim, TaskCommand::Approve] {
        logged(h, log, case, &reviewer(dept), Command::Task { item: Id::new(item), action });
    }
}

fn submit_logged(h: &mut Hall, log: &mut Vec<Recorded>) -> CaseId {
    let s = h.submission("restaurant", ALL_RESTAURANT, &[]);
    let (case, events) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &h.intake }).unwrap();
    log.extend(events);
    case
}

/// The scenario of issue 17: a case accepted under a 1-day licence keeps its due date when the
/// hall deploys 2 days; a new case gets 2 days; migrating the old case does not lengthen its
/// promise.
fn a_lengthened_limit_never_moves_a_promise_already_made() {
    let v1 = version(&HALL_TEXT);
    let v2 = version(&HALL_TEXT.replace("statutory_days: 3, promised_days: 1", "statutory_days: 3, promised_days: 2"));
    assert_ne!(v1.version(), v2.version());
    let mut h = hall_on(&HALL_TEXT);
    let mut log = Vec::new();
    let old = submit_logged(&mut h, &mut log);
    let intake = h.intake.clone();
    logged(&mut h, &mut log, old, &intake, Command::Accept);
    let due = |h: &Hall, case| {
        let c = h.engine.case(case).unwrap();
        c.task("licence").unwrap().sla().unwrap().deadline(h.engine.definition_of(c).calendar()).unwrap()
    };
    let promised = due(&h, old);
    assert_eq!(promised.to_string(), "2026-03-03T17:30", "1 wd from Monday");

    // The service restarts with the changed file: the log replays on both versions.
    h.engine = Engine::replay_versions(vec![Arc::clone(&v1), Arc::clone(&v2)], &log).unwrap();
    assert_eq!(h.engine.definition().version(), v2.version(), "the new version is active");
    assert_eq!(due(&h, old), promised, "the running case keeps its version and its promise");
    assert_eq!(h.engine.definition_of(h.engine.case(old).unwrap()).version(), v1.version());
    let new = submit_logged(&mut h, &mut log);
    logged(&mut h, &mut log, new, &intake, Command::Accept);
    assert_eq!(due(&h, new).to_string(), "2026-03-04T17:30", "a new case gets the new 2 wd");

    let verdict = h.engine.migration(old, v2.version(), &MigrationPlan::default()).unwrap();
    let Verdict::Migrates { changes } = &verdict else { panic!("{verdict:?}") };
    assert!(changes.contains(&TaskChange::LimitKept { item: Id::new("licence"), days: 1, new_days: 2 }), "{changes:?}");
    let events = h.engine.migrate(old, v2.version(), &MigrationPlan::default(), &Ctx { now: h.now, actor: &admin() });
    let events = events.unwrap();
    assert_eq!(events.iter().map(|r| r.event.name()).collect::<Vec<_>>(), ["Migrated"]);
    log.extend(events);
    assert_eq!(due(&h, old), promised, "migrated, the promise is not lengthened");
    assert_eq!(h.engine.definition_of(h.engine.case(old).unwrap()).version(), v2.version());
    // Approving the licence starts food etc. on v2; the licence cap stays with the task.
    approve_logged(&mut h, &mut log, old, "licence", "market");
    holds(&h, &log);
}

/// A shortened limit applies to a running clock on migration: the earlier due date.
fn a_shortened_limit_applies_to_a_running_clock() {
    let v2 = version(&HALL_TEXT.replace(
        "statutory_days: 10, promised_days: 5, result: \"食品经营许可证\"",
        "statutory_days: 10, promised_days: 2, result: \"食品经营许可证\"",
    ));
    let mut h = hall_on(&HALL_TEXT);
    let mut log = Vec::new();
    let case = submit_logged(&mut h, &mut log);
    let intake = h.intake.clone();
    logged(&mut h, &mut log, case, &intake, Command::Accept);
    approve_logged(&mut h, &mut log, case, "licence", "market");
    let food_due = |h: &Hall| {
        let c = h.engine.case(case).unwrap();
        c.task("food").unwrap().sla().unwrap().deadline(h.engine.definition_of(c).calendar()).unwrap()
    };
    assert_eq!(food_due(&h).to_string(), "2026-03-09T17:30", "5 wd from Monday");
    h.engine.deploy(Arc::clone(&v2)).unwrap();
    let plan = MigrationPlan::default();
    let Verdict::Migrates { changes } = h.engine.migration(case, v2.version(), &plan).unwrap() else { panic!() };
    assert!(changes.contains(&TaskChange::LimitShortened { item: Id::new("food"), from_days: 5, to_days: 2 }));
    log.extend(h.engine.migrate(case, v2.version(), &plan, &Ctx { now: h.now, actor: &admin() }).unwrap());
    assert_eq!(food_due(&h).to_string(), "2026-03-04T17:30", "2 wd from Monday");
    // The shortened clock warns and runs over on its new timers.
    let fired = h.advance_hours(24 * 4);
    assert!(fired.iter().any(|r| matches!(&r.event, Event::SlaLevelChanged { subject: event::SlaSubject::Task(i), level: machine::sla::SlaLevel::Overdue } if i.as_str() == "food")));
    log.extend(fired);
    holds(&h, &log);
}

/// camunda/camunda#46281: one approval done, its sibling in review, the next task waiting at
/// the join; the new version adds a third parallel member before the join. The case migrates,
/// the new member starts at once (its predecessor is approved), and the join now waits for all
/// three.
fn a_case_waiting_at_a_join_migrates_to_a_version_with_a_third_parallel_member() {
    let v1 = join_hall();
    let v2 = v1.replace(
        r#"(item: "sign", after: ["food", "fire-check"]),"#,
        r#"(item: "sign", after: ["food", "fire-check", "tobacco-retail"]),"#,
    );
    // In v1 the tobacco member is not in the bundle at all.
    let v1 = v1
        .replace(r#"(item: "tobacco-retail", after: ["licence"], ),"#, "")
        .replace(r#"(item: "tobacco-retail", after: ["licence"]),"#, "");
    let mut h = hall_on(&v1);
    assert!(h.engine.definition().bundle(h.engine.definition().bundle_ix("restaurant").unwrap()).members.len() == 4);
    let mut log = Vec::new();
    let case = submit_logged(&mut h, &mut log);
    let intake = h.intake.clone();
    logged(&mut h, &mut log, case, &intake, Command::Accept);
    approve_logged(&mut h, &mut log, case, "licence", "market");
    approve_logged(&mut h, &mut log, case, "food", "market");
    logged(
        &mut h,
        &mut log,
        case,
        &reviewer("fire"),
        Command::Task { item: Id::new("fire-check"), action: TaskCommand::Claim },
    );
    assert_eq!(h.task_state(case, "sign"), TaskState::Waiting, "the join waits for fire-check");
    let v2 = version(&v2);
    h.engine.deploy(Arc::clone(&v2)).unwrap();
    let events =
        h.engine.migrate(case, v2.version(), &MigrationPlan::default(), &Ctx { now: h.now, actor: &admin() }).unwrap();
    let names: Vec<&str> = events.iter().map(|r| r.event.name()).collect();
    assert_eq!(names, ["Migrated", "TaskReady"], "the added member starts: the licence is approved");
    log.extend(events);
    assert_eq!(h.task_state(case, "tobacco-retail"), TaskState::Ready);
    assert_eq!(h.task_state(case, "fire-check"), TaskState::InReview, "work under way is kept");
    logged(
        &mut h,
        &mut log,
        case,
        &reviewer("fire"),
        Command::Task { item: Id::new("fire-check"), action: TaskCommand::Approve },
    );
    assert_eq!(h.task_state(case, "sign"), TaskState::Waiting, "the join now waits for the third member too");
    approve_logged(&mut h, &mut log, case, "tobacco-retail", "tobacco");
    assert_eq!(h.task_state(case, "sign"), TaskState::Ready, "all three approved: the join fires");
    approve_logged(&mut h, &mut log, case, "sign", "urban");
    assert_eq!(h.state(case), CaseState::ReadyForDelivery);
    holds(&h, &log);
}

/// The same join with a member removed: a member not yet started leaves the case and the join
/// no longer waits for it; a member under review cannot be removed (its work would be lost).
fn a_case_waiting_at_a_join_migrates_to_a_version_without_an_unstarted_member() {
    let v1 = join_hall().replace(
        r#"(item: "sign", after: ["food", "fire-check"]),"#,
        r#"(item: "sign", after: ["food", "fire-check", "tobacco-retail"]),"#,
    );
    let mut h = hall_on(&v1);
    let mut log = Vec::new();
    let case = submit_logged(&mut h, &mut log);
    let intake = h.intake.clone();
    logged(&mut h, &mut log, case, &intake, Command::Accept);
    approve_logged(&mut h, &mut log, case, "licence", "market");
    approve_logged(&mut h, &mut log, case, "food", "market");
    logged(
        &mut h,
        &mut log,
        case,
        &reviewer("fire"),
        Command::Task { item: Id::new("fire-check"), action: TaskCommand::Claim },
    );
    assert_eq!(h.task_state(case, "tobacco-retail"), TaskState::Ready);

    // Removing the member under review is refused, naming it.
    let without_fire = version(
        &v1.replace(r#"(item: "fire-check", after: ["licence"]),"#, "")
            .replace(r#"after: ["food", "fire-check", "tobacco-retail"]"#, r#"after: ["food", "tobacco-retail"]"#),
    );
    h.engine.deploy(Arc::clone(&without_fire)).unwrap();
    let err = migrate(&mut h, case, without_fire.version(), &MigrationPlan::default()).unwrap_err();
    assert_eq!(err.code(), "migration_refused");
    let Rejection::MigrationRefused { obstacles, .. } = &err else { panic!("{err}") };
    assert_eq!(obstacles, &[Obstacle::RemovedInWork { item: Id::new("fire-check"), state: TaskState::InReview }]);

    // Removing the member not yet claimed migrates: it leaves the case, the join waits for two.
    let without_tobacco = version(
        &v1.replace(r#"(item: "tobacco-retail", after: ["licence"], ),"#, "")
            .replace(r#"(item: "tobacco-retail", after: ["licence"]),"#, "")
            .replace(r#"after: ["food", "fire-check", "tobacco-retail"]"#, r#"after: ["food", "fire-check"]"#),
    );
    h.engine.deploy(Arc::clone(&without_tobacco)).unwrap();
    let events = h
        .engine
        .migrate(case, without_tobacco.version(), &MigrationPlan::default(), &Ctx { now: h.now, actor: &admin() })
        .unwrap();
    let Event::Migrated { removed, .. } = &events[0].event else { panic!() };
    assert_eq!(removed, &ids(&["tobacco-retail"]));
    log.extend(events);
    assert!(h.engine.case(case).unwrap().task("tobacco-retail").is_none());
    logged(
        &mut h,
        &mut log,
        case,
        &reviewer("fire"),
        Command::Task { item: Id::new("fire-check"), action: TaskCommand::Approve },
    );
    assert_eq!(h.task_state(case, "sign"), TaskState::Ready, "the join no longer waits for the removed member");
    holds(&h, &log);
}

/// A predecessor added behind an approved task is refused; behind a ready (unclaimed) one, the
/// task waits again.
fn a_predecessor_added_behind_started_work() {
    let v2 = version(
        &HALL_TEXT.replace(r#"(item: "food", after: ["licence"]),"#, r#"(item: "food", after: ["licence", "sign"]),"#),
    );
    let mut h = hall_on(&HALL_TEXT);
    let mut log = Vec::new();
    let case = submit_logged(&mut h, &mut log);
    let intake = h.intake.clone();
    logged(&mut h, &mut log, case, &intake, Command::Accept);
    approve_logged(&mut h, &mut log, case, "licence", "market");
    h.engine.deploy(Arc::clone(&v2)).unwrap();
    let Verdict::Migrates { changes } = h.engine.migration(case, v2.version(), &MigrationPlan::default()).unwrap()
    else {
        panic!()
    };
    assert!(
        changes.contains(&TaskChange::WaitsAgain { item: Id::new("food"), for_items: ids(&["sign"]) }),
        "{changes:?}"
    );
    approve_logged(&mut h, &mut log, case, "food", "market");
    let err = migrate(&mut h, case, v2.version(), &MigrationPlan::default()).unwrap_err();
    let Rejection::MigrationRefused { obstacles, .. } = &err else { panic!("{err}") };
    assert_eq!(
        obstacles,
        &[Obstacle::PredecessorBehind {
            item: Id::new("food"),
            state: TaskState::Approved,
            predecessor: Id::new("sign")
        }]
    );
    assert!(err.to_string().contains("版本迁移"), "{err}");
}

/// A material the new version requires after acceptance is an obstacle; a rename maps a task
/// to its new id and keeps its state.
fn a_material_required_after_acceptance_is_refused_and_a_rename_keeps_the_task() {
    let mut h = hall_on(&HALL_TEXT);
    let mut log = Vec::new();
    let case = submit_logged(&mut h, &mut log);
    let intake = h.intake.clone();
    logged(&mut h, &mut log, case, &intake, Command::Accept);
    let needs_design = version(&HALL_TEXT.replace(
        r#"materials: [(material: "floor-plan", need: Optional)]),"#,
        r#"materials: [(material: "floor-plan", need: Optional), (material: "design", need: Required)]),"#,
    ));
    h.engine.deploy(Arc::clone(&needs_design)).unwrap();
    let verdict = h.engine.migration(case, needs_design.version(), &MigrationPlan::default()).unwrap();
    assert_eq!(
        verdict,
        Verdict::Cannot {
            obstacles: vec![Obstacle::MaterialNewlyRequired { item: Id::new("sign"), material: Id::new("design") }]
        }
    );

    let renamed = version(
        &HALL_TEXT
            .replace(r#"(id: "licence", code"#, r#"(id: "business-licence", code"#)
            .replace(r#"(item: "licence")"#, r#"(item: "business-licence")"#)
            .replace(r#"after: ["licence"]"#, r#"after: ["business-licence"]"#),
    );
    h.engine.deploy(Arc::clone(&renamed)).unwrap();
    let plan: MigrationPlan = ron::from_str(r#"(renames: {"licence": "business-licence"})"#).unwrap();
    // Without the plan the licence would be removed, and it is ready: it just leaves. With the
    // plan it is the same task.
    let Verdict::Migrates { changes } = h.engine.migration(case, renamed.version(), &plan).unwrap() else { panic!() };
    assert!(changes.contains(&TaskChange::Kept {
        item: Id::new("business-licence"),
        renamed_from: Some(Id::new("licence")),
        state: TaskState::Ready
    }));
    log.extend(h.engine.migrate(case, renamed.version(), &plan, &Ctx { now: h.now, actor: &admin() }).unwrap());
    approve_logged(&mut h, &mut log, case, "business-licence", "market");
    assert_eq!(h.task_state(case, "food"), TaskState::Ready);
    holds(&h, &log);
}

/// Only an administrator migrates; an unknown version is named with the known ones; a decided
/// case is refused; a case on the version already records nothing.
fn who_may_migrate_and_what_cannot_be_migrated() {
    let v2 = version(&HALL_TEXT.replace("promised_days: 12, high_frequency", "promised_days: 11, high_frequency"));
    let mut h = hall_on(&HALL_TEXT);
    let case = h.restaurant_approved();
    h.engine.deploy(Arc::clone(&v2)).unwrap();
    fn by(actor: &Actor) -> Ctx<'_> {
        Ctx { now: "2026-03-02T10:00".parse().unwrap(), actor }
    }
    let err = h.engine.migrate(case, v2.version(), &MigrationPlan::default(), &by(&reviewer("market"))).unwrap_err();
    assert!(err.is_authorization(), "{err}");
    let unknown: Version = "0123456789abcdef".parse().unwrap();
    let err = h.engine.migrate(case, unknown, &MigrationPlan::default(), &by(&admin())).unwrap_err();
    assert!(err.to_string().contains(&v2.version().to_string()), "names the versions held: {err}");
    let err = migrate(&mut h, case, v2.version(), &MigrationPlan::default()).unwrap_err();
    assert!(matches!(&err, Rejection::InvalidState { .. }), "ReadyForDelivery has no migrate row: {err}");
    let v1 = h.engine.versions()[0].version();
    assert_eq!(h.engine.migration(case, v1, &MigrationPlan::default()).unwrap(), Verdict::Current);
    assert!(migrate(&mut h, case, v1, &MigrationPlan::default()).unwrap().is_empty());
    // Another hall's definition is not a version of this one.
    let other = version(&HALL_TEXT.replace(r#"id: "test-hall""#, r#"id: "other-hall""#));
    assert!(h.engine.deploy(other).is_err());
}

/// Before acceptance a case migrates in every state the spec declares, and acceptance then
/// checks the new version.
fn cases_before_acceptance_migrate_in_every_state() {
    let v2 = version(&HALL_TEXT.replace("statutory_days: 3, promised_days: 1", "statutory_days: 3, promised_days: 2"));
    let mut h = hall_on(&HALL_TEXT);
    let mut log = Vec::new();
    let consulting = {
        let applicant = Applicant { id: h.applicant.id.clone(), name: "张三".into(), credit_blocked: false };
        let (case, events) = h
            .engine
            .open(
                Command::Consult { bundle: Id::new("restaurant"), applicant },
                &Ctx { now: h.now, actor: &h.applicant.clone() },
            )
            .unwrap();
        log.extend(events);
        case
    };
    let received = submit_logged(&mut h, &mut log);
    let correcting = {
        let s = h.submission("restaurant", &["floor-plan"], &[]);
        let (case, events) =
            h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &h.intake }).unwrap();
        log.extend(events);
        let intake = h.intake.clone();
        logged(&mut h, &mut log, case, &intake, Command::RequestCorrection);
        case
    };
    h.engine.deploy(Arc::clone(&v2)).unwrap();
    for (case, state) in [
        (consulting, CaseState::Consulting),
        (received, CaseState::Received),
        (correcting, CaseState::AwaitingCorrection),
    ] {
        assert_eq!(h.state(case), state);
        log.extend(
            h.engine
                .migrate(case, v2.version(), &MigrationPlan::default(), &Ctx { now: h.now, actor: &admin() })
                .unwrap(),
        );
        assert_eq!(h.state(case), state);
        assert_eq!(h.engine.definition_of(h.engine.case(case).unwrap()).version(), v2.version());
    }
    let intake = h.intake.clone();
    logged(&mut h, &mut log, received, &intake, Command::Accept);
    let c = h.engine.case(received).unwrap();
    let due = c.task("licence").unwrap().sla().unwrap().deadline(h.engine.definition_of(c).calendar()).unwrap();
    assert_eq!(due.to_string(), "2026-03-04T17:30", "accepted after migrating: the new 2 wd");
    holds(&h, &log);
}

/// The log says which version each case runs on; a log written before versions replays on the
/// first version; a tampered `Migrated` (another list of removed members) does not replay; a
/// version the engine does not hold is named.
fn the_log_names_versions_and_replay_rejudges_migrations() {
    let v1 = version(&join_hall());
    let v2 = version(
        &join_hall()
            .replace(r#"(item: "tobacco-retail", after: ["licence"], ),"#, "")
            .replace(r#"(item: "tobacco-retail", after: ["licence"]),"#, ""),
    );
    let mut h = hall_on(&join_hall());
    let mut log = Vec::new();
    let case = submit_logged(&mut h, &mut log);
    let Event::Submitted { definition, .. } = &log[0].event else { panic!() };
    assert_eq!(*definition, Some(v1.version()));
    let json = serde_json::to_string(&log[0]).unwrap();
    assert!(json.contains(&format!("\"definition\":\"{}\"", v1.version())), "{json}");
    // Without the field (a log from before versions), the case runs on the first version.
    let old: Recorded =
        serde_json::from_str(&json.replace(&format!(",\"definition\":\"{}\"", v1.version()), "")).unwrap();
    let e = Engine::replay_versions(vec![Arc::clone(&v1), Arc::clone(&v2)], [&old]).unwrap();
    assert_eq!(e.definition_of(e.case(case).unwrap()).version(), v1.version());
    let e = Engine::replay(Arc::clone(&v2), &log).unwrap_err();
    assert!(matches!(e, ReplayError::UnknownVersion { position: 0, .. }), "{e}");

    let intake = h.intake.clone();
    logged(&mut h, &mut log, case, &intake, Command::Accept);
    h.engine.deploy(Arc::clone(&v2)).unwrap();
    log.extend(
        h.engine.migrate(case, v2.version(), &MigrationPlan::default(), &Ctx { now: h.now, actor: &admin() }).unwrap(),
    );
    holds(&h, &log);
    let at = log.iter().position(|r| matches!(r.event, Event::Migrated { .. })).unwrap();
    let mut tampered = log.clone();
    let Event::Migrated { removed, .. } = &mut tampered[at].event else { panic!() };
    removed.clear();
    let err = Engine::replay_versions(vec![Arc::clone(&v1), Arc::clone(&v2)], &tampered).unwrap_err();
    assert!(matches!(err, ReplayError::Illegal { position, .. } if position == at), "{err}");
}

pub(super) fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("migrate": a_lengthened_limit_never_moves_a_promise_already_made, a_shortened_limit_applies_to_a_running_clock, a_case_waiting_at_a_join_migrates_to_a_version_with_a_third_parallel_member, a_case_waiting_at_a_join_migrates_to_a_version_without_an_unstarted_member, a_predecessor_added_behind_started_work, a_material_required_after_acceptance_is_refused_and_a_rename_keeps_the_task, who_may_migrate_and_what_cannot_be_migrated, cases_before_acceptance_migrate_in_every_state, the_log_names_versions_and_replay_rejudges_migrations)
}
