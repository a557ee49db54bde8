//! A second way to embed the engine: a tiny hall service on plain threads with storage of its
//! own, without `yichuang-server`. It shows the integration points an embedder wires up:
//!
//! - **a sink** (`Outbox`, an [`EventSink`]): the engine hands every recorded event to it; the
//!   service keeps the events to commit and routes each task entering a queue (`TaskReady`, a
//!   review level signed, a return) to its department's inbox;
//! - **storage**: an append-only journal of JSON lines, written and `fsync`ed before a request
//!   is answered (nothing acknowledged is lost);
//! - **timers**: the service owns the clock; before each request it fires what is due
//!   ([`Engine::advance_into`]) and reports the next deadline ([`Engine::next_deadline`]);
//! - **replay**: a restarted service rebuilds its state from the journal ([`Engine::replay`])
//!   and carries on; the rebuilt case equals the one the first service held.
//!
//! The service thread owns the [`Engine`] and the journal; clients talk to it over a channel.
//! Here one client plays the intake clerk, the reviewers, the delivery clerk and the applicant of
//! one 我要开饭店 case, leaves the signboard review waiting until its time limit passes (the
//! SLA timers fire), restarts the service twice and finally rates the case badly, which opens a
//! ticket (评价 → 整改) that the third service finds in the journal.
//!
//! ```text
//! cargo run --example hall_service [-- --dir PATH]
//! ```
//!
//! Exit codes: 0 every step behaved as described; 1 a step did not; 2 bad arguments or the
//! definition is missing or invalid.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;

use yichuang::definition::WindowClass;
use yichuang::prelude::*;

const DEFINITION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/definitions/county-hall.ron");
const BUNDLE: &str = "open-restaurant";
/// The item left waiting until its time limit passes.
const SLOW_ITEM: &str = "outdoor-signboard";

// ───────────────────────────── storage ─────────────────────────────

/// The service's own storage: one `Recorded` per line, appended and synced per request.
struct Journal {
    file: File,
}

impl Journal {
    /// Opens (or creates) the journal and reads what it holds.
    fn open(path: &Path) -> Result<(Journal, Vec<Recorded>), String> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the journal {}: {e}", path.display()))?;
        let mut history = Vec::new();
        for (n, line) in BufReader::new(&file).lines().enumerate() {
            let line = line.map_err(|e| format!("cannot read the journal: {e}"))?;
            let record = serde_json::from_str(&line)
                .map_err(|e| format!("line {} of the journal is not an event ({e})", n + 1))?;
            history.push(record);
        }
        Ok((Journal { file }, history))
    }

    /// Appends the events of one request and syncs them to disk before the caller replies.
    fn commit(&mut self, events: &[Recorded]) -> Result<(), String> {
        if events.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for e in events {
            text.push_str(&serde_json::to_string(e).map_err(|e| e.to_string())?);
            text.push('\n');
        }
        self.file.write_all(text.as_bytes()).and_then(|()| self.file.sync_data()).map_err(|e| e.to_string())
    }
}

// ───────────────────────────── the sink ─────────────────────────────

/// Where the engine writes: the events to commit, and the tasks that became ready, for the
/// departments' inboxes.
#[derive(Default)]
struct Outbox {
    log: Vec<Recorded>,
    ready: Vec<(CaseId, Id)>,
}

impl EventSink for Outbox {
    fn record(&mut self, stream: StreamId, seq: u32, at: Instant, by: &Actor, event: Event) {
        // A task enters its department's queue when it becomes ready, and again at each review
        // level (分级审批) and after a return (退回).
        if let (
            StreamId::Case(case),
            Event::TaskReady { item } | Event::TaskLevelSigned { item, .. } | Event::TaskReturned { item, .. },
        ) = (stream, &event)
        {
            self.ready.push((case, item.clone()));
        }
        self.log.push(Recorded { v: yichuang::event::EVENT_SCHEMA_VERSION, stream, seq, at, by: by.clone(), event });
    }
}

// ───────────────────────────── the service ─────────────────────────────

