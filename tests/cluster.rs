//! The cluster's messaging against a real nats-server with JetStream (issue 13, in
//! progress). `.ci/run` installs nats-server; without it these tests fail, loudly.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use liveguard::cluster::{
    ALERTS_STREAM, Bus, DEFAULT_PARTITIONS, EVENTS_STREAM, Leases, events_subject, partition_of,
    run_partition,
};
use liveguard::engine::{Engine, EngineConfig, Ruleset, Scratch};

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
            .publish_event(room, &format!("e{n}"), line(room, &format!("e{n}")), None)
            .await
            .unwrap();
        assert!(!p.duplicate);
        seqs.push(p.seq);
    }
    // A resend through another gateway connection: the same events, not new ones.
    for n in 0..10 {
        let room = &rooms[n % rooms.len()];
        let p = bus2
            .publish_event(room, &format!("e{n}"), line(room, &format!("e{n}")), None)
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

/// What matters of an answer for comparing a cluster with one process: the decision
/// and the action ids of each event (action timestamps differ).
fn summary(answer: &str) -> (String, Vec<String>) {
    let lines: Vec<serde_json::Value> = answer
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decision = lines[0]["decision"].as_str().unwrap_or("error").to_owned();
    let actions = lines[1..]
        .iter()
        .map(|a| a["action_id"].as_str().unwrap().to_owned())
        .collect();
    (decision, actions)
}

/// Two workers, each owning half the partitions with an engine of its own, answer
/// the dev corpus exactly as one process does (the oracle: one engine judging every
/// event in order), windows and strike ladders included: a room's events all travel,
/// in order, through the partition that holds its state.
#[tokio::test]
async fn two_workers_answer_the_dev_corpus_as_one_process_does() {
    let nats = NatsServer::start("workers");
    let bus = Bus::connect(&nats.url, DEFAULT_PARTITIONS).await.unwrap();
    let mut lines: Vec<String> = include_str!("fixtures/dev.jsonl")
        .lines()
        .take(600)
        .map(str::to_owned)
        .collect();
    // State across events of a room: a term split over three messages, and one
    // sender's repeated violations climbing the strike ladder to a mute.
    for (i, text) in ["加", "微", "信"].iter().enumerate() {
        lines.push(format!(
            r#"{{"kind":"chat","id":"split-{i}","room":"room-split","user":"u-split","ts":{},"text":"{text}"}}"#,
            1_767_750_100_000u64 + i as u64
        ));
    }
    for i in 0..8 {
        lines.push(format!(
            r#"{{"kind":"chat","id":"repeat-{i}","room":"room-repeat","user":"u-repeat","ts":{},"text":"加我微信私聊"}}"#,
            1_767_750_100_000u64 + i * 1000
        ));
    }
    // The oracle.
    let oracle_engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let mut scratch = Scratch::default();
    let mut oracle = HashMap::new();
    let mut flagged = 0u64;
    for line in &lines {
        let ev = liveguard::event::parse_event(line).unwrap();
        let mut out = Vec::new();
        let outcome = oracle_engine.process(&ev, 0, &mut scratch);
        if outcome.decision != liveguard::event::Decision::Allow || !outcome.actions.is_empty() {
            flagged += 1;
        }
        outcome.answer(&ev).write_to(&mut out).unwrap();
        oracle.insert(ev.id.to_string(), summary(&String::from_utf8(out).unwrap()));
    }

    let start_workers = |bus: &Bus| {
        let shutdown = tokio_util::sync::CancellationToken::new();
        for worker in 0..2u16 {
            let engine = Arc::new(Engine::new(Ruleset::embedded(), EngineConfig::default()));
            for p in (0..DEFAULT_PARTITIONS).filter(|p| p % 2 == worker) {
                tokio::spawn(run_partition(
                    bus.clone(),
                    engine.clone(),
                    p,
                    shutdown.clone(),
                ));
            }
        }
        shutdown
    };
    let shutdown = start_workers(&bus);
    let mut answers = bus.client().subscribe("lg.answers.gw-1").await.unwrap();
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (room, id) = (v["room"].as_str().unwrap(), v["id"].as_str().unwrap());
        bus.publish_event(
            room,
            id,
            bytes::Bytes::from(line.clone()),
            Some("lg.answers.gw-1"),
        )
        .await
        .unwrap();
    }
    let mut got = HashMap::new();
    while got.len() < lines.len() {
        let m = tokio::time::timeout(Duration::from_secs(10), answers.next())
            .await
            .unwrap_or_else(|_| panic!("{} of {} answered", got.len(), lines.len()))
            .unwrap();
        let text = String::from_utf8(m.payload.to_vec()).unwrap();
        let id =
            serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap()).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
        assert!(
            got.insert(id.clone(), summary(&text)).is_none(),
            "{id} answered twice"
        );
    }
    shutdown.cancel();
    let differ: Vec<&String> = oracle.keys().filter(|id| oracle[*id] != got[*id]).collect();
    assert!(
        differ.is_empty(),
        "{} of {} answers differ from one process, e.g. {:?}: {:?} vs {:?}",
        differ.len(),
        lines.len(),
        differ.first(),
        differ.first().map(|id| &oracle[*id]),
        differ.first().map(|id| &got[*id])
    );
    assert_ne!(
        oracle["split-2"].0, "allow",
        "the split term is caught on its last part"
    );
    assert!(
        oracle["repeat-7"].1.len() > oracle["repeat-0"].1.len(),
        "the ladder climbs: {:?} then {:?}",
        oracle["repeat-0"],
        oracle["repeat-7"]
    );

    // Every flagged event's alert is in the alerts stream, once.
    let alerts_held = |bus: Bus| async move {
        let mut alerts = bus.jetstream().get_stream(ALERTS_STREAM).await.unwrap();
        alerts.info().await.unwrap().state.messages
    };
    assert_eq!(alerts_held(bus.clone()).await, flagged);

    // A takeover that replays every partition from the start (new owners, fresh
    // engines, the consumers' positions lost) answers again but stores no alert twice.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = bus.jetstream().get_stream(EVENTS_STREAM).await.unwrap();
    for p in 0..DEFAULT_PARTITIONS {
        events
            .delete_consumer(&format!("partition-{p}"))
            .await
            .unwrap();
    }
    let shutdown = start_workers(&bus);
    for again in 0..lines.len() {
        tokio::time::timeout(Duration::from_secs(10), answers.next())
            .await
            .unwrap_or_else(|_| panic!("{again} of {} answered again", lines.len()))
            .unwrap();
    }
    shutdown.cancel();
    assert_eq!(
        alerts_held(bus.clone()).await,
        flagged,
        "no alert stored twice"
    );
}

