//! `maxmemory` and its policies: when the allocated bytes exceed the limit,
//! keys are evicted as `maxmemory-policy` says before a command runs (and at
//! once when CONFIG SET lowers the limit); if nothing can be evicted, commands
//! that may use memory are refused with Redis's OOM error.
//!
//! Like Redis, the LRU, LFU and TTL policies are approximations: each
//! eviction samples `maxmemory-samples` random keys per database and evicts
//! the best candidate among them (Redis also keeps a pool of good candidates
//! between evictions; Ferrite does not).

use std::sync::atomic::Ordering;

use ferrite_storage::KeyspaceRead;

use crate::server::Server;
use crate::stats::ServerStats;

/// The OOM error reply.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    VolatileLru,
    AllKeysLfu,
    VolatileLfu,
    AllKeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Policy {
        [
            Policy::NoEviction,
            Policy::AllKeysLru,
            Policy::VolatileLru,
            Policy::AllKeysLfu,
            Policy::VolatileLfu,
            Policy::AllKeysRandom,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ]
        .get(code as usize)
        .copied()
        .unwrap_or(Policy::NoEviction)
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// True when a limit is set and the allocated bytes exceed it.
pub fn over_limit(server: &Server) -> bool {
    let limit = server.hot.maxmemory.load(Ordering::Relaxed);
    limit > 0 && crate::memory::allocated_bytes() > limit
}

/// Evicts keys until memory is under the limit; false if it is still over
/// (nothing left that the policy may evict). While clients are paused the
/// dataset stays as it is: nothing is evicted and nothing refused, as in
/// Redis's `isSafeToPerformEvictions`.
pub fn perform_evictions(server: &Server, ks: &KeyspaceRead<'_>) -> bool {
    if server.pause.is_paused() {
        return true;
    }
    let policy = Policy::from_code(server.hot.maxmemory_policy.load(Ordering::Relaxed));
    let samples = server.hot.maxmemory_samples.load(Ordering::Relaxed).max(1) as usize;
    while over_limit(server) {
        if policy == Policy::NoEviction {
            return false;
        }
        let Some((db, key)) = pick_victim(ks, policy, samples) else {
            return false;
        };
        let hashed = ks.key(&key);
        let mut shard = ks.lock(db, &hashed);
        let removed = shard.remove(&hashed).is_some();
        if removed {
            // Fed to replicas as a DEL, like an expired key (logged under the
            // shard lock, so it precedes any later write to the key).
            server.keyspace.stats().expired_log.push(db, &key);
        }
        drop(shard);
        if removed {
            ServerStats::add(&server.stats.evicted_keys, 1);
            server
                .notifier
                .notify(crate::notify::class::EVICTED, "evicted", db, &key);
            server.watches.touch(ks, db, &[&key]);
            if server.tracking.is_active() {
                server.tracking.invalidate(None, &[&key]);
            }
        }
    }
    true
}

/// The best of `samples` random keys per database under `policy`.
fn pick_victim(ks: &KeyspaceRead<'_>, policy: Policy, samples: usize) -> Option<(usize, Vec<u8>)> {
    // Lower is evicted first.
    let mut best: Option<(u64, usize, Vec<u8>)> = None;
    for db in 0..ks.database_count() {
        for _ in 0..samples {
            let sampled = if policy.volatile_only() {
                ks.random_volatile_key(db)
            } else {
                ks.sample_key(db)
            };
            let Some(key) = sampled else {
                break;
            };
            let hashed = ks.key(&key);
            let shard = ks.lock(db, &hashed);
            let Some(entry) = shard.find(&hashed) else {
                continue;
            };
            let expiry = entry.expire_at_ms();
            let rank = match policy {
                Policy::AllKeysLru | Policy::VolatileLru => {
                    u64::MAX - shard.idle_seconds(entry) as u64
                }
                Policy::AllKeysLfu | Policy::VolatileLfu => shard.frequency(entry) as u64,
                Policy::VolatileTtl => expiry.unwrap_or(u64::MAX),
                _ => 0,
            };
            drop(shard);
            if best.as_ref().is_none_or(|(b, _, _)| rank < *b) {
                best = Some((rank, db, key));
            }
        }
    }
    best.map(|(_, db, key)| (db, key))
}
