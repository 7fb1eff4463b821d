//! Server configuration: a TOML file (every key optional), overridden by command-line
//! flags, validated before anything binds. With no file at all the defaults run a
//! working server on 127.0.0.1:8080 with the embedded lexicons.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `listen` | `127.0.0.1:8080` | address to bind |
//! | `lexicons` | embedded | lexicon directory (`--lexicons`) |
//! | `data` | `./liveguard-data` | data directory (`--data`) |
//! | `shutdown_grace_s` | 10 | how long shutdown waits for connections to drain |
//! | `ingest.max_frame_bytes` | 65536 | larger frames close the connection with 1009 |
//! | `ingest.ping_interval_s` | 20 | keep-alive ping period |
//! | `ingest.idle_timeout_s` | 60 | a peer silent this long (no frame, no pong) is dropped |
//! | `ingest.handshake_timeout_s` | 10 | time to finish the TLS handshake and send the request head (slowloris) |
//! | `alerts.history` | 100000 | alerts kept in memory for `since` replay |
//! | `alerts.subscriber_queue` | 4096 | alerts a subscriber may lag behind before it is disconnected |
//! | `alerts.hold_timeout_s` | 300 | a held message no moderator reviews is resolved after this |
//! | `alerts.hold_default` | `reject` | the outcome of an expired hold |
//! | `engine.windows.chat` / `.transcript` | see `window.rs` | window bounds (`events` <= 64, `chars` <= 256, `max_age_ms`) |
//! | `engine.max_strike_logs` | 1,000,000 | escalation logs held at most (about 120 bytes each) (per rung, room and user, for the rung's window); a strike beyond counts alone |
//! | `engine.windows.max_windows` | 2,000,000 | windows held at most (about 200 bytes each); new senders beyond get none |
//! | `engine.burst.enabled` | true | the coordinated danmaku detector (`crate::burst`) |
//! | `engine.burst.similarity` | 0.5 | least bigram Jaccard of two messages of one cluster |
//! | `engine.burst.window_s` | 30 | a burst's accounts post within this many seconds (at most 60) |
//! | `engine.burst.standard` / `.enhanced` | `{min_users = 4, min_share = 0.1}` / `{min_users = 3, min_share = 0.2}` | accounts a burst needs, and its least share of the room's chat, per room tier (both keys) |
//! | `engine.burst.max_rooms` | 200,000 | rooms followed at once (about 4 KB each) |
//! | `engine.price.enabled` | true | the price book of listings and sales (`crate::price`); off, nothing is kept or checked and no sale is refused |
//! | `engine.price.compare_days` | 7 | days of sales whose lowest price bounds a compared price with no stated basis (规定 Art 16) |
//! | `engine.price.raise_window_s` | 604800 | a cut within this long of a raise is 先涨后降 (规定 Art 17) |
//! | `engine.price.min_change_pct` | 5 | least change, in percent, that counts as a raise or a cut |
//! | `engine.price.max_items` | 200,000 | items followed at once (about 2 KB each at most: 400 MB full); a new item beyond is judged without history and its sales refused |
//! | `engine.price.max_items_per_room` | 2,000 | items of one room followed at once: a room listing more has its new items judged without history, other rooms keep their place |
//! | `engine.price.max_rooms` | 200,000 | rooms whose item on sale is followed |
//! | `engine.price.forget_after_days` | 60 | forget an item neither listed nor sold for this long |
//! | `store.enabled` | true | keep evidence in `DATA/liveguard.db` |
//! | `store.retention_days` | 1095 | purge records older than this (three years) |
//! | `store.purge_interval_s` | 3600 | how often the purge runs |
//! | `store.max_pending` | 65536 | records queued for the writer before they go unstored |
//! | `store.batch_max` | 2048 | records per transaction at most |
//! | `store.linger_ms` | 10 | how long the writer gathers records before committing |
//! | `store.synchronous` | `normal` | `full` to survive power loss, not just crashes |
//! | `store.max_size_mib` | 0 (none) | cap on the database size |
//! | `insecure` | false | serve a non-loopback address with no tokens (`--insecure`) |
//! | `tls.cert` / `tls.key` | none | PEM certificate chain and private key: serve `wss://` (`--tls-cert`, `--tls-key`) |
//! | `auth.tokens` | none | scoped tokens (`[[auth.tokens]]`, see [`crate::auth`]) |
//! | `limits.max_connections` | 20,000 | open connections (ingest and alerts) at most; more get HTTP 503 |
//! | `limits.connections_per_token` | 10,000 | connections one token (or the open server's one caller) may hold; more get HTTP 429 |
//! | `limits.events_per_second` | 100,000 | per ingest connection (token bucket); events over it get a `rate_limited` error |
//! | `limits.burst` | 100,000 | events a connection may send at once before the rate applies |
//! | `limits.max_text_bytes` | 4096 | longer `text` gets a `too_long` error |
//! | `limits.rooms_per_tenant` | 100,000 | active rooms one ingest token may send for; more get `room_limit` |
//! | `limits.room_idle_s` | 600 | a room silent this long no longer counts as active |
//! | `limits.subscribers_per_moderator` | 16 | alert feeds one moderate token may hold open |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::TokenSpec;
use crate::engine::EngineConfig;
use crate::store::StoreConfig;

