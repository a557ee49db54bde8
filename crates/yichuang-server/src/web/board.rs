//! 效能监察看板: the supervision board (supervisors, leaders, administrators).
//!
//! Per department, the open tasks by signal (正常 / 预警 / 逾期 / 未计时) and by state; the
//! cases nearing their promise, sortable by working days left; the open tickets by stage and
//! 督办 level, with their deadlines; today's and this month's figures beside the plan's targets;
//! the four lists. The whole board is one live region: a committed event anywhere redraws it.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use crate::api::App;
use crate::error::ApiError;
use crate::extract::Caller;

use super::views::{BoardView, CaseOrder, Signals};
use super::{Viewer, api_error_page, days_text, html_response, ratio_text, shell, signal_badge, words};

/// `?sort=` of the board.
#[derive(Debug, Deserialize)]
pub struct BoardParams {
    sort: Option<String>,
}

/// `GET /board`.
pub async fn page(State(app): State<App>, viewer: Viewer, Query(params): Query<BoardParams>) -> Response {
    let order = match CaseOrder::parse(params.sort.as_deref()) {
        Ok(o) => o,
        Err(e) => return api_error_page(Some(&viewer), &e),
    };
    let actor = viewer.actor.clone();
    match app.view(move |read| read.board(&actor, order)).await {
        Ok(board) => {
            let content = render(&app, &board, order);
            html_response(StatusCode::OK, page_of(&app, &viewer, content))
        }
        Err(e) => api_error_page(Some(&viewer), &e),
    }
}

fn page_of(app: &App, viewer: &Viewer, content: Markup) -> Markup {
    shell(app, Some(viewer), "效能监察看板", "board", content)
}

/// `GET /v1/board?sort=`: the board's data as JSON (supervisors, leaders, administrators).
pub async fn json(
    State(app): State<App>,
    Caller(actor): Caller,
    crate::extract::Params(params): crate::extract::Params<BoardParams>,
) -> Result<Response, ApiError> {
    let order = CaseOrder::parse(params.sort.as_deref())?;
    let board = app.view(move |read| read.board(&actor, order)).await?;
    let body = serde_json::to_string(&board).map_err(|e| ApiError::unavailable("unavailable", e.to_string()))?;
    Ok(crate::api::ok_json(body))
}

