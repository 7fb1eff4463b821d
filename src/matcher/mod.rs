//! The matcher: finds lexicon hits in normalized text.
//!
//! A [`Matcher`] is compiled once per lexicon version and is immutable and cheap to
//! share (`Arc`); reload builds a new one and swaps it. It is synchronous and knows
//! nothing of sockets or time, so it can be tested, fuzzed and benchmarked alone.
//!
//! Every literal the lexicon uses (terms, variants, allow phrases, context words, rule
//! anchors) is normalized like the text and compiled into an Aho-Corasick automaton run
//! with overlapping semantics: one pass over the text yields every candidate. Pinyin
//! spellings live in a second automaton that only runs when the text has Latin
//! letters, which most chat does not. Each candidate is then checked against what a
//! word list cannot say:
//!
//! 1. the *shape* of the occurrence: doubled characters of the term present as runs in
//!    the text, no Latin letter or digit glued to a Latin or digit edge of the term,
//!    and no clause gap inside the term unless it is noise (see `gaps_allow_term`);
//! 2. the speaker's role; `requires` and `unless` context groups;
//! 3. the allow-list: a hit inside an occurrence of one of its entry's allow phrases
//!    is dropped;
//! 4. overlaps: a hit inside a longer hit of the same category is dropped.
//!
//! Regex rules (phone numbers, `瘦N斤`, `原价…只要…`) run over the same normalized text,
//! gated by anchors or a digit count so that most events never reach a regex.

mod build;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use regex::Regex;

use crate::channel::sound::Likeness;
use crate::channel::{ChannelSet, Via, is_han, sound, words};
use crate::event::{Category, Role, Severity};
use crate::normalize::{Gap, NormText};

pub use build::{AutomatonKind, BuildError, BuildOptions};

/// A compiled lexicon entry: what a hit reports and what it needs.
#[derive(Debug)]
pub struct CompiledEntry {
    /// Stable id, reported as the hit's rule.
    pub id: Arc<str>,
    /// Canonical term (or the rule's label).
    pub term: Arc<str>,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Legal basis cited in actions.
    pub basis: Arc<str>,
    /// The match channels the entry uses.
    pub channels: ChannelSet,
    /// The channels whose read-back views may report it (see
    /// [`crate::lexicon::Entry::read_back`]).
    pub read_back: ChannelSet,
    /// A claim lawful when true, for a moderator to verify.
    pub review: bool,
    /// The explanation for reviewers (the lexicon's `note`).
    pub note: Arc<str>,
    /// Compliant wordings to offer instead (the lexicon's `suggest`).
    pub suggest: Arc<[String]>,
    roles: RoleSet,
    requires: Box<[u16]>,
    unless: Box<[u16]>,
}

/// A small set of roles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RoleSet(u8);

impl RoleSet {
    fn of(roles: &[Role]) -> RoleSet {
        RoleSet(roles.iter().fold(0, |acc, r| acc | RoleSet::bit(*r)))
    }

    fn all() -> RoleSet {
        RoleSet::of(&Role::ALL)
    }

    fn bit(r: Role) -> u8 {
        1 << (r as u8)
    }

    fn contains(self, r: Role) -> bool {
        self.0 & RoleSet::bit(r) != 0
    }
}

/// What a pattern of the automaton stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Target {
    /// A term or variant of entry `n`, spelled the way of a channel.
    Term(u32, Via),
    /// The syllables of homophone literal `n` (index into `Matcher::sound_literals`).
    Sound(u32),
    /// Allow phrase `n` (index into `Matcher::allows`).
    Allow(u32),
    /// A word of context group `n`.
    Group(u16),
    /// An anchor of regex rule `n`.
    Anchor(u16),
}

/// The shape constraints of one normalized pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    /// (char offset, run length) for characters that are doubled in the pattern.
    runs: Box<[(u16, u8)]>,
    latin_start: bool,
    latin_end: bool,
    digit_start: bool,
    digit_end: bool,
}

/// One automaton with what each of its patterns stands for.
#[derive(Debug)]
struct Partition {
    automaton: Automaton,
    /// Per pattern: its length in normalized characters.
    chars: Vec<u16>,
    /// Per target: the shape of the literal it came from.
    shapes: Vec<Shape>,
    /// `targets[starts[p]..starts[p + 1]]` are pattern `p`'s targets.
    starts: Vec<u32>,
    targets: Vec<Target>,
}

/// The compiled automaton. Walked by hand (rather than through `AhoCorasick`'s
/// overlapping iterator) so that one tight loop reports every match with its end in
/// characters, which the shape checks need.
enum Automaton {
    Dfa(aho_corasick::dfa::DFA),
    Nfa(aho_corasick::nfa::contiguous::NFA),
    DoubleArray(daachorse::CharwiseDoubleArrayAhoCorasick<u32>),
}

impl std::fmt::Debug for Automaton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Automaton::Dfa(_) => "Dfa",
            Automaton::Nfa(_) => "Nfa",
            Automaton::DoubleArray(_) => "DoubleArray",
        })
    }
}

impl Automaton {
    /// Call `f(pattern, end)` for every occurrence of every pattern in `text`, where
    /// `end` is the occurrence's end in characters.
    #[inline]
    fn for_each_match(&self, text: &NormText, f: impl FnMut(usize, usize)) {
        self.for_each_match_str(text.as_str(), text, f);
    }

    /// [`Automaton::for_each_match`] over `s`, a view of `text` with one character per
    /// normalized character (the sound view).
    #[inline]
    fn for_each_match_str(&self, s: &str, text: &NormText, mut f: impl FnMut(usize, usize)) {
        let bytes = s.as_bytes();
        match self {
            Automaton::Dfa(a) => walk(a, bytes, f),
            Automaton::Nfa(a) => walk(a, bytes, f),
            Automaton::DoubleArray(a) => {
                if std::ptr::eq(s, text.as_str()) {
                    for m in a.find_overlapping_iter(s) {
                        f(m.value() as usize, text.char_index(m.end()));
                    }
                } else {
                    for m in a.find_overlapping_iter(s) {
                        f(m.value() as usize, s[..m.end()].chars().count());
                    }
                }
            }
        }
    }

