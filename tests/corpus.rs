//! Detection quality on labelled corpora, scored the way `tests/fixtures/score.py`
//! scores `liveguard scan` output:
//!
//! - `dev.jsonl`: a copy of the shared dev corpus;
//! - `holdout.jsonl`: written by `tools/gen_holdout.py` independently of the dev corpus
//!   (other carriers, separators, emoji, traditional forms and trap words), to check
//!   that the mechanisms generalize rather than fit the dev lines.
//!
//! Floors, from the matcher issue: recall >= 0.97 over the headline groups (every
//! group but `evasion:pinyin` and `unseen-term`), benign flag rate <= 0.02 (benign
//! events and the innocent first parts of split terms), pinyin recall >= 0.80, and a
//! verdict for every event.

use std::collections::BTreeMap;

use liveguard::engine::{Engine, EngineConfig, Ruleset};
use serde_json::Value;

#[derive(Default)]
struct Tally {
    total: usize,
    ok: usize,
}

struct Score {
    recall: f64,
    benign_flag_rate: f64,
    pinyin: f64,
    missing: usize,
}

fn score(corpus: &str) -> Score {
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let mut out = Vec::new();
    let summary = liveguard::scan::scan(&engine, corpus.as_bytes(), &mut out, || 0).unwrap();
    assert_eq!(summary.errors, 0);

    let verdicts: BTreeMap<String, Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "verdict")
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v))
        .collect();

    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    let (mut benign, mut benign_flagged, mut missing) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let e: Value = serde_json::from_str(line).unwrap();
        let id = e["id"].as_str().unwrap();
        let expect = &e["expect"];
        let group = expect["group"].as_str().unwrap();
        let flag = expect["flag"].as_bool().unwrap();
        let Some(v) = verdicts.get(id) else {
            missing += 1;
            continue;
        };
        let decision = v["decision"].as_str().unwrap();
        if group == "benign" || (!flag && expect["seq"] == true) {
            benign += 1;
            if decision != "allow" {
                benign_flagged += 1;
                misses.push(format!("false positive {id}: {} -> {v}", e["text"]));
            }
        } else if flag {
            let want = expect["category"].as_str();
            let caught = decision != "allow"
                && v["hits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|h| want.is_none() || h["category"].as_str() == want);
            let t = groups.entry(group.to_owned()).or_default();
            t.total += 1;
            t.ok += usize::from(caught);
            if !caught {
                misses.push(format!(
                    "missed {id} [{group}] {}: {} -> {v}",
                    want.unwrap_or("?"),
                    e["text"]
                ));
            }
        }
    }
    let headline: Vec<&String> = groups
        .keys()
        .filter(|g| *g != "evasion:pinyin" && *g != "unseen-term")
        .collect();
    let (ok, total) = headline.iter().fold((0, 0), |(o, t), g| {
        (o + groups[*g].ok, t + groups[*g].total)
    });
    let s = Score {
        recall: ok as f64 / total.max(1) as f64,
        benign_flag_rate: benign_flagged as f64 / benign.max(1) as f64,
        pinyin: groups
            .get("evasion:pinyin")
            .map_or(1.0, |t| t.ok as f64 / t.total.max(1) as f64),
        missing,
    };
    for (g, t) in &groups {
        eprintln!(
            "{g:22} recall {:.3} ({}/{})",
            t.ok as f64 / t.total as f64,
            t.ok,
            t.total
        );
    }
    eprintln!(
        "headline recall {:.3}, benign flag rate {:.3}, pinyin {:.3}, missing {}",
        s.recall, s.benign_flag_rate, s.pinyin, s.missing
    );
    for m in &misses {
        eprintln!("  {m}");
    }
    s
}

fn assert_floor(s: &Score) {
    assert_eq!(s.missing, 0, "every event gets a verdict");
    assert!(s.recall >= 0.97, "headline recall {:.3} < 0.97", s.recall);
    assert!(
        s.benign_flag_rate <= 0.02,
        "benign flag rate {:.3} > 0.02",
        s.benign_flag_rate
    );
    assert!(s.pinyin >= 0.80, "pinyin recall {:.3} < 0.80", s.pinyin);
}

#[test]
fn dev_corpus_meets_the_quality_floor() {
    assert_floor(&score(include_str!("fixtures/dev.jsonl")));
}

#[test]
fn holdout_corpus_meets_the_quality_floor() {
    assert_floor(&score(include_str!("fixtures/holdout.jsonl")));
}
