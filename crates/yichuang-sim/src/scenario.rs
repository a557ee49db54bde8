//! Scenarios (仿真场景): the RON files analysts write, validated against the definition they
//! name. The reference is `docs/simulation.md`.
//!
//! [`Scenario::load`] reads the file and the definition, and either returns a validated
//! scenario or **every** problem at once, each with the path of the field, what is wrong and
//! what would be accepted. Nothing downstream checks the scenario again.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use yichuang_core::definition::{BundleIx, DeptIx, ItemIx, MaterialIx, MaterialNeed, WindowClass};
use yichuang_core::{Definition, Diagnostics, Id, Instant, SpecialProcedureKind};

use crate::random::Dist;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario file cannot be read.
    #[error("cannot read scenario `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The definition the scenario names cannot be read.
    #[error(
        "cannot read definition `{definition}` named by `definition` in scenario `{path}` (paths are relative to the \
         scenario file): {source}"
    )]
    ReadDefinition {
        /// The scenario file.
        path: PathBuf,
        /// The definition path as resolved.
        definition: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not RON of the scenario's shape.
    #[error("{path}:{line}:{col}: {message}\n  help: the scenario format is described in docs/simulation.md")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What the parser says.
        message: String,
    },
    /// The definition the scenario names is invalid.
    #[error("definition `{definition}` named by scenario `{path}` is invalid:\n{diagnostics}")]
    Definition {
        /// The scenario file.
        path: PathBuf,
        /// The definition file.
        definition: PathBuf,
        /// Every problem of the definition.
        diagnostics: Diagnostics,
    },
    /// The scenario parses but does not fit its definition or the rules of the format.
    #[error("scenario `{path}` has {} problem{}:\n{}", problems.len(), if problems.len() == 1 { "" } else { "s" }, ProblemList(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

/// One problem of a scenario: the field, what is wrong, what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path of the field, e.g. `arrivals[0].answers[1].choices`.
    pub field: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - `{}`: {}", p.field, p.message)?;
        }
        Ok(())
    }
}

// ───────────────────────────── the file format ─────────────────────────────

/// Opening hours of the simulated hall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Hall {
    /// The definition's calendar: working days and office hours; nothing is served when closed.
    #[default]
    OfficeHours,
    /// Open around the clock, every day (the definition's calendar replaced, time in minutes).
    AlwaysOpen,
}

/// When a replication stops.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum Stop {
    /// After this many arrivals (warm-up included), once every arrived case has left.
    Cases(u64),
    /// At this many calendar days after the start; cases still open are reported as unfinished.
    Days(f64),
}

/// What is discarded at the start.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
pub enum WarmUp {
    /// Nothing.
    #[default]
    None,
    /// The first N arrivals are not measured.
    Cases(u64),
    /// Cases arriving in the first D days are not measured; levels are measured from then on.
    Days(f64),
    /// Detected: a pilot run finds the initial transient by MSER-5 ([`crate::warmup`]), then
    /// the scenario is measured as with `Days` of that length.
    Auto,
}

/// An arrival rate (Poisson process).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum Rate {
    /// A constant rate, in cases per hour.
    PerHour(f64),
    /// Cases per hour for each hour of the day (24 values, 00:00 first), times a multiplier per
    /// weekday (Monday first; default all 1).
    Hourly {
        /// 24 hourly rates.
        per_hour: Vec<f64>,
        /// 7 weekday multipliers, Monday first.
        #[serde(default)]
        weekdays: Option<Vec<f64>>,
    },
    /// A fixed trace: arrival times in minutes after the start, non-decreasing.
    Trace(Vec<f64>),
}

/// A form answer drawn per case (情形), e.g. whether a conditional member applies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerSpec {
    /// The form field id.
    pub field: String,
    /// Answers with their probabilities (summing to 1).
    pub choices: Vec<(String, f64)>,
}

/// A material that an applicant lacks at intake with some probability.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingSpec {
    /// The material id.
    pub material: String,
    /// Probability that it is missing.
    pub probability: f64,
}

/// One arrival stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalSpec {
    /// The bundle (一件事) applied for.
    pub bundle: String,
    /// The arrival rate.
    pub rate: Rate,
    /// Form answers drawn per case.
    #[serde(default)]
    pub answers: Vec<AnswerSpec>,
    /// Materials missing at intake.
    #[serde(default)]
    pub missing: Vec<MissingSpec>,
    /// Probability that the case asks for the green channel (绿色通道); eligible bundles only.
    #[serde(default)]
    pub green_channel: f64,
    /// Probability that the applicant is credit-blocked (失信; no 容缺受理).
    #[serde(default)]
    pub credit_blocked: f64,
}

/// Windows of one class.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Consult, Intake or Delivery.
    pub class: WindowClass,
    /// Number of staffed windows (servers), outside the shifts of `schedule`.
    pub count: u32,
    /// Service time per visit, in working minutes.
    pub service: Dist,
    /// Shifts that staff another number of windows on some days between two times.
    #[serde(default)]
    pub schedule: Vec<ShiftSpec>,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

/// A shift (排班): how many servers a station staffs on some days between two times of day.
/// Where shifts overlap, the one listed last applies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftSpec {
    /// The days it applies on.
    pub days: Vec<Day>,
    /// Start, `HH:MM`.
    pub from: String,
    /// End, `HH:MM` after `from` (`24:00` for midnight).
    pub to: String,
    /// Servers staffed meanwhile (0: the station is closed).
    pub count: u32,
}

