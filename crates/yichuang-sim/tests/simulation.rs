//! Correctness of the simulator: queueing theory (Erlang C), policy effects (parallel beats
//! serial), determinism across thread counts, and scenario validation messages.
//!
//! Case counts are small so that the whole file runs in seconds in a debug build.

use std::path::{Path, PathBuf};

use yichuang_sim::{RunOptions, Scenario, ScenarioError, compare, simulate};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(path: &Path) -> Scenario {
    Scenario::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn example(name: &str) -> Scenario {
    load(&repo().join("examples/scenarios").join(name))
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
    let [lo, hi] = wait.ci95.expect("ten replications give a confidence interval");
    assert!(lo <= expected && expected <= hi, "Erlang C {expected:.3} outside the 95 % CI [{lo:.3}, {hi:.3}]");
    assert!(hi - lo < 0.2 * expected, "the interval [{lo:.3}, {hi:.3}] is too wide to mean anything");
    let [ulo, uhi] = intake.utilisation.ci95.expect("utilisation CI");
    assert!(ulo <= 2.5 / 3.0 + 0.01 && 2.5 / 3.0 - 0.01 <= uhi, "utilisation [{ulo}, {uhi}] vs ρ = 0.833");
    assert_eq!(report.cases, 10 * 15_000, "warm-up cases are not measured");
    assert_eq!(report.ratings.stars[4], 10 * 16_000, "every case rated 5★ at the delivery window");
}

#[test]
fn parallel_approval_beats_serial_on_the_same_bundle() {
    let parallel = example("parity-parallel.ron");
    let serial = example("parity-serial.ron");
    let options = RunOptions { cases: Some(1500), replications: Some(3), ..RunOptions::default() };
    let c = compare(&[&parallel, &serial], &options).expect("both run");
    let cycle = c.differences[0].kpis.iter().find(|k| k.kpi == "cycle_time_minutes.mean").expect("cycle KPI");
    let [lo, _] = cycle.ci95.expect("paired CI over three replications");
    assert!(
        cycle.difference > 0.0 && lo > 0.0,
        "serial − parallel = {} with CI from {lo}: not longer",
        cycle.difference
    );
    // Same arrivals and answers (common random numbers): the same tasks are approved.
    assert_eq!(c.reports[0].events.get("TaskApproved"), c.reports[1].events.get("TaskApproved"));
    assert_eq!(c.reports[0].arrivals, c.reports[1].arrivals);
}

/// Common random numbers, taken to the limit: a scenario compared with itself differs in
/// nothing, and every KPI with an interval is judged not significant.
#[test]
fn a_scenario_compared_with_itself_differs_in_nothing() {
    let hall = example("county-hall.ron");
    let options = RunOptions { replications: Some(2), ..RunOptions::default() };
    let c = compare(&[&hall, &hall], &options).expect("runs");
    let kpis = &c.differences[0].kpis;
    for name in ["cycle_time_minutes.mean", "ratings.bad_rate", "sla.task_overdue", "utilisation.intake"] {
        assert!(kpis.iter().any(|k| k.kpi == name), "{name} is compared");
    }
    assert!(kpis.iter().filter(|k| k.ci95.is_some()).count() >= 10, "two replications give intervals: {kpis:?}");
    for k in kpis {
        assert_eq!(k.difference, 0.0, "{k:?}");
        assert_eq!(k.significant, k.ci95.map(|_| false), "{k:?}");
    }
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
    let c = compare(&[&hall, &serial], &options).expect("runs");
    let mut intervals = 0;
    for report in &c.reports {
        for (name, station) in &report.stations {
            if let Some([lo, hi]) = station.utilisation.ci95 {
                intervals += 1;
                assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi), "{name}: [{lo}, {hi}]");
                assert!(lo <= station.utilisation.mean && station.utilisation.mean <= hi, "{name}");
            }
        }
    }
    assert!(intervals > 10, "two replications give utilisation intervals");
    for k in c.differences[0].kpis.iter().filter(|k| k.kpi.starts_with("utilisation.") || k.kpi == "on_time_rate") {
        if let Some([lo, hi]) = k.ci95 {
            assert!(-1.0 <= lo && hi <= 1.0, "{k:?}");
        }
    }
}

/// Every figure of `value` (a report or a comparison as JSON) that carries an interval lies
/// inside it: `mean`, `rate` or `difference` next to `ci95`, and `on_time_rate` next to
/// `on_time_rate_ci95`. Returns how many were checked.
fn check_inside(value: &serde_json::Value, path: &str) -> usize {
    let mut checked = 0;
    match value {
        serde_json::Value::Object(o) => {
            let pairs =
                [("mean", "ci95"), ("rate", "ci95"), ("difference", "ci95"), ("on_time_rate", "on_time_rate_ci95")];
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
    let path = repo().join("examples/scenarios/county-hall.ron");
    let text = std::fs::read_to_string(&path)
        .expect("readable")
        .replace("stop: Days(56)", "stop: Days(10)")
        .replace("warm_up: Days(14)", "warm_up: None");
    let short = Scenario::from_ron(&text, &path).expect("a valid scenario");
    let options = RunOptions { replications: Some(40), ..RunOptions::default() };
    let aggregate = yichuang_sim::aggregate(&short, &options).expect("runs");
    let report = yichuang_sim::Report::build(&short, options.seed(&short), 1, &aggregate, 0.0);
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
            assert!(summary.is_some_and(|s| s.ci95.is_some()), "{name}: no interval from {seen} replications");
            partly_seen += usize::from(seen < 40);
        }
    }
    assert!(partly_seen > 0, "a station or bundle some replications never saw is checked");
    let c = compare(&[&example("county-hall.ron"), &example("county-hall-no-tolerance.ron")], &RunOptions::default())
        .expect("runs");
    let json = serde_json::to_value(&c).expect("serialises");
    assert!(check_inside(&json["differences"], "differences") > 20, "the differences' intervals are checked");
    let p95 = c.differences[0].kpis.iter().find(|k| k.kpi == "cycle_time_minutes.p95").expect("the p95 row");
    assert!(p95.ci95.is_some(), "five replications give the p95 difference an interval");
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
    let report = yichuang_sim::Report::build(&scenario, seed, 2, &yichuang_sim::Aggregate::of(&kept), 0.0);
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
    let text = std::fs::read_to_string(repo().join("examples/scenarios/parity-parallel.ron"))
        .expect("readable")
        .replace("bundle: \"parity\"", "bundle: \"paritty\"")
        .replace("(department: \"dept-e\", count: 22)", "(department: \"dept-x\", count: 22)")
        .replace("Exponential(mean: 20.0)", "Exponential(mean: -1.0)")
        .replace("consult: 0.6", "consult: 1.6")
        .replace("warm_up: None", "warm_up: Days(1e9)");
    let found = problems(&text);
    let has = |field: &str, needle: &str| found.iter().any(|(f, m)| f == field && m.contains(needle));
    assert!(has("arrivals[0].bundle", "parity"), "{found:#?}");
    assert!(has("reviewers[4].department", "dept-e"), "{found:#?}");
    assert!(has("reviews[4].time", "mean must be"), "{found:#?}");
    assert!(has("applicants.consult", "probability"), "{found:#?}");
    assert!(has("warm_up", "give a number of days in [0, 3660]"), "{found:#?}");
    // A run in days must end inside the calendar (2026 for the parity hall).
    let late = std::fs::read_to_string(repo().join("examples/scenarios/parity-parallel.ron"))
        .expect("readable")
        .replace("Cases(100000)", "Days(30.0)")
        .replace("2026-01-05T00:00", "2026-12-10T00:00");
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
