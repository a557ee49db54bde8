//! Property tests (proptest-state-machine) over random interleavings of many cases, tasks,
//! timers, actors and tickets. After every step they check DESIGN §4.3 invariants 1–7; deliberately
//! broken rules (feature `fault-injection`) must be caught.
//!
//! `PROPTEST_CASES` sets the number of sequences (default 1,000).

mod common;

use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use yichuang_core::fault::{self, Fault};
use yichuang_core::invariants;
use yichuang_core::*;

#[derive(Clone, Debug)]
enum Step {
    /// Open a case of a bundle (see [`bundle_of`]), via consultation or not, materials dropped
    /// by mask.
    Open { bundle: u8, consult: bool, drop: u8, tobacco: bool, credit_blocked: bool },
    /// A command on a case; `actor` < 200 means the entitled actor, else a random one.
    Command { case: u8, kind: u8, arg: u8, actor: u8 },
    /// The natural next command for a case (a guided move, so sequences get deep).
    Progress { case: u8, arg: u8 },
    /// A complaint (吐槽找茬) against a department, a window or a process.
    Complain { target: u8, case: u8 },
    /// A ticket command; `actor` < 200 means the entitled actor, else a random one.
    Ticket { ticket: u8, kind: u8, arg: u8, actor: u8 },
    /// The natural next step of a ticket.
    TicketProgress { ticket: u8, arg: u8 },
    /// Let time pass; timers fire.
    Advance { minutes: u32 },
}

struct Model;

impl ReferenceStateMachine for Model {
    type State = usize;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<usize> {
        Just(0).boxed()
    }

    fn transitions(open: &usize) -> BoxedStrategy<Step> {
        let open_case = (any::<u8>(), any::<bool>(), any::<u8>(), any::<bool>(), prop::bool::weighted(0.1)).prop_map(
            |(bundle, consult, drop, tobacco, credit_blocked)| Step::Open {
                bundle,
                consult,
                drop,
                tobacco,
                credit_blocked,
            },
        );
        let advance = prop_oneof![4 => 1u32..4000, 1 => 4000u32..40_000].prop_map(|minutes| Step::Advance { minutes });
        if *open == 0 {
            return open_case.boxed();
        }
        // Task commands are the most frequent, as in a real hall.
        let kind = prop_oneof![6 => 0u8..11, 6 => Just(7u8)];
        let command = (any::<u8>(), kind, any::<u8>(), any::<u8>())
            .prop_map(|(case, kind, arg, actor)| Step::Command { case, kind, arg, actor });
        let progress = (any::<u8>(), any::<u8>()).prop_map(|(case, arg)| Step::Progress { case, arg });
        let complain = (any::<u8>(), any::<u8>()).prop_map(|(target, case)| Step::Complain { target, case });
        let ticket = (any::<u8>(), 0u8..10, any::<u8>(), any::<u8>())
            .prop_map(|(ticket, kind, arg, actor)| Step::Ticket { ticket, kind, arg, actor });
        let ticket_progress = (any::<u8>(), any::<u8>()).prop_map(|(ticket, arg)| Step::TicketProgress { ticket, arg });
        prop_oneof![
            1 => open_case,
            6 => command,
            12 => progress,
            3 => advance,
            1 => complain,
            2 => ticket,
            4 => ticket_progress
        ]
        .boxed()
    }

    fn apply(open: usize, step: &Step) -> usize {
        open + usize::from(matches!(step, Step::Open { .. }))
    }

    fn preconditions(open: &usize, step: &Step) -> bool {
        !matches!(step, Step::Command { .. } | Step::Progress { .. }) || *open > 0
    }
}

/// `Step::Open`'s bundle: the restaurant (parallel tasks after the licence), the industrial
/// project (stages, simulated approval, a countersign), the hygiene permit (three review
/// levels, the last a leader's) and the venue (review levels in parallel branches that join).
fn bundle_of(pick: u8) -> &'static str {
    match pick % 8 {
        0..=2 => "restaurant",
        3 | 4 => "project",
        5 => "hygiene",
        _ => "venue",
    }
}
const RESTAURANT: u8 = 0;
const PROJECT: u8 = 3;

