//! Windows across events: the recent past the matcher sees along with each event.
//!
//! Evaders split a term over several messages (`处`, `方`, `药`), and ASR splits the
//! host's words at segment boundaries (`…独一` / `无二的…`). For each chat user in a room,
//! and for each room's transcript, a [`Windows`] keeps a short tail of the last events'
//! normalized text, bounded in events, characters and age. The matcher scans the tail
//! and the new event as one text, and reports only hits that end in the new event: the
//! earlier parts were judged (and allowed) when they arrived.
//!
//! Only the characters that could still complete a term are kept (at most the longest
//! term minus one), in buffers reused from event to event, so the hot path does not
//! allocate and an idle user costs a couple of hundred bytes until
//! [`Windows::sweep`] reclaims it.

use std::collections::VecDeque;
use std::hash::{BuildHasher, BuildHasherDefault, RandomState};

use std::ops::Range;

use dashmap::DashMap;
use serde::Deserialize;

use crate::event::{Event, EventKind};
use crate::hash::{KeyHash, KeyHasher};
use crate::normalize::{MAX_SEGMENTS, NormText};

/// Bounds of one kind of window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowLimits {
    /// Most earlier events kept (0 turns the window off).
    pub events: usize,
    /// Most normalized characters kept, over all earlier events.
    pub chars: usize,
    /// Earlier events older than this (by event time) are forgotten.
    pub max_age_ms: u64,
}

/// Window bounds for chat (per room and user) and transcripts (per room).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowConfig {
    /// Per (room, user) chat windows.
    pub chat: WindowLimits,
    /// Per room transcript windows.
    pub transcript: WindowLimits,
}

impl Default for WindowConfig {
    fn default() -> WindowConfig {
        WindowConfig {
            // A term typed one character per message, a few seconds apart at most;
            // eight characters of history complete every term of up to nine.
            chat: WindowLimits {
                events: 8,
                chars: 8,
                max_age_ms: 30_000,
            },
            // ASR segments are longer and arrive back to back.
            transcript: WindowLimits {
                events: 3,
                chars: 16,
                max_age_ms: 20_000,
            },
        }
    }
}

/// One earlier event of a tail: its id (in [`Tail::ids`]), time and kept characters.
#[derive(Debug)]
struct Part {
    id_len: u16,
    ts: u64,
    chars: usize,
}

/// The kept history of one window. `text` holds one segment per part.
#[derive(Debug, Default)]
struct Tail {
    text: NormText,
    ids: String,
    parts: VecDeque<Part>,
}

impl Tail {
    /// Forget everything, keep the buffers.
    fn clear(&mut self) {
        self.text.clear();
        self.ids.clear();
        self.parts.clear();
    }

    /// Drop the oldest part.
    fn pop_front(&mut self) {
        if let Some(p) = self.parts.pop_front() {
            self.text.drain_front(p.chars);
            self.ids.drain(..usize::from(p.id_len));
        }
    }

    /// Drop the oldest parts until at most `events` parts and `chars` characters remain
    /// (the oldest part kept may lose its first characters).
    fn trim(&mut self, events: usize, chars: usize) {
        while self.parts.len() > events {
            self.pop_front();
        }
        let mut total = self.text.chars().len();
        while total > chars {
            let Some(front) = self.parts.front_mut() else {
                break;
            };
            let excess = total - chars;
            if excess >= front.chars {
                total -= front.chars;
                self.pop_front();
            } else {
                front.chars -= excess;
                self.text.drain_front(excess);
                total -= excess;
            }
        }
    }
}

/// The tails of every active window. Thread-safe; each event takes one short lock.
#[derive(Debug)]
pub struct Windows {
    config: WindowConfig,
    /// Keyed by the hash of (room, user), seeded at random per process: no allocation
    /// per lookup. Two senders share a window only on a hash collision, which the
    /// random seed keeps out of reach of anyone choosing ids.
    tails: DashMap<u64, Tail, BuildHasherDefault<KeyHasher>>,
    seed: u64,
}

/// The earlier events replayed into a text by [`Window::replay`]: their ids,
/// one per replayed segment, in a reusable buffer.
#[derive(Clone, Debug, Default)]
pub struct SegmentIds {
    text: String,
    ranges: Vec<Range<usize>>,
}

