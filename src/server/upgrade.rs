//! The two WebSocket routes, ingest and alerts: admit the caller, take a connection
//! slot, upgrade with bounded buffers, and track the connection for shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::access::{Refused, TokenParam, authorize, connection_slot};
use super::{AppState, feed, ingest};
use crate::auth::{Principal, Scope};

/// Read and write buffer of a WebSocket connection. tungstenite's default (128 KiB
/// each, allocated up front) would put 10,000 idle connections at 2.5 GiB; a
/// batch of 50 events is about 8 KiB, and larger frames are still read whole.
const SOCKET_BUFFER: usize = 16 * 1024;

/// The write buffer bound, per byte of the largest message read. Everything written
/// (answers, alerts, and the pongs and pings tungstenite queues) counts against it; a
/// write that would pass it fails, and the connection closes. The bound must hold the
/// largest single answer: a frame of short flagged events answers with about 24 bytes
/// per byte read (verdicts plus actions with their evidence ids), so 64 leaves room.
const WRITE_BOUND_PER_READ_BYTE: usize = 64;

/// The largest moderator frame (a review is well under 1 KiB).
const MAX_MODERATOR_FRAME: usize = 64 * 1024;

/// Admit a caller to the route of `scope`: not while shutting down (503), and only
/// with a token of that scope.
fn admit(
    state: &AppState,
    headers: &HeaderMap,
    param: &TokenParam,
    scope: Scope,
) -> Result<Arc<Principal>, Refused> {
    if state.shutdown.is_cancelled() {
        return Err(Refused {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "shutting down".into(),
        });
    }
    authorize(state, headers, param, Scope::one(scope))
}

/// Who is connecting, for the connection's log lines.
struct Caller {
    route: &'static str,
    peer: SocketAddr,
    token: Arc<str>,
}

/// Upgrade to a WebSocket whose messages and frames are at most `max_message` bytes,
/// and run `connection` on it as a tracked task (shutdown waits for it). A line is
/// logged when it opens and when it closes (with why and how long it lasted).
fn upgrade<F, Fut>(
    ws: WebSocketUpgrade,
    state: &AppState,
    max_message: usize,
    caller: Caller,
    connection: F,
) -> Response
where
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = &'static str> + Send + 'static,
{
    let tracker = state.tracker.clone();
    let connection = move |socket| async move {
        let Caller { route, peer, token } = caller;
        let opened = std::time::Instant::now();
        tracing::info!(route, %peer, %token, "Connection opened.");
        let why = connection(socket).await;
        let duration_s = opened.elapsed().as_secs_f64();
        tracing::info!(route, %peer, %token, why, duration_s, "Connection closed.");
    };
    ws.max_message_size(max_message)
        .max_frame_size(max_message)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_write_buffer_size(SOCKET_BUFFER + WRITE_BOUND_PER_READ_BYTE * max_message)
        .on_upgrade(move |socket| tracker.track_future(connection(socket)))
}

/// `GET /v1/ingest`.
pub(super) async fn ingest_upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(param): Query<TokenParam>,
    ws: WebSocketUpgrade,
) -> Response {
    let admitted = admit(&state, &headers, &param, Scope::Ingest)
        .and_then(|p| Ok((connection_slot(&state, &p, Scope::Ingest)?, p)));
    let (slot, principal) = match admitted {
        Ok(admitted) => admitted,
        Err(refused) => return refused.into_response(),
    };
    let max = state.config.ingest.max_frame_bytes;
    let conn_state = state.clone();
    let caller = Caller {
        route: "ingest",
        peer,
        token: principal.name.clone(),
    };
    upgrade(ws, &state, max, caller, move |socket| {
        ingest::connection(socket, conn_state, principal, slot)
    })
}

/// `GET /v1/alerts`.
pub(super) async fn alerts_upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(param): Query<TokenParam>,
    Query(query): Query<feed::AlertQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let principal = match admit(&state, &headers, &param, Scope::Moderate) {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    // A malformed filter is answered before a slot is taken.
    let filter = match query.filter(principal.clone()) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let slot = match connection_slot(&state, &principal, Scope::Moderate) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    let conn_state = state.clone();
    let caller = Caller {
        route: "alerts",
        peer,
        token: principal.name.clone(),
    };
    upgrade(
        ws,
        &state,
        MAX_MODERATOR_FRAME,
        caller,
        move |socket| async move {
            let _slot = slot;
            feed::subscriber(socket, conn_state, query, filter).await
        },
    )
}
