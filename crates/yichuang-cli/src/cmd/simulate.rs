//! `yichuang simulate SCENARIO`: runs a simulation scenario (仿真) against the real engine and
//! prints its KPIs with confidence intervals (95 % unless `--confidence`) as a table, JSON or CSV, optionally with SVG
//! charts. A progress bar is drawn on stderr when it is a terminal, never in JSON mode.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use yichuang_sim::report::{Figure, Report};
use yichuang_sim::stats::Summary;
use yichuang_sim::{RunOptions, Scenario, ScenarioError, SimError};

use crate::failure::Failure;

/// Output format of `simulate` and `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON object.
    Json,
    /// Comma-separated rows, one per KPI.
    Csv,
}

/// Run a simulation scenario (仿真) and report its KPIs.
///
/// The scenario (RON, see docs/simulation.md) names a definition and sets arrivals, windows,
/// reviewers, review times, probabilities, policy switches, warm-up, replications and seed.
/// Replications run in parallel; the results for a seed are identical whatever the thread count.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Replications (default: the scenario's).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub replications: Option<u32>,
    /// Seed of the random streams (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop each replication after this many arrivals (overrides the scenario's `stop`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub cases: Option<u64>,
    /// Worker threads (default: one per core, at most one per replication).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write SVG charts (cycle-time histogram and CDF, utilisation, queue length, Gantt) and
    /// report.html (KPI tables and every chart, offline) here.
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
    /// Write the synthetic event log of the first replication, in the format its extension
    /// names: `.xes` (XES), `.jsonocel` (OCEL 2.0 JSON), `.sqlite` (OCEL 2.0 SQLite), `.csv`, or
    /// `.jsonl` (the engine's own JSON lines, which `replay`, `report` and `export` read). For
    /// mining a what-if like the hall's real log (docs/exports.md).
    #[arg(long, value_name = "FILE")]
    pub event_log: Option<PathBuf>,
    /// Confidence level of every interval.
    #[arg(long, value_name = "LEVEL", default_value = "0.95", value_parser = parse_confidence)]
    pub confidence: f64,
    /// Add replications until the interval of every --kpi is at most this half-width: `1%` of
    /// the estimate, or `5` in the KPI's unit (minutes; shares as 0–1). Starts from at least 5.
    #[arg(long, value_name = "WIDTH", value_parser = yichuang_sim::precision::Width::parse)]
    pub precision: Option<yichuang_sim::precision::Width>,
    /// A KPI --precision watches, or --sweep shows and charts (repeat for several; default
    /// cycle_time_minutes.mean for --precision; cycle time, on-time rate and queue wait for
    /// --sweep).
    #[arg(long = "kpi", value_name = "NAME")]
    pub kpis: Vec<String>,
    /// Run the scenario at every value of a factor, `PATH=VALUES` (repeat for a grid), with
    /// common random numbers: e.g. windows.Intake=10..16, reviewers.dept-b=60,66,
    /// arrivals.scale=0.9..1.1:0.1, policy.tolerance=true,false (docs/simulation.md, Experiments).
    #[arg(long = "sweep", value_name = "PATH=VALUES")]
    pub sweep: Vec<String>,
    /// Write per-replication, per-case and per-visit tables here (replications.csv, cases.csv,
    /// visits.csv; created if missing), to rebuild any KPI in other tools.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    /// How --sweep combines its factors.
    #[arg(long, value_enum, default_value_t = DesignArg::Grid, requires = "sweep")]
    pub design: DesignArg,
    /// The most replications --precision may run.
    #[arg(long, value_name = "N", default_value_t = 1000, requires = "precision",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_replications: u32,
}

/// The format of an event log file, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// The engine's JSON lines of `Recorded` events.
    JsonLines,
    /// A process-mining format.
    Export(yichuang_export::Format),
}

