//! The SLA overlay (时限监控): promised deadlines in working time, excluding paused time, with
//! a warning (预警) at the policy threshold and then overdue (逾期).
//!
//! A clock counts working minutes on the definition's calendar. "N working days" start at the
//! opening of the next working day after the clock starts and end at the close of the Nth
//! working day; `N = 0` (即办件) ends at the close of the same working day. Pauses (特别程序,
//! 行政许可法 Art. 45; suspension) shift every later timer by the working time they lasted.

use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, CalendarError};
use crate::time::Instant;

/// Traffic-light level of a clock (时限状态: 正常 / 预警 / 逾期).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SlaLevel {
    /// 正常.
    Normal,
    /// 预警: the warning threshold has passed.
    Warning,
    /// 逾期: the promised deadline has passed.
    Overdue,
}

/// One running SLA clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sla {
    /// Where counting starts (opening of the next working day, or the start itself for 0 days).
    pub start: Instant,
    /// Promised working minutes.
    pub budget_minutes: i64,
    /// Working minutes spent paused so far (closed pauses).
    pub paused_minutes: i64,
    /// Start of the current pause, if paused.
    pub paused_since: Option<Instant>,
    /// Current level.
    pub level: SlaLevel,
    /// Whether the clock has stopped for good (work done).
    pub stopped: bool,
    /// The next level change, kept current by every method that changes the clock, so that
    /// the engine's scheduler reads a field instead of recomputing calendar arithmetic after
    /// every command.
    #[serde(skip)]
    due: Option<Instant>,
}

impl Sla {
    /// Starts a clock at `now` for `days` promised working days, warning at `warning_percent`.
    pub fn start(cal: &Calendar, now: Instant, days: u32, warning_percent: u32) -> Result<Sla, CalendarError> {
        let today = now.date();
        let (start, budget_minutes) = if days == 0 {
            let close = if cal.is_working_day(today)? && now < cal.office_close(today) {
                cal.office_close(today)
            } else {
                cal.office_close(cal.next_working_day(today)?)
            };
            (now, cal.working_minutes_between(now, close)?)
        } else {
            let first = cal.next_working_day(today)?;
            (cal.office_open(first), i64::from(days) * i64::from(cal.day_minutes()))
        };
        let mut sla = Sla {
            start,
            budget_minutes,
            paused_minutes: 0,
            paused_since: None,
            level: SlaLevel::Normal,
            stopped: false,
            due: None,
        };
        sla.due = sla.compute_due(cal, warning_percent);
        Ok(sla)
    }

    /// A clock as a snapshot kept it, with its next level change (`due`).
    pub(crate) fn from_parts(
        start: Instant,
        budget_minutes: i64,
        paused_minutes: i64,
        paused_since: Option<Instant>,
        level: SlaLevel,
        stopped: bool,
        due: Option<Instant>,
    ) -> Sla {
        Sla { start, budget_minutes, paused_minutes, paused_since, level, stopped, due }
    }

    /// The promised deadline, shifted by closed pauses.
    pub fn deadline(&self, cal: &Calendar) -> Result<Instant, CalendarError> {
        cal.advance_working_minutes(self.start, self.budget_minutes + self.paused_minutes)
    }

    /// When the next level change is due, if the clock runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.due
    }

    fn compute_due(&self, cal: &Calendar, warning_percent: u32) -> Option<Instant> {
        if self.stopped || self.paused_since.is_some() {
            return None;
        }
        let minutes = match self.level {
            SlaLevel::Normal => self.budget_minutes * i64::from(warning_percent) / 100,
            SlaLevel::Warning => self.budget_minutes,
            SlaLevel::Overdue => return None,
        };
        // A calendar error here means the deadline lies past the covered years: no timer can be
        // honoured there, so none is scheduled. The hall must add next year's holiday table
        // before deadlines reach it; `yichuang calendar … year` shows what is covered.
        cal.advance_working_minutes(self.start, minutes + self.paused_minutes).ok()
    }

    /// Recomputes the next level change after the budget changed.
    pub(crate) fn refresh(&mut self, cal: &Calendar, warning_percent: u32) {
        self.due = self.compute_due(cal, warning_percent);
    }

    /// Pauses the clock at `now` (idempotent).
    pub fn pause(&mut self, now: Instant) {
        if self.paused_since.is_none() && !self.stopped {
            self.paused_since = Some(now);
            self.due = None;
        }
    }

    /// Resumes the clock at `now`, adding the paused working time.
    pub fn resume(&mut self, cal: &Calendar, now: Instant, warning_percent: u32) {
        if let Some(since) = self.paused_since.take() {
            self.paused_minutes += cal.working_minutes_between(since, now).unwrap_or(0).max(0);
            self.due = self.compute_due(cal, warning_percent);
        }
    }

    /// Raises the level (预警, 逾期); lower or equal levels are ignored.
    pub fn raise(&mut self, level: SlaLevel, cal: &Calendar, warning_percent: u32) {
        if level > self.level {
            self.level = level;
            self.due = self.compute_due(cal, warning_percent);
        }
    }

    /// Starts a stopped clock again where it stopped counting from (a recalled approval, 撤回:
    /// the time it stood approved counts, as review time). A running clock is unchanged.
    pub(crate) fn reopen(&mut self, cal: &Calendar, warning_percent: u32) {
        if self.stopped {
            self.stopped = false;
            self.due = self.compute_due(cal, warning_percent);
        }
    }

    /// Stops the clock for good: the work is done.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.due = None;
    }
}
