//! A gateway's side of the cluster (`liveguard serve --nats URL`): events go to their
//! room's partition stream; answers come back on the gateway's own subject and are
//! handed to the connection waiting for them.
//!
//! Each event is published with a reply subject `lg.answers.<gateway>.<ticket>`; the
//! gateway keeps one subscription to `lg.answers.<gateway>.>` and a map of tickets
//! to waiting connections. A connection publishes every event of a frame before it
//! waits for any answer (one round trip per frame, not per event), then writes the
//! answers in the frame's order. A resend the events stream already holds (same room
//! and id, within its de-duplication window) is answered by the partition's owner
//! from what it judged, not judged twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::{ANSWERS_PREFIX, Bus, ClusterError, js_error};

/// A gateway's link to the cluster.
#[derive(Debug)]
pub struct Gateway {
    bus: Bus,
    prefix: String,
    waiting: DashMap<u64, oneshot::Sender<Bytes>>,
    next: AtomicU64,
    /// How long an event may wait for its answer before it is answered
    /// `unavailable` (the platform resends it; nothing is judged twice).
    pub answer_timeout: Duration,
}

/// An event on its way: its answer, once the partition's owner sends it.
#[derive(Debug)]
pub struct Ticket {
    number: u64,
    answer: oneshot::Receiver<Bytes>,
    published: Option<async_nats::jetstream::context::PublishAckFuture>,
    room: Box<str>,
}

impl Gateway {
    /// Subscribe to this gateway's answers (under a random name) and route them until
    /// `shutdown`.
    ///
    /// # Errors
    /// [`ClusterError`] when the subscription cannot be made.
    pub async fn start(
        bus: Bus,
        answer_timeout: Duration,
        shutdown: CancellationToken,
    ) -> Result<Arc<Gateway>, ClusterError> {
        let name = format!("{:016x}", rand_u64());
        let prefix = format!("{ANSWERS_PREFIX}.{name}");
        let mut answers = bus
            .client()
            .subscribe(format!("{prefix}.>"))
            .await
            .map_err(js_error)?;
        let gateway = Arc::new(Gateway {
            bus,
            prefix,
            waiting: DashMap::new(),
            next: AtomicU64::new(1),
            answer_timeout,
        });
        let routing = gateway.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    m = answers.next() => m,
                };
                let Some(message) = message else { break };
                let number = message
                    .subject
                    .rsplit('.')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok());
                // A second answer (a new owner re-judging what the last one answered)
                // finds nobody waiting and is dropped.
                if let Some((_, tx)) = number.and_then(|n| routing.waiting.remove(&n)) {
                    let _ = tx.send(message.payload);
                }
            }
        });
        Ok(gateway)
    }

    /// Publish one event (its JSON line) to its room's partition. The stream's
    /// acknowledgement is awaited in [`Gateway::answer`], so a frame's events go out
    /// together.
    ///
    /// # Errors
    /// [`ClusterError`] when the message cannot be sent.
    pub async fn submit(&self, room: &str, id: &str, line: Bytes) -> Result<Ticket, ClusterError> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, answer) = oneshot::channel();
        self.waiting.insert(number, tx);
        let reply = format!("{}.{number}", self.prefix);
        match self.bus.send_event(room, id, line, Some(&reply)).await {
            Ok(published) => Ok(Ticket {
                number,
                answer,
                published: Some(published),
                room: room.into(),
            }),
            Err(e) => {
                self.waiting.remove(&number);
                Err(e)
            }
        }
    }

    /// The answer to a submitted event: the stream's acknowledgement, then (for a
    /// resend it already held, an `again` request to the partition's owner) the
    /// owner's answer, by `deadline` (a frame's events share one, set
    /// [`Gateway::answer_timeout`] after it was read).
    ///
    /// # Errors
    /// [`ClusterError`] when the stream refused the event or no answer came in time.
    pub async fn answer(
        &self,
        mut ticket: Ticket,
        deadline: tokio::time::Instant,
    ) -> Result<Bytes, ClusterError> {
        let result = tokio::time::timeout_at(deadline, async {
            if let Some(published) = ticket.published.take() {
                let ack = published.await.map_err(js_error)?;
                if ack.duplicate {
                    let reply = format!("{}.{}", self.prefix, ticket.number);
                    self.bus
                        .publish_again(&ticket.room, ack.sequence, &reply)
                        .await?;
                }
            }
            (&mut ticket.answer)
                .await
                .map_err(|_| ClusterError::JetStream("the gateway stopped".into()))
        })
        .await;
        self.waiting.remove(&ticket.number);
        match result {
            Ok(r) => r,
            Err(_) => Err(ClusterError::JetStream(format!(
                "no answer within {} ms; resend it with the same id",
                self.answer_timeout.as_millis()
            ))),
        }
    }
}

/// The cluster's feed records (alerts, reviews) read in stream order from a
/// sequence on: the feed's `seq` is the alerts stream's sequence.
pub struct AlertRecords {
    messages: async_nats::jetstream::consumer::pull::Ordered,
}

impl std::fmt::Debug for AlertRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertRecords").finish_non_exhaustive()
    }
}

