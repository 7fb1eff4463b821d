//! The look-alike channel: variants of a term with one character replaced by a
//! visually similar one (形近字: 冣 for 最, 曱 for 甲), or split into its two
//! components written side by side (拆字: 弓单 for 弹, 禾厶 for 私).
//!
//! A substitute must be rarer than the character it stands for: evaders reach for an
//! odd character, while a common one (太 for 大) would turn everyday words (太麻烦)
//! into terms.

use std::collections::HashMap;
use std::sync::OnceLock;

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
    let _ = tables();
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
    }
}
