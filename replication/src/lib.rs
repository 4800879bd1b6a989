//! Replication state shared by the server: the replication ids and the offset
//! of the replication stream. The backlog, the master side (PSYNC, replica
//! links, ACKs) and the replica side arrive with the replication issue; until
//! then a Ferrite server is always a master with no replicas, and its offset
//! stays 0 because nothing is propagated.

use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::Mutex;

/// Replication ids and offsets as PSYNC2 defines them.
#[derive(Debug)]
pub struct ReplicationState {
    ids: Mutex<ReplicationIds>,
    master_repl_offset: AtomicI64,
}

/// The current replication id and the previous one (kept after a promotion so
/// replicas of the old master can continue partially).
#[derive(Debug, Clone)]
pub struct ReplicationIds {
    pub replid: String,
    pub replid2: String,
    /// Offset up to which `replid2` is valid; -1 when there is none.
    pub second_repl_offset: i64,
}

impl Default for ReplicationState {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplicationState {
    pub fn new() -> ReplicationState {
        ReplicationState {
            ids: Mutex::new(ReplicationIds {
                replid: new_replication_id(),
                replid2: "0".repeat(40),
                second_repl_offset: -1,
            }),
            master_repl_offset: AtomicI64::new(0),
        }
    }

    pub fn ids(&self) -> ReplicationIds {
        self.ids.lock().clone()
    }

    pub fn master_repl_offset(&self) -> i64 {
        self.master_repl_offset.load(Ordering::Relaxed)
    }
}

/// A new random 40-hex-character replication id.
pub fn new_replication_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_40_hex() {
        let id = super::new_replication_id();
        assert_eq!(id.len(), 40);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
