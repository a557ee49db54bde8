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
//! [`Definition`]); the machines [`task`], [`case`] and [`ticket`] with [`event`]s,
//! [`rejection`]s and [`actor`]-based authorization; the [`sla`] overlay; the [`engine`] that
//! holds many cases and tickets; the transition [`table`]s; [`metrics`] and the four-lists
//! [`report`]; the exhaustive [`check`]er.

pub mod actor;
pub mod calendar;
pub mod case;
mod case_table;
pub mod check;
pub mod definition;
pub mod engine;
pub mod event;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod metrics;
pub mod rejection;
pub mod report;
pub mod sla;
pub mod table;
pub mod task;
pub mod ticket;
pub mod time;
mod timers;

pub use actor::{Actor, Ctx, Role};
pub use calendar::{Calendar, CalendarError};
pub use case::{Case, CaseState, Command, Submission, TaskCommand};
pub use definition::{Channel, Definition, Diagnostic, Diagnostics, Id};
pub use engine::{Engine, ReplayError};
pub use event::{
    Answers, Applicant, CaseId, DeliveryMethod, Event, EventSink, Outcome, Recorded, SpecialProcedureKind, StreamId,
};
pub use rejection::Rejection;
pub use task::{MemberSet, Task, TaskState};
pub use ticket::{ComplaintTarget, FailKind, Ticket, TicketCommand, TicketId, TicketSource, TicketState};
pub use time::{Date, Instant};
