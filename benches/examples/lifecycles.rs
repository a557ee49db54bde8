//! Runs complete 我要开饭店 lifecycles through one engine and prints the cases and events, for
//! instruction counts under callgrind (repeatable, unlike wall time on these machines):
//!
//! ```text
//! cargo build --release -p yichuang-benches --example lifecycles
//! valgrind --tool=callgrind ./target/release/examples/lifecycles 10000
//! ```
//!
//! Instructions per event = the callgrind total less that of a run with 0 cases (start-up),
//! divided by the events printed.

use std::sync::Arc;

use yichuang::prelude::*;
use yichuang_benches::lifecycle::{hall, lifecycles};

fn main() {
    let cases: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 10_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: lifecycles [CASES]; CASES is a count of cases ({e})");
            std::process::exit(2);
        }
    };
    let hall = hall();
    let mut engine = Engine::new(Arc::clone(&hall.def));
    let mut out = Vec::new();
    let events = lifecycles(&hall, &mut engine, &mut out, cases);
    println!("{cases} cases, {events} events");
}
