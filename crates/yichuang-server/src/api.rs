//! The HTTP API: routes, authentication, and the handlers that turn requests into writer
//! messages or store reads. Every route is registered through [`routes`], the list the OpenAPI
//! test holds against `openapi.json`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use tokio::sync::{oneshot, watch};
use yichuang_core::definition::Definition;
use yichuang_core::{Actor, Command, StreamId, TaskState, TicketState};
use yichuang_store::{EventLog, StoredEvent};

use crate::config::Tokens;
use crate::error::{ApiError, json_response};
use crate::extract::{
    Caller, CasePath, DepartmentPath, IdempotencyKey, JsonBody, Params, TaskPath, TicketPath, VersionPath,
};
use crate::query::{LIST_MAX, Query as WriterQuery, staff_only};
use crate::state::{Phase, Shared, WireEvent};
use crate::wire::{
    CaseCommand, DeployDefinition, Migration, NoArguments, OpenCase, OpenTicket, SetClock, TaskCommandBody,
    TicketCommandBody,
};
use crate::writer::{CommandRequest, Idempotency, Reply, Request, Target, WriterHandle};

/// The OpenAPI document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Rows a list returns when the client names no `limit`.
const LIST_DEFAULT: usize = 100;

/// Everything a handler needs.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

/// The parts of [`App`].
pub struct AppInner {
    /// The writer's channel.
    pub writer: WriterHandle,
    /// Readers of the log.
    pub readers: Arc<dyn EventLog + Send + Sync>,
    /// Bearer tokens.
    pub tokens: Tokens,
    /// The definition.
    pub def: Arc<Definition>,
    /// Shared with the writer.
    pub shared: Arc<Shared>,
    /// Flips to `true` when the service shuts down (ends the event streams).
    pub shutdown: watch::Receiver<bool>,
    /// `--body-limit`: larger bodies get 413 (the message names it).
    pub body_limit_bytes: usize,
    /// `--body-timeout-ms`: a body must arrive within it (408 otherwise).
    pub body_timeout: Duration,
    /// How the service was started, for `/metrics` (build info, database size).
    pub about: About,
    /// The web pages' sign-in sessions.
    pub web: crate::web::Web,
}

/// How the service was started (for `/metrics` and the logs).
#[derive(Debug, Clone)]
pub struct About {
    /// The definition's fingerprint (64-bit FNV-1a of its file, hex): its version as deployed.
    pub definition_fingerprint: String,
    /// The database file, if any (its size and its WAL's are reported).
    pub database: Option<std::path::PathBuf>,
    /// When the process started, in seconds since 1970.
    pub started_unix_seconds: f64,
}

impl App {
    /// Wraps the parts.
    pub fn new(inner: AppInner) -> App {
        App(Arc::new(inner))
    }

    /// The parts.
    pub fn inner(&self) -> &AppInner {
        &self.0
    }

    /// The actor of the request's bearer token.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Actor, ApiError> {
        let unauthorized = |code, message: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "unauthenticated",
                "send `Authorization: Bearer TOKEN`; the tokens are in the service's tokens file (--tokens)",
            ));
        };
        let value = value.to_str().unwrap_or_default();
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(unauthorized("unauthenticated", "the Authorization header must read `Bearer TOKEN`")),
        };
        match self.0.tokens.actor(token) {
            Some(actor) => Ok(actor.clone()),
            None => Err(unauthorized("unknown_token", "the bearer token is not in the service's tokens file")),
        }
    }

    pub(crate) async fn send(&self, request: Request) -> Result<(), ApiError> {
        self.0.writer.send(request).await.map_err(|_| writer_gone())
    }

    pub(crate) async fn ask(&self, actor: Actor, query: WriterQuery) -> Result<String, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Query { actor, query, reply: tx }).await?;
        rx.await.map_err(|_| writer_gone())?
    }

    /// A view computed by `f` on the writer's thread from the engine as of the next batch, and
    /// answered after that batch's commit (the web pages read through it).
    pub async fn view<T: Send + 'static>(
        &self,
        f: impl for<'a, 'b> FnOnce(&'b mut crate::query::ReadSide<'a>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let job = crate::writer::ReadJob(Box::new(move |read: &mut crate::query::ReadSide<'_>| {
            let answer = f(read);
            Box::new(move |committed: Result<(), ApiError>| {
                let _ = tx.send(committed.and(answer));
            })
        }));
        self.send(Request::Read(job)).await?;
        rx.await.map_err(|_| writer_gone())?
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn EventLog) -> Result<T, yichuang_store::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let readers = Arc::clone(&self.0.readers);
        let result = tokio::task::spawn_blocking(move || f(readers.as_ref())).await;
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ApiError::unavailable("storage_failed", format!("the log could not be read: {e}"))),
            Err(_) => Err(ApiError::unavailable("storage_failed", "the log read was interrupted")),
        }
    }

    /// Sends a command to the writer and waits for its answer (which comes after the commit).
    /// `key` and the request's path and body make the idempotency record.
    async fn command(
        &self,
        Caller(actor): Caller,
        target: Target,
        expected_version: Option<u32>,
        IdempotencyKey(key): IdempotencyKey,
        path: &str,
        body: &[u8],
    ) -> Result<Response, ApiError> {
        let idempotency = key.map(|key| Idempotency { key, fingerprint: fnv1a(&[b"POST", path.as_bytes(), body]) });
        let (tx, rx) = oneshot::channel();
        let request = CommandRequest { actor, target, expected_version, idempotency, reply: tx };
        self.send(Request::Command(Box::new(request))).await?;
        let reply = rx.await.map_err(|_| writer_gone())?;
        Ok(reply_response(reply))
    }
}

