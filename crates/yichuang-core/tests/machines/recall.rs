//! 撤回 / 拿回 (recall) through the embedder's API: the signer takes back its own approval while
//! no dependent has been claimed, and the dependents that became ready wait again; after a
//! dependent was claimed the recall is refused naming the rule; a countersigning department
//! takes back its own signature, before or after the set completed; the anchors' failures
//! (flowable #3999: a withdraw inside a department's multi-signer task) do not happen here.

use super::common::*;
use yichuang_core::fault::{self, Fault};
use yichuang_core::invariants::{self, Violation};
use yichuang_core::*;

fn act(item: &str, action: TaskCommand) -> Command {
    Command::Task { item: Id::new(item), action }
}

fn names(events: &[Recorded]) -> Vec<&'static str> {
    events.iter().map(|r| r.event.name()).collect()
}

fn task(h: &Hall, case: CaseId, item: &str) -> Task {
    h.engine.case(case).unwrap().task(item).unwrap().clone()
}

/// A restaurant case whose business licence `r-market` approved: food, fire-check and sign are
/// ready.
fn licence_approved(h: &mut Hall) -> CaseId {
    let case = h.submit("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.approve(case, "licence", "market");
    for item in ["food", "fire-check", "sign"] {
        assert_eq!(h.task_state(case, item), TaskState::Ready);
    }
    case
}

/// The invariants of the case's state (3: task order and levels; 5: deadlines).
fn holds(h: &Hall, case: CaseId) {
    let c = h.engine.case(case).unwrap();
    let def = h.engine.definition_of(c);
    invariants::task_order(def, c).unwrap_or_else(|v| panic!("{v}"));
    invariants::deadlines(def, c).unwrap_or_else(|v| panic!("{v}"));
}

fn a_recall_before_any_dependent_was_claimed_sends_the_dependents_back_to_waiting() {
    let mut h = Hall::new();
    let case = licence_approved(&mut h);
    h.advance_hours(2);
    let events = h.run(case, &reviewer("market"), act("licence", TaskCommand::Recall)).unwrap();
    assert_eq!(names(&events), ["TaskRecalled", "TaskUnready", "TaskUnready", "TaskUnready"]);
    let licence = task(&h, case, "licence");
    assert_eq!((licence.state(), licence.reviewer()), (TaskState::InReview, Some(&Id::new("r-market"))));
    assert_eq!(licence.approver(), None, "the signature is void");
    assert!(!licence.sla().unwrap().stopped, "the task's clock runs again");
    for item in ["food", "fire-check", "sign"] {
        let t = task(&h, case, item);
        assert_eq!(t.state(), TaskState::Waiting, "{item}");
        assert!(t.sla().is_none(), "{item}: its queue clock is gone; it starts afresh when ready");
    }
    holds(&h, case);
    // Approved again: the dependents are ready again, with fresh clocks.
    assert_eq!(
        h.task(case, "licence", "market", TaskCommand::Approve),
        ["TaskApproved", "TaskReady", "TaskReady", "TaskReady"]
    );
    assert!(task(&h, case, "food").sla().is_some_and(|s| !s.stopped), "a fresh clock");
    holds(&h, case);
}

fn a_recall_after_a_dependent_was_claimed_is_refused_naming_the_rule() {
    let mut h = Hall::new();
    let case = licence_approved(&mut h);
    h.task(case, "fire-check", "fire", TaskCommand::Claim);
    let refused = h.run(case, &reviewer("market"), act("licence", TaskCommand::Recall)).unwrap_err();
    assert!(
        matches!(&refused, Rejection::RecallAfterClaim { dependent, .. } if dependent.as_str() == "fire-check"),
        "{refused}"
    );
    assert_eq!(refused.code(), "recall_after_claim");
    assert!(!refused.is_authorization() && !refused.is_not_found(), "a service answers 422");
    assert!(refused.to_string().contains("撤回"), "{refused}");
    // A claim that was returned to the queue still counts: the dependent was worked on.
    let mut h = Hall::new();
    let case = licence_approved(&mut h);
    h.approve(case, "food", "market");
    let refused = h.run(case, &reviewer("market"), act("licence", TaskCommand::Recall)).unwrap_err();
    assert!(matches!(refused, Rejection::RecallAfterClaim { .. }), "{refused}");
}

fn only_the_signer_recalls() {
    let mut h = Hall::new();
    let case = licence_approved(&mut h);
    for stranger in [Actor::reviewer("r-other", "market"), reviewer("fire"), h.applicant.clone(), Actor::leader("l-1")]
    {
        let refused = h.run(case, &stranger, act("licence", TaskCommand::Recall)).unwrap_err();
        assert!(refused.is_authorization(), "{stranger:?}: {refused}");
    }
    let refused = h.run(case, &Actor::reviewer("r-other", "market"), act("licence", TaskCommand::Recall)).unwrap_err();
    assert!(refused.to_string().contains("only the signer"), "{refused}");
}

fn a_recall_is_refused_where_nothing_is_signed() {
    let mut h = Hall::new();
    let case = licence_approved(&mut h);
    // In review without a signature at its level (a single department): nothing to take back.
    h.task(case, "food", "market", TaskCommand::Claim);
    let refused = h.run(case, &reviewer("market"), act("food", TaskCommand::Recall)).unwrap_err();
    assert!(matches!(refused, Rejection::NotAllowedFor { rule, .. } if rule.contains("撤回")), "{refused}");
    // Ready or waiting: the spec declares no recall there.
    let refused = h.run(case, &reviewer("fire"), act("fire-check", TaskCommand::Recall)).unwrap_err();
    assert!(matches!(refused, Rejection::InvalidState { .. }), "{refused}");
    // Decided: the case is no longer in approval.
    let mut h = Hall::new();
    let case = h.restaurant_approved();
    let refused = h.run(case, &reviewer("urban"), act("sign", TaskCommand::Recall)).unwrap_err();
    assert!(matches!(refused, Rejection::InvalidState { .. }), "{refused}");
}

/// The recall bundle accepted: the levelled hygiene permit, the joint acceptance
/// (countersign by planning, construction, fire) and the tobacco licence after both.
fn recall_case(h: &mut Hall) -> CaseId {
    let case = h.submit("recall", &["floor-plan", "completion-report"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    case
}

fn sign_levels(h: &mut Hall, case: CaseId) {
    for who in [Actor::reviewer("wang", "market"), Actor::reviewer("li", "market"), Actor::leader("leader-chen")] {
        h.ok(case, &who, act("hygiene-permit", TaskCommand::Claim));
        h.ok(case, &who, act("hygiene-permit", TaskCommand::Approve));
    }
}

fn a_recall_inside_a_countersign_set() {
    let mut h = Hall::new();
    let case = recall_case(&mut h);
    let joint = |a| act("joint-acceptance", a);
    h.task(case, "joint-acceptance", "fire", TaskCommand::Claim);
    assert_eq!(h.task(case, "joint-acceptance", "fire", TaskCommand::Approve), ["TaskSigned"]);
    // Before the set completes: fire takes back its own signature; nobody else may.
    let refused = h.run(case, &reviewer("planning"), joint(TaskCommand::Recall)).unwrap_err();
    assert!(refused.is_authorization(), "planning has not signed: {refused}");
    assert_eq!(h.ok(case, &reviewer("fire"), joint(TaskCommand::Recall)), ["TaskRecalled"]);
    let t = task(&h, case, "joint-acceptance");
    assert_eq!((t.state(), t.signed()), (TaskState::InReview, 0));
    let refused = h.run(case, &reviewer("fire"), joint(TaskCommand::Recall)).unwrap_err();
    assert!(refused.is_authorization(), "a signature is taken back once: {refused}");
    // After: every department signed, the set approved, the tobacco licence ready (the permit approved
    // too); planning takes back its signature: the set is in review again, the tobacco licence waits.
    sign_levels(&mut h, case);
    for dept in ["fire", "planning", "construction"] {
        h.task(case, "joint-acceptance", dept, TaskCommand::Approve);
    }
    assert_eq!(h.task_state(case, "joint-acceptance"), TaskState::Approved);
    assert_eq!(h.task_state(case, "tobacco-retail"), TaskState::Ready);
    let events = h.run(case, &reviewer("planning"), joint(TaskCommand::Recall)).unwrap();
    assert_eq!(names(&events), ["TaskRecalled", "TaskUnready"]);
    let t = task(&h, case, "joint-acceptance");
    assert_eq!(t.state(), TaskState::InReview);
    assert_eq!(t.signed(), 0b110, "construction's and fire's signatures stand; planning's is void");
    assert_eq!(h.task_state(case, "tobacco-retail"), TaskState::Waiting);
    holds(&h, case);
    // Planning signs again: the set is approved, the tobacco licence is ready again; nothing stuck.
    assert_eq!(
        h.task(case, "joint-acceptance", "planning", TaskCommand::Approve),
        ["TaskSigned", "TaskApproved", "TaskReady"]
    );
    h.approve(case, "tobacco-retail", "tobacco");
    assert_eq!(h.state(case), CaseState::ReadyForDelivery);
}

fn a_withdraw_inside_a_departments_multi_signer_task_does_not_fail() {
    // flowable #3999: a withdraw inside a multi-instance department subprocess fails with "No
    // outgoing sequence flow". Here: three people of one department (and its leader) sign the
    // permit's levels; the leader takes the approval back, and the task is in review at 批准
    // with the lower levels' signatures standing.
    let mut h = Hall::new();
    let case = recall_case(&mut h);
    sign_levels(&mut h, case);
    assert_eq!(h.task_state(case, "hygiene-permit"), TaskState::Approved);
    let refused =
        h.run(case, &Actor::reviewer("li", "market"), act("hygiene-permit", TaskCommand::Recall)).unwrap_err();
    assert!(refused.is_authorization(), "li signed 审核, not the approval: {refused}");
    assert_eq!(h.ok(case, &Actor::leader("leader-chen"), act("hygiene-permit", TaskCommand::Recall)), ["TaskRecalled"]);
    let t = task(&h, case, "hygiene-permit");
    assert_eq!((t.state(), t.level(), t.signers().len()), (TaskState::InReview, 2, 2));
    assert_eq!(t.reviewer(), Some(&Id::new("leader-chen")));
    holds(&h, case);
    // The leader may return it, or approve again.
    let back = TaskCommand::Return { to: ReturnTo::Previous, reason: "请复核经营面积".into() };
    assert_eq!(h.ok(case, &Actor::leader("leader-chen"), act("hygiene-permit", back)), ["TaskReturned"]);
    h.ok(case, &Actor::reviewer("li", "market"), act("hygiene-permit", TaskCommand::Claim));
    h.ok(case, &Actor::reviewer("li", "market"), act("hygiene-permit", TaskCommand::Approve));
    h.ok(case, &Actor::leader("leader-chen"), act("hygiene-permit", TaskCommand::Claim));
    assert_eq!(
        h.ok(case, &Actor::leader("leader-chen"), act("hygiene-permit", TaskCommand::Approve)),
        ["TaskApproved"]
    );
    holds(&h, case);
}

fn recalls_replay_to_the_same_state() {
    let mut h = Hall::new();
    let ctx_now = h.now;
    let s = h.submission("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    let intake = h.intake.clone();
    let (case, mut log) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: ctx_now, actor: &intake }).unwrap();
    let steps = [
        (intake.clone(), Command::Accept),
        (reviewer("market"), act("licence", TaskCommand::Claim)),
        (reviewer("market"), act("licence", TaskCommand::Approve)),
        (reviewer("market"), act("licence", TaskCommand::Recall)),
        (reviewer("market"), act("licence", TaskCommand::Approve)),
    ];
    for (actor, command) in steps {
        log.extend(h.run(case, &actor, command).unwrap());
    }
    let replayed = Engine::replay(definition(), &log).unwrap();
    assert_eq!(replayed.case(case), h.engine.case(case));
    invariants::replay(&h.engine, &log).unwrap();
}

fn a_recall_that_leaves_a_dependent_ready_is_caught_by_invariant_3() {
    let mut h = Hall::new();
    let case = licence_approved(&mut h);
    let _fault = fault::inject(Fault::RecallLeavesDependentReady);
    let events = h.run(case, &reviewer("market"), act("licence", TaskCommand::Recall)).unwrap();
    assert_eq!(names(&events), ["TaskRecalled"], "the broken rule leaves food, fire-check and sign ready");
    let c = h.engine.case(case).unwrap();
    let caught = invariants::task_order(h.engine.definition_of(c), c).unwrap_err();
    assert!(matches!(caught, Violation::StartedBeforePredecessor { .. }), "{caught}");
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("recall":
        a_recall_before_any_dependent_was_claimed_sends_the_dependents_back_to_waiting,
        a_recall_after_a_dependent_was_claimed_is_refused_naming_the_rule,
        only_the_signer_recalls,
        a_recall_is_refused_where_nothing_is_signed,
        a_recall_inside_a_countersign_set,
        a_withdraw_inside_a_departments_multi_signer_task_does_not_fail,
        recalls_replay_to_the_same_state,
        a_recall_that_leaves_a_dependent_ready_is_caught_by_invariant_3,
    )
}
