//! The transition tables of the case, task and ticket machines as data.
//!
//! A test (`tests/table.rs`) holds `decide` against these rows in both directions: every listed
//! command is accepted from its source state and lands in a listed target, and every command not
//! listed for a state is refused. The same rows render the Mermaid diagrams in
//! `docs/state-machines.md`, so the documentation cannot drift from the code.

/// What triggers a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A command of an actor.
    Command(&'static str),
    /// A timer fired by [`crate::Engine::advance_to`].
    Timer(&'static str),
    /// A cascade that follows from the state (e.g. every task terminal).
    Cascade(&'static str),
}

impl Trigger {
    /// The label shown on a diagram edge.
    pub fn label(self) -> String {
        match self {
            Trigger::Command(c) => c.to_owned(),
            Trigger::Timer(t) => format!("⏱ {t}"),
            Trigger::Cascade(c) => format!("[{c}]"),
        }
    }
}

/// One row: from a state, on a trigger, to one of the target states.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    /// Source state name.
    pub from: &'static str,
    /// What triggers it.
    pub trigger: Trigger,
    /// Possible target state names (several when guards choose).
    pub to: &'static [&'static str],
    /// The rule in a few words.
    pub rule: &'static str,
}

const fn row(from: &'static str, trigger: Trigger, to: &'static [&'static str], rule: &'static str) -> Transition {
    Transition { from, trigger, to, rule }
}

use Trigger::{Cascade, Command as Cmd, Timer};

/// Commands that a case accepts in every open state before delivery.
const WITHDRAWABLE: [&str; 7] =
    ["Consulting", "Received", "AwaitingCorrection", "InApproval", "AwaitingCure", "Suspended", "ReadyForDelivery"];

/// The case machine (DESIGN §4.1). `Decided` is the cascade event `CaseDecided`, shown as a
/// choice node.
pub const CASE: &[Transition] = &[
    row("Consulting", Cmd("submit"), &["Received"], "receipt recorded; trip +1 at a window"),
    row("Received", Cmd("accept"), &["InApproval"], "all required and tolerable materials present; tasks created"),
    row(
        "Received",
        Cmd("accept_tolerating"),
        &["InApproval"],
        "容缺: only tolerable missing, no credit block, cure due ≤ promised limit",
    ),
    row("Received", Cmd("request_correction"), &["AwaitingCorrection"], "补正告知 lists every missing material"),
    row("Received", Cmd("reject"), &["Rejected"], "不予受理 with a reason"),
    row("Received", Timer("5 wd without decision"), &["InApproval"], "deemed accepted as of receipt (Art. 32)"),
    row("AwaitingCorrection", Cmd("resubmit"), &["Received"], "acceptance date = last material's arrival; trip +1"),
    row("InApproval", Cmd("task command"), &["InApproval", "AwaitingCure", "ReadyForDelivery"], "see the task machine"),
    row("InApproval", Cmd("supply"), &["InApproval"], "a tolerated material arrives; blocked tasks may start"),
    row(
        "InApproval",
        Cascade("every task terminal: CaseDecided"),
        &["AwaitingCure", "ReadyForDelivery"],
        "outcome Approved / PartiallyApproved / Denied",
    ),
    row("InApproval", Timer("SLA warning / overdue"), &["InApproval"], "预警 at the threshold, then 逾期"),
    row("InApproval", Timer("cure due"), &["Suspended"], "暂停办理"),
    row("AwaitingCure", Cmd("supply"), &["AwaitingCure", "ReadyForDelivery"], "when nothing is outstanding"),
    row("AwaitingCure", Timer("cure due"), &["Suspended"], "暂停办理"),
    row(
        "Suspended",
        Cmd("supply"),
        &["Suspended", "InApproval", "ReadyForDelivery"],
        "cured within the grace period: resume",
    ),
    row("Suspended", Timer("grace over"), &["Returned"], "退件"),
    row("ReadyForDelivery", Cmd("supply"), &["ReadyForDelivery"], "issue-before-cure items: cure still due"),
    row("ReadyForDelivery", Timer("cure due"), &["Suspended"], "暂停办理"),
    row("ReadyForDelivery", Cmd("deliver"), &["Delivered"], "一并出件; trip +1 at a window"),
    row("Delivered", Cmd("rate"), &["Closed", "Delivered"], "好差评; closed once nothing is outstanding"),
    row("Delivered", Cmd("supply"), &["Delivered", "Closed"], "issue-before-cure cure arrives"),
    row("Delivered", Timer("default rating"), &["Closed", "Delivered"], "default rating after the policy delay"),
    row("Delivered", Timer("cure due"), &["Revoked"], "issue-before-cure certificate voided"),
    row("Consulting", Cmd("withdraw"), &["Withdrawn"], "撤回"),
    row("Received", Cmd("withdraw"), &["Withdrawn"], "撤回"),
    row("AwaitingCorrection", Cmd("withdraw"), &["Withdrawn"], "撤回"),
    row("InApproval", Cmd("withdraw"), &["Withdrawn"], "撤回; open tasks cancelled"),
    row("AwaitingCure", Cmd("withdraw"), &["Withdrawn"], "撤回"),
    row("Suspended", Cmd("withdraw"), &["Withdrawn"], "撤回"),
    row("ReadyForDelivery", Cmd("withdraw"), &["Withdrawn"], "撤回"),
];

/// The task machine (DESIGN §4.1, approval task).
pub const TASK: &[Transition] = &[
    row(
        "Waiting",
        Cascade("predecessors approved, stage open, no blocking cure"),
        &["Ready"],
        "enters the department's queue",
    ),
    row("Waiting", Cascade("a predecessor failed"), &["Cancelled"], "denial cancels only dependents"),
    row("Ready", Cmd("claim"), &["InReview"], "a reviewer of the deciding department"),
    row("InReview", Cmd("approve"), &["Approved", "InReview"], "countersign: every listed department signs"),
    row("InReview", Cmd("deny"), &["Denied"], "with a reason"),
    row("InReview", Cmd("start_special_procedure"), &["SpecialProcedure"], "特别程序: clocks stop"),
    row("SpecialProcedure", Cmd("end_special_procedure"), &["InReview"], "clocks run again"),
    row("InReview", Cmd("approve_simulated"), &["SimulatedApproved"], "模拟审批: only items with a precondition"),
    row(
        "SimulatedApproved",
        Cmd("meet_precondition"),
        &["Approved", "InReview"],
        "unchanged facts convert; changed facts re-review",
    ),
    row("SimulatedApproved", Timer("validity over"), &["Lapsed"], "失效"),
    row("Ready", Timer("SLA warning / overdue"), &["Ready"], "预警, 逾期"),
    row("InReview", Timer("SLA warning / overdue"), &["InReview"], "预警, 逾期"),
];

/// The ticket machine (DESIGN §4.2): 评价 → 反馈 → 整改 → 监督.
pub const TICKET: &[Transition] = &[
    row("Verifying", Cmd("fix_now"), &["Rectifying"], "立行立改: due today"),
    row("Verifying", Cmd("ledger"), &["Rectifying"], "建立台账: deadline ≤ 15 wd"),
    row("Verifying", Cmd("explain"), &["AwaitingSupervision"], "解释说明 with its basis"),
    row("Verifying", Cmd("appeal"), &["AwaitingSupervision"], "申诉: bad ratings only"),
    row("Verifying", Timer("overdue"), &["Verifying"], "督办 L1, 约谈 L2; 问责"),
    row("Rectifying", Cmd("submit_rectification"), &["AwaitingSupervision"], "measures and evidence"),
    row("Rectifying", Timer("overdue"), &["Rectifying"], "督办 L1, 约谈 L2; 问责"),
    row("AwaitingSupervision", Cmd("pass"), &["FeedingBack"], "a supervisor outside the department"),
    row("AwaitingSupervision", Cmd("fail"), &["Rectifying"], "round + 1; 问责"),
    row("AwaitingSupervision", Cmd("uphold_appeal"), &["Closed"], "rating excluded from statistics"),
    row("FeedingBack", Cmd("feed_back"), &["FollowUp"], "回访 due within 5 wd"),
    row("FollowUp", Cmd("follow_up"), &["Closed", "Rectifying"], "satisfied closes; unsatisfied: round + 1"),
];

/// Target states of `command` from `from` in a table, if the row exists.
pub fn targets(table: &[Transition], from: &str, command: &str) -> Option<&'static [&'static str]> {
    table.iter().find(|t| t.from == from && matches!(t.trigger, Trigger::Command(c) if c == command)).map(|t| t.to)
}

