//! Approval operations over HTTP (issue 19): the food licence of the county hall signed in three
//! review levels (承办 → 审核 → 批准) by three people of 市场准入科; the same person signing two
//! levels is refused with 403 naming 受审分离; a 审核 return sends it back to 承办; 催办 by a
//! leader, refused to a reviewer.

mod common;

use common::*;
use serde_json::{Value, json};

const LEADER: &str = "demo-leader";

fn restaurant_answers() -> Value {
    json!({"company-name": "张三餐饮", "food-business-type": "热食类食品制售", "sells-tobacco": "否"})
}

fn task(addr: std::net::SocketAddr, case: &str, item: &str) -> Value {
    let c = expect(&get(addr, &format!("/v1/cases/{case}"), CLERK), 200);
    c["tasks"].as_array().unwrap().iter().find(|t| t["item"] == item).unwrap().clone()
}

#[test]
fn the_food_licence_is_signed_in_three_levels_by_three_people() {
    let scratch = Scratch::new("levels");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    // The business licence first; then the food licence is in 市场准入科's queue at 承办.
    let licence = format!("/v1/cases/{case}/tasks/business-licence/commands");
    let ma = reviewer("market-access");
    expect(&post(s.addr, &licence, &ma, &json!({"command": "claim"})), 200);
    expect(&post(s.addr, &licence, &ma, &json!({"command": "approve"})), 200);
    let food = format!("/v1/cases/{case}/tasks/food-licence/commands");
    let t = task(s.addr, &case, "food-licence");
    assert_eq!((t["state"].as_str(), t["level_name"].as_str()), (Some("Ready"), Some("承办")), "{t}");
    assert_eq!(t["levels"], json!(["承办", "审核", "批准"]));

    // 承办 by the first reviewer: on to 审核's queue.
    expect(&post(s.addr, &food, &ma, &json!({"command": "claim"})), 200);
    let signed = expect(&post(s.addr, &food, &ma, &json!({"command": "approve"})), 200);
    assert!(signed["events"].as_array().unwrap().iter().any(|e| e["event"].get("TaskLevelSigned").is_some()));
    let t = task(s.addr, &case, "food-licence");
    assert_eq!((t["state"].as_str(), t["level"].as_u64()), (Some("Ready"), Some(1)), "{t}");
    assert_eq!(t["signers"], json!(["reviewer-market-access"]));

    // The same person may not sign 审核 too: 403 naming the rule, nothing appended.
    let before = head(s.addr);
    let twice = post(s.addr, &food, &ma, &json!({"command": "claim"}));
    assert_eq!((twice.status, twice.code()), (403, "signed_earlier_level".into()), "{}", twice.body);
    assert!(twice.json()["error"]["message"].as_str().unwrap().contains("受审分离"), "{}", twice.body);
    assert_eq!(head(s.addr), before, "a refused command appends nothing");

    // 审核 by a second reviewer returns it: back to 承办, whose signature is void.
    let second = format!("{ma}-2");
    expect(&post(s.addr, &food, &second, &json!({"command": "claim"})), 200);
    let empty = post(s.addr, &food, &second, &json!({"command": "return", "to": "Previous", "reason": " "}));
    assert_eq!((empty.status, empty.code()), (422, "reason_required".into()), "{}", empty.body);
    let back = json!({"command": "return", "to": "Previous", "reason": "平面布局图与现场不符，请核实"});
    expect(&post(s.addr, &food, &second, &back), 200);
    let t = task(s.addr, &case, "food-licence");
    assert_eq!((t["state"].as_str(), t["level_name"].as_str()), (Some("Ready"), Some("承办")), "{t}");
    assert_eq!(t["signers"], json!([]));

    // 催办: a leader may, a reviewer may not; the queue shows it.
    let urge = json!({"command": "urge", "note": "申请人已等候多日，请加快办理"});
    let refused = post(s.addr, &food, &second, &urge);
    assert_eq!((refused.status, refused.code()), (403, "role_not_allowed".into()), "{}", refused.body);
    expect(&post(s.addr, &food, LEADER, &urge), 200);
    assert_eq!(task(s.addr, &case, "food-licence")["urged"], 1);

    // Signed again: 承办, 审核, then 批准 by a third person decides the item.
    expect(&post(s.addr, &food, &ma, &json!({"command": "claim"})), 200);
    expect(&post(s.addr, &food, &ma, &json!({"command": "approve"})), 200);
    expect(&post(s.addr, &food, &second, &json!({"command": "claim"})), 200);
    // Below the last level nobody decides: a 审核 denial is refused.
    let deny = post(s.addr, &food, &second, &json!({"command": "deny", "reason": "不符合条件"}));
    assert_eq!((deny.status, deny.code()), (422, "not_allowed_for_item".into()), "{}", deny.body);
    expect(&post(s.addr, &food, &second, &json!({"command": "approve"})), 200);
    let third = format!("{ma}-3");
    expect(&post(s.addr, &food, &third, &json!({"command": "claim"})), 200);
    expect(&post(s.addr, &food, &third, &json!({"command": "approve"})), 200);
    let t = task(s.addr, &case, "food-licence");
    assert_eq!(t["state"], "Approved", "{t}");
    assert_eq!(t["signers"], json!(["reviewer-market-access", "reviewer-market-access-wang"]));
    let names = event_names(s.addr, &format!("/v1/cases/{case}"));
    let levels: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| matches!(*n, "TaskLevelSigned" | "TaskReturned" | "TaskUrged"))
        .collect();
    assert_eq!(levels, ["TaskLevelSigned", "TaskReturned", "TaskUrged", "TaskLevelSigned", "TaskLevelSigned"]);

    // The rest of the case finishes; a restart replays the levels into the same state.
    let decided = approve_all(s.addr, &case);
    assert_eq!(decided["outcome"], "Approved", "{decided}");
    drop(s);
    let s = server(&scratch.db(), &[]);
    assert_eq!(task(s.addr, &case, "food-licence")["signers"], t["signers"]);
}

