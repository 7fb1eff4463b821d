//! One moderator's feed (`GET /v1/alerts`): the filter, `since` replay from memory and
//! from the store, live records, and the review frames a moderator sends.
//!
//! A subscriber that falls more than `alerts.subscriber_queue` records behind the hub's
//! ring, or stalls a write for 5 s, is disconnected with a close frame telling it where
//! to resume.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast;

use super::AppState;
use super::hub::Record;
use super::limits::{PingLimit, TOO_MANY_PINGS};
use crate::auth::Principal;
use crate::event::{Category, Severity};
use crate::telemetry as t;
use crate::wire::{ModeratorFrame, ModeratorReply};

/// What a moderator subscribes to (`GET /v1/alerts?...`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AlertQuery {
    /// Comma-separated rooms (absent: all).
    rooms: Option<String>,
    /// Comma-separated categories (absent: all).
    categories: Option<String>,
    /// Least severity (absent: all).
    min_severity: Option<Severity>,
    /// Replay records after this seq first.
    since: Option<u64>,
    /// Who is reviewing (recorded in review outcomes).
    moderator: Option<String>,
}

/// A parsed subscription filter, within what the subscriber's token covers.
#[derive(Debug)]
pub(crate) struct Filter {
    principal: Arc<Principal>,
    rooms: Option<HashSet<String>>,
    categories: Option<HashSet<Category>>,
    min_severity: Option<Severity>,
}

impl AlertQuery {
    pub(crate) fn filter(&self, principal: Arc<Principal>) -> Result<Filter, String> {
        let list = |s: &Option<String>| {
            s.as_ref().map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect::<HashSet<String>>()
            })
        };
        let categories = match list(&self.categories) {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| {
                        Category::ALL
                            .into_iter()
                            .find(|c| c.as_str() == n)
                            .ok_or_else(|| format!("unknown category `{n}`"))
                    })
                    .collect::<Result<HashSet<Category>, String>>()?,
            ),
        };
        let rooms = list(&self.rooms);
        if let Some(outside) = rooms
            .iter()
            .flatten()
            .find(|room| !principal.may_access(room))
        {
            return Err(format!("room `{outside}` is not among this token's rooms"));
        }
        Ok(Filter {
            principal,
            rooms,
            categories,
            min_severity: self.min_severity,
        })
    }
}

impl Filter {
    fn matches(&self, r: &Record) -> bool {
        self.accepts(&r.room, &r.categories, r.severity)
    }

    fn accepts(&self, room: &str, categories: &[Category], severity: Option<Severity>) -> bool {
        self.principal.may_access(room)
            && self.rooms.as_ref().is_none_or(|rooms| rooms.contains(room))
            && self
                .categories
                .as_ref()
                .is_none_or(|cs| categories.iter().any(|c| cs.contains(c)))
            && self
                .min_severity
                .is_none_or(|min| severity.is_some_and(|s| s >= min))
    }
}

