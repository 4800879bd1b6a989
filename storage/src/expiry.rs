//! Who decides that a key has expired. On a master the keyspace itself does
//! (lazily when a key is met, actively in the cycle); on a replica its master
//! does, by sending DEL, so the replica only hides expired keys from its own
//! clients. Redis 7.0's `expireIfNeeded` and `expireSlaveKeys` (src/db.c,
//! src/expire.c).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// How a lookup treats a key whose expiry time has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryPolicy {
    /// A master: the key is deleted when met (lazy expiry) and reported absent.
    #[default]
    Delete,
    /// A replica answering its own clients: the key is reported absent but
    /// kept, since its master decides when it goes (and sends a DEL then).
    Hide,
    /// The replication stream applied on a replica: the key is live, since
    /// the master judged the command against its own keyspace.
    Ignore,
    /// A write on a writable replica: expired keys are deleted when met, as
    /// on a master, and keys this write gives an expiry are remembered in
    /// [`ReplicaExpires`] so the replica expires them itself.
    DeleteAndTrack,
}

impl ExpiryPolicy {
    /// Whether an expired key counts as absent.
    pub fn hides_expired(self) -> bool {
        self != ExpiryPolicy::Ignore
    }

    /// Whether an expired key met is deleted.
    pub fn deletes_expired(self) -> bool {
        matches!(self, ExpiryPolicy::Delete | ExpiryPolicy::DeleteAndTrack)
    }
}

/// The keys clients of a writable replica gave an expiry (Redis's
/// `slaveKeysWithExpire`): the only keys a replica's active cycle expires.
/// Keys its master sent are never here, whatever their expiry.
#[derive(Debug, Default)]
pub struct ReplicaExpires {
    len: AtomicUsize,
    keys: Mutex<HashSet<(usize, Box<[u8]>)>>,
}

impl ReplicaExpires {
    /// Remembers `key` of `db` (called under the key's shard lock).
    pub(crate) fn remember(&self, db: usize, key: &[u8]) {
        let mut keys = self.keys.lock();
        keys.insert((db, key.into()));
        self.len.store(keys.len(), Ordering::Relaxed);
    }

    /// Forgets `key` of `db` (called under the key's shard lock, so a write
    /// remembering it again cannot slip between the check and this).
    pub(crate) fn forget(&self, db: usize, key: &[u8]) {
        let mut keys = self.keys.lock();
        keys.remove(&(db, Box::from(key)));
        self.len.store(keys.len(), Ordering::Relaxed);
    }

    /// The keys remembered now.
    pub(crate) fn snapshot(&self) -> Vec<(usize, Box<[u8]>)> {
        if self.is_empty() {
            return Vec::new();
        }
        self.keys.lock().iter().cloned().collect()
    }

    /// Forgets every key (FLUSHALL, a full resync: the keys are gone).
    pub fn clear(&self) {
        self.keys.lock().clear();
        self.len.store(0, Ordering::Relaxed);
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the replica's cycle found for one remembered key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackedKey {
    /// Still there with an expiry to come: checked again next cycle.
    Pending,
    /// Expired and now deleted.
    Expired,
    /// Gone, or no longer expiring: no longer remembered.
    Untracked,
}
