//! Extractors: what handlers take from a request, each refusing with the API's own error
//! (`{"error": {"code", "message"}}`, see [`crate::error`]) rather than axum's plain-text
//! rejections — the pattern of axum's customize-extractor-error example. A handler names what
//! it needs in its arguments, in the order the checks run: who asks ([`Caller`]), what it is
//! about (the path), how (the idempotency key), then the body ([`JsonBody`]).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use yichuang_core::{Actor, CaseId, TicketId};

use crate::api::App;
use crate::error::ApiError;
use crate::request;
use crate::wire::{self, Parsed};

/// Longest accepted `Idempotency-Key`.
pub const KEY_BYTES_MAX: usize = 255;

/// The authenticated caller: the actor of the `Authorization: Bearer TOKEN` header (401 without
/// one, or with a token not in the tokens file).
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, ApiError> {
        let actor = app.authenticate(&parts.headers)?;
        request::note_actor(&parts.extensions, &actor);
        Ok(Caller(actor))
    }
}

/// A path's segments, as text (400 only if they are not valid percent-encoded UTF-8).
async fn segments<T: DeserializeOwned + Send>(parts: &mut Parts) -> Result<T, ApiError> {
    let Path(value) = Path::<T>::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
    Ok(value)
}

/// `{id}` of a case route, parsed as a case id (404 otherwise).
#[derive(Debug, Clone, Copy)]
pub struct CasePath(pub CaseId);

impl<S: Send + Sync> FromRequestParts<S> for CasePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<CasePath, ApiError> {
        let id: String = segments(parts).await?;
        let id = wire::case_path(&id)?;
        request::note(&parts.extensions, |f| f.case = Some(id.to_string()));
        Ok(CasePath(id))
    }
}

/// `{version}` of a definition route: 16 hexadecimal digits (404 otherwise, as for a version the
/// store does not hold).
#[derive(Debug, Clone, Copy)]
pub struct VersionPath(pub yichuang_core::definition::Version);

impl<S: Send + Sync> FromRequestParts<S> for VersionPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<VersionPath, ApiError> {
        let text: String = segments(parts).await?;
        text.parse().map(VersionPath).map_err(|why: String| {
            ApiError::not_found(format!("there is no definition version here: {why}; GET /v1/definitions lists them"))
        })
    }
}

/// `{id}/…/{item}` of a task route: the case id (404 if it is not one) and the item id as sent
/// (an unknown item is the writer's 404, which knows the case's tasks).
#[derive(Debug, Clone)]
pub struct TaskPath(pub CaseId, pub String);

impl<S: Send + Sync> FromRequestParts<S> for TaskPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<TaskPath, ApiError> {
        let (id, item): (String, String) = segments(parts).await?;
        let id = wire::case_path(&id)?;
        request::note(&parts.extensions, |f| {
            f.case = Some(id.to_string());
            f.item = Some(wire::shortened(&item));
        });
        Ok(TaskPath(id, item))
    }
}

/// `{id}` of a ticket route, parsed as a ticket id (404 otherwise).
#[derive(Debug, Clone, Copy)]
pub struct TicketPath(pub TicketId);

impl<S: Send + Sync> FromRequestParts<S> for TicketPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<TicketPath, ApiError> {
        let id: String = segments(parts).await?;
        let id = wire::ticket_path(&id)?;
        request::note(&parts.extensions, |f| f.ticket = Some(id.to_string()));
        Ok(TicketPath(id))
    }
}

/// `{department}` of a department route, as sent (the writer knows the departments).
#[derive(Debug, Clone)]
pub struct DepartmentPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DepartmentPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<DepartmentPath, ApiError> {
        segments(parts).await.map(DepartmentPath)
    }
}

/// The query string as `T` (400 naming the problem, e.g. an unknown parameter).
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Params<T>, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, &())
            .await
            .map_err(|e| ApiError::bad_request("bad_request", e.body_text()))?;
        Ok(Params(value))
    }
}

/// The `Idempotency-Key` header, if sent: 1–[`KEY_BYTES_MAX`] visible ASCII characters (400
/// otherwise).
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<IdempotencyKey, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else { return Ok(IdempotencyKey(None)) };
        let key = value.to_str().unwrap_or_default();
        if key.is_empty() || key.len() > KEY_BYTES_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                "bad_idempotency_key",
                format!("an Idempotency-Key is 1–{KEY_BYTES_MAX} visible ASCII characters, e.g. a UUID"),
            ));
        }
        Ok(IdempotencyKey(Some(key.to_owned())))
    }
}

/// A request body type: how its bytes become a [`Parsed`] command.
pub trait Body: Sized {
    /// Parses the body (400 saying what was expected).
    fn parse(bytes: &[u8]) -> Result<Parsed<Self>, ApiError>;
}

/// A JSON command body, parsed into `T`, with the bytes it was parsed from (the idempotency
/// fingerprint is taken over them). Over `--body-limit`: 413 naming the limit.
#[derive(Debug)]
pub struct JsonBody<T> {
    /// The parsed command and `expected_version`.
    pub parsed: Parsed<T>,
    /// The body as sent.
    pub bytes: Bytes,
}

impl<T: Body> FromRequest<App> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &App) -> Result<JsonBody<T>, ApiError> {
        require_json(request.headers())?;
        let inner = app.inner();
        let facts = request.extensions().get::<request::SharedFacts>().cloned();
        let read = tokio::time::timeout(inner.body_timeout, Bytes::from_request(request, app));
        let bytes = match read.await {
            Ok(bytes) => bytes.map_err(|e| body_error(e, inner.body_limit_bytes))?,
            Err(_) => return Err(body_timeout(inner.body_timeout)),
        };
        let parsed = T::parse(&bytes)?;
        if let Some(facts) = facts {
            facts.set(|f| f.command = parsed.name.as_deref().map(wire::shortened));
        }
        Ok(JsonBody { parsed, bytes })
    }
}

/// A request with a body must say `Content-Type: application/json` (parameters such as
/// `charset=utf-8` allowed); anything else is 415 before a byte of the body is read. A request
/// without a body (`Content-Length: 0` or none, not chunked) needs no type.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::trim);
    let has_body = headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|n| n != "0");
    if !has_body {
        return Ok(());
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    let sent = if content_type.is_empty() { "none".to_owned() } else { format!("`{}`", wire::shortened(content_type)) };
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("a request body must be JSON, sent with `Content-Type: application/json`; the Content-Type was {sent}"),
    ))
}

fn body_error(e: BytesRejection, limit_bytes: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit_bytes)
    } else {
        ApiError::bad_request("bad_request", e.body_text())
    }
}

/// 408: the body did not arrive in time.
fn body_timeout(limit: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        format!(
            "the request body did not arrive within {} ms (--body-timeout-ms); send the whole body at once",
            limit.as_millis()
        ),
    )
}

/// 413 naming the limit.
pub fn too_large(limit_bytes: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!(
            "the request body is larger than this service's limit of {limit_bytes} bytes (--body-limit); send a smaller body"
        ),
    )
}
