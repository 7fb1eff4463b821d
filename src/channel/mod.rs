//! Match channels: the ways, besides its exact (folded) spelling, in which a term can be
//! written, each a separate and lower-confidence way to match it.
//!
//! | channel | what it catches | how |
//! |---|---|---|
//! | `exact` | the term as written, through every fold of [`crate::normalize`] | the main automaton |
//! | `pinyin` | the term spelled (partly) in pinyin: `xiao量第一` | spellings in the pinyin automaton |
//! | `initials` | the initials of its pinyin: `jwx` for 加微信 | spellings in the pinyin automaton, strict edges |
//! | `lookalike` | a visually similar character (冣 for 最) or a character split into its parts (弓单 for 弹, 门木 for 闲) | variants in the main automaton; for rules and templates, a recomposed view of the event (see [`shape`]) |
//! | `emoji` | an emoji standing for a character or word (💊 for 药) | variants matched over an emoji-keeping view, only for events with such an emoji |
//! | `homophone` | characters of the same sound (递一 for 第一) | the term's syllables matched over the text's syllables |
//!
//! Every hit says how it matched (`via`); the policy decides per channel and role. The
//! tables come from published data (see the headers of `src/normalize/data/*`), generated
//! by `tools/gen_channel_tables.py` and `tools/gen_word_list.py`.

pub mod emoji;
pub mod shape;
pub mod sound;
pub mod words;

crate::wire_names! {
    /// How a hit matched its term; `ALL` lists the channels strongest first.
    #[derive(Default)]
    pub enum Via {
        /// The term as written, through the normalizer's folds (case, width, traditional,
        /// separators, number styles, confusables, repeats).
        #[default]
        Exact = "exact",
        /// Spelled, wholly or partly, in pinyin.
        Pinyin = "pinyin",
        /// The term as written, split by clause punctuation in the middle of a sentence
        /// (`姐直接转。账给我吧`): no dictionary word glues either side of the split to the
        /// text around it, so it reads as an evasion rather than two clauses that meet.
        Clause = "clause",
        /// The initials of its pinyin.
        Initials = "initials",
        /// A look-alike character or a character split into its components.
        Lookalike = "lookalike",
        /// An emoji standing for a character or a word of it.
        Emoji = "emoji",
        /// Characters that sound the same.
        Homophone = "homophone",
        /// Not a term: a near-duplicate of what many accounts posted together
        /// (coordinated danmaku, [`crate::burst`]). Never a matcher channel.
        Burst = "burst",
        /// Not a term: a check of a listing's or a host's prices against the item's
        /// price history ([`crate::price`]). Never a matcher channel.
        Price = "price",
    }
}

impl Via {
    /// Whether a hit through this channel is a guess about what the writer meant (a
    /// look-alike, an emoji, a sound, initials, a split across clauses), rather than the
    /// term itself. A weak hit
    /// is never disposed of as `critical` on its own.
    pub fn is_weak(self) -> bool {
        !matches!(self, Via::Exact | Via::Pinyin)
    }
}

/// A set of channels that are switched on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSet(u16);

impl ChannelSet {
    /// Every channel.
    pub fn all() -> ChannelSet {
        ChannelSet(0b111_1111)
    }

    fn bit(via: Via) -> u16 {
        1 << via as u16
    }

    /// Whether `via` is on.
    pub fn contains(self, via: Via) -> bool {
        self.0 & ChannelSet::bit(via) != 0
    }

    /// This set with `via` switched on or off.
    #[must_use]
    pub fn with(self, via: Via, on: bool) -> ChannelSet {
        if on {
            ChannelSet(self.0 | ChannelSet::bit(via))
        } else {
            ChannelSet(self.0 & !ChannelSet::bit(via))
        }
    }

    /// The channels on in both sets.
    #[must_use]
    pub fn intersect(self, other: ChannelSet) -> ChannelSet {
        ChannelSet(self.0 & other.0)
    }
}

impl Default for ChannelSet {
    fn default() -> ChannelSet {
        ChannelSet::all()
    }
}

/// Whether `c` is a Chinese character (the unified blocks the tables cover).
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

/// Build every table now, so the first event does not pay for it.
pub fn warm_up() {
    sound::warm_up();
    words::warm_up();
    shape::warm_up();
    emoji::warm_up();
}

/// Parse a `char<TAB>fields…` table line into its key character and the rest, skipping
/// comments, blank lines and keys of more than one code point.
fn table_line(line: &str) -> Option<(char, &str)> {
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, rest) = line.split_once('\t')?;
    let mut chars = key.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some((c, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_sets() {
        let s = ChannelSet::all().with(Via::Homophone, false);
        assert!(!s.contains(Via::Homophone));
        assert!(s.contains(Via::Lookalike));
        assert!(
            !s.intersect(ChannelSet::all().with(Via::Emoji, false))
                .contains(Via::Emoji)
        );
        assert!(Via::Homophone.is_weak() && !Via::Pinyin.is_weak());
    }
}
