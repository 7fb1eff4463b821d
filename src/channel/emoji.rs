//! The emoji channel: an emoji standing for a character or a word of a term (💊到病除,
//! 🦏角, 🐧群, 电子🚬).
//!
//! An emoji may also stand for a character by sound: the one-character name of the
//! thing it shows read as another character of the same syllable (垃🐔 for 垃圾, 壮🐑
//! for 壮阳, 🍑宝 for 淘宝).
//!
//! Everywhere else an emoji is separator noise (`最❤好` is 最好), so the channel keeps
//! its own *emoji view* of an event: normalized as usual, except that the emoji of the
//! table stay in the text as characters. It is built only for events that have one.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::table_line;

const EMOJI: &str = include_str!("../normalize/data/emoji.tsv");

/// Most variants of one literal.
pub const MAX_VARIANTS: usize = 32;

struct Table {
    /// One bit per code point from U+2000 to U+1FFFF: an emoji of the table (the
    /// normalizer asks for every separator it meets).
    bits: Box<[u64]>,
    /// A word (one or two characters, or Latin) to the emoji that stand for it.
    by_word: HashMap<String, Vec<char>>,
    /// A syllable (toneless pinyin, main reading) to the emoji whose one-character
    /// word has it.
    by_sound: HashMap<&'static str, Vec<char>>,
    /// An emoji to its first [`READINGS`] words (lower case): what it may read as in
    /// text, most useful first.
    reading: HashMap<char, Vec<String>>,
}

/// The main reading of `c`, toneless.
fn syllable(c: char) -> Option<&'static str> {
    use pinyin::ToPinyin;
    c.to_pinyin().map(|p| p.plain())
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut bits = vec![0u64; (0x2_0000 - 0x2000) / 64].into_boxed_slice();
        let mut by_word: HashMap<String, Vec<char>> = HashMap::new();
        let mut by_sound: HashMap<&'static str, Vec<char>> = HashMap::new();
        let mut reading: HashMap<char, Vec<String>> = HashMap::new();
        for (e, rest) in EMOJI.lines().filter_map(table_line) {
            let cp = e as usize;
            if (0x2000..0x2_0000).contains(&cp) {
                bits[(cp - 0x2000) / 64] |= 1 << ((cp - 0x2000) % 64);
            }
            reading.entry(e).or_insert_with(|| {
                rest.split(' ')
                    .filter(|w| !w.is_empty())
                    .take(READINGS)
                    .map(str::to_lowercase)
                    .collect()
            });
            // Lower-cased, not normalized: normalizing collapses `QQ` to `q`.
            for w in rest
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
            {
                let mut cs = w.chars();
                if let (Some(c), None) = (cs.next(), cs.next())
                    && let Some(s) = syllable(c)
                {
                    let list = by_sound.entry(s).or_default();
                    if !list.contains(&e) {
                        list.push(e);
                    }
                }
                let list = by_word.entry(w).or_default();
                if !list.contains(&e) {
                    list.push(e);
                }
            }
        }
        Table {
            bits,
            by_word,
            by_sound,
            reading,
        }
    })
}

/// Whether `c` is an emoji of the table (it stays a character in the emoji view).
pub fn is_table_emoji(c: char) -> bool {
    let cp = c as usize;
    (0x2000..0x2_0000).contains(&cp)
        && table().bits[(cp - 0x2000) / 64] & (1 << ((cp - 0x2000) % 64)) != 0
}

/// Most words an emoji is read as ([`reading`]): each needs a pass of its own.
pub const READINGS: usize = 3;

/// The `k`-th word an emoji of the table reads as in running text, or its first when
/// it has fewer (`🐟` 鱼; `💩` 屎, 垃圾; `☠` 骷髅, 死, 毒).
pub fn reading(c: char, k: usize) -> Option<&'static str> {
    let words = table().reading.get(&c)?;
    words.get(k).or(words.first()).map(String::as_str)
}

/// How many words `c` is read as (0 when it is no emoji of the table).
pub fn readings(c: char) -> usize {
    table().reading.get(&c).map_or(0, Vec::len)
}

/// Emoji spellings of `literal` (a normalized term): one character, or a run of two or
/// more that is one word (企鹅, 韭菜, qq), replaced by an emoji that stands for it.
pub fn variants(literal: &str) -> Vec<String> {
    let chars: Vec<char> = literal.chars().collect();
    if chars.len() < 2 {
        return Vec::new();
    }
    let t = table();
    let mut out = Vec::new();
    for i in 0..chars.len() {
        for j in i + 1..=chars.len().min(i + 3) {
            if (i, j) == (0, chars.len()) {
                continue;
            }
            let word: String = chars[i..j].iter().collect();
            let Some(emoji) = t.by_word.get(&word) else {
                continue;
            };
            for &e in emoji.iter().take(4) {
                let mut v: String = chars[..i].iter().collect();
                v.push(e);
                v.extend(&chars[j..]);
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
    }
    // A character by the sound of an emoji's word (垃🐔, 壮🐑, 🍑宝).
    for (i, &c) in chars.iter().enumerate() {
        if !super::is_han(c) {
            continue;
        }
        let Some(emoji) = syllable(c).and_then(|s| t.by_sound.get(s)) else {
            continue;
        };
        for &e in emoji.iter().take(2) {
            let mut v: String = chars[..i].iter().collect();
            v.push(e);
            v.extend(&chars[i + 1..]);
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    // Both characters of a two-character term drawn (🐘🦷 for 象牙).
    if let [a, b] = chars[..] {
        let of = |c: char| t.by_word.get(&c.to_string()).cloned().unwrap_or_default();
        for ea in of(a).into_iter().take(2) {
            for eb in of(b).into_iter().take(2) {
                out.push(format!("{ea}{eb}"));
            }
        }
    }
    out.truncate(MAX_VARIANTS);
    out
}

pub(super) fn warm_up() {
    let _ = table();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_for_characters_and_words() {
        assert!(is_table_emoji('💊'));
        assert!(!is_table_emoji('❤'), "hearts are decoration");
        assert!(variants("药到病除").contains(&"💊到病除".to_owned()));
        assert!(variants("犀角").contains(&"🦏角".to_owned()));
        assert!(variants("qq群").contains(&"🐧群".to_owned()));
        assert!(
            variants("垃圾").contains(&"垃🐔".to_owned()),
            "by the sound of 鸡"
        );
        assert!(
            variants("淘宝").contains(&"🍑宝".to_owned()),
            "by the sound of 桃"
        );
        assert_eq!(reading('🐟', 0), Some("鱼"));
        assert_eq!(reading('🐟', 2), Some("鱼"), "one word, read in every pass");
        assert_eq!(reading('💲', 0), Some("价"), "the supplement puts 价 first");
        assert_eq!(reading('🔟', 0), Some("10"));
        assert_eq!(reading('☠', 2), Some("毒"));
        assert_eq!(readings('☠'), 3);
        assert_eq!(reading('❤', 0), None);
    }
}