/// The person who signs `task`'s current review level for `dept`: a leader where the level
/// says so, else a reviewer of the department, another one per level (受审分离).
fn signer(def: &Definition, task: &Task, dept: &str) -> Actor {
    match def.item(task.item()).levels.get(task.level()) {
        Some(level) if level.by == definition::LevelSigner::Leader => {
            Actor::leader(&format!("leader-{}", task.level()))
        }
        _ if task.level() == 0 => reviewer(dept),
        _ => Actor::reviewer(&format!("r-{dept}-{}", task.level()), dept),
    }
}

/// Who may recall `task`'s approval (撤回): the person who signed it (a leader where the last
/// level is a leader's), or for a countersign the department's reviewer.
fn recaller(def: &Definition, task: &Task, dept: &str) -> Actor {
    let item = def.item(task.item());
    match (task.approver(), item.levels.last()) {
        (Some(who), Some(level)) if level.by == definition::LevelSigner::Leader => Actor::leader(who.as_str()),
        (Some(who), _) => Actor::reviewer(who.as_str(), dept),
        (None, _) => reviewer(dept),
    }
}

struct Sut {
    hall: Hall,
    log: Vec<Recorded>,
    /// Complaints accepted by the engine (each must open exactly one ticket).
    complaints: usize,
}

const MATERIALS: [&str; 7] =
    ["licence-form", "lease", "health-cert", "floor-plan", "design", "safety-plan", "completion-report"];

fn pool(def: &Definition, case: &Case) -> Vec<Actor> {
    let mut actors = vec![
        Actor::applicant(case.applicant().id.as_str()),
        Actor::applicant("stranger"),
        Actor::clerk("c-intake", "intake-1"),
        Actor::clerk("c-consult", "consult-1"),
        Actor::clerk("c-delivery", "delivery-1"),
        Actor::supervisor("s-1", "supervision"),
        Actor::admin("admin"),
        Actor::leader("leader"),
    ];
    actors.extend(def.departments().iter().map(|d| reviewer(d.id.as_str())));
    actors
}

impl Sut {
    fn open(&mut self, bundle: u8, consult: bool, drop: u8, tobacco: bool, credit_blocked: bool) {
        let n = self.hall.engine.cases_opened() as usize;
        let applicant = Applicant { id: Id::new(&format!("A{n}")), name: format!("申请人{n}"), credit_blocked };
        let actor = Actor::applicant(applicant.id.as_str());
        let bundle = bundle_of(bundle);
        let project = bundle == "project";
        // Most projects lack only tolerable materials, the green channel's usual case.
        let drop = if project && !drop.is_multiple_of(4) { drop & 0b0110_0000 } else { drop };
        let materials: Vec<Id> =
            MATERIALS.iter().enumerate().filter(|(i, _)| drop & (1 << i) == 0).map(|(_, m)| Id::new(m)).collect();
        let mut answers = std::collections::BTreeMap::new();
        if bundle == "restaurant" {
            answers.insert("sells-tobacco".to_owned(), if tobacco { "是" } else { "否" }.to_owned());
        }
        let submission = Submission {
            bundle: Id::new(bundle),
            applicant: applicant.clone(),
            channel: Channel::Window,
            materials: materials.into(),
            answers: answers.into(),
            green_channel: project,
        };
        let ctx = Ctx { now: self.hall.now, actor: &actor };
        let command = if consult {
            Command::Consult { bundle: Id::new(bundle), applicant }
        } else {
            Command::Submit(Box::new(submission))
        };
        let (_, events) = self.hall.engine.open(command, &ctx).expect("the applicant may open a case");
        self.log.extend(events);
    }

