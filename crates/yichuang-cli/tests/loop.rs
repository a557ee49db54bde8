//! `yichuang replay` and `yichuang report` on a log written through the engine's API.

use std::process::Command as Process;
use std::sync::Arc;

use yichuang_core::*;

const DEFINITION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");

/// A log with the plan tracked, one 我要开饭店 case rated badly, and its ticket in progress.
fn write_log(dir: &std::path::Path) -> (std::path::PathBuf, Vec<String>) {
    let def = Arc::new(Definition::from_ron(&std::fs::read_to_string(DEFINITION).unwrap(), DEFINITION).unwrap());
    let mut engine = Engine::new(def.clone());
    let mut log = Vec::new();
    let now: Instant = "2026-03-02T09:30".parse().unwrap();
    let leader = Actor::leader("director");
    log.extend(engine.open_plan_tickets(&Ctx { now, actor: &leader }).unwrap());
    let intake = def.windows().iter().find(|w| w.class == definition::WindowClass::Intake).unwrap().id.clone();
    let delivery = def.windows().iter().find(|w| w.class == definition::WindowClass::Delivery).unwrap().id.clone();
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
        applicant: Applicant { id: Id::new("A1"), name: "张三".into(), credit_blocked: false },
        channel: Channel::Window,
        materials,
        answers: Default::default(),
        green_channel: false,
    };
    let (case, events) = engine.open(Command::Submit(Box::new(submission)), &Ctx { now, actor: &clerk }).unwrap();
    log.extend(events);
    log.extend(engine.execute(case, Command::Accept, &Ctx { now, actor: &clerk }).unwrap());
    for _ in 0..10 {
        let ready: Vec<_> =
            engine.case(case).unwrap().tasks().iter().filter(|t| t.state() == TaskState::Ready).cloned().collect();
        for task in ready {
            for &d in def.item(task.item()).decided_by.approving() {
                // Each review level by another person (受审分离).
                let level = engine.case(case).unwrap().task(task.item_id()).unwrap().level();
                let reviewer = Actor::reviewer(&format!("r{level}"), def.department(d).id.as_str());
                let ctx = Ctx { now, actor: &reviewer };
                if engine.case(case).unwrap().task(task.item_id()).unwrap().state() == TaskState::Ready {
                    log.extend(
                        engine
                            .execute(
                                case,
                                Command::Task { item: task.item_id().clone(), action: TaskCommand::Claim },
                                &ctx,
                            )
                            .unwrap(),
                    );
                }
                log.extend(
                    engine
                        .execute(
                            case,
                            Command::Task { item: task.item_id().clone(), action: TaskCommand::Approve },
                            &ctx,
                        )
                        .unwrap(),
                );
            }
        }
    }
    let desk = Actor::clerk("c2", &delivery);
    log.extend(
        engine.execute(case, Command::Deliver { method: DeliveryMethod::Window }, &Ctx { now, actor: &desk }).unwrap(),
    );
    let applicant = Actor::applicant("A1");
    log.extend(engine.execute(case, Command::Rate { stars: 1 }, &Ctx { now, actor: &applicant }).unwrap());
    let lines: Vec<String> = log.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    let path = dir.join("events.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, lines)
}

fn yichuang(args: &[&str]) -> (i32, String, String) {
    let out = Process::new(env!("CARGO_BIN_EXE_yichuang")).args(args).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yichuang-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn replay_verifies_a_clean_log_and_names_the_first_bad_event() {
    let dir = temp_dir("replay");
    let (path, lines) = write_log(&dir);
    let log = path.to_str().unwrap();
    let (code, out, err) = yichuang(&["replay", "--definition", DEFINITION, "--log", log]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("ok: {} events replayed", lines.len())), "{out}");
    assert!(out.contains("Closed") && out.contains("tickets: 5"), "{out}");
    // Swap two events of the case: the first out-of-order one is named by its line.
    let mut swapped = lines.clone();
    let first_case = lines.iter().position(|l| l.contains("\"C000001\"")).unwrap();
    swapped.swap(first_case + 1, first_case + 2);
    let bad = dir.join("swapped.jsonl");
    std::fs::write(&bad, swapped.join("\n")).unwrap();
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--log", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("line {}", first_case + 2)), "{err}");
    // A line that is not an event at all.
    let mut garbled = lines.clone();
    garbled[3] = "{\"v\":1,\"stream\":".to_owned();
    std::fs::write(&bad, garbled.join("\n")).unwrap();
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--log", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("line 4"), "{err}");
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--log", "/nonexistent/log.jsonl"]);
    assert_eq!(code, 2, "{err}");
}

