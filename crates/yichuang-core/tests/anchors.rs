//! The approval operations on the shapes where the BPMN engines fail (issue 19 part 10), one
//! test per anchor, named after the failure: returning into a parallel branch leaves the join
//! stuck (flowable-engine #1641), returning two parallel tasks at once leaves no task active
//! (#3944). Every step is checked against invariants 1–7 ([`invariants`]), and each test ends
//! with the case decided: nothing is stuck, no task is left without a way forward.
//!
//! The bundle is the test hall's `venue` (我要开歌舞厅): the business licence, then two
//! parallel branches — the hygiene permit (承办 → 审核 → 批准 by a leader) and the
//! entertainment licence (承办 → 批准) — joined by the signboard, which waits for both.

mod common;

use common::*;
use yichuang_core::invariants;
use yichuang_core::*;

const HYGIENE: &str = "hygiene-permit";
const ENTERTAINMENT: &str = "entertainment";

/// A hall that records every event and checks invariants 1–7 after every step.
struct Run {
    h: Hall,
    case: CaseId,
    log: Vec<Recorded>,
}

impl Run {
    /// A venue case submitted with every material and accepted: the licence is ready.
    fn venue() -> Run {
        let mut h = Hall::new();
        let submission = h.submission("venue", &["licence-form", "floor-plan"], &[]);
        let (case, mut log) = h
            .engine
            .open(Command::Submit(Box::new(submission)), &Ctx { now: h.now, actor: &h.intake.clone() })
            .expect("the venue bundle takes these materials");
        let intake = h.intake.clone();
        log.extend(h.run(case, &intake, Command::Accept).expect("accepted"));
        let run = Run { h, case, log };
        run.check();
        run
    }

    /// `who` issues `action` on `item`; the step must be accepted and keep every invariant.
    fn ok(&mut self, item: &str, who: &Actor, action: TaskCommand) -> Vec<&'static str> {
        let events = self
            .h
            .run(self.case, who, Command::Task { item: Id::new(item), action: action.clone() })
            .unwrap_or_else(|e| panic!("{} {} on {item} refused: {e}", who.describe(), action.name()));
        let names = events.iter().map(|r| r.event.name()).collect();
        self.log.extend(events);
        self.check();
        names
    }

    /// Claims and approves (signs the current level of) `item` as `who`.
    fn sign(&mut self, item: &str, who: &Actor) -> Vec<&'static str> {
        self.ok(item, who, TaskCommand::Claim);
        self.ok(item, who, TaskCommand::Approve)
    }

    fn ret(&mut self, item: &str, who: &Actor, to: ReturnTo) -> Vec<&'static str> {
        self.ok(item, who, TaskCommand::Return { to, reason: "现场核查记录不完整，请重新审查".into() })
    }

    fn task(&self, item: &str) -> Task {
        self.h.engine.case(self.case).unwrap().task(item).unwrap().clone()
    }

    fn state(&self) -> CaseState {
        self.h.state(self.case)
    }

    /// Invariants 1–7 on the engine and the whole log so far.
    fn check(&self) {
        let engine = &self.h.engine;
        let def = engine.definition();
        let fail = |v: invariants::Violation| -> () { panic!("invariant {}: {v}", v.invariant().number()) };
        for case in engine.cases() {
            invariants::task_order(def, case).unwrap_or_else(fail);
            invariants::delivery(def, case).unwrap_or_else(fail);
            invariants::deadlines(def, case).unwrap_or_else(fail);
        }
        let mut supervision = invariants::Supervision::default();
        for rec in &self.log {
            supervision.observe(rec).unwrap_or_else(fail);
            let applicant = match rec.stream {
                StreamId::Case(c) => engine.case(c).map(|c| &c.applicant().id),
                StreamId::Ticket(_) => None,
            };
            invariants::authority(def, applicant, rec).unwrap_or_else(fail);
        }
        invariants::one_ticket_per_trigger(&self.log).unwrap_or_else(fail);
        invariants::replay(engine, &self.log).unwrap_or_else(fail);
    }

    /// How many times `item` became ready in the whole log.
    fn readied(&self, item: &str) -> usize {
        self.log.iter().filter(|r| matches!(&r.event, Event::TaskReady { item: i } if i.as_str() == item)).count()
    }
}

fn market(id: &str) -> Actor {
    Actor::reviewer(id, "market")
}

fn culture(id: &str) -> Actor {
    Actor::reviewer(id, "culture")
}

