//! The real-time server: WebSocket ingest and alert feeds, HTTP operations.
//!
//! [`run`] is the whole API: the caller binds the listener (tests bind `127.0.0.1:0`)
//! and passes a future that resolves when the server should shut down.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/ingest` (WebSocket) | events in, verdicts, actions, errors and review outcomes out |
//! | `GET /v1/alerts?rooms=&categories=&min_severity=&since=&moderator=` (WebSocket) | alert feed, review frames in |
//! | `GET /healthz` | liveness and the lexicon version |
//! | `GET /metrics` | Prometheus text |
//! | `GET /v1/lexicon` | lexicon version, hash and sizes |
//! | `POST /v1/lexicon/reload` | rebuild the lexicon off the hot path and swap it |
//! | `GET`/`PUT /v1/rooms/{room}/tier` | a room's monitoring tier (`{"tier":"enhanced"}`) |
//! | `GET /v1/actions?room=&since=&until=&limit=&cursor=` | the stored actions, paged (audit) |
//!
//! Shutdown: stop accepting, let every connection answer the events it has read and
//! send a close frame, wait at most `shutdown_grace_s`, flush the store, return.

mod alerts;
mod ingest;
mod limits;
mod listen;
mod tally;

pub(crate) use crate::clock::now_ms;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dashmap::DashMap;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Auth, AuthError, Denied, Principal, Scope};
use crate::config::{Config, ConfigError};
use crate::engine::{Engine, Ruleset};
use crate::event::Tier;
use crate::lexicon::{Lexicon, LexiconError, Problem};
use crate::matcher::{BuildError, BuildOptions};
use crate::store::{ActionQuery, LexiconRecord, OnCommit, Store, parse_time};
use crate::telemetry as t;
use crate::wire::{ErrorBody, Health, ReloadRefused};

