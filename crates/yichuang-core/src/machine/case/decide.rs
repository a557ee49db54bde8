//! `decide`: a command into the events it records, or why not. Pure.
//!
//! Every command goes through the same three doors, in this order: **who** (the actor's role
//! for this command: 申请人本人, 受审分离, 统一出件 …), **when** (the spec: is the command
//! declared in the case's state), **what** (the command's own guard: materials complete, a
//! reason given, a cure date in range …). A task command passes the case's spec
//! (`InApproval`) and then the task machine's own three doors.

use crate::actor::{Actor, Ctx, Role};
use crate::definition::{Definition, Id, MaterialNeed, WindowClass};
use crate::event::{Event, Events};
use crate::machine::spec;
use crate::machine::task::{TaskCommand, TaskState};
use crate::rejection::{Allowed, Rejection, Subject};
use crate::time::{Date, Instant};

use super::{Case, CaseMachine, Command, CommandKind, Submission};

impl Case {
    /// Decides a command into `out`: the primary events, or the rejection (nothing written).
    /// The cascade that follows is recorded by `execute`.
    pub(crate) fn decide(
        &self,
        def: &Definition,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut Events,
    ) -> Result<(), Rejection> {
        let kind = command.kind();
        self.authorize(def, kind, ctx.actor)?;
        spec::admit::<CaseMachine>(self.state, kind)
            .map_err(|r| Rejection::invalid_state(Subject::Case, command.name(), r))?;
        match command {
            Command::Consult { .. } => unreachable!("the spec declares consult nowhere: it opens a case"),
            Command::Submit(s) => {
                self.check_submit(def, s)?;
                out.push(Event::Submitted {
                    bundle: s.bundle.clone(),
                    applicant: s.applicant.clone(),
                    channel: s.channel,
                    materials: s.materials.clone(),
                    answers: s.answers.clone(),
                    green_channel: s.green_channel,
                    // A consultation opened the case and named its version.
                    definition: None,
                });
            }
            Command::Accept
            | Command::AcceptTolerating { .. }
            | Command::RequestCorrection
            | Command::Reject { .. } => self.decide_intake(def, command, ctx, out)?,
            Command::Resubmit { materials } => {
                Case::material_ids(def, materials)?;
                out.push(Event::Resubmitted { materials: materials.clone() });
            }
            Command::Supply { material } => {
                if !self.outstanding.contains(material) {
                    return Err(Rejection::Unknown {
                        what: "outstanding tolerated material",
                        id: material.to_string(),
                        accepted: self.outstanding.clone(),
                    });
                }
                out.push(Event::MaterialSupplied { material: material.clone() });
            }
            Command::Task { item, action } => {
                let Some(pos) = self.task_pos(item) else {
                    return Err(Rejection::Unknown {
                        what: "item of this case",
                        id: item.to_string(),
                        accepted: self.tasks.iter().map(|t| t.item_id.clone()).collect(),
                    });
                };
                if let TaskCommand::ProvideSupplement = action {
                    // 补充材料 come from the applicant, or a window clerk on their behalf.
                    self.applicant_or_clerk(def, ctx.actor, CommandKind::Task, WindowClass::Intake)?;
                }
                self.tasks[pos].decide(def, action, ctx, out)?;
                if let TaskCommand::Recall = action
                    && self.tasks[pos].state == TaskState::Approved
                {
                    self.check_recall(def, pos)?;
                }
            }
            Command::Deliver { method } => out.push(Event::Delivered { method: *method }),
            Command::Rate { stars } => {
                if self.rating.is_some() {
                    return Err(Rejection::AlreadyRated);
                }
                if !(1..=5).contains(stars) {
                    return Err(Rejection::OutOfRange {
                        what: "rating",
                        value: stars.to_string(),
                        accepted: "1–5 stars (≤ 2 is a bad rating, 差评)",
                    });
                }
                out.push(Event::Rated { stars: *stars, by_default: false });
            }
            Command::Withdraw => out.push(Event::Withdrawn),
        }
        Ok(())
    }

