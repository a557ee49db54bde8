//! An engine resumed from a snapshot and the rest of its log equals the engine folded from the
//! whole log, with the cases finished at the snapshot compacted.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use yichuang_core::event::DeliveryMethod;
use yichuang_core::*;

/// A log of cases in many states: closed with good and bad ratings (a ticket), withdrawn,
/// delivered and waiting for the rating, in approval, received; some change after `cut`.
fn history() -> (Arc<Definition>, Vec<Recorded>, usize) {
    let mut h = Hall::new();
    let mut log = Vec::new();
    let (intake, delivery, applicant) = (h.intake.clone(), h.delivery.clone(), h.applicant.clone());
    let mut cases = Vec::new();
    for _ in 0..6 {
        let s = h.submission("restaurant", ALL_RESTAURANT, &[]);
        let (case, events) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
        log.extend(events);
        cases.push(case);
    }
    let approve = |h: &mut Hall, log: &mut Vec<Recorded>, case| {
        log.extend(h.run(case, &intake, Command::Accept).unwrap());
        for (item, dept) in [("licence", "market"), ("food", "market"), ("fire-check", "fire"), ("sign", "urban")] {
            for action in [TaskCommand::Claim, TaskCommand::Approve] {
                log.extend(h.run(case, &reviewer(dept), Command::Task { item: Id::new(item), action }).unwrap());
            }
        }
    };
    let deliver = Command::Deliver { method: DeliveryMethod::Window };
    for &case in &cases[..4] {
        approve(&mut h, &mut log, case);
        log.extend(h.run(case, &delivery, deliver.clone()).unwrap());
    }
    log.extend(h.run(cases[0], &applicant, Command::Rate { stars: 5 }).unwrap());
    log.extend(h.run(cases[1], &applicant, Command::Rate { stars: 1 }).unwrap());
    log.extend(h.run(cases[4], &applicant, Command::Withdraw).unwrap());
    log.extend(h.advance_hours(2));
    let cut = log.len();
    // After the snapshot: a delivered case is rated, the open one moves on, a new case opens,
    // and the clock runs a month (default ratings, deadlines).
    log.extend(h.run(cases[2], &applicant, Command::Rate { stars: 4 }).unwrap());
    log.extend(h.run(cases[5], &intake, Command::Accept).unwrap());
    let s = h.submission("restaurant", ALL_RESTAURANT, &[]);
    let (_, events) = h.engine.open(Command::Submit(Box::new(s)), &Ctx { now: h.now, actor: &intake }).unwrap();
    log.extend(events);
    log.extend(h.advance_hours(24 * 30));
    (definition(), log, cut)
}

/// The streams' events up to `cut`, in log order.
fn events_of(streams: &[StreamId], log: &[Recorded]) -> Vec<Recorded> {
    let wanted: BTreeSet<StreamId> = streams.iter().copied().collect();
    log.iter().filter(|r| wanted.contains(&r.stream)).cloned().collect()
}

#[test]
fn an_engine_resumed_from_a_snapshot_equals_the_fold_of_the_whole_log() {
    let (def, log, cut) = history();
    let at_cut = Engine::replay(Arc::clone(&def), &log[..cut]).unwrap();
    let snapshot = at_cut.snapshot();
    assert!(snapshot.finished.len() >= 3 && !snapshot.open.is_empty() && snapshot.tickets >= 1, "{snapshot:?}");
    // Through its text, as a store keeps it.
    let snapshot: EngineSnapshot = serde_json::from_str(&serde_json::to_string(&snapshot).unwrap()).unwrap();
    let streams = Engine::snapshot_streams(&snapshot);
    let mut resumed = Engine::resume(Arc::clone(&def), &snapshot, &events_of(&streams, &log[..cut])).unwrap();
    for (i, rec) in log[cut..].iter().enumerate() {
        resumed.apply(cut + i, rec).unwrap();
    }
    resumed.rebuild_timers();

    let mut whole = Engine::replay(Arc::clone(&def), &log).unwrap();
    for f in &snapshot.finished {
        assert!(whole.compact(f.id()), "{} was finished at the snapshot", f.id());
    }
    assert_eq!(resumed.cases_opened(), whole.cases_opened());
    assert!(resumed.cases().eq(whole.cases()), "every case as the whole log's fold holds it");
    assert_eq!(resumed.tickets(), whole.tickets());
    assert_eq!(resumed.next_deadline(), whole.next_deadline());
    // The same future: both engines fire the same timers a year on.
    let later = log.last().unwrap().at.plus_minutes(365 * 24 * 60);
    assert_eq!(resumed.advance_to(later), whole.advance_to(later));
}

#[test]
fn a_snapshot_that_disagrees_with_the_log_is_refused() {
    let (def, log, cut) = history();
    let good = Engine::replay(Arc::clone(&def), &log[..cut]).unwrap().snapshot();
    let streams = Engine::snapshot_streams(&good);
    let events = events_of(&streams, &log[..cut]);

    // An open case left out: its events come without the snapshot naming it.
    let mut lost = good.clone();
    lost.open.remove(0);
    let err = Engine::resume(Arc::clone(&def), &lost, &events).unwrap_err();
    assert!(matches!(err, ResumeError::Inconsistent(_)), "{err}");

    // A ticket too many: its events are not there.
    let mut more = good.clone();
    more.tickets += 1;
    let err = Engine::resume(Arc::clone(&def), &more, &events).unwrap_err();
    assert!(matches!(err, ResumeError::Inconsistent(_)), "{err}");

    // Another format.
    let mut later = good.clone();
    later.v += 1;
    assert!(matches!(Engine::resume(Arc::clone(&def), &later, &events), Err(ResumeError::Version { .. })));

    // A finished case whose bundle the definition does not have.
    let mut text = serde_json::to_value(&good).unwrap();
    text["finished"][0]["bundle"] = "no-such-bundle".into();
    let wrong: EngineSnapshot = serde_json::from_value(text).unwrap();
    let err = Engine::resume(def, &wrong, &events).unwrap_err();
    assert!(matches!(err, ResumeError::Finished { .. }), "{err}");
}
