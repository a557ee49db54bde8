//! The 评价-反馈-整改-监督 loop: tickets from every source, every transition and rejection,
//! escalation, metrics and the four lists.

mod common;

use common::*;
use yichuang_core::metrics::Metrics;
use yichuang_core::report::FourLists;
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
fn a_bad_rating_opens_one_ticket_routed_to_who_handled_the_case() {
    let (h, case, ticket) = rated(2);
    let tk = h.engine.ticket(ticket.expect("a 2-star rating opens a ticket")).unwrap();
    assert_eq!(tk.source, TicketSource::BadRating { case, stars: 2 });
    assert_eq!((tk.department.as_str(), tk.window.as_ref().map(Id::as_str)), ("market", Some("intake-1")));
    assert_eq!(tk.state, TicketState::Verifying);
    assert_eq!(tk.deadline, Some(t("2026-03-03T17:30")), "verify within 1 working day");
    assert_eq!(h.engine.tickets().len(), 1);
    let (h, _, ticket) = rated(3);
    assert!(ticket.is_none() && h.engine.tickets().is_empty(), "3 stars is a good rating");
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
        Err(Rejection::NotAllowedForItem { .. })
    ));
    // A failed supervision: round + 1 and an accountability record.
    assert_eq!(
        tcmd(&mut h, ticket, &supervisor(), TicketCommand::Fail { kind: FailKind::Superficial }).unwrap(),
        ["TicketFailed"]
    );
    let t = h.engine.ticket(ticket).unwrap();
    assert_eq!((t.state, t.rounds, t.accountability.len()), (TicketState::Rectifying, 2, 1));
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
    assert_eq!((t.state, t.rounds), (TicketState::Closed, 2));
    assert!(tcmd(&mut h, ticket, &dept, TicketCommand::FixNow).is_err(), "a closed ticket takes no commands");
    let m = Metrics::measure(&h.engine);
    assert_eq!((m.bad_rating_rectification.count, m.bad_rating_rectification.of), (1, 1));
    assert_eq!(m.bad_rate.percent(), Some(100.0));
    assert_eq!(m.departments["market"].accountability, 1);
}

#[test]
fn an_unsatisfied_follow_up_reopens_for_another_round() {
    let (mut h, _, ticket) = rated(2);
    let ticket = ticket.unwrap();
    let dept = reviewer("market");
    tcmd(&mut h, ticket, &dept, TicketCommand::FixNow).unwrap();
    tcmd(
        &mut h,
        ticket,
        &dept,
        TicketCommand::SubmitRectification { measures: "道歉".into(), evidence: "记录".into() },
    )
    .unwrap();
    tcmd(&mut h, ticket, &supervisor(), TicketCommand::Pass).unwrap();
    tcmd(&mut h, ticket, &dept, TicketCommand::FeedBack { message: "已处理".into() }).unwrap();
    assert_eq!(
        tcmd(&mut h, ticket, &supervisor(), TicketCommand::FollowUp { satisfied: false }).unwrap(),
        ["TicketReopened"]
    );
    let t = h.engine.ticket(ticket).unwrap();
    assert_eq!((t.state, t.rounds), (TicketState::Rectifying, 2));
    // The earlier pass does not count for the new round: closing needs a new supervision.
    tcmd(
        &mut h,
        ticket,
        &dept,
        TicketCommand::SubmitRectification { measures: "培训".into(), evidence: "签到表".into() },
    )
    .unwrap();
    assert!(matches!(
        tcmd(&mut h, ticket, &dept, TicketCommand::FeedBack { message: "x".into() }),
        Err(Rejection::InvalidState { .. })
    ));
}

#[test]
fn an_upheld_appeal_closes_and_excludes_the_rating() {
    let (mut h, _, ticket) = rated(1);
    let ticket = ticket.unwrap();
    let dept = reviewer("market");
    tcmd(&mut h, ticket, &dept, TicketCommand::Appeal { reason: "误评：申请人评价时选错".into() }).unwrap();
    assert!(matches!(
        tcmd(&mut h, ticket, &supervisor(), TicketCommand::Pass),
        Err(Rejection::NotAllowedForItem { .. })
    ));
    assert_eq!(tcmd(&mut h, ticket, &supervisor(), TicketCommand::UpholdAppeal).unwrap(), ["TicketAppealUpheld"]);
    let t = h.engine.ticket(ticket).unwrap();
    assert!(t.excluded && t.state == TicketState::Closed);
    let m = Metrics::measure(&h.engine);
    assert_eq!(m.ratings, 0, "the rating is excluded from statistics");
    assert_eq!(m.bad_rating_rectification.of, 0);
}

