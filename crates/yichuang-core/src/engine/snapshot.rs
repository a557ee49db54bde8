//! Snapshots of an engine (快照): what a service needs to start without folding its whole log.
//!
//! A snapshot is not a copy of the engine's memory. It holds the **finished** cases (final, or
//! delivered with nothing outstanding: all that can still happen to them is their rating) in
//! their compacted form ([`Engine::compact`]: state, outcome, rating, trips, clocks, what
//! reports read), the numbers of the cases still open, and the count of cases and tickets.
//! Resuming folds the events of the open cases and of the tickets (read from the log by
//! stream), places the finished ones between them, and then the log after the snapshot's
//! position is folded as usual. So a start costs the open work plus the finished cases'
//! summaries, not the log's history, and every open case is still the fold of its own events
//! through [`Engine::apply`], which checks each of them.
//!
//! The format names definition objects by their stable ids (bundles), never by index, and
//! carries [`SNAPSHOT_VERSION`]; a snapshot of another version is refused, and the service
//! then folds the whole log.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::definition::{Channel, Definition, Id};
use crate::event::{Applicant, CaseId, DeliveryMethod, Outcome, Recorded, StreamId};
use crate::machine::case::{Case, CaseState, Rating};
use crate::machine::sla::{Sla, SlaLevel};
use crate::time::{Date, Instant};

/// The format of [`EngineSnapshot`]; resuming refuses any other.
pub const SNAPSHOT_VERSION: u32 = 1;

/// An engine at one point of its log; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSnapshot {
    /// [`SNAPSHOT_VERSION`] when written.
    pub v: u32,
    /// Cases opened (the last case number given).
    pub cases_opened: u64,
    /// Tickets opened; every ticket is folded from its events.
    pub tickets: u64,
    /// Cases still open, in number order: folded from their events at resume.
    pub open: Vec<CaseId>,
    /// Finished cases, compacted, in number order.
    pub finished: Vec<FinishedCase>,
}

/// A finished case as a compacted case holds it (no tasks, materials or outstanding list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedCase {
    id: CaseId,
    bundle: Id,
    applicant: Applicant,
    state: String,
    channel: Option<Channel>,
    green_channel: bool,
    applicable: u64,
    correction: Vec<Id>,
    received_at: Option<Instant>,
    accepted_as_of: Option<Date>,
    cure_due: Option<Instant>,
    suspended: Option<(Instant, String)>,
    sla: Option<SlaImage>,
    trips: u32,
    window: Option<Id>,
    outcome: Option<Outcome>,
    delivered: Option<(Instant, DeliveryMethod)>,
    rating: Option<(u8, bool, Instant)>,
    version: u32,
    updated_at: Option<Instant>,
}

/// A case's clock, with its next level change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SlaImage {
    start: Instant,
    budget_minutes: i64,
    paused_minutes: i64,
    paused_since: Option<Instant>,
    level: SlaLevel,
    stopped: bool,
    due: Option<Instant>,
}

/// Why a snapshot cannot be resumed. The caller folds the whole log instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// Written by another format version.
    #[error("the snapshot has format version {found}; this engine reads version {SNAPSHOT_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
    /// A finished case names something the definition does not have, or does not read.
    #[error("finished case {case} of the snapshot does not fit the definition: {why}")]
    Finished {
        /// The case.
        case: CaseId,
        /// Why.
        why: String,
    },
    /// The snapshot's lists are out of order, or disagree with its counts or the events.
    #[error("the snapshot does not hold together: {0}")]
    Inconsistent(String),
    /// An event of an open stream does not fold.
    #[error(transparent)]
    Replay(#[from] super::ReplayError),
}

impl FinishedCase {
    /// The case's number.
    pub fn id(&self) -> CaseId {
        self.id
    }

    fn of(def: &Definition, c: &Case) -> FinishedCase {
        FinishedCase {
            id: c.id,
            bundle: def.bundle(c.bundle).id.clone(),
            applicant: c.applicant.clone(),
            state: c.state.name().to_owned(),
            channel: c.channel,
            green_channel: c.green_channel,
            applicable: c.applicable,
            correction: c.correction.clone(),
            received_at: c.received_at,
            accepted_as_of: c.accepted_as_of,
            cure_due: c.cure_due,
            suspended: c.suspended.map(|(t, s)| (t, s.name().to_owned())),
            sla: c.sla.as_ref().map(|s| SlaImage {
                start: s.start,
                budget_minutes: s.budget_minutes,
                paused_minutes: s.paused_minutes,
                paused_since: s.paused_since,
                level: s.level,
                stopped: s.stopped,
                due: s.next_deadline(),
            }),
            trips: c.trips,
            window: c.window.clone(),
            outcome: c.outcome,
            delivered: c.delivered,
            rating: c.rating.map(|r| (r.stars, r.by_default, r.at)),
            version: c.version,
            updated_at: c.updated_at,
        }
    }

