//! # yichuang-sim (一窗仿真)
//!
//! A discrete-event simulator for analysts that drives the **real** [`yichuang_core::Engine`]:
//! "what if approvals ran in parallel, 容缺 were allowed, we had two more intake windows?"
//!
//! **Architecture invariant:** the rules are the engine's. The simulator owns the simulated
//! clock, seeded random streams and the resources (windows per class, reviewers per
//! department, office hours); it issues commands as the actors would and reacts to the events
//! the engine records. See `docs/simulation.md` for the scenario format and the KPIs.
//!
//! ```no_run
//! # use std::path::Path;
//! use yichuang_sim::{RunOptions, Scenario, simulate};
//! let scenario = Scenario::load(Path::new("examples/scenarios/parity-parallel.ron"))?;
//! let report = simulate(&scenario, &RunOptions::default())?;
//! println!("{:.1} min mean cycle time", report.cycle_time_minutes.as_ref().map_or(0.0, |s| s.mean));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Determinism: replication `r` of seed `s` uses streams keyed by `(s, r)` only, and results
//! are merged in replication order, so the report is identical whatever the thread count.
//! Two scenarios run with the same seed share their random numbers case by case (common random
//! numbers): case *k* of a stream has the same consult decision, answers, missing materials and
//! service and review times wherever the distributions are the same.

mod agenda;
pub mod chart;
mod clock;
pub mod experiment;
pub mod html;
pub mod kpis;
mod model;
pub mod precision;
pub mod random;
pub mod report;
pub mod scenario;
pub mod stats;
pub mod svg;
pub mod tables;
pub mod warmup;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Condvar, Mutex};

pub use model::{BundleResult, CaseRow, Gantt, RepResult, Rows, Series, StationResult, VisitRow};
pub use report::{Aggregate, CompareOptions, Comparison, Report};
pub use scenario::{Problem, Scenario, ScenarioError};

/// Why a simulation stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The engine refused a command the simulated actor issued: the scenario asks for
    /// something the definition's rules do not allow.
    #[error(
        "replication {replication}: the engine refused `{command}` on case {case} at {at}: {rejection}. Check the \
         scenario against the definition's rules"
    )]
    Refused {
        /// Replication number.
        replication: u32,
        /// The command.
        command: &'static str,
        /// The case.
        case: String,
        /// When.
        at: String,
        /// The engine's reason.
        rejection: String,
    },
    /// Simulated time left the definition's calendar.
    #[error(
        "replication {replication}: at {at} the simulation left the definition's calendar ({error}); shorten the run \
         (`stop`, `--cases`), start earlier, or check the scenario's durations"
    )]
    Calendar {
        /// Replication number.
        replication: u32,
        /// When.
        at: String,
        /// The calendar's message.
        error: String,
    },
    /// `RunOptions::cases` leaves no case after the scenario's warm-up.
    #[error(
        "scenario {scenario}: {cases} case(s) per replication leave nothing to measure after its warm-up of \
         Cases({warm_up}); give more than {warm_up} cases"
    )]
    NothingToMeasure {
        /// The scenario's name.
        scenario: String,
        /// Arrivals asked for.
        cases: u64,
        /// The scenario's warm-up in cases.
        warm_up: u64,
    },
    /// A confidence level outside [0.5, 1).
    #[error(
        "confidence {0} is not a level for an interval; give a number from 0.5 to below 1, such as 0.90, 0.95 or 0.99"
    )]
    Confidence(String),
    /// A worker thread panicked (a bug); the message is the panic's.
    #[error("a simulation thread failed: {0}")]
    Worker(String),
}

/// Command-line overrides and the execution setup.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunOptions<'p> {
    /// Replications (default: the scenario's).
    pub replications: Option<u32>,
    /// Seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Stop after this many arrivals per replication (default: the scenario's stop rule).
    pub cases: Option<u64>,
    /// Worker threads (0 = one per core, at most one per replication).
    pub threads: usize,
    /// Progress counter: each replication adds 1,000 units as it goes.
    pub progress: Option<&'p AtomicU64>,
    /// Confidence level of every interval (default 0.95).
    pub confidence: Option<f64>,
    /// Replications are added until these targets are met (`simulate` only).
    pub precision: Option<&'p precision::Targets>,
    /// Keep a row for every case and every visit in each replication's result
    /// ([`RepResult::rows`], for `simulate --export`).
    pub rows: bool,
}

