//! `yichuang` (一窗): the command line for analysts and engineers.
//!
//! `main` only parses arguments, dispatches to one module per command (`cmd::*`) and turns a
//! [`Failure`] into a message on stderr and an exit code. Exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (every definition valid) |
//! | 1 | a definition is invalid (its diagnostics are printed), or a verification failed (a log that does not replay, an invariant `check` found violated) |
//! | 2 | usage, IO or input error (unreadable file, bad date, unknown bundle, date outside the calendar); for `check` also an invalid definition |
//!
//! Two exceptions: `check` exits 2, not 1, for an invalid definition (its diagnostics are still
//! printed), so that its 1 always means a violated invariant (docs/check.md); `diff` exits 1 when
//! the two definitions differ and 2 when either is invalid (docs/definitions.md, "Diff").
//!
//! Log lines go to stderr, apart from the output: warnings by default; `-v` adds what the
//! command does (info), `-vv` the engine's spans (debug), `-vvv` everything (trace); `-q` keeps
//! only errors. `RUST_LOG`, when set, takes precedence (`RUST_LOG=yichuang_core=debug`).

mod cmd;
mod failure;
mod text;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failure::Failure;

/// 一窗 (yichuang): the engine of a county administrative-approval service hall.
///
/// Checks definitions of service items (事项) and bundles (一件事), draws a bundle's dependency
/// graph, plans due dates on the working-day calendar (工作日历), explores every interleaving of
/// a bundle's machines (check), replays and reports event logs (the four lists, 四个清单).
#[derive(Debug, Parser)]
#[command(name = "yichuang", version, propagate_version = true)]
#[command(after_help = "Exit codes: 0 success; 1 a definition is invalid (diagnostics on stderr) or a \
                  verification failed (a log that does not replay, an invariant the checker found violated); \
                  2 usage, IO or input error (message on stderr). Exceptions: `check` exits 2 for an invalid \
                  definition, so that its 1 always means a violated invariant; `diff` exits 1 when the definitions \
                  differ and 2 when either is invalid.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log lines on stderr: -v what the command does, -vv the engine's spans, -vvv all.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    verbose: u8,
    /// Only errors on stderr besides the command's own messages.
    #[arg(short, long, global = true)]
    quiet: bool,
}

/// The log filter of `-v`/`-q`, unless `RUST_LOG` says otherwise.
fn log_filter(verbose: u8, quiet: bool) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,yichuang=info,yichuang_core=info,yichuang_sim=info,yichuang_store=info",
        (false, 2) => "info,yichuang=debug,yichuang_core=debug,yichuang_sim=debug,yichuang_store=debug",
        (false, _) => "trace",
    }
}

/// Installs the stderr subscriber; a `RUST_LOG` that does not parse is a usage error.
fn init_logs(verbose: u8, quiet: bool) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| log_filter(verbose, quiet).to_owned());
    let filter = EnvFilter::builder().parse(&directives).map_err(|e| {
        format!("RUST_LOG `{directives}` is not a filter: {e}; write e.g. `info` or `yichuang_core=debug`")
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&io::stderr()))
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))
}

#[derive(Debug, Subcommand)]
enum Command {
    Validate(cmd::validate::Args),
    Diff(cmd::diff::Args),
    Graph(cmd::graph::Args),
    Plan(cmd::plan::Args),
    Calendar(cmd::calendar::Args),
    Check(cmd::check::Args),
    Replay(cmd::replay::Args),
    Audit(cmd::audit::Args),
    Migrate(cmd::migrate::Args),
    Report(cmd::report::Args),
    Export(cmd::export::Args),
    Simulate(cmd::simulate::Args),
    Compare(cmd::compare::Args),
    Experiment(cmd::experiment::Args),
}

/// The subcommand's name, for the log.
fn cli_command_name(command: &Command) -> &'static str {
    match command {
        Command::Validate(_) => "validate",
        Command::Diff(_) => "diff",
        Command::Graph(_) => "graph",
        Command::Plan(_) => "plan",
        Command::Calendar(_) => "calendar",
        Command::Check(_) => "check",
        Command::Replay(_) => "replay",
        Command::Audit(_) => "audit",
        Command::Migrate(_) => "migrate",
        Command::Report(_) => "report",
        Command::Simulate(_) => "simulate",
        Command::Compare(_) => "compare",
        Command::Experiment(_) => "experiment",
        Command::Export(_) => "export",
    }
}

fn run(cli: &Cli, out: &mut dyn Write) -> Result<(), Failure> {
    match &cli.command {
        Command::Validate(args) => cmd::validate::run(args, out),
        Command::Diff(args) => cmd::diff::run(args, out),
        Command::Graph(args) => cmd::graph::run(args, out),
        Command::Plan(args) => cmd::plan::run(args, out),
        Command::Calendar(args) => cmd::calendar::run(args, out),
        Command::Check(args) => cmd::check::run(args, out),
        Command::Replay(args) => cmd::replay::run(args, out),
        Command::Audit(args) => cmd::audit::run(args, out),
        Command::Migrate(args) => cmd::migrate::run(args, out),
        Command::Report(args) => cmd::report::run(args, out),
        Command::Export(args) => cmd::export::run(args, out),
        Command::Simulate(args) => cmd::simulate::run(args, out),
        Command::Compare(args) => cmd::compare::run(args, out),
        Command::Experiment(args) => cmd::experiment::run(args, out),
    }
}

/// mimalloc: the simulator's engine allocates small, short-lived buffers per command; glibc's
/// allocator took ~14 % of a parity run, mimalloc a fraction of that (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Clap prints its own usage errors and exits with 2 (0 for --help and --version).
    let cli = Cli::parse();
    if let Err(message) = init_logs(cli.verbose, cli.quiet) {
        eprintln!("error: {message}");
        return ExitCode::from(2);
    }
    let name = cli_command_name(&cli.command);
    let started = std::time::Instant::now();
    tracing::info!(target: "yichuang", command = name, version = env!("CARGO_PKG_VERSION"), "started");
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = run(&cli, &mut out).and_then(|()| out.flush().map_err(Failure::Output));
    tracing::info!(
        target: "yichuang",
        command = name,
        ok = result.is_ok(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "finished"
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let code = failure.exit_code();
            // If stderr itself is gone there is nobody left to tell; the exit code still says it.
            let _ = failure.report(&mut io::stderr().lock());
            ExitCode::from(code)
        }
    }
}