/// flowable-engine #1641: a task returned inside a parallel branch whose sibling branch is
/// already approved; in Flowable the join then waits for a token that never comes. Here the
/// return is a typed move within the task (its level goes back, the returned levels'
/// signatures are void); the approved sibling stays approved and is not run again; the join
/// (the signboard) waits until the returned branch is signed again, then opens exactly once,
/// and the case is decided.
#[test]
fn a_return_into_a_parallel_branch_whose_sibling_is_already_approved() {
    let mut run = Run::venue();
    run.sign("licence", &market("r-market"));
    for item in [HYGIENE, ENTERTAINMENT] {
        assert_eq!(run.task(item).state(), TaskState::Ready, "{item} starts with the licence approved");
    }
    // The sibling finishes first: the entertainment licence, both its levels.
    run.sign(ENTERTAINMENT, &culture("zhou"));
    assert_eq!(run.sign(ENTERTAINMENT, &culture("wu")), ["TaskApproved"]);
    // The hygiene permit reaches 审核, which returns it to 承办.
    run.sign(HYGIENE, &market("wang"));
    run.ok(HYGIENE, &market("li"), TaskCommand::Claim);
    assert_eq!(run.ret(HYGIENE, &market("li"), ReturnTo::Previous), ["TaskReturned"]);
    let t = run.task(HYGIENE);
    assert_eq!((t.state(), t.level(), t.signers().len()), (TaskState::Ready, 0, 0), "back at 承办, its signature void");
    assert_eq!(run.task(ENTERTAINMENT).state(), TaskState::Approved, "the approved sibling is not reopened");
    assert_eq!(run.task("sign").state(), TaskState::Waiting, "the join still waits for the returned branch");
    assert_eq!(run.state(), CaseState::InApproval);
    // 承办 signs again (the same person may: the signature was void), then 审核, then a leader.
    run.sign(HYGIENE, &market("wang"));
    run.sign(HYGIENE, &market("li"));
    assert_eq!(run.sign(HYGIENE, &Actor::leader("leader-chen")), ["TaskApproved", "TaskReady"]);
    assert_eq!(run.readied("sign"), 1, "the join opens exactly once");
    assert_eq!(run.task(ENTERTAINMENT).signers().len(), 1, "the sibling was signed once, never again");
    assert_eq!(run.sign("sign", &reviewer("urban")), ["TaskApproved", "CaseDecided"]);
    assert_eq!(run.state(), CaseState::ReadyForDelivery);
}

/// flowable-engine #3944 (6.8.1–7.0.1): two multi-instance tasks returned at once left no
/// active task at all, and the process could not go on. Here both parallel branches are
/// returned at the same instant, one to the previous level and one to the first: each is back
/// in its department's queue (active, with a way forward), nothing else moved, and signing
/// them again decides the case.
#[test]
fn two_parallel_tasks_returned_at_once() {
    let mut run = Run::venue();
    run.sign("licence", &market("r-market"));
    run.sign(HYGIENE, &market("wang"));
    run.sign(HYGIENE, &market("li"));
    run.ok(HYGIENE, &Actor::leader("leader-chen"), TaskCommand::Claim);
    run.sign(ENTERTAINMENT, &culture("zhou"));
    run.ok(ENTERTAINMENT, &culture("wu"), TaskCommand::Claim);
    let now = run.h.now;
    assert_eq!(run.ret(HYGIENE, &Actor::leader("leader-chen"), ReturnTo::First), ["TaskReturned"]);
    assert_eq!(run.ret(ENTERTAINMENT, &culture("wu"), ReturnTo::Previous), ["TaskReturned"]);
    assert_eq!(run.h.now, now, "both at the same instant");
    let active: Vec<&str> = [HYGIENE, ENTERTAINMENT]
        .into_iter()
        .filter(|item| run.task(item).state() == TaskState::Ready && run.task(item).level() == 0)
        .collect();
    assert_eq!(active, [HYGIENE, ENTERTAINMENT], "both are back in their queues at their first level");
    assert!(run.task(HYGIENE).signers().is_empty() && run.task(ENTERTAINMENT).signers().is_empty());
    assert_eq!(run.task("sign").state(), TaskState::Waiting);
    // Each returned task can be claimed again at once: a way forward for both.
    for item in [HYGIENE, ENTERTAINMENT] {
        let d = run.h.engine.decide(
            run.case,
            &Command::Task { item: Id::new(item), action: TaskCommand::Claim },
            &Ctx { now: run.h.now, actor: &if item == HYGIENE { market("wang") } else { culture("zhou") } },
        );
        assert!(d.is_ok(), "{item}: {d:?}");
    }
    run.sign(ENTERTAINMENT, &culture("zhou"));
    run.sign(ENTERTAINMENT, &culture("wu"));
    run.sign(HYGIENE, &market("wang"));
    run.sign(HYGIENE, &market("li"));
    assert_eq!(run.readied("sign"), 0);
    assert_eq!(run.sign(HYGIENE, &Actor::leader("leader-chen")), ["TaskApproved", "TaskReady"]);
    assert_eq!(run.readied("sign"), 1);
    assert_eq!(run.sign("sign", &reviewer("urban")), ["TaskApproved", "CaseDecided"]);
    assert_eq!(run.state(), CaseState::ReadyForDelivery);
}

/// The broken return (feature `fault-injection`: 退回 strands the task in `Waiting`) is what
/// the anchors guard against: on the first anchor's path, invariant 3 names the stuck join at
/// the return itself.
#[test]
fn the_anchor_catches_a_return_that_strands_its_task() {
    let _fault = yichuang_core::fault::inject(yichuang_core::fault::Fault::ReturnStrandsTask);
    let caught = std::panic::catch_unwind(|| {
        let mut run = Run::venue();
        run.sign("licence", &market("r-market"));
        run.sign(HYGIENE, &market("wang"));
        run.ok(HYGIENE, &market("li"), TaskCommand::Claim);
        run.ret(HYGIENE, &market("li"), ReturnTo::Previous);
    });
    let message = match caught {
        Ok(()) => panic!("a stranded task went unnoticed"),
        Err(payload) => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("invariant 3") && message.contains("hygiene-permit"), "{message}");
    assert!(message.contains("a join stuck"), "{message}");
}
