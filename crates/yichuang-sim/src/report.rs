//! Reports: the KPIs of a scenario across its replications, and paired comparisons.
//!
//! Every KPI of a case (cycle time, waits, trips) is summarised as [`Summary`]: mean,
//! p50/p90/p95/p99, max and the 95 % confidence interval of the mean. Station figures
//! (utilisation, queue length) are one value per replication: their mean, with a confidence
//! interval when there are at least two replications.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Gantt, RepResult, Series};
use crate::scenario::Scenario;
use crate::stats::{Batches, Histogram, Summary, Tally, ci_of_tallies, mean_ci};
use crate::{RunOptions, model};

/// A rate (fraction of cases) with its confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rate {
    /// The fraction, 0–1.
    pub rate: f64,
    /// 95 % confidence interval.
    pub ci95: Option<[f64; 2]>,
}

/// A per-replication figure averaged over replications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// Mean over replications.
    pub mean: f64,
    /// 95 % confidence interval (two replications or more).
    pub ci95: Option<[f64; 2]>,
}

impl Figure {
    fn of(values: &[f64]) -> Figure {
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        Figure { mean, ci95: mean_ci(values).map(|(_, ci)| ci) }
    }

    /// [`Figure::of`] for a fraction (utilisation): the interval is clipped to [0, 1], where
    /// every value lies (a t interval over few replications can reach past either end).
    fn fraction(values: &[f64]) -> Figure {
        let Figure { mean, ci95 } = Figure::of(values);
        Figure { mean, ci95: ci95.map(clamp_fraction) }
    }
}

/// Clips an interval of a fraction to [0, 1].
fn clamp_fraction([lo, hi]: [f64; 2]) -> [f64; 2] {
    [lo.clamp(0.0, 1.0), hi.clamp(0.0, 1.0)]
}

/// One station: a window class or a department.
#[derive(Debug, Clone, Serialize)]
pub struct StationReport {
    /// `window` or `department`.
    pub kind: &'static str,
    /// Servers (windows or reviewers).
    pub servers: u32,
    /// Busy fraction of the servers' working time.
    pub utilisation: Figure,
    /// Time-average queue length.
    pub queue_length: Figure,
    /// Longest queue seen (any replication).
    pub queue_length_max: u32,
    /// Wait in the queue per visit, calendar minutes (measured cases).
    pub queue_wait_minutes: Option<Summary>,
    /// Services per replication.
    pub served: f64,
}

/// One bundle.
#[derive(Debug, Clone, Serialize)]
pub struct BundleReport {
    /// Completed measured cases.
    pub cases: u64,
    /// Cycle time, calendar minutes.
    pub cycle_time_minutes: Option<Summary>,
    /// On-time rate.
    pub on_time: Option<Rate>,
}

/// The waiting split of a case's cycle time.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    /// Waiting for a free window or reviewer (windows, and approvals on the critical chain).
    pub queue: Option<Summary>,
    /// Waiting at a join for sibling approvals (critical chain).
    pub join: Option<Summary>,
    /// Waiting for materials: away after a correction notice, tolerated material not yet
    /// supplied while it held a task or the results.
    pub materials: Option<Summary>,
    /// Closed hours inside the cycle (calendar minus working time).
    pub closed_hours: Option<Summary>,
}

/// Outcomes of measured cases.
#[derive(Debug, Clone, Serialize)]
pub struct Outcomes {
    /// 准予: every applicable item approved.
    pub approved: u64,
    /// Some approved.
    pub partially_approved: u64,
    /// Nothing approved.
    pub denied: u64,
    /// 退件 after a missed cure.
    pub returned: u64,
}

/// Ratings (好差评) recorded during the runs, warm-up included.
#[derive(Debug, Clone, Serialize)]
pub struct Ratings {
    /// Counts of 1★ … 5★.
    pub stars: [u64; 5],
    /// Of which default ratings (no rating within the policy's days).
    pub by_default: u64,
    /// Share of ratings ≤ 2 (差评率).
    pub bad_rate: Option<f64>,
}