/// A request to the service: what to do, as whom, at what time, and where to answer.
enum Request {
    Open {
        command: Box<Command>,
        actor: Actor,
        now: Instant,
        reply: Sender<Result<CaseId, String>>,
    },
    Execute {
        case: CaseId,
        command: Command,
        actor: Actor,
        now: Instant,
        reply: Sender<Result<(), String>>,
    },
    /// Move the clock: fire every timer due by `now`; answer with the events the timers recorded.
    Tick {
        now: Instant,
        reply: Sender<Vec<String>>,
    },
    /// A department's inbox: the ready tasks routed to it and not yet taken.
    Inbox {
        department: Id,
        reply: Sender<Vec<(CaseId, Id)>>,
    },
    /// Stop, answering with the state of a case (to compare with a restarted service).
    Stop {
        case: CaseId,
        reply: Sender<Option<Case>>,
    },
}

/// What a service thread does with its engine between requests.
struct Service {
    engine: Engine,
    journal: Journal,
    inbox: BTreeMap<Id, Vec<(CaseId, Id)>>,
}

impl Service {
    /// Starts from the journal: replays it and rebuilds the inboxes from the engine's queues.
    fn start(def: Arc<Definition>, path: &Path) -> Result<Service, String> {
        let (journal, history) = Journal::open(path)?;
        let engine =
            Engine::replay(Arc::clone(&def), &history).map_err(|e| format!("the journal does not replay: {e}"))?;
        let mut inbox: BTreeMap<Id, Vec<(CaseId, Id)>> = BTreeMap::new();
        for department in def.departments() {
            for (case, task) in engine.department_tasks(&department.id, TaskState::Ready) {
                inbox.entry(department.id.clone()).or_default().push((case, task.item_id().clone()));
            }
        }
        if !history.is_empty() {
            println!("  service: replayed {} events from the journal", history.len());
        }
        Ok(Service { engine, journal, inbox })
    }

    /// Fires the timers due by `now` into `out`.
    fn tick(&mut self, now: Instant, out: &mut Outbox) {
        if self.engine.next_deadline().is_some_and(|due| due <= now) {
            self.engine.advance_into(now, out);
        }
    }

    /// Commits what the sink received and routes the ready tasks; only then may the caller reply.
    fn commit(&mut self, out: Outbox) -> Result<Vec<Recorded>, String> {
        self.journal.commit(&out.log)?;
        let def = Arc::clone(self.engine.definition());
        for (case, item) in out.ready {
            if let Some(ix) = def.item_ix(&item) {
                let department = def.department(def.item(ix).decided_by.departments()[0]).id.clone();
                self.inbox.entry(department).or_default().push((case, item));
            }
        }
        Ok(out.log)
    }

