//! The thresholds at which a collection leaves its compact encoding (Redis's
//! listpack and intset, a sparse HyperLogLog) for the full one, from Redis 7.0's configuration.
//! CONFIG SET changes them at run time, so they are atomics read on each write.

use std::sync::atomic::{AtomicI64, Ordering};

/// A snapshot of the thresholds, passed to collection operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `list-max-listpack-size`: positive = entries per node, negative = node
    /// size class (-1 = 4 KB ... -5 = 64 KB).
    pub list_max_listpack_size: i64,
    pub hash_max_listpack_entries: i64,
    pub hash_max_listpack_value: i64,
    pub set_max_intset_entries: i64,
    pub zset_max_listpack_entries: i64,
    pub zset_max_listpack_value: i64,
    /// `hll-sparse-max-bytes`: longest sparse HyperLogLog string.
    pub hll_sparse_max_bytes: i64,
    /// `stream-node-max-entries`: entries per stream node (0: no limit).
    pub stream_node_max_entries: i64,
    /// `stream-node-max-bytes`: bytes per stream node (0: no limit).
    pub stream_node_max_bytes: i64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            list_max_listpack_size: -2,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: crate::hll::DEFAULT_SPARSE_MAX_BYTES as i64,
            stream_node_max_entries: 100,
            stream_node_max_bytes: 4096,
        }
    }
}

impl EncodingLimits {
    /// When XADD starts a new stream node.
    pub fn stream_nodes(&self) -> crate::stream::NodeLimits {
        crate::stream::NodeLimits {
            max_entries: self.stream_node_max_entries.max(0) as u64,
            max_bytes: self.stream_node_max_bytes.max(0) as u64,
        }
    }
}

/// The live thresholds.
#[derive(Debug)]
pub struct EncodingLimitsCell {
    values: [AtomicI64; 9],
}

impl Default for EncodingLimitsCell {
    fn default() -> Self {
        let cell = EncodingLimitsCell {
            values: Default::default(),
        };
        cell.set(EncodingLimits::default());
        cell
    }
}

impl EncodingLimitsCell {
    pub fn get(&self) -> EncodingLimits {
        let v = |i: usize| self.values[i].load(Ordering::Relaxed);
        EncodingLimits {
            list_max_listpack_size: v(0),
            hash_max_listpack_entries: v(1),
            hash_max_listpack_value: v(2),
            set_max_intset_entries: v(3),
            zset_max_listpack_entries: v(4),
            zset_max_listpack_value: v(5),
            hll_sparse_max_bytes: v(6),
            stream_node_max_entries: v(7),
            stream_node_max_bytes: v(8),
        }
    }

    pub fn set(&self, limits: EncodingLimits) {
        let values = [
            limits.list_max_listpack_size,
            limits.hash_max_listpack_entries,
            limits.hash_max_listpack_value,
            limits.set_max_intset_entries,
            limits.zset_max_listpack_entries,
            limits.zset_max_listpack_value,
            limits.hll_sparse_max_bytes,
            limits.stream_node_max_entries,
            limits.stream_node_max_bytes,
        ];
        for (cell, value) in self.values.iter().zip(values) {
            cell.store(value, Ordering::Relaxed);
        }
    }
}
