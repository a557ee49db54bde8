//! Definition versions across restarts (issue 17): a service restarted with a changed
//! `--definition` file deploys it as a new version; the cases already running keep the version
//! (and the promise) they were accepted under, new cases run on the new one, and a file that
//! removes an item a running case uses still starts.

mod common;

use common::*;
use serde_json::{Value, json};

const COUNTY_HALL: &str = include_str!("../../../examples/definitions/county-hall.ron");

fn licence(case: &Value) -> &Value {
    case["tasks"].as_array().unwrap().iter().find(|t| t["item"] == "business-licence").expect("the licence task")
}

fn restaurant(addr: std::net::SocketAddr) -> String {
    accepted_case(addr, "open-restaurant", json!({}))
}

#[test]
fn a_changed_definition_file_is_a_new_version_and_running_cases_keep_their_promise() {
    let scratch = Scratch::new("versions");
    let v1 = scratch.0.join("v1.ron");
    let v2 = scratch.0.join("v2.ron");
    std::fs::write(&v1, COUNTY_HALL).unwrap();
    let changed = COUNTY_HALL
        .replacen("promised_days: 1, // [U] the county promises 1 wd", "promised_days: 2,", 1)
        .replacen("// Critical path 1 + 1 = 2 wd. National target ≤ 4 wd [M]; 1-day regimes exist [L].\n            promised_days: 2,", "promised_days: 3,", 1);
    assert_ne!(changed, COUNTY_HALL);
    std::fs::write(&v2, &changed).unwrap();

    let s = server(&scratch.db(), &["--definition", v1.to_str().unwrap()]);
    let old = restaurant(s.addr);
    let before = expect(&get(s.addr, &format!("/v1/cases/{old}"), CLERK), 200);
    assert_eq!(licence(&before)["promised_days"], 1);
    let promised = licence(&before)["due"].clone();
    assert!(promised.is_string(), "{before}");
    let first_version = before["definition"].clone();
    s.stop();

    // Restarted with the file changed (same definition id): it starts, and says it deployed.
    let s = server(&scratch.db(), &["--definition", v2.to_str().unwrap()]);
    let after = expect(&get(s.addr, &format!("/v1/cases/{old}"), CLERK), 200);
    assert_eq!(after["definition"], first_version, "the running case keeps its version");
    assert_eq!(licence(&after)["promised_days"], 1);
    assert_eq!(licence(&after)["due"], promised, "the promise given at acceptance is not rewritten");
    let new = restaurant(s.addr);
    let fresh = expect(&get(s.addr, &format!("/v1/cases/{new}"), CLERK), 200);
    assert_ne!(fresh["definition"], first_version, "new cases run on the new version");
    assert_eq!(licence(&fresh)["promised_days"], 2);
    assert!(licence(&fresh)["due"].as_str().unwrap() > promised.as_str().unwrap());
    let stderr = s.stderr();
    assert!(stderr.contains("deployed the definition file as a new version"), "{stderr}");
    s.stop();

    // Back to the first file: its version is re-activated, nothing is lost, both cases replay.
    let s = server(&scratch.db(), &["--definition", v1.to_str().unwrap()]);
    let again = expect(&get(s.addr, &format!("/v1/cases/{new}"), CLERK), 200);
    assert_eq!(licence(&again)["promised_days"], 2, "the second case stays on the second version");
    s.stop();
}

