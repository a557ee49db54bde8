//! Reports: the KPIs of a scenario across its replications, and paired comparisons.
//!
//! Every KPI of a case (cycle time, waits, trips) is summarised as [`Summary`]: the pooled
//! count, p50/p90/p95/p99 and max, and the mean with its 95 % confidence interval, one
//! estimator ([`PooledTally::estimate`]: the mean of the replication means with several
//! replications). Station figures (utilisation, queue length) are one value per replication:
//! their mean, with a confidence interval when there are at least two replications.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::RunOptions;
use crate::model::{Gantt, RepResult, Series};
use crate::scenario::Scenario;
use crate::stats::{Batches, Histogram, PooledTally, Summary, mean_ci, paired_ratio_ci};

/// A rate (fraction of cases) with its confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rate {
    /// The fraction, 0–1: with several replications the mean of the replications' fractions
    /// (those with cases), else the fraction of the cases; the centre of `ci95`.
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
        // Summed from +0.0: an empty sum of floats is -0.0, which would print as "-0.0".
        let mean = values.iter().fold(0.0, |sum, x| sum + x) / values.len().max(1) as f64;
        Figure { mean, ci95: mean_ci(values).map(|(_, ci)| ci) }
    }

    /// [`Figure::of`] for a quantity that is never negative (a queue length, WIP, throughput):
    /// the interval is clipped at 0.
    fn non_negative(values: &[f64]) -> Figure {
        let Figure { mean, ci95 } = Figure::of(values);
        Figure { mean, ci95: ci95.map(|[lo, hi]| [lo.max(0.0), hi]) }
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
    /// Time at the station per visit, queue wait and service, calendar minutes (measured
    /// cases): the mean over replications, with an interval from two replications on.
    pub sojourn_minutes: Option<Figure>,
    /// Services per replication.
    pub served: f64,
    /// Offered load λ·E\[S\]/c over the arrival period (visits arriving per working minute ×
    /// mean working minutes of a service ÷ servers), mean over replications; at or above 1
    /// the station cannot keep up. `None` when nothing was served.
    pub offered_load: Option<Figure>,
    /// Whether the queue rose clearly through the arrival period in most replications.
    pub queue_growing: bool,
    /// For a department: how often its task was the last sibling to finish at a join on the
    /// cases' approval walks (the slowest parallel branch), and the join wait that followed.
    pub slowest_branch: Option<SlowestBranch>,
}

/// How often a department's task was the slowest of parallel branches.
#[derive(Debug, Clone, Serialize)]
pub struct SlowestBranch {
    /// Share of all joins (every department's) at which this department's task finished last.
    pub share_of_joins: f64,
    /// Join wait after the first sibling's finish at those joins, minutes per completed case.
    pub join_minutes_per_case: f64,
}

/// Whether the run describes a steady state (稳态).
#[derive(Debug, Clone, Serialize)]
pub struct SteadyState {
    /// No station is overloaded and no queue grows: the means describe the long run.
    pub steady: bool,
    /// The stations that are not steady, worst offered load first.
    pub unsteady: Vec<Unsteady>,
}

/// A station that is not in steady state.
#[derive(Debug, Clone, Serialize)]
pub struct Unsteady {
    /// Station name.
    pub station: String,
    /// Its offered load (≥ 1: more work arrives than its servers can do).
    pub offered_load: Option<f64>,
    /// Whether its queue rose through the arrival period.
    pub queue_growing: bool,
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
    /// Waiting for a free window or reviewer: every window visit, and the approvals on the walk
    /// back from the decision through the first sibling to finish at every join.
    pub queue: Option<Summary>,
    /// Waiting at joins for parallel approvals: at each join on that walk (a task waiting for
    /// several, or the decision when a bundle ends in parallel tasks), the time from the first
    /// sibling's finish to the last's.
    pub join: Option<Summary>,
    /// Waiting for materials: away after a correction notice, tolerated material not yet
    /// supplied while it held a task or the results, suspensions for a missed cure.
    pub materials: Option<Summary>,
    /// Special procedures (特别程序) on the approval walk.
    pub special_procedure: Option<Summary>,
    /// Not waiting: served at windows, and reviews on the approval walk. With the four
    /// waits above it adds up to the cycle time, case by case.
    pub service: Option<Summary>,
    /// Closed hours inside the cycle (calendar minus working time); they overlap the other
    /// parts (a wait or a review can span a night).
    pub closed_hours: Option<Summary>,
}

