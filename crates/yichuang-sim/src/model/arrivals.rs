//! Arrivals: the Poisson arrival streams (constant, hourly by weekday, or a trace) and a new
//! case's per-case draws (consult, green channel, credit, missing materials).

use super::{CaseRec, Fail, INTAKE, MEMBER_EMPTY, P_BALK, P_BLOCKED, P_CONSULT, P_GREEN, P_MISSING, Replication, What};
use crate::random::{Stream, derive};
use crate::scenario::{Rate, WarmUp};

impl<K: super::Keep> Replication<'_, K> {
    /// No arrival will come: the arrival period, over which the stations' offered load and
    /// the growth of their queues are judged, ends now.
    #[cold]
    #[inline(never)]
    fn close_arrivals(&mut self) {
        self.counting_arrivals = false;
        if self.arrivals_end.is_none() {
            self.arrivals_end = Some((self.now, self.now_w));
        }
    }

    pub(super) fn next_arrival(&mut self, k: usize, from: f64) {
        let sc = self.sc;
        let office_hours = sc.spec.hall == crate::scenario::Hall::OfficeHours;
        let t = match &sc.arrivals[k].rate {
            Rate::PerHour(r) if !office_hours => Some(from + self.streams[k].rng.exp1() * 60.0 / r),
            Rate::PerHour(r) => {
                let need = self.streams[k].rng.exp1();
                self.piecewise_next(from, need, |_, _| r / 60.0)
            }
            Rate::Trace(times) => {
                let s = &mut self.streams[k];
                let t = times.get(s.trace_pos).copied();
                s.trace_pos += 1;
                t
            }
            Rate::Hourly { per_hour, weekdays } => {
                let need = self.streams[k].rng.exp1();
                self.piecewise_next(from, need, |hour, weekday| {
                    per_hour[hour] * weekdays.as_ref().map_or(1.0, |w| w[weekday]) / 60.0
                })
            }
        };
        match t {
            Some(t) if t <= self.horizon => self.schedule(t, What::Arrival { stream: k as u16 }),
            _ => {
                self.arrivals_open = self.arrivals_open.saturating_sub(1);
                if self.arrivals_open == 0 && self.horizon.is_infinite() {
                    // The last arrival has come (a `Days` stop runs its arrival period to the end).
                    self.close_arrivals();
                }
            }
        }
    }

    /// Inverts the integrated piecewise-constant rate (per minute, by hour of day and weekday):
    /// the time at which `need` expected arrivals have accumulated after `from`. In an
    /// office-hours hall the rate is 0 while the hall is closed.
    ///
    /// `None` when the arrival would come after a `Days` stop. When it would come after the
    /// calendar's end (an office-hours hall has no office hours there), the end itself: the run
    /// stops there with a calendar error, as it does in a 24/7 hall, unless the arrivals owed
    /// have come from other streams before.
    #[inline(never)]
    fn piecewise_next(&self, from: f64, mut need: f64, rate_at: impl Fn(usize, usize) -> f64) -> Option<f64> {
        let cal = self.def.calendar();
        let office_hours = self.sc.spec.hall == crate::scenario::Hall::OfficeHours;
        let open_at = |i: yichuang_core::Instant| cal.working_minutes_between(i, i.plus_minutes(1)).unwrap_or(0) == 1;
        let past_the_end = (self.calendar_end < self.horizon).then_some(self.calendar_end);
        let mut t = from;
        // Each step ends at an hour boundary, an opening or a closing: ten years of hours bound it.
        for _ in 0..(3660 * 24 * 3) {
            if t >= self.horizon {
                return None;
            }
            if t >= self.calendar_end {
                return past_the_end;
            }
            let i = self.clock.instant(t);
            let minute = i.minute_of_day();
            let next_hour = t.floor() + f64::from(60 - minute % 60);
            let mut end = next_hour;
            if office_hours {
                if !open_at(i) {
                    // Closed: jump to the next opening (the start of the next working minute).
                    let Ok(next) = cal.advance_working_minutes(i, 1) else { return past_the_end };
                    t = self.clock.time_of(next) - 1.0;
                    continue;
                }
                let mut m = i.plus_minutes(1);
                while self.clock.time_of(m) < next_hour && open_at(m) {
                    m = m.plus_minutes(1);
                }
                end = self.clock.time_of(m).min(next_hour);
            }
            let rate = rate_at((minute / 60) as usize, i.date().weekday() as usize);
            let capacity = rate * (end - t);
            if rate > 0.0 && capacity >= need {
                return Some(t + need / rate);
            }
            need -= capacity;
            t = end;
        }
        past_the_end
    }

    pub(super) fn arrive(&mut self, k: usize) -> Result<(), Fail> {
        if self.arrivals >= self.arrivals_limit {
            // Arrivals already closed (another stream reached the limit).
            return Ok(());
        }
        self.arrivals += 1;
        if self.arrivals == self.arrivals_limit {
            self.arrivals_open = 0;
            self.close_arrivals();
        }
        let index = self.streams[k].count;
        self.streams[k].count += 1;
        if let WarmUp::Cases(w) = self.sc.spec.warm_up
            && self.arrivals == w + 1
        {
            self.begin_measuring();
        }
        let measured = self.measuring.then(|| {
            self.measured_arrivals += 1;
            self.measured_arrivals - 1
        });
        let slot = self.alloc();
        let key = derive(derive(self.rep_key, k as u64 + 1), index);
        let plan = &self.sc.arrivals[k];
        let draw = |purpose: u64, n: u64| Stream::new(derive(derive(key, purpose), n));
        let green = draw(P_GREEN, 0).chance(plan.green_channel);
        let blocked = draw(P_BLOCKED, 0).chance(plan.credit_blocked);
        let mut missing = 0u64;
        for (j, (_, p)) in plan.missing.iter().enumerate().take(64) {
            if draw(P_MISSING, j as u64).chance(*p) {
                missing |= 1 << j;
            }
        }
        let consult = draw(P_CONSULT, 0).chance(self.sc.spec.applicants.consult);
        let now = self.now;
        let now_w = self.now_w;
        let c = &mut self.cases[slot as usize];
        let generation = c.generation;
        *c = CaseRec::empty(plan.bundle);
        c.generation = generation;
        c.stream = k as u16;
        c.key = key;
        c.measured = measured;
        c.green = green;
        c.blocked = blocked;
        c.missing = missing;
        c.arrival = now;
        c.arrival_no = self.arrivals;
        c.arrival_w = now_w;
        let base = slot as usize * self.stride;
        self.members[base..base + self.stride].fill(MEMBER_EMPTY);
        self.active += 1;
        self.wip.set(now, self.active);
        if self.arrivals < self.arrivals_limit {
            self.next_arrival(k, now);
        }
        let first = if consult { 0 } else { INTAKE };
        if let Some(balk) = &self.sc.spec.applicants.balk
            && self.stations[first].len() > balk.queue_longer_than
            && self.draw(slot, P_BALK, 0).chance(balk.probability)
        {
            return self.lose(slot, 1);
        }
        self.enqueue(first, slot, 0);
        Ok(())
    }
}
