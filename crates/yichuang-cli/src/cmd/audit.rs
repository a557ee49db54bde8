//! `yichuang audit`: the service's start-up check of a database (SQLite file or PostgreSQL),
//! read-only, with its hash chain, and optionally against the signed checkpoints the service
//! wrote (审计): the first position where the log breaks, or where it no longer matches a
//! checkpoint, is named and the exit code is 1.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use yichuang_store::checkpoint::{read_checkpoints, read_verifying_key, rfc3339};

use crate::cmd::load_definition;
use crate::cmd::replay::audit_db;
use crate::failure::Failure;

/// Check a database's hash chain and every event, optionally against signed checkpoints (审计).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The definition the log was written under.
    #[arg(long)]
    pub definition: PathBuf,
    /// The service's database: a SQLite file or a PostgreSQL URL (postgres://…), read only.
    #[arg(long, value_name = "FILE|URL")]
    pub db: PathBuf,
    /// The service's checkpoint file (--checkpoint-file): every line's signature is checked, then
    /// the database against every checkpoint.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    pub checkpoint: Option<PathBuf>,
    /// The public key the checkpoints are signed with (PEM, `openssl pkey -pubout`).
    #[arg(long, value_name = "PEM", requires = "checkpoint")]
    pub public_key: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let def = Arc::new(load_definition(&args.definition)?);
    let (_, read, summary, store) = audit_db(def, &args.db, None)?;
    writeln!(
        out,
        "ok: {summary}; the hash chain holds and every event is legal in order ({} events read)",
        read.events
    )?;
    writeln!(out, "chain head: position {} hash {}", summary.head.position, summary.head.hash)?;
    if let (Some(file), Some(public)) = (&args.checkpoint, &args.public_key) {
        let key = read_verifying_key(public).map_err(|e| Failure::input(e.to_string()))?;
        let checkpoints = read_checkpoints(file, &key).map_err(|e| match e {
            yichuang_store::checkpoint::CheckpointError::Signature { .. } => Failure::Failed(e.to_string()),
            e => Failure::input(e.to_string()),
        })?;
        let readers = store.readers();
        for c in &checkpoints {
            c.check(readers.as_ref())
                .map_err(|e| Failure::Failed(format!("`{}` does not match its checkpoints: {e}", args.db.display())))?;
        }
        let last = checkpoints.last().expect("read_checkpoints returns at least one");
        writeln!(
            out,
            "checkpoints: {} signed lines verified; the database matches every one (the last: position {} written at {})",
            checkpoints.len(),
            last.position,
            rfc3339(last.unix_time)
        )?;
    }
    Ok(())
}
