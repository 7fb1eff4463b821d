//! Fill an evidence store with a realistic number of actions, to measure
//! `liveguard export` at scale (docs/PERFORMANCE.md, "Export").
//!
//! `cargo run --release --example fill_store -- DIR ACTIONS`
//!
//! Events of the sample violations from a few hundred users over a hundred rooms,
//! judged by the embedded lexicon (so repeat offenders collect mutes whose evidence
//! cites every strike), plus a term split over two messages now and then, go through
//! the real store writer.

use liveguard::engine::{Engine, EngineConfig, Ruleset, Scratch};
use liveguard::event::parse_event;
use liveguard::sample::{Rng, VIOLATIONS};
use liveguard::store::{Rejected, Store, StoreConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DIR"));
    let want: usize = args
        .next()
        .map_or(1_000_000, |n| n.parse().expect("ACTIONS"));
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let (store, recovered) =
        Store::open(&dir, StoreConfig::default(), 10, Box::new(|_| {})).expect("open the store");
    let mut seq = recovered.next_seq;
    let mut rng = Rng::new(7);
    let mut scratch = Scratch::default();
    let (mut actions, mut i) = (0usize, 0u64);
    let started = std::time::Instant::now();
    let mut batch = Vec::new();
    while actions < want {
        let room = format!("room-{}", i % 100);
        let user = format!("u{}", (i / 7) % 300);
        let ts = 1_767_750_000_000u64 + i * 20;
        let texts: Vec<&str> = if i % 50 == 0 {
            vec!["加", "微信"]
        } else {
            vec![rng.pick(VIOLATIONS)]
        };
        for (k, text) in texts.iter().enumerate() {
            let line = serde_json::json!({"kind":"chat","id":format!("e{i}-{k}"),"room":room,"user":user,"ts":ts + k as u64,"text":text}).to_string();
            let ev = parse_event(&line).unwrap();
            let outcome = engine.process(&ev, 0, &mut scratch);
            if outcome.hits.is_empty() && outcome.actions.is_empty() {
                continue;
            }
            let mut record = liveguard::evidence::alert_record(&ev, &outcome);
            record.seq = seq;
            seq += 1;
            actions += record.actions.len();
            batch.push(record);
        }
        i += 1;
        if batch.len() >= 256 {
            store.issued(seq);
            let mut records = std::mem::take(&mut batch);
            while let Err(Rejected(back)) = store.submit_many(records, None) {
                store.flush();
                records = back;
            }
        }
    }
    store.issued(seq);
    while let Err(Rejected(back)) = store.submit_many(std::mem::take(&mut batch), None) {
        store.flush();
        batch = back;
    }
    store.close();
    eprintln!(
        "{actions} actions in {} alerts, {:.1}s",
        seq - recovered.next_seq,
        started.elapsed().as_secs_f64()
    );
}