impl LogFormat {
    /// The format `path`'s extension names, or an input error listing those accepted.
    pub fn of(path: &Path) -> Result<LogFormat, Failure> {
        use yichuang_export::Format;
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("xes") => Ok(LogFormat::Export(Format::Xes)),
            Some("jsonocel") => Ok(LogFormat::Export(Format::OcelJson)),
            Some("sqlite") => Ok(LogFormat::Export(Format::OcelSqlite)),
            Some("csv") => Ok(LogFormat::Export(Format::Csv)),
            Some("jsonl") => Ok(LogFormat::JsonLines),
            _ => Err(Failure::input(format!(
                "--event-log `{}`: the extension names the format; use .xes, .jsonocel, .sqlite, .csv or .jsonl",
                path.display()
            ))),
        }
    }
}

/// Writes the synthetic event log of the first replication to `path`.
fn write_event_log(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    path: &Path,
    format: LogFormat,
) -> Result<(), Failure> {
    let (def, events) = yichuang_sim::event_log(scenario, options, 0).map_err(sim_failure)?;
    match format {
        LogFormat::Export(format) => {
            let log = yichuang_export::Log::new(&def, &events);
            crate::cmd::export::write_file(&log, format, yichuang_export::UtcOffset::CHINA_STANDARD_TIME, path)
        }
        LogFormat::JsonLines => {
            let mut text = String::new();
            for e in &events {
                text.push_str(&serde_json::to_string(e)?);
                text.push('\n');
            }
            std::fs::write(path, text)
                .map_err(|e| Failure::input(format!("cannot write the event log `{}`: {e}", path.display())))
        }
    }
}

/// How a sweep combines its factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DesignArg {
    /// Every combination of the factors' values.
    Grid,
    /// One factor at a time, the others at their first value.
    OneAtATime,
}

/// A confidence level: 0.90, 0.95 or 0.99 (also written 90%, 95%, 99%).
pub fn parse_confidence(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let level = match trimmed.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => trimmed.parse::<f64>(),
    };
    match level {
        Ok(l) if [0.90, 0.95, 0.99].iter().any(|x| (l - x).abs() < 1e-9) => Ok(l),
        _ => Err(format!("`{text}` is not a confidence level; use 0.90, 0.95 or 0.99")),
    }
}

/// "95 %" for a level of 0.95.
pub fn level_text(level: f64) -> String {
    format!("{} %", yichuang_sim::kpis::fixed(level * 100.0, 0, false))
}

/// Loads a scenario, turning its problems into the CLI's failures: an invalid definition is
/// exit 1 (with its diagnostics), everything else exit 2.
pub fn load_scenario(path: &Path) -> Result<Scenario, Failure> {
    Scenario::load(path).map_err(|e| match e {
        ScenarioError::Definition { diagnostics, .. } => Failure::Invalid(diagnostics),
        other => Failure::input(other.to_string()),
    })
}

/// A simulation error as a failure (exit 2: the scenario asks for something the rules refuse).
pub fn sim_failure(e: SimError) -> Failure {
    Failure::input(e.to_string())
}

