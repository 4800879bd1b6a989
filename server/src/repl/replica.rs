//! The replica side: REPLICAOF's link to a master. One task per link
//! connects, runs the handshake (PING, AUTH, REPLCONF, PSYNC), loads the
//! snapshot of a full sync while the old data keeps being served, then
//! applies the master's stream through the normal command path as the
//! master client, counting its offset as Redis does (bytes of fully
//! processed commands; inside MULTI only once EXEC ran), forwarding exactly
//! those bytes to its own replicas, and acknowledging every second and on
//! GETACK. When the link drops it caches the master's replid and offset and
//! reconnects with `PSYNC <replid> <offset+1>`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrite_resp::{ParseLimits, Protocol, ReplyWriter, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::failover;
use crate::client::{ClientAddr, ClientHandle, ClientKind, ClientState};
use crate::connection::Executed;
use crate::loading::LoadingMode;
use crate::pause::PostponedGuard;
use crate::server::Server;

/// Where the link to the master stands (ROLE's state names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    Handshake,
    Sync,
    Connected,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The master this server replicates and what INFO says about the link.
#[derive(Debug, Clone)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Last time anything arrived from the master.
    pub last_io: Option<Instant>,
    pub down_since: Option<Instant>,
    /// Offset of the last byte processed (`slave_repl_offset`); -1 before
    /// the first sync.
    pub reploff: i64,
    /// Bytes received (`slave_read_repl_offset`).
    pub read_reploff: i64,
    /// The master's replid as last seen (PSYNC after a drop).
    pub master_replid: Option<String>,
    /// The database the master's stream had selected (kept over a partial resync).
    pub db: usize,
    /// The master client's handle while connected (killed to drop the link).
    pub client: Option<Arc<ClientHandle>>,
    /// While the stream is applied: asks the link to apply what it has
    /// received so far (`catch_up`), answering on the oneshot.
    pub catch_up: Option<mpsc::UnboundedSender<oneshot::Sender<()>>>,
}

/// Distinguishes link tasks: a task whose generation is no longer current stops.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Bytes read from the master at a time.
const READ_CHUNK: usize = 64 * 1024;

/// REPLICAOF host port: becomes (or stays) a replica of `host:port`.
/// Returns false if it already replicates exactly that master.
pub fn replicate(server: &Server, host: &str, port: u16) -> bool {
    let repl = &server.replication;
    let mut master = repl.master.lock();
    if let Some(link) = master.as_ref() {
        if link.host.eq_ignore_ascii_case(host) && link.port == port {
            return false;
        }
        if let Some(client) = &link.client {
            client.kill();
        }
    }
    let was_master = !repl.is_replica();
    let (cached_replid, reploff, db) = if was_master {
        // Redis's replicationCacheMasterUsingMyself: our own history is
        // what the new master may continue.
        let status = repl.log.status();
        (Some(status.ids.replid), status.master_repl_offset as i64, 0)
    } else {
        // The cached master: where its stream stands, and the database it
        // had selected, which a partial resync continues in (the stream
        // selects again only when the database changes).
        let link = master.as_ref();
        (
            link.and_then(|l| l.master_replid.clone()),
            link.map_or(-1, |l| l.reploff),
            link.map_or(0, |l| l.db),
        )
    };
    *master = Some(MasterLink {
        host: host.to_string(),
        port,
        state: LinkState::Connect,
        last_io: None,
        down_since: Some(Instant::now()),
        reploff,
        read_reploff: reploff,
        master_replid: cached_replid,
        db,
        client: None,
        catch_up: None,
    });
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    drop(master);
    // Redis's disconnectAllBlockedClients: clients blocked on keys as a
    // master's (or the old master's replica's) get an error and go.
    server.blocking.unblock_all_for_role_change();
    // `replicaof` shows the master being replicated, however it was chosen
    // (REPLICAOF, FAILOVER), as Redis derives it from its masterhost.
    server.config.write().set_master(Some((host, port)));
    super::expiry::set_replica(server, true);
    server.keyspace.stats().expired_log.set_enabled(false);
    repl.start_link.store(generation, Ordering::SeqCst);
    repl.link_requested.notify_one();
    true
}

