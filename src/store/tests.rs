use std::sync::mpsc;

use super::*;
use crate::engine::tests::engine;
use crate::engine::{Engine, Scratch};
use crate::event::parse_event;

const DAY: u64 = 24 * 3600 * 1000;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("liveguard-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store whose commits are forwarded to a channel: (seq, stored).
fn open(dir: &Path, config: StoreConfig) -> (Store, Recovered, mpsc::Receiver<(u64, bool)>) {
    let (tx, rx) = mpsc::channel();
    let on_commit: OnCommit = Box::new(move |records| {
        for (r, stored) in records {
            let _ = tx.send((r.seq, stored));
        }
    });
    let (store, recovered) = Store::open(dir, config, 100, on_commit).unwrap();
    (store, recovered, rx)
}

/// An alert record for `text` said at `ts` by a viewer of its own (no windows or
/// strikes carry over between records).
fn alert(engine: &Engine, seq: u64, id: &str, ts: u64, text: &str) -> FeedRecord {
    let line = serde_json::json!({"kind":"chat","id":id,"room":"r1","user":format!("u-{id}"),"ts":ts,"text":text}).to_string();
    let ev = parse_event(&line).unwrap();
    let outcome = engine.process(&ev, 0, &mut Scratch::default());
    assert!(!outcome.hits.is_empty(), "{text} should be flagged");
    let mut record = crate::evidence::alert_record(&ev, &outcome);
    record.seq = seq;
    record
}

/// The seqs of the stored feed, oldest first (at most `limit`).
fn feed_seqs(reader: &Reader, limit: usize) -> Vec<u64> {
    let feed = reader.feed(0, u64::MAX, limit).unwrap();
    feed.iter().map(|r| r.seq).collect()
}

#[test]
fn records_are_committed_then_handed_on_and_survive_a_restart() {
    let dir = TempDir::new("restart");
    let e = engine();
    let now = 1_767_750_000_000;
    {
        let (store, recovered, commits) = open(&dir.0, StoreConfig::default());
        assert_eq!(recovered.next_seq, 1);
        store.submit(alert(&e, 1, "e1", now, "加微信")).unwrap();
        store.submit(alert(&e, 2, "e2", now + 1, "私聊我")).unwrap();
        store.set_tier("r1", Tier::Enhanced, now);
        store.flush();
        let got: Vec<(u64, bool)> = commits.try_iter().collect();
        assert_eq!(got, [(1, true), (2, true)]);
        let reader = store.reader().unwrap();
        let feed = reader.feed(0, u64::MAX, 10).unwrap();
        assert_eq!(feed.len(), 2);
        assert!(
            feed[0].frame.starts_with(
                "{\"kind\":\"alert\",\"seq\":1,\"room\":\"r1\",\"event\":{\"id\":\"e1\""
            ),
            "{}",
            feed[0].frame
        );
        assert_eq!(feed[1].categories, [Category::Diversion]);
        let page = reader
            .actions(&ActionQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.actions.len(), 2, "hide_message and hold_message");
        // A clean shutdown, as the server does it: the writer records the exact next
        // seq before it stops. (Dropping the store does not wait for its writer, and a
        // reopen racing it under load found the reserved block's floor instead.)
        store.close();
    }
    let (_store, recovered, _) = open(&dir.0, StoreConfig::default());
    assert_eq!(recovered.next_seq, 3);
    assert_eq!(
        recovered.history.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(recovered.tiers, [("r1".to_owned(), Tier::Enhanced)]);
    assert_eq!(
        recovered.holds.len(),
        1,
        "the held message is still under review"
    );
    assert_eq!(recovered.holds[0].event_id, "e2");
}

#[test]
fn retried_actions_are_stored_once_and_pages_follow_the_cursor() {
    let dir = TempDir::new("pages");
    let e = engine();
    let (store, _, _) = open(&dir.0, StoreConfig::default());
    for i in 0..25u64 {
        store
            .submit(alert(&e, i + 1, &format!("e{i}"), 1_000 + i, "加微信"))
            .unwrap();
    }
    // the same event again (a platform retry): its action ids are the same
    store.submit(alert(&e, 26, "e0", 1_000, "加微信")).unwrap();
    store.flush();
    let reader = store.reader().unwrap();
    let mut ids = Vec::new();
    let mut q = ActionQuery {
        limit: 10,
        ..Default::default()
    };
    loop {
        let page = reader.actions(&q).unwrap();
        ids.extend(
            page.actions
                .iter()
                .map(|a| a["action_id"].as_str().unwrap().to_owned()),
        );
        match page.next_cursor {
            Some(c) => q.cursor = Some(c.parse().unwrap()),
            None => break,
        }
    }
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no action twice");
    assert!(ids.len() >= 25);
    let q = ActionQuery {
        since: Some(1_010),
        until: Some(1_015),
        limit: 100,
        ..Default::default()
    };
    let page = reader.actions(&q).unwrap();
    assert!(
        page.actions
            .iter()
            .all(|a| (1_010..1_015).contains(&a["ts"].as_u64().unwrap()))
    );
    assert!(!page.actions.is_empty());
}

#[test]
fn purge_keeps_three_years_and_whatever_is_under_review() {
    let dir = TempDir::new("purge");
    let e = engine();
    let now = 2_000 * DAY;
    let (store, _, _) = open(&dir.0, StoreConfig::default());
    store
        .submit(alert(&e, 1, "old", now - 4 * 365 * DAY, "加微信"))
        .unwrap(); // past retention
    store
        .submit(alert(&e, 2, "held", now - 4 * 365 * DAY, "私聊我"))
        .unwrap(); // old, but held and unreviewed
    store
        .submit(alert(&e, 3, "recent", now - 2 * 365 * DAY, "加微信"))
        .unwrap(); // within three years
    store.flush();
    let purged = store.purge(now);
    assert!(purged >= 2, "the old alert and its action went ({purged})");
    let reader = store.reader().unwrap();
    let seqs: Vec<u64> = feed_seqs(&reader, 10);
    assert_eq!(seqs, [2, 3]);
    // once reviewed, the held one goes too
    store
        .submit(FeedRecord {
            seq: 4,
            kind: "review".into(),
            ts: now - 4 * 365 * DAY + 1000,
            room: "r1".into(),
            categories: vec![Category::Diversion],
            severity: Some(Severity::Medium),
            body: "{\"ref\":2}".into(),
            event: None,
            actions: Vec::new(),
            review: Some(ReviewRow {
                held_seq: 2,
                event_id: "held".into(),
                decision: "reject".into(),
                by: "expiry".into(),
                note: None,
            }),
        })
        .unwrap();
    store.flush();
    store.purge(now);
    let seqs: Vec<u64> = feed_seqs(&reader, 10);
    assert_eq!(seqs, [3]);
}

#[test]
fn a_full_store_fails_writes_but_hands_every_record_on_unstored() {
    let dir = TempDir::new("full");
    let e = engine();
    let config = StoreConfig {
        max_size_mib: 1,
        ..StoreConfig::default()
    };
    let (store, _, commits) = open(&dir.0, config);
    let big = "加微信".repeat(1000);
    let n = 150u64;
    for i in 0..n {
        store
            .submit(alert(&e, i + 1, &format!("e{i}"), 1_000 + i, &big))
            .unwrap();
        store.flush();
    }
    let got: Vec<(u64, bool)> = commits.try_iter().collect();
    assert_eq!(got.len() as u64, n, "every record is handed on");
    assert!(got.iter().any(|(_, stored)| *stored), "the first ones fit");
    assert!(
        got.iter().any(|(_, stored)| !*stored),
        "the store filled up"
    );
    assert_eq!(
        store.is_healthy(),
        got.last().unwrap().1,
        "health follows the last write"
    );
    let stored: Vec<u64> = got
        .iter()
        .filter(|(_, s)| *s)
        .map(|(seq, _)| *seq)
        .collect();
    let reader = store.reader().unwrap();
    let kept: Vec<u64> = feed_seqs(&reader, 1000);
    assert_eq!(
        kept, stored,
        "what was reported stored is exactly what is there"
    );
}

#[test]
fn a_full_queue_hands_the_record_back() {
    let dir = TempDir::new("queue");
    let e = engine();
    let (tx, rx) = mpsc::channel::<()>();
    // A writer stuck in its callback: the queue of 2 fills.
    let on_commit: OnCommit = Box::new(move |_| {
        let _ = rx.recv();
    });
    let config = StoreConfig {
        max_pending: 2,
        ..StoreConfig::default()
    };
    let (store, _) = Store::open(&dir.0, config, 10, on_commit).unwrap();
    let mut rejected = 0;
    for i in 0..10 {
        if store
            .submit(alert(&e, i + 1, &format!("e{i}"), 1, "加微信"))
            .is_err()
        {
            rejected += 1;
        }
    }
    assert!(rejected >= 1, "a full queue does not block");
    for _ in 0..10 {
        let _ = tx.send(());
    }
}

#[test]
fn migrations_are_recorded_and_a_newer_schema_is_refused() {
    let dir = TempDir::new("schema");
    {
        let (_store, _, _) = open(&dir.0, StoreConfig::default());
    }
    let conn = Connection::open(dir.0.join(DB_FILE)).unwrap();
    let v: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, schema::current_version());
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(&dir.0, StoreConfig::default(), 10, Box::new(|_| {})).unwrap_err();
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

#[test]
fn export_carries_the_evidence_and_the_lexicon() {
    let dir = TempDir::new("export");
    let e = engine();
    let (store, _, _) = open(&dir.0, StoreConfig::default());
    store.record_lexicon(LexiconRecord {
        version: e.rules().version().to_string(),
        hash: e.rules().matcher.hash().to_owned(),
        origin: "embedded".into(),
        loaded_at: 1,
        summary: "{\"entries\":218}".into(),
    });
    store.submit(alert(&e, 1, "e1", 5_000, "加微信")).unwrap();
    store.submit(alert(&e, 2, "e2", 9_000, "加微信")).unwrap();
    store.flush();
    let mut out = Vec::new();
    let n = store
        .reader()
        .unwrap()
        .export(
            &ExportQuery {
                room: Some("r1".into()),
                since: Some(4_000),
                until: Some(6_000),
            },
            &mut out,
        )
        .unwrap();
    assert_eq!(n, 1);
    let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["type"], "hide_message");
    assert!(
        line["basis"]
            .as_str()
            .unwrap()
            .contains("直播电商监督管理办法")
    );
    assert_eq!(line["lexicon"]["version"], e.rules().version().as_ref());
    assert_eq!(line["lexicon"]["hash"], e.rules().matcher.hash());
    let ev = &line["evidence_events"][0];
    assert_eq!(ev["id"], "e1");
    assert_eq!(ev["text"], "加微信");
    assert_eq!(ev["normalized"], "加微信");
    assert_eq!(ev["hits"][0]["rule"], "dv.wechat");
}

#[test]
fn a_seq_handed_out_is_never_handed_out_again_after_a_crash() {
    let dir = TempDir::new("seq-floor");
    let e = engine();
    {
        let (store, recovered, _commits) = open(&dir.0, StoreConfig::default());
        assert_eq!(recovered.next_seq, 1);
        // Seqs 1..=10 are shown to moderators; only 1 and 2 are ever stored (the
        // rest were refused by a full queue).
        store.issued(11);
        store.submit(alert(&e, 1, "e1", 1, "加微信")).unwrap();
        store.submit(alert(&e, 2, "e2", 2, "加微信")).unwrap();
        store.flush();
        // A crash: the writer never gets to close.
        std::mem::forget(store);
    }
    let (store, recovered, _commits) = open(&dir.0, StoreConfig::default());
    assert!(
        recovered.next_seq > 10,
        "resumes past every seq shown, not at {}",
        recovered.next_seq
    );
    assert!(
        recovered.next_seq <= 11 + SEQ_BLOCK,
        "a gap of at most a block"
    );
    // A clean close records the exact next seq: no gap.
    let next = recovered.next_seq + 5;
    store.issued(next);
    store.close();
    drop(store);
    let (_store, recovered, _commits) = open(&dir.0, StoreConfig::default());
    assert_eq!(recovered.next_seq, next);
}

#[test]
fn the_seq_floor_moves_ahead_with_use() {
    let dir = TempDir::new("seq-floor-moves");
    let e = engine();
    let (store, _, _commits) = open(&dir.0, StoreConfig::default());
    // Far into the first block: the next commit reserves the next one.
    let far = SEQ_BLOCK - 10;
    store.issued(far);
    store.submit(alert(&e, far - 1, "e1", 1, "加微信")).unwrap();
    store.flush();
    std::mem::forget(store);
    let (_store, recovered, _commits) = open(&dir.0, StoreConfig::default());
    assert!(
        recovered.next_seq >= far + SEQ_BLOCK / 2,
        "{}",
        recovered.next_seq
    );
}

#[test]
fn a_waiter_hears_of_the_commit_after_the_feed_does() {
    let dir = TempDir::new("waiter");
    let e = engine();
    let config = StoreConfig {
        linger_ms: 60_000,
        ..StoreConfig::default()
    };
    let (store, _, commits) = open(&dir.0, config);
    let (tx, rx) = mpsc::channel();
    let waiter: OnWritten = Box::new(move |stored| tx.send(stored).unwrap());
    store
        .submit_many(vec![alert(&e, 1, "e1", 1, "加微信")], Some(waiter))
        .unwrap();
    // A minute's linger does not apply to a submission someone waits for.
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    assert_eq!(commits.try_recv().unwrap(), (1, true));
    assert_eq!(
        store.reader().unwrap().feed(0, u64::MAX, 10).unwrap().len(),
        1
    );
}

#[test]
fn evidence_lookups_by_event_id_use_an_index() {
    let dir = TempDir::new("evidence-index");
    let (store, _, _commits) = open(&dir.0, StoreConfig::default());
    let conn = Connection::open(store.path()).unwrap();
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", query::EVIDENCE_EVENT))
        .unwrap()
        .query_map(rusqlite::params!["e1", "r1", 1_000, 1, "u"], |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter()
            .any(|step| step.contains("USING INDEX events_id")),
        "an export must not scan the events table per evidence id: {plan:?}"
    );
}
