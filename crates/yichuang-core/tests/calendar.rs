//! Working-day calendar: the official 2025/2026 vectors (domain-notes §7.4) and O(1) arithmetic.

use yichuang_core::{Date, Definition, Instant};

fn hall() -> Definition {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hall.ron");
    Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap_or_else(|e| panic!("{e}"))
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

#[test]
fn official_vectors() {
    let def = hall();
    let cal = def.calendar();
    assert_eq!(cal.add_working_days(d("2025-09-26"), 5).unwrap(), d("2025-10-10"));
    assert_eq!(cal.add_working_days(d("2025-09-26"), 20).unwrap(), d("2025-10-30"));
    assert_eq!(cal.add_working_days(d("2026-02-13"), 3).unwrap(), d("2026-02-25"));
    assert_eq!(cal.working_days_in_year(2025).unwrap(), 248);
    assert_eq!(cal.working_days_in_year(2026).unwrap(), 248);
}

#[test]
fn make_up_days_work_and_holidays_do_not() {
    let def = hall();
    let cal = def.calendar();
    assert!(cal.is_working_day(d("2025-09-28")).unwrap(), "Sunday make-up day before 国庆");
    assert!(cal.is_working_day(d("2026-02-14")).unwrap(), "Saturday make-up day before 春节");
    assert!(!cal.is_working_day(d("2026-02-16")).unwrap(), "Monday in 春节");
    assert!(!cal.is_working_day(d("2026-03-01")).unwrap(), "ordinary Sunday");
    assert!(cal.is_working_day(d("2026-03-02")).unwrap(), "ordinary Monday");
    assert_eq!(cal.add_working_days(d("2026-02-13"), 0).unwrap(), d("2026-02-13"));
    assert_eq!(cal.next_working_day(d("2026-02-14")).unwrap(), d("2026-02-24"));
    assert_eq!(cal.working_days_between(d("2026-02-13"), d("2026-02-25")).unwrap(), 3);
    assert_eq!(cal.working_days_between(d("2026-02-25"), d("2026-02-13")).unwrap(), -3);
}

#[test]
fn out_of_range_names_the_covered_years() {
    let def = hall();
    let err = def.calendar().add_working_days(d("2030-01-02"), 1).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("2025–2026") && text.contains("2030"), "{text}");
    // Running off the end of the last covered year is also an error, not a panic.
    assert!(def.calendar().add_working_days(d("2026-12-30"), 10).is_err());
}

#[test]
fn working_minutes_within_office_hours() {
    let def = hall();
    let cal = def.calendar();
    assert_eq!(cal.day_minutes(), 420);
    let t = |s: &str| s.parse::<Instant>().unwrap();
    // Friday 11:00 to Friday 14:00: one hour before lunch, 30 minutes after.
    assert_eq!(cal.working_minutes_between(t("2026-03-06T11:00"), t("2026-03-06T14:00")).unwrap(), 90);
    // Friday 17:00 to Monday 09:30 spans the weekend: 30 + 30.
    assert_eq!(cal.working_minutes_between(t("2026-03-06T17:00"), t("2026-03-09T09:30")).unwrap(), 60);
    // Advancing lands on the same instants; exactly a closing time stays at the close.
    assert_eq!(cal.advance_working_minutes(t("2026-03-06T17:00"), 60).unwrap(), t("2026-03-09T09:30"));
    assert_eq!(cal.advance_working_minutes(t("2026-03-06T09:00"), 420).unwrap(), t("2026-03-06T17:30"));
    assert_eq!(cal.advance_working_minutes(t("2026-03-06T09:00"), 180).unwrap(), t("2026-03-06T12:00"));
    assert_eq!(cal.advance_working_minutes(t("2026-03-06T09:00"), 181).unwrap(), t("2026-03-06T13:31"));
}

proptest::proptest! {
    /// add_working_days agrees with a day-by-day walk, and between() inverts it.
    #[test]
    fn add_matches_a_naive_walk(offset in 0i32..650, n in 0u32..40) {
        let def = hall();
        let cal = def.calendar();
        let start = d("2025-01-01").add_days(offset);
        let mut walk = start;
        let mut left = n;
        while left > 0 {
            walk = walk.add_days(1);
            if cal.is_working_day(walk).unwrap() { left -= 1; }
        }
        let fast = cal.add_working_days(start, n).unwrap();
        proptest::prop_assert_eq!(fast, walk);
        proptest::prop_assert_eq!(cal.working_days_between(start, fast).unwrap(), i64::from(n));
    }

    /// Advancing by m working minutes and measuring back gives m.
    #[test]
    fn advance_inverts_between(offset in 0i64..(650 * 1440), m in 0i64..20_000) {
        let def = hall();
        let cal = def.calendar();
        let start = d("2025-01-01").start().plus_minutes(offset);
        let end = cal.advance_working_minutes(start, m).unwrap();
        proptest::prop_assert_eq!(cal.working_minutes_between(start, end).unwrap(), m);
        proptest::prop_assert!(end >= start);
    }
}

/// Any year asked about, however absurd, is an error naming the covered years, never a panic or a
/// wrapped number.
#[test]
fn a_year_far_outside_the_calendar_is_an_error() {
    let def = hall();
    for year in [i32::MIN, -1, 0, 1899, 2030, 5_880_000, 6_000_000, i32::MAX] {
        let text = def.calendar().working_days_in_year(year).unwrap_err().to_string();
        assert!(text.contains(&year.to_string()) && text.contains("2025–2026"), "{year}: {text}");
    }
}

/// Date arithmetic at the ends of the representable range neither panics nor wraps.
#[test]
fn dates_at_the_ends_of_the_range_do_not_overflow() {
    assert_eq!(Date::from_ymd(i32::MAX, 1, 1), None);
    assert_eq!(Date::from_ymd(i32::MIN, 12, 31), None);
    assert_eq!(Date::from_ymd(6_000_000, 1, 1), None);
    let far = Date::from_ymd(5_000_000, 3, 1).expect("inside the representable range");
    assert_eq!(far.ymd(), (5_000_000, 3, 1));
    for days in [i32::MIN, i32::MIN + 1, i32::MAX - 1, i32::MAX] {
        let date = Date::from_days_since_epoch(days);
        let (y, m, d) = date.ymd();
        assert_eq!(Date::from_ymd(y, m, d), Some(date), "{days}");
        let _ = date.weekday();
        assert_eq!(date.add_days(1).days_since_epoch(), days.saturating_add(1));
        assert_eq!(date.add_days(-1).days_since_epoch(), days.saturating_sub(1));
    }
}
