//! Drives a case to its close the way an uneventful day in the hall does.
//!
//! Every task that is `Ready` is claimed by a reviewer of its deciding department and approved
//! by each of its deciding departments (a countersign, 会签, needs them all); the clock moves a
//! few working hours between rounds and the engine's timers fire up to it; the results leave
//! through the unified delivery window (统一出件) and the applicant rates five stars.
//!
//! This file is compiled twice: as the module `driver` of the `yichuang-benches` library (for the
//! `engine` benchmark) and into `examples/embed.rs` through `#[path]`. Including the file keeps
//! one copy of the logic without making the published facade package depend on an unpublished
//! benchmark package. That is why it reaches the engine only through the facade crate
//! `yichuang`, which both see, and uses nothing else but `std`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use yichuang::definition::{BundleIx, DeptIx, ItemIx, WindowClass};
use yichuang::prelude::*;

/// The people who work a case: the applicant, one clerk at the first intake window, one at the
/// first delivery window, and one reviewer per department.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The applicant (申请人); rates the service.
    pub applicant: Actor,
    /// A clerk of the first intake window (综合受理) in the definition.
    pub intake: Actor,
    /// A clerk of the first delivery window (统一出件) in the definition.
    pub delivery: Actor,
    /// One reviewer per review level and department: `reviewers[level][department]` (受审分离:
    /// each level of a task is signed by another person).
    reviewers: Vec<Vec<Actor>>,
}

impl Staff {
    /// Staff for `def`, acting for the applicant with id `applicant`. Fails when the hall has no
    /// intake or no delivery window.
    pub fn new(def: &Definition, applicant: &Id) -> Result<Staff, DriveError> {
        let window = |class: WindowClass| {
            def.windows().iter().find(|w| w.class == class).map(|w| w.id.clone()).ok_or(DriveError::NoWindow(class))
        };
        let (intake, delivery) = (window(WindowClass::Intake)?, window(WindowClass::Delivery)?);
        let levels = def.items().iter().map(|i| i.levels.len()).max().unwrap_or(1);
        let reviewers = (0..levels)
            .map(|level| {
                let suffix = if level == 0 { String::new() } else { format!("-{}", level + 1) };
                def.departments()
                    .iter()
                    .map(|d| Actor::reviewer(&format!("reviewer-{}{suffix}", d.id), &d.id))
                    .collect()
            })
            .collect();
        Ok(Staff {
            applicant: Actor::applicant(applicant),
            intake: Actor::clerk(&format!("clerk-{intake}"), &intake),
            delivery: Actor::clerk(&format!("clerk-{delivery}"), &delivery),
            reviewers,
        })
    }

    /// The reviewer of a department who signs review level `level`.
    pub fn reviewer_at(&self, department: DeptIx, level: usize) -> &Actor {
        &self.reviewers[level.min(self.reviewers.len() - 1)][department.index()]
    }
}

/// Why a case could not be driven to its close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveError {
    /// The hall has no window of a class the lifecycle needs.
    NoWindow(WindowClass),
    /// The engine has no such case.
    UnknownCase(CaseId),
    /// The engine refused a command.
    Refused {
        /// The command.
        command: &'static str,
        /// The engine's reason.
        rejection: Rejection,
    },
    /// The case stopped in a state that approvals, delivery and rating cannot leave (for
    /// example, waiting for a tolerated material).
    Stuck {
        /// The case.
        case: CaseId,
        /// Its state.
        state: CaseState,
    },
    /// The clock left the years the calendar covers.
    Calendar(CalendarError),
}

