//! Limits on what one caller can take: connection slots, events per second, active
//! rooms per tenant. Each refusal is counted in `liveguard_limited_total{limit}`.
//!
//! Connection slots are taken before the WebSocket upgrade (a refused caller gets an
//! HTTP status, not a half-open socket) and given back when the connection's guard
//! drops. The other checks run per event on the connection's own task: the token
//! bucket is the connection's, and the room ledger is consulted at most once per room
//! every [`ROOM_RECHECK_MS`] thanks to a small per-connection cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dashmap::DashMap;

use crate::config::LimitsConfig;
use crate::telemetry as t;

/// Count one refusal by a limit.
pub(crate) fn refused(limit: &'static str) {
    metrics::counter!(t::LIMITED, "limit" => limit).increment(1);
}

/// Open connections, in total and per key (`ingest:NAME`, `alerts:NAME`).
#[derive(Debug, Default)]
pub(crate) struct Slots {
    total: Arc<AtomicUsize>,
    per_key: Arc<DashMap<String, usize>>,
}

/// Why a slot was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotRefused {
    /// The server holds `limits.max_connections`.
    Server,
    /// This token holds its share.
    Token,
}

/// A held connection slot; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct Slot {
    total: Arc<AtomicUsize>,
    per_key: Arc<DashMap<String, usize>>,
    key: String,
}

impl Slots {
    /// Take a slot for `key` if the server holds fewer than `total_limit` and the key
    /// fewer than `key_limit`.
    pub(crate) fn acquire(
        &self,
        key: String,
        total_limit: usize,
        key_limit: usize,
    ) -> Result<Slot, SlotRefused> {
        if self
            .total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < total_limit).then_some(n + 1)
            })
            .is_err()
        {
            return Err(SlotRefused::Server);
        }
        {
            let mut held = self.per_key.entry(key.clone()).or_insert(0);
            if *held >= key_limit {
                drop(held);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err(SlotRefused::Token);
            }
            *held += 1;
        }
        Ok(Slot {
            total: self.total.clone(),
            per_key: self.per_key.clone(),
            key,
        })
    }

    /// Connections held in total.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.total.fetch_sub(1, Ordering::AcqRel);
        self.per_key.remove_if_mut(&self.key, |_, held| {
            *held -= 1;
            *held == 0
        });
    }
}

/// A token bucket: `rate` events per second, up to `burst` at once.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate: u32, burst: u32) -> TokenBucket {
        TokenBucket {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            refilled: Instant::now(),
        }
    }

    /// Add what the time since the last refill earned (once per frame).
    pub(crate) fn refill(&mut self, now: Instant) {
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled = now;
    }

    /// Take one token if there is one.
    pub(crate) fn take(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Pings a WebSocket peer may send: a burst of this many, then one a second. Every
/// ping makes the server queue a pong; a peer that pings fast and never reads would
/// otherwise grow the server's write buffer (measured: 28 MB to 400 MB in 6 s).
/// Keep-alive clients ping every few seconds at most.
const PING_BURST: u32 = 10;

/// Pings received on one WebSocket connection, against [`PING_BURST`].
#[derive(Debug)]
pub(crate) struct PingLimit(TokenBucket);

impl Default for PingLimit {
    fn default() -> PingLimit {
        PingLimit(TokenBucket::new(1, PING_BURST))
    }
}

impl PingLimit {
    /// One ping arrived: whether it is within the limit (else the connection is
    /// closed with 1008, counted as `limit="pings"`).
    pub(crate) fn allow(&mut self) -> bool {
        self.0.refill(Instant::now());
        let ok = self.0.take();
        if !ok {
            refused("pings");
        }
        ok
    }
}

/// The close of a connection whose peer pings too fast.
pub(crate) const TOO_MANY_PINGS: (u16, &str) = (1008, "too many pings");

/// How long a connection trusts its own memory that a room was admitted.
pub(crate) const ROOM_RECHECK_MS: u64 = 5_000;
/// Rooms a connection remembers before it starts over.
const ROOM_CACHE_MAX: usize = 4096;

/// One tenant's active rooms, with when each was last seen (ms).
type SeenRooms = Arc<Mutex<HashMap<Box<str>, u64>>>;

/// The rooms each tenant sent events for recently.
#[derive(Debug, Default)]
pub(crate) struct RoomLedger {
    tenants: DashMap<Arc<str>, SeenRooms>,
}

impl RoomLedger {
    /// The ledger of one tenant (kept by its connections).
    pub(crate) fn tenant(&self, name: &Arc<str>) -> TenantRooms {
        let rooms = self.tenants.entry(name.clone()).or_default().clone();
        TenantRooms {
            rooms,
            admitted: HashMap::new(),
        }
    }

    /// Forget rooms idle since before `cutoff_ms`; returns how many.
    pub(crate) fn sweep(&self, cutoff_ms: u64) -> usize {
        let mut removed = 0;
        for tenant in &self.tenants {
            let mut rooms = tenant.lock().unwrap_or_else(|e| e.into_inner());
            let before = rooms.len();
            rooms.retain(|_, seen| *seen >= cutoff_ms);
            removed += before - rooms.len();
        }
        removed
    }
}

/// One connection's view of its tenant's rooms.
#[derive(Debug)]
pub(crate) struct TenantRooms {
    rooms: SeenRooms,
    /// Rooms this connection saw admitted, and when.
    admitted: HashMap<Box<str>, u64>,
}

impl TenantRooms {
    /// Whether the tenant may send an event for `room` now: it is one of its active
    /// rooms, or it holds fewer than `limit`.
    pub(crate) fn admit(&mut self, room: &str, limit: usize, now_ms: u64) -> bool {
        if self
            .admitted
            .get(room)
            .is_some_and(|t| now_ms.saturating_sub(*t) < ROOM_RECHECK_MS)
        {
            return true;
        }
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let held = rooms.len();
        match rooms.get_mut(room) {
            Some(seen) => *seen = now_ms,
            None if held < limit => {
                rooms.insert(room.into(), now_ms);
            }
            None => return false,
        }
        drop(rooms);
        if self.admitted.len() >= ROOM_CACHE_MAX {
            self.admitted.clear();
        }
        self.admitted.insert(room.into(), now_ms);
        true
    }
}

/// The limits of a running server.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    pub(crate) slots: Slots,
    pub(crate) rooms: RoomLedger,
    pub(crate) config: LimitsConfig,
}

