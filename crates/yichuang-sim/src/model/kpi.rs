//! KPI attribution and measurement: a completed case's cycle time split into parts that add
//! up (queue, join, materials, special procedures and service, along the approval walk back
//! from the decision), the Gantt sample, the start of measuring after the warm-up, the queue
//! samples, and the station figures at the end of a replication (offered load, queue growth).

use yichuang_core::definition::{Bundle, MilestoneRule};
use yichuang_core::{CaseId, MemberSet, Outcome, TaskState};

use super::results::{CaseRow, Gantt, StationResult};
use super::{Fail, MAX_SAMPLES, Replication, WINDOW_STATIONS, What};
use crate::scenario::WarmUp;
use crate::stats::Level;

impl<K: super::Keep> Replication<'_, K> {
    pub(super) fn complete(&mut self, slot: u32, on_time: bool) -> Result<(), Fail> {
        let c = self.cases[slot as usize];
        let case = self.engine.case(CaseId(c.id));
        let outstanding = case.is_some_and(|x| !x.outstanding().is_empty());
        if c.measured.is_some() || self.result.rows.is_some() {
            let mut scratch = self.chain_scratch.take().unwrap_or_default();
            let (trips, chain) = match case {
                Some(case) => (f64::from(case.trips()), self.chain(slot, case, &mut scratch)),
                None => (0.0, Chain::default()),
            };
            if c.measured.is_some() {
                for &(station, minutes) in &scratch.last_at_join {
                    let blame = &mut self.stations[station as usize].last_at_join;
                    blame.0 += 1;
                    blame.1 += minutes;
                }
            }
            scratch.last_at_join.clear();
            self.chain_scratch = Some(scratch);
            // Counted at pickup, so that the outcomes add up to the completed cases.
            let outcome = case.and_then(|x| x.outcome()).map(|o| match o {
                Outcome::Approved => 0,
                Outcome::PartiallyApproved => 1,
                Outcome::Denied => 2,
            });
            let cycle = self.now - c.arrival;
            let cycle_w = self.now_w - c.arrival_w;
            // The parts of the cycle time: every minute from the arrival to the end of pickup is
            // in exactly one of them (held by `debug_assert` here and by the tests).
            let queue = c.window_wait + chain.queue;
            let service = c.window_service + chain.review;
            let materials = c.docs_wait + c.cure_hold + c.held + chain.cure + chain.held;
            debug_assert!(
                (queue + service + materials + chain.join + chain.special - cycle).abs() <= 1e-6 * cycle.max(1.0),
                "the parts of case {}'s cycle time {cycle} add up to {} (queue {queue}, service {service}, \
                 materials {materials}, join {}, special {})",
                c.id,
                queue + service + materials + chain.join + chain.special,
                chain.join,
                chain.special,
            );
            if let Some(rows) = &mut self.result.rows {
                rows.cases.push(CaseRow {
                    arrival_no: c.arrival_no,
                    case: c.id,
                    stream: c.stream,
                    measured: c.measured.is_some(),
                    arrival: c.arrival,
                    end: self.now,
                    outcome: outcome.map_or("", |o| ["approved", "partially_approved", "denied"][o]),
                    on_time,
                    trips: trips as u32,
                    rating: (c.rating > 0).then_some(c.rating),
                    cycle,
                    cycle_working: if self.always_open { cycle } else { cycle_w },
                    queue,
                    join: chain.join,
                    materials,
                    special_procedure: chain.special,
                    service,
                });
            }
            if let Some(index) = c.measured {
                let r = &mut self.result;
                r.completed += 1;
                if let Some(i) = outcome {
                    r.outcomes[i] += 1;
                }
                // Most halls never start a special procedure: until the first one, the tally of
                // their minutes is not kept, and is then (or at the end) exactly the tally of the
                // zeros recorded so far (`Tally::zeros_like` of the cycle time, before this case).
                if chain.special != 0.0 || self.special_seen {
                    if !self.special_seen {
                        self.special_seen = true;
                        r.special = r.cycle.zeros_like();
                    }
                    r.special.record(index, chain.special);
                }
                r.cycle.record(index, cycle);
                if !self.always_open {
                    // Always open: working time is calendar time, and `finish` derives both.
                    r.cycle_working.record(index, cycle_w);
                    r.closed.record(index, (cycle - cycle_w).max(0.0));
                }
                r.queue.record(index, queue);
                r.service.record(index, service);
                r.join.record(index, chain.join);
                r.materials.record(index, materials);
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

    /// The row of an applicant lost before intake (balked or reneged).
    #[cold]
    #[inline(never)]
    pub(super) fn lost_row(&mut self, slot: u32) {
        let c = self.cases[slot as usize];
        let now = self.now;
        if let Some(rows) = &mut self.result.rows {
            rows.cases.push(CaseRow {
                arrival_no: c.arrival_no,
                case: c.id,
                stream: c.stream,
                measured: c.measured.is_some(),
                arrival: c.arrival,
                end: now,
                outcome: if c.lost == 1 { "balked" } else { "reneged" },
                on_time: false,
                trips: 0,
                rating: None,
                cycle: now - c.arrival,
                cycle_working: f64::NAN,
                queue: c.window_wait,
                join: f64::NAN,
                materials: f64::NAN,
                special_procedure: f64::NAN,
                service: f64::NAN,
            });
        }
    }

    /// The row of a case returned (退件) after a missed cure: it leaves without its results.
    #[cold]
    #[inline(never)]
    pub(super) fn returned_row(&mut self, slot: u32) {
        let c = self.cases[slot as usize];
        let (now, now_w) = (self.now, self.now_w);
        let trips = self.engine.case(CaseId(c.id)).map_or(0, |x| x.trips());
        if let Some(rows) = &mut self.result.rows {
            rows.cases.push(CaseRow {
                arrival_no: c.arrival_no,
                case: c.id,
                stream: c.stream,
                measured: c.measured.is_some(),
                arrival: c.arrival,
                end: now,
                outcome: "returned",
                on_time: false,
                trips,
                rating: None,
                cycle: now - c.arrival,
                cycle_working: now_w - c.arrival_w,
                queue: f64::NAN,
                join: f64::NAN,
                materials: f64::NAN,
                special_procedure: f64::NAN,
                service: f64::NAN,
            });
        }
    }

    /// The approval phase of a case, from its acceptance to its decision, split into parts
    /// that add up: walking back from the decision, at every join (a task with two or more
    /// sibling predecessors, or the decision itself when several tasks end the bundle in
    /// parallel) the time from the first sibling's finish to the last's is the **join wait**,
    /// and the walk goes on through the first sibling to finish; every task on the walk adds
    /// its cure wait, queue waits, reviews, special procedures and suspensions, which cover the
    /// time from its gate opening to its finish. So the walk covers the phase exactly once.
    ///
    /// Predecessors are [`Replication::predecessors`] (`after` edges and stage gates); one that
    /// another predecessor itself waited for is not a sibling. Each join's last sibling is
    /// pushed on `scratch.last_at_join` with its station and the join's minutes.
    fn chain(&self, slot: u32, case: &yichuang_core::Case, scratch: &mut ChainScratch) -> Chain {
        let base = slot as usize * self.stride;
        let bundle = self.def.bundle(case.bundle());
        let mut chain = Chain::default();
        let ChainScratch { ancestors, last_at_join } = scratch;
        ancestors.known = 0;
        let finished = (0..case.tasks().len())
            .filter(|&p| case.tasks()[p].state() != TaskState::NotApplicable && !self.members[base + p].done.is_nan())
            .fold(0u64, |set, p| set | 1 << p);
        // The tasks that end the bundle: finished ones no finished task waited for (an ancestor
        // of a finished task is a predecessor of a finished task on the way to it). Without
        // stages a task's predecessors are its `waits_for`, all finished by the decision.
        let waited_for = if bundle.stages.is_empty() {
            MemberSet(finished).iter().fold(0u64, |set, p| set | case.tasks()[p].waits_for().0)
        } else {
            MemberSet(finished).iter().fold(0u64, |set, p| set | self.predecessors(base, bundle, case, p))
        };
        let mut current = self.join(base, case, finished & !waited_for, &mut chain, last_at_join);
        // Each step moves to a predecessor: a DAG walk bounded by the member count.
        for _ in 0..case.tasks().len() {
            let Some(p) = current else { break };
            let m = &self.members[base + p];
            chain.queue += m.queue_wait;
            chain.cure += m.cure_wait;
            chain.review += m.review;
            chain.special += m.special;
            chain.held += m.held;
            let preds = self.predecessors(base, bundle, case, p);
            let siblings = if preds.count_ones() < 2 {
                preds
            } else {
                // A predecessor that is an ancestor of another one is not a sibling: the time
                // between their finishes is the other's own work.
                let mut upstream = 0u64;
                for q in MemberSet(preds).iter() {
                    upstream |= self.ancestors(base, bundle, case, q, ancestors);
                }
                preds & !upstream
            };
            current = self.join(base, case, siblings, &mut chain, last_at_join);
        }
        chain
    }

    /// The join of `siblings` (members that finished, none waiting for another): adds the time
    /// from the first one's finish to the last's to `chain.join`, notes the last one's station,
    /// and returns the first one (ties: the lowest position).
    fn join(
        &self,
        base: usize,
        case: &yichuang_core::Case,
        siblings: u64,
        chain: &mut Chain,
        last_at_join: &mut Vec<(u32, f64)>,
    ) -> Option<usize> {
        let done = |q: usize| self.members[base + q].done;
        if siblings.count_ones() < 2 {
            return MemberSet(siblings).iter().next();
        }
        let (mut first, mut last) = (usize::MAX, usize::MAX);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for q in MemberSet(siblings).iter() {
            let d = done(q);
            if d < lo {
                (first, lo) = (q, d);
            }
            if d >= hi {
                (last, hi) = (q, d);
            }
        }
        chain.join += hi - lo;
        last_at_join.push((self.members_of[case.bundle().index()][last].station, hi - lo));
        Some(first)
    }

    /// The members whose finish let member `p` of a case start, as a bit set of member
    /// positions, only those that finished: its `after` predecessors (`Task::waits_for`,
    /// resolved by the engine through members that do not apply) and, for a member of a stage
    /// after the first, the previous stage's milestones that opened its gate (the engine's
    /// stage gate): all of them under `MilestoneRule::All`, the first approved one under `Any`
    /// (or, none approved, the last to finish).
    fn predecessors(&self, base: usize, bundle: &Bundle, case: &yichuang_core::Case, p: usize) -> u64 {
        let done = |q: usize| self.members[base + q].done;
        let mut set = case.tasks()[p].waits_for().0;
        if let Some(k) = bundle.members[p].stage.filter(|&k| k > 0) {
            let previous = &bundle.stages[k - 1];
            let finished = || previous.milestones.iter().copied().filter(|&q| !done(q).is_nan());
            match previous.rule {
                MilestoneRule::All => finished().for_each(|q| set |= 1 << q),
                MilestoneRule::Any => {
                    let first = finished()
                        .filter(|&q| case.tasks()[q].state() == TaskState::Approved)
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
        let preds = self.predecessors(base, self.def.bundle(case.bundle()), case, member as usize);
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
        let applicable = case.tasks().iter().filter(|t| t.state() != TaskState::NotApplicable).count();
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
        for (p, t) in case.tasks().iter().enumerate() {
            if t.state() == TaskState::NotApplicable {
                continue;
            }
            let m = &self.members[base + p];
            let dept = self.def.item(t.item()).decided_by.departments()[0];
            g.tasks.push((
                t.item_id().to_string(),
                self.def.department(dept).id.to_string(),
                m.ready,
                m.claimed,
                m.done,
            ));
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
            (case.tasks()[p].state() != TaskState::NotApplicable && m.claimed.is_finite() && m.done.is_finite())
                .then_some((m.claimed, m.done))
        };
        let n = case.tasks().len();
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
        if !matches!(self.sc.spec.warm_up, WarmUp::None | WarmUp::Auto) {
            self.result.series.warm_up_end = Some(self.now);
        }
        let (now, now_w) = (self.now, self.now_w);
        for st in &mut self.stations {
            st.busy.reset(now_w);
            st.queued.reset(now);
            st.served = 0;
            st.arrived = 0;
            st.work = 0.0;
            st.work_squares = 0.0;
            if let Some(s) = &mut st.staffing {
                s.level.reset(now_w);
            }
        }
        self.counting_arrivals = self.arrivals_end.is_none() && self.arrivals_open > 0;
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
        self.result.measured_arrivals = self.measured_arrivals;
        self.result.applicants_leave =
            self.sc.spec.applicants.balk.is_some() || self.sc.spec.applicants.patience.is_some();
        self.result.events = std::mem::take(&mut self.out.counts.events);
        let r = &mut self.result;
        if self.always_open {
            // Every measured case recorded cycle_w = cycle (bit for bit) and 0 closed minutes.
            r.cycle_working = r.cycle.clone();
            r.closed = r.cycle.zeros_like();
        }
        if !self.special_seen {
            r.special = r.cycle.zeros_like();
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
        // The arrival period while measuring: the stations' offered load and the growth of
        // their queues are judged over it (a `Cases` stop drains the hall after it).
        self.result.series.arrivals_end = self.arrivals_end.map(|(t, _)| t);
        if let Some(rows) = &mut self.result.rows {
            rows.stations = self.stations.iter().map(|s| s.name.clone()).collect();
        }
        let (arrivals_end, arrivals_end_w) = self.arrivals_end.unwrap_or((end, end_w));
        let arrival_period_w = if self.measuring { (arrivals_end_w - self.measure_start_w).max(0.0) } else { 0.0 };
        let window = (self.measure_start, arrivals_end);
        for (i, st) in self.stations.iter_mut().enumerate() {
            if st.servers == 0 {
                continue;
            }
            st.busy.touch(end_w);
            st.queued.touch(end);
            // Server-time on duty while measuring: all servers, or a schedule's staffing.
            let capacity = match &mut st.staffing {
                None => f64::from(st.servers) * period_w,
                Some(s) => {
                    s.level.touch(end_w);
                    s.level.area
                }
            };
            let mean_servers = if period_w > 0.0 { capacity / period_w } else { f64::from(st.servers) };
            // λ · E[S] / c, in working time: visits arriving per working minute, times the mean
            // service (working minutes) of the visits served, per server on duty.
            let offered_load =
                (arrival_period_w > 0.0 && st.served > 0 && st.arrived > 0 && mean_servers > 0.0).then(|| {
                    let (served, mean) = (st.served as f64, st.work / st.served as f64);
                    let load = st.arrived as f64 / arrival_period_w * mean / mean_servers;
                    // The noise of the estimate: Poisson-like arrivals (relative variance 1/n) and the
                    // services' squared coefficient of variation over the number served.
                    let cv2 = if mean > 0.0 { (st.work_squares / served / (mean * mean) - 1.0).max(0.0) } else { 0.0 };
                    (load, load * (1.0 / st.arrived as f64 + cv2 / served).sqrt())
                });
            let growth = if self.measuring { queue_growth(&self.result.series, i, window) } else { None };
            self.result.stations.push(StationResult {
                name: st.name.clone(),
                window: i < WINDOW_STATIONS,
                servers: st.servers,
                utilisation: if capacity > 0.0 { st.busy.area / capacity } else { 0.0 },
                queue_mean: if period > 0.0 { st.queued.area / period } else { 0.0 },
                queue_max: st.queued.max,
                mean_servers,
                wait: std::mem::take(&mut st.wait),
                service_span: st.service_span,
                served: st.served,
                offered_load,
                queue_growth: growth,
                last_at_join: st.last_at_join,
            });
        }
        Ok(())
    }
}

/// How clearly the queue of station `i` grew over `(from, to)` in a replication's samples:
/// the samples in the window are cut into ten batches in time order, the first two are left
/// out (a queue filling up from an empty hall rises at first and then levels off), and a
/// straight line is fitted to the means of the other eight. The result is the line's rise over
/// those eight batches, in jobs, when it exceeds three standard deviations of the batch means
/// around the line (a trend well above the noise), half their mean and one job; else 0.
/// `None` with fewer than twenty samples.
fn queue_growth(series: &super::results::Series, i: usize, (from, to): (f64, f64)) -> Option<f64> {
    const BATCHES: usize = 10;
    const SKIPPED: usize = 2;
    let queue = series.queues.get(i)?;
    let samples: Vec<f64> =
        series.t.iter().zip(queue).filter(|(t, _)| (from..=to).contains(*t)).map(|(_, q)| *q).collect();
    if samples.len() < 2 * BATCHES {
        return None;
    }
    let means: Vec<f64> = (SKIPPED..BATCHES)
        .map(|b| {
            let part = &samples[b * samples.len() / BATCHES..(b + 1) * samples.len() / BATCHES];
            part.iter().sum::<f64>() / part.len() as f64
        })
        .collect();
    let n = means.len() as f64;
    let x_mean = (n - 1.0) / 2.0;
    let y_mean = means.iter().sum::<f64>() / n;
    let sxx: f64 = (0..means.len()).map(|x| (x as f64 - x_mean).powi(2)).sum();
    let sxy: f64 = means.iter().enumerate().map(|(x, y)| (x as f64 - x_mean) * (y - y_mean)).sum();
    let slope = sxy / sxx;
    let residual_sd =
        (means.iter().enumerate().map(|(x, y)| (y - (y_mean + slope * (x as f64 - x_mean))).powi(2)).sum::<f64>()
            / (n - 2.0))
            .sqrt();
    let rise = slope * (n - 1.0);
    Some(if rise > 3.0 * residual_sd && rise > 0.5 * y_mean && rise >= 1.0 { rise } else { 0.0 })
}

/// What [`Replication::chain`] reuses from case to case (kept by the replication, so that the
/// ancestors' table is neither zeroed nor moved per case).
#[derive(Debug, Default)]
pub(super) struct ChainScratch {
    ancestors: Ancestors,
    last_at_join: Vec<(u32, f64)>,
}

/// Memoised ancestors of members ([`Replication::ancestors`]): `of[p]` is meaningful only
/// when bit `p` of `known` is set.
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

/// The parts of a case's approval phase along its walk ([`Replication::chain`]).
#[derive(Debug, Default)]
struct Chain {
    queue: f64,
    join: f64,
    cure: f64,
    review: f64,
    special: f64,
    held: f64,
}
