//! Correctness of the simulator: queueing theory (Erlang C), policy effects (parallel beats
//! serial), determinism across thread counts, and scenario validation messages.
//!
//! Case counts are small so that the whole file runs in seconds in a debug build.

use std::path::{Path, PathBuf};

use yichuang_sim::{CompareOptions, RunOptions, Scenario, ScenarioError, compare, simulate};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(path: &Path) -> Scenario {
    Scenario::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn example(name: &str) -> Scenario {
    load(&repo().join("examples/scenarios").join(name))
}

/// An example scenario with parts of its text replaced; a replacement that finds nothing to
/// replace fails the test instead of leaving the scenario as it was.
fn variant(name: &str, replacements: &[(&str, &str)]) -> Scenario {
    let path = repo().join("examples/scenarios").join(name);
    let text = variant_text(name, replacements);
    Scenario::from_ron(&text, &path).unwrap_or_else(|e| panic!("{name} with {replacements:?}: {e}"))
}

/// The text of [`variant`], for a variant that is meant not to load.
fn variant_text(name: &str, replacements: &[(&str, &str)]) -> String {
    edited(&repo().join("examples/scenarios").join(name), replacements)
}

/// A file's text with each `(from, to)` replaced; fails when a replacement finds nothing.
fn edited(path: &Path, replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(path).expect("readable");
    for (from, to) in replacements {
        assert!(text.contains(from), "{} has no `{from}` to replace", path.display());
        text = text.replace(from, to);
    }
    text
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue, and the mean wait.
fn erlang_c_wait(lambda: f64, mean_service: f64, c: u32) -> f64 {
    let a = lambda * mean_service;
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let top = term * a / f64::from(c) * f64::from(c) / (f64::from(c) - a);
    let p_wait = top / (sum + top);
    p_wait / (f64::from(c) / mean_service - lambda)
}

#[test]
fn mmc_intake_reproduces_the_erlang_c_mean_wait() {
    let scenario = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mmc.ron"));
    let report = simulate(&scenario, &RunOptions::default()).expect("the M/M/c scenario runs");
    let expected = erlang_c_wait(1.0, 2.5, 3);
    assert!((expected - 3.5112).abs() < 1e-3, "Erlang C of M/M/3 at ρ = 5/6 is 3.5112, got {expected}");
    let intake = &report.stations["intake"];
    let wait = intake.queue_wait_minutes.as_ref().expect("intake waits recorded");
    let [lo, hi] = wait.ci.expect("ten replications give a confidence interval");
    assert!(lo <= expected && expected <= hi, "Erlang C {expected:.3} outside the 95 % CI [{lo:.3}, {hi:.3}]");
    assert!(hi - lo < 0.2 * expected, "the interval [{lo:.3}, {hi:.3}] is too wide to mean anything");
    let [ulo, uhi] = intake.utilisation.ci.expect("utilisation CI");
    assert!(ulo <= 2.5 / 3.0 + 0.01 && 2.5 / 3.0 - 0.01 <= uhi, "utilisation [{ulo}, {uhi}] vs ρ = 0.833");
    assert_eq!(report.cases, 10 * 15_000, "warm-up cases are not measured");
    assert_eq!(report.ratings.stars[4], 10 * 16_000, "every case rated 5★ at the delivery window");
}

#[test]
fn parallel_approval_beats_serial_on_the_same_bundle() {
    let parallel = example("parity-parallel.ron");
    let serial = example("parity-serial.ron");
    // Five replications: with three (two degrees of freedom) a difference needs a t statistic
    // near 20 to survive the correction for twenty-odd KPIs.
    let options = RunOptions { cases: Some(800), replications: Some(5), ..RunOptions::default() };
    let c = compare(&[&parallel, &serial], &options, &CompareOptions::default()).expect("both run");
    let cycle = c.differences[0].kpis.iter().find(|k| k.kpi == "cycle_time_minutes.mean").expect("cycle KPI");
    let [lo, _] = cycle.ci.expect("paired CI over five replications");
    assert!(
        cycle.difference > 0.0 && lo > 0.0,
        "serial − parallel = {} with CI from {lo}: not longer",
        cycle.difference
    );
    assert_eq!(cycle.significant, Some(true), "a real difference survives the family's correction");
    let relative = cycle.relative.expect("a baseline above 0");
    assert!((relative - cycle.difference / cycle.baseline).abs() < 1e-12);
    // Same arrivals and answers (common random numbers): the same tasks are approved.
    assert_eq!(c.reports[0].events.get("TaskApproved"), c.reports[1].events.get("TaskApproved"));
    assert_eq!(c.reports[0].arrivals, c.reports[1].arrivals);
}

/// A scenario compared with itself on independent random numbers differs only by noise. About
/// thirty KPIs are tested at once: judged one by one at 5 %, some KPI is flagged in most seeds;
/// controlled as a family (Holm–Bonferroni), in at most one seed in twenty on average. Over 20
/// seeds, at least 18 must flag nothing, and the uncorrected tests must flag something in
/// several (the control is what keeps the flags away, not a lack of power).
#[test]
fn a_scenario_against_itself_on_independent_numbers_flags_nothing_in_most_seeds() {
    let hall = example("parity-parallel.ron");
    let independent = CompareOptions { independent: true, ..CompareOptions::default() };
    let (mut clean, mut uncorrected) = (0, 0);
    for seed in 1..=20 {
        let options = RunOptions { cases: Some(300), replications: Some(4), seed: Some(seed), ..RunOptions::default() };
        let c = compare(&[&hall, &hall], &options, &independent).expect("runs");
        assert_eq!(c.random_numbers, "independent");
        let d = &c.differences[0];
        assert!(d.family >= 20, "{} KPIs tested", d.family);
        assert!(d.kpis.iter().any(|k| k.difference != 0.0), "seed {seed}: independent numbers differ");
        clean += usize::from(d.kpis.iter().all(|k| k.significant != Some(true)));
        uncorrected += usize::from(d.kpis.iter().any(|k| k.p_value.is_some_and(|p| p < 0.05)));
    }
    assert!(clean >= 18, "only {clean} of 20 seeds flag no KPI");
    assert!(uncorrected >= 5, "uncorrected tests flag something in {uncorrected} of 20 seeds");
}

/// Common random numbers, taken to the limit: a scenario compared with itself differs in
/// nothing, and every KPI with an interval is judged not significant.
#[test]
fn a_scenario_compared_with_itself_differs_in_nothing() {
    let hall = example("county-hall.ron");
    let options = RunOptions { replications: Some(2), ..RunOptions::default() };
    let c = compare(&[&hall, &hall], &options, &CompareOptions::default()).expect("runs");
    let kpis = &c.differences[0].kpis;
    for name in ["cycle_time_minutes.mean", "ratings.bad_rate", "sla.task_overdue", "utilisation.intake"] {
        assert!(kpis.iter().any(|k| k.kpi == name), "{name} is compared");
    }
    assert!(kpis.iter().filter(|k| k.ci.is_some()).count() >= 10, "two replications give intervals: {kpis:?}");
    for k in kpis {
        assert_eq!(k.difference, 0.0, "{k:?}");
        assert_eq!(k.significant, k.ci.map(|_| false), "{k:?}");
    }
}

/// The report's 差评率 is the figure `compare` tests: each replication's share of bad ratings,
/// averaged over replications, with its interval. (It used to be the share of all ratings pooled,
/// which `compare`'s baseline column contradicted whenever replications rated different numbers
/// of cases.)
#[test]
fn the_bad_rating_rate_is_the_same_figure_in_a_report_and_a_comparison() {
    let hall = example("county-hall.ron");
    let options = RunOptions { replications: Some(3), ..RunOptions::default() };
    let c = compare(&[&hall, &hall], &options, &CompareOptions::default()).expect("runs");
    let ratings = &c.reports[0].ratings;
    let rate = ratings.bad_rate.expect("the county hall rates its cases");
    let row = c.differences[0].kpis.iter().find(|k| k.kpi == "ratings.bad_rate").expect("compared");
    assert_eq!(row.baseline, rate, "the comparison's baseline is the report's figure");
    let [lo, hi] = ratings.bad_rate_ci.expect("three replications give an interval");
    assert!(0.0 <= lo && lo <= rate && rate <= hi && hi <= 1.0, "{rate} in [{lo}, {hi}]");
    let pooled = (ratings.stars[0] + ratings.stars[1]) as f64 / ratings.stars.iter().sum::<u64>() as f64;
    assert_ne!(rate, pooled, "the replications rate different numbers of cases, so the pooled share differs");
}

/// Utilisation is a fraction: its interval stays within [0, 1] even when two replications
/// far apart give a t interval wider than that (the ecology department of the county hall at
/// seed 1: [−0.34, 1.27] before the interval was clipped), and so do the paired differences'
/// within [−1, 1].
#[test]
fn utilisation_intervals_stay_within_zero_and_one() {
    let hall = example("county-hall.ron");
    let serial = example("county-hall-serial.ron");
    let options = RunOptions { replications: Some(2), seed: Some(1), ..RunOptions::default() };
    let c = compare(&[&hall, &serial], &options, &CompareOptions::default()).expect("runs");
    let mut intervals = 0;
    for report in &c.reports {
        for (name, station) in &report.stations {
            if let Some([lo, hi]) = station.utilisation.ci {
                intervals += 1;
                assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi), "{name}: [{lo}, {hi}]");
                assert!(lo <= station.utilisation.mean && station.utilisation.mean <= hi, "{name}");
            }
        }
    }
    assert!(intervals > 10, "two replications give utilisation intervals");
    for k in c.differences[0].kpis.iter().filter(|k| k.kpi.starts_with("utilisation.") || k.kpi == "on_time_rate") {
        if let Some([lo, hi]) = k.ci {
            assert!(-1.0 <= lo && hi <= 1.0, "{k:?}");
        }
    }
}

