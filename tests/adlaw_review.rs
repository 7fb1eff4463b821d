//! Lexicon breadth against the ad-law term lists sellers check their copy against.
//!
//! `docs/adlaw-review/*.tsv` records a reviewed decision for every term of four public
//! versions of the "新广告法违禁词 / 疑似医疗用语" list (docs/adlaw-review/README.md):
//!
//! - `flag`: a violation in a host's mouth; both sentences must be flagged (decision not
//!   `allow`, a hit of the row's category);
//! - `review`: lawful when true (独家, 老字号); both sentences must be held for a
//!   moderator (decision `hold`, a hit of the row's category);
//! - `context`: a violation only in some sentences; sentence A must be flagged and
//!   sentence B, the everyday use, allowed;
//! - `reject`: over-reach by the lists or outside the six categories, with the reason.
//!
//! Each sentence is said by a host in a room of its own, so no window joins two rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use liveguard::engine::{Engine, EngineConfig, Ruleset};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Decision {
    Flag,
    Review,
    Context,
    Reject,
}

#[derive(Debug)]
struct Row {
    at: String,
    term: String,
    class: String,
    decision: Decision,
    category: String,
    sentence_a: String,
    sentence_b: String,
    note: String,
}

fn review_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/adlaw-review")
}

fn rows() -> Vec<Row> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(review_dir())
        .expect("docs/adlaw-review exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no review files");
    let mut rows = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("term\tclass\tdecision\tcategory\tsentence_a\tsentence_b\tnote"),
            "{name}: header"
        );
        for (n, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 7, "{name}:{}: seven tab-separated fields", n + 2);
            let decision = match f[2] {
                "flag" => Decision::Flag,
                "review" => Decision::Review,
                "context" => Decision::Context,
                "reject" => Decision::Reject,
                other => panic!("{name}:{}: unknown decision {other:?}", n + 2),
            };
            rows.push(Row {
                at: format!("{name}:{}", n + 2),
                term: f[0].to_owned(),
                class: f[1].to_owned(),
                decision,
                category: f[3].to_owned(),
                sentence_a: f[4].to_owned(),
                sentence_b: f[5].to_owned(),
                note: f[6].to_owned(),
            });
        }
    }
    rows
}

/// The verdict of each sentence, said by a host in a room of its own.
fn judge(sentences: &[&str]) -> Vec<Value> {
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let input: String = sentences
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let event = json!({
                "kind": "transcript", "id": format!("s{i}"), "room": format!("r{i}"),
                "ts": 1_780_000_000_000u64, "text": text, "speaker": "host",
            });
            format!("{event}\n")
        })
        .collect();
    let mut out = Vec::new();
    let summary = liveguard::scan::scan(&engine, input.as_bytes(), &mut out, || 0).unwrap();
    assert_eq!(summary.errors, 0);
    let mut verdicts: BTreeMap<usize, Value> = BTreeMap::new();
    for line in String::from_utf8(out).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["kind"] == "verdict" {
            let i = v["id"].as_str().unwrap()[1..].parse().unwrap();
            verdicts.insert(i, v);
        }
    }
    assert_eq!(verdicts.len(), sentences.len());
    verdicts.into_values().collect()
}

fn has_category(v: &Value, category: &str) -> bool {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["category"] == category)
}

fn describe(v: &Value) -> String {
    let hits: Vec<String> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("{}/{}/{}", h["rule"], h["category"], h["severity"]))
        .collect();
    format!("{} {}", v["decision"], hits.join(" "))
}

