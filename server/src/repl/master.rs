//! The master side of a replica link: a connection that sent SYNC or PSYNC
//! is handed here by its connection task. It either continues from the
//! backlog (`+CONTINUE`) or gets a full sync: `+FULLRESYNC <replid>
//! <offset>`, a point-in-time snapshot of the keyspace at exactly that
//! offset (taken under the write order, see `ferrite_replication`), sent
//! diskless as `$EOF:<mark>` while the snapshot walk serialises it, or
//! disk-style as `$<len>\r\n<rdb>` once it is built, then the stream from
//! the offset on.
//! Meanwhile it reads the replica's `REPLCONF ACK`s.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ferrite_replication::{Replica, ReplicaState, StreamRead};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tracing::{info, warn};

use super::diskless::SnapshotFilter;
use super::replica_input::{Received, ReplicaInput};
use crate::client::ClientState;
use crate::connection::ClientIo;
use crate::server::Server;

/// What the replica asked for.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// PSYNC's replid and offset; `None` for the old SYNC (no +FULLRESYNC line).
    pub psync: Option<(String, i64)>,
    /// `PSYNC ... FAILOVER`: this replica's master asks it to take over.
    pub take_over: bool,
}

/// Redis's refusal of a (P)SYNC while this server fails over.
pub const FAILING_OVER: &str = "NOMASTERLINK Can't SYNC while failing over";

/// What a (P)SYNC the command accepted does before the link starts: for
/// `PSYNC ... FAILOVER` the replica becomes a master first (applying what
/// its master sent, `replica::take_over`); then, as Redis checks after
/// that switch, a server failing over itself refuses it. The error is the
/// reply to send instead.
pub async fn prepare_sync(
    server: &Server,
    client: &ClientState,
    request: &SyncRequest,
) -> Result<(), &'static str> {
    if request.take_over {
        super::replica::take_over(server).await;
        info!(
            "MASTER MODE enabled (failover request from '{}')",
            client.handle.info_line()
        );
        if super::failover::phase(server) != super::failover::Phase::None {
            return Err(FAILING_OVER);
        }
    }
    Ok(())
}

/// How often a replica link wakes to check that it was not dropped.
const CHECK_PERIOD: Duration = Duration::from_millis(100);

/// Runs the link until the replica goes away or is dropped.
pub async fn serve_replica(
    server: Arc<Server>,
    mut stream: impl ClientIo,
    leftover: BytesMut,
    client: &mut ClientState,
    request: SyncRequest,
) -> std::io::Result<()> {
    let handle = client.handle.clone();
    let id = handle.id;
    let port = client.repl.listening_port;
    let name = replica_name(client);
    handle.set_kind(crate::client::ClientKind::Replica);
    let log = &server.replication.log;
    log.add_replica(Replica::new(
        id,
        handle.peer.ip().to_string(),
        port,
        handle.info_line(),
    ));
    info!("Replica {name} asks for synchronization");
    let (reader, mut writer) = tokio::io::split(&mut stream);
    let mut input = ReplicaInput::new(reader, leftover, handle.clone());
    let result = run_link(&server, &mut writer, &mut input, client, &request, &name).await;
    log.remove_replica(id);
    info!("Connection with replica {name} lost.");
    result
}

async fn run_link(
    server: &Arc<Server>,
    stream: &mut (impl AsyncWrite + Unpin),
    input: &mut ReplicaInput<impl AsyncRead + Unpin>,
    client: &mut ClientState,
    request: &SyncRequest,
    name: &str,
) -> std::io::Result<()> {
    let id = client.handle.id;
    let log = &server.replication.log;
    let repl = &server.replication;
    let continued = match &request.psync {
        Some((replid, offset)) if replid != "?" && *offset >= 0 => {
            let accepted = log.try_continue(id, replid, *offset as u64);
            if accepted.is_none() {
                repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
                refusal_reason(server, replid, *offset);
            }
            accepted.map(|replid| (replid, *offset))
        }
        Some(_) => {
            info!("Full resync requested by replica {name}");
            None
        }
        None => None,
    };
    if let Some((replid, offset)) = &continued {
        repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
        let line = if client.repl.capa_psync2 {
            format!("+CONTINUE {replid}\r\n")
        } else {
            "+CONTINUE\r\n".to_string()
        };
        stream.write_all(line.as_bytes()).await?;
        let pending = log.master_repl_offset() + 1 - *offset as u64;
        info!(
            "Partial resynchronization request from {name} accepted. Sending {pending} bytes of backlog starting from offset {offset}."
        );
    }
    // A filtered snapshot is always sent diskless, as Redis never writes one to disk.
    let filter = SnapshotFilter {
        data: !client.repl.exclude_data,
        functions: !client.repl.exclude_functions,
    };
    let filtered = !filter.data || !filter.functions;
    let diskless = continued.is_none()
        && client.repl.capa_eof
        && (filtered || server.config.read().get_bool("repl-diskless-sync"));
    if continued.is_none() {
        let synced = full_sync(server, stream, input, request, name, id, diskless, filter);
        if !synced.await? {
            return Ok(());
        }
    }
    if client.repl.rdb_only {
        info!("RDB transfer completed, rdb only replica ({name}) should be disconnected asap");
        return Ok(());
    }
    let link = LinkMode {
        acks: request.psync.is_some(),
        stream_on_ack: diskless,
    };
    stream_to_replica(server, stream, input, client, link, name).await
}