/// A shift resolved: a bit per day (Monday first) and minutes of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shift {
    days: u8,
    from: u32,
    to: u32,
    count: u32,
}

/// Minutes in a week.
pub(crate) const WEEK_MINUTES: u32 = 7 * 1440;

/// `HH:MM` as minutes of the day (`24:00` is 1440).
fn minute_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0)) && h.to_string().len() <= 2 && m.to_string().len() <= 2)
        .then_some(h * 60 + m)
}

impl ShiftSpec {
    /// The shift resolved, or what is wrong with it.
    fn resolve(&self) -> Result<Shift, String> {
        let from = minute_of_day(&self.from).ok_or(format!("from: `{}` is not a time; write HH:MM", self.from))?;
        let to = minute_of_day(&self.to)
            .ok_or(format!("to: `{}` is not a time; write HH:MM (24:00 for midnight)", self.to))?;
        if from >= to {
            return Err(format!("from {} to {}: a shift ends after it starts, within one day", self.from, self.to));
        }
        if self.days.is_empty() {
            return Err("days: list the days it applies on, e.g. [Mon, Tue, Wed, Thu, Fri]".to_owned());
        }
        if self.count > 100_000 {
            return Err(format!("count: {}: give 0 to 100000", self.count));
        }
        let days = self.days.iter().fold(0u8, |mask, d| mask | 1 << (*d as u8));
        Ok(Shift { days, from, to, count: self.count })
    }
}

/// A station's staffing over a week: `(minute of the week, servers)` from that minute until the
/// next entry's, Monday 00:00 first; `base` outside the shifts, the last listed shift where they
/// overlap.
pub(crate) fn weekly_timeline(base: u32, shifts: &[Shift]) -> Vec<(u32, u32)> {
    let mut timeline: Vec<(u32, u32)> = Vec::new();
    for m in 0..WEEK_MINUTES {
        let (day, minute) = (m / 1440, m % 1440);
        let count = shifts
            .iter()
            .rev()
            .find(|s| s.days & (1 << day) != 0 && (s.from..s.to).contains(&minute))
            .map_or(base, |s| s.count);
        if timeline.last().is_none_or(|&(_, c)| c != count) {
            timeline.push((m, count));
        }
    }
    timeline
}

/// Reviewers of one department.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewersSpec {
    /// The department id.
    pub department: String,
    /// Number of reviewers (servers), outside the shifts of `schedule`.
    pub count: u32,
    /// Shifts that staff another number of reviewers on some days between two times.
    #[serde(default)]
    pub schedule: Vec<ShiftSpec>,
}

/// A special procedure (特别程序) some reviews go through.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialSpec {
    /// Probability per review.
    pub probability: f64,
    /// Kind recorded with the event.
    #[serde(default = "default_special_kind")]
    pub kind: SpecialProcedureKind,
    /// How long it lasts, in calendar minutes (the reviewer is free meanwhile).
    pub duration: Dist,
}

fn default_special_kind() -> SpecialProcedureKind {
    SpecialProcedureKind::Testing
}

/// How one item is reviewed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSpec {
    /// The item id.
    pub item: String,
    /// Review time in working minutes (per signing department for a countersign).
    pub time: Dist,
    /// Probability of denial (不予许可).
    #[serde(default)]
    pub deny: f64,
    /// Special procedure.
    #[serde(default)]
    pub special_procedure: Option<SpecialSpec>,
}

/// The applicants' rating (好差评) at the delivery window.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingSpec {
    /// Share of applicants who rate at the window; the others get the engine's default rating.
    #[serde(default = "one")]
    pub share: f64,
    /// Probabilities of 1★ … 5★.
    pub stars: Vec<f64>,
    /// Probabilities of 1★ … 5★ for cases that were not on time (default: `stars`).
    #[serde(default)]
    pub late: Option<Vec<f64>>,
}

fn one() -> f64 {
    1.0
}

/// Applicant behaviour.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicantsSpec {
    /// Share of applicants who first visit the consult desk (帮办咨询).
    #[serde(default)]
    pub consult: f64,
    /// 容缺: calendar minutes until a tolerated material is supplied (online).
    #[serde(default)]
    pub supply_after: Option<Dist>,
    /// 补正: calendar minutes until an applicant sent away comes back to intake.
    #[serde(default)]
    pub return_after: Option<Dist>,
    /// Ratings at the delivery window.
    #[serde(default)]
    pub ratings: Option<RatingSpec>,
    /// Probability that an applicant complains (吐槽找茬) about the lead department after delivery.
    #[serde(default)]
    pub complaint: f64,
    /// Balking: an arriving applicant who sees a long queue at the first window leaves.
    #[serde(default)]
    pub balk: Option<BalkSpec>,
    /// Reneging: calendar minutes an applicant waits in a window queue before giving up (drawn
    /// per visit).
    #[serde(default)]
    pub patience: Option<Dist>,
    /// Calendar minutes until an applicant who gave up a later visit (back after a correction
    /// notice, or to pick up the results) tries again.
    #[serde(default)]
    pub come_back_after: Option<Dist>,
}

