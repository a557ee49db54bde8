//! Load generator for `yichuang-server`: many connections, each a team of hall staff working
//! whole cases from intake to rating over keep-alive HTTP/1.1, every command with its own
//! `Idempotency-Key`. Prints commands per second, latency percentiles and errors.
//!
//! ```text
//! cargo run --release -p yichuang-server -- --db /tmp/load.db --listen 127.0.0.1:8080 &
//! cargo run --release -p yichuang-server --example load -- --addr 127.0.0.1:8080 --connections 64 --seconds 20
//! ```
//!
//! Flags: `--addr` (127.0.0.1:8080; several instances of one deployment as `A,B,C`: connection
//! `i` goes to the `i mod n`-th), `--connections` (64), `--seconds` (20), `--warmup-seconds`
//! (2, measured but not counted), `--bundle` (open-business), `--definition` and `--tokens`
//! (the examples). Only loopback addresses are accepted: this tool never loads another machine.
//!
//! A lifecycle of `open-business` is 17 commands: submit, accept, claim and approve each of the
//! six tasks (the countersigned one twice), deliver, rate. Every command is answered only after
//! its events are fsync'd (the service's group commit), so the figures are for durable
//! acknowledgements. Exit code 1 if any request failed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use yichuang_core::definition::{Definition, WindowClass};
use yichuang_core::{Actor, Role};
use yichuang_server::config::Tokens;

struct Args {
    addrs: Vec<SocketAddr>,
    connections: usize,
    seconds: u64,
    warmup_seconds: u64,
    bundle: String,
    definition: String,
    tokens: String,
}

fn parse_args() -> Result<Args, String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut a = Args {
        addrs: vec!["127.0.0.1:8080".parse().expect("a socket address")],
        connections: 64,
        seconds: 20,
        warmup_seconds: 2,
        bundle: "open-business".into(),
        definition: format!("{root}/examples/definitions/county-hall.ron"),
        tokens: format!("{root}/examples/tokens.ron"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag} takes a whole number, not `{v}`"));
        match flag.as_str() {
            "--addr" => {
                a.addrs = value
                    .split(',')
                    .map(|v| v.parse().map_err(|_| format!("--addr: `{v}` is not IP:PORT")))
                    .collect::<Result<_, _>>()?
            }
            "--connections" => a.connections = number(&value)?.clamp(1, 1024) as usize,
            "--seconds" => a.seconds = number(&value)?.clamp(1, 600),
            "--warmup-seconds" => a.warmup_seconds = number(&value)?.min(60),
            "--bundle" => a.bundle = value,
            "--definition" => a.definition = value,
            "--tokens" => a.tokens = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if let Some(addr) = a.addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!("--addr {addr} is not a loopback address; this tool loads only this machine"));
    }
    Ok(a)
}

/// What the workers need to know about the hall.
struct Plan {
    bundle: String,
    materials: Vec<String>,
    intake: String,
    delivery: String,
    /// Item → the tokens of its deciding departments' reviewers (first one claims).
    reviewers: BTreeMap<String, Vec<String>>,
}

fn plan(args: &Args) -> Result<Plan, String> {
    let text = std::fs::read_to_string(&args.definition).map_err(|e| format!("{}: {e}", args.definition))?;
    let def = Definition::from_ron(&text, &args.definition).map_err(|e| e.to_string())?;
    let tokens = Tokens::load(std::path::Path::new(&args.tokens), &def)?;
    let ix = def.bundle_ix(&args.bundle).ok_or_else(|| format!("no bundle {}", args.bundle))?;
    let bundle = def.bundle(ix);
    let materials = bundle
        .materials
        .iter()
        .map(|&(m, _)| def.material(m))
        .filter(|m| m.shared_source.is_none())
        .map(|m| m.id.to_string())
        .collect();
    let clerk = |class: WindowClass| {
        tokens
            .find(|a: &Actor| matches!(&a.role, Role::Clerk { window } if def.window(window).is_some_and(|w| w.class == class)))
            .map(str::to_owned)
            .ok_or_else(|| format!("the tokens file has no clerk of a {class:?} window"))
    };
    let mut reviewers = BTreeMap::new();
    for member in &bundle.members {
        let item = def.item(member.item);
        let mut list = Vec::new();
        for &d in item.decided_by.approving() {
            let id = &def.department(d).id;
            let token = tokens
                .find(|a| matches!(&a.role, Role::Reviewer { department } if department == id))
                .ok_or_else(|| format!("the tokens file has no reviewer of {id}"))?;
            list.push(token.to_owned());
        }
        reviewers.insert(item.id.to_string(), list);
    }
    Ok(Plan {
        bundle: args.bundle.clone(),
        materials,
        intake: clerk(WindowClass::Intake)?,
        delivery: clerk(WindowClass::Delivery)?,
        reviewers,
    })
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    stream: BufReader<TcpStream>,
    line: String,
}

impl Connection {
    async fn open(addr: SocketAddr) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream: BufReader::new(stream), line: String::new() })
    }

    /// Sends one POST and returns (status, body).
    async fn post(&mut self, path: &str, token: &str, key: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: load\r\nauthorization: Bearer {token}\r\nidempotency-key: {key}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        self.line.clear();
        self.stream.read_line(&mut self.line).await?;
        let status = self.line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad status line {:?}", self.line))
        })?;
        let mut length = 0usize;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    commands: u64,
    errors: u64,
    first_error: Option<String>,
    cases_closed: u64,
}