/// Renders a table as a Mermaid `stateDiagram-v2`. `initial` gets the start arrow; `finals` get
/// end arrows; the `CaseDecided` cascade goes through a choice node.
pub fn mermaid(table: &[Transition], initial: &[&str], finals: &[&str]) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    for s in initial {
        out.push_str(&format!("    [*] --> {s}\n"));
    }
    let mut choice = false;
    let mut withdraw_from = Vec::new();
    for t in table {
        if t.trigger == Trigger::Command("withdraw") {
            withdraw_from.push(t.from);
            continue;
        }
        if let Trigger::Cascade(c) = t.trigger
            && c.contains("CaseDecided")
        {
            if !choice {
                out.push_str("    state Decided <<choice>>\n");
                choice = true;
            }
            out.push_str(&format!("    {} --> Decided: [every task terminal]\n", t.from));
            for to in t.to {
                out.push_str(&format!("    Decided --> {to}\n"));
            }
            continue;
        }
        for to in t.to {
            if *to == t.from && t.to.len() > 1 {
                continue; // self-loops of guarded rows add noise to the diagram
            }
            out.push_str(&format!("    {} --> {}: {}\n", t.from, to, t.trigger.label()));
        }
    }
    if !withdraw_from.is_empty() {
        debug_assert_eq!(withdraw_from, WITHDRAWABLE);
        out.push_str("    state \"any open state before delivery\" as Open\n    Open --> Withdrawn: withdraw\n");
    }
    for f in finals {
        out.push_str(&format!("    {f} --> [*]\n"));
    }
    out
}
