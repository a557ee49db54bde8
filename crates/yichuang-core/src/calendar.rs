//! The working-day calendar (工作日历).
//!
//! A working day is Monday–Friday and not a statutory holiday, or a make-up working day
//! (调休上班日). Holidays are data published yearly by the State Council, never computed
//! (domain-notes §7). Periods "N working days from D" count from the next working day and end at
//! the close of office hours on the Nth working day (行政许可法 Art. 82, 民法典 Art. 201).
//!
//! Every query is O(1): building the calendar precomputes, for each covered day, whether it is a
//! working day and how many working days precede it; office hours are a handful of intervals.

use serde::Serialize;

use crate::time::{Date, Instant, format_time_of_day};

/// The first year a calendar may cover (the loader refuses earlier `calendar.years`).
pub const MIN_YEAR: i32 = 1900;
/// The last year a calendar may cover (the loader refuses later `calendar.years`).
pub const MAX_YEAR: i32 = 2999;

/// What to do about a year the calendar does not cover.
fn year_advice(year: &i32) -> String {
    if (MIN_YEAR..=MAX_YEAR).contains(year) {
        format!("add the official table for {year} to the definition's `calendar.years`")
    } else {
        format!("calendars cover years {MIN_YEAR}–{MAX_YEAR} only")
    }
}

/// Why a calendar query could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The date lies outside the years whose holiday tables the definition ships.
    #[error("{date} is outside the calendar: holiday tables cover {first_year}–{last_year}; {}", year_advice(.year))]
    OutOfRange {
        /// The date asked about.
        date: Date,
        /// Its year.
        year: i32,
        /// First covered year.
        first_year: i32,
        /// Last covered year.
        last_year: i32,
    },
    /// A whole year asked about lies outside the years whose holiday tables the definition ships.
    #[error("year {year} is outside the calendar: holiday tables cover {first_year}–{last_year}; {}", year_advice(.year))]
    YearOutOfRange {
        /// The year asked about.
        year: i32,
        /// First covered year.
        first_year: i32,
        /// Last covered year.
        last_year: i32,
    },
}

/// One office period of a working day, in minutes after midnight, `[open, close)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OfficePeriod {
    /// Opening time, minutes after midnight.
    pub open: u32,
    /// Closing time, minutes after midnight.
    pub close: u32,
}

/// A validated working-day calendar. Built only by the definition loader (or
/// [`Calendar::always_open`] for 24/7 simulations).
#[derive(Debug, Clone)]
pub struct Calendar {
    first: Date,
    first_year: i32,
    last_year: i32,
    /// `working[i]`: day `first + i` is a working day.
    working: Vec<bool>,
    /// `rank[i]`: working days in `[first, first + i)`.
    rank: Vec<u32>,
    /// Offsets from `first` of the working days, in order.
    workdays: Vec<u32>,
    periods: Vec<OfficePeriod>,
    day_minutes: u32,
}

/// Facts about one day, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayInfo {
    /// The date.
    pub date: Date,
    /// Whether it is a working day.
    pub working: bool,
    /// Holiday name when it is a holiday (节假日), `调休上班` for a make-up day.
    pub note: Option<String>,
}

impl Calendar {
    /// Builds a calendar over `first_year..=last_year` from per-date overrides. Called by the
    /// definition loader after it has validated the tables (years within
    /// [`MIN_YEAR`]`..=`[`MAX_YEAR`]).
    pub(crate) fn build(
        first_year: i32,
        last_year: i32,
        holidays: &[Date],
        makeup_days: &[Date],
        periods: Vec<OfficePeriod>,
    ) -> Calendar {
        assert!(first_year <= last_year, "calendar needs at least one year");
        assert!(!periods.is_empty(), "calendar needs office hours");
        let first = Date::from_ymd(first_year, 1, 1).expect("January 1st exists");
        let end = Date::from_ymd(last_year + 1, 1, 1).expect("January 1st exists");
        let len = (end.days_since_epoch() - first.days_since_epoch()) as usize;
        let mut working: Vec<bool> = (0..len).map(|i| !first.add_days(i as i32).weekday().is_weekend()).collect();
        for d in holidays {
            working[(d.days_since_epoch() - first.days_since_epoch()) as usize] = false;
        }
        for d in makeup_days {
            working[(d.days_since_epoch() - first.days_since_epoch()) as usize] = true;
        }
        Calendar::from_flags(first, first_year, last_year, working, periods)
    }

