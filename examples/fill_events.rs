//! Fill a cluster's events stream with a backlog, to measure what a worker costs
//! per event when it is never idle (docs/SCALING.md, "Per-worker figures").
//!
//! `cargo run --release --example fill_events -- NATS_URL EVENTS`
//!
//! Publishes EVENTS events of the load generator's mix (3% violations, 10% host
//! transcripts, over 100 rooms) with an answer subject, as a gateway would,
//! pipelined 1,000 at a time; then a `liveguard worker` started on the same NATS
//! drains them.

use liveguard::cluster::Bus;

/// Where the worker publishes the answers: a gateway's subject that nobody reads, so
/// the worker pays for every answer as it would in a cluster, and the broker drops
/// them.
const ANSWERS: &str = "lg.answers.drain";

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("NATS_URL");
    let want: usize = args
        .next()
        .map_or(1_000_000, |n| n.parse().expect("EVENTS"));
    let mix = liveguard::sample::Mix::default();
    let mut rng = liveguard::sample::Rng::new(7);
    let bus = Bus::connect(&url, liveguard::cluster::DEFAULT_PARTITIONS)
        .await
        .expect("connect");
    let started = std::time::Instant::now();
    let mut pending = Vec::with_capacity(1000);
    for n in 0..want {
        let sample = mix.draw(&mut rng);
        let room = format!("room-{}", rng.below(100));
        let id = format!("f{n}");
        let (kind, user, role) = if sample.transcript {
            ("transcript", format!("host-{room}"), "host")
        } else {
            ("chat", format!("u{}", rng.below(100_000)), "viewer")
        };
        let event = serde_json::json!({
            "kind": kind, "id": id, "room": room, "user": user, "role": role, "text": sample.text,
        });
        let line = serde_json::to_vec(&event).expect("serializes");
        pending.push(
            bus.send_event(&room, &id, line.into(), Some(&format!("{ANSWERS}.{n}")))
                .await
                .expect("send"),
        );
        if pending.len() == 1000 {
            for ack in pending.drain(..) {
                ack.await.expect("stored");
            }
        }
    }
    for ack in pending.drain(..) {
        ack.await.expect("stored");
    }
    eprintln!(
        "{want} events stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
