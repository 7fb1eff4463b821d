//! Normalization: one pass that turns what a person typed into what the matcher sees,
//! keeping a map from every normalized character back to the bytes it came from.
//!
//! The pass folds case, width, compatibility forms, Latin confusables, traditional to
//! simplified Chinese and number styles (all through [`fold()`]); drops zero-width and
//! format characters; skips separator noise between characters while remembering that a
//! gap was there ([`Gap`]); folds leetspeak digits inside Latin words; and collapses
//! repeated characters, recording the run length so that a term that really has a
//! doubled character (`扣扣`, `QQ`) still needs two in the text.
//!
//! A [`NormText`] can hold several *segments*, one per event, so that a window of
//! recent events is matched as one text while each normalized character still knows
//! the event and the byte range it came from.

pub mod fold;

pub use fold::{Fold, Folder, fold, warm_up};

/// What separated a normalized character from the one before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Gap {
    /// Nothing: the characters were adjacent (invisible characters aside).
    None,
    /// Separator noise: spaces, symbols, emoji, most punctuation.
    Soft,
    /// The boundary between two events of a window.
    Event,
    /// Clause punctuation or a line break: a word gap a reader would respect.
    Hard,
}

impl Gap {
    /// The gap stored in the low two bits of a packed character's flags.
    fn from_bits(bits: u8) -> Gap {
        match bits & 0b11 {
            0 => Gap::None,
            1 => Gap::Soft,
            2 => Gap::Event,
            _ => Gap::Hard,
        }
    }
}

/// The bit of a packed character's flags that holds [`NormChar::split_run`] (bits 0-1
/// are the gap, 2 the numeral, 3-4 the UTF-8 length).
const SPLIT_RUN_SHIFT: u8 = 5;

/// Bytes taken by the first `n` packed characters (see [`NormText::pack`]).
pub fn packed_len(packed: &[u8], n: usize) -> usize {
    let mut at = 0;
    for _ in 0..n {
        let Some(flags) = packed.get(at) else { break };
        at += 2 + usize::from(flags >> 3 & 0b11) + 1;
    }
    at.min(packed.len())
}

/// The character of one packed UTF-8 sequence (see [`NormText::pack`]). The window
/// wrote it from a `str`, so decoding needs no validation beyond what `char` itself
/// checks; `from_utf8` per character was a tenth of a replayed window's cost.
fn decode_utf8(bytes: &[u8]) -> Option<char> {
    let tail = |b: u8| u32::from(b & 0x3F);
    let cp = match *bytes {
        [a] if a < 0x80 => u32::from(a),
        [a, b] => (u32::from(a & 0x1F) << 6) | tail(b),
        [a, b, c] => (u32::from(a & 0x0F) << 12) | (tail(b) << 6) | tail(c),
        [a, b, c, d] => (u32::from(a & 0x07) << 18) | (tail(b) << 12) | (tail(c) << 6) | tail(d),
        _ => return None,
    };
    char::from_u32(cp)
}

/// Length of the UTF-8 sequence a lead byte starts.
fn utf8_len(lead: u8) -> usize {
    match lead {
        0..0x80 => 1,
        0xC0..0xE0 => 2,
        0xE0..0xF0 => 3,
        _ => 4,
    }
}

/// One normalized character and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormChar {
    /// Byte offset of this character in the normalized text.
    pub byte: u32,
    /// Byte range in the source segment's original text.
    pub src_start: u32,
    /// End of the byte range in the source segment's original text (exclusive).
    pub src_end: u32,
    /// How many repeats of this character were collapsed into it (at least 1).
    pub run: u8,
    /// What stood between this character and the previous one.
    pub gap: Gap,
    /// Index of the segment (event) this character came from.
    pub seg: u8,
    /// A digit written as a Chinese numeral (`一`, `壹`, `〇`): it repeats like a letter.
    pub numeral: bool,
    /// A separator stood inside the collapsed run (`wow wx`: the `w w` of it): the
    /// run's first repeat stands before a separator, its last one after it.
    pub split_run: bool,
}

