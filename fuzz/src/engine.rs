//! Sequences of commands, complaints, ticket commands and clock moves against the `Engine` on
//! the core's test hall, with DESIGN §4.3's invariants checked after every step: the fuzzing
//! counterpart of the property test `crates/yichuang-core/tests/properties.rs`, whose step
//! vocabulary it shares, driven by libFuzzer's coverage instead of proptest's random choice.

use std::collections::BTreeMap;

use yichuang_core::{
    Actor, Applicant, Case, CaseId, CaseState, Channel, Command, ComplaintTarget, Ctx, DeliveryMethod, Engine,
    FailKind, Id, Instant, Recorded, SpecialProcedureKind, Submission, Task, TaskCommand, TaskState, Ticket,
    TicketCommand, TicketId, TicketSource, TicketState,
};

use crate::Bytes;

/// The most steps one input runs (each step is at least one byte).
pub const STEPS_MAX: usize = 160;

const MATERIALS: [&str; 7] =
    ["licence-form", "lease", "health-cert", "floor-plan", "design", "safety-plan", "completion-report"];

/// Runs `data` as a sequence of steps; panics on a broken invariant, on a refused command that
/// changed a case or ticket, or on a due timer left unfired.
pub fn check(data: &[u8]) {
    let mut bytes = Bytes::new(data);
    let mut hall = Run::new();
    for _ in 0..STEPS_MAX {
        if bytes.is_empty() {
            break;
        }
        hall.step(&mut bytes);
        crate::invariants::hold(&hall.engine, &hall.log);
        assert_eq!(hall.complaint_tickets(), hall.complaints, "invariant 2: complaints and their tickets differ");
    }
}

/// The log that `data` writes when run as a sequence of steps (the seeds of `stored_event`).
pub fn log(data: &[u8]) -> Vec<Recorded> {
    let mut bytes = Bytes::new(data);
    let mut hall = Run::new();
    for _ in 0..STEPS_MAX {
        if bytes.is_empty() {
            break;
        }
        hall.step(&mut bytes);
    }
    hall.log
}

/// One hall's engine, its clock and its log.
struct Run {
    engine: Engine,
    now: Instant,
    log: Vec<Recorded>,
    /// Complaints the engine accepted (each must open exactly one ticket).
    complaints: usize,
}

fn reviewer(dept: &str) -> Actor {
    Actor::reviewer(&format!("r-{dept}"), dept)
}

impl Run {
    fn new() -> Run {
        let now = "2026-03-02T09:30".parse().expect("a valid instant");
        Run { engine: Engine::new(crate::stored_event::definition()), now, log: Vec::new(), complaints: 0 }
    }

    fn complaint_tickets(&self) -> usize {
        let complaint = |r: &&Recorded| {
            matches!(&r.event, yichuang_core::Event::TicketOpened { source: TicketSource::Complaint { .. }, .. })
        };
        self.log.iter().filter(complaint).count()
    }

    fn step(&mut self, b: &mut Bytes<'_>) {
        let opened = self.engine.cases_opened();
        match b.byte() % 16 {
            _ if opened == 0 => self.open(b),
            0 => self.open(b),
            1..=3 => self.command(b),
            4..=9 => self.progress(b),
            10 => self.complain(b),
            11 => self.ticket(b),
            12 | 13 => self.ticket_progress(b),
            _ => {
                let minutes = match b.byte() {
                    0..=199 => u32::from(b.u16()) % 4000,
                    _ => 4000 + u32::from(b.u16()) % 36_000,
                };
                self.advance(minutes);
            }
        }
    }

    fn advance(&mut self, minutes: u32) {
        // The hall keeps its calendar a year ahead of the work (ARCHITECTURE.md, "Time and the
        // calendar"): a deadline past the covered years is not scheduled, and invariant 5
        // rightly reports it. The test hall covers 2025–2026, so the clock stops three months
        // before its end (the fuzzer found that moving on into 2027 trips invariant 5).
        let last: Instant = "2026-10-01T00:00".parse().expect("a valid instant");
        self.now = self.now.plus_minutes(i64::from(minutes)).min(last.max(self.now));
        let events = self.engine.advance_to(self.now);
        self.log.extend(events);
        if let Some(next) = self.engine.next_deadline() {
            assert!(next > self.now, "a due timer was left unfired");
        }
    }

