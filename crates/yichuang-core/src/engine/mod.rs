//! The embedder's API (引擎): many cases and tickets, commands with a context of time and actor,
//! timers advanced to a given time, queries by state, department and deadline, and replay.
//!
//! The engine also carries the cross-stream rules of the loop 评价 → 反馈 → 整改 → 监督: a bad
//! rating (≤ 2) and an overdue task or case each open exactly one ticket, routed 谁办理谁负责.
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

mod case_table;
mod snapshot;
mod timers;

pub use self::snapshot::{EngineSnapshot, FinishedCase, ResumeError, SNAPSHOT_VERSION};

use std::sync::Arc;

use self::case_table::CaseTable;
use self::timers::TimerQueue;
use crate::actor::{Actor, Ctx, Role};
use crate::definition::{Definition, Id, Version, WindowClass};
use crate::event::{CaseId, EVENT_SCHEMA_VERSION, Event, EventSink, Events, Recorded, SlaSubject, StreamId};
use crate::machine::case::{
    Case, CaseMachine, CaseState, Command, CommandKind, Illegal, IllegalEvent, MigrationPlan, Verdict,
};
use crate::machine::sla::SlaLevel;
use crate::machine::spec;
use crate::machine::task::{Task, TaskState};
use crate::machine::ticket::{ComplaintTarget, Ticket, TicketCommand, TicketId, TicketSource, TicketState};
use crate::machine::ticket::{TicketMachine, TicketTimer};
use crate::rejection::Rejection;
use crate::rejection::{Allowed, KnownCases, Subject};
use crate::time::Instant;

/// Many cases and tickets over one definition, with a timer queue.
///
/// Open a case, then execute commands on it; each returns the events it recorded, or a
/// [`Rejection`] that changed nothing:
///
/// ```
/// # use std::sync::Arc;
/// # use yichuang_core::*;
/// # use yichuang_core::definition::WindowClass;
/// # let def = Arc::new(Definition::from_ron(include_str!("../../../../examples/definitions/county-hall.ron"), "county-hall.ron").unwrap());
/// # let window = |class| def.windows().iter().find(|w| w.class == class).unwrap().id.clone();
/// # let clerk = Actor::clerk("clerk-1", &window(WindowClass::Intake));
/// # let bundle = def.bundle(def.bundle_ix("open-business").unwrap());
/// # let materials: Vec<Id> = bundle.materials.iter().map(|&(m, _)| def.material(m))
/// #     .filter(|m| m.shared_source.is_none()).map(|m| m.id.clone()).collect();
/// # let submission = Submission {
/// #     bundle: bundle.id.clone(),
/// #     applicant: Applicant { id: Id::new("91000000MA00000001"), name: "示例公司".into(), credit_blocked: false },
/// #     channel: Channel::Window,
/// #     materials: materials.into(),
/// #     answers: std::collections::BTreeMap::from([("company-name".to_owned(), "示例公司".to_owned())]).into(),
/// #     green_channel: false,
/// # };
/// let mut engine = Engine::new(Arc::clone(&def));
/// let now: Instant = "2026-03-02T09:30".parse().unwrap();
/// let (case, _) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &clerk })?;
/// engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk })?;
/// assert_eq!(engine.case(case).unwrap().state(), CaseState::InApproval);
///
/// // The business licence is ready; a reviewer of its department claims and approves it, and
/// // the five tasks that waited for it become ready (并联审批).
/// let reviewer = Actor::reviewer("r-1", "market-access");
/// let licence = || Id::new("business-licence");
/// engine.execute(case, Command::Task { item: licence(), action: TaskCommand::Claim }, &Ctx { now, actor: &reviewer })?;
/// let events = engine.execute(case, Command::Task { item: licence(), action: TaskCommand::Approve }, &Ctx { now, actor: &reviewer })?;
/// let ready = events.iter().filter(|r| matches!(r.event, Event::TaskReady { .. })).count();
/// assert_eq!(ready, 5);
/// # Ok::<(), Rejection>(())
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    /// Every definition version deployed, in deployment order (定义版本): each case runs on the
    /// one it was submitted under ([`Case::definition`] indexes this list).
    defs: Vec<Arc<Definition>>,
    /// The version new cases are opened under.
    active: usize,
    cases: CaseTable,
    tickets: Vec<Ticket>,
    /// Each stream's earliest pending timer.
    timers: TimerQueue,
    /// The actor of timers, made once.
    system: Actor,
}

/// A loop trigger seen among a case's fresh events: it opens a ticket once the case step is
/// done (bad rating, overdue task or case).
#[derive(Debug)]
struct Trigger {
    case: CaseId,
    at: Instant,
    by: Actor,
    event: Event,
}

/// Passes events through to the caller's sink and keeps the loop's triggers.
struct Watch<'s, S: ?Sized> {
    sink: &'s mut S,
    triggers: Vec<Trigger>,
}

impl<S: EventSink + ?Sized> EventSink for Watch<'_, S> {
    fn record(&mut self, stream: StreamId, seq: u32, at: Instant, by: &Actor, event: Event) {
        if let StreamId::Case(case) = stream
            && matches!(
                event,
                Event::Rated { stars: ..=2, .. } | Event::SlaLevelChanged { level: SlaLevel::Overdue, .. }
            )
        {
            self.triggers.push(Trigger { case, at, by: by.clone(), event: event.clone() });
        }
        self.sink.record(stream, seq, at, by, event);
    }
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
    /// An event names a stream that was not opened before it.
    #[error(
        "event #{position} (0-based) belongs to {stream}, which no earlier event opened; streams open in order \
         (cases with Consulted or Submitted, tickets with TicketOpened)"
    )]
    UnknownStream {
        /// Position in the log.
        position: usize,
        /// The stream.
        stream: StreamId,
    },
    /// A case opens with an unknown bundle.
    #[error("event #{position} (0-based) opens a case for unknown bundle `{bundle}`")]
    UnknownBundle {
        /// Position in the log.
        position: usize,
        /// The bundle id.
        bundle: String,
    },
    /// An event names a definition version this engine does not hold (deploy every stored
    /// version before replaying: [`Engine::replay_versions`]).
    #[error(
        "event #{position} (0-based) names definition version {version}, which is not deployed here; \
         load every stored version before replaying the log"
    )]
    UnknownVersion {
        /// Position in the log.
        position: usize,
        /// The version named.
        version: Version,
    },
    /// An event was written by another schema version.
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

