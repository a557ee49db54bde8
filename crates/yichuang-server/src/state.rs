//! State shared between the writer thread and the HTTP tasks: the committed head, the live
//! event feed and the counters behind `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use tokio::sync::broadcast;
use yichuang_store::StoredEvent;

/// Batches of committed events the live feed keeps for slow subscribers; one that falls further
/// behind reads the rest from the store.
pub const FEED_BATCHES_MAX: usize = 1024;

/// A committed event as it goes over the wire.
#[derive(Debug, Clone)]
pub struct WireEvent {
    /// Global position (the SSE id).
    pub position: u64,
    /// Event name (the SSE event type).
    pub name: &'static str,
    /// The case or ticket it belongs to.
    pub stream: yichuang_core::StreamId,
    /// `{"position":…,"v":1,"stream":…,…}`.
    pub json: Arc<str>,
}

impl WireEvent {
    /// The wire form of a stored event.
    pub fn of(e: &StoredEvent) -> WireEvent {
        let record = e.event.record();
        WireEvent { position: e.position, name: record.event.name(), stream: record.stream, json: e.wire_json().into() }
    }
}

/// Shared by the writer and the HTTP tasks.
#[derive(Debug)]
pub struct Shared {
    /// The position of the last committed event.
    pub head: AtomicU64,
    /// Committed batches, for the live stream.
    pub events: broadcast::Sender<Arc<[WireEvent]>>,
    /// Cases held (after the last batch).
    pub cases: AtomicU64,
    /// Tickets held (after the last batch).
    pub tickets: AtomicU64,
    /// Counters.
    pub metrics: Metrics,
    /// Idempotency records in the store (from the start's count, kept up to date by the writer).
    pub idempotency_records: AtomicU64,
    /// Where the start is: replaying, ready or refused, and how far the replay got.
    pub replay: Replay,
    /// The connection loop's counters.
    pub connections: Arc<crate::serve::ConnectionStats>,
    /// The open event streams and how far each got.
    pub streams: Streams,
}

/// The open event streams: the last position each has sent, for their lag.
#[derive(Debug, Default)]
pub struct Streams {
    positions: Mutex<BTreeMap<u64, Arc<AtomicU64>>>,
    next: AtomicU64,
    /// Times a stream fell behind the live feed and re-read from the store.
    pub lagged: AtomicU64,
}

impl Streams {
    /// Registers a stream that has sent everything up to `position`; the returned key
    /// unregisters it.
    pub fn open(&self, position: u64) -> (u64, Arc<AtomicU64>) {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let at = Arc::new(AtomicU64::new(position));
        self.positions.lock().expect("the streams lock is never poisoned").insert(key, Arc::clone(&at));
        (key, at)
    }

    /// Forgets a closed stream.
    pub fn close(&self, key: u64) {
        self.positions.lock().expect("the streams lock is never poisoned").remove(&key);
    }

    /// Events up to `head` that the slowest stream has not sent yet (0 without streams).
    pub fn max_lag(&self, head: u64) -> u64 {
        let positions = self.positions.lock().expect("the streams lock is never poisoned");
        positions.values().map(|p| head.saturating_sub(p.load(Ordering::Relaxed))).max().unwrap_or(0)
    }
}

/// The start's progress.
#[derive(Debug, Default)]
pub struct Replay {
    /// [`Phase`] as a number.
    phase: AtomicU8,
    /// Events checked and folded so far.
    pub replayed: AtomicU64,
    /// Events in the log at start.
    pub total: AtomicU64,
    /// How long the replay took, in microseconds (0 until it ends).
    pub duration_micros: AtomicU64,
}

/// Where the service is in its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Checking and folding the log: only `/healthz`, `/readyz`, `/metrics` and
    /// `/openapi.json` answer; everything else is 503 `not_ready`.
    Replaying,
    /// Serving.
    Ready,
    /// The log was refused; the service stops.
    Refused,
}

impl Replay {
    /// The phase.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Replaying,
            1 => Phase::Ready,
            _ => Phase::Refused,
        }
    }

    /// Moves to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        let n = match phase {
            Phase::Replaying => 0,
            Phase::Ready => 1,
            Phase::Refused => 2,
        };
        self.phase.store(n, Ordering::Release);
    }
}

impl Shared {
    /// Fresh shared state.
    pub fn new() -> Shared {
        let (events, _) = broadcast::channel(FEED_BATCHES_MAX);
        Shared {
            head: AtomicU64::new(0),
            events,
            cases: AtomicU64::new(0),
            tickets: AtomicU64::new(0),
            metrics: Metrics::default(),
            idempotency_records: AtomicU64::new(0),
            replay: Replay::default(),
            connections: Arc::default(),
            streams: Streams::default(),
        }
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared::new()
    }
}

