//! Review levels (分级审批), 退回 and 催办 through the embedder's API: each level signed by a
//! different person (受审分离), the last one by a leader where the item says so, returns that
//! void the returned levels' signatures, the level limit, and who may urge.

use super::common::*;
use yichuang_core::machine::sla::SlaLevel;
use yichuang_core::*;

const ITEM: &str = "hygiene-permit";

fn leader(id: &str) -> Actor {
    Actor::leader(id)
}

fn market(id: &str) -> Actor {
    Actor::reviewer(id, "market")
}

fn act(action: TaskCommand) -> Command {
    Command::Task { item: Id::new(ITEM), action }
}

/// A 卫生许可 case, accepted: the permit is ready at its first level (承办).
fn accepted(h: &mut Hall) -> CaseId {
    let case = h.submit("hygiene", &["floor-plan"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    assert_eq!(h.task_state(case, ITEM), TaskState::Ready);
    case
}

fn names(events: &[Recorded]) -> Vec<&'static str> {
    events.iter().map(|r| r.event.name()).collect()
}

fn task(h: &Hall, case: CaseId) -> Task {
    h.engine.case(case).unwrap().task(ITEM).unwrap().clone()
}

/// Signs the current level: `who` claims and approves.
fn sign(h: &mut Hall, case: CaseId, who: &Actor) -> Vec<&'static str> {
    h.ok(case, who, act(TaskCommand::Claim));
    h.ok(case, who, act(TaskCommand::Approve))
}

fn three_levels_are_signed_by_three_people() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    let sla_start = task(&h, case).sla().unwrap().start;
    assert_eq!(sign(&mut h, case, &market("wang")), ["TaskLevelSigned"]);
    let t = task(&h, case);
    assert_eq!((t.state(), t.level(), t.signers()), (TaskState::Ready, 1, &[Id::new("wang")][..]));
    assert_eq!(t.reviewer(), None, "the next level's reviewer claims it from the queue");
    assert_eq!(t.sla().unwrap().start, sla_start, "the task's promise covers every level: its clock runs on");
    // 受审分离: the 承办 may not sign 审核 too.
    let refused = h.run(case, &market("wang"), act(TaskCommand::Claim)).unwrap_err();
    assert!(matches!(refused, Rejection::SignedEarlierLevel { .. }), "{refused}");
    assert!(refused.is_authorization(), "a service answers 403");
    assert_eq!(refused.code(), "signed_earlier_level");
    let text = refused.to_string();
    assert!(text.contains("受审分离") && text.contains("承办") && text.contains("审核"), "{text}");
    assert_eq!(sign(&mut h, case, &market("li")), ["TaskLevelSigned"]);
    // 批准 is a leader's level: a reviewer may not claim it, a leader may.
    let refused = h.run(case, &market("zhao"), act(TaskCommand::Claim)).unwrap_err();
    assert!(matches!(refused, Rejection::RoleNotAllowed { .. }) && refused.is_authorization(), "{refused}");
    assert!(refused.to_string().contains("leader"), "{refused}");
    assert_eq!(sign(&mut h, case, &leader("leader-chen")), ["TaskApproved", "CaseDecided"]);
    let t = task(&h, case);
    assert_eq!((t.state(), t.level()), (TaskState::Approved, 2));
    assert_eq!(t.signers(), &[Id::new("wang"), Id::new("li")]);
    assert_eq!(h.state(case), CaseState::ReadyForDelivery);
}

fn a_leader_who_is_not_the_last_level_signer_is_refused_below_it() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    let refused = h.run(case, &leader("leader-chen"), act(TaskCommand::Claim)).unwrap_err();
    assert!(matches!(refused, Rejection::WrongDepartment { .. } | Rejection::RoleNotAllowed { .. }), "{refused}");
    assert!(refused.is_authorization());
}

