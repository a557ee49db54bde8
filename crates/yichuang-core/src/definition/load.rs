//! Loading and validation: RON text → [`Definition`] or every [`Diagnostic`] at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use super::raw::*;
use super::span::{self, Lines, Spot};
use super::*;
use crate::calendar::{Calendar, MAX_YEAR, MIN_YEAR, OfficePeriod};
use crate::time::parse_time_of_day;

/// One problem found in a definition: where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The source (file path).
    pub origin: String,
    /// Line and column (1-based) when known.
    pub location: Option<(usize, usize)>,
    /// Path of the offending field, e.g. `bundles[open-restaurant].members[2].item`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What would be accepted.
    pub help: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some((line, col)) => write!(f, "{}:{line}:{col}: ", self.origin)?,
            None => write!(f, "{}: ", self.origin)?,
        }
        write!(f, "{}", self.message)?;
        if !self.path.is_empty() {
            write!(f, "\n    at {}", self.path)?;
        }
        if !self.help.is_empty() {
            write!(f, "\n    help: {}", self.help)?;
        }
        Ok(())
    }
}

/// Every problem found in a definition, in file order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        write!(f, "\n{} problem(s) found", self.0.len())
    }
}

/// Collects problems with their paths; places them in the text only at the end, and only if
/// there are any (a valid definition never reads the text twice).
struct Sink<'a> {
    origin: &'a str,
    source: &'a str,
    found: Vec<(Spot, String, String)>,
}

impl Sink<'_> {
    /// Records a problem of the value at `spot`.
    fn at(&mut self, spot: Spot, message: String, help: impl Into<String>) {
        self.found.push((spot, message, help.into()));
    }

    fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Every problem at the line and column of the value its path names (from a span-preserving
    /// reading of the text, [`span::read`]), in file order; problems at one place keep the order
    /// in which they were found.
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        // Text that `ron` accepted but this reader does not (the fuzzer found some) keeps its
        // diagnostics, each with its path and without a line and column: user input never panics.
        let tree = span::read(self.source);
        let lines = Lines::new(self.source);
        let mut out: Vec<Diagnostic> = self
            .found
            .into_iter()
            .map(|(spot, message, help)| Diagnostic {
                origin: self.origin.to_owned(),
                location: tree.as_ref().ok().map(|tree| lines.line_col(tree.offset_of(&spot))),
                path: spot.to_string(),
                message,
                help,
            })
            .collect();
        out.sort_by_key(|d| (d.location.is_none(), d.location));
        out
    }
}

pub(super) fn load(source: &str, origin: &str) -> Result<Definition, Diagnostics> {
    // `implicit_some` lets authors write `shared_source: "…"` as well as `Some("…")`.
    // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the text.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let raw: RawDefinition = match options.from_str(source) {
        Ok(raw) => raw,
        Err(e) => return Err(Diagnostics(vec![syntax_diagnostic(source, origin, &e)])),
    };
    let mut sink = Sink { origin, source, found: Vec::new() };
    let def = Validator::new(&raw, &mut sink).run();
    match def {
        Some(def) if sink.is_empty() => Ok(def),
        _ => {
            assert!(!sink.is_empty(), "a refused definition has at least one diagnostic");
            Err(Diagnostics(sink.into_diagnostics()))
        }
    }
}

/// The one diagnostic of text that `ron` cannot read, placed and worded with the help of
/// [`span::read`]: an unclosed string or comment where it opens (`ron` reports it where the text
/// runs out of sense, often lines later), a number that is not a whole number or is out of range
/// as what the field accepts (`ron` says "Expected comma" after the `1` of `1.5`), and any other
/// error with the path of the value it is in.
fn syntax_diagnostic(source: &str, origin: &str, e: &ron::error::SpannedError) -> Diagnostic {
    let lines = Lines::new(source);
    let ron_at = lines.offset(e.span.start.line, e.span.start.col);
    let diagnostic = |at: usize, path: String, message: String, help: &str| Diagnostic {
        origin: origin.to_owned(),
        location: Some(lines.line_col(at)),
        path,
        message,
        help: help.to_owned(),
    };
    let tree = match span::read(source) {
        Err(span::ReadError::UnclosedString(at)) if at <= ron_at => {
            return diagnostic(
                at,
                String::new(),
                "unclosed string: the string that opens here has no closing `\"`".into(),
                "close it with `\"` on the same line (a quote inside a string is written `\\\"`)",
            );
        }
        Err(span::ReadError::UnclosedComment(at)) if at <= ron_at => {
            return diagnostic(
                at,
                String::new(),
                "unclosed comment: the `/*` that opens here has no `*/`".into(),
                "close it with `*/`, or use `//` comments, which end with the line",
            );
        }
        Err(_) => None,
        Ok(tree) => Some(tree),
    };
    let help = "fix the text at this position; docs/definitions.md shows every field";
    let Some(tree) = tree else {
        return diagnostic(ron_at, String::new(), format!("RON syntax or shape error: {}", e.code), help);
    };
    let (node, path) = tree.innermost(source, ron_at);
    if let Some(number) =
        node.atom(source).filter(|a| a.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+'))
    {
        let integer_error = matches!(e.code, ron::Error::IntegerOutOfBounds | ron::Error::ExpectedInteger);
        let fraction = number.parse::<i128>().is_err() && number.parse::<f64>().is_ok();
        if integer_error || fraction {
            let field = path.rsplit('.').next().unwrap_or_default().to_owned();
            let (range, help) = match field.as_str() {
                "year" => {
                    ("an integer (a year from 1900 to 2999)", "write the year as a whole number, e.g. `year: 2026`")
                }
                "default_rating" => {
                    ("an integer from 1 to 5", "write a whole number of stars, e.g. `default_rating: 4`")
                }
                _ => (
                    "an integer from 0 to 4294967295",
                    "write a whole number without a sign or decimals, e.g. `promised_days: 2`",
                ),
            };
            let what = if fraction { "is not a whole number" } else { "is out of range" };
            return diagnostic(node.start(), path, format!("`{number}` {what}: `{field}` takes {range}"), help);
        }
    }
    diagnostic(ron_at, path, format!("RON syntax or shape error: {}", e.code), help)
}

struct Validator<'r, 's, 'a> {
    raw: &'r RawDefinition,
    sink: &'s mut Sink<'a>,
    by_id: BTreeMap<(Kind, Id), u32>,
}

