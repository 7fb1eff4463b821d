//! Housekeeping: expire held messages every second, sweep idle windows, strike logs
//! and room admissions and save the price book's changes every ten seconds, off the
//! runtime's workers, and try to open a store that could not be opened every five.

use std::sync::Arc;
use std::time::Duration;

use super::{AppState, now_ms};
use crate::telemetry as t;

/// Seconds between two sweeps of windows and strike logs.
const SWEEP_EVERY_S: u64 = 10;

/// Once a second: resolve expired holds; every ten seconds, sweep idle windows and
/// strike logs, off the runtime's workers. A sweep visits every window (about 40 ns
/// each: 3 million take over 100 ms), so its cost is set by how often it runs; ten
/// seconds keeps it near 1% of a core, and a window outlives its age by at most that.
pub(super) async fn housekeeping(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut sweeps = 0u64;
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Some(cluster) = state.cluster.get() {
            // A gateway publishes expiries to the cluster's feed (every gateway
            // does; the feed keeps one per hold), which resolves them everywhere.
            for (held, record) in state.hub.expiry_records(tokio::time::Instant::now()) {
                if let Err(e) = cluster.publish_review(held, &record).await {
                    state.hub.undecided(held);
                    tracing::warn!(held, error = %e, "Cannot publish a hold's expiry; retrying.");
                }
            }
        } else {
            for r in state.hub.expire(tokio::time::Instant::now()) {
                state.deliver(r);
            }
        }
        sweeps += 1;
        if state.config.store.enabled && sweeps.is_multiple_of(super::STORE_RETRY.as_secs()) {
            match state.hub.store() {
                Some(store) => store.probe(),
                None => {
                    let s = state.clone();
                    let _ = tokio::task::spawn_blocking(move || s.open_store(true)).await;
                }
            }
        }
        if sweeps.is_multiple_of(SWEEP_EVERY_S) {
            let s = state.clone();
            let started = std::time::Instant::now();
            let idle_ms = state.limiter.config.room_idle_s * 1000;
            let removed = tokio::task::spawn_blocking(move || {
                let now = now_ms();
                let removed =
                    s.engine.sweep(now) + s.limiter.rooms.sweep(now.saturating_sub(idle_ms));
                // Price book items that changed are saved as often as the sweep runs:
                // a crash forgets at most the last ten seconds of price history.
                if let Some(store) = s.hub.store() {
                    store.save_prices(s.engine.prices().take_changed());
                }
                removed
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
            let bursts = state.engine.bursts();
            metrics::gauge!(t::BURST_ROOMS).set(bursts.rooms() as f64);
            metrics::counter!(t::BURST_REFUSED).absolute(bursts.refused());
            metrics::counter!(t::BURSTS).absolute(bursts.fired());
            let prices = state.engine.prices();
            metrics::gauge!(t::PRICE_ITEMS).set(prices.items() as f64);
            metrics::counter!(t::PRICE_REFUSED).absolute(prices.refused());
        }
    }
}