/// Which view of an event [`NormText::push_segment_view`] writes: the plain text, or
/// one in which a disguise is read back (the emoji and look-alike channels' views).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The plain text: an emoji is a separator, like every other emoji (`最❤好` is
    /// 最好).
    Plain,
    /// An emoji that stands for a word kept as a character: the emoji channel's view,
    /// matched against the terms' emoji spellings (`💊到病除`).
    EmojiKept,
    /// The emoji's `k`-th word in its place (its first when it has fewer: `闲🐟` reads
    /// 闲鱼, `原💲599` 原价599, `就是💩` 就是垃圾 in the second pass): what regex rules,
    /// templated terms and whole terms, which have no emoji spellings, read.
    EmojiRead(u8),
    /// Two components written side by side read as the character they make (`氵匋宝`
    /// as 淘宝, `门木鱼` as 闲鱼), and a rare look-alike as the character it imitates
    /// (`厡价` as 原价): the look-alike channel's view, read by regex rules and
    /// templated terms (see [`crate::channel::shape::composed`]). Emoji are separators.
    Recomposed,
}

/// Normalized text with its offset map. Reusable: [`NormText::clear`] keeps the
/// allocations, so the hot path does not allocate per event.
#[derive(Clone, Debug, Default)]
pub struct NormText {
    text: String,
    chars: Vec<NormChar>,
    segments: u8,
    /// Whether some repeated Chinese numerals were collapsed (regex rules then need
    /// them spelled out again).
    numeral_runs: bool,
    /// ASCII letters in `text` (gates the pinyin automaton).
    letters: u32,
    /// ASCII digits in `text` (gates digit rules).
    digits: u32,
    /// The most words a separator that was an emoji of the table can be read as; 0
    /// when there was none (gates the emoji channel, see [`crate::channel::emoji`]).
    emoji_readings: u8,
}

/// Most segments one text may hold; windows are far shorter.
pub const MAX_SEGMENTS: usize = u8::MAX as usize;

impl NormText {
    /// An empty text.
    pub fn new() -> NormText {
        NormText::default()
    }

    /// Normalize `src` as the only segment of a new text.
    pub fn normalized(src: &str) -> NormText {
        let mut t = NormText::new();
        t.push_segment(src);
        t
    }

    /// Forget the contents, keep the allocations.
    pub fn clear(&mut self) {
        self.text.clear();
        self.chars.clear();
        self.segments = 0;
        self.numeral_runs = false;
        self.letters = 0;
        self.digits = 0;
        self.emoji_readings = 0;
    }

    /// Whether a separator of the text was an emoji that can stand for a word.
    pub fn has_word_emoji(&self) -> bool {
        self.emoji_readings > 0
    }

    /// The most words one such emoji of the text is read as (see
    /// [`crate::channel::emoji::reading`]): the passes [`View::EmojiRead`] needs.
    pub fn emoji_readings(&self) -> usize {
        usize::from(self.emoji_readings)
    }

    /// How many ASCII letters the normalized text has.
    pub fn letters(&self) -> usize {
        self.letters as usize
    }

    /// How many ASCII digits the normalized text has (collapsed Chinese numerals
    /// counted once).
    pub fn digits(&self) -> usize {
        self.digits as usize
    }

    /// Count the letters and digits of characters `range`, as (letters, digits).
    fn count(&self, range: std::ops::Range<usize>) -> (u32, u32) {
        let bytes = self.text.as_bytes();
        self.chars[range].iter().fold((0, 0), |(l, d), c| {
            let b = bytes[c.byte as usize];
            (
                l + u32::from(b.is_ascii_lowercase()),
                d + u32::from(b.is_ascii_digit()),
            )
        })
    }