#[test]
fn explanations_go_to_supervision_and_only_bad_ratings_can_be_appealed() {
    let mut h = Hall::new();
    let applicant = h.applicant.clone();
    let source = TicketSource::Complaint {
        target: ComplaintTarget::Window { window: Id::new("intake-1"), department: Id::new("market") },
        case: None,
        text: "窗口要求重复提交材料".into(),
    };
    let (ticket, events) = h.engine.open_ticket(source, &Ctx { now: h.now, actor: &applicant }).unwrap();
    assert_eq!(events[0].event.name(), "TicketOpened");
    let t = h.engine.ticket(ticket).unwrap();
    assert_eq!((t.department.as_str(), t.window.as_ref().map(Id::as_str)), ("market", Some("intake-1")));
    let dept = reviewer("market");
    assert!(matches!(
        tcmd(&mut h, ticket, &dept, TicketCommand::Appeal { reason: "x".into() }),
        Err(Rejection::NotAllowedForItem { .. })
    ));
    assert_eq!(
        tcmd(
            &mut h,
            ticket,
            &dept,
            TicketCommand::Explain { basis: "依据《食品经营许可和备案管理办法》第十条".into() }
        )
        .unwrap(),
        ["TicketSubmitted"]
    );
    assert_eq!(tcmd(&mut h, ticket, &supervisor(), TicketCommand::Pass).unwrap(), ["TicketPassed"]);
    // Complaints need text and known targets; the system does not complain.
    let bad = TicketSource::Complaint {
        target: ComplaintTarget::Department(Id::new("nowhere")),
        case: None,
        text: "x".into(),
    };
    assert!(matches!(
        h.engine.open_ticket(bad, &Ctx { now: h.now, actor: &applicant }),
        Err(Rejection::Unknown { .. })
    ));
    let empty =
        TicketSource::Complaint { target: ComplaintTarget::Department(Id::new("fire")), case: None, text: " ".into() };
    assert!(h.engine.open_ticket(empty, &Ctx { now: h.now, actor: &applicant }).is_err());
    let forged = TicketSource::BadRating { case: CaseId(1), stars: 1 };
    assert!(h.engine.open_ticket(forged, &Ctx { now: h.now, actor: &supervisor() }).unwrap_err().is_authorization());
    assert_eq!(h.engine.tickets().len(), 1, "refused openings open nothing");
}

#[test]
fn overdue_tasks_open_a_supervision_ticket_and_overdue_tickets_escalate() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    // The licence (1 wd) goes overdue at Tuesday 17:30; its ticket goes to the deciding section.
    let fired = h.advance_hours(32);
    let opened: Vec<_> = fired.iter().filter(|r| r.event.name() == "TicketOpened").collect();
    assert_eq!(opened.len(), 1, "{:?}", fired.iter().map(|r| r.event.name()).collect::<Vec<_>>());
    let StreamId::Ticket(ticket) = opened[0].stream else { panic!() };
    let t = h.engine.ticket(ticket).unwrap().clone();
    assert_eq!(t.source, TicketSource::Overdue { case, item: Some(Id::new("licence")) });
    assert_eq!(t.department.as_str(), "market");
    assert_eq!(opened[0].by.role, Role::System);
    // Not verified within a working day: 督办 L1, then 约谈 L2, each with accountability.
    let fired = h.advance_hours(24 * 4);
    let levels: Vec<_> = fired
        .iter()
        .filter(|r| r.stream == ticket.into())
        .filter_map(|r| match r.event {
            Event::TicketEscalated { level, .. } => Some(level),
            _ => None,
        })
        .collect();
    assert_eq!(levels, [1, 2]);
    let t = h.engine.ticket(ticket).unwrap();
    assert_eq!((t.escalation, t.accountability.len()), (2, 2));
    let later = h.advance_hours(24 * 30);
    assert!(
        later.iter().all(|r| r.stream != ticket.into() || !matches!(r.event, Event::TicketEscalated { .. })),
        "L2 is the last level"
    );
    // The case itself went overdue too (8 wd): exactly one ticket for it, against the lead.
    let case_tickets =
        h.engine.tickets().iter().filter(|t| t.source == TicketSource::Overdue { case, item: None }).count();
    assert_eq!(case_tickets, 1);
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

