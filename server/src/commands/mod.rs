//! The command table and the command families. Each family file is where RESP
//! arguments meet typed storage operations.

mod command_info;
mod connection;
mod hashes;
mod info;
mod introspection;
mod keys;
mod list_blocking;
mod lists;
mod persistence;
mod pubsub;
mod replication;
mod scripting;
mod server_admin;
mod sets;
mod sort;
mod strings;
mod table;
mod transactions;
mod typed;
mod zset_blocking;
mod zsets;

pub use info::resident_memory;
pub use table::CommandTable;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use crate::client::ClientState;
use crate::server::Server;

/// After a command ran: slow log, latency monitor and MONITOR feed.
pub fn observe(
    server: &Server,
    client: &ClientState,
    request: &[Bytes],
    elapsed: Duration,
    command_id: usize,
) {
    let spec = server.commands.spec(command_id);
    let micros = elapsed.as_micros() as u64;
    let threshold = server.hot.slowlog_slower_than_us.load(Ordering::Relaxed);
    if threshold >= 0 && micros >= threshold as u64 && !spec.has_flag("skip_slowlog") {
        let max_len = server.hot.slowlog_max_len.load(Ordering::Relaxed) as usize;
        let name = client.handle.name.lock().clone();
        server.slowlog.lock().record(
            request,
            micros,
            &client.handle.peer.to_string(),
            &name,
            max_len,
        );
    }
    let event = if spec.has_flag("fast") {
        "fast-command"
    } else {
        "command"
    };
    crate::latency::add_sample_if_needed(server, event, elapsed);
    if server.monitors.load(Ordering::Relaxed) > 0
        && !spec.has_flag("admin")
        && !spec.has_flag("skip_monitor")
    {
        let _ = server
            .monitor_feed
            .send(introspection::monitor_line(client, request));
    }
}
