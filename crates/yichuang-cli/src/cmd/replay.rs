//! `yichuang replay`: rebuild the state from an event log (JSON lines) or from the service's
//! database, check that every event is legal in order, audit the invariants of DESIGN §4.3 on the
//! log and the state (`yichuang_core::invariants`, the functions the property tests and the
//! checker call), and summarise what it holds.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use yichuang_core::invariants::{self, Supervision, Violation};
use yichuang_core::{Definition, Engine, Event, Instant, Recorded, StreamId};
use yichuang_store::{EventStore, IntegrityError, LogSummary, PostgresStore, SqliteStore, StoreError, versions};

use crate::cmd::{load_definition, read_log};
use crate::failure::Failure;

/// Rebuild and verify the state from an event log (回放校验).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The definition the log was written against.
    #[arg(long)]
    pub definition: PathBuf,
    #[command(flatten)]
    pub source: Source,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Where the events come from: exactly one of a JSON-lines log and the service's database.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// The event log: one JSON-serialized event per line, as the engine records them.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// The service's database (yichuang-server `--db`): a SQLite file (yichuang.db by default)
    /// or a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE), read only: it is checked as the
    /// service checks it at start (SQLite's quick_check, the hash chain, positions, sequences,
    /// idempotency records) and nothing in it changes. A copy or a backup works as well; so does
    /// the live database while the service runs.
    #[arg(long, value_name = "FILE|URL")]
    pub db: Option<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable summary.
    Text,
    /// One JSON object.
    Json,
}

#[derive(Serialize)]
struct Summary {
    events: u64,
    cases: usize,
    tickets: usize,
    first: Option<String>,
    last: Option<String>,
    cases_by_state: BTreeMap<&'static str, usize>,
    tickets_by_state: BTreeMap<&'static str, usize>,
}

/// What a rebuild read, besides the state.
#[derive(Debug, Default)]
pub struct Read {
    /// Events replayed.
    pub events: u64,
    /// The first event's time.
    pub first: Option<Instant>,
    /// The last event's time.
    pub last: Option<Instant>,
    /// The invariants checked event by event as the log was read.
    audit: Audit,
}

/// The invariants of DESIGN §4.3 on a log, event by event (1 and 7), and on the loop's triggers
/// (2, checked once the log is read); the state's invariants (3–5) are checked on the rebuilt
/// engine. Invariant 6 is the replay itself.
#[derive(Debug, Default)]
struct Audit {
    supervision: Supervision,
    /// Bad ratings, overdue clocks and the tickets they opened: what invariant 2 balances.
    triggers: Vec<Recorded>,
    /// The first violation found.
    violation: Option<(u64, Violation)>,
}

impl Audit {
    /// Checks the event at 1-based `position`; `engine` already holds its stream. A case's
    /// event is read under the case's own definition version.
    fn observe(&mut self, engine: &Engine, position: u64, rec: &Recorded) {
        if self.violation.is_some() {
            return;
        }
        let case = match rec.stream {
            StreamId::Case(c) => engine.case(c),
            StreamId::Ticket(_) => None,
        };
        let applicant = case.map(|c| &c.applicant().id);
        let def = case.map_or_else(|| engine.definition(), |c| engine.definition_of(c));
        let found = self.supervision.observe(rec).and_then(|()| invariants::authority(def, applicant, rec));
        if let Err(v) = found {
            self.violation = Some((position, v));
        }
        if matches!(rec.event, Event::Rated { .. } | Event::SlaLevelChanged { .. } | Event::TicketOpened { .. }) {
            self.triggers.push(rec.clone());
        }
    }

    /// The first violation in the log or the state, with the event's position when it is one.
    fn finish(self, engine: &Engine) -> Option<(Option<u64>, Violation)> {
        if let Some((position, v)) = self.violation {
            return Some((Some(position), v));
        }
        if let Err(v) = invariants::one_ticket_per_trigger(&self.triggers) {
            return Some((None, v));
        }
        engine.cases().find_map(|case| {
            let def = engine.definition_of(case);
            let found = invariants::task_order(def, case)
                .and_then(|()| invariants::delivery(def, case))
                .and_then(|()| invariants::deadlines(def, case));
            found.err().map(|v| (None, v))
        })
    }
}

impl Read {
    fn note(&mut self, at: Instant) {
        self.events += 1;
        self.first.get_or_insert(at);
        self.last = Some(at);
    }
}