impl ReplayError {
    /// The position (0-based) of the event that could not be replayed.
    pub fn position(&self) -> usize {
        match self {
            ReplayError::Illegal { position, .. }
            | ReplayError::UnknownStream { position, .. }
            | ReplayError::UnknownBundle { position, .. }
            | ReplayError::UnknownVersion { position, .. }
            | ReplayError::Version { position, .. } => *position,
        }
    }
}

/// Why a definition version could not be deployed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// The definition is another hall's.
    #[error(
        "definition `{given}` is not a version of `{held}`: a service runs one hall's definition; keep `id: \"{held}\"` \
         in the new file"
    )]
    OtherDefinition {
        /// The id held.
        held: Id,
        /// The id given.
        given: Id,
    },
    /// More versions than an engine holds (65,535).
    #[error("an engine holds at most 65,535 definition versions")]
    TooMany,
}

impl Engine {
    /// An empty engine over a validated definition.
    pub fn new(def: Arc<Definition>) -> Engine {
        Engine {
            defs: vec![def],
            active: 0,
            cases: CaseTable::default(),
            tickets: Vec::new(),
            timers: TimerQueue::default(),
            system: Actor::system(),
        }
    }

    /// Makes room for `additional` more cases, so that a caller who knows how many are coming
    /// (a replay of a log, or a simulation's span of cases held at once) does not pay for the
    /// case table's repeated growth: each doubling copies every case and touches fresh memory.
    pub fn reserve_cases(&mut self, additional: usize) {
        self.cases.reserve(additional);
        self.timers.reserve_cases(additional);
    }

    /// The active definition version: new cases are opened under it.
    pub fn definition(&self) -> &Arc<Definition> {
        &self.defs[self.active]
    }

    /// The active definition (private shorthand).
    #[inline]
    fn def(&self) -> &Arc<Definition> {
        &self.defs[self.active]
    }

    /// The definition version a case runs on (the one it was submitted under, or migrated to).
    pub fn definition_of(&self, case: &Case) -> &Arc<Definition> {
        &self.defs[case.def_ix as usize]
    }

    /// Every definition version this engine holds, in deployment order.
    pub fn versions(&self) -> &[Arc<Definition>] {
        &self.defs
    }

    /// Where a version is in [`Engine::versions`].
    pub fn version_index(&self, version: Version) -> Option<usize> {
        self.defs.iter().position(|d| d.version() == version)
    }

    /// Deploys a definition version (发布新版本) and makes it active: cases opened from now on run
    /// on it; open cases keep the version they were submitted under until migrated
    /// ([`Engine::migrate`]). Deploying a version the engine already holds re-activates it.
    /// Returns the version's index in [`Engine::versions`]. Refused, changing nothing, when the
    /// definition is another hall's (another definition id).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use yichuang_core::*;
    /// let text = include_str!("../../../../examples/definitions/minimal.ron");
    /// let v1 = Arc::new(Definition::from_ron(text, "v1.ron").unwrap());
    /// let v2 = Arc::new(Definition::from_ron(&text.replace("promised_days: 1", "promised_days: 2"), "v2.ron").unwrap());
    /// let mut engine = Engine::new(Arc::clone(&v1));
    /// assert_eq!(engine.deploy(Arc::clone(&v2)), Ok(1));
    /// assert_eq!(engine.definition().version(), v2.version());
    /// assert_eq!(engine.deploy(v1), Ok(0), "an older version comes back without a copy");
    /// assert_eq!(engine.versions().len(), 2);
    /// ```
    pub fn deploy(&mut self, def: Arc<Definition>) -> Result<usize, DeployError> {
        if def.id() != self.def().id() {
            return Err(DeployError::OtherDefinition { held: self.def().id().clone(), given: def.id().clone() });
        }
        let ix = match self.version_index(def.version()) {
            Some(ix) => ix,
            None => {
                if self.defs.len() >= usize::from(u16::MAX) {
                    return Err(DeployError::TooMany);
                }
                self.defs.push(def);
                self.defs.len() - 1
            }
        };
        tracing::debug!(version = %self.defs[ix].version(), index = ix, "definition version active");
        self.active = ix;
        Ok(ix)
    }

    /// Judges moving `case` to definition version `to` under `plan` (a dry run: nothing
    /// changes): what would happen to each task, or every reason it cannot
    /// ([`Case::migration`]).
    pub fn migration(&self, case: CaseId, to: Version, plan: &MigrationPlan) -> Result<Verdict, Rejection> {
        let slot = self.case_slot(case)?;
        let to_ix = self.known_version(to)?;
        let case = self.cases.at(slot);
        if usize::from(case.def_ix) == to_ix {
            return Ok(Verdict::Current);
        }
        Ok(case.migration(self.definition_of(case), &self.defs[to_ix], plan))
    }

