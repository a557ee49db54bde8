//! `yichuang migrate`, `replay --db` and `audit` on a database holding two definition versions
//! (issue 17): cases submitted under each, the deployments kept in the store as the service
//! keeps them; every version loads, the dry run lists every open case and writes nothing, the
//! apply moves the cases that can move, and the log still replays and audits.

use std::process::Command as Process;
use std::sync::Arc;

use yichuang_core::*;
use yichuang_store::versions::{self, Deployment};
use yichuang_store::{Commit, EncodedEvent, EventLog, EventStore, SqliteStore, StoredEvent};

const COUNTY_HALL: &str = include_str!("../../../examples/definitions/county-hall.ron");

/// 我要开饭店's `business-licence` promised in `days` working days (and the bundle's joint
/// limit with it: its critical path runs through the licence).
fn licence_promise(days: u32) -> String {
    let text = COUNTY_HALL
        .replacen("promised_days: 1, // [U] the county promises 1 wd", &format!("promised_days: {days},"), 1)
        .replacen(
            "// Critical path 1 + 1 = 2 wd. National target ≤ 4 wd [M]; 1-day regimes exist [L].\n            promised_days: 2,",
            &format!("promised_days: {},", days + 1),
            1,
        );
    assert_ne!(text, COUNTY_HALL);
    text
}

fn yichuang(args: &[&str]) -> (i32, String, String) {
    let out = Process::new(env!("CARGO_BIN_EXE_yichuang")).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yichuang-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Submits and accepts a 我要开饭店 case under the engine's active version.
fn restaurant(engine: &mut Engine, log: &mut Vec<Recorded>, now: Instant, applicant: &str) -> CaseId {
    let def = Arc::clone(engine.definition());
    let intake = def.windows().iter().find(|w| w.class == definition::WindowClass::Intake).unwrap().id.clone();
    let clerk = Actor::clerk("c1", &intake);
    let bundle = def.bundle(def.bundle_ix("open-restaurant").unwrap());
    let materials = bundle
        .materials
        .iter()
        .filter(|(m, _)| def.material(*m).shared_source.is_none())
        .map(|(m, _)| def.material(*m).id.clone())
        .collect();
    let submission = Submission {
        bundle: Id::new("open-restaurant"),
        applicant: Applicant { id: Id::new(applicant), name: "张三".into(), credit_blocked: false },
        channel: Channel::Window,
        materials,
        answers: Default::default(),
        green_channel: false,
    };
    let (case, events) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &clerk }).unwrap();
    log.extend(events);
    log.extend(engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk }).unwrap());
    case
}

/// A database as the service leaves it after a restart with a changed file: version 1 (the
/// licence in 1 wd) with one case, version 2 (2 wd) with another, both kept in the store.
fn two_versions(dir: &std::path::Path) -> (std::path::PathBuf, Arc<Definition>, Arc<Definition>) {
    let v1 = Arc::new(Definition::from_ron(COUNTY_HALL, "v1.ron").unwrap());
    let v2_text = licence_promise(2);
    let v2 = Arc::new(Definition::from_ron(&v2_text, "v2.ron").unwrap());
    let db = dir.join("hall.db");
    let mut store = SqliteStore::open(&db).unwrap();
    store.verify(&mut |_| Ok(())).unwrap();
    store.set_meta("definition", v1.id()).unwrap();
    let deployment = |def: &Definition, origin: &str| Deployment {
        version: def.version(),
        origin: origin.into(),
        deployed_at: "2026-03-02T09:00".into(),
        by: "--definition".into(),
    };
    versions::record(&mut store, COUNTY_HALL, deployment(&v1, "v1.ron")).unwrap();
    let now: Instant = "2026-03-02T09:30".parse().unwrap();
    let mut engine = Engine::new(Arc::clone(&v1));
    let mut log = Vec::new();
    restaurant(&mut engine, &mut log, now, "A1");
    versions::record(&mut store, &v2_text, deployment(&v2, "v2.ron")).unwrap();
    engine.deploy(Arc::clone(&v2)).unwrap();
    restaurant(&mut engine, &mut log, now, "A2");
    let events = log
        .into_iter()
        .enumerate()
        .map(|(i, r)| StoredEvent { position: i as u64 + 1, event: EncodedEvent::encode(r) });
    store.append(&[Commit { events: events.collect(), idempotency: None }]).unwrap();
    (db, v1, v2)
}

