//! The embedder's API (引擎): many cases, commands with a context of time and actor, timers
//! advanced to a given time, queries by state, department and deadline, and replay.
//!
//! ```
//! # use std::sync::Arc;
//! # use yichuang_core::*;
//! # fn demo(def: Arc<Definition>, submission: Submission, clerk: Actor, now: Instant) -> Result<(), Rejection> {
//! let mut engine = Engine::new(def);
//! let (case, events) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &clerk })?;
//! engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk })?;
//! let fired = engine.advance_to(now.plus_minutes(60 * 24 * 30));
//! # let _ = (events, fired); Ok(()) }
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::actor::{Actor, Ctx, Role};
use crate::case::{Case, CaseState, Command, IllegalEvent};
use crate::definition::{Definition, Id, WindowClass};
use crate::event::{CaseId, EVENT_SCHEMA_VERSION, Event, Recorded};
use crate::rejection::Rejection;
use crate::task::{Task, TaskState};
use crate::time::Instant;

/// Many cases over one definition, with a timer queue.
#[derive(Debug, Clone)]
pub struct Engine {
    def: Arc<Definition>,
    cases: Vec<Case>,
    /// The instant each case's earliest timer is scheduled for (stale heap entries are skipped).
    scheduled: Vec<Option<Instant>>,
    timers: BinaryHeap<Reverse<(Instant, CaseId)>>,
}

/// Why a log could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// An event does not fit the state it is applied to.
    #[error("event #{position} (0-based) is illegal: {error}")]
    Illegal {
        /// Position in the log.
        position: usize,
        /// Why.
        error: IllegalEvent,
    },
    /// An event names a case that was not opened before it.
    #[error(
        "event #{position} (0-based) belongs to case {case}, which no earlier event opened; cases open in order with Consulted or Submitted"
    )]
    UnknownCase {
        /// Position in the log.
        position: usize,
        /// The case.
        case: CaseId,
    },
    /// A case opens with an unknown bundle.
    #[error("event #{position} (0-based) opens a case for unknown bundle `{bundle}`")]
    UnknownBundle {
        /// Position in the log.
        position: usize,
        /// The bundle id.
        bundle: String,
    },
    /// An event was written by a newer schema.
    #[error(
        "event #{position} (0-based) has schema version {version}; this engine reads version {EVENT_SCHEMA_VERSION}"
    )]
    Version {
        /// Position in the log.
        position: usize,
        /// The version found.
        version: u16,
    },
}

impl Engine {
    /// An empty engine over a validated definition.
    pub fn new(def: Arc<Definition>) -> Engine {
        Engine { def, cases: Vec::new(), scheduled: Vec::new(), timers: BinaryHeap::new() }
    }

    /// The definition.
    pub fn definition(&self) -> &Arc<Definition> {
        &self.def
    }

    /// Opens a case with `Consult` or `Submit`; returns its number and the events recorded.
    pub fn open(&mut self, command: Command, ctx: &Ctx<'_>) -> Result<(CaseId, Vec<Recorded>), Rejection> {
        let mut out = Vec::new();
        let id = self.open_into(command, ctx, &mut out)?;
        Ok((id, out))
    }

