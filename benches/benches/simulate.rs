//! The simulator on the parity-parallel scenario (issue 5's benchmark): 100,000 cases of
//! `examples/scenarios/parity-parallel.ron` in one replication on one thread, the scenario's
//! seed, with the allocator of the `yichuang` binary (mimalloc). One iteration is one whole `yichuang_sim::simulate` call: the engine, the event list,
//! the statistics and the report, exactly what `yichuang simulate … --threads 1` does after
//! loading the files. The target is ≥ 176,000 cases/s (≥ 20 × SimPy's 8,800 cases/s), i.e.
//! ≤ 0.57 s per iteration; criterion prints the throughput in cases (elements) per second.
//!
//! `YICHUANG_BENCH_CASES` runs fewer cases (a quick look); the figure recorded in
//! docs/benchmarks.md is for the default 100,000.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use yichuang_sim::{RunOptions, Scenario, simulate};

/// The allocator the `yichuang` binary uses (crates/yichuang-cli/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn parity(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/scenarios/parity-parallel.ron");
    let scenario = Scenario::load(Path::new(path)).unwrap_or_else(|e| panic!("{e}"));
    let cases: u64 = std::env::var("YICHUANG_BENCH_CASES")
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("YICHUANG_BENCH_CASES={v}: expected a whole number")))
        .unwrap_or(100_000);
    let options = RunOptions { cases: Some(cases), threads: 1, replications: Some(1), ..RunOptions::default() };
    let mut group = c.benchmark_group("simulate");
    group.throughput(Throughput::Elements(cases));
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));
    group.bench_function("parity-parallel/1-thread", |b| {
        b.iter(|| {
            let report = simulate(&scenario, &options).expect("the parity scenario runs");
            assert_eq!(report.cases, cases, "every case arrived");
            black_box(report)
        })
    });
    group.finish();
}

criterion_group!(benches, parity);
criterion_main!(benches);
