//! The read side: queries answered from the engine's folded state, and who may read what.
//!
//! The writer answers a query after the commit of the batch it arrived in (see [`crate::writer`]),
//! by calling [`ReadSide::answer`] on its engine; nothing here changes state. The JSON shapes are
//! the views of [`crate::wire`].
//!
//! **Who may read what.** Staff read everything a query offers. An applicant reads only their
//! own cases, and for an applicant a case that is not theirs is indistinguishable from one that
//! does not exist ([`visible_case`]): the same 404, the same body. The commands on a case ask the
//! same function first, so no route tells a stranger which cases exist or whose they are.

use axum::http::StatusCode;
use yichuang_core::definition::Definition;
use yichuang_core::{Actor, Case, CaseId, Engine, Instant, Role, TaskState, TicketId, TicketState};

use crate::config::ClockSetting;
use crate::error::ApiError;
use crate::wire::{CaseView, QueueRow, TicketView};

/// Rows a list query returns at most.
pub const LIST_MAX: usize = 1000;

/// A read answered from the engine's state.
#[derive(Debug)]
pub enum Query {
    /// One case.
    Case(CaseId),
    /// A department's work queue.
    DepartmentTasks {
        /// Department id.
        department: String,
        /// State.
        state: TaskState,
        /// Rows at most.
        limit: usize,
    },
    /// The ticket board.
    Tickets {
        /// Only this state.
        state: Option<TicketState>,
        /// Only this department.
        department: Option<String>,
        /// Rows at most.
        limit: usize,
    },
    /// One ticket.
    Ticket(TicketId),
    /// The four lists (责任/任务/问题/效果清单).
    FourLists,
    /// The KPIs.
    Kpis,
    /// Health and sizes.
    Status,
    /// The clock.
    Clock,
    /// The open work as Prometheus gauges (for `/metrics`): open tasks by department and SLA
    /// signal, open tickets by state and escalation level.
    Gauges,
}

/// What a query reads: the writer's engine and the facts about the writer it may report.
pub struct ReadSide<'a> {
    /// The definition.
    pub def: &'a Definition,
    /// The folded state (mutable only because finding the next timer tidies the timer queue).
    pub engine: &'a mut Engine,
    /// The hall time of the batch.
    pub now: Instant,
    /// The last committed position.
    pub head: u64,
    /// Why the writer refuses commands, if it does.
    pub failed: Option<&'a str>,
    /// The clock setting.
    pub clock: ClockSetting,
    /// The log, for the cases the engine holds compacted ([`full_case`]).
    pub log: &'a dyn yichuang_store::EventLog,
}

/// The case with its tasks and lists: as the engine holds it, or, for a finished case the writer
/// compacted (only what reports read is kept), folded again from its events in the log. A log
/// that cannot be read answers 503.
pub fn full_case<'e>(
    engine: &Engine,
    log: &dyn yichuang_store::EventLog,
    case: &'e Case,
) -> Result<std::borrow::Cow<'e, Case>, ApiError> {
    if !case.is_finished()
        || !case.tasks().is_empty()
        || engine.definition_of(case).bundle(case.bundle()).members.is_empty()
    {
        return Ok(std::borrow::Cow::Borrowed(case));
    }
    let events = log
        .read_stream(case.id().into())
        .map_err(|e| storage_failed(&format!("the events of {} could not be read: {e}", case.id())))?;
    let folded = Engine::replay_case_on(engine.versions(), events.iter().map(|e| e.event.record()))
        .map_err(|e| storage_failed(&format!("the events of {} do not fold: {e}", case.id())))?;
    Ok(std::borrow::Cow::Owned(folded))
}

/// 404 for a case that does not exist; every caller who may not see a case gets exactly this.
pub fn unknown_case(id: CaseId) -> ApiError {
    ApiError::not_found(format!("there is no case {id}"))
}

/// 404 for a ticket that does not exist; every caller who may not see a ticket gets exactly this.
pub fn unknown_ticket(id: TicketId) -> ApiError {
    ApiError::not_found(format!("there is no ticket {id}"))
}

