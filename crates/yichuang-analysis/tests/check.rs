//! The exhaustive checker (`yichuang_analysis::check`) on the test hall: every invariant holds, and
//! each deliberately broken rule (feature `fault-injection`, on for the crate's own tests) is
//! caught with the matching invariant and a trace that replays.

#[path = "../../yichuang-core/tests/common/mod.rs"]
mod common;

use yichuang_analysis::check::{self, Options, Property, Report};
use yichuang_core::fault::{self, Fault};
use yichuang_core::invariants::Invariant;
use yichuang_core::*;

/// Deep enough for a ticket to be opened, rectified and closed (the broken supervision rule
/// needs 8 moves), shallow enough for a debug build.
const DEPTH: u32 = 8;

fn run(bundle: &str, depth: u32) -> Report {
    let def = common::definition();
    let ix = def.bundle_ix(bundle).expect("the test hall has this bundle");
    check::check(&def, ix, &Options::with_depth(depth))
}

fn assert_holds(report: &Report) {
    if let Some(v) = &report.violation {
        let steps: Vec<String> =
            v.trace.iter().map(|s| format!("{} {} {}", s.at, s.actor.describe(), s.command)).collect();
        panic!("{} violated {:?}: {}\n{}", report.bundle, v.invariant, v.message, steps.join("\n"));
    }
    assert!(report.states > 100 && report.transitions >= report.states - 1, "explored: {report:?}");
    assert!(report.max_depth <= DEPTH);
    assert!(report.final_states > 0, "some paths end (withdrawn, rejected, closed …)");
}

#[test]
fn every_invariant_holds_on_the_test_hall() {
    // The hygiene permit signs three levels (the last a leader's) and may be returned and
    // urged; the venue puts review levels in parallel branches that join.
    // The recall bundle puts a levelled task and a countersign before a third item (撤回).
    for bundle in ["restaurant", "project", "hygiene", "venue", "recall"] {
        assert_holds(&run(bundle, DEPTH));
    }
}

#[test]
fn the_exploration_is_deterministic() {
    let (a, b) = (run("restaurant", 6), run("restaurant", 6));
    assert_eq!((a.states, a.transitions, a.cut_off, a.unknown), (b.states, b.transitions, b.cut_off, b.unknown));
}

/// The trace of a violation replays through a fresh engine with the same events.
fn assert_trace_replays(violation: &check::Violation) {
    let log: Vec<Recorded> = violation.trace.iter().flat_map(|s| s.events.iter().cloned()).collect();
    assert!(!log.is_empty(), "the trace recorded events");
    Engine::replay(common::definition(), &log).expect("a trace is a real run of the engine");
}

#[test]
fn a_task_that_skips_its_predecessors_is_caught_by_invariant_3() {
    let _fault = fault::inject(Fault::SkipPredecessorCheck);
    let report = run("restaurant", DEPTH);
    let violation = report.violation.expect("the broken rule is caught");
    assert_eq!(violation.invariant, Property::Invariant(Invariant::TaskOrder), "{}", violation.message);
    assert!(violation.message.contains("predecessor"), "{}", violation.message);
    // Submit with everything, accept: the dependents start at once.
    let commands: Vec<&str> = violation.trace.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands[0].starts_with("submit restaurant with every material"), "{commands:?}");
    assert_eq!(commands[1], "accept");
    assert_trace_replays(&violation);
}

#[test]
fn a_ticket_closed_without_supervision_is_caught_by_invariant_1() {
    let _fault = fault::inject(Fault::CloseWithoutSupervision);
    let report = run("restaurant", DEPTH);
    let violation = report.violation.expect("the broken rule is caught");
    assert_eq!(violation.invariant, Property::Invariant(Invariant::Supervision), "{}", violation.message);
    let commands: Vec<&str> = violation.trace.iter().map(|s| s.command.as_str()).collect();
    assert!(!commands.is_empty());
    // The shortest way: the first task goes overdue (two timers), its ticket is rectified and
    // the department passes itself, then feeds back and closes.
    assert!(commands.iter().any(|c| c.starts_with("submit_rectification")), "{commands:?}");
    assert!(commands.last().is_some_and(|c| c.starts_with("follow_up (satisfied)")), "{commands:?}");
    let last = violation.trace.last().unwrap();
    assert!(last.events.iter().any(|r| r.event == Event::TicketClosed), "{:?}", last.events);
    assert_trace_replays(&violation);
}

