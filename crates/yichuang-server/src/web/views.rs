//! What each page shows, computed on the writer's thread from the engine as of a committed
//! batch ([`crate::api::App::view`]), under the API's own read rules ([`crate::query`]): an
//! applicant reads only their own cases and the tickets about them, the board is for the
//! supervision section, leaders and administrators. Nothing here changes state.
//!
//! Times left are in **working days** of the hall's calendar (working minutes left over the
//! minutes of a working day), negative once a promise is broken; a paused clock (特别程序)
//! keeps the time left it had when it stopped.

use std::collections::BTreeMap;

use serde::Serialize;
use yichuang_analysis::metrics::{PeriodKpis, Ratio};
use yichuang_analysis::report::FourLists;
use yichuang_core::definition::{Definition, MaterialNeed, Target};
use yichuang_core::machine::sla::{Sla, SlaLevel};
use yichuang_core::{
    Actor, Calendar, Case, CaseId, CaseState, Date, Id, Instant, Role, SpecialProcedureKind, Task, TaskState, Ticket,
    TicketId, TicketSource, TicketState,
};

use crate::error::ApiError;
use crate::query::{ReadSide, unknown_case, unknown_ticket, visible_case};

use super::words;

/// Rows of the board's list of cases nearing their promise.
pub const BOARD_CASES_MAX: usize = 200;

/// Working days left on `sla` at `now` (negative when overdue); a paused clock counts from the
/// moment it stopped. `None` when the deadline lies outside the calendar.
pub fn days_left(cal: &Calendar, sla: &Sla, now: Instant) -> Option<f64> {
    let deadline = sla.deadline(cal).ok()?;
    let at = sla.paused_since.unwrap_or(now);
    let minutes = cal.working_minutes_between(at, deadline).ok()?;
    Some(minutes as f64 / f64::from(cal.day_minutes().max(1)))
}

/// The signal of a task's clock while it runs (green / yellow / red), `None` while it has no
/// running clock: waiting for its turn, in a special procedure, or done.
pub fn signal(task: &Task) -> Option<SlaLevel> {
    task.sla().filter(|s| !s.stopped && s.paused_since.is_none()).map(|s| s.level)
}

/// Open tasks by signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Signals {
    /// 正常: the clock runs, below the warning threshold.
    pub green: u64,
    /// 预警: past the warning threshold.
    pub yellow: u64,
    /// 逾期: past the promised deadline.
    pub red: u64,
    /// 未计时: no running clock (waiting for predecessors, in a special procedure).
    pub idle: u64,
}

impl Signals {
    fn add(&mut self, level: Option<SlaLevel>) {
        match level {
            Some(SlaLevel::Normal) => self.green += 1,
            Some(SlaLevel::Warning) => self.yellow += 1,
            Some(SlaLevel::Overdue) => self.red += 1,
            None => self.idle += 1,
        }
    }
}

/// Open tasks by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    /// 等待.
    pub waiting: u64,
    /// 待办.
    pub ready: u64,
    /// 审查中.
    pub in_review: u64,
    /// 特别程序.
    pub special_procedure: u64,
    /// 补充材料中.
    pub awaiting_supplement: u64,
    /// 模拟审批.
    pub simulated_approved: u64,
}

impl StateCounts {
    fn add(&mut self, state: TaskState) {
        match state {
            TaskState::Waiting => self.waiting += 1,
            TaskState::Ready => self.ready += 1,
            TaskState::InReview => self.in_review += 1,
            TaskState::SpecialProcedure => self.special_procedure += 1,
            TaskState::AwaitingSupplement => self.awaiting_supplement += 1,
            TaskState::SimulatedApproved => self.simulated_approved += 1,
            TaskState::NotApplicable
            | TaskState::Approved
            | TaskState::Denied
            | TaskState::Cancelled
            | TaskState::Lapsed => {}
        }
    }