impl RunOptions<'_> {
    /// Replications to run for `scenario`.
    pub fn replications(&self, scenario: &Scenario) -> u32 {
        self.replications.unwrap_or(scenario.spec.replications).max(1)
    }

    /// Seed for `scenario`.
    pub fn seed(&self, scenario: &Scenario) -> u64 {
        self.seed.unwrap_or(scenario.spec.seed)
    }

    /// Confidence level of the intervals.
    pub fn confidence(&self) -> f64 {
        self.confidence.unwrap_or(0.95)
    }

    /// Checks the options against `scenario`: the scenario's own stop was checked against its
    /// warm-up when it was loaded, an override of the case count is checked here.
    pub fn check(&self, scenario: &Scenario) -> Result<(), SimError> {
        if let Some(level) = self.confidence
            && !(0.5..1.0).contains(&level)
        {
            return Err(SimError::Confidence(level.to_string()));
        }
        match (self.cases, scenario.spec.warm_up) {
            (Some(cases), scenario::WarmUp::Cases(warm_up)) if warm_up >= cases => {
                Err(SimError::NothingToMeasure { scenario: scenario.spec.name.clone(), cases, warm_up })
            }
            _ => Ok(()),
        }
    }

    /// Threads to use for `replications` replications.
    pub fn threads(&self, replications: u32) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = if self.threads == 0 { cores } else { self.threads };
        wanted.clamp(1, replications.max(1) as usize)
    }
}

/// Progress units of a whole run of `scenarios` (for a progress bar's length).
pub fn progress_total(scenarios: &[&Scenario], options: &RunOptions<'_>) -> u64 {
    scenarios.iter().map(|s| u64::from(options.replications(s)) * model::PROGRESS_UNITS).sum()
}

/// Runs every replication of a scenario (in parallel when allowed) and returns the results in
/// replication order. Every result is kept (about 0.4 MB each): for a report, [`simulate`]
/// folds them as they come instead.
pub fn run_replications(scenario: &Scenario, options: &RunOptions<'_>) -> Result<Vec<RepResult>, SimError> {
    let mut out = Vec::new();
    for_each_replication(scenario, options, |r| out.push(r))?;
    Ok(out)
}

/// Runs every replication of a scenario (in parallel when allowed) and hands each result to
/// `fold` in replication order, whatever the thread count and whichever replication finishes
/// first: a result that finishes early waits in a buffer for those before it, and a thread
/// does not start a replication more than two per thread ahead of the next one to fold, so
/// at most that many results are held at once. On an error, no new replication starts and
/// the first error in replication order is returned (`fold` has seen every replication
/// before it).
pub fn for_each_replication<F: FnMut(RepResult) + Send>(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    mut fold: F,
) -> Result<(), SimError> {
    for_each_replication_while(scenario, options, |r| {
        fold(r);
        true
    })
    .map(|_| ())
}

