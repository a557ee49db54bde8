//! `execute` and the cascade: a command decided, its events folded, then everything that
//! follows from the new state without any command (a task becoming ready or cancelled, the
//! case decided) recorded as events too, so that replay never re-derives anything.

use crate::actor::{Actor, Ctx};
use crate::definition::{Definition, Id, MaterialNeed, MilestoneRule};
use crate::event::{Event, EventSink, Events, Outcome};
use crate::machine::spec;
use crate::machine::task::{Task, TaskCascade, TaskMachine, TaskState};
use crate::rejection::Rejection;
use crate::time::Instant;

use super::{Case, CaseCascade, CaseMachine, CaseState, Command};

/// A stage gate (工改 stages): whether a member of a later stage may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// The stage before is done (or there is none).
    Open,
    /// The stage before is still running.
    Closed,
    /// The stage before failed: the named stage.
    Failed(Id),
}

impl Case {
    /// Executes a command in place: decides, folds the events and their cascade, appending
    /// everything recorded to `out`; on rejection the state is untouched and nothing is
    /// written. Returns whether the case's timers may have moved: a claim (the most frequent
    /// command) records nothing that starts, stops or moves a timer.
    pub(crate) fn execute<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut S,
    ) -> Result<bool, Rejection> {
        let mut events = Events::new();
        self.decide(def, command, ctx, &mut events)?;
        let timers_may_move = !events.iter().all(|e| matches!(e, Event::TaskClaimed { .. }));
        // Supplying the last tolerated material during a suspension resumes the case.
        let resumes = matches!(command, Command::Supply { .. })
            && self.state == CaseState::Suspended
            && self.outstanding.len() == 1;
        let cascades = resumes || events.iter().any(may_cascade);
        let from = self.state;
        let task = match command {
            Command::Task { item, action } if spec::REPORTS => {
                self.task_pos(item).map(|p| (p, self.tasks[p].state, action.kind()))
            }
            _ => None,
        };
        for event in events.drain(..) {
            self.record(def, event, ctx.now, ctx.actor, out);
        }
        if resumes {
            self.record(def, Event::CaseResumed, ctx.now, ctx.actor, out);
        }
        if spec::REPORTS
            && let Ok(row) = spec::admit::<CaseMachine>(from, command.kind())
        {
            spec::taken::<CaseMachine>(row, self.state);
        }
        if let Some((p, task_from, kind)) = task
            && let Ok(row) = spec::admit::<TaskMachine>(task_from, kind)
        {
            spec::taken::<TaskMachine>(row, self.tasks[p].state);
        }
        if cascades {
            self.settle(def, ctx.now, ctx.actor, out);
        } else {
            // The case was settled before the command (the engine settles after every step)
            // and nothing the command recorded can let the cascade continue.
            #[cfg(feature = "fault-injection")]
            let stranded = crate::fault::active(crate::fault::Fault::ReturnStrandsTask);
            #[cfg(not(feature = "fault-injection"))]
            let stranded = false;
            // The stranded task's readiness is what the broken return gets wrong on purpose:
            // the invariants, not this assertion, are to catch it.
            debug_assert!(stranded || self.cascade(def).is_none(), "{command:?} left the case unsettled");
        }
        Ok(timers_may_move)
    }

    /// Records the opening event of a fresh case (consult or submit) and what follows from it.
    pub(crate) fn open<S: EventSink + ?Sized>(&mut self, def: &Definition, event: Event, ctx: &Ctx<'_>, out: &mut S) {
        let submitted = matches!(event, Event::Submitted { .. });
        self.record(def, event, ctx.now, ctx.actor, out);
        if spec::REPORTS
            && submitted
            && let Ok(row) = spec::admit::<CaseMachine>(CaseState::Consulting, super::CommandKind::Submit)
        {
            spec::taken::<CaseMachine>(row, self.state);
        }
    }

    /// Folds the cascade that follows from the current state, recording each step.
    pub(crate) fn settle<S: EventSink + ?Sized>(&mut self, def: &Definition, now: Instant, actor: &Actor, out: &mut S) {
        // Each cascade step makes one task terminal or ready, or decides the case: at most
        // 2 × tasks + 1 steps.
        for _ in 0..=2 * self.tasks.len() + 1 {
            let Some(event) = self.cascade(def) else {
                return;
            };
            self.record_cascade(def, event, now, actor, out);
        }
        debug_assert!(self.cascade(def).is_none(), "cascade did not settle");
    }

    /// Records one cascade step and reports it to the spec.
    fn record_cascade<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        event: Event,
        now: Instant,
        actor: &Actor,
        out: &mut S,
    ) {
        let task = match &event {
            _ if !spec::REPORTS => None,
            Event::TaskReady { item } => Some((item.clone(), TaskCascade::Ready)),
            Event::TaskCancelled { item, .. } => Some((item.clone(), TaskCascade::PredecessorFailed)),
            Event::TaskUnready { item, .. } => Some((item.clone(), TaskCascade::PredecessorRecalled)),
            _ => None,
        };
        let from = self.state;
        self.record(def, event, now, actor, out);
        if !spec::REPORTS {
            return;
        }
        match task {
            Some((item, cascade)) => {
                let from =
                    if cascade == TaskCascade::PredecessorRecalled { TaskState::Ready } else { TaskState::Waiting };
                if let Some(p) = self.task_pos(&item) {
                    spec::cascade_taken::<TaskMachine>(from, cascade, self.tasks[p].state);
                }
            }
            None => spec::cascade_taken::<CaseMachine>(from, CaseCascade::Decided, self.state),
        }
    }

    /// Folds an event the engine produced and writes it to `out`. The engine never produces an
    /// event its own fold refuses: that would be a programmer error, so it panics.
    pub(super) fn record<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        event: Event,
        at: Instant,
        by: &Actor,
        out: &mut S,
    ) {
        if let Err(e) = self.fold(def, self.version + 1, at, by, &event) {
            panic!("the engine produced an illegal event: {e}");
        }
        out.record(self.id.into(), self.version, at, by, event);
    }

    /// The next event that follows from the current state without any command: a task becoming
    /// ready or cancelled, the case being decided. `None` when the state is settled.
    pub(crate) fn cascade(&self, def: &Definition) -> Option<Event> {
        if self.state != CaseState::InApproval {
            return None;
        }
        let bundle = def.bundle(self.bundle);
        // A recalled approval (撤回): a ready task that waited for it waits again (the recall's
        // guard refused if one had been claimed).
        #[cfg(feature = "fault-injection")]
        let unready = !crate::fault::active(crate::fault::Fault::RecallLeavesDependentReady)
            && !crate::fault::active(crate::fault::Fault::SkipPredecessorCheck);
        #[cfg(not(feature = "fault-injection"))]
        let unready = true;
        if unready && let Some(event) = self.unready(def) {
            return Some(event);
        }
        for &m in &bundle.topo {
            let task = &self.tasks[m];
            if task.state != TaskState::Waiting {
                continue;
            }
            if let Some(f) = task.waits_for.iter().find(|&p| self.tasks[p].state.is_failed()) {
                return Some(Event::TaskCancelled {
                    item: task.item_id.clone(),
                    because: self.tasks[f].item_id.clone(),
                });
            }
            let gate = self.stage_gate(def, m);
            if let Gate::Failed(because) = gate {
                return Some(Event::TaskCancelled { item: task.item_id.clone(), because });
            }
            let preds_done = task.waits_for.iter().all(|p| self.tasks[p].state == TaskState::Approved);
            #[cfg(feature = "fault-injection")]
            let preds_done = preds_done || crate::fault::active(crate::fault::Fault::SkipPredecessorCheck);
            if preds_done && gate == Gate::Open && !self.blocked_by_cure(def, m) {
                return Some(Event::TaskReady { item: task.item_id.clone() });
            }
        }
        if self.tasks.iter().all(|t| t.state.is_terminal()) {
            let applicable = self.tasks.iter().filter(|t| t.state != TaskState::NotApplicable).count();
            let approved = self.tasks.iter().filter(|t| t.state == TaskState::Approved).count();
            let outcome = match approved {
                0 => Outcome::Denied,
                n if n == applicable => Outcome::Approved,
                _ => Outcome::PartiallyApproved,
            };
            let awaiting_cure = outcome != Outcome::Denied && self.cure_holds_results(def);
            return Some(Event::CaseDecided { outcome, awaiting_cure });
        }
        None
    }

    /// The first ready task (in dependency order) whose start no longer holds — a predecessor
    /// not approved, or its stage's gate closed — as the event that sends it back to waiting.
    /// Only a recall (撤回) takes an approval back, so only a recall leads here.
    fn unready(&self, def: &Definition) -> Option<Event> {
        for &m in &def.bundle(self.bundle).topo {
            let task = &self.tasks[m];
            if task.state != TaskState::Ready {
                continue;
            }
            if let Some(p) = task.waits_for.iter().find(|&p| self.tasks[p].state != TaskState::Approved) {
                return Some(Event::TaskUnready { item: task.item_id.clone(), because: self.tasks[p].item_id.clone() });
            }
            if self.stage_gate(def, m) == Gate::Closed {
                let bundle = def.bundle(self.bundle);
                let k = bundle.members[m].stage.unwrap_or(1);
                let because = Id::new(&format!("stage:{}", bundle.stages[k.saturating_sub(1)].id));
                return Some(Event::TaskUnready { item: task.item_id.clone(), because });
            }
        }
        None
    }

    /// The dependents of the task at `p` that its approval let start: started tasks that wait
    /// for it, or whose stage gate it holds open alone. Their states tell whether a recall
    /// (撤回) of that approval is still allowed.
    pub(crate) fn dependents_of(&self, def: &Definition, p: usize) -> Vec<usize> {
        let bundle = def.bundle(self.bundle);
        (0..self.tasks.len())
            .filter(|&m| m != p)
            .filter(|&m| {
                let task = &self.tasks[m];
                if task.waits_for.contains(p) {
                    return true;
                }
                let Some(k) = bundle.members[m].stage.filter(|&k| k > 0) else {
                    return false;
                };
                let previous = &bundle.stages[k - 1];
                previous.milestones.contains(&p)
                    && match previous.rule {
                        MilestoneRule::All => true,
                        MilestoneRule::Any => {
                            !previous.milestones.iter().any(|&q| q != p && self.tasks[q].state == TaskState::Approved)
                        }
                    }
            })
            .collect()
    }

    /// A task whose item needs (Required or Tolerable) an outstanding tolerated material and may
    /// not issue before cure does not start before the material is supplied.
    fn blocked_by_cure(&self, def: &Definition, member: usize) -> bool {
        !self.outstanding.is_empty() && self.holds_for_cure(def, &self.tasks[member])
    }

    /// A Required material (outstanding only after a deemed acceptance) always holds the item;
    /// a Tolerable one holds it unless the item may issue before cure.
    fn holds_for_cure(&self, def: &Definition, task: &Task) -> bool {
        let item = def.item(task.item);
        self.outstanding.iter().any(|m| match def.material_ix(m).and_then(|ix| item.need_of(ix)) {
            Some(MaterialNeed::Required) => true,
            Some(MaterialNeed::Tolerable) => !item.issue_before_cure,
            _ => false,
        })
    }

    /// Whether the results wait for the cure (待补齐): the applicant's written commitment
    /// (容缺承诺书) covers the whole case and results leave together (一并出件), so they wait
    /// when any applicable item needing an outstanding material may not issue before cure.
    fn cure_holds_results(&self, def: &Definition) -> bool {
        self.tasks.iter().filter(|t| t.state != TaskState::NotApplicable).any(|t| self.holds_for_cure(def, t))
    }

    /// The stage gate of the member at `member` (工改 stages): open when the stage before is
    /// done by its milestone rule, failed when it can no longer be. The simulator's KPI
    /// attribution and the checker ask this rather than restate the rule.
    pub fn stage_gate(&self, def: &Definition, member: usize) -> Gate {
        let bundle = def.bundle(self.bundle);
        let Some(k) = bundle.members[member].stage.filter(|&k| k > 0) else {
            return Gate::Open;
        };
        let previous = &bundle.stages[k - 1];
        let states: Vec<TaskState> = previous.milestones.iter().map(|&p| self.tasks[p].state).collect();
        let approved = states.iter().filter(|s| **s == TaskState::Approved).count();
        let failed = states.iter().position(|s| s.is_failed());
        let because = || Id::new(&format!("stage:{}", previous.id));
        match previous.rule {
            MilestoneRule::All if approved == states.len() => Gate::Open,
            MilestoneRule::All if failed.is_some() => Gate::Failed(because()),
            MilestoneRule::Any if approved > 0 => Gate::Open,
            MilestoneRule::Any if states.iter().all(|s| s.is_failed()) => Gate::Failed(because()),
            _ => Gate::Closed,
        }
    }
}

/// Whether folding `event` can let the cascade continue on a settled case: tasks created, a
/// task finished or failed (its successors, a stage, the decision), a tolerated material
/// arrived (the cure), the case resumed. After any other event a settled case stays settled;
/// the debug assertion in [`Case::execute`] and the property tests hold this list to the
/// cascade itself.
fn may_cascade(event: &Event) -> bool {
    #[cfg(feature = "fault-injection")]
    if matches!(event, Event::TaskApproved { .. }) && crate::fault::active(crate::fault::Fault::ApprovalDoesNotCascade)
    {
        return false;
    }
    matches!(
        event,
        Event::Accepted { .. }
            | Event::TaskApproved { .. }
            | Event::TaskDenied { .. }
            | Event::TaskCancelled { .. }
            | Event::TaskLapsed { .. }
            | Event::SimulationConverted { .. }
            | Event::TaskRecalled { .. }
            | Event::SupplementLapsed { .. }
            | Event::MaterialSupplied { .. }
            | Event::CaseResumed
    )
}
