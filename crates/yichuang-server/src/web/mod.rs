//! The hall's web pages (一窗 大厅页面), served by the service itself at `/`.
//!
//! **Stack, and why.** HTML rendered by the server from templates compiled into the binary
//! ([maud](https://maud.lambda.xyz/)), one small hand-written script and one stylesheet
//! embedded with `include_str!` ([`assets`]). Nothing to install, build or serve besides
//! `cargo run -p yichuang-server`: no Node, no bundler, no second server. Rendering on the
//! server means every page is whole without JavaScript (forms are plain HTML forms that post
//! and redirect), a reload always shows the truth, and the pages read through the same code as
//! the JSON API: the views ([`views`]) are computed on the writer's thread from the engine under
//! the API's read rules ([`crate::query`]), and every form becomes the same core command the API
//! sends to the same writer, authorized by the engine. maud escapes every value it interpolates,
//! so an applicant's name like `<script>` is shown as text.
//!
//! **Live.** Each page opens `GET /live` ([`live`]), the committed-event feed of `/v1/stream`
//! filtered to what the signed-in person may see and stripped to positions and stream ids; on
//! an event the script fetches the page again and swaps its `data-live` regions (skipping one
//! the person is typing in). If the feed fails the page says so and a reload shows the truth.
//!
//! **Security.** Sign-in with a bearer token, kept out of URLs, logs and scripts ([`session`]);
//! every response carries a strict Content-Security-Policy (scripts and styles only from the
//! service's own files, no inline script or style, no framing) and `Cache-Control: no-store`.
//!
//! **Routes.** English ids in URLs, Chinese on the page: `/` (sign-in or the person's home),
//! `/board`, `/cases/{id}`, `/cases/{id}/notice`, `/window`, `/window/{bundle}`,
//! `/departments/{department}/queue`, `/my`, `/tickets/{id}`, `/live`, `/assets/…`. The
//! reference is `docs/web.md`.

// A page refused on the way (not found, forbidden, a forged form) is a whole response, built
// at most once per request and returned at once: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

pub mod assets;
pub mod board;
pub mod case;
pub mod form;
pub mod gantt;
pub mod live;
pub mod mine;
pub mod queue;
pub mod session;
pub mod views;
pub mod window;
pub mod words;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use maud::{DOCTYPE, Markup, html};
use tokio::sync::oneshot;
use yichuang_core::{Actor, Role};

use crate::api::App;
use crate::error::ApiError;
use crate::request;
use crate::writer::{CommandRequest, Idempotency, Reply, Request, Target};

use self::form::FormBody;
use self::session::{COOKIE, Flash, Sessions};

/// The web pages' state: the sign-in sessions of this run.
#[derive(Debug, Default)]
pub struct Web {
    /// Open sessions.
    pub sessions: Sessions,
}

/// Every page route: path, methods, handler (added to the router beside the API's).
pub fn routes() -> Vec<(&'static str, &'static [&'static str], MethodRouter<App>)> {
    vec![
        ("/", &["GET"], get(home)),
        ("/signin", &["GET", "POST"], get(signin_page).post(signin)),
        ("/signout", &["POST"], post(signout)),
        ("/board", &["GET"], get(board::page)),
        ("/cases/{id}", &["GET"], get(case::page)),
        ("/cases/{id}/notice", &["GET"], get(case::notice)),
        ("/cases/{id}/act", &["POST"], post(case::act)),
        ("/cases/{id}/tasks/{item}/act", &["POST"], post(queue::act)),
        ("/window", &["GET"], get(window::choose)),
        ("/window/{bundle}", &["GET", "POST"], get(window::form).post(window::post)),
        ("/departments/{department}/queue", &["GET"], get(queue::page)),
        ("/my", &["GET"], get(mine::page)),
        ("/my/complaints", &["POST"], post(mine::complain)),
        ("/tickets/{id}", &["GET"], get(mine::ticket)),
        ("/live", &["GET"], get(live::stream)),
        ("/assets/app.js", &["GET"], get(assets::script)),
        ("/assets/app.css", &["GET"], get(assets::style)),
    ]
}

/// The pages' Content-Security-Policy: only the service's own script and stylesheet, no inline
/// script or style, no plugins, no framing, forms only to the service.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the pages' security headers.
pub fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// An HTML page with `status`.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    secure(response)
}

