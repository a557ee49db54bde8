//! The pages' script and stylesheet, compiled into the binary (`assets/` of this package).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The script: live updates, the intake form's refresh, the print button.
pub const SCRIPT: &str = include_str!("../../assets/app.js");

/// The stylesheet (screen, phone and print).
pub const STYLE: &str = include_str!("../../assets/app.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Versioned with the binary: a restart may change it, so revalidate after an hour at most.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    super::secure(response)
}

/// `GET /assets/app.js`.
pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /assets/app.css`.
pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}
