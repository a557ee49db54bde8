//! `report.html`: one page a hall's director can open offline — the run's headline figures
//! (KPI table with Chinese and English labels, each with its confidence interval), whether
//! the hall is in steady state, a table per station, and every chart inline. Nothing is
//! loaded from elsewhere: the styles are in the page and the charts are inline SVG.

use std::fmt::Write as _;

use crate::chart::{escape, time_unit};
use crate::kpis::{Kind, fixed};
use crate::report::{Figure, Report};
use crate::stats::Summary;

/// A value of `kind` with its interval, as the table prints it (`188.5 [185.3, 191.6]`).
fn with_ci(kind: Kind, value: f64, ci: Option<[f64; 2]>) -> (String, String) {
    let value_text = match kind {
        Kind::Minutes if value.is_finite() && value >= 180.0 => {
            let unit = time_unit(value);
            format!("{} ({} {})", kind.format(value), fixed(value / unit.minutes, 1, false), unit.zh)
        }
        _ => kind.format(value),
    };
    let ci_text = ci.map_or_else(|| "—".to_owned(), |[lo, hi]| format!("[{}, {}]", kind.format(lo), kind.format(hi)));
    (value_text, ci_text)
}

/// The KPI rows: (中文, English, unit, value, interval).
fn kpi_rows(report: &Report) -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    let mut push = |zh: &str, en: &str, unit: &str, (value, ci): (String, String)| {
        rows.push([zh.to_owned(), en.to_owned(), unit.to_owned(), value, ci]);
    };
    let summary = |s: &Option<Summary>| s.as_ref().map_or((f64::NAN, None), |s| (s.mean, s.ci));
    let (mean, ci) = summary(&report.cycle_time_minutes);
    push("平均办件周期", "Mean cycle time", "分钟 min", with_ci(Kind::Minutes, mean, ci));
    if let Some(s) = &report.cycle_time_minutes {
        for (zh, en, v) in [
            ("办件周期中位数", "Median cycle time (P50)", s.p50),
            ("办件周期 P90", "Cycle time, 90th percentile", s.p90),
            ("办件周期 P95", "Cycle time, 95th percentile", s.p95),
        ] {
            push(zh, en, "分钟 min", with_ci(Kind::Minutes, v, None));
        }
    }
    let (mean, ci) = summary(&report.working_cycle_time_minutes);
    push("平均办件周期（工作时间）", "Mean cycle time, working time", "分钟 min", with_ci(Kind::Minutes, mean, ci));
    push("按时办结率", "On-time rate", "%", with_ci(Kind::Share, report.on_time_rate, report.on_time_rate_ci));
    let w = &report.waiting_minutes;
    for (zh, en, s) in [
        ("平均排队等候", "Mean queue wait", &w.queue),
        ("平均并联汇合等待", "Mean join wait", &w.join),
        ("平均材料等待", "Mean wait for materials", &w.materials),
        ("平均特别程序时间", "Mean special procedures", &w.special_procedure),
        ("平均办理时间", "Mean service", &w.service),
    ] {
        let (mean, ci) = summary(s);
        push(zh, en, "分钟 min", with_ci(Kind::Minutes, mean, ci));
    }
    let (mean, ci) = summary(&report.trips);
    push("平均跑动次数", "Trips per case", "次 trips", with_ci(Kind::PerCase, mean, ci));
    let f = |fig: &Figure| (fig.mean, fig.ci);
    let (mean, ci) = f(&report.throughput_per_day);
    push("日办结量", "Cases completed per day", "件/天 cases/day", with_ci(Kind::Level, mean, ci));
    let (mean, ci) = f(&report.wip.mean);
    push("平均在办件数", "Cases in the hall (mean)", "件 cases", with_ci(Kind::Level, mean, ci));
    if let Some(bad) = report.ratings.bad_rate {
        push("差评率", "Bad-rating rate", "%", with_ci(Kind::Share, bad, report.ratings.bad_rate_ci));
    }
    push("逾期办件数", "Overdue cases", "件 cases", with_ci(Kind::Count, report.sla.case_overdue as f64, None));
    if let Some(lost) = &report.applicants_lost {
        push("放弃办理率", "Applicants lost", "%", with_ci(Kind::Share, lost.share.mean, lost.share.ci));
    }
    rows
}

