//! Writes a long event log for start-up measurements: a county hall's cases, day after day,
//! through the real engine and store (SQLite file or PostgreSQL), then folds it once as the
//! service does and stores the service's snapshot, as a running service would have.
//!
//! ```text
//! cargo run --release -p yichuang-server --example biglog -- --db /tmp/big.db --events 1000000
//! cargo run --release -p yichuang-server --example biglog -- \
//!     --db 'postgres://root@127.0.0.1:5432/test?options=-csearch_path%3Dbig' --events 10000000 --cases-per-day 3000
//! ```
//!
//! Each case is a 我要开饭店 application (`open-restaurant`) submitted at the intake window; one
//! in `--open-every` (40) is accepted and left open (its clocks run on, turn overdue and open
//! tickets, as neglected work does); every other one is approved task by task, delivered and
//! rated, over a few working days. 1,200 cases start per working day. Every case's commit
//! carries one idempotency record, as a client's key would. Then `Writer::load_with` folds the
//! whole log (checking it as a start does) and stores a snapshot; the time it took is printed.
//!
//! A database that already holds events is refused.

#[path = "../../../benches/src/driver.rs"]
#[allow(dead_code)]
mod driver;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant as Clock;

use yichuang::prelude::*;
use yichuang_server::config::ClockSetting;
use yichuang_server::state::Shared;
use yichuang_server::writer::Writer;
use yichuang_store::{Commit, EncodedEvent, EventStore, IdempotencyRecord, PostgresStore, SqliteStore, StoredEvent};

/// Cases started per working day by default (a busy county: about 300,000 a year). A log past
/// the example calendar's two years (about 6 M events at this rate) needs more a day:
/// `--cases-per-day`, as a prefecture's several halls would start.
const CASES_PER_DAY: u64 = 1_200;
/// Working minutes between the steps of one case.
const STEP_MINUTES: i64 = 120;
/// Events written per append.
const EVENTS_PER_APPEND: usize = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut db = None;
    let mut events_max: u64 = 1_000_000;
    let mut open_every: u64 = 40;
    let mut cases_per_day: u64 = CASES_PER_DAY;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => db = Some(value()?),
            "--events" => events_max = value()?.parse()?,
            "--open-every" => open_every = value()?.parse()?,
            "--cases-per-day" => cases_per_day = value()?.parse::<u64>()?.max(1),
            other => {
                return Err(format!(
                    "unknown flag {other}; flags: --db FILE|URL, --events N, --open-every N, --cases-per-day N"
                )
                .into());
            }
        }
    }
    let db = db.ok_or("--db FILE|URL is required")?;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
    let def = Arc::new(Definition::from_ron(&std::fs::read_to_string(path)?, path).map_err(|e| e.to_string())?);
    let mut store: Box<dyn EventStore> = if db.starts_with("postgres://") {
        Box::new(PostgresStore::open(&db)?)
    } else {
        Box::new(SqliteStore::open(&db)?)
    };
    let summary = store.verify(&mut |_| Ok(()))?;
    if summary.events > 0 {
        return Err(format!("{db} already holds {} events; give a new database", summary.events).into());
    }
    store.set_meta("definition", def.id())?;

    let bundle = def.bundle_ix("open-restaurant").ok_or("county-hall defines open-restaurant")?;
    let answers = BTreeMap::from([
        ("company-name".to_owned(), "示例县张三餐饮有限公司".to_owned()),
        ("food-business-type".to_owned(), "热食类食品制售".to_owned()),
        ("sells-tobacco".to_owned(), "否".to_owned()),
    ]);
    let mut engine = Engine::new(Arc::clone(&def));
    let cal = def.calendar();
    let mut day: Date = "2026-01-05".parse()?;
    let started = Clock::now();
    let (mut position, mut cases, mut records) = (0u64, 0u64, 0u64);
    let mut pending: Vec<Commit> = Vec::new();
    let mut pending_events = 0;
    let mut out = Vec::new();
    'days: loop {
        while !cal.is_working_day(day)? {
            day = day.add_days(1);
        }
        for n in 0..cases_per_day {
            cases += 1;
            let applicant = Applicant {
                id: Id::new(&format!("91000000MA{cases:08}")),
                name: "示例县张三餐饮有限公司".into(),
                credit_blocked: false,
            };
            let staff = driver::Staff::new(&def, &applicant.id)?;
            let submission = driver::complete_submission(&def, bundle, applicant, answers.clone());
            // Spread over the office day (8 h from 09:00).
            let mut now = cal.office_open(day).plus_minutes((n * 8 * 60 / cases_per_day) as i64);
            // The timers of every other case due by now fire first, as the service's ticker does.
            engine.advance_into(now, &mut out);
            let case = engine
                .open_into(Command::Submit(Box::new(submission)), &Ctx { now, actor: &staff.intake }, &mut out)
                .map_err(|e| e.to_string())?;
            driver::run(&mut engine, case, &Command::Accept, now, &staff.intake, &mut out)?;
            if !cases.is_multiple_of(open_every) {
                driver::drive_to_close(&mut engine, case, &mut now, STEP_MINUTES, &staff, &mut out)?;
            }
            let last = position + out.len() as u64;
            let events: Vec<StoredEvent> = out
                .drain(..)
                .map(|record| {
                    position += 1;
                    StoredEvent { position, event: EncodedEvent::encode(record) }
                })
                .collect();
            records += 1;
            let record = IdempotencyRecord {
                scope: staff.intake.id.to_string(),
                key: format!("case-{cases}"),
                fingerprint: cases,
                status: 201,
                body: format!("{{\"id\":\"{case}\"}}"),
                position: last,
            };
            pending_events += events.len();
            pending.push(Commit { events, idempotency: Some(record) });
            if pending_events >= EVENTS_PER_APPEND {
                store.append(&std::mem::take(&mut pending))?;
                pending_events = 0;
                if position / 1_000_000 != (position - EVENTS_PER_APPEND as u64) / 1_000_000 {
                    eprintln!("{position} events, {cases} cases, {:.0} s", started.elapsed().as_secs_f64());
                }
            }
            if position >= events_max {
                break 'days;
            }
        }
        day = day.add_days(1);
    }
    if !pending.is_empty() {
        store.append(&pending)?;
    }
    let written = started.elapsed();
    let open = engine.cases().filter(|c| !c.is_finished()).count();
    println!(
        "wrote {position} events of {cases} cases ({open} open, {} tickets) and {records} idempotency records in {:.1} s",
        engine.tickets().len(),
        written.as_secs_f64()
    );
    drop(engine);

    // Fold it once as a start without a snapshot does, and store the snapshot.
    let clock = ClockSetting::Manual(cal.office_close(day));
    let folded = Clock::now();
    let (writer, loaded) = Writer::load_with(def, None, store, clock, Arc::new(Shared::new()), 1)?;
    println!(
        "folded and checked the whole log in {:.2} s ({} cases, {} tickets), and stored a snapshot",
        folded.elapsed().as_secs_f64(),
        loaded.sizes.0,
        loaded.sizes.1
    );
    drop(writer);
    Ok(())
}
