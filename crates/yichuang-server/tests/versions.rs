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