    fn memory_usage(&self) -> usize {
        use aho_corasick::automaton::Automaton as _;
        match self {
            Automaton::Dfa(a) => a.memory_usage(),
            Automaton::Nfa(a) => a.memory_usage(),
            Automaton::DoubleArray(a) => a.heap_bytes(),
        }
    }
}

#[inline]
fn walk<A: aho_corasick::automaton::Automaton>(
    a: &A,
    bytes: &[u8],
    mut f: impl FnMut(usize, usize),
) {
    use aho_corasick::Anchored;
    // An unanchored start state always exists: the automata are built unanchored.
    let Ok(mut sid) = a.start_state(Anchored::No) else {
        return;
    };
    let mut chars = 0usize;
    for &b in bytes {
        // Count characters as their first bytes go by: a match ends on a boundary,
        // so at a match the count is the end in characters.
        chars += usize::from((b as i8) >= -0x40);
        sid = a.next_state(Anchored::No, sid, b);
        if a.is_special(sid) && a.is_match(sid) {
            for k in 0..a.match_len(sid) {
                f(a.match_pattern(sid, k).as_usize(), chars);
            }
        }
    }
}

/// A literal of the homophone channel: what its sound pattern must be checked against.
#[derive(Debug)]
struct SoundLiteral {
    entry: u32,
    /// The normalized literal.
    chars: Box<[char]>,
    shape: Shape,
}

#[derive(Debug)]
struct CompiledAllow {
    entry: u32,
    roles: RoleSet,
}

#[derive(Debug)]
struct CompiledGroup {
    roles: RoleSet,
    /// Some entry `requires` it: an earlier event of the sender may supply it (see
    /// [`Matcher::scan_in_context`]).
    required: bool,
}

#[derive(Debug)]
struct CompiledRule {
    entry: u32,
    regex: Regex,
    has_anchors: bool,
    min_digits: usize,
    /// The spellings of the pattern's group words other than as written (pinyin,
    /// sound), and the channel each reads: a match that holds one reports that
    /// channel (a guess before pinyin). `None` for a rule that names no group.
    spellings: Option<(aho_corasick::AhoCorasick, Box<[Via]>)>,
}

impl CompiledRule {
    /// The channel a match of this rule, `matched` (normalized), came through. Runs
    /// only on matches, which are rare; an automaton, since a rule's group words have
    /// hundreds of spellings.
    fn via_of(&self, matched: &str) -> Via {
        let Some((automaton, vias)) = &self.spellings else {
            return Via::Exact;
        };
        let mut via = Via::Exact;
        for m in automaton.find_overlapping_iter(matched) {
            via = vias[m.pattern().as_usize()];
            if via.is_weak() {
                break;
            }
        }
        via
    }
}

/// A compiled lexicon, ready to scan.
#[derive(Debug)]
pub struct Matcher {
    version: Arc<str>,
    hash: Arc<str>,
    entries: Vec<CompiledEntry>,
    allows: Vec<CompiledAllow>,
    groups: Vec<CompiledGroup>,
    rules: Vec<CompiledRule>,
    /// The rules without anchors, as a bit set over `rules`: they run on every event
    /// that has their digits.
    unanchored: Vec<u64>,
    main: Partition,
    pinyin: Option<Partition>,
    /// Syllables of the terms, matched over a text's sound view (homophone channel).
    sound: Option<Partition>,
    sound_literals: Vec<SoundLiteral>,
    /// Syllable pairs that open a sound pattern: gates the sound automaton.
    sound_openings: sound::Openings,
    /// Emoji spellings of the terms, matched over an emoji view (emoji channel).
    emoji: Option<Partition>,
    /// Longest term in normalized characters: a window needs this many minus one
    /// characters of history to complete any term.
    longest_term: usize,
    /// Tells this lexicon's group indices from another's (from the content hash).
    context_tag: u32,
    stats: MatcherStats,
}

/// Sizes of a compiled matcher, for `GET /v1/lexicon` and the docs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MatcherStats {
    /// Lexicon entries.
    pub entries: usize,
    /// Patterns in the main automaton.
    pub patterns: usize,
    /// Patterns in the pinyin automaton (pinyin and initials spellings).
    pub pinyin_patterns: usize,
    /// Patterns in the homophone (syllable) automaton.
    pub sound_patterns: usize,
    /// Patterns in the emoji automaton.
    pub emoji_patterns: usize,
    /// Look-alike variants in the main automaton.
    pub lookalike_variants: usize,
    /// Regex rules.
    pub rules: usize,
    /// Heap bytes of both automata.
    pub automaton_bytes: usize,
}

/// A hit found by [`Matcher::scan`]: an entry and the span of normalized characters it
/// covers (which may start in earlier segments of a window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawHit {
    /// Index of the entry ([`Matcher::entry`]).
    pub entry: u32,
    /// First normalized character.
    pub start: usize,
    /// One past the last normalized character.
    pub end: usize,
    /// How it matched.
    pub via: Via,
}

/// Reusable buffers for [`Matcher::scan`], so scanning does not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    candidates: Vec<RawHit>,
    /// The sound view of the text (homophone channel).
    sound: String,
    /// Per character of the text: inside an exact occurrence of a term.
    exact: Vec<bool>,
    allows: Vec<(u32, usize, usize)>,
    groups: Vec<u64>,
    anchors: Vec<u64>,
    /// Required groups found in earlier events, beyond the text (see
    /// [`Matcher::scan_in_context`]).
    earlier: Vec<u16>,
    /// Required groups whose words end in the current segment.
    here: Vec<u16>,
}

impl Scratch {
    /// The groups some entry requires whose words the last scan found ending in its
    /// current segment, for the sender's window to remember (usually none).
    pub fn required_groups_here(&self) -> &[u16] {
        &self.here
    }
}

impl Matcher {
    /// The lexicon version stamped on verdicts.
    pub fn version(&self) -> &Arc<str> {
        &self.version
    }

    /// The content hash of the lexicon files.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Entry `i` of the compiled lexicon.
    pub fn entry(&self, i: u32) -> &CompiledEntry {
        &self.entries[i as usize]
    }

    /// Every entry, in lexicon order.
    pub fn entries(&self) -> &[CompiledEntry] {
        &self.entries
    }

    /// Sizes, for operations.
    pub fn stats(&self) -> MatcherStats {
        self.stats
    }

    /// The longest term in normalized characters.
    pub fn longest_term(&self) -> usize {
        self.longest_term
    }

