//! End-to-end tests of `yichuang check`: exit codes and what it prints. The runs use
//! `--depth 8` (every bundle of the county hall in well under a second in a debug build); the
//! default depth is measured in release mode in `docs/check.md`.

use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn path(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative).display().to_string()
}

fn county_hall() -> String {
    path("../../examples/definitions/county-hall.ron")
}

fn check(args: &[&str], code: i32) -> Run {
    let output =
        Command::new(env!("CARGO_BIN_EXE_yichuang")).arg("check").args(args).output().expect("the binary runs");
    let run = Run {
        code: output.status.code().expect("exited, not killed by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    };
    assert_eq!(run.code, code, "check {args:?}\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    run
}

const BUNDLES: [&str; 6] =
    ["open-business", "open-restaurant", "open-bookstore", "hold-performance", "open-hotel", "industrial-project"];

#[test]
fn every_bundle_of_the_county_hall_holds_and_the_exploration_is_printed() {
    let hall = county_hall();
    let run = check(&[&hall, "--depth", "8"], 0);
    assert!(run.stdout.starts_with(&format!("check {hall}: 6 bundles, depth ≤ 8,")), "{}", run.stdout);
    for bundle in BUNDLES {
        let line = run.stdout.lines().find(|l| l.starts_with(&format!("{bundle} ("))).expect(bundle);
        assert!(line.ends_with(": ok within the bounds"), "{line}");
    }
    assert_eq!(run.stdout.matches(" states, ").count(), 6, "{}", run.stdout);
    assert!(run.stdout.contains("transitions, max depth 8;"), "{}", run.stdout);
    assert!(run.stdout.ends_with("ok: every invariant holds within the bounds in 6 bundles\n"), "{}", run.stdout);
    assert_eq!(run.stderr, "");
    // Deterministic: the same run prints the same text.
    assert_eq!(check(&[&hall, "--depth", "8"], 0).stdout, run.stdout);
}

#[test]
fn one_bundle_as_json() {
    let run = check(&[&county_hall(), "--bundle", "hold-performance", "--depth", "8", "--format", "json"], 0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["holds"], true);
    assert_eq!(json["depth"], 8);
    let bundles = json["bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1);
    let b = &bundles[0];
    assert_eq!(b["bundle"], "hold-performance");
    assert_eq!(b["max_depth"], 8);
    assert!(b["states"].as_u64().unwrap() > 100, "{b}");
    assert!(b["transitions"].as_u64().unwrap() >= b["states"].as_u64().unwrap() - 1, "{b}");
    assert!(b.get("violation").is_none(), "{b}");
}

#[test]
fn the_state_limit_stops_the_search_and_says_how_to_go_further() {
    let hall = county_hall();
    let small = [hall.as_str(), "--bundle", "open-business", "--depth", "8", "--max-states", "500"];
    let run = check(&small, 0);
    assert!(run.stdout.contains("the state limit was reached: the search stopped there"), "{}", run.stdout);
    assert!(run.stdout.contains("raise --max-states"), "{}", run.stdout);
    let states: u64 = run.stdout.split(" states, ").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    // The search stops expanding at the limit; the successors of the last state expanded are
    // still stored, a handful more.
    assert!((500..600).contains(&states), "{states} states: {}", run.stdout);

    let run = check(&[&small[..], &["--format", "json"]].concat(), 0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["max_states"], 500);
    assert_eq!(json["bundles"][0]["states_limit_reached"], true);

    // The default limit is far above what depth 8 needs.
    let run = check(&[&hall, "--bundle", "open-business", "--depth", "8", "--format", "json"], 0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["max_states"], 5_000_000);
    assert_eq!(json["bundles"][0]["states_limit_reached"], false);

    check(&[&hall, "--max-states", "0"], 2);
}

#[test]
fn an_unknown_bundle_or_an_invalid_definition_is_a_usage_error() {
    let run = check(&[&county_hall(), "--bundle", "open-cafe"], 2);
    assert!(run.stderr.contains("bundle `open-cafe` does not exist"), "{}", run.stderr);
    assert!(run.stderr.contains("open-restaurant"), "the message lists the bundles: {}", run.stderr);

    let run = check(&[&path("tests/data/three-problems.ron")], 2);
    assert!(run.stderr.contains("is not a valid definition"), "{}", run.stderr);
    assert!(run.stderr.contains("3 problem(s) found"), "{}", run.stderr);

    let run = check(&[&path("tests/data/no-such-file.ron")], 2);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);

    check(&[&county_hall(), "--depth", "0"], 2);
    let run = check(&[&county_hall(), "--depth", "deep"], 2);
    assert!(run.stderr.contains("`none` for no bound"), "{}", run.stderr);
}

/// Without a depth bound the search runs to its fixed point and says the proof is exhaustive.
#[test]
fn without_a_depth_bound_the_check_is_exhaustive() {
    let minimal = path("../../examples/definitions/minimal.ron");
    let run = check(&[&minimal, "--depth", "none"], 0);
    assert!(run.stdout.contains("no depth bound, tickets apart from the case"), "{}", run.stdout);
    assert!(run.stdout.contains("open-shop (") && run.stdout.contains("): ok, exhaustive\n"), "{}", run.stdout);
    assert!(run.stdout.contains(" 0 cut off at the bound, 0 unknown"), "{}", run.stdout);
    assert!(run.stdout.ends_with("(exhaustive)\n"), "{}", run.stdout);
    let run = check(&[&minimal, "--depth", "none", "--format", "json"], 0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["depth"], serde_json::Value::Null);
    assert_eq!(json["reduced"], true);
    assert_eq!(json["bundles"][0]["exhaustive"], true);
    assert!(json["bundles"][0]["tickets_apart"].as_u64().unwrap() > 0);
    // The product, bounded, for comparison.
    let run = check(&[&minimal, "--depth", "6", "--no-reduction"], 0);
    assert!(run.stdout.contains("depth ≤ 6, no reduction"), "{}", run.stdout);
}

#[cfg(not(feature = "fault-injection"))]
#[test]
fn the_fault_switch_is_not_in_a_product_build() {
    let run = check(&[&county_hall(), "--inject-fault", "skip-predecessor-check"], 2);
    assert!(run.stderr.contains("--inject-fault"), "{}", run.stderr);
}

/// With the broken supervision rule the check fails (exit 1) and prints the shortest trace.
#[cfg(feature = "fault-injection")]
#[test]
fn a_broken_rule_is_caught_with_a_trace() {
    let hall = path("tests/data/hall.ron");
    let run = check(
        &[&hall, "--bundle", "open-restaurant", "--depth", "8", "--inject-fault", "close-without-supervision"],
        1,
    );
    assert!(run.stdout.contains("open-restaurant (我要开饭店): VIOLATED invariant 1"), "{}", run.stdout);
    assert!(run.stdout.contains("shortest trace (8 steps):"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("submit_rectification T000001  → T000001 TicketSubmitted(Rectification), T000001 TicketPassed")
    );
    assert!(run.stderr.contains(
        "error: invariant 1 (no ticket is closed without supervision) is violated in bundle `open-restaurant`"
    ));

    let run = check(&[&hall, "--inject-fault", "skip-predecessor-check", "--depth", "4", "--format", "json"], 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["holds"], false);
    let violation = &json["bundles"][0]["violation"];
    assert_eq!(violation["invariant"], 3);
    assert_eq!(violation["trace"].as_array().unwrap().len(), 2, "{violation}");
}

/// A check that could not take some paths because the calendar ended is not "ok": a policy of
/// 260 working days for the correction notice reaches past the only covered year, so the
/// engine refuses every submission, and nothing of the bundle is explored. The check says so
/// and exits 2 (fix the definition), naming the refusal.
#[test]
fn paths_cut_short_by_the_calendar_make_the_check_incomplete() {
    let dir = std::env::temp_dir().join(format!("yichuang-check-calendar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let minimal = std::fs::read_to_string(path("../../examples/definitions/minimal.ron")).expect("readable");
    let short = dir.join("short-calendar.ron");
    let end = minimal.rfind(')').expect("the definition closes");
    let text = format!("{}    policies: (correction_notice_days: Some(260)),\n)\n", &minimal[..end]);
    std::fs::write(&short, text).expect("written");
    let short = short.display().to_string();
    let run = check(&[&short, "--depth", "6"], 2);
    assert!(run.stdout.contains("INCOMPLETE"), "{}", run.stdout);
    assert!(run.stdout.contains("cut short by the calendar") && run.stdout.contains("C000001"), "{}", run.stdout);
    assert!(run.stderr.contains("the check is incomplete") && run.stderr.contains("holiday table"), "{}", run.stderr);
    let run = check(&[&short, "--depth", "6", "--format", "json"], 2);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let bundle = &value["bundles"][0];
    assert_eq!(bundle["complete"], false, "{bundle}");
    assert!(bundle["calendar_refusals"].as_u64().expect("a count") > 0, "{bundle}");
    // The unmodified definition explores completely.
    let run = check(&[&path("../../examples/definitions/minimal.ron"), "--depth", "6", "--format", "json"], 0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(value["bundles"][0]["complete"], true);
    let _ = std::fs::remove_dir_all(&dir);
}