/// Starts the link task whenever REPLICAOF asks for one (handlers have no
/// `Arc<Server>` to spawn it with).
///
/// The supervisor and the links are local tasks of the main thread (the
/// `LocalSet` that `crate::run` drives), not of the worker pool. The
/// kernel delivers a process-directed SIGSTOP to the main thread, which
/// stops every other thread only once it runs; a link on a worker could
/// meanwhile apply more of the stream and acknowledge it. On the main
/// thread, a stopped replica stops applying and acknowledging at once, as
/// single-threaded Redis does (operators and Redis's tests pause replicas
/// with SIGSTOP and expect WAIT to count them out).
pub fn spawn_supervisor(server: Arc<Server>) {
    tokio::task::spawn_local(async move {
        // Two REPLICAOFs in quick succession wake it twice (a permit is
        // stored) for one generation: that generation gets one link only.
        let mut spawned = 0;
        loop {
            server.replication.link_requested.notified().await;
            let generation = server.replication.start_link.load(Ordering::SeqCst);
            if current(generation) && generation != spawned {
                spawned = generation;
                tokio::task::spawn_local(run(server.clone(), generation));
            }
        }
    });
}

/// REPLICAOF NO ONE: becomes a master, keeping the data; the replid moves
/// to replid2 so this server's former peers can continue partially. The
/// switch happens under the write order exclusively (no write in flight),
/// taken here unless the caller already holds it (`order_held`: EXEC of a
/// transaction that writes, which also holds the whole keyspace, so no
/// other command runs meanwhile even if that order is the shared one).
pub fn promote(server: &Server, order_held: bool) {
    let repl = &server.replication;
    let Some(link) = repl.master.lock().take() else {
        return;
    };
    GENERATION.fetch_add(1, Ordering::SeqCst);
    if let Some(client) = link.client {
        client.kill();
    }
    server.config.write().set_master(None);
    let _order = (!order_held).then(|| super::order::write_order_exclusive(server));
    super::expiry::set_replica(server, false);
    repl.log.promote();
    repl.log.drop_replicas();
    server.keyspace.stats().expired_log.set_enabled(true);
}

/// `PSYNC <replid> <offset> FAILOVER` from this replica's master: applies
/// every byte of the stream the link has received (the old master wrote
/// them before it asked), then becomes a master. Single-threaded Redis
/// reads its master's socket before it gets to a new connection's PSYNC;
/// here the link task runs apart from the connection that received the
/// PSYNC, and promoting without asking it first would leave out the old
/// master's last writes, so neither it nor its other replicas could
/// continue partially (`sync_partial_ok` would not rise). Nothing is
/// waited for beyond what the socket already holds, as in Redis.
pub async fn take_over(server: &Server) {
    let catch_up = server
        .replication
        .master
        .lock()
        .as_ref()
        .and_then(|l| l.catch_up.clone());
    if let Some(catch_up) = catch_up {
        let (done, applied) = oneshot::channel();
        // A link that ended meanwhile drops the request: nothing to apply.
        if catch_up.send(done).is_ok() {
            let _ = applied.await;
        }
    }
    promote(server, false);
}

fn current(generation: u64) -> bool {
    GENERATION.load(Ordering::SeqCst) == generation
}

/// Changes the link's state on behalf of the link task of `generation`; false (nothing
/// changed) if REPLICAOF has replaced that task since: a task still finishing its old
/// link must not touch the new one. REPLICAOF changes the generation under the same lock.
fn update(server: &Server, generation: u64, f: impl FnOnce(&mut MasterLink)) -> bool {
    let mut master = server.replication.master.lock();
    match master.as_mut() {
        Some(link) if current(generation) => {
            f(link);
            true
        }
        _ => false,
    }
}

