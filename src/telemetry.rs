//! Metric names and the Prometheus recorder.
//!
//! Names follow `liveguard_<what>_<unit>`; labels stay low-cardinality (kinds,
//! decisions, categories, never rooms or users). Metrics go through the `metrics`
//! facade: recording is a few atomic operations and never blocks the hot path.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Events judged, by `kind` (chat, transcript).
pub const EVENTS: &str = "liveguard_events_total";
/// Verdicts, by `decision`.
pub const VERDICTS: &str = "liveguard_verdicts_total";
/// Hits, by `category`.
pub const HITS: &str = "liveguard_hits_total";
/// Actions, by `type`.
pub const ACTIONS: &str = "liveguard_actions_total";
/// Rejected input, by `reason` (json, missing_field, unknown_kind, utf8, too_large, ...).
pub const INGEST_ERRORS: &str = "liveguard_ingest_errors_total";
/// Time from reading a frame to the verdict of each of its events, in seconds.
pub const INGEST_LATENCY: &str = "liveguard_ingest_latency_seconds";
/// Frames read on ingest connections.
pub const INGEST_FRAMES: &str = "liveguard_ingest_frames_total";
/// Open connections, by `kind` (ingest, alerts).
pub const CONNECTIONS: &str = "liveguard_connections";
/// Alerts published to the feed.
pub const ALERTS: &str = "liveguard_alerts_published_total";
/// Seqs the feed skipped because the store writer held them back too long.
pub const ALERTS_SKIPPED: &str = "liveguard_alerts_skipped_total";
/// Alert subscribers disconnected for falling behind.
pub const SUBSCRIBERS_LAGGED: &str = "liveguard_subscribers_lagged_total";
/// Alerts in the in-memory history.
pub const ALERT_HISTORY: &str = "liveguard_alert_history";
/// Held messages awaiting review.
pub const HOLDS_PENDING: &str = "liveguard_holds_pending";
/// Reviews, by `outcome` (approve, reject) and `by` (moderator, expiry).
pub const REVIEWS: &str = "liveguard_reviews_total";
/// Review frames that could not reach the platform (its connection was gone).
pub const REVIEWS_UNDELIVERED: &str = "liveguard_reviews_undelivered_total";
/// 1, labelled with the build's `version`.
pub const BUILD_INFO: &str = "liveguard_build_info";
/// 1 for the lexicon in use, labelled with its `version` and `hash` (0 for one replaced).
pub const LEXICON_INFO: &str = "liveguard_lexicon_info";
/// Lexicon reloads, by `result` (ok, error).
pub const RELOADS: &str = "liveguard_lexicon_reloads_total";
/// Active windows (senders and rooms with recent history).
pub const WINDOWS: &str = "liveguard_windows";
/// Escalation strike logs held.
pub const STRIKE_LOGS: &str = "liveguard_strike_logs";
/// Strikes counted alone because `engine.max_strike_logs` were held.
pub const STRIKES_REFUSED: &str = "liveguard_strike_logs_refused_total";
/// New windows refused because `engine.windows.max_windows` were held.
pub const WINDOWS_REFUSED: &str = "liveguard_windows_refused_total";
/// Rooms the coordinated danmaku detector follows.
pub const BURST_ROOMS: &str = "liveguard_burst_rooms";
/// Messages of rooms the detector could not follow (`engine.burst.max_rooms` held).
pub const BURST_REFUSED: &str = "liveguard_burst_rooms_refused_total";
/// Coordinated bursts found.
pub const BURSTS: &str = "liveguard_bursts_total";
/// Items in the price book.
pub const PRICE_ITEMS: &str = "liveguard_price_items";
/// New price book items refused because `engine.price.max_items` were held.
pub const PRICE_REFUSED: &str = "liveguard_price_items_refused_total";
/// Requests refused for their token, by `reason` (missing, invalid, scope).
pub const AUTH_DENIED: &str = "liveguard_auth_denied_total";
/// Connections refused by a limit, by `limit` (connections, connections_per_token,
/// subscribers_per_moderator). Per-event limits count in `liveguard_ingest_errors_total`.
pub const LIMITED: &str = "liveguard_limited_total";
/// 1 while the store's last transaction committed, 0 after a failure.
pub const STORE_UP: &str = "liveguard_store_up";
/// Records queued for the store writer.
pub const STORE_PENDING: &str = "liveguard_store_pending";
/// Feed records committed.
pub const STORE_WRITES: &str = "liveguard_store_records_total";
/// Time to write and commit one batch, in seconds.
pub const STORE_COMMIT: &str = "liveguard_store_commit_seconds";
/// Failed store transactions and purges.
pub const STORE_ERRORS: &str = "liveguard_store_errors_total";
/// Records delivered without being stored (queue full or write failed).
pub const STORE_UNSTORED: &str = "liveguard_store_unstored_total";
/// Frames answered before their actions' records were committed (the wait ran out).
pub const ANSWERS_UNCOMMITTED: &str = "liveguard_answers_uncommitted_total";
/// Rows deleted by the retention purge.
pub const STORE_PURGED: &str = "liveguard_store_purged_total";
/// Partitions a cluster worker serves now.
pub const CLUSTER_PARTITIONS: &str = "liveguard_cluster_partitions";
/// Events a cluster gateway answered `unavailable` (the cluster did not answer).
pub const CLUSTER_UNANSWERED: &str = "liveguard_cluster_unanswered_total";
/// Events a cluster worker judged live (not counting a takeover's replay).
pub const CLUSTER_EVENTS: &str = "liveguard_cluster_events_total";
/// Partitions a cluster worker took over (each replays its partition to rebuild).
pub const CLUSTER_TAKEOVERS: &str = "liveguard_cluster_takeovers_total";
/// Partitions a cluster worker stopped serving because its lease had lapsed.
pub const CLUSTER_LEASES_LOST: &str = "liveguard_cluster_leases_lost_total";
/// Records the cluster archiver stored.
pub const CLUSTER_ARCHIVED: &str = "liveguard_cluster_archived_total";