#[test]
fn ticket_logs_replay_to_the_same_state() {
    let (mut h, _, ticket) = rated(1);
    let ticket = ticket.unwrap();
    let mut log = Vec::new();
    let dept = reviewer("market");
    for (actor, cmd) in [
        (dept.clone(), TicketCommand::FixNow),
        (dept.clone(), TicketCommand::SubmitRectification { measures: "m".into(), evidence: "e".into() }),
        (supervisor(), TicketCommand::Pass),
    ] {
        log.extend(h.engine.execute_ticket(ticket, &cmd, &Ctx { now: h.now, actor: &actor }).unwrap());
    }
    let replayed_tail = log.len();
    assert_eq!(replayed_tail, 3);
    // A ticket event in the wrong order is refused at its position.
    let mut engine = Engine::new(h.engine.definition().clone());
    let opened = Recorded {
        v: 1,
        stream: ticket.into(),
        seq: 1,
        at: h.now,
        by: Actor::system(),
        event: Event::TicketOpened {
            source: TicketSource::Inspection { finding: "f".into(), plan_task: None },
            department: Id::new("market"),
            window: None,
            deadline: None,
        },
    };
    engine.apply(0, &opened).unwrap();
    let mut pass = log[2].clone();
    pass.seq = 2;
    assert!(matches!(engine.apply(1, &pass), Err(ReplayError::Illegal { position: 1, .. })));
}

#[test]
fn the_supervision_section_is_never_the_responsible_department() {
    let mut h = Hall::new();
    let applicant = h.applicant.clone();
    let targets = [
        ComplaintTarget::Department(Id::new("supervision")),
        ComplaintTarget::Window { window: Id::new("intake-1"), department: Id::new("supervision") },
        ComplaintTarget::Process { description: "督办太慢".into(), department: Id::new("supervision") },
    ];
    for target in targets {
        let source = TicketSource::Complaint { target, case: None, text: "x".into() };
        let err = h.engine.open_ticket(source, &Ctx { now: h.now, actor: &applicant }).unwrap_err();
        assert_eq!(err.code(), "supervision_not_responsible", "{err}");
        assert!(!err.is_authorization());
        let text = err.to_string();
        assert!(text.contains("回避") && text.contains("`supervision`"), "{text}");
        assert!(text.contains("market") && text.contains("fire") && text.contains("leader"), "{text}");
        assert!(!text.contains("market, supervision") && !text.contains(", supervision"), "{text}");
    }
    assert!(h.engine.tickets().is_empty(), "refused openings open nothing");
}

#[test]
fn a_plan_task_shared_with_supervision_goes_to_the_other_department() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
    let def = std::sync::Arc::new(Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap());
    let mut engine = Engine::new(def);
    let leader = Actor::leader("局长");
    engine.open_plan_tickets(&Ctx { now: t("2026-03-02T10:00"), actor: &leader }).unwrap();
    assert!(!engine.tickets().is_empty());
    assert!(engine.tickets().iter().all(|t| t.department.as_str() != "supervision"), "回避");
    let rating_loop = engine
        .tickets()
        .iter()
        .find(
            |t| matches!(&t.source, TicketSource::Inspection { plan_task: Some(p), .. } if p.as_str() == "rating-loop"),
        )
        .expect("the rating-loop plan task is tracked");
    assert_eq!(rating_loop.department.as_str(), "policy-law");
}

#[test]
fn an_applicant_links_a_complaint_only_to_their_own_cases() {
    let mut h = Hall::new();
    let own = h.restaurant_approved();
    let stranger = Actor::applicant("91330000MA0099");
    let complaint = |case| TicketSource::Complaint {
        target: ComplaintTarget::Department(Id::new("market")),
        case: Some(case),
        text: "排队太久".into(),
    };
    let err = h.engine.open_ticket(complaint(own), &Ctx { now: h.now, actor: &stranger }).unwrap_err();
    assert!(err.is_authorization(), "{err}");
    assert_eq!(err.code(), "not_the_applicant");
    assert!(!err.to_string().contains("91330000MA0001"), "the other applicant is not named: {err}");
    // An unknown case: the applicant is not told which case numbers exist.
    let err = h.engine.open_ticket(complaint(CaseId(9)), &Ctx { now: h.now, actor: &stranger }).unwrap_err();
    assert!(matches!(err, Rejection::Unknown { what: "case", .. }), "{err}");
    assert!(!err.to_string().contains("C000001"), "{err}");
    // Staff see the range; the applicant of the case may link it.
    let err = h.engine.open_ticket(complaint(CaseId(9)), &Ctx { now: h.now, actor: &supervisor() }).unwrap_err();
    assert!(err.to_string().contains("C000001–C000001"), "{err}");
    let applicant = h.applicant.clone();
    h.engine.open_ticket(complaint(own), &Ctx { now: h.now, actor: &applicant }).unwrap();
    assert_eq!(h.engine.tickets().len(), 1);
}