async fn run(server: Arc<Server>, generation: u64) {
    while current(generation) {
        let Some((host, port)) = server
            .replication
            .master
            .lock()
            .as_ref()
            .map(|l| (l.host.clone(), l.port))
        else {
            return;
        };
        update(&server, generation, |l| l.state = LinkState::Connecting);
        info!("Connecting to MASTER {host}:{port}");
        let patience = Patience::of(&server, HANDSHAKE_TIMEOUT);
        let source = server.config.read().get("bind-source-addr").to_string();
        let mut retry_at_once = false;
        let connect = tokio::time::timeout(
            patience.limit,
            crate::outgoing::connect(&source, &host, port),
        );
        match connect
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other(patience.message)))
        {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                info!("MASTER <-> REPLICA sync started");
                match sync_and_stream(&server, stream, generation).await {
                    Err(LinkEnd::TransferFailed(e)) => {
                        warn!("{e}");
                        retry_at_once = true;
                    }
                    ended => {
                        if let Err(LinkEnd::Other(e)) = ended {
                            warn!("{e}");
                        }
                        if current(generation) {
                            info!("Connection with master lost.");
                            info!("Caching the disconnected master state.");
                        }
                    }
                }
            }
            Err(e) => warn!("Error condition on socket for SYNC: {e}"),
        }
        update(&server, generation, |l| {
            l.client = None;
            l.catch_up = None;
            if l.state != LinkState::Connect {
                l.down_since = Some(Instant::now());
            }
            l.state = LinkState::Connect;
        });
        if retry_at_once && current(generation) {
            info!("Reconnecting to MASTER {host}:{port} after failure");
            continue;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// What a read from the master gives up after (`repl-timeout`) and says.
#[derive(Clone, Copy)]
struct Patience {
    limit: Duration,
    message: &'static str,
}

impl Patience {
    fn of(server: &Server, message: &'static str) -> Patience {
        let seconds = server.config.read().get_i64("repl-timeout").max(1) as u64;
        Patience {
            limit: Duration::from_secs(seconds),
            message,
        }
    }
}

const HANDSHAKE_TIMEOUT: &str = "Timeout connecting to the MASTER...";
const TRANSFER_TIMEOUT: &str = "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.";

/// Reads more bytes from the master, or fails after `patience`; 0 at EOF.
async fn read_more(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    patience: Patience,
) -> std::io::Result<usize> {
    tokio::time::timeout(patience.limit, stream.read_buf(buf))
        .await
        .map_err(|_| std::io::Error::other(patience.message))?
}

/// Reads one `\r\n`-terminated line, skipping the bare `\n` keepalives.
async fn read_line(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    patience: Patience,
) -> std::io::Result<String> {
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(end + 1);
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            if text.is_empty() {
                continue;
            }
            return Ok(text);
        }
        if buf.len() > 64 * 1024 {
            return Err(std::io::Error::other("master sent an overlong line"));
        }
        if read_more(stream, buf, patience).await? == 0 {
            return Err(std::io::Error::other("master closed the connection"));
        }
    }
}

fn command(args: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    ferrite_replication::multibulk(&mut out, args);
    out
}

/// Why a link ended: a full sync's transfer or load that failed is retried
/// at once (Redis's `cancelReplicationHandshake(1)`), anything else after
/// the usual second.
enum LinkEnd {
    TransferFailed(std::io::Error),
    Other(std::io::Error),
}

fn link_failed(message: String) -> LinkEnd {
    LinkEnd::Other(std::io::Error::other(message))
}

impl From<std::io::Error> for LinkEnd {
    fn from(error: std::io::Error) -> LinkEnd {
        LinkEnd::Other(error)
    }
}