/// Runs `f` with a progress counter, drawing a bar on stderr when it is a terminal and the
/// output is not JSON.
pub fn with_progress<T>(total: u64, format: Format, f: impl FnOnce(Option<&AtomicU64>) -> T) -> T {
    if format == Format::Json || !std::io::stderr().is_terminal() {
        return f(None);
    }
    let counter = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} simulating [{bar:40}] {percent:>3}% {elapsed} (eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            while !done.load(Ordering::Relaxed) {
                bar.set_position(counter.load(Ordering::Relaxed).min(total));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        let result = f(Some(&counter));
        done.store(true, Ordering::Relaxed);
        result
    })
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let scenario = load_scenario(&args.scenario)?;
    if let Some(dir) = &args.charts {
        prepare_charts_dir(dir)?;
    }
    if args.precision.is_none() && args.sweep.is_empty() && !args.kpis.is_empty() {
        return Err(Failure::input(
            "--kpi names what --precision watches or --sweep shows; give --precision WIDTH or --sweep PATH=VALUES too"
                .to_owned(),
        ));
    }
    let event_log = args.event_log.as_deref().map(|path| LogFormat::of(path).map(|f| (path, f))).transpose()?;
    let targets = match args.precision {
        Some(width) => {
            let names = yichuang_sim::kpis::names(&scenario);
            let named =
                if args.kpis.is_empty() { vec!["cycle_time_minutes.mean".to_owned()] } else { args.kpis.clone() };
            let kpis = named
                .iter()
                .map(|k| yichuang_sim::kpis::resolve(k, &names).map(|k| (k, width)))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| Failure::input(format!("--kpi: {e}")))?;
            Some(yichuang_sim::precision::Targets { kpis, max_replications: args.max_replications })
        }
        None => None,
    };
    let options = RunOptions {
        replications: args.replications,
        seed: args.seed,
        cases: args.cases,
        threads: args.threads,
        progress: None,
        confidence: Some(args.confidence),
        precision: targets.as_ref(),
        rows: args.export.is_some(),
    };
    if !args.sweep.is_empty() {
        if event_log.is_some() {
            return Err(Failure::input("--event-log writes one run's log; it does not go with --sweep".to_owned()));
        }
        let kpis = if args.precision.is_some() { Vec::new() } else { args.kpis.clone() };
        let design = match args.design {
            DesignArg::Grid => yichuang_sim::experiment::Design::Grid,
            DesignArg::OneAtATime => yichuang_sim::experiment::Design::OneAtATime,
        };
        let sweep = crate::cmd::experiment::Sweep {
            factors: args.sweep.clone(),
            design,
            kpis,
            options,
            format: args.format,
            charts: args.charts.clone(),
        };
        return crate::cmd::experiment::run_sweep(&scenario, &sweep, out);
    }
    let mut tables = match &args.export {
        Some(dir) => Some(Tables::create(dir, &scenario)?),
        None => None,
    };
    let total = yichuang_sim::progress_total(&[&scenario], &options);
    let mut written: std::io::Result<()> = Ok(());
    let (report, aggregate) = with_progress(total, args.format, |progress| {
        yichuang_sim::simulate_each(&scenario, &RunOptions { progress, ..options }, &mut |r| {
            if let (Some(t), Ok(())) = (tables.as_mut(), &written) {
                written = t.replication(r);
            }
        })
    })
    .map_err(sim_failure)?;
    if let Some(t) = tables.take() {
        written.and_then(|()| t.finish(&aggregate)).map_err(|e| {
            Failure::input(format!(
                "cannot write the tables into `{}`: {e}",
                args.export.as_deref().unwrap_or(Path::new("")).display()
            ))
        })?;
        if args.format == Format::Table {
            writeln!(out, "tables: {}", args.export.as_deref().unwrap_or(Path::new("")).display())?;
        }
    }
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&report, out)?,
        Format::Table => write_table(&report, out)?,
    }
    if let Some(dir) = &args.charts {
        let written = yichuang_sim::svg::write_charts(&report, dir, "")
            .map_err(|e| Failure::input(format!("cannot write charts into `{}`: {e}", dir.display())))?;
        if args.format == Format::Table {
            for path in written {
                writeln!(out, "chart: {}", path.display())?;
            }
        }
    }
    if let Some((path, format)) = event_log {
        write_event_log(&scenario, &options, path, format)?;
        if args.format == Format::Table {
            writeln!(out, "event log: {} (replication 1)", path.display())?;
        }
    }
    Ok(())
}

/// The per-case and per-visit tables being written as replications come, and the
/// per-replication table written at the end (`--export DIR`).
struct Tables {
    dir: PathBuf,
    scenario: Scenario,
    def: std::sync::Arc<yichuang_core::Definition>,
    cases: std::io::BufWriter<std::fs::File>,
    visits: std::io::BufWriter<std::fs::File>,
}