    /// The guard of a recall (撤回) of the approval of the task at `pos`: no task that its
    /// approval let start has been claimed (a ready one that nobody claimed goes back to
    /// waiting, as the cascade after the recall).
    fn check_recall(&self, def: &Definition, pos: usize) -> Result<(), Rejection> {
        for m in self.dependents_of(def, pos) {
            let dependent = &self.tasks[m];
            let claimed = match dependent.state {
                TaskState::Waiting | TaskState::NotApplicable | TaskState::Cancelled => false,
                TaskState::Ready => dependent.claimed,
                _ => true,
            };
            if claimed {
                return Err(Rejection::RecallAfterClaim {
                    item: self.tasks[pos].item_id.clone(),
                    dependent: dependent.item_id.clone(),
                    dependent_state: dependent.state.name(),
                });
            }
        }
        Ok(())
    }

    /// Who may issue a command on this case (a task command: the task machine decides).
    pub(crate) fn authorize(&self, def: &Definition, kind: CommandKind, actor: &Actor) -> Result<(), Rejection> {
        use CommandKind::*;
        match kind {
            Submit | Resubmit | Supply | Withdraw => self.applicant_or_clerk(def, actor, kind, WindowClass::Intake),
            Accept | AcceptTolerating | RequestCorrection | Reject => Case::clerk_of(
                def,
                actor,
                kind,
                WindowClass::Intake,
                "综合受理 (only intake windows accept, correct or reject)",
            ),
            Deliver => Case::clerk_of(
                def,
                actor,
                kind,
                WindowClass::Delivery,
                "统一出件 (only the unified delivery window delivers)",
            ),
            Rate => self.applicant_or_clerk(def, actor, kind, WindowClass::Delivery),
            Migrate if actor.role == crate::actor::Role::Admin => Ok(()),
            Migrate => Err(Rejection::RoleNotAllowed {
                rule: "版本迁移 (definitions and migrations are the administrator's)",
                actor: actor.clone(),
                command: kind.name(),
                allowed: crate::rejection::Allowed::Administrator,
            }),
            Consult | Task => Ok(()),
        }
    }

    /// Checks that the actor is the applicant or a clerk of a window of `class`.
    fn applicant_or_clerk(
        &self,
        def: &Definition,
        actor: &Actor,
        kind: CommandKind,
        class: WindowClass,
    ) -> Result<(), Rejection> {
        match &actor.role {
            Role::Applicant if actor.id == self.applicant.id => Ok(()),
            Role::Applicant => Err(Rejection::NotTheApplicant { actor: actor.clone() }),
            Role::Clerk { window } if def.window(window).is_some_and(|w| w.class == class) => Ok(()),
            _ => Err(Rejection::RoleNotAllowed {
                rule: "申请人本人 (only the applicant, or a window clerk on their behalf)",
                actor: actor.clone(),
                command: kind.name(),
                allowed: Allowed::ApplicantOrClerk(class),
            }),
        }
    }

    /// Checks that the actor is a clerk of a window of `class`.
    fn clerk_of(
        def: &Definition,
        actor: &Actor,
        kind: CommandKind,
        class: WindowClass,
        rule: &'static str,
    ) -> Result<(), Rejection> {
        match &actor.role {
            Role::Clerk { window } if def.window(window).is_some_and(|w| w.class == class) => Ok(()),
            _ => Err(Rejection::RoleNotAllowed {
                rule,
                actor: actor.clone(),
                command: kind.name(),
                allowed: Allowed::ClerkOf(class),
            }),
        }
    }