    /// The counts with their states, in the order of the work.
    pub fn rows(&self) -> [(TaskState, u64); 6] {
        [
            (TaskState::Waiting, self.waiting),
            (TaskState::Ready, self.ready),
            (TaskState::InReview, self.in_review),
            (TaskState::SpecialProcedure, self.special_procedure),
            (TaskState::AwaitingSupplement, self.awaiting_supplement),
            (TaskState::SimulatedApproved, self.simulated_approved),
        ]
    }
}

/// One department's open work.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentRow {
    /// Department id.
    pub id: Id,
    /// Its name.
    pub name: String,
    /// Open tasks by signal (a countersign counts for each signing department).
    pub signals: Signals,
    /// Open tasks by state.
    pub states: StateCounts,
}

/// A case with a running promise, on the board.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    /// `C000001`.
    pub id: String,
    /// Bundle name.
    pub bundle: String,
    /// The applicant's name (as typed at intake: shown escaped).
    pub applicant: String,
    /// Case state.
    pub state: CaseState,
    /// Lead department's name.
    pub lead: String,
    /// The case clock's level.
    pub level: SlaLevel,
    /// Whether the clock is paused.
    pub paused: bool,
    /// The promised deadline (承诺时限).
    pub deadline: Option<Instant>,
    /// Working days left (negative: overdue).
    pub days_left: Option<f64>,
}

/// An open ticket on the board.
#[derive(Debug, Clone, Serialize)]
pub struct TicketRow {
    /// `T000001`.
    pub id: String,
    /// State.
    pub state: TicketState,
    /// 0, 1 (督办), 2 (约谈).
    pub escalation: u8,
    /// Responsible department id.
    pub department: Id,
    /// Its name.
    pub department_name: String,
    /// Where it comes from, in words.
    pub source: String,
    /// What the complainant wrote, or the inspection's finding (as typed: shown escaped).
    pub text: Option<String>,
    /// The case it is about.
    pub case: Option<String>,
    /// Opened.
    pub opened_at: Instant,
    /// The current deadline.
    pub deadline: Option<Instant>,
}

impl TicketRow {
    fn of(def: &Definition, t: &Ticket) -> TicketRow {
        TicketRow {
            id: t.id().to_string(),
            state: t.state(),
            escalation: t.escalation(),
            department: t.department().clone(),
            department_name: words::department_name(def, t.department()).to_owned(),
            source: words::source(def, t.source()),
            text: match t.source() {
                TicketSource::Complaint { text, .. } => Some(text.clone()),
                TicketSource::Inspection { finding, .. } => Some(finding.clone()),
                TicketSource::BadRating { .. } | TicketSource::Overdue { .. } => None,
            },
            case: t.case().map(|c| c.to_string()),
            opened_at: t.opened_at(),
            deadline: t.deadline(),
        }
    }
}

/// Open tickets in one state, by escalation level.
#[derive(Debug, Clone, Serialize)]
pub struct TicketStage {
    /// State.
    pub state: TicketState,
    /// Tickets at level 0 (none), 1 (督办), 2 (约谈).
    pub by_level: [u64; 3],
}

/// One of the board's figures, today and this month, beside the plan's target.
#[derive(Debug, Clone, Serialize)]
pub struct KpiRow {
    /// `good_rate`, `bad_rating_rectification`, `on_time`, `at_most_one_trip`, `first_time`.
    pub id: &'static str,
    /// 好评率 …
    pub name: &'static str,
    /// Today.
    pub today: Ratio,
    /// This month so far.
    pub month: Ratio,
    /// The plan's minimum, in percent, when the plan sets one.
    pub target_percent: Option<u32>,
}

