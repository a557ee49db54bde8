//! Errors as the API shows them: `{"error": {"code": "…", "message": "…"}}` with a status that
//! says whose move it is (4xx: the client's; 503: the service's storage).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use yichuang_core::Rejection;

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`version_conflict`, `wrong_department`, …).
    pub code: &'static str,
    /// A sentence that says what was wrong and what would be accepted.
    pub message: String,
    /// Every problem of a definition text that does not load (`POST /v1/definitions`), each with
    /// its line:col: the error's `diagnostics`.
    pub diagnostics: Option<std::sync::Arc<serde_json::Value>>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), diagnostics: None }
    }
    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 404: nothing there.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 403: the actor may not.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }
    /// 503: the service cannot store or answer right now; retry later (with the same
    /// `Idempotency-Key`, so that a command is not executed twice).
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// The engine refused a command: 403 when it is about who acts, 404 for an unknown case
    /// or ticket, else 422; the code and the message name the rule.
    pub fn rejection(r: &Rejection) -> ApiError {
        let status = if r.is_authorization() {
            StatusCode::FORBIDDEN
        } else if r.is_not_found() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        // A missing case or ticket is `not_found`, like every other missing resource.
        let code = if status == StatusCode::NOT_FOUND { "not_found" } else { r.code() };
        ApiError::new(status, code, r.to_string())
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        self.body_of(serde_json::json!({ "code": self.code, "message": self.message }))
    }

    fn body_of(&self, mut error: serde_json::Value) -> String {
        if let Some(d) = &self.diagnostics {
            error["diagnostics"] = (**d).clone();
        }
        serde_json::json!({ "error": error }).to_string()
    }

    /// The JSON body with the request's id, the way every error leaves the service:
    /// `{"error": {"code", "message", "request_id"}}`.
    pub fn body_with_id(&self, request_id: &str) -> String {
        self.body_of(serde_json::json!({ "code": self.code, "message": self.message, "request_id": request_id }))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    /// The response; the error itself rides along in the response's extensions so that the
    /// request middleware ([`crate::request`]) can log its code and add the request id to the body.
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, self.body());
        let headers = response.headers_mut();
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // The body was not read (or not all of it): the connection cannot carry another request.
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
