//! The process-mining exports read back: XES and BPMN through a conforming XML parser, OCEL
//! JSON through serde, OCEL SQLite through SQLite, each checked against the log it came from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use yichuang::prelude::*;
use yichuang_export::{Format, Log, UtcOffset};

#[path = "../../../benches/src/driver.rs"]
#[allow(dead_code)]
mod driver;

const COUNTY_HALL: &str = include_str!("../../../examples/definitions/county-hall.ron");

fn county_hall() -> Arc<Definition> {
    Arc::new(Definition::from_ron(COUNTY_HALL, "county-hall.ron").expect("the example is valid"))
}

/// Three cases and their tickets: 我要开饭店 with tobacco driven to a five-star close, 我要办企业
/// driven to its close, and 我要开饭店 without tobacco left untouched after acceptance until
/// every task and the case are overdue (tickets about the case and about the first task).
fn hall_log(def: &Arc<Definition>) -> Vec<Recorded> {
    let mut engine = Engine::new(Arc::clone(def));
    let mut log = Vec::new();
    let mut now: Instant = "2026-03-02T09:30".parse().expect("instant");
    let applicant = Applicant { id: Id::new("91000000MA00000001"), name: "示例餐饮".into(), credit_blocked: false };
    let staff = driver::Staff::new(def, &applicant.id).expect("staff");
    let restaurant = def.bundle_ix("open-restaurant").expect("bundle");
    let business = def.bundle_ix("open-business").expect("bundle");
    let answers = |tobacco: &str| {
        BTreeMap::from([
            ("company-name".to_owned(), "示例餐饮".to_owned()),
            ("food-business-type".to_owned(), "热食类食品制售".to_owned()),
            ("sells-tobacco".to_owned(), tobacco.to_owned()),
        ])
    };
    let open = |engine: &mut Engine, log: &mut Vec<Recorded>, now: Instant, bundle, answers| {
        let submission = driver::complete_submission(def, bundle, applicant.clone(), answers);
        let case = engine
            .open_into(Command::Submit(Box::new(submission)), &Ctx { now, actor: &staff.intake }, log)
            .expect("submitted");
        driver::run(engine, case, &Command::Accept, now, &staff.intake, log).expect("accepted");
        case
    };
    let first = open(&mut engine, &mut log, now, restaurant, answers("是"));
    driver::drive_to_close(&mut engine, first, &mut now, 180, &staff, &mut log).expect("closed");
    let second = open(&mut engine, &mut log, now, business, BTreeMap::from([("company-name".into(), "示例".into())]));
    driver::drive_to_close(&mut engine, second, &mut now, 180, &staff, &mut log).expect("closed");
    open(&mut engine, &mut log, now, restaurant, answers("否"));
    let later = def.calendar().add_working_days(now.date(), 40).expect("in the calendar");
    engine.advance_into(later.start(), &mut log);
    log
}

/// The value of the XES attribute `key` directly under `node`.
fn attr<'a>(node: roxmltree::Node<'a, 'a>, key: &str) -> Option<&'a str> {
    node.children().find(|c| c.is_element() && c.attribute("key") == Some(key)).and_then(|c| c.attribute("value"))
}

fn export(log: &Log<'_>, format: Format) -> String {
    let mut out = Vec::new();
    yichuang_export::write(log, format, UtcOffset::CHINA_STANDARD_TIME, &mut out).expect("written");
    String::from_utf8(out).expect("UTF-8")
}

fn case_streams(records: &[Recorded]) -> Vec<StreamId> {
    let mut seen = Vec::new();
    for r in records {
        if matches!(r.stream, StreamId::Case(_)) && !seen.contains(&r.stream) {
            seen.push(r.stream);
        }
    }
    seen
}

