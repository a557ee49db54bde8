//! Definition versions kept in the store (定义版本): every version the service has run, with its
//! text, so that a restart with a changed `--definition` file deploys a new version instead of
//! re-timing or refusing the cases that run on the old one.
//!
//! Kept in the store's meta table, the same on SQLite and PostgreSQL: `definitions` holds the
//! deployments in order as JSON (`[{"version", "origin", "deployed_at", "by"}, …]`, the last is
//! active), and `definition/<version>` each version's RON text. A log written before versions
//! existed has neither: the file it is started with becomes its first version.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use yichuang_core::definition::{Definition, Version};
use yichuang_store::{EventStore, StoreError};

/// Meta key of the list of deployments.
pub const DEPLOYMENTS: &str = "definitions";

/// One deployment of a definition version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The version deployed.
    pub version: Version,
    /// Where its text came from (a file name, or `POST /v1/definitions`).
    pub origin: String,
    /// When (the service's clock, China time).
    pub deployed_at: String,
    /// Who: `--definition` at start, or the administrator's id.
    pub by: String,
}

/// Why the stored versions could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A stored entry is damaged or no longer loads.
    #[error("the stored definition version {version} does not load: {why}")]
    Stored {
        /// The version.
        version: String,
        /// Why.
        why: String,
    },
}

/// The deployments recorded in the store, oldest first.
pub fn deployments(store: &dyn EventStore) -> Result<Vec<Deployment>, VersionsError> {
    match store.meta(DEPLOYMENTS)? {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| VersionsError::Stored { version: "list".into(), why: format!("{DEPLOYMENTS}: {e}") }),
    }
}

/// The stored text of a version.
pub fn text(store: &dyn EventStore, version: Version) -> Result<Option<String>, VersionsError> {
    Ok(store.meta(&format!("definition/{version}"))?)
}

/// Every stored version, parsed, in first-deployment order, and the index of the active one.
pub fn load_all(store: &dyn EventStore) -> Result<(Vec<Arc<Definition>>, Vec<Deployment>), VersionsError> {
    let deployed = deployments(store)?;
    let mut defs: Vec<Arc<Definition>> = Vec::new();
    for d in &deployed {
        if defs.iter().any(|def| def.version() == d.version) {
            continue;
        }
        let stored = |why: String| VersionsError::Stored { version: d.version.to_string(), why };
        let text = text(store, d.version)?.ok_or_else(|| stored("its text is missing".into()))?;
        let def = Definition::from_ron(&text, &d.origin).map_err(|e| stored(e.to_string()))?;
        if def.version() != d.version {
            return Err(stored(format!("its text has version {}", def.version())));
        }
        defs.push(Arc::new(def));
    }
    Ok((defs, deployed))
}

/// Records a deployment (and the version's text, the first time).
pub fn record(store: &mut dyn EventStore, text: &str, deployment: Deployment) -> Result<(), VersionsError> {
    let key = format!("definition/{}", deployment.version);
    if store.meta(&key)?.is_none() {
        store.set_meta(&key, text)?;
    }
    let mut all = deployments(store)?;
    all.push(deployment);
    store.set_meta(DEPLOYMENTS, &serde_json::to_string(&all).expect("deployments serialize"))?;
    Ok(())
}