/// The supervision board (效能监察).
#[derive(Debug, Clone, Serialize)]
pub struct BoardView {
    /// The hall time of the view.
    pub now: Instant,
    /// Open tasks of the whole hall by signal.
    pub totals: Signals,
    /// Departments with open tasks or open tickets, in definition order.
    pub departments: Vec<DepartmentRow>,
    /// Open cases with a promise, nearest first (at most [`BOARD_CASES_MAX`]).
    pub cases: Vec<CaseRow>,
    /// Open cases with a promise, in all.
    pub cases_total: usize,
    /// Open tickets by state and escalation level.
    pub ticket_stages: Vec<TicketStage>,
    /// Open tickets, by deadline (none last).
    pub tickets: Vec<TicketRow>,
    /// 好评率, 差评整改率, 按时办结率, 最多跑一次, 一次办结率.
    pub kpis: Vec<KpiRow>,
    /// 责任清单、任务清单、问题清单、效果清单.
    pub four_lists: FourLists,
}

/// The board is for the supervision section, leaders and administrators.
pub fn may_see_board(actor: &Actor) -> Result<(), ApiError> {
    match actor.role {
        Role::Supervisor { .. } | Role::Leader | Role::Admin => Ok(()),
        _ => Err(ApiError::forbidden(
            "role_not_allowed",
            format!(
                "the supervision board (效能监察) is for supervisors, leaders and administrators; {} may not read it",
                actor.describe()
            ),
        )),
    }
}

/// Sort orders of the board's cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseOrder {
    /// Least time left first (the default).
    LeastTimeLeft,
    /// Most time left first.
    MostTimeLeft,
    /// By case number.
    Number,
}

impl CaseOrder {
    /// From `?sort=`: `left` (default), `-left`, `case`.
    pub fn parse(text: Option<&str>) -> Result<CaseOrder, ApiError> {
        match text {
            None | Some("left") => Ok(CaseOrder::LeastTimeLeft),
            Some("-left") => Ok(CaseOrder::MostTimeLeft),
            Some("case") => Ok(CaseOrder::Number),
            Some(other) => Err(ApiError::bad_request(
                "bad_request",
                format!("query parameter `sort` is one of left, -left, case; not `{}`", crate::wire::shortened(other)),
            )),
        }
    }

    /// As written in `?sort=`.
    pub fn name(self) -> &'static str {
        match self {
            CaseOrder::LeastTimeLeft => "left",
            CaseOrder::MostTimeLeft => "-left",
            CaseOrder::Number => "case",
        }
    }
}

fn ratio_target(def: &Definition, pick: fn(&Target) -> Option<u32>) -> Option<u32> {
    def.plan()?.tasks.iter().flat_map(|t| &t.targets).find_map(pick)
}