pub use alerts::CLOSE_LAGGED;
pub use listen::{TlsError, tls_acceptor};

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The lexicon cannot be loaded.
    #[error(transparent)]
    Lexicon(#[from] LexiconError),
    /// The lexicon cannot be compiled.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The tokens are misconfigured, or the server would be open to the network.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The TLS certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listener failed.
    #[error("server I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Shared state of a running server.
struct AppState {
    config: Config,
    auth: Auth,
    limiter: limits::Limiter,
    engine: Engine,
    hub: Arc<alerts::Hub>,
    /// Review-outcome queues of open ingest connections.
    connections: DashMap<u64, mpsc::Sender<String>>,
    next_conn: AtomicU64,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// One reload at a time.
    reload_lock: tokio::sync::Mutex<()>,
}

impl AppState {
    fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Send a review outcome to the ingest connection that sent the event. It waits
    /// in a task of its own if that connection's queue is full; if the connection is
    /// gone, it is counted and logged (the outcome is in the alert feed).
    fn deliver(&self, r: alerts::Resolution) {
        let Some(tx) = self.connections.get(&r.conn).map(|tx| tx.clone()) else {
            metrics::counter!(t::REVIEWS_UNDELIVERED).increment(1);
            tracing::info!(
                conn = r.conn,
                "Review outcome not delivered: the platform connection is gone."
            );
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(item)) = tx.try_send(r.frame) {
            self.tracker.spawn(async move {
                if tx.send(item).await.is_err() {
                    metrics::counter!(t::REVIEWS_UNDELIVERED).increment(1);
                }
            });
        }
    }

    /// Record the running lexicon version in the store (evidence is traced to it).
    fn record_lexicon(&self) {
        if let Some(store) = self.hub.store() {
            let info = LexiconInfo::of(&self.engine.rules());
            store.record_lexicon(LexiconRecord {
                summary: serde_json::to_string(&info.stats).unwrap_or_default(),
                version: info.version,
                hash: info.hash,
                origin: info.origin,
                loaded_at: now_ms(),
            });
        }
    }

    /// Rebuild the lexicon from its configured source and swap it in.
    async fn reload(&self) -> Result<LexiconInfo, ReloadError> {
        let _one = self.reload_lock.lock().await;
        let dir = self.config.lexicons.clone();
        let built = tokio::task::spawn_blocking(move || -> Result<Ruleset, ReloadError> {
            let lexicon = Lexicon::load(dir.as_deref())?;
            Ok(Ruleset::compile(&lexicon, BuildOptions::default())?)
        })
        .await
        .map_err(|e| ReloadError::Internal(e.to_string()))?;
        match built {
            Ok(rules) => {
                let old = self.engine.swap_rules(rules);
                self.record_lexicon();
                metrics::counter!(t::RELOADS, "result" => "ok").increment(1);
                let info = LexiconInfo::of(&self.engine.rules());
                tracing::info!(from = %old.version(), to = %info.version, "Lexicon reloaded.");
                Ok(info)
            }
            Err(e) => {
                metrics::counter!(t::RELOADS, "result" => "error").increment(1);
                tracing::error!(error = %e, "Lexicon reload failed; the previous lexicon stays in use.");
                Err(e)
            }
        }
    }
}

/// Counts an open connection in the `liveguard_connections` gauge while it lives.
struct ConnectionGauge(&'static str);

impl ConnectionGauge {
    fn new(kind: &'static str) -> ConnectionGauge {
        metrics::gauge!(t::CONNECTIONS, "kind" => kind).increment(1.0);
        ConnectionGauge(kind)
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        metrics::gauge!(t::CONNECTIONS, "kind" => self.0).decrement(1.0);
    }
}

/// Why a reload failed.
#[derive(Debug, thiserror::Error)]
enum ReloadError {
    #[error(transparent)]
    Lexicon(#[from] LexiconError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("reload task failed: {0}")]
    Internal(String),
}

/// `GET /v1/lexicon`.
#[derive(Debug, Serialize)]
struct LexiconInfo {
    version: String,
    hash: String,
    origin: String,
    #[serde(flatten)]
    stats: crate::matcher::MatcherStats,
}

impl LexiconInfo {
    fn of(rules: &Ruleset) -> LexiconInfo {
        LexiconInfo {
            version: rules.version().to_string(),
            hash: rules.matcher.hash().to_owned(),
            origin: rules.origin.clone(),
            stats: rules.matcher.stats(),
        }
    }
}

/// Serve on `listener` until `shutdown` resolves.
///
/// # Errors
/// [`ServerError`] when the configuration or lexicon is unusable (before anything is
/// served), or the listener fails.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    run_with_reload(listener, config, shutdown, futures_util::stream::pending()).await
}

/// [`run`], reloading the lexicon whenever `reloads` yields (the binary feeds it SIGHUP).
///
/// # Errors
/// As [`run`].
pub async fn run_with_reload(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reloads: impl Stream<Item = ()> + Send + 'static,
) -> Result<(), ServerError> {
    config.validate()?;
    let auth = Auth::from_env(&config.auth.tokens)?;
    crate::auth::check_exposure(listener.local_addr()?, &auth, config.insecure)?;
    if auth.is_open() {
        tracing::warn!("No tokens configured: every caller may ingest, moderate and administer.");
    }
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let lexicon = Lexicon::load(config.lexicons.as_deref())?;
    let rules = Ruleset::compile(&lexicon, BuildOptions::default())?;
    t::prometheus();
    let grace = Duration::from_secs(config.shutdown_grace_s);
    let engine = Engine::new(rules, config.engine);
    let hub = Arc::new(alerts::Hub::new(config.alerts));
    if config.store.enabled {
        open_store(&config, &engine, &hub);
    }
    let state = Arc::new(AppState {
        auth,
        limiter: limits::Limiter::new(config.limits),
        engine,
        hub,
        connections: DashMap::new(),
        next_conn: AtomicU64::new(1),
        shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
        reload_lock: tokio::sync::Mutex::new(()),
        config,
    });
    state.record_lexicon();
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() {
        "https/wss"
    } else {
        "http/ws"
    };
    tracing::info!(%addr, scheme, lexicon = %state.engine.rules().version(), "liveguard serving.");

    let token = state.shutdown.clone();
    tokio::spawn(async move {
        shutdown.await;
        token.cancel();
    });
    state.tracker.spawn(housekeeping(state.clone()));
    state.tracker.spawn(reload_on(state.clone(), reloads));

    let app = router(state.clone());
    let handshake = Duration::from_secs(state.config.ingest.handshake_timeout_s);
    let stop = state.shutdown.clone();
    listen::serve(listener, tls, app, stop, handshake, grace).await;
    tracing::info!("No longer accepting connections; draining.");
    state.tracker.close();
    if tokio::time::timeout(grace, state.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "Shutdown grace period elapsed with connections still open."
        );
    }
    // Everything judged is written before `run` returns: the process may exit next.
    if let Some(store) = state.hub.store().cloned() {
        let _ = tokio::task::spawn_blocking(move || store.flush()).await;
        tracing::info!("Evidence store flushed.");
    }
    tracing::info!("liveguard stopped.");
    Ok(())
}

/// Open the store, resume from it (seq, history, holds, tiers) and route the feed
/// through it. A store that cannot be opened (corrupt, locked, unwritable) does not
/// stop the server: it runs without one, loudly.
fn open_store(config: &Config, engine: &Engine, hub: &Arc<alerts::Hub>) {
    let weak = Arc::downgrade(hub);
    let on_commit: OnCommit = Box::new(move |records| {
        if let Some(hub) = weak.upgrade() {
            hub.committed(records);
        }
    });
    match Store::open(&config.data, config.store, config.alerts.history, on_commit) {
        Ok((store, recovered)) => {
            hub.restore(&recovered);
            for (room, tier) in &recovered.tiers {
                engine.set_tier(room, *tier);
            }
            tracing::info!(
                path = %store.path().display(),
                next_seq = recovered.next_seq,
                holds = recovered.holds.len(),
                "Evidence store open."
            );
            hub.attach(Arc::new(store));
        }
        Err(e) => {
            metrics::gauge!(t::STORE_UP).set(0.0);
            tracing::error!(error = %e, "The evidence store cannot be opened: serving WITHOUT one; nothing will be kept.");
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/ingest", get(ingest_upgrade))
        .route("/v1/alerts", get(alerts_upgrade))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/v1/lexicon", get(lexicon_info))
        .route("/v1/lexicon/reload", post(reload))
        .route("/v1/rooms/{room}/tier", get(get_tier).put(put_tier))
        .route("/v1/actions", get(list_actions))
        .with_state(state)
}

/// Seconds between two sweeps of windows and strike logs.
const SWEEP_EVERY_S: u64 = 10;

/// Once a second: resolve expired holds; every ten seconds, sweep idle windows and
/// strike logs, off the runtime's workers. A sweep visits every window (about 40 ns
/// each: 3 million take over 100 ms), so its cost is set by how often it runs; ten
/// seconds keeps it near 1% of a core, and a window outlives its age by at most that.
async fn housekeeping(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut sweeps = 0u64;
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        for r in state.hub.expire(tokio::time::Instant::now()) {
            state.deliver(r);
        }
        sweeps += 1;
        if sweeps.is_multiple_of(SWEEP_EVERY_S) {
            let s = state.clone();
            let started = std::time::Instant::now();
            let idle_ms = state.limiter.config.room_idle_s * 1000;
            let removed = tokio::task::spawn_blocking(move || {
                let now = now_ms();
                s.engine.sweep(now) + s.limiter.rooms.sweep(now.saturating_sub(idle_ms))
            })
            .await
            .unwrap_or(0);
            tracing::debug!(removed, took = ?started.elapsed(), "Swept windows and strike logs.");
            let windows = state.engine.windows();
            metrics::gauge!(t::WINDOWS).set(windows.len() as f64);
            metrics::counter!(t::WINDOWS_REFUSED).absolute(windows.refused());
            let strikes = state.engine.dispatcher();
            metrics::gauge!(t::STRIKE_LOGS).set(strikes.len() as f64);
            metrics::counter!(t::STRIKES_REFUSED).absolute(strikes.refused());
        }
    }
}

async fn reload_on(state: Arc<AppState>, reloads: impl Stream<Item = ()> + Send + 'static) {
    let mut reloads = std::pin::pin!(reloads);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            r = reloads.next() => match r {
                Some(()) => { let _ = state.reload().await; }
                None => return,
            },
        }
    }
}

