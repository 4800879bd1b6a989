//! Reports keys that appear and keys that expire to an observer outside the
//! crate. The server publishes them as keyspace notifications (`new`,
//! `expired`); storage knows nothing of Pub/Sub. Lazy expiry happens deep
//! inside shard lookups and active expiry on a background thread, so the
//! shard itself reports, while it still holds the key.
//!
//! Each kind is reported only while switched on: when off, the cost on the
//! request path is one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Told about keys as they appear and expire, under the shard's lock.
/// Implementations must not lock shards.
pub trait KeyObserver: Send + Sync {
    /// `key` was added to database `db` where no live key was (Redis's
    /// `dbAdd`; loading a file does not count).
    fn created(&self, db: usize, key: &[u8]);
    /// `key` of database `db` expired and was deleted (lazily or by the
    /// active cycle).
    fn expired(&self, db: usize, key: &[u8]);
}

/// The keyspace's observer and which of its reports are wanted.
#[derive(Default)]
pub struct KeyEvents {
    observer: OnceLock<Arc<dyn KeyObserver>>,
    created: AtomicBool,
    expired: AtomicBool,
}

impl std::fmt::Debug for KeyEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEvents")
            .field("created", &self.created)
            .field("expired", &self.expired)
            .finish_non_exhaustive()
    }
}

impl KeyEvents {
    /// Installs the observer; false if one was installed already.
    pub fn observe(&self, observer: Arc<dyn KeyObserver>) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Chooses which events the observer hears about.
    pub fn report(&self, created: bool, expired: bool) {
        self.created.store(created, Ordering::Relaxed);
        self.expired.store(expired, Ordering::Relaxed);
    }

    pub(crate) fn reports_expired(&self) -> bool {
        self.expired.load(Ordering::Relaxed)
    }

    fn observer(&self) -> Option<&dyn KeyObserver> {
        self.observer.get().map(|o| &**o)
    }
}

/// What a locked shard reports through: its database and the keyspace's
/// events. Shards of databases being loaded from a file have none.
#[derive(Clone, Copy)]
pub(crate) struct KeyReporter<'a> {
    pub(crate) db: usize,
    pub(crate) events: &'a KeyEvents,
}

impl KeyReporter<'_> {
    pub(crate) fn created(&self, key: &[u8]) {
        if self.events.created.load(Ordering::Relaxed) {
            if let Some(observer) = self.events.observer() {
                observer.created(self.db, key);
            }
        }
    }

    pub(crate) fn expired(&self, key: &[u8]) {
        if self.events.reports_expired() {
            if let Some(observer) = self.events.observer() {
                observer.expired(self.db, key);
            }
        }
    }
}
