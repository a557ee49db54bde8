//! Automatic warm-up (`warm_up: Auto`): the length of the initial transient, found by MSER-5
//! on a pilot run.
//!
//! A hall that opens empty is not yet in its long-run state: queues fill and work in progress
//! rises before it settles, and cases measured then bias the means. MSER (the Marginal Standard
//! Error Rule, White 1997; MSER-5 batches the series by five, Franklin & White 2008) picks the
//! truncation point `d` that minimises the squared standard error of the mean of what is left,
//! `Σ_{j ≥ d} (b_j − b̄_d)² / (n − d)²` over the batch means `b_j`: cutting a transient lowers
//! the spread faster than it shortens the series.
//!
//! The series is the work in progress (cases in the hall) of a pilot — the scenario's first
//! (at most five) replications without warm-up, on the same random numbers — until the last
//! arrival (a `Cases` stop drains the hall after it), averaged over the pilot's replications
//! at each sample time. In an office-hours hall the samples are first
//! averaged per calendar day (the daily cycle of opening and closing would otherwise dominate
//! the spread) and MSER works on those daily means, one per batch. The truncation point is
//! searched in the first half of the series only; a minimum at the half's end means the series
//! never settled and no warm-up is detected (the run is too short, or not steady). The scenario
//! is then measured with `warm_up: Days(d)`, its warm-up reported and shaded on the charts.

use serde::Serialize;

use crate::scenario::{Hall, WarmUp};
use crate::{RunOptions, Scenario, SimError};

/// Replications of the pilot, at most.
pub const PILOT_REPLICATIONS: u32 = 5;
/// Samples per batch in MSER-5.
pub const BATCH: usize = 5;

/// The warm-up found for a scenario, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarmUpReport {
    /// How it was found.
    pub method: &'static str,
    /// Replications of the pilot run.
    pub pilot_replications: u32,
    /// Whether a truncation point was found in the first half of the series.
    pub detected: bool,
    /// The warm-up, calendar minutes from the start (0 when none was detected).
    pub minutes: f64,
    /// Batch means the rule saw.
    pub batches: usize,
}

/// A detected warm-up.
#[derive(Debug, Clone)]
pub struct Detection {
    /// What the report says of it.
    pub report: WarmUpReport,
}

impl Detection {
    /// `scenario` measured after the detected warm-up (none when none was detected).
    pub fn scenario(&self, scenario: &Scenario) -> Scenario {
        let mut measured = scenario.clone();
        measured.spec.warm_up =
            if self.report.minutes > 0.0 { WarmUp::Days(self.report.minutes / 1440.0) } else { WarmUp::None };
        measured
    }
}

/// The truncation point of `values` by MSER with batches of `batch` values: the index of the
/// first value kept (a multiple of `batch`), searched over the first half of the batches.
/// `None` when there are fewer than four batches, or when the minimum lies at the end of the
/// first half (the series has not settled).
pub fn mser(values: &[f64], batch: usize) -> Option<usize> {
    let batch = batch.max(1);
    let n = values.len() / batch;
    if n < 4 {
        return None;
    }
    let means: Vec<f64> = values.chunks_exact(batch).take(n).map(|c| c.iter().sum::<f64>() / batch as f64).collect();
    let half = n / 2;
    let mut best = (0, f64::INFINITY);
    for d in 0..=half {
        let rest = &means[d..];
        let mean = rest.iter().sum::<f64>() / rest.len() as f64;
        let squares: f64 = rest.iter().map(|b| (b - mean).powi(2)).sum();
        let score = squares / (rest.len() as f64).powi(2);
        if score < best.1 {
            best = (d, score);
        }
    }
    (best.0 < half).then_some(best.0 * batch)
}

