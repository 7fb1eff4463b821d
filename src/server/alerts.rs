//! The alert hub and the moderators' feed (`GET /v1/alerts`).
//!
//! Every flagged event becomes an alert with the next `seq`; review outcomes are
//! records of the same feed. The hub keeps a bounded history for `since` replay and
//! fans records out through a broadcast ring: publishing never waits for a subscriber,
//! and a subscriber that falls more than `alerts.subscriber_queue` records behind (or
//! stalls a write) is disconnected with a close frame telling it where to resume.
//!
//! Held messages are registered by `seq`; a moderator's `review` frame, or expiry
//! after `alerts.hold_timeout_s`, resolves them, and the platform hears of it on the
//! ingest connection that sent the event.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::AppState;
use crate::config::{AlertConfig, ReviewDecision};
use crate::engine::{Outcome, Verdict};
use crate::event::{Category, Event, Severity};
use crate::telemetry as t;

/// One record of the feed: an alert or a review outcome, serialized once.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    room: Box<str>,
    categories: Vec<Category>,
    severity: Option<Severity>,
    pub(crate) json: Utf8Bytes,
}

/// A held message waiting for a moderator.
#[derive(Debug)]
struct Hold {
    room: Box<str>,
    event: Box<str>,
    conn: u64,
    deadline: Instant,
    categories: Vec<Category>,
    severity: Option<Severity>,
}

/// How a hold was resolved, for delivery to the platform.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub(crate) conn: u64,
    pub(crate) frame: String,
}

#[derive(Debug)]
struct Inner {
    next_seq: u64,
    history: VecDeque<Arc<Record>>,
    holds: BTreeMap<u64, Hold>,
}

/// The feed: history, fan-out and held messages.
#[derive(Debug)]
pub(crate) struct Hub {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Record>>,
    config: AlertConfig,
}

/// Why a review was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReviewError {
    #[error("no held message with seq {0} (never held, already reviewed or expired)")]
    NotHeld(u64),
}

#[derive(Serialize)]
struct AlertBody<'a> {
    room: &'a str,
    event: EventFrame<'a>,
    verdict: Verdict<'a>,
    actions: &'a [crate::dispatch::Action],
}

#[derive(Serialize)]
struct EventFrame<'a> {
    id: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    role: &'static str,
    ts: u64,
    text: &'a str,
}

#[derive(Serialize)]
struct ReviewFrame<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(rename = "ref")]
    held: u64,
    id: &'a str,
    room: &'a str,
    decision: ReviewDecision,
    by: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    ts: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `{"kind":KIND,"seq":SEQ,` + the rest of `body` (an object): the seq is known only
/// under the lock, the body is serialized before it.
fn with_seq(kind: &str, seq: u64, body: &str) -> Utf8Bytes {
    format!("{{\"kind\":\"{kind}\",\"seq\":{seq},{}", &body[1..]).into()
}