    fn command(&mut self, case: u8, kind: u8, arg: u8, actor: u8) {
        let id = CaseId(u64::from(case) % self.hall.engine.cases_opened() + 1);
        let def = self.hall.engine.definition().clone();
        let c = self.hall.engine.case(id).unwrap().clone();
        let now = self.hall.now;
        let applicant = Actor::applicant(c.applicant().id.as_str());
        let intake = Actor::clerk("c-intake", "intake-1");
        let delivery = Actor::clerk("c-delivery", "delivery-1");
        let (entitled, command) = match kind {
            0 => {
                let s = Submission {
                    bundle: def.bundle(c.bundle()).id.clone(),
                    applicant: c.applicant().clone(),
                    channel: Channel::Web,
                    materials: MATERIALS.iter().filter(|_| !arg.is_multiple_of(3)).map(|m| Id::new(m)).collect(),
                    answers: Default::default(),
                    green_channel: false,
                };
                (applicant, Command::Submit(Box::new(s)))
            }
            1 => (intake, Command::Accept),
            2 => (intake, Command::AcceptTolerating { cure_due: now.date().add_days(i32::from(arg % 26)) }),
            3 => (intake, Command::RequestCorrection),
            4 => {
                (intake, Command::Reject { reason: if arg.is_multiple_of(5) { String::new() } else { "理由".into() } })
            }
            5 => (applicant, Command::Resubmit { materials: MATERIALS.iter().map(|m| Id::new(m)).collect() }),
            6 => {
                let material = c
                    .outstanding()
                    .get(usize::from(arg) % c.outstanding().len().max(1))
                    .cloned()
                    .unwrap_or_else(|| Id::new("lease"));
                (applicant, Command::Supply { material })
            }
            7 => {
                // Prefer open tasks so that random sequences get deep into the machine.
                let open: Vec<&Task> = c.tasks().iter().filter(|t| !t.state().is_terminal()).collect();
                let pick = if open.is_empty() || arg.is_multiple_of(7) { c.tasks().iter().collect() } else { open };
                let Some(task) = (!pick.is_empty()).then(|| pick[usize::from(arg) % pick.len()]) else {
                    return self.run(
                        id,
                        reviewer("market"),
                        Command::Task { item: Id::new("licence"), action: TaskCommand::Claim },
                    );
                };
                let depts = def.item(task.item()).decided_by.departments();
                let dept = def.department(depts[usize::from(arg / 8) % depts.len()]).id.to_string();
                let action = match (arg / 32) % 11 {
                    0 | 1 => TaskCommand::Claim,
                    2 | 3 => TaskCommand::Approve,
                    4 => TaskCommand::Deny { reason: "不符合条件".into() },
                    5 => match task.state() {
                        TaskState::SpecialProcedure => TaskCommand::EndSpecialProcedure,
                        _ => TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::Testing },
                    },
                    6 => TaskCommand::ApproveSimulated,
                    7 => TaskCommand::MeetPrecondition { facts_changed: arg.is_multiple_of(2) },
                    8 => TaskCommand::Return {
                        to: if arg.is_multiple_of(2) { ReturnTo::Previous } else { ReturnTo::First },
                        reason: if arg.is_multiple_of(11) { " ".into() } else { "材料需重新审查".into() },
                    },
                    9 => TaskCommand::Urge { note: "请加快办理".into() },
                    _ => TaskCommand::Recall,
                };
                // Mostly the level's own signer; sometimes the first level's reviewer, who may
                // not sign a second level (受审分离) and is refused.
                let entitled = match action {
                    TaskCommand::Recall => recaller(&def, task, &dept),
                    TaskCommand::Urge { .. } if arg.is_multiple_of(2) => Actor::leader("leader"),
                    TaskCommand::Urge { .. } => Actor::supervisor("s-1", "supervision"),
                    _ if arg.is_multiple_of(13) => reviewer(&dept),
                    _ => signer(&def, task, &dept),
                };
                (entitled, Command::Task { item: task.item_id().clone(), action })
            }
            8 => (
                delivery,
                Command::Deliver {
                    method: [DeliveryMethod::Window, DeliveryMethod::Post, DeliveryMethod::Electronic]
                        [usize::from(arg) % 3],
                },
            ),
            9 => (applicant, Command::Rate { stars: 1 + arg % 5 }),
            _ => (applicant, Command::Withdraw),
        };
        let actor = if actor < 200 {
            entitled
        } else {
            let pool = pool(&def, &c);
            pool[usize::from(actor) % pool.len()].clone()
        };
        self.run(id, actor, command);
    }

    /// Issues the command a hall would issue next, mostly the happy path, sometimes not.
    fn progress(&mut self, case: u8, arg: u8) {
        let id = CaseId(u64::from(case) % self.hall.engine.cases_opened() + 1);
        let c = self.hall.engine.case(id).unwrap().clone();
        let kind = match c.state() {
            CaseState::Consulting => 0,
            CaseState::Received => [1, 2, 2, 2, 3][usize::from(arg) % 5],
            CaseState::AwaitingCorrection => 5,
            CaseState::AwaitingCure | CaseState::Suspended if !arg.is_multiple_of(4) => 6,
            CaseState::ReadyForDelivery if !c.outstanding().is_empty() && arg.is_multiple_of(2) => 6,
            CaseState::ReadyForDelivery => 8,
            CaseState::Delivered => 9,
            CaseState::InApproval if !c.outstanding().is_empty() && arg.is_multiple_of(8) => 6,
            CaseState::InApproval if arg % 64 == 3 => {
                // 撤回 now and then: the signer of an approval (or of one countersignature)
                // takes it back; refused once a dependent was claimed.
                let def = self.hall.engine.definition().clone();
                let Some(task) = c.tasks().iter().find(|t| t.state() == TaskState::Approved || t.signed() != 0) else {
                    return;
                };
                let depts = def.item(task.item()).decided_by.departments();
                let d = (0..depts.len()).find(|i| task.signed() & (1 << i) != 0).unwrap_or(0);
                let dept = def.department(depts[d]).id.to_string();
                let actor = recaller(&def, task, &dept);
                return self.run(
                    id,
                    actor,
                    Command::Task { item: task.item_id().clone(), action: TaskCommand::Recall },
                );
            }
            CaseState::InApproval => {
                // Move one open task forward with the action its state calls for.
                let Some(task) = c.tasks().iter().find(|t| {
                    matches!(
                        t.state(),
                        TaskState::Ready
                            | TaskState::InReview
                            | TaskState::SpecialProcedure
                            | TaskState::SimulatedApproved
                    )
                }) else {
                    return;
                };
                let def = self.hall.engine.definition().clone();
                let depts = def.item(task.item()).decided_by.departments();
                // The first department that has not signed or voted (会签, 或签, 票签).
                let voted = task.signed() | task.against();
                let d = (0..depts.len()).find(|i| voted & (1 << i) == 0).unwrap_or(0);
                let dept = def.department(depts[d]).id.to_string();
                let action = match task.state() {
                    TaskState::Ready if arg % 16 == 15 => TaskCommand::Urge { note: String::new() },
                    TaskState::Ready => TaskCommand::Claim,
                    TaskState::SpecialProcedure => TaskCommand::EndSpecialProcedure,
                    TaskState::SimulatedApproved => {
                        TaskCommand::MeetPrecondition { facts_changed: arg.is_multiple_of(5) }
                    }
                    // Above the first level, a return now and then (to the previous level or the
                    // first), so that returned tasks are signed again.
                    _ if task.level() > 0 && arg % 8 == 5 => {
                        let to = if arg % 16 == 5 { ReturnTo::Previous } else { ReturnTo::First };
                        TaskCommand::Return { to, reason: "材料需重新审查".into() }
                    }
                    _ => match arg % 20 {
                        0 | 4 | 8 => TaskCommand::Deny { reason: "不符合条件".into() },
                        1 => TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::ExpertReview },
                        2 | 3 => TaskCommand::ApproveSimulated,
                        _ => TaskCommand::Approve,
                    },
                };
                let actor = match action {
                    TaskCommand::Urge { .. } => Actor::leader("leader"),
                    _ => signer(&def, task, &dept),
                };
                return self.run(id, actor, Command::Task { item: task.item_id().clone(), action });
            }
            _ => 10,
        };
        self.command(case, kind, arg, 0);
    }

    fn complain(&mut self, target: u8, case: u8) {
        let n = self.hall.engine.cases_opened();
        let case = (n > 0 && case.is_multiple_of(2)).then(|| CaseId(u64::from(case) % n + 1));
        let target = match target % 3 {
            0 => ComplaintTarget::Department(Id::new(["market", "fire", "urban"][usize::from(target) % 3])),
            1 => ComplaintTarget::Window { window: Id::new("intake-1"), department: Id::new("market") },
            _ => ComplaintTarget::Process { description: "材料重复提交".into(), department: Id::new("planning") },
        };
        let applicant = Actor::applicant("complainer");
        let source = TicketSource::Complaint { target, case, text: "办事不方便".into() };
        if let Ok((_, events)) = self.hall.engine.open_ticket(source, &Ctx { now: self.hall.now, actor: &applicant }) {
            self.complaints += 1;
            self.log.extend(events);
        }
    }

    fn ticket_commands(&self, t: &Ticket, kind: u8, arg: u8) -> (Actor, TicketCommand) {
        let responsible = reviewer(t.department().as_str());
        let other = if t.department().as_str() == "supervision" { "market" } else { "supervision" };
        let supervisor = Actor::supervisor("s-1", other);
        let date = self.hall.now.date().add_days(i32::from(arg % 25));
        match kind {
            0 => (responsible, TicketCommand::FixNow),
            1 => (responsible, TicketCommand::Ledger { deadline: date }),
            2 => (responsible, TicketCommand::Explain { basis: "依据".into() }),
            3 => (responsible, TicketCommand::Appeal { reason: "误评".into() }),
            4 => (responsible, TicketCommand::SubmitRectification { measures: "措施".into(), evidence: "证据".into() }),
            5 => (supervisor, TicketCommand::Pass),
            6 => (supervisor, TicketCommand::Fail { kind: FailKind::Perfunctory }),
            7 => (supervisor, TicketCommand::UpholdAppeal),
            8 => (responsible, TicketCommand::FeedBack { message: "已整改".into() }),
            _ => (supervisor, TicketCommand::FollowUp { satisfied: !arg.is_multiple_of(4) }),
        }
    }

    fn ticket(&mut self, ticket: u8, kind: u8, arg: u8, actor: u8) {
        let tickets = self.hall.engine.tickets();
        if tickets.is_empty() {
            return;
        }
        let t = tickets[usize::from(ticket) % tickets.len()].clone();
        let (entitled, command) = self.ticket_commands(&t, kind, arg);
        let actor = if actor < 200 {
            entitled
        } else {
            let def = self.hall.engine.definition().clone();
            let mut pool: Vec<Actor> = def.departments().iter().map(|d| reviewer(d.id.as_str())).collect();
            pool.extend(def.departments().iter().map(|d| Actor::supervisor("s-x", d.id.as_str())));
            pool.push(Actor::applicant("complainer"));
            pool[usize::from(actor) % pool.len()].clone()
        };
        self.run_ticket(t.id(), actor, command);
    }

    fn ticket_progress(&mut self, ticket: u8, arg: u8) {
        let tickets = self.hall.engine.tickets();
        if tickets.is_empty() {
            return;
        }
        let t = tickets[usize::from(ticket) % tickets.len()].clone();
        let kind = match t.state() {
            TicketState::Verifying => [0, 1, 1, 2, 3][usize::from(arg) % 5],
            TicketState::Rectifying => 4,
            TicketState::AwaitingSupervision => [5, 5, 6, 7][usize::from(arg) % 4],
            TicketState::FeedingBack => 8,
            TicketState::FollowUp => 9,
            TicketState::Closed => return,
        };
        let (actor, command) = self.ticket_commands(&t, kind, arg);
        self.run_ticket(t.id(), actor, command);
    }

    fn run_ticket(&mut self, id: TicketId, actor: Actor, command: TicketCommand) {
        let before = self.hall.engine.ticket(id).cloned();
        match self.hall.engine.execute_ticket(id, &command, &Ctx { now: self.hall.now, actor: &actor }) {
            Ok(events) => self.log.extend(events),
            Err(_) => assert_eq!(self.hall.engine.ticket(id).cloned(), before, "a refused ticket command changed it"),
        }
    }

    fn run(&mut self, id: CaseId, actor: Actor, command: Command) {
        let before = self.hall.engine.case(id).cloned();
        match self.hall.engine.execute(id, command, &Ctx { now: self.hall.now, actor: &actor }) {
            Ok(events) => self.log.extend(events),
            Err(_) => assert_eq!(self.hall.engine.case(id).cloned(), before, "a refused command changed the case"),
        }
    }
}