async fn sync_and_stream(
    server: &Arc<Server>,
    mut stream: TcpStream,
    generation: u64,
) -> Result<(), LinkEnd> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let patience = Patience::of(server, HANDSHAKE_TIMEOUT);
    update(server, generation, |l| l.state = LinkState::Handshake);
    stream.write_all(&command(&["PING"])).await?;
    let pong = read_line(&mut stream, &mut buf, patience).await?;
    let auth_error = pong.starts_with("-NOAUTH")
        || pong.starts_with("-NOPERM")
        || pong.starts_with("-ERR operation not permitted");
    if pong.starts_with('-') && !auth_error {
        return Err(link_failed(format!(
            "Error reply to PING from master: '{pong}'"
        )));
    }
    info!("Master replied to PING, replication can continue...");
    let (masterauth, masteruser, port, announce_ip) = {
        let config = server.config.read();
        let announced = config.get_i64("replica-announce-port");
        (
            config.get("masterauth").to_string(),
            config.get("masteruser").to_string(),
            if announced > 0 {
                announced as u16
            } else {
                server.port.load(std::sync::atomic::Ordering::Relaxed)
            },
            config.get("replica-announce-ip").to_string(),
        )
    };
    let mut handshake = Vec::new();
    let mut expected = Vec::new();
    if !masterauth.is_empty() {
        let auth = if masteruser.is_empty() {
            command(&["AUTH", &masterauth])
        } else {
            command(&["AUTH", &masteruser, &masterauth])
        };
        handshake.extend(auth);
        expected.push("auth");
    }
    handshake.extend(command(&["REPLCONF", "listening-port", &port.to_string()]));
    expected.push("listening-port");
    if !announce_ip.is_empty() {
        handshake.extend(command(&["REPLCONF", "ip-address", &announce_ip]));
        expected.push("ip-address");
    }
    handshake.extend(command(&["REPLCONF", "capa", "eof", "capa", "psync2"]));
    expected.push("capa");
    stream.write_all(&handshake).await?;
    for step in expected {
        let reply = read_line(&mut stream, &mut buf, patience).await?;
        if reply.starts_with('-') {
            if step == "auth" {
                return Err(link_failed(format!("Unable to AUTH to MASTER: {reply}")));
            }
            info!("(Non critical) Master does not understand REPLCONF {step}: {reply}");
        }
    }
    let (cached_replid, reploff) = server
        .replication
        .master
        .lock()
        .as_ref()
        .map_or((None, -1), |l| (l.master_replid.clone(), l.reploff));
    let (replid, offset) = match &cached_replid {
        Some(replid) if reploff >= 0 => {
            let offset = reploff + 1;
            info!("Trying a partial resynchronization (request {replid}:{offset}).");
            (replid.as_str(), offset.to_string())
        }
        _ => {
            info!("Partial resynchronization not possible (no cached master)");
            ("?", "-1".to_string())
        }
    };
    // A master handing over to this master asks it to take over.
    let failing_over = failover::phase(server) == failover::Phase::InProgress;
    let psync = if failing_over {
        command(&["PSYNC", replid, &offset, "FAILOVER"])
    } else {
        command(&["PSYNC", replid, &offset])
    };
    stream.write_all(&psync).await?;
    let reply = read_line(&mut stream, &mut buf, patience).await?;
    if !current(generation) {
        return Ok(()); // REPLICAOF replaced this link meanwhile
    }
    if failing_over {
        if reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE") {
            failover::finish(server);
        } else {
            failover::abort(server, "Failover target rejected psync request");
            return Err(link_failed(format!(
                "Unexpected reply to PSYNC from master: {reply}"
            )));
        }
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split(' ');
        let (Some(replid), Some(offset)) = (
            parts.next().map(str::to_string),
            parts.next().and_then(|o| o.parse::<u64>().ok()),
        ) else {
            return Err(link_failed(format!(
                "Master replied with wrong +FULLRESYNC syntax: {reply}"
            )));
        };
        info!("Full resync from master: {replid}:{offset}");
        update(server, generation, |l| l.state = LinkState::Sync);
        let eof_mark = load_snapshot(server, &mut stream, &mut buf, generation, &replid)
            .await
            .map_err(LinkEnd::TransferFailed)?;
        server.replication.log.adopt_master(&replid, offset);
        update(server, generation, |l| {
            l.master_replid = Some(replid.clone());
            l.reploff = offset as i64;
            l.read_reploff = offset as i64;
            l.db = 0;
        });
        if eof_mark {
            stream
                .write_all(&command(&["REPLCONF", "ACK", &offset.to_string()]))
                .await?;
        }
        info!("MASTER <-> REPLICA sync: Finished with success");
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_replid = rest.trim();
        info!("Successful partial resynchronization with master.");
        if !new_replid.is_empty() && Some(new_replid) != cached_replid.as_deref() {
            server.replication.log.master_changed_id(new_replid);
            server.replication.log.drop_replicas();
            update(server, generation, |l| {
                l.master_replid = Some(new_replid.to_string())
            });
        }
        info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else {
        return Err(link_failed(format!(
            "Unexpected reply to PSYNC from master: {reply}"
        )));
    }
    Ok(apply_stream(server, stream, buf, generation).await?)
}

