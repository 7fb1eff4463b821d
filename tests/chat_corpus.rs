//! Detection quality on the hand-written chat corpus (`tests/fixtures/chat-*.jsonl`):
//! live-room lines written by hand the way viewers and hosts type and speak, with the
//! disguises of the real-chat issue (homophones, look-alikes, emoji, initials,
//! codewords, script tricks, split terms, clause punctuation) and the benign lines that
//! trip naive filters (negation, questions, everyday senses, complaints, ordinary
//! chat). `chat-dev.jsonl` is the half the lexicon and the channels were tuned on,
//! `chat-dev2.jsonl` a second round written later by other writers;
//! `chat-test.jsonl`, `chat-test2.jsonl` and `chat-test3.jsonl` were each scored once,
//! unseen, at the end of a round (and the first two tuned on after): their floors keep
//! what was reached, below the targets. `chat-benign.jsonl` is 1,000 ordinary lines
//! (everyday chat, honest product talk, and near-misses: 虎皮凤爪, 减肥 as a wish) that
//! measure noise. docs/QUALITY.md reports each per class, with the misses left.
//!
//! A violation is caught when the decision is not `allow` and a hit has the expected
//! category; a benign line is flagged when the decision is not `allow`.

use std::collections::BTreeMap;

use liveguard::engine::{Engine, EngineConfig, Ruleset};
use serde_json::Value;

#[derive(Debug, Default)]
struct Class {
    total: usize,
    /// Caught (violations) or flagged (benign lines).
    hits: usize,
    /// Benign lines blocked, or whose actions suspend a stream.
    blocked: usize,
}

#[derive(Debug, Default)]
struct Score {
    violations: BTreeMap<String, Class>,
    benign: BTreeMap<String, Class>,
}

impl Score {
    fn recall(&self, class: &str) -> f64 {
        let c = &self.violations[class];
        c.hits as f64 / c.total as f64
    }

    fn benign_flag_rate(&self) -> f64 {
        let (f, t) = self
            .benign
            .values()
            .fold((0, 0), |(f, t), c| (f + c.hits, t + c.total));
        f as f64 / t as f64
    }

    fn blocked(&self, class: &str) -> usize {
        self.benign.get(class).map_or(0, |c| c.blocked)
    }
}

fn score(corpus: &str) -> Score {
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let mut out = Vec::new();
    let summary = liveguard::scan::scan(&engine, corpus.as_bytes(), &mut out, || 0).unwrap();
    assert_eq!(summary.errors, 0);
    let mut verdicts: BTreeMap<String, Value> = BTreeMap::new();
    let mut suspends: Vec<String> = Vec::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["kind"] == "verdict" {
            verdicts.insert(v["id"].as_str().unwrap().to_owned(), v);
        } else if v["kind"] == "action" && v["type"] == "suspend_stream" {
            suspends.extend(
                v["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_owned()),
            );
        }
    }
    let mut s = Score::default();
    let mut misses = Vec::new();
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let e: Value = serde_json::from_str(line).unwrap();
        let id = e["id"].as_str().unwrap();
        let x = &e["expect"];
        let class = x["group"].as_str().unwrap().to_owned();
        let v = &verdicts[id];
        let decision = v["decision"].as_str().unwrap();
        if x["flag"] == true {
            let want = x["category"].as_str();
            let caught = decision != "allow"
                && v["hits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|h| h["category"].as_str() == want);
            let c = s.violations.entry(class.clone()).or_default();
            c.total += 1;
            c.hits += usize::from(caught);
            if !caught {
                misses.push(format!("missed [{class}] {}: {}", e["text"], v["hits"]));
            }
        } else {
            let flagged = decision != "allow";
            let c = s.benign.entry(class.clone()).or_default();
            c.total += 1;
            c.hits += usize::from(flagged);
            c.blocked += usize::from(decision == "block" || suspends.iter().any(|x| x == id));
            if flagged {
                misses.push(format!(
                    "flagged [{class}] {} -> {decision}: {}",
                    e["text"], v["hits"]
                ));
            }
        }
    }
    for (class, c) in &s.violations {
        eprintln!(
            "{class:14} recall {:.3} ({}/{})",
            c.hits as f64 / c.total as f64,
            c.hits,
            c.total
        );
    }
    for (class, c) in &s.benign {
        eprintln!(
            "{class:14} flagged {}/{} blocked {}",
            c.hits, c.total, c.blocked
        );
    }
    eprintln!("benign flag rate {:.3}", s.benign_flag_rate());
    for m in &misses {
        eprintln!("  {m}");
    }
    s
}

