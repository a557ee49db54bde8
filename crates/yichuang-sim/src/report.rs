//! Reports: the KPIs of a scenario across its replications, and paired comparisons.
//!
//! Every KPI of a case (cycle time, waits, trips) is summarised as [`Summary`]: the pooled
//! count, p50/p90/p95/p99 and max, and the mean with its confidence interval (at the run's
//! confidence level, 95 % unless asked otherwise), one estimator ([`PooledTally::estimate`]:
//! the mean of the replication means with several replications). Station figures
//! (utilisation, queue length) are one value per replication: their mean, with a confidence
//! interval when there are at least two replications.
//!
//! A [`Comparison`] tests every KPI of the [catalogue](crate::kpis) for a difference from the
//! baseline and controls the family of those tests with Holm's step-down procedure.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::RunOptions;
use crate::kpis::{Kind, catalogue};
use crate::model::{Gantt, RepResult, Series};
use crate::scenario::Scenario;
use crate::stats::{Histogram, PooledTally, Summary, mean_estimate};

/// A rate (fraction of cases) with its confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rate {
    /// The fraction, 0–1: with several replications the mean of the replications' fractions
    /// (those with cases), else the fraction of the cases; the centre of `ci`.
    pub rate: f64,
    /// Confidence interval at the report's level.
    pub ci: Option<[f64; 2]>,
}

/// A per-replication figure averaged over replications.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    /// Mean over replications.
    pub mean: f64,
    /// Confidence interval at the report's level (two replications or more).
    pub ci: Option<[f64; 2]>,
}

impl Figure {
    fn of(values: &[f64], level: f64) -> Figure {
        match mean_estimate(values) {
            Some(e) => Figure { mean: e.value, ci: e.ci(level) },
            None => Figure { mean: 0.0, ci: None },
        }
    }

    /// [`Figure::of`] for a quantity that is never negative (a queue length, WIP, throughput):
    /// the interval is clipped at 0.
    fn non_negative(values: &[f64], level: f64) -> Figure {
        let Figure { mean, ci } = Figure::of(values, level);
        Figure { mean, ci: ci.map(|[lo, hi]| [lo.max(0.0), hi]) }
    }

    /// [`Figure::of`] for a fraction (utilisation): the interval is clipped to [0, 1], where
    /// every value lies (a t interval over few replications can reach past either end).
    fn fraction(values: &[f64], level: f64) -> Figure {
        let Figure { mean, ci } = Figure::of(values, level);
        Figure { mean, ci: ci.map(clamp_fraction) }
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
    /// Servers (windows or reviewers): with a schedule, the most on duty at once.
    pub servers: u32,
    /// Servers on duty on average over the measured working time (its schedule's).
    pub mean_servers: f64,
    /// Busy fraction of the working time of the servers on duty.
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
    /// Its offered load (mean over replications).
    pub offered_load: Option<f64>,
    /// Whether the offered load is at or above 1 beyond its noise (the lower end of its
    /// interval): more work arrives than its servers can do.
    pub overloaded: bool,
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
    /// Confidence interval of `bad_rate` over replications (two replications with ratings or
    /// more), clipped to [0, 1].
    pub bad_rate_ci: Option<[f64; 2]>,
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

/// Applicants who gave up (放弃排队): balking on arrival, reneging in a window queue.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicantsLost {
    /// Measured applicants who left on seeing the queue at their first window (all replications).
    pub balked: u64,
    /// Measured applicants who gave up waiting at their first visit (all replications).
    pub reneged: u64,
    /// Share of measured arrivals lost, mean over replications, with its interval.
    pub share: Figure,
    /// Later visits given up (failed trips: back after a correction, or to pick up; the
    /// applicant comes back), all replications.
    pub failed_trips: u64,
    /// Failed trips per completed case, mean over replications.
    pub failed_trips_per_case: Figure,
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
    /// Working cycle-time distribution, all replications (the histogram and CDF of a hall whose
    /// promise is in working days).
    pub working: Histogram,
    /// What the hall promises, for the charts' promise marker.
    pub promise: Promise,
    /// Working minutes in one working day of the hall (1,440 in a 24/7 hall).
    pub day_minutes: f64,
}

/// What the hall promises its applicants (承诺时限), as the charts mark it.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Promise {
    /// Nothing to mark.
    #[default]
    None,
    /// `on_time: WithinMinutes(m)`: the cycle time, calendar minutes.
    WithinMinutes(f64),
    /// `on_time: Promised`: each distinct promised limit of the bundles that arrive, in working
    /// days counted from acceptance, with those bundles' ids.
    WorkingDays(Vec<(u32, Vec<String>)>),
}

