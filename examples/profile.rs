//! A fixed, repeatable workload for profilers: the bench message mix through the whole
//! pipeline, `N` times (default 200); `LIVEGUARD_AUTOMATON=dfa|nfa` selects another
//! automaton than the default double array, `LIVEGUARD_NO_WINDOWS=1` turns windows off,
//! `LIVEGUARD_NO_BURSTS=1` the coordinated danmaku detector, `LIVEGUARD_ROOMS=N` spreads
//! the messages over N rooms, `LIVEGUARD_VARIED=1` draws them from the varied pool.
//! Run under perf or callgrind:
//!
//! ```sh
//! cargo build --release --example profile
//! valgrind --tool=callgrind target/release/examples/profile 20
//! perf record -e cpu-clock -g target/release/examples/profile 500
//! ```

use liveguard::engine::{Engine, EngineConfig, Ruleset, Scratch};
use liveguard::event::parse_event;
use liveguard::matcher::{AutomatonKind, BuildOptions};
use liveguard::sample::{ChatPool, Mix, Rng};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    // LIVEGUARD_VARIED=1: the 1,000 hand-written lines instead of the classic 24.
    let pool = if std::env::var_os("LIVEGUARD_VARIED").is_some() {
        ChatPool::Varied
    } else {
        ChatPool::Classic
    };
    let mix = Mix {
        violation_pct: 3,
        transcript_pct: 0,
        pool,
    };
    let mut rng = Rng::new(7);
    // LIVEGUARD_ROOMS=N: the messages spread over N rooms, N ms apart: each room hears
    // 1,000/N² messages a second (one room by default: a thousand a second, a flood in
    // which the burst detector can find nothing; 10 rooms: ten a second each, where it
    // compares every message).
    let rooms: u64 = std::env::var("LIVEGUARD_ROOMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let lines: Vec<String> = (0..1000u64)
        .map(|i| {
            let room = format!("r{}", i % rooms);
            serde_json::json!({"kind":"chat","id":format!("e{i}"),"room":room,"user":format!("u{i}"),"ts":1_767_750_000_000u64 + i * rooms,"text":mix.draw(&mut rng).text}).to_string()
        })
        .collect();
    // LIVEGUARD_FRESH=1: events without `ts` and a clock a minute ahead per round, so
    // every window has aged out (each message is its sender's first).
    let fresh = std::env::var_os("LIVEGUARD_FRESH").is_some();
    let events: Vec<_> = lines
        .iter()
        .map(|l| {
            let mut e = parse_event(l).unwrap();
            if fresh {
                e.ts = None;
            }
            e
        })
        .collect();
    let kind = match std::env::var("LIVEGUARD_AUTOMATON").as_deref() {
        Ok("nfa") => AutomatonKind::ContiguousNfa,
        Ok("dfa") => AutomatonKind::Dfa,
        _ => AutomatonKind::DoubleArray,
    };
    let rules = Ruleset::compile(
        &liveguard::lexicon::Lexicon::embedded(),
        BuildOptions {
            kind,
            pinyin_kind: None,
        },
    )
    .unwrap();
    let mut config = EngineConfig::default();
    if std::env::var_os("LIVEGUARD_NO_WINDOWS").is_some() {
        config.windows.chat.events = 0;
        config.windows.transcript.events = 0;
    }
    if std::env::var_os("LIVEGUARD_NO_BURSTS").is_some() {
        config.burst.enabled = false;
    }
    let engine = Engine::new(rules, config);
    let mut scratch = Scratch::default();
    let start = std::time::Instant::now();
    let mut hits = 0;
    for round in 0..rounds {
        let now = round as u64 * 60_000;
        for ev in &events {
            hits += engine.process(ev, now, &mut scratch).hits.len();
        }
    }
    let n = rounds * events.len();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{n} events, {hits} hits, {:.0} events/s, {:.0} ns/event",
        n as f64 / secs,
        secs * 1e9 / n as f64
    );
}
