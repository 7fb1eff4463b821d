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

use std::ops::Range;

use serde::Deserialize;

use crate::event::{Event, EventKind};
use crate::normalize::{MAX_SEGMENTS, NormText};
use crate::state::StateMap;

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

impl WindowLimits {
    /// No window.
    pub const NONE: WindowLimits = WindowLimits {
        events: 0,
        chars: 0,
        max_age_ms: 0,
    };
}

/// Window bounds for chat (per room and user) and transcripts (per room). In a
/// configuration file every key is optional: a missing one keeps its default for
/// that kind of window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "WindowConfigFile")]
pub struct WindowConfig {
    /// Per (room, user) chat windows.
    pub chat: WindowLimits,
    /// Per room transcript windows.
    pub transcript: WindowLimits,
    /// Most windows held at once. A new sender beyond it gets no window (its event
    /// is judged alone, and counted in [`Windows::refused`]) until the sweep frees
    /// room: memory stays bounded whatever the number of senders. About 200 bytes
    /// each; a sender keeps a window for `max_age_ms` after it last spoke.
    pub max_windows: usize,
}

/// `[engine.windows]` as written: any key may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowConfigFile {
    chat: Option<WindowLimitsFile>,
    transcript: Option<WindowLimitsFile>,
    max_windows: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowLimitsFile {
    events: Option<usize>,
    chars: Option<usize>,
    max_age_ms: Option<u64>,
}

impl WindowLimitsFile {
    fn over(self, d: WindowLimits) -> WindowLimits {
        WindowLimits {
            events: self.events.unwrap_or(d.events),
            chars: self.chars.unwrap_or(d.chars),
            max_age_ms: self.max_age_ms.unwrap_or(d.max_age_ms),
        }
    }
}

impl From<WindowConfigFile> for WindowConfig {
    fn from(f: WindowConfigFile) -> WindowConfig {
        let d = WindowConfig::default();
        WindowConfig {
            chat: f.chat.map_or(d.chat, |c| c.over(d.chat)),
            transcript: f.transcript.map_or(d.transcript, |t| t.over(d.transcript)),
            max_windows: f.max_windows.unwrap_or(d.max_windows),
        }
    }
}

/// Most earlier events a window may keep (a window is packed with byte-sized counts).
pub const MAX_WINDOW_EVENTS: usize = 64;
/// Most characters a window may keep.
pub const MAX_WINDOW_CHARS: usize = 256;

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
            max_windows: 2_000_000,
        }
    }
}

/// The kept history of one window, packed in one buffer: per earlier event (a
/// "part", oldest first) a header (time, id length, character count, packed length),
/// the id, and the characters packed by [`NormText::pack`]. An idle sender costs
/// this struct, one exactly sized allocation and a map slot: about 200 bytes, against 450
/// for the same history in a `NormText` and a `VecDeque`.
#[derive(Debug, Default)]
struct Tail {
    buf: Vec<u8>,
    parts: u8,
    chars: u16,
    /// Time of the newest part (the sweep's criterion).
    newest: u64,
    /// Required context groups named in recent events (usually none: no allocation).
    context: Option<Box<Context>>,
}

/// Most required context groups a window remembers at once (the default lexicon
/// requires two: `rival` and `invest_ctx`).
const CONTEXT_MARKS: usize = 4;

/// The context groups some entry `requires` (a rival: 隔壁, 同行, 其他直播间) that the
/// window's recent events named, with the time of the event that last did. A word
/// scrolls out of the kept characters after a few more characters, but a target named
/// three messages ago is still the target (`前两天在隔壁直播间` / `也拍了那个燕窝` /
/// `全是假货`): these marks keep it for the window's age. 72 bytes, allocated only for
/// a sender who named one.
#[derive(Debug)]
struct Context {
    /// The [`crate::matcher::Matcher::context_tag`] the group indices belong to.
    tag: u32,
    len: u8,
    /// (group index, event time).
    marks: [(u16, u64); CONTEXT_MARKS],
}

