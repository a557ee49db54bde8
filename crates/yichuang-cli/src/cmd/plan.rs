//! `yichuang plan FILE --bundle ID --start DATE`: due dates, critical path and the one-time
//! notice of a bundle for given form answers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use yichuang_core::Definition;
use yichuang_core::definition::{Bundle, BundlePlan, MaterialNeed};
use yichuang_core::time::Date;

use crate::cmd::{find_bundle, load_definition};
use crate::failure::Failure;
use crate::text::{Table, weekday_names};

/// Plan a bundle (一件事): due dates, critical path (关键路径) and one-time notice (一次性告知).
///
/// Prints the start and due date of every member item (事项) on the working-day calendar
/// (工作日历), the critical path against the bundle's promised limit (承诺时限), the merged
/// material list with each material's need (必备 / 容缺 / 可选, 免提交 when shared) and the merged
/// form (一表申请).
///
/// Members with a condition (情形) apply only when the form answer matches; give answers with
/// `--answer FIELD=VALUE`. Periods count from the next working day after acceptance (受理).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Definition file (RON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Id of the bundle (一件事) to plan.
    #[arg(long, value_name = "ID")]
    pub bundle: String,
    /// Acceptance date (受理日期), YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub start: Date,
    /// A form answer (表单字段), e.g. `--answer has-sign=yes`; repeat for several fields.
    #[arg(long = "answer", value_name = "FIELD=VALUE", value_parser = parse_answer)]
    pub answers: Vec<(String, String)>,
    /// Output format: `table` (aligned text) or `json` (the plan as one JSON object).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Output format of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned plain text.
    Table,
    /// JSON.
    Json,
}

/// Parses `FIELD=VALUE`.
fn parse_answer(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((field, value)) if !field.trim().is_empty() => Ok((field.trim().to_owned(), value.trim().to_owned())),
        _ => Err(format!("`{text}` is not a form answer; write it as FIELD=VALUE, e.g. has-sign=yes")),
    }
}

/// Runs `plan`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let mut answers = BTreeMap::new();
    for (field, value) in &args.answers {
        if let Some(previous) = answers.insert(field.clone(), value.clone()) {
            return Err(Failure::input(format!(
                "field `{field}` is answered twice (`{previous}` and `{value}`); give each field one --answer"
            )));
        }
    }
    let def = load_definition(&args.file)?;
    let bundle = find_bundle(&def, &args.bundle)?;
    let plan = bundle.plan(&def, args.start, &answers).map_err(|e| Failure::input(e.to_string()))?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &plan)?;
            writeln!(out)?;
        }
        Format::Table => out.write_all(render(&def, bundle, &plan).as_bytes())?,
    }
    Ok(())
}

fn day(date: Date) -> String {
    let (english, _) = weekday_names(date.weekday());
    format!("{date} {}", &english[..3])
}

fn need_text(need: MaterialNeed) -> &'static str {
    match need {
        MaterialNeed::Required => "必备 Required",
        MaterialNeed::Tolerable => "容缺 Tolerable",
        MaterialNeed::Optional => "可选 Optional",
    }
}

/// The plan as aligned text.
fn render(def: &Definition, bundle: &Bundle, plan: &BundlePlan) -> String {
    let mut s = String::new();
    let (english, chinese) = weekday_names(plan.start.weekday());
    let _ = writeln!(s, "一件事 {} ({})", plan.name, plan.bundle);
    let mut header = Table::default();
    header.row(["lead (牵头部门):".to_owned(), plan.lead.clone()]);
    header.row(["accepted (受理):".to_owned(), format!("{} {english} {chinese}", plan.start)]);
    header.row(["office hours (办公时间):".to_owned(), def.calendar().office_hours_text()]);
    s.push_str(&header.render(0));
    if let Some(line) = start_notice(def, plan) {
        s.push_str(&line);
    }
    s.push_str("\nmembers (事项), in order; * = on the critical path:\n");
    s.push_str(&members_table(def, bundle, plan));
    let names: BTreeMap<&str, &str> = plan.members.iter().map(|m| (m.item.as_str(), m.name.as_str())).collect();
    let path: Vec<&str> = plan.critical_path.iter().map(|id| names.get(id.as_str()).copied().unwrap_or(id)).collect();
    let _ = writeln!(s, "\ncritical path (关键路径): {} ({} working days)", path.join(" → "), plan.critical_days);
    let verdict =
        if plan.due <= plan.promised_due { "within the promised limit" } else { "LATER than the promised limit" };
    let _ = writeln!(
        s,
        "due (预计办结): {}; promised limit (承诺时限) {} wd → {}: {verdict}",
        day(plan.due),
        plan.promised_days,
        day(plan.promised_due)
    );
    s.push_str(&notice(plan));
    s
}

