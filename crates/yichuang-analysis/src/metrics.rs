//! Metrics of the hall (指标), measured from the state the event log folds into: the 好差评
//! rates, the ticket loop, and the case pipeline.
//!
//! Rates are `None` when there is nothing to measure (no ratings yet, say); a target over an
//! empty population is reported as such rather than as 0 % or 100 %.

use std::collections::BTreeMap;

use serde::Serialize;

use yichuang_core::engine::Engine;
use yichuang_core::machine::case::CaseState;
use yichuang_core::machine::ticket::{TicketSource, TicketState};
use yichuang_core::time::Date;

/// A ratio with its numerator and denominator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    /// Numerator.
    pub count: u64,
    /// Denominator.
    pub of: u64,
}

impl Ratio {
    /// The percentage, or `None` over an empty population.
    pub fn percent(self) -> Option<f64> {
        (self.of > 0).then(|| 100.0 * self.count as f64 / self.of as f64)
    }
    fn new(count: usize, of: usize) -> Ratio {
        Ratio { count: count as u64, of: of as u64 }
    }
}

/// Per-department figures of the loop.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DepartmentFigures {
    /// Tickets routed to it.
    pub tickets: u64,
    /// Of which still open.
    pub open: u64,
    /// Accountability records (问责).
    pub accountability: u64,
    /// Times its tasks were urged (催办) by a leader or a supervisor, on the cases held.
    pub urged: u64,
}

/// Everything measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Ratings counted (appeals upheld excluded).
    pub ratings: u64,
    /// Ratings recorded by the default timer.
    pub default_ratings: u64,
    /// 好评率: 3–5 stars among counted ratings.
    pub good_rate: Ratio,
    /// 差评率: 1–2 stars among counted ratings.
    pub bad_rate: Ratio,
    /// 差评整改率: closed bad-rating tickets among those not excluded (must reach 100 %).
    pub bad_rating_rectification: Ratio,
    /// Tickets by source kind.
    pub tickets_by_source: BTreeMap<String, u64>,
    /// Tickets closed among all.
    pub tickets_closed: Ratio,
    /// Closed tickets closed without escalation (on time).
    pub ticket_on_time_closure: Ratio,
    /// Mean rectification rounds of closed tickets.
    pub mean_rounds: Option<f64>,
    /// Per department.
    pub departments: BTreeMap<String, DepartmentFigures>,
    /// Cases opened.
    pub cases: u64,
    /// Cases delivered (or closed or revoked after delivery).
    pub delivered: u64,
    /// Delivered cases whose case clock never went overdue.
    pub on_time: Ratio,
    /// Mean trips (跑动次数) per delivered case.
    pub trips_per_case: Option<f64>,
    /// 最多跑一次: delivered cases with at most one trip.
    pub at_most_one_trip: Ratio,
    /// Cases of industrial bundles that went through the green channel (绿色通道).
    pub green_channel: Ratio,
}

impl Metrics {
    /// Measures the engine's current state.
    pub fn measure(engine: &Engine) -> Metrics {
        Metrics::measure_until(engine, None)
    }

    /// Like [`Metrics::measure`], counting for the green-channel share only cases received on or
    /// before `until`.
    pub fn measure_until(engine: &Engine, until: Option<Date>) -> Metrics {
        let def = engine.definition();
        let excluded: Vec<_> = engine
            .tickets()
            .iter()
            .filter(|t| t.excluded())
            .filter_map(|t| match t.source() {
                TicketSource::BadRating { case, .. } => Some(case),
                _ => None,
            })
            .collect();
        let rated: Vec<_> =
            engine.cases().filter(|c| !excluded.contains(&&c.id())).filter_map(|c| c.rating()).collect();
        let good = rated.iter().filter(|r| r.stars >= 3).count();
        let bad_tickets: Vec<_> = engine
            .tickets()
            .iter()
            .filter(|t| matches!(t.source(), TicketSource::BadRating { .. }) && !t.excluded())
            .collect();
        let closed: Vec<_> = engine.tickets_in(TicketState::Closed).collect();
        let mut by_source = BTreeMap::new();
        let mut departments: BTreeMap<String, DepartmentFigures> = BTreeMap::new();
        for t in engine.tickets() {
            *by_source.entry(t.source().kind().to_owned()).or_insert(0) += 1;
            let d = departments.entry(t.department().to_string()).or_default();
            d.tickets += 1;
            d.open += u64::from(t.state() != TicketState::Closed);
            d.accountability += t.accountability().len() as u64;
        }
        for task in engine.cases().flat_map(|c| c.tasks()).filter(|t| t.urged() > 0) {
            let department = def.item(task.item()).decided_by.departments()[0];
            departments.entry(def.department(department).id.to_string()).or_default().urged += u64::from(task.urged());
        }
        let delivered: Vec<_> = engine
            .cases()
            .filter(|c| {
                c.delivered().is_some()
                    && matches!(c.state(), CaseState::Delivered | CaseState::Closed | CaseState::Revoked)
            })
            .collect();
        let on_time = delivered
            .iter()
            .filter(|c| c.sla().is_none_or(|s| s.level != yichuang_core::machine::sla::SlaLevel::Overdue))
            .count();
        let industrial: Vec<_> = engine
            .cases()
            .filter(|c| def.bundle(c.bundle()).industrial && c.received_at().is_some())
            .filter(|c| until.is_none_or(|u| c.received_at().is_some_and(|r| r.date() <= u)))
            .collect();
        let trips: u64 = delivered.iter().map(|c| u64::from(c.trips())).sum();
        Metrics {
            ratings: rated.len() as u64,
            default_ratings: rated.iter().filter(|r| r.by_default).count() as u64,
            good_rate: Ratio::new(good, rated.len()),
            bad_rate: Ratio::new(rated.len() - good, rated.len()),
            bad_rating_rectification: Ratio::new(
                bad_tickets.iter().filter(|t| t.state() == TicketState::Closed).count(),
                bad_tickets.len(),
            ),
            tickets_by_source: by_source,
            tickets_closed: Ratio::new(closed.len(), engine.tickets().len()),
            ticket_on_time_closure: Ratio::new(closed.iter().filter(|t| t.escalation() == 0).count(), closed.len()),
            mean_rounds: (!closed.is_empty())
                .then(|| closed.iter().map(|t| f64::from(t.rounds())).sum::<f64>() / closed.len() as f64),
            departments,
            cases: engine.cases_held() as u64,
            delivered: delivered.len() as u64,
            on_time: Ratio::new(on_time, delivered.len()),
            trips_per_case: (!delivered.is_empty()).then(|| trips as f64 / delivered.len() as f64),
            at_most_one_trip: Ratio::new(delivered.iter().filter(|c| c.trips() <= 1).count(), delivered.len()),
            green_channel: Ratio::new(industrial.iter().filter(|c| c.green_channel()).count(), industrial.len()),
        }
    }
}