/// A log can replay and still break an invariant: an approval recorded by an intake clerk is a
/// legal event where it stands (the fold does not judge actors), but 受审分离 forbids it. The
/// audit names the invariant and the event.
#[test]
fn replay_audits_the_invariants_on_a_log_that_replays() {
    let dir = temp_dir("audit");
    let (path, lines) = write_log(&dir);
    let (code, out, err) = yichuang(&["replay", "--definition", DEFINITION, "--log", path.to_str().unwrap()]);
    assert!(code == 0 && out.contains("invariants 1–7"), "{err}");
    let mut forged: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let approval = forged.iter().position(|v| v["event"]["TaskApproved"].is_object()).expect("the log approves a task");
    let accepted = forged.iter().position(|v| v["event"]["Accepted"].is_object()).expect("the log accepts a case");
    // The intake clerk who accepted the case, recorded as the approver.
    forged[approval]["by"] = forged[accepted]["by"].clone();
    let text: Vec<String> = forged.iter().map(|v| v.to_string()).collect();
    let bad = dir.join("forged.jsonl");
    std::fs::write(&bad, text.join("\n")).unwrap();
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--log", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invariant 7") && err.contains(&format!("at event {}", approval + 1)), "{err}");
}

#[test]
fn report_prints_the_four_lists_in_three_formats() {
    let dir = temp_dir("report");
    let (path, _) = write_log(&dir);
    let log = path.to_str().unwrap();
    let (code, md, err) = yichuang(&["report", "--definition", DEFINITION, "--log", log]);
    assert_eq!(code, 0, "{err}");
    for heading in ["责任清单", "任务清单", "问题清单", "效果清单", "差评 1★ on C000001"] {
        assert!(md.contains(heading), "{heading} missing from\n{md}");
    }
    let (code, json, _) = yichuang(&["report", "--definition", DEFINITION, "--log", log, "--format", "json"]);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["metrics"]["bad_rate"]["count"], 1);
    assert_eq!(value["tasks"].as_array().unwrap().len(), 4);
    assert!(value["effects"].as_array().unwrap().iter().all(|e| e["met"].is_boolean()));
    let (code, csv, _) = yichuang(&["report", "--definition", DEFINITION, "--log", log, "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(csv.lines().any(|l| l.starts_with("problem,")) && csv.lines().any(|l| l.starts_with("effect,")));
    let (code, _, err) = yichuang(&["report", "--definition", DEFINITION, "--log", log, "--at", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("YYYY-MM-DDTHH:MM"), "{err}");
}

/// The log of [`write_log`] as the service would have stored it, in `dir/name`.
fn write_db(dir: &std::path::Path, name: &str, lines: &[String], definition: &str) -> std::path::PathBuf {
    use yichuang_store::{Commit, EncodedEvent, EventStore, SqliteStore, StoredEvent};
    let db = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut store = SqliteStore::open(&db).unwrap();
    store.verify(&mut |_| Ok(())).unwrap();
    store.set_meta("definition", definition).unwrap();
    let events = lines
        .iter()
        .enumerate()
        .map(|(i, l)| StoredEvent {
            position: i as u64 + 1,
            event: EncodedEvent::encode(serde_json::from_str(l).unwrap()),
        })
        .collect();
    store.append(&[Commit { events, idempotency: None }]).unwrap();
    db
}

/// An auditor's copy of the service's database gives what the log gives, is read without a
/// byte changing, and is refused, naming why, when damaged, missing, not a database, or written
/// under another definition.
#[test]
fn replay_and_report_read_the_services_database_without_changing_it() {
    let dir = temp_dir("db");
    let (path, lines) = write_log(&dir);
    let log = path.to_str().unwrap();
    let db = write_db(&dir, "hall.db", &lines, "county-hall");
    let db_text = db.to_str().unwrap();
    let before = std::fs::read(&db).unwrap();
    for args in [vec!["replay", "--format", "json"], vec!["report"], vec!["report", "--format", "csv"]] {
        let (code, from_log, err) = yichuang(&[&args[..], &["--definition", DEFINITION, "--log", log]].concat());
        assert_eq!(code, 0, "{err}");
        let (code, from_db, err) = yichuang(&[&args[..], &["--definition", DEFINITION, "--db", db_text]].concat());
        assert_eq!(code, 0, "{err}");
        assert_eq!(from_db, from_log, "{args:?}: the database holds the same events");
    }
    assert_eq!(std::fs::read(&db).unwrap(), before, "read only: the file is unchanged");

    // Both sources, or neither: a usage error.
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--log", log, "--db", db_text]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION]);
    assert!(code == 2 && err.contains("--log") && err.contains("--db"), "{err}");

    // A missing file is not created.
    let missing = dir.join("missing.db");
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--db", missing.to_str().unwrap()]);
    assert!(code == 2 && err.contains("no such file"), "{err}");
    assert!(!missing.exists(), "nothing created");
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--db", dir.to_str().unwrap()]);
    assert!(code == 2 && err.contains("it is a directory"), "{err}");
    // Not a database: the JSON-lines log given as --db.
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--db", log]);
    assert!(code == 2 && err.contains("is not a yichuang event store"), "{err}");

    // Written under another definition.
    let other = write_db(&dir, "other.db", &lines, "another-hall");
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--db", other.to_str().unwrap()]);
    assert!(code == 1 && err.contains("written under definition `another-hall`"), "{err}");

    // An event deleted behind the store's back: the service's check names the gap.
    let damaged = write_db(&dir, "damaged.db", &lines, "county-hall");
    rusqlite::Connection::open(&damaged).unwrap().execute("DELETE FROM events WHERE position = 3", []).unwrap();
    let (code, _, err) = yichuang(&["replay", "--definition", DEFINITION, "--db", damaged.to_str().unwrap()]);
    assert!(code == 1 && err.contains("expected position 3, found 4"), "{err}");
    // Text that is not UTF-8 in a body, and a lost table: damage too (exit 1), named.
    for (sql, says) in [
        ("UPDATE events SET body = CAST(X'7BFF7D' AS TEXT) WHERE position = 2", "position 2 is damaged"),
        ("DROP TABLE events", "lacks the store's `events` table"),
    ] {
        let damaged = write_db(&dir, "damaged.db", &lines, "county-hall");
        rusqlite::Connection::open(&damaged).unwrap().execute_batch(sql).unwrap();
        let (code, _, err) = yichuang(&["report", "--definition", DEFINITION, "--db", damaged.to_str().unwrap()]);
        assert!(code == 1 && err.contains(says), "{sql}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `export` writes each format from the log and the same bytes from the service's database;
/// a log that does not replay exports nothing (exit 1); bad arguments are usage errors.
#[test]
fn export_writes_every_format_from_a_log_or_the_database() {
    let dir = temp_dir("export");
    let (path, lines) = write_log(&dir);
    let log = path.to_str().unwrap();
    let db = write_db(&dir, "hall.db", &lines, "county-hall");
    let cases = lines.iter().filter(|l| l.contains("\"stream\":\"C")).count();
    for format in ["xes", "ocel-json", "csv"] {
        let (code, from_log, err) = yichuang(&["export", "--definition", DEFINITION, "--log", log, "--format", format]);
        assert_eq!(code, 0, "{format}: {err}");
        let (code, from_db, err) =
            yichuang(&["export", "--definition", DEFINITION, "--db", db.to_str().unwrap(), "--format", format]);
        assert_eq!(code, 0, "{format}: {err}");
        assert_eq!(from_log, from_db, "{format}: the database holds the same events");
        let out = dir.join(format!("log.{format}"));
        std::fs::write(&out, "an older export").unwrap();
        let args = ["export", "--definition", DEFINITION, "--log", log, "--format", format, "--out"];
        let (code, stdout, err) = yichuang(&[&args[..], &[out.to_str().unwrap()]].concat());
        assert!(code == 0 && stdout.is_empty(), "{format}: {err}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), from_log, "{format}: --out replaces the file");
    }
    let (_, csv, _) = yichuang(&["export", "--definition", DEFINITION, "--log", log, "--format", "csv"]);
    assert_eq!(csv.lines().count() - 1, cases, "a CSV row per case event");
    let (_, xes, _) = yichuang(&["export", "--definition", DEFINITION, "--log", log, "--format", "xes"]);
    assert!(xes.contains("<trace>") && xes.contains("+08:00\"/>"), "{xes}");

    // OCEL SQLite is a file; it replaces an earlier one.
    let (code, _, err) = yichuang(&["export", "--definition", DEFINITION, "--log", log, "--format", "ocel-sqlite"]);
    assert!(code == 2 && err.contains("--out FILE"), "{err}");
    let sqlite = dir.join("log.sqlite");
    for _ in 0..2 {
        let sqlite = sqlite.to_str().unwrap();
        let args = ["export", "--definition", DEFINITION, "--log", log, "--format", "ocel-sqlite", "--out", sqlite];
        let (code, _, err) = yichuang(&args);
        assert_eq!(code, 0, "{err}");
    }
    let db_events: i64 =
        rusqlite::Connection::open(&sqlite).unwrap().query_row("SELECT count(*) FROM event", [], |r| r.get(0)).unwrap();
    assert_eq!(db_events as usize, lines.len());

    // A log that does not replay exports nothing and leaves no file.
    let mut swapped = lines.clone();
    let first_case = lines.iter().position(|l| l.contains("\"C000001\"")).unwrap();
    swapped.swap(first_case + 1, first_case + 2);
    let bad = dir.join("swapped.jsonl");
    std::fs::write(&bad, swapped.join("\n")).unwrap();
    let never = dir.join("never.xes");
    let args = ["export", "--definition", DEFINITION, "--log", bad.to_str().unwrap(), "--format", "xes", "--out"];
    let (code, _, err) = yichuang(&[&args[..], &[never.to_str().unwrap()]].concat());
    assert!(code == 1 && err.contains("does not replay"), "{err}");
    assert!(!never.exists());
    let (code, _, err) =
        yichuang(&["export", "--definition", DEFINITION, "--log", log, "--format", "xes", "--utc-offset", "+8"]);
    assert!(code == 2 && err.contains("+08:00"), "{err}");
    let (code, out, err) =
        yichuang(&["export", "--definition", DEFINITION, "--log", log, "--format", "csv", "--utc-offset", "-05:00"]);
    assert!(code == 0 && out.contains("-05:00") && !out.contains("+08:00"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `yichuang audit`: the chain holds on an untouched database, a changed actor is named with its
/// position (exit 1), and a tail cut consistently behind the chain is caught by the signed
/// checkpoints the service would have written.
#[test]
fn audit_checks_the_chain_and_the_signed_checkpoints() {
    use yichuang_store::checkpoint::{CheckpointWriter, SigningKey, public_key_pem};
    use yichuang_store::{EventLog, SqliteStore};
    let dir = temp_dir("audit");
    let (_, lines) = write_log(&dir);
    let n = lines.len();
    let db = write_db(&dir, "audit.db", &lines, "county-hall");
    let db_text = db.to_str().unwrap();
    let (code, out, err) = yichuang(&["audit", "--definition", DEFINITION, "--db", db_text]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("the hash chain holds and every event is legal in order"), "{out}");
    assert!(out.contains(&format!("chain head: position {n} hash ")), "{out}");

    // The service's checkpoint of this head, signed; the public key as PEM.
    let key = SigningKey::from_bytes(&[3; 32]);
    let public = dir.join("checkpoint-key.pub");
    std::fs::write(&public, public_key_pem(&key)).unwrap();
    let file = dir.join("checkpoints.jsonl");
    let _ = std::fs::remove_file(&file);
    let head = SqliteStore::open_read_only(&db).unwrap().chain_head().unwrap();
    CheckpointWriter::open(&file, key).unwrap().write(&head, 1_767_225_600).unwrap();
    let with_checkpoints = |db: &str| {
        yichuang(&[
            "audit",
            "--definition",
            DEFINITION,
            "--db",
            db,
            "--checkpoint",
            file.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ])
    };
    let (code, out, err) = with_checkpoints(db_text);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("checkpoints: 1 signed lines verified; the database matches every one"), "{out}");

    // A changed actor: named with its position.
    let edited = write_db(&dir, "edited.db", &lines, "county-hall");
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    let by = second["by"]["id"].as_str().unwrap();
    rusqlite::Connection::open(&edited)
        .unwrap()
        .execute_batch(&format!(
            "UPDATE events SET body = replace(body, '\"{by}\"', '\"intruder\"') WHERE position = 2"
        ))
        .unwrap();
    let (code, _, err) = yichuang(&["audit", "--definition", DEFINITION, "--db", edited.to_str().unwrap()]);
    assert!(code == 1 && err.contains("the hash chain breaks at position 2"), "{err}");

    // The last event cut, and the recorded head moved back with it: only the checkpoint sees it.
    let cut = write_db(&dir, "cut.db", &lines, "county-hall");
    rusqlite::Connection::open(&cut)
        .unwrap()
        .execute_batch(&format!(
            "DELETE FROM events WHERE position = {n}; UPDATE meta SET value = (SELECT position || ' ' || \
             lower(hex(hash)) || ' ' || keys || ' ' || lower(hex(key_hash)) FROM events WHERE position = {}) \
             WHERE key = 'head'",
            n - 1
        ))
        .unwrap();
    let (code, _, err) = yichuang(&["audit", "--definition", DEFINITION, "--db", cut.to_str().unwrap()]);
    assert_eq!(code, 0, "the chain alone cannot see a consistent cut: {err}");
    let (code, _, err) = with_checkpoints(cut.to_str().unwrap());
    assert!(code == 1 && err.contains(&format!("the database ends at position {}", n - 1)), "{err}");
    assert!(err.contains(&format!("saw position {n}")), "{err}");

    // A checkpoint file with a forged line, or without the key: refused.
    let forged = std::fs::read_to_string(&file).unwrap().replace("1767225600", "1767225601");
    std::fs::write(&file, forged).unwrap();
    let (code, _, err) = with_checkpoints(db_text);
    assert!(code == 1 && err.contains("the signature does not verify"), "{err}");
    let (code, _, err) = yichuang(&["audit", "--definition", DEFINITION, "--db", db_text, "--checkpoint", "x"]);
    assert!(code == 2 && err.contains("--public-key"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--db postgres://…`: replay and audit read a PostgreSQL store as they read a SQLite file.
#[test]
fn replay_and_audit_read_a_postgresql_store() {
    use yichuang_store::{Commit, EncodedEvent, EventStore, PostgresStore, StoredEvent};
    let Some(schema) = yichuang_store::testing::ScratchSchema::new("cli") else { return };
    let dir = temp_dir("pg");
    let (path, lines) = write_log(&dir);
    {
        let mut store = PostgresStore::open(schema.url()).unwrap();
        store.verify(&mut |_| Ok(())).unwrap();
        store.set_meta("definition", "county-hall").unwrap();
        let events = lines
            .iter()
            .enumerate()
            .map(|(i, l)| StoredEvent {
                position: i as u64 + 1,
                event: EncodedEvent::encode(serde_json::from_str(l).unwrap()),
            })
            .collect();
        store.append(&[Commit { events, idempotency: None }]).unwrap();
    }
    let (code, from_log, err) = yichuang(&["replay", "--definition", DEFINITION, "--log", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, from_db, err) = yichuang(&["replay", "--definition", DEFINITION, "--db", schema.url()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(from_db, from_log);
    let (code, out, err) = yichuang(&["audit", "--definition", DEFINITION, "--db", schema.url()]);
    assert!(code == 0 && out.contains("the hash chain holds"), "{out}{err}");
    let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    let by = second["by"]["id"].as_str().unwrap();
    schema
        .execute(&format!("UPDATE events SET body = replace(body, '\"{by}\"', '\"intruder\"') WHERE position = 2"))
        .unwrap();
    let (code, _, err) = yichuang(&["audit", "--definition", DEFINITION, "--db", schema.url()]);
    assert!(code == 1 && err.contains("the hash chain breaks at position 2"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