/// One line when acceptance falls on a day that is not a working day: the plan counts from it
/// all the same, so day 1 of every period is the next working day.
fn start_notice(def: &Definition, plan: &BundlePlan) -> Option<String> {
    if plan.start_is_working_day {
        return None;
    }
    let why = def
        .holiday_notes()
        .iter()
        .find(|(d, _)| *d == plan.start)
        .map_or_else(String::new, |(_, name)| format!(" ({name})"));
    let first = plan.first_counted_day.map_or_else(|| "beyond the calendar".to_owned(), day);
    Some(format!(
        "notice: {} is not a working day{why}; counting starts on the next working day, {first} (working day 1); \
         members that can start at once are shown starting {}\n",
        day(plan.start),
        plan.start
    ))
}

/// One row per member in topological order.
fn members_table(def: &Definition, bundle: &Bundle, plan: &BundlePlan) -> String {
    // Staged bundles (工改) gate each stage on the previous one; show where each member sits.
    let staged = !bundle.stages.is_empty();
    let mut header = vec!["#", "", "item"];
    if staged {
        header.push("stage");
    }
    header.extend(["departments", "after #", "applies", "condition", "days", "start", "due"]);
    let mut table = Table::new(header);
    // Predecessors are referred to by row number: names would make the column unreadably wide.
    let rows: BTreeMap<&str, usize> =
        plan.members.iter().enumerate().map(|(row, m)| (m.item.as_str(), row + 1)).collect();
    // `BundlePlan::members` follows `Bundle::topo`, so the raw member is at the same step.
    for (row_number, (m, &position)) in plan.members.iter().zip(&bundle.topo).enumerate() {
        let mut after: Vec<usize> = m.after.iter().filter_map(|id| rows.get(id.as_str()).copied()).collect();
        after.sort_unstable();
        let mut row = vec![(row_number + 1).to_string(), if m.critical { "*" } else { "" }.to_owned(), m.name.clone()];
        if staged {
            row.push(m.stage.clone().unwrap_or_else(|| "—".to_owned()));
        }
        row.extend([
            m.departments.join(" + "),
            if after.is_empty() {
                "—".to_owned()
            } else {
                after.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
            },
        ]);
        let condition = m.condition.clone().unwrap_or_else(|| "always".to_owned());
        let days = m.promised_days.to_string();
        if m.applies {
            row.extend(["yes".to_owned(), condition, days, day(m.start), day(m.due)]);
        } else {
            // No dates: the member is not part of this application.
            let hint = bundle.members[position].when.as_ref().map_or_else(
                || "not applicable".to_owned(),
                |c| format!("not applicable (answer {}={} to include)", def.field(c.field).id, c.equals),
            );
            row.extend(["no".to_owned(), condition, days, "—".into(), "—".into(), hint]);
        }
        table.row(row);
    }
    table.render(2)
}

/// The one-time notice (一次性告知): materials with their need, then the merged form.
fn notice(plan: &BundlePlan) -> String {
    let mut s = String::from("\none-time notice (一次性告知): materials (材料)\n");
    if plan.materials.is_empty() {
        s.push_str("  (none)\n");
    } else {
        let mut table = Table::new(["need", "material", "note"]);
        for line in &plan.materials {
            let note = line.shared_source.as_ref().map(|src| format!("免提交 (shared from {src})")).unwrap_or_default();
            table.row([need_text(line.need).to_owned(), line.name.clone(), note]);
        }
        s.push_str(&table.render(2));
    }
    s.push_str("\nform (一表申请):\n");
    if plan.form.is_empty() {
        s.push_str("  (none)\n");
    }
    for label in &plan.form {
        let _ = writeln!(s, "  - {label}");
    }
    s
}
