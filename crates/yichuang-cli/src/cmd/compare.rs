//! `yichuang compare A B [...]`: runs scenarios with common random numbers (same seed, same
//! replications, each case's random draws keyed by its arrival) and reports every scenario
//! against the first: each KPI's absolute and relative paired difference with its confidence
//! interval and p-value, significance decided by Holm–Bonferroni over the KPIs tested.

use std::io::Write;
use std::path::PathBuf;

use yichuang_sim::kpis::{fixed, format_relative};
use yichuang_sim::report::Comparison;
use yichuang_sim::{CompareOptions, RunOptions, Scenario};

use crate::cmd::simulate::{
    Format, csv_field, csv_number, level_text, load_scenario, parse_confidence, prepare_charts_dir, sim_failure,
    with_progress,
};
use crate::failure::Failure;

/// Compare scenarios (what-if analysis) with common random numbers.
///
/// The first scenario is the baseline; for each other one, every KPI is reported with the
/// paired difference (absolute and relative), its confidence interval (over replications, or
/// over batches of cases paired by arrival when there is one replication) and p-value. About 30
/// KPIs are tested at once: a difference is called significant only when it survives
/// Holm–Bonferroni over that family, so that the chance of any false flag stays within
/// 1 − confidence. Name the KPIs that matter with --kpi to test only those.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files, the baseline first.
    #[arg(required = true, num_args = 2..)]
    pub scenarios: Vec<PathBuf>,
    /// Replications of every scenario (default: the baseline's).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub replications: Option<u32>,
    /// Seed shared by every scenario (default: the baseline's).
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
    /// Write each scenario's SVG charts and report.html here (file names prefixed with the
    /// scenario name).
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
    /// Confidence level of every interval; 1 − LEVEL is the family-wise error rate.
    #[arg(long, value_name = "LEVEL", default_value = "0.95", value_parser = parse_confidence)]
    pub confidence: f64,
    /// Test and report only this KPI (repeat for several), e.g. cycle_time.mean, on_time_rate,
    /// utilisation.intake.
    #[arg(long = "kpi", value_name = "NAME")]
    pub kpis: Vec<String>,
    /// Give each scenario its own random numbers instead of the baseline's (common random
    /// numbers remove most of the noise from a comparison; independent ones show what is left).
    #[arg(long)]
    pub independent: bool,
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut failures = Vec::new();
    for path in &args.scenarios {
        match load_scenario(path) {
            Ok(s) => scenarios.push(s),
            Err(f) => failures.push(f),
        }
    }
    if !failures.is_empty() {
        return Err(Failure::Many(failures));
    }
    // Two scenarios of one name would be told apart nowhere (table, JSON, chart files): a later
    // one is named after its file too.
    let mut seen = std::collections::BTreeSet::new();
    for (s, path) in scenarios.iter_mut().zip(&args.scenarios) {
        if seen.contains(&s.spec.name) {
            let named = format!("{} ({})", s.spec.name, path.display());
            let mut name = named.clone();
            for k in 2.. {
                if !seen.contains(&name) {
                    break;
                }
                name = format!("{named} #{k}");
            }
            s.spec.name = name;
        }
        seen.insert(s.spec.name.clone());
    }
    let prefixes = chart_prefixes(scenarios.iter().map(|s| s.spec.name.as_str()));
    if let Some(dir) = &args.charts {
        prepare_charts_dir(dir)?;
    }
    let refs: Vec<&Scenario> = scenarios.iter().collect();
    let names = yichuang_sim::kpis::names(refs[0]);
    let kpis = args
        .kpis
        .iter()
        .map(|k| yichuang_sim::kpis::resolve(k, &names))
        .collect::<Result<Vec<String>, String>>()
        .map_err(|e| Failure::input(format!("--kpi: {e}")))?;
    let compare = CompareOptions { independent: args.independent, kpis };
    let options = RunOptions {
        replications: args.replications,
        seed: args.seed,
        cases: args.cases,
        threads: args.threads,
        progress: None,
        confidence: Some(args.confidence),
        precision: None,
        rows: false,
    };
    let pinned =
        RunOptions { replications: Some(options.replications(refs[0])), seed: Some(options.seed(refs[0])), ..options };
    let total = yichuang_sim::progress_total(&refs, &pinned);
    let comparison = with_progress(total, args.format, |progress| {
        yichuang_sim::compare(&refs, &RunOptions { progress, ..options }, &compare)
    })
    .map_err(sim_failure)?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &comparison)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&comparison, out)?,
        Format::Table => write_table(&comparison, out)?,
    }
    if let Some(dir) = &args.charts {
        let cannot = |e: std::io::Error| Failure::input(format!("cannot write charts into `{}`: {e}", dir.display()));
        let mut written = Vec::new();
        for (report, prefix) in comparison.reports.iter().zip(&prefixes) {
            written.extend(yichuang_sim::svg::write_charts(report, dir, prefix).map_err(cannot)?);
        }
        let path = dir.join("differences.svg");
        std::fs::write(&path, yichuang_sim::svg::differences(&comparison)).map_err(cannot)?;
        written.push(path);
        if args.format == Format::Table {
            for path in written {
                writeln!(out, "chart: {}", path.display())?;
            }
        }
    }
    Ok(())
}

/// Characters of a scenario name kept in its charts' file names: with the chart's own name, a
/// file name stays well within the 255 bytes file systems allow (a Chinese character is 3).
const PREFIX_CHARS_MAX: usize = 64;