/// The process-wide Prometheus recorder, installed on first use. `metrics` has one
/// global recorder per process; servers started in the same process (tests) share it.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01,
                0.025, 0.05, 0.1, 0.25, 1.0,
            ])
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding application's);
        // then metrics go there and /metrics renders what this one has.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        register_at_zero();
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// Every counter outside the ingest path (which registers its own), with each label
/// set it can take, at 0: a dashboard or an alert rule sees the series from the
/// start, not from its first increment.
fn register_at_zero() {
    for name in [
        ALERTS,
        ALERTS_SKIPPED,
        SUBSCRIBERS_LAGGED,
        REVIEWS_UNDELIVERED,
        STRIKES_REFUSED,
        WINDOWS_REFUSED,
        BURST_REFUSED,
        BURSTS,
        PRICE_REFUSED,
        STORE_WRITES,
        STORE_ERRORS,
        STORE_UNSTORED,
        STORE_PURGED,
        ANSWERS_UNCOMMITTED,
    ] {
        metrics::counter!(name).increment(0);
    }
    for result in ["ok", "error"] {
        metrics::counter!(RELOADS, "result" => result).increment(0);
    }
    for reason in ["missing", "invalid", "scope", "origin"] {
        metrics::counter!(AUTH_DENIED, "reason" => reason).increment(0);
    }
    for limit in [
        "connections",
        "connections_per_token",
        "subscribers_per_moderator",
        "handshake_timeout",
        "tls_handshake",
        "pings",
        "http_body_size",
        "http_body_timeout",
    ] {
        metrics::counter!(LIMITED, "limit" => limit).increment(0);
    }
    for outcome in ["approve", "reject"] {
        for by in ["moderator", "expiry"] {
            metrics::counter!(REVIEWS, "outcome" => outcome, "by" => by).increment(0);
        }
    }
}

