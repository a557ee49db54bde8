//! Charts as hand-written SVG (no dependency): cycle-time histogram and CDF, utilisation per
//! station, queue length and work in progress over time, and a Gantt chart of one sample
//! case's approvals.
//!
//! Each function returns a complete SVG document; [`write_charts`] writes all of them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::report::Report;

const W: f64 = 760.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

struct Plot {
    svg: String,
    x_max: f64,
    y_max: f64,
    /// Right margin (room for a second axis).
    right: f64,
}

impl Plot {
    fn new(title: &str, x_label: &str, y_label: &str, x_max: f64, y_max: f64) -> Plot {
        Plot::with_right_margin(title, x_label, y_label, x_max, y_max, RIGHT)
    }

    fn with_right_margin(title: &str, x_label: &str, y_label: &str, x_max: f64, y_max: f64, right: f64) -> Plot {
        let x_max = if x_max > 0.0 && x_max.is_finite() { x_max } else { 1.0 };
        let y_max = if y_max > 0.0 && y_max.is_finite() { y_max } else { 1.0 };
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{H}" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>
"#,
            W / 2.0,
            escape(title),
            LEFT + (W - LEFT - right) / 2.0,
            H - 12.0,
            escape(x_label),
            TOP + (H - TOP - BOTTOM) / 2.0,
            TOP + (H - TOP - BOTTOM) / 2.0,
            escape(y_label)
        );
        let mut p = Plot { svg, x_max, y_max, right };
        p.axes();
        p
    }

    fn x(&self, v: f64) -> f64 {
        LEFT + (v / self.x_max).clamp(0.0, 1.0) * (W - LEFT - self.right)
    }

    fn y(&self, v: f64) -> f64 {
        H - BOTTOM - (v / self.y_max).clamp(0.0, 1.0) * (H - TOP - BOTTOM)
    }

    fn axes(&mut self) {
        let (x0, y0, x1, y1) = (LEFT, H - BOTTOM, W - self.right, TOP);
        let _ = writeln!(self.svg, r##"<path d="M{x0} {y1} V{y0} H{x1}" stroke="#333" fill="none"/>"##);
        for i in 0..=5 {
            let f = f64::from(i) / 5.0;
            let (vx, vy) = (self.x_max * f, self.y_max * f);
            let (px, py) = (self.x(vx), self.y(vy));
            let _ = writeln!(
                self.svg,
                r##"<line x1="{px}" y1="{y0}" x2="{px}" y2="{}" stroke="#333"/><text x="{px}" y="{}" text-anchor="middle">{}</text>"##,
                y0 + 5.0,
                y0 + 20.0,
                tick(vx)
            );
            let _ = writeln!(
                self.svg,
                r##"<line x1="{}" y1="{py}" x2="{x0}" y2="{py}" stroke="#333"/><line x1="{x0}" y1="{py}" x2="{x1}" y2="{py}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
                x0 - 5.0,
                x0 - 8.0,
                py + 4.0,
                tick(vy)
            );
        }
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>\n");
        self.svg
    }
}

fn tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A legend in the top right corner, `width` wide, left of a margin of `right`.
fn legend(svg: &mut String, entries: &[(String, &str)], right: f64, width: f64) {
    for (i, (label, colour)) in entries.iter().enumerate() {
        let y = TOP + 8.0 + 16.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}">{}</text>"#,
            W - right - width,
            y - 10.0,
            W - right - width + 18.0,
            y,
            escape(label)
        );
    }
}