fn only_the_last_level_decides() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    h.ok(case, &market("wang"), act(TaskCommand::Claim));
    let refused = h.run(case, &market("wang"), act(TaskCommand::Deny { reason: "不符合条件".into() })).unwrap_err();
    assert!(
        matches!(refused, Rejection::NotAllowedFor { rule, .. } if rule.contains("分级审批")),
        "a level below the last passes the task on or returns it: {refused}"
    );
    assert!(!refused.is_authorization());
}

fn a_return_goes_back_a_level_and_voids_its_signature() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    sign(&mut h, case, &market("wang"));
    h.ok(case, &market("li"), act(TaskCommand::Claim));
    let back = TaskCommand::Return { to: ReturnTo::Previous, reason: "现场照片不清晰".into() };
    let events = h.run(case, &market("li"), act(back)).unwrap();
    assert_eq!(names(&events), ["TaskReturned"]);
    let t = task(&h, case);
    assert_eq!((t.state(), t.level(), t.signers()), (TaskState::Ready, 0, &[][..]), "承办's signature is void");
    // The 承办 signs again; the 审核 who returned it may now sign 审核.
    assert_eq!(sign(&mut h, case, &market("wang")), ["TaskLevelSigned"]);
    assert_eq!(sign(&mut h, case, &market("li")), ["TaskLevelSigned"]);
    // From 批准 back to the first level: both signatures void.
    h.ok(case, &leader("leader-chen"), act(TaskCommand::Claim));
    let first = TaskCommand::Return { to: ReturnTo::First, reason: "请重新核查经营面积".into() };
    assert_eq!(h.ok(case, &leader("leader-chen"), act(first)), ["TaskReturned"]);
    let t = task(&h, case);
    assert_eq!((t.state(), t.level(), t.signers().len()), (TaskState::Ready, 0, 0));
    // Someone else may sign 承办 this time; the case finishes.
    sign(&mut h, case, &market("sun"));
    sign(&mut h, case, &market("wang"));
    assert_eq!(sign(&mut h, case, &leader("leader-chen")), ["TaskApproved", "CaseDecided"]);
}

fn a_return_is_refused_at_the_first_level_and_without_a_reason() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    h.ok(case, &market("wang"), act(TaskCommand::Claim));
    let back = |reason: &str| act(TaskCommand::Return { to: ReturnTo::Previous, reason: reason.into() });
    let refused = h.run(case, &market("wang"), back("理由")).unwrap_err();
    assert!(matches!(refused, Rejection::NotAllowedFor { rule, .. } if rule.contains("退回")), "{refused}");
    h.ok(case, &market("wang"), act(TaskCommand::Approve));
    h.ok(case, &market("li"), act(TaskCommand::Claim));
    let refused = h.run(case, &market("li"), back("  ")).unwrap_err();
    assert!(matches!(refused, Rejection::ReasonRequired { .. }), "{refused}");
    // A queued task is returned only once claimed (the spec: Return from InReview).
    let mut h = Hall::new();
    let case = accepted(&mut h);
    let refused = h.run(case, &market("wang"), back("理由")).unwrap_err();
    assert!(matches!(refused, Rejection::InvalidState { .. }), "{refused}");
}

fn leaders_and_supervisors_urge_reviewers_do_not() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    let urge = |note: &str| act(TaskCommand::Urge { note: note.into() });
    assert_eq!(h.ok(case, &leader("leader-chen"), urge("请今天办结")), ["TaskUrged"]);
    h.ok(case, &market("wang"), act(TaskCommand::Claim));
    assert_eq!(h.ok(case, &Actor::supervisor("sup-1", "supervision"), urge("")), ["TaskUrged"]);
    assert_eq!(task(&h, case).urged(), 2);
    let refused = h.run(case, &market("li"), urge("快点")).unwrap_err();
    assert!(matches!(refused, Rejection::RoleNotAllowed { rule, .. } if rule.contains("催办")), "{refused}");
    // Only a task in a queue or in review is urged.
    let mut h = Hall::new();
    let restaurant = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(restaurant, &intake, Command::Accept);
    let waiting = Command::Task { item: Id::new("food"), action: TaskCommand::Urge { note: String::new() } };
    let refused = h.run(restaurant, &leader("leader-chen"), waiting).unwrap_err();
    assert!(matches!(refused, Rejection::InvalidState { .. }), "{refused}");
}