/// Lets a log line through at most once per period and counts what it held back: a
/// condition that repeats with every event (refused tokens, a full store queue, late
/// commits) must not flood the log. What it stands for is counted in metrics anyway.
#[derive(Debug)]
pub struct LogGate {
    period_s: u64,
    last_s: std::sync::atomic::AtomicU64,
    hidden: std::sync::atomic::AtomicU64,
}

impl LogGate {
    /// A gate letting one line through per `period_s` seconds.
    pub const fn new(period_s: u64) -> LogGate {
        LogGate {
            period_s,
            last_s: std::sync::atomic::AtomicU64::new(0),
            hidden: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last one)` when a line may go out now.
    pub fn pass(&self) -> Option<u64> {
        self.pass_at(crate::clock::now_ms() / 1000)
    }

    fn pass_at(&self, now_s: u64) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        let last = self.last_s.load(Relaxed);
        if now_s >= last + self.period_s
            && self
                .last_s
                .compare_exchange(last, now_s, Relaxed, Relaxed)
                .is_ok()
        {
            Some(self.hidden.swap(0, Relaxed))
        } else {
            self.hidden.fetch_add(1, Relaxed);
            None
        }
    }
}

/// CPU time the process has used, in seconds (monotonic, like a counter).
pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
/// Resident memory, in bytes.
pub const PROCESS_RSS: &str = "process_resident_memory_bytes";
/// Open file descriptors (sockets included).
pub const PROCESS_FDS: &str = "process_open_fds";
/// The file descriptor limit.
pub const PROCESS_MAX_FDS: &str = "process_max_fds";
/// Threads.
pub const PROCESS_THREADS: &str = "process_threads";

/// Read the process's CPU time, memory, threads and file descriptors from `/proc`
/// (Linux; elsewhere nothing is set) into their gauges: called on each scrape, so it
/// costs nothing between scrapes.
pub fn update_process_metrics() {
    // USER_HZ: 100 on every Linux architecture liveguard builds for.
    const TICKS_PER_S: f64 = 100.0;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name, which is parenthesized and may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        if let (Some(utime), Some(stime)) = (field(14), field(15)) {
            metrics::gauge!(PROCESS_CPU).set((utime + stime) / TICKS_PER_S);
        }
        if let Some(threads) = field(20) {
            metrics::gauge!(PROCESS_THREADS).set(threads);
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kb) = status.lines().find_map(|l| {
            l.strip_prefix("VmRSS:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<f64>()
                .ok()
        })
    {
        metrics::gauge!(PROCESS_RSS).set(kb * 1024.0);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!(PROCESS_FDS).set(fds.count() as f64);
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
        && let Some(max) = limits.lines().find_map(|l| {
            l.strip_prefix("Max open files")?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
    {
        metrics::gauge!(PROCESS_MAX_FDS).set(max);
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(BUILD_INFO, "1, labelled with the build's version.");
    describe_gauge!(CLUSTER_PARTITIONS, "Partitions this cluster worker serves.");
    describe_counter!(
        CLUSTER_UNANSWERED,
        "Events a gateway answered `unavailable`: the cluster did not answer in time."
    );
    describe_counter!(
        CLUSTER_ARCHIVED,
        "Feed records the cluster archiver stored."
    );
    describe_counter!(
        CLUSTER_EVENTS,
        "Events this cluster worker judged (replays not counted)."
    );
    describe_counter!(
        CLUSTER_TAKEOVERS,
        "Partitions this cluster worker took over (each rebuilt by a replay)."
    );
    describe_counter!(
        CLUSTER_LEASES_LOST,
        "Partitions this cluster worker stopped serving because its lease had lapsed \
         (it paused, or could not reach the broker, past the lease time)."
    );
    describe_gauge!(
        LEXICON_INFO,
        "1 for the lexicon in use, by version and hash; 0 for one it replaced."
    );
    describe_counter!(EVENTS, "Events judged, by kind.");
    describe_counter!(VERDICTS, "Verdicts, by decision.");
    describe_counter!(HITS, "Lexicon hits, by category.");
    describe_counter!(ACTIONS, "Disposal actions, by type.");
    describe_counter!(INGEST_ERRORS, "Rejected ingest input, by reason.");
    describe_histogram!(
        INGEST_LATENCY,
        metrics::Unit::Seconds,
        "Frame read to verdict, per event."
    );
    describe_counter!(INGEST_FRAMES, "Frames read on ingest connections.");
    describe_gauge!(CONNECTIONS, "Open WebSocket connections, by kind.");
    describe_counter!(ALERTS, "Alerts published to the feed.");
    describe_counter!(
        ALERTS_SKIPPED,
        "Seqs the feed skipped because the store writer held them back too long."
    );
    describe_counter!(
        SUBSCRIBERS_LAGGED,
        "Alert subscribers disconnected for falling behind."
    );
    describe_gauge!(ALERT_HISTORY, "Alerts in the in-memory history.");
    describe_gauge!(HOLDS_PENDING, "Held messages awaiting review.");
    describe_counter!(REVIEWS, "Reviews of held messages, by outcome and by whom.");
    describe_counter!(
        REVIEWS_UNDELIVERED,
        "Review frames whose platform connection was gone."
    );
    describe_counter!(RELOADS, "Lexicon reloads, by result.");
    describe_counter!(AUTH_DENIED, "Requests refused for their token, by reason.");
    describe_counter!(LIMITED, "Connections refused by a limit, by limit.");
    describe_gauge!(WINDOWS, "Active sender and room windows.");
    describe_gauge!(STRIKE_LOGS, "Escalation strike logs held.");
    describe_counter!(
        STRIKES_REFUSED,
        "Strikes counted alone because engine.max_strike_logs were held."
    );
    describe_counter!(
        WINDOWS_REFUSED,
        "New windows refused because engine.windows.max_windows were held."
    );
    describe_gauge!(
        BURST_ROOMS,
        "Rooms the coordinated danmaku detector follows."
    );
    describe_counter!(
        BURST_REFUSED,
        "Messages of rooms the burst detector could not follow (engine.burst.max_rooms)."
    );
    describe_counter!(BURSTS, "Coordinated danmaku bursts found.");
    describe_gauge!(PRICE_ITEMS, "Items in the price book.");
    describe_counter!(
        PRICE_REFUSED,
        "New price book items refused because engine.price.max_items were held."
    );
    describe_gauge!(
        STORE_UP,
        "1 while the store commits, 0 after a failed transaction."
    );
    describe_gauge!(STORE_PENDING, "Records queued for the store writer.");
    describe_counter!(STORE_WRITES, "Feed records committed to the store.");
    describe_histogram!(
        STORE_COMMIT,
        metrics::Unit::Seconds,
        "Time to write and commit a batch."
    );
    describe_counter!(STORE_ERRORS, "Failed store transactions and purges.");
    describe_counter!(STORE_UNSTORED, "Records delivered without being stored.");
    describe_counter!(STORE_PURGED, "Rows deleted by the retention purge.");
    describe_gauge!(
        PROCESS_CPU,
        metrics::Unit::Seconds,
        "CPU time used by the process (user + system; only grows)."
    );
    describe_gauge!(PROCESS_RSS, metrics::Unit::Bytes, "Resident memory.");
    describe_gauge!(PROCESS_FDS, "Open file descriptors, sockets included.");
    describe_gauge!(PROCESS_MAX_FDS, "The open file descriptor limit.");
    describe_gauge!(PROCESS_THREADS, "Threads of the process.");
    describe_counter!(
        ANSWERS_UNCOMMITTED,
        "Ingest answers sent before their actions were committed (store.answer_wait_max_ms ran out)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_gate_lets_one_line_through_per_period_and_counts_the_rest() {
        let gate = LogGate::new(10);
        assert_eq!(gate.pass_at(100), Some(0));
        for now in [100, 105, 109] {
            assert_eq!(gate.pass_at(now), None);
        }
        assert_eq!(gate.pass_at(110), Some(3), "the next line says what it hid");
        assert_eq!(gate.pass_at(111), None);
    }
}
