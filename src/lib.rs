//! # yichuang (一窗)
//!
//! The facade crate: it re-exports the library crates of the workspace so that an embedding
//! service depends on one package. See `yichuang_core` for the engine itself.

#[doc(inline)]
pub use yichuang_core as core;
pub use yichuang_core::*;