    fn run(mut self, requests: Receiver<Request>) -> Result<(), String> {
        for request in requests {
            let mut out = Outbox::default();
            match request {
                Request::Open { command, actor, now, reply } => {
                    self.tick(now, &mut out);
                    let opened = self.engine.open_into(*command, &Ctx { now, actor: &actor }, &mut out);
                    self.commit(out)?;
                    let _ = reply.send(opened.map_err(|r| r.to_string()));
                }
                Request::Execute { case, command, actor, now, reply } => {
                    self.tick(now, &mut out);
                    if let Command::Task { item, action: TaskCommand::Claim } = &command {
                        for queue in self.inbox.values_mut() {
                            queue.retain(|(c, i)| !(*c == case && i == item));
                        }
                    }
                    let done = self.engine.execute_into(case, &command, &Ctx { now, actor: &actor }, &mut out);
                    self.commit(out)?;
                    let _ = reply.send(done.map_err(|r| r.to_string()));
                }
                Request::Tick { now, reply } => {
                    self.tick(now, &mut out);
                    let fired = self.commit(out)?;
                    let _ =
                        reply.send(fired.iter().map(|r| format!("{} {} {}", r.at, r.stream, r.event.name())).collect());
                }
                Request::Inbox { department, reply } => {
                    let _ = reply.send(self.inbox.get(&department).cloned().unwrap_or_default());
                }
                Request::Stop { case, reply } => {
                    let _ = reply.send(self.engine.case(case).cloned());
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Starts a service thread on the journal at `path`; returns its request channel and handle.
fn spawn(def: &Arc<Definition>, path: &Path) -> (Sender<Request>, thread::JoinHandle<Result<(), String>>) {
    let (to_service, requests) = channel();
    let (def, path) = (Arc::clone(def), path.to_owned());
    let handle = thread::spawn(move || Service::start(def, &path)?.run(requests));
    (to_service, handle)
}

// ───────────────────────────── a client ─────────────────────────────

/// A client's handle: sends a request and waits for the answer.
struct Client {
    service: Sender<Request>,
}

impl Client {
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Request) -> Result<T, String> {
        let (reply, answer) = channel();
        self.service.send(make(reply)).map_err(|_| "the service stopped".to_owned())?;
        answer.recv().map_err(|_| "the service stopped without answering".to_owned())
    }

    fn execute(&self, case: CaseId, command: Command, actor: &Actor, now: Instant) -> Result<(), String> {
        let what = command.name();
        self.ask(|reply| Request::Execute { case, command, actor: actor.clone(), now, reply })?
            .map_err(|e| format!("{what} refused: {e}"))
    }

    fn stop(&self, case: CaseId) -> Result<Option<Case>, String> {
        self.ask(|reply| Request::Stop { case, reply })
    }
}

fn main() -> ExitCode {
    let dir = match parse_args(std::env::args().skip(1)) {
        Ok(dir) => dir,
        Err(message) => {
            eprintln!("error: {message}\nusage: cargo run --example hall_service [-- --dir PATH]");
            return ExitCode::from(2);
        }
    };
    let def = match std::fs::read_to_string(DEFINITION)
        .map_err(|e| e.to_string())
        .and_then(|text| Definition::from_ron(&text, DEFINITION).map_err(|d| d.to_string()))
    {
        Ok(def) => Arc::new(def),
        Err(e) => {
            eprintln!("error: the definition {DEFINITION}: {e}");
            return ExitCode::from(2);
        }
    };
    match scenario(&def, &dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<PathBuf, String> {
    let mut dir = std::env::temp_dir().join(format!("yichuang-hall-service-{}", std::process::id()));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir needs a path")?),
            other => return Err(format!("unknown argument `{other}`; accepted: --dir PATH")),
        }
    }
    Ok(dir)
}

fn scenario(def: &Arc<Definition>, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let journal = dir.join("journal.jsonl");
    let _ = std::fs::remove_file(&journal);
    let window = |class| def.windows().iter().find(|w| w.class == class).map(|w| w.id.clone());
    let intake = Actor::clerk("clerk-1", &window(WindowClass::Intake).ok_or("no intake window")?);
    let delivery = Actor::clerk("clerk-9", &window(WindowClass::Delivery).ok_or("no delivery window")?);
    let applicant =
        Applicant { id: Id::new("91000000MA00000001"), name: "示例餐饮有限公司".into(), credit_blocked: false };
    let bundle = def.bundle(def.bundle_ix(BUNDLE).ok_or("no bundle open-restaurant")?);

    // ── the first service: intake, approvals, a time limit passing, delivery ──
    println!("service 1 on {}", journal.display());
    let (to_service, handle) = spawn(def, &journal);
    let client = Client { service: to_service };
    let mut now: Instant = "2026-04-29T09:30".parse().map_err(|e| format!("{e:?}"))?;
    let materials: Vec<Id> = bundle
        .materials
        .iter()
        .map(|&(m, _)| def.material(m))
        .filter(|m| m.shared_source.is_none())
        .map(|m| m.id.clone())
        .collect();
    let submission = Submission {
        bundle: bundle.id.clone(),
        applicant: applicant.clone(),
        channel: Channel::Window,
        materials: materials.into(),
        answers: BTreeMap::from([
            ("company-name".to_owned(), applicant.name.clone()),
            ("food-business-type".to_owned(), "热食类食品制售".to_owned()),
        ])
        .into(),
        green_channel: false,
    };
    let case = client
        .ask(|reply| Request::Open {
            command: Box::new(Command::Submit(Box::new(submission))),
            actor: intake.clone(),
            now,
            reply,
        })?
        .map_err(|e| format!("submission refused: {e}"))?;
    client.execute(case, Command::Accept, &intake, now)?;
    println!("  {case} accepted at {now}");

    // Each department's reviewer takes what its inbox holds, except the slow one. An item with
    // review levels (承办 → 审核 → 批准) comes back to the inbox once per level, and each level is
    // signed by another person (受审分离): one reviewer per department and round.
    let mut slow = None;
    for round in 0..8 * bundle.members.len() {
        now = def.calendar().advance_working_minutes(now, 120).map_err(|e| e.to_string())?;
        let mut worked = 0;
        for department in def.departments() {
            let tasks = client.ask(|reply| Request::Inbox { department: department.id.clone(), reply })?;
            for (c, item) in tasks {
                let reviewer = Actor::reviewer(&format!("reviewer-{}-{}", department.id, round + 1), &department.id);
                if item.as_str() == SLOW_ITEM {
                    slow.get_or_insert((c, item.clone(), reviewer));
                    continue;
                }
                client.execute(c, Command::Task { item: item.clone(), action: TaskCommand::Claim }, &reviewer, now)?;
                client.execute(
                    c,
                    Command::Task { item: item.clone(), action: TaskCommand::Approve },
                    &reviewer,
                    now,
                )?;
                println!("  round {round}: {} approved {item}", department.name);
                worked += 1;
            }
        }
        if worked == 0 {
            break;
        }
    }
    // The signboard waits: move the clock past its time limit and let the timers fire.
    let (c, item, reviewer) = slow.ok_or("the signboard task never became ready")?;
    let promised = def.item(def.item_ix(SLOW_ITEM).ok_or("no signboard item")?).promised_days;
    let later = def.calendar().add_working_days(now.date(), promised + 1).map_err(|e| e.to_string())?;
    now = def.calendar().office_close(later);
    let fired = client.ask(|reply| Request::Tick { now, reply })?;
    println!("  the clock moves to {now}; the timers record:");
    for line in &fired {
        println!("    {line}");
    }
    if !fired.iter().any(|l| l.contains("SlaLevelChanged")) || !fired.iter().any(|l| l.contains("TicketOpened")) {
        return Err("the overdue signboard should change its SLA level and open a ticket".into());
    }
    client.execute(c, Command::Task { item: item.clone(), action: TaskCommand::Claim }, &reviewer, now)?;
    client.execute(c, Command::Task { item, action: TaskCommand::Approve }, &reviewer, now)?;
    client.execute(case, Command::Deliver { method: DeliveryMethod::Window }, &delivery, now)?;
    println!("  {case} delivered at {now}");
    let before = client.stop(case)?.ok_or("the first service lost the case")?;
    handle.join().map_err(|_| "service 1 panicked")??;

    // ── the second service: replays the journal, the applicant rates badly ──
    println!("service 2 (restarted)");
    let (to_service, handle) = spawn(def, &journal);
    let client = Client { service: to_service };
    let rebuilt = client.stop(case)?.ok_or("the replayed service lost the case")?;
    handle.join().map_err(|_| "service 2 panicked")??;
    if rebuilt != before {
        return Err("the case rebuilt from the journal differs from the one the first service held".into());
    }
    println!("  {case} rebuilt from the journal equals the one service 1 held");
    println!("service 3 (restarted again)");
    let (to_service, handle) = spawn(def, &journal);
    let client = Client { service: to_service };
    let applicant_actor = Actor::applicant(applicant.id.as_str());
    client.execute(case, Command::Rate { stars: 2 }, &applicant_actor, now)?;
    println!("  the applicant rates 2 stars (差评)");
    client.stop(case)?;
    handle.join().map_err(|_| "service 3 panicked")??;

    // ── a last start: the bad rating's ticket is in the journal ──
    let (_, history) = Journal::open(&journal)?;
    let engine = Engine::replay(Arc::clone(def), &history).map_err(|e| e.to_string())?;
    let bad_rating = engine
        .tickets()
        .iter()
        .filter(|t| matches!(t.source(), TicketSource::BadRating { case: c, .. } if *c == case))
        .count();
    println!(
        "journal: {} events; tickets: {} (from the bad rating: {bad_rating})",
        history.len(),
        engine.tickets().len()
    );
    if bad_rating != 1 {
        return Err(format!("a bad rating opens exactly one ticket; the journal holds {bad_rating}"));
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