#[test]
fn a_definition_without_an_item_that_a_running_case_uses_still_starts() {
    let scratch = Scratch::new("versions-removed");
    let v1 = scratch.0.join("v1.ron");
    std::fs::write(&v1, COUNTY_HALL).unwrap();
    let s = server(&scratch.db(), &["--definition", v1.to_str().unwrap()]);
    let old = restaurant(s.addr);
    s.stop();
    // The next version drops the 我要开饭店 bundle altogether.
    let start = COUNTY_HALL.find("            id: \"open-restaurant\",").expect("the bundle");
    let open = COUNTY_HALL[..start].rfind('(').unwrap();
    let close = open + COUNTY_HALL[open..].find("\n        ),").unwrap() + "\n        ),".len();
    let without = format!("{}{}", &COUNTY_HALL[..open], &COUNTY_HALL[close..]);
    let v2 = scratch.0.join("v2.ron");
    std::fs::write(&v2, &without).unwrap();
    let s = server(&scratch.db(), &["--definition", v2.to_str().unwrap()]);
    let c = expect(&get(s.addr, &format!("/v1/cases/{old}"), CLERK), 200);
    assert_eq!(c["state"], "InApproval", "the case keeps running on its version");
    let r = post(s.addr, "/v1/cases", CLERK, &submission("open-restaurant", APPLICANT_ID, json!({})));
    assert_eq!(r.status, 422, "new cases use the active version, which no longer has the bundle");
    s.stop();
}

/// The 我要开饭店 promise of `business-licence` changed from 1 to `days` working days.
fn licence_promise(days: u32) -> String {
    // …and the bundle's promise with it (its critical path runs through the licence).
    let changed = COUNTY_HALL
        .replacen("promised_days: 1, // [U] the county promises 1 wd", &format!("promised_days: {days}, // changed"), 1)
        .replacen(
            "// Critical path 1 + 1 = 2 wd. National target ≤ 4 wd [M]; 1-day regimes exist [L].\n            promised_days: 2,",
            &format!("promised_days: {},", days + 1),
            1,
        );
    assert_ne!(changed, COUNTY_HALL);
    changed
}

fn deploy(addr: std::net::SocketAddr, token: &str, text: &str) -> Response {
    post(addr, "/v1/definitions", token, &json!({ "text": text, "origin": "county-hall.ron" }))
}

