//! Loading and validation: RON text → [`Definition`] or every [`Diagnostic`] at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use super::raw::*;
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

/// Collects diagnostics and finds best-effort source locations for semantic ones.
struct Sink<'a> {
    origin: &'a str,
    locator: Locator<'a>,
    out: Vec<Diagnostic>,
}

impl Sink<'_> {
    /// Records a problem located at the first `"needle"` after the `section:` key, if any.
    fn at(&mut self, section: &str, needle: &str, path: String, message: String, help: impl Into<String>) {
        let location = self.locator.quoted(section, needle);
        self.out.push(Diagnostic { origin: self.origin.to_owned(), location, path, message, help: help.into() });
    }

    /// Like [`Sink::at`], located at the first unquoted `text` (e.g. `year: 2026`) instead.
    fn at_text(&mut self, section: &str, text: &str, path: String, message: String, help: impl Into<String>) {
        let location = self.locator.text(section, text);
        self.out.push(Diagnostic { origin: self.origin.to_owned(), location, path, message, help: help.into() });
    }
}

/// Bytes per checkpoint of [`Index::chars_before`]: a column is counted over at most this many
/// bytes, however long the line.
const CHAR_CHECKPOINT: usize = 4096;

/// Finds source locations. Each lookup once re-scanned the text from its start (quadratic in the
/// number of diagnostics: 38 s for 30,000 of them in a 5.6 MB file); the [`Index`] is built once,
/// on the first diagnostic, so that each lookup costs a hash probe, a binary search and a bounded
/// scan. Valid definitions never build it.
struct Locator<'a> {
    source: &'a str,
    index: Option<Index<'a>>,
}

struct Index<'a> {
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
    /// `chars_before[k]`: characters in `source[..k * CHAR_CHECKPOINT]` (counted as UTF-8 lead bytes).
    chars_before: Vec<usize>,
    /// For each pair of consecutive `"` in the text, keyed by the text between them: the offsets
    /// of the first quote, ascending. Every occurrence of `"needle"` (for a needle without `"`) is
    /// exactly such a pair, so this finds what `str::find` would, without scanning.
    quoted: HashMap<&'a str, Vec<usize>>,
    /// Offset of each section key already looked up (0 when absent).
    sections: HashMap<String, usize>,
}

impl<'a> Locator<'a> {
    fn new(source: &'a str) -> Self {
        Locator { source, index: None }
    }

    fn index(&mut self) -> &mut Index<'a> {
        let source = self.source;
        self.index.get_or_insert_with(|| {
            let bytes = source.as_bytes();
            let line_starts = std::iter::once(0).chain(memchr_all(bytes, b'\n').map(|i| i + 1)).collect();
            let mut chars_before = Vec::with_capacity(bytes.len() / CHAR_CHECKPOINT + 1);
            let mut count = 0;
            for chunk in bytes.chunks(CHAR_CHECKPOINT) {
                chars_before.push(count);
                count += chunk.iter().filter(|&&b| !is_continuation(b)).count();
            }
            chars_before.push(count);
            let mut quoted: HashMap<&str, Vec<usize>> = HashMap::new();
            let quotes: Vec<usize> = memchr_all(bytes, b'"').collect();
            for pair in quotes.windows(2) {
                // Quotes are ASCII, so both ends are character boundaries.
                quoted.entry(&source[pair[0] + 1..pair[1]]).or_default().push(pair[0]);
            }
            Index { line_starts, chars_before, quoted, sections: HashMap::new() }
        })
    }

    /// The first `"needle"` after the `section:` key (or from the start without one).
    fn quoted(&mut self, section: &str, needle: &str) -> Option<(usize, usize)> {
        let start = self.section_start(section);
        let found = if needle.contains('"') {
            // Not a pair of consecutive quotes: search the text (rare; ids hardly contain quotes).
            self.source[start..].find(&format!("\"{needle}\""))? + start
        } else {
            let offsets = self.index().quoted.get(needle)?;
            *offsets.get(offsets.partition_point(|&o| o < start))?
        };
        Some(self.line_col(found))
    }

    /// The first `text` after the `section:` key (or from the start without one).
    fn text(&mut self, section: &str, text: &str) -> Option<(usize, usize)> {
        let start = self.section_start(section);
        let found = self.source[start..].find(text)? + start;
        Some(self.line_col(found))
    }

    /// The section key as a whole word outside comments, e.g. `fields:` but not `form_fields:`;
    /// 0 if there is none.
    fn section_start(&mut self, section: &str) -> usize {
        let source = self.source;
        if let Some(&start) = self.index().sections.get(section) {
            return start;
        }
        let start = section_key(source, section);
        self.index().sections.insert(section.to_owned(), start);
        start
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn line_col(&mut self, offset: usize) -> (usize, usize) {
        let bytes = self.source.as_bytes();
        let index = self.index();
        let line = index.line_starts.partition_point(|&s| s <= offset);
        let line_start = index.line_starts[line - 1];
        let chars_to = |at: usize| {
            let k = at / CHAR_CHECKPOINT;
            index.chars_before[k] + bytes[k * CHAR_CHECKPOINT..at].iter().filter(|&&b| !is_continuation(b)).count()
        };
        (line, chars_to(offset) - chars_to(line_start) + 1)
    }
}