#[test]
fn a_database_with_two_versions_replays_audits_and_migrates() {
    let dir = temp_dir("migrate");
    let (db, v1, v2) = two_versions(&dir);
    let db = db.to_str().unwrap();
    let v1_file = dir.join("v1.ron");
    std::fs::write(&v1_file, COUNTY_HALL).unwrap();
    let v1_file = v1_file.to_str().unwrap();

    // Every stored version loads: the case on version 2 replays whichever file is given.
    for args in [&["replay", "--definition", v1_file, "--db", db][..], &["audit", "--definition", v1_file, "--db", db]]
    {
        let (code, out, err) = yichuang(args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }

    // Back to version 1 (the shorter promise): the dry run lists both open cases and writes
    // nothing.
    let before = std::fs::read(db).unwrap();
    let (code, out, err) = yichuang(&["migrate", "--db", db, "--to", v1_file, "--dry-run", "--at", "2026-03-02T10:00"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 open case(s)"), "{out}");
    assert!(out.contains(&format!("C000001  already on {}", v1.version())), "{out}");
    assert!(out.contains(&format!("C000002  {} → {}  migrates", v2.version(), v1.version())), "{out}");
    assert!(out.contains("business-licence: limit shortened 2 → 1 wd"), "{out}");
    assert!(out.contains("1 migrate, 0 cannot, 1 already current"), "{out}");
    assert_eq!(std::fs::read(db).unwrap(), before, "a dry run writes nothing");

    let (code, out, err) =
        yichuang(&["migrate", "--db", db, "--to", v1_file, "--apply", "--at", "2026-03-02T10:00", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((report["migrated"].as_u64(), report["events"].as_u64()), (Some(1), Some(1)), "{out}");
    // The log replays and audits with the migrated case, and the store's active version is 1.
    let (code, out, err) = yichuang(&["replay", "--definition", v1_file, "--db", db]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 events replayed") || out.contains("events replayed"), "{out}");
    let store = SqliteStore::open_read_only(db).unwrap();
    let deployed = versions::deployments(&store).unwrap();
    assert_eq!(deployed.last().map(|d| d.version), Some(v1.version()), "{deployed:?}");
    let migrated = store.read_stream(StreamId::Case(CaseId(2))).unwrap();
    assert_eq!(migrated.last().unwrap().event.record().event.name(), "Migrated");

    // Again: nothing left to move.
    let (code, out, err) = yichuang(&["migrate", "--db", db, "--to", v1_file, "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 migrate, 0 cannot, 2 already current"), "{out}");
}

#[test]
fn migrate_refuses_bad_input_with_a_sentence_and_writes_nothing() {
    let dir = temp_dir("migrate-input");
    let (db, _, _) = two_versions(&dir);
    let db = db.to_str().unwrap();
    let v2_file = dir.join("v2.ron");
    std::fs::write(&v2_file, licence_promise(2)).unwrap();
    let v2_file = v2_file.to_str().unwrap();
    let before = std::fs::read(db).unwrap();
    // Neither or both of --dry-run and --apply: a usage error.
    let (code, _, err) = yichuang(&["migrate", "--db", db, "--to", v2_file]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = yichuang(&["migrate", "--db", db, "--to", v2_file, "--dry-run", "--apply"]);
    assert_eq!(code, 2, "{err}");
    // A plan that is not one.
    let plan = dir.join("plan.ron");
    std::fs::write(&plan, "(renames: {\"a\": 1})").unwrap();
    let (code, _, err) =
        yichuang(&["migrate", "--db", db, "--to", v2_file, "--plan", plan.to_str().unwrap(), "--apply"]);
    assert!(code == 2 && err.contains("is not a migration plan") && err.contains("renames"), "{err}");
    // Another hall's definition.
    let other = dir.join("minimal.ron");
    std::fs::write(&other, include_str!("../../../examples/definitions/minimal.ron")).unwrap();
    let (code, _, err) = yichuang(&["migrate", "--db", db, "--to", other.to_str().unwrap(), "--apply"]);
    assert!(code == 2 && err.contains("keeps the definition's id"), "{err}");
    // A missing database is not created.
    let missing = dir.join("missing.db");
    let (code, _, err) = yichuang(&["migrate", "--db", missing.to_str().unwrap(), "--to", v2_file, "--dry-run"]);
    assert!(code == 2 && err.contains("no such file"), "{err}");
    assert!(!missing.exists());
    let (code, _, err) = yichuang(&["migrate", "--db", db, "--to", v2_file, "--apply", "--at", "tomorrow"]);
    assert!(code == 2 && err.contains("--at"), "{err}");
    assert_eq!(std::fs::read(db).unwrap(), before, "a refused migration writes nothing");
}