fn writer_gone() -> ApiError {
    ApiError::unavailable(
        "unavailable",
        "the service's writer stopped while handling this request; nothing was acknowledged, retry with the same \
         Idempotency-Key",
    )
}

fn reply_response(reply: Reply) -> Response {
    if let Some(e) = reply.error {
        return e.into_response();
    }
    let mut response = json_response(reply.status, reply.body);
    if reply.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// `?limit=`: a whole number 1–[`LIST_MAX`], [`LIST_DEFAULT`] when absent.
pub(crate) fn parse_limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else { return Ok(LIST_DEFAULT) };
    match text.trim().parse::<usize>() {
        Ok(n @ 1..=LIST_MAX) => Ok(n),
        _ => Err(ApiError::bad_request(
            "bad_request",
            format!(
                "query parameter `limit` must be a whole number 1–{LIST_MAX} (default {LIST_DEFAULT}), not `{text}`"
            ),
        )),
    }
}

/// `?after=`: an event position, a whole number ≥ 0.
pub(crate) fn parse_after(text: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    text.trim().parse::<u64>().map(Some).map_err(|_| {
        ApiError::bad_request(
            "bad_request",
            format!("query parameter `after` must be an event position, a whole number ≥ 0, not `{text}`"),
        )
    })
}

/// FNV-1a, 64 bits: a stable fingerprint (unlike std's hasher, fixed across Rust versions,
/// which matters because fingerprints are stored).
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn no_version_on_open(expected: Option<u32>) -> Result<(), ApiError> {
    match expected {
        Some(_) => Err(ApiError::bad_request(
            "bad_request",
            "expected_version applies to commands on an existing case or ticket, not to opening one",
        )),
        None => Ok(()),
    }
}

async fn post_cases(
    State(app): State<App>,
    caller: Caller,
    key: IdempotencyKey,
    uri: Uri,
    JsonBody { parsed, bytes }: JsonBody<OpenCase>,
) -> Result<Response, ApiError> {
    no_version_on_open(parsed.expected_version)?;
    let target = Target::OpenCase(parsed.command.into_command(&caller.0)?);
    app.command(caller, target, None, key, uri.path(), &bytes).await
}

async fn post_case_command(
    State(app): State<App>,
    caller: Caller,
    CasePath(id): CasePath,
    key: IdempotencyKey,
    uri: Uri,
    JsonBody { parsed, bytes }: JsonBody<CaseCommand>,
) -> Result<Response, ApiError> {
    let target = Target::Case(id, parsed.command.into_command(&caller.0)?);
    app.command(caller, target, parsed.expected_version, key, uri.path(), &bytes).await
}

async fn post_task_command(
    State(app): State<App>,
    caller: Caller,
    TaskPath(id, item): TaskPath,
    key: IdempotencyKey,
    uri: Uri,
    JsonBody { parsed, bytes }: JsonBody<TaskCommandBody>,
) -> Result<Response, ApiError> {
    let command = Command::Task { item: item.as_str().into(), action: parsed.command.into_command() };
    app.command(caller, Target::Case(id, command), parsed.expected_version, key, uri.path(), &bytes).await
}