/// 303 See Other to a path of this service.
pub fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    secure(response)
}

/// `to` if it is a path of this service (`/…`, not `//…`), else `/`: a form's return address
/// never leads elsewhere.
pub fn local_path(to: &str) -> &str {
    let local = to.starts_with('/')
        && !to.starts_with("//")
        && !to.contains('\\')
        && to.len() <= 512
        && !to.chars().any(char::is_control);
    if local { to } else { "/" }
}

/// The signed-in person of a page request. Without a session, a page answers with a redirect
/// to the sign-in page (which returns here afterwards).
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Who.
    pub actor: Actor,
    /// The session id (the cookie's value).
    pub session: String,
    /// The session's anti-forgery value.
    pub csrf: String,
    /// The outcome of the last form, shown once.
    pub flash: Option<Flash>,
}

impl FromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Viewer, Response> {
        let id = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|h| session::cookie(h, COOKIE))
            .map(str::to_owned);
        let found = id.as_deref().and_then(|id| app.inner().web.sessions.touch(id));
        match (id, found) {
            (Some(id), Some(s)) => {
                request::note_actor(&parts.extensions, &s.actor);
                Ok(Viewer { actor: s.actor, session: id, csrf: s.csrf, flash: s.flash })
            }
            _ => {
                let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                if parts.method == axum::http::Method::GET && here != "/live" {
                    Err(redirect(&format!("/signin?next={}", encode(here))))
                } else {
                    Err(error_page(
                        None,
                        StatusCode::UNAUTHORIZED,
                        "请先登录",
                        "您尚未登录或登录已过期，请重新登录后再操作。",
                    ))
                }
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl Viewer {
    /// Refuses a form whose anti-forgery value is not this session's (403), or that another
    /// site sent (an `Origin` that is not this host's).
    pub fn check(&self, headers: &HeaderMap, form: &form::Form) -> Result<(), Response> {
        let forged = !session::same(form.get("csrf").unwrap_or_default(), &self.csrf) || foreign_origin(headers);
        if forged {
            return Err(error_page(
                Some(self),
                StatusCode::FORBIDDEN,
                "请求无效",
                "表单已过期或来自其他网站，未执行任何操作。请刷新页面后重试。",
            ));
        }
        Ok(())
    }

    /// The person's home page.
    pub fn home(&self) -> String {
        home_of(&self.actor)
    }
}

/// Whether the request's `Origin` names another site than the `Host` it was sent to.
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    origin_host != host
}

/// Where a role starts: the board, the window, the department's queue, or the applicant's page.
pub fn home_of(actor: &Actor) -> String {
    match &actor.role {
        Role::Applicant => "/my".to_owned(),
        Role::Clerk { .. } => "/window".to_owned(),
        Role::Reviewer { department } => format!("/departments/{department}/queue"),
        Role::Supervisor { .. } | Role::Leader | Role::Admin | Role::System => "/board".to_owned(),
    }
}

/// The page around every page's content: header, navigation by role, the flash message, the
/// live-update status, and the script.
pub fn shell(app: &App, viewer: Option<&Viewer>, title: &str, body_class: &str, content: Markup) -> Markup {
    let def = &app.inner().def;
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (def.name()) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/app.css";
                script src="/assets/app.js" defer {}
            }
            body class=(body_class) {
                a.skip href="#main" { "跳到正文" }
                header.top {
                    div.hall { (def.name()) }
                    @if let Some(v) = viewer {
                        nav aria-label="主导航" {
                            ul {
                                @for (href, label) in nav_links(&v.actor) {
                                    li { a href=(href) { (label) } }
                                }
                            }
                        }
                        div.me {
                            span.who { (words::role(def, &v.actor)) " " (v.actor.id) }
                            form method="post" action="/signout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button type="submit" { "退出登录" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    @if let Some(f) = viewer.and_then(|v| v.flash.as_ref()) {
                        div class={ "flash " (if f.ok { "ok" } else { "error" }) } role=(if f.ok { "status" } else { "alert" }) {
                            (f.text)
                        }
                    }
                    (content)
                }
                footer {
                    @if viewer.is_some() {
                        p #live-status role="status" aria-live="polite" { "实时更新：未连接（刷新页面可查看最新数据）" }
                    }
                }
            }
        }
    }
}

