//! Charts a manager reads (issue 24 part 8), tested by parsing the SVG: no label is cut by the
//! chart's edge, legends and marker labels stay off the plot, ticks are round (1-2-5 steps),
//! units follow the magnitude, the promise and P50/P90/P95 are marked, a cut tail is noted,
//! every station has its panel, utilisation has whiskers and a colour legend; and
//! `report.html` gathers them offline. [`check`] is the one checker every chart passes; the
//! first test shows that it catches each broken rule.

use std::path::{Path, PathBuf};

use roxmltree::{Document, Node};
use yichuang_sim::chart::text_width;
use yichuang_sim::report::{Promise, Report};
use yichuang_sim::{RunOptions, Scenario, simulate};

fn example(name: &str) -> Scenario {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios").join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A box: left, top, right, bottom.
type Bounds = (f64, f64, f64, f64);

fn number(node: Node<'_, '_>, name: &str) -> Option<f64> {
    node.attribute(name).and_then(|v| v.parse().ok())
}

/// The font size in effect at `node` (its own or an ancestor's, else 12).
fn font_size(node: Node<'_, '_>) -> f64 {
    node.ancestors().find_map(|n| number(n, "font-size")).unwrap_or(12.0)
}

/// The box a text element covers, from its measured width and its anchor; a text rotated by
/// ±90° about its anchor point runs vertically.
fn text_bounds(node: Node<'_, '_>) -> Bounds {
    let (x, y) = (number(node, "x").unwrap_or(0.0), number(node, "y").unwrap_or(0.0));
    let size = font_size(node);
    let w = text_width(node.text().unwrap_or(""), size);
    let (a, b) = match node.attribute("text-anchor") {
        Some("middle") => (-w / 2.0, w / 2.0),
        Some("end") => (-w, 0.0),
        _ => (0.0, w),
    };
    if node.attribute("transform").is_some_and(|t| t.starts_with("rotate(-90") || t.starts_with("rotate(90")) {
        (x - size, y - b, x + 0.3 * size, y - a)
    } else {
        (x + a, y - size, x + b, y + 0.3 * size)
    }
}

fn overlaps(a: Bounds, b: Bounds) -> bool {
    a.0 < b.2 - 0.5 && b.0 < a.2 - 0.5 && a.1 < b.3 - 0.5 && b.1 < a.3 - 0.5
}

fn is_one_two_five(step: f64) -> bool {
    let mantissa = step / 10f64.powf(step.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().any(|m| (mantissa - m).abs() < 1e-6)
}

/// Every rule a chart keeps, checked on its SVG; the broken ones, each said in a sentence.
fn check(svg: &str) -> Vec<String> {
    let doc = match Document::parse(svg) {
        Ok(doc) => doc,
        Err(e) => return vec![format!("not well-formed SVG: {e}")],
    };
    let root = doc.root_element();
    let (width, height) = (number(root, "width").unwrap_or(0.0), number(root, "height").unwrap_or(0.0));
    let mut broken = Vec::new();
    if root.attribute("viewBox") != Some(&*format!("0 0 {width} {height}")) {
        broken.push(format!("viewBox {:?} is not the chart's size {width} × {height}", root.attribute("viewBox")));
    }
    let plots: Vec<Bounds> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("plot-area"))
        .map(|n| {
            let (x, y) = (number(n, "x").unwrap_or(0.0), number(n, "y").unwrap_or(0.0));
            (x, y, x + number(n, "width").unwrap_or(0.0), y + number(n, "height").unwrap_or(0.0))
        })
        .collect();
    for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let label = text.text().unwrap_or("");
        let b = text_bounds(text);
        if b.0 < 0.0 || b.1 < 0.0 || b.2 > width || b.3 > height {
            broken.push(format!("`{label}` at {b:?} is cut by the chart's edge (0 0 {width} {height})"));
        }
        let keyed = text.attribute("class") == Some("marker-label")
            || text.ancestors().any(|a| a.attribute("class") == Some("legend"));
        if keyed && let Some(p) = plots.iter().find(|p| overlaps(b, **p)) {
            broken.push(format!("legend or marker label `{label}` at {b:?} lies over the plot {p:?}"));
        }
    }
    // Ticks, per plot (the root, or each panel): round steps, labels apart.
    let groups: Vec<Node> =
        std::iter::once(root).chain(doc.descendants().filter(|n| n.attribute("class") == Some("panel"))).collect();
    for group in groups {
        for class in ["x-tick", "y-tick"] {
            let nodes: Vec<Node> = group
                .descendants()
                .filter(|n| n.attribute("class") == Some(class))
                .filter(|n| group == root || n.ancestors().any(|a| a == group))
                .filter(|n| group != root || !n.ancestors().any(|a| a.attribute("class") == Some("panel")))
                .collect();
            let mut values: Vec<f64> =
                nodes.iter().filter_map(|n| n.text().and_then(|t| t.replace(',', "").parse().ok())).collect();
            if values.len() != nodes.len() {
                broken.push(format!("a {class} label is not a number"));
                continue;
            }
            values.sort_by(f64::total_cmp);
            values.dedup();
            if values.len() >= 2 {
                let step = values[1] - values[0];
                if !is_one_two_five(step)
                    || values.windows(2).any(|w| ((w[1] - w[0]) - step).abs() > 1e-6 * step.max(1.0))
                {
                    broken.push(format!("{class} labels {values:?} are not in round 1-2-5 steps"));
                }
            }
            for (i, a) in nodes.iter().enumerate() {
                for b in &nodes[i + 1..] {
                    if overlaps(text_bounds(*a), text_bounds(*b)) {
                        broken.push(format!("{class} labels `{:?}` and `{:?}` overlap", a.text(), b.text()));
                    }
                }
            }
        }
    }
    broken
}

