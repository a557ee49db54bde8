//! 补充材料 during review through the embedder's API: the reviewer asks for materials or
//! explanations with a deadline; the task's and the case's clocks stop for exactly the time
//! waited; the applicant supplies (a trip at a window, none online) and the review goes on at the
//! same level; not supplied in time, the definition's policy follows (deny, or 退件).

use std::sync::Arc;

use super::common::*;
use yichuang_core::definition::SupplementLapse;
use yichuang_core::fault::{self, Fault};
use yichuang_core::invariants::{self, Violation};
use yichuang_core::*;

fn act(item: &str, action: TaskCommand) -> Command {
    Command::Task { item: Id::new(item), action }
}

fn ask(days: u32) -> Command {
    act(
        "licence",
        TaskCommand::RequestSupplement {
            asked: vec!["股东会决议原件".into(), "经营范围说明".into()], days
        },
    )
}

fn task(h: &Hall, case: CaseId, item: &str) -> Task {
    h.engine.case(case).unwrap().task(item).unwrap().clone()
}

fn deadlines(h: &Hall, case: CaseId) -> (Instant, Instant) {
    let c = h.engine.case(case).unwrap();
    let cal = h.engine.definition_of(c).calendar();
    (c.task("licence").unwrap().sla().unwrap().deadline(cal).unwrap(), c.sla().unwrap().deadline(cal).unwrap())
}

fn holds(h: &Hall, case: CaseId) {
    let c = h.engine.case(case).unwrap();
    let def = h.engine.definition_of(c);
    invariants::task_order(def, c).unwrap_or_else(|v| panic!("{v}"));
    invariants::deadlines(def, c).unwrap_or_else(|v| panic!("{v}"));
}