impl Promise {
    /// The promise of `scenario`.
    pub fn of(scenario: &Scenario) -> Promise {
        match scenario.spec.on_time {
            crate::scenario::OnTime::WithinMinutes(m) => Promise::WithinMinutes(m),
            crate::scenario::OnTime::Promised => {
                let def = scenario.definition();
                let mut days: Vec<(u32, Vec<String>)> = Vec::new();
                for a in &scenario.spec.arrivals {
                    let Some(ix) = def.bundle_ix(&a.bundle) else { continue };
                    let d = def.bundle(ix).promised_days;
                    match days.iter_mut().find(|(x, _)| *x == d) {
                        Some((_, ids)) if !ids.contains(&a.bundle) => ids.push(a.bundle.clone()),
                        Some(_) => {}
                        None => days.push((d, vec![a.bundle.clone()])),
                    }
                }
                days.sort_by_key(|(d, _)| *d);
                Promise::WorkingDays(days)
            }
        }
    }
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
    /// Confidence level of every interval (`ci`), e.g. 0.95.
    pub confidence: f64,
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
    /// Its confidence interval.
    pub on_time_rate_ci: Option<[f64; 2]>,
    /// Waiting split.
    pub waiting_minutes: Waiting,
    /// Whether the run describes a steady state; when not, which stations are overloaded.
    pub steady_state: SteadyState,
    /// Applicants who gave up, when the scenario lets them (`balk`, `patience`).
    pub applicants_lost: Option<ApplicantsLost>,
    /// The detected warm-up, for a scenario with `warm_up: Auto`.
    pub warm_up: Option<crate::warmup::WarmUpReport>,
    /// How precision-driven stopping ended (`simulate --precision`).
    pub precision: Option<crate::precision::Outcome>,
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
    /// Servers on duty on average, of each replication (its schedule's, or all).
    pub mean_servers: Vec<f64>,
    /// Offered load of each replication, and its standard error.
    pub offered_load: Vec<Option<(f64, f64)>>,
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
    /// Applicants can leave queues (balking or patience set in the scenario).
    pub applicants_leave: bool,
    /// Measured applicants lost, `[balked, reneged]`, all replications.
    pub lost: [u64; 2],
    /// Share of measured arrivals lost, of each replication (`None`: no measured arrival).
    pub lost_share: Vec<Option<f64>>,
    /// Later visits given up by measured applicants (failed trips), all replications.
    pub failed_trips: u64,
    /// Failed trips per completed measured case, of each replication.
    pub failed_trips_per_case: Vec<Option<f64>>,
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
            pooled.mean_servers.push(st.mean_servers);
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
        self.applicants_leave |= r.applicants_leave;
        for (total, n) in self.lost.iter_mut().zip(r.lost) {
            *total += n;
        }
        let lost = r.lost[0] + r.lost[1];
        self.lost_share.push((r.measured_arrivals > 0).then(|| lost as f64 / r.measured_arrivals as f64));
        self.failed_trips += r.failed_trips;
        self.failed_trips_per_case.push((r.completed > 0).then(|| r.failed_trips as f64 / r.completed as f64));
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
fn rate(tally: &PooledTally, level: f64) -> Option<Rate> {
    tally.estimate().map(|e| Rate { rate: e.value, ci: e.ci(level).map(clamp_fraction) })
}

impl Report {
    /// Builds the report of one scenario from its replications, folded in replication order,
    /// with intervals at confidence `level` (e.g. 0.95).
    pub fn build(
        scenario: &Scenario,
        seed: u64,
        threads: usize,
        level: f64,
        agg: &Aggregate,
        wall_seconds: f64,
    ) -> Report {
        let on_time = rate(&agg.on_time, level);
        let mut stations = BTreeMap::new();
        let mut utilisation = BTreeMap::new();
        let joins: u64 = agg.stations.iter().map(|s| s.last_at_join.0).sum();
        let mut unsteady = Vec::new();
        for st in &agg.stations {
            let util = Figure::fraction(&st.utilisation, level);
            utilisation.insert(st.name.clone(), util.mean);
            let loads: Vec<f64> = st.offered_load.iter().flatten().map(|l| l.0).collect();
            let offered_load = (!loads.is_empty()).then(|| Figure::non_negative(&loads, level));
            let judged = st.queue_growth.iter().flatten().count();
            let growing = st.queue_growth.iter().flatten().filter(|&&g| g > 0.0).count();
            let queue_growing = judged > 0 && 2 * growing > judged;
            // Overloaded beyond the noise: the whole interval at or above 1 (with one
            // replication, the estimate less the normal quantile's worth of its standard error).
            let lower = match st.offered_load.as_slice() {
                [Some((load, se))] => Some(load - crate::stats::t_quantile(0.5 + level / 2.0, 1_000_000) * se),
                _ => offered_load.as_ref().and_then(|f| f.ci.map(|[lo, _]| lo)),
            };
            let overloaded = lower.is_some_and(|lo| lo >= 1.0);
            if overloaded || queue_growing {
                unsteady.push(Unsteady {
                    station: st.name.clone(),
                    offered_load: offered_load.as_ref().map(|f| f.mean),
                    overloaded,
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
                    mean_servers: Figure::of(&st.mean_servers, level).mean,
                    utilisation: util,
                    queue_length: Figure::non_negative(&st.queue_mean, level),
                    queue_length_max: st.queue_max,
                    queue_wait_minutes: Summary::of(&st.wait, level),
                    sojourn_minutes: {
                        let means: Vec<f64> = st.sojourn.iter().flatten().copied().collect();
                        (!means.is_empty()).then(|| Figure::non_negative(&means, level))
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
                    cycle_time_minutes: Summary::of(&b.cycle, level),
                    on_time: rate(&b.on_time, level),
                },
            );
        }
        let stars = agg.ratings;
        // A replication without a rating has no share: left out, as in `compare`.
        let bad_rates: Vec<f64> = agg.bad_rate.iter().flatten().copied().collect();
        let bad_rate = (!bad_rates.is_empty()).then(|| Figure::fraction(&bad_rates, level));
        let charts = ChartData {
            cycle: agg.cycle.hist.clone(),
            series: agg.series.clone(),
            stations: agg.stations.iter().map(|s| s.name.clone()).collect(),
            gantt: agg.gantt.clone(),
            working: agg.cycle_working.hist.clone(),
            promise: Promise::of(scenario),
            day_minutes: f64::from(scenario.definition().calendar().day_minutes()),
        };
        // A replication without a measured period has no throughput: left out, as in `compare`.
        let throughput: Vec<f64> = agg.throughput.iter().flatten().copied().collect();
        Report {
            scenario: scenario.spec.name.clone(),
            definition: scenario.definition_id(),
            replications: agg.replications,
            seed,
            confidence: level,
            threads,
            cases: agg.completed,
            arrivals: agg.arrivals,
            unfinished: agg.unfinished,
            wall_seconds,
            cases_per_second: if wall_seconds > 0.0 { agg.arrivals as f64 / wall_seconds } else { 0.0 },
            cycle_time_minutes: Summary::of(&agg.cycle, level),
            working_cycle_time_minutes: Summary::of(&agg.cycle_working, level),
            on_time_rate: on_time.as_ref().map_or(f64::NAN, |r| r.rate),
            on_time_rate_ci: on_time.and_then(|r| r.ci),
            waiting_minutes: Waiting {
                queue: Summary::of(&agg.queue, level),
                join: Summary::of(&agg.join, level),
                materials: Summary::of(&agg.materials, level),
                special_procedure: Summary::of(&agg.special, level),
                service: Summary::of(&agg.service, level),
                closed_hours: Summary::of(&agg.closed, level),
            },
            steady_state: SteadyState { steady: unsteady.is_empty(), unsteady },
            applicants_lost: agg.applicants_leave.then(|| {
                let flat = |v: &[Option<f64>]| v.iter().flatten().copied().collect::<Vec<f64>>();
                ApplicantsLost {
                    balked: agg.lost[0],
                    reneged: agg.lost[1],
                    share: Figure::fraction(&flat(&agg.lost_share), level),
                    failed_trips: agg.failed_trips,
                    failed_trips_per_case: Figure::non_negative(&flat(&agg.failed_trips_per_case), level),
                }
            }),
            warm_up: None,
            precision: None,
            utilisation,
            stations,
            wip: Wip { mean: Figure::non_negative(&agg.wip_mean, level), max: agg.wip_max },
            throughput_per_day: Figure::non_negative(&throughput, level),
            trips: Summary::of(&agg.trips, level),
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
                bad_rate_ci: bad_rate.and_then(|f| f.ci),
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
                closure_minutes: Summary::of(&agg.ticket_closure, level),
            },
            events: agg.events.clone(),
            charts,
        }
    }
}

/// The difference of one KPI between a scenario and the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct KpiDifference {
    /// KPI name, e.g. `cycle_time_minutes.mean` ([`crate::kpis::catalogue`]).
    pub kpi: String,
    /// What it measures: how it is printed (minutes, share, count …).
    pub kind: Kind,
    /// Baseline value (for per-replication figures such as the p95, throughput and 差评率
    /// with several replications: the mean over replications of each replication's figure).
    pub baseline: f64,
    /// This scenario's value, the same way.
    pub value: f64,
    /// The paired difference, centre of `ci`: the mean of the per-replication differences
    /// (pairs where either run has no value left out), or with one replication `value −
    /// baseline`. Equal to `value − baseline` when both runs have a value in every replication.
    pub difference: f64,
    /// `difference / baseline` (`None` when the baseline is 0).
    pub relative: Option<f64>,
    /// Confidence interval of the paired difference: over replications when there are
    /// several, else over batches of cases paired by arrival number.
    pub ci: Option<[f64; 2]>,
    /// `ci / baseline`: the interval of the relative difference, the baseline taken as known.
    pub relative_ci: Option<[f64; 2]>,
    /// Two-sided p-value of "no difference" (Student t); `None` without an interval.
    pub p_value: Option<f64>,
    /// Whether the difference is significant after Holm's correction for the family of KPIs
    /// tested against this baseline; `None` (JSON `null`) when there is no test.
    pub significant: Option<bool>,
}

/// One scenario against the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioDifference {
    /// Scenario name.
    pub scenario: String,
    /// KPIs tested (those with a p-value): the family whose error rate Holm's procedure holds
    /// at `1 − confidence`.
    pub family: usize,
    /// Differences per KPI.
    pub kpis: Vec<KpiDifference>,
}