    /// Moves `case` to definition version `to` under `plan` (版本迁移; administrators only):
    /// records one `Migrated` event and what follows from it (a task that can now start becomes
    /// ready; the case is decided when nothing is left open), or refuses with every obstacle and
    /// changes nothing. A case already on `to` records nothing. Rules: [`Case::migration`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use yichuang_core::*;
    /// # use yichuang_core::machine::case::MigrationPlan;
    /// let text = include_str!("../../../../examples/definitions/minimal.ron");
    /// let v1 = Arc::new(Definition::from_ron(text, "v1.ron").unwrap());
    /// let v2 = Arc::new(Definition::from_ron(&text.replace("promised_days: 1", "promised_days: 2"), "v2.ron").unwrap());
    /// let mut engine = Engine::new(v1);
    /// # let bundle = engine.definition().bundles()[0].clone();
    /// # let materials: Vec<Id> = bundle.materials.iter().map(|&(m, _)| engine.definition().material(m).id.clone()).collect();
    /// # let submission = Submission { bundle: bundle.id.clone(), applicant: Applicant { id: Id::new("a-1"), name: "张三".into(), credit_blocked: false },
    /// #     channel: Channel::Web, materials: materials.into(), answers: Default::default(), green_channel: false };
    /// let now: Instant = "2026-03-02T09:30".parse().unwrap();
    /// let applicant = Actor::applicant("a-1");
    /// let (case, _) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &applicant })?;
    /// engine.deploy(Arc::clone(&v2)).unwrap();
    /// let admin = Actor::admin("admin-1");
    /// let events = engine.migrate(case, v2.version(), &MigrationPlan::default(), &Ctx { now, actor: &admin })?;
    /// assert!(matches!(events[0].event, Event::Migrated { .. }));
    /// assert_eq!(engine.definition_of(engine.case(case).unwrap()).version(), v2.version());
    /// # Ok::<(), Rejection>(())
    /// ```
    pub fn migrate(
        &mut self,
        case: CaseId,
        to: Version,
        plan: &MigrationPlan,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<Recorded>, Rejection> {
        let mut out = Vec::new();
        self.migrate_into(case, to, plan, ctx, &mut out)?;
        Ok(out)
    }

    /// Like [`Engine::migrate`], appending to `out`.
    pub fn migrate_into<S: EventSink + ?Sized>(
        &mut self,
        case: CaseId,
        to: Version,
        plan: &MigrationPlan,
        ctx: &Ctx<'_>,
        out: &mut S,
    ) -> Result<(), Rejection> {
        let slot = self.case_slot(case)?;
        let current = self.cases.at(slot);
        current.authorize(self.definition_of(current), CommandKind::Migrate, ctx.actor)?;
        let to_ix = self.known_version(to)?;
        let current = self.cases.at(slot);
        if usize::from(current.def_ix) == to_ix {
            return Ok(());
        }
        let from_state = current.state;
        let row = spec::admit::<CaseMachine>(from_state, CommandKind::Migrate)
            .map_err(|r| Rejection::invalid_state(Subject::Case, CommandKind::Migrate.name(), r))?;
        let old = Arc::clone(self.definition_of(current));
        let new = Arc::clone(&self.defs[to_ix]);
        self.cases.at_mut(slot).migrate(&old, to_ix, &new, plan, ctx, out)?;
        spec::taken::<CaseMachine>(row, self.cases.at(slot).state);
        let mut watch = Watch { sink: out, triggers: Vec::new() };
        self.cases.at_mut(slot).settle(&new, ctx.now, ctx.actor, &mut watch);
        let Watch { sink, triggers } = watch;
        if !triggers.is_empty() {
            self.open_triggered_tickets(triggers, sink);
        }
        self.reschedule(case.into());
        tracing::debug!(%case, from = %old.version(), to = %new.version(), "case migrated");
        Ok(())
    }

    fn known_version(&self, version: Version) -> Result<usize, Rejection> {
        self.version_index(version).ok_or_else(|| Rejection::Unknown {
            what: "definition version",
            id: version.to_string(),
            accepted: self.defs.iter().map(|d| Id::new(&d.version().to_string())).collect(),
        })
    }

    /// Opens a case with `Consult` or `Submit`; returns its number and the events recorded.
    pub fn open(&mut self, command: Command, ctx: &Ctx<'_>) -> Result<(CaseId, Vec<Recorded>), Rejection> {
        let mut out = Vec::new();
        let id = self.open_into(command, ctx, &mut out)?;
        Ok((id, out))
    }

    /// Like [`Engine::open`], appending the events to `out`.
    pub fn open_into<S: EventSink + ?Sized>(
        &mut self,
        command: Command,
        ctx: &Ctx<'_>,
        out: &mut S,
    ) -> Result<CaseId, Rejection> {
        let def = &**self.def();
        let (bundle, applicant, event) = match command {
            Command::Consult { bundle, applicant } => {
                let Some(ix) = def.bundle_ix(&bundle) else {
                    return Err(Rejection::Unknown {
                        what: "bundle",
                        id: bundle.to_string(),
                        accepted: def.bundles().iter().map(|b| b.id.clone()).collect(),
                    });
                };
                authorize_opening(def, ctx.actor, &applicant.id, "consult", WindowClass::Consult)?;
                Case::check_applicant_id(&applicant.id)?;
                let notice = def.bundle(ix).materials.iter().map(|(m, _)| def.material(*m).id.clone()).collect();
                let definition = Some(def.version());
                (ix, applicant.clone(), Event::Consulted { bundle, applicant, notice, definition })
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
                    definition: Some(def.version()),
                };
                (ix, applicant, event)
            }
            other => {
                return Err(Rejection::InvalidState {
                    subject: Subject::Case,
                    command: other.name(),
                    state: "not opened",
                    accepted: vec![CommandKind::Consult.name(), CommandKind::Submit.name()],
                });
            }
        };
        let id = self.cases.next_id();
        let mut case = Case::new(id, bundle, applicant);
        case.def_ix = self.active as u16;
        case.open(def, event, ctx, out);
        self.cases.insert(case);
        self.timers.add_case();
        self.reschedule(id.into());
        Ok(id)
    }

    /// Executes a command on a case: the events recorded (with their cascade and any ticket it
    /// opens), or the rejection (and nothing changed).
    pub fn execute(&mut self, case: CaseId, command: Command, ctx: &Ctx<'_>) -> Result<Vec<Recorded>, Rejection> {
        let mut out = Vec::new();
        self.execute_into(case, &command, ctx, &mut out)?;
        Ok(out)
    }

    /// Like [`Engine::execute`], appending to `out` (a reused `Vec`, or a sink of the caller's
    /// own that keeps only what it needs): the one way to change a case after it is opened.
    /// Then the loop's triggers open their tickets and the timers are rescheduled.
    pub fn execute_into<S: EventSink + ?Sized>(
        &mut self,
        case: CaseId,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut S,
    ) -> Result<(), Rejection> {
        // Debug-level diagnostics for embedders who subscribe (`RUST_LOG=yichuang_core=debug`);
        // with no subscriber listening each is one check of a static interest, and the fields
        // are never formatted.
        let _span = tracing::debug_span!("execute", case = %case, command = command.name()).entered();
        let slot = self.case_slot(case)?;
        let mut watch = Watch { sink: out, triggers: Vec::new() };
        let case_def = &self.defs[self.cases.at(slot).def_ix as usize];
        let timers_may_move = match self.cases.at_mut(slot).execute(case_def, command, ctx, &mut watch) {
            Ok(moved) => moved,
            Err(rejection) => {
                tracing::debug!(code = rejection.code(), actor = %ctx.actor.id, "refused: {rejection}");
                return Err(rejection);
            }
        };
        let Watch { sink, triggers } = watch;
        if !triggers.is_empty() {
            self.open_triggered_tickets(triggers, sink);
        }
        if timers_may_move {
            self.reschedule(case.into());
        } else {
            debug_assert_eq!(
                self.timers.get(case.into()),
                self.cases.at(slot).next_deadline(self.definition_of(self.cases.at(slot)))
            );
        }
        Ok(())
    }