/// [`for_each_replication`], where `fold` says after each replication whether to go on:
/// replications run (in parallel) up to the options' count, and the first `false`, in
/// replication order, stops the run there. Replications started beyond it are discarded, so
/// the result is the same whatever the thread count. Returns the replications folded.
pub fn for_each_replication_while<F: FnMut(RepResult) -> bool + Send>(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    fold: F,
) -> Result<u32, SimError> {
    options.check(scenario)?;
    let replications = options.replications(scenario);
    let seed = options.seed(scenario);
    let threads = options.threads(replications);
    let ahead = u32::try_from(2 * threads).unwrap_or(u32::MAX);
    let shared =
        Mutex::new(Ordered { next: 0, folded: 0, pending: BTreeMap::new(), error: None, stopped: false, fold });
    let wake = Condvar::new();
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    let work = || {
        // Each worker parses its own definition, so no reference count is shared across threads.
        let def = scenario.definition();
        loop {
            let r = {
                let mut state = lock();
                loop {
                    if state.next >= replications {
                        return;
                    }
                    if state.next < state.folded.saturating_add(ahead) {
                        break;
                    }
                    state = wake.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                state.next += 1;
                state.next - 1
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let replication = model::Replication::<model::FactsOnly>::new(
                    scenario,
                    def.clone(),
                    r,
                    seed,
                    options.cases,
                    options.progress,
                );
                if options.rows { replication.with_rows() } else { replication }.run()
            }))
            .unwrap_or_else(|panic| Err(SimError::Worker(panic_message(panic.as_ref()))));
            let mut state = lock();
            if result.is_err() {
                // Stop handing out work; replications already running finish.
                state.next = replications;
            }
            state.pending.insert(r, result);
            state.fold_ready(replications);
            drop(state);
            wake.notify_all();
        }
    };
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(work);
            }
        });
    }
    let state = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    match state.error {
        Some(e) => Err(e),
        None if state.folded == replications || state.stopped => Ok(state.folded),
        None => Err(SimError::Worker(format!("{} of {replications} replications ran", state.folded))),
    }
}

/// The state shared by the workers of [`for_each_replication`].
struct Ordered<F> {
    /// Next replication to start.
    next: u32,
    /// Replications folded so far (the next one to fold).
    folded: u32,
    /// Finished replications waiting for those before them.
    pending: BTreeMap<u32, Result<RepResult, SimError>>,
    /// The first error in replication order.
    error: Option<SimError>,
    /// `fold` asked to stop.
    stopped: bool,
    fold: F,
}

