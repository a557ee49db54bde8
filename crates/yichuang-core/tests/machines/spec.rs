//! The transition tables (`yichuang_core::machine::table`) agree with `decide`, in both directions, and
//! render the diagrams in `docs/state-machines.md`.

use super::common::*;
use yichuang_core::machine::case::CaseMachine;
use yichuang_core::machine::spec::{self, Machine};
use yichuang_core::machine::task::TaskMachine;
use yichuang_core::machine::ticket::TicketMachine;
use yichuang_core::*;

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

/// Instances of every case state, reached through the public API.
fn instances(state: CaseState) -> Vec<(Hall, CaseId)> {
    let mut out = Vec::new();
    let mut h = Hall::new();
    let intake = h.intake.clone();
    let delivery = h.delivery.clone();
    let applicant = h.applicant.clone();
    let tolerate = |h: &mut Hall| {
        let case = h.submit("restaurant", &["licence-form", "lease", "floor-plan"], &[]);
        let intake = h.intake.clone();
        h.ok(case, &intake, Command::AcceptTolerating { cure_due: date("2026-03-06") });
        case
    };
    match state {
        CaseState::Consulting => {
            let a = Applicant { id: h.applicant.id.clone(), name: "张三".into(), credit_blocked: false };
            let ctx = Ctx { now: h.now, actor: &applicant };
            let case = h.engine.open(Command::Consult { bundle: Id::new("restaurant"), applicant: a }, &ctx).unwrap().0;
            out.push((h, case));
        }
        CaseState::Received => {
            let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
            out.push((h, case));
            let mut h = Hall::new();
            let case = h.submit("restaurant", &["licence-form", "lease", "floor-plan"], &[]);
            out.push((h, case));
        }
        CaseState::AwaitingCorrection => {
            let case = h.submit("restaurant", &["floor-plan"], &[]);
            h.ok(case, &intake, Command::RequestCorrection);
            out.push((h, case));
        }
        CaseState::InApproval => {
            let case = tolerate(&mut h);
            out.push((h, case));
        }
        CaseState::AwaitingCure => {
            let case = h.submit("project", &["design", "safety-plan"], &[]);
            h.ok(case, &intake, Command::AcceptTolerating { cure_due: date("2026-03-20") });
            h.approve(case, "design-review", "planning");
            h.task(case, "permit", "construction", TaskCommand::Claim);
            h.task(case, "permit", "construction", TaskCommand::Deny { reason: "安全措施不足".into() });
            out.push((h, case));
        }
        CaseState::Suspended => {
            let case = tolerate(&mut h);
            h.advance_hours(24 * 5);
            out.push((h, case));
        }
        CaseState::ReadyForDelivery => {
            let case = h.restaurant_approved();
            out.push((h, case));
            let mut h = Hall::new();
            let case = h.project_tolerated_approved();
            out.push((h, case));
        }
        CaseState::Delivered => {
            let case = h.restaurant_approved();
            h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Window });
            out.push((h, case));
            let mut h = Hall::new();
            let case = h.project_tolerated_approved();
            h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Post });
            out.push((h, case));
        }
        CaseState::Closed => {
            let case = h.restaurant_approved();
            h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Window });
            h.ok(case, &applicant, Command::Rate { stars: 5 });
            out.push((h, case));
        }
        CaseState::Rejected => {
            let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
            h.ok(case, &intake, Command::Reject { reason: "不属于本机关职权".into() });
            out.push((h, case));
        }
        CaseState::Returned => {
            let case = tolerate(&mut h);
            h.advance_hours(24 * 40);
            out.push((h, case));
        }
        CaseState::Withdrawn => {
            let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
            h.ok(case, &applicant, Command::Withdraw);
            out.push((h, case));
        }
        CaseState::Revoked => {
            let case = h.project_tolerated_approved();
            h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Post });
            h.advance_hours(24 * 40);
            out.push((h, case));
        }
    }
    for (h, case) in &out {
        assert_eq!(h.state(*case), state, "instance reached the wrong state");
    }
    out
}