impl ReadSide<'_> {
    /// The board, or 403 for anyone but supervisors, leaders and administrators.
    pub fn board(&self, actor: &Actor, order: CaseOrder) -> Result<BoardView, ApiError> {
        may_see_board(actor)?;
        let (def, engine, now) = (self.def, &*self.engine, self.now);
        let cal = def.calendar();
        let mut departments: Vec<DepartmentRow> = def
            .departments()
            .iter()
            .map(|d| DepartmentRow {
                id: d.id.clone(),
                name: d.name.clone(),
                signals: Signals::default(),
                states: StateCounts::default(),
            })
            .collect();
        let mut totals = Signals::default();
        let mut cases = Vec::new();
        for case in engine.cases() {
            // Item, bundle and department numbers are per version: read them in the case's.
            let case_def = engine.definition_of(case);
            for task in
                case.tasks().iter().filter(|t| !t.state().is_terminal() && t.state() != TaskState::NotApplicable)
            {
                let level = signal(task);
                totals.add(level);
                for &d in case_def.item(task.item()).decided_by.departments() {
                    let id = &case_def.department(d).id;
                    let Some(row) = departments.iter_mut().find(|r| r.id == *id) else { continue };
                    row.signals.add(level);
                    row.states.add(task.state());
                }
            }
            if let Some(sla) = case.sla().filter(|s| !s.stopped && !case.state().is_final()) {
                let bundle = case_def.bundle(case.bundle());
                cases.push(CaseRow {
                    id: case.id().to_string(),
                    bundle: bundle.name.clone(),
                    applicant: case.applicant().name.clone(),
                    state: case.state(),
                    lead: case_def.department(bundle.lead).name.clone(),
                    level: sla.level,
                    paused: sla.paused_since.is_some(),
                    deadline: sla.deadline(cal).ok(),
                    days_left: days_left(cal, sla, now),
                });
            }
        }
        let left = |c: &CaseRow| c.days_left.unwrap_or(f64::MAX);
        match order {
            CaseOrder::LeastTimeLeft => cases.sort_by(|a, b| left(a).total_cmp(&left(b)).then(a.id.cmp(&b.id))),
            CaseOrder::MostTimeLeft => cases.sort_by(|a, b| left(b).total_cmp(&left(a)).then(a.id.cmp(&b.id))),
            CaseOrder::Number => cases.sort_by(|a, b| a.id.cmp(&b.id)),
        }
        let cases_total = cases.len();
        cases.truncate(BOARD_CASES_MAX);
        let open: Vec<&Ticket> = engine.tickets().iter().filter(|t| t.state() != TicketState::Closed).collect();
        let mut stages: BTreeMap<usize, [u64; 3]> = BTreeMap::new();
        for t in &open {
            let at = TicketState::ALL.iter().position(|s| *s == t.state()).unwrap_or(0);
            stages.entry(at).or_default()[usize::from(t.escalation().min(2))] += 1;
        }
        let ticket_stages =
            stages.into_iter().map(|(at, by_level)| TicketStage { state: TicketState::ALL[at], by_level }).collect();
        let mut tickets: Vec<TicketRow> = open.iter().map(|t| TicketRow::of(def, t)).collect();
        tickets.sort_by_key(|t| (t.deadline.is_none(), t.deadline, t.id.clone()));
        // A department is listed when it has open tasks or open tickets.
        let with_tickets: Vec<&Id> = open.iter().map(|t| t.department()).collect();
        departments.retain(|d| d.signals != Signals::default() || with_tickets.contains(&&d.id));
        Ok(BoardView {
            now,
            totals,
            departments,
            cases,
            cases_total,
            ticket_stages,
            tickets,
            kpis: self.kpis(),
            four_lists: FourLists::build(engine, now),
        })
    }

    fn kpis(&self) -> Vec<KpiRow> {
        let (def, engine) = (self.def, &*self.engine);
        let today = self.now.date();
        let (year, month, _) = today.ymd();
        let first = Date::from_ymd(year, month, 1).unwrap_or(today);
        let day = PeriodKpis::measure(engine, today, today);
        let month = PeriodKpis::measure(engine, first, today);
        let good = ratio_target(def, |t| match t {
            Target::GoodRatingRate { min_percent } => Some(*min_percent),
            _ => None,
        });
        let rectified = ratio_target(def, |t| match t {
            Target::BadRatingRectificationRate { min_percent } => Some(*min_percent),
            _ => None,
        });
        vec![
            KpiRow {
                id: "good_rate",
                name: "好评率",
                today: day.good_rate,
                month: month.good_rate,
                target_percent: good,
            },
            KpiRow {
                id: "bad_rating_rectification",
                name: "差评整改率",
                today: day.bad_rating_rectification,
                month: month.bad_rating_rectification,
                target_percent: rectified,
            },
            KpiRow {
                id: "on_time",
                name: "按时办结率",
                today: day.on_time,
                month: month.on_time,
                target_percent: None,
            },
            KpiRow {
                id: "at_most_one_trip",
                name: "最多跑一次",
                today: day.at_most_one_trip,
                month: month.at_most_one_trip,
                target_percent: None,
            },
            KpiRow {
                id: "first_time",
                name: "一次办结率",
                today: day.first_time,
                month: month.first_time,
                target_percent: None,
            },
        ]
    }
}