async fn post_tickets(
    State(app): State<App>,
    caller: Caller,
    key: IdempotencyKey,
    uri: Uri,
    JsonBody { parsed, bytes }: JsonBody<OpenTicket>,
) -> Result<Response, ApiError> {
    no_version_on_open(parsed.expected_version)?;
    let target = Target::OpenTicket(parsed.command.into_source());
    app.command(caller, target, None, key, uri.path(), &bytes).await
}

async fn post_ticket_command(
    State(app): State<App>,
    caller: Caller,
    TicketPath(id): TicketPath,
    key: IdempotencyKey,
    uri: Uri,
    JsonBody { parsed, bytes }: JsonBody<TicketCommandBody>,
) -> Result<Response, ApiError> {
    let target = Target::Ticket(id, parsed.command.into_command());
    app.command(caller, target, parsed.expected_version, key, uri.path(), &bytes).await
}

async fn post_plan_tickets(
    State(app): State<App>,
    caller: Caller,
    key: IdempotencyKey,
    uri: Uri,
    JsonBody { bytes, .. }: JsonBody<NoArguments>,
) -> Result<Response, ApiError> {
    app.command(caller, Target::PlanTickets, None, key, uri.path(), &bytes).await
}

async fn get_definitions(State(app): State<App>, Caller(actor): Caller) -> Result<Response, ApiError> {
    let (tx, rx) = oneshot::channel();
    app.send(Request::Definitions { actor, version: None, reply: tx }).await?;
    Ok(ok_json(rx.await.map_err(|_| writer_gone())??))
}

async fn get_definition(
    State(app): State<App>,
    Caller(actor): Caller,
    VersionPath(version): VersionPath,
) -> Result<Response, ApiError> {
    let (tx, rx) = oneshot::channel();
    app.send(Request::Definitions { actor, version: Some(version), reply: tx }).await?;
    Ok(ok_json(rx.await.map_err(|_| writer_gone())??))
}

async fn post_definitions(
    State(app): State<App>,
    Caller(actor): Caller,
    JsonBody { parsed, .. }: JsonBody<DeployDefinition>,
) -> Result<Response, ApiError> {
    let DeployDefinition { text, origin } = parsed.command;
    let (tx, rx) = oneshot::channel();
    app.send(Request::Deploy { actor, text, origin, reply: tx }).await?;
    Ok(reply_response(rx.await.map_err(|_| writer_gone())?))
}

async fn post_migrations(
    State(app): State<App>,
    caller: Caller,
    key: IdempotencyKey,
    uri: Uri,
    JsonBody { parsed, bytes }: JsonBody<Migration>,
) -> Result<Response, ApiError> {
    let Migration { to, plan, dry_run } = parsed.command;
    app.command(caller, Target::Migrate { to, plan, dry_run }, None, key, uri.path(), &bytes).await
}

pub(crate) fn ok_json(body: String) -> Response {
    json_response(StatusCode::OK, body)
}

async fn get_case(State(app): State<App>, Caller(actor): Caller, CasePath(id): CasePath) -> Result<Response, ApiError> {
    Ok(ok_json(app.ask(actor, WriterQuery::Case(id)).await?))
}

fn events_body(stream: StreamId, events: &[StoredEvent]) -> String {
    let mut out = format!("{{\"stream\":\"{stream}\",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.wire_json());
    }
    out.push_str("]}");
    out
}

async fn get_case_events(
    State(app): State<App>,
    Caller(actor): Caller,
    CasePath(id): CasePath,
) -> Result<Response, ApiError> {
    // Existence and the right to read, as of a committed state.
    app.ask(actor, WriterQuery::Case(id)).await?;
    let stream = StreamId::Case(id);
    let events = app.read(move |log| log.read_stream(stream)).await?;
    Ok(ok_json(events_body(stream, &events)))
}

async fn get_ticket(
    State(app): State<App>,
    Caller(actor): Caller,
    TicketPath(id): TicketPath,
) -> Result<Response, ApiError> {
    Ok(ok_json(app.ask(actor, WriterQuery::Ticket(id)).await?))
}

