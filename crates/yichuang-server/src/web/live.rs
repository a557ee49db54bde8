//! `GET /live`: what the pages listen to for live updates.
//!
//! The committed-event feed of `/v1/stream` ([`crate::stream::follow`]: the same backlog, the
//! same resumption with `Last-Event-ID`, the same guarantee that only committed events are
//! sent), authenticated by the session cookie (an `EventSource` cannot send an `Authorization`
//! header) and reduced to what a page needs to know that it is stale: `id: <position>`,
//! `event: <EventName>`, `data: {"position": N, "stream": "C000001"}`. Staff receive every
//! event; an applicant only the events of their own cases and of the tickets about them, so the
//! feed tells an applicant nothing about anyone else.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use yichuang_core::{Actor, CaseId, Role, StreamId};

use crate::api::App;
use crate::state::WireEvent;
use crate::stream::{View, follow};

use super::{Viewer, api_error_page, secure};

fn ping(e: &WireEvent) -> Event {
    let data = serde_json::json!({ "position": e.position, "stream": e.stream.to_string(), "event": e.name });
    // No `event:` field: a browser's `onmessage` receives every event.
    Event::default().id(e.position.to_string()).data(data.to_string())
}

/// Whether a new stream becomes the applicant's: their own submission or consultation, or a
/// ticket opened about one of their cases.
fn adopts(actor: &Actor, mine: &BTreeSet<StreamId>, e: &WireEvent) -> bool {
    if !matches!(e.name, "Submitted" | "Consulted" | "TicketOpened") {
        return false;
    }
    let Ok(v) = serde_json::from_str::<Value>(&e.json) else { return false };
    let event = &v["event"];
    match e.name {
        "Submitted" | "Consulted" => event[e.name]["applicant"]["id"].as_str() == Some(actor.id.as_str()),
        _ => {
            let source = &event["TicketOpened"]["source"];
            let case = source.as_object().and_then(|o| o.values().next()).and_then(|s| s["case"].as_u64());
            case.is_some_and(|n| mine.contains(&StreamId::Case(CaseId(n))))
        }
    }
}

/// The handler.
pub async fn stream(State(app): State<App>, viewer: Viewer, headers: HeaderMap) -> Response {
    let inner = app.inner();
    // Subscribe first: anything committed from now on is in the feed.
    let feed = inner.shared.events.subscribe();
    let head = inner.shared.head.load(Ordering::Acquire);
    // A browser resumes with the last id it saw; a position past the head (another database
    // since) starts at the head: the page only needs to know it is stale.
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|p| *p <= head);
    let view: View = match viewer.actor.role {
        Role::Applicant => {
            let actor = viewer.actor.clone();
            let asked = actor.clone();
            let mine = app.view(move |read| Ok(read.visible_streams(&asked))).await;
            let mut mine = match mine {
                Ok(mine) => mine,
                Err(e) => return api_error_page(Some(&viewer), &e),
            };
            Box::new(move |e: &WireEvent| {
                if !mine.contains(&e.stream) {
                    if !adopts(&actor, &mine, e) {
                        return None;
                    }
                    mine.insert(e.stream);
                }
                Some(ping(e))
            })
        }
        _ => Box::new(|e: &WireEvent| Some(ping(e))),
    };
    secure(follow(&app, feed, resume, view).into_response())
}
