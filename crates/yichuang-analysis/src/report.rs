//! The four lists of the rectification plan (四个清单): 责任清单 (who answers for what),
//! 任务清单 (tasks, deadlines, status), 问题清单 (tickets with sources and state) and 效果清单
//! (each target: measured against required, met or not), built from the definition and the
//! engine's state, with Markdown and CSV renderings.

use std::fmt::Write as _;

use serde::Serialize;

use crate::metrics::{Metrics, Ratio};
use yichuang_core::definition::{Channel, Definition, Target};
use yichuang_core::engine::Engine;
use yichuang_core::machine::ticket::{TicketSource, TicketState};
use yichuang_core::time::Instant;

/// 责任清单 row: a plan task, or a department's standing duties.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Responsibility {
    /// What is answered for.
    pub subject: String,
    /// Responsible leader, when named.
    pub leader: Option<String>,
    /// Responsible departments (names).
    pub departments: Vec<String>,
    /// Detail: bundles led, items decided, open tickets.
    pub detail: String,
}

/// 任务清单 row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRow {
    /// Plan task id.
    pub id: String,
    /// Task.
    pub name: String,
    /// Deadline.
    pub deadline: String,
    /// Tracking ticket and its state, if opened.
    pub ticket: Option<String>,
    /// `done`, `in progress`, `overdue`, or `not tracked`.
    pub status: String,
    /// Targets met out of all.
    pub targets_met: String,
}

/// 问题清单 row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemRow {
    /// Ticket number.
    pub ticket: String,
    /// Source kind and reference.
    pub source: String,
    /// Responsible department.
    pub department: String,
    /// State.
    pub state: String,
    /// Rounds.
    pub rounds: u32,
    /// Escalation level.
    pub escalation: u8,
    /// Accountability records.
    pub accountability: usize,
    /// Opened.
    pub opened: String,
    /// Closed.
    pub closed: Option<String>,
}

/// 效果清单 row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectRow {
    /// Plan task the target belongs to.
    pub task: String,
    /// The target in words.
    pub target: String,
    /// Measured value.
    pub measured: String,
    /// Required value.
    pub required: String,
    /// Met?
    pub met: bool,
}

/// The four lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FourLists {
    /// Plan title.
    pub title: String,
    /// As of.
    pub as_of: String,
    /// 责任清单.
    pub responsibility: Vec<Responsibility>,
    /// 任务清单.
    pub tasks: Vec<TaskRow>,
    /// 问题清单.
    pub problems: Vec<ProblemRow>,
    /// 效果清单.
    pub effects: Vec<EffectRow>,
    /// The metrics the effects were measured from.
    pub metrics: Metrics,
}

fn pct(r: Ratio) -> String {
    match r.percent() {
        Some(p) => format!("{p:.1} % ({}/{})", r.count, r.of),
        None => "n/a (nothing to measure yet)".to_owned(),
    }
}

/// Evaluates one target: (description, measured, required, met).
pub fn evaluate(def: &Definition, engine: &Engine, target: &Target) -> (String, String, String, bool) {
    let at_least = |r: Ratio, min: u32| r.percent().is_some_and(|p| p + 1e-9 >= f64::from(min));
    match target {
        Target::BundlesPerSection { sections, min } => {
            let counts: Vec<(String, usize)> = sections
                .iter()
                .map(|&s| (def.department(s).name.clone(), def.bundles().iter().filter(|b| b.lead == s).count()))
                .collect();
            let met = counts.iter().all(|(_, n)| *n >= *min as usize);
            let measured = counts.iter().map(|(name, n)| format!("{name} {n}")).collect::<Vec<_>>().join(", ");
            ("一件事 published per section (各科室一件事数)".into(), measured, format!("≥ {min} each"), met)
        }
        Target::HighFrequencyBundles { min } => {
            let n = def.bundles().iter().filter(|b| b.high_frequency).count();
            ("high-frequency 一件事 (高频一件事)".into(), n.to_string(), format!("≥ {min}"), n >= *min as usize)
        }
        Target::HighFrequencyItemsOnMobile { min_percent } => {
            let hf: Vec<_> = def.items().iter().filter(|i| i.high_frequency).collect();
            let r = Ratio {
                count: hf.iter().filter(|i| i.channels.contains(&Channel::Mobile)).count() as u64,
                of: hf.len() as u64,
            };
            (
                "high-frequency items on mobile (高频事项掌上办)".into(),
                pct(r),
                format!("≥ {min_percent} %"),
                at_least(r, *min_percent),
            )
        }
        Target::GreenChannelShare { min_percent, by } => {
            let r = Metrics::measure_until(engine, Some(*by)).green_channel;
            (
                format!("industrial projects through the green channel by {by} (工业项目绿色通道占比)"),
                pct(r),
                format!("≥ {min_percent} %"),
                at_least(r, *min_percent),
            )
        }
        Target::GoodRatingRate { min_percent } => {
            let r = Metrics::measure(engine).good_rate;
            ("好评率".into(), pct(r), format!("≥ {min_percent} %"), at_least(r, *min_percent))
        }
        Target::BadRatingRectificationRate { min_percent } => {
            let r = Metrics::measure(engine).bad_rating_rectification;
            // With no bad rating there is nothing left unrectified.
            let met = r.of == 0 || at_least(r, *min_percent);
            ("差评整改率".into(), pct(r), format!("≥ {min_percent} %"), met)
        }
    }
}