impl<F: FnMut(RepResult) -> bool> Ordered<F> {
    /// Folds every pending result that is next in replication order; stops at an error or
    /// when `fold` says so.
    fn fold_ready(&mut self, replications: u32) {
        while self.error.is_none() && !self.stopped {
            let Some(result) = self.pending.remove(&self.folded) else { break };
            match result {
                Ok(r) => {
                    let fold = &mut self.fold;
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fold(r))) {
                        Err(panic) => {
                            self.error = Some(SimError::Worker(panic_message(panic.as_ref())));
                            self.next = replications;
                            break;
                        }
                        Ok(go_on) => {
                            self.folded += 1;
                            if !go_on {
                                self.stopped = true;
                                self.next = replications;
                            }
                        }
                    }
                }
                Err(e) => {
                    self.error = Some(e);
                    self.next = replications;
                }
            }
        }
        if self.error.is_some() || self.stopped {
            self.pending.clear();
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Folds every replication of a scenario, in replication order, as each becomes available.
pub fn aggregate(scenario: &Scenario, options: &RunOptions<'_>) -> Result<Aggregate, SimError> {
    aggregate_each(scenario, options, &mut |_| {})
}

/// [`aggregate`], handing each replication's result to `each` first, in replication order.
fn aggregate_each(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    each: &mut (dyn FnMut(&RepResult) + Send),
) -> Result<Aggregate, SimError> {
    let mut aggregate = Aggregate::default();
    for_each_replication(scenario, options, |r| {
        each(&r);
        aggregate.add(&r);
    })?;
    Ok(aggregate)
}

/// The synthetic event log of one replication: every event the engine recorded, in full and in
/// order, with the definition the scenario ran against (a what-if variant of its definition
/// when it asks for one). The replication runs again, alone, with a sink that keeps every
/// event; with the same options it is the very replication `simulate` ran (same seed, same
/// number). Every other run keeps only the facts it reacts to and pays nothing for this.
pub fn event_log(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    replication: u32,
) -> Result<(std::sync::Arc<yichuang_core::Definition>, Vec<yichuang_core::Recorded>), SimError> {
    options.check(scenario)?;
    let def = scenario.definition();
    let seed = options.seed(scenario);
    let replication =
        model::Replication::<model::EveryEvent>::new(scenario, def.clone(), replication, seed, options.cases, None);
    let (_, kept) = replication.run_keeping()?;
    Ok((def, kept.0))
}

/// Simulates a scenario and summarises every KPI.
///
/// A scenario with `warm_up: Auto` first runs a pilot to find its warm-up ([`warmup`]), then
/// measures from there. With `options.precision`, replications are added until every target
/// is met or the cap is reached ([`precision`]); the report says which.
pub fn simulate(scenario: &Scenario, options: &RunOptions<'_>) -> Result<Report, SimError> {
    simulate_keeping(scenario, options).map(|(report, _)| report)
}

/// [`simulate`], also handing back the replications folded together (for the KPI catalogue).
pub fn simulate_keeping(scenario: &Scenario, options: &RunOptions<'_>) -> Result<(Report, Aggregate), SimError> {
    simulate_each(scenario, options, &mut |_| {})
}

/// [`simulate_keeping`], handing each measured replication's result to `each` as it is folded,
/// in replication order (with `options.rows`, its rows of every case and visit: an export
/// writes them as they come, so they are never all held at once).
pub fn simulate_each(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    each: &mut (dyn FnMut(&RepResult) + Send),
) -> Result<(Report, Aggregate), SimError> {
    let wall = std::time::Instant::now();
    options.check(scenario)?;
    let (measured, detection) = match scenario.spec.warm_up {
        scenario::WarmUp::Auto => {
            let detection = warmup::detect(scenario, options)?;
            (std::borrow::Cow::Owned(detection.scenario(scenario)), Some(detection))
        }
        _ => (std::borrow::Cow::Borrowed(scenario), None),
    };
    let (results, precision) = match options.precision {
        Some(targets) => {
            let (results, outcome) = precision::run(&measured, options, targets, each)?;
            (results, Some(outcome))
        }
        None => (aggregate_each(&measured, options, each)?, None),
    };
    let threads = options.threads(results.replications);
    let level = options.confidence();
    let mut report =
        Report::build(&measured, options.seed(scenario), threads, level, &results, wall.elapsed().as_secs_f64());
    report.warm_up = detection.map(|d| d.report);
    report.precision = precision;
    Ok((report, results))
}

/// Runs scenarios with the same replications (and, unless `compare.independent`, the same
/// seed: common random numbers) and reports each against the first, with paired confidence
/// intervals of the differences and Holm's control of each scenario's family of tests.
pub fn compare(
    scenarios: &[&Scenario],
    options: &RunOptions<'_>,
    compare: &CompareOptions,
) -> Result<Comparison, SimError> {
    let first = scenarios.first().expect("compare needs at least one scenario");
    let options =
        RunOptions { replications: Some(options.replications(first)), seed: Some(options.seed(first)), ..*options };
    // Every scenario is checked before any runs, so that a bad last one costs no time.
    for s in scenarios {
        options.check(s)?;
    }
    let seed = options.seed(first);
    let mut measured = Vec::with_capacity(scenarios.len());
    let mut runs = Vec::with_capacity(scenarios.len());
    for (i, s) in scenarios.iter().enumerate() {
        let wall = std::time::Instant::now();
        let own = RunOptions { seed: Some(report::run_seed(seed, i, compare.independent)), ..options };
        // A scenario with `warm_up: Auto` is measured after its own detected warm-up.
        let (s, detection) = match s.spec.warm_up {
            scenario::WarmUp::Auto => {
                let detection = warmup::detect(s, &own)?;
                (detection.scenario(s), Some(detection.report))
            }
            _ => ((*s).clone(), None),
        };
        let results = aggregate(&s, &own)?;
        measured.push((s, detection));
        runs.push((results, wall.elapsed().as_secs_f64()));
    }
    let runs: Vec<(&Scenario, Aggregate, f64)> =
        measured.iter().zip(runs).map(|((s, _), (results, wall))| (s, results, wall)).collect();
    let mut comparison = Comparison::build(&runs, &options, compare);
    for (report, (_, detection)) in comparison.reports.iter_mut().zip(measured) {
        report.warm_up = detection;
    }
    Ok(comparison)
}
