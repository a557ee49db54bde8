//! Migration of a running case to another definition version (版本迁移).
//!
//! A case runs on the version it was submitted under. An administrator may move it to another
//! version with a [`MigrationPlan`] (item and bundle renames); [`Case::migration`] judges the move
//! ([`Verdict`]: what happens to each task, or every [`Obstacle`] that forbids it) without
//! changing anything, and the engine records one `Migrated` event when it is allowed. Replay
//! re-judges the move from the event, so a tampered or inconsistent `Migrated` is refused.
//!
//! The rules (docs/definitions.md, "Migration"):
//! - A promise already made is never lengthened: a running clock keeps the earlier of the old
//!   and the new due date; a task not yet started keeps the shorter of the two limits.
//! - A removed member that had not started (waiting, ready, not applicable, cancelled) leaves
//!   the case ("removed by version V"); one under review or decided is an obstacle.
//! - An added member applies by its condition on the case's answers; it waits for its
//!   predecessors and becomes ready by the usual cascade when they are approved.
//! - Every task waiting at a join is re-evaluated under the new graph; a task already claimed or
//!   decided whose new predecessors (or stage before) are not all approved is an obstacle, a
//!   ready one goes back to waiting.
//! - A material newly required for an applicable member after acceptance, and not handed in,
//!   is an obstacle; so is a changed decider of a task under review.
//! - Only cases before their decision migrate; a decided case finishes on its version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::actor::Ctx;
use crate::definition::{Definition, Id, MaterialNeed, Version};
use crate::event::{Event, EventSink, Recorded};
use crate::machine::sla::Sla;
use crate::machine::task::{MemberSet, Task, TaskState};
use crate::rejection::Rejection;

use super::evolve::{Illegal, IllegalEvent};
use super::{Case, CaseState, Gate};

/// How the ids of one version map to the next (迁移方案): renamed items and bundles. Items of a
/// bundle that the new version no longer lists are removed, new ones added; everything else
/// keeps its id.
///
/// Written in RON for `yichuang migrate --plan`:
///
/// ```
/// use yichuang_core::machine::case::MigrationPlan;
///
/// let plan: MigrationPlan = ron::from_str(r#"(renames: {"food-licence": "food-business-licence"})"#).unwrap();
/// assert_eq!(plan.item("food-licence").as_str(), "food-business-licence");
/// assert_eq!(plan.item("fire-safety").as_str(), "fire-safety");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationPlan {
    /// Old item id → new item id.
    #[serde(default)]
    pub renames: BTreeMap<Id, Id>,
    /// Old bundle id → new bundle id.
    #[serde(default)]
    pub bundle_renames: BTreeMap<Id, Id>,
}

impl MigrationPlan {
    /// The new id of an old item.
    pub fn item(&self, old: &str) -> Id {
        self.renames.get(old).cloned().unwrap_or_else(|| Id::new(old))
    }
    /// The new id of an old bundle.
    pub fn bundle(&self, old: &str) -> Id {
        self.bundle_renames.get(old).cloned().unwrap_or_else(|| Id::new(old))
    }
}

/// What a migration does to one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum TaskChange {
    /// Kept as it is (possibly under a new id).
    Kept {
        /// The item (new id).
        item: Id,
        /// Its old id, when renamed.
        #[serde(skip_serializing_if = "Option::is_none")]
        renamed_from: Option<Id>,
        /// Its state.
        state: TaskState,
    },
    /// Its limit shortens: the new, earlier due date applies.
    LimitShortened {
        /// The item.
        item: Id,
        /// Old promised working days.
        from_days: u32,
        /// New promised working days.
        to_days: u32,
    },
    /// The new version lengthens its limit; the promise already made stands.
    LimitKept {
        /// The item.
        item: Id,
        /// The promised working days kept.
        days: u32,
        /// What the new version would give.
        new_days: u32,
    },
    /// Removed by the new version before it started: it leaves the case.
    Removed {
        /// The item (old id).
        item: Id,
        /// Its state before.
        state: TaskState,
    },
    /// Added by the new version.
    Added {
        /// The item.
        item: Id,
        /// Whether its condition (情形) holds for the case's answers.
        applies: bool,
    },
    /// Was ready; a new predecessor is not approved yet, so it waits again (no reviewer had
    /// claimed it).
    WaitsAgain {
        /// The item.
        item: Id,
        /// The predecessors it now waits for.
        for_items: Vec<Id>,
    },
}

