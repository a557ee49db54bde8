//! 或签 (any one of several departments decides) and 票签 (k of n) through the embedder's API:
//! the first decision of a 或签 decides and cancels the other department's pending review with
//! the reason; a 票签 is approved at its kth approval and denied as soon as k can no longer be
//! reached; each department votes once. Invariant 3 (votes match the decision) is checked after
//! every step.

use super::common::*;
use yichuang_core::invariants;
use yichuang_core::machine::task::Vote;
use yichuang_core::*;

const ANY: &str = "land-use-review";
const PANEL: &str = "expert-review";

fn act(item: &str, action: TaskCommand) -> Command {
    Command::Task { item: Id::new(item), action }
}

fn deny(reason: &str) -> TaskCommand {
    TaskCommand::Deny { reason: reason.into() }
}

/// A case of `bundle` (one item), accepted: its task is ready.
fn accepted(h: &mut Hall, bundle: &str, item: &str) -> CaseId {
    let case = h.submit(bundle, &["design"], &[]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    assert_eq!(h.task_state(case, item), TaskState::Ready);
    case
}

fn task(h: &Hall, case: CaseId, item: &str) -> Task {
    h.engine.case(case).unwrap().task(item).unwrap().clone()
}

/// `dept`'s reviewer acts on `item`, then invariant 3 is checked.
fn vote(h: &mut Hall, case: CaseId, item: &str, dept: &str, action: TaskCommand) -> Vec<&'static str> {
    let events = h.task(case, item, dept, action);
    let c = h.engine.case(case).unwrap();
    invariants::task_order(h.engine.definition(), c).unwrap_or_else(|v| panic!("{v}"));
    events
}

fn votes(t: &Task, n: usize) -> Vec<Vote> {
    (0..n).map(|i| t.vote(i)).collect()
}