async fn get_ticket_events(
    State(app): State<App>,
    Caller(actor): Caller,
    TicketPath(id): TicketPath,
) -> Result<Response, ApiError> {
    app.ask(actor, WriterQuery::Ticket(id)).await?;
    let stream = StreamId::Ticket(id);
    let events = app.read(move |log| log.read_stream(stream)).await?;
    Ok(ok_json(events_body(stream, &events)))
}

/// `?state=&limit=` of a work queue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueParams {
    state: Option<String>,
    limit: Option<String>,
}

/// Whether `text` names the state `name` (`AwaitingSupervision`): as written, or in
/// snake_case (`awaiting_supervision`), the two spellings the API's description lists.
fn names_state(name: &str, text: &str) -> bool {
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            snake.push('_');
        }
        snake.extend(c.to_lowercase());
    }
    text == name || text == snake
}

async fn get_department_tasks(
    State(app): State<App>,
    Caller(actor): Caller,
    DepartmentPath(department): DepartmentPath,
    Params(params): Params<QueueParams>,
) -> Result<Response, ApiError> {
    let states = [TaskState::Ready, TaskState::InReview, TaskState::Waiting, TaskState::SimulatedApproved];
    let state = match params.state.as_deref() {
        None => TaskState::Ready,
        Some(s) => states.into_iter().find(|t| names_state(t.name(), s)).ok_or_else(|| {
            ApiError::bad_request(
                "bad_request",
                format!("unknown task state `{s}`; a queue is one of: ready, in_review, waiting, simulated_approved"),
            )
        })?,
    };
    let limit = parse_limit(params.limit.as_deref())?;
    Ok(ok_json(app.ask(actor, WriterQuery::DepartmentTasks { department, state, limit }).await?))
}

/// `?state=&department=&limit=` of the ticket board.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketParams {
    state: Option<String>,
    department: Option<String>,
    limit: Option<String>,
}

async fn get_tickets(
    State(app): State<App>,
    Caller(actor): Caller,
    Params(params): Params<TicketParams>,
) -> Result<Response, ApiError> {
    let state = match params.state.as_deref() {
        None => None,
        Some(s) => Some(TicketState::ALL.iter().copied().find(|t| names_state(t.name(), s)).ok_or_else(|| {
            let names: Vec<&str> = TicketState::ALL.iter().map(|t| t.name()).collect();
            ApiError::bad_request("bad_request", format!("unknown ticket state `{s}`; one of: {}", names.join(", ")))
        })?),
    };
    let limit = parse_limit(params.limit.as_deref())?;
    let query = WriterQuery::Tickets { state, department: params.department, limit };
    Ok(ok_json(app.ask(actor, query).await?))
}

async fn get_four_lists(State(app): State<App>, Caller(actor): Caller) -> Result<Response, ApiError> {
    Ok(ok_json(app.ask(actor, WriterQuery::FourLists).await?))
}

async fn get_kpis(State(app): State<App>, Caller(actor): Caller) -> Result<Response, ApiError> {
    Ok(ok_json(app.ask(actor, WriterQuery::Kpis).await?))
}

/// `?after=&limit=` of the global log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogParams {
    after: Option<String>,
    limit: Option<String>,
}

async fn get_events(
    State(app): State<App>,
    Caller(actor): Caller,
    Params(params): Params<LogParams>,
) -> Result<Response, ApiError> {
    staff_only(&actor, "the whole log")?;
    let after = parse_after(params.after.as_deref())?.unwrap_or(0);
    let limit = parse_limit(params.limit.as_deref())?;
    let events = app.read(move |log| log.read_after(after, limit)).await?;
    let head = app.0.shared.head.load(Ordering::Acquire);
    let mut out = format!("{{\"head\":{head},\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&WireEvent::of(e).json);
    }
    out.push_str("]}");
    Ok(ok_json(out))
}

async fn get_clock(State(app): State<App>, Caller(actor): Caller) -> Result<Response, ApiError> {
    Ok(ok_json(app.ask(actor, WriterQuery::Clock).await?))
}

async fn post_clock(
    State(app): State<App>,
    Caller(actor): Caller,
    JsonBody { parsed, .. }: JsonBody<SetClock>,
) -> Result<Response, ApiError> {
    let (tx, rx) = oneshot::channel();
    app.send(Request::SetClock { actor, now: parsed.command.now, reply: tx }).await?;
    Ok(ok_json(rx.await.map_err(|_| writer_gone())??))
}

