//! Criterion benches of the hot path, each group with its baseline measured in the same
//! run: raw Aho-Corasick over the un-normalized messages (the lexicon's literal terms,
//! no normalization, no checks) against normalize, match, policy and the whole
//! pipeline. The server end to end (WebSocket in and out) is `benches/server.rs`.
//!
//! Run: `cargo bench --bench pipeline`. Figures and how to read them: docs/PERFORMANCE.md.

use std::hint::black_box;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liveguard::channel::Via;
use liveguard::dispatch::{Dispatcher, Judged};
use liveguard::engine::{Engine, EngineConfig, Ruleset, Scratch};
use liveguard::event::{Decision, parse_event};
use liveguard::lexicon::{Lexicon, Matching};
use liveguard::matcher::{self, AutomatonKind, BuildOptions, Matcher};
use liveguard::normalize::NormText;
use liveguard::policy::HitContext;
use liveguard::sample::{ChatPool, Mix, Rng};

/// 1,000 chat messages: the default mix (3% violations) without transcripts, from the
/// classic pool (the figures of docs/PERFORMANCE.md were all measured on it).
fn messages() -> Vec<&'static str> {
    let mix = Mix {
        violation_pct: 3,
        transcript_pct: 0,
        pool: ChatPool::Classic,
    };
    let mut rng = Rng::new(7);
    (0..1000).map(|_| mix.draw(&mut rng).text).collect()
}

fn raw_terms(lexicon: &Lexicon) -> Vec<String> {
    lexicon
        .entries
        .iter()
        .filter_map(|e| match &e.matching {
            Matching::Terms { term, variants, .. } => Some(std::iter::once(term).chain(variants)),
            Matching::Pattern { .. } => None,
        })
        .flatten()
        .filter(|t| !t.contains('{'))
        .cloned()
        .collect()
}

/// Scan every text with `m`, as a viewer's message, in one criterion function.
fn bench_matcher(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    m: &Matcher,
    texts: &[NormText],
) {
    let mut scratch = matcher::Scratch::default();
    let mut out = Vec::new();
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut n = 0;
            for t in texts {
                out.clear();
                m.scan(
                    black_box(t),
                    0,
                    liveguard::event::Role::Viewer,
                    &mut scratch,
                    &mut out,
                );
                n += out.len();
            }
            n
        })
    });
}