#[test]
fn deploying_over_http_keeps_every_version_and_a_migration_never_lengthens_a_promise() {
    let scratch = Scratch::new("versions-http");
    let v1 = scratch.0.join("v1.ron");
    std::fs::write(&v1, COUNTY_HALL).unwrap();
    let s = server(&scratch.db(), &["--definition", v1.to_str().unwrap()]);
    let old = restaurant(s.addr);
    let before = expect(&get(s.addr, &format!("/v1/cases/{old}"), CLERK), 200);
    let first = before["definition"].as_str().unwrap().to_owned();
    let promised = licence(&before)["due"].clone();

    // Only an administrator deploys; a refused deployment changes nothing.
    for token in [CLERK, SUPERVISOR, APPLICANT] {
        let r = deploy(s.addr, token, &licence_promise(2));
        assert_eq!(r.status, 403, "{token}: {}", r.body);
    }
    // A text that does not load: 422 with every diagnostic at its line:col.
    let broken = COUNTY_HALL.replacen("promised_days: 1, // [U] the county promises 1 wd", "promised_days: 1.5,", 1);
    let r = deploy(s.addr, ADMIN, &broken);
    let e = expect(&r, 422);
    assert_eq!(e["error"]["code"], "definition_invalid", "{e}");
    let d = &e["error"]["diagnostics"][0];
    let line = broken[..broken.find("promised_days: 1.5").unwrap()].lines().count();
    assert_eq!(d["location"][0], line, "{e}");
    assert!(d["location"][1].as_u64().unwrap() > 1, "{e}");
    let listed = expect(&get(s.addr, "/v1/definitions", ADMIN), 200);
    assert_eq!(listed["versions"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["active"], first.as_str());

    // The longer promise: a new version, with the diff and its effect on running cases.
    let r = deploy(s.addr, ADMIN, &licence_promise(2));
    let deployed = expect(&r, 201);
    let v2 = deployed["version"].as_str().unwrap().to_owned();
    assert_ne!(v2, first);
    assert_eq!(deployed["previous"], first.as_str());
    assert_eq!(deployed["open_cases_on_previous"], 1);
    let changes = deployed["diff"]["changes"].as_array().unwrap();
    assert!(!changes.is_empty(), "{deployed}");
    // The same text again: the same version, nothing new.
    let again = expect(&deploy(s.addr, ADMIN, &licence_promise(2)), 200);
    assert_eq!(
        (again["version"].as_str(), again["created"].as_bool(), again["deployed"].as_bool()),
        (Some(v2.as_str()), Some(false), Some(false))
    );

    let listed = expect(&get(s.addr, "/v1/definitions", SUPERVISOR), 200);
    let rows = listed["versions"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!((rows[0]["version"].as_str(), rows[0]["open_cases"].as_u64()), (Some(first.as_str()), Some(1)));
    assert_eq!((rows[1]["version"].as_str(), rows[1]["active"].as_bool()), (Some(v2.as_str()), Some(true)));
    assert_eq!(rows[1]["by"], "admin", "{listed}");
    let text = expect(&get(s.addr, &format!("/v1/definitions/{first}"), CLERK), 200);
    assert_eq!(text["text"], COUNTY_HALL);
    assert_eq!(get(s.addr, "/v1/definitions", APPLICANT).status, 403);
    assert_eq!(get(s.addr, "/v1/definitions/0123456789abcdef", ADMIN).status, 404);
    assert_eq!(get(s.addr, "/v1/definitions/not-a-version", ADMIN).status, 404);

    // A new case runs on v2; the old one keeps its promise.
    let new = restaurant(s.addr);
    let fresh = expect(&get(s.addr, &format!("/v1/cases/{new}"), CLERK), 200);
    assert_eq!((fresh["definition"].as_str(), licence(&fresh)["promised_days"].as_u64()), (Some(v2.as_str()), Some(2)));

    // Migrating to the longer promise: the dry run says the promise stands, and changes nothing.
    let plan = json!({ "dry_run": true });
    let dry = expect(&post_key(s.addr, "/v1/migrations", ADMIN, "m-dry", &plan), 200);
    assert_eq!(
        (dry["to"].as_str(), dry["migrates"].as_u64(), dry["current"].as_u64()),
        (Some(v2.as_str()), Some(1), Some(1)),
        "{dry}"
    );
    let row =
        dry["cases"].as_array().unwrap().iter().find(|c| c["case"] == old.as_str()).unwrap_or_else(|| panic!("{dry}"));
    assert_eq!(row["verdict"], "migrates", "{dry}");
    assert!(row["changes"].as_array().unwrap().iter().any(|c| c["change"] == "limit_kept"), "{dry}");
    assert_eq!(expect(&get(s.addr, &format!("/v1/cases/{old}"), CLERK), 200)["definition"], first.as_str());
    assert_eq!(post_key(s.addr, "/v1/migrations", CLERK, "m-clerk", &json!({ "dry_run": true })).status, 403);

    let apply = json!({ "dry_run": false });
    let done = expect(&post_key(s.addr, "/v1/migrations", ADMIN, "m-apply", &apply), 200);
    assert_eq!((done["migrated"].as_u64(), done["events"].as_u64()), (Some(1), Some(1)), "{done}");
    let repeat = post_key(s.addr, "/v1/migrations", ADMIN, "m-apply", &apply);
    assert_eq!(repeat.header("idempotent-replayed"), Some("true"), "the key answers from its record");
    let moved = expect(&get(s.addr, &format!("/v1/cases/{old}"), CLERK), 200);
    assert_eq!(moved["definition"], v2.as_str());
    assert_eq!(licence(&moved)["due"], promised, "a migration never lengthens a promise");
    assert_eq!(event_names(s.addr, &format!("/v1/cases/{old}")).last().map(String::as_str), Some("Migrated"));
    s.stop();

    // Everything survives a restart (with the first file: the store keeps every version).
    let s = server(&scratch.db(), &["--definition", v1.to_str().unwrap()]);
    let after = expect(&get(s.addr, &format!("/v1/cases/{old}"), CLERK), 200);
    assert_eq!((after["definition"].as_str(), &licence(&after)["due"]), (Some(v2.as_str()), &promised));
    let listed = expect(&get(s.addr, "/v1/definitions", ADMIN), 200);
    assert_eq!(listed["versions"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed["active"], first.as_str(), "started with the first file, which is active again");
    // Shortening the promise to 1 wd from 2 applies to the case on 2.
    let r = deploy(s.addr, ADMIN, COUNTY_HALL);
    assert_eq!(expect(&r, 200)["deployed"], false, "the first text is already active");
    let done =
        expect(&post_key(s.addr, "/v1/migrations", ADMIN, "m-back", &json!({ "dry_run": false, "to": first })), 200);
    let row = done["cases"].as_array().unwrap().iter().find(|c| c["case"] == new.as_str()).unwrap();
    assert!(row["changes"].as_array().unwrap().iter().any(|c| c["change"] == "limit_shortened"), "{done}");
    let shortened = expect(&get(s.addr, &format!("/v1/cases/{new}"), CLERK), 200);
    assert_eq!(licence(&shortened)["promised_days"], 1, "{shortened}");
    s.stop();
}

/// Two instances on one PostgreSQL log (issue 18's follower path): a version deployed through
/// one is taken up by the other — when it follows an event under that version (the instance
/// reads the stored versions again instead of refusing the log), and before it opens a case
/// (new cases open under the active version, whichever instance they reach). A migration made
/// through one is followed by the other.
#[test]
fn two_instances_take_up_each_others_deployments() {
    let Some(schema) = yichuang_store::testing::ScratchSchema::new("versions") else { return };
    let url = std::path::Path::new(schema.url());
    let (a, b) = (server(url, &[]), server(url, &[]));
    let old = restaurant(b.addr);
    let first =
        expect(&get(a.addr, &format!("/v1/cases/{old}"), CLERK), 200)["definition"].as_str().unwrap().to_owned();

    let deployed = expect(&deploy(a.addr, ADMIN, &licence_promise(2)), 201);
    let v2 = deployed["version"].as_str().unwrap().to_owned();
    // A case under the new version, opened through A; B has not heard of the version and
    // follows the case's events when it reads.
    let on_a = restaurant(a.addr);
    let seen = expect(&get(b.addr, &format!("/v1/cases/{on_a}"), CLERK), 200);
    assert_eq!(
        (seen["definition"].as_str(), licence(&seen)["promised_days"].as_u64()),
        (Some(v2.as_str()), Some(2)),
        "{seen}"
    );
    // The log line is written as the version is taken up; its copy reaches the test a moment later.
    let said = |s: &Server| s.stderr().contains("took up the definition versions another instance deployed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !said(&b) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(said(&b), "{}", b.stderr());
    // B opens new cases under the version A deployed, and lists it as active.
    let on_b = restaurant(b.addr);
    let fresh = expect(&get(b.addr, &format!("/v1/cases/{on_b}"), CLERK), 200);
    assert_eq!(fresh["definition"], v2.as_str(), "{fresh}");
    assert_eq!(expect(&get(b.addr, "/v1/definitions", ADMIN), 200)["active"], v2.as_str());

    // A migration through B; A follows it.
    let done = expect(&post_key(b.addr, "/v1/migrations", ADMIN, "m-b", &json!({ "dry_run": false })), 200);
    assert_eq!(done["migrated"], 1, "{done}");
    let moved = expect(&get(a.addr, &format!("/v1/cases/{old}"), CLERK), 200);
    assert_eq!(moved["definition"], v2.as_str());
    assert_ne!(first, v2);
    assert_eq!(event_names(a.addr, &format!("/v1/cases/{old}")).last().map(String::as_str), Some("Migrated"));
    // A third instance starts on the log with both versions.
    let c = server(url, &[]);
    assert_eq!(expect(&get(c.addr, &format!("/v1/cases/{on_b}"), CLERK), 200)["definition"], v2.as_str());
    for s in [a, b, c] {
        s.stop();
    }
}
