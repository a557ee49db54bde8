//! # yichuang (一窗)
//!
//! The facade crate: an embedding service depends on this one package. It re-exports the
//! engine, `yichuang_core` (definitions, calendar, state machines, engine, reports); the
//! simulator, store and server are separate crates of the workspace because they bring
//! threads, SQLite and an async runtime that an embedder may not want.

#[doc(inline)]
pub use yichuang_core as core;
pub use yichuang_core::*;