/// Why a case cannot migrate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "obstacle", rename_all = "snake_case")]
pub enum Obstacle {
    /// The case is past its approvals (or final).
    #[error("the case is {}: its approvals are decided, it finishes on its version", state.name())]
    Decided {
        /// The case's state.
        state: CaseState,
    },
    /// The bundle is not in the new version (and the plan renames it to nothing there).
    #[error("bundle `{bundle}` is not in the new version; map it with bundle_renames")]
    BundleRemoved {
        /// The bundle (new id looked for).
        bundle: Id,
    },
    /// A removed member's task is under way or decided.
    #[error("task `{item}` is {} and the new version removes it: its work would be lost", state.name())]
    RemovedInWork {
        /// The item.
        item: Id,
        /// Its state.
        state: TaskState,
    },
    /// A task already claimed or decided would get a predecessor that is not approved.
    #[error(
        "task `{item}` is {} and the new version puts `{predecessor}` (not approved) before it",
        state.name()
    )]
    PredecessorBehind {
        /// The item.
        item: Id,
        /// Its state.
        state: TaskState,
        /// The predecessor.
        predecessor: Id,
    },
    /// A task already claimed or decided would sit behind a stage gate that is not open.
    #[error("task `{item}` is {} but the new version's stage before it is not complete", state.name())]
    StagePassed {
        /// The item.
        item: Id,
        /// Its state.
        state: TaskState,
    },
    /// An applicable member needs a material that was neither handed in nor tolerated.
    #[error("the new version requires material `{material}` for `{item}`, which was not handed in at acceptance")]
    MaterialNewlyRequired {
        /// The item.
        item: Id,
        /// The material.
        material: Id,
    },
    /// The plan maps two of the case's tasks to one item of the new version.
    #[error("the plan maps `{first}` and `{second}` to the same item `{item}`: one task and its work would be lost")]
    RenameCollision {
        /// The new item id.
        item: Id,
        /// One old item.
        first: Id,
        /// The other.
        second: Id,
    },
    /// A task under review would change its deciding departments.
    #[error("task `{item}` is {} and the new version changes who decides it", state.name())]
    DeciderChanged {
        /// The item.
        item: Id,
        /// Its state.
        state: TaskState,
    },
}

/// The judgement of a migration of one case ([`Case::migration`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The case migrates; what happens to each task (empty before acceptance).
    Migrates {
        /// Per task.
        changes: Vec<TaskChange>,
    },
    /// The case cannot migrate; every reason.
    Cannot {
        /// Why.
        obstacles: Vec<Obstacle>,
    },
    /// The case already runs on that version.
    Current,
}

impl Verdict {
    /// Whether the case migrates.
    pub fn migrates(&self) -> bool {
        matches!(self, Verdict::Migrates { .. })
    }
}

impl Case {
    /// Judges the migration of this case from `old` (the version it runs on) to `new` under
    /// `plan`, changing nothing.
    pub fn migration(&self, old: &Definition, new: &Definition, plan: &MigrationPlan) -> Verdict {
        match self.migrated(old, new, plan, usize::MAX) {
            Ok((_, changes)) => Verdict::Migrates { changes },
            Err(obstacles) => Verdict::Cannot { obstacles },
        }
    }