/// The broken return (退回 strands the task in `Waiting`: the join of flowable #1641 stuck) is
/// caught by the checker with invariant 3 at the return, on the hall's three-level item alone
/// and in parallel branches; `yichuang-core`'s `tests/properties.rs` shows the property test
/// catches the same rule (`the_property_test_catches_a_broken_return`).
#[test]
fn a_return_that_strands_its_task_is_caught_by_invariant_3() {
    let _fault = fault::inject(Fault::ReturnStrandsTask);
    for (bundle, steps) in [("hygiene", 6), ("venue", 8)] {
        let def = common::definition();
        let ix = def.bundle_ix(bundle).unwrap();
        let report = check::check(&def, ix, &Options::with_depth(DEPTH));
        let violation = report.violation.expect("the broken rule is caught");
        assert_eq!(violation.invariant, Property::Invariant(Invariant::TaskOrder), "{}", violation.message);
        assert!(violation.message.contains("a join stuck"), "{}", violation.message);
        let commands: Vec<&str> = violation.trace.iter().map(|s| s.command.as_str()).collect();
        // Submit, accept, (the licence claimed and approved,) claim, sign 承办, claim, return.
        assert_eq!(commands.len(), steps, "{commands:?}");
        assert!(commands.last().is_some_and(|c| c.starts_with("return hygiene-permit")), "{commands:?}");
        assert_trace_replays(&violation);
    }
    // On an example: the county hall's food licence (承办 → 审核 → 批准) in 我要开饭店.
    let def = example("county-hall.ron");
    let report = check::check(&def, def.bundle_ix("open-restaurant").unwrap(), &Options::with_depth(DEPTH));
    let violation = report.violation.expect("the broken rule is caught on the county hall");
    assert_eq!(violation.invariant, Property::Invariant(Invariant::TaskOrder), "{}", violation.message);
    let last = violation.trace.last().map(|s| s.command.as_str());
    assert_eq!(last, Some("return food-licence to the previous level"), "{}", violation.message);
    assert_eq!(violation.trace.len(), 8, "submit, accept, the business licence, two claims, a signature, the return");
}

/// The broken recall (撤回 leaves the dependents that became ready in the queue) is caught by
/// the checker with invariant 3 at the recall; `yichuang-core`'s `tests/properties.rs` shows
/// the property test catches the same rule (`the_property_test_catches_a_broken_recall`).
#[test]
fn a_recall_that_leaves_a_dependent_ready_is_caught_by_invariant_3() {
    let _fault = fault::inject(Fault::RecallLeavesDependentReady);
    let report = run("venue", DEPTH);
    let violation = report.violation.expect("the broken rule is caught");
    assert_eq!(violation.invariant, Property::Invariant(Invariant::TaskOrder), "{}", violation.message);
    let commands: Vec<&str> = violation.trace.iter().map(|s| s.command.as_str()).collect();
    // Submit, accept, claim and approve the licence (its dependents become ready), recall it.
    assert_eq!(commands.len(), 5, "{commands:?}");
    assert_eq!(commands.last(), Some(&"recall licence"), "{commands:?}");
    assert_trace_replays(&violation);
}

fn example(file: &str) -> std::sync::Arc<Definition> {
    let path = format!("{}/../../examples/definitions/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the example exists");
    std::sync::Arc::new(Definition::from_ron(&text, file).expect("the example is valid"))
}

/// Without a depth bound the reduced search reaches its fixed point: nothing cut off, nothing
/// unknown, liveness proven.
#[test]
fn the_reduced_search_is_exhaustive_on_the_minimal_hall() {
    let def = example("minimal.ron");
    let report = check::check(&def, def.bundle_ix("open-shop").unwrap(), &Options::complete());
    assert_holds_exhaustive(&report);
    assert!(report.tickets_apart > 0 && report.ticket_states > 0, "{report:?}");
}

fn assert_holds_exhaustive(report: &Report) {
    assert!(report.holds(), "{:?}", report.violation);
    assert!(report.exhaustive(), "{report:?}");
    assert_eq!((report.cut_off, report.unknown, report.states_limit_reached), (0, 0, false));
}

