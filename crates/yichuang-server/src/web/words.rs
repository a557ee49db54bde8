//! The pages' Chinese: states, signals, roles and every event said in words (the terms of
//! `docs/glossary.md`). Matches are exhaustive, so a new state or event does not compile until
//! it is given its words here.

use yichuang_core::definition::{Definition, Id, MaterialNeed};
use yichuang_core::event::SlaSubject;
use yichuang_core::machine::sla::SlaLevel;
use yichuang_core::machine::ticket::{FailKind, Submitted, TicketSource};
use yichuang_core::{
    Actor, CaseState, Channel, DeliveryMethod, Event, Outcome, Role, SpecialProcedureKind, TaskState, TicketState,
};

/// A case state (办件状态).
pub fn case_state(s: CaseState) -> &'static str {
    match s {
        CaseState::Consulting => "帮办咨询",
        CaseState::Received => "已收件",
        CaseState::AwaitingCorrection => "待补正",
        CaseState::InApproval => "审批中",
        CaseState::AwaitingCure => "待补齐",
        CaseState::Suspended => "暂停办理",
        CaseState::ReadyForDelivery => "待出件",
        CaseState::Delivered => "已出件",
        CaseState::Closed => "已办结归档",
        CaseState::Rejected => "不予受理",
        CaseState::Returned => "退件",
        CaseState::Withdrawn => "撤回",
        CaseState::Revoked => "撤销",
    }
}

/// A task state (审批任务状态).
pub fn task_state(s: TaskState) -> &'static str {
    match s {
        TaskState::NotApplicable => "不适用",
        TaskState::Waiting => "等待",
        TaskState::Ready => "待办",
        TaskState::InReview => "审查中",
        TaskState::SpecialProcedure => "特别程序",
        TaskState::AwaitingSupplement => "补充材料中",
        TaskState::SimulatedApproved => "模拟审批",
        TaskState::Approved => "准予",
        TaskState::Denied => "不予",
        TaskState::Cancelled => "终止",
        TaskState::Lapsed => "失效",
    }
}

/// A ticket state (问题状态).
pub fn ticket_state(s: TicketState) -> &'static str {
    match s {
        TicketState::Verifying => "核实",
        TicketState::Rectifying => "整改",
        TicketState::AwaitingSupervision => "待监督",
        TicketState::FeedingBack => "待反馈",
        TicketState::FollowUp => "回访",
        TicketState::Closed => "办结",
    }
}

/// An escalation level: 0 一般 (not escalated), 1 督办, 2 约谈.
pub fn escalation(level: u8) -> &'static str {
    match level {
        0 => "一般",
        1 => "督办",
        _ => "约谈",
    }
}

/// The signal of a clock (时限状态), as shown: 正常 / 预警 / 逾期.
pub fn level(l: SlaLevel) -> &'static str {
    match l {
        SlaLevel::Normal => "正常",
        SlaLevel::Warning => "预警",
        SlaLevel::Overdue => "逾期",
    }
}

/// A level's CSS class: the colour is never the only sign (the word is always shown too).
pub fn level_class(l: Option<SlaLevel>) -> &'static str {
    match l {
        Some(SlaLevel::Normal) => "green",
        Some(SlaLevel::Warning) => "yellow",
        Some(SlaLevel::Overdue) => "red",
        None => "idle",
    }
}

/// A role (角色) with its scope, named for people.
pub fn role(def: &Definition, actor: &Actor) -> String {
    match &actor.role {
        Role::Applicant => "申请人".to_owned(),
        Role::Clerk { window } => {
            format!("窗口工作人员（{}）", def.window(window).map_or(window.as_str(), |w| w.name.as_str()))
        }
        Role::Reviewer { department } => format!("审批人员（{}）", department_name(def, department)),
        Role::Supervisor { department } => format!("效能监察人员（{}）", department_name(def, department)),
        Role::Leader => "分管领导".to_owned(),
        Role::Admin => "系统管理员".to_owned(),
        Role::System => "系统".to_owned(),
    }
}

/// Who did something, for a timeline: the system, or the role and the person's id.
pub fn actor(def: &Definition, actor: &Actor) -> String {
    match actor.role {
        Role::System => "系统（计时器）".to_owned(),
        _ => format!("{} {}", role(def, actor), actor.id),
    }
}

/// A department's name, or its id if the definition does not know it.
pub fn department_name<'d>(def: &'d Definition, id: &'d str) -> &'d str {
    def.department_ix(id).map_or(id, |d| def.department(d).name.as_str())
}

/// An item's name, or its id.
pub fn item_name<'d>(def: &'d Definition, id: &'d str) -> &'d str {
    def.item_ix(id).map_or(id, |i| def.item(i).name.as_str())
}

