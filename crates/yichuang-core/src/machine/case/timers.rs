//! The case's timers as data: which are pending (by state), the earliest one, and firing the
//! due ones, each reported to the spec as its timer row.

use crate::actor::Actor;
use crate::definition::{Definition, Id, SupplementLapse};
use crate::event::{Event, EventSink, Events, SlaSubject};
use crate::machine::sla::{Sla, SlaLevel};
use crate::machine::spec;
use crate::machine::task::{TaskMachine, TaskState, TaskTimer};
use crate::time::Instant;

use super::{Case, CaseMachine, CaseState, CaseTimer, Timer};

impl Case {
    /// Every pending timer of this case with its due instant.
    pub fn timers(&self, def: &Definition) -> Vec<(Instant, Timer)> {
        let mut out = Vec::new();
        self.visit_timers(def, &mut |t, timer| out.push((t, timer)));
        out
    }

    /// Calls `f` with every pending timer, without allocating (this runs after every command).
    fn visit_timers(&self, def: &Definition, f: &mut impl FnMut(Instant, Timer)) {
        let cal = def.calendar();
        let policies = def.policies();
        match self.state {
            CaseState::Received => {
                if let Some(received) = self.received_at
                    && let Ok(d) = cal.add_working_days(received.date(), policies.correction_notice_days)
                {
                    f(cal.office_close(d), Timer::Case(CaseTimer::DeemedAcceptance));
                }
            }
            CaseState::InApproval | CaseState::AwaitingCure | CaseState::ReadyForDelivery => {
                if let Some(due) = self.cure_due {
                    f(due, Timer::Case(CaseTimer::CureDue));
                }
            }
            CaseState::Suspended => {
                if let Some((since, _)) = self.suspended
                    && let Ok(d) = cal.add_working_days(since.date(), policies.cure_grace_days)
                {
                    f(cal.office_close(d), Timer::Case(CaseTimer::GraceOver));
                }
            }
            CaseState::Delivered => {
                if let Some(due) = self.cure_due {
                    f(due, Timer::Case(CaseTimer::CureDue));
                }
                if let (None, Some((at, _))) = (self.rating, self.delivered)
                    && let Ok(d) = cal.add_working_days(at.date(), policies.default_rating_days)
                {
                    f(cal.office_close(d), Timer::Case(CaseTimer::DefaultRating));
                }
            }
            _ => {}
        }
        if self.state == CaseState::InApproval {
            if let Some(t) = self.sla.as_ref().and_then(Sla::next_deadline) {
                f(t, Timer::Case(CaseTimer::Sla));
            }
            for (p, task) in self.tasks.iter().enumerate() {
                if let Some(t) = task.sla.as_ref().and_then(Sla::next_deadline) {
                    f(t, Timer::Task(p, TaskTimer::Sla));
                }
                if let Some(t) = task.level_sla.as_ref().and_then(Sla::next_deadline) {
                    f(t, Timer::Task(p, TaskTimer::LevelSla));
                }
                if let (TaskState::SimulatedApproved, Some(t)) = (task.state, task.lapse_due) {
                    f(t, Timer::Task(p, TaskTimer::Lapse));
                }
                if let (TaskState::AwaitingSupplement, Some(s)) = (task.state, &task.supplement) {
                    match policies.supplement_lapse {
                        SupplementLapse::Deny => f(s.due, Timer::Task(p, TaskTimer::SupplementDue)),
                        SupplementLapse::ReturnCase => f(s.due, Timer::Case(CaseTimer::SupplementDue)),
                    }
                }
            }
        }
    }

    /// Whether a timer this case should have is missing because it would fall past the
    /// definition's calendar. The engine schedules no timer it cannot honour (the hall must add
    /// next year's holiday table before deadlines reach it), so such a case waits without a
    /// deadline; a tool that must not take that for a settled case (the checker) asks this.
    pub fn timer_past_calendar(&self, def: &Definition) -> bool {
        let cal = def.calendar();
        let policies = def.policies();
        let past =
            |from: Option<Instant>, days: u32| from.is_some_and(|t| cal.add_working_days(t.date(), days).is_err());
        // A clock that runs (not stopped, not paused, not yet overdue) always has its next level
        // change scheduled, unless that lies past the calendar.
        let stalled = |sla: &Sla| {
            !sla.stopped && sla.paused_since.is_none() && sla.level < SlaLevel::Overdue && sla.next_deadline().is_none()
        };
        let case_timer = match self.state {
            CaseState::Received => past(self.received_at, policies.correction_notice_days),
            CaseState::Suspended => past(self.suspended.map(|(since, _)| since), policies.cure_grace_days),
            CaseState::Delivered => {
                self.rating.is_none() && past(self.delivered.map(|(at, _)| at), policies.default_rating_days)
            }
            _ => false,
        };
        let clocks = self.state == CaseState::InApproval
            && (self.sla.as_ref().is_none_or(stalled)
                || self.tasks.iter().any(|t| {
                    t.level_sla.as_ref().is_some_and(stalled)
                        || match &t.sla {
                            Some(sla) => stalled(sla),
                            // Ready or in review, a task's clock runs: it failed to start.
                            None => matches!(t.state, TaskState::Ready | TaskState::InReview),
                        }
                }));
        case_timer || clocks
    }

