//! One partition's service on a worker: take over from the last owner, rebuild the
//! rooms' state, then judge the partition's events in stream order.
//!
//! The partition's durable consumer (`partition-<n>`) is its progress record: its
//! acknowledged floor is the last event whose alert is in the alerts stream and whose
//! answer went out. A new owner (after a failover, a rebalance, or an error) reads
//! that floor, rebuilds the rooms' windows and strike logs by judging again, silently,
//! the partition's events from [`PartitionConfig::replay_horizon`] ago up to the
//! floor, then re-creates the consumer to deliver from the floor on, in order, at
//! once (not after an ack wait, and not behind events that came later).
//!
//! The engine's clock is each event's stream timestamp, not the wall clock: judging
//! the same events again yields the same state, the same verdicts and the same action
//! ids, so the replay of events whose alert the last owner already published is
//! de-duplicated by the alerts stream, and the oracle (`liveguard scan` over the same
//! events) matches.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::Stream;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{
    ACK_WAIT, Bus, CONTROL_HEADER, ClusterError, REPLY_HEADER, alerts_subject, events_subject,
    js_error,
};
use crate::engine::{Engine, Outcome, Scratch};
use crate::event::{Decision, EventError, EventErrorKind, parse_event_bytes};
use crate::wire::{Answer, ErrorFrame, Verdict};

/// How a worker serves its partitions.
#[derive(Clone, Copy, Debug)]
pub struct PartitionConfig {
    /// How far back a new owner replays the partition to rebuild its rooms' windows
    /// and strike logs. State older than this is lost at a failover (a strike ladder
    /// longer than it restarts lower); longer means a slower takeover.
    pub replay_horizon: Duration,
    /// Bytes of recent answers (other than a bare allow) kept per partition, to
    /// answer a gateway's resend of an event judged already. Past it the oldest go;
    /// a resend of one of them is answered `unavailable`.
    pub answer_memory: usize,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        PartitionConfig {
            replay_horizon: Duration::from_secs(600),
            answer_memory: 4 << 20,
        }
    }
}

/// Acknowledge after this many events, and every [`ACK_IDLE`]: an ack per event
/// would double the messages per event; a larger step only lengthens the replay of
/// a takeover, which is de-duplicated.
const ACK_EVERY: u32 = 256;

/// See [`ACK_EVERY`].
const ACK_IDLE: Duration = Duration::from_millis(50);

/// How often idle windows and strike logs are swept (as the single process's
/// housekeeping does), by the stream's clock.
const SWEEP_EVERY_MS: u64 = 1000;

/// The durable consumer of partition `partition`.
pub fn consumer_name(partition: u16) -> String {
    format!("partition-{partition}")
}

/// Recent answers by event stream sequence, within a byte budget.
#[derive(Debug)]
struct AnswerMemory {
    answers: HashMap<u64, Bytes>,
    order: VecDeque<u64>,
    bytes: usize,
    budget: usize,
    /// Every event from this sequence on (up to [`Self::last`]) is either in
    /// `answers` or was a bare allow.
    complete_from: u64,
    last: u64,
}

impl AnswerMemory {
    fn new(budget: usize) -> AnswerMemory {
        AnswerMemory {
            answers: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            budget,
            complete_from: u64::MAX,
            last: 0,
        }
    }

    /// The event at `seq` was judged; `answer` unless it was a bare allow.
    fn judged(&mut self, seq: u64, answer: Option<&[u8]>) {
        // Complete from the first event this owner judged (the rebuild's first).
        self.complete_from = self.complete_from.min(seq);
        self.last = self.last.max(seq);
        let Some(answer) = answer else { return };
        self.bytes += answer.len();
        self.answers.insert(seq, Bytes::copy_from_slice(answer));
        self.order.push_back(seq);
        while self.bytes > self.budget {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(a) = self.answers.remove(&old) {
                self.bytes -= a.len();
            }
            self.complete_from = old + 1;
        }
    }
}

/// What [`Again`] found of an earlier event.
enum Again {
    Kept(Bytes),
    BareAllow,
    Forgotten,
}

