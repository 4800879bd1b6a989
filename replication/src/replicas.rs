//! What the master knows about each attached replica: where its stream
//! stands, what it acknowledged, and whether it overran its output limit
//! (`client-output-buffer-limit replica`).

use std::time::{Duration, Instant};

/// A replica's state as INFO prints it (`slave0:...,state=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for its snapshot, or receiving a diskless one as it is made.
    WaitBgsave,
    /// Receiving a snapshot made before it is sent.
    SendBulk,
    /// Receiving the command stream.
    Online,
}

impl ReplicaState {
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// `client-output-buffer-limit replica <hard> <soft> <seconds>`, in bytes of
/// stream not yet sent to the replica. 0 disables a limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

impl OutputLimit {
    /// Whether `pending` bytes overrun the limit now, tracking since when the
    /// soft limit has been exceeded in `soft_since`.
    pub fn exceeded(&self, pending: u64, soft_since: &mut Option<Instant>, now: Instant) -> bool {
        if self.hard > 0 && pending >= self.hard {
            return true;
        }
        if self.soft > 0 && pending >= self.soft {
            let since = *soft_since.get_or_insert(now);
            return now.duration_since(since) >= Duration::from_secs(self.soft_seconds);
        }
        *soft_since = None;
        false
    }
}

/// One attached replica.
#[derive(Debug, Clone)]
pub struct Replica {
    /// The client id of its connection.
    pub id: u64,
    pub ip: String,
    /// REPLCONF listening-port (0 until announced).
    pub listening_port: u16,
    pub state: ReplicaState,
    /// The next stream offset to send it; `None` before its stream starts.
    pub cursor: Option<u64>,
    /// The highest offset it acknowledged (REPLCONF ACK).
    pub ack_offset: u64,
    pub ack_time: Instant,
    /// Over its output limit: its link closes and it must resync.
    pub dropped: bool,
    pub soft_since: Option<Instant>,
    /// How the log line names it (Redis's client info string).
    pub description: String,
}

impl Replica {
    pub fn new(id: u64, ip: String, listening_port: u16, description: String) -> Replica {
        Replica {
            id,
            ip,
            listening_port,
            state: ReplicaState::WaitBgsave,
            cursor: None,
            ack_offset: 0,
            ack_time: Instant::now(),
            dropped: false,
            soft_since: None,
            description,
        }
    }

    /// Seconds since its last ACK (INFO `lag=`).
    pub fn lag_seconds(&self, now: Instant) -> u64 {
        now.duration_since(self.ack_time).as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_limit_drops_at_once_and_soft_limit_after_its_seconds() {
        let limit = OutputLimit {
            hard: 100,
            soft: 10,
            soft_seconds: 60,
        };
        let now = Instant::now();
        let mut since = None;
        assert!(limit.exceeded(100, &mut since, now));
        assert!(!limit.exceeded(50, &mut since, now));
        assert!(since.is_some());
        assert!(limit.exceeded(50, &mut since, now + Duration::from_secs(61)));
        assert!(!limit.exceeded(5, &mut since, now));
        assert!(since.is_none());
    }
}
