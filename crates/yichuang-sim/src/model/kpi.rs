//! KPI attribution and measurement: a completed case's cycle time and its waiting split
//! (queue, join and materials waits along the critical chain of approvals), the Gantt sample,
//! the start of measuring after the warm-up, the queue samples and the station figures at the
//! end of a replication.

use yichuang_core::definition::{Bundle, MilestoneRule};
use yichuang_core::{CaseId, MemberSet, Outcome, TaskState};

use super::results::{Gantt, StationResult};
use super::{Fail, MAX_SAMPLES, Replication, WINDOW_STATIONS, What};
use crate::scenario::WarmUp;
use crate::stats::Level;

impl Replication<'_> {
    pub(super) fn complete(&mut self, slot: u32, on_time: bool) -> Result<(), Fail> {
        let c = self.cases[slot as usize];
        let case = self.engine.case(CaseId(c.id));
        let outstanding = case.is_some_and(|x| !x.outstanding.is_empty());
        if let Some(index) = c.measured {
            let (trips, chain) = match case {
                Some(case) => (f64::from(case.trips), self.chain(slot, case)),
                None => (0.0, Chain::default()),
            };
            // Counted at pickup, so that the outcomes add up to the completed cases.
            let outcome = case.and_then(|x| x.outcome).map(|o| match o {
                Outcome::Approved => 0,
                Outcome::PartiallyApproved => 1,
                Outcome::Denied => 2,
            });
            let cycle = self.now - c.arrival;
            let cycle_w = self.now_w - c.arrival_w;
            let r = &mut self.result;
            r.completed += 1;
            if let Some(i) = outcome {
                r.outcomes[i] += 1;
            }
            r.cycle.record(index, cycle);
            if !self.always_open {
                // Always open: working time is calendar time, and `finish` derives both.
                r.cycle_working.record(index, cycle_w);
                r.closed.record(index, (cycle - cycle_w).max(0.0));
            }
            r.queue.record(index, c.window_wait + chain.queue);
            r.join.record(index, chain.join);
            r.materials.record(index, c.docs_wait + chain.cure + c.cure_hold);
            r.on_time.record(index, f64::from(u8::from(on_time)));
            r.trips.record(index, trips);
            if r.bundles.len() > 1 {
                // With one bundle, `finish` copies the overall tallies.
                let b = &mut r.bundles[self.bundle_pos[self.sc.arrivals[c.stream as usize].bundle.index()]].1;
                b.cycle.record(index, cycle);
                b.on_time.record(index, f64::from(u8::from(on_time)));
            }
            if !self.gantt_done && self.rep == 0 {
                self.record_gantt(slot);
            }
        }
        self.leave();
        if outstanding {
            // Issued before cure (容缺, issue_before_cure): the supply is still to come.
            self.cases[slot as usize].lingering = true;
        } else {
            self.free_slot(slot);
        }
        Ok(())
    }

    /// The critical chain of approvals: from the last task to finish, back through the
    /// predecessor that finished last ([`Replication::predecessors`]: `after` edges and stage
    /// gates).
    fn chain(&self, slot: u32, case: &yichuang_core::Case) -> Chain {
        let base = slot as usize * self.stride;
        let bundle = self.def.bundle(case.bundle);
        let done = |p: usize| self.members[base + p].done;
        let mut chain = Chain::default();
        let last = (0..case.tasks.len())
            .filter(|&p| case.tasks[p].state != TaskState::NotApplicable && !done(p).is_nan())
            .max_by(|&a, &b| done(a).total_cmp(&done(b)));
        let mut current = last;
        let mut ancestors = Ancestors::default();
        // Each step moves to a predecessor: a DAG walk bounded by the member count.
        for _ in 0..case.tasks.len() {
            let Some(p) = current else { break };
            let m = &self.members[base + p];
            chain.queue += m.queue_wait;
            chain.cure += m.cure_wait;
            let preds = self.predecessors(base, bundle, case, p);
            // The predecessor that finished last (on ties the last one, as `max_by` picks).
            let mut latest: Option<(usize, f64)> = None;
            for q in MemberSet(preds).iter() {
                let d = done(q);
                if latest.is_none_or(|(_, l)| d.total_cmp(&l).is_ge()) {
                    latest = Some((q, d));
                }
            }
            if preds.count_ones() >= 2 {
                // A predecessor that is an ancestor of another one is not a sibling: the time
                // between their finishes is the other's own work, not a wait at this join.
                let mut upstream = 0u64;
                for q in MemberSet(preds).iter() {
                    upstream |= self.ancestors(base, bundle, case, q, &mut ancestors);
                }
                let siblings = MemberSet(preds & !upstream);
                let (mut hi, mut lo) = (f64::MIN, f64::MAX);
                for q in siblings.iter() {
                    hi = hi.max(done(q));
                    lo = lo.min(done(q));
                }
                if siblings.0.count_ones() >= 2 {
                    chain.join += hi - lo;
                }
            }
            current = latest.map(|(q, _)| q);
        }
        chain
    }

    /// The members whose finish let member `p` of a case start, as a bit set of member
    /// positions, only those that finished: its `after` predecessors (`Task::waits_for`,
    /// resolved by the engine through members that do not apply) and, for a member of a stage
    /// after the first, the previous stage's milestones that opened its gate (the engine's
    /// stage gate): all of them under `MilestoneRule::All`, the first approved one under `Any`
    /// (or, none approved, the last to finish).
    fn predecessors(&self, base: usize, bundle: &Bundle, case: &yichuang_core::Case, p: usize) -> u64 {
        let done = |q: usize| self.members[base + q].done;
        let mut set = case.tasks[p].waits_for.0;
        if let Some(k) = bundle.members[p].stage.filter(|&k| k > 0) {
            let previous = &bundle.stages[k - 1];
            let finished = || previous.milestones.iter().copied().filter(|&q| !done(q).is_nan());
            match previous.rule {
                MilestoneRule::All => finished().for_each(|q| set |= 1 << q),
                MilestoneRule::Any => {
                    let first = finished()
                        .filter(|&q| case.tasks[q].state == TaskState::Approved)
                        .min_by(|&a, &b| done(a).total_cmp(&done(b)))
                        .or_else(|| finished().max_by(|&a, &b| done(a).total_cmp(&done(b))));
                    if let Some(q) = first {
                        set |= 1 << q;
                    }
                }
            }
        }
        MemberSet(set).iter().filter(|&q| !done(q).is_nan()).fold(0, |s, q| s | 1 << q)
    }

    /// Every member that `p` transitively waited for ([`Replication::predecessors`]),
    /// memoised in `memo`.
    fn ancestors(
        &self,
        base: usize,
        bundle: &Bundle,
        case: &yichuang_core::Case,
        p: usize,
        memo: &mut Ancestors,
    ) -> u64 {
        if memo.known & (1 << p) != 0 {
            return memo.of[p];
        }
        // Marked before the walk: the engine's gates and edges form a DAG, but a cycle would
        // end here rather than recurse forever.
        memo.known |= 1 << p;
        memo.of[p] = 0;
        let preds = self.predecessors(base, bundle, case, p);
        let mut all = preds;
        for q in MemberSet(preds).iter() {
            all |= self.ancestors(base, bundle, case, q, memo);
        }
        memo.of[p] = all;
        all
    }

    /// When a task that became ready on a supply was otherwise free to start: the latest finish
    /// of its predecessors, stage gates included ([`Replication::predecessors`]), or the
    /// acceptance.
    #[inline(never)]
    pub(super) fn cure_blocked_since(&self, slot: u32, member: u16) -> f64 {
        let c = &self.cases[slot as usize];
        let base = slot as usize * self.stride;
        let Some(case) = self.engine.case(CaseId(c.id)) else { return c.accepted };
        let preds = self.predecessors(base, self.def.bundle(case.bundle), case, member as usize);
        MemberSet(preds).iter().map(|p| self.members[base + p].done).fold(c.accepted, f64::max)
    }

    /// Records the case in `slot` (measured, completed, of replication 0) as the Gantt
    /// chart's sample: the first case in which two reviews ran at the same time (parallel
    /// approvals), or until one is found the first case with at least three applicable members
    /// (or all of its bundle's, if fewer).
    #[inline(never)]
    fn record_gantt(&mut self, slot: u32) {
        let c = &self.cases[slot as usize];
        let Some(case) = self.engine.case(CaseId(c.id)) else { return };
        let base = slot as usize * self.stride;
        let parallel = self.reviews_overlap(base, case);
        if !parallel && self.result.gantt.is_some() {
            // Keep the first fallback sample while looking for parallel approvals.
            return;
        }
        let applicable = case.tasks.iter().filter(|t| t.state != TaskState::NotApplicable).count();
        let bundle = self.def.bundle(self.bundle_of(slot));
        let most = bundle.members.len().min(3);
        if !parallel && applicable < most {
            return;
        }
        let mut g = Gantt { bundle: bundle.id.to_string(), arrival: c.arrival, phases: Vec::new(), tasks: Vec::new() };
        for (pos, label) in ["consult", "intake", "delivery"].iter().enumerate() {
            let (s, e) = c.spans[pos];
            if !s.is_nan() && !e.is_nan() {
                g.phases.push(((*label).to_owned(), s, e));
            }
        }
        for (p, t) in case.tasks.iter().enumerate() {
            if t.state == TaskState::NotApplicable {
                continue;
            }
            let m = &self.members[base + p];
            let dept = self.def.item(t.item).decided_by.departments()[0];
            g.tasks.push((t.item_id.to_string(), self.def.department(dept).id.to_string(), m.ready, m.claimed, m.done));
        }
        self.result.gantt = Some(g);
        self.gantt_done = parallel;
    }

    /// Whether two applicable tasks of a case were under review at the same time (from their
    /// claim to their approval, denial or cancellation).
    fn reviews_overlap(&self, base: usize, case: &yichuang_core::Case) -> bool {
        // Runs for every completed case until one is found (none, under serial approval):
        // no allocation.
        let review = |p: usize| {
            let m = &self.members[base + p];
            (case.tasks[p].state != TaskState::NotApplicable && m.claimed.is_finite() && m.done.is_finite())
                .then_some((m.claimed, m.done))
        };
        let n = case.tasks.len();
        (0..n)
            .filter_map(review)
            .enumerate()
            .any(|(i, a)| (0..n).filter_map(review).skip(i + 1).any(|b| a.0 < b.1 && b.0 < a.1))
    }

    #[inline(never)]
    pub(super) fn begin_measuring(&mut self) {
        if self.measuring {
            return;
        }
        self.measuring = true;
        self.measure_start = self.now;
        self.measure_start_w = self.now_w;
        if !matches!(self.sc.spec.warm_up, WarmUp::None) {
            self.result.series.warm_up_end = Some(self.now);
        }
        let (now, now_w) = (self.now, self.now_w);
        for st in &mut self.stations {
            st.busy.reset(now_w);
            st.queued.reset(now);
            st.served = 0;
        }
        self.wip.reset(now);
    }

    #[inline(never)]
    pub(super) fn sample(&mut self) {
        let held = self.engine.cases_held() as u64;
        self.result.engine_cases_held_max = self.result.engine_cases_held_max.max(held);
        let s = &mut self.result.series;
        s.t.push(self.now);
        s.wip.push(f64::from(self.active));
        for (q, st) in s.queues.iter_mut().zip(&self.stations) {
            q.push(f64::from(st.len()));
        }
        if s.t.len() >= MAX_SAMPLES {
            // Keep every other sample and halve the rate: bounded memory for any horizon.
            let thin = |v: &mut Vec<f64>| {
                let kept: Vec<f64> = v.iter().copied().step_by(2).collect();
                *v = kept;
            };
            thin(&mut s.t);
            thin(&mut s.wip);
            s.queues.iter_mut().for_each(thin);
            s.every *= 2.0;
        }
        let next = self.now + s.every;
        if next <= self.horizon {
            self.schedule(next, What::Sample);
        }
    }

    pub(super) fn finish(&mut self, end: f64) -> Result<(), Fail> {
        let end_w = self.clock.work(self.def.calendar(), end).map_err(|e| self.calendar_error(e))?;
        // Levels are measured from the end of the warm-up: over nothing if it never ended.
        let (period, period_w) = if self.measuring {
            ((end - self.measure_start).max(0.0), (end_w - self.measure_start_w).max(0.0))
        } else {
            (0.0, 0.0)
        };
        self.result.arrivals = self.arrivals;
        self.result.events = std::mem::take(&mut self.out.counts.events);
        let r = &mut self.result;
        if self.always_open {
            // Every measured case recorded cycle_w = cycle (bit for bit) and 0 closed minutes.
            r.cycle_working = r.cycle.clone();
            r.closed = r.cycle.zeros_like();
        }
        if let [(_, b)] = &mut r.bundles[..] {
            // Every measured case is of this bundle.
            b.cycle = r.cycle.clone();
            b.on_time = r.on_time.clone();
        }
        // A slot is held from the arrival, before the engine has a case for it (an applicant
        // still queueing at the consult desk or at intake), until it is freed.
        let mut freed = vec![false; self.cases.len()];
        for &slot in &self.free {
            freed[slot as usize] = true;
        }
        self.result.unfinished = (self.cases.iter().zip(&freed))
            .filter(|(c, freed)| !**freed && !c.lingering && c.measured.is_some())
            .count() as u64;
        self.result.period_minutes = period;
        self.wip.touch(end);
        if !self.measuring {
            // Every arrival fell in a `Days` warm-up that outlasted the run: measuring never
            // began, so no level was measured (the areas and maxima are the warm-up's).
            let unmeasured = Level::default();
            self.wip = unmeasured.clone();
            for st in &mut self.stations {
                st.busy = unmeasured.clone();
                st.queued = unmeasured.clone();
            }
        }
        self.result.wip_mean = if period > 0.0 { self.wip.area / period } else { 0.0 };
        self.result.wip_max = self.wip.max;
        for (i, st) in self.stations.iter_mut().enumerate() {
            if st.servers == 0 {
                continue;
            }
            st.busy.touch(end_w);
            st.queued.touch(end);
            let capacity = f64::from(st.servers) * period_w;
            self.result.stations.push(StationResult {
                name: st.name.clone(),
                window: i < WINDOW_STATIONS,
                servers: st.servers,
                utilisation: if capacity > 0.0 { st.busy.area / capacity } else { 0.0 },
                queue_mean: if period > 0.0 { st.queued.area / period } else { 0.0 },
                queue_max: st.queued.max,
                wait: std::mem::take(&mut st.wait),
                served: st.served,
            });
        }
        Ok(())
    }
}

/// Memoised ancestors of members ([`Replication::ancestors`]).
#[derive(Debug)]
struct Ancestors {
    /// Members whose entry in `of` is computed (or being computed).
    known: u64,
    /// Ancestors by member position.
    of: [u64; 64],
}

impl Default for Ancestors {
    fn default() -> Ancestors {
        Ancestors { known: 0, of: [0; 64] }
    }
}

#[derive(Debug, Default)]
struct Chain {
    pub(super) queue: f64,
    join: f64,
    cure: f64,
}