fn nav_links(actor: &Actor) -> Vec<(String, &'static str)> {
    match &actor.role {
        Role::Applicant => vec![("/my".into(), "我的办件（掌上办）")],
        Role::Clerk { .. } => vec![("/window".into(), "综合受理")],
        Role::Reviewer { department } => vec![(format!("/departments/{department}/queue"), "部门待办")],
        Role::Supervisor { .. } | Role::Leader | Role::Admin | Role::System => vec![("/board".into(), "效能监察看板")],
    }
}

/// An error page: what went wrong and what to do, never more.
pub fn error_page(viewer: Option<&Viewer>, status: StatusCode, title: &str, text: &str) -> Response {
    let back = viewer.map_or_else(|| "/".to_owned(), Viewer::home);
    let body = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/app.css";
            }
            body {
                main #main {
                    h1 { (title) }
                    p { (text) }
                    p { a href=(back) { "返回" } }
                }
            }
        }
    };
    html_response(status, body)
}

/// An API error as a page (403, 404 … with the API's message).
pub fn api_error_page(viewer: Option<&Viewer>, e: &ApiError) -> Response {
    let title = match e.status {
        StatusCode::NOT_FOUND => "未找到",
        StatusCode::FORBIDDEN => "无权查看",
        StatusCode::SERVICE_UNAVAILABLE => "服务暂不可用",
        _ => "请求有误",
    };
    error_page(viewer, e.status, title, &e.message)
}

/// Sends a command as `viewer`, exactly as the API would (the engine authorizes it), and
/// answers with the writer's reply; `key` makes a form that is sent twice count once.
pub async fn command(
    app: &App,
    viewer: &Viewer,
    target: Target,
    expected_version: Option<u32>,
    key: Option<(String, u64)>,
) -> Result<Reply, ApiError> {
    let (tx, rx) = oneshot::channel();
    let idempotency = key.map(|(key, fingerprint)| Idempotency { key, fingerprint });
    let request = CommandRequest { actor: viewer.actor.clone(), target, expected_version, idempotency, reply: tx };
    app.send(Request::Command(Box::new(request))).await?;
    rx.await.map_err(|_| {
        ApiError::unavailable("unavailable", "the service's writer stopped while handling this form; nothing was done")
    })
}

/// After a form: the outcome as the next page's message, and back to `to`.
pub fn after_command(app: &App, viewer: &Viewer, reply: Result<Reply, ApiError>, done: &str, to: &str) -> Response {
    let flash = match reply {
        Ok(r) if r.error.is_none() => Flash { ok: true, text: done.to_owned() },
        Ok(r) => Flash { ok: false, text: refusal(r.error.as_ref().map_or("", |e| e.message.as_str())) },
        Err(e) => Flash { ok: false, text: refusal(&e.message) },
    };
    app.inner().web.sessions.flash(&viewer.session, flash);
    redirect(local_path(to))
}

/// A refusal, in the words the person reads: the rule's own message after a Chinese lead.
pub fn refusal(message: &str) -> String {
    format!("未办理：{message}")
}

