//! Civil dates and instants as plain integers.
//!
//! The core never reads a clock: every function that needs the time takes an [`Instant`].
//! Both types are `Copy` integers so that calendar arithmetic is a few array lookups
//! (see [`crate::calendar`]). All times are hall-local civil time (China has no daylight
//! saving), so no time-zone database is needed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A civil date (公历日期), stored as days since 1970-01-01.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Date(i32);

/// Day of the week, Monday first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Weekday {
    /// 星期一
    Monday,
    /// 星期二
    Tuesday,
    /// 星期三
    Wednesday,
    /// 星期四
    Thursday,
    /// 星期五
    Friday,
    /// 星期六
    Saturday,
    /// 星期日
    Sunday,
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Weekday {
    /// The Chinese name, e.g. 星期五.
    pub fn chinese(self) -> &'static str {
        ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"][self as usize]
    }

    /// Saturday or Sunday.
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }
}

/// Why a date or time string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTimeError {
    /// The text is not `YYYY-MM-DD`.
    #[error("`{0}` is not a date; write it as YYYY-MM-DD, e.g. 2026-02-13")]
    Date(String),
    /// The text is not `HH:MM`.
    #[error("`{0}` is not a time of day; write it as HH:MM, e.g. 09:00")]
    TimeOfDay(String),
    /// The text is not `YYYY-MM-DDTHH:MM`.
    #[error("`{0}` is not an instant; write it as YYYY-MM-DDTHH:MM, e.g. 2026-02-13T09:30")]
    Instant(String),
}

impl Date {
    /// Builds a date from year, month (1–12) and day (1–31); `None` if it does not exist or lies
    /// outside the representable range (about ±5.88 million years around 1970: days since the
    /// epoch must fit an `i32`). Never overflows, whatever the year.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        i32::try_from(days_from_civil(i64::from(year), month, day)).ok().map(Date)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i32) -> Date {
        Date(days)
    }

    /// Year, month, day.
    pub fn ymd(self) -> (i32, u32, u32) {
        let (year, month, day) = civil_from_days(i64::from(self.0));
        // Every i32 day count lies within ±5.9 million years, well inside i32.
        (i32::try_from(year).expect("the year of an i32 day count fits an i32"), month, day)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.ymd().0
    }

    /// Day of the week.
    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        match (i64::from(self.0) + 3).rem_euclid(7) {
            0 => Weekday::Monday,
            1 => Weekday::Tuesday,
            2 => Weekday::Wednesday,
            3 => Weekday::Thursday,
            4 => Weekday::Friday,
            5 => Weekday::Saturday,
            _ => Weekday::Sunday,
        }
    }

    /// The date `days` calendar days later (earlier if negative). Saturates at the ends of the
    /// representable range instead of overflowing; calendars cover far narrower ranges and refuse
    /// such dates as outside the calendar.
    pub fn add_days(self, days: i32) -> Date {
        Date(self.0.saturating_add(days))
    }

    /// The instant at `minute_of_day` minutes after midnight of this date.
    pub fn at_minute(self, minute_of_day: u32) -> Instant {
        Instant(i64::from(self.0) * MINUTES_PER_DAY + i64::from(minute_of_day))
    }

    /// Midnight at the start of this date.
    pub fn start(self) -> Instant {
        self.at_minute(0)
    }
}

/// Minutes in a civil day.
pub const MINUTES_PER_DAY: i64 = 24 * 60;

/// An instant in hall-local civil time, to the minute, stored as minutes since 1970-01-01T00:00.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Instant(i64);

impl Instant {
    /// The instant `minutes` minutes after 1970-01-01T00:00.
    pub const fn from_minutes(minutes: i64) -> Instant {
        Instant(minutes)
    }

    /// Minutes since 1970-01-01T00:00.
    pub const fn minutes(self) -> i64 {
        self.0
    }

    /// The civil date this instant falls on.
    pub fn date(self) -> Date {
        // Saturating, like `Date::add_days`: instants past the representable dates clamp to the end.
        Date(self.0.div_euclid(MINUTES_PER_DAY).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }

    /// Minutes after midnight.
    pub fn minute_of_day(self) -> u32 {
        self.0.rem_euclid(MINUTES_PER_DAY) as u32
    }

    /// The instant `minutes` later.
    pub const fn plus_minutes(self, minutes: i64) -> Instant {
        Instant(self.0 + minutes)
    }

    /// Builds an instant from a date and `HH:MM`.
    pub fn from_date_time(date: Date, hour: u32, minute: u32) -> Instant {
        debug_assert!(hour < 24 && minute < 60);
        date.at_minute(hour * 60 + minute)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

// Howard Hinnant's `days_from_civil`: exact for the proleptic Gregorian calendar. Computed in
// i64 so that no i32 year overflows (the result is then range-checked by the caller).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn parse_fixed(text: &str, width: usize) -> Option<u32> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_time_of_day(text: &str) -> Result<u32, ParseTimeError> {
    let err = || ParseTimeError::TimeOfDay(text.to_owned());
    let (h, m) = text.split_once(':').ok_or_else(err)?;
    let (h, m) = (parse_fixed(h, 2).ok_or_else(err)?, parse_fixed(m, 2).ok_or_else(err)?);
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(err());
    }
    Ok(h * 60 + m)
}

/// Formats minutes after midnight as `HH:MM`.
pub fn format_time_of_day(minute_of_day: u32) -> String {
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

impl FromStr for Date {
    type Err = ParseTimeError;
    fn from_str(text: &str) -> Result<Date, ParseTimeError> {
        let err = || ParseTimeError::Date(text.to_owned());
        let mut parts = text.split('-');
        let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(err());
        };
        let year = parse_fixed(y, 4).ok_or_else(err)? as i32;
        let (month, day) = (parse_fixed(m, 2).ok_or_else(err)?, parse_fixed(d, 2).ok_or_else(err)?);
        Date::from_ymd(year, month, day).ok_or_else(err)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Instant {
    type Err = ParseTimeError;
    fn from_str(text: &str) -> Result<Instant, ParseTimeError> {
        let err = || ParseTimeError::Instant(text.to_owned());
        let (date, time) = text.split_once(['T', ' ']).ok_or_else(err)?;
        let date: Date = date.parse().map_err(|_| err())?;
        let minute = parse_time_of_day(time).map_err(|_| err())?;
        Ok(date.at_minute(minute))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}T{}", self.date(), format_time_of_day(self.minute_of_day()))
    }
}

macro_rules! serde_as_string {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_as_string!(Date);
serde_as_string!(Instant);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in -146_097i64..146_097 * 2 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn known_weekdays_and_parsing() {
        let d: Date = "2026-02-13".parse().unwrap();
        assert_eq!(d.weekday(), Weekday::Friday);
        assert_eq!(d.to_string(), "2026-02-13");
        assert_eq!("2025-10-01".parse::<Date>().unwrap().weekday(), Weekday::Wednesday);
        assert!("2025-02-29".parse::<Date>().is_err());
        assert!("2024-02-29".parse::<Date>().is_ok());
        assert!("2025-1-01".parse::<Date>().is_err());
        let i: Instant = "2026-02-13T09:30".parse().unwrap();
        assert_eq!(i.to_string(), "2026-02-13T09:30");
        assert_eq!(i.minute_of_day(), 570);
        assert!("2026-02-13T25:00".parse::<Instant>().is_err());
    }
}
