//! # yichuang-benches
//!
//! Criterion benchmarks of the engine and the working-day calendar (DESIGN §7); the figures and
//! the commands that produced them are in `docs/benchmarks.md`.
//!
//! The library holds [`driver`], which runs an accepted case to its close (`examples/embed.rs`
//! includes the same file, so the benchmark measures exactly the lifecycle the example prints),
//! and [`lifecycle`], the complete 我要开饭店 lifecycles that the `engine` benchmark times and
//! the `lifecycles` example runs under callgrind.

pub mod driver;
pub mod lifecycle;