/// One task of a case, for its page and the Gantt chart.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    /// Member position in the bundle.
    pub position: usize,
    /// Item id.
    pub item: Id,
    /// Item name.
    pub name: String,
    /// Deciding departments' ids.
    pub departments: Vec<Id>,
    /// Their names.
    pub department_names: Vec<String>,
    /// State.
    pub state: TaskState,
    /// The special procedure, while in one.
    pub special: Option<SpecialProcedureKind>,
    /// Who claimed it.
    pub reviewer: Option<Id>,
    /// The running clock's signal.
    pub level: Option<SlaLevel>,
    /// The clock's level, running or not.
    pub sla_level: Option<SlaLevel>,
    /// Its deadline (承诺时限), once its clock started.
    pub due: Option<Instant>,
    /// Working days left.
    pub days_left: Option<f64>,
    /// Items it waits for (direct predecessors and the previous stage's milestones).
    pub after: Vec<Id>,
    /// Promised working days.
    pub promised_days: u32,
}

/// A material on a case page.
#[derive(Debug, Clone, Serialize)]
pub struct MaterialRow {
    /// Material id.
    pub id: Id,
    /// Name.
    pub name: String,
    /// Need.
    pub need: MaterialNeed,
}

/// A case, for its page.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    /// `C000001`.
    pub id: String,
    /// For `expected_version`.
    pub version: u32,
    /// State.
    pub state: CaseState,
    /// Bundle id.
    pub bundle: Id,
    /// Bundle name.
    pub bundle_name: String,
    /// Promised working days of the bundle.
    pub promised_days: u32,
    /// Applicant's name.
    pub applicant_name: String,
    /// Applicant's id.
    pub applicant_id: Id,
    /// Window that took it (name).
    pub window: Option<String>,
    /// Received.
    pub received_at: Option<Instant>,
    /// Acceptance date.
    pub accepted_as_of: Option<Date>,
    /// The case clock's level.
    pub level: Option<SlaLevel>,
    /// The promised deadline.
    pub deadline: Option<Instant>,
    /// Working days left.
    pub days_left: Option<f64>,
    /// Outcome.
    pub outcome: Option<yichuang_core::Outcome>,
    /// Delivered.
    pub delivered_at: Option<Instant>,
    /// Stars.
    pub rating: Option<u8>,
    /// Trips to the hall.
    pub trips: u32,
    /// Tasks in bundle order.
    pub tasks: Vec<TaskRow>,
    /// Materials still missing for acceptance (before it).
    pub missing: Vec<MaterialRow>,
    /// Tolerated materials outstanding (容缺).
    pub outstanding: Vec<MaterialRow>,
    /// Their cure deadline.
    pub cure_due: Option<Instant>,
    /// The last correction notice's materials.
    pub correction: Vec<Id>,
    /// The latest cure date an acceptance today may promise (for the clerk's form).
    pub latest_cure_date: Option<Date>,
    /// Tickets about the case that the reader may see.
    pub tickets: Vec<TicketRow>,
}

