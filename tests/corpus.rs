//! Detection quality on the labelled dev corpus (a copy of the shared corpus, scored
//! the way `tests/fixtures/score.py` scores `liveguard scan` output).
//!
//! Floors, from the matcher issue: recall >= 0.97 over the headline groups (every
//! group but `evasion:pinyin` and `unseen-term`), benign flag rate <= 0.02 (benign
//! events and the innocent first parts of split terms), pinyin recall >= 0.80, and a
//! verdict for every event.

use std::collections::BTreeMap;

use liveguard::engine::{Engine, EngineConfig, Ruleset};
use serde_json::Value;

const CORPUS: &str = include_str!("fixtures/dev.jsonl");

#[derive(Default)]
struct Tally {
    total: usize,
    ok: usize,
}

#[test]
fn dev_corpus_meets_the_quality_floor() {
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let mut out = Vec::new();
    let summary = liveguard::scan::scan(&engine, CORPUS.as_bytes(), &mut out, || 0).unwrap();
    assert_eq!(summary.errors, 0);

    let verdicts: BTreeMap<String, Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v))
        .collect();

    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    let (mut benign, mut benign_flagged, mut missing) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        let e: Value = serde_json::from_str(line).unwrap();
        let id = e["id"].as_str().unwrap();
        let expect = &e["expect"];
        let group = expect["group"].as_str().unwrap();
        let Some(v) = verdicts.get(id) else {
            missing += 1;
            continue;
        };
        let decision = v["decision"].as_str().unwrap();
        if group == "benign" || (!expect["flag"].as_bool().unwrap() && expect["seq"] == true) {
            benign += 1;
            if decision != "allow" {
                benign_flagged += 1;
                misses.push(format!("false positive {id}: {} -> {v}", e["text"]));
            }
        } else if expect["flag"].as_bool().unwrap() {
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
    let recall = ok as f64 / total.max(1) as f64;
    let fp_rate = benign_flagged as f64 / benign.max(1) as f64;
    let pinyin = groups
        .get("evasion:pinyin")
        .map_or(1.0, |t| t.ok as f64 / t.total.max(1) as f64);
    for (g, t) in &groups {
        eprintln!(
            "{g:22} recall {:.3} ({}/{})",
            t.ok as f64 / t.total as f64,
            t.ok,
            t.total
        );
    }
    eprintln!(
        "headline recall {recall:.3}, benign flag rate {fp_rate:.3}, pinyin {pinyin:.3}, missing {missing}"
    );
    for m in &misses {
        eprintln!("  {m}");
    }
    assert_eq!(missing, 0, "every event gets a verdict");
    assert!(recall >= 0.97, "headline recall {recall:.3} < 0.97");
    assert!(fp_rate <= 0.02, "benign flag rate {fp_rate:.3} > 0.02");
    assert!(pinyin >= 0.80, "pinyin recall {pinyin:.3} < 0.80");
}
