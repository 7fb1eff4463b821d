//! Scale-out by room over NATS JetStream: gateways, partition workers, the archiver.
//!
//! | piece | what |
//! |---|---|
//! | [`partition_of`], [`Bus`] | the room-to-partition map; the events and alerts streams |
//! | [`gateway`] | `serve --nats`: publishes events, returns each answer on its connection |
//! | [`worker`] | `worker`: holds partition leases, runs one engine per partition |
//! | [`partition`] | one partition's service: take over, rebuild, judge in order |
//! | [`leases`] | partition leases and worker membership in a KV bucket |
//! | [`archive`] | `archive`: the alerts stream into the SQLite evidence store |
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

pub mod archive;
pub mod gateway;
pub mod leases;
pub mod partition;
pub mod worker;

pub use leases::Leases;

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

/// The subject of review records (moderators' decisions and hold expiries).
pub const REVIEWS_SUBJECT: &str = "lg.alerts.review";

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
pub(crate) fn js_error(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::JetStream(e.to_string())
}

/// A gateway's or worker's connection to the cluster's NATS JetStream.
#[derive(Clone, Debug)]
pub struct Bus {
    url: String,
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    partitions: u16,
    layout: Layout,
}

/// What the stream said of a published event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// The stream sequence it was stored at (the original's, for a duplicate).
    pub seq: u64,
    /// The stream already held it (a resend within [`DUPLICATE_WINDOW`]).
    pub duplicate: bool,
}

/// How a cluster's streams are laid out. Every gateway and worker of a cluster must
/// use the same partitions and streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Partitions rooms are hashed into.
    pub partitions: u16,
    /// Events streams the partitions are spread over (partition `p` in stream
    /// `p % streams`): a stream is served by one NATS server, so a large cluster
    /// spreads its events over many.
    pub streams: u16,
    /// How long the events streams keep an event: at least the replay horizon of a
    /// takeover, and the duplicate window.
    pub events_retention: std::time::Duration,
    /// How long the alerts stream keeps a record: `since` replays reach this far, and
    /// the archiver may be down this long without losing evidence.
    pub alerts_retention: std::time::Duration,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            partitions: DEFAULT_PARTITIONS,
            streams: 1,
            events_retention: std::time::Duration::from_secs(3600),
            alerts_retention: std::time::Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Layout {
    /// The events stream that holds partition `partition`.
    pub fn events_stream(&self, partition: u16) -> String {
        if self.streams <= 1 {
            EVENTS_STREAM.to_owned()
        } else {
            format!("{EVENTS_STREAM}_{}", partition % self.streams)
        }
    }

    /// Each events stream with its subjects.
    fn event_streams(&self) -> Vec<(String, Vec<String>)> {
        if self.streams <= 1 {
            return vec![(EVENTS_STREAM.to_owned(), vec!["lg.events.*".to_owned()])];
        }
        (0..self.streams)
            .map(|k| {
                let subjects = (0..self.partitions)
                    .filter(|p| p % self.streams == k)
                    .map(events_subject)
                    .collect();
                (format!("{EVENTS_STREAM}_{k}"), subjects)
            })
            .collect()
    }
}

impl Bus {
    /// Connect to `url` with the default [`Layout`] of `partitions` partitions.
    ///
    /// # Errors
    /// As [`Bus::connect_with`].
    pub async fn connect(url: &str, partitions: u16) -> Result<Bus, ClusterError> {
        let layout = Layout {
            partitions,
            ..Layout::default()
        };
        Bus::connect_with(url, layout).await
    }

    /// Connect to `url` and make sure the events and alerts streams of `layout` exist
    /// (file storage). A stream that exists is used as it is (its retention is not
    /// changed here); a layout whose streams overlap an existing one's subjects (a
    /// changed `streams`) is refused.
    ///
    /// # Errors
    /// [`ClusterError`] when NATS cannot be reached or JetStream refuses.
    pub async fn connect_with(url: &str, layout: Layout) -> Result<Bus, ClusterError> {
        Bus::open(url, layout, true).await
    }

    /// Connect to `url` for the alerts stream only (the archiver): the events
    /// streams, whose layout the gateways and workers own, are left alone.
    ///
    /// # Errors
    /// As [`Bus::connect_with`].
    pub async fn connect_for_alerts(url: &str) -> Result<Bus, ClusterError> {
        Bus::open(url, Layout::default(), false).await
    }

    /// A second connection to the same NATS server and layout, whose I/O runs on the
    /// runtime this is awaited on (a worker keeps its leases on one, so that its busy
    /// partitions cannot delay a renewal: see [`worker::run_worker`]).
    ///
    /// # Errors
    /// As [`Bus::connect_with`].
    pub async fn second_connection(&self) -> Result<Bus, ClusterError> {
        Bus::open(&self.url, self.layout, false).await
    }