fn any_of_first_approval_decides_and_cancels_the_other_review() {
    let mut h = Hall::new();
    let case = accepted(&mut h, "land-use", ANY);
    assert_eq!(vote(&mut h, case, ANY, "construction", TaskCommand::Claim), ["TaskClaimed"]);
    let events = h.run(case, &reviewer("construction"), act(ANY, TaskCommand::Approve)).unwrap();
    let names: Vec<_> = events.iter().map(|r| r.event.name()).collect();
    assert_eq!(names, ["TaskSigned", "TaskVotesCancelled", "TaskApproved", "CaseDecided"]);
    match &events[1].event {
        Event::TaskVotesCancelled { departments, reason, .. } => {
            assert_eq!(departments, &ids(&["planning"]));
            assert!(reason.contains("或签") && reason.contains("construction"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let t = task(&h, case, ANY);
    assert_eq!(t.state(), TaskState::Approved);
    assert_eq!(votes(&t, 2), [Vote::Cancelled, Vote::Approved]);
    // The other section's review is over: its approval is refused with the state.
    let late = h.run(case, &reviewer("planning"), act(ANY, TaskCommand::Approve)).unwrap_err();
    assert_eq!(late.code(), "invalid_state", "{late}");
}

fn any_of_first_denial_decides_too() {
    let mut h = Hall::new();
    let case = accepted(&mut h, "land-use", ANY);
    vote(&mut h, case, ANY, "planning", TaskCommand::Claim);
    let refused = h.run(case, &reviewer("planning"), act(ANY, deny(" "))).unwrap_err();
    assert_eq!(refused.code(), "reason_required");
    let events = vote(&mut h, case, ANY, "planning", deny("用地性质不符合规划"));
    assert_eq!(events, ["TaskVotedAgainst", "TaskVotesCancelled", "TaskDenied", "CaseDecided"]);
    let t = task(&h, case, ANY);
    assert_eq!(votes(&t, 2), [Vote::Against, Vote::Cancelled]);
    assert_eq!(h.state(case), CaseState::ReadyForDelivery, "the denial is delivered as the result");
}

fn vote_is_approved_at_k_approvals() {
    let mut h = Hall::new();
    let case = accepted(&mut h, "expert-panel", PANEL);
    // Voting needs the task under review; any panel department claims it.
    let early = h.run(case, &reviewer("fire"), act(PANEL, TaskCommand::Approve)).unwrap_err();
    assert_eq!(early.code(), "invalid_state");
    vote(&mut h, case, PANEL, "planning", TaskCommand::Claim);
    assert_eq!(vote(&mut h, case, PANEL, "planning", TaskCommand::Approve), ["TaskSigned"]);
    assert_eq!(vote(&mut h, case, PANEL, "urban", deny("噪声评估不足")), ["TaskVotedAgainst"]);
    // Each department votes once, for or against.
    for again in [TaskCommand::Approve, deny("改票")] {
        let refused = h.run(case, &reviewer("urban"), act(PANEL, again)).unwrap_err();
        assert!(matches!(refused, Rejection::AlreadyVoted { rule: "票签", .. }), "{refused}");
        assert!(refused.to_string().contains("each department votes once"), "{refused}");
    }
    // A department outside the panel does not vote.
    let stranger = h.run(case, &reviewer("tobacco"), act(PANEL, TaskCommand::Approve)).unwrap_err();
    assert!(stranger.is_authorization(), "{stranger}");
    assert_eq!(vote(&mut h, case, PANEL, "fire", TaskCommand::Approve), ["TaskSigned"]);
    assert_eq!(task(&h, case, PANEL).state(), TaskState::InReview, "two of three approvals");
    let events = vote(&mut h, case, PANEL, "market", TaskCommand::Approve);
    assert_eq!(events, ["TaskSigned", "TaskVotesCancelled", "TaskApproved", "CaseDecided"]);
    let t = task(&h, case, PANEL);
    // of: planning, construction, fire, urban, market.
    assert_eq!(votes(&t, 5), [Vote::Approved, Vote::Cancelled, Vote::Approved, Vote::Against, Vote::Approved]);
}

fn vote_is_denied_as_soon_as_k_cannot_be_reached() {
    let mut h = Hall::new();
    let s = h.submission("expert-panel", &["design"], &[]);
    let intake = h.intake.clone();
    let (case, mut log) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
    log.extend(h.run(case, &intake, Command::Accept).unwrap());
    let mut step = |h: &mut Hall, dept: &str, action: TaskCommand| {
        let events = h.run(case, &reviewer(dept), act(PANEL, action)).unwrap();
        invariants::task_order(h.engine.definition(), h.engine.case(case).unwrap()).unwrap_or_else(|v| panic!("{v}"));
        let names: Vec<&'static str> = events.iter().map(|r| r.event.name()).collect();
        log.extend(events);
        names
    };
    step(&mut h, "fire", TaskCommand::Claim);
    assert_eq!(step(&mut h, "fire", TaskCommand::Approve), ["TaskSigned"]);
    assert_eq!(step(&mut h, "urban", deny("方案不完整")), ["TaskVotedAgainst"]);
    assert_eq!(step(&mut h, "market", deny("资料不全")), ["TaskVotedAgainst"]);
    assert_eq!(task(&h, case, PANEL).state(), TaskState::InReview, "three approvals are still reachable");
    let names = step(&mut h, "planning", deny("安全论证不足"));
    assert_eq!(names, ["TaskVotedAgainst", "TaskVotesCancelled", "TaskDenied", "CaseDecided"]);
    let n = log.len();
    match (&log[n - 3].event, &log[n - 2].event) {
        (Event::TaskVotesCancelled { departments, .. }, Event::TaskDenied { reason, .. }) => {
            assert_eq!(departments, &ids(&["construction"]));
            assert!(reason.contains("票签") && reason.contains("3/5") && reason.contains("安全论证不足"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let t = task(&h, case, PANEL);
    assert_eq!(votes(&t, 5), [Vote::Against, Vote::Cancelled, Vote::Approved, Vote::Against, Vote::Against]);
    // Replaying the log gives the same votes.
    let replayed = Engine::replay(h.engine.definition().clone(), &log).unwrap();
    assert_eq!(replayed.case(case), h.engine.case(case));
    assert_eq!(invariants::replay(&h.engine, &log), Ok(()));
}

/// 或签 whose first approver recalls (撤回) before anything depends on it: the task is in review
/// again and the other section's cancelled review is pending again, so it can decide.
fn any_of_first_approver_recalls_and_the_other_review_reopens() {
    let mut h = Hall::new();
    let case = accepted(&mut h, "land-use-design", ANY);
    vote(&mut h, case, ANY, "construction", TaskCommand::Claim);
    vote(&mut h, case, ANY, "construction", TaskCommand::Approve);
    assert_eq!(votes(&task(&h, case, ANY), 2), [Vote::Cancelled, Vote::Approved]);
    assert_eq!(h.task_state(case, "design-review"), TaskState::Ready, "the dependent is ready, not claimed");
    assert_eq!(vote(&mut h, case, ANY, "construction", TaskCommand::Recall), ["TaskRecalled", "TaskUnready"]);
    let t = task(&h, case, ANY);
    assert_eq!((t.state(), votes(&t, 2)), (TaskState::InReview, vec![Vote::Pending, Vote::Pending]));
    let events = vote(&mut h, case, ANY, "planning", deny("用地红线与规划不符"));
    assert_eq!(events, ["TaskVotedAgainst", "TaskVotesCancelled", "TaskDenied", "TaskCancelled", "CaseDecided"]);
}

pub(super) fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("votes": any_of_first_approval_decides_and_cancels_the_other_review, any_of_first_denial_decides_too, vote_is_approved_at_k_approvals, vote_is_denied_as_soon_as_k_cannot_be_reached, any_of_first_approver_recalls_and_the_other_review_reopens)
}