    /// Like [`Engine::open`], appending the events to `out`.
    pub fn open_into(&mut self, command: Command, ctx: &Ctx<'_>, out: &mut Vec<Recorded>) -> Result<CaseId, Rejection> {
        let def = &*self.def;
        let (bundle, applicant, event) = match command {
            Command::Consult { bundle, applicant } => {
                let Some(ix) = def.bundle_ix(&bundle) else {
                    return Err(Rejection::Unknown {
                        what: "bundle",
                        id: bundle.to_string(),
                        accepted: def.bundle_ids_text(),
                    });
                };
                authorize_opening(def, ctx.actor, &applicant.id, "consult", WindowClass::Consult)?;
                let notice = def.bundle(ix).materials.iter().map(|(m, _)| def.material(*m).id.clone()).collect();
                (ix, applicant.clone(), Event::Consulted { bundle, applicant, notice })
            }
            Command::Submit(s) => {
                authorize_opening(def, ctx.actor, &s.applicant.id, "submit", WindowClass::Intake)?;
                let ix = Case::check_submission(def, &s)?;
                let s = *s;
                let applicant = s.applicant.clone();
                let event = Event::Submitted {
                    bundle: s.bundle,
                    applicant: s.applicant,
                    channel: s.channel,
                    materials: s.materials,
                    answers: s.answers,
                    green_channel: s.green_channel,
                };
                (ix, applicant, event)
            }
            other => {
                return Err(Rejection::InvalidState {
                    command: other.name(),
                    subject: "case".into(),
                    state: "not yet opened".into(),
                    accepted: "a case is opened by consult or submit".into(),
                });
            }
        };
        let id = CaseId(self.cases.len() as u64 + 1);
        let mut case = Case::new(id, bundle, applicant);
        let rec = Recorded { v: EVENT_SCHEMA_VERSION, case: id, seq: 1, at: ctx.now, by: ctx.actor.clone(), event };
        case.evolve(def, &rec).expect("a fresh case accepts its opening event");
        out.push(rec);
        self.cases.push(case);
        self.scheduled.push(None);
        self.reschedule(id);
        Ok(id)
    }

    /// Executes a command on a case: the events recorded (with their cascade), or the rejection
    /// (and nothing changed).
    pub fn execute(&mut self, case: CaseId, command: Command, ctx: &Ctx<'_>) -> Result<Vec<Recorded>, Rejection> {
        let mut out = Vec::new();
        self.execute_into(case, &command, ctx, &mut out)?;
        Ok(out)
    }

    /// Like [`Engine::execute`], appending to `out`.
    pub fn execute_into(
        &mut self,
        case: CaseId,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut Vec<Recorded>,
    ) -> Result<(), Rejection> {
        let slot = self.slot(case)?;
        self.cases[slot].execute(&self.def, command, ctx, out)?;
        self.reschedule(case);
        Ok(())
    }

    fn slot(&self, case: CaseId) -> Result<usize, Rejection> {
        let slot = (case.0 as usize).wrapping_sub(1);
        if slot < self.cases.len() {
            Ok(slot)
        } else {
            Err(Rejection::Unknown {
                what: "case",
                id: case.to_string(),
                accepted: format!("C000001–{}", CaseId(self.cases.len() as u64)),
            })
        }
    }

    fn reschedule(&mut self, case: CaseId) {
        let slot = case.0 as usize - 1;
        let next = self.cases[slot].next_deadline(&self.def);
        if next != self.scheduled[slot] {
            self.scheduled[slot] = next;
            if let Some(t) = next {
                self.timers.push(Reverse((t, case)));
            }
        }
    }

