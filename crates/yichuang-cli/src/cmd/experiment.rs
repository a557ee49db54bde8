//! `yichuang experiment FILE` and `yichuang simulate SCENARIO --sweep PATH=VALUES`: a scenario
//! run at every point of a grid of factors with common random numbers (仿真实验), one table of
//! the chosen KPIs with their intervals per point (every KPI in CSV and JSON), and a chart of
//! each chosen KPI against the first factor with its interval band.

use std::io::Write;
use std::path::{Path, PathBuf};

use yichuang_sim::experiment::{Design, ExperimentReport, ExperimentSpec, Factor};
use yichuang_sim::{RunOptions, Scenario};

use crate::cmd::simulate::{
    Format, csv_field, csv_number, level_text, load_scenario, parse_confidence, prepare_charts_dir, sim_failure,
};
use crate::failure::Failure;

/// The KPIs a sweep shows when none is named.
pub const DEFAULT_KPIS: [&str; 3] = ["cycle_time_minutes.mean", "on_time_rate", "waiting_minutes.queue.mean"];

/// Run an experiment file: a scenario over a grid of factors (仿真实验).
///
/// The file (RON) names a scenario and its factors, e.g.
/// `(scenario: "parity-parallel.ron", factors: ["windows.Intake=10..16"], design: Grid,
/// replications: 3, kpis: ["cycle_time_minutes.mean"])`. Every point runs with the scenario's
/// seed (common random numbers), in parallel, deterministic for a seed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file.
    pub file: PathBuf,
    /// Replications of every point (default: the file's, else the scenario's).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub replications: Option<u32>,
    /// Seed of every point (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop each replication after this many arrivals.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub cases: Option<u64>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write a chart of each shown KPI against the first factor here.
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
    /// Confidence level of every interval.
    #[arg(long, value_name = "LEVEL", default_value = "0.95", value_parser = parse_confidence)]
    pub confidence: f64,
    /// A KPI to show and chart (repeat for several; default: the file's, else cycle time,
    /// on-time rate and queue wait).
    #[arg(long = "kpi", value_name = "NAME")]
    pub kpis: Vec<String>,
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let spec = ExperimentSpec::load(&args.file).map_err(Failure::input)?;
    let scenario_path = args.file.parent().unwrap_or(Path::new("")).join(&spec.scenario);
    let scenario = load_scenario(&scenario_path)?;
    let kpis = if args.kpis.is_empty() { spec.kpis.clone() } else { args.kpis.clone() };
    let sweep = Sweep {
        factors: spec.factors.clone(),
        design: spec.design,
        kpis,
        options: RunOptions {
            replications: args.replications.or(spec.replications),
            seed: args.seed,
            cases: args.cases,
            threads: args.threads,
            progress: None,
            confidence: Some(args.confidence),
            precision: None,
            rows: false,
        },
        format: args.format,
        charts: args.charts.clone(),
    };
    run_sweep(&scenario, &sweep, out)
}

/// A sweep as the command line or an experiment file gives it.
pub struct Sweep<'p> {
    /// `PATH=VALUES` each.
    pub factors: Vec<String>,
    /// How points are chosen.
    pub design: Design,
    /// KPIs to show and chart (empty: [`DEFAULT_KPIS`]).
    pub kpis: Vec<String>,
    /// Replications, seed, threads, confidence, precision.
    pub options: RunOptions<'p>,
    /// Output format.
    pub format: Format,
    /// Charts directory.
    pub charts: Option<PathBuf>,
}

/// Runs a sweep of `scenario` and writes its table (or CSV, or JSON) and charts.
pub fn run_sweep(scenario: &Scenario, sweep: &Sweep<'_>, out: &mut dyn Write) -> Result<(), Failure> {
    let mut problems = Vec::new();
    let mut factors = Vec::new();
    for text in &sweep.factors {
        match Factor::parse(text) {
            Ok(f) => factors.push(f),
            Err(e) => problems.push(e),
        }
    }
    if factors.is_empty() && problems.is_empty() {
        problems.push("an experiment needs at least one factor (PATH=VALUES)".to_owned());
    }
    if !problems.is_empty() {
        return Err(Failure::input(problems.join("\n")));
    }
    let names = yichuang_sim::kpis::names(scenario);
    let wanted: Vec<String> =
        if sweep.kpis.is_empty() { DEFAULT_KPIS.iter().map(|s| (*s).to_owned()).collect() } else { sweep.kpis.clone() };
    let kpis = wanted
        .iter()
        .map(|k| yichuang_sim::kpis::resolve(k, &names))
        .collect::<Result<Vec<String>, String>>()
        .map_err(|e| Failure::input(format!("--kpi: {e}")))?;
    let points = yichuang_sim::experiment::points(scenario, &factors, sweep.design)
        .map_err(|e| Failure::input(format!("the experiment's points do not all make valid scenarios:\n{e}")))?;
    if let Some(dir) = &sweep.charts {
        prepare_charts_dir(dir)?;
    }
    let report = yichuang_sim::experiment::run(scenario, &points, &factors, sweep.design, &sweep.options)
        .map_err(sim_failure)?;
    match sweep.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&report, out)?,
        Format::Table => write_table(&report, &kpis, sweep.options.replications(scenario), out)?,
    }
    if let Some(dir) = &sweep.charts {
        let charts: Vec<(String, String)> =
            kpis.iter().map(|kpi| (kpi.clone(), yichuang_sim::svg::sweep(&report, kpi))).collect();
        let page = yichuang_sim::html::experiment_page(&report, &kpis, &charts);
        let files = charts
            .iter()
            .map(|(kpi, svg)| (dir.join(format!("sweep-{kpi}.svg")), svg))
            .chain(std::iter::once((dir.join("report.html"), &page)));
        for (path, text) in files {
            std::fs::write(&path, text)
                .map_err(|e| Failure::input(format!("cannot write charts into `{}`: {e}", dir.display())))?;
            if sweep.format == Format::Table {
                writeln!(out, "chart: {}", path.display())?;
            }
        }
    }
    Ok(())
}