/// Floors per class: what a release must keep. `max_blocked` bounds the benign lines
/// of classes 9–11 (mentions, questions, everyday senses) that are blocked.
fn assert_floors(s: &Score, recall: &[(&str, f64)], max_benign: f64, max_blocked: usize) {
    for &(class, floor) in recall {
        assert!(
            s.recall(class) >= floor,
            "{class} recall {:.3} < {floor}",
            s.recall(class)
        );
    }
    assert!(
        s.benign_flag_rate() <= max_benign,
        "benign flag rate {:.3} > {max_benign}",
        s.benign_flag_rate()
    );
    let blocked: usize = ["c9-negation", "c10-question", "c11-everyday"]
        .iter()
        .map(|c| s.blocked(c))
        .sum();
    assert!(
        blocked <= max_blocked,
        "{blocked} mentions, questions or everyday lines blocked (at most {max_blocked})"
    );
}

#[test]
fn chat_dev_half_meets_its_floors() {
    let s = score(include_str!("fixtures/chat-dev.jsonl"));
    assert_floors(
        &s,
        &[
            ("c1-homophone", 1.00),
            ("c2-lookalike", 0.96),
            ("c3-emoji", 1.00),
            ("c4-initials", 0.75),
            ("c5-codeword", 1.00),
            ("c6-tricks", 0.94),
            ("c7-split", 0.94),
            ("c8-clause", 0.95),
        ],
        0.005,
        0,
    );
}

/// The second dev round (`chat-dev2.jsonl`, written after the first test score by
/// other writers, tuned on for mentions and everyday senses only).
#[test]
fn chat_second_dev_round_meets_its_floors() {
    let s = score(include_str!("fixtures/chat-dev2.jsonl"));
    assert_floors(
        &s,
        &[
            ("c1-homophone", 0.90),
            ("c2-lookalike", 0.97),
            ("c3-emoji", 0.93),
            ("c4-initials", 0.82),
            ("c5-codeword", 1.00),
            ("c8-clause", 1.00),
        ],
        0.007,
        0,
    );
}

/// The first test half: held out during the first round of the real-chat issue, then
/// its misses were published (docs/QUALITY.md) and the second and third rounds tuned
/// on it. Its floors keep what the third round reached.
#[test]
fn chat_test_half_keeps_what_was_reached() {
    let s = score(include_str!("fixtures/chat-test.jsonl"));
    assert_floors(
        &s,
        &[
            ("c1-homophone", 0.85),
            ("c2-lookalike", 0.93),
            ("c3-emoji", 0.92),
            ("c4-initials", 0.68),
            ("c5-codeword", 1.00),
            ("c6-tricks", 1.00),
            ("c7-split", 1.00),
            ("c8-clause", 0.86),
        ],
        0.009,
        0,
    );
}

/// Ordinary room chat: what a moderator would never touch. The noise floor of every
/// channel together.
#[test]
fn ordinary_chat_is_left_alone() {
    let s = score(include_str!("fixtures/chat-benign.jsonl"));
    assert_floors(&s, &[], 0.005, 0);
    let blocked: usize = s.benign.values().map(|c| c.blocked).sum();
    assert_eq!(blocked, 0, "ordinary lines blocked");
}

/// The second test half (`chat-test2.jsonl`, 637 events), written for the second round
/// by writers who saw neither the engine nor the lexicon, and scored once when the
/// round was done (docs/QUALITY.md); the third round tuned on its published misses.
/// The floors keep what the third round reached.
#[test]
fn chat_second_test_half_keeps_what_was_reached() {
    let s = score(include_str!("fixtures/chat-test2.jsonl"));
    assert_floors(
        &s,
        &[
            ("c1-homophone", 0.86),
            ("c2-lookalike", 0.90),
            ("c3-emoji", 0.95),
            ("c4-initials", 0.85),
            ("c5-codeword", 0.92),
            ("c6-tricks", 1.00),
            ("c7-split", 0.96),
            ("c8-clause", 0.97),
        ],
        0.007,
        0,
    );
}

/// The third test half (`chat-test3.jsonl`, 777 events), written at the start of the
/// third round by a writer who saw neither the engine, the lexicon nor the other
/// corpora, and scored once when the round was done (docs/QUALITY.md). The floors
/// keep what that score reached; they are below the targets.
#[test]
fn chat_third_test_half_keeps_what_was_reached() {
    let s = score(include_str!("fixtures/chat-test3.jsonl"));
    assert_floors(
        &s,
        &[
            ("c1-homophone", 0.90),
            ("c2-lookalike", 0.91),
            ("c3-emoji", 0.95),
            ("c4-initials", 0.90),
            ("c5-codeword", 0.79),
            ("c6-tricks", 0.97),
            ("c7-split", 0.89),
            ("c8-clause", 0.93),
        ],
        0.023,
        0,
    );
}