fn a_level_over_its_limit_warns_then_goes_overdue() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    assert!(task(&h, case).level_sla().is_none(), "承办 has no limit of its own");
    sign(&mut h, case, &market("wang"));
    let clock = task(&h, case).level_sla().cloned().expect("审核 has a limit of 2 working days");
    assert_eq!(clock.level, SlaLevel::Normal);
    // Claimed, then left lying: the level warns, then goes overdue at the close of its second
    // working day, while the task's 5-day promise is still kept.
    h.ok(case, &market("li"), act(TaskCommand::Claim));
    let fired = h.advance_hours(24 * 3);
    let level_events: Vec<SlaLevel> = fired
        .iter()
        .filter_map(|r| match &r.event {
            Event::TaskLevelSlaChanged { level: 1, to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(level_events, [SlaLevel::Warning, SlaLevel::Overdue]);
    let overdue_at = fired.iter().rev().find(|r| matches!(r.event, Event::TaskLevelSlaChanged { .. })).unwrap().at;
    assert_eq!(overdue_at, h.engine.definition().calendar().office_close("2026-03-04".parse().unwrap()));
    assert_eq!(task(&h, case).sla().unwrap().level, SlaLevel::Normal, "the task's own promise is still kept");
    // The queue wait counts too: after a return, the level's clock starts afresh.
    let back = TaskCommand::Return { to: ReturnTo::Previous, reason: "补充说明".into() };
    h.ok(case, &market("li"), act(back));
    assert!(task(&h, case).level_sla().is_none());
    sign(&mut h, case, &market("wang"));
    assert_eq!(task(&h, case).level_sla().unwrap().level, SlaLevel::Normal);
}

fn levels_replay_to_the_same_state() {
    let mut h = Hall::new();
    let s = h.submission("hygiene", &["floor-plan"], &[]);
    let intake = h.intake.clone();
    let (case, mut log) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
    let steps = [
        (intake.clone(), Command::Accept),
        (market("wang"), act(TaskCommand::Claim)),
        (market("wang"), act(TaskCommand::Approve)),
        (market("li"), act(TaskCommand::Claim)),
        (market("li"), act(TaskCommand::Return { to: ReturnTo::First, reason: "重新核查".into() })),
        (leader("leader-chen"), act(TaskCommand::Urge { note: "加快".into() })),
        (market("wang"), act(TaskCommand::Claim)),
        (market("wang"), act(TaskCommand::Approve)),
    ];
    for (who, command) in steps {
        log.extend(h.run(case, &who, command).unwrap());
    }
    log.extend(h.advance_hours(24 * 3));
    let replayed = Engine::replay(h.engine.definition().clone(), &log).unwrap();
    assert_eq!(replayed.case(case), h.engine.case(case));
    assert_eq!(invariants::replay(&h.engine, &log), Ok(()));
    let t = task(&h, case);
    assert_eq!((t.level(), t.urged()), (1, 1));
    assert_eq!(t.level_sla().unwrap().level, SlaLevel::Overdue);
}

pub(super) fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("levels": three_levels_are_signed_by_three_people, a_leader_who_is_not_the_last_level_signer_is_refused_below_it, only_the_last_level_decides, a_return_goes_back_a_level_and_voids_its_signature, a_return_is_refused_at_the_first_level_and_without_a_reason, leaders_and_supervisors_urge_reviewers_do_not, a_level_over_its_limit_warns_then_goes_overdue, levels_replay_to_the_same_state)
}
