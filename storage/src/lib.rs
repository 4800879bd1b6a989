//! Ferrite's keyspace: databases split into shards, the value types, expiry, and
//! the RDB codec (snapshot files and DUMP/RESTORE payloads).
//!
//! This crate knows nothing of sockets, RESP or commands. The server's command
//! families call it with typed operations; every operation locks only the shard
//! (or shards, in ascending order) it touches.

pub mod bits;
mod db;
mod debug_delay;
mod dense;
mod dump;
mod encoding;
mod events;
mod expiry;
mod hash;
pub mod hll;
mod intset;
mod key;
mod keyspace;
mod lfu;
mod list;
mod listpack;
mod packed;
mod pattern;
pub mod rdb;
mod set;
mod shard;
mod snapshot;
pub mod stream;
mod value;
mod ziplist;
mod zipmap;
mod zset;

pub mod crc64;
pub mod lzf;

pub use db::{Db, KeyHash, ScanBatch};
pub use debug_delay::DebugDelays;
pub use dump::{
    decode_dump_payload, decode_function_payload, encode_dump_payload, encode_function_payload,
    DumpError,
};
pub use encoding::{EncodingLimits, EncodingLimitsCell};
pub use events::{KeyEvents, KeyObserver};
pub use expiry::{ExpiryPolicy, ReplicaExpires};
pub use hash::HashValue;
pub use keyspace::{
    ActiveExpireReport, ExpiredLog, Keyspace, KeyspaceExclusive, KeyspaceRead, KeyspaceStats,
    LoadedRdb,
};
pub use lfu::LfuParams;
pub use list::{Iter as ListIter, ListEnd, ListValue};
pub use pattern::glob_match;
pub use set::{Member, SetValue};
pub use shard::{Entry, Shard, ShardGuard};
pub use snapshot::SnapshotJob;
pub use value::{Collection, StringValue, Value, ValueKind, ValueType};
pub use zset::{Bound, ZSetValue};

/// Milliseconds since the Unix epoch, the unit of every expiry time; on a
/// thread inside [`freeze_clock`], the time it was frozen at.
pub fn now_ms() -> u64 {
    FROZEN_NOW_MS
        .with(std::cell::Cell::get)
        .unwrap_or_else(wall_clock_ms)
}

fn wall_clock_ms() -> u64 {
    unix_ms(std::time::SystemTime::now())
}

/// `time` in milliseconds since the Unix epoch (0 before it).
pub fn unix_ms(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

thread_local! {
    static FROZEN_NOW_MS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Stops [`now_ms`] on this thread until dropped: a script sees keys
/// expire as of its start, however long it runs (Redis's
/// `scriptTimeSnapshot`), so a key it just set with a short TTL is still
/// there for its next command.
pub struct FrozenClock {
    before: Option<u64>,
}

/// Freezes [`now_ms`] on this thread at the current time (an enclosing
/// freeze's time, if any).
pub fn freeze_clock() -> FrozenClock {
    freeze_clock_at(now_ms())
}

/// Freezes [`now_ms`] on this thread at `now_ms`, a time the caller just
/// read (an enclosing freeze's time, if any, stays). A command runs with
/// the clock frozen at its start, as Redis's `call` caches the time for
/// its `fixed_time_expire`.
pub fn freeze_clock_at(now_ms: u64) -> FrozenClock {
    FrozenClock {
        before: FROZEN_NOW_MS.with(|frozen| frozen.replace(Some(frozen.get().unwrap_or(now_ms)))),
    }
}

/// Lets [`now_ms`] run again on this thread until dropped, inside a frozen
/// command: clients blocked on keys a transaction or script made ready are
/// served as of the real time (Redis serves them after `call`, outside its
/// `fixed_time_expire`), so a key that expired meanwhile does not serve them.
pub fn thaw_clock() -> FrozenClock {
    FrozenClock {
        before: FROZEN_NOW_MS.with(|frozen| frozen.replace(None)),
    }
}

impl Drop for FrozenClock {
    fn drop(&mut self) {
        FROZEN_NOW_MS.with(|frozen| frozen.set(self.before));
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    #[test]
    fn a_frozen_clock_stands_still_on_its_thread_until_dropped() {
        let frozen = freeze_clock();
        let at = now_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(now_ms(), at);
        let other_thread = std::thread::spawn(now_ms).join().expect("thread");
        assert!(other_thread >= at + 5);
        {
            let _nested = freeze_clock();
            assert_eq!(now_ms(), at);
            let _command = freeze_clock_at(at + 1000);
            assert_eq!(now_ms(), at);
        }
        assert_eq!(now_ms(), at);
        {
            let _thawed = thaw_clock();
            assert!(now_ms() >= at + 5);
        }
        assert_eq!(now_ms(), at);
        drop(frozen);
        assert!(now_ms() >= at + 5);
    }
}
