//! The loop's figures (好评率, 差评整改率 …) and the four lists (四个清单) over tickets that
//! went round 评价 → 反馈 → 整改 → 监督 in the real engine.

#[path = "../../yichuang-core/tests/common/mod.rs"]
mod common;

use common::*;
use yichuang_analysis::metrics::Metrics;
use yichuang_analysis::report::FourLists;
use yichuang_core::*;

fn supervisor() -> Actor {
    Actor::supervisor("s-1", "supervision")
}

/// A closed restaurant case rated `stars`; returns the hall and the ticket it opened, if any.
fn rated(stars: u8) -> (Hall, CaseId, Option<TicketId>) {
    let mut h = Hall::new();
    let case = h.restaurant_approved();
    let delivery = h.delivery.clone();
    h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Window });
    let applicant = h.applicant.clone();
    let events = h.run(case, &applicant, Command::Rate { stars }).unwrap();
    let ticket = events.iter().find_map(|r| match r.stream {
        StreamId::Ticket(t) => Some(t),
        StreamId::Case(_) => None,
    });
    (h, case, ticket)
}

fn tcmd(h: &mut Hall, ticket: TicketId, actor: &Actor, command: TicketCommand) -> Result<Vec<&'static str>, Rejection> {
    let before = h.engine.ticket(ticket).cloned();
    let result = h.engine.execute_ticket(ticket, &command, &Ctx { now: h.now, actor });
    match result {
        Ok(events) => Ok(events.iter().map(|r| r.event.name()).collect()),
        Err(e) => {
            assert_eq!(h.engine.ticket(ticket).cloned(), before, "a refused ticket command changes nothing");
            Err(e)
        }
    }
}

#[test]
fn the_full_loop_needs_an_independent_supervisor() {
    let (mut h, _, ticket) = rated(1);
    let ticket = ticket.unwrap();
    let dept = reviewer("market");
    // Verification belongs to the responsible department.
    let err = tcmd(&mut h, ticket, &reviewer("fire"), TicketCommand::FixNow).unwrap_err();
    assert!(matches!(err, Rejection::WrongDepartment { .. }), "{err}");
    let err = tcmd(&mut h, ticket, &supervisor(), TicketCommand::FixNow).unwrap_err();
    assert!(err.to_string().contains("谁办理谁负责"), "{err}");
    let late = "2026-04-30".parse().unwrap();
    let err = tcmd(&mut h, ticket, &dept, TicketCommand::Ledger { deadline: late }).unwrap_err();
    assert!(err.to_string().contains("2026-03-23"), "ledger deadline at most 15 wd: {err}");
    assert_eq!(
        tcmd(&mut h, ticket, &dept, TicketCommand::Ledger { deadline: "2026-03-20".parse().unwrap() }).unwrap(),
        ["TicketRectifying"]
    );
    let empty = TicketCommand::SubmitRectification { measures: "".into(), evidence: "照片".into() };
    assert!(matches!(tcmd(&mut h, ticket, &dept, empty), Err(Rejection::ReasonRequired { .. })));
    let submit =
        TicketCommand::SubmitRectification { measures: "窗口增设引导员".into(), evidence: "排班表".into() };
    tcmd(&mut h, ticket, &dept, submit.clone()).unwrap();
    // Supervision: not by the department itself, not by a supervisor of that department.
    let err = tcmd(&mut h, ticket, &dept, TicketCommand::Pass).unwrap_err();
    assert!(err.to_string().contains("监督"), "{err}");
    let own = Actor::supervisor("s-2", "market");
    let err = tcmd(&mut h, ticket, &own, TicketCommand::Pass).unwrap_err();
    assert!(err.to_string().contains("回避"), "{err}");
    assert!(matches!(
        tcmd(&mut h, ticket, &supervisor(), TicketCommand::UpholdAppeal),
        Err(Rejection::NotAllowedFor { .. })
    ));
    // A failed supervision: round + 1 and an accountability record.
    assert_eq!(
        tcmd(&mut h, ticket, &supervisor(), TicketCommand::Fail { kind: FailKind::Superficial }).unwrap(),
        ["TicketFailed"]
    );
    let t = h.engine.ticket(ticket).unwrap();
    assert_eq!((t.state(), t.rounds(), t.accountability().len()), (TicketState::Rectifying, 2, 1));
    tcmd(&mut h, ticket, &dept, submit).unwrap();
    tcmd(&mut h, ticket, &supervisor(), TicketCommand::Pass).unwrap();
    // Closing needs feedback and the follow-up visit, in order.
    assert!(matches!(
        tcmd(&mut h, ticket, &supervisor(), TicketCommand::FollowUp { satisfied: true }),
        Err(Rejection::InvalidState { .. })
    ));
    tcmd(&mut h, ticket, &dept, TicketCommand::FeedBack { message: "已整改，欢迎再次评价".into() }).unwrap();
    assert_eq!(
        tcmd(&mut h, ticket, &supervisor(), TicketCommand::FollowUp { satisfied: true }).unwrap(),
        ["TicketClosed"]
    );
    let t = h.engine.ticket(ticket).unwrap();
    assert_eq!((t.state(), t.rounds()), (TicketState::Closed, 2));
    assert!(tcmd(&mut h, ticket, &dept, TicketCommand::FixNow).is_err(), "a closed ticket takes no commands");
    let m = Metrics::measure(&h.engine);
    assert_eq!((m.bad_rating_rectification.count, m.bad_rating_rectification.of), (1, 1));
    assert_eq!(m.bad_rate.percent(), Some(100.0));
    assert_eq!(m.departments["market"].accountability, 1);
}