/// `/healthz`: alive. While the log is replayed, 200 with the progress (the process is working
/// as it should; a liveness probe must not kill it); afterwards the writer's status (503 if it
/// can no longer store).
async fn healthz(State(app): State<App>) -> Response {
    let replay = &app.0.shared.replay;
    if replay.phase() != Phase::Ready {
        let body = serde_json::json!({
            "status": if replay.phase() == Phase::Replaying { "replaying" } else { "refused" },
            "replayed": replay.replayed.load(Ordering::Relaxed),
            "of": replay.total.load(Ordering::Relaxed),
        });
        return ok_json(body.to_string());
    }
    let answer = tokio::time::timeout(Duration::from_secs(5), app.ask(Actor::system(), WriterQuery::Status)).await;
    match answer {
        Ok(Ok(body)) => ok_json(body),
        Ok(Err(e)) => e.into_response(),
        Err(_) => ApiError::unavailable("unavailable", "the writer did not answer within 5 s").into_response(),
    }
}

/// `/readyz`: 200 once the log is replayed and the writer answers; 503 `not_ready` before (the
/// message says how far the replay got) or when the writer cannot store.
async fn readyz(State(app): State<App>) -> Response {
    let replay = &app.0.shared.replay;
    match replay.phase() {
        Phase::Ready => {}
        Phase::Replaying => {
            return ApiError::unavailable(
                "not_ready",
                format!(
                    "replaying the log: {} of {} events checked",
                    replay.replayed.load(Ordering::Relaxed),
                    replay.total.load(Ordering::Relaxed)
                ),
            )
            .into_response();
        }
        Phase::Refused => {
            return ApiError::unavailable("not_ready", "the log was refused; the service is stopping").into_response();
        }
    }
    let answer = tokio::time::timeout(Duration::from_secs(5), app.ask(Actor::system(), WriterQuery::Status)).await;
    match answer {
        Ok(Ok(_)) => ok_json(serde_json::json!({ "status": "ready" }).to_string()),
        Ok(Err(e)) => ApiError::unavailable("not_ready", e.message).into_response(),
        Err(_) => ApiError::unavailable("not_ready", "the writer did not answer within 5 s").into_response(),
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let body = crate::metrics::render(&app).await;
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

async fn openapi() -> Response {
    json_response(StatusCode::OK, OPENAPI.to_owned())
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}; the routes are listed at /openapi.json", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}; see /openapi.json", uri.path()),
    )
}

/// Every route: path, methods, handler. The router and the OpenAPI check both read this list.
pub fn routes() -> Vec<(&'static str, &'static [&'static str], MethodRouter<App>)> {
    vec![
        ("/v1/cases", &["POST"], post(post_cases)),
        ("/v1/cases/{id}", &["GET"], get(get_case)),
        ("/v1/cases/{id}/events", &["GET"], get(get_case_events)),
        ("/v1/cases/{id}/commands", &["POST"], post(post_case_command)),
        ("/v1/cases/{id}/tasks/{item}/commands", &["POST"], post(post_task_command)),
        ("/v1/departments/{department}/tasks", &["GET"], get(get_department_tasks)),
        ("/v1/tickets", &["GET", "POST"], get(get_tickets).post(post_tickets)),
        ("/v1/tickets/{id}", &["GET"], get(get_ticket)),
        ("/v1/tickets/{id}/events", &["GET"], get(get_ticket_events)),
        ("/v1/tickets/{id}/commands", &["POST"], post(post_ticket_command)),
        ("/v1/plan/tickets", &["POST"], post(post_plan_tickets)),
        ("/v1/reports/four-lists", &["GET"], get(get_four_lists)),
        ("/v1/kpis", &["GET"], get(get_kpis)),
        ("/v1/board", &["GET"], get(crate::web::board::json)),
        ("/v1/events", &["GET"], get(get_events)),
        ("/v1/stream", &["GET"], get(crate::stream::get_stream)),
        ("/v1/clock", &["GET", "POST"], get(get_clock).post(post_clock)),
        ("/v1/audit/head", &["GET"], get(crate::audit::get_head)),
        ("/v1/definitions", &["GET", "POST"], get(get_definitions).post(post_definitions)),
        ("/v1/definitions/{version}", &["GET"], get(get_definition)),
        ("/v1/migrations", &["POST"], post(post_migrations)),
        ("/healthz", &["GET"], get(healthz)),
        ("/readyz", &["GET"], get(readyz)),
        ("/metrics", &["GET"], get(metrics)),
        ("/openapi.json", &["GET"], get(openapi)),
    ]
}

/// The method and path of every route, e.g. `("POST", "/v1/cases")`.
pub fn route_list() -> Vec<(String, String)> {
    let mut list = Vec::new();
    for (path, methods, _) in routes() {
        for m in methods {
            list.push((m.to_string(), path.to_string()));
        }
    }
    list
}

/// The route as the router names it, as a `'static` string (for labels), if it is one.
pub fn route_name(path: &str) -> Option<&'static str> {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| routes().into_iter().chain(crate::web::routes()).map(|(p, _, _)| p).collect())
        .iter()
        .copied()
        .find(|p| *p == path)
}

