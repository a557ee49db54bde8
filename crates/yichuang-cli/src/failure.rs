//! The one error type of the binary and how it is reported.
//!
//! Every command returns `Result<(), Failure>`; `main` prints the failure to stderr and exits
//! with [`Failure::exit_code`]. Messages are sentences that say what to fix.

use std::io::{self, Write};

use yichuang_core::Diagnostics;

/// Exit code of a definition that failed validation.
pub const EXIT_INVALID: u8 = 1;
/// Exit code of a usage, IO or input error.
pub const EXIT_INPUT: u8 = 2;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Something the user must fix in the command line or the environment: an unreadable file,
    /// a malformed date or answer, an unknown bundle, a date outside the calendar. Exit 2.
    #[error("{0}")]
    Input(String),
    /// A definition failed validation; every diagnostic is reported. Exit 1.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A definition failed validation and the output (JSON) already carries the diagnostics.
    /// Exit 1, nothing more on stderr.
    #[error("the definition is invalid (the output lists every diagnostic)")]
    InvalidReported,
    /// Several independent failures (validate over many files); the exit code is the most
    /// severe of them.
    #[error("{} failures", .0.len())]
    Many(Vec<Failure>),
    /// A verification failed (a log that does not replay, a violated invariant). Exit 1.
    #[error("{0}")]
    Failed(String),
    /// `diff`: the definitions differ and the output says how. Exit 1, nothing on stderr.
    #[error("the definitions differ (the output lists every change)")]
    Different,
    /// Writing to stdout failed.
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
}

impl Failure {
    /// An input error with a message.
    pub fn input(message: impl Into<String>) -> Failure {
        Failure::Input(message.into())
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Input(_) => EXIT_INPUT,
            Failure::Invalid(_) | Failure::InvalidReported | Failure::Failed(_) | Failure::Different => EXIT_INVALID,
            Failure::Many(all) => all.iter().map(Failure::exit_code).max().unwrap_or(0),
            // A reader that stops early (`yichuang graph … | head`) is not an error.
            Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
            Failure::Output(_) => EXIT_INPUT,
        }
    }

    /// Writes the failure for a human, one `error: ` line (or diagnostic block) per problem.
    pub fn report(&self, err: &mut dyn Write) -> io::Result<()> {
        match self {
            Failure::Input(message) | Failure::Failed(message) => writeln!(err, "error: {message}"),
            // `Diagnostics` prefixes each diagnostic with `error: ` and ends with a count.
            Failure::Invalid(diagnostics) => writeln!(err, "{diagnostics}"),
            Failure::InvalidReported | Failure::Different => Ok(()),
            Failure::Many(all) => all.iter().try_for_each(|f| f.report(err)),
            Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Failure::Output(e) => writeln!(err, "error: cannot write the output: {e}"),
        }
    }
}

impl From<io::Error> for Failure {
    /// Errors from writing the output; reading files goes through [`crate::cmd::read_source`],
    /// which names the file.
    fn from(e: io::Error) -> Failure {
        Failure::Output(e)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Failure {
        Failure::Output(io::Error::other(e))
    }
}
