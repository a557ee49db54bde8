//! `evolve`: folds one recorded event into the case. Total on the engine's own events; an
//! event that does not fit where it stands (a corrupted or reordered log) is an
//! [`IllegalEvent`] naming why.

use std::fmt;

use crate::actor::{Actor, Role};
use crate::definition::{Definition, Id};
use crate::event::{DeliveryMethod, Event, Outcome, Recorded, SlaSubject, StreamId};
use crate::machine::sla::{Sla, SlaLevel};
use crate::machine::task::{IllegalTaskEvent, MemberSet, Task, TaskState};
use crate::time::Instant;

use super::{Case, CaseState, Rating};

/// Why an event could not be folded (a corrupted or reordered log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event} is not legal for {stream} in state {state}: {why}")]
pub struct IllegalEvent {
    /// The stream.
    pub stream: StreamId,
    /// Event name.
    pub event: &'static str,
    /// The stream's state.
    pub state: &'static str,
    /// Why.
    pub why: Illegal,
}

/// What is wrong with an event where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Illegal {
    /// Its sequence number does not follow the stream's version.
    Sequence {
        /// The event's `seq`.
        seq: u32,
        /// The stream's version.
        version: u32,
    },
    /// The stream is in another state.
    State {
        /// States the event needs.
        expected: &'static [&'static str],
    },
    /// A stream opens once.
    OpensOnce,
    /// The case is decided while tasks are still open.
    TasksOpen,
    /// A supplied material is not outstanding.
    NotOutstanding(Id),
    /// A task event names an item the case has no task for.
    NoTask(Id),
    /// The task cannot take it.
    Task(IllegalTaskEvent),
    /// A clock level change without a running clock below that level.
    NoClockBelow(SlaLevel),
    /// A ticket event in a case stream, or the reverse.
    WrongStream,
    /// The ticket machine refuses it.
    Ticket(crate::machine::ticket::IllegalTicketEvent),
    /// A migration that does not hold between the two versions.
    Migration(String),
}

impl fmt::Display for Illegal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Illegal::Sequence { seq, version } => write!(f, "sequence {seq} does not follow version {version}"),
            Illegal::State { expected } => write!(f, "expected state {}", expected.join(" or ")),
            Illegal::OpensOnce => f.write_str("a stream opens once"),
            Illegal::TasksOpen => f.write_str("tasks are still open"),
            Illegal::NotOutstanding(m) => write!(f, "material `{m}` is not outstanding"),
            Illegal::NoTask(item) => write!(f, "no task for item `{item}`"),
            Illegal::Task(e) => e.fmt(f),
            Illegal::NoClockBelow(level) => write!(f, "no running clock below level {level:?}"),
            Illegal::WrongStream => f.write_str("the event belongs to the other kind of stream"),
            Illegal::Ticket(e) => e.fmt(f),
            Illegal::Migration(why) => write!(f, "the migration does not hold: {why}"),
        }
    }
}

impl Case {
    /// Folds one recorded event into the state (replay). Fails only for an event that is not
    /// legal in the current state; the engine's own events always fold.
    pub(crate) fn evolve(&mut self, def: &Definition, rec: &Recorded) -> Result<(), IllegalEvent> {
        self.fold(def, rec.seq, rec.at, &rec.by, &rec.event)
    }

