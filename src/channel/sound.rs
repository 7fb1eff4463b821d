//! The homophone channel's syllables: every Chinese character is read as its toneless
//! pinyin syllable (from the `pinyin` crate's reading table), and a syllable is written
//! as one private-use character, so that a text's *sound view* has exactly one
//! character per normalized character and positions carry over unchanged.
//!
//! Text is read with each character's most common reading (an evader picks a character
//! for the sound everyone gives it); a term is spelled with every reading of its
//! polyphones (`银行卡` is `yin hang ka` as well as `yin xing ka`).
//!
//! Syllables are compared *fuzzily*, the way pinyin input methods offer it and the way
//! much of China speaks: z/zh, c/ch, s/sh, n/l, an/ang, en/eng and in/ing are one sound
//! (`穿三甲` is 穿山甲). Two-syllable terms, where that is too loose, are checked again
//! with exact syllables ([`likeness`]).

use std::collections::HashMap;
use std::sync::OnceLock;

use pinyin::{ToPinyin, ToPinyinMulti};

use super::is_han;
use crate::normalize::{NormText, numeral};

/// First code point of the private-use block syllables are written in.
const BASE: u32 = 0xE000;
/// First character the table covers (CJK Extension A).
const FIRST: u32 = 0x3400;
const LAST: u32 = 0x9FFF;
/// Readings kept per character of a term.
const MAX_READINGS: usize = 3;
/// Most sound spellings of one term (polyphones multiply).
pub const MAX_SPELLINGS: usize = 16;

struct Table {
    /// Per character from `FIRST`: 1 + its fuzzy syllable's id (0: no reading).
    first: Box<[u16]>,
    /// Fuzzy syllable to id.
    ids: HashMap<String, u16>,
}

/// The fuzzy form of a toneless syllable: retroflex initials as flat ones, `l` as `n`,
/// back nasals as front ones (`shang` → `san`, `ling` → `nin`).
fn fuzzy(plain: &str) -> String {
    let mut s = plain.to_owned();
    if let Some(rest) = s
        .strip_prefix("zh")
        .or_else(|| s.strip_prefix("ch"))
        .or_else(|| s.strip_prefix("sh"))
    {
        s = format!("{}{rest}", &plain[..1]);
    }
    if let Some(rest) = s.strip_prefix('l') {
        s = format!("n{rest}");
    }
    for (back, front) in [("ang", "an"), ("eng", "en"), ("ing", "in")] {
        if let Some(stem) = s.strip_suffix(back) {
            s = format!("{stem}{front}");
            break;
        }
    }
    s
}

/// How closely `text_char`, read the way text is, sounds like `term_char`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Likeness {
    /// Only fuzzily (穿三甲: san for shan), or not at all.
    Fuzzy,
    /// Exactly, through one of the term character's rarer readings (航 for the hang
    /// of 银行; 心 for a xin that 款 has in old dictionaries).
    OtherReading,
    /// Exactly, through its main reading (递 for 第).
    Same,
}

/// How closely `text_char` sounds like `term_char` (see [`Likeness`]).
pub fn likeness(text_char: char, term_char: char) -> Likeness {
    // Terms are normalized: their numerals are digits.
    let term_char = term_char.to_digit(10).map_or(term_char, numeral);
    let Some(read) = text_char.to_pinyin() else {
        return if text_char == term_char {
            Likeness::Same
        } else {
            Likeness::Fuzzy
        };
    };
    if term_char
        .to_pinyin()
        .is_some_and(|p| p.plain() == read.plain())
    {
        Likeness::Same
    } else if term_char
        .to_pinyin_multi()
        .is_some_and(|multi| multi.into_iter().any(|p| p.plain() == read.plain()))
    {
        Likeness::OtherReading
    } else {
        Likeness::Fuzzy
    }
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut ids: HashMap<String, u16> = HashMap::new();
        let mut first = vec![0u16; (LAST - FIRST + 1) as usize].into_boxed_slice();
        for cp in FIRST..=LAST {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            if let Some(p) = c.to_pinyin() {
                let n = ids.len() as u16;
                let id = *ids.entry(fuzzy(p.plain())).or_insert(n);
                first[(cp - FIRST) as usize] = id + 1;
            }
        }
        Table { first, ids }
    })
}

fn syllable_char(id: u16) -> char {
    char::from_u32(BASE + u32::from(id)).unwrap_or('\u{E000}')
}

/// The sound of `c` in text: its most common syllable, or `c` itself when it is not a
/// Chinese character with a reading.
#[inline]
pub fn of_char(c: char) -> char {
    syllable_id(c).map_or(c, syllable_char)
}