#[test]
fn an_upheld_appeal_closes_and_excludes_the_rating() {
    let (mut h, _, ticket) = rated(1);
    let ticket = ticket.unwrap();
    let dept = reviewer("market");
    tcmd(&mut h, ticket, &dept, TicketCommand::Appeal { reason: "误评：申请人评价时选错".into() }).unwrap();
    assert!(matches!(tcmd(&mut h, ticket, &supervisor(), TicketCommand::Pass), Err(Rejection::NotAllowedFor { .. })));
    assert_eq!(tcmd(&mut h, ticket, &supervisor(), TicketCommand::UpholdAppeal).unwrap(), ["TicketAppealUpheld"]);
    let t = h.engine.ticket(ticket).unwrap();
    assert!(t.excluded() && t.state() == TicketState::Closed);
    let m = Metrics::measure(&h.engine);
    assert_eq!(m.ratings, 0, "the rating is excluded from statistics");
    assert_eq!(m.bad_rating_rectification.of, 0);
}

#[test]
fn plan_tasks_are_tracked_as_tickets_and_the_four_lists_evaluate_targets() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
    let def = std::sync::Arc::new(Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap());
    let plan = def.plan().expect("the county hall has its plan").clone();
    let mut engine = Engine::new(def.clone());
    let now = t("2026-03-02T10:00");
    let leader = Actor::leader("局长");
    let events = engine.open_plan_tickets(&Ctx { now, actor: &leader }).unwrap();
    assert_eq!(events.len(), 2 * plan.tasks.len(), "opened, then ledgered with the plan's deadline");
    assert!(
        engine.open_plan_tickets(&Ctx { now, actor: &leader }).unwrap().is_empty(),
        "each plan task is tracked once"
    );
    let lists = FourLists::build(&engine, now);
    assert_eq!(lists.tasks.len(), plan.tasks.len());
    assert!(lists.tasks.iter().all(|t| t.status == "in progress"));
    let targets: usize = plan.tasks.iter().map(|t| t.targets.len()).sum();
    assert_eq!(lists.effects.len(), targets);
    assert!(lists.responsibility.iter().any(|r| r.leader.is_some()));
    // Definition-based targets are measured from the definition itself.
    let hf =
        lists.effects.iter().find(|e| e.target.starts_with("high-frequency 一件事")).expect("a high-frequency target");
    let count = def.bundles().iter().filter(|b| b.high_frequency).count();
    assert_eq!(hf.measured, count.to_string());
    let md = lists.to_markdown();
    for heading in ["责任清单", "任务清单", "问题清单", "效果清单"] {
        assert!(md.contains(heading), "{heading} missing");
    }
    assert_eq!(
        lists.to_csv().lines().count(),
        1 + lists.responsibility.len() + lists.tasks.len() + lists.problems.len() + lists.effects.len()
    );
    let after = FourLists::build(&engine, t("2027-01-01T00:00"));
    assert!(after.tasks.iter().any(|t| t.status == "overdue"), "past the deadlines, open plan tasks are overdue");
}

/// The board's period figures count what happened in the period only: two restaurant cases,
/// one delivered and rated 5 on the first day, one corrected, delivered late and rated 1 a day
/// later. Each day sees its own case; the two days together see both.
#[test]
fn period_figures_count_what_happened_in_the_period() {
    use yichuang_analysis::metrics::PeriodKpis;
    let mut h = Hall::new();
    let (intake, delivery, applicant) = (h.intake.clone(), h.delivery.clone(), h.applicant.clone());
    let first = h.restaurant_approved();
    // An electronic certificate: the intake was the only trip.
    h.ok(first, &delivery, Command::Deliver { method: DeliveryMethod::Electronic });
    h.ok(first, &applicant, Command::Rate { stars: 5 });
    let day_one = h.now.date();

    h.now = t("2026-03-03T09:30");
    let second = h.submit("restaurant", &["licence-form"], &[]);
    h.ok(second, &intake, Command::RequestCorrection);
    h.ok(second, &intake, Command::Resubmit { materials: ids(&ALL_RESTAURANT[1..]) });
    h.ok(second, &intake, Command::Accept);
    for (item, dept) in [("licence", "market"), ("food", "market"), ("fire-check", "fire"), ("sign", "urban")] {
        h.approve(second, item, dept);
    }
    h.ok(second, &delivery, Command::Deliver { method: DeliveryMethod::Window });
    h.ok(second, &applicant, Command::Rate { stars: 1 });
    let day_two = h.now.date();

    let one = PeriodKpis::measure(&h.engine, day_one, day_one);
    assert_eq!((one.good_rate.count, one.good_rate.of), (1, 1));
    assert_eq!((one.first_time.count, one.first_time.of), (1, 1));
    assert_eq!(one.bad_rating_rectification.of, 0, "no bad rating on the first day");
    assert_eq!((one.at_most_one_trip.count, one.at_most_one_trip.of), (1, 1));

    let two = PeriodKpis::measure(&h.engine, day_two, day_two);
    assert_eq!((two.good_rate.count, two.good_rate.of), (0, 1));
    assert_eq!((two.first_time.count, two.first_time.of), (0, 1), "corrected once: not a first-time completion");
    assert_eq!((two.bad_rating_rectification.count, two.bad_rating_rectification.of), (0, 1), "its ticket is open");
    assert_eq!(
        (two.at_most_one_trip.count, two.at_most_one_trip.of),
        (0, 1),
        "the correction and the delivery took more trips"
    );

    let both = PeriodKpis::measure(&h.engine, day_one, day_two);
    assert_eq!((both.good_rate.count, both.good_rate.of), (1, 2));
    assert_eq!((both.on_time.count, both.on_time.of), (2, 2));
    let none = PeriodKpis::measure(&h.engine, day_two.add_days(1), day_two.add_days(30));
    assert_eq!((none.good_rate.of, none.on_time.of, none.first_time.of), (0, 0, 0));
}
