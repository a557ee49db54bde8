//! Charts as hand-written SVG (no dependency), made to be read by a hall's director at a glance:
//! the cycle-time histogram and CDF, utilisation per station, the queue length of every station
//! over time (small multiples) with the work in progress, a Gantt chart of one sample case's
//! approvals, and an experiment's KPI against a factor ([`sweep`]).
//!
//! What every chart holds to (the tests in `tests/charts.rs` parse the SVG and check each):
//! - **No label is cut**: every margin is sized from the measured width of the text it holds
//!   ([`crate::chart::text_width`]), and the chart widens or wraps rather than clip.
//! - **Round ticks** in 1-2-5 steps ([`crate::chart::ticks`]), thousands grouped.
//! - **Units by magnitude**: minutes, hours or days of calendar time; working days when the
//!   hall's promise (承诺时限) is in working days — then the histogram and the CDF are of the
//!   working cycle time, the clock the promise runs on.
//! - **Markers**: the promise and the median, 90th and 95th percentiles on the histogram and
//!   the CDF, labelled in a key above the plot (never over the bars); when the axis ends before
//!   the longest case, a note says where it ends, the longest case and the share beyond.
//! - **Legends outside the data**, in Chinese and English; titles in both languages.
//!
//! Elements carry classes the tests read: `plot-area` (a rect per plot), `x-tick` and `y-tick`
//! (tick labels), `marker` (with `data-kind` and `data-value` in minutes), `marker-label`,
//! `legend`, `panel` (with `data-station`), `whisker`, `bar`, and the ids `tail-note`, `wip`
//! and `warm-up`. Each function returns a complete SVG document; [`write_charts`] writes all
//! of them and the one-page `report.html`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::chart::{
    PALETTE, TimeUnit, escape, group_thousands, text_width, tick_label, ticks, time_unit, working_unit,
};
use crate::report::{Promise, Report};
use crate::stats::{Histogram, Summary};

/// Width of every chart but the sweep's, in pixels.
const W: f64 = 820.0;
/// Font size of ordinary text.
const FONT: f64 = 12.0;
/// Font size of small multiples' ticks.
const SMALL: f64 = 10.0;
/// Height of a plot area.
const PLOT_H: f64 = 280.0;
/// Height of one row of marker labels or legend entries.
const ROW: f64 = 16.0;

/// The opening of an SVG document `width` × `height` with a white background, its title and
/// a grey subtitle (both centred).
fn open(width: f64, height: f64, title: &str, subtitle: &str) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="{FONT}">
<rect width="{width:.0}" height="{height:.0}" fill="white"/>
<text id="title" x="{:.1}" y="24" text-anchor="middle" font-size="15">{}</text>
<text id="subtitle" x="{:.1}" y="42" text-anchor="middle" fill="#555">{}</text>"##,
        width / 2.0,
        escape(title),
        width / 2.0,
        escape(subtitle)
    );
    svg
}

/// The width a chart needs for its title and subtitle (15 px and 12 px text), at least `min`.
fn width_for(title: &str, subtitle: &str, min: f64) -> f64 {
    (text_width(title, 15.0) + 40.0).max(text_width(subtitle, FONT) + 40.0).max(min).ceil()
}

