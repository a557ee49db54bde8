//! The case machine (办件): 前台综合受理 → 后台并联审批 → 统一窗口出件.
//!
//! [`Case::decide`] turns a command into events or a [`Rejection`] (never a partial change);
//! [`Case::evolve`] folds one event into the state; [`Case::cascade`] derives the next event
//! that follows from a state (a task becoming ready or cancelled, the case being decided) and
//! [`Case::settle`] folds the cascade until nothing follows; and
//! [`Case::fire_due_timer`] fires the earliest timer. The transition table in
//! [`crate::table`] lists every row and is held against `decide` by a test.

use std::sync::Arc;

use serde::Serialize;

use crate::actor::{Actor, Ctx, Role};
use crate::definition::{BundleIx, Channel, Definition, Id, MaterialIx, MaterialNeed, WindowClass};
use crate::event::{
    Answers, Applicant, CaseId, DeliveryMethod, Event, EventSink, Events, Outcome, Recorded, SlaSubject,
    SpecialProcedureKind,
};
use crate::rejection::Rejection;
use crate::sla::{Sla, SlaLevel};
use crate::task::{MemberSet, Task, TaskAction, TaskState};
use crate::time::{Date, Instant};

/// State of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CaseState {
    /// 帮办咨询: consulted, one-time notice given.
    Consulting,
    /// 已收件: received, awaiting the intake decision.
    Received,
    /// 待补正: a correction notice listing every missing material was given.
    AwaitingCorrection,
    /// 审批中: accepted; approval tasks run in parallel over the dependency graph.
    InApproval,
    /// 待补齐: decided, but results wait for a tolerated material.
    AwaitingCure,
    /// 暂停办理: the cure deadline passed.
    Suspended,
    /// 待出件: results ready at the unified delivery window.
    ReadyForDelivery,
    /// 已出件: delivered, awaiting the rating.
    Delivered,
    /// 已办结归档: rated (final).
    Closed,
    /// 不予受理 (final).
    Rejected,
    /// 退件 (final).
    Returned,
    /// 撤回 (final).
    Withdrawn,
    /// 撤销: certificate voided after a missed cure (final).
    Revoked,
}

impl CaseState {
    /// Final states take no more commands.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CaseState::Closed | CaseState::Rejected | CaseState::Returned | CaseState::Withdrawn | CaseState::Revoked
        )
    }
    /// All states, for tables and diagrams.
    pub const ALL: [CaseState; 13] = [
        CaseState::Consulting,
        CaseState::Received,
        CaseState::AwaitingCorrection,
        CaseState::InApproval,
        CaseState::AwaitingCure,
        CaseState::Suspended,
        CaseState::ReadyForDelivery,
        CaseState::Delivered,
        CaseState::Closed,
        CaseState::Rejected,
        CaseState::Returned,
        CaseState::Withdrawn,
        CaseState::Revoked,
    ];
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            CaseState::Consulting => "Consulting",
            CaseState::Received => "Received",
            CaseState::AwaitingCorrection => "AwaitingCorrection",
            CaseState::InApproval => "InApproval",
            CaseState::AwaitingCure => "AwaitingCure",
            CaseState::Suspended => "Suspended",
            CaseState::ReadyForDelivery => "ReadyForDelivery",
            CaseState::Delivered => "Delivered",
            CaseState::Closed => "Closed",
            CaseState::Rejected => "Rejected",
            CaseState::Returned => "Returned",
            CaseState::Withdrawn => "Withdrawn",
            CaseState::Revoked => "Revoked",
        }
    }
}

/// An application as handed in (收件).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Bundle id.
    pub bundle: Id,
    /// The applicant.
    pub applicant: Applicant,
    /// Channel used.
    pub channel: Channel,
    /// Material ids handed in, shared with the `Submitted` event (build with `vec![…].into()`).
    pub materials: Arc<[Id]>,
    /// Form answers (情形), shared with the `Submitted` event.
    pub answers: Answers,
    /// Green channel requested (绿色通道; only for eligible bundles).
    pub green_channel: bool,
}

/// A command to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// 帮办咨询: ask for the one-time notice of a bundle (opens a case).
    Consult {
        /// Bundle id.
        bundle: Id,
        /// The applicant.
        applicant: Applicant,
    },
    /// 提交申请 (opens a case, or continues a consultation).
    Submit(Box<Submission>),
    /// 受理.
    Accept,
    /// 容缺受理 with the promised cure date.
    AcceptTolerating {
        /// Date by which the tolerated materials must arrive.
        cure_due: Date,
    },
    /// 补正告知 (the engine lists what is missing).
    RequestCorrection,
    /// 不予受理.
    Reject {
        /// The reason (and the agency to turn to).
        reason: String,
    },
    /// 补正后重新提交.
    Resubmit {
        /// Materials handed in now.
        materials: Vec<Id>,
    },
    /// 补齐容缺材料.
    Supply {
        /// The material.
        material: Id,
    },
    /// A task-level command on one item.
    Task {
        /// Item id.
        item: Id,
        /// The action.
        action: TaskCommand,
    },
    /// 一并出件.
    Deliver {
        /// Method.
        method: DeliveryMethod,
    },
    /// 好差评.
    Rate {
        /// 1–5 stars.
        stars: u8,
    },
    /// 撤回.
    Withdraw,
}

/// Owned form of [`TaskAction`] for commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskCommand {
    /// 认领.
    Claim,
    /// 准予 / 会签.
    Approve,
    /// 不予.
    Deny {
        /// Reason.
        reason: String,
    },
    /// 特别程序开始.
    StartSpecialProcedure {
        /// Kind.
        kind: SpecialProcedureKind,
    },
    /// 特别程序结束.
    EndSpecialProcedure,
    /// 模拟审批.
    ApproveSimulated,
    /// 前置条件满足 (e.g. 取得土地).
    MeetPrecondition {
        /// Whether facts changed.
        facts_changed: bool,
    },
}

impl TaskCommand {
    fn action(&self) -> TaskAction<'_> {
        match self {
            TaskCommand::Claim => TaskAction::Claim,
            TaskCommand::Approve => TaskAction::Approve,
            TaskCommand::Deny { reason } => TaskAction::Deny(reason),
            TaskCommand::StartSpecialProcedure { kind } => TaskAction::StartSpecialProcedure(*kind),
            TaskCommand::EndSpecialProcedure => TaskAction::EndSpecialProcedure,
            TaskCommand::ApproveSimulated => TaskAction::ApproveSimulated,
            TaskCommand::MeetPrecondition { facts_changed } => {
                TaskAction::MeetPrecondition { facts_changed: *facts_changed }
            }
        }
    }
}

impl Command {
    /// Command name for messages and tables.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Consult { .. } => "consult",
            Command::Submit(_) => "submit",
            Command::Accept => "accept",
            Command::AcceptTolerating { .. } => "accept_tolerating",
            Command::RequestCorrection => "request_correction",
            Command::Reject { .. } => "reject",
            Command::Resubmit { .. } => "resubmit",
            Command::Supply { .. } => "supply",
            Command::Task { action, .. } => action.action().name(),
            Command::Deliver { .. } => "deliver",
            Command::Rate { .. } => "rate",
            Command::Withdraw => "withdraw",
        }
    }
}

/// A rating (好差评).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rating {
    /// 1–5 stars.
    pub stars: u8,
    /// Recorded by the default timer.
    pub by_default: bool,
    /// When.
    pub at: Instant,
}

