//! The JSON of the API: request bodies turned into the core's commands (with every mistake a
//! 400 that says what was expected), and the views the queries answer with.
//!
//! Conventions: command names are snake_case (`accept_tolerating`, as [`Command::name`] says
//! them); enum *values* are written as in the definition files and the events
//! (`"Window"`, `"Hearing"`, `"Superficial"`); dates are `YYYY-MM-DD`, instants
//! `YYYY-MM-DDTHH:MM` in hall time (UTC+8); case and ticket ids are `C000001` / `T000001`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use yichuang_core::definition::Definition;
use yichuang_core::event::Applicant;
use yichuang_core::{
    Actor, CaseId, Channel, Command, ComplaintTarget, Date, DeliveryMethod, FailKind, Id, Instant, ReturnTo, Role,
    SpecialProcedureKind, StreamId, Submission, TaskCommand, TicketCommand, TicketId, TicketSource,
};

use crate::error::ApiError;
use crate::extract::Body;

/// A request body, parsed: the command and the optional optimistic-concurrency version.
#[derive(Debug)]
pub struct Parsed<T> {
    /// The command.
    pub command: T,
    /// `expected_version`: the stream's version the client decided on (409 if it moved).
    pub expected_version: Option<u32>,
    /// The command's name (`"command"`, or a ticket's `"source"`) as sent, for the logs; only
    /// set when the body parsed, so it is one of the names the API knows.
    pub name: Option<String>,
}

/// Parses a JSON object body into a command of type `T`, taking out `expected_version` first.
/// `default_command` fills in `"command"` when the body has none.
pub fn parse<T: serde::de::DeserializeOwned>(
    body: &[u8],
    default_command: Option<&str>,
) -> Result<Parsed<T>, ApiError> {
    let mut value = strict_json(body)?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::bad_request("malformed_json", "the body must be a JSON object"));
    };
    let expected_version = match object.remove("expected_version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().and_then(|v| u32::try_from(v).ok()).ok_or_else(|| {
            ApiError::bad_request("bad_request", format!("expected_version must be a whole number ≥ 0, not {v}"))
        })?),
    };
    if let Some(default) = default_command {
        object.entry("command").or_insert_with(|| Value::String(default.to_owned()));
    }
    let name = ["command", "source"].iter().find_map(|k| object.get(*k)?.as_str().map(str::to_owned));
    let command = serde_json::from_value(value).map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
    Ok(Parsed { command, expected_version, name })
}

/// The body as a JSON value, refusing what a lenient parser would silently resolve: a key
/// written twice in one object (400 `duplicate_key`, naming it; serde_json would keep the last,
/// so `{"command":"claim","command":"approve"}` would be decided as approve).
pub fn strict_json(body: &[u8]) -> Result<Value, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Strict::deserialize(&mut de).and_then(|Strict(v)| de.end().map(|()| v));
    value.map_err(|e| {
        let text = e.to_string();
        if text.starts_with(DUPLICATE_KEY) {
            ApiError::bad_request("duplicate_key", format!("{text}; write each key once"))
        } else {
            ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {text}"))
        }
    })
}

const DUPLICATE_KEY: &str = "duplicate key";

/// A JSON value whose objects have no key twice (serde_json's own error positions are kept).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    /// A number with a zero fraction (`2.0`, `1e3`) is the integer it writes, as JSON Schema
    /// counts it (the API's description says `"type": "integer"`): `{"stars": 2.0}` is 2 stars.
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
        if v.fract() == 0.0 && v.abs() < EXACT {
            // Exact: |v| < 2^53 and no fraction.
            #[allow(clippy::cast_possible_truncation)]
            return Ok(Value::from(v as i64));
        }
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!("{DUPLICATE_KEY} `{}`", shortened(&key))));
            }
            let Strict(v) = map.next_value()?;
            object.insert(key, v);
        }
        Ok(Value::Object(object))
    }
}

/// At most 40 characters of a client's text, for a message.
pub fn shortened(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Bodies parsed by [`parse`]: a JSON object with `"command"` (or `"source"`) and its arguments.
macro_rules! command_bodies {
    ($($body:ty => $default:expr),* $(,)?) => {$(
        impl Body for $body {
            fn parse(bytes: &[u8]) -> Result<Parsed<Self>, ApiError> {
                parse(bytes, $default)
            }
        }
    )*};
}

command_bodies! {
    OpenCase => Some("submit"),
    CaseCommand => None,
    TaskCommandBody => None,
    OpenTicket => None,
    TicketCommandBody => None,
}

/// A command without arguments (`POST /v1/plan/tickets`): no body, or `{}`.
#[derive(Debug)]
pub struct NoArguments;

impl Body for NoArguments {
    fn parse(bytes: &[u8]) -> Result<Parsed<NoArguments>, ApiError> {
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            let p = parse::<serde_json::Map<String, Value>>(bytes, None)?;
            if !p.command.is_empty() || p.expected_version.is_some() {
                return Err(ApiError::bad_request(
                    "bad_request",
                    "this command takes no arguments: send {} or nothing",
                ));
            }
        }
        Ok(Parsed { command: NoArguments, expected_version: None, name: None })
    }
}

