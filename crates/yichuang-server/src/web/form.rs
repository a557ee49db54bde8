//! The pages' form bodies (`application/x-www-form-urlencoded`), whose keys may repeat (every
//! checked material is one `materials=…`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::Response;

use crate::api::App;

use super::error_page;

/// A form's fields in the order sent.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Parses a URL-encoded body (invalid UTF-8 is replaced, never refused: the fields that
    /// matter are checked one by one).
    pub fn parse(bytes: &[u8]) -> Form {
        Form { pairs: form_urlencoded::parse(bytes).into_owned().collect() }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, trimmed, if not empty.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// Every field whose key starts with `prefix`, without it, with a non-blank value.
    pub fn prefixed(&self, prefix: &str) -> Vec<(&str, &str)> {
        self.pairs
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?, v.trim())))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// `expected_version`, when the page sent the version it showed.
    pub fn version(&self) -> Option<u32> {
        self.text("expected_version")?.parse().ok()
    }
}

/// A form body (415 as a page for anything but a URL-encoded form; the body limit and timeout
/// of the API apply).
#[derive(Debug)]
pub struct FormBody(pub Form);

impl FromRequest<App> for FormBody {
    type Rejection = Response;

    async fn from_request(request: Request, app: &App) -> Result<FormBody, Response> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(error_page(
                None,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "请求无效",
                "页面表单须以 application/x-www-form-urlencoded 提交。",
            ));
        }
        let inner = app.inner();
        let read = tokio::time::timeout(inner.body_timeout, Bytes::from_request(request, app));
        match read.await {
            Ok(Ok(bytes)) => Ok(FormBody(Form::parse(&bytes))),
            Ok(Err(_)) => Err(error_page(
                None,
                StatusCode::PAYLOAD_TOO_LARGE,
                "内容过长",
                &format!("表单内容超过了本服务的上限（{} 字节），未执行任何操作。", inner.body_limit_bytes),
            )),
            Err(_) => Err(error_page(None, StatusCode::REQUEST_TIMEOUT, "请求超时", "表单内容未能及时送达，请重试。")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_prefixes() {
        let f = Form::parse("materials=a&materials=b&f.sells-tobacco=%E6%98%AF&f.company-name=+&csrf=x".as_bytes());
        assert_eq!(f.all("materials"), ["a", "b"]);
        assert_eq!(f.prefixed("f."), [("sells-tobacco", "是")], "blank answers are left out");
        assert_eq!(f.get("csrf"), Some("x"));
        assert_eq!(f.text("missing"), None);
    }
}