/// The case, if `actor` may know it exists: staff see every case, an applicant only their own.
/// Anything else is [`unknown_case`], byte for byte what a missing case answers, so that no
/// route tells a stranger which cases exist or whose they are.
pub fn visible_case<'e>(engine: &'e Engine, actor: &Actor, id: CaseId) -> Result<&'e Case, ApiError> {
    match engine.case(id) {
        Some(c) if actor.role != Role::Applicant || actor.id == c.applicant().id => Ok(c),
        _ => Err(unknown_case(id)),
    }
}

/// Whether `actor` may know that ticket `id` exists: staff may; an applicant may follow the
/// tickets about their own cases (their bad rating, an overdue task of theirs, a complaint
/// linked to their case: [`yichuang_core::Ticket::readable_by`]), and for them every other
/// ticket answers as [`unknown_ticket`], byte for byte what a missing ticket answers.
pub fn visible_ticket(engine: &Engine, actor: &Actor, id: TicketId) -> Result<(), ApiError> {
    let readable = engine.ticket(id).is_some_and(|t| {
        let applicant = t.case().and_then(|c| engine.case(c)).map(|c| c.applicant().id.clone());
        t.readable_by(actor, applicant.as_ref())
    });
    if readable { Ok(()) } else { Err(unknown_ticket(id)) }
}

/// 403 for an applicant asking for a view that is for the hall's staff (it names no case, so
/// it tells nothing about anyone).
pub fn staff_only(actor: &Actor, what: &str) -> Result<(), ApiError> {
    if actor.role == Role::Applicant {
        return Err(ApiError::forbidden(
            "role_not_allowed",
            format!("{what} is for the hall's staff; {} may read only their own cases", actor.describe()),
        ));
    }
    Ok(())
}

/// 404 naming the hall's departments, for a department not in the definition.
pub fn known_department(def: &Definition, department: &str) -> Result<(), ApiError> {
    if def.department_ix(department).is_none() {
        let known: Vec<&str> = def.departments().iter().map(|d| d.id.as_str()).collect();
        return Err(ApiError::not_found(format!(
            "unknown department `{department}`; the hall has {}",
            known.join(", ")
        )));
    }
    Ok(())
}

fn json(v: Result<String, serde_json::Error>) -> String {
    v.expect("views serialize to JSON")
}