    /// Records the migration (the engine checked the actor and the state): one `Migrated` event,
    /// or the refusal with every obstacle. Returns the changes.
    pub(crate) fn migrate<S: EventSink + ?Sized>(
        &mut self,
        old: &Definition,
        to_ix: usize,
        new: &Definition,
        plan: &MigrationPlan,
        ctx: &Ctx<'_>,
        out: &mut S,
    ) -> Result<Vec<TaskChange>, Rejection> {
        let (mut case, changes) = self
            .migrated(old, new, plan, to_ix)
            .map_err(|obstacles| Rejection::MigrationRefused { case: self.id, obstacles })?;
        let event = migrated_event(old.version(), new.version(), plan, &changes);
        case.version = self.version + 1;
        case.updated_at = Some(ctx.now);
        *self = case;
        out.record(self.id.into(), self.version, ctx.now, ctx.actor, event);
        Ok(changes)
    }

    /// Folds a `Migrated` event: re-judges the move and applies it.
    pub(crate) fn fold_migration(
        &mut self,
        old: &Definition,
        to_ix: usize,
        new: &Definition,
        rec: &Recorded,
    ) -> Result<(), IllegalEvent> {
        let illegal = |case: &Case, why: Illegal| IllegalEvent {
            stream: rec.stream,
            event: rec.event.name(),
            state: case.state.name(),
            why,
        };
        if rec.seq != self.version + 1 {
            return Err(illegal(self, Illegal::Sequence { seq: rec.seq, version: self.version }));
        }
        let Event::Migrated { from, renames, bundle_renames, removed, .. } = &rec.event else {
            unreachable!("fold_migration folds Migrated events");
        };
        if *from != old.version() {
            return Err(illegal(self, Illegal::Migration(format!("the case runs on {}, not {from}", old.version()))));
        }
        let plan = MigrationPlan {
            renames: renames.iter().cloned().collect(),
            bundle_renames: bundle_renames.iter().cloned().collect(),
        };
        match self.migrated(old, new, &plan, to_ix) {
            Ok((case, changes)) => {
                let Event::Migrated { removed: expected, .. } = migrated_event(*from, new.version(), &plan, &changes)
                else {
                    unreachable!()
                };
                if *removed != expected {
                    return Err(illegal(
                        self,
                        Illegal::Migration(format!(
                            "it lists {removed:?} as removed, the versions remove {expected:?}"
                        )),
                    ));
                }
                *self = case;
                self.version = rec.seq;
                self.updated_at = Some(rec.at);
                Ok(())
            }
            Err(obstacles) => {
                let why = obstacles.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                Err(illegal(self, Illegal::Migration(why)))
            }
        }
    }