/// The reduction (the case and each ticket explored apart) against the plain product of the case
/// and its tickets: the same verdict and the same final outcomes (the case's final state and
/// outcome, the sources of the tickets it opened). The product is only feasible at a small depth;
/// on the minimal hall with no failed supervision rounds and no recall it completes at depth
/// 12, where its outcomes no longer grow, and they are exactly those of the exhaustive reduced
/// search (a recall makes paths longer than the product can reach at any depth a debug build
/// affords).
#[test]
fn the_reduction_keeps_the_verdict_and_the_final_outcomes() {
    let def = example("minimal.ron");
    let bundle = def.bundle_ix("open-shop").unwrap();
    let bounds = Options { redo_max: 0, recall_max: 0, ..Options::complete() };
    let reduced = check::check(&def, bundle, &bounds);
    assert_holds_exhaustive(&reduced);
    let product = check::check(&def, bundle, &Options { reduce: false, depth: Some(12), ..bounds });
    assert!(product.holds() && !product.states_limit_reached, "{product:?}");
    assert!(product.states > 10 * reduced.states, "the product is much larger: {product:?}");
    assert_eq!(product.outcomes, reduced.outcomes);
    assert!(reduced.outcomes.len() >= 10, "{:?}", reduced.outcomes);
    // On every bundle of every example at a small depth: the same verdict, and every outcome
    // the product reaches within the bound is one the reduced search reaches within it.
    for file in ["minimal.ron", "pharmacy.ron", "county-hall.ron"] {
        let def = example(file);
        for b in 0..def.bundles().len() {
            let bundle = def.bundle_ix(&def.bundles()[b].id).unwrap();
            let reduced = check::check(&def, bundle, &Options::with_depth(6));
            let product = check::check(&def, bundle, &Options { reduce: false, ..Options::with_depth(6) });
            assert_eq!(reduced.holds(), product.holds(), "{file} {}", reduced.bundle);
            assert!(product.outcomes.is_subset(&reduced.outcomes), "{file} {}", reduced.bundle);
        }
    }
}

/// The broken rules are caught by the exhaustive reduced search too (on the minimal hall, whose
/// search without a depth bound takes a second in a debug build), and by the product, with the
/// same invariant.
#[test]
fn the_broken_rules_are_caught_by_the_exhaustive_search() {
    let def = example("minimal.ron");
    let bundle = def.bundle_ix("open-shop").unwrap();
    for (fault, invariant) in
        [(Fault::SkipPredecessorCheck, Invariant::TaskOrder), (Fault::CloseWithoutSupervision, Invariant::Supervision)]
    {
        let _fault = fault::inject(fault);
        let reduced = check::check(&def, bundle, &Options::complete());
        let violation = reduced.violation.expect("caught by the reduced search");
        assert_eq!(violation.invariant, Property::Invariant(invariant), "{}", violation.message);
        let log: Vec<Recorded> = violation.trace.iter().flat_map(|s| s.events.iter().cloned()).collect();
        Engine::replay(def.clone(), &log).expect("a trace is a real run of the engine");
        let product = check::check(&def, bundle, &Options { reduce: false, ..Options::with_depth(DEPTH) });
        let found = product.violation.expect("caught by the product");
        assert_eq!(found.invariant, Property::Invariant(invariant));
    }
}

/// The partial-order reduction (claims first; `Options::por`) against the case's search without
/// it, both without a depth bound (the reduction is exact there): the same verdict, the same
/// final outcomes, the same number of final states, the same tickets set apart and the same
/// ticket states — with fewer states. Then every deliberately broken rule is caught with and
/// without it, by the same invariant.
#[test]
fn the_partial_order_reduction_keeps_the_verdict_the_final_states_and_the_tickets() {
    let hall = common::definition();
    let minimal = example("minimal.ron");
    // The venue's search without a depth bound passes 5 million states: too large here.
    let cases = [(&minimal, "open-shop"), (&hall, "hygiene")];
    for (def, bundle) in cases {
        let ix = def.bundle_ix(bundle).unwrap();
        let with = check::check(def, ix, &Options::complete());
        let without = check::check(def, ix, &Options { por: false, ..Options::complete() });
        assert_holds_exhaustive(&with);
        assert_holds_exhaustive(&without);
        assert_eq!(with.outcomes, without.outcomes, "{bundle}");
        assert_eq!(with.final_states, without.final_states, "{bundle}");
        assert_eq!(
            (with.tickets_apart, with.ticket_states),
            (without.tickets_apart, without.ticket_states),
            "{bundle}"
        );
        assert!(with.por_states > 0 && without.por_states == 0, "{bundle}: {with:?}");
        assert!(with.states < without.states, "{bundle}: {} ≥ {}", with.states, without.states);
    }
    let faults = [
        (Fault::SkipPredecessorCheck, Invariant::TaskOrder, "venue"),
        (Fault::CloseWithoutSupervision, Invariant::Supervision, "hygiene"),
        (Fault::ReturnStrandsTask, Invariant::TaskOrder, "venue"),
        (Fault::RecallLeavesDependentReady, Invariant::TaskOrder, "venue"),
    ];
    for (fault, invariant, bundle) in faults {
        let _fault = fault::inject(fault);
        let ix = hall.bundle_ix(bundle).unwrap();
        for por in [true, false] {
            let report = check::check(&hall, ix, &Options { por, ..Options::complete() });
            let violation = report.violation.unwrap_or_else(|| panic!("{fault:?} missed with por = {por}"));
            assert_eq!(violation.invariant, Property::Invariant(invariant), "{fault:?} por = {por}");
            assert_trace_replays(&violation);
        }
    }
}
