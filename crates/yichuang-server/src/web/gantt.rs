//! The Gantt chart of a case's tasks (甘特图), drawn as SVG on the server.
//!
//! The horizontal axis counts **working time** of the hall's calendar from the acceptance
//! (nights, weekends and holidays take no room), so a bar's length is what the SLA clock
//! counts and a due-date marker sits where the promise ends. Each task that became ready has a
//! bar from then until it was decided (or until now, while open), coloured by outcome or by its
//! signal; pauses (特别程序) are hatched; a diamond marks the promised deadline; arrows run from
//! each task to the tasks that waited for it. Styling is by class only (the pages' CSP allows no
//! inline style).

use std::collections::BTreeMap;

use maud::{Markup, html};
use yichuang_core::{Calendar, Event, Id, Instant, Recorded, TaskState};

use super::views::{CaseView, TaskRow};
use super::words;

/// Width of the label column, in pixels.
const LABEL_PX: i64 = 230;
/// Width of the time axis, in pixels.
const CHART_PX: i64 = 680;
/// Height of a row, in pixels.
const ROW_PX: i64 = 30;
/// Height of the axis labels, in pixels.
const AXIS_PX: i64 = 28;

/// What the log says about one task's time.
#[derive(Debug, Default, Clone)]
struct Span {
    ready: Option<Instant>,
    ended: Option<Instant>,
    pauses: Vec<(Instant, Option<Instant>)>,
}

fn spans(events: &[Recorded]) -> BTreeMap<Id, Span> {
    let mut out: BTreeMap<Id, Span> = BTreeMap::new();
    for r in events {
        match &r.event {
            Event::TaskReady { item } => {
                let s = out.entry(item.clone()).or_default();
                s.ready.get_or_insert(r.at);
            }
            Event::TaskApproved { item }
            | Event::TaskDenied { item, .. }
            | Event::TaskCancelled { item, .. }
            | Event::TaskLapsed { item }
            | Event::TaskSimulatedApproved { item } => {
                out.entry(item.clone()).or_default().ended = Some(r.at);
            }
            Event::SimulationReopened { item } => {
                out.entry(item.clone()).or_default().ended = None;
            }
            Event::SpecialProcedureStarted { item, .. } => {
                out.entry(item.clone()).or_default().pauses.push((r.at, None));
            }
            Event::SpecialProcedureEnded { item } => {
                if let Some(p) = out.entry(item.clone()).or_default().pauses.last_mut() {
                    p.1 = Some(r.at);
                }
            }
            _ => {}
        }
    }
    out
}

fn bar_class(t: &TaskRow) -> &'static str {
    match t.state {
        TaskState::Approved | TaskState::SimulatedApproved => "done",
        TaskState::Denied | TaskState::Lapsed => "failed",
        TaskState::Cancelled | TaskState::NotApplicable => "cancelled",
        _ => words::level_class(t.sla_level),
    }
}

