//! Arbitrary UTF-8 through the matcher and the engine, with the embedded lexicon.
//!
//! The input is scanned whole as one segment (for every role), and split at NUL into
//! up to 16 events sent one after another by one chat user and as one room's
//! transcript segments, so that windows join them. Asserts:
//! - `Matcher::scan`: every `RawHit` is a non-empty range of normalized characters
//!   ending in the current segment, names an existing entry, hits are ordered by
//!   position, and map back to a range of char boundaries of the input;
//! - `Engine::process`: every hit's `start..end` is a non-empty range of char
//!   boundaries of the event's text; window ids are earlier events of the same
//!   sender, oldest first; `masked` is present exactly for `mask` decisions and keeps
//!   the character count; `normalized` is present exactly when there are hits;
//! - without windows, the engine reports exactly the spans the matcher found.
//!
//! Windows and strike logs are keyed by fixed names, and every input runs at its own
//! time far from the previous one and is swept after, so inputs do not interact.

#![no_main]

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use liveguard::engine::{Engine, EngineConfig, Outcome, Ruleset, Scratch};
use liveguard::event::{Decision, Event, EventKind, Role};
use liveguard::matcher::{self, Matcher, RawHit};
use liveguard::normalize::NormText;

const MAX_PIECES: usize = 16;
/// Far beyond every window and escalation period.
const EPOCH_MS: u64 = 1 << 40;

struct State {
    windowed: Engine,
    alone: Engine,
    clock: AtomicU64,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut no_windows = EngineConfig::default();
        no_windows.windows.chat.events = 0;
        no_windows.windows.transcript.events = 0;
        State {
            windowed: Engine::new(Ruleset::embedded(), EngineConfig::default()),
            alone: Engine::new(Ruleset::embedded(), no_windows),
            clock: AtomicU64::new(1),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let st = state();
    let s = String::from_utf8_lossy(data);
    let s: &str = &s;
    let rules = st.alone.rules();
    let m = &rules.matcher;
    let mut ms = matcher::Scratch::default();
    let mut es = Scratch::default();

    // The whole input, one segment, every role.
    let t = NormText::normalized(s);
    let mut viewer_spans = Vec::new();
    for role in Role::ALL {
        let mut hits = Vec::new();
        m.scan(&t, 0, role, &mut ms, &mut hits);
        check_raw(m, &t, 0, &hits);
        for h in &hits {
            let (a, z) = t.source_span(h.start..h.end);
            assert!(a < z && z <= s.len(), "span {a}..{z} of {} bytes", s.len());
            assert!(s.is_char_boundary(a) && s.is_char_boundary(z));
            if role == Role::Viewer {
                viewer_spans.push((a, z));
            }
        }
    }
    let now = st.clock.fetch_add(1, Ordering::Relaxed) * EPOCH_MS;
    let ev = event(EventKind::Chat, "e0", s, now);
    let out = st.alone.process(&ev, now, &mut es);
    check_outcome(&ev, &out, &[]);
    let spans: Vec<(usize, usize)> = out.hits.iter().map(|h| (h.start, h.end)).collect();
    assert_eq!(spans, viewer_spans, "engine and matcher disagree on {s:?}");

    // Pieces: one multi-segment text, and events through the windows.
    let pieces: Vec<&str> = s.split('\0').take(MAX_PIECES).collect();
    if pieces.len() > 1 {
        let mut t = NormText::new();
        for p in &pieces {
            t.push_segment(p);
        }
        let current = pieces.len() - 1;
        let mut hits = Vec::new();
        m.scan(&t, current, Role::Host, &mut ms, &mut hits);
        check_raw(m, &t, current, &hits);
    }
    let ids: Vec<String> = (0..pieces.len()).map(|i| format!("e{i}")).collect();
    for kind in [EventKind::Chat, EventKind::Transcript] {
        for (i, p) in pieces.iter().enumerate() {
            let ev = event(kind, &ids[i], p, now + i as u64 * 1000);
            let out = st.windowed.process(&ev, now, &mut es);
            check_outcome(&ev, &out, &ids[..i]);
        }
    }
    st.windowed.sweep(now + EPOCH_MS / 2);
    st.alone.sweep(now + EPOCH_MS / 2);
});

fn event<'a>(kind: EventKind, id: &'a str, text: &'a str, ts: u64) -> Event<'a> {
    Event {
        kind,
        id: Cow::Borrowed(id),
        room: Cow::Borrowed("r"),
        user: Some(Cow::Borrowed("u")),
        role: match kind {
            EventKind::Chat => Role::Viewer,
            EventKind::Transcript => Role::Host,
            EventKind::Listing | EventKind::Sale => Role::Operator,
        },
        ts: Some(ts),
        text: Cow::Borrowed(text),
        is_final: true,
        pricing: None,
    }
}

fn check_raw(m: &Matcher, t: &NormText, current: usize, hits: &[RawHit]) {
    let n = t.chars().len();
    let entries = m.stats().entries;
    for h in hits {
        assert!(h.start < h.end && h.end <= n, "hit {h:?} of {n} characters");
        assert!((h.entry as usize) < entries);
        assert_eq!(
            t.chars()[h.end - 1].seg as usize,
            current,
            "hit {h:?} ends early"
        );
    }
    assert!(
        hits.windows(2).all(|w| w[0].start <= w[1].start),
        "unordered {hits:?}"
    );
}

fn check_outcome(ev: &Event<'_>, out: &Outcome, earlier: &[String]) {
    let text: &str = &ev.text;
    for h in &out.hits {
        let (a, z) = (h.start, h.end);
        assert!(
            a < z && z <= text.len(),
            "hit {a}..{z} of {} bytes",
            text.len()
        );
        assert!(text.is_char_boundary(a) && text.is_char_boundary(z));
        let mut at = 0;
        for part in &h.window {
            let id = &part.id;
            let i = earlier[at..]
                .iter()
                .position(|e| e == id)
                .unwrap_or_else(|| panic!("window id {id} not among {earlier:?}"));
            at += i + 1;
            assert!(!part.matched.is_empty(), "a fragment holds part of the term");
        }
    }
    assert_eq!(out.masked.is_some(), out.decision == Decision::Mask);
    if let Some(masked) = &out.masked {
        assert_eq!(masked.chars().count(), text.chars().count());
    }
    assert_eq!(out.normalized.is_some(), !out.hits.is_empty());
    if out.hits.is_empty() {
        assert_eq!(out.decision, Decision::Allow);
    }
}
