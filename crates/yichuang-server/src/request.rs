//! Every request, observed: its id, its span, the facts the handler learns about it, one log
//! line when it is answered, and its metrics.
//!
//! **Request id.** Taken from `X-Request-Id` when the client sends a usable one (1–128 of
//! `A–Z a–z 0–9 - _ . :`), otherwise generated (`<8 hex digits of this run>-<counter>`); sent back in
//! `X-Request-Id` on every response and as `request_id` in every error body, and named in the
//! request's log line, so that a complaint quoting it finds the line.
//!
//! **Facts.** The extractors ([`crate::extract`]) note what they learn — the actor and role,
//! the case or ticket, the command — in a [`Facts`] the middleware put in the request's
//! extensions; the matched route is noted by [`note_route`], the outcome is read from the
//! response (the error's code, or `ok` / `replayed`).
//!
//! **The log line** (target `yichuang_server::request`, `info`; `warn` for 5xx; `debug` for the
//! routine answers of the probes `/healthz`, `/readyz` and `/metrics`) carries
//! `request_id`, `method`, `route`, `hall`, `peer`, `actor`, `role`, `case`, `ticket`, `item`,
//! `command`, `outcome`, `status` and `latency_ms`.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Extensions, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use yichuang_core::{Actor, Role};

use crate::api::App;
use crate::error::ApiError;
use crate::serve::Peer;
use crate::state::Phase;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest accepted client request id.
const REQUEST_ID_MAX: usize = 128;

/// The request's id (a request extension).
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// What is learnt about a request while it is handled.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// The route as the router names it (`/v1/cases/{id}`), or none for an unmatched path.
    pub route: Option<&'static str>,
    /// The authenticated actor's id.
    pub actor: Option<String>,
    /// The actor's role (`applicant`, `clerk:intake-1`, …).
    pub role: Option<String>,
    /// The case in the path.
    pub case: Option<String>,
    /// The ticket in the path.
    pub ticket: Option<String>,
    /// The task's item in the path.
    pub item: Option<String>,
    /// The command (or a ticket's source) of the body.
    pub command: Option<String>,
}

/// The facts of a request, shared between the middleware and the extractors.
#[derive(Debug, Clone, Default)]
pub struct SharedFacts(Arc<Mutex<Facts>>);

impl SharedFacts {
    fn snapshot(&self) -> Facts {
        self.0.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Notes something learnt about the request.
    pub fn set(&self, f: impl FnOnce(&mut Facts)) {
        if let Ok(mut facts) = self.0.lock() {
            f(&mut facts);
        }
    }
}

/// Notes something learnt about the request (nothing if the request is not observed, as in
/// unit tests of an extractor).
pub fn note(extensions: &Extensions, f: impl FnOnce(&mut Facts)) {
    if let Some(facts) = extensions.get::<SharedFacts>() {
        facts.set(f);
    }
}

/// Notes the actor and their role.
pub fn note_actor(extensions: &Extensions, actor: &Actor) {
    note(extensions, |f| {
        f.actor = Some(actor.id.to_string());
        f.role = Some(role_text(&actor.role));
    });
}

/// A role as the logs write it.
pub fn role_text(role: &Role) -> String {
    match role {
        Role::Applicant => "applicant".into(),
        Role::Clerk { window } => format!("clerk:{window}"),
        Role::Reviewer { department } => format!("reviewer:{department}"),
        Role::Supervisor { department } => format!("supervisor:{department}"),
        Role::Leader => "leader".into(),
        Role::Admin => "admin".into(),
        Role::System => "system".into(),
    }
}

/// The client's request id if usable, else a new one.
fn request_id(request: &Request) -> Arc<str> {
    let sent = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(id) = sent
        && (1..=REQUEST_ID_MAX).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return id.into();
    }
    new_request_id()
}

/// A new request id: `<8 hex digits of this run>-<counter>`.
pub fn new_request_id() -> Arc<str> {
    static RUN: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // A random prefix per run (std's hasher keys are random), so ids of two runs differ.
    let run = *RUN.get_or_init(|| std::collections::hash_map::RandomState::new().build_hasher().finish() as u32);
    let mut id = String::with_capacity(20);
    let _ = write!(id, "{run:08x}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    id.into()
}

/// The outermost middleware: id, span, early refusals, log line, metrics.
pub async fn observe(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let id = request_id(&request);
    let facts = SharedFacts::default();
    let method = request.method().clone();
    let peer = request.extensions().get::<Peer>().map(|p| p.0);
    request.extensions_mut().insert(RequestId(Arc::clone(&id)));
    request.extensions_mut().insert(facts.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %method);
    let mut response = match refuse_early(&app, &request) {
        Some(e) => e.into_response(),
        None => next.run(request).instrument(span).await,
    };
    let error = response.extensions_mut().remove::<ApiError>();
    if let Some(e) = &error {
        *response.body_mut() = Body::from(e.body_with_id(&id));
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let outcome = match &error {
        Some(e) => e.code,
        None if replayed => "replayed",
        // A page's redirect (after a form, to the sign-in page) is the answer it meant to give.
        None if status.is_success() || status.is_redirection() => "ok",
        None => "error",
    };
    let seconds = started.elapsed().as_secs_f64();
    let f = facts.snapshot();
    let route = f.route.unwrap_or("unmatched");
    app.inner().shared.metrics.request(route, method.as_str(), status, seconds, outcome);
    // Microseconds are the precision worth reading.
    let latency_ms = (seconds * 1e6).round() / 1e3;
    let hall = app.inner().def.id().as_str();
    let peer = peer.map(tracing::field::display);
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "yichuang_server::request",
                request_id = %id, method = %method, route, hall, peer,
                actor = f.actor.as_deref(), role = f.role.as_deref(), case = f.case.as_deref(),
                ticket = f.ticket.as_deref(), item = f.item.as_deref(), command = f.command.as_deref(),
                outcome, status = status.as_u16(), latency_ms,
                "request"
            )
        };
    }
    // Probes come every few seconds from the orchestrator: their routine answers (including
    // "not ready yet" during the replay) are debug lines, so that the log holds the hall's work.
    let probe = matches!(route, "/healthz" | "/readyz" | "/metrics");
    if probe && (status.is_success() || outcome == "not_ready") {
        line!(debug);
    } else if status.is_server_error() {
        line!(warn);
    } else {
        line!(info);
    }
    response
}

/// Refusals before the request reaches its route: a body announced larger than the limit (413
/// at once, without reading it), and anything but the probes while the log is replayed (503).
fn refuse_early(app: &App, request: &Request) -> Option<ApiError> {
    let inner = app.inner();
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > inner.body_limit_bytes as u64) {
        return Some(crate::extract::too_large(inner.body_limit_bytes));
    }
    let replay = &inner.shared.replay;
    let probe = matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics" | "/openapi.json");
    match replay.phase() {
        Phase::Ready => None,
        _ if probe => None,
        Phase::Replaying => Some(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!(
                "the service is starting: it has checked {} of the {} events of its log; retry in a moment \
                 (GET /readyz answers 200 when it is ready)",
                replay.replayed.load(Ordering::Relaxed),
                replay.total.load(Ordering::Relaxed)
            ),
        )),
        Phase::Refused => Some(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the service refused its log and is stopping; see its log",
        )),
    }
}

/// Notes the matched route (a route layer: it runs only for matched routes).
pub async fn note_route(request: Request, next: Next) -> Response {
    if let Some(path) = request.extensions().get::<MatchedPath>() {
        let route = crate::api::route_name(path.as_str());
        note(request.extensions(), |f| f.route = route);
    }
    next.run(request).await
}