/// The result of `compare`: each scenario's report and its paired differences to the first.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Name of the first scenario.
    pub baseline: String,
    /// Seed of the baseline (and, with common random numbers, of every scenario).
    pub seed: u64,
    /// Replications of every scenario.
    pub replications: u32,
    /// Confidence level of every interval; `1 − confidence` is the family-wise error rate of
    /// each scenario's tests.
    pub confidence: f64,
    /// `common`: every scenario draws the baseline's random numbers, case by case;
    /// `independent`: each scenario draws its own.
    pub random_numbers: &'static str,
    /// How the family of tests is controlled.
    pub multiple_comparisons: &'static str,
    /// Every scenario's report, baseline first.
    pub reports: Vec<Report>,
    /// Differences to the baseline, one entry per other scenario.
    pub differences: Vec<ScenarioDifference>,
}

/// How `compare` runs and tests.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Each scenario draws its own random numbers (a seed derived from the baseline's and its
    /// position) instead of the baseline's.
    pub independent: bool,
    /// The KPIs to test and report (catalogue names, [`crate::kpis::resolve`]d); empty: all.
    pub kpis: Vec<String>,
}

/// Holm's step-down procedure: given the p-values of a family of tests, which are rejected
/// at family-wise error rate `alpha`. The i-th smallest p-value (from 0) is compared with
/// `alpha / (m − i)`; the first that is not below stops the procedure, and it and every larger
/// one are not rejected. Ties keep their order.
pub fn holm(p_values: &[f64], alpha: f64) -> Vec<bool> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]).then(a.cmp(&b)));
    let mut rejected = vec![false; m];
    for (i, &k) in order.iter().enumerate() {
        if p_values[k] <= alpha / (m - i) as f64 {
            rejected[k] = true;
        } else {
            break;
        }
    }
    rejected
}

