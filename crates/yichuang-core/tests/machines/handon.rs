//! 转办 (transfer) and 委派 (delegate) through the embedder's API: the reviewer holding a task
//! hands it to another reviewer of the department, who alone acts on it then, or back to the
//! department's queue; or has another reviewer work on it, which comes back to the delegator,
//! who signs (the delegate cannot). 受审分离 holds: nobody who signed an earlier level of the
//! task receives it.

use super::common::*;
use yichuang_core::invariants;
use yichuang_core::*;

fn act(item: &str, action: TaskCommand) -> Command {
    Command::Task { item: Id::new(item), action }
}

fn market(id: &str) -> Actor {
    Actor::reviewer(id, "market")
}

fn licence(action: TaskCommand) -> Command {
    act("licence", action)
}

fn task(h: &Hall, case: CaseId, item: &str) -> Task {
    h.engine.case(case).unwrap().task(item).unwrap().clone()
}

fn holds(h: &Hall, case: CaseId) {
    let c = h.engine.case(case).unwrap();
    invariants::task_order(h.engine.definition_of(c), c).unwrap_or_else(|v| panic!("{v}"));
}

/// A restaurant case whose business licence `r-market` claimed.
fn claimed(h: &mut Hall) -> CaseId {
    let case = h.submit("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.task(case, "licence", "market", TaskCommand::Claim);
    case
}

fn a_transfer_hands_the_task_to_another_reviewer_who_alone_acts_on_it() {
    let mut h = Hall::new();
    let case = claimed(&mut h);
    let to = TaskCommand::Transfer { to: Some(Id::new("r-market-2")) };
    // Only the holder hands it on.
    let refused = h.run(case, &market("r-market-3"), licence(to.clone())).unwrap_err();
    assert!(refused.is_authorization(), "{refused}");
    assert_eq!(h.ok(case, &reviewer("market"), licence(to)), ["TaskTransferred"]);
    let t = task(&h, case, "licence");
    assert_eq!((t.state(), t.reviewer(), t.is_pinned()), (TaskState::InReview, Some(&Id::new("r-market-2")), true));
    holds(&h, case);
    // The one who handed it on no longer acts on it; the receiver does.
    let refused = h.run(case, &reviewer("market"), licence(TaskCommand::Approve)).unwrap_err();
    assert!(matches!(&refused, Rejection::RoleNotAllowed { rule, .. } if rule.contains("转办")), "{refused}");
    assert_eq!(refused.code(), "role_not_allowed");
    let events = h.ok(case, &market("r-market-2"), licence(TaskCommand::Approve));
    assert_eq!(events[0], "TaskApproved");
    assert!(!task(&h, case, "licence").is_pinned());
}

fn a_transfer_to_the_queue_lets_any_reviewer_claim_it() {
    let mut h = Hall::new();
    let case = claimed(&mut h);
    assert_eq!(h.ok(case, &reviewer("market"), licence(TaskCommand::Transfer { to: None })), ["TaskTransferred"]);
    let t = task(&h, case, "licence");
    assert_eq!((t.state(), t.reviewer(), t.is_pinned()), (TaskState::Ready, None, false));
    assert!(t.sla().is_some_and(|s| !s.stopped), "the task's clock runs on in the queue");
    holds(&h, case);
    h.ok(case, &market("r-market-2"), licence(TaskCommand::Claim));
    h.ok(case, &market("r-market-2"), licence(TaskCommand::Approve));
    assert_eq!(h.task_state(case, "licence"), TaskState::Approved);
}

fn a_transfer_or_delegation_is_refused_where_it_does_not_fit() {
    let mut h = Hall::new();
    let case = claimed(&mut h);
    let to_self = h.run(case, &reviewer("market"), licence(TaskCommand::Transfer { to: Some(Id::new("r-market")) }));
    assert!(matches!(to_self.unwrap_err(), Rejection::NotAllowedFor { .. }));
    let delegate_self = h.run(case, &reviewer("market"), licence(TaskCommand::Delegate { to: Id::new("r-market") }));
    assert!(matches!(delegate_self.unwrap_err(), Rejection::NotAllowedFor { .. }));
    let resolve = h.run(case, &reviewer("market"), licence(TaskCommand::ResolveDelegation { note: String::new() }));
    assert!(matches!(resolve.unwrap_err(), Rejection::NotAllowedFor { .. }), "nothing delegated");
    // In the queue there is nobody holding it to hand it on.
    let refused = h.run(case, &reviewer("fire"), act("fire-check", TaskCommand::Transfer { to: None })).unwrap_err();
    assert!(matches!(refused, Rejection::InvalidState { .. }), "{refused}");
    // A countersign is signed by each department's own reviewers.
    let mut h = Hall::new();
    let case = h.submit("recall", &["floor-plan", "completion-report"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.task(case, "joint-acceptance", "fire", TaskCommand::Claim);
    let refused = h.run(
        case,
        &reviewer("fire"),
        act("joint-acceptance", TaskCommand::Transfer { to: Some(Id::new("r-fire-2")) }),
    );
    assert!(matches!(refused.unwrap_err(), Rejection::NotAllowedFor { .. }));
}

fn nobody_who_signed_an_earlier_level_receives_the_task() {
    let mut h = Hall::new();
    let case = h.submit("hygiene", &["floor-plan"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    let permit = |a| act("hygiene-permit", a);
    h.ok(case, &market("wang"), permit(TaskCommand::Claim));
    h.ok(case, &market("wang"), permit(TaskCommand::Approve));
    h.ok(case, &market("li"), permit(TaskCommand::Claim));
    for command in [TaskCommand::Transfer { to: Some(Id::new("wang")) }, TaskCommand::Delegate { to: Id::new("wang") }]
    {
        let refused = h.run(case, &market("li"), permit(command)).unwrap_err();
        assert!(
            matches!(&refused, Rejection::NotAllowedFor { reason, .. } if reason.contains("受审分离")),
            "{refused}"
        );
    }
    // To a third person it goes, and they sign 审核.
    h.ok(case, &market("li"), permit(TaskCommand::Transfer { to: Some(Id::new("zhao")) }));
    assert_eq!(h.ok(case, &market("zhao"), permit(TaskCommand::Approve)), ["TaskLevelSigned"]);
    assert_eq!(task(&h, case, "hygiene-permit").signers(), &[Id::new("wang"), Id::new("zhao")]);
    holds(&h, case);
}

fn a_delegate_works_on_it_and_the_delegator_signs() {
    let mut h = Hall::new();
    let case = claimed(&mut h);
    let delegate = market("r-market-2");
    assert_eq!(
        h.ok(case, &reviewer("market"), licence(TaskCommand::Delegate { to: delegate.id.clone() })),
        ["TaskDelegated"]
    );
    assert_eq!(task(&h, case, "licence").delegate(), Some(&delegate.id));
    holds(&h, case);
    // The delegate cannot sign (403); the delegator waits for it to come back (422).
    let refused = h.run(case, &delegate, licence(TaskCommand::Approve)).unwrap_err();
    assert!(matches!(&refused, Rejection::RoleNotAllowed { rule, .. } if rule.contains("委派")), "{refused}");
    let refused = h.run(case, &reviewer("market"), licence(TaskCommand::Approve)).unwrap_err();
    assert!(matches!(&refused, Rejection::NotAllowedFor { rule, .. } if rule.contains("委派")), "{refused}");
    assert!(!refused.is_authorization());
    // Urging still works while delegated.
    h.ok(case, &Actor::leader("leader-chen"), licence(TaskCommand::Urge { note: String::new() }));
    let back = TaskCommand::ResolveDelegation { note: "已核对股东信息，无异常".into() };
    assert_eq!(h.ok(case, &delegate, licence(back)), ["DelegationResolved"]);
    let t = task(&h, case, "licence");
    assert_eq!((t.delegate(), t.reviewer()), (None, Some(&Id::new("r-market"))));
    assert_eq!(h.ok(case, &reviewer("market"), licence(TaskCommand::Approve))[0], "TaskApproved");
}

fn transfers_and_delegations_replay_to_the_same_state() {
    let mut h = Hall::new();
    let s = h.submission("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    let intake = h.intake.clone();
    let (case, mut log) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
    let steps = [
        (intake.clone(), Command::Accept),
        (reviewer("market"), licence(TaskCommand::Claim)),
        (reviewer("market"), licence(TaskCommand::Delegate { to: Id::new("r-market-2") })),
        (market("r-market-2"), licence(TaskCommand::ResolveDelegation { note: String::new() })),
        (reviewer("market"), licence(TaskCommand::Transfer { to: Some(Id::new("r-market-3")) })),
        (market("r-market-3"), licence(TaskCommand::Transfer { to: None })),
    ];
    for (actor, command) in steps {
        log.extend(h.run(case, &actor, command).unwrap());
    }
    let replayed = Engine::replay(definition(), &log).unwrap();
    assert_eq!(replayed.case(case), h.engine.case(case));
    invariants::replay(&h.engine, &log).unwrap();
    for rec in &log {
        invariants::authority(h.engine.definition(), Some(&h.applicant.id), rec).unwrap_or_else(|v| panic!("{v}"));
    }
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("handon":
        a_transfer_hands_the_task_to_another_reviewer_who_alone_acts_on_it,
        a_transfer_to_the_queue_lets_any_reviewer_claim_it,
        a_transfer_or_delegation_is_refused_where_it_does_not_fit,
        nobody_who_signed_an_earlier_level_receives_the_task,
        a_delegate_works_on_it_and_the_delegator_signs,
        transfers_and_delegations_replay_to_the_same_state,
    )
}
