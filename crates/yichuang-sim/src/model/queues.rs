//! Stations and their queues: a window class or a department ([`Station`]), its FIFO ring
//! buffers ([`Fifo`]), putting a job in a queue, freeing a server, and starting the next job
//! on every free server.

use yichuang_core::{Actor, CaseId, Ctx};

use super::results::VisitRow;
use super::{
    ActorRef, Fail, INTAKE, NO_CASE, P_COME_BACK, P_PATIENCE, P_REVIEW, P_SERVICE, Replication, WINDOW_STATIONS, What,
};
use crate::stats::{Level, Tally};
use yichuang_core::Command;

/// A job waiting at a station: a case at a window, or one task of a case at a department.
#[derive(Debug, Clone, Copy)]
pub(super) struct Job {
    pub(super) slot: u32,
    pub(super) generation: u32,
    pub(super) member: u16,
    pub(super) since: f64,
}

/// A window class or a department: servers, queues and their statistics.
#[derive(Debug)]
pub(super) struct Station {
    pub(super) name: String,
    pub(super) servers: u32,
    pub(super) free: Vec<u32>,
    pub(super) queue: Fifo<Job>,
    priority: Fifo<Job>,
    pub(super) actors: Vec<Actor>,
    /// Busy servers, on the working-time axis.
    pub(super) busy: Level,
    /// Queue length, on the calendar-time axis.
    pub(super) queued: Level,
    /// Idle servers off duty (a schedule staffs fewer than `servers` now): neither busy nor
    /// in `free`.
    pub(super) off_idle: u32,
    /// The station's schedule, when it has one.
    pub(super) staffing: Option<Box<Staffing>>,
    /// Queue waits per visit (calendar minutes), measured cases only.
    pub(super) wait: Tally,
    /// Calendar minutes of the services of measured cases' visits (with `wait`, the sojourn).
    pub(super) service_span: f64,
    pub(super) served: u64,
    /// Jobs that arrived while measuring and before the arrivals closed (for the offered load).
    pub(super) arrived: u64,
    /// Working minutes of service started while measuring (for the offered load).
    pub(super) work: f64,
    /// Their squares (for the noise of the offered load).
    pub(super) work_squares: f64,
    /// Joins on the cases' approval paths at which this station's task finished last, and the
    /// join minutes that followed the first sibling's finish (measured cases).
    pub(super) last_at_join: (u64, f64),
    dirty: bool,
}

impl Station {
    pub(super) fn len(&self) -> u32 {
        (self.queue.len + self.priority.len) as u32
    }

    /// Servers busy now (on duty or finishing a job after their shift).
    pub(super) fn busy_count(&self) -> u32 {
        self.servers - self.free.len() as u32 - self.off_idle
    }

    /// The station with a weekly schedule: `servers` is its peak, and `restaff` sets how many
    /// are on duty.
    pub(super) fn staffed(mut self, timeline: Option<Vec<(u32, u32)>>) -> Station {
        self.staffing = timeline.map(|timeline| {
            Box::new(Staffing {
                timeline,
                on_duty: self.servers,
                busy: vec![false; self.servers as usize],
                level: Level::default(),
            })
        });
        self
    }
}

/// A station's schedule in force.
#[derive(Debug)]
pub(super) struct Staffing {
    /// `(minute of the week, servers)`, Monday 00:00 first ([`crate::scenario::weekly_timeline`]).
    timeline: Vec<(u32, u32)>,
    /// Servers on duty now: those numbered below it.
    pub(super) on_duty: u32,
    /// Which servers are busy.
    busy: Vec<bool>,
    /// Servers on duty, on the working-time axis (the utilisation's denominator).
    pub(super) level: Level,
}

/// A first-in first-out queue of `Copy` items: a ring buffer whose capacity is a power of two
/// (a push and a pop are a few instructions; `VecDeque` handles any capacity).
#[derive(Debug)]
pub(super) struct Fifo<T> {
    /// The ring; its length is the capacity (0 or a power of two).
    buf: Vec<T>,
    /// Position of the first item.
    head: usize,
    /// Items queued.
    len: usize,
}