impl ReadSide<'_> {
    /// The JSON answer to `query` asked by `actor`, or why not.
    pub fn answer(&mut self, actor: &Actor, query: &Query) -> Result<String, ApiError> {
        match query {
            Query::Case(id) => {
                let c = visible_case(self.engine, actor, *id)?;
                let c = full_case(self.engine, self.log, c)?;
                Ok(json(serde_json::to_string(&CaseView::of(self.engine.definition_of(&c), &c))))
            }
            Query::DepartmentTasks { department, state, limit } => {
                staff_only(actor, "a department's work queue")?;
                known_department(self.def, department)?;
                Ok(self.department_tasks(department, *state, *limit))
            }
            Query::Tickets { state, department, limit } => {
                staff_only(actor, "the ticket board")?;
                if let Some(d) = department {
                    known_department(self.def, d)?;
                }
                Ok(self.tickets(*state, department.as_deref(), *limit))
            }
            Query::Ticket(id) => {
                visible_ticket(self.engine, actor, *id)?;
                let t = self.engine.ticket(*id).expect("a visible ticket exists");
                Ok(json(serde_json::to_string(&TicketView::of(t))))
            }
            Query::FourLists => {
                staff_only(actor, "the four lists")?;
                Ok(json(serde_json::to_string(&yichuang_analysis::report::FourLists::build(self.engine, self.now))))
            }
            Query::Kpis => {
                staff_only(actor, "the KPIs")?;
                Ok(json(serde_json::to_string(&yichuang_analysis::metrics::Metrics::measure(self.engine))))
            }
            Query::Status => self.status(),
            Query::Gauges => Ok(self.gauges()),
            Query::Clock => {
                let mode = if self.clock == ClockSetting::System { "system" } else { "manual" };
                Ok(serde_json::json!({ "now": self.now, "clock": mode, "next_timer": self.engine.next_deadline() })
                    .to_string())
            }
        }
    }

    fn department_tasks(&self, department: &str, state: TaskState, limit: usize) -> String {
        let mut total = 0;
        let mut rows = Vec::new();
        for (case, task) in self.engine.department_tasks(department, state) {
            total += 1;
            if rows.len() < limit {
                let c = self.engine.case(case).expect("queued tasks belong to known cases");
                // The case's own version: item and bundle numbers are per version.
                let def = self.engine.definition_of(c);
                rows.push(QueueRow {
                    case: case.to_string(),
                    bundle: def.bundle(c.bundle()).id.clone(),
                    item: task.item_id().clone(),
                    name: def.item(task.item()).name.clone(),
                    state: task.state().name(),
                    reviewer: task.reviewer().cloned(),
                    sla: task.sla().map(|s| s.level),
                    case_version: c.version(),
                    level: def.item(task.item()).levels.get(task.level()).map_or_else(String::new, |l| l.name.clone()),
                    urged: task.urged(),
                });
            }
        }
        serde_json::json!({ "department": department, "state": state.name(), "total": total, "tasks": rows })
            .to_string()
    }

    fn tickets(&self, state: Option<TicketState>, department: Option<&str>, limit: usize) -> String {
        let mut total = 0;
        let mut rows = Vec::new();
        let matching = self
            .engine
            .tickets()
            .iter()
            .filter(|t| state.is_none_or(|s| t.state() == s) && department.is_none_or(|d| *t.department() == *d));
        for t in matching {
            total += 1;
            if rows.len() < limit {
                rows.push(TicketView::of(t));
            }
        }
        serde_json::json!({ "total": total, "tickets": rows }).to_string()
    }

    /// `yichuang_open_tasks{department,sla}` and `yichuang_open_tickets{state,escalation}` in
    /// the Prometheus text format. A countersigned task counts once for each department that
    /// signs it. The SLA signal is the level of the task's running clock (`normal`, `warning`,
    /// `overdue`), or `none` while it has none (waiting for its turn, in a special procedure).
    fn gauges(&self) -> String {
        use std::collections::BTreeMap;
        use std::fmt::Write as _;
        let mut tasks: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for case in self.engine.cases() {
            let def = self.engine.definition_of(case);
            for task in case.tasks().iter().filter(|t| !t.state().is_terminal()) {
                let sla = match task.sla().filter(|s| !s.stopped && s.paused_since.is_none()) {
                    None => "none",
                    Some(s) => match s.level {
                        yichuang_core::machine::sla::SlaLevel::Normal => "normal",
                        yichuang_core::machine::sla::SlaLevel::Warning => "warning",
                        yichuang_core::machine::sla::SlaLevel::Overdue => "overdue",
                    },
                };
                for &d in def.item(task.item()).decided_by.departments() {
                    *tasks.entry((def.department(d).id.as_str(), sla)).or_insert(0) += 1;
                }
            }
        }
        let mut tickets: BTreeMap<(&str, u8), u64> = BTreeMap::new();
        for t in self.engine.tickets().iter().filter(|t| t.state() != TicketState::Closed) {
            *tickets.entry((t.state().name(), t.escalation())).or_insert(0) += 1;
        }
        let mut out = String::new();
        let name = "yichuang_open_tasks";
        let _ = writeln!(
            out,
            "# HELP {name} Approval tasks not yet decided, by deciding department and SLA signal (normal, warning, \
             overdue; none while no clock runs).\n# TYPE {name} gauge"
        );
        for ((department, sla), n) in &tasks {
            let _ = writeln!(out, "{name}{{department=\"{department}\",sla=\"{sla}\"}} {n}");
        }
        let name = "yichuang_open_tickets";
        let _ = writeln!(
            out,
            "# HELP {name} Tickets not closed, by state and escalation (0 none, 1 督办 supervision notice, 2 约谈 \
             interview).\n# TYPE {name} gauge"
        );
        for ((state, level), n) in &tickets {
            let _ = writeln!(out, "{name}{{state=\"{state}\",escalation=\"{level}\"}} {n}");
        }
        out
    }

    fn status(&mut self) -> Result<String, ApiError> {
        if let Some(why) = self.failed {
            return Err(storage_failed(why));
        }
        let v = serde_json::json!({
            "status": "ok",
            "failure": serde_json::Value::Null,
            "definition": self.def.id(),
            "head": self.head,
            "cases": self.engine.cases_opened(),
            "tickets": self.engine.tickets().len(),
            "now": self.now,
            "next_timer": self.engine.next_deadline(),
        });
        Ok(v.to_string())
    }
}

/// 503: the writer can no longer store commands.
pub fn storage_failed(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_failed",
        format!("the service cannot store commands: {why}; restart it"),
    )
}