/// `GET /`: the sign-in page, or the signed-in person's home.
async fn home(viewer: Result<Viewer, Response>) -> Response {
    match viewer {
        Ok(v) => redirect(&v.home()),
        Err(_) => redirect("/signin"),
    }
}

/// `?next=` of the sign-in page.
#[derive(Debug, serde::Deserialize)]
struct Next {
    next: Option<String>,
}

async fn signin_page(State(app): State<App>, axum::extract::Query(q): axum::extract::Query<Next>) -> Response {
    html_response(StatusCode::OK, signin_markup(&app, q.next.as_deref().unwrap_or(""), None))
}

fn signin_markup(app: &App, next: &str, problem: Option<&str>) -> Markup {
    let content = html! {
        h1 { "登录" }
        p { "请输入您的访问令牌。令牌只在本次登录时提交一次，不会出现在网址或日志中。" }
        @if let Some(p) = problem {
            div.flash.error role="alert" { (p) }
        }
        form.signin method="post" action="/signin" {
            input type="hidden" name="next" value=(local_path(next));
            label for="token" { "访问令牌" }
            input #token type="password" name="token" autocomplete="off" required autofocus;
            button type="submit" { "登录" }
        }
        p.hint { "示例大厅的演示令牌见 examples/tokens.ron（例如效能监察：demo-supervisor）。演示令牌是公开的，切勿用于对外服务。" }
    };
    shell(app, None, "登录", "signin", content)
}

async fn signin(State(app): State<App>, headers: HeaderMap, FormBody(form): FormBody) -> Response {
    if foreign_origin(&headers) {
        return error_page(None, StatusCode::FORBIDDEN, "请求无效", "登录请求来自其他网站，已拒绝。");
    }
    let token = form.get("token").unwrap_or_default().trim();
    let next = local_path(form.get("next").unwrap_or("/")).to_owned();
    let Some(actor) = app.inner().tokens.actor(token).cloned() else {
        let markup = signin_markup(&app, &next, Some("令牌无效：服务的令牌文件中没有这个令牌。"));
        return html_response(StatusCode::UNAUTHORIZED, markup);
    };
    let (id, _) = match app.inner().web.sessions.open(actor.clone()) {
        Ok(opened) => opened,
        Err(_) => {
            return error_page(
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                "暂时无法登录",
                "系统随机数来源不可用，请稍后重试。",
            );
        }
    };
    let secure = headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{}", if secure { "; Secure" } else { "" });
    let to = if next == "/" { home_of(&actor) } else { next };
    let mut response = redirect(&to);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

async fn signout(State(app): State<App>, viewer: Viewer, headers: HeaderMap, FormBody(form): FormBody) -> Response {
    if let Err(r) = viewer.check(&headers, &form) {
        return r;
    }
    app.inner().web.sessions.close(&viewer.session);
    let mut response = redirect("/signin");
    let expired = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// A hidden anti-forgery field.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// A number of working days left, in words: `剩 2.5 个工作日`, `超期 1.0 个工作日`.
pub fn days_text(days: Option<f64>) -> String {
    match days {
        None => "—".to_owned(),
        Some(d) if d >= 0.0 => format!("剩 {:.1} 个工作日", d),
        Some(d) => format!("超期 {:.1} 个工作日", -d),
    }
}

/// A ratio as `97.5%（39/40）`, or `—（无数据）` over an empty population.
pub fn ratio_text(r: yichuang_analysis::metrics::Ratio) -> String {
    match r.percent() {
        Some(p) => format!("{p:.1}%（{}/{}）", r.count, r.of),
        None => "—（无数据）".to_owned(),
    }
}

/// A signal badge: the word and its colour class (never the colour alone).
pub fn signal_badge(level: Option<yichuang_core::machine::sla::SlaLevel>) -> Markup {
    let class = words::level_class(level);
    let word = level.map_or("未计时", words::level);
    html! { span class={ "signal " (class) } { (word) } }
}
