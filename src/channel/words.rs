//! Word knowledge for the weak channels: which two-character words exist, and how
//! common a character is (from jieba's dictionary; see `tools/gen_word_list.py`).

use std::collections::HashMap;
use std::sync::OnceLock;

const WORDS2: &str = include_str!("../normalize/data/words2.txt");
const CHARS: &str = include_str!("../normalize/data/chars.txt");

struct Words {
    /// Two-character words and their frequency in jieba's corpus.
    pairs: HashMap<u64, u32>,
    /// Frequency rank of the 8,000 most common characters.
    rank: HashMap<char, u32>,
}

fn key(a: char, b: char) -> u64 {
    (u64::from(a as u32) << 32) | u64::from(b as u32)
}

fn words() -> &'static Words {
    static WORDS: OnceLock<Words> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut pairs = HashMap::with_capacity(120_000);
        for line in WORDS2.lines().filter(|l| !l.starts_with('#')) {
            let Some((word, freq)) = line.split_once('\t') else {
                continue;
            };
            let mut cs = word.chars();
            if let (Some(a), Some(b), None) = (cs.next(), cs.next(), cs.next()) {
                pairs.insert(key(a, b), freq.parse().unwrap_or(1));
            }
        }
        let rank = CHARS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(str::chars)
            .zip(0..)
            .collect();
        Words { pairs, rank }
    })
}

/// Whether `a` followed by `b` is a two-character word.
pub fn is_word(a: char, b: char) -> bool {
    words().pairs.contains_key(&key(a, b))
}

/// How often `a` followed by `b` occurs as a word (0: not a word).
pub fn frequency(a: char, b: char) -> u32 {
    words().pairs.get(&key(a, b)).copied().unwrap_or(0)
}

/// How common `c` is: 0 for the most frequent character, `u32::MAX` beyond the 8,000
/// most frequent.
pub fn rank(c: char) -> u32 {
    words().rank.get(&c).copied().unwrap_or(u32::MAX)
}

pub(super) fn warm_up() {
    let _ = words();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_words_and_frequencies() {
        assert!(is_word('偏', '大'));
        assert!(is_word('上', '身'));
        assert!(!is_word('递', '一'));
        assert!(rank('的') < rank('最'));
        assert!(rank('最') < rank('冣'));
    }
}
