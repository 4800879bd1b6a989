//! INFO's replication section and ROLE's reply, with Redis 7.0's fields in
//! Redis's order (`genRedisInfoString`, `roleCommand`).

use std::fmt::Write;
use std::time::Instant;

use ferrite_resp::ReplyWriter;

use crate::server::Server;

macro_rules! field {
    ($out:expr, $name:expr, $value:expr) => {
        let _ = write!($out, "{}:{}\r\n", $name, $value);
    };
}

/// The `# Replication` section.
pub fn section(server: &Server, out: &mut String) {
    let repl = &server.replication;
    let status = repl.log.status();
    let now = Instant::now();
    out.push_str("# Replication\r\n");
    let master = repl.master.lock().clone();
    match &master {
        Some(link) if repl.is_replica() => {
            let up = link.state == super::replica::LinkState::Connected;
            let syncing = link.state == super::replica::LinkState::Sync;
            field!(out, "role", "slave");
            field!(out, "master_host", link.host);
            field!(out, "master_port", link.port);
            field!(out, "master_link_status", if up { "up" } else { "down" });
            let last_io = link
                .last_io
                .map_or(-1, |t| now.duration_since(t).as_secs() as i64);
            field!(out, "master_last_io_seconds_ago", last_io);
            field!(out, "master_sync_in_progress", syncing as u8);
            field!(out, "slave_read_repl_offset", link.read_reploff.max(0));
            field!(out, "slave_repl_offset", link.reploff.max(0));
            if !up {
                let down = link
                    .down_since
                    .map_or(-1, |t| now.duration_since(t).as_secs() as i64);
                field!(out, "master_link_down_since_seconds", down);
            }
            let config = server.config.read();
            field!(out, "slave_priority", config.get_i64("replica-priority"));
            field!(
                out,
                "slave_read_only",
                config.get_bool("replica-read-only") as u8
            );
            field!(out, "replica_announced", 1);
        }
        _ => {
            field!(out, "role", "master");
        }
    }
    field!(out, "connected_slaves", status.replicas.len());
    if let Some((_, lag)) = repl.gate.min_replicas() {
        field!(out, "min_slaves_good_slaves", repl.log.good_replicas(lag));
    }
    for (i, replica) in status.replicas.iter().enumerate() {
        field!(
            out,
            format!("slave{i}"),
            format!(
                "ip={},port={},state={},offset={},lag={}",
                replica.ip,
                replica.listening_port,
                replica.state.name(),
                replica.ack_offset,
                replica.lag_seconds(now)
            )
        );
    }
    field!(
        out,
        "master_failover_state",
        super::failover::phase(server).name()
    );
    field!(out, "master_replid", status.ids.replid);
    field!(out, "master_replid2", status.ids.replid2);
    field!(out, "master_repl_offset", status.master_repl_offset);
    field!(out, "second_repl_offset", status.ids.second_repl_offset);
    field!(out, "repl_backlog_active", status.backlog_active as u8);
    field!(
        out,
        "repl_backlog_size",
        server.config.read().get("repl-backlog-size")
    );
    field!(
        out,
        "repl_backlog_first_byte_offset",
        status.backlog_first_byte_offset
    );
    field!(out, "repl_backlog_histlen", status.backlog_histlen);
    // Ferrite's consistency mode (not in Redis), after Redis's fields.
    let acks = &repl.acks;
    field!(out, "replica_ack_mode", acks.mode().name());
    field!(out, "replica_ack_timeout", acks.timeout_ms());
    field!(
        out,
        "replica_ack_timeouts",
        acks.timeouts.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// ROLE: `master offset [[ip port offset] ...]` or
/// `slave host port state offset`.
pub fn role(server: &Server, out: &mut ReplyWriter) {
    let repl = &server.replication;
    if repl.is_replica() {
        if let Some(link) = repl.master.lock().clone() {
            out.array(5);
            out.bulk(b"slave");
            out.bulk(link.host.as_bytes());
            out.integer(link.port as i64);
            out.bulk(link.state.name().as_bytes());
            out.integer(link.reploff);
            return;
        }
    }
    let status = repl.log.status();
    let online: Vec<_> = status
        .replicas
        .iter()
        .filter(|r| r.state == ferrite_replication::ReplicaState::Online)
        .collect();
    out.array(3);
    out.bulk(b"master");
    out.integer(status.master_repl_offset as i64);
    out.array(online.len());
    for replica in online {
        out.array(3);
        out.bulk(replica.ip.as_bytes());
        out.bulk(replica.listening_port.to_string().as_bytes());
        out.bulk(replica.ack_offset.to_string().as_bytes());
    }
}