    /// A tag of this lexicon's context groups: group indices remembered under another
    /// tag (before a reload) mean other groups.
    pub fn context_tag(&self) -> u32 {
        self.context_tag
    }

    /// Find the hits of `text` that end in segment `current` (earlier segments are the
    /// window: context for this event, already judged themselves), for a speaker with
    /// `role`. Hits are appended to `out` ordered by position.
    pub fn scan(
        &self,
        text: &NormText,
        current: usize,
        role: Role,
        scratch: &mut Scratch,
        out: &mut Vec<RawHit>,
    ) {
        self.scan_in_context(text, current, role, &[], scratch, out);
    }

    /// [`Matcher::scan`], where the required groups `earlier` (indices from
    /// [`Scratch::required_groups_here`] of earlier events of the sender, under this
    /// [`Matcher::context_tag`]) count as present for `requires`, even if their words
    /// are no longer in `text`: a rival named a few messages ago is still the target
    /// (`前两天在隔壁直播间` / … / `全是假货`). They do not count for `unless`.
    pub fn scan_in_context(
        &self,
        text: &NormText,
        current: usize,
        role: Role,
        earlier: &[u16],
        scratch: &mut Scratch,
        out: &mut Vec<RawHit>,
    ) {
        scratch.earlier.clear();
        scratch.earlier.extend_from_slice(earlier);
        scratch.here.clear();
        self.start_view(scratch);
        if text.is_empty() {
            return;
        }
        self.collect(&self.main, text, current, scratch);
        if let Some(p) = &self.pinyin
            && text.letters() > 0
        {
            self.collect(p, text, current, scratch);
        }
        // Two syllables at least: most chat has them, so this runs on nearly every event.
        if let Some(p) = &self.sound
            && text.as_str().len() >= 6
        {
            self.collect_sound(p, text, current, scratch);
        }
        self.run_rules(text, current, scratch);
        self.judge(role, scratch, out);
    }

    /// Find the emoji channel's hits in `view`, an event normalized with the emoji of
    /// [`crate::channel::emoji`] kept as characters (see [`NormText::push_segment_view`]),
    /// as its only segment. Only hits spelled with an emoji are reported: the rest are
    /// [`Matcher::scan`]'s.
    pub fn scan_emoji(
        &self,
        view: &NormText,
        role: Role,
        scratch: &mut Scratch,
        out: &mut Vec<RawHit>,
    ) {
        let Some(p) = &self.emoji else {
            return;
        };
        self.start_view(scratch);
        self.collect(&self.main, view, 0, scratch);
        scratch.candidates.clear();
        self.collect(p, view, 0, scratch);
        self.judge(role, scratch, out);
    }

    /// The emoji channel's reading views: `view` is the event normalized with every
    /// emoji of the table read as one of its words ([`crate::normalize::View::EmojiRead`]:
    /// `闲🐟` as 闲鱼, `原💲599` as 原价599, `就是💩` as 就是垃圾), so that regex rules,
    /// templated terms and whole terms, which have no emoji spellings, see the word.
    /// Only hits that cover such a word are reported, as [`Via::Emoji`]; `src` is the
    /// event's text.
    pub fn scan_readings(
        &self,
        view: &NormText,
        src: &str,
        role: Role,
        scratch: &mut Scratch,
        out: &mut Vec<RawHit>,
    ) {
        let chars = view.chars();
        let read = |i: usize| {
            src.get(chars[i].src_start as usize..)
                .and_then(|s| s.chars().next())
                .is_some_and(crate::channel::emoji::is_table_emoji)
        };
        self.scan_read_back(view, Via::Emoji, read, role, scratch, out);
    }

    /// The look-alike channel's recomposed view: `view` is the event normalized with
    /// components written side by side read as the character they make and rare
    /// look-alikes as what they imitate ([`crate::normalize::View::Recomposed`]: `氵匋宝`
    /// as 淘宝, `门木鱼` as 闲鱼, `厡价` as 原价), so that regex rules and templated terms,
    /// which have no look-alike spellings, and terms whose variants were cut
    /// ([`crate::channel::shape::MAX_VARIANTS`]) see the character. Only hits that cover
    /// a read-back character are reported, as [`Via::Lookalike`]; `src` is the event's
    /// text.
    pub fn scan_recomposed(
        &self,
        view: &NormText,
        src: &str,
        role: Role,
        scratch: &mut Scratch,
        out: &mut Vec<RawHit>,
    ) {
        let read = |i: usize| view.recomposed_at(i, src);
        self.scan_read_back(view, Via::Lookalike, read, role, scratch, out);
    }

    /// Match a view in which disguises were read back (the event as its only segment):
    /// keep the hits that cover a character `read_back` says was, as `via`, for the
    /// entries that have that channel on.
    fn scan_read_back(
        &self,
        view: &NormText,
        via: Via,
        read_back: impl Fn(usize) -> bool,
        role: Role,
        scratch: &mut Scratch,
        out: &mut Vec<RawHit>,
    ) {
        self.start_view(scratch);
        self.collect(&self.main, view, 0, scratch);
        self.run_rules(view, 0, scratch);
        let entries = &self.entries;
        scratch.candidates.retain_mut(|h| {
            h.via = via;
            entries[h.entry as usize].read_back.contains(via) && (h.start..h.end).any(&read_back)
        });
        self.judge(role, scratch, out);
    }

    /// Forget the last view's candidates, allow ranges, groups and rule anchors
    /// before matching another (the sender's earlier groups stay for the event).
    fn start_view(&self, scratch: &mut Scratch) {
        scratch.candidates.clear();
        scratch.allows.clear();
        reset_bits(&mut scratch.groups, self.groups.len());
        reset_bits(&mut scratch.anchors, self.rules.len());
    }

