//! The HTTP API: health, metrics, the lexicon and its reload, room tiers, and the
//! audit query over stored actions.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::access::{Admin, Moderator};
use super::{AppState, ReloadError, now_ms};
use crate::engine::Ruleset;
use crate::event::Category;
use crate::lexicon::{LexiconError, Problem};
use crate::store::{ActionQuery, parse_time};
use crate::telemetry as t;
use crate::wire::{ErrorBody, Health, LexiconInfo, Readiness, ReloadRefused, TierBody};

pub(super) async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let rules = state.engine.rules();
    let status = if state.shutdown.is_cancelled() {
        "stopping"
    } else {
        "ok"
    };
    axum::Json(Health {
        status,
        lexicon: rules.version().as_ref(),
    })
    .into_response()
}

/// `GET /readyz`: 503 while the server lacks its store (unless `store.enabled` is
/// off on purpose) or is shutting down, for load balancers and orchestrators.
/// Moderation goes on either way; `/healthz` says only that the process serves.
pub(super) async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let mut reasons = Vec::new();
    if state.shutdown.is_cancelled() {
        reasons.push("shutting down".to_owned());
    }
    if state.config.store.enabled {
        match state.hub.store() {
            Some(store) => {
                if let Err(e) = store.health() {
                    reasons.push(format!("store: writes failing: {e}"));
                }
            }
            None => reasons.push(format!(
                "store: not open: {}",
                state.store_error().unwrap_or_else(|| "unknown".into())
            )),
        }
    }
    let (code, status) = if reasons.is_empty() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let body = Readiness {
        status: status.into(),
        reasons,
    };
    (code, axum::Json(body)).into_response()
}

pub(super) async fn metrics_text() -> impl IntoResponse {
    t::update_process_metrics();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        t::prometheus().render(),
    )
}

pub(super) async fn lexicon_info(State(state): State<Arc<AppState>>, _: Admin) -> Response {
    axum::Json(info_of(&state.engine.rules())).into_response()
}

/// `POST /v1/lexicon/reload?drop=`: categories the new lexicon may leave empty.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ReloadParams {
    drop: Option<String>,
}

pub(super) async fn reload(
    State(state): State<Arc<AppState>>,
    Admin(admin): Admin,
    Query(p): Query<ReloadParams>,
) -> Response {
    let mut drop = Vec::new();
    for name in p
        .drop
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|n| !n.is_empty())
    {
        match Category::parse(name.trim()) {
            Some(c) => drop.push(c),
            None => {
                let error = format!("drop: unknown category `{name}`");
                return (StatusCode::BAD_REQUEST, axum::Json(ErrorBody { error })).into_response();
            }
        }
    }
    match state.reload(&drop, &admin.name).await {
        Ok(info) => axum::Json(info).into_response(),
        Err(e) => {
            let problems: Vec<String> = match &e {
                ReloadError::Lexicon(LexiconError::Invalid(p)) => {
                    p.iter().map(Problem::to_string).collect()
                }
                _ => Vec::new(),
            };
            let status = match e {
                ReloadError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let rules = state.engine.rules();
            let body = ReloadRefused {
                error: e.to_string(),
                problems,
                lexicon: rules.version().as_ref(),
            };
            (status, axum::Json(body)).into_response()
        }
    }
}

/// `GET /v1/rooms/{room}/tier`: for admins, and for moderators of the room (the
/// console shows it; only an admin may change it).
pub(super) async fn get_tier(
    State(state): State<Arc<AppState>>,
    Moderator(who): Moderator,
    Path(room): Path<String>,
) -> Response {
    if let Some(refused) = super::console::room_refused(&who, &room) {
        return refused;
    }
    let tier = match state.cluster.get() {
        Some(cluster) => match cluster.bus().tier(&room).await {
            Ok(t) => t,
            Err(e) => return cluster_unavailable(e),
        },
        None => state.engine.tier(&room),
    };
    axum::Json(TierBody { tier }).into_response()
}

/// A gateway's answer when the cluster cannot do what was asked: 503, with why.
fn cluster_unavailable(e: crate::cluster::ClusterError) -> Response {
    let error = format!("the cluster cannot be reached: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(ErrorBody { error }),
    )
        .into_response()
}

pub(super) async fn put_tier(
    State(state): State<Arc<AppState>>,
    Admin(admin): Admin,
    Path(room): Path<String>,
    axum::Json(body): axum::Json<TierBody>,
) -> Response {
    if let Some(cluster) = state.cluster.get()
        && let Err(e) = cluster.bus().set_tier(&room, body.tier).await
    {
        return cluster_unavailable(e);
    }
    state.engine.set_tier(&room, body.tier);
    if let Some(store) = state.hub.store() {
        store.set_tier(&room, body.tier, now_ms());
    }
    tracing::info!(%room, tier = body.tier.as_str(), by = %admin.name, "Room tier set.");
    axum::Json(body).into_response()
}

/// `GET /v1/actions?room=&since=&until=&limit=&cursor=`.
#[derive(Debug, Deserialize)]
pub(super) struct ActionsParams {
    room: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub(super) async fn list_actions(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    Query(p): Query<ActionsParams>,
) -> Response {
    let bad = |msg: String| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(ErrorBody { error: msg }),
        )
            .into_response()
    };
    let time = |v: &Option<String>| v.as_deref().map(parse_time).transpose();
    let (since, until) = match (time(&p.since), time(&p.until)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let cursor = match p.cursor.as_deref().map(str::parse::<u64>).transpose() {
        Ok(c) => c,
        Err(_) => return bad("cursor: pass back the next_cursor of the previous page".into()),
    };
    let query = ActionQuery {
        room: p.room,
        since,
        until,
        limit: p.limit.unwrap_or(100),
        cursor,
    };
    let Some(store) = state.hub.store().cloned() else {
        let body = ErrorBody {
            error: "the evidence store is not running".into(),
        };
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    };
    let page =
        tokio::task::spawn_blocking(move || store.reader().and_then(|r| r.actions(&query))).await;
    match page {
        Ok(Ok(page)) => axum::Json(page).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Audit query failed.");
            let body = ErrorBody {
                error: "the store could not be read".into(),
            };
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The `GET /v1/lexicon` body for the ruleset `rules`.
pub(super) fn info_of(rules: &Ruleset) -> LexiconInfo {
    LexiconInfo {
        version: rules.version().to_string(),
        hash: rules.matcher.hash().to_owned(),
        origin: rules.origin.clone(),
        stats: rules.matcher.stats(),
    }
}