    /// Whether repeated Chinese numerals were collapsed somewhere in the text.
    pub fn has_numeral_runs(&self) -> bool {
        self.numeral_runs
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// One entry per normalized character.
    pub fn chars(&self) -> &[NormChar] {
        &self.chars
    }

    /// Number of segments pushed so far.
    pub fn segments(&self) -> usize {
        self.segments as usize
    }

    /// Whether the normalized text is empty.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// Index of the character that starts at normalized byte `byte`, or the number of
    /// characters if `byte` is the end of the text. `byte` must be a char boundary.
    pub fn char_index(&self, byte: usize) -> usize {
        if byte >= self.text.len() {
            return self.chars.len();
        }
        self.chars
            .binary_search_by(|c| (c.byte as usize).cmp(&byte))
            .unwrap_or_else(|i| i)
    }

    /// First byte of normalized character `i` (0 < i <= len).
    pub fn byte_of(&self, i: usize) -> usize {
        self.chars
            .get(i)
            .map_or(self.text.len(), |c| c.byte as usize)
    }

    /// Whether character `i + 1` starts a segment with the character that `i` ends
    /// the previous one with, so that the run of `i` continues into it: a repeat split
    /// between two events of a window (`…直接扣` / `扣上`). Repeats are only collapsed
    /// within a segment, so each event keeps its own characters; as there, digits do
    /// not repeat unless both are Chinese numerals.
    pub fn run_continues(&self, i: usize) -> bool {
        let (Some(a), Some(b)) = (self.chars.get(i), self.chars.get(i + 1)) else {
            return false;
        };
        if a.seg == b.seg {
            return false;
        }
        let this = &self.text[a.byte as usize..b.byte as usize];
        let next = &self.text[b.byte as usize..self.byte_of(i + 2)];
        this == next
            && this
                .chars()
                .next()
                .is_some_and(|c| collapsible(c) || (a.numeral && b.numeral))
    }

    /// Whether normalized character `i` is an ASCII letter.
    pub fn is_ascii_letter(&self, i: usize) -> bool {
        self.first_byte(i).is_some_and(|b| b.is_ascii_alphabetic())
    }

    /// Whether normalized character `i` is an ASCII digit.
    pub fn is_ascii_digit(&self, i: usize) -> bool {
        self.first_byte(i).is_some_and(|b| b.is_ascii_digit())
    }

    /// Normalized character `i` (`i` < the number of characters).
    pub fn char_at(&self, i: usize) -> char {
        self.text[self.chars[i].byte as usize..]
            .chars()
            .next()
            .unwrap_or(' ')
    }

    /// The character at normalized index `i` as a word list or a reading table sees
    /// it: a Chinese numeral folded to a digit (`三` → `3`) is the numeral again.
    pub fn han_at(&self, i: usize) -> char {
        let c = self.char_at(i);
        match c.to_digit(10) {
            Some(d) if self.chars[i].numeral => numeral(d),
            _ => c,
        }
    }

    fn first_byte(&self, i: usize) -> Option<u8> {
        self.chars
            .get(i)
            .map(|c| self.text.as_bytes()[c.byte as usize])
    }

    /// Append characters `range` of this text to `out` in the packed form a window
    /// keeps them in: per character a flags byte (gap, numeral, UTF-8 length, split
    /// run), the run and the UTF-8 bytes; 3 to 6 bytes instead of the 20 of a
    /// [`NormChar`].
    /// Source offsets are dropped: spans are only ever reported in the current event.
    pub fn pack(&self, range: std::ops::Range<usize>, out: &mut Vec<u8>) {
        for c in &self.chars[range] {
            let end = self.byte_of_next(c.byte as usize);
            let utf8 = &self.text.as_bytes()[c.byte as usize..end];
            let flags = c.gap as u8
                | u8::from(c.numeral) << 2
                | ((utf8.len() - 1) as u8) << 3
                | u8::from(c.split_run) << SPLIT_RUN_SHIFT;
            out.push(flags);
            out.push(c.run);
            out.extend_from_slice(utf8);
        }
    }

    /// Bytes [`NormText::pack`] writes for characters `range`.
    pub fn packed_size(&self, range: std::ops::Range<usize>) -> usize {
        2 * range.len() + self.byte_of(range.end) - self.byte_of(range.start)
    }

    /// Append packed characters (see [`NormText::pack`]) as a new segment, their source
    /// offsets 0. The first one stands after an event gap, unless it starts the text.
    pub fn push_packed(&mut self, packed: &[u8]) {
        let seg = self.next_segment();
        let at = self.chars.len();
        let mut rest = packed;
        while let [flags, run, tail @ ..] = rest {
            let len = usize::from(flags >> 3 & 0b11) + 1;
            let Some((utf8, after)) = tail.split_at_checked(len) else {
                break;
            };
            rest = after;
            let Some(c) = decode_utf8(utf8) else {
                continue;
            };
            let numeral = flags & 0b100 != 0;
            self.numeral_runs |= numeral && *run > 1;
            let byte = self.text.len() as u32;
            self.text.push(c);
            self.chars.push(NormChar {
                byte,
                src_start: 0,
                src_end: 0,
                run: *run,
                gap: Gap::from_bits(*flags),
                seg,
                numeral,
                split_run: flags >> SPLIT_RUN_SHIFT & 1 != 0,
            });
        }
        if let Some(c) = self.chars.get_mut(at) {
            c.gap = if at == 0 { Gap::None } else { Gap::Event };
        }
        let (letters, digits) = self.count(at..self.chars.len());
        self.letters += letters;
        self.digits += digits;
    }

    /// The byte after the character starting at `byte`.
    fn byte_of_next(&self, byte: usize) -> usize {
        let lead = self.text.as_bytes()[byte];
        byte + utf8_len(lead)
    }

    fn next_segment(&mut self) -> u8 {
        let seg = self.segments;
        self.segments = self.segments.saturating_add(1);
        seg
    }

    /// Normalize `src` and append it as a new segment; returns the segment index.
    ///
    /// Text inside a right-to-left override is normalized in the order it is shown
    /// (see `Displayed`), each character keeping its own source range: within such a
    /// run, source offsets go backwards.
    pub fn push_segment(&mut self, src: &str) -> usize {
        self.push_segment_view(src, View::Plain)
    }

    /// [`NormText::push_segment`] as `view` reads it: the emoji that stand for words
    /// ([`crate::channel::emoji::is_table_emoji`]) read as words or kept, or split and
    /// look-alike characters read back.
    pub fn push_segment_view(&mut self, src: &str, view: View) -> usize {
        if view == View::Recomposed {
            let seg = self.next_segment();
            let pending = self.pending_gap();
            let shown = Displayed::recomposed(src);
            self.push_chars(&shown.text, Some(&shown.source), seg, pending, View::Plain);
            return seg as usize;
        }
        let seg = self.next_segment();
        let pending = self.pending_gap();
        let mark = (
            self.text.len(),
            self.chars.len(),
            self.letters,
            self.digits,
            self.numeral_runs,
        );
        if !self.push_chars(src, None, seg, pending, view) {
            // An override: start again on the order a chat window shows. Rare, so the
            // common text pays nothing for it but a comparison on invisible characters.
            self.text.truncate(mark.0);
            self.chars.truncate(mark.1);
            (self.letters, self.digits, self.numeral_runs) = (mark.2, mark.3, mark.4);
            let shown = Displayed::of(src);
            self.push_chars(&shown.text, Some(&shown.source), seg, pending, view);
        }
        seg as usize
    }

    /// The gap before a new segment's first character.
    fn pending_gap(&self) -> Gap {
        if self.chars.is_empty() {
            Gap::None
        } else {
            Gap::Event
        }
    }

    /// Whether character `i` of a [`View::Recomposed`] view of `src` (its only
    /// segment) was read back: it stands for characters of `src` none of which folds to
    /// it (`淘` for `氵匋`, `原` for `厡`).
    pub fn recomposed_at(&self, i: usize, src: &str) -> bool {
        let c = &self.chars[i];
        let Some(written) = src.get(c.src_start as usize..c.src_end as usize) else {
            return false;
        };
        let Some(read) = self.text[c.byte as usize..].chars().next() else {
            return false;
        };
        !written.chars().any(|w| fold(w) == Fold::Char(read))
    }

    /// Normalize `src` into segment `seg`. Without a `source` map, `src` is the
    /// original text, and the pass stops at a right-to-left override, returning false
    /// (having written part of the segment). With one, `src` is a displayed text and
    /// `source[b]` the original range of its character at byte `b`.
    fn push_chars(
        &mut self,
        src: &str,
        source: Option<&[(u32, u32)]>,
        seg: u8,
        pending: Gap,
        view: View,
    ) -> bool {
        let mut w = Writer {
            out: self,
            src,
            source,
            seg,
            pending,
            last: None,
        };
        let folder = Folder::get();
        w.out.text.reserve(src.len());
        w.out.chars.reserve(src.len() / 2);
        for (i, c) in src.char_indices() {
            let end = i + c.len_utf8();
            match folder.fold(c) {
                Fold::Char(f) if f.is_ascii_digit() => w.digit(f, is_chinese_numeral(c), i, end),
                Fold::Char(f) => w.emit(f, false, i, end),
                // Expansions (㎥ → m3) go through the digit rules like typed text, or
                // normalizing the output again would change it.
                Fold::Expand(s) => {
                    for f in s.chars() {
                        if f.is_ascii_digit() {
                            w.digit(f, false, i, end);
                        } else {
                            w.emit(f, false, i, end);
                        }
                    }
                }
                Fold::Drop => {
                    if c == RLO && w.source.is_none() {
                        return false;
                    }
                }
                Fold::Soft if c as u32 >= 0x2000 && crate::channel::emoji::is_table_emoji(c) => {
                    let reading = |k: u8| crate::channel::emoji::reading(c, usize::from(k));
                    match view {
                        View::EmojiKept => w.emit(c, false, i, end),
                        View::EmojiRead(k) if let Some(word) = reading(k) => {
                            for f in word.chars() {
                                if f.is_ascii_digit() {
                                    w.digit(f, false, i, end);
                                } else {
                                    w.emit(f, false, i, end);
                                }
                            }
                        }
                        _ => {
                            let n = crate::channel::emoji::readings(c) as u8;
                            w.out.emoji_readings = w.out.emoji_readings.max(n);
                            w.gap(Gap::Soft);
                        }
                    }
                }
                Fold::Soft => w.gap(Gap::Soft),
                Fold::Hard => w.gap(Gap::Hard),
                Fold::Special(s) => w.special(s, i, end),
            }
        }
        true
    }

    /// The smallest source range that holds characters `range` (which must be of one
    /// segment): their first and last characters bound it, except inside a
    /// right-to-left override, where offsets go backwards.
    pub fn source_span(&self, range: std::ops::Range<usize>) -> (usize, usize) {
        self.chars[range].iter().fold((usize::MAX, 0), |(a, z), c| {
            (a.min(c.src_start as usize), z.max(c.src_end as usize))
        })
    }
}

/// RIGHT-TO-LEFT OVERRIDE: what follows it, up to its POP DIRECTIONAL FORMATTING or
/// the end of the line, is shown reversed (`\u{202E}聊私信微加\u{202C}` reads 加微信私聊).
const RLO: char = '\u{202E}';

/// A text in the order a chat window shows it: every right-to-left override run
/// reversed. Nested embeddings and overrides are treated simply: the whole run of the
/// outer override is reversed (exact for overrides nested in it, the usual case; an
/// LTR override inside one would really keep its own order). Other bidi controls
/// change nothing a reader sees in Han or Latin text, and are dropped as before.
struct Displayed {
    text: String,
    /// Per byte of `text` (at character starts): the character's original range.
    source: Vec<(u32, u32)>,
}

impl Displayed {
    fn of(src: &str) -> Displayed {
        let chars: Vec<(usize, char)> = src.char_indices().collect();
        let mut d = Displayed {
            text: String::with_capacity(src.len()),
            source: Vec::with_capacity(src.len()),
        };
        let mut k = 0;
        while k < chars.len() {
            let (at, c) = chars[k];
            k += 1;
            if c != RLO {
                d.push(at, c);
                continue;
            }
            // The run: up to the PDF that closes this override, a line break, or the end.
            let mut depth = 1u32;
            let mut end = k;
            while let Some(&(_, n)) = chars.get(end) {
                match n {
                    '\u{202A}' | '\u{202B}' | '\u{202D}' | RLO => depth += 1,
                    '\u{202C}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => break,
                    _ => {}
                }
                end += 1;
            }
            for &(at, c) in chars[k..end].iter().rev() {
                d.push(at, c);
            }
            // The closing PDF (dropped) or the line break follow in their place.
            k = end;
        }
        d
    }