impl Hub {
    pub(crate) fn new(config: AlertConfig) -> Hub {
        let (tx, _) = broadcast::channel(config.subscriber_queue);
        Hub {
            inner: Mutex::new(Inner {
                next_seq: 1,
                history: VecDeque::new(),
                holds: BTreeMap::new(),
            }),
            tx,
            config,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is a
        // single push or remove): keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Append `record` to the history and fan it out. Called with the lock held, so
    /// the broadcast order is the seq order.
    fn append(&self, inner: &mut Inner, record: Record) -> Arc<Record> {
        let record = Arc::new(record);
        inner.history.push_back(record.clone());
        while inner.history.len() > self.config.history {
            inner.history.pop_front();
        }
        // No subscriber is not an error: the record is in the history.
        let _ = self.tx.send(record.clone());
        metrics::counter!(t::ALERTS).increment(1);
        metrics::gauge!(t::ALERT_HISTORY).set(inner.history.len() as f64);
        record
    }

    /// Publish the alert of a flagged event sent on connection `conn`; registers a
    /// hold when the verdict is `hold`. Returns the alert's seq.
    pub(crate) fn publish(&self, ev: &Event<'_>, outcome: &Outcome, conn: u64) -> u64 {
        let body = serde_json::to_string(&AlertBody {
            room: &ev.room,
            event: EventFrame {
                id: &ev.id,
                kind: ev.kind.as_str(),
                user: ev.user.as_deref(),
                role: ev.role.as_str(),
                ts: outcome.ts,
                text: &ev.text,
            },
            verdict: Verdict::new(ev, outcome),
            actions: &outcome.actions,
        })
        .unwrap_or_else(|_| "{}".into());
        let mut categories: Vec<Category> = outcome.hits.iter().map(|h| h.category).collect();
        categories.sort_unstable();
        categories.dedup();
        let severity = outcome.hits.iter().map(|h| h.severity).max();
        let mut inner = self.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if outcome.decision == crate::event::Decision::Hold {
            inner.holds.insert(
                seq,
                Hold {
                    room: ev.room.as_ref().into(),
                    event: ev.id.as_ref().into(),
                    conn,
                    deadline: Instant::now() + Duration::from_secs(self.config.hold_timeout_s),
                    categories: categories.clone(),
                    severity,
                },
            );
            metrics::gauge!(t::HOLDS_PENDING).set(inner.holds.len() as f64);
        }
        self.append(
            &mut inner,
            Record {
                seq,
                room: ev.room.as_ref().into(),
                categories,
                severity,
                json: with_seq("alert", seq, &body),
            },
        );
        seq
    }

    /// Resolve the hold `held` with a moderator's decision.
    pub(crate) fn review(
        &self,
        held: u64,
        decision: ReviewDecision,
        by: &str,
        note: Option<&str>,
    ) -> Result<Resolution, ReviewError> {
        let mut inner = self.lock();
        let hold = inner
            .holds
            .remove(&held)
            .ok_or(ReviewError::NotHeld(held))?;
        Ok(self.resolve(&mut inner, held, hold, decision, by, note))
    }

    /// Resolve every hold past its deadline with the default outcome.
    pub(crate) fn expire(&self, now: Instant) -> Vec<Resolution> {
        let mut inner = self.lock();
        let due: Vec<u64> = inner
            .holds
            .iter()
            .filter(|(_, h)| h.deadline <= now)
            .map(|(seq, _)| *seq)
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for seq in due {
            if let Some(hold) = inner.holds.remove(&seq) {
                let d = self.config.hold_default;
                out.push(self.resolve(&mut inner, seq, hold, d, "expiry", None));
            }
        }
        out
    }

    fn resolve(
        &self,
        inner: &mut Inner,
        held: u64,
        hold: Hold,
        decision: ReviewDecision,
        by: &str,
        note: Option<&str>,
    ) -> Resolution {
        let ts = now_ms();
        let frame = |seq| {
            serde_json::to_string(&ReviewFrame {
                kind: "review",
                seq,
                held,
                id: &hold.event,
                room: &hold.room,
                decision,
                by,
                note,
                ts,
            })
            .unwrap_or_default()
        };
        let seq = inner.next_seq;
        inner.next_seq += 1;
        self.append(
            inner,
            Record {
                seq,
                room: hold.room.clone(),
                categories: hold.categories.clone(),
                severity: hold.severity,
                json: frame(Some(seq)).into(),
            },
        );
        metrics::gauge!(t::HOLDS_PENDING).set(inner.holds.len() as f64);
        let by_label = if by == "expiry" {
            "expiry"
        } else {
            "moderator"
        };
        metrics::counter!(t::REVIEWS, "outcome" => decision.as_str(), "by" => by_label)
            .increment(1);
        Resolution {
            conn: hold.conn,
            frame: frame(None),
        }
    }

    /// Subscribe to new records (between taking the starting seq and reading
    /// [`Hub::since`], so that nothing falls in between).
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.tx.subscribe()
    }

    /// Records after `since`, and the first seq the history still holds.
    pub(crate) fn since(&self, since: u64) -> (Vec<Arc<Record>>, u64) {
        let inner = self.lock();
        let first = inner.history.front().map_or(inner.next_seq, |r| r.seq);
        let start = inner.history.partition_point(|r| r.seq <= since);
        (inner.history.range(start..).cloned().collect(), first)
    }

    /// The seq the next record will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }
}

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

/// A parsed subscription filter.
#[derive(Debug)]
pub(crate) struct Filter {
    rooms: Option<HashSet<String>>,
    categories: Option<HashSet<Category>>,
    min_severity: Option<Severity>,
}

impl AlertQuery {
    pub(crate) fn filter(&self) -> Result<Filter, String> {
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
        Ok(Filter {
            rooms: list(&self.rooms),
            categories,
            min_severity: self.min_severity,
        })
    }
}

impl Filter {
    fn matches(&self, r: &Record) -> bool {
        self.rooms
            .as_ref()
            .is_none_or(|rooms| rooms.contains(&*r.room))
            && self
                .categories
                .as_ref()
                .is_none_or(|cs| r.categories.iter().any(|c| cs.contains(c)))
            && self
                .min_severity
                .is_none_or(|min| r.severity.is_some_and(|s| s >= min))
    }
}

/// A moderator's frame.
#[derive(Debug, Deserialize)]
struct ModeratorFrame {
    kind: String,
    seq: Option<u64>,
    decision: Option<ReviewDecision>,
    note: Option<String>,
}

/// Close code for a subscriber that fell behind; it may resume with `since`.
pub const CLOSE_LAGGED: u16 = 4000;
/// A write to a subscriber that takes longer than this disconnects it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// One moderator connection: replay, then live records and review frames.
pub(crate) async fn subscriber(
    ws: WebSocket,
    state: Arc<AppState>,
    query: AlertQuery,
    filter: Filter,
) {
    let _conn = super::ConnectionGauge::new("alerts");
    // Take the starting point, then subscribe, then read the backlog: a record
    // published in between is in the backlog, and duplicates are skipped by seq.
    let since = query
        .since
        .unwrap_or_else(|| state.hub.next_seq().saturating_sub(1));
    let mut live = state.hub.subscribe();
    let (backlog, first) = state.hub.since(since);
    let moderator = query.moderator.as_deref().unwrap_or("moderator").to_owned();
    let (mut sink, mut stream) = ws.split();
    let mut last = since;
    let close = |code: u16, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };

