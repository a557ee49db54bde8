//! `yichuang compare A B [...]`: runs scenarios with common random numbers (same seed, same
//! replications, each case's random draws keyed by its arrival) and reports every scenario
//! against the first with paired 95 % confidence intervals of the differences.

use std::io::Write;
use std::path::PathBuf;

use yichuang_sim::report::Comparison;
use yichuang_sim::{RunOptions, Scenario};

use crate::cmd::simulate::{
    Format, csv_field, csv_number, load_scenario, prepare_charts_dir, sim_failure, with_progress,
};
use crate::failure::Failure;

/// Compare scenarios (what-if analysis) with common random numbers.
///
/// The first scenario is the baseline; for each other one, every KPI is reported with the
/// paired difference and its 95 % confidence interval (over replications, or over batches of
/// cases paired by arrival when there is one replication).
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
    /// Write each scenario's SVG charts here (file names prefixed with the scenario name).
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
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
    let options = RunOptions {
        replications: args.replications,
        seed: args.seed,
        cases: args.cases,
        threads: args.threads,
        progress: None,
    };
    let pinned =
        RunOptions { replications: Some(options.replications(refs[0])), seed: Some(options.seed(refs[0])), ..options };
    let total = yichuang_sim::progress_total(&refs, &pinned);
    let comparison =
        with_progress(total, args.format, |progress| yichuang_sim::compare(&refs, &RunOptions { progress, ..options }))
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
        for (report, prefix) in comparison.reports.iter().zip(&prefixes) {
            let written = yichuang_sim::svg::write_charts(report, dir, prefix)
                .map_err(|e| Failure::input(format!("cannot write charts into `{}`: {e}", dir.display())))?;
            if args.format == Format::Table {
                for path in written {
                    writeln!(out, "chart: {}", path.display())?;
                }
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
    writeln!(
        out,
        "baseline {}, seed {}, {} replication(s) per scenario, common random numbers",
        c.baseline, c.seed, c.replications
    )?;
    let base = &c.reports[0];
    for (d, r) in c.differences.iter().zip(&c.reports[1..]) {
        writeln!(out)?;
        writeln!(out, "{} − {}", d.scenario, c.baseline)?;
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
        }
        writeln!(
            out,
            "  {:<34} {:>11} {:>11} {:>11}  {:<26} significant",
            "KPI", "baseline", "scenario", "difference", "95 % CI of the difference"
        )?;
        for k in &d.kpis {
            // Shares (rates, utilisations) get a fourth decimal, so that a small significant
            // difference does not print as +0.000.
            let p = if k.baseline.abs() <= 1.0 && k.value.abs() <= 1.0 { 4 } else { 3 };
            let ci = k.ci95.map_or_else(|| "—".to_owned(), |[a, b]| format!("[{a:.p$}, {b:.p$}]"));
            writeln!(
                out,
                "  {:<34} {:>11.p$} {:>11.p$} {:>+11.p$}  {:<26} {}",
                k.kpi,
                k.baseline,
                k.value,
                k.difference,
                ci,
                // Without an interval there is no test: say so rather than "no".
                match k.significant {
                    None => "—",
                    Some(true) => "yes",
                    Some(false) => "no",
                }
            )?;
        }
    }
    Ok(())
}

fn write_csv(c: &Comparison, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "scenario,baseline_scenario,kpi,baseline,value,difference,ci95_low,ci95_high,significant")?;
    for d in &c.differences {
        for k in &d.kpis {
            let (lo, hi) = k.ci95.map_or((String::new(), String::new()), |[a, b]| (a.to_string(), b.to_string()));
            let significant = k.significant.map_or(String::new(), |s| s.to_string());
            writeln!(
                out,
                "{},{},{},{},{},{},{lo},{hi},{significant}",
                csv_field(&d.scenario),
                csv_field(&c.baseline),
                csv_field(&k.kpi),
                csv_number(k.baseline),
                csv_number(k.value),
                csv_number(k.difference)
            )?;
        }
    }
    Ok(())
}