/// Every case command with an actor entitled to issue it.
fn commands(h: &Hall, case: CaseId) -> Vec<(&'static str, Actor, Command)> {
    let c = h.engine.case(case).unwrap();
    let supply = c.outstanding().first().cloned().unwrap_or_else(|| Id::new("health-cert"));
    let ready = c.tasks().iter().find(|t| t.state() == TaskState::Ready);
    let (item, dept) = match ready {
        Some(t) => {
            let def = h.engine.definition();
            let d = def.item(t.item()).decided_by.departments()[0];
            (t.item_id().clone(), def.department(d).id.to_string())
        }
        None => (Id::new("licence"), "market".to_owned()),
    };
    let s = h.submission("restaurant", ALL_RESTAURANT, &[]);
    vec![
        ("submit", h.intake.clone(), Command::Submit(Box::new(s))),
        ("accept", h.intake.clone(), Command::Accept),
        ("accept_tolerating", h.intake.clone(), Command::AcceptTolerating { cure_due: date("2026-03-06") }),
        ("request_correction", h.intake.clone(), Command::RequestCorrection),
        ("reject", h.intake.clone(), Command::Reject { reason: "理由".into() }),
        ("resubmit", h.intake.clone(), Command::Resubmit { materials: ids(ALL_RESTAURANT) }),
        ("supply", h.applicant.clone(), Command::Supply { material: supply }),
        ("task command", reviewer(&dept), Command::Task { item, action: TaskCommand::Claim }),
        ("deliver", h.delivery.clone(), Command::Deliver { method: DeliveryMethod::Window }),
        ("rate", h.applicant.clone(), Command::Rate { stars: 3 }),
        ("withdraw", h.applicant.clone(), Command::Withdraw),
    ]
}
/// The kind of each named command, for the look-up in the spec.
fn case_kind(command: &Command) -> yichuang_core::machine::case::CommandKind {
    command.kind()
}

fn case_decide_agrees_with_the_spec() {
    let mut accepted_rows = std::collections::BTreeSet::new();
    for &state in CaseState::ALL {
        for (h, case) in instances(state) {
            for (name, actor, command) in commands(&h, case) {
                let row = spec::admit::<CaseMachine>(state, case_kind(&command)).ok();
                let mut h2 = Hall { engine: h.engine.clone(), ..Hall::new() };
                h2.now = h.now;
                match h2.run(case, &actor, command) {
                    Ok(_) => {
                        let row =
                            row.unwrap_or_else(|| panic!("{} accepted `{name}` but the spec has no row", state.name()));
                        let got = h2.state(case);
                        let to = CaseMachine::ROWS[row].to;
                        assert!(to.contains(&got), "{} --{name}--> {}, the spec says {to:?}", state.name(), got.name());
                        accepted_rows.insert(row);
                    }
                    Err(Rejection::InvalidState { .. }) => {
                        assert!(
                            row.is_none(),
                            "{} refused `{name}` as an invalid state but the spec lists it",
                            state.name()
                        );
                    }
                    Err(e) => {
                        assert!(
                            row.is_some(),
                            "{} refused `{name}` by a guard ({e}) but the spec has no row",
                            state.name()
                        );
                        assert!(!e.is_authorization(), "the test's actor is entitled: {e}");
                    }
                }
            }
        }
    }
    // 版本迁移 is the engine's `migrate`, not a `Command`: probe it in every state the same way.
    let v2 = std::sync::Arc::new(
        Definition::from_ron(
            &include_str!("../data/hall.ron")
                .replace("promised_days: 8, high_frequency", "promised_days: 7, high_frequency"),
            "hall-v2.ron",
        )
        .unwrap(),
    );
    let plan = yichuang_core::machine::case::MigrationPlan::default();
    let admin = Actor::admin("admin-1");
    for &state in CaseState::ALL {
        for (h, case) in instances(state) {
            let row = spec::admit::<CaseMachine>(state, yichuang_core::machine::case::CommandKind::Migrate).ok();
            let mut engine = h.engine.clone();
            engine.deploy(std::sync::Arc::clone(&v2)).unwrap();
            match engine.migrate(case, v2.version(), &plan, &Ctx { now: h.now, actor: &admin }) {
                Ok(_) => {
                    let row = row.unwrap_or_else(|| panic!("{} migrated but the spec has no row", state.name()));
                    let got = engine.case(case).unwrap().state();
                    assert!(CaseMachine::ROWS[row].to.contains(&got), "{} --migrate--> {}", state.name(), got.name());
                    accepted_rows.insert(row);
                }
                Err(Rejection::InvalidState { .. }) => {
                    assert!(row.is_none(), "{} refused migrate as an invalid state but the spec lists it", state.name())
                }
                Err(e) => {
                    assert!(row.is_some(), "{} refused migrate by a guard ({e}) but the spec has no row", state.name())
                }
            }
        }
    }
    // Every command row of the spec was exercised and accepted at least once.
    for (i, r) in CaseMachine::ROWS.iter().enumerate() {
        if matches!(r.trigger, spec::Trigger::Command(_)) {
            assert!(accepted_rows.contains(&i), "row {r:?} never accepted");
        }
    }
}

