//! Planning a bundle (办理计划): which members apply for given form answers, when each can start
//! and is due on the calendar, the critical path, and the one-time notice of materials.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Bundle, Definition, Item, MaterialNeed, MilestoneRule};
use crate::calendar::CalendarError;
use crate::time::Date;

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// An answer names a field that is not on the bundle's form.
    #[error("`{field}` is not a field of the form of bundle `{bundle}`; the form has: {accepted}")]
    UnknownField {
        /// The bundle.
        bundle: String,
        /// The field given.
        field: String,
        /// Fields accepted.
        accepted: String,
    },
    /// An answer is not one of the field's choices.
    #[error("`{value}` is not an answer of field `{field}`; use one of: {accepted}")]
    BadAnswer {
        /// The field.
        field: String,
        /// The value given.
        value: String,
        /// Values accepted.
        accepted: String,
    },
    /// The start date or a due date is outside the calendar.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// Earliest start and finish of each member, in working days after acceptance.
pub(crate) fn schedule(bundle: &Bundle, items: &[Item], applies: &[bool]) -> Vec<(u32, u32)> {
    let mut times = vec![(0u32, 0u32); bundle.members.len()];
    for &m in &bundle.topo {
        let member = &bundle.members[m];
        let mut start = member.after.iter().map(|&p| times[p].1).max().unwrap_or(0);
        if let Some(k) = member.stage.filter(|&k| k > 0) {
            let previous = &bundle.stages[k - 1];
            let finishes = previous.milestones.iter().map(|&p| times[p].1);
            let gate = match previous.rule {
                MilestoneRule::All => finishes.max(),
                MilestoneRule::Any => finishes.min(),
            };
            start = start.max(gate.unwrap_or(0));
        }
        let days = if applies[m] { items[member.item.index()].promised_days } else { 0 };
        times[m] = (start, start + days);
    }
    times
}

/// Member positions along one longest path, first to last.
pub(crate) fn critical_path(bundle: &Bundle, times: &[(u32, u32)]) -> Vec<usize> {
    let Some(mut current) = (0..times.len()).max_by_key(|&m| (times[m].1, std::cmp::Reverse(m))) else {
        return Vec::new();
    };
    let mut path = vec![current];
    // Each step moves to a member that finishes strictly earlier or is a zero-length
    // predecessor; the DAG bounds the walk by the member count.
    for _ in 0..times.len() {
        let member = &bundle.members[current];
        let start = times[current].0;
        let mut preds: Vec<usize> = member.after.clone();
        if let Some(k) = member.stage.filter(|&k| k > 0) {
            preds.extend(&bundle.stages[k - 1].milestones);
        }
        match preds.into_iter().filter(|&p| times[p].1 == start).max_by_key(|&p| times[p].1 - times[p].0) {
            Some(p) if start > 0 || times[p].1 > times[p].0 => {
                path.push(p);
                current = p;
            }
            _ => break,
        }
    }
    path.reverse();
    path
}

/// One member in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct MemberPlan {
    /// Position of the member in the bundle's `members` list.
    pub position: usize,
    /// Item id.
    pub item: String,
    /// Item name.
    pub name: String,
    /// Deciding departments (names).
    pub departments: Vec<String>,
    /// Whether it applies for the answers given.
    pub applies: bool,
    /// The condition, as `field = value`, when conditional.
    pub condition: Option<String>,
    /// Items it waits for.
    pub after: Vec<String>,
    /// Promised working days.
    pub promised_days: u32,
    /// Working-day offset at which it can start.
    pub start_offset: u32,
    /// Working-day offset at which it is due.
    pub due_offset: u32,
    /// Earliest date it can start.
    pub start: Date,
    /// Due date.
    pub due: Date,
    /// On the critical path.
    pub critical: bool,
    /// Stage name, when staged.
    pub stage: Option<String>,
}

/// A plan of one bundle for a start date and form answers.
#[derive(Debug, Clone, Serialize)]
pub struct BundlePlan {
    /// Bundle id.
    pub bundle: String,
    /// Bundle name.
    pub name: String,
    /// Lead department name.
    pub lead: String,
    /// Acceptance date the plan counts from.
    pub start: Date,
    /// Whether `start` is a working day. Acceptance on a day that is not (a weekend or holiday) is
    /// planned as given: members that can start at once start on `start`, and day 1 of every
    /// period is `first_counted_day`, exactly as for a working day.
    pub start_is_working_day: bool,
    /// Day 1 of every period: the next working day strictly after `start` (the start day is
    /// never counted, 行政许可法 Art. 82). `None` if that lies beyond the calendar.
    pub first_counted_day: Option<Date>,
    /// Members in topological order.
    pub members: Vec<MemberPlan>,
    /// Critical path (item ids).
    pub critical_path: Vec<String>,
    /// Working days along the critical path.
    pub critical_days: u32,
    /// Expected completion date.
    pub due: Date,
    /// The bundle's promised limit in working days.
    pub promised_days: u32,
    /// The date of the promised limit.
    pub promised_due: Date,
    /// One-time notice (一次性告知): merged materials of the applicable members, strictest need.
    pub materials: Vec<NoticeLine>,
    /// The merged form (field labels).
    pub form: Vec<String>,
}

