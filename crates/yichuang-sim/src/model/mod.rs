//! One replication: the discrete-event loop around the real [`Engine`].
//!
//! **Architecture invariant:** the simulator decides nothing the engine decides. It owns the
//! clock, the random streams and the resources (windows, reviewers, queues); it issues commands
//! as the actors would (clerks, reviewers, applicants, supervisors) and reacts to the events the
//! engine records: `TaskReady` puts the task in its department's queue, `CaseDecided` sends the
//! applicant to the delivery window, `TicketOpened` starts the ticket work, and so on. Which
//! tasks are ready, what is tolerated, when a case is decided, when timers fire: the engine's.
//!
//! Hot-path discipline: events are plain `Copy` payloads in the [`Agenda`] (a ring of
//! quarter-minute buckets backed by a heap of integer keys); queues, slots and the engine's
//! output buffer are allocated once and reused; the engine's events are digested as they are
//! recorded into the few facts the simulator reacts to ([`Fact`]); random numbers come from
//! keyed SplitMix streams (no allocation).
//!
//! The one type [`Replication`] is split over several files, one concern each (as
//! rust-analyzer splits its type inference over `infer/{expr,pat,coerce}.rs`):
//!
//! - `mod.rs`: the state, the event loop, the simulated clock and the engine's timers, slots;
//! - [`arrivals`]: the arrival streams and a new case's draws;
//! - [`queues`]: stations, their queues and servers;
//! - [`behaviour`]: what clerks, reviewers and applicants do when their work ends;
//! - [`facts`]: commands to the engine, the facts kept of its events, the reactions to them;
//! - [`tickets`]: ticket work;
//! - [`kpi`]: KPI attribution (the parts of the cycle time along the approval walk) and measurement;
//! - [`results`]: what a replication measured.

mod arrivals;
mod behaviour;
mod facts;
mod kpi;
mod queues;
mod results;
mod tickets;

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use yichuang_core::definition::{BundleIx, MaterialIx};
use yichuang_core::{Actor, Applicant, CaseId, Command, Definition, Engine, Id, Role, TaskCommand};

use crate::SimError;
use crate::agenda::Agenda;
use crate::clock::{Clock, calendar_end, floor_minutes, past_the_end};
use crate::random::{Stream, derive};
use crate::scenario::{CLASSES, Rate, Scenario, Stop, WarmUp, class_name};
use crate::stats::{Level, Tally};
use facts::{EventCounts, MemberInfo, Notices};
pub(crate) use facts::{EveryEvent, FactsOnly, Keep};
use queues::{Job, Station};
pub use results::{BundleResult, CaseRow, Gantt, RepResult, Rows, Series, StationResult, VisitRow};

/// Why a replication stopped, boxed: the hot functions return `Result<_, Fail>` in a register
/// (a `SimError` is a dozen words, copied through every `?`).
type Fail = Box<SimError>;

// Purposes of keyed random draws (per case); the second key part is the occurrence.
const P_CONSULT: u64 = 1;
const P_ANSWER: u64 = 2;
const P_MISSING: u64 = 3;
const P_GREEN: u64 = 4;
const P_BLOCKED: u64 = 5;
const P_SERVICE: u64 = 6;
const P_REVIEW: u64 = 7;
const P_DENY: u64 = 8;
const P_SPECIAL: u64 = 9;
const P_SPECIAL_TIME: u64 = 10;
const P_SUPPLY: u64 = 11;
const P_RETURN: u64 = 12;
const P_RATE: u64 = 13;
const P_COMPLAINT: u64 = 14;
const P_PATIENCE: u64 = 15;
const P_BALK: u64 = 16;
const P_COME_BACK: u64 = 17;
const K_ARRIVALS: u64 = 0xA771_7A15;
const K_TICKETS: u64 = 0x071C_6E75;

