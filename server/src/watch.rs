//! WATCH: optimistic locking for MULTI/EXEC. A client watches keys; a write
//! to one of them marks the client's transaction dirty and its EXEC then
//! replies with a null instead of running (Redis's `multi.c`).
//!
//! What counts as a write: Ferrite touches every key a write command names
//! when the command did not fail and did not change nothing (judged as its
//! propagation is, from its reply: SADD of an existing member, SET NX on an
//! existing key, DEL of a missing key touch nothing, as in Redis). Redis
//! touches only the keys the command really changed; a command that changes
//! only some of its keys says which it left alone (SMOVE of a member the
//! destination has: `ClientState::unchanged_keys`), others (a STORE
//! command's sources) touch more here. For a key that did not exist when it
//! was watched, only a touch that leaves it existing counts.
//! Keys that expire are caught at EXEC: a key that existed when watched and
//! no longer does fails the transaction (Redis's `isWatchedKeyExpired` and its
//! signal on deletion of expired keys).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrite_storage::KeyspaceRead;
use parking_lot::Mutex;

use crate::client::{ClientHandle, ClientState};

/// One key a client watches, as the client remembers it.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Bytes,
    /// The key existed (and had not expired) when WATCH ran.
    pub existed: bool,
}

struct Watcher {
    client: Arc<ClientHandle>,
    existed: bool,
}

/// Every watched key and who watches it.
#[derive(Default)]
pub struct WatchRegistry {
    by_key: Mutex<HashMap<(usize, Bytes), Vec<Watcher>>>,
    /// Number of watched (key, client) pairs: writes skip the registry lock
    /// while nobody watches anything.
    watches: AtomicUsize,
}

fn is_live(ks: &KeyspaceRead<'_>, db: usize, key: &[u8]) -> bool {
    let key = ks.key(key);
    ks.lock(db, &key).find(&key).is_some()
}

impl WatchRegistry {
    /// True while any client watches any key.
    pub fn is_active(&self) -> bool {
        self.watches.load(Ordering::Relaxed) > 0
    }

    /// WATCH `key` in database `db` for `client` (again: no effect).
    pub fn watch(&self, ks: &KeyspaceRead<'_>, client: &mut ClientState, db: usize, key: &Bytes) {
        if client.watched.iter().any(|w| w.db == db && w.key == *key) {
            return;
        }
        let existed = is_live(ks, db, key);
        self.by_key
            .lock()
            .entry((db, key.clone()))
            .or_default()
            .push(Watcher {
                client: client.handle.clone(),
                existed,
            });
        self.watches.fetch_add(1, Ordering::Relaxed);
        client.watched.push(WatchedKey {
            db,
            key: key.clone(),
            existed,
        });
    }

    /// Forgets every key `client` watches and clears its dirty flag
    /// (UNWATCH, EXEC, DISCARD, RESET, disconnect).
    pub fn unwatch_all(&self, client: &mut ClientState) {
        client.handle.set_watch_dirty(false);
        if client.watched.is_empty() {
            return;
        }
        let mut by_key = self.by_key.lock();
        for watched in client.watched.drain(..) {
            let map_key = (watched.db, watched.key);
            if let Some(watchers) = by_key.get_mut(&map_key) {
                let before = watchers.len();
                watchers.retain(|w| w.client.id != client.handle.id);
                self.watches
                    .fetch_sub(before - watchers.len(), Ordering::Relaxed);
                if watchers.is_empty() {
                    by_key.remove(&map_key);
                }
            }
        }
    }

    /// True if EXEC must fail: a watched key was touched, or a key that
    /// existed when watched is gone (expired) now.
    pub fn transaction_is_stale(&self, ks: &KeyspaceRead<'_>, client: &ClientState) -> bool {
        client.handle.watch_dirty()
            || client
                .watched
                .iter()
                .any(|w| w.existed && !is_live(ks, w.db, &w.key))
    }

    /// A command wrote `keys` of database `db`: their watchers become dirty.
    pub fn touch<K: AsRef<[u8]>>(&self, ks: &KeyspaceRead<'_>, db: usize, keys: &[K]) {
        if !self.is_active() {
            return;
        }
        let by_key = self.by_key.lock();
        for key in keys {
            let key = key.as_ref();
            let Some(watchers) = by_key.get(&(db, Bytes::copy_from_slice(key))) else {
                continue;
            };
            let live = is_live(ks, db, key);
            for watcher in watchers {
                if watcher.existed || live {
                    watcher.client.set_watch_dirty(true);
                }
            }
        }
    }

    /// FLUSHDB/FLUSHALL are about to empty `dbs`: watchers of keys that exist
    /// there become dirty (watchers of missing keys do not).
    pub fn touch_flushed(&self, ks: &KeyspaceRead<'_>, dbs: &[usize]) {
        self.touch_where(|db, key| dbs.contains(&db) && is_live(ks, db, key));
    }

    /// SWAPDB `first` `second` is about to run: a watched key of either
    /// database changes if it exists on either side.
    pub fn touch_swapped(&self, ks: &KeyspaceRead<'_>, first: usize, second: usize) {
        self.touch_where(|db, key| {
            (db == first || db == second) && (is_live(ks, first, key) || is_live(ks, second, key))
        });
    }

    fn touch_where(&self, mut changes: impl FnMut(usize, &[u8]) -> bool) {
        if !self.is_active() {
            return;
        }
        let by_key = self.by_key.lock();
        for ((db, key), watchers) in by_key.iter() {
            if changes(*db, key) {
                for watcher in watchers {
                    watcher.client.set_watch_dirty(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_storage::{Entry, Keyspace, StringValue, Value};
    use std::net::{Ipv4Addr, SocketAddr};

    fn client(id: u64) -> ClientState {
        let addr = crate::client::ClientAddr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)));
        ClientState::new(Arc::new(ClientHandle::new(id, addr.clone(), addr)), true)
    }

    fn set(ks: &Keyspace, key: &[u8]) {
        let read = ks.read();
        let k = read.key(key);
        read.lock(0, &k)
            .insert(&k, Entry::new(Value::String(StringValue::from_bytes(b"v"))));
    }

    #[test]
    fn touching_an_existing_watched_key_dirties_only_its_watchers() {
        let ks = Keyspace::new(2);
        let registry = WatchRegistry::default();
        set(&ks, b"x");
        let (mut a, mut b) = (client(1), client(2));
        registry.watch(&ks.read(), &mut a, 0, &Bytes::from_static(b"x"));
        registry.watch(&ks.read(), &mut b, 1, &Bytes::from_static(b"x"));
        registry.touch(&ks.read(), 0, &[b"x"]);
        assert!(registry.transaction_is_stale(&ks.read(), &a));
        assert!(!registry.transaction_is_stale(&ks.read(), &b));
        registry.unwatch_all(&mut a);
        registry.unwatch_all(&mut b);
        assert!(!registry.is_active());
        assert!(!a.handle.watch_dirty());
    }

    #[test]
    fn a_missing_key_counts_as_changed_only_once_it_exists() {
        let ks = Keyspace::new(1);
        let registry = WatchRegistry::default();
        let mut a = client(1);
        registry.watch(&ks.read(), &mut a, 0, &Bytes::from_static(b"x"));
        registry.touch(&ks.read(), 0, &[b"x"]);
        registry.touch_flushed(&ks.read(), &[0]);
        assert!(!registry.transaction_is_stale(&ks.read(), &a));
        set(&ks, b"x");
        registry.touch(&ks.read(), 0, &[b"x"]);
        assert!(registry.transaction_is_stale(&ks.read(), &a));
    }
}
