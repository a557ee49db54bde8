//! Crash points and injected storage faults on the commit path (故障注入), for the tests of
//! docs/testing.md ("Crash points", "Storage faults"). Compiled in only with the feature
//! `failpoints`; without it [`hit`] is an empty inline function and product builds carry none.
//!
//! Each point has a name (`sqlite::write::before_commit` …) and is armed, through the
//! [`fail`](https://docs.rs/fail) crate, by the environment variable `FAILPOINTS` read at
//! start ([`setup`]): `FAILPOINTS='sqlite::write::before_commit=2*off->return(crash)'` lets the
//! point pass twice and then acts. The actions, given as `return(ACTION)`:
//!
//! | action | what happens |
//! |---|---|
//! | `crash` | the process aborts on the spot (no destructor, no flush), as `kill -9` would stop it there |
//! | `full` | the operation fails as SQLite fails on a full disk (`SQLITE_FULL`) |
//! | `fsync` | the operation fails as SQLite fails when an fsync fails (`SQLITE_IOERR_FSYNC`) |
//!
//! `3*return(full)->off` fails three times and then lets everything pass: a disk that filled up
//! and got space back.

use crate::StoreError;

/// The crash points of the commit path, in the order one append passes them (the server's own
/// follow, `writer::…`). Every one is a place where the process may die.
pub const COMMIT_PATH: [&str; 7] = [
    "sqlite::write::begin",
    "sqlite::write::after_key_row",
    "sqlite::write::after_event_row",
    "sqlite::write::before_head",
    "sqlite::write::before_commit",
    "sqlite::write::after_commit",
    "sqlite::append::before_index",
];

/// Arms the points named in `FAILPOINTS` (a no-op without the feature). Call it once at start;
/// the returned guard keeps them armed.
#[cfg(feature = "failpoints")]
pub fn setup() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}

/// Arms nothing (built without the feature `failpoints`).
#[cfg(not(feature = "failpoints"))]
pub fn setup() {}

/// Passes the point `name`: nothing, unless it is armed (feature `failpoints`).
#[cfg(feature = "failpoints")]
pub fn hit(name: &'static str) -> Result<(), StoreError> {
    fail::fail_point!(name, |action: Option<String>| act(name, action.as_deref()));
    Ok(())
}

/// Passes the point `name`: nothing (built without the feature `failpoints`).
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &'static str) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(feature = "failpoints")]
fn act(name: &str, action: Option<&str>) -> Result<(), StoreError> {
    use rusqlite::ffi;
    let sqlite = |extended: i32, what: &str| {
        Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            ffi::Error::new(extended),
            Some(format!("{what} (injected at {name})")),
        )))
    };
    match action {
        Some("crash") => {
            eprintln!("failpoint {name}: crash");
            std::process::abort()
        }
        Some("full") => sqlite(ffi::SQLITE_FULL, "database or disk is full"),
        Some("fsync") => sqlite(ffi::SQLITE_IOERR_FSYNC, "disk I/O error (fsync)"),
        other => panic!("failpoint {name}: unknown action {other:?}; use crash, full or fsync"),
    }
}
