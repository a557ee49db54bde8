//! End-to-end tests of the `yichuang` binary: exit codes, messages and outputs, run as a user
//! would run them, on the fixtures in `tests/data/`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name).display().to_string()
}

fn hall() -> String {
    data("hall.ron")
}

/// A copy of `tests/data/{name}` with `from` replaced by `to`, written under the test target
/// directory; returns its path.
fn variant(name: &str, tag: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(data(name)).expect("fixture is readable");
    assert!(text.contains(from), "`{name}` has no `{from}`");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{tag}.ron"));
    std::fs::write(&path, text.replacen(from, to, 1)).expect("temp file is writable");
    path.display().to_string()
}

/// Runs `yichuang` with `args` and captures everything.
fn yichuang<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_yichuang")).args(args).output().expect("the binary runs");
    Run {
        code: output.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs and demands exit code `code`, showing both streams if it differs.
fn check(args: &[&str], code: i32) -> Run {
    let run = yichuang(args);
    assert_eq!(run.code, code, "yichuang {args:?}\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    run
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

// ---------------------------------------------------------------- validate

#[test]
fn validate_valid_file_exits_0_with_counts() {
    let hall = hall();
    let run = check(&["validate", &hall], 0);
    assert_eq!(run.stdout, format!("ok: {hall} (6 departments, 8 items, 2 bundles)\n"));
    assert_eq!(run.stderr, "");
}

#[test]
fn validate_invalid_file_reports_all_three_problems_and_exits_1() {
    let bad = data("three-problems.ron");
    let run = check(&["validate", &bad], 1);
    assert_eq!(run.stdout, "");
    for expected in [
        "dependency cycle in bundle `loop`",
        "unknown department `public-security`",
        "promised limit 10 wd exceeds the statutory limit 5 wd",
        "3 problem(s) found",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    // Every diagnostic carries file:line:col.
    assert_eq!(run.stderr.matches(&format!("error: {bad}:")).count(), 3, "{}", run.stderr);
}

#[test]
fn validate_checks_every_file_and_exits_with_the_worst_code() {
    let (hall, bad) = (hall(), data("three-problems.ron"));
    let run = check(&["validate", &hall, &bad], 1);
    assert!(run.stdout.starts_with(&format!("ok: {hall}")));
    assert!(run.stderr.contains("3 problem(s) found"));

    let missing = data("no-such-file.ron");
    let run = check(&["validate", &missing, &hall, &bad], 2);
    assert!(run.stdout.contains(&format!("ok: {hall}")));
    assert!(run.stderr.contains(&format!("error: cannot read `{missing}`:")), "{}", run.stderr);
    assert!(run.stderr.contains("3 problem(s) found"), "{}", run.stderr);
}

/// Issue 17 part 6: a file with problems in every section gets all of them from one run, each
/// at the line and column that the file marks (a `//~` line puts `^` under the column of the line
/// above it, followed by the start of the message; see `yichuang-core/tests/broken.rs`).
#[test]
fn validate_reports_the_problems_of_every_section_in_one_run() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../yichuang-core/tests/data/broken/several-sections.ron")
        .display()
        .to_string();
    let text = std::fs::read_to_string(&file).expect("the corpus file is readable");
    let mut expected = Vec::new();
    let mut target = 0;
    for (n, line) in text.lines().enumerate() {
        if let Some(mark) = line.strip_prefix("//~") {
            let caret = mark.chars().position(|c| c == '^').expect("a `^`") + 3;
            let message: String = line.chars().skip(caret + 1).collect();
            expected.push(format!("error: {file}:{target}:{}: {}", caret + 1, message.trim()));
        } else {
            target = n + 1;
        }
    }
    assert_eq!(expected.len(), 8, "{expected:#?}");
    let run = check(&["validate", &file], 1);
    for e in &expected {
        assert!(run.stderr.contains(e.as_str()), "missing `{e}` in\n{}", run.stderr);
    }
    assert!(run.stderr.contains("\n8 problem(s) found"), "{}", run.stderr);
    for section in ["departments[", "items[", "bundles[", "calendar.", "policies.", "plan."] {
        assert!(run.stderr.contains(&format!("    at {section}")), "no problem in {section}: {}", run.stderr);
    }
    let run = check(&["validate", "--format", "json", &file], 1);
    let diagnostics = json(&run.stdout)[0]["diagnostics"].as_array().expect("a list").clone();
    assert_eq!(diagnostics.len(), 8, "{diagnostics:#?}");
    assert!(diagnostics.iter().all(|d| d["location"].is_array() && d["path"].is_string()), "{diagnostics:#?}");
}

#[test]
fn validate_without_files_is_a_usage_error() {
    let run = check(&["validate"], 2);
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
}

#[test]
fn validate_json_lists_each_file() {
    let (hall, bad) = (hall(), data("three-problems.ron"));
    let run = check(&["validate", "--format", "json", &hall, &bad], 1);
    let v = json(&run.stdout);
    let files = v.as_array().expect("an array");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["file"], hall.as_str());
    assert_eq!(files[0]["valid"], true);
    assert_eq!(files[0]["diagnostics"].as_array().map(Vec::len), Some(0));
    assert_eq!(files[1]["valid"], false);
    let diagnostics = files[1]["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diagnostics.len(), 3);
    assert!(diagnostics.iter().all(|d| d["location"].is_array()));
    // The JSON carries the diagnostics; stderr is not repeated.
    assert_eq!(run.stderr, "");
}

#[test]
fn validate_examples_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/definitions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/definitions exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    assert!(files.iter().any(|p| p.ends_with("county-hall.ron")));
    let mut args = vec![PathBuf::from("validate")];
    args.extend(files);
    let run = yichuang(&args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

// ---------------------------------------------------------------- calendar

#[test]
fn calendar_add_matches_the_official_vectors() {
    let hall = hall();
    for (from, n, expected) in [
        ("2025-09-26", "5", "2025-10-10 Friday (星期五)\n"),
        ("2025-09-26", "20", "2025-10-30 Thursday (星期四)\n"),
        ("2026-02-13", "3", "2026-02-25 Wednesday (星期三)\n"),
        ("2026-02-13", "0", "2026-02-13 Friday (星期五)\n"),
    ] {
        let run = check(&["calendar", &hall, "add", from, n], 0);
        assert_eq!(run.stdout, expected, "{from} + {n}");
    }
}

#[test]
fn calendar_year_counts_248_working_days_and_lists_holidays() {
    let hall = hall();
    let run = check(&["calendar", &hall, "year", "2025"], 0);
    assert!(run.stdout.starts_with("2025: 248 working days"), "{}", run.stdout);
    assert!(run.stdout.contains("国庆节、中秋节"), "{}", run.stdout);
    assert!(run.stdout.contains("2025-09-28 Sun"), "{}", run.stdout);

    let run = check(&["calendar", &hall, "year", "2026", "--format", "json"], 0);
    let v = json(&run.stdout);
    assert_eq!(v["working_days"], 248);
    let spring = &v["holidays"][1];
    assert_eq!(spring["name"], "春节");
    assert_eq!(spring["from"], "2026-02-15");
    assert_eq!(spring["to"], "2026-02-23");
    assert_eq!(spring["days"], 9);
    assert_eq!(
        v["makeup_workdays"],
        json(r#"["2026-01-04","2026-02-14","2026-02-28","2026-05-09","2026-09-20","2026-10-10"]"#)
    );
}

#[test]
fn calendar_between_counts_days_and_office_minutes() {
    let hall = hall();
    let run = check(&["calendar", &hall, "between", "2025-09-26", "2025-10-10", "--format", "json"], 0);
    let v = json(&run.stdout);
    assert_eq!(v["working_days"], 5);
    // 09-26, 09-28, 09-29, 09-30 and 10-09 are whole working days of 7 office hours.
    assert_eq!(v["working_minutes"], 5 * 420);

    let run = check(&["calendar", &hall, "between", "2025-09-26T10:00", "2025-10-10T09:30"], 0);
    assert!(run.stdout.contains("2025-10-10]: 5\n"), "{}", run.stdout);
    assert!(run.stdout.contains(": 2070 min"), "{}", run.stdout);

    let run = check(&["calendar", &hall, "add", "2026-02-13", "3", "--format", "json"], 0);
    let v = json(&run.stdout);
    assert_eq!(v["date"], "2026-02-25");
    assert_eq!(v["weekday"], "Wednesday");
}

#[test]
fn calendar_outside_the_covered_years_exits_2_naming_them() {
    let hall = hall();
    for args in [
        vec!["calendar", &hall, "add", "2030-03-01", "1"],
        vec!["calendar", &hall, "year", "2030"],
        vec!["calendar", &hall, "between", "2026-01-05", "2030-01-01"],
    ] {
        let run = check(&args, 2);
        assert!(run.stderr.starts_with("error: ") && run.stderr.contains("2025–2026"), "{args:?}: {}", run.stderr);
    }
    // Adding past the last covered day is refused the same way.
    let run = check(&["calendar", &hall, "add", "2026-12-30", "5"], 2);
    assert!(run.stderr.contains("2025–2026"), "{}", run.stderr);
}

/// Absurd years never panic (exit 101) nor print made-up dates: the loader refuses calendar years
/// outside 1900–2999 (exit 1), and `calendar year N` outside the covered years is an input error.
#[test]
fn extreme_years_are_refused_without_a_panic() {
    let hall = hall();
    for year in ["2147483647", "6000000", "1899"] {
        let run = check(&["calendar", &hall, "year", year], 2);
        assert!(run.stderr.starts_with("error: ") && run.stderr.contains("2025–2026"), "{year}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{year}: {}", run.stdout);
    }
    let run = check(&["calendar", &hall, "year", "6000000"], 2);
    assert!(run.stderr.contains("1900–2999"), "{}", run.stderr);
    let run = check(&["calendar", &hall, "year", "--", "-2147483648"], 2);
    assert!(run.stderr.contains("2025–2026") && run.stderr.contains("1900–2999"), "{}", run.stderr);
    for (tag, year) in [("min-year", "-2147483648"), ("max-year", "2147483647"), ("far-year", "6000000")] {
        let file = variant(
            "hall.ron",
            tag,
            "\"2026-10-10\"],\n            ),\n",
            &format!("\"2026-10-10\"],\n            ),\n            (year: {year}, holidays: []),\n"),
        );
        let run = check(&["validate", &file], 1);
        assert!(
            run.stderr.contains(&format!("calendar year {year} is outside the supported range 1900–2999")),
            "{}",
            run.stderr
        );
        let run = check(&["calendar", &file, "year", "2026"], 1);
        assert!(run.stderr.contains("1900–2999"), "{}", run.stderr);
    }
}

#[test]
fn calendar_bad_input_is_a_usage_error() {
    let hall = hall();
    for args in [
        vec!["calendar", &hall, "add", "2025-02-30", "1"],
        vec!["calendar", &hall, "add", "2025-09-26", "-1"],
        vec!["calendar", &hall, "between", "2025-09-26T25:00", "2025-10-01"],
        vec!["calendar", &hall, "year", "twenty"],
    ] {
        let run = check(&args, 2);
        assert!(run.stderr.contains("error:"), "{args:?}: {}", run.stderr);
    }
}

// ---------------------------------------------------------------- plan

const PLAN: [&str; 4] = ["--bundle", "open-restaurant", "--start", "2026-02-13"];

fn plan(extra: &[&str], code: i32) -> Run {
    let hall = hall();
    let mut args = vec!["plan", hall.as_str()];
    args.extend(PLAN);
    args.extend(extra);
    check(&args, code)
}

/// The table line of the member named `name`.
fn line_of<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no line with {name}:\n{text}"))
}

#[test]
fn plan_lists_the_licence_first_and_skips_the_spring_festival() {
    let run = plan(&[], 0);
    let out = &run.stdout;
    let position = |name: &str| out.find(name).unwrap_or_else(|| panic!("{name}\n{out}"));
    let licence = position("营业执照");
    for parallel in ["食品经营许可", "公众聚集场所投入使用", "户外招牌设施设置"] {
        assert!(licence < position(parallel), "{parallel} before the licence\n{out}");
    }
    for d in 15..=23 {
        assert!(!out.contains(&format!("2026-02-{d}")), "02-{d} is a holiday\n{out}");
    }
    // Licence: accepted Fri 02-13, due on the make-up Saturday; food licence 5 wd later.
    assert!(line_of(out, "营业执照").contains("2026-02-14 Sat"), "{out}");
    assert!(line_of(out, "食品经营许可").contains("*  食品经营许可"), "{out}");
    assert!(line_of(out, "食品经营许可").ends_with("2026-02-28 Sat"), "{out}");
    assert!(line_of(out, "户外招牌设施设置").contains("not applicable (answer has-sign=yes to include)"), "{out}");
    assert!(out.contains("critical path (关键路径): 营业执照 → 食品经营许可 (6 working days)"));
    assert!(out.contains("promised limit (承诺时限) 10 wd → 2026-03-05 Thu"), "{out}");
    assert!(out.contains("容缺 Tolerable  从业人员健康证明"), "{out}");
    assert!(line_of(out, "身份证明").contains("免提交"), "{out}");
    assert!(out.contains("  - 是否设置户外招牌"), "{out}");
}

#[test]
fn plan_with_an_answer_includes_the_conditional_member() {
    let run = plan(&["--answer", "has-sign=yes"], 0);
    let sign = line_of(&run.stdout, "户外招牌设施设置");
    assert!(!sign.contains("not applicable"), "{sign}");
    assert!(sign.ends_with("2026-02-26 Thu"), "{sign}");
    assert!(line_of(&run.stdout, "户外招牌设置效果图").contains("必备 Required"));
}

#[test]
fn plan_aligns_columns_by_display_width() {
    let run = plan(&[], 0);
    let column = |line: &str, needle: &str| {
        let at = line.find(needle).expect("needle in line");
        line[..at]
            .chars()
            .map(|c| match c {
                '\u{2E80}'..='\u{9FFF}' | '\u{FF00}'..='\u{FF60}' => 2,
                _ => 1,
            })
            .sum::<usize>()
    };
    let licence = line_of(&run.stdout, "营业执照  ");
    let fire = line_of(&run.stdout, "公众聚集场所");
    assert_eq!(column(licence, "2026-02-13"), column(fire, "2026-02-14"));
}

#[test]
fn plan_json_parses() {
    let run = plan(&["--format", "json", "--answer", "has-sign=no"], 0);
    let v = json(&run.stdout);
    assert_eq!(v["bundle"], "open-restaurant");
    assert_eq!(v["members"][0]["item"], "business-licence");
    assert_eq!(v["critical_path"], json(r#"["business-licence","food-licence"]"#));
    assert_eq!(v["due"], "2026-02-28");
    assert_eq!(v["promised_due"], "2026-03-05");
}

#[test]
fn plan_bad_input_exits_2_with_a_sentence() {
    for (extra, expected) in [
        (vec!["--answer", "has-sign"], "write it as FIELD=VALUE"),
        (vec!["--answer", "has-sign=maybe"], "`maybe` is not an answer of field `has-sign`"),
        (vec!["--answer", "colour=red"], "`colour` is not a field of the form"),
        (vec!["--answer", "has-sign=yes", "--answer", "has-sign=no"], "answered twice"),
    ] {
        let run = plan(&extra, 2);
        assert!(run.stderr.contains(expected), "{extra:?}: {}", run.stderr);
    }
    let hall = hall();
    let base = ["plan", hall.as_str(), "--bundle", "open-restaurant", "--start"];
    let run = check(&[&base[..], &["2026-2-13"]].concat(), 2);
    assert!(run.stderr.contains("write it as YYYY-MM-DD"), "{}", run.stderr);
    let run = check(&[&base[..], &["2030-01-04"]].concat(), 2);
    assert!(run.stderr.contains("2025–2026"), "{}", run.stderr);
}

#[test]
fn plan_of_an_invalid_definition_exits_1() {
    let bad = data("three-problems.ron");
    let run = check(&["plan", &bad, "--bundle", "loop", "--start", "2026-02-13"], 1);
    assert!(run.stderr.contains("3 problem(s) found"), "{}", run.stderr);
}

// ---------------------------------------------------------------- graph

const RESTAURANT: [&str; 4] =
    ["营业执照", "食品经营许可", "公众聚集场所投入使用、营业前消防安全检查", "户外招牌设施设置"];
const WORKSHOP: [&str; 4] = ["企业投资项目备案", "建设用地规划许可", "设计方案联合审查", "建筑工程施工许可"];

fn graph(bundle: &str, format: &str) -> String {
    let hall = hall();
    let run = check(&["graph", &hall, "--bundle", bundle, "--format", format], 0);
    // Deterministic: a second run prints the same bytes.
    let again = check(&["graph", &hall, "--bundle", bundle, "--format", format], 0);
    assert_eq!(run.stdout, again.stdout);
    run.stdout
}

#[test]
fn graph_mermaid_shows_members_edges_departments_and_conditions() {
    let out = graph("open-restaurant", "mermaid");
    assert!(out.contains("flowchart LR"), "{out}");
    for name in RESTAURANT {
        assert!(out.contains(name), "{name}\n{out}");
    }
    assert!(out.contains("m0 --> m1"), "{out}");
    assert!(out.contains("m0 -.->|\"has-sign = yes\"| m3"), "{out}");
    assert!(out.contains("style m3 stroke-dasharray"), "{out}");
    // One class per deciding department, with a legend.
    assert_eq!(out.matches("classDef dept_").count(), 3, "{out}");
    assert!(out.contains("subgraph legend"), "{out}");
    assert!(!out.contains("subgraph stage_"), "no stages here\n{out}");
}

#[test]
fn graph_mermaid_draws_a_subgraph_per_stage() {
    let out = graph("build-workshop", "mermaid");
    for name in WORKSHOP {
        assert!(out.contains(name), "{name}\n{out}");
    }
    for (k, stage) in ["立项用地规划许可", "工程建设许可", "施工许可"].iter().enumerate() {
        assert!(out.contains(&format!("subgraph stage_{k}[\"{stage}\"]")), "{out}");
    }
    assert!(out.contains("会签 国土规划科 + 县消防救援大队"), "{out}");
    assert!(out.contains("m2 ==> m3"), "stage gate\n{out}");
}

#[test]
fn graph_dot_draws_clusters_colours_and_countersigns() {
    let out = graph("build-workshop", "dot");
    assert!(out.starts_with("digraph \"build-workshop\" {"), "{out}");
    assert!(out.trim_end().ends_with('}'), "{out}");
    for name in WORKSHOP {
        assert!(out.contains(name), "{name}\n{out}");
    }
    assert_eq!(out.matches("subgraph cluster_stage_").count(), 3, "{out}");
    assert!(out.contains("subgraph cluster_legend"), "{out}");
    assert!(out.contains("style=\"filled,striped\""), "{out}");

    let out = graph("open-restaurant", "dot");
    for name in RESTAURANT {
        assert!(out.contains(name), "{name}\n{out}");
    }
    assert!(!out.contains("cluster_stage_"), "{out}");
    assert!(out.contains("m0 -> m3 [style=dashed, label=\"has-sign = yes\"];"), "{out}");
    assert_eq!(out.matches('{').count(), out.matches('}').count(), "{out}");
}

#[test]
fn graph_bpmn_writes_a_process_with_a_user_task_per_member_and_its_diagram() {
    let out = graph("open-restaurant", "bpmn");
    assert!(out.starts_with("<?xml") && out.contains("<bpmn:definitions"), "{out}");
    assert_eq!(out.matches("<bpmn:process ").count(), 1);
    for name in RESTAURANT {
        assert!(out.contains(name), "{name}");
    }
    // Four members, the intake and the delivery; a shape for each.
    assert_eq!(out.matches("<bpmn:userTask ").count(), 6, "{out}");
    assert!(out.contains("<bpmndi:BPMNShape id=\"Task_m3_di\""), "{out}");
    // The conditional signboard member behind an exclusive gateway reading the form answer.
    assert!(out.contains("answers.get(&quot;has-sign&quot;) == &quot;yes&quot;"), "{out}");
}

#[test]
fn graph_of_an_unknown_bundle_lists_the_known_ones() {
    let hall = hall();
    let run = check(&["graph", &hall, "--bundle", "open-bakery"], 2);
    assert_eq!(
        run.stderr,
        "error: bundle `open-bakery` does not exist in definition `cli-hall`; \
         use one of: open-restaurant, build-workshop\n"
    );
    let run = check(&["plan", &hall, "--bundle", "open-bakery", "--start", "2026-02-13"], 2);
    assert!(run.stderr.contains("open-restaurant, build-workshop"), "{}", run.stderr);
}

#[test]
fn graph_of_a_missing_file_exits_2_naming_it() {
    let missing = data("no-such-file.ron");
    let run = check(&["graph", &missing, "--bundle", "x"], 2);
    assert!(run.stderr.starts_with(&format!("error: cannot read `{missing}`: ")), "{}", run.stderr);
}

/// The top-level help states the exit codes, including `check`'s exception for an invalid
/// definition (2, so that its 1 always means a violated invariant).
#[test]
fn help_states_the_exit_codes_and_the_check_exception() {
    let run = check(&["--help"], 0);
    assert!(run.stdout.contains("Exit codes: 0 success; 1 a definition is invalid"), "{}", run.stdout);
    assert!(run.stdout.contains("`check` exits 2 for an invalid definition"), "{}", run.stdout);
    let bad = data("three-problems.ron");
    let run = check(&["check", &bad], 2);
    assert!(run.stderr.contains("3 problem(s) found"), "{}", run.stderr);
}

/// Acceptance on a day that is not a working day (a Spring Festival Sunday) is planned as given,
/// with a one-line notice: day 1 of every period is the next working day.
#[test]
fn plan_from_a_non_working_day_says_where_counting_starts() {
    let hall = hall();
    let base = ["plan", hall.as_str(), "--bundle", "open-restaurant", "--start"];
    let run = check(&[&base[..], &["2026-02-15"]].concat(), 0);
    let notice: Vec<&str> = run.stdout.lines().filter(|l| l.contains("not a working day")).collect();
    assert_eq!(notice.len(), 1, "{}", run.stdout);
    assert!(
        notice[0].contains("2026-02-15 Sun is not a working day (春节)")
            && notice[0].contains("counting starts on the next working day, 2026-02-24 Tue"),
        "{}",
        notice[0]
    );
    // The licence may start on the acceptance day itself and is due on working day 1.
    assert!(line_of(&run.stdout, "营业执照").ends_with("2026-02-15 Sun  2026-02-24 Tue"), "{}", run.stdout);
    let run = check(&[&base[..], &["2026-02-15", "--format", "json"]].concat(), 0);
    let v = json(&run.stdout);
    assert_eq!(v["start_is_working_day"], false);
    assert_eq!(v["first_counted_day"], "2026-02-24");

    // A working day gets no notice; day 1 is still the next working day.
    let run = plan(&[], 0);
    assert!(!run.stdout.contains("not a working day"), "{}", run.stdout);
    let run = plan(&["--format", "json"], 0);
    let v = json(&run.stdout);
    assert_eq!(v["start_is_working_day"], true);
    assert_eq!(v["first_counted_day"], "2026-02-14");
}

/// A newline or other control character in a name must not break out of a Mermaid `%%` comment
/// or a label (or a DOT string) and inject diagram text.
#[test]
fn graph_names_with_newlines_cannot_inject_diagram_text() {
    let file = variant(
        "hall.ron",
        "newline-names",
        r#"name: "我要开饭店","#,
        r#"name: "我要开饭店\nclick m0 call alert(1)\r\u{2028}x","#,
    );
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replacen(r#"            name: "营业执照","#, r#"            name: "营业执照\n  m9[\"injected\"]\t\u{7}","#, 1)
        .replacen(
            r#"(id: "market-access", name: "市场准入科"),"#,
            r#"(id: "market-access", name: "市场准入科\n%%\nstyle m0 fill:#f00"),"#,
            1,
        );
    std::fs::write(&file, text).unwrap();
    for format in ["mermaid", "dot"] {
        let run = check(&["graph", &file, "--bundle", "open-restaurant", "--format", format], 0);
        for line in run.stdout.lines() {
            assert!(
                !line.trim_start().starts_with("click")
                    && !line.trim_start().starts_with("m9[")
                    && !line.trim_start().starts_with("style m0 fill:#f00")
                    && !line.trim_start().starts_with("%%\u{2028}")
                    && line.trim() != "%%",
                "{format}: injected line `{line}` in\n{}",
                run.stdout
            );
        }
        assert!(
            !run.stdout.chars().any(|c| c.is_control() && c != '\n' || c == '\u{2028}'),
            "{format}: a control character survived:\n{}",
            run.stdout
        );
        // The text itself is still shown, on the line it belongs to.
        assert!(run.stdout.contains("click m0 call alert(1)"), "{}", run.stdout);
    }
}