    /// The homophone channel: the terms' syllables over the text's sound view. A match
    /// that spells the term exactly is the exact channel's; the rest must look like an
    /// evasion and not like two words that happen to sound like one (see
    /// [`plausible_homophone`]).
    fn collect_sound(&self, p: &Partition, text: &NormText, current: usize, s: &mut Scratch) {
        // Most chat has no two neighbouring syllables that begin a sound pattern.
        if !self.sound_openings.any_in_text(text) {
            return;
        }
        let mut view = std::mem::take(&mut s.sound);
        sound::view(text, &mut view);
        // Characters inside an exact occurrence of a term, for `plausible_homophone`:
        // marked on the first sound match that differs from its term (most events have
        // none: the common match is the exact term itself, or nothing).
        let mut exact = std::mem::take(&mut s.exact);
        exact.clear();
        let candidates = &s.candidates;
        let mark = |exact: &mut Vec<bool>| {
            if exact.is_empty() {
                exact.resize(text.chars().len(), false);
                for h in candidates.iter().filter(|h| h.via == Via::Exact) {
                    exact[h.start..h.end].fill(true);
                }
            }
        };
        let mut found = Vec::new();
        let chars = text.chars();
        p.automaton.for_each_match_str(&view, text, |pid, cj| {
            let ci = cj - usize::from(p.chars[pid]);
            if chars[cj - 1].seg as usize != current || gaps_allow_term(text, ci, cj) != Gaps::Term
            {
                return;
            }
            let targets = &p.targets[p.starts[pid] as usize..p.starts[pid + 1] as usize];
            for &t in targets {
                let Target::Sound(l) = t else { continue };
                let lit = &self.sound_literals[l as usize];
                if !differs(lit, text, ci, cj) {
                    continue;
                }
                mark(&mut exact);
                if let Some((start, end)) = lit.shape.fits(text, ci, cj)
                    && plausible_homophone(lit, text, ci, cj, &exact)
                {
                    found.push(RawHit {
                        entry: lit.entry,
                        start,
                        end,
                        via: Via::Homophone,
                    });
                }
            }
        });
        s.candidates.extend(found);
        s.sound = view;
        s.exact = exact;
    }

    fn collect(&self, p: &Partition, text: &NormText, current: usize, s: &mut Scratch) {
        let chars = text.chars();
        p.automaton.for_each_match(text, |pid, end| {
            let begin = end - usize::from(p.chars[pid]);
            let range = p.starts[pid] as usize..p.starts[pid + 1] as usize;
            let mut fit = None;
            for k in range.clone() {
                // Targets are grouped by shape: check each shape once.
                if k == range.start || p.shapes[k] != p.shapes[k - 1] {
                    fit = p.shapes[k].fits(text, begin, end);
                }
                let Some((ci, cj)) = fit else { continue };
                let ends_here = chars[cj - 1].seg as usize == current;
                match p.targets[k] {
                    Target::Term(e, via) => {
                        if !ends_here
                            || (via == Via::Initials
                                && !initials_in_context(
                                    text,
                                    ci,
                                    cj,
                                    &p.shapes[k],
                                    self.entries[e as usize].category,
                                ))
                            || straddled(text, ci, cj)
                        {
                            continue;
                        }
                        let via = match gaps_allow_term(text, ci, cj) {
                            Gaps::Term => via,
                            Gaps::MidSentence
                                if via == Via::Exact
                                    && self.entries[e as usize].channels.contains(Via::Clause) =>
                            {
                                Via::Clause
                            }
                            _ => continue,
                        };
                        s.candidates.push(RawHit {
                            entry: e,
                            start: ci,
                            end: cj,
                            via,
                        });
                    }
                    Target::Sound(_) => {}
                    Target::Allow(a) => s.allows.push((a, ci, cj)),
                    Target::Group(g) => {
                        set_bit(&mut s.groups, g as usize);
                        if ends_here && self.groups[g as usize].required && !s.here.contains(&g) {
                            s.here.push(g);
                        }
                    }
                    Target::Anchor(r) => set_bit(&mut s.anchors, r as usize),
                }
            }
        });
    }

    fn run_rules(&self, text: &NormText, current: usize, s: &mut Scratch) {
        let mut view: Option<RuleView<'_>> = None;
        // Only the rules whose anchors were found, and those without anchors, in rule
        // order: walking every rule to test its bit cost more than the rules themselves
        // once the lexicon had a few hundred.
        let fired = s.anchors.iter().zip(&self.unanchored).enumerate();
        for (word, (&anchored, &always)) in fired {
            let mut bits = anchored | always;
            while bits != 0 {
                let i = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let rule = &self.rules[i];
                // Collapsed numerals only add digits: without them the count is exact.
                if text.digits() < rule.min_digits && !text.has_numeral_runs() {
                    continue;
                }
                let v = view.get_or_insert_with(|| RuleView::new(text));
                if v.digits < rule.min_digits {
                    continue;
                }
                let mut push = |start: usize, end: usize, matched: &str| {
                    let (ci, cj) = (v.char_index(text, start), v.char_index(text, end));
                    if ci < cj && text.chars()[cj - 1].seg as usize == current {
                        s.candidates.push(RawHit {
                            entry: rule.entry,
                            start: ci,
                            end: cj,
                            via: rule.via_of(matched),
                        });
                    }
                };
                // With a capturing group, the hit is group 1 (the regex may consume a
                // boundary character around it); otherwise the whole match.
                if rule.regex.captures_len() > 1 {
                    for c in rule.regex.captures_iter(&v.text) {
                        if let (Some(g), Some(whole)) = (c.get(1), c.get(0)) {
                            push(g.start(), g.end(), whole.as_str());
                        }
                    }
                } else {
                    for m in rule.regex.find_iter(&v.text) {
                        push(m.start(), m.end(), m.as_str());
                    }
                }
            }
        }
    }

    fn judge(&self, role: Role, s: &mut Scratch, out: &mut Vec<RawHit>) {
        let first = out.len();
        for &c in &s.candidates {
            let e = &self.entries[c.entry as usize];
            if !e.roles.contains(role) {
                continue;
            }
            let active = |g: &u16| {
                get_bit(&s.groups, *g as usize) && self.groups[*g as usize].roles.contains(role)
            };
            let recalled = |g: &u16| {
                s.earlier.contains(g)
                    && self
                        .groups
                        .get(*g as usize)
                        .is_some_and(|grp| grp.required && grp.roles.contains(role))
            };
            if !e.requires.is_empty() && !e.requires.iter().any(|g| active(g) || recalled(g)) {
                continue;
            }
            if e.unless.iter().any(active) {
                continue;
            }
            let allowed = s.allows.iter().any(|&(a, start, end)| {
                let a = &self.allows[a as usize];
                a.entry == c.entry && a.roles.contains(role) && start <= c.start && c.end <= end
            });
            if !allowed {
                out.push(c);
            }
        }
        // Order by position, longest first, most severe first, strongest channel first;
        // then drop duplicates of one entry and hits inside a longer (or equal, more
        // severe) hit of their category. A guess (a weak channel) never hides a hit of
        // the term as written.
        out[first..].sort_unstable_by_key(|h| {
            let severity = self.entries[h.entry as usize].severity;
            (
                h.start,
                std::cmp::Reverse(h.end),
                std::cmp::Reverse(severity),
                h.via,
            )
        });
        let mut kept = first;
        for i in first..out.len() {
            let h = out[i];
            let ce = &self.entries[h.entry as usize];
            let covered = out[first..kept].iter().any(|k| {
                let ke = &self.entries[k.entry as usize];
                k.start <= h.start
                    && h.end <= k.end
                    && (k.entry == h.entry || ke.category == ce.category)
                    && (h.via.is_weak() || !k.via.is_weak())
            });
            if !covered {
                out[kept] = h;
                kept += 1;
            }
        }
        out.truncate(kept);
    }
}