/// Split characters and rare look-alikes inside words that only regex rules list, or
/// past the variants a term gets (`氵匋宝`, `门木鱼`, `讠正`, `厡价`), beside ordinary
/// lines whose neighbouring characters happen to make one (门口, 木子李, 弓长张): the
/// recomposed view's data (docs/QUALITY.md, round 4). The dev half was tuned on; the
/// test half was written with it, held out, and scored once.
#[test]
fn split_characters_are_read_back_without_joining_ordinary_words() {
    let dev = score(include_str!("fixtures/chat-shapes-dev.jsonl"));
    assert_floors(&dev, &[("c2-lookalike", 1.0)], 0.0, 0);
    let test = score(include_str!("fixtures/chat-shapes-test.jsonl"));
    assert_floors(&test, &[("c2-lookalike", 0.93)], 0.0, 0);
}

/// Other platforms and their chat apps as chat names them: spelled in pinyin, in
/// fullwidth or spaced letters, half in pinyin (`淘bao`), rivals' live apps (快手,
/// 点淘), 旺旺 and 钉钉 as contacts; beside lines where the same names are snacks,
/// recipes, office tools or plain talk (旺旺雪饼, 快手菜, 钉钉打卡, 转转身): the
/// platform group's data (docs/QUALITY.md, round 5). The dev half was tuned on; the
/// test half was written with it, held out, and scored once.
#[test]
fn platforms_are_read_however_they_are_spelled_without_flagging_their_everyday_senses() {
    let dev = score(include_str!("fixtures/chat-platforms-dev.jsonl"));
    assert_floors(
        &dev,
        &[
            ("c4-initials", 0.5),
            ("c5-codeword", 0.71),
            ("c6-tricks", 0.87),
        ],
        0.0,
        0,
    );
    let test = score(include_str!("fixtures/chat-platforms-test.jsonl"));
    assert_floors(
        &test,
        &[
            ("c4-initials", 0.5),
            ("c5-codeword", 0.87),
            ("c6-tricks", 0.85),
        ],
        0.0,
        0,
    );
}

/// Codewords offered covertly (叶子, 冰 and 🍃 with 懂的来 or 有需要的私我), drugs sold
/// without a prescription, viewers sending buyers to buy on another platform, and
/// efficacy told as a condition, a use and an outcome (喝上三个月 蹭蹭往上长, 血糖还往下降);
/// beside the same words in their everyday senses (冰饮, 茶壶, 叶子都黄了, 懂的都懂, a
/// complaint that a tea did nothing, a viewer's own purchase elsewhere): the data of
/// round 6 (docs/QUALITY.md). The dev half was tuned on; the test half was written
/// with it, held out, and scored once.
#[test]
fn codewords_offered_covertly_are_found_without_flagging_their_everyday_senses() {
    let dev = score(include_str!("fixtures/chat-codes-dev.jsonl"));
    assert_floors(&dev, &[("c5-codeword", 1.0)], 0.0, 0);
    let test = score(include_str!("fixtures/chat-codes-test.jsonl"));
    assert_floors(&test, &[("c5-codeword", 0.8)], 0.0, 0);
}

/// Pinyin initials and half-abbreviated words across all six categories (`刷rq`,
/// `纯tr`, `私l我`, `xy手镯`, `是个pz`, `sjdy`, `血糖zy`), beside ordinary chat full of
/// letters (yyds, XL, sd卡, zl不错 for 质量, a platform named in passing) and viewers
/// asking what an abbreviation means: the data of round 7 (docs/QUALITY.md), written by
/// a writer who read neither the engine nor the lexicon. The dev half was tuned on; the
/// test half was held out and scored once (22 of 30, one question blocked), then its
/// misses were worked on like any seen data: the floors keep what is reached now.
#[test]
fn initials_and_half_abbreviated_words_are_read_without_flagging_chat_full_of_letters() {
    let dev = score(include_str!("fixtures/chat-initials-dev.jsonl"));
    assert_floors(&dev, &[("c4-initials", 0.9)], 0.042, 0);
    let test = score(include_str!("fixtures/chat-initials-test.jsonl"));
    assert_floors(&test, &[("c4-initials", 0.93)], 0.0, 0);
}

/// Round 8: the same kinds as round 7, by another writer who read neither the engine,
/// the lexicon nor round 7's lines. The test half was scored once with the engine as
/// round 7 left it (26 of 36; the engine before round 7 read 25), before any change
/// of round 8, with one ordinary line flagged; the dev half was then tuned on (30 → 32
/// of 36, its one blocked ordinary line, a host passing on a viewer's question,
/// allowed), which left the test half at 26 and cleared its flagged line.
#[test]
fn initials_by_a_second_writer_keep_what_was_reached() {
    let dev = score(include_str!("fixtures/chat-initials2-dev.jsonl"));
    assert_floors(&dev, &[("c4-initials", 0.88)], 0.0, 0);
    let test = score(include_str!("fixtures/chat-initials2-test.jsonl"));
    assert_floors(&test, &[("c4-initials", 0.72)], 0.0, 0);
}