impl StateMachineTest for Sut {
    type SystemUnderTest = Sut;
    type Reference = Model;

    fn init_test(_: &usize) -> Sut {
        Sut { hall: Hall::new(), log: Vec::new(), complaints: 0 }
    }

    fn apply(mut sut: Sut, _: &usize, step: Step) -> Sut {
        match step {
            Step::Open { bundle, consult, drop, tobacco, credit_blocked } => {
                sut.open(bundle, consult, drop, tobacco, credit_blocked)
            }
            Step::Command { case, kind, arg, actor } => sut.command(case, kind, arg, actor),
            Step::Progress { case, arg } => sut.progress(case, arg),
            Step::Complain { target, case } => sut.complain(target, case),
            Step::Ticket { ticket, kind, arg, actor } => sut.ticket(ticket, kind, arg, actor),
            Step::TicketProgress { ticket, arg } => sut.ticket_progress(ticket, arg),
            Step::Advance { minutes } => {
                sut.hall.now = sut.hall.now.plus_minutes(i64::from(minutes));
                let events = sut.hall.engine.advance_to(sut.hall.now);
                sut.log.extend(events);
                if let Some(next) = sut.hall.engine.next_deadline() {
                    assert!(next > sut.hall.now, "a due timer was left unfired");
                }
            }
        }
        sut
    }

