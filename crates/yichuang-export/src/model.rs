//! The log as the exports see it: every recorded event with its activity, lifecycle transition,
//! resource and group; every case with its attributes; every ticket with its source. Built
//! once from a definition and the recorded events, shared by XES, OCEL and CSV so that the
//! three formats name everything alike.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;
use yichuang_core::event::SlaSubject;
use yichuang_core::{
    Actor, Applicant, CaseId, Channel, Definition, Event, Id, Instant, Outcome, Recorded, Role, StreamId, TicketId,
    TicketSource,
};

/// A fixed offset from UTC in minutes, the zone the hall's civil time is read in.
///
/// The core keeps hall-local civil time without a zone (`YYYY-MM-DDTHH:MM`); the exchange
/// formats want an absolute time. All of China keeps Beijing time (China Standard Time, UTC+8,
/// no daylight saving since 1991), so [`UtcOffset::CHINA_STANDARD_TIME`] is the default.
///
/// ```
/// use yichuang_export::UtcOffset;
/// let offset: UtcOffset = "+08:00".parse().unwrap();
/// assert_eq!(offset, UtcOffset::CHINA_STANDARD_TIME);
/// assert_eq!(offset.to_string(), "+08:00");
/// assert!("+8".parse::<UtcOffset>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcOffset {
    minutes: i16,
}

impl UtcOffset {
    /// Beijing time, UTC+08:00.
    pub const CHINA_STANDARD_TIME: UtcOffset = UtcOffset { minutes: 8 * 60 };
    /// UTC itself.
    pub const UTC: UtcOffset = UtcOffset { minutes: 0 };

    /// The offset in minutes east of UTC.
    pub fn minutes(self) -> i16 {
        self.minutes
    }

    /// `instant` as an RFC 3339 / `xs:dateTime` text with seconds and this offset, e.g.
    /// `2026-04-29T09:30:00+08:00`; with `millis`, `2026-04-29T09:30:00.000+08:00`.
    pub fn format(self, instant: Instant, millis: bool) -> String {
        format!("{instant}:00{}{self}", if millis { ".000" } else { "" })
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let abs = self.minutes.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", abs / 60, abs % 60)
    }
}

/// Why a UTC offset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a UTC offset; write ±HH:MM between -14:00 and +14:00, e.g. +08:00 (China Standard Time)")]
pub struct BadOffset(String);

impl std::str::FromStr for UtcOffset {
    type Err = BadOffset;
    fn from_str(text: &str) -> Result<UtcOffset, BadOffset> {
        let bad = || BadOffset(text.to_owned());
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'+') => (1, &text[1..]),
            Some(b'-') => (-1, &text[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let (h, m): (i16, i16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let minutes = sign * (h * 60 + m);
        if m >= 60 || !(-14 * 60..=14 * 60).contains(&minutes) {
            return Err(bad());
        }
        Ok(UtcOffset { minutes })
    }
}

/// A transition of the XES standard lifecycle model (IEEE 1849-2016, `lifecycle:transition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lifecycle {
    /// The task entered its department's queue (`TaskReady`).
    Schedule,
    /// A reviewer claimed the task (`TaskClaimed`).
    Start,
    /// The activity is done: a decision, or any atomic event of a case or ticket.
    Complete,
    /// A task was cancelled before it was decided (`TaskCancelled`).
    Withdraw,
    /// The clock stopped for a special procedure (`SpecialProcedureStarted`).
    Suspend,
    /// The clock runs again (`SpecialProcedureEnded`, `SimulationReopened`).
    Resume,
    /// A simulated approval lapsed (`TaskLapsed`).
    AteAbort,
    /// Steps inside an activity that the standard model has no name for: one signature of a
    /// countersign (`TaskSigned`), a simulated approval and its conversion.
    Unknown,
}

impl Lifecycle {
    /// The value written in `lifecycle:transition`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Schedule => "schedule",
            Lifecycle::Start => "start",
            Lifecycle::Complete => "complete",
            Lifecycle::Withdraw => "withdraw",
            Lifecycle::Suspend => "suspend",
            Lifecycle::Resume => "resume",
            Lifecycle::AteAbort => "ate_abort",
            Lifecycle::Unknown => "unknown",
        }
    }
}

/// One value of an event or object attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// True or false.
    Bool(bool),
    /// An instant of hall-local civil time.
    Time(Instant),
}

