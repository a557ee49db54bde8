//! `docs/glossary.md` names every state of the case, task and ticket machines and every event
//! (中文 ↔ English ↔ Rust), so that a state or an event cannot be added without its Chinese term.
//!
//! Each name must appear in the glossary as code with its module path, e.g.
//! `` `case::CaseState::Closed` `` or `` `event::Event::TaskApproved` ``: a bare `Closed` would
//! also match `TicketState::Closed`, and `Ready` would match `ReadyForDelivery`.

use yichuang_core::{CaseState, Event, Id, TaskState, TicketState};

fn glossary() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/glossary.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Fails naming every path that the glossary does not show as `` `path` ``.
fn assert_in_glossary(paths: impl IntoIterator<Item = String>) {
    let text = glossary();
    let missing: Vec<String> = paths.into_iter().filter(|p| !text.contains(&format!("`{p}`"))).collect();
    assert!(
        missing.is_empty(),
        "docs/glossary.md has no row for {}; add each with its Chinese term as written in its doc comment",
        missing.join(", ")
    );
}

/// Every event variant in declaration order. [`event_name`] matches without a wildcard, so a new
/// variant stops the build there; `the_event_list_is_complete` also compares this list with the
/// variants serde knows.
const EVENTS: [&str; 55] = [
    "Consulted",
    "Submitted",
    "CorrectionRequested",
    "Resubmitted",
    "Accepted",
    "Rejected",
    "TaskReady",
    "TaskClaimed",
    "TaskSigned",
    "TaskVotedAgainst",
    "TaskVotesCancelled",
    "TaskSignerAdded",
    "TaskSignerRemoved",
    "TaskLevelSigned",
    "TaskReturned",
    "TaskUrged",
    "TaskRecalled",
    "TaskTransferred",
    "TaskDelegated",
    "DelegationResolved",
    "SupplementRequested",
    "SupplementProvided",
    "SupplementLapsed",
    "TaskUnready",
    "TaskLevelSlaChanged",
    "TaskApproved",
    "TaskDenied",
    "TaskCancelled",
    "SpecialProcedureStarted",
    "SpecialProcedureEnded",
    "TaskSimulatedApproved",
    "SimulationConverted",
    "SimulationReopened",
    "TaskLapsed",
    "SlaLevelChanged",
    "CaseDecided",
    "MaterialSupplied",
    "CaseSuspended",
    "CaseResumed",
    "CaseReturned",
    "Delivered",
    "Rated",
    "Withdrawn",
    "Revoked",
    "Migrated",
    "TicketOpened",
    "TicketRectifying",
    "TicketSubmitted",
    "TicketPassed",
    "TicketFailed",
    "TicketAppealUpheld",
    "TicketFedBack",
    "TicketClosed",
    "TicketReopened",
    "TicketEscalated",
];

/// Compile-time guard over [`Event`]: no wildcard arm.
fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Consulted { .. } => "Consulted",
        Event::Submitted { .. } => "Submitted",
        Event::CorrectionRequested { .. } => "CorrectionRequested",
        Event::Resubmitted { .. } => "Resubmitted",
        Event::Accepted { .. } => "Accepted",
        Event::Rejected { .. } => "Rejected",
        Event::TaskReady { .. } => "TaskReady",
        Event::TaskClaimed { .. } => "TaskClaimed",
        Event::TaskSigned { .. } => "TaskSigned",
        Event::TaskVotedAgainst { .. } => "TaskVotedAgainst",
        Event::TaskVotesCancelled { .. } => "TaskVotesCancelled",
        Event::TaskSignerAdded { .. } => "TaskSignerAdded",
        Event::TaskSignerRemoved { .. } => "TaskSignerRemoved",
        Event::TaskLevelSigned { .. } => "TaskLevelSigned",
        Event::TaskReturned { .. } => "TaskReturned",
        Event::TaskUrged { .. } => "TaskUrged",
        Event::TaskRecalled { .. } => "TaskRecalled",
        Event::TaskUnready { .. } => "TaskUnready",
        Event::TaskTransferred { .. } => "TaskTransferred",
        Event::TaskDelegated { .. } => "TaskDelegated",
        Event::DelegationResolved { .. } => "DelegationResolved",
        Event::SupplementRequested { .. } => "SupplementRequested",
        Event::SupplementProvided { .. } => "SupplementProvided",
        Event::SupplementLapsed { .. } => "SupplementLapsed",
        Event::TaskLevelSlaChanged { .. } => "TaskLevelSlaChanged",
        Event::TaskApproved { .. } => "TaskApproved",
        Event::TaskDenied { .. } => "TaskDenied",
        Event::TaskCancelled { .. } => "TaskCancelled",
        Event::SpecialProcedureStarted { .. } => "SpecialProcedureStarted",
        Event::SpecialProcedureEnded { .. } => "SpecialProcedureEnded",
        Event::TaskSimulatedApproved { .. } => "TaskSimulatedApproved",
        Event::SimulationConverted { .. } => "SimulationConverted",
        Event::SimulationReopened { .. } => "SimulationReopened",
        Event::TaskLapsed { .. } => "TaskLapsed",
        Event::SlaLevelChanged { .. } => "SlaLevelChanged",
        Event::CaseDecided { .. } => "CaseDecided",
        Event::MaterialSupplied { .. } => "MaterialSupplied",
        Event::CaseSuspended => "CaseSuspended",
        Event::CaseResumed => "CaseResumed",
        Event::CaseReturned => "CaseReturned",
        Event::Delivered { .. } => "Delivered",
        Event::Rated { .. } => "Rated",
        Event::Withdrawn => "Withdrawn",
        Event::Revoked => "Revoked",
        Event::Migrated { .. } => "Migrated",
        Event::TicketOpened { .. } => "TicketOpened",
        Event::TicketRectifying { .. } => "TicketRectifying",
        Event::TicketSubmitted { .. } => "TicketSubmitted",
        Event::TicketPassed => "TicketPassed",
        Event::TicketFailed { .. } => "TicketFailed",
        Event::TicketAppealUpheld => "TicketAppealUpheld",
        Event::TicketFedBack { .. } => "TicketFedBack",
        Event::TicketClosed => "TicketClosed",
        Event::TicketReopened { .. } => "TicketReopened",
        Event::TicketEscalated { .. } => "TicketEscalated",
    }
}

