//! Experiments (仿真实验): a scenario run at every point of a grid of factors — intake windows
//! 10 to 16, reviewers of a department, the arrival rate, a service time, the share missing a
//! material, a policy switch — with common random numbers across the points, each point with
//! every KPI of the [catalogue](crate::kpis) and its interval.
//!
//! A factor is written `PATH=VALUES` (on the command line, `--sweep`, or in an experiment
//! file): the path names what it sets, the values are a list (`10,12,14`, `true,false`,
//! `Parallel,Serial`) or an inclusive range (`10..16`, step 1; `0.8..1.2:0.1`). Paths:
//!
//! | path | sets |
//! |---|---|
//! | `windows.CLASS` | windows of a class (`Consult`, `Intake`, `Delivery`) |
//! | `reviewers.DEPARTMENT` | reviewers of a department |
//! | `arrivals.scale` | every arrival stream's rate, times the value (a trace cannot be scaled) |
//! | `service.CLASS.mean` | the service time of a window class, scaled to this mean (its shape kept) |
//! | `review.ITEM.mean` | the review time of an item, scaled to this mean |
//! | `missing.MATERIAL` | the probability that the material is missing, in every stream that lists it |
//! | `policy.tolerance` | 容缺 on or off (`true`, `false`) |
//! | `policy.approval` | `Parallel` or `Serial` |
//! | `policy.green_channel_priority` | `true`, `false` |
//!
//! Every point runs with the base scenario's seed, so case *k* draws the same random numbers at
//! every point (common random numbers: the differences between points are the factors', not
//! the noise's). Points run in parallel, each deterministic, so the results do not depend on
//! the thread count. A point the rules refuse (a window count of 0, say) is reported with every
//! problem of its scenario before anything runs.

use std::fmt;

use serde::{Deserialize, Serialize};
use yichuang_core::definition::WindowClass;

use crate::kpis::{Kind, catalogue};
use crate::report::Report;
use crate::scenario::{Approval, Rate, ScenarioError, ScenarioSpec};
use crate::{RunOptions, Scenario, SimError};

/// Most points an experiment may have.
pub const MAX_POINTS: usize = 10_000;

/// What a factor sets.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// Windows of a class.
    Windows(WindowClass),
    /// Reviewers of a department.
    Reviewers(String),
    /// Every stream's arrival rate, times the value.
    ArrivalScale,
    /// The mean service time of a window class.
    ServiceMean(WindowClass),
    /// The mean review time of an item.
    ReviewMean(String),
    /// The probability that a material is missing.
    Missing(String),
    /// 容缺 on or off.
    Tolerance,
    /// Parallel or serial approval.
    Approval,
    /// Green-channel priority.
    GreenPriority,
}

/// One value of a factor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A number.
    Number(f64),
    /// A switch.
    Switch(bool),
    /// An approval mode.
    Approval(#[serde(serialize_with = "approval_text")] Approval),
}

fn approval_text<S: serde::Serializer>(a: &Approval, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match a {
        Approval::Parallel => "Parallel",
        Approval::Serial => "Serial",
    })
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(x) => write!(f, "{x}"),
            Value::Switch(b) => write!(f, "{b}"),
            Value::Approval(Approval::Parallel) => f.write_str("Parallel"),
            Value::Approval(Approval::Serial) => f.write_str("Serial"),
        }
    }
}

impl Value {
    /// The value as a number for a chart's axis (a switch is 0 or 1).
    pub fn as_number(self) -> f64 {
        match self {
            Value::Number(x) => x,
            Value::Switch(b) => f64::from(u8::from(b)),
            Value::Approval(a) => f64::from(u8::from(a == Approval::Serial)),
        }
    }
}

/// A factor: what it sets and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// The path as written, e.g. `windows.Intake`.
    pub name: String,
    /// What it sets.
    pub setting: Setting,
    /// Its values, in the order given.
    pub values: Vec<Value>,
}