    fn from_flags(
        first: Date,
        first_year: i32,
        last_year: i32,
        working: Vec<bool>,
        periods: Vec<OfficePeriod>,
    ) -> Calendar {
        let mut rank = Vec::with_capacity(working.len() + 1);
        let mut workdays = Vec::new();
        let mut count = 0u32;
        for (i, &w) in working.iter().enumerate() {
            rank.push(count);
            if w {
                workdays.push(i as u32);
                count += 1;
            }
        }
        rank.push(count);
        let day_minutes = periods.iter().map(|p| p.close - p.open).sum();
        debug_assert!(periods.windows(2).all(|w| w[0].close <= w[1].open));
        Calendar { first, first_year, last_year, working, rank, workdays, periods, day_minutes }
    }

    /// A calendar in which every day is a working day and the office never closes: the 24/7
    /// hall of simulation scenarios. Covers `first_year..=last_year`.
    pub fn always_open(first_year: i32, last_year: i32) -> Calendar {
        let first = Date::from_ymd(first_year, 1, 1).expect("January 1st exists");
        let end = Date::from_ymd(last_year + 1, 1, 1).expect("January 1st exists");
        let len = (end.days_since_epoch() - first.days_since_epoch()) as usize;
        let periods = vec![OfficePeriod { open: 0, close: 24 * 60 }];
        Calendar::from_flags(first, first_year, last_year, vec![true; len], periods)
    }

    /// First and last covered year.
    pub fn covered_years(&self) -> (i32, i32) {
        (self.first_year, self.last_year)
    }

    /// Office periods of a working day.
    pub fn office_periods(&self) -> &[OfficePeriod] {
        &self.periods
    }

    /// Working minutes in one working day.
    pub fn day_minutes(&self) -> u32 {
        self.day_minutes
    }

    fn index(&self, date: Date) -> Result<usize, CalendarError> {
        let offset = date.days_since_epoch() - self.first.days_since_epoch();
        if offset < 0 || offset as usize >= self.working.len() {
            return Err(self.out_of_range(date));
        }
        Ok(offset as usize)
    }

    fn out_of_range(&self, date: Date) -> CalendarError {
        CalendarError::OutOfRange { date, year: date.year(), first_year: self.first_year, last_year: self.last_year }
    }

    fn date_of(&self, index: u32) -> Date {
        self.first.add_days(index as i32)
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: Date) -> Result<bool, CalendarError> {
        Ok(self.working[self.index(date)?])
    }

    /// The date `n` working days after `date`, counting from the next working day
    /// (`n = 0` gives `date` itself). 2025-09-26 + 5 = 2025-10-10.
    pub fn add_working_days(&self, date: Date, n: u32) -> Result<Date, CalendarError> {
        let i = self.index(date)?;
        if n == 0 {
            return Ok(date);
        }
        // Working days up to and including `date`; the next one has that rank.
        let done = self.rank[i + 1] as usize;
        let target = done + n as usize - 1;
        match self.workdays.get(target) {
            Some(&offset) => Ok(self.date_of(offset)),
            None => Err(self.out_of_range(self.date_of(self.working.len() as u32))),
        }
    }

    /// Working days in `(from, to]`: how many working days after `from` up to `to`; negative if
    /// `to` is before `from`.
    pub fn working_days_between(&self, from: Date, to: Date) -> Result<i64, CalendarError> {
        let (a, b) = (self.index(from)?, self.index(to)?);
        Ok(i64::from(self.rank[b + 1]) - i64::from(self.rank[a + 1]))
    }