impl fmt::Display for DriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::NoWindow(class) => write!(f, "the definition has no {class:?} window; add one to `windows`"),
            DriveError::UnknownCase(case) => write!(f, "the engine has no case {case}"),
            DriveError::Refused { command, rejection } => {
                write!(f, "the engine refused {command}: {rejection}")
            }
            DriveError::Stuck { case, state } => write!(
                f,
                "case {case} is {}; only a case in approval with no outstanding material can be driven to its close",
                state.name()
            ),
            DriveError::Calendar(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DriveError {}

impl From<CalendarError> for DriveError {
    fn from(e: CalendarError) -> DriveError {
        DriveError::Calendar(e)
    }
}

/// An application handed in at a window with every material of the bundle's merged list
/// (一套材料) except those the hall fetches by data sharing (`shared_source`, 免提交).
pub fn complete_submission(
    def: &Definition,
    bundle: BundleIx,
    applicant: Applicant,
    answers: BTreeMap<String, String>,
) -> Submission {
    let b = def.bundle(bundle);
    let materials = b
        .materials
        .iter()
        .map(|&(m, _)| def.material(m))
        .filter(|m| m.shared_source.is_none())
        .map(|m| m.id.clone())
        .collect();
    Submission {
        bundle: b.id.clone(),
        applicant,
        channel: Channel::Window,
        materials,
        answers: answers.into(),
        green_channel: false,
    }
}

/// Moves `now` on by `step_minutes` working minutes on the definition's calendar (0 leaves it)
/// and fires every engine timer due by then, appending the events to `out`.
pub fn tick(
    engine: &mut Engine,
    now: &mut Instant,
    step_minutes: i64,
    out: &mut Vec<Recorded>,
) -> Result<(), DriveError> {
    if step_minutes > 0 {
        *now = engine.definition().calendar().advance_working_minutes(*now, step_minutes)?;
        engine.advance_into(*now, out);
    }
    Ok(())
}

/// Executes one command at `now`, naming the command when the engine refuses it.
pub fn run(
    engine: &mut Engine,
    case: CaseId,
    command: &Command,
    now: Instant,
    actor: &Actor,
    out: &mut Vec<Recorded>,
) -> Result<(), DriveError> {
    engine
        .execute_into(case, command, &Ctx { now, actor }, out)
        .map_err(|rejection| DriveError::Refused { command: command.name(), rejection })
}

/// Drives an accepted case to `Closed`: round by round, every ready task is claimed by a
/// reviewer of its (first) deciding department and, one tick later, approved by every deciding
/// department (an item with review levels goes round once per level, each signed by the
/// level's own reviewer); once decided, the results are delivered at the delivery window and the
/// applicant rates five stars. The clock ticks `step_minutes` working minutes before each
/// round of claims, each round of approvals, the delivery and the rating. Every recorded
/// event is appended to `out`.
pub fn drive_to_close(
    engine: &mut Engine,
    case: CaseId,
    now: &mut Instant,
    step_minutes: i64,
    staff: &Staff,
    out: &mut Vec<Recorded>,
) -> Result<(), DriveError> {
    let def = Arc::clone(engine.definition());
    let mut ready: Vec<(Id, ItemIx, usize)> = Vec::new();
    // Each round signs at least one review level of a task, so there are at most as many rounds
    // as levels of all tasks; the extra round sees the decided case.
    let rounds_max = engine
        .case(case)
        .ok_or(DriveError::UnknownCase(case))?
        .tasks()
        .iter()
        .map(|t| def.item(t.item()).levels.len())
        .sum::<usize>()
        + 1;
    for _ in 0..rounds_max {
        let c = engine.case(case).ok_or(DriveError::UnknownCase(case))?;
        if c.state() != CaseState::InApproval {
            break;
        }
        ready.clear();
        ready.extend(
            c.tasks()
                .iter()
                .filter(|t| t.state() == TaskState::Ready)
                .map(|t| (t.item_id().clone(), t.item(), t.level())),
        );
        if ready.is_empty() {
            return Err(DriveError::Stuck { case, state: c.state() });
        }
        tick(engine, now, step_minutes, out)?;
        for (item, ix, level) in &ready {
            let first = def.item(*ix).decided_by.departments()[0];
            let claim = Command::Task { item: item.clone(), action: TaskCommand::Claim };
            run(engine, case, &claim, *now, staff.reviewer_at(first, *level), out)?;
        }
        tick(engine, now, step_minutes, out)?;
        for (item, ix, level) in &ready {
            for &department in def.item(*ix).decided_by.approving() {
                let approve = Command::Task { item: item.clone(), action: TaskCommand::Approve };
                run(engine, case, &approve, *now, staff.reviewer_at(department, *level), out)?;
            }
        }
    }
    let state = engine.case(case).ok_or(DriveError::UnknownCase(case))?.state();
    if state != CaseState::ReadyForDelivery {
        return Err(DriveError::Stuck { case, state });
    }
    tick(engine, now, step_minutes, out)?;
    run(engine, case, &Command::Deliver { method: DeliveryMethod::Window }, *now, &staff.delivery, out)?;
    tick(engine, now, step_minutes, out)?;
    run(engine, case, &Command::Rate { stars: 5 }, *now, &staff.applicant, out)?;
    let state = engine.case(case).ok_or(DriveError::UnknownCase(case))?.state();
    if state != CaseState::Closed {
        return Err(DriveError::Stuck { case, state });
    }
    Ok(())
}