/// A case (办件): one application for one bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    /// Case number.
    pub id: CaseId,
    /// Bundle index in the definition.
    #[serde(serialize_with = "ser_bundle")]
    pub bundle: BundleIx,
    /// The applicant.
    pub applicant: Applicant,
    /// State.
    pub state: CaseState,
    /// Channel of the application.
    pub channel: Option<Channel>,
    /// Green channel (绿色通道) used.
    pub green_channel: bool,
    /// Members whose condition (情形) holds for the form answers, a bit per member position.
    /// The answers themselves stay in the `Submitted` event.
    pub applicable: u64,
    /// Materials handed in, sorted, deduplicated.
    #[serde(serialize_with = "ser_materials")]
    pub materials: Vec<MaterialIx>,
    /// Missing materials listed in the last correction notice.
    pub correction: Vec<Id>,
    /// Receipt time (the last material's arrival after a correction).
    pub received_at: Option<Instant>,
    /// Acceptance date counted from.
    pub accepted_as_of: Option<Date>,
    /// Tolerated materials still outstanding (容缺).
    pub outstanding: Vec<Id>,
    /// Cure deadline.
    pub cure_due: Option<Instant>,
    /// Suspension: when, and the state to resume.
    pub suspended: Option<(Instant, CaseState)>,
    /// Tasks, one per bundle member (same positions).
    pub tasks: Vec<Task>,
    /// The case clock.
    pub sla: Option<Sla>,
    /// Trips to the hall (跑动次数).
    pub trips: u32,
    /// The window that took the application (谁办理谁负责: tickets about the case go there).
    pub window: Option<Id>,
    /// Outcome once decided.
    pub outcome: Option<Outcome>,
    /// Delivery time and method.
    pub delivered: Option<(Instant, DeliveryMethod)>,
    /// Rating.
    pub rating: Option<Rating>,
    /// Events folded so far (the stream version).
    pub version: u32,
    /// Time of the last event folded: timers found due earlier (e.g. a case clock that started
    /// in the past on a deemed acceptance) are stamped no earlier, so a log's times never run
    /// backwards.
    pub updated_at: Option<Instant>,
}

fn ser_bundle<S: serde::Serializer>(b: &BundleIx, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u32(b.index() as u32)
}
fn ser_materials<S: serde::Serializer>(m: &[MaterialIx], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter().map(|x| x.index()))
}

/// Why an event could not be folded (a corrupted or reordered log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event} is not legal for {stream} in state {state}: {why}")]
pub struct IllegalEvent {
    /// The stream.
    pub stream: crate::event::StreamId,
    /// Event name.
    pub event: &'static str,
    /// Case state.
    pub state: &'static str,
    /// Why.
    pub why: String,
}

/// A pending timer of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// 5 wd without an intake decision → deemed accepted (Art. 32).
    DeemedAcceptance,
    /// Case SLA level change.
    CaseSla,
    /// Task SLA level change (member position).
    TaskSla(usize),
    /// Simulated approval lapses (member position).
    SimulationLapse(usize),
    /// The cure deadline.
    CureDue,
    /// Suspension grace over → 退件.
    GraceOver,
    /// Default rating after delivery.
    DefaultRating,
}

fn list(ids: &[Id]) -> String {
    ids.iter().map(Id::as_str).collect::<Vec<_>>().join(", ")
}

impl Case {
    /// A new, empty case (before its first event).
    pub fn new(id: CaseId, bundle: BundleIx, applicant: Applicant) -> Case {
        Case {
            id,
            bundle,
            applicant,
            state: CaseState::Consulting,
            channel: None,
            green_channel: false,
            applicable: 0,
            materials: Vec::new(),
            correction: Vec::new(),
            received_at: None,
            accepted_as_of: None,
            outstanding: Vec::new(),
            cure_due: None,
            suspended: None,
            tasks: Vec::new(),
            sla: None,
            trips: 0,
            window: None,
            outcome: None,
            delivered: None,
            rating: None,
            version: 0,
            updated_at: None,
        }
    }