/// How the stream part of a link behaves.
#[derive(Debug, Clone, Copy)]
struct LinkMode {
    /// It sent PSYNC, so it acknowledges and can time out.
    acks: bool,
    /// After a diskless snapshot nothing may follow the EOF mark until
    /// the replica loaded it and sent its first ACK (Redis's
    /// `repl_start_cmd_stream_on_ack`).
    stream_on_ack: bool,
}

fn refusal_reason(server: &Server, replid: &str, offset: i64) {
    let ids = server.replication.log.ids();
    if replid != ids.replid && replid != ids.replid2 {
        info!(
            "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
            ids.replid, ids.replid2
        );
    } else if replid == ids.replid2 && offset > ids.second_repl_offset {
        info!(
            "Partial resynchronization not accepted: Requested offset for second ID was {offset}, but I can reply up to {}",
            ids.second_repl_offset
        );
    } else {
        let (first, last) = server.replication.log.backlog_range().unwrap_or((0, 0));
        info!(
            "Unable to partial resync with replica for lack of backlog (Replica request was: {offset}), my backlog covers {first} to {last}."
        );
    }
}

/// Starts a snapshot at the current offset and sends it: disk-style as
/// `$<len>\r\n<rdb>`, or `diskless` (`repl-diskless-sync`, to a replica
/// with capa eof) streamed with the replicas that wait for one together
/// (`diskless`). Disk-style syncs each take their own snapshot (Redis
/// lets a replica join a BGSAVE to disk already running for another).
/// Returns whether the replica got its file; if not, the link ends (see
/// [`ReplicaInput::gone`]).
#[allow(clippy::too_many_arguments)]
async fn full_sync(
    server: &Arc<Server>,
    stream: &mut (impl AsyncWrite + Unpin),
    input: &mut ReplicaInput<impl AsyncRead + Unpin>,
    request: &SyncRequest,
    name: &str,
    id: u64,
    diskless: bool,
    filter: SnapshotFilter,
) -> std::io::Result<bool> {
    let repl = &server.replication;
    repl.sync_full.fetch_add(1, Ordering::Relaxed);
    if diskless {
        let psync = request.psync.is_some();
        return super::diskless::full_sync(server, stream, input, psync, name, id, filter).await;
    }
    tokio::select! {
        sent = send_snapshot_file(server, stream, request, name, id) => sent.map(|()| true),
        gone = input.gone(server) => gone.map(|()| false),
    }
}

