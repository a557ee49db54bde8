//! Definition versions kept in the store (定义版本): every version the service has run, with its
//! text, so that a restart with a changed `--definition` file deploys a new version instead of
//! re-timing or refusing the cases that run on the old one.
//!
//! Kept in the store's meta table, the same on SQLite and PostgreSQL: `definitions` holds the
//! deployments in order as JSON (`[{"version", "origin", "deployed_at", "by"}, …]`, the last is
//! active), and `definition/<version>` each version's RON text. A log written before versions
//! existed has neither: the file it is started with becomes its first version.
//!
//! The service (deploys at start and by `POST /v1/definitions`) and the command line (`yichuang
//! replay --db`, `audit`, `migrate`) share this module, so that both read the same versions.

use std::sync::Arc;

use crate::{EventStore, StoreError};
use serde::{Deserialize, Serialize};
use yichuang_core::definition::{Definition, Version};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    fn minimal(promised: &str) -> (String, Definition) {
        let text = include_str!("../../../examples/definitions/minimal.ron")
            .replace("promised_days: 1", &format!("promised_days: {promised}"));
        let def = Definition::from_ron(&text, "minimal.ron").unwrap();
        (text, def)
    }

    fn deployment(def: &Definition, by: &str) -> Deployment {
        Deployment {
            version: def.version(),
            origin: "minimal.ron".into(),
            deployed_at: "2026-03-02T09:30".into(),
            by: by.into(),
        }
    }

    #[test]
    fn every_recorded_version_loads_once_in_first_deployment_order() {
        let mut store = MemoryStore::new();
        assert!(load_all(&store).unwrap().0.is_empty(), "a store from before versions holds none");
        let (t1, v1) = minimal("1");
        let (t2, v2) = minimal("2");
        record(&mut store, &t1, deployment(&v1, "--definition")).unwrap();
        record(&mut store, &t2, deployment(&v2, "admin-1")).unwrap();
        // Going back to v1 is one more deployment, not one more text.
        record(&mut store, &t1, deployment(&v1, "admin-1")).unwrap();
        let (defs, deployed) = load_all(&store).unwrap();
        assert_eq!(defs.iter().map(|d| d.version()).collect::<Vec<_>>(), [v1.version(), v2.version()]);
        assert_eq!(deployed.len(), 3);
        assert_eq!(deployed.last().unwrap().version, v1.version(), "the last deployment is active");
        assert_eq!(text(&store, v2.version()).unwrap().as_deref(), Some(t2.as_str()));
    }

    #[test]
    fn a_stored_text_of_another_version_is_refused_with_its_version() {
        let mut store = MemoryStore::new();
        let (t1, v1) = minimal("1");
        record(&mut store, &t1, deployment(&v1, "--definition")).unwrap();
        let (t2, _) = minimal("2");
        store.set_meta(&format!("definition/{}", v1.version()), &t2).unwrap();
        let e = load_all(&store).unwrap_err().to_string();
        assert!(e.contains(&v1.version().to_string()) && e.contains("its text has version"), "{e}");
    }
}