/// The applicant as sent (`credit_blocked` defaults to false).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicantBody {
    id: Id,
    name: String,
    #[serde(default)]
    credit_blocked: bool,
}

impl From<ApplicantBody> for Applicant {
    fn from(a: ApplicantBody) -> Applicant {
        Applicant { id: a.id, name: a.name, credit_blocked: a.credit_blocked }
    }
}

/// An application (收件).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionBody {
    bundle: Id,
    applicant: ApplicantBody,
    /// Absent: `Window` for staff, `Web` for an applicant (who may not claim `Window`).
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default, deserialize_with = "unique_materials")]
    materials: Vec<Id>,
    #[serde(default)]
    answers: BTreeMap<String, String>,
    #[serde(default)]
    green_channel: bool,
}

/// A list of materials in which each appears once: a material handed in twice is a mistake
/// of the client (or an attempt to bloat the log), so it is refused, naming the material,
/// rather than stored as sent or silently collapsed.
fn unique_materials<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Id>, D::Error> {
    let ids = Vec::<Id>::deserialize(d)?;
    let mut seen = std::collections::BTreeSet::new();
    for id in &ids {
        if !seen.insert(id.as_str()) {
            return Err(serde::de::Error::custom(format_args!(
                "material `{}` is listed twice; list each material once",
                shortened(id)
            )));
        }
    }
    Ok(ids)
}

/// The channel of a submission by `actor`: an applicant applies online (`Web` when not said)
/// and may not claim the window channel, which only a window clerk records (窗口收件); staff
/// default to `Window`.
fn channel_for(actor: &Actor, channel: Option<Channel>) -> Result<Channel, ApiError> {
    match (&actor.role, channel) {
        (Role::Applicant, Some(Channel::Window)) => Err(ApiError::forbidden(
            "role_not_allowed",
            "rule 窗口收件 (only a window clerk records a submission made at the window): an applicant submits \
             online, with channel Web or Mobile (Web when not given)",
        )),
        (Role::Applicant, None) => Ok(Channel::Web),
        (_, Some(channel)) => Ok(channel),
        (_, None) => Ok(Channel::Window),
    }
}

impl SubmissionBody {
    fn into_command(self, actor: &Actor) -> Result<Command, ApiError> {
        Ok(Command::Submit(Box::new(Submission {
            bundle: self.bundle,
            applicant: self.applicant.into(),
            channel: channel_for(actor, self.channel)?,
            materials: self.materials.into(),
            answers: self.answers.into(),
            green_channel: self.green_channel,
        })))
    }
}

/// `POST /v1/cases`: submit (the default) or consult.
#[derive(Debug, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpenCase {
    /// 提交申请.
    Submit(SubmissionBody),
    /// 帮办咨询.
    Consult {
        /// Bundle.
        bundle: Id,
        /// Applicant.
        applicant: ApplicantBody,
    },
}

impl OpenCase {
    /// The core command, as `actor` sends it (the channel of a submission depends on who sends it).
    pub fn into_command(self, actor: &Actor) -> Result<Command, ApiError> {
        match self {
            OpenCase::Submit(s) => s.into_command(actor),
            OpenCase::Consult { bundle, applicant } => Ok(Command::Consult { bundle, applicant: applicant.into() }),
        }
    }
}

/// `POST /v1/cases/{id}/commands`.
///
/// Commands without arguments are written as empty struct variants (`Accept {}`) rather than
/// unit variants: serde ignores unknown fields next to an internally tagged *unit* variant, and
/// a misspelt argument must be a 400, not silently dropped.
#[derive(Debug, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaseCommand {
    /// Submit a consulted case.
    Submit(SubmissionBody),
    /// 受理.
    Accept {},
    /// 容缺受理.
    AcceptTolerating {
        /// Cure date.
        cure_due: Date,
    },
    /// 补正告知.
    RequestCorrection {},
    /// 不予受理.
    Reject {
        /// Reason.
        reason: String,
    },
    /// 补正后重新提交.
    Resubmit {
        /// Materials, each once.
        #[serde(deserialize_with = "unique_materials")]
        materials: Vec<Id>,
    },
    /// 补齐.
    Supply {
        /// Material.
        material: Id,
    },
    /// 一并出件.
    Deliver {
        /// `Window`, `Post` or `Electronic`.
        method: DeliveryMethod,
    },
    /// 好差评.
    Rate {
        /// 1–5.
        stars: u8,
    },
    /// 撤回.
    Withdraw {},
}

impl CaseCommand {
    /// The core command, as `actor` sends it (the channel of a submission depends on who sends it).
    pub fn into_command(self, actor: &Actor) -> Result<Command, ApiError> {
        Ok(match self {
            CaseCommand::Submit(s) => return s.into_command(actor),
            CaseCommand::Accept {} => Command::Accept,
            CaseCommand::AcceptTolerating { cure_due } => Command::AcceptTolerating { cure_due },
            CaseCommand::RequestCorrection {} => Command::RequestCorrection,
            CaseCommand::Reject { reason } => Command::Reject { reason },
            CaseCommand::Resubmit { materials } => Command::Resubmit { materials },
            CaseCommand::Supply { material } => Command::Supply { material },
            CaseCommand::Deliver { method } => Command::Deliver { method },
            CaseCommand::Rate { stars } => Command::Rate { stars },
            CaseCommand::Withdraw {} => Command::Withdraw,
        })
    }
}

