//! A database: a fixed number of shards, chosen by bits of the key's hash.
//!
//! The shard index comes from hash bits 40..50, so it overlaps neither the low
//! bits hashbrown uses for the bucket nor the top 7 bits it keeps as tags. SCAN
//! walks keys in "ordinal" order: the hash rotated so the shard bits lead. A
//! cursor is an ordinal; every key present for the whole scan has an ordinal
//! and is returned once the cursor passes it, whatever resizes happen between
//! calls.

use parking_lot::Mutex;

use crate::events::KeyReporter;
use crate::keyspace::KeyspaceStats;
use crate::shard::{Entry, Shard, ShardGuard};
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
}

impl Default for Db {
    fn default() -> Self {
        Db {
            shards: (0..SHARD_COUNT)
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
        }
    }
}

impl Db {
    pub(crate) fn lock_shard<'a>(
        &'a self,
        db: usize,
        index: usize,
        stats: &'a KeyspaceStats,
        hasher: &'a ahash::RandomState,
        now_ms: u64,
        reporter: Option<KeyReporter<'a>>,
    ) -> ShardGuard<'a> {
        ShardGuard {
            shard: self.shards[index].lock(),
            db,
            stats,
            hasher,
            now_ms,
            clock_s: (now_ms / 1000) as u32,
            reporter,
        }
    }

    /// Exchanges every shard's contents with `other`'s (SWAPDB). The caller
    /// holds the keyspace exclusively, so nobody sees a half-swapped state.
    pub(crate) fn swap_contents(&self, other: &Db) {
        for (mine, theirs) in self.shards.iter().zip(other.shards.iter()) {
            std::mem::swap(&mut *mine.lock(), &mut *theirs.lock());
        }
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
    /// live keys (more when hashes tie), filtered by `keep`.
    #[allow(clippy::too_many_arguments)] // the shard-locking context, then the page
    pub(crate) fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        stats: &KeyspaceStats,
        hasher: &ahash::RandomState,
        now_ms: u64,
        mut keep: impl FnMut(&[u8], ValueType) -> bool,
    ) -> ScanBatch {
        let count = count.max(1);
        let mut batch = ScanBatch::default();
        let mut visited = 0usize;
        let first_shard = (cursor >> (64 - SHARD_BITS)) as usize;
        for index in first_shard..SHARD_COUNT {
            let shard = self.lock_shard(db, index, stats, hasher, now_ms, None);
            let mut candidates: Vec<(u64, &[u8], ValueType)> = shard
                .iter()
                .filter(|(_, hash, entry)| {
                    KeyHash::ordinal(*hash) >= cursor && !entry.is_expired(now_ms)
                })
                .map(|(key, hash, entry)| (KeyHash::ordinal(hash), key, entry.value.value_type()))
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
            for &(_, key, value_type) in &candidates[..taken] {
                if keep(key, value_type) {
                    batch.keys.push(key.to_vec());
                }
            }
            if taken < candidates.len() {
                batch.next_cursor = candidates[taken - 1].0 + 1;
                return batch;
            }
            if visited >= count {
                batch.next_cursor = if index + 1 < SHARD_COUNT {
                    ((index + 1) as u64) << (64 - SHARD_BITS)
                } else {
                    0
                };
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