    fn push(&mut self, at: usize, c: char) {
        self.push_span(c, (at as u32, (at + c.len_utf8()) as u32));
    }

    fn push_span(&mut self, c: char, span: (u32, u32)) {
        let b = self.text.len();
        self.text.push(c);
        self.source.resize(self.text.len(), (0, 0));
        self.source[b] = span;
    }

    /// `src` as shown (see [`Displayed::of`]), with each pair of components written
    /// side by side replaced by the character they make, repeatedly (a made character
    /// may be the first part of another), and each rare look-alike by the character it
    /// imitates ([`View::Recomposed`]). A read-back character's span covers all it was
    /// read from.
    fn recomposed(src: &str) -> Displayed {
        let shown = if src.contains(RLO) {
            Displayed::of(src)
        } else {
            let mut d = Displayed {
                text: String::with_capacity(src.len()),
                source: Vec::with_capacity(src.len()),
            };
            for (at, c) in src.char_indices() {
                d.push(at, c);
            }
            d
        };
        let han = |c: char| match fold(c) {
            Fold::Char(f) if crate::channel::is_han(f) => Some(f),
            _ => None,
        };
        let chars: Vec<(char, (u32, u32))> = shown
            .text
            .char_indices()
            .map(|(b, c)| (c, shown.source[b]))
            .collect();
        let mut out = Displayed {
            text: String::with_capacity(shown.text.len()),
            source: Vec::with_capacity(shown.source.len()),
        };
        let mut k = 0;
        while let Some(&(c, span)) = chars.get(k) {
            k += 1;
            let Some(mut read) = han(c) else {
                out.push_span(c, span);
                continue;
            };
            let (mut from, mut to) = span;
            while let Some(&(n, (a, z))) = chars.get(k)
                && let Some(made) = han(n).and_then(|g| crate::channel::shape::composed(read, g))
            {
                read = made;
                (from, to) = (from.min(a), to.max(z));
                k += 1;
            }
            if (from, to) == span {
                match crate::channel::shape::original(read) {
                    Some(o) => out.push_span(o, span),
                    None => out.push_span(c, span),
                }
            } else {
                out.push_span(read, (from, to));
            }
        }
        out
    }
}

/// State of one `push_segment` pass.
struct Writer<'a> {
    out: &'a mut NormText,
    /// The segment's source text (looked ahead into for digits and specials only), or
    /// its displayed order (see [`Displayed`]).
    src: &'a str,
    /// For a displayed text: the original range of the character at each byte.
    source: Option<&'a [(u32, u32)]>,
    seg: u8,
    /// The strongest gap seen since the last emitted character.
    pending: Gap,
    /// The last character emitted in this segment.
    last: Option<char>,
}