/// Partition leases: one holder per partition; a holder that keeps renewing keeps it;
/// once it stops, another takes it after the lease time, and the old holder's next
/// renewal is refused (it is fenced rather than a second owner).
#[tokio::test]
async fn a_partition_has_one_holder_and_passes_on_when_its_lease_lapses() {
    let nats = NatsServer::start("leases");
    let bus = Bus::connect(&nats.url, DEFAULT_PARTITIONS).await.unwrap();
    let ttl = Duration::from_secs(2);
    let a = Leases::open(&bus, "worker-a", ttl).await.unwrap();
    let b = Leases::open(&bus, "worker-b", ttl).await.unwrap();
    let mut held = Vec::new();
    for p in 0..4 {
        held.push(
            a.acquire(p)
                .await
                .unwrap()
                .expect("free partitions are taken"),
        );
        assert_eq!(
            b.acquire(p).await.unwrap(),
            None,
            "partition {p} has one holder"
        );
    }
    // A keeps partition 0 alive past several lease times; partitions 1-3 lapse.
    let mut rev0 = held[0];
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rev0 = a
            .renew(0, rev0)
            .await
            .unwrap()
            .expect("a renewed lease is kept");
    }
    assert_eq!(b.acquire(0).await.unwrap(), None, "still A's");
    for p in 1..4 {
        assert!(
            b.acquire(p).await.unwrap().is_some(),
            "partition {p} passed on"
        );
        assert_eq!(
            a.renew(p, held[usize::from(p)]).await.unwrap(),
            None,
            "A, waking up late, is fenced from partition {p}"
        );
    }
}
