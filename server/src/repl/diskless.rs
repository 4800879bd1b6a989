//! Diskless full syncs, shared by the replicas that wait together (Redis's
//! `replicationStartPendingFork` and `rdbSaveToSlavesSockets`). A replica
//! asking for one joins the waiting group and gets newline keepalives each
//! second; the group starts once its oldest member has waited
//! `repl-diskless-sync-delay` seconds, or at once when
//! `repl-diskless-sync-max-replicas` (if not 0) are waiting. Then one
//! snapshot at one offset is taken and its pieces, as the walk serialises
//! them, go to every member: the same `+FULLRESYNC <replid> <offset>`, the
//! same `$EOF:<mark>` file and mark. A member that goes away only stops
//! getting pieces; the walk completes the snapshot, which must end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrite_replication::ReplicaState;
use ferrite_storage::rdb::RdbStream;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tracing::info;

use super::replica_input::ReplicaInput;
use crate::server::Server;

/// The replicas waiting for the next diskless snapshot.
#[derive(Default)]
pub struct DisklessGroup {
    waiting: Mutex<Vec<Waiting>>,
}

struct Waiting {
    id: u64,
    filter: SnapshotFilter,
    since: Instant,
    start: oneshot::Sender<Started>,
}

/// What a full sync's snapshot holds (REPLCONF rdb-filter-only leaves
/// parts out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotFilter {
    /// The keys.
    pub data: bool,
    /// The function libraries.
    pub functions: bool,
}

/// What a member gets when its group starts.
struct Started {
    replid: String,
    offset: u64,
    mark: Arc<str>,
    pieces: mpsc::Receiver<Streamed>,
}

/// What the walk sends each member.
enum Streamed {
    Piece(Bytes),
    /// The file is complete: the mark follows.
    End,
}

/// Pieces of a streamed snapshot on their way from the walk to a socket:
/// a shard's keys each, so a few megabytes at most are in flight.
const STREAMED_PIECES_IN_FLIGHT: usize = 16;

/// How often a waiting member checks whether its group can start.
const CHECK_PERIOD: Duration = Duration::from_millis(100);

/// Runs replica `id`'s diskless full sync: waits with its group, then
/// sends `+FULLRESYNC` (to a PSYNC) and the streamed file. Meanwhile the
/// link ends as soon as the replica closes its connection or is dropped
/// for its output limit (what it has not been sent of the stream since
/// the snapshot counts, as Redis counts a waiting replica's buffer). The
/// replica sends nothing but newline keepalives until it has the file, so
/// what it sends meanwhile is discarded.
pub async fn full_sync(
    server: &Arc<Server>,
    writer: &mut (impl AsyncWrite + Unpin),
    input: &mut ReplicaInput<impl AsyncRead + Unpin>,
    psync: bool,
    name: &str,
    id: u64,
    filter: SnapshotFilter,
) -> std::io::Result<bool> {
    let repl = &server.replication;
    let (start, started) = oneshot::channel();
    repl.diskless.waiting.lock().push(Waiting {
        id,
        filter,
        since: Instant::now(),
        start,
    });
    let _leaves = Leave { server, id };
    if server.config.read().get_i64("repl-diskless-sync-delay") > 0 {
        info!("Delay next BGSAVE for diskless SYNC");
    }
    let started = tokio::select! {
        started = wait_for_start(server, writer, started) => started?,
        gone = input.gone(server) => return gone.map(|()| false),
    };
    if psync {
        info!("Full resync requested by replica {name}");
        let line = format!("+FULLRESYNC {} {}\r\n", started.replid, started.offset);
        writer.write_all(line.as_bytes()).await?;
    }
    // The replica stays `wait_bgsave` while the file streams, as Redis's
    // does while its child writes to the socket (`send_bulk` is a file's).
    let header = format!("$EOF:{}\r\n", started.mark);
    writer.write_all(header.as_bytes()).await?;
    tokio::select! {
        sent = send_file(writer, started.pieces) => sent?,
        gone = input.gone(server) => return gone.map(|()| false),
    }
    writer.write_all(started.mark.as_bytes()).await?;
    repl.log.set_state(id, ReplicaState::Online);
    info!(
        "Streamed RDB transfer with replica {name} succeeded (socket). Waiting for REPLCONF ACK from slave to enable streaming"
    );
    Ok(true)
}

/// Forwards the walk's pieces until the file is complete.
async fn send_file(
    writer: &mut (impl AsyncWrite + Unpin),
    mut pieces: mpsc::Receiver<Streamed>,
) -> std::io::Result<()> {
    loop {
        match pieces.recv().await {
            Some(Streamed::Piece(piece)) => writer.write_all(&piece).await?,
            Some(Streamed::End) => return Ok(()),
            None => {
                return Err(std::io::Error::other(
                    "the snapshot walk ended without finishing",
                ))
            }
        }
    }
}

