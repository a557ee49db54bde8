//! 掌上办: the applicant's own page, laid out for a phone (390 × 844): my cases, their state and
//! due dates, what is still missing, the rating (好差评, 1–5 stars), the complaint form
//! (吐槽找茬), and the tickets about my cases with what was done (反馈). Also the ticket page,
//! readable by staff and by the applicant of the case it is about (as `GET /v1/tickets/{id}`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use yichuang_core::definition::DepartmentKind;
use yichuang_core::{CaseState, ComplaintTarget, Id, Role, StreamId, TicketSource};

use crate::api::App;
use crate::writer::Target;

use super::form::FormBody;
use super::views::CaseView;
use super::{
    Viewer, after_command, api_error_page, command, csrf_field, days_text, error_page, html_response, local_path,
    shell, signal_badge, words,
};

/// `GET /my`.
pub async fn page(State(app): State<App>, viewer: Viewer) -> Response {
    let actor = viewer.actor.clone();
    let cases = match app.view(move |read| read.my_cases(&actor)).await {
        Ok(c) => c,
        Err(e) => return api_error_page(Some(&viewer), &e),
    };
    let content = render(&app, &viewer, &cases);
    html_response(StatusCode::OK, shell(&app, Some(&viewer), "我的办件", "phone", content))
}

fn render(app: &App, viewer: &Viewer, cases: &[CaseView]) -> Markup {
    let def = &app.inner().def;
    html! {
        h1 { "我的办件" }
        div #mine data-live="mine" {
            @if cases.is_empty() { p.empty { "您还没有办件。" } }
            @for c in cases {
                article.card data-case=(c.id) aria-labelledby={ "h-" (c.id) } {
                    h2 id={ "h-" (c.id) } { (c.bundle_name) }
                    p.meta { "办件编号 " a href={ "/cases/" (c.id) } { (c.id) } " · " span.state { (words::case_state(c.state)) } }
                    @if let Some(d) = c.deadline {
                        p { "承诺办结：" time { (d) } " " (signal_badge(c.level))
                            @if c.days_left.is_some() { " " span.small { (days_text(c.days_left)) } } }
                    }
                    @if !c.missing.is_empty() {
                        p.warn { "还缺材料：" (c.missing.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join("、")) }
                    }
                    @if c.state == CaseState::AwaitingCorrection && !c.correction.is_empty() {
                        p.warn { "请补正：" (words::materials(def, &c.correction)) }
                    }
                    @if !c.outstanding.is_empty() {
                        p.warn { "容缺材料待补齐：" (c.outstanding.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join("、"))
                            @if let Some(d) = c.cure_due { "（" time { (d) } " 前）" } }
                    }
                    ul.progress {
                        @for t in c.tasks.iter().filter(|t| t.state != yichuang_core::TaskState::NotApplicable) {
                            li { (t.name) "：" (words::task_state(t.state)) }
                        }
                    }
                    @if c.state == CaseState::Delivered && c.rating.is_none() {
                        (rate_form(viewer, c))
                    }
                    @if let Some(s) = c.rating { p { "您的评价：" (s) " 星（" (words::stars(s)) "）" } }
                    @for t in &c.tickets {
                        p.ticket { "问题 " a href={ "/tickets/" (t.id) } { (t.id) } "：" (t.source) "，" (t.department_name) "办理，"
                            span.state { (words::ticket_state(t.state)) } }
                    }
                }
            }
        }
        (complaint_form(app, viewer, cases))
    }
}

fn rate_form(viewer: &Viewer, c: &CaseView) -> Markup {
    html! {
        form.rate method="post" action={ "/cases/" (c.id) "/act" } {
            (csrf_field(viewer))
            input type="hidden" name="command" value="rate";
            input type="hidden" name="expected_version" value=(c.version);
            input type="hidden" name="back" value="/my";
            fieldset {
                legend { "请为本次服务评价（好差评）" }
                div.stars {
                    @for n in (1..=5u8).rev() {
                        @let id = format!("stars-{}-{n}", c.id);
                        span.star {
                            input id=(id) type="radio" name="stars" value=(n) required;
                            label for=(id) { (n) " 星 " (words::stars(n)) }
                        }
                    }
                }
                button type="submit" data-act="rate" { "提交评价" }
            }
        }
    }
}