fn list_ids<'x>(ids: impl Iterator<Item = &'x str>) -> String {
    let ids: Vec<&str> = ids.collect();
    if ids.len() > 12 { format!("{}, … ({} in all)", ids[..12].join(", "), ids.len()) } else { ids.join(", ") }
}

impl<'r, 's, 'a> Validator<'r, 's, 'a> {
    fn new(raw: &'r RawDefinition, sink: &'s mut Sink<'a>) -> Self {
        Validator { raw, sink, by_id: BTreeMap::new() }
    }

    fn run(mut self) -> Option<Definition> {
        let raw = self.raw;
        self.register(Kind::Department, "departments", raw.departments.iter().map(|d| d.id.as_str()));
        self.register(Kind::Window, "windows", raw.windows.iter().map(|w| w.id.as_str()));
        self.register(Kind::Material, "materials", raw.materials.iter().map(|m| m.id.as_str()));
        self.register(Kind::Field, "fields", raw.fields.iter().map(|f| f.id.as_str()));
        self.register(Kind::Item, "items", raw.items.iter().map(|i| i.id.as_str()));
        self.register(Kind::Bundle, "bundles", raw.bundles.iter().map(|b| b.id.as_str()));
        if !raw.departments.iter().any(|d| d.kind == DepartmentKind::Supervision) {
            self.sink.at(
                Spot::at("departments"),
                "no department has kind Supervision (效能监察)".into(),
                "tickets need an independent supervisor: add e.g. (id: \"supervision\", name: \"效能监察科\", kind: Supervision)",
            );
        }
        let calendar = self.calendar();
        let policies = self.policies();
        let items: Vec<Item> = raw.items.iter().enumerate().map(|(i, item)| self.item(i, item, &policies)).collect();
        let bundles: Vec<Bundle> =
            raw.bundles.iter().enumerate().filter_map(|(i, b)| self.bundle(i, b, &items)).collect();
        let plan = raw.plan.as_ref().map(|p| self.plan(p));
        let (calendar, holiday_notes) = calendar?;
        self.calendar_covers(&calendar);
        if !self.sink.is_empty() || bundles.len() != raw.bundles.len() {
            return None;
        }
        Some(
            Definition {
                id: Id::new(&raw.id),
                version: super::version::Version::of_canonical(&super::version::canonical_form(raw)),
                name: raw.name.clone(),
                departments: raw
                    .departments
                    .iter()
                    .map(|d| Department { id: Id::new(&d.id), name: d.name.clone(), kind: d.kind })
                    .collect(),
                windows: raw
                    .windows
                    .iter()
                    .map(|w| Window { id: Id::new(&w.id), name: w.name.clone(), class: w.class })
                    .collect(),
                materials: raw
                    .materials
                    .iter()
                    .map(|m| Material {
                        id: Id::new(&m.id),
                        name: m.name.clone(),
                        shared_source: m.shared_source.clone(),
                    })
                    .collect(),
                fields: raw
                    .fields
                    .iter()
                    .map(|f| Field { id: Id::new(&f.id), label: f.label.clone(), choices: f.choices.clone() })
                    .collect(),
                items,
                bundles,
                calendar,
                holiday_notes,
                policies,
                plan,
                by_id: {
                    let mut maps: [IdMap; 6] = Default::default();
                    for ((kind, id), ix) in self.by_id {
                        maps[kind as usize].insert(id, ix);
                    }
                    maps
                },
                by_ptr: Default::default(),
            }
            .with_pointer_index(),
        )
    }