/// The id of the (fuzzy) syllable of `c`'s most common reading, if it has one.
#[inline]
fn syllable_id(c: char) -> Option<u16> {
    let cp = c as u32;
    if !(FIRST..=LAST).contains(&cp) {
        return None;
    }
    table().first[(cp - FIRST) as usize].checked_sub(1)
}

/// Every sound of `c` in a term (at most three readings). A digit is itself or its
/// numeral's sound: the text may write 0元购 or 零圆够.
fn of_char_all(c: char) -> Vec<char> {
    if let Some(d) = c.to_digit(10) {
        return vec![c, of_char(numeral(d))];
    }
    if !is_han(c) {
        return vec![c];
    }
    let t = table();
    let mut out = Vec::new();
    if let Some(multi) = c.to_pinyin_multi() {
        for p in multi {
            if let Some(&id) = t.ids.get(&fuzzy(p.plain())) {
                let s = syllable_char(id);
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            if out.len() == MAX_READINGS {
                break;
            }
        }
    }
    if out.is_empty() {
        out.push(of_char(c));
    }
    out
}

/// Syllable pairs that begin some sound pattern: a text none of whose neighbouring
/// characters form one cannot match, and skips the sound automaton.
#[derive(Clone)]
pub struct Openings(Box<[u64]>);

impl std::fmt::Debug for Openings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: u32 = self.0.iter().map(|w| w.count_ones()).sum();
        write!(f, "Openings({pairs} pairs)")
    }
}

/// Ids in [`Openings`]: a syllable's id, or this for any other character.
const OTHER: usize = 1023;

fn opening_id(c: char) -> usize {
    let cp = c as u32;
    if (BASE..BASE + OTHER as u32).contains(&cp) {
        (cp - BASE) as usize
    } else {
        OTHER
    }
}

impl Openings {
    /// No pattern yet.
    pub fn new() -> Openings {
        Openings(vec![0u64; (OTHER + 1) * (OTHER + 1) / 64].into_boxed_slice())
    }

    /// The bit of the pair of ids `a`, `b`.
    fn index(a: usize, b: usize) -> usize {
        a * (OTHER + 1) + b
    }

    /// Note the first two characters of sound pattern `p`.
    pub fn add(&mut self, p: &str) {
        let mut cs = p.chars();
        if let (Some(a), Some(b)) = (cs.next(), cs.next()) {
            let i = Openings::index(opening_id(a), opening_id(b));
            self.0[i / 64] |= 1 << (i % 64);
        }
    }

    fn has(&self, a: usize, b: usize) -> bool {
        let i = Openings::index(a, b);
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    /// Whether some pair of neighbouring characters of `text`, read as syllables, opens
    /// a pattern. It reads the syllables without building the sound view: most chat
    /// opens none, and then the view is not needed at all.
    pub fn any_in_text(&self, text: &NormText) -> bool {
        let mut prev = None;
        for sound in sounds(text) {
            let id = sound.map_or(OTHER, |id| usize::from(id).min(OTHER));
            if let Some(p) = prev
                && self.has(p, id)
            {
                return true;
            }
            prev = Some(id);
        }
        false
    }
}

impl Default for Openings {
    fn default() -> Openings {
        Openings::new()
    }
}

/// The syllable id of each normalized character of `text` (its most common reading; a
/// numeral folded to a digit keeps its sound: 穿三甲 is 穿3甲), or the character itself
/// when it has no reading.
fn sounds(text: &NormText) -> impl Iterator<Item = Result<u16, char>> + '_ {
    let chars = text.chars();
    text.as_str().chars().enumerate().map(move |(i, c)| {
        let c = if chars[i].numeral { text.han_at(i) } else { c };
        syllable_id(c).ok_or(c)
    })
}

/// Write the sound view of `text` into `out` (cleared first): one character per
/// normalized character.
pub fn view(text: &NormText, out: &mut String) {
    out.clear();
    out.reserve(text.as_str().len());
    out.extend(sounds(text).map(|s| s.map_or_else(|c| c, syllable_char)));
}

/// The sound spellings of a normalized literal, or nothing when it has fewer than two
/// Chinese characters (one syllable matches far too much).
pub fn spellings(literal: &str) -> Vec<String> {
    if literal.chars().filter(|&c| is_han(c)).count() < 2 {
        return Vec::new();
    }
    let mut out = vec![String::new()];
    for c in literal.chars() {
        let sounds = of_char_all(c);
        out = out
            .iter()
            .flat_map(|prefix| {
                sounds.iter().map(move |s| {
                    let mut p = prefix.clone();
                    p.push(*s);
                    p
                })
            })
            .take(MAX_SPELLINGS)
            .collect();
    }
    out
}

