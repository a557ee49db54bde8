//! The case page (办件详情): what happened, in words; the Gantt of its tasks; its materials
//! (容缺 outstanding with the cure date, what is still missing); the one-time notice
//! (一次性告知); the intake and delivery actions a clerk takes; and the print-friendly acceptance
//! notice (受理通知书) with every member's due date.
//!
//! Readable by the hall's staff and by the case's applicant, exactly as `GET /v1/cases/{id}`
//! (anyone else gets the same "not found" as for a case that does not exist).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use yichuang_core::definition::Definition;
use yichuang_core::{
    Actor, CaseId, CaseState, Command, Date, DeliveryMethod, Event, Id, Instant, Recorded, Role, StreamId,
};

use crate::api::App;
use crate::writer::Target;

use super::form::{Form, FormBody};
use super::views::CaseView;
use super::{
    Viewer, after_command, api_error_page, command, csrf_field, days_text, error_page, gantt, html_response,
    local_path, shell, signal_badge, words,
};

/// A case id from a page path, or a "not found" page.
pub fn case_id(viewer: &Viewer, text: &str) -> Result<CaseId, Response> {
    crate::wire::case_path(text).map_err(|e| api_error_page(Some(viewer), &e))
}

/// The case as `viewer` may see it, with its events in order and the hall time of the view.
pub async fn load(app: &App, viewer: &Viewer, id: CaseId) -> Result<(CaseView, Vec<Recorded>, Instant), Response> {
    let actor = viewer.actor.clone();
    let (view, now) = app
        .view(move |read| Ok((read.case_view(&actor, id)?, read.now)))
        .await
        .map_err(|e| api_error_page(Some(viewer), &e))?;
    let stream = StreamId::Case(id);
    let events = app
        .read(move |log| log.read_stream(stream))
        .await
        .map_err(|e| api_error_page(Some(viewer), &e))?
        .iter()
        .map(|e| e.event.record().clone())
        .collect();
    Ok((view, events, now))
}