/// When an arriving applicant leaves at once (balks).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalkSpec {
    /// The applicant balks when more than this many are waiting at their first window.
    pub queue_longer_than: u32,
    /// With this probability (default 1).
    #[serde(default = "one")]
    pub probability: f64,
}

/// Parallel (并联) or serial (串联) approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Approval {
    /// Members run as the bundle's dependency graph allows.
    #[default]
    Parallel,
    /// Members run one after another in topological order.
    Serial,
}

/// Policy switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Parallel or serial approval.
    #[serde(default)]
    pub approval: Approval,
    /// 容缺受理: accept with tolerable materials missing (else send the applicant away).
    #[serde(default = "yes")]
    pub tolerance: bool,
    /// Green-channel cases go first in every queue.
    #[serde(default)]
    pub green_channel_priority: bool,
}

fn yes() -> bool {
    true
}

impl Default for PolicySpec {
    fn default() -> PolicySpec {
        PolicySpec { approval: Approval::Parallel, tolerance: true, green_channel_priority: false }
    }
}

/// What "on time" means for the on-time rate.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
pub enum OnTime {
    /// The engine's case clock (承诺时限 in working days) was not overdue when the case was decided.
    #[default]
    Promised,
    /// The cycle time (arrival to the end of pickup) is at most this many minutes.
    WithinMinutes(f64),
}

/// How the responsible departments and the supervisors work tickets (评价-反馈-整改-监督).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketsSpec {
    /// Working minutes from opening to the ledger decision (核实).
    pub verify: Dist,
    /// Working minutes of a rectification round (整改).
    pub rectify: Dist,
    /// Working minutes until the supervisor decides (监督).
    pub supervise: Dist,
    /// Working minutes until the feedback (反馈).
    pub feed_back: Dist,
    /// Working minutes until the follow-up visit (回访).
    pub follow_up: Dist,
    /// Probability that the supervisor fails a rectification (整改不到位).
    #[serde(default)]
    pub failed_rectification: f64,
    /// Probability that the complainant is unsatisfied at the follow-up.
    #[serde(default)]
    pub unsatisfied: f64,
}

/// A scenario file as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Name shown in reports.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The definition file, relative to the scenario file.
    pub definition: String,
    /// Start instant, `YYYY-MM-DDTHH:MM`.
    pub start: String,
    /// Opening hours.
    #[serde(default)]
    pub hall: Hall,
    /// When a replication stops.
    pub stop: Stop,
    /// What is not measured at the start.
    #[serde(default)]
    pub warm_up: WarmUp,
    /// Independent replications.
    #[serde(default = "one_u32")]
    pub replications: u32,
    /// Seed of the random streams.
    #[serde(default)]
    pub seed: u64,
    /// Arrival streams.
    pub arrivals: Vec<ArrivalSpec>,
    /// Windows per class.
    pub windows: Vec<WindowSpec>,
    /// Reviewers per department.
    pub reviewers: Vec<ReviewersSpec>,
    /// Review times per item.
    pub reviews: Vec<ReviewSpec>,
    /// Applicant behaviour.
    #[serde(default)]
    pub applicants: ApplicantsSpec,
    /// Policy switches.
    #[serde(default)]
    pub policy: PolicySpec,
    /// What counts as on time.
    #[serde(default)]
    pub on_time: OnTime,
    /// Ticket work; `None` leaves tickets open (they are still counted).
    #[serde(default)]
    pub tickets: Option<TicketsSpec>,
    /// Interval of the queue-length and WIP samples, in minutes (default: adaptive, ≤ 1,000 samples).
    #[serde(default)]
    pub sample_every_minutes: Option<f64>,
}

fn one_u32() -> u32 {
    1
}

// ───────────────────────────── the validated form ─────────────────────────────

/// A form answer resolved: the field id and cumulative probabilities.
#[derive(Debug, Clone)]
pub(crate) struct AnswerPlan {
    pub field: String,
    /// (answer, cumulative probability).
    pub choices: Vec<(String, f64)>,
}

/// An arrival stream resolved against the definition.
#[derive(Debug, Clone)]
pub(crate) struct ArrivalPlan {
    pub bundle: BundleIx,
    pub bundle_id: Id,
    pub rate: Rate,
    pub answers: Vec<AnswerPlan>,
    pub missing: Vec<(MaterialIx, f64)>,
    pub green_channel: f64,
    pub credit_blocked: f64,
}

/// A review resolved.
#[derive(Debug, Clone)]
pub(crate) struct ReviewPlan {
    pub time: Dist,
    pub deny: f64,
    pub special: Option<SpecialSpec>,
}

/// A validated scenario: the file, its definition, and every name resolved to an index.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The scenario as written.
    pub spec: ScenarioSpec,
    /// The scenario file.
    pub path: PathBuf,
    /// The definition file as resolved.
    pub definition_path: PathBuf,
    definition_source: String,
    definition_id: String,
    pub(crate) start: Instant,
    pub(crate) arrivals: Vec<ArrivalPlan>,
    /// Windows per class: Consult, Intake, Delivery.
    pub(crate) windows: [Option<(u32, Dist)>; 3],
    /// Reviewers per department index.
    pub(crate) reviewers: Vec<u32>,
    /// Review per item index.
    pub(crate) reviews: Vec<Option<ReviewPlan>>,
    /// Weekly staffing of each window class with a schedule ([`weekly_timeline`]).
    pub(crate) window_timelines: [Option<Vec<(u32, u32)>>; 3],
    /// Weekly staffing of each department (by index) with a schedule.
    pub(crate) reviewer_timelines: Vec<Option<Vec<(u32, u32)>>>,
}

