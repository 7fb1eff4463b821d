//! The evidence store's throughput: realistic alert records (the flagged events of the
//! sample mix, with their actions) through `Store::submit` and the writer thread, in
//! records per second. Baseline, in the same run: the same alert bodies inserted into
//! a bare one-table SQLite database (WAL, one transaction per 256 rows, no index):
//! the least any store of these records could cost.
//!
//! Run: `cargo bench --bench store`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liveguard::engine::{Engine, EngineConfig, Ruleset, Scratch};
use liveguard::event::parse_event;
use liveguard::sample::{Rng, VIOLATIONS};
use liveguard::store::{FeedRecord, Store, StoreConfig};

const RECORDS: usize = 2000;

fn records(engine: &Engine, from_seq: u64) -> Vec<FeedRecord> {
    let mut rng = Rng::new(3);
    let mut scratch = Scratch::default();
    let mut out = Vec::with_capacity(RECORDS);
    let mut i = 0u64;
    while out.len() < RECORDS {
        let text = rng.pick(VIOLATIONS);
        let line = serde_json::json!({"kind":"chat","id":format!("e{i}"),"room":format!("room-{}", i % 100),"user":format!("u{i}"),"ts":1_767_750_000_000u64 + i,"text":text}).to_string();
        i += 1;
        let ev = parse_event(&line).unwrap();
        let outcome = engine.process(&ev, 0, &mut scratch);
        if outcome.hits.is_empty() {
            continue;
        }
        let mut r = liveguard::evidence::alert_record(&ev, &outcome);
        r.seq = from_seq + out.len() as u64;
        out.push(r);
    }
    out
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("liveguard-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bench(c: &mut Criterion) {
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let mut g = c.benchmark_group("liveguard_store");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.sample_size(20);

    let base = dir("baseline");
    let conn = rusqlite::Connection::open(base.join("bare.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch("CREATE TABLE feed (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .unwrap();
    let mut seq = 0i64;
    let bodies: Vec<String> = records(&engine, 0).into_iter().map(|r| r.body).collect();
    g.bench_function("baseline_bare_sqlite_inserts", |b| {
        b.iter(|| {
            for chunk in bodies.chunks(256) {
                conn.execute_batch("BEGIN").unwrap();
                for body in chunk {
                    seq += 1;
                    conn.prepare_cached("INSERT INTO feed (seq, body) VALUES (?1, ?2)")
                        .unwrap()
                        .execute(rusqlite::params![seq, black_box(body)])
                        .unwrap();
                }
                conn.execute_batch("COMMIT").unwrap();
            }
        })
    });

    let d = dir("store");
    let (store, _) = Store::open(&d, StoreConfig::default(), 10, Box::new(|_| {})).unwrap();
    let mut next = 1u64;
    g.bench_function("store_submit_and_commit", |b| {
        b.iter_batched(
            || {
                let rs = records(&engine, next);
                next += RECORDS as u64;
                rs
            },
            |rs| {
                for r in rs {
                    store.submit(r).unwrap();
                }
                store.flush();
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_dir_all(&d);
}

criterion_group!(benches, bench);
criterion_main!(benches);