/// The variant names serde's derive knows for `T`, in declaration order: deserializing an
/// unknown variant fails with a message that lists them all (`expected one of `A`, `B`, …`).
fn serde_variants<T: serde::de::DeserializeOwned>() -> Vec<String> {
    let Err(error) = serde_json::from_str::<T>("\"NoSuchVariant\"") else {
        panic!("`NoSuchVariant` deserialized as a variant");
    };
    let message = error.to_string();
    let Some((_, listed)) = message.split_once("expected one of ") else {
        panic!("serde_json no longer lists the expected variants in its message: {message}");
    };
    listed.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn every_case_state_is_in_the_glossary() {
    assert_in_glossary(CaseState::ALL.iter().map(|s| format!("case::CaseState::{}", s.name())));
}

#[test]
fn every_task_state_is_in_the_glossary() {
    // `TaskState::ALL` is generated from the enum's own variant list (`kind_enum!`).
    assert_in_glossary(TaskState::ALL.iter().map(|s| format!("task::TaskState::{}", s.name())));
}

#[test]
fn every_ticket_state_is_in_the_glossary() {
    let all: Vec<String> = TicketState::ALL.iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(all, serde_variants::<TicketState>(), "TicketState::ALL misses a variant");
    assert_in_glossary(all.iter().map(|name| format!("ticket::TicketState::{name}")));
}

#[test]
fn the_event_list_is_complete() {
    assert_eq!(serde_variants::<Event>(), EVENTS, "EVENTS differs from the variants of Event");
    let item = Id::new("item");
    for event in [Event::TaskReady { item }, Event::Withdrawn, Event::CaseResumed, Event::TicketPassed] {
        assert_eq!(event_name(&event), event.name(), "the guard and Event::name disagree");
    }
}

#[test]
fn every_event_is_in_the_glossary() {
    assert_in_glossary(EVENTS.iter().map(|name| format!("event::Event::{name}")));
}

/// docs/definitions.md describes what the loader does: bare optional values are accepted, the
/// 45-working-day joint limit is checked, and the 64-member limit is stated.
#[test]
fn the_definition_format_page_agrees_with_the_loader() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/definitions.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    assert!(!text.contains("Expected option"), "bare optional values are accepted (implicit_some is on)");
    assert!(text.contains("at most 64"), "the 64-member limit per bundle is enforced and must be documented");
    let unchecked = text.split("Not checked by the loader").nth(1).expect("the page lists what is not checked");
    let unchecked = unchecked.split("\n\n").next().unwrap_or_default();
    assert!(!unchecked.contains("45"), "the 45-day limit is checked by the loader: {unchecked}");
    assert!(
        !unchecked.contains("decides no item and leads no bundle"),
        "a deciding Supervision department is refused: {unchecked}"
    );
    assert!(
        !text.contains("which is refused if one of them\n  has a `when`"),
        "omitted milestones skip conditional members"
    );
}