/// Position of a window class in per-class arrays.
pub(crate) fn class_pos(class: WindowClass) -> usize {
    match class {
        WindowClass::Consult => 0,
        WindowClass::Intake => 1,
        WindowClass::Delivery => 2,
    }
}

/// Window classes in per-class order.
pub(crate) const CLASSES: [WindowClass; 3] = [WindowClass::Consult, WindowClass::Intake, WindowClass::Delivery];

/// Station name of a window class in reports.
pub(crate) fn class_name(class: WindowClass) -> &'static str {
    match class {
        WindowClass::Consult => "consult",
        WindowClass::Intake => "intake",
        WindowClass::Delivery => "delivery",
    }
}

impl Scenario {
    /// Reads and validates a scenario file and the definition it names.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { path: path.to_owned(), source })?;
        Scenario::from_ron(&text, path)
    }

    /// Validates scenario text; `path` names it in messages and anchors the definition path.
    pub fn from_ron(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the text.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let spec: ScenarioSpec = options.from_str(text).map_err(|e| ScenarioError::Syntax {
            path: path.to_owned(),
            line: e.span.start.line,
            col: e.span.start.col,
            message: syntax_message(&e.code),
        })?;
        let definition_path = path.parent().unwrap_or(Path::new("")).join(&spec.definition);
        let definition_source = std::fs::read_to_string(&definition_path).map_err(|source| {
            ScenarioError::ReadDefinition { path: path.to_owned(), definition: definition_path.clone(), source }
        })?;
        let def = Definition::from_ron(&definition_source, &definition_path.display().to_string()).map_err(
            |diagnostics| ScenarioError::Definition {
                path: path.to_owned(),
                definition: definition_path.clone(),
                diagnostics,
            },
        )?;
        let mut v = Validator { def: &def, problems: Vec::new() };
        let resolved = v.scenario(&spec);
        if !v.problems.is_empty() {
            return Err(ScenarioError::Invalid { path: path.to_owned(), problems: v.problems });
        }
        let (start, arrivals, windows, reviewers, reviews) = resolved.expect("no problems means resolved");
        let (window_timelines, reviewer_timelines) = timelines(&spec, &def);
        Ok(Scenario {
            spec,
            path: path.to_owned(),
            definition_path,
            definition_source,
            definition_id: def.id().to_string(),
            start,
            arrivals,
            windows,
            reviewers,
            reviews,
            window_timelines,
            reviewer_timelines,
        })
    }

    /// The stations the scenario staffs, in report order: the window classes with windows
    /// (`consult`, `intake`, `delivery`), then the departments with reviewers (their ids).
    pub fn station_names(&self) -> Vec<String> {
        let windows = CLASSES
            .iter()
            .enumerate()
            .filter(|(pos, _)| self.windows[*pos].is_some())
            .map(|(_, class)| class_name(*class).to_owned());
        let def = self.definition();
        let departments = self
            .reviewers
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(d, _)| def.departments()[d].id.to_string())
            .collect::<Vec<_>>();
        windows.chain(departments).collect()
    }

    /// This scenario with its spec replaced (a point of an experiment), validated again against
    /// the same definition: every problem at once, as [`Scenario::from_ron`] reports them.
    pub fn with_spec(&self, spec: ScenarioSpec) -> Result<Scenario, ScenarioError> {
        let def = Definition::from_ron(&self.definition_source, &self.definition_path.display().to_string())
            .expect("validated when the scenario loaded");
        let mut v = Validator { def: &def, problems: Vec::new() };
        let resolved = v.scenario(&spec);
        if !v.problems.is_empty() {
            return Err(ScenarioError::Invalid { path: self.path.clone(), problems: v.problems });
        }
        let (start, arrivals, windows, reviewers, reviews) = resolved.expect("no problems means resolved");
        let (window_timelines, reviewer_timelines) = timelines(&spec, &def);
        Ok(Scenario {
            spec,
            path: self.path.clone(),
            definition_path: self.definition_path.clone(),
            definition_source: self.definition_source.clone(),
            definition_id: self.definition_id.clone(),
            start,
            arrivals,
            windows,
            reviewers,
            reviews,
            window_timelines,
            reviewer_timelines,
        })
    }

    /// The id of the scenario's definition.
    pub fn definition_id(&self) -> String {
        self.definition_id.clone()
    }

    /// Builds this scenario's definition: parsed afresh (so that every worker thread owns its
    /// ids and no reference count is shared between threads) with the what-if switches applied.
    pub fn definition(&self) -> Arc<Definition> {
        let origin = self.definition_path.display().to_string();
        let mut def =
            Definition::from_ron(&self.definition_source, &origin).expect("validated when the scenario loaded");
        if self.spec.hall == Hall::AlwaysOpen {
            def = def.with_always_open_calendar();
        }
        if self.spec.policy.approval == Approval::Serial {
            def = def.with_serial_approval();
        }
        Arc::new(def)
    }
}

