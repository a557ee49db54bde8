//! The machines' test suite in one binary: every test of the case, task and ticket machines
//! through the engine (`engine`, `tickets`) and the spec's own tests (`spec`); then
//! **transition coverage**: the suite fails when a row declared in a
//! machine's spec (a command, a timer or a cascade step) was never taken by the tests that ran,
//! in the manner of Temporal sdk-core's `transition_coverage.rs`.
//!
//! It runs under its own harness (`harness = false`, `libtest-mimic`) so that the coverage check
//! runs after every other test of the binary has finished. Each module lists its tests in
//! `trials()`; a test function that is not listed is dead code, which the lints refuse, so no
//! test can be left out by mistake. Only these deterministic tests count: the property tests
//! (`tests/properties.rs`) draw random histories, so what they cover varies from run to run and
//! cannot stand in for a test that takes a row on purpose. With a filter (`cargo test --test machines -- claim`) the
//! coverage check is skipped: a partial run covers part of the spec.

#[path = "../common/mod.rs"]
mod common;
mod engine;
mod handon;
mod levels;
mod migrate;
mod recall;
mod signers;
mod spec;
mod supplement;
mod tickets;
mod votes;

use std::process::ExitCode;

use libtest_mimic::{Arguments, Trial};
use yichuang_core::coverage;
use yichuang_core::machine::case::CaseMachine;
use yichuang_core::machine::spec::Machine;
use yichuang_core::machine::task::TaskMachine;
use yichuang_core::machine::ticket::TicketMachine;

/// The trials of a module: each named function, run as `module::function`.
#[macro_export]
macro_rules! trials {
    ($module:literal: $($test:ident),* $(,)?) => {
        vec![$(libtest_mimic::Trial::test(concat!($module, "::", stringify!($test)), || {
            $test();
            Ok(())
        })),*]
    };
}

/// The rows of `M` that no test took, as lines of a report.
fn untaken<M: Machine>() -> Vec<String> {
    coverage::untaken::<M>().iter().map(|row| format!("{}: {row:?} ({})", M::NAME, row.rule)).collect()
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let whole_suite = args.filter.is_none() && args.skip.is_empty() && !args.list && !args.ignored;
    let mut trials: Vec<Trial> = Vec::new();
    trials.extend(engine::trials());
    trials.extend(levels::trials());
    trials.extend(votes::trials());
    trials.extend(signers::trials());
    trials.extend(handon::trials());
    trials.extend(tickets::trials());
    trials.extend(migrate::trials());
    trials.extend(recall::trials());
    trials.extend(supplement::trials());
    trials.extend(spec::trials());
    let conclusion = libtest_mimic::run(&args, trials);
    if conclusion.has_failed() || !whole_suite {
        return conclusion.exit_code();
    }
    let missing: Vec<String> =
        [untaken::<CaseMachine>(), untaken::<TaskMachine>(), untaken::<TicketMachine>()].concat();
    if missing.is_empty() {
        let rows = CaseMachine::ROWS.len() + TaskMachine::ROWS.len() + TicketMachine::ROWS.len();
        println!("transition coverage: all {rows} declared rows of the case, task and ticket machines were taken");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "transition coverage: {} declared row(s) never taken by the tests; add a test that takes each, or \
             remove the row:\n  {}",
            missing.len(),
            missing.join("\n  ")
        );
        ExitCode::FAILURE
    }
}
