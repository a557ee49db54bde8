//! Calendar arithmetic on the county-hall calendar (DESIGN §7: O(1) per call, ≤ 100 ns).
//!
//! Each benchmark cycles through 1024 precomputed, varied inputs (dates and instants spread over
//! the two covered years, including holidays, weekends and out-of-hours instants), one call per
//! iteration, so criterion's time per iteration is the time per call.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use yichuang::prelude::{Calendar, Date, Definition, Instant};

const INPUTS: usize = 1024;

fn calendar() -> Calendar {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/definitions/county-hall.ron");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let def = Definition::from_ron(&text, path).unwrap_or_else(|e| panic!("{e}"));
    def.calendar().clone()
}

/// A small deterministic generator (SplitMix64): varied inputs without a dependency on `rand`.
struct Mix(u64);

impl Mix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// Arguments of the three calls, `INPUTS` of each.
struct Inputs {
    /// A date and 0–40 working days.
    days: Vec<(Date, u32)>,
    /// Two instants, in either order.
    pairs: Vec<(Instant, Instant)>,
    /// An instant and 0–40 working days' worth of minutes.
    advances: Vec<(Instant, i64)>,
}

/// Dates from 2025-01-01 through 2026-10-31 (late enough dates still leave room for 40 working
/// days inside the calendar) and instants at any minute of those days.
fn inputs() -> Inputs {
    let first = Date::from_ymd(2025, 1, 1).expect("a date");
    let span = Date::from_ymd(2026, 10, 31).expect("a date").days_since_epoch() - first.days_since_epoch();
    let mut mix = Mix(2026);
    let date = |mix: &mut Mix| first.add_days(mix.below(span as u64 + 1) as i32);
    let instant = |mix: &mut Mix| date(mix).at_minute(mix.below(24 * 60) as u32);
    let days = (0..INPUTS).map(|_| (date(&mut mix), mix.below(41) as u32)).collect();
    let pairs = (0..INPUTS).map(|_| (instant(&mut mix), instant(&mut mix))).collect();
    let advances = (0..INPUTS).map(|_| (instant(&mut mix), mix.below(40 * 420 + 1) as i64)).collect();
    Inputs { days, pairs, advances }
}

fn bench(c: &mut Criterion) {
    let cal = calendar();
    let Inputs { days, pairs, advances } = inputs();
    // Measure the answering path: every input lies inside the covered years.
    assert!(days.iter().all(|&(d, n)| cal.add_working_days(d, n).is_ok()));
    assert!(pairs.iter().all(|&(a, b)| cal.working_minutes_between(a, b).is_ok()));
    assert!(advances.iter().all(|&(t, m)| cal.advance_working_minutes(t, m).is_ok()));
    let mut group = c.benchmark_group("calendar");
    group.bench_function("add_working_days", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % INPUTS;
            let (date, n) = days[i];
            cal.add_working_days(black_box(date), black_box(n))
        })
    });
    group.bench_function("working_minutes_between", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % INPUTS;
            let (from, to) = pairs[i];
            cal.working_minutes_between(black_box(from), black_box(to))
        })
    });
    group.bench_function("advance_working_minutes", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % INPUTS;
            let (start, minutes) = advances[i];
            cal.advance_working_minutes(black_box(start), black_box(minutes))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
