//! One platform connection on `/v1/ingest`.
//!
//! The reader takes a frame (one event, or NDJSON lines of events), judges each event
//! in order and queues one output frame holding, in the same order, the verdict of
//! every event (each followed by the actions it triggered) or the error of every bad
//! line. The writer sends queued frames, batching flushes. The queue is bounded
//! (`ingest.max_queued_frames`): when the platform does not read its verdicts, the
//! queue fills and the reader stops reading, so backpressure reaches the platform and
//! no event is dropped.
//!
//! Close codes: 1000 normal, 1001 server shutting down or peer idle, 1007 invalid
//! UTF-8 in a text frame (send raw bytes as a binary frame to get per-line errors
//! instead), 1009 frame larger than `ingest.max_frame_bytes`, 1011 internal error.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{AppState, ConnectionGauge, Outbound};
use crate::engine::{Scratch, Verdict};
use crate::event::{Decision, ErrorFrame, EventError, EventErrorKind, parse_event_bytes};
use crate::telemetry as t;

/// Events judged between two yields to the runtime: a large batch must not hold a
/// worker thread for milliseconds.
const YIELD_EVERY: usize = 256;

/// Serve one ingest connection until it closes or the server shuts down.
pub(crate) async fn connection(ws: WebSocket, state: Arc<AppState>) {
    let _gauge = ConnectionGauge::new("ingest");
    let conn = state.next_conn_id();
    let cfg = state.config.ingest;
    let (tx, rx) = mpsc::channel::<Outbound>(cfg.max_queued_frames);
    state.connections.insert(conn, tx.clone());
    let (sink, mut stream) = ws.split();
    let writer = tokio::spawn(write_loop(
        sink,
        rx,
        Duration::from_secs(cfg.ping_interval_s),
    ));

    let idle = Duration::from_secs(cfg.idle_timeout_s);
    let mut deadline = Instant::now() + idle;
    let mut scratch = Scratch::default();
    let shutdown = state.shutdown.clone();
    let close = loop {
        let msg = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break (1001, "server shutting down"),
            _ = tokio::time::sleep_until(deadline) => break (1001, "idle timeout"),
            m = stream.next() => m,
        };
        deadline = Instant::now() + idle;
        let bytes = match msg {
            Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(Message::Binary(b))) => b.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => break (1000, ""),
            Some(Err(e)) => break read_error(e),
        };
        metrics::counter!(t::INGEST_FRAMES).increment(1);
        let frame = judge_frame(&state, conn, &bytes, &mut scratch).await;
        metrics::gauge!(t::INGEST_QUEUED).increment(1.0);
        // A full queue parks the reader here: the platform is not reading its verdicts.
        if tx.send(Outbound::Text(frame)).await.is_err() {
            break (1011, "writer stopped");
        }
    };
    state.connections.remove(&conn);
    let _ = tx.send(Outbound::Close(close.0, close.1)).await;
    drop(tx);
    let _ = writer.await;
    tracing::debug!(
        conn,
        code = close.0,
        reason = close.1,
        "Ingest connection closed."
    );
}

/// Map a read error to the close code to answer it with.
fn read_error(e: axum::Error) -> (u16, &'static str) {
    use tokio_tungstenite::tungstenite::Error as WsError;
    use tokio_tungstenite::tungstenite::error::CapacityError;
    match e.into_inner().downcast::<WsError>().map(|b| *b) {
        Ok(WsError::Capacity(
            CapacityError::MessageTooLong { .. } | CapacityError::TooManyHeaders,
        )) => {
            metrics::counter!(t::INGEST_ERRORS, "reason" => "too_large").increment(1);
            (1009, "frame too large")
        }
        Ok(WsError::Utf8(_)) => {
            metrics::counter!(t::INGEST_ERRORS, "reason" => "utf8").increment(1);
            (
                1007,
                "invalid UTF-8 in a text frame; send bytes as a binary frame",
            )
        }
        _ => (1002, "protocol error"),
    }
}