/// Reads the snapshot (`$<len>` or `$EOF:<mark>` framing) and installs it.
/// Returns whether the EOF-mark framing was used. `master_replid` is the
/// one the master's +FULLRESYNC gave.
async fn load_snapshot(
    server: &Arc<Server>,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    generation: u64,
    master_replid: &str,
) -> std::io::Result<bool> {
    let patience = Patience::of(server, TRANSFER_TIMEOUT);
    let header = read_line(stream, buf, patience).await?;
    if header.starts_with('-') {
        return Err(std::io::Error::other(format!(
            "MASTER aborted replication with an error: {header}"
        )));
    }
    let Some(size) = header.strip_prefix('$') else {
        return Err(std::io::Error::other(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?"
        )));
    };
    let eof_mark = size.strip_prefix("EOF:").filter(|m| m.len() >= 40);
    let len = match eof_mark {
        Some(_) => None,
        None => Some(
            size.parse::<usize>()
                .map_err(|_| std::io::Error::other(format!("Bad payload length: {size}")))?,
        ),
    };
    let load = SocketLoad::for_transfer(server, master_replid);
    let target = if load.is_some() {
        "to parser"
    } else {
        "to disk"
    };
    match len {
        None => {
            info!("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {target}")
        }
        Some(len) => info!("MASTER <-> REPLICA sync: receiving {len} bytes from master {target}"),
    }
    // A diskless load shows as loading from the first byte, as Redis's
    // parser reading the socket does; the old data stays until the new is
    // installed, whatever the mode.
    let socket_loading = load.map(|load| {
        if load.flushes {
            info!("MASTER <-> REPLICA sync: Flushing old data");
        }
        info!("MASTER <-> REPLICA sync: Loading DB in memory");
        server.loading.begin(load.mode, len.unwrap_or(0) as u64)
    });
    let received = receive_payload(server, stream, buf, patience, eof_mark, len).await;
    let rdb = match received {
        Ok(rdb) => rdb,
        Err(error) if socket_loading.is_some() => {
            warn!("Short read or OOM loading DB. Unrecoverable error, aborting now.");
            warn!(
                "Internal error in RDB reading offset {} -> Unexpected EOF reading RDB file. Failure loading rdb format from socket, assuming connection error, resuming operation.",
                server.loading.loaded()
            );
            return Err(std::io::Error::other(format!(
                "Failed trying to load the MASTER synchronization DB from socket: {error}"
            )));
        }
        Err(error) => return Err(error),
    };
    if !current(generation) {
        return Err(std::io::Error::other("replication target changed"));
    }
    let _loading_until_installed = socket_loading.unwrap_or_else(|| {
        info!("MASTER <-> REPLICA sync: Flushing old data");
        info!("MASTER <-> REPLICA sync: Loading DB in memory");
        server
            .loading
            .begin(LoadingMode::Blocking, rdb.len() as u64)
    });
    let loader = server.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let count = loader.keyspace.database_count();
        let verify = loader.config.read().get_bool("rdbchecksum");
        let loaded = loader
            .keyspace
            .load_rdb(&rdb, count, verify)
            .map_err(|e| format!("{} at offset {}", e.message, e.offset))?;
        // The master's libraries replace the replica's, as its keys do.
        let functions = crate::persistence::functions_of(&loaded)?;
        loaded.install(&loader.keyspace.exclusive());
        loader.scripting.replace_functions(functions);
        Ok::<(), String>(())
    })
    .await
    .map_err(std::io::Error::other)?;
    loaded.map_err(|e| {
        std::io::Error::other(format!(
            "Failed trying to load the MASTER synchronization DB from disk: {e}"
        ))
    })?;
    // The whole keyspace was replaced (Redis's emptyData signals a flush).
    server.tracking.invalidate_all();
    // The AOF starts over from the new dataset (Redis's restartAOFAfterSYNC).
    crate::aof::restart_after_sync(server);
    Ok(eof_mark.is_some())
}