    /// [`Case::evolve`] on the parts of a recorded event.
    pub(super) fn fold(
        &mut self,
        def: &Definition,
        seq: u32,
        at: Instant,
        by: &Actor,
        event: &Event,
    ) -> Result<(), IllegalEvent> {
        let illegal = |case: &Case, why: Illegal| IllegalEvent {
            stream: case.id.into(),
            event: event.name(),
            state: case.state.name(),
            why,
        };
        let expect = |case: &Case, state: CaseState, names: &'static [&'static str]| {
            if case.state == state { Ok(()) } else { Err(illegal(case, Illegal::State { expected: names })) }
        };
        if seq != self.version + 1 {
            return Err(illegal(self, Illegal::Sequence { seq, version: self.version }));
        }
        let at_window = matches!(by.role, Role::Clerk { .. });
        let took_it = match (&by.role, event) {
            (Role::Clerk { window }, Event::Submitted { .. } | Event::Accepted { .. }) => Some(window.clone()),
            _ => None,
        };
        let now = at;
        let cal = def.calendar();
        match event {
            Event::Consulted { .. } => {
                if self.version != 0 {
                    return Err(illegal(self, Illegal::OpensOnce));
                }
            }
            Event::Submitted { channel, materials, answers, green_channel, .. } => {
                expect(self, CaseState::Consulting, &["Consulting"])?;
                self.state = CaseState::Received;
                self.channel = Some(*channel);
                self.green_channel = *green_channel;
                self.applicable = def.bundle(self.bundle).applicable_mask(def, answers);
                self.answers = answers.clone();
                self.add_materials(def, materials);
                self.received_at = Some(now);
                self.trips += u32::from(at_window);
            }
            Event::CorrectionRequested { missing } => {
                expect(self, CaseState::Received, &["Received"])?;
                self.state = CaseState::AwaitingCorrection;
                self.correction = missing.clone();
            }
            Event::Resubmitted { materials } => {
                expect(self, CaseState::AwaitingCorrection, &["AwaitingCorrection"])?;
                self.add_materials(def, materials);
                self.state = CaseState::Received;
                self.received_at = Some(now);
                self.trips += u32::from(at_window);
            }
            Event::Accepted { as_of, tolerated, cure_due, applicable, .. } => {
                expect(self, CaseState::Received, &["Received"])?;
                self.state = CaseState::InApproval;
                self.accepted_as_of = Some(*as_of);
                self.outstanding = tolerated.clone();
                self.cure_due = *cure_due;
                self.create_tasks(def, applicable);
                let days = def.bundle(self.bundle).promised_days;
                // The clock counts from the acceptance date (for deemed acceptance, the receipt
                // date), at the close of that day.
                let base = Case::clock_base(def, *as_of);
                self.sla = Sla::start(cal, base, days, def.policies().warning_percent).ok();
            }
            Event::Rejected { .. } => {
                expect(self, CaseState::Received, &["Received"])?;
                self.state = CaseState::Rejected;
            }
            Event::TaskReady { item }
            | Event::TaskClaimed { item, .. }
            | Event::TaskSigned { item, .. }
            | Event::TaskVotedAgainst { item, .. }
            | Event::TaskVotesCancelled { item, .. }
            | Event::TaskSignerAdded { item, .. }
            | Event::TaskSignerRemoved { item, .. }
            | Event::TaskLevelSigned { item, .. }
            | Event::TaskReturned { item, .. }
            | Event::TaskUrged { item, .. }
            | Event::TaskRecalled { item, .. }
            | Event::TaskUnready { item, .. }
            | Event::TaskTransferred { item, .. }
            | Event::TaskDelegated { item, .. }
            | Event::DelegationResolved { item, .. }
            | Event::SupplementRequested { item, .. }
            | Event::SupplementProvided { item }
            | Event::SupplementLapsed { item, .. }
            | Event::TaskLevelSlaChanged { item, .. }
            | Event::TaskApproved { item }
            | Event::TaskDenied { item, .. }
            | Event::TaskCancelled { item, .. }
            | Event::SpecialProcedureStarted { item, .. }
            | Event::SpecialProcedureEnded { item }
            | Event::TaskSimulatedApproved { item }
            | Event::SimulationConverted { item }
            | Event::SimulationReopened { item }
            | Event::TaskLapsed { item } => {
                expect(self, CaseState::InApproval, &["InApproval"])?;
                let Some(pos) = self.task_pos(item) else {
                    return Err(illegal(self, Illegal::NoTask(item.clone())));
                };
                if let Err(e) = self.tasks[pos].evolve(def, event, now) {
                    return Err(illegal(self, Illegal::Task(e)));
                }
                // A supply at a window is a trip to the hall (none on the web or mobile).
                if let Event::SupplementProvided { .. } = event {
                    self.trips += u32::from(at_window);
                }
                // Who signed the approval: the one who may recall it (撤回).
                if let Event::TaskApproved { .. } = event {
                    self.tasks[pos].approver = Some(by.id.clone());
                }
                self.fold_task_effects(def, event, now);
            }
            Event::SlaLevelChanged { subject, level } => {
                let sla = match subject {
                    SlaSubject::Case => self.sla.as_mut(),
                    SlaSubject::Task(item) => match self.task_pos(item) {
                        Some(p) => self.tasks[p].sla.as_mut(),
                        None => None,
                    },
                };
                match sla {
                    Some(sla) if sla.level < *level => sla.raise(*level, cal, def.policies().warning_percent),
                    _ => return Err(illegal(self, Illegal::NoClockBelow(*level))),
                }
            }
            Event::CaseDecided { outcome, awaiting_cure } => {
                expect(self, CaseState::InApproval, &["InApproval"])?;
                if !self.tasks.iter().all(|t| t.state.is_terminal()) {
                    return Err(illegal(self, Illegal::TasksOpen));
                }
                self.outcome = Some(*outcome);
                self.state = if *awaiting_cure { CaseState::AwaitingCure } else { CaseState::ReadyForDelivery };
                if *outcome == Outcome::Denied {
                    // Nothing is issued, so nothing can be cured or revoked.
                    self.outstanding.clear();
                    self.cure_due = None;
                }
                if let Some(sla) = &mut self.sla {
                    sla.stop();
                }
            }
            Event::MaterialSupplied { material } => {
                let Some(p) = material.position_in(self.outstanding.iter()) else {
                    return Err(illegal(self, Illegal::NotOutstanding(material.clone())));
                };
                self.outstanding.remove(p);
                if let Some(ix) = def.material_ix(material)
                    && let Err(i) = self.materials.binary_search(&ix)
                {
                    self.materials.insert(i, ix);
                }
                self.trips += u32::from(at_window);
                if self.outstanding.is_empty() {
                    self.cure_due = None;
                    match self.state {
                        CaseState::AwaitingCure => self.state = CaseState::ReadyForDelivery,
                        CaseState::Delivered if self.rating.is_some() => self.state = CaseState::Closed,
                        _ => {}
                    }
                }
            }
            Event::CaseSuspended => {
                if !matches!(self.state, CaseState::InApproval | CaseState::AwaitingCure | CaseState::ReadyForDelivery)
                {
                    return Err(illegal(
                        self,
                        Illegal::State { expected: &["InApproval", "AwaitingCure", "ReadyForDelivery"] },
                    ));
                }
                self.suspended = Some((now, self.state));
                self.state = CaseState::Suspended;
                self.pause_all(now);
            }
            Event::CaseResumed => {
                let Some((_, back)) = self.suspended.take() else {
                    return Err(illegal(self, Illegal::State { expected: &["Suspended"] }));
                };
                self.state = if back == CaseState::AwaitingCure { CaseState::ReadyForDelivery } else { back };
                self.resume_all(def, now);
            }
            Event::CaseReturned => {
                // After a suspension's grace, or (policy ReturnCase) when materials asked during
                // review were not supplied in time.
                let supplement_lapsed = self.state == CaseState::InApproval
                    && self.tasks.iter().any(|t| t.state == TaskState::AwaitingSupplement);
                if !supplement_lapsed {
                    expect(self, CaseState::Suspended, &["Suspended", "InApproval awaiting a supplement"])?;
                }
                self.state = CaseState::Returned;
                self.end_open_tasks();
            }
            Event::Delivered { method } => {
                expect(self, CaseState::ReadyForDelivery, &["ReadyForDelivery"])?;
                self.state = CaseState::Delivered;
                self.delivered = Some((now, *method));
                self.trips += u32::from(*method == DeliveryMethod::Window);
            }
            Event::Rated { stars, by_default } => {
                expect(self, CaseState::Delivered, &["Delivered"])?;
                if self.rating.is_some() {
                    return Err(illegal(self, Illegal::State { expected: &["Delivered, not yet rated"] }));
                }
                self.rating = Some(Rating { stars: *stars, by_default: *by_default, at: now });
                if self.outstanding.is_empty() {
                    self.state = CaseState::Closed;
                }
            }
            Event::Withdrawn => {
                if self.state.is_final() || self.state == CaseState::Delivered {
                    return Err(illegal(self, Illegal::State { expected: &["an open state before delivery"] }));
                }
                self.state = CaseState::Withdrawn;
                self.end_open_tasks();
            }
            Event::Revoked => {
                expect(self, CaseState::Delivered, &["Delivered"])?;
                self.state = CaseState::Revoked;
            }
            // Folded by the engine with both versions at hand (`Case::fold_migration`).
            Event::Migrated { .. } => {
                return Err(illegal(self, Illegal::Migration("a migration is folded with both versions".into())));
            }
            Event::TicketOpened { .. }
            | Event::TicketRectifying { .. }
            | Event::TicketSubmitted { .. }
            | Event::TicketPassed
            | Event::TicketFailed { .. }
            | Event::TicketAppealUpheld
            | Event::TicketFedBack { .. }
            | Event::TicketClosed
            | Event::TicketReopened { .. }
            | Event::TicketEscalated { .. } => return Err(illegal(self, Illegal::WrongStream)),
        }
        if took_it.is_some() {
            self.window = took_it;
        }
        self.updated_at = Some(at);
        self.version += 1;
        Ok(())
    }

    /// The case-level effects of a task event: a special procedure stops the case clock while
    /// any task is in one (特别程序 is not counted in the promise).
    fn fold_task_effects(&mut self, def: &Definition, event: &Event, now: Instant) {
        match event {
            Event::SpecialProcedureStarted { .. } | Event::SupplementRequested { .. } => {
                #[cfg(feature = "fault-injection")]
                if matches!(event, Event::SupplementRequested { .. })
                    && crate::fault::active(crate::fault::Fault::SupplementKeepsClockRunning)
                {
                    return;
                }
                if let Some(sla) = &mut self.sla {
                    sla.pause(now);
                }
            }
            Event::SpecialProcedureEnded { .. } | Event::SupplementProvided { .. } => {
                // The case clock stopped when the first procedure started or the first
                // supplement was asked (this task's at the latest); it runs again when the last
                // one ends.
                if !self.clock_held()
                    && let Some(sla) = &mut self.sla
                {
                    sla.resume(def.calendar(), now, def.policies().warning_percent);
                }
            }
            _ => {}
        }
    }

    fn add_materials(&mut self, def: &Definition, ids: &[Id]) {
        for id in ids {
            if let Some(ix) = def.material_ix(id)
                && let Err(i) = self.materials.binary_search(&ix)
            {
                self.materials.insert(i, ix);
            }
        }
    }

    fn create_tasks(&mut self, def: &Definition, applicable: &[Id]) {
        let bundle = def.bundle(self.bundle);
        let applies: MemberSet = bundle
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| def.item(m.item).id.position_in(applicable.iter()).is_some())
            .map(|(i, _)| i)
            .collect();
        let waits = super::waits_through(bundle, applies);
        self.tasks = bundle
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| Task {
                waits_for: waits[i],
                ..Task::fresh(m.item, def.item(m.item).id.clone(), applies.contains(i))
            })
            .collect();
    }

    fn pause_all(&mut self, now: Instant) {
        if let Some(sla) = &mut self.sla {
            sla.pause(now);
        }
        for t in &mut self.tasks {
            if let Some(sla) = &mut t.sla {
                sla.pause(now);
            }
            if let Some(sla) = &mut t.level_sla {
                sla.pause(now);
            }
        }
    }

    fn resume_all(&mut self, def: &Definition, now: Instant) {
        let cal = def.calendar();
        let pct = def.policies().warning_percent;
        let held = self.clock_held();
        if let Some(sla) = &mut self.sla
            && !held
        {
            sla.resume(cal, now, pct);
        }
        for t in &mut self.tasks {
            if t.state.holds_clock() {
                continue;
            }
            if let Some(sla) = &mut t.sla {
                sla.resume(cal, now, pct);
            }
            if let Some(sla) = &mut t.level_sla {
                sla.resume(cal, now, pct);
            }
        }
    }

    /// Whether a task holds the case clock: in a special procedure (特别程序) or awaiting
    /// materials asked during review (补充材料), neither counted in the promise.
    pub(crate) fn clock_held(&self) -> bool {
        self.tasks.iter().any(|t| t.state.holds_clock())
    }

    /// 撤回 and 退件 end every open task with the case, and stop the case clock.
    fn end_open_tasks(&mut self) {
        for t in &mut self.tasks {
            t.end_with_case();
        }
        if let Some(sla) = &mut self.sla {
            sla.stop();
        }
    }
}
