//! Who may call: the token a request presents (header or query), the `admin`
//! extractor, and the connection slots of the WebSocket routes.

use std::sync::Arc;

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, limits};
use crate::auth::{Denied, Principal, Scope};
use crate::telemetry as t;
use crate::wire::ErrorBody;

/// The token a request presents: `Authorization: Bearer T`, or `?access_token=T` for
/// browsers, which cannot set headers on a WebSocket.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenParam {
    pub(super) access_token: Option<String>,
}

/// A request refused before it is served: `{"error": ...}` with its status.
#[derive(Debug)]
pub(super) struct Refused {
    pub(super) status: StatusCode,
    pub(super) error: String,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = axum::Json(ErrorBody { error: self.error });
        if self.status == StatusCode::UNAUTHORIZED {
            (self.status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (self.status, body).into_response()
        }
    }
}

/// The caller, if its token has one of `scopes`.
pub(super) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    param: &TokenParam,
    scopes: &'static [Scope],
) -> Result<Arc<Principal>, Refused> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (kind, token) = v.split_once(' ')?;
            kind.eq_ignore_ascii_case("bearer").then_some(token.trim())
        });
    let token = header.or(param.access_token.as_deref());
    state.auth.authorize_any(token, scopes).map_err(|denied| {
        let reason = match denied {
            Denied::Missing => "missing",
            Denied::Invalid => "invalid",
            Denied::Scope(_) => "scope",
        };
        metrics::counter!(t::AUTH_DENIED, "reason" => reason).increment(1);
        log_refusal(reason, scopes);
        let status = match denied {
            Denied::Scope(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        };
        Refused {
            status,
            error: denied.to_string(),
        }
    })
}

/// Log a refused token at most once per 10 s, with how many refusals the quiet time
/// hid: a client retrying a bad token in a loop must not flood the log (every refusal
/// is counted in `liveguard_auth_denied_total`).
fn log_refusal(reason: &'static str, scopes: &[Scope]) {
    static GATE: t::LogGate = t::LogGate::new(10);
    if let Some(hidden) = GATE.pass() {
        tracing::warn!(reason, scopes = ?scopes, hidden, "Token refused.");
    }
}

/// The caller of an HTTP route, if its token has one of `scopes`.
fn caller(
    parts: &axum::http::request::Parts,
    state: &AppState,
    scopes: &'static [Scope],
) -> Result<Arc<Principal>, Refused> {
    let param = Query::<TokenParam>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    authorize(state, &parts.headers, &param, scopes)
}

/// Declare an extractor of the principal whose token has one of the scopes.
macro_rules! scoped_extractor {
    ($(#[$doc:meta])* $name:ident: $($scope:ident),+) => {
        $(#[$doc])*
        pub(super) struct $name(pub(super) Arc<Principal>);

        impl axum::extract::FromRequestParts<Arc<AppState>> for $name {
            type Rejection = Refused;

            async fn from_request_parts(
                parts: &mut axum::http::request::Parts,
                state: &Arc<AppState>,
            ) -> Result<$name, Refused> {
                caller(parts, state, &[$(Scope::$scope),+]).map($name)
            }
        }
    };
}

scoped_extractor!(
    /// Extractor: the request carries a token of the `admin` scope (the principal).
    Admin: Admin
);

scoped_extractor!(
    /// Extractor: a token of the `moderate` or `admin` scope: the moderator console's
    /// queries (a moderate token sees only its rooms).
    Moderator: Moderate, Admin
);

scoped_extractor!(
    /// Extractor: a valid token of any scope: the script check, which reads nothing of
    /// any room and changes nothing.
    AnyToken: Ingest, Moderate, Admin
);

/// Take a connection slot for `principal` on the WebSocket route of `scope` (ingest
/// or alerts), within the server's limit and the principal's share.
pub(super) fn connection_slot(
    state: &AppState,
    principal: &Principal,
    scope: Scope,
) -> Result<limits::Slot, Refused> {
    let l = &state.limiter.config;
    let (kind, share, share_limit) = match scope {
        Scope::Moderate => (
            "alerts",
            l.subscribers_per_moderator,
            "subscribers_per_moderator",
        ),
        // (Admin has no WebSocket route.)
        Scope::Ingest | Scope::Admin => {
            ("ingest", l.connections_per_token, "connections_per_token")
        }
    };
    let share = principal.max_connections.unwrap_or(share);
    let total = l.max_connections;
    let key = format!("{kind}:{}", principal.name);
    state
        .limiter
        .slots
        .acquire(key, total, share)
        .map_err(|refused| {
            let (status, limit, why) = match refused {
                limits::SlotRefused::Server => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "connections",
                    format!("the server holds its limit of {total} connections"),
                ),
                limits::SlotRefused::Token => (
                    StatusCode::TOO_MANY_REQUESTS,
                    share_limit,
                    format!("this token holds its limit of {share} {kind} connections"),
                ),
            };
            limits::refused(limit);
            // Counted in metrics; a flood of refusals must not flood the log too.
            tracing::debug!(principal = %principal.name, limit, "Connection refused by a limit.");
            Refused { status, error: why }
        })
}
