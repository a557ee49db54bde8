//! Definition versions over HTTP (定义版本): deploying a text (`POST /v1/definitions`), the list
//! and texts of the versions the store holds (`GET /v1/definitions[/{version}]`), migrating the
//! open cases (`POST /v1/migrations`), and, with several instances on one log, taking up the
//! versions another instance deployed.
//!
//! A deployment is kept in the store's meta ([`versions`]), not in the log: it changes no case.
//! What it changes is which version new cases are opened under, and that is in every opening
//! event (`Submitted`/`Consulted` carry their version). A migration is one `Migrated` event per
//! case that moves, appended like any command's events.

use std::sync::Arc;

use axum::http::StatusCode;
use serde::Serialize;
use yichuang_core::definition::{Definition, Version, diff};
use yichuang_core::machine::case::{MigrationPlan, Verdict};
use yichuang_core::{Actor, CaseId, Ctx, Id, Instant, Recorded, Rejection, Role};

use super::{Reply, Subject, Writer, versions};
use crate::error::ApiError;
use crate::query::staff_only;

/// Where a text deployed over HTTP came from, when the request names nothing.
pub const HTTP_ORIGIN: &str = "POST /v1/definitions";

fn admin_only(actor: &Actor, what: &str) -> Result<(), ApiError> {
    if actor.role != Role::Admin {
        return Err(ApiError::forbidden(
            "role_not_allowed",
            format!("only an admin {what}; {} may not", actor.describe()),
        ));
    }
    Ok(())
}

fn versions_failed(e: &versions::VersionsError) -> ApiError {
    ApiError::unavailable("storage_failed", format!("the definition versions could not be read or kept: {e}"))
}

/// One version in `GET /v1/definitions`.
#[derive(Serialize)]
struct VersionRow {
    version: Version,
    active: bool,
    /// Its latest deployment.
    origin: String,
    deployed_at: String,
    by: String,
    /// Open (not finished) cases running on it.
    open_cases: usize,
}

/// What the migration does to one open case.
#[derive(Serialize)]
struct CaseVerdict {
    /// `C000001`.
    case: String,
    from: Version,
    #[serde(flatten)]
    verdict: Verdict,
    /// The obstacles as sentences (with `cannot`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
    /// Applied: whether the case moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    migrated: Option<bool>,
}

impl Writer {
    /// `POST /v1/definitions`: validates, keeps and activates a definition text (admins only).
    /// The active version's text again changes nothing (200, `deployed: false`); an older
    /// version's text re-activates it (200); a new one is kept (201). Answered at once: a
    /// deployment appends no event, and its meta is durable when kept.
    pub(super) fn deploy(&mut self, actor: &Actor, text: &str, origin: Option<&str>, now: Instant) -> Reply {
        match self.try_deploy(actor, text, origin, now) {
            Ok((status, body)) => Reply { status, body, replayed: false, error: None },
            Err(e) => Reply::error(&e),
        }
    }