impl Context {
    /// Remember `groups` as named at `ts` under lexicon `tag`, forgetting what is
    /// older than `oldest` (and, when full, the oldest mark).
    fn note(&mut self, tag: u32, groups: &[u16], ts: u64, oldest: u64) {
        if self.tag != tag {
            (self.tag, self.len) = (tag, 0);
        }
        self.forget_before(oldest);
        for &g in groups {
            let live = &mut self.marks[..usize::from(self.len)];
            if let Some(m) = live.iter_mut().find(|m| m.0 == g) {
                m.1 = m.1.max(ts);
            } else if usize::from(self.len) < CONTEXT_MARKS {
                self.marks[usize::from(self.len)] = (g, ts);
                self.len += 1;
            } else if let Some(m) = live.iter_mut().min_by_key(|m| m.1) {
                *m = (g, ts);
            }
        }
    }

    fn forget_before(&mut self, oldest: u64) {
        let mut kept = 0;
        for i in 0..usize::from(self.len) {
            if self.marks[i].1 >= oldest {
                self.marks[kept] = self.marks[i];
                kept += 1;
            }
        }
        self.len = kept as u8;
    }

    fn live(&self) -> &[(u16, u64)] {
        &self.marks[..usize::from(self.len)]
    }
}

/// The header of a part in [`Tail::buf`].
#[derive(Clone, Copy, Debug)]
struct Part {
    ts: u64,
    id_len: u8,
    chars: u16,
    packed_len: u16,
}

const PART_HEADER: usize = 13;

impl Part {
    fn read(buf: &[u8]) -> Option<Part> {
        let h = buf.get(..PART_HEADER)?;
        Some(Part {
            ts: u64::from_le_bytes(h[0..8].try_into().ok()?),
            id_len: h[8],
            chars: u16::from_le_bytes([h[9], h[10]]),
            packed_len: u16::from_le_bytes([h[11], h[12]]),
        })
    }

    fn write(self, out: &mut [u8]) {
        out[0..8].copy_from_slice(&self.ts.to_le_bytes());
        out[8] = self.id_len;
        out[9..11].copy_from_slice(&self.chars.to_le_bytes());
        out[11..13].copy_from_slice(&self.packed_len.to_le_bytes());
    }

    /// Bytes of the whole part in the buffer.
    fn len(self) -> usize {
        PART_HEADER + usize::from(self.id_len) + usize::from(self.packed_len)
    }
}

impl Tail {
    /// Forget everything, keep the buffer.
    fn clear(&mut self) {
        self.buf.clear();
        self.parts = 0;
        self.chars = 0;
    }

    fn front(&self) -> Option<Part> {
        Part::read(&self.buf)
    }

    /// Each part: its header, id and packed characters.
    fn iter(&self) -> impl Iterator<Item = (Part, &[u8], &[u8])> {
        let mut rest = self.buf.as_slice();
        std::iter::from_fn(move || {
            let p = Part::read(rest)?;
            let id_end = PART_HEADER + usize::from(p.id_len);
            let (part, after) = rest.split_at_checked(p.len())?;
            rest = after;
            Some((p, &part[PART_HEADER..id_end], &part[id_end..]))
        })
    }

    fn push_back(&mut self, ts: u64, id: &str, text: &NormText, range: Range<usize>) {
        let at = self.buf.len();
        let need = PART_HEADER + id.len() + text.packed_size(range.clone());
        if self.buf.is_empty() {
            // Most windows hold one event until they expire: no slack for growth.
            self.buf.reserve_exact(need);
        } else {
            self.buf.reserve(need);
        }
        self.buf.resize(at + PART_HEADER, 0);
        self.buf.extend_from_slice(id.as_bytes());
        let chars = range.len();
        text.pack(range, &mut self.buf);
        let packed_len = self.buf.len() - at - PART_HEADER - id.len();
        Part {
            ts,
            id_len: id.len() as u8,
            chars: chars as u16,
            packed_len: packed_len as u16,
        }
        .write(&mut self.buf[at..]);
        self.parts += 1;
        self.chars += chars as u16;
        self.newest = ts;
    }

    /// Drop the oldest part.
    fn pop_front(&mut self) {
        if let Some(p) = self.front() {
            self.buf.drain(..p.len());
            self.parts -= 1;
            self.chars -= p.chars;
        }
    }

    /// Drop the first `n` characters of the oldest part (fewer than it has).
    fn cut_front(&mut self, n: u16) {
        let Some(mut p) = self.front() else { return };
        let packed = PART_HEADER + usize::from(p.id_len);
        let cut = crate::normalize::packed_len(&self.buf[packed..], usize::from(n));
        self.buf.drain(packed..packed + cut);
        p.chars -= n;
        p.packed_len -= cut as u16;
        p.write(&mut self.buf);
        self.chars -= n;
    }