/// `POST /v1/cases/{id}/tasks/{item}/commands`.
#[derive(Debug, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskCommandBody {
    /// 认领.
    Claim {},
    /// 准予 / 会签.
    Approve {},
    /// 不予.
    Deny {
        /// Reason.
        reason: String,
    },
    /// 特别程序开始.
    StartSpecialProcedure {
        /// `Hearing`, `Testing`, `Appraisal`, `ExpertReview` or `SiteInspection`.
        kind: SpecialProcedureKind,
    },
    /// 特别程序结束.
    EndSpecialProcedure {},
    /// 模拟审批.
    ApproveSimulated {},
    /// 前置条件满足.
    MeetPrecondition {
        /// Facts changed since the simulated review.
        facts_changed: bool,
    },
    /// 退回 to an earlier review level.
    Return {
        /// `Previous` or `First`.
        to: ReturnTo,
        /// Reason.
        reason: String,
    },
    /// 催办 (a leader or supervisor).
    Urge {
        /// What is asked.
        #[serde(default)]
        note: String,
    },
    /// 加签: a leader or a reviewer of the deciding department adds a countersigner.
    AddSigner {
        /// The department added.
        department: Id,
        /// `Before` (前加签) or `After` (后加签) the deciding signature.
        position: yichuang_core::machine::task::SignerPosition,
    },
    /// 减签: removes an added countersigner that has not signed.
    RemoveSigner {
        /// The added department.
        department: Id,
    },
    /// 撤回 / 拿回 (the signer takes back its own signature).
    Recall {},
    /// 补充材料: ask the applicant for materials or explanations, due in `days` working days.
    RequestSupplement {
        /// What is asked, one entry each.
        asked: Vec<String>,
        /// Working days, 1 to the definition's `policies.supplement_max_days`.
        days: u32,
    },
    /// The applicant (or a window clerk) supplies what was asked.
    ProvideSupplement {},
    /// 转办: to another reviewer of the department, or (`to` absent or null) to its queue.
    Transfer {
        /// The reviewer's person id.
        #[serde(default)]
        to: Option<Id>,
    },
    /// 委派: another reviewer works on it; it comes back to the delegator, who signs.
    Delegate {
        /// The delegate's person id.
        to: Id,
    },
    /// 委派完成: the delegate hands it back.
    ResolveDelegation {
        /// What was found or done.
        #[serde(default)]
        note: String,
    },
}

impl TaskCommandBody {
    /// The core command.
    pub fn into_command(self) -> TaskCommand {
        match self {
            TaskCommandBody::Claim {} => TaskCommand::Claim,
            TaskCommandBody::Approve {} => TaskCommand::Approve,
            TaskCommandBody::Deny { reason } => TaskCommand::Deny { reason },
            TaskCommandBody::StartSpecialProcedure { kind } => TaskCommand::StartSpecialProcedure { kind },
            TaskCommandBody::EndSpecialProcedure {} => TaskCommand::EndSpecialProcedure,
            TaskCommandBody::ApproveSimulated {} => TaskCommand::ApproveSimulated,
            TaskCommandBody::MeetPrecondition { facts_changed } => TaskCommand::MeetPrecondition { facts_changed },
            TaskCommandBody::Return { to, reason } => TaskCommand::Return { to, reason },
            TaskCommandBody::Urge { note } => TaskCommand::Urge { note },
            TaskCommandBody::AddSigner { department, position } => TaskCommand::AddSigner { department, position },
            TaskCommandBody::RemoveSigner { department } => TaskCommand::RemoveSigner { department },
            TaskCommandBody::Recall {} => TaskCommand::Recall,
            TaskCommandBody::RequestSupplement { asked, days } => TaskCommand::RequestSupplement { asked, days },
            TaskCommandBody::ProvideSupplement {} => TaskCommand::ProvideSupplement,
            TaskCommandBody::Transfer { to } => TaskCommand::Transfer { to },
            TaskCommandBody::Delegate { to } => TaskCommand::Delegate { to },
            TaskCommandBody::ResolveDelegation { note } => TaskCommand::ResolveDelegation { note },
        }
    }
}

/// `POST /v1/tickets`: a complaint (吐槽找茬) or an inspection finding (巡视/巡察反馈问题).
#[derive(Debug, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum OpenTicket {
    /// 吐槽找茬.
    Complaint {
        /// `{"Window": {"window": …, "department": …}}`, `{"Department": "…"}` or
        /// `{"Process": {"description": …, "department": …}}`.
        target: ComplaintTarget,
        /// Related case, e.g. `C000001`.
        #[serde(default, deserialize_with = "case_id")]
        case: Option<CaseId>,
        /// The complaint.
        text: String,
    },
    /// 巡视/巡察反馈问题.
    Inspection {
        /// The finding.
        finding: String,
        /// The plan task it tracks.
        #[serde(default)]
        plan_task: Option<Id>,
    },
}