/// 撤回 over HTTP: the business licence's signer recalls its approval before any dependent was
/// claimed, and the five dependents are back to `Waiting` in the case view; approved again, and
/// once the fire check was claimed, a recall is refused with 422 naming the rule and the
/// dependent, and nothing is appended.
#[test]
fn a_recall_moves_unclaimed_dependents_back_and_is_refused_after_a_claim() {
    let scratch = Scratch::new("recall");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    let licence = format!("/v1/cases/{case}/tasks/business-licence/commands");
    let ma = reviewer("market-access");
    expect(&post(s.addr, &licence, &ma, &json!({"command": "claim"})), 200);
    expect(&post(s.addr, &licence, &ma, &json!({"command": "approve"})), 200);
    let dependents = ["food-licence", "fire-safety-check", "outdoor-signboard", "food-staff-health"];
    for item in dependents {
        assert_eq!(task(s.addr, &case, item)["state"], "Ready", "{item}");
    }

    // Another reviewer of the department did not sign it: 403.
    let other = post(s.addr, &licence, &format!("{ma}-2"), &json!({"command": "recall"}));
    assert_eq!((other.status, other.code()), (403, "role_not_allowed".into()), "{}", other.body);

    // The signer recalls: the licence is in review again, its dependents wait again.
    let recalled = expect(&post(s.addr, &licence, &ma, &json!({"command": "recall"})), 200);
    let events: Vec<&str> = recalled["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_object().and_then(|o| o.keys().next()).map(String::as_str))
        .collect();
    assert_eq!(events.first(), Some(&"TaskRecalled"), "{recalled}");
    assert_eq!(events.iter().filter(|e| **e == "TaskUnready").count(), dependents.len(), "{recalled}");
    assert_eq!(task(s.addr, &case, "business-licence")["state"], "InReview");
    for item in dependents {
        assert_eq!(task(s.addr, &case, item)["state"], "Waiting", "{item}");
    }

    // Approved again; the fire check is claimed; now the approval stands: 422 naming the rule.
    expect(&post(s.addr, &licence, &ma, &json!({"command": "approve"})), 200);
    let fire = reviewer(&deciders("fire-safety-check")[0]);
    let check = format!("/v1/cases/{case}/tasks/fire-safety-check/commands");
    expect(&post(s.addr, &check, &fire, &json!({"command": "claim"})), 200);
    let before = head(s.addr);
    let late = post(s.addr, &licence, &ma, &json!({"command": "recall"}));
    assert_eq!((late.status, late.code()), (422, "recall_after_claim".into()), "{}", late.body);
    let message = late.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("撤回") && message.contains("fire-safety-check"), "{message}");
    assert_eq!(head(s.addr), before, "a refused command appends nothing");
    assert_eq!(task(s.addr, &case, "food-licence")["state"], "Ready");
}

