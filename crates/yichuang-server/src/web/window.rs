//! 综合受理: the window's page. A clerk chooses a 一件事, fills in the one merged form generated
//! from the definition (一表申请), ticks the materials received against the one merged list
//! (免提交 items marked: data sharing fetches them), and submits; the case page then offers the
//! intake decision (受理, 容缺受理, 补正告知, 不予受理) and the acceptance notice.
//!
//! Which members apply, and so which materials are needed and when each member is due, comes
//! from the core's own plan of the bundle ([`yichuang_core::definition::Bundle::plan`]) for the
//! answers given: the page asks the server again whenever a choice changes (the script swaps
//! the plan in place; without it, the "更新" button does the same), so the rules exist once.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use yichuang_core::definition::{Bundle, Definition, MaterialNeed};
use yichuang_core::{Applicant, Channel, Command, Date, Id, Submission};

use crate::api::App;
use crate::writer::Target;

use super::form::{Form, FormBody};
use super::{
    Viewer, after_command, api_error_page, command, csrf_field, html_response, refusal, session, shell, words,
};

/// `GET /window`: choose a 一件事; the cases awaiting an intake decision.
pub async fn choose(State(app): State<App>, viewer: Viewer) -> Response {
    let actor = viewer.actor.clone();
    let waiting = match app.view(move |read| read.awaiting_intake(&actor)).await {
        Ok(w) => w,
        Err(e) => return api_error_page(Some(&viewer), &e),
    };
    let def = &app.inner().def;
    let content = html! {
        h1 { "综合受理" }
        section aria-labelledby="h-bundles" {
            h2 #h-bundles { "选择一件事" }
            ul.bundles {
                @for b in def.bundles() {
                    li {
                        a href={ "/window/" (b.id) } { (b.name) }
                        span.small { " 牵头部门：" (def.department(b.lead).name) "；承诺 " (b.promised_days) " 个工作日；"
                            (b.members.len()) " 个事项" @if b.high_frequency { "；高频" } }
                    }
                }
            }
        }
        section aria-labelledby="h-waiting" {
            h2 #h-waiting { "待受理的办件" }
            div #waiting data-live="waiting" {
                @if waiting.is_empty() { p.empty { "没有待受理的办件。" } } @else {
                    table {
                        thead { tr { th scope="col" { "办件" } th scope="col" { "一件事" } th scope="col" { "申请人" } th scope="col" { "状态" } th scope="col" { "收件时间" } } }
                        tbody { @for w in &waiting {
                            tr { th scope="row" { a href={ "/cases/" (w.id) } { (w.id) } } td { (w.bundle) } td { (w.applicant) }
                                 td { (words::case_state(w.state)) } td { @if let Some(r) = w.received_at { time { (r) } } } }
                        } }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, shell(&app, Some(&viewer), "综合受理", "window", content))
}

/// What the clerk has entered so far.
#[derive(Debug, Clone, Default)]
pub struct Entered {
    applicant_id: String,
    applicant_name: String,
    answers: BTreeMap<String, String>,
    materials: Vec<String>,
    green_channel: bool,
    key: String,
}

impl Entered {
    fn from_form(form: &Form) -> Entered {
        Entered {
            applicant_id: form.get("applicant_id").unwrap_or_default().trim().to_owned(),
            applicant_name: form.get("applicant_name").unwrap_or_default().trim().to_owned(),
            answers: form.prefixed("f.").into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            materials: form.all("materials").into_iter().map(str::to_owned).collect(),
            green_channel: form.get("green_channel") == Some("1"),
            key: form.get("key").unwrap_or_default().to_owned(),
        }
    }
}

fn bundle_of<'d>(def: &'d Definition, viewer: &Viewer, id: &str) -> Result<&'d Bundle, Response> {
    def.bundle_ix(id).map(|b| def.bundle(b)).ok_or_else(|| {
        let known: Vec<&str> = def.bundles().iter().map(|b| b.id.as_str()).collect();
        api_error_page(
            Some(viewer),
            &crate::error::ApiError::not_found(format!(
                "unknown 一件事 `{}`; the hall has {}",
                crate::wire::shortened(id),
                known.join(", ")
            )),
        )
    })
}

/// `GET /window/{bundle}`: the empty merged form.
pub async fn form(State(app): State<App>, viewer: Viewer, Path(bundle): Path<String>) -> Response {
    let def = &app.inner().def;
    let b = match bundle_of(def, &viewer, &bundle) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let today = match app.view(|read| Ok(read.now)).await {
        Ok(now) => now.date(),
        Err(e) => return api_error_page(Some(&viewer), &e),
    };
    let entered = Entered { key: session::random_hex().unwrap_or_default(), ..Entered::default() };
    let content = render(def, &viewer, b, &entered, today, None);
    html_response(StatusCode::OK, shell(&app, Some(&viewer), &b.name, "window", content))
}

/// `POST /window/{bundle}`: `action=preview` shows the form again for the answers given (the
/// members that apply, the materials, the due dates); `action=submit` submits the application.
pub async fn post(
    State(app): State<App>,
    viewer: Viewer,
    Path(bundle): Path<String>,
    headers: HeaderMap,
    FormBody(form): FormBody,
) -> Response {
    if let Err(r) = viewer.check(&headers, &form) {
        return r;
    }
    let def = &app.inner().def;
    let b = match bundle_of(def, &viewer, &bundle) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let today = match app.view(|read| Ok(read.now)).await {
        Ok(now) => now.date(),
        Err(e) => return api_error_page(Some(&viewer), &e),
    };
    let entered = Entered::from_form(&form);
    if form.get("action") != Some("submit") {
        let content = render(def, &viewer, b, &entered, today, None);
        return html_response(StatusCode::OK, shell(&app, Some(&viewer), &b.name, "window", content));
    }
    let problem = |text: String| {
        let content = render(def, &viewer, b, &entered, today, Some(&text));
        html_response(StatusCode::UNPROCESSABLE_ENTITY, shell(&app, Some(&viewer), &b.name, "window", content))
    };
    if entered.applicant_id.is_empty() || entered.applicant_name.is_empty() {
        return problem("请填写申请人名称和证件号码（统一社会信用代码或身份证号）。".to_owned());
    }
    let submission = Submission {
        bundle: b.id.clone(),
        applicant: Applicant {
            id: Id::new(&entered.applicant_id),
            name: entered.applicant_name.clone(),
            credit_blocked: false,
        },
        channel: Channel::Window,
        materials: entered.materials.iter().map(|m| Id::new(m)).collect::<Vec<_>>().into(),
        answers: entered.answers.clone().into(),
        green_channel: entered.green_channel,
    };
    // The form's own key: a form sent twice (a double click, a resend after a timeout) opens
    // one case.
    let key = (!entered.key.is_empty()).then(|| {
        let fingerprint = crate::api::fnv1a(&[b"POST", b"/window/", b.id.as_bytes(), entered.key.as_bytes()]);
        (format!("web-window-{}", entered.key), fingerprint)
    });
    let reply = command(&app, &viewer, Target::OpenCase(Command::Submit(Box::new(submission))), None, key).await;
    match reply {
        Ok(r) if r.error.is_none() => {
            let id = serde_json::from_str::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let to = format!("/cases/{id}");
            after_command(&app, &viewer, Ok(r), &format!("已收件，办件编号 {id}。请作出受理决定。"), &to)
        }
        Ok(r) => problem(refusal(r.error.as_ref().map_or("", |e| e.message.as_str()))),
        Err(e) => problem(refusal(&e.message)),
    }
}

/// The merged form, filled with what was entered, and the plan for the answers given.
fn render(def: &Definition, viewer: &Viewer, b: &Bundle, e: &Entered, today: Date, problem: Option<&str>) -> Markup {
    let action = format!("/window/{}", b.id);
    html! {
        h1 { "综合受理 · " (b.name) }
        p { a href="/window" { "← 选择其他一件事" } }
        @if let Some(p) = problem { div.flash.error role="alert" { (p) } }
        form #intake method="post" action=(action) data-preview="plan" {
            (csrf_field(viewer))
            input type="hidden" name="key" value=(e.key);
            fieldset {
                legend { "申请人" }
                div.field {
                    label for="applicant-name" { "申请人名称" }
                    input #applicant-name type="text" name="applicant_name" value=(e.applicant_name) required maxlength="200" autocomplete="off";
                }
                div.field {
                    label for="applicant-id" { "证件号码（统一社会信用代码或身份证号）" }
                    input #applicant-id type="text" name="applicant_id" value=(e.applicant_id) required maxlength="64" autocomplete="off";
                }
                @if b.green_channel_eligible(def) {
                    div.field.check {
                        input #green-channel type="checkbox" name="green_channel" value="1" checked[e.green_channel];
                        label for="green-channel" { "申请绿色通道" }
                    }
                }
            }
            fieldset {
                legend { "一表申请（合并表单）" }
                @for &f in &b.form {
                    @let field = def.field(f);
                    @let name = format!("f.{}", field.id);
                    @let id = format!("f-{}", field.id);
                    @let value = e.answers.get(field.id.as_str()).map(String::as_str).unwrap_or("");
                    div.field {
                        label for=(id) { (field.label) }
                        @if field.choices.is_empty() {
                            input id=(id) type="text" name=(name) value=(value) maxlength="500";
                        } @else {
                            select id=(id) name=(name) data-refresh="plan" {
                                option value="" selected[value.is_empty()] { "请选择" }
                                @for c in &field.choices { option value=(c) selected[value == c] { (c) } }
                            }
                        }
                    }
                }
            }
            div #plan data-swap="plan" {
                (plan(def, b, e, today))
            }
            div.buttons {
                button #submit type="submit" name="action" value="submit" { "提交申请（收件）" }
                button #preview.secondary type="submit" name="action" value="preview" formnovalidate { "按所填情形更新事项与材料清单" }
            }
        }
    }
}