/// A material's name, or its id.
pub fn material_name<'d>(def: &'d Definition, id: &'d str) -> &'d str {
    def.material_ix(id).map_or(id, |m| def.material(m).name.as_str())
}

/// Material names joined with 、.
pub fn materials(def: &Definition, ids: &[Id]) -> String {
    ids.iter().map(|m| material_name(def, m.as_str())).collect::<Vec<_>>().join("、")
}

/// A material need (材料必要性).
pub fn need(n: MaterialNeed) -> &'static str {
    match n {
        MaterialNeed::Required => "必备",
        MaterialNeed::Tolerable => "容缺",
        MaterialNeed::Optional => "可选",
    }
}

/// A channel (办理渠道).
pub fn channel(c: Channel) -> &'static str {
    match c {
        Channel::Window => "窗口",
        Channel::Web => "网上办",
        Channel::Mobile => "掌上办",
    }
}

/// A delivery method (出件方式).
pub fn delivery(m: DeliveryMethod) -> &'static str {
    match m {
        DeliveryMethod::Window => "统一出件窗口",
        DeliveryMethod::Post => "邮寄送达",
        DeliveryMethod::Electronic => "电子证照",
    }
}

/// A special procedure (特别程序).
pub fn special(k: SpecialProcedureKind) -> &'static str {
    match k {
        SpecialProcedureKind::Hearing => "听证",
        SpecialProcedureKind::Testing => "检验/检测/检疫",
        SpecialProcedureKind::Appraisal => "鉴定",
        SpecialProcedureKind::ExpertReview => "专家评审",
        SpecialProcedureKind::SiteInspection => "现场踏勘",
    }
}

/// Every special procedure, with its English name as the form sends it.
pub const SPECIAL_PROCEDURES: [(SpecialProcedureKind, &str); 5] = [
    (SpecialProcedureKind::Hearing, "Hearing"),
    (SpecialProcedureKind::Testing, "Testing"),
    (SpecialProcedureKind::Appraisal, "Appraisal"),
    (SpecialProcedureKind::ExpertReview, "ExpertReview"),
    (SpecialProcedureKind::SiteInspection, "SiteInspection"),
];

/// An outcome (办结结果).
pub fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Approved => "准予许可",
        Outcome::PartiallyApproved => "部分准予",
        Outcome::Denied => "不予许可",
    }
}

fn fail_kind(k: FailKind) -> &'static str {
    match k {
        FailKind::Superficial => "表面整改",
        FailKind::Perfunctory => "敷衍整改",
        FailKind::False => "虚假整改",
        FailKind::Incomplete => "整改不彻底",
    }
}

/// Where a ticket comes from (问题来源), in a few words.
pub fn source(def: &Definition, s: &TicketSource) -> String {
    match s {
        TicketSource::BadRating { case, stars } => format!("差评（{stars} 星，办件 {case}）"),
        TicketSource::Complaint { case, .. } => match case {
            Some(c) => format!("吐槽找茬（办件 {c}）"),
            None => "吐槽找茬".to_owned(),
        },
        TicketSource::Overdue { case, item } => match item {
            Some(i) => format!("督办：{} 逾期（办件 {case}）", item_name(def, i)),
            None => format!("督办：办件 {case} 逾期"),
        },
        TicketSource::Inspection { plan_task: Some(t), .. } => format!("整改任务 {t}"),
        TicketSource::Inspection { .. } => "巡视/巡察反馈问题".to_owned(),
    }
}

/// The stars of a rating in words (好差评 levels).
pub fn stars(n: u8) -> &'static str {
    match n {
        5 => "非常满意",
        4 => "满意",
        3 => "基本满意",
        2 => "不满意",
        _ => "非常不满意",
    }
}

/// The name of review level `level` of an item (承办, 审核 …).
fn level_name<'a>(def: &'a Definition, item: &Id, level: u8) -> &'a str {
    def.item_ix(item).and_then(|ix| def.item(ix).levels.get(usize::from(level))).map_or("审批", |l| l.name.as_str())
}