/// The whole server configuration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Lexicon directory; `None` runs the embedded default.
    pub lexicons: Option<PathBuf>,
    /// Data directory (evidence store).
    pub data: PathBuf,
    /// How long shutdown waits for connections to drain, in seconds.
    pub shutdown_grace_s: u64,
    /// Ingest connections.
    pub ingest: IngestConfig,
    /// Alert feeds and reviews.
    pub alerts: AlertConfig,
    /// The pipeline.
    pub engine: EngineConfig,
    /// The evidence store.
    pub store: StoreConfig,
    /// Serve a non-loopback address even with no tokens configured.
    pub insecure: bool,
    /// Serve TLS (`wss://`, `https://`).
    pub tls: Option<TlsConfig>,
    /// Scoped tokens.
    pub auth: AuthConfig,
    /// Per-caller limits.
    pub limits: LimitsConfig,
    /// Running as a cluster gateway (`[cluster] nats = "nats://…"`, or `--nats`).
    pub cluster: ClusterConfig,
}

/// A gateway's cluster (see docs/SCALING.md). Without `nats`, the server judges
/// events itself: one process, no cluster.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// The NATS server (JetStream enabled) of the cluster.
    pub nats: Option<String>,
    /// Partitions rooms are hashed into: the same on every gateway and worker.
    pub partitions: u16,
    /// How long an event waits for its worker's answer before it is answered
    /// `unavailable` (longer than a failover: lease time plus takeover).
    pub answer_timeout_ms: u64,
    /// Events streams the partitions are spread over (one NATS server serves a
    /// stream): the same on every gateway and worker, fixed once the cluster runs.
    pub streams: u16,
    /// Seconds the events streams keep an event (at least a worker's replay
    /// horizon). Applies when the streams are created.
    pub events_retention_s: u64,
    /// Seconds the alerts stream keeps a record (`since` replay, archiver downtime).
    /// Applies when the stream is created.
    pub alerts_retention_s: u64,
}

impl ClusterConfig {
    /// The streams' layout.
    pub fn layout(&self) -> crate::cluster::Layout {
        crate::cluster::Layout {
            partitions: self.partitions,
            streams: self.streams,
            events_retention: std::time::Duration::from_secs(self.events_retention_s),
            alerts_retention: std::time::Duration::from_secs(self.alerts_retention_s),
        }
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nats: None,
            partitions: crate::cluster::DEFAULT_PARTITIONS,
            answer_timeout_ms: 10_000,
            streams: 1,
            events_retention_s: 3600,
            alerts_retention_s: 7 * 24 * 3600,
        }
    }
}

/// Certificate and key of the TLS listener.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The tokens (`[[auth.tokens]]`); none: an open server, loopback only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The configured tokens.
    pub tokens: Vec<TokenSpec>,
    /// Browser origins (`scheme://host[:port]`) besides the server's own that may open
    /// the WebSocket routes and make state-changing requests, e.g. a console served
    /// from another host; `"*"` allows any (not advised). Requests without an `Origin`
    /// header (non-browser clients) always pass. See `docs/SECURITY.md`.
    pub allowed_origins: Vec<String>,
}

