//! `yichuang migrate`: move the open cases of the service's database to another definition
//! version (版本迁移), or say what would happen (docs/definitions.md, "Versions and migration").
//!
//! The database is checked and folded as the service does at start, under every definition
//! version its store keeps. `--dry-run` prints every open case's verdict and writes nothing.
//! `--apply` keeps the new version in the store (and makes it active, so that the next start
//! of the service opens new cases under it unless it is given another file), then appends one
//! `Migrated` event per case that can move, all in one transaction; a case that cannot move is
//! listed with its reasons and nothing of it changes. The service must not be running on a
//! SQLite file (its lock refuses a second writer); on PostgreSQL the command writes under the
//! log's write lock like another instance.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use yichuang_core::definition::Version;
use yichuang_core::machine::case::{MigrationPlan, Verdict};
use yichuang_core::{Actor, CaseId, Ctx, Instant, Recorded};
use yichuang_store::{
    Commit, EncodedEvent, EventStore, IntegrityError, PostgresStore, SqliteStore, StoredEvent, versions,
};

use crate::cmd::replay::{is_postgres, open_read_only, stored_versions};
use crate::cmd::{load_definition, read_source};
use crate::failure::Failure;

/// Migrate the open cases of a database to a definition version (版本迁移).
///
/// Every open case is judged: it migrates (with what happens to each task), it cannot (with
/// every reason: a task in review would be removed, a predecessor added behind an approved
/// task, a stage gate already passed, a material newly required after acceptance, …), or it
/// already runs on that version. A promise already made is never lengthened.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["dry_run", "apply"])))]
pub struct Args {
    /// The service's database: a SQLite file (the service stopped) or a PostgreSQL URL.
    #[arg(long, value_name = "FILE|URL")]
    pub db: PathBuf,
    /// The definition to move the cases to (RON; the same definition id as the database's).
    #[arg(long, value_name = "DEF.ron")]
    pub to: PathBuf,
    /// Renamed items and bundles between the versions (RON: `(renames: {"old": "new"},
    /// bundle_renames: {})`); without it, ids are kept and an item a bundle no longer lists is
    /// removed.
    #[arg(long, value_name = "PLAN.ron")]
    pub plan: Option<PathBuf>,
    /// The definition the log was first written under, needed only for a database from before
    /// definition versions were kept in the store.
    #[arg(long, value_name = "DEF.ron")]
    pub definition: Option<PathBuf>,
    /// Only judge every open case; nothing is written.
    #[arg(long)]
    pub dry_run: bool,
    /// Move every case that can move.
    #[arg(long)]
    pub apply: bool,
    /// The hall time of the migration (YYYY-MM-DDTHH:MM, China time); default now, and never
    /// before the log's last event.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// The administrator recorded as the migration's actor.
    #[arg(long, value_name = "ID", default_value = "admin")]
    pub by: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per case, its changes or reasons under it.
    Text,
    /// One JSON object.
    Json,
}

#[derive(Serialize)]
struct CaseVerdict {
    case: String,
    from: Version,
    #[serde(flatten)]
    verdict: Verdict,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
}

#[derive(Serialize)]
struct Report {
    to: Version,
    dry_run: bool,
    open_cases: usize,
    migrates: usize,
    cannot: usize,
    current: usize,
    migrated: usize,
    events: usize,
    cases: Vec<CaseVerdict>,
}

