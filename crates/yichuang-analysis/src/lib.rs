//! # yichuang-analysis (一窗 analysis)
//!
//! Analysis on top of the engine, through `yichuang-core`'s public API only:
//!
//! - [`check`]: the exhaustive bounded checker (穷举检查) — every interleaving of commands and
//!   timers for one case of a bundle and the tickets it opens, with the invariants of
//!   [`yichuang_core::invariants`] after every move and liveness at the end;
//! - [`metrics`]: the loop's figures (好评率, 差评率, 差评整改率 …) over an engine's state;
//! - [`report`]: the four lists (四个清单: 责任清单、任务清单、问题清单、效果清单) in Markdown
//!   and CSV.

pub mod check;
pub mod metrics;
pub mod report;