/// What one caller may take; see the module table for each key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Open connections at most.
    pub max_connections: usize,
    /// Connections per token at most (a token's `max_connections` overrides it).
    pub connections_per_token: usize,
    /// Events per second per ingest connection.
    pub events_per_second: u32,
    /// Events a connection may send at once.
    pub burst: u32,
    /// Longest `text`, in bytes.
    pub max_text_bytes: usize,
    /// Active rooms per ingest token (a token's `max_rooms` overrides it).
    pub rooms_per_tenant: usize,
    /// Seconds after which a silent room stops counting as active.
    pub room_idle_s: u64,
    /// Alert feeds per moderate token.
    pub subscribers_per_moderator: usize,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            max_connections: 20_000,
            connections_per_token: 10_000,
            events_per_second: 100_000,
            burst: 100_000,
            max_text_bytes: 4096,
            rooms_per_tenant: 100_000,
            room_idle_s: 600,
            subscribers_per_moderator: 16,
        }
    }
}

/// Ingest connection limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest accepted frame (and message), in bytes.
    pub max_frame_bytes: usize,
    /// Keep-alive ping period, in seconds.
    pub ping_interval_s: u64,
    /// A peer that sends nothing (not even a pong) this long is disconnected.
    pub idle_timeout_s: u64,
    /// A caller must complete its TLS handshake and request head within this many
    /// seconds (every connection, ingest or not).
    pub handshake_timeout_s: u64,
}

/// Alert feed settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// Alerts kept in memory for `since` replay.
    pub history: usize,
    /// Alerts a subscriber may fall behind before it is disconnected (it can resume
    /// with `since`). The hub never waits for a subscriber.
    pub subscriber_queue: usize,
    /// A held message nobody reviews is resolved after this many seconds.
    pub hold_timeout_s: u64,
    /// The outcome of a hold that expires.
    pub hold_default: ReviewDecision,
}

crate::wire_names! {
    /// A moderator's answer to a held message.
    pub enum ReviewDecision {
        /// Show the message.
        Approve = "approve",
        /// Keep it hidden.
        Reject = "reject",
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            lexicons: None,
            data: PathBuf::from("liveguard-data"),
            shutdown_grace_s: 10,
            ingest: IngestConfig::default(),
            alerts: AlertConfig::default(),
            engine: EngineConfig::default(),
            store: StoreConfig::default(),
            insecure: false,
            tls: None,
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> IngestConfig {
        IngestConfig {
            max_frame_bytes: 64 * 1024,
            ping_interval_s: 20,
            idle_timeout_s: 60,
            handshake_timeout_s: 10,
        }
    }
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            history: 100_000,
            subscriber_queue: 4096,
            hold_timeout_s: 300,
            hold_default: ReviewDecision::Reject,
        }
    }
}