    fn register<'x>(&mut self, kind: Kind, section: &'static str, ids: impl Iterator<Item = &'x str>) {
        for (i, id) in ids.enumerate() {
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                self.sink.at(
                    Spot::at(section).key(i, id).f("id"),
                    format!("id `{id}` is empty or contains whitespace"),
                    "use a short English id without spaces, e.g. `food-licence`",
                );
            }
            // The first occurrence keeps the id, so later references resolve to it; the
            // duplicate is the one reported.
            if let std::collections::btree_map::Entry::Vacant(e) = self.by_id.entry((kind, Id::new(id))) {
                e.insert(i as u32);
            } else {
                self.sink.at(
                    Spot::at(section).key(i, id).f("id"),
                    format!("duplicate id `{id}` in {section}"),
                    "every id in a list must be unique; rename or remove one of them",
                );
            }
        }
    }

    /// The index of `id`, or a diagnostic at `spot` (built only then) listing what exists.
    fn resolve(&mut self, kind: Kind, id: &str, spot: impl FnOnce() -> Spot) -> Option<u32> {
        if let Some(&ix) = self.by_id.get(&(kind, Id::new(id))) {
            return Some(ix);
        }
        let (what, list): (&str, String) = match kind {
            Kind::Department => ("department", list_ids(self.raw.departments.iter().map(|d| d.id.as_str()))),
            Kind::Window => ("window", list_ids(self.raw.windows.iter().map(|d| d.id.as_str()))),
            Kind::Material => ("material", list_ids(self.raw.materials.iter().map(|d| d.id.as_str()))),
            Kind::Field => ("form field", list_ids(self.raw.fields.iter().map(|d| d.id.as_str()))),
            Kind::Item => ("item", list_ids(self.raw.items.iter().map(|d| d.id.as_str()))),
            Kind::Bundle => ("bundle", list_ids(self.raw.bundles.iter().map(|d| d.id.as_str()))),
        };
        self.sink.at(spot(), format!("unknown {what} `{id}`"), format!("use one of the defined {what}s: {list}"));
        None
    }

    fn date(&mut self, text: &str, spot: impl FnOnce() -> Spot) -> Option<Date> {
        match text.parse::<Date>() {
            Ok(d) => Some(d),
            Err(e) => {
                self.sink.at(spot(), e.to_string(), "dates are written \"YYYY-MM-DD\"");
                None
            }
        }
    }

    fn calendar(&mut self) -> Option<(Calendar, Vec<(Date, String)>)> {
        let cal = &self.raw.calendar;
        let mut ok = true;
        let mut holidays = Vec::new();
        let mut makeups = Vec::new();
        let mut notes = Vec::new();
        let here = Spot::at("calendar");
        let year_spot = |i: usize, year: i32| here.f("years").key(i, year);
        if cal.years.is_empty() {
            self.sink.at(
                here.f("years"),
                "the calendar has no years".into(),
                "add the official holiday table of every year the hall works in (see domain-notes §7)",
            );
            return None;
        }
        // Out-of-range years are refused before any date arithmetic on them: the extreme ones
        // would overflow it, and a calendar of millions of years would not fit in memory.
        let mut in_range = true;
        for (i, year) in cal.years.iter().enumerate() {
            if !(MIN_YEAR..=MAX_YEAR).contains(&year.year) {
                in_range = false;
                self.sink.at(
                    year_spot(i, year.year).f("year"),
                    format!("calendar year {} is outside the supported range {MIN_YEAR}–{MAX_YEAR}", year.year),
                    format!("describe years from {MIN_YEAR} to {MAX_YEAR} only, each with its official holiday table"),
                );
            }
        }
        if !in_range {
            return None;
        }
        // (year, position in the file), sorted by year: a gap or a repeat is reported at the
        // later year of the pair.
        let mut years: Vec<(i32, usize)> = cal.years.iter().enumerate().map(|(i, y)| (y.year, i)).collect();
        years.sort_unstable();
        for w in years.windows(2) {
            if w[0].0 == w[1].0 || w[1].0 != w[0].0 + 1 {
                ok = false;
                let later = if w[0].0 == w[1].0 { w[0].1.max(w[1].1) } else { w[1].1 };
                self.sink.at(
                    year_spot(later, cal.years[later].year).f("year"),
                    format!("calendar years must be distinct and contiguous; found {} then {}", w[0].0, w[1].0),
                    "list each year once, with no gap between the first and the last",
                );
            }
        }
        for (yi, year) in cal.years.iter().enumerate() {
            for (hi, h) in year.holidays.iter().enumerate() {
                let spot = || year_spot(yi, year.year).f("holidays").i(hi);
                let (Some(from), Some(to)) =
                    (self.date(&h.from, || spot().f("from")), self.date(&h.to, || spot().f("to")))
                else {
                    ok = false;
                    continue;
                };
                let mut inside = true;
                for (date, field) in [(from, "from"), (to, "to")] {
                    if date.year() != year.year {
                        inside = false;
                        self.sink.at(
                            spot().f(field),
                            format!(
                                "holiday {} {field} {date} is not in {}, the year being described",
                                h.name, year.year
                            ),
                            format!(
                                "both dates of a holiday lie in {}; a holiday across New Year is written in each year",
                                year.year
                            ),
                        );
                    }
                }
                if from > to {
                    inside = false;
                    self.sink.at(
                        spot().f("from"),
                        format!("holiday {}: `from` {from} is after `to` {to}", h.name),
                        "write the first day of the holiday in `from` and the last in `to` (the same day for one day)",
                    );
                }
                if !inside {
                    ok = false;
                    continue;
                }
                let mut d = from;
                while d <= to {
                    holidays.push(d);
                    notes.push((d, h.name.clone()));
                    d = d.add_days(1);
                }
            }
            for (mi, text) in year.makeup_workdays.iter().enumerate() {
                let spot = || year_spot(yi, year.year).f("makeup_workdays").i(mi);
                let Some(d) = self.date(text, spot) else {
                    ok = false;
                    continue;
                };
                if d.year() != year.year || !d.weekday().is_weekend() || holidays.contains(&d) {
                    ok = false;
                    self.sink.at(
                        spot(),
                        format!("{d} cannot be a make-up working day (调休上班日) of {}", year.year),
                        "a make-up day is a Saturday or Sunday of that year that is not also a holiday",
                    );
                    continue;
                }
                makeups.push(d);
                notes.push((d, "调休上班".to_owned()));
            }
        }
        let mut periods = Vec::new();
        for (i, (open, close)) in cal.office_hours.iter().enumerate() {
            match (parse_time_of_day(open), parse_time_of_day(close)) {
                (Ok(o), Ok(c)) if o < c && periods.last().is_none_or(|p: &OfficePeriod| p.close <= o) => {
                    periods.push(OfficePeriod { open: o, close: c })
                }
                _ => {
                    ok = false;
                    self.sink.at(
                        here.f("office_hours").i(i),
                        format!("office period (\"{open}\", \"{close}\") is not valid"),
                        "write (\"HH:MM\", \"HH:MM\") with open before close, periods in order and not overlapping",
                    );
                }
            }
        }
        if cal.office_hours.is_empty() {
            ok = false;
            self.sink.at(
                here.f("office_hours"),
                "no office hours".into(),
                "add e.g. [(\"09:00\", \"12:00\"), (\"13:30\", \"17:30\")]",
            );
        }
        notes.sort();
        let (first, last) = (years[0].0, years[years.len() - 1].0);
        ok.then(|| (Calendar::build(first, last, &holidays, &makeups, periods), notes))
    }

    fn policies(&mut self) -> Policies {
        let p = &self.raw.policies;
        let d = Policies::DEFAULTS;
        let policies = Policies {
            warning_percent: p.warning_percent.unwrap_or(d.warning_percent),
            correction_notice_days: p.correction_notice_days.unwrap_or(d.correction_notice_days),
            default_rating_days: p.default_rating_days.unwrap_or(d.default_rating_days),
            default_rating: p.default_rating.unwrap_or(d.default_rating),
            cure_grace_days: p.cure_grace_days.unwrap_or(d.cure_grace_days),
            ticket_verify_days: p.ticket_verify_days.unwrap_or(d.ticket_verify_days),
            ticket_rectify_max_days: p.ticket_rectify_max_days.unwrap_or(d.ticket_rectify_max_days),
            ticket_follow_up_days: p.ticket_follow_up_days.unwrap_or(d.ticket_follow_up_days),
            simulated_approval_validity_days: p
                .simulated_approval_validity_days
                .unwrap_or(d.simulated_approval_validity_days),
            supplement_max_days: p.supplement_max_days.unwrap_or(d.supplement_max_days),
            supplement_lapse: p.supplement_lapse.unwrap_or(d.supplement_lapse),
        };
        let here = Spot::at("policies");
        if policies.supplement_max_days == 0 {
            self.sink.at(
                here.f("supplement_max_days"),
                "supplement_max_days is 0: a reviewer could give no deadline for the materials asked".to_owned(),
                "set at least 1 working day (default 15)",
            );
        }
        if !(1..=100).contains(&policies.warning_percent) {
            self.sink.at(
                here.f("warning_percent"),
                format!("warning_percent {} is out of range", policies.warning_percent),
                "use a percentage from 1 to 100 (default 90)",
            );
        }
        if !(1..=5).contains(&policies.default_rating) {
            self.sink.at(
                here.f("default_rating"),
                format!("default_rating {} is not a rating", policies.default_rating),
                "use 1–5 stars (default 4, 满意)",
            );
        }
        policies
    }

    fn item(&mut self, index: usize, raw: &RawItem, policies: &Policies) -> Item {
        let here = Spot::at("items").key(index, &raw.id);
        // Where the `k`th deciding department is written.
        let decider = |k: usize| match &raw.decided_by {
            RawDecider::Department(_) => here.f("decided_by").inner(0),
            RawDecider::Countersign(_) | RawDecider::AnyOf(_) => here.f("decided_by").inner(0).i(k),
            RawDecider::Vote { .. } => here.f("decided_by").f("of").i(k),
        };
        let decided_by = match &raw.decided_by {
            RawDecider::Department(d) => {
                Decider::Department(DeptIx(self.resolve(Kind::Department, d, || decider(0)).unwrap_or(0)))
            }
            RawDecider::Countersign(ds) => {
                let out = self.decider_set(ds, &decider);
                if ds.iter().collect::<BTreeSet<_>>().len() < 2 {
                    self.sink.at(
                        here.f("decided_by"),
                        "a countersign (会签) needs at least two distinct departments".into(),
                        "list two or more different departments, or use Department(\"…\")",
                    );
                }
                Decider::Countersign(out)
            }
            RawDecider::AnyOf(ds) => {
                let out = self.decider_set(ds, &decider);
                if ds.len() < 2 {
                    self.sink.at(
                        here.f("decided_by"),
                        format!("或签 (AnyOf) lists {} department(s); any one of several decides", ds.len()),
                        "list two or more different departments, or use Department(\"…\")",
                    );
                }
                Decider::AnyOf(out)
            }
            RawDecider::Vote { k, of } => {
                let out = self.decider_set(of, &decider);
                if of.len() < 2 {
                    self.sink.at(
                        here.f("decided_by").f("of"),
                        format!("票签 (Vote) lists {} department(s); a vote needs at least two", of.len()),
                        "list two or more different departments in `of`, or use Department(\"…\")",
                    );
                }
                if *k == 0 || *k as usize > of.len() {
                    self.sink.at(
                        here.f("decided_by").f("k"),
                        format!("票签 (Vote) needs k approvals of {} departments, but k is {k}", of.len()),
                        format!("set k between 1 and {} (the number of departments in `of`)", of.len().max(1)),
                    );
                }
                Decider::Vote { k: *k, of: out }
            }
        };
        let supervises =
            |d: &String| self.raw.departments.iter().any(|x| &x.id == d && x.kind == DepartmentKind::Supervision);
        let deciders: Vec<&String> = match &raw.decided_by {
            RawDecider::Department(d) => vec![d],
            RawDecider::Countersign(ds) | RawDecider::AnyOf(ds) | RawDecider::Vote { of: ds, .. } => {
                ds.iter().collect()
            }
        };
        if let Some((k, d)) = deciders.into_iter().enumerate().find(|(_, d)| supervises(d)) {
            self.sink.at(
                decider(k),
                format!("`{d}` is the supervision section (效能监察); it supervises and must not decide items"),
                "let a section or agency decide the item",
            );
        }
        if raw.promised_days > raw.statutory_days {
            self.sink.at(
                here.f("promised_days"),
                format!(
                    "promised limit {} wd exceeds the statutory limit {} wd (承诺时限 > 法定时限)",
                    raw.promised_days, raw.statutory_days
                ),
                format!("set promised_days to at most {}", raw.statutory_days),
            );
        }
        if raw.kind == ItemKind::Immediate && raw.promised_days != 0 {
            self.sink.at(
                here.f("promised_days"),
                format!(
                    "an Immediate item (即办件) is finished the same day, but promised_days is {}",
                    raw.promised_days
                ),
                "set promised_days: 0, or make the item kind Promised (承诺件)",
            );
        }
        if raw.channels.is_empty() {
            self.sink.at(
                here.f("channels"),
                "the item has no channel".into(),
                "list at least one of Window, Web, Mobile",
            );
        }
        let mut materials = Vec::new();
        for (i, m) in raw.materials.iter().enumerate() {
            let spot = || here.f("materials").i(i).f("material");
            if let Some(ix) = self.resolve(Kind::Material, &m.material, spot) {
                if materials.iter().any(|(x, _)| *x == MaterialIx(ix)) {
                    self.sink.at(
                        spot(),
                        format!("material `{}` is listed twice", m.material),
                        "list each material once with its strictest need",
                    );
                }
                materials.push((MaterialIx(ix), m.need));
            }
        }
        let mut form_fields = Vec::new();
        for (i, f) in raw.form_fields.iter().enumerate() {
            if let Some(ix) = self.resolve(Kind::Field, f, || here.f("form_fields").i(i)) {
                form_fields.push(FieldIx(ix));
            }
        }
        let simulated_approval = raw.simulated_approval.as_ref().map(|s| {
            if s.precondition.trim().is_empty() {
                self.sink.at(
                    here.f("simulated_approval").f("precondition"),
                    "a simulated approval (模拟审批) needs a precondition".into(),
                    "name it, e.g. \"land-obtained\" (取得土地)",
                );
            }
            SimulatedApproval {
                precondition: Id::new(&s.precondition),
                validity_days: s.validity_days.unwrap_or(policies.simulated_approval_validity_days),
            }
        });
        let levels = self.levels(raw, &here, &decided_by);
        Item {
            id: Id::new(&raw.id),
            code: raw.code.clone(),
            name: raw.name.clone(),
            decided_by,
            kind: raw.kind,
            statutory_days: raw.statutory_days,
            promised_days: raw.promised_days,
            materials,
            form_fields,
            fee_yuan: raw.fee_yuan,
            result: raw.result.clone(),
            channels: raw.channels.clone(),
            issue_before_cure: raw.issue_before_cure,
            high_frequency: raw.high_frequency,
            green_channel: raw.green_channel,
            simulated_approval,
            levels,
        }
    }

    /// The departments of a countersign, 或签 or 票签 set, each resolved (unknown ones are
    /// reported where they are written) and each listed once (a repeated one is reported at its
    /// second place and left out).
    fn decider_set(&mut self, ids: &[String], spot: &dyn Fn(usize) -> Spot) -> Vec<DeptIx> {
        let mut out: Vec<DeptIx> = Vec::new();
        if ids.len() > 32 {
            self.sink.at(
                spot(32),
                format!("{} deciding departments; a task is signed by at most 32", ids.len()),
                "list at most 32 departments",
            );
        }
        for (i, d) in ids.iter().enumerate().take(32) {
            if ids[..i].contains(d) {
                self.sink.at(
                    spot(i),
                    format!("department `{d}` is listed twice among the deciding departments"),
                    "list each department once",
                );
                continue;
            }
            if let Some(ix) = self.resolve(Kind::Department, d, || spot(i)) {
                out.push(DeptIx(ix));
            }
        }
        out
    }

    /// The review levels of an item: one when it declares none.
    fn levels(&mut self, raw: &RawItem, here: &Spot, decided_by: &Decider) -> Vec<Level> {
        if raw.levels.is_empty() {
            return vec![Level::single()];
        }
        if raw.levels.len() > 1 && !matches!(decided_by, Decider::Department(_)) {
            let how = match decided_by {
                Decider::AnyOf(_) => "decided by any one of several departments (或签)",
                Decider::Vote { .. } => "decided by a vote (票签)",
                _ => "countersigned (会签)",
            };
            self.sink.at(
                here.f("levels"),
                format!("review levels apply to an item decided by one department, but this item is {how}"),
                "remove `levels`, or let one department decide the item",
            );
        }
        if raw.levels.len() > 8 {
            self.sink.at(
                here.f("levels"),
                format!("{} review levels; a task is signed in at most 8", raw.levels.len()),
                "list at most 8 levels (e.g. 承办, 审核, 批准)",
            );
        }
        let mut out = Vec::new();
        for (i, l) in raw.levels.iter().enumerate() {
            if l.name.trim().is_empty() {
                self.sink.at(
                    here.f("levels").i(i).f("name"),
                    "a review level needs a name".into(),
                    "name it, e.g. \"承办\", \"审核\" or \"批准\"",
                );
            }
            if raw.levels[..i].iter().any(|x| x.name == l.name) {
                self.sink.at(
                    here.f("levels").i(i).f("name"),
                    format!("review level `{}` is listed twice", l.name),
                    "give each level its own name",
                );
            }
            if let Some(days) = l.limit_days
                && (days == 0 || days > raw.promised_days)
            {
                self.sink.at(
                    here.f("levels").i(i).f("limit_days"),
                    format!(
                        "level limit {days} wd is not within the item's promised limit of {} wd",
                        raw.promised_days
                    ),
                    format!("set limit_days between 1 and {}, or leave it out", raw.promised_days),
                );
            }
            out.push(Level { name: l.name.clone(), by: l.by, limit_days: l.limit_days });
        }
        out
    }

    /// Checks a bundle and builds it. Every check runs whatever the others found, so that one
    /// unknown member or lead hides none of the bundle's other problems (dependencies,
    /// conditions, stages, the legal limit, the critical path); the bundle is built only if none
    /// failed.
    fn bundle(&mut self, index: usize, raw: &RawBundle, items: &[Item]) -> Option<Bundle> {
        let here = Spot::at("bundles").key(index, &raw.id);
        let lead = self.resolve(Kind::Department, &raw.lead, || here.f("lead"));
        let mut ok = lead.is_some();
        let limit = JOINT_LIMIT_DAYS + if raw.government_extension { JOINT_EXTENSION_DAYS } else { 0 };
        if raw.promised_days > limit {
            ok = false;
            let help = if raw.government_extension {
                format!("set promised_days to at most {limit}: no approval extends the joint limit further")
            } else {
                format!(
                    "set promised_days to at most {JOINT_LIMIT_DAYS}, or, if the county government's head approved the \
                     extension (延长十五日), add `government_extension: true` and keep it at most {}",
                    JOINT_LIMIT_DAYS + JOINT_EXTENSION_DAYS
                )
            };
            self.sink.at(
                here.f("promised_days"),
                format!(
                    "promised limit {} wd exceeds the legal limit of a joint bundle, {limit} wd{} (统一办理、联合办理, \
                     行政许可法 Art. 42 ¶2)",
                    raw.promised_days,
                    if raw.government_extension { " with the government's extension" } else { "" }
                ),
                help,
            );
        }
        if raw.members.is_empty() {
            self.sink.at(
                here.f("members"),
                format!("bundle `{}` has no members", raw.id),
                "list at least one member item; a single item is served as a bundle of one",
            );
            return None;
        }
        if raw.members.len() > 64 {
            // Member sets are 64-bit masks downstream; nothing more is checked of a bigger bundle.
            self.sink.at(
                here.f("members"),
                format!("bundle `{}` has {} members; a bundle has at most 64", raw.id, raw.members.len()),
                "split it into bundles of related items",
            );
            return None;
        }
        if raw.members.iter().all(|m| m.when.is_some()) {
            ok = false;
            self.sink.at(
                here.f("members"),
                format!(
                    "every member of bundle `{}` is conditional (情形), so an application could apply for nothing",
                    raw.id
                ),
                "make at least one member unconditional (no `when`)",
            );
        }
        // One member per written member, in file order, so that positions in `raw.members` are
        // positions here; `known[i]` is false for a member whose item does not exist (its item
        // index is then a placeholder that nothing reads).
        let mut members = Vec::with_capacity(raw.members.len());
        let mut known = Vec::with_capacity(raw.members.len());
        for (i, m) in raw.members.iter().enumerate() {
            let spot = || here.f("members").i(i).f("item");
            let item = self.resolve(Kind::Item, &m.item, spot);
            if item.is_some() && raw.members[..i].iter().any(|x| x.item == m.item) {
                ok = false;
                self.sink.at(spot(), format!("item `{}` is a member twice", m.item), "list each member item once");
            }
            ok &= item.is_some();
            known.push(item.is_some());
            members.push(Member { item: ItemIx(item.unwrap_or(0)), after: Vec::new(), when: None, stage: None });
        }
        let position = |id: &str| raw.members.iter().position(|m| m.item == id);
        // Merged form and materials are needed to check conditions.
        let mut form: Vec<FieldIx> = Vec::new();
        let mut materials: Vec<(MaterialIx, MaterialNeed)> = Vec::new();
        for m in members.iter().zip(&known).filter(|(_, known)| **known).map(|(m, _)| m) {
            let item = &items[m.item.index()];
            for f in &item.form_fields {
                if !form.contains(f) {
                    form.push(*f);
                }
            }
            for &(mat, need) in &item.materials {
                match materials.iter_mut().find(|(x, _)| *x == mat) {
                    Some(entry) => entry.1 = entry.1.max(need),
                    None => materials.push((mat, need)),
                }
            }
        }
        for (i, m) in raw.members.iter().enumerate() {
            let member = here.f("members").i(i);
            for (j, a) in m.after.iter().enumerate() {
                match position(a) {
                    Some(p) if p != i => members[i].after.push(p),
                    Some(_) => {
                        ok = false;
                        self.sink.at(
                            member.f("after").i(j),
                            format!("dependency cycle: `{a}` waits for itself"),
                            "remove it from its own `after` list",
                        );
                    }
                    None => {
                        ok = false;
                        self.sink.at(
                            member.f("after").i(j),
                            format!("`{a}` is not a member of bundle `{}`", raw.id),
                            format!(
                                "`after` names other members of the same bundle: {}",
                                list_ids(raw.members.iter().map(|m| m.item.as_str()))
                            ),
                        );
                    }
                }
            }
            if let Some(c) = &m.when {
                let when = member.f("when");
                if let Some(f) = self.resolve(Kind::Field, &c.field, || when.f("field")) {
                    let field = &self.raw.fields[f as usize];
                    // A member whose item is unknown adds nothing to the form: the field may
                    // well be that item's, so only a form of known members is held against it.
                    if !form.contains(&FieldIx(f)) && known.iter().all(|k| *k) {
                        ok = false;
                        self.sink.at(
                            when.f("field"),
                            format!("condition field `{}` is not on the bundle's merged form", c.field),
                            "add the field to `form_fields` of one of the members so the applicant is asked",
                        );
                    }
                    if !field.choices.is_empty() && !field.choices.contains(&c.equals) {
                        ok = false;
                        self.sink.at(
                            when.f("equals"),
                            format!("`{}` is not an answer of field `{}`", c.equals, c.field),
                            format!("use one of: {}", field.choices.join(", ")),
                        );
                    }
                    members[i].when = Some(Condition { field: FieldIx(f), equals: c.equals.clone() });
                } else {
                    ok = false;
                }
            }
        }
        let stages = self.stages(raw, &here, &mut members, &mut ok);
        let topo = self.order(raw, &here, &members, &stages)?;
        let mut bundle = Bundle {
            id: Id::new(&raw.id),
            name: raw.name.clone(),
            lead: DeptIx(lead.unwrap_or(0)),
            members,
            topo,
            stages,
            promised_days: raw.promised_days,
            government_extension: raw.government_extension,
            high_frequency: raw.high_frequency,
            industrial: raw.industrial,
            form,
            materials,
            critical_days: 0,
        };
        // Members with unknown items count zero days: the path is at least this long.
        let schedule = plan::schedule(&bundle, items, &known);
        bundle.critical_days = schedule.iter().map(|s| s.1).max().unwrap_or(0);
        if bundle.critical_days > raw.promised_days {
            ok = false;
            let path = plan::critical_path(&bundle, &schedule)
                .iter()
                .map(|&p| raw.members[p].item.as_str())
                .collect::<Vec<_>>()
                .join(" → ");
            self.sink.at(
                here.f("promised_days"),
                format!(
                    "the critical path {path} takes {} promised working days, more than the bundle's promised limit \
                     of {}",
                    bundle.critical_days, raw.promised_days
                ),
                format!(
                    "raise promised_days to at least {}, shorten a member's promised limit, or run members in parallel",
                    bundle.critical_days
                ),
            );
        }
        ok.then_some(bundle)
    }

    fn stages(&mut self, raw: &RawBundle, here: &Spot, members: &mut [Member], ok: &mut bool) -> Vec<Stage> {
        let mut stages = Vec::new();
        let mut seen_ids = BTreeSet::new();
        for (si, s) in raw.stages.iter().enumerate() {
            let spath = here.f("stages").key(si, &s.id);
            if !seen_ids.insert(s.id.as_str()) {
                *ok = false;
                self.sink.at(spath.f("id"), format!("duplicate stage id `{}`", s.id), "give each stage a unique id");
            }
            let mut stage = Stage {
                id: Id::new(&s.id),
                name: s.name.clone(),
                members: Vec::new(),
                milestones: Vec::new(),
                rule: s.milestone_rule,
            };
            if s.members.is_empty() {
                // An empty stage would gate the next one on nothing, undoing the stage order.
                *ok = false;
                self.sink.at(
                    spath.f("members"),
                    format!("stage `{}` has no members", s.id),
                    "list the bundle members that belong to this stage, or remove the stage",
                );
            }
            for (i, item) in s.members.iter().enumerate() {
                match raw.members.iter().position(|m| &m.item == item) {
                    Some(p) if members[p].stage.is_some() => {
                        *ok = false;
                        self.sink.at(
                            spath.f("members").i(i),
                            format!("`{item}` is in more than one stage"),
                            "put each member in one stage",
                        );
                    }
                    Some(p) => {
                        members[p].stage = Some(si);
                        stage.members.push(p);
                    }
                    None => {
                        *ok = false;
                        self.sink.at(
                            spath.f("members").i(i),
                            format!("`{item}` is not a member of bundle `{}`", raw.id),
                            "stages group members of their own bundle",
                        );
                    }
                }
            }
            // Without explicit milestones, every unconditional member of the stage is one; each
            // milestone with where it is written (in `milestones`, or in `members` by default).
            let milestones: Vec<(Spot, &String)> = if s.milestones.is_empty() {
                let defaults: Vec<(Spot, &String)> = s
                    .members
                    .iter()
                    .enumerate()
                    .filter(|(_, item)| raw.members.iter().any(|m| &m.item == *item && m.when.is_none()))
                    .map(|(i, item)| (spath.f("members").i(i), item))
                    .collect();
                if defaults.is_empty() && !s.members.is_empty() {
                    // A stage without milestones would gate the next one on nothing.
                    *ok = false;
                    self.sink.at(
                        spath.f("milestones"),
                        format!(
                            "stage `{}` has no milestone (里程碑事项): `milestones` is omitted and every member of \
                             the stage is conditional",
                            s.id
                        ),
                        "name milestones: add an unconditional member to the stage and list it in `milestones`, or \
                         make a member unconditional (a conditional member cannot be a milestone)",
                    );
                }
                defaults
            } else {
                s.milestones.iter().enumerate().map(|(i, item)| (spath.f("milestones").i(i), item)).collect()
            };
            for (spot, item) in milestones {
                match raw.members.iter().position(|m| &m.item == item) {
                    Some(p) if stage.members.contains(&p) && raw.members[p].when.is_none() => stage.milestones.push(p),
                    _ => {
                        *ok = false;
                        self.sink.at(
                            spot,
                            format!("milestone `{item}` is not an unconditional member of stage `{}`", s.id),
                            "milestones (里程碑事项) must be members of their stage that always apply",
                        );
                    }
                }
            }
            stages.push(stage);
        }
        stages
    }

    /// Topological order over dependency edges plus stage gates; reports each cycle by name, at
    /// an `after` entry that closes it (at the bundle's members when only stage gates do).
    fn order(&mut self, raw: &RawBundle, here: &Spot, members: &[Member], stages: &[Stage]) -> Option<Vec<usize>> {
        let mut g: DiGraph<usize, ()> = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..members.len()).map(|i| g.add_node(i)).collect();
        for (i, m) in members.iter().enumerate() {
            for &p in &m.after {
                g.update_edge(nodes[p], nodes[i], ());
            }
        }
        for k in 1..stages.len() {
            for &ms in &stages[k - 1].milestones {
                for &m in &stages[k].members {
                    g.update_edge(nodes[ms], nodes[m], ());
                }
            }
        }
        match toposort(&g, None) {
            Ok(_) => Some(stable_topo(&g)),
            Err(_) => {
                for scc in tarjan_scc(&g).into_iter().filter(|c| c.len() > 1) {
                    let cycle = find_cycle(&g, &scc);
                    let names: Vec<&str> = cycle.iter().map(|&n| raw.members[g[n]].item.as_str()).collect();
                    // The first edge of the cycle written as `after`: member `to` waits for `from`.
                    let spot = cycle
                        .windows(2)
                        .find_map(|w| {
                            let (from, to) = (g[w[0]], g[w[1]]);
                            let j = raw.members[to].after.iter().position(|a| *a == raw.members[from].item)?;
                            Some(here.f("members").i(to).f("after").i(j))
                        })
                        .unwrap_or_else(|| here.f("members"));
                    self.sink.at(
                        spot,
                        format!("dependency cycle in bundle `{}`: {}", raw.id, names.join(" → ")),
                        "remove one of these `after` edges (or a stage ordering) so the members form a DAG",
                    );
                }
                None
            }
        }
    }

    fn plan(&mut self, raw: &RawPlan) -> Plan {
        let mut tasks = Vec::new();
        let mut seen = BTreeSet::new();
        for (ti, t) in raw.tasks.iter().enumerate() {
            let here = Spot::at("plan").f("tasks").key(ti, &t.id);
            if !seen.insert(t.id.as_str()) {
                self.sink.at(here.f("id"), format!("duplicate plan task id `{}`", t.id), "give each task a unique id");
            }
            let departments: Vec<DeptIx> = t
                .departments
                .iter()
                .enumerate()
                .filter_map(|(i, d)| self.resolve(Kind::Department, d, || here.f("departments").i(i)).map(DeptIx))
                .collect();
            if t.departments.is_empty() {
                self.sink.at(
                    here.f("departments"),
                    "a plan task needs a responsible department".into(),
                    "list the lead section first",
                );
            }
            let deadline = self.date(&t.deadline, || here.f("deadline"));
            let mut targets = Vec::new();
            for (i, target) in t.targets.iter().enumerate() {
                let tpath = here.f("targets").i(i);
                let pct = |s: &mut Self, v: u32| {
                    if v > 100 {
                        s.sink.at(tpath.f("min_percent"), format!("{v} % is not a percentage"), "use 0–100");
                    }
                };
                targets.push(match target {
                    RawTarget::BundlesPerSection { sections, min } => Target::BundlesPerSection {
                        sections: sections
                            .iter()
                            .enumerate()
                            .filter_map(|(j, d)| {
                                self.resolve(Kind::Department, d, || tpath.f("sections").i(j)).map(DeptIx)
                            })
                            .collect(),
                        min: *min,
                    },
                    RawTarget::HighFrequencyBundles { min } => Target::HighFrequencyBundles { min: *min },
                    RawTarget::HighFrequencyItemsOnMobile { min_percent } => {
                        pct(self, *min_percent);
                        Target::HighFrequencyItemsOnMobile { min_percent: *min_percent }
                    }
                    RawTarget::GreenChannelShare { min_percent, by } => {
                        pct(self, *min_percent);
                        match self.date(by, || tpath.f("by")) {
                            Some(by) => Target::GreenChannelShare { min_percent: *min_percent, by },
                            None => continue,
                        }
                    }
                    RawTarget::GoodRatingRate { min_percent } => {
                        pct(self, *min_percent);
                        Target::GoodRatingRate { min_percent: *min_percent }
                    }
                    RawTarget::BadRatingRectificationRate { min_percent } => {
                        pct(self, *min_percent);
                        Target::BadRatingRectificationRate { min_percent: *min_percent }
                    }
                });
            }
            if let Some(deadline) = deadline {
                tasks.push(PlanTask {
                    id: Id::new(&t.id),
                    name: t.name.clone(),
                    leader: t.leader.clone(),
                    departments,
                    deadline,
                    targets,
                });
            }
        }
        Plan { title: raw.title.clone(), tasks }
    }

    /// The calendar must cover every date the plan names (dates that do not parse were
    /// reported by [`Validator::plan`]).
    fn calendar_covers(&mut self, calendar: &Calendar) {
        let Some(plan) = &self.raw.plan else { return };
        for (ti, t) in plan.tasks.iter().enumerate() {
            let here = Spot::at("plan").f("tasks").key(ti, &t.id);
            let mut dates = vec![(t.deadline.as_str(), here.f("deadline"))];
            for (i, target) in t.targets.iter().enumerate() {
                if let RawTarget::GreenChannelShare { by, .. } = target {
                    dates.push((by.as_str(), here.f("targets").i(i).f("by")));
                }
            }
            for (text, spot) in dates {
                let Ok(d) = text.parse::<Date>() else { continue };
                if let Err(e) = calendar.is_working_day(d) {
                    self.sink.at(
                        spot,
                        format!("the calendar does not cover a year this definition needs: {e}"),
                        format!("add the holiday table for {} to calendar.years", d.year()),
                    );
                }
            }
        }
    }
}