impl Shape {
    /// Whether an occurrence at characters `ci..cj` of `text` has this shape; if so,
    /// the characters the hit covers (see below for when they are more).
    fn fits(&self, text: &NormText, ci: usize, cj: usize) -> Option<(usize, usize)> {
        let chars = text.chars();
        let (mut start, mut end) = (ci, cj);
        for &(off, need) in self.runs.iter() {
            let at = ci + usize::from(off);
            let mut run = chars[at].run;
            // Repeats are collapsed per event, but a run continues across the boundary
            // of two events of a window when the new one starts with the character the
            // last one ended with (`…直接扣` / `扣上找我`, `好Q` / `Q群`): at an edge of
            // the pattern, count the repeats on the other side, and cover them, so the
            // earlier event is evidence.
            if at == ci {
                while run < need && start > 0 && text.run_continues(start - 1) {
                    start -= 1;
                    run = run.saturating_add(chars[start].run);
                }
            }
            if at + 1 == cj {
                while run < need && text.run_continues(end - 1) {
                    run = run.saturating_add(chars[end].run);
                    end += 1;
                }
            }
            if run < need {
                return None;
            }
        }
        let (ci, cj, last) = (start, end, cj - ci - 1);
        // A match that starts (ends) at a run with a separator inside starts after
        // (ends before) that separator (`wow wx号`, `abc cde`), unless the pattern needs
        // every repeat of the run (`aQ Q号` is glued).
        let need = |off: usize| {
            self.runs
                .iter()
                .find(|&&(o, _)| usize::from(o) == off)
                .map_or(1, |&(_, n)| n)
        };
        let split_at = |i: usize, off: usize| chars[i].split_run && chars[i].run > need(off);
        let glued_before = ci > 0 && chars[ci].gap == Gap::None && !split_at(ci, 0);
        if glued_before
            && ((self.latin_start && text.is_ascii_letter(ci - 1))
                || (self.digit_start && text.is_ascii_digit(ci - 1)))
        {
            return None;
        }
        let glued_after = cj < chars.len() && chars[cj].gap == Gap::None && !split_at(cj - 1, last);
        if glued_after
            && ((self.latin_end && text.is_ascii_letter(cj))
                || (self.digit_end && text.is_ascii_digit(cj)))
        {
            return None;
        }
        Some((ci, cj))
    }
}

/// The text regex rules run over: the normalized text, except that repeated Chinese
/// numerals collapsed by the normalizer (`八八八八`) are spelled out again, since digit
/// rules count digits, and that clause punctuation the normalizer dropped between two
/// characters stands there again as `，`, so that a rule can keep to one clause with
/// `[^，。！？]` (`失眠了，后来…好了` is two clauses, not a cure). Punctuation that only
/// disguises a word is left out, as it is for terms: a clause of one character
/// (`原，价899`) or a split through a dictionary word (`吊牌原。价三百多`).
struct RuleView<'a> {
    text: std::borrow::Cow<'a, str>,
    /// For an expanded text, the normalized character index of every byte.
    chars_of_bytes: Option<Vec<u32>>,
    /// How many digits the text has.
    digits: usize,
}

/// The mark a clause gap reads as in the rule view.
const CLAUSE_MARK: char = '，';