    /// Drop the oldest parts until at most `events` parts and `chars` characters remain
    /// (the oldest part kept may lose its first characters).
    fn trim(&mut self, events: usize, chars: usize) {
        while usize::from(self.parts) > events {
            self.pop_front();
        }
        while usize::from(self.chars) > chars {
            let Some(front) = self.front() else { break };
            let excess = usize::from(self.chars) - chars;
            if excess >= usize::from(front.chars) {
                self.pop_front();
            } else {
                self.cut_front(excess as u16);
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
    tails: StateMap<Tail>,
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
            tails: StateMap::new(config.max_windows),
            config,
        }
    }

    /// How many new windows were refused so far because `max_windows` were held.
    pub fn refused(&self) -> u64 {
        self.tails.refused()
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
        self.len() == 0
    }

    fn key(&self, ev: &Event<'_>) -> Option<u64> {
        let h = self.tails.key();
        Some(match ev.kind {
            // Without a user there is no one to follow: no window.
            EventKind::Chat => h
                .write(ev.room.as_bytes())
                .write(ev.user.as_deref()?.as_bytes())
                .finish(),
            EventKind::Transcript => h.write(ev.room.as_bytes()).write(b"\0transcript").finish(),
            // Listings and sales are not speech: nothing to join across events.
            EventKind::Listing | EventKind::Sale => return None,
        })
    }

    fn limits(&self, kind: EventKind) -> WindowLimits {
        match kind {
            EventKind::Chat => self.config.chat,
            EventKind::Transcript => self.config.transcript,
            EventKind::Listing | EventKind::Sale => WindowLimits::NONE,
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
        let mut tail = self.tails.get_or_insert_with(key, Tail::default)?;
        let oldest = ts.saturating_sub(limits.max_age_ms);
        if tail.newest < oldest {
            // All of it aged out (the usual case for a viewer who speaks now and then).
            tail.clear();
            tail.context = None;
        }
        while tail.front().is_some_and(|p| p.ts < oldest) {
            tail.pop_front();
        }
        if let Some(c) = &mut tail.context {
            c.forget_before(oldest);
            if c.len == 0 {
                tail.context = None;
            }
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

    /// Remember that event `ev` (at `ts`) named the required context groups `groups`
    /// (indices of the matcher with context tag `tag`), for the later events of its
    /// window: see [`Window::recall`]. Takes the window's lock again, so call it only
    /// for an event that named one (few do); a no-op for an event without a window or
    /// one that is not recorded (a partial transcript).
    pub fn remember(&self, ev: &Event<'_>, ts: u64, tag: u32, groups: &[u16]) {
        let limits = self.limits(ev.kind);
        if groups.is_empty() || limits.events == 0 || !(ev.kind == EventKind::Chat || ev.is_final) {
            return;
        }
        let Some(key) = self.key(ev) else { return };
        // The event was recorded when its window was opened: the tail exists unless the
        // map was full (then there is nothing to remember in).
        let Some(mut tail) = self.tails.get_mut(key) else {
            return;
        };
        let oldest = ts.saturating_sub(limits.max_age_ms);
        tail.context
            .get_or_insert_with(|| {
                Box::new(Context {
                    tag,
                    len: 0,
                    marks: [(0, 0); CONTEXT_MARKS],
                })
            })
            .note(tag, groups, ts, oldest);
    }

    /// Forget windows whose newest event is older than their maximum age at `now_ms`.
    /// Returns how many were removed.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let (chat, transcript) = (self.config.chat, self.config.transcript);
        let max_age = chat.max_age_ms.max(transcript.max_age_ms);
        self.tails
            .retain(|tail| tail.parts > 0 && tail.newest.saturating_add(max_age) >= now_ms)
    }
}

/// Ids longer than this are cut when kept for evidence in a window.
const MAX_ID_BYTES: usize = u8::MAX as usize;

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
        let parts = usize::from(tail.parts);
        if parts == 0 || out.segments() + parts >= MAX_SEGMENTS {
            return;
        }
        for (_, id, packed) in tail.iter() {
            out.push_packed(packed);
            let start = ids.text.len();
            // Ids were cut at a char boundary when recorded.
            ids.text
                .push_str(std::str::from_utf8(id).unwrap_or_default());
            ids.ranges.push(start..ids.text.len());
        }
    }

    /// Append to `out` the required context groups that earlier events of this window
    /// named (see [`Windows::remember`]), if they were remembered under lexicon `tag`.
    pub fn recall(&self, tag: u32, out: &mut Vec<u16>) {
        if let Some(c) = &self.tail.context
            && c.tag == tag
        {
            out.extend(c.live().iter().map(|m| m.0));
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
        tail.push_back(self.ts, truncate_id(id), text, from..n);
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

    /// The groups `Window::recall` returns for `ev`'s window under `tag`.
    fn recall(w: &Windows, ev: &Event<'_>, tag: u32) -> Vec<u16> {
        let mut out = Vec::new();
        if let Some(win) = w.open(ev, ev.ts.unwrap(), 8) {
            win.recall(tag, &mut out);
        }
        out
    }

    #[test]
    fn required_groups_are_remembered_past_the_characters_for_the_window_age() {
        let w = Windows::new(config(4));
        let ev = chat("1", "u", 1000, "前两天在隔壁直播间");
        feed(&w, &ev, 4);
        w.remember(&ev, 1000, 7, &[0]);
        // Two events later the word is long out of the 4 kept characters.
        feed(&w, &chat("2", "u", 2000, "也拍了那个燕窝回来一泡"), 4);
        assert_eq!(recall(&w, &chat("3", "u", 3000, "全是假货"), 7), [0]);
        // Not for another sender, not under another lexicon.
        assert!(recall(&w, &chat("4", "v", 3000, "全是假货"), 7).is_empty());
        assert!(recall(&w, &chat("5", "u", 3000, "全是假货"), 8).is_empty());
        // A later mention renews it; the oldest makes room when four are held.
        let ev = chat("6", "u", 20_000, "同行");
        feed(&w, &ev, 4);
        w.remember(&ev, 20_000, 7, &[0, 1, 2, 3]);
        let ev = chat("7", "u", 21_000, "x");
        feed(&w, &ev, 4);
        w.remember(&ev, 21_000, 7, &[4]);
        let mut held = recall(&w, &chat("8", "u", 21_000, "y"), 7);
        held.sort_unstable();
        assert_eq!(held.len(), 4);
        assert!(held.contains(&4));
        // Forgotten with the window's age (30 s after the event that named it).
        assert_eq!(recall(&w, &chat("9", "u", 50_500, "z"), 7), [4]);
        assert!(recall(&w, &chat("10", "u", 60_000, "z"), 7).is_empty());
        // A partial transcript is not remembered; an event without a window neither.
        let partial = parse_event(
            r#"{"kind":"transcript","id":"p","room":"r","ts":5,"text":"隔壁","final":false}"#,
        )
        .unwrap();
        feed(&w, &partial, 4);
        w.remember(&partial, 5, 7, &[0]);
        assert!(recall(&w, &partial, 7).is_empty());
        let anonymous =
            parse_event(r#"{"kind":"chat","id":"a","room":"r","ts":5,"text":"隔壁"}"#).unwrap();
        w.remember(&anonymous, 5, 7, &[0]);
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

    #[test]
    fn a_full_map_refuses_new_senders_until_the_sweep_frees_room() {
        let w = Windows::new(WindowConfig {
            max_windows: 2,
            ..WindowConfig::default()
        });
        feed(&w, &chat("1", "u", 1000, "处"), 8);
        feed(&w, &chat("2", "v", 1000, "处"), 8);
        // a third sender is judged alone, and counted
        feed(&w, &chat("3", "x", 1000, "处"), 8);
        let (text, _) = feed(&w, &chat("4", "x", 1001, "方"), 8);
        assert_eq!(text, "方");
        assert_eq!((w.len(), w.refused()), (2, 2));
        // senders who have a window keep it
        assert_eq!(feed(&w, &chat("5", "u", 1002, "方"), 8).0, "处方");
        assert_eq!(w.sweep(100_000), 2);
        let (text, _) = feed(&w, &chat("6", "x", 100_000, "方"), 8);
        assert_eq!(text, "方");
        assert_eq!(feed(&w, &chat("7", "x", 100_001, "药"), 8).0, "方药");
    }
}