impl CaseView {
    /// The view of `case` as of `now`, with the tickets `actor` may read.
    pub fn of(def: &Definition, engine: &yichuang_core::Engine, case: &Case, actor: &Actor, now: Instant) -> CaseView {
        let cal = def.calendar();
        let bundle = def.bundle(case.bundle());
        let row = |id: &Id, need| MaterialRow { id: id.clone(), name: words::material_name(def, id).to_owned(), need };
        let tasks = case
            .tasks()
            .iter()
            .enumerate()
            .map(|(position, t)| {
                let item = def.item(t.item());
                let member = &bundle.members[position];
                let mut after: Vec<usize> = member.after.clone();
                if let Some(k) = member.stage.filter(|&k| k > 0) {
                    for &m in &bundle.stages[k - 1].milestones {
                        if !after.contains(&m) {
                            after.push(m);
                        }
                    }
                }
                TaskRow {
                    position,
                    item: t.item_id().clone(),
                    name: item.name.clone(),
                    departments: item.decided_by.departments().iter().map(|&d| def.department(d).id.clone()).collect(),
                    department_names: item
                        .decided_by
                        .departments()
                        .iter()
                        .map(|&d| def.department(d).name.clone())
                        .collect(),
                    state: t.state(),
                    special: t.special_procedure(),
                    reviewer: t.reviewer().cloned(),
                    level: signal(t),
                    sla_level: t.sla().map(|s| s.level),
                    due: t.sla().and_then(|s| s.deadline(cal).ok()),
                    days_left: t.sla().filter(|s| !s.stopped).and_then(|s| days_left(cal, s, now)),
                    after: after.iter().map(|&p| def.item(bundle.members[p].item).id.clone()).collect(),
                    promised_days: item.promised_days,
                }
            })
            .collect();
        let missing = match case.state() {
            CaseState::Received | CaseState::AwaitingCorrection | CaseState::Consulting => {
                case.missing(def).into_iter().map(|(m, need)| row(&def.material(m).id, need)).collect()
            }
            _ => Vec::new(),
        };
        let tickets = engine
            .tickets()
            .iter()
            .filter(|t| t.case() == Some(case.id()) && t.readable_by(actor, Some(&case.applicant().id)))
            .map(|t| TicketRow::of(def, t))
            .collect();
        CaseView {
            id: case.id().to_string(),
            version: case.version(),
            state: case.state(),
            bundle: bundle.id.clone(),
            bundle_name: bundle.name.clone(),
            promised_days: bundle.promised_days,
            applicant_name: case.applicant().name.clone(),
            applicant_id: case.applicant().id.clone(),
            window: case.window().map(|w| def.window(w).map_or(w.to_string(), |w| w.name.clone())),
            received_at: case.received_at(),
            accepted_as_of: case.accepted_as_of(),
            level: case.sla().map(|s| s.level),
            deadline: case.sla().and_then(|s| s.deadline(cal).ok()),
            days_left: case.sla().filter(|s| !s.stopped).and_then(|s| days_left(cal, s, now)),
            outcome: case.outcome(),
            delivered_at: case.delivered().map(|(at, _)| at),
            rating: case.rating().map(|r| r.stars),
            trips: case.trips(),
            tasks,
            missing,
            outstanding: case.outstanding().iter().map(|m| row(m, MaterialNeed::Tolerable)).collect(),
            cure_due: case.cure_due(),
            correction: case.correction().to_vec(),
            latest_cure_date: case.latest_cure_date(def, now.date()).ok(),
            tickets,
        }
    }
}

impl ReadSide<'_> {
    /// A case the actor may read (else 404, exactly as for a missing case).
    pub fn case_view(&self, actor: &Actor, id: CaseId) -> Result<CaseView, ApiError> {
        let case = visible_case(self.engine, actor, id)?;
        let case = crate::query::full_case(self.engine, self.log, case)?;
        Ok(CaseView::of(self.engine.definition_of(&case), self.engine, &case, actor, self.now))
    }

    /// An applicant's own cases, newest first, with the tickets about them.
    pub fn my_cases(&self, actor: &Actor) -> Result<Vec<CaseView>, ApiError> {
        if actor.role != Role::Applicant {
            return Err(ApiError::forbidden(
                "role_not_allowed",
                format!("this page lists an applicant's own cases; {} is not an applicant", actor.describe()),
            ));
        }
        Ok(self
            .engine
            .cases()
            .rev()
            .filter(|c| c.applicant().id == actor.id)
            .map(|c| CaseView::of(self.engine.definition_of(c), self.engine, c, actor, self.now))
            .collect())
    }

    /// A ticket the actor may read: staff, or the applicant of the case it is about (else 404,
    /// exactly as for a missing ticket).
    pub fn ticket_view(&self, actor: &Actor, id: TicketId) -> Result<TicketRow, ApiError> {
        crate::query::visible_ticket(self.engine, actor, id)?;
        let t = self.engine.ticket(id).ok_or_else(|| unknown_ticket(id))?;
        Ok(TicketRow::of(self.def, t))
    }
}