fn task_decide_agrees_with_the_spec() {
    // (task state, case builder): each leaves the named task in that state, case in approval.
    let mut h = Hall::new();
    let intake = h.intake.clone();
    let project = h.submit("project", &["design", "safety-plan", "completion-report"], &[]);
    h.ok(project, &intake, Command::Accept);
    let restaurant = h.submit("restaurant", ALL_RESTAURANT, &[]);
    h.ok(restaurant, &intake, Command::Accept);
    let mut cases: Vec<(TaskState, Hall, CaseId, &str, &str)> = Vec::new();
    let snapshot = |h: &Hall| Hall { engine: h.engine.clone(), now: h.now, ..Hall::new() };
    cases.push((TaskState::Waiting, snapshot(&h), restaurant, "food", "market"));
    cases.push((TaskState::Ready, snapshot(&h), restaurant, "licence", "market"));
    cases.push((TaskState::NotApplicable, snapshot(&h), restaurant, "tobacco-retail", "tobacco"));
    h.task(project, "design-review", "planning", TaskCommand::Claim);
    cases.push((TaskState::InReview, snapshot(&h), project, "design-review", "planning"));
    let mut sp = snapshot(&h);
    sp.task(
        project,
        "design-review",
        "planning",
        TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::ExpertReview },
    );
    cases.push((TaskState::SpecialProcedure, sp, project, "design-review", "planning"));
    let mut sim = snapshot(&h);
    sim.task(project, "design-review", "planning", TaskCommand::ApproveSimulated);
    cases.push((TaskState::SimulatedApproved, sim, project, "design-review", "planning"));
    h.approve(restaurant, "licence", "market");
    cases.push((TaskState::Approved, snapshot(&h), restaurant, "licence", "market"));
    h.task(restaurant, "fire-check", "fire", TaskCommand::Claim);
    h.task(restaurant, "fire-check", "fire", TaskCommand::Deny { reason: "不合格".into() });
    cases.push((TaskState::Denied, snapshot(&h), restaurant, "fire-check", "fire"));
    let actions = [
        TaskCommand::Claim,
        TaskCommand::Approve,
        TaskCommand::Deny { reason: "理由".into() },
        TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::Hearing },
        TaskCommand::EndSpecialProcedure,
        TaskCommand::ApproveSimulated,
        TaskCommand::MeetPrecondition { facts_changed: false },
        TaskCommand::Return { to: ReturnTo::Previous, reason: "理由".into() },
        TaskCommand::Urge { note: "请加快".into() },
    ];
    for (state, h, case, item, dept) in cases {
        assert_eq!(h.task_state(case, item), state, "fixture for {}", state.name());
        for action in &actions {
            // 催办 is a leader's (or a supervisor's); everything else the department's.
            let actor = match action {
                TaskCommand::Urge { .. } => Actor::leader("leader-li"),
                _ => reviewer(dept),
            };
            let name = action.name();
            let row = spec::admit::<TaskMachine>(state, action.kind()).ok();
            let ctx = Ctx { now: h.now, actor: &actor };
            let command = Command::Task { item: Id::new(item), action: action.clone() };
            match h.engine.decide(case, &command, &ctx) {
                Ok(()) => assert!(row.is_some(), "task {} accepted `{name}` without a row", state.name()),
                Err(Rejection::InvalidState { .. }) => {
                    assert!(row.is_none(), "task {} refused `{name}` though the spec lists it", state.name())
                }
                Err(e) => assert!(row.is_some() && !e.is_authorization(), "task {} `{name}`: {e}", state.name()),
            }
        }
    }
}

