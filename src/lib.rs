//! # yichuang (一窗)
//!
//! The facade crate: an embedding service depends on this one package. It re-exports the
//! engine (`yichuang-core`: definitions, calendar, state machines, invariants) and the analysis
//! on top of it (`yichuang-analysis`: the exhaustive checker, metrics, the four lists). The
//! simulator, store and server are separate crates of the workspace because they bring threads,
//! SQLite and an async runtime that an embedder may not want.
//!
//! `use yichuang::prelude::*;` brings the types a service uses every day; the modules are
//! re-exported under their own names (`yichuang::machine`, `yichuang::definition`, …). Nothing
//! here is named `core`, so `use yichuang::*` never shadows the standard `core` crate:
//!
//! ```
//! use yichuang::*;
//! let _ = core::mem::size_of::<prelude::CaseId>();
//! ```
//!
//! Two examples in the repository show an embedding from end to end: `examples/embed.rs`
//! takes one 我要开饭店 case from intake to its rating and writes the log as JSON lines;
//! `examples/hall_service.rs` is a plain-thread service with its own journal, an
//! [`EventSink`](prelude::EventSink) that routes ready tasks to departments, timers fired from
//! the service's clock ([`Engine::next_deadline`](prelude::Engine::next_deadline),
//! [`Engine::advance_into`](prelude::Engine::advance_into)) and a restart that replays the
//! journal ([`Engine::replay`](prelude::Engine::replay)). The crate `yichuang-export` turns the
//! log into XES, OCEL 2.0 or CSV for process mining, and a bundle into BPMN 2.0.

pub use yichuang_analysis as analysis;
pub use yichuang_core::{actor, calendar, definition, engine, event, invariants, machine, rejection, time};

/// The types an embedding service uses every day.
pub mod prelude {
    pub use yichuang_core::{
        Actor, Answers, Applicant, Calendar, CalendarError, Case, CaseId, CaseState, Channel, Command, ComplaintTarget,
        Ctx, Date, Definition, DeliveryMethod, Diagnostic, Diagnostics, Engine, Event, EventSink, FailKind, Id,
        Instant, MemberSet, Outcome, Recorded, Rejection, ReplayError, Role, SpecialProcedureKind, StreamId,
        Submission, Task, TaskCommand, TaskState, Ticket, TicketCommand, TicketId, TicketSource, TicketState,
    };
}
