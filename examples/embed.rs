//! A small service embedding the engine: one 我要开饭店 (`open-restaurant`) case from the intake
//! window to the five-star rating, with every recorded event printed and, on request, written
//! as JSON lines that `Engine::replay` reads back.
//!
//! ```text
//! cargo run --example embed [-- --log PATH] [--definition PATH]
//! ```
//!
//! Exit codes: 0 the case closed; 1 the engine refused a step or the log could not be written;
//! 2 bad arguments, or the definition is missing, invalid or lacks the bundle.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;

use yichuang::definition;
use yichuang::event::SlaSubject;
use yichuang::prelude::*;

// The lifecycle logic (approve every ready task as its department's reviewer, deliver, rate)
// lives in the benchmark package so that the `engine` benchmark measures exactly what this
// example prints. Including the file, rather than depending on `yichuang-benches`, keeps the
// published facade package free of a dependency on an unpublished one.
#[path = "../benches/src/driver.rs"]
mod driver;

use driver::Staff;

const DEFINITION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/definitions/county-hall.ron");
const BUNDLE: &str = "open-restaurant";
/// Working minutes the clock moves between two steps of the case.
const STEP_MINUTES: i64 = 180;

struct Args {
    definition: String,
    log: Option<String>,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}\nusage: cargo run --example embed [-- --log PATH] [--definition PATH]");
            return ExitCode::from(2);
        }
    };
    let def = match load(&args.definition) {
        Ok(def) => Arc::new(def),
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let Some(bundle) = def.bundle_ix(BUNDLE) else {
        eprintln!("error: {} defines no bundle `{BUNDLE}`; it defines: {}", args.definition, def.bundle_ids_text());
        return ExitCode::from(2);
    };
    let log = match serve(&def, bundle) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = &args.log {
        if let Err(e) = write_log(path, &log) {
            eprintln!("error: cannot write the event log to {path}: {e}");
            return ExitCode::from(1);
        }
        println!("log: {} events written to {path} as JSON lines", log.len());
    }
    ExitCode::SUCCESS
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args { definition: DEFINITION.to_owned(), log: None };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a path"));
        match arg.as_str() {
            "--log" => parsed.log = Some(value("--log")?),
            "--definition" => parsed.definition = value("--definition")?,
            other => {
                return Err(format!("unknown argument `{other}`; accepted: --log PATH, --definition PATH"));
            }
        }
    }
    Ok(parsed)
}

fn load(path: &str) -> Result<Definition, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the definition {path}: {e}"))?;
    Definition::from_ron(&text, path).map_err(|diagnostics| format!("the definition {path} is invalid:\n{diagnostics}"))
}

/// Runs the case and prints it; returns the whole log.
fn serve(def: &Arc<Definition>, bundle: definition::BundleIx) -> Result<Vec<Recorded>, driver::DriveError> {
    let b = def.bundle(bundle);
    println!("{} — {} ({}), promised {} working days", def.name(), b.name, b.id, b.promised_days);
    for m in &b.members {
        let item = def.item(m.item);
        let deciders: Vec<&str> =
            item.decided_by.departments().iter().map(|&d| def.department(d).name.as_str()).collect();
        println!("  {:<20} {} — {}, {} wd", item.id, item.name, deciders.join(" + "), item.promised_days);
    }
    println!();

    let applicant =
        Applicant {
            id: Id::new("91000000MA00000001"), name: "示例县张三餐饮有限公司".into(), credit_blocked: false
        };
    let answers = BTreeMap::from([
        ("company-name".to_owned(), applicant.name.clone()),
        ("food-business-type".to_owned(), "热食类食品制售".to_owned()),
        ("sells-tobacco".to_owned(), "是".to_owned()),
    ]);
    let staff = Staff::new(def, &applicant.id)?;
    let submission = driver::complete_submission(def, bundle, applicant, answers);

    let mut engine = Engine::new(Arc::clone(def));
    let mut log = Vec::new();
    // 2026-04-29 is the Wednesday before the 劳动节 holiday (May 1–5): the case spans it.
    let mut now: Instant = "2026-04-29T09:30".parse().expect("a valid instant");
    let submitted = now;
    // The bureau tracks its rectification plan (整改方案) as tickets in the same log, so that
    // `yichuang report` on this log shows the four lists with the plan's tasks.
    let leader = Actor::leader("director");
    let plan = engine
        .open_plan_tickets(&Ctx { now, actor: &leader })
        .map_err(|rejection| driver::DriveError::Refused { command: "open plan tickets", rejection })?;
    log.extend(plan);
    let case = engine
        .open_into(Command::Submit(Box::new(submission)), &Ctx { now, actor: &staff.intake }, &mut log)
        .map_err(|rejection| driver::DriveError::Refused { command: "submit", rejection })?;
    driver::tick(&mut engine, &mut now, STEP_MINUTES, &mut log)?;
    driver::run(&mut engine, case, &Command::Accept, now, &staff.intake, &mut log)?;
    driver::drive_to_close(&mut engine, case, &mut now, STEP_MINUTES, &staff, &mut log)?;

    let width = log.iter().map(|r| r.by.describe().len()).max().unwrap_or(0);
    for rec in &log {
        println!("{}", line(def, rec, width));
    }
    let c = engine.case(case).ok_or(driver::DriveError::UnknownCase(case))?;
    summary(def, c, submitted)?;
    println!("  replay:   {}", replay_check(def, &engine, &log));
    Ok(log)
}