/// Outcomes of measured cases: the decisions of the completed ones (counted at pickup, so that
/// `approved + partially_approved + denied` is the number of completed cases) and the returns.
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
    /// Share of ratings ≤ 2 (差评率): each replication's share, averaged over the replications
    /// that recorded a rating (the same figure as the `ratings.bad_rate` row of a comparison).
    /// `None` when no replication recorded one.
    pub bad_rate: Option<f64>,
    /// 95 % confidence interval of `bad_rate` over replications (two replications with ratings
    /// or more), clipped to [0, 1].
    pub bad_rate_ci95: Option<[f64; 2]>,
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
    /// Measured applicants still in the hall when a horizon stopped a replication, also those
    /// still queueing before the engine opened their case.
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
    /// Whether the run describes a steady state; when not, which stations are overloaded.
    pub steady_state: SteadyState,
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

/// One station of a scenario, pooled over its replications.
#[derive(Debug, Clone, Default)]
pub struct PooledStation {
    /// Station name: `consult`, `intake`, `delivery` or a department id.
    pub name: String,
    /// A window class (else a department).
    pub window: bool,
    /// Servers.
    pub servers: u32,
    /// Utilisation of each replication.
    pub utilisation: Vec<f64>,
    /// Time-average queue length of each replication.
    pub queue_mean: Vec<f64>,
    /// Longest queue of any replication.
    pub queue_max: u32,
    /// Queue waits per visit.
    pub wait: PooledTally,
    /// Mean time at the station per visit (queue wait and service) of each replication
    /// (`None`: no visit of a measured case).
    pub sojourn: Vec<Option<f64>>,
    /// Services, all replications.
    pub served: f64,
    /// Offered load of each replication.
    pub offered_load: Vec<Option<f64>>,
    /// Rise of the queue of each replication (0: no clear rise).
    pub queue_growth: Vec<Option<f64>>,
    /// Joins at which its task finished last, and the join minutes after, all replications.
    pub last_at_join: (u64, f64),
}

/// One bundle of a scenario, pooled over its replications.
#[derive(Debug, Clone, Default)]
pub struct PooledBundle {
    /// Bundle id.
    pub id: String,
    /// Cycle time of completed measured cases.
    pub cycle: PooledTally,
    /// On time (0/1).
    pub on_time: PooledTally,
}