/// The hall time now (China Standard Time, UTC+8).
fn china_now() -> Instant {
    let seconds = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    Instant::from_minutes((seconds + 8 * 3600).div_euclid(60))
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let to_text = read_source(&args.to)?;
    let to = Arc::new(load_definition(&args.to)?);
    let plan = match &args.plan {
        None => MigrationPlan::default(),
        Some(path) => ron::from_str(&read_source(path)?).map_err(|e| {
            Failure::input(format!(
                "`{}` is not a migration plan ({e}); write (renames: {{\"old-item\": \"new-item\"}}, bundle_renames: \
                 {{\"old-bundle\": \"new-bundle\"}})",
                path.display()
            ))
        })?,
    };
    let at = match &args.at {
        None => None,
        Some(text) => Some(text.parse::<Instant>().map_err(|e| Failure::input(format!("--at `{text}`: {e}")))?),
    };
    let db = &args.db;
    if !is_postgres(db) && !db.is_file() {
        return Err(Failure::input(format!(
            "cannot open `{}`: no such file; --db takes the database file the service writes",
            db.display()
        )));
    }
    let cannot_open = |e: yichuang_store::StoreError| Failure::input(format!("cannot open `{}`: {e}", db.display()));
    // A dry run reads as an audit does (the service may be running); an apply is the writer.
    let mut store: Box<dyn EventStore> = match db.to_str() {
        _ if args.dry_run => open_read_only(db).map_err(cannot_open)?,
        Some(url) if is_postgres(db) => Box::new(PostgresStore::open(url).map_err(cannot_open)?),
        _ => Box::new(SqliteStore::open(db).map_err(cannot_open)?),
    };
    match store.meta("definition").map_err(cannot_open)? {
        Some(logged) if logged != to.id().as_str() => {
            return Err(Failure::input(format!(
                "`{}` was written under definition `{logged}`; `{}` is definition `{}`: a version keeps the \
                 definition's id",
                db.display(),
                args.to.display(),
                to.id()
            )));
        }
        _ => {}
    }
    let first = match &args.definition {
        Some(path) => Arc::new(load_definition(path)?),
        None => {
            if versions::deployments(store.as_ref()).map_err(|e| Failure::Failed(e.to_string()))?.is_empty() {
                return Err(Failure::input(format!(
                    "`{}` keeps no definition versions (it was written before versions were kept): give the \
                     definition it was written under with --definition",
                    db.display()
                )));
            }
            Arc::clone(&to)
        }
    };
    let mut engine = stored_versions(store.as_ref(), &first, db)?;
    let mut latest: Option<Instant> = None;
    let damaged = |e: IntegrityError| {
        Failure::Failed(format!("`{}` does not pass the service's start-up check: {e}", db.display()))
    };
    let mut fold = |engine: &mut yichuang_core::Engine, e: &StoredEvent| {
        let index = usize::try_from(e.position - 1).map_err(|_| "position out of range".to_owned())?;
        latest = latest.max(Some(e.event.record().at));
        engine.apply(index, e.event.record()).map_err(|why| why.to_string())
    };
    let summary = store.verify(&mut |e| fold(&mut engine, e)).map_err(damaged)?;
    let mut head = summary.events;
    if args.apply {
        // On PostgreSQL: the write lock, and whatever the instances appended meanwhile.
        head += store.catch_up(true, &mut |e| fold(&mut engine, e)).map_err(damaged)?;
    }
    engine.rebuild_timers();
    engine.deploy(Arc::clone(&to)).map_err(|e| Failure::input(e.to_string()))?;
    let now = at.unwrap_or_else(china_now).max(latest.unwrap_or(Instant::from_minutes(i64::MIN / 2)));
    let admin = Actor::admin(&args.by);
    let ctx = Ctx { now, actor: &admin };

    let open: Vec<CaseId> = engine.cases().filter(|c| !c.is_finished()).map(|c| c.id()).collect();
    let mut report = Report {
        to: to.version(),
        dry_run: args.dry_run,
        open_cases: open.len(),
        migrates: 0,
        cannot: 0,
        current: 0,
        migrated: 0,
        events: 0,
        cases: Vec::with_capacity(open.len()),
    };
    let mut commits = Vec::new();
    for id in open {
        let from = engine.definition_of(engine.case(id).expect("an open case")).version();
        let verdict = engine.migration(id, to.version(), &plan).map_err(|r| Failure::Failed(r.to_string()))?;
        let mut reasons = Vec::new();
        match &verdict {
            Verdict::Migrates { .. } => {
                report.migrates += 1;
                if args.apply {
                    let mut records: Vec<Recorded> = Vec::new();
                    match engine.migrate_into(id, to.version(), &plan, &ctx, &mut records) {
                        Ok(()) => {
                            report.migrated += 1;
                            let events: Vec<StoredEvent> = records
                                .into_iter()
                                .map(|record| {
                                    head += 1;
                                    StoredEvent { position: head, event: EncodedEvent::encode(record) }
                                })
                                .collect();
                            report.events += events.len();
                            commits.push(Commit { events, idempotency: None });
                        }
                        Err(r) => reasons.push(r.to_string()),
                    }
                }
            }
            Verdict::Cannot { obstacles } => {
                report.cannot += 1;
                reasons.extend(obstacles.iter().map(ToString::to_string));
            }
            Verdict::Current => report.current += 1,
        }
        report.cases.push(CaseVerdict { case: id.to_string(), from, verdict, reasons });
    }
    if args.apply {
        // The versions the log needs, kept in the store (so that `replay --db` and the service
        // fold it), and the new one made active.
        let deployed = versions::deployments(store.as_ref()).map_err(|e| Failure::Failed(e.to_string()))?;
        let mut keep = |version: Version, text: &str, origin: String| {
            let deployment = versions::Deployment {
                version,
                origin,
                deployed_at: now.to_string(),
                by: format!("yichuang migrate ({})", args.by),
            };
            versions::record(store.as_mut(), text, deployment)
                .map_err(|e| Failure::Failed(format!("`{}`: the version could not be kept: {e}", db.display())))
        };
        if deployed.is_empty()
            && let Some(path) = &args.definition
            && first.version() != to.version()
        {
            keep(first.version(), &read_source(path)?, path.display().to_string())?;
        }
        if deployed.last().map(|d| d.version) != Some(to.version()) {
            keep(to.version(), &to_text, args.to.display().to_string())?;
        }
        if !commits.is_empty() {
            store.append(&commits).map_err(|e| {
                Failure::Failed(format!(
                    "`{}`: the migration could not be stored ({e}); no case was moved (the version is kept): run it \
                     again",
                    db.display()
                ))
            })?;
        } else {
            let _ = store.release();
        }
    }
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Text => write_text(&report, out)?,
    }
    Ok(())
}