impl Tables {
    /// Creates the directory and the files with their headers, before anything runs.
    fn create(dir: &Path, scenario: &Scenario) -> Result<Tables, Failure> {
        let refuse = |e: std::io::Error| {
            Failure::input(format!(
                "cannot write the tables into `{}`: {e}; give a writable directory (--export DIR, created if missing)",
                dir.display()
            ))
        };
        std::fs::create_dir_all(dir).map_err(refuse)?;
        let open = |name: &str, header: &str| -> std::io::Result<std::io::BufWriter<std::fs::File>> {
            let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
            writeln!(w, "{header}")?;
            Ok(w)
        };
        Ok(Tables {
            dir: dir.to_owned(),
            scenario: scenario.clone(),
            def: scenario.definition(),
            cases: open("cases.csv", yichuang_sim::tables::CASES_HEADER).map_err(refuse)?,
            visits: open("visits.csv", yichuang_sim::tables::VISITS_HEADER).map_err(refuse)?,
        })
    }

    /// Writes one replication's cases and visits.
    fn replication(&mut self, r: &yichuang_sim::RepResult) -> std::io::Result<()> {
        yichuang_sim::tables::write_cases(&mut self.cases, &self.scenario, r)?;
        yichuang_sim::tables::write_visits(&mut self.visits, &self.scenario, &self.def, r)
    }

    /// Writes `replications.csv` and flushes everything.
    fn finish(mut self, aggregate: &yichuang_sim::Aggregate) -> std::io::Result<()> {
        self.cases.flush()?;
        self.visits.flush()?;
        let mut w = std::io::BufWriter::new(std::fs::File::create(self.dir.join("replications.csv"))?);
        yichuang_sim::tables::write_replications(&mut w, aggregate)?;
        w.flush()
    }
}

