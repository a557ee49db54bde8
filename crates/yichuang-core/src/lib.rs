//! # yichuang-core (一窗 core)
//!
//! The engine of a county administrative-approval service hall: definitions (事项, 一件事),
//! the working-day calendar, and the typed state machines of the pipeline
//! 前台综合受理 → 后台并联审批 → 统一窗口出件.
//!
//! **Architecture invariant:** this crate does no IO, never reads a clock and never draws a
//! random number. Time is a parameter ([`time::Instant`]); timers are data the caller polls
//! ([`Engine::next_deadline`], [`Engine::advance_to`]).
//!
//! Layers, bottom up: [`time`] and [`calendar`]; [`definition`] (RON → validated
//! [`Definition`]); the [`machine`]s — the case ([`machine::case`]) with one approval task per
//! member ([`machine::task`]), the SLA overlay ([`machine::sla`]) and the ticket of the loop
//! ([`machine::ticket`]) — each with its transition spec ([`machine::spec`]), its
//! [`event`]s, [`rejection`]s and [`actor`]-based authorization; the [`engine`] that holds many
//! cases and tickets and is the only way to change them; and the [`invariants`] of DESIGN §4.3,
//! written once. The exhaustive checker, the metrics and the four lists are in the
//! `yichuang-analysis` crate.

pub mod actor;
pub mod calendar;
#[cfg(feature = "transition-coverage")]
pub mod coverage;
pub mod definition;
pub mod engine;
pub mod event;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod invariants;
pub mod machine;
pub mod rejection;
pub mod time;

pub use actor::{Actor, Ctx, Role};
pub use calendar::{Calendar, CalendarError};
pub use definition::{Channel, Definition, Diagnostic, Diagnostics, Id};
pub use engine::{Engine, EngineSnapshot, ReplayError, ResumeError};
pub use event::{
    Answers, Applicant, CaseId, DeliveryMethod, Event, EventSink, Outcome, Recorded, SpecialProcedureKind, StreamId,
};
pub use machine::case::{Case, CaseState, Command, Submission};
pub use machine::task::{MemberSet, ReturnTo, Task, TaskCommand, TaskState};
pub use machine::ticket::{ComplaintTarget, FailKind, Ticket, TicketCommand, TicketId, TicketSource, TicketState};
pub use rejection::Rejection;
pub use time::{Date, Instant};
