//! Typed rejections: why a command was refused, naming the rule and what would be accepted.
//! A rejected command changes nothing.
//!
//! Payloads are data (ids, dates, actors, lists), rendered into words only by `Display`, so a
//! caller can act on them (the service maps [`Rejection::code`] and
//! [`Rejection::is_authorization`] to a status; a kiosk can list [`Rejection::MaterialsIncomplete`]'s
//! materials by name). No rejection names a person other than the actor: an applicant who
//! names someone else's case learns only that it is not theirs.

use std::fmt;

use crate::actor::Actor;
use crate::calendar::CalendarError;
use crate::definition::{Id, PlanError, WindowClass};
use crate::event::CaseId;
use crate::machine::spec::{Kind, Machine, Refused};
use crate::machine::ticket::TicketId;
use crate::time::Date;

/// What a rejection is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The case the command names.
    Case,
    /// One task of the case, by item.
    Task(Id),
    /// A bundle of the definition.
    Bundle(Id),
    /// A ticket.
    Ticket(TicketId),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Case => f.write_str("case"),
            Subject::Task(item) => write!(f, "task `{item}`"),
            Subject::Bundle(bundle) => write!(f, "bundle `{bundle}`"),
            Subject::Ticket(t) => write!(f, "ticket {t}"),
        }
    }
}

/// Who may issue a command that an actor was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// The applicant, or a clerk of a window of this class on their behalf.
    ApplicantOrClerk(WindowClass),
    /// Only a clerk of a window of this class.
    ClerkOf(WindowClass),
    /// A reviewer of one of these (deciding) departments.
    ReviewersOf(Vec<Id>),
    /// Staff of the responsible department.
    StaffOf(Id),
    /// A supervisor (效能监察) outside this department.
    SupervisorOutside(Id),
    /// A supervisor or a leader.
    SupervisorOrLeader,
    /// A leader, or a reviewer of the deciding department (the item's, named in the message).
    LeaderOrDecidingReviewer,
    /// A leader (分管领导).
    Leader,
    /// A person (anyone but the system).
    People,
    /// An administrator of the service.
    Administrator,
    /// Only the reviewer holding the task (转办, 委派).
    Holder,
    /// Only whoever signed (the approval's signer, or a reviewer of a countersigning department
    /// that signed).
    Signer,
    /// Nobody: the engine does it by itself (and why).
    Nobody(&'static str),
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allowed::ApplicantOrClerk(class) => write!(f, "the applicant or a clerk of a {class:?} window may"),
            Allowed::ClerkOf(class) => write!(f, "only a clerk of a {class:?} window may"),
            Allowed::ReviewersOf(ds) => write!(f, "only a reviewer of {} may", join(ds, " + ")),
            Allowed::LeaderOrDecidingReviewer => write!(f, "a leader or a reviewer of the deciding department may"),
            Allowed::StaffOf(d) => write!(f, "staff of {d} may"),
            Allowed::SupervisorOutside(d) => write!(f, "a supervisor outside {d} may"),
            Allowed::SupervisorOrLeader => f.write_str("a supervisor or a leader may"),
            Allowed::Leader => f.write_str("only a leader may"),
            Allowed::People => f.write_str("people complain, not the system"),
            Allowed::Administrator => f.write_str("only an administrator may"),
            Allowed::Holder => f.write_str("only the reviewer holding the task may (not a delegate)"),
            Allowed::Signer => {
                f.write_str("only the one who signed may (a countersign: its own department's reviewer)")
            }
            Allowed::Nobody(why) => f.write_str(why),
        }
    }
}

/// What the engine knows of case numbers, for an unknown one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownCases {
    /// Cases C000001 to this number were opened.
    UpTo(CaseId),
    /// The case was retired: finished and handed out of the engine.
    Retired,
    /// An applicant may name only their own cases (nothing is said of others).
    OwnOnly,
}