/// One feed record read from the alerts stream.
#[derive(Debug)]
pub struct AlertRecord {
    /// The record, its `seq` the stream sequence.
    pub record: crate::store::FeedRecord,
    /// Records after it in the stream now.
    pub pending: u64,
    /// When the stream stored it, ms since the epoch.
    pub stored_ms: u64,
}

impl AlertRecords {
    /// The next record; waits for one when the stream has no more yet. A record the
    /// stream holds but that does not parse is skipped (and logged).
    ///
    /// # Errors
    /// [`ClusterError`] when the stream cannot be read.
    pub async fn next(&mut self) -> Option<Result<AlertRecord, ClusterError>> {
        loop {
            let message = match self.messages.next().await? {
                Ok(m) => m,
                Err(e) => return Some(Err(js_error(e))),
            };
            let info = match message.info() {
                Ok(i) => (
                    i.stream_sequence,
                    i.pending,
                    u64::try_from(i.published.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
                ),
                Err(e) => return Some(Err(js_error(e))),
            };
            match serde_json::from_slice::<crate::store::FeedRecord>(&message.payload) {
                Ok(mut record) => {
                    record.seq = info.0;
                    return Some(Ok(AlertRecord {
                        record,
                        pending: info.1,
                        stored_ms: info.2,
                    }));
                }
                Err(e) => {
                    tracing::error!(seq = info.0, error = %e, "Unreadable record in the alerts stream; skipped.");
                }
            }
        }
    }
}

impl Gateway {
    /// The gateway's connection to the cluster.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Publish a review record (a moderator's decision or a hold's expiry) to the
    /// feed, once per hold across the cluster: `false` when another gateway's
    /// review of the same hold was stored first (within [`super::DUPLICATE_WINDOW`]).
    ///
    /// # Errors
    /// [`ClusterError`] when the stream does not store it.
    pub async fn publish_review(
        &self,
        held: u64,
        record: &crate::store::FeedRecord,
    ) -> Result<bool, ClusterError> {
        let payload = serde_json::to_vec(record).unwrap_or_default();
        let published = self
            .bus
            .publish_once(
                super::REVIEWS_SUBJECT.to_owned(),
                &format!("review-{held}"),
                None,
                Bytes::from(payload),
            )
            .await?;
        Ok(!published.duplicate)
    }

    /// Ask every live worker to reload its lexicon, and gather their answers (at
    /// most [`RELOAD_WAIT`]; a worker that does not answer in time is left out).
    pub async fn reload_workers(&self) -> Vec<crate::wire::WorkerReload> {
        let live = match self
            .bus
            .jetstream()
            .get_key_value(super::leases::LEASES_BUCKET)
            .await
        {
            Ok(kv) => super::leases::Holdings::read(&kv)
                .await
                .map(|h| h.workers.len())
                .unwrap_or(0),
            Err(_) => 0,
        };
        let client = self.bus.client();
        let inbox = client.new_inbox();
        let mut replies = match client.subscribe(inbox.clone()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot ask the workers to reload.");
                return Vec::new();
            }
        };
        if let Err(e) = client
            .publish_with_reply(super::RELOAD_SUBJECT, inbox, Bytes::new())
            .await
        {
            tracing::warn!(error = %e, "Cannot ask the workers to reload.");
            return Vec::new();
        }
        let mut answers = Vec::new();
        let deadline = tokio::time::Instant::now() + RELOAD_WAIT;
        while answers.len() < live {
            match tokio::time::timeout_at(deadline, replies.next()).await {
                Ok(Some(m)) => {
                    if let Ok(a) = serde_json::from_slice::<crate::wire::WorkerReload>(&m.payload) {
                        answers.push(a);
                    }
                }
                _ => break,
            }
        }
        answers.sort_by(|a, b| a.worker.cmp(&b.worker));
        answers
    }

    /// The feed's records from stream sequence `from` on (1: from the start).
    ///
    /// # Errors
    /// [`ClusterError`] when the stream cannot be read.
    pub async fn alert_records(&self, from: u64) -> Result<AlertRecords, ClusterError> {
        use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
        let stream = self
            .bus
            .jetstream()
            .get_stream(super::ALERTS_STREAM)
            .await
            .map_err(js_error)?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: from.max(1),
                },
                ..Default::default()
            })
            .await
            .map_err(js_error)?;
        Ok(AlertRecords {
            messages: consumer.messages().await.map_err(js_error)?,
        })
    }

    /// The sequence of the last record in the feed (0 when it is empty).
    ///
    /// # Errors
    /// [`ClusterError`] when the stream cannot be read.
    pub async fn last_alert_seq(&self) -> Result<u64, ClusterError> {
        let mut stream = self
            .bus
            .jetstream()
            .get_stream(super::ALERTS_STREAM)
            .await
            .map_err(js_error)?;
        Ok(stream.info().await.map_err(js_error)?.state.last_sequence)
    }
}

/// How long a reload waits for the workers' answers (each compiles its lexicon).
pub const RELOAD_WAIT: Duration = Duration::from_secs(10);

/// A random 64-bit value (a gateway's name), from the OS's hash seed.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