    if query.since.is_some() && since + 1 < first {
        let notice = serde_json::json!({"kind":"notice","message":format!("history starts at seq {first}; records {} to {} are no longer held in memory", since + 1, first - 1)});
        let _ = sink.feed(Message::Text(notice.to_string().into())).await;
    }
    for r in backlog {
        last = r.seq;
        if filter.matches(&r) && sink.feed(Message::Text(r.json.clone())).await.is_err() {
            return;
        }
    }
    if sink.flush().await.is_err() {
        return;
    }

    let mut ping = tokio::time::interval(Duration::from_secs(state.config.ingest.ping_interval_s));
    ping.tick().await;
    let shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(close(1001, "server shutting down".into()))).await;
                return;
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
                            Ok(Err(_)) => return,
                            Err(_) => {
                                metrics::counter!(t::SUBSCRIBERS_LAGGED).increment(1);
                                tracing::warn!(last, "Alert subscriber stalled a write; disconnected.");
                                return;
                            }
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    metrics::counter!(t::SUBSCRIBERS_LAGGED).increment(1);
                    tracing::warn!(last, missed, "Alert subscriber fell behind; disconnected.");
                    let reason = format!("lagged: resume with since={last}");
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(close(CLOSE_LAGGED, reason))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            m = stream.next() => match m {
                Some(Ok(Message::Text(text))) => {
                    let reply = handle_moderator_frame(&state, &text, &moderator).await;
                    if sink.send(Message::Text(reply.into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let reply = serde_json::json!({"kind":"error","reason":"send review frames as text"});
                    if sink.send(Message::Text(reply.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn handle_moderator_frame(state: &Arc<AppState>, text: &str, moderator: &str) -> String {
    let error = |seq: Option<u64>, reason: String| {
        serde_json::json!({"kind":"error","seq":seq,"reason":reason}).to_string()
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
    match state
        .hub
        .review(seq, decision, moderator, frame.note.as_deref())
    {
        Ok(resolution) => {
            state.deliver(resolution);
            serde_json::json!({"kind":"review_ack","seq":seq,"decision":decision}).to_string()
        }
        Err(e) => error(Some(seq), e.to_string()),
    }
}
