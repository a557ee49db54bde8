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

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use yichuang_core::definition::{Bundle, BundleIx, MaterialIx, MilestoneRule};
use yichuang_core::event::SlaSubject;
use yichuang_core::sla::SlaLevel;
use yichuang_core::{
    Actor, Applicant, CaseId, CaseState, Channel, Command, ComplaintTarget, Ctx, Definition, DeliveryMethod, Engine,
    Event, EventSink, FailKind, Id, MemberSet, Outcome, Rejection, Role, StreamId, Submission, TaskCommand, TaskState,
    TicketCommand, TicketId, TicketSource, TicketState,
};

use crate::SimError;

/// Why a replication stopped, boxed: the hot functions return `Result<_, Fail>` in a register
/// (a `SimError` is a dozen words, copied through every `?`).
type Fail = Box<SimError>;
use crate::agenda::Agenda;
use crate::clock::{Clock, calendar_end, floor_minutes, past_the_end};
use crate::random::{Stream, derive};
use crate::scenario::{CLASSES, OnTime, Rate, Scenario, Stop, WarmUp, class_name};
use crate::stats::{Level, Tally};

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
    Arrival { stream: u16 },
    WindowDone { station: u16, server: u32, slot: u32, generation: u32 },
    ReviewDone { station: u16, server: u32, slot: u32, generation: u32, member: u16 },
    SpecialEnd { slot: u32, generation: u32, member: u16 },
    Supply { slot: u32, generation: u32, material: u32 },
    Return { slot: u32, generation: u32 },
    TicketStep { ticket: u64 },
    Wake,
    Sample,
    MeasureStart,
}

/// The event kinds every case goes through, counted through [`EventCounts::pos`] rather than
/// by name; their names, as [`Event::name`] gives them.
const FREQUENT_KINDS: usize = 12;
const FREQUENT_NAMES: [&str; FREQUENT_KINDS] = [
    "TaskReady",
    "TaskClaimed",
    "TaskApproved",
    "CaseDecided",
    "Delivered",
    "Accepted",
    "Submitted",
    "Consulted",
    "Rated",
    "MaterialSupplied",
    "TaskSigned",
    "SlaLevelChanged",
];