    fn try_deploy(
        &mut self,
        actor: &Actor,
        text: &str,
        origin: Option<&str>,
        now: Instant,
    ) -> Result<(StatusCode, String), ApiError> {
        admin_only(actor, "deploys a definition version")?;
        if let Some(why) = &self.failed {
            return Err(crate::query::storage_failed(why));
        }
        let origin = origin.unwrap_or(HTTP_ORIGIN);
        let def = Definition::from_ron(text, origin).map_err(|diagnostics| {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "definition_invalid",
                format!(
                    "the definition does not load ({} problem(s), each in `diagnostics` with its line:col); nothing \
                     was deployed:\n{diagnostics}",
                    diagnostics.0.len()
                ),
            );
            e.diagnostics = Some(Arc::new(serde_json::to_value(&diagnostics.0).expect("diagnostics serialize")));
            e
        })?;
        let active = Arc::clone(self.engine.definition());
        if def.id() != active.id() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "other_definition",
                format!(
                    "this service runs definition `{}`; the text is definition `{}`: a version must keep the \
                     definition's id",
                    active.id(),
                    def.id()
                ),
            ));
        }
        let version = def.version();
        let changes = diff(&active, &def);
        let created = self.engine.version_index(version).is_none();
        let deployed = version != active.version();
        if deployed {
            let deployment = versions::Deployment {
                version,
                origin: origin.to_owned(),
                deployed_at: now.to_string(),
                by: actor.id.to_string(),
            };
            versions::record(self.store.as_mut(), text, deployment).map_err(|e| versions_failed(&e))?;
            self.deployments += 1;
            self.engine
                .deploy(Arc::new(def))
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "deploy_refused", e.to_string()))?;
            self.def = Arc::clone(self.engine.definition());
            tracing::info!(
                %version,
                previous = %active.version(),
                by = %actor.id,
                %origin,
                created,
                changes = changes.changes.len(),
                "deployed a definition version: new cases run on it; open cases keep theirs until migrated"
            );
        }
        let status = if created { StatusCode::CREATED } else { StatusCode::OK };
        let body = serde_json::json!({
            "version": version,
            "previous": active.version(),
            "created": created,
            "deployed": deployed,
            "open_cases_on_previous": self.open_cases_on(active.version()),
            "diff": changes,
        });
        Ok((status, body.to_string()))
    }

    fn open_cases_on(&self, version: Version) -> usize {
        let Some(ix) = self.engine.version_index(version) else { return 0 };
        let versions = self.engine.versions();
        self.engine
            .cases()
            .filter(|c| !c.is_finished() && Arc::ptr_eq(self.engine.definition_of(c), &versions[ix]))
            .count()
    }

    /// `GET /v1/definitions` (`version: None`) and `GET /v1/definitions/{version}` (staff).
    pub(super) fn definitions(&mut self, actor: &Actor, version: Option<Version>) -> Result<String, ApiError> {
        staff_only(actor, "the list of definition versions")?;
        if let Some(version) = version {
            let text = versions::text(self.store.as_ref(), version).map_err(|e| versions_failed(&e))?;
            let Some(text) = text else {
                return Err(ApiError::not_found(format!(
                    "there is no definition version {version}; GET /v1/definitions lists them"
                )));
            };
            let active = self.engine.definition().version() == version;
            return Ok(serde_json::json!({ "version": version, "active": active, "text": text }).to_string());
        }
        let deployed = versions::deployments(self.store.as_ref()).map_err(|e| versions_failed(&e))?;
        let active = self.engine.definition().version();
        let mut rows: Vec<VersionRow> = Vec::new();
        for d in &deployed {
            let row = VersionRow {
                version: d.version,
                active: d.version == active,
                origin: d.origin.clone(),
                deployed_at: d.deployed_at.clone(),
                by: d.by.clone(),
                open_cases: self.open_cases_on(d.version),
            };
            match rows.iter_mut().find(|r| r.version == d.version) {
                Some(r) => *r = row,
                None => rows.push(row),
            }
        }
        let body = serde_json::json!({ "active": active, "versions": rows, "deployments": deployed });
        Ok(body.to_string())
    }

    /// `POST /v1/migrations` (admins): judges every open case's move to `to` (default the
    /// active version), and unless `dry_run` moves each that can, one `Migrated` event per case;
    /// the others are listed with their obstacles and nothing of theirs changes.
    pub(super) fn migration(
        &mut self,
        to: Option<Version>,
        plan: &MigrationPlan,
        dry_run: bool,
        ctx: &Ctx<'_>,
    ) -> Result<(Vec<Recorded>, Subject), ApiError> {
        admin_only(ctx.actor, "migrates cases to another definition version")?;
        let to = to.unwrap_or_else(|| self.engine.definition().version());
        if self.engine.version_index(to).is_none() {
            return Err(ApiError::rejection(&Rejection::Unknown {
                what: "definition version",
                id: to.to_string(),
                accepted: self.engine.versions().iter().map(|d| Id::new(&d.version().to_string())).collect(),
            }));
        }
        let open: Vec<CaseId> = self.engine.cases().filter(|c| !c.is_finished()).map(|c| c.id()).collect();
        let mut records = Vec::new();
        let mut rows = Vec::with_capacity(open.len());
        let (mut migrates, mut cannot, mut current, mut migrated) = (0usize, 0usize, 0usize, 0usize);
        for id in open {
            let case = self.engine.case(id).expect("an open case is held");
            let from = self.engine.definition_of(case).version();
            let verdict = self.engine.migration(id, to, plan).map_err(|r| ApiError::rejection(&r))?;
            let mut reasons = Vec::new();
            let mut moved = None;
            match &verdict {
                Verdict::Migrates { .. } => {
                    migrates += 1;
                    if !dry_run {
                        match self.engine.migrate_into(id, to, plan, ctx, &mut records) {
                            Ok(()) => {
                                migrated += 1;
                                moved = Some(true);
                            }
                            Err(r) => {
                                reasons.push(r.to_string());
                                moved = Some(false);
                            }
                        }
                    }
                }
                Verdict::Cannot { obstacles } => {
                    cannot += 1;
                    reasons.extend(obstacles.iter().map(ToString::to_string));
                    if !dry_run {
                        moved = Some(false);
                    }
                }
                Verdict::Current => current += 1,
            }
            rows.push(CaseVerdict { case: id.to_string(), from, verdict, reasons, migrated: moved });
        }
        if !dry_run {
            tracing::info!(%to, migrated, refused = cannot, by = %ctx.actor.id, "migrated the open cases that can move");
        }
        let body = serde_json::json!({
            "to": to,
            "dry_run": dry_run,
            "open_cases": rows.len(),
            "migrates": migrates,
            "cannot": cannot,
            "current": current,
            "migrated": migrated,
            "events": records.len(),
            "cases": rows,
        });
        Ok((records, Subject::json(body.to_string())))
    }

    /// Takes up the versions the store holds that this writer does not, and the active one
    /// (another instance deployed them). Returns whether anything changed.
    pub(super) fn reload_versions(&mut self) -> Result<bool, versions::VersionsError> {
        let (defs, deployed) = versions::load_all(self.store.as_ref())?;
        let mut changed = false;
        for def in &defs {
            if self.engine.version_index(def.version()).is_none() && self.engine.deploy(Arc::clone(def)).is_ok() {
                changed = true;
            }
        }
        if let Some(last) = deployed.last()
            && self.engine.definition().version() != last.version
            && let Some(ix) = self.engine.version_index(last.version)
        {
            let def = Arc::clone(&self.engine.versions()[ix]);
            let _ = self.engine.deploy(def);
            changed = true;
        }
        self.deployments = deployed.len();
        self.def = Arc::clone(self.engine.definition());
        if changed {
            tracing::info!(
                active = %self.engine.definition().version(),
                versions = self.engine.versions().len(),
                "took up the definition versions another instance deployed"
            );
        }
        Ok(changed)
    }

    /// Several instances: whether another instance deployed since this writer last looked (the
    /// deployments list grew), and if so takes its versions up.
    pub(super) fn notice_deployments(&mut self) -> Result<(), String> {
        let known = versions::deployments(self.store.as_ref()).map_err(|e| e.to_string())?.len();
        if known != self.deployments {
            self.reload_versions().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