impl Comparison {
    /// Builds the comparison from runs in order (the first is the baseline).
    pub(crate) fn build(
        runs: &[(&Scenario, Aggregate, f64)],
        options: &RunOptions<'_>,
        compare: &CompareOptions,
    ) -> Comparison {
        let base = &runs[0];
        let seed = options.seed(base.0);
        let level = options.confidence();
        let reports: Vec<Report> = runs
            .iter()
            .enumerate()
            .map(|(i, (s, agg, wall))| {
                Report::build(
                    s,
                    run_seed(seed, i, compare.independent),
                    options.threads(agg.replications),
                    level,
                    agg,
                    *wall,
                )
            })
            .collect();
        let baseline_kpis = catalogue(&base.1);
        let mut differences = Vec::new();
        for (s, results, _) in runs.iter().skip(1) {
            let other = catalogue(results);
            let mut kpis = Vec::new();
            for a in &baseline_kpis {
                if !compare.kpis.is_empty() && !compare.kpis.contains(&a.name) {
                    continue;
                }
                let Some(b) = other.iter().find(|b| b.name == a.name) else { continue };
                let (Some(ea), Some(eb), Some(d)) = (a.estimate(), b.estimate(), a.paired(b)) else { continue };
                let ci = d.ci(level).map(|ci| a.kind.clip_difference(ci));
                let relative = (ea.value != 0.0).then(|| d.value / ea.value.abs());
                kpis.push(KpiDifference {
                    kpi: a.name.clone(),
                    kind: a.kind,
                    baseline: ea.value,
                    value: eb.value,
                    difference: d.value,
                    relative,
                    ci,
                    relative_ci: ci
                        .filter(|_| ea.value != 0.0)
                        .map(|[lo, hi]| [lo / ea.value.abs(), hi / ea.value.abs()]),
                    p_value: d.p_value(),
                    significant: None,
                });
            }
            let tested: Vec<usize> = (0..kpis.len()).filter(|&k| kpis[k].p_value.is_some()).collect();
            let p: Vec<f64> = tested.iter().map(|&k| kpis[k].p_value.unwrap_or(1.0)).collect();
            for (&k, rejected) in tested.iter().zip(holm(&p, 1.0 - level)) {
                kpis[k].significant = Some(rejected);
            }
            differences.push(ScenarioDifference { scenario: s.spec.name.clone(), family: tested.len(), kpis });
        }
        Comparison {
            baseline: base.0.spec.name.clone(),
            seed,
            replications: options.replications(base.0),
            confidence: level,
            random_numbers: if compare.independent { "independent" } else { "common" },
            multiple_comparisons: "Holm–Bonferroni over each scenario's family of KPIs tested",
            reports,
            differences,
        }
    }
}

