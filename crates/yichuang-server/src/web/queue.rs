//! 部门待办: a department's queue of Ready, InReview and SpecialProcedure tasks, least time left
//! first, with the reviewer's actions: claim (认领), approve (准予, or sign a countersign),
//! deny with a reason (不予), start and end a special procedure (特别程序, which stops the
//! clock). Readable by the hall's staff (as `GET /v1/departments/{department}/tasks`); a
//! reviewer's commands are authorized by the engine (本部门办理, 受审分离 …).
//!
//! The review levels, returns and transfers of the approval-operations issue are not in the
//! engine yet; their buttons come with them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use yichuang_core::{Command, Id, Role, SpecialProcedureKind, TaskCommand, TaskState};

use crate::api::App;
use crate::writer::Target;

use super::form::{Form, FormBody};
use super::views::{QueueRow, QueueView};
use super::{
    Viewer, after_command, api_error_page, command, csrf_field, days_text, error_page, html_response, local_path,
    shell, signal_badge, words,
};

/// `GET /departments/{department}/queue`.
pub async fn page(State(app): State<App>, viewer: Viewer, Path(department): Path<String>) -> Response {
    let actor = viewer.actor.clone();
    let asked = department.clone();
    match app.view(move |read| read.queue(&actor, &asked)).await {
        Ok(queue) => {
            let content = render(&app, &viewer, &queue);
            html_response(StatusCode::OK, shell(&app, Some(&viewer), &format!("{} 待办", queue.name), "queue", content))
        }
        Err(e) => api_error_page(Some(&viewer), &e),
    }
}

/// The queue's content.
pub fn render(app: &App, viewer: &Viewer, q: &QueueView) -> Markup {
    let def = &app.inner().def;
    let own = matches!(&viewer.actor.role, Role::Reviewer { department } if *department == q.department);
    html! {
        h1 { (q.name) " · 部门待办" }
        @if !own {
            details.pick {
                summary { "查看其他部门" }
                ul { @for d in def.departments() { li { a href={ "/departments/" (d.id) "/queue" } { (d.name) } } } }
            }
            p.hint { "只有本部门审批人员可以办理本部门任务（本部门办理）。" }
        }
        div #queue data-live="queue" {
            @if q.rows.is_empty() {
                p.empty { "目前没有待办或审查中的任务。" }
            } @else {
                p { "共 " (q.rows.len()) " 项，剩余时间最少的在前。" }
                div.scroll {
                    table.queue {
                        thead { tr {
                            th scope="col" { "办件" } th scope="col" { "事项" } th scope="col" { "申请人" } th scope="col" { "状态" }
                            th scope="col" { "时限状态" } th scope="col" { "承诺时限" } th scope="col" { "剩余" } th scope="col" { "办理" }
                        } }
                        tbody {
                            @for r in &q.rows { (row(viewer, &q.department, r)) }
                        }
                    }
                }
            }
        }
    }
}

fn row(viewer: &Viewer, department: &Id, r: &QueueRow) -> Markup {
    let t = &r.task;
    let action = format!("/cases/{}/tasks/{}/act", r.case, t.item);
    let key = format!("{}-{}", r.case, t.item);
    let hidden = html! {
        (csrf_field(viewer))
        input type="hidden" name="expected_version" value=(r.case_version);
        input type="hidden" name="back" value={ "/departments/" (department) "/queue" };
    };
    html! {
        tr data-case=(r.case) data-item=(t.item) data-state=(t.state.name()) {
            th scope="row" { a href={ "/cases/" (r.case) } { (r.case) } br; span.small { (r.bundle) } }
            td { (t.name) }
            td { (r.applicant) }
            td { (words::task_state(t.state)) @if let Some(k) = t.special { "（" (words::special(k)) "）" }
                 @if let Some(rv) = &t.reviewer { br; span.small { "认领人 " (rv) } } }
            td { (signal_badge(t.level)) }
            td { @if let Some(d) = t.due { time { (d) } } @else { "—" } }
            td.num { (days_text(t.days_left)) }
            td.acts {
                @match t.state {
                    TaskState::Ready => {
                        form method="post" action=(action) {
                            (hidden) input type="hidden" name="command" value="claim";
                            button type="submit" data-act="claim" aria-label={ "认领 " (r.case) " " (t.name) } { "认领" }
                        }
                    }
                    TaskState::InReview => {
                        form method="post" action=(action) {
                            (hidden) input type="hidden" name="command" value="approve";
                            button type="submit" data-act="approve" aria-label={ "准予 " (r.case) " " (t.name) } { "准予" }
                        }
                        details {
                            summary { "不予许可" }
                            form method="post" action=(action) {
                                (hidden) input type="hidden" name="command" value="deny";
                                label for={ "deny-" (key) } { "不予理由（必填）" }
                                textarea id={ "deny-" (key) } name="reason" required maxlength="1000" rows="2" {}
                                button type="submit" data-act="deny" { "不予" }
                            }
                        }
                        details {
                            summary { "特别程序" }
                            form method="post" action=(action) {
                                (hidden) input type="hidden" name="command" value="start_special_procedure";
                                label for={ "kind-" (key) } { "程序" }
                                select id={ "kind-" (key) } name="kind" {
                                    @for (kind, name) in words::SPECIAL_PROCEDURES { option value=(name) { (words::special(kind)) } }
                                }
                                button type="submit" data-act="special" { "开始（暂停计时）" }
                            }
                        }
                    }
                    TaskState::SpecialProcedure => {
                        form method="post" action=(action) {
                            (hidden) input type="hidden" name="command" value="end_special_procedure";
                            button type="submit" data-act="end-special" { "特别程序结束（恢复计时）" }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The task command of a form, with what to say when it is done.
pub fn task_command(form: &Form) -> Result<(TaskCommand, &'static str), String> {
    Ok(match form.get("command").unwrap_or_default() {
        "claim" => (TaskCommand::Claim, "已认领。"),
        "approve" => (TaskCommand::Approve, "已准予。"),
        "deny" => {
            let Some(reason) = form.text("reason") else { return Err("请填写不予许可的理由。".to_owned()) };
            (TaskCommand::Deny { reason: reason.to_owned() }, "已不予许可。")
        }
        "start_special_procedure" => {
            let kind = form.get("kind").unwrap_or_default();
            let Some((kind, _)) = words::SPECIAL_PROCEDURES.iter().find(|(_, n)| *n == kind) else {
                return Err("请选择特别程序的种类。".to_owned());
            };
            let kind: SpecialProcedureKind = *kind;
            (TaskCommand::StartSpecialProcedure { kind }, "已进入特别程序，计时暂停。")
        }
        "end_special_procedure" => (TaskCommand::EndSpecialProcedure, "特别程序结束，恢复计时。"),
        other => return Err(format!("未知的操作“{}”。", crate::wire::shortened(other))),
    })
}

/// `POST /cases/{id}/tasks/{item}/act`: a task command from the queue.
pub async fn act(
    State(app): State<App>,
    viewer: Viewer,
    Path((id, item)): Path<(String, String)>,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Response {
    if let Err(r) = viewer.check(&headers, &form) {
        return r;
    }
    let id = match super::case::case_id(&viewer, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let back = local_path(form.get("back").unwrap_or("/")).to_owned();
    let (action, done) = match task_command(&form) {
        Ok(c) => c,
        Err(text) => return error_page(Some(&viewer), StatusCode::BAD_REQUEST, "表单有误", &text),
    };
    let target = Target::Case(id, Command::Task { item: Id::new(&item), action });
    let reply = command(&app, &viewer, target, form.version(), None).await;
    after_command(&app, &viewer, reply, done, &back)
}