/// One task of a department's queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueRow {
    /// `C000001`.
    pub case: String,
    /// For `expected_version`.
    pub case_version: u32,
    /// Bundle name.
    pub bundle: String,
    /// Applicant's name.
    pub applicant: String,
    /// The task.
    pub task: TaskRow,
}

/// A department's work queue (部门待办): Ready, InReview and SpecialProcedure tasks.
#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    /// Department id.
    pub department: Id,
    /// Its name.
    pub name: String,
    /// The tasks, least time left first.
    pub rows: Vec<QueueRow>,
}

impl ReadSide<'_> {
    /// The queue of `department` (staff only; 404 for a department not in the hall).
    pub fn queue(&self, actor: &Actor, department: &str) -> Result<QueueView, ApiError> {
        crate::query::staff_only(actor, "a department's work queue")?;
        crate::query::known_department(self.def, department)?;
        let (def, engine) = (self.def, &*self.engine);
        let mut rows = Vec::new();
        for state in [TaskState::Ready, TaskState::InReview, TaskState::SpecialProcedure] {
            for (id, task) in engine.department_tasks(department, state) {
                let case = engine.case(id).ok_or_else(|| unknown_case(id))?;
                let view = CaseView::of(engine.definition_of(case), engine, case, actor, self.now);
                let Some(task) = view.tasks.iter().find(|t| t.item == *task.item_id()).cloned() else { continue };
                rows.push(QueueRow {
                    case: view.id.clone(),
                    case_version: view.version,
                    bundle: view.bundle_name.clone(),
                    applicant: view.applicant_name.clone(),
                    task,
                });
            }
        }
        let left = |r: &QueueRow| r.task.days_left.unwrap_or(f64::MAX);
        rows.sort_by(|a, b| left(a).total_cmp(&left(b)).then(a.case.cmp(&b.case)));
        let name = words::department_name(def, department).to_owned();
        Ok(QueueView { department: Id::new(department), name, rows })
    }
}

impl ReadSide<'_> {
    /// The streams an applicant may follow live: their cases and the tickets about them.
    pub fn visible_streams(&self, actor: &Actor) -> std::collections::BTreeSet<yichuang_core::StreamId> {
        let mut streams = std::collections::BTreeSet::new();
        for c in self.engine.cases().filter(|c| c.applicant().id == actor.id) {
            streams.insert(c.id().into());
        }
        for t in self.engine.tickets() {
            if t.case().is_some_and(|c| streams.contains(&c.into())) {
                streams.insert(t.id().into());
            }
        }
        streams
    }
}

/// A case awaiting an intake decision, for the window's page.
#[derive(Debug, Clone, Serialize)]
pub struct IntakeRow {
    /// `C000001`.
    pub id: String,
    /// Bundle name.
    pub bundle: String,
    /// Applicant's name.
    pub applicant: String,
    /// Received or AwaitingCorrection.
    pub state: CaseState,
    /// Received.
    pub received_at: Option<Instant>,
}

impl ReadSide<'_> {
    /// Cases received and not yet accepted or rejected (staff only), oldest first.
    pub fn awaiting_intake(&self, actor: &Actor) -> Result<Vec<IntakeRow>, ApiError> {
        crate::query::staff_only(actor, "the cases awaiting intake")?;
        let engine = &*self.engine;
        Ok(engine
            .cases()
            .filter(|c| matches!(c.state(), CaseState::Received | CaseState::AwaitingCorrection))
            .map(|c| IntakeRow {
                id: c.id().to_string(),
                bundle: engine.definition_of(c).bundle(c.bundle()).name.clone(),
                applicant: c.applicant().name.clone(),
                state: c.state(),
                received_at: c.received_at(),
            })
            .collect())
    }
}
