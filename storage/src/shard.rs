//! One shard of a database: a small hash table of keys to entries behind its own
//! lock. Small shards keep every lock hold and every table resize short.

use std::sync::atomic::{AtomicUsize, Ordering};

use hashbrown::HashTable;
use parking_lot::MutexGuard;

use crate::db::KeyHash;
use crate::events::KeyReporter;
use crate::expiry::{ExpiryPolicy, TrackedKey};
use crate::key::KeyBytes;
use crate::keyspace::KeyspaceStats;
use crate::lfu;
use crate::snapshot::ShardCapture;
use crate::value::Value;

/// A key's value plus its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means the key does not expire.
    expire_at_ms: u64,
    /// Last access, in seconds on the keyspace's clock (OBJECT IDLETIME).
    last_access_s: u32,
    /// Redis's logarithmic access-frequency counter (LFU policies, OBJECT FREQ).
    lfu_counter: u8,
}

impl Entry {
    pub fn new(value: Value) -> Entry {
        Entry::with_expiry(value, None)
    }

    pub fn with_expiry(value: Value, expire_at_ms: Option<u64>) -> Entry {
        Entry {
            value,
            expire_at_ms: expire_at_ms.unwrap_or(0),
            last_access_s: 0,
            lfu_counter: lfu::INITIAL,
        }
    }

    pub fn expire_at_ms(&self) -> Option<u64> {
        (self.expire_at_ms != 0).then_some(self.expire_at_ms)
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }

    pub fn last_access_s(&self) -> u32 {
        self.last_access_s
    }
}

/// A key and its entry, as stored in the table.
#[derive(Debug)]
struct Slot {
    key: KeyBytes,
    entry: Entry,
}

/// The table itself. All access goes through [`ShardGuard`].
#[derive(Debug, Default)]
pub struct Shard {
    /// Slots are boxed: the table then costs 8 bytes per bucket, which matters
    /// because a hash table is often only half full after it grows.
    table: HashTable<Box<Slot>>,
    /// How many entries have an expiry (the active expire cycle skips shards
    /// without any).
    volatile: usize,
    /// The last snapshot epoch that reached this shard (`snapshot.rs`).
    pub(crate) snapshot_epoch: u64,
    /// That snapshot's capture, while it is not complete: keys are
    /// preserved before their first use.
    pub(crate) capture: Option<Box<ShardCapture>>,
}

impl Shard {
    /// Completes a running snapshot's capture of this shard: every key not
    /// preserved yet is serialised as it is (unchanged since the start).
    /// Returns how many keys the shard holds if it was still to capture
    /// (what a saving process would have serialised for it), else 0.
    pub(crate) fn complete_capture(&mut self) -> usize {
        let Some(capture) = self.capture.take() else {
            return 0;
        };
        capture.complete(
            self.table
                .iter()
                .map(|slot| (slot.key.as_slice(), &slot.entry)),
        );
        self.table.len()
    }

    /// Preserves `key` for a running snapshot before it is used.
    fn preserve(&mut self, key: &KeyHash) {
        if let Some(capture) = self.capture.as_mut() {
            let stored = self
                .table
                .find(key.hash, |slot| slot.key.as_slice() == key.bytes)
                .map(|slot| &slot.entry);
            capture.preserve(key.bytes, stored);
        }
    }

    /// Every key with its entry, expired ones included (for snapshots, which
    /// read shards without a `ShardGuard`).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.table
            .iter()
            .map(|slot| (slot.key.as_slice(), &slot.entry))
    }
}

/// What locking a shard takes besides the shard: the keyspace's statistics
/// and hasher, the command's time, where key events go (none while loading)
/// and how expired keys are treated.
#[derive(Clone, Copy)]
pub(crate) struct ShardAccess<'a> {
    pub(crate) stats: &'a KeyspaceStats,
    pub(crate) hasher: &'a ahash::RandomState,
    pub(crate) now_ms: u64,
    pub(crate) reporter: Option<KeyReporter<'a>>,
    pub(crate) expiry: ExpiryPolicy,
}