fn case_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<CaseId>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| match parse_stream(&t) {
        Some(StreamId::Case(c)) => Ok(c),
        _ => Err(serde::de::Error::custom(format!(
            "`{}` is not a case id; write it exactly like C000001",
            shortened(&t)
        ))),
    })
    .transpose()
}

impl OpenTicket {
    /// The core ticket source.
    pub fn into_source(self) -> TicketSource {
        match self {
            OpenTicket::Complaint { target, case, text } => TicketSource::Complaint { target, case, text },
            OpenTicket::Inspection { finding, plan_task } => TicketSource::Inspection { finding, plan_task },
        }
    }
}

/// `POST /v1/tickets/{id}/commands`.
#[derive(Debug, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum TicketCommandBody {
    /// 立行立改.
    FixNow {},
    /// 建立台账.
    Ledger {
        /// Deadline.
        deadline: Date,
    },
    /// 解释说明.
    Explain {
        /// Basis.
        basis: String,
    },
    /// 申诉.
    Appeal {
        /// Reason.
        reason: String,
    },
    /// 提交整改.
    SubmitRectification {
        /// Measures.
        measures: String,
        /// Evidence.
        evidence: String,
    },
    /// 监督通过.
    Pass {},
    /// 监督不通过.
    Fail {
        /// `Superficial`, `Perfunctory`, `False` or `Incomplete`.
        kind: FailKind,
    },
    /// 申诉成立.
    UpholdAppeal {},
    /// 反馈.
    FeedBack {
        /// Message.
        message: String,
    },
    /// 回访.
    FollowUp {
        /// Satisfied.
        satisfied: bool,
    },
}

impl TicketCommandBody {
    /// The core command.
    pub fn into_command(self) -> TicketCommand {
        match self {
            TicketCommandBody::FixNow {} => TicketCommand::FixNow,
            TicketCommandBody::Ledger { deadline } => TicketCommand::Ledger { deadline },
            TicketCommandBody::Explain { basis } => TicketCommand::Explain { basis },
            TicketCommandBody::Appeal { reason } => TicketCommand::Appeal { reason },
            TicketCommandBody::SubmitRectification { measures, evidence } => {
                TicketCommand::SubmitRectification { measures, evidence }
            }
            TicketCommandBody::Pass {} => TicketCommand::Pass,
            TicketCommandBody::Fail { kind } => TicketCommand::Fail { kind },
            TicketCommandBody::UpholdAppeal {} => TicketCommand::UpholdAppeal,
            TicketCommandBody::FeedBack { message } => TicketCommand::FeedBack { message },
            TicketCommandBody::FollowUp { satisfied } => TicketCommand::FollowUp { satisfied },
        }
    }
}

/// `POST /v1/clock` (manual clock only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetClock {
    /// The new hall time.
    pub now: Instant,
}

impl Body for SetClock {
    fn parse(bytes: &[u8]) -> Result<Parsed<SetClock>, ApiError> {
        let command = serde_json::from_value(strict_json(bytes)?).map_err(|e| {
            ApiError::bad_request("bad_request", format!("send {{\"now\": \"YYYY-MM-DDTHH:MM\"}}: {e}"))
        })?;
        Ok(Parsed { command, expected_version: None, name: None })
    }
}

/// `POST /v1/definitions`: a definition's RON text to deploy (发布新版本).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployDefinition {
    /// The RON text, as a definition file holds it.
    pub text: String,
    /// Where it came from (a file name, a label), kept with the deployment; default
    /// `POST /v1/definitions`.
    #[serde(default)]
    pub origin: Option<String>,
}

/// Longest `origin` kept with a deployment, in characters.
pub const ORIGIN_MAX: usize = 200;

impl Body for DeployDefinition {
    fn parse(bytes: &[u8]) -> Result<Parsed<DeployDefinition>, ApiError> {
        let command: DeployDefinition = serde_json::from_value(strict_json(bytes)?).map_err(|e| {
            ApiError::bad_request(
                "bad_request",
                format!("send {{\"text\": \"the definition's RON text\", \"origin\": \"a label, optional\"}}: {e}"),
            )
        })?;
        if command.origin.as_ref().is_some_and(|o| o.is_empty() || o.chars().count() > ORIGIN_MAX) {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("`origin` is a label of 1–{ORIGIN_MAX} characters (a file name, a ticket number), or absent"),
            ));
        }
        Ok(Parsed { command, expected_version: None, name: Some("deploy".into()) })
    }
}

/// `POST /v1/migrations`: move the open cases to a definition version (版本迁移), or only say
/// what would happen (`dry_run`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationBody {
    /// The version to move to; default the active one.
    #[serde(default)]
    pub to: Option<String>,
    /// Renamed items and bundles ([`yichuang_core::machine::case::MigrationPlan`]); default none.
    #[serde(default)]
    pub plan: Option<yichuang_core::machine::case::MigrationPlan>,
    /// Only judge every open case; nothing changes.
    pub dry_run: bool,
}

