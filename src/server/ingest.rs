//! One platform connection on `/v1/ingest`.
//!
//! One task per connection reads a frame (one event, or NDJSON lines of events),
//! judges each event in order, and writes one answer frame holding, in the same order,
//! the verdict of every event (each followed by the actions it triggered) or the error
//! of every bad line. It reads the next frame only once the answer is written: a
//! platform that does not read its verdicts stops being read (backpressure, with one
//! frame in flight per connection), and no event is dropped. (An earlier design
//! handed answers to a writer task through a queue; the wake-ups between the two
//! tasks cost more than the judging.)
//!
//! Before an event is judged, its connection's gate checks the token's rooms, the
//! tenant's active rooms, the text length and the connection's token bucket; an event
//! that fails is answered with an error line and not judged.
//!
//! Close codes: 1000 normal, 1001 server shutting down or peer idle, 1007 invalid
//! UTF-8 in a text frame (send raw bytes as a binary frame to get per-line errors
//! instead), 1009 frame larger than `ingest.max_frame_bytes`, 1011 internal error.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::limits::{PingLimit, Slot, TOO_MANY_PINGS, TenantRooms, TokenBucket};
use super::tally::FrameTally;
use super::{AppState, ConnectionGauge};
use crate::auth::Principal;
use crate::engine::{Outcome, Scratch};
use crate::event::{
    Decision, ErrorCode, Event, EventError, EventErrorKind, parse_event, parse_event_bytes,
    truncate,
};
use crate::telemetry::LogGate;
use crate::wire::{Answer, ErrorFrame};

/// Events judged between two yields to the runtime: a large batch must not hold a
/// worker thread for milliseconds.
const YIELD_EVERY: usize = 256;

/// Review outcomes waiting for this connection (they are rare; a full queue makes
/// the sender wait in a task of its own).
pub(crate) const REVIEW_QUEUE: usize = 64;

/// How long the final close frame may take to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A frame's content: text frames are valid UTF-8 already; binary ones are checked
/// line by line.
enum Input<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// A frame's line: its index in the frame, its bytes (without `\r`), the event.
type Line<'a> = (usize, &'a [u8], Result<Event<'a>, EventError>);

impl<'a> Input<'a> {
    /// The frame's non-blank lines (blank ones are skipped but counted in the
    /// indexes). Text frames are UTF-8 already and parse as text.
    fn lines(self) -> Box<dyn Iterator<Item = Line<'a>> + Send + 'a> {
        match self {
            Input::Text(s) => Box::new(
                s.split('\n')
                    .enumerate()
                    .filter(|(_, l)| !blank(l.as_bytes()))
                    .map(|(i, l)| {
                        let l = l.strip_suffix('\r').unwrap_or(l);
                        (i, l.as_bytes(), parse_event(l))
                    }),
            ),
            Input::Bytes(b) => Box::new(
                b.split(|&c| c == b'\n')
                    .enumerate()
                    .filter(|(_, l)| !blank(l))
                    .map(|(i, l)| {
                        let l = l.strip_suffix(b"\r").unwrap_or(l);
                        (i, l, parse_event_bytes(l))
                    }),
            ),
        }
    }
}

/// What a connection's caller may send: checked per event before it is judged.
struct Gate {
    principal: Arc<Principal>,
    bucket: TokenBucket,
    rate: u32,
    /// The tenant's active rooms; `None` on an open server (one caller, no tenants).
    rooms: Option<TenantRooms>,
    room_limit: usize,
    max_text: usize,
}

impl Gate {
    fn new(state: &AppState, principal: Arc<Principal>) -> Gate {
        let l = &state.limiter.config;
        let rooms = principal
            .scope
            .is_some()
            .then(|| state.limiter.rooms.tenant(&principal.name));
        Gate {
            bucket: TokenBucket::new(l.events_per_second, l.burst),
            rate: l.events_per_second,
            rooms,
            room_limit: principal.max_rooms.unwrap_or(l.rooms_per_tenant),
            max_text: l.max_text_bytes,
            principal,
        }
    }

