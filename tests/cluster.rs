//! The cluster's messaging against a real nats-server with JetStream (issue 13, in
//! progress). `.ci/run` installs nats-server; without it these tests fail, loudly.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use liveguard::cluster::{Bus, DEFAULT_PARTITIONS, EVENTS_STREAM, events_subject, partition_of};

/// A nats-server with JetStream on a free loopback port and its own storage
/// directory, killed when dropped.
struct NatsServer {
    child: Child,
    url: String,
    dir: std::path::PathBuf,
}

impl NatsServer {
    fn start(name: &str) -> NatsServer {
        let dir =
            std::env::temp_dir().join(format!("liveguard-nats-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(&dir)
            .stderr(Stdio::piped())
            .spawn()
            .expect("nats-server is installed (.ci/run installs it: apt-get install nats-server)");
        let mut log = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let url = loop {
            line.clear();
            assert!(
                log.read_line(&mut line).unwrap() > 0,
                "nats-server exited early"
            );
            if let Some(at) = line.split("Listening for client connections on ").nth(1) {
                break format!("nats://{}", at.trim());
            }
        };
        std::thread::spawn(move || for _ in log.lines() {});
        NatsServer { child, url, dir }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Events reach their room's partition subject, in the order published, and a
/// gateway's resend of an event (same room and id) is stored once.
#[tokio::test]
async fn events_land_on_their_partition_once_and_in_order() {
    let nats = NatsServer::start("partition");
    let bus = Bus::connect(&nats.url, DEFAULT_PARTITIONS).await.unwrap();
    // Connecting again finds the stream rather than failing on it.
    let bus2 = Bus::connect(&nats.url, DEFAULT_PARTITIONS).await.unwrap();
    let line = |room: &str, id: &str| {
        bytes::Bytes::from(format!(
            r#"{{"kind":"chat","id":"{id}","room":"{room}","text":"你好"}}"#
        ))
    };
    let rooms: Vec<String> = (0..20).map(|i| format!("直播间-{i}")).collect();
    let mut seqs = Vec::new();
    for n in 0..100 {
        let room = &rooms[n % rooms.len()];
        let p = bus
            .publish_event(room, &format!("e{n}"), line(room, &format!("e{n}")))
            .await
            .unwrap();
        assert!(!p.duplicate);
        seqs.push(p.seq);
    }
    // A resend through another gateway connection: the same events, not new ones.
    for n in 0..10 {
        let room = &rooms[n % rooms.len()];
        let p = bus2
            .publish_event(room, &format!("e{n}"), line(room, &format!("e{n}")))
            .await
            .unwrap();
        assert!(p.duplicate, "e{n} stored twice");
        assert_eq!(p.seq, seqs[n]);
    }
    let mut stream = bus.jetstream().get_stream(EVENTS_STREAM).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 100);

    // One partition's consumer sees exactly its rooms' events, in publish order.
    let room = &rooms[3];
    let p = partition_of(room, DEFAULT_PARTITIONS);
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some(format!("partition-{p}")),
            filter_subject: events_subject(p),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let expected: Vec<String> = (0..100)
        .filter(|n| partition_of(&rooms[n % rooms.len()], DEFAULT_PARTITIONS) == p)
        .map(|n| format!("e{n}"))
        .collect();
    let mut got = Vec::new();
    let mut messages = consumer
        .fetch()
        .max_messages(expected.len() + 5)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .unwrap();
    while let Some(m) = messages.next().await {
        let m = m.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(
            partition_of(v["room"].as_str().unwrap(), DEFAULT_PARTITIONS),
            p
        );
        got.push(v["id"].as_str().unwrap().to_owned());
        m.ack().await.unwrap();
    }
    assert_eq!(got, expected);
}