impl FourLists {
    /// Builds the four lists as of `now`.
    pub fn build(engine: &Engine, now: Instant) -> FourLists {
        let def = engine.definition();
        let metrics = Metrics::measure(engine);
        let mut responsibility = Vec::new();
        let mut tasks = Vec::new();
        let mut effects = Vec::new();
        let title = def.plan().map_or_else(|| "(no plan in the definition)".to_owned(), |p| p.title.clone());
        for task in def.plan().map(|p| p.tasks.as_slice()).unwrap_or_default() {
            let names: Vec<String> = task.departments.iter().map(|&d| def.department(d).name.clone()).collect();
            responsibility.push(Responsibility {
                subject: format!("{} ({})", task.name, task.id),
                leader: Some(task.leader.clone()),
                departments: names,
                detail: format!("due {}", task.deadline),
            });
            let ticket = engine
                .tickets()
                .iter()
                .find(|t| matches!(&t.source(), TicketSource::Inspection { plan_task: Some(p), .. } if *p == task.id));
            let results: Vec<_> = task.targets.iter().map(|t| evaluate(def, engine, t)).collect();
            let met = results.iter().filter(|r| r.3).count();
            let status = match ticket {
                None => "not tracked",
                Some(t) if t.state() == TicketState::Closed => "done",
                Some(_) if now.date() > task.deadline => "overdue",
                Some(_) => "in progress",
            };
            tasks.push(TaskRow {
                id: task.id.to_string(),
                name: task.name.clone(),
                deadline: task.deadline.to_string(),
                ticket: ticket.map(|t| format!("{} {}", t.id(), t.state().name())),
                status: status.to_owned(),
                targets_met: format!("{met}/{}", results.len()),
            });
            for (target, measured, required, met) in results {
                effects.push(EffectRow { task: task.id.to_string(), target, measured, required, met });
            }
        }
        for (i, d) in def.departments().iter().enumerate() {
            let led = def.bundles().iter().filter(|b| b.lead.index() == i).count();
            let decided =
                def.items().iter().filter(|it| it.decided_by.departments().iter().any(|x| x.index() == i)).count();
            let open =
                engine.tickets().iter().filter(|t| *t.department() == d.id && t.state() != TicketState::Closed).count();
            let urged: u64 = engine
                .cases()
                .flat_map(|c| c.tasks())
                .filter(|t| def.item(t.item()).decided_by.departments()[0].index() == i)
                .map(|t| u64::from(t.urged()))
                .sum();
            if led + decided + open > 0 {
                let urged = if urged > 0 { format!(", urged {urged} times (催办)") } else { String::new() };
                responsibility.push(Responsibility {
                    subject: d.name.clone(),
                    leader: None,
                    departments: vec![d.name.clone()],
                    detail: format!("leads {led} 一件事, decides {decided} items, {open} open tickets{urged}"),
                });
            }
        }
        let problems = engine
            .tickets()
            .iter()
            .map(|t| ProblemRow {
                ticket: t.id().to_string(),
                source: match &t.source() {
                    TicketSource::BadRating { case, stars } => format!("差评 {stars}★ on {case}"),
                    TicketSource::Complaint { case, text, .. } => {
                        format!("吐槽找茬{}: {text}", case.map(|c| format!(" on {c}")).unwrap_or_default())
                    }
                    TicketSource::Overdue { case, item } => match item {
                        Some(i) => format!("督办: {i} of {case} overdue"),
                        None => format!("督办: {case} overdue"),
                    },
                    TicketSource::Inspection { finding, plan_task } => match plan_task {
                        Some(p) => format!("整改任务 {p}: {finding}"),
                        None => format!("巡察反馈: {finding}"),
                    },
                },
                department: def
                    .department_ix(t.department())
                    .map_or(t.department().to_string(), |d| def.department(d).name.clone()),
                state: t.state().name().to_owned(),
                rounds: t.rounds(),
                escalation: t.escalation(),
                accountability: t.accountability().len(),
                opened: t.opened_at().to_string(),
                closed: t.closed_at().map(|c| c.to_string()),
            })
            .collect();
        FourLists { title, as_of: now.to_string(), responsibility, tasks, problems, effects, metrics }
    }

