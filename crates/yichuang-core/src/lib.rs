//! # yichuang-core (一窗 core)
//!
//! The engine of a county administrative-approval service hall: definitions (事项, 一件事),
//! the working-day calendar, and the typed state machines of the pipeline
//! 前台综合受理 → 后台并联审批 → 统一窗口出件.
//!
//! **Architecture invariant:** this crate does no IO, never reads a clock and never draws a
//! random number. Time is a parameter ([`time::Instant`]); timers are data the caller polls.

pub mod calendar;
pub mod definition;
pub mod time;

pub use calendar::{Calendar, CalendarError};
pub use definition::{Definition, Diagnostic, Diagnostics, Id};
pub use time::{Date, Instant};