/// A configuration that cannot be used. Each variant says everything in its message
/// (no error source), so that a report prints the reason once.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {error}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        error: Box<toml::de::Error>,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Read `path`, or the defaults when `None`. Values are checked by
    /// [`Config::validate`], which the server runs once, after flags have overridden
    /// the file.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read or parsed (an unknown key included).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let config = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|error| ConfigError::Read {
                    path: p.to_owned(),
                    error,
                })?;
                toml::from_str(&text).map_err(|error| ConfigError::Parse {
                    path: p.to_owned(),
                    error: Box::new(error),
                })?
            }
        };
        Ok(config)
    }

    /// Check every value. The server does it once, before binding
    /// ([`crate::server::Server::bind`]), after flags have overridden the file.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |msg: &str| Err(ConfigError::Invalid(msg.to_owned()));
        let i = &self.ingest;
        if !(1024..=16 << 20).contains(&i.max_frame_bytes) {
            return bad("ingest.max_frame_bytes must be between 1 KiB and 16 MiB");
        }
        if i.ping_interval_s == 0 || i.idle_timeout_s <= i.ping_interval_s {
            return bad(
                "ingest.idle_timeout_s must exceed ingest.ping_interval_s, which must be positive",
            );
        }
        if i.handshake_timeout_s == 0 {
            return bad("ingest.handshake_timeout_s must be positive");
        }
        if let Some(o) = self
            .auth
            .allowed_origins
            .iter()
            .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(ConfigError::Invalid(format!(
                "auth.allowed_origins: {o:?} is not an origin (scheme://host[:port], or \"*\")"
            )));
        }
        let c = &self.cluster;
        if c.partitions == 0 || c.answer_timeout_ms == 0 {
            return bad("cluster.partitions and cluster.answer_timeout_ms must be positive");
        }
        if c.streams == 0 || c.streams > c.partitions {
            return bad("cluster.streams must be between 1 and cluster.partitions");
        }
        if c.events_retention_s < 120 || c.alerts_retention_s < 120 {
            return bad(
                "cluster.events_retention_s and cluster.alerts_retention_s must be at least 120 (the duplicate window)",
            );
        }
        if let Some(url) = &c.nats
            && url.trim().is_empty()
        {
            return bad("cluster.nats must be a NATS URL (nats://host:port)");
        }
        let a = &self.alerts;
        if a.history == 0 || a.subscriber_queue == 0 {
            return bad("alerts.history and alerts.subscriber_queue must be at least 1");
        }
        if a.hold_timeout_s == 0 {
            return bad("alerts.hold_timeout_s must be positive");
        }
        if self.shutdown_grace_s == 0 {
            return bad("shutdown_grace_s must be positive");
        }
        if let Some(problem) = self.engine.burst.problem() {
            return bad(&problem);
        }
        if let Some(problem) = self.engine.price.problem() {
            return bad(&problem);
        }
        let w = &self.engine.windows;
        for limits in [w.chat, w.transcript] {
            if limits.events > crate::window::MAX_WINDOW_EVENTS
                || limits.chars > crate::window::MAX_WINDOW_CHARS
            {
                return bad("engine.windows: at most 64 events and 256 characters per window");
            }
        }
        let st = &self.store;
        if st.retention_days == 0
            || st.purge_interval_s == 0
            || st.max_pending == 0
            || st.batch_max == 0
        {
            return bad(
                "store.retention_days, purge_interval_s, max_pending and batch_max must be positive",
            );
        }
        let l = &self.limits;
        if l.max_connections == 0
            || l.connections_per_token == 0
            || l.events_per_second == 0
            || l.burst == 0
            || l.rooms_per_tenant == 0
            || l.room_idle_s == 0
            || l.subscribers_per_moderator == 0
        {
            return bad("limits: every limit must be positive");
        }
        if !(16..=1 << 20).contains(&l.max_text_bytes) {
            return bad("limits.max_text_bytes must be between 16 bytes and 1 MiB");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_files_override_them() {
        let c = Config::load(None).unwrap();
        c.validate().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.ingest.max_frame_bytes, 65536);
        let c: Config = toml::from_str(
            "listen = \"0.0.0.0:9000\"\n[ingest]\nmax_frame_bytes = 2048\n[engine.windows.chat]\nevents = 4\nchars = 6\nmax_age_ms = 1000\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.ingest.max_frame_bytes, 2048);
        assert_eq!(c.ingest.idle_timeout_s, 60);
        assert_eq!(c.engine.windows.chat.events, 4);
    }

    #[test]
    fn a_partial_table_keeps_the_defaults_of_its_missing_keys() {
        let c: Config = toml::from_str("[engine.windows.chat]\nevents = 4\n").unwrap();
        let d = Config::default();
        assert_eq!(c.engine.windows.chat.events, 4);
        assert_eq!(c.engine.windows.chat.chars, d.engine.windows.chat.chars);
        assert_eq!(c.engine.windows.chat.max_age_ms, 30_000);
        assert_eq!(c.engine.windows.transcript, d.engine.windows.transcript);
        assert!(toml::from_str::<Config>("[engine.windows.chat]\nevent = 4\n").is_err());
    }

    #[test]
    fn a_bad_file_is_reported_once() {
        let path = std::env::temp_dir().join(format!("lg-config-{}.toml", std::process::id()));
        std::fs::write(&path, "[ingest]\nmax_frame_bytes = \"big\"\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err();
        let chain = std::error::Error::source(&err);
        assert!(
            chain.is_none(),
            "the message holds the reason: no source to print twice"
        );
        assert!(err.to_string().contains("max_frame_bytes"), "{err}");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused() {
        let c: Config = toml::from_str("[ingest]\nmax_frame_bytes = 10\n").unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("max_frame_bytes")
        );
        let c: Config =
            toml::from_str("[ingest]\nping_interval_s = 60\nidle_timeout_s = 30\n").unwrap();
        assert!(c.validate().is_err());
        assert!(toml::from_str::<Config>("listen_on = \"x\"\n").is_err());
        assert!(toml::from_str::<Config>("[alerts]\nhold_default = \"maybe\"\n").is_err());
    }
}
