//! Test harness: the real `yichuang-server` binary on an ephemeral loopback port with a
//! scratch database, and a tiny blocking HTTP/1.1 client (one connection per request).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

pub const CLERK: &str = "demo-clerk-intake-1";
pub const DELIVERY: &str = "demo-clerk-delivery-1";
pub const APPLICANT: &str = "demo-applicant-zhang";
pub const APPLICANT_ID: &str = "91000000MA00000001";
pub const SUPERVISOR: &str = "demo-supervisor";
pub const ADMIN: &str = "demo-admin";
/// A Wednesday inside the example calendar (2026): tests never depend on the real date.
pub const START: &str = "2026-04-29T09:30";

/// How long a server may take to start (replay included) in a debug build.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub fn reviewer(department: &str) -> String {
    format!("demo-reviewer-{department}")
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("yichuang-server-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }
    pub fn db(&self) -> PathBuf {
        self.0.join("yichuang.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server process.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

/// The outcome of starting a server that may refuse to start.
pub enum Start {
    Running(Server),
    Exited { code: Option<i32>, stderr: String },
}

/// The server binary with `--listen 127.0.0.1:0 --db DB` and `extra`.
pub fn server_command(db: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_yichuang-server"));
    command.arg("--listen").arg("127.0.0.1:0").arg("--db").arg(db).args(extra);
    command
}

/// A server started by `command`, as soon as its port listens (the log may still be replayed),
/// or how it exited.
pub fn listening(mut command: Command) -> Result<Server, (Option<i32>, String)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let stderr = Arc::new(Mutex::new(String::new()));
    {
        let pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
    }
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        for _ in lines {}
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(line)) => {
            let addr = line.rsplit("http://").next().and_then(|a| a.trim().parse().ok());
            let addr = addr.unwrap_or_else(|| panic!("unexpected first line: {line}"));
            Ok(Server { addr, child, stderr })
        }
        _ => {
            let status = child.wait().ok();
            // Let the stderr thread finish reading.
            std::thread::sleep(Duration::from_millis(50));
            let stderr = stderr.lock().unwrap().clone();
            Err((status.and_then(|s| s.code()), stderr))
        }
    }
}

/// A server started by `command` once ready (`/readyz` answers 200), or how it exited.
pub fn ready(command: Command) -> Start {
    let mut s = match listening(command) {
        Ok(s) => s,
        Err((code, stderr)) => return Start::Exited { code, stderr },
    };
    // The port listens while the log is replayed: ready when /readyz says so, refused when the
    // process exits.
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = s.child.try_wait() {
            std::thread::sleep(Duration::from_millis(50));
            return Start::Exited { code: status.code(), stderr: s.stderr() };
        }
        if let Ok(r) = request(s.addr, "GET", "/readyz", None, &[], None)
            && r.status == 200
        {
            return Start::Running(s);
        }
        assert!(std::time::Instant::now() < deadline, "the server was not ready in {START_TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn start(db: &Path, extra: &[&str]) -> Start {
    ready(server_command(db, extra))
}

/// Starts a server with a manual clock at [`START`] (unless `extra` names a clock).
pub fn server(db: &Path, extra: &[&str]) -> Server {
    let mut args: Vec<&str> = extra.to_vec();
    if !args.contains(&"--clock") {
        args.extend(["--clock", START]);
    }
    match start(db, &args) {
        Start::Running(s) => s,
        Start::Exited { code, stderr } => panic!("the server exited with {code:?}:\n{stderr}"),
    }
}

impl Server {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// kill -9.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM-free stop for tests that just end: the same as kill.
    pub fn stop(self) {
        self.kill();
    }

    /// Sends SIGTERM (a clean stop).
    pub fn terminate(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM works");
    }

    /// Waits up to `limit` for the process to exit; its exit code, or `None` if it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<Option<i32>> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the stderr thread finish reading.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status.code());
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The body without the error's `request_id` (which differs from request to request), to
    /// compare two answers.
    pub fn body_without_request_id(&self) -> String {
        let mut v = self.json();
        if let Some(error) = v.get_mut("error").and_then(|e| e.as_object_mut()) {
            error.remove("request_id");
        }
        v.to_string()
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// One request on a fresh connection (`Connection: close`).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, std::io::Error> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("authorization: Bearer {t}\r\n"));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// Sends `bytes` exactly as given on a fresh connection and reads the answer to the end (the
/// request should say `connection: close`).
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Result<Response, std::io::Error> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(bytes)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// A POST with the given headers (and no others but host, authorization and content-length).
pub fn post_with(addr: SocketAddr, path: &str, token: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\nauthorization: Bearer {token}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes).expect("POST")
}

fn parse_response(raw: &[u8]) -> Result<Response, std::io::Error> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned())))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Ok(Response { status, headers, body: String::from_utf8_lossy(&body).to_string() })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

