//! The hall's web pages over plain HTTP (no browser): sign-in and sessions, what each role may
//! see, another applicant's case and ticket on every page and form, forged forms, escaping, the
//! applicant's filtered live feed, and the board's signals at the policy's thresholds against
//! the plan's due dates. The browser flow is `browser.rs`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant as Clock};

use common::*;
use serde_json::json;
use yichuang_core::machine::sla::Sla;
use yichuang_core::{Date, Instant};

const MONDAY: &str = "2026-03-09T09:30";
const LI: &str = "demo-applicant-li";

/// A request as a browser sends it: the session cookie, a form body, extra headers.
fn browse(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
    extra: &[(&str, &str)],
) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if let Some(c) = cookie {
        head.push_str(&format!("cookie: yichuang_session={c}\r\n"));
    }
    for (n, v) in extra {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    let body = form.unwrap_or_default();
    if form.is_some() {
        head.push_str(&format!(
            "content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body);
    raw(addr, head.as_bytes()).expect("a page")
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs in; the session cookie's value.
fn sign_in(addr: SocketAddr, token: &str) -> String {
    let r = browse(addr, "POST", "/signin", None, Some(&format!("token={}&next=%2F", enc(token))), &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").expect("a session cookie");
    cookie.strip_prefix("yichuang_session=").and_then(|c| c.split(';').next()).expect("the cookie's value").to_owned()
}

/// The anti-forgery value of a page's forms.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with the anti-forgery value") + 19;
    page[at..at + 64].to_owned()
}

fn case_state(addr: SocketAddr, case: &str) -> String {
    expect(&get(addr, &format!("/v1/cases/{case}"), CLERK), 200)["state"].as_str().unwrap().to_owned()
}

#[test]
fn signing_in_keeps_the_token_out_of_urls_cookies_pages_and_logs() {
    let scratch = Scratch::new("web-signin");
    let s = server(&scratch.db(), &["--clock", MONDAY]);
    let r = browse(s.addr, "GET", "/board", None, None, &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/signin?next=%2Fboard")), "pages need a session");
    let r = browse(s.addr, "POST", "/signin", None, Some("token=demo-supervisor&next=%2Fboard"), &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/board")));
    let cookie = r.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "the cookie is {attribute}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure attribute");
    assert!(!cookie.contains("demo-supervisor"), "the cookie is not the token: {cookie}");
    let session = sign_in(s.addr, SUPERVISOR);
    let page = browse(s.addr, "GET", "/board", Some(&session), None, &[]);
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("demo-supervisor"), "the token is not in the page");
    assert_eq!(page.header("content-security-policy").map(|c| c.contains("script-src 'self'")), Some(true));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    // Behind an HTTPS proxy the cookie is Secure.
    let r = browse(s.addr, "POST", "/signin", None, Some("token=demo-leader"), &[("x-forwarded-proto", "https")]);
    assert!(r.header("set-cookie").unwrap().contains("; Secure"));
    // A wrong token: a 401 page that does not repeat it; no cookie.
    let r = browse(s.addr, "POST", "/signin", None, Some("token=guess-1234567"), &[]);
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none() && !r.body.contains("guess-1234567"), "{}", r.body);
    // Another site's page cannot sign anyone in.
    let r = browse(s.addr, "POST", "/signin", None, Some("token=demo-leader"), &[("origin", "http://evil.example")]);
    assert_eq!(r.status, 403);
    // Signing out ends the session.
    let page = browse(s.addr, "GET", "/board", Some(&session), None, &[]).body;
    let r = browse(s.addr, "POST", "/signout", Some(&session), Some(&format!("csrf={}", csrf(&page))), &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/signin")));
    assert_eq!(browse(s.addr, "GET", "/board", Some(&session), None, &[]).status, 303, "the session is gone");
    let log = s.stderr();
    assert!(
        log.contains(r#"route="/signin""#) && log.contains(r#"outcome="ok" status=303"#),
        "sign-ins are logged: {log}"
    );
    assert!(!log.contains("demo-supervisor") && !log.contains("demo-leader"), "no token in the log:\n{log}");
}

#[test]
fn pages_show_only_what_the_role_may_see() {
    let scratch = Scratch::new("web-roles");
    let s = server(&scratch.db(), &["--clock", MONDAY]);
    let case = accepted_case(s.addr, "open-restaurant", json!({"sells-tobacco": "否"}));
    let zhang = sign_in(s.addr, APPLICANT);
    let li = sign_in(s.addr, LI);
    let reviewer = sign_in(s.addr, &reviewer("market-access"));
    let clerk = sign_in(s.addr, CLERK);
    let path = format!("/cases/{case}");
    assert_eq!(browse(s.addr, "GET", &path, Some(&zhang), None, &[]).status, 200, "the applicant's own case");
    let foreign = browse(s.addr, "GET", &path, Some(&li), None, &[]);
    let missing = browse(s.addr, "GET", "/cases/C000099", Some(&li), None, &[]);
    assert_eq!((foreign.status, missing.status), (404, 404));
    assert_eq!(
        foreign.body.replace(&case, "C000099"),
        missing.body,
        "another applicant's case reads exactly as a missing one"
    );
    for (who, session, page, status) in [
        ("an applicant", &zhang, "/board", 403),
        ("a reviewer", &reviewer, "/board", 403),
        ("a clerk", &clerk, "/board", 403),
        ("an applicant", &zhang, "/window", 403),
        ("an applicant", &zhang, "/departments/market-access/queue", 403),
        ("a clerk", &clerk, "/my", 403),
        ("a reviewer", &reviewer, "/departments/market-access/queue", 200),
        ("a clerk", &clerk, "/window", 200),
        ("an applicant", &zhang, "/my", 200),
    ] {
        let r = browse(s.addr, "GET", page, Some(session), None, &[]);
        assert_eq!(r.status, status, "{who} on {page}: {}", r.body);
        assert!(r.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{page} is a page");
    }
    // The board's JSON keeps the same rule.
    assert_eq!(get(s.addr, "/v1/board", &reviewer_token()).status, 403);
    assert_eq!(get(s.addr, "/v1/board", "demo-leader").status, 200);
    // The applicant's page lists their case and no one else's.
    let mine = browse(s.addr, "GET", "/my", Some(&li), None, &[]).body;
    assert!(!mine.contains(&case), "li sees nothing of zhang's case");
    assert!(browse(s.addr, "GET", "/my", Some(&zhang), None, &[]).body.contains(&case));
}

fn reviewer_token() -> String {
    reviewer("market-access")
}

#[test]
fn a_forged_or_stale_form_changes_nothing() {
    let scratch = Scratch::new("web-forms");
    let s = server(&scratch.db(), &["--clock", MONDAY]);
    let r =
        post(s.addr, "/v1/cases", CLERK, &submission("open-restaurant", APPLICANT_ID, json!({"sells-tobacco": "否"})));
    let case = expect(&r, 201)["id"].as_str().unwrap().to_owned();
    let clerk = sign_in(s.addr, CLERK);
    let page = browse(s.addr, "GET", &format!("/cases/{case}"), Some(&clerk), None, &[]).body;
    assert!(page.contains("id=\"accept\""), "the intake clerk is offered 受理");
    let token = csrf(&page);
    let act = format!("/cases/{case}/act");
    let accept = |csrf: &str, version: u32| {
        format!("command=accept&csrf={csrf}&expected_version={version}&back=%2Fcases%2F{case}")
    };
    // Without the session's value, or from another site: refused, nothing done.
    let r = browse(s.addr, "POST", &act, Some(&clerk), Some(&accept(&"0".repeat(64), 1)), &[]);
    assert_eq!(r.status, 403);
    let r = browse(s.addr, "POST", &act, Some(&clerk), Some(&accept(&token, 1)), &[("origin", "http://evil.example")]);
    assert_eq!(r.status, 403);
    // A page read before the case moved on: the engine's version check, said on the next page.
    let r = browse(s.addr, "POST", &act, Some(&clerk), Some(&accept(&token, 7)), &[]);
    assert_eq!(r.status, 303);
    let next = browse(s.addr, "GET", r.header("location").unwrap(), Some(&clerk), None, &[]).body;
    assert!(next.contains("未办理") && next.contains("version"), "the refusal is shown: {next}");
    assert_eq!(case_state(s.addr, &case), "Received", "refused forms changed nothing");
    // Another role's form reaches the engine, which refuses it naming the rule.
    let reviewer = sign_in(s.addr, &reviewer("market-access"));
    let page = browse(s.addr, "GET", &format!("/cases/{case}"), Some(&reviewer), None, &[]).body;
    assert!(!page.contains("id=\"accept\""), "a reviewer is not offered 受理");
    let r = browse(s.addr, "POST", &act, Some(&reviewer), Some(&accept(&csrf(&page), 1)), &[]);
    let next = browse(s.addr, "GET", r.header("location").unwrap(), Some(&reviewer), None, &[]).body;
    assert!(next.contains("未办理") && next.contains("rule 综合受理"), "the engine's rule is named: {next}");
    assert_eq!(case_state(s.addr, &case), "Received");
    // The right form, then: accepted, and said once.
    let r = browse(s.addr, "POST", &act, Some(&clerk), Some(&accept(&token, 1)), &[]);
    assert_eq!((r.status, r.header("location")), (303, Some(format!("/cases/{case}").as_str())));
    assert_eq!(case_state(s.addr, &case), "InApproval");
    let next = browse(s.addr, "GET", &format!("/cases/{case}"), Some(&clerk), None, &[]).body;
    assert!(next.contains("已受理。"));
    let again = browse(s.addr, "GET", &format!("/cases/{case}"), Some(&clerk), None, &[]).body;
    assert!(!again.contains("已受理。"), "the outcome is shown once");
}

#[test]
fn the_intake_form_sent_twice_opens_one_case() {
    let scratch = Scratch::new("web-intake");
    let s = server(&scratch.db(), &["--clock", MONDAY]);
    let clerk = sign_in(s.addr, CLERK);
    let page = browse(s.addr, "GET", "/window/open-restaurant", Some(&clerk), None, &[]).body;
    let at = page.find("name=\"key\" value=\"").unwrap() + 17;
    let key = &page[at..at + 64];
    let mut form = format!(
        "csrf={}&key={key}&applicant_name={}&applicant_id=91000000MA00000001&f.sells-tobacco=%E6%98%AF&action=submit",
        csrf(&page),
        enc("张三餐饮")
    );
    let def = definition();
    let b = def.bundle(def.bundle_ix("open-restaurant").unwrap());
    for &(m, _) in &b.materials {
        if def.material(m).shared_source.is_none() {
            form.push_str(&format!("&materials={}", def.material(m).id));
        }
    }
    // A preview lists the conditional member as applying, and opens nothing.
    let preview = browse(
        s.addr,
        "POST",
        "/window/open-restaurant",
        Some(&clerk),
        Some(&form.replace("action=submit", "action=preview")),
        &[],
    );
    assert_eq!(preview.status, 200);
    assert!(preview.body.contains("data-member=\"tobacco-retail\" data-applies=\"yes\""), "tobacco applies for 是");
    assert_eq!(expect(&request(s.addr, "GET", "/healthz", None, &[], None).unwrap(), 200)["cases"], 0);
    for _ in 0..2 {
        let r = browse(s.addr, "POST", "/window/open-restaurant", Some(&clerk), Some(&form), &[]);
        assert_eq!((r.status, r.header("location")), (303, Some("/cases/C000001")), "{}", r.body);
    }
    assert_eq!(expect(&request(s.addr, "GET", "/healthz", None, &[], None).unwrap(), 200)["cases"], 1, "one case");
    let events = expect(&get(s.addr, "/v1/cases/C000001/events", CLERK), 200);
    let submitted = &events["events"][0]["event"]["Submitted"];
    assert_eq!(submitted["answers"]["sells-tobacco"], "是", "the form's answers: {submitted}");
    assert_eq!(submitted["applicant"]["name"], "张三餐饮");
    // A form without the applicant: the form again, with what was typed and why.
    let bad = form.replace("applicant_name=", "applicant_name=&x=").replace(&format!("key={key}"), "key=other");
    let r = browse(s.addr, "POST", "/window/open-restaurant", Some(&clerk), Some(&bad), &[]);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("请填写申请人名称"), "{}", r.body);
}

#[test]
fn what_users_type_is_shown_as_text() {
    let scratch = Scratch::new("web-escape");
    let s = server(&scratch.db(), &["--clock", MONDAY]);
    let mut body = submission("open-restaurant", APPLICANT_ID, json!({"company-name": "<b>x</b>"}));
    body["applicant"]["name"] = json!("<script>alert(1)</script>&\"'");
    let id = expect(&post(s.addr, "/v1/cases", CLERK, &body), 201)["id"].as_str().unwrap().to_owned();
    expect(&post(s.addr, &format!("/v1/cases/{id}/commands"), CLERK, &json!({"command": "accept"})), 200);
    let complaint = json!({"source": "complaint", "target": {"Department": "market-access"}, "case": id, "text": "<img src=x onerror=alert(2)>"});
    expect(&post(s.addr, "/v1/tickets", APPLICANT, &complaint), 201);
    for (token, path, shown) in [
        (CLERK, format!("/cases/{id}"), "&lt;script&gt;alert(1)&lt;/script&gt;&amp;"),
        (SUPERVISOR, "/board".to_owned(), "&lt;script&gt;alert(1)&lt;/script&gt;&amp;"),
        (SUPERVISOR, "/board".to_owned(), "&lt;img src=x onerror=alert(2)&gt;"),
        (APPLICANT, "/tickets/T000001".to_owned(), "&lt;img src=x onerror=alert(2)&gt;"),
    ] {
        let session = sign_in(s.addr, token);
        let page = browse(s.addr, "GET", &path, Some(&session), None, &[]).body;
        assert!(page.contains(shown), "{path}: shown escaped: {shown}\n{page}");
        assert!(!page.contains("<script>alert(1)"), "{path}: no markup from users");
        assert!(!page.contains("<img src=x"), "{path}: no markup from users");
    }
}

/// Reads `data:` lines of an event stream until `want` arrived or `limit` passed.
fn sse(addr: SocketAddr, session: &str, want: usize, limit: Duration) -> Vec<String> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    write!(
        stream,
        "GET /live HTTP/1.1\r\nhost: {addr}\r\ncookie: yichuang_session={session}\r\nlast-event-id: 0\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut data = Vec::new();
    let deadline = Clock::now() + limit;
    let mut line = String::new();
    while data.len() < want && Clock::now() < deadline {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                if let Some(d) = line.trim_end().strip_prefix("data: ") {
                    data.push(d.to_owned());
                }
            }
            Err(_) => continue,
        }
    }
    data
}

#[test]
fn an_applicants_live_feed_carries_only_their_own_streams() {
    let scratch = Scratch::new("web-live");
    let s = server(&scratch.db(), &["--clock", MONDAY]);
    let zhang_case = accepted_case(s.addr, "open-restaurant", json!({"sells-tobacco": "否"}));
    let li_id = "110101199001011234";
    let r = post(s.addr, "/v1/cases", CLERK, &submission("open-business", li_id, json!({})));
    let li_case = expect(&r, 201)["id"].as_str().unwrap().to_owned();
    let head = head(s.addr);
    let zhang = sign_in(s.addr, APPLICANT);
    let li = sign_in(s.addr, LI);
    let staff = sign_in(s.addr, SUPERVISOR);
    // From the start of the log: staff see every event, each applicant their own case's.
    let all = sse(s.addr, &staff, head as usize, Duration::from_secs(10));
    assert_eq!(all.len() as u64, head, "staff follow every event");
    let zhang_feed = sse(s.addr, &zhang, head as usize, Duration::from_secs(2));
    let li_feed = sse(s.addr, &li, head as usize, Duration::from_secs(2));
    assert!(!zhang_feed.is_empty() && !li_feed.is_empty());
    assert!(zhang_feed.iter().all(|d| d.contains(&zhang_case)), "{zhang_feed:?}");
    assert!(li_feed.iter().all(|d| d.contains(&li_case)), "{li_feed:?}");
    assert_eq!(zhang_feed.len() + li_feed.len(), all.len(), "between them, every event");
    let sample: serde_json::Value = serde_json::from_str(&zhang_feed[0]).unwrap();
    assert_eq!(sample.as_object().unwrap().len(), 3, "position, stream and event name only: {sample}");
    // Without a session there is no feed.
    let r = browse(s.addr, "GET", "/live", None, None, &[]);
    assert_eq!(r.status, 401);
}

#[test]
fn the_board_turns_yellow_and_red_at_the_policys_thresholds_on_the_plans_dates() {
    let scratch = Scratch::new("web-board");
    let s = server(&scratch.db(), &["--clock", MONDAY]);
    let case = accepted_case(s.addr, "open-restaurant", json!({"sells-tobacco": "否"}));
    let def = definition();
    let cal = def.calendar();
    let monday = MONDAY.parse::<Instant>().unwrap();
    let answers = [("sells-tobacco".to_owned(), "否".to_owned())].into_iter().collect();
    let plan = def.bundle(def.bundle_ix("open-restaurant").unwrap()).plan(def, monday.date(), &answers).unwrap();
    let licence = plan.members.iter().find(|m| m.item == "business-licence").unwrap();
    // The licence's clock: from the acceptance, 1 working day, yellow at the policy's 90 %.
    let clock = Sla::start(cal, monday, licence.promised_days, def.policies().warning_percent).unwrap();
    let (warning, due) = (clock.next_deadline().unwrap(), clock.deadline(cal).unwrap());
    assert_eq!(due, cal.office_close(licence.due), "red at the close of the plan's due date {}", licence.due);
    assert_eq!(licence.due, "2026-03-10".parse::<Date>().unwrap());
    let minute_before = |t: Instant| Instant::from_minutes(t.minutes() - 1);
    let signals = |at: Instant| {
        expect(&post(s.addr, "/v1/clock", ADMIN, &json!({ "now": at })), 200);
        let board = expect(&get(s.addr, "/v1/board", SUPERVISOR), 200);
        let row =
            board["departments"].as_array().unwrap().iter().find(|d| d["id"] == "market-access").cloned().unwrap();
        let tickets: Vec<String> =
            board["tickets"].as_array().unwrap().iter().map(|t| t["source"].as_str().unwrap().to_owned()).collect();
        (
            row["signals"]["green"].as_u64().unwrap(),
            row["signals"]["yellow"].as_u64().unwrap(),
            row["signals"]["red"].as_u64().unwrap(),
            tickets,
        )
    };
    assert_eq!(signals(minute_before(warning)), (1, 0, 0, vec![]), "green until the threshold");
    assert_eq!(signals(warning), (0, 1, 0, vec![]), "yellow at {warning}");
    assert_eq!(signals(minute_before(due)), (0, 1, 0, vec![]));
    let (green, yellow, red, tickets) = signals(due);
    assert_eq!((green, yellow, red), (0, 0, 1), "red at {due}");
    assert_eq!(tickets.len(), 1, "one 督办 ticket: {tickets:?}");
    assert!(tickets[0].starts_with("督办") && tickets[0].contains(&case), "{tickets:?}");
    // The page says the same, in words.
    let session = sign_in(s.addr, SUPERVISOR);
    let page = browse(s.addr, "GET", "/board", Some(&session), None, &[]).body;
    assert!(page.contains(r#"<span class="count" id="total-red">1</span>"#), "the page's red counter");
    assert!(page.contains("督办：企业设立登记（营业执照核发） 逾期"), "the ticket in words");
}

/// Every page and form about a case or ticket, for an applicant whose case it is not, answers
/// exactly as for one that does not exist, names no one, and changes nothing — as the API does
/// (`strangers.rs`): the server decides, not a hidden link.
#[test]
fn a_strangers_case_or_ticket_reads_as_a_missing_one_on_every_page() {
    let scratch = Scratch::new("web-strangers");
    let s = server(&scratch.db(), &["--clock", MONDAY]);
    let case = accepted_case(s.addr, "open-restaurant", json!({"sells-tobacco": "否"}));
    let complaint =
        json!({"source": "complaint", "target": {"Department": "market-access"}, "case": case, "text": "慢"});
    let ticket = expect(&post(s.addr, "/v1/tickets", APPLICANT, &complaint), 201)["id"].as_str().unwrap().to_owned();
    let (missing_case, missing_ticket) = ("C000099", "T000099");
    let li = sign_in(s.addr, LI);
    let token = csrf(&browse(s.addr, "GET", "/my", Some(&li), None, &[]).body);
    let before = head(s.addr);
    let forms: Vec<(String, String)> = [
        ("/cases/{case}/act", "command=withdraw".to_owned()),
        ("/cases/{case}/act", "command=rate&stars=1".to_owned()),
        ("/cases/{case}/act", "command=supply&material=premises-proof".to_owned()),
        ("/cases/{case}/act", "command=accept".to_owned()),
        ("/cases/{case}/tasks/business-licence/act", "command=claim".to_owned()),
        ("/my/complaints", format!("department=market-access&case={{case}}&text={}&key=k1", enc("慢"))),
    ]
    .into_iter()
    .map(|(path, form)| (path.to_owned(), format!("{form}&csrf={token}&expected_version=2&back=%2Fmy")))
    .collect();
    let answer = |method: &str, path: &str, form: Option<&str>, case: &str, ticket: &str| {
        let fill = |t: &str| t.replace("{case}", case).replace("{ticket}", ticket);
        let r = browse(s.addr, method, &fill(path), Some(&li), form.map(fill).as_deref(), &[]);
        // A form answers with a redirect and the outcome on the next page: compare that page.
        let page = match r.header("location") {
            Some(next) => browse(s.addr, "GET", next, Some(&li), None, &[]),
            None => r.clone(),
        };
        // Each rendering of a form carries a fresh idempotency key: not part of the comparison.
        let mut body = page.body.replace(case, "CASE").replace(ticket, "TICKET");
        while let Some(at) = body.find("name=\"key\" value=\"").map(|at| at + 19) {
            body.replace_range(at - 19..at + 64, "KEY");
        }
        (r.status, page.status, body)
    };
    let mut pages: Vec<(&str, String, Option<String>)> = ["/cases/{case}", "/cases/{case}/notice", "/tickets/{ticket}"]
        .into_iter()
        .map(|p| ("GET", p.to_owned(), None))
        .collect();
    pages.extend(forms.into_iter().map(|(p, f)| ("POST", p, Some(f))));
    for (method, path, form) in &pages {
        let foreign = answer(method, path, form.as_deref(), &case, &ticket);
        let missing = answer(method, path, form.as_deref(), missing_case, missing_ticket);
        assert_eq!(foreign, missing, "{method} {path}: the same answer as for a missing one");
        assert!(foreign.0 == 404 || foreign.0 == 303, "{method} {path}: {}", foreign.0);
        assert!(!foreign.2.contains(APPLICANT_ID), "{method} {path} names the other applicant");
        let said = ["未找到", "there is no case CASE"].iter().any(|m| foreign.2.contains(m));
        assert!(said, "{method} {path} says it found nothing: {}", foreign.2);
    }
    assert_eq!(head(s.addr), before, "nothing was appended");
    // The owner still sees both.
    let zhang = sign_in(s.addr, APPLICANT);
    assert_eq!(browse(s.addr, "GET", &format!("/cases/{case}"), Some(&zhang), None, &[]).status, 200);
    assert_eq!(browse(s.addr, "GET", &format!("/tickets/{ticket}"), Some(&zhang), None, &[]).status, 200);
}
