//! The KPI catalogue: every figure that `compare` tests, `--precision` watches and an
//! experiment tabulates, by name, with its kind (how it is formatted and bounded) and its
//! estimate from the replications of a run ([`Aggregate`]).
//!
//! A KPI is either a per-case quantity pooled over the replications (its estimate is
//! [`PooledTally::estimate`]: the mean of the replication means, or with one replication the
//! mean of the cases and a batch-means error) or one figure per replication (a percentile,
//! a utilisation, a throughput: the mean over replications and its t error). Names follow the
//! JSON report: `cycle_time_minutes.mean`, `utilisation.intake`; [`resolve`] also accepts
//! them without `_minutes` (`cycle_time.mean`).

use serde::Serialize;

use crate::report::Aggregate;
use crate::stats::{Batches, Estimate, PooledTally, mean_estimate, paired_ratio_error};

/// What a KPI measures, which decides how it is printed and where its interval is clipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Minutes (one decimal; never negative).
    Minutes,
    /// A share of cases or of time, 0–1 (printed as a percentage; clipped to [0, 1]).
    Share,
    /// A count per replication (an integer when whole; never negative).
    Count,
    /// An average count per case, such as trips (two decimals; never negative).
    PerCase,
    /// Cases per day, or cases in the hall (one decimal; never negative).
    Level,
}

impl Kind {
    /// The bounds every value of this kind lies within.
    pub fn bounds(self) -> (f64, f64) {
        match self {
            Kind::Share => (0.0, 1.0),
            _ => (0.0, f64::INFINITY),
        }
    }

    /// Clips an interval of a value of this kind to its bounds (a t interval over few
    /// replications can reach past the values a quantity can take).
    pub fn clip(self, [lo, hi]: [f64; 2]) -> [f64; 2] {
        let (min, max) = self.bounds();
        [lo.clamp(min, max), hi.clamp(min, max)]
    }

    /// A value of this kind as people read it: minutes with one decimal, shares as
    /// percentages, counts as integers (one decimal for a mean count that is not whole), trips
    /// per case with two decimals. Never `-0.0`.
    pub fn format(self, x: f64) -> String {
        match self {
            Kind::Share => format!("{} %", fixed(x * 100.0, 1, false)),
            _ => fixed(x, self.decimals(x), false),
        }
    }

    /// A difference of two values of this kind, with its sign: shares in percentage points.
    pub fn format_difference(self, x: f64) -> String {
        match self {
            Kind::Share => format!("{} pp", fixed(x * 100.0, 1, true)),
            _ => fixed(x, self.decimals(x), true),
        }
    }

    fn decimals(self, x: f64) -> usize {
        match self {
            Kind::Minutes | Kind::Level | Kind::Share => 1,
            Kind::PerCase => 2,
            Kind::Count if (x - x.round()).abs() < 1e-9 => 0,
            Kind::Count => 1,
        }
    }

    /// Clips an interval of a difference of two values of this kind (a difference of shares
    /// lies in [−1, 1]).
    pub fn clip_difference(self, [lo, hi]: [f64; 2]) -> [f64; 2] {
        match self {
            Kind::Share => [lo.clamp(-1.0, 1.0), hi.clamp(-1.0, 1.0)],
            _ => [lo, hi],
        }
    }
}

/// `x` with `decimals` decimals, `+` in front of a positive value when `signed`; a value that
/// rounds to zero is written without a sign (never `-0.0`), and a value that is not finite as
/// `—`.
pub fn fixed(x: f64, decimals: usize, signed: bool) -> String {
    if !x.is_finite() {
        return "—".to_owned();
    }
    let text = format!("{x:.decimals$}");
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        return text.trim_start_matches('-').to_owned();
    }
    if signed && x > 0.0 { format!("+{text}") } else { text }
}

/// A relative difference as a signed percentage with one decimal.
pub fn format_relative(x: f64) -> String {
    format!("{} %", fixed(x * 100.0, 1, true))
}

/// Where a KPI's values come from.
#[derive(Debug, Clone)]
enum Source<'a> {
    /// A per-case quantity pooled over the replications.
    Tally(&'a PooledTally),
    /// One value per replication (`None`: that replication has none).
    PerReplication(Vec<Option<f64>>),
}

/// One KPI of a run.
#[derive(Debug, Clone)]
pub struct Kpi<'a> {
    /// Its name, as in the JSON report.
    pub name: String,
    /// What it measures.
    pub kind: Kind,
    source: Source<'a>,
}

