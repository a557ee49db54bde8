//! OCEL 2.0 (object-centric event logs), as JSON and as SQLite.
//!
//! Objects of five types: `case` (办件), `task` (one per applicable member item of a case),
//! `ticket` (问题), `department` (部门) and `applicant` (申请人). Every event is related to the
//! objects it concerns, with a qualifier; objects are related to each other (a task is part of
//! its case and decided by its departments; a ticket is about the case and the task it came
//! from and is answered by its responsible department). The mapping tables are in
//! `docs/exports.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value as Json, json};
use yichuang_core::{Event, Instant, StreamId};

use crate::model::{Log, UtcOffset, Value, task_object_id};

/// The object types, in the order they are written.
pub const OBJECT_TYPES: [&str; 5] = ["case", "task", "ticket", "department", "applicant"];

/// One object with its attribute values over time and its relations to other objects.
#[derive(Debug, Clone)]
pub struct Object {
    /// Unique id: `C000001`, `C000001/food-licence`, `T000001`, `department:market-access`,
    /// `applicant:91000000MA00000001`.
    pub id: String,
    /// One of [`OBJECT_TYPES`].
    pub kind: &'static str,
    /// When the object first appears in the log.
    pub created: Instant,
    /// Attribute name, value and since when it holds.
    pub attributes: Vec<(&'static str, Value, Instant)>,
    /// Related object id and qualifier.
    pub relationships: Vec<(String, &'static str)>,
}

/// One event with its attributes and the objects it concerns.
#[derive(Debug, Clone)]
pub struct OcelEvent {
    /// Unique id: the stream and position, `C000001:3`.
    pub id: String,
    /// The event type: the event's name in the log (`Submitted`, `TaskApproved` …).
    pub kind: &'static str,
    /// When it happened.
    pub time: Instant,
    /// Attribute name and value.
    pub attributes: Vec<(&'static str, Value)>,
    /// Related object id and qualifier.
    pub relationships: Vec<(String, &'static str)>,
}

/// A log as OCEL 2.0 objects and events.
#[derive(Debug, Clone, Default)]
pub struct Ocel {
    /// Objects, grouped by type in the order of [`OBJECT_TYPES`].
    pub objects: Vec<Object>,
    /// Events in the order of the log.
    pub events: Vec<OcelEvent>,
}

fn department_object(id: &str) -> String {
    format!("department:{id}")
}

fn applicant_object(id: &str) -> String {
    format!("applicant:{id}")
}

impl Ocel {
    /// Builds the objects and events of `log`.
    pub fn new(log: &Log<'_>) -> Ocel {
        let def = log.definition();
        let mut cases = Vec::new();
        let mut tasks = Vec::new();
        let mut tickets = Vec::new();
        // Departments and applicants are created when first referenced.
        let mut departments: BTreeMap<String, Instant> = BTreeMap::new();
        let mut applicants: BTreeMap<String, Instant> = BTreeMap::new();
        let mut task_ids: BTreeSet<String> = BTreeSet::new();
        let refer = |map: &mut BTreeMap<String, Instant>, id: String, at: Instant| {
            map.entry(id.clone()).or_insert(at);
            id
        };

        for case in log.cases() {
            let mut o = Object {
                id: case.id.to_string(),
                kind: "case",
                created: case.opened,
                attributes: Vec::new(),
                relationships: Vec::new(),
            };
            if let Some(bundle) = case.bundle {
                o.attributes.push(("bundle", Value::Text(bundle.to_string()), case.opened));
                o.attributes.push(("bundle_name", Value::Text(log.bundle_name(bundle)), case.opened));
                if let Some(b) = def.bundle_ix(bundle) {
                    let lead = &def.department(def.bundle(b).lead).id;
                    let d = refer(&mut departments, department_object(lead), case.opened);
                    o.relationships.push((d, "lead department"));
                }
            }
            if let Some(channel) = case.channel {
                o.attributes.push(("channel", Value::Text(crate::model::variant(&channel)), case.opened));
            }
            if let Some((outcome, at)) = case.outcome {
                o.attributes.push(("outcome", Value::Text(crate::model::variant(&outcome)), at));
            }
            if let Some((stars, at)) = case.rating {
                o.attributes.push(("rating", Value::Int(i64::from(stars)), at));
            }
            if let Some(applicant) = case.applicant {
                let a = refer(&mut applicants, applicant_object(&applicant.id), case.opened);
                o.relationships.push((a, "applicant"));
            }
            for &(item, at) in &case.tasks {
                let id = case.task_id(item);
                task_ids.insert(id.clone());
                let mut t = Object {
                    id,
                    kind: "task",
                    created: at,
                    attributes: vec![
                        ("item", Value::Text(item.to_string()), at),
                        ("name", Value::Text(log.item_name(item)), at),
                    ],
                    relationships: vec![(case.id.to_string(), "part of case")],
                };
                for d in log.deciders(item) {
                    let d = refer(&mut departments, department_object(d), at);
                    t.relationships.push((d, "decided by"));
                }
                tasks.push(t);
            }
            cases.push(o);
        }

        for ticket in log.tickets() {
            let mut o = Object {
                id: ticket.id.to_string(),
                kind: "ticket",
                created: ticket.opened,
                attributes: vec![("source", Value::Text(ticket.source.kind().to_owned()), ticket.opened)],
                relationships: Vec::new(),
            };
            if let Some(case) = ticket.case().filter(|c| log.cases().iter().any(|x| x.id == *c)) {
                o.relationships.push((case.to_string(), "about case"));
                if let Some(task) =
                    ticket.item().map(|item| task_object_id(case, item)).filter(|t| task_ids.contains(t))
                {
                    o.relationships.push((task, "about task"));
                }
            }
            let d = refer(&mut departments, department_object(ticket.department), ticket.opened);
            o.relationships.push((d, "responsible department"));
            tickets.push(o);
        }

        let mut events = Vec::with_capacity(log.events().len());
        for (view, ticket_k) in log.events().iter().zip(ticket_positions(log)) {
            let record = view.record;
            let mut e = OcelEvent {
                id: view.id.clone(),
                kind: view.event_name(),
                time: record.at,
                attributes: vec![
                    ("activity", Value::Text(view.activity.clone())),
                    ("lifecycle", Value::Text(view.lifecycle.as_str().to_owned())),
                    ("resource", Value::Text(view.resource().to_owned())),
                    ("role", Value::Text(view.role().to_owned())),
                ],
                relationships: Vec::new(),
            };
            e.attributes.extend(view.attributes.iter().cloned());
            match record.stream {
                StreamId::Case(case) => {
                    e.relationships.push((case.to_string(), "case"));
                    if let Some(item) = view.item {
                        let task = task_object_id(case, item);
                        if task_ids.contains(&task) {
                            e.relationships.push((task, "task"));
                        }
                    }
                    match &record.event {
                        Event::Submitted { applicant, .. } | Event::Consulted { applicant, .. } => {
                            let a = refer(&mut applicants, applicant_object(&applicant.id), record.at);
                            e.relationships.push((a, "applicant"));
                        }
                        Event::Accepted { applicable, .. } => {
                            for task in applicable.iter().map(|item| task_object_id(case, item)) {
                                if task_ids.contains(&task) {
                                    e.relationships.push((task, "creates task"));
                                }
                            }
                        }
                        _ => {}
                    }
                }
                StreamId::Ticket(_) => {
                    if let Some(k) = ticket_k {
                        let ticket = &tickets[k];
                        e.relationships.push((ticket.id.clone(), "ticket"));
                        if matches!(record.event, Event::TicketOpened { .. }) {
                            for (target, qualifier) in &ticket.relationships {
                                if *qualifier != "responsible department" {
                                    e.relationships.push((target.clone(), *qualifier));
                                }
                            }
                        }
                    }
                }
            }
            if let Some(d) = view.department {
                let qualifier =
                    if matches!(record.stream, StreamId::Ticket(_)) { "responsible department" } else { "department" };
                e.relationships.push((refer(&mut departments, department_object(d), record.at), qualifier));
            }
            events.push(e);
        }

        let mut objects = cases;
        objects.extend(tasks);
        objects.extend(tickets);
        for (id, at) in departments {
            let plain = &id["department:".len()..];
            let mut attributes = vec![("name", Value::Text(log.department_name(&plain.into())), at)];
            if let Some(d) = def.department_ix(plain) {
                attributes.push(("kind", Value::Text(crate::model::variant(&def.department(d).kind)), at));
            }
            objects.push(Object { id, kind: "department", created: at, attributes, relationships: Vec::new() });
        }
        for (id, at) in applicants {
            objects.push(Object {
                id,
                kind: "applicant",
                created: at,
                attributes: Vec::new(),
                relationships: Vec::new(),
            });
        }
        Ocel { objects, events }
    }

    /// Attribute names and OCEL types of each object type, for the type declarations.
    pub fn object_types(&self) -> BTreeMap<&'static str, BTreeMap<&'static str, &'static str>> {
        let mut types: BTreeMap<&str, BTreeMap<&str, &str>> =
            OBJECT_TYPES.iter().map(|t| (*t, BTreeMap::new())).collect();
        for o in &self.objects {
            let entry = types.entry(o.kind).or_default();
            for (name, value, _) in &o.attributes {
                entry.insert(name, value.ocel_type());
            }
        }
        types
    }

    /// Attribute names and OCEL types of each event type present.
    pub fn event_types(&self) -> BTreeMap<&'static str, BTreeMap<&'static str, &'static str>> {
        let mut types: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        for e in &self.events {
            let entry = types.entry(e.kind).or_default();
            for (name, value) in &e.attributes {
                entry.insert(name, value.ocel_type());
            }
        }
        types
    }

    /// The OCEL 2.0 JSON document.
    pub fn to_json(&self, offset: UtcOffset) -> Json {
        let declare = |types: BTreeMap<&str, BTreeMap<&str, &str>>| -> Vec<Json> {
            types
                .into_iter()
                .map(|(name, attributes)| {
                    let attributes: Vec<Json> =
                        attributes.into_iter().map(|(n, t)| json!({"name": n, "type": t})).collect();
                    json!({"name": name, "attributes": attributes})
                })
                .collect()
        };
        let value = |v: &Value| match v {
            Value::Text(s) => Json::from(s.as_str()),
            Value::Int(n) => Json::from(*n),
            Value::Bool(b) => Json::from(*b),
            Value::Time(t) => Json::from(offset.format(*t, false)),
        };
        let relationships = |rels: &[(String, &str)]| -> Vec<Json> {
            rels.iter().map(|(id, q)| json!({"objectId": id, "qualifier": q})).collect()
        };
        let objects: Vec<Json> = self
            .objects
            .iter()
            .map(|o| {
                let attributes: Vec<Json> = o
                    .attributes
                    .iter()
                    .map(|(n, v, at)| json!({"name": n, "time": offset.format(*at, false), "value": value(v)}))
                    .collect();
                json!({"id": o.id, "type": o.kind, "attributes": attributes, "relationships": relationships(&o.relationships)})
            })
            .collect();
        let events: Vec<Json> = self
            .events
            .iter()
            .map(|e| {
                let attributes: Vec<Json> =
                    e.attributes.iter().map(|(n, v)| json!({"name": n, "value": value(v)})).collect();
                json!({
                    "id": e.id,
                    "type": e.kind,
                    "time": offset.format(e.time, false),
                    "attributes": attributes,
                    "relationships": relationships(&e.relationships),
                })
            })
            .collect();
        json!({
            "objectTypes": declare(self.object_types()),
            "eventTypes": declare(self.event_types()),
            "objects": objects,
            "events": events,
        })
    }

    /// Writes the OCEL 2.0 JSON document.
    pub fn write_json(&self, offset: UtcOffset, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *out, &self.to_json(offset)).map_err(io::Error::other)?;
        writeln!(out)
    }

    /// Writes the OCEL 2.0 SQLite database to `path`, which must not exist yet.
    pub fn write_sqlite(&self, offset: UtcOffset, path: &Path) -> Result<(), rusqlite::Error> {
        let mut db = rusqlite::Connection::open(path)?;
        // The relations are checked as they are written: a dangling one is a bug, not a file.
        db.pragma_update(None, "foreign_keys", true)?;
        let tx = db.transaction()?;
        tx.execute_batch(
            "CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT NOT NULL);
             CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT NOT NULL);
             CREATE TABLE event (ocel_id TEXT PRIMARY KEY, ocel_type TEXT REFERENCES event_map_type (ocel_type));
             CREATE TABLE object (ocel_id TEXT PRIMARY KEY, ocel_type TEXT REFERENCES object_map_type (ocel_type));
             CREATE TABLE event_object (
                 ocel_event_id TEXT REFERENCES event (ocel_id),
                 ocel_object_id TEXT REFERENCES object (ocel_id),
                 ocel_qualifier TEXT,
                 PRIMARY KEY (ocel_event_id, ocel_object_id, ocel_qualifier));
             CREATE TABLE object_object (
                 ocel_source_id TEXT REFERENCES object (ocel_id),
                 ocel_target_id TEXT REFERENCES object (ocel_id),
                 ocel_qualifier TEXT,
                 PRIMARY KEY (ocel_source_id, ocel_target_id, ocel_qualifier));",
        )?;
        let sql_type = |t: &str| match t {
            "integer" | "boolean" => "INTEGER",
            "time" => "TIMESTAMP",
            _ => "TEXT",
        };
        let bind = |v: &Value| -> rusqlite::types::Value {
            match v {
                Value::Text(s) => s.clone().into(),
                Value::Int(n) => (*n).into(),
                Value::Bool(b) => i64::from(*b).into(),
                Value::Time(t) => offset.format(*t, false).into(),
            }
        };
        for (kind, attributes) in self.event_types() {
            tx.execute("INSERT INTO event_map_type VALUES (?1, ?1)", [kind])?;
            let columns: String =
                attributes.iter().map(|(n, t)| format!(", \"{n}\" {}", sql_type(t))).collect::<Vec<_>>().concat();
            tx.execute_batch(&format!(
                "CREATE TABLE \"event_{kind}\" (ocel_id TEXT PRIMARY KEY REFERENCES event (ocel_id), ocel_time TIMESTAMP{columns});"
            ))?;
        }
        for (kind, attributes) in self.object_types() {
            tx.execute("INSERT INTO object_map_type VALUES (?1, ?1)", [kind])?;
            let columns: String =
                attributes.iter().map(|(n, t)| format!(", \"{n}\" {}", sql_type(t))).collect::<Vec<_>>().concat();
            tx.execute_batch(&format!(
                "CREATE TABLE \"object_{kind}\" (ocel_id TEXT REFERENCES object (ocel_id), ocel_time TIMESTAMP, ocel_changed_field TEXT{columns});"
            ))?;
        }
        for o in &self.objects {
            tx.execute("INSERT INTO object VALUES (?1, ?2)", [&o.id, o.kind])?;
            // The first row holds the values known when the object appeared; each later value is
            // a row of its own naming the changed field (OCEL 2.0's object attribute history).
            let (initial, changes): (Vec<_>, Vec<_>) = o.attributes.iter().partition(|(_, _, at)| *at == o.created);
            let names: String = initial.iter().map(|(n, _, _)| format!(", \"{n}\"")).collect::<Vec<_>>().concat();
            let marks: String = (0..initial.len()).map(|i| format!(", ?{}", i + 3)).collect::<Vec<_>>().concat();
            let mut values: Vec<rusqlite::types::Value> =
                vec![o.id.clone().into(), offset.format(o.created, false).into()];
            values.extend(initial.iter().map(|(_, v, _)| bind(v)));
            tx.execute(
                &format!("INSERT INTO \"object_{}\" (ocel_id, ocel_time{names}) VALUES (?1, ?2{marks})", o.kind),
                rusqlite::params_from_iter(values),
            )?;
            for (name, value, at) in changes {
                tx.execute(
                    &format!(
                        "INSERT INTO \"object_{}\" (ocel_id, ocel_time, ocel_changed_field, \"{name}\") VALUES (?1, ?2, ?3, ?4)",
                        o.kind
                    ),
                    rusqlite::params![o.id, offset.format(*at, false), name, bind(value)],
                )?;
            }
        }
        // Relations last: every object they name exists by now (SQLite checks the foreign keys).
        for o in &self.objects {
            for (target, qualifier) in &o.relationships {
                tx.execute(
                    "INSERT OR IGNORE INTO object_object VALUES (?1, ?2, ?3)",
                    rusqlite::params![o.id, target, qualifier],
                )?;
            }
        }
        for e in &self.events {
            tx.execute("INSERT INTO event VALUES (?1, ?2)", [&e.id, e.kind])?;
            let names: String = e.attributes.iter().map(|(n, _)| format!(", \"{n}\"")).collect::<Vec<_>>().concat();
            let marks: String = (0..e.attributes.len()).map(|i| format!(", ?{}", i + 3)).collect::<Vec<_>>().concat();
            let mut values: Vec<rusqlite::types::Value> =
                vec![e.id.clone().into(), offset.format(e.time, false).into()];
            values.extend(e.attributes.iter().map(|(_, v)| bind(v)));
            tx.execute(
                &format!("INSERT INTO \"event_{}\" (ocel_id, ocel_time{names}) VALUES (?1, ?2{marks})", e.kind),
                rusqlite::params_from_iter(values),
            )?;
            let mut seen = BTreeSet::new();
            for (object, qualifier) in &e.relationships {
                if seen.insert((object, qualifier)) {
                    tx.execute(
                        "INSERT INTO event_object VALUES (?1, ?2, ?3)",
                        rusqlite::params![e.id, object, qualifier],
                    )?;
                }
            }
        }
        tx.commit()
    }
}

/// For each event of the log, the position of its ticket in [`Log::tickets`] (for ticket events).
fn ticket_positions(log: &Log<'_>) -> Vec<Option<usize>> {
    let mut out = vec![None; log.events().len()];
    for (k, ticket) in log.tickets().iter().enumerate() {
        for &e in &ticket.events {
            out[e] = Some(k);
        }
    }
    out
}