/// Cycle-time histogram (40 bins up to the 99.5th percentile).
pub fn cycle_histogram(report: &Report) -> String {
    let h = &report.charts.cycle;
    let x_max = h.quantile(0.995).unwrap_or(1.0).max(1.0);
    let bins = 40;
    let width = x_max / f64::from(bins);
    let counts: Vec<u64> = (0..bins).map(|i| h.count_between(f64::from(i) * width, f64::from(i + 1) * width)).collect();
    let total = h.count().max(1) as f64;
    let y_max = counts.iter().copied().max().unwrap_or(1) as f64 / total * 1.1;
    let mut p = Plot::new(
        &format!("{}: cycle time (arrival → end of pickup)", report.scenario),
        "minutes",
        "share of cases",
        x_max,
        y_max,
    );
    for (i, &c) in counts.iter().enumerate() {
        let (x0, x1) = (p.x(i as f64 * width), p.x((i + 1) as f64 * width));
        let y = p.y(c as f64 / total);
        let _ = writeln!(
            p.svg,
            r##"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#1f77b4" stroke="white"/>"##,
            (x1 - x0).max(0.5),
            (H - BOTTOM - y).max(0.0)
        );
    }
    if let Some(s) = &report.cycle_time_minutes {
        for (label, v, colour) in [("mean", s.mean, "#d62728"), ("p95", s.p95, "#ff7f0e")] {
            let x = p.x(v);
            let _ = writeln!(
                p.svg,
                r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="{colour}" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" fill="{colour}">{label} {}</text>"#,
                H - BOTTOM,
                x + 4.0,
                TOP + 12.0,
                tick(v)
            );
        }
    }
    p.finish()
}

/// Cycle-time cumulative distribution.
pub fn cycle_cdf(report: &Report) -> String {
    let h = &report.charts.cycle;
    let x_max = h.quantile(0.999).unwrap_or(1.0).max(1.0);
    let mut p = Plot::new(&format!("{}: cycle time CDF", report.scenario), "minutes", "share of cases ≤ x", x_max, 1.0);
    let mut d = String::new();
    for i in 0..=200 {
        let v = x_max * f64::from(i) / 200.0;
        let _ = write!(d, "{}{:.1} {:.1} ", if i == 0 { "M" } else { "L" }, p.x(v), p.y(h.cdf_at(v)));
    }
    let _ = writeln!(p.svg, r##"<path d="{d}" stroke="#1f77b4" stroke-width="2" fill="none"/>"##);
    p.finish()
}

/// Utilisation per station (horizontal bars).
pub fn utilisation(report: &Report) -> String {
    let rows: Vec<(&String, f64)> = report.utilisation.iter().map(|(k, v)| (k, *v)).collect();
    let height = (TOP + BOTTOM + 22.0 * rows.len() as f64).max(160.0);
    let label_w = 190.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{height}" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">{}: utilisation per station</text>"#,
        W / 2.0,
        escape(&report.scenario)
    );
    let span = W - label_w - RIGHT - 50.0;
    for (i, (name, u)) in rows.iter().enumerate() {
        let y = TOP + 22.0 * i as f64;
        let colour = if *u >= 0.9 {
            "#d62728"
        } else if *u >= 0.75 {
            "#ff7f0e"
        } else {
            "#2ca02c"
        };
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{label_w}" y="{y}" width="{:.1}" height="16" fill="{colour}"/><text x="{:.1}" y="{}">{:.1} %</text>"#,
            label_w - 6.0,
            y + 12.0,
            escape(name),
            span * u.clamp(0.0, 1.0),
            label_w + span * u.clamp(0.0, 1.0) + 4.0,
            y + 12.0,
            u * 100.0
        );
    }
    let x100 = label_w + span;
    let _ = writeln!(
        svg,
        r##"<line x1="{x100}" y1="{TOP}" x2="{x100}" y2="{}" stroke="#333" stroke-dasharray="3 3"/><text x="{x100}" y="{}" text-anchor="middle">100 %</text></svg>"##,
        height - BOTTOM + 10.0,
        height - BOTTOM + 24.0
    );
    svg
}