    /// Opens a complaint (吐槽找茬) or an inspection finding (巡视/巡察反馈问题) as a ticket.
    /// Complaints may come from anyone who is not the system; inspection findings from a
    /// supervisor or a leader.
    pub fn open_ticket(&mut self, source: TicketSource, ctx: &Ctx<'_>) -> Result<(TicketId, Vec<Recorded>), Rejection> {
        let def = &**self.def();
        let (department, window) = match &source {
            TicketSource::Complaint { target, case, text } => {
                if text.trim().is_empty() {
                    return Err(Rejection::ReasonRequired {
                        rule: "吐槽找茬 (a complaint says what is wrong)",
                        what: "text",
                    });
                }
                if let Some(c) = case {
                    self.check_linked_case(*c, ctx.actor)?;
                }
                if ctx.actor.role == Role::System {
                    return Err(self.role_error(ctx.actor, "complain", Allowed::People));
                }
                match target {
                    ComplaintTarget::Window { window, department } => {
                        if def.window(window).is_none() {
                            return Err(Rejection::Unknown {
                                what: "window",
                                id: window.to_string(),
                                accepted: def.windows().iter().map(|w| w.id.clone()).collect(),
                            });
                        }
                        (self.responsible(department)?, Some(window.clone()))
                    }
                    ComplaintTarget::Department(d) | ComplaintTarget::Process { department: d, .. } => {
                        (self.responsible(d)?, None)
                    }
                }
            }
            TicketSource::Inspection { finding, plan_task } => {
                if !matches!(ctx.actor.role, Role::Supervisor { .. } | Role::Leader) {
                    return Err(self.role_error(
                        ctx.actor,
                        "record an inspection finding",
                        Allowed::SupervisorOrLeader,
                    ));
                }
                if finding.trim().is_empty() {
                    return Err(Rejection::ReasonRequired { rule: "巡视/巡察反馈问题", what: "finding" });
                }
                let department = match plan_task {
                    Some(task) => {
                        let plan = def.plan().ok_or_else(|| Rejection::Unknown {
                            what: "plan task",
                            id: task.to_string(),
                            accepted: Vec::new(),
                        })?;
                        let t = plan.tasks.iter().find(|t| t.id == *task).ok_or_else(|| Rejection::Unknown {
                            what: "plan task",
                            id: task.to_string(),
                            accepted: plan.tasks.iter().map(|t| t.id.clone()).collect(),
                        })?;
                        // 回避: the supervision section may share a plan task, but the
                        // ticket goes to the first department it can supervise.
                        let responsible =
                            t.departments.iter().map(|&d| def.department(d)).find(|d| !d.kind.supervises());
                        match responsible {
                            Some(d) => d.id.clone(),
                            None => return Err(self.supervision_responsible(&def.department(t.departments[0]).id)),
                        }
                    }
                    None => {
                        return Err(Rejection::OutOfRange {
                            what: "inspection finding",
                            value: "without a responsible department".into(),
                            accepted: "a complaint naming the department, or a plan task",
                        });
                    }
                };
                (department, None)
            }
            TicketSource::BadRating { .. } | TicketSource::Overdue { .. } => {
                return Err(self.role_error(
                    ctx.actor,
                    "open this ticket",
                    Allowed::Nobody("bad ratings and overdue work open tickets by themselves"),
                ));
            }
        };
        let mut out = Vec::new();
        let id = self.open_ticket_into(source, department, window, ctx.now, ctx.actor, &mut out);
        Ok((id, out))
    }

    /// Opens one ticket per plan task that has none yet (plan tracking, 整改方案台账).
    pub fn open_plan_tickets(&mut self, ctx: &Ctx<'_>) -> Result<Vec<Recorded>, Rejection> {
        let Some(plan) = self.def().plan().cloned() else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for task in &plan.tasks {
            let tracked = self
                .tickets
                .iter()
                .any(|t| matches!(&t.source, TicketSource::Inspection { plan_task: Some(p), .. } if *p == task.id));
            if !tracked {
                let source = TicketSource::Inspection { finding: task.name.clone(), plan_task: Some(task.id.clone()) };
                let (id, events) = self.open_ticket(source, ctx)?;
                out.extend(events);
                // The plan is the ledger (台账): its tasks go straight to rectification with the
                // plan's own deadline.
                let deadline = self.def().calendar().office_close(task.deadline);
                let slot = self.ticket_slot(id)?;
                self.record_ticket(
                    slot,
                    Event::TicketRectifying { deadline, immediate: false },
                    ctx.now,
                    ctx.actor,
                    &mut out,
                );
                self.reschedule(id.into());
            }
        }
        Ok(out)
    }

    /// What [`Engine::execute_into`] would answer for `command` on `case` now, without
    /// executing it: `Ok` if it would be accepted, or the rejection. Pure; nothing changes. For
    /// callers that screen many candidate commands (the exhaustive checker, a UI that greys
    /// out what cannot be done).
    pub fn decide(&self, case: CaseId, command: &Command, ctx: &Ctx<'_>) -> Result<(), Rejection> {
        let slot = self.case_slot(case)?;
        let case = self.cases.at(slot);
        case.decide(self.definition_of(case), command, ctx, &mut Events::new())
    }

    /// [`Engine::decide`] for a ticket command.
    pub fn decide_ticket(&self, ticket: TicketId, command: &TicketCommand, ctx: &Ctx<'_>) -> Result<(), Rejection> {
        let slot = self.ticket_slot(ticket)?;
        self.tickets[slot].decide(self.def(), command, ctx).map(drop)
    }

    /// Executes a command on a ticket.
    pub fn execute_ticket(
        &mut self,
        ticket: TicketId,
        command: &TicketCommand,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<Recorded>, Rejection> {
        let slot = self.ticket_slot(ticket)?;
        let events = self.tickets[slot].decide(self.def(), command, ctx)?;
        let from = self.tickets[slot].state;
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            self.record_ticket(slot, event, ctx.now, ctx.actor, &mut out);
        }
        if spec::REPORTS
            && let Ok(row) = spec::admit::<TicketMachine>(from, command.kind())
        {
            spec::taken::<TicketMachine>(row, self.tickets[slot].state);
        }
        self.reschedule(ticket.into());
        Ok(out)
    }

