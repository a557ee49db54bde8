//! 加签 / 减签 through the embedder's API: a leader or a reviewer of the deciding department
//! adds a countersigner before (前加签) or after (后加签) the deciding signature, or removes an
//! added one that has not signed; the join of the bundle is unchanged (dependents wait for the
//! task's approval, which now needs the added signatures); each refusal names its rule.

use super::common::*;
use yichuang_core::invariants;
use yichuang_core::machine::task::SignerPosition;
use yichuang_core::rejection::CountersignerRule;
use yichuang_core::*;

const ITEM: &str = "licence";

fn act(action: TaskCommand) -> Command {
    Command::Task { item: Id::new(ITEM), action }
}

fn add(department: &str, position: SignerPosition) -> Command {
    act(TaskCommand::AddSigner { department: Id::new(department), position })
}

fn remove(department: &str) -> Command {
    act(TaskCommand::RemoveSigner { department: Id::new(department) })
}

/// A 我要开饭店 case, accepted: the business licence (市场准入科) is ready.
fn accepted(h: &mut Hall) -> CaseId {
    let case = h.submit("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    assert_eq!(h.task_state(case, ITEM), TaskState::Ready);
    case
}

/// Runs and checks invariant 3 after it.
fn step(h: &mut Hall, case: CaseId, who: &Actor, command: Command) -> Vec<&'static str> {
    let events = h.ok(case, who, command);
    invariants::task_order(h.engine.definition(), h.engine.case(case).unwrap()).unwrap_or_else(|v| panic!("{v}"));
    events
}

fn refused_rule(h: &mut Hall, case: CaseId, who: &Actor, command: Command) -> CountersignerRule {
    match h.run(case, who, command) {
        Err(Rejection::Countersigner { rule, .. }) => rule,
        other => panic!("expected a countersigner rejection, got {other:?}"),
    }
}

fn after_signer_approves_and_only_then_dependents_start() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    let leader = Actor::leader("leader-chen");
    // 后加签 by a leader while the task is in the queue.
    assert_eq!(step(&mut h, case, &leader, add("fire", SignerPosition::After)), ["TaskSignerAdded"]);
    step(&mut h, case, &reviewer("market"), act(TaskCommand::Claim));
    // The fire brigade may not sign before the deciding approval.
    let early = refused_rule(&mut h, case, &reviewer("fire"), act(TaskCommand::Approve));
    assert_eq!(early, CountersignerRule::SignsAfter);
    // The deciding signature is recorded; the task waits for the added one; dependents wait.
    assert_eq!(step(&mut h, case, &reviewer("market"), act(TaskCommand::Approve)), ["TaskSigned"]);
    assert_eq!(h.task_state(case, ITEM), TaskState::InReview);
    assert_eq!(h.task_state(case, "food"), TaskState::Waiting, "the join is unchanged: dependents wait");
    let again = h.run(case, &reviewer("market"), act(TaskCommand::Approve)).unwrap_err();
    assert!(matches!(again, Rejection::AlreadySigned { .. }), "{again}");
    let events = step(&mut h, case, &reviewer("fire"), act(TaskCommand::Approve));
    assert_eq!(events[..2], ["TaskSigned", "TaskApproved"]);
    assert_eq!(h.task_state(case, "food"), TaskState::Ready);
    let t = h.engine.case(case).unwrap().task(ITEM).unwrap().clone();
    assert!(t.added()[0].signed);
}

fn before_signer_signs_first() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    step(&mut h, case, &reviewer("market"), act(TaskCommand::Claim));
    // 前加签 by the reviewer who holds the task.
    assert_eq!(step(&mut h, case, &reviewer("market"), add("urban", SignerPosition::Before)), ["TaskSignerAdded"]);
    let first = refused_rule(&mut h, case, &reviewer("market"), act(TaskCommand::Approve));
    assert_eq!(first, CountersignerRule::SignsFirst);
    assert!(
        h.run(case, &reviewer("market"), act(TaskCommand::Approve)).unwrap_err().to_string().contains("前加签"),
        "the message names the rule"
    );
    assert_eq!(step(&mut h, case, &reviewer("urban"), act(TaskCommand::Approve)), ["TaskSigned"]);
    // With countersigners added, the deciding signature is recorded with the approval.
    let events = step(&mut h, case, &reviewer("market"), act(TaskCommand::Approve));
    assert_eq!(events[..2], ["TaskSigned", "TaskApproved"]);
}

