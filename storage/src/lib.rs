//! Ferrite's keyspace: databases split into shards, the value types, expiry, and
//! the RDB codec (snapshot files and DUMP/RESTORE payloads).
//!
//! This crate knows nothing of sockets, RESP or commands. The server's command
//! families call it with typed operations; every operation locks only the shard
//! (or shards, in ascending order) it touches.

mod db;
mod dense;
mod dump;
mod encoding;
mod events;
mod expiry;
mod hash;
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
mod value;
mod ziplist;
mod zipmap;
mod zset;

pub mod crc64;
pub mod lzf;

pub use db::{Db, KeyHash, ScanBatch};
pub use dump::{decode_dump_payload, encode_dump_payload, DumpError};
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

/// Milliseconds since the Unix epoch, the unit of every expiry time.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
