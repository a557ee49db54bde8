//! `yichuang check FILE [--bundle ID] [--depth N]`: exhaustive bounded exploration of one case of
//! each bundle with the tickets it opens (see `yichuang_analysis::check` and `docs/check.md`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use yichuang_analysis::check::{self, Options, Property, Report, TraceStep};
use yichuang_core::definition::BundleIx;
use yichuang_core::{Definition, Event, Recorded};

use crate::cmd::{find_bundle, read_source};
use crate::failure::Failure;
use crate::text::count;

/// Check a bundle's machines exhaustively (穷举检查): every interleaving of commands and timers.
///
/// For one case of each bundle (一件事), or of `--bundle`, explores breadth-first every
/// interleaving of commands (submit, intake decisions, every task outcome, special procedures,
/// 容缺 with and without cure, delivery, good and bad ratings, withdrawal) and timers, together
/// with the tickets the case opens and their supervision rounds, up to `--depth` moves. After
/// every move it verifies DESIGN §4.3 invariants 1–5, and at the end that every reachable state
/// can still reach a final state. Prints what it explored, or the violated invariant with a
/// shortest trace.
///
/// Exit codes: 0 every invariant holds within the bounds; 1 an invariant is violated (the trace is
/// printed); 2 usage, IO or an invalid definition.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Definition file (RON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Check only this bundle (一件事); default: every bundle of the definition.
    #[arg(long, value_name = "ID")]
    pub bundle: Option<String>,
    /// Maximum moves (commands and timer advances) on a path from the start of each part of the
    /// search (the case; each ticket), 1–1000, or `none`: no bound, the search runs to its
    /// fixed point (or to --max-states).
    #[arg(long, value_name = "N|none", default_value = "12", value_parser = parse_depth)]
    pub depth: Depth,
    /// Stop expanding a bundle's search once it has stored this many states (about 0.6 KB each
    /// at the default depth); raise it, with the memory to match, to check deeper.
    #[arg(long, value_name = "N", default_value_t = Options::STATES_MAX as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub max_states: u64,
    /// Explore the case and its tickets interleaved, without setting the tickets apart (the
    /// reference the reduction is compared with; much larger).
    #[arg(long)]
    pub no_reduction: bool,
    /// Explore every move in every state of the case's search, without the partial-order
    /// reduction (claims first); for comparison.
    #[arg(long)]
    pub no_por: bool,
    /// Output format: `text` (one block per bundle) or `json` (one object).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Breaks a rule of the engine on purpose, to show that the checker catches it (builds with
    /// the `fault-injection` feature only).
    #[cfg(feature = "fault-injection")]
    #[arg(long, value_enum, value_name = "FAULT", hide = true)]
    pub inject_fault: Option<FaultArg>,
}

/// A depth bound: a number of moves, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth(pub Option<u32>);

fn parse_depth(text: &str) -> Result<Depth, String> {
    if text == "none" {
        return Ok(Depth(None));
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(Depth(Some(n))),
        _ => Err(format!("`{text}` is not a depth: give a number of moves from 1 to 1000, or `none` for no bound")),
    }
}

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
}

/// A deliberately broken rule (`--inject-fault`).
#[cfg(feature = "fault-injection")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultArg {
    /// Tasks start without waiting for their predecessors (breaks invariant 3).
    SkipPredecessorCheck,
    /// The department passes its own rectification (breaks invariant 1).
    CloseWithoutSupervision,
    /// 退回 strands the task in Waiting: a join stuck (breaks invariant 3).
    ReturnStrandsTask,
}

#[cfg(feature = "fault-injection")]
impl FaultArg {
    fn fault(self) -> yichuang_core::fault::Fault {
        match self {
            FaultArg::SkipPredecessorCheck => yichuang_core::fault::Fault::SkipPredecessorCheck,
            FaultArg::CloseWithoutSupervision => yichuang_core::fault::Fault::CloseWithoutSupervision,
            FaultArg::ReturnStrandsTask => yichuang_core::fault::Fault::ReturnStrandsTask,
        }
    }
}