/// Characters that stand in for another of the same sound in a word: common enough
/// that an evader's input method offers them (ranks 150 to 3,000: beyond the 150 most
/// common, 的 是 好, which would make every phrase a spelling), by their main reading's
/// toneless syllable, most common first.
fn common_by_syllable() -> &'static HashMap<&'static str, Vec<char>> {
    static BY_SYLLABLE: OnceLock<HashMap<&'static str, Vec<char>>> = OnceLock::new();
    BY_SYLLABLE.get_or_init(|| {
        let mut by: HashMap<&'static str, Vec<char>> = HashMap::new();
        for c in (0x4E00..=0x9FFF).filter_map(char::from_u32) {
            let rank = super::words::rank(c);
            if (150..3000).contains(&rank)
                && let Some(p) = c.to_pinyin()
            {
                by.entry(p.plain()).or_default().push(c);
            }
        }
        for chars in by.values_mut() {
            chars.sort_by_key(|&c| super::words::rank(c));
        }
        by
    })
}

/// Spellings of a word of two or more Chinese characters with one character replaced
/// by a common character of exactly its sound (`快手`: 块手, 快首; `淘宝`: 掏宝, 淘包),
/// for the rules' group words, which the channel's sound automaton does not read.
/// A replacement that makes a word with a neighbour is that word (`闲鱼` never gives
/// 鲜鱼, nor `小红书` 小红树).
pub fn homophones(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 2 || !chars.iter().all(|&c| is_han(c)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        let Some(p) = c.to_pinyin() else { continue };
        let Some(same) = common_by_syllable().get(p.plain()) else {
            continue;
        };
        for &r in same.iter().filter(|&&r| r != c) {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 1).copied();
            if before.is_some_and(|b| super::words::is_word(b, r))
                || after.is_some_and(|a| super::words::is_word(r, a))
            {
                continue;
            }
            let mut spelled = chars.clone();
            spelled[i] = r;
            out.push(spelled.into_iter().collect());
        }
    }
    out
}

pub(super) fn warm_up() {
    let _ = table();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_is_spelled_with_a_common_character_of_the_same_sound() {
        let kuaishou = homophones("快手");
        assert!(kuaishou.contains(&"块手".to_owned()), "{kuaishou:?}");
        assert!(kuaishou.contains(&"快首".to_owned()), "{kuaishou:?}");
        assert!(
            !homophones("闲鱼").contains(&"鲜鱼".to_owned()),
            "鲜鱼 is a word"
        );
        assert!(
            !homophones("小红书").contains(&"小红树".to_owned()),
            "红树 is a word"
        );
        assert!(homophones("快").is_empty() && homophones("tb").is_empty());
    }

    #[test]
    fn same_sound_same_view() {
        let a = NormText::normalized("递一");
        let b = NormText::normalized("第一");
        let (mut va, mut vb) = (String::new(), String::new());
        view(&a, &mut va);
        view(&b, &mut vb);
        assert_eq!(va, vb);
        assert_eq!(va.chars().count(), a.chars().len());
        let mut v = String::new();
        view(&NormText::normalized("耍单"), &mut v);
        assert!(spellings("刷单").contains(&v));
    }

    #[test]
    fn syllables_fit_the_openings_table() {
        assert!(table().ids.len() < OTHER);
        let mut o = Openings::new();
        for p in spellings("刷单") {
            o.add(&p);
        }
        assert!(o.any_in_text(&NormText::normalized("招人耍单")));
        assert!(!o.any_in_text(&NormText::normalized("今天天气好")));
    }

    #[test]
    fn fuzzy_syllables() {
        assert_eq!(fuzzy("shang"), "san");
        assert_eq!(fuzzy("zhi"), "zi");
        assert_eq!(fuzzy("ling"), "nin");
        assert_eq!(fuzzy("chuan"), "cuan");
        let mut v = String::new();
        view(&NormText::normalized("穿三甲"), &mut v);
        assert!(spellings("穿山甲").contains(&v));
        assert_eq!(likeness('递', '第'), Likeness::Same);
        assert_eq!(likeness('航', '行'), Likeness::OtherReading);
        assert_eq!(likeness('三', '山'), Likeness::Fuzzy);
    }

    #[test]
    fn polyphones_are_spelled_every_way() {
        let mut v = String::new();
        view(&NormText::normalized("银航卡"), &mut v);
        assert!(spellings("银行卡").contains(&v), "hang is a reading of 行");
        assert!(spellings("加v").is_empty(), "one syllable is not enough");
    }
}
