//! Scale-out by room (issue 13, in progress): how rooms map to partitions, and the
//! JetStream stream that carries events to them.
//!
//! A cluster shards by room: every room belongs to one of a fixed number of partitions,
//! each owned by one worker at a time, so a room's windows, strikes, tiers and holds
//! live in one process and the engine runs unchanged. The mapping is part of the
//! cluster's contract: gateways and workers of different builds must agree on it, and
//! changing it (or the partition count) moves rooms between partitions, which loses
//! their windows and strike logs. So the hash is fixed here, not the process's
//! randomly seeded map hash.

/// Partitions of a cluster unless configured otherwise: many more than workers, so
/// that ownership moves in small steps and each worker's share stays even.
pub const DEFAULT_PARTITIONS: u16 = 64;

/// The stable seed of the room hash. Never change it: see the module doc.
const ROOM_SEED: u64 = 0x726f_6f6d_7061_7274;

/// The partition of `room` among `partitions` (at least 1).
pub fn partition_of(room: &str, partitions: u16) -> u16 {
    let h = crate::hash::KeyHash::new(ROOM_SEED)
        .write(room.as_bytes())
        .finish();
    // Multiply-shift rather than modulo: uniform, and no division on the hot path.
    ((u128::from(h) * u128::from(partitions.max(1))) >> 64) as u16
}

/// The JetStream stream that carries events from gateways to partition workers.
pub const EVENTS_STREAM: &str = "LIVEGUARD_EVENTS";

/// The JetStream stream of alerts (with their actions) that workers publish: the
/// evidence, and later the moderators' feed, whose `seq` is this stream's sequence.
pub const ALERTS_STREAM: &str = "LIVEGUARD_ALERTS";

/// The subject of partition `partition`'s alerts.
pub fn alerts_subject(partition: u16) -> String {
    format!("lg.alerts.{partition}")
}

/// How long the events stream remembers message ids: a gateway's resend of the same
/// event within it is stored once.
pub const DUPLICATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(120);

/// The subject of partition `partition`'s events. Rooms are not in the subject (a
/// room name may hold any character); they are in the event.
pub fn events_subject(partition: u16) -> String {
    format!("lg.events.{partition}")
}

/// The de-duplication id of an event (`Nats-Msg-Id`): the same room and event id
/// always give the same one. Hashed (128 bits, two fixed seeds), because header
/// values cannot carry every character a room or an id may hold.
pub fn event_msg_id(room: &str, id: &str) -> String {
    let hash = |seed: u64| {
        crate::hash::KeyHash::new(seed)
            .write(room.as_bytes())
            .write(id.as_bytes())
            .finish()
    };
    format!(
        "e-{:016x}{:016x}",
        hash(0x6576_656e_7431),
        hash(0x6576_656e_7432)
    )
}

/// Why the cluster's messaging failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The NATS server cannot be reached.
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        message: String,
    },
    /// JetStream refused a request (stream, consumer, publish).
    #[error("JetStream: {0}")]
    JetStream(String),
}

/// A JetStream error (a refused request, a publish not acknowledged) as ours.
fn js_error(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::JetStream(e.to_string())
}

/// A gateway's or worker's connection to the cluster's NATS JetStream.
#[derive(Clone, Debug)]
pub struct Bus {
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    partitions: u16,
}

/// What the stream said of a published event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// The stream sequence it was stored at (the original's, for a duplicate).
    pub seq: u64,
    /// The stream already held it (a resend within [`DUPLICATE_WINDOW`]).
    pub duplicate: bool,
}