    /// The earliest pending timer.
    pub fn next_deadline(&self, def: &Definition) -> Option<Instant> {
        let mut min: Option<Instant> = None;
        self.visit_timers(def, &mut |t, _| min = Some(min.map_or(t, |m| m.min(t))));
        min
    }

    /// The earliest timer due at `now`: when it fires, which one, and its events.
    fn due_timer(&self, def: &Definition, now: Instant) -> Option<(Instant, Timer, Events)> {
        let mut due: Option<(Instant, Timer)> = None;
        self.visit_timers(def, &mut |t, timer| {
            if t <= now && due.is_none_or(|(d, _)| t < d) {
                due = Some((t, timer));
            }
        });
        let (due, timer) = due?;
        let at = self.updated_at.map_or(due, |last| last.max(due));
        let events = match timer {
            Timer::Case(CaseTimer::DeemedAcceptance) => {
                // Deemed accepted as of receipt (Art. 32). Whatever is still missing is recorded as
                // outstanding, due by the end of the promised limit, so that nothing is decided or
                // delivered without it (invariant 4) and an uncured case is suspended, not stuck.
                let as_of = self.received_at.expect("a received case has a receipt time").date();
                let missing: Vec<Id> = self.missing(def).into_iter().map(|(m, _)| def.material(m).id.clone()).collect();
                let due = (!missing.is_empty())
                    .then(|| self.latest_cure_date(def, as_of).ok())
                    .flatten()
                    .map(|d| def.calendar().office_close(d).max(at));
                smallvec::smallvec![self.accepted(def, as_of, true, missing, due)]
            }
            Timer::Case(CaseTimer::Sla) => {
                let level = next_level(self.sla.as_ref().expect("timer implies a clock").level);
                smallvec::smallvec![Event::SlaLevelChanged { subject: SlaSubject::Case, level }]
            }
            Timer::Task(p, TaskTimer::Sla) => {
                let level = next_level(self.tasks[p].sla.as_ref().expect("timer implies a clock").level);
                smallvec::smallvec![Event::SlaLevelChanged {
                    subject: SlaSubject::Task(self.tasks[p].item_id.clone()),
                    level
                }]
            }
            Timer::Task(p, TaskTimer::LevelSla) => {
                let task = &self.tasks[p];
                let to = next_level(task.level_sla.as_ref().expect("timer implies a clock").level);
                smallvec::smallvec![Event::TaskLevelSlaChanged { item: task.item_id.clone(), level: task.level, to }]
            }
            Timer::Task(p, TaskTimer::Lapse) => {
                smallvec::smallvec![Event::TaskLapsed { item: self.tasks[p].item_id.clone() }]
            }
            Timer::Task(p, TaskTimer::SupplementDue) => smallvec::smallvec![Event::SupplementLapsed {
                item: self.tasks[p].item_id.clone(),
                consequence: SupplementLapse::Deny,
            }],
            Timer::Case(CaseTimer::SupplementDue) => {
                // The task whose deadline passed first.
                let task = self
                    .tasks
                    .iter()
                    .filter(|t| t.state == TaskState::AwaitingSupplement)
                    .min_by_key(|t| t.supplement.as_ref().map(|s| s.due))
                    .expect("the timer implies a task awaiting a supplement");
                smallvec::smallvec![
                    Event::SupplementLapsed { item: task.item_id.clone(), consequence: SupplementLapse::ReturnCase },
                    Event::CaseReturned
                ]
            }
            Timer::Case(CaseTimer::CureDue) if self.state == CaseState::Delivered => {
                smallvec::smallvec![Event::Revoked]
            }
            Timer::Case(CaseTimer::CureDue) => smallvec::smallvec![Event::CaseSuspended],
            Timer::Case(CaseTimer::GraceOver) => smallvec::smallvec![Event::CaseReturned],
            Timer::Case(CaseTimer::DefaultRating) => {
                smallvec::smallvec![Event::Rated { stars: def.policies().default_rating, by_default: true }]
            }
        };
        Some((at, timer, events))
    }

    /// Fires every timer due at or before `now`, in time order, each at its own instant, with
    /// the cascade that follows; the events are recorded by `system`.
    pub(crate) fn advance<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        now: Instant,
        system: &Actor,
        out: &mut S,
    ) {
        // Every firing changes the state so that the same timer is not due again; the number
        // of timers of a case is bounded by a small multiple of its tasks.
        for _ in 0..64 + 8 * self.tasks.len() {
            let Some((at, timer, mut events)) = self.due_timer(def, now) else {
                return;
            };
            let from = self.state;
            let task_from = match timer {
                Timer::Task(p, _) => Some(self.tasks[p].state),
                Timer::Case(_) => None,
            };
            for event in events.drain(..) {
                self.record(def, event, at, system, out);
            }
            match (timer, task_from) {
                (Timer::Case(t), _) => spec::timer_taken::<CaseMachine>(from, t, self.state),
                (Timer::Task(p, t), Some(task_from)) => {
                    spec::timer_taken::<TaskMachine>(task_from, t, self.tasks[p].state)
                }
                (Timer::Task(..), None) => unreachable!("a task timer has a task"),
            }
            self.settle(def, at, system, out);
        }
        panic!("case {} fired too many timers in one advance", self.id);
    }
}

fn next_level(level: SlaLevel) -> SlaLevel {
    match level {
        SlaLevel::Normal => SlaLevel::Warning,
        _ => SlaLevel::Overdue,
    }
}