impl<T> Default for Fifo<T> {
    fn default() -> Fifo<T> {
        Fifo { buf: Vec::new(), head: 0, len: 0 }
    }
}

impl<T: Copy> Fifo<T> {
    #[inline]
    pub(super) fn push(&mut self, x: T) {
        if self.len == self.buf.len() {
            self.grow(x);
        }
        let mask = self.buf.len() - 1;
        self.buf[(self.head + self.len) & mask] = x;
        self.len += 1;
    }

    #[inline]
    pub(super) fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let x = self.buf[self.head];
        self.head = (self.head + 1) & (self.buf.len() - 1);
        self.len -= 1;
        Some(x)
    }

    /// Removes and returns the first item matching `found`, keeping the others in order (a
    /// linear pass: applicants who give up a queue are few beside those served).
    pub(super) fn take(&mut self, found: impl Fn(&T) -> bool) -> Option<T> {
        let mask = self.buf.len().wrapping_sub(1);
        let at = (0..self.len).find(|&i| found(&self.buf[(self.head + i) & mask]))?;
        let item = self.buf[(self.head + at) & mask];
        for i in at..self.len - 1 {
            self.buf[(self.head + i) & mask] = self.buf[(self.head + i + 1) & mask];
        }
        self.len -= 1;
        Some(item)
    }

    /// Doubles the capacity (at least 16), the items in order from position 0.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, filler: T) {
        let capacity = (self.buf.len() * 2).max(16);
        let mut buf = Vec::with_capacity(capacity);
        buf.extend((0..self.len).map(|i| self.buf[(self.head + i) & (self.buf.len() - 1)]));
        buf.resize(capacity, filler);
        self.buf = buf;
        self.head = 0;
    }
}

impl Station {
    pub(super) fn new(name: String, servers: u32, actors: Vec<Actor>) -> Station {
        let wait = Tally::with_histogram();
        Station {
            name,
            servers,
            free: (0..servers).rev().collect(),
            queue: Fifo::default(),
            priority: Fifo::default(),
            actors,
            off_idle: 0,
            staffing: None,
            busy: Level::default(),
            queued: Level::default(),
            wait,
            service_span: 0.0,
            served: 0,
            arrived: 0,
            work: 0.0,
            work_squares: 0.0,
            last_at_join: (0, 0.0),
            dirty: false,
        }
    }
}