/// One material in the one-time notice.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeLine {
    /// Material id.
    pub material: String,
    /// Material name.
    pub name: String,
    /// Strictest need among applicable members.
    pub need: MaterialNeed,
    /// Fetched by data sharing (免提交), so the applicant need not bring it.
    pub shared_source: Option<String>,
}

impl Bundle {
    /// Which members apply for the given form answers (情形). A member with a condition applies
    /// only if the answer equals the condition's value.
    pub fn applicable(&self, def: &Definition, answers: &BTreeMap<String, String>) -> Vec<bool> {
        self.members
            .iter()
            .map(|m| match &m.when {
                None => true,
                Some(c) => answers.get(def.field(c.field).id.as_str()) == Some(&c.equals),
            })
            .collect()
    }

    /// [`Bundle::applicable`] as a bit set over member positions (bundles have at most 64
    /// members, which the loader checks).
    pub fn applicable_mask(&self, def: &Definition, answers: &BTreeMap<String, String>) -> u64 {
        self.members.iter().enumerate().fold(0, |mask, (i, m)| {
            let applies = match &m.when {
                None => true,
                Some(c) => answers.get(def.field(c.field).id.as_str()) == Some(&c.equals),
            };
            mask | (u64::from(applies) << i)
        })
    }

    /// Checks form answers against the merged form.
    pub fn check_answers(&self, def: &Definition, answers: &BTreeMap<String, String>) -> Result<(), PlanError> {
        for (key, value) in answers {
            let Some(f) = self.form.iter().map(|&f| def.field(f)).find(|f| f.id == *key.as_str()) else {
                return Err(PlanError::UnknownField {
                    bundle: self.id.to_string(),
                    field: key.clone(),
                    accepted: self.form.iter().map(|&f| def.field(f).id.as_str()).collect::<Vec<_>>().join(", "),
                });
            };
            if !f.choices.is_empty() && !f.choices.contains(value) {
                return Err(PlanError::BadAnswer {
                    field: key.clone(),
                    value: value.clone(),
                    accepted: f.choices.join(", "),
                });
            }
        }
        Ok(())
    }

    /// Merged materials of the applicable members with the strictest need.
    pub fn materials_for(&self, def: &Definition, applies: &[bool]) -> Vec<(super::MaterialIx, MaterialNeed)> {
        let mut out: Vec<(super::MaterialIx, MaterialNeed)> = Vec::new();
        for (m, _) in self.members.iter().zip(applies).filter(|(_, a)| **a) {
            for &(mat, need) in &def.item(m.item).materials {
                match out.iter_mut().find(|(x, _)| *x == mat) {
                    Some(entry) => entry.1 = entry.1.max(need),
                    None => out.push((mat, need)),
                }
            }
        }
        out
    }

    /// Plans the bundle from acceptance on `start` with the given answers.
    pub fn plan(
        &self,
        def: &Definition,
        start: Date,
        answers: &BTreeMap<String, String>,
    ) -> Result<BundlePlan, PlanError> {
        self.check_answers(def, answers)?;
        let cal = def.calendar();
        let applies = self.applicable(def, answers);
        let times = schedule(self, def.items(), &applies);
        let path = critical_path(self, &times);
        let critical_days = times.iter().map(|t| t.1).max().unwrap_or(0);
        let id_of = |p: usize| def.item(self.members[p].item).id.to_string();
        let mut members = Vec::new();
        for &p in &self.topo {
            let m = &self.members[p];
            let item = def.item(m.item);
            members.push(MemberPlan {
                position: p,
                item: item.id.to_string(),
                name: item.name.clone(),
                departments: item.decided_by.departments().iter().map(|&d| def.department(d).name.clone()).collect(),
                applies: applies[p],
                condition: m.when.as_ref().map(|c| format!("{} = {}", def.field(c.field).id, c.equals)),
                after: m.after.iter().map(|&a| id_of(a)).collect(),
                promised_days: item.promised_days,
                start_offset: times[p].0,
                due_offset: times[p].1,
                start: cal.add_working_days(start, times[p].0)?,
                due: cal.add_working_days(start, times[p].1)?,
                critical: applies[p] && path.contains(&p),
                stage: m.stage.map(|s| self.stages[s].name.clone()),
            });
        }
        let materials = self
            .materials_for(def, &applies)
            .into_iter()
            .map(|(mat, need)| {
                let material = def.material(mat);
                NoticeLine {
                    material: material.id.to_string(),
                    name: material.name.clone(),
                    need,
                    shared_source: material.shared_source.clone(),
                }
            })
            .collect();
        Ok(BundlePlan {
            bundle: self.id.to_string(),
            name: self.name.clone(),
            lead: def.department(self.lead).name.clone(),
            start,
            start_is_working_day: cal.is_working_day(start)?,
            first_counted_day: cal.next_working_day(start).ok(),
            members,
            critical_path: path.iter().filter(|&&p| applies[p]).map(|&p| id_of(p)).collect(),
            critical_days,
            due: cal.add_working_days(start, critical_days)?,
            promised_days: self.promised_days,
            promised_due: cal.add_working_days(start, self.promised_days)?,
            materials,
            form: self.form.iter().map(|&f| def.field(f).label.clone()).collect(),
        })
    }
}