impl Writer<'_> {
    fn gap(&mut self, g: Gap) {
        self.pending = self.pending.max(g);
    }

    /// Whether the position before `end` sits between two Latin letters, separators
    /// aside. Looking through every gap keeps normalization idempotent: the output has
    /// no separators left, so a second pass must reach the same decision.
    fn in_latin_word(&self, after: &str) -> bool {
        self.last.is_some_and(|p| p.is_ascii_alphabetic())
            && next_visible(after, true).is_some_and(|n| n.is_ascii_alphabetic())
    }

    fn last_is_digit(&self) -> bool {
        self.last.is_some_and(|p| p.is_ascii_digit())
    }

    /// A digit: leetspeak inside a Latin word (w3chat, we1xin), else itself.
    fn digit(&mut self, d: char, numeral: bool, start: usize, end: usize) {
        let mut c = d;
        if let Some(l) = leet(d) {
            let after = &self.src[end..];
            let in_word = if numeral {
                // Repeats of the same numeral will collapse into this one: look past
                // them too (and past noise, but not a `+` that stands for 加).
                let end = after
                    .char_indices()
                    .find(|&(i, n)| match fold(n) {
                        Fold::Drop | Fold::Soft | Fold::Hard => false,
                        Fold::Special(p) if is_plus(p) => {
                            plus_reads_as_add(&after[i + n.len_utf8()..])
                        }
                        Fold::Special(_) => false,
                        f => !(is_chinese_numeral(n) && f == Fold::Char(d)),
                    })
                    .map_or(after.len(), |(i, _)| i);
                self.in_latin_word(&after[end..])
            } else {
                self.in_latin_word(after)
            };
            if in_word {
                c = l;
            }
        }
        self.emit(c, numeral, start, end);
    }

    fn special(&mut self, c: char, start: usize, end: usize) {
        let after = &self.src[end..];
        match c {
            // A percent sign belongs to the number before it: 100% (also 100 %).
            '%' | '％' | '﹪' => {
                if self.pending <= Gap::Soft && self.last_is_digit() {
                    self.emit('%', false, start, end);
                } else {
                    self.gap(Gap::Soft);
                }
            }
            // A colon between digits is a ratio or a time (1:1, 1.:.1, 11:11), not noise.
            ':' | '：' | '﹕' | '︰' => {
                if self.pending <= Gap::Soft
                    && self.last_is_digit()
                    && next_visible(after, true).is_some_and(|n| n.is_ascii_digit())
                {
                    self.emit(':', false, start, end);
                } else {
                    self.gap(Gap::Soft);
                }
            }
            // `+` stands for 加 before a contact (`+V`, `➕微`, `+q 123`) or at the start of
            // the text; between two words it is a separator (`狗+东西`, `苹果+香蕉`).
            '+' | '＋' | '﹢' | '➕' => {
                if self.last.is_none() || plus_reads_as_add(after) {
                    self.emit('加', false, start, end);
                } else {
                    self.gap(Gap::Soft);
                }
            }
            // Inside a Latin word these stand for letters: wech@t, ca$h.
            '@' | '＠' | '﹫' | '$' | '＄' | '﹩' => {
                let leet = if matches!(c, '@' | '＠' | '﹫') {
                    'a'
                } else {
                    's'
                };
                if self.in_latin_word(after) {
                    self.emit(leet, false, start, end);
                } else {
                    self.gap(Gap::Soft);
                }
            }
            _ => self.gap(Gap::Soft),
        }
    }

    #[inline(always)]
    fn emit(&mut self, c: char, numeral: bool, start: usize, end: usize) {
        let (start, end) = match self.source {
            None => (start, end),
            Some(source) => {
                let (a, z) = source[start];
                (a as usize, z as usize)
            }
        };
        // Collapse repeats within the segment, through any separator (私 私我, 加微微信);
        // through clause punctuation too, or a second pass would collapse what the
        // first one kept apart.
        if self.last == Some(c)
            && let Some(last) = self.out.chars.last_mut()
            && (collapsible(c) || (numeral && last.numeral))
        {
            last.run = last.run.saturating_add(1);
            last.split_run |= self.pending != Gap::None;
            // Inside an override the repeat may stand before the first one.
            last.src_start = last.src_start.min(start as u32);
            last.src_end = last.src_end.max(end as u32);
            // What the stored character is decides, as in `push_packed`: a numeral
            // read as a letter that joins a plain letter's run is not a numeral run.
            self.out.numeral_runs |= last.numeral;
            self.pending = Gap::None;
            return;
        }
        let byte = self.out.text.len() as u32;
        self.out.text.push(c);
        self.out.letters += u32::from(c.is_ascii_lowercase());
        self.out.digits += u32::from(c.is_ascii_digit());
        self.out.chars.push(NormChar {
            byte,
            src_start: start as u32,
            src_end: end as u32,
            run: 1,
            gap: self.pending,
            seg: self.seg,
            numeral,
            split_run: false,
        });
        self.last = Some(c);
        self.pending = Gap::None;
    }
}