impl Value {
    /// The OCEL 2.0 attribute type name.
    pub fn ocel_type(&self) -> &'static str {
        match self {
            Value::Text(_) => "string",
            Value::Int(_) => "integer",
            Value::Bool(_) => "boolean",
            Value::Time(_) => "time",
        }
    }

    /// The value as text (times with `offset`).
    pub fn text(&self, offset: UtcOffset) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Time(t) => offset.format(*t, false),
        }
    }
}

/// The name of a serde unit variant (`Window`, `Hearing` …), the spelling the log uses.
pub(crate) fn variant(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// One recorded event as the exports see it.
#[derive(Debug, Clone)]
pub struct EventView<'a> {
    /// The recorded event.
    pub record: &'a Recorded,
    /// Unique within the log: the stream and the position in it, e.g. `C000001:3`.
    pub id: String,
    /// The activity (XES `concept:name`): the item's name for a task's events (会签, review,
    /// decision), a Chinese label for the case's and tickets' own events (收件, 受理, 办结 …).
    pub activity: String,
    /// The XES lifecycle transition.
    pub lifecycle: Lifecycle,
    /// The item of a task's event.
    pub item: Option<&'a Id>,
    /// The department of a task's event (the signing one for a countersign's signature), the
    /// responsible department of a ticket's event.
    pub department: Option<&'a Id>,
    /// The group (XES `org:group`): the department's name, or for a case's own events the unit
    /// of the actor (the window of a clerk, the department of a reviewer).
    pub group: Option<String>,
    /// Attributes particular to the event kind (stars of a rating, outcome of a decision …).
    pub attributes: Vec<(&'static str, Value)>,
}

impl EventView<'_> {
    /// The actor's id (XES `org:resource`); `system` for timers.
    pub fn resource(&self) -> &str {
        self.record.by.id.as_str()
    }

    /// The actor's role (XES `org:role`): `applicant`, `clerk`, `reviewer`, `supervisor`,
    /// `leader`, `admin` or `system`.
    pub fn role(&self) -> &'static str {
        role_name(&self.record.by)
    }

    /// The event's name in the log, e.g. `TaskApproved` (the OCEL event type).
    pub fn event_name(&self) -> &'static str {
        self.record.event.name()
    }
}

fn role_name(actor: &Actor) -> &'static str {
    match actor.role {
        Role::Applicant => "applicant",
        Role::Clerk { .. } => "clerk",
        Role::Reviewer { .. } => "reviewer",
        Role::Supervisor { .. } => "supervisor",
        Role::Leader => "leader",
        Role::Admin => "admin",
        Role::System => "system",
    }
}

/// What the log says about one case (办件): the XES trace attributes and the OCEL case object.
#[derive(Debug, Clone)]
pub struct CaseFacts<'a> {
    /// The case number.
    pub id: CaseId,
    /// The bundle applied for or consulted about.
    pub bundle: Option<&'a Id>,
    /// The channel of the application (absent for a consultation).
    pub channel: Option<Channel>,
    /// The applicant.
    pub applicant: Option<&'a Applicant>,
    /// When the case's first event happened.
    pub opened: Instant,
    /// The outcome and when it was decided.
    pub outcome: Option<(Outcome, Instant)>,
    /// The stars of the rating and when it was given.
    pub rating: Option<(u8, Instant)>,
    /// The case's tasks (one per applicable member item) and when they were created.
    pub tasks: Vec<(&'a Id, Instant)>,
    /// Positions in [`Log::events`] of the case's events, in recorded order.
    pub events: Vec<usize>,
}

/// What the log says about one ticket (问题).
#[derive(Debug, Clone)]
pub struct TicketFacts<'a> {
    /// The ticket number.
    pub id: TicketId,
    /// Where it came from (a bad rating or an overdue task of a case, a complaint, a finding).
    pub source: &'a TicketSource,
    /// The responsible department.
    pub department: &'a Id,
    /// When it was opened.
    pub opened: Instant,
    /// Positions in [`Log::events`] of the ticket's events, in recorded order.
    pub events: Vec<usize>,
}

impl TicketFacts<'_> {
    /// The case the ticket came from, if any.
    pub fn case(&self) -> Option<CaseId> {
        match self.source {
            TicketSource::BadRating { case, .. } | TicketSource::Overdue { case, .. } => Some(*case),
            TicketSource::Complaint { case, .. } => *case,
            TicketSource::Inspection { .. } => None,
        }
    }

    /// The item of the task the ticket came from (an overdue task), if any.
    pub fn item(&self) -> Option<&Id> {
        match self.source {
            TicketSource::Overdue { item, .. } => item.as_ref(),
            _ => None,
        }
    }
}

