//! End-to-end tests of `yichuang simulate` and `yichuang compare`: outputs, exit codes and
//! messages, on the example scenarios with few cases.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios").join(name).display().to_string()
}

/// An example scenario's text with each `(from, to)` replaced, and its definition path made
/// absolute so that the variant can be written anywhere. Fails when a replacement finds nothing
/// (an example that changed would otherwise leave the test checking the unchanged scenario).
fn variant(name: &str, definition: &str, replacements: &[(&str, &str)]) -> String {
    let relative = format!("\"../definitions/{definition}\"");
    let absolute = format!("{:?}", scenario(&format!("../definitions/{definition}")));
    let mut text = std::fs::read_to_string(scenario(name)).expect("readable");
    for (from, to) in std::iter::once((relative.as_str(), absolute.as_str())).chain(replacements.iter().copied()) {
        assert!(text.contains(from), "{name} has no `{from}` to replace");
        text = text.replace(from, to);
    }
    text
}

fn check(args: &[&str], code: i32) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_yichuang")).args(args).output().expect("the binary runs");
    let run = Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8"),
    };
    assert_eq!(run.code, code, "yichuang {args:?}\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    run
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn parity_json_has_the_fields_the_reference_comparison_reads() {
    let path = scenario("parity-parallel.ron");
    let run = check(&["simulate", &path, "--format", "json", "--cases", "300"], 0);
    assert!(run.stderr.is_empty(), "nothing on stderr in JSON mode: {}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(v["cases"], 300);
    assert!(v["wall_seconds"].as_f64().is_some() && v["cases_per_second"].as_f64().is_some());
    let cycle = &v["cycle_time_minutes"];
    for key in ["mean", "p50", "p95", "p99"] {
        assert!(cycle[key].as_f64().is_some_and(|x| x > 0.0), "cycle_time_minutes.{key}: {cycle}");
    }
    assert_eq!(cycle["ci"].as_array().map(Vec::len), Some(2), "{cycle}");
    assert_eq!(v["confidence"], 0.95);
    assert!(v["on_time_rate"].as_f64().is_some_and(|r| (0.0..=1.0).contains(&r)));
    for station in ["consult", "intake", "delivery", "dept-a", "dept-b", "dept-c", "dept-d", "dept-e"] {
        assert!(v["utilisation"][station].as_f64().is_some(), "utilisation.{station}");
    }
}

#[test]
fn table_csv_and_charts() {
    let path = scenario("parity-serial.ron");
    let dir = std::env::temp_dir().join(format!("yichuang-charts-{}", std::process::id()));
    let dir_text = dir.display().to_string();
    let run = check(&["simulate", &path, "--cases", "200", "--charts", &dir_text], 0);
    assert!(run.stdout.contains("cycle time") && run.stdout.contains("dept-e"), "{}", run.stdout);
    for chart in ["cycle-time-histogram", "cycle-time-cdf", "utilisation", "queue-length", "gantt"] {
        let svg = std::fs::read_to_string(dir.join(format!("{chart}.svg"))).expect("chart written");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{chart}");
    }
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    assert!(page.contains("平均办件周期") && page.matches("<svg ").count() == 5, "the page gathers the charts");
    let _ = std::fs::remove_dir_all(&dir);
    let run = check(&["simulate", &path, "--cases", "200", "--format", "csv"], 0);
    assert!(run.stdout.starts_with("kpi,count,mean,p50,p90,p95,p99,max,ci_low,ci_high\n"));
    assert!(run.stdout.contains("\nutilisation.intake,"));
    // Counts fill the count column only, and every row has the header's ten columns.
    assert!(run.stdout.contains("\noutcomes.approved,") && run.stdout.contains("\nsla.task_overdue,0,,,,,,,,\n"));
    assert!(run.stdout.lines().all(|l| l.split(',').count() == 10), "{}", run.stdout);
}

/// The station table stays aligned when a station's label is longer than the usual column
/// (county-hall has `investment-construction (department)`).
#[test]
fn the_station_table_is_aligned_whatever_the_names() {
    let run = check(&["simulate", &scenario("county-hall.ron"), "--cases", "300", "--replications", "1"], 0);
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("station"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(rows.iter().any(|r| r.contains("investment-construction (department)")), "{}", run.stdout);
    let percent_at = |r: &str| r.chars().position(|c| c == '%');
    let first = percent_at(rows[0]);
    assert!(first.is_some() && rows.iter().all(|r| percent_at(r) == first), "{}", rows.join("\n"));
}

#[test]
fn compare_reports_the_paired_difference() {
    let (a, b) = (scenario("parity-parallel.ron"), scenario("parity-serial.ron"));
    let run = check(&["compare", &a, &b, "--cases", "300", "--replications", "2", "--format", "json"], 0);
    let v = json(&run.stdout);
    let kpis = v["differences"][0]["kpis"].as_array().expect("KPIs");
    let cycle = kpis.iter().find(|k| k["kpi"] == "cycle_time_minutes.mean").expect("cycle KPI");
    assert!(cycle["difference"].as_f64().is_some_and(|d| d > 0.0), "serial takes longer: {cycle}");
    assert_eq!(cycle["significant"].is_boolean(), cycle["ci"].is_array(), "{cycle}");
    let relative = cycle["relative"].as_f64().expect("relative difference");
    let (diff, base) = (cycle["difference"].as_f64().unwrap_or(0.0), cycle["baseline"].as_f64().unwrap_or(1.0));
    assert!((relative - diff / base).abs() < 1e-9, "{cycle}");
    assert!(v["differences"][0]["family"].as_u64().is_some_and(|n| n >= 20), "the family of KPIs tested");
    assert!(v["multiple_comparisons"].as_str().is_some_and(|m| m.contains("Holm")));
    for name in ["sla.case_overdue", "sla.task_overdue"] {
        assert!(kpis.iter().any(|k| k["kpi"] == name), "{name} is compared: {}", v["differences"]);
    }
    let rated = v["reports"].as_array().expect("reports").iter().all(|r| !r["ratings"]["bad_rate"].is_null());
    assert_eq!(kpis.iter().any(|k| k["kpi"] == "ratings.bad_rate"), rated, "the bad-rating rate, when both rate");
    // One replication: a quantile has no interval, so no verdict either (null, not false).
    let run = check(&["compare", &a, &b, "--cases", "200", "--format", "json"], 0);
    let v = json(&run.stdout);
    let kpis = v["differences"][0]["kpis"].as_array().expect("KPIs");
    let p95 = kpis.iter().find(|k| k["kpi"] == "cycle_time_minutes.p95").expect("p95 KPI");
    assert!(p95["ci"].is_null() && p95["significant"].is_null() && p95["p_value"].is_null(), "{p95}");
    let run = check(&["compare", &a, &b, "--cases", "200", "--format", "csv"], 0);
    let p95 = run.stdout.lines().find(|l| l.contains(",cycle_time_minutes.p95,")).expect("p95 row");
    assert!(p95.ends_with(",,,,"), "no interval, no p-value, no verdict: {p95}");
    let run = check(&["compare", &a, &b, "--cases", "200"], 0);
    assert!(run.stdout.contains("parity-serial − parity-parallel"), "{}", run.stdout);
    // A KPI without an interval (a quantile) is not tested, so its verdict is "—", not "no".
    let p95 = run.stdout.lines().find(|l| l.trim_start().starts_with("cycle_time_minutes.p95")).expect("p95 row");
    assert!(p95.ends_with('—') && !p95.ends_with("no"), "{p95}");
    let mean = run.stdout.lines().find(|l| l.trim_start().starts_with("cycle_time_minutes.mean")).expect("mean row");
    assert!(mean.ends_with("yes") || mean.ends_with("no"), "{mean}");
    assert!(
        !run.stdout.contains("note: the scenarios") && !run.stdout.contains("measured no case"),
        "same definition, cases measured: nothing to note\n{}",
        run.stdout
    );
    // Another hall, measuring nothing within 300 arrivals (its warm-up is two weeks): both noted.
    let run = check(&["compare", &a, &scenario("county-hall.ron"), "--cases", "300"], 0);
    assert!(run.stdout.contains("note: the scenarios simulate different definitions (parity-hall and county-hall)"));
    assert!(
        run.stdout.contains("note: county-hall measured no case (every arrival fell in its warm-up"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_input_is_exit_2_with_the_field_and_what_is_accepted() {
    let dir = std::env::temp_dir().join(format!("yichuang-bad-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let parity = |replacements: &[(&str, &str)]| variant("parity-parallel.ron", "parity-hall.ron", replacements);
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, parity(&[("(class: Intake, count: 14,", "(class: Intake, count: 0,")])).expect("written");
    let run = check(&["simulate", &bad.display().to_string()], 2);
    assert!(run.stderr.contains("windows[1].count") && run.stderr.contains("give 1 to 100000"), "{}", run.stderr);
    let missing: PathBuf = dir.join("nowhere.ron");
    let run = check(&["simulate", &missing.display().to_string()], 2);
    assert!(run.stderr.contains("cannot read scenario"), "{}", run.stderr);
    check(&["simulate", &scenario("parity-parallel.ron"), "--cases", "0"], 2);
    // `--cases` overrides the stop rule, so it is checked against the warm-up at run time.
    let warm = dir.join("warm.ron");
    std::fs::write(&warm, parity(&[("warm_up: None", "warm_up: Cases(500)")])).expect("written");
    let run = check(&["simulate", &warm.display().to_string(), "--cases", "500"], 2);
    assert!(
        run.stderr.contains("scenario parity-parallel: 500 case(s) per replication leave nothing to measure after its warm-up of Cases(500)"),
        "{}",
        run.stderr
    );
    check(&["simulate", &warm.display().to_string(), "--cases", "501"], 0);
    // A warm-up in days that outlasts the arrivals is legal, and the table says why it is empty.
    std::fs::write(&warm, parity(&[("warm_up: None", "warm_up: Days(30.0)")])).expect("written");
    let run = check(&["simulate", &warm.display().to_string(), "--cases", "100"], 0);
    assert!(run.stdout.contains("no case was measured: every arrival fell in the warm-up"), "{}", run.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 24/7 hall never asks the calendar for office hours, but the engine's deadlines need its
/// holiday tables: a run that goes past the last covered year stops with an error instead of
/// reporting cases that could never be late.
#[test]
fn a_run_past_the_calendar_is_refused() {
    let dir = std::env::temp_dir().join(format!("yichuang-past-calendar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let parity = |replacements: &[(&str, &str)]| variant("parity-parallel.ron", "parity-hall.ron", replacements);
    let late = dir.join("late.ron");
    std::fs::write(&late, parity(&[("start: \"2026-01-05T00:00\"", "start: \"2026-12-31T12:00\"")])).expect("written");
    let run = check(&["simulate", &late.display().to_string(), "--cases", "3000"], 2);
    assert!(
        run.stderr.contains("at 2027-01-01T00:00 the simulation left the definition's calendar")
            && run.stderr.contains("cover 2026–2026"),
        "{}",
        run.stderr
    );
    // The same scenario with a too-long service time (a unit mistake) is refused the same way.
    let slow = dir.join("slow.ron");
    std::fs::write(&slow, parity(&[("Exponential(mean: 12.0)", "Exponential(mean: 1e300)")])).expect("written");
    let run = check(&["simulate", &slow.display().to_string(), "--cases", "300"], 2);
    assert!(run.stderr.contains("left the definition's calendar"), "{}", run.stderr);
    // In an office-hours hall such a duration went through the calendar's integer arithmetic
    // and panicked; it is the same calendar error.
    let hall = variant(
        "county-hall.ron",
        "county-hall.ron",
        &[("service: LogNormal(mean: 20.0, sd: 10.0)", "service: Fixed(1e19)")],
    );
    let office = dir.join("office.ron");
    std::fs::write(&office, hall).expect("written");
    let run = check(&["simulate", &office.display().to_string(), "--replications", "1", "--threads", "1"], 2);
    assert!(
        run.stderr.contains("left the definition's calendar") && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Splits a CSV line as RFC 4180 reads it (quoted fields may hold commas and doubled quotes).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A scenario name is free text: CSV quotes it, chart files stay inside the charts directory,
/// and two scenarios of one name are told apart.
#[test]
fn awkward_scenario_names_are_quoted_contained_and_told_apart() {
    let dir = std::env::temp_dir().join(format!("yichuang-names-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = scenario("parity-parallel.ron");
    let odd = dir.join("odd.ron");
    let named = |name: &str| variant("parity-parallel.ron", "parity-hall.ron", &[("name: \"parity-parallel\"", name)]);
    std::fs::write(&odd, named(r#"name: "../并联, \"快\"""#)).expect("written");
    let odd_text = odd.display().to_string();
    let run = check(&["compare", &base, &odd_text, "--cases", "200", "--format", "csv"], 0);
    let mut lines = run.stdout.lines();
    let header = csv_fields(lines.next().expect("header"));
    assert_eq!(header.len(), 12, "{header:?}");
    for line in lines {
        let fields = csv_fields(line);
        assert_eq!(fields.len(), 12, "{line}");
        assert_eq!(fields[0], r#"../并联, "快""#, "{line}");
    }
    let charts = dir.join("charts");
    check(&["compare", &base, &odd_text, &odd_text, "--cases", "200", "--charts", &charts.display().to_string()], 0);
    let outside: Vec<_> = std::fs::read_dir(&dir).expect("listed").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(outside.len(), 2, "only odd.ron and charts/ beside each other: {outside:?}");
    let inside = std::fs::read_dir(&charts).expect("charts written").count();
    assert_eq!(inside, 19, "five charts and a report page of each scenario, none overwritten, and the differences");
    assert!(charts.join("differences.svg").is_file());
    // Names that become one file name (`a/b`, `a_b`, `A_B`), and one too long for a file name.
    let mut paths = vec![base.clone()];
    for (i, name) in ["a/b", "a_b", "A_B", &"长".repeat(90)].into_iter().enumerate() {
        let path = dir.join(format!("n{i}.ron"));
        std::fs::write(&path, named(&format!("name: {name:?}"))).expect("written");
        paths.push(path.display().to_string());
    }
    let many = dir.join("many");
    let mut args = vec!["compare", "--cases", "200", "--charts"];
    let many_text = many.display().to_string();
    args.push(&many_text);
    args.extend(paths.iter().map(String::as_str));
    check(&args, 0);
    assert_eq!(
        std::fs::read_dir(&many).expect("charts written").count(),
        31,
        "six files of each of five, and the differences"
    );
    // The same scenario twice: the second is named after its file.
    let run = check(&["compare", &base, &base, &base, "--cases", "200"], 0);
    assert!(run.stdout.contains(&format!("parity-parallel ({base}) − parity-parallel")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("parity-parallel ({base}) #2 − parity-parallel")), "{}", run.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A charts path that cannot take charts is refused before the run, with nothing printed.
#[test]
fn an_unusable_charts_path_is_refused_before_the_run() {
    let dir = std::env::temp_dir().join(format!("yichuang-charts-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("a-file");
    std::fs::write(&file, "").expect("written");
    let file_text = file.display().to_string();
    let path = scenario("parity-parallel.ron");
    for args in [
        vec!["simulate", &path, "--cases", "200", "--format", "json", "--charts", &file_text],
        vec!["compare", &path, &path, "--cases", "200", "--charts", &file_text],
    ] {
        let run = check(&args, 2);
        assert!(run.stdout.is_empty(), "refused before any output: {}", run.stdout);
        assert!(
            run.stderr.contains("it is a file, not a directory") && run.stderr.contains("--charts DIR"),
            "{}",
            run.stderr
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// When no case was measured, the table and the CSV say so instead of printing NaN.
#[test]
fn nothing_measured_prints_no_nan() {
    let path = scenario("county-hall.ron");
    for format in ["table", "csv"] {
        let run = check(&["simulate", &path, "--cases", "300", "--replications", "1", "--format", format], 0);
        assert!(!run.stdout.contains("NaN"), "{format}:\n{}", run.stdout);
    }
    let run = check(&["simulate", &path, "--cases", "300", "--replications", "1", "--format", "csv"], 0);
    assert!(run.stdout.contains("\non_time_rate,,,,,,,,,\n"), "{}", run.stdout);
}

/// The simulate JSON without its wall-clock figures (`wall_seconds`, `cases_per_second`).
fn without_timings(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(map) => {
            map.retain(|key, _| !key.starts_with("wall") && key != "cases_per_second");
            for v in map.values_mut() {
                *v = without_timings(v.take());
            }
        }
        serde_json::Value::Array(items) => {
            for v in items.iter_mut() {
                *v = without_timings(v.take());
            }
        }
        _ => {}
    }
    value
}

/// `--event-log` writes the first replication's full history, which the engine replays; asking
/// for it changes nothing in the results; the log does not depend on the replication count; an
/// extension that names no format is refused before the run.
#[test]
fn the_event_log_is_the_first_replications_history() {
    let path = scenario("county-hall.ron");
    let dir = std::env::temp_dir().join(format!("yichuang-sim-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let log = dir.join("hall.jsonl");
    let plain = check(&["simulate", &path, "--format", "json", "--cases", "60", "--replications", "2"], 0);
    let logged = check(
        &[
            "simulate",
            &path,
            "--format",
            "json",
            "--cases",
            "60",
            "--replications",
            "2",
            "--event-log",
            log.to_str().expect("path"),
        ],
        0,
    );
    assert_eq!(without_timings(json(&plain.stdout)), without_timings(json(&logged.stdout)));
    let definition = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/definitions/county-hall.ron");
    let replayed = check(
        &[
            "replay",
            "--definition",
            definition.to_str().expect("path"),
            "--log",
            log.to_str().expect("path"),
            "--format",
            "json",
        ],
        0,
    );
    assert_eq!(json(&replayed.stdout)["cases"], 60, "every arrival is a case of the log");
    let first = std::fs::read_to_string(&log).expect("the log");
    let alone = dir.join("alone.jsonl");
    check(
        &["simulate", &path, "--cases", "60", "--replications", "1", "--event-log", alone.to_str().expect("path")],
        0,
    );
    assert_eq!(std::fs::read_to_string(&alone).expect("the log"), first, "replication 1 alone is the same history");
    let xes = dir.join("hall.xes");
    let run = check(
        &["simulate", &path, "--cases", "60", "--replications", "1", "--event-log", xes.to_str().expect("path")],
        0,
    );
    assert!(run.stdout.contains("event log:"), "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(&xes).expect("xes").matches("<trace>").count(), 60);
    let bad = dir.join("hall.txt");
    let run = check(&["simulate", &path, "--cases", "60", "--event-log", bad.to_str().expect("path")], 2);
    assert!(run.stderr.contains(".xes, .jsonocel, .sqlite, .csv or .jsonl") && run.stdout.is_empty(), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--confidence` sets the level of every interval (wider at 99 % than at 90 %, the same
/// centre) and refuses levels it does not offer; `compare --kpi` narrows the family of tests
/// to the KPIs named (aliases accepted) and refuses an unknown name, listing the known ones.
#[test]
fn confidence_levels_and_named_kpis() {
    let path = scenario("parity-parallel.ron");
    let interval = |level: &str| {
        let run = check(&["simulate", &path, "--cases", "300", "--format", "json", "--confidence", level], 0);
        let v = json(&run.stdout);
        assert_eq!(v["confidence"].as_f64(), Some(level.parse::<f64>().expect("a number")));
        let cycle = &v["cycle_time_minutes"];
        let ci: Vec<f64> = cycle["ci"].as_array().expect("interval").iter().filter_map(|x| x.as_f64()).collect();
        (cycle["mean"].as_f64().expect("mean"), ci[1] - ci[0])
    };
    let ((m90, w90), (m99, w99)) = (interval("0.90"), interval("0.99"));
    assert_eq!(m90, m99, "the same estimate");
    assert!(w99 > 1.3 * w90, "99 % [{w99}] is wider than 90 % [{w90}]");
    let table = check(&["simulate", &path, "--cases", "300", "--confidence", "99%"], 0);
    assert!(table.stdout.contains("99 % CI of the mean"), "{}", table.stdout);
    let refused = check(&["simulate", &path, "--confidence", "0.5"], 2);
    assert!(refused.stderr.contains("use 0.90, 0.95 or 0.99"), "{}", refused.stderr);

    let serial = scenario("parity-serial.ron");
    let named = &["compare", &path, &serial, "--cases", "300", "--format", "json", "--kpi", "cycle_time.mean"];
    let v = json(&check(named, 0).stdout);
    let kpis = v["differences"][0]["kpis"].as_array().expect("KPIs");
    assert_eq!(kpis.len(), 1, "{kpis:?}");
    assert_eq!(kpis[0]["kpi"], "cycle_time_minutes.mean");
    assert_eq!(v["differences"][0]["family"], 1);
    let unknown = check(&["compare", &path, &serial, "--kpi", "cycle.mean"], 2);
    assert!(
        unknown.stderr.contains("unknown KPI `cycle.mean`") && unknown.stderr.contains("utilisation.dept-e"),
        "{}",
        unknown.stderr
    );
}

/// The comparison table prints each figure by its kind, never with four decimals and never as
/// "-0.0": minutes with one decimal, shares as percentages and their differences in points,
/// trips with two decimals, counts as integers.
#[test]
fn compare_prints_figures_by_kind() {
    let (a, b) = (scenario("parity-parallel.ron"), scenario("parity-serial.ron"));
    let run = check(&["compare", &a, &b, "--cases", "300", "--replications", "2"], 0);
    let row = |kpi: &str| {
        run.stdout.lines().find(|l| l.trim_start().starts_with(&format!("{kpi} "))).unwrap_or_else(|| {
            panic!("no {kpi} row:\n{}", run.stdout);
        })
    };
    assert!(row("on_time_rate").contains(" %") && row("on_time_rate").contains(" pp"), "{}", row("on_time_rate"));
    assert!(
        row("sla.task_overdue").split_whitespace().nth(1).is_some_and(|c| !c.contains('.')),
        "{}",
        row("sla.task_overdue")
    );
    let trips = row("trips.mean").split_whitespace().nth(1).expect("baseline");
    assert_eq!(trips.split('.').nth(1).map(str::len), Some(2), "{trips}");
    let cycle = row("cycle_time_minutes.mean").split_whitespace().nth(1).expect("baseline");
    assert_eq!(cycle.split('.').nth(1).map(str::len), Some(1), "{cycle}");
    assert!(!run.stdout.contains("-0.0") && !run.stdout.contains("0.0000"), "{}", run.stdout);
    assert!(run.stdout.contains("Holm–Bonferroni"), "the table says how the family is controlled");
}

/// Acceptance (issue 24): `--precision 1% --kpi cycle_time.mean` adds replications until the
/// mean cycle time's interval is within 1 % of it, and says so; with a cap too low it stops
/// there and says the target was not met. `--kpi` without `--precision` is refused.
#[test]
fn precision_stops_at_the_replication_count_that_meets_it() {
    let path = scenario("parity-parallel.ron");
    let run = check(&["simulate", &path, "--cases", "2000", "--precision", "1%", "--kpi", "cycle_time.mean"], 0);
    let line = run.stdout.lines().find(|l| l.starts_with("precision:")).expect("a precision line");
    let n: u32 = line
        .trim_start_matches("precision: met after ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("met after N replications: {line}"));
    assert!(n > 5, "{line}");
    assert!(run.stdout.contains(&format!("seed 20260105, {n} replication(s)")), "{}", run.stdout);
    let kpi = run.stdout.lines().find(|l| l.trim_start().starts_with("cycle_time_minutes.mean:")).expect("target line");
    assert!(kpi.ends_with(": met") && kpi.contains("target 1.0 % of the estimate"), "{kpi}");
    let capped = check(
        &["simulate", &path, "--cases", "2000", "--precision", "1%", "--max-replications", "7", "--format", "json"],
        0,
    );
    let v = json(&capped.stdout);
    assert_eq!(v["precision"]["met"], false);
    assert_eq!(v["precision"]["replications"], 7);
    assert_eq!(v["replications"], 7);
    let refused = check(&["simulate", &path, "--kpi", "cycle_time.mean"], 2);
    assert!(refused.stderr.contains("--precision"), "{}", refused.stderr);
    let bad = check(&["simulate", &path, "--precision", "0%"], 2);
    assert!(bad.stderr.contains("relative to the estimate"), "{}", bad.stderr);
}

/// Acceptance (issue 24): one command sweeps the intake windows of parity-parallel from 10 to
/// 16 and prints a table where the cycle time falls with every window, each with its
/// interval, and writes its chart; an experiment file does the same over a grid, and a factor
/// that does not parse is refused with what is accepted.
#[test]
fn one_command_sweeps_the_intake_windows() {
    let path = scenario("parity-parallel.ron");
    let dir = std::env::temp_dir().join(format!("yichuang-sweep-{}", std::process::id()));
    let dir_text = dir.display().to_string();
    let run = check(
        &[
            "simulate",
            &path,
            "--sweep",
            "windows.Intake=10..16",
            "--replications",
            "3",
            "--cases",
            "1500",
            "--kpi",
            "cycle_time.mean",
            "--charts",
            &dir_text,
        ],
        0,
    );
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("windows.Intake"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("steady") && !l.starts_with("chart"))
        .collect();
    assert_eq!(rows.len(), 7, "{}", run.stdout);
    let means: Vec<f64> = rows
        .iter()
        .map(|r| {
            let cells: Vec<&str> = r.split_whitespace().collect();
            assert_eq!(cells[0].parse::<u32>().ok().map(|w| w >= 10), Some(true), "{r}");
            assert!(r.contains('[') && r.contains(']'), "an interval on every row: {r}");
            cells[1].replace(',', "").parse().unwrap_or_else(|_| panic!("a mean: {r}"))
        })
        .collect();
    assert!(means.windows(2).all(|w| w[1] < w[0]), "cycle time falls with windows: {means:?}");
    let chart = std::fs::read_to_string(dir.join("sweep-cycle_time_minutes.mean.svg")).expect("the chart");
    assert!(chart.starts_with("<svg") && chart.contains("windows.Intake"), "the chart plots against the factor");
    let page = std::fs::read_to_string(dir.join("report.html")).expect("the experiment's page");
    assert_eq!(page.matches("<tr><td class=\"num\">").count(), 7, "a row per point");
    assert!(
        page.contains("平均办件周期 Mean cycle time") && page.contains(&chart.trim_end()[..200]),
        "the table and the chart"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/experiments/parity-intake-windows.ron");
    let run = check(
        &["experiment", &file.display().to_string(), "--cases", "300", "--replications", "2", "--format", "csv"],
        0,
    );
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("point,windows.Intake,policy.tolerance,kpi,kind,value,ci_low,ci_high,steady"));
    let points: std::collections::BTreeSet<&str> = lines.map(|l| l.split(',').next().unwrap_or("")).collect();
    assert_eq!(points.len(), 14, "7 window counts × tolerance on and off");

    let bad = check(&["simulate", &path, "--sweep", "windows.Lobby=3"], 2);
    assert!(bad.stderr.contains("no window class `Lobby`") && bad.stderr.contains("PATH=VALUES"), "{}", bad.stderr);
    let zero = check(&["simulate", &path, "--sweep", "reviewers.dept-x=3"], 2);
    assert!(zero.stderr.contains("dept-x"), "{}", zero.stderr);
}

/// `--export DIR` writes per-replication, per-case and per-visit tables from which the
/// report's KPIs can be rebuilt: each replication's mean cycle time from cases.csv is the
/// replication's in replications.csv, their mean is the report's, the parts add up to every
/// case's cycle time, and the visits' waits give each station's mean wait.
#[test]
fn exported_tables_rebuild_the_report() {
    let path = scenario("parity-parallel.ron");
    let dir = std::env::temp_dir().join(format!("yichuang-export-{}", std::process::id()));
    let dir_text = dir.display().to_string();
    let run = check(
        &["simulate", &path, "--cases", "300", "--replications", "2", "--format", "json", "--export", &dir_text],
        0,
    );
    let v = json(&run.stdout);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let table = |text: &str| -> Vec<std::collections::BTreeMap<String, String>> {
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().expect("header").split(',').map(str::to_owned).collect();
        lines.map(|l| header.iter().cloned().zip(l.split(',').map(str::to_owned)).collect()).collect()
    };
    let cases = table(&read("cases.csv"));
    let replications = table(&read("replications.csv"));
    let visits = table(&read("visits.csv"));
    assert_eq!(replications.len(), 2);
    let num = |row: &std::collections::BTreeMap<String, String>, key: &str| -> f64 {
        row[key].parse().unwrap_or_else(|_| panic!("{key}: {:?}", row[key]))
    };
    let mut means = Vec::new();
    for rep in ["1", "2"] {
        let measured: Vec<_> = cases
            .iter()
            .filter(|c| c["replication"] == rep && c["measured"] == "true" && c["outcome"] != "returned")
            .collect();
        assert_eq!(measured.len(), 300, "every case of replication {rep}");
        for c in &measured {
            let parts: f64 =
                ["queue_minutes", "join_minutes", "materials_minutes", "special_procedure_minutes", "service_minutes"]
                    .iter()
                    .map(|k| num(c, k))
                    .sum();
            assert!((parts - num(c, "cycle_minutes")).abs() < 1e-6 * num(c, "cycle_minutes").max(1.0), "{c:?}");
        }
        let mean = measured.iter().map(|c| num(c, "cycle_minutes")).sum::<f64>() / measured.len() as f64;
        let row = replications.iter().find(|r| r["replication"] == rep).expect("replication row");
        assert!((mean - num(row, "cycle_time_minutes.mean")).abs() < 1e-9 * mean, "replication {rep}");
        means.push(mean);
    }
    let reported = v["cycle_time_minutes"]["mean"].as_f64().expect("mean");
    assert!((reported - (means[0] + means[1]) / 2.0).abs() < 1e-9 * reported, "the mean of the replication means");
    let intake: Vec<f64> = visits.iter().filter(|x| x["station"] == "intake").map(|x| num(x, "wait_minutes")).collect();
    let wait = intake.iter().sum::<f64>() / intake.len() as f64;
    let reported = v["stations"]["intake"]["queue_wait_minutes"]["mean"].as_f64().expect("intake wait");
    // The report's mean is of the replication means; the visits' of all visits: close, not equal.
    assert!(
        (wait - reported).abs() < 0.05 * reported.max(1.0),
        "intake wait {wait} from the visits, {reported} reported"
    );
    assert!(visits.iter().any(|x| x["item"] == "e"), "reviews name their items");
    let _ = std::fs::remove_dir_all(&dir);
}
