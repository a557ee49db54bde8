//! # yichuang (一窗)
//!
//! The facade crate: an embedding service depends on this one package. It re-exports the
//! engine, `yichuang_core` (definitions, calendar, state machines, engine, reports); the
//! simulator, store and server are separate crates of the workspace because they bring
//! threads, SQLite and an async runtime that an embedder may not want.
//!
//! Two examples in the repository show an embedding from end to end: `examples/embed.rs`
//! takes one 我要开饭店 case from intake to its rating and writes the log as JSON lines;
//! `examples/hall_service.rs` is a plain-thread service with its own journal, an
//! [`EventSink`] that routes ready tasks to departments, timers fired from the service's
//! clock ([`Engine::next_deadline`], [`Engine::advance_into`]) and a restart that replays the
//! journal ([`Engine::replay`]). The crate `yichuang-export` turns the log into XES, OCEL 2.0
//! or CSV for process mining, and a bundle into BPMN 2.0.

#[doc(inline)]
pub use yichuang_core as core;
pub use yichuang_core::*;
