//! The cluster's messaging pieces against a real nats-server: partition subjects,
//! de-duplication, leases.

use std::time::Duration;

use super::nats::NatsServer;

use futures_util::StreamExt;
use liveguard::cluster::{
    Bus, DEFAULT_PARTITIONS, EVENTS_STREAM, Leases, events_subject, partition_of,
};

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

/// A worker whose runtime its partitions keep busy (here: blocked outright, past
/// several lease times) keeps its leases: they are renewed on a thread and a
/// connection of their own, so a worker draining a backlog is not fenced from its
/// own partitions and made to take them over again and again.
#[test]
fn a_worker_with_a_busy_runtime_keeps_its_leases() {
    use liveguard::cluster::worker::{WorkerConfig, run_worker};
    use liveguard::engine::Ruleset;
    use liveguard::lexicon::{Lexicon, LexiconSource};
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    let nats = NatsServer::start("busy-worker");
    let lexicon = Lexicon::parse(&LexiconSource::from_files(
        "test",
        &[
            ("policy.toml", "version = \"t\"\n"),
            (
                "d.toml",
                "category = \"diversion\"\nbasis = \"第12条\"\n[[entry]]\nid = \"dv.x\"\n\
                 term = \"加微信\"\nseverity = \"high\"\nnote = \"n\"\n",
            ),
        ],
    ))
    .unwrap();
    let rules = Arc::new(Ruleset::compile(&lexicon, Default::default()).unwrap());
    let ttl = Duration::from_millis(1000);
    let mut config = WorkerConfig::named("busy");
    config.lease_ttl = ttl;

    // The worker's serving runtime: one thread, as `WORKER_THREADS=1` runs it.
    let serving = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let bus = serving
        .block_on(Bus::connect(&nats.url, DEFAULT_PARTITIONS))
        .unwrap();
    let stop = shutdown.clone();
    let worker = std::thread::spawn(move || {
        serving.block_on(async move {
            let worker = tokio::spawn(run_worker(bus, rules, config, stop));
            // Once it serves every partition, its only runtime thread is taken for
            // five lease times, as a long batch of work would take it.
            tokio::time::sleep(Duration::from_secs(2)).await;
            std::thread::sleep(5 * ttl);
            worker.await.unwrap()
        })
    });

    let probe = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    probe.block_on(async {
        let bus = Bus::connect(&nats.url, DEFAULT_PARTITIONS).await.unwrap();
        let intruder = Leases::open(&bus, "intruder", ttl).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let holdings = intruder.holdings().await.unwrap();
            if holdings.held.len() == usize::from(DEFAULT_PARTITIONS) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker took {} partitions",
                holdings.held.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Well inside the blocked stretch (which starts 2 s after the worker), and
        // past a whole lease time of it: every lease still lives.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        for p in 0..DEFAULT_PARTITIONS {
            assert_eq!(
                intruder.acquire(p).await.unwrap(),
                None,
                "partition {p} lapsed while the worker's runtime was busy"
            );
        }
    });
    shutdown.cancel();
    worker.join().unwrap().unwrap();
}
