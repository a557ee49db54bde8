//! Ticket work (评价 → 反馈 → 整改 → 监督): the responsible department's staff and the
//! supervisor working each ticket the engine opens, step by step.

use yichuang_core::{Actor, Ctx, FailKind, TicketCommand, TicketId, TicketState};

use super::facts::Fact;
use super::{Fail, K_TICKETS, Replication, TicketRec, What};
use crate::random::{Stream, derive};

impl<K: super::Keep> Replication<'_, K> {
    #[inline(never)]
    pub(super) fn note_ticket(&mut self, ticket: TicketId, fact: &Fact) -> Result<(), Fail> {
        match fact {
            Fact::TicketOpened(opened) => {
                let (kind, department) = &**opened;
                let kind = *kind;
                match self.result.tickets_opened.iter_mut().find(|(k, _)| *k == kind) {
                    Some(e) => e.1 += 1,
                    None => self.result.tickets_opened.push((kind, 1)),
                }
                if let Some(t) = &self.sc.spec.tickets {
                    self.tickets
                        .insert(ticket.0, TicketRec { department: department.clone(), opened: self.now, step: 0 });
                    let d = t.verify.sample(&mut self.ticket_stream(ticket.0, 0));
                    let at = self.after_work(d)?;
                    self.schedule(at, What::TicketStep { ticket: ticket.0 });
                }
            }
            Fact::TicketClosed => {
                self.result.tickets_closed += 1;
                if let Some(t) = self.tickets.remove(&ticket.0) {
                    let index = self.result.ticket_closure.count;
                    self.result.ticket_closure.record(index, self.now - t.opened);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn ticket_stream(&self, ticket: u64, step: u32) -> Stream {
        Stream::new(derive(derive(derive(self.rep_key, K_TICKETS), ticket), u64::from(step)))
    }

    fn after_work(&self, minutes: f64) -> Result<f64, Fail> {
        let t =
            self.clock.time_of_work(self.def.calendar(), self.now_w + minutes).map_err(|e| self.calendar_error(e))?;
        Ok(t.max(self.now))
    }

    /// The responsible department and the supervisor work one step of a ticket.
    #[inline(never)]
    pub(super) fn ticket_step(&mut self, number: u64) -> Result<(), Fail> {
        let Some(spec) = self.sc.spec.tickets.clone() else { return Ok(()) };
        let Some(rec) = self.tickets.get_mut(&number) else { return Ok(()) };
        rec.step += 1;
        let (step, department) = (rec.step, rec.department.clone());
        let id = TicketId(number);
        let Some(state) = self.engine.ticket(id).map(|t| t.state()) else { return Ok(()) };
        let mut s = self.ticket_stream(number, step);
        let staff = Actor::reviewer("ticket-staff", &department);
        let today = self.now_i.date();
        let cal = self.def.calendar();
        let (command, next) = match state {
            TicketState::Verifying => {
                let days = self.def.policies().ticket_rectify_max_days.min(5);
                let deadline = cal.add_working_days(today, days).unwrap_or(today);
                (TicketCommand::Ledger { deadline }, Some(&spec.rectify))
            }
            TicketState::Rectifying => (
                TicketCommand::SubmitRectification {
                    measures: "已组织窗口人员培训并优化流程".into(),
                    evidence: "培训记录、流程图".into(),
                },
                Some(&spec.supervise),
            ),
            TicketState::AwaitingSupervision if s.chance(spec.failed_rectification) => {
                (TicketCommand::Fail { kind: FailKind::Superficial }, Some(&spec.rectify))
            }
            TicketState::AwaitingSupervision => (TicketCommand::Pass, Some(&spec.feed_back)),
            TicketState::FeedingBack => {
                (TicketCommand::FeedBack { message: "已整改，感谢监督".into() }, Some(&spec.follow_up))
            }
            TicketState::FollowUp => {
                let satisfied = !s.chance(spec.unsatisfied);
                (TicketCommand::FollowUp { satisfied }, (!satisfied).then_some(&spec.rectify))
            }
            TicketState::Closed => return Ok(()),
        };
        let supervision =
            matches!(command, TicketCommand::Pass | TicketCommand::Fail { .. } | TicketCommand::FollowUp { .. });
        let actor = if supervision {
            match &self.supervisor {
                Some(a) => a.clone(),
                None => {
                    self.abandon_ticket(number);
                    return Ok(());
                }
            }
        } else {
            staff
        };
        let ctx = Ctx { now: self.now_i, actor: &actor };
        self.timers_touched = true;
        match self.engine.execute_ticket(id, &command, &ctx) {
            Ok(events) => {
                for rec in events {
                    let fact = self.out.counts.digest(rec.event);
                    self.note(rec.stream, &fact, None)?;
                }
                if let Some(d) = next {
                    let at = self.after_work(d.sample(&mut s))?;
                    self.schedule(at, What::TicketStep { ticket: number });
                }
            }
            Err(_) => self.abandon_ticket(number),
        }
        Ok(())
    }

    fn abandon_ticket(&mut self, number: u64) {
        if self.tickets.remove(&number).is_some() {
            self.result.tickets_abandoned += 1;
        }
    }
}