    fn check_invariants(sut: &Sut, _: &usize) {
        let engine = &sut.hall.engine;
        let def = engine.definition();
        // The invariants of DESIGN §4.3, written once in `yichuang_core::invariants`.
        let fail = |v: invariants::Violation| -> () { panic!("invariant {}: {v}", v.invariant().number()) };
        for case in engine.cases() {
            invariants::task_order(def, case).unwrap_or_else(fail);
            invariants::delivery(def, case).unwrap_or_else(fail);
            invariants::deadlines(def, case).unwrap_or_else(fail);
        }
        let mut supervision = invariants::Supervision::default();
        for rec in &sut.log {
            supervision.observe(rec).unwrap_or_else(fail);
            let applicant = match rec.stream {
                StreamId::Case(c) => engine.case(c).map(|c| &c.applicant().id),
                StreamId::Ticket(_) => None,
            };
            invariants::authority(def, applicant, rec).unwrap_or_else(fail);
        }
        invariants::one_ticket_per_trigger(&sut.log).unwrap_or_else(fail);
        let complaints = sut
            .log
            .iter()
            .filter(|r| matches!(&r.event, Event::TicketOpened { source: TicketSource::Complaint { .. }, .. }))
            .count();
        assert_eq!(complaints, sut.complaints, "invariant 2: complaints and their tickets differ");
        invariants::replay(engine, &sut.log).unwrap_or_else(fail);
    }
}

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    Config { cases, failure_persistence: None, ..Config::default() }
}