    /// `parsed`, unless it is an event the caller may not send: then the error to
    /// answer it with, naming the event.
    fn check<'e>(
        &mut self,
        parsed: Result<Event<'e>, EventError>,
        now_ms: u64,
    ) -> Result<Event<'e>, EventError> {
        let ev = parsed?;
        match self.admit(&ev, now_ms) {
            Ok(()) => Ok(ev),
            Err(kind) => Err(EventError {
                id: Some(ev.id.into_owned()),
                kind,
            }),
        }
    }

    /// Whether `ev` may be judged; the error to answer it with if not.
    fn admit(&mut self, ev: &Event<'_>, now_ms: u64) -> Result<(), EventErrorKind> {
        if ev.text.len() > self.max_text {
            return Err(EventErrorKind::TooLong {
                field: "text",
                len: ev.text.len(),
                limit: self.max_text,
            });
        }
        if !self.principal.may_access(&ev.room) {
            return Err(EventErrorKind::RoomForbidden(truncate(&ev.room)));
        }
        if let Some(rooms) = &mut self.rooms
            && !rooms.admit(&ev.room, self.room_limit, now_ms)
        {
            return Err(EventErrorKind::RoomLimit(self.room_limit));
        }
        if !self.bucket.take() {
            return Err(EventErrorKind::RateLimited(self.rate));
        }
        Ok(())
    }
}

/// Serve one ingest connection until it closes or the server shuts down. `slot` is
/// its connection slot, given back when it ends. Returns why it ended.
pub(crate) async fn connection(
    ws: WebSocket,
    state: Arc<AppState>,
    principal: Arc<Principal>,
    slot: Slot,
) -> &'static str {
    let _slot = slot;
    let _gauge = ConnectionGauge::new("ingest");
    let conn = state.next_conn_id();
    let cfg = state.config.ingest;
    let (tx, mut reviews) = mpsc::channel::<String>(REVIEW_QUEUE);
    state.connections.insert(conn, tx);
    let (mut sink, mut stream) = ws.split();
    let mut ping = tokio::time::interval(Duration::from_secs(cfg.ping_interval_s));
    ping.tick().await;
    let idle = Duration::from_secs(cfg.idle_timeout_s);
    let mut deadline = Instant::now() + idle;
    let mut scratch = Scratch::default();
    let mut work = FrameWork {
        tally: FrameTally::default(),
        gate: Gate::new(&state, principal),
    };
    let shutdown = state.shutdown.clone();
    let mut pings = PingLimit::default();
    let close = loop {
        let msg = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break (1001, "server shutting down"),
            _ = tokio::time::sleep_until(deadline) => break (1001, "idle timeout"),
            Some(review) = reviews.recv() => {
                if let Err(close) = write(&mut sink, idle, Message::Text(review.into())).await {
                    break close;
                }
                continue;
            }
            _ = ping.tick() => {
                if let Err(close) = write(&mut sink, idle, Message::Ping(Default::default())).await {
                    break close;
                }
                continue;
            }
            m = stream.next() => m,
        };
        deadline = Instant::now() + idle;
        let input = match &msg {
            Some(Ok(Message::Text(t))) => Input::Text(t.as_str()),
            Some(Ok(Message::Binary(b))) => Input::Bytes(b),
            Some(Ok(Message::Ping(_))) if !pings.allow() => break TOO_MANY_PINGS,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => break (1000, ""),
            Some(Err(_)) => break read_error(msg.and_then(Result::err)),
        };
        let answer = work.judge(&state, conn, input, &mut scratch).await;
        // The next frame is read once this one is answered: a platform that does not
        // read its verdicts is not read either.
        if let Err(close) = write(&mut sink, idle, Message::Text(answer.into())).await {
            break close;
        }
    };
    state.connections.remove(&conn);
    let frame = Message::Close(Some(CloseFrame {
        code: close.0,
        reason: close.1.into(),
    }));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(frame)).await;
    reviews.close();
    while reviews.recv().await.is_some() {
        metrics::counter!(crate::telemetry::REVIEWS_UNDELIVERED).increment(1);
    }
    if close.0 == 1000 {
        "peer closed"
    } else {
        close.1
    }
}

