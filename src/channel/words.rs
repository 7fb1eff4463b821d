//! Word knowledge for the weak channels: which two-character words exist, and how
//! common a character is (from jieba's dictionary; see `tools/gen_word_list.py`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// A multiplicative hash for the fixed, trusted keys of these tables (character
/// pairs): they are looked up for every candidate, and SipHash cost more than the rest
/// of the check.
#[derive(Default)]
pub(super) struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

/// A map keyed with [`PairHasher`].
pub(super) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<PairHasher>>;

const WORDS2: &str = include_str!("../normalize/data/words2.txt");
const CHARS: &str = include_str!("../normalize/data/chars.txt");

struct Words {
    /// Two-character words and their frequency in jieba's corpus.
    pairs: FastMap<u64, u32>,
    /// Frequency rank of the 8,000 most common characters.
    rank: FastMap<char, u32>,
}

/// `a` followed by `b` as one map key.
pub(super) fn key(a: char, b: char) -> u64 {
    (u64::from(a as u32) << 32) | u64::from(b as u32)
}

fn words() -> &'static Words {
    static WORDS: OnceLock<Words> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut pairs = FastMap::default();
        pairs.reserve(120_000);
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