    fn decide_intake(
        &self,
        def: &Definition,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut Events,
    ) -> Result<(), Rejection> {
        let missing = self.missing(def);
        let ids = |want: &dyn Fn(MaterialNeed) -> bool| -> Vec<Id> {
            missing.iter().filter(|(_, n)| want(*n)).map(|(m, _)| def.material(*m).id.clone()).collect()
        };
        match command {
            Command::Accept => {
                if !missing.is_empty() {
                    return Err(Rejection::MaterialsIncomplete { missing: ids(&|_| true) });
                }
                self.check_clock_starts(def, self.acceptance_date(ctx))?;
                out.push(self.accepted(def, self.acceptance_date(ctx), false, Vec::new(), None));
            }
            Command::AcceptTolerating { cure_due } => {
                let required = ids(&|n| n == MaterialNeed::Required);
                if !required.is_empty() {
                    return Err(Rejection::NotTolerable { missing: required });
                }
                if missing.is_empty() {
                    return Err(Rejection::NothingToTolerate);
                }
                if self.applicant.credit_blocked {
                    return Err(Rejection::CreditBlocked { applicant: self.applicant.id.clone() });
                }
                let cal = def.calendar();
                let latest = self.latest_cure_date(def, ctx.now.date())?;
                if *cure_due > latest || *cure_due < ctx.now.date() {
                    return Err(Rejection::CureTooLate { due: *cure_due, latest, not_working_day: false });
                }
                if !cal.is_working_day(*cure_due)? {
                    return Err(Rejection::CureTooLate { due: *cure_due, latest, not_working_day: true });
                }
                let due = cal.office_close(*cure_due);
                self.check_clock_starts(def, self.acceptance_date(ctx))?;
                out.push(self.accepted(def, self.acceptance_date(ctx), false, ids(&|_| true), Some(due)));
            }
            Command::RequestCorrection => {
                if missing.is_empty() {
                    return Err(Rejection::NothingMissing);
                }
                out.push(Event::CorrectionRequested { missing: ids(&|_| true) });
            }
            Command::Reject { reason } => {
                if reason.trim().is_empty() {
                    return Err(Rejection::ReasonRequired {
                        rule: "不予受理须说明理由 (行政许可法 Art. 32)",
                        what: "reason",
                    });
                }
                out.push(Event::Rejected { reason: reason.clone() });
            }
            _ => unreachable!("decide_intake is called for intake commands only"),
        }
        Ok(())
    }

    /// The guard of `Submit` on a consulted case: the same bundle and applicant.
    pub(super) fn check_submit(&self, def: &Definition, s: &Submission) -> Result<(), Rejection> {
        let bundle = Case::check_submission(def, s)?;
        if bundle != self.bundle || s.applicant.id != self.applicant.id {
            return Err(Rejection::OutOfRange {
                what: "submission",
                value: format!("{} by {}", s.bundle, s.applicant.id),
                accepted: "the bundle and applicant of the consultation",
            });
        }
        Ok(())
    }

    /// The case's SLA clock as acceptance as of `as_of` would start it (see the fold of
    /// `Accepted`), refused with the calendar's rejection when the calendar does not reach the
    /// promised deadline: a case is never accepted without a deadline.
    fn check_clock_starts(&self, def: &Definition, as_of: Date) -> Result<(), Rejection> {
        let cal = def.calendar();
        // The clock starts at the close of `as_of` and ends at the close of its `days`-th
        // working day after it (of the next working day for 0 days, 即办件): that day must be
        // in the calendar. Two O(1) lookups instead of starting a clock (this runs on every
        // acceptance).
        match def.bundle(self.bundle).promised_days {
            0 => cal.next_working_day(as_of).map(drop)?,
            days => cal.add_working_days(as_of, days).map(drop)?,
        }
        Ok(())
    }

    /// Where the case's clock starts for an acceptance as of `as_of`: the close of that day.
    pub(super) fn clock_base(def: &Definition, as_of: Date) -> Instant {
        def.calendar().office_close(as_of).max(as_of.start())
    }

    /// The acceptance date (受理日期): the day the last material arrived (after a correction, the
    /// day of the resubmission), which is the day of the decision when taken on the spot.
    fn acceptance_date(&self, ctx: &Ctx<'_>) -> Date {
        self.received_at.map_or(ctx.now.date(), |r| r.date())
    }

    /// The `Accepted` event, with the items whose condition holds.
    pub(super) fn accepted(
        &self,
        def: &Definition,
        as_of: Date,
        deemed: bool,
        tolerated: Vec<Id>,
        cure_due: Option<Instant>,
    ) -> Event {
        let bundle = def.bundle(self.bundle);
        let applicable = bundle
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| self.applicable & (1 << i) != 0)
            .map(|(_, m)| def.item(m.item).id.clone())
            .collect();
        Event::Accepted { as_of, deemed, tolerated, cure_due, applicable }
    }
}