/// Drives cases on one connection until `end`; measures from `measure_from`.
async fn worker(id: usize, addr: SocketAddr, plan: Arc<Plan>, measure_from: Clock, end: Clock) -> Tally {
    let mut tally = Tally::default();
    let mut conn = match Connection::open(addr).await {
        Ok(c) => c,
        Err(e) => {
            tally.errors += 1;
            tally.first_error = Some(format!("connect: {e}"));
            return tally;
        }
    };
    let mut counter = 0u64;
    let materials = serde_json::to_string(&plan.materials).expect("ids serialize");
    'cases: while Clock::now() < end {
        counter += 1;
        let applicant = format!("load-{id}-{counter}");
        let mut queue: Vec<(String, String, String)> = Vec::new();
        let submit = format!(
            r#"{{"bundle":"{}","applicant":{{"id":"{applicant}","name":"压测企业"}},"materials":{materials}}}"#,
            plan.bundle
        );
        queue.push(("/v1/cases".into(), plan.intake.clone(), submit));
        let mut case = String::new();
        let mut step = 0;
        while let Some((path, token, body)) = queue.pop() {
            step += 1;
            let key = format!("load-{id}-{counter}-{step}");
            let started = Clock::now();
            let result = conn.post(&path, &token, &key, &body).await;
            let elapsed = started.elapsed();
            let (status, body) = match result {
                Ok(r) => r,
                Err(e) => {
                    tally.errors += 1;
                    tally.first_error.get_or_insert_with(|| format!("{path}: {e}"));
                    match Connection::open(addr).await {
                        Ok(c) => conn = c,
                        Err(_) => return tally,
                    }
                    continue 'cases;
                }
            };
            if started >= measure_from {
                tally.latencies_us.push(elapsed.as_micros().min(u128::from(u32::MAX)) as u32);
                tally.commands += 1;
            }
            if !(200..300).contains(&status) {
                tally.errors += 1;
                tally.first_error.get_or_insert_with(|| format!("{path}: {status} {}", String::from_utf8_lossy(&body)));
                continue 'cases;
            }
            let Ok(value) = serde_json::from_slice::<Value>(&body) else {
                tally.errors += 1;
                continue 'cases;
            };
            if case.is_empty() {
                case = value["id"].as_str().unwrap_or_default().to_owned();
                queue.push((
                    format!("/v1/cases/{case}/commands"),
                    plan.intake.clone(),
                    r#"{"command":"accept"}"#.into(),
                ));
                continue;
            }
            for event in value["events"].as_array().into_iter().flatten() {
                let event = &event["event"];
                if let Some(item) = event["TaskReady"]["item"].as_str() {
                    let reviewers = &plan.reviewers[item];
                    let path = format!("/v1/cases/{case}/tasks/{item}/commands");
                    // Pushed in reverse: the claim runs first, then each department's approval.
                    for r in reviewers.iter().rev() {
                        queue.push((path.clone(), r.clone(), r#"{"command":"approve"}"#.into()));
                    }
                    queue.push((path, reviewers[0].clone(), r#"{"command":"claim"}"#.into()));
                }
                if event.get("CaseDecided").is_some() {
                    let path = format!("/v1/cases/{case}/commands");
                    queue.push((path.clone(), plan.delivery.clone(), r#"{"command":"rate","stars":5}"#.into()));
                    queue.push((path, plan.delivery.clone(), r#"{"command":"deliver","method":"Window"}"#.into()));
                }
                if event.get("Rated").is_some() {
                    tally.cases_closed += 1;
                }
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let plan = match plan(&args) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let start = Clock::now();
    let measure_from = start + Duration::from_secs(args.warmup_seconds);
    let end = measure_from + Duration::from_secs(args.seconds);
    let workers: Vec<_> = (0..args.connections)
        .map(|i| tokio::spawn(worker(i, args.addrs[i % args.addrs.len()], Arc::clone(&plan), measure_from, end)))
        .collect();
    let mut all = Tally::default();
    for w in workers {
        let Ok(t) = w.await else { continue };
        all.latencies_us.extend(t.latencies_us);
        all.commands += t.commands;
        all.errors += t.errors;
        all.cases_closed += t.cases_closed;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    let measured = Clock::now().saturating_duration_since(measure_from).as_secs_f64().max(1e-9);
    all.latencies_us.sort_unstable();
    let l = &all.latencies_us;
    println!(
        "{} connections, {:.1} s measured (after {} s warm-up), bundle {}",
        args.connections, measured, args.warmup_seconds, plan.bundle
    );
    println!(
        "commands: {} ({:.0}/s), cases closed: {}, errors: {}",
        all.commands,
        all.commands as f64 / measured,
        all.cases_closed,
        all.errors
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        percentile(l, 50.0),
        percentile(l, 90.0),
        percentile(l, 99.0),
        percentile(l, 99.9),
        percentile(l, 100.0)
    );
    if let Some(e) = &all.first_error {
        println!("first error: {e}");
    }
    if all.errors > 0 { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }
}