/// The five figures the supervision board (效能监察) shows for one period of days, today or
/// this month, beside the plan's targets.
///
/// Each counts what *happened* in the period, `from` to `to` inclusive, by the hall's dates:
/// ratings given then, bad-rating tickets opened then, cases delivered then. Like [`Metrics`],
/// a rating whose appeal was upheld counts nowhere.
///
/// ```
/// # use yichuang_analysis::metrics::PeriodKpis;
/// # use yichuang_core::{definition::Definition, engine::Engine, time::Date};
/// # let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/minimal.ron")).unwrap();
/// # let def = std::sync::Arc::new(Definition::from_ron(&text, "minimal.ron").unwrap());
/// let engine = Engine::new(def);
/// let day: Date = "2026-03-10".parse().unwrap();
/// let today = PeriodKpis::measure(&engine, day, day);
/// assert_eq!(today.good_rate.percent(), None, "no rating yet: nothing to measure");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodKpis {
    /// First day counted.
    pub from: Date,
    /// Last day counted.
    pub to: Date,
    /// 好评率: ratings of 3–5 stars among the ratings given in the period.
    pub good_rate: Ratio,
    /// 差评整改率: of the bad-rating tickets opened in the period (appeals upheld excluded),
    /// those closed by now.
    pub bad_rating_rectification: Ratio,
    /// 按时办结率: of the cases delivered in the period, those whose case clock never went
    /// overdue.
    pub on_time: Ratio,
    /// 最多跑一次: of the cases delivered in the period, those with at most one trip.
    pub at_most_one_trip: Ratio,
    /// 一次办结率: of the cases delivered in the period, those accepted without a correction
    /// notice (补正告知): the applicant's first submission was complete.
    pub first_time: Ratio,
}

impl PeriodKpis {
    /// Measures the period `from`–`to` (inclusive) on the engine's current state.
    pub fn measure(engine: &Engine, from: Date, to: Date) -> PeriodKpis {
        let within = |d: Date| from <= d && d <= to;
        let excluded: Vec<_> = engine
            .tickets()
            .iter()
            .filter(|t| t.excluded())
            .filter_map(|t| match t.source() {
                TicketSource::BadRating { case, .. } => Some(*case),
                _ => None,
            })
            .collect();
        let ratings: Vec<_> = engine
            .cases()
            .filter(|c| !excluded.contains(&c.id()))
            .filter_map(|c| c.rating())
            .filter(|r| within(r.at.date()))
            .collect();
        let bad_tickets: Vec<_> = engine
            .tickets()
            .iter()
            .filter(|t| matches!(t.source(), TicketSource::BadRating { .. }) && !t.excluded())
            .filter(|t| within(t.opened_at().date()))
            .collect();
        let delivered: Vec<_> =
            engine.cases().filter(|c| c.delivered().is_some_and(|(at, _)| within(at.date()))).collect();
        let share = |keep: &dyn Fn(&&yichuang_core::machine::case::Case) -> bool| {
            Ratio::new(delivered.iter().filter(|c| keep(c)).count(), delivered.len())
        };
        PeriodKpis {
            from,
            to,
            good_rate: Ratio::new(ratings.iter().filter(|r| r.stars >= 3).count(), ratings.len()),
            bad_rating_rectification: Ratio::new(
                bad_tickets.iter().filter(|t| t.state() == TicketState::Closed).count(),
                bad_tickets.len(),
            ),
            on_time: share(&|c| c.sla().is_none_or(|s| s.level != yichuang_core::machine::sla::SlaLevel::Overdue)),
            at_most_one_trip: share(&|c| c.trips() <= 1),
            first_time: share(&|c| c.correction().is_empty()),
        }
    }
}