impl Kpi<'_> {
    /// The estimate and its error; `None` when no replication has a value.
    pub fn estimate(&self) -> Option<Estimate> {
        match &self.source {
            Source::Tally(t) => t.estimate(),
            Source::PerReplication(values) => {
                let values: Vec<f64> = values.iter().flatten().copied().collect();
                mean_estimate(&values)
            }
        }
    }

    /// Its value in each replication (`None`: that replication has none): a per-case KPI's
    /// mean of the replication's cases.
    pub fn per_replication(&self) -> Vec<Option<f64>> {
        match &self.source {
            Source::Tally(t) => t.replication_means().collect(),
            Source::PerReplication(values) => values.clone(),
        }
    }

    /// The paired difference `other − self` and its error: with several replications the
    /// mean of the differences of replication *i*'s values (pairs where either has none are
    /// left out) and its t error; with one replication, a per-case mean's difference with the
    /// error over batches of cases with the same arrival numbers, a per-replication figure's
    /// difference with no error. `None` when either run has no value.
    pub fn paired(&self, other: &Kpi<'_>) -> Option<Estimate> {
        match (&self.source, &other.source) {
            (Source::Tally(a), Source::Tally(b)) => paired_tally(a, b),
            (Source::PerReplication(a), Source::PerReplication(b)) if a.len() >= 2 && a.len() == b.len() => {
                let diffs: Vec<f64> = a.iter().zip(b).filter_map(|(x, y)| Some((*y)? - (*x)?)).collect();
                mean_estimate(&diffs)
            }
            _ => {
                let (a, b) = (self.estimate()?, other.estimate()?);
                Some(Estimate { value: b.value - a.value, error: None })
            }
        }
    }
}

/// Paired difference of a per-case mean between two runs ([`Kpi::paired`]).
fn paired_tally(a: &PooledTally, b: &PooledTally) -> Option<Estimate> {
    if a.replications.len() >= 2 && a.replications.len() == b.replications.len() {
        let diffs: Vec<f64> =
            a.replication_means().zip(b.replication_means()).filter_map(|(x, y)| Some(y? - x?)).collect();
        return mean_estimate(&diffs);
    }
    let (ma, mb) = (a.estimate()?.value, b.estimate()?.value);
    let error = match (&a.first_batches, &b.first_batches) {
        (Some(x), Some(y)) => {
            let (mut bx, mut by): (Batches, Batches) = (x.clone(), y.clone());
            let shift = bx.shift().max(by.shift());
            bx.coarsen_to(shift);
            by.coarsen_to(shift);
            paired_ratio_error(bx.sums(), by.sums(), (ma, mb))
        }
        _ => None,
    };
    Some(Estimate { value: mb - ma, error })
}

/// Every KPI of a run, in a fixed order: the hall's, then each station's utilisation.
pub fn catalogue(agg: &Aggregate) -> Vec<Kpi<'_>> {
    let tally = |name: &str, kind: Kind, t| Kpi { name: name.to_owned(), kind, source: Source::Tally(t) };
    let per_rep = |name: String, kind: Kind, v: Vec<Option<f64>>| Kpi { name, kind, source: Source::PerReplication(v) };
    let mut kpis = vec![
        tally("cycle_time_minutes.mean", Kind::Minutes, &agg.cycle),
        per_rep("cycle_time_minutes.p95".into(), Kind::Minutes, agg.cycle_p95.clone()),
        tally("working_cycle_time_minutes.mean", Kind::Minutes, &agg.cycle_working),
        tally("on_time_rate", Kind::Share, &agg.on_time),
        tally("waiting_minutes.queue.mean", Kind::Minutes, &agg.queue),
        tally("waiting_minutes.join.mean", Kind::Minutes, &agg.join),
        tally("waiting_minutes.materials.mean", Kind::Minutes, &agg.materials),
        tally("waiting_minutes.special_procedure.mean", Kind::Minutes, &agg.special),
        tally("waiting_minutes.service.mean", Kind::Minutes, &agg.service),
        tally("trips.mean", Kind::PerCase, &agg.trips),
        per_rep("throughput_per_day".into(), Kind::Level, agg.throughput.clone()),
        per_rep("wip.mean".into(), Kind::Level, agg.wip_mean.iter().copied().map(Some).collect()),
        per_rep("ratings.bad_rate".into(), Kind::Share, agg.bad_rate.clone()),
    ];
    for (name, who) in [("sla.case_overdue", 0), ("sla.task_overdue", 1)] {
        let values = agg.sla_overdue.iter().map(|r| Some(r[who] as f64)).collect();
        kpis.push(per_rep(name.to_owned(), Kind::Count, values));
    }
    if agg.applicants_leave {
        kpis.push(per_rep("applicants_lost.share".into(), Kind::Share, agg.lost_share.clone()));
        kpis.push(per_rep(
            "applicants_lost.failed_trips_per_case".into(),
            Kind::PerCase,
            agg.failed_trips_per_case.clone(),
        ));
    }
    for st in &agg.stations {
        let values = st.utilisation.iter().copied().map(Some).collect();
        kpis.push(per_rep(format!("utilisation.{}", st.name), Kind::Share, values));
    }
    kpis
}