/// A parsed [`MigrationBody`].
#[derive(Debug)]
pub struct Migration {
    /// The version to move to (`None`: the active one).
    pub to: Option<yichuang_core::definition::Version>,
    /// The plan.
    pub plan: yichuang_core::machine::case::MigrationPlan,
    /// Only judge.
    pub dry_run: bool,
}

impl Body for Migration {
    fn parse(bytes: &[u8]) -> Result<Parsed<Migration>, ApiError> {
        let body: MigrationBody = serde_json::from_value(strict_json(bytes)?).map_err(|e| {
            ApiError::bad_request(
                "bad_request",
                format!(
                    "send {{\"dry_run\": true|false, \"to\": \"a version (16 hex digits), optional\", \"plan\": \
                     {{\"renames\": {{\"old-item\": \"new-item\"}}, \"bundle_renames\": {{}}}}}}: {e}"
                ),
            )
        })?;
        let to = match body.to {
            None => None,
            Some(text) => {
                Some(text.parse().map_err(|why: String| ApiError::bad_request("bad_request", format!("`to`: {why}")))?)
            }
        };
        let plan = body.plan.unwrap_or_default();
        for (field, map) in [("renames", &plan.renames), ("bundle_renames", &plan.bundle_renames)] {
            if map.iter().any(|(old, new)| old.is_empty() || new.is_empty()) {
                return Err(ApiError::bad_request(
                    "bad_request",
                    format!("`plan.{field}` maps an old id to a new id, neither of them empty"),
                ));
            }
        }
        let name = if body.dry_run { "migration dry run" } else { "migration" };
        Ok(Parsed {
            command: Migration { to, plan, dry_run: body.dry_run },
            expected_version: None,
            name: Some(name.into()),
        })
    }
}

/// Parses a stream id in its one canonical form, `C000001` / `T000001` (a capital letter, then
/// the number in at least six digits without sign or extra leading zeros): `c000001`, `C1`,
/// `C+00001` and `C00000001` are not ids, so that one case has one path and an idempotent
/// retry is keyed on it.
pub fn parse_stream(text: &str) -> Option<StreamId> {
    let id: StreamId = text.parse().ok()?;
    (id.to_string() == text).then_some(id)
}

/// A case id from a path segment, or 404.
pub fn case_path(text: &str) -> Result<CaseId, ApiError> {
    match parse_stream(text) {
        Some(StreamId::Case(c)) if c.0 > 0 => Ok(c),
        _ => Err(ApiError::not_found(format!(
            "`{}` is not a case id; case ids are written exactly like C000001",
            shortened(text)
        ))),
    }
}

/// A ticket id from a path segment, or 404.
pub fn ticket_path(text: &str) -> Result<TicketId, ApiError> {
    match parse_stream(text) {
        Some(StreamId::Ticket(t)) if t.0 > 0 => Ok(t),
        _ => Err(ApiError::not_found(format!(
            "`{}` is not a ticket id; ticket ids are written exactly like T000001",
            shortened(text)
        ))),
    }
}

/// One task of a case, as shown.
#[derive(Debug, Serialize)]
pub struct TaskView {
    /// Item id.
    pub item: Id,
    /// Item name.
    pub name: String,
    /// Task state name (`Ready`, `InReview`, …).
    pub state: &'static str,
    /// The special procedure, while in one.
    pub special_procedure: Option<SpecialProcedureKind>,
    /// Departments that decide it (all of them for a countersign).
    pub departments: Vec<Id>,
    /// The reviewer who claimed it.
    pub reviewer: Option<Id>,
    /// SLA level (`Normal`, `Warning`, `Overdue`) while the clock runs.
    pub sla: Option<yichuang_core::machine::sla::SlaLevel>,
    /// The promised deadline of the task's clock (shifted by pauses), once it started.
    pub due: Option<Instant>,
    /// The promised working days of the task on the case's version (a migration never
    /// lengthens them).
    pub promised_days: u32,
    /// The review level under way (0 = the first).
    pub level: usize,
    /// Its name (承办, 审核, 批准 …).
    pub level_name: String,
    /// The item's review levels, in order.
    pub levels: Vec<String>,
    /// Who signed each level below the current one.
    pub signers: Vec<Id>,
    /// Times urged (催办).
    pub urged: u32,
    /// The current level's own clock (环节时限), when it has one.
    pub level_sla: Option<yichuang_core::machine::sla::SlaLevel>,
    /// How its departments decide: `Department`, `Countersign` (会签), `AnyOf` (或签) or `Vote`
    /// (票签).
    pub decision: &'static str,
    /// Approvals that decide it (all for 会签, one for 或签, k for 票签).
    pub approvals_needed: u32,
    /// Each deciding department's vote, when several decide (empty for one department).
    pub votes: Vec<VoteView>,
    /// Countersigners added to the running task (加签), with their position and whether they
    /// signed.
    pub added_signers: Vec<yichuang_core::machine::task::AddedSigner>,
    /// What is asked of the applicant and by when (补充材料), while the task awaits it.
    pub supplement: Option<SupplementView>,
    /// The delegate working on it (委派), while delegated.
    pub delegate: Option<Id>,
}