/// SLA clocks (时限监控) raised during the runs, warm-up included: how often a case's clock
/// (the bundle's promised limit) or a task's clock (its item's limit) reached 预警 and 逾期.
/// A task can run late while its case is still on time: the bundle promises the joint limit.
#[derive(Debug, Clone, Serialize)]
pub struct SlaCounts {
    /// Case clocks that reached the warning threshold (预警).
    pub case_warnings: u64,
    /// Case clocks that went overdue (逾期).
    pub case_overdue: u64,
    /// Task clocks that reached the warning threshold.
    pub task_warnings: u64,
    /// Task clocks that went overdue: each opens an overdue ticket.
    pub task_overdue: u64,
}

/// Tickets (评价-反馈-整改-监督) during the runs, warm-up included.
#[derive(Debug, Clone, Serialize)]
pub struct Tickets {
    /// Opened, by source kind.
    pub opened: BTreeMap<String, u64>,
    /// Closed.
    pub closed: u64,
    /// Work abandoned because the engine refused a step.
    pub abandoned: u64,
    /// Opening to closing, calendar minutes.
    pub closure_minutes: Option<Summary>,
}

/// Level of work in progress.
#[derive(Debug, Clone, Serialize)]
pub struct Wip {
    /// Time-average cases in the system.
    pub mean: Figure,
    /// Most cases in the system (any replication).
    pub max: u32,
}

/// Chart data (not serialised).
#[derive(Debug, Clone, Default)]
pub struct ChartData {
    /// Cycle-time distribution, all replications.
    pub cycle: Histogram,
    /// Queue and WIP samples of replication 0.
    pub series: Series,
    /// Station names in series order.
    pub stations: Vec<String>,
    /// A sample case of replication 0.
    pub gantt: Option<Gantt>,
}

/// The KPIs of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Definition id.
    pub definition: String,
    /// Replications run.
    pub replications: u32,
    /// Seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Completed measured cases (all replications).
    pub cases: u64,
    /// Arrivals simulated (all replications, warm-up included).
    pub arrivals: u64,
    /// Measured cases still open when a horizon stopped a replication.
    pub unfinished: u64,
    /// Wall-clock seconds of the whole run.
    pub wall_seconds: f64,
    /// Simulated cases (arrivals) per wall-clock second.
    pub cases_per_second: f64,
    /// Cycle time, arrival to the end of pickup, calendar minutes.
    pub cycle_time_minutes: Option<Summary>,
    /// Cycle time in working minutes.
    pub working_cycle_time_minutes: Option<Summary>,
    /// On-time rate (see `on_time` in the scenario).
    pub on_time_rate: f64,
    /// Its 95 % confidence interval.
    pub on_time_rate_ci95: Option<[f64; 2]>,
    /// Waiting split.
    pub waiting_minutes: Waiting,
    /// Utilisation per station.
    pub utilisation: BTreeMap<String, f64>,
    /// Station details.
    pub stations: BTreeMap<String, StationReport>,
    /// Work in progress.
    pub wip: Wip,
    /// Completed measured cases per calendar day.
    pub throughput_per_day: Figure,
    /// Trips to the hall per case (跑动次数, the engine's count).
    pub trips: Option<Summary>,
    /// Per bundle.
    pub bundles: BTreeMap<String, BundleReport>,
    /// Outcomes.
    pub outcomes: Outcomes,
    /// Ratings.
    pub ratings: Ratings,
    /// Clocks raised.
    pub sla: SlaCounts,
    /// Tickets.
    pub tickets: Tickets,
    /// Engine events by kind (all replications, warm-up included).
    pub events: BTreeMap<String, u64>,
    /// Chart data.
    #[serde(skip)]
    pub charts: ChartData,
}

fn summary<'a>(results: &'a [RepResult], f: impl Fn(&'a RepResult) -> &'a Tally) -> Option<Summary> {
    let tallies: Vec<&Tally> = results.iter().map(f).collect();
    Summary::of(&tallies)
}

