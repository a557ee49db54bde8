//! Audit and backup (审计与备份): the chain's head for supervisors (`GET /v1/audit/head`), the
//! signed checkpoints the service writes at an interval, and the online backup
//! (`yichuang-server backup`). The chain itself is checked by the store at every start
//! (`docs/store.md`, "The hash chain").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::Response;
use yichuang_core::definition::Definition;
use yichuang_core::{Engine, Role};
use yichuang_store::checkpoint::{CheckpointWriter, public_key_pem, read_signing_key};
use yichuang_store::{EventLog, EventStore, LogSummary, SqliteStore};

use crate::api::{App, ok_json};
use crate::error::ApiError;
use crate::extract::Caller;

/// Where and how often the service signs its chain's head.
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// The ed25519 private key (PKCS#8 PEM, `openssl genpkey -algorithm ed25519`).
    pub key: PathBuf,
    /// The file the checkpoints are appended to (one JSON line each).
    pub file: PathBuf,
    /// How often the head is signed (only when it moved).
    pub interval: Duration,
}

/// `GET /v1/audit/head`: the last event's position and hash, for a supervisor or an admin to
/// note down or compare with a checkpoint.
pub async fn get_head(State(app): State<App>, Caller(actor): Caller) -> Result<Response, ApiError> {
    if !matches!(actor.role, Role::Supervisor { .. } | Role::Admin) {
        return Err(ApiError::forbidden(
            "role_not_allowed",
            format!("the audit head is for supervisors and admins; {} may not read it", actor.describe()),
        ));
    }
    let head = app.read(|log| log.chain_head()).await?;
    Ok(ok_json(
        serde_json::json!({
            "position": head.position,
            "hash": head.hash.to_string(),
            "keys": head.keys,
            "key_hash": head.key_hash.to_string(),
        })
        .to_string(),
    ))
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Reads the key and opens the checkpoint file, to refuse a start whose key does not read.
pub fn check_key(config: &CheckpointConfig) -> Result<(), String> {
    let key = read_signing_key(&config.key).map_err(|e| e.to_string())?;
    CheckpointWriter::open(&config.file, key).map(drop).map_err(|e| e.to_string())
}

/// The thread that signs the chain's head every interval, and once more at shutdown.
pub struct Signer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Signer {
    /// Reads the key, opens the file, and starts signing. Returns the signer and the public key
    /// (PEM) for the start-up log.
    pub fn start(
        config: &CheckpointConfig,
        readers: Arc<dyn EventLog + Send + Sync>,
    ) -> Result<(Signer, String), String> {
        let key = read_signing_key(&config.key).map_err(|e| e.to_string())?;
        let public = public_key_pem(&key);
        let mut writer = CheckpointWriter::open(&config.file, key).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let every = config.interval;
        let sign = move |writer: &mut CheckpointWriter| {
            let written = readers
                .chain_head()
                .map_err(|e| e.to_string())
                .and_then(|head| writer.write(&head, unix_now()).map_err(|e| e.to_string()));
            if let Err(e) = written {
                tracing::error!(error = %e, "the signed checkpoint could not be written");
            }
        };
        let thread = std::thread::Builder::new()
            .name("yichuang-signer".into())
            .spawn(move || {
                sign(&mut writer);
                let step = Duration::from_millis(100).min(every);
                let mut waited = Duration::ZERO;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(step);
                    waited += step;
                    if waited >= every {
                        waited = Duration::ZERO;
                        sign(&mut writer);
                    }
                }
                // The last head of the run, so the file covers everything acknowledged.
                sign(&mut writer);
            })
            .map_err(|e| format!("cannot start the checkpoint signer: {e}"))?;
        Ok((Signer { stop, thread }, public))
    }

    /// Signs the head once more and stops.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// `yichuang-server backup`: copies the SQLite database `db` to `to` with SQLite's online backup
/// API (consistent while the service writes), then audits the copy as the service's start
/// would (chain, shape, every event legal under `definition`). Returns the copy's summary.
pub fn backup(db: &Path, to: &Path, definition: &Path) -> Result<LogSummary, String> {
    let text = std::fs::read_to_string(definition)
        .map_err(|e| format!("cannot read the definition {}: {e}", definition.display()))?;
    let def = Definition::from_ron(&text, &definition.display().to_string())
        .map_err(|d| format!("the definition {} is invalid:\n{d}", definition.display()))?;
    if !db.is_file() {
        return Err(format!("{} is not a database file; give the service's --db", db.display()));
    }
    SqliteStore::backup(db, to).map_err(|e| format!("the backup of {} failed: {e}", db.display()))?;
    let audited = audit_copy(to, Arc::new(def));
    if audited.is_err() {
        // A copy that does not pass is no backup; keep nobody guessing.
        let _ = std::fs::rename(to, to.with_extension("failed-audit"));
    }
    audited
}

fn audit_copy(to: &Path, def: Arc<Definition>) -> Result<LogSummary, String> {
    let mut copy =
        SqliteStore::open_read_only(to).map_err(|e| format!("the copy {} does not open: {e}", to.display()))?;
    if let Some(logged) = copy.meta("definition").map_err(|e| e.to_string())?
        && logged != def.id().as_str()
    {
        return Err(format!("the database was written under definition `{logged}`, not `{}`", def.id()));
    }
    let mut engine = Engine::new(Arc::clone(&def));
    copy.verify(&mut |e| {
        let index = usize::try_from(e.position - 1).map_err(|_| "position out of range".to_owned())?;
        engine.apply(index, e.event.record()).map_err(|why| why.to_string())
    })
    .map_err(|e| format!("the copy {} does not pass the audit: {e}", to.display()))
}