/// Materials or explanations asked during review (补充材料), as shown.
#[derive(Debug, Serialize)]
pub struct SupplementView {
    /// What is asked.
    pub asked: Vec<String>,
    /// Asked at (the clocks stopped then).
    pub since: Instant,
    /// The deadline.
    pub due: Instant,
}

/// One department's vote on a task decided by several (会签, 或签, 票签).
#[derive(Debug, Serialize)]
pub struct VoteView {
    /// The department.
    pub department: Id,
    /// `pending`, `approved`, `against` or `cancelled` (decided before it voted).
    pub vote: yichuang_core::machine::task::Vote,
}

/// Case view (`GET /v1/cases/{id}`).
#[derive(Debug, Serialize)]
pub struct CaseView {
    /// `C000001`.
    pub id: String,
    /// Events folded (for `expected_version`).
    pub version: u32,
    /// The definition version the case runs on (定义版本): the one it was submitted under,
    /// unless migrated.
    pub definition: yichuang_core::definition::Version,
    /// State name.
    pub state: &'static str,
    /// Bundle id.
    pub bundle: Id,
    /// Bundle name.
    pub bundle_name: String,
    /// The applicant.
    pub applicant: Applicant,
    /// Channel.
    pub channel: Option<Channel>,
    /// Green channel used.
    pub green_channel: bool,
    /// The window that took it.
    pub window: Option<Id>,
    /// Materials handed in.
    pub materials: Vec<Id>,
    /// Materials of the last correction notice.
    pub correction: Vec<Id>,
    /// Tolerated materials still outstanding.
    pub outstanding: Vec<Id>,
    /// Receipt time.
    pub received_at: Option<Instant>,
    /// Acceptance date.
    pub accepted_as_of: Option<Date>,
    /// Cure deadline.
    pub cure_due: Option<Instant>,
    /// Case SLA level.
    pub sla: Option<yichuang_core::machine::sla::SlaLevel>,
    /// The case's promised deadline (shifted by the closed pauses: special procedures,
    /// materials asked during review, suspensions), once accepted.
    pub due: Option<Instant>,
    /// Outcome.
    pub outcome: Option<yichuang_core::Outcome>,
    /// Delivery time.
    pub delivered_at: Option<Instant>,
    /// Delivery method.
    pub delivery_method: Option<DeliveryMethod>,
    /// Stars.
    pub rating: Option<u8>,
    /// Trips to the hall.
    pub trips: u32,
    /// Tasks in bundle order.
    pub tasks: Vec<TaskView>,
}

impl CaseView {
    /// Builds the view of a case.
    pub fn of(def: &Definition, c: &yichuang_core::Case) -> CaseView {
        let bundle = def.bundle(c.bundle());
        let tasks = c
            .tasks()
            .iter()
            .map(|t| {
                let item = def.item(t.item());
                TaskView {
                    item: t.item_id().clone(),
                    name: item.name.clone(),
                    state: t.state().name(),
                    special_procedure: t.special_procedure(),
                    departments: item.decided_by.departments().iter().map(|&d| def.department(d).id.clone()).collect(),
                    reviewer: t.reviewer().cloned(),
                    sla: t.sla().filter(|s| !s.stopped).map(|s| s.level),
                    due: t.sla().and_then(|s| s.deadline(def.calendar()).ok()),
                    promised_days: t.promised_days(def),
                    level: t.level(),
                    level_name: item.levels.get(t.level()).map_or_else(String::new, |l| l.name.clone()),
                    levels: item.levels.iter().map(|l| l.name.clone()).collect(),
                    signers: t.signers().to_vec(),
                    urged: t.urged(),
                    level_sla: t.level_sla().map(|s| s.level),
                    decision: item.decided_by.rule_name(),
                    approvals_needed: item.decided_by.approvals_needed(),
                    votes: if item.decided_by.departments().len() > 1 {
                        item.decided_by
                            .departments()
                            .iter()
                            .enumerate()
                            .map(|(i, &d)| VoteView { department: def.department(d).id.clone(), vote: t.vote(i) })
                            .collect()
                    } else {
                        Vec::new()
                    },
                    added_signers: t.added().to_vec(),
                    supplement: t.supplement().map(|s| SupplementView {
                        asked: s.asked.clone(),
                        since: s.since,
                        due: s.due,
                    }),
                    delegate: t.delegate().cloned(),
                }
            })
            .collect();
        CaseView {
            id: c.id().to_string(),
            version: c.version(),
            definition: def.version(),
            state: c.state().name(),
            bundle: bundle.id.clone(),
            bundle_name: bundle.name.clone(),
            applicant: c.applicant().clone(),
            channel: c.channel(),
            green_channel: c.green_channel(),
            window: c.window().cloned(),
            materials: c.materials().iter().map(|&m| def.material(m).id.clone()).collect(),
            correction: c.correction().to_vec(),
            outstanding: c.outstanding().to_vec(),
            received_at: c.received_at(),
            accepted_as_of: c.accepted_as_of(),
            cure_due: c.cure_due(),
            sla: c.sla().map(|s| s.level),
            due: c.sla().and_then(|s| s.deadline(def.calendar()).ok()),
            outcome: c.outcome(),
            delivered_at: c.delivered().map(|(at, _)| at),
            delivery_method: c.delivered().map(|(_, m)| m),
            rating: c.rating().map(|r| r.stars),
            trips: c.trips(),
            tasks,
        }
    }
}