fn project_answers() -> Value {
    json!({"project-name": "示例县智能装备产业园一期", "total-investment": "32000", "land-area": "66000",
           "building-area": "48000", "special-construction": "否"})
}

/// 或签 and 票签 over HTTP on the county hall's industrial project: 用地预审与选址 is decided by the
/// first of its two offices (the other's review is cancelled, and a late vote is 422); the
/// performance's panel of five (票签 3/5) records votes for and against, refuses a second vote,
/// and is approved at the third approval; the case view shows each department's vote.
#[test]
fn any_one_and_vote_items_show_their_votes() {
    let scratch = Scratch::new("votes");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "industrial-project", project_answers());
    let filing = format!("/v1/cases/{case}/tasks/project-filing/commands");
    let ic = reviewer("investment-construction");
    expect(&post(s.addr, &filing, &ic, &json!({"command": "claim"})), 200);
    expect(&post(s.addr, &filing, &ic, &json!({"command": "approve"})), 200);

    // 或签: 县自然资源局 decides first; 国土规划科's pending review is cancelled.
    let land = format!("/v1/cases/{case}/tasks/land-pre-review/commands");
    let t = task(s.addr, &case, "land-pre-review");
    assert_eq!(
        (t["state"].as_str(), t["decision"].as_str(), t["approvals_needed"].as_u64()),
        (Some("Ready"), Some("AnyOf"), Some(1)),
        "{t}"
    );
    let nr = reviewer("natural-resources");
    expect(&post(s.addr, &land, &nr, &json!({"command": "claim"})), 200);
    let decided = expect(&post(s.addr, &land, &nr, &json!({"command": "approve"})), 200);
    let events: Vec<&str> = decided["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_object().and_then(|o| o.keys().next()).map(String::as_str))
        .collect();
    assert_eq!(events[..3], ["TaskSigned", "TaskVotesCancelled", "TaskApproved"], "{decided}");
    let t = task(s.addr, &case, "land-pre-review");
    assert_eq!(t["state"], "Approved");
    assert_eq!(
        t["votes"],
        json!([{"department": "land-planning", "vote": "cancelled"}, {"department": "natural-resources", "vote": "approved"}])
    );
    let late = post(s.addr, &land, &reviewer("land-planning"), &json!({"command": "approve"}));
    assert_eq!((late.status, late.code()), (422, "invalid_state".into()), "{}", late.body);

    // A one-department item shows no votes.
    assert_eq!(task(s.addr, &case, "project-filing")["votes"], json!([]));

    // 票签 3/5 on 营业性演出审批: for, against, a refused second vote, for, for → approved.
    let answers = json!({"company-name": "示例县文化传媒有限公司", "performance-title": "新春民乐专场",
                         "performance-dates": "2026-05-01 19:30 一场", "venue-name": "县文化中心剧场", "large-event": "否"});
    let show = accepted_case(s.addr, "hold-performance", answers);
    let perf = format!("/v1/cases/{show}/tasks/commercial-performance/commands");
    let t = task(s.addr, &show, "commercial-performance");
    assert_eq!((t["decision"].as_str(), t["approvals_needed"].as_u64()), (Some("Vote"), Some(3)), "{t}");
    let culture = reviewer("culture-tourism");
    expect(&post(s.addr, &perf, &culture, &json!({"command": "claim"})), 200);
    expect(&post(s.addr, &perf, &culture, &json!({"command": "approve"})), 200);
    let against = json!({"command": "deny", "reason": "节目单与报审视频不一致"});
    expect(&post(s.addr, &perf, &reviewer("fire-rescue"), &against), 200);
    let before = head(s.addr);
    let twice = post(s.addr, &perf, &reviewer("fire-rescue"), &json!({"command": "approve"}));
    assert_eq!((twice.status, twice.code()), (422, "invalid_state".into()), "{}", twice.body);
    assert!(twice.json()["error"]["message"].as_str().unwrap().contains("票签"), "{}", twice.body);
    assert_eq!(head(s.addr), before, "a refused vote appends nothing");
    expect(&post(s.addr, &perf, &reviewer("public-security"), &json!({"command": "approve"})), 200);
    assert_eq!(task(s.addr, &show, "commercial-performance")["state"], "InReview", "two of three approvals");
    expect(&post(s.addr, &perf, &reviewer("urban-management"), &json!({"command": "approve"})), 200);
    let t = task(s.addr, &show, "commercial-performance");
    assert_eq!(t["state"], "Approved", "{t}");
    let votes: Vec<(&str, &str)> = t["votes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["department"].as_str().unwrap(), v["vote"].as_str().unwrap()))
        .collect();
    assert_eq!(
        votes,
        [
            ("culture-tourism", "approved"),
            ("public-security", "approved"),
            ("fire-rescue", "against"),
            ("market-access", "cancelled"),
            ("urban-management", "approved"),
        ]
    );
}

/// 加签 / 减签 over HTTP: a leader adds 县消防救援大队 after the business licence's deciding
/// signature (后加签); the licence waits for it and the case view lists it; once it signed, a
/// removal is refused with 422 naming 减签, and nothing is appended; its signature approves.
#[test]
fn an_added_countersigner_signs_after_and_cannot_be_removed_once_signed() {
    let scratch = Scratch::new("signers");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    let licence = format!("/v1/cases/{case}/tasks/business-licence/commands");
    let ma = reviewer("market-access");
    let fire = reviewer("fire-rescue");
    let add = json!({"command": "add_signer", "department": "fire-rescue", "position": "After"});
    let clerk = post(s.addr, &licence, CLERK, &add);
    assert_eq!(clerk.status, 403, "{}", clerk.body);
    expect(&post(s.addr, &licence, LEADER, &add), 200);
    let twice = post(s.addr, &licence, LEADER, &add);
    assert_eq!((twice.status, twice.code()), (422, "countersigner_refused".into()), "{}", twice.body);
    expect(&post(s.addr, &licence, &ma, &json!({"command": "claim"})), 200);
    expect(&post(s.addr, &licence, &ma, &json!({"command": "approve"})), 200);
    let t = task(s.addr, &case, "business-licence");
    assert_eq!(t["state"], "InReview", "{t}");
    assert_eq!(t["added_signers"], json!([{"department": "fire-rescue", "position": "After", "signed": false}]));
    assert_eq!(task(s.addr, &case, "food-licence")["state"], "Waiting", "dependents wait for the added signature");
    expect(&post(s.addr, &licence, &fire, &json!({"command": "approve"})), 200);
    assert_eq!(task(s.addr, &case, "business-licence")["state"], "Approved");
    let before = head(s.addr);
    let remove = post(s.addr, &licence, LEADER, &json!({"command": "remove_signer", "department": "fire-rescue"}));
    assert_eq!(remove.status, 422, "{}", remove.body);
    assert_eq!(head(s.addr), before, "a refused command appends nothing");
}

/// 补充材料 over HTTP: the business licence's reviewer asks for two materials within five working
/// days; the case view shows what and by when; the applicant supplies online three working days
/// later (across the 劳动节 holiday); the task's and the case's `due` moved by exactly the time
/// waited, its promised days are unchanged, no trip was counted, and the review goes on.
#[test]
fn a_supplement_request_stops_the_clocks_for_exactly_the_days_waited() {
    let scratch = Scratch::new("supplement");
    let s = server(&scratch.db(), &[]);
    let case = accepted_case(s.addr, "open-restaurant", restaurant_answers());
    let licence = format!("/v1/cases/{case}/tasks/business-licence/commands");
    let ma = reviewer("market-access");
    expect(&post(s.addr, &licence, &ma, &json!({"command": "claim"})), 200);
    let view = |addr| expect(&get(addr, &format!("/v1/cases/{case}"), CLERK), 200);
    let before = view(s.addr);
    let t = task(s.addr, &case, "business-licence");
    let (task_due, promised) = (t["due"].as_str().unwrap().to_owned(), t["promised_days"].clone());
    let case_due = before["due"].as_str().unwrap().to_owned();

    // Empty lists and deadlines past the policy are refused (422), nothing appended.
    let head_before = head(s.addr);
    let empty = post(s.addr, &licence, &ma, &json!({"command": "request_supplement", "asked": [], "days": 5}));
    assert_eq!((empty.status, empty.code()), (422, "reason_required".into()), "{}", empty.body);
    let long = post(s.addr, &licence, &ma, &json!({"command": "request_supplement", "asked": ["章程"], "days": 99}));
    assert_eq!((long.status, long.code()), (422, "out_of_range".into()), "{}", long.body);
    assert_eq!(head(s.addr), head_before);

    let asked = json!(["股东会决议原件", "经营场所产权证明"]);
    let body = json!({"command": "request_supplement", "asked": asked, "days": 5});
    expect(&post(s.addr, &licence, &ma, &body), 200);
    let t = task(s.addr, &case, "business-licence");
    assert_eq!(t["state"], "AwaitingSupplement", "{t}");
    assert_eq!(t["supplement"]["asked"], asked, "{t}");
    assert!(t["supplement"]["due"].is_string(), "{t}");
    let trips = view(s.addr)["trips"].clone();

    // 2026-04-29 09:30 → 2026-05-07 09:30: Thursday 04-30, then 05-06 and 05-07 after the
    // holiday — three working days.
    expect(&post(s.addr, "/v1/clock", ADMIN, &json!({"now": "2026-05-07T09:30"})), 200);
    expect(&post(s.addr, &licence, APPLICANT, &json!({"command": "provide_supplement"})), 200);
    let after = view(s.addr);
    let t = task(s.addr, &case, "business-licence");
    assert_eq!((t["state"].as_str(), t["level"].as_u64()), (Some("InReview"), Some(0)), "{t}");
    assert!(t["supplement"].is_null(), "{t}");
    assert_eq!(t["promised_days"], promised);
    assert_eq!(after["trips"], trips, "supplied online: no trip");
    let cal = definition().calendar();
    let at = |v: &Value| v.as_str().unwrap().parse::<yichuang_core::Instant>().unwrap();
    let waited = cal.working_minutes_between(at(&json!(START)), at(&json!("2026-05-07T09:30"))).unwrap();
    assert_eq!(waited, 3 * i64::from(cal.day_minutes()), "three working days waited");
    let moved = |from: &str, to: &Value| cal.working_minutes_between(at(&json!(from)), at(to)).unwrap();
    assert_eq!(moved(&task_due, &t["due"]), waited, "the task's deadline moved by the time waited");
    assert_eq!(moved(&case_due, &after["due"]), waited, "the case's deadline too");
    expect(&post(s.addr, &licence, &ma, &json!({"command": "approve"})), 200);
}