/// The weekly staffing of every window class and department with a schedule (the scenario is
/// valid: every shift resolves).
#[allow(clippy::type_complexity)]
fn timelines(spec: &ScenarioSpec, def: &Definition) -> ([Option<Vec<(u32, u32)>>; 3], Vec<Option<Vec<(u32, u32)>>>) {
    let resolve = |shifts: &[ShiftSpec]| shifts.iter().filter_map(|s| s.resolve().ok()).collect::<Vec<_>>();
    let mut windows: [Option<Vec<(u32, u32)>>; 3] = [None, None, None];
    for w in spec.windows.iter().filter(|w| !w.schedule.is_empty()) {
        windows[class_pos(w.class)] = Some(weekly_timeline(w.count, &resolve(&w.schedule)));
    }
    let mut reviewers = vec![None; def.departments().len()];
    for r in spec.reviewers.iter().filter(|r| !r.schedule.is_empty()) {
        if let Some(d) = def.department_ix(&r.department) {
            reviewers[d.index()] = Some(weekly_timeline(r.count, &resolve(&r.schedule)));
        }
    }
    (windows, reviewers)
}

type Resolved = (Instant, Vec<ArrivalPlan>, [Option<(u32, Dist)>; 3], Vec<u32>, Vec<Option<ReviewPlan>>);

struct Validator<'d> {
    def: &'d Definition,
    problems: Vec<Problem>,
}

/// The parser's message, with what a whole-number field accepts when that is what went wrong
/// (the parser names neither the field nor the range).
fn syntax_message(code: &ron::Error) -> String {
    match code {
        ron::Error::IntegerOutOfBounds | ron::Error::ExpectedInteger => format!(
            "{code}: counts, replications and the seed are whole numbers ≥ 0 (replications 1–100000, a window or \
             reviewer count 1–100000, the seed at most {})",
            u64::MAX
        ),
        other => other.to_string(),
    }
}

/// Arrival streams a scenario may list (the simulator numbers them with 16 bits).
const ARRIVAL_STREAMS_MAX: usize = 1 << 16;

fn probability_ok(p: f64) -> bool {
    p.is_finite() && (0.0..=1.0).contains(&p)
}

