//! `maxmemory-clients` (Redis 7.0's client eviction): the memory of normal
//! clients (query buffer plus replies waiting for the socket) is summed as
//! each connection reports its own; while the sum is over the limit, the
//! client using the most is disconnected (INFO `evicted_clients`), except
//! clients that set CLIENT NO-EVICT and replication links.
//!
//! Partial: a client counts only those two buffers (Redis also counts its
//! fixed structures and argv), so a limit is reached later than in Redis.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::debug;

use crate::client::{ClientHandle, ClientKind};
use crate::server::Server;
use crate::stats::ServerStats;

/// The sum of normal clients' memory and the limit it is held to.
#[derive(Debug, Default)]
pub struct ClientMemory {
    total: AtomicU64,
    /// `maxmemory-clients` in bytes (0: no limit).
    limit: AtomicU64,
}

impl ClientMemory {
    /// Takes `maxmemory-clients` (bytes, or a percentage of `maxmemory`).
    pub fn configure(&self, setting: &str, maxmemory: u64) {
        let limit = match setting.strip_suffix('%') {
            Some(percent) => maxmemory / 100 * percent.parse::<u64>().unwrap_or(0),
            None => crate::config::parse_memory(setting).map_or(0, |n| n.max(0) as u64),
        };
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Records that `handle`'s client now uses `bytes`, then evicts clients
    /// while normal clients together use more than the limit.
    pub fn update(&self, server: &Server, handle: &ClientHandle, bytes: usize) {
        if handle.kind() != ClientKind::Normal {
            // Replication links do not count (and one that was a normal
            // client until its SYNC takes back what it counted).
            self.release(handle);
            return;
        }
        let before = handle.memory.swap(bytes, Ordering::Relaxed);
        if before == bytes {
            return;
        }
        let total = if bytes > before {
            self.total
                .fetch_add((bytes - before) as u64, Ordering::Relaxed)
                + (bytes - before) as u64
        } else {
            self.total
                .fetch_sub((before - bytes) as u64, Ordering::Relaxed)
                - (before - bytes) as u64
        };
        let limit = self.limit.load(Ordering::Relaxed);
        if limit != 0 && total > limit {
            self.evict(server, limit);
        }
    }

    /// Takes a departing (or evicted) client's memory out of the sum. Only
    /// normal clients ever have memory recorded, so whatever is recorded
    /// is in the sum, whatever the client has become since.
    pub fn release(&self, handle: &ClientHandle) {
        let bytes = handle.memory.swap(0, Ordering::Relaxed) as u64;
        if bytes != 0 {
            self.total.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Redis's `evictClients`: the biggest evictable clients go first.
    fn evict(&self, server: &Server, limit: u64) {
        while self.total.load(Ordering::Relaxed) > limit {
            let biggest = server
                .clients
                .all()
                .into_iter()
                .filter(|c| c.kind() == ClientKind::Normal && !c.no_evict.load(Ordering::Relaxed))
                .max_by_key(|c| c.memory.load(Ordering::Relaxed));
            let Some(client) = biggest.filter(|c| c.memory.load(Ordering::Relaxed) > 0) else {
                return;
            };
            debug!("Evicting client: {}", client.info_line());
            self.release(&client);
            client.kill();
            ServerStats::add(&server.stats.evicted_clients, 1);
        }
    }
}