prop_state_machine! {
    #![proptest_config(config(1000))]
    #[test]
    fn engine_keeps_its_invariants(sequential 1..120 => Sut);
}

// The broken-rule runs must find their violation every time: a fixed seed makes each run the
// same (a random one missed the broken recall about one run in ten), and up to 2,000 cases
// leave room; a run stops at the first violation it finds.
prop_state_machine! {
    #![proptest_config(Config {
        cases: 2_000,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(19),
        ..Config::default()
    })]
    fn engine_with_broken_rule(sequential 1..120 => Sut);
}
#[test]
fn the_property_test_catches_a_broken_ticket_rule() {
    let _fault = fault::inject(Fault::CloseWithoutSupervision);
    let caught = std::panic::catch_unwind(engine_with_broken_rule);
    let message = match caught {
        Ok(()) => panic!("departments passed their own rectifications and the property test did not notice"),
        Err(payload) => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("invariant 1") || message.contains("invariant 7"),
        "caught, but not by invariant 1: {message}"
    );
}
#[test]
fn the_property_test_catches_a_broken_rule() {
    let _fault = fault::inject(Fault::SkipPredecessorCheck);
    let caught = std::panic::catch_unwind(engine_with_broken_rule);
    let message = match caught {
        Ok(()) => panic!("tasks started before their predecessors and the property test did not notice"),
        Err(payload) => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("invariant 3"), "caught, but not by invariant 3: {message}");
}