    async fn open(url: &str, layout: Layout, events: bool) -> Result<Bus, ClusterError> {
        let client = async_nats::connect(url)
            .await
            .map_err(|e| ClusterError::Connect {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        let js = async_nats::jetstream::new(client.clone());
        let layout = Layout {
            partitions: layout.partitions.max(1),
            streams: layout.streams.clamp(1, layout.partitions.max(1)),
            ..layout
        };
        let mut streams: Vec<(String, Vec<String>, std::time::Duration)> = if events {
            layout
                .event_streams()
                .into_iter()
                .map(|(name, subjects)| (name, subjects, layout.events_retention))
                .collect()
        } else {
            Vec::new()
        };
        streams.push((
            ALERTS_STREAM.to_owned(),
            vec!["lg.alerts.*".to_owned()],
            layout.alerts_retention,
        ));
        for (name, subjects, max_age) in streams {
            js.get_or_create_stream(async_nats::jetstream::stream::Config {
                name,
                subjects,
                storage: async_nats::jetstream::stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                max_age,
                ..Default::default()
            })
            .await
            .map_err(js_error)?;
        }
        Ok(Bus {
            url: url.to_owned(),
            client,
            js,
            partitions: layout.partitions,
            layout,
        })
    }

    /// The layout of the cluster's streams.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The JetStream context, for consumers.
    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.js
    }

    /// How many partitions rooms are hashed into.
    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    /// Ask the owner of `room`'s partition to answer again the event it stored at
    /// stream sequence `seq` (a resend the stream de-duplicated), on `reply`.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the stream does not acknowledge it.
    pub async fn publish_again(
        &self,
        room: &str,
        seq: u64,
        reply: &str,
    ) -> Result<(), ClusterError> {
        let payload = bytes::Bytes::from(seq.to_string());
        self.publish_control(room, "again", Some(reply), payload)
            .await
    }

    /// Publish a control message of `kind` (see [`CONTROL_HEADER`]) to `room`'s
    /// partition, in order with its events, and wait for the stream to store it.
    async fn publish_control(
        &self,
        room: &str,
        kind: &str,
        reply: Option<&str>,
        payload: bytes::Bytes,
    ) -> Result<(), ClusterError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(CONTROL_HEADER, kind);
        if let Some(reply) = reply {
            headers.insert(REPLY_HEADER, reply);
        }
        let subject = events_subject(partition_of(room, self.partitions));
        self.js
            .publish_with_headers(subject, headers, payload)
            .await
            .map_err(js_error)?
            .await
            .map_err(js_error)?;
        Ok(())
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
        self.publish_once(subject, &event_msg_id(room, id), reply, line)
            .await
    }