/// Sends the log through JSON (as `--log` writes it) and replays it into a fresh engine: the
/// cases must come back identical.
fn replay_check(def: &Arc<Definition>, engine: &Engine, log: &[Recorded]) -> String {
    let parsed: Result<Vec<Recorded>, serde_json::Error> =
        log.iter().map(|rec| serde_json::to_string(rec).and_then(|line| serde_json::from_str(&line))).collect();
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return format!("the log does not survive JSON: {e}"),
    };
    match Engine::replay(Arc::clone(def), &parsed) {
        Ok(replayed) if replayed.cases().eq(engine.cases()) && replayed.tickets() == engine.tickets() => {
            format!("{} events, through JSON, rebuild the same case", parsed.len())
        }
        Ok(_) => "the replayed case DIFFERS from the live one (an engine bug)".to_owned(),
        Err(e) => format!("the log does not replay: {e}"),
    }
}

fn summary(def: &Definition, c: &Case, submitted: Instant) -> Result<(), driver::DriveError> {
    let cal = def.calendar();
    println!();
    println!("case {}: {}", c.id(), c.state().name());
    println!("  outcome:  {}", c.outcome().map_or("none".to_owned(), |o| format!("{o:?}")));
    println!("  trips:    {} (最多跑一次 counts the visits to the hall)", c.trips());
    if let Some(r) = c.rating() {
        println!("  rating:   {} stars", r.stars);
    }
    if let Some((delivered, method)) = c.delivered() {
        let minutes = cal.working_minutes_between(submitted, delivered)?;
        let days = minutes as f64 / f64::from(cal.day_minutes());
        let calendar_days = delivered.date().days_since_epoch() - submitted.date().days_since_epoch();
        println!("  times:    submitted {submitted}, delivered {delivered} ({method:?})");
        println!(
            "  elapsed:  {days:.2} working days ({minutes} working minutes of {} a day; {calendar_days} calendar days)",
            cal.day_minutes()
        );
    }
    Ok(())
}

/// One log line: time, case, sequence, actor (padded to `width`), event and its key data.
fn line(def: &Definition, rec: &Recorded, width: usize) -> String {
    let (at, case, seq, by) = (rec.at, rec.stream, rec.seq, rec.by.describe());
    let (name, details) = (rec.event.name(), details(def, &rec.event));
    format!("{at}  {case} #{seq:<2}  {by:<width$}  {name:<14}  {details}")
}

/// An item id with its Chinese name.
fn item(def: &Definition, id: &Id) -> String {
    match def.item_ix(id) {
        Some(ix) => format!("{id} {}", def.item(ix).name),
        None => id.to_string(),
    }
}

fn ids(list: &[Id]) -> String {
    list.iter().map(Id::as_str).collect::<Vec<_>>().join(", ")
}

