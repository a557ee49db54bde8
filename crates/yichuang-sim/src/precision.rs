//! Precision-driven stopping: replications are added until the confidence interval of every
//! named KPI is narrow enough, or a cap is reached.
//!
//! The procedure is the sequential one of Law & Kelton (*Simulation Modeling and Analysis*,
//! §9.4.1): after each replication, in replication order, the half-width of each target KPI's
//! interval (at the run's confidence level) is compared with its target — an absolute width in
//! the KPI's own unit, or a share of the estimate — and the run stops at the first replication
//! count that meets them all. It starts from at least [`MIN_REPLICATIONS`] replications: the
//! half-width of fewer is itself too noisy to stop on (stopping early on a lucky narrow interval
//! is what makes such procedures undercover). The decision depends only on the replications
//! folded in order, so it is the same whatever the thread count.

use serde::Serialize;

use crate::kpis::catalogue;
use crate::report::Aggregate;
use crate::{RunOptions, Scenario, SimError};

/// The fewest replications the procedure stops at.
pub const MIN_REPLICATIONS: u32 = 5;

/// The largest half-width a KPI's interval may have.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Width {
    /// In the KPI's unit (minutes, a share as 0–1, …).
    Absolute(f64),
    /// A share of the estimate's absolute value (0.01 for 1 %).
    Relative(f64),
}

impl Width {
    /// Parses `1%` (relative) or `5` (absolute); the error says what is accepted.
    pub fn parse(text: &str) -> Result<Width, String> {
        let trimmed = text.trim();
        let (number, relative) = match trimmed.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (trimmed, false),
        };
        match number.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 && (!relative || x < 100.0) => {
                Ok(if relative { Width::Relative(x / 100.0) } else { Width::Absolute(x) })
            }
            _ => Err(format!(
                "`{text}` is not a precision; give a half-width above 0: relative to the estimate (`1%`, below \
                 100 %) or in the KPI's own unit (`5` minutes; shares as 0–1, e.g. `0.01`)"
            )),
        }
    }

    /// Whether an interval of half-width `half` around `value` meets it.
    fn met(self, half: f64, value: f64) -> bool {
        match self {
            Width::Absolute(w) => half <= w,
            Width::Relative(r) => half <= r * value.abs(),
        }
    }
}

/// What the run must reach.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Each KPI (a [catalogue](crate::kpis) name, resolved) and its target half-width.
    pub kpis: Vec<(String, Width)>,
    /// The most replications to run.
    pub max_replications: u32,
}

/// One KPI's target and where the run left it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetOutcome {
    /// The KPI.
    pub kpi: String,
    /// Its target half-width.
    pub target: Width,
    /// The estimate.
    pub value: Option<f64>,
    /// The half-width of its interval at the last replication (`None`: no interval yet).
    pub half_width: Option<f64>,
    /// Whether it is within the target.
    pub met: bool,
}

/// How precision-driven stopping ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Every target was met (else the cap was reached first).
    pub met: bool,
    /// Replications run.
    pub replications: u32,
    /// The cap.
    pub max_replications: u32,
    /// Each target.
    pub targets: Vec<TargetOutcome>,
}

/// Where `agg`'s KPIs stand against `targets`.
fn judge(agg: &Aggregate, targets: &Targets, level: f64) -> Vec<TargetOutcome> {
    let kpis = catalogue(agg);
    targets
        .kpis
        .iter()
        .map(|(name, target)| {
            let estimate = kpis.iter().find(|k| &k.name == name).and_then(|k| k.estimate());
            let half_width = estimate.and_then(|e| e.half_width(level));
            let value = estimate.map(|e| e.value);
            let met = matches!((half_width, value), (Some(h), Some(v)) if target.met(h, v));
            TargetOutcome { kpi: name.clone(), target: *target, value, half_width, met }
        })
        .collect()
}

/// Runs replications of `scenario` until `targets` are met or their cap is reached, starting
/// from at least [`MIN_REPLICATIONS`] (or the replications asked for, if more).
pub(crate) fn run(
    scenario: &Scenario,
    options: &RunOptions<'_>,
    targets: &Targets,
    each: &mut (dyn FnMut(&crate::RepResult) + Send),
) -> Result<(Aggregate, Outcome), SimError> {
    let level = options.confidence();
    let cap = targets.max_replications.max(1);
    let first = options.replications(scenario).max(MIN_REPLICATIONS).min(cap);
    let capped = RunOptions { replications: Some(cap), ..*options };
    let mut agg = Aggregate::default();
    let ran = crate::for_each_replication_while(scenario, &capped, |r| {
        each(&r);
        agg.add(&r);
        agg.replications < first || !judge(&agg, targets, level).iter().all(|t| t.met)
    })?;
    let judged = judge(&agg, targets, level);
    let met = judged.iter().all(|t| t.met);
    Ok((agg, Outcome { met, replications: ran, max_replications: cap, targets: judged }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!(Width::parse("1%"), Ok(Width::Relative(0.01)));
        assert_eq!(Width::parse(" 2.5 % "), Ok(Width::Relative(0.025)));
        assert_eq!(Width::parse("5"), Ok(Width::Absolute(5.0)));
        for bad in ["0", "-1", "100%", "abc", "", "NaN", "inf"] {
            let error = Width::parse(bad).expect_err(bad);
            assert!(error.contains("relative to the estimate"), "{bad}: {error}");
        }
        assert!(Width::Relative(0.01).met(1.0, 150.0) && !Width::Relative(0.01).met(2.0, 150.0));
        assert!(Width::Absolute(2.0).met(2.0, 1.0) && !Width::Absolute(2.0).met(2.1, 1.0));
    }
}