/// Runs `check`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let file = args.file.display().to_string();
    let source = read_source(&args.file)?;
    // An invalid definition is an input error here (exit 2): exit 1 means a violated invariant.
    let def = Definition::from_ron(&source, &file).map_err(|diagnostics| {
        Failure::input(format!(
            "`{file}` is not a valid definition; fix it first (see `yichuang validate`):\n{diagnostics}"
        ))
    })?;
    let bundles: Vec<BundleIx> = match &args.bundle {
        Some(id) => {
            find_bundle(&def, id)?;
            def.bundle_ix(id).into_iter().collect()
        }
        None => (0..def.bundles().len()).filter_map(|i| def.bundle_ix(&def.bundles()[i].id)).collect(),
    };
    if bundles.is_empty() {
        return Err(Failure::input(format!("definition `{}` has no bundles (一件事) to check", def.id())));
    }
    let def = Arc::new(def);
    let options = Options {
        depth: args.depth.0,
        reduce: !args.no_reduction,
        por: !args.no_por,
        states_max: args.max_states as usize,
        ..Options::complete()
    };
    let reports = check_all(&def, &bundles, &options, fault(args))?;
    match args.format {
        Format::Text => out.write_all(render(&file, &options, &reports).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &json(&file, &options, &reports))?;
            writeln!(out)?;
        }
    }
    if let Some((report, violation)) = reports.iter().find_map(|r| r.violation.as_ref().map(|v| (r, v))) {
        return Err(Failure::Failed(format!(
            "{} is violated in bundle `{}`; the shortest trace that breaks it is printed above",
            invariant_name(violation.invariant),
            report.bundle
        )));
    }
    // Paths cut short by the calendar were not checked: that is no proof, and the fix is in the
    // definition (its calendar, or day counts that reach past it), so it is an input error.
    if let Some(report) = reports.iter().find(|r| !r.complete()) {
        return Err(Failure::input(format!(
            "the check is incomplete: in bundle `{}`, {} cut short by the calendar ({}); add the next year's \
             official holiday table to the calendar, or lower the day counts that reach past it",
            report.bundle,
            count(report.calendar_refusals, "move was", "moves were"),
            report.calendar_error.as_deref().unwrap_or("")
        )));
    }
    Ok(())
}

/// The fault to inject in every worker thread, when the feature is compiled in.
#[cfg(feature = "fault-injection")]
type FaultSwitch = Option<yichuang_core::fault::Fault>;
#[cfg(not(feature = "fault-injection"))]
type FaultSwitch = ();

#[cfg(feature = "fault-injection")]
fn fault(args: &Args) -> FaultSwitch {
    args.inject_fault.map(FaultArg::fault)
}

#[cfg(not(feature = "fault-injection"))]
fn fault(_: &Args) -> FaultSwitch {}

/// Checks the bundles on as many threads as there are cores (at most one per bundle) and
/// returns the reports in bundle order. A panic in the engine is reported as a failure.
fn check_all(
    def: &Arc<Definition>,
    bundles: &[BundleIx],
    options: &Options,
    fault: FaultSwitch,
) -> Result<Vec<Report>, Failure> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(bundles.len()).max(1);
    // Bundles with more members take longer: start them first so that no thread is left alone
    // with the largest at the end. The reports stay in definition order.
    let mut order: Vec<usize> = (0..bundles.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(def.bundle(bundles[i]).members.len()));
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<std::thread::Result<Report>>>> = bundles.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                // The fault switch is per thread: each worker sets its own.
                #[cfg(feature = "fault-injection")]
                let _guard = fault.map(yichuang_core::fault::inject);
                #[cfg(not(feature = "fault-injection"))]
                let () = fault;
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let bundle = bundles[i];
                    let result = std::panic::catch_unwind(|| check::check(def, bundle, options));
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    let mut reports = Vec::with_capacity(bundles.len());
    for (slot, &bundle) in results.into_iter().zip(bundles) {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(report)) => reports.push(report),
            _ => {
                return Err(Failure::Failed(format!(
                    "the engine panicked while checking bundle `{}`; this is a bug in yichuang-core",
                    def.bundle(bundle).id
                )));
            }
        }
    }
    Ok(reports)
}

/// `invariant 3 (tasks start after …)` or `liveness (…)`.
fn invariant_name(invariant: Property) -> String {
    match invariant.number() {
        Some(n) => format!("invariant {n} ({})", invariant.title()),
        None => format!("liveness ({})", invariant.title()),
    }
}