#[test]
fn xes_has_a_trace_per_case_and_an_event_per_case_event() {
    let def = county_hall();
    let records = hall_log(&def);
    let log = Log::new(&def, &records);
    let text = export(&log, Format::Xes);
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "log");
    assert_eq!(root.attribute("xes.version"), Some("1849-2016"));
    let traces: Vec<_> = root.children().filter(|n| n.has_tag_name("trace")).collect();
    let streams = case_streams(&records);
    assert_eq!(traces.len(), streams.len(), "one trace per case");
    for (trace, stream) in traces.iter().zip(&streams) {
        assert_eq!(attr(*trace, "concept:name"), Some(stream.to_string().as_str()));
        let events: Vec<_> = trace.children().filter(|n| n.has_tag_name("event")).collect();
        assert_eq!(events.len(), records.iter().filter(|r| r.stream == *stream).count(), "{stream}");
        for e in &events {
            let time = attr(*e, "time:timestamp").expect("timestamp");
            assert!(time.ends_with(".000+08:00") && time.len() == 29, "{time}");
            assert!(attr(*e, "concept:name").is_some_and(|n| !n.is_empty()));
            let transition = attr(*e, "lifecycle:transition").expect("transition");
            let standard = ["schedule", "start", "complete", "withdraw", "suspend", "resume", "ate_abort", "unknown"];
            assert!(standard.contains(&transition), "{transition}");
            assert!(attr(*e, "org:resource").is_some());
        }
    }
    // The first case: attributes, and the licence approved before the food licence.
    let first = traces[0];
    assert_eq!(attr(first, "bundle"), Some("open-restaurant"));
    assert_eq!(attr(first, "channel"), Some("Window"));
    assert_eq!(attr(first, "outcome"), Some("Approved"));
    assert_eq!(attr(first, "rating"), Some("5"));
    let completes: Vec<&str> = first
        .children()
        .filter(|n| n.has_tag_name("event") && attr(*n, "lifecycle:transition") == Some("complete"))
        .filter_map(|n| attr(n, "item"))
        .collect();
    let at = |item: &str| completes.iter().position(|x| *x == item).expect(item);
    assert!(at("business-licence") < at("food-licence"));
    assert!(completes.contains(&"tobacco-retail"), "the conditional member applied");
    // Groups are departments: the food licence is decided by the market regulator's section.
    let food = first
        .children()
        .find(|n| n.has_tag_name("event") && attr(*n, "item") == Some("food-licence"))
        .expect("food licence event");
    let food_ix = def.item_ix("food-licence").expect("item");
    let dept = def.item(food_ix).decided_by.departments()[0];
    assert_eq!(attr(food, "org:group"), Some(def.department(dept).name.as_str()));
    // The third case is still open: no outcome, no rating.
    assert_eq!(attr(traces[2], "outcome"), None);
    assert_eq!(attr(traces[2], "rating"), None);
}

#[test]
fn the_offset_is_the_one_asked_for() {
    let def = county_hall();
    let records = hall_log(&def);
    let log = Log::new(&def, &records);
    let mut out = Vec::new();
    yichuang_export::write(&log, Format::Csv, "-03:30".parse().expect("offset"), &mut out).expect("written");
    let text = String::from_utf8(out).expect("UTF-8");
    let first_time = text.lines().nth(1).expect("a row").split(',').nth(7).expect("time column");
    assert_eq!(first_time, format!("{}:00-03:30", records[0].at));
}

fn json_export(log: &Log<'_>) -> serde_json::Value {
    serde_json::from_str(&export(log, Format::OcelJson)).expect("JSON")
}