/// Why a command was refused.
///
/// A refusal changes nothing. A caller sorts every kind of it with three questions — about a
/// case or ticket that does not exist ([`Rejection::is_not_found`]), about who acts
/// ([`Rejection::is_authorization`]), or about what is asked — and reads a stable
/// [`Rejection::code`] and a message for people:
///
/// ```
/// # use std::sync::Arc;
/// # use yichuang_core::*;
/// # use yichuang_core::definition::WindowClass;
/// # let def = Arc::new(Definition::from_ron(include_str!("../../../examples/definitions/county-hall.ron"), "county-hall.ron").unwrap());
/// # let window = |class| def.windows().iter().find(|w| w.class == class).unwrap().id.clone();
/// # let clerk = Actor::clerk("clerk-1", &window(WindowClass::Intake));
/// # let bundle = def.bundle(def.bundle_ix("open-business").unwrap());
/// # let materials: Vec<Id> = bundle.materials.iter().map(|&(m, _)| def.material(m))
/// #     .filter(|m| m.shared_source.is_none()).map(|m| m.id.clone()).collect();
/// # let submission = Submission {
/// #     bundle: bundle.id.clone(),
/// #     applicant: Applicant { id: Id::new("91000000MA00000001"), name: "示例公司".into(), credit_blocked: false },
/// #     channel: Channel::Window,
/// #     materials: materials.into(),
/// #     answers: std::collections::BTreeMap::from([("company-name".to_owned(), "示例公司".to_owned())]).into(),
/// #     green_channel: false,
/// # };
/// # let mut engine = Engine::new(Arc::clone(&def));
/// # let now: Instant = "2026-03-02T09:30".parse().unwrap();
/// let (case, _) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &clerk })?;
/// engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk })?;
/// // Who: a clerk may not decide (受审分离). A service answers 403 with the code.
/// let approve = Command::Task { item: Id::new("business-licence"), action: TaskCommand::Approve };
/// let who = engine.execute(case, approve, &Ctx { now, actor: &clerk }).unwrap_err();
/// assert!(who.is_authorization());
/// // What: the case is accepted already. 422.
/// let what = engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk }).unwrap_err();
/// assert!(!what.is_authorization() && !what.is_not_found());
/// assert_eq!(what.code(), "invalid_state");
/// // Which case: one the engine does not hold is "not found" (404).
/// let missing = engine.execute(CaseId(99), Command::Accept, &Ctx { now, actor: &clerk }).unwrap_err();
/// assert!(missing.is_not_found());
/// // Every kind of refusal is sorted by these questions and has a stable code; the message
/// // (its Display) names the rule and what would be accepted. Nothing changed.
/// for r in [&who, &what, &missing] {
///     let status = if r.is_not_found() { 404 } else if r.is_authorization() { 403 } else { 422 };
///     println!("{status} {}: {r}", r.code());
/// }
/// assert_eq!(engine.case(case).unwrap().state(), CaseState::InApproval);
/// # Ok::<(), Rejection>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The actor's role may not issue this command at all.
    #[error("rule {rule}: {} may not {command}; {allowed}", actor.describe())]
    RoleNotAllowed {
        /// The rule's name, e.g. `受审分离 (intake clerks never decide)`.
        rule: &'static str,
        /// The actor.
        actor: Actor,
        /// The command.
        command: &'static str,
        /// Who may.
        allowed: Allowed,
    },
    /// A reviewer acted on another department's task or ticket.
    #[error(
        "rule 本部门办理 (a department acts only on its own work): {} may not act on {subject}, which belongs to {}",
        actor.describe(),
        join(departments, " + ")
    )]
    WrongDepartment {
        /// The actor.
        actor: Actor,
        /// The task or ticket.
        subject: Subject,
        /// Departments it belongs to.
        departments: Vec<Id>,
    },
    /// Someone who signed an earlier review level of a task acted on a later one.
    #[error(
        "rule 受审分离 (nobody signs two review levels of one task): {} signed level `{signed}` of task `{item}`; \
         level `{level}` must be signed by someone else",
        actor.describe()
    )]
    SignedEarlierLevel {
        /// The actor.
        actor: Actor,
        /// The item.
        item: Id,
        /// The level the actor signed.
        signed: String,
        /// The level at hand.
        level: String,
    },
    /// Someone other than the case's applicant acted for it. The applicant is not named.
    #[error(
        "rule 申请人本人 (only the applicant or a window clerk on their behalf): {} is not the applicant of this case",
        actor.describe()
    )]
    NotTheApplicant {
        /// The actor.
        actor: Actor,
    },
    /// An applicant linked a complaint to someone else's case.
    #[error(
        "rule 申请人本人 (an applicant links a complaint only to their own cases): {} is not the applicant of \
         {case}; link one of your own cases, or none",
        actor.describe()
    )]
    NotYourCase {
        /// The actor.
        actor: Actor,
        /// The case linked.
        case: CaseId,
    },
    /// The command is not declared for the current state in the machine's spec.
    #[error(
        "rule 状态机 (state machine): cannot {command} while the {subject} is {state}; {}",
        accepted_text(state, accepted)
    )]
    InvalidState {
        /// The case, task or ticket.
        subject: Subject,
        /// The command.
        command: &'static str,
        /// Its current state.
        state: &'static str,
        /// The commands that state accepts (empty: only the engine moves it on).
        accepted: Vec<&'static str>,
    },
    /// A case is rated once.
    #[error("rule 好差评 (a case is rated once, after delivery): this case is already rated")]
    AlreadyRated,
    /// A countersigning department signs once.
    #[error(
        "rule 会签 (each department signs once): `{department}` has already signed `{item}`; the other countersign \
         departments must sign"
    )]
    AlreadySigned {
        /// The item.
        item: Id,
        /// The department that signed before.
        department: Id,
    },
    /// A recall (撤回) after a task that depends on the approval was claimed: the approval
    /// stands.
    #[error(
        "rule 撤回 (an approval is recalled only while no task depending on it has been claimed): `{dependent}` \
         depends on `{item}` and was claimed already (it is {dependent_state}); the approval of `{item}` stands — \
         ask the reviewer of `{dependent}` to return or deny it, or correct it with a new case"
    )]
    RecallAfterClaim {
        /// The task whose approval was to be recalled.
        item: Id,
        /// A dependent that was claimed.
        dependent: Id,
        /// The dependent's state.
        dependent_state: &'static str,
    },
    /// A 加签 / 减签 rule refused the change, or an added countersigner's signature out of its
    /// turn.
    #[error("rule {} : `{department}` on `{item}` {}", rule.rule(), rule.reason())]
    Countersigner {
        /// The item.
        item: Id,
        /// The department added, removed or signing.
        department: Id,
        /// Which rule.
        rule: CountersignerRule,
    },
    /// A department of a 或签 or 票签 set votes once.
    #[error(
        "rule {rule} (each department votes once): `{department}` has already voted on `{item}`; the other \
         departments vote"
    )]
    AlreadyVoted {
        /// 或签 or 票签.
        rule: &'static str,
        /// The item.
        item: Id,
        /// The department that voted before.
        department: Id,
    },
    /// Acceptance needs materials that are missing.
    #[error(
        "rule 材料齐全 (complete materials): cannot accept, missing {}; request a correction (补正告知) listing them, or \
         accept tolerating them if they are all tolerable (容缺)",
        join(missing, ", ")
    )]
    MaterialsIncomplete {
        /// The missing materials.
        missing: Vec<Id>,
    },
    /// 容缺 requested but a Required material is missing.
    #[error(
        "rule 容缺受理 (only tolerable materials may be missing): {} are required (必备) and missing; request a \
         correction instead",
        join(missing, ", ")
    )]
    NotTolerable {
        /// Required materials missing.
        missing: Vec<Id>,
    },
    /// 容缺 requested but nothing is missing.
    #[error("rule 容缺受理: nothing is missing, so there is nothing to tolerate; accept normally")]
    NothingToTolerate,
    /// A correction was requested but nothing is missing.
    #[error("rule 补正告知: no required or tolerable material is missing; accept the application instead")]
    NothingMissing,
    /// The applicant is credit-blocked.
    #[error(
        "rule 信用 (credit): applicant {applicant} has a bad credit record and is excluded from 容缺受理 until credit \
         repair; request a correction instead"
    )]
    CreditBlocked {
        /// The applicant (the case's own; the actor is their clerk or themselves).
        applicant: Id,
    },
    /// The cure deadline is outside the promised limit, or not a working day.
    #[error(
        "rule 容缺时限 (cure due is a working day within the promised limit): cure due {due}{} is not allowed; choose \
         a working day from today to {latest}, the end of the bundle's promised limit",
        if *not_working_day { " (not a working day)" } else { "" }
    )]
    CureTooLate {
        /// Requested.
        due: Date,
        /// Latest allowed.
        latest: Date,
        /// Within the range, but not a working day.
        not_working_day: bool,
    },
    /// A ticket deadline outside what the policy allows.
    #[error(
        "rule 限期整改 (rectification within {max_days} working days): deadline {due} is not between today and \
         {latest}; choose a date in that range"
    )]
    DeadlineOutOfRange {
        /// Requested.
        due: Date,
        /// Latest allowed.
        latest: Date,
        /// The policy's maximum.
        max_days: u32,
    },
    /// A required text is empty.
    #[error("rule {rule}: a {what} is required and must not be empty")]
    ReasonRequired {
        /// Rule.
        rule: &'static str,
        /// What.
        what: &'static str,
    },
    /// Not a known id of the definition or of the case.
    #[error("unknown {what} `{id}`; accepted: {}", if accepted.is_empty() { "none".to_owned() } else { join(accepted, ", ") })]
    Unknown {
        /// What kind of thing.
        what: &'static str,
        /// The id given.
        id: String,
        /// Accepted ids.
        accepted: Vec<Id>,
    },
    /// Not a case the engine holds (or, for an applicant, not one of theirs).
    #[error("unknown case {case}; {}", match known {
        KnownCases::UpTo(last) => format!("accepted: C000001–{last}"),
        KnownCases::Retired => format!("{case} was retired (finished and handed out of the engine)"),
        KnownCases::OwnOnly => "name one of your own cases, or none".to_owned(),
    })]
    UnknownCase {
        /// The case named.
        case: CaseId,
        /// What is known.
        known: KnownCases,
    },
    /// Not a ticket the engine holds.
    #[error("unknown ticket {ticket}; accepted: T000001–{}", TicketId(*opened))]
    UnknownTicket {
        /// The ticket named.
        ticket: TicketId,
        /// Tickets opened so far.
        opened: u64,
    },
    /// A value is out of range.
    #[error("{what} {value} is not valid; {accepted}")]
    OutOfRange {
        /// What.
        what: &'static str,
        /// The value, as given.
        value: String,
        /// Accepted.
        accepted: &'static str,
    },
    /// This item or ticket does not allow the requested action (e.g. 模拟审批 not allowed).
    #[error("rule {rule}: {subject} {reason}")]
    NotAllowedFor {
        /// Rule.
        rule: &'static str,
        /// The task or ticket.
        subject: Subject,
        /// Reason.
        reason: &'static str,
    },
    /// A ticket would make the supervision section responsible: it supervises every ticket and
    /// cannot supervise itself (回避), and nobody else may rectify or supervise it.
    #[error(
        "rule 回避 (nobody supervises their own department): `{department}` is the supervision section (效能监察), which \
         supervises every ticket and so cannot be the responsible department of one; name a department that decides \
         items ({}), or take a complaint about the supervision section itself to a leader",
        join(accepted, ", ")
    )]
    SupervisionResponsible {
        /// The department named.
        department: Id,
        /// Departments that may be responsible (those that decide items).
        accepted: Vec<Id>,
    },
    /// A migration to another definition version is not allowed for this case (版本迁移).
    #[error(
        "rule 版本迁移 (a running case moves to another version only when nothing done or promised is lost): \
         {case} cannot migrate: {}",
        obstacles.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    MigrationRefused {
        /// The case.
        case: CaseId,
        /// Every reason.
        obstacles: Vec<crate::machine::case::Obstacle>,
    },
    /// A form answer does not fit the bundle's merged form.
    #[error("rule 一表申请 (answers fill the bundle's merged form): {0}")]
    FormAnswer(PlanError),
    /// The calendar cannot answer for the date involved.
    #[error("{0}")]
    Calendar(#[from] CalendarError),
}