    /// Publish `payload` to `subject` under the de-duplication id `msg_id` (a second
    /// publish within [`DUPLICATE_WINDOW`] is stored once), with its reply subject if
    /// any, and wait for the stream to store it.
    pub(crate) async fn publish_once(
        &self,
        subject: String,
        msg_id: &str,
        reply: Option<&str>,
        payload: bytes::Bytes,
    ) -> Result<Published, ClusterError> {
        let ack = self
            .js
            .publish_with_headers(subject, headers(msg_id, reply), payload)
            .await
            .map_err(js_error)?
            .await
            .map_err(js_error)?;
        Ok(Published {
            seq: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// Send one event to its room's partition, with its answer subject if any,
    /// without waiting for the stream to store it: the returned future says when it
    /// has.
    ///
    /// # Errors
    /// [`ClusterError::JetStream`] when the message cannot be sent.
    pub async fn send_event(
        &self,
        room: &str,
        id: &str,
        line: bytes::Bytes,
        reply: Option<&str>,
    ) -> Result<async_nats::jetstream::context::PublishAckFuture, ClusterError> {
        let subject = events_subject(partition_of(room, self.partitions));
        self.js
            .publish_with_headers(subject, headers(&event_msg_id(room, id), reply), line)
            .await
            .map_err(js_error)
    }
}

/// The KV bucket `name` (made if missing; entries expire after `ttl` if given).
pub(crate) async fn key_value(
    bus: &Bus,
    name: &str,
    ttl: Option<std::time::Duration>,
) -> Result<async_nats::jetstream::kv::Store, ClusterError> {
    // The bucket's stream is made here as the client's `create_key_value` would make
    // it: that call first reads the account's API level, which servers before 2.11
    // (Debian's 2.9) do not report.
    use async_nats::jetstream::stream;
    bus.js
        .get_or_create_stream(stream::Config {
            name: format!("KV_{name}"),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: 1,
            max_age: ttl.unwrap_or_default(),
            duplicate_window: ttl.unwrap_or(DUPLICATE_WINDOW),
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
    bus.js.get_key_value(name).await.map_err(js_error)
}

/// The KV bucket of room tiers: a room's tier outlives the events stream's replay.
pub const TIERS_BUCKET: &str = "lg-tiers";

/// A room's tier as the cluster keeps it (in [`TIERS_BUCKET`], and as the payload
/// of a `tier` control message to the room's partition).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoomTier {
    /// The room.
    pub room: String,
    /// Its tier.
    pub tier: crate::event::Tier,
}

/// A room's key in [`TIERS_BUCKET`] (keys cannot hold every character a room name
/// may).
fn tier_key(room: &str) -> String {
    format!("r-{}", &event_msg_id(room, "")[2..])
}

impl Bus {
    /// Set `room`'s tier: kept in the tiers bucket (for owners to come), and sent to
    /// the room's partition, in order with its events (for the owner now).
    ///
    /// # Errors
    /// [`ClusterError`] when either is not stored.
    pub async fn set_tier(&self, room: &str, tier: crate::event::Tier) -> Result<(), ClusterError> {
        let setting = RoomTier {
            room: room.to_owned(),
            tier,
        };
        let payload = bytes::Bytes::from(serde_json::to_vec(&setting).unwrap_or_default());
        key_value(self, TIERS_BUCKET, None)
            .await?
            .put(tier_key(room), payload.clone())
            .await
            .map_err(js_error)?;
        self.publish_control(room, "tier", None, payload).await
    }

    /// `room`'s tier.
    ///
    /// # Errors
    /// [`ClusterError`] when the bucket cannot be read.
    pub async fn tier(&self, room: &str) -> Result<crate::event::Tier, ClusterError> {
        let kv = key_value(self, TIERS_BUCKET, None).await?;
        let value = kv.get(tier_key(room)).await.map_err(js_error)?;
        Ok(value
            .and_then(|v| serde_json::from_slice::<RoomTier>(&v).ok())
            .map(|t| t.tier)
            .unwrap_or_default())
    }

    /// The tiers of `partition`'s rooms (those not standard).
    ///
    /// # Errors
    /// [`ClusterError`] when the bucket cannot be read.
    pub async fn tiers_of(&self, partition: u16) -> Result<Vec<RoomTier>, ClusterError> {
        use futures_util::StreamExt;
        let kv = key_value(self, TIERS_BUCKET, None).await?;
        let mut keys = kv.keys().await.map_err(js_error)?;
        let mut tiers = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(js_error)?;
            if let Some(value) = kv.get(&key).await.map_err(js_error)?
                && let Ok(t) = serde_json::from_slice::<RoomTier>(&value)
                && partition_of(&t.room, self.partitions) == partition
                && t.tier != crate::event::Tier::Standard
            {
                tiers.push(t);
            }
        }
        Ok(tiers)
    }
}

/// The headers of a message: its de-duplication id and its answer subject.
fn headers(msg_id: &str, reply: Option<&str>) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
    if let Some(reply) = reply {
        headers.insert(REPLY_HEADER, reply);
    }
    headers
}

/// The header naming the subject an event's answer goes to (its gateway's).
pub const REPLY_HEADER: &str = "Lg-Reply";

/// How long a worker may hold an event unacknowledged before JetStream hands it to
/// another (a new owner re-reads from the acknowledged floor at once instead; this
/// only bounds a consumer nobody serves).
pub const ACK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The header of a control message on a partition's subject: `again` asks the owner
/// to answer an event it has already judged (a gateway's resend, which the stream
/// stored once; the payload is the event's stream sequence); `tier` sets a room's
/// tier (the payload is a [`RoomTier`]).
pub const CONTROL_HEADER: &str = "Lg-Control";

/// The subject of reload requests to every worker (core NATS, request and replies).
pub const RELOAD_SUBJECT: &str = "lg.control.reload";

/// The prefix of the subjects gateways receive answers on (`lg.answers.<gateway>.<n>`).
pub const ANSWERS_PREFIX: &str = "lg.answers";

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

    /// Every partition's subject is in exactly one events stream, the one
    /// `events_stream` names for it.
    #[test]
    fn each_partition_lives_in_one_events_stream() {
        for streams in [1u16, 3, 4, 64] {
            let layout = Layout {
                streams,
                ..Layout::default()
            };
            let all = layout.event_streams();
            assert_eq!(all.len(), usize::from(streams));
            for p in 0..layout.partitions {
                let holding: Vec<&String> = all
                    .iter()
                    .filter(|(_, subjects)| {
                        subjects
                            .iter()
                            .any(|s| s == &events_subject(p) || s == "lg.events.*")
                    })
                    .map(|(name, _)| name)
                    .collect();
                assert_eq!(holding, [&layout.events_stream(p)], "partition {p}");
            }
        }
    }

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