/// Repeats of digits are meaningful (100, 1388888); repeats of letters are noise.
/// (Repeated Chinese numerals collapse too, `第一一`, see [`NormChar::numeral`]; the
/// regex rules see them expanded again.)
fn collapsible(c: char) -> bool {
    !c.is_ascii_digit() && c != '%' && c != ':'
}

/// Whether `c` is a Chinese character that folds to a digit (一, 壹, 〇, 幺, 貳, …).
fn is_chinese_numeral(c: char) -> bool {
    matches!(c as u32, 0x3007 | 0x3400..=0x9FFF | 0xF900..=0xFAFF | 0x2_0000..=0x3_FFFF)
}

fn leet(d: char) -> Option<char> {
    Some(match d {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        _ => return None,
    })
}

/// The fold of the next character that is not invisible (nor, with `skip_soft`, a
/// separator), if it is a plain character.
fn next_visible(after: &str, skip_soft: bool) -> Option<char> {
    for (i, c) in after.char_indices() {
        match fold(c) {
            Fold::Drop => continue,
            // A `+` is read as 加 or as noise by what follows it: decide the same way.
            Fold::Special(p) if is_plus(p) && plus_reads_as_add(&after[i + c.len_utf8()..]) => {
                return Some('加');
            }
            // Specials next to a letter turn into noise or letters; look past them so
            // that a second pass over the output decides the same way.
            Fold::Soft | Fold::Hard | Fold::Special(_) if skip_soft => continue,
            Fold::Char(f) => return Some(f),
            Fold::Expand(s) => return s.chars().next(),
            _ => return None,
        }
    }
    None
}