impl<'a> RuleView<'a> {
    fn new(text: &'a NormText) -> RuleView<'a> {
        let chars = text.chars();
        let clause_at = |i: usize, c: &crate::normalize::NormChar| {
            i > 0 && c.gap == Gap::Hard && !disguises_a_word(text, i)
        };
        let has_clauses = chars.iter().enumerate().any(|(i, c)| clause_at(i, c));
        if !text.has_numeral_runs() && !has_clauses {
            return RuleView {
                text: std::borrow::Cow::Borrowed(text.as_str()),
                chars_of_bytes: None,
                digits: text.as_str().bytes().filter(u8::is_ascii_digit).count(),
            };
        }
        let mut out = String::with_capacity(text.as_str().len() * 2);
        let mut map = Vec::with_capacity(out.capacity());
        let mut digits = 0;
        for (i, c) in chars.iter().enumerate() {
            if clause_at(i, c) {
                // A boundary at the mark is the boundary before character `i`.
                out.push(CLAUSE_MARK);
                map.extend(std::iter::repeat_n(i as u32, CLAUSE_MARK.len_utf8()));
            }
            let ch = text.as_str()[c.byte as usize..]
                .chars()
                .next()
                .unwrap_or(' ');
            let times = if c.numeral { usize::from(c.run) } else { 1 };
            for _ in 0..times {
                out.push(ch);
                map.extend(std::iter::repeat_n(i as u32, ch.len_utf8()));
            }
            if ch.is_ascii_digit() {
                digits += times;
            }
        }
        RuleView {
            text: std::borrow::Cow::Owned(out),
            chars_of_bytes: Some(map),
            digits,
        }
    }

    /// The normalized character index at byte `b` of the view (a match boundary).
    fn char_index(&self, text: &NormText, b: usize) -> usize {
        match &self.chars_of_bytes {
            None => text.char_index(b),
            Some(map) => map.get(b).map_or(text.chars().len(), |&i| i as usize),
        }
    }
}

/// Whether the clause punctuation before character `i` only disguises a word: one of
/// the two clauses it separates is a single character, or the characters on either
/// side of it make a dictionary word.
fn disguises_a_word(text: &NormText, i: usize) -> bool {
    let chars = text.chars();
    let lone_before = i == 1 || chars[i - 1].gap != Gap::None;
    let lone_after = i + 1 == chars.len() || chars[i + 1].gap != Gap::None;
    let (a, b) = (text.char_at(i - 1), text.char_at(i));
    let word = crate::channel::is_han(a)
        && crate::channel::is_han(b)
        && words::frequency(a, b) >= RARE_WORD;
    lone_before || lone_after || word
}

/// Whether characters `ci..cj` of `text` differ from the literal somewhere (a cheap
/// check first: most sound matches are the exact term itself).
fn differs(lit: &SoundLiteral, text: &NormText, ci: usize, cj: usize) -> bool {
    let same = (ci..cj)
        .zip(lit.chars.iter())
        .filter(|&(i, &l)| text.char_at(i) == l)
        .count();
    same < cj - ci
}

/// Whether characters `ci..cj` of `text`, which sound like `lit`, read as `lit`
/// disguised:
///
/// - at least one character differs (else it is the exact channel's hit), and no
///   differing character is part of an exact occurrence of another listed term
///   (`exact`): then that term, with its allow-list, decides (为信号 is 因为信号, not
///   微信号); nor one of the 150 most common (的, 是, 好: they sound like half the
///   language), unless it stands inside a term of three or more, two of whose
///   characters are kept (国要准字);
/// - a two-syllable term, which sound alone matches far too often across word
///   boundaries (尺码偏大吗 sounds like 大麻), needs exact syllables, keeps one
///   character of the term or replaces both with uncommon ones (赚帐), and has no real
///   word straddling either edge (偏大, 上身效果, 裙子) that its far neighbour does not
///   claim first (承接水均 is 承接 + 水均), nor is one itself (大码);
/// - a longer term may have one syllable that only sounds alike (穿三甲) or matches a
///   rarer reading of its character, not two.
fn plausible_homophone(
    lit: &SoundLiteral,
    text: &NormText,
    ci: usize,
    cj: usize,
    exact: &[bool],
) -> bool {
    let chars = text.chars();
    // `ch` is the character a word list or a reading table knows (三 for a folded 3);
    // `differs` compares the normalized forms, as the literal is normalized.
    let ch = |i: usize| text.han_at(i);
    let differs = |i: usize| text.char_at(i) != lit.chars[i - ci];
    let same = (ci..cj)
        .zip(lit.chars.iter())
        .filter(|&(i, _)| !differs(i))
        .count();
    if same == cj - ci {
        return false;
    }
    // A very common character sounds like half the language; it may stand in only
    // inside a longer term, two of whose characters are kept (国要准字, 二为码; not
    // 为信号 at the edge, which is 因为 + 信号 as often as not).
    let common_ok = |i: usize| cj - ci > 2 && same >= 2 && i > ci && i + 1 < cj;
    if (ci..cj).any(|i| differs(i) && (exact[i] || (!common_ok(i) && words::rank(ch(i)) < 150))) {
        return false;
    }
    let glued = |i: usize| chars[i].gap == Gap::None && chars[i].seg == chars[i - 1].seg;
    // A differing character at an edge that makes a word with its outer neighbour
    // belongs to that word (不接受银行卡 is 接受 + 银行卡, not 收银行卡).
    let outward = |i: usize, o: usize, left: bool| {
        differs(i)
            && if left {
                glued(i) && words::is_word(ch(o), ch(i))
            } else {
                glued(o) && words::is_word(ch(i), ch(o))
            }
    };
    if (ci > 0 && outward(ci, ci - 1, true)) || (cj < chars.len() && outward(cj - 1, cj, false)) {
        return false;
    }
    // One syllable may sound only alike (穿三甲), or like a rarer reading (银航卡); two
    // such are a different phrase (垫付放心 is not 垫付返款, whose 款 was once read xin).
    let (loose, fuzzy) = (ci..cj)
        .zip(lit.chars.iter())
        .map(|(i, &l)| sound::likeness(ch(i), l))
        .fold((0, false), |(n, fuzzy), l| {
            (
                n + usize::from(l < Likeness::Same),
                fuzzy || l == Likeness::Fuzzy,
            )
        });
    if cj - ci > 2 {
        return loose <= 1;
    }
    // A real word is not a disguise (大码 is a size, not 大麻); and two syllables
    // must sound the same, not only alike.
    // With no character kept, both must be uncommon (赚帐, 寇寇): common pairs meet by
    // chance all the time.
    let uncommon = |i: usize| words::rank(ch(i)) >= 300;
    if (same == 0 && !(uncommon(ci) && uncommon(ci + 1)))
        || fuzzy
        || words::is_word(ch(ci), ch(ci + 1))
    {
        return false;
    }
    // A word straddling an edge takes its character from the match, unless the
    // character beyond it forms a more common word with its own other neighbour
    // (承接水均 is 承接 + 水均, so 接水 does not count).
    let claims = |(f, rival): (u32, u32)| f >= RARE_WORD && f >= rival;
    let word_before = ci
        .checked_sub(1)
        .and_then(|o| word_across(text, ci, o))
        .is_some_and(claims);
    !(word_before || word_across(text, cj - 1, cj).is_some_and(claims))
}

/// Whether a two-character match is two halves of neighbouring words: a common word
/// glued across either edge that is far more frequent than the term itself (刷单词 is
/// 刷 + 单词, 前面交了 is 前面 + 交了, 高仿真 is 高 + 仿真; but 这把手枪 keeps 手枪,
/// which is as common as 把手), or an A-not-A question that makes the last character a
/// verb (丸子弹不弹牙). A term half in initials (`私l`) counts as two characters. The
/// segmentation check practitioners put after the automaton, reduced to what a
/// two-character term needs. A degree adverb (最好看, 最强大) modifies the word after
/// it: the claim stands.
fn straddled(text: &NormText, ci: usize, cj: usize) -> bool {
    if cj - ci != 2 {
        return false;
    }
    let chars = text.chars();
    // Words are looked up as written: a numeral folded to a digit is a numeral again.
    let ch = |i: usize| text.han_at(i);
    let glued = |i: usize| chars[i].gap == Gap::None && chars[i].seg == chars[i - 1].seg;
    let (a, b) = (ch(ci), ch(ci + 1));
    // A term half in initials (`私l` for 私聊) is read the same way on its Chinese
    // side: `自私l` is 自私.
    let half_initials =
        (is_han(a) && b.is_ascii_alphabetic()) || (a.is_ascii_alphabetic() && is_han(b));
    if !(is_han(a) && is_han(b) || half_initials) || matches!(a, '最' | '顶' | '超' | '极' | '更')
    {
        return false;
    }
    // An A-not-A question after the term makes its last character a verb of its own
    // (丸子弹不弹牙 asks whether the meatball is springy).
    if cj + 1 < chars.len()
        && glued(cj)
        && glued(cj + 1)
        && matches!(ch(cj), '不' | '没')
        && ch(cj + 1) == b
    {
        return true;
    }
    let own = words::frequency(a, b);
    // The straddling word must be far more common than the term, and also beat the word
    // its far character would otherwise form (问一下面交 reads 一下 + 面交, not 下面).
    let wins = |(f, rival): (u32, u32)| f >= 50 && f > own.saturating_mul(10) && f > rival;
    let before = ci
        .checked_sub(1)
        .and_then(|o| word_across(text, ci, o))
        .is_some_and(wins);
    before || word_across(text, cj - 1, cj).is_some_and(wins)
}

/// The word glued across an edge of a match, between the match's edge character
/// `inner` and its neighbour `outer` outside: how often the two make a word, and how
/// often `outer` makes one with its own neighbour further out (a rival claim on it:
/// 承接水均 is 承接 + 水均). `None` where nothing is glued there. Characters are read as
/// a word list knows them ([`NormText::han_at`]).
fn word_across(text: &NormText, inner: usize, outer: usize) -> Option<(u32, u32)> {
    let chars = text.chars();
    // Whether neighbours `a` and `b` (either order) touch within one event.
    let glued = |a: usize, b: usize| {
        let k = a.max(b);
        chars[k].gap == Gap::None && chars[k].seg == chars[k - 1].seg
    };
    let word = |a: usize, b: usize| words::frequency(text.han_at(a.min(b)), text.han_at(a.max(b)));
    if outer >= chars.len() || !glued(inner, outer) {
        return None;
    }
    let beyond = if outer < inner {
        outer.checked_sub(1)
    } else {
        Some(outer + 1)
    };
    let rival = beyond
        .filter(|&b| b < chars.len() && glued(outer, b))
        .map_or(0, |b| word(outer, b));
    Some((word(inner, outer), rival))
}

/// Initials of two letters (`sd`, `xq`) are everyday abbreviations too (SF is a courier):
/// they count only after a word that makes them an offer or a contact (加sd, 卖fq, 可以mj,
/// 专业kp), or before one (kk号, xq有吗, sl我, zz给我, yd还有没). A claim about a product
/// or a product on offer also reads from the product named after it (jf奶昔, zy胶囊,
/// sq模型, sw产品). Longer initials need only the strict Latin edges of every Latin
/// pattern.
fn initials_in_context(
    text: &NormText,
    ci: usize,
    cj: usize,
    shape: &Shape,
    category: Category,
) -> bool {
    let letters: usize = text.chars()[ci..cj]
        .iter()
        .map(|c| usize::from(c.run))
        .sum();
    // Initials are spelled letter for letter: `ppt` is not `pt` with a doubled p, nor
    // `pdd` the initials pd (票点).
    let needed = (cj - ci)
        + shape
            .runs
            .iter()
            .map(|&(_, n)| usize::from(n) - 1)
            .sum::<usize>();
    if letters != needed {
        return false;
    }
    if letters > 2 {
        return true;
    }
    const BEFORE: &[char] = &[
        '加', '私', '找', '转', '搜', '聊', '有', '卖', '收', '求', '要', '滴', '留', '发', '买',
        '招', '接', '代', '出', '上', '去', '以', '能', '是',
    ];
    // An object or a recipient after them makes them a verb or a thing on offer
    // (sl我, zz给我, jq领券, gf包包, 接sj单).
    const AFTER: &[char] = &['号', '群', '有', '卖', '吗', '我', '给', '领', '包', '单'];
    const BEFORE_WORDS: &[&str] = &["专业"];
    const AFTER_WORDS: &[&str] = &["还有"];
    // What a claimed effect or a prohibited thing is sold as.
    const PRODUCTS: &[&str] = &[
        "茶", "药", "丸", "片", "胶囊", "精油", "奶昔", "霜", "膏", "贴", "液", "叶", "产品",
        "模型", "配件", "套装", "整条", "面霜", "面膜", "精华", "奶粉", "口红",
    ];
    let chars = text.chars();
    let ch = |i: usize| text.char_at(i);
    let touches = |i: usize| i < chars.len() && chars[i].gap <= Gap::Soft;
    let ends_with = |w: &str| {
        let n = w.chars().count();
        ci >= n && w.chars().enumerate().all(|(k, c)| ch(ci - n + k) == c)
    };
    let starts_at = |at: usize, w: &str| {
        at + w.chars().count() <= chars.len() && w.chars().enumerate().all(|(k, c)| ch(at + k) == c)
    };
    let starts_with = |w: &str| starts_at(cj, w);
    let product = matches!(
        category,
        Category::FalsePublicity | Category::ProhibitedProduct | Category::Slander
    );
    // (加)我kk: a contact after 我 is the speaker's own.
    let mine = category == Category::Diversion && ci > 0 && ch(ci - 1) == '我';
    let (cues_before, cues_after) = category_cues(category);
    // A price term is read by the amount it precedes (yj999).
    let amount = category == Category::PriceFraud && cj < chars.len() && ch(cj).is_ascii_digit();
    // An efficacy claim by the condition it names, or the measure it promises.
    let claim = category == Category::FalsePublicity
        && (CONDITIONS.iter().any(|w| ends_with(w) || starts_with(w)) || {
            let digits = (cj..chars.len())
                .take_while(|&k| ch(k).is_ascii_digit())
                .count();
            digits > 0 && BODY_UNITS.iter().any(|u| starts_at(cj + digits, u))
        });
    (ci > 0
        && touches(ci)
        && (mine
            || BEFORE.contains(&ch(ci - 1))
            || BEFORE_WORDS.iter().any(|w| ends_with(w))
            || cues_before.iter().any(|w| ends_with(w))))
        || claim
        || (touches(cj)
            && (AFTER.contains(&ch(cj))
                || amount
                || AFTER_WORDS.iter().any(|w| starts_with(w))
                || cues_after.iter().any(|w| starts_with(w))
                || (product && PRODUCTS.iter().any(|w| starts_with(w)))))
}

/// The words that, right before or right after two-letter initials, say what a term of
/// `category` would be doing there: a price restored (恢复yj), a contact's place
/// (dh在主页) or the group it leads to (jq内部价), the trade's covert call after a
/// prohibited thing (dm懂的来) or the piece it is sold by (出一把qg), the pay of a
/// brushing job (sd日结, sz一条龙), a claim's effect (jf效果) and its tag line
/// (没有之一), the piece a wildlife part is carved into (xy手镯), a rival judged a kind
/// of person (是个pz). Each is a phrase chat uses for that practice and rarely after
/// an everyday abbreviation.
fn category_cues(category: Category) -> (&'static [&'static str], &'static [&'static str]) {
    match category {
        Category::PriceFraud => (&["恢复", "划线", "专柜"], &[]),
        Category::Diversion => (
            &[],
            &[
                "在主页",
                "在简介",
                "放主页",
                "挂主页",
                "私发",
                "发你",
                "内部",
            ],
        ),
        // Wildlife parts are sold as the piece they are carved into (xy手镯).
        Category::ProhibitedProduct => (
            &["1把", "1支", "1根"],
            &[
                "懂的",
                "懂行",
                "有需要",
                "有货",
                "到货",
                "手镯",
                "手串",
                "摆件",
                "雕件",
                "挂件",
                "制品",
            ],
        ),
        // A judgement of a rival's kind (他就是个pz).
        Category::Slander => (&["是个"], &[]),
        Category::TrafficFraud => (&[], &["日结", "1条龙", "兼职", "宝妈", "佣金", "1单"]),
        // A claim beside the condition it names ([`CONDITIONS`]) is read in
        // `initials_in_context`.
        Category::FalsePublicity => (&[], &["没有之1", "效果", "功效"]),
    }
}