    fn record_ticket<S: EventSink + ?Sized>(
        &mut self,
        slot: usize,
        event: Event,
        at: Instant,
        by: &Actor,
        out: &mut S,
    ) {
        let ticket = &mut self.tickets[slot];
        let seq = ticket.version + 1;
        if let Err(why) = ticket.evolve(&event, at) {
            panic!("the engine produced an illegal ticket event: {why}");
        }
        out.record(ticket.id.into(), seq, at, by, event);
    }

    fn role_error(&self, actor: &Actor, command: &'static str, allowed: Allowed) -> Rejection {
        Rejection::RoleNotAllowed { rule: "问题来源 (ticket sources)", actor: actor.clone(), command, allowed }
    }

    fn department(&self, id: &Id) -> Result<Id, Rejection> {
        match self.def().department_ix(id) {
            Some(ix) => Ok(self.def().department(ix).id.clone()),
            None => Err(Rejection::Unknown {
                what: "department",
                id: id.to_string(),
                accepted: self.def().departments().iter().map(|d| d.id.clone()).collect(),
            }),
        }
    }

    /// The responsible department of a complaint: a known department the supervision section
    /// can supervise (回避: it cannot supervise itself).
    fn responsible(&self, id: &Id) -> Result<Id, Rejection> {
        let department = self.department(id)?;
        match self.def().department_ix(&department) {
            Some(ix) if self.def().department(ix).kind.supervises() => Err(self.supervision_responsible(&department)),
            _ => Ok(department),
        }
    }

    #[cold]
    fn supervision_responsible(&self, department: &Id) -> Rejection {
        let def = &**self.def();
        let mut deciding: Vec<usize> =
            def.items().iter().flat_map(|i| i.decided_by.departments().iter().map(|d| d.index())).collect();
        deciding.sort_unstable();
        deciding.dedup();
        let accepted = deciding.into_iter().map(|i| def.departments()[i].id.clone()).collect();
        Rejection::SupervisionResponsible { department: department.clone(), accepted }
    }

    /// A case a complaint links to: it exists, and an applicant links only their own cases
    /// (without learning which case numbers exist).
    fn check_linked_case(&self, case: CaseId, actor: &Actor) -> Result<(), Rejection> {
        match self.cases.get(case) {
            Some(c) if c.readable_by(actor) => Ok(()),
            // An applicant learns nothing of other people's cases: not theirs reads as unknown.
            _ if actor.role == Role::Applicant => Err(Rejection::UnknownCase { case, known: KnownCases::OwnOnly }),
            Some(_) => Ok(()),
            None => Err(self.unknown_case(case)),
        }
    }

    fn open_ticket_into<S: EventSink + ?Sized>(
        &mut self,
        source: TicketSource,
        department: Id,
        window: Option<Id>,
        at: Instant,
        by: &Actor,
        out: &mut S,
    ) -> TicketId {
        let cal = self.def().calendar();
        let deadline =
            cal.add_working_days(at.date(), self.def().policies().ticket_verify_days).ok().map(|d| cal.office_close(d));
        let id = TicketId(self.tickets.len() as u64 + 1);
        let event = Event::TicketOpened {
            source: source.clone(),
            department: department.clone(),
            window: window.clone(),
            deadline,
        };
        let ticket = Ticket::opened(id, source, department, window, at, deadline);
        out.record(id.into(), 1, at, by, event);
        self.tickets.push(ticket);
        self.timers.add_ticket();
        self.reschedule(id.into());
        id
    }

    /// The loop's triggers among freshly recorded case events: a bad rating and an overdue task
    /// or case each open exactly one ticket, routed 谁办理谁负责.
    fn open_triggered_tickets<S: EventSink + ?Sized>(&mut self, triggers: Vec<Trigger>, out: &mut S) {
        for Trigger { case: case_id, at, by, event } in triggers {
            let case = self.cases.get(case_id).expect("a trigger's case is held: it just recorded the trigger");
            let def = &**self.definition_of(case);
            let lead = def.department(def.bundle(case.bundle).lead).id.clone();
            let (source, department, window) = match event {
                Event::Rated { stars, .. } => {
                    (TicketSource::BadRating { case: case_id, stars }, lead, case.window.clone())
                }
                Event::SlaLevelChanged { subject, .. } => match subject {
                    SlaSubject::Case => (TicketSource::Overdue { case: case_id, item: None }, lead, None),
                    SlaSubject::Task(item) => {
                        let ix = def.item_ix(&item).expect("events name items of the definition");
                        let dept = def.department(def.item(ix).decided_by.departments()[0]).id.clone();
                        (TicketSource::Overdue { case: case_id, item: Some(item) }, dept, None)
                    }
                },
                _ => unreachable!("only ratings and overdue clocks are triggers"),
            };
            self.open_ticket_into(source, department, window, at, &by, out);
        }
    }

    #[inline]
    fn case_slot(&self, case: CaseId) -> Result<usize, Rejection> {
        match self.cases.slot(case) {
            Some(slot) => Ok(slot),
            None => Err(self.unknown_case(case)),
        }
    }

    #[cold]
    fn unknown_case(&self, case: CaseId) -> Rejection {
        let known = if self.cases.is_retired(case) {
            KnownCases::Retired
        } else {
            KnownCases::UpTo(CaseId(self.cases.opened()))
        };
        Rejection::UnknownCase { case, known }
    }

    fn ticket_slot(&self, ticket: TicketId) -> Result<usize, Rejection> {
        let slot = (ticket.0 as usize).wrapping_sub(1);
        if slot < self.tickets.len() {
            Ok(slot)
        } else {
            Err(Rejection::UnknownTicket { ticket, opened: self.tickets.len() as u64 })
        }
    }

    fn reschedule(&mut self, stream: StreamId) {
        let next = match stream {
            StreamId::Case(c) => self.cases.get(c).and_then(|case| case.next_deadline(self.definition_of(case))),
            StreamId::Ticket(t) => self.tickets[t.0 as usize - 1].next_deadline(),
        };
        self.timers.set(stream, next);
    }