/// The broken return (退回 strands the task in `Waiting`, a join stuck as in flowable #1641) is
/// caught by invariant 3's "no task without a way forward"; `yichuang-analysis`'s
/// `tests/check.rs` shows the checker catches the same rule.
#[test]
fn the_property_test_catches_a_broken_return() {
    let _fault = fault::inject(Fault::ReturnStrandsTask);
    let caught = std::panic::catch_unwind(engine_with_broken_rule);
    let message = match caught {
        Ok(()) => panic!("returned tasks were stranded in Waiting and the property test did not notice"),
        Err(payload) => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("invariant 3") && message.contains("a join stuck"),
        "caught, but not as a stranded task: {message}"
    );
}

/// The broken recall (撤回 leaves the dependents that became ready in the queue) is caught by
/// invariant 3; `yichuang-analysis`'s `tests/check.rs` shows the checker catches the same rule.
#[test]
fn the_property_test_catches_a_broken_recall() {
    let _fault = fault::inject(Fault::RecallLeavesDependentReady);
    let caught = std::panic::catch_unwind(engine_with_broken_rule);
    let message = match caught {
        Ok(()) => panic!("recalls left dependents ready and the property test did not notice"),
        Err(payload) => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("invariant 3"), "caught, but not by invariant 3: {message}");
}