pub fn get(addr: SocketAddr, path: &str, token: &str) -> Response {
    request(addr, "GET", path, Some(token), &[], None).expect("GET")
}

pub fn post(addr: SocketAddr, path: &str, token: &str, body: &Value) -> Response {
    request(addr, "POST", path, Some(token), &[], Some(body.to_string().as_bytes())).expect("POST")
}

pub fn post_key(addr: SocketAddr, path: &str, token: &str, key: &str, body: &Value) -> Response {
    request(addr, "POST", path, Some(token), &[("idempotency-key", key)], Some(body.to_string().as_bytes()))
        .expect("POST")
}

/// Asserts a status, printing the body otherwise.
#[track_caller]
pub fn expect(r: &Response, status: u16) -> Value {
    assert_eq!(r.status, status, "expected {status}, got {}: {}", r.status, r.body);
    if r.body.is_empty() { Value::Null } else { r.json() }
}

/// The log's head as the service reports it.
pub fn head(addr: SocketAddr) -> u64 {
    let r = request(addr, "GET", "/healthz", None, &[], None).expect("healthz");
    expect(&r, 200)["head"].as_u64().expect("a head")
}

/// The example definition (parsed once per test binary).
pub fn definition() -> &'static yichuang_core::Definition {
    static DEF: std::sync::OnceLock<yichuang_core::Definition> = std::sync::OnceLock::new();
    DEF.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron");
        yichuang_core::Definition::from_ron(&std::fs::read_to_string(path).unwrap(), path).unwrap()
    })
}

/// A complete application for a bundle (every material not fetched by data sharing).
pub fn submission(bundle: &str, applicant_id: &str, answers: Value) -> Value {
    let def = definition();
    let b = def.bundle(def.bundle_ix(bundle).expect("a bundle of the example"));
    let materials: Vec<String> = b
        .materials
        .iter()
        .map(|&(m, _)| def.material(m))
        .filter(|m| m.shared_source.is_none())
        .map(|m| m.id.to_string())
        .collect();
    serde_json::json!({
        "bundle": bundle,
        "applicant": {"id": applicant_id, "name": "示例县张三餐饮有限公司"},
        "materials": materials,
        "answers": answers,
    })
}

/// The departments whose approvals approve an item: every one of a countersign (会签), the first
/// of a 或签, the first k of a 票签.
pub fn deciders(item: &str) -> Vec<String> {
    let def = definition();
    let i = def.item(def.item_ix(item).expect("an item of the example"));
    i.decided_by.approving().iter().map(|&d| def.department(d).id.to_string()).collect()
}

/// Submits and accepts a case; returns its id.
pub fn accepted_case(addr: SocketAddr, bundle: &str, answers: Value) -> String {
    let r = post(addr, "/v1/cases", CLERK, &submission(bundle, APPLICANT_ID, answers));
    let id = expect(&r, 201)["id"].as_str().unwrap().to_owned();
    let r = post(addr, &format!("/v1/cases/{id}/commands"), CLERK, &serde_json::json!({"command": "accept"}));
    expect(&r, 200);
    id
}

/// Claims and approves every ready task, round by round, until the case is decided.
pub fn approve_all(addr: SocketAddr, case: &str) -> Value {
    for _ in 0..30 {
        let c = expect(&get(addr, &format!("/v1/cases/{case}"), CLERK), 200);
        if c["state"] != "InApproval" {
            return c;
        }
        let ready: Vec<(String, u64)> = c["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["state"] == "Ready")
            .map(|t| (t["item"].as_str().unwrap().to_owned(), t["level"].as_u64().unwrap()))
            .collect();
        assert!(!ready.is_empty(), "a case in approval has ready tasks: {c}");
        for (item, level) in ready {
            let path = format!("/v1/cases/{case}/tasks/{item}/commands");
            let deciders = deciders(&item);
            // Each review level by another reviewer of the department (受审分离).
            let signer = |d: &str| match level {
                0 => reviewer(d),
                n => format!("{}-{}", reviewer(d), n + 1),
            };
            expect(&post(addr, &path, &signer(&deciders[0]), &serde_json::json!({"command": "claim"})), 200);
            for d in &deciders {
                expect(&post(addr, &path, &signer(d), &serde_json::json!({"command": "approve"})), 200);
            }
        }
    }
    panic!("the case was not decided in 30 rounds");
}

/// The names of a stream's events.
pub fn event_names(addr: SocketAddr, stream_path: &str) -> Vec<String> {
    let r = get(addr, &format!("{stream_path}/events"), CLERK);
    expect(&r, 200)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["event"]
                .as_object()
                .map_or_else(|| e["event"].as_str().unwrap().to_owned(), |o| o.keys().next().unwrap().clone())
        })
        .collect()
}