fn bench(c: &mut Criterion) {
    let msgs = messages();
    let bytes: usize = msgs.iter().map(|m| m.len()).sum();
    eprintln!(
        "{} messages, {:.1} bytes on average",
        msgs.len(),
        bytes as f64 / msgs.len() as f64
    );
    let lexicon = Lexicon::embedded();
    let terms = raw_terms(&lexicon);

    let mut g = c.benchmark_group("liveguard");
    g.throughput(Throughput::Elements(msgs.len() as u64));

    // Baseline: a plain DFA over the raw terms and raw messages, overlapping matches.
    let raw = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&terms)
        .unwrap();
    g.bench_function("baseline_raw_aho_corasick", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &msgs {
                n += raw.find_overlapping_iter(black_box(*m)).count();
            }
            n
        })
    });

    let mut nt = NormText::new();
    g.bench_function("normalize", |b| {
        b.iter(|| {
            let mut n = 0;
            for m in &msgs {
                nt.clear();
                nt.push_segment(black_box(m));
                n += nt.chars().len();
            }
            n
        })
    });

    let normalized: Vec<NormText> = msgs.iter().map(|m| NormText::normalized(m)).collect();
    for (name, kind) in [
        ("match_double_array", AutomatonKind::DoubleArray),
        ("match_dfa", AutomatonKind::Dfa),
        ("match_contiguous_nfa", AutomatonKind::ContiguousNfa),
    ] {
        let m = Matcher::build_with(
            &lexicon,
            BuildOptions {
                kind,
                pinyin_kind: None,
            },
        )
        .unwrap();
        bench_matcher(&mut g, name, &m, &normalized);
    }

    // The cost of each weak match channel: the same matcher with every weak channel off,
    // then with one channel on at a time, then all (the default), over the same texts.
    let channel_cases: [(&str, &[Via]); 5] = [
        ("match_channels_none", &[]),
        ("match_channel_initials", &[Via::Initials]),
        ("match_channel_lookalike", &[Via::Lookalike]),
        ("match_channel_homophone", &[Via::Homophone]),
        (
            "match_channels_all",
            &[Via::Initials, Via::Lookalike, Via::Emoji, Via::Homophone],
        ),
    ];
    for (name, on) in channel_cases {
        let mut lex = lexicon.clone();
        for e in &mut lex.entries {
            for via in [Via::Initials, Via::Lookalike, Via::Emoji, Via::Homophone] {
                e.channels = e.channels.with(via, on.contains(&via));
            }
        }
        let m = Matcher::build(&lex).unwrap();
        bench_matcher(&mut g, name, &m, &normalized);
    }

    // The whole pipeline per event: normalize + window + match + policy. Every message
    // comes from a different user of one room, as in a busy room. In
    // `pipeline_fresh_senders` each message is its sender's first in the window; in
    // `pipeline_live_windows` every sender spoke a moment ago, so the window's tail is
    // replayed and matched with each message (the worst case).
    let events: Vec<String> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({"kind":"chat","id":format!("e{i}"),"room":"r","user":format!("u{i}"),"ts":1_767_750_000_000u64 + i as u64,"text":m}).to_string()
        })
        .collect();
    let parsed: Vec<_> = events.iter().map(|l| parse_event(l).unwrap()).collect();
    let mut scratch = Scratch::default();
    // Without `ts` the engine uses the clock it is given: a minute per round, so the
    // previous round's messages have aged out of every window.
    let untimed: Vec<_> = parsed
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.ts = None;
            e
        })
        .collect();
    // normalize + match + policy, without the per-sender windows.
    let mut no_windows = EngineConfig::default();
    no_windows.windows.chat.events = 0;
    let engine = Engine::new(Ruleset::embedded(), no_windows);
    g.bench_function("pipeline_without_windows", |b| {
        b.iter(|| {
            let mut n = 0;
            for ev in &parsed {
                n += engine.process(black_box(ev), 0, &mut scratch).hits.len();
            }
            n
        })
    });
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    let mut clock = 0u64;
    g.bench_function("pipeline_fresh_senders", |b| {
        b.iter(|| {
            clock += 60_000;
            let mut n = 0;
            for ev in &untimed {
                n += engine
                    .process(black_box(ev), clock, &mut scratch)
                    .hits
                    .len();
            }
            n
        })
    });
    // The same with the coordinated danmaku detector off: its cost is the difference
    // (every message here is a viewer's, in one busy room).
    let mut no_bursts = EngineConfig::default();
    no_bursts.burst.enabled = false;
    let engine = Engine::new(Ruleset::embedded(), no_bursts);
    g.bench_function("pipeline_live_windows_no_burst_detector", |b| {
        b.iter(|| {
            let mut n = 0;
            for ev in &parsed {
                n += engine.process(black_box(ev), 0, &mut scratch).hits.len();
            }
            n
        })
    });
    let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
    g.bench_function("pipeline_live_windows", |b| {
        b.iter(|| {
            let mut n = 0;
            for ev in &parsed {
                n += engine.process(black_box(ev), 0, &mut scratch).hits.len();
            }
            n
        })
    });

    // Policy alone: for every message, the decision of each of its hits (the table of
    // policy.toml) and the dispatcher's ladder (strike logs, actions). The hits come
    // from a judged run; events are the same every round, so the dispatcher
    // recognises them as retries and the strike logs stay the same size.
    let rules = Ruleset::embedded();
    let judged: Vec<_> = parsed
        .iter()
        .map(|ev| engine.process(ev, 0, &mut scratch))
        .collect();
    let dispatcher = Dispatcher::new();
    g.bench_function("policy_decide_and_dispatch", |b| {
        b.iter(|| {
            let mut n = 0;
            for (ev, outcome) in parsed.iter().zip(&judged) {
                let mut decision = Decision::Allow;
                for h in &outcome.hits {
                    decision = decision.max(rules.policy.decide(HitContext {
                        category: h.category,
                        severity: h.severity,
                        role: ev.role,
                        kind: ev.kind,
                        tier: outcome.tier,
                        via: h.via,
                        context: h.context,
                        // The cost of the table walk is the same either way.
                        review: false,
                    }));
                }
                let actions = dispatcher.dispatch(
                    Judged {
                        event: black_box(ev),
                        ts: outcome.ts,
                        decision,
                        hits: &outcome.hits,
                        tier: outcome.tier,
                        lexicon: &outcome.lexicon,
                    },
                    rules.policy.ladder(),
                );
                n += actions.len() + decision as usize;
            }
            n
        })
    });

    // ... and with the JSON around it: parse the line, judge, write the verdict.
    let mut buf = Vec::with_capacity(512);
    g.bench_function("pipeline_with_json", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in &events {
                let ev = parse_event(black_box(line)).unwrap();
                let o = engine.process(&ev, 0, &mut scratch);
                buf.clear();
                serde_json::to_writer(&mut buf, &o.verdict(&ev)).unwrap();
                n += buf.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().noise_threshold(0.05);
    targets = bench
}
criterion_main!(benches);
