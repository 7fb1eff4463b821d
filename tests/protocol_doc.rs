//! docs/PROTOCOL.md cannot drift from the code: every JSON example in it parses, and
//! each is checked against what the code reads or writes for that kind of frame.
//! Events parse with the ingest parser; verdicts, actions and alerts have exactly the
//! shape (the same keys, recursively) of the frames the engine produces for the doc's
//! own example events; reviews, review acks, notices and moderator errors round-trip
//! through their wire types byte for byte (as JSON values).

use std::collections::{BTreeMap, BTreeSet};

use liveguard::engine::{Engine, EngineConfig, Ruleset, Scratch};
use liveguard::event::parse_event;
use liveguard::wire::{ModeratorFrame, ModeratorReply, ReviewFields, feed_frame};
use serde_json::Value;

const PROTOCOL: &str = include_str!("../docs/PROTOCOL.md");

/// The doc's listing and sale examples, one a line, in doc order.
static PRICED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    examples()
        .into_iter()
        .filter(|e| e.starts_with(r#"{"kind":"listing""#) || e.starts_with(r#"{"kind":"sale""#))
        .collect::<Vec<_>>()
        .join("\n")
});

/// The JSON objects of the doc: every object of its ```json blocks (which may span
/// lines), and every inline `{"kind":…}` example.
fn examples() -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = PROTOCOL;
    while let Some(start) = rest.find("```json\n") {
        let block = &rest[start + 8..];
        let end = block.find("```").expect("a closed block");
        out.extend(objects(&block[..end]));
        rest = &block[end + 3..];
    }
    for inline in PROTOCOL.split('`').skip(1).step_by(2) {
        if inline.starts_with("{\"kind\":") && !inline.contains('…') {
            out.push(inline.to_owned());
        }
    }
    out
}

/// Split text into top-level JSON objects by brace balance, outside strings.
fn objects(text: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut in_str, mut escaped) =
        (Vec::new(), String::new(), 0usize, false, false);
    for c in text.chars() {
        if depth > 0 || c == '{' {
            cur.push(c);
        }
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '{' if !in_str => depth += 1,
            '}' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => {}
        }
    }
    out
}

/// The keys of a value, recursively: objects by key, arrays by the union of their
/// elements' shapes.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Leaf,
    Object(BTreeMap<String, Shape>),
    Array(Box<Shape>),
}

fn shape(v: &Value) -> Shape {
    match v {
        Value::Object(m) => Shape::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Shape::Array(Box::new(
            a.iter().map(shape).reduce(merge).unwrap_or(Shape::Leaf),
        )),
        _ => Shape::Leaf,
    }
}

fn merge(a: Shape, b: Shape) -> Shape {
    match (a, b) {
        (Shape::Object(mut x), Shape::Object(y)) => {
            for (k, v) in y {
                let merged = match x.remove(&k) {
                    Some(old) => merge(old, v),
                    None => v,
                };
                x.insert(k, merged);
            }
            Shape::Object(x)
        }
        (Shape::Array(x), Shape::Array(y)) => Shape::Array(Box::new(merge(*x, *y))),
        (a, _) => a,
    }
}

/// What the engine answers for the doc's example event `id`, as JSON values: the
/// verdict, its actions, and the alert the feed would publish with `seq`. The doc's
/// listings and sales of the event's room that come before it are judged first: they
/// are its price history.
fn judged(events: &BTreeMap<String, String>, id: &str, seq: u64) -> (Value, Vec<Value>, Value) {
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let line = &events[id];
    let room = serde_json::from_str::<Value>(line).unwrap()["room"].clone();
    for earlier in PRICED
        .lines()
        .take_while(|l| !l.contains(&format!("\"id\":\"{id}\"")))
    {
        let ev = parse_event(earlier).unwrap();
        if ev.room == room.as_str().unwrap_or_default() {
            engine.process(&ev, 0, &mut Scratch::default());
        }
    }
    let ev = parse_event(line).expect("the doc's event parses");
    let outcome = engine.process(&ev, 0, &mut Scratch::default());
    let verdict = serde_json::to_value(outcome.verdict(&ev)).unwrap();
    let actions = outcome
        .actions
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    let mut record = liveguard::evidence::alert_record(&ev, &outcome);
    record.seq = seq;
    let alert = serde_json::from_str(&feed_frame("alert", seq, true, &record.body)).unwrap();
    (verdict, actions, alert)
}