/// The snapshot's bytes: up to the EOF mark, or `len` of them.
async fn receive_payload(
    server: &Server,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    patience: Patience,
    eof_mark: Option<&str>,
    len: Option<usize>,
) -> std::io::Result<Vec<u8>> {
    let mut rdb = Vec::new();
    if let Some(mark) = eof_mark {
        let mark = &mark.as_bytes()[..40];
        loop {
            rdb.extend_from_slice(buf);
            buf.clear();
            server.loading.set_loaded(rdb.len() as u64);
            if rdb.ends_with(mark) {
                rdb.truncate(rdb.len() - 40);
                return Ok(rdb);
            }
            if read_more(stream, buf, patience).await? == 0 {
                return Err(std::io::Error::other("master closed the connection"));
            }
        }
    }
    let len = len.unwrap_or(0);
    while buf.len() < len {
        server.loading.set_loaded(buf.len() as u64);
        if read_more(stream, buf, patience).await? == 0 {
            return Err(std::io::Error::other("master closed the connection"));
        }
    }
    rdb.extend_from_slice(&buf.split_to(len));
    Ok(rdb)
}

/// How a full sync's snapshot is loaded when `repl-diskless-load` has it
/// read straight from the socket (Redis's `useDisklessLoad`): `swapdb`
/// always, `on-empty-db` when every database is empty.
struct SocketLoad {
    mode: LoadingMode,
    /// `on-empty-db` empties the dataset first (Redis logs it; it was empty).
    flushes: bool,
}

impl SocketLoad {
    fn for_transfer(server: &Server, master_replid: &str) -> Option<SocketLoad> {
        let setting = server.config.read().get("repl-diskless-load").to_string();
        match setting.as_str() {
            // An async load: the old data is an earlier point of the same
            // history, so it is served until the new one is in place.
            "swapdb" => Some(SocketLoad {
                mode: if server.replication.log.ids().replid == master_replid {
                    LoadingMode::Async
                } else {
                    LoadingMode::Blocking
                },
                flushes: false,
            }),
            "on-empty-db" if keyspace_is_empty(server) => Some(SocketLoad {
                mode: LoadingMode::Blocking,
                flushes: true,
            }),
            _ => None,
        }
    }
}

fn keyspace_is_empty(server: &Server) -> bool {
    let keyspace = server.keyspace.read();
    (0..keyspace.database_count()).all(|db| keyspace.counts(db).0 == 0)
}