/// A text element; `anchor` is `start`, `middle` or `end`; `class` may be empty.
fn text(svg: &mut String, x: f64, y: f64, anchor: &str, class: &str, fill: &str, content: &str) {
    let class = if class.is_empty() { String::new() } else { format!(r#" class="{class}""#) };
    let _ = writeln!(
        svg,
        r#"<text{class} x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
        escape(content)
    );
}

/// A number as a marker or a note shows it: no decimal from 100 on or when whole, else one;
/// thousands grouped.
fn number(x: f64) -> String {
    let decimals = if x.abs() >= 100.0 || (x * 10.0).round() % 10.0 == 0.0 { 0 } else { 1 };
    group_thousands(&crate::kpis::fixed(x, decimals, false))
}

/// A duration in `unit`, with the unit's Chinese name (`3.2 小时`).
fn duration(minutes: f64, unit: TimeUnit) -> String {
    format!("{} {}", number(minutes / unit.minutes), unit.zh)
}

/// Places marker labels (the marker's x, the label's width) in rows above a plot, each centred
/// on its marker but kept within `[lo, hi]`, in the first row where it clears every label
/// already there by 8 px and where no marker's line, running down from its label to the plot,
/// crosses another label. When no row avoids every crossing, the first row where it clears its
/// neighbours (the labels have a white halo, so a line passes behind). Returns each label's
/// left edge and row.
fn place_labels(labels: &[(f64, f64)], lo: f64, hi: f64) -> Vec<(f64, usize)> {
    // Placed so far: (left, right, row, line x).
    let mut placed: Vec<(f64, f64, usize, f64)> = Vec::new();
    let mut out = Vec::new();
    for &(x, width) in labels {
        let left = (x - width / 2.0).min(hi - width).max(lo);
        let right = left + width;
        let clears = |row: usize| placed.iter().filter(|p| p.2 == row).all(|p| right + 8.0 <= p.0 || left >= p.1 + 8.0);
        let uncrossed = |row: usize| {
            placed.iter().all(|p| match p.2.cmp(&row) {
                std::cmp::Ordering::Greater => x < p.0 - 4.0 || x > p.1 + 4.0,
                std::cmp::Ordering::Less => p.3 < left - 4.0 || p.3 > right + 4.0,
                std::cmp::Ordering::Equal => true,
            })
        };
        let rows = placed.iter().map(|p| p.2 + 1).max().unwrap_or(0);
        let row =
            (0..=rows).find(|&r| clears(r) && uncrossed(r)).or_else(|| (0..=rows).find(|&r| clears(r))).unwrap_or(rows);
        placed.push((left, right, row, x));
        out.push((left, row));
    }
    out
}

/// The y title of a plot, rotated, centred on `[top, bottom]` at x = 16.
fn y_title(svg: &mut String, top: f64, bottom: f64, content: &str) {
    let mid = (top + bottom) / 2.0;
    let _ = writeln!(
        svg,
        r#"<text class="y-title" x="16" y="{mid:.1}" text-anchor="middle" transform="rotate(-90 16 {mid:.1})">{}</text>"#,
        escape(content)
    );
}

/// A linear axis with round ticks: values in its unit, the last tick at or past the data.
struct Axis {
    ticks: Vec<f64>,
    labels: Vec<String>,
}

impl Axis {
    fn new(max: f64, target: usize) -> Axis {
        let ticks = ticks(0.0, max.max(1e-9), target);
        let step = ticks.get(1).map_or(1.0, |t| t - ticks[0]);
        let labels = ticks.iter().map(|t| tick_label(*t, step)).collect();
        Axis { ticks, labels }
    }

    fn max(&self) -> f64 {
        *self.ticks.last().unwrap_or(&1.0)
    }

    fn step(&self) -> f64 {
        self.ticks.get(1).map_or(1.0, |t| t - self.ticks[0])
    }

    fn widest(&self, size: f64) -> f64 {
        self.labels.iter().map(|l| text_width(l, size)).fold(0.0, f64::max)
    }
}

/// One of the markers on the cycle-time distribution.
struct Marker {
    kind: &'static str,
    /// Where it is drawn, in minutes (the axis's end for a promise beyond it).
    minutes: f64,
    /// Its value, in minutes.
    value: f64,
    label: String,
    colour: &'static str,
    /// The share of cases at or below it (the CDF's level), for percentiles.
    level: Option<f64>,
}

/// The cycle-time distribution the histogram and CDF draw: calendar cycle time, or working
/// cycle time when the promise is in working days.
struct Distribution<'a> {
    hist: &'a Histogram,
    summary: Option<&'a Summary>,
    unit: TimeUnit,
    /// The axis, in `unit`.
    axis: Axis,
    markers: Vec<Marker>,
    /// The quantity in Chinese and English.
    what: (&'static str, &'static str),
}

impl Distribution<'_> {
    fn of(report: &Report, end_quantile: f64) -> Distribution<'_> {
        let charts = &report.charts;
        let working = matches!(&charts.promise, Promise::WorkingDays(d) if !d.is_empty());
        let (hist, summary, what) = if working {
            (
                &charts.working,
                report.working_cycle_time_minutes.as_ref(),
                ("办件周期（工作时间）", "cycle time, working time"),
            )
        } else {
            (&charts.cycle, report.cycle_time_minutes.as_ref(), ("办件周期", "cycle time"))
        };
        let day = if charts.day_minutes > 0.0 { charts.day_minutes } else { 1440.0 };
        let data_end = hist.quantile(end_quantile).unwrap_or(1.0).max(1.0);
        let promises: Vec<(f64, String)> = match &charts.promise {
            Promise::None => Vec::new(),
            Promise::WithinMinutes(m) => vec![(*m, String::new())],
            Promise::WorkingDays(days) => days.iter().map(|(d, ids)| (f64::from(*d) * day, ids.join(", "))).collect(),
        };
        // The promise is drawn when it lies within twice the data's reach; further out it
        // would squeeze the data into a corner, and its label says it lies beyond.
        let end = promises.iter().map(|p| p.0).filter(|&p| p <= 2.0 * data_end).fold(data_end, f64::max);
        let unit = if working { working_unit(end, day) } else { time_unit(end) };
        let axis = Axis::new(end / unit.minutes, 6);
        let mut markers = Vec::new();
        if let Some(s) = summary {
            for (kind, v, level, colour) in
                [("p50", s.p50, 0.5, PALETTE[2]), ("p90", s.p90, 0.9, PALETTE[4]), ("p95", s.p95, 0.95, PALETTE[1])]
            {
                let label = format!("{} {}", kind.to_uppercase(), duration(v, unit));
                markers.push(Marker { kind, minutes: v, value: v, label, colour, level: Some(level) });
            }
        }
        let reach = axis.max() * unit.minutes;
        for (minutes, bundles) in promises {
            let beyond = if minutes > reach { " →" } else { "" };
            let shown = if minutes > reach { reach } else { minutes };
            let what = if bundles.is_empty() { String::new() } else { format!(" ({bundles})") };
            let label = format!("承诺 promise {}{what}{beyond}", duration(minutes, unit));
            markers.push(Marker {
                kind: "promise",
                minutes: shown,
                value: minutes,
                label,
                colour: "#000000",
                level: None,
            });
        }
        Distribution { hist, summary, unit, axis, markers, what }
    }

    /// The note under the axis when it ends before the longest case, else `None`.
    fn tail_note(&self) -> Option<String> {
        let max = self.summary.map(|s| s.max)?;
        let reach = self.axis.max() * self.unit.minutes;
        if max <= reach * (1.0 + 1e-9) {
            return None;
        }
        let beyond = (1.0 - self.hist.cdf_at(reach)).max(0.0) * 100.0;
        let beyond = if beyond < 0.1 { "< 0.1".to_owned() } else { crate::kpis::fixed(beyond, 1, false) };
        Some(format!(
            "横轴截至 {}，最长 {}，{beyond} % 的办件更长 · axis cut at {} {}; longest {} {}; {beyond} % of cases beyond",
            duration(reach, self.unit),
            duration(max, self.unit),
            number(reach / self.unit.minutes),
            self.unit.en,
            number(max / self.unit.minutes),
            self.unit.en
        ))
    }

    /// The x-axis title.
    fn x_title(&self) -> String {
        format!("{} {} ({} {})", self.what.0, self.what.1, self.unit.zh, self.unit.en)
    }
}

/// The frame of a distribution chart: margins sized from the labels, marker key rows above
/// the plot, notes below.
struct Frame {
    left: f64,
    top: f64,
    plot_w: f64,
}

impl Frame {
    fn x(&self, v: f64, max: f64) -> f64 {
        self.left + (v / max).clamp(0.0, 1.0) * self.plot_w
    }

