//! Loads a definition file N times, for instruction counts of the loader under callgrind
//! (repeatable, unlike wall time on these machines):
//!
//! ```text
//! cargo build --release -p yichuang-benches --example load_definition
//! valgrind --tool=callgrind ./target/release/examples/load_definition examples/definitions/county-hall.ron 21
//! ```
//!
//! Instructions per load = (the total of a run with N + 1 loads less that of a run with 1) / N.
//! A broken file measures the diagnostic path (locating every problem) the same way.

use yichuang::prelude::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), loads) = (args.next(), args.next().map(|n| n.parse::<usize>())) else {
        eprintln!("usage: load_definition FILE [LOADS]");
        std::process::exit(2);
    };
    let loads = match loads {
        None => 1,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: load_definition FILE [LOADS]; LOADS is a count ({e})");
            std::process::exit(2);
        }
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(2);
    });
    let (mut valid, mut diagnostics) = (0, 0);
    for _ in 0..loads {
        match Definition::from_ron(&text, &path) {
            Ok(_) => valid += 1,
            Err(d) => diagnostics += d.0.len(),
        }
    }
    println!("{loads} loads: {valid} valid, {diagnostics} diagnostics");
}