/// The names of the catalogue's KPIs for a run of `scenario` (before it runs).
pub fn names(scenario: &crate::Scenario) -> Vec<String> {
    let stations = scenario
        .station_names()
        .into_iter()
        .map(|name| crate::report::PooledStation { name, ..crate::report::PooledStation::default() })
        .collect();
    let agg = Aggregate { stations, ..Aggregate::default() };
    catalogue(&agg).into_iter().map(|k| k.name).collect()
}

/// A KPI's name for people, in Chinese and in English (`utilisation.intake` gives
/// `利用率 intake` and `Utilisation, intake`).
pub fn label(name: &str) -> (String, String) {
    let fixed: &[(&str, &str, &str)] = &[
        ("cycle_time_minutes.mean", "平均办件周期", "Mean cycle time"),
        ("cycle_time_minutes.p95", "办件周期 P95", "Cycle time, 95th percentile"),
        ("working_cycle_time_minutes.mean", "平均办件周期 (工作时间)", "Mean cycle time, working time"),
        ("on_time_rate", "按时办结率", "On-time rate"),
        ("waiting_minutes.queue.mean", "平均排队等候", "Mean queue wait"),
        ("waiting_minutes.join.mean", "平均并联汇合等待", "Mean join wait"),
        ("waiting_minutes.materials.mean", "平均材料等待", "Mean wait for materials"),
        ("waiting_minutes.special_procedure.mean", "平均特别程序时间", "Mean special procedures"),
        ("waiting_minutes.service.mean", "平均办理时间", "Mean service"),
        ("trips.mean", "平均跑动次数", "Trips per case"),
        ("throughput_per_day", "日办结量", "Cases completed per day"),
        ("wip.mean", "平均在办件数", "Cases in the hall"),
        ("ratings.bad_rate", "差评率", "Bad-rating rate"),
        ("sla.case_overdue", "逾期办件数", "Overdue cases"),
        ("sla.task_overdue", "逾期审批任务数", "Overdue tasks"),
        ("applicants_lost.share", "放弃办理率", "Applicants lost"),
        ("applicants_lost.failed_trips_per_case", "无效跑动 (每件)", "Failed trips per case"),
    ];
    if let Some((_, zh, en)) = fixed.iter().find(|(n, _, _)| *n == name) {
        return ((*zh).to_owned(), (*en).to_owned());
    }
    match name.split_once('.') {
        Some(("utilisation", station)) => (format!("利用率 {station}"), format!("Utilisation, {station}")),
        _ => (name.to_owned(), name.to_owned()),
    }
}

/// The catalogue name `name` stands for: itself, or the same with `_minutes` after its first
/// part (`cycle_time.mean` for `cycle_time_minutes.mean`). The error lists the names there are.
pub fn resolve(name: &str, names: &[String]) -> Result<String, String> {
    if names.iter().any(|n| n == name) {
        return Ok(name.to_owned());
    }
    let (head, tail) = name.split_once('.').unwrap_or((name, ""));
    let long = if tail.is_empty() { format!("{head}_minutes") } else { format!("{head}_minutes.{tail}") };
    if names.contains(&long) {
        return Ok(long);
    }
    Err(format!("unknown KPI `{name}`; use one of: {}", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_formatted_by_kind_and_never_minus_zero() {
        assert_eq!(Kind::Minutes.format(188.46), "188.5");
        assert_eq!(Kind::Minutes.format_difference(-0.04), "0.0");
        assert_eq!(Kind::Minutes.format_difference(-0.0), "0.0");
        assert_eq!(Kind::Minutes.format_difference(-3.26), "-3.3");
        assert_eq!(Kind::Minutes.format_difference(3.26), "+3.3");
        assert_eq!(Kind::Share.format(0.9634), "96.3 %");
        assert_eq!(Kind::Share.format_difference(-0.0123), "-1.2 pp");
        assert_eq!(Kind::Share.format_difference(-0.00001), "0.0 pp");
        assert_eq!(Kind::Count.format(12.0), "12");
        assert_eq!(Kind::Count.format(12.4), "12.4");
        assert_eq!(Kind::Count.format_difference(-2.0), "-2");
        assert_eq!(Kind::PerCase.format(1.153), "1.15");
        assert_eq!(format_relative(-0.0321), "-3.2 %");
        assert_eq!(format_relative(0.0), "0.0 %");
        assert_eq!(fixed(f64::NAN, 1, true), "—");
    }

    #[test]
    fn names_resolve_with_or_without_minutes() {
        let names: Vec<String> =
            ["cycle_time_minutes.mean", "on_time_rate", "utilisation.intake"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(resolve("cycle_time.mean", &names).as_deref(), Ok("cycle_time_minutes.mean"));
        assert_eq!(resolve("cycle_time_minutes.mean", &names).as_deref(), Ok("cycle_time_minutes.mean"));
        assert_eq!(resolve("utilisation.intake", &names).as_deref(), Ok("utilisation.intake"));
        let error = resolve("cycle.mean", &names).expect_err("unknown");
        assert!(error.contains("cycle.mean") && error.contains("on_time_rate"), "{error}");
    }
}