/// Conditions an efficacy claim names, on either side of its initials (zl失眠,
/// 血糖zy).
const CONDITIONS: &[&str] = &[
    "失眠",
    "便秘",
    "鼻炎",
    "3高",
    "高血压",
    "血压",
    "血糖",
    "血脂",
    "糖尿病",
    "湿疹",
    "痛风",
    "关节",
    "颈椎",
    "脱发",
    "胃病",
];

/// Units a body claim promises a number of (zg三厘米, jf十斤).
const BODY_UNITS: &[&str] = &["厘米", "公分", "cm", "斤", "公斤", "kg"];

/// Below this frequency (jieba's counts) a dictionary word is noise (接转 4, 想进 3):
/// it does not claim a character from a match.
const RARE_WORD: u32 = 5;

/// How clause punctuation inside an occurrence of a term reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gaps {
    /// No clause punctuation inside, or only noise: the term as written.
    Term,
    /// Split in the middle of a sentence with nothing glued to either side of the
    /// occurrence: an evasion, most likely ([`Via::Clause`]).
    MidSentence,
    /// Two real clauses that happen to meet.
    Clauses,
}

/// Clause punctuation inside a term is a real word gap (`自私，我们`), unless it is
/// noise: the term is spelled out with a separator between every pair of characters
/// (`加，微，信`), or each hard gap inside it has, on one side, a clause fragment that
/// lies wholly inside the term. A fragment is what stands between that gap and the
/// next gap of any kind (or the start or end of the text; a run with a separator
/// inside, `群 群里`, counts as a gap), so `小，烟有吗`, `招刷。单 宝妈`, `老板 包，场`
/// and `能帮代，购 比这便宜` are evasions, while `你太自私，我们不理你` (fragments
/// `你太自私` and `我们不理你`) stays two clauses: a real clause is rarely one
/// character long.
///
/// A term split in the middle of two longer clauses (`姐直接转。账给我吧`) is read with
/// a dictionary: two clauses that meet by chance almost always glue a word across an
/// outer edge of the occurrence (`喷枪，支持主播` has 喷枪 and 支持 around 枪支; `你太
/// 自私，我们` has 自私), while an evader's term stands alone in its sentence. Such a
/// hit is a weaker reading, [`Gaps::MidSentence`]. Measured in `docs/LEXICON.md`.
fn gaps_allow_term(text: &NormText, ci: usize, cj: usize) -> Gaps {
    let chars = text.chars();
    let inner = &chars[ci + 1..cj];
    if !inner.iter().any(|c| c.gap == Gap::Hard) {
        return Gaps::Term;
    }
    if cj - ci >= 3 && inner.iter().all(|c| c.gap != Gap::None) {
        return Gaps::Term;
    }
    // Whether a fragment starts at character `i`, or ends after it.
    let starts = |i: usize| i == 0 || chars[i].gap != Gap::None || chars[i].split_run;
    let ends = |i: usize| chars.get(i + 1).is_none_or(|n| n.gap != Gap::None) || chars[i].split_run;
    if (ci + 1..cj)
        .filter(|&k| chars[k].gap == Gap::Hard)
        .all(|k| (ci..k).any(starts) || (k..cj).any(ends))
    {
        return Gaps::Term;
    }
    if glued_outside(text, ci, cj) {
        Gaps::Clauses
    } else {
        Gaps::MidSentence
    }
}

/// Whether a dictionary word joins the first (last) character of `ci..cj` to the
/// character glued before (after) it.
fn glued_outside(text: &NormText, ci: usize, cj: usize) -> bool {
    let chars = text.chars();
    let glued = |i: usize| chars[i].gap == Gap::None && chars[i].seg == chars[i - 1].seg;
    let word = |i: usize| {
        let (a, b) = (text.char_at(i - 1), text.char_at(i));
        crate::channel::is_han(a)
            && crate::channel::is_han(b)
            && words::frequency(a, b) >= RARE_WORD
    };
    (ci > 0 && glued(ci) && word(ci)) || (cj < chars.len() && glued(cj) && word(cj))
}

fn reset_bits(bits: &mut Vec<u64>, n: usize) {
    let words = n.div_ceil(64);
    if bits.len() == words {
        bits.fill(0);
    } else {
        bits.clear();
        bits.resize(words, 0);
    }
}

fn set_bit(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn get_bit(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}