/// The plus signs: `+` `＋` `﹢` `➕`.
fn is_plus(c: char) -> bool {
    matches!(c, '+' | '＋' | '﹢' | '➕')
}

/// What a `+` reads as 加 before, besides a Latin letter or a digit: the first
/// characters of the contact words that follow 加 in a contact offer (`+微`/`+薇`/`+威`
/// /`+维`(微信), `+我`, `+他`/`+她`, `+群`, `+扣`/`+寇`/`+蔻`(扣扣), `+球`(球球)).
const PLUS_CONTACT_CHARS: &[char] = &[
    '微', '薇', '威', '维', '我', '他', '她', '群', '扣', '寇', '蔻', '球',
];

/// …and the contact words of two characters (`+好友`, `+企鹅`, `+客服`, …).
const PLUS_CONTACT_WORDS: &[[char; 2]] = &[
    ['好', '友'],
    ['企', '鹅'],
    ['客', '服'],
    ['主', '播'],
    ['老', '板'],
    ['店', '主'],
    ['助', '理'],
    ['小', '助'],
    ['联', '系'],
];

/// How far past a `+` [`plus_reads_as_add`] looks, in characters: a run of thousands
/// of plus signs must not cost a scan to its end for each of them.
const PLUS_LOOKAHEAD: usize = 16;