/// Ticket view (`GET /v1/tickets`, `GET /v1/tickets/{id}`).
#[derive(Debug, Serialize)]
pub struct TicketView<'a> {
    /// `T000001`.
    pub id: String,
    /// Events folded (for `expected_version`).
    pub version: u32,
    /// State name.
    pub state: &'static str,
    /// Source kind (`bad_rating`, `complaint`, `overdue`, `inspection`, `plan_task`).
    pub source_kind: &'static str,
    /// Source in full.
    pub source: &'a TicketSource,
    /// Responsible department.
    pub department: &'a Id,
    /// Responsible window.
    pub window: Option<&'a Id>,
    /// Opened.
    pub opened_at: Instant,
    /// Current deadline.
    pub deadline: Option<Instant>,
    /// 0, 1 (督办), 2 (约谈).
    pub escalation: u8,
    /// Rectification rounds.
    pub rounds: u32,
    /// Supervised since the last submission.
    pub supervised: bool,
    /// Rating excluded (appeal upheld).
    pub excluded: bool,
    /// Accountability records (问责).
    pub accountability: usize,
    /// Closed.
    pub closed_at: Option<Instant>,
}

impl<'a> TicketView<'a> {
    /// Builds the view of a ticket.
    pub fn of(t: &'a yichuang_core::Ticket) -> TicketView<'a> {
        TicketView {
            id: t.id().to_string(),
            version: t.version(),
            state: t.state().name(),
            source_kind: t.source().kind(),
            source: t.source(),
            department: t.department(),
            window: t.window(),
            opened_at: t.opened_at(),
            deadline: t.deadline(),
            escalation: t.escalation(),
            rounds: t.rounds(),
            supervised: t.supervised(),
            excluded: t.excluded(),
            accountability: t.accountability().len(),
            closed_at: t.closed_at(),
        }
    }
}

/// One row of a department's work queue.
#[derive(Debug, Serialize)]
pub struct QueueRow {
    /// Case id.
    pub case: String,
    /// Bundle id.
    pub bundle: Id,
    /// Item id.
    pub item: Id,
    /// Item name.
    pub name: String,
    /// State name.
    pub state: &'static str,
    /// Who claimed it.
    pub reviewer: Option<Id>,
    /// SLA level.
    pub sla: Option<yichuang_core::machine::sla::SlaLevel>,
    /// Case version (for `expected_version`).
    pub case_version: u32,
    /// The review level under way (its name: 承办, 审核 …).
    pub level: String,
    /// Times urged (催办).
    pub urged: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case_command(body: &str) -> Result<Parsed<CaseCommand>, String> {
        parse(body.as_bytes(), None).map_err(|e| e.message)
    }

