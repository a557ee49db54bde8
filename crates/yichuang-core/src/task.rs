//! The approval task machine (审批任务), one per member item of a case's bundle.
//!
//! `Waiting` (predecessors not approved) → `Ready` (in the department's queue) → `InReview`
//! (claimed by a reviewer of that department) → `Approved` | `Denied`; `InReview` ↔
//! `SpecialProcedure` (特别程序, the clock stops); `InReview` → `SimulatedApproved` (模拟审批) →
//! `Approved` when the precondition is met with unchanged facts, else back to `InReview`; the
//! lapse timer → `Lapsed`. A failed predecessor cancels the task (`Cancelled`). Members whose
//! condition (情形) does not hold are `NotApplicable` from the start.

use serde::Serialize;

use crate::actor::{Actor, Ctx, Role};
use crate::definition::{Decider, Definition, Id, Item, ItemIx};
use crate::event::{Event, Events, SpecialProcedureKind};
use crate::rejection::Rejection;
use crate::sla::Sla;
use crate::time::Instant;

/// State of one approval task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TaskState {
    /// The member's condition did not hold at acceptance (不适用).
    NotApplicable,
    /// Waiting for predecessors, a stage, or a tolerated material (等待).
    Waiting,
    /// In the department's queue (待办).
    Ready,
    /// Claimed by a reviewer (审查中).
    InReview,
    /// In a special procedure; the clock stops (特别程序).
    SpecialProcedure(SpecialProcedureKind),
    /// Simulated approval awaiting its precondition (模拟审批).
    SimulatedApproved,
    /// Approved (准予).
    Approved,
    /// Denied (不予).
    Denied,
    /// Cancelled because something it depends on failed (终止).
    Cancelled,
    /// The simulated approval lapsed (失效).
    Lapsed,
}

impl TaskState {
    /// Whether the task can change no more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::NotApplicable
                | TaskState::Approved
                | TaskState::Denied
                | TaskState::Cancelled
                | TaskState::Lapsed
        )
    }
    /// Terminal without approval (blocks dependents).
    pub fn is_failed(self) -> bool {
        matches!(self, TaskState::Denied | TaskState::Cancelled | TaskState::Lapsed)
    }
    /// Short English name.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::NotApplicable => "NotApplicable",
            TaskState::Waiting => "Waiting",
            TaskState::Ready => "Ready",
            TaskState::InReview => "InReview",
            TaskState::SpecialProcedure(_) => "SpecialProcedure",
            TaskState::SimulatedApproved => "SimulatedApproved",
            TaskState::Approved => "Approved",
            TaskState::Denied => "Denied",
            TaskState::Cancelled => "Cancelled",
            TaskState::Lapsed => "Lapsed",
        }
    }
}

/// One approval task of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    /// The item, by index in the definition.
    #[serde(serialize_with = "ser_ix")]
    pub item: ItemIx,
    /// Stable item id.
    pub item_id: Id,
    /// State.
    pub state: TaskState,
    /// Member positions this task waits for, resolved through members that do not apply.
    pub waits_for: MemberSet,
    /// Departments that have signed a countersign (bit per position in the decider list).
    pub signed: u32,
    /// The reviewer who claimed it.
    pub reviewer: Option<Id>,
    /// Promised-time clock, from the moment it became ready.
    pub sla: Option<Sla>,
    /// When a simulated approval lapses.
    pub lapse_due: Option<Instant>,
}

/// A set of member positions of one bundle (at most 64, which the loader enforces), as a bit
/// mask: cheap to copy and to test against the states of all tasks at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MemberSet(pub u64);

impl MemberSet {
    /// The empty set.
    pub const EMPTY: MemberSet = MemberSet(0);

    /// Whether `position` is in the set.
    pub fn contains(self, position: usize) -> bool {
        position < 64 && self.0 & (1 << position) != 0
    }

    /// Adds `position` (< 64).
    pub fn insert(&mut self, position: usize) {
        debug_assert!(position < 64, "a bundle has at most 64 members");
        self.0 |= 1 << position;
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of positions.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Positions in increasing order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let p = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                p
            })
        })
    }
}

impl FromIterator<usize> for MemberSet {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> MemberSet {
        let mut set = MemberSet::EMPTY;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

fn ser_ix<S: serde::Serializer>(ix: &ItemIx, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u32(ix.index() as u32)
}

/// A task-level command (审批操作).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAction<'a> {
    /// 认领: take the task from the queue.
    Claim,
    /// 准予 (or sign, for a countersign).
    Approve,
    /// 不予, with a reason.
    Deny(&'a str),
    /// Start a special procedure.
    StartSpecialProcedure(SpecialProcedureKind),
    /// End the special procedure.
    EndSpecialProcedure,
    /// 模拟审批.
    ApproveSimulated,
    /// The precondition is met (e.g. land obtained); `facts_changed` sends it back to review.
    MeetPrecondition {
        /// Whether the project facts changed since the simulated review.
        facts_changed: bool,
    },
}

impl TaskAction<'_> {
    /// Command name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            TaskAction::Claim => "claim",
            TaskAction::Approve => "approve",
            TaskAction::Deny(_) => "deny",
            TaskAction::StartSpecialProcedure(_) => "start_special_procedure",
            TaskAction::EndSpecialProcedure => "end_special_procedure",
            TaskAction::ApproveSimulated => "approve_simulated",
            TaskAction::MeetPrecondition { .. } => "meet_precondition",
        }
    }
}