fn counts(id: &str, s: &Signals) -> Markup {
    html! {
        ul.totals aria-label="全局办件时限状态" {
            li.green { span.label { "正常" } span.count #(format!("{id}-green")) { (s.green) } }
            li.yellow { span.label { "预警" } span.count #(format!("{id}-yellow")) { (s.yellow) } }
            li.red { span.label { "逾期" } span.count #(format!("{id}-red")) { (s.red) } }
            li.idle { span.label { "未计时" } span.count #(format!("{id}-idle")) { (s.idle) } }
        }
    }
}

fn cell(n: u64, class: &str) -> Markup {
    html! {
        @if n > 0 { td class={ "num " (class) } { (n) } } @else { td.num.zero { "0" } }
    }
}

fn sort_link(order: CaseOrder, column: &str) -> Markup {
    // The column's header: a link that sorts by it (again: the other way), with aria-sort.
    let (target, label, current) = match column {
        "case" => (CaseOrder::Number, "办件", order == CaseOrder::Number),
        _ => {
            let next =
                if order == CaseOrder::LeastTimeLeft { CaseOrder::MostTimeLeft } else { CaseOrder::LeastTimeLeft };
            (next, "剩余时间（工作日）", order != CaseOrder::Number)
        }
    };
    let aria = match (current, order) {
        (false, _) => "none",
        (true, CaseOrder::MostTimeLeft) => "descending",
        (true, _) => "ascending",
    };
    html! {
        th scope="col" aria-sort=(aria) { a href={ "/board?sort=" (target.name()) } { (label) } }
    }
}

fn status_word(status: &str) -> &str {
    match status {
        "not tracked" => "未立项跟踪",
        "done" => "已完成",
        "overdue" => "已逾期",
        "in progress" => "推进中",
        other => other,
    }
}

/// The board's content.
pub fn render(app: &App, b: &BoardView, order: CaseOrder) -> Markup {
    let def = &app.inner().def;
    html! {
        h1 { "效能监察看板" }
        div #board data-live="board" {
            p.asof { "数据截至大厅时间 " time { (b.now) } "。红黄灯按承诺时限与预警阈值（" (def.policies().warning_percent) "%）计算，剩余时间以工作日计。" }
            section aria-labelledby="h-totals" {
                h2 #h-totals { "全局办件时限状态" }
                (counts("total", &b.totals))
            }
            section aria-labelledby="h-departments" {
                h2 #h-departments { "各部门在办事项" }
                @if b.departments.is_empty() {
                    p.empty { "目前没有在办事项。" }
                } @else {
                    div.scroll {
                        table.departments {
                            caption { "按时限状态与办理状态统计（会签事项计入每个会签部门）" }
                            thead { tr {
                                th scope="col" { "部门" }
                                th scope="col" { "正常" } th scope="col" { "预警" } th scope="col" { "逾期" } th scope="col" { "未计时" }
                                @for (state, _) in super::views::StateCounts::default().rows() { th scope="col" { (words::task_state(state)) } }
                            } }
                            tbody {
                                @for d in &b.departments {
                                    tr data-department=(d.id) {
                                        th scope="row" { a href={ "/departments/" (d.id) "/queue" } { (d.name) } }
                                        (cell(d.signals.green, "green")) (cell(d.signals.yellow, "yellow"))
                                        (cell(d.signals.red, "red")) (cell(d.signals.idle, "idle"))
                                        @for (_, n) in d.states.rows() { (cell(n, "state")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-cases" {
                h2 #h-cases { "临近承诺时限的办件" }
                @if b.cases.is_empty() {
                    p.empty { "目前没有计时中的办件。" }
                } @else {
                    p { "共 " (b.cases_total) " 件" @if b.cases_total > b.cases.len() { "，显示前 " (b.cases.len()) " 件" } "。点击表头排序。" }
                    div.scroll {
                        table.cases {
                            thead { tr {
                                (sort_link(order, "case"))
                                th scope="col" { "一件事" } th scope="col" { "申请人" } th scope="col" { "牵头部门" }
                                th scope="col" { "状态" } th scope="col" { "时限状态" } th scope="col" { "承诺办结时间" }
                                (sort_link(order, "left"))
                            } }
                            tbody {
                                @for c in &b.cases {
                                    tr data-case=(c.id) {
                                        th scope="row" { a href={ "/cases/" (c.id) } { (c.id) } }
                                        td { (c.bundle) } td { (c.applicant) } td { (c.lead) }
                                        td { (words::case_state(c.state)) @if c.paused { "（计时暂停）" } }
                                        td { (signal_badge(Some(c.level))) }
                                        td { @if let Some(d) = c.deadline { time { (d) } } @else { "—" } }
                                        td.num { (days_text(c.days_left)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-tickets" {
                h2 #h-tickets { "问题处置（评价—反馈—整改—监督）" }
                @if b.tickets.is_empty() {
                    p.empty { "目前没有未办结的问题。" }
                } @else {
                    table.stages {
                        caption { "未办结问题：按处置阶段与督办等级" }
                        thead { tr { th scope="col" { "阶段" } th scope="col" { "一般" } th scope="col" { "督办" } th scope="col" { "约谈" } } }
                        tbody {
                            @for s in &b.ticket_stages {
                                tr data-stage=(s.state.name()) {
                                    th scope="row" { (words::ticket_state(s.state)) }
                                    (cell(s.by_level[0], "state")) (cell(s.by_level[1], "yellow")) (cell(s.by_level[2], "red"))
                                }
                            }
                        }
                    }
                    div.scroll {
                        table.tickets {
                            caption { "未办结问题（按期限排序）" }
                            thead { tr {
                                th scope="col" { "编号" } th scope="col" { "来源" } th scope="col" { "责任部门" }
                                th scope="col" { "阶段" } th scope="col" { "督办等级" } th scope="col" { "期限" }
                            } }
                            tbody {
                                @for t in &b.tickets {
                                    tr data-ticket=(t.id) data-source=(t.source) {
                                        th scope="row" { a href={ "/tickets/" (t.id) } { (t.id) } }
                                        td { (t.source) @if let Some(text) = &t.text { br; span.small { (text) } } } td { (t.department_name) }
                                        td { (words::ticket_state(t.state)) }
                                        td class=(match t.escalation { 0 => "", 1 => "yellow", _ => "red" }) { (words::escalation(t.escalation)) }
                                        td { @if let Some(d) = t.deadline { time { (d) } } @else { "—" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-kpis" {
                h2 #h-kpis { "关键指标" }
                table.kpis {
                    thead { tr { th scope="col" { "指标" } th scope="col" { "今日" } th scope="col" { "本月" } th scope="col" { "整改方案目标" } } }
                    tbody {
                        @for k in &b.kpis {
                            tr data-kpi=(k.id) {
                                th scope="row" { (k.name) }
                                td.num { (ratio_text(k.today)) }
                                td.num { (ratio_text(k.month)) }
                                td { @match k.target_percent { Some(p) => { "≥ " (p) "%" }, None => "方案未设目标" } }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-lists" {
                h2 #h-lists { "四个清单" }
                p { (b.four_lists.title) }
                details open {
                    summary { "责任清单" }
                    div.scroll { table {
                        thead { tr { th scope="col" { "事项" } th scope="col" { "责任领导" } th scope="col" { "责任科室" } th scope="col" { "说明" } } }
                        tbody { @for r in &b.four_lists.responsibility {
                            tr { td { (r.subject) } td { (r.leader.as_deref().unwrap_or("—")) } td { (r.departments.join("、")) } td { (r.detail) } }
                        } }
                    } }
                }
                details open {
                    summary { "任务清单" }
                    div.scroll { table {
                        thead { tr { th scope="col" { "任务" } th scope="col" { "完成时限" } th scope="col" { "跟踪问题" } th scope="col" { "状态" } th scope="col" { "达标指标" } } }
                        tbody { @for t in &b.four_lists.tasks {
                            tr { td { (t.name) } td { (t.deadline) } td { (t.ticket.as_deref().unwrap_or("—")) } td { (status_word(&t.status)) } td.num { (t.targets_met) } }
                        } }
                    } }
                }
                details open {
                    summary { "问题清单" }
                    @if b.four_lists.problems.is_empty() { p.empty { "暂无问题。" } } @else {
                        div.scroll { table {
                            thead { tr { th scope="col" { "编号" } th scope="col" { "来源" } th scope="col" { "责任部门" } th scope="col" { "状态" } th scope="col" { "整改轮次" } th scope="col" { "督办等级" } th scope="col" { "问责" } } }
                            tbody { @for p in &b.four_lists.problems {
                                tr { td { (p.ticket) } td { (p.source) } td { (p.department) } td { (p.state) } td.num { (p.rounds) } td { (words::escalation(p.escalation)) } td.num { (p.accountability) } }
                            } }
                        } }
                    }
                }
                details open {
                    summary { "效果清单" }
                    div.scroll { table {
                        thead { tr { th scope="col" { "任务" } th scope="col" { "指标" } th scope="col" { "实测" } th scope="col" { "要求" } th scope="col" { "达标" } } }
                        tbody { @for e in &b.four_lists.effects {
                            tr { td { (e.task) } td { (e.target) } td { (e.measured) } td { (e.required) } td class=(if e.met { "green" } else { "red" }) { (if e.met { "达标" } else { "未达标" }) } }
                        } }
                    } }
                }
            }
        }
    }
}