impl Bus {
    /// Connect to `url` and make sure the events stream exists (file storage).
    ///
    /// # Errors
    /// [`ClusterError`] when NATS cannot be reached or JetStream refuses.
    pub async fn connect(url: &str, partitions: u16) -> Result<Bus, ClusterError> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| ClusterError::Connect {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        let js = async_nats::jetstream::new(client.clone());
        for (name, subjects) in [
            (EVENTS_STREAM, "lg.events.*"),
            (ALERTS_STREAM, "lg.alerts.*"),
        ] {
            js.get_or_create_stream(async_nats::jetstream::stream::Config {
                name: name.to_owned(),
                subjects: vec![subjects.to_owned()],
                storage: async_nats::jetstream::stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(js_error)?;
        }
        Ok(Bus {
            client,
            js,
            partitions: partitions.max(1),
        })
    }

    /// The JetStream context, for consumers.
    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.js
    }

    /// The core NATS client (answers travel on plain subjects).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Publish one event (its JSON line) to its room's partition, with its
    /// de-duplication id and the subject its answer goes to, and wait for the stream
    /// to store it.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the stream does not acknowledge it.
    pub async fn publish_event(
        &self,
        room: &str,
        id: &str,
        line: bytes::Bytes,
        reply: Option<&str>,
    ) -> Result<Published, ClusterError> {
        let subject = events_subject(partition_of(room, self.partitions));
        self.publish_once(subject, room, id, reply, line).await
    }

    /// Publish `payload` to `subject` under the de-duplication id of the event `id`
    /// of `room` (a second publish within [`DUPLICATE_WINDOW`] is stored once), with
    /// its reply subject if any, and wait for the stream to store it.
    async fn publish_once(
        &self,
        subject: String,
        room: &str,
        id: &str,
        reply: Option<&str>,
        payload: bytes::Bytes,
    ) -> Result<Published, ClusterError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            event_msg_id(room, id).as_str(),
        );
        if let Some(reply) = reply {
            headers.insert(REPLY_HEADER, reply);
        }
        let ack = self
            .js
            .publish_with_headers(subject, headers, payload)
            .await
            .map_err(js_error)?
            .await
            .map_err(js_error)?;
        Ok(Published {
            seq: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}

/// The header naming the subject an event's answer goes to (its gateway's).
pub const REPLY_HEADER: &str = "Lg-Reply";

/// How long a worker may hold an event unacknowledged before JetStream hands it to
/// another: a worker that died mid-event loses it for no longer than this.
pub const ACK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Judge partition `partition`'s events in stream order with `engine`. A flagged
/// event's alert (its body: event, verdict, actions) is published to the alerts
/// stream first, with the event's de-duplication id, so that a replay of the
/// partition (a new owner re-reading unacknowledged events) cannot store an alert or
/// its actions twice within [`DUPLICATE_WINDOW`]. Then the answer (the very lines a
/// single process writes: the verdict, then its actions, or an error line) goes to
/// the event's reply subject, and only then is the event acknowledged: the platform
/// never acts on an action the evidence lacks. Runs until `shutdown` or the stream
/// ends.
///
/// A room's events all travel in one partition, in the order its gateway published
/// them, so the room's windows and strike logs see what one process would see.
///
/// # Errors
/// [`ClusterError::JetStream`] when the consumer cannot be made or read.
pub async fn run_partition(
    bus: Bus,
    engine: std::sync::Arc<crate::engine::Engine>,
    partition: u16,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<(), ClusterError> {
    use async_nats::jetstream::consumer::{AckPolicy, pull};
    use futures_util::StreamExt;
    let stream = bus.js.get_stream(EVENTS_STREAM).await.map_err(js_error)?;
    let name = format!("partition-{partition}");
    let consumer = stream
        .get_or_create_consumer(
            &name,
            pull::Config {
                durable_name: Some(name.clone()),
                filter_subject: events_subject(partition),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                ..Default::default()
            },
        )
        .await
        .map_err(js_error)?;
    let mut messages = consumer.messages().await.map_err(js_error)?;
    let mut scratch = crate::engine::Scratch::default();
    let mut out = Vec::with_capacity(1024);
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            m = messages.next() => m,
        };
        let Some(message) = message else {
            return Ok(());
        };
        let message = message.map_err(js_error)?;
        out.clear();
        // Serializing our own types into memory cannot fail.
        let _ = match crate::event::parse_event_bytes(&message.payload) {
            Ok(ev) => {
                let outcome = engine.process(&ev, crate::clock::now_ms(), &mut scratch);
                let flagged = outcome.decision != crate::event::Decision::Allow
                    || !outcome.actions.is_empty();
                if flagged {
                    let record = crate::evidence::alert_record(&ev, &outcome);
                    bus.publish_once(
                        alerts_subject(partition),
                        &ev.room,
                        &ev.id,
                        None,
                        bytes::Bytes::from(record.body),
                    )
                    .await?;
                }
                outcome.answer(&ev).write_to(&mut out)
            }
            Err(err) => crate::wire::Answer::Refused(crate::wire::ErrorFrame::new(&err, None))
                .write_to(&mut out),
        };
        let reply = message
            .headers
            .as_ref()
            .and_then(|h| h.get(REPLY_HEADER))
            .map(|v| v.to_string());
        if let Some(reply) = reply {
            bus.client
                .publish(reply, bytes::Bytes::copy_from_slice(&out))
                .await
                .map_err(js_error)?;
        }
        message.ack().await.map_err(js_error)?;
    }
}

/// The KV bucket of partition leases.
pub const LEASES_BUCKET: &str = "lg-leases";

/// Partition ownership: a lease is a key (`p-<partition>`) in a JetStream KV bucket
/// whose entries expire after the lease time. Taking one is a create (refused while
/// another holder's entry lives); keeping it is a compare-and-swap on the revision the
/// holder last wrote, so a holder that paused past its lease and woke up finds its
/// revision stale and stops: it is fenced, not a second owner.
#[derive(Clone, Debug)]
pub struct Leases {
    kv: async_nats::jetstream::kv::Store,
    holder: String,
}

impl Leases {
    /// The lease bucket (created with `ttl` as its entries' lifetime if missing) for
    /// `holder` (a worker's name, written in the leases it takes).
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be made.
    pub async fn open(
        bus: &Bus,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Leases, ClusterError> {
        // The bucket's stream is made here as the client's `create_key_value` would
        // make it: that call first reads the account's API level, which servers
        // before 2.11 (Debian's 2.9) do not report.
        use async_nats::jetstream::stream;
        bus.js
            .get_or_create_stream(stream::Config {
                name: format!("KV_{LEASES_BUCKET}"),
                subjects: vec![format!("$KV.{LEASES_BUCKET}.>")],
                max_messages_per_subject: 1,
                max_age: ttl,
                duplicate_window: ttl,
                storage: stream::StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: stream::DiscardPolicy::New,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(js_error)?;
        let kv = bus
            .js
            .get_key_value(LEASES_BUCKET)
            .await
            .map_err(js_error)?;
        Ok(Leases {
            kv,
            holder: holder.to_owned(),
        })
    }

    /// Take `partition` if nobody holds it: the lease's revision, or `None` when
    /// another holder has it.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be reached.
    pub async fn acquire(&self, partition: u16) -> Result<Option<u64>, ClusterError> {
        use async_nats::jetstream::kv::CreateErrorKind;
        match self
            .kv
            .create(format!("p-{partition}"), self.holder.clone().into())
            .await
        {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(js_error(e)),
        }
    }

    /// Keep a lease taken at `revision` for another lease time: the new revision, or
    /// `None` when it was lost (it expired and another holder took it, or the bucket
    /// moved on): the caller must stop serving the partition.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the bucket cannot be reached.
    pub async fn renew(&self, partition: u16, revision: u64) -> Result<Option<u64>, ClusterError> {
        use async_nats::jetstream::kv::UpdateErrorKind;
        match self
            .kv
            .update(
                format!("p-{partition}"),
                self.holder.clone().into(),
                revision,
            )
            .await
        {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(e) => Err(js_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_always_maps_to_the_same_partition() {
        // Pinned values: a change here breaks every running cluster's mapping.
        let pinned: Vec<u16> = ["room-0", "r-42", "直播间-七号", ""]
            .iter()
            .map(|r| partition_of(r, DEFAULT_PARTITIONS))
            .collect();
        assert_eq!(pinned, PINNED);
        for p in [1, 2, 7, 64, 1024] {
            for i in 0..1000 {
                let room = format!("room-{i}");
                let a = partition_of(&room, p);
                assert!(a < p);
                assert_eq!(a, partition_of(&room, p));
            }
        }
    }

    const PINNED: [u16; 4] = [13, 36, 13, 6];

    /// The balance target: partitions spread over workers within 1.2×
    /// (max/mean) for 1,000 rooms.
    #[test]
    fn a_thousand_rooms_spread_evenly_over_workers() {
        for workers in [2usize, 4] {
            let mut per_worker = vec![0usize; workers];
            for i in 0..1000 {
                let p = partition_of(&format!("room-{i}"), DEFAULT_PARTITIONS);
                // Partitions dealt to workers round-robin.
                per_worker[usize::from(p) % workers] += 1;
            }
            let max = *per_worker.iter().max().unwrap() as f64;
            let mean = 1000.0 / workers as f64;
            assert!(max / mean <= 1.2, "{workers} workers: {per_worker:?}");
        }
    }
}