impl Limiter {
    pub(crate) fn new(config: LimitsConfig) -> Limiter {
        Limiter {
            config,
            ..Limiter::default()
        }
    }
}

/// The largest HTTP request body: a script to check (up to
/// [`crate::script::MAX_SCRIPT_BYTES`] of text, plus its JSON escapes); a tier or a
/// reload request is well under 1 KiB.
pub(crate) const MAX_HTTP_BODY: usize = 128 * 1024;

/// Middleware: read a plain HTTP request's body whole, within
/// `ingest.handshake_timeout_s` and [`MAX_HTTP_BODY`], before a handler sees it. A
/// client that announces a body and never finishes it would otherwise hold its socket
/// (and a task) for as long as it likes. WebSocket upgrades have no body and pass.
pub(super) async fn bounded_body(
    axum::extract::State(state): axum::extract::State<Arc<super::AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    if req.headers().contains_key(header::UPGRADE) {
        return next.run(req).await;
    }
    let refuse = |status: StatusCode, limit: &'static str, error: String| {
        refused(limit);
        super::access::Refused { status, error }.into_response()
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_HTTP_BODY as u64) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "http_body_size",
            format!("request body larger than {MAX_HTTP_BODY} bytes"),
        );
    }
    let (parts, body) = req.into_parts();
    let within = std::time::Duration::from_secs(state.config.ingest.handshake_timeout_s);
    match tokio::time::timeout(within, axum::body::to_bytes(body, MAX_HTTP_BODY)).await {
        Ok(Ok(bytes)) => {
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Ok(Err(e)) => refuse(
            StatusCode::BAD_REQUEST,
            "http_body_size",
            format!("request body unreadable or larger than {MAX_HTTP_BODY} bytes: {e}"),
        ),
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            "http_body_timeout",
            format!("request body not received within {}s", within.as_secs()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_in_total_and_per_key_and_given_back() {
        let slots = Slots::default();
        let a1 = slots.acquire("a".into(), 3, 2).unwrap();
        let _a2 = slots.acquire("a".into(), 3, 2).unwrap();
        assert_eq!(
            slots.acquire("a".into(), 3, 2).unwrap_err(),
            SlotRefused::Token
        );
        let _b = slots.acquire("b".into(), 3, 2).unwrap();
        assert_eq!(
            slots.acquire("c".into(), 3, 2).unwrap_err(),
            SlotRefused::Server
        );
        assert_eq!(slots.total(), 3);
        drop(a1);
        assert_eq!(slots.total(), 2);
        slots.acquire("a".into(), 3, 2).unwrap();
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 5);
        bucket.refill(start);
        assert_eq!((0..8).filter(|_| bucket.take()).count(), 5);
        bucket.refill(start + std::time::Duration::from_millis(300));
        assert_eq!((0..8).filter(|_| bucket.take()).count(), 3);
        bucket.refill(start + std::time::Duration::from_secs(60));
        assert_eq!((0..8).filter(|_| bucket.take()).count(), 5);
    }

    #[test]
    fn a_tenant_holds_at_most_its_rooms_until_they_go_idle() {
        let ledger = RoomLedger::default();
        let name: Arc<str> = "shop".into();
        let mut one = ledger.tenant(&name);
        let mut two = ledger.tenant(&name);
        assert!(one.admit("r1", 2, 1_000));
        assert!(two.admit("r2", 2, 1_000));
        assert!(
            !one.admit("r3", 2, 1_000),
            "the limit is the tenant's, not the connection's"
        );
        assert!(one.admit("r2", 2, 2_000), "an active room stays admitted");
        assert_eq!(ledger.sweep(1_500), 1);
        assert!(two.admit("r3", 2, 3_000));
    }
}
