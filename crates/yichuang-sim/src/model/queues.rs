//! Stations and their queues: a window class or a department ([`Station`]), its FIFO ring
//! buffers ([`Fifo`]), putting a job in a queue, freeing a server, and starting the next job
//! on every free server.

use yichuang_core::{Actor, CaseId, Ctx};

use super::results::VisitRow;
use super::{Fail, P_REVIEW, P_SERVICE, Replication, WINDOW_STATIONS, What};
use crate::stats::{Level, Tally};

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
        st.free.push(server);
        let busy = st.servers - st.free.len() as u32;
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
        let busy = st.servers - st.free.len() as u32;
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
        self.members[base].queue_wait += wait;
        self.members[base].visits += 1;
        let visit = self.members[base].visits;
        let bundle_ix = self.bundle_of(job.slot);
        let item_ix = self.def.bundle(bundle_ix).members[job.member as usize].item;
        if first {
            self.members[base].claimed = self.now;
            let cmd = &self.members_of[bundle_ix.index()][job.member as usize].claim;
            let actor = &self.stations[station].actors[server as usize];
            let id = CaseId(self.cases[job.slot as usize].id);
            let ctx = Ctx { now: self.now_i, actor };
            self.timers_touched = true;
            let r = self.engine.execute_into(id, cmd, &ctx, &mut self.out);
            self.after_command(r, job.slot, "claim")?;
        }
        let review = self.sc.reviews[item_ix.index()].as_ref().expect("validated: every member item has a review");
        Ok(review.time.sample(&mut self.draw(job.slot, P_REVIEW, u64::from(job.member) << 16 | u64::from(visit))))
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