fn write_text(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let mode = if report.dry_run { "dry run, nothing written" } else { "applied" };
    writeln!(out, "migration to version {} ({mode}): {} open case(s)", report.to, report.open_cases)?;
    for c in &report.cases {
        match &c.verdict {
            Verdict::Current => writeln!(out, "  {}  already on {}", c.case, report.to)?,
            Verdict::Migrates { changes } => {
                let verb = if report.dry_run { "migrates" } else { "migrated" };
                writeln!(out, "  {}  {} → {}  {verb}", c.case, c.from, report.to)?;
                for change in changes {
                    let line = serde_json::to_value(change).map(|v| describe(&v)).unwrap_or_default();
                    writeln!(out, "      {line}")?;
                }
                for reason in &c.reasons {
                    writeln!(out, "      refused: {reason}")?;
                }
            }
            Verdict::Cannot { .. } => {
                writeln!(out, "  {}  {} → {}  cannot migrate; it stays on {}", c.case, c.from, report.to, c.from)?;
                for reason in &c.reasons {
                    writeln!(out, "      {reason}")?;
                }
            }
        }
    }
    writeln!(
        out,
        "{} migrate, {} cannot, {} already current{}",
        report.migrates,
        report.cannot,
        report.current,
        if report.dry_run {
            String::new()
        } else {
            format!("; {} migrated ({} events)", report.migrated, report.events)
        }
    )
}

/// One task change as a line: `business-licence: limit kept 1 wd (the new version gives 2)`.
fn describe(v: &serde_json::Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let n = |k: &str| v[k].as_u64().unwrap_or_default();
    match v["change"].as_str().unwrap_or_default() {
        "kept" => match v["renamed_from"].as_str() {
            Some(old) => format!("{}: kept ({}), renamed from {old}", s("item"), s("state")),
            None => format!("{}: kept ({})", s("item"), s("state")),
        },
        "limit_shortened" => format!("{}: limit shortened {} → {} wd", s("item"), n("from_days"), n("to_days")),
        "limit_kept" => {
            format!(
                "{}: limit kept {} wd (the new version gives {}; a promise is never lengthened)",
                s("item"),
                n("days"),
                n("new_days")
            )
        }
        "removed" => format!("{}: removed ({} before)", s("item"), s("state")),
        "added" => {
            let applies = if v["applies"].as_bool() == Some(true) { "applies" } else { "does not apply" };
            format!("{}: added ({applies})", s("item"))
        }
        "waits_again" => format!("{}: waits again for {}", s("item"), v["for_items"]),
        other => format!("{other}: {v}"),
    }
}
