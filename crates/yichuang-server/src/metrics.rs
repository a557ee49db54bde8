//! `GET /metrics`: the Prometheus text exposition (format 0.0.4) of what an operator alerts on.
//! docs/operations.md lists every family with the alerts worth setting; a test runs
//! `promtool check metrics` over it under load.
//!
//! Conventions: names start with `yichuang_` (the process's own with `process_`), counters end
//! in `_total`, durations are in seconds and sizes in bytes, labels have bounded values (routes
//! as the router names them, never raw paths; methods from a fixed list; error codes are the
//! service's own).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::api::App;

/// Writes `# HELP` and `# TYPE`.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample without labels.
fn sample(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// The whole exposition.
pub async fn render(app: &App) -> String {
    let inner = app.inner();
    let shared = &inner.shared;
    let m = &shared.metrics;
    let mut out = String::with_capacity(16 * 1024);
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);

    family(&mut out, "yichuang_build_info", "gauge", "The running build: version and the definition it serves.");
    let _ = writeln!(
        out,
        "yichuang_build_info{{version=\"{}\",definition=\"{}\",definition_fingerprint=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        inner.def.id(),
        inner.about.definition_fingerprint
    );
    process(&mut out, inner.about.started_unix_seconds);

    m.render_requests(&mut out);
    sample(
        &mut out,
        "yichuang_commits_total",
        "counter",
        "Group commits (one fsync'd transaction each).",
        get(&m.commits),
    );
    sample(
        &mut out,
        "yichuang_commit_failures_total",
        "counter",
        "Group commits that failed and were rolled back (their requests got 503).",
        get(&m.commit_failures),
    );
    family(&mut out, "yichuang_group_commit_commands", "histogram", "Commands decided and committed together.");
    m.batch_commands.render(&mut out, "yichuang_group_commit_commands", "");
    family(
        &mut out,
        "yichuang_group_commit_duration_seconds",
        "histogram",
        "Time to append and fsync one group commit.",
    );
    m.commit_seconds.render(&mut out, "yichuang_group_commit_duration_seconds", "");
    sample(&mut out, "yichuang_events_appended_total", "counter", "Events appended to the log.", get(&m.events));
    sample(&mut out, "yichuang_timer_events_total", "counter", "Events recorded by timers.", get(&m.timer_events));
    sample(
        &mut out,
        "yichuang_events_followed_total",
        "counter",
        "Events appended by other instances of the service on the same database and folded here.",
        get(&m.events_followed),
    );
    let depth = inner.writer.max_capacity() - inner.writer.capacity();
    sample(&mut out, "yichuang_writer_queue_depth", "gauge", "Requests waiting for the writer.", depth);
    sample(
        &mut out,
        "yichuang_writer_queue_capacity",
        "gauge",
        "Requests the writer's queue holds before senders wait.",
        inner.writer.max_capacity(),
    );
    sample(&mut out, "yichuang_log_head", "gauge", "Position of the last committed event.", get(&shared.head));
    sample(
        &mut out,
        "yichuang_idempotency_records",
        "gauge",
        "Idempotency records kept (forgotten after --idempotency-days).",
        get(&shared.idempotency_records),
    );
    sample(&mut out, "yichuang_cases", "gauge", "Cases held.", get(&shared.cases));
    sample(&mut out, "yichuang_tickets", "gauge", "Tickets held.", get(&shared.tickets));

    let replay = &shared.replay;
    sample(
        &mut out,
        "yichuang_ready",
        "gauge",
        "1 once the log is replayed and the service serves; 0 before.",
        u8::from(replay.phase() == crate::state::Phase::Ready),
    );
    sample(
        &mut out,
        "yichuang_replay_events",
        "gauge",
        "Events checked and folded at start so far.",
        get(&replay.replayed),
    );
    sample(
        &mut out,
        "yichuang_replay_duration_seconds",
        "gauge",
        "How long the start's check and fold of the log took (0 while it runs).",
        get(&replay.duration_micros) as f64 / 1e6,
    );
    database(&mut out, inner.about.database.as_deref());

    let c = &shared.connections;
    sample(&mut out, "yichuang_connections_open", "gauge", "HTTP connections open.", get(&c.open));
    sample(&mut out, "yichuang_connections_accepted_total", "counter", "HTTP connections accepted.", get(&c.accepted));
    family(
        &mut out,
        "yichuang_connections_closed_total",
        "counter",
        "HTTP connections closed by the service, by reason: refused (503 at --max-connections), evicted (idle, to make room), header_timeout, idle_timeout, cut (at the end of the shutdown drain).",
    );
    for (reason, value) in [
        ("refused", get(&c.refused)),
        ("evicted", get(&c.evicted)),
        ("header_timeout", get(&c.header_timeouts)),
        ("idle_timeout", get(&c.idle_closed)),
        ("cut", get(&c.cut)),
    ] {
        let _ = writeln!(out, "yichuang_connections_closed_total{{reason=\"{reason}\"}} {value}");
    }
    sample(
        &mut out,
        "yichuang_accept_errors_total",
        "counter",
        "Failures to accept a connection (out of file descriptors, …).",
        get(&c.accept_errors),
    );
    sample(&mut out, "yichuang_stream_subscribers", "gauge", "Open event streams (SSE).", get(&m.streams_open));
    let head = get(&shared.head);
    sample(
        &mut out,
        "yichuang_stream_lag_events",
        "gauge",
        "Events committed but not yet sent to the slowest open event stream.",
        shared.streams.max_lag(head),
    );
    sample(
        &mut out,
        "yichuang_stream_lagged_total",
        "counter",
        "Times an event stream fell behind the live feed and read the missed events from the store.",
        get(&shared.streams.lagged),
    );
    // The open work, from the writer (after its current batch); left out if it does not answer
    // within a second (the queue depth above then says why).
    if replay.phase() == crate::state::Phase::Ready {
        let ask = app.ask(yichuang_core::Actor::system(), crate::query::Query::Gauges);
        if let Ok(Ok(gauges)) = tokio::time::timeout(std::time::Duration::from_secs(1), ask).await {
            out.push_str(&gauges);
        }
    }
    out
}

/// `process_*`: memory, file descriptors, CPU and start time (Linux's /proc; absent elsewhere).
fn process(out: &mut String, started: f64) {
    sample(
        out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch, in seconds.",
        started,
    );
    if let Some((limit, open)) = crate::serve::file_descriptors() {
        sample(out, "process_open_fds", "gauge", "Open file descriptors.", open);
        if limit != u64::MAX {
            sample(out, "process_max_fds", "gauge", "The soft limit on open file descriptors.", limit);
        }
    }
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux);
    // vsize is 23 in bytes, rss 24 in pages (4 KiB on the platforms this runs on).
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        sample(
            out,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            (user + system) as f64 / 100.0,
        );
    }
    if let Some(v) = field(23) {
        sample(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", v);
    }
    if let Some(pages) = field(24) {
        sample(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", pages * 4096);
    }
}

/// `yichuang_database_bytes{file}`: the database file and its write-ahead log.
fn database(out: &mut String, path: Option<&std::path::Path>) {
    let Some(path) = path else { return };
    family(
        out,
        "yichuang_database_bytes",
        "gauge",
        "Size of the SQLite database file (db) and of its write-ahead log (wal).",
    );
    let wal = {
        let mut p = path.as_os_str().to_owned();
        p.push("-wal");
        std::path::PathBuf::from(p)
    };
    for (file, p) in [("db", path.to_path_buf()), ("wal", wal)] {
        let bytes = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        let _ = writeln!(out, "yichuang_database_bytes{{file=\"{file}\"}} {bytes}");
    }
}