/// A log prepared for export: every event described once, cases and tickets indexed.
///
/// Build it from a definition and the events of a log that replays against it (the CLI checks
/// that first); on other input it names what it cannot resolve by its id and never panics.
#[derive(Debug)]
pub struct Log<'a> {
    def: &'a Definition,
    events: Vec<EventView<'a>>,
    cases: Vec<CaseFacts<'a>>,
    tickets: Vec<TicketFacts<'a>>,
}

impl<'a> Log<'a> {
    /// Describes every event of `records` (in the order given) against `def`.
    pub fn new(def: &'a Definition, records: &'a [Recorded]) -> Log<'a> {
        let mut log = Log { def, events: Vec::with_capacity(records.len()), cases: Vec::new(), tickets: Vec::new() };
        let mut case_at: BTreeMap<CaseId, usize> = BTreeMap::new();
        let mut ticket_at: BTreeMap<TicketId, usize> = BTreeMap::new();
        for (position, record) in records.iter().enumerate() {
            let view = match record.stream {
                StreamId::Case(id) => {
                    let k = *case_at.entry(id).or_insert_with(|| {
                        log.cases.push(CaseFacts {
                            id,
                            bundle: None,
                            channel: None,
                            applicant: None,
                            opened: record.at,
                            outcome: None,
                            rating: None,
                            tasks: Vec::new(),
                            events: Vec::new(),
                        });
                        log.cases.len() - 1
                    });
                    log.cases[k].note(record);
                    log.cases[k].events.push(position);
                    log.case_event(record)
                }
                StreamId::Ticket(id) => {
                    if let Event::TicketOpened { source, department, .. } = &record.event {
                        ticket_at.entry(id).or_insert_with(|| {
                            log.tickets.push(TicketFacts {
                                id,
                                source,
                                department,
                                opened: record.at,
                                events: Vec::new(),
                            });
                            log.tickets.len() - 1
                        });
                    }
                    let k = ticket_at.get(&id).copied();
                    if let Some(k) = k {
                        log.tickets[k].events.push(position);
                    }
                    log.ticket_event(record, k.map(|k| log.tickets[k].department))
                }
            };
            log.events.push(view);
        }
        log
    }

    /// The definition the log was written against.
    pub fn definition(&self) -> &'a Definition {
        self.def
    }
    /// Every event, in the order of the log.
    pub fn events(&self) -> &[EventView<'a>] {
        &self.events
    }
    /// Every case, in order of its first event.
    pub fn cases(&self) -> &[CaseFacts<'a>] {
        &self.cases
    }
    /// Every ticket, in order of opening.
    pub fn tickets(&self) -> &[TicketFacts<'a>] {
        &self.tickets
    }

    /// The display name of a bundle, or its id when the definition lacks it.
    pub fn bundle_name(&self, bundle: &Id) -> String {
        self.def.bundle_ix(bundle).map_or_else(|| bundle.to_string(), |b| self.def.bundle(b).name.clone())
    }

    /// The name of a department, or its id when the definition lacks it.
    pub fn department_name(&self, department: &Id) -> String {
        self.def
            .department_ix(department)
            .map_or_else(|| department.to_string(), |d| self.def.department(d).name.clone())
    }

    /// The name of an item, or its id when the definition lacks it.
    pub fn item_name(&self, item: &Id) -> String {
        self.def.item_ix(item).map_or_else(|| item.to_string(), |i| self.def.item(i).name.clone())
    }

    /// The departments that decide `item` (several for a countersign, 会签), as the
    /// definition's own ids.
    pub fn deciders(&self, item: &Id) -> Vec<&'a Id> {
        let def = self.def;
        def.item_ix(item)
            .map(|i| def.item(i).decided_by.departments().iter().map(|&d| &def.department(d).id).collect())
            .unwrap_or_default()
    }

    /// The unit an actor works in: a clerk's window, a reviewer's or supervisor's department.
    fn unit_of(&self, actor: &Actor) -> Option<String> {
        match &actor.role {
            Role::Clerk { window } => {
                Some(self.def.window(window).map_or_else(|| window.to_string(), |w| w.name.clone()))
            }
            Role::Reviewer { department } | Role::Supervisor { department } => Some(self.department_name(department)),
            _ => None,
        }
    }

    fn view(&self, record: &'a Recorded, activity: String, lifecycle: Lifecycle) -> EventView<'a> {
        let id = format!("{}:{}", record.stream, record.seq);
        EventView { record, id, activity, lifecycle, item: None, department: None, group: None, attributes: Vec::new() }
    }

    /// A task's event: the activity is the item; the group its deciding department.
    fn task_event(&self, record: &'a Recorded, item: &'a Id, lifecycle: Lifecycle) -> EventView<'a> {
        let mut view = self.view(record, self.item_name(item), lifecycle);
        view.item = Some(item);
        view.department = self.deciders(item).first().copied();
        view.group = view.department.map(|d| self.department_name(d));
        view.attributes.push(("item", Value::Text(item.to_string())));
        view
    }

    fn case_event(&self, record: &'a Recorded) -> EventView<'a> {
        use Lifecycle::*;
        let text = |s: &str| Value::Text(s.to_owned());
        let atomic = |label: &str| {
            let mut v = self.view(record, label.to_owned(), Complete);
            v.group = self.unit_of(&record.by);
            v
        };
        let mut view = match &record.event {
            Event::TaskReady { item } => self.task_event(record, item, Schedule),
            Event::TaskClaimed { item, reviewer } => {
                let mut v = self.task_event(record, item, Start);
                v.attributes.push(("reviewer", Value::Text(reviewer.to_string())));
                v
            }
            Event::TaskSigned { item, department } => {
                let mut v = self.task_event(record, item, Unknown);
                v.department = Some(department);
                v.group = Some(self.department_name(department));
                v.attributes.push(("signed_by", Value::Text(department.to_string())));
                v
            }
            Event::TaskApproved { item } => {
                let mut v = self.task_event(record, item, Complete);
                v.attributes.push(("decision", text("approved")));
                v
            }
            Event::TaskDenied { item, reason } => {
                let mut v = self.task_event(record, item, Complete);
                v.attributes.push(("decision", text("denied")));
                v.attributes.push(("reason", Value::Text(reason.clone())));
                v
            }
            Event::TaskCancelled { item, because } => {
                let mut v = self.task_event(record, item, Withdraw);
                v.attributes.push(("because", Value::Text(because.to_string())));
                v
            }
            Event::SpecialProcedureStarted { item, kind } => {
                let mut v = self.task_event(record, item, Suspend);
                v.attributes.push(("procedure", Value::Text(variant(kind))));
                v
            }
            Event::SpecialProcedureEnded { item } | Event::SimulationReopened { item } => {
                self.task_event(record, item, Resume)
            }
            Event::TaskSimulatedApproved { item } | Event::SimulationConverted { item } => {
                self.task_event(record, item, Unknown)
            }
            Event::TaskLapsed { item } => self.task_event(record, item, AteAbort),
            Event::SlaLevelChanged { subject, level } => {
                let label = match variant(level).as_str() {
                    "Warning" => "时限预警",
                    "Overdue" => "超期",
                    _ => "时限正常",
                };
                let mut v = match subject {
                    SlaSubject::Task(item) => {
                        let mut v = self.task_event(record, item, Complete);
                        v.activity = format!("{label}：{}", v.activity);
                        v
                    }
                    SlaSubject::Case => atomic(&format!("办件{label}")),
                };
                v.attributes.push(("level", Value::Text(variant(level))));
                v
            }
            Event::Consulted { bundle, .. } => {
                let mut v = atomic("帮办咨询");
                v.attributes.push(("bundle", Value::Text(bundle.to_string())));
                v
            }
            Event::Submitted { bundle, channel, green_channel, .. } => {
                let mut v = atomic("收件");
                v.attributes.push(("bundle", Value::Text(bundle.to_string())));
                v.attributes.push(("channel", Value::Text(variant(channel))));
                v.attributes.push(("green_channel", Value::Bool(*green_channel)));
                v
            }
            Event::CorrectionRequested { missing } => {
                let mut v = atomic("补正告知");
                v.attributes.push(("missing", Value::Text(join(missing))));
                v
            }
            Event::Resubmitted { .. } => atomic("补正"),
            Event::Accepted { deemed, tolerated, .. } => {
                let mut v = atomic(if *deemed { "视为受理" } else { "受理" });
                v.attributes.push(("deemed", Value::Bool(*deemed)));
                if !tolerated.is_empty() {
                    v.attributes.push(("tolerated", Value::Text(join(tolerated))));
                }
                v
            }
            Event::Rejected { reason } => {
                let mut v = atomic("不予受理");
                v.attributes.push(("reason", Value::Text(reason.clone())));
                v
            }
            Event::CaseDecided { outcome, awaiting_cure } => {
                let mut v = atomic("办结");
                v.attributes.push(("outcome", Value::Text(variant(outcome))));
                v.attributes.push(("awaiting_cure", Value::Bool(*awaiting_cure)));
                v
            }
            Event::MaterialSupplied { material } => {
                let mut v = atomic("补齐材料");
                v.attributes.push(("material", Value::Text(material.to_string())));
                v
            }
            Event::CaseSuspended => atomic("暂停办理"),
            Event::CaseResumed => atomic("恢复办理"),
            Event::CaseReturned => atomic("退件"),
            Event::Delivered { method } => {
                let mut v = atomic("出件");
                v.attributes.push(("method", Value::Text(variant(method))));
                v
            }
            Event::Rated { stars, by_default } => {
                let mut v = atomic(if *by_default { "默认好评" } else { "评价" });
                v.attributes.push(("stars", Value::Int(i64::from(*stars))));
                v.attributes.push(("by_default", Value::Bool(*by_default)));
                v
            }
            Event::Withdrawn => atomic("撤回"),
            Event::Revoked => atomic("撤销"),
            // A ticket's event in a case stream would not replay; describe it all the same.
            other => atomic(other.name()),
        };
        if view.group.is_none() {
            view.group = self.unit_of(&record.by);
        }
        view
    }

    fn ticket_event(&self, record: &'a Recorded, department: Option<&'a Id>) -> EventView<'a> {
        let label = match &record.event {
            Event::TicketOpened { .. } => "问题立案",
            Event::TicketRectifying { immediate: true, .. } => "立行立改",
            Event::TicketRectifying { .. } => "限期整改",
            Event::TicketSubmitted { .. } => "提交整改",
            Event::TicketPassed => "监督通过",
            Event::TicketFailed { .. } => "监督不通过",
            Event::TicketAppealUpheld => "申诉成立",
            Event::TicketFedBack { .. } => "反馈",
            Event::TicketClosed => "回访满意",
            Event::TicketReopened { .. } => "回访不满意",
            Event::TicketEscalated { level: 1, .. } => "督办",
            Event::TicketEscalated { .. } => "约谈",
            other => other.name(),
        };
        let mut view = self.view(record, label.to_owned(), Lifecycle::Complete);
        view.department = department;
        view.group = department.map(|d| self.department_name(d));
        match &record.event {
            Event::TicketOpened { source, .. } => view.attributes.push(("source", Value::Text(source.kind().into()))),
            Event::TicketSubmitted { what, .. } => view.attributes.push(("what", Value::Text(variant(what)))),
            Event::TicketFailed { kind, .. } => view.attributes.push(("kind", Value::Text(variant(kind)))),
            Event::TicketEscalated { level, .. } => view.attributes.push(("level", Value::Int(i64::from(*level)))),
            _ => {}
        }
        view
    }
}