    fn open(&mut self, b: &mut Bytes<'_>) {
        let (flags, drop) = (b.byte(), b.byte());
        let (project, consult, tobacco) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
        let credit_blocked = flags & 0xf8 == 0xf8;
        let n = self.engine.cases_opened();
        let applicant = Applicant { id: Id::new(&format!("A{n}")), name: format!("申请人{n}"), credit_blocked };
        let actor = Actor::applicant(applicant.id.as_str());
        let bundle = if project { "project" } else { "restaurant" };
        let materials: Vec<Id> =
            MATERIALS.iter().enumerate().filter(|(i, _)| drop & (1 << i) == 0).map(|(_, m)| Id::new(m)).collect();
        let mut answers = BTreeMap::new();
        if !project {
            answers.insert("sells-tobacco".to_owned(), if tobacco { "是" } else { "否" }.to_owned());
        }
        let command = if consult {
            Command::Consult { bundle: Id::new(bundle), applicant }
        } else {
            Command::Submit(Box::new(Submission {
                bundle: Id::new(bundle),
                applicant,
                channel: Channel::Window,
                materials: materials.into(),
                answers: answers.into(),
                green_channel: project,
            }))
        };
        // Refused openings (a credit-blocked applicant) open nothing.
        match self.engine.open(command, &Ctx { now: self.now, actor: &actor }) {
            Ok((_, events)) => self.log.extend(events),
            Err(_) => assert_eq!(self.engine.cases_opened(), n, "a refused opening opened a case"),
        }
    }

    fn pick_case(&self, b: &mut Bytes<'_>) -> (CaseId, Case) {
        let id = CaseId(u64::from(b.byte()) % self.engine.cases_opened() + 1);
        (id, self.engine.case(id).expect("opened cases are held").clone())
    }

    fn pool(&self, case: &Case) -> Vec<Actor> {
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
        actors.extend(self.engine.definition().departments().iter().map(|d| reviewer(d.id.as_str())));
        actors
    }

    fn command(&mut self, b: &mut Bytes<'_>) {
        let (id, c) = self.pick_case(b);
        let (kind, arg, who) = (b.byte() % 12, b.byte(), b.byte());
        let (entitled, command) = self.case_command(&c, kind, arg);
        let actor = if who < 200 {
            entitled
        } else {
            let pool = self.pool(&c);
            pool[usize::from(who) % pool.len()].clone()
        };
        self.run(id, actor, command);
    }

    fn case_command(&self, c: &Case, kind: u8, arg: u8) -> (Actor, Command) {
        let def = self.engine.definition().clone();
        let applicant = Actor::applicant(c.applicant().id.as_str());
        let intake = Actor::clerk("c-intake", "intake-1");
        match kind {
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
            2 => (intake, Command::AcceptTolerating { cure_due: self.now.date().add_days(i32::from(arg % 26)) }),
            3 => (intake, Command::RequestCorrection),
            4 => {
                (intake, Command::Reject { reason: if arg.is_multiple_of(5) { String::new() } else { "理由".into() } })
            }
            5 => (applicant, Command::Resubmit { materials: MATERIALS.iter().map(|m| Id::new(m)).collect() }),
            6 => {
                let outstanding = c.outstanding();
                let material = outstanding
                    .get(usize::from(arg) % outstanding.len().max(1))
                    .cloned()
                    .unwrap_or_else(|| Id::new("lease"));
                (applicant, Command::Supply { material })
            }
            7 | 11 => self.task_command(c, arg),
            8 => {
                let method =
                    [DeliveryMethod::Window, DeliveryMethod::Post, DeliveryMethod::Electronic][usize::from(arg) % 3];
                (Actor::clerk("c-delivery", "delivery-1"), Command::Deliver { method })
            }
            9 => (applicant, Command::Rate { stars: arg % 7 }),
            _ => (applicant, Command::Withdraw),
        }
    }

