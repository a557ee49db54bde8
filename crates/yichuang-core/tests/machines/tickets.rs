//! The 评价-反馈-整改-监督 loop: tickets from every source, every transition and rejection,
//! escalation, metrics and the four lists.

use super::common::*;
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
fn a_bad_rating_opens_one_ticket_routed_to_who_handled_the_case() {
    let (h, case, ticket) = rated(2);
    let tk = h.engine.ticket(ticket.expect("a 2-star rating opens a ticket")).unwrap();
    assert_eq!(*tk.source(), TicketSource::BadRating { case, stars: 2 });
    assert_eq!((tk.department().as_str(), tk.window().map(Id::as_str)), ("market", Some("intake-1")));
    assert_eq!(tk.state(), TicketState::Verifying);
    assert_eq!(tk.deadline(), Some(t("2026-03-03T17:30")), "verify within 1 working day");
    assert_eq!(h.engine.tickets().len(), 1);
    let (h, _, ticket) = rated(3);
    assert!(ticket.is_none() && h.engine.tickets().is_empty(), "3 stars is a good rating");
}
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
    assert_eq!((t.state(), t.rounds()), (TicketState::Rectifying, 2));
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
    assert_eq!((t.department().as_str(), t.window().map(Id::as_str)), ("market", Some("intake-1")));
    let dept = reviewer("market");
    assert!(matches!(
        tcmd(&mut h, ticket, &dept, TicketCommand::Appeal { reason: "x".into() }),
        Err(Rejection::NotAllowedFor { .. })
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
    assert_eq!(*t.source(), TicketSource::Overdue { case, item: Some(Id::new("licence")) });
    assert_eq!(t.department().as_str(), "market");
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
    assert_eq!((t.escalation(), t.accountability().len()), (2, 2));
    let later = h.advance_hours(24 * 30);
    assert!(
        later.iter().all(|r| r.stream != ticket.into() || !matches!(r.event, Event::TicketEscalated { .. })),
        "L2 is the last level"
    );
    // The case itself went overdue too (8 wd): exactly one ticket for it, against the lead.
    let case_tickets =
        h.engine.tickets().iter().filter(|t| *t.source() == TicketSource::Overdue { case, item: None }).count();
    assert_eq!(case_tickets, 1);
}
/// A ticket in rectification escalates when its rectification deadline passes (督办 L1, 约谈 L2).
fn an_overdue_rectification_escalates() {
    let (mut h, _, ticket) = rated(1);
    let ticket = ticket.unwrap();
    let dept = reviewer("market");
    let deadline = h.now.date().add_days(2);
    tcmd(&mut h, ticket, &dept, TicketCommand::Ledger { deadline }).unwrap();
    assert_eq!(h.engine.ticket(ticket).unwrap().state(), TicketState::Rectifying);
    let fired = h.advance_hours(24 * 4);
    let escalated: Vec<u8> = fired
        .iter()
        .filter(|r| r.stream == ticket.into())
        .filter_map(|r| match r.event {
            Event::TicketEscalated { level, .. } => Some(level),
            _ => None,
        })
        .collect();
    assert_eq!(escalated.first(), Some(&1), "{fired:?}");
    let t = h.engine.ticket(ticket).unwrap();
    assert_eq!(t.state(), TicketState::Rectifying, "escalation keeps the ticket where it is");
    assert!(t.accountability().iter().any(|a| a.reason.contains("督办")));
}
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
fn a_plan_task_shared_with_supervision_goes_to_the_other_department() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
    let def = std::sync::Arc::new(Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap());
    let mut engine = Engine::new(def);
    let leader = Actor::leader("局长");
    engine.open_plan_tickets(&Ctx { now: t("2026-03-02T10:00"), actor: &leader }).unwrap();
    assert!(!engine.tickets().is_empty());
    assert!(engine.tickets().iter().all(|t| t.department().as_str() != "supervision"), "回避");
    let rating_loop = engine
        .tickets()
        .iter()
        .find(
            |t| matches!(&t.source(), TicketSource::Inspection { plan_task: Some(p), .. } if p.as_str() == "rating-loop"),
        )
        .expect("the rating-loop plan task is tracked");
    assert_eq!(rating_loop.department().as_str(), "policy-law");
}
fn an_applicant_links_a_complaint_only_to_their_own_cases() {
    let mut h = Hall::new();
    let own = h.restaurant_approved();
    let stranger = Actor::applicant("91330000MA0099");
    let complaint = |case| TicketSource::Complaint {
        target: ComplaintTarget::Department(Id::new("market")),
        case: Some(case),
        text: "排队太久".into(),
    };
    // Someone else's case and a case that does not exist read alike: the applicant learns
    // neither that the case exists nor whose it is.
    let foreign = h.engine.open_ticket(complaint(own), &Ctx { now: h.now, actor: &stranger }).unwrap_err();
    let missing = h.engine.open_ticket(complaint(CaseId(9)), &Ctx { now: h.now, actor: &stranger }).unwrap_err();
    assert!(matches!(foreign, Rejection::UnknownCase { .. }), "{foreign}");
    assert_eq!(foreign.code(), missing.code());
    assert_eq!(foreign.to_string().replace("C000001", "C000009"), missing.to_string());
    assert!(!foreign.to_string().contains("91330000MA0001"), "the other applicant is not named: {foreign}");
    assert!(!missing.to_string().contains("C000001"), "{missing}");
    // Staff see the range; the applicant of the case may link it.
    let err = h.engine.open_ticket(complaint(CaseId(9)), &Ctx { now: h.now, actor: &supervisor() }).unwrap_err();
    assert!(err.to_string().contains("C000001–C000001"), "{err}");
    let applicant = h.applicant.clone();
    h.engine.open_ticket(complaint(own), &Ctx { now: h.now, actor: &applicant }).unwrap();
    assert_eq!(h.engine.tickets().len(), 1);
}

pub(super) fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("tickets": a_bad_rating_opens_one_ticket_routed_to_who_handled_the_case, an_unsatisfied_follow_up_reopens_for_another_round, explanations_go_to_supervision_and_only_bad_ratings_can_be_appealed, overdue_tasks_open_a_supervision_ticket_and_overdue_tickets_escalate, an_overdue_rectification_escalates, ticket_logs_replay_to_the_same_state, the_supervision_section_is_never_the_responsible_department, a_plan_task_shared_with_supervision_goes_to_the_other_department, an_applicant_links_a_complaint_only_to_their_own_cases)
}