    fn y(&self, v: f64, max: f64) -> f64 {
        self.top + PLOT_H - (v / max).clamp(0.0, 1.0) * PLOT_H
    }

    fn bottom(&self) -> f64 {
        self.top + PLOT_H
    }
}

/// Draws what the histogram and the CDF share: the frame, gridlines, both axes' ticks and
/// titles, the markers with their key above the plot, and the notes under it. `y` is the
/// y axis (in % of cases); `draw` adds the data, given the frame.
fn distribution_chart(
    report: &Report,
    dist: &Distribution<'_>,
    title: &str,
    y: &Axis,
    y_label: &str,
    draw: impl FnOnce(&mut String, &Frame),
) -> String {
    let subtitle = subtitle(report);
    let width = width_for(title, &subtitle, W);
    let x_last = dist.axis.labels.last().map_or(0.0, |l| text_width(l, FONT));
    let left = 16.0 + 12.0 + y.widest(FONT) + 10.0;
    let right = (x_last / 2.0 + 12.0).max(24.0);
    let plot_w = width - left - right;
    let x_max = dist.axis.max();
    let at = |minutes: f64| left + (minutes / dist.unit.minutes / x_max).clamp(0.0, 1.0) * plot_w;
    let labels: Vec<(f64, f64)> = dist.markers.iter().map(|m| (at(m.minutes), text_width(&m.label, FONT))).collect();
    let placed = place_labels(&labels, 8.0, width - 8.0);
    let rows = placed.iter().map(|p| p.1 + 1).max().unwrap_or(0);
    let top = 56.0 + ROW * rows as f64 + 8.0;
    let notes: Vec<String> = dist.tail_note().into_iter().collect();
    let mut note_lines = Vec::new();
    for n in &notes {
        note_lines.extend(wrap(n, width - 24.0, FONT));
    }
    let height = top + PLOT_H + 48.0 + ROW * note_lines.len() as f64 + 8.0;
    let frame = Frame { left, top, plot_w };
    let mut svg = open(width, height, title, &subtitle);
    let bottom = frame.bottom();
    let _ = writeln!(
        svg,
        r##"<rect class="plot-area" x="{left:.1}" y="{top:.1}" width="{plot_w:.1}" height="{PLOT_H}" fill="none"/>"##
    );
    for (t, label) in y.ticks.iter().zip(&y.labels) {
        let py = frame.y(*t, y.max());
        let _ = writeln!(
            svg,
            r##"<line x1="{left:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e5e5e5"/>"##,
            left + plot_w
        );
        text(&mut svg, left - 6.0, py + 4.0, "end", "y-tick", "#333", label);
    }
    for (t, label) in dist.axis.ticks.iter().zip(&dist.axis.labels) {
        let px = frame.x(*t, x_max);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{bottom:.1}" x2="{px:.1}" y2="{:.1}" stroke="#333"/>"##,
            bottom + 5.0
        );
        text(&mut svg, px, bottom + 18.0, "middle", "x-tick", "#333", label);
    }
    draw(&mut svg, &frame);
    let _ = writeln!(
        svg,
        r##"<path d="M{left:.1} {top:.1} V{bottom:.1} H{:.1}" stroke="#333" fill="none"/>"##,
        left + plot_w
    );
    // The lines first, then their labels over them (a line passes behind a label's halo).
    for (m, (_, row)) in dist.markers.iter().zip(&placed) {
        let px = at(m.minutes);
        let ly = 56.0 + ROW * (*row as f64) + 12.0;
        let dash = if m.kind == "promise" { "" } else { r#" stroke-dasharray="5 3""# };
        let _ = writeln!(
            svg,
            r#"<line class="marker" data-kind="{}" data-value="{}" x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{bottom:.1}" stroke="{}" stroke-width="1.5"{dash}/>"#,
            m.kind,
            m.value,
            ly + 4.0,
            m.colour
        );
    }
    for (m, (x_left, row)) in dist.markers.iter().zip(&placed) {
        let ly = 56.0 + ROW * (*row as f64) + 12.0;
        let _ = writeln!(
            svg,
            r#"<text class="marker-label" x="{x_left:.1}" y="{ly:.1}" fill="{}" stroke="white" stroke-width="4" paint-order="stroke">{}</text>"#,
            m.colour,
            escape(&m.label)
        );
    }
    text(&mut svg, left + plot_w / 2.0, bottom + 38.0, "middle", "x-title", "#000", &dist.x_title());
    y_title(&mut svg, top, bottom, y_label);
    for (i, line) in note_lines.iter().enumerate() {
        let id = if i == 0 { r#" id="tail-note""# } else { "" };
        let _ = writeln!(
            svg,
            r##"<text{id} class="note" x="12" y="{:.1}" fill="#555">{}</text>"##,
            bottom + 58.0 + ROW * i as f64,
            escape(line)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// `content` cut at spaces into lines no wider than `width`.
fn wrap(content: &str, width: f64, size: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in content.split(' ') {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if !line.is_empty() && text_width(&candidate, size) > width {
            lines.push(std::mem::take(&mut line));
            line = word.to_owned();
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The line under every chart's title: what was measured.
fn subtitle(report: &Report) -> String {
    let on_time = if report.on_time_rate.is_finite() {
        format!(" · 按时办结 on time {}", crate::kpis::Kind::Share.format(report.on_time_rate))
    } else {
        String::new()
    };
    format!(
        "{} 件 cases · {} 次重复 replications · 种子 seed {}{on_time}",
        group_thousands(&report.cases.to_string()),
        report.replications,
        report.seed
    )
}

/// Cycle-time histogram: the share of cases per bin (bins a fraction of the tick step, so
/// their edges meet the ticks), the axis reaching the 99.5th percentile (or the promise), the
/// promise and P50/P90/P95 marked.
pub fn cycle_histogram(report: &Report) -> String {
    let dist = Distribution::of(report, 0.995);
    let (x_max, unit) = (dist.axis.max(), dist.unit);
    let intervals = (dist.axis.ticks.len().max(2) - 1) as f64;
    let per_tick = [1.0, 2.0, 4.0, 5.0, 10.0, 20.0].into_iter().find(|k| intervals * k >= 24.0).unwrap_or(20.0);
    let bin = dist.axis.step() / per_tick;
    let bins = (x_max / bin).round() as usize;
    let total = dist.hist.count().max(1) as f64;
    let shares: Vec<f64> = (0..bins)
        .map(|i| {
            let (a, b) = (i as f64 * bin * unit.minutes, (i + 1) as f64 * bin * unit.minutes);
            dist.hist.count_between(a, b) as f64 / total * 100.0
        })
        .collect();
    let y = Axis::new(shares.iter().copied().fold(0.0, f64::max), 5);
    let title = format!("{}：{}分布 · {} histogram", report.scenario, dist.what.0, dist.what.1);
    let y_label = format!("办件占比 share of cases (%, 每格 per bin of {} {})", number(bin), unit.en);
    distribution_chart(report, &dist, &title, &y, &y_label, |svg, f| {
        for (i, share) in shares.iter().enumerate() {
            let (x0, x1) = (f.x(i as f64 * bin, x_max), f.x((i + 1) as f64 * bin, x_max));
            let top = f.y(*share, y.max());
            let _ = writeln!(
                svg,
                r##"<rect class="bar" x="{x0:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#56B4E9" stroke="white" stroke-width="0.5"/>"##,
                (x1 - x0).max(0.5),
                (f.bottom() - top).max(0.0)
            );
        }
    })
}

/// Cycle-time cumulative distribution: the share of cases done within x, the axis reaching the
/// 99.9th percentile (or the promise); P50/P90/P95 as dots on the curve, the promise as a line
/// with the share of cases within it.
pub fn cycle_cdf(report: &Report) -> String {
    let mut dist = Distribution::of(report, 0.999);
    // The share within the promise, when there is one promise: with one per bundle, the
    // share of all cases within one bundle's promise would mislead.
    if let [m] = &mut dist.markers.iter_mut().filter(|m| m.kind == "promise").collect::<Vec<_>>()[..] {
        let within = dist.hist.cdf_at(m.value) * 100.0;
        m.label = format!("{} · {} % ≤", m.label, crate::kpis::fixed(within, 1, false));
    }
    let x_max = dist.axis.max();
    let unit = dist.unit;
    let y = Axis { ticks: vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0], labels: vec![] };
    let y = Axis { labels: y.ticks.iter().map(|t| format!("{t}")).collect(), ..y };
    let title = format!("{}：{}累计分布 · {} CDF", report.scenario, dist.what.0, dist.what.1);
    let hist = dist.hist;
    let levels: Vec<(f64, f64, &str)> =
        dist.markers.iter().filter_map(|m| m.level.map(|l| (m.minutes, l * 100.0, m.colour))).collect();
    distribution_chart(report, &dist, &title, &y, "办结占比 share of cases done within x (%)", |svg, f| {
        let mut d = String::new();
        for i in 0..=400 {
            let v = x_max * f64::from(i) / 400.0;
            let _ = write!(
                d,
                "{}{:.1} {:.1} ",
                if i == 0 { "M" } else { "L" },
                f.x(v, x_max),
                f.y(hist.cdf_at(v * unit.minutes) * 100.0, 100.0)
            );
        }
        let _ = writeln!(svg, r##"<path class="cdf" d="{d}" stroke="#0072B2" stroke-width="2" fill="none"/>"##);
        for (minutes, level, colour) in levels {
            let (px, py) = (f.x(minutes / unit.minutes, x_max), f.y(level, 100.0));
            let _ = writeln!(
                svg,
                r#"<line x1="{:.1}" y1="{py:.1}" x2="{px:.1}" y2="{py:.1}" stroke="{colour}" stroke-dasharray="2 3"/><circle cx="{px:.1}" cy="{py:.1}" r="3.5" fill="{colour}"/>"#,
                f.left
            );
        }
    })
}

/// The colour bands of utilisation: below 75 % spare capacity, below 90 % busy, from 90 %
/// near capacity (queues grow quickly). Okabe–Ito colours, told apart by colour-blind readers.
const UTILISATION_BANDS: [(f64, &str, &str); 3] = [
    (0.75, "#009E73", "< 75 % 有余量 spare capacity"),
    (0.90, "#E69F00", "75–90 % 繁忙 busy"),
    (f64::INFINITY, "#D55E00", "≥ 90 % 接近饱和 near capacity"),
];

/// Utilisation per station: horizontal bars coloured by band (with their legend above the
/// plot), each with its confidence interval as a whisker and its figure in a column on the
/// right; stations in the order windows, then departments.
pub fn utilisation(report: &Report) -> String {
    let names: Vec<&String> = if report.charts.stations.is_empty() {
        report.stations.keys().collect()
    } else {
        report.charts.stations.iter().filter(|s| report.stations.contains_key(*s)).collect()
    };
    let rows: Vec<(String, f64, Option<[f64; 2]>)> = names
        .iter()
        .map(|n| {
            let s = &report.stations[*n];
            let servers = if (s.mean_servers - f64::from(s.servers)).abs() > 1e-9 {
                number(s.mean_servers)
            } else {
                s.servers.to_string()
            };
            (format!("{n} ({servers})"), s.utilisation.mean, s.utilisation.ci)
        })
        .collect();
    let values: Vec<String> = rows
        .iter()
        .map(|(_, u, ci)| match ci {
            Some([lo, hi]) => format!(
                "{} [{}, {}]",
                crate::kpis::Kind::Share.format(*u),
                crate::kpis::fixed(lo * 100.0, 1, false),
                crate::kpis::fixed(hi * 100.0, 1, false)
            ),
            None => crate::kpis::Kind::Share.format(*u),
        })
        .collect();
    let reach = rows.iter().flat_map(|(_, u, ci)| [*u, ci.map_or(0.0, |c| c[1])]).fold(1.0, f64::max);
    let axis = Axis::new(reach * 100.0, 5);
    let title = format!("{}：各窗口与部门利用率 · utilisation per station", report.scenario);
    let sub = format!(
        "{} · 误差线 whiskers: {} % 置信区间 confidence interval · 括号内为工位数 (servers)",
        subtitle(report),
        crate::kpis::fixed(report.confidence * 100.0, 0, false)
    );
    let width = width_for(&title, &sub, W);
    let label_w = rows.iter().map(|r| text_width(&r.0, FONT)).fold(0.0, f64::max);
    let value_w = values.iter().map(|v| text_width(v, FONT)).fold(0.0, f64::max);
    let left = 12.0 + label_w + 10.0;
    let right = 12.0 + value_w + 12.0;
    let plot_w = width - left - right;
    // The legend, a row of swatches above the plot (wrapped when it does not fit).
    let mut legend = Vec::new();
    let (mut lx, mut ly) = (left, 62.0);
    for (_, colour, label) in UTILISATION_BANDS {
        let w = 18.0 + text_width(label, FONT) + 18.0;
        if lx + w > width - 12.0 && lx > left {
            lx = left;
            ly += ROW + 4.0;
        }
        legend.push((lx, ly, colour, label));
        lx += w;
    }
    let top = ly + 16.0;
    let bar_h = 16.0;
    let row_h = 24.0;
    let plot_h = row_h * rows.len().max(1) as f64;
    let height = top + plot_h + 50.0;
    let mut svg = open(width, height, &title, &sub);
    for (x, y, colour, label) in legend {
        let _ = writeln!(
            svg,
            r#"<g class="legend"><rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="{y:.1}">{}</text></g>"#,
            y - 10.0,
            x + 18.0,
            escape(label)
        );
    }
    let bottom = top + plot_h;
    let _ = writeln!(
        svg,
        r##"<rect class="plot-area" x="{left:.1}" y="{top:.1}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none"/>"##
    );
    let px = |u: f64| left + (u * 100.0 / axis.max()).clamp(0.0, 1.0) * plot_w;
    for (t, label) in axis.ticks.iter().zip(&axis.labels) {
        let x = px(t / 100.0);
        let colour = if (*t - 100.0).abs() < 1e-9 { "#999" } else { "#e5e5e5" };
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{:.1}" stroke="{colour}"/>"#,
            bottom + 5.0
        );
        text(&mut svg, x, bottom + 18.0, "middle", "x-tick", "#333", label);
    }
    for (i, ((name, u, ci), value)) in rows.iter().zip(&values).enumerate() {
        let y = top + row_h * i as f64 + (row_h - bar_h) / 2.0;
        let colour = UTILISATION_BANDS.iter().find(|b| *u < b.0).map_or("#D55E00", |b| b.1);
        text(&mut svg, left - 8.0, y + 12.0, "end", "station", "#000", name);
        let _ = writeln!(
            svg,
            r#"<rect class="bar" x="{left:.1}" y="{y:.1}" width="{:.1}" height="{bar_h}" fill="{colour}" data-value="{u}"/>"#,
            px(*u) - left
        );
        if let Some([lo, hi]) = ci {
            let (a, b, mid) = (px(*lo), px(*hi), y + bar_h / 2.0);
            let _ = writeln!(
                svg,
                r##"<path class="whisker" data-low="{lo}" data-high="{hi}" d="M{a:.1} {mid:.1} H{b:.1} M{a:.1} {:.1} V{:.1} M{b:.1} {:.1} V{:.1}" stroke="#000" stroke-width="1.2" fill="none"/>"##,
                mid - 5.0,
                mid + 5.0,
                mid - 5.0,
                mid + 5.0
            );
        }
        text(&mut svg, left + plot_w + 12.0, y + 12.0, "start", "value", "#000", value);
    }
    let _ = writeln!(
        svg,
        r##"<path d="M{left:.1} {top:.1} V{bottom:.1} H{:.1}" stroke="#333" fill="none"/>"##,
        left + plot_w
    );
    text(&mut svg, left + plot_w / 2.0, bottom + 38.0, "middle", "x-title", "#000", "利用率 utilisation (%)");
    svg.push_str("</svg>\n");
    svg
}

/// Queue length over time at every station, one small panel each (its own y scale, round
/// ticks), and the work in progress — cases in the hall — in a last panel; the warm-up, which
/// the samples cover and the report's levels do not, shaded in every panel. Samples of the
/// first replication.
pub fn queues(report: &Report) -> String {
    let s = &report.charts.series;
    let end = s.t.last().copied().unwrap_or(1.0).max(1.0);
    let unit = time_unit(end);
    let x_axis = Axis::new(end / unit.minutes, 4);
    let mut panels: Vec<(String, String, &[f64])> = report
        .charts
        .stations
        .iter()
        .zip(&s.queues)
        .map(|(name, q)| (name.clone(), name.clone(), q.as_slice()))
        .collect();
    panels.push(("wip".to_owned(), "在办件数 cases in the hall (WIP)".to_owned(), s.wip.as_slice()));
    let title = format!("{}：各窗口与部门排队人数 · queue length per station over time", report.scenario);
    let sub = format!(
        "第 1 次重复 replication 1 · 纵轴 y: 排队人数 jobs waiting, 每格各自刻度 each panel its own scale · 横轴 x: {} {}",
        unit.zh, unit.en
    );
    let width = width_for(&title, &sub, W);
    // Columns: three (two for few panels), fewer when a panel's title would not fit.
    let widest = panels.iter().map(|p| text_width(&p.1, FONT)).fold(0.0, f64::max);
    let mut cols = if panels.len() >= 5 { 3 } else { panels.len().clamp(1, 2) };
    while cols > 1 && (width - 24.0) / cols as f64 - 16.0 < widest {
        cols -= 1;
    }
    let panel_w = (width - 24.0) / cols as f64;
    let (title_h, plot_h, axis_h) = (20.0, 70.0, 30.0);
    let panel_h = title_h + plot_h + axis_h;
    let warm_up = s.warm_up_end.filter(|&e| e > 0.0);
    let legend_y = 62.0;
    let top = if warm_up.is_some() { legend_y + 14.0 } else { 52.0 };
    let rows = panels.len().div_ceil(cols);
    let height = top + panel_h * rows as f64 + 12.0;
    let mut svg = open(width, height, &title, &sub);
    if warm_up.is_some() {
        let _ = writeln!(
            svg,
            r##"<g class="legend"><rect x="12" y="{:.1}" width="12" height="12" fill="#999999" fill-opacity="0.3"/><text x="30" y="{legend_y:.1}">预热期（不计入指标） warm-up (not measured)</text></g>"##,
            legend_y - 10.0
        );
    }
    for (k, (key, label, samples)) in panels.iter().enumerate() {
        let (col, row) = (k % cols, k / cols);
        let (x0, y0) = (12.0 + panel_w * col as f64, top + panel_h * row as f64);
        let y_axis = Axis::new(samples.iter().copied().fold(0.0, f64::max).max(1.0), 2);
        let left = x0 + 8.0 + y_axis.widest(SMALL) + 6.0;
        let right = x0 + panel_w - 8.0 - text_width(x_axis.labels.last().map_or("", String::as_str), SMALL) / 2.0;
        let (pt, pb) = (y0 + title_h, y0 + title_h + plot_h);
        let px = |t: f64| left + (t / unit.minutes / x_axis.max()).clamp(0.0, 1.0) * (right - left);
        let py = |v: f64| pb - (v / y_axis.max()).clamp(0.0, 1.0) * plot_h;
        let _ = writeln!(svg, r#"<g class="panel" data-station="{}">"#, escape(key));
        text(&mut svg, x0 + 8.0, y0 + 14.0, "start", "panel-title", "#000", label);
        let _ = writeln!(
            svg,
            r##"<rect class="plot-area" x="{left:.1}" y="{pt:.1}" width="{:.1}" height="{plot_h}" fill="none"/>"##,
            right - left
        );
        if let Some(w) = warm_up {
            let id = if k == 0 { r#" id="warm-up""# } else { "" };
            let _ = writeln!(
                svg,
                r##"<rect{id} class="warm-up" x="{left:.1}" y="{pt:.1}" width="{:.1}" height="{plot_h}" fill="#999999" fill-opacity="0.3"/>"##,
                px(w) - left
            );
        }
        for (t, l) in y_axis.ticks.iter().zip(&y_axis.labels) {
            let y = py(*t);
            let _ =
                writeln!(svg, r##"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#e5e5e5"/>"##);
            let _ = writeln!(
                svg,
                r##"<text class="y-tick" x="{:.1}" y="{:.1}" text-anchor="end" font-size="{SMALL}" fill="#333">{}</text>"##,
                left - 4.0,
                y + 3.5,
                escape(l)
            );
        }
        for (t, l) in x_axis.ticks.iter().zip(&x_axis.labels) {
            let x = px(t * unit.minutes);
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{pb:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333"/><text class="x-tick" x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="{SMALL}" fill="#333">{}</text>"##,
                pb + 4.0,
                pb + 15.0,
                escape(l)
            );
        }
        let mut d = String::new();
        for (i, (&t, &q)) in s.t.iter().zip(samples.iter()).enumerate() {
            let _ = write!(d, "{}{:.1} {:.1} ", if i == 0 { "M" } else { "L" }, px(t), py(q));
        }
        let (id, colour) = if key == "wip" { (r#" id="wip""#, "#000000") } else { ("", PALETTE[0]) };
        let _ = writeln!(svg, r#"<path{id} class="series" d="{d}" stroke="{colour}" stroke-width="1.2" fill="none"/>"#);
        let _ = writeln!(svg, r##"<path d="M{left:.1} {pt:.1} V{pb:.1} H{right:.1}" stroke="#333" fill="none"/>"##);
        svg.push_str("</g>\n");
    }
    svg.push_str("</svg>\n");
    svg
}

/// A row of the Gantt chart: when it began, its label, its pieces (from, to, colour).
type GanttRow = (f64, String, Vec<(f64, f64, &'static str)>);

/// Gantt chart of one sample case: its window visits and approval tasks in the order they
/// began (waiting in the department queue light, the review dark), the time axis in minutes,
/// hours or days by the case's length, the label column as wide as the longest label.
pub fn gantt(report: &Report) -> String {
    let Some(g) = &report.charts.gantt else {
        let title = format!("{}：没有完成的样本办件 · no sample case completed", report.scenario);
        let mut svg = open(width_for(&title, "", W), 80.0, &title, "");
        svg.push_str("</svg>\n");
        return svg;
    };
    let grey = "#999999";
    let (light, dark) = ("#A6CEE3", "#0072B2");
    let mut bars: Vec<GanttRow> = Vec::new();
    for (label, a, b) in &g.phases {
        let zh = match label.as_str() {
            "consult" => "咨询 consult",
            "intake" => "受理 intake",
            "delivery" => "出件 delivery",
            other => other,
        };
        bars.push((*a, zh.to_owned(), vec![(*a, *b, grey)]));
    }
    for (item, dept, ready, claimed, done) in &g.tasks {
        bars.push((*ready, format!("{item} ({dept})"), vec![(*ready, *claimed, light), (*claimed, *done, dark)]));
    }
    bars.sort_by(|a, b| a.0.total_cmp(&b.0));
    let end = bars.iter().flat_map(|b| b.2.iter().map(|p| p.1)).filter(|v| v.is_finite()).fold(g.arrival, f64::max);
    let span = (end - g.arrival).max(1.0);
    let unit = time_unit(span);
    let axis = Axis::new(span / unit.minutes, 6);
    let title = format!("{}：样本办件 {} 的办理过程 · sample case of {}", report.scenario, g.bundle, g.bundle);
    let sub = format!("自到达起 since arrival · 共 total {}", duration(span, unit));
    let width = width_for(&title, &sub, W);
    let label_w = bars.iter().map(|b| text_width(&b.1, FONT)).fold(0.0, f64::max);
    let left = 12.0 + label_w + 10.0;
    let right = 12.0 + text_width(axis.labels.last().map_or("", String::as_str), FONT) / 2.0;
    let plot_w = width - left - right;
    let top = 56.0;
    let row_h = 24.0;
    let plot_h = row_h * bars.len() as f64;
    let bottom = top + plot_h;
    // The legend under the axis title, wrapped to the width.
    let entries =
        [(grey, "窗口办理 window visit"), (light, "部门排队 waiting in the department queue"), (dark, "审查 review")];
    let mut legend = Vec::new();
    let (mut lx, mut ly) = (left, bottom + 62.0);
    for (colour, label) in entries {
        let w = 18.0 + text_width(label, FONT) + 18.0;
        if lx + w > width - 12.0 && lx > left {
            lx = left;
            ly += ROW + 4.0;
        }
        legend.push((lx, ly, colour, label));
        lx += w;
    }
    let height = ly + 16.0;
    let mut svg = open(width, height, &title, &sub);
    let _ = writeln!(
        svg,
        r##"<rect class="plot-area" x="{left:.1}" y="{top:.1}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none"/>"##
    );
    let px = |t: f64| left + ((t - g.arrival) / unit.minutes / axis.max()).clamp(0.0, 1.0) * plot_w;
    for (t, label) in axis.ticks.iter().zip(&axis.labels) {
        let x = left + t / axis.max() * plot_w;
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{:.1}" stroke="#e5e5e5"/>"##,
            bottom + 5.0
        );
        text(&mut svg, x, bottom + 18.0, "middle", "x-tick", "#333", label);
    }
    for (i, (_, label, pieces)) in bars.iter().enumerate() {
        let y = top + row_h * i as f64 + 4.0;
        text(&mut svg, left - 8.0, y + 12.0, "end", "row-label", "#000", label);
        for &(a, b, colour) in pieces {
            if a.is_finite() && b.is_finite() && b >= a {
                let _ = writeln!(
                    svg,
                    r#"<rect class="bar" x="{:.1}" y="{y:.1}" width="{:.1}" height="16" fill="{colour}"/>"#,
                    px(a),
                    (px(b) - px(a)).max(1.0)
                );
            }
        }
    }
    let _ = writeln!(
        svg,
        r##"<path d="M{left:.1} {top:.1} V{bottom:.1} H{:.1}" stroke="#333" fill="none"/>"##,
        left + plot_w
    );
    let x_title = format!("自到达起 since arrival ({} {})", unit.zh, unit.en);
    text(&mut svg, left + plot_w / 2.0, bottom + 38.0, "middle", "x-title", "#000", &x_title);
    for (x, y, colour, label) in legend {
        let _ = writeln!(
            svg,
            r#"<g class="legend"><rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="{y:.1}">{}</text></g>"#,
            y - 10.0,
            x + 18.0,
            escape(label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The relative differences that `compare` found, as a manager reads them: for every scenario
/// against the baseline, one row per KPI with a relative difference (the baseline not 0), a dot
/// at the difference in % and a whisker for its interval; filled when significant after Holm's
/// correction for the scenario's family of KPIs, hollow when not, grey when untested (one
/// replication of a per-replication figure). The axis is symmetric around 0 and reaches at most
/// ±100 %: a dot or whisker beyond ends in an arrow, and the column on the right gives every
/// figure exactly.
pub fn differences(c: &crate::report::Comparison) -> String {
    const CAP: f64 = 100.0;
    let rows: Vec<(Option<&str>, String, &crate::report::KpiDifference)> = c
        .differences
        .iter()
        .flat_map(|d| {
            d.kpis.iter().filter(|k| k.relative.is_some()).map(move |k| {
                let (zh, en) = crate::kpis::label(&k.kpi);
                (Some(d.scenario.as_str()), format!("{zh} {en}"), k)
            })
        })
        .collect();
    let reach = rows
        .iter()
        .flat_map(|(_, _, k)| {
            let r = k.relative.unwrap_or(0.0) * 100.0;
            let ci = k.relative_ci.map_or([r, r], |[lo, hi]| [lo * 100.0, hi * 100.0]);
            [r.abs(), ci[0].abs(), ci[1].abs()]
        })
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max)
        .min(CAP);
    let half = Axis::new(reach, 3);
    let step = half.step();
    let ticks: Vec<f64> = half.ticks.iter().rev().map(|t| -t).chain(half.ticks.iter().skip(1).copied()).collect();
    let labels: Vec<String> = ticks
        .iter()
        .map(|t| if *t > 0.0 { format!("+{}", tick_label(*t, step)) } else { tick_label(*t, step) })
        .collect();
    let x_max = half.max();
    let values: Vec<String> = rows
        .iter()
        .map(|(_, _, k)| {
            let ci = k.relative_ci.map_or_else(String::new, |[lo, hi]| {
                format!(" [{}, {}]", crate::kpis::fixed(lo * 100.0, 1, true), crate::kpis::fixed(hi * 100.0, 1, true))
            });
            let star = if k.significant == Some(true) { " *" } else { "" };
            format!("{}{ci}{star}", crate::kpis::format_relative(k.relative.unwrap_or(0.0)))
        })
        .collect();
    let title = format!("相对基准 {} 的变化 · change against the baseline {}", c.baseline, c.baseline);
    let sub = format!(
        "{} 次重复 replications · {} % 置信区间 confidence intervals · {} random numbers · {}",
        c.replications,
        crate::kpis::fixed(c.confidence * 100.0, 0, false),
        c.random_numbers,
        c.multiple_comparisons
    );
    let width = width_for(&title, &sub, W);
    let label_w = rows.iter().map(|r| text_width(&r.1, FONT)).fold(0.0, f64::max);
    let value_w = values.iter().map(|v| text_width(v, FONT)).fold(0.0, f64::max);
    let left = 12.0 + label_w + 10.0;
    let right = 12.0 + value_w + 12.0;
    let plot_w = (width - left - right).max(240.0);
    let width = left + plot_w + right;
    let entries = [
        ("#0072B2", "1", "显著 significant (Holm–Bonferroni)"),
        ("#0072B2", "0", "不显著 not significant"),
        ("#999999", "1", "未检验 not tested"),
    ];
    let mut legend = Vec::new();
    let (mut lx, mut ly) = (12.0, 62.0);
    for (colour, filled, label) in entries {
        let w = 18.0 + text_width(label, FONT) + 18.0;
        if lx + w > width - 12.0 && lx > 12.0 {
            lx = 12.0;
            ly += ROW + 4.0;
        }
        legend.push((lx, ly, colour, filled, label));
        lx += w;
    }
    let row_h = 22.0;
    let headers = c.differences.len();
    let top = ly + 18.0;
    let plot_h = row_h * (rows.len() + headers) as f64;
    let bottom = top + plot_h;
    let height = bottom + 50.0;
    let mut svg = open(width, height, &title, &sub);
    for (x, y, colour, filled, label) in legend {
        let fill = if filled == "1" { colour } else { "white" };
        let _ = writeln!(
            svg,
            r#"<g class="legend"><circle cx="{:.1}" cy="{:.1}" r="5" fill="{fill}" stroke="{colour}" stroke-width="1.5"/><text x="{:.1}" y="{y:.1}">{}</text></g>"#,
            x + 6.0,
            y - 4.0,
            x + 18.0,
            escape(label)
        );
    }
    let _ = writeln!(
        svg,
        r##"<rect class="plot-area" x="{left:.1}" y="{top:.1}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none"/>"##
    );
    let px = |v: f64| left + (v.clamp(-x_max, x_max) + x_max) / (2.0 * x_max) * plot_w;
    for (t, label) in ticks.iter().zip(&labels) {
        let x = px(*t);
        let colour = if *t == 0.0 { "#333" } else { "#e5e5e5" };
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{:.1}" stroke="{colour}"/>"#,
            bottom + 5.0
        );
        text(&mut svg, x, bottom + 18.0, "middle", "x-tick", "#333", label);
    }
    let mut row = 0.0;
    let mut current: Option<&str> = None;
    for ((scenario, label, k), value) in rows.iter().zip(&values) {
        if *scenario != current {
            current = *scenario;
            let y = top + row_h * row + 15.0;
            let name = format!("{} − {}", scenario.unwrap_or(""), c.baseline);
            let _ = writeln!(
                svg,
                r#"<text class="scenario" x="{:.1}" y="{y:.1}" font-weight="bold">{}</text>"#,
                left + 6.0,
                escape(&name)
            );
            row += 1.0;
        }
        let y = top + row_h * row + row_h / 2.0;
        text(&mut svg, left - 8.0, y + 4.0, "end", "kpi", "#000", label);
        let r = k.relative.unwrap_or(0.0) * 100.0;
        let (colour, fill) = match k.significant {
            Some(true) => ("#0072B2", "#0072B2"),
            Some(false) => ("#0072B2", "white"),
            None => ("#999999", "#999999"),
        };
        if let Some([lo, hi]) = k.relative_ci {
            let (lo, hi) = (lo * 100.0, hi * 100.0);
            let (a, b) = (px(lo), px(hi));
            let _ = writeln!(
                svg,
                r#"<path class="whisker" d="M{a:.1} {y:.1} H{b:.1}" stroke="{colour}" stroke-width="1.5" fill="none"/>"#
            );
            for (end, v, dir) in [(a, lo, -1.0), (b, hi, 1.0)] {
                if v.abs() > x_max {
                    let _ = writeln!(
                        svg,
                        r#"<path class="beyond" d="M{end:.1} {y:.1} l{:.1} -4 v8 z" fill="{colour}"/>"#,
                        -dir * 7.0
                    );
                } else {
                    let _ = writeln!(
                        svg,
                        r#"<path d="M{end:.1} {:.1} V{:.1}" stroke="{colour}" stroke-width="1.5"/>"#,
                        y - 4.0,
                        y + 4.0
                    );
                }
            }
        }
        let _ = writeln!(
            svg,
            r#"<circle class="difference" data-kpi="{}" data-relative="{}" data-significant="{}" cx="{:.1}" cy="{y:.1}" r="4.5" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>"#,
            escape(&k.kpi),
            r,
            k.significant.map_or("untested", |s| if s { "true" } else { "false" }),
            px(r)
        );
        text(&mut svg, left + plot_w + 12.0, y + 4.0, "start", "value", "#000", value);
        row += 1.0;
    }
    text(&mut svg, left + plot_w / 2.0, bottom + 38.0, "middle", "x-title", "#000", "相对变化 relative difference (%)");
    svg.push_str("</svg>\n");
    svg
}

/// Every chart of `report` by its file name (without `.svg`).
pub fn charts(report: &Report) -> [(&'static str, String); 5] {
    [
        ("cycle-time-histogram", cycle_histogram(report)),
        ("cycle-time-cdf", cycle_cdf(report)),
        ("utilisation", utilisation(report)),
        ("queue-length", queues(report)),
        ("gantt", gantt(report)),
    ]
}

/// Writes every chart of `report` into `dir` (created if needed) and the page that gathers
/// them with the KPI table, `report.html` ([`crate::html::page`]), file names prefixed with
/// `prefix`; returns the paths written.
pub fn write_charts(report: &Report, dir: &Path, prefix: &str) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let charts = charts(report);
    let mut written = Vec::new();
    for (name, svg) in &charts {
        let path = dir.join(format!("{prefix}{name}.svg"));
        std::fs::write(&path, svg)?;
        written.push(path);
    }
    let path = dir.join(format!("{prefix}report.html"));
    std::fs::write(&path, crate::html::page(report, &charts))?;
    written.push(path);
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
