//! `yichuang calendar FILE add|between|year`: working-day arithmetic on a definition's calendar.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;
use yichuang_core::calendar::Calendar;
use yichuang_core::time::{Date, Instant};
use yichuang_core::{CalendarError, Definition};

use crate::cmd::load_definition;
use crate::failure::Failure;
use crate::text::{Table, weekday_names};

/// Working-day arithmetic (工作日计算) on the calendar of a definition.
///
/// The calendar is the definition's table of statutory holidays (法定节假日) and make-up working
/// days (调休上班日) as published each year, with its office hours (办公时间). A date outside the
/// covered years is an error (exit 2).
///
/// Periods "N working days from D" count from the next working day after D (行政许可法 Art. 82).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Definition file (RON) whose `calendar` is used.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// What to compute.
    #[command(subcommand)]
    pub query: Query,
    /// Output format: `text` or `json`.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,
}

/// Output format of `calendar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text.
    Text,
    /// JSON.
    Json,
}

/// A calendar query.
#[derive(Debug, clap::Subcommand)]
pub enum Query {
    /// The date N working days after DATE, counting from the next working day (`0` gives DATE).
    Add {
        /// Start date (e.g. 受理日期), YYYY-MM-DD.
        #[arg(value_name = "DATE")]
        date: Date,
        /// Number of working days.
        #[arg(value_name = "N")]
        days: u32,
    },
    /// Working days in (FROM, TO] and working minutes (office hours, 办公时间) between FROM and TO.
    ///
    /// A bare date means the start of that day (00:00).
    Between {
        /// YYYY-MM-DD or YYYY-MM-DDTHH:MM.
        #[arg(value_name = "FROM")]
        from: Moment,
        /// YYYY-MM-DD or YYYY-MM-DDTHH:MM.
        #[arg(value_name = "TO")]
        to: Moment,
    },
    /// Working days of a year, its holidays (节假日) and make-up working days (调休上班日).
    Year {
        /// The year, e.g. 2026.
        #[arg(value_name = "YEAR")]
        year: i32,
    },
}

/// A date (meaning its start) or an instant, as given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct Moment(Instant);

impl FromStr for Moment {
    type Err = String;
    fn from_str(text: &str) -> Result<Moment, String> {
        if let Ok(date) = text.parse::<Date>() {
            return Ok(Moment(date.start()));
        }
        text.parse::<Instant>().map(Moment).map_err(|_| {
            format!("`{text}` is not a date or an instant; write YYYY-MM-DD or YYYY-MM-DDTHH:MM, e.g. 2026-02-13T09:30")
        })
    }
}

/// Runs `calendar`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let def = load_definition(&args.file)?;
    let calendar = def.calendar();
    let json = args.format == Format::Json;
    let text = match &args.query {
        Query::Add { date, days } => add(calendar, *date, *days, json),
        Query::Between { from, to } => between(calendar, from.0, to.0, json),
        Query::Year { year } => year_report(&def, *year, json),
    }
    .map_err(|e| Failure::input(e.to_string()))?;
    out.write_all(text.as_bytes())?;
    Ok(())
}

fn to_json(value: &impl Serialize) -> String {
    // These are plain structs of strings and numbers; serialising them cannot fail.
    let mut text = serde_json::to_string_pretty(value).expect("plain data serialises");
    text.push('\n');
    text
}

#[derive(Serialize)]
struct AddReport {
    from: Date,
    working_days: u32,
    date: Date,
    weekday: &'static str,
    weekday_zh: &'static str,
}

fn add(calendar: &Calendar, from: Date, days: u32, json: bool) -> Result<String, CalendarError> {
    let date = calendar.add_working_days(from, days)?;
    let (weekday, weekday_zh) = weekday_names(date.weekday());
    if json {
        return Ok(to_json(&AddReport { from, working_days: days, date, weekday, weekday_zh }));
    }
    Ok(format!("{date} {weekday} ({weekday_zh})\n"))
}

#[derive(Serialize)]
struct BetweenReport {
    from: Instant,
    to: Instant,
    /// Working days in `(from.date, to.date]`.
    working_days: i64,
    /// Working minutes from `from` to `to`.
    working_minutes: i64,
    /// Working minutes in one working day.
    day_minutes: u32,
}

fn between(calendar: &Calendar, from: Instant, to: Instant, json: bool) -> Result<String, CalendarError> {
    let report = BetweenReport {
        from,
        to,
        working_days: calendar.working_days_between(from.date(), to.date())?,
        working_minutes: calendar.working_minutes_between(from, to)?,
        day_minutes: calendar.day_minutes(),
    };
    if json {
        return Ok(to_json(&report));
    }
    let minutes = report.working_minutes;
    Ok(format!(
        "working days (工作日) in ({}, {}]: {}\n\
         working minutes (工作时间) from {from} to {to}: {minutes} min = {}{}h{:02} \
         ({} min per working day, office hours {})\n",
        from.date(),
        to.date(),
        report.working_days,
        if minutes < 0 { "-" } else { "" },
        minutes.abs() / 60,
        minutes.abs() % 60,
        report.day_minutes,
        calendar.office_hours_text(),
    ))
}

#[derive(Serialize)]
struct Holiday {
    name: String,
    from: Date,
    to: Date,
    days: u32,
}

#[derive(Serialize)]
struct YearReport {
    year: i32,
    working_days: u32,
    holidays: Vec<Holiday>,
    makeup_workdays: Vec<Date>,
}

fn year_report(def: &Definition, year: i32, json: bool) -> Result<String, CalendarError> {
    let calendar = def.calendar();
    let working_days = calendar.working_days_in_year(year)?;
    let mut holidays: Vec<Holiday> = Vec::new();
    let mut makeup_workdays = Vec::new();
    for (date, name) in def.holiday_notes().iter().filter(|(d, _)| d.year() == year) {
        // A note on a working day marks a make-up day; on a day off, a holiday.
        if calendar.is_working_day(*date)? {
            makeup_workdays.push(*date);
            continue;
        }
        match holidays.last_mut() {
            Some(h) if h.name == *name && h.to.add_days(1) == *date => {
                h.to = *date;
                h.days += 1;
            }
            _ => holidays.push(Holiday { name: name.clone(), from: *date, to: *date, days: 1 }),
        }
    }
    let report = YearReport { year, working_days, holidays, makeup_workdays };
    if json {
        return Ok(to_json(&report));
    }
    Ok(year_text(&report))
}

fn short_day(date: Date) -> String {
    let (english, _) = weekday_names(date.weekday());
    format!("{date} {}", &english[..3])
}

fn year_text(report: &YearReport) -> String {
    let mut s = format!("{}: {} working days (工作日)\n\nholidays (法定节假日):\n", report.year, report.working_days);
    let mut table = Table::new(["name", "from", "to", "days"]);
    for h in &report.holidays {
        table.row([h.name.clone(), short_day(h.from), short_day(h.to), h.days.to_string()]);
    }
    if report.holidays.is_empty() {
        s.push_str("  (none)\n");
    } else {
        s.push_str(&table.render(2));
    }
    s.push_str("\nmake-up working days (调休上班日):\n");
    if report.makeup_workdays.is_empty() {
        s.push_str("  (none)\n");
    }
    for d in &report.makeup_workdays {
        let _ = writeln!(s, "  {}", short_day(*d));
    }
    s
}