/// A UTF-8 continuation byte (`10xxxxxx`): not the start of a character.
fn is_continuation(byte: u8) -> bool {
    byte & 0xC0 == 0x80
}

/// Offsets of every `needle` byte in `haystack`.
fn memchr_all(haystack: &[u8], needle: u8) -> impl Iterator<Item = usize> + '_ {
    haystack.iter().enumerate().filter(move |&(_, &b)| b == needle).map(|(i, _)| i)
}

pub(super) fn load(source: &str, origin: &str) -> Result<Definition, Diagnostics> {
    // `implicit_some` lets authors write `shared_source: "…"` as well as `Some("…")`.
    // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the text.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let raw: RawDefinition = match options.from_str(source) {
        Ok(raw) => raw,
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic {
                origin: origin.to_owned(),
                location: Some((e.span.start.line, e.span.start.col)),
                path: String::new(),
                message: format!("RON syntax or shape error: {}", e.code),
                help: "fix the text at this position; docs/definitions.md shows every field".into(),
            }]));
        }
    };
    let mut sink = Sink { origin, locator: Locator::new(source), out: Vec::new() };
    let def = Validator::new(&raw, &mut sink).run();
    match def {
        Some(def) if sink.out.is_empty() => Ok(def),
        _ => {
            assert!(!sink.out.is_empty(), "a refused definition has at least one diagnostic");
            Err(Diagnostics(sink.out))
        }
    }
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
                "departments",
                "",
                "departments".into(),
                "no department has kind Supervision (效能监察)".into(),
                "tickets need an independent supervisor: add e.g. (id: \"supervision\", name: \"效能监察科\", kind: Supervision)",
            );
        }
        let calendar = self.calendar();
        let policies = self.policies();
        let items: Vec<Item> = raw.items.iter().map(|i| self.item(i, &policies)).collect();
        let bundles: Vec<Bundle> = raw.bundles.iter().filter_map(|b| self.bundle(b, &items)).collect();
        let plan = raw.plan.as_ref().map(|p| self.plan(p));
        let (calendar, holiday_notes) = calendar?;
        self.calendar_covers(&calendar, plan.as_ref());
        if !self.sink.out.is_empty() || bundles.len() != raw.bundles.len() {
            return None;
        }
        Some(
            Definition {
                id: Id::new(&raw.id),
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

    fn register<'x>(&mut self, kind: Kind, section: &str, ids: impl Iterator<Item = &'x str>) {
        for (i, id) in ids.enumerate() {
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                self.sink.at(
                    section,
                    id,
                    format!("{section}[{i}].id"),
                    format!("id `{id}` is empty or contains whitespace"),
                    "use a short English id without spaces, e.g. `food-licence`",
                );
            }
            // The first occurrence keeps the id, so later references resolve to it.
            if let std::collections::btree_map::Entry::Vacant(e) = self.by_id.entry((kind, Id::new(id))) {
                e.insert(i as u32);
            } else {
                self.sink.at(
                    section,
                    id,
                    format!("{section}[{id}]"),
                    format!("duplicate id `{id}` in {section}"),
                    "every id in a list must be unique; rename or remove one of them",
                );
            }
        }
    }

    fn resolve(&mut self, kind: Kind, id: &str, path: &str, section: &str) -> Option<u32> {
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
        self.sink.at(
            section,
            id,
            path.to_owned(),
            format!("unknown {what} `{id}`"),
            format!("use one of the defined {what}s: {list}"),
        );
        None
    }

    fn date(&mut self, text: &str, path: String, section: &str) -> Option<Date> {
        match text.parse::<Date>() {
            Ok(d) => Some(d),
            Err(e) => {
                self.sink.at(section, text, path, e.to_string(), "dates are written \"YYYY-MM-DD\"");
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
        let mut years: Vec<i32> = cal.years.iter().map(|y| y.year).collect();
        years.sort_unstable();
        if years.is_empty() {
            self.sink.at(
                "calendar",
                "",
                "calendar.years".into(),
                "the calendar has no years".into(),
                "add the official holiday table of every year the hall works in (see domain-notes §7)",
            );
            return None;
        }
        // Out-of-range years are refused before any date arithmetic on them: the extreme ones
        // would overflow it, and a calendar of millions of years would not fit in memory.
        let mut in_range = true;
        for year in &cal.years {
            if !(MIN_YEAR..=MAX_YEAR).contains(&year.year) {
                in_range = false;
                self.sink.at_text(
                    "calendar",
                    &format!("year: {}", year.year),
                    format!("calendar.years[{}].year", year.year),
                    format!("calendar year {} is outside the supported range {MIN_YEAR}–{MAX_YEAR}", year.year),
                    format!("describe years from {MIN_YEAR} to {MAX_YEAR} only, each with its official holiday table"),
                );
            }
        }
        if !in_range {
            return None;
        }
        for w in years.windows(2) {
            if w[0] == w[1] || w[1] != w[0] + 1 {
                ok = false;
                self.sink.at(
                    "calendar",
                    "",
                    "calendar.years".into(),
                    format!("calendar years must be distinct and contiguous; found {} then {}", w[0], w[1]),
                    "list each year once, with no gap between the first and the last",
                );
            }
        }
        for year in &cal.years {
            for (hi, h) in year.holidays.iter().enumerate() {
                let path = format!("calendar.years[{}].holidays[{hi}]", year.year);
                let (Some(from), Some(to)) =
                    (self.date(&h.from, path.clone(), "calendar"), self.date(&h.to, path.clone(), "calendar"))
                else {
                    ok = false;
                    continue;
                };
                if from > to || from.year() != year.year || to.year() != year.year {
                    ok = false;
                    self.sink.at(
                        "calendar",
                        &h.from,
                        path,
                        format!("holiday {} runs {from}–{to}, which is not inside {}", h.name, year.year),
                        "`from` must not be after `to`, and both must lie in the year being described",
                    );
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
                let path = format!("calendar.years[{}].makeup_workdays[{mi}]", year.year);
                let Some(d) = self.date(text, path.clone(), "calendar") else {
                    ok = false;
                    continue;
                };
                if d.year() != year.year || !d.weekday().is_weekend() || holidays.contains(&d) {
                    ok = false;
                    self.sink.at(
                        "calendar",
                        text,
                        path,
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
            let path = format!("calendar.office_hours[{i}]");
            match (parse_time_of_day(open), parse_time_of_day(close)) {
                (Ok(o), Ok(c)) if o < c && periods.last().is_none_or(|p: &OfficePeriod| p.close <= o) => {
                    periods.push(OfficePeriod { open: o, close: c })
                }
                _ => {
                    ok = false;
                    self.sink.at(
                        "office_hours",
                        open,
                        path,
                        format!("office period (\"{open}\", \"{close}\") is not valid"),
                        "write (\"HH:MM\", \"HH:MM\") with open before close, periods in order and not overlapping",
                    );
                }
            }
        }
        if cal.office_hours.is_empty() {
            ok = false;
            self.sink.at(
                "calendar",
                "",
                "calendar.office_hours".into(),
                "no office hours".into(),
                "add e.g. [(\"09:00\", \"12:00\"), (\"13:30\", \"17:30\")]",
            );
        }
        notes.sort();
        ok.then(|| (Calendar::build(years[0], years[years.len() - 1], &holidays, &makeups, periods), notes))
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
        };
        if !(1..=100).contains(&policies.warning_percent) {
            self.sink.at(
                "policies",
                "",
                "policies.warning_percent".into(),
                format!("warning_percent {} is out of range", policies.warning_percent),
                "use a percentage from 1 to 100 (default 90)",
            );
        }
        if !(1..=5).contains(&policies.default_rating) {
            self.sink.at(
                "policies",
                "",
                "policies.default_rating".into(),
                format!("default_rating {} is not a rating", policies.default_rating),
                "use 1–5 stars (default 4, 满意)",
            );
        }
        policies
    }

    fn item(&mut self, raw: &RawItem, policies: &Policies) -> Item {
        let here = format!("items[{}]", raw.id);
        let decided_by = match &raw.decided_by {
            RawDecider::Department(d) => Decider::Department(DeptIx(
                self.resolve(Kind::Department, d, &format!("{here}.decided_by"), "items").unwrap_or(0),
            )),
            RawDecider::Countersign(ds) => {
                let mut out = Vec::new();
                for (i, d) in ds.iter().enumerate() {
                    if let Some(ix) = self.resolve(Kind::Department, d, &format!("{here}.decided_by[{i}]"), "items") {
                        out.push(DeptIx(ix));
                    }
                }
                let unique: BTreeSet<_> = out.iter().collect();
                if ds.len() < 2 || unique.len() != out.len() {
                    self.sink.at(
                        "items",
                        &raw.id,
                        format!("{here}.decided_by"),
                        "a countersign (会签) needs at least two distinct departments".into(),
                        "list two or more different departments, or use Department(\"…\")",
                    );
                }
                Decider::Countersign(out)
            }
        };
        let supervises =
            |d: &String| self.raw.departments.iter().any(|x| &x.id == d && x.kind == DepartmentKind::Supervision);
        let deciders: Vec<&String> = match &raw.decided_by {
            RawDecider::Department(d) => vec![d],
            RawDecider::Countersign(ds) => ds.iter().collect(),
        };
        if let Some(d) = deciders.into_iter().find(|d| supervises(d)) {
            self.sink.at(
                "items",
                &raw.id,
                format!("{here}.decided_by"),
                format!("`{d}` is the supervision section (效能监察); it supervises and must not decide items"),
                "let a section or agency decide the item",
            );
        }
        if raw.promised_days > raw.statutory_days {
            self.sink.at(
                "items",
                &raw.id,
                format!("{here}.promised_days"),
                format!(
                    "promised limit {} wd exceeds the statutory limit {} wd (承诺时限 > 法定时限)",
                    raw.promised_days, raw.statutory_days
                ),
                format!("set promised_days to at most {}", raw.statutory_days),
            );
        }
        if raw.kind == ItemKind::Immediate && raw.promised_days != 0 {
            self.sink.at(
                "items",
                &raw.id,
                format!("{here}.promised_days"),
                format!(
                    "an Immediate item (即办件) is finished the same day, but promised_days is {}",
                    raw.promised_days
                ),
                "set promised_days: 0, or make the item kind Promised (承诺件)",
            );
        }
        if raw.channels.is_empty() {
            self.sink.at(
                "items",
                &raw.id,
                format!("{here}.channels"),
                "the item has no channel".into(),
                "list at least one of Window, Web, Mobile",
            );
        }
        let mut materials = Vec::new();
        for (i, m) in raw.materials.iter().enumerate() {
            let path = format!("{here}.materials[{i}].material");
            if let Some(ix) = self.resolve(Kind::Material, &m.material, &path, "items") {
                if materials.iter().any(|(x, _)| *x == MaterialIx(ix)) {
                    self.sink.at(
                        "items",
                        &m.material,
                        path,
                        format!("material `{}` is listed twice", m.material),
                        "list each material once with its strictest need",
                    );
                }
                materials.push((MaterialIx(ix), m.need));
            }
        }
        let mut form_fields = Vec::new();
        for (i, f) in raw.form_fields.iter().enumerate() {
            if let Some(ix) = self.resolve(Kind::Field, f, &format!("{here}.form_fields[{i}]"), "items") {
                form_fields.push(FieldIx(ix));
            }
        }
        let simulated_approval = raw.simulated_approval.as_ref().map(|s| {
            if s.precondition.trim().is_empty() {
                self.sink.at(
                    "items",
                    &raw.id,
                    format!("{here}.simulated_approval.precondition"),
                    "a simulated approval (模拟审批) needs a precondition".into(),
                    "name it, e.g. \"land-obtained\" (取得土地)",
                );
            }
            SimulatedApproval {
                precondition: Id::new(&s.precondition),
                validity_days: s.validity_days.unwrap_or(policies.simulated_approval_validity_days),
            }
        });
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
        }
    }

    fn bundle(&mut self, raw: &RawBundle, items: &[Item]) -> Option<Bundle> {
        let here = format!("bundles[{}]", raw.id);
        let lead = self.resolve(Kind::Department, &raw.lead, &format!("{here}.lead"), "bundles");
        if raw.members.is_empty() {
            self.sink.at(
                "bundles",
                &raw.id,
                format!("{here}.members"),
                format!("bundle `{}` has no members", raw.id),
                "list at least one member item; a single item is served as a bundle of one",
            );
            return None;
        }
        if raw.members.len() > 64 {
            self.sink.at(
                "bundles",
                &raw.id,
                format!("{here}.members"),
                format!("bundle `{}` has {} members; a bundle has at most 64", raw.id, raw.members.len()),
                "split it into bundles of related items",
            );
            return None;
        }
        if raw.members.iter().all(|m| m.when.is_some()) {
            self.sink.at(
                "bundles",
                &raw.id,
                format!("{here}.members"),
                format!(
                    "every member of bundle `{}` is conditional (情形), so an application could apply for nothing",
                    raw.id
                ),
                "make at least one member unconditional (no `when`)",
            );
        }
        let mut members = Vec::new();
        let mut ok = lead.is_some();
        for (i, m) in raw.members.iter().enumerate() {
            let path = format!("{here}.members[{i}].item");
            match self.resolve(Kind::Item, &m.item, &path, "bundles") {
                Some(ix) if members.iter().any(|x: &Member| x.item == ItemIx(ix)) => {
                    ok = false;
                    self.sink.at(
                        "bundles",
                        &m.item,
                        path,
                        format!("item `{}` is a member twice", m.item),
                        "list each member item once",
                    );
                }
                Some(ix) => members.push(Member { item: ItemIx(ix), after: Vec::new(), when: None, stage: None }),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let position = |id: &str| raw.members.iter().position(|m| m.item == id);
        // Merged form and materials are needed to check conditions.
        let mut form: Vec<FieldIx> = Vec::new();
        let mut materials: Vec<(MaterialIx, MaterialNeed)> = Vec::new();
        for m in &members {
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
            for (j, a) in m.after.iter().enumerate() {
                match position(a) {
                    Some(p) if p != i => members[i].after.push(p),
                    Some(_) => {
                        ok = false;
                        self.sink.at(
                            "bundles",
                            a,
                            format!("{here}.members[{i}].after[{j}]"),
                            format!("dependency cycle: `{a}` waits for itself"),
                            "remove it from its own `after` list",
                        );
                    }
                    None => {
                        ok = false;
                        self.sink.at(
                            "bundles",
                            a,
                            format!("{here}.members[{i}].after[{j}]"),
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
                let path = format!("{here}.members[{i}].when.field");
                if let Some(f) = self.resolve(Kind::Field, &c.field, &path, "bundles") {
                    let field = &self.raw.fields[f as usize];
                    if !form.contains(&FieldIx(f)) {
                        ok = false;
                        self.sink.at(
                            "bundles",
                            &c.field,
                            path.clone(),
                            format!("condition field `{}` is not on the bundle's merged form", c.field),
                            "add the field to `form_fields` of one of the members so the applicant is asked",
                        );
                    }
                    if !field.choices.is_empty() && !field.choices.contains(&c.equals) {
                        ok = false;
                        self.sink.at(
                            "bundles",
                            &c.equals,
                            format!("{here}.members[{i}].when.equals"),
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
        if !ok {
            return None;
        }
        let limit = JOINT_LIMIT_DAYS + if raw.government_extension { JOINT_EXTENSION_DAYS } else { 0 };
        if raw.promised_days > limit {
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
                "bundles",
                &raw.id,
                format!("{here}.promised_days"),
                format!(
                    "promised limit {} wd exceeds the legal limit of a joint bundle, {limit} wd{} (统一办理、联合办理, \
                     行政许可法 Art. 42 ¶2)",
                    raw.promised_days,
                    if raw.government_extension { " with the government's extension" } else { "" }
                ),
                help,
            );
            return None;
        }
        let topo = self.order(raw, &here, &members, &stages)?;
        let mut bundle = Bundle {
            id: Id::new(&raw.id),
            name: raw.name.clone(),
            lead: DeptIx(lead.expect("checked above")),
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
        let all = vec![true; bundle.members.len()];
        let schedule = plan::schedule(&bundle, items, &all);
        bundle.critical_days = schedule.iter().map(|s| s.1).max().unwrap_or(0);
        if bundle.critical_days > raw.promised_days {
            let path = plan::critical_path(&bundle, &schedule)
                .iter()
                .map(|&p| items[bundle.members[p].item.index()].id.as_str())
                .collect::<Vec<_>>()
                .join(" → ");
            self.sink.at("bundles", &raw.id, format!("{here}.promised_days"),
                format!("the critical path {path} takes {} promised working days, more than the bundle's promised limit of {}",
                    bundle.critical_days, raw.promised_days),
                format!("raise promised_days to at least {}, shorten a member's promised limit, or run members in parallel", bundle.critical_days));
            return None;
        }
        Some(bundle)
    }

    fn stages(&mut self, raw: &RawBundle, here: &str, members: &mut [Member], ok: &mut bool) -> Vec<Stage> {
        let mut stages = Vec::new();
        let mut seen_ids = BTreeSet::new();
        for (si, s) in raw.stages.iter().enumerate() {
            let spath = format!("{here}.stages[{}]", s.id);
            if !seen_ids.insert(s.id.as_str()) {
                *ok = false;
                self.sink.at(
                    "stages",
                    &s.id,
                    spath.clone(),
                    format!("duplicate stage id `{}`", s.id),
                    "give each stage a unique id",
                );
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
                    "stages",
                    &s.id,
                    format!("{spath}.members"),
                    format!("stage `{}` has no members", s.id),
                    "list the bundle members that belong to this stage, or remove the stage",
                );
            }
            for (i, item) in s.members.iter().enumerate() {
                match raw.members.iter().position(|m| &m.item == item) {
                    Some(p) if members[p].stage.is_some() => {
                        *ok = false;
                        self.sink.at(
                            "stages",
                            item,
                            format!("{spath}.members[{i}]"),
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
                            "stages",
                            item,
                            format!("{spath}.members[{i}]"),
                            format!("`{item}` is not a member of bundle `{}`", raw.id),
                            "stages group members of their own bundle",
                        );
                    }
                }
            }
            // Without explicit milestones, every unconditional member of the stage is one.
            let milestones: Vec<&String> = if s.milestones.is_empty() {
                let defaults: Vec<&String> = s
                    .members
                    .iter()
                    .filter(|item| raw.members.iter().any(|m| &m.item == *item && m.when.is_none()))
                    .collect();
                if defaults.is_empty() && !s.members.is_empty() {
                    // A stage without milestones would gate the next one on nothing.
                    *ok = false;
                    self.sink.at(
                        "stages",
                        &s.id,
                        format!("{spath}.milestones"),
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
                s.milestones.iter().collect()
            };
            for (i, item) in milestones.into_iter().enumerate() {
                match raw.members.iter().position(|m| &m.item == item) {
                    Some(p) if stage.members.contains(&p) && raw.members[p].when.is_none() => stage.milestones.push(p),
                    _ => {
                        *ok = false;
                        self.sink.at(
                            "stages",
                            item,
                            format!("{spath}.milestones[{i}]"),
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

    /// Topological order over dependency edges plus stage gates; reports cycles by name.
    fn order(&mut self, raw: &RawBundle, here: &str, members: &[Member], stages: &[Stage]) -> Option<Vec<usize>> {
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
                    self.sink.at(
                        "bundles",
                        names[0],
                        format!("{here}.members"),
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
        for t in &raw.tasks {
            let here = format!("plan.tasks[{}]", t.id);
            if !seen.insert(t.id.as_str()) {
                self.sink.at(
                    "plan",
                    &t.id,
                    here.clone(),
                    format!("duplicate plan task id `{}`", t.id),
                    "give each task a unique id",
                );
            }
            let departments: Vec<DeptIx> = t
                .departments
                .iter()
                .enumerate()
                .filter_map(|(i, d)| {
                    self.resolve(Kind::Department, d, &format!("{here}.departments[{i}]"), "plan").map(DeptIx)
                })
                .collect();
            if t.departments.is_empty() {
                self.sink.at(
                    "plan",
                    &t.id,
                    format!("{here}.departments"),
                    "a plan task needs a responsible department".into(),
                    "list the lead section first",
                );
            }
            let deadline = self.date(&t.deadline, format!("{here}.deadline"), "plan");
            let mut targets = Vec::new();
            for (i, target) in t.targets.iter().enumerate() {
                let tpath = format!("{here}.targets[{i}]");
                let pct = |s: &mut Self, v: u32| {
                    if v > 100 {
                        s.sink.at("plan", &t.id, tpath.clone(), format!("{v} % is not a percentage"), "use 0–100");
                    }
                };
                targets.push(match target {
                    RawTarget::BundlesPerSection { sections, min } => Target::BundlesPerSection {
                        sections: sections
                            .iter()
                            .enumerate()
                            .filter_map(|(j, d)| {
                                self.resolve(Kind::Department, d, &format!("{tpath}.sections[{j}]"), "plan").map(DeptIx)
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
                        match self.date(by, format!("{tpath}.by"), "plan") {
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

    /// The calendar must cover every date the definition names.
    fn calendar_covers(&mut self, calendar: &Calendar, plan: Option<&Plan>) {
        let Some(plan) = plan else { return };
        for t in &plan.tasks {
            let mut dates = vec![(t.deadline, format!("plan.tasks[{}].deadline", t.id))];
            for (i, target) in t.targets.iter().enumerate() {
                if let Target::GreenChannelShare { by, .. } = target {
                    dates.push((*by, format!("plan.tasks[{}].targets[{i}].by", t.id)));
                }
            }
            for (d, path) in dates {
                if let Err(e) = calendar.is_working_day(d) {
                    self.sink.at(
                        "plan",
                        &d.to_string(),
                        path,
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

/// Where the section key (`fields:`) first appears as a whole word outside comments (not in
/// `form_fields:`); 0 if nowhere.
fn section_key(source: &str, section: &str) -> usize {
    let key = format!("{section}:");
    source
        .match_indices(&key)
        .find(|&(i, _)| {
            let line_start = source[..i].rfind('\n').map_or(0, |p| p + 1);
            let before = source[..i].chars().next_back();
            !source[line_start..i].contains("//") && !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original lookups, re-scanning the text each time (the section key by the shared
    /// [`section_key`]): the reference for [`Locator`]'s index.
    fn naive(source: &str, section: &str, needle: &str) -> Option<(usize, usize)> {
        let start = section_key(source, section);
        let found = source[start..].find(needle)? + start;
        let before = &source[..found];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some((line, col))
    }

    #[test]
    fn the_locator_finds_what_a_rescan_finds() {
        let long_line =
            format!("(a: \"x\", {}\"中文\", \"y\")\nitems: [\"y\", \"\", \"x\"] // \"z\"\n", "\"é\", ".repeat(3000));
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
        let county = std::fs::read_to_string(examples).expect("the example exists");
        for source in [long_line.as_str(), county.as_str()] {
            let mut locator = Locator::new(source);
            let mut needles: Vec<&str> = source.split('"').collect();
            needles.extend(["", "no-such-id", "a\"b"]);
            for section in ["items", "bundles", "calendar", "stages", "plan", "nowhere"] {
                for needle in &needles {
                    assert_eq!(
                        locator.quoted(section, needle),
                        naive(source, section, &format!("\"{needle}\"")),
                        "{section} {needle:?}"
                    );
                }
                assert_eq!(locator.text(section, "year: 2026"), naive(source, section, "year: 2026"));
            }
        }
    }
}