/// Station positions 0–2 are the window classes; departments follow.
const WINDOW_STATIONS: usize = 3;
const INTAKE: usize = 1;
const DELIVERY: usize = 2;
/// Slot is unused.
const NO_CASE: u64 = 0;
/// Case number without a slot (in `by_id`).
const NO_SLOT: u32 = u32::MAX;
/// Most queue-length samples kept per replication before the series is thinned.
const MAX_SAMPLES: usize = 1000;
/// Most prebuilt `Submit` commands kept per arrival stream.
const MAX_SUBMIT_VARIANTS: usize = 256;

/// The number of distinct submissions of a stream (answer choices × materials withheld ×
/// credit × green channel), if at most [`MAX_SUBMIT_VARIANTS`].
fn submit_variants(plan: &crate::scenario::ArrivalPlan) -> Option<usize> {
    if plan.missing.len() > MAX_SUBMIT_VARIANTS.ilog2() as usize {
        return None;
    }
    let mut n = 4usize << plan.missing.len();
    for a in &plan.answers {
        n = n.checked_mul(a.choices.len())?;
    }
    (n <= MAX_SUBMIT_VARIANTS).then_some(n)
}

/// Member timestamps unset.
const UNSET: f64 = f64::NAN;

#[derive(Debug, Clone, Copy)]
enum What {
    Arrival {
        stream: u16,
    },
    WindowDone {
        station: u16,
        server: u32,
        slot: u32,
        generation: u32,
    },
    ReviewDone {
        station: u16,
        server: u32,
        slot: u32,
        generation: u32,
        member: u16,
    },
    SpecialEnd {
        slot: u32,
        generation: u32,
        member: u16,
    },
    Supply {
        slot: u32,
        generation: u32,
        material: u32,
    },
    Return {
        slot: u32,
        generation: u32,
    },
    TicketStep {
        ticket: u64,
    },
    Wake,
    Sample,
    MeasureStart,
    /// A station's staffing changes (a shift of its schedule begins or ends).
    Staff {
        station: u16,
    },
    /// An applicant's patience runs out in a window queue (`token` names the visit).
    Renege {
        slot: u32,
        generation: u32,
        token: u16,
    },
    /// An applicant who gave up a later visit comes back to the window.
    ComeBack {
        slot: u32,
        generation: u32,
        station: u16,
    },
}

/// The most servers a weekly staffing timeline ever staffs (0 without one).
fn peak(timeline: Option<&[(u32, u32)]>) -> u32 {
    timeline.map_or(0, |t| t.iter().map(|&(_, c)| c).max().unwrap_or(0))
}

/// Per-case bookkeeping of one approval task.
#[derive(Debug, Clone, Copy)]
struct MemberRec {
    ready: f64,
    claimed: f64,
    done: f64,
    /// Calendar minutes queued at its departments (every visit, every countersign).
    queue_wait: f64,
    /// Calendar minutes it was held only by a tolerated material after its gate opened.
    cure_wait: f64,
    /// Calendar minutes under review (every visit, every countersign; closed hours included).
    review: f64,
    /// Calendar minutes in special procedures (特别程序).
    special: f64,
    /// Calendar minutes held while the case was suspended (暂停办理).
    held: f64,
    visits: u16,
    sign: u8,
    /// The review level under way (分级审批), and how many levels were claimed.
    level: u8,
    claims: u8,
    special_done: bool,
}

const MEMBER_EMPTY: MemberRec = MemberRec {
    ready: UNSET,
    claimed: UNSET,
    done: UNSET,
    queue_wait: 0.0,
    cure_wait: 0.0,
    review: 0.0,
    special: 0.0,
    held: 0.0,
    visits: 0,
    sign: 0,
    level: 0,
    claims: 0,
    special_done: false,
};