/// A locked shard, with the keyspace statistics its lazy expiry updates.
///
/// Invariant for snapshots (`snapshot.rs`): every method that can change,
/// create, remove or hand out `&mut` to an entry first calls
/// `Shard::preserve` for its key, and every method that changes the table
/// as a whole first calls `Shard::complete_capture`; a new method must too,
/// or a running snapshot would see its effect.
pub struct ShardGuard<'a> {
    pub(crate) shard: MutexGuard<'a, Shard>,
    /// The database's count of keys with an expiry, kept with the shard's.
    pub(crate) volatile_keys: &'a AtomicUsize,
    /// The database this shard belongs to (expired keys are logged with it).
    pub(crate) db: usize,
    pub(crate) stats: &'a KeyspaceStats,
    /// Rehashes keys when the table grows (hashes are not stored, to save 8 bytes a key).
    pub(crate) hasher: &'a ahash::RandomState,
    pub(crate) now_ms: u64,
    pub(crate) clock_s: u32,
    /// Where keys that appear or expire are reported (none while loading).
    pub(crate) reporter: Option<KeyReporter<'a>>,
    /// What an expired key met here is: deleted, hidden or live.
    pub(crate) expiry: ExpiryPolicy,
}

impl ShardGuard<'_> {
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Whether an expired key met is deleted: the policy deletes and no
    /// client pause holds expiry (the dataset stays as it is then).
    fn deletes_expired(&self) -> bool {
        self.expiry.deletes_expired() && !self.stats.expiry_held(self.now_ms)
    }

    /// Whether `entry` counts as absent because it expired (never for the
    /// replication stream on a replica: see [`ExpiryPolicy`]).
    pub fn hides(&self, entry: &Entry) -> bool {
        self.expiry.hides_expired() && entry.is_expired(self.now_ms)
    }

    /// The live entry for `key`, updating its access time. An expired entry is
    /// reported as absent, and deleted here (lazy expiry) when the policy
    /// deletes (a master, a write on a writable replica).
    pub fn get(&mut self, key: &KeyHash) -> Option<&mut Entry> {
        self.get_with_touch(key, true)
    }

    /// As [`ShardGuard::get`] but without updating the access time (OBJECT,
    /// TTL, CLIENT NO-TOUCH).
    pub fn peek(&mut self, key: &KeyHash) -> Option<&mut Entry> {
        self.get_with_touch(key, false)
    }

    fn get_with_touch(&mut self, key: &KeyHash, touch: bool) -> Option<&mut Entry> {
        let now = self.now_ms;
        self.shard.preserve(key);
        let found = self
            .shard
            .table
            .find(key.hash, |slot| slot.key.as_slice() == key.bytes)?;
        if self.expiry.hides_expired() && found.entry.is_expired(now) {
            if self.deletes_expired() {
                self.remove_unchecked(key);
                self.expired(key.bytes);
            }
            return None;
        }
        let clock = self.clock_s;
        let lfu = self.stats.lfu_params();
        let slot = self
            .shard
            .table
            .find_mut(key.hash, |slot| slot.key.as_slice() == key.bytes)?;
        if touch {
            if let Some(params) = lfu {
                let decayed = lfu::decayed(
                    slot.entry.lfu_counter,
                    slot.entry.last_access_s,
                    clock,
                    params,
                );
                slot.entry.lfu_counter = lfu::log_increment(decayed, params);
            }
            slot.entry.last_access_s = clock;
        }
        Some(&mut slot.entry)
    }

    /// The live entry for `key`, read-only: no access-time update and no lazy
    /// deletion, so several keys of one shard can be read at once (multi-key
    /// commands call `get` on each key first, which does both).
    pub fn find(&self, key: &KeyHash) -> Option<&Entry> {
        self.shard
            .table
            .find(key.hash, |slot| slot.key.as_slice() == key.bytes)
            .map(|slot| &slot.entry)
            .filter(|entry| !self.hides(entry))
    }

    /// The entry stored for `key`, expired or not (DEBUG OBJECT, which
    /// Redis answers from the table without an expiry check).
    pub fn stored(&self, key: &KeyHash) -> Option<&Entry> {
        self.shard
            .table
            .find(key.hash, |slot| slot.key.as_slice() == key.bytes)
            .map(|slot| &slot.entry)
    }

    /// Makes a live key look idle for `idle_s` seconds (RESTORE IDLETIME).
    pub fn set_idle(&mut self, key: &KeyHash, idle_s: u32) {
        let clock = self.clock_s;
        if let Some(entry) = self.peek(key) {
            entry.last_access_s = clock.saturating_sub(idle_s);
        }
    }

    /// Sets a live key's access-frequency counter (RESTORE FREQ).
    pub fn set_frequency(&mut self, key: &KeyHash, counter: u8) {
        if let Some(entry) = self.peek(key) {
            entry.lfu_counter = counter;
        }
    }

    /// The entry's access-frequency counter after time decay (OBJECT FREQ).
    pub fn frequency(&self, entry: &Entry) -> u8 {
        let params = self.stats.lfu_params().unwrap_or_default();
        lfu::decayed(entry.lfu_counter, entry.last_access_s, self.clock_s, params)
    }

    /// Seconds since the entry was last accessed.
    pub fn idle_seconds(&self, entry: &Entry) -> u32 {
        self.clock_s.saturating_sub(entry.last_access_s)
    }

    pub fn contains(&mut self, key: &KeyHash) -> bool {
        self.peek(key).is_some()
    }

    /// Stores `entry` under `key`, replacing any previous live entry, which is
    /// returned. One probe when the key exists (the slot is reused).
    pub fn insert(&mut self, key: &KeyHash, mut entry: Entry) -> Option<Entry> {
        entry.last_access_s = self.clock_s;
        if entry.expire_at_ms != 0 {
            self.track_expiry(key.bytes);
        }
        let hides = self.expiry.hides_expired();
        let now = self.now_ms;
        let shard = &mut *self.shard;
        shard.preserve(key);
        let volatile_delta = |old: &Entry, new: &Entry| {
            (new.expire_at_ms != 0) as isize - (old.expire_at_ms != 0) as isize
        };
        if let Some(slot) = shard
            .table
            .find_mut(key.hash, |slot| slot.key.as_slice() == key.bytes)
        {
            let delta = volatile_delta(&slot.entry, &entry);
            let old = std::mem::replace(&mut slot.entry, entry);
            self.count_volatile(delta);
            if hides && old.is_expired(now) {
                self.expired(key.bytes);
                self.report_created(key.bytes);
                return None;
            }
            return Some(old);
        }
        let hasher = self.hasher;
        if entry.expire_at_ms != 0 {
            self.count_volatile(1);
        }
        let shard = &mut *self.shard;
        shard.table.insert_unique(
            key.hash,
            Box::new(Slot {
                key: KeyBytes::new(key.bytes),
                entry,
            }),
            |slot| hasher.hash_one(slot.key.as_slice()),
        );
        self.report_created(key.bytes);
        None
    }

    fn report_created(&self, key: &[u8]) {
        if let Some(reporter) = self.reporter {
            reporter.created(key);
        }
    }

    fn report_expired(&self, key: &[u8]) {
        if let Some(reporter) = self.reporter {
            reporter.expired(key);
        }
    }

    /// Removes the live entry for `key`.
    pub fn remove(&mut self, key: &KeyHash) -> Option<Entry> {
        let removed = self.remove_unchecked(key)?;
        if self.hides(&removed) {
            self.expired(key.bytes);
            return None;
        }
        Some(removed)
    }

    /// Counts a key lazy expiry removed, logs it for propagation and
    /// reports it (keyspace notifications).
    fn expired(&self, key: &[u8]) {
        self.stats.record_expired(1);
        self.stats.expired_log.push(self.db, key);
        self.report_expired(key);
    }

    fn remove_unchecked(&mut self, key: &KeyHash) -> Option<Entry> {
        let shard = &mut *self.shard;
        shard.preserve(key);
        let found = shard
            .table
            .find_entry(key.hash, |slot| slot.key.as_slice() == key.bytes)
            .ok()?;
        let (slot, _) = found.remove();
        if slot.entry.expire_at_ms != 0 {
            self.count_volatile(-1);
        }
        Some(slot.entry)
    }

    /// Sets or clears the expiry of a live key; false if the key is absent.
    pub fn set_expiry(&mut self, key: &KeyHash, expire_at_ms: Option<u64>) -> bool {
        let new = expire_at_ms.unwrap_or(0);
        let Some(entry) = self.peek(key) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expire_at_ms, new);
        if new != 0 {
            self.track_expiry(key.bytes);
        }
        self.count_volatile((new != 0) as isize - (old != 0) as isize);
        true
    }

    /// A writable replica's own write gave `key` an expiry: its active
    /// cycle is to expire it (see [`ExpiryPolicy::DeleteAndTrack`]).
    fn track_expiry(&self, key: &[u8]) {
        if self.expiry == ExpiryPolicy::DeleteAndTrack {
            self.stats.replica_expires.remember(self.db, key);
        }
    }

    /// The replica's active cycle for one key its clients gave an expiry:
    /// deletes it if it expired (counted, reported), forgets it if it is gone
    /// or no longer expires.
    pub(crate) fn expire_tracked(&mut self, key: &[u8]) -> TrackedKey {
        let hashed = KeyHash {
            bytes: key,
            hash: self.hasher.hash_one(key),
        };
        let state = match self
            .stored(&hashed)
            .map(|e| (e.expire_at_ms, e.is_expired(self.now_ms)))
        {
            Some((_, true)) => {
                self.remove_unchecked(&hashed);
                self.expired(key);
                TrackedKey::Expired
            }
            Some((at, false)) if at != 0 => TrackedKey::Pending,
            _ => TrackedKey::Untracked,
        };
        if state != TrackedKey::Pending {
            self.stats.replica_expires.forget(self.db, key);
        }
        state
    }

    pub fn len(&self) -> usize {
        self.shard.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shard.table.is_empty()
    }

    pub fn volatile_len(&self) -> usize {
        self.shard.volatile
    }

    /// Every key with its hash and entry, including expired ones not yet removed.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64, &Entry)> {
        let hasher = self.hasher;
        self.shard.table.iter().map(move |slot| {
            (
                slot.key.as_slice(),
                hasher.hash_one(slot.key.as_slice()),
                &slot.entry,
            )
        })
    }

    /// Adds `delta` to the keys with an expiry, the shard's and its database's.
    fn count_volatile(&mut self, delta: isize) {
        if delta != 0 {
            self.shard.volatile = self.shard.volatile.wrapping_add_signed(delta);
            if delta > 0 {
                self.volatile_keys
                    .fetch_add(delta as usize, Ordering::Relaxed);
            } else {
                self.volatile_keys
                    .fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
            }
        }
    }

    /// Removes every expired entry; returns how many.
    pub fn remove_expired(&mut self) -> usize {
        if self.shard.volatile == 0 {
            return 0;
        }
        let now = self.now_ms;
        let reporter = self.reporter.filter(|r| r.events.reports_expired());
        let shard = &mut *self.shard;
        shard.complete_capture();
        let before = shard.table.len();
        let (log, db) = (&self.stats.expired_log, self.db);
        shard.table.retain(|slot| {
            let expired = slot.entry.is_expired(now);
            if expired {
                log.push(db, slot.key.as_slice());
                if let Some(reporter) = reporter {
                    reporter.expired(slot.key.as_slice());
                }
            }
            !expired
        });
        let removed = before - shard.table.len();
        self.count_volatile(-(removed as isize));
        self.stats.record_expired(removed as u64);
        removed
    }

    /// Removes everything; returns how many keys there were.
    pub fn clear(&mut self) -> usize {
        self.shard.complete_capture();
        let n = self.shard.table.len();
        self.shard.table = HashTable::new();
        self.count_volatile(-(self.shard.volatile as isize));
        n
    }

    /// The `n`th key in table order, expired or not, and whether it counts
    /// as expired (RANDOMKEY picks among all keys and expires what it lands on).
    pub fn nth_key(&self, n: usize) -> Option<(&[u8], bool)> {
        self.shard
            .table
            .iter()
            .nth(n)
            .map(|slot| (slot.key.as_slice(), self.hides(&slot.entry)))
    }

    /// Whether `key` counts as expired, deleting it if the policy deletes
    /// and no client pause holds expiry (lazy expiry, counted, logged and
    /// reported like a lookup's): Redis's `expireIfNeeded`.
    pub fn expire_if_due(&mut self, key: &[u8]) -> bool {
        let key = KeyHash {
            bytes: key,
            hash: self.hasher.hash_one(key),
        };
        let expired = self.stored(&key).is_some_and(|entry| self.hides(entry));
        if expired && self.deletes_expired() {
            // `remove` counts, logs and reports an expired entry it removes.
            self.remove(&key);
        }
        expired
    }

    /// The `n`th key that has not expired, in table order (eviction samples).
    pub fn nth_live_key(&self, n: usize) -> Option<&[u8]> {
        self.shard
            .table
            .iter()
            .filter(|slot| !slot.entry.is_expired(self.now_ms))
            .nth(n)
            .map(|slot| slot.key.as_slice())
    }
}