/// The router with its state, body limit, and the request middleware
/// ([`crate::request::observe`]: request id, early refusals, log line, metrics).
pub fn router(app: App) -> Router {
    let body_limit_bytes = app.0.body_limit_bytes;
    let mut router = Router::new();
    // The JSON API and the hall's web pages (`crate::web`), observed alike.
    for (path, _, method_router) in routes().into_iter().chain(crate::web::routes()) {
        router = router.route(path, method_router);
    }
    router
        .route_layer(middleware::from_fn(crate::request::note_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit_bytes))
        .layer(middleware::from_fn_with_state(app.clone(), crate::request::observe))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OpenAPI document describes exactly the routes the router serves, each with a
    /// summary and responses, and every `$ref` resolves.
    #[test]
    fn openapi_describes_every_route_and_nothing_else() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut described = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                assert!(op["summary"].is_string(), "{method} {path} has a summary");
                assert!(op["responses"].is_object(), "{method} {path} has responses");
                described.push((method.to_uppercase(), path.clone()));
            }
        }
        let mut served = route_list();
        described.sort();
        served.sort();
        assert_eq!(described, served, "openapi.json and the router list the same routes");
        let marker = "\"$ref\": \"#/components/schemas/";
        for (i, _) in OPENAPI.match_indices(marker) {
            let name: String = OPENAPI[i + marker.len()..].chars().take_while(|c| *c != '"').collect();
            assert!(doc["components"]["schemas"][&name].is_object(), "schema {name} is defined");
        }
    }

    /// Every `expected_version` the document describes carries the bounds the parser enforces
    /// (a `u32`, or null), so a schema-valid request is never refused for it (Schemathesis
    /// found a command added without the `maximum`).
    #[test]
    fn every_expected_version_is_described_as_the_parser_reads_it() {
        fn walk(v: &serde_json::Value, path: &str, found: &mut Vec<(String, serde_json::Value)>) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, child) in map {
                        if k == "expected_version" && child.get("description").is_some() {
                            found.push((path.to_owned(), child.clone()));
                        }
                        walk(child, &format!("{path}/{k}"), found);
                    }
                }
                serde_json::Value::Array(items) => {
                    for (i, child) in items.iter().enumerate() {
                        walk(child, &format!("{path}[{i}]"), found);
                    }
                }
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        let mut found = Vec::new();
        walk(&doc, "", &mut found);
        assert!(found.len() >= 20, "the commands describe expected_version ({})", found.len());
        for (path, schema) in found {
            assert_eq!(schema["minimum"], 0, "{path}");
            assert_eq!(schema["maximum"], u64::from(u32::MAX), "{path}");
            assert_eq!(schema["type"], serde_json::json!(["integer", "null"]), "{path}");
        }
    }

    #[test]
    fn fingerprints_are_stable_and_separate_the_parts() {
        assert_eq!(fnv1a(&[b"POST", b"/v1/cases", b"{}"]), fnv1a(&[b"POST", b"/v1/cases", b"{}"]));
        assert_ne!(fnv1a(&[b"POST", b"/v1/cases", b"{}"]), fnv1a(&[b"POST", b"/v1/case", b"s{}"]));
        // Pinned: stored fingerprints must not change between builds.
        assert_eq!(fnv1a(&[b"POST", b"/v1/cases", b"{}"]), 0x8158dae3aed8eb68);
    }
}