/// One simulated case (an applicant and their application) while it is in the system.
#[derive(Debug, Clone, Copy)]
struct CaseRec {
    id: u64,
    generation: u32,
    stream: u16,
    /// The bundle of its stream (what [`Replication::bundle_of`] reads on every reaction).
    bundle: BundleIx,
    key: u64,
    /// Arrival number among measured cases (batch key), or `None` during warm-up.
    measured: Option<u64>,
    green: bool,
    blocked: bool,
    missing: u64,
    arrival: f64,
    arrival_w: f64,
    /// Calendar minutes queued at windows (every visit).
    window_wait: f64,
    /// Calendar minutes served at windows (every visit; closed hours included).
    window_service: f64,
    /// Calendar minutes a window visit was held while the case was suspended.
    held: f64,
    /// Calendar minutes away after correction notices (补正).
    docs_wait: f64,
    away_since: f64,
    accepted: f64,
    decided: f64,
    cure_hold: f64,
    on_time_sla: bool,
    awaiting_cure: bool,
    suspended: bool,
    /// Delivered (issue before cure) while a tolerated material is outstanding: the applicant
    /// has left, the slot stays until the supply (or the revocation).
    lingering: bool,
    visits: [u16; 3],
    returns: u16,
    /// Later visits given up (reneged), each a failed trip.
    failed_trips: u16,
    /// Why the applicant left without results: 0 not, 1 balked, 2 reneged.
    lost: u8,
    /// The window visit now queued (the job's `member`), to tell a stale patience event.
    queue_token: u16,
    /// The window station it queues at.
    queue_station: u8,
    /// Its place among the replication's arrivals, from 1.
    arrival_no: u64,
    /// Stars given at the delivery window (0: none).
    rating: u8,
    spans: [(f64, f64); 4],
}

impl CaseRec {
    fn empty(bundle: BundleIx) -> CaseRec {
        CaseRec {
            id: NO_CASE,
            generation: 0,
            stream: 0,
            bundle,
            key: 0,
            measured: None,
            green: false,
            blocked: false,
            missing: 0,
            arrival: 0.0,
            arrival_w: 0.0,
            window_wait: 0.0,
            window_service: 0.0,
            held: 0.0,
            docs_wait: 0.0,
            away_since: 0.0,
            accepted: UNSET,
            decided: UNSET,
            cure_hold: 0.0,
            on_time_sla: true,
            awaiting_cure: false,
            suspended: false,
            lingering: false,
            visits: [0; 3],
            returns: 0,
            failed_trips: 0,
            lost: 0,
            queue_token: 0,
            queue_station: 0,
            arrival_no: 0,
            rating: 0,
            spans: [(UNSET, UNSET); 4],
        }
    }
}

/// A ticket the simulated staff are working.
#[derive(Debug, Clone)]
struct TicketRec {
    department: Id,
    opened: f64,
    step: u32,
}

/// The cheap per-replication view of the scenario's actors and templates.
struct StreamTemplate {
    applicant: [Applicant; 2],
    actor: Actor,
    full_materials: Vec<(MaterialIx, Id)>,
    all_ids: Vec<Id>,
    missing: Vec<(MaterialIx, f64)>,
    /// Prebuilt `Submit` commands by variant ([`Replication::cached_submit`]); empty when the
    /// stream has more than [`MAX_SUBMIT_VARIANTS`] variants.
    submits: Vec<Option<Command>>,
    rng: Stream,
    count: u64,
    trace_pos: usize,
}