/// A scenario name as part of a file name: path separators, control characters and characters
/// that file systems refuse become `_`, a leading dot is dropped and a long name is cut, so
/// that charts stay inside the charts directory and can be written.
fn file_name_part(name: &str) -> String {
    let part: String =
        name.chars()
            .map(|c| {
                if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                    '_'
                } else {
                    c
                }
            })
            .collect();
    let part: String = part.trim_start_matches('.').trim().chars().take(PREFIX_CHARS_MAX).collect();
    if part.is_empty() { "scenario".to_owned() } else { part }
}

/// The charts' file-name prefix of each scenario: its name made file-safe, and numbered when
/// it would collide with an earlier one's (compared without case, as some file systems do).
fn chart_prefixes<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut used = std::collections::BTreeSet::new();
    names
        .map(|name| {
            let part = file_name_part(name);
            let mut prefix = part.clone();
            for k in 2.. {
                if used.insert(prefix.to_lowercase()) {
                    break;
                }
                prefix = format!("{part}-{k}");
            }
            format!("{prefix}-")
        })
        .collect()
}

fn write_table(c: &Comparison, out: &mut dyn Write) -> std::io::Result<()> {
    let alpha = fixed((1.0 - c.confidence) * 100.0, 0, false);
    writeln!(
        out,
        "baseline {}, seed {}, {} replication(s) per scenario, {} random numbers; {} intervals",
        c.baseline,
        c.seed,
        c.replications,
        c.random_numbers,
        level_text(c.confidence)
    )?;
    writeln!(
        out,
        "significant: the difference survives Holm–Bonferroni over the KPIs tested for that scenario, so that the \
         chance of any false flag among them is at most {alpha} %"
    )?;
    let base = &c.reports[0];
    for (d, r) in c.differences.iter().zip(&c.reports[1..]) {
        writeln!(out)?;
        writeln!(out, "{} − {} ({} KPIs tested)", d.scenario, c.baseline, d.family)?;
        if r.definition != base.definition {
            writeln!(
                out,
                "  note: the scenarios simulate different definitions ({} and {}): their cases are not the same \
                 cases, so the pairing removes less noise",
                base.definition, r.definition
            )?;
        }
        for report in [base, r] {
            if report.cases == 0 {
                let why = if report.arrivals == 0 {
                    "no case arrived before its stop"
                } else if report.unfinished == 0 {
                    "every arrival fell in its warm-up"
                } else {
                    "no measured case finished before its stop"
                };
                writeln!(out, "  note: {} measured no case ({why}): its per-case KPIs are missing", report.scenario)?;
            }
            if !report.steady_state.steady {
                let stations: Vec<&str> = report.steady_state.unsteady.iter().map(|u| u.station.as_str()).collect();
                writeln!(
                    out,
                    "  note: {} is not in steady state ({}): its means describe this run's length",
                    report.scenario,
                    stations.join(", ")
                )?;
            }
        }
        let rows: Vec<[String; 8]> = d
            .kpis
            .iter()
            .map(|k| {
                let ci = k.ci.map_or_else(
                    || "—".to_owned(),
                    |[a, b]| format!("[{}, {}]", k.kind.format_difference(a), k.kind.format_difference(b)),
                );
                [
                    k.kpi.clone(),
                    k.kind.format(k.baseline),
                    k.kind.format(k.value),
                    k.kind.format_difference(k.difference),
                    k.relative.map_or_else(|| "—".to_owned(), format_relative),
                    ci,
                    k.p_value.map_or_else(|| "—".to_owned(), p_text),
                    // Without an interval there is no test: say so rather than "no".
                    match k.significant {
                        None => "—".to_owned(),
                        Some(true) => "yes".to_owned(),
                        Some(false) => "no".to_owned(),
                    },
                ]
            })
            .collect();
        let header = [
            "KPI".to_owned(),
            "baseline".to_owned(),
            "scenario".to_owned(),
            "difference".to_owned(),
            "relative".to_owned(),
            format!("{} CI of the difference", level_text(c.confidence)),
            "p".to_owned(),
            "significant".to_owned(),
        ];
        let width = |col: usize| {
            rows.iter()
                .map(|r| crate::text::display_width(&r[col]))
                .chain([crate::text::display_width(&header[col])])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..8).map(width).collect();
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::from("  ");
            for (col, cell) in row.iter().enumerate() {
                let pad = widths[col] - crate::text::display_width(cell);
                // Names and intervals read from the left, figures from the right.
                if col == 0 || col == 5 || col == 7 {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
                line.push_str("  ");
            }
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// A p-value for the table: three decimals, "<0.001" below that.
fn p_text(p: f64) -> String {
    if p < 0.001 { "<0.001".to_owned() } else { format!("{p:.3}") }
}

fn write_csv(c: &Comparison, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "scenario,baseline_scenario,kpi,kind,baseline,value,difference,relative,ci_low,ci_high,p_value,significant"
    )?;
    for d in &c.differences {
        for k in &d.kpis {
            let (lo, hi) = k.ci.map_or((String::new(), String::new()), |[a, b]| (a.to_string(), b.to_string()));
            let significant = k.significant.map_or(String::new(), |s| s.to_string());
            let kind =
                serde_json::to_value(k.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            writeln!(
                out,
                "{},{},{},{kind},{},{},{},{},{lo},{hi},{},{significant}",
                csv_field(&d.scenario),
                csv_field(&c.baseline),
                csv_field(&k.kpi),
                csv_number(k.baseline),
                csv_number(k.value),
                csv_number(k.difference),
                k.relative.map_or(String::new(), csv_number),
                k.p_value.map_or(String::new(), csv_number),
            )?;
        }
    }
    Ok(())
}