fn render(file: &str, options: &Options, reports: &[Report]) -> String {
    let mut s = String::new();
    let start = reports.first().map(|r| r.start.to_string()).unwrap_or_default();
    let depth = match options.depth {
        Some(depth) => format!("depth ≤ {depth}"),
        None => "no depth bound".to_owned(),
    };
    let reduction = match (options.reduce, options.por) {
        (true, true) => "tickets apart from the case, claims first",
        (true, false) => "tickets apart from the case",
        (false, _) => "no reduction",
    };
    s.push_str(&format!(
        "check {file}: {}, {depth}, {reduction}, at most {} failed supervisions or unsatisfied follow-ups per \
         ticket, first command at {start}\n",
        count(reports.len(), "bundle", "bundles"),
        options.redo_max,
    ));
    for report in reports {
        s.push_str(&render_report(report));
    }
    let violated = reports.iter().filter(|r| !r.holds()).count();
    let incomplete = reports.iter().filter(|r| !r.complete()).count();
    if violated == 0 && incomplete > 0 {
        s.push_str(&format!(
            "INCOMPLETE in {} of {}: no violation was found, but the calendar cut paths short\n",
            incomplete,
            count(reports.len(), "bundle", "bundles")
        ));
    } else if violated == 0 && reports.iter().all(Report::exhaustive) {
        s.push_str(&format!(
            "ok: every invariant and liveness hold in every reachable state of {} (exhaustive)\n",
            count(reports.len(), "bundle", "bundles")
        ));
    } else if violated == 0 {
        s.push_str(&format!(
            "ok: every invariant holds within the bounds in {}\n",
            count(reports.len(), "bundle", "bundles")
        ));
    } else {
        s.push_str(&format!("VIOLATED in {} of {}\n", violated, count(reports.len(), "bundle", "bundles")));
    }
    s
}

fn render_report(report: &Report) -> String {
    let verdict = match &report.violation {
        None if !report.complete() => "INCOMPLETE (the calendar cut paths short)".to_owned(),
        None if report.exhaustive() => "ok, exhaustive".to_owned(),
        None => "ok within the bounds".to_owned(),
        Some(v) => format!("VIOLATED {}", invariant_name(v.invariant)),
    };
    let mut s = format!("\n{} ({}): {verdict}\n", report.bundle, report.name);
    s.push_str(&format!(
        "  {} states, {} transitions, max depth {}; {} final, {} cut off at the bound, {} unknown\n",
        report.states, report.transitions, report.max_depth, report.final_states, report.cut_off, report.unknown
    ));
    if report.reduced {
        s.push_str(&format!(
            "  case {} states; {} apart: {} states\n",
            report.states - report.ticket_states,
            count(report.tickets_apart, "ticket", "tickets"),
            report.ticket_states
        ));
    }
    if let Some(error) = &report.calendar_error {
        s.push_str(&format!(
            "  {} cut short by the calendar (first: {error}); the paths behind them were not explored\n",
            count(report.calendar_refusals, "move was", "moves were")
        ));
    }
    if report.states_limit_reached {
        s.push_str(
            "  the state limit was reached: the search stopped there; lower --depth, or raise --max-states, \
             to explore completely\n",
        );
    }
    if let Some(v) = &report.violation {
        s.push_str(&format!("  {}\n  shortest trace ({}):\n", v.message, count(v.trace.len(), "step", "steps")));
        for (i, step) in v.trace.iter().enumerate() {
            s.push_str(&format!("  {:>3}. {}\n", i + 1, trace_line(step)));
        }
    }
    s
}

/// `2025-01-02T09:30  clerk c at window w  accept  → C000001 Accepted, C000001 TaskReady(licence)`.
fn trace_line(step: &TraceStep) -> String {
    let events: Vec<String> = step.events.iter().map(event_text).collect();
    let events = if events.is_empty() { "(no events)".to_owned() } else { events.join(", ") };
    format!("{}  {}  {}  → {events}", step.at, step.actor.describe(), step.command)
}

