//! The cluster's evidence (`liveguard archive --nats URL --data DIR`): the alerts
//! stream, in order, into the SQLite store that `liveguard export` reads.
//!
//! Each alert is stored under its stream sequence (the feed's `seq` in a cluster), and
//! its actions under their action ids: the stream keeps a replayed alert once (its
//! event's de-duplication id), and the store keeps an action id once, so a replay at
//! either end stores nothing twice. The archiver acknowledges a batch only once the
//! store has committed it: a crash re-reads at most that batch.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{ALERTS_STREAM, Bus, ClusterError, js_error};
use crate::store::{FeedRecord, Store};

/// The archiver's durable consumer of the alerts stream.
pub const ARCHIVER: &str = "archiver";

/// Alerts read and committed together.
const BATCH: usize = 512;

/// Store the alerts stream into `store` until `shutdown`.
///
/// # Errors
/// [`ClusterError`] when the stream cannot be read; a store that cannot write is
/// waited for (nothing is acknowledged until it has).
pub async fn run_archiver(
    bus: Bus,
    store: Arc<Store>,
    shutdown: CancellationToken,
) -> Result<(), ClusterError> {
    let stream = bus
        .jetstream()
        .get_stream(ALERTS_STREAM)
        .await
        .map_err(js_error)?;
    let consumer = stream
        .get_or_create_consumer(
            ARCHIVER,
            pull::Config {
                durable_name: Some(ARCHIVER.to_owned()),
                ack_policy: AckPolicy::All,
                deliver_policy: DeliverPolicy::All,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .await
        .map_err(js_error)?;
    while !shutdown.is_cancelled() {
        let mut batch = consumer
            .fetch()
            .max_messages(BATCH)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(js_error)?;
        let mut records = Vec::new();
        let mut last = None;
        while let Some(message) = batch.next().await {
            let message = message.map_err(js_error)?;
            let seq = message.info().map_err(js_error)?.stream_sequence;
            match serde_json::from_slice::<FeedRecord>(&message.payload) {
                Ok(mut record) => {
                    record.seq = seq;
                    records.push(record);
                }
                Err(e) => {
                    tracing::error!(seq, error = %e, "Unreadable alert in the stream; skipped.")
                }
            }
            last = Some(message);
        }
        let Some(last) = last else { continue };
        let n = records.len() as u64;
        if let Some(top) = records.last() {
            store.issued(top.seq + 1);
        }
        commit(&store, records, &shutdown).await;
        metrics::counter!(crate::telemetry::CLUSTER_ARCHIVED).increment(n);
        last.ack().await.map_err(js_error)?;
    }
    Ok(())
}

/// Hand `records` to the store and wait for their commit, retrying while its queue
/// is full or its writes fail (the records wait in memory; the stream holds them
/// too). Returns early only at shutdown.
async fn commit(store: &Store, mut records: Vec<FeedRecord>, shutdown: &CancellationToken) {
    while !records.is_empty() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A failed write does not give the records back: keep a copy to retry.
        let copy = records.clone();
        match store.submit_many(
            records,
            Some(Box::new(move |ok| {
                let _ = tx.send(ok);
            })),
        ) {
            Ok(()) if rx.await.unwrap_or(false) => return,
            Ok(()) => records = copy,
            Err(rejected) => records = rejected.0,
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}
