//! Deciding one command inside a batch: its idempotency key, the version the client expected,
//! the engine's decision, and the answer that is sent once the batch is committed.

use std::collections::HashMap;

use axum::http::StatusCode;
use yichuang_core::{Actor, CaseId, Command, Ctx, Instant, Recorded, Rejection, Role, TicketId, TicketSource};
use yichuang_store::{Commit, IdempotencyRecord};

use super::{Idempotency, Reply, Target, Writer};
use crate::config::ClockSetting;
use crate::error::ApiError;
use crate::query::{visible_case, visible_ticket};
use crate::state::WireEvent;

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn command(
        &mut self,
        actor: &Actor,
        target: Target,
        expected_version: Option<u32>,
        idempotency: Option<Idempotency>,
        now: Instant,
        commits: &mut Vec<Commit>,
        keys: &mut HashMap<(String, String), (u64, Reply)>,
    ) -> Reply {
        let scope = actor.id.as_str();
        if let Some(idem) = &idempotency
            && let Some(reply) = self.replay_key(scope, idem, keys)
        {
            return reply;
        }
        let ctx = Ctx { now, actor };
        let outcome = self.decide(target, expected_version, &ctx);
        let (records, subject) = match outcome {
            Ok(done) => done,
            Err(e) => return Reply::error(&e),
        };
        let events = self.number(records);
        let status = if subject.created { StatusCode::CREATED } else { StatusCode::OK };
        let wire: Vec<WireEvent> = events.iter().map(WireEvent::of).collect();
        let body = subject.body(&wire);
        let record = idempotency.map(|idem| {
            let reply = Reply { status, body: body.clone(), replayed: true, error: None };
            keys.insert((scope.to_owned(), idem.key.clone()), (idem.fingerprint, reply));
            IdempotencyRecord {
                scope: scope.to_owned(),
                key: idem.key,
                fingerprint: idem.fingerprint,
                status: status.as_u16(),
                body: body.clone(),
                position: self.next - 1,
            }
        });
        commits.push(Commit { events, idempotency: record });
        Reply { status, body, replayed: false, error: None }
    }

    /// The stored response of a key used before (in this batch or committed), or `None`.
    fn replay_key(
        &self,
        scope: &str,
        idem: &Idempotency,
        keys: &HashMap<(String, String), (u64, Reply)>,
    ) -> Option<Reply> {
        let reused = || {
            Reply::error(&ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                format!(
                    "Idempotency-Key `{}` was used for a different request; a key names one request (method, path \
                     and body): use a new key for a new request",
                    idem.key
                ),
            ))
        };
        if let Some((fingerprint, reply)) = keys.get(&(scope.to_owned(), idem.key.clone())) {
            return Some(if *fingerprint == idem.fingerprint { reply.clone() } else { reused() });
        }
        match self.store.idempotency(scope, &idem.key) {
            Ok(Some(r)) if r.fingerprint == idem.fingerprint => Some(Reply {
                status: StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
                body: r.body,
                replayed: true,
                error: None,
            }),
            Ok(Some(_)) => Some(reused()),
            Ok(None) => None,
            Err(e) => Some(Reply::error(&ApiError::unavailable(
                "storage_failed",
                format!("the idempotency record could not be read ({e}); retry"),
            ))),
        }
    }

    fn decide(
        &mut self,
        target: Target,
        expected_version: Option<u32>,
        ctx: &Ctx<'_>,
    ) -> Result<(Vec<Recorded>, Subject), ApiError> {
        let refused = |r: Rejection| refusal(ctx.actor, &r);
        match target {
            Target::OpenCase(command) => {
                let (id, events) = self.engine.open(command, ctx).map_err(refused)?;
                Ok((events, self.case_subject(id, true)))
            }
            Target::Case(id, command) => {
                // First whether the caller may know the case: nothing after this (its version,
                // its tasks, its state) may answer a stranger.
                let case = visible_case(&self.engine, ctx.actor, id)?;
                check_version("case", &id.to_string(), case.version(), expected_version)?;
                // A compacted (finished) case has no tasks left to name: the engine refuses
                // the command for its state.
                if let Command::Task { item, .. } = &command
                    && !(case.is_finished() && case.tasks().is_empty())
                    && case.task(item).is_none()
                {
                    let items: Vec<&str> = case.tasks().iter().map(|t| t.item_id().as_str()).collect();
                    let items = if items.is_empty() {
                        "none yet (tasks are made at acceptance)".into()
                    } else {
                        items.join(", ")
                    };
                    return Err(ApiError::not_found(format!(
                        "case {id} has no task for item `{item}`; its tasks: {items}"
                    )));
                }
                let events = self.engine.execute(id, command, ctx).map_err(refused)?;
                Ok((events, self.case_subject(id, false)))
            }
            Target::OpenTicket(source) => {
                // An applicant links a complaint to one of their own cases: any other case
                // answers as a missing one does.
                if let TicketSource::Complaint { case: Some(case), .. } = &source
                    && ctx.actor.role == Role::Applicant
                {
                    visible_case(&self.engine, ctx.actor, *case)?;
                }
                let (id, events) = self.engine.open_ticket(source, ctx).map_err(refused)?;
                Ok((events, self.ticket_subject(id, true)))
            }
            Target::Ticket(id, command) => {
                visible_ticket(&self.engine, ctx.actor, id)?;
                let ticket = self.engine.ticket(id).expect("a visible ticket exists");
                check_version("ticket", &id.to_string(), ticket.version(), expected_version)?;
                let events = self.engine.execute_ticket(id, &command, ctx).map_err(refused)?;
                Ok((events, self.ticket_subject(id, false)))
            }
            Target::Migrate { to, plan, dry_run } => self.migration(to, &plan, dry_run, ctx),
            Target::PlanTickets => {
                let before = self.engine.tickets().len();
                let events = self.engine.open_plan_tickets(ctx).map_err(refused)?;
                let opened = self.engine.tickets()[before..].iter().map(|t| t.id().to_string()).collect();
                Ok((
                    events,
                    Subject {
                        id: String::new(),
                        state: "",
                        version: 0,
                        created: true,
                        opened: Some(opened),
                        json: None,
                    },
                ))
            }
        }
    }

    fn case_subject(&self, id: CaseId, created: bool) -> Subject {
        let c = self.engine.case(id).expect("the case was just opened or acted on");
        Subject { id: id.to_string(), state: c.state().name(), version: c.version(), created, opened: None, json: None }
    }

    fn ticket_subject(&self, id: TicketId, created: bool) -> Subject {
        let t = self.engine.ticket(id).expect("the ticket was just opened or acted on");
        Subject { id: id.to_string(), state: t.state().name(), version: t.version(), created, opened: None, json: None }
    }

    pub(super) fn set_clock(&mut self, actor: &Actor, to: Instant) -> Result<Instant, ApiError> {
        if actor.role != Role::Admin {
            return Err(ApiError::forbidden(
                "role_not_allowed",
                format!("only an admin moves the clock; {} may not", actor.describe()),
            ));
        }
        if self.clock == ClockSetting::System {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "clock_not_manual",
                "the service runs on the system clock; start it with --clock YYYY-MM-DDTHH:MM to move time by hand",
            ));
        }
        // The hall runs on the definition's calendar: a time it does not cover would leave
        // deadlines uncomputable.
        if let Err(e) = self.def.calendar().is_working_day(to.date()) {
            return Err(ApiError::rejection(&Rejection::Calendar(e)));
        }
        if to < self.floor {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "clock_backwards",
                format!("the clock is at {}; it moves forward only, so give a time at or after it", self.floor),
            ));
        }
        self.clock = ClockSetting::Manual(to);
        Ok(self.now())
    }
}

