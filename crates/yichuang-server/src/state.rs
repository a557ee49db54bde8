//! State shared between the writer thread and the HTTP tasks: the committed head, the live
//! event feed and the counters behind `/metrics`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// `{"position":…,"v":1,"stream":…,…}`.
    pub json: Arc<str>,
}

impl WireEvent {
    /// The wire form of a stored event.
    pub fn of(e: &StoredEvent) -> WireEvent {
        WireEvent { position: e.position, name: e.event.record().event.name(), json: e.wire_json().into() }
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
        }
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared::new()
    }
}

/// A histogram with fixed upper bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

const SECONDS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];
const SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
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

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Counters of the service.
#[derive(Debug)]
pub struct Metrics {
    /// Commands answered 2xx (executed now).
    pub commands_ok: AtomicU64,
    /// Commands answered from an idempotency record.
    pub commands_replayed: AtomicU64,
    /// Commands refused (4xx).
    pub commands_refused: AtomicU64,
    /// Commands that failed on the service's side (5xx).
    pub commands_failed: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Transactions that failed (rolled back).
    pub commit_failures: AtomicU64,
    /// Events appended.
    pub events: AtomicU64,
    /// Events recorded by timers.
    pub timer_events: AtomicU64,
    /// Commands per batch.
    pub batch_commands: Histogram,
    /// Time to append and fsync one batch.
    pub commit_seconds: Histogram,
    /// Time to answer an HTTP request.
    pub request_seconds: Histogram,
    /// Responses by status class (index 0 = 1xx … 4 = 5xx).
    pub responses: [AtomicU64; 5],
    /// Open event streams.
    pub streams_open: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            commands_ok: AtomicU64::new(0),
            commands_replayed: AtomicU64::new(0),
            commands_refused: AtomicU64::new(0),
            commands_failed: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            events: AtomicU64::new(0),
            timer_events: AtomicU64::new(0),
            batch_commands: Histogram::new(SIZES),
            commit_seconds: Histogram::new(SECONDS),
            request_seconds: Histogram::new(SECONDS),
            responses: Default::default(),
            streams_open: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one answered command.
    pub fn command(&self, status: StatusCode, replayed: bool) {
        let counter = if replayed {
            &self.commands_replayed
        } else if status.is_success() {
            &self.commands_ok
        } else if status.is_client_error() {
            &self.commands_refused
        } else {
            &self.commands_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one batch.
    pub fn batch(&self, commands: usize) {
        if commands > 0 {
            self.batch_commands.observe(commands as f64);
        }
    }

    /// Counts one HTTP response.
    pub fn response(&self, status: StatusCode, seconds: f64) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        self.request_seconds.observe(seconds);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, head: u64, cases: u64, tickets: u64) -> String {
        let mut out = String::with_capacity(4096);
        let counter = |out: &mut String, name: &str, help: &str, labels: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (label, value) in labels {
                if label.is_empty() {
                    let _ = writeln!(out, "{name} {value}");
                } else {
                    let _ = writeln!(out, "{name}{{{label}}} {value}");
                }
            }
        };
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "yichuang_commands_total",
            "Commands answered, by outcome.",
            &[
                ("outcome=\"ok\"", get(&self.commands_ok)),
                ("outcome=\"replayed\"", get(&self.commands_replayed)),
                ("outcome=\"refused\"", get(&self.commands_refused)),
                ("outcome=\"failed\"", get(&self.commands_failed)),
            ],
        );
        counter(&mut out, "yichuang_commits_total", "Transactions committed (fsync'd).", &[("", get(&self.commits))]);
        counter(
            &mut out,
            "yichuang_commit_failures_total",
            "Transactions that failed and were rolled back.",
            &[("", get(&self.commit_failures))],
        );
        counter(&mut out, "yichuang_events_appended_total", "Events appended.", &[("", get(&self.events))]);
        counter(
            &mut out,
            "yichuang_timer_events_total",
            "Events recorded by timers.",
            &[("", get(&self.timer_events))],
        );
        let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];
        let labels: Vec<(String, u64)> =
            classes.iter().zip(&self.responses).map(|(c, n)| (format!("class=\"{c}\""), get(n))).collect();
        let labels: Vec<(&str, u64)> = labels.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        counter(&mut out, "yichuang_http_responses_total", "HTTP responses, by status class.", &labels);
        self.batch_commands.render(&mut out, "yichuang_batch_commands", "Commands decided and committed together.");
        self.commit_seconds.render(&mut out, "yichuang_commit_seconds", "Time to append and fsync one batch.");
        self.request_seconds.render(&mut out, "yichuang_http_request_seconds", "Time to answer an HTTP request.");
        let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        gauge(&mut out, "yichuang_log_head", "Position of the last committed event.", head);
        gauge(&mut out, "yichuang_streams_open", "Open event streams (SSE).", get(&self.streams_open));
        gauge(&mut out, "yichuang_cases", "Cases held.", cases);
        gauge(&mut out, "yichuang_tickets", "Tickets held.", tickets);
        out
    }
}
