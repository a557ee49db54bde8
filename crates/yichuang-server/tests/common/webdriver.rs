//! A small WebDriver client for the browser tests: Debian's `chromedriver` driving Debian's
//! headless `chromium`, over the W3C WebDriver protocol (JSON over HTTP).
//!
//! Hand-written rather than a crate (fantoccini, thirtyfour): the tests need a dozen commands
//! (new session, navigate, find, click, type, read text, run a script, screenshot, the console
//! log), each one JSON request over a loopback socket, and a client crate would bring an async
//! HTTP stack and the `webdriver` crate's types for them. Blocking calls suit tests that wait.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The browser and its driver, if this machine has them: (chromium, chromedriver).
pub fn tools() -> Result<(PathBuf, PathBuf), String> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::var_os("PATH")
                .into_iter()
                .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .map(|dir| dir.join(n))
                .find(|p| p.is_file())
        })
    };
    let browser = find(&["chromium", "chromium-browser"]);
    let driver = find(&["chromedriver"]);
    match (browser, driver) {
        (Some(b), Some(d)) => Ok((b, d)),
        (b, d) => Err(format!(
            "{} not found (install Debian's chromium and chromium-driver packages)",
            [("chromium", b.is_none()), ("chromedriver", d.is_none())]
                .iter()
                .filter(|(_, missing)| *missing)
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(" and ")
        )),
    }
}

/// Whether the browser tests must run (CI sets `YICHUANG_REQUIRE_BROWSER=1`): then a missing
/// browser is a failure, not a skip.
pub fn required() -> bool {
    std::env::var("YICHUANG_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// A running chromedriver.
pub struct Driver {
    child: Child,
    port: u16,
    browser: PathBuf,
    profiles: PathBuf,
    sessions: std::cell::Cell<u32>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profiles);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

/// One HTTP/1.1 exchange with the driver: method, path, JSON body; the JSON answer's `value`.
/// The answer is read to its `Content-Length` (chromedriver keeps connections open).
fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let payload = loop {
        let n = stream.read(&mut buf).map_err(|e| format!("{method} {path}: read: {e}"))?;
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            if n == 0 {
                return Err(format!("{method} {path}: the connection closed before the header"));
            }
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let length =
            head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
        let got = raw.len() - end - 4;
        match length {
            Some(len) if got >= len => break String::from_utf8_lossy(&raw[end + 4..end + 4 + len]).into_owned(),
            None if n == 0 => break String::from_utf8_lossy(&raw[end + 4..]).into_owned(),
            _ if n == 0 => return Err(format!("{method} {path}: the connection closed early")),
            _ => {}
        }
    };
    let v: Value = serde_json::from_str(&payload).map_err(|e| format!("{method} {path}: not JSON ({e}): {payload}"))?;
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return Err(format!("{method} {path}: {error}: {}", value["message"].as_str().unwrap_or("")));
    }
    Ok(value)
}

impl Driver {
    /// Starts chromedriver on a free port, with `browser` as the browser.
    pub fn start(browser: &Path, driver: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profiles = std::env::temp_dir().join(format!("yichuang-browser-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profiles);
        std::fs::create_dir_all(&profiles).expect("a profile directory");
        let d = Driver { child, port, browser: browser.to_owned(), profiles, sessions: std::cell::Cell::new(0) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while call(port, "GET", "/status", None).map_or(true, |v| v["ready"] != json!(true)) {
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// A new headless browser with a fresh profile and a `width`×`height` window.
    pub fn browser(&self, width: u32, height: u32) -> Browser {
        let n = self.sessions.get() + 1;
        self.sessions.set(n);
        let profile = self.profiles.join(format!("profile-{n}"));
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--lang=zh-CN".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": self.browser.display().to_string(), "args": args },
                "goog:loggingPrefs": { "browser": "ALL" },
            } }
        });
        let value = call(self.port, "POST", "/session", Some(&capabilities)).expect("a browser session");
        let session = value["sessionId"].as_str().expect("a session id").to_owned();
        let b = Browser { port: self.port, session };
        b.resize(width, height);
        b
    }
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// One browser session.
pub struct Browser {
    port: u16,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = call(self.port, "DELETE", &format!("/session/{}", self.session), None);
    }
}