/// `Case::execute` skips the cascade after events that cannot continue it; the list of those
/// that can is held to the cascade by a debug assertion, which the property test reaches.
#[test]
fn the_property_test_catches_a_broken_cascade_shortcut() {
    let _fault = fault::inject(Fault::ApprovalDoesNotCascade);
    let caught = std::panic::catch_unwind(engine_with_broken_rule);
    let message = match caught {
        Ok(()) => panic!("approvals did not cascade and the property test did not notice"),
        Err(payload) => payload.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("left the case unsettled"), "caught, but not by the settle check: {message}");
}
#[test]
fn replay_incrementally_equals_replay_at_once() {
    let mut sut = Sut { hall: Hall::new(), log: Vec::new(), complaints: 0 };
    sut.open(RESTAURANT, false, 0, true, false);
    sut.open(PROJECT, false, 0b0010_0000, false, false);
    for (kind, arg) in [(1, 0), (2, 4), (7, 0), (7, 64), (7, 1), (7, 65), (7, 2), (7, 66), (6, 0), (7, 3), (7, 67)] {
        sut.command(0, kind, arg, 0);
        sut.command(1, kind, arg, 0);
        sut.hall.now = sut.hall.now.plus_minutes(97);
        let fired = sut.hall.engine.advance_to(sut.hall.now);
        sut.log.extend(fired);
    }
    assert!(sut.log.len() > 15, "the scenario did something: {} events", sut.log.len());
    let def = sut.hall.engine.definition().clone();
    let at_once = Engine::replay(def.clone(), &sut.log).unwrap();
    let mut incremental = Engine::new(def.clone());
    for (i, rec) in sut.log.iter().enumerate() {
        incremental.apply(i, rec).unwrap();
        // Serialize and parse each event on the way, as a log on disk would.
        let text = serde_json::to_string(rec).unwrap();
        assert_eq!(&serde_json::from_str::<Recorded>(&text).unwrap(), rec);
    }
    let json = |e: &Engine| serde_json::to_string(&e.cases().collect::<Vec<_>>()).unwrap();
    assert_eq!(json(&at_once), json(&incremental));
    assert_eq!(json(&at_once), json(&sut.hall.engine));
}
#[test]
fn a_reordered_or_corrupted_log_is_reported_at_the_first_bad_event() {
    let mut sut = Sut { hall: Hall::new(), log: Vec::new(), complaints: 0 };
    sut.open(RESTAURANT, false, 0, false, false);
    for (kind, arg) in [(1, 0), (7, 0), (7, 64)] {
        sut.command(0, kind, arg, 0);
    }
    let def: Arc<Definition> = sut.hall.engine.definition().clone();
    let mut swapped = sut.log.clone();
    swapped.swap(1, 2);
    let err = Engine::replay(def.clone(), &swapped).unwrap_err();
    assert!(matches!(err, ReplayError::Illegal { position: 1, .. }), "{err}");
    let mut dropped = sut.log.clone();
    dropped.remove(2);
    assert!(matches!(Engine::replay(def.clone(), &dropped).unwrap_err(), ReplayError::Illegal { position: 2, .. }));
    let mut foreign = sut.log.clone();
    foreign[3].stream = CaseId(9).into();
    assert!(matches!(Engine::replay(def, &foreign).unwrap_err(), ReplayError::UnknownStream { position: 3, .. }));
}

/// The generator reaches every case state, so the invariants above are checked in all of them.
#[test]
fn random_sequences_reach_every_case_state() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    let mut tickets_seen = std::collections::BTreeSet::new();
    let mut events_seen = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let (_, steps, _) = Model::sequential_strategy(1..120).new_tree(&mut runner).unwrap().current();
        let mut sut = Sut { hall: Hall::new(), log: Vec::new(), complaints: 0 };
        for step in steps {
            sut = <Sut as StateMachineTest>::apply(sut, &0, step);
            seen.extend(sut.hall.engine.cases().map(|c| c.state()));
            tickets_seen.extend(sut.hall.engine.tickets().iter().map(|t| t.state()));
        }
        events_seen.extend(sut.log.iter().map(|r| r.event.name()));
    }
    // The approval operations are drawn too (issue 19): levels signed, returns, urges, and a
    // task approved at its last level after a return.
    for name in
        ["TaskLevelSigned", "TaskReturned", "TaskUrged", "TaskApproved", "TaskSigned", "TaskRecalled", "TaskUnready"]
    {
        assert!(events_seen.contains(name), "never recorded: {name}; seen {events_seen:?}");
    }
    // Revoked needs an issue-before-cure project delivered and then left uncured past its due date:
    // too rare for random sequences, so tests/table.rs and tests/engine.rs reach it on purpose.
    let missing: Vec<_> = CaseState::ALL.iter().filter(|s| !seen.contains(s) && **s != CaseState::Revoked).collect();
    assert!(missing.is_empty(), "never reached: {missing:?}");
    let missing: Vec<_> = TicketState::ALL.iter().filter(|s| !tickets_seen.contains(s)).collect();
    assert!(missing.is_empty(), "tickets never reached: {missing:?}");
}
