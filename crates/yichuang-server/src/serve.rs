//! The connection loop: accepts TCP connections and serves each over HTTP/1.1 (hyper) with the
//! limits a public service needs, which `axum::serve` does not offer.
//!
//! Every limit has a flag and a default ([`Limits`], docs/operations.md "Limits and timeouts"):
//!
//! - **Header timeout**: a request's headers must arrive within `--header-timeout-ms` of its
//!   first byte, or the connection is closed (a client that sends half a request line keeps
//!   nothing open for long).
//! - **Idle timeout**: a kept-alive connection with no request for `--idle-timeout-ms` is
//!   closed (the header timeout does not start until a request does).
//! - **Body timeout**: enforced where the body is read ([`crate::extract::JsonBody`]): the whole
//!   body within `--body-timeout-ms`, or 408.
//! - **Connection cap**: at `--max-connections` open connections, a new one first makes room
//!   by closing the connection idle the longest (or, failing that, the oldest one still sending
//!   its headers), and the next is not accepted before that one is gone (so open descriptors
//!   stay within the cap plus one); when every connection is busy, the new one gets a 503
//!   `too_many_connections` and is closed. The cap is lowered at start to fit the process's
//!   file-descriptor limit, so the service never runs out of descriptors for its database.
//! - **Drain**: on shutdown, no new connection is accepted, idle ones close, requests in flight
//!   may finish for `--shutdown-drain-ms`; whatever is still open then is cut.
//!
//! How a connection is watched: the socket is wrapped so that every read stamps the time and,
//! when no request is in flight, marks the start of a new request's headers; the service
//! wrapper counts requests in flight until their response body is fully sent (an event stream
//! is in flight for as long as it runs). A watchdog per connection compares both with the limits.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service;

/// The connection limits (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's headers must arrive within this time of its first byte.
    pub header_timeout: Duration,
    /// A connection without a request for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections at most.
    pub connections_max: usize,
    /// How long requests in flight may finish after a shutdown begins.
    pub drain: Duration,
}

/// The peer of a request's connection (a request extension, for the logs).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Counters of the connection loop, read by `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections refused at the cap (503).
    pub refused: AtomicU64,
    /// Connections closed to make room at the cap.
    pub evicted: AtomicU64,
    /// Connections closed because their headers did not arrive in time.
    pub header_timeouts: AtomicU64,
    /// Connections closed after being idle.
    pub idle_closed: AtomicU64,
    /// Failures to accept (e.g. out of file descriptors).
    pub accept_errors: AtomicU64,
    /// Connections cut at the end of a shutdown drain.
    pub cut: AtomicU64,
}

/// What the shutdown drain did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Connections open when the shutdown began.
    pub open: usize,
    /// Connections still open at the end of the drain, cut.
    pub cut: usize,
}

/// One connection as the watchdog sees it.
#[derive(Debug, Default)]
struct Conn {
    /// Requests whose response is not yet fully sent.
    in_flight: AtomicUsize,
    /// When a byte was last read or a response last finished ([`Registry::now_ms`]).
    last_active_ms: AtomicU64,
    /// When the first byte of a request not yet handed to the service arrived; 0 for none.
    headers_since_ms: AtomicU64,
    /// Told to close to make room at the cap.
    evict: Notify,
    /// Chosen to make room (not chosen again while it closes).
    leaving: AtomicBool,
}

impl Conn {
    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.headers_since_ms.load(Ordering::Acquire) == 0
    }

    fn may_leave(&self) -> bool {
        !self.leaving.load(Ordering::Acquire) && self.in_flight.load(Ordering::Acquire) == 0
    }
}

/// The open connections.
struct Registry {
    base: Instant,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    stats: Arc<ConnectionStats>,
    /// Told when a connection is gone (the accept loop waits on it at the cap).
    closed: Notify,
}

