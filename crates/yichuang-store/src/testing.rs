//! Test support for crates that use the store: a scratch PostgreSQL schema per test, so that
//! tests run in parallel on one database and leave nothing behind.
//!
//! The server is found at `YICHUANG_TEST_POSTGRES` (default
//! `postgres://root@127.0.0.1:5432/test`). When it does not answer, [`ScratchSchema::new`]
//! returns `None` after printing one line saying why, and the caller skips its PostgreSQL part;
//! with `YICHUANG_REQUIRE_POSTGRES=1` (set by `.ci/run`) it panics instead, so CI never skips.

use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

/// Environment variable with the test server's URL.
pub const URL_ENV: &str = "YICHUANG_TEST_POSTGRES";
/// Environment variable that turns a missing server into a failure.
pub const REQUIRE_ENV: &str = "YICHUANG_REQUIRE_POSTGRES";
/// The project machines' server (trust authentication).
pub const DEFAULT_URL: &str = "postgres://root@127.0.0.1:5432/test";

/// A schema of its own in the test database, dropped with everything in it on drop.
#[derive(Debug)]
pub struct ScratchSchema {
    admin: String,
    schema: String,
    url: String,
}

impl ScratchSchema {
    /// Creates a fresh schema, or `None` (with one printed line) when no server answers and
    /// `YICHUANG_REQUIRE_POSTGRES` is not set.
    pub fn new(tag: &str) -> Option<ScratchSchema> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        static SKIP: Once = Once::new();
        let admin = std::env::var(URL_ENV).unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let mut client = match postgres::Client::connect(&admin, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                    panic!("{REQUIRE_ENV}=1 but PostgreSQL at {admin} does not answer: {e}");
                }
                SKIP.call_once(|| {
                    eprintln!(
                        "skipping the PostgreSQL tests: no server answers at {admin} ({e}); set {URL_ENV} to one"
                    );
                });
                return None;
            }
        };
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag: String = tag.chars().filter(char::is_ascii_alphanumeric).take(20).collect::<String>().to_lowercase();
        let schema = format!("yichuang_test_{}_{n}_{tag}", std::process::id());
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
            .expect("create a scratch schema");
        let separator = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{separator}options=-csearch_path%3D{schema}");
        Some(ScratchSchema { admin, schema, url })
    }

    /// The URL that connects into the schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.schema
    }

    /// Runs SQL inside the schema (tests edit the log with it, as an intruder would).
    pub fn execute(&self, sql: &str) -> Result<(), postgres::Error> {
        let mut client = postgres::Client::connect(&self.url, postgres::NoTls)?;
        client.batch_execute(sql)
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
        }
    }
}
