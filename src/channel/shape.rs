//! The look-alike channel: variants of a term with one character replaced by a
//! visually similar one (形近字: 冣 for 最, 曱 for 甲), or split into its two
//! components written side by side (拆字: 弓单 for 弹, 禾厶 for 私).
//!
//! A substitute must be rarer than the character it stands for: evaders reach for an
//! odd character, while a common one (太 for 大) would turn everyday words (太麻烦)
//! into terms.
//!
//! Variants only reach terms, and only a few per term. Regex rules and templated terms
//! read the **recomposed view** instead (see [`needs_recomposing`], [`composed`],
//! [`original`]): the event with each pair of components written side by side read as
//! the character they make (`氵匋宝` as 淘宝, `门木鱼` as 闲鱼) and each rare look-alike
//! as the character it imitates (`厡价` as 原价).

use std::collections::HashMap;
use std::sync::OnceLock;

use super::words::FastMap;
use super::{is_han, table_line, words};

const LOOKALIKE: &str = include_str!("../normalize/data/lookalike.tsv");
const DECOMPOSE: &str = include_str!("../normalize/data/decompose.tsv");

/// Substitutes tried per character.
const MAX_LOOKALIKES: usize = 4;
/// Most variants of one literal.
pub const MAX_VARIANTS: usize = 32;
/// A substitute at least this rare (frequency rank) counts even when the original is
/// rarer still (a rare term's rare look-alike).
const RARE: u32 = 2500;

struct Tables {
    lookalikes: HashMap<char, Vec<char>>,
    parts: HashMap<char, String>,
}

/// The recomposed view's readings (the reverse of [`Tables`]).
struct Readings {
    /// Two components, as [`words::key`], and the character they make.
    composed: FastMap<u64, char>,
    /// A rare look-alike and the character it imitates.
    originals: FastMap<char, char>,
    /// One bit per BMP code point: the first component of some pair, or a rare
    /// look-alike. The gate tests this before any map, so that ordinary text costs a
    /// load per character.
    marks: Box<[u64]>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut lookalikes = HashMap::new();
        for (c, rest) in LOOKALIKE.lines().filter_map(table_line) {
            let subs: Vec<char> = rest
                .split(' ')
                .filter_map(|s| {
                    let mut cs = s.chars();
                    let c = cs.next()?;
                    cs.next().is_none().then_some(c)
                })
                .collect();
            lookalikes.insert(c, subs);
        }
        let mut parts = HashMap::new();
        for (c, rest) in DECOMPOSE.lines().filter_map(table_line) {
            if let Some((_, comps)) = rest.split_once('\t') {
                let p: String = comps.split(' ').collect();
                if p.chars().count() == 2 {
                    parts.insert(c, p);
                }
            }
        }
        Tables { lookalikes, parts }
    })
}

fn readings() -> &'static Readings {
    static READINGS: OnceLock<Readings> = OnceLock::new();
    READINGS.get_or_init(|| {
        let t = tables();
        let mut composed = FastMap::default();
        let mut originals = FastMap::default();
        let mut marks = vec![0u64; 0x1_0000 / 64].into_boxed_slice();
        let mut mark = |c: char| {
            if let Some(word) = marks.get_mut(c as usize / 64) {
                *word |= 1 << (c as usize % 64);
            }
        };
        // The more common character wins a pair (or a glyph) that two could be read as.
        let keep =
            |old: Option<&char>, new: char| old.is_none_or(|&o| words::rank(new) < words::rank(o));
        // Only characters chat writes (the 8,000 most frequent) are made: an evader
        // splits a word's character, and a rare one made by accident from two words
        // (补水效果: 水效 makes 滧) is noise that builds a view for nothing.
        for (&c, p) in t.parts.iter().filter(|&(&c, _)| words::rank(c) != u32::MAX) {
            for spelling in part_spellings(p) {
                let mut cs = spelling.chars();
                let (Some(a), Some(b)) = (cs.next(), cs.next()) else {
                    continue;
                };
                // A pair that is a word of its own is that word (女子, 门口, 日月), and a
                // doubled component (木木) is collapsed before any view sees it.
                if a == b || words::is_word(a, b) {
                    continue;
                }
                let k = words::key(a, b);
                if keep(composed.get(&k), c) {
                    composed.insert(k, c);
                    mark(a);
                }
            }
        }
        // Only a glyph chat never writes for itself (beyond the 8,000 most frequent
        // characters) reads as another: 蚕 is a look-alike of 吞, and a word of its own.
        for &c in t.lookalikes.keys() {
            for s in lookalikes(c).filter(|&s| words::rank(s) == u32::MAX) {
                if keep(originals.get(&s), c) {
                    originals.insert(s, c);
                    mark(s);
                }
            }
        }
        Readings {
            composed,
            originals,
            marks,
        }
    })
}

fn marked(c: char) -> bool {
    let marks = &readings().marks;
    marks
        .get(c as usize / 64)
        .is_some_and(|w| w & (1 << (c as usize % 64)) != 0)
}

/// The character that `a` followed by `b` make when written side by side as its two
/// components (`氵`,`匋` → 淘; `门`,`木` → 闲), unless the two are a word of their own.
pub fn composed(a: char, b: char) -> Option<char> {
    if !marked(a) {
        return None;
    }
    readings().composed.get(&words::key(a, b)).copied()
}

/// The character a rare look-alike imitates (`厡` → 原, `冣` → 最).
pub fn original(c: char) -> Option<char> {
    if !marked(c) {
        return None;
    }
    readings().originals.get(&c).copied()
}