/// Queue length over time for the stations with the longest queues (left axis), and work in
/// progress — cases in the hall — on a right axis of its own (dashed).
pub fn queues(report: &Report) -> String {
    let s = &report.charts.series;
    let x_max = s.t.last().copied().unwrap_or(1.0) / 60.0;
    let mut ranked: Vec<(usize, f64)> =
        s.queues.iter().enumerate().map(|(i, q)| (i, q.iter().sum::<f64>())).filter(|(_, sum)| *sum > 0.0).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(COLOURS.len() - 1);
    let y_max = ranked.iter().flat_map(|(i, _)| s.queues[*i].iter().copied()).fold(1.0, f64::max) * 1.1;
    let right = 70.0;
    let mut p = Plot::with_right_margin(
        &format!("{}: queue length and work in progress over time", report.scenario),
        "hours",
        "jobs waiting",
        x_max,
        y_max,
        right,
    );
    // The warm-up, shaded: the samples cover it, the report's levels do not.
    if let Some(end) = s.warm_up_end.filter(|&end| end > 0.0) {
        let (x0, x1) = (p.x(0.0), p.x(end / 60.0));
        let _ = writeln!(
            p.svg,
            r##"<rect id="warm-up" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{}" fill="#999999" fill-opacity="0.15"/><text x="{:.1}" y="{}" font-size="11" fill="#666">warm-up (not measured)</text>"##,
            x1 - x0,
            H - TOP - BOTTOM,
            x0 + 4.0,
            TOP + 14.0
        );
    }
    let mut entries = Vec::new();
    for (n, (i, _)) in ranked.iter().enumerate() {
        let colour = COLOURS[n];
        let mut d = String::new();
        for (k, (&t, &q)) in s.t.iter().zip(&s.queues[*i]).enumerate() {
            let _ = write!(d, "{}{:.1} {:.1} ", if k == 0 { "M" } else { "L" }, p.x(t / 60.0), p.y(q));
        }
        let _ = writeln!(p.svg, r#"<path d="{d}" stroke="{colour}" stroke-width="1.5" fill="none"/>"#);
        entries.push((report.charts.stations.get(*i).cloned().unwrap_or_default(), colour));
    }
    // WIP on the right axis, scaled to its own maximum.
    let wip_max = s.wip.iter().copied().fold(1.0, f64::max) * 1.1;
    let wip_y = |v: f64| H - BOTTOM - (v / wip_max).clamp(0.0, 1.0) * (H - TOP - BOTTOM);
    let x1 = W - right;
    let _ = writeln!(p.svg, r##"<path d="M{x1} {TOP} V{}" stroke="#333" fill="none"/>"##, H - BOTTOM);
    for i in 0..=5 {
        let v = wip_max * f64::from(i) / 5.0;
        let y = wip_y(v);
        let _ = writeln!(
            p.svg,
            r##"<line x1="{x1}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#333"/><text x="{}" y="{:.1}">{}</text>"##,
            x1 + 5.0,
            x1 + 8.0,
            y + 4.0,
            tick(v)
        );
    }
    let middle = TOP + (H - TOP - BOTTOM) / 2.0;
    let _ = writeln!(
        p.svg,
        r#"<text x="{}" y="{middle}" text-anchor="middle" transform="rotate(90 {} {middle})">cases in the hall (WIP)</text>"#,
        W - 14.0,
        W - 14.0
    );
    let mut d = String::new();
    for (k, (&t, &w)) in s.t.iter().zip(&s.wip).enumerate() {
        let _ = write!(d, "{}{:.1} {:.1} ", if k == 0 { "M" } else { "L" }, p.x(t / 60.0), wip_y(w));
    }
    let wip_colour = "#333333";
    let _ = writeln!(
        p.svg,
        r#"<path id="wip" d="{d}" stroke="{wip_colour}" stroke-width="1.5" stroke-dasharray="5 3" fill="none"/>"#
    );
    entries.push(("work in progress (right axis)".to_owned(), wip_colour));
    legend(&mut p.svg, &entries, right, 215.0);
    p.finish()
}

/// Gantt chart of one sample case: windows and approval tasks (queue light, review dark).
pub fn gantt(report: &Report) -> String {
    let Some(g) = &report.charts.gantt else {
        return Plot::new("no sample case completed", "minutes", "", 1.0, 1.0).finish();
    };
    let rows = g.phases.len() + g.tasks.len();
    let end = g
        .phases
        .iter()
        .map(|p| p.2)
        .chain(g.tasks.iter().map(|t| t.4))
        .filter(|v| v.is_finite())
        .fold(g.arrival, f64::max);
    let span = (end - g.arrival).max(1.0);
    let height = TOP + BOTTOM + 24.0 * rows as f64;
    let label_w = 220.0;
    let plot_w = W - label_w - RIGHT;
    let x = |t: f64| label_w + ((t - g.arrival) / span).clamp(0.0, 1.0) * plot_w;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{height}" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">{}: sample case of {} (minutes after arrival)</text>"#,
        W / 2.0,
        escape(&report.scenario),
        escape(&g.bundle)
    );
    let mut row = 0.0;
    let mut bar = |svg: &mut String, label: &str, pieces: &[(f64, f64, &str)]| {
        let y = TOP + 24.0 * row;
        let _ =
            writeln!(svg, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, label_w - 6.0, y + 13.0, escape(label));
        for &(a, b, colour) in pieces {
            if a.is_finite() && b.is_finite() && b >= a {
                let _ = writeln!(
                    svg,
                    r#"<rect x="{:.1}" y="{y}" width="{:.1}" height="16" fill="{colour}"/>"#,
                    x(a),
                    (x(b) - x(a)).max(1.0)
                );
            }
        }
        row += 1.0;
    };
    for (label, a, b) in &g.phases {
        bar(&mut svg, label, &[(*a, *b, "#7f7f7f")]);
    }
    for (item, dept, ready, claimed, done) in &g.tasks {
        bar(&mut svg, &format!("{item} ({dept})"), &[(*ready, *claimed, "#aec7e8"), (*claimed, *done, "#1f77b4")]);
    }
    let y0 = height - BOTTOM + 6.0;
    for i in 0..=5 {
        let t = g.arrival + span * f64::from(i) / 5.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(t),
            y0 + 14.0,
            tick(t - g.arrival)
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{label_w}" y="{}">grey: window visit · light: waiting in the department queue · dark: review</text></svg>"##,
        y0 + 34.0
    );
    svg
}

/// Writes every chart of `report` into `dir` (created if needed), file names prefixed with
/// `prefix`; returns the paths written.
pub fn write_charts(report: &Report, dir: &Path, prefix: &str) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let charts: [(&str, String); 5] = [
        ("cycle-time-histogram", cycle_histogram(report)),
        ("cycle-time-cdf", cycle_cdf(report)),
        ("utilisation", utilisation(report)),
        ("queue-length", queues(report)),
        ("gantt", gantt(report)),
    ];
    let mut written = Vec::new();
    for (name, svg) in charts {
        let path = dir.join(format!("{prefix}{name}.svg"));
        std::fs::write(&path, svg)?;
        written.push(path);
    }
    Ok(written)
}

