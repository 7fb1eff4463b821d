//! The real-time server: WebSocket ingest and alert feeds, HTTP operations.
//!
//! [`Server::bind`] checks the configuration and binds; [`Server::run`] serves until
//! a shutdown future resolves. [`run`] does both on a listener the caller bound (tests
//! bind `127.0.0.1:0`).
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
//! | `GET /v1/holds` | held messages awaiting a decision, and the seq to resume the feed at |
//! | `GET /v1/rooms/{room}/alerts?user=&limit=` | a room's (or a sender's) latest alerts |
//! | `GET /v1/rooms/{room}/actions?limit=` | a room's latest actions |
//! | `POST /v1/check` | the pre-live script check (nothing stored or dispatched) |
//! | `GET /console` | the moderator console (page, script and style embedded) |
//!
//! Shutdown: stop accepting, let every connection answer the events it has read and
//! send a close frame, wait at most `shutdown_grace_s`, flush the store, return.

mod access;
mod console;
mod feed;
mod housekeeping;
mod http;
mod hub;
mod ingest;
mod limits;
mod listen;
mod origin;
mod tally;
mod upgrade;

pub(crate) use crate::clock::now_ms;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use dashmap::DashMap;
use futures_util::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Auth, AuthError};
use crate::config::{Config, ConfigError};
use crate::engine::{Engine, Ruleset};
use crate::event::Category;
use crate::lexicon::{Lexicon, LexiconError};
use crate::matcher::{BuildError, BuildOptions};
use crate::store::{LexiconRecord, OnCommit, Store};
use crate::telemetry as t;
use crate::wire::{EntryChanges, ReloadAnswer};

pub use feed::CLOSE_LAGGED;
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
    /// Another process holds the data directory: two servers would overwrite each
    /// other's evidence.
    #[error(
        "the data directory {dir} is in use by another liveguard ({holder}); stop it or choose another --data"
    )]
    DataInUse {
        /// The directory.
        dir: String,
        /// What the lock file says of its holder.
        holder: String,
    },
    /// The listener failed.
    #[error("server I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The cluster's NATS cannot be reached, or JetStream refused its streams.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

