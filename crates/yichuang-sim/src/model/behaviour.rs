//! What the simulated clerks, reviewers and applicants do when their work ends: the window
//! visits (consult, intake with its accept / 容缺 / 补正 decision, supply, delivery with the
//! rating and a complaint) and the reviews (approve, deny, countersign, special procedure).

use std::collections::BTreeMap;
use std::rc::Rc;

use yichuang_core::definition::MaterialIx;
use yichuang_core::{
    CaseId, CaseState, Channel, Command, ComplaintTarget, Ctx, DeliveryMethod, Rejection, Submission, TaskCommand,
    TaskState, TicketSource,
};

use super::queues::Job;
use super::{
    ActorRef, DELIVERY, Fail, INTAKE, NO_CASE, NO_SLOT, P_ANSWER, P_COMPLAINT, P_DENY, P_RATE, P_RETURN, P_SPECIAL,
    P_SPECIAL_TIME, P_SUPPLY, Replication, WINDOW_STATIONS, What,
};
use crate::scenario::OnTime;

impl<K: super::Keep> Replication<'_, K> {
    pub(super) fn window_done(&mut self, station: usize, server: u32, slot: u32) -> Result<(), Fail> {
        let c = &mut self.cases[slot as usize];
        if station < WINDOW_STATIONS {
            c.spans[station].1 = self.now;
        }
        match station {
            0 => self.consulted(slot, server),
            INTAKE => self.intake(slot, server),
            _ => self.delivered(slot, server),
        }
    }

    fn consulted(&mut self, slot: u32, server: u32) -> Result<(), Fail> {
        let c = &self.cases[slot as usize];
        let stream = &self.streams[c.stream as usize];
        let applicant = stream.applicant[usize::from(c.blocked)].clone();
        let command = Command::Consult { bundle: self.sc.arrivals[c.stream as usize].bundle_id.clone(), applicant };
        self.open(slot, command, server, 0)?;
        self.enqueue(INTAKE, slot, 0);
        Ok(())
    }

    fn open(&mut self, slot: u32, command: Command, server: u32, station: usize) -> Result<(), Fail> {
        let actor = &self.stations[station].actors[server as usize];
        let ctx = Ctx { now: self.now_i, actor };
        let name = command.name();
        self.timers_touched = true;
        match self.engine.open_into(command, &ctx, &mut self.out) {
            Ok(id) => {
                self.cases[slot as usize].id = id.0;
                let n = id.0 as usize;
                if n >= self.by_id.len() {
                    self.by_id.resize(n + 1, NO_SLOT);
                }
                self.by_id[n] = slot;
                self.after_command(Ok(()), slot, name)
            }
            Err(rejection) => {
                self.out.facts.clear();
                Err(self.refused(slot, name, &rejection))
            }
        }
    }

    /// The answer (choice index) case `slot` gives to question `j` of its stream.
    fn answer_choice(&self, slot: u32, j: usize, choices: &[(String, f64)]) -> usize {
        let u = self.draw(slot, P_ANSWER, j as u64).uniform();
        choices.iter().position(|(_, cum)| u < *cum).unwrap_or(0)
    }

    /// Where the prebuilt `Submit` command of case `slot` is (stream, variant), built on first
    /// use; `None` when its stream has too many variants to keep. The command is a function of
    /// the variant — the answers drawn, the materials withheld, the credit and green-channel
    /// flags — so reusing it changes nothing the engine sees.
    pub(super) fn cached_submit(&mut self, slot: u32) -> Option<(usize, usize)> {
        let c = &self.cases[slot as usize];
        let k = c.stream as usize;
        if self.streams[k].submits.is_empty() {
            return None;
        }
        let plan = &self.sc.arrivals[k];
        let mut v = 0;
        for (j, a) in plan.answers.iter().enumerate() {
            v = v * a.choices.len() + self.answer_choice(slot, j, &a.choices);
        }
        let v = (((v << plan.missing.len()) | c.missing as usize) << 2)
            | usize::from(c.blocked) << 1
            | usize::from(c.green);
        if self.streams[k].submits[v].is_none() {
            let command = Command::Submit(Box::new(self.submission(slot)));
            self.streams[k].submits[v] = Some(command);
        }
        Some((k, v))
    }

    #[inline(never)]
    fn submission(&self, slot: u32) -> Submission {
        let c = &self.cases[slot as usize];
        let k = c.stream as usize;
        let plan = &self.sc.arrivals[k];
        let stream = &self.streams[k];
        let materials = if c.missing == 0 {
            stream.all_ids.clone()
        } else {
            let withheld = |m: &MaterialIx| {
                stream.missing.iter().enumerate().any(|(j, (x, _))| x == m && c.missing & (1 << j) != 0)
            };
            stream.full_materials.iter().filter(|(m, _)| !withheld(m)).map(|(_, id)| id.clone()).collect()
        };
        let answers = plan
            .answers
            .iter()
            .enumerate()
            .map(|(j, a)| (a.field.clone(), a.choices[self.answer_choice(slot, j, &a.choices)].0.clone()))
            .collect::<BTreeMap<_, _>>()
            .into();
        Submission {
            bundle: plan.bundle_id.clone(),
            applicant: stream.applicant[usize::from(c.blocked)].clone(),
            channel: Channel::Window,
            materials: materials.into(),
            answers,
            green_channel: c.green,
        }
    }

    fn intake(&mut self, slot: u32, server: u32) -> Result<(), Fail> {
        let clerk = ActorRef::Server(INTAKE, server);
        let id = self.cases[slot as usize].id;
        let state = (id != NO_CASE).then(|| self.engine.case(CaseId(id)).map(|c| c.state())).flatten();
        match state {
            None => {
                let command = match self.cached_submit(slot) {
                    Some((k, v)) => self.streams[k].submits[v].clone().expect("cached_submit built it"),
                    None => Command::Submit(Box::new(self.submission(slot))),
                };
                self.open(slot, command, server, INTAKE)?;
            }
            Some(CaseState::Consulting) => match self.cached_submit(slot) {
                Some((k, v)) => {
                    // Lent to the engine, which reads it, and put back.
                    let command = self.streams[k].submits[v].take().expect("cached_submit built it");
                    let r = self.exec_ok(slot, &command, clerk);
                    self.streams[k].submits[v] = Some(command);
                    r?;
                }
                None => self.exec_ok(slot, &Command::Submit(Box::new(self.submission(slot))), clerk)?,
            },
            Some(CaseState::AwaitingCorrection) => {
                let correction = self.engine.case(CaseId(id)).map(|c| c.correction().to_vec()).unwrap_or_default();
                self.exec_ok(slot, &Command::Resubmit { materials: correction }, clerk)?;
                self.cases[slot as usize].missing = 0;
            }
            Some(_) => return Ok(()),
        }
        self.decide_intake(slot, server)
    }

    /// The clerk's intake decision: accept; with materials missing, tolerate them (容缺) when the
    /// policy allows and the engine agrees, else give the correction notice (补正).
    fn decide_intake(&mut self, slot: u32, server: u32) -> Result<(), Fail> {
        let clerk = ActorRef::Server(INTAKE, server);
        let bundle = self.bundle_of(slot);
        if self.cases[slot as usize].missing == 0 {
            match self.exec(slot, &Command::Accept, clerk)? {
                Ok(()) => return self.accepted(slot, false),
                Err(r) if matches!(*r, Rejection::MaterialsIncomplete { .. }) => {}
                Err(r) => return Err(self.refused(slot, "accept", &r)),
            }
        }
        if self.sc.spec.policy.tolerance
            && let Ok(cure_due) = self.def.latest_cure_date(bundle, self.now_i.date())
            && let Ok(()) = self.exec(slot, &Command::AcceptTolerating { cure_due }, clerk)?
        {
            return self.accepted(slot, true);
        }
        match self.exec(slot, &Command::RequestCorrection, clerk)? {
            Ok(()) => {
                let c = &mut self.cases[slot as usize];
                c.away_since = self.now;
                c.returns += 1;
                let n = u64::from(c.returns);
                let delay = self.sc.spec.applicants.return_after.as_ref().map_or(0.0, |d| {
                    let mut s = self.draw(slot, P_RETURN, n);
                    d.sample(&mut s)
                });
                let generation = self.cases[slot as usize].generation;
                self.schedule(self.now + delay, What::Return { slot, generation });
                Ok(())
            }
            Err(r) if matches!(*r, Rejection::NothingMissing) => {
                self.exec_ok(slot, &Command::Accept, clerk)?;
                self.accepted(slot, false)
            }
            Err(r) => Err(self.refused(slot, "request_correction", &r)),
        }
    }

    pub(super) fn accepted(&mut self, slot: u32, tolerated: bool) -> Result<(), Fail> {
        self.cases[slot as usize].accepted = self.now;
        if !tolerated {
            return Ok(());
        }
        let id = CaseId(self.cases[slot as usize].id);
        let outstanding: Vec<MaterialIx> = self
            .engine
            .case(id)
            .map(|c| c.outstanding().iter().filter_map(|m| self.def.material_ix(m)).collect())
            .unwrap_or_default();
        let generation = self.cases[slot as usize].generation;
        for m in outstanding {
            let delay = self.sc.spec.applicants.supply_after.as_ref().map_or(0.0, |d| {
                let mut s = self.draw(slot, P_SUPPLY, m.index() as u64);
                d.sample(&mut s)
            });
            self.schedule(self.now + delay, What::Supply { slot, generation, material: m.index() as u32 });
        }
        Ok(())
    }

    #[inline(never)]
    pub(super) fn supply(&mut self, slot: u32, material: u32) -> Result<(), Fail> {
        let stream = self.cases[slot as usize].stream;
        let id = self.def.materials()[material as usize].id.clone();
        self.supplying = true;
        let r = self.exec(slot, &Command::Supply { material: id }, ActorRef::Applicant(stream));
        self.supplying = false;
        if r?.is_err() {
            // Refused (the case was returned meanwhile): the material is no longer wanted.
            return Ok(());
        }
        let c = &self.cases[slot as usize];
        let case = self.engine.case(CaseId(c.id));
        let state = case.map(|x| x.state());
        if c.lingering && case.is_none_or(|x| x.outstanding().is_empty()) {
            self.free_slot(slot);
            return Ok(());
        }
        if c.awaiting_cure && state == Some(CaseState::ReadyForDelivery) {
            let c = &mut self.cases[slot as usize];
            c.awaiting_cure = false;
            c.cure_hold = self.now - c.decided;
            self.enqueue(DELIVERY, slot, 0);
        }
        Ok(())
    }

    fn delivered(&mut self, slot: u32, server: u32) -> Result<(), Fail> {
        let clerk = ActorRef::Server(DELIVERY, server);
        self.exec_ok(slot, &Command::Deliver { method: DeliveryMethod::Window }, clerk)?;
        let on_time = self.on_time(slot);
        if let Some(r) = &self.sc.spec.applicants.ratings {
            let mut s = self.draw(slot, P_RATE, 0);
            if s.chance(r.share) {
                let stars = if on_time { &r.stars } else { r.late.as_ref().unwrap_or(&r.stars) };
                let u = s.uniform();
                let mut cumulative = 0.0;
                let mut chosen = 5u8;
                for (i, p) in stars.iter().enumerate() {
                    cumulative += p;
                    if u < cumulative {
                        chosen = i as u8 + 1;
                        break;
                    }
                }
                self.exec_ok(slot, &Command::Rate { stars: chosen }, clerk)?;
                self.cases[slot as usize].rating = chosen;
            }
        }
        if self.draw(slot, P_COMPLAINT, 0).chance(self.sc.spec.applicants.complaint) {
            self.complain(slot)?;
        }
        self.complete(slot, on_time)
    }

    #[inline(never)]
    fn complain(&mut self, slot: u32) -> Result<(), Fail> {
        let c = &self.cases[slot as usize];
        let lead = self.def.department(self.def.bundle(self.bundle_of(slot)).lead).id.clone();
        let source = TicketSource::Complaint {
            target: ComplaintTarget::Department(lead),
            case: Some(CaseId(c.id)),
            text: "办理时间过长，多次排队".into(),
        };
        let actor = &self.streams[c.stream as usize].actor;
        let ctx = Ctx { now: self.now_i, actor };
        self.timers_touched = true;
        match self.engine.open_ticket(source, &ctx) {
            Ok((_, events)) => {
                for rec in events {
                    let fact = self.out.counts.digest(rec.event);
                    self.note(rec.stream, &fact, Some(slot))?;
                }
                Ok(())
            }
            Err(r) => Err(self.refused(slot, "complain", &r)),
        }
    }

    pub(super) fn on_time(&self, slot: u32) -> bool {
        let c = &self.cases[slot as usize];
        match self.sc.spec.on_time {
            OnTime::Promised => c.on_time_sla,
            OnTime::WithinMinutes(m) => self.now - c.arrival <= m,
        }
    }

    pub(super) fn review_done(&mut self, station: usize, server: u32, slot: u32, member: u16) -> Result<(), Fail> {
        let base = slot as usize * self.stride + member as usize;
        let c = &self.cases[slot as usize];
        if c.suspended {
            self.parked.push((station as u16, Job { slot, generation: c.generation, member, since: self.now }));
            return Ok(());
        }
        let bundle_ix = self.bundle_of(slot);
        let item_ix = self.def.bundle(bundle_ix).members[member as usize].item;
        let review = self.sc.reviews[item_ix.index()].as_ref().expect("validated");
        let level = self.members[base].level;
        let reviewer = self.level_actor(station, server, level);
        let item = || self.def.item(item_ix).id.clone();
        if let Some(sp) = &review.special
            && !self.members[base].special_done
        {
            self.members[base].special_done = true;
            if self.draw(slot, P_SPECIAL, u64::from(member)).chance(sp.probability) {
                let action = TaskCommand::StartSpecialProcedure { kind: sp.kind };
                self.exec_ok(slot, &Command::Task { item: item(), action }, reviewer)?;
                let duration = sp.duration.sample(&mut self.draw(slot, P_SPECIAL_TIME, u64::from(member)));
                self.members[base].special += duration;
                let generation = self.cases[slot as usize].generation;
                self.schedule(self.now + duration, What::SpecialEnd { slot, generation, member });
                return Ok(());
            }
        }
        let sign = self.members[base].sign;
        // Below the last review level the task is passed on (only the last level decides).
        let passes = usize::from(level) + 1 < self.def.item(item_ix).levels.len();
        let deny = !passes && self.draw(slot, P_DENY, u64::from(member) << 8 | u64::from(sign)).chance(review.deny);
        if deny {
            let action = TaskCommand::Deny { reason: "不符合法定条件".into() };
            self.exec_ok(slot, &Command::Task { item: item(), action }, reviewer)?;
        } else {
            let members = Rc::clone(&self.members_of);
            self.exec_ok(slot, &members[bundle_ix.index()][member as usize].approve, reviewer)?;
        }
        let departments = self.def.item(item_ix).decided_by.departments();
        if passes {
            // 分级审批: the next level claims it from the department's queue.
            self.members[base].level += 1;
            self.enqueue(station, slot, member);
        } else if usize::from(sign) + 1 < departments.len() && self.still_in_review(slot, member) {
            // 会签, 票签: the next department signs or votes while the votes so far do not
            // decide the task (或签's first decision, a 会签 denial and a decided 票签 do).
            self.members[base].sign += 1;
            let next = self.dept_station[departments[usize::from(sign) + 1].index()] as usize;
            self.enqueue(next, slot, member);
        }
        Ok(())
    }

    /// Whether the task of `member` is still under review (its departments' votes so far do
    /// not decide it).
    fn still_in_review(&self, slot: u32, member: u16) -> bool {
        let case = self.engine.case(CaseId(self.cases[slot as usize].id));
        case.and_then(|c| c.tasks().get(usize::from(member))).is_some_and(|t| t.state() == TaskState::InReview)
    }

    /// The identity server `server` of `station` signs review level `level` under (a level
    /// below the department's deepest item has its own identities; see `Replication::new`).
    pub(super) fn level_actor(&self, station: usize, server: u32, level: u8) -> ActorRef {
        ActorRef::Server(station, server + u32::from(level) * self.stations[station].servers)
    }

    fn member_base(&self, slot: u32, member: u16) -> usize {
        slot as usize * self.stride + member as usize
    }

    #[inline(never)]
    pub(super) fn special_end(&mut self, slot: u32, member: u16) -> Result<(), Fail> {
        let item_ix = self.def.bundle(self.bundle_of(slot)).members[member as usize].item;
        let station = self.dept_station[self.def.item(item_ix).decided_by.departments()[0].index()] as usize;
        let item = self.def.item(item_ix).id.clone();
        let command = Command::Task { item, action: TaskCommand::EndSpecialProcedure };
        let level = self.members[self.member_base(slot, member)].level;
        match self.exec(slot, &command, self.level_actor(station, 0, level))? {
            // The reviewer finishes the review after the procedure.
            Ok(()) => self.enqueue(station, slot, member),
            // Suspended meanwhile: try again when it resumes.
            Err(_) if self.cases[slot as usize].suspended => {
                let generation = self.cases[slot as usize].generation;
                self.parked.push((u16::MAX, Job { slot, generation, member, since: self.now }));
            }
            Err(r) => return Err(self.refused(slot, "end_special_procedure", &r)),
        }
        Ok(())
    }
}