fn removing_the_last_pending_signer_approves() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    let leader = Actor::leader("leader-chen");
    step(&mut h, case, &leader, add("tobacco", SignerPosition::After));
    // Removed in the queue (减签), added again, then removed once it is all the task waits for.
    assert_eq!(step(&mut h, case, &leader, remove("tobacco")), ["TaskSignerRemoved"]);
    step(&mut h, case, &leader, add("tobacco", SignerPosition::After));
    step(&mut h, case, &reviewer("market"), act(TaskCommand::Claim));
    step(&mut h, case, &reviewer("market"), act(TaskCommand::Approve));
    let events = step(&mut h, case, &leader, remove("tobacco"));
    assert_eq!(events[..2], ["TaskSignerRemoved", "TaskApproved"]);
}

fn refusals_name_the_rule_and_change_nothing() {
    let mut h = Hall::new();
    let case = accepted(&mut h);
    let leader = Actor::leader("leader-chen");
    let market = reviewer("market");
    // Adding a department already in the set: the deciding one, or one added twice.
    assert_eq!(
        refused_rule(&mut h, case, &leader, add("market", SignerPosition::After)),
        CountersignerRule::AlreadyInSet
    );
    step(&mut h, case, &leader, add("fire", SignerPosition::Before));
    assert_eq!(
        refused_rule(&mut h, case, &leader, add("fire", SignerPosition::After)),
        CountersignerRule::AlreadyInSet
    );
    // The supervision section never signs; an unknown department lists the known ones.
    assert_eq!(
        refused_rule(&mut h, case, &leader, add("supervision", SignerPosition::After)),
        CountersignerRule::Supervision
    );
    let unknown = h.run(case, &leader, add("nowhere", SignerPosition::After)).unwrap_err();
    assert!(matches!(unknown, Rejection::Unknown { .. }) && unknown.to_string().contains("market"), "{unknown}");
    // Removing one from the definition, one never added, one that signed.
    assert_eq!(refused_rule(&mut h, case, &leader, remove("market")), CountersignerRule::InDefinition);
    assert_eq!(refused_rule(&mut h, case, &leader, remove("urban")), CountersignerRule::NotAdded);
    step(&mut h, case, &market, act(TaskCommand::Claim));
    step(&mut h, case, &reviewer("fire"), act(TaskCommand::Approve));
    let signed = h.run(case, &leader, remove("fire")).unwrap_err();
    assert!(matches!(signed, Rejection::Countersigner { rule: CountersignerRule::Signed, .. }), "{signed}");
    assert_eq!(signed.code(), "countersigner_refused");
    assert!(signed.to_string().contains("减签"), "{signed}");
    // Who may: not a clerk, not a reviewer of another department.
    let intake = h.intake.clone();
    let clerk = h.run(case, &intake, add("urban", SignerPosition::After)).unwrap_err();
    assert!(clerk.is_authorization(), "{clerk}");
    let other = h.run(case, &reviewer("urban"), add("tobacco", SignerPosition::After)).unwrap_err();
    assert!(other.is_authorization(), "{other}");
    // A 或签 / 票签 set is fixed by the definition.
    let panel = h.submit("expert-panel", &["design"], &[]);
    h.ok(panel, &intake, Command::Accept);
    let voting = h.run(
        panel,
        &leader,
        Command::Task {
            item: Id::new("expert-review"),
            action: TaskCommand::AddSigner { department: Id::new("tobacco"), position: SignerPosition::After },
        },
    );
    assert!(matches!(voting, Err(Rejection::Countersigner { rule: CountersignerRule::VotingItem, .. })), "{voting:?}");
}

fn added_signers_replay_to_the_same_state() {
    let mut h = Hall::new();
    let s = h.submission("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    let intake = h.intake.clone();
    let (case, mut log) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
    let leader = Actor::leader("leader-chen");
    let steps = [
        (intake.clone(), Command::Accept),
        (leader.clone(), add("fire", SignerPosition::Before)),
        (leader.clone(), add("urban", SignerPosition::After)),
        (reviewer("market"), act(TaskCommand::Claim)),
        (reviewer("fire"), act(TaskCommand::Approve)),
        (reviewer("market"), act(TaskCommand::Approve)),
        (reviewer("urban"), act(TaskCommand::Approve)),
    ];
    for (who, command) in steps {
        log.extend(h.run(case, &who, command).unwrap());
    }
    assert_eq!(h.task_state(case, ITEM), TaskState::Approved);
    let replayed = Engine::replay(h.engine.definition().clone(), &log).unwrap();
    assert_eq!(replayed.case(case), h.engine.case(case));
    assert_eq!(invariants::replay(&h.engine, &log), Ok(()));
    let def = h.engine.definition().clone();
    for rec in &log {
        assert_eq!(invariants::authority(&def, None, rec), Ok(()), "{rec:?}");
    }
}

pub(super) fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("signers": after_signer_approves_and_only_then_dependents_start, before_signer_signs_first, removing_the_last_pending_signer_approves, refusals_name_the_rule_and_change_nothing, added_signers_replay_to_the_same_state)
}
