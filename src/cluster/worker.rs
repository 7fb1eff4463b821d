//! A partition worker (`liveguard worker --nats URL`): takes its fair share of the
//! partitions' leases, serves each leased partition with an engine of its own, and
//! gives partitions up when workers join, and takes them over when workers die.
//!
//! Every tick (a quarter of the lease time) the worker renews its membership and its
//! leases, then compares what it holds with its fair share (partitions ÷ live
//! workers, rounded up): under it, it takes free partitions; over it, it gives one
//! back (the partition's service stops, acknowledges what it answered, then the lease
//! is deleted so another worker takes it at once). A partition nobody took for a
//! whole tick is taken even over the share: a dead worker's partitions answer again
//! as soon as its leases lapse, before its membership does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::partition::{PartitionConfig, serve_partition};
use super::{Bus, ClusterError, Leases};
use crate::engine::{Engine, EngineConfig, Ruleset};

/// A worker's settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The worker's name in leases and logs (unique in the cluster).
    pub name: String,
    /// How long a lease lives without renewal: a dead worker's partitions move after
    /// at most this (plus a tick).
    pub lease_ttl: Duration,
    /// How partitions are served.
    pub partition: PartitionConfig,
    /// The engine settings of every partition.
    pub engine: EngineConfig,
    /// The lexicon directory a reload reads (`None`: the embedded lexicon).
    pub lexicons: Option<std::path::PathBuf>,
}

impl WorkerConfig {
    /// Defaults for a worker named `name`: 2 s leases.
    pub fn named(name: &str) -> WorkerConfig {
        WorkerConfig {
            name: name.to_owned(),
            lease_ttl: Duration::from_secs(2),
            partition: PartitionConfig::default(),
            engine: EngineConfig::default(),
            lexicons: None,
        }
    }
}

/// A partition this worker holds.
struct Held {
    revision: u64,
    fence: CancellationToken,
    task: JoinHandle<()>,
}

/// Serve one partition until `fence`: again after an error (from its floor, with a
/// fresh engine), after a short pause.
async fn supervise(
    bus: Bus,
    rules: Rules,
    config: WorkerConfig,
    partition: u16,
    fence: CancellationToken,
) {
    while !fence.is_cancelled() {
        let engine = Engine::sharing(rules.borrow().clone(), config.engine);
        match serve_partition(
            bus.clone(),
            engine,
            rules.clone(),
            partition,
            config.partition,
            fence.clone(),
        )
        .await
        {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(partition, error = %e, "Partition service failed; serving it again from its floor.");
                tokio::select! {
                    _ = fence.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

/// The worker's current ruleset, shared by its partitions' engines; a reload sends
/// the new one.
pub type Rules = tokio::sync::watch::Receiver<Arc<Ruleset>>;

/// Answer reload requests ([`super::RELOAD_SUBJECT`]) until `shutdown`: rebuild the
/// lexicon from its directory (with every check of `liveguard lexicon check`), hand
/// it to the partitions, and say which version runs now.
async fn reload_on_request(
    bus: Bus,
    name: String,
    dir: Option<std::path::PathBuf>,
    rules: tokio::sync::watch::Sender<Arc<Ruleset>>,
    shutdown: CancellationToken,
) {
    use futures_util::StreamExt;
    let mut requests = match bus.client().subscribe(super::RELOAD_SUBJECT).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "Cannot listen for reloads.");
            return;
        }
    };
    loop {
        let request = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = requests.next() => r,
        };
        let Some(request) = request else { return };
        let dir = dir.clone();
        let built =
            tokio::task::spawn_blocking(move || crate::check::checked_ruleset(dir.as_deref()))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
        let error = match built {
            Ok(new) => {
                tracing::info!(from = %rules.borrow().version(), to = %new.version(), "Lexicon reloaded.");
                rules.send_replace(Arc::new(new));
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "Lexicon reload failed; the previous lexicon stays in use.");
                Some(e)
            }
        };
        let answer = crate::wire::WorkerReload {
            worker: name.clone(),
            lexicon: rules.borrow().version().to_string(),
            error,
        };
        if let Some(reply) = request.reply {
            let body = serde_json::to_vec(&answer).unwrap_or_default();
            let _ = bus.client().publish(reply, body.into()).await;
        }
    }
}

/// The fair share of `partitions` among `workers`, rounded up.
fn fair_share(partitions: u16, workers: usize) -> usize {
    usize::from(partitions).div_ceil(workers.max(1))
}

/// Run a worker until `shutdown`, then stop every partition's service (each
/// acknowledges what it answered), give the leases back and leave.
///
/// The partitions are served on the runtime this is awaited on, with `bus`; the
/// leases are kept on a thread of their own (`lg-leases`), with a runtime and a NATS
/// connection of their own. A worker whose partitions keep its runtime busy (a
/// backlog after a takeover: exactly when it must not stop) would otherwise renew
/// late: with one runtime thread draining 64 partitions, a tick's renewals waited
/// behind every partition's batch, the 2 s leases lapsed, and the worker took its own
/// partitions over again and again (723 lease losses in a 500,000-event drain, which
/// ran at a fifth of its speed). Kafka moved its consumers' heartbeats to a
/// background thread for the same reason (KIP-62). A worker that is truly stopped
/// (paused, swapped out) still loses its leases and is fenced.
///
/// # Errors
/// [`ClusterError`] when the lease bucket cannot be opened; later trouble with it is
/// logged and retried on the next tick.
pub async fn run_worker(
    bus: Bus,
    rules: Arc<Ruleset>,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> Result<(), ClusterError> {
    let (rules_tx, rules) = tokio::sync::watch::channel(rules);
    tokio::spawn(reload_on_request(
        bus.clone(),
        config.name.clone(),
        config.lexicons.clone(),
        rules_tx,
        shutdown.clone(),
    ));
    let serving = tokio::runtime::Handle::current();
    let (done_tx, done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("lg-leases".into())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(keep_leases(bus, rules, config, shutdown, serving)),
                Err(e) => Err(ClusterError::JetStream(format!(
                    "cannot start the lease runtime: {e}"
                ))),
            };
            let _ = done_tx.send(result);
        })
        .map_err(|e| ClusterError::JetStream(format!("cannot start the lease thread: {e}")))?;
    done.await
        .unwrap_or_else(|_| Err(ClusterError::JetStream("the lease thread panicked".into())))
}