/// The form answers of the case's submission.
pub fn answers(events: &[Recorded]) -> BTreeMap<String, String> {
    events
        .iter()
        .find_map(|r| match &r.event {
            Event::Submitted { answers, .. } => Some((**answers).clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// `GET /cases/{id}`.
pub async fn page(State(app): State<App>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let id = match case_id(&viewer, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let (view, events, now) = match load(&app, &viewer, id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let content = render(&app, &viewer, &view, &events, now);
    let phone = if viewer.actor.role == Role::Applicant { "case phone" } else { "case" };
    html_response(StatusCode::OK, shell(&app, Some(&viewer), &format!("办件 {}", view.id), phone, content))
}

fn dl_row(term: &str, value: Markup) -> Markup {
    html! { div { dt { (term) } dd { (value) } } }
}

/// The case's content.
pub fn render(app: &App, viewer: &Viewer, c: &CaseView, events: &[Recorded], now: Instant) -> Markup {
    let def = &app.inner().def;
    let answers = answers(events);
    let bundle = def.bundle_ix(&c.bundle).map(|b| def.bundle(b));
    let notice = bundle.and_then(|b| b.plan(def, c.accepted_as_of.unwrap_or(now.date()), &answers).ok());
    html! {
        h1 { "办件 " (c.id) " · " (c.bundle_name) }
        div #case data-live="case" data-stream=(c.id) {
            dl.summary {
                (dl_row("申请人", html! { (c.applicant_name) " (" (c.applicant_id) ")" }))
                (dl_row("办件状态", html! { span #case-state { (words::case_state(c.state)) } }))
                @if let Some(w) = &c.window { (dl_row("受理窗口", html! { (w) })) }
                @if let Some(r) = c.received_at { (dl_row("收件时间", html! { time { (r) } })) }
                @if let Some(a) = c.accepted_as_of { (dl_row("受理日期", html! { time { (a) } })) }
                @if let Some(d) = c.deadline {
                    (dl_row("承诺办结时间", html! { time { (d) } " " (signal_badge(c.level)) " " (days_text(c.days_left)) }))
                }
                @if let Some(o) = c.outcome { (dl_row("办结结果", html! { (words::outcome(o)) })) }
                @if let Some(d) = c.delivered_at { (dl_row("出件时间", html! { time { (d) } })) }
                @if let Some(s) = c.rating { (dl_row("评价", html! { (s) " 星（" (words::stars(s)) "）" })) }
                (dl_row("跑动次数", html! { (c.trips) }))
            }
            @if c.accepted_as_of.is_some() {
                p { a href={ "/cases/" (c.id) "/notice" } { "受理通知书（可打印）" } }
            }
            (actions(def, viewer, c))
            section aria-labelledby="h-materials" {
                h2 #h-materials { "材料" }
                @if !c.outstanding.is_empty() {
                    p.warn { "容缺受理，以下材料尚未补齐"
                        @if let Some(d) = c.cure_due { "，补齐期限 " time #cure-due { (d) } } "：" }
                    ul #outstanding { @for m in &c.outstanding { li { (m.name) } } }
                }
                @if !c.missing.is_empty() {
                    p.warn { "受理前仍缺少以下材料：" }
                    ul #missing { @for m in &c.missing { li { (m.name) "（" (words::need(m.need)) "）" } } }
                }
                @if !c.correction.is_empty() {
                    p { "补正告知所列材料：" (words::materials(def, &c.correction)) }
                }
                @if c.outstanding.is_empty() && c.missing.is_empty() { p { "材料齐全。" } }
            }
            @if let Some(plan) = &notice {
                section aria-labelledby="h-notice" {
                    h2 #h-notice { "一次性告知" }
                    p { "本件适用事项所需材料（合并去重，按最严格要求）：" }
                    table.notice {
                        thead { tr { th scope="col" { "材料" } th scope="col" { "要求" } th scope="col" { "来源" } } }
                        tbody { @for line in &plan.materials {
                            tr {
                                td { (line.name) }
                                td { (words::need(line.need)) }
                                td { @match &line.shared_source { Some(s) => { span.shared { "免提交" } "（数据共享：" (s) "）" }, None => "申请人提交" } }
                            }
                        } }
                    }
                }
            }
            section aria-labelledby="h-gantt" {
                h2 #h-gantt { "审批任务甘特图" }
                (gantt::chart(def.calendar(), c, events, now))
            }
            section aria-labelledby="h-tasks" {
                h2 #h-tasks { "审批任务" }
                div.scroll { table.tasks {
                    thead { tr {
                        th scope="col" { "事项" } th scope="col" { "办理部门" } th scope="col" { "状态" } th scope="col" { "审批人员" }
                        th scope="col" { "时限状态" } th scope="col" { "承诺时限" } th scope="col" { "剩余" } th scope="col" { "前置事项" }
                    } }
                    tbody { @for t in &c.tasks {
                        tr data-item=(t.item) {
                            th scope="row" { (t.name) }
                            td { (t.department_names.join("、")) }
                            td { (words::task_state(t.state)) @if let Some(k) = t.special { "（" (words::special(k)) "）" } }
                            td { (t.reviewer.as_ref().map_or("—", |r| r.as_str())) }
                            td { (signal_badge(t.level)) }
                            td { @if let Some(d) = t.due { time { (d) } } @else { "—" } }
                            td.num { (days_text(t.days_left)) }
                            td { @if t.after.is_empty() { "—" } @else { (t.after.iter().map(|a| words::item_name(def, a)).collect::<Vec<_>>().join("、")) } }
                        }
                    } }
                } }
            }
            @if !c.tickets.is_empty() {
                section aria-labelledby="h-case-tickets" {
                    h2 #h-case-tickets { "相关问题" }
                    ul { @for t in &c.tickets {
                        li { a href={ "/tickets/" (t.id) } { (t.id) } "：" (t.source) "，" (t.department_name) "，" (words::ticket_state(t.state))
                            @if t.escalation > 0 { "，" (words::escalation(t.escalation)) } }
                    } }
                }
            }
            section aria-labelledby="h-timeline" {
                h2 #h-timeline { "办理过程" }
                (timeline(def, events))
            }
        }
    }
}

/// Every event, in order: time, who, what happened.
pub fn timeline(def: &Definition, events: &[Recorded]) -> Markup {
    html! {
        ol.timeline {
            @for r in events {
                li data-event=(r.event.name()) {
                    time { (r.at) }
                    span.actor { (words::actor(def, &r.by)) }
                    span.what { (words::event(def, &r.event)) }
                }
            }
        }
    }
}

fn is_clerk_of(def: &Definition, actor: &Actor, class: yichuang_core::definition::WindowClass) -> bool {
    match &actor.role {
        Role::Clerk { window } => def.window(window).is_some_and(|w| w.class == class),
        _ => false,
    }
}

/// The forms a person can use on this case now (the engine decides whether they may).
fn actions(def: &Definition, viewer: &Viewer, c: &CaseView) -> Markup {
    use yichuang_core::definition::WindowClass;
    let intake = is_clerk_of(def, &viewer.actor, WindowClass::Intake);
    let delivery = is_clerk_of(def, &viewer.actor, WindowClass::Delivery);
    let applicant = viewer.actor.role == Role::Applicant;
    let action = format!("/cases/{}/act", c.id);
    let hidden = html! {
        (csrf_field(viewer))
        input type="hidden" name="expected_version" value=(c.version);
        input type="hidden" name="back" value={ "/cases/" (c.id) };
    };
    html! {
        @if intake && c.state == CaseState::Received {
            section.actions aria-labelledby="h-intake" {
                h2 #h-intake { "受理决定" }
                @if c.missing.is_empty() {
                    form method="post" action=(action) {
                        (hidden)
                        input type="hidden" name="command" value="accept";
                        button #accept type="submit" { "受理" }
                    }
                } @else {
                    p { "仍缺材料，不能直接受理：可容缺受理（仅缺容缺材料时）或一次性告知补正。" }
                }
                form method="post" action=(action) {
                    (hidden)
                    input type="hidden" name="command" value="accept_tolerating";
                    label for="cure-due" { "容缺受理，补齐期限" }
                    input #cure-due type="date" name="cure_due" required value=(c.latest_cure_date.map(|d| d.to_string()).unwrap_or_default())
                        max=(c.latest_cure_date.map(|d| d.to_string()).unwrap_or_default());
                    button #accept-tolerating type="submit" { "容缺受理" }
                }
                form method="post" action=(action) {
                    (hidden)
                    input type="hidden" name="command" value="request_correction";
                    button #request-correction type="submit" { "一次性告知补正" }
                }
                form method="post" action=(action) {
                    (hidden)
                    input type="hidden" name="command" value="reject";
                    label for="reject-reason" { "不予受理理由" }
                    input #reject-reason type="text" name="reason" required maxlength="500";
                    button type="submit" { "不予受理" }
                }
            }
        }
        @if intake && c.state == CaseState::AwaitingCorrection {
            section.actions aria-labelledby="h-resubmit" {
                h2 #h-resubmit { "补正后重新提交" }
                form method="post" action=(action) {
                    (hidden)
                    input type="hidden" name="command" value="resubmit";
                    fieldset {
                        legend { "本次补交的材料" }
                        @for m in &c.correction {
                            div { input type="checkbox" name="materials" value=(m) id={ "re-" (m) } checked;
                                  label for={ "re-" (m) } { (words::material_name(def, m)) } }
                        }
                    }
                    button type="submit" { "提交补正材料" }
                }
            }
        }
        @if (intake || delivery || applicant) && !c.outstanding.is_empty() && !c.state.is_final() {
            section.actions aria-labelledby="h-supply" {
                h2 #h-supply { "补齐容缺材料" }
                form method="post" action=(action) {
                    (hidden)
                    input type="hidden" name="command" value="supply";
                    label for="supply-material" { "材料" }
                    select #supply-material name="material" {
                        @for m in &c.outstanding { option value=(m.id) { (m.name) } }
                    }
                    button type="submit" { "已补齐" }
                }
            }
        }
        @if delivery && c.state == CaseState::ReadyForDelivery {
            section.actions aria-labelledby="h-deliver" {
                h2 #h-deliver { "统一出件" }
                form method="post" action=(action) {
                    (hidden)
                    input type="hidden" name="command" value="deliver";
                    label for="deliver-method" { "出件方式" }
                    select #deliver-method name="method" {
                        option value="Window" { "统一出件窗口" }
                        option value="Post" { "邮寄送达" }
                        option value="Electronic" { "电子证照" }
                    }
                    button #deliver type="submit" { "一并出件" }
                }
            }
        }
    }
}

/// `POST /cases/{id}/act`: a case command from a page form.
pub async fn act(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Response {
    if let Err(r) = viewer.check(&headers, &form) {
        return r;
    }
    let id = match case_id(&viewer, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let back = local_path(form.get("back").unwrap_or("/")).to_owned();
    let (cmd, done) = match case_command(&form) {
        Ok(c) => c,
        Err(text) => return error_page(Some(&viewer), StatusCode::BAD_REQUEST, "表单有误", &text),
    };
    let reply = command(&app, &viewer, Target::Case(id, cmd), form.version(), None).await;
    after_command(&app, &viewer, reply, &done, &back)
}

/// The case command of a form, with what to say when it is done; or what is wrong with the form.
pub fn case_command(form: &Form) -> Result<(Command, String), String> {
    let date = |key: &str| -> Result<Date, String> {
        form.text(key).and_then(|d| d.parse().ok()).ok_or_else(|| "请填写日期（年-月-日）。".to_owned())
    };
    let required = |key: &str, what: &str| -> Result<String, String> {
        form.text(key).map(str::to_owned).ok_or_else(|| format!("请填写{what}。"))
    };
    Ok(match form.get("command").unwrap_or_default() {
        "accept" => (Command::Accept, "已受理。".to_owned()),
        "accept_tolerating" => {
            let cure_due = date("cure_due")?;
            (Command::AcceptTolerating { cure_due }, format!("已容缺受理，补齐期限 {cure_due}。"))
        }
        "request_correction" => (Command::RequestCorrection, "已出具一次性补正告知。".to_owned()),
        "reject" => (Command::Reject { reason: required("reason", "不予受理理由")? }, "已不予受理。".to_owned()),
        "resubmit" => {
            let materials: Vec<Id> = form.all("materials").into_iter().map(Id::new).collect();
            (Command::Resubmit { materials }, "已收到补正材料。".to_owned())
        }
        "supply" => (Command::Supply { material: Id::new(&required("material", "材料")?) }, "已补齐材料。".to_owned()),
        "deliver" => {
            let method = match form.get("method").unwrap_or_default() {
                "Window" => DeliveryMethod::Window,
                "Post" => DeliveryMethod::Post,
                "Electronic" => DeliveryMethod::Electronic,
                _ => return Err("请选择出件方式。".to_owned()),
            };
            (Command::Deliver { method }, "已一并出件。".to_owned())
        }
        "rate" => {
            let stars = form.text("stars").and_then(|s| s.parse::<u8>().ok()).filter(|s| (1..=5).contains(s));
            let Some(stars) = stars else { return Err("请选择 1 到 5 星。".to_owned()) };
            (Command::Rate { stars }, format!("感谢评价：{stars} 星。"))
        }
        "withdraw" => (Command::Withdraw, "已撤回申请。".to_owned()),
        other => return Err(format!("未知的操作“{}”。", crate::wire::shortened(other))),
    })
}

/// `GET /cases/{id}/notice`: the acceptance notice (受理通知书), laid out for printing.
pub async fn notice(State(app): State<App>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let id = match case_id(&viewer, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let (c, events, _) = match load(&app, &viewer, id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let def = &app.inner().def;
    let Some(as_of) = c.accepted_as_of else {
        return error_page(Some(&viewer), StatusCode::CONFLICT, "尚未受理", "本件尚未受理，没有受理通知书。");
    };
    let answers = answers(&events);
    let plan = def.bundle_ix(&c.bundle).and_then(|b| def.bundle(b).plan(def, as_of, &answers).ok());
    let content = html! {
        article.notice-sheet {
            h1 { (def.name()) }
            h2 { "受理通知书" }
            p.number { "办件编号：" (c.id) }
            p { (c.applicant_name) "：" }
            p.body { "您于 " (c.received_at.map(|r| r.to_string()).unwrap_or_default()) " 提交的“" (c.bundle_name)
                "”申请，经审查，材料齐全、符合法定形式（或已按容缺受理办理），本机关决定予以受理，受理日期为 "
                strong { (as_of) } "。各事项承诺办结时限如下（以工作日计，法定节假日顺延）：" }
            table.members {
                thead { tr { th scope="col" { "事项" } th scope="col" { "办理部门" } th scope="col" { "承诺时限" } th scope="col" { "计划办结日期" } th scope="col" { "当前承诺时限" } } }
                tbody {
                    @if let Some(plan) = &plan {
                        @for m in plan.members.iter().filter(|m| m.applies) {
                            @let task = c.tasks.iter().find(|t| t.item.as_str() == m.item);
                            tr data-item=(m.item) {
                                td { (m.name) } td { (m.departments.join("、")) } td.num { (m.promised_days) " 个工作日" }
                                td { time { (m.due) } }
                                td { @match task.and_then(|t| t.due) { Some(d) => time { (d) }, None => "自开始办理起计算" } }
                            }
                        }
                    }
                }
            }
            @if let Some(plan) = &plan {
                p { "一件事承诺时限 " (plan.promised_days) " 个工作日，最迟于 " strong #promised-due { (plan.promised_due) } " 办结。" }
            }
            @if !c.outstanding.is_empty() {
                p.warn { "容缺材料：" (c.outstanding.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join("、"))
                    @if let Some(d) = c.cure_due { "，请于 " (d) " 前补齐" } "。" }
            }
            p { "受理窗口：" (c.window.as_deref().unwrap_or("—")) "。请凭本通知书办理查询和领取，结果将在统一出件窗口一并送达。" }
            p.no-print { button #print type="button" data-print="1" { "打印" } " " a href={ "/cases/" (c.id) } { "返回办件" } }
        }
    };
    html_response(StatusCode::OK, shell(&app, Some(&viewer), &format!("受理通知书 {}", c.id), "notice", content))
}