/// Why a factor could not be read.
fn factor_error(text: &str, why: impl fmt::Display) -> String {
    format!(
        "factor `{text}`: {why}; write PATH=VALUES, e.g. windows.Intake=10..16, reviewers.dept-b=60,66,72, \
         arrivals.scale=0.9..1.1:0.1, service.Intake.mean=10,12, review.b.mean=50,60, missing.e-doc=0,0.15,0.3, \
         policy.tolerance=true,false, policy.approval=Parallel,Serial (docs/simulation.md, Experiments)"
    )
}

fn class(text: &str) -> Option<WindowClass> {
    match text.to_ascii_lowercase().as_str() {
        "consult" => Some(WindowClass::Consult),
        "intake" => Some(WindowClass::Intake),
        "delivery" => Some(WindowClass::Delivery),
        _ => None,
    }
}

impl Factor {
    /// Reads `PATH=VALUES`; the error says what was wrong and what is accepted.
    pub fn parse(text: &str) -> Result<Factor, String> {
        let (path, values) = text.split_once('=').ok_or_else(|| factor_error(text, "no `=`"))?;
        let (path, values) = (path.trim(), values.trim());
        let parts: Vec<&str> = path.split('.').collect();
        let setting = match parts.as_slice() {
            ["windows", c] => Setting::Windows(class(c).ok_or_else(|| {
                factor_error(text, format!("no window class `{c}`; use Consult, Intake or Delivery"))
            })?),
            ["reviewers", d] if !d.is_empty() => Setting::Reviewers((*d).to_owned()),
            ["arrivals", "scale"] => Setting::ArrivalScale,
            ["service", c, "mean"] => Setting::ServiceMean(class(c).ok_or_else(|| {
                factor_error(text, format!("no window class `{c}`; use Consult, Intake or Delivery"))
            })?),
            ["review", item, "mean"] if !item.is_empty() => Setting::ReviewMean((*item).to_owned()),
            ["missing", m] if !m.is_empty() => Setting::Missing((*m).to_owned()),
            ["policy", "tolerance"] => Setting::Tolerance,
            ["policy", "approval"] => Setting::Approval,
            ["policy", "green_channel_priority"] => Setting::GreenPriority,
            _ => return Err(factor_error(text, format!("unknown path `{path}`"))),
        };
        let values = match setting {
            Setting::Tolerance | Setting::GreenPriority => values
                .split(',')
                .map(|v| match v.trim() {
                    "true" => Ok(Value::Switch(true)),
                    "false" => Ok(Value::Switch(false)),
                    other => Err(factor_error(text, format!("`{other}` is not true or false"))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Setting::Approval => values
                .split(',')
                .map(|v| match v.trim() {
                    "Parallel" => Ok(Value::Approval(Approval::Parallel)),
                    "Serial" => Ok(Value::Approval(Approval::Serial)),
                    other => Err(factor_error(text, format!("`{other}` is not Parallel or Serial"))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => numbers(values).map_err(|why| factor_error(text, why))?.into_iter().map(Value::Number).collect(),
        };
        if values.is_empty() {
            return Err(factor_error(text, "no values"));
        }
        let integer = matches!(setting, Setting::Windows(_) | Setting::Reviewers(_));
        for v in &values {
            if let Value::Number(x) = v {
                let ok = match setting {
                    _ if integer => *x >= 1.0 && x.fract() == 0.0 && *x <= 100_000.0,
                    Setting::Missing(_) => (0.0..=1.0).contains(x),
                    _ => *x > 0.0,
                };
                if !ok {
                    let accepted = if integer {
                        "whole numbers from 1 to 100000"
                    } else if matches!(setting, Setting::Missing(_)) {
                        "probabilities from 0 to 1"
                    } else {
                        "numbers above 0"
                    };
                    return Err(factor_error(text, format!("{x} is not accepted here: give {accepted}")));
                }
            }
        }
        Ok(Factor { name: path.to_owned(), setting, values })
    }

    /// Sets this factor to `value` in `spec`; the error says why it cannot be.
    fn apply(&self, spec: &mut ScenarioSpec, value: Value) -> Result<(), String> {
        let number = value.as_number();
        let missing = |what: &str| format!("factor `{}`: the scenario has no {what}", self.name);
        match (&self.setting, value) {
            (Setting::Windows(c), _) => {
                let w = spec
                    .windows
                    .iter_mut()
                    .find(|w| w.class == *c)
                    .ok_or_else(|| missing(&format!("{c:?} windows")))?;
                w.count = number as u32;
            }
            (Setting::Reviewers(d), _) => {
                let r = spec
                    .reviewers
                    .iter_mut()
                    .find(|r| r.department == *d)
                    .ok_or_else(|| missing(&format!("reviewers of department `{d}`")))?;
                r.count = number as u32;
            }
            (Setting::ArrivalScale, _) => {
                for a in &mut spec.arrivals {
                    match &mut a.rate {
                        Rate::PerHour(r) => *r *= number,
                        Rate::Hourly { per_hour, .. } => per_hour.iter_mut().for_each(|r| *r *= number),
                        Rate::Trace(_) => {
                            return Err(format!(
                                "factor `{}`: a stream arriving by a trace cannot be scaled",
                                self.name
                            ));
                        }
                    }
                }
            }
            (Setting::ServiceMean(c), _) => {
                let w = spec
                    .windows
                    .iter_mut()
                    .find(|w| w.class == *c)
                    .ok_or_else(|| missing(&format!("{c:?} windows")))?;
                w.service = w.service.scaled(number / w.service.mean());
            }
            (Setting::ReviewMean(item), _) => {
                let r = spec
                    .reviews
                    .iter_mut()
                    .find(|r| r.item == *item)
                    .ok_or_else(|| missing(&format!("review of item `{item}`")))?;
                r.time = r.time.scaled(number / r.time.mean());
            }
            (Setting::Missing(m), _) => {
                let mut found = false;
                for a in &mut spec.arrivals {
                    for x in a.missing.iter_mut().filter(|x| x.material == *m) {
                        x.probability = number;
                        found = true;
                    }
                }
                if !found {
                    return Err(missing(&format!("stream listing material `{m}` as missing")));
                }
            }
            (Setting::Tolerance, Value::Switch(b)) => spec.policy.tolerance = b,
            (Setting::GreenPriority, Value::Switch(b)) => spec.policy.green_channel_priority = b,
            (Setting::Approval, Value::Approval(a)) => spec.policy.approval = a,
            _ => return Err(format!("factor `{}`: value {value} does not fit", self.name)),
        }
        Ok(())
    }
}

/// The numbers of `a..b` (step 1), `a..b:step` (inclusive, the last within a millionth of a
/// step of `b`), or a comma-separated list.
fn numbers(text: &str) -> Result<Vec<f64>, String> {
    let parse = |s: &str| {
        s.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or(format!("`{}` is not a number", s.trim()))
    };
    if let Some((from, rest)) = text.split_once("..") {
        let (to, step) = match rest.split_once(':') {
            Some((to, step)) => (parse(to)?, parse(step)?),
            None => (parse(rest)?, 1.0),
        };
        let from = parse(from)?;
        if step <= 0.0 || to < from {
            return Err(format!("`{text}`: a range runs upwards by a step above 0"));
        }
        let count = ((to - from) / step + 1e-6).floor() as usize + 1;
        if count > MAX_POINTS {
            return Err(format!("`{text}` has {count} values; at most {MAX_POINTS}"));
        }
        // Multiplied, not accumulated, so that 0.1 steps land on 0.3, not 0.30000000000000004.
        return Ok((0..count).map(|i| ((from + i as f64 * step) * 1e9).round() / 1e9).collect());
    }
    text.split(',').map(parse).collect()
}

/// How the points are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum Design {
    /// Every combination of the factors' values.
    #[default]
    Grid,
    /// One factor at a time, the others at their first value.
    OneAtATime,
}

/// An experiment file (RON), as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// The scenario, relative to the experiment file.
    pub scenario: String,
    /// The factors, `PATH=VALUES` each.
    pub factors: Vec<String>,
    /// How the points are chosen.
    #[serde(default)]
    pub design: Design,
    /// Replications of every point (default: the scenario's).
    #[serde(default)]
    pub replications: Option<u32>,
    /// KPIs for the table and the chart, the first charted (default: cycle time, on-time
    /// rate, queue wait).
    #[serde(default)]
    pub kpis: Vec<String>,
}

impl ExperimentSpec {
    /// Reads an experiment file; the error names the file, the place and what the format is.
    pub fn load(path: &std::path::Path) -> Result<ExperimentSpec, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read experiment `{}`: {e}", path.display()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
            .map_err(|e| {
                format!(
                    "{}:{}:{}: {}\n  help: an experiment is (scenario: \"…ron\", factors: [\"PATH=VALUES\", …], \
                     design: Grid | OneAtATime, replications: N, kpis: [\"…\"]); docs/simulation.md, Experiments",
                    path.display(),
                    e.span.start.line,
                    e.span.start.col,
                    e.code
                )
            })
    }
}

/// One point of an experiment: its factor values and its scenario.
#[derive(Debug, Clone)]
pub struct Point {
    /// Each factor's value at this point, in factor order.
    pub values: Vec<Value>,
    /// The scenario with them set.
    pub scenario: Scenario,
}

/// The points of `factors` over `base` by `design`, each scenario validated; every problem of
/// every point at once.
pub fn points(base: &Scenario, factors: &[Factor], design: Design) -> Result<Vec<Point>, String> {
    let combinations: Vec<Vec<Value>> = match design {
        Design::Grid => {
            let total = factors.iter().try_fold(1usize, |n, f| n.checked_mul(f.values.len())).unwrap_or(usize::MAX);
            if total > MAX_POINTS {
                return Err(format!("the grid has {total} points; at most {MAX_POINTS}: give fewer values"));
            }
            let mut all = vec![Vec::new()];
            for f in factors {
                all = all
                    .into_iter()
                    .flat_map(|prefix| f.values.iter().map(move |v| [prefix.clone(), vec![*v]].concat()))
                    .collect();
            }
            all
        }
        Design::OneAtATime => {
            let first: Vec<Value> = factors.iter().map(|f| f.values[0]).collect();
            let mut all = vec![first.clone()];
            for (i, f) in factors.iter().enumerate() {
                for v in &f.values[1..] {
                    let mut p = first.clone();
                    p[i] = *v;
                    all.push(p);
                }
            }
            all
        }
    };
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for values in combinations {
        let mut spec = base.spec.clone();
        let mut ok = true;
        for (f, v) in factors.iter().zip(&values) {
            if let Err(e) = f.apply(&mut spec, *v) {
                problems.push(e);
                ok = false;
            }
        }
        if !ok {
            continue;
        }
        let label = point_label(factors, &values);
        spec.name = format!("{} [{label}]", base.spec.name);
        match base.with_spec(spec) {
            Ok(scenario) => out.push(Point { values, scenario }),
            Err(ScenarioError::Invalid { problems: p, .. }) => {
                problems.extend(p.into_iter().map(|p| format!("point {label}: `{}`: {}", p.field, p.message)))
            }
            Err(other) => problems.push(format!("point {label}: {other}")),
        }
    }
    problems.dedup();
    if problems.is_empty() { Ok(out) } else { Err(problems.join("\n")) }
}

/// `windows.Intake=12, policy.tolerance=true`.
fn point_label(factors: &[Factor], values: &[Value]) -> String {
    factors.iter().zip(values).map(|(f, v)| format!("{}={v}", f.name)).collect::<Vec<_>>().join(", ")
}

/// One KPI at one point.
#[derive(Debug, Clone, Serialize)]
pub struct PointKpi {
    /// Catalogue name.
    pub kpi: String,
    /// What it measures.
    pub kind: Kind,
    /// The estimate.
    pub value: f64,
    /// Its confidence interval, clipped to the values the KPI can take.
    pub ci: Option<[f64; 2]>,
}

/// One point's results.
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    /// Each factor's value, in factor order.
    pub values: Vec<Value>,
    /// Every KPI of the catalogue with its interval.
    pub kpis: Vec<PointKpi>,
    /// The point's full report.
    pub report: Report,
}

/// The results of an experiment.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentReport {
    /// The base scenario.
    pub scenario: String,
    /// The factors' paths, in order.
    pub factors: Vec<String>,
    /// How the points were chosen.
    pub design: Design,
    /// The seed of every point (common random numbers).
    pub seed: u64,
    /// Confidence level of every interval.
    pub confidence: f64,
    /// Every point, in design order.
    pub points: Vec<PointResult>,
}

/// Runs every point with the base scenario's seed. Points run in parallel, one thread each,
/// when there are at least as many as threads; otherwise one after another, each with its
/// replications in parallel. Either way each point's results are those of a single thread.
pub fn run(
    base: &Scenario,
    points: &[Point],
    factors: &[Factor],
    design: Design,
    options: &RunOptions<'_>,
) -> Result<ExperimentReport, SimError> {
    let seed = options.seed(base);
    let level = options.confidence();
    let threads = options.threads(u32::try_from(points.len()).unwrap_or(u32::MAX).max(options.replications(base)));
    let options = RunOptions { seed: Some(seed), ..*options };
    for p in points {
        options.check(&p.scenario)?;
    }
    let run_point = |p: &Point, threads: usize| {
        crate::simulate_keeping(&p.scenario, &RunOptions { threads, ..options }).map(|(report, agg)| {
            let kpis = catalogue(&agg)
                .into_iter()
                .filter_map(|k| {
                    k.estimate().map(|e| PointKpi {
                        kpi: k.name.clone(),
                        kind: k.kind,
                        value: e.value,
                        ci: e.ci(level).map(|ci| k.kind.clip(ci)),
                    })
                })
                .collect();
            PointResult { values: p.values.clone(), kpis, report }
        })
    };
    let results: Vec<Result<PointResult, SimError>> = if points.len() >= threads && threads > 1 {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<std::sync::Mutex<Option<Result<PointResult, SimError>>>> =
            points.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = points.get(i) else { break };
                        let r = run_point(p, 1);
                        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                    }
                });
            }
        });
        slots
            .into_iter()
            .map(|s| {
                s.into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .unwrap_or_else(|| Err(SimError::Worker("a point did not run".into())))
            })
            .collect()
    } else {
        points.iter().map(|p| run_point(p, options.threads)).collect()
    };
    let points = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(ExperimentReport {
        scenario: base.spec.name.clone(),
        factors: factors.iter().map(|f| f.name.clone()).collect(),
        design,
        seed,
        confidence: level,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_parse_and_refuse_with_what_is_accepted() {
        let f = Factor::parse("windows.Intake=10..16").expect("a range");
        assert_eq!(f.setting, Setting::Windows(WindowClass::Intake));
        assert_eq!(f.values.len(), 7);
        assert_eq!(f.values[0], Value::Number(10.0));
        let f = Factor::parse("arrivals.scale=0.8..1.2:0.1").expect("a stepped range");
        let v: Vec<f64> = f.values.iter().map(|v| v.as_number()).collect();
        assert_eq!(v, vec![0.8, 0.9, 1.0, 1.1, 1.2]);
        let f = Factor::parse("policy.approval=Parallel,Serial").expect("a switch list");
        assert_eq!(f.values, vec![Value::Approval(Approval::Parallel), Value::Approval(Approval::Serial)]);
        for (bad, says) in [
            ("windows.Intake", "no `=`"),
            ("windows.Lobby=3", "no window class `Lobby`"),
            ("windows.Intake=0..3", "whole numbers from 1"),
            ("windows.Intake=2.5", "whole numbers from 1"),
            ("missing.e-doc=1.5", "probabilities from 0 to 1"),
            ("policy.tolerance=maybe", "not true or false"),
            ("staff.Intake=3", "unknown path"),
            ("windows.Intake=16..10", "runs upwards"),
            ("windows.Intake=a,b", "not a number"),
        ] {
            let error = Factor::parse(bad).expect_err(bad);
            assert!(error.contains(says) && error.contains("PATH=VALUES"), "{bad}: {error}");
        }
    }
}