impl Registry {
    /// Milliseconds since the loop started, plus one (so that 0 means "never").
    fn now_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1
    }

    fn len(&self) -> usize {
        self.conns.lock().expect("the registry lock is never poisoned").len()
    }

    fn add(&self) -> (u64, Arc<Conn>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::default());
        conn.last_active_ms.store(self.now_ms(), Ordering::Release);
        self.conns.lock().expect("the registry lock is never poisoned").insert(id, Arc::clone(&conn));
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        (id, conn)
    }

    fn remove(&self, id: u64) {
        if self.conns.lock().expect("the registry lock is never poisoned").remove(&id).is_some() {
            self.stats.open.fetch_sub(1, Ordering::Relaxed);
            self.closed.notify_one();
        }
    }

    /// At the cap with connections already told to make room: accepting more now would only
    /// pile up descriptors, so the loop waits for them to go (the kernel's backlog holds the
    /// new ones meanwhile).
    fn must_wait(&self, connections_max: usize) -> bool {
        let conns = self.conns.lock().expect("the registry lock is never poisoned");
        conns.len() >= connections_max && conns.values().any(|c| c.leaving.load(Ordering::Acquire))
    }

    /// Tells the connection idle the longest — or, if none is idle, the one that has been
    /// sending its headers the longest — to close. False when every connection is busy.
    fn make_room(&self) -> bool {
        let conns = self.conns.lock().expect("the registry lock is never poisoned");
        let candidates = || conns.values().filter(|c| c.may_leave());
        let idle = candidates().filter(|c| c.idle()).min_by_key(|c| c.last_active_ms.load(Ordering::Acquire));
        let victim = idle.or_else(|| candidates().min_by_key(|c| c.headers_since_ms.load(Ordering::Acquire)));
        match victim {
            Some(c) => {
                c.leaving.store(true, Ordering::Release);
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// The socket, stamping reads for the watchdog.
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.registry.now_ms();
            self.conn.last_active_ms.store(now, Ordering::Release);
            if self.conn.in_flight.load(Ordering::Acquire) == 0 {
                // The first byte of a request: its headers' clock starts.
                let _ = self.conn.headers_since_ms.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
            }
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A request in flight; dropped when its response body is done (or abandoned).
struct InFlight {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl InFlight {
    fn start(conn: Arc<Conn>, registry: Arc<Registry>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        // The headers are in: their clock stops.
        conn.headers_since_ms.store(0, Ordering::Release);
        InFlight { conn, registry }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn.last_active_ms.store(self.registry.now_ms(), Ordering::Release);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it is sent.
struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Where the loop is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    Draining,
    Cut,
}

/// Serves `router` on `listener` until `stop` completes, then drains (see the module docs).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stats: Arc<ConnectionStats>,
    stop: impl Future<Output = ()>,
) -> DrainReport {
    let registry = Arc::new(Registry {
        base: Instant::now(),
        next_id: AtomicU64::new(1),
        conns: Mutex::default(),
        stats,
        closed: Notify::new(),
    });
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    let mut tasks = JoinSet::new();
    let mut accept_errors = RateLimited::new(Duration::from_secs(5));
    let mut refusals = RateLimited::new(Duration::from_secs(5));
    tokio::pin!(stop);
    loop {
        if registry.must_wait(limits.connections_max) {
            tokio::select! {
                () = &mut stop => break,
                () = registry.closed.notified() => {}
                // A connection told to go may have started a request meanwhile and stay.
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
            continue;
        }
        tokio::select! {
            () = &mut stop => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    registry.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    if registry.len() >= limits.connections_max && !registry.make_room() {
                        registry.stats.refused.fetch_add(1, Ordering::Relaxed);
                        if let Some(more) = refusals.tick() {
                            tracing::warn!(
                                connections_max = limits.connections_max, refused_since_last = more,
                                "a connection was refused: every connection is busy (--max-connections)"
                            );
                        }
                        tokio::spawn(refuse(stream, limits.connections_max));
                        continue;
                    }
                    let (id, conn) = registry.add();
                    let watch = Watch { id, conn, registry: Arc::clone(&registry), limits, phase: phase_rx.clone() };
                    tasks.spawn(watch.run(stream, peer, router.clone()));
                }
                Err(e) => {
                    registry.stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(more) = accept_errors.tick() {
                        tracing::error!(
                            error = %e, open = registry.len(), failures_since_last = more,
                            "cannot accept a connection; if it says too many open files, raise the \
                             file-descriptor limit (ulimit -n) or lower --max-connections"
                        );
                    }
                    // Out of descriptors: an idle connection gives one back.
                    registry.make_room();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let open = tasks.len();
    tracing::info!(open, drain_ms = limits.drain.as_millis() as u64, "shutting down: draining connections");
    let _ = phase_tx.send(Phase::Draining);
    let drained = tokio::time::timeout(limits.drain, async { while tasks.join_next().await.is_some() {} }).await;
    let cut = match drained {
        Ok(()) => 0,
        Err(_) => {
            let cut = tasks.len();
            let _ = phase_tx.send(Phase::Cut);
            while tasks.join_next().await.is_some() {}
            registry.stats.cut.fetch_add(cut as u64, Ordering::Relaxed);
            cut
        }
    };
    DrainReport { open, cut }
}

/// Says something at most once per interval, with how many times it was not said since.
struct RateLimited {
    every: Duration,
    last: Option<Instant>,
    skipped: u64,
}

impl RateLimited {
    fn new(every: Duration) -> RateLimited {
        RateLimited { every, last: None, skipped: 0 }
    }

    /// `Some(skipped)` when it is time to say it again.
    fn tick(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < self.every) {
            self.skipped += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.skipped))
    }
}

/// The body of the answer to a connection refused at the cap.
pub fn refusal_body(connections_max: usize, request_id: &str) -> String {
    serde_json::json!({ "error": {
        "code": "too_many_connections",
        "message": format!(
            "the service has {connections_max} connections open, its limit (--max-connections), and all are busy; \
             retry in a moment"
        ),
        "request_id": request_id,
    }})
    .to_string()
}

/// Answers 503 on a connection over the cap, without reading the request, and closes it. The
/// request is not read, so its id is a new one.
async fn refuse(mut stream: TcpStream, connections_max: usize) {
    let id = crate::request::new_request_id();
    let body = refusal_body(connections_max, &id);
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nx-request-id: {id}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// One connection and its watchdog.
struct Watch {
    id: u64,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    limits: Limits,
    phase: watch::Receiver<Phase>,
}

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    HeaderTimeout,
    Idle,
}

impl Watch {
    fn verdict(&self) -> Verdict {
        let now = self.registry.now_ms();
        if self.conn.in_flight.load(Ordering::Acquire) > 0 {
            return Verdict::Keep;
        }
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let headers_since = self.conn.headers_since_ms.load(Ordering::Acquire);
        if headers_since != 0 {
            if now.saturating_sub(headers_since) >= ms(self.limits.header_timeout) {
                return Verdict::HeaderTimeout;
            }
            return Verdict::Keep;
        }
        if now.saturating_sub(self.conn.last_active_ms.load(Ordering::Acquire)) >= ms(self.limits.idle_timeout) {
            return Verdict::Idle;
        }
        Verdict::Keep
    }

    async fn run(mut self, stream: TcpStream, peer: SocketAddr, router: Router) {
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Watched { stream, conn: Arc::clone(&self.conn), registry: Arc::clone(&self.registry) });
        let (conn, registry) = (Arc::clone(&self.conn), Arc::clone(&self.registry));
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let in_flight = InFlight::start(Arc::clone(&conn), Arc::clone(&registry));
            request.extensions_mut().insert(Peer(peer));
            let mut router = router.clone();
            async move {
                let response = match router.call(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|inner| Body::new(Tracked { inner, _in_flight: in_flight })))
            }
        });
        let mut builder = http1::Builder::new();
        // The header timeout is this module's: hyper's would also run while a connection waits,
        // idle, for its next request.
        builder.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let shortest = self.limits.header_timeout.min(self.limits.idle_timeout);
        let every = (shortest / 5).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut check = tokio::time::interval(every);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut graceful = *self.phase.borrow() != Phase::Serving;
        if graceful {
            connection.as_mut().graceful_shutdown();
        }
        let stats = Arc::clone(&self.registry.stats);
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    break;
                }
                _ = check.tick() => match self.verdict() {
                    Verdict::Keep => {}
                    Verdict::HeaderTimeout => {
                        stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(%peer, header_timeout_ms = self.limits.header_timeout.as_millis() as u64,
                            "closed a connection whose request headers did not arrive in time");
                        break;
                    }
                    Verdict::Idle => {
                        stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%peer, "closed an idle connection");
                        break;
                    }
                },
                () = self.conn.evict.notified() => {
                    if self.conn.in_flight.load(Ordering::Acquire) == 0 {
                        stats.evicted.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%peer, "closed a connection to make room under --max-connections");
                        break;
                    }
                    // A request started meanwhile: it stays.
                    self.conn.leaving.store(false, Ordering::Release);
                }
                changed = self.phase.changed() => {
                    let phase = *self.phase.borrow_and_update();
                    if changed.is_err() || phase == Phase::Cut {
                        tracing::warn!(%peer, "cut a connection still open at the end of the shutdown drain");
                        break;
                    }
                    if !graceful {
                        graceful = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
        self.registry.remove(self.id);
    }
}

/// The soft limit on open file descriptors and the number open now (Linux; `None` elsewhere).
pub fn file_descriptors() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    let soft = if soft == "unlimited" { u64::MAX } else { soft.parse().ok()? };
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some((soft, open))
}

/// Descriptors kept free for the store, the runtime and the refusals when the cap is fitted to
/// the file-descriptor limit.
pub const DESCRIPTORS_RESERVED: u64 = 32;

/// `wanted`, lowered if needed so that that many connections fit under the file-descriptor
/// limit with [`DESCRIPTORS_RESERVED`] to spare; `None` when it was not lowered.
pub fn fit_connections(wanted: usize) -> Option<usize> {
    let (soft, open) = file_descriptors()?;
    let room = soft.saturating_sub(open).saturating_sub(DESCRIPTORS_RESERVED).max(1);
    (wanted as u64 > room).then_some(room as usize)
}
