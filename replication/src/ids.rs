//! Replication ids as PSYNC2 defines them: the current id, and the previous
//! one with the offset up to which it is still valid (kept after a promotion
//! so replicas of the old master can continue partially).

/// The current replication id and the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationIds {
    pub replid: String,
    pub replid2: String,
    /// Offset up to which `replid2` is valid; -1 when there is none.
    pub second_repl_offset: i64,
}

impl ReplicationIds {
    /// A fresh id and no previous one.
    pub fn fresh() -> ReplicationIds {
        ReplicationIds {
            replid: new_replication_id(),
            replid2: NO_ID.to_string(),
            second_repl_offset: -1,
        }
    }

    /// Redis's `clearReplicationId2`.
    pub fn clear_previous(&mut self) {
        self.replid2 = NO_ID.to_string();
        self.second_repl_offset = -1;
    }

    /// Redis's `shiftReplicationId`: the current id becomes the previous one,
    /// valid up to `master_repl_offset + 1`, and a new id is drawn.
    pub fn shift(&mut self, master_repl_offset: u64) {
        self.replid2 = std::mem::replace(&mut self.replid, new_replication_id());
        self.second_repl_offset = master_repl_offset as i64 + 1;
    }

    /// Whether a replica that last saw `replid` may continue at `offset`
    /// as far as ids go (the backlog range is checked separately).
    pub fn accepts(&self, replid: &str, offset: u64) -> bool {
        replid == self.replid
            || (replid == self.replid2 && offset as i64 <= self.second_repl_offset)
    }
}

/// Forty '0's: what Redis prints for an unset replid2.
pub const NO_ID: &str = "0000000000000000000000000000000000000000";

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
    use super::*;

    #[test]
    fn ids_are_40_hex() {
        let id = new_replication_id();
        assert_eq!(id.len(), 40);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn shift_keeps_the_old_id_valid_up_to_the_next_offset() {
        let mut ids = ReplicationIds::fresh();
        let old = ids.replid.clone();
        ids.shift(100);
        assert_eq!(ids.replid2, old);
        assert_eq!(ids.second_repl_offset, 101);
        assert!(ids.accepts(&old, 101));
        assert!(!ids.accepts(&old, 102));
        assert!(ids.accepts(&ids.replid.clone(), 5000));
        ids.clear_previous();
        assert_eq!(ids.replid2, NO_ID);
        assert!(!ids.accepts(&old, 50));
    }
}