/// A disk-style full sync: the snapshot is built, then sent as `$<len>`.
async fn send_snapshot_file(
    server: &Arc<Server>,
    stream: &mut (impl AsyncWrite + Unpin),
    request: &SyncRequest,
    name: &str,
    id: u64,
) -> std::io::Result<()> {
    let repl = &server.replication;
    let (replid, offset, job) = loop {
        let started = {
            let _order = super::order::write_order_exclusive(server);
            server.keyspace.begin_snapshot().map(|job| {
                let (replid, offset) = repl.log.begin_full_sync(id);
                server.keyspace.stats().expired_log.set_enabled(true);
                // The libraries as of the same offset: FUNCTION LOAD and
                // friends are writes, held off by the write order too.
                (replid, offset, (job, server.scripting.library_codes()))
            })
        };
        match started {
            Some(started) => break started,
            // A BGSAVE's snapshot is running: wait for it to finish.
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    info!("Starting BGSAVE for SYNC with target: disk");
    if request.psync.is_some() {
        info!("Full resync requested by replica {name}");
        stream
            .write_all(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes())
            .await?;
    }
    let (job, libraries) = job;
    let snapshot_server = server.clone();
    let rdb = crate::background::run("repl-snapshot", move || {
        snapshot_server.keyspace.complete_snapshot(&job);
        job.take_rdb(&crate::persistence::aux_fields(None, false), &libraries)
    })
    .await?;
    info!("Background saving terminated with success");
    repl.log.set_state(id, ReplicaState::SendBulk);
    stream
        .write_all(format!("${}\r\n", rdb.len()).as_bytes())
        .await?;
    for piece in rdb.pieces() {
        stream.write_all(piece).await?;
    }
    repl.log.set_state(id, ReplicaState::Online);
    info!("Synchronization with replica {name} succeeded");
    Ok(())
}

/// Sends the stream as it grows and reads the replica's ACKs.
async fn stream_to_replica(
    server: &Arc<Server>,
    writer: &mut (impl AsyncWrite + Unpin),
    input: &mut ReplicaInput<impl AsyncRead + Unpin>,
    client: &mut ClientState,
    link: LinkMode,
    name: &str,
) -> std::io::Result<()> {
    let mut held = link.stream_on_ack;
    let id = client.handle.id;
    let handle = client.handle.clone();
    let log = &server.replication.log;
    let mut fed = log.subscribe();
    loop {
        if !held {
            loop {
                match log.read_for(id) {
                    StreamRead::Bytes(bytes) => writer.write_all(&bytes).await?,
                    StreamRead::UpToDate => break,
                    StreamRead::Closed => return Ok(()),
                }
            }
        }
        tokio::select! {
            _ = handle.killed() => return Ok(()),
            changed = fed.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep(CHECK_PERIOD) => {
                if log.is_dropped(id) || (link.acks && timed_out(server, client)) {
                    return Ok(());
                }
            }
            received = input.next(server) => match received? {
                Received::Ack(offset) => {
                    log.ack(id, offset);
                    if held {
                        held = false;
                        info!("Synchronization with replica {name} succeeded");
                    }
                }
                Received::End => return Ok(()),
            },
        }
    }
}

/// `repl-timeout`: an online replica that sent no ACK for that many seconds
/// is disconnected.
fn timed_out(server: &Server, client: &ClientState) -> bool {
    let timeout = server.config.read().get_i64("repl-timeout").max(1) as u64;
    let silent = server
        .replication
        .log
        .online_silence(client.handle.id)
        .is_some_and(|silence| silence > Duration::from_secs(timeout));
    if silent {
        warn!(
            "Disconnecting timedout replica (streaming sync): {}",
            replica_name(client)
        );
    }
    silent
}

/// Redis's `replicationGetSlaveName`: `ip:port` as the replica announced it.
pub fn replica_name(client: &ClientState) -> String {
    let ip = client.handle.peer.ip();
    match client.repl.listening_port {
        0 => format!("{ip}:<unknown-replica-port>"),
        port => format!("{ip}:{port}"),
    }
}

/// Redis's `replicationCron` on a master: PING every
/// `repl-ping-replica-period` seconds while replicas are attached, and free
/// the backlog after `repl-backlog-ttl` seconds without any.
pub fn spawn_cron(server: Arc<Server>) {
    tokio::spawn(async move {
        let mut ticks: u64 = 0;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if server.shutting_down.load(Ordering::Relaxed) {
                return;
            }
            ticks += 1;
            if server.replication.is_replica() {
                continue;
            }
            let (period, ttl) = {
                let config = server.config.read();
                (
                    config.get_i64("repl-ping-replica-period").max(1) as u64,
                    config.get_i64("repl-backlog-ttl").max(0) as u64,
                )
            };
            let log = &server.replication.log;
            let has_replicas = !log.status().replicas.is_empty();
            // No PING while a FAILOVER waits for the target to catch up
            // with the offset (Redis skips it during a paused failover).
            let failing_over = super::failover::phase(&server) != super::failover::Phase::None;
            if has_replicas && ticks.is_multiple_of(period) && !failing_over {
                let _order = super::order::write_order_exclusive(&server);
                log.feed(None, &[&b"PING"[..]]);
            }
            // The consistency modes keep the backlog (`consistency`).
            let keep = server.replication.acks.mode() != super::consistency::AckMode::Async;
            if !has_replicas && !keep {
                let _order = super::order::write_order_exclusive(&server);
                if log.expire_backlog(ttl) {
                    server.keyspace.stats().expired_log.set_enabled(false);
                }
            }
        }
    });
}