#[test]
fn ocel_objects_and_relations_match_the_log() {
    let def = county_hall();
    let records = hall_log(&def);
    let log = Log::new(&def, &records);
    let doc = json_export(&log);
    let objects = doc["objects"].as_array().expect("objects");
    let count = |kind: &str| objects.iter().filter(|o| o["type"] == kind).count();
    let tasks: usize = records
        .iter()
        .map(|r| match &r.event {
            Event::Accepted { applicable, .. } => applicable.len(),
            _ => 0,
        })
        .sum();
    let tickets: BTreeSet<StreamId> =
        records.iter().filter(|r| matches!(r.stream, StreamId::Ticket(_))).map(|r| r.stream).collect();
    assert_eq!(count("case"), case_streams(&records).len());
    assert_eq!(count("task"), tasks);
    assert_eq!(count("ticket"), tickets.len());
    assert!(!tickets.is_empty(), "overdue work opened tickets");
    assert_eq!(count("applicant"), 1);
    assert_eq!(doc["events"].as_array().expect("events").len(), records.len());

    // Every relation names an object that exists; every event and object type is declared
    // with the attributes its instances carry.
    let ids: BTreeSet<&str> = objects.iter().map(|o| o["id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), objects.len(), "object ids are unique");
    let declared = |key: &str| -> BTreeMap<String, BTreeSet<String>> {
        doc[key]
            .as_array()
            .expect("types")
            .iter()
            .map(|t| {
                let names = t["attributes"].as_array().expect("attributes").iter();
                (
                    t["name"].as_str().expect("name").to_owned(),
                    names.map(|a| a["name"].as_str().expect("n").to_owned()).collect(),
                )
            })
            .collect()
    };
    let (event_types, object_types) = (declared("eventTypes"), declared("objectTypes"));
    for thing in objects.iter().chain(doc["events"].as_array().expect("events")) {
        for r in thing["relationships"].as_array().expect("relationships") {
            assert!(ids.contains(r["objectId"].as_str().expect("objectId")), "{r}");
        }
        let types = if thing.get("time").is_some() { &event_types } else { &object_types };
        let attributes = &types[thing["type"].as_str().expect("type")];
        for a in thing["attributes"].as_array().expect("attributes") {
            assert!(attributes.contains(a["name"].as_str().expect("name")), "{a} of {}", thing["type"]);
        }
    }

    // A ticket about an overdue task is linked to the case and the task it came from.
    let overdue_task = records
        .iter()
        .find_map(|r| match &r.event {
            Event::TicketOpened { source: TicketSource::Overdue { case, item: Some(item) }, .. } => {
                Some((r.stream, *case, item.clone()))
            }
            _ => None,
        })
        .expect("an overdue task opened a ticket");
    let ticket = objects.iter().find(|o| o["id"] == overdue_task.0.to_string()).expect("ticket object");
    let related: BTreeSet<(String, String)> = ticket["relationships"]
        .as_array()
        .expect("relationships")
        .iter()
        .map(|r| (r["objectId"].as_str().expect("id").to_owned(), r["qualifier"].as_str().expect("q").to_owned()))
        .collect();
    assert!(related.contains(&(overdue_task.1.to_string(), "about case".to_owned())), "{related:?}");
    let task = yichuang_export::task_object_id(overdue_task.1, &overdue_task.2);
    assert!(related.contains(&(task, "about task".to_owned())), "{related:?}");
}

#[test]
fn ocel_sqlite_holds_what_the_json_holds_with_its_keys_checked() {
    let def = county_hall();
    let records = hall_log(&def);
    let log = Log::new(&def, &records);
    let doc = json_export(&log);
    let dir = std::env::temp_dir().join(format!("yichuang-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("log.sqlite");
    let _ = std::fs::remove_file(&path);
    yichuang_export::write_file(&log, Format::OcelSqlite, UtcOffset::CHINA_STANDARD_TIME, &path).expect("written");
    let db = rusqlite::Connection::open(&path).expect("opens");
    let scalar = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(scalar("SELECT count(*) FROM event") as usize, records.len());
    assert_eq!(scalar("SELECT count(*) FROM object") as usize, doc["objects"].as_array().expect("o").len());
    for kind in yichuang_export::ocel::OBJECT_TYPES {
        let json = doc["objects"].as_array().expect("o").iter().filter(|o| o["type"] == kind).count();
        let sql = format!("SELECT count(DISTINCT ocel_id) FROM \"object_{kind}\"");
        assert_eq!(scalar(&sql) as usize, json, "{kind}");
    }
    let relations: usize =
        doc["events"].as_array().expect("e").iter().map(|e| e["relationships"].as_array().expect("r").len()).sum();
    assert_eq!(scalar("SELECT count(*) FROM event_object") as usize, relations);
    let dangling: i64 = db.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).expect("check");
    assert_eq!(dangling, 0);
    // A case's rating is an attribute change recorded when it was given.
    let rating: (String, i64) = db
        .query_row(
            "SELECT ocel_time, rating FROM object_case WHERE ocel_changed_field = 'rating' AND ocel_id = 'C000001'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("a rating row");
    assert_eq!(rating.1, 5);
    assert!(rating.0.ends_with("+08:00"));
    // An existing file is refused, not added to.
    assert!(yichuang_export::write_file(&log, Format::OcelSqlite, UtcOffset::UTC, &path).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn csv_has_a_row_per_case_event_under_the_xes_keys() {
    let def = county_hall();
    let records = hall_log(&def);
    let log = Log::new(&def, &records);
    let text = export(&log, Format::Csv);
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], yichuang_export::csv::COLUMNS.join(","));
    let case_events = records.iter().filter(|r| matches!(r.stream, StreamId::Case(_))).count();
    assert_eq!(lines.len() - 1, case_events);
    for line in &lines[1..] {
        // No field of this log holds a comma, so a plain split sees every column.
        assert_eq!(line.split(',').count(), yichuang_export::csv::COLUMNS.len(), "{line}");
    }
}

#[test]
fn exports_are_deterministic() {
    let def = county_hall();
    let records = hall_log(&def);
    let again = hall_log(&def);
    for format in [Format::Xes, Format::OcelJson, Format::Csv] {
        assert_eq!(export(&Log::new(&def, &records), format), export(&Log::new(&def, &again), format));
    }
}

#[test]
fn a_log_from_another_definition_is_described_by_its_ids_without_a_panic() {
    let def = county_hall();
    let records = hall_log(&def);
    let other =
        Definition::from_ron(include_str!("../../../examples/definitions/minimal.ron"), "minimal.ron").expect("valid");
    let log = Log::new(&other, &records);
    let text = export(&log, Format::Xes);
    assert!(text.contains(r#"value="business-licence""#));
    roxmltree::Document::parse(&text).expect("still well-formed");
    assert!(matches!(
        yichuang_export::write(&log, Format::OcelSqlite, UtcOffset::UTC, &mut Vec::new()),
        Err(yichuang_export::ExportError::NeedsFile)
    ));
}
