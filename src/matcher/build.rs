//! Compiling a [`Lexicon`] into a [`Matcher`].

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::MatchKind;
use regex::Regex;

use super::{
    Automaton, CompiledAllow, CompiledEntry, CompiledGroup, CompiledRule, Matcher, MatcherStats,
    Partition, RoleSet, Shape, SoundLiteral, Target,
};
use crate::channel::{self, ChannelSet, Via, emoji, shape, sound};
use crate::lexicon::{Lexicon, Matching, pinyin, template};
use crate::normalize::{NormText, View};

/// A group's words as a pattern reads them, each with the channel it reads.
type GroupForms = Vec<(String, Via)>;

/// The strings a `{group}` in a pattern matches, each with the channel it reads: each
/// word as normalized text holds it (拼多多 is 拼多), and a word of two or more Chinese
/// characters also spelled in pinyin, wholly or in part (`taobao`, `tao宝`, `淘bao`),
/// and with one character replaced by a common one of its sound (`块手` for 快手), as
/// far as the entry's channels allow: a rule's words are as easy to disguise as a
/// term's. A string that is also some word as written reads as written.
fn pattern_words(words: &[String], channels: ChannelSet) -> GroupForms {
    let mut out = Vec::new();
    for w in words {
        let han = w.chars().count() >= 2 && w.chars().all(channel::is_han);
        let mut forms = vec![(w.clone(), Via::Exact)];
        if han && channels.contains(Via::Pinyin) {
            forms.extend(pinyin::spellings(w).into_iter().map(|f| (f, Via::Pinyin)));
        }
        if han && channels.contains(Via::Homophone) {
            forms.extend(
                sound::homophones(w)
                    .into_iter()
                    .map(|f| (f, Via::Homophone)),
            );
        }
        for (form, via) in forms {
            let normalized = NormText::normalized(&form);
            if !normalized.as_str().is_empty() {
                out.push((normalized.as_str().to_owned(), via));
            }
        }
    }
    // Written first, then pinyin, then sound: dedup keeps the strongest reading.
    let strength = |via: Via| match via {
        Via::Exact => 0,
        Via::Pinyin => 1,
        _ => 2,
    };
    out.sort_by(|a, b| a.0.cmp(&b.0).then(strength(a.1).cmp(&strength(b.1))));
    out.dedup_by(|later, first| later.0 == first.0);
    out
}

/// Latin abbreviations chat uses for other things, never read as a term's initials
/// (`qq` is not 气枪, `sf` is the courier, `yyds` praise). A term that has one of them
/// as an established short form lists it as a variant.
const COMMON_ABBREVIATIONS: &[&str] = &[
    "aa", "bb", "cc", "dd", "ee", "gg", "hh", "jj", "ll", "mm", "nn", "oo", "pp", "qq", "ss", "tt",
    "ww", "xx", "yy", "ok", "nb", "sf", "jd", "tb", "dy", "ks", "pdd", "xhs", "cp", "pk", "dj",
    "ip", "id", "tv", "pc", "ai", "up", "mv", "vip", "yyds", "xswl", "awsl", "hhh", "zqsg", "u1s1",
    "nsdd", "dbq", "bhys", "xjj", "xgg", "zfb", "wx", "vx", "xl", "xs", "xxl", "sm", "ml", "kg",
    "cm", "mm", "sb", "tm", "nm", "jk", "lv", "ck", "ps", "gd", "mc", "bt", "ad", "hr", "ppt",
    "pdf", "app", "gif", "ktv", "ceo", "diy", "cpu", "gps", "usb", "led",
];

/// A templated term with at most this many products has each product of three or
/// more characters abbreviated to its initials; larger templates (a group of hundreds
/// of words) would flood the pinyin automaton with letter strings.
const MAX_ABBREVIATED_PRODUCTS: usize = 64;

/// Which Aho-Corasick automaton to build (see `docs/PERFORMANCE.md` for the
/// measurements behind the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutomatonKind {
    /// A full DFA: fewest instructions per byte, but tens of megabytes for a Chinese
    /// lexicon, so its transitions miss the cache.
    Dfa,
    /// The contiguous NFA: compact, a little slower.
    ContiguousNfa,
    /// A character-wise double-array automaton (daachorse): one transition per
    /// character instead of per byte, and compact enough to stay in cache. The
    /// default: fastest on Chinese chat in `benches/pipeline.rs`.
    #[default]
    DoubleArray,
}