/// Hold `dir`'s lock file for the life of the process: one server (or archiver) per
/// data directory. The lock (`flock`) goes with the process, so a killed server does
/// not leave it held.
///
/// # Errors
/// [`ServerError::DataInUse`] when another process holds it; [`ServerError::Io`]
/// when the directory or its lock file cannot be made.
pub fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, ServerError> {
    use std::io::{Read, Seek, Write};
    std::fs::create_dir_all(dir)?;
    let path = dir.join("liveguard.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "pid {}", std::process::id())?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            Err(ServerError::DataInUse {
                dir: dir.display().to_string(),
                holder: holder.trim().to_owned(),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Shared state of a running server.
struct AppState {
    config: Config,
    auth: Auth,
    limiter: limits::Limiter,
    engine: Engine,
    hub: Arc<hub::Hub>,
    /// Review-outcome queues of open ingest connections.
    connections: DashMap<u64, mpsc::Sender<String>>,
    next_conn: AtomicU64,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// One reload at a time.
    reload_lock: tokio::sync::Mutex<()>,
    /// The data directory's lock, held until the store is flushed at shutdown.
    data_lock: std::sync::Mutex<Option<std::fs::File>>,
    /// Why the store is not open (`None` when it is, or is disabled).
    store_error: std::sync::Mutex<Option<String>>,
    /// The cluster, when this server is a gateway: events go there to be judged.
    cluster: std::sync::OnceLock<Arc<crate::cluster::gateway::Gateway>>,
    /// A gateway's held events (room, id) and the ingest connection that sent each,
    /// so that the review outcome, which comes back through the cluster's feed,
    /// reaches it. At most [`HELD_CONNECTIONS`]; past that an outcome is not
    /// delivered to the platform (it is in the feed), and counted.
    held_conns: DashMap<(Box<str>, Box<str>), u64>,
}

/// See [`AppState::held_conns`].
const HELD_CONNECTIONS: usize = 100_000;

impl AppState {
    /// A gateway's event `id` of `room`, sent on ingest connection `conn`, was held:
    /// remember where its review outcome goes.
    fn held_on(&self, room: &str, id: &str, conn: u64) {
        if self.held_conns.len() < HELD_CONNECTIONS {
            self.held_conns.insert((room.into(), id.into()), conn);
        } else {
            metrics::counter!(t::REVIEWS_UNDELIVERED).increment(1);
        }
    }

    fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Send a review outcome to the ingest connection that sent the event. It waits
    /// in a task of its own if that connection's queue is full; if the connection is
    /// gone, it is counted and logged (the outcome is in the alert feed).
    fn deliver(&self, r: hub::Resolution) {
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
        let rules = self.engine.rules();
        metrics::gauge!(t::LEXICON_INFO, "version" => rules.version().to_string(), "hash" => rules.matcher.hash().to_owned())
            .set(1.0);
        if let Some(store) = self.hub.store() {
            let info = http::info_of(&rules);
            store.record_lexicon(LexiconRecord {
                summary: serde_json::to_string(&info.stats).unwrap_or_default(),
                version: info.version,
                hash: info.hash,
                origin: info.origin,
                loaded_at: now_ms(),
            });
        }
    }

    /// Rebuild the lexicon from its configured source and swap it in. A lexicon whose
    /// content changed under the same version, or that leaves a category without
    /// entries (unless `drop` names it), is refused.
    async fn reload(&self, drop: &[Category], by: &str) -> Result<ReloadAnswer, ReloadError> {
        let _one = self.reload_lock.lock().await;
        let dir = self.config.lexicons.clone();
        let built = tokio::task::spawn_blocking(move || -> Result<Ruleset, ReloadError> {
            Ok(crate::check::checked_ruleset(dir.as_deref())?)
        })
        .await
        .map_err(|e| ReloadError::Internal(e.to_string()))
        .and_then(|built| {
            let rules = built?;
            let current = self.engine.rules();
            vet_reload(&current, &rules, drop)?;
            Ok(rules)
        });
        match built {
            Ok(rules) => {
                let changes = entry_changes(&self.engine.rules(), &rules);
                let old = self.engine.swap_rules(rules);
                metrics::gauge!(t::LEXICON_INFO, "version" => old.version().to_string(), "hash" => old.matcher.hash().to_owned())
                    .set(0.0);
                self.record_lexicon();
                metrics::counter!(t::RELOADS, "result" => "ok").increment(1);
                let info = http::info_of(&self.engine.rules());
                let summary: Vec<String> = changes
                    .iter()
                    .map(|(c, ch)| format!("{c} +{} -{}", ch.added.len(), ch.removed.len()))
                    .collect();
                tracing::info!(
                    from = %old.version(),
                    to = %info.version,
                    changes = %summary.join(", "),
                    by,
                    "Lexicon reloaded."
                );
                let workers = match self.cluster.get() {
                    Some(cluster) => Some(cluster.reload_workers().await),
                    None => None,
                };
                Ok(ReloadAnswer {
                    lexicon: info,
                    changes,
                    workers,
                })
            }
            Err(e) => {
                metrics::counter!(t::RELOADS, "result" => "error").increment(1);
                tracing::error!(error = %e, by, "Lexicon reload failed; the previous lexicon stays in use.");
                Err(e)
            }
        }
    }
}

/// Refuse a reload that changes the content under the same version (evidence would
/// name a version that means two things), or that empties a category not named in
/// `drop` (a deleted file would silently stop a whole category).
fn vet_reload(current: &Ruleset, new: &Ruleset, drop: &[Category]) -> Result<(), ReloadError> {
    if new.version() == current.version() && new.matcher.hash() != current.matcher.hash() {
        return Err(ReloadError::SameVersion {
            version: new.version().to_string(),
            from: current.matcher.hash().to_owned(),
            to: new.matcher.hash().to_owned(),
        });
    }
    for category in Category::ALL {
        let had = current
            .matcher
            .entries()
            .iter()
            .any(|e| e.category == category);
        let has = new.matcher.entries().iter().any(|e| e.category == category);
        if had && !has && !drop.contains(&category) {
            return Err(ReloadError::DropsCategory(category));
        }
    }
    Ok(())
}

/// Entry ids added and removed per category, from `old` to `new`.
fn entry_changes(old: &Ruleset, new: &Ruleset) -> BTreeMap<Category, EntryChanges> {
    let ids = |r: &Ruleset| -> BTreeSet<(Category, String)> {
        r.matcher
            .entries()
            .iter()
            .map(|e| (e.category, e.id.to_string()))
            .collect()
    };
    let (before, after) = (ids(old), ids(new));
    let mut changes: BTreeMap<Category, EntryChanges> = BTreeMap::new();
    for (c, id) in after.difference(&before) {
        changes.entry(*c).or_default().added.push(id.clone());
    }
    for (c, id) in before.difference(&after) {
        changes.entry(*c).or_default().removed.push(id.clone());
    }
    changes
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
    #[error("reload task failed: {0}")]
    Internal(String),
    #[error(
        "the content changed ({from} -> {to}) but the version is still `{version}`: bump `version` in policy.toml"
    )]
    SameVersion {
        version: String,
        from: String,
        to: String,
    },
    #[error(
        "the new lexicon has no `{0}` entries: pass drop={0} to remove the category on purpose"
    )]
    DropsCategory(Category),
}