/// What an event says, in a sentence.
pub fn event(def: &Definition, e: &Event) -> String {
    match e {
        Event::Consulted { notice, .. } => format!("帮办咨询，一次性告知材料：{}", materials(def, notice)),
        Event::Submitted { channel: c, materials: m, green_channel, .. } => format!(
            "收件（{}），提交材料 {} 件{}",
            channel(*c),
            m.len(),
            if *green_channel { "，申请绿色通道" } else { "" }
        ),
        Event::CorrectionRequested { missing } => format!("补正告知：请补正 {}", materials(def, missing)),
        Event::Resubmitted { materials: m } => format!("补正后重新提交：{}", materials(def, m)),
        Event::Accepted { as_of, deemed, tolerated, cure_due, .. } => {
            let mut text = if *deemed {
                format!("视为受理（受理日期 {as_of}）")
            } else {
                format!("受理（受理日期 {as_of}）")
            };
            if !tolerated.is_empty() {
                text.push_str(&format!("，容缺：{}", materials(def, tolerated)));
                if let Some(due) = cure_due {
                    text.push_str(&format!("，须于 {due} 前补齐"));
                }
            }
            text
        }
        Event::Rejected { reason } => format!("不予受理：{reason}"),
        Event::TaskReady { item } => format!("{} 进入部门待办", item_name(def, item)),
        Event::TaskClaimed { item, reviewer } => format!("{} 由 {reviewer} 认领", item_name(def, item)),
        Event::TaskSigned { item, department } => {
            let rule = def.item_ix(item).map_or("会签", |ix| match def.item(ix).decided_by {
                yichuang_core::definition::Decider::AnyOf(_) => "或签",
                yichuang_core::definition::Decider::Vote { .. } => "票签",
                _ => "会签",
            });
            format!("{} {rule}：{} 同意", item_name(def, item), department_name(def, department))
        }
        Event::TaskVotedAgainst { item, department, reason } => {
            format!("{}：{} 不同意（{reason}）", item_name(def, item), department_name(def, department))
        }
        Event::TaskSignerAdded { item, department, position } => {
            let when = match position {
                yichuang_core::machine::task::SignerPosition::Before => "前加签",
                yichuang_core::machine::task::SignerPosition::After => "后加签",
            };
            format!("{} {when}：{}", item_name(def, item), department_name(def, department))
        }
        Event::TaskSignerRemoved { item, department } => {
            format!("{} 减签：{}", item_name(def, item), department_name(def, department))
        }
        Event::TaskVotesCancelled { item, departments, reason } => {
            let names: Vec<&str> = departments.iter().map(|d| department_name(def, d)).collect();
            format!("{}：撤销 {} 的待办（{reason}）", item_name(def, item), names.join("、"))
        }
        Event::TaskLevelSigned { item, level, signer } => {
            format!("{} {} 由 {signer} 签署，转下一级", item_name(def, item), level_name(def, item, *level))
        }
        Event::TaskReturned { item, to_level, reason } => {
            format!("{} 退回至{}：{reason}", item_name(def, item), level_name(def, item, *to_level))
        }
        Event::TaskUrged { item, note } if note.is_empty() => format!("{} 被催办", item_name(def, item)),
        Event::TaskUrged { item, note } => format!("{} 被催办：{note}", item_name(def, item)),
        Event::TaskRecalled { item, department } => {
            format!("{} {} 撤回签署", item_name(def, item), department_name(def, department))
        }
        Event::TaskTransferred { item, to: Some(to) } => format!("{} 转办给 {to}", item_name(def, item)),
        Event::TaskTransferred { item, to: None } => format!("{} 退回部门待办", item_name(def, item)),
        Event::TaskDelegated { item, to } => format!("{} 委派给 {to}", item_name(def, item)),
        Event::DelegationResolved { item, note } if note.is_empty() => format!("{} 委派完成", item_name(def, item)),
        Event::DelegationResolved { item, note } => format!("{} 委派完成：{note}", item_name(def, item)),
        Event::SupplementRequested { item, asked, due } => {
            format!("{} 要求补充材料（{} 前）：{}", item_name(def, item), due, asked.join("；"))
        }
        Event::SupplementProvided { item } => format!("{} 已补充材料，恢复审查", item_name(def, item)),
        Event::SupplementLapsed { item, consequence } => match consequence {
            yichuang_core::definition::SupplementLapse::Deny => {
                format!("{} 逾期未补充材料，不予许可", item_name(def, item))
            }
            yichuang_core::definition::SupplementLapse::ReturnCase => {
                format!("{} 逾期未补充材料，退件", item_name(def, item))
            }
        },
        Event::TaskUnready { item, because } => {
            format!("{} 因 {} 撤回而退回等待", item_name(def, item), item_name(def, because))
        }
        Event::TaskLevelSlaChanged { item, level, to } => {
            let what = format!("{} {}环节", item_name(def, item), level_name(def, item, *level));
            match to {
                SlaLevel::Normal => format!("{what} 时限恢复正常"),
                SlaLevel::Warning => format!("{what} 时限预警"),
                SlaLevel::Overdue => format!("{what} 超过环节时限"),
            }
        }
        Event::TaskApproved { item } => format!("{} 准予", item_name(def, item)),
        Event::TaskDenied { item, reason } => format!("{} 不予：{reason}", item_name(def, item)),
        Event::TaskCancelled { item, because } => {
            format!("{} 终止（因 {} 未获准予）", item_name(def, item), item_name(def, because))
        }
        Event::SpecialProcedureStarted { item, kind } => {
            format!("{} 进入特别程序（{}），计时暂停", item_name(def, item), special(*kind))
        }
        Event::SpecialProcedureEnded { item } => format!("{} 特别程序结束，恢复计时", item_name(def, item)),
        Event::TaskSimulatedApproved { item } => format!("{} 模拟审批通过", item_name(def, item)),
        Event::SimulationConverted { item } => format!("{} 前置条件满足，模拟审批转为正式准予", item_name(def, item)),
        Event::SimulationReopened { item } => format!("{} 前置条件满足但情况有变，重新审查", item_name(def, item)),
        Event::TaskLapsed { item } => format!("{} 模拟审批失效", item_name(def, item)),
        Event::SlaLevelChanged { subject, level: l } => {
            let what = match subject {
                SlaSubject::Case => "办件".to_owned(),
                SlaSubject::Task(item) => item_name(def, item).to_owned(),
            };
            match l {
                SlaLevel::Normal => format!("{what} 时限恢复正常"),
                SlaLevel::Warning => format!("{what} 时限预警（黄灯）"),
                SlaLevel::Overdue => format!("{what} 已逾期（红灯）"),
            }
        }
        Event::CaseDecided { outcome: o, awaiting_cure } => {
            format!("办结：{}{}", outcome(*o), if *awaiting_cure { "，待补齐容缺材料后出件" } else { "" })
        }
        Event::MaterialSupplied { material } => format!("补齐容缺材料：{}", material_name(def, material)),
        Event::CaseSuspended => "容缺材料逾期未补齐，暂停办理".to_owned(),
        Event::CaseResumed => "已补齐，恢复办理".to_owned(),
        Event::CaseReturned => "宽限期满，退件".to_owned(),
        Event::Delivered { method } => format!("一并出件（{}）", delivery(*method)),
        Event::Rated { stars: n, by_default } => {
            format!("{}评价：{n} 星（{}）", if *by_default { "默认" } else { "" }, stars(*n))
        }
        Event::Withdrawn => "申请人撤回".to_owned(),
        Event::Revoked => "容缺材料逾期未补齐，证照撤销".to_owned(),
        Event::Migrated { from, to, removed, .. } if removed.is_empty() => format!("事项定义由版本 {from} 迁移至 {to}"),
        Event::Migrated { from, to, removed, .. } => {
            format!(
                "事项定义由版本 {from} 迁移至 {to}；新版本删除的事项已撤销：{}",
                removed.iter().map(|i| i.as_str()).collect::<Vec<_>>().join("、")
            )
        }
        Event::TicketOpened { source: s, department, .. } => {
            format!("问题登记：{}，交 {} 办理", source(def, s), department_name(def, department))
        }
        Event::TicketRectifying { deadline, immediate } => {
            if *immediate {
                format!("立行立改，{deadline} 前完成")
            } else {
                format!("建立台账，限期 {deadline} 前整改")
            }
        }
        Event::TicketSubmitted { what, text } => match what {
            Submitted::Rectification => format!("提交整改：{text}"),
            Submitted::Explanation => format!("解释说明：{text}"),
            Submitted::Appeal => format!("申诉：{text}"),
        },
        Event::TicketPassed => "监督通过".to_owned(),
        Event::TicketFailed { kind, deadline } => format!("监督不通过（{}），重新整改至 {deadline}", fail_kind(*kind)),
        Event::TicketAppealUpheld => "申诉成立，该评价不计入统计".to_owned(),
        Event::TicketFedBack { message, follow_up_due } => format!("反馈：{message}（{follow_up_due} 前回访）"),
        Event::TicketClosed => "回访满意，办结".to_owned(),
        Event::TicketReopened { deadline } => format!("回访不满意，重新整改至 {deadline}"),
        Event::TicketEscalated { level: l, .. } => format!("逾期升级：{}", escalation(*l)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_sentences_with_names_not_ids() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
        let def = Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap();
        let e = Event::TaskClaimed { item: "business-licence".into(), reviewer: "reviewer-market-access".into() };
        assert_eq!(event(&def, &e), "企业设立登记（营业执照核发） 由 reviewer-market-access 认领");
        let e = Event::SlaLevelChanged { subject: SlaSubject::Task("food-licence".into()), level: SlaLevel::Warning };
        assert!(event(&def, &e).ends_with("时限预警（黄灯）"), "{}", event(&def, &e));
        let e = Event::CorrectionRequested { missing: vec!["floor-plan".into(), "unknown-thing".into()] };
        assert_eq!(event(&def, &e), "补正告知：请补正 经营场所平面布局图、unknown-thing");
        let reviewer = Actor::reviewer("r1", "market-access");
        assert_eq!(actor(&def, &reviewer), "审批人员（市场准入科） r1");
    }
}