/// Runs the pilot of `scenario` and detects its warm-up.
pub(crate) fn detect(scenario: &Scenario, options: &RunOptions<'_>) -> Result<Detection, SimError> {
    let pilot = options.replications(scenario).min(PILOT_REPLICATIONS);
    let mut base = scenario.clone();
    base.spec.warm_up = WarmUp::None;
    let pilot_options = RunOptions { replications: Some(pilot), precision: None, rows: false, ..*options };
    let mut series: Vec<(f64, Vec<f64>, Vec<f64>)> = Vec::new();
    crate::for_each_replication(&base, &pilot_options, |r| {
        // After the last arrival of a `Cases` stop the hall drains: not the state to settle in.
        let end = r.series.arrivals_end.unwrap_or(f64::INFINITY);
        let kept = r.series.t.iter().take_while(|&&t| t <= end).count();
        let (mut t, mut w) = (r.series.t, r.series.wip);
        t.truncate(kept);
        w.truncate(kept);
        series.push((r.series.every, t, w));
    })?;
    // Replications that ran longer thinned their samples more often: bring every one to the
    // coarsest interval (the intervals double, so each is a whole step of the finer ones).
    let every = series.iter().map(|s| s.0).fold(0.0, f64::max);
    let aligned: Vec<(Vec<f64>, Vec<f64>)> = series
        .into_iter()
        .map(|(e, t, w)| {
            let step = if e > 0.0 { (every / e).round().max(1.0) as usize } else { 1 };
            (t.into_iter().step_by(step).collect(), w.into_iter().step_by(step).collect())
        })
        .collect();
    let len = aligned.iter().map(|(t, _)| t.len()).min().unwrap_or(0);
    let times: Vec<f64> = aligned.first().map(|(t, _)| t[..len].to_vec()).unwrap_or_default();
    let wip: Vec<f64> =
        (0..len).map(|i| aligned.iter().map(|(_, w)| w[i]).sum::<f64>() / aligned.len() as f64).collect();
    let office_hours = scenario.spec.hall == Hall::OfficeHours;
    let (method, values, batch) = if office_hours {
        ("MSER on daily means of work in progress", daily_means(&times, &wip), 1)
    } else {
        ("MSER-5 on work in progress", wip, BATCH)
    };
    // Where the series' `i`-th value starts: a day, or a sample's time.
    let start_of = |i: usize| if office_hours { i as f64 * 1440.0 } else { times.get(i).copied().unwrap_or(0.0) };
    let cut = mser(&values, batch);
    Ok(Detection {
        report: WarmUpReport {
            method,
            pilot_replications: pilot,
            detected: cut.is_some(),
            minutes: cut.map_or(0.0, start_of),
            batches: values.len() / batch,
        },
    })
}

/// The mean of the samples of each calendar day after the start (a day's samples being those
/// at 1440·k ≤ t < 1440·(k + 1)); the last day, which may be partial, is left out.
fn daily_means(times: &[f64], values: &[f64]) -> Vec<f64> {
    let mut days: Vec<(f64, usize)> = Vec::new();
    for (t, v) in times.iter().zip(values) {
        let day = (t / 1440.0).floor().max(0.0) as usize;
        if day >= days.len() {
            days.resize(day + 1, (0.0, 0));
        }
        days[day].0 += v;
        days[day].1 += 1;
    }
    days.pop();
    days.into_iter().filter(|d| d.1 > 0).map(|(s, n)| s / n as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A series that starts low and settles: MSER cuts at the end of the ramp, within a batch
    /// or two; a series that is flat from the start is not cut; one that keeps rising never
    /// settles, and no cut is found.
    #[test]
    fn mser_cuts_the_transient_and_only_it() {
        let mut rng = crate::random::Stream::new(11);
        let noise = |rng: &mut crate::random::Stream| rng.uniform() - 0.5;
        let ramp: Vec<f64> = (0..500).map(|i| if i < 100 { i as f64 * 0.1 } else { 10.0 } + noise(&mut rng)).collect();
        let cut = mser(&ramp, BATCH).expect("the ramp settles");
        assert!((85..=110).contains(&cut), "cut at {cut}, the ramp ends at 100");
        let flat: Vec<f64> = (0..500).map(|_| 10.0 + noise(&mut rng)).collect();
        assert!(mser(&flat, BATCH).is_some_and(|c| c <= 100), "{:?}", mser(&flat, BATCH));
        let rising: Vec<f64> = (0..500).map(|i| i as f64 * 0.1 + noise(&mut rng)).collect();
        assert_eq!(mser(&rising, BATCH), None, "a queue that keeps growing has no warm-up");
        assert_eq!(mser(&[1.0; 15], BATCH), None, "three batches are too few");
    }

    #[test]
    fn daily_means_average_each_whole_day() {
        let times: Vec<f64> = (0..10).map(|i| f64::from(i) * 720.0).collect(); // two samples a day
        let values: Vec<f64> = (0..10).map(f64::from).collect();
        // Days 0 to 3 have two samples each; day 4, the last, is left out.
        assert_eq!(daily_means(&times, &values), vec![0.5, 2.5, 4.5, 6.5]);
    }
}
