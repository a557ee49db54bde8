//! # yichuang-benches
//!
//! Criterion benchmarks of the engine and the working-day calendar (DESIGN §7); the figures and
//! the commands that produced them are in `docs/benchmarks.md`.
//!
//! The library holds only [`driver`], which runs an accepted case to its close. The `engine`
//! benchmark uses it, and `examples/embed.rs` includes the same file, so the benchmark measures
//! exactly the lifecycle the example prints.

pub mod driver;