/// Judge every line of a frame and build the answer frame.
async fn judge_frame(
    state: &Arc<AppState>,
    conn: u64,
    bytes: &[u8],
    scratch: &mut Scratch,
) -> String {
    let started = std::time::Instant::now();
    let mut out = String::with_capacity(bytes.len() * 4 + 64);
    let mut judged = 0usize;
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        match parse_event_bytes(line) {
            Ok(ev) => {
                let outcome = state.engine.process(&ev, super::now_ms(), scratch);
                record_metrics(&ev, &outcome);
                write_json(&mut out, &Verdict::new(&ev, &outcome));
                for a in &outcome.actions {
                    out.push('\n');
                    write_json(&mut out, a);
                }
                if outcome.decision != Decision::Allow || !outcome.actions.is_empty() {
                    state.hub.publish(&ev, &outcome, conn);
                }
                metrics::histogram!(t::INGEST_LATENCY).record(started.elapsed().as_secs_f64());
            }
            Err(err) => {
                metrics::counter!(t::INGEST_ERRORS, "reason" => error_label(&err)).increment(1);
                write_json(&mut out, &ErrorFrame::new(&err, None).at_index(index));
            }
        }
        judged += 1;
        if judged.is_multiple_of(YIELD_EVERY) {
            tokio::task::yield_now().await;
        }
    }
    if out.is_empty() {
        let err = EventError {
            id: None,
            kind: EventErrorKind::InvalidJson("empty frame".into()),
        };
        write_json(&mut out, &ErrorFrame::new(&err, None));
    }
    out
}

fn write_json<T: serde::Serialize>(out: &mut String, value: &T) {
    // Serializing our own types to a String cannot fail.
    if let Ok(s) = serde_json::to_string(value) {
        out.push_str(&s);
    }
}

fn error_label(err: &EventError) -> &'static str {
    match err.kind {
        EventErrorKind::InvalidUtf8 => "utf8",
        EventErrorKind::InvalidJson(_) => "json",
        EventErrorKind::NotAnObject => "not_an_object",
        EventErrorKind::MissingField(_) => "missing_field",
        EventErrorKind::UnknownKind(_) => "unknown_kind",
        EventErrorKind::UnknownRole(_) => "unknown_role",
        EventErrorKind::TooLong { .. } => "too_long",
    }
}

fn record_metrics(ev: &crate::event::Event<'_>, outcome: &crate::engine::Outcome) {
    metrics::counter!(t::EVENTS, "kind" => ev.kind.as_str()).increment(1);
    metrics::counter!(t::VERDICTS, "decision" => outcome.decision.as_str()).increment(1);
    for h in &outcome.hits {
        metrics::counter!(t::HITS, "category" => h.category.as_str()).increment(1);
    }
    for a in &outcome.actions {
        metrics::counter!(t::ACTIONS, "type" => a.action.as_str()).increment(1);
    }
}

/// Send queued frames, feeding what is ready and flushing once; ping on a timer.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outbound>,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval(ping_every);
    ping.tick().await;
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let Some(mut item) = item else { break };
        loop {
            match item {
                Outbound::Text(text) => {
                    metrics::gauge!(t::INGEST_QUEUED).decrement(1.0);
                    if sink.feed(Message::Text(text.into())).await.is_err() {
                        return drain(rx).await;
                    }
                }
                Outbound::Review(text) => {
                    if sink.feed(Message::Text(text.into())).await.is_err() {
                        return drain(rx).await;
                    }
                }
                Outbound::Close(code, reason) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        })))
                        .await;
                    return drain(rx).await;
                }
            }
            match rx.try_recv() {
                Ok(next) => item = next,
                Err(_) => break,
            }
        }
        if sink.flush().await.is_err() {
            return drain(rx).await;
        }
    }
}

/// After the socket failed: keep the queue gauge honest and let the reader finish.
async fn drain(mut rx: mpsc::Receiver<Outbound>) {
    rx.close();
    while let Some(item) = rx.recv().await {
        if matches!(item, Outbound::Text(_)) {
            metrics::gauge!(t::INGEST_QUEUED).decrement(1.0);
        }
    }
}