/// Whether a `+` followed by `after` reads as 加 (a `+` that starts the text always
/// does): the next visible character, past separators and other plus signs (within
/// [`PLUS_LOOKAHEAD`] characters), is a Latin letter, a digit (not a Chinese numeral:
/// `苹果+一斤` is a list) or starts a contact word. Never asks what another `+` means,
/// so deciding costs no recursion.
fn plus_reads_as_add(after: &str) -> bool {
    for (i, c) in after.char_indices().take(PLUS_LOOKAHEAD) {
        match fold(c) {
            Fold::Drop | Fold::Soft => {}
            Fold::Special(p) if is_plus(p) => {}
            Fold::Expand(s) => return s.starts_with(|f: char| f.is_ascii_alphanumeric()),
            Fold::Char(f) if f.is_ascii_alphabetic() => return true,
            Fold::Char(f) if f.is_ascii_digit() => return !is_chinese_numeral(c),
            Fold::Char(f) if PLUS_CONTACT_CHARS.contains(&f) => return true,
            Fold::Char(f) => {
                let second = after[i + c.len_utf8()..]
                    .chars()
                    .take(PLUS_LOOKAHEAD)
                    .find_map(|n| match fold(n) {
                        Fold::Drop | Fold::Soft => None,
                        Fold::Char(g) => Some(Some(g)),
                        _ => Some(None),
                    });
                return second
                    .flatten()
                    .is_some_and(|g| PLUS_CONTACT_WORDS.contains(&[f, g]));
            }
            _ => return false,
        }
    }
    false
}

/// Normalize a single string; a convenience for tests and tools.
pub fn normalize(src: &str) -> String {
    NormText::normalized(src).text
}

#[cfg(test)]
mod tests;

/// The Chinese numeral for digit `d` (`零` for 0: 零食, not 〇).
pub fn numeral(d: u32) -> char {
    ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'][d as usize % 10]
}
