//! What one replication measured ([`RepResult`]), as [`crate::report::Aggregate`] folds it.

use crate::stats::Tally;

/// The sample case drawn as a Gantt chart.
#[derive(Debug, Clone, Default)]
pub struct Gantt {
    /// Bundle id.
    pub bundle: String,
    /// Arrival time (minutes since the start).
    pub arrival: f64,
    /// Front and back phases: (label, start, end).
    pub phases: Vec<(String, f64, f64)>,
    /// Tasks: (item id, department, ready, claimed, done).
    pub tasks: Vec<(String, String, f64, f64, f64)>,
}

/// Queue length and WIP samples over time.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Sampling interval, minutes.
    pub every: f64,
    /// Sample times, minutes since the start.
    pub t: Vec<f64>,
    /// Work in progress (cases in the system).
    pub wip: Vec<f64>,
    /// Queue length per station (station order).
    pub queues: Vec<Vec<f64>>,
    /// When the warm-up ended and measuring began, minutes since the start (`None`: no warm-up,
    /// or a warm-up that never ended). The samples cover the warm-up too.
    pub warm_up_end: Option<f64>,
    /// When the last arrival came under a `Cases` stop (the hall drains after it), minutes since
    /// the start; `None` under a `Days` stop.
    pub arrivals_end: Option<f64>,
}

/// Statistics of one station in one replication.
#[derive(Debug, Clone)]
pub struct StationResult {
    /// Station name: `consult`, `intake`, `delivery` or a department id.
    pub name: String,
    /// A window class (else a department).
    pub window: bool,
    /// Servers.
    pub servers: u32,
    /// Busy fraction of the servers' working time while measuring.
    pub utilisation: f64,
    /// Time-average queue length while measuring.
    pub queue_mean: f64,
    /// Longest queue while measuring.
    pub queue_max: u32,
    /// Servers on duty on average over the measured working time (`servers` without a
    /// schedule).
    pub mean_servers: f64,
    /// Queue waits per visit (calendar minutes), measured cases only.
    pub wait: Tally,
    /// Calendar minutes of the services of the measured cases' visits: with `wait`, the
    /// time at the station per visit (sojourn).
    pub service_span: f64,
    /// Services started while measuring.
    pub served: u64,
    /// Offered load λ·E\[S\]/c over the arrival period while measuring (visits arriving per
    /// working minute × mean working minutes of a service ÷ servers) and its standard error
    /// (arrivals taken as Poisson); `None` when nothing was served or no arrival period was
    /// measured. At or above 1 the queue cannot be steady.
    pub offered_load: Option<(f64, f64)>,
    /// The rise of the queue over the arrival period while measuring, in jobs, when it stands
    /// clearly above the noise (else 0); `None` with too few samples.
    pub queue_growth: Option<f64>,
    /// Joins at which this station's task finished last, and the join minutes that followed
    /// (measured cases).
    pub last_at_join: (u64, f64),
}

/// Per-bundle statistics.
#[derive(Debug, Clone, Default)]
pub struct BundleResult {
    /// Cycle time of completed measured cases.
    pub cycle: Tally,
    /// On time (0/1).
    pub on_time: Tally,
}

