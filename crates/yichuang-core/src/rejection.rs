//! Typed rejections: why a command was refused, naming the rule and what would be accepted.
//! A rejected command changes nothing.

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The actor's role may not issue this command at all.
    #[error("rule {rule}: {actor} may not {command}; {allowed}")]
    RoleNotAllowed {
        /// The rule's name, e.g. `受审分离 (intake clerks never decide)`.
        rule: &'static str,
        /// The actor.
        actor: String,
        /// The command.
        command: &'static str,
        /// Who may.
        allowed: String,
    },
    /// A reviewer acted on another department's task.
    #[error(
        "rule 本部门办理 (a department acts only on its own tasks): {actor} may not act on `{item}`, which is decided by {departments}"
    )]
    WrongDepartment {
        /// The actor.
        actor: String,
        /// The item.
        item: String,
        /// Departments that decide it.
        departments: String,
    },
    /// Someone other than the case's applicant acted for it.
    #[error(
        "rule 申请人本人 (only the applicant or a window clerk on their behalf): {actor} is not the applicant {applicant} of this case"
    )]
    NotTheApplicant {
        /// The actor.
        actor: String,
        /// The case's applicant.
        applicant: String,
    },
    /// An applicant linked a complaint to someone else's case.
    #[error(
        "rule 申请人本人 (an applicant links a complaint only to their own cases): {actor} is not the applicant of \
         {case}; link one of your own cases, or none"
    )]
    NotYourCase {
        /// The actor.
        actor: String,
        /// The case linked.
        case: String,
    },
    /// The command does not apply in the current state.
    #[error("rule 状态机 (state machine): cannot {command} while the {subject} is {state}; {accepted}")]
    InvalidState {
        /// The command.
        command: &'static str,
        /// `case` or `task <item>`.
        subject: String,
        /// Current state.
        state: String,
        /// What is accepted in this state.
        accepted: String,
    },
    /// Acceptance needs materials that are missing.
    #[error(
        "rule 材料齐全 (complete materials): cannot accept, missing {missing}; request a correction (补正告知) listing them, or accept tolerating them if they are all tolerable (容缺)"
    )]
    MaterialsIncomplete {
        /// The missing materials.
        missing: String,
    },
    /// 容缺 requested but a Required material is missing.
    #[error(
        "rule 容缺受理 (only tolerable materials may be missing): {missing} are required (必备) and missing; request a correction instead"
    )]
    NotTolerable {
        /// Required materials missing.
        missing: String,
    },
    /// 容缺 requested but nothing is missing.
    #[error("rule 容缺受理: nothing is missing, so there is nothing to tolerate; accept normally")]
    NothingToTolerate,
    /// A correction was requested but nothing is missing.
    #[error("rule 补正告知: no required or tolerable material is missing; accept the application instead")]
    NothingMissing,
    /// The applicant is credit-blocked.
    #[error(
        "rule 信用 (credit): applicant {applicant} has a bad credit record and is excluded from 容缺受理 until credit repair; request a correction instead"
    )]
    CreditBlocked {
        /// The applicant.
        applicant: String,
    },
    /// The cure deadline is later than the promised limit allows.
    #[error(
        "rule 容缺时限 (cure due is a working day within the promised limit): cure due {due} is not allowed; choose a working day from today to {latest}, the end of the bundle's promised limit"
    )]
    CureTooLate {
        /// Requested.
        due: String,
        /// Latest allowed.
        latest: String,
    },
    /// A ticket deadline outside what the policy allows.
    #[error(
        "rule 限期整改 (rectification within {max_days} working days): deadline {due} is not between today and {latest}; choose a date in that range"
    )]
    DeadlineOutOfRange {
        /// Requested.
        due: String,
        /// Latest allowed.
        latest: String,
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
    /// Not a known id of the definition or the case.
    #[error("unknown {what} `{id}`; accepted: {accepted}")]
    Unknown {
        /// What kind of thing.
        what: &'static str,
        /// The id given.
        id: String,
        /// Accepted ids.
        accepted: String,
    },
    /// A value is out of range.
    #[error("{what} {value} is not valid; {accepted}")]
    OutOfRange {
        /// What.
        what: &'static str,
        /// Value.
        value: String,
        /// Accepted.
        accepted: &'static str,
    },
    /// This item does not allow the requested action (e.g. 模拟审批 not allowed).
    #[error("rule {rule}: item `{item}` {reason}")]
    NotAllowedForItem {
        /// Rule.
        rule: &'static str,
        /// Item.
        item: String,
        /// Reason.
        reason: &'static str,
    },
    /// A ticket would make the supervision section responsible: it supervises every ticket and
    /// cannot supervise itself (回避), and nobody else may rectify or supervise it.
    #[error(
        "rule 回避 (nobody supervises their own department): `{department}` is the supervision section (效能监察), which \
         supervises every ticket and so cannot be the responsible department of one; name a department that decides \
         items ({accepted}), or take a complaint about the supervision section itself to a leader"
    )]
    SupervisionResponsible {
        /// The department named.
        department: String,
        /// Departments that may be responsible (those that decide items).
        accepted: String,
    },
    /// A form answer does not fit the bundle's merged form.
    #[error("rule 一表申请 (answers fill the bundle's merged form): {detail}")]
    FormAnswer {
        /// What is wrong and what the form accepts.
        detail: String,
    },
    /// The calendar cannot answer for the date involved.
    #[error("{0}")]
    Calendar(#[from] crate::calendar::CalendarError),
}

impl Rejection {
    /// A stable machine-readable code, e.g. `wrong_department`.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::RoleNotAllowed { .. } => "role_not_allowed",
            Rejection::WrongDepartment { .. } => "wrong_department",
            Rejection::NotTheApplicant { .. } | Rejection::NotYourCase { .. } => "not_the_applicant",
            Rejection::InvalidState { .. } => "invalid_state",
            Rejection::MaterialsIncomplete { .. } => "materials_incomplete",
            Rejection::NotTolerable { .. } => "not_tolerable",
            Rejection::NothingToTolerate => "nothing_to_tolerate",
            Rejection::NothingMissing => "nothing_missing",
            Rejection::CreditBlocked { .. } => "credit_blocked",
            Rejection::CureTooLate { .. } => "cure_too_late",
            Rejection::DeadlineOutOfRange { .. } => "deadline_out_of_range",
            Rejection::ReasonRequired { .. } => "reason_required",
            Rejection::Unknown { .. } => "unknown",
            Rejection::OutOfRange { .. } => "out_of_range",
            Rejection::NotAllowedForItem { .. } => "not_allowed_for_item",
            Rejection::SupervisionResponsible { .. } => "supervision_not_responsible",
            Rejection::FormAnswer { .. } => "out_of_range",
            Rejection::Calendar(_) => "calendar",
        }
    }

    /// Whether the refusal is about who acts (HTTP 403) rather than what (422).
    pub fn is_authorization(&self) -> bool {
        matches!(
            self,
            Rejection::RoleNotAllowed { .. }
                | Rejection::WrongDepartment { .. }
                | Rejection::NotTheApplicant { .. }
                | Rejection::NotYourCase { .. }
        )
    }
}