/// Close code for a subscriber that fell behind; it may resume with `since`.
pub const CLOSE_LAGGED: u16 = 4000;
/// A write to a subscriber that takes longer than this disconnects it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// One moderator connection: replay, then live records and review frames. Returns
/// why it ended.
pub(crate) async fn subscriber(
    ws: WebSocket,
    state: Arc<AppState>,
    query: AlertQuery,
    filter: Filter,
) -> &'static str {
    let _conn = super::ConnectionGauge::new("alerts");
    // Take the starting point, then subscribe, then read the backlog: a record
    // published in between is in the backlog, and duplicates are skipped by seq.
    let since = query.since.unwrap_or_else(|| state.hub.last_delivered());
    let mut live = state.hub.subscribe();
    let (backlog, first) = state.hub.since(since);
    // With tokens, the reviewer is who the token says, not what the query claims.
    let moderator = match (&filter.principal.scope, query.moderator.as_deref()) {
        (None, Some(name)) => name.to_owned(),
        (None, None) => "moderator".to_owned(),
        (Some(_), Some(name)) => format!("{}/{name}", filter.principal.name),
        (Some(_), None) => filter.principal.name.to_string(),
    };
    let (mut sink, mut stream) = ws.split();
    let mut last = since;
    let close = |code: u16, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };

    if query.since.is_some() && since + 1 < first {
        // Older than the memory holds: read it back from the store, page by page.
        let gap = match replay_from_store(&state, since, first, &filter, &mut sink).await {
            Ok(Some(oldest)) if oldest > since + 1 => Some(format!(
                "the store holds records from seq {oldest} on; records {} to {} are gone (retention)",
                since + 1,
                oldest - 1
            )),
            Ok(_) => None,
            Err(Replay::Socket) => return "write failed",
            Err(Replay::Unavailable(why)) => Some(format!(
                "history starts at seq {first}; records {} to {} cannot be replayed: {why}",
                since + 1,
                first - 1
            )),
        };
        if let Some(message) = gap {
            let notice = ModeratorReply::Notice { message };
            let _ = sink.feed(Message::Text(notice.to_json().into())).await;
        }
    }
    for r in backlog {
        last = r.seq;
        if filter.matches(&r) && sink.feed(Message::Text(r.json.clone())).await.is_err() {
            return "write failed";
        }
    }
    if sink.flush().await.is_err() {
        return "write failed";
    }

    let mut ping = tokio::time::interval(Duration::from_secs(state.config.ingest.ping_interval_s));
    ping.tick().await;
    let shutdown = state.shutdown.clone();
    let mut pings = PingLimit::default();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(close(1001, "server shutting down".into()))).await;
                return "server shutting down";
            }
            r = live.recv() => match r {
                Ok(record) => {
                    if record.seq <= last {
                        continue;
                    }
                    last = record.seq;
                    if filter.matches(&record) {
                        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Text(record.json.clone()))).await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => return "write failed",
                            Err(_) => {
                                metrics::counter!(t::SUBSCRIBERS_LAGGED).increment(1);
                                tracing::warn!(last, "Alert subscriber stalled a write; disconnected.");
                                return "write stalled";
                            }
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    metrics::counter!(t::SUBSCRIBERS_LAGGED).increment(1);
                    tracing::warn!(last, missed, "Alert subscriber fell behind; disconnected.");
                    let reason = format!("lagged: resume with since={last}");
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(close(CLOSE_LAGGED, reason))).await;
                    return "lagged";
                }
                Err(broadcast::error::RecvError::Closed) => return "feed closed",
            },
            m = stream.next() => match m {
                Some(Ok(Message::Text(text))) => {
                    let reply = handle_moderator_frame(&state, &text, &filter.principal, &moderator).await;
                    if !send_within(&mut sink, Message::Text(reply.into())).await {
                        return "write failed";
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let reply = ModeratorReply::Error { seq: None, reason: "send review frames as text".into(), decided: None };
                    if !send_within(&mut sink, Message::Text(reply.to_json().into())).await {
                        return "write failed";
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return "peer closed",
                Some(Ok(Message::Ping(_))) if !pings.allow() => {
                    let (code, reason) = TOO_MANY_PINGS;
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(close(code, reason.into()))).await;
                    return "too many pings";
                }
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if !send_within(&mut sink, Message::Ping(Default::default())).await {
                    return "write failed";
                }
            }
        }
    }
}

/// Send `message` unless the peer stops reading for [`WRITE_TIMEOUT`]; whether it went.
async fn send_within(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: Message,
) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, sink.send(message)).await,
        Ok(Ok(()))
    )
}

enum Replay {
    /// Writing to the subscriber failed.
    Socket,
    /// The store cannot be read (none, or an error).
    Unavailable(String),
}