fn complaint_form(app: &App, viewer: &Viewer, cases: &[CaseView]) -> Markup {
    let def = &app.inner().def;
    html! {
        section.card aria-labelledby="h-complain" {
            h2 #h-complain { "吐槽找茬" }
            p.small { "对窗口、部门或办事流程有意见，请告诉我们。关联办件后，可在此跟踪处理进度。" }
            form.complain method="post" action="/my/complaints" {
                (csrf_field(viewer))
                input type="hidden" name="key" value=(super::session::random_hex().unwrap_or_default());
                label for="complaint-department" { "涉及部门" }
                select #complaint-department name="department" required {
                    @for d in def.departments().iter().filter(|d| d.kind != DepartmentKind::Supervision) {
                        option value=(d.id) { (d.name) }
                    }
                }
                label for="complaint-case" { "关联办件" }
                select #complaint-case name="case" {
                    @for c in cases { option value=(c.id) { (c.id) " " (c.bundle_name) } }
                    option value="" { "不关联办件（无法在此跟踪）" }
                }
                label for="complaint-text" { "意见内容" }
                textarea #complaint-text name="text" required maxlength="1000" rows="4" {}
                button type="submit" data-act="complain" { "提交" }
            }
        }
    }
}

/// `POST /my/complaints`: a complaint (吐槽找茬) against a department, optionally about one of
/// the person's cases (anyone may complain; an applicant may link only their own case).
pub async fn complain(
    State(app): State<App>,
    viewer: Viewer,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Response {
    if let Err(r) = viewer.check(&headers, &form) {
        return r;
    }
    let Some(text) = form.text("text") else {
        return error_page(Some(&viewer), StatusCode::BAD_REQUEST, "表单有误", "请填写意见内容。");
    };
    let Some(department) = form.text("department") else {
        return error_page(Some(&viewer), StatusCode::BAD_REQUEST, "表单有误", "请选择涉及的部门。");
    };
    let case = match form.text("case") {
        None => None,
        Some(c) => match super::case::case_id(&viewer, c) {
            Ok(id) => Some(id),
            Err(r) => return r,
        },
    };
    let source = TicketSource::Complaint {
        target: ComplaintTarget::Department(Id::new(department)),
        case,
        text: text.to_owned(),
    };
    let key = form.text("key").map(|k| {
        let fingerprint = crate::api::fnv1a(&[b"POST", b"/my/complaints", k.as_bytes()]);
        (format!("web-complaint-{k}"), fingerprint)
    });
    let reply = command(&app, &viewer, Target::OpenTicket(source), None, key).await;
    let back = if viewer.actor.role == Role::Applicant { "/my" } else { local_path(form.get("back").unwrap_or("/")) };
    let done = match &reply {
        Ok(r) if r.error.is_none() => {
            let id = serde_json::from_str::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("已收到您的意见，问题编号 {id}。")
        }
        _ => String::new(),
    };
    after_command(&app, &viewer, reply, &done, back)
}

/// `GET /tickets/{id}`: a ticket and what happened to it.
pub async fn ticket(State(app): State<App>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let id = match crate::wire::ticket_path(&id) {
        Ok(id) => id,
        Err(e) => return api_error_page(Some(&viewer), &e),
    };
    let actor = viewer.actor.clone();
    let t = match app.view(move |read| read.ticket_view(&actor, id)).await {
        Ok(t) => t,
        Err(e) => return api_error_page(Some(&viewer), &e),
    };
    let stream = StreamId::Ticket(id);
    let events = match app.read(move |log| log.read_stream(stream)).await {
        Ok(events) => events.iter().map(|e| e.event.record().clone()).collect::<Vec<_>>(),
        Err(e) => return api_error_page(Some(&viewer), &e),
    };
    let def = &app.inner().def;
    let content = html! {
        h1 { "问题 " (t.id) }
        div #ticket data-live="ticket" data-stream=(t.id) {
            dl.summary {
                div { dt { "来源" } dd { (t.source) } }
                @if let Some(text) = &t.text { div { dt { "内容" } dd { (text) } } }
                @if let Some(c) = &t.case { div { dt { "关联办件" } dd { a href={ "/cases/" (c) } { (c) } } } }
                div { dt { "责任部门" } dd { (t.department_name) } }
                div { dt { "处置阶段" } dd #ticket-state { (words::ticket_state(t.state)) } }
                div { dt { "督办等级" } dd { (words::escalation(t.escalation)) } }
                @if let Some(d) = t.deadline { div { dt { "当前期限" } dd { time { (d) } } } }
            }
            h2 { "处理过程" }
            (super::case::timeline(def, &events))
        }
    };
    let class = if viewer.actor.role == Role::Applicant { "ticket phone" } else { "ticket" };
    html_response(StatusCode::OK, shell(&app, Some(&viewer), &format!("问题 {}", t.id), class, content))
}