/// The lease loop of [`run_worker`], on the lease thread: partitions' services are
/// spawned on `serving`.
async fn keep_leases(
    bus: Bus,
    rules: Rules,
    config: WorkerConfig,
    shutdown: CancellationToken,
    serving: tokio::runtime::Handle,
) -> Result<(), ClusterError> {
    // At 0 from the start, so that an alert on its growth sees the series.
    metrics::counter!(crate::telemetry::CLUSTER_LEASES_LOST).increment(0);
    let lease_bus = bus.second_connection().await?;
    let leases = Leases::open(&lease_bus, &config.name, config.lease_ttl).await?;
    let mut held: BTreeMap<u16, Held> = BTreeMap::new();
    let mut free_last_tick: BTreeSet<u16> = BTreeSet::new();
    let mut tick = tokio::time::interval(config.lease_ttl / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let partitions = bus.partitions();
    // Where this worker starts looking for free partitions: workers starting together
    // do not all race for partition 0.
    let offset = crate::hash::KeyHash::new(7)
        .write(config.name.as_bytes())
        .finish();
    tracing::info!(worker = %config.name, partitions, "Worker joined.");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = leases.heartbeat().await {
            tracing::warn!(error = %e, "Cannot renew membership.");
            continue;
        }
        // Renew, all at once (one round trip, not one per partition); a lease found
        // lost (this worker paused past it) stops its service.
        let leases_ref = &leases;
        let renewals = futures_util::future::join_all(
            held.iter()
                .map(|(&p, h)| async move { (p, leases_ref.renew(p, h.revision).await) }),
        )
        .await;
        let mut lost = Vec::new();
        for (p, renewed) in renewals {
            match renewed {
                Ok(Some(revision)) => {
                    if let Some(h) = held.get_mut(&p) {
                        h.revision = revision;
                    }
                }
                Ok(None) => lost.push(p),
                Err(e) => tracing::warn!(partition = p, error = %e, "Cannot renew lease."),
            }
        }
        for p in lost {
            if let Some(h) = held.remove(&p) {
                h.fence.cancel();
                metrics::counter!(crate::telemetry::CLUSTER_LEASES_LOST).increment(1);
                tracing::warn!(partition = p, "Lease lost: stopped serving the partition.");
            }
        }
        let holdings = match leases.holdings().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the leases.");
                continue;
            }
        };
        let share = fair_share(partitions, holdings.workers.len());
        let free: BTreeSet<u16> = (0..partitions)
            .filter(|p| !holdings.held.contains(p))
            .collect();
        if held.len() > share && free.is_empty() {
            // The excess goes back (the highest partitions); joiners, under their
            // share, take it on their next tick.
            let excess: Vec<u16> = held
                .keys()
                .rev()
                .take(held.len() - share)
                .copied()
                .collect();
            let given: Vec<(u16, Held)> = excess
                .into_iter()
                .filter_map(|p| held.remove(&p).map(|h| (p, h)))
                .collect();
            for (_, h) in &given {
                h.fence.cancel();
            }
            for (p, h) in given {
                let _ = h.task.await;
                if let Err(e) = leases.release(p, h.revision).await {
                    tracing::warn!(partition = p, error = %e, "Cannot release lease.");
                }
                tracing::info!(partition = p, share, "Gave a partition up to rebalance.");
            }
        }
        let start = (offset % u64::from(partitions)) as u16;
        for i in 0..partitions {
            let p = (start + i) % partitions;
            if !free.contains(&p) || held.contains_key(&p) {
                continue;
            }
            // Up to the share; past it only what nobody took for a whole tick.
            if held.len() >= share && !free_last_tick.contains(&p) {
                continue;
            }
            match leases.acquire(p).await {
                Ok(Some(revision)) => {
                    let fence = CancellationToken::new();
                    let task = serving.spawn(supervise(
                        bus.clone(),
                        rules.clone(),
                        config.clone(),
                        p,
                        fence.clone(),
                    ));
                    held.insert(
                        p,
                        Held {
                            revision,
                            fence,
                            task,
                        },
                    );
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(partition = p, error = %e, "Cannot take lease."),
            }
        }
        free_last_tick = free;
        metrics::gauge!(crate::telemetry::CLUSTER_PARTITIONS).set(held.len() as f64);
    }
    for h in held.values() {
        h.fence.cancel();
    }
    for (p, h) in held {
        let _ = h.task.await;
        let _ = leases.release(p, h.revision).await;
    }
    let _ = leases.leave().await;
    tracing::info!(worker = %config.name, "Worker left.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_covers_every_partition() {
        assert_eq!(fair_share(64, 0), 64);
        assert_eq!(fair_share(64, 1), 64);
        assert_eq!(fair_share(64, 3), 22);
        assert_eq!(fair_share(64, 4), 16);
        for workers in 1..100 {
            assert!(fair_share(64, workers) * workers >= 64);
        }
    }
}