/// A server built, checked and bound, not yet serving. Everything that can be wrong
/// with the configuration, the tokens, the TLS material or the lexicon is found by
/// [`Server::bind`] before the socket is bound, so a misconfigured server never
/// listens, not even for a moment.
pub struct Server {
    state: Arc<AppState>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Check `config` (values, tokens, exposure, TLS, lexicon), open the store, then
    /// bind `config.listen`.
    ///
    /// # Errors
    /// [`ServerError`] naming what is unusable.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let (state, tls) = prepare(config, None)?;
        let listener = TcpListener::bind(state.config.listen).await?;
        Ok(Server {
            state,
            listener,
            tls,
        })
    }

    /// As [`Server::bind`], on a listener the caller bound (tests bind `127.0.0.1:0`);
    /// `config.listen` is ignored.
    ///
    /// # Errors
    /// As [`Server::bind`].
    pub fn with_listener(listener: TcpListener, config: Config) -> Result<Server, ServerError> {
        let (state, tls) = prepare(config, Some(listener.local_addr()?))?;
        Ok(Server {
            state,
            listener,
            tls,
        })
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until `shutdown` resolves: then stop accepting, let every connection
    /// answer what it has read, wait at most `shutdown_grace_s`, flush the store.
    ///
    /// # Errors
    /// [`ServerError`] when the listener fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        self.run_with_reload(shutdown, futures_util::stream::pending())
            .await
    }

    /// [`Server::run`], reloading the lexicon whenever `reloads` yields (the binary
    /// feeds it SIGHUP).
    ///
    /// # Errors
    /// As [`Server::run`].
    pub async fn run_with_reload(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        reloads: impl Stream<Item = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server {
            state,
            listener,
            tls,
        } = self;
        if let Some(url) = &state.config.cluster.nats {
            let c = &state.config.cluster;
            let bus = crate::cluster::Bus::connect_with(url, c.layout()).await?;
            let gateway = crate::cluster::gateway::Gateway::start(
                bus,
                Duration::from_millis(c.answer_timeout_ms),
                state.shutdown.clone(),
            )
            .await?;
            let _ = state.cluster.set(gateway.clone());
            state
                .tracker
                .spawn(follow_cluster_feed(state.clone(), gateway));
            tracing::info!(nats = %url, partitions = c.partitions, "Gateway of a cluster: events are judged by its workers.");
        }
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
        state
            .tracker
            .spawn(housekeeping::housekeeping(state.clone()));
        state.tracker.spawn(reload_on(state.clone(), reloads));

        let app = router(state.clone());
        let handshake = Duration::from_secs(state.config.ingest.handshake_timeout_s);
        let grace = Duration::from_secs(state.config.shutdown_grace_s);
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
        // Closing also records the exact next seq, so a clean restart has no gap.
        if let Some(store) = state.hub.store().cloned() {
            store.save_prices(state.engine.prices().take_changed());
            let _ = tokio::task::spawn_blocking(move || store.close()).await;
            tracing::info!("Evidence store flushed and closed.");
        }
        // The directory is free for the next server as soon as this one returns.
        drop(
            state
                .data_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        tracing::info!("liveguard stopped.");
        Ok(())
    }
}