impl SegmentIds {
    /// Forget the ids, keep the buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ranges.clear();
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The id of segment `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.ranges.get(i).map(|r| &self.text[r.clone()])
    }
}

impl Windows {
    /// Empty windows with these bounds.
    pub fn new(config: WindowConfig) -> Windows {
        Windows {
            config,
            tails: DashMap::default(),
            seed: RandomState::new().hash_one(0x6c67_7561_7264u64),
        }
    }

    /// The configured bounds.
    pub fn config(&self) -> WindowConfig {
        self.config
    }

    /// Number of windows currently held (for metrics).
    pub fn len(&self) -> usize {
        self.tails.len()
    }

    /// Whether no window is held.
    pub fn is_empty(&self) -> bool {
        self.tails.is_empty()
    }

    fn key(&self, ev: &Event<'_>) -> Option<u64> {
        let h = KeyHash::new(self.seed);
        Some(match ev.kind {
            // Without a user there is no one to follow: no window.
            EventKind::Chat => h
                .write(ev.room.as_bytes())
                .write(ev.user.as_deref()?.as_bytes())
                .finish(),
            EventKind::Transcript => h.write(ev.room.as_bytes()).write(b"\0transcript").finish(),
        })
    }

    fn limits(&self, kind: EventKind) -> WindowLimits {
        match kind {
            EventKind::Chat => self.config.chat,
            EventKind::Transcript => self.config.transcript,
        }
    }

    /// Open the window of `ev` (at event time `ts`), forgetting what has aged out.
    /// `None` when the event has no window (windows off, or a chat event without a
    /// user). The window stays locked until the returned guard is dropped: replay it,
    /// normalize the event after it, record the event, and drop the guard promptly.
    pub fn open(&self, ev: &Event<'_>, ts: u64, keep_chars: usize) -> Option<Window<'_>> {
        let limits = self.limits(ev.kind);
        let keep = limits.chars.min(keep_chars);
        if limits.events == 0 || keep == 0 {
            return None;
        }
        let key = self.key(ev)?;
        let mut tail = self.tails.entry(key).or_default();
        let oldest = ts.saturating_sub(limits.max_age_ms);
        if tail.parts.back().is_some_and(|p| p.ts < oldest) {
            // All of it aged out (the usual case for a viewer who speaks now and then).
            tail.clear();
        }
        while tail.parts.front().is_some_and(|p| p.ts < oldest) {
            tail.pop_front();
        }
        Some(Window {
            tail,
            limits,
            keep,
            ts,
            // Partial ASR hypotheses are matched with their window but not recorded:
            // the final segment will replace them.
            record: ev.kind == EventKind::Chat || ev.is_final,
        })
    }

    /// Forget windows whose newest event is older than their maximum age at `now_ms`.
    /// Returns how many were removed.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let before = self.tails.len();
        let (chat, transcript) = (self.config.chat, self.config.transcript);
        let max_age = chat.max_age_ms.max(transcript.max_age_ms);
        self.tails.retain(|_, tail| {
            tail.parts
                .back()
                .is_some_and(|p| p.ts.saturating_add(max_age) >= now_ms)
        });
        before - self.tails.len()
    }
}

/// Ids longer than this are cut when kept for evidence in a window.
const MAX_ID_BYTES: usize = 256;

fn truncate_id(id: &str) -> &str {
    if id.len() <= MAX_ID_BYTES {
        return id;
    }
    let mut end = MAX_ID_BYTES;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

/// One open window: the tail of one sender, locked (see [`Windows::open`]).
pub struct Window<'a> {
    tail: dashmap::mapref::one::RefMut<'a, u64, Tail>,
    limits: WindowLimits,
    keep: usize,
    ts: u64,
    record: bool,
}

impl Window<'_> {
    /// Append the earlier events to `out`, one segment each, and their ids to `ids`.
    pub fn replay(&self, out: &mut NormText, ids: &mut SegmentIds) {
        let tail = &*self.tail;
        if tail.parts.is_empty() || out.segments() + tail.parts.len() >= MAX_SEGMENTS {
            return;
        }
        out.extend_from(&tail.text);
        let mut at = 0;
        for p in &tail.parts {
            let start = ids.text.len();
            ids.text.push_str(&tail.ids[at..at + usize::from(p.id_len)]);
            ids.ranges.push(start..ids.text.len());
            at += usize::from(p.id_len);
        }
    }

    /// Record the event `id` whose normalized text is the last segment of `text`
    /// (characters from `first_char` on), keeping only what a term could still need.
    pub fn record(mut self, id: &str, text: &NormText, first_char: usize) {
        let n = text.chars().len();
        if !self.record || first_char >= n {
            return;
        }
        let from = first_char.max(n.saturating_sub(self.keep));
        let tail = &mut *self.tail;
        if n - first_char >= self.keep {
            // The event alone fills the window: nothing older can be kept.
            tail.clear();
        }
        tail.text.push_copy(text, from..n);
        let id = truncate_id(id);
        tail.ids.push_str(id);
        tail.parts.push_back(Part {
            id_len: id.len() as u16,
            ts: self.ts,
            chars: n - from,
        });
        tail.trim(self.limits.events, self.keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_event;

    fn chat(id: &str, user: &str, ts: u64, text: &str) -> Event<'static> {
        parse_event(&format!(
            r#"{{"kind":"chat","id":"{id}","room":"r","user":"{user}","ts":{ts},"text":"{text}"}}"#
        ))
        .unwrap()
        .into_owned()
    }

    fn feed(w: &Windows, ev: &Event<'_>, keep: usize) -> (String, Vec<String>) {
        let mut out = NormText::new();
        let mut ids = SegmentIds::default();
        let window = w.open(ev, ev.ts.unwrap(), keep);
        if let Some(win) = &window {
            win.replay(&mut out, &mut ids);
        }
        assert_eq!(out.segments(), ids.len());
        let first = out.chars().len();
        out.push_segment(&ev.text);
        if let Some(win) = window {
            win.record(&ev.id, &out, first);
        }
        (
            out.as_str().to_owned(),
            (0..ids.len())
                .map(|i| ids.get(i).unwrap().to_owned())
                .collect(),
        )
    }

    fn config(chars: usize) -> WindowConfig {
        let mut c = WindowConfig::default();
        c.chat.chars = chars;
        c
    }

    #[test]
    fn replays_recent_events_of_the_same_user() {
        let w = Windows::new(WindowConfig::default());
        assert_eq!(feed(&w, &chat("1", "u", 1000, "处"), 8).0, "处");
        assert_eq!(feed(&w, &chat("2", "v", 1001, "x"), 8).0, "x");
        let (text, ids) = feed(&w, &chat("3", "u", 1002, "方"), 8);
        assert_eq!(text, "处方");
        assert_eq!(ids, ["1"]);
        let (text, ids) = feed(&w, &chat("4", "u", 1003, "药"), 8);
        assert_eq!(text, "处方药");
        assert_eq!(ids, ["1", "3"]);
    }

    #[test]
    fn bounds_events_chars_and_age() {
        let w = Windows::new(config(100));
        feed(&w, &chat("1", "u", 1000, "一二三四五六七八九"), 4);
        let (text, _) = feed(&w, &chat("2", "u", 1001, "十"), 4);
        assert_eq!(text, "6789十", "only the last 4 characters are kept");
        let (text, ids) = feed(&w, &chat("3", "u", 1001, "百"), 4);
        assert_eq!(
            text, "789十百",
            "the oldest part loses its first characters"
        );
        assert_eq!(ids, ["1", "2"]);
        let (text, ids) = feed(&w, &chat("4", "u", 1001 + 30_001, "千"), 4);
        assert_eq!(text, "千", "older than 30 s is forgotten");
        assert!(ids.is_empty());
        for i in 0..20 {
            feed(&w, &chat(&format!("e{i}"), "u", 100_000 + i, "a"), 100);
        }
        let (_, ids) = feed(&w, &chat("last", "u", 100_100, "b"), 100);
        assert_eq!(ids.len(), 8, "at most 8 earlier events");
        assert_eq!(ids[7], "e19");
    }

    #[test]
    fn sweep_reclaims_idle_windows() {
        let w = Windows::new(WindowConfig::default());
        feed(&w, &chat("1", "u", 1000, "处"), 8);
        feed(&w, &chat("2", "v", 50_000, "方"), 8);
        assert_eq!(w.len(), 2);
        assert_eq!(w.sweep(40_000), 1);
        assert_eq!(w.len(), 1);
        assert_eq!(w.sweep(100_000), 1);
        assert!(w.is_empty());
    }

    #[test]
    fn no_user_no_window_and_long_ids_are_cut() {
        let w = Windows::new(WindowConfig::default());
        let ev = parse_event(r#"{"kind":"chat","id":"1","room":"r","ts":5,"text":"处"}"#).unwrap();
        feed(&w, &ev, 8);
        assert!(w.is_empty());
        let partial = parse_event(
            r#"{"kind":"transcript","id":"p","room":"r","ts":5,"text":"处","final":false}"#,
        )
        .unwrap();
        feed(&w, &partial, 8);
        let (text, _) = feed(&w, &partial, 8);
        assert_eq!(text, "处", "partial transcripts are not recorded");
        let long = "i".repeat(1000);
        feed(&w, &chat(&long, "u", 1, "处"), 8);
        let (_, ids) = feed(&w, &chat("2", "u", 2, "方"), 8);
        assert_eq!(ids[0].len(), MAX_ID_BYTES);
    }
}