/// Every replication of one scenario folded together in replication order: pooled
/// distributions and counts, and the few scalars of each replication that the confidence
/// intervals and the paired comparisons need. A replication's [`RepResult`] (its histograms
/// weigh about 0.4 MB) can be dropped as soon as it is folded in, so the memory of a run does
/// not grow with the replications' histograms; what grows is about 0.5 KB a replication.
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    /// Replications folded in.
    pub replications: u32,
    /// Arrivals (warm-up included), all replications.
    pub arrivals: u64,
    /// Completed measured cases, all replications.
    pub completed: u64,
    /// Measured cases still open at the end, all replications.
    pub unfinished: u64,
    /// Cycle time, calendar minutes.
    pub cycle: PooledTally,
    /// Cycle time, working minutes.
    pub cycle_working: PooledTally,
    /// Closed hours within the cycle.
    pub closed: PooledTally,
    /// Queue waits.
    pub queue: PooledTally,
    /// Waits at joins.
    pub join: PooledTally,
    /// Waits for materials.
    pub materials: PooledTally,
    /// Service at windows and reviews on the approval walk.
    pub service: PooledTally,
    /// Special procedures on the approval walk.
    pub special: PooledTally,
    /// On time (0/1).
    pub on_time: PooledTally,
    /// Trips to the hall.
    pub trips: PooledTally,
    /// Ticket closure time.
    pub ticket_closure: PooledTally,
    /// 95th percentile of the cycle time of each replication (`None`: no completed case).
    pub cycle_p95: Vec<Option<f64>>,
    /// Per bundle, in the replications' order.
    pub bundles: Vec<PooledBundle>,
    /// Per station, in the replications' order.
    pub stations: Vec<PooledStation>,
    /// Time-average work in progress of each replication.
    pub wip_mean: Vec<f64>,
    /// Most cases in the system, any replication.
    pub wip_max: u32,
    /// Completed measured cases per calendar day of each replication (`None`: no measured
    /// period).
    pub throughput: Vec<Option<f64>>,
    /// Outcomes: approved, partially approved, denied.
    pub outcomes: [u64; 3],
    /// Returned (退件) measured cases.
    pub returned: u64,
    /// Ratings 1★ … 5★, all replications.
    pub ratings: [u64; 5],
    /// Of those, default ratings.
    pub default_ratings: u64,
    /// Share of ratings ≤ 2 of each replication (`None`: no rating).
    pub bad_rate: Vec<Option<f64>>,
    /// Clocks raised, `[case, task][warning, overdue]`, all replications.
    pub sla_raised: [[u64; 2]; 2],
    /// Overdue clocks `[case, task]` of each replication.
    pub sla_overdue: Vec<[u64; 2]>,
    /// Tickets opened by source kind.
    pub tickets_opened: BTreeMap<String, u64>,
    /// Tickets closed.
    pub tickets_closed: u64,
    /// Tickets abandoned.
    pub tickets_abandoned: u64,
    /// Engine events by kind.
    pub events: BTreeMap<String, u64>,
    /// Queue and WIP samples of the first replication.
    pub series: Series,
    /// A sample case of the first replication.
    pub gantt: Option<Gantt>,
}

impl Aggregate {
    /// Folds in the next replication (replications must come in replication order for the
    /// results to be the same whatever the number of threads).
    pub fn add(&mut self, r: &RepResult) {
        let first = self.replications == 0;
        self.replications += 1;
        self.arrivals += r.arrivals;
        self.completed += r.completed;
        self.unfinished += r.unfinished;
        for (pooled, tally) in [
            (&mut self.cycle, &r.cycle),
            (&mut self.cycle_working, &r.cycle_working),
            (&mut self.closed, &r.closed),
            (&mut self.queue, &r.queue),
            (&mut self.join, &r.join),
            (&mut self.materials, &r.materials),
            (&mut self.service, &r.service),
            (&mut self.special, &r.special),
            (&mut self.on_time, &r.on_time),
            (&mut self.trips, &r.trips),
            (&mut self.ticket_closure, &r.ticket_closure),
        ] {
            pooled.add(tally);
        }
        self.cycle_p95.push(r.cycle.hist.as_ref().and_then(|h| h.quantile(0.95)));
        for (i, (id, b)) in r.bundles.iter().enumerate() {
            if i == self.bundles.len() {
                self.bundles.push(PooledBundle { id: id.clone(), ..PooledBundle::default() });
            }
            let pooled = &mut self.bundles[i];
            pooled.cycle.add(&b.cycle);
            pooled.on_time.add(&b.on_time);
        }
        for (i, st) in r.stations.iter().enumerate() {
            if i == self.stations.len() {
                self.stations.push(PooledStation {
                    name: st.name.clone(),
                    window: st.window,
                    servers: st.servers,
                    ..PooledStation::default()
                });
            }
            let pooled = &mut self.stations[i];
            pooled.utilisation.push(st.utilisation);
            pooled.queue_mean.push(st.queue_mean);
            pooled.queue_max = pooled.queue_max.max(st.queue_max);
            pooled.wait.add(&st.wait);
            pooled.sojourn.push(st.wait.mean().map(|w| w + st.service_span / st.wait.count as f64));
            pooled.served += st.served as f64;
            pooled.offered_load.push(st.offered_load);
            pooled.queue_growth.push(st.queue_growth);
            pooled.last_at_join.0 += st.last_at_join.0;
            pooled.last_at_join.1 += st.last_at_join.1;
        }
        self.wip_mean.push(r.wip_mean);
        self.wip_max = self.wip_max.max(r.wip_max);
        self.throughput.push((r.period_minutes > 0.0).then(|| r.completed as f64 / (r.period_minutes / 1440.0)));
        for (o, n) in self.outcomes.iter_mut().zip(r.outcomes) {
            *o += n;
        }
        self.returned += r.returned;
        for (s, n) in self.ratings.iter_mut().zip(r.ratings) {
            *s += n;
        }
        self.default_ratings += r.default_ratings;
        let rated: u64 = r.ratings.iter().sum();
        self.bad_rate.push((rated > 0).then(|| (r.ratings[0] + r.ratings[1]) as f64 / rated as f64));
        for (total, raised) in self.sla_raised.iter_mut().zip(r.sla_raised) {
            for (t, n) in total.iter_mut().zip(raised) {
                *t += n;
            }
        }
        self.sla_overdue.push([r.sla_raised[0][1], r.sla_raised[1][1]]);
        for (kind, n) in &r.tickets_opened {
            *self.tickets_opened.entry((*kind).to_owned()).or_insert(0) += n;
        }
        self.tickets_closed += r.tickets_closed;
        self.tickets_abandoned += r.tickets_abandoned;
        for (name, n) in &r.events {
            *self.events.entry((*name).to_owned()).or_insert(0) += n;
        }
        if first {
            self.series = r.series.clone();
            self.gantt = r.gantt.clone();
        }
    }

