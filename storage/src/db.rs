//! A database: a fixed number of shards, chosen by bits of the key's hash.
//!
//! The shard index comes from hash bits 40..50, so it overlaps neither the low
//! bits hashbrown uses for the bucket nor the top 7 bits it keeps as tags. SCAN
//! walks keys in "ordinal" order: the hash rotated so the shard bits lead. A
//! cursor is an ordinal; every key present for the whole scan has an ordinal
//! and is returned once the cursor passes it, whatever resizes happen between
//! calls.

use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::shard::{Entry, Shard, ShardAccess, ShardGuard};
use crate::value::ValueType;

const SHARD_BITS: u32 = 10;
pub(crate) const SHARD_COUNT: usize = 1 << SHARD_BITS;
const SHARD_SHIFT: u32 = 40;
const ORDINAL_ROTATION: u32 = 64 - (SHARD_SHIFT + SHARD_BITS);

/// A key with its hash, computed once per command.
#[derive(Debug, Clone, Copy)]
pub struct KeyHash<'a> {
    pub bytes: &'a [u8],
    pub hash: u64,
}

impl KeyHash<'_> {
    pub fn shard_index(&self) -> usize {
        ((self.hash >> SHARD_SHIFT) as usize) & (SHARD_COUNT - 1)
    }

    fn ordinal(hash: u64) -> u64 {
        hash.rotate_left(ORDINAL_ROTATION)
    }
}

/// One page of a SCAN.
#[derive(Debug, Default)]
pub struct ScanBatch {
    /// 0 when the scan is complete.
    pub next_cursor: u64,
    pub keys: Vec<Vec<u8>>,
}

/// The shards of one database.
#[derive(Debug)]
pub struct Db {
    shards: Box<[Mutex<Shard>]>,
    /// Keys with an expiry in all shards (kept with each shard's own count),
    /// so the active expire cycle skips a database without any unlocked.
    volatile_keys: AtomicUsize,
}

impl Default for Db {
    fn default() -> Self {
        Db {
            shards: (0..SHARD_COUNT)
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            volatile_keys: AtomicUsize::new(0),
        }
    }
}

impl Db {
    pub(crate) fn lock_shard<'a>(
        &'a self,
        db: usize,
        index: usize,
        access: ShardAccess<'a>,
    ) -> ShardGuard<'a> {
        ShardGuard {
            shard: self.shards[index].lock(),
            volatile_keys: &self.volatile_keys,
            db,
            stats: access.stats,
            hasher: access.hasher,
            now_ms: access.now_ms,
            clock_s: (access.now_ms / 1000) as u32,
            reporter: access.reporter,
            expiry: access.expiry,
        }
    }

    /// Whether any key of this database has an expiry.
    pub(crate) fn has_volatile_keys(&self) -> bool {
        self.volatile_keys.load(Ordering::Relaxed) > 0
    }

    /// Exchanges every shard's contents with `other`'s (SWAPDB). The caller
    /// holds the keyspace exclusively, so nobody sees a half-swapped state.
    pub(crate) fn swap_contents(&self, other: &Db) {
        for (mine, theirs) in self.shards.iter().zip(other.shards.iter()) {
            std::mem::swap(&mut *mine.lock(), &mut *theirs.lock());
        }
        let theirs = other.volatile_keys.load(Ordering::Relaxed);
        let mine = self.volatile_keys.swap(theirs, Ordering::Relaxed);
        other.volatile_keys.store(mine, Ordering::Relaxed);
    }

    /// Calls `f` on every shard, one lock at a time.
    pub(crate) fn for_each_raw_shard(&self, mut f: impl FnMut(&mut Shard)) {
        for shard in self.shards.iter() {
            f(&mut shard.lock());
        }
    }

    /// Calls `f` on every key not expired at `now_ms`, one shard lock at a time.
    pub(crate) fn for_each_live_entry(&self, now_ms: u64, mut f: impl FnMut(&[u8], &Entry)) {
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (key, entry) in shard.entries() {
                if !entry.is_expired(now_ms) {
                    f(key, entry);
                }
            }
        }
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Next page of keys at or after `cursor` in ordinal order: about `count`
    /// keys visited (more when hashes tie). A visited key is returned when
    /// `matches` (the pattern) and `keep_type` accept it; an expired one that
    /// `matches` accepts is deleted instead (lazy expiry, as Redis's SCAN
    /// does: its type check and its expiry check both delete it; on a replica
    /// it is only left out), while an expired one the pattern rejects is left
    /// for the active cycle.
    /// `lock` locks shard `index` of this database the way commands do
    /// (snapshot capture, key events), since lazy expiry writes.
    pub(crate) fn scan<'a>(
        cursor: u64,
        count: usize,
        lock: impl Fn(usize) -> ShardGuard<'a>,
        mut matches: impl FnMut(&[u8]) -> bool,
        mut keep_type: impl FnMut(ValueType) -> bool,
    ) -> ScanBatch {
        let count = count.max(1);
        let mut batch = ScanBatch::default();
        let mut visited = 0usize;
        let first_shard = (cursor >> (64 - SHARD_BITS)) as usize;
        for index in first_shard..SHARD_COUNT {
            let mut shard = lock(index);
            let mut candidates: Vec<(u64, &[u8], &Entry)> = shard
                .iter()
                .filter(|(_, hash, _)| KeyHash::ordinal(*hash) >= cursor)
                .map(|(key, hash, entry)| (KeyHash::ordinal(hash), key, entry))
                .collect();
            candidates.sort_unstable_by_key(|c| c.0);
            let wanted = count - visited;
            let mut taken = candidates.len().min(wanted);
            while taken > 0
                && taken < candidates.len()
                && candidates[taken].0 == candidates[taken - 1].0
            {
                taken += 1;
            }
            visited += taken;
            let mut expired = Vec::new();
            for &(_, key, entry) in &candidates[..taken] {
                if !matches(key) {
                    continue;
                }
                if shard.hides(entry) {
                    expired.push(key.to_vec());
                } else if keep_type(entry.value.value_type()) {
                    batch.keys.push(key.to_vec());
                }
            }
            let next_cursor = match (taken < candidates.len(), visited >= count) {
                (true, _) => Some(candidates[taken - 1].0 + 1),
                (false, true) if index + 1 < SHARD_COUNT => {
                    Some(((index + 1) as u64) << (64 - SHARD_BITS))
                }
                (false, true) => Some(0),
                (false, false) => None,
            };
            drop(candidates);
            for key in &expired {
                shard.expire_if_due(key);
            }
            if let Some(next_cursor) = next_cursor {
                batch.next_cursor = next_cursor;
                return batch;
            }
        }
        batch.next_cursor = 0;
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_bits_lead_the_ordinal() {
        let key = KeyHash {
            bytes: b"k",
            hash: 0x0003_ff00_0000_1234,
        };
        let ordinal = KeyHash::ordinal(key.hash);
        assert_eq!((ordinal >> (64 - SHARD_BITS)) as usize, key.shard_index());
    }
}