impl Browser {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(self.port, method, &format!("/session/{}{path}", self.session), body.as_ref())
    }

    /// Sets the window's size.
    pub fn resize(&self, width: u32, height: u32) {
        self.cmd("POST", "/window/rect", Some(json!({ "width": width, "height": height }))).expect("resize");
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.cmd("GET", "/url", None).expect("url").as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching `css`, if any.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        let v = self.cmd("POST", "/element", Some(json!({ "using": "css selector", "value": css }))).ok()?;
        v[ELEMENT].as_str().map(|id| Element(id.to_owned()))
    }

    /// The first element matching `css` (panics naming the selector and the page otherwise).
    pub fn find(&self, css: &str) -> Element {
        self.try_find(css).unwrap_or_else(|| panic!("no element `{css}` on {}:\n{}", self.url(), self.body_text()))
    }

    /// Every element matching `css`.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v =
            self.cmd("POST", "/elements", Some(json!({ "using": "css selector", "value": css }))).expect("elements");
        v.as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned()))).collect())
            .unwrap_or_default()
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({}))).expect("click");
    }

    /// Clicks the element matching `css`.
    pub fn click_on(&self, css: &str) {
        let e = self.find(css);
        self.click(&e);
    }

    /// Types `text` into an element (after clearing it).
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        let _ = self.cmd("POST", &format!("/element/{}/clear", e.0), Some(json!({})));
        self.cmd("POST", &format!("/element/{}/value", e.0), Some(json!({ "text": text }))).expect("type");
    }

    /// Sends keys to whatever has the focus (e.g. "\u{E004}" is Tab, "\u{E007}" Enter).
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [json!({"type": "keyDown", "value": c.to_string()}), json!({"type": "keyUp", "value": c.to_string()})]
            })
            .collect();
        let body = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] });
        self.cmd("POST", "/actions", Some(body)).expect("keys");
    }

    /// The visible text of an element.
    pub fn text(&self, e: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", e.0), None).expect("text").as_str().unwrap_or_default().to_owned()
    }

    /// The visible text of the element matching `css`, read in one step (a live update may
    /// replace the element at any time, so no reference to it is kept).
    pub fn text_at(&self, css: &str) -> Option<String> {
        let v =
            self.exec("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", json!([css]));
        v.as_str().map(|t| t.trim().to_owned())
    }

    /// The visible text of the element matching `css` (panics if there is none).
    pub fn text_of(&self, css: &str) -> String {
        self.text_at(css).unwrap_or_else(|| panic!("no element `{css}` on {}:\n{}", self.url(), self.body_text()))
    }

    /// The page's visible text.
    pub fn body_text(&self) -> String {
        self.text_at("body").unwrap_or_default()
    }

    /// Runs a script (`return …` to answer) with `args`.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits up to `limit` for `probe` to answer `Some`, checking every 50 ms.
    pub fn wait<T>(&self, what: &str, limit: Duration, probe: impl Fn(&Browser) -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = probe(self) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "waited {limit:?} for {what} on {}; the page says:\n{}",
                self.url(),
                self.exec("return document.documentElement.outerHTML;", json!([])).as_str().unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The browser console's messages since the last call: (level, message).
    pub fn console(&self) -> Vec<(String, String)> {
        let v = self.cmd("POST", "/se/log", Some(json!({ "type": "browser" }))).expect("the browser log");
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        (m["level"].as_str().unwrap_or("").to_owned(), m["message"].as_str().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes a PNG screenshot to `path`: of the whole page (the window grows to the page's
    /// height, at most 4000 pixels), or of its first `height` pixels.
    pub fn screenshot(&self, path: &Path, width: u32, height: Option<u32>) {
        let height = height.unwrap_or_else(|| {
            let h = self.exec("return document.documentElement.scrollHeight;", json!([])).as_u64().unwrap_or(900);
            h.clamp(300, 4000) as u32
        });
        self.resize(width, height);
        let inner = self.exec("return window.innerHeight;", json!([])).as_u64().unwrap_or(u64::from(height)) as u32;
        // The window's frame takes some of its height: grow it until the page shows `height`.
        self.resize(width, height + height.saturating_sub(inner));
        self.exec("window.scrollTo(0, 0); if (document.activeElement) { document.activeElement.blur(); }", json!([]));
        std::thread::sleep(Duration::from_millis(150));
        let shot = self.cmd("GET", "/screenshot", None).expect("a screenshot");
        let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap_or_default()).expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}