/// A point of a sweep chart: x, value, interval, steady.
type SweepPoint = (f64, f64, Option<[f64; 2]>, bool);

/// A KPI against the first factor of an experiment, one line per combination of the other
/// factors, each point's confidence interval drawn as a band around its line. Points that are
/// not in steady state are drawn hollow. Labels in Chinese and English; the y axis in the
/// KPI's unit (a duration in minutes, hours or days by its size; a share in %).
pub fn sweep(report: &crate::experiment::ExperimentReport, kpi: &str) -> String {
    use crate::chart::{PALETTE, escape, text_width, tick_label, ticks, time_unit};
    use crate::kpis::Kind;
    const WIDTH: f64 = 820.0;
    const HEIGHT: f64 = 460.0;
    const FONT: f64 = 12.0;
    let (zh, en) = crate::kpis::label(kpi);
    let factor = report.factors.first().cloned().unwrap_or_default();
    // Series: the points grouped by the other factors' values, in design order.
    let mut series: Vec<(String, Vec<SweepPoint>)> = Vec::new();
    let mut kind = Kind::Minutes;
    let categorical =
        report.points.iter().any(|p| !matches!(p.values.first(), Some(crate::experiment::Value::Number(_))));
    let mut categories: Vec<String> = Vec::new();
    for p in &report.points {
        let Some(k) = p.kpis.iter().find(|k| k.kpi == kpi) else { continue };
        kind = k.kind;
        let first = p.values.first().copied();
        let x = match first {
            Some(v) if categorical => {
                let text = v.to_string();
                match categories.iter().position(|c| *c == text) {
                    Some(i) => i as f64,
                    None => {
                        categories.push(text);
                        (categories.len() - 1) as f64
                    }
                }
            }
            Some(v) => v.as_number(),
            None => 0.0,
        };
        let label = report
            .factors
            .iter()
            .zip(&p.values)
            .skip(1)
            .map(|(f, v)| format!("{f}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let steady = p.report.steady_state.steady;
        match series.iter_mut().find(|(l, _)| *l == label) {
            Some((_, pts)) => pts.push((x, k.value, k.ci, steady)),
            None => series.push((label, vec![(x, k.value, k.ci, steady)])),
        }
    }
    let values = series
        .iter()
        .flat_map(|(_, p)| p.iter().flat_map(|(_, v, ci, _)| [Some(*v), ci.map(|c| c[0]), ci.map(|c| c[1])]))
        .flatten();
    let y_max_raw = values.fold(0.0_f64, f64::max);
    let (scale, unit_zh, unit_en) = match kind {
        Kind::Minutes => {
            let u = time_unit(y_max_raw);
            (u.minutes, u.zh.to_owned(), u.en.to_owned())
        }
        Kind::Share => (0.01, "%".to_owned(), "%".to_owned()),
        _ => (1.0, String::new(), String::new()),
    };
    let y_ticks = ticks(0.0, (y_max_raw / scale).max(1e-9), 5);
    let y_step = y_ticks.get(1).map_or(1.0, |t| t - y_ticks[0]);
    let y_top = *y_ticks.last().unwrap_or(&1.0);
    let (x_min, x_max) = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (x_min, x_max) = if x_max > x_min { (x_min, x_max) } else { (x_min - 1.0, x_min + 1.0) };
    let pad = (x_max - x_min) * 0.04;
    let (x_lo, x_hi) = if categorical { (x_min - 0.5, x_max + 0.5) } else { (x_min - pad, x_max + pad) };
    let y_labels: Vec<String> = y_ticks.iter().map(|t| tick_label(*t, y_step)).collect();
    let y_title = if unit_en.is_empty() { format!("{zh} {en}") } else { format!("{zh} {en} ({unit_zh} {unit_en})") };
    let left = 28.0 + y_labels.iter().map(|l| text_width(l, FONT)).fold(0.0, f64::max) + 14.0;
    let legend_w =
        if series.len() > 1 { 24.0 + series.iter().map(|(l, _)| text_width(l, FONT)).fold(0.0, f64::max) } else { 0.0 };
    let right = 20.0 + legend_w;
    let (top, bottom) = (56.0, 78.0);
    let plot_w = (WIDTH - left - right).max(200.0);
    let width = left + plot_w + right;
    let px = |x: f64| left + (x - x_lo) / (x_hi - x_lo) * plot_w;
    let py = |y: f64| top + (1.0 - (y / scale / y_top).clamp(0.0, 1.05)) * (HEIGHT - top - bottom);
    let mut svg = String::new();
    let title = format!("{zh} 随 {factor} 变化 · {en} against {factor}");
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{HEIGHT}" viewBox="0 0 {width:.0} {HEIGHT}" font-family="sans-serif" font-size="{FONT}">
<rect width="{width:.0}" height="{HEIGHT}" fill="white"/>
<text id="title" x="{:.1}" y="24" text-anchor="middle" font-size="15">{}</text>
<text x="{:.1}" y="42" text-anchor="middle" fill="#555">{}</text>"##,
        width / 2.0,
        escape(&title),
        width / 2.0,
        escape(&format!(
            "{}: {} % 置信区间 / {} % confidence band; common random numbers",
            report.scenario,
            crate::kpis::fixed(report.confidence * 100.0, 0, false),
            crate::kpis::fixed(report.confidence * 100.0, 0, false)
        ))
    );
    // Axes, gridlines and ticks.
    let (x0, y0, y1) = (left, HEIGHT - bottom, top);
    for (t, label) in y_ticks.iter().zip(&y_labels) {
        let y = py(t * scale);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text class="y-tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 + plot_w,
            x0 - 6.0,
            y + 4.0,
            escape(label)
        );
    }
    let x_ticks: Vec<(f64, String)> = if categorical {
        categories.iter().enumerate().map(|(i, c)| (i as f64, c.clone())).collect()
    } else {
        let mut xs: Vec<f64> = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        if xs.len() <= 12 {
            xs.iter().map(|x| (*x, crate::chart::group_thousands(&format!("{x}")))).collect()
        } else {
            let t = ticks(x_min, x_max, 6);
            let step = t.get(1).map_or(1.0, |s| s - t[0]);
            t.into_iter().filter(|x| (x_lo..=x_hi).contains(x)).map(|x| (x, tick_label(x, step))).collect()
        }
    };
    for (x, label) in &x_ticks {
        let _ = writeln!(
            svg,
            r##"<line x1="{:.1}" y1="{y0:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/><text class="x-tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            px(*x),
            px(*x),
            y0 + 5.0,
            px(*x),
            y0 + 19.0,
            escape(label)
        );
    }
    let _ = writeln!(svg, r##"<path d="M{x0:.1} {y1:.1} V{y0:.1} H{:.1}" stroke="#333" fill="none"/>"##, x0 + plot_w);
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + plot_w / 2.0,
        y0 + 40.0,
        escape(&factor)
    );
    let mid = top + (HEIGHT - top - bottom) / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{mid:.1}" text-anchor="middle" transform="rotate(-90 16 {mid:.1})">{}</text>"#,
        escape(&y_title)
    );
    // Bands, lines and points.
    for (i, (label, pts)) in series.iter_mut().enumerate() {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let colour = PALETTE[i % PALETTE.len()];
        let _ = writeln!(svg, r#"<g class="series" data-label="{}">"#, escape(label));
        let with_ci: Vec<&SweepPoint> = pts.iter().filter(|p| p.2.is_some()).collect();
        if with_ci.len() >= 2 {
            let mut d = String::new();
            for (k, p) in with_ci.iter().enumerate() {
                let hi = p.2.map_or(p.1, |c| c[1]);
                let _ = write!(d, "{}{:.1} {:.1} ", if k == 0 { "M" } else { "L" }, px(p.0), py(hi));
            }
            for p in with_ci.iter().rev() {
                let lo = p.2.map_or(p.1, |c| c[0]);
                let _ = write!(d, "L{:.1} {:.1} ", px(p.0), py(lo));
            }
            let _ = writeln!(svg, r#"<path class="band" d="{d}Z" fill="{colour}" fill-opacity="0.18" stroke="none"/>"#);
        }
        for p in &with_ci {
            if let Some([lo, hi]) = p.2 {
                let _ = writeln!(
                    svg,
                    r#"<line class="whisker" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1"/>"#,
                    py(lo),
                    py(hi),
                    x = px(p.0)
                );
            }
        }
        let mut d = String::new();
        for (k, p) in pts.iter().enumerate() {
            let _ = write!(d, "{}{:.1} {:.1} ", if k == 0 { "M" } else { "L" }, px(p.0), py(p.1));
        }
        let _ = writeln!(svg, r#"<path class="line" d="{d}" stroke="{colour}" stroke-width="2" fill="none"/>"#);
        for p in pts.iter() {
            let fill = if p.3 { colour } else { "white" };
            let _ = writeln!(
                svg,
                r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="4" fill="{fill}" stroke="{colour}" stroke-width="1.5" data-x="{}" data-y="{}" data-steady="{}"/>"#,
                px(p.0),
                py(p.1),
                p.0,
                p.1,
                p.3
            );
        }
        let _ = writeln!(svg, "</g>");
        if legend_w > 0.0 {
            let (lx, ly) = (left + plot_w + 16.0, top + 6.0 + 18.0 * i as f64);
            let _ = writeln!(
                svg,
                r#"<g class="legend"><rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="{ly:.1}">{}</text></g>"#,
                ly - 10.0,
                lx + 18.0,
                escape(label)
            );
        }
    }
    let note = "○ 未达稳态 not steady (offered load ≥ 1 or a growing queue): its mean describes the run's length";
    if report.points.iter().any(|p| !p.report.steady_state.steady) {
        let _ = writeln!(
            svg,
            r##"<text id="note" x="{left:.1}" y="{:.1}" fill="#555">{}</text>"##,
            HEIGHT - 12.0,
            escape(note)
        );
    }
    svg.push_str("</svg>\n");
    svg
}
