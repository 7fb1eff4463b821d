//! The moderator console (`GET /console`): one page embedded in the binary, and the
//! small HTTP queries behind it: pending holds, a room's or a sender's latest alerts,
//! a room's latest actions, and the pre-live script check (`POST /v1/check`).
//!
//! The page is plain HTML, CSS and JavaScript with no build step. It loads nothing
//! from elsewhere, runs no inline script and renders chat only as text; the
//! Content-Security-Policy below holds it to that. The queries read the feed's
//! in-memory history (`alerts.history` records), so they work the same on a single
//! process and on a cluster gateway, which keeps no store.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::AppState;
use super::access::{AnyToken, Moderator};
use crate::auth::Principal;
use crate::event::Role;
use crate::script::{ScriptError, check_script};
use crate::wire::{ErrorBody, HoldsBody, RoomActions, RoomAlerts, ScriptRequest};

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// Only the page's own script and style, no inline code, no frames, no forms sent
/// elsewhere; `connect-src 'self'` covers the same-origin WebSocket.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// Most records a context query returns.
const MAX_LIMIT: usize = 500;

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The page is part of the binary: a new binary may change it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    (headers, body).into_response()
}

/// `GET /console`: the page. It holds no data; every query it makes carries the token
/// the moderator enters.
pub(super) async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// `GET /console/console.js`.
pub(super) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /console/console.css`.
pub(super) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn error(status: StatusCode, error: String) -> Response {
    (status, axum::Json(ErrorBody { error })).into_response()
}

/// The feed's JSON text of a record, as a raw JSON value for an answer's list.
fn raw(json: &str) -> Option<Box<RawValue>> {
    RawValue::from_string(json.to_owned()).ok()
}

/// `GET /v1/holds`: the holds the caller may review.
pub(super) async fn holds(
    State(state): State<Arc<AppState>>,
    Moderator(who): Moderator,
) -> Response {
    let (seq, holds) = state.hub.pending_holds(&who);
    let holds = holds.iter().filter_map(|json| raw(json)).collect();
    axum::Json(HoldsBody { seq, holds }).into_response()
}

/// The query of a room's context.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ContextQuery {
    /// Only this sender's alerts.
    user: Option<String>,
    /// At most this many (default 50, at most 500).
    limit: Option<usize>,
}

impl ContextQuery {
    fn limit(&self) -> usize {
        self.limit.unwrap_or(50).clamp(1, MAX_LIMIT)
    }
}

/// A moderator scoped to some rooms learns nothing of the others.
pub(super) fn room_refused(who: &Principal, room: &str) -> Option<Response> {
    (!who.may_access(room)).then(|| {
        error(
            StatusCode::FORBIDDEN,
            format!("room `{room}` is not among this token's rooms"),
        )
    })
}

/// The feed's records of `room`, newest first, if `who` may read them.
#[allow(clippy::result_large_err)] // the refusal is the response itself
fn room_records(
    state: &AppState,
    who: &Principal,
    room: &str,
) -> Result<(u64, Vec<Arc<super::hub::Record>>), Response> {
    match room_refused(who, room) {
        Some(refused) => Err(refused),
        None => Ok(state.hub.room_history(room)),
    }
}

/// What the context queries read of an alert record.
#[derive(Deserialize)]
struct AlertPeek<'a> {
    kind: &'a str,
    #[serde(default)]
    event: Option<EventPeek>,
    #[serde(default, borrow)]
    actions: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct EventPeek {
    #[serde(default)]
    user: Option<String>,
}

/// `GET /v1/rooms/{room}/alerts?user=&limit=`: the room's latest alerts, newest
/// first, or one sender's.
pub(super) async fn room_alerts(
    State(state): State<Arc<AppState>>,
    Moderator(who): Moderator,
    Path(room): Path<String>,
    Query(q): Query<ContextQuery>,
) -> Response {
    let (seq, records) = match room_records(&state, &who, &room) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let alerts = records
        .iter()
        .filter(|r| {
            let Ok(peek) = serde_json::from_str::<AlertPeek<'_>>(&r.json) else {
                return false;
            };
            peek.kind == "alert"
                && q.user.as_deref().is_none_or(|user| {
                    peek.event.as_ref().and_then(|e| e.user.as_deref()) == Some(user)
                })
        })
        .take(q.limit())
        .filter_map(|r| raw(&r.json))
        .collect();
    axum::Json(RoomAlerts { seq, alerts }).into_response()
}

/// `GET /v1/rooms/{room}/actions?limit=`: the room's latest actions, newest first.
pub(super) async fn room_actions(
    State(state): State<Arc<AppState>>,
    Moderator(who): Moderator,
    Path(room): Path<String>,
    Query(q): Query<ContextQuery>,
) -> Response {
    let (seq, records) = match room_records(&state, &who, &room) {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let mut actions = Vec::new();
    for r in &records {
        let Ok(peek) = serde_json::from_str::<AlertPeek<'_>>(&r.json) else {
            continue;
        };
        // An alert lists its actions in the order they were taken; newest first.
        actions.extend(peek.actions.iter().rev().filter_map(|a| raw(a.get())));
        if actions.len() >= q.limit() {
            actions.truncate(q.limit());
            break;
        }
    }
    axum::Json(RoomActions { seq, actions }).into_response()
}

/// `POST /v1/check`: judge a script as a host would say it live. The body is
/// `{"text": …, "role": …}`, or the text itself when it is not a JSON object.
pub(super) async fn check(
    State(state): State<Arc<AppState>>,
    AnyToken(caller): AnyToken,
    body: Bytes,
) -> Response {
    let request = if body.first() == Some(&b'{') {
        match serde_json::from_slice::<ScriptRequest>(&body) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid request: {e}")),
        }
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) => ScriptRequest {
                text,
                role: Role::Host,
            },
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the script is not UTF-8: {e}"),
                );
            }
        }
    };
    match check_script(state.engine.rules(), &request.text, request.role) {
        Ok(answer) => {
            tracing::debug!(by = %caller.name, lines = answer.lines, hits = answer.hits.len(), "Script checked.");
            axum::Json(answer).into_response()
        }
        Err(e @ ScriptError::TooLong(_)) => error(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
    }
}