/// Applies the master's stream until the link drops.
async fn apply_stream(
    server: &Arc<Server>,
    mut stream: TcpStream,
    mut buf: BytesMut,
    generation: u64,
) -> std::io::Result<()> {
    let peer = stream.peer_addr()?;
    let local = stream.local_addr()?;
    let handle = server
        .clients
        .register(ClientAddr::Tcp(peer), ClientAddr::Tcp(local));
    handle.set_kind(ClientKind::Master);
    let mut client = ClientState::new(handle.clone(), true);
    client.repl.is_master = true;
    let db = server
        .replication
        .master
        .lock()
        .as_ref()
        .map_or(0, |l| l.db);
    client.select(db);
    let (catch_up, mut catch_up_requests) = mpsc::unbounded_channel();
    let connected = update(server, generation, |l| {
        l.state = LinkState::Connected;
        l.down_since = None;
        l.last_io = Some(Instant::now());
        l.client = Some(handle.clone());
        l.catch_up = Some(catch_up);
    });
    let result = if connected {
        let link = Link {
            stream: &mut stream,
            buf: &mut buf,
            catch_up: &mut catch_up_requests,
        };
        apply_loop(server, link, &mut client, generation).await
    } else {
        Ok(()) // REPLICAOF replaced this link meanwhile
    };
    server.clients.unregister(handle.id);
    result
}

/// The master's connection as the stream loop reads it.
struct Link<'a> {
    stream: &'a mut TcpStream,
    /// Received bytes not yet parsed.
    buf: &'a mut BytesMut,
    /// `take_over`'s requests to apply everything received.
    catch_up: &'a mut mpsc::UnboundedReceiver<oneshot::Sender<()>>,
}

