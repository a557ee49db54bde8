//! The case and task machines through the embedder's API: every transition and rejection.

use super::common::*;
use yichuang_core::event::SlaSubject;
use yichuang_core::machine::sla::SlaLevel;
use yichuang_core::*;
fn restaurant_runs_from_submission_to_closing() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    assert_eq!(h.state(case), CaseState::Received);
    let intake = h.intake.clone();
    let events = h.ok(case, &intake, Command::Accept);
    assert_eq!(events, ["Accepted", "TaskReady"], "only the licence is ready at first");
    assert_eq!(h.task_state(case, "licence"), TaskState::Ready);
    assert_eq!(h.task_state(case, "food"), TaskState::Waiting);
    assert_eq!(h.task_state(case, "tobacco-retail"), TaskState::NotApplicable);
    h.task(case, "licence", "market", TaskCommand::Claim);
    let events = h.task(case, "licence", "market", TaskCommand::Approve);
    assert_eq!(
        events,
        ["TaskApproved", "TaskReady", "TaskReady", "TaskReady"],
        "food, fire and sign start in parallel"
    );
    h.approve(case, "food", "market");
    h.approve(case, "sign", "urban");
    assert_eq!(h.state(case), CaseState::InApproval);
    h.task(case, "fire-check", "fire", TaskCommand::Claim);
    let events = h.task(case, "fire-check", "fire", TaskCommand::Approve);
    assert_eq!(events, ["TaskApproved", "CaseDecided"]);
    assert_eq!(h.state(case), CaseState::ReadyForDelivery);
    assert_eq!(h.engine.case(case).unwrap().outcome(), Some(Outcome::Approved));
    let delivery = h.delivery.clone();
    h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Window });
    let applicant = h.applicant.clone();
    h.ok(case, &applicant, Command::Rate { stars: 5 });
    let c = h.engine.case(case).unwrap();
    assert_eq!(c.state(), CaseState::Closed);
    assert_eq!(c.trips(), 2, "submitted at a window and collected at a window");
}
fn conditional_member_follows_the_form_answer() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "是")]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.approve(case, "licence", "market");
    assert_eq!(h.task_state(case, "tobacco-retail"), TaskState::Ready);
}
fn correction_lists_everything_missing_and_resubmission_resets_receipt() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", &["floor-plan"], &[]);
    let intake = h.intake.clone();
    let err = h.run(case, &intake, Command::Accept).unwrap_err();
    assert!(matches!(err, Rejection::MaterialsIncomplete { .. }), "{err}");
    h.ok(case, &intake, Command::RequestCorrection);
    let c = h.engine.case(case).unwrap();
    assert_eq!(c.state(), CaseState::AwaitingCorrection);
    // id-card is shared (免提交), floor-plan was handed in: the three others are listed at once.
    assert_eq!(c.correction(), ids(&["licence-form", "lease", "health-cert"]));
    h.now = t("2026-03-04T10:00");
    h.ok(case, &intake, Command::Resubmit { materials: ids(&["licence-form", "lease", "health-cert"]) });
    let c = h.engine.case(case).unwrap();
    assert_eq!((c.state(), c.received_at(), c.trips()), (CaseState::Received, Some(t("2026-03-04T10:00")), 2));
    let err = h.run(case, &intake, Command::RequestCorrection).unwrap_err();
    assert_eq!(err, Rejection::NothingMissing);
    h.ok(case, &intake, Command::Accept);
    assert_eq!(h.engine.case(case).unwrap().accepted_as_of(), Some("2026-03-04".parse().unwrap()));
}
fn deemed_acceptance_after_five_working_days_as_of_receipt() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    assert_eq!(h.engine.next_deadline(), Some(t("2026-03-09T17:30")));
    assert!(h.advance_hours(24 * 6).is_empty(), "not yet: due at the close of the fifth working day");
    let fired = h.advance_hours(24 + 8); // Monday 03-09 17:30
    assert_eq!(fired[0].event.name(), "Accepted");
    assert_eq!(fired[0].at, t("2026-03-09T17:30"), "the event carries its due time");
    assert!(matches!(fired[0].event, Event::Accepted { deemed: true, .. }));
    let c = h.engine.case(case).unwrap();
    assert_eq!(c.state(), CaseState::InApproval);
    assert_eq!(c.accepted_as_of(), Some("2026-03-02".parse().unwrap()));
}
fn rejection_needs_a_reason() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    assert!(matches!(
        h.run(case, &intake, Command::Reject { reason: " ".into() }),
        Err(Rejection::ReasonRequired { .. })
    ));
    h.ok(case, &intake, Command::Reject { reason: "不属于本机关职权范围，请向市级部门申请".into() });
    assert_eq!(h.state(case), CaseState::Rejected);
    assert!(matches!(h.run(case, &intake, Command::Accept), Err(Rejection::InvalidState { .. })));
}
fn tolerated_material_blocks_only_the_items_that_need_it() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", &["licence-form", "lease", "floor-plan"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::AcceptTolerating { cure_due: "2026-03-06".parse().unwrap() });
    assert_eq!(h.engine.case(case).unwrap().outstanding(), ids(&["health-cert"]));
    h.approve(case, "licence", "market");
    assert_eq!(h.task_state(case, "fire-check"), TaskState::Ready);
    assert_eq!(h.task_state(case, "food"), TaskState::Waiting, "food needs the tolerated health certificate");
    let applicant = h.applicant.clone();
    let events = h.ok(case, &applicant, Command::Supply { material: Id::new("health-cert") });
    assert_eq!(events, ["MaterialSupplied", "TaskReady"]);
    assert_eq!(h.task_state(case, "food"), TaskState::Ready);
}
fn tolerance_is_refused_with_the_rule_that_applies() {
    let mut h = Hall::new();
    let intake = h.intake.clone();
    let due = "2026-03-06".parse().unwrap();
    let case = h.submit("restaurant", &["licence-form", "floor-plan"], &[]);
    let err = h.run(case, &intake, Command::AcceptTolerating { cure_due: due }).unwrap_err();
    assert!(matches!(&err, Rejection::NotTolerable { missing } if *missing == [Id::new("lease")]), "{err}");
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    assert_eq!(
        h.run(case, &intake, Command::AcceptTolerating { cure_due: due }).unwrap_err(),
        Rejection::NothingToTolerate
    );
    let case = h.submit("restaurant", &["licence-form", "lease", "floor-plan"], &[]);
    let late = "2026-03-13".parse().unwrap(); // promised limit 8 wd from 03-02 ends 03-12
    let err = h.run(case, &intake, Command::AcceptTolerating { cure_due: late }).unwrap_err();
    assert!(err.to_string().contains("2026-03-12"), "{err}");
    let mut s = h.submission("restaurant", &["licence-form", "lease", "floor-plan"], &[]);
    s.applicant.credit_blocked = true;
    let (blocked, _) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
    let err = h.run(blocked, &intake, Command::AcceptTolerating { cure_due: due }).unwrap_err();
    assert!(matches!(err, Rejection::CreditBlocked { .. }), "{err}");
}
fn missed_cure_suspends_then_returns_the_case() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", &["licence-form", "lease", "floor-plan"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::AcceptTolerating { cure_due: "2026-03-04".parse().unwrap() });
    let fired = h.advance_hours(24 * 3);
    assert!(fired.iter().any(|r| r.event == Event::CaseSuspended && r.at == t("2026-03-04T17:30")));
    assert_eq!(h.state(case), CaseState::Suspended);
    let fired = h.advance_hours(24 * 30);
    assert!(fired.iter().any(|r| r.event == Event::CaseReturned));
    assert_eq!(h.state(case), CaseState::Returned);
    assert!(h.engine.case(case).unwrap().tasks().iter().all(|t| t.state().is_terminal()));
}
/// The cure deadline also suspends a decided case: one whose results wait for the cure
/// (待补齐), and one ready for delivery whose item may issue before cure (容缺 still due).
fn a_missed_cure_suspends_a_decided_case_too() {
    // AwaitingCure: the project's design review approved, the permit denied; the tolerated
    // completion report holds the results.
    let mut h = Hall::new();
    let case = h.submit("project", &["design", "safety-plan"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::AcceptTolerating { cure_due: "2026-03-20".parse().unwrap() });
    h.approve(case, "design-review", "planning");
    h.task(case, "permit", "construction", TaskCommand::Claim);
    h.task(case, "permit", "construction", TaskCommand::Deny { reason: "安全措施不足".into() });
    assert_eq!(h.state(case), CaseState::AwaitingCure);
    let fired = h.advance_hours(24 * 19);
    assert!(fired.iter().any(|r| r.event == Event::CaseSuspended), "{fired:?}");
    assert_eq!(h.state(case), CaseState::Suspended);
    assert_eq!(h.engine.case(case).unwrap().suspended().map(|(_, back)| back), Some(CaseState::AwaitingCure));
    // ReadyForDelivery: every member approved, the permit issuing before cure.
    let mut h = Hall::new();
    let case = h.project_tolerated_approved();
    assert_eq!(h.state(case), CaseState::ReadyForDelivery);
    h.advance_hours(24 * 19);
    assert_eq!(h.state(case), CaseState::Suspended);
    assert_eq!(h.engine.case(case).unwrap().suspended().map(|(_, back)| back), Some(CaseState::ReadyForDelivery));
}
/// A task's clock runs while it is in review: the warning and overdue levels fire there too.
fn a_task_in_review_warns_and_goes_overdue() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.task(case, "licence", "market", TaskCommand::Claim);
    assert_eq!(h.task_state(case, "licence"), TaskState::InReview);
    let fired = h.advance_hours(32);
    let levels: Vec<SlaLevel> = fired
        .iter()
        .filter_map(|r| match &r.event {
            Event::SlaLevelChanged { subject: SlaSubject::Task(item), level } if item.as_str() == "licence" => {
                Some(*level)
            }
            _ => None,
        })
        .collect();
    assert_eq!(levels, [SlaLevel::Warning, SlaLevel::Overdue]);
    assert_eq!(h.task_state(case, "licence"), TaskState::InReview, "a level change does not move the task");
}
/// Withdrawal ends tasks in review and in a special procedure alike.
fn withdrawal_ends_tasks_in_review_and_in_a_special_procedure() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.approve(case, "licence", "market");
    h.task(case, "food", "market", TaskCommand::Claim);
    h.task(case, "fire-check", "fire", TaskCommand::Claim);
    h.task(case, "fire-check", "fire", TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::Testing });
    assert_eq!(h.task_state(case, "food"), TaskState::InReview);
    assert_eq!(h.task_state(case, "fire-check"), TaskState::SpecialProcedure);
    let applicant = h.applicant.clone();
    h.ok(case, &applicant, Command::Withdraw);
    assert_eq!(h.task_state(case, "food"), TaskState::Cancelled);
    assert_eq!(h.task_state(case, "fire-check"), TaskState::Cancelled);
    let c = h.engine.case(case).unwrap();
    assert_eq!(c.task("fire-check").unwrap().special_procedure(), None, "the procedure ended with the task");
}
fn supplying_during_suspension_resumes_work() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", &["licence-form", "lease", "floor-plan"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::AcceptTolerating { cure_due: "2026-03-04".parse().unwrap() });
    h.advance_hours(24 * 3);
    assert_eq!(h.state(case), CaseState::Suspended);
    let applicant = h.applicant.clone();
    let events = h.ok(case, &applicant, Command::Supply { material: Id::new("health-cert") });
    assert_eq!(events, ["MaterialSupplied", "CaseResumed"]);
    assert_eq!(h.state(case), CaseState::InApproval);
}
fn a_denial_cancels_only_its_dependents() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.task(case, "licence", "market", TaskCommand::Claim);
    let events = h.task(case, "licence", "market", TaskCommand::Deny { reason: "名称与已登记企业重复".into() });
    assert_eq!(events, ["TaskDenied", "TaskCancelled", "TaskCancelled", "TaskCancelled", "CaseDecided"]);
    assert_eq!(h.engine.case(case).unwrap().outcome(), Some(Outcome::Denied));

    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    h.ok(case, &intake, Command::Accept);
    h.approve(case, "licence", "market");
    h.task(case, "fire-check", "fire", TaskCommand::Claim);
    h.task(case, "fire-check", "fire", TaskCommand::Deny { reason: "疏散通道不符合要求".into() });
    assert_eq!(h.task_state(case, "food"), TaskState::Ready, "an independent branch goes on");
    h.approve(case, "food", "market");
    h.approve(case, "sign", "urban");
    assert_eq!(h.engine.case(case).unwrap().outcome(), Some(Outcome::PartiallyApproved));
    assert_eq!(h.state(case), CaseState::ReadyForDelivery);
}
fn authorization_names_the_rule() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    let err = h.run(case, &reviewer("market"), Command::Accept).unwrap_err();
    assert!(err.to_string().contains("综合受理"), "{err}");
    h.ok(case, &intake, Command::Accept);
    let claim = |item: &str| Command::Task { item: Id::new(item), action: TaskCommand::Claim };
    let err = h.run(case, &reviewer("fire"), claim("licence")).unwrap_err();
    assert!(matches!(err, Rejection::WrongDepartment { .. }) && err.to_string().contains("本部门"), "{err}");
    let err = h.run(case, &intake, claim("licence")).unwrap_err();
    assert!(err.to_string().contains("受审分离"), "{err}");
    assert!(err.is_authorization());
    let err = h.run(case, &Actor::supervisor("s1", "supervision"), claim("licence")).unwrap_err();
    assert!(err.is_authorization(), "{err}");
    let stranger = Actor::applicant("someone-else");
    let err = h.run(case, &stranger, Command::Withdraw).unwrap_err();
    assert!(matches!(err, Rejection::NotTheApplicant { .. }), "{err}");
    let err = h.run(case, &reviewer("market"), Command::Withdraw).unwrap_err();
    assert!(err.is_authorization(), "{err}");
    // Delivery needs a delivery-window clerk; rating needs the applicant.
    let err = h.run(case, &intake, Command::Deliver { method: DeliveryMethod::Post }).unwrap_err();
    assert!(err.to_string().contains("统一出件"), "{err}");
}
fn withdrawal_cancels_open_tasks() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    let applicant = h.applicant.clone();
    h.ok(case, &applicant, Command::Withdraw);
    let c = h.engine.case(case).unwrap();
    assert_eq!(c.state(), CaseState::Withdrawn);
    assert!(c.tasks().iter().all(|t| t.state().is_terminal()));
    assert!(h.engine.clone().next_deadline().is_none(), "a withdrawn case has no timers");
}
/// A simulated approval (模拟审批) awaiting its precondition ends with the case too: its lapse
/// timer goes with it.
fn withdrawal_ends_a_simulated_approval() {
    let mut h = Hall::new();
    let case = h.submit("project", &["design", "safety-plan", "completion-report"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.task(case, "design-review", "planning", TaskCommand::Claim);
    h.task(case, "design-review", "planning", TaskCommand::ApproveSimulated);
    assert_eq!(h.task_state(case, "design-review"), TaskState::SimulatedApproved);
    let applicant = h.applicant.clone();
    h.ok(case, &applicant, Command::Withdraw);
    assert_eq!(h.task_state(case, "design-review"), TaskState::Cancelled);
    assert!(h.engine.case(case).unwrap().task("design-review").unwrap().lapse_due().is_some());
    assert!(h.engine.clone().next_deadline().is_none(), "the lapse timer ended with the case");
}
fn countersign_needs_every_department() {
    let mut h = Hall::new();
    let case = h.submit("project", &["design", "safety-plan", "completion-report"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.approve(case, "design-review", "planning");
    h.approve(case, "permit", "construction");
    h.task(case, "joint-acceptance", "fire", TaskCommand::Claim);
    assert_eq!(h.task(case, "joint-acceptance", "fire", TaskCommand::Approve), ["TaskSigned"]);
    let again = h.run(
        case,
        &reviewer("fire"),
        Command::Task { item: Id::new("joint-acceptance"), action: TaskCommand::Approve },
    );
    assert!(
        matches!(&again, Err(Rejection::AlreadySigned { department, .. }) if department.as_str() == "fire"),
        "{again:?}"
    );
    assert_eq!(again.unwrap_err().code(), "invalid_state");
    assert_eq!(h.task(case, "joint-acceptance", "planning", TaskCommand::Approve), ["TaskSigned"]);
    assert_eq!(
        h.task(case, "joint-acceptance", "construction", TaskCommand::Approve),
        ["TaskSigned", "TaskApproved", "CaseDecided"]
    );
    let err = h.run(
        case,
        &reviewer("market"),
        Command::Task { item: Id::new("joint-acceptance"), action: TaskCommand::Claim },
    );
    assert!(matches!(err, Err(Rejection::InvalidState { .. }) | Err(Rejection::WrongDepartment { .. })));
}
fn stages_gate_the_next_stage_and_simulated_approval_converts() {
    let mut h = Hall::new();
    let case = h.submit("project", &["design", "safety-plan", "completion-report"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    assert_eq!(h.task_state(case, "permit"), TaskState::Waiting, "stage 2 waits for stage 1");
    h.task(case, "design-review", "planning", TaskCommand::Claim);
    h.task(case, "design-review", "planning", TaskCommand::ApproveSimulated);
    assert_eq!(h.task_state(case, "design-review"), TaskState::SimulatedApproved);
    assert_eq!(h.task_state(case, "permit"), TaskState::Waiting, "a simulated result is not yet formal");
    let events = h.task(case, "design-review", "planning", TaskCommand::MeetPrecondition { facts_changed: true });
    assert_eq!(events, ["SimulationReopened"]);
    h.task(case, "design-review", "planning", TaskCommand::ApproveSimulated);
    let events = h.task(case, "design-review", "planning", TaskCommand::MeetPrecondition { facts_changed: false });
    assert_eq!(events, ["SimulationConverted", "TaskApproved", "TaskReady"]);
    // Only items with a precondition may be simulated.
    h.task(case, "permit", "construction", TaskCommand::Claim);
    let err = h.run(
        case,
        &reviewer("construction"),
        Command::Task { item: Id::new("permit"), action: TaskCommand::ApproveSimulated },
    );
    assert!(matches!(err, Err(Rejection::NotAllowedFor { .. })));
}
fn a_lapsed_simulated_approval_cancels_later_stages() {
    let mut h = Hall::new();
    let case = h.submit("project", &["design", "safety-plan", "completion-report"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.task(case, "design-review", "planning", TaskCommand::Claim);
    h.task(case, "design-review", "planning", TaskCommand::ApproveSimulated);
    let fired = h.advance_hours(24 * 60);
    let names: Vec<_> = fired.iter().map(|r| r.event.name()).collect();
    assert!(names.contains(&"TaskLapsed"), "{names:?}");
    assert_eq!(h.task_state(case, "permit"), TaskState::Cancelled);
    assert_eq!(h.engine.case(case).unwrap().outcome(), Some(Outcome::Denied));
}
fn issue_before_cure_delivers_then_revokes_on_a_missed_cure() {
    let mut h = Hall::new();
    let case = h.submit("project", &["design", "completion-report"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::AcceptTolerating { cure_due: "2026-03-27".parse().unwrap() });
    h.approve(case, "design-review", "planning");
    assert_eq!(h.task_state(case, "permit"), TaskState::Ready, "issue-before-cure items are not blocked");
    h.approve(case, "permit", "construction");
    for dept in ["planning", "construction", "fire"] {
        if dept == "planning" {
            h.task(case, "joint-acceptance", dept, TaskCommand::Claim);
        }
        h.task(case, "joint-acceptance", dept, TaskCommand::Approve);
    }
    assert_eq!(h.state(case), CaseState::ReadyForDelivery);
    let delivery = h.delivery.clone();
    h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Electronic });
    let applicant = h.applicant.clone();
    h.ok(case, &applicant, Command::Rate { stars: 4 });
    assert_eq!(h.state(case), CaseState::Delivered, "not closed while the cure is outstanding");
    let fired = h.advance_hours(24 * 30);
    assert!(fired.iter().any(|r| r.event == Event::Revoked));
    assert_eq!(h.state(case), CaseState::Revoked);
}
fn sla_warns_then_goes_overdue_and_special_procedures_stop_the_clock() {
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    // The licence (promised 1 wd) became ready on Monday 03-02: due Tuesday 17:30, warning at
    // 90 % of 420 minutes = 378 minutes into Tuesday → 16:48.
    let fired = h.advance_hours(31); // to Tuesday 16:30
    assert!(fired.is_empty());
    let fired = h.advance_hours(1); // 17:30
    let levels: Vec<_> = fired
        .iter()
        .filter_map(|r| match &r.event {
            Event::SlaLevelChanged { subject: SlaSubject::Task(item), level } => Some((item.to_string(), *level, r.at)),
            _ => None,
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("licence".to_string(), SlaLevel::Warning, t("2026-03-03T16:48")),
            ("licence".to_string(), SlaLevel::Overdue, t("2026-03-03T17:30"))
        ]
    );
    // A special procedure on the next task stops its clock: the deadline moves by the pause.
    h.approve(case, "licence", "market");
    h.task(case, "food", "market", TaskCommand::Claim);
    let sla = h.engine.case(case).unwrap().task("food").unwrap().sla().unwrap();
    let before = sla.deadline(h.engine.definition().calendar()).unwrap();
    h.task(case, "food", "market", TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::Testing });
    h.now = t("2026-03-05T17:30"); // two working days later
    assert!(
        h.engine.advance_to(h.now).iter().all(|r| r.event
            != Event::SlaLevelChanged { subject: SlaSubject::Task(Id::new("food")), level: SlaLevel::Warning })
    );
    h.task(case, "food", "market", TaskCommand::EndSpecialProcedure);
    let sla = h.engine.case(case).unwrap().task("food").unwrap().sla().unwrap();
    let after = sla.deadline(h.engine.definition().calendar()).unwrap();
    assert_eq!(h.engine.definition().calendar().working_minutes_between(before, after).unwrap(), sla.paused_minutes);
    assert!(sla.paused_minutes >= 420, "paused at least one full working day: {}", sla.paused_minutes);
}
fn default_rating_after_the_policy_delay() {
    let mut h = Hall::new();
    let case = h.restaurant_approved();
    let delivery = h.delivery.clone();
    h.ok(case, &delivery, Command::Deliver { method: DeliveryMethod::Post });
    let applicant = h.applicant.clone();
    assert!(matches!(h.run(case, &applicant, Command::Rate { stars: 6 }), Err(Rejection::OutOfRange { .. })));
    let fired = h.advance_hours(24 * 10);
    assert!(fired.iter().any(|r| r.event == Event::Rated { stars: 4, by_default: true }));
    let c = h.engine.case(case).unwrap();
    assert_eq!((c.state(), c.trips()), (CaseState::Closed, 1), "posted results cost no trip");
}
fn consultation_gives_the_notice_and_continues_into_submission() {
    let mut h = Hall::new();
    let consult = Actor::clerk("c-1", "consult-1");
    let applicant = Applicant { id: h.applicant.id.clone(), name: "张三".into(), credit_blocked: false };
    let (case, events) = h
        .engine
        .open(Command::Consult { bundle: Id::new("restaurant"), applicant }, &Ctx { now: h.now, actor: &consult })
        .unwrap();
    let Event::Consulted { notice, .. } = &events[0].event else { panic!("{events:?}") };
    assert!(notice.contains(&Id::new("lease")) && notice.contains(&Id::new("floor-plan")));
    assert_eq!(h.state(case), CaseState::Consulting);
    let s = h.submission("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Submit(Box::new(s)));
    assert_eq!(h.state(case), CaseState::Received);
}
fn unknown_things_are_refused_with_what_is_accepted() {
    let mut h = Hall::new();
    let intake = h.intake.clone();
    let s = h.submission("open-spaceport", &[], &[]);
    let err = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap_err();
    assert!(err.to_string().contains("restaurant, project"), "{err}");
    let s = h.submission("restaurant", &["unicorn"], &[]);
    assert!(h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).is_err());
    let s = h.submission("restaurant", &[], &[("sells-tobacco", "也许")]);
    let err = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap_err();
    assert!(err.to_string().contains("是, 否"), "{err}");
    assert_eq!(h.engine.cases_opened(), 0, "refused openings create no case");
    assert!(h.engine.execute(CaseId(7), Command::Accept, &Ctx { now: h.now, actor: &intake }).is_err());
}
fn a_finished_case_is_compacted_then_retired_and_its_number_stays_taken() {
    let mut h = Hall::new();
    let first = h.restaurant_approved();
    let second = h.restaurant_approved();
    assert!(!h.engine.compact(first), "ready for delivery is not finished: nothing is released");
    assert!(h.engine.retire(first).is_none(), "an open case stays");
    let delivery = h.delivery.clone();
    h.ok(first, &delivery, Command::Deliver { method: DeliveryMethod::Window });
    assert!(h.engine.retire(first).is_none(), "delivered and unrated: the default rating is still to come");
    assert!(h.engine.compact(first), "delivered with nothing outstanding: only the rating is left");
    assert!(h.engine.case(first).unwrap().tasks().is_empty());
    // The compacted case still takes its default rating, and closes.
    let fired = h.advance_hours(24 * 10);
    assert!(fired.iter().any(|r| r.stream == first.into() && r.event.name() == "Rated"));
    assert_eq!(h.state(first), CaseState::Closed);
    let retired = h.engine.retire(first).expect("a closed case without timers retires");
    assert_eq!(retired.id(), first);
    assert_eq!(retired.state(), CaseState::Closed);
    assert!(h.engine.case(first).is_none());
    assert!(h.engine.retire(first).is_none(), "retired once");
    assert_eq!((h.engine.cases_opened(), h.engine.cases_held()), (2, 1));
    assert_eq!(h.engine.cases().map(|c| c.id()).collect::<Vec<_>>(), [second]);
    // Commands naming it are refused as unknown, saying why; the rest of the engine goes on.
    let err = h.run(first, &delivery, Command::Deliver { method: DeliveryMethod::Window }).unwrap_err();
    assert!(err.to_string().contains("retired"), "{err}");
    h.ok(second, &delivery, Command::Deliver { method: DeliveryMethod::Window });
    let third = h.submit("restaurant", ALL_RESTAURANT, &[]);
    assert_eq!(third, CaseId(3), "numbers are never reused");
    assert_eq!(h.engine.cases().map(|c| c.id()).collect::<Vec<_>>(), [second, third]);
}
fn acceptance_is_refused_when_the_calendar_cannot_hold_the_deadline() {
    let mut h = Hall::new();
    h.now = t("2026-12-29T10:00");
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    let intake = h.intake.clone();
    let err = h.run(case, &intake, Command::Accept).unwrap_err();
    assert_eq!(err.code(), "calendar", "{err}");
    assert!(err.to_string().contains("2025–2026") && err.to_string().contains("2027"), "{err}");
    assert_eq!(h.state(case), CaseState::Received, "nothing changed");
    // Inside the calendar the same case is accepted with a deadline.
    let mut h = Hall::new();
    let case = h.submit("restaurant", ALL_RESTAURANT, &[]);
    h.ok(case, &intake, Command::Accept);
    assert!(h.engine.case(case).unwrap().sla().is_some(), "an accepted case has its clock");
}
fn applicant_ids_are_1_to_64_characters_without_control_or_invisible_characters() {
    let h = Hall::new();
    let intake = h.intake.clone();
    let consult = Actor::clerk("c-1", "consult-1");
    // Bidirectional overrides and zero-width characters would let two ids look the same.
    let invisible = ["91000000MA\u{202E}1000000", "9100\u{200B}0000", "\u{2066}x\u{2069}", "x\u{FEFF}"];
    let mut ids = vec![String::new(), "x".repeat(10_000), "x".repeat(65), "a\u{7}b".into(), "   ".into()];
    ids.extend(invisible.map(String::from));
    for id in ids {
        let mut engine = h.engine.clone();
        let mut s = h.submission("restaurant", ALL_RESTAURANT, &[]);
        s.applicant.id = Id::new(&id);
        let err = engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap_err();
        assert_eq!(err.code(), "out_of_range", "{err}");
        assert!(err.to_string().contains("1–64 characters"), "{err}");
        assert!(err.to_string().len() < 400, "the message does not repeat a long id: {err}");
        let applicant = Applicant { id: Id::new(&id), name: "张三".into(), credit_blocked: false };
        let err = engine
            .open(Command::Consult { bundle: Id::new("restaurant"), applicant }, &Ctx { now: h.now, actor: &consult })
            .unwrap_err();
        assert_eq!(err.code(), "out_of_range", "{err}");
        assert_eq!(engine.cases_opened(), 0);
    }
    let mut engine = h.engine.clone();
    let mut s = h.submission("restaurant", ALL_RESTAURANT, &[]);
    s.applicant.id = Id::new(&"9".repeat(64));
    engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
}
fn a_form_answer_error_reads_as_one_sentence() {
    let mut h = Hall::new();
    let intake = h.intake.clone();
    let s = h.submission("restaurant", ALL_RESTAURANT, &[("favourite-colour", "red")]);
    let err = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`favourite-colour` is not a field of the form"), "{text}");
    assert!(!text.contains("is not valid;"), "no second sentence spliced on: {text}");
    assert_eq!(err.code(), "out_of_range");
}

pub(super) fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("engine": restaurant_runs_from_submission_to_closing, conditional_member_follows_the_form_answer, correction_lists_everything_missing_and_resubmission_resets_receipt, deemed_acceptance_after_five_working_days_as_of_receipt, rejection_needs_a_reason, tolerated_material_blocks_only_the_items_that_need_it, tolerance_is_refused_with_the_rule_that_applies, missed_cure_suspends_then_returns_the_case, supplying_during_suspension_resumes_work, a_denial_cancels_only_its_dependents, authorization_names_the_rule, withdrawal_cancels_open_tasks, a_missed_cure_suspends_a_decided_case_too, a_task_in_review_warns_and_goes_overdue, withdrawal_ends_tasks_in_review_and_in_a_special_procedure, withdrawal_ends_a_simulated_approval, countersign_needs_every_department, stages_gate_the_next_stage_and_simulated_approval_converts, a_lapsed_simulated_approval_cancels_later_stages, issue_before_cure_delivers_then_revokes_on_a_missed_cure, sla_warns_then_goes_overdue_and_special_procedures_stop_the_clock, default_rating_after_the_policy_delay, consultation_gives_the_notice_and_continues_into_submission, unknown_things_are_refused_with_what_is_accepted, a_finished_case_is_compacted_then_retired_and_its_number_stays_taken, acceptance_is_refused_when_the_calendar_cannot_hold_the_deadline, applicant_ids_are_1_to_64_characters_without_control_or_invisible_characters, a_form_answer_error_reads_as_one_sentence)
}
