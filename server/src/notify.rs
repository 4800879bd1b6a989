//! Keyspace notifications (Redis's `notify.c`): commands report what they
//! changed as `(class, event, db, key)`, and when `notify-keyspace-events`
//! enables the class the event is published through Pub/Sub on
//! `__keyspace@<db>__:<key>` (message: the event) and/or
//! `__keyevent@<db>__:<event>` (message: the key).
//!
//! With notifications off, reporting an event costs one relaxed atomic load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::pubsub::{Kind, PubSub};

/// Event classes and channel kinds, the bits of `notify-keyspace-events`
/// (Redis's `NOTIFY_*` values).
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 13;
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but `m` (key misses) and `n` (new keys), as in Redis.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// The error CONFIG SET and the config file report for an unknown letter.
pub const INVALID_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The letter of each event class, in the order CONFIG GET prints them.
const CLASS_LETTERS: [(u32, char); 11] = [
    (class::GENERIC, 'g'),
    (class::STRING, '$'),
    (class::LIST, 'l'),
    (class::SET, 's'),
    (class::HASH, 'h'),
    (class::ZSET, 'z'),
    (class::EXPIRED, 'x'),
    (class::EVICTED, 'e'),
    (class::STREAM, 't'),
    (class::MODULE, 'd'),
    (class::NEW, 'n'),
];

/// The letters printed after the classes (or `A`).
const KIND_LETTERS: [(u32, char); 3] = [
    (class::KEYSPACE, 'K'),
    (class::KEYEVENT, 'E'),
    (class::KEY_MISS, 'm'),
];

/// Parses the letters of `notify-keyspace-events` (`keyspaceEventsStringToFlags`).
pub fn parse_flags(text: &str) -> Option<u32> {
    text.chars().try_fold(0, |flags, letter| {
        let bit = match letter {
            'A' => class::ALL,
            _ => {
                CLASS_LETTERS
                    .iter()
                    .chain(&KIND_LETTERS)
                    .find(|(_, c)| *c == letter)?
                    .0
            }
        };
        Some(flags | bit)
    })
}

/// The canonical letters for `flags`, as CONFIG GET prints them
/// (`keyspaceEventsFlagsToString`).
pub fn format_flags(flags: u32) -> String {
    let set = |letters: &[(u32, char)]| -> String {
        letters
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, c)| c)
            .collect()
    };
    let classes = if flags & class::ALL == class::ALL {
        "A".to_string()
    } else {
        set(&CLASS_LETTERS)
    };
    classes + &set(&KIND_LETTERS)
}

/// The configured classes and the Pub/Sub they are published through.
pub struct Notifier {
    flags: AtomicU32,
    pubsub: Arc<PubSub>,
}

impl Notifier {
    pub fn new(pubsub: Arc<PubSub>) -> Notifier {
        Notifier {
            flags: AtomicU32::new(0),
            pubsub,
        }
    }

    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// Reports `event` of `class` on `key` of database `db`.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        let flags = self.flags.load(Ordering::Relaxed);
        if flags & class != 0 {
            self.publish(flags, event, db, key);
        }
    }

    #[cold]
    fn publish(&self, flags: u32, event: &str, db: usize, key: &[u8]) {
        if flags & class::KEYSPACE != 0 {
            let channel = channel("__keyspace@", db, key);
            self.pubsub
                .publish(Kind::Channel, &channel, event.as_bytes());
        }
        if flags & class::KEYEVENT != 0 {
            let channel = channel("__keyevent@", db, event.as_bytes());
            self.pubsub.publish(Kind::Channel, &channel, key);
        }
    }
}

/// The notifier bound to one database: what helpers shared by a command and
/// its blocked-client attempt (which has no `Ctx`) report through.
#[derive(Clone, Copy)]
pub struct DbEvents<'a> {
    pub notifier: &'a Notifier,
    pub db: usize,
}

impl DbEvents<'_> {
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.notifier.notify(class, event, self.db, key);
    }
}

fn channel(prefix: &str, db: usize, name: &[u8]) -> Vec<u8> {
    let db = db.to_string();
    let mut channel = Vec::with_capacity(prefix.len() + db.len() + 3 + name.len());
    channel.extend_from_slice(prefix.as_bytes());
    channel.extend_from_slice(db.as_bytes());
    channel.extend_from_slice(b"__:");
    channel.extend_from_slice(name);
    channel
}

/// The keyspace's reports of new and expired keys, as notifications.
impl Notifier {
    pub fn created(&self, db: usize, key: &[u8]) {
        self.notify(class::NEW, "new", db, key);
    }

    pub fn expired(&self, db: usize, key: &[u8]) {
        self.notify(class::EXPIRED, "expired", db, key);
    }
}

/// Whether the keyspace should report new and expired keys under `flags`.
pub fn keyspace_reports(flags: u32) -> (bool, bool) {
    let publishes = flags & (class::KEYSPACE | class::KEYEVENT) != 0;
    (
        publishes && flags & class::NEW != 0,
        publishes && flags & class::EXPIRED != 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_and_print_as_redis_does() {
        let round_trip = |text: &str| parse_flags(text).map(format_flags);
        assert_eq!(round_trip("gKE").as_deref(), Some("gKE"));
        assert_eq!(round_trip("$lshzxeKE").as_deref(), Some("$lshzxeKE"));
        assert_eq!(round_trip("KA").as_deref(), Some("AK"));
        assert_eq!(round_trip("EA").as_deref(), Some("AE"));
        assert_eq!(round_trip("nmKEd").as_deref(), Some("dnKEm"));
        assert_eq!(round_trip("").as_deref(), Some(""));
        assert_eq!(parse_flags("Kq"), None);
    }

    #[test]
    fn channels_name_the_database() {
        assert_eq!(channel("__keyspace@", 9, b"foo"), b"__keyspace@9__:foo");
        assert_eq!(channel("__keyevent@", 0, b"set"), b"__keyevent@0__:set");
    }
}
