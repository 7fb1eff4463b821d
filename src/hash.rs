//! A small, fast 64-bit hash for in-memory keys (windows, strike logs) and stable ids.
//!
//! Keys are hashed once, by this, and the maps (`BuildHasherDefault<KeyHasher>`) use
//! the value as is. SipHash, the standard library's choice, cost a tenth of the whole
//! pipeline when it hashed window keys. Seed it at random where ids come from outside
//! (window keys), with a fixed seed where the result must be stable (action ids).

use std::hash::{BuildHasher, Hasher, RandomState};

/// Shards of the maps of per-sender state (windows, strike logs). Many shards keep
/// each one small, so that growing a shard's table or sweeping it holds its lock for
/// microseconds, not milliseconds (with DashMap's default of 4 x cores, a shard of a
/// few hundred thousand windows stalled every event hashed to it while it grew).
pub(crate) const STATE_SHARDS: usize = 512;

/// A random seed for map keys, so that nobody choosing ids can aim at one bucket.
pub(crate) fn random_seed() -> u64 {
    RandomState::new().hash_one(0x6c67_7561_7264u64)
}

/// Fold bytes into a 64-bit state: multiply-rotate per 8-byte word, then an avalanche.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHash(u64);

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl KeyHash {
    /// A hash state from a seed.
    pub(crate) fn new(seed: u64) -> KeyHash {
        KeyHash(seed)
    }

    /// Mix in `bytes` and their length (so that ("ab", "c") and ("a", "bc") differ).
    pub(crate) fn write(mut self, bytes: &[u8]) -> KeyHash {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(MULTIPLIER);
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(last)).wrapping_mul(MULTIPLIER);
        self.0 = (self.0 ^ bytes.len() as u64).wrapping_mul(MULTIPLIER);
        self
    }

    /// The hash, after a final avalanche (murmur3's fmix64).
    pub(crate) fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// The `Hasher` of maps whose keys are already [`KeyHash`] values: it passes them on.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_splits_and_seeds() {
        let h = |parts: &[&str], seed| {
            parts
                .iter()
                .fold(KeyHash::new(seed), |h, p| h.write(p.as_bytes()))
                .finish()
        };
        assert_ne!(h(&["ab", "c"], 1), h(&["a", "bc"], 1));
        assert_ne!(h(&["room", "user"], 1), h(&["room", "user"], 2));
        assert_eq!(h(&["room", "user"], 7), h(&["room", "user"], 7));
        assert_ne!(h(&["room-0000000001"], 1), h(&["room-0000000002"], 1));
    }
}