async fn apply_loop(
    server: &Arc<Server>,
    link: Link<'_>,
    client: &mut ClientState,
    generation: u64,
) -> std::io::Result<()> {
    let Link {
        stream,
        buf,
        catch_up,
    } = link;
    let handle = client.handle.clone();
    let mut parser = RequestParser::new();
    let mut out = ReplyWriter::new(Protocol::Resp2);
    let limits = ParseLimits {
        max_bulk_len: u64::MAX,
        unauthenticated: false,
    };
    // Bytes received and not yet processed, kept to forward to our replicas.
    let mut raw = BytesMut::from(&buf[..]);
    let mut ack_timer = tokio::time::interval(Duration::from_secs(1));
    let mut last_io = Instant::now();
    // A command a pause postponed, applied again once it ends or eases: a
    // paused replica keeps reading its master's stream but applies none of
    // it meanwhile, as Redis postpones its master client too.
    let mut postponed: Option<(Vec<Bytes>, PostponedGuard<'_>)> = None;
    // Catch-up requests answered once what was received is applied, and
    // whether the master closed the link meanwhile.
    let mut caught_up: Vec<oneshot::Sender<()>> = Vec::new();
    let mut closed = false;
    loop {
        loop {
            // A link REPLICAOF replaced applies nothing more: the new one
            // continues from the offset this one counted.
            if !current(generation) {
                return Ok(());
            }
            let request = match postponed.take() {
                Some((request, _waiting)) => request,
                None => {
                    let request = parser.next_request(buf, &limits).map_err(|e| {
                        std::io::Error::other(format!("Protocol error from master: {e}"))
                    })?;
                    let Some(request) = request else {
                        break;
                    };
                    request
                }
            };
            let is_getack = request.len() >= 2
                && request[0].eq_ignore_ascii_case(b"replconf")
                && request[1].eq_ignore_ascii_case(b"getack");
            if is_getack {
                send_ack(server, stream).await?;
            } else {
                let executed = crate::connection::execute(server, client, &mut out, &request, None);
                if executed == Executed::Postponed {
                    handle.blocked.store(true, Ordering::Relaxed);
                    postponed = Some((request, server.pause.postponed_client()));
                    break;
                }
                handle.blocked.store(false, Ordering::Relaxed);
                log_error_reply(server, &request, out.as_bytes());
                out.clear();
            }
            let pending = raw.len() - buf.len();
            if client.multi.is_none() {
                let applied = raw.split_to(pending);
                server.replication.log.feed_raw(&applied);
                update(server, generation, |l| {
                    l.reploff += applied.len() as i64;
                    l.db = client.db;
                });
            }
        }
        // The batch's command statistics are published, as a client
        // connection publishes them after its batch.
        client.pending_stats.flush(&server.stats);
        for done in caught_up.drain(..) {
            let _ = done.send(());
        }
        if closed {
            return Ok(());
        }
        tokio::select! {
            _ = handle.killed() => return Ok(()),
            _ = server.pause.changed(), if postponed.is_some() => {}
            _ = ack_timer.tick() => {
                if !current(generation) {
                    return Ok(());
                }
                let timeout = server.config.read().get_i64("repl-timeout").max(1) as u64;
                if last_io.elapsed() > Duration::from_secs(timeout) {
                    return Err(std::io::Error::other("MASTER timeout: no data nor PING received..."));
                }
                send_ack(server, stream).await?;
            }
            Some(done) = catch_up.recv() => {
                let read;
                (read, closed) = read_received(stream, buf)?;
                if read > 0 {
                    last_io = received(server, generation, &mut raw, buf, read);
                }
                caught_up.push(done);
            }
            read = stream.read_buf(buf) => {
                let read = read?;
                if read == 0 {
                    return Ok(());
                }
                last_io = received(server, generation, &mut raw, buf, read);
            }
        }
    }
}

/// Counts the last `read` bytes of `buf` as received from the master
/// (kept in `raw` to forward once applied); returns the time of the read.
fn received(
    server: &Server,
    generation: u64,
    raw: &mut BytesMut,
    buf: &BytesMut,
    read: usize,
) -> Instant {
    raw.extend_from_slice(&buf[buf.len() - read..]);
    let now = Instant::now();
    update(server, generation, |l| {
        l.read_reploff += read as i64;
        l.last_io = Some(now);
    });
    now
}

/// Reads what the master's socket already holds, without waiting, and
/// whether the master closed it. The socket is read directly: tokio's
/// readiness may not have seen those bytes yet (a process resumed after
/// SIGSTOP), and `try_read` trusts it. The master pauses its writes while
/// it fails over, so this ends once the socket is empty.
fn read_received(stream: &TcpStream, buf: &mut BytesMut) -> std::io::Result<(usize, bool)> {
    use std::io::Read;
    let socket = socket2::SockRef::from(stream);
    let mut chunk = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        match (&*socket).read(&mut chunk) {
            Ok(0) => return Ok((total, true)),
            Ok(read) => {
                buf.extend_from_slice(&chunk[..read]);
                total += read;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok((total, false)),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Redis's afterErrorReply for the master client: a command from the master that fails
/// here means the datasets diverge, which is logged. (`propagation-error-behavior`'s panic
/// modes are not acted on: the replica goes on, as with `ignore`.)
fn log_error_reply(server: &Server, request: &[Bytes], reply: &[u8]) {
    let Some(error) = reply.strip_prefix(b"-") else {
        return;
    };
    let line = error.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = &line[..line.len().min(4096)];
    let name = request
        .first()
        .and_then(|name| server.commands.lookup(name))
        .map_or("<unknown>", |(id, _)| server.commands.full_name(id));
    warn!(
        "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{name}'",
        String::from_utf8_lossy(line)
    );
}

async fn send_ack(server: &Server, stream: &mut TcpStream) -> std::io::Result<()> {
    let reploff = server
        .replication
        .master
        .lock()
        .as_ref()
        .map_or(0, |l| l.reploff);
    stream
        .write_all(&command(&["REPLCONF", "ACK", &reploff.to_string()]))
        .await
}
