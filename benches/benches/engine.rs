//! Complete 我要开饭店 (`open-restaurant`) lifecycles in memory (DESIGN §7: millions of events
//! per second on one core).
//!
//! One iteration runs `CASES` cases through a fresh engine: submit at an intake window with
//! every material, accept, claim and approve every task round by round as its department's
//! reviewer (the driver shared with `examples/embed.rs`, ticking the clock three working hours
//! between rounds and firing the engine's timers), deliver at the delivery window, rate five
//! stars. The events of each case go to one reused buffer, as an embedder would hand them to its
//! store. The engine is dropped outside the measurement.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use yichuang::prelude::*;
use yichuang_benches::lifecycle::{CASES, hall, lifecycles};

fn bench(c: &mut Criterion) {
    let hall = hall();
    let mut out = Vec::new();
    let events = lifecycles(&hall, &mut Engine::new(Arc::clone(&hall.def)), &mut out, CASES);
    assert_eq!(events % CASES, 0, "every case records the same events");
    let mut group = c.benchmark_group("engine");
    for (name, elements) in [("open-restaurant/events", events), ("open-restaurant/cases", CASES)] {
        group.throughput(Throughput::Elements(elements as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || Engine::new(Arc::clone(&hall.def)),
                |mut engine| {
                    black_box(lifecycles(&hall, &mut engine, &mut out, CASES));
                    engine
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
