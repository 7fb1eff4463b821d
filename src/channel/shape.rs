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
            out.push(with(i, p));
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
        assert!(
            !variants("大麻").iter().any(|v| v.starts_with('太')),
            "a common character never stands in for a rarer one"
        );
    }
}