    /// Markdown rendering.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# {}\n\nAs of {}.\n\n## 责任清单 (responsibilities)\n\n| subject | leader | departments | detail |\n|---|---|---|---|\n",
            self.title, self.as_of
        );
        for r in &self.responsibility {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.subject,
                r.leader.as_deref().unwrap_or("—"),
                r.departments.join("、"),
                r.detail
            );
        }
        out.push_str("\n## 任务清单 (tasks)\n\n| id | task | deadline | ticket | status | targets met |\n|---|---|---|---|---|---|\n");
        for t in &self.tasks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                t.id,
                t.name,
                t.deadline,
                t.ticket.as_deref().unwrap_or("—"),
                t.status,
                t.targets_met
            );
        }
        out.push_str("\n## 问题清单 (problems)\n\n| ticket | source | department | state | rounds | escalation | 问责 | opened | closed |\n|---|---|---|---|---|---|---|---|---|\n");
        for p in &self.problems {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                p.ticket,
                p.source.replace('|', "/"),
                p.department,
                p.state,
                p.rounds,
                p.escalation,
                p.accountability,
                p.opened,
                p.closed.as_deref().unwrap_or("—")
            );
        }
        out.push_str(
            "\n## 效果清单 (effects)\n\n| task | target | measured | required | met |\n|---|---|---|---|---|\n",
        );
        for e in &self.effects {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                e.task,
                e.target,
                e.measured,
                e.required,
                if e.met { "✔ met" } else { "✘ not met" }
            );
        }
        let m = &self.metrics;
        let _ = write!(
            out,
            "\n## KPIs\n\n- 好评率 {}; 差评率 {}; 差评整改率 {}\n- tickets closed {}; closed on time {}; mean rounds {}\n- cases {}; delivered {}; on time {}; trips per case {}; 最多跑一次 {}; green channel {}\n",
            pct(m.good_rate),
            pct(m.bad_rate),
            pct(m.bad_rating_rectification),
            pct(m.tickets_closed),
            pct(m.ticket_on_time_closure),
            m.mean_rounds.map_or("n/a".into(), |r| format!("{r:.2}")),
            m.cases,
            m.delivered,
            pct(m.on_time),
            m.trips_per_case.map_or("n/a".into(), |r| format!("{r:.2}")),
            pct(m.at_most_one_trip),
            pct(m.green_channel),
        );
        out
    }

    /// CSV rendering: one table with a `list` column naming the list.
    pub fn to_csv(&self) -> String {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut out = String::from("list,c1,c2,c3,c4,c5,c6\n");
        for r in &self.responsibility {
            let _ = writeln!(
                out,
                "responsibility,{},{},{},{},,",
                q(&r.subject),
                q(r.leader.as_deref().unwrap_or("")),
                q(&r.departments.join("、")),
                q(&r.detail)
            );
        }
        for t in &self.tasks {
            let _ = writeln!(
                out,
                "task,{},{},{},{},{},{}",
                q(&t.id),
                q(&t.name),
                q(&t.deadline),
                q(t.ticket.as_deref().unwrap_or("")),
                q(&t.status),
                q(&t.targets_met)
            );
        }
        for p in &self.problems {
            let _ = writeln!(
                out,
                "problem,{},{},{},{},{},{}",
                q(&p.ticket),
                q(&p.source),
                q(&p.department),
                q(&p.state),
                p.rounds,
                p.escalation
            );
        }
        for e in &self.effects {
            let _ = writeln!(
                out,
                "effect,{},{},{},{},{},",
                q(&e.task),
                q(&e.target),
                q(&e.measured),
                q(&e.required),
                e.met
            );
        }
        out
    }
}