impl AnswerMemory {
    fn again(&self, seq: u64) -> Again {
        if let Some(a) = self.answers.get(&seq) {
            Again::Kept(a.clone())
        } else if seq >= self.complete_from && seq <= self.last {
            Again::BareAllow
        } else {
            Again::Forgotten
        }
    }
}

/// Whether an outcome's answer is a plain allow, re-derivable from the event alone.
fn bare(outcome: &Outcome) -> bool {
    outcome.decision == Decision::Allow
        && outcome.hits.is_empty()
        && outcome.actions.is_empty()
        && outcome.masked.is_none()
}

/// A partition being served: its engine and what it remembers.
struct Partition {
    bus: Bus,
    engine: Engine,
    number: u16,
    stream: Stream,
    scratch: Scratch,
    answers: AnswerMemory,
    out: Vec<u8>,
    /// The latest event time judged, and when the engine was last swept (ms).
    clock_ms: u64,
    swept_ms: u64,
}

/// A message's stream sequence and publish time (ms since the epoch).
fn position(message: &async_nats::jetstream::Message) -> Result<(u64, u64, u64), ClusterError> {
    let info = message.info().map_err(js_error)?;
    let ms = u64::try_from(info.published.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    Ok((info.stream_sequence, ms, info.pending))
}

fn header<'a>(message: &'a async_nats::jetstream::Message, name: &str) -> Option<&'a str> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str())
}

impl Partition {
    /// Judge the event stored at `seq`, published at `at_ms`, into `self.out`. When
    /// `live`, a flagged event's alert is published first (with the event's
    /// de-duplication id): a replay of the same event stores nothing new.
    async fn judge(
        &mut self,
        seq: u64,
        at_ms: u64,
        payload: &[u8],
        live: bool,
    ) -> Result<(), ClusterError> {
        self.out.clear();
        // Serializing our own types into memory cannot fail.
        let judged = parse_event_bytes(payload).and_then(|ev| {
            self.sweep(ev.ts.map_or(at_ms, |ts| ts.min(at_ms)));
            self.engine.judge_event(ev, at_ms, &mut self.scratch)
        });
        match judged {
            Ok((ev, outcome)) => {
                let flagged = outcome.decision != Decision::Allow || !outcome.actions.is_empty();
                if flagged && live {
                    let record = crate::evidence::alert_record(&ev, &outcome);
                    let body = serde_json::to_vec(&record).unwrap_or_default();
                    self.bus
                        .publish_once(
                            alerts_subject(self.number),
                            &super::event_msg_id(&ev.room, &ev.id),
                            None,
                            Bytes::from(body),
                        )
                        .await?;
                }
                let _ = outcome.answer(&ev).write_to(&mut self.out);
                let kept = (!bare(&outcome)).then_some(self.out.as_slice());
                self.answers.judged(seq, kept);
            }
            Err(err) => {
                // Gateways check events before publishing them (a sale of an item
                // the partition never saw listed is the one refusal left here).
                let _ = Answer::Refused(ErrorFrame::new(&err, None)).write_to(&mut self.out);
                self.answers.judged(seq, Some(&self.out));
            }
        }
        Ok(())
    }

    /// Apply a `tier` control message (a [`super::RoomTier`]).
    fn set_tier(&mut self, payload: &[u8]) {
        match serde_json::from_slice::<super::RoomTier>(payload) {
            Ok(t) => self.engine.set_tier(&t.room, t.tier),
            Err(e) => tracing::error!(error = %e, "Unreadable tier message; ignored."),
        }
    }

    /// Forget idle windows and strike logs every [`SWEEP_EVERY_MS`] of event time
    /// (the engine's own clock, not the wall's: what the sweep removes is what the
    /// engine would no longer read, so a replay judges as the original did).
    fn sweep(&mut self, event_ms: u64) {
        self.clock_ms = self.clock_ms.max(event_ms);
        if self.clock_ms >= self.swept_ms + SWEEP_EVERY_MS {
            self.engine.sweep(self.clock_ms);
            self.swept_ms = self.clock_ms;
        }
    }