/// Whether normalized text has two components side by side or a rare look-alike, so
/// that its recomposed view could read differently.
pub fn needs_recomposing(normalized: &str) -> bool {
    let r = readings();
    // The previous character, when its bit was set (a pair can start there).
    let mut first = None;
    for c in normalized.chars() {
        if let Some(a) = first
            && r.composed.contains_key(&words::key(a, c))
        {
            return true;
        }
        first = None;
        if marked(c) {
            if r.originals.contains_key(&c) {
                return true;
            }
            first = Some(c);
        }
    }
    false
}

/// The look-alike substitutes of `c` the channel uses.
pub fn lookalikes(c: char) -> impl Iterator<Item = char> {
    let own = words::rank(c);
    tables()
        .lookalikes
        .get(&c)
        .into_iter()
        .flatten()
        .copied()
        .filter(move |&s| {
            let r = words::rank(s);
            r > own || r >= RARE
        })
        .take(MAX_LOOKALIKES)
}

/// The two components `c` splits into (`弹` → `弓单`), if it has a left-right or
/// top-bottom decomposition.
pub fn parts(c: char) -> Option<&'static str> {
    tables().parts.get(&c).map(String::as_str)
}

/// A component's radical form and its form as a character of its own: the table
/// writes one (特 is 牛寺, 票 is 覀示), a person types either (牜寺, 西示).
const COMPONENT_FORMS: &[(char, char)] = &[
    ('牛', '牜'),
    ('示', '礻'),
    ('言', '讠'),
    ('金', '钅'),
    ('食', '饣'),
    ('手', '扌'),
    ('水', '氵'),
    ('心', '忄'),
    ('人', '亻'),
    ('犬', '犭'),
    ('衣', '衤'),
    ('火', '灬'),
    ('网', '罒'),
    ('竹', '⺮'),
    ('西', '覀'),
    ('糸', '纟'),
    ('刀', '刂'),
    ('足', '⻊'),
    ('爪', '爫'),
];

/// Every spelling of a two-component split with each component in either form.
fn part_spellings(p: &str) -> Vec<String> {
    let other = |c: char| {
        COMPONENT_FORMS.iter().find_map(|&(a, b)| {
            if c == a {
                Some(b)
            } else if c == b {
                Some(a)
            } else {
                None
            }
        })
    };
    let mut out = vec![p.to_owned()];
    for (i, c) in p.chars().enumerate() {
        if let Some(o) = other(c) {
            let more: Vec<String> = out
                .iter()
                .map(|s| {
                    s.chars()
                        .enumerate()
                        .map(|(j, x)| if j == i { o } else { x })
                        .collect()
                })
                .collect();
            out.extend(more);
        }
    }
    out
}

/// Look-alike spellings of `literal` (a normalized term): one character replaced by a
/// look-alike, one character split into its parts, or (for two-character terms) both
/// characters split. Only Chinese characters are replaced.
pub fn variants(literal: &str) -> Vec<String> {
    let chars: Vec<char> = literal.chars().collect();
    if chars.iter().filter(|&&c| is_han(c)).count() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let with = |i: usize, s: &str| -> String {
        let mut v: String = chars[..i].iter().collect();
        v.push_str(s);
        v.extend(&chars[i + 1..]);
        v
    };
    for (i, &c) in chars.iter().enumerate() {
        if !is_han(c) {
            continue;
        }
        if let Some(p) = parts(c) {
            for p in part_spellings(p) {
                out.push(with(i, &p));
            }
        }
        for s in lookalikes(c) {
            out.push(with(i, &s.to_string()));
        }
    }
    if let [a, b] = chars[..]
        && let (Some(pa), Some(pb)) = (parts(a), parts(b))
    {
        out.push(format!("{pa}{pb}"));
    }
    out.truncate(MAX_VARIANTS);
    out
}

pub(super) fn warm_up() {
    let _ = readings();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_lookalikes() {
        assert_eq!(parts('弹'), Some("弓单"));
        let v = variants("子弹");
        assert!(v.contains(&"子弓单".to_owned()), "{v:?}");
        assert!(variants("私聊").contains(&"禾厶耳卯".to_owned()));
        assert!(variants("最好").contains(&"冣好".to_owned()));
        // A component in the form people type (牜 for the table's 牛, 西 for 覀).
        assert!(variants("特供").contains(&"牜寺供".to_owned()));
        assert!(variants("发票").contains(&"发西示".to_owned()));
        assert!(
            !variants("大麻").iter().any(|v| v.starts_with('太')),
            "a common character never stands in for a rarer one"
        );
        // A surround, outer part first.
        assert_eq!(parts('闲'), Some("门木"));
    }

    #[test]
    fn recomposed_readings() {
        assert_eq!(composed('氵', '匋'), Some('淘'));
        assert_eq!(
            composed('水', '匋'),
            Some('淘'),
            "either form of a component"
        );
        assert_eq!(composed('门', '木'), Some('闲'));
        assert_eq!(composed('讠', '舌'), Some('话'));
        assert_eq!(composed('女', '子'), None, "女子 is a word");
        assert_eq!(composed('门', '口'), None, "门口 is a word");
        assert_eq!(original('厡'), Some('原'));
        assert_eq!(original('原'), None);
        assert_eq!(
            original('太'),
            None,
            "common characters stand for themselves"
        );
        assert!(needs_recomposing("去氵匋宝"));
        assert!(needs_recomposing("厡价八百"));
        assert!(!needs_recomposing("我在门口等快递"));
        assert!(!needs_recomposing("今天的口红色号有三个"));
        assert!(
            !needs_recomposing("玻尿酸面膜补水效果好吗"),
            "水效 would make 滧"
        );
    }
}