    fn task_command(&self, c: &Case, arg: u8) -> (Actor, Command) {
        let def = self.engine.definition().clone();
        // Prefer open tasks so that sequences get deep into the machine.
        let open: Vec<&Task> = c.tasks().iter().filter(|t| !t.state().is_terminal()).collect();
        let pick = if open.is_empty() || arg.is_multiple_of(7) { c.tasks().iter().collect() } else { open };
        let Some(task) = (!pick.is_empty()).then(|| pick[usize::from(arg) % pick.len()]) else {
            return (reviewer("market"), Command::Task { item: Id::new("licence"), action: TaskCommand::Claim });
        };
        let depts = def.item(task.item()).decided_by.departments();
        let dept = def.department(depts[usize::from(arg / 8) % depts.len()]).id.to_string();
        let action = match (arg / 32) % 8 {
            0 | 1 => TaskCommand::Claim,
            2 | 3 => TaskCommand::Approve,
            4 => TaskCommand::Deny { reason: "不符合条件".into() },
            5 => match task.state() {
                TaskState::SpecialProcedure => TaskCommand::EndSpecialProcedure,
                _ => TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::Testing },
            },
            6 => TaskCommand::ApproveSimulated,
            _ => TaskCommand::MeetPrecondition { facts_changed: arg.is_multiple_of(2) },
        };
        (reviewer(&dept), Command::Task { item: task.item_id().clone(), action })
    }

    /// The command a hall would issue next, mostly the happy path.
    fn progress(&mut self, b: &mut Bytes<'_>) {
        let (id, c) = self.pick_case(b);
        let arg = b.byte();
        let kind = match c.state() {
            CaseState::Consulting => 0,
            CaseState::Received => [1, 2, 2, 2, 3][usize::from(arg) % 5],
            CaseState::AwaitingCorrection => 5,
            CaseState::AwaitingCure | CaseState::Suspended if !arg.is_multiple_of(4) => 6,
            CaseState::ReadyForDelivery if !c.outstanding().is_empty() && arg.is_multiple_of(2) => 6,
            CaseState::ReadyForDelivery => 8,
            CaseState::Delivered => 9,
            CaseState::InApproval if !c.outstanding().is_empty() && arg.is_multiple_of(8) => 6,
            CaseState::InApproval => return self.progress_task(id, &c, arg),
            _ => 10,
        };
        let (actor, command) = self.case_command(&c, kind, if kind == 9 { 1 + arg % 5 } else { arg });
        self.run(id, actor, command);
    }

    fn progress_task(&mut self, id: CaseId, c: &Case, arg: u8) {
        let movable = |t: &&Task| {
            matches!(
                t.state(),
                TaskState::Ready | TaskState::InReview | TaskState::SpecialProcedure | TaskState::SimulatedApproved
            )
        };
        let Some(task) = c.tasks().iter().find(movable) else { return };
        let def = self.engine.definition().clone();
        let depts = def.item(task.item()).decided_by.departments();
        let d = (0..depts.len()).find(|i| task.signed() & (1 << i) == 0).unwrap_or(0);
        let dept = def.department(depts[d]).id.to_string();
        let action = match task.state() {
            TaskState::Ready => TaskCommand::Claim,
            TaskState::SpecialProcedure => TaskCommand::EndSpecialProcedure,
            TaskState::SimulatedApproved => TaskCommand::MeetPrecondition { facts_changed: arg.is_multiple_of(5) },
            _ => match arg % 20 {
                0 | 4 | 8 => TaskCommand::Deny { reason: "不符合条件".into() },
                1 => TaskCommand::StartSpecialProcedure { kind: SpecialProcedureKind::ExpertReview },
                2 | 3 => TaskCommand::ApproveSimulated,
                _ => TaskCommand::Approve,
            },
        };
        self.run(id, reviewer(&dept), Command::Task { item: task.item_id().clone(), action });
    }

    fn complain(&mut self, b: &mut Bytes<'_>) {
        let (target, case) = (b.byte(), b.byte());
        let n = self.engine.cases_opened();
        let case = (n > 0 && case.is_multiple_of(2)).then(|| CaseId(u64::from(case) % n + 1));
        let target = match target % 3 {
            0 => ComplaintTarget::Department(Id::new(["market", "fire", "urban"][usize::from(target) % 3])),
            1 => ComplaintTarget::Window { window: Id::new("intake-1"), department: Id::new("market") },
            _ => ComplaintTarget::Process { description: "材料重复提交".into(), department: Id::new("planning") },
        };
        let applicant = Actor::applicant("complainer");
        let source = TicketSource::Complaint { target, case, text: "办事不方便".into() };
        let before = self.engine.tickets().len();
        match self.engine.open_ticket(source, &Ctx { now: self.now, actor: &applicant }) {
            Ok((_, events)) => {
                self.complaints += 1;
                self.log.extend(events);
            }
            Err(_) => assert_eq!(self.engine.tickets().len(), before, "a refused complaint opened a ticket"),
        }
    }

    fn ticket_command(&self, t: &Ticket, kind: u8, arg: u8) -> (Actor, TicketCommand) {
        let responsible = reviewer(t.department().as_str());
        let other = if t.department().as_str() == "supervision" { "market" } else { "supervision" };
        let supervisor = Actor::supervisor("s-1", other);
        let date = self.now.date().add_days(i32::from(arg % 25));
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

    fn ticket(&mut self, b: &mut Bytes<'_>) {
        let (which, kind, arg, who) = (b.byte(), b.byte() % 10, b.byte(), b.byte());
        let tickets = self.engine.tickets();
        if tickets.is_empty() {
            return;
        }
        let t = tickets[usize::from(which) % tickets.len()].clone();
        let (entitled, command) = self.ticket_command(&t, kind, arg);
        let actor = if who < 200 {
            entitled
        } else {
            let def = self.engine.definition().clone();
            let mut pool: Vec<Actor> = def.departments().iter().map(|d| reviewer(d.id.as_str())).collect();
            pool.extend(def.departments().iter().map(|d| Actor::supervisor("s-x", d.id.as_str())));
            pool.push(Actor::applicant("complainer"));
            pool[usize::from(who) % pool.len()].clone()
        };
        self.run_ticket(t.id(), actor, command);
    }

    fn ticket_progress(&mut self, b: &mut Bytes<'_>) {
        let (which, arg) = (b.byte(), b.byte());
        let tickets = self.engine.tickets();
        if tickets.is_empty() {
            return;
        }
        let t = tickets[usize::from(which) % tickets.len()].clone();
        let kind = match t.state() {
            TicketState::Verifying => [0, 1, 1, 2, 3][usize::from(arg) % 5],
            TicketState::Rectifying => 4,
            TicketState::AwaitingSupervision => [5, 5, 6, 7][usize::from(arg) % 4],
            TicketState::FeedingBack => 8,
            TicketState::FollowUp => 9,
            TicketState::Closed => return,
        };
        let (actor, command) = self.ticket_command(&t, kind, arg);
        self.run_ticket(t.id(), actor, command);
    }

    fn run_ticket(&mut self, id: TicketId, actor: Actor, command: TicketCommand) {
        let before = self.engine.ticket(id).cloned();
        match self.engine.execute_ticket(id, &command, &Ctx { now: self.now, actor: &actor }) {
            Ok(events) => self.log.extend(events),
            Err(_) => assert_eq!(self.engine.ticket(id).cloned(), before, "a refused ticket command changed it"),
        }
    }

    fn run(&mut self, id: CaseId, actor: Actor, command: Command) {
        let before = self.engine.case(id).cloned();
        match self.engine.execute(id, command, &Ctx { now: self.now, actor: &actor }) {
            Ok(events) => self.log.extend(events),
            Err(_) => assert_eq!(self.engine.case(id).cloned(), before, "a refused command changed the case"),
        }
    }
}