fn rate(tallies: Vec<&Tally>) -> Option<Rate> {
    let count: u64 = tallies.iter().map(|t| t.count).sum();
    (count > 0).then(|| Rate {
        rate: tallies.iter().map(|t| t.sum).sum::<f64>() / count as f64,
        ci95: ci_of_tallies(&tallies).map(clamp_fraction),
    })
}

impl Report {
    /// Builds the report of one scenario from its replications (in replication order).
    pub fn build(scenario: &Scenario, seed: u64, threads: usize, results: &[RepResult], wall_seconds: f64) -> Report {
        let cases = results.iter().map(|r| r.completed).sum();
        let arrivals: u64 = results.iter().map(|r| r.arrivals).sum();
        let on_time = rate(results.iter().map(|r| &r.on_time).collect());
        let mut stations = BTreeMap::new();
        let mut utilisation = BTreeMap::new();
        let first = results.first();
        for (i, st) in first.map(|r| r.stations.as_slice()).unwrap_or_default().iter().enumerate() {
            let per: Vec<&model::StationResult> = results.iter().map(|r| &r.stations[i]).collect();
            let util = Figure::fraction(&per.iter().map(|s| s.utilisation).collect::<Vec<_>>());
            utilisation.insert(st.name.clone(), util.mean);
            let waits: Vec<&Tally> = per.iter().map(|s| &s.wait).collect();
            stations.insert(
                st.name.clone(),
                StationReport {
                    kind: if st.window { "window" } else { "department" },
                    servers: st.servers,
                    utilisation: util,
                    queue_length: Figure::of(&per.iter().map(|s| s.queue_mean).collect::<Vec<_>>()),
                    queue_length_max: per.iter().map(|s| s.queue_max).max().unwrap_or(0),
                    queue_wait_minutes: Summary::of(&waits),
                    served: per.iter().map(|s| s.served as f64).sum::<f64>() / per.len().max(1) as f64,
                },
            );
        }
        let mut bundles = BTreeMap::new();
        for (i, (id, _)) in first.map(|r| r.bundles.as_slice()).unwrap_or_default().iter().enumerate() {
            let per: Vec<&model::BundleResult> = results.iter().map(|r| &r.bundles[i].1).collect();
            bundles.insert(
                id.clone(),
                BundleReport {
                    cases: per.iter().map(|b| b.cycle.count).sum(),
                    cycle_time_minutes: Summary::of(&per.iter().map(|b| &b.cycle).collect::<Vec<_>>()),
                    on_time: rate(per.iter().map(|b| &b.on_time).collect()),
                },
            );
        }
        let mut events = BTreeMap::new();
        let mut opened = BTreeMap::new();
        let mut stars = [0u64; 5];
        for r in results {
            for (name, n) in &r.events {
                *events.entry((*name).to_owned()).or_insert(0) += n;
            }
            for (kind, n) in &r.tickets_opened {
                *opened.entry((*kind).to_owned()).or_insert(0) += n;
            }
            for (s, n) in stars.iter_mut().zip(r.ratings) {
                *s += n;
            }
        }
        let rated: u64 = stars.iter().sum();
        let mut cycle = Histogram::default();
        for r in results {
            if let Some(h) = &r.cycle.hist {
                cycle.merge(h);
            }
        }
        let charts = ChartData {
            cycle,
            series: first.map(|r| r.series.clone()).unwrap_or_default(),
            stations: first.map(|r| r.stations.iter().map(|s| s.name.clone()).collect()).unwrap_or_default(),
            gantt: first.and_then(|r| r.gantt.clone()),
        };
        let throughput: Vec<f64> = results
            .iter()
            .map(|r| if r.period_minutes > 0.0 { r.completed as f64 / (r.period_minutes / 1440.0) } else { 0.0 })
            .collect();
        Report {
            scenario: scenario.spec.name.clone(),
            definition: scenario.definition_id(),
            replications: results.len() as u32,
            seed,
            threads,
            cases,
            arrivals,
            unfinished: results.iter().map(|r| r.unfinished).sum(),
            wall_seconds,
            cases_per_second: if wall_seconds > 0.0 { arrivals as f64 / wall_seconds } else { 0.0 },
            cycle_time_minutes: summary(results, |r| &r.cycle),
            working_cycle_time_minutes: summary(results, |r| &r.cycle_working),
            on_time_rate: on_time.as_ref().map_or(f64::NAN, |r| r.rate),
            on_time_rate_ci95: on_time.and_then(|r| r.ci95),
            waiting_minutes: Waiting {
                queue: summary(results, |r| &r.queue),
                join: summary(results, |r| &r.join),
                materials: summary(results, |r| &r.materials),
                closed_hours: summary(results, |r| &r.closed),
            },
            utilisation,
            stations,
            wip: Wip {
                mean: Figure::of(&results.iter().map(|r| r.wip_mean).collect::<Vec<_>>()),
                max: results.iter().map(|r| r.wip_max).max().unwrap_or(0),
            },
            throughput_per_day: Figure::of(&throughput),
            trips: summary(results, |r| &r.trips),
            bundles,
            outcomes: Outcomes {
                approved: results.iter().map(|r| r.outcomes[0]).sum(),
                partially_approved: results.iter().map(|r| r.outcomes[1]).sum(),
                denied: results.iter().map(|r| r.outcomes[2]).sum(),
                returned: results.iter().map(|r| r.returned).sum(),
            },
            ratings: Ratings {
                stars,
                by_default: results.iter().map(|r| r.default_ratings).sum(),
                bad_rate: (rated > 0).then(|| (stars[0] + stars[1]) as f64 / rated as f64),
            },
            sla: {
                let raised = |who: usize, overdue: usize| results.iter().map(|r| r.sla_raised[who][overdue]).sum();
                SlaCounts {
                    case_warnings: raised(0, 0),
                    case_overdue: raised(0, 1),
                    task_warnings: raised(1, 0),
                    task_overdue: raised(1, 1),
                }
            },
            tickets: Tickets {
                opened,
                closed: results.iter().map(|r| r.tickets_closed).sum(),
                abandoned: results.iter().map(|r| r.tickets_abandoned).sum(),
                closure_minutes: summary(results, |r| &r.ticket_closure),
            },
            events,
            charts,
        }
    }
}