/// An event in a few words: stream, name and the item or detail it concerns.
fn event_text(rec: &Recorded) -> String {
    let detail = match &rec.event {
        Event::TaskReady { item }
        | Event::TaskClaimed { item, .. }
        | Event::TaskApproved { item }
        | Event::TaskDenied { item, .. }
        | Event::SpecialProcedureStarted { item, .. }
        | Event::SpecialProcedureEnded { item }
        | Event::TaskSimulatedApproved { item }
        | Event::SimulationConverted { item }
        | Event::SimulationReopened { item }
        | Event::TaskLapsed { item } => item.to_string(),
        Event::TaskSigned { item, department } => format!("{item} by {department}"),
        Event::TaskCancelled { item, because } => format!("{item} because of {because}"),
        Event::SlaLevelChanged { subject, level } => match subject {
            yichuang_core::event::SlaSubject::Case => format!("case {level:?}"),
            yichuang_core::event::SlaSubject::Task(item) => format!("{item} {level:?}"),
        },
        Event::CaseDecided { outcome, awaiting_cure } => {
            format!("{outcome:?}{}", if *awaiting_cure { ", awaiting cure" } else { "" })
        }
        Event::Rated { stars, by_default } => format!("{stars}{}", if *by_default { " by default" } else { "" }),
        Event::MaterialSupplied { material } => material.to_string(),
        Event::TicketOpened { source, department, .. } => format!("{} → {department}", source.kind()),
        Event::TicketSubmitted { what, .. } => format!("{what:?}"),
        Event::TicketEscalated { level, .. } => format!("L{level}"),
        _ => String::new(),
    };
    if detail.is_empty() {
        format!("{} {}", rec.stream, rec.event.name())
    } else {
        format!("{} {}({detail})", rec.stream, rec.event.name())
    }
}

/// The whole run as printed by `--format json`.
#[derive(Debug, Serialize)]
struct JsonRun<'a> {
    file: &'a str,
    /// The depth bound; `null`: none.
    depth: Option<u32>,
    reduced: bool,
    /// The partial-order reduction of the case's search (claims first) was on.
    por: bool,
    redo_max: u8,
    max_states: usize,
    holds: bool,
    bundles: Vec<JsonBundle<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonBundle<'a> {
    bundle: &'a str,
    name: &'a str,
    holds: bool,
    start: String,
    states: usize,
    transitions: usize,
    max_depth: u32,
    final_states: usize,
    cut_off: usize,
    unknown: usize,
    tickets_apart: usize,
    ticket_states: usize,
    /// States the partial-order reduction expanded by one claim alone.
    por_states: usize,
    states_limit_reached: bool,
    /// Every path within the bounds was explored (none cut short by the calendar).
    complete: bool,
    /// Every reachable state was explored: nothing cut off, nothing unknown, no limit hit.
    exhaustive: bool,
    calendar_refusals: usize,
    calendar_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    violation: Option<JsonViolation<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonViolation<'a> {
    /// The invariant's number in DESIGN §4.3; `null` for liveness.
    invariant: Option<u8>,
    property: Property,
    title: &'static str,
    message: &'a str,
    trace: &'a [TraceStep],
}

fn json<'a>(file: &'a str, options: &Options, reports: &'a [Report]) -> JsonRun<'a> {
    let bundles = reports
        .iter()
        .map(|r| JsonBundle {
            bundle: r.bundle.as_str(),
            name: &r.name,
            holds: r.holds(),
            start: r.start.to_string(),
            states: r.states,
            transitions: r.transitions,
            max_depth: r.max_depth,
            final_states: r.final_states,
            cut_off: r.cut_off,
            unknown: r.unknown,
            tickets_apart: r.tickets_apart,
            ticket_states: r.ticket_states,
            por_states: r.por_states,
            states_limit_reached: r.states_limit_reached,
            complete: r.complete(),
            exhaustive: r.exhaustive(),
            calendar_refusals: r.calendar_refusals,
            calendar_error: r.calendar_error.as_deref(),
            violation: r.violation.as_ref().map(|v| JsonViolation {
                invariant: v.invariant.number(),
                property: v.invariant,
                title: v.invariant.title(),
                message: &v.message,
                trace: &v.trace,
            }),
        })
        .collect();
    JsonRun {
        file,
        depth: options.depth,
        reduced: options.reduce,
        por: options.reduce && options.por,
        redo_max: options.redo_max,
        max_states: options.states_max,
        holds: reports.iter().all(Report::holds),
        bundles,
    }
}