fn check_version(what: &str, id: &str, version: u32, expected: Option<u32>) -> Result<(), ApiError> {
    match expected {
        Some(v) if v > version => Err(ApiError::new(
            StatusCode::CONFLICT,
            "version_conflict",
            format!(
                "{what} {id} is at version {version}: version {v} does not exist yet; send the version you read \
                 (every read and command answer names it)"
            ),
        )),
        Some(v) if v != version => Err(ApiError::new(
            StatusCode::CONFLICT,
            "version_conflict",
            format!(
                "{what} {id} is at version {version}, not {v}: it changed since you read it; read it again and decide \
                 on its current state"
            ),
        )),
        _ => Ok(()),
    }
}

/// What a successful command answers about.
pub(super) struct Subject {
    id: String,
    state: &'static str,
    version: u32,
    created: bool,
    /// For plan tickets: the tickets opened.
    opened: Option<Vec<String>>,
    /// A whole answer of its own (a migration's), 200.
    json: Option<String>,
}

impl Subject {
    /// An answer of its own.
    pub(super) fn json(body: String) -> Subject {
        Subject { id: String::new(), state: "", version: 0, created: false, opened: None, json: Some(body) }
    }

    fn body(&self, events: &[WireEvent]) -> String {
        if let Some(json) = &self.json {
            return json.clone();
        }
        let mut out = String::with_capacity(64 + events.iter().map(|e| e.json.len() + 1).sum::<usize>());
        match &self.opened {
            Some(opened) => {
                out.push_str("{\"opened\":");
                out.push_str(&serde_json::to_string(opened).expect("ids serialize"));
            }
            None => {
                out.push_str(&format!(
                    "{{\"id\":\"{}\",\"state\":\"{}\",\"version\":{}",
                    self.id, self.state, self.version
                ));
            }
        }
        out.push_str(",\"events\":[");
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&e.json);
        }
        out.push_str("]}");
        out
    }
}

/// The answer to a refused command. An applicant acting in another applicant's name is told the
/// rule without the other applicant's id repeated back: no answer to an applicant names anyone
/// but themselves.
fn refusal(actor: &Actor, r: &Rejection) -> ApiError {
    match r {
        Rejection::NotTheApplicant { .. } if actor.role == Role::Applicant => ApiError::forbidden(
            r.code(),
            format!(
                "rule 申请人本人 (an applicant acts only for themselves): {} may act only under their own applicant id",
                actor.describe()
            ),
        ),
        _ => ApiError::rejection(r),
    }
}
