//! Windows across events: the recent past the matcher sees along with each event.
//!
//! Evaders split a term over several messages (`处`, `方`, `药`), and ASR splits the
//! host's words at segment boundaries (`…独一` / `无二的…`). For each chat user in a room,
//! and for each room's transcript, a [`Windows`] keeps a short tail of the last events'
//! normalized text, bounded in events, characters and age. The matcher scans the tail
//! and the new event as one text, and reports only hits that end in the new event: the
//! earlier parts were judged (and allowed) when they arrived.
//!
//! Only the characters that could still complete a term are kept (the longest term
//! minus one), so an idle user costs a few hundred bytes until [`Windows::sweep`]
//! reclaims it.

use std::collections::VecDeque;
use std::sync::Arc;

use dashmap::DashMap;
use serde::Deserialize;

use crate::event::{Event, EventKind};
use crate::normalize::NormText;

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
            // A term typed one character per message: a few seconds apart at most.
            chat: WindowLimits {
                events: 8,
                chars: 16,
                max_age_ms: 30_000,
            },
            // ASR segments are longer and arrive back to back.
            transcript: WindowLimits {
                events: 3,
                chars: 24,
                max_age_ms: 20_000,
            },
        }
    }
}

/// One earlier event in a tail.
#[derive(Debug)]
struct Part {
    id: Arc<str>,
    ts: u64,
    /// The kept characters (a suffix of the event's normalized text).
    text: NormText,
}

#[derive(Debug, Default)]
struct Tail {
    parts: VecDeque<Part>,
}

/// The tails of every active window. Thread-safe; each event takes one short lock.
#[derive(Debug)]
pub struct Windows {
    config: WindowConfig,
    tails: DashMap<Box<str>, Tail>,
}

/// The earlier events replayed into a text by [`Windows::replay_and_push`]: their ids,
/// by segment index.
pub type SegmentIds = Vec<Arc<str>>;

impl Windows {
    /// Empty windows with these bounds.
    pub fn new(config: WindowConfig) -> Windows {
        Windows {
            config,
            tails: DashMap::new(),
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

    fn key(ev: &Event<'_>) -> Option<Box<str>> {
        let mut key = String::with_capacity(ev.room.len() + 24);
        key.push_str(&ev.room);
        key.push('\u{1f}');
        match ev.kind {
            // Without a user there is no one to follow: no window.
            EventKind::Chat => key.push_str(ev.user.as_deref()?),
            EventKind::Transcript => key.push('\u{0}'),
        }
        Some(key.into_boxed_str())
    }

    fn limits(&self, kind: EventKind) -> WindowLimits {
        match kind {
            EventKind::Chat => self.config.chat,
            EventKind::Transcript => self.config.transcript,
        }
    }

    /// Copy the window of `ev` into `out` (one segment per earlier event, ids into
    /// `ids`), then record `current` (the event's own normalized text) in the window.
    /// `keep_chars` is how much history a term can need (the longest term minus one).
    /// Partial ASR segments are matched with their window but not recorded in it:
    /// the final segment will replace them.
    pub fn replay_and_push(
        &self,
        ev: &Event<'_>,
        ts: u64,
        current: &NormText,
        keep_chars: usize,
        out: &mut NormText,
        ids: &mut SegmentIds,
    ) {
        let limits = self.limits(ev.kind);
        if limits.events == 0 {
            return;
        }
        let Some(key) = Windows::key(ev) else { return };
        let keep = limits.chars.min(keep_chars);
        let oldest = ts.saturating_sub(limits.max_age_ms);
        let record = ev.kind == EventKind::Chat || ev.is_final;
        if !record {
            if let Some(tail) = self.tails.get(&key) {
                replay(&tail, oldest, out, ids);
            }
            return;
        }
        let mut tail = self.tails.entry(key).or_default();
        tail.parts.retain(|p| p.ts >= oldest);
        replay(&tail, oldest, out, ids);
        if keep == 0 || current.is_empty() {
            return;
        }
        let n = current.chars().len();
        let mut text = NormText::new();
        text.push_copy(current, n.saturating_sub(keep)..n);
        tail.parts.push_back(Part {
            id: Arc::from(ev.id.as_ref()),
            ts,
            text,
        });
        trim(&mut tail.parts, limits.events, keep);
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

fn replay(tail: &Tail, oldest: u64, out: &mut NormText, ids: &mut SegmentIds) {
    for p in tail.parts.iter().filter(|p| p.ts >= oldest) {
        if out.segments() + 1 >= crate::normalize::MAX_SEGMENTS {
            break;
        }
        out.push_copy(&p.text, 0..p.text.chars().len());
        ids.push(p.id.clone());
    }
}

/// Keep at most `events` parts and `chars` characters, dropping the oldest first.
fn trim(parts: &mut VecDeque<Part>, events: usize, chars: usize) {
    while parts.len() > events {
        parts.pop_front();
    }
    let mut total: usize = parts.iter().map(|p| p.text.chars().len()).sum();
    while total > chars {
        let Some(front) = parts.front_mut() else {
            break;
        };
        let n = front.text.chars().len();
        let excess = total - chars;
        if excess >= n {
            total -= n;
            parts.pop_front();
        } else {
            let mut shorter = NormText::new();
            shorter.push_copy(&front.text, excess..n);
            front.text = shorter;
            total -= excess;
        }
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
        let current = NormText::normalized(&ev.text);
        let mut out = NormText::new();
        let mut ids = Vec::new();
        w.replay_and_push(ev, ev.ts.unwrap(), &current, keep, &mut out, &mut ids);
        out.push_copy(&current, 0..current.chars().len());
        (
            out.as_str().to_owned(),
            ids.iter().map(|s| s.to_string()).collect(),
        )
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
        let w = Windows::new(WindowConfig::default());
        feed(&w, &chat("1", "u", 1000, "一二三四五六七八九"), 4);
        let (text, _) = feed(&w, &chat("2", "u", 1001, "十"), 4);
        assert_eq!(text, "6789十", "only the last 4 characters are kept");
        let (text, ids) = feed(&w, &chat("3", "u", 1001 + 30_001, "百"), 4);
        assert_eq!(text, "百", "older than 30 s is forgotten");
        assert!(ids.is_empty());
        for i in 0..20 {
            feed(&w, &chat(&format!("e{i}"), "u", 100_000 + i, "a"), 100);
        }
        let (_, ids) = feed(&w, &chat("last", "u", 100_100, "b"), 100);
        assert_eq!(ids.len(), 8, "at most 8 earlier events");
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
    fn no_user_no_window() {
        let w = Windows::new(WindowConfig::default());
        let ev = parse_event(r#"{"kind":"chat","id":"1","room":"r","ts":5,"text":"处"}"#).unwrap();
        feed(&w, &ev, 8);
        assert!(w.is_empty());
    }
}