impl<K: super::Keep> Replication<'_, K> {
    #[inline]
    pub(super) fn enqueue(&mut self, station: usize, slot: u32, member: u16) {
        let member = if station < WINDOW_STATIONS && self.sc.spec.applicants.patience.is_some() {
            self.wait_with_patience(station, slot)
        } else {
            member
        };
        let c = &self.cases[slot as usize];
        let job = Job { slot, generation: c.generation, member, since: self.now };
        let priority = c.green && self.sc.spec.policy.green_channel_priority;
        let st = &mut self.stations[station];
        if priority {
            st.priority.push(job);
        } else {
            st.queue.push(job);
        }
        st.arrived += u64::from(self.counting_arrivals);
        if !st.dirty {
            st.dirty = true;
            self.dirty.push(station as u16);
        }
    }

    #[inline]
    pub(super) fn release(&mut self, station: usize, server: u32) {
        let st = &mut self.stations[station];
        match &mut st.staffing {
            None => st.free.push(server),
            Some(s) => {
                s.busy[server as usize] = false;
                // A server whose shift has ended goes home after its job.
                if server < s.on_duty { st.free.push(server) } else { st.off_idle += 1 }
            }
        }
        let busy = st.busy_count();
        st.busy.set(self.now_w, busy);
        if !st.dirty {
            st.dirty = true;
            self.dirty.push(station as u16);
        }
    }

    pub(super) fn dispatch(&mut self) -> Result<(), Fail> {
        // Starting a review may (through the engine) make other stations dirty; each pass
        // drains the list, and every start consumes a queued job, so this terminates.
        while let Some(station) = self.dirty.pop() {
            let station = station as usize;
            self.stations[station].dirty = false;
            loop {
                let st = &mut self.stations[station];
                if st.free.is_empty() {
                    break;
                }
                let job = if st.priority.len == 0 { st.queue.pop() } else { st.priority.pop() };
                let Some(job) = job else { break };
                self.start(station, job)?;
            }
            // The queue's level is set once the free servers have taken what they can: a job
            // that starts at the instant it arrives never counts as queued (so the longest
            // queue counts only applicants and tasks that waited).
            // An unchanged level needs no update: the area accumulates at the next change.
            let st = &mut self.stations[station];
            let len = st.len();
            if len != st.queued.level {
                st.queued.set(self.now, len);
            }
        }
        Ok(())
    }

    pub(super) fn start(&mut self, station: usize, job: Job) -> Result<(), Fail> {
        let c = &self.cases[job.slot as usize];
        if c.generation != job.generation {
            return Ok(());
        }
        if c.suspended {
            self.park(station, job);
            return Ok(());
        }
        let wait = self.now - job.since;
        let measured = c.measured;
        let server = self.stations[station].free.pop().expect("dispatch checked a free server");
        let st = &mut self.stations[station];
        if let Some(s) = &mut st.staffing {
            s.busy[server as usize] = true;
        }
        let busy = st.busy_count();
        st.busy.set(self.now_w, busy);
        if let Some(n) = measured {
            st.wait.record(n, wait);
        }
        if self.measuring {
            st.served += 1;
        }
        let duration = if station < WINDOW_STATIONS {
            let c = &mut self.cases[job.slot as usize];
            c.window_wait += wait;
            c.visits[station] += 1;
            let visit = c.visits[station];
            if c.spans[station].0.is_nan() {
                c.spans[station].0 = self.now;
            }
            let service = &self.sc.windows[station].as_ref().expect("stations with servers are configured").1;
            service.sample(&mut self.draw(job.slot, P_SERVICE, (station as u64) << 16 | u64::from(visit)))
        } else {
            self.start_review(station, server, job, wait)?
        };
        let end_w = self.now_w + duration;
        let end = self.clock.time_of_work(self.def.calendar(), end_w).map_err(|e| self.calendar_error(e))?;
        let end = end.max(self.now);
        let st = &mut self.stations[station];
        if self.measuring {
            st.work += duration;
            st.work_squares += duration * duration;
        }
        if measured.is_some() {
            st.service_span += end - self.now;
        }
        if station < WINDOW_STATIONS {
            self.cases[job.slot as usize].window_service += end - self.now;
        } else {
            self.members[job.slot as usize * self.stride + job.member as usize].review += end - self.now;
        }
        let what = if station < WINDOW_STATIONS {
            What::WindowDone { station: station as u16, server, slot: job.slot, generation: job.generation }
        } else {
            What::ReviewDone {
                station: station as u16,
                server,
                slot: job.slot,
                generation: job.generation,
                member: job.member,
            }
        };
        if let Some(rows) = &mut self.result.rows {
            rows.visits.push(VisitRow {
                arrival_no: self.cases[job.slot as usize].arrival_no,
                stream: self.cases[job.slot as usize].stream,
                station: station as u16,
                member: (station >= WINDOW_STATIONS).then_some(job.member),
                queued: job.since,
                started: self.now,
                ended: end,
            });
        }
        self.schedule(end, what);
        Ok(())
    }

    fn start_review(&mut self, station: usize, server: u32, job: Job, wait: f64) -> Result<f64, Fail> {
        let base = job.slot as usize * self.stride + job.member as usize;
        let first = self.members[base].claimed.is_nan();
        // Each review level is claimed from the queue (a countersign's later departments sign
        // the claimed task).
        let claim = self.members[base].claims <= self.members[base].level;
        self.members[base].queue_wait += wait;
        self.members[base].visits += 1;
        let visit = self.members[base].visits;
        let bundle_ix = self.bundle_of(job.slot);
        let item_ix = self.def.bundle(bundle_ix).members[job.member as usize].item;
        if first {
            self.members[base].claimed = self.now;
        }
        if claim {
            self.members[base].claims += 1;
            let cmd = &self.members_of[bundle_ix.index()][job.member as usize].claim;
            let ActorRef::Server(_, index) = self.level_actor(station, server, self.members[base].level) else {
                unreachable!("a level actor is a server")
            };
            let actor = &self.stations[station].actors[index as usize];
            let id = CaseId(self.cases[job.slot as usize].id);
            let ctx = Ctx { now: self.now_i, actor };
            self.timers_touched = true;
            let r = self.engine.execute_into(id, cmd, &ctx, &mut self.out);
            self.after_command(r, job.slot, "claim")?;
        }
        let review = self.sc.reviews[item_ix.index()].as_ref().expect("validated: every member item has a review");
        let time =
            review.time.sample(&mut self.draw(job.slot, P_REVIEW, u64::from(job.member) << 16 | u64::from(visit)));
        // The scenario's review time is the item's: its review levels (承办 → 审核 → 批准) share it.
        Ok(time / self.def.item(item_ix).levels.len() as f64)
    }

    /// Sets a scheduled station's servers on duty to its timeline's count now, and schedules the
    /// next change. Servers above the count go off duty when idle (a busy one finishes its job
    /// first); servers below it come on duty and take work at once.
    #[inline(never)]
    pub(super) fn restaff(&mut self, station: usize) {
        let week_minute = self.week_minute(self.now);
        let (now, now_w) = (self.now, self.now_w);
        let st = &mut self.stations[station];
        let Some(s) = &mut st.staffing else { return };
        let at = s.timeline.partition_point(|&(m, _)| f64::from(m) <= week_minute).saturating_sub(1);
        let count = s.timeline[at].1;
        let next = s.timeline.get(at + 1).map_or(f64::from(crate::scenario::WEEK_MINUTES), |&(m, _)| f64::from(m));
        if count > s.on_duty {
            for server in s.on_duty..count {
                if !s.busy[server as usize] {
                    st.free.push(server);
                    st.off_idle -= 1;
                }
            }
        } else if count < s.on_duty {
            let before = st.free.len();
            st.free.retain(|&server| server < count);
            st.off_idle += (before - st.free.len()) as u32;
        }
        s.on_duty = count;
        s.level.set(now_w, count);
        let busy = st.busy_count();
        st.busy.set(now_w, busy);
        if !st.dirty {
            st.dirty = true;
            self.dirty.push(station as u16);
        }
        self.schedule(now + (next - week_minute), What::Staff { station: station as u16 });
    }

    /// Minutes since Monday 00:00 of the week of simulated time `t`.
    fn week_minute(&self, t: f64) -> f64 {
        let instant = self.clock.instant(t);
        let day = instant.date().weekday() as u32;
        f64::from(day * 1440 + instant.minute_of_day()) + (t - t.floor())
    }

    /// An applicant joins a window queue with a patience (drawn per visit): schedules the
    /// moment it runs out and returns the visit's token (the job's `member` at a window).
    #[cold]
    #[inline(never)]
    fn wait_with_patience(&mut self, station: usize, slot: u32) -> u16 {
        let c = &mut self.cases[slot as usize];
        c.queue_token = c.queue_token.wrapping_add(1);
        c.queue_station = station as u8;
        let (token, generation) = (c.queue_token, c.generation);
        let patience = self.sc.spec.applicants.patience.as_ref().expect("checked by the caller");
        let wait = patience.sample(&mut self.draw(slot, P_PATIENCE, u64::from(token)));
        self.schedule(self.now + wait, What::Renege { slot, generation, token });
        token
    }

    /// An applicant's patience ran out: if still waiting for this visit, it leaves the queue.
    /// A first visit (consult, or intake before any service there) loses the applicant; a
    /// later one (back after a correction notice, or to pick up) is a failed trip, and the
    /// applicant comes back later.
    #[cold]
    #[inline(never)]
    pub(super) fn renege(&mut self, slot: u32, token: u16) -> Result<(), Fail> {
        let c = &self.cases[slot as usize];
        if c.queue_token != token {
            return Ok(());
        }
        let (station, generation) = (usize::from(c.queue_station), c.generation);
        let st = &mut self.stations[station];
        let Some(job) = st
            .queue
            .take(|j| j.slot == slot && j.generation == generation)
            .or_else(|| st.priority.take(|j| j.slot == slot && j.generation == generation))
        else {
            return Ok(());
        };
        if !st.dirty {
            st.dirty = true;
            self.dirty.push(station as u16);
        }
        let c = &mut self.cases[slot as usize];
        c.window_wait += self.now - job.since;
        let first_visit = station == 0 || (station == INTAKE && c.visits[INTAKE] == 0);
        if first_visit {
            return self.lose(slot, 2);
        }
        c.failed_trips += 1;
        c.away_since = self.now;
        let n = u64::from(c.failed_trips);
        if c.measured.is_some() {
            self.result.failed_trips += 1;
        }
        let back = self.sc.spec.applicants.come_back_after.as_ref().expect("validated with patience");
        let delay = back.sample(&mut self.draw(slot, P_COME_BACK, n));
        self.schedule(self.now + delay, What::ComeBack { slot, generation, station: station as u16 });
        Ok(())
    }

    /// The applicant leaves without results (`why`: 1 balked, 2 reneged): counted, its
    /// consultation withdrawn if the engine opened one, its slot freed.
    #[cold]
    #[inline(never)]
    pub(super) fn lose(&mut self, slot: u32, why: u8) -> Result<(), Fail> {
        let c = &mut self.cases[slot as usize];
        c.lost = why;
        if c.measured.is_some() {
            self.result.lost[usize::from(why) - 1] += 1;
        }
        if self.result.rows.is_some() {
            self.lost_row(slot);
        }
        if self.cases[slot as usize].id != NO_CASE {
            // The engine's `Withdrawn` reaches `note`, which lets the slot go.
            let stream = self.cases[slot as usize].stream;
            return self.exec_ok(slot, &Command::Withdraw, ActorRef::Applicant(stream));
        }
        self.leave();
        self.free_slot(slot);
        Ok(())
    }

    /// A job of a suspended case leaves its queue to wait for the resumption: its wait so far
    /// is a queue wait, its wait from now on is counted as held ([`Replication::unpark`]).
    #[cold]
    #[inline(never)]
    fn park(&mut self, station: usize, mut job: Job) {
        let wait = self.now - job.since;
        if station < WINDOW_STATIONS {
            self.cases[job.slot as usize].window_wait += wait;
        } else {
            self.members[job.slot as usize * self.stride + job.member as usize].queue_wait += wait;
        }
        job.since = self.now;
        self.parked.push((station as u16, job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_agrees_with_a_vec_deque() {
        let mut fifo = Fifo::default();
        let mut reference = std::collections::VecDeque::new();
        let mut x = 42u64;
        for i in 0..50_000u32 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            // Phases of growth and of draining, so that the ring wraps and grows while wrapped.
            let pushes = if (i / 1000) % 2 == 0 { x >> 62 } else { (x >> 63) & 1 };
            for k in 0..pushes {
                fifo.push((i, k));
                reference.push_back((i, k));
            }
            assert_eq!(fifo.pop(), reference.pop_front());
            assert_eq!(fifo.len, reference.len());
        }
        while let Some(item) = reference.pop_front() {
            assert_eq!(fifo.pop(), Some(item));
        }
        assert_eq!(fifo.pop(), None);
    }
}
