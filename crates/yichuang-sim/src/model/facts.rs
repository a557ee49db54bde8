//! The engine's side of a replication: commands issued to the [`Engine`] as the simulated
//! actors, the facts the simulator keeps of the events they record ([`Fact`], digested as they
//! are recorded by [`Notices`], the simulator's [`EventSink`]), and the reactions to them.

use yichuang_core::definition::BundleIx;
use yichuang_core::event::SlaSubject;
use yichuang_core::machine::sla::SlaLevel;
use yichuang_core::{Actor, CaseId, Command, Ctx, Event, EventSink, Id, Recorded, Rejection, StreamId};

use super::{ActorRef, DELIVERY, Fail, NO_SLOT, Replication, WINDOW_STATIONS, What};
use crate::SimError;

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
pub(super) enum Fact {
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
pub(super) struct EventCounts {
    pub(super) events: Vec<(&'static str, u64)>,
    /// Position in `events` of each frequent kind, `u32::MAX` until first seen.
    pos: [u32; FREQUENT_KINDS],
}

impl EventCounts {
    pub(super) fn new() -> EventCounts {
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
    pub(super) fn digest(&mut self, event: Event) -> Fact {
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
pub(super) struct MemberInfo {
    /// The item's id (the definition's own, as the engine's events carry it).
    pub(super) id: Id,
    /// The station of the first department that decides it.
    pub(super) station: u32,
    /// `Task { Claim }` on the item, built once (the engine reads commands by reference).
    pub(super) claim: Command,
    /// `Task { Approve }` on the item, built once.
    pub(super) approve: Command,
}

/// One event the engine recorded, as the simulator keeps it until it has reacted: the stream
/// and the fact (the log envelope, the actor and the rest of the event are of no use here).
#[derive(Debug)]
pub(super) struct Notice {
    pub(super) stream: StreamId,
    fact: Fact,
}

/// What a replication keeps of the engine's events besides the facts it reacts to.
pub(crate) trait Keep: Default {
    /// One recorded event, before the simulator digests it.
    fn keep(&mut self, stream: StreamId, seq: u32, at: yichuang_core::Instant, by: &Actor, event: &Event);
}

/// Nothing more: every run of the simulator (the default). It compiles to nothing, so the
/// simulator's own runs pay nothing for the event log they do not ask for.
#[derive(Debug, Default)]
pub(crate) struct FactsOnly;

impl Keep for FactsOnly {
    #[inline(always)]
    fn keep(&mut self, _: StreamId, _: u32, _: yichuang_core::Instant, _: &Actor, _: &Event) {}
}

/// Every event in full, as a log keeps it: the synthetic event log of `simulate --event-log`.
#[derive(Debug, Default)]
pub(crate) struct EveryEvent(pub(crate) Vec<Recorded>);

impl Keep for EveryEvent {
    fn keep(&mut self, stream: StreamId, seq: u32, at: yichuang_core::Instant, by: &Actor, event: &Event) {
        let v = yichuang_core::event::EVENT_SCHEMA_VERSION;
        self.0.push(Recorded { v, stream, seq, at, by: by.clone(), event: event.clone() });
    }
}

/// The simulator's [`EventSink`]: the facts of one command's events, in order, and the count
/// of every event recorded (the engine records nothing for a command it refuses), and what
/// `K` keeps besides.
#[derive(Debug)]
pub(super) struct Notices<K: Keep = FactsOnly> {
    pub(super) facts: Vec<Notice>,
    pub(super) counts: EventCounts,
    pub(super) kept: K,
}

impl<K: Keep> EventSink for Notices<K> {
    #[inline(always)]
    fn record(&mut self, stream: StreamId, seq: u32, at: yichuang_core::Instant, by: &Actor, event: Event) {
        self.kept.keep(stream, seq, at, by, &event);
        let fact = self.counts.digest(event);
        // The simulator reacts to nothing in the other events (see `Replication::note`).
        if !matches!(fact, Fact::Other) {
            self.facts.push(Notice { stream, fact });
        }
    }
}

impl<K: Keep> Replication<'_, K> {
    /// Processes the events of a command, or turns its rejection into an error.
    pub(super) fn after_command(
        &mut self,
        result: Result<(), Rejection>,
        slot: u32,
        command: &'static str,
    ) -> Result<(), Fail> {
        match result {
            Ok(()) => self.note_recorded(Some(slot)),
            Err(rejection) => Err(self.refused(slot, command, &rejection)),
        }
    }

    /// Reacts to the events recorded in `self.out` (by a command on the case in `hint`, or by
    /// the timers), in order, and empties it.
    pub(super) fn note_recorded(&mut self, hint: Option<u32>) -> Result<(), Fail> {
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
    pub(super) fn exec(
        &mut self,
        slot: u32,
        command: &Command,
        actor: ActorRef,
    ) -> Result<Result<(), Box<Rejection>>, Fail> {
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
    pub(super) fn exec_ok(&mut self, slot: u32, command: &Command, actor: ActorRef) -> Result<(), Fail> {
        match self.exec(slot, command, actor)? {
            Ok(()) => Ok(()),
            Err(rejection) => Err(self.refused(slot, command.name(), &rejection)),
        }
    }

    #[cold]
    pub(super) fn refused(&self, slot: u32, command: &'static str, rejection: &Rejection) -> Fail {
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

    pub(super) fn member_of(&self, bundle: BundleIx, item: &Id) -> Option<u16> {
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
    pub(super) fn note(&mut self, stream: StreamId, fact: &Fact, hint: Option<u32>) -> Result<(), Fail> {
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
                let overdue = self.engine.case(id).and_then(|c| c.sla()).is_some_and(|s| s.level == SlaLevel::Overdue);
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
                // A withdrawal is an applicant who gave up (counted as lost); else a return.
                let lost = self.cases[slot as usize].lost != 0;
                if self.cases[slot as usize].measured.is_some() && !lost {
                    self.result.returned += 1;
                }
                if self.result.rows.is_some() && !lost {
                    self.returned_row(slot);
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
            // Held from the parking (`since`) to the resumption: waiting for the cure.
            let held = self.now - job.since;
            if usize::from(station) < WINDOW_STATIONS {
                self.cases[slot as usize].held += held;
            } else {
                self.members[slot as usize * self.stride + job.member as usize].held += held;
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
}