    /// The earliest pending timer of any case.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((t, case))) = self.timers.peek() {
            if self.scheduled[case.0 as usize - 1] == Some(t) {
                return Some(t);
            }
            self.timers.pop();
        }
        None
    }

    /// Fires every timer due at or before `now`, in time order (ties by case number), each
    /// event stamped with its own due time. Returns the events recorded.
    pub fn advance_to(&mut self, now: Instant) -> Vec<Recorded> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }

    /// Like [`Engine::advance_to`], appending to `out`.
    pub fn advance_into(&mut self, now: Instant, out: &mut Vec<Recorded>) {
        while let Some(t) = self.next_deadline() {
            if t > now {
                break;
            }
            let Reverse((_, case)) = self.timers.pop().expect("peeked");
            let slot = case.0 as usize - 1;
            self.scheduled[slot] = None;
            self.cases[slot].advance(&self.def, t, out);
            self.reschedule(case);
        }
    }

    /// A case by number.
    pub fn case(&self, id: CaseId) -> Option<&Case> {
        self.slot(id).ok().map(|s| &self.cases[s])
    }

    /// All cases in number order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// Cases in a state.
    pub fn cases_in(&self, state: CaseState) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(move |c| c.state == state)
    }

    /// A department's work queue (部门待办): tasks in `state` decided (or countersigned) by
    /// `department`, in case order.
    pub fn department_tasks<'a>(
        &'a self,
        department: &'a str,
        state: TaskState,
    ) -> impl Iterator<Item = (CaseId, &'a Task)> + 'a {
        let def = &*self.def;
        self.cases.iter().flat_map(move |c| {
            c.tasks.iter().filter_map(move |t| {
                let ours =
                    def.item(t.item).decided_by.departments().iter().any(|&d| def.department(d).id == *department);
                (ours && t.state == state).then_some((c.id, t))
            })
        })
    }

    /// Cases whose earliest timer is due at or before `t` (for deadline dashboards).
    pub fn due_before(&self, t: Instant) -> impl Iterator<Item = (CaseId, Instant)> + '_ {
        self.cases.iter().zip(&self.scheduled).filter_map(move |(c, s)| s.filter(|d| *d <= t).map(|d| (c.id, d)))
    }

    /// Rebuilds an engine from a log, checking that every event is legal in order.
    pub fn replay<'a>(
        def: Arc<Definition>,
        log: impl IntoIterator<Item = &'a Recorded>,
    ) -> Result<Engine, ReplayError> {
        let mut engine = Engine::new(def);
        for (position, rec) in log.into_iter().enumerate() {
            engine.apply(position, rec)?;
        }
        for id in 1..=engine.cases.len() as u64 {
            engine.reschedule(CaseId(id));
        }
        Ok(engine)
    }

    /// Folds one recorded event (replay, or following another engine's stream).
    pub fn apply(&mut self, position: usize, rec: &Recorded) -> Result<(), ReplayError> {
        if rec.v != EVENT_SCHEMA_VERSION {
            return Err(ReplayError::Version { position, version: rec.v });
        }
        let next = CaseId(self.cases.len() as u64 + 1);
        if rec.case == next {
            let (bundle, applicant) = match &rec.event {
                Event::Consulted { bundle, applicant, .. } | Event::Submitted { bundle, applicant, .. } => {
                    (bundle, applicant)
                }
                _ => return Err(ReplayError::UnknownCase { position, case: rec.case }),
            };
            let Some(ix) = self.def.bundle_ix(bundle) else {
                return Err(ReplayError::UnknownBundle { position, bundle: bundle.to_string() });
            };
            self.cases.push(Case::new(rec.case, ix, applicant.clone()));
            self.scheduled.push(None);
        }
        let slot = (rec.case.0 as usize).wrapping_sub(1);
        let Some(case) = self.cases.get_mut(slot) else {
            return Err(ReplayError::UnknownCase { position, case: rec.case });
        };
        case.evolve(&self.def, rec).map_err(|error| ReplayError::Illegal { position, error })
    }
}

fn authorize_opening(
    def: &Definition,
    actor: &Actor,
    applicant: &Id,
    command: &'static str,
    class: WindowClass,
) -> Result<(), Rejection> {
    match &actor.role {
        Role::Applicant if actor.id == *applicant => Ok(()),
        Role::Applicant => {
            Err(Rejection::NotTheApplicant { actor: actor.describe(), applicant: applicant.to_string() })
        }
        Role::Clerk { window }
            if def.window(window).is_some_and(|w| w.class == class || w.class == WindowClass::Intake) =>
        {
            Ok(())
        }
        _ => Err(Rejection::RoleNotAllowed {
            rule: "申请人本人 (only the applicant, or a window clerk on their behalf)",
            actor: actor.describe(),
            command,
            allowed: format!("the applicant or a clerk of a {class:?} window may"),
        }),
    }
}