/// The difference of one KPI between a scenario and the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct KpiDifference {
    /// KPI name, e.g. `cycle_time_minutes.mean`.
    pub kpi: String,
    /// Baseline value.
    pub baseline: f64,
    /// This scenario's value.
    pub value: f64,
    /// `value − baseline`.
    pub difference: f64,
    /// 95 % confidence interval of the paired difference: over replications when there are
    /// several, else over batches of cases paired by arrival number.
    pub ci95: Option<[f64; 2]>,
    /// Whether the interval excludes 0; `None` (JSON `null`) when there is no interval, and so
    /// no test.
    pub significant: Option<bool>,
}

/// One scenario against the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioDifference {
    /// Scenario name.
    pub scenario: String,
    /// Differences per KPI.
    pub kpis: Vec<KpiDifference>,
}

/// The result of `compare`: each scenario's report and its paired differences to the first.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Name of the first scenario.
    pub baseline: String,
    /// Seed shared by every scenario (common random numbers).
    pub seed: u64,
    /// Replications of every scenario.
    pub replications: u32,
    /// Every scenario's report, baseline first.
    pub reports: Vec<Report>,
    /// Differences to the baseline, one entry per other scenario.
    pub differences: Vec<ScenarioDifference>,
}

/// A per-case KPI: its name, how to find its tally, and its value in the two reports.
type TallyKpi = (&'static str, fn(&RepResult) -> &Tally, Option<f64>, Option<f64>);

/// Paired difference of a per-case mean between two runs.
fn paired_tally(a: &[RepResult], b: &[RepResult], f: impl Fn(&RepResult) -> &Tally) -> Option<[f64; 2]> {
    if a.len() >= 2 && a.len() == b.len() {
        let diffs: Option<Vec<f64>> = a.iter().zip(b).map(|(x, y)| Some(f(y).mean()? - f(x).mean()?)).collect();
        return diffs.and_then(|d| mean_ci(&d)).map(|(_, ci)| ci);
    }
    let (x, y) = (a.first()?, b.first()?);
    let (mut bx, mut by): (Batches, Batches) = (f(x).batches.clone(), f(y).batches.clone());
    let shift = bx.shift().max(by.shift());
    bx.coarsen_to(shift);
    by.coarsen_to(shift);
    let diffs: Vec<f64> = bx.means().iter().zip(by.means()).filter_map(|(p, q)| Some(q? - (*p)?)).collect();
    mean_ci(&diffs).map(|(_, ci)| ci)
}

fn paired_figure(a: &[RepResult], b: &[RepResult], f: impl Fn(&RepResult) -> Option<f64>) -> Option<[f64; 2]> {
    if a.len() < 2 || a.len() != b.len() {
        return None;
    }
    let diffs: Option<Vec<f64>> = a.iter().zip(b).map(|(x, y)| Some(f(y)? - f(x)?)).collect();
    diffs.and_then(|d| mean_ci(&d)).map(|(_, ci)| ci)
}

/// Clips an interval of a difference of two fractions to [−1, 1].
fn clamp_fraction_difference(ci: Option<[f64; 2]>) -> Option<[f64; 2]> {
    ci.map(|[lo, hi]| [lo.clamp(-1.0, 1.0), hi.clamp(-1.0, 1.0)])
}

fn station_util(r: &RepResult, name: &str) -> Option<f64> {
    r.stations.iter().find(|s| s.name == name).map(|s| s.utilisation)
}

impl Comparison {
    /// Builds the comparison from runs in order (the first is the baseline).
    pub(crate) fn build(runs: &[(&Scenario, Vec<RepResult>, f64)], options: &RunOptions<'_>) -> Comparison {
        let base = &runs[0];
        let seed = options.seed(base.0);
        let reports: Vec<Report> = runs
            .iter()
            .map(|(s, results, wall)| Report::build(s, seed, options.threads(results.len() as u32), results, *wall))
            .collect();
        let mut differences = Vec::new();
        for (i, (s, results, _)) in runs.iter().enumerate().skip(1) {
            let (ra, rb) = (&reports[0], &reports[i]);
            let mut kpis = Vec::new();
            let mut push = |kpi: String, a: Option<f64>, b: Option<f64>, ci: Option<[f64; 2]>| {
                if let (Some(a), Some(b)) = (a, b) {
                    let significant = ci.map(|[lo, hi]| lo > 0.0 || hi < 0.0);
                    kpis.push(KpiDifference { kpi, baseline: a, value: b, difference: b - a, ci95: ci, significant });
                }
            };
            let mean = |s: &Option<Summary>| s.as_ref().map(|s| s.mean);
            let tallies: [TallyKpi; 7] = [
                ("cycle_time_minutes.mean", |r| &r.cycle, mean(&ra.cycle_time_minutes), mean(&rb.cycle_time_minutes)),
                (
                    "working_cycle_time_minutes.mean",
                    |r| &r.cycle_working,
                    mean(&ra.working_cycle_time_minutes),
                    mean(&rb.working_cycle_time_minutes),
                ),
                (
                    "on_time_rate",
                    |r| &r.on_time,
                    ra.on_time_rate.is_finite().then_some(ra.on_time_rate),
                    rb.on_time_rate.is_finite().then_some(rb.on_time_rate),
                ),
                (
                    "waiting_minutes.queue.mean",
                    |r| &r.queue,
                    mean(&ra.waiting_minutes.queue),
                    mean(&rb.waiting_minutes.queue),
                ),
                (
                    "waiting_minutes.join.mean",
                    |r| &r.join,
                    mean(&ra.waiting_minutes.join),
                    mean(&rb.waiting_minutes.join),
                ),
                (
                    "waiting_minutes.materials.mean",
                    |r| &r.materials,
                    mean(&ra.waiting_minutes.materials),
                    mean(&rb.waiting_minutes.materials),
                ),
                ("trips.mean", |r| &r.trips, mean(&ra.trips), mean(&rb.trips)),
            ];
            for (name, f, a, b) in tallies {
                let ci = paired_tally(&base.1, results, f);
                let ci = if name == "on_time_rate" { clamp_fraction_difference(ci) } else { ci };
                push(name.to_owned(), a, b, ci);
            }
            let p95 = |s: &Option<Summary>| s.as_ref().map(|s| s.p95);
            let p95_ci = paired_figure(&base.1, results, |r| r.cycle.hist.as_ref().and_then(|h| h.quantile(0.95)));
            push("cycle_time_minutes.p95".into(), p95(&ra.cycle_time_minutes), p95(&rb.cycle_time_minutes), p95_ci);
            let tp = paired_figure(&base.1, results, |r| {
                (r.period_minutes > 0.0).then(|| r.completed as f64 / (r.period_minutes / 1440.0))
            });
            push("throughput_per_day".into(), Some(ra.throughput_per_day.mean), Some(rb.throughput_per_day.mean), tp);
            let bad_rate = |r: &RepResult| {
                let rated: u64 = r.ratings.iter().sum();
                (rated > 0).then(|| (r.ratings[0] + r.ratings[1]) as f64 / rated as f64)
            };
            let bad_ci = clamp_fraction_difference(paired_figure(&base.1, results, bad_rate));
            push("ratings.bad_rate".into(), ra.ratings.bad_rate, rb.ratings.bad_rate, bad_ci);
            // Clocks raised, as a mean count per replication (common random numbers give both
            // scenarios the same arrivals).
            for (name, who) in [("sla.case_overdue", 0), ("sla.task_overdue", 1)] {
                let per_rep = |results: &[RepResult]| {
                    let total: u64 = results.iter().map(|r| r.sla_raised[who][1]).sum();
                    (!results.is_empty()).then(|| total as f64 / results.len() as f64)
                };
                let ci = paired_figure(&base.1, results, |r| Some(r.sla_raised[who][1] as f64));
                push(name.to_owned(), per_rep(&base.1), per_rep(results), ci);
            }
            for (name, u) in &ra.utilisation {
                if let Some(v) = rb.utilisation.get(name) {
                    let ci = clamp_fraction_difference(paired_figure(&base.1, results, |r| station_util(r, name)));
                    push(format!("utilisation.{name}"), Some(*u), Some(*v), ci);
                }
            }
            differences.push(ScenarioDifference { scenario: s.spec.name.clone(), kpis });
        }
        Comparison {
            baseline: base.0.spec.name.clone(),
            seed,
            replications: options.replications(base.0),
            reports,
            differences,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two utilisations far apart give a t interval (one degree of freedom) far wider than
    /// [0, 1]: it is clipped to the range of a fraction, and still contains the mean.
    #[test]
    fn a_fraction_interval_stays_within_zero_and_one() {
        let wide = Figure::of(&[0.1, 0.9]);
        let [lo, hi] = wide.ci95.expect("two values give an interval");
        assert!(lo < 0.0 && hi > 1.0, "the unclipped interval [{lo}, {hi}] reaches past both ends");
        let clipped = Figure::fraction(&[0.1, 0.9]);
        assert_eq!(clipped.mean, wide.mean);
        assert_eq!(clipped.ci95, Some([0.0, 1.0]));
        let narrow = Figure::fraction(&[0.50, 0.51, 0.52]);
        assert_eq!(narrow.ci95, Figure::of(&[0.50, 0.51, 0.52]).ci95, "an interval inside [0, 1] is unchanged");
        assert_eq!(clamp_fraction_difference(Some([-1.7, 0.4])), Some([-1.0, 0.4]));
    }
}