fn join<T: fmt::Display>(items: &[T], sep: &str) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(sep)
}

fn accepted_text(state: &str, accepted: &[&str]) -> String {
    if accepted.is_empty() {
        format!("in {state} it takes no command (only the engine moves it on: a timer, or what follows from the case)")
    } else {
        format!("in {state} it accepts: {}", accepted.join(", "))
    }
}

impl Rejection {
    /// The refusal of a command that `M`'s spec does not declare in the current state.
    pub fn invalid_state<M: Machine>(subject: Subject, command: &'static str, refused: Refused<M>) -> Rejection {
        Rejection::InvalidState {
            subject,
            command,
            state: refused.state.name(),
            accepted: refused.accepted.iter().map(|c| c.name()).collect(),
        }
    }

    /// A stable machine-readable code, e.g. `wrong_department`.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::RoleNotAllowed { .. } => "role_not_allowed",
            Rejection::WrongDepartment { .. } => "wrong_department",
            Rejection::SignedEarlierLevel { .. } => "signed_earlier_level",
            Rejection::NotTheApplicant { .. } | Rejection::NotYourCase { .. } => "not_the_applicant",
            Rejection::InvalidState { .. }
            | Rejection::AlreadyRated
            | Rejection::AlreadySigned { .. }
            | Rejection::AlreadyVoted { .. } => "invalid_state",
            Rejection::RecallAfterClaim { .. } => "recall_after_claim",
            Rejection::MaterialsIncomplete { .. } => "materials_incomplete",
            Rejection::NotTolerable { .. } => "not_tolerable",
            Rejection::NothingToTolerate => "nothing_to_tolerate",
            Rejection::NothingMissing => "nothing_missing",
            Rejection::CreditBlocked { .. } => "credit_blocked",
            Rejection::CureTooLate { .. } => "cure_too_late",
            Rejection::DeadlineOutOfRange { .. } => "deadline_out_of_range",
            Rejection::ReasonRequired { .. } => "reason_required",
            Rejection::Unknown { .. } | Rejection::UnknownCase { .. } | Rejection::UnknownTicket { .. } => "unknown",
            Rejection::OutOfRange { .. } | Rejection::FormAnswer(_) => "out_of_range",
            Rejection::NotAllowedFor { .. } => "not_allowed_for_item",
            Rejection::Countersigner { .. } => "countersigner_refused",
            Rejection::SupervisionResponsible { .. } => "supervision_not_responsible",
            Rejection::Calendar(_) => "calendar",
            Rejection::MigrationRefused { .. } => "migration_refused",
        }
    }

    /// Whether the refusal names a case or ticket the engine does not hold (for an applicant,
    /// also one that is not theirs: the two read alike), as a service's 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Rejection::UnknownCase { .. } | Rejection::UnknownTicket { .. })
    }

    /// Whether the refusal is about who acts (HTTP 403) rather than what (422).
    pub fn is_authorization(&self) -> bool {
        matches!(
            self,
            Rejection::RoleNotAllowed { .. }
                | Rejection::WrongDepartment { .. }
                | Rejection::SignedEarlierLevel { .. }
                | Rejection::NotTheApplicant { .. }
                | Rejection::NotYourCase { .. }
        )
    }
}