    #[test]
    fn commands_parse_with_their_arguments_and_version() {
        let p =
            case_command(r#"{"command":"accept_tolerating","cure_due":"2026-05-20","expected_version":3}"#).unwrap();
        assert!(matches!(p.command, CaseCommand::AcceptTolerating { .. }));
        assert_eq!(p.expected_version, Some(3));
        let p = case_command(r#"{"command":"deliver","method":"Window"}"#).unwrap();
        assert!(matches!(p.command, CaseCommand::Deliver { method: DeliveryMethod::Window }));
    }

    #[test]
    fn mistakes_say_what_is_expected() {
        let e = case_command(r#"{"command":"acept"}"#).unwrap_err();
        assert!(e.contains("unknown variant `acept`, expected one of"), "{e}");
        let e = case_command(r#"{"command":"rate","stars":5,"comment":"x"}"#).unwrap_err();
        assert!(e.contains("unknown field `comment`"), "{e}");
        let e = case_command(r#"{"command":"accept","extra":1}"#).unwrap_err();
        assert!(e.contains("unknown field `extra`"), "{e}");
        let e = case_command(r#"{"command":"accept_tolerating","cure_due":"2026-5-20"}"#).unwrap_err();
        assert!(e.contains("YYYY-MM-DD"), "{e}");
        let e = case_command(r#"{"command":"accept","expected_version":-1}"#).unwrap_err();
        assert!(e.contains("expected_version"), "{e}");
        let e = case_command(r#"[1]"#).unwrap_err();
        assert!(e.contains("JSON object"), "{e}");
        let e = case_command(r#"{"command":"accept""#).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn opening_a_case_defaults_to_submit() {
        let body = r#"{"bundle":"open-restaurant","applicant":{"id":"a1","name":"张三"},"materials":["id-card"]}"#;
        let p: Parsed<OpenCase> = parse(body.as_bytes(), Some("submit")).unwrap();
        let clerk = Actor::clerk("c", "intake-1");
        let Command::Submit(s) = p.command.into_command(&clerk).unwrap() else { panic!("a submission") };
        assert_eq!((s.channel, s.applicant.credit_blocked, s.materials.len()), (Channel::Window, false, 1));
        // An applicant applies online, and may not claim the window.
        let applicant = Actor { id: "a1".into(), role: Role::Applicant };
        let p: Parsed<OpenCase> = parse(body.as_bytes(), Some("submit")).unwrap();
        let Command::Submit(s) = p.command.into_command(&applicant).unwrap() else { panic!("a submission") };
        assert_eq!(s.channel, Channel::Web);
        let window = body.replace(r#""materials""#, r#""channel":"Window","materials""#);
        let p: Parsed<OpenCase> = parse(window.as_bytes(), Some("submit")).unwrap();
        let e = p.command.into_command(&applicant).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (403, "role_not_allowed"), "{e}");
    }

    #[test]
    fn a_key_written_twice_is_refused_naming_it() {
        let e = case_command(r#"{"command":"claim","command":"approve"}"#).unwrap_err();
        assert!(e.contains("duplicate key `command`"), "{e}");
        let e = parse::<OpenCase>(br#"{"bundle":"b","applicant":{"id":"a","id":"b","name":"n"}}"#, Some("submit"))
            .unwrap_err();
        assert_eq!((e.code, e.status.as_u16()), ("duplicate_key", 400));
        assert!(e.message.contains("duplicate key `id`"), "{}", e.message);
        // The same key in two different objects is not a duplicate.
        let p: Parsed<OpenCase> =
            parse(br#"{"bundle":"b","applicant":{"id":"a","name":"n"},"answers":{"id":"x"}}"#, Some("submit")).unwrap();
        assert!(matches!(p.command, OpenCase::Submit(_)));
    }

    #[test]
    fn a_material_listed_twice_is_refused() {
        let body = r#"{"bundle":"b","applicant":{"id":"a","name":"n"},"materials":["x","y","x"]}"#;
        let e = parse::<OpenCase>(body.as_bytes(), Some("submit")).unwrap_err();
        assert!(e.message.contains("material `x` is listed twice"), "{}", e.message);
        let e = case_command(r#"{"command":"resubmit","materials":["m","m"]}"#).unwrap_err();
        assert!(e.contains("material `m` is listed twice"), "{e}");
    }

    #[test]
    fn ticket_bodies_parse() {
        let body =
            r#"{"source":"complaint","target":{"Department":"market-access"},"case":"C000002","text":"排队太久"}"#;
        let p: Parsed<OpenTicket> = parse(body.as_bytes(), None).unwrap();
        assert!(matches!(p.command.into_source(), TicketSource::Complaint { case: Some(CaseId(2)), .. }));
        let body = r#"{"source":"complaint","target":{"Department":"x"},"case":"T000002","text":"t"}"#;
        let e = parse::<OpenTicket>(body.as_bytes(), None).unwrap_err();
        assert!(e.message.contains("not a case id"), "{}", e.message);
        let p: Parsed<TicketCommandBody> = parse(br#"{"command":"fail","kind":"Superficial"}"#, None).unwrap();
        assert!(matches!(p.command.into_command(), TicketCommand::Fail { kind: FailKind::Superficial }));
    }

    #[test]
    fn path_ids_only_in_their_canonical_form() {
        assert_eq!(case_path("C000007").unwrap(), CaseId(7));
        assert_eq!(case_path("C1234567").unwrap(), CaseId(1_234_567));
        let zeros = format!("C{}1", "0".repeat(10_000));
        for alias in ["c000007", "C7", "C+00007", "C0000007", "C00000007", " C000007", zeros.as_str()] {
            let e = case_path(alias).unwrap_err();
            assert_eq!(e.status.as_u16(), 404, "{alias}");
            assert!(e.message.len() < 200, "a long path is not echoed in full: {}", e.message);
        }
        assert_eq!(case_path("T000007").unwrap_err().status.as_u16(), 404);
        assert_eq!(ticket_path("T000007").unwrap(), TicketId(7));
        assert!(case_path("C000000").is_err());
    }

    /// A migration plan that renames to or from an empty id is refused (Schemathesis sent
    /// `{"bundle_renames": {"x": ""}}` and got 200); a plan with real ids parses.
    #[test]
    fn a_migration_plan_with_an_empty_id_is_refused() {
        for body in [
            r#"{"dry_run": false, "plan": {"bundle_renames": {"x": ""}}}"#,
            r#"{"dry_run": true, "plan": {"renames": {"": "y"}}}"#,
        ] {
            let e = Migration::parse(body.as_bytes()).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{body}");
            assert!(e.message.contains("neither of them empty"), "{}", e.message);
        }
        let ok = Migration::parse(br#"{"dry_run": true, "plan": {"renames": {"a": "b"}}}"#).unwrap();
        assert_eq!(ok.command.plan.renames.len(), 1);
    }
}