/// The table: one row per point, the factors' values and each KPI with its interval, and
/// whether the point is in steady state.
fn write_table(r: &ExperimentReport, kpis: &[String], replications: u32, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "experiment on {}: {} point(s), {} of {}, {replications} replication(s) each, seed {} for every point \
         (common random numbers); {} intervals",
        r.scenario,
        r.points.len(),
        match r.design {
            Design::Grid => "grid",
            Design::OneAtATime => "one factor at a time",
        },
        r.factors.join(" × "),
        r.seed,
        level_text(r.confidence)
    )?;
    writeln!(out)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = r.factors.clone();
    for k in kpis {
        let (_, en) = yichuang_sim::kpis::label(k);
        let unit = match r.points.first().and_then(|p| p.kpis.iter().find(|x| x.kpi == *k)).map(|x| x.kind) {
            Some(yichuang_sim::kpis::Kind::Minutes) => " (min)",
            _ => "",
        };
        header.push(format!("{en}{unit}"));
    }
    header.push("steady".to_owned());
    for p in &r.points {
        let mut row: Vec<String> = p.values.iter().map(|v| v.to_string()).collect();
        for k in kpis {
            row.push(match p.kpis.iter().find(|x| x.kpi == *k) {
                Some(x) => match x.ci {
                    Some([lo, hi]) => {
                        format!("{} [{}, {}]", x.kind.format(x.value), x.kind.format(lo), x.kind.format(hi))
                    }
                    None => x.kind.format(x.value),
                },
                None => "—".to_owned(),
            });
        }
        let state = &p.report.steady_state;
        row.push(if state.steady {
            "yes".to_owned()
        } else {
            let worst: Vec<String> = state
                .unsteady
                .iter()
                .map(|u| match u.offered_load {
                    Some(l) => format!("{} {}", u.station, yichuang_sim::kpis::Kind::Share.format(l)),
                    None => u.station.clone(),
                })
                .collect();
            format!("no: {}", worst.join(", "))
        });
        rows.push(row);
    }
    let mut table = crate::text::Table::new(header);
    for row in rows {
        table.row(row);
    }
    write!(out, "{}", table.render(2))?;
    if r.points.iter().any(|p| !p.report.steady_state.steady) {
        writeln!(
            out,
            "steady no: a station is overloaded (offered load shown) or its queue grows; that point's means describe \
             the run's length, not a long run"
        )?;
    }
    Ok(())
}

/// Every KPI of every point, one row each: `point,<factors>,kpi,kind,value,ci_low,ci_high,steady`.
fn write_csv(r: &ExperimentReport, out: &mut dyn Write) -> std::io::Result<()> {
    let factors: Vec<String> = r.factors.iter().map(|f| csv_field(f).into_owned()).collect();
    writeln!(out, "point,{},kpi,kind,value,ci_low,ci_high,steady", factors.join(","))?;
    for (i, p) in r.points.iter().enumerate() {
        let values: Vec<String> = p.values.iter().map(|v| csv_field(&v.to_string()).into_owned()).collect();
        for k in &p.kpis {
            let (lo, hi) = k.ci.map_or((String::new(), String::new()), |[a, b]| (a.to_string(), b.to_string()));
            let kind =
                serde_json::to_value(k.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            writeln!(
                out,
                "{},{},{},{kind},{},{lo},{hi},{}",
                i + 1,
                values.join(","),
                csv_field(&k.kpi),
                csv_number(k.value),
                p.report.steady_state.steady
            )?;
        }
    }
    Ok(())
}