/// A histogram with fixed upper bounds (cumulative buckets rendered in Prometheus's text format).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// Bounds for durations, in seconds.
pub const SECONDS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Bounds for sizes (commands per group commit).
pub const SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add((value * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the series of this histogram with `labels` (`a="x",b="y"` or empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// The routes whose POST is a command (counted in `yichuang_commands_total`).
const COMMAND_ROUTES: &[&str] = &[
    "/v1/cases",
    "/v1/cases/{id}/commands",
    "/v1/cases/{id}/tasks/{item}/commands",
    "/v1/tickets",
    "/v1/tickets/{id}/commands",
    "/v1/plan/tickets",
];

/// A method as a label (anything unusual is `OTHER`, so that clients cannot mint series).
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// A request series: route, method, status.
type RequestSeries = (&'static str, &'static str, u16);

/// Counters of the service.
#[derive(Debug)]
pub struct Metrics {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Transactions that failed (rolled back).
    pub commit_failures: AtomicU64,
    /// Events appended.
    pub events: AtomicU64,
    /// Events recorded by timers.
    pub timer_events: AtomicU64,
    /// Events appended by other instances of the service and folded here.
    pub events_followed: AtomicU64,
    /// Commands per batch.
    pub batch_commands: Histogram,
    /// Time to append and fsync one batch.
    pub commit_seconds: Histogram,
    /// Requests and their latency by (route, method, status).
    requests: Mutex<BTreeMap<RequestSeries, Arc<Histogram>>>,
    /// Commands by (outcome, code).
    commands: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Open event streams.
    pub streams_open: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            commits: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            events: AtomicU64::new(0),
            timer_events: AtomicU64::new(0),
            events_followed: AtomicU64::new(0),
            batch_commands: Histogram::new(SIZES),
            commit_seconds: Histogram::new(SECONDS),
            requests: Mutex::default(),
            commands: Mutex::default(),
            streams_open: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one answered request; a POST to a command route is also a command, whose outcome
    /// is `ok`, `replayed`, `refused` (4xx, including 400 and 401) or `failed` (5xx), with the
    /// error's code (`none` for a success).
    pub fn request(&self, route: &'static str, method: &str, status: StatusCode, seconds: f64, code: &'static str) {
        let method = method_label(method);
        let series = {
            let mut requests = self.requests.lock().expect("the metrics lock is never poisoned");
            Arc::clone(
                requests.entry((route, method, status.as_u16())).or_insert_with(|| Arc::new(Histogram::new(SECONDS))),
            )
        };
        series.observe(seconds);
        if method == "POST" && COMMAND_ROUTES.contains(&route) {
            let outcome = if code == "replayed" {
                "replayed"
            } else if status.is_success() {
                "ok"
            } else if status.is_client_error() {
                "refused"
            } else {
                "failed"
            };
            let code = if status.is_success() { "none" } else { code };
            *self.commands.lock().expect("the metrics lock is never poisoned").entry((outcome, code)).or_insert(0) += 1;
        }
    }

    /// Counts one batch.
    pub fn batch(&self, commands: usize) {
        if commands > 0 {
            self.batch_commands.observe(commands as f64);
        }
    }

    /// Commands answered with `outcome` (`ok`, `replayed`, `refused`, `failed`), all codes.
    pub fn commands(&self, outcome: &str) -> u64 {
        let commands = self.commands.lock().expect("the metrics lock is never poisoned");
        commands.iter().filter(|((o, _), _)| *o == outcome).map(|(_, n)| n).sum()
    }

    /// Writes the request and command families.
    pub fn render_requests(&self, out: &mut String) {
        let requests: Vec<_> = {
            let map = self.requests.lock().expect("the metrics lock is never poisoned");
            map.iter().map(|(k, v)| (*k, Arc::clone(v))).collect()
        };
        let name = "yichuang_http_requests_total";
        let _ = writeln!(out, "# HELP {name} HTTP requests answered, by route, method and status.");
        let _ = writeln!(out, "# TYPE {name} counter");
        for ((route, method, status), h) in &requests {
            let _ = writeln!(
                out,
                "{name}{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                h.count.load(Ordering::Relaxed)
            );
        }
        let name = "yichuang_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to answer an HTTP request (to the response headers), by route, method and status."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for ((route, method, status), h) in &requests {
            h.render(out, name, &format!("route=\"{route}\",method=\"{method}\",status=\"{status}\""));
        }
        let name = "yichuang_commands_total";
        let _ = writeln!(
            out,
            "# HELP {name} Commands answered, by outcome (ok, replayed, refused: 4xx including 400 and 401, failed: 5xx) and error code."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        let commands = self.commands.lock().expect("the metrics lock is never poisoned").clone();
        for outcome in ["ok", "replayed", "refused", "failed"] {
            // Every outcome is present, at 0 until it happens, so that rate() alerts see it.
            if !commands.keys().any(|(o, _)| *o == outcome) {
                let code = if matches!(outcome, "ok" | "replayed") { "none" } else { "unknown" };
                let _ = writeln!(out, "{name}{{outcome=\"{outcome}\",code=\"{code}\"}} 0");
            }
        }
        for ((outcome, code), n) in &commands {
            let _ = writeln!(out, "{name}{{outcome=\"{outcome}\",code=\"{code}\"}} {n}");
        }
    }
}