    /// Task of a member item, by item id.
    pub fn task(&self, item: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.item_id.as_str() == item)
    }

    fn task_pos(&self, item: &Id) -> Option<usize> {
        item.position_in(self.tasks.iter().map(|t| &t.item_id))
    }

    fn invalid(&self, command: &'static str, accepted: &str) -> Rejection {
        Rejection::InvalidState {
            command,
            subject: "case".into(),
            state: self.state.name().into(),
            accepted: accepted.into(),
        }
    }

    /// Materials of the applicable members (by the answers) that are neither handed in nor
    /// shared (免提交), with their strictest need.
    pub fn missing(&self, def: &Definition) -> Vec<(MaterialIx, MaterialNeed)> {
        let bundle = def.bundle(self.bundle);
        let applicable =
            || bundle.members.iter().enumerate().filter(|&(i, _)| self.applicable & (1 << i) != 0).map(|(_, m)| m);
        let absent =
            |m: MaterialIx| def.material(m).shared_source.is_none() && self.materials.binary_search(&m).is_err();
        // Usually every material is there: answer that without building the merged list.
        if !applicable().any(|m| def.item(m.item).materials.iter().any(|&(x, _)| absent(x))) {
            return Vec::new();
        }
        let applies: Vec<bool> = (0..bundle.members.len()).map(|i| self.applicable & (1 << i) != 0).collect();
        bundle
            .materials_for(def, &applies)
            .into_iter()
            .filter(|&(m, need)| need != MaterialNeed::Optional && absent(m))
            .collect()
    }

    /// Checks that the actor is the applicant or a clerk of a window of `class`.
    fn applicant_or_clerk(
        &self,
        def: &Definition,
        actor: &Actor,
        command: &'static str,
        class: WindowClass,
    ) -> Result<(), Rejection> {
        match &actor.role {
            Role::Applicant if actor.id == self.applicant.id => Ok(()),
            Role::Applicant => {
                Err(Rejection::NotTheApplicant { actor: actor.describe(), applicant: self.applicant.id.to_string() })
            }
            Role::Clerk { window } if def.window(window).is_some_and(|w| w.class == class) => Ok(()),
            _ => Err(Rejection::RoleNotAllowed {
                rule: "申请人本人 (only the applicant, or a window clerk on their behalf)",
                actor: actor.describe(),
                command,
                allowed: format!("the applicant or a clerk of a {class:?} window may"),
            }),
        }
    }

    /// Checks that the actor is a clerk of a window of `class`.
    fn clerk_of(
        def: &Definition,
        actor: &Actor,
        command: &'static str,
        class: WindowClass,
        rule: &'static str,
    ) -> Result<(), Rejection> {
        match &actor.role {
            Role::Clerk { window } if def.window(window).is_some_and(|w| w.class == class) => Ok(()),
            _ => Err(Rejection::RoleNotAllowed {
                rule,
                actor: actor.describe(),
                command,
                allowed: format!("only a clerk of a {class:?} window may"),
            }),
        }
    }

    fn material_ids(def: &Definition, ids: &[Id]) -> Result<(), Rejection> {
        for id in ids {
            if def.material_ix(id).is_none() {
                return Err(Rejection::Unknown {
                    what: "material",
                    id: id.to_string(),
                    accepted: def.materials().iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(())
    }

    /// Longest accepted applicant id, in characters.
    pub const APPLICANT_ID_CHARS_MAX: usize = 64;

    /// An applicant id (统一社会信用代码, 身份证号 …) is 1–64 characters, not all blank, with no
    /// control characters and no invisible formatting characters (bidirectional overrides,
    /// zero-width characters): it names the applicant in every event and is matched against
    /// applicants' tokens, so two ids that look the same must be the same id.
    pub fn check_applicant_id(id: &Id) -> Result<(), Rejection> {
        let text = id.as_str();
        // The common case, printable ASCII within the limit, in one pass over the bytes.
        let bytes = text.as_bytes();
        if bytes.len() <= Case::APPLICANT_ID_CHARS_MAX
            && bytes.iter().all(|b| (b' '..=b'~').contains(b))
            && bytes.iter().any(|&b| b != b' ')
        {
            return Ok(());
        }
        let chars = text.chars().count();
        let fits = (1..=Case::APPLICANT_ID_CHARS_MAX).contains(&chars)
            && !text.trim().is_empty()
            && !text.chars().any(|c| c.is_control() || Case::is_invisible_format(c));
        if fits {
            return Ok(());
        }
        let value =
            if chars > Case::APPLICANT_ID_CHARS_MAX { format!("of {chars} characters") } else { format!("{text:?}") };
        Err(Rejection::OutOfRange {
            what: "applicant id",
            value,
            accepted: "an applicant id is 1–64 characters, not blank, without control characters and without \
                       invisible formatting (bidirectional overrides, zero-width characters), e.g. a unified social \
                       credit code (统一社会信用代码) or an ID card number",
        })
    }

    /// Characters that change how text is shown without being seen: the bidirectional controls
    /// (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069), zero-width and joiner characters
    /// (U+200B–U+200D, U+2060–U+2064, U+FEFF), the soft hyphen, U+180E and the interlinear
    /// annotation marks (Unicode's format characters that can occur in an id).
    fn is_invisible_format(c: char) -> bool {
        matches!(
            c,
            '\u{AD}'
                | '\u{61C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
    }

    /// Validates a submission against the definition (shared by opening and consulting cases).
    pub fn check_submission(def: &Definition, s: &Submission) -> Result<BundleIx, Rejection> {
        let Some(bundle) = def.bundle_ix(&s.bundle) else {
            return Err(Rejection::Unknown {
                what: "bundle",
                id: s.bundle.to_string(),
                accepted: def.bundle_ids_text(),
            });
        };
        Case::check_applicant_id(&s.applicant.id)?;
        Case::material_ids(def, &s.materials)?;
        let b = def.bundle(bundle);
        b.check_answers(def, &s.answers).map_err(|e| Rejection::FormAnswer { detail: e.to_string() })?;
        if s.green_channel && !b.green_channel_eligible(def) {
            return Err(Rejection::NotAllowedForItem {
                rule: "绿色通道 (green channel)",
                item: b.id.to_string(),
                reason: "has no green-channel member; submit without the green channel",
            });
        }
        Ok(bundle)
    }

    /// Decides a command: the primary events, or the rejection. Pure; see [`Case::execute`] for
    /// the cascade that follows.
    pub fn decide(&self, def: &Definition, command: &Command, ctx: &Ctx<'_>) -> Result<Vec<Event>, Rejection> {
        let mut out = Events::new();
        self.decide_events(def, command, ctx, &mut out)?;
        Ok(out.into_vec())
    }

    /// Like [`Case::decide`], in a small inline buffer (no allocation on the command path).
    pub(crate) fn decide_events(
        &self,
        def: &Definition,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut Events,
    ) -> Result<(), Rejection> {
        let name = command.name();
        if self.state.is_final() {
            return Err(self.invalid(name, "the case is finished and takes no commands"));
        }
        match command {
            Command::Consult { .. } => Err(self.invalid(name, "consult opens a new case")),
            Command::Submit(s) => {
                self.check_submit(def, s, ctx)?;
                {
                    out.push(Event::Submitted {
                        bundle: s.bundle.clone(),
                        applicant: s.applicant.clone(),
                        channel: s.channel,
                        materials: s.materials.clone(),
                        answers: s.answers.clone(),
                        green_channel: s.green_channel,
                    });
                    Ok(())
                }
            }
            Command::Accept
            | Command::AcceptTolerating { .. }
            | Command::RequestCorrection
            | Command::Reject { .. } => {
                Case::clerk_of(
                    def,
                    ctx.actor,
                    name,
                    WindowClass::Intake,
                    "综合受理 (only intake windows accept, correct or reject)",
                )?;
                if self.state != CaseState::Received {
                    return Err(self.invalid(name, "intake decisions are taken on a received application"));
                }
                self.decide_intake(def, command, ctx, out)
            }
            Command::Resubmit { materials } => {
                self.applicant_or_clerk(def, ctx.actor, name, WindowClass::Intake)?;
                if self.state != CaseState::AwaitingCorrection {
                    return Err(self.invalid(name, "resubmit answers a correction notice (补正告知)"));
                }
                Case::material_ids(def, materials)?;
                {
                    out.push(Event::Resubmitted { materials: materials.clone() });
                    Ok(())
                }
            }
            Command::Supply { material } => {
                self.applicant_or_clerk(def, ctx.actor, name, WindowClass::Intake)?;
                use CaseState::*;
                if !matches!(self.state, InApproval | AwaitingCure | Suspended | ReadyForDelivery | Delivered) {
                    return Err(self.invalid(name, "tolerated materials (容缺) are supplied after acceptance"));
                }
                if !self.outstanding.contains(material) {
                    return Err(Rejection::Unknown {
                        what: "outstanding tolerated material",
                        id: material.to_string(),
                        accepted: list(&self.outstanding),
                    });
                }
                {
                    out.push(Event::MaterialSupplied { material: material.clone() });
                    Ok(())
                }
            }
            Command::Task { item, action } => {
                if self.state != CaseState::InApproval {
                    return Err(self.invalid(name, "task commands apply while the case is in approval"));
                }
                let Some(pos) = self.task_pos(item) else {
                    return Err(Rejection::Unknown {
                        what: "item of this case",
                        id: item.to_string(),
                        accepted: self.tasks.iter().map(|t| t.item_id.as_str()).collect::<Vec<_>>().join(", "),
                    });
                };
                self.tasks[pos].decide_events(def, action.action(), ctx, out)
            }
            Command::Deliver { method } => {
                Case::clerk_of(
                    def,
                    ctx.actor,
                    name,
                    WindowClass::Delivery,
                    "统一出件 (only the unified delivery window delivers)",
                )?;
                if self.state != CaseState::ReadyForDelivery {
                    return Err(self.invalid(name, "results are delivered together once ready (一并出件)"));
                }
                {
                    out.push(Event::Delivered { method: *method });
                    Ok(())
                }
            }
            Command::Rate { stars } => {
                self.applicant_or_clerk(def, ctx.actor, name, WindowClass::Delivery)?;
                if self.state != CaseState::Delivered || self.rating.is_some() {
                    return Err(self.invalid(name, "a case is rated once, after delivery"));
                }
                if !(1..=5).contains(stars) {
                    return Err(Rejection::OutOfRange {
                        what: "rating",
                        value: stars.to_string(),
                        accepted: "1–5 stars (≤ 2 is a bad rating, 差评)",
                    });
                }
                {
                    out.push(Event::Rated { stars: *stars, by_default: false });
                    Ok(())
                }
            }
            Command::Withdraw => {
                self.applicant_or_clerk(def, ctx.actor, name, WindowClass::Intake)?;
                if matches!(self.state, CaseState::Delivered) {
                    return Err(
                        self.invalid(name, "results were already delivered; withdrawal is possible before delivery")
                    );
                }
                {
                    out.push(Event::Withdrawn);
                    Ok(())
                }
            }
        }
    }

    fn decide_intake(
        &self,
        def: &Definition,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut Events,
    ) -> Result<(), Rejection> {
        let missing = self.missing(def);
        let ids = |want: &dyn Fn(MaterialNeed) -> bool| -> Vec<Id> {
            missing.iter().filter(|(_, n)| want(*n)).map(|(m, _)| def.material(*m).id.clone()).collect()
        };
        match command {
            Command::Accept => {
                if !missing.is_empty() {
                    return Err(Rejection::MaterialsIncomplete { missing: list(&ids(&|_| true)) });
                }
                self.check_clock_starts(def, self.acceptance_date(ctx))?;
                {
                    out.push(self.accepted(def, self.acceptance_date(ctx), false, Vec::new(), None));
                    Ok(())
                }
            }
            Command::AcceptTolerating { cure_due } => {
                let required = ids(&|n| n == MaterialNeed::Required);
                if !required.is_empty() {
                    return Err(Rejection::NotTolerable { missing: list(&required) });
                }
                if missing.is_empty() {
                    return Err(Rejection::NothingToTolerate);
                }
                if self.applicant.credit_blocked {
                    return Err(Rejection::CreditBlocked { applicant: self.applicant.id.to_string() });
                }
                let cal = def.calendar();
                let latest = cal.add_working_days(ctx.now.date(), def.bundle(self.bundle).promised_days)?;
                if *cure_due > latest || *cure_due < ctx.now.date() {
                    return Err(Rejection::CureTooLate { due: cure_due.to_string(), latest: latest.to_string() });
                }
                if !cal.is_working_day(*cure_due)? {
                    return Err(Rejection::CureTooLate {
                        due: format!("{cure_due} (not a working day)"),
                        latest: latest.to_string(),
                    });
                }
                let due = cal.office_close(*cure_due);
                self.check_clock_starts(def, self.acceptance_date(ctx))?;
                {
                    out.push(self.accepted(def, self.acceptance_date(ctx), false, ids(&|_| true), Some(due)));
                    Ok(())
                }
            }
            Command::RequestCorrection => {
                if missing.is_empty() {
                    return Err(Rejection::NothingMissing);
                }
                {
                    out.push(Event::CorrectionRequested { missing: ids(&|_| true) });
                    Ok(())
                }
            }
            Command::Reject { reason } => {
                if reason.trim().is_empty() {
                    return Err(Rejection::ReasonRequired {
                        rule: "不予受理须说明理由 (行政许可法 Art. 32)",
                        what: "reason",
                    });
                }
                {
                    out.push(Event::Rejected { reason: reason.clone() });
                    Ok(())
                }
            }
            _ => unreachable!("decide_intake is called for intake commands only"),
        }
    }

    /// The rules of `Submit` on a consulted case (the decision without the event).
    fn check_submit(&self, def: &Definition, s: &Submission, ctx: &Ctx<'_>) -> Result<(), Rejection> {
        let name = "submit";
        if self.state.is_final() {
            return Err(self.invalid(name, "the case is finished and takes no commands"));
        }
        if self.state != CaseState::Consulting {
            return Err(self.invalid(name, "submit once; use resubmit after a correction notice"));
        }
        self.applicant_or_clerk(def, ctx.actor, name, WindowClass::Intake)?;
        let bundle = Case::check_submission(def, s)?;
        if bundle != self.bundle || s.applicant.id != self.applicant.id {
            return Err(Rejection::OutOfRange {
                what: "submission",
                value: format!("{} by {}", s.bundle, s.applicant.id),
                accepted: "the bundle and applicant of the consultation",
            });
        }
        Ok(())
    }

    /// The case's SLA clock as acceptance as of `as_of` would start it (see the fold of
    /// `Accepted`), refused with the calendar's rejection when the calendar does not reach the
    /// promised deadline: a case is never accepted without a deadline.
    fn check_clock_starts(&self, def: &Definition, as_of: Date) -> Result<(), Rejection> {
        let cal = def.calendar();
        // The clock starts at the close of `as_of` and ends at the close of its `days`-th
        // working day after it (of the next working day for 0 days, 即办件): that day must be
        // in the calendar. Two O(1) lookups instead of starting a clock (this runs on every
        // acceptance).
        match def.bundle(self.bundle).promised_days {
            0 => cal.next_working_day(as_of).map(drop)?,
            days => cal.add_working_days(as_of, days).map(drop)?,
        }
        Ok(())
    }

    /// Where the case's clock starts for an acceptance as of `as_of`: the close of that day.
    fn clock_base(def: &Definition, as_of: Date) -> Instant {
        def.calendar().office_close(as_of).max(as_of.start())
    }

    /// The acceptance date (受理日期): the day the last material arrived (after a correction, the
    /// day of the resubmission), which is the day of the decision when taken on the spot.
    fn acceptance_date(&self, ctx: &Ctx<'_>) -> Date {
        self.received_at.map_or(ctx.now.date(), |r| r.date())
    }

    fn accepted(
        &self,
        def: &Definition,
        as_of: Date,
        deemed: bool,
        tolerated: Vec<Id>,
        cure_due: Option<Instant>,
    ) -> Event {
        let bundle = def.bundle(self.bundle);
        let applicable = bundle
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| self.applicable & (1 << i) != 0)
            .map(|(_, m)| def.item(m.item).id.clone())
            .collect();
        Event::Accepted { as_of, deemed, tolerated, cure_due, applicable }
    }

    /// Folds one recorded event into the state. Fails only for an event that is not legal in
    /// the current state (a corrupted or reordered log); the engine's own events always fold.
    pub fn evolve(&mut self, def: &Definition, rec: &Recorded) -> Result<(), IllegalEvent> {
        self.fold(def, rec.seq, rec.at, &rec.by, &rec.event)
    }

    /// [`Case::evolve`] on the parts of a recorded event.
    fn fold(&mut self, def: &Definition, seq: u32, at: Instant, by: &Actor, event: &Event) -> Result<(), IllegalEvent> {
        let illegal = |case: &Case, why: &str| IllegalEvent {
            stream: case.id.into(),
            event: event.name(),
            state: case.state.name(),
            why: why.to_owned(),
        };
        if seq != self.version + 1 {
            return Err(illegal(self, &format!("sequence {} does not follow version {}", seq, self.version)));
        }
        let at_window = matches!(by.role, Role::Clerk { .. });
        let took_it = match (&by.role, event) {
            (Role::Clerk { window }, Event::Submitted { .. } | Event::Accepted { .. }) => Some(window.clone()),
            _ => None,
        };
        let now = at;
        let cal = def.calendar();
        match event {
            Event::Consulted { .. } => {
                if self.version != 0 {
                    return Err(illegal(self, "a consultation opens a case"));
                }
            }
            Event::Submitted { channel, materials, answers, green_channel, .. } => {
                if self.state != CaseState::Consulting {
                    return Err(illegal(self, "a case is submitted once"));
                }
                self.state = CaseState::Received;
                self.channel = Some(*channel);
                self.green_channel = *green_channel;
                self.applicable = def.bundle(self.bundle).applicable_mask(def, answers);
                self.add_materials(def, materials);
                self.received_at = Some(now);
                self.trips += u32::from(at_window);
            }
            Event::CorrectionRequested { missing } => {
                self.expect(CaseState::Received, &illegal)?;
                self.state = CaseState::AwaitingCorrection;
                self.correction = missing.clone();
            }
            Event::Resubmitted { materials } => {
                self.expect(CaseState::AwaitingCorrection, &illegal)?;
                self.add_materials(def, materials);
                self.state = CaseState::Received;
                self.received_at = Some(now);
                self.trips += u32::from(at_window);
            }
            Event::Accepted { as_of, tolerated, cure_due, applicable, .. } => {
                self.expect(CaseState::Received, &illegal)?;
                self.state = CaseState::InApproval;
                self.accepted_as_of = Some(*as_of);
                self.outstanding = tolerated.clone();
                self.cure_due = *cure_due;
                self.create_tasks(def, applicable);
                let days = def.bundle(self.bundle).promised_days;
                // The clock counts from the acceptance date (for deemed acceptance, the receipt
                // date), at the close of that day.
                let base = Case::clock_base(def, *as_of);
                self.sla = Sla::start(cal, base, days, def.policies().warning_percent).ok();
            }
            Event::Rejected { .. } => {
                self.expect(CaseState::Received, &illegal)?;
                self.state = CaseState::Rejected;
            }
            Event::TaskReady { .. }
            | Event::TaskClaimed { .. }
            | Event::TaskSigned { .. }
            | Event::TaskApproved { .. }
            | Event::TaskDenied { .. }
            | Event::TaskCancelled { .. }
            | Event::SpecialProcedureStarted { .. }
            | Event::SpecialProcedureEnded { .. }
            | Event::TaskSimulatedApproved { .. }
            | Event::SimulationConverted { .. }
            | Event::SimulationReopened { .. }
            | Event::TaskLapsed { .. } => self.evolve_task(def, event, at).map_err(|why| illegal(self, &why))?,
            Event::SlaLevelChanged { subject, level } => {
                let sla = match subject {
                    SlaSubject::Case => self.sla.as_mut(),
                    SlaSubject::Task(item) => match self.task_pos(item) {
                        Some(p) => self.tasks[p].sla.as_mut(),
                        None => None,
                    },
                };
                match sla {
                    Some(sla) if sla.level < *level => sla.raise(*level, cal, def.policies().warning_percent),
                    _ => return Err(illegal(self, "no running clock below that level")),
                }
            }
            Event::CaseDecided { outcome, awaiting_cure } => {
                self.expect(CaseState::InApproval, &illegal)?;
                if !self.tasks.iter().all(|t| t.state.is_terminal()) {
                    return Err(illegal(self, "tasks are still open"));
                }
                self.outcome = Some(*outcome);
                self.state = if *awaiting_cure { CaseState::AwaitingCure } else { CaseState::ReadyForDelivery };
                if *outcome == Outcome::Denied {
                    // Nothing is issued, so nothing can be cured or revoked.
                    self.outstanding.clear();
                    self.cure_due = None;
                }
                if let Some(sla) = &mut self.sla {
                    sla.stop();
                }
            }
            Event::MaterialSupplied { material } => {
                let Some(p) = material.position_in(self.outstanding.iter()) else {
                    return Err(illegal(self, "the material is not outstanding"));
                };
                self.outstanding.remove(p);
                if let Some(ix) = def.material_ix(material)
                    && let Err(i) = self.materials.binary_search(&ix)
                {
                    self.materials.insert(i, ix);
                }
                self.trips += u32::from(at_window);
                if self.outstanding.is_empty() {
                    self.cure_due = None;
                    match self.state {
                        CaseState::AwaitingCure => self.state = CaseState::ReadyForDelivery,
                        CaseState::Delivered if self.rating.is_some() => self.state = CaseState::Closed,
                        _ => {}
                    }
                }
            }
            Event::CaseSuspended => {
                if !matches!(self.state, CaseState::InApproval | CaseState::AwaitingCure | CaseState::ReadyForDelivery)
                {
                    return Err(illegal(self, "only open cases are suspended"));
                }
                self.suspended = Some((now, self.state));
                self.state = CaseState::Suspended;
                self.pause_all(now);
            }
            Event::CaseResumed => {
                let Some((_, back)) = self.suspended.take() else {
                    return Err(illegal(self, "the case is not suspended"));
                };
                self.state = if back == CaseState::AwaitingCure { CaseState::ReadyForDelivery } else { back };
                self.resume_all(def, now);
            }
            Event::CaseReturned => {
                self.expect(CaseState::Suspended, &illegal)?;
                self.state = CaseState::Returned;
                self.close_open_tasks();
            }
            Event::Delivered { method } => {
                self.expect(CaseState::ReadyForDelivery, &illegal)?;
                self.state = CaseState::Delivered;
                self.delivered = Some((now, *method));
                self.trips += u32::from(*method == DeliveryMethod::Window);
            }
            Event::Rated { stars, by_default } => {
                self.expect(CaseState::Delivered, &illegal)?;
                if self.rating.is_some() {
                    return Err(illegal(self, "already rated"));
                }
                self.rating = Some(Rating { stars: *stars, by_default: *by_default, at: now });
                if self.outstanding.is_empty() {
                    self.state = CaseState::Closed;
                }
            }
            Event::Withdrawn => {
                if self.state.is_final() || self.state == CaseState::Delivered {
                    return Err(illegal(self, "only an undelivered open case can be withdrawn"));
                }
                self.state = CaseState::Withdrawn;
                self.close_open_tasks();
            }
            Event::Revoked => {
                self.expect(CaseState::Delivered, &illegal)?;
                self.state = CaseState::Revoked;
            }
            Event::TicketOpened { .. }
            | Event::TicketRectifying { .. }
            | Event::TicketSubmitted { .. }
            | Event::TicketPassed
            | Event::TicketFailed { .. }
            | Event::TicketAppealUpheld
            | Event::TicketFedBack { .. }
            | Event::TicketClosed
            | Event::TicketReopened { .. }
            | Event::TicketEscalated { .. } => return Err(illegal(self, "a ticket event in a case stream")),
        }
        if took_it.is_some() {
            self.window = took_it;
        }
        self.updated_at = Some(at);
        self.version += 1;
        Ok(())
    }

    fn expect(&self, state: CaseState, illegal: &dyn Fn(&Case, &str) -> IllegalEvent) -> Result<(), IllegalEvent> {
        if self.state == state { Ok(()) } else { Err(illegal(self, &format!("expected state {}", state.name()))) }
    }

    fn add_materials(&mut self, def: &Definition, ids: &[Id]) {
        for id in ids {
            if let Some(ix) = def.material_ix(id)
                && let Err(i) = self.materials.binary_search(&ix)
            {
                self.materials.insert(i, ix);
            }
        }
    }

    fn create_tasks(&mut self, def: &Definition, applicable: &[Id]) {
        let bundle = def.bundle(self.bundle);
        let applies: MemberSet = bundle
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| def.item(m.item).id.position_in(applicable.iter()).is_some())
            .map(|(i, _)| i)
            .collect();
        // Resolve dependency edges through members that do not apply, in topological order.
        let mut waits = [MemberSet::EMPTY; 64];
        for &m in &bundle.topo {
            let mut w = MemberSet::EMPTY;
            for &p in &bundle.members[m].after {
                if applies.contains(p) {
                    w.insert(p);
                } else {
                    w.0 |= waits[p].0;
                }
            }
            waits[m] = w;
        }
        self.tasks = bundle
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| Task {
                item: m.item,
                item_id: def.item(m.item).id.clone(),
                state: if applies.contains(i) { TaskState::Waiting } else { TaskState::NotApplicable },
                waits_for: waits[i],
                signed: 0,
                reviewer: None,
                sla: None,
                lapse_due: None,
            })
            .collect();
    }

    fn pause_all(&mut self, now: Instant) {
        if let Some(sla) = &mut self.sla {
            sla.pause(now);
        }
        for t in &mut self.tasks {
            if let Some(sla) = &mut t.sla {
                sla.pause(now);
            }
        }
    }

    fn resume_all(&mut self, def: &Definition, now: Instant) {
        let cal = def.calendar();
        let pct = def.policies().warning_percent;
        let in_special = self.tasks.iter().any(|t| matches!(t.state, TaskState::SpecialProcedure(_)));
        if let Some(sla) = &mut self.sla
            && !in_special
        {
            sla.resume(cal, now, pct);
        }
        for t in &mut self.tasks {
            if let (Some(sla), false) = (&mut t.sla, matches!(t.state, TaskState::SpecialProcedure(_))) {
                sla.resume(cal, now, pct);
            }
        }
    }

    fn close_open_tasks(&mut self) {
        for t in &mut self.tasks {
            if !t.state.is_terminal() {
                t.state = TaskState::Cancelled;
                if let Some(sla) = &mut t.sla {
                    sla.stop();
                }
            }
        }
        if let Some(sla) = &mut self.sla {
            sla.stop();
        }
    }

    fn evolve_task(&mut self, def: &Definition, event: &Event, now: Instant) -> Result<(), String> {
        let item = match event {
            Event::TaskReady { item }
            | Event::TaskClaimed { item, .. }
            | Event::TaskSigned { item, .. }
            | Event::TaskApproved { item }
            | Event::TaskDenied { item, .. }
            | Event::TaskCancelled { item, .. }
            | Event::SpecialProcedureStarted { item, .. }
            | Event::SpecialProcedureEnded { item }
            | Event::TaskSimulatedApproved { item }
            | Event::SimulationConverted { item }
            | Event::SimulationReopened { item }
            | Event::TaskLapsed { item } => item,
            _ => unreachable!("evolve_task is called for task events only"),
        };
        if self.state != CaseState::InApproval {
            return Err("task events happen while the case is in approval".into());
        }
        let pos = self.task_pos(item).ok_or_else(|| format!("no task for item `{item}`"))?;
        let cal = def.calendar();
        let pct = def.policies().warning_percent;
        let task = &mut self.tasks[pos];
        let need = |ok: bool, what: &str| {
            if ok { Ok(()) } else { Err(format!("task `{item}` is {}, expected {what}", task.state.name())) }
        };
        match event {
            Event::TaskReady { .. } => {
                need(task.state == TaskState::Waiting, "Waiting")?;
                task.state = TaskState::Ready;
                task.sla = Sla::start(cal, now, def.item(task.item).promised_days, pct).ok();
            }
            Event::TaskClaimed { reviewer, .. } => {
                need(task.state == TaskState::Ready, "Ready")?;
                task.state = TaskState::InReview;
                task.reviewer = Some(reviewer.clone());
            }
            Event::TaskSigned { department, .. } => {
                need(task.state == TaskState::InReview, "InReview")?;
                let ds = def.item(task.item).decided_by.departments();
                let bit = ds
                    .iter()
                    .position(|&d| def.department(d).id == *department)
                    .ok_or("department does not countersign")?;
                task.signed |= 1 << bit;
            }
            Event::TaskApproved { .. } => {
                need(
                    task.state == TaskState::InReview || task.state == TaskState::SimulatedApproved,
                    "InReview or SimulatedApproved",
                )?;
                task.state = TaskState::Approved;
                task.lapse_due = None;
                if let Some(sla) = &mut task.sla {
                    sla.stop();
                }
            }
            Event::TaskDenied { .. } => {
                need(task.state == TaskState::InReview, "InReview")?;
                task.state = TaskState::Denied;
                if let Some(sla) = &mut task.sla {
                    sla.stop();
                }
            }
            Event::TaskCancelled { .. } => {
                need(task.state == TaskState::Waiting, "Waiting")?;
                task.state = TaskState::Cancelled;
            }
            Event::SpecialProcedureStarted { kind, .. } => {
                need(task.state == TaskState::InReview, "InReview")?;
                task.state = TaskState::SpecialProcedure(*kind);
                if let Some(sla) = &mut task.sla {
                    sla.pause(now);
                }
                if let Some(sla) = &mut self.sla {
                    sla.pause(now);
                }
            }
            Event::SpecialProcedureEnded { .. } => {
                need(matches!(task.state, TaskState::SpecialProcedure(_)), "SpecialProcedure")?;
                task.state = TaskState::InReview;
                if let Some(sla) = &mut task.sla {
                    sla.resume(cal, now, pct);
                }
                // The case clock stopped when the first procedure started (this task's at the
                // latest); it runs again when the last one ends.
                let still = self.tasks.iter().any(|t| matches!(t.state, TaskState::SpecialProcedure(_)));
                if !still && let Some(sla) = &mut self.sla {
                    sla.resume(cal, now, pct);
                }
            }
            Event::TaskSimulatedApproved { .. } => {
                need(task.state == TaskState::InReview, "InReview")?;
                let days = def.item(task.item).simulated_approval.as_ref().map_or(0, |s| s.validity_days);
                task.state = TaskState::SimulatedApproved;
                task.lapse_due = cal.add_working_days(now.date(), days).ok().map(|d| cal.office_close(d));
                if let Some(sla) = &mut task.sla {
                    sla.stop();
                }
            }
            Event::SimulationConverted { .. } => need(task.state == TaskState::SimulatedApproved, "SimulatedApproved")?,
            Event::SimulationReopened { .. } => {
                need(task.state == TaskState::SimulatedApproved, "SimulatedApproved")?;
                task.state = TaskState::InReview;
                task.lapse_due = None;
                // The re-review is a review again: its promised time runs afresh.
                task.sla = Sla::start(cal, now, def.item(task.item).promised_days, pct).ok();
            }
            Event::TaskLapsed { .. } => {
                need(task.state == TaskState::SimulatedApproved, "SimulatedApproved")?;
                task.state = TaskState::Lapsed;
                task.lapse_due = None;
            }
            _ => unreachable!(),
        }
        Ok(())
    }

    /// The next event that follows from the current state without any command: a task becoming
    /// ready or cancelled, the case being decided. `None` when the state is settled.
    pub fn cascade(&self, def: &Definition) -> Option<Event> {
        if self.state != CaseState::InApproval {
            return None;
        }
        let bundle = def.bundle(self.bundle);
        for &m in &bundle.topo {
            let task = &self.tasks[m];
            if task.state != TaskState::Waiting {
                continue;
            }
            if let Some(f) = task.waits_for.iter().find(|&p| self.tasks[p].state.is_failed()) {
                return Some(Event::TaskCancelled {
                    item: task.item_id.clone(),
                    because: self.tasks[f].item_id.clone(),
                });
            }
            let gate = self.stage_gate(def, m);
            if let Gate::Failed(because) = gate {
                return Some(Event::TaskCancelled { item: task.item_id.clone(), because });
            }
            let preds_done = task.waits_for.iter().all(|p| self.tasks[p].state == TaskState::Approved);
            #[cfg(feature = "fault-injection")]
            let preds_done = preds_done || crate::fault::active(crate::fault::Fault::SkipPredecessorCheck);
            if preds_done && gate == Gate::Open && !self.blocked_by_cure(def, m) {
                return Some(Event::TaskReady { item: task.item_id.clone() });
            }
        }
        if self.tasks.iter().all(|t| t.state.is_terminal()) {
            let applicable = self.tasks.iter().filter(|t| t.state != TaskState::NotApplicable).count();
            let approved = self.tasks.iter().filter(|t| t.state == TaskState::Approved).count();
            let outcome = match approved {
                0 => Outcome::Denied,
                n if n == applicable => Outcome::Approved,
                _ => Outcome::PartiallyApproved,
            };
            let awaiting_cure = outcome != Outcome::Denied && self.cure_holds_results(def);
            return Some(Event::CaseDecided { outcome, awaiting_cure });
        }
        None
    }

    /// A task whose item needs (Required or Tolerable) an outstanding tolerated material and may
    /// not issue before cure does not start before the material is supplied.
    fn blocked_by_cure(&self, def: &Definition, member: usize) -> bool {
        !self.outstanding.is_empty() && self.holds_for_cure(def, &self.tasks[member])
    }

    /// A Required material (outstanding only after a deemed acceptance) always holds the item;
    /// a Tolerable one holds it unless the item may issue before cure.
    fn holds_for_cure(&self, def: &Definition, task: &Task) -> bool {
        let item = def.item(task.item);
        self.outstanding.iter().any(|m| match def.material_ix(m).and_then(|ix| item.need_of(ix)) {
            Some(MaterialNeed::Required) => true,
            Some(MaterialNeed::Tolerable) => !item.issue_before_cure,
            _ => false,
        })
    }

    /// Whether the results wait for the cure (待补齐): the applicant's written commitment
    /// (容缺承诺书) covers the whole case and results leave together (一并出件), so they wait
    /// when any applicable item needing an outstanding material may not issue before cure.
    fn cure_holds_results(&self, def: &Definition) -> bool {
        self.tasks.iter().filter(|t| t.state != TaskState::NotApplicable).any(|t| self.holds_for_cure(def, t))
    }

    fn stage_gate(&self, def: &Definition, member: usize) -> Gate {
        let bundle = def.bundle(self.bundle);
        let Some(k) = bundle.members[member].stage.filter(|&k| k > 0) else {
            return Gate::Open;
        };
        let previous = &bundle.stages[k - 1];
        let states: Vec<TaskState> = previous.milestones.iter().map(|&p| self.tasks[p].state).collect();
        let approved = states.iter().filter(|s| **s == TaskState::Approved).count();
        let failed = states.iter().position(|s| s.is_failed());
        let because = || Id::new(&format!("stage:{}", previous.id));
        match previous.rule {
            crate::definition::MilestoneRule::All if approved == states.len() => Gate::Open,
            crate::definition::MilestoneRule::All if failed.is_some() => Gate::Failed(because()),
            crate::definition::MilestoneRule::Any if approved > 0 => Gate::Open,
            crate::definition::MilestoneRule::Any if states.iter().all(|s| s.is_failed()) => Gate::Failed(because()),
            _ => Gate::Closed,
        }
    }

    /// Every pending timer of this case with its due instant.
    pub fn timers(&self, def: &Definition) -> Vec<(Instant, Timer)> {
        let mut out = Vec::new();
        self.visit_timers(def, &mut |t, timer| out.push((t, timer)));
        out
    }

    /// Calls `f` with every pending timer, without allocating (this runs after every command).
    fn visit_timers(&self, def: &Definition, f: &mut impl FnMut(Instant, Timer)) {
        let cal = def.calendar();
        let policies = def.policies();
        match self.state {
            CaseState::Received => {
                if let Some(received) = self.received_at
                    && let Ok(d) = cal.add_working_days(received.date(), policies.correction_notice_days)
                {
                    f(cal.office_close(d), Timer::DeemedAcceptance);
                }
            }
            CaseState::InApproval | CaseState::AwaitingCure | CaseState::ReadyForDelivery => {
                if let Some(due) = self.cure_due {
                    f(due, Timer::CureDue);
                }
            }
            CaseState::Suspended => {
                if let Some((since, _)) = self.suspended
                    && let Ok(d) = cal.add_working_days(since.date(), policies.cure_grace_days)
                {
                    f(cal.office_close(d), Timer::GraceOver);
                }
            }
            CaseState::Delivered => {
                if let Some(due) = self.cure_due {
                    f(due, Timer::CureDue);
                }
                if let (None, Some((at, _))) = (self.rating, self.delivered)
                    && let Ok(d) = cal.add_working_days(at.date(), policies.default_rating_days)
                {
                    f(cal.office_close(d), Timer::DefaultRating);
                }
            }
            _ => {}
        }
        if self.state == CaseState::InApproval {
            if let Some(t) = self.sla.as_ref().and_then(Sla::next_deadline) {
                f(t, Timer::CaseSla);
            }
            for (p, task) in self.tasks.iter().enumerate() {
                if let Some(t) = task.sla.as_ref().and_then(Sla::next_deadline) {
                    f(t, Timer::TaskSla(p));
                }
                if let (TaskState::SimulatedApproved, Some(t)) = (task.state, task.lapse_due) {
                    f(t, Timer::SimulationLapse(p));
                }
            }
        }
    }

    /// Whether a timer this case should have is missing because it would fall past the
    /// definition's calendar. The engine schedules no timer it cannot honour (the hall must add
    /// next year's holiday table before deadlines reach it), so such a case waits without a
    /// deadline; a tool that must not take that for a settled case (the checker) asks this.
    pub fn timer_past_calendar(&self, def: &Definition) -> bool {
        let cal = def.calendar();
        let policies = def.policies();
        let past =
            |from: Option<Instant>, days: u32| from.is_some_and(|t| cal.add_working_days(t.date(), days).is_err());
        // A clock that runs (not stopped, not paused, not yet overdue) always has its next level
        // change scheduled, unless that lies past the calendar.
        let stalled = |sla: &Sla| {
            !sla.stopped && sla.paused_since.is_none() && sla.level < SlaLevel::Overdue && sla.next_deadline().is_none()
        };
        let case_timer = match self.state {
            CaseState::Received => past(self.received_at, policies.correction_notice_days),
            CaseState::Suspended => past(self.suspended.map(|(since, _)| since), policies.cure_grace_days),
            CaseState::Delivered => {
                self.rating.is_none() && past(self.delivered.map(|(at, _)| at), policies.default_rating_days)
            }
            _ => false,
        };
        let clocks = self.state == CaseState::InApproval
            && (self.sla.as_ref().is_none_or(stalled)
                || self.tasks.iter().any(|t| match &t.sla {
                    Some(sla) => stalled(sla),
                    // Ready or in review, a task's clock runs: it failed to start.
                    None => matches!(t.state, TaskState::Ready | TaskState::InReview),
                }));
        case_timer || clocks
    }

    /// The earliest pending timer.
    pub fn next_deadline(&self, def: &Definition) -> Option<Instant> {
        let mut min: Option<Instant> = None;
        self.visit_timers(def, &mut |t, _| min = Some(min.map_or(t, |m| m.min(t))));
        min
    }

    /// Fires the earliest timer if it is due at `now`: its events, or `None` if nothing is due.
    pub fn fire_due_timer(&self, def: &Definition, now: Instant) -> Option<(Instant, Vec<Event>)> {
        self.due_timer_events(def, now).map(|(at, events)| (at, events.into_vec()))
    }

    fn due_timer_events(&self, def: &Definition, now: Instant) -> Option<(Instant, Events)> {
        let mut due: Option<(Instant, Timer)> = None;
        self.visit_timers(def, &mut |t, timer| {
            if t <= now && due.is_none_or(|(d, _)| t < d) {
                due = Some((t, timer));
            }
        });
        let (due, timer) = due?;
        let at = self.updated_at.map_or(due, |last| last.max(due));
        let events = match timer {
            Timer::DeemedAcceptance => {
                // Deemed accepted as of receipt (Art. 32). Whatever is still missing is recorded as
                // outstanding, due by the end of the promised limit, so that nothing is decided or
                // delivered without it (invariant 4) and an uncured case is suspended, not stuck.
                let as_of = self.received_at.expect("a received case has a receipt time").date();
                let missing: Vec<Id> = self.missing(def).into_iter().map(|(m, _)| def.material(m).id.clone()).collect();
                let due = (!missing.is_empty())
                    .then(|| def.calendar().add_working_days(as_of, def.bundle(self.bundle).promised_days).ok())
                    .flatten()
                    .map(|d| def.calendar().office_close(d).max(at));
                smallvec::smallvec![self.accepted(def, as_of, true, missing, due)]
            }
            Timer::CaseSla => {
                let level = next_level(self.sla.as_ref().expect("timer implies a clock").level);
                smallvec::smallvec![Event::SlaLevelChanged { subject: SlaSubject::Case, level }]
            }
            Timer::TaskSla(p) => {
                let level = next_level(self.tasks[p].sla.as_ref().expect("timer implies a clock").level);
                smallvec::smallvec![Event::SlaLevelChanged {
                    subject: SlaSubject::Task(self.tasks[p].item_id.clone()),
                    level
                }]
            }
            Timer::SimulationLapse(p) => smallvec::smallvec![Event::TaskLapsed { item: self.tasks[p].item_id.clone() }],
            Timer::CureDue if self.state == CaseState::Delivered => smallvec::smallvec![Event::Revoked],
            Timer::CureDue => smallvec::smallvec![Event::CaseSuspended],
            Timer::GraceOver => smallvec::smallvec![Event::CaseReturned],
            Timer::DefaultRating => {
                smallvec::smallvec![Event::Rated { stars: def.policies().default_rating, by_default: true }]
            }
        };
        Some((at, events))
    }

    /// Executes a command in place: decides, then folds the events and their cascade into the
    /// state, appending everything recorded to `out`. On rejection the state is untouched.
    pub fn execute<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut S,
    ) -> Result<(), Rejection> {
        self.execute_step(def, command, ctx, out).map(|_| ())
    }

    /// [`Case::execute`], also telling whether the case's timers may have moved: a claim (the
    /// most frequent command) records nothing that starts, stops or moves a timer.
    pub(crate) fn execute_step<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        command: &Command,
        ctx: &Ctx<'_>,
        out: &mut S,
    ) -> Result<bool, Rejection> {
        let mut events = Events::new();
        self.decide_events(def, command, ctx, &mut events)?;
        let timers_may_move = !events.iter().all(|e| matches!(e, Event::TaskClaimed { .. }));
        // Supplying the last tolerated material during a suspension resumes the case.
        let resumes = matches!(command, Command::Supply { .. })
            && self.state == CaseState::Suspended
            && self.outstanding.len() == 1;
        let cascades = resumes || events.iter().any(may_cascade);
        self.record_all(def, &mut events, ctx.now, ctx.actor, out);
        if resumes {
            self.record(def, Event::CaseResumed, ctx.now, ctx.actor, out);
        }
        if cascades {
            self.settle(def, ctx.now, ctx.actor, out);
        } else {
            // The case was settled before the command (the engine settles after every step)
            // and nothing the command recorded can let the cascade continue.
            debug_assert!(self.cascade(def).is_none(), "{command:?} left the case unsettled");
        }
        Ok(timers_may_move)
    }

    /// [`Case::execute`] taking the command by value: a submission's materials and answers move
    /// into its event instead of being copied. Same rules, same events.
    pub fn execute_owned<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        command: Command,
        ctx: &Ctx<'_>,
        out: &mut S,
    ) -> Result<(), Rejection> {
        let Command::Submit(s) = command else { return self.execute(def, &command, ctx, out) };
        self.check_submit(def, &s, ctx)?;
        let Submission { bundle, applicant, channel, materials, answers, green_channel } = *s;
        let event = Event::Submitted { bundle, applicant, channel, materials, answers, green_channel };
        self.record(def, event, ctx.now, ctx.actor, out);
        self.settle(def, ctx.now, ctx.actor, out);
        Ok(())
    }

    /// Folds the cascade that follows from the current state.
    pub fn settle<S: EventSink + ?Sized>(&mut self, def: &Definition, now: Instant, actor: &Actor, out: &mut S) {
        // Each cascade step makes one task terminal or ready, or decides the case: at most
        // 2 × tasks + 1 steps.
        for _ in 0..=2 * self.tasks.len() + 1 {
            let Some(event) = self.cascade(def) else {
                return;
            };
            self.record(def, event, now, actor, out);
        }
        debug_assert!(self.cascade(def).is_none(), "cascade did not settle");
    }

    fn record_all<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        events: &mut Events,
        at: Instant,
        by: &Actor,
        out: &mut S,
    ) {
        for event in events.drain(..) {
            self.record(def, event, at, by, out);
        }
    }

    fn record<S: EventSink + ?Sized>(&mut self, def: &Definition, event: Event, at: Instant, by: &Actor, out: &mut S) {
        if let Err(e) = self.fold(def, self.version + 1, at, by, &event) {
            panic!("the engine produced an illegal event: {e}");
        }
        out.record(self.id.into(), self.version, at, by, event);
    }

    /// Fires every timer due at or before `now`, in time order, each at its own instant.
    pub fn advance<S: EventSink + ?Sized>(&mut self, def: &Definition, now: Instant, out: &mut S) {
        self.advance_as(def, now, &Actor::system(), out);
    }

    /// [`Case::advance`] with the engine's system actor (made once, not per call).
    pub(crate) fn advance_as<S: EventSink + ?Sized>(
        &mut self,
        def: &Definition,
        now: Instant,
        system: &Actor,
        out: &mut S,
    ) {
        // Every firing changes the state so that the same timer is not due again; the number
        // of timers of a case is bounded by a small multiple of its tasks.
        for _ in 0..64 + 8 * self.tasks.len() {
            let Some((at, mut events)) = self.due_timer_events(def, now) else {
                return;
            };
            self.record_all(def, &mut events, at, system, out);
            self.settle(def, at, system, out);
        }
        panic!("case {} fired too many timers in one advance", self.id);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Gate {
    Open,
    Closed,
    Failed(Id),
}

/// Whether folding `event` can let the cascade continue on a settled case: tasks created, a
/// task finished or failed (its successors, a stage, the decision), a tolerated material
/// arrived (the cure), the case resumed. After any other event a settled case stays settled;
/// the debug assertion in [`Case::execute`] and the property tests hold this list to the
/// cascade itself.
fn may_cascade(event: &Event) -> bool {
    #[cfg(feature = "fault-injection")]
    if matches!(event, Event::TaskApproved { .. }) && crate::fault::active(crate::fault::Fault::ApprovalDoesNotCascade)
    {
        return false;
    }
    matches!(
        event,
        Event::Accepted { .. }
            | Event::TaskApproved { .. }
            | Event::TaskDenied { .. }
            | Event::TaskCancelled { .. }
            | Event::TaskLapsed { .. }
            | Event::SimulationConverted { .. }
            | Event::MaterialSupplied { .. }
            | Event::CaseResumed
    )
}

fn next_level(level: SlaLevel) -> SlaLevel {
    match level {
        SlaLevel::Normal => SlaLevel::Warning,
        _ => SlaLevel::Overdue,
    }
}