/// Options for [`Matcher::build`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOptions {
    /// Automaton for the main partition.
    pub kind: AutomatonKind,
    /// Automaton for the pinyin partition (larger, run on fewer events).
    pub pinyin_kind: Option<AutomatonKind>,
}

/// Why a lexicon could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The automaton could not be built (too large).
    #[error("cannot build the automaton: {0}")]
    Automaton(#[from] aho_corasick::BuildError),
    /// A rule's regex does not compile (validation should have caught it).
    #[error("entry {id}: bad regex: {source}")]
    Regex {
        /// The entry.
        id: String,
        /// The regex error.
        source: regex::Error,
    },
    /// The double-array automaton could not be built.
    #[error("cannot build the double-array automaton: {0}")]
    DoubleArray(String),
    /// Too many groups or rules for the compact indexes.
    #[error("too many {0} (at most 65535)")]
    TooMany(&'static str),
}

/// One pattern being collected.
struct Pattern {
    /// Normalized text.
    text: String,
    /// Length in normalized characters.
    chars: u16,
    /// What it stands for, each with the shape of its literal.
    targets: Vec<(Target, Shape)>,
}

/// Patterns of one partition being collected: normalized text to targets.
#[derive(Default)]
struct Collector {
    index: HashMap<String, usize>,
    /// Normalized text, length in characters, and its targets, each with the shape of
    /// the literal it came from: two literals may normalize alike and differ in shape
    /// (`sjj`, the initials of 世界级, is `sj` needing a doubled `j`; `sj` of 水军 is
    /// not).
    patterns: Vec<Pattern>,
    /// Keep the emoji of the emoji channel as characters when normalizing.
    keep_emoji: bool,
}

impl Collector {
    /// Normalize `s` and file it under `target`. Returns the pattern's length in
    /// normalized characters (0 if it normalizes to nothing).
    fn add(&mut self, s: &str, target: Target) -> usize {
        let mut nt = NormText::new();
        if self.keep_emoji {
            nt.push_segment_view(s, View::EmojiKept);
        } else {
            nt.push_segment(s);
        }
        if nt.is_empty() {
            return 0;
        }
        let len = nt.chars().len();
        self.add_normalized(nt.as_str(), len, shape_of(&nt), target);
        len
    }

    /// File an already normalized pattern (a sound spelling) under `target`.
    fn add_normalized(&mut self, s: &str, len: usize, shape: Shape, target: Target) {
        let i = *self.index.entry(s.to_owned()).or_insert_with(|| {
            let chars = u16::try_from(len).unwrap_or(u16::MAX);
            self.patterns.push(Pattern {
                text: s.to_owned(),
                chars,
                targets: Vec::new(),
            });
            self.patterns.len() - 1
        });
        let targets = &mut self.patterns[i].targets;
        if !targets.iter().any(|(t, sh)| *t == target && *sh == shape) {
            targets.push((target, shape));
        }
    }

    fn build(self, kind: AutomatonKind) -> Result<Partition, BuildError> {
        let patterns = self.patterns.iter().map(|p| p.text.as_bytes());
        let automaton = match kind {
            AutomatonKind::Dfa => Automaton::Dfa(
                aho_corasick::dfa::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .build(patterns)?,
            ),
            AutomatonKind::ContiguousNfa => Automaton::Nfa(
                aho_corasick::nfa::contiguous::Builder::new()
                    .match_kind(MatchKind::Standard)
                    .build(patterns)?,
            ),
            AutomatonKind::DoubleArray => Automaton::DoubleArray(
                daachorse::CharwiseDoubleArrayAhoCorasickBuilder::new()
                    .match_kind(daachorse::MatchKind::Standard)
                    .build_with_values(
                        self.patterns
                            .iter()
                            .enumerate()
                            .map(|(i, p)| (p.text.as_str(), i as u32)),
                    )
                    .map_err(|e| BuildError::DoubleArray(e.to_string()))?,
            ),
        };
        let mut chars = Vec::with_capacity(self.patterns.len());
        let mut shapes = Vec::with_capacity(self.patterns.len());
        let mut starts = Vec::with_capacity(self.patterns.len() + 1);
        let mut targets = Vec::new();
        for Pattern {
            chars: len,
            targets: mut ts,
            ..
        } in self.patterns
        {
            // Targets of one shape together: the shape is checked once per run.
            ts.sort_by(|a, b| a.1.cmp(&b.1));
            starts.push(targets.len() as u32);
            chars.push(len);
            for (t, sh) in ts {
                targets.push(t);
                shapes.push(sh);
            }
        }
        starts.push(targets.len() as u32);
        Ok(Partition {
            automaton,
            chars,
            shapes,
            starts,
            targets,
        })
    }
}

fn shape_of_nonempty(nt: &NormText) -> Option<Shape> {
    (!nt.is_empty()).then(|| shape_of(nt))
}

fn shape_of(nt: &NormText) -> Shape {
    let chars = nt.chars();
    let last = chars.len() - 1;
    Shape {
        runs: chars
            .iter()
            .enumerate()
            .filter(|(_, c)| c.run > 1)
            .map(|(i, c)| (i as u16, c.run))
            .collect(),
        latin_start: nt.is_ascii_letter(0),
        latin_end: nt.is_ascii_letter(last),
        digit_start: nt.is_ascii_digit(0),
        digit_end: nt.is_ascii_digit(last),
    }
}

impl Matcher {
    /// Compile `lexicon` with the default options.
    ///
    /// # Errors
    /// See [`BuildError`].
    pub fn build(lexicon: &Lexicon) -> Result<Matcher, BuildError> {
        Matcher::build_with(lexicon, BuildOptions::default())
    }

    /// Compile `lexicon`.
    ///
    /// # Errors
    /// See [`BuildError`].
    pub fn build_with(lexicon: &Lexicon, options: BuildOptions) -> Result<Matcher, BuildError> {
        let group_index: HashMap<&str, u16> = lexicon
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.as_str(), i as u16))
            .collect();
        if lexicon.groups.len() > usize::from(u16::MAX) {
            return Err(BuildError::TooMany("groups"));
        }
        let words = |id: &str| lexicon.group(id).map(|g| g.words.as_slice());
        let group_ids = |ids: &[String]| -> Box<[u16]> {
            ids.iter()
                .filter_map(|g| group_index.get(g.as_str()).copied())
                .collect()
        };

        channel::warm_up();
        let mut main = Collector::default();
        let mut spelled = Collector::default();
        let mut sounds = Collector::default();
        let mut sound_literals = Vec::new();
        let mut sound_openings = sound::Openings::new();
        let mut emojis = Collector {
            keep_emoji: true,
            ..Collector::default()
        };
        let mut lookalike_variants = 0;
        let mut entries = Vec::with_capacity(lexicon.entries.len());
        let mut allows = Vec::new();
        let mut rules = Vec::new();
        let mut longest_term = 1;
        // A pattern's group spelled for an entry's (pinyin, homophone) switches.
        let mut spelled_groups: HashMap<(String, (bool, bool)), GroupForms> = HashMap::new();

        for (i, e) in lexicon.entries.iter().enumerate() {
            let ei = i as u32;
            let label = match &e.matching {
                Matching::Terms { term, variants } => {
                    let on = |via: Via| e.channels.contains(via);
                    for literal in std::iter::once(term).chain(variants) {
                        let expanded = template::expand(literal, words);
                        // Templates already multiply a term by its group's words;
                        // spelling every product in pinyin would add tens of thousands
                        // of patterns, so only template-free strings are spelled.
                        let plain = expanded.len() == 1 && !literal.contains('{');
                        let spell = on(Via::Pinyin) && plain;
                        // A template's products are few enough to abbreviate whole
                        // (sjdy for {rank_scope}第一), and initials are short.
                        let abbreviate_products = on(Via::Initials)
                            && !plain
                            && expanded.len() <= MAX_ABBREVIATED_PRODUCTS;
                        for s in expanded {
                            let exact = Target::Term(ei, Via::Exact);
                            longest_term = longest_term.max(main.add(&s, exact));
                            // Spellings in other channels do not count towards the
                            // window length: a term split across messages is caught in
                            // characters.
                            if spell {
                                for p in pinyin::spellings(&s) {
                                    spelled.add(&p, Target::Term(ei, Via::Pinyin));
                                }
                            }
                            if on(Via::Initials) && plain {
                                for p in pinyin::mixed_initials(&s) {
                                    // A letter before a character is how chat names
                                    // sizes and things (S码, T恤, A货, B站): a
                                    // two-character term is read half in initials
                                    // only as 私l, with the letter last.
                                    let letter_first = p.chars().count() == 2
                                        && p.starts_with(|c: char| c.is_ascii_alphabetic());
                                    if !letter_first && !COMMON_ABBREVIATIONS.contains(&p.as_str())
                                    {
                                        spelled.add(&p, Target::Term(ei, Via::Initials));
                                    }
                                }
                            }
                            // The whole term (or a small template's product) as initials.
                            if on(Via::Initials) && plain
                                || abbreviate_products && s.chars().count() >= 3
                            {
                                for p in pinyin::initials(&s) {
                                    // One letter repeated (zzz, hhh) is chat noise; kk is 扣扣.
                                    let repeated =
                                        p.len() > 2 && p.chars().all(|c| p.starts_with(c));
                                    if !repeated && !COMMON_ABBREVIATIONS.contains(&p.as_str()) {
                                        spelled.add(&p, Target::Term(ei, Via::Initials));
                                    }
                                }
                            }
                            if on(Via::Lookalike) && plain {
                                for v in shape::variants(&s) {
                                    main.add(&v, Target::Term(ei, Via::Lookalike));
                                    lookalike_variants += 1;
                                }
                            }
                            if on(Via::Emoji) && plain {
                                for v in emoji::variants(&s.to_lowercase()) {
                                    emojis.add(&v, Target::Term(ei, Via::Emoji));
                                }
                            }
                            if on(Via::Homophone) {
                                let nt = NormText::normalized(&s);
                                let shape = shape_of_nonempty(&nt);
                                for p in sound::spellings(nt.as_str()) {
                                    sound_openings.add(&p);
                                    let li = sound_literals.len() as u32;
                                    let len = p.chars().count();
                                    sounds.add_normalized(
                                        &p,
                                        len,
                                        shape.clone().unwrap_or_default(),
                                        Target::Sound(li),
                                    );
                                    sound_literals.push(SoundLiteral {
                                        entry: ei,
                                        chars: nt.as_str().chars().collect(),
                                        shape: shape.clone().unwrap_or_default(),
                                    });
                                }
                            }
                        }
                    }
                    term.clone()
                }
                Matching::Pattern {
                    pattern,
                    anchors,
                    min_digits,
                    label,
                } => {
                    // Each group the pattern names, spelled once per build and channel
                    // choice (the platform group is named 13 times over four rules).
                    let mut named: Vec<&str> = template::pattern_refs(pattern)
                        .into_iter()
                        .map(|(_, g)| g)
                        .collect();
                    named.sort_unstable();
                    named.dedup();
                    let reads = (
                        e.channels.contains(Via::Pinyin),
                        e.channels.contains(Via::Homophone),
                    );
                    for &g in &named {
                        if let Some(group) = lexicon.group(g) {
                            spelled_groups
                                .entry((g.to_owned(), reads))
                                .or_insert_with(|| pattern_words(&group.words, e.channels));
                        }
                    }
                    let group_forms = |id: &str| spelled_groups.get(&(id.to_owned(), reads));
                    let expanded = template::expand_pattern(pattern, |id| {
                        group_forms(id).map(|forms| forms.iter().map(|(f, _)| f.clone()).collect())
                    });
                    let regex = Regex::new(&expanded).map_err(|source| BuildError::Regex {
                        id: e.id.clone(),
                        source,
                    })?;
                    let ri =
                        u16::try_from(rules.len()).map_err(|_| BuildError::TooMany("rules"))?;
                    let mut has_anchors = false;
                    for a in anchors.iter().flat_map(|a| template::expand(a, words)) {
                        has_anchors |= main.add(&a, Target::Anchor(ri)) > 0;
                    }
                    // An anchored rule runs wherever a group its pattern names stands,
                    // in every spelling the pattern reads; so does a rule none of whose
                    // matches can do without a group's word. (Any other rule runs on
                    // every event anyway.)
                    let group_anchored =
                        !anchors.is_empty() || template::every_branch_requires_a_group(pattern);
                    let mut spellings = Vec::new();
                    for &g in &named {
                        for (form, via) in group_forms(g).into_iter().flatten() {
                            if group_anchored {
                                has_anchors |= main.add(form, Target::Anchor(ri)) > 0;
                            }
                            if *via != Via::Exact {
                                spellings.push((form.as_str(), *via));
                            }
                        }
                    }
                    let spellings = if spellings.is_empty() {
                        None
                    } else {
                        let (forms, vias): (Vec<&str>, Vec<Via>) = spellings.into_iter().unzip();
                        let automaton = aho_corasick::AhoCorasick::new(&forms)?;
                        Some((automaton, vias.into_boxed_slice()))
                    };
                    rules.push(CompiledRule {
                        entry: ei,
                        regex,
                        has_anchors,
                        min_digits: *min_digits,
                        spellings,
                    });
                    label.clone()
                }
            };
            for a in &e.allow {
                let ai = allows.len() as u32;
                allows.push(CompiledAllow {
                    entry: ei,
                    roles: a.roles.as_deref().map_or_else(RoleSet::all, RoleSet::of),
                });
                // Allow phrases are not spelled in pinyin: it would multiply the
                // pinyin automaton for the rare text that spells a trap in pinyin.
                for s in template::expand(&a.phrase, words) {
                    main.add(&s, Target::Allow(ai));
                }
            }
            entries.push(CompiledEntry {
                channels: e.channels,
                read_back: e.read_back,
                review: e.review,
                id: e.id.as_str().into(),
                term: label.as_str().into(),
                category: e.category,
                severity: e.severity,
                basis: e.basis.as_str().into(),
                note: e.note.as_str().into(),
                suggest: e.suggest.as_slice().into(),
                roles: RoleSet::of(&e.roles),
                requires: group_ids(&e.requires),
                unless: group_ids(&e.unless),
            });
        }
        // Only groups some entry requires or vetoes on need their words found; the
        // others are templates, whose words (often single characters) would match
        // nearly every message for nothing.
        let context: std::collections::HashSet<&str> = lexicon
            .entries
            .iter()
            .flat_map(|e| e.requires.iter().chain(&e.unless))
            .map(String::as_str)
            .collect();
        let required: std::collections::HashSet<&str> = lexicon
            .entries
            .iter()
            .flat_map(|e| &e.requires)
            .map(String::as_str)
            .collect();
        let groups = lexicon
            .groups
            .iter()
            .enumerate()
            .map(|(gi, g)| {
                if context.contains(g.id.as_str()) {
                    for w in &g.words {
                        main.add(w, Target::Group(gi as u16));
                    }
                }
                CompiledGroup {
                    roles: g.roles.as_deref().map_or_else(RoleSet::all, RoleSet::of),
                    required: required.contains(g.id.as_str()),
                }
            })
            .collect();

        let patterns = main.patterns.len();
        let pinyin_patterns = spelled.patterns.len();
        let sound_patterns = sounds.patterns.len();
        let emoji_patterns = emojis.patterns.len();
        let main = main.build(options.kind)?;
        let side = options.pinyin_kind.unwrap_or(options.kind);
        let optional = |c: Collector| -> Result<Option<Partition>, BuildError> {
            if c.patterns.is_empty() {
                Ok(None)
            } else {
                c.build(side).map(Some)
            }
        };
        let pinyin = optional(spelled)?;
        let sound = optional(sounds)?;
        let emoji = optional(emojis)?;
        let automaton_bytes = main.automaton.memory_usage()
            + [&pinyin, &sound, &emoji]
                .iter()
                .filter_map(|p| p.as_ref())
                .map(|p| p.automaton.memory_usage())
                .sum::<usize>();
        Ok(Matcher {
            version: Arc::from(lexicon.version.as_str()),
            // The content hash is 16 hex digits; any 32 of its bits tell versions apart.
            context_tag: u64::from_str_radix(&lexicon.hash, 16).map_or(0, |h| h as u32),
            hash: Arc::from(lexicon.hash.as_str()),
            stats: MatcherStats {
                entries: entries.len(),
                patterns,
                pinyin_patterns,
                sound_patterns,
                emoji_patterns,
                lookalike_variants,
                rules: rules.len(),
                automaton_bytes,
            },
            entries,
            allows,
            groups,
            unanchored: {
                let mut bits = vec![0u64; rules.len().div_ceil(64)];
                for (i, r) in rules.iter().enumerate() {
                    if !r.has_anchors {
                        bits[i / 64] |= 1 << (i % 64);
                    }
                }
                bits
            },
            rules,
            main,
            pinyin,
            sound,
            sound_literals,
            sound_openings,
            emoji,
            longest_term,
        })
    }
}