/// A restaurant case whose business licence `r-market` claimed.
fn in_review(h: &mut Hall) -> CaseId {
    let case = h.submit("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    let intake = h.intake.clone();
    h.ok(case, &intake, Command::Accept);
    h.task(case, "licence", "market", TaskCommand::Claim);
    case
}

fn a_supplement_request_stops_the_clocks_for_exactly_the_days_waited() {
    let mut h = Hall::new();
    let case = in_review(&mut h);
    let (task_due, case_due) = deadlines(&h, case);
    let trips = h.engine.case(case).unwrap().trips();
    assert_eq!(h.ok(case, &reviewer("market"), ask(5)), ["SupplementRequested"]);
    let t = task(&h, case, "licence");
    assert_eq!(t.state(), TaskState::AwaitingSupplement);
    let s = t.supplement().unwrap();
    assert_eq!(s.asked, ["股东会决议原件", "经营范围说明"]);
    // Monday 2026-03-02 + 5 working days: Monday 2026-03-09, at the office's close.
    assert_eq!(s.due.date(), "2026-03-09".parse().unwrap());
    assert!(t.sla().unwrap().paused_since.is_some() && t.sla().unwrap().next_deadline().is_none());
    holds(&h, case);
    // Nothing fires while it waits: three working days pass (Monday → Thursday).
    let fired = h.advance_hours(24 * 3);
    assert!(fired.is_empty(), "{fired:?}");
    // The applicant supplies online: no trip; the review goes on at the same level.
    let applicant = h.applicant.clone();
    assert_eq!(h.ok(case, &applicant, act("licence", TaskCommand::ProvideSupplement)), ["SupplementProvided"]);
    let t = task(&h, case, "licence");
    assert_eq!((t.state(), t.level(), t.reviewer()), (TaskState::InReview, 0, Some(&Id::new("r-market"))));
    assert!(t.supplement().is_none());
    assert_eq!(h.engine.case(case).unwrap().trips(), trips, "none online");
    // Both deadlines moved by exactly the three working days waited.
    let (task_after, case_after) = deadlines(&h, case);
    let cal = h.engine.definition().calendar();
    let day = i64::from(cal.day_minutes());
    assert_eq!(cal.working_minutes_between(task_due, task_after).unwrap(), 3 * day);
    assert_eq!(cal.working_minutes_between(case_due, case_after).unwrap(), 3 * day);
    holds(&h, case);
    h.task(case, "licence", "market", TaskCommand::Approve);
    assert_eq!(h.task_state(case, "food"), TaskState::Ready);
}

fn a_supplement_at_a_window_is_a_trip_and_only_the_applicant_supplies() {
    let mut h = Hall::new();
    let case = in_review(&mut h);
    h.ok(case, &reviewer("market"), ask(2));
    let trips = h.engine.case(case).unwrap().trips();
    for stranger in [reviewer("market"), Actor::applicant("91330000MA9999"), Actor::clerk("clerk-9", "delivery-1")] {
        let refused = h.run(case, &stranger, act("licence", TaskCommand::ProvideSupplement)).unwrap_err();
        assert!(refused.is_authorization(), "{stranger:?}: {refused}");
    }
    let intake = h.intake.clone();
    h.ok(case, &intake, act("licence", TaskCommand::ProvideSupplement));
    assert_eq!(h.engine.case(case).unwrap().trips(), trips + 1, "a trip to the hall");
}

fn a_supplement_request_names_what_and_a_deadline_in_range() {
    let mut h = Hall::new();
    let case = in_review(&mut h);
    let market = reviewer("market");
    let empty = act("licence", TaskCommand::RequestSupplement { asked: vec![], days: 3 });
    assert!(matches!(h.run(case, &market, empty).unwrap_err(), Rejection::ReasonRequired { .. }));
    let blank = act("licence", TaskCommand::RequestSupplement { asked: vec!["  ".into()], days: 3 });
    assert!(matches!(h.run(case, &market, blank).unwrap_err(), Rejection::ReasonRequired { .. }));
    for days in [0, 16] {
        let refused = h.run(case, &market, ask(days)).unwrap_err();
        assert!(matches!(refused, Rejection::OutOfRange { .. }), "{days}: {refused}");
        assert!(refused.to_string().contains("supplement_max_days"), "{refused}");
    }
    let refused = h.run(case, &reviewer("fire"), ask(3)).unwrap_err();
    assert!(matches!(refused, Rejection::WrongDepartment { .. }), "{refused}");
    // Not in review: the spec declares no request there, nor a supply.
    let refused = h.run(case, &reviewer("fire"), act("fire-check", TaskCommand::ProvideSupplement)).unwrap_err();
    assert!(refused.is_authorization() || matches!(refused, Rejection::InvalidState { .. }), "{refused}");
    let applicant = h.applicant.clone();
    let refused = h.run(case, &applicant, act("licence", TaskCommand::ProvideSupplement)).unwrap_err();
    assert!(matches!(refused, Rejection::InvalidState { .. }), "nothing asked: {refused}");
}

fn not_supplied_in_time_the_task_is_denied_by_default() {
    let mut h = Hall::new();
    let case = in_review(&mut h);
    h.ok(case, &reviewer("market"), ask(2));
    let fired = h.advance_hours(24 * 3);
    let names: Vec<&str> = fired.iter().map(|r| r.event.name()).collect();
    assert_eq!(names.first(), Some(&"SupplementLapsed"), "{names:?}");
    assert_eq!(names.last(), Some(&"CaseDecided"), "{names:?}");
    assert_eq!(h.task_state(case, "licence"), TaskState::Denied);
    assert_eq!(h.task_state(case, "food"), TaskState::Cancelled, "a denial cancels the dependents");
    assert_eq!(h.engine.case(case).unwrap().outcome(), Some(Outcome::Denied));
}

fn not_supplied_in_time_the_case_is_returned_where_the_policy_says_so() {
    let text = include_str!("../data/hall.ron").replacen(
        "    items: [",
        "    policies: (supplement_lapse: ReturnCase),\n    items: [",
        1,
    );
    let def = Arc::new(Definition::from_ron(&text, "return-case.ron").unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(def.policies().supplement_lapse, SupplementLapse::ReturnCase);
    let mut h = Hall { engine: Engine::new(def), ..Hall::new() };
    let case = in_review(&mut h);
    h.ok(case, &reviewer("market"), ask(2));
    let fired = h.advance_hours(24 * 3);
    let names: Vec<&str> = fired.iter().map(|r| r.event.name()).collect();
    assert_eq!(names, ["SupplementLapsed", "CaseReturned"]);
    assert_eq!(h.state(case), CaseState::Returned);
    assert!(h.engine.case(case).unwrap().tasks().iter().all(|t| t.state().is_terminal()));
    holds(&h, case);
}

fn a_withdrawal_ends_a_task_awaiting_its_supplement() {
    let mut h = Hall::new();
    let case = in_review(&mut h);
    h.ok(case, &reviewer("market"), ask(3));
    let applicant = h.applicant.clone();
    h.ok(case, &applicant, Command::Withdraw);
    assert_eq!(h.task_state(case, "licence"), TaskState::Cancelled);
}

fn supplements_replay_to_the_same_state() {
    let mut h = Hall::new();
    let s = h.submission("restaurant", ALL_RESTAURANT, &[("sells-tobacco", "否")]);
    let intake = h.intake.clone();
    let (case, mut log) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
    log.extend(h.run(case, &intake, Command::Accept).unwrap());
    log.extend(h.run(case, &reviewer("market"), act("licence", TaskCommand::Claim)).unwrap());
    log.extend(h.run(case, &reviewer("market"), ask(4)).unwrap());
    log.extend(h.advance_hours(24));
    log.extend(h.run(case, &intake, act("licence", TaskCommand::ProvideSupplement)).unwrap());
    let replayed = Engine::replay(definition(), &log).unwrap();
    assert_eq!(replayed.case(case), h.engine.case(case));
    invariants::replay(&h.engine, &log).unwrap();
    for rec in &log {
        invariants::authority(h.engine.definition(), Some(&h.applicant.id), rec).unwrap_or_else(|v| panic!("{v}"));
    }
}

fn a_supplement_that_leaves_the_clock_running_is_caught_by_invariant_5() {
    let mut h = Hall::new();
    let case = in_review(&mut h);
    let _fault = fault::inject(Fault::SupplementKeepsClockRunning);
    h.ok(case, &reviewer("market"), ask(3));
    let c = h.engine.case(case).unwrap();
    let caught = invariants::deadlines(h.engine.definition_of(c), c).unwrap_err();
    assert!(matches!(caught, Violation::Deadline { .. }), "{caught}");
    assert!(caught.to_string().contains("AwaitingSupplement"), "{caught}");
}

pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials!("supplement":
        a_supplement_request_stops_the_clocks_for_exactly_the_days_waited,
        a_supplement_at_a_window_is_a_trip_and_only_the_applicant_supplies,
        a_supplement_request_names_what_and_a_deadline_in_range,
        not_supplied_in_time_the_task_is_denied_by_default,
        not_supplied_in_time_the_case_is_returned_where_the_policy_says_so,
        a_withdrawal_ends_a_task_awaiting_its_supplement,
        supplements_replay_to_the_same_state,
        a_supplement_that_leaves_the_clock_running_is_caught_by_invariant_5,
    )
}