/// Replays the log or the database into an engine, or fails naming the first bad event (exit 1).
pub fn rebuild(definition: &Path, source: &Source) -> Result<(Engine, Read), Failure> {
    let def = Arc::new(load_definition(definition)?);
    rebuild_with(def, source, None)
}

/// The definition and every event of the log or the database, after the same checks as
/// [`rebuild`]: only a log that replays is handed out.
pub fn verified_events(definition: &Path, source: &Source) -> Result<(Arc<Definition>, Vec<Recorded>), Failure> {
    let def = Arc::new(load_definition(definition)?);
    let mut events = Vec::new();
    rebuild_with(Arc::clone(&def), source, Some(&mut events))?;
    Ok((def, events))
}

fn rebuild_with(
    def: Arc<Definition>,
    source: &Source,
    keep: Option<&mut Vec<Recorded>>,
) -> Result<(Engine, Read), Failure> {
    match (&source.log, &source.db) {
        (Some(log), _) => rebuild_from_log(def, log, keep),
        (None, Some(db)) => rebuild_from_db(def, db, keep),
        (None, None) => {
            Err(Failure::input("give the events: --log FILE (JSON lines) or --db FILE (the service's database)"))
        }
    }
}

fn rebuild_from_log(
    def: Arc<Definition>,
    log: &Path,
    keep: Option<&mut Vec<Recorded>>,
) -> Result<(Engine, Read), Failure> {
    let events = read_log(log)?;
    let engine = Engine::replay(def, &events).map_err(|e| {
        Failure::Failed(format!(
            "`{}` does not replay: {e} (line {} of the file); the log is corrupted, reordered or belongs to another definition",
            log.display(),
            e.position() + 1
        ))
    })?;
    let mut read = Read::default();
    for (i, rec) in events.iter().enumerate() {
        read.note(rec.at);
        read.audit.observe(&engine, i as u64 + 1, rec);
    }
    if let Some(keep) = keep {
        *keep = events;
    }
    Ok((engine, read))
}

/// The service's start-up check and fold, on a read-only connection.
fn rebuild_from_db(
    def: Arc<Definition>,
    db: &Path,
    keep: Option<&mut Vec<Recorded>>,
) -> Result<(Engine, Read), Failure> {
    let (engine, read, _, _) = audit_db(def, db, keep)?;
    Ok((engine, read))
}