    /// The answer, into `self.out`, to an `again` control message: the answer of
    /// the event at the sequence its payload names.
    async fn again(&mut self, payload: &[u8]) {
        self.out.clear();
        let seq = std::str::from_utf8(payload)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        let forgotten = |detail: &str| EventError {
            id: None,
            kind: EventErrorKind::Unavailable(detail.to_owned()),
        };
        let error = match self.answers.again(seq) {
            Again::Kept(answer) => {
                self.out.extend_from_slice(&answer);
                return;
            }
            Again::BareAllow => match self.stream.get_raw_message(seq).await {
                Ok(stored) => match parse_event_bytes(&stored.payload) {
                    Ok(ev) => {
                        let lexicon = self.engine.rules().version().to_string();
                        let verdict = Verdict::new(&ev, Decision::Allow, &lexicon, &[], None, &[]);
                        let _ = Answer::Judged {
                            verdict,
                            actions: &[],
                        }
                        .write_to(&mut self.out);
                        return;
                    }
                    Err(e) => e,
                },
                Err(e) => forgotten(&format!("the stored event cannot be read: {e}")),
            },
            Again::Forgotten => forgotten(
                "judged earlier, and its answer is no longer kept: its actions are in the alert feed and the export",
            ),
        };
        let _ = Answer::Refused(ErrorFrame::new(&error, None)).write_to(&mut self.out);
    }

    /// Rebuild the rooms' state: judge again, silently, the partition's events from
    /// the replay horizon up to `floor`. Returns how many were judged.
    async fn rebuild(&mut self, floor: u64, horizon: Duration) -> Result<u64, ClusterError> {
        if floor == 0 {
            return Ok(0);
        }
        let since = std::time::SystemTime::now()
            .checked_sub(horizon)
            .unwrap_or(std::time::UNIX_EPOCH);
        let start_time = time::OffsetDateTime::from(since);
        let mut consumer = self
            .stream
            .create_consumer(pull::Config {
                filter_subject: events_subject(self.number),
                deliver_policy: DeliverPolicy::ByStartTime { start_time },
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(60),
                ..Default::default()
            })
            .await
            .map_err(js_error)?;
        let name = consumer.cached_info().name.clone();
        let pending = consumer.info().await.map_err(js_error)?.num_pending;
        let mut judged = 0;
        if pending > 0 {
            let mut messages = consumer.messages().await.map_err(js_error)?;
            while let Some(message) = messages.next().await {
                let message = message.map_err(js_error)?;
                let (seq, at_ms, left) = position(&message)?;
                if seq > floor {
                    break;
                }
                match header(&message, CONTROL_HEADER) {
                    None => {
                        self.judge(seq, at_ms, &message.payload, false).await?;
                        judged += 1;
                    }
                    Some("tier") => self.set_tier(&message.payload),
                    Some(_) => {}
                }
                if seq == floor || left == 0 {
                    break;
                }
            }
        }
        let _ = self.stream.delete_consumer(&name).await;
        Ok(judged)
    }
}

/// Count `n` events judged live.
fn count_judged(n: u32) {
    metrics::counter!(crate::telemetry::CLUSTER_EVENTS).increment(u64::from(n));
}

/// The acknowledged floor of partition `partition`'s consumer (0 when it has none).
async fn ack_floor(stream: &Stream, partition: u16) -> Result<u64, ClusterError> {
    match stream.consumer_info(consumer_name(partition)).await {
        Ok(info) => Ok(info.ack_floor.stream_sequence),
        Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => Ok(0),
        Err(e) => Err(js_error(e)),
    }
}

