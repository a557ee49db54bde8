//! `GET /v1/stream`: every committed event as Server-Sent Events (实时流转, 数据实时共享).
//!
//! Each event is sent as `id: <global position>`, `event: <EventName>`, `data: <event JSON>`.
//! A client that reconnects with `Last-Event-ID: N` (browsers do this by themselves) gets every
//! event after position N, then the live feed; without it, the stream starts at the current
//! head (or after `?after=N`). Only committed events are ever sent: the writer publishes a batch
//! after its transaction is durable.
//!
//! How gaps are avoided: the handler subscribes to the live feed *before* reading the backlog
//! from the store, so an event is either in the store when the backlog is read or in the feed
//! afterwards; positions already sent are skipped. A subscriber that falls more than
//! [`crate::state::FEED_BATCHES_MAX`] batches behind, or sees a jump in positions, reads the
//! missing part from the store again.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::api::App;
use crate::error::ApiError;
use crate::extract::{Caller, Params};
use crate::query::staff_only;
use crate::state::WireEvent;

/// Events read from the store per backlog page.
const PAGE_EVENTS: usize = 512;

/// `?after=N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    after: Option<String>,
}

/// What a follower sends for one committed event: the SSE event, or nothing (the event is
/// skipped, and counted as seen).
pub type View = Box<dyn FnMut(&WireEvent) -> Option<Event> + Send>;

struct Follow {
    app: App,
    view: View,
    last: u64,
    catching_up: bool,
    buffer: VecDeque<WireEvent>,
    feed: broadcast::Receiver<Arc<[WireEvent]>>,
    shutdown: watch::Receiver<bool>,
    /// `last`, shared with `/metrics` (the stream's lag).
    sent: Arc<AtomicU64>,
}

/// Decrements the open-streams gauge and unregisters the stream when it is dropped.
struct Open(App, u64);

impl Drop for Open {
    fn drop(&mut self) {
        let shared = &self.0.inner().shared;
        shared.metrics.streams_open.fetch_sub(1, Ordering::Relaxed);
        shared.streams.close(self.1);
    }
}

/// The handler.
pub async fn get_stream(
    State(app): State<App>,
    Caller(actor): Caller,
    Params(params): Params<StreamParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>, ApiError> {
    staff_only(&actor, "the event stream")?;
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or_else(|| {
            ApiError::bad_request("bad_request", "Last-Event-ID must be an event position (a whole number)")
        })?),
    };
    let after = crate::api::parse_after(params.after.as_deref())?;
    let inner = app.inner();
    // Subscribe first: anything committed from now on is in the feed.
    let feed = inner.shared.events.subscribe();
    let resume = last_event_id.or(after);
    let head = inner.shared.head.load(Ordering::Acquire);
    if let Some(position) = resume
        && position > head
    {
        // A position the log has not reached: following from there would silently skip every
        // event up to it.
        let (what, hint) = match last_event_id {
            Some(_) => ("Last-Event-ID", "reconnect without it to start at the head"),
            None => ("after", "omit it to start at the head"),
        };
        return Err(ApiError::bad_request(
            "bad_request",
            format!(
                "{what} {position} is past the log: its head is {head}; give a position from 0 to {head}, or {hint}"
            ),
        ));
    }
    let view: View =
        Box::new(|e: &WireEvent| Some(Event::default().id(e.position.to_string()).event(e.name).data(&*e.json)));
    Ok(follow(&app, feed, resume, view))
}

/// The live feed from after `resume` (or from the head), each committed event passed through
/// `view`; `feed` must have been subscribed before the head or `resume` was read, so that no
/// event falls between the backlog and the feed.
pub fn follow(
    app: &App,
    feed: broadcast::Receiver<Arc<[WireEvent]>>,
    resume: Option<u64>,
    view: View,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let inner = app.inner();
    let (last, catching_up) = match resume {
        Some(after) => (after, true),
        None => (inner.shared.head.load(Ordering::Acquire), false),
    };
    inner.shared.metrics.streams_open.fetch_add(1, Ordering::Relaxed);
    let (key, sent) = inner.shared.streams.open(last);
    let follow = Follow {
        app: app.clone(),
        view,
        last,
        catching_up,
        buffer: VecDeque::new(),
        feed,
        shutdown: inner.shutdown.clone(),
        sent,
    };
    let open = Open(app.clone(), key);
    let stream = futures_util::stream::unfold((follow, open), |(mut f, open)| async move {
        let event = f.next().await?;
        Some((Ok(event), (f, open)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

impl Follow {
    /// The next event to send, or `None` when the stream ends (shutdown, storage error).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.buffer.pop_front() {
                if e.position <= self.last {
                    continue;
                }
                if e.position != self.last + 1 {
                    // A jump: something between was not seen; read it from the store.
                    self.buffer.clear();
                    self.catching_up = true;
                    continue;
                }
                self.last = e.position;
                self.sent.store(e.position, Ordering::Relaxed);
                match (self.view)(&e) {
                    Some(event) => return Some(event),
                    None => continue,
                }
            }
            if self.catching_up {
                let after = self.last;
                let page = self.app.inner_read(after).await?;
                if page.is_empty() {
                    self.catching_up = false;
                } else {
                    self.buffer.extend(page);
                }
                continue;
            }
            if *self.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                batch = self.feed.recv() => match batch {
                    Ok(batch) => self.buffer.extend(batch.iter().filter(|e| e.position > self.last).cloned()),
                    Err(RecvError::Lagged(_)) => {
                        self.app.inner().shared.streams.lagged.fetch_add(1, Ordering::Relaxed);
                        self.catching_up = true;
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.shutdown.changed() => return None,
            }
        }
    }
}

impl App {
    /// One backlog page after `after`, or `None` if the store cannot be read (the stream then
    /// ends; the client reconnects with `Last-Event-ID`).
    async fn inner_read(&self, after: u64) -> Option<Vec<WireEvent>> {
        let readers = Arc::clone(&self.inner().readers);
        let page = tokio::task::spawn_blocking(move || readers.read_after(after, PAGE_EVENTS)).await;
        match page {
            Ok(Ok(events)) => Some(events.iter().map(WireEvent::of).collect()),
            _ => None,
        }
    }
}