/// Read and write buffer of a WebSocket connection. tungstenite's default (128 KiB
/// each, allocated up front) would put 10,000 idle connections at 2.5 GiB; a
/// batch of 50 events is about 8 KiB, and larger frames are still read whole.
const SOCKET_BUFFER: usize = 16 * 1024;

/// The token a request presents: `Authorization: Bearer T`, or `?access_token=T` for
/// browsers, which cannot set headers on a WebSocket.
#[derive(Debug, Default, Deserialize)]
struct TokenParam {
    access_token: Option<String>,
}

/// A request refused before it is served: `{"error": ...}` with its status.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    error: String,
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

/// The caller, if its token has `scope`.
fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    param: &TokenParam,
    scope: Scope,
) -> Result<Arc<Principal>, Refused> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (kind, token) = v.split_once(' ')?;
            kind.eq_ignore_ascii_case("bearer").then_some(token.trim())
        });
    let token = header.or(param.access_token.as_deref());
    state.auth.authorize(token, scope).map_err(|denied| {
        let reason = match denied {
            Denied::Missing => "missing",
            Denied::Invalid => "invalid",
            Denied::Scope(_) => "scope",
        };
        metrics::counter!(t::AUTH_DENIED, "reason" => reason).increment(1);
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

/// Extractor: the request carries a token of the `admin` scope.
struct Admin;

impl axum::extract::FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Admin, Refused> {
        let param = Query::<TokenParam>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or_default();
        authorize(state, &parts.headers, &param, Scope::Admin).map(|_| Admin)
    }
}

/// Take a connection slot for `principal` on the WebSocket route of `scope` (ingest
/// or alerts), within the server's limit and the principal's share.
fn connection_slot(
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

async fn ingest_upgrade(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(param): Query<TokenParam>,
    ws: WebSocketUpgrade,
) -> Response {
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let principal = match authorize(&state, &headers, &param, Scope::Ingest) {
        Ok(p) => p,
        Err(denied) => return denied.into_response(),
    };
    let slot = match connection_slot(&state, &principal, Scope::Ingest) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    let max = state.config.ingest.max_frame_bytes;
    let tracker = state.tracker.clone();
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .on_upgrade(move |socket| {
            tracker.track_future(ingest::connection(socket, state, principal, slot))
        })
}

async fn alerts_upgrade(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(param): Query<TokenParam>,
    Query(query): Query<alerts::AlertQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let principal = match authorize(&state, &headers, &param, Scope::Moderate) {
        Ok(p) => p,
        Err(denied) => return denied.into_response(),
    };
    let filter = match query.filter(principal.clone()) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let slot = match connection_slot(&state, &principal, Scope::Moderate) {
        Ok(slot) => slot,
        Err(refused) => return refused.into_response(),
    };
    let tracker = state.tracker.clone();
    ws.max_message_size(64 * 1024)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                let _slot = slot;
                alerts::subscriber(socket, state, query, filter).await;
            })
        })
}