/// Write one message. Backpressure, but not forever: a write that makes no progress
/// for `idle` means a peer that no longer reads, and it is disconnected.
async fn write(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    idle: Duration,
    message: Message,
) -> Result<(), (u16, &'static str)> {
    match tokio::time::timeout(idle, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err((1011, "write failed")),
        Err(_) => Err((1001, "peer does not read")),
    }
}

/// Map a read error to the close code to answer it with.
fn read_error(e: Option<axum::Error>) -> (u16, &'static str) {
    use tokio_tungstenite::tungstenite::Error as WsError;
    use tokio_tungstenite::tungstenite::error::CapacityError;
    let kind = e.map(|e| e.into_inner().downcast::<WsError>().map(|b| *b));
    match kind {
        Some(Ok(WsError::Capacity(
            CapacityError::MessageTooLong { .. } | CapacityError::TooManyHeaders,
        ))) => {
            FrameTally::rejected(ErrorCode::TooLarge);
            (1009, "frame too large")
        }
        Some(Ok(WsError::Utf8(_))) => {
            FrameTally::rejected(ErrorCode::Utf8);
            (
                1007,
                "invalid UTF-8 in a text frame; send bytes as a binary frame",
            )
        }
        _ => (1002, "protocol error"),
    }
}

/// What a connection keeps from frame to frame.
struct FrameWork {
    tally: FrameTally,
    gate: Gate,
}