/// Removes a member that leaves before its group started.
struct Leave<'a> {
    server: &'a Server,
    id: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let id = self.id;
        self.server
            .replication
            .diskless
            .waiting
            .lock()
            .retain(|w| w.id != id);
    }
}

/// Sends a newline every second until the group starts (this member's
/// checks may be the ones that start it).
async fn wait_for_start(
    server: &Arc<Server>,
    writer: &mut (impl AsyncWrite + Unpin),
    mut started: oneshot::Receiver<Started>,
) -> std::io::Result<Started> {
    let mut last_keepalive = Instant::now();
    loop {
        try_start(server);
        tokio::select! {
            got = &mut started => {
                return got.map_err(|_| std::io::Error::other("the diskless sync did not start"));
            }
            _ = tokio::time::sleep(CHECK_PERIOD) => {}
        }
        if last_keepalive.elapsed() >= Duration::from_secs(1) {
            writer.write_all(b"\n").await?;
            last_keepalive = Instant::now();
        }
    }
}

/// Starts the waiting group's snapshot if it is due; `None` if not (or if
/// a BGSAVE's snapshot is running: the group waits for it to end).
fn try_start(server: &Arc<Server>) -> Option<()> {
    let repl = &server.replication;
    let (delay, max_replicas) = {
        let config = server.config.read();
        (
            config.get_i64("repl-diskless-sync-delay").max(0) as u64,
            config.get_i64("repl-diskless-sync-max-replicas").max(0) as usize,
        )
    };
    let mut waiting = repl.diskless.waiting.lock();
    let oldest = waiting.iter().map(|w| w.since).min()?;
    // One snapshot serves replicas that asked for the same parts of it
    // (REPLCONF rdb-filter-only), the first to arrive's group first.
    let filter = waiting.first()?.filter;
    let enough = max_replicas > 0 && waiting.len() >= max_replicas;
    if !enough && oldest.elapsed() < Duration::from_secs(delay) {
        return None;
    }
    let (replid, offset, job, libraries) = {
        let _order = super::order::write_order_exclusive(server);
        let job = server.keyspace.begin_snapshot()?;
        let mut at = None;
        for member in waiting.iter().filter(|w| w.filter == filter) {
            at = Some(repl.log.begin_full_sync(member.id));
        }
        server.keyspace.stats().expired_log.set_enabled(true);
        let (replid, offset) = at?;
        // The libraries as of the same offset: FUNCTION LOAD and friends
        // are writes, held off by the write order too.
        let libraries = if filter.functions {
            server.scripting.library_codes()
        } else {
            Vec::new()
        };
        (replid, offset, job, libraries)
    };
    info!("Starting BGSAVE for SYNC with target: replicas sockets");
    let mark: Arc<str> = crate::server::random_hex(40).into();
    let mut senders = Vec::new();
    let (group, others): (Vec<Waiting>, Vec<Waiting>) =
        waiting.drain(..).partition(|w| w.filter == filter);
    *waiting = others;
    for member in group {
        let (pieces, received) = mpsc::channel(STREAMED_PIECES_IN_FLIGHT);
        let started = Started {
            replid: replid.clone(),
            offset,
            mark: mark.clone(),
            pieces: received,
        };
        if member.start.send(started).is_ok() {
            senders.push(pieces);
        }
    }
    drop(waiting);
    let walker = server.clone();
    let walk = move || {
        let aux = crate::persistence::aux_fields(None, false);
        let (mut file, header) = RdbStream::start(&aux, &libraries);
        // A member that stopped reading is skipped; the walk goes on.
        let send = |piece: Vec<u8>| {
            let piece = Bytes::from(piece);
            for member in &senders {
                let _ = member.blocking_send(Streamed::Piece(piece.clone()));
            }
        };
        send(header);
        // Without keys the walk still runs: it ends the snapshot.
        walker.keyspace.stream_snapshot(&job, |db, piece| {
            if filter.data {
                file.keys(db, None, piece, send);
            }
        });
        send(file.finish());
        for member in &senders {
            let _ = member.blocking_send(Streamed::End);
        }
        info!("Background RDB transfer terminated with success");
    };
    if let Err(e) = crate::background::spawn("repl-snapshot", walk) {
        // The members' channels close: each ends its link with an error.
        tracing::warn!("Can't start the snapshot for diskless SYNC: {e}");
    }
    Some(())
}