fn assert_passes(name: &str, svg: &str) {
    let broken = check(svg);
    assert!(broken.is_empty(), "{name}: {broken:#?}");
}

/// The markers of a distribution chart: (kind, value in minutes).
fn markers(svg: &str) -> Vec<(String, f64)> {
    let doc = Document::parse(svg).expect("SVG");
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("marker"))
        .map(|n| (n.attribute("data-kind").unwrap_or("").to_owned(), number(n, "data-value").unwrap_or(f64::NAN)))
        .collect()
}

fn x_title(svg: &str) -> String {
    let doc = Document::parse(svg).expect("SVG");
    doc.descendants().find(|n| n.attribute("class") == Some("x-title")).and_then(|n| n.text()).unwrap_or("").to_owned()
}

/// The checker catches each broken rule: a label past the edge, a legend over the data,
/// ticks at a step of 0.0175 (the old histogram's), overlapping tick labels.
#[test]
fn the_checker_catches_each_broken_rule() {
    let report = simulate(&example("parity-parallel.ron"), &RunOptions { cases: Some(300), ..RunOptions::default() })
        .expect("runs");
    let good = yichuang_sim::svg::utilisation(&report);
    assert_passes("utilisation", &good);
    // A label moved past the left edge.
    let station = good.find(r#"class="station" x=""#).expect("a station label");
    let mut moved = good.clone();
    let start = station + r#"class="station" x=""#.len();
    let end = start + moved[start..].find('"').expect("x");
    moved.replace_range(start..end, "4");
    assert!(check(&moved).iter().any(|b| b.contains("cut by the chart's edge")), "{:?}", check(&moved));
    // The legend moved into the plot.
    let doc = Document::parse(&good).expect("SVG");
    let plot = doc.descendants().find(|n| n.attribute("class") == Some("plot-area")).expect("plot");
    let (px, py) = (number(plot, "x").expect("x") + 40.0, number(plot, "y").expect("y") + 30.0);
    let over = with_first_legend_text_at(&good, px, py);
    assert!(check(&over).iter().any(|b| b.contains("lies over the plot")), "{:?}", check(&over));
    // Ticks at 0.0175.
    let mut odd = String::from(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" viewBox="0 0 400 300" font-size="12">"#,
    );
    for (i, v) in ["0", "0.0175", "0.035", "0.0525"].iter().enumerate() {
        odd.push_str(&format!(r#"<text class="y-tick" x="60" y="{}" text-anchor="end">{v}</text>"#, 250 - 50 * i));
    }
    odd.push_str(r#"<text class="x-tick" x="100" y="280" text-anchor="middle">10,000</text><text class="x-tick" x="120" y="280" text-anchor="middle">20,000</text></svg>"#);
    let broken = check(&odd);
    assert!(broken.iter().any(|b| b.contains("y-tick labels") && b.contains("1-2-5")), "{broken:?}");
    assert!(broken.iter().any(|b| b.contains("x-tick labels") && b.contains("overlap")), "{broken:?}");
}

/// `svg` with the first legend's text moved to (x, y).
fn with_first_legend_text_at(svg: &str, x: f64, y: f64) -> String {
    let at = svg.find(r#"<g class="legend">"#).expect("a legend");
    let text = at + svg[at..].find("<text x=\"").expect("legend text");
    let close = text + svg[text..].find('>').expect("tag end");
    format!("{}<text x=\"{x}\" y=\"{y}\"{}", &svg[..text], &svg[close..])
}

/// The parity hall (24/7, promise 360 minutes): every chart passes the checker; the histogram
/// and the CDF mark the promise and the report's P50/P90/P95, in minutes or hours.
#[test]
fn the_parity_charts_mark_the_promise_and_the_percentiles() {
    let options = RunOptions { cases: Some(2000), replications: Some(2), ..RunOptions::default() };
    let report = simulate(&example("parity-parallel.ron"), &options).expect("runs");
    assert_eq!(report.charts.promise, Promise::WithinMinutes(360.0));
    for (name, svg) in yichuang_sim::svg::charts(&report) {
        assert_passes(name, &svg);
    }
    let cycle = report.cycle_time_minutes.as_ref().expect("cycle time");
    for svg in [yichuang_sim::svg::cycle_histogram(&report), yichuang_sim::svg::cycle_cdf(&report)] {
        let m = markers(&svg);
        for (kind, value) in [("p50", cycle.p50), ("p90", cycle.p90), ("p95", cycle.p95), ("promise", 360.0)] {
            assert!(m.iter().any(|(k, v)| k == kind && (v - value).abs() < 1e-9), "{kind} = {value} in {m:?}");
        }
        let title = x_title(&svg);
        assert!(title.contains("小时 hours") || title.contains("分钟 minutes"), "{title}");
    }
    let cdf = yichuang_sim::svg::cycle_cdf(&report);
    assert!(cdf.contains("承诺 promise 6 小时") && cdf.contains("% ≤"), "the promise and the share within it");
}

/// The county hall (office hours, promises in working days, a long tail, 21 stations): the
/// distribution is of the working cycle time in working days with each bundle's promise; the
/// axis ends before the longest case and a note says so; every station has its panel; every
/// utilisation bar its whisker; the colour legend is there.
#[test]
fn the_county_hall_charts_read_in_working_days_with_every_station() {
    let options = RunOptions { replications: Some(2), ..RunOptions::default() };
    let report = simulate(&example("county-hall.ron"), &options).expect("runs");
    for (name, svg) in yichuang_sim::svg::charts(&report) {
        assert_passes(name, &svg);
    }
    let Promise::WorkingDays(days) = &report.charts.promise else { panic!("{:?}", report.charts.promise) };
    assert!(days.len() >= 3 && days.iter().any(|(d, ids)| *d == 13 && ids.contains(&"open-restaurant".to_owned())));
    let histogram = yichuang_sim::svg::cycle_histogram(&report);
    assert!(x_title(&histogram).contains("工作日 working days"), "{}", x_title(&histogram));
    let promised: Vec<f64> = markers(&histogram).into_iter().filter(|(k, _)| k == "promise").map(|(_, v)| v).collect();
    assert_eq!(promised.len(), days.len(), "one marker per promised limit");
    let day = report.charts.day_minutes;
    assert!(day > 300.0 && day < 600.0, "an office day: {day} working minutes");
    // The tail: the axis ends before the longest case, and the note says where and how many.
    let doc = Document::parse(&histogram).expect("SVG");
    let last_tick: f64 = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("x-tick"))
        .filter_map(|n| n.text().and_then(|t| t.replace(',', "").parse().ok()))
        .fold(0.0, f64::max);
    let longest = report.working_cycle_time_minutes.as_ref().expect("working cycle").max / day;
    let note = doc.descendants().find(|n| n.attribute("id") == Some("tail-note")).and_then(|n| n.text());
    assert_eq!(
        note.is_some(),
        longest > last_tick,
        "a note exactly when the axis cuts the tail ({longest} > {last_tick})"
    );
    if let Some(note) = note {
        assert!(note.contains("横轴截至") && note.contains(&format!("{last_tick} 工作日")), "{note}");
    }
    // Every station has its panel, and the work in progress one more.
    let queues = yichuang_sim::svg::queues(&report);
    let doc = Document::parse(&queues).expect("SVG");
    let panels: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("panel"))
        .filter_map(|n| n.attribute("data-station"))
        .collect();
    assert_eq!(panels.len(), report.stations.len() + 1, "{panels:?}");
    assert!(report.stations.keys().all(|s| panels.contains(&s.as_str())) && panels.contains(&"wip"));
    assert!(report.stations.len() >= 20, "{} stations", report.stations.len());
    // Utilisation: a whisker per station with an interval, the values in it, three bands.
    let util = yichuang_sim::svg::utilisation(&report);
    let doc = Document::parse(&util).expect("SVG");
    let whiskers: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("whisker"))
        .map(|n| (number(n, "data-low").expect("low"), number(n, "data-high").expect("high")))
        .collect();
    let with_ci: Vec<[f64; 2]> = report.stations.values().filter_map(|s| s.utilisation.ci).collect();
    assert_eq!(whiskers.len(), with_ci.len());
    assert_eq!(whiskers.len(), report.stations.len(), "two replications give every station an interval");
    let legend: Vec<String> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("legend"))
        .filter_map(|g| g.descendants().find(|n| n.has_tag_name("text")).and_then(|t| t.text()).map(str::to_owned))
        .collect();
    assert_eq!(legend.len(), 3, "{legend:?}");
    assert!(legend.iter().any(|l| l.contains("≥ 90 %")));
}

/// A scenario with a warm-up shades it in every station's panel and says so in the legend.
#[test]
fn the_queue_panels_shade_the_warm_up() {
    let report = simulate(&example("county-hall.ron"), &RunOptions { replications: Some(1), ..RunOptions::default() })
        .expect("runs");
    let svg = yichuang_sim::svg::queues(&report);
    let doc = Document::parse(&svg).expect("SVG");
    let shades = doc.descendants().filter(|n| n.attribute("class") == Some("warm-up")).count();
    assert_eq!(shades, report.stations.len() + 1, "one shade per panel");
    assert!(svg.contains("warm-up (not measured)"));
    assert_passes("queue-length", &svg);
}

/// `report.html`: one page, nothing loaded from elsewhere, the KPI table in Chinese and
/// English with the report's figures, the steady-state verdict, and every chart inline.
#[test]
fn the_report_page_gathers_the_charts_and_the_kpis_offline() {
    let report: Report =
        simulate(&example("parity-parallel.ron"), &RunOptions { cases: Some(1000), ..RunOptions::default() })
            .expect("runs");
    let dir = std::env::temp_dir().join(format!("yichuang-report-{}", std::process::id()));
    let written = yichuang_sim::svg::write_charts(&report, &dir, "").expect("written");
    assert_eq!(written.len(), 6);
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(page.starts_with("<!doctype html>") && page.contains(r#"<meta charset="utf-8">"#));
    for outside in ["http://", "https://", "src=", "href=", "@import", "url("] {
        let hits: Vec<&str> = page.match_indices(outside).map(|(i, _)| &page[i..(i + 60).min(page.len())]).collect();
        let svg_namespace = hits.iter().all(|h| h.starts_with("http://www.w3.org/2000/svg"));
        assert!(hits.is_empty() || svg_namespace, "`{outside}` loads something: {hits:?}");
    }
    assert_eq!(page.matches("<svg ").count(), 5, "every chart inline");
    for label in ["平均办件周期", "Mean cycle time", "按时办结率", "On-time rate", "利用率", "稳态"] {
        assert!(page.contains(label), "{label}");
    }
    let mean = report.cycle_time_minutes.as_ref().expect("cycle").mean;
    assert!(page.contains(&format!("{mean:.1}")), "the mean cycle time {mean:.1} is in the table");
    // The page is well-formed enough to read as XML once the doctype is dropped.
    let body = page
        .trim_start_matches("<!doctype html>")
        .replace(r#"<meta charset="utf-8">"#, "")
        .replace(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#, "");
    Document::parse(&body).expect("balanced markup");
}

/// The sweep chart (a KPI against a factor, its interval as a band) keeps the same rules.
#[test]
fn the_sweep_chart_passes_the_checker() {
    use yichuang_sim::experiment::{Design, Factor, points, run};
    let base = example("parity-parallel.ron");
    let factors = vec![Factor::parse("windows.Intake=12..16").expect("a factor")];
    let points = points(&base, &factors, Design::Grid).expect("valid points");
    let options = RunOptions { replications: Some(2), cases: Some(400), ..RunOptions::default() };
    let report = run(&base, &points, &factors, Design::Grid, &options).expect("runs");
    let kpis = ["cycle_time_minutes.mean".to_owned(), "on_time_rate".to_owned()];
    let mut charts = Vec::new();
    for kpi in &kpis {
        let svg = yichuang_sim::svg::sweep(&report, kpi);
        assert_passes(kpi, &svg);
        assert!(svg.contains(r#"class="band""#), "{kpi}: an interval band");
        charts.push((kpi.clone(), svg));
    }
    // The experiment's page: a row per point with each KPI and its interval, the charts inline.
    let page = yichuang_sim::html::experiment_page(&report, &kpis, &charts);
    assert_eq!(page.matches("<tr><td class=\"num\">").count(), 5, "a row per point");
    assert_eq!(page.matches("<svg ").count(), 2);
    assert!(page.contains("按时办结率 On-time rate") && page.contains("windows.Intake"));
    let k = &report.points[0].kpis.iter().find(|k| k.kpi == "cycle_time_minutes.mean").expect("KPI");
    let [lo, hi] = k.ci.expect("two replications give an interval");
    assert!(page.contains(&format!("[{lo:.1}, {hi:.1}]")), "the interval [{lo:.1}, {hi:.1}] is in the table");
}

/// Chromium, when this machine has it; `None` means skip, unless CI requires the browser
/// (`YICHUANG_REQUIRE_BROWSER=1`), when a missing browser fails the test.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
            .find(|p| p.is_file())
    });
    let required = std::env::var("YICHUANG_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(found.is_some() || !required, "YICHUANG_REQUIRE_BROWSER=1 and no chromium on PATH");
    if found.is_none() {
        eprintln!("skipped: no chromium on PATH (Debian: apt-get install chromium fonts-wqy-microhei)");
    }
    found
}

/// The checker works on estimated text widths; here Debian's headless Chromium lays every
/// chart out with a real font and measures each text: none reaches past its chart, and no
/// text is wider than the estimate the margins were sized from (the estimate errs wide).
#[test]
fn rendered_in_chromium_every_label_fits_and_the_estimate_errs_wide() {
    let Some(browser) = chromium() else { return };
    let parity = simulate(
        &example("parity-parallel.ron"),
        &RunOptions { cases: Some(1000), replications: Some(2), ..RunOptions::default() },
    )
    .expect("runs");
    let county = simulate(&example("county-hall.ron"), &RunOptions { replications: Some(2), ..RunOptions::default() })
        .expect("runs");
    let serial = example("parity-serial.ron");
    let options = RunOptions { cases: Some(500), replications: Some(3), ..RunOptions::default() };
    let comparison = yichuang_sim::compare(&[&serial, &example("parity-parallel.ron")], &options, &Default::default())
        .expect("runs");
    let mut svgs: Vec<String> =
        [&parity, &county].into_iter().flat_map(|r| yichuang_sim::svg::charts(r).map(|(_, svg)| svg)).collect();
    svgs.push(yichuang_sim::svg::differences(&comparison));
    let mut page = String::from(r#"<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">"#);
    // For every text: its chart's box and its own, as the browser laid them out, and the
    // width the charts estimated for it.
    let mut estimates = Vec::new();
    for svg in &svgs {
        page.push_str(&format!("<div>{svg}</div>"));
        let doc = Document::parse(svg).expect("SVG");
        for t in doc.descendants().filter(|n| n.has_tag_name("text")) {
            estimates.push(text_width(t.text().unwrap_or(""), font_size(t)));
        }
    }
    page.push_str(&format!(
        r#"<script>
const estimates = {};
const found = [];
let i = 0;
for (const svg of document.querySelectorAll('svg')) {{
  const r = svg.getBoundingClientRect();
  for (const t of svg.querySelectorAll('text')) {{
    const b = t.getBoundingClientRect();
    const rotated = t.hasAttribute('transform');
    const width = rotated ? b.height : b.width;
    if (b.left < r.left - 0.5 || b.right > r.right + 0.5 || b.top < r.top - 0.5 || b.bottom > r.bottom + 0.5)
      found.push('cut: ' + t.textContent);
    if (width > estimates[i] + 0.5)
      found.push('wider than estimated (' + width.toFixed(1) + ' > ' + estimates[i].toFixed(1) + '): ' + t.textContent);
    i++;
  }}
}}
document.body.setAttribute('data-texts', String(i));
document.body.setAttribute('data-found', JSON.stringify(found));
</script></body></html>"#,
        serde_json::to_string(&estimates).expect("json")
    ));
    let dir = std::env::temp_dir().join(format!("yichuang-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("charts.html");
    std::fs::write(&file, page).expect("page written");
    let out = std::process::Command::new(&browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--window-size=1200,900", "--dump-dom"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&dir);
    let dom = String::from_utf8_lossy(&out.stdout);
    let attribute = |name: &str| {
        let at = dom.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("no {name} in the DOM: {dom:.400}"));
        let rest = &dom[at + name.len() + 2..];
        rest[..rest.find('"').expect("closing quote")].replace("&quot;", "\"").replace("&amp;", "&")
    };
    let texts: usize = attribute("data-texts").parse().expect("a count");
    assert_eq!(texts, estimates.len(), "every text measured");
    let found: Vec<String> = serde_json::from_str(&attribute("data-found")).expect("JSON");
    assert!(found.is_empty(), "{} of {texts} texts: {found:#?}", found.len());
}

/// `compare --charts` draws every KPI's relative difference with its interval: a dot per KPI
/// with a baseline, filled exactly when Holm's procedure finds it significant; the chart keeps
/// the same rules as the others. Parallel against serial approval (five replications): the
/// mean cycle time falls, significantly.
#[test]
fn the_differences_chart_marks_what_is_significant() {
    use yichuang_sim::{CompareOptions, compare};
    let parallel = example("parity-parallel.ron");
    let serial = example("parity-serial.ron");
    let options = RunOptions { cases: Some(1500), replications: Some(5), ..RunOptions::default() };
    let c = compare(&[&serial, &parallel], &options, &CompareOptions::default()).expect("runs");
    let svg = yichuang_sim::svg::differences(&c);
    assert_passes("differences", &svg);
    let doc = Document::parse(&svg).expect("SVG");
    let dots: Vec<Node> = doc.descendants().filter(|n| n.attribute("class") == Some("difference")).collect();
    let expected: Vec<&yichuang_sim::report::KpiDifference> =
        c.differences[0].kpis.iter().filter(|k| k.relative.is_some()).collect();
    assert_eq!(dots.len(), expected.len(), "a dot per KPI with a baseline");
    for (dot, k) in dots.iter().zip(&expected) {
        assert_eq!(dot.attribute("data-kpi"), Some(k.kpi.as_str()));
        let filled = dot.attribute("fill") != Some("white");
        assert_eq!(filled, k.significant != Some(false), "{}: filled when significant or untested", k.kpi);
    }
    let cycle = dots.iter().find(|d| d.attribute("data-kpi") == Some("cycle_time_minutes.mean")).expect("cycle time");
    assert_eq!(cycle.attribute("data-significant"), Some("true"), "parallel approval is faster");
    assert!(number(*cycle, "data-relative").expect("relative") < 0.0);
    assert!(svg.contains("Holm"), "the chart says how the family was controlled");
}

/// The page says how the run was sized: the warm-up MSER-5 detected and the precision target
/// with the replications it took.
#[test]
fn the_report_page_says_how_the_run_was_sized() {
    use yichuang_sim::precision::{Targets, Width};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/parity-parallel.ron");
    let text = std::fs::read_to_string(&path).expect("scenario").replace("warm_up: None,", "warm_up: Auto,");
    let scenario = Scenario::from_ron(&text, &path).expect("valid");
    let targets =
        Targets { kpis: vec![("cycle_time_minutes.mean".to_owned(), Width::Relative(0.05))], max_replications: 50 };
    let options =
        RunOptions { cases: Some(3000), replications: Some(5), precision: Some(&targets), ..RunOptions::default() };
    let report = simulate(&scenario, &options).expect("runs");
    let page = yichuang_sim::html::page(&report, &yichuang_sim::svg::charts(&report));
    let warm_up = report.warm_up.as_ref().expect("auto warm-up reported");
    assert!(warm_up.detected, "{warm_up:?}");
    assert!(
        page.contains(r#"id="warm-up""#) && page.contains("MSER-5") && page.contains("检测到 detected"),
        "warm-up line"
    );
    let precision = report.precision.as_ref().expect("precision reported");
    assert!(precision.met);
    assert!(
        page.contains(&format!("precision target 达到 met after {} replications", precision.replications)),
        "precision line"
    );
}