/// One replication in progress; `K` is what it keeps of the engine's events besides the facts
/// (nothing, [`FactsOnly`], unless an event log is asked for).
pub(crate) struct Replication<'s, K: Keep = FactsOnly> {
    sc: &'s Scenario,
    def: Arc<Definition>,
    engine: Engine,
    clock: Clock,
    rep: u32,
    rep_key: u64,
    now: f64,
    /// The engine instant of `now` (its whole minute).
    now_i: yichuang_core::Instant,
    now_w: f64,
    /// The hall never closes: working time is calendar time.
    always_open: bool,
    /// Simulated time of the first instant the definition's calendar does not cover.
    calendar_end: f64,
    advanced_to: i64,
    wake_at: f64,
    /// The engine ran a command or fired timers since the last look at its next deadline
    /// (otherwise the deadline, hence the wake-up, is unchanged).
    timers_touched: bool,
    agenda: Agenda<What>,
    out: Notices<K>,
    cases: Vec<CaseRec>,
    members: Vec<MemberRec>,
    stride: usize,
    free: Vec<u32>,
    /// Slot of each open case, by case number (the engine numbers cases 1, 2, 3… and keeps
    /// them in a vector too): `NO_SLOT` for closed ones.
    by_id: Vec<u32>,
    stations: Vec<Station>,
    dept_station: Vec<u32>,
    /// Per bundle (by index), its members in order (shared, so that a prebuilt command can be
    /// passed to [`Replication::exec`]).
    members_of: Rc<[Vec<MemberInfo>]>,
    /// Per bundle, the addresses of its members' item ids (what [`Replication::member_of`]
    /// scans first: the engine's events carry the definition's own ids).
    member_addrs: Vec<Vec<usize>>,
    dirty: Vec<u16>,
    streams: Vec<StreamTemplate>,
    supervisor: Option<Actor>,
    tickets: HashMap<u64, TicketRec>,
    parked: Vec<(u16, Job)>,
    arrivals: u64,
    arrivals_limit: u64,
    arrivals_open: usize,
    /// Arrivals are counted at the stations (measuring, and arrivals still to come).
    counting_arrivals: bool,
    /// When the last arrival came, in calendar and working minutes (`None` while arrivals
    /// may still come, and under a `Days` stop).
    arrivals_end: Option<(f64, f64)>,
    /// What [`Replication::chain`] reuses from case to case.
    chain_scratch: Option<Box<kpi::ChainScratch>>,
    /// A measured case spent time in a special procedure (until then `result.special` is not
    /// kept: see [`Replication::complete`]).
    special_seen: bool,
    measured_arrivals: u64,
    active: u32,
    measuring: bool,
    measure_start: f64,
    measure_start_w: f64,
    horizon: f64,
    wip: Level,
    /// What the current command is (for attributing TaskReady to a supplied material).
    supplying: bool,
    result: RepResult,
    bundle_pos: Vec<usize>,
    gantt_done: bool,
    progress: Option<&'s AtomicU64>,
    progress_done: u64,
    events_handled: u64,
}

/// Progress units of one replication.
pub(crate) const PROGRESS_UNITS: u64 = 1000;

impl<'s, K: Keep> Replication<'s, K> {
    /// Keeps a row for every case and every visit ([`RepResult::rows`]).
    pub fn with_rows(mut self) -> Self {
        self.result.rows = Some(Box::default());
        self
    }