/// Which 加签 / 减签 rule refused (see [`Rejection::Countersigner`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountersignerRule {
    /// Adding a department that already decides or was already added.
    AlreadyInSet,
    /// Removing a department the definition lists: only added ones are removed.
    InDefinition,
    /// Removing a department that was never added.
    NotAdded,
    /// Removing an added department that has signed.
    Signed,
    /// Adding the supervision section: it supervises and never decides.
    Supervision,
    /// Adding to a 或签 or 票签 item: its set is fixed by the definition.
    VotingItem,
    /// Adding a 前加签 signer after the deciding signature was given.
    DecisionSigned,
    /// More added countersigners than [`crate::machine::task::MAX_ADDED`].
    TooMany,
    /// The deciding approval while a 前加签 countersigner has not signed.
    SignsFirst,
    /// A 后加签 countersigner signing before the deciding approval.
    SignsAfter,
}

impl CountersignerRule {
    /// The rule's name: 加签, 减签, 前加签 or 后加签.
    pub fn rule(self) -> &'static str {
        match self {
            CountersignerRule::AlreadyInSet
            | CountersignerRule::Supervision
            | CountersignerRule::VotingItem
            | CountersignerRule::TooMany => "加签 (add a countersigner)",
            CountersignerRule::InDefinition | CountersignerRule::NotAdded | CountersignerRule::Signed => {
                "减签 (remove an added countersigner that has not signed)"
            }
            CountersignerRule::DecisionSigned | CountersignerRule::SignsFirst => {
                "前加签 (the added department signs before the deciding signature)"
            }
            CountersignerRule::SignsAfter => "后加签 (the added department signs after the deciding signature)",
        }
    }

    /// What is wrong and what would be accepted.
    pub fn reason(self) -> &'static str {
        match self {
            CountersignerRule::AlreadyInSet => {
                "is already one of the task's signing departments; add another department"
            }
            CountersignerRule::InDefinition => {
                "is a deciding department of the item's definition; only a department added to this task can be removed"
            }
            CountersignerRule::NotAdded => "was not added to this task; only added countersigners can be removed",
            CountersignerRule::Signed => "has already signed, and a signature stays; it can no longer be removed",
            CountersignerRule::Supervision => {
                "is the supervision section (效能监察), which supervises and never signs; add a deciding section or agency"
            }
            CountersignerRule::VotingItem => {
                "cannot be added: the item is decided by 或签 or 票签, whose departments the definition fixes; add \
                 countersigners only to items decided by one department or a countersign (会签)"
            }
            CountersignerRule::DecisionSigned => {
                "cannot sign before a deciding signature that is already given; add it after (后加签) instead"
            }
            CountersignerRule::TooMany => "cannot be added: a task has at most 8 added countersigners",
            CountersignerRule::SignsFirst => {
                "has not signed yet; the deciding approval waits for it (or remove it, 减签)"
            }
            CountersignerRule::SignsAfter => "signs after the deciding approval, which is not given yet",
        }
    }
}