/// Everything one replication measured.
#[derive(Debug, Clone, Default)]
pub struct RepResult {
    /// Replication number.
    pub replication: u32,
    /// Arrivals (warm-up included).
    pub arrivals: u64,
    /// Measured cases that completed pickup.
    pub completed: u64,
    /// Measured cases still open at the end (horizon stop).
    pub unfinished: u64,
    /// Cycle time, calendar minutes.
    pub cycle: Tally,
    /// Cycle time, working minutes.
    pub cycle_working: Tally,
    /// Closed hours within the cycle (calendar − working).
    pub closed: Tally,
    /// Queue waits (windows, and the approvals on the walk back from the decision).
    pub queue: Tally,
    /// Waits at joins: from the first sibling's finish to the last's.
    pub join: Tally,
    /// Waits for materials (correction trips, tolerated materials, cure before pickup,
    /// suspensions).
    pub materials: Tally,
    /// Service: window visits and the reviews on the approval walk.
    pub service: Tally,
    /// Special procedures on the approval walk.
    pub special: Tally,
    /// On time (0/1).
    pub on_time: Tally,
    /// Trips to the hall (engine count).
    pub trips: Tally,
    /// Per bundle id.
    pub bundles: Vec<(String, BundleResult)>,
    /// Per station.
    pub stations: Vec<StationResult>,
    /// Time-average work in progress while measuring.
    pub wip_mean: f64,
    /// Most cases the engine held at a sample (in flight, or delivered and waiting for the
    /// default rating): what bounds the replication's memory, whatever the number of cases.
    pub engine_cases_held_max: u64,
    /// Most cases in the system while measuring.
    pub wip_max: u32,
    /// Measured period, calendar minutes.
    pub period_minutes: f64,
    /// Outcomes of measured completed cases: approved, partially approved, denied.
    pub outcomes: [u64; 3],
    /// Measured cases returned (退件) after a missed cure.
    pub returned: u64,
    /// Measured applicants lost: `[balked, reneged]` (left without results, before intake).
    pub lost: [u64; 2],
    /// Later visits measured applicants gave up (a failed trip each; they came back).
    pub failed_trips: u64,
    /// Measured arrivals.
    pub measured_arrivals: u64,
    /// Applicants can leave queues in this scenario (balking or patience set).
    pub applicants_leave: bool,
    /// Ratings recorded (whole run): 1★ … 5★.
    pub ratings: [u64; 5],
    /// Of those, default ratings.
    pub default_ratings: u64,
    /// Clocks raised (whole run), `[case, task][warning (预警), overdue (逾期)]`.
    pub sla_raised: [[u64; 2]; 2],
    /// Tickets opened by source kind (whole run).
    pub tickets_opened: Vec<(&'static str, u64)>,
    /// Tickets closed.
    pub tickets_closed: u64,
    /// Tickets whose work stopped because the engine refused a step.
    pub tickets_abandoned: u64,
    /// Ticket closure time, calendar minutes.
    pub ticket_closure: Tally,
    /// Engine events by kind (whole run).
    pub events: Vec<(&'static str, u64)>,
    /// Queue and WIP samples.
    pub series: Series,
    /// A sample case.
    pub gantt: Option<Gantt>,
    /// Wall-clock seconds of this replication.
    pub wall_seconds: f64,
    /// Every case and every visit, when the run was asked to keep them (`RunOptions::rows`).
    pub rows: Option<Box<Rows>>,
}

/// Every case and every visit of a replication, for an analyst's own tools.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// The stations' names, by the index `VisitRow::station` gives.
    pub stations: Vec<String>,
    /// One row per case that completed pickup or was returned, warm-up included.
    pub cases: Vec<CaseRow>,
    /// One row per service at a station (a window visit, a review, a countersign).
    pub visits: Vec<VisitRow>,
}

/// One case: its times, its outcome and the parts of its cycle time.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    /// Its place among the replication's arrivals, from 1.
    pub arrival_no: u64,
    /// The engine's case number (0: the engine never opened it).
    pub case: u64,
    /// Its arrival stream (index into the scenario's `arrivals`).
    pub stream: u16,
    /// Whether it arrived after the warm-up (the KPIs count only these).
    pub measured: bool,
    /// Arrival, minutes since the scenario's start.
    pub arrival: f64,
    /// End of pickup (or the return), minutes since the start.
    pub end: f64,
    /// `approved`, `partially_approved`, `denied`, `returned` (退件), or empty.
    pub outcome: &'static str,
    /// On time (see the scenario's `on_time`).
    pub on_time: bool,
    /// Trips to the hall, as the engine counts them.
    pub trips: u32,
    /// Stars given at the delivery window (`None`: not rated there; a default rating comes later).
    pub rating: Option<u8>,
    /// Cycle time, calendar minutes.
    pub cycle: f64,
    /// Cycle time, working minutes.
    pub cycle_working: f64,
    /// Queue waits (windows and the approval walk).
    pub queue: f64,
    /// Join waits.
    pub join: f64,
    /// Waits for materials.
    pub materials: f64,
    /// Special procedures on the approval walk.
    pub special_procedure: f64,
    /// Service at windows and reviews on the approval walk.
    pub service: f64,
}

/// One service at a station.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VisitRow {
    /// The case's place among the replication's arrivals, from 1.
    pub arrival_no: u64,
    /// The case's arrival stream.
    pub stream: u16,
    /// The station (index into `Rows::stations`).
    pub station: u16,
    /// For a review, the member of the case's bundle reviewed (`None` at a window).
    pub member: Option<u16>,
    /// When it joined the queue, minutes since the start.
    pub queued: f64,
    /// When service began.
    pub started: f64,
    /// When service ended.
    pub ended: f64,
}

impl BundleResult {
    pub(super) fn new() -> BundleResult {
        BundleResult { cycle: Tally::with_histogram(), on_time: Tally::default() }
    }
}