/// A gateway's feed: the cluster's alerts stream, followed into the hub (the last
/// `alerts.history` records first, for `since` replay from memory), until shutdown.
/// A broken read resumes after the last record delivered.
async fn follow_cluster_feed(state: Arc<AppState>, cluster: Arc<crate::cluster::gateway::Gateway>) {
    let history = state.config.alerts.history as u64;
    let mut from = match cluster.last_alert_seq().await {
        Ok(last) => last.saturating_sub(history) + 1,
        Err(e) => {
            tracing::warn!(error = %e, "Cannot read the cluster's alerts stream; following it from the start.");
            1
        }
    };
    while !state.shutdown.is_cancelled() {
        let mut records = match cluster.alert_records(from).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot follow the cluster's alerts; retrying.");
                tokio::select! {
                    _ = state.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let next = tokio::select! {
                _ = state.shutdown.cancelled() => return,
                n = records.next() => n,
            };
            match next {
                Some(Ok(r)) => {
                    from = r.record.seq + 1;
                    if let Some((room, event, frame)) = state.hub.follow(&r.record, r.stored_ms)
                        && let Some((_, conn)) = state.held_conns.remove(&(room, event))
                    {
                        state.deliver(hub::Resolution { conn, frame });
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "Following the cluster's alerts failed; resuming.");
                    break;
                }
                None => break,
            }
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Serve `GET /metrics` (Prometheus text) and `GET /healthz` on `listener` until
/// `shutdown`: the HTTP surface of a cluster worker or archiver, which serve no
/// clients.
///
/// # Errors
/// The listener's error.
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    t::prometheus();
    let app = Router::new()
        .route("/metrics", get(http::metrics_text))
        .route("/healthz", get(|| async { "ok\n" }));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Serve on `listener` until `shutdown` resolves: [`Server::with_listener`] then
/// [`Server::run`].
///
/// # Errors
/// [`ServerError`] when the configuration or lexicon is unusable (before anything is
/// served), or the listener fails.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::with_listener(listener, config)?.run(shutdown).await
}

/// Everything before binding, in one place: the configuration is validated here and
/// nowhere else; the exposure check uses `addr` (the bound address) or the configured
/// one.
fn prepare(
    mut config: Config,
    addr: Option<std::net::SocketAddr>,
) -> Result<(Arc<AppState>, Option<tokio_rustls::TlsAcceptor>), ServerError> {
    config.validate()?;
    // A gateway keeps no evidence (the cluster's archiver does) and no data directory.
    config.store.enabled &= config.cluster.nats.is_none();
    let auth = Auth::from_env(&config.auth.tokens)?;
    let addr = addr.unwrap_or(config.listen);
    crate::auth::check_exposure(addr, &auth, config.insecure)?;
    if auth.is_open() && !addr.ip().is_loopback() {
        tracing::warn!(
            listen = %addr,
            "INSECURE: serving the network with no tokens. Anyone who can connect may read \
             every room's chat, review holds and reload the lexicon."
        );
    } else if auth.is_open() {
        tracing::warn!("No tokens configured: every caller may ingest, moderate and administer.");
    }
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let lexicon = Lexicon::load(config.lexicons.as_deref())?;
    let rules = Ruleset::compile(&lexicon, BuildOptions::default())?;
    t::prometheus();
    tally::register();
    let engine = Engine::new(rules, config.engine);
    let hub = Arc::new(hub::Hub::new(config.alerts));
    // Before the store opens: a second server on the same directory must not start.
    // Any other trouble with the directory (a file, read-only) leaves the server
    // moderating without a store, not ready, and retrying.
    let mut store_error = None;
    let data_lock = if config.store.enabled {
        match lock_data_dir(&config.data) {
            Ok(file) => Some(file),
            Err(e @ ServerError::DataInUse { .. }) => return Err(e),
            Err(e) => {
                store_error = Some(format!("data directory {}: {e}", config.data.display()));
                None
            }
        }
    } else {
        None
    };
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
        data_lock: std::sync::Mutex::new(data_lock),
        store_error: std::sync::Mutex::new(store_error),
        cluster: std::sync::OnceLock::new(),
        held_conns: DashMap::new(),
        config,
    });
    if state.config.store.enabled {
        if state.store_error().is_none() {
            state.open_store(false);
        }
        if let Some(error) = state.store_error() {
            metrics::gauge!(t::STORE_UP).set(0.0);
            tracing::error!(%error, "The evidence store cannot be opened: moderating WITHOUT one (not ready; retrying every {}s).", STORE_RETRY.as_secs());
            // Seqs from the store's own record, if it can be read at all, so that
            // what this run shows does not repeat what an earlier run showed.
            if let Some(next_seq) = crate::store::peek_next_seq(&state.config.data) {
                state.hub.restore(&crate::store::Recovered {
                    next_seq,
                    ..Default::default()
                });
            }
        }
    }
    Ok((state, tls))
}