    /// The case as it would be on `new`, with the changes, or every obstacle.
    fn migrated(
        &self,
        old: &Definition,
        new: &Definition,
        plan: &MigrationPlan,
        to_ix: usize,
    ) -> Result<(Case, Vec<TaskChange>), Vec<Obstacle>> {
        if !matches!(
            self.state,
            CaseState::Consulting | CaseState::Received | CaseState::AwaitingCorrection | CaseState::InApproval
        ) {
            return Err(vec![Obstacle::Decided { state: self.state }]);
        }
        let old_bundle = old.bundle(self.bundle);
        let new_bundle_id = plan.bundle(old_bundle.id.as_str());
        let Some(bundle_ix) = new.bundle_ix(&new_bundle_id) else {
            return Err(vec![Obstacle::BundleRemoved { bundle: new_bundle_id }]);
        };
        let bundle = new.bundle(bundle_ix);
        let mut case = self.clone();
        case.bundle = bundle_ix;
        case.def_ix = u16::try_from(to_ix).unwrap_or(u16::MAX);
        case.materials = self.materials.iter().filter_map(|&m| new.material_ix(&old.material(m).id)).collect();
        case.materials.sort_unstable();
        case.materials.dedup();
        let answers_mask = bundle.applicable_mask(new, &self.answers);
        if self.state != CaseState::InApproval {
            case.applicable = answers_mask;
            return Ok((case, Vec::new()));
        }

        let mut obstacles = Vec::new();
        let mut changes = Vec::new();
        // Old tasks by their new id.
        let mut old_tasks: BTreeMap<Id, &Task> = BTreeMap::new();
        for t in &self.tasks {
            let new_id = plan.item(t.item_id.as_str());
            // Two tasks renamed onto one item: one of them, and its work, would vanish.
            if let Some(other) = old_tasks.insert(new_id.clone(), t) {
                obstacles.push(Obstacle::RenameCollision {
                    item: new_id,
                    first: other.item_id.clone(),
                    second: t.item_id.clone(),
                });
            }
        }
        // Removed members.
        for t in &self.tasks {
            let new_id = plan.item(t.item_id.as_str());
            let kept = bundle.members.iter().any(|m| new.item(m.item).id == new_id);
            if kept {
                continue;
            }
            match t.state {
                TaskState::Waiting | TaskState::Ready | TaskState::NotApplicable | TaskState::Cancelled => {
                    changes.push(TaskChange::Removed { item: t.item_id.clone(), state: t.state });
                }
                state => obstacles.push(Obstacle::RemovedInWork { item: t.item_id.clone(), state }),
            }
        }
        // The new task list, in the new bundle's member order.
        let mut applies = MemberSet::EMPTY;
        let mut tasks = Vec::with_capacity(bundle.members.len());
        for (pos, member) in bundle.members.iter().enumerate() {
            let item = new.item(member.item);
            let task = match old_tasks.get(&item.id) {
                Some(&t) => {
                    if t.state != TaskState::NotApplicable {
                        applies.insert(pos);
                    }
                    let under_way = matches!(
                        t.state,
                        TaskState::InReview
                            | TaskState::SpecialProcedure
                            | TaskState::AwaitingSupplement
                            | TaskState::SimulatedApproved
                    );
                    let old_deciders: Vec<&Id> =
                        old.item(t.item).decided_by.departments().iter().map(|&d| &old.department(d).id).collect();
                    let new_deciders: Vec<&Id> =
                        item.decided_by.departments().iter().map(|&d| &new.department(d).id).collect();
                    let (od, nd) = (&old.item(t.item).decided_by, &item.decided_by);
                    let rule_changed =
                        od.rule_name() != nd.rule_name() || od.approvals_needed() != nd.approvals_needed();
                    if under_way && (old_deciders != new_deciders || rule_changed) {
                        obstacles.push(Obstacle::DeciderChanged { item: item.id.clone(), state: t.state });
                    }
                    let renamed_from = (t.item_id != item.id).then(|| t.item_id.clone());
                    changes.push(TaskChange::Kept { item: item.id.clone(), renamed_from, state: t.state });
                    // Limits: never lengthen a promise already made.
                    let old_days = t.promised_days(old);
                    let mut task = Task { item: member.item, item_id: item.id.clone(), ..t.clone() };
                    task.promised_cap = None;
                    if item.promised_days < old_days {
                        changes.push(TaskChange::LimitShortened {
                            item: item.id.clone(),
                            from_days: old_days,
                            to_days: item.promised_days,
                        });
                        if let Some(sla) = task.sla.as_mut() {
                            sla.cap_budget(
                                i64::from(item.promised_days) * i64::from(new.calendar().day_minutes()),
                                new.calendar(),
                                new.policies().warning_percent,
                            );
                        }
                    } else if item.promised_days > old_days {
                        changes.push(TaskChange::LimitKept {
                            item: item.id.clone(),
                            days: old_days,
                            new_days: item.promised_days,
                        });
                        task.promised_cap = Some(old_days);
                    }
                    task
                }
                None => {
                    let applies_now = answers_mask & (1 << pos) != 0;
                    if applies_now {
                        applies.insert(pos);
                    }
                    changes.push(TaskChange::Added { item: item.id.clone(), applies: applies_now });
                    Task::fresh(member.item, item.id.clone(), applies_now)
                }
            };
            tasks.push(task);
        }
        // Re-evaluate every join under the new graph, through members that do not apply.
        let waits = super::waits_through(bundle, applies);
        for (pos, task) in tasks.iter_mut().enumerate() {
            task.waits_for = waits[pos];
            // A deliberately broken rule (tests only): a waiting task forgets what it waits for.
            #[cfg(feature = "fault-injection")]
            if crate::fault::active(crate::fault::Fault::MigrationDropsWaitingPredecessor)
                && task.state == TaskState::Waiting
            {
                task.waits_for = MemberSet::EMPTY;
            }
        }
        case.tasks = tasks;
        case.applicable = applies.0;
        // Started tasks must still be startable under the new graph and stages.
        for pos in 0..case.tasks.len() {
            let state = case.tasks[pos].state;
            let started = matches!(
                state,
                TaskState::Ready
                    | TaskState::InReview
                    | TaskState::SpecialProcedure
                    | TaskState::AwaitingSupplement
                    | TaskState::SimulatedApproved
                    | TaskState::Approved
            );
            if !started {
                continue;
            }
            let behind: Vec<Id> = case.tasks[pos]
                .waits_for
                .iter()
                .filter(|&p| case.tasks[p].state != TaskState::Approved)
                .map(|p| case.tasks[p].item_id.clone())
                .collect();
            let gate_open = case.stage_gate(new, pos) == Gate::Open;
            if behind.is_empty() && gate_open {
                continue;
            }
            let item = case.tasks[pos].item_id.clone();
            if state == TaskState::Ready {
                let task = &mut case.tasks[pos];
                task.state = TaskState::Waiting;
                task.sla = None;
                changes.push(TaskChange::WaitsAgain { item, for_items: behind });
            } else if let Some(predecessor) = behind.into_iter().next() {
                obstacles.push(Obstacle::PredecessorBehind { item, state, predecessor });
            } else {
                obstacles.push(Obstacle::StagePassed { item, state });
            }
        }
        // Materials newly required after acceptance.
        for (pos, member) in bundle.members.iter().enumerate() {
            if !applies.contains(pos) || case.tasks[pos].state.is_terminal() {
                continue;
            }
            let item = new.item(member.item);
            for &(m, need) in &item.materials {
                let material = new.material(m);
                let present = material.shared_source.is_some()
                    || case.materials.binary_search(&m).is_ok()
                    || case.outstanding.contains(&material.id);
                if need == MaterialNeed::Required && !present {
                    obstacles
                        .push(Obstacle::MaterialNewlyRequired { item: item.id.clone(), material: material.id.clone() });
                }
            }
        }
        // The case clock: never later than promised.
        let bundle_minutes = i64::from(bundle.promised_days) * i64::from(new.calendar().day_minutes());
        if let Some(sla) = case.sla.as_mut() {
            sla.cap_budget(bundle_minutes, new.calendar(), new.policies().warning_percent);
        }
        if obstacles.is_empty() { Ok((case, changes)) } else { Err(obstacles) }
    }
}

/// The `Migrated` event for a plan.
fn migrated_event(from: Version, to: Version, plan: &MigrationPlan, changes: &[TaskChange]) -> Event {
    let removed = changes
        .iter()
        .filter_map(|c| match c {
            TaskChange::Removed { item, .. } => Some(item.clone()),
            _ => None,
        })
        .collect();
    Event::Migrated {
        from,
        to,
        renames: plan.renames.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
        bundle_renames: plan.bundle_renames.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
        removed,
    }
}

impl Sla {
    /// Shortens the promised budget to at most `minutes` (a migration never lengthens it).
    pub(crate) fn cap_budget(&mut self, minutes: i64, cal: &crate::calendar::Calendar, warning_percent: u32) {
        if minutes < self.budget_minutes {
            self.budget_minutes = minutes.max(0);
            self.refresh(cal, warning_percent);
        }
    }
}