/// What the simulator reacts to in one engine event. The event itself is dropped as it is
/// recorded: only these few fields are kept (and moved, not copied).
#[derive(Debug)]
enum Fact {
    /// `TaskReady`.
    TaskReady(Id),
    /// `TaskApproved`, `TaskDenied` or `TaskCancelled`.
    TaskDone(Id),
    /// `CaseDecided` (its outcome is read from the case at pickup).
    CaseDecided {
        awaiting_cure: bool,
    },
    CaseSuspended,
    CaseResumed,
    /// `CaseReturned`, `Withdrawn` or `Rejected`.
    CaseLeft,
    Revoked,
    Rated {
        stars: u8,
        by_default: bool,
    },
    /// `SlaLevelChanged` to 预警 or 逾期: of a task's clock or the case's.
    SlaRaised {
        task: bool,
        overdue: bool,
    },
    /// `TicketOpened`: the source's kind and the responsible department.
    TicketOpened(Box<(&'static str, Id)>),
    /// `TicketClosed` or `TicketAppealUpheld`.
    TicketClosed,
    /// Anything else (counted only).
    Other,
}

/// Engine events by kind, in the order first seen.
#[derive(Debug)]
struct EventCounts {
    events: Vec<(&'static str, u64)>,
    /// Position in `events` of each frequent kind, `u32::MAX` until first seen.
    pos: [u32; FREQUENT_KINDS],
}

impl EventCounts {
    fn new() -> EventCounts {
        EventCounts { events: Vec::new(), pos: [u32::MAX; FREQUENT_KINDS] }
    }

    /// Counts one event of frequent kind `kind`.
    #[inline]
    fn frequent(&mut self, kind: usize) {
        match self.pos[kind] {
            u32::MAX => self.pos[kind] = self.named(FREQUENT_NAMES[kind]) as u32,
            pos => self.events[pos as usize].1 += 1,
        }
    }

    /// Counts one event by name; returns its position in the counts.
    #[cold]
    #[inline(never)]
    fn named(&mut self, name: &'static str) -> usize {
        let events = &mut self.events;
        let found = events
            .iter()
            .position(|(n, _)| std::ptr::eq(*n, name))
            .or_else(|| events.iter().position(|(n, _)| *n == name));
        match found {
            Some(i) => {
                events[i].1 += 1;
                i
            }
            None => {
                events.push((name, 1));
                events.len() - 1
            }
        }
    }

    /// Counts `event` and keeps what the simulator reacts to.
    #[inline(always)]
    fn digest(&mut self, event: Event) -> Fact {
        #[cfg(debug_assertions)]
        let name = event.name();
        let (kind, fact) = match event {
            Event::TaskReady { item } => (0, Fact::TaskReady(item)),
            // Moving the fields out drops them by type, without a second dispatch on the kind.
            Event::TaskClaimed { item, reviewer } => {
                drop((item, reviewer));
                (1, Fact::Other)
            }
            Event::TaskApproved { item } => (2, Fact::TaskDone(item)),
            Event::CaseDecided { awaiting_cure, .. } => (3, Fact::CaseDecided { awaiting_cure }),
            Event::Delivered { .. } => (4, Fact::Other),
            Event::Accepted { .. } => (5, Fact::Other),
            Event::Submitted { .. } => (6, Fact::Other),
            Event::Consulted { .. } => (7, Fact::Other),
            Event::Rated { stars, by_default } => (8, Fact::Rated { stars, by_default }),
            Event::MaterialSupplied { material } => {
                drop(material);
                (9, Fact::Other)
            }
            Event::TaskSigned { item, department } => {
                drop((item, department));
                (10, Fact::Other)
            }
            Event::SlaLevelChanged { subject, level } => {
                let fact = match level {
                    SlaLevel::Normal => Fact::Other,
                    level => Fact::SlaRaised {
                        task: matches!(subject, SlaSubject::Task(_)),
                        overdue: level == SlaLevel::Overdue,
                    },
                };
                (11, fact)
            }
            other => {
                self.named(other.name());
                return match other {
                    Event::TaskDenied { item, .. } | Event::TaskCancelled { item, .. } => Fact::TaskDone(item),
                    Event::CaseSuspended => Fact::CaseSuspended,
                    Event::CaseResumed => Fact::CaseResumed,
                    Event::CaseReturned | Event::Withdrawn | Event::Rejected { .. } => Fact::CaseLeft,
                    Event::Revoked => Fact::Revoked,
                    Event::TicketOpened { source, department, .. } => {
                        Fact::TicketOpened(Box::new((source.kind(), department)))
                    }
                    Event::TicketClosed | Event::TicketAppealUpheld => Fact::TicketClosed,
                    _ => Fact::Other,
                };
            }
        };
        #[cfg(debug_assertions)]
        assert_eq!(FREQUENT_NAMES[kind], name, "FREQUENT_NAMES follows the kinds");
        self.frequent(kind);
        fact
    }
}

/// A member of a bundle, as the reactions to its events and the reviewers need it.
#[derive(Debug)]
struct MemberInfo {
    /// The item's id (the definition's own, as the engine's events carry it).
    id: Id,
    /// The station of the first department that decides it.
    station: u32,
    /// `Task { Claim }` on the item, built once (the engine reads commands by reference).
    claim: Command,
    /// `Task { Approve }` on the item, built once.
    approve: Command,
}

/// One event the engine recorded, as the simulator keeps it until it has reacted: the stream
/// and the fact (the log envelope, the actor and the rest of the event are of no use here).
#[derive(Debug)]
struct Notice {
    stream: StreamId,
    fact: Fact,
}

/// The simulator's [`EventSink`]: the facts of one command's events, in order, and the count
/// of every event recorded. (The engine records nothing for a command it refuses.)
#[derive(Debug)]
struct Notices {
    facts: Vec<Notice>,
    counts: EventCounts,
}

impl EventSink for Notices {
    #[inline(always)]
    fn record(&mut self, stream: StreamId, _seq: u32, _at: yichuang_core::Instant, _by: &Actor, event: Event) {
        let fact = self.counts.digest(event);
        // The simulator reacts to nothing in the other events (see `Replication::note`).
        if !matches!(fact, Fact::Other) {
            self.facts.push(Notice { stream, fact });
        }
    }
}

/// A job waiting at a station: a case at a window, or one task of a case at a department.
#[derive(Debug, Clone, Copy)]
struct Job {
    slot: u32,
    generation: u32,
    member: u16,
    since: f64,
}

/// A window class or a department: servers, queues and their statistics.
#[derive(Debug)]
struct Station {
    name: String,
    servers: u32,
    free: Vec<u32>,
    queue: Fifo<Job>,
    priority: Fifo<Job>,
    actors: Vec<Actor>,
    /// Busy servers, on the working-time axis.
    busy: Level,
    /// Queue length, on the calendar-time axis.
    queued: Level,
    wait: Tally,
    served: u64,
    dirty: bool,
}

impl Station {
    fn len(&self) -> u32 {
        (self.queue.len + self.priority.len) as u32
    }
}

/// A first-in first-out queue of `Copy` items: a ring buffer whose capacity is a power of two
/// (a push and a pop are a few instructions; `VecDeque` handles any capacity).
#[derive(Debug)]
struct Fifo<T> {
    /// The ring; its length is the capacity (0 or a power of two).
    buf: Vec<T>,
    /// Position of the first item.
    head: usize,
    /// Items queued.
    len: usize,
}

impl<T> Default for Fifo<T> {
    fn default() -> Fifo<T> {
        Fifo { buf: Vec::new(), head: 0, len: 0 }
    }
}

impl<T: Copy> Fifo<T> {
    #[inline]
    fn push(&mut self, x: T) {
        if self.len == self.buf.len() {
            self.grow(x);
        }
        let mask = self.buf.len() - 1;
        self.buf[(self.head + self.len) & mask] = x;
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let x = self.buf[self.head];
        self.head = (self.head + 1) & (self.buf.len() - 1);
        self.len -= 1;
        Some(x)
    }

    /// Doubles the capacity (at least 16), the items in order from position 0.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, filler: T) {
        let capacity = (self.buf.len() * 2).max(16);
        let mut buf = Vec::with_capacity(capacity);
        buf.extend((0..self.len).map(|i| self.buf[(self.head + i) & (self.buf.len() - 1)]));
        buf.resize(capacity, filler);
        self.buf = buf;
        self.head = 0;
    }
}

/// Per-case bookkeeping of one approval task.
#[derive(Debug, Clone, Copy)]
struct MemberRec {
    ready: f64,
    claimed: f64,
    done: f64,
    queue_wait: f64,
    cure_wait: f64,
    visits: u16,
    sign: u8,
    special_done: bool,
}

const MEMBER_EMPTY: MemberRec = MemberRec {
    ready: UNSET,
    claimed: UNSET,
    done: UNSET,
    queue_wait: 0.0,
    cure_wait: 0.0,
    visits: 0,
    sign: 0,
    special_done: false,
};

/// One simulated case (an applicant and their application) while it is in the system.
#[derive(Debug, Clone, Copy)]
struct CaseRec {
    id: u64,
    generation: u32,
    stream: u16,
    key: u64,
    /// Arrival number among measured cases (batch key), or `None` during warm-up.
    measured: Option<u64>,
    green: bool,
    blocked: bool,
    missing: u64,
    arrival: f64,
    arrival_w: f64,
    window_wait: f64,
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
    spans: [(f64, f64); 4],
}

impl CaseRec {
    fn empty() -> CaseRec {
        CaseRec {
            id: NO_CASE,
            generation: 0,
            stream: 0,
            key: 0,
            measured: None,
            green: false,
            blocked: false,
            missing: 0,
            arrival: 0.0,
            arrival_w: 0.0,
            window_wait: 0.0,
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
    /// Queue waits per visit (calendar minutes), measured cases only.
    pub wait: Tally,
    /// Services completed while measuring.
    pub served: u64,
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
    /// Queue waits (windows + critical chain of approvals).
    pub queue: Tally,
    /// Waits at joins on the critical chain.
    pub join: Tally,
    /// Waits for materials (correction trips, tolerated materials, cure before pickup).
    pub materials: Tally,
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

/// One replication in progress.
pub(crate) struct Replication<'s> {
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
    out: Notices,
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

impl<'s> Replication<'s> {
    pub fn new(
        sc: &'s Scenario,
        def: Arc<Definition>,
        rep: u32,
        seed: u64,
        cases: Option<u64>,
        progress: Option<&'s AtomicU64>,
    ) -> Replication<'s> {
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
            let servers = sc.windows[pos].as_ref().map_or(0, |w| w.0);
            let windows: Vec<&Id> = def.windows().iter().filter(|w| w.class == *class).map(|w| &w.id).collect();
            let actors = (0..servers)
                .map(|i| {
                    // The definition's own ids: the engine's checks compare them by pointer.
                    let window = windows[i as usize % windows.len().max(1)].clone();
                    let id = Id::new(&format!("clerk-{}-{}", class_name(*class), i + 1));
                    Actor { id, role: Role::Clerk { window } }
                })
                .collect();
            stations.push(Station::new(class_name(*class).to_owned(), servers, actors));
        }
        let mut dept_station = vec![u32::MAX; def.departments().len()];
        for (d, &count) in sc.reviewers.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let id = &def.departments()[d].id;
            dept_station[d] = stations.len() as u32;
            let actors = (0..count)
                .map(|i| {
                    let name = Id::new(&format!("reviewer-{id}-{}", i + 1));
                    Actor { id: name, role: Role::Reviewer { department: id.clone() } }
                })
                .collect();
            stations.push(Station::new(id.to_string(), count, actors));
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
            out: Notices { facts: Vec::with_capacity(64), counts: EventCounts::new() },
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
        self.run_boxed().map_err(|e| *e)
    }

    fn run_boxed(mut self) -> Result<RepResult, Fail> {
        let wall = std::time::Instant::now();
        for k in 0..self.streams.len() {
            self.arrivals_open += 1;
            self.next_arrival(k, 0.0);
        }
        match self.sc.spec.warm_up {
            WarmUp::None => self.begin_measuring(),
            WarmUp::Days(d) => self.schedule(d * 1440.0, What::MeasureStart),
            WarmUp::Cases(_) => {}
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
        Ok(self.result)
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

    // ───────────────────────────── arrivals ─────────────────────────────

    fn next_arrival(&mut self, k: usize, from: f64) {
        let sc = self.sc;
        let office_hours = sc.spec.hall == crate::scenario::Hall::OfficeHours;
        let t = match &sc.arrivals[k].rate {
            Rate::PerHour(r) if !office_hours => Some(from + self.streams[k].rng.exp1() * 60.0 / r),
            Rate::PerHour(r) => {
                let need = self.streams[k].rng.exp1();
                self.piecewise_next(from, need, |_, _| r / 60.0)
            }
            Rate::Trace(times) => {
                let s = &mut self.streams[k];
                let t = times.get(s.trace_pos).copied();
                s.trace_pos += 1;
                t
            }
            Rate::Hourly { per_hour, weekdays } => {
                let need = self.streams[k].rng.exp1();
                self.piecewise_next(from, need, |hour, weekday| {
                    per_hour[hour] * weekdays.as_ref().map_or(1.0, |w| w[weekday]) / 60.0
                })
            }
        };
        match t {
            Some(t) if t <= self.horizon => self.schedule(t, What::Arrival { stream: k as u16 }),
            _ => self.arrivals_open = self.arrivals_open.saturating_sub(1),
        }
    }

    /// Inverts the integrated piecewise-constant rate (per minute, by hour of day and weekday):
    /// the time at which `need` expected arrivals have accumulated after `from`. In an
    /// office-hours hall the rate is 0 while the hall is closed.
    ///
    /// `None` when the arrival would come after a `Days` stop. When it would come after the
    /// calendar's end (an office-hours hall has no office hours there), the end itself: the run
    /// stops there with a calendar error, as it does in a 24/7 hall, unless the arrivals owed
    /// have come from other streams before.
    #[inline(never)]
    fn piecewise_next(&self, from: f64, mut need: f64, rate_at: impl Fn(usize, usize) -> f64) -> Option<f64> {
        let cal = self.def.calendar();
        let office_hours = self.sc.spec.hall == crate::scenario::Hall::OfficeHours;
        let open_at = |i: yichuang_core::Instant| cal.working_minutes_between(i, i.plus_minutes(1)).unwrap_or(0) == 1;
        let past_the_end = (self.calendar_end < self.horizon).then_some(self.calendar_end);
        let mut t = from;
        // Each step ends at an hour boundary, an opening or a closing: ten years of hours bound it.
        for _ in 0..(3660 * 24 * 3) {
            if t >= self.horizon {
                return None;
            }
            if t >= self.calendar_end {
                return past_the_end;
            }
            let i = self.clock.instant(t);
            let minute = i.minute_of_day();
            let next_hour = t.floor() + f64::from(60 - minute % 60);
            let mut end = next_hour;
            if office_hours {
                if !open_at(i) {
                    // Closed: jump to the next opening (the start of the next working minute).
                    let Ok(next) = cal.advance_working_minutes(i, 1) else { return past_the_end };
                    t = self.clock.time_of(next) - 1.0;
                    continue;
                }
                let mut m = i.plus_minutes(1);
                while self.clock.time_of(m) < next_hour && open_at(m) {
                    m = m.plus_minutes(1);
                }
                end = self.clock.time_of(m).min(next_hour);
            }
            let rate = rate_at((minute / 60) as usize, i.date().weekday() as usize);
            let capacity = rate * (end - t);
            if rate > 0.0 && capacity >= need {
                return Some(t + need / rate);
            }
            need -= capacity;
            t = end;
        }
        past_the_end
    }

    fn arrive(&mut self, k: usize) -> Result<(), Fail> {
        if self.arrivals >= self.arrivals_limit {
            // Arrivals already closed (another stream reached the limit).
            return Ok(());
        }
        self.arrivals += 1;
        if self.arrivals == self.arrivals_limit {
            self.arrivals_open = 0;
        }
        let index = self.streams[k].count;
        self.streams[k].count += 1;
        if let WarmUp::Cases(w) = self.sc.spec.warm_up
            && self.arrivals == w + 1
        {
            self.begin_measuring();
        }
        let measured = self.measuring.then(|| {
            self.measured_arrivals += 1;
            self.measured_arrivals - 1
        });
        let slot = self.alloc();
        let key = derive(derive(self.rep_key, k as u64 + 1), index);
        let plan = &self.sc.arrivals[k];
        let draw = |purpose: u64, n: u64| Stream::new(derive(derive(key, purpose), n));
        let green = draw(P_GREEN, 0).chance(plan.green_channel);
        let blocked = draw(P_BLOCKED, 0).chance(plan.credit_blocked);
        let mut missing = 0u64;
        for (j, (_, p)) in plan.missing.iter().enumerate().take(64) {
            if draw(P_MISSING, j as u64).chance(*p) {
                missing |= 1 << j;
            }
        }
        let consult = draw(P_CONSULT, 0).chance(self.sc.spec.applicants.consult);
        let now = self.now;
        let now_w = self.now_w;
        let c = &mut self.cases[slot as usize];
        let generation = c.generation;
        *c = CaseRec::empty();
        c.generation = generation;
        c.stream = k as u16;
        c.key = key;
        c.measured = measured;
        c.green = green;
        c.blocked = blocked;
        c.missing = missing;
        c.arrival = now;
        c.arrival_w = now_w;
        let base = slot as usize * self.stride;
        self.members[base..base + self.stride].fill(MEMBER_EMPTY);
        self.active += 1;
        self.wip.set(now, self.active);
        self.enqueue(if consult { 0 } else { INTAKE }, slot, 0);
        if self.arrivals < self.arrivals_limit {
            self.next_arrival(k, now);
        }
        Ok(())
    }

    fn alloc(&mut self) -> u32 {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        self.cases.push(CaseRec::empty());
        self.members.extend(std::iter::repeat_n(MEMBER_EMPTY, self.stride));
        (self.cases.len() - 1) as u32
    }

    fn bundle_of(&self, slot: u32) -> BundleIx {
        self.sc.arrivals[self.cases[slot as usize].stream as usize].bundle
    }

    fn draw(&self, slot: u32, purpose: u64, n: u64) -> Stream {
        Stream::new(derive(derive(self.cases[slot as usize].key, purpose), n))
    }

    // ───────────────────────────── stations ─────────────────────────────

    #[inline]
    fn enqueue(&mut self, station: usize, slot: u32, member: u16) {
        let c = &self.cases[slot as usize];
        let job = Job { slot, generation: c.generation, member, since: self.now };
        let priority = c.green && self.sc.spec.policy.green_channel_priority;
        let st = &mut self.stations[station];
        if priority {
            st.priority.push(job);
        } else {
            st.queue.push(job);
        }
        let len = st.len();
        st.queued.set(self.now, len);
        if !st.dirty {
            st.dirty = true;
            self.dirty.push(station as u16);
        }
    }

    #[inline]
    fn release(&mut self, station: usize, server: u32) {
        let st = &mut self.stations[station];
        st.free.push(server);
        let busy = st.servers - st.free.len() as u32;
        st.busy.set(self.now_w, busy);
        if !st.dirty {
            st.dirty = true;
            self.dirty.push(station as u16);
        }
    }

    fn dispatch(&mut self) -> Result<(), Fail> {
        // Starting a review may (through the engine) make other stations dirty; each pass
        // drains the list, and every start consumes a queued job, so this terminates.
        while let Some(station) = self.dirty.pop() {
            let station = station as usize;
            self.stations[station].dirty = false;
            loop {
                let st = &mut self.stations[station];
                if st.free.is_empty() {
                    break;
                }
                let job = if st.priority.len == 0 { st.queue.pop() } else { st.priority.pop() };
                let Some(job) = job else { break };
                let len = st.len();
                st.queued.set(self.now, len);
                self.start(station, job)?;
            }
        }
        Ok(())
    }

    fn start(&mut self, station: usize, job: Job) -> Result<(), Fail> {
        let c = &self.cases[job.slot as usize];
        if c.generation != job.generation {
            return Ok(());
        }
        if c.suspended {
            self.parked.push((station as u16, job));
            return Ok(());
        }
        let wait = self.now - job.since;
        let measured = c.measured;
        let server = self.stations[station].free.pop().expect("dispatch checked a free server");
        let st = &mut self.stations[station];
        let busy = st.servers - st.free.len() as u32;
        st.busy.set(self.now_w, busy);
        if let Some(n) = measured {
            st.wait.record(n, wait);
        }
        if self.measuring {
            st.served += 1;
        }
        let duration = if station < WINDOW_STATIONS {
            let c = &mut self.cases[job.slot as usize];
            c.window_wait += wait;
            c.visits[station] += 1;
            let visit = c.visits[station];
            if c.spans[station].0.is_nan() {
                c.spans[station].0 = self.now;
            }
            let service = &self.sc.windows[station].as_ref().expect("stations with servers are configured").1;
            service.sample(&mut self.draw(job.slot, P_SERVICE, (station as u64) << 16 | u64::from(visit)))
        } else {
            self.start_review(station, server, job, wait)?
        };
        let end_w = self.now_w + duration;
        let end = self.clock.time_of_work(self.def.calendar(), end_w).map_err(|e| self.calendar_error(e))?;
        let end = end.max(self.now);
        let what = if station < WINDOW_STATIONS {
            What::WindowDone { station: station as u16, server, slot: job.slot, generation: job.generation }
        } else {
            What::ReviewDone {
                station: station as u16,
                server,
                slot: job.slot,
                generation: job.generation,
                member: job.member,
            }
        };
        self.schedule(end, what);
        Ok(())
    }

    fn start_review(&mut self, station: usize, server: u32, job: Job, wait: f64) -> Result<f64, Fail> {
        let base = job.slot as usize * self.stride + job.member as usize;
        let first = self.members[base].claimed.is_nan();
        self.members[base].queue_wait += wait;
        self.members[base].visits += 1;
        let visit = self.members[base].visits;
        let bundle_ix = self.bundle_of(job.slot);
        let item_ix = self.def.bundle(bundle_ix).members[job.member as usize].item;
        if first {
            self.members[base].claimed = self.now;
            let cmd = &self.members_of[bundle_ix.index()][job.member as usize].claim;
            let actor = &self.stations[station].actors[server as usize];
            let id = CaseId(self.cases[job.slot as usize].id);
            let ctx = Ctx { now: self.now_i, actor };
            self.timers_touched = true;
            let r = self.engine.execute_into(id, cmd, &ctx, &mut self.out);
            self.after_command(r, job.slot, "claim")?;
        }
        let review = self.sc.reviews[item_ix.index()].as_ref().expect("validated: every member item has a review");
        Ok(review.time.sample(&mut self.draw(job.slot, P_REVIEW, u64::from(job.member) << 16 | u64::from(visit))))
    }

    /// Processes the events of a command, or turns its rejection into an error.
    fn after_command(&mut self, result: Result<(), Rejection>, slot: u32, command: &'static str) -> Result<(), Fail> {
        match result {
            Ok(()) => self.note_recorded(Some(slot)),
            Err(rejection) => Err(self.refused(slot, command, &rejection)),
        }
    }

    /// Reacts to the events recorded in `self.out` (by a command on the case in `hint`, or by
    /// the timers), in order, and empties it.
    fn note_recorded(&mut self, hint: Option<u32>) -> Result<(), Fail> {
        if self.out.facts.is_empty() {
            return Ok(());
        }
        let mut facts = std::mem::take(&mut self.out.facts);
        let mut outcome = Ok(());
        for n in &facts {
            // The most frequent facts, on the commanded case: `note`'s reactions, inline.
            if let (StreamId::Case(case), Some(slot)) = (n.stream, hint)
                && self.cases[slot as usize].id == case.0
            {
                match &n.fact {
                    Fact::TaskDone(item) => {
                        self.task_done(slot, item);
                        continue;
                    }
                    Fact::TaskReady(item) => {
                        self.task_ready(slot, item);
                        continue;
                    }
                    _ => {}
                }
            }
            if let Err(e) = self.note(n.stream, &n.fact, hint) {
                outcome = Err(e);
                break;
            }
        }
        facts.clear();
        self.out.facts = facts;
        outcome
    }

    /// Executes a case command as `actor`; `Err(rejection)` is returned to the caller to handle.
    fn exec(&mut self, slot: u32, command: &Command, actor: ActorRef) -> Result<Result<(), Box<Rejection>>, Fail> {
        let id = CaseId(self.cases[slot as usize].id);
        let actor = match actor {
            ActorRef::Server(station, server) => &self.stations[station].actors[server as usize],
            ActorRef::Applicant(stream) => &self.streams[stream as usize].actor,
        };
        let ctx = Ctx { now: self.now_i, actor };
        self.timers_touched = true;
        let result = self.engine.execute_into(id, command, &ctx, &mut self.out);
        debug_assert!(result.is_ok() || self.out.facts.is_empty(), "a refused command records nothing");
        self.note_recorded(Some(slot)).map(|()| result.map_err(Box::new))
    }

    /// Like [`Replication::exec`], a rejection being an error of the simulation.
    fn exec_ok(&mut self, slot: u32, command: &Command, actor: ActorRef) -> Result<(), Fail> {
        match self.exec(slot, command, actor)? {
            Ok(()) => Ok(()),
            Err(rejection) => Err(self.refused(slot, command.name(), &rejection)),
        }
    }

    #[cold]
    fn refused(&self, slot: u32, command: &'static str, rejection: &Rejection) -> Fail {
        if let Rejection::Calendar(_) = rejection {
            // A deadline the command needs (a case's promised limit, say) lies past the
            // calendar: the run has reached the calendar's end, whatever the scenario asks.
            return self.past_calendar();
        }
        Box::new(SimError::Refused {
            replication: self.rep,
            command,
            case: CaseId(self.cases[slot as usize].id).to_string(),
            at: self.now_i.to_string(),
            rejection: rejection.to_string(),
        })
    }

    // ───────────────────────────── windows ─────────────────────────────

    fn window_done(&mut self, station: usize, server: u32, slot: u32) -> Result<(), Fail> {
        let c = &mut self.cases[slot as usize];
        if station < WINDOW_STATIONS {
            c.spans[station].1 = self.now;
        }
        match station {
            0 => self.consulted(slot, server),
            INTAKE => self.intake(slot, server),
            _ => self.delivered(slot, server),
        }
    }

    fn consulted(&mut self, slot: u32, server: u32) -> Result<(), Fail> {
        let c = &self.cases[slot as usize];
        let stream = &self.streams[c.stream as usize];
        let applicant = stream.applicant[usize::from(c.blocked)].clone();
        let command = Command::Consult { bundle: self.sc.arrivals[c.stream as usize].bundle_id.clone(), applicant };
        self.open(slot, command, server, 0)?;
        self.enqueue(INTAKE, slot, 0);
        Ok(())
    }

    fn open(&mut self, slot: u32, command: Command, server: u32, station: usize) -> Result<(), Fail> {
        let actor = &self.stations[station].actors[server as usize];
        let ctx = Ctx { now: self.now_i, actor };
        let name = command.name();
        self.timers_touched = true;
        match self.engine.open_into(command, &ctx, &mut self.out) {
            Ok(id) => {
                self.cases[slot as usize].id = id.0;
                let n = id.0 as usize;
                if n >= self.by_id.len() {
                    self.by_id.resize(n + 1, NO_SLOT);
                }
                self.by_id[n] = slot;
                self.after_command(Ok(()), slot, name)
            }
            Err(rejection) => {
                self.out.facts.clear();
                Err(self.refused(slot, name, &rejection))
            }
        }
    }

    /// The answer (choice index) case `slot` gives to question `j` of its stream.
    fn answer_choice(&self, slot: u32, j: usize, choices: &[(String, f64)]) -> usize {
        let u = self.draw(slot, P_ANSWER, j as u64).uniform();
        choices.iter().position(|(_, cum)| u < *cum).unwrap_or(0)
    }

    /// Where the prebuilt `Submit` command of case `slot` is (stream, variant), built on first
    /// use; `None` when its stream has too many variants to keep. The command is a function of
    /// the variant — the answers drawn, the materials withheld, the credit and green-channel
    /// flags — so reusing it changes nothing the engine sees.
    fn cached_submit(&mut self, slot: u32) -> Option<(usize, usize)> {
        let c = &self.cases[slot as usize];
        let k = c.stream as usize;
        if self.streams[k].submits.is_empty() {
            return None;
        }
        let plan = &self.sc.arrivals[k];
        let mut v = 0;
        for (j, a) in plan.answers.iter().enumerate() {
            v = v * a.choices.len() + self.answer_choice(slot, j, &a.choices);
        }
        let v = (((v << plan.missing.len()) | c.missing as usize) << 2)
            | usize::from(c.blocked) << 1
            | usize::from(c.green);
        if self.streams[k].submits[v].is_none() {
            let command = Command::Submit(Box::new(self.submission(slot)));
            self.streams[k].submits[v] = Some(command);
        }
        Some((k, v))
    }

    #[inline(never)]
    fn submission(&self, slot: u32) -> Submission {
        let c = &self.cases[slot as usize];
        let k = c.stream as usize;
        let plan = &self.sc.arrivals[k];
        let stream = &self.streams[k];
        let materials = if c.missing == 0 {
            stream.all_ids.clone()
        } else {
            let withheld = |m: &MaterialIx| {
                stream.missing.iter().enumerate().any(|(j, (x, _))| x == m && c.missing & (1 << j) != 0)
            };
            stream.full_materials.iter().filter(|(m, _)| !withheld(m)).map(|(_, id)| id.clone()).collect()
        };
        let answers = plan
            .answers
            .iter()
            .enumerate()
            .map(|(j, a)| (a.field.clone(), a.choices[self.answer_choice(slot, j, &a.choices)].0.clone()))
            .collect::<BTreeMap<_, _>>()
            .into();
        Submission {
            bundle: plan.bundle_id.clone(),
            applicant: stream.applicant[usize::from(c.blocked)].clone(),
            channel: Channel::Window,
            materials: materials.into(),
            answers,
            green_channel: c.green,
        }
    }

    fn intake(&mut self, slot: u32, server: u32) -> Result<(), Fail> {
        let clerk = ActorRef::Server(INTAKE, server);
        let id = self.cases[slot as usize].id;
        let state = (id != NO_CASE).then(|| self.engine.case(CaseId(id)).map(|c| c.state)).flatten();
        match state {
            None => {
                let command = match self.cached_submit(slot) {
                    Some((k, v)) => self.streams[k].submits[v].clone().expect("cached_submit built it"),
                    None => Command::Submit(Box::new(self.submission(slot))),
                };
                self.open(slot, command, server, INTAKE)?;
            }
            Some(CaseState::Consulting) => match self.cached_submit(slot) {
                Some((k, v)) => {
                    // Lent to the engine, which reads it, and put back.
                    let command = self.streams[k].submits[v].take().expect("cached_submit built it");
                    let r = self.exec_ok(slot, &command, clerk);
                    self.streams[k].submits[v] = Some(command);
                    r?;
                }
                None => self.exec_ok(slot, &Command::Submit(Box::new(self.submission(slot))), clerk)?,
            },
            Some(CaseState::AwaitingCorrection) => {
                let correction = self.engine.case(CaseId(id)).map(|c| c.correction.clone()).unwrap_or_default();
                self.exec_ok(slot, &Command::Resubmit { materials: correction }, clerk)?;
                self.cases[slot as usize].missing = 0;
            }
            Some(_) => return Ok(()),
        }
        self.decide_intake(slot, server)
    }

    /// The clerk's intake decision: accept; with materials missing, tolerate them (容缺) when the
    /// policy allows and the engine agrees, else give the correction notice (补正).
    fn decide_intake(&mut self, slot: u32, server: u32) -> Result<(), Fail> {
        let clerk = ActorRef::Server(INTAKE, server);
        let bundle = self.bundle_of(slot);
        if self.cases[slot as usize].missing == 0 {
            match self.exec(slot, &Command::Accept, clerk)? {
                Ok(()) => return self.accepted(slot, false),
                Err(r) if matches!(*r, Rejection::MaterialsIncomplete { .. }) => {}
                Err(r) => return Err(self.refused(slot, "accept", &r)),
            }
        }
        if self.sc.spec.policy.tolerance {
            let cal = self.def.calendar();
            let today = self.now_i.date();
            if let Ok(cure_due) = cal.add_working_days(today, self.def.bundle(bundle).promised_days)
                && let Ok(()) = self.exec(slot, &Command::AcceptTolerating { cure_due }, clerk)?
            {
                return self.accepted(slot, true);
            }
        }
        match self.exec(slot, &Command::RequestCorrection, clerk)? {
            Ok(()) => {
                let c = &mut self.cases[slot as usize];
                c.away_since = self.now;
                c.returns += 1;
                let n = u64::from(c.returns);
                let delay = self.sc.spec.applicants.return_after.as_ref().map_or(0.0, |d| {
                    let mut s = self.draw(slot, P_RETURN, n);
                    d.sample(&mut s)
                });
                let generation = self.cases[slot as usize].generation;
                self.schedule(self.now + delay, What::Return { slot, generation });
                Ok(())
            }
            Err(r) if matches!(*r, Rejection::NothingMissing) => {
                self.exec_ok(slot, &Command::Accept, clerk)?;
                self.accepted(slot, false)
            }
            Err(r) => Err(self.refused(slot, "request_correction", &r)),
        }
    }

    fn accepted(&mut self, slot: u32, tolerated: bool) -> Result<(), Fail> {
        self.cases[slot as usize].accepted = self.now;
        if !tolerated {
            return Ok(());
        }
        let id = CaseId(self.cases[slot as usize].id);
        let outstanding: Vec<MaterialIx> = self
            .engine
            .case(id)
            .map(|c| c.outstanding.iter().filter_map(|m| self.def.material_ix(m)).collect())
            .unwrap_or_default();
        let generation = self.cases[slot as usize].generation;
        for m in outstanding {
            let delay = self.sc.spec.applicants.supply_after.as_ref().map_or(0.0, |d| {
                let mut s = self.draw(slot, P_SUPPLY, m.index() as u64);
                d.sample(&mut s)
            });
            self.schedule(self.now + delay, What::Supply { slot, generation, material: m.index() as u32 });
        }
        Ok(())
    }

    #[inline(never)]
    fn supply(&mut self, slot: u32, material: u32) -> Result<(), Fail> {
        let stream = self.cases[slot as usize].stream;
        let id = self.def.materials()[material as usize].id.clone();
        self.supplying = true;
        let r = self.exec(slot, &Command::Supply { material: id }, ActorRef::Applicant(stream));
        self.supplying = false;
        if r?.is_err() {
            // Refused (the case was returned meanwhile): the material is no longer wanted.
            return Ok(());
        }
        let c = &self.cases[slot as usize];
        let case = self.engine.case(CaseId(c.id));
        let state = case.map(|x| x.state);
        if c.lingering && case.is_none_or(|x| x.outstanding.is_empty()) {
            self.free_slot(slot);
            return Ok(());
        }
        if c.awaiting_cure && state == Some(CaseState::ReadyForDelivery) {
            let c = &mut self.cases[slot as usize];
            c.awaiting_cure = false;
            c.cure_hold = self.now - c.decided;
            self.enqueue(DELIVERY, slot, 0);
        }
        Ok(())
    }

    fn delivered(&mut self, slot: u32, server: u32) -> Result<(), Fail> {
        let clerk = ActorRef::Server(DELIVERY, server);
        self.exec_ok(slot, &Command::Deliver { method: DeliveryMethod::Window }, clerk)?;
        let on_time = self.on_time(slot);
        if let Some(r) = &self.sc.spec.applicants.ratings {
            let mut s = self.draw(slot, P_RATE, 0);
            if s.chance(r.share) {
                let stars = if on_time { &r.stars } else { r.late.as_ref().unwrap_or(&r.stars) };
                let u = s.uniform();
                let mut cumulative = 0.0;
                let mut chosen = 5u8;
                for (i, p) in stars.iter().enumerate() {
                    cumulative += p;
                    if u < cumulative {
                        chosen = i as u8 + 1;
                        break;
                    }
                }
                self.exec_ok(slot, &Command::Rate { stars: chosen }, clerk)?;
            }
        }
        if self.draw(slot, P_COMPLAINT, 0).chance(self.sc.spec.applicants.complaint) {
            self.complain(slot)?;
        }
        self.complete(slot, on_time)
    }

    #[inline(never)]
    fn complain(&mut self, slot: u32) -> Result<(), Fail> {
        let c = &self.cases[slot as usize];
        let lead = self.def.department(self.def.bundle(self.bundle_of(slot)).lead).id.clone();
        let source = TicketSource::Complaint {
            target: ComplaintTarget::Department(lead),
            case: Some(CaseId(c.id)),
            text: "办理时间过长，多次排队".into(),
        };
        let actor = &self.streams[c.stream as usize].actor;
        let ctx = Ctx { now: self.now_i, actor };
        self.timers_touched = true;
        match self.engine.open_ticket(source, &ctx) {
            Ok((_, events)) => {
                for rec in events {
                    let fact = self.out.counts.digest(rec.event);
                    self.note(rec.stream, &fact, Some(slot))?;
                }
                Ok(())
            }
            Err(r) => Err(self.refused(slot, "complain", &r)),
        }
    }

    fn on_time(&self, slot: u32) -> bool {
        let c = &self.cases[slot as usize];
        match self.sc.spec.on_time {
            OnTime::Promised => c.on_time_sla,
            OnTime::WithinMinutes(m) => self.now - c.arrival <= m,
        }
    }

    // ───────────────────────────── reviews ─────────────────────────────

    fn review_done(&mut self, station: usize, server: u32, slot: u32, member: u16) -> Result<(), Fail> {
        let base = slot as usize * self.stride + member as usize;
        let c = &self.cases[slot as usize];
        if c.suspended {
            self.parked.push((station as u16, Job { slot, generation: c.generation, member, since: self.now }));
            return Ok(());
        }
        let bundle_ix = self.bundle_of(slot);
        let item_ix = self.def.bundle(bundle_ix).members[member as usize].item;
        let review = self.sc.reviews[item_ix.index()].as_ref().expect("validated");
        let reviewer = ActorRef::Server(station, server);
        let item = || self.def.item(item_ix).id.clone();
        if let Some(sp) = &review.special
            && !self.members[base].special_done
        {
            self.members[base].special_done = true;
            if self.draw(slot, P_SPECIAL, u64::from(member)).chance(sp.probability) {
                let action = TaskCommand::StartSpecialProcedure { kind: sp.kind };
                self.exec_ok(slot, &Command::Task { item: item(), action }, reviewer)?;
                let duration = sp.duration.sample(&mut self.draw(slot, P_SPECIAL_TIME, u64::from(member)));
                let generation = self.cases[slot as usize].generation;
                self.schedule(self.now + duration, What::SpecialEnd { slot, generation, member });
                return Ok(());
            }
        }
        let sign = self.members[base].sign;
        let deny = self.draw(slot, P_DENY, u64::from(member) << 8 | u64::from(sign)).chance(review.deny);
        if deny {
            let action = TaskCommand::Deny { reason: "不符合法定条件".into() };
            self.exec_ok(slot, &Command::Task { item: item(), action }, reviewer)?;
        } else {
            let members = Rc::clone(&self.members_of);
            self.exec_ok(slot, &members[bundle_ix.index()][member as usize].approve, reviewer)?;
        }
        let departments = self.def.item(item_ix).decided_by.departments();
        if !deny && usize::from(sign) + 1 < departments.len() {
            // 会签: the next department signs.
            self.members[base].sign += 1;
            let next = self.dept_station[departments[usize::from(sign) + 1].index()] as usize;
            self.enqueue(next, slot, member);
        }
        Ok(())
    }

    #[inline(never)]
    fn special_end(&mut self, slot: u32, member: u16) -> Result<(), Fail> {
        let item_ix = self.def.bundle(self.bundle_of(slot)).members[member as usize].item;
        let station = self.dept_station[self.def.item(item_ix).decided_by.departments()[0].index()] as usize;
        let item = self.def.item(item_ix).id.clone();
        let command = Command::Task { item, action: TaskCommand::EndSpecialProcedure };
        match self.exec(slot, &command, ActorRef::Server(station, 0))? {
            // The reviewer finishes the review after the procedure.
            Ok(()) => self.enqueue(station, slot, member),
            // Suspended meanwhile: try again when it resumes.
            Err(_) if self.cases[slot as usize].suspended => {
                let generation = self.cases[slot as usize].generation;
                self.parked.push((u16::MAX, Job { slot, generation, member, since: self.now }));
            }
            Err(r) => return Err(self.refused(slot, "end_special_procedure", &r)),
        }
        Ok(())
    }

    // ───────────────────────────── engine events ─────────────────────────────

    fn member_of(&self, bundle: BundleIx, item: &Id) -> Option<u16> {
        // The engine's events carry the definition's own ids: a pointer comparison finds them.
        let addr = item.as_ptr().addr();
        match self.member_addrs[bundle.index()].iter().position(|&a| a == addr) {
            Some(p) => Some(p as u16),
            None => self.member_by_text(bundle, item),
        }
    }

    /// [`Replication::member_of`] comparing the ids' text.
    #[cold]
    #[inline(never)]
    fn member_by_text(&self, bundle: BundleIx, item: &Id) -> Option<u16> {
        self.members_of[bundle.index()].iter().position(|m| m.id == *item).map(|p| p as u16)
    }

    /// Reacts to one recorded event. Never issues a command (the caller's loop is iterating the
    /// engine's output); it queues work and schedules events.
    fn note(&mut self, stream: StreamId, fact: &Fact, hint: Option<u32>) -> Result<(), Fail> {
        let case = match stream {
            StreamId::Ticket(t) => return self.note_ticket(t, fact),
            StreamId::Case(c) => c,
        };
        let slot = match hint {
            Some(s) if self.cases[s as usize].id == case.0 => Some(s),
            _ => self.by_id.get(case.0 as usize).copied().filter(|&s| s != NO_SLOT),
        };
        if let Fact::SlaRaised { task, overdue } = *fact {
            self.result.sla_raised[usize::from(task)][usize::from(overdue)] += 1;
            return Ok(());
        }
        if let Fact::Rated { stars, by_default } = *fact {
            self.result.ratings[usize::from(stars.clamp(1, 5)) - 1] += 1;
            self.result.default_ratings += u64::from(by_default);
            if slot.is_none() {
                // Rated (by default) after the simulation was done with it (see `free_slot`).
                self.engine.retire(case);
            }
        }
        let Some(slot) = slot else { return Ok(()) };
        match fact {
            Fact::TaskReady(item) => self.task_ready(slot, item),
            Fact::TaskDone(item) => self.task_done(slot, item),
            Fact::CaseDecided { awaiting_cure } => {
                let id = CaseId(self.cases[slot as usize].id);
                // A clock whose deadline lies past the calendar has no timer there, but the run
                // stops before the calendar ends (`set_now`), so a case decided in the run was
                // decided before such a deadline: on time.
                let overdue =
                    self.engine.case(id).and_then(|c| c.sla.as_ref()).is_some_and(|s| s.level == SlaLevel::Overdue);
                let c = &mut self.cases[slot as usize];
                c.decided = self.now;
                c.on_time_sla = !overdue;
                if *awaiting_cure {
                    c.awaiting_cure = true;
                } else {
                    self.enqueue(DELIVERY, slot, 0);
                }
            }
            Fact::CaseSuspended => self.cases[slot as usize].suspended = true,
            Fact::CaseResumed => {
                self.cases[slot as usize].suspended = false;
                self.unpark(slot)?;
            }
            Fact::CaseLeft => {
                if self.cases[slot as usize].measured.is_some() {
                    self.result.returned += 1;
                }
                self.leave();
                self.free_slot(slot);
            }
            Fact::Revoked if self.cases[slot as usize].lingering => self.free_slot(slot),
            _ => {}
        }
        Ok(())
    }

    /// A task of the case in `slot` became ready: it joins its department's queue.
    #[inline(always)]
    fn task_ready(&mut self, slot: u32, item: &Id) {
        let bundle = self.bundle_of(slot);
        let member = self.member_of(bundle, item).expect("events name members of the case's bundle");
        let cure_wait = if self.supplying { self.now - self.cure_blocked_since(slot, member) } else { 0.0 };
        let m = &mut self.members[slot as usize * self.stride + member as usize];
        m.ready = self.now;
        m.cure_wait = cure_wait;
        let station = self.members_of[bundle.index()][member as usize].station as usize;
        self.enqueue(station, slot, member);
    }

    /// A task of the case in `slot` was approved, denied or cancelled.
    #[inline(always)]
    fn task_done(&mut self, slot: u32, item: &Id) {
        if let Some(member) = self.member_of(self.bundle_of(slot), item) {
            self.members[slot as usize * self.stride + member as usize].done = self.now;
        }
    }

    /// When a task that became ready on a supply was otherwise free to start: the latest finish
    /// of its predecessors, stage gates included ([`Replication::predecessors`]), or the
    /// acceptance.
    #[inline(never)]
    fn cure_blocked_since(&self, slot: u32, member: u16) -> f64 {
        let c = &self.cases[slot as usize];
        let base = slot as usize * self.stride;
        let Some(case) = self.engine.case(CaseId(c.id)) else { return c.accepted };
        let preds = self.predecessors(base, self.def.bundle(case.bundle), case, member as usize);
        MemberSet(preds).iter().map(|p| self.members[base + p].done).fold(c.accepted, f64::max)
    }

    #[inline(never)]
    fn unpark(&mut self, slot: u32) -> Result<(), Fail> {
        let mut i = 0;
        while i < self.parked.len() {
            if self.parked[i].1.slot != slot {
                i += 1;
                continue;
            }
            let (station, job) = self.parked.swap_remove(i);
            if job.generation != self.cases[slot as usize].generation {
                continue;
            }
            if station == u16::MAX {
                let generation = job.generation;
                self.schedule(self.now, What::SpecialEnd { slot, generation, member: job.member });
            } else {
                self.enqueue(station as usize, slot, job.member);
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn note_ticket(&mut self, ticket: TicketId, fact: &Fact) -> Result<(), Fail> {
        match fact {
            Fact::TicketOpened(opened) => {
                let (kind, department) = &**opened;
                let kind = *kind;
                match self.result.tickets_opened.iter_mut().find(|(k, _)| *k == kind) {
                    Some(e) => e.1 += 1,
                    None => self.result.tickets_opened.push((kind, 1)),
                }
                if let Some(t) = &self.sc.spec.tickets {
                    self.tickets
                        .insert(ticket.0, TicketRec { department: department.clone(), opened: self.now, step: 0 });
                    let d = t.verify.sample(&mut self.ticket_stream(ticket.0, 0));
                    let at = self.after_work(d)?;
                    self.schedule(at, What::TicketStep { ticket: ticket.0 });
                }
            }
            Fact::TicketClosed => {
                self.result.tickets_closed += 1;
                if let Some(t) = self.tickets.remove(&ticket.0) {
                    let index = self.result.ticket_closure.count;
                    self.result.ticket_closure.record(index, self.now - t.opened);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn ticket_stream(&self, ticket: u64, step: u32) -> Stream {
        Stream::new(derive(derive(derive(self.rep_key, K_TICKETS), ticket), u64::from(step)))
    }

    fn after_work(&self, minutes: f64) -> Result<f64, Fail> {
        let t =
            self.clock.time_of_work(self.def.calendar(), self.now_w + minutes).map_err(|e| self.calendar_error(e))?;
        Ok(t.max(self.now))
    }

    /// The responsible department and the supervisor work one step of a ticket.
    #[inline(never)]
    fn ticket_step(&mut self, number: u64) -> Result<(), Fail> {
        let Some(spec) = self.sc.spec.tickets.clone() else { return Ok(()) };
        let Some(rec) = self.tickets.get_mut(&number) else { return Ok(()) };
        rec.step += 1;
        let (step, department) = (rec.step, rec.department.clone());
        let id = TicketId(number);
        let Some(state) = self.engine.ticket(id).map(|t| t.state) else { return Ok(()) };
        let mut s = self.ticket_stream(number, step);
        let staff = Actor::reviewer("ticket-staff", &department);
        let today = self.now_i.date();
        let cal = self.def.calendar();
        let (command, next) = match state {
            TicketState::Verifying => {
                let days = self.def.policies().ticket_rectify_max_days.min(5);
                let deadline = cal.add_working_days(today, days).unwrap_or(today);
                (TicketCommand::Ledger { deadline }, Some(&spec.rectify))
            }
            TicketState::Rectifying => (
                TicketCommand::SubmitRectification {
                    measures: "已组织窗口人员培训并优化流程".into(),
                    evidence: "培训记录、流程图".into(),
                },
                Some(&spec.supervise),
            ),
            TicketState::AwaitingSupervision if s.chance(spec.failed_rectification) => {
                (TicketCommand::Fail { kind: FailKind::Superficial }, Some(&spec.rectify))
            }
            TicketState::AwaitingSupervision => (TicketCommand::Pass, Some(&spec.feed_back)),
            TicketState::FeedingBack => {
                (TicketCommand::FeedBack { message: "已整改，感谢监督".into() }, Some(&spec.follow_up))
            }
            TicketState::FollowUp => {
                let satisfied = !s.chance(spec.unsatisfied);
                (TicketCommand::FollowUp { satisfied }, (!satisfied).then_some(&spec.rectify))
            }
            TicketState::Closed => return Ok(()),
        };
        let supervision =
            matches!(command, TicketCommand::Pass | TicketCommand::Fail { .. } | TicketCommand::FollowUp { .. });
        let actor = if supervision {
            match &self.supervisor {
                Some(a) => a.clone(),
                None => {
                    self.abandon_ticket(number);
                    return Ok(());
                }
            }
        } else {
            staff
        };
        let ctx = Ctx { now: self.now_i, actor: &actor };
        self.timers_touched = true;
        match self.engine.execute_ticket(id, &command, &ctx) {
            Ok(events) => {
                for rec in events {
                    let fact = self.out.counts.digest(rec.event);
                    self.note(rec.stream, &fact, None)?;
                }
                if let Some(d) = next {
                    let at = self.after_work(d.sample(&mut s))?;
                    self.schedule(at, What::TicketStep { ticket: number });
                }
            }
            Err(_) => self.abandon_ticket(number),
        }
        Ok(())
    }

    fn abandon_ticket(&mut self, number: u64) {
        if self.tickets.remove(&number).is_some() {
            self.result.tickets_abandoned += 1;
        }
    }

    // ───────────────────────────── completion ─────────────────────────────

    fn complete(&mut self, slot: u32, on_time: bool) -> Result<(), Fail> {
        let c = self.cases[slot as usize];
        let case = self.engine.case(CaseId(c.id));
        let outstanding = case.is_some_and(|x| !x.outstanding.is_empty());
        if let Some(index) = c.measured {
            let (trips, chain) = match case {
                Some(case) => (f64::from(case.trips), self.chain(slot, case)),
                None => (0.0, Chain::default()),
            };
            // Counted at pickup, so that the outcomes add up to the completed cases.
            let outcome = case.and_then(|x| x.outcome).map(|o| match o {
                Outcome::Approved => 0,
                Outcome::PartiallyApproved => 1,
                Outcome::Denied => 2,
            });
            let cycle = self.now - c.arrival;
            let cycle_w = self.now_w - c.arrival_w;
            let r = &mut self.result;
            r.completed += 1;
            if let Some(i) = outcome {
                r.outcomes[i] += 1;
            }
            r.cycle.record(index, cycle);
            if !self.always_open {
                // Always open: working time is calendar time, and `finish` derives both.
                r.cycle_working.record(index, cycle_w);
                r.closed.record(index, (cycle - cycle_w).max(0.0));
            }
            r.queue.record(index, c.window_wait + chain.queue);
            r.join.record(index, chain.join);
            r.materials.record(index, c.docs_wait + chain.cure + c.cure_hold);
            r.on_time.record(index, f64::from(u8::from(on_time)));
            r.trips.record(index, trips);
            if r.bundles.len() > 1 {
                // With one bundle, `finish` copies the overall tallies.
                let b = &mut r.bundles[self.bundle_pos[self.sc.arrivals[c.stream as usize].bundle.index()]].1;
                b.cycle.record(index, cycle);
                b.on_time.record(index, f64::from(u8::from(on_time)));
            }
            if !self.gantt_done && self.rep == 0 {
                self.record_gantt(slot);
            }
        }
        self.leave();
        if outstanding {
            // Issued before cure (容缺, issue_before_cure): the supply is still to come.
            self.cases[slot as usize].lingering = true;
        } else {
            self.free_slot(slot);
        }
        Ok(())
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

    /// The critical chain of approvals: from the last task to finish, back through the
    /// predecessor that finished last ([`Replication::predecessors`]: `after` edges and stage
    /// gates).
    fn chain(&self, slot: u32, case: &yichuang_core::Case) -> Chain {
        let base = slot as usize * self.stride;
        let bundle = self.def.bundle(case.bundle);
        let done = |p: usize| self.members[base + p].done;
        let mut chain = Chain::default();
        let last = (0..case.tasks.len())
            .filter(|&p| case.tasks[p].state != TaskState::NotApplicable && !done(p).is_nan())
            .max_by(|&a, &b| done(a).total_cmp(&done(b)));
        let mut current = last;
        let mut ancestors = Ancestors::default();
        // Each step moves to a predecessor: a DAG walk bounded by the member count.
        for _ in 0..case.tasks.len() {
            let Some(p) = current else { break };
            let m = &self.members[base + p];
            chain.queue += m.queue_wait;
            chain.cure += m.cure_wait;
            let preds = self.predecessors(base, bundle, case, p);
            // The predecessor that finished last (on ties the last one, as `max_by` picks).
            let mut latest: Option<(usize, f64)> = None;
            for q in MemberSet(preds).iter() {
                let d = done(q);
                if latest.is_none_or(|(_, l)| d.total_cmp(&l).is_ge()) {
                    latest = Some((q, d));
                }
            }
            if preds.count_ones() >= 2 {
                // A predecessor that is an ancestor of another one is not a sibling: the time
                // between their finishes is the other's own work, not a wait at this join.
                let mut upstream = 0u64;
                for q in MemberSet(preds).iter() {
                    upstream |= self.ancestors(base, bundle, case, q, &mut ancestors);
                }
                let siblings = MemberSet(preds & !upstream);
                let (mut hi, mut lo) = (f64::MIN, f64::MAX);
                for q in siblings.iter() {
                    hi = hi.max(done(q));
                    lo = lo.min(done(q));
                }
                if siblings.0.count_ones() >= 2 {
                    chain.join += hi - lo;
                }
            }
            current = latest.map(|(q, _)| q);
        }
        chain
    }

    /// The members whose finish let member `p` of a case start, as a bit set of member
    /// positions, only those that finished: its `after` predecessors (`Task::waits_for`,
    /// resolved by the engine through members that do not apply) and, for a member of a stage
    /// after the first, the previous stage's milestones that opened its gate (the engine's
    /// stage gate): all of them under `MilestoneRule::All`, the first approved one under `Any`
    /// (or, none approved, the last to finish).
    fn predecessors(&self, base: usize, bundle: &Bundle, case: &yichuang_core::Case, p: usize) -> u64 {
        let done = |q: usize| self.members[base + q].done;
        let mut set = case.tasks[p].waits_for.0;
        if let Some(k) = bundle.members[p].stage.filter(|&k| k > 0) {
            let previous = &bundle.stages[k - 1];
            let finished = || previous.milestones.iter().copied().filter(|&q| !done(q).is_nan());
            match previous.rule {
                MilestoneRule::All => finished().for_each(|q| set |= 1 << q),
                MilestoneRule::Any => {
                    let first = finished()
                        .filter(|&q| case.tasks[q].state == TaskState::Approved)
                        .min_by(|&a, &b| done(a).total_cmp(&done(b)))
                        .or_else(|| finished().max_by(|&a, &b| done(a).total_cmp(&done(b))));
                    if let Some(q) = first {
                        set |= 1 << q;
                    }
                }
            }
        }
        MemberSet(set).iter().filter(|&q| !done(q).is_nan()).fold(0, |s, q| s | 1 << q)
    }

    /// Every member that `p` transitively waited for ([`Replication::predecessors`]),
    /// memoised in `memo`.
    fn ancestors(
        &self,
        base: usize,
        bundle: &Bundle,
        case: &yichuang_core::Case,
        p: usize,
        memo: &mut Ancestors,
    ) -> u64 {
        if memo.known & (1 << p) != 0 {
            return memo.of[p];
        }
        // Marked before the walk: the engine's gates and edges form a DAG, but a cycle would
        // end here rather than recurse forever.
        memo.known |= 1 << p;
        memo.of[p] = 0;
        let preds = self.predecessors(base, bundle, case, p);
        let mut all = preds;
        for q in MemberSet(preds).iter() {
            all |= self.ancestors(base, bundle, case, q, memo);
        }
        memo.of[p] = all;
        all
    }

    /// Records the case in `slot` (measured, completed, of replication 0) as the Gantt
    /// chart's sample: the first case in which two reviews ran at the same time (parallel
    /// approvals), or until one is found the first case with at least three applicable members
    /// (or all of its bundle's, if fewer).
    #[inline(never)]
    fn record_gantt(&mut self, slot: u32) {
        let c = &self.cases[slot as usize];
        let Some(case) = self.engine.case(CaseId(c.id)) else { return };
        let base = slot as usize * self.stride;
        let parallel = self.reviews_overlap(base, case);
        if !parallel && self.result.gantt.is_some() {
            // Keep the first fallback sample while looking for parallel approvals.
            return;
        }
        let applicable = case.tasks.iter().filter(|t| t.state != TaskState::NotApplicable).count();
        let bundle = self.def.bundle(self.bundle_of(slot));
        let most = bundle.members.len().min(3);
        if !parallel && applicable < most {
            return;
        }
        let mut g = Gantt { bundle: bundle.id.to_string(), arrival: c.arrival, phases: Vec::new(), tasks: Vec::new() };
        for (pos, label) in ["consult", "intake", "delivery"].iter().enumerate() {
            let (s, e) = c.spans[pos];
            if !s.is_nan() && !e.is_nan() {
                g.phases.push(((*label).to_owned(), s, e));
            }
        }
        for (p, t) in case.tasks.iter().enumerate() {
            if t.state == TaskState::NotApplicable {
                continue;
            }
            let m = &self.members[base + p];
            let dept = self.def.item(t.item).decided_by.departments()[0];
            g.tasks.push((t.item_id.to_string(), self.def.department(dept).id.to_string(), m.ready, m.claimed, m.done));
        }
        self.result.gantt = Some(g);
        self.gantt_done = parallel;
    }

    /// Whether two applicable tasks of a case were under review at the same time (from their
    /// claim to their approval, denial or cancellation).
    fn reviews_overlap(&self, base: usize, case: &yichuang_core::Case) -> bool {
        // Runs for every completed case until one is found (none, under serial approval):
        // no allocation.
        let review = |p: usize| {
            let m = &self.members[base + p];
            (case.tasks[p].state != TaskState::NotApplicable && m.claimed.is_finite() && m.done.is_finite())
                .then_some((m.claimed, m.done))
        };
        let n = case.tasks.len();
        (0..n)
            .filter_map(review)
            .enumerate()
            .any(|(i, a)| (0..n).filter_map(review).skip(i + 1).any(|b| a.0 < b.1 && b.0 < a.1))
    }

    #[inline(never)]
    fn begin_measuring(&mut self) {
        if self.measuring {
            return;
        }
        self.measuring = true;
        self.measure_start = self.now;
        self.measure_start_w = self.now_w;
        if !matches!(self.sc.spec.warm_up, WarmUp::None) {
            self.result.series.warm_up_end = Some(self.now);
        }
        let (now, now_w) = (self.now, self.now_w);
        for st in &mut self.stations {
            st.busy.reset(now_w);
            st.queued.reset(now);
            st.served = 0;
        }
        self.wip.reset(now);
    }

    #[inline(never)]
    fn sample(&mut self) {
        let held = self.engine.cases_held() as u64;
        self.result.engine_cases_held_max = self.result.engine_cases_held_max.max(held);
        let s = &mut self.result.series;
        s.t.push(self.now);
        s.wip.push(f64::from(self.active));
        for (q, st) in s.queues.iter_mut().zip(&self.stations) {
            q.push(f64::from(st.len()));
        }
        if s.t.len() >= MAX_SAMPLES {
            // Keep every other sample and halve the rate: bounded memory for any horizon.
            let thin = |v: &mut Vec<f64>| {
                let kept: Vec<f64> = v.iter().copied().step_by(2).collect();
                *v = kept;
            };
            thin(&mut s.t);
            thin(&mut s.wip);
            s.queues.iter_mut().for_each(thin);
            s.every *= 2.0;
        }
        let next = self.now + s.every;
        if next <= self.horizon {
            self.schedule(next, What::Sample);
        }
    }

    fn finish(&mut self, end: f64) -> Result<(), Fail> {
        let end_w = self.clock.work(self.def.calendar(), end).map_err(|e| self.calendar_error(e))?;
        // Levels are measured from the end of the warm-up: over nothing if it never ended.
        let (period, period_w) = if self.measuring {
            ((end - self.measure_start).max(0.0), (end_w - self.measure_start_w).max(0.0))
        } else {
            (0.0, 0.0)
        };
        self.result.arrivals = self.arrivals;
        self.result.events = std::mem::take(&mut self.out.counts.events);
        let r = &mut self.result;
        if self.always_open {
            // Every measured case recorded cycle_w = cycle (bit for bit) and 0 closed minutes.
            r.cycle_working = r.cycle.clone();
            r.closed = r.cycle.zeros_like();
        }
        if let [(_, b)] = &mut r.bundles[..] {
            // Every measured case is of this bundle.
            b.cycle = r.cycle.clone();
            b.on_time = r.on_time.clone();
        }
        // A slot is held from the arrival, before the engine has a case for it (an applicant
        // still queueing at the consult desk or at intake), until it is freed.
        let mut freed = vec![false; self.cases.len()];
        for &slot in &self.free {
            freed[slot as usize] = true;
        }
        self.result.unfinished = (self.cases.iter().zip(&freed))
            .filter(|(c, freed)| !**freed && !c.lingering && c.measured.is_some())
            .count() as u64;
        self.result.period_minutes = period;
        self.wip.touch(end);
        if !self.measuring {
            // Every arrival fell in a `Days` warm-up that outlasted the run: measuring never
            // began, so no level was measured (the areas and maxima are the warm-up's).
            let unmeasured = Level::default();
            self.wip = unmeasured.clone();
            for st in &mut self.stations {
                st.busy = unmeasured.clone();
                st.queued = unmeasured.clone();
            }
        }
        self.result.wip_mean = if period > 0.0 { self.wip.area / period } else { 0.0 };
        self.result.wip_max = self.wip.max;
        for (i, st) in self.stations.iter_mut().enumerate() {
            if st.servers == 0 {
                continue;
            }
            st.busy.touch(end_w);
            st.queued.touch(end);
            let capacity = f64::from(st.servers) * period_w;
            self.result.stations.push(StationResult {
                name: st.name.clone(),
                window: i < WINDOW_STATIONS,
                servers: st.servers,
                utilisation: if capacity > 0.0 { st.busy.area / capacity } else { 0.0 },
                queue_mean: if period > 0.0 { st.queued.area / period } else { 0.0 },
                queue_max: st.queued.max,
                wait: std::mem::take(&mut st.wait),
                served: st.served,
            });
        }
        Ok(())
    }
}

/// Memoised ancestors of members ([`Replication::ancestors`]).
#[derive(Debug)]
struct Ancestors {
    /// Members whose entry in `of` is computed (or being computed).
    known: u64,
    /// Ancestors by member position.
    of: [u64; 64],
}

impl Default for Ancestors {
    fn default() -> Ancestors {
        Ancestors { known: 0, of: [0; 64] }
    }
}

#[derive(Debug, Default)]
struct Chain {
    queue: f64,
    join: f64,
    cure: f64,
}

#[derive(Debug, Clone, Copy)]
enum ActorRef {
    Server(usize, u32),
    Applicant(u16),
}

impl Station {
    fn new(name: String, servers: u32, actors: Vec<Actor>) -> Station {
        let wait = Tally::with_histogram();
        Station {
            name,
            servers,
            free: (0..servers).rev().collect(),
            queue: Fifo::default(),
            priority: Fifo::default(),
            actors,
            busy: Level::default(),
            queued: Level::default(),
            wait,
            served: 0,
            dirty: false,
        }
    }
}

impl BundleResult {
    fn new() -> BundleResult {
        BundleResult { cycle: Tally::with_histogram(), on_time: Tally::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_agrees_with_a_vec_deque() {
        let mut fifo = Fifo::default();
        let mut reference = std::collections::VecDeque::new();
        let mut x = 42u64;
        for i in 0..50_000u32 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            // Phases of growth and of draining, so that the ring wraps and grows while wrapped.
            let pushes = if (i / 1000) % 2 == 0 { x >> 62 } else { (x >> 63) & 1 };
            for k in 0..pushes {
                fifo.push((i, k));
                reference.push_back((i, k));
            }
            assert_eq!(fifo.pop(), reference.pop_front());
            assert_eq!(fifo.len, reference.len());
        }
        while let Some(item) = reference.pop_front() {
            assert_eq!(fifo.pop(), Some(item));
        }
        assert_eq!(fifo.pop(), None);
    }
}