    /// Folds every result in order.
    pub fn of(results: &[RepResult]) -> Aggregate {
        let mut aggregate = Aggregate::default();
        for r in results {
            aggregate.add(r);
        }
        aggregate
    }
}

/// A fraction of cases: the estimate of [`PooledTally::estimate`] of a 0/1 tally.
fn rate(tally: &PooledTally) -> Option<Rate> {
    tally.estimate().map(|(rate, ci)| Rate { rate, ci95: ci.map(clamp_fraction) })
}

impl Report {
    /// Builds the report of one scenario from its replications, folded in replication order.
    pub fn build(scenario: &Scenario, seed: u64, threads: usize, agg: &Aggregate, wall_seconds: f64) -> Report {
        let on_time = rate(&agg.on_time);
        let mut stations = BTreeMap::new();
        let mut utilisation = BTreeMap::new();
        let joins: u64 = agg.stations.iter().map(|s| s.last_at_join.0).sum();
        let mut unsteady = Vec::new();
        for st in &agg.stations {
            let util = Figure::fraction(&st.utilisation);
            utilisation.insert(st.name.clone(), util.mean);
            let loads: Vec<f64> = st.offered_load.iter().flatten().copied().collect();
            let offered_load = (!loads.is_empty()).then(|| Figure::non_negative(&loads));
            let judged = st.queue_growth.iter().flatten().count();
            let growing = st.queue_growth.iter().flatten().filter(|&&g| g > 0.0).count();
            let queue_growing = judged > 0 && 2 * growing > judged;
            let overloaded = offered_load.as_ref().is_some_and(|f| f.mean >= 1.0);
            if overloaded || queue_growing {
                unsteady.push(Unsteady {
                    station: st.name.clone(),
                    offered_load: offered_load.as_ref().map(|f| f.mean),
                    queue_growing,
                });
            }
            let slowest_branch = (joins > 0 && st.last_at_join.0 > 0).then(|| SlowestBranch {
                share_of_joins: st.last_at_join.0 as f64 / joins as f64,
                join_minutes_per_case: st.last_at_join.1 / agg.completed.max(1) as f64,
            });
            stations.insert(
                st.name.clone(),
                StationReport {
                    kind: if st.window { "window" } else { "department" },
                    servers: st.servers,
                    utilisation: util,
                    queue_length: Figure::non_negative(&st.queue_mean),
                    queue_length_max: st.queue_max,
                    queue_wait_minutes: Summary::of(&st.wait),
                    sojourn_minutes: {
                        let means: Vec<f64> = st.sojourn.iter().flatten().copied().collect();
                        (!means.is_empty()).then(|| Figure::non_negative(&means))
                    },
                    served: st.served / st.utilisation.len().max(1) as f64,
                    offered_load,
                    queue_growing,
                    slowest_branch,
                },
            );
        }
        unsteady.sort_by(|a, b| {
            b.offered_load.unwrap_or(0.0).total_cmp(&a.offered_load.unwrap_or(0.0)).then(a.station.cmp(&b.station))
        });
        let mut bundles = BTreeMap::new();
        for b in &agg.bundles {
            bundles.insert(
                b.id.clone(),
                BundleReport {
                    cases: b.cycle.count(),
                    cycle_time_minutes: Summary::of(&b.cycle),
                    on_time: rate(&b.on_time),
                },
            );
        }
        let stars = agg.ratings;
        // A replication without a rating has no share: left out, as in `compare`.
        let bad_rates: Vec<f64> = agg.bad_rate.iter().flatten().copied().collect();
        let bad_rate = (!bad_rates.is_empty()).then(|| Figure::fraction(&bad_rates));
        let charts = ChartData {
            cycle: agg.cycle.hist.clone(),
            series: agg.series.clone(),
            stations: agg.stations.iter().map(|s| s.name.clone()).collect(),
            gantt: agg.gantt.clone(),
        };
        // A replication without a measured period has no throughput: left out, as in `compare`.
        let throughput: Vec<f64> = agg.throughput.iter().flatten().copied().collect();
        Report {
            scenario: scenario.spec.name.clone(),
            definition: scenario.definition_id(),
            replications: agg.replications,
            seed,
            threads,
            cases: agg.completed,
            arrivals: agg.arrivals,
            unfinished: agg.unfinished,
            wall_seconds,
            cases_per_second: if wall_seconds > 0.0 { agg.arrivals as f64 / wall_seconds } else { 0.0 },
            cycle_time_minutes: Summary::of(&agg.cycle),
            working_cycle_time_minutes: Summary::of(&agg.cycle_working),
            on_time_rate: on_time.as_ref().map_or(f64::NAN, |r| r.rate),
            on_time_rate_ci95: on_time.and_then(|r| r.ci95),
            waiting_minutes: Waiting {
                queue: Summary::of(&agg.queue),
                join: Summary::of(&agg.join),
                materials: Summary::of(&agg.materials),
                special_procedure: Summary::of(&agg.special),
                service: Summary::of(&agg.service),
                closed_hours: Summary::of(&agg.closed),
            },
            steady_state: SteadyState { steady: unsteady.is_empty(), unsteady },
            utilisation,
            stations,
            wip: Wip { mean: Figure::non_negative(&agg.wip_mean), max: agg.wip_max },
            throughput_per_day: Figure::non_negative(&throughput),
            trips: Summary::of(&agg.trips),
            bundles,
            outcomes: Outcomes {
                approved: agg.outcomes[0],
                partially_approved: agg.outcomes[1],
                denied: agg.outcomes[2],
                returned: agg.returned,
            },
            ratings: Ratings {
                stars,
                by_default: agg.default_ratings,
                bad_rate: bad_rate.as_ref().map(|f| f.mean),
                bad_rate_ci95: bad_rate.and_then(|f| f.ci95),
            },
            sla: SlaCounts {
                case_warnings: agg.sla_raised[0][0],
                case_overdue: agg.sla_raised[0][1],
                task_warnings: agg.sla_raised[1][0],
                task_overdue: agg.sla_raised[1][1],
            },
            tickets: Tickets {
                opened: agg.tickets_opened.clone(),
                closed: agg.tickets_closed,
                abandoned: agg.tickets_abandoned,
                closure_minutes: Summary::of(&agg.ticket_closure),
            },
            events: agg.events.clone(),
            charts,
        }
    }
}