/// Every figure of `value` (a report or a comparison as JSON) that carries an interval lies
/// inside it: `mean`, `rate` or `difference` next to `ci`, and `on_time_rate` next to
/// `on_time_rate_ci`. Returns how many were checked.
fn check_inside(value: &serde_json::Value, path: &str) -> usize {
    let mut checked = 0;
    match value {
        serde_json::Value::Object(o) => {
            let pairs = [
                ("mean", "ci"),
                ("rate", "ci"),
                ("difference", "ci"),
                ("on_time_rate", "on_time_rate_ci"),
                ("bad_rate", "bad_rate_ci"),
            ];
            for (key, ci) in pairs {
                if let (Some(v), Some(serde_json::Value::Array(ci))) = (o.get(key).and_then(|v| v.as_f64()), o.get(ci))
                {
                    let (lo, hi) = (ci[0].as_f64().expect("a bound"), ci[1].as_f64().expect("a bound"));
                    assert!(lo <= v && v <= hi, "{path}.{key} = {v} outside its interval [{lo}, {hi}]: {o:?}");
                    checked += 1;
                }
            }
            for (k, v) in o {
                checked += check_inside(v, &format!("{path}.{k}"));
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                checked += check_inside(v, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
    checked
}

/// Value and interval are one estimator. Over ten days without warm-up the county hall's
/// replications measure very different numbers of cases of each kind (a department that
/// reviewed 3 tasks in one replication and 40 in another, a bundle some replications never
/// see): a mean pooled over every case could lie outside the interval of the replication
/// means, and a replication without a case of a bundle voided the bundle's interval. In
/// `compare`, the p95 difference was the difference of the pooled p95s while its interval was
/// over the replications' own p95s (+1011 min with an interval of [−192, 924]).
#[test]
fn every_reported_value_lies_inside_its_interval() {
    let short =
        variant("county-hall.ron", &[("stop: Days(56)", "stop: Days(10)"), ("warm_up: Days(14)", "warm_up: None")]);
    let options = RunOptions { replications: Some(40), ..RunOptions::default() };
    let aggregate = yichuang_sim::aggregate(&short, &options).expect("runs");
    let report = yichuang_sim::Report::build(&short, options.seed(&short), 1, 0.95, &aggregate, 0.0);
    let json = serde_json::to_value(&report).expect("serialises");
    assert!(check_inside(&json, "report") > 40, "the report's intervals are checked");
    let mut partly_seen = 0;
    let bundles =
        aggregate.bundles.iter().map(|b| (&b.id, &b.cycle, report.bundles[&b.id].cycle_time_minutes.as_ref()));
    let stations =
        aggregate.stations.iter().map(|s| (&s.name, &s.wait, report.stations[&s.name].queue_wait_minutes.as_ref()));
    for (name, tally, summary) in bundles.chain(stations) {
        let seen = tally.replications.iter().filter(|r| r.0 > 0).count();
        if seen >= 2 {
            assert!(summary.is_some_and(|s| s.ci.is_some()), "{name}: no interval from {seen} replications");
            partly_seen += usize::from(seen < 40);
        }
    }
    assert!(partly_seen > 0, "a station or bundle some replications never saw is checked");
    let c = compare(
        &[&example("county-hall.ron"), &example("county-hall-no-tolerance.ron")],
        &RunOptions::default(),
        &CompareOptions::default(),
    )
    .expect("runs");
    let json = serde_json::to_value(&c).expect("serialises");
    assert!(check_inside(&json["differences"], "differences") > 20, "the differences' intervals are checked");
    let p95 = c.differences[0].kpis.iter().find(|k| k.kpi == "cycle_time_minutes.p95").expect("the p95 row");
    assert!(p95.ci.is_some(), "five replications give the p95 difference an interval");
    assert!((p95.difference - (p95.value - p95.baseline)).abs() < 1e-6, "{p95:?}");
}

fn without_timing(report: &yichuang_sim::Report) -> serde_json::Value {
    let mut v = serde_json::to_value(report).expect("reports serialise");
    let o = v.as_object_mut().expect("an object");
    for key in ["wall_seconds", "cases_per_second", "threads"] {
        o.remove(key);
    }
    v
}

#[test]
fn results_are_identical_whatever_the_thread_count() {
    let scenario = example("parity-no-tolerance.ron");
    let run = |threads| {
        let options = RunOptions { cases: Some(400), replications: Some(4), threads, ..RunOptions::default() };
        without_timing(&simulate(&scenario, &options).expect("runs"))
    };
    let one = run(1);
    assert_eq!(one, run(3), "three threads differ from one");
    assert_eq!(one, run(2), "two threads differ from one");
    let other_seed = simulate(
        &scenario,
        &RunOptions { cases: Some(400), replications: Some(4), seed: Some(99), ..RunOptions::default() },
    )
    .expect("runs");
    assert_ne!(one, without_timing(&other_seed), "the seed changes the results");
}

/// Replications are folded in replication order as they finish: with many more replications
/// than threads, results that finish early wait for those before them, and the report is the
/// one of every result kept and folded afterwards.
#[test]
fn folding_as_replications_finish_gives_the_same_report_whatever_the_thread_count() {
    let scenario = example("parity-no-tolerance.ron");
    let options = |threads| RunOptions { cases: Some(60), replications: Some(40), threads, ..RunOptions::default() };
    let run = |threads| without_timing(&simulate(&scenario, &options(threads)).expect("runs"));
    let one = run(1);
    assert_eq!(one, run(2), "two threads differ from one");
    assert_eq!(one, run(3), "three threads differ from one");
    let kept = yichuang_sim::run_replications(&scenario, &options(2)).expect("runs");
    assert_eq!(kept.iter().map(|r| r.replication).collect::<Vec<_>>(), (0..40).collect::<Vec<_>>());
    let seed = options(2).seed(&scenario);
    let report = yichuang_sim::Report::build(&scenario, seed, 2, 0.95, &yichuang_sim::Aggregate::of(&kept), 0.0);
    assert_eq!(one, without_timing(&report), "folding as they come differs from folding them all afterwards");
}

#[test]
fn office_hours_hall_runs_the_whole_loop() {
    let scenario = example("county-hall.ron");
    let options = RunOptions { replications: Some(1), ..RunOptions::default() };
    let report = simulate(&scenario, &options).expect("the county hall runs");
    assert!(report.cases > 500, "{} cases", report.cases);
    let closed = report.waiting_minutes.closed_hours.as_ref().expect("closed hours").mean;
    assert!(closed > 0.0, "an office-hours hall closes at night");
    let working = report.working_cycle_time_minutes.as_ref().expect("working").mean;
    let calendar = report.cycle_time_minutes.as_ref().expect("calendar").mean;
    assert!(working < calendar);
    assert!(report.tickets.closed > 0, "tickets go round the loop and close: {:?}", report.tickets);
    // Clocks: every level change is a warning or an overdue of a case or a task, and every
    // overdue clock opens exactly one overdue ticket (counted from a different event).
    let sla = &report.sla;
    assert!(sla.task_warnings > 0 && sla.task_overdue > 0, "{sla:?}");
    assert_eq!(
        report.events.get("SlaLevelChanged").copied(),
        Some(sla.case_warnings + sla.case_overdue + sla.task_warnings + sla.task_overdue),
        "{sla:?}"
    );
    assert_eq!(report.tickets.opened.get("overdue").copied(), Some(sla.case_overdue + sla.task_overdue), "{sla:?}");
    assert!(report.events.contains_key("SpecialProcedureStarted"));
    assert!(report.events.contains_key("TaskSigned"), "countersigns are signed by each department");
    for (name, u) in &report.utilisation {
        assert!((0.0..=1.0).contains(u), "{name}: utilisation {u}");
    }
}

fn problems(text: &str) -> Vec<(String, String)> {
    let path = repo().join("examples/scenarios/bad.ron");
    match Scenario::from_ron(text, &path) {
        Err(ScenarioError::Invalid { problems, .. }) => problems.into_iter().map(|p| (p.field, p.message)).collect(),
        Err(other) => panic!("expected problems, got {other}"),
        Ok(_) => panic!("the scenario is invalid"),
    }
}

#[test]
fn a_bad_scenario_lists_every_problem_with_its_field() {
    let text = variant_text(
        "parity-parallel.ron",
        &[
            ("bundle: \"parity\"", "bundle: \"paritty\""),
            ("(department: \"dept-e\", count: 22)", "(department: \"dept-x\", count: 22)"),
            ("Exponential(mean: 20.0)", "Exponential(mean: -1.0)"),
            ("consult: 0.6", "consult: 1.6"),
            ("warm_up: None", "warm_up: Days(1e9)"),
        ],
    );
    let found = problems(&text);
    let has = |field: &str, needle: &str| found.iter().any(|(f, m)| f == field && m.contains(needle));
    assert!(has("arrivals[0].bundle", "parity"), "{found:#?}");
    assert!(has("reviewers[4].department", "dept-e"), "{found:#?}");
    assert!(has("reviews[4].time", "mean must be"), "{found:#?}");
    assert!(has("applicants.consult", "probability"), "{found:#?}");
    assert!(has("warm_up", "give a number of days in [0, 3660]"), "{found:#?}");
    // A run in days must end inside the calendar (2026 for the parity hall).
    let late = variant_text(
        "parity-parallel.ron",
        &[("Cases(100000)", "Days(30.0)"), ("2026-01-05T00:00", "2026-12-10T00:00")],
    );
    let found = problems(&late);
    assert!(
        found.iter().any(|(f, m)| f == "stop"
            && m.contains("past the definition's calendar")
            && m.contains("fewer than 22 days")),
        "{found:#?}"
    );
    let syntax = Scenario::from_ron("(name: \"x\", stop: Cases(1), oops: 3)", &repo().join("examples/scenarios/x.ron"));
    match syntax {
        Err(e @ ScenarioError::Syntax { .. }) => assert!(e.to_string().contains("oops"), "{e}"),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

/// What the audit of the format found: an unknown bundle no longer hides the other problems of
/// its arrival stream, too many streams are refused (they are numbered with 16 bits), a byte-order
/// mark is not a syntax error, and a bad whole number says what is accepted.
#[test]
fn every_problem_of_an_arrival_is_reported_and_files_saved_on_windows_load() {
    let parity = std::fs::read_to_string(repo().join("examples/scenarios/parity-parallel.ron")).expect("readable");
    let found = problems(&variant_text(
        "parity-parallel.ron",
        &[
            ("bundle: \"parity\"", "bundle: \"paritty\""),
            ("(material: \"e-doc\", probability: 0.15)", "(material: \"e-doc\", probability: 1.5)"),
            ("(\"是\", 0.5), (\"否\", 0.5)", "(\"是\", -0.5), (\"否\", 1.5)"),
        ],
    ));
    let has = |field: &str, needle: &str| found.iter().any(|(f, m)| f == field && m.contains(needle));
    assert!(has("arrivals[0].bundle", "unknown bundle"), "{found:#?}");
    assert!(has("arrivals[0].missing[0].probability", "probability"), "{found:#?}");
    assert!(has("arrivals[0].answers[0].choices", "probability"), "{found:#?}");

    let start = parity.find("arrivals: [").expect("arrivals") + "arrivals: [".len();
    let end = parity[start..].find("\n    ],").expect("end of arrivals") + start;
    let stream = "(bundle: \"parity\", rate: PerHour(0.001)),";
    let many = format!("{}{}{}", &parity[..start], stream.repeat((1 << 16) + 1), &parity[end..]);
    let found = problems(&many);
    assert!(found.iter().any(|(f, m)| f == "arrivals" && m.contains("at most 65536")), "{found:#?}");

    let path = repo().join("examples/scenarios/bom.ron");
    let with_bom = format!("\u{feff}{parity}");
    assert!(Scenario::from_ron(&with_bom, &path).is_ok(), "a UTF-8 byte-order mark is not part of the text");

    let negative =
        Scenario::from_ron(&variant_text("parity-parallel.ron", &[("replications: 1,", "replications: -1,")]), &path);
    match negative {
        Err(e @ ScenarioError::Syntax { .. }) => {
            assert!(e.to_string().contains("whole numbers ≥ 0 (replications 1–100000"), "{e}")
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

/// Memory stays bounded by the cases in flight: the simulator hands every case it has finished
/// back to the engine to retire (or, delivered and waiting for its default rating, to
/// compact), so over 56 days of the county hall — office hours, ratings at pickup, complaints,
/// tickets, returns — the engine never holds more than the last week or so of cases. A path
/// that forgot to retire its cases would make the engine hold nearly every case by the end.
#[test]
fn the_engine_holds_only_the_cases_in_flight() {
    for name in ["county-hall.ron", "county-hall-no-tolerance.ron"] {
        let scenario = example(name);
        let options = RunOptions { replications: Some(1), ..RunOptions::default() };
        let results = yichuang_sim::run_replications(&scenario, &options).expect("runs");
        let r = &results[0];
        assert!(r.arrivals > 1_000, "{name}: a long enough run ({} arrivals)", r.arrivals);
        eprintln!("{name}: engine held at most {} of {} cases", r.engine_cases_held_max, r.arrivals);
        assert!(
            r.engine_cases_held_max * 4 < r.arrivals,
            "{name}: the engine held up to {} of {} cases",
            r.engine_cases_held_max,
            r.arrivals
        );
    }
}

fn industrial_fixed(land_planning_reviewers: u32, edits: &[(&str, &str)]) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/industrial-fixed.ron");
    let reviewers = format!("(department: \"land-planning\", count: {land_planning_reviewers})");
    let mut all = vec![("(department: \"land-planning\", count: 3)", reviewers.as_str())];
    all.extend_from_slice(edits);
    let text = edited(&path, &all);
    Scenario::from_ron(&text, &path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The approval walk follows stage gates as well as `after` edges. One industrial-project case
/// with fixed times (intake 1 min from 0): project-filing 1–11; land-pre-review and the EIA
/// 11–21; land-use-planning-permit 21–31, and design-scheme-review 21–31 once stage 1's
/// milestones (filing, pre-review) are approved; the planning permit 31–41 and drawing-review
/// 31–131 (stage 2 opens when either stage-2 milestone is approved); construction-permit waits
/// for the EIA (21), the land-use (31) and planning (41) permits and the drawings (131): the
/// land-use permit is the planning permit's own predecessor, so its siblings finish at 21, 41
/// and 131, a join wait of 110 minutes from the first (the EIA) to the last; 131–141; joint
/// acceptance is a countersign of three departments, 141–171, gated by stage 3; completion
/// filing 171–181; pickup 181–182. The walk back from the decision goes through the first
/// sibling to finish (EIA, then filing): 1 + 10 + 10 at windows and reviews, the join's 110,
/// then 10 + 30 + 10 + 1: 182 minutes, of which 72 in service.
#[test]
fn join_waits_are_found_through_stage_gates() {
    let report = simulate(&industrial_fixed(3, &[]), &RunOptions::default()).expect("runs");
    assert_eq!(report.cases, 1);
    assert_eq!(report.cycle_time_minutes.as_ref().expect("one case").mean, 182.0);
    let join = report.waiting_minutes.join.as_ref().expect("one case").mean;
    // Filing and pre-review (the stage gate of design-scheme-review) run one after the other:
    // the pre-review's 10 minutes are its own work, not a wait for a sibling.
    assert_eq!(join, 110.0, "construction-permit waits 110 min between its first and last predecessor");
    assert_eq!(report.waiting_minutes.queue.as_ref().expect("one case").mean, 0.0, "nobody queues");
    assert_eq!(report.waiting_minutes.service.as_ref().expect("one case").mean, 72.0);
    // Nobody waited anywhere, so no queue was ever longer than 0.
    for (name, st) in &report.stations {
        assert_eq!(st.queue_length_max, 0, "{name}: a job that starts on arrival never queues");
    }
    // The drawing review's 100 minutes are the only slowest branch at the one join.
    let slowest = &report.stations["housing-construction"].slowest_branch;
    assert_eq!(slowest.as_ref().map(|s| (s.share_of_joins, s.join_minutes_per_case)), Some((1.0, 110.0)));
}

/// With one land-planning reviewer, the land-use permit and design-scheme-review (opened by
/// the stage gate) are ready at minute 21: the land-use permit is reviewed 21–31 and
/// design-scheme-review queues for 10 minutes (31–41), so the planning permit runs 41–51 and
/// drawing-review 41–141, and construction-permit waits 120 minutes (21 to 141). That queue
/// wait lies on a slower branch, inside the join wait: the walk goes through the EIA.
///
/// Two such cases arriving together, with three land-planning reviewers and the EIA taking 200
/// minutes: the second case's project-filing queues 10 minutes behind the first's (one
/// investment-construction reviewer). In each case the land-use permit is now the first of
/// construction-permit's predecessors to finish (31 and 41), and the walk goes back through its
/// stage gate (filing and pre-review, the pre-review after the filing) to the filing, where it
/// finds the second case's 10 minutes in the queue: the first case takes 1 + 10 + 10 + 10, a
/// join of 180 (31 to 211), 10 + 30 + 10 + 1 = 262 minutes; the second 10 more in the queue.
#[test]
fn queue_waits_are_found_through_stage_gates() {
    let report = simulate(&industrial_fixed(1, &[]), &RunOptions::default()).expect("runs");
    assert_eq!(report.cycle_time_minutes.as_ref().expect("one case").mean, 192.0);
    assert_eq!(report.waiting_minutes.queue.as_ref().expect("one case").mean, 0.0);
    assert_eq!(report.waiting_minutes.join.as_ref().expect("one case").mean, 120.0);
    let edits = [
        ("rate: Trace([0.0])", "rate: Trace([0.0, 0.0])"),
        ("stop: Cases(1)", "stop: Cases(2)"),
        ("(item: \"environmental-impact\", time: Fixed(10.0))", "(item: \"environmental-impact\", time: Fixed(200.0))"),
    ];
    let report = simulate(&industrial_fixed(3, &edits), &RunOptions::default()).expect("runs");
    let mean = |s: &Option<yichuang_sim::stats::Summary>| s.as_ref().map(|s| (s.count, s.mean));
    assert_eq!(mean(&report.cycle_time_minutes), Some((2, 267.0)), "262 and 272 minutes");
    assert_eq!(mean(&report.waiting_minutes.queue), Some((2, 5.0)), "0 and 10 minutes");
    assert_eq!(mean(&report.waiting_minutes.join), Some((2, 180.0)));
    assert_eq!(report.stations["investment-construction"].queue_length_max, 1, "the second filing waited");
    assert_eq!(report.stations["land-planning"].queue_length_max, 0, "three reviewers for four tasks at most");
}

/// A task opened by a stage gate and held by a tolerated material waits for the material only
/// from the moment its gate opened. The same case as above, drawing-review taking 5 minutes and
/// its geotechnical report supplied 100 minutes after the acceptance at minute 1, the EIA, the
/// land-use permit and the planning permit 300 minutes each: drawing-review's gate opens at 31 (design-scheme-review,
/// stage 2's milestone, approved), so it waits 70 minutes for the report (31 to 101), not 100
/// from the acceptance, and runs 101–106, the first of construction-permit's predecessors to
/// finish (the planning permit ends at 331). On the walk: 1 + 10 + 10 + 10, the 70 minutes'
/// wait for the material, 5, the join's 225 minutes (106 to 331), 10 + 30 + 10 + 1 = 382.
#[test]
fn a_gated_task_waits_for_a_material_from_the_opening_of_its_gate() {
    let edits = [
        (
            "answers: [(field: \"special-construction\", choices: [(\"否\", 1.0)])],",
            "answers: [(field: \"special-construction\", choices: [(\"否\", 1.0)])],\n            \
             missing: [(material: \"geotech-report\", probability: 1.0)],",
        ),
        ("    windows: [", "    applicants: (supply_after: Fixed(100.0), return_after: Fixed(100.0)),\n    windows: ["),
        ("(item: \"drawing-review\", time: Fixed(100.0))", "(item: \"drawing-review\", time: Fixed(5.0))"),
        ("(item: \"environmental-impact\", time: Fixed(10.0))", "(item: \"environmental-impact\", time: Fixed(300.0))"),
        (
            "(item: \"construction-planning-permit\", time: Fixed(10.0))",
            "(item: \"construction-planning-permit\", time: Fixed(300.0))",
        ),
        (
            "(item: \"land-use-planning-permit\", time: Fixed(10.0))",
            "(item: \"land-use-planning-permit\", time: Fixed(300.0))",
        ),
    ];
    let report = simulate(&industrial_fixed(3, &edits), &RunOptions::default()).expect("runs");
    assert_eq!(report.cases, 1);
    assert_eq!(report.cycle_time_minutes.as_ref().expect("one case").mean, 382.0);
    assert_eq!(report.waiting_minutes.materials.as_ref().expect("one case").mean, 70.0);
    assert_eq!(report.waiting_minutes.join.as_ref().expect("one case").mean, 225.0);
}

/// The parts of the cycle time — queue, join, materials, special procedures and service — add
/// up to it case by case, so their means add up to its mean, on every example scenario (the
/// county hall has countersigns, stage gates, special procedures, corrections, tolerated
/// materials, suspensions and denials).
#[test]
fn the_parts_of_the_cycle_time_add_up_on_every_example_scenario() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("examples/scenarios")).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let scenario = load(&path);
        // The county hall's scenarios stop after 8 weeks (2 of warm-up); the parity ones after
        // 100,000 cases, here 400.
        let cases = matches!(scenario.spec.stop, yichuang_sim::scenario::Stop::Cases(_)).then_some(400);
        let options = RunOptions { replications: Some(2), cases, ..RunOptions::default() };
        let report = simulate(&scenario, &options).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let w = &report.waiting_minutes;
        let mean = |s: &Option<yichuang_sim::stats::Summary>| s.as_ref().map_or(0.0, |s| s.mean);
        let parts = mean(&w.queue) + mean(&w.join) + mean(&w.materials) + mean(&w.special_procedure) + mean(&w.service);
        let cycle = mean(&report.cycle_time_minutes);
        assert!(report.cases > 100, "{}: {} cases", path.display(), report.cases);
        assert!(
            (parts - cycle).abs() <= 1e-9 * cycle,
            "{}: the parts add up to {parts}, the cycle time is {cycle}: {w:#?}",
            path.display()
        );
        assert!(mean(&w.service) > 0.0 && mean(&w.queue) >= 0.0, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 7, "{checked} example scenarios");
}

/// The sojourn at a station is its queue wait plus its service: at the M/M/3 intake of the
/// Erlang C test, the Erlang C wait plus the mean service of 2.5 minutes; its offered load is
/// λ·E[S]/c = 2.5/3.
#[test]
fn the_sojourn_at_a_station_is_its_wait_and_its_service() {
    let scenario = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mmc.ron"));
    let report = simulate(&scenario, &RunOptions::default()).expect("runs");
    let intake = &report.stations["intake"];
    let expected = erlang_c_wait(1.0, 2.5, 3) + 2.5;
    let sojourn = intake.sojourn_minutes.as_ref().expect("sojourn");
    let [lo, hi] = sojourn.ci.expect("replications give an interval");
    assert!(lo <= expected && expected <= hi, "sojourn {} [{lo}, {hi}], Erlang C {expected}", sojourn.mean);
    let load = intake.offered_load.as_ref().expect("offered load").mean;
    assert!((load - 2.5 / 3.0).abs() < 0.02, "offered load {load}, λ·E[S]/c = {}", 2.5 / 3.0);
    assert!(report.steady_state.steady, "{:?}", report.steady_state);
}

/// An overloaded hall (eight intake windows for 1.5 times their capacity of work) is reported
/// as not steady, naming intake and its offered load; a hall within capacity is steady.
#[test]
fn an_overloaded_station_is_reported_not_steady() {
    let scenario = variant(
        "parity-parallel.ron",
        &[("(class: Intake, count: 14,", "(class: Intake, count: 8,"), ("stop: Cases(100000)", "stop: Cases(3000)")],
    );
    let report = simulate(&scenario, &RunOptions { replications: Some(2), ..RunOptions::default() }).expect("runs");
    let state = &report.steady_state;
    assert!(!state.steady, "{state:?}");
    let intake = state.unsteady.iter().find(|u| u.station == "intake").expect("intake is named");
    let load = intake.offered_load.expect("offered load");
    assert!((1.35..1.65).contains(&load), "offered load {load}, λ·E[S]/c = 1.5");
    assert!(intake.queue_growing && intake.overloaded, "the intake queue grows through the arrivals");
    assert_eq!(state.unsteady[0].station, "intake", "the worst first: {state:?}");
    let steady = simulate(&example("parity-parallel.ron"), &RunOptions { cases: Some(3000), ..RunOptions::default() })
        .expect("runs");
    assert!(steady.steady_state.steady, "{:?}", steady.steady_state);
}

/// At a `Days` stop every applicant who arrived is either a completed case or unfinished, also
/// those still queueing at intake, for whom the engine has no case yet (one intake window for
/// one arrival a minute leaves hundreds queueing).
#[test]
fn applicants_still_queueing_at_the_stop_are_unfinished() {
    let scenario = variant(
        "parity-parallel.ron",
        &[("stop: Cases(100000)", "stop: Days(0.5)"), ("(class: Intake, count: 14,", "(class: Intake, count: 1,")],
    );
    let report = simulate(&scenario, &RunOptions::default()).expect("runs");
    assert!(report.unfinished > 300, "most applicants still queue: {}", report.unfinished);
    assert_eq!(report.cases + report.unfinished, report.arrivals, "{} + {}", report.cases, report.unfinished);
}

/// Levels (utilisation, queue length, WIP) are measured from the end of the warm-up. When every
/// arrival falls in a `Days` warm-up that outlasts the run, measuring never begins: the levels
/// are zero, not the warm-up's (500 parity cases take about 9 hours, the warm-up a day).
#[test]
fn levels_are_not_measured_during_a_warm_up_that_outlasts_the_run() {
    let scenario = variant("parity-parallel.ron", &[("warm_up: None", "warm_up: Days(1.0)")]);
    let report = simulate(&scenario, &RunOptions { cases: Some(500), ..RunOptions::default() }).expect("runs");
    assert_eq!((report.arrivals, report.cases), (500, 0));
    for (name, st) in &report.stations {
        assert_eq!(st.utilisation.mean, 0.0, "{name}: utilisation of the warm-up");
        assert_eq!(st.queue_length.mean, 0.0, "{name}: queue length of the warm-up");
        assert_eq!(st.queue_length_max, 0, "{name}: longest queue of the warm-up");
        assert_eq!(st.served, 0.0, "{name}");
    }
    assert!(report.utilisation.values().all(|&u| u == 0.0), "{:?}", report.utilisation);
    assert_eq!((report.wip.mean.mean, report.wip.max), (0.0, 0), "WIP of the warm-up");
    // The same cases measured from the start (no warm-up) do show the levels.
    let measured = simulate(&example("parity-parallel.ron"), &RunOptions { cases: Some(500), ..RunOptions::default() })
        .expect("runs");
    assert!(measured.utilisation["intake"] > 0.3, "{:?}", measured.utilisation);
}

/// The Gantt chart's sample case shows parallel approvals: on parity-parallel, two of its tasks
/// are under review at the same time (the first case with three applicable members may be
/// A → B → E, one after the other).
#[test]
fn the_gantt_sample_shows_parallel_approvals() {
    let scenario = example("parity-parallel.ron");
    let options = RunOptions { cases: Some(3000), ..RunOptions::default() };
    let results = yichuang_sim::run_replications(&scenario, &options).expect("runs");
    let gantt = results[0].gantt.as_ref().expect("a sample case");
    let reviews: Vec<(f64, f64)> = gantt.tasks.iter().map(|t| (t.3, t.4)).collect();
    let overlapping = reviews.iter().enumerate().any(|(i, a)| reviews[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1));
    assert!(overlapping, "no two reviews overlap in {:?}", gantt.tasks);
    // Deterministic: the same sample again.
    let again = yichuang_sim::run_replications(&scenario, &options).expect("runs");
    assert_eq!(again[0].gantt.as_ref().map(|g| (g.arrival, g.tasks.len())), Some((gantt.arrival, gantt.tasks.len())));
    // Serial approval has no overlap: the first case with three members is kept.
    let serial = yichuang_sim::run_replications(&example("parity-serial.ron"), &options).expect("runs");
    assert!(serial[0].gantt.as_ref().is_some_and(|g| g.tasks.len() >= 3));
}

/// parity-parallel with its hall and arrival rate replaced.
fn parity_with(hall: &str, rate: &str) -> Scenario {
    let (hall, rate) = (format!("hall: {hall}"), format!("rate: {rate}"));
    variant("parity-parallel.ron", &[("hall: AlwaysOpen", &hall), ("rate: PerHour(60.0)", &rate)])
}

/// Arrivals still owed under a `Cases` stop when the calendar ends are an error in either kind
/// of hall (the office-hours one used to close its arrival stream silently and report the
/// cases that came).
#[test]
fn arrivals_owed_past_the_calendar_are_an_error_in_every_hall() {
    let sunday_only = "Hourly(per_hour: [5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5], weekdays: [0,0,0,0,0,0,1])";
    for (hall, rate) in
        [("OfficeHours", sunday_only), ("OfficeHours", "PerHour(1e-9)"), ("AlwaysOpen", "PerHour(0.02)")]
    {
        let options = RunOptions { cases: Some(500), ..RunOptions::default() };
        match simulate(&parity_with(hall, rate), &options) {
            Err(e @ yichuang_sim::SimError::Calendar { .. }) => {
                let message = e.to_string();
                for needle in
                    ["2027-01-01", "cover 2026–2026", "of the 500 arrivals asked for", "raise the arrival rates"]
                {
                    assert!(message.contains(needle), "{hall}, {rate}: `{needle}` not in {message}");
                }
            }
            Err(other) => panic!("{hall}, {rate}: expected a calendar error, got {other}"),
            Ok(report) => panic!("{hall}, {rate}: expected a calendar error, got {} arrivals", report.arrivals),
        }
    }
}

/// A stream that runs out of calendar is no error when the other streams bring the arrivals
/// owed before the calendar's end.
#[test]
fn a_stream_past_the_calendar_is_no_error_when_the_others_bring_the_arrivals() {
    let scenario = variant(
        "parity-parallel.ron",
        &[
            ("hall: AlwaysOpen", "hall: OfficeHours"),
            ("    arrivals: [\n", "    arrivals: [\n        (bundle: \"parity\", rate: PerHour(1e-9)),\n"),
        ],
    );
    let report = simulate(&scenario, &RunOptions { cases: Some(300), ..RunOptions::default() }).expect("runs");
    assert_eq!(report.arrivals, 300);
}

/// The queue-length chart draws work in progress (cases in the hall) too, one point per sample,
/// on an axis of its own.
#[test]
fn the_queue_chart_draws_work_in_progress() {
    let report = simulate(&example("parity-parallel.ron"), &RunOptions { cases: Some(500), ..RunOptions::default() })
        .expect("runs");
    let svg = yichuang_sim::svg::queues(&report);
    let samples = &report.charts.series.wip;
    assert!(samples.iter().any(|&w| w > 0.0), "cases were in the hall: {samples:?}");
    let path = svg.lines().find(|l| l.contains(r#"id="wip""#)).expect("a WIP line");
    let points = path.matches(['M', 'L']).count();
    assert_eq!(points, samples.len(), "one point per WIP sample: {path}");
    assert!(svg.contains("cases in the hall (WIP)"), "{svg}");
}

/// The queue-length chart covers the warm-up (its samples start at 0) and shades it, so that a
/// reader does not take the warm-up's rise for the measured levels; without a warm-up nothing is
/// shaded.
#[test]
fn the_queue_chart_shades_the_warm_up() {
    let hall = simulate(&example("county-hall.ron"), &RunOptions { replications: Some(1), ..RunOptions::default() })
        .expect("runs");
    let end = hall.charts.series.warm_up_end.expect("the county hall warms up for two weeks");
    assert_eq!(end, 14.0 * 1440.0, "Days(14) ends at minute 20160");
    let svg = yichuang_sim::svg::queues(&hall);
    assert!(svg.lines().any(|l| l.contains(r#"id="warm-up""#)), "the warm-up is shaded");
    assert!(svg.contains("warm-up (not measured)"), "and the legend says what the shade is");
    let parity = simulate(&example("parity-parallel.ron"), &RunOptions { cases: Some(300), ..RunOptions::default() })
        .expect("runs");
    assert_eq!(parity.charts.series.warm_up_end, None);
    assert!(!yichuang_sim::svg::queues(&parity).contains("warm-up"), "no warm-up, no shade");
}

/// Outcomes are counted at pickup: they add up to the completed cases, even when the run stops
/// (a `Days` stop) with cases decided and not yet picked up.
#[test]
fn outcomes_add_up_to_the_completed_cases() {
    let report = simulate(&example("county-hall.ron"), &RunOptions { replications: Some(2), ..RunOptions::default() })
        .expect("runs");
    let o = &report.outcomes;
    assert!(report.unfinished > 0, "the stop leaves cases in the hall");
    assert!(o.denied > 0 && o.partially_approved + o.approved > 0, "{o:?}");
    assert_eq!(o.approved + o.partially_approved + o.denied, report.cases, "{o:?}");
}

/// `warm_up: Auto` finds the initial transient of the parity hall (which opens empty and fills
/// within a few hours: about its cycle time) on a pilot, measures after it, reports it and
/// marks it on the queue chart; an overloaded hall, whose work in progress never stops
/// growing, has no warm-up to find, and says so.
#[test]
fn an_automatic_warm_up_is_detected_reported_and_shaded() {
    let auto = |intake: &str| {
        variant(
            "parity-parallel.ron",
            &[
                ("warm_up: None,", "warm_up: Auto,"),
                ("stop: Cases(100000)", "stop: Cases(3000)"),
                ("(class: Intake, count: 14,", intake),
            ],
        )
    };
    let options = RunOptions { replications: Some(2), ..RunOptions::default() };
    let report = simulate(&auto("(class: Intake, count: 14,"), &options).expect("runs");
    let warm_up = report.warm_up.as_ref().expect("detected warm-up reported");
    assert!(warm_up.detected && warm_up.method.contains("MSER-5"), "{warm_up:?}");
    assert!((60.0..600.0).contains(&warm_up.minutes), "{} minutes: about the hall's filling time", warm_up.minutes);
    assert_eq!(report.charts.series.warm_up_end, Some(warm_up.minutes), "the queue chart shades it");
    assert!(report.cases < 2 * 3000, "cases arriving in the warm-up are not measured: {}", report.cases);
    let svg = yichuang_sim::svg::queues(&report);
    assert!(svg.contains("warm-up"), "the chart marks the warm-up");
    let overloaded = simulate(&auto("(class: Intake, count: 8,"), &options).expect("runs");
    let warm_up = overloaded.warm_up.as_ref().expect("reported");
    assert!(!warm_up.detected && warm_up.minutes == 0.0, "{warm_up:?}");
    assert_eq!(overloaded.cases, 2 * 3000, "nothing is cut when nothing settles");
}

/// `--precision`: replications are added until the interval is narrow enough, the same number
/// whatever the thread count; a cap stops the run first and the report says the target was not
/// met.
#[test]
fn precision_adds_replications_until_the_target_or_the_cap() {
    use yichuang_sim::precision::{Targets, Width};
    let scenario = example("parity-parallel.ron");
    let targets =
        Targets { kpis: vec![("cycle_time_minutes.mean".to_owned(), Width::Relative(0.04))], max_replications: 200 };
    let run = |threads: usize, targets: &Targets| {
        let options = RunOptions { cases: Some(400), threads, precision: Some(targets), ..RunOptions::default() };
        simulate(&scenario, &options).expect("runs")
    };
    let one = run(1, &targets);
    let outcome = one.precision.as_ref().expect("precision reported");
    assert!(outcome.met, "{outcome:?}");
    assert!(outcome.replications > 5 && outcome.replications < 200, "{outcome:?}");
    assert_eq!(one.replications, outcome.replications);
    let target = &outcome.targets[0];
    let (half, value) = (target.half_width.expect("interval"), target.value.expect("value"));
    assert!(half <= 0.04 * value, "{half} within 4 % of {value}");
    // One replication fewer would not have met it (the procedure stops at the first count that does).
    let fewer = Targets { max_replications: outcome.replications - 1, ..targets.clone() };
    let short = run(1, &fewer);
    let short_outcome = short.precision.as_ref().expect("reported");
    assert!(!short_outcome.met && short_outcome.replications == outcome.replications - 1, "{short_outcome:?}");
    let two = run(2, &targets);
    assert_eq!(without_timing(&one), without_timing(&two), "the same replications whatever the thread count");
}

/// Acceptance (issue 24): a sweep of intake windows 10 to 16 on parity-parallel, with common
/// random numbers: the mean cycle time falls with every window added, each point has its
/// interval, and the chart draws the seven points, their band and round ticks. With more
/// work than windows (10 and 11: offered load above 1) the points are marked not steady.
#[test]
fn a_sweep_of_intake_windows_shows_cycle_time_falling() {
    use yichuang_sim::experiment::{Design, Factor, points, run};
    let base = example("parity-parallel.ron");
    let factors = vec![Factor::parse("windows.Intake=10..16").expect("a factor")];
    let points = points(&base, &factors, Design::Grid).expect("valid points");
    assert_eq!(points.len(), 7);
    let options = RunOptions { replications: Some(3), cases: Some(2000), ..RunOptions::default() };
    let report = run(&base, &points, &factors, Design::Grid, &options).expect("runs");
    let cycle: Vec<(f64, [f64; 2])> = report
        .points
        .iter()
        .map(|p| {
            let k = p.kpis.iter().find(|k| k.kpi == "cycle_time_minutes.mean").expect("cycle KPI");
            (k.value, k.ci.expect("three replications give an interval"))
        })
        .collect();
    for pair in cycle.windows(2) {
        assert!(pair[1].0 < pair[0].0, "cycle time falls with every window: {cycle:?}");
    }
    for (value, [lo, hi]) in &cycle {
        assert!(lo <= value && value <= hi, "{value} in [{lo}, {hi}]");
    }
    let steady: Vec<bool> = report.points.iter().map(|p| p.report.steady_state.steady).collect();
    assert_eq!(&steady[..2], &[false, false], "10 and 11 windows cannot keep up: {steady:?}");
    assert!(steady[3..].iter().all(|s| *s), "{steady:?}");
    assert!(report.points.iter().all(|p| p.report.seed == report.seed), "common random numbers");
    // The same with the points run one at a time: the same figures.
    let serial = run(&base, &points, &factors, Design::Grid, &RunOptions { threads: 1, ..options }).expect("runs");
    assert_eq!(
        serde_json::to_value(report.points.iter().map(|p| &p.kpis).collect::<Vec<_>>()).expect("json"),
        serde_json::to_value(serial.points.iter().map(|p| &p.kpis).collect::<Vec<_>>()).expect("json"),
    );

    let svg = yichuang_sim::svg::sweep(&report, "cycle_time_minutes.mean");
    let doc = roxmltree::Document::parse(&svg).expect("the chart is well-formed SVG");
    let width: f64 = doc.root_element().attribute("width").and_then(|w| w.parse().ok()).expect("width");
    let circles: Vec<roxmltree::Node> = doc.descendants().filter(|n| n.has_tag_name("circle")).collect();
    assert_eq!(circles.len(), 7, "one marker per point");
    let ys: Vec<f64> = circles.iter().filter_map(|c| c.attribute("data-y").and_then(|y| y.parse().ok())).collect();
    for (y, (value, _)) in ys.iter().zip(&cycle) {
        assert!((y - value).abs() < 1e-6, "the markers carry the values");
    }
    assert_eq!(circles.iter().filter(|c| c.attribute("fill") == Some("white")).count(), 2, "hollow: not steady");
    assert!(doc.descendants().any(|n| n.attribute("class") == Some("band")), "an interval band");
    let ticks: Vec<f64> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("y-tick"))
        .filter_map(|n| n.text().and_then(|t| t.replace(',', "").parse().ok()))
        .collect();
    let step = ticks[1] - ticks[0];
    let mantissa = step / 10f64.powf(step.log10().floor());
    assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9), "1-2-5 ticks: {ticks:?}");
    for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let x: f64 = text.attribute("x").and_then(|x| x.parse().ok()).unwrap_or(0.0);
        let label = text.text().unwrap_or("");
        let size: f64 = text.attribute("font-size").and_then(|s| s.parse().ok()).unwrap_or(12.0);
        let w = yichuang_sim::chart::text_width(label, size);
        let (lo, hi) = match text.attribute("text-anchor") {
            Some("middle") => (x - w / 2.0, x + w / 2.0),
            Some("end") => (x - w, x),
            _ => (x, x + w),
        };
        if text.attribute("transform").is_none() {
            assert!(lo >= 0.0 && hi <= width, "`{label}` at {lo}–{hi} is cut by the chart's edge (0–{width})");
        }
    }
    let title = doc.descendants().find(|n| n.attribute("id") == Some("title")).and_then(|n| n.text()).expect("title");
    assert!(title.contains("平均办件周期") && title.contains("Mean cycle time"), "{title}");
}

fn mmc_with(replacements: &[(&str, &str)]) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mmc.ron");
    let text = edited(&path, replacements);
    Scenario::from_ron(&text, &path).unwrap_or_else(|e| panic!("{e}"))
}

/// A schedule staffs a station by weekday and time of day: with intake closed (0 windows)
/// every day from 00:00 to 06:00 in a 24/7 hall, no intake service starts then, the windows on
/// duty average 3 × 18/24, and utilisation is of the windows on duty.
#[test]
fn a_schedule_staffs_a_station_by_time_of_day() {
    let scenario = mmc_with(&[
        ("stop: Cases(16000),", "stop: Cases(3000),"),
        ("replications: 10,", "replications: 1,"),
        (
            "(class: Intake, count: 3, service: Exponential(mean: 2.5)),",
            "(class: Intake, count: 3, service: Exponential(mean: 2.5), schedule: [(days: [Mon, Tue, Wed, Thu, Fri, Sat, Sun], from: \"00:00\", to: \"06:00\", count: 0)]),",
        ),
    ]);
    let options = RunOptions { rows: true, ..RunOptions::default() };
    let mut starts = Vec::new();
    let (report, _) = yichuang_sim::simulate_each(&scenario, &options, &mut |r| {
        let rows = r.rows.as_ref().expect("rows kept");
        let intake = rows.stations.iter().position(|s| s == "intake").expect("intake") as u16;
        starts.extend(rows.visits.iter().filter(|v| v.station == intake).map(|v| v.started));
    })
    .expect("runs");
    assert!(starts.len() > 2000, "{} intake services", starts.len());
    // The scenario starts at 2026-01-05T00:00: minute 0 of a day.
    let at_night = starts.iter().filter(|t| (*t % 1440.0) < 360.0 - 1e-9).count();
    assert_eq!(at_night, 0, "no intake service starts while intake is closed");
    let intake = &report.stations["intake"];
    assert_eq!(intake.servers, 3);
    let expected = 3.0 * 18.0 / 24.0;
    assert!(
        (intake.mean_servers - expected).abs() < 0.2,
        "{} windows on duty on average, about {expected}",
        intake.mean_servers
    );
    assert!(intake.utilisation.mean > 0.5 && intake.utilisation.mean <= 1.0, "{:?}", intake.utilisation);
    let bad = Scenario::from_ron(
        &edited(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mmc.ron"),
            &[(
                "(class: Intake, count: 3, service: Exponential(mean: 2.5)),",
                "(class: Intake, count: 3, service: Exponential(mean: 2.5), schedule: [(days: [], from: \"12:00\", to: \"09:00\", count: 2)]),",
            )],
        ),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mmc.ron"),
    );
    let message = bad.expect_err("an impossible shift").to_string();
    assert!(message.contains("windows[0].schedule[0]") && message.contains("ends after it starts"), "{message}");
}

/// Balking: with one intake window for 2.5 times its work, an applicant who finds anyone
/// waiting leaves (`queue_longer_than: 0`), so the queue never holds more than one, and every
/// arrival is either completed or lost. Reneging: with a patience of 10 minutes nobody waits
/// longer than that at a window; applicants who give up their first visit are lost, those who
/// give up a later one come back, and every case's parts still add up to its cycle time.
#[test]
fn applicants_balk_at_long_queues_and_give_up_long_waits() {
    let balking = mmc_with(&[
        ("stop: Cases(16000),", "stop: Cases(2000),"),
        ("replications: 10,", "replications: 2,"),
        ("(class: Intake, count: 3,", "(class: Intake, count: 1,"),
        ("applicants: (", "applicants: (balk: (queue_longer_than: 0), "),
    ]);
    let report = simulate(&balking, &RunOptions::default()).expect("runs");
    let lost = report.applicants_lost.as_ref().expect("reported");
    assert!(lost.balked > 1000 && lost.reneged == 0, "{lost:?}");
    assert_eq!(report.cases + lost.balked, report.arrivals - 2 * 1000, "completed or lost (warm-up of 1000 each)");
    assert_eq!(report.stations["intake"].queue_length_max, 1, "nobody joins a queue of one");
    assert!(report.steady_state.steady, "balking keeps the queue short: {:?}", report.steady_state);

    let reneging = mmc_with(&[
        ("stop: Cases(16000),", "stop: Cases(2000),"),
        ("replications: 10,", "replications: 2,"),
        ("(class: Intake, count: 3,", "(class: Intake, count: 2,"),
        ("applicants: (", "applicants: (patience: Fixed(10.0), come_back_after: Fixed(60.0), "),
    ]);
    let report = simulate(&reneging, &RunOptions::default()).expect("runs");
    let lost = report.applicants_lost.as_ref().expect("reported");
    assert!(lost.reneged > 100 && lost.balked == 0, "{lost:?}");
    for name in ["intake", "delivery"] {
        let wait = report.stations[name].queue_wait_minutes.as_ref().expect("waits");
        assert!(wait.max <= 10.0 + 1e-9, "{name}: waited {} minutes with a patience of 10", wait.max);
    }
    assert!(lost.share.mean > 0.0 && lost.share.mean < 1.0);
    let w = &report.waiting_minutes;
    let mean = |s: &Option<yichuang_sim::stats::Summary>| s.as_ref().map_or(0.0, |s| s.mean);
    let parts = mean(&w.queue) + mean(&w.join) + mean(&w.materials) + mean(&w.special_procedure) + mean(&w.service);
    let cycle = mean(&report.cycle_time_minutes);
    assert!((parts - cycle).abs() <= 1e-9 * cycle, "{parts} against {cycle}");
    let missing = Scenario::from_ron(
        &edited(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mmc.ron"),
            &[("applicants: (", "applicants: (patience: Fixed(10.0), ")],
        ),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mmc.ron"),
    );
    let message = missing.expect_err("no come_back_after").to_string();
    assert!(message.contains("applicants.come_back_after"), "{message}");
}