/// Whether `--db` names a PostgreSQL database (a `postgres://` or `postgresql://` URL).
pub fn is_postgres(db: &Path) -> bool {
    db.to_str().is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// The database, opened read-only: a SQLite file, or a PostgreSQL URL.
pub fn open_read_only(db: &Path) -> Result<Box<dyn EventStore>, StoreError> {
    match db.to_str() {
        Some(url) if is_postgres(db) => Ok(Box::new(PostgresStore::open_read_only(url)?)),
        _ => Ok(Box::new(SqliteStore::open_read_only(db)?)),
    }
}

/// The service's start-up check and fold of a database, read-only (`replay --db`, `report
/// --db`, `audit`): the engine, what was read, the log's summary (its chain head included) and
/// the store, for checks after it (checkpoints).
pub fn audit_db(
    def: Arc<Definition>,
    db: &Path,
    mut keep: Option<&mut Vec<Recorded>>,
) -> Result<(Engine, Read, LogSummary, Box<dyn EventStore>), Failure> {
    // SQLite would refuse these too, but only as "unable to open database file".
    let what = if is_postgres(db) {
        None
    } else {
        match std::fs::metadata(db) {
            Err(_) => Some("no such file"),
            Ok(m) if m.is_dir() => Some("it is a directory"),
            Ok(m) if !m.is_file() => Some("it is not a regular file"),
            Ok(_) => None,
        }
    };
    if let Some(what) = what {
        return Err(Failure::input(format!(
            "cannot read `{}`: {what}; --db takes the database file the service writes (yichuang.db by default)",
            db.display()
        )));
    }
    // Damage exits 1, as a log that does not replay; a file that cannot be read now, or is not
    // a store, is an input error.
    let cannot = |e: &StoreError| {
        if e.is_damage() {
            Failure::Failed(format!(
                "`{}` does not pass the service's start-up check: {e}; the database is damaged",
                db.display()
            ))
        } else if let StoreError::NotAStore { .. } = e {
            Failure::input(e.to_string())
        } else {
            Failure::input(format!("cannot read `{}`: {e}", db.display()))
        }
    };
    let mut store = open_read_only(db).map_err(|e| cannot(&e))?;
    match store.meta("definition").map_err(|e| cannot(&e))? {
        Some(logged) if logged != def.id().as_str() => {
            return Err(Failure::Failed(format!(
                "`{}` was written under definition `{logged}`, not `{}`; give the definition the service ran with",
                db.display(),
                def.id()
            )));
        }
        _ => {}
    }
    let mut engine = stored_versions(store.as_ref(), &def, db)?;
    let mut read = Read::default();
    let summary = store
        .verify(&mut |e| {
            let rec = e.event.record();
            read.note(rec.at);
            if let Some(keep) = keep.as_deref_mut() {
                keep.push(rec.clone());
            }
            let index = usize::try_from(e.position - 1).map_err(|_| "position out of range".to_owned())?;
            engine.apply(index, rec).map_err(|why| why.to_string())?;
            read.audit.observe(&engine, e.position, rec);
            Ok(())
        })
        .map_err(|e| match e {
            IntegrityError::Store(e) => cannot(&e),
            e => Failure::Failed(format!(
                "`{}` does not pass the service's start-up check: {e}; the database is damaged or belongs to another definition",
                db.display()
            )),
        })?;
    engine.rebuild_timers();
    Ok((engine, read, summary, store))
}

/// An empty engine holding every definition version the database's store keeps
/// (`yichuang_store::versions`), in first-deployment order, and `def` (the one given) after them
/// if the store does not hold it; the store's last deployment is active (else `def`). A log
/// with cases on several versions, or migrated between them, folds with it.
pub fn stored_versions(store: &dyn EventStore, def: &Arc<Definition>, db: &Path) -> Result<Engine, Failure> {
    let (defs, deployed) = versions::load_all(store).map_err(|e| {
        Failure::Failed(format!("`{}`: {e}; the database's definition versions are damaged", db.display()))
    })?;
    let mut engine = Engine::new(Arc::clone(defs.first().unwrap_or(def)));
    for other in defs.iter().skip(1).chain([def]) {
        engine.deploy(Arc::clone(other)).map_err(|e| Failure::Failed(format!("`{}`: {e}", db.display())))?;
    }
    if let Some(last) = deployed.last()
        && let Some(ix) = engine.version_index(last.version)
    {
        let active = Arc::clone(&engine.versions()[ix]);
        engine.deploy(active).expect("a version the engine holds");
    }
    Ok(engine)
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let (engine, mut read) = rebuild(&args.definition, &args.source)?;
    if let Some((position, v)) = std::mem::take(&mut read.audit).finish(&engine) {
        let at = position.map_or_else(String::new, |p| format!(" at event {p}"));
        return Err(Failure::Failed(format!(
            "the log replays, but invariant {} ({}) does not hold{at}: {v}",
            v.invariant().number(),
            v.invariant().title()
        )));
    }
    let mut cases_by_state = BTreeMap::new();
    for c in engine.cases() {
        *cases_by_state.entry(c.state().name()).or_insert(0) += 1;
    }
    let mut tickets_by_state = BTreeMap::new();
    for t in engine.tickets() {
        *tickets_by_state.entry(t.state().name()).or_insert(0) += 1;
    }
    let summary = Summary {
        events: read.events,
        cases: engine.cases_held(),
        tickets: engine.tickets().len(),
        first: read.first.map(|at| at.to_string()),
        last: read.last.map(|at| at.to_string()),
        cases_by_state,
        tickets_by_state,
    };
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?,
        Format::Text => {
            writeln!(out, "ok: {} events replayed; every event is legal in order", summary.events)?;
            writeln!(out, "invariants 1–7 of DESIGN §4.3 hold on the log and the state")?;
            if let (Some(first), Some(last)) = (&summary.first, &summary.last) {
                writeln!(out, "from {first} to {last}")?;
            }
            writeln!(out, "cases: {}", summary.cases)?;
            for (state, n) in &summary.cases_by_state {
                writeln!(out, "  {state:<20} {n}")?;
            }
            writeln!(out, "tickets: {}", summary.tickets)?;
            for (state, n) in &summary.tickets_by_state {
                writeln!(out, "  {state:<20} {n}")?;
            }
        }
    }
    Ok(())
}