/// Checks, before a long run, that the charts can be written: `dir` is created if missing, must
/// be a directory, and must take a file.
pub fn prepare_charts_dir(dir: &Path) -> Result<(), Failure> {
    let refuse = |why: String| {
        Failure::input(format!(
            "cannot write charts into `{}`: {why}; give a writable directory (--charts DIR, created if missing)",
            dir.display()
        ))
    };
    if dir.exists() && !dir.is_dir() {
        return Err(refuse("it is a file, not a directory".to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(|e| refuse(e.to_string()))?;
    let probe = dir.join(format!(".yichuang-charts-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| refuse(e.to_string()))?;
    // The probe is ours; failing to remove it does not stop the run.
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// A number for CSV: empty when it is not finite (no case was measured).
pub fn csv_number(x: f64) -> String {
    if x.is_finite() { x.to_string() } else { String::new() }
}

/// A mean for the table: "—" when there is none.
fn mean_text(x: Option<f64>, precision: usize) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.precision$}"),
        _ => "—".to_owned(),
    }
}

fn ci_text(ci: Option<[f64; 2]>) -> String {
    ci.map_or_else(|| "—".to_owned(), |[a, b]| format!("[{a:.1}, {b:.1}]"))
}

fn summary_row(out: &mut dyn Write, label: &str, s: &Option<Summary>) -> std::io::Result<()> {
    match s {
        Some(s) => writeln!(
            out,
            "  {label:<26} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1}  {}",
            s.mean,
            s.p50,
            s.p90,
            s.p95,
            s.p99,
            s.max,
            ci_text(s.ci)
        ),
        None => writeln!(out, "  {label:<26} (no data)"),
    }
}

fn percent(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn percent_ci(ci: Option<[f64; 2]>) -> String {
    ci.map_or_else(|| "—".to_owned(), |[a, b]| format!("[{:.1} %, {:.1} %]", a * 100.0, b * 100.0))
}

/// Says whether the run describes a steady state, and if not which stations are overloaded.
fn write_steady_state(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    if r.steady_state.steady {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "NOT STEADY: the hall does not settle, so the means and intervals below describe this run's length and \
         start, not a long run:"
    )?;
    for u in &r.steady_state.unsteady {
        let load = u
            .offered_load
            .map_or_else(|| "offered load unknown".to_owned(), |l| format!("offered load {}", percent(l)));
        let why = match (u.overloaded, u.queue_growing) {
            (true, true) => "more work arrives than its servers can do, and its queue grows",
            (true, false) => "more work arrives than its servers can do",
            _ => {
                "its queue still grows through the arrivals: the run is too short to settle (add a warm-up or run \
                 longer), or the station is at its capacity"
            }
        };
        writeln!(out, "  {}: {load}; {why}", u.station)?;
    }
    Ok(())
}

/// Says what warm-up was detected, and how precision-driven stopping ended.
fn write_warm_up_and_precision(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(w) = &r.warm_up {
        if w.detected {
            writeln!(
                out,
                "warm-up: {} detected ({}, pilot of {} replication(s)); cases arriving before it are not measured",
                duration_text(w.minutes),
                w.method,
                w.pilot_replications
            )?;
        } else {
            writeln!(
                out,
                "warm-up: none detected ({}, {} batches): the run does not settle within its first half; it is too \
                 short or not steady, and everything is measured",
                w.method, w.batches
            )?;
        }
    }
    if let Some(p) = &r.precision {
        let verdict = if p.met {
            format!("met after {} replications", p.replications)
        } else {
            format!("NOT met: stopped at the cap of {} replications", p.max_replications)
        };
        writeln!(
            out,
            "precision: {verdict} ({} % intervals)",
            yichuang_sim::kpis::fixed(r.confidence * 100.0, 0, false)
        )?;
        for t in &p.targets {
            let target = match t.target {
                yichuang_sim::precision::Width::Relative(x) => format!("{} of the estimate", percent(x)),
                yichuang_sim::precision::Width::Absolute(x) => format!("{x}"),
            };
            let half = match (t.half_width, t.value) {
                (Some(h), Some(v)) if v != 0.0 => {
                    format!("±{} ({} of {})", fixed_text(h), percent(h / v.abs()), fixed_text(v))
                }
                (Some(h), _) => format!("±{}", fixed_text(h)),
                _ => "no interval".to_owned(),
            };
            writeln!(
                out,
                "  {}: half-width {half}, target {target}: {}",
                t.kpi,
                if t.met { "met" } else { "not met" }
            )?;
        }
    }
    Ok(())
}

/// A number with three significant figures, at least one decimal.
fn fixed_text(x: f64) -> String {
    let decimals = if x.abs() >= 100.0 {
        1
    } else if x.abs() >= 1.0 {
        2
    } else {
        3
    };
    yichuang_sim::kpis::fixed(x, decimals, false)
}

/// A duration in minutes as hours or days when long.
fn duration_text(minutes: f64) -> String {
    if minutes >= 2.0 * 1440.0 {
        format!("{} days", yichuang_sim::kpis::fixed(minutes / 1440.0, 1, false))
    } else if minutes >= 120.0 {
        format!("{} hours", yichuang_sim::kpis::fixed(minutes / 60.0, 1, false))
    } else {
        format!("{} minutes", yichuang_sim::kpis::fixed(minutes, 0, false))
    }
}

/// The human-readable table.
pub fn write_table(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "scenario {} (definition {}), seed {}, {} replication(s) on {} thread(s)",
        r.scenario, r.definition, r.seed, r.replications, r.threads
    )?;
    writeln!(
        out,
        "{} cases completed ({} arrivals, warm-up included; {} unfinished) in {:.2} s: {:.0} cases/s",
        r.cases, r.arrivals, r.unfinished, r.wall_seconds, r.cases_per_second
    )?;
    if r.cases == 0 && r.unfinished == 0 {
        if r.arrivals == 0 {
            writeln!(out, "no case arrived before the stop: raise the arrival rates or lengthen `stop`")?;
        } else {
            writeln!(
                out,
                "no case was measured: every arrival fell in the warm-up (`warm_up` in the scenario); shorten it or \
                 simulate more cases"
            )?;
        }
    }
    write_steady_state(r, out)?;
    write_warm_up_and_precision(r, out)?;
    writeln!(out)?;
    writeln!(
        out,
        "  {:<26} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}  {} CI of the mean",
        "minutes per case",
        "mean",
        "p50",
        "p90",
        "p95",
        "p99",
        "max",
        level_text(r.confidence)
    )?;
    summary_row(out, "cycle time", &r.cycle_time_minutes)?;
    summary_row(out, "cycle time (working)", &r.working_cycle_time_minutes)?;
    summary_row(out, "  = queue wait", &r.waiting_minutes.queue)?;
    summary_row(out, "  + join wait", &r.waiting_minutes.join)?;
    summary_row(out, "  + waiting for materials", &r.waiting_minutes.materials)?;
    summary_row(out, "  + special procedures", &r.waiting_minutes.special_procedure)?;
    summary_row(out, "  + in service", &r.waiting_minutes.service)?;
    summary_row(out, "  (closed hours, within)", &r.waiting_minutes.closed_hours)?;
    summary_row(out, "trips per case", &r.trips)?;
    summary_row(out, "ticket closure", &r.tickets.closure_minutes)?;
    writeln!(out)?;
    let on_time = if r.on_time_rate.is_finite() { percent(r.on_time_rate) } else { "—".to_owned() };
    writeln!(out, "on time: {on_time} {}", percent_ci(r.on_time_rate_ci))?;
    for (id, b) in &r.bundles {
        let mean = mean_text(b.cycle_time_minutes.as_ref().map(|s| s.mean), 1);
        let on_time =
            b.on_time.as_ref().map_or_else(|| "—".to_owned(), |o| format!("{} {}", percent(o.rate), percent_ci(o.ci)));
        writeln!(out, "  bundle {id}: {} cases, mean cycle {mean} min, on time {on_time}", b.cases)?;
    }
    let figure = |f: &Figure| format!("{:.1} {}", f.mean, ci_text(f.ci));
    writeln!(
        out,
        "throughput: {} cases/day; WIP {} (max {})",
        figure(&r.throughput_per_day),
        figure(&r.wip.mean),
        r.wip.max
    )?;
    writeln!(out)?;
    let label = |name: &str, kind: &str| format!("{name} ({kind})");
    // The widest station label sets the first column, so the figures stay aligned.
    let width = r.stations.iter().map(|(name, s)| label(name, s.kind).chars().count()).max().unwrap_or(0).max(28);
    writeln!(
        out,
        "  {:<width$} {:>7} {:>12} {:>12} {:>12} {:>10} {:>12} {:>12}",
        "station", "servers", "offered load", "utilisation", "mean queue", "max queue", "mean wait", "mean sojourn"
    )?;
    for (name, s) in &r.stations {
        let wait = mean_text(s.queue_wait_minutes.as_ref().map(|w| w.mean), 2);
        let sojourn = mean_text(s.sojourn_minutes.as_ref().map(|w| w.mean), 2);
        let load = s.offered_load.as_ref().map_or_else(|| "—".to_owned(), |f| percent(f.mean));
        // A schedule: the servers on duty on average, of the most at once.
        let servers = if (s.mean_servers - f64::from(s.servers)).abs() > 1e-9 {
            format!("{:.1}/{}", s.mean_servers, s.servers)
        } else {
            s.servers.to_string()
        };
        writeln!(
            out,
            "  {:<width$} {:>7} {:>12} {:>12} {:>12.2} {:>10} {:>12} {:>12}",
            label(name, s.kind),
            servers,
            load,
            percent(s.utilisation.mean),
            s.queue_length.mean,
            s.queue_length_max,
            wait,
            sojourn
        )?;
    }
    let mut slowest: Vec<(&String, f64, f64)> = r
        .stations
        .iter()
        .filter_map(|(name, s)| s.slowest_branch.as_ref().map(|b| (name, b.share_of_joins, b.join_minutes_per_case)))
        .collect();
    if !slowest.is_empty() {
        slowest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = slowest
            .iter()
            .map(|(name, share, minutes)| {
                format!("{name} {} ({minutes:.1} min of join wait per case)", percent(*share))
            })
            .collect();
        writeln!(out, "slowest parallel branch, share of joins: {}", parts.join(" · "))?;
    }
    writeln!(out)?;
    let o = &r.outcomes;
    writeln!(
        out,
        "outcomes: {} approved, {} partially approved, {} denied, {} returned",
        o.approved, o.partially_approved, o.denied, o.returned
    )?;
    if let Some(l) = &r.applicants_lost {
        writeln!(
            out,
            "applicants lost: {} balked, {} gave up waiting: {} {} of arrivals; failed trips (later visits given up): {} \
             ({:.3} per case)",
            l.balked,
            l.reneged,
            percent(l.share.mean),
            percent_ci(l.share.ci),
            l.failed_trips,
            l.failed_trips_per_case.mean
        )?;
    }
    let s = &r.ratings.stars;
    writeln!(
        out,
        "ratings: 1★ {} · 2★ {} · 3★ {} · 4★ {} · 5★ {} ({} by default), bad-rating rate {}",
        s[0],
        s[1],
        s[2],
        s[3],
        s[4],
        r.ratings.by_default,
        r.ratings
            .bad_rate
            .map_or_else(|| "—".to_owned(), |b| format!("{} {}", percent(b), percent_ci(r.ratings.bad_rate_ci)))
    )?;
    let c = &r.sla;
    writeln!(
        out,
        "clocks raised: cases {} warning, {} overdue · tasks {} warning, {} overdue",
        c.case_warnings, c.case_overdue, c.task_warnings, c.task_overdue
    )?;
    let opened: Vec<String> = r.tickets.opened.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(
        out,
        "tickets: opened {} · closed {} · abandoned {}",
        if opened.is_empty() { "0".to_owned() } else { opened.join(", ") },
        r.tickets.closed,
        r.tickets.abandoned
    )?;
    Ok(())
}

fn csv_row(out: &mut dyn Write, kpi: &str, s: &Summary) -> std::io::Result<()> {
    let (lo, hi) = s.ci.map_or((String::new(), String::new()), |[a, b]| (a.to_string(), b.to_string()));
    let kpi = csv_field(kpi);
    writeln!(out, "{kpi},{},{},{},{},{},{},{},{lo},{hi}", s.count, s.mean, s.p50, s.p90, s.p95, s.p99, s.max)
}

/// One row per KPI: `kpi,count,mean,p50,p90,p95,p99,max,ci_low,ci_high` (the interval at the
/// run's confidence level, 95 % unless `--confidence` says otherwise). Counts over the
/// whole run (outcomes, ratings, clocks raised, tickets) fill only the `count` column.
pub fn write_csv(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "kpi,count,mean,p50,p90,p95,p99,max,ci_low,ci_high")?;
    let summaries = [
        ("cycle_time_minutes", &r.cycle_time_minutes),
        ("working_cycle_time_minutes", &r.working_cycle_time_minutes),
        ("waiting_minutes.queue", &r.waiting_minutes.queue),
        ("waiting_minutes.join", &r.waiting_minutes.join),
        ("waiting_minutes.materials", &r.waiting_minutes.materials),
        ("waiting_minutes.special_procedure", &r.waiting_minutes.special_procedure),
        ("waiting_minutes.service", &r.waiting_minutes.service),
        ("waiting_minutes.closed_hours", &r.waiting_minutes.closed_hours),
        ("trips", &r.trips),
        ("tickets.closure_minutes", &r.tickets.closure_minutes),
    ];
    for (kpi, s) in summaries {
        if let Some(s) = s {
            csv_row(out, kpi, s)?;
        }
    }
    let simple = |out: &mut dyn Write, kpi: &str, mean: f64, ci: Option<[f64; 2]>| {
        let (lo, hi) = ci.map_or((String::new(), String::new()), |[a, b]| (a.to_string(), b.to_string()));
        writeln!(out, "{},,{},,,,,,{lo},{hi}", csv_field(kpi), csv_number(mean))
    };
    simple(out, "on_time_rate", r.on_time_rate, r.on_time_rate_ci)?;
    simple(out, "throughput_per_day", r.throughput_per_day.mean, r.throughput_per_day.ci)?;
    simple(out, "wip", r.wip.mean.mean, r.wip.mean.ci)?;
    for (id, b) in &r.bundles {
        if let Some(s) = &b.cycle_time_minutes {
            csv_row(out, &format!("bundles.{id}.cycle_time_minutes"), s)?;
        }
        if let Some(o) = &b.on_time {
            simple(out, &format!("bundles.{id}.on_time_rate"), o.rate, o.ci)?;
        }
    }
    for (name, s) in &r.stations {
        simple(out, &format!("utilisation.{name}"), s.utilisation.mean, s.utilisation.ci)?;
        simple(out, &format!("queue_length.{name}"), s.queue_length.mean, s.queue_length.ci)?;
        if let Some(w) = &s.queue_wait_minutes {
            csv_row(out, &format!("queue_wait_minutes.{name}"), w)?;
        }
        if let Some(f) = &s.sojourn_minutes {
            simple(out, &format!("sojourn_minutes.{name}"), f.mean, f.ci)?;
        }
        if let Some(f) = &s.offered_load {
            simple(out, &format!("offered_load.{name}"), f.mean, f.ci)?;
        }
        if let Some(b) = &s.slowest_branch {
            simple(out, &format!("slowest_branch.share_of_joins.{name}"), b.share_of_joins, None)?;
            simple(out, &format!("slowest_branch.join_minutes_per_case.{name}"), b.join_minutes_per_case, None)?;
        }
    }
    simple(out, "steady_state", if r.steady_state.steady { 1.0 } else { 0.0 }, None)?;
    if let Some(l) = &r.applicants_lost {
        writeln!(out, "applicants_lost.balked,{},,,,,,,,", l.balked)?;
        writeln!(out, "applicants_lost.reneged,{},,,,,,,,", l.reneged)?;
        simple(out, "applicants_lost.share", l.share.mean, l.share.ci)?;
        writeln!(out, "applicants_lost.failed_trips,{},,,,,,,,", l.failed_trips)?;
        simple(out, "applicants_lost.failed_trips_per_case", l.failed_trips_per_case.mean, l.failed_trips_per_case.ci)?;
    }
    if let Some(w) = &r.warm_up {
        simple(out, "warm_up.detected", if w.detected { 1.0 } else { 0.0 }, None)?;
        simple(out, "warm_up.minutes", w.minutes, None)?;
    }
    if let Some(p) = &r.precision {
        simple(out, "precision.met", if p.met { 1.0 } else { 0.0 }, None)?;
        simple(out, "precision.replications", f64::from(p.replications), None)?;
    }
    let (o, c, t) = (&r.outcomes, &r.sla, &r.tickets);
    let mut counts = vec![
        ("outcomes.approved".to_owned(), o.approved),
        ("outcomes.partially_approved".to_owned(), o.partially_approved),
        ("outcomes.denied".to_owned(), o.denied),
        ("outcomes.returned".to_owned(), o.returned),
    ];
    counts.extend((1..=5).map(|k| (format!("ratings.stars_{k}"), r.ratings.stars[k - 1])));
    counts.push(("ratings.by_default".to_owned(), r.ratings.by_default));
    counts.extend([
        ("sla.case_warnings".to_owned(), c.case_warnings),
        ("sla.case_overdue".to_owned(), c.case_overdue),
        ("sla.task_warnings".to_owned(), c.task_warnings),
        ("sla.task_overdue".to_owned(), c.task_overdue),
    ]);
    counts.extend(t.opened.iter().map(|(kind, n)| (format!("tickets.opened.{kind}"), *n)));
    counts.extend([("tickets.closed".to_owned(), t.closed), ("tickets.abandoned".to_owned(), t.abandoned)]);
    for (kpi, n) in counts {
        writeln!(out, "{},{n},,,,,,,,", csv_field(&kpi))?;
    }
    if let Some(rate) = r.ratings.bad_rate {
        simple(out, "ratings.bad_rate", rate, r.ratings.bad_rate_ci)?;
    }
    Ok(())
}