    /// Working days in the whole of `year`.
    pub fn working_days_in_year(&self, year: i32) -> Result<u32, CalendarError> {
        if !(self.first_year..=self.last_year).contains(&year) {
            return Err(CalendarError::YearOutOfRange { year, first_year: self.first_year, last_year: self.last_year });
        }
        let start = Date::from_ymd(year, 1, 1).expect("January 1st exists");
        let end = Date::from_ymd(year, 12, 31).expect("December 31st exists");
        let (a, b) = (self.index(start)?, self.index(end)?);
        Ok(self.rank[b + 1] - self.rank[a])
    }

    /// The next working day strictly after `date`.
    pub fn next_working_day(&self, date: Date) -> Result<Date, CalendarError> {
        self.add_working_days(date, 1)
    }

    /// Office minutes of a working day that lie before `minute_of_day`.
    fn office_minutes_before(&self, minute_of_day: u32) -> u32 {
        self.periods.iter().map(|p| minute_of_day.clamp(p.open, p.close) - p.open).sum()
    }

    /// Working minutes from the calendar's first instant to `t`.
    fn cumulative_minutes(&self, t: Instant) -> Result<i64, CalendarError> {
        let date = t.date();
        let i = self.index(date)?;
        let whole = i64::from(self.rank[i]) * i64::from(self.day_minutes);
        let partial = if self.working[i] { self.office_minutes_before(t.minute_of_day()) } else { 0 };
        Ok(whole + i64::from(partial))
    }

    /// Working time (within office hours, on working days) between two instants, in minutes;
    /// negative if `to` is before `from`.
    pub fn working_minutes_between(&self, from: Instant, to: Instant) -> Result<i64, CalendarError> {
        Ok(self.cumulative_minutes(to)? - self.cumulative_minutes(from)?)
    }

    /// The earliest instant at which `minutes` working minutes have elapsed since `start`
    /// (`start` itself for 0). Landing exactly on a closing time gives that closing time.
    pub fn advance_working_minutes(&self, start: Instant, minutes: i64) -> Result<Instant, CalendarError> {
        assert!(minutes >= 0, "cannot advance by negative working time");
        if minutes == 0 {
            self.index(start.date())?;
            return Ok(start);
        }
        let target = self.cumulative_minutes(start)? + minutes;
        let day_minutes = i64::from(self.day_minutes);
        let (mut day, mut rem) = (target / day_minutes, target % day_minutes);
        if rem == 0 {
            day -= 1;
            rem = day_minutes;
        }
        let Some(&offset) = self.workdays.get(day as usize) else {
            return Err(self.out_of_range(self.date_of(self.working.len() as u32)));
        };
        Ok(self.date_of(offset).at_minute(self.minute_at_office_offset(rem as u32)))
    }

    /// The minute of day at which `offset` office minutes of a working day have elapsed
    /// (`0 < offset <= day_minutes`).
    fn minute_at_office_offset(&self, mut offset: u32) -> u32 {
        debug_assert!(offset > 0 && offset <= self.day_minutes);
        for p in &self.periods {
            let len = p.close - p.open;
            if offset <= len {
                return p.open + offset;
            }
            offset -= len;
        }
        unreachable!("offset is within the working day")
    }

    /// Opening instant of a working day.
    pub fn office_open(&self, date: Date) -> Instant {
        date.at_minute(self.periods[0].open)
    }

    /// Closing instant of a working day.
    pub fn office_close(&self, date: Date) -> Instant {
        date.at_minute(self.periods[self.periods.len() - 1].close)
    }

    /// Facts about one day.
    pub fn day_info(&self, date: Date, notes: &[(Date, String)]) -> Result<DayInfo, CalendarError> {
        let working = self.is_working_day(date)?;
        let note = notes.iter().find(|(d, _)| *d == date).map(|(_, n)| n.clone());
        Ok(DayInfo { date, working, note })
    }

    /// Office hours as text, e.g. `09:00–12:00, 13:30–17:30`.
    pub fn office_hours_text(&self) -> String {
        self.periods
            .iter()
            .map(|p| format!("{}–{}", format_time_of_day(p.open), format_time_of_day(p.close)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