    fn case(&self, def: &Definition) -> Result<Case, ResumeError> {
        let wrong = |why: String| ResumeError::Finished { case: self.id, why };
        let state = |name: &str| {
            CaseState::ALL.iter().copied().find(|s| s.name() == name).ok_or_else(|| wrong(format!("no state `{name}`")))
        };
        let bundle = def.bundle_ix(&self.bundle).ok_or_else(|| wrong(format!("no bundle `{}`", self.bundle)))?;
        let mut case = Case::new(self.id, bundle, self.applicant.clone());
        case.state = state(&self.state)?;
        case.channel = self.channel;
        case.green_channel = self.green_channel;
        case.applicable = self.applicable;
        case.correction = self.correction.clone();
        case.received_at = self.received_at;
        case.accepted_as_of = self.accepted_as_of;
        case.cure_due = self.cure_due;
        case.suspended = match &self.suspended {
            Some((t, s)) => Some((*t, state(s)?)),
            None => None,
        };
        case.sla = self.sla.as_ref().map(|s| {
            Sla::from_parts(s.start, s.budget_minutes, s.paused_minutes, s.paused_since, s.level, s.stopped, s.due)
        });
        case.trips = self.trips;
        case.window = self.window.clone();
        case.outcome = self.outcome;
        case.delivered = self.delivered;
        case.rating = self.rating.map(|(stars, by_default, at)| Rating { stars, by_default, at });
        case.version = self.version;
        case.updated_at = self.updated_at;
        if !case.is_finished() {
            return Err(wrong(format!("a case in state {} is not finished", self.state)));
        }
        Ok(case)
    }
}

impl Engine {
    /// The engine as a snapshot: finished cases compacted, open cases by number (their
    /// events are in the log). Taking it compacts nothing here; the snapshot holds what
    /// [`Engine::compact`] would keep.
    pub fn snapshot(&self) -> EngineSnapshot {
        let mut open = Vec::new();
        let mut finished = Vec::new();
        for c in self.cases.iter() {
            if c.is_finished() {
                finished.push(FinishedCase::of(self.definition_of(c), c));
            } else {
                open.push(c.id);
            }
        }
        EngineSnapshot {
            v: SNAPSHOT_VERSION,
            cases_opened: self.cases.opened(),
            tickets: self.tickets.len() as u64,
            open,
            finished,
        }
    }

    /// The streams whose events [`Engine::resume`] needs from the log up to the snapshot's
    /// position: the open cases and every ticket.
    pub fn snapshot_streams(snapshot: &EngineSnapshot) -> Vec<StreamId> {
        let cases = snapshot.open.iter().map(|&c| StreamId::Case(c));
        let tickets = (1..=snapshot.tickets).map(|t| StreamId::Ticket(crate::TicketId(t)));
        cases.chain(tickets).collect()
    }

    /// Rebuilds an engine from a snapshot and the events of [`Engine::snapshot_streams`] up to
    /// the snapshot's position, in log order. Cases the snapshot names neither open nor
    /// finished were retired before it. Timers are not scheduled: fold the rest of the log with
    /// [`Engine::apply`], then call [`Engine::rebuild_timers`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use yichuang_core::*;
    /// # let def = Arc::new(Definition::from_ron(include_str!("../../../../examples/definitions/county-hall.ron"), "county-hall.ron").unwrap());
    /// let engine = Engine::new(Arc::clone(&def));
    /// let snapshot = engine.snapshot();
    /// let text = serde_json::to_string(&snapshot).unwrap();
    /// let read = serde_json::from_str(&text).unwrap();
    /// let resumed = Engine::resume(def, &read, &[]).unwrap();
    /// assert_eq!(resumed.cases_opened(), 0);
    /// ```
    pub fn resume<'a>(
        def: Arc<Definition>,
        snapshot: &EngineSnapshot,
        events: impl IntoIterator<Item = &'a Recorded>,
    ) -> Result<Engine, ResumeError> {
        if snapshot.v != SNAPSHOT_VERSION {
            return Err(ResumeError::Version { found: snapshot.v });
        }
        let increasing = |ids: Vec<CaseId>| {
            ids.windows(2).all(|w| w[0] < w[1]) && ids.last().is_none_or(|c| c.0 <= snapshot.cases_opened)
        };
        if !increasing(snapshot.open.clone()) || !increasing(snapshot.finished.iter().map(|f| f.id).collect()) {
            return Err(ResumeError::Inconsistent("case numbers out of order or past the cases opened".into()));
        }
        let mut engine = Engine::new(def);
        let mut finished = snapshot.finished.iter().peekable();
        for (position, rec) in events.into_iter().enumerate() {
            if let StreamId::Case(id) = rec.stream
                && id.0 > engine.cases.opened()
            {
                while let Some(f) = finished.next_if(|f| f.id < id) {
                    engine.insert_finished(f)?;
                }
                if snapshot.open.binary_search(&id).is_err() {
                    return Err(ResumeError::Inconsistent(format!(
                        "events of {id}, which the snapshot does not name open"
                    )));
                }
                engine.skip_retired_cases(id);
            }
            engine.apply(position, rec)?;
        }
        for f in finished {
            engine.insert_finished(f)?;
        }
        engine.skip_retired_cases(CaseId(snapshot.cases_opened + 1));
        let held_open = engine.cases.iter().filter(|c| !c.is_finished()).count();
        if held_open != snapshot.open.len() || engine.tickets.len() as u64 != snapshot.tickets {
            return Err(ResumeError::Inconsistent(format!(
                "it names {} open cases and {} tickets; their events made {held_open} and {}",
                snapshot.open.len(),
                snapshot.tickets,
                engine.tickets.len()
            )));
        }
        Ok(engine)
    }

    fn insert_finished(&mut self, f: &FinishedCase) -> Result<(), ResumeError> {
        let case = f.case(self.def())?;
        self.skip_retired_cases(case.id);
        self.cases.insert(case);
        self.timers.add_case();
        Ok(())
    }
}