impl Validator<'_> {
    fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem { field: field.into(), message: message.into() });
    }

    fn probability(&mut self, field: String, p: f64) {
        if !probability_ok(p) {
            self.problem(field, format!("{p} is not a probability; write a number from 0 to 1"));
        }
    }

    fn dist(&mut self, field: String, d: &Dist) {
        if let Some(why) = d.problem() {
            self.problem(field, why);
        }
    }

    fn scenario(&mut self, s: &ScenarioSpec) -> Option<Resolved> {
        let def = self.def;
        if s.name.trim().is_empty() {
            self.problem("name", "the name is empty; give the scenario a short name");
        }
        let start = match s.start.parse::<Instant>() {
            Ok(t) => {
                let (first, last) = def.calendar().covered_years();
                if !(first..=last).contains(&t.date().year()) {
                    self.problem(
                        "start",
                        format!("{t} is outside the definition's calendar ({first}–{last}); start within it"),
                    );
                }
                Some(t)
            }
            Err(e) => {
                self.problem("start", e.to_string());
                None
            }
        };
        match s.stop {
            Stop::Cases(0) => self.problem("stop", "Cases(0) simulates nothing; give at least 1 case"),
            Stop::Cases(n) if n > 1_000_000_000 => self.problem("stop", "at most Cases(1000000000) per replication"),
            Stop::Days(d) if !(d.is_finite() && d > 0.0 && d <= 3660.0) => {
                self.problem("stop", format!("Days({d}): give a number of days in (0, 3660]"))
            }
            Stop::Days(d) => {
                // The run's last instant must lie in the calendar (the engine's deadlines and an
                // office-hours hall both need it).
                let (_, last) = def.calendar().covered_years();
                let limit = crate::clock::calendar_end(def.calendar());
                if let Some(start) = start
                    && (start.minutes() as f64 + d * 1440.0) >= limit.minutes() as f64
                {
                    let days = (limit.minutes() - start.minutes()) as f64 / 1440.0;
                    self.problem(
                        "stop",
                        format!(
                            "Days({d}) from {start} runs to {limit} or later, past the definition's calendar (which \
                             ends with {last}); give fewer than {days} days or add the next year's holiday table"
                        ),
                    );
                }
            }
            _ => {}
        }
        match (s.warm_up, s.stop) {
            (WarmUp::Cases(w), Stop::Cases(n)) if w >= n => {
                self.problem("warm_up", format!("Cases({w}) leaves nothing to measure out of Cases({n})"))
            }
            (WarmUp::Days(d), _) if !(d.is_finite() && (0.0..=3660.0).contains(&d)) => {
                self.problem("warm_up", format!("Days({d}): give a number of days in [0, 3660]"))
            }
            (WarmUp::Days(w), Stop::Days(n)) if w >= n => {
                self.problem("warm_up", format!("Days({w}) leaves nothing to measure out of Days({n})"))
            }
            _ => {}
        }
        if s.replications == 0 || s.replications > 100_000 {
            self.problem("replications", format!("{} replications: give 1 to 100000", s.replications));
        }
        if s.arrivals.is_empty() {
            self.problem("arrivals", "no arrival stream; add at least one (bundle: \"…\", rate: PerHour(…))");
        } else if s.arrivals.len() > ARRIVAL_STREAMS_MAX {
            self.problem(
                "arrivals",
                format!(
                    "{} arrival streams; at most {ARRIVAL_STREAMS_MAX} (one stream per bundle and rate usually \
                     suffices: a stream's answers and missing materials are drawn per case)",
                    s.arrivals.len()
                ),
            );
        }
        let arrivals: Vec<Option<ArrivalPlan>> =
            s.arrivals.iter().enumerate().map(|(i, a)| self.arrival(i, a)).collect();
        let windows = self.windows(s);
        let reviewers = self.reviewers(s);
        let reviews = self.reviews(s);
        self.coverage(s, &arrivals, &reviewers, &reviews);
        self.applicants(s);
        if let OnTime::WithinMinutes(m) = s.on_time
            && !(m.is_finite() && m > 0.0)
        {
            self.problem("on_time", format!("WithinMinutes({m}): give a number of minutes > 0"));
        }
        if let Some(t) = &s.tickets {
            for (name, d) in [
                ("verify", &t.verify),
                ("rectify", &t.rectify),
                ("supervise", &t.supervise),
                ("feed_back", &t.feed_back),
                ("follow_up", &t.follow_up),
            ] {
                self.dist(format!("tickets.{name}"), d);
            }
            self.probability("tickets.failed_rectification".into(), t.failed_rectification);
            self.probability("tickets.unsatisfied".into(), t.unsatisfied);
            if t.failed_rectification > 0.99 || t.unsatisfied > 0.99 {
                self.problem("tickets", "a failure probability above 0.99 never closes tickets; keep it ≤ 0.99");
            }
        }
        if let Some(m) = s.sample_every_minutes
            && !(m.is_finite() && m > 0.0)
        {
            self.problem("sample_every_minutes", format!("{m}: give a number of minutes > 0"));
        }
        let arrivals: Option<Vec<ArrivalPlan>> = arrivals.into_iter().collect();
        Some((start?, arrivals?, windows, reviewers, reviews))
    }

    fn arrival(&mut self, i: usize, a: &ArrivalSpec) -> Option<ArrivalPlan> {
        let def = self.def;
        let here = format!("arrivals[{i}]");
        let bix = def.bundle_ix(&a.bundle);
        if bix.is_none() {
            self.problem(
                format!("{here}.bundle"),
                format!("unknown bundle `{}`; the definition has: {}", a.bundle, def.bundle_ids_text()),
            );
        }
        match &a.rate {
            Rate::PerHour(r) if !(r.is_finite() && *r > 0.0) => {
                self.problem(format!("{here}.rate"), format!("PerHour({r}): give a rate > 0 cases per hour"))
            }
            Rate::Hourly { per_hour, weekdays } => {
                if per_hour.len() != 24 || !per_hour.iter().all(|r| r.is_finite() && *r >= 0.0) {
                    self.problem(
                        format!("{here}.rate.per_hour"),
                        format!("{} values given; list 24 rates ≥ 0, one per hour from 00:00", per_hour.len()),
                    );
                } else if per_hour.iter().all(|r| *r == 0.0) {
                    self.problem(format!("{here}.rate.per_hour"), "every hour has rate 0; nobody would arrive");
                }
                if let Some(w) = weekdays
                    && (w.len() != 7 || !w.iter().all(|r| r.is_finite() && *r >= 0.0) || w.iter().all(|r| *r == 0.0))
                {
                    self.problem(format!("{here}.rate.weekdays"), "list 7 multipliers ≥ 0 (Monday first), not all 0");
                }
            }
            Rate::Trace(times) => {
                if times.is_empty() || !times.iter().all(|t| t.is_finite() && *t >= 0.0) {
                    self.problem(format!("{here}.rate"), "Trace([...]): list arrival minutes ≥ 0, at least one");
                } else if times.windows(2).any(|w| w[1] < w[0]) {
                    self.problem(format!("{here}.rate"), "Trace([...]): arrival minutes must not decrease");
                }
            }
            Rate::PerHour(_) => {}
        }
        let Some(bix) = bix else {
            // The form and the materials are the bundle's; the probabilities are checked anyway,
            // so that every problem is reported at once.
            for (j, ans) in a.answers.iter().enumerate() {
                for (_, p) in &ans.choices {
                    self.probability(format!("{here}.answers[{j}].choices"), *p);
                }
            }
            for (j, m) in a.missing.iter().enumerate() {
                self.probability(format!("{here}.missing[{j}].probability"), m.probability);
            }
            self.probability(format!("{here}.green_channel"), a.green_channel);
            self.probability(format!("{here}.credit_blocked"), a.credit_blocked);
            return None;
        };
        let bundle = def.bundle(bix);
        let mut answers = Vec::new();
        for (j, ans) in a.answers.iter().enumerate() {
            let field = format!("{here}.answers[{j}]");
            let accepted_fields =
                || bundle.form.iter().map(|&f| def.field(f).id.as_str()).collect::<Vec<_>>().join(", ");
            let Some(fix) = bundle.form.iter().copied().find(|&f| def.field(f).id == *ans.field.as_str()) else {
                self.problem(
                    format!("{field}.field"),
                    format!(
                        "`{}` is not on the form of bundle `{}`; the form has: {}",
                        ans.field,
                        a.bundle,
                        accepted_fields()
                    ),
                );
                continue;
            };
            let choices = &def.field(fix).choices;
            let mut cumulative = 0.0;
            let mut resolved = Vec::new();
            for (value, p) in &ans.choices {
                if !choices.is_empty() && !choices.contains(value) {
                    self.problem(
                        format!("{field}.choices"),
                        format!("`{value}` is not an answer of `{}`; use one of: {}", ans.field, choices.join(", ")),
                    );
                }
                self.probability(format!("{field}.choices"), *p);
                cumulative += p;
                resolved.push((value.clone(), cumulative));
            }
            if ans.choices.is_empty() || (cumulative - 1.0).abs() > 1e-6 {
                self.problem(
                    format!("{field}.choices"),
                    format!("the probabilities add up to {cumulative}; they must add up to 1"),
                );
            }
            if let Some(last) = resolved.last_mut() {
                last.1 = f64::INFINITY;
            }
            answers.push(AnswerPlan { field: ans.field.clone(), choices: resolved });
        }
        if a.answers.iter().enumerate().any(|(j, x)| a.answers[..j].iter().any(|y| y.field == x.field)) {
            self.problem(format!("{here}.answers"), "a field is answered twice; list each field once");
        }
        let mut missing = Vec::new();
        for (j, m) in a.missing.iter().enumerate() {
            let field = format!("{here}.missing[{j}]");
            self.probability(format!("{field}.probability"), m.probability);
            let listed = || {
                bundle
                    .materials
                    .iter()
                    .filter(|(x, need)| *need != MaterialNeed::Optional && def.material(*x).shared_source.is_none())
                    .map(|(x, _)| def.material(*x).id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match def.material_ix(&m.material) {
                Some(mix)
                    if bundle.materials.iter().any(|(x, need)| *x == mix && *need != MaterialNeed::Optional)
                        && def.material(mix).shared_source.is_none() =>
                {
                    missing.push((mix, m.probability))
                }
                _ => self.problem(
                    format!("{field}.material"),
                    format!(
                        "`{}` is not a material that bundle `{}` asks the applicant for (shared and optional materials \
                         are never missing); use one of: {}",
                        m.material,
                        a.bundle,
                        listed()
                    ),
                ),
            }
        }
        self.probability(format!("{here}.green_channel"), a.green_channel);
        if a.green_channel > 0.0 && !bundle.green_channel_eligible(def) {
            self.problem(
                format!("{here}.green_channel"),
                format!("bundle `{}` has no green-channel member; use 0 or a green-channel bundle", a.bundle),
            );
        }
        self.probability(format!("{here}.credit_blocked"), a.credit_blocked);
        Some(ArrivalPlan {
            bundle: bix,
            bundle_id: bundle.id.clone(),
            rate: a.rate.clone(),
            answers,
            missing,
            green_channel: a.green_channel,
            credit_blocked: a.credit_blocked,
        })
    }

    fn windows(&mut self, s: &ScenarioSpec) -> [Option<(u32, Dist)>; 3] {
        let def = self.def;
        let mut out: [Option<(u32, Dist)>; 3] = [None, None, None];
        for (i, w) in s.windows.iter().enumerate() {
            let here = format!("windows[{i}]");
            let pos = class_pos(w.class);
            if out[pos].is_some() {
                self.problem(format!("{here}.class"), format!("{:?} is listed twice; list each class once", w.class));
            }
            if w.count == 0 || w.count > 100_000 {
                self.problem(format!("{here}.count"), format!("{}: give 1 to 100000 windows", w.count));
            }
            if !def.windows().iter().any(|x| x.class == w.class) {
                self.problem(
                    format!("{here}.class"),
                    format!(
                        "the definition has no {:?} window for the clerks to sit at; add one to its `windows`",
                        w.class
                    ),
                );
            }
            self.dist(format!("{here}.service"), &w.service);
            for (j, shift) in w.schedule.iter().enumerate() {
                if let Err(why) = shift.resolve() {
                    self.problem(format!("{here}.schedule[{j}]"), why);
                }
            }
            out[pos] = Some((w.count, w.service.clone()));
        }
        for class in [WindowClass::Intake, WindowClass::Delivery] {
            if out[class_pos(class)].is_none() {
                self.problem(
                    "windows",
                    format!("no {class:?} windows; every case passes intake and delivery: add (class: {class:?}, count: …, service: …)"),
                );
            }
        }
        if s.applicants.consult > 0.0 && out[0].is_none() {
            self.problem(
                "windows",
                "applicants.consult > 0 but no Consult windows; add (class: Consult, count: …, service: …)",
            );
        }
        out
    }

    fn reviewers(&mut self, s: &ScenarioSpec) -> Vec<u32> {
        let def = self.def;
        let mut out = vec![0u32; def.departments().len()];
        for (i, r) in s.reviewers.iter().enumerate() {
            let here = format!("reviewers[{i}]");
            match def.department_ix(&r.department) {
                Some(d) => {
                    if out[d.index()] > 0 {
                        self.problem(format!("{here}.department"), format!("`{}` is listed twice", r.department));
                    }
                    if r.count == 0 || r.count > 100_000 {
                        self.problem(format!("{here}.count"), format!("{}: give 1 to 100000 reviewers", r.count));
                    }
                    out[d.index()] = r.count;
                    for (j, shift) in r.schedule.iter().enumerate() {
                        if let Err(why) = shift.resolve() {
                            self.problem(format!("{here}.schedule[{j}]"), why);
                        }
                    }
                }
                None => self.problem(
                    format!("{here}.department"),
                    format!(
                        "unknown department `{}`; the definition has: {}",
                        r.department,
                        def.departments().iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
        out
    }

    fn reviews(&mut self, s: &ScenarioSpec) -> Vec<Option<ReviewPlan>> {
        let def = self.def;
        let mut out: Vec<Option<ReviewPlan>> = vec![None; def.items().len()];
        for (i, r) in s.reviews.iter().enumerate() {
            let here = format!("reviews[{i}]");
            self.dist(format!("{here}.time"), &r.time);
            self.probability(format!("{here}.deny"), r.deny);
            if let Some(sp) = &r.special_procedure {
                self.probability(format!("{here}.special_procedure.probability"), sp.probability);
                self.dist(format!("{here}.special_procedure.duration"), &sp.duration);
            }
            match def.item_ix(&r.item) {
                Some(ix) => {
                    if out[ix.index()].is_some() {
                        self.problem(format!("{here}.item"), format!("`{}` is listed twice", r.item));
                    }
                    out[ix.index()] =
                        Some(ReviewPlan { time: r.time.clone(), deny: r.deny, special: r.special_procedure.clone() });
                }
                None => self.problem(
                    format!("{here}.item"),
                    format!(
                        "unknown item `{}`; the definition has: {}",
                        r.item,
                        def.items().iter().map(|d| d.id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
        out
    }

    /// Every item of an arriving bundle has a review time and reviewers in its departments.
    fn coverage(
        &mut self,
        s: &ScenarioSpec,
        arrivals: &[Option<ArrivalPlan>],
        reviewers: &[u32],
        reviews: &[Option<ReviewPlan>],
    ) {
        let def = self.def;
        let mut items: BTreeMap<ItemIx, String> = BTreeMap::new();
        for a in arrivals.iter().flatten() {
            for m in &def.bundle(a.bundle).members {
                items.entry(m.item).or_insert_with(|| a.bundle_id.to_string());
            }
        }
        let mut departments: BTreeMap<DeptIx, (String, String)> = BTreeMap::new();
        for (&ix, bundle) in &items {
            let item = def.item(ix);
            if reviews[ix.index()].is_none() {
                self.problem(
                    "reviews",
                    format!(
                        "item `{}` of bundle `{bundle}` has no review time; add (item: \"{}\", time: …)",
                        item.id, item.id
                    ),
                );
            }
            for &d in item.decided_by.departments() {
                departments.entry(d).or_insert_with(|| (item.id.to_string(), bundle.clone()));
            }
        }
        for (d, (item, bundle)) in departments {
            if reviewers[d.index()] == 0 {
                let id = &def.department(d).id;
                self.problem(
                    "reviewers",
                    format!(
                        "department `{id}` decides item `{item}` of bundle `{bundle}` but has no reviewers; add \
                         (department: \"{id}\", count: …)"
                    ),
                );
            }
        }
        let missing_any = s.arrivals.iter().any(|a| a.missing.iter().any(|m| m.probability > 0.0));
        if missing_any && s.applicants.return_after.is_none() {
            self.problem(
                "applicants.return_after",
                "some materials go missing, and an applicant sent away with a correction notice (补正) must come back: \
                 give return_after: Exponential(mean: …)",
            );
        }
        if missing_any && s.policy.tolerance && s.applicants.supply_after.is_none() {
            self.problem(
                "applicants.supply_after",
                "tolerance (容缺) is on and some materials go missing: give supply_after: Exponential(mean: …), the \
                 time until the applicant supplies a tolerated material",
            );
        }
    }

    fn applicants(&mut self, s: &ScenarioSpec) {
        let a = &s.applicants;
        self.probability("applicants.consult".into(), a.consult);
        self.probability("applicants.complaint".into(), a.complaint);
        if let Some(d) = &a.supply_after {
            self.dist("applicants.supply_after".into(), d);
        }
        if let Some(d) = &a.return_after {
            self.dist("applicants.return_after".into(), d);
        }
        if let Some(b) = &a.balk {
            self.probability("applicants.balk.probability".into(), b.probability);
        }
        if let Some(d) = &a.patience {
            self.dist("applicants.patience".into(), d);
            if a.come_back_after.is_none() {
                self.problem(
                    "applicants.come_back_after",
                    "applicants give up queues (patience) and must come back to a later visit they gave up: give \
                     come_back_after: Exponential(mean: …)",
                );
            }
        }
        if let Some(d) = &a.come_back_after {
            self.dist("applicants.come_back_after".into(), d);
        }
        if let Some(r) = &a.ratings {
            self.probability("applicants.ratings.share".into(), r.share);
            for (name, stars) in [("stars", Some(&r.stars)), ("late", r.late.as_ref())] {
                let Some(stars) = stars else { continue };
                let sum: f64 = stars.iter().sum();
                if stars.len() != 5 || !stars.iter().all(|p| probability_ok(*p)) || (sum - 1.0).abs() > 1e-6 {
                    self.problem(
                        format!("applicants.ratings.{name}"),
                        format!(
                            "list 5 probabilities (1★ to 5★) adding up to 1; got {} values adding up to {sum}",
                            stars.len()
                        ),
                    );
                }
            }
        }
    }
}