/// The difference of one KPI between a scenario and the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct KpiDifference {
    /// KPI name, e.g. `cycle_time_minutes.mean`.
    pub kpi: String,
    /// Baseline value (for the p95, throughput and 差评率 rows with several replications: the
    /// mean over replications of each replication's figure).
    pub baseline: f64,
    /// This scenario's value, the same way.
    pub value: f64,
    /// The paired difference, centre of `ci95`: the mean of the per-replication differences
    /// (pairs where either run has no value left out), or with one replication `value −
    /// baseline`. Equal to `value − baseline` when both runs have a value in every replication.
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

/// A per-case KPI: its name, how to find its pooled tally, and its value in the two reports.
type TallyKpi = (&'static str, fn(&Aggregate) -> &PooledTally, Option<f64>, Option<f64>);

/// A paired difference and its 95 % confidence interval, centred on it.
#[derive(Debug, Clone, Copy)]
struct Paired {
    difference: f64,
    ci95: Option<[f64; 2]>,
}

/// The mean of paired differences and its t interval (none with a single difference).
fn paired_values(diffs: &[f64]) -> Option<Paired> {
    match diffs {
        [] => None,
        [one] => Some(Paired { difference: *one, ci95: None }),
        _ => mean_ci(diffs).map(|(difference, ci)| Paired { difference, ci95: Some(ci) }),
    }
}

/// Paired difference of a per-case mean between two runs: with several replications, the
/// mean of the differences of replication i's means (replications where either run observed
/// nothing are left out) and its t interval; with one, the difference of the two means and
/// the interval of that difference over batches of cases with the same arrival numbers.
fn paired_tally(a: &PooledTally, b: &PooledTally) -> Option<Paired> {
    if a.replications.len() >= 2 && a.replications.len() == b.replications.len() {
        let diffs: Vec<f64> =
            a.replication_means().zip(b.replication_means()).filter_map(|(x, y)| Some(y? - x?)).collect();
        return paired_values(&diffs);
    }
    let ((ma, _), (mb, _)) = (a.estimate()?, b.estimate()?);
    let (mut bx, mut by): (Batches, Batches) = (a.first_batches.clone()?, b.first_batches.clone()?);
    let shift = bx.shift().max(by.shift());
    bx.coarsen_to(shift);
    by.coarsen_to(shift);
    Some(Paired { difference: mb - ma, ci95: paired_ratio_ci(bx.sums(), by.sums(), (ma, mb)) })
}

/// Paired difference of a per-replication figure between two runs (replication i of one with
/// replication i of the other; pairs where either has no value are left out); `None` with
/// fewer than two replications.
fn paired_figure(a: &[Option<f64>], b: &[Option<f64>]) -> Option<Paired> {
    if a.len() < 2 || a.len() != b.len() {
        return None;
    }
    let diffs: Vec<f64> = a.iter().zip(b).filter_map(|(x, y)| Some((*y)? - (*x)?)).collect();
    paired_values(&diffs)
}

/// The mean over replications of a per-replication figure (those that have one).
fn mean_of(values: &[Option<f64>]) -> Option<f64> {
    let values: Vec<f64> = values.iter().flatten().copied().collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Clips a paired difference of two fractions, and its interval, to [−1, 1].
fn clamp_fraction_difference(paired: Option<Paired>) -> Option<Paired> {
    paired.map(|p| Paired { ci95: p.ci95.map(|[lo, hi]| [lo.clamp(-1.0, 1.0), hi.clamp(-1.0, 1.0)]), ..p })
}

fn station_util(agg: &Aggregate, name: &str) -> Vec<Option<f64>> {
    agg.stations
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.utilisation.iter().copied().map(Some).collect())
        .unwrap_or_default()
}

impl Comparison {
    /// Builds the comparison from runs in order (the first is the baseline).
    pub(crate) fn build(runs: &[(&Scenario, Aggregate, f64)], options: &RunOptions<'_>) -> Comparison {
        let base = &runs[0];
        let seed = options.seed(base.0);
        let reports: Vec<Report> = runs
            .iter()
            .map(|(s, agg, wall)| Report::build(s, seed, options.threads(agg.replications), agg, *wall))
            .collect();
        let mut differences = Vec::new();
        for (i, (s, results, _)) in runs.iter().enumerate().skip(1) {
            let (ra, rb) = (&reports[0], &reports[i]);
            let mut kpis = Vec::new();
            let mut push = |kpi: String, a: Option<f64>, b: Option<f64>, paired: Option<Paired>| {
                if let (Some(a), Some(b)) = (a, b) {
                    let ci95 = paired.and_then(|p| p.ci95);
                    let difference = paired.map_or(b - a, |p| p.difference);
                    let significant = ci95.map(|[lo, hi]| lo > 0.0 || hi < 0.0);
                    kpis.push(KpiDifference { kpi, baseline: a, value: b, difference, ci95, significant });
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
                let paired = paired_tally(f(&base.1), f(results));
                let paired = if name == "on_time_rate" { clamp_fraction_difference(paired) } else { paired };
                push(name.to_owned(), a, b, paired);
            }
            // Per-replication figures: with several replications, each row's baseline and value
            // are means over replications (the quantity its paired interval is about); with
            // one, the replication's own figure.
            let several = base.1.replications >= 2;
            let figure = |pooled: Option<f64>, per_rep: &[Option<f64>]| if several { mean_of(per_rep) } else { pooled };
            let p95 = |s: &Option<Summary>| s.as_ref().map(|s| s.p95);
            push(
                "cycle_time_minutes.p95".into(),
                figure(p95(&ra.cycle_time_minutes), &base.1.cycle_p95),
                figure(p95(&rb.cycle_time_minutes), &results.cycle_p95),
                paired_figure(&base.1.cycle_p95, &results.cycle_p95),
            );
            push(
                "throughput_per_day".into(),
                figure(Some(ra.throughput_per_day.mean), &base.1.throughput),
                figure(Some(rb.throughput_per_day.mean), &results.throughput),
                paired_figure(&base.1.throughput, &results.throughput),
            );
            push(
                "ratings.bad_rate".into(),
                figure(ra.ratings.bad_rate, &base.1.bad_rate),
                figure(rb.ratings.bad_rate, &results.bad_rate),
                clamp_fraction_difference(paired_figure(&base.1.bad_rate, &results.bad_rate)),
            );
            // Clocks raised, as a mean count per replication (common random numbers give both
            // scenarios the same arrivals).
            for (name, who) in [("sla.case_overdue", 0), ("sla.task_overdue", 1)] {
                let per_rep = |agg: &Aggregate| {
                    let total: u64 = agg.sla_overdue.iter().map(|r| r[who]).sum();
                    (!agg.sla_overdue.is_empty()).then(|| total as f64 / agg.sla_overdue.len() as f64)
                };
                let values = |agg: &Aggregate| agg.sla_overdue.iter().map(|r| Some(r[who] as f64)).collect::<Vec<_>>();
                push(
                    name.to_owned(),
                    per_rep(&base.1),
                    per_rep(results),
                    paired_figure(&values(&base.1), &values(results)),
                );
            }
            for (name, u) in &ra.utilisation {
                if let Some(v) = rb.utilisation.get(name) {
                    let paired = paired_figure(&station_util(&base.1, name), &station_util(results, name));
                    push(format!("utilisation.{name}"), Some(*u), Some(*v), clamp_fraction_difference(paired));
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
        let clipped = clamp_fraction_difference(Some(Paired { difference: 0.1, ci95: Some([-1.7, 0.4]) }));
        assert_eq!(clipped.and_then(|p| p.ci95), Some([-1.0, 0.4]));
    }

    /// Queue lengths, WIP and throughput are never negative, and neither is their interval;
    /// with no replication measured the figure is a plain 0, not -0.
    #[test]
    fn a_non_negative_interval_stays_above_zero() {
        let [lo, hi] = Figure::of(&[0.0, 0.0, 3.0]).ci95.expect("an interval");
        assert!(lo < 0.0, "the t interval reaches below 0: [{lo}, {hi}]");
        let clipped = Figure::non_negative(&[0.0, 0.0, 3.0]);
        assert_eq!(clipped.ci95, Some([0.0, hi]));
        assert!(Figure::of(&[]).mean.is_sign_positive(), "an empty mean prints as 0.0, not -0.0");
    }
}