/// The members that apply for the answers, their planned due dates if accepted today, and the
/// merged material list to tick.
fn plan(def: &Definition, b: &Bundle, e: &Entered, today: Date) -> Markup {
    let plan = b.plan(def, today, &e.answers);
    let applies = b.applicable(def, &e.answers);
    html! {
        fieldset {
            legend { "本件包含的事项" }
            @match &plan {
                Ok(plan) => {
                    p.small { "按所填情形计算；如今日受理，最迟 " strong #plan-due { (plan.promised_due) } " 办结（承诺 " (plan.promised_days) " 个工作日）。" }
                    ul.members {
                        @for m in &plan.members {
                            li data-member=(m.item) data-applies=(if m.applies { "yes" } else { "no" }) class=(if m.applies { "applies" } else { "not-applies" }) {
                                @if m.applies {
                                    (m.name) span.small { " · " (m.departments.join("、")) " · 计划 " (m.due) " 前办结" }
                                } @else {
                                    s { (m.name) } span.small { " · 不适用（" (m.condition.as_deref().unwrap_or("")) "）" }
                                }
                            }
                        }
                    }
                }
                Err(problem) => { div.flash.error role="alert" { "表单有误：" (problem.to_string()) } }
            }
        }
        fieldset {
            legend { "材料清单（一套材料，合并去重）" }
            p.small { "勾选已收取的材料。标注“免提交”的材料由数据共享获取，申请人无需提交。" }
            ul.materials {
                @for (m, need) in b.materials_for(def, &applies) {
                    @let material = def.material(m);
                    @let id = format!("m-{}", material.id);
                    li data-material=(material.id) {
                        @match &material.shared_source {
                            Some(source) => {
                                span.shared { "免提交" } " " (material.name) span.small { "（数据共享：" (source) "）" }
                            }
                            None => {
                                input id=(id) type="checkbox" name="materials" value=(material.id) checked[e.materials.iter().any(|x| *x == *material.id)];
                                label for=(id) { (material.name) }
                                span class={ "need " (need_class(need)) } { (words::need(need)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn need_class(n: MaterialNeed) -> &'static str {
    match n {
        MaterialNeed::Required => "required",
        MaterialNeed::Tolerable => "tolerable",
        MaterialNeed::Optional => "optional",
    }
}