/// The chart, or a sentence saying why there is none (nothing accepted yet, or dates outside
/// the calendar).
pub fn chart(cal: &Calendar, case: &CaseView, events: &[Recorded], now: Instant) -> Markup {
    let Some(origin) = events.iter().find(|r| matches!(r.event, Event::Accepted { .. })).map(|r| r.at) else {
        return html! { p.empty { "受理后显示各审批任务的甘特图。" } };
    };
    let spans = spans(events);
    let mut end = now.max(origin);
    for t in &case.tasks {
        if let Some(d) = t.due {
            end = end.max(d);
        }
    }
    let x = |t: Instant| cal.working_minutes_between(origin, t).ok();
    let Some(total) = x(end).filter(|m| *m > 0) else {
        return html! { p.empty { "甘特图需要大厅日历覆盖的日期。" } };
    };
    let px = |minutes: i64| LABEL_PX + minutes.clamp(0, total) * CHART_PX / total;
    let height = AXIS_PX + ROW_PX * case.tasks.len() as i64 + 8;
    let width = LABEL_PX + CHART_PX + 40;
    // Bar ends, for the dependency arrows: (start x, end x) by item.
    let mut ends: BTreeMap<&Id, (i64, i64, i64)> = BTreeMap::new();
    for (row, t) in case.tasks.iter().enumerate() {
        let Some(span) = spans.get(&t.item) else { continue };
        let Some(ready) = span.ready.and_then(x) else { continue };
        let stop = span.ended.unwrap_or(now);
        let Some(stop) = x(stop) else { continue };
        let y = AXIS_PX + ROW_PX * row as i64 + ROW_PX / 2;
        ends.insert(&t.item, (px(ready), px(stop.max(ready)), y));
    }
    let mut days = Vec::new();
    let mut date = origin.date();
    while date <= end.date() && days.len() < 400 {
        if cal.is_working_day(date).unwrap_or(false)
            && let Some(m) = x(cal.office_open(date)).filter(|m| *m >= 0)
        {
            days.push((date, px(m)));
        }
        date = date.add_days(1);
    }
    let every = (days.len() / 12).max(1);
    let title = format!("{} 各审批任务甘特图", case.id);
    html! {
        figure.gantt {
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="gantt-title gantt-desc"
                viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height) {
                title #gantt-title { (title) }
                desc #gantt-desc { "横轴为工作时间（自受理起），条形为任务办理期间，斜线为特别程序暂停，菱形为承诺时限，箭头为前后置依赖。" }
                defs {
                    marker #arrow viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto" {
                        path.arrowhead d="M0,0 L8,4 L0,8 z" {}
                    }
                    pattern #hatch patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)" {
                        rect.hatch-bg width="6" height="6" {}
                        line.hatch-line x1="0" y1="0" x2="0" y2="6" {}
                    }
                }
                @for (i, (date, at)) in days.iter().enumerate() {
                    line.tick x1=(at) y1=(AXIS_PX - 6) x2=(at) y2=(height) {}
                    @if i % every == 0 {
                        text.axis x=(at + 2) y=(AXIS_PX - 10) { (format!("{:02}-{:02}", date.ymd().1, date.ymd().2)) }
                    }
                }
                @for (row, t) in case.tasks.iter().enumerate() {
                    @let y = AXIS_PX + ROW_PX * row as i64;
                    text.label x="4" y=(y + ROW_PX / 2 + 5) { (t.name) }
                    @if let Some((start, stop, mid)) = ends.get(&t.item) {
                        rect class={ "bar " (bar_class(t)) } x=(start) y=(mid - 9) width=((stop - start).max(2)) height="18" rx="3" {
                            title { (t.name) "：" (words::task_state(t.state)) }
                        }
                        @if let Some(span) = spans.get(&t.item) {
                            @for (from, to) in &span.pauses {
                                @if let (Some(a), Some(b)) = (x(*from), x(to.unwrap_or(now))) {
                                    rect.pause x=(px(a)) y=(mid - 9) width=((px(b) - px(a)).max(2)) height="18" {
                                        title { "特别程序：" (from) " 至 " (to.map_or("今".to_owned(), |t| t.to_string())) }
                                    }
                                }
                            }
                        }
                    } @else {
                        text.note x=(LABEL_PX + 4) y=(y + ROW_PX / 2 + 5) { (words::task_state(t.state)) }
                    }
                    @if let Some(due) = t.due.and_then(x) {
                        @let dx = px(due);
                        @let cy = y + ROW_PX / 2;
                        path.due d={ "M" (dx) "," (cy - 7) " L" (dx + 6) "," (cy) " L" (dx) "," (cy + 7) " L" (dx - 6) "," (cy) " z" } {
                            title { (t.name) " 承诺时限 " (t.due.map(|d| d.to_string()).unwrap_or_default()) }
                        }
                    }
                }
                @for t in &case.tasks {
                    @if let Some((start, _, to_y)) = ends.get(&t.item) {
                        @for before in &t.after {
                            @if let Some((_, from_x, from_y)) = ends.get(before) {
                                path.dep d={ "M" (from_x) "," (from_y) " H" (from_x + 6) " V" (to_y) " H" (start) } marker-end="url(#arrow)" {}
                            }
                        }
                    }
                }
                @if let Some(n) = x(now) {
                    line.now x1=(px(n)) y1=(AXIS_PX - 4) x2=(px(n)) y2=(height) {}
                    text.axis.now-label x=(px(n) + 3) y=(height - 2) { "现在" }
                }
            }
            figcaption { "横轴为工作时间。条形：办理期间（绿：正常，黄：预警，红：逾期，深绿：已准予）；斜线：特别程序暂停；菱形：承诺时限；箭头：依赖。" }
        }
    }
}