    /// The earliest pending timer of any case or ticket.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.timers.peek().map(|(t, _)| t)
    }

    /// Fires every timer due at or before `now`, in time order (ties: cases before tickets, then
    /// by number), each event stamped with its own due time. Returns the events recorded.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use yichuang_core::*;
    /// # use yichuang_core::definition::WindowClass;
    /// # let def = Arc::new(Definition::from_ron(include_str!("../../../../examples/definitions/county-hall.ron"), "county-hall.ron").unwrap());
    /// # let window = |class| def.windows().iter().find(|w| w.class == class).unwrap().id.clone();
    /// # let clerk = Actor::clerk("clerk-1", &window(WindowClass::Intake));
    /// # let bundle = def.bundle(def.bundle_ix("open-business").unwrap());
    /// # let materials: Vec<Id> = bundle.materials.iter().map(|&(m, _)| def.material(m))
    /// #     .filter(|m| m.shared_source.is_none()).map(|m| m.id.clone()).collect();
    /// # let submission = Submission {
    /// #     bundle: bundle.id.clone(),
    /// #     applicant: Applicant { id: Id::new("91000000MA00000001"), name: "示例公司".into(), credit_blocked: false },
    /// #     channel: Channel::Window,
    /// #     materials: materials.into(),
    /// #     answers: std::collections::BTreeMap::from([("company-name".to_owned(), "示例公司".to_owned())]).into(),
    /// #     green_channel: false,
    /// # };
    /// let mut engine = Engine::new(Arc::clone(&def));
    /// let now: Instant = "2026-03-02T09:30".parse().unwrap();
    /// let (case, _) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &clerk })?;
    /// engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk })?;
    /// // Nobody works on the case; the service's clock moves on a month.
    /// let due = engine.next_deadline().expect("the business licence's time limit");
    /// let fired = engine.advance_to("2026-04-02T09:00".parse().unwrap());
    /// assert!(fired.first().is_some_and(|r| r.at == due));
    /// let overdue = fired.iter().filter(|r| matches!(&r.event,
    ///     Event::SlaLevelChanged { level: machine::sla::SlaLevel::Overdue, .. })).count();
    /// let tickets = fired.iter().filter(|r| matches!(r.event, Event::TicketOpened { .. })).count();
    /// assert!(overdue >= 2 && tickets == overdue, "the task and the case are overdue, a ticket each");
    /// # Ok::<(), Rejection>(())
    /// ```
    pub fn advance_to(&mut self, now: Instant) -> Vec<Recorded> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }

    /// Like [`Engine::advance_to`], appending to `out`.
    pub fn advance_into<S: EventSink + ?Sized>(&mut self, now: Instant, out: &mut S) {
        while let Some((t, stream)) = self.timers.peek() {
            if t > now {
                break;
            }
            tracing::debug!(%stream, due = %t, to = %now, "timer fires");
            self.timers.set(stream, None);
            match stream {
                StreamId::Case(c) => {
                    let slot = self.cases.slot(c).expect("a case with a timer is held");
                    let mut watch = Watch { sink: &mut *out, triggers: Vec::new() };
                    let case_def = &self.defs[self.cases.at(slot).def_ix as usize];
                    self.cases.at_mut(slot).advance(case_def, t, &self.system, &mut watch);
                    let triggers = watch.triggers;
                    if !triggers.is_empty() {
                        self.open_triggered_tickets(triggers, out);
                    }
                }
                StreamId::Ticket(id) => {
                    let slot = id.0 as usize - 1;
                    if let Some((at, event)) = self.tickets[slot].fire_due_timer(self.def(), t) {
                        let system = self.system.clone();
                        let from = self.tickets[slot].state;
                        self.record_ticket(slot, event, at, &system, out);
                        spec::timer_taken::<TicketMachine>(from, TicketTimer::Overdue, self.tickets[slot].state);
                    }
                }
            }
            self.reschedule(stream);
        }
    }

    /// Releases the working memory of a finished case (its tasks, materials and lists) while
    /// keeping what metrics and reports read (state, outcome, rating, trips, clock level, the
    /// correction list), and
    /// what the rest of its life needs. A case is finished when it is final, or delivered with
    /// nothing outstanding: all that can still happen to it is its rating (by the applicant or
    /// by default), which reads none of what is released. Meant for long simulations whose
    /// memory should stay bounded by the open cases; a compacted case no longer equals its
    /// replay. Returns whether the case was finished and so compacted.
    pub fn compact(&mut self, id: CaseId) -> bool {
        let Some(case) = self.cases.get_mut(id) else { return false };
        if !case.is_finished() {
            return false;
        }
        // The correction list stays: the first-time-right share (一次性告知) reads it.
        case.tasks = Vec::new();
        case.materials = Vec::new();
        case.outstanding = Vec::new();
        true
    }

    /// Takes a final case out of the engine (归档) and hands it to the caller, so a caller that
    /// keeps its own statistics (a long simulation) holds only the open cases: the case table
    /// keeps cases in number order from the oldest one held, so memory is bounded by the span
    /// from the oldest case not yet retired to the newest. Afterwards the engine no longer knows the case:
    /// [`Engine::case`] returns `None`, commands naming it (a complaint about it, say) are
    /// refused as unknown, and reports and metrics over the engine leave it out. Returns `None`,
    /// changing nothing, when the case is not held or not final, or still has a pending timer.
    pub fn retire(&mut self, id: CaseId) -> Option<Case> {
        let slot = self.cases.slot(id)?;
        if !self.cases.at(slot).state.is_final() || self.timers.get(id.into()).is_some() {
            return None;
        }
        let (case, first) = self.cases.remove(id)?;
        self.timers.forget_cases_before(first);
        Some(case)
    }

    /// Whether case `id` was opened and then retired ([`Engine::retire`], or skipped by
    /// [`Engine::skip_retired_cases`]): its events are in the log, the engine no longer holds it.
    pub fn is_retired(&self, id: CaseId) -> bool {
        self.cases.is_retired(id)
    }

    /// Takes every case number below `next` that this engine has not opened as opened and
    /// retired. An engine resumed from a snapshot (a service's fast start) folds only the
    /// events of the streams still held when the snapshot was taken: before each case it
    /// folds, and once at the end with the snapshot's count of cases opened plus one, it skips
    /// the numbers retired before the snapshot, so that case numbers go on where they stopped.
    /// A number at or below the last one opened changes nothing.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use yichuang_core::*;
    /// # let def = Arc::new(Definition::from_ron(include_str!("../../../../examples/definitions/county-hall.ron"), "county-hall.ron").unwrap());
    /// let mut engine = Engine::new(def);
    /// engine.skip_retired_cases(CaseId(41));
    /// assert_eq!(engine.cases_opened(), 40);
    /// assert!(engine.is_retired(CaseId(40)) && engine.case(CaseId(40)).is_none());
    /// assert_eq!(engine.cases_held(), 0);
    /// ```
    pub fn skip_retired_cases(&mut self, next: CaseId) {
        let opened = self.cases.opened();
        if next.0 <= opened + 1 {
            return;
        }
        for _ in opened + 1..next.0 {
            self.timers.add_case();
        }
        let first = self.cases.skip_to(next.0);
        self.timers.forget_cases_before(first);
    }

    /// Folds the events of one case, in order, into the case (a case the engine retired, read
    /// back from the log for a client who asks for it). The first event must open the case.
    pub fn replay_case<'a>(
        def: Arc<Definition>,
        events: impl IntoIterator<Item = &'a Recorded>,
    ) -> Result<Case, ReplayError> {
        Engine::replay_case_on(&[def], events)
    }

    /// [`Engine::replay_case`] under several definition versions (the first is the one a case
    /// whose opening event names none ran on): a case submitted under, or migrated to, any of
    /// them folds. `versions` must not be empty.
    pub fn replay_case_on<'a>(
        versions: &[Arc<Definition>],
        events: impl IntoIterator<Item = &'a Recorded>,
    ) -> Result<Case, ReplayError> {
        let mut events = events.into_iter().enumerate().peekable();
        let Some(&(_, first)) = events.peek() else {
            return Err(ReplayError::UnknownStream { position: 0, stream: StreamId::Case(CaseId(0)) });
        };
        let StreamId::Case(id) = first.stream else {
            return Err(ReplayError::UnknownStream { position: 0, stream: first.stream });
        };
        let mut engine = Engine::new(Arc::clone(&versions[0]));
        for def in &versions[1..] {
            engine.deploy(Arc::clone(def)).expect("the versions of one hall's definition");
        }
        engine.skip_retired_cases(id);
        for (position, rec) in events {
            if rec.stream != first.stream {
                return Err(ReplayError::UnknownStream { position, stream: rec.stream });
            }
            engine.apply(position, rec)?;
        }
        let (case, _) =
            engine.cases.remove(id).ok_or(ReplayError::UnknownStream { position: 0, stream: first.stream })?;
        Ok(case)
    }

    /// A case by number (`None` when never opened, or retired).
    pub fn case(&self, id: CaseId) -> Option<&Case> {
        self.cases.get(id)
    }

    /// The cases held, in number order (all cases opened, less any retired).
    pub fn cases(&self) -> impl DoubleEndedIterator<Item = &Case> + '_ {
        self.cases.iter()
    }

    /// Number of cases opened so far, retired or not (the last case number given).
    pub fn cases_opened(&self) -> u64 {
        self.cases.opened()
    }

    /// Number of cases held (opened and not retired).
    pub fn cases_held(&self) -> usize {
        self.cases.held()
    }

    /// Cases in a state.
    pub fn cases_in(&self, state: CaseState) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(move |c| c.state == state)
    }

    /// A ticket by number.
    pub fn ticket(&self, id: TicketId) -> Option<&Ticket> {
        self.ticket_slot(id).ok().map(|s| &self.tickets[s])
    }

    /// All tickets in number order.
    pub fn tickets(&self) -> &[Ticket] {
        &self.tickets
    }

    /// Tickets in a state.
    pub fn tickets_in(&self, state: TicketState) -> impl Iterator<Item = &Ticket> {
        self.tickets.iter().filter(move |t| t.state == state)
    }

    /// A department's work queue (部门待办): tasks in `state` decided (or countersigned) by
    /// `department`, in case order.
    pub fn department_tasks<'a>(
        &'a self,
        department: &'a str,
        state: TaskState,
    ) -> impl Iterator<Item = (CaseId, &'a Task)> + 'a {
        self.cases.iter().flat_map(move |c| {
            let def = &**self.definition_of(c);
            c.tasks.iter().filter_map(move |t| {
                let ours =
                    def.item(t.item).decided_by.departments().iter().any(|&d| def.department(d).id == *department);
                (ours && t.state == state).then_some((c.id, t))
            })
        })
    }

    /// Streams whose earliest timer is due at or before `t` (for deadline dashboards).
    pub fn due_before(&self, t: Instant) -> impl Iterator<Item = (StreamId, Instant)> + '_ {
        let cases = self.cases.iter().map(|c| StreamId::Case(c.id));
        let tickets = self.tickets.iter().map(|k| StreamId::Ticket(k.id));
        cases.chain(tickets).filter_map(move |id| self.timers.get(id).filter(|d| *d <= t).map(|d| (id, d)))
    }

    /// Rebuilds an engine from a log, checking that every event is legal in order.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use yichuang_core::*;
    /// # use yichuang_core::definition::WindowClass;
    /// # let def = Arc::new(Definition::from_ron(include_str!("../../../../examples/definitions/county-hall.ron"), "county-hall.ron").unwrap());
    /// # let window = |class| def.windows().iter().find(|w| w.class == class).unwrap().id.clone();
    /// # let clerk = Actor::clerk("clerk-1", &window(WindowClass::Intake));
    /// # let bundle = def.bundle(def.bundle_ix("open-business").unwrap());
    /// # let materials: Vec<Id> = bundle.materials.iter().map(|&(m, _)| def.material(m))
    /// #     .filter(|m| m.shared_source.is_none()).map(|m| m.id.clone()).collect();
    /// # let submission = Submission {
    /// #     bundle: bundle.id.clone(),
    /// #     applicant: Applicant { id: Id::new("91000000MA00000001"), name: "示例公司".into(), credit_blocked: false },
    /// #     channel: Channel::Window,
    /// #     materials: materials.into(),
    /// #     answers: std::collections::BTreeMap::from([("company-name".to_owned(), "示例公司".to_owned())]).into(),
    /// #     green_channel: false,
    /// # };
    /// let mut engine = Engine::new(Arc::clone(&def));
    /// let now: Instant = "2026-03-02T09:30".parse().unwrap();
    /// let (case, mut log) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &clerk })?;
    /// log.extend(engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk })?);
    /// // The log goes through storage (here JSON) and comes back into a new engine.
    /// let stored: Vec<String> = log.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    /// let read: Vec<Recorded> = stored.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    /// let rebuilt = Engine::replay(Arc::clone(&def), &read).expect("a log the engine wrote replays");
    /// assert_eq!(rebuilt.case(case), engine.case(case));
    /// // Out of order, it does not: the first bad event is named.
    /// let swapped = [read[1].clone(), read[0].clone()];
    /// assert!(matches!(Engine::replay(def, &swapped), Err(ReplayError::UnknownStream { position: 0, .. })
    ///     | Err(ReplayError::Illegal { position: 0, .. })));
    /// # Ok::<(), Rejection>(())
    /// ```
    pub fn replay<'a>(
        def: Arc<Definition>,
        log: impl IntoIterator<Item = &'a Recorded>,
    ) -> Result<Engine, ReplayError> {
        Engine::replay_versions(vec![def], log)
    }

    /// [`Engine::replay`] over several definition versions, given in deployment order (the
    /// last is active): each case replays on the version its opening event names (the first,
    /// for logs written before versions), and migrations move cases between them.
    ///
    /// # Panics
    /// When `versions` is empty, or holds another hall's definition.
    pub fn replay_versions<'a>(
        versions: Vec<Arc<Definition>>,
        log: impl IntoIterator<Item = &'a Recorded>,
    ) -> Result<Engine, ReplayError> {
        let mut versions = versions.into_iter();
        let mut engine = Engine::new(versions.next().expect("at least one definition version"));
        for def in versions {
            engine.deploy(def).expect("the versions of one hall's definition");
        }
        for (position, rec) in log.into_iter().enumerate() {
            engine.apply(position, rec)?;
        }
        engine.rebuild_timers();
        Ok(engine)
    }

    /// Schedules every stream's timers after a log was folded event by event with
    /// [`Engine::apply`] (what [`Engine::replay`] does at its end), for callers that stream a
    /// log too large to hold in memory at once.
    pub fn rebuild_timers(&mut self) {
        let held: Vec<CaseId> = self.cases.iter().map(|c| c.id).collect();
        for id in held {
            self.reschedule(id.into());
        }
        for id in 1..=self.tickets.len() as u64 {
            self.reschedule(TicketId(id).into());
        }
    }

    /// Folds one recorded event written by another engine (another instance of the service on
    /// the same log) and reschedules its stream's timer, so that a timer the other engine fired
    /// is not fired again here. [`Engine::apply`] leaves the timers to one
    /// [`Engine::rebuild_timers`] at the end of a replay; this is the one-event form for an
    /// engine that is already serving.
    pub fn follow(&mut self, position: usize, rec: &Recorded) -> Result<(), ReplayError> {
        self.apply(position, rec)?;
        self.reschedule(rec.stream);
        Ok(())
    }

    /// Folds one recorded event (replay, or following another engine's stream). Timers are not
    /// rescheduled here; [`Engine::replay`] does it once at the end.
    pub fn apply(&mut self, position: usize, rec: &Recorded) -> Result<(), ReplayError> {
        if rec.v != EVENT_SCHEMA_VERSION {
            return Err(ReplayError::Version { position, version: rec.v });
        }
        let unknown = || ReplayError::UnknownStream { position, stream: rec.stream };
        match rec.stream {
            StreamId::Case(id) => {
                if id == self.cases.next_id() {
                    let (bundle, applicant, definition) = match &rec.event {
                        Event::Consulted { bundle, applicant, definition, .. }
                        | Event::Submitted { bundle, applicant, definition, .. } => (bundle, applicant, definition),
                        _ => return Err(unknown()),
                    };
                    // A log written before versions existed names none: its cases ran on the
                    // first version deployed.
                    let def_ix = match definition {
                        None => 0,
                        Some(v) => {
                            self.version_index(*v).ok_or(ReplayError::UnknownVersion { position, version: *v })?
                        }
                    };
                    let Some(ix) = self.defs[def_ix].bundle_ix(bundle) else {
                        return Err(ReplayError::UnknownBundle { position, bundle: bundle.to_string() });
                    };
                    let mut case = Case::new(id, ix, applicant.clone());
                    case.def_ix = def_ix as u16;
                    self.cases.insert(case);
                    self.timers.add_case();
                }
                let case = self.cases.get_mut(id).ok_or_else(unknown)?;
                if let Event::Migrated { to, .. } = &rec.event {
                    let to_ix = self
                        .defs
                        .iter()
                        .position(|d| d.version() == *to)
                        .ok_or(ReplayError::UnknownVersion { position, version: *to })?;
                    let from = &self.defs[case.def_ix as usize];
                    return case
                        .fold_migration(from, to_ix, &self.defs[to_ix], rec)
                        .map_err(|error| ReplayError::Illegal { position, error });
                }
                let def = &self.defs[case.def_ix as usize];
                case.evolve(def, rec).map_err(|error| ReplayError::Illegal { position, error })
            }
            StreamId::Ticket(id) => {
                if id.0 == self.tickets.len() as u64 + 1 {
                    let Event::TicketOpened { source, department, window, deadline } = &rec.event else {
                        return Err(unknown());
                    };
                    if rec.seq != 1 {
                        return Err(unknown());
                    }
                    let ticket =
                        Ticket::opened(id, source.clone(), department.clone(), window.clone(), rec.at, *deadline);
                    self.tickets.push(ticket);
                    self.timers.add_ticket();
                    return Ok(());
                }
                let ticket = self.tickets.get_mut((id.0 as usize).wrapping_sub(1)).ok_or_else(unknown)?;
                let illegal = |why: Illegal, t: &Ticket| ReplayError::Illegal {
                    position,
                    error: IllegalEvent { stream: rec.stream, event: rec.event.name(), state: t.state.name(), why },
                };
                if rec.seq != ticket.version + 1 {
                    return Err(illegal(Illegal::Sequence { seq: rec.seq, version: ticket.version }, ticket));
                }
                let state = ticket.state;
                ticket.evolve(&rec.event, rec.at).map_err(|why| ReplayError::Illegal {
                    position,
                    error: IllegalEvent {
                        stream: rec.stream,
                        event: rec.event.name(),
                        state: state.name(),
                        why: Illegal::Ticket(why),
                    },
                })
            }
        }
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
        Role::Applicant => Err(Rejection::NotTheApplicant { actor: actor.clone() }),
        Role::Clerk { window }
            if def.window(window).is_some_and(|w| w.class == class || w.class == WindowClass::Intake) =>
        {
            Ok(())
        }
        _ => Err(Rejection::RoleNotAllowed {
            rule: "申请人本人 (only the applicant, or a window clerk on their behalf)",
            actor: actor.clone(),
            command,
            allowed: Allowed::ApplicantOrClerk(class),
        }),
    }
}