/// Serve partition `partition` with `engine` (fresh: its state is rebuilt here),
/// swapping in each ruleset `rules` brings (a reload), until `fence` is cancelled
/// (the lease was lost or given up, or the worker stops), then acknowledge what was
/// answered and return.
///
/// # Errors
/// [`ClusterError::JetStream`] when the streams cannot be read or written; the
/// caller serves the partition again from its floor (with a fresh engine).
pub async fn serve_partition(
    bus: Bus,
    engine: Engine,
    mut rules: super::worker::Rules,
    partition: u16,
    config: PartitionConfig,
    fence: CancellationToken,
) -> Result<(), ClusterError> {
    let stream = bus
        .jetstream()
        .get_stream(bus.layout().events_stream(partition))
        .await
        .map_err(js_error)?;
    let floor = ack_floor(&stream, partition).await?;
    let started = std::time::Instant::now();
    let mut part = Partition {
        bus: bus.clone(),
        engine,
        number: partition,
        stream: stream.clone(),
        scratch: Scratch::default(),
        answers: AnswerMemory::new(config.answer_memory),
        out: Vec::with_capacity(1024),
        clock_ms: 0,
        swept_ms: 0,
    };
    // Tiers first (they outlive the replay horizon), then the replay, which applies
    // the tier changes it meets in order.
    for t in bus.tiers_of(partition).await? {
        part.engine.set_tier(&t.room, t.tier);
    }
    let replayed = part.rebuild(floor, config.replay_horizon).await?;
    let name = consumer_name(partition);
    let _ = stream.delete_consumer(&name).await;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: events_subject(partition),
            deliver_policy: if floor == 0 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence {
                    start_sequence: floor + 1,
                }
            },
            ack_policy: AckPolicy::All,
            ack_wait: ACK_WAIT,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .map_err(js_error)?;
    tracing::info!(
        partition,
        floor,
        replayed,
        took_ms = started.elapsed().as_millis() as u64,
        "Serving partition."
    );
    let mut messages = consumer.messages().await.map_err(js_error)?;
    metrics::counter!(crate::telemetry::CLUSTER_TAKEOVERS).increment(1);
    let mut unacked: Option<async_nats::jetstream::Message> = None;
    // Messages since the last ack: counted into the metric at each ack, not one by
    // one.
    let mut since_ack = 0u32;
    // Made once, not per event: a timer or a waiter registered for every event
    // costs more than the event's own messaging.
    let fenced = fence.cancelled();
    tokio::pin!(fenced);
    let mut ack_tick = tokio::time::interval(ACK_IDLE);
    ack_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        let next = tokio::select! {
            biased;
            _ = &mut fenced => break Ok(()),
            m = messages.next() => m,
            _ = ack_tick.tick() => {
                if let Some(m) = unacked.take() {
                    m.ack().await.map_err(js_error)?;
                }
                count_judged(since_ack);
                since_ack = 0;
                continue;
            }
        };
        // A reload's ruleset, checked with one atomic load per event.
        if rules.has_changed().unwrap_or(false) {
            part.engine.swap_shared(rules.borrow_and_update().clone());
        }
        let Some(message) = next else {
            break Ok(());
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => break Err(js_error(e)),
        };
        let (seq, at_ms, _) = position(&message)?;
        match header(&message, CONTROL_HEADER) {
            None => {
                if let Err(e) = part.judge(seq, at_ms, &message.payload, true).await {
                    break Err(e);
                }
            }
            Some("again") => part.again(&message.payload).await,
            Some("tier") => part.set_tier(&message.payload),
            Some(other) => tracing::warn!(
                partition,
                control = other,
                "Unknown control message; ignored."
            ),
        }
        if let Some(reply) = header(&message, REPLY_HEADER) {
            bus.client()
                .publish(reply.to_owned(), Bytes::copy_from_slice(&part.out))
                .await
                .map_err(js_error)?;
        }
        unacked = Some(message);
        since_ack += 1;
        if since_ack >= ACK_EVERY
            && let Some(m) = unacked.take()
        {
            m.ack().await.map_err(js_error)?;
            count_judged(since_ack);
            since_ack = 0;
        }
    };
    // What was answered is acknowledged, so the next owner does not judge it again.
    if let Some(m) = unacked.take() {
        let _ = m.ack().await;
    }
    let _ = bus.client().flush().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_memory_keeps_within_its_budget_and_knows_what_it_forgot() {
        let mut memory = AnswerMemory::new(100);
        memory.judged(1, Some(&[b'a'; 60]));
        memory.judged(2, None);
        assert!(matches!(memory.again(1), Again::Kept(_)));
        assert!(matches!(memory.again(2), Again::BareAllow));
        assert!(
            matches!(memory.again(3), Again::Forgotten),
            "not judged yet"
        );
        memory.judged(3, Some(&[b'b'; 60]));
        // 120 bytes > 100: the oldest answer went, and what was before it is unknown.
        assert!(matches!(memory.again(1), Again::Forgotten));
        assert!(matches!(memory.again(2), Again::BareAllow));
        assert!(matches!(memory.again(3), Again::Kept(_)));
        assert!(memory.bytes <= 100);
    }
}