fn ticket_decide_agrees_with_the_spec() {
    use yichuang_core::machine::ticket::{TicketCommand as T, TicketState as S};
    // One ticket in each open state, reached through the engine (a bad rating on a closed case).
    let base = || {
        let mut h = Hall::new();
        let case = h.restaurant_approved();
        let delivery = h.delivery.clone();
        h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Window });
        let applicant = h.applicant.clone();
        h.ok(case, &applicant, Command::Rate { stars: 1 });
        h
    };
    let dept = reviewer("market");
    let sup = Actor::supervisor("s", "supervision");
    let id = TicketId(1);
    let step = |h: &mut Hall, actor: &Actor, c: T| {
        h.engine.execute_ticket(id, &c, &Ctx { now: h.now, actor }).unwrap();
    };
    let submit = T::SubmitRectification { measures: "m".into(), evidence: "e".into() };
    let mut states: Vec<(S, Hall)> = Vec::new();
    states.push((S::Verifying, base()));
    let mut h = base();
    step(&mut h, &dept, T::FixNow);
    states.push((S::Rectifying, h));
    let mut h = base();
    step(&mut h, &dept, T::Appeal { reason: "误评".into() });
    states.push((S::AwaitingSupervision, h));
    let mut h = base();
    step(&mut h, &dept, T::FixNow);
    step(&mut h, &dept, submit.clone());
    states.push((S::AwaitingSupervision, h));
    let mut h = base();
    step(&mut h, &dept, T::FixNow);
    step(&mut h, &dept, submit.clone());
    step(&mut h, &sup, T::Pass);
    states.push((S::FeedingBack, h));
    let mut h = base();
    step(&mut h, &dept, T::FixNow);
    step(&mut h, &dept, submit.clone());
    step(&mut h, &sup, T::Pass);
    step(&mut h, &dept, T::FeedBack { message: "f".into() });
    states.push((S::FollowUp, h));
    let mut closed = base();
    step(&mut closed, &dept, T::Appeal { reason: "误评".into() });
    step(&mut closed, &sup, T::UpholdAppeal);
    states.push((S::Closed, closed));
    let commands = |h: &Hall| {
        let date = h.now.date().add_days(3);
        vec![
            (dept.clone(), T::FixNow),
            (dept.clone(), T::Ledger { deadline: date }),
            (dept.clone(), T::Explain { basis: "b".into() }),
            (dept.clone(), T::Appeal { reason: "r".into() }),
            (dept.clone(), submit.clone()),
            (sup.clone(), T::Pass),
            (sup.clone(), T::Fail { kind: FailKind::Incomplete }),
            (sup.clone(), T::UpholdAppeal),
            (dept.clone(), T::FeedBack { message: "f".into() }),
            (sup.clone(), T::FollowUp { satisfied: true }),
            (sup.clone(), T::FollowUp { satisfied: false }),
        ]
    };
    let mut accepted = std::collections::BTreeSet::new();
    for (state, h) in &states {
        assert_eq!(h.engine.ticket(id).unwrap().state(), *state);
        for (actor, command) in commands(h) {
            let row = spec::admit::<TicketMachine>(*state, command.kind()).ok();
            let mut h2 = Hall { engine: h.engine.clone(), now: h.now, ..Hall::new() };
            match h2.engine.execute_ticket(id, &command, &Ctx { now: h2.now, actor: &actor }) {
                Ok(_) => {
                    let row =
                        row.unwrap_or_else(|| panic!("{} accepted {} without a row", state.name(), command.name()));
                    let got = h2.engine.ticket(id).unwrap().state();
                    let to = TicketMachine::ROWS[row].to;
                    assert!(
                        to.contains(&got),
                        "{} --{}--> {}, the spec says {to:?}",
                        state.name(),
                        command.name(),
                        got.name()
                    );
                    accepted.insert(row);
                }
                Err(Rejection::InvalidState { .. }) => {
                    assert!(row.is_none(), "{} refused {} though the spec lists it", state.name(), command.name())
                }
                Err(e) => assert!(row.is_some() && !e.is_authorization(), "{} {}: {e}", state.name(), command.name()),
            }
        }
    }
    for (i, r) in TicketMachine::ROWS.iter().enumerate() {
        if matches!(r.trigger, spec::Trigger::Command(_)) {
            assert!(accepted.contains(&i), "row {r:?} never accepted");
        }
    }
}

fn section<M: Machine>(intro: &str) -> String {
    format!("## {}\n\n{intro}```mermaid\n{}```\n\n{}", M::TITLE, spec::mermaid::<M>(), spec::markdown::<M>())
}

fn diagrams() -> String {
    format!(
        "# State machines\n\n\
         <!-- Generated by `cargo test -p yichuang-core --test machines` from the specs in \
         `crates/yichuang-core/src/machine/`; do not edit. -->\n\n\
         Each machine's transitions are declared once, as the rows of its spec (`CaseMachine`, \
         `TaskMachine`, `TicketMachine`); the engine's dispatch, these diagrams and tables, and the \
         checker's moves are all derived from them. A command the spec does not declare for a state is \
         refused by construction; the guards (materials complete, the right department …) are ordinary \
         code in each command's handler. ⏱ marks a timer, [brackets] a step that follows from the state \
         without a command.\n\n\
         {}\n{}\n{}",
        section::<CaseMachine>(""),
        section::<TaskMachine>("`NotApplicable` members (情形 not met) start and stay there.\n\n"),
        section::<TicketMachine>(
            "Opened by a bad rating, a complaint, overdue work or an inspection finding; closing always passes \
             through a supervisor outside the responsible department.\n\n"
        ),
    )
}

/// Writes `docs/state-machines.md` when it differs, and fails so that the change is committed.
fn state_diagrams_in_docs_are_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/state-machines.md");
    let want = diagrams();
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have != want {
        std::fs::write(path, &want).unwrap();
        panic!("docs/state-machines.md was out of date and has been regenerated; review and commit it");
    }
}

pub(super) fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!(
        "spec": case_decide_agrees_with_the_spec,
        task_decide_agrees_with_the_spec,
        ticket_decide_agrees_with_the_spec,
        state_diagrams_in_docs_are_current
    )
}