impl FrameWork {
    /// Judge every line of a frame and build the answer frame.
    async fn judge(
        &mut self,
        state: &Arc<AppState>,
        conn: u64,
        input: Input<'_>,
        scratch: &mut Scratch,
    ) -> String {
        if let Some(cluster) = state.cluster.get() {
            return self.forward(state, cluster, conn, input).await;
        }
        let started = std::time::Instant::now();
        let len = match input {
            Input::Text(s) => s.len(),
            Input::Bytes(b) => b.len(),
        };
        let mut out: Vec<u8> = Vec::with_capacity(len * 4 + 64);
        let mut flagged: Vec<(Event<'_>, Outcome)> = Vec::new();
        let mut n = 0usize;
        self.gate.bucket.refill(Instant::now().into_std());
        let now = super::now_ms();
        for (index, _, parsed) in input.lines() {
            let judged = self
                .gate
                .check(parsed, now)
                .and_then(|ev| state.engine.judge_event(ev, now, scratch));
            if !out.is_empty() {
                out.push(b'\n');
            }
            match judged {
                Ok((ev, outcome)) => {
                    self.tally.event(&ev, &outcome);
                    write_answer(&mut out, &outcome.answer(&ev));
                    self.tally.latency(started.elapsed());
                    if outcome.decision != Decision::Allow || !outcome.actions.is_empty() {
                        flagged.push((ev, outcome));
                    }
                }
                Err(err) => {
                    self.tally.error(&err);
                    let error = ErrorFrame::new(&err, None).at_index(index);
                    write_answer(&mut out, &Answer::Refused(error));
                }
            }
            n += 1;
            if n.is_multiple_of(YIELD_EVERY) {
                tokio::task::yield_now().await;
            }
        }
        if out.is_empty() {
            self.refuse(
                &mut out,
                None,
                EventErrorKind::InvalidJson("empty frame".into()),
            );
        }
        // Alerts of the whole frame go out together: one lock, one hand-off to the
        // store. A frame whose events carry actions is answered once they are
        // committed: the platform acts on nothing the evidence could lack.
        if !flagged.is_empty() {
            let store = &state.config.store;
            if let Some(committed) = state.hub.publish(&flagged, conn, store.answer_after_commit) {
                let max = Duration::from_millis(store.answer_wait_max_ms);
                if committed.wait(max).await.is_none() {
                    // Counted every time; logged once per 10 s (a stalled disk makes
                    // every frame late).
                    static GATE: LogGate = LogGate::new(10);
                    metrics::counter!(crate::telemetry::ANSWERS_UNCOMMITTED).increment(1);
                    if let Some(hidden) = GATE.pass() {
                        tracing::warn!(
                            conn,
                            waited_ms = store.answer_wait_max_ms,
                            hidden,
                            "Store commit is late: answered before the evidence is written."
                        );
                    }
                }
            }
        }
        self.tally.flush();
        // Only serde_json wrote to it: valid UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }
}

impl FrameWork {
    /// Answer with an error line (counted) that names no line of the frame.
    fn refuse(&mut self, out: &mut Vec<u8>, id: Option<String>, kind: EventErrorKind) {
        let err = EventError { id, kind };
        self.tally.error(&err);
        write_answer(out, &Answer::Refused(ErrorFrame::new(&err, None)));
    }
}

/// One line of a frame forwarded to the cluster: answered already (an error), or
/// on its way to its partition's worker.
enum Forwarded {
    Done(Vec<u8>),
    Sent(crate::cluster::gateway::Ticket, String, String),
    Unsent(String, String),
}

impl FrameWork {
    /// A gateway's [`FrameWork::judge`]: check every line as a single process does,
    /// send the events to their partitions together, then write the answers in the
    /// frame's order. An event the cluster does not answer in time is answered
    /// `unavailable` with its id: the platform resends it, and the stream's
    /// de-duplication keeps it from being judged twice.
    async fn forward(
        &mut self,
        state: &AppState,
        cluster: &crate::cluster::gateway::Gateway,
        conn: u64,
        input: Input<'_>,
    ) -> String {
        let started = std::time::Instant::now();
        self.gate.bucket.refill(Instant::now().into_std());
        let now = super::now_ms();
        let deadline = Instant::now() + cluster.answer_timeout;
        let mut slots = Vec::new();
        for (index, line, parsed) in input.lines() {
            let slot = match self.gate.check(parsed, now) {
                Ok(ev) => {
                    self.tally.forwarded(&ev);
                    let bytes = bytes::Bytes::copy_from_slice(line);
                    match cluster.submit(&ev.room, &ev.id, bytes).await {
                        Ok(ticket) => {
                            Forwarded::Sent(ticket, ev.room.into_owned(), ev.id.into_owned())
                        }
                        Err(e) => Forwarded::Unsent(ev.id.into_owned(), e.to_string()),
                    }
                }
                Err(err) => {
                    self.tally.error(&err);
                    let mut out = Vec::new();
                    write_answer(
                        &mut out,
                        &Answer::Refused(ErrorFrame::new(&err, None).at_index(index)),
                    );
                    Forwarded::Done(out)
                }
            };
            slots.push(slot);
        }
        let mut out: Vec<u8> = Vec::new();
        for slot in slots {
            if !out.is_empty() {
                out.push(b'\n');
            }
            let (id, why) = match slot {
                Forwarded::Done(answer) => {
                    out.extend_from_slice(&answer);
                    continue;
                }
                Forwarded::Sent(ticket, room, id) => match cluster.answer(ticket, deadline).await {
                    Ok(answer) => {
                        self.tally.latency(started.elapsed());
                        if held(&answer) {
                            state.held_on(&room, &id, conn);
                        }
                        out.extend_from_slice(&answer);
                        continue;
                    }
                    Err(e) => (id, e.to_string()),
                },
                Forwarded::Unsent(id, why) => (id, why),
            };
            metrics::counter!(crate::telemetry::CLUSTER_UNANSWERED).increment(1);
            self.refuse(&mut out, Some(id), EventErrorKind::Unavailable(why));
        }
        if out.is_empty() {
            self.refuse(
                &mut out,
                None,
                EventErrorKind::InvalidJson("empty frame".into()),
            );
        }
        self.tally.flush();
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Whether a worker's answer holds the event for review (its verdict line says so).
fn held(answer: &[u8]) -> bool {
    let verdict = answer.split(|&c| c == b'\n').next().unwrap_or_default();
    verdict.windows(HOLD.len()).any(|w| w == HOLD)
}

/// How a serialized verdict says `hold` (serde writes it compactly).
const HOLD: &[u8] = br#""decision":"hold""#;

fn blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn write_answer(out: &mut Vec<u8>, answer: &Answer<'_>) {
    // Serializing our own types into memory cannot fail.
    let _ = answer.write_to(out);
}