async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
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

async fn metrics_text() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        t::prometheus().render(),
    )
}

async fn lexicon_info(State(state): State<Arc<AppState>>, _admin: Admin) -> Response {
    axum::Json(LexiconInfo::of(&state.engine.rules())).into_response()
}

async fn reload(State(state): State<Arc<AppState>>, _admin: Admin) -> Response {
    match state.reload().await {
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

#[derive(Debug, Deserialize, Serialize)]
struct TierBody {
    tier: Tier,
}

async fn get_tier(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    Path(room): Path<String>,
) -> Response {
    axum::Json(TierBody {
        tier: state.engine.tier(&room),
    })
    .into_response()
}

async fn put_tier(
    State(state): State<Arc<AppState>>,
    _admin: Admin,
    Path(room): Path<String>,
    axum::Json(body): axum::Json<TierBody>,
) -> Response {
    state.engine.set_tier(&room, body.tier);
    if let Some(store) = state.hub.store() {
        store.set_tier(&room, body.tier, now_ms());
    }
    tracing::info!(%room, tier = body.tier.as_str(), "Room tier set.");
    axum::Json(body).into_response()
}

/// `GET /v1/actions?room=&since=&until=&limit=&cursor=`.
#[derive(Debug, Deserialize)]
struct ActionsParams {
    room: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list_actions(
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
