//! The simulated clock: continuous minutes since the scenario's start, mapped to the engine's
//! [`Instant`] (whole minutes) and to working time on the hall's calendar.
//!
//! Services and reviews last a number of *working* minutes: work stops when the hall closes and
//! resumes when it opens. The mapping uses the calendar's O(1) queries: working time `W(t)` is
//! piecewise linear in `t` with breaks at whole minutes, so `W(t) = W(⌊t⌋) + frac(t) · open(⌊t⌋)`,
//! and the inverse lands inside the working minute that completes the work.

use yichuang_core::calendar::Calendar;
use yichuang_core::{CalendarError, Instant};

/// Simulated time ↔ engine instants ↔ working time.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    start: Instant,
    always_open: bool,
}

impl Clock {
    /// A clock starting at `start`; `always_open` makes working time equal to calendar time.
    pub fn new(start: Instant, always_open: bool) -> Clock {
        Clock { start, always_open }
    }

    /// The engine instant of simulated time `t` (minutes since the start).
    pub fn instant(&self, t: f64) -> Instant {
        self.instant_at(floor_minutes(t))
    }

    /// The engine instant of whole minute `minute` (since the start): `instant(t)` is
    /// `instant_at(floor_minutes(t))`.
    pub fn instant_at(&self, minute: i64) -> Instant {
        self.start.plus_minutes(minute)
    }

    /// Simulated time (minutes since the start) of an engine instant.
    pub fn time_of(&self, i: Instant) -> f64 {
        (i.minutes() - self.start.minutes()) as f64
    }

    /// Working minutes from the start to `t`.
    pub fn work(&self, cal: &Calendar, t: f64) -> Result<f64, CalendarError> {
        if self.always_open {
            return Ok(t);
        }
        beyond(cal, t)?;
        let minutes = floor_minutes(t);
        let whole = minutes as f64;
        let m = self.start.plus_minutes(minutes);
        let before = cal.working_minutes_between(self.start, m)? as f64;
        let frac = t - whole;
        if frac == 0.0 {
            return Ok(before);
        }
        let open = cal.working_minutes_between(m, m.plus_minutes(1))? as f64;
        Ok(before + frac * open)
    }

    /// The simulated time at which `w` working minutes have elapsed since the start.
    pub fn time_of_work(&self, cal: &Calendar, w: f64) -> Result<f64, CalendarError> {
        if self.always_open {
            return Ok(w);
        }
        beyond(cal, w)?;
        let minutes = floor_minutes(w);
        let frac = w - minutes as f64;
        if frac == 0.0 {
            let at = cal.advance_working_minutes(self.start, minutes)?;
            return Ok(self.time_of(at));
        }
        // The (n+1)-th working minute is the minute just before the instant at which n + 1
        // working minutes have elapsed.
        let end = cal.advance_working_minutes(self.start, minutes + 1)?;
        Ok(self.time_of(end) - 1.0 + frac)
    }
}

/// Refuses a span of minutes longer than the calendar could hold (or not a number), before any
/// integer arithmetic on it can overflow: a duration of 1e19 minutes is a calendar error, not a
/// panic.
fn beyond(cal: &Calendar, minutes: f64) -> Result<(), CalendarError> {
    let (first_year, last_year) = cal.covered_years();
    let span = f64::from(last_year - first_year + 2) * 366.0 * 1440.0;
    if minutes.abs() < span { Ok(()) } else { Err(past_the_end(cal)) }
}

/// The first instant the calendar does not cover: January 1st after its last year.
pub(crate) fn calendar_end(cal: &Calendar) -> Instant {
    let year = cal.covered_years().1 + 1;
    yichuang_core::Date::from_ymd(year, 1, 1).expect("January 1st exists").start()
}

/// The calendar's error for [`calendar_end`].
pub(crate) fn past_the_end(cal: &Calendar) -> CalendarError {
    let (first_year, last_year) = cal.covered_years();
    let date = calendar_end(cal).date();
    CalendarError::OutOfRange { date, year: date.year(), first_year, last_year }
}

/// `⌊t⌋` as an integer, exactly `t.floor() as i64`: for the times ≥ 0 the simulator uses, a
/// truncating conversion (a couple of instructions) instead of a call to `floor` (the target
/// has no rounding instruction).
pub(crate) fn floor_minutes(t: f64) -> i64 {
    if t >= 0.0 { t as i64 } else { t.floor() as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yichuang_core::Definition;

    #[test]
    fn work_stops_when_the_hall_closes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/minimal.ron");
        let def = Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap();
        let cal = def.calendar();
        // Monday 2026-03-02 08:00: the office opens at 09:00, lunch 12:00–13:30, closes 17:30.
        let start: Instant = "2026-03-02T08:00".parse().unwrap();
        let clock = Clock::new(start, false);
        assert_eq!(clock.work(cal, 60.0).unwrap(), 0.0);
        assert_eq!(clock.work(cal, 90.5).unwrap(), 30.5);
        // 200 working minutes from 09:00: 180 before lunch, 20 after 13:30 → 13:50 = 350 min.
        assert_eq!(clock.time_of_work(cal, 200.0).unwrap(), 350.0);
        assert_eq!(clock.time_of_work(cal, 199.5).unwrap(), 349.5);
        assert_eq!(clock.time_of_work(cal, 180.25).unwrap(), 330.25);
        for w in [0.0, 0.5, 17.25, 180.0, 181.75, 420.0, 600.5] {
            let t = clock.time_of_work(cal, w).unwrap();
            assert!((clock.work(cal, t).unwrap() - w).abs() < 1e-9, "round trip of {w}");
        }
        let open = Clock::new(start, true);
        assert_eq!(open.time_of_work(cal, 123.5).unwrap(), 123.5);
        assert_eq!(open.instant(59.9), start.plus_minutes(59));
    }

    #[test]
    fn floor_minutes_is_floor() {
        for t in [0.0, -0.0, 0.5, 1.0, 59.999, 1e15 + 0.5, 1e300, -0.5, -1.0, -2.5, f64::INFINITY, f64::NAN] {
            assert_eq!(floor_minutes(t), t.floor() as i64, "{t}");
        }
    }
}
