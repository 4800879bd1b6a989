//! WAIT's blocking part: after asking the replicas for an ACK (a `REPLCONF
//! GETACK *` in the stream), waits until enough of them acknowledged the
//! client's last write or the timeout passes, and returns how many did.

use std::time::Duration;

use crate::server::Server;

pub async fn wait(server: &Server, replicas: usize, offset: u64, timeout_ms: u64) -> i64 {
    let log = &server.replication.log;
    let mut acks = log.subscribe_acks();
    {
        let _order = super::order::write_order_exclusive(server);
        log.feed(None, &[&b"REPLCONF"[..], b"GETACK", b"*"]);
    }
    let deadline =
        (timeout_ms > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
    loop {
        let acked = log.count_acked(offset);
        if acked >= replicas {
            return acked as i64;
        }
        let changed = async {
            match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, acks.changed())
                    .await
                    .is_ok_and(|r| r.is_ok()),
                None => acks.changed().await.is_ok(),
            }
        };
        if !changed.await {
            return log.count_acked(offset) as i64;
        }
    }
}