/// The seed of the `i`-th scenario of a comparison: the baseline's, or with independent random
/// numbers one derived from it and `i`.
pub(crate) fn run_seed(seed: u64, i: usize, independent: bool) -> u64 {
    if independent && i > 0 { crate::random::derive(seed, 0x1D_E9E7 + i as u64) } else { seed }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two utilisations far apart give a t interval (one degree of freedom) far wider than
    /// [0, 1]: it is clipped to the range of a fraction, and still contains the mean.
    #[test]
    fn a_fraction_interval_stays_within_zero_and_one() {
        let wide = Figure::of(&[0.1, 0.9], 0.95);
        let [lo, hi] = wide.ci.expect("two values give an interval");
        assert!(lo < 0.0 && hi > 1.0, "the unclipped interval [{lo}, {hi}] reaches past both ends");
        let clipped = Figure::fraction(&[0.1, 0.9], 0.95);
        assert_eq!(clipped.mean, wide.mean);
        assert_eq!(clipped.ci, Some([0.0, 1.0]));
        let narrow = Figure::fraction(&[0.50, 0.51, 0.52], 0.95);
        assert_eq!(narrow.ci, Figure::of(&[0.50, 0.51, 0.52], 0.95).ci, "an interval inside [0, 1] is unchanged");
        assert_eq!(Kind::Share.clip_difference([-1.7, 0.4]), [-1.0, 0.4]);
    }

    /// Queue lengths, WIP and throughput are never negative, and neither is their interval;
    /// with no replication measured the figure is a plain 0, not -0.
    #[test]
    fn a_non_negative_interval_stays_above_zero() {
        let [lo, hi] = Figure::of(&[0.0, 0.0, 3.0], 0.95).ci.expect("an interval");
        assert!(lo < 0.0, "the t interval reaches below 0: [{lo}, {hi}]");
        let clipped = Figure::non_negative(&[0.0, 0.0, 3.0], 0.95);
        assert_eq!(clipped.ci, Some([0.0, hi]));
        assert!(Figure::of(&[], 0.95).mean.is_sign_positive(), "an empty mean prints as 0.0, not -0.0");
    }

    /// Holm's procedure rejects in order of p-value while each is below alpha over the number
    /// of hypotheses left, and stops at the first that is not.
    #[test]
    fn holm_steps_down_and_stops() {
        // m = 4, alpha 0.05: thresholds 0.0125, 0.0167, 0.025, 0.05.
        assert_eq!(holm(&[0.01, 0.04, 0.03, 0.005], 0.05), vec![true, false, false, true]);
        assert_eq!(holm(&[0.012, 0.016, 0.024, 0.049], 0.05), vec![true, true, true, true]);
        // After the first failure (0.02 > 0.05 / 3) the procedure stops: 0.024 stays, though
        // below its own threshold 0.05 / 2.
        assert_eq!(holm(&[0.02, 0.001, 0.024, 0.5], 0.05), vec![false, true, false, false]);
        // 31 tests at p = 0.04, each significant alone at 0.05: none survives as a family.
        assert_eq!(holm(&[0.04; 31], 0.05), vec![false; 31]);
        assert!(holm(&[], 0.05).is_empty());
    }
}