fn details(def: &Definition, event: &Event) -> String {
    match event {
        Event::Submitted { bundle, applicant, channel, materials, .. } => {
            let name = def.bundle_ix(bundle).map_or("", |b| def.bundle(b).name.as_str());
            format!(
                "{bundle} {name} by {} via {channel:?}, {} materials: {}",
                applicant.name,
                materials.len(),
                ids(materials)
            )
        }
        Event::Accepted { as_of, deemed, tolerated, applicable, .. } => {
            let how = if *deemed { "deemed accepted" } else { "accepted" };
            format!("{how} as of {as_of}; {} items apply; tolerated: [{}]", applicable.len(), ids(tolerated))
        }
        Event::TaskReady { item: id }
        | Event::TaskApproved { item: id }
        | Event::SpecialProcedureEnded { item: id }
        | Event::TaskSimulatedApproved { item: id }
        | Event::SimulationConverted { item: id }
        | Event::SimulationReopened { item: id }
        | Event::TaskLapsed { item: id } => item(def, id),
        Event::TaskClaimed { item: id, reviewer } => format!("{} by {reviewer}", item(def, id)),
        Event::TaskSigned { item: id, department } => {
            let name = def.department_ix(department).map_or("", |d| def.department(d).name.as_str());
            format!("{} signed by {department} {name}", item(def, id))
        }
        Event::TaskDenied { item: id, reason } => format!("{}: {reason}", item(def, id)),
        Event::TaskVotedAgainst { item: id, department, reason } => {
            format!("{} voted against by {department}: {reason}", item(def, id))
        }
        Event::TaskSignerAdded { item: id, department, position } => {
            format!("{} countersigner {department} added ({position:?})", item(def, id))
        }
        Event::TaskSignerRemoved { item: id, department } => {
            format!("{} countersigner {department} removed", item(def, id))
        }
        Event::TaskVotesCancelled { item: id, departments, reason } => {
            format!("{} pending votes of {} cancelled: {reason}", item(def, id), ids(departments))
        }
        Event::TaskLevelSigned { item: id, level, signer } => {
            format!("{} level {level} signed by {signer}", item(def, id))
        }
        Event::TaskReturned { item: id, to_level, reason } => {
            format!("{} returned to level {to_level}: {reason}", item(def, id))
        }
        Event::TaskUrged { item: id, note } => format!("{} urged: {note}", item(def, id)),
        Event::TaskRecalled { item: id, department } => format!("{} signature of {department} recalled", item(def, id)),
        Event::TaskUnready { item: id, because } => format!("{} waits again: {because} recalled", item(def, id)),
        Event::SupplementRequested { item: id, asked, due } => {
            format!("{} asks the applicant by {due}: {}", item(def, id), asked.join("; "))
        }
        Event::TaskTransferred { item: id, to } => {
            format!("{} transferred to {}", item(def, id), to.as_ref().map_or("the queue", |t| t.as_str()))
        }
        Event::TaskDelegated { item: id, to } => format!("{} delegated to {to}", item(def, id)),
        Event::DelegationResolved { item: id, note } => format!("{} back from its delegate: {note}", item(def, id)),
        Event::SupplementProvided { item: id } => format!("{} supplement received", item(def, id)),
        Event::SupplementLapsed { item: id, consequence } => {
            format!("{} supplement lapsed: {consequence:?}", item(def, id))
        }
        Event::TaskLevelSlaChanged { item: id, level, to } => format!("{} level {level} clock {to:?}", item(def, id)),
        Event::TaskCancelled { item: id, because } => {
            format!("{} because {because} failed", item(def, id))
        }
        Event::SpecialProcedureStarted { item: id, kind } => format!("{} {kind:?}", item(def, id)),
        Event::SlaLevelChanged { subject: SlaSubject::Case, level } => format!("case clock {level:?}"),
        Event::SlaLevelChanged { subject: SlaSubject::Task(id), level } => format!("{} clock {level:?}", item(def, id)),
        Event::CaseDecided { outcome, awaiting_cure } => {
            format!("{outcome:?}{}", if *awaiting_cure { ", awaiting cure" } else { "" })
        }
        Event::Delivered { method } => format!("all results together, {method:?}"),
        Event::Rated { stars, by_default } => format!("{stars} stars{}", if *by_default { " (default)" } else { "" }),
        Event::Consulted { notice, .. } => format!("one-time notice of {} materials", notice.len()),
        Event::CorrectionRequested { missing } => format!("missing: {}", ids(missing)),
        Event::Resubmitted { materials } => format!("materials: {}", ids(materials)),
        Event::MaterialSupplied { material } => material.to_string(),
        Event::Rejected { reason } => reason.clone(),
        Event::TicketOpened { source, department, window, deadline } => {
            let name = def.department_ix(department).map_or("", |d| def.department(d).name.as_str());
            let window = window.as_ref().map_or(String::new(), |w| format!(", window {w}"));
            let deadline = deadline.map_or(String::new(), |d| format!("; verify by {d}"));
            format!("{} → {department} {name}{window}{deadline}", source.kind())
        }
        Event::TicketRectifying { deadline, immediate } => {
            format!("{} by {deadline}", if *immediate { "立行立改 (fix at once)" } else { "台账 (ledgered)" })
        }
        Event::TicketSubmitted { what, text } => format!("{what:?}: {text}"),
        Event::TicketFailed { kind, deadline } => format!("{kind:?}; rectify again by {deadline}"),
        Event::TicketFedBack { message, follow_up_due } => format!("{message}; follow-up by {follow_up_due}"),
        Event::TicketReopened { deadline } => format!("rectify again by {deadline}"),
        Event::TicketEscalated { level, next_deadline } => {
            let next = next_deadline.map_or(String::new(), |d| format!("; next level at {d}"));
            format!("level {level} ({}){next}", if *level >= 2 { "约谈" } else { "督办" })
        }
        Event::Migrated { from, to, removed, .. } => format!("version {from} → {to}; removed: [{}]", ids(removed)),
        Event::TicketPassed | Event::TicketAppealUpheld | Event::TicketClosed => String::new(),
        Event::CaseSuspended | Event::CaseResumed | Event::CaseReturned | Event::Withdrawn | Event::Revoked => {
            String::new()
        }
    }
}

fn write_log(path: &str, log: &[Recorded]) -> std::io::Result<()> {
    let mut file = BufWriter::new(File::create(path)?);
    for rec in log {
        writeln!(file, "{}", serde_json::to_string(rec)?)?;
    }
    file.flush()
}
