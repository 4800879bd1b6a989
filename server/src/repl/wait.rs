//! Waiting for replicas' acknowledgements, shared by WAIT and the
//! consistency modes (`consistency`): asking the replicas for an ACK (a
//! `REPLCONF GETACK *` in the stream, skipped when one already follows the
//! offset waited for), then waiting, without holding a thread, until enough
//! of them acknowledged the offset or the deadline passes.

use std::time::Duration;

use tokio::time::Instant;

use crate::server::Server;

/// WAIT numreplicas timeout: how many replicas acknowledged `offset`.
/// While clients are paused no GETACK is fed (it would move the offset the
/// pause keeps still): it is fed once the pause ends, as Redis defers it.
pub async fn wait(server: &Server, replicas: usize, offset: u64, timeout_ms: u64) -> i64 {
    let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
    let ask = async {
        while server.pause.is_paused() {
            server.pause.changed().await;
        }
        request_acks(server, offset);
        std::future::pending::<i64>().await
    };
    tokio::select! {
        acked = wait_acked(server, replicas, offset, deadline) => acked as i64,
        never = ask => never,
    }
}

/// Makes the replicas acknowledge `offset` soon: feeds a GETACK unless one
/// was fed after `offset` already (concurrent waits share one).
pub fn request_acks(server: &Server, offset: u64) {
    let log = &server.replication.log;
    if log.getack_follows(offset) {
        return;
    }
    let _order = super::order::write_order_exclusive(server);
    // Checked under the order: a server demoted meanwhile must not feed.
    if !server.replication.is_replica() {
        log.feed_getack(offset);
    }
}

/// Waits until `needed` online replicas acknowledged `offset` or `deadline`
/// (`None`: no deadline) passes; returns how many did.
pub async fn wait_acked(
    server: &Server,
    needed: usize,
    offset: u64,
    deadline: Option<Instant>,
) -> usize {
    let log = &server.replication.log;
    let mut acks = log.subscribe_acks();
    loop {
        let acked = log.count_acked(offset);
        if acked >= needed {
            return acked;
        }
        let changed = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, acks.changed())
                .await
                .is_ok_and(|r| r.is_ok()),
            None => acks.changed().await.is_ok(),
        };
        if !changed {
            return log.count_acked(offset);
        }
    }
}