/// How often a server without its store tries to open it again.
pub(super) const STORE_RETRY: Duration = Duration::from_secs(5);

impl AppState {
    /// Why the store is not open, if it is not.
    fn store_error(&self) -> Option<String> {
        self.store_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Take the data directory's lock if not held yet, open the store, resume from it
    /// (seq, history, holds, tiers) and route the feed through it. On failure the
    /// server goes on without one and the reason is kept for `/readyz`. `late`: the
    /// server has been running without it, so a tier set meanwhile wins over the
    /// stored one. Blocking (SQLite).
    fn open_store(&self, late: bool) -> bool {
        let opened = self.try_open_store(late);
        let error = opened.as_ref().err().cloned();
        let was = std::mem::replace(
            &mut *self.store_error.lock().unwrap_or_else(|e| e.into_inner()),
            error,
        );
        match (was, opened) {
            (Some(_), Ok(())) if late => {
                tracing::info!("Evidence store open again: records are kept from now on.");
            }
            (Some(old), Err(new)) if old != new => {
                tracing::warn!(error = %new, "The evidence store still cannot be opened.");
            }
            _ => {}
        }
        self.hub.store().is_some()
    }

    fn try_open_store(&self, late: bool) -> Result<(), String> {
        {
            let mut lock = self.data_lock.lock().unwrap_or_else(|e| e.into_inner());
            if lock.is_none() {
                *lock =
                    Some(lock_data_dir(&self.config.data).map_err(|e| {
                        format!("data directory {}: {e}", self.config.data.display())
                    })?);
            }
        }
        let weak = Arc::downgrade(&self.hub);
        let on_commit: OnCommit = Box::new(move |records| {
            if let Some(hub) = weak.upgrade() {
                hub.committed(records);
            }
        });
        let config = &self.config;
        let (store, recovered) =
            Store::open(&config.data, config.store, config.alerts.history, on_commit)
                .map_err(|e| e.to_string())?;
        self.hub.restore(&recovered);
        for (room, tier) in &recovered.tiers {
            if !late || self.engine.tier(room) == crate::event::Tier::Standard {
                self.engine.set_tier(room, *tier);
            }
        }
        // The price book streams in, one saved item at a time.
        let prices = self.engine.prices();
        let priced = store
            .reader()
            .and_then(|r| {
                r.price_book(config.engine.price.max_items, |item| {
                    prices.restore(item);
                })
            })
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "Cannot read the saved price book: prices start over.");
                0
            });
        tracing::info!(
            path = %store.path().display(),
            next_seq = recovered.next_seq,
            holds = recovered.holds.len(),
            priced,
            "Evidence store open."
        );
        self.hub.attach(Arc::new(store));
        Ok(())
    }
}

fn router(state: Arc<AppState>) -> Router {
    use http::{
        get_tier, healthz, lexicon_info, list_actions, metrics_text, put_tier, readyz, reload,
    };
    use upgrade::{alerts_upgrade, ingest_upgrade};
    Router::new()
        .route("/v1/ingest", get(ingest_upgrade))
        .route("/v1/alerts", get(alerts_upgrade))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/v1/lexicon", get(lexicon_info))
        .route("/v1/lexicon/reload", post(reload))
        .route("/v1/rooms/{room}/tier", get(get_tier).put(put_tier))
        .route("/v1/actions", get(list_actions))
        .route("/v1/holds", get(console::holds))
        .route("/v1/rooms/{room}/alerts", get(console::room_alerts))
        .route("/v1/rooms/{room}/actions", get(console::room_actions))
        .route("/v1/check", post(console::check))
        .route("/console", get(console::page))
        .route("/console/console.js", get(console::script))
        .route("/console/console.css", get(console::style))
        // Layers run bottom-up: the origin is checked before the body is waited for.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::bounded_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::check,
        ))
        .with_state(state)
}

async fn reload_on(state: Arc<AppState>, reloads: impl Stream<Item = ()> + Send + 'static) {
    let mut reloads = std::pin::pin!(reloads);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            r = reloads.next() => match r {
                Some(()) => { let _ = state.reload(&[], "SIGHUP").await; }
                None => return,
            },
        }
    }
}