    pub fn new(
        sc: &'s Scenario,
        def: Arc<Definition>,
        rep: u32,
        seed: u64,
        cases: Option<u64>,
        progress: Option<&'s AtomicU64>,
    ) -> Replication<'s, K> {
        let rep_key = derive(seed, u64::from(rep));
        let spec = &sc.spec;
        let stop = match cases {
            Some(n) => Stop::Cases(n),
            None => spec.stop,
        };
        let (arrivals_limit, horizon) = match stop {
            Stop::Cases(n) => (n, f64::INFINITY),
            Stop::Days(d) => (u64::MAX, d * 1440.0),
        };
        let mut stations = Vec::new();
        for (pos, class) in CLASSES.iter().enumerate() {
            let timeline = sc.window_timelines[pos].clone();
            let servers = sc.windows[pos].as_ref().map_or(0, |w| w.0).max(peak(timeline.as_deref()));
            let windows: Vec<&Id> = def.windows().iter().filter(|w| w.class == *class).map(|w| &w.id).collect();
            let actors = (0..servers)
                .map(|i| {
                    // The definition's own ids: the engine's checks compare them by pointer.
                    let window = windows[i as usize % windows.len().max(1)].clone();
                    let id = Id::new(&format!("clerk-{}-{}", class_name(*class), i + 1));
                    Actor { id, role: Role::Clerk { window } }
                })
                .collect();
            stations.push(Station::new(class_name(*class).to_owned(), servers, actors).staffed(timeline));
        }
        let mut dept_station = vec![u32::MAX; def.departments().len()];
        for (d, &count) in sc.reviewers.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let id = &def.departments()[d].id;
            dept_station[d] = stations.len() as u32;
            let timeline = sc.reviewer_timelines[d].clone();
            let count = count.max(peak(timeline.as_deref()));
            // One identity per server and review level (受审分离: a level is signed by someone
            // who signed no other level of the task); the levels share the department's servers.
            let levels = def
                .items()
                .iter()
                .filter(|i| i.decided_by.departments()[0].index() == d)
                .map(|i| i.levels.len())
                .max()
                .unwrap_or(1);
            let actors = (0..levels)
                .flat_map(|level| {
                    (0..count).map(move |i| {
                        let name = match level {
                            0 => Id::new(&format!("reviewer-{id}-{}", i + 1)),
                            _ => Id::new(&format!("reviewer-{id}-{}-level-{}", i + 1, level + 1)),
                        };
                        Actor { id: name, role: Role::Reviewer { department: id.clone() } }
                    })
                })
                .collect();
            stations.push(Station::new(id.to_string(), count, actors).staffed(timeline));
        }
        let members_of: Rc<[Vec<MemberInfo>]> = def
            .bundles()
            .iter()
            .map(|b| {
                b.members
                    .iter()
                    .map(|m| {
                        let item = def.item(m.item);
                        let task = |action| Command::Task { item: item.id.clone(), action };
                        MemberInfo {
                            id: item.id.clone(),
                            station: dept_station[item.decided_by.departments()[0].index()],
                            claim: task(TaskCommand::Claim),
                            approve: task(TaskCommand::Approve),
                        }
                    })
                    .collect()
            })
            .collect::<Vec<_>>()
            .into();
        let streams = sc
            .arrivals
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let bundle = def.bundle(a.bundle);
                let id = Id::new(&format!("applicant-{}-{}", k + 1, a.bundle_id));
                // No name: simulated applicants appear on no notice, and an empty `String` costs no
                // allocation in each of the case's copies (the engine keeps one per case until
                // its default rating, days later, so its memory would be cold when reused).
                let applicant = |blocked| Applicant { id: id.clone(), name: String::new(), credit_blocked: blocked };
                let full_materials: Vec<(MaterialIx, Id)> = bundle
                    .materials
                    .iter()
                    .filter(|(m, _)| def.material(*m).shared_source.is_none())
                    .map(|(m, _)| (*m, def.material(*m).id.clone()))
                    .collect();
                StreamTemplate {
                    all_ids: full_materials.iter().map(|(_, id)| id.clone()).collect(),
                    applicant: [applicant(false), applicant(true)],
                    actor: Actor { id: id.clone(), role: yichuang_core::Role::Applicant },
                    full_materials,
                    missing: a.missing.clone(),
                    submits: vec![None; submit_variants(a).unwrap_or(0)],
                    rng: Stream::new(derive(derive(rep_key, K_ARRIVALS), k as u64)),
                    count: 0,
                    trace_pos: 0,
                }
            })
            .collect();
        let supervisor = def
            .departments()
            .iter()
            .find(|d| d.kind == yichuang_core::definition::DepartmentKind::Supervision)
            .map(|d| Actor { id: Id::new("supervisor-1"), role: Role::Supervisor { department: d.id.clone() } });
        let stride = def.bundles().iter().map(|b| b.members.len()).max().unwrap_or(1);
        let mut bundle_pos = vec![usize::MAX; def.bundles().len()];
        let mut bundles = Vec::new();
        for a in &sc.arrivals {
            if bundle_pos[a.bundle.index()] == usize::MAX {
                bundle_pos[a.bundle.index()] = bundles.len();
                bundles.push((a.bundle_id.to_string(), BundleResult::new()));
            }
        }
        let capacity = 4096;
        let result = RepResult {
            replication: rep,
            cycle: Tally::with_histogram(),
            cycle_working: Tally::with_histogram(),
            closed: Tally::with_histogram(),
            queue: Tally::with_histogram(),
            join: Tally::with_histogram(),
            materials: Tally::with_histogram(),
            service: Tally::with_histogram(),
            special: Tally::with_histogram(),
            trips: Tally::with_histogram(),
            ticket_closure: Tally::with_histogram(),
            bundles,
            ..RepResult::default()
        };
        let clock = Clock::new(sc.start, spec.hall == crate::scenario::Hall::AlwaysOpen);
        let mut engine = Engine::new(def.clone());
        // The engine holds the cases in flight and those awaiting their default rating (finished
        // ones are retired): room for a typical number of them at once.
        if arrivals_limit != u64::MAX {
            engine.reserve_cases(arrivals_limit.min(1 << 14) as usize);
        }
        let now_i = clock.instant(0.0);
        let end = clock.time_of(calendar_end(def.calendar()));
        Replication {
            sc,
            engine,
            def,
            clock,
            rep,
            rep_key,
            now: 0.0,
            now_i,
            now_w: 0.0,
            always_open: spec.hall == crate::scenario::Hall::AlwaysOpen,
            calendar_end: end,
            advanced_to: -1,
            wake_at: f64::INFINITY,
            timers_touched: false,
            agenda: Agenda::with_capacity(capacity),
            out: Notices { facts: Vec::with_capacity(64), counts: EventCounts::new(), kept: K::default() },
            cases: Vec::with_capacity(capacity),
            members: Vec::with_capacity(capacity * stride),
            stride,
            free: Vec::with_capacity(capacity),
            by_id: Vec::with_capacity(capacity),
            stations,
            dept_station,
            member_addrs: members_of.iter().map(|ms| ms.iter().map(|m| m.id.as_ptr().addr()).collect()).collect(),
            members_of,
            dirty: Vec::new(),
            streams,
            supervisor,
            tickets: HashMap::new(),
            parked: Vec::new(),
            arrivals: 0,
            arrivals_limit,
            arrivals_open: 0,
            counting_arrivals: false,
            arrivals_end: None,
            chain_scratch: None,
            special_seen: false,
            measured_arrivals: 0,
            active: 0,
            measuring: false,
            measure_start: 0.0,
            measure_start_w: 0.0,
            horizon,
            wip: Level::default(),
            supplying: false,
            result,
            bundle_pos,
            gantt_done: false,
            progress,
            progress_done: 0,
            events_handled: 0,
        }
    }

    #[inline]
    fn schedule(&mut self, t: f64, what: What) {
        self.agenda.push(t, what);
    }

    /// Runs the replication to its stop rule.
    pub fn run(self) -> Result<RepResult, SimError> {
        self.run_boxed().map(|(result, _)| result).map_err(|e| *e)
    }

    /// Runs the replication and hands back what it kept of the engine's events too.
    pub fn run_keeping(self) -> Result<(RepResult, K), SimError> {
        self.run_boxed().map_err(|e| *e)
    }

    fn run_boxed(mut self) -> Result<(RepResult, K), Fail> {
        let wall = std::time::Instant::now();
        for k in 0..self.streams.len() {
            self.arrivals_open += 1;
            self.next_arrival(k, 0.0);
        }
        match self.sc.spec.warm_up {
            // `Auto` is resolved before a measured run; its pilot measures everything.
            WarmUp::None | WarmUp::Auto => self.begin_measuring(),
            WarmUp::Days(d) => self.schedule(d * 1440.0, What::MeasureStart),
            WarmUp::Cases(_) => {}
        }
        for station in 0..self.stations.len() {
            if self.stations[station].staffing.is_some() {
                self.restaff(station);
            }
        }
        let every = self.sample_interval();
        self.result.series.every = every;
        self.result.series.queues = vec![Vec::new(); self.stations.len()];
        self.schedule(0.0, What::Sample);
        while let Some((t, what)) = self.agenda.pop() {
            if t > self.horizon {
                break;
            }
            self.set_now(t)?;
            self.handle(what)?;
            self.dispatch()?;
            if std::mem::take(&mut self.timers_touched) {
                self.schedule_wake();
            }
            if self.arrivals_open == 0 && self.active == 0 {
                break;
            }
            self.events_handled += 1;
            if self.events_handled & 1023 == 0 {
                self.report_progress();
            }
        }
        let end = if self.horizon.is_finite() { self.horizon } else { self.now };
        self.finish(end)?;
        self.result.wall_seconds = wall.elapsed().as_secs_f64();
        if let Some(p) = self.progress {
            p.fetch_add(PROGRESS_UNITS - self.progress_done, AtomicOrdering::Relaxed);
        }
        Ok((self.result, self.out.kept))
    }

    #[inline(never)]
    fn report_progress(&mut self) {
        let Some(p) = self.progress else { return };
        let fraction = if self.horizon.is_finite() {
            self.now / self.horizon
        } else {
            self.arrivals as f64 / self.arrivals_limit.max(1) as f64
        };
        let units = ((fraction * PROGRESS_UNITS as f64) as u64).min(PROGRESS_UNITS - 1);
        if units > self.progress_done {
            p.fetch_add(units - self.progress_done, AtomicOrdering::Relaxed);
            self.progress_done = units;
        }
    }

    fn sample_interval(&self) -> f64 {
        if let Some(m) = self.sc.spec.sample_every_minutes {
            return m;
        }
        let duration = if self.horizon.is_finite() {
            self.horizon
        } else {
            let per_minute: f64 = self
                .sc
                .arrivals
                .iter()
                .map(|a| match &a.rate {
                    Rate::PerHour(r) => r / 60.0,
                    Rate::Hourly { per_hour, .. } => per_hour.iter().sum::<f64>() / 1440.0,
                    Rate::Trace(t) => t.len() as f64 / t.last().copied().unwrap_or(1.0).max(1.0),
                })
                .sum();
            self.arrivals_limit as f64 / per_minute.max(1e-9)
        };
        (duration / 500.0).max(1.0)
    }

    fn set_now(&mut self, t: f64) -> Result<(), Fail> {
        if t >= self.calendar_end {
            return Err(self.past_calendar());
        }
        self.now = t;
        let minute = floor_minutes(t);
        self.now_i = self.clock.instant_at(minute);
        self.now_w = if self.always_open {
            t
        } else {
            self.clock.work(self.def.calendar(), t).map_err(|e| self.calendar_error(e))?
        };
        if minute > self.advanced_to {
            self.advanced_to = minute;
            // Nothing due: advancing would record nothing and change nothing (not even the next
            // deadline, for which a wake-up is already scheduled).
            if self.engine.next_deadline().is_some_and(|d| d <= self.now_i) {
                self.advance_engine()?;
            }
        }
        Ok(())
    }

    fn advance_engine(&mut self) -> Result<(), Fail> {
        self.timers_touched = true;
        self.engine.advance_into(self.now_i, &mut self.out);
        self.note_recorded(None)
    }

    fn schedule_wake(&mut self) {
        if let Some(d) = self.engine.next_deadline() {
            let t = self.clock.time_of(d).max(self.now);
            if t < self.wake_at {
                self.wake_at = t;
                self.schedule(t, What::Wake);
            }
        }
    }

    /// Simulated time reached the end of the calendar's last year. Past it the engine can
    /// schedule no deadline (so nothing would ever be late), and an office-hours hall has no
    /// office hours: the run stops with an error rather than report such figures.
    /// When arrivals are still owed under a `Cases` stop, the message says how many came.
    #[cold]
    #[inline(never)]
    fn past_calendar(&self) -> Fail {
        let cal = self.def.calendar();
        let (at, mut error) = (calendar_end(cal).to_string(), past_the_end(cal).to_string());
        if self.arrivals_open > 0 && self.arrivals_limit != u64::MAX {
            let n = self.arrivals_limit;
            error.push_str(&format!(
                "; only {} of the {n} arrivals asked for (`Cases({n})` or `--cases`) came before it: raise the \
                 arrival rates or ask for fewer cases",
                self.arrivals
            ));
        }
        Box::new(SimError::Calendar { replication: self.rep, at, error })
    }

    #[cold]
    fn calendar_error(&self, e: yichuang_core::CalendarError) -> Fail {
        Box::new(SimError::Calendar { replication: self.rep, at: self.now_i.to_string(), error: e.to_string() })
    }

    fn handle(&mut self, what: What) -> Result<(), Fail> {
        match what {
            What::Arrival { stream } => self.arrive(stream as usize),
            What::WindowDone { station, server, slot, generation } => {
                self.release(station as usize, server);
                if self.cases[slot as usize].generation == generation {
                    self.window_done(station as usize, server, slot)?;
                }
                Ok(())
            }
            What::ReviewDone { station, server, slot, generation, member } => {
                self.release(station as usize, server);
                if self.cases[slot as usize].generation == generation {
                    self.review_done(station as usize, server, slot, member)?;
                }
                Ok(())
            }
            What::SpecialEnd { slot, generation, member } => {
                if self.cases[slot as usize].generation == generation {
                    self.special_end(slot, member)?;
                }
                Ok(())
            }
            What::Supply { slot, generation, material } => {
                if self.cases[slot as usize].generation == generation {
                    self.supply(slot, material)?;
                }
                Ok(())
            }
            What::Return { slot, generation } => {
                if self.cases[slot as usize].generation == generation {
                    let c = &mut self.cases[slot as usize];
                    c.docs_wait += self.now - c.away_since;
                    self.enqueue(INTAKE, slot, 0);
                }
                Ok(())
            }
            What::TicketStep { ticket } => self.ticket_step(ticket),
            What::Wake => {
                self.wake_at = f64::INFINITY;
                self.advance_engine()
            }
            What::Staff { station } => {
                self.restaff(station as usize);
                Ok(())
            }
            What::Renege { slot, generation, token } => {
                if self.cases[slot as usize].generation == generation {
                    self.renege(slot, token)?;
                }
                Ok(())
            }
            What::ComeBack { slot, generation, station } => {
                if self.cases[slot as usize].generation == generation {
                    let c = &mut self.cases[slot as usize];
                    // Away after giving up a queue: a wait the queue caused.
                    c.window_wait += self.now - c.away_since;
                    self.enqueue(station as usize, slot, 0);
                }
                Ok(())
            }
            What::Sample => {
                self.sample();
                Ok(())
            }
            What::MeasureStart => {
                self.begin_measuring();
                Ok(())
            }
        }
    }

    fn alloc(&mut self) -> u32 {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        self.cases.push(CaseRec::empty(self.sc.arrivals[0].bundle));
        self.members.extend(std::iter::repeat_n(MEMBER_EMPTY, self.stride));
        (self.cases.len() - 1) as u32
    }

    fn bundle_of(&self, slot: u32) -> BundleIx {
        self.cases[slot as usize].bundle
    }

    fn draw(&self, slot: u32, purpose: u64, n: u64) -> Stream {
        Stream::new(derive(derive(self.cases[slot as usize].key, purpose), n))
    }

    /// The applicant has left the hall.
    fn leave(&mut self) {
        self.active -= 1;
        self.wip.set(self.now, self.active);
    }

    /// Forgets a case: its slot, pending events and queued jobs become stale.
    ///
    /// The engine lets go of it too, so that memory stays bounded by the open cases (the
    /// statistics are streaming already): a final case is retired now; a delivered one waiting
    /// for its default rating gives its working memory back now and is retired when rated.
    fn free_slot(&mut self, slot: u32) {
        if !self.parked.is_empty() {
            self.parked.retain(|(_, j)| j.slot != slot);
        }
        let c = &mut self.cases[slot as usize];
        if let Some(s) = self.by_id.get_mut(c.id as usize) {
            *s = NO_SLOT;
        }
        let id = CaseId(c.id);
        if self.engine.retire(id).is_none() {
            self.engine.compact(id);
        }
        let c = &mut self.cases[slot as usize];
        c.id = NO_CASE;
        c.generation = c.generation.wrapping_add(1);
        self.free.push(slot);
    }
}

#[derive(Debug, Clone, Copy)]
enum ActorRef {
    Server(usize, u32),
    Applicant(u16),
}
