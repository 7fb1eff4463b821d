//! Bounded, sharded maps of per-sender state: the windows of recent events and the
//! escalation ladder's strike logs.
//!
//! Keys are [`KeyHash`](crate::hash::KeyHash) values of (room, user, …) under the
//! map's random seed, so no lookup allocates and nobody choosing ids can aim at one
//! bucket. The map holds at most `max` values: **overflow policy** — a key that would
//! need a new value when `max` are held gets none (the caller judges without the state
//! and the refusal is counted), until a sweep frees room. Existing values are never
//! evicted to make room: a flood of new senders cannot erase what is known of the old.

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use dashmap::mapref::one::RefMut;

use crate::hash::{KeyHash, KeyHasher, STATE_SHARDS, random_seed};

/// A bounded map from hashed keys to per-sender state (see the module docs).
#[derive(Debug)]
pub(crate) struct StateMap<V> {
    map: DashMap<u64, V, BuildHasherDefault<KeyHasher>>,
    seed: u64,
    max: usize,
    /// Values held (kept beside the map: `DashMap::len` locks every shard).
    held: AtomicUsize,
    /// New values refused because `max` were held.
    refused: AtomicU64,
}

impl<V> StateMap<V> {
    /// An empty map holding at most `max` values.
    pub(crate) fn new(max: usize) -> StateMap<V> {
        StateMap {
            map: DashMap::with_hasher_and_shard_amount(BuildHasherDefault::default(), STATE_SHARDS),
            seed: random_seed(),
            max,
            held: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// A hash state under this map's seed, to build a key with.
    pub(crate) fn key(&self) -> KeyHash {
        KeyHash::new(self.seed)
    }

    /// The value of `key`, locked until the guard drops, made by `make` if there is
    /// none yet; `None` (and one more refusal) when it is new and the map is full.
    pub(crate) fn get_or_insert_with(
        &self,
        key: u64,
        make: impl FnOnce() -> V,
    ) -> Option<RefMut<'_, u64, V>> {
        match self.map.entry(key) {
            Entry::Occupied(o) => Some(o.into_ref()),
            Entry::Vacant(v) => {
                if self.held.load(Ordering::Relaxed) >= self.max {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                self.held.fetch_add(1, Ordering::Relaxed);
                Some(v.insert(make()))
            }
        }
    }

    /// The value of `key`, if there is one, locked until the guard drops.
    pub(crate) fn get_mut(&self, key: u64) -> Option<RefMut<'_, u64, V>> {
        self.map.get_mut(&key)
    }

    /// Keep the values `keep` says to keep, one shard locked at a time; returns how
    /// many were removed.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&mut V) -> bool) -> usize {
        let mut removed = 0;
        self.map.retain(|_, v| {
            let k = keep(v);
            removed += usize::from(!k);
            k
        });
        self.held.fetch_sub(removed, Ordering::Relaxed);
        removed
    }

    /// Values held.
    pub(crate) fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// New values refused so far because the map was full.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_refuses_new_keys_keeps_old_ones_and_frees_room_on_sweep() {
        let m: StateMap<u32> = StateMap::new(2);
        *m.get_or_insert_with(1, || 0).unwrap() += 1;
        *m.get_or_insert_with(2, || 0).unwrap() += 1;
        assert!(m.get_or_insert_with(3, || 0).is_none());
        assert_eq!((m.len(), m.refused()), (2, 1));
        *m.get_or_insert_with(1, || 0).unwrap() += 1;
        assert_eq!(
            *m.get_mut(1).unwrap(),
            2,
            "an existing key is never refused"
        );
        assert_eq!(m.retain(|v| *v > 1), 1);
        assert_eq!(m.len(), 1);
        assert!(m.get_or_insert_with(3, || 0).is_some());
    }
}