#[test]
fn every_example_in_the_protocol_doc_is_what_the_code_reads_or_writes() {
    let examples = examples();
    assert!(examples.len() >= 10, "found {} examples", examples.len());
    let values: Vec<Value> = examples
        .iter()
        .map(|e| serde_json::from_str(e).unwrap_or_else(|err| panic!("{err}: {e}")))
        .collect();

    // The doc's events, by id (alerts carry theirs inside).
    let mut events: BTreeMap<String, String> = BTreeMap::new();
    for (text, v) in examples.iter().zip(&values) {
        if ["chat", "transcript", "listing", "sale"].contains(&v["kind"].as_str().unwrap_or("")) {
            parse_event(text).unwrap_or_else(|e| panic!("{e:?}: {text}"));
            events.insert(v["id"].as_str().unwrap().to_owned(), text.clone());
        }
        if v["kind"] == "alert" {
            let mut ev = v["event"].clone();
            ev["room"] = v["room"].clone();
            events.insert(ev["id"].as_str().unwrap().to_owned(), ev.to_string());
        }
    }

    let mut checked = BTreeSet::new();
    for (text, v) in examples.iter().zip(&values) {
        let kind = v["kind"].as_str().expect("every example has a kind");
        match kind {
            "chat" | "transcript" | "listing" | "sale" => {}
            "verdict" => {
                let (real, _, _) = judged(&events, v["id"].as_str().unwrap(), 0);
                assert_eq!(
                    shape(v),
                    shape(&real),
                    "verdict example: {text}\nreal: {real}"
                );
            }
            "action" => {
                // The triggering event is the last of the evidence (oldest first).
                let event = v["evidence"].as_array().unwrap().last().unwrap();
                let event = event.as_str().unwrap();
                let (_, actions, _) = judged(&events, event, 0);
                let real = actions
                    .iter()
                    .find(|a| a["type"] == v["type"])
                    .expect("the engine takes the doc's action");
                assert_eq!(
                    shape(v),
                    shape(real),
                    "action example: {text}\nreal: {real}"
                );
            }
            "alert" => {
                let id = v["event"]["id"].as_str().unwrap();
                let (_, _, real) = judged(&events, id, v["seq"].as_u64().unwrap());
                assert_eq!(
                    shape(v),
                    shape(&real),
                    "alert example: {text}\nreal: {real}"
                );
            }
            "review" if v.get("ref").is_some() => {
                let fields: ReviewFields<'_> = serde_json::from_str(text).unwrap();
                let written = match v["seq"].as_u64() {
                    Some(seq) => feed_frame("review", seq, true, &fields.body()),
                    None => fields.platform_frame(),
                };
                let written: Value = serde_json::from_str(&written).unwrap();
                assert_eq!(&written, v, "review record example: {text}");
            }
            "review" => {
                let frame: ModeratorFrame = serde_json::from_value(v.clone()).unwrap();
                assert!(frame.seq.is_some() && frame.decision.is_some(), "{text}");
            }
            "error" if v.get("code").is_some() => {
                let keys: BTreeSet<&str> =
                    v.as_object().unwrap().keys().map(String::as_str).collect();
                let known = BTreeSet::from(["kind", "line", "index", "id", "code", "reason"]);
                assert!(keys.is_subset(&known), "error frame example: {text}");
                let code = v["code"].as_str().unwrap();
                assert!(
                    liveguard::event::ErrorCode::parse(code).is_some(),
                    "code {code}"
                );
            }
            "review_ack" | "error" | "notice" => {
                let reply: ModeratorReply = serde_json::from_value(v.clone()).unwrap();
                assert_eq!(&serde_json::to_value(&reply).unwrap(), v, "{text}");
            }
            other => panic!("an example of an unknown kind `{other}`: {text}"),
        }
        checked.insert(kind.to_owned());
    }
    for kind in [
        "chat",
        "transcript",
        "listing",
        "sale",
        "verdict",
        "action",
        "error",
        "alert",
        "review",
        "review_ack",
    ] {
        assert!(checked.contains(kind), "the doc shows no `{kind}` frame");
    }
}