/// The page: headline, steady-state verdict, KPI table, station table and `charts` (file name
/// and SVG) inline.
pub fn page(report: &Report, charts: &[(&str, String)]) -> String {
    let mut h = String::new();
    let title = format!("{} · 仿真报告 simulation report", report.scenario);
    head(&mut h, &title);
    let _ = writeln!(
        h,
        r#"<p class="meta">办件定义 definition <b>{}</b> · {} 次重复 replications · 种子 seed {} · {} 件 cases measured · 置信水平 confidence {} %</p>"#,
        escape(&report.definition),
        report.replications,
        report.seed,
        report.cases,
        fixed(report.confidence * 100.0, 0, false)
    );
    run_notes(&mut h, report);
    steady(&mut h, report);
    let _ = writeln!(h, "<h2>关键指标 Key figures</h2>");
    let _ = writeln!(
        h,
        r#"<table id="kpis"><thead><tr><th>指标</th><th>KPI</th><th>单位 unit</th><th>值 value</th><th>{} % 置信区间 confidence interval</th></tr></thead><tbody>"#,
        fixed(report.confidence * 100.0, 0, false)
    );
    for [zh, en, unit, value, ci] in kpi_rows(report) {
        let _ = writeln!(
            h,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            escape(&zh),
            escape(&en),
            escape(&unit),
            escape(&value),
            escape(&ci)
        );
    }
    let _ = writeln!(h, "</tbody></table>");
    stations(&mut h, report);
    let _ = writeln!(h, "<h2>图表 Charts</h2>");
    for (name, svg) in charts {
        let caption = match *name {
            "cycle-time-histogram" => {
                "办件周期分布：竖线为承诺时限与中位数、P90、P95 · cycle-time histogram with the promise and P50/P90/P95"
            }
            "cycle-time-cdf" => "办件周期累计分布 · cycle-time CDF",
            "utilisation" => "各窗口与部门利用率及置信区间 · utilisation per station with its interval",
            "queue-length" => "各窗口与部门排队人数随时间变化 · queue length per station over time",
            "gantt" => "样本办件的办理过程 · one sample case",
            other => other,
        };
        let svg = svg.trim_end();
        let _ = writeln!(h, r#"<figure id="{name}">{svg}<figcaption>{}</figcaption></figure>"#, escape(caption));
    }
    let _ = writeln!(h, "</body>\n</html>");
    h
}

/// The steady-state verdict: a green line, or an orange one naming each overloaded station.
fn steady(h: &mut String, report: &Report) {
    let state = &report.steady_state;
    if state.steady {
        let _ = writeln!(
            h,
            r#"<p class="steady" id="steady">稳态：是 · steady state: every station keeps up with its work (offered load below 1, no growing queue).</p>"#
        );
        return;
    }
    let mut items = String::new();
    for u in &state.unsteady {
        let load = u.offered_load.map_or_else(|| "—".to_owned(), |l| fixed(l, 2, false));
        let why = match (u.overloaded, u.queue_growing) {
            (true, true) => "负荷过高且队列增长 overloaded, queue growing",
            (true, false) => "负荷过高 overloaded",
            _ => "队列持续增长 queue growing",
        };
        let _ = write!(items, "<li><b>{}</b>: 负荷 offered load {load} ({why})</li>", escape(&u.station));
    }
    let _ = writeln!(
        h,
        r#"<div class="unsteady" id="steady"><p>未达稳态 NOT STEADY: the averages describe this run's length, not a long-run hall.</p><ul>{items}</ul></div>"#
    );
}

/// The station table.
fn stations(h: &mut String, report: &Report) {
    let _ = writeln!(h, "<h2>各窗口与部门 Stations</h2>");
    let _ = writeln!(
        h,
        r#"<table id="stations"><thead><tr><th>窗口/部门 station</th><th>类型 kind</th><th>工位数 servers</th><th>利用率 utilisation</th><th>负荷 offered load</th><th>平均排队人数 mean queue</th><th>最长排队 max queue</th><th>平均等候 mean wait (min)</th><th>平均逗留 mean sojourn (min)</th></tr></thead><tbody>"#
    );
    let order: Vec<&String> = if report.charts.stations.is_empty() {
        report.stations.keys().collect()
    } else {
        report.charts.stations.iter().filter(|s| report.stations.contains_key(*s)).collect()
    };
    for name in order {
        let s = &report.stations[name];
        let kind = if s.kind == "window" { "窗口 window" } else { "部门 department" };
        let (u, u_ci) = with_ci(Kind::Share, s.utilisation.mean, s.utilisation.ci);
        let load = s.offered_load.as_ref().map_or_else(|| "—".to_owned(), |f| fixed(f.mean, 2, false));
        let wait = s.queue_wait_minutes.as_ref().map_or_else(|| "—".to_owned(), |w| Kind::Minutes.format(w.mean));
        let sojourn = s.sojourn_minutes.as_ref().map_or_else(|| "—".to_owned(), |w| Kind::Minutes.format(w.mean));
        let _ = writeln!(
            h,
            r#"<tr><td>{}</td><td>{kind}</td><td class="num">{}</td><td class="num">{u} {u_ci}</td><td class="num">{load}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{wait}</td><td class="num">{sojourn}</td></tr>"#,
            escape(name),
            fixed(s.mean_servers, if (s.mean_servers - s.mean_servers.round()).abs() < 1e-9 { 0 } else { 1 }, false),
            Kind::Level.format(s.queue_length.mean),
            s.queue_length_max
        );
    }
    let _ = writeln!(h, "</tbody></table>");
}

/// The page's head (title, styles) and its first heading, `title`.
fn head(h: &mut String, title: &str) {
    let _ = writeln!(
        h,
        r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #222; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }}
h2 {{ font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }}
.meta {{ color: #555; }}
table {{ border-collapse: collapse; margin: 8px 0; }}
th, td {{ border-bottom: 1px solid #e5e5e5; padding: 4px 10px; text-align: left; vertical-align: top; }}
td {{ white-space: nowrap; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
th {{ background: #f4f4f4; }}
.steady {{ padding: 8px 12px; border-left: 4px solid #009E73; background: #eef8f4; }}
.unsteady {{ padding: 8px 12px; border-left: 4px solid #D55E00; background: #fcefe8; }}
figure {{ margin: 16px 0; }}
figure svg {{ max-width: 100%; height: auto; }}
figcaption {{ color: #555; font-size: 13px; }}
</style>
</head>
<body>
<h1>{}</h1>"#,
        escape(title),
        escape(title)
    );
}

/// The page of an experiment (`experiment --charts`, `simulate --sweep … --charts`): the
/// design, one row per point with the factors' values and each chosen KPI with its interval
/// and whether the point is in steady state (else the station and its offered load), and the
/// sweep charts inline (`charts`: KPI name and SVG).
pub fn experiment_page(
    report: &crate::experiment::ExperimentReport,
    kpis: &[String],
    charts: &[(String, String)],
) -> String {
    let mut h = String::new();
    let title = format!("{} · 仿真实验 experiment", report.scenario);
    head(&mut h, &title);
    let level = fixed(report.confidence * 100.0, 0, false);
    let _ = writeln!(
        h,
        r#"<p class="meta">{} 个方案点 points · 因素 factors {} · 每点同一随机数 common random numbers (seed {}) · 置信水平 confidence {level} %</p>"#,
        report.points.len(),
        escape(&report.factors.join(" × ")),
        report.seed
    );
    let _ = writeln!(h, "<h2>各方案点 Points</h2>");
    let _ = write!(h, r#"<table id="points"><thead><tr>"#);
    for f in &report.factors {
        let _ = write!(h, "<th>{}</th>", escape(f));
    }
    for k in kpis {
        let (zh, en) = crate::kpis::label(k);
        let _ = write!(h, "<th>{} {} <small>[{level} %]</small></th>", escape(&zh), escape(&en));
    }
    let _ = writeln!(h, "<th>稳态 steady</th></tr></thead><tbody>");
    for p in &report.points {
        let _ = write!(h, "<tr>");
        for v in &p.values {
            let _ = write!(h, r#"<td class="num">{}</td>"#, escape(&v.to_string()));
        }
        for k in kpis {
            let cell = p.kpis.iter().find(|x| x.kpi == *k).map_or_else(
                || "—".to_owned(),
                |x| {
                    let (value, ci) = with_ci(x.kind, x.value, x.ci);
                    if x.ci.is_some() { format!("{value} {ci}") } else { value }
                },
            );
            let _ = write!(h, r#"<td class="num">{}</td>"#, escape(&cell));
        }
        let state = &p.report.steady_state;
        let steady = if state.steady {
            "是 yes".to_owned()
        } else {
            let worst: Vec<String> = state
                .unsteady
                .iter()
                .map(|u| match u.offered_load {
                    Some(l) => format!("{} ({})", u.station, fixed(l, 2, false)),
                    None => u.station.clone(),
                })
                .collect();
            format!("否 no: {}", worst.join(", "))
        };
        let _ = writeln!(h, "<td>{}</td></tr>", escape(&steady));
    }
    let _ = writeln!(h, "</tbody></table>");
    let _ = writeln!(h, "<h2>图表 Charts</h2>");
    for (kpi, svg) in charts {
        let (zh, en) = crate::kpis::label(kpi);
        let _ = writeln!(
            h,
            r#"<figure id="sweep-{}">{}<figcaption>{} 随 {} 变化，阴影为置信区间 · {} against {}, the band its confidence interval</figcaption></figure>"#,
            escape(kpi),
            svg.trim_end(),
            escape(&zh),
            escape(report.factors.first().map_or("", String::as_str)),
            escape(&en),
            escape(report.factors.first().map_or("", String::as_str))
        );
    }
    let _ = writeln!(h, "</body>\n</html>");
    h
}

/// How the run was sized: a detected warm-up (`warm_up: Auto`) and the precision target
/// (`--precision`), each when there was one.
fn run_notes(h: &mut String, report: &Report) {
    if let Some(w) = &report.warm_up {
        let found = if w.detected {
            let unit = time_unit(w.minutes);
            format!(
                "检测到 detected: {} {} ({} {})",
                fixed(w.minutes / unit.minutes, 1, false),
                unit.zh,
                fixed(w.minutes / unit.minutes, 1, false),
                unit.en
            )
        } else {
            "未检测到：序列未平稳，未截去 not detected: the series never settled, nothing cut".to_owned()
        };
        let _ = writeln!(
            h,
            r#"<p class="meta" id="warm-up">预热期 warm-up ({}, {} 次试运行 pilot replications): {}</p>"#,
            escape(w.method),
            w.pilot_replications,
            escape(&found)
        );
    }
    if let Some(p) = &report.precision {
        let verdict = if p.met { "达到 met" } else { "未达到 not met" };
        let targets: Vec<String> = p
            .targets
            .iter()
            .map(|t| {
                let half = t.half_width.map_or_else(|| "—".to_owned(), |w| format!("±{}", fixed(w, 2, false)));
                format!("{} {half}", t.kpi)
            })
            .collect();
        let _ = writeln!(
            h,
            r#"<p class="meta" id="precision">精度目标 precision target {verdict} after {} replications (cap {}): {}</p>"#,
            p.replications,
            p.max_replications,
            escape(&targets.join("; "))
        );
    }
}