/// Kahn's algorithm breaking ties by file position, so that plans list parallel members in the
/// order the author wrote them. Only called on an acyclic graph.
fn stable_topo(g: &DiGraph<usize, ()>) -> Vec<usize> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut indegree: Vec<usize> =
        g.node_indices().map(|n| g.neighbors_directed(n, petgraph::Direction::Incoming).count()).collect();
    let mut ready: BinaryHeap<Reverse<usize>> =
        g.node_indices().filter(|n| indegree[n.index()] == 0).map(|n| Reverse(g[n])).collect();
    let mut order = Vec::with_capacity(indegree.len());
    while let Some(Reverse(m)) = ready.pop() {
        order.push(m);
        for next in g.neighbors(NodeIndex::new(m)) {
            indegree[next.index()] -= 1;
            if indegree[next.index()] == 0 {
                ready.push(Reverse(g[next]));
            }
        }
    }
    assert_eq!(order.len(), g.node_count(), "stable_topo is called on a DAG");
    order
}

/// A concrete cycle inside a strongly connected component, closed (first node repeated last).
fn find_cycle(g: &DiGraph<usize, ()>, scc: &[NodeIndex]) -> Vec<NodeIndex> {
    let inside: BTreeSet<NodeIndex> = scc.iter().copied().collect();
    let mut path = vec![scc[0]];
    loop {
        let last = *path.last().expect("path starts non-empty");
        let next = g
            .neighbors(last)
            .filter(|n| inside.contains(n))
            .min()
            .expect("every node of a non-trivial SCC has a successor inside it");
        if let Some(start) = path.iter().position(|&n| n == next) {
            let mut cycle = path.split_off(start);
            cycle.push(next);
            return cycle;
        }
        path.push(next);
    }
}