impl<'a> CaseFacts<'a> {
    /// Takes what the case's attributes need from one of its events.
    fn note(&mut self, record: &'a Recorded) {
        match &record.event {
            Event::Consulted { bundle, applicant, .. } => {
                self.bundle = Some(bundle);
                self.applicant = Some(applicant);
            }
            Event::Submitted { bundle, applicant, channel, .. } => {
                self.bundle = Some(bundle);
                self.applicant = Some(applicant);
                self.channel = Some(*channel);
            }
            Event::Accepted { applicable, .. } => {
                self.tasks = applicable.iter().map(|item| (item, record.at)).collect();
            }
            Event::CaseDecided { outcome, .. } => self.outcome = Some((*outcome, record.at)),
            Event::Rated { stars, .. } => self.rating = Some((*stars, record.at)),
            _ => {}
        }
    }

    /// The object id of the case's task for `item`: the case number and the item id.
    pub fn task_id(&self, item: &Id) -> String {
        task_object_id(self.id, item)
    }
}

/// The OCEL object id of a task: `C000001/food-licence`.
pub fn task_object_id(case: CaseId, item: &Id) -> String {
    let mut s = case.to_string();
    let _ = write!(s, "/{item}");
    s
}

fn join(ids: &[Id]) -> String {
    ids.iter().map(Id::as_str).collect::<Vec<_>>().join(",")
}