#[test]
fn every_term_of_the_lists_is_reviewed_once_with_its_evidence() {
    let rows = rows();
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for r in &rows {
        if !seen.insert(r.term.as_str()) {
            problems.push(format!("{}: {} reviewed twice", r.at, r.term));
        }
        match r.decision {
            Decision::Reject if r.note.trim().is_empty() => {
                problems.push(format!("{}: {} rejected without a reason", r.at, r.term));
            }
            Decision::Reject => {}
            _ => {
                if r.sentence_a.is_empty() || r.sentence_b.is_empty() || r.category.is_empty() {
                    problems.push(format!(
                        "{}: {} needs two sentences and a category",
                        r.at, r.term
                    ));
                }
                if r.sentence_a == r.sentence_b {
                    problems.push(format!("{}: {} says the same sentence twice", r.at, r.term));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The four lists hold 660 distinct terms.
    assert_eq!(rows.len(), 660, "every term of the lists has a row");
}

#[test]
fn each_reviewed_term_is_judged_as_its_row_says() {
    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| r.decision != Decision::Reject)
        .collect();
    let sentences: Vec<&str> = rows
        .iter()
        .flat_map(|r| [r.sentence_a.as_str(), r.sentence_b.as_str()])
        .collect();
    let verdicts = judge(&sentences);
    let mut failures = Vec::new();
    for (r, v) in rows.iter().zip(verdicts.chunks(2)) {
        let flagged = |v: &Value| v["decision"] != "allow" && has_category(v, &r.category);
        let held = |v: &Value| v["decision"] == "hold" && has_category(v, &r.category);
        let (a_ok, b_ok) = match r.decision {
            Decision::Flag => (flagged(&v[0]), flagged(&v[1])),
            Decision::Review => (held(&v[0]), held(&v[1])),
            Decision::Context => (flagged(&v[0]), v[1]["decision"] == "allow"),
            Decision::Reject => unreachable!(),
        };
        for (ok, sentence, verdict) in [(a_ok, &r.sentence_a, &v[0]), (b_ok, &r.sentence_b, &v[1])]
        {
            if !ok {
                failures.push(format!(
                    "{} {} [{:?} {}] {sentence} -> {}",
                    r.at,
                    r.term,
                    r.decision,
                    r.category,
                    describe(verdict)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} sentences judged against their row:\n{}",
        failures.len(),
        sentences.len(),
        failures.join("\n")
    );
}

/// The measure of the issue: each term said in a few bland host sentences that add
/// nothing of their own. Terms reviewed as context-dependent need their context and are
/// not expected to react here; the share counts them as not reacting.
#[test]
fn most_terms_react_in_bland_host_sentences() {
    const BLAND: [&str; 3] = [
        "家人们，我们家这款产品{}，今天直播间给大家上链接",
        "{}，大家可以看一下",
        "我跟你们说，{}，这个真的是",
    ];
    let rows: Vec<Row> = rows().into_iter().filter(|r| r.class != "other").collect();
    let sentences: Vec<String> = rows
        .iter()
        .flat_map(|r| BLAND.iter().map(|t| t.replace("{}", &r.term)))
        .collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let verdicts = judge(&refs);
    let mut reacting = 0;
    let mut by_decision: BTreeMap<Decision, (usize, usize)> = BTreeMap::new();
    for (r, v) in rows.iter().zip(verdicts.chunks(BLAND.len())) {
        let reacts = v.iter().filter(|v| v["decision"] != "allow").count() >= 2;
        reacting += usize::from(reacts);
        let d = by_decision.entry(r.decision).or_default();
        d.0 += usize::from(reacts);
        d.1 += 1;
    }
    let share = reacting as f64 / rows.len() as f64;
    eprintln!(
        "bland sentences: {reacting} of {} terms react ({share:.3}); by decision {by_decision:?}",
        rows.len()
    );
    // Flagged and review terms react wherever they are said.
    let (flag_react, flag_total) = by_decision
        .get(&Decision::Flag)
        .copied()
        .unwrap_or_default();
    assert!(
        flag_react as f64 >= 0.95 * flag_total as f64,
        "flag terms reacting in bland sentences: {flag_react} of {flag_total}"
    );
    assert!(
        share >= FLOOR_BLAND_SHARE,
        "share {share:.3} below {FLOOR_BLAND_SHARE}"
    );
}

/// The share of non-"other" terms that react in bland sentences when this floor was
/// last raised (docs/QUALITY.md).
const FLOOR_BLAND_SHARE: f64 = 0.86;