/// Send the records with `since < seq < before` from the store. Returns the oldest
/// seq the store holds.
async fn replay_from_store(
    state: &Arc<AppState>,
    since: u64,
    before: u64,
    filter: &Filter,
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
) -> Result<Option<u64>, Replay> {
    const PAGE: usize = 1000;
    if let Some(cluster) = state.cluster.get() {
        return replay_from_stream(cluster, since, before, filter, sink).await;
    }
    let Some(store) = state.hub.store() else {
        return Err(Replay::Unavailable("no store".into()));
    };
    let reader = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.reader())
            .await
            .map_err(|e| Replay::Unavailable(e.to_string()))?
            .map_err(|e| Replay::Unavailable(e.to_string()))?
    };
    let reader = Arc::new(Mutex::new(reader));
    let oldest = {
        let reader = reader.clone();
        tokio::task::spawn_blocking(move || {
            reader.lock().unwrap_or_else(|e| e.into_inner()).first_seq()
        })
        .await
        .map_err(|e| Replay::Unavailable(e.to_string()))?
        .map_err(|e| Replay::Unavailable(e.to_string()))?
    };
    let mut after = since;
    loop {
        let page = {
            let reader = reader.clone();
            tokio::task::spawn_blocking(move || {
                reader
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .feed(after, before, PAGE)
            })
            .await
            .map_err(|e| Replay::Unavailable(e.to_string()))?
            .map_err(|e| Replay::Unavailable(e.to_string()))?
        };
        for row in &page {
            after = row.seq;
            if filter.accepts(&row.room, &row.categories, row.severity)
                && sink
                    .feed(Message::Text(row.frame.clone().into()))
                    .await
                    .is_err()
            {
                return Err(Replay::Socket);
            }
        }
        if page.len() < PAGE {
            return Ok(oldest);
        }
    }
}

/// A gateway's [`replay_from_store`]: the records with `since < seq < before` read
/// back from the cluster's alerts stream. Returns the oldest seq the stream holds.
async fn replay_from_stream(
    cluster: &crate::cluster::gateway::Gateway,
    since: u64,
    before: u64,
    filter: &Filter,
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
) -> Result<Option<u64>, Replay> {
    let unavailable = |e: crate::cluster::ClusterError| Replay::Unavailable(e.to_string());
    let mut records = cluster
        .alert_records(since + 1)
        .await
        .map_err(unavailable)?;
    let mut oldest = None;
    while let Some(next) = records.next().await {
        let next = next.map_err(unavailable)?;
        let record = super::hub::Record::of(&next.record, true);
        if record.seq >= before {
            break;
        }
        oldest.get_or_insert(record.seq);
        if filter.matches(&record) && sink.feed(Message::Text(record.json.clone())).await.is_err() {
            return Err(Replay::Socket);
        }
        if record.seq + 1 >= before || next.pending == 0 {
            break;
        }
    }
    Ok(oldest)
}

async fn handle_moderator_frame(
    state: &Arc<AppState>,
    text: &str,
    principal: &Principal,
    moderator: &str,
) -> String {
    let error = |seq: Option<u64>, reason: String| {
        ModeratorReply::Error {
            seq,
            reason,
            decided: None,
        }
        .to_json()
    };
    // A review of a hold already decided says how, and by whom.
    let refused = |seq: u64, e: super::hub::ReviewError| {
        ModeratorReply::Error {
            seq: Some(seq),
            reason: e.to_string(),
            decided: e.decided().cloned(),
        }
        .to_json()
    };
    let frame: ModeratorFrame = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => return error(None, format!("invalid JSON: {e}")),
    };
    if frame.kind != "review" {
        return error(frame.seq, format!("unknown kind `{}`", frame.kind));
    }
    let (Some(seq), Some(decision)) = (frame.seq, frame.decision) else {
        return error(
            frame.seq,
            "a review needs `seq` and `decision` (approve or reject)".into(),
        );
    };
    if let Some(cluster) = state.cluster.get() {
        // The decision is the cluster's feed's: the first review of a hold stored
        // there wins, whichever gateway it came through.
        let record = match state.hub.review_record(
            seq,
            decision,
            principal,
            moderator,
            frame.note.as_deref(),
        ) {
            Ok(r) => r,
            Err(e) => return refused(seq, e),
        };
        return match cluster.publish_review(seq, &record).await {
            Ok(true) => ModeratorReply::ReviewAck { seq, decision }.to_json(),
            Ok(false) => error(
                Some(seq),
                format!("seq {seq} was already reviewed on another gateway"),
            ),
            Err(e) => {
                state.hub.undecided(seq);
                error(
                    Some(seq),
                    format!("the review was not recorded: {e}; send it again"),
                )
            }
        };
    }
    match state
        .hub
        .review(seq, decision, principal, moderator, frame.note.as_deref())
    {
        Ok(resolution) => {
            state.deliver(resolution);
            ModeratorReply::ReviewAck { seq, decision }.to_json()
        }
        Err(e) => refused(seq, e),
    }
}