/// The deciding department positions the actor belongs to, or the rejection.
fn reviewer_department(def: &Definition, item: &Item, actor: &Actor, action: &'static str) -> Result<usize, Rejection> {
    let departments = || {
        item.decided_by.departments().iter().map(|&d| def.department(d).id.to_string()).collect::<Vec<_>>().join(" + ")
    };
    match &actor.role {
        Role::Reviewer { department } => {
            item.decided_by.departments().iter().position(|&d| def.department(d).id == *department).ok_or_else(|| {
                Rejection::WrongDepartment {
                    actor: actor.describe(),
                    item: item.id.to_string(),
                    departments: departments(),
                }
            })
        }
        Role::Clerk { .. } => Err(Rejection::RoleNotAllowed {
            rule: "受审分离 (intake clerks accept but never decide)",
            actor: actor.describe(),
            command: action,
            allowed: format!("only a reviewer of {} may", departments()),
        }),
        _ => Err(Rejection::RoleNotAllowed {
            rule: "审批权限 (only the deciding department reviews)",
            actor: actor.describe(),
            command: action,
            allowed: format!("only a reviewer of {} may", departments()),
        }),
    }
}

impl Task {
    /// Decides a task-level command: the events to record, or why not.
    pub fn decide(&self, def: &Definition, action: TaskAction<'_>, ctx: &Ctx<'_>) -> Result<Vec<Event>, Rejection> {
        let mut out = Events::new();
        self.decide_events(def, action, ctx, &mut out)?;
        Ok(out.into_vec())
    }

    /// Like [`Task::decide`], in a small inline buffer (no allocation on the command path).
    pub(crate) fn decide_events(
        &self,
        def: &Definition,
        action: TaskAction<'_>,
        ctx: &Ctx<'_>,
        out: &mut Events,
    ) -> Result<(), Rejection> {
        let item = def.item(self.item);
        let dept = reviewer_department(def, item, ctx.actor, action.name())?;
        let id = || self.item_id.clone();
        let wrong = |accepted: &str| Rejection::InvalidState {
            command: action.name(),
            subject: format!("task `{}`", self.item_id),
            state: self.state.name().to_owned(),
            accepted: accepted.to_owned(),
        };
        let state = self.state;
        match (state, action) {
            (TaskState::Ready, TaskAction::Claim) => {
                out.push(Event::TaskClaimed { item: id(), reviewer: ctx.actor.id.clone() })
            }
            (TaskState::InReview, TaskAction::Approve) => match &item.decided_by {
                Decider::Department(_) => out.push(Event::TaskApproved { item: id() }),
                Decider::Countersign(ds) => {
                    if self.signed & (1 << dept) != 0 {
                        return Err(wrong(
                            "this department has already signed; the other countersign departments must sign",
                        ));
                    }
                    out.push(Event::TaskSigned { item: id(), department: def.department(ds[dept]).id.clone() });
                    let all = (1u32 << ds.len()) - 1;
                    if self.signed | (1 << dept) == all {
                        out.push(Event::TaskApproved { item: id() });
                    }
                }
            },
            (TaskState::InReview, TaskAction::Deny(reason)) => {
                if reason.trim().is_empty() {
                    return Err(Rejection::ReasonRequired {
                        rule: "不予许可须说明理由 (a denial states its reason)",
                        what: "reason",
                    });
                }
                out.push(Event::TaskDenied { item: id(), reason: reason.to_owned() })
            }
            (TaskState::InReview, TaskAction::StartSpecialProcedure(kind)) => {
                out.push(Event::SpecialProcedureStarted { item: id(), kind })
            }
            (TaskState::SpecialProcedure(_), TaskAction::EndSpecialProcedure) => {
                out.push(Event::SpecialProcedureEnded { item: id() })
            }
            (TaskState::InReview, TaskAction::ApproveSimulated) => {
                if item.simulated_approval.is_none() {
                    return Err(Rejection::NotAllowedForItem {
                        rule: "模拟审批",
                        item: item.id.to_string(),
                        reason: "has no simulated-approval precondition in the definition; approve or deny it",
                    });
                }
                out.push(Event::TaskSimulatedApproved { item: id() })
            }
            (TaskState::SimulatedApproved, TaskAction::MeetPrecondition { facts_changed }) => {
                if facts_changed {
                    out.push(Event::SimulationReopened { item: id() })
                } else {
                    out.extend([Event::SimulationConverted { item: id() }, Event::TaskApproved { item: id() }])
                }
            }
            (TaskState::Ready, _) => return Err(wrong("claim it first")),
            (TaskState::InReview, _) => {
                return Err(wrong(
                    "approve, deny, start a special procedure, or approve simulated (模拟审批) when allowed",
                ));
            }
            (TaskState::SpecialProcedure(_), _) => return Err(wrong("end the special procedure first")),
            (TaskState::SimulatedApproved, _) => return Err(wrong("meet the precondition (e.g. land obtained)")),
            (TaskState::Waiting, _) => return Err(wrong("it waits for its predecessors or a tolerated material")),
            (TaskState::NotApplicable, _) => return Err(wrong("it does not apply to this case")),
            (_, _) => return Err(wrong("it is finished")),
        }
        Ok(())
    }
}
