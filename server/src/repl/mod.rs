//! Replication in the server: feeding the log from the command path
//! (`propagate`, `rewrite`), the master side of replica links (`master`),
//! the replica side (`replica`), the write/read gates replication adds to
//! command dispatch (`gate`), which expiry policy a command's lookups follow (`expiry`),
//! FAILOVER (`failover`), waiting for acknowledgements (`wait`: WAIT
//! and the consistency modes of `consistency`), and INFO/ROLE output (`info`). The log itself
//! (ids, backlog, cursors, ACKs) is the `ferrite_replication` crate.

pub mod consistency;
mod diskless;
pub mod expiry;
pub mod failover;
pub mod gate;
mod group_effects;
pub mod info;
pub mod master;
pub mod order;
pub mod propagate;
pub mod replica;
mod replica_input;
mod reply;
pub mod rewrite;
pub mod wait;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use ferrite_replication::ReplicationLog;
use parking_lot::Mutex;

/// Replication state of the server.
#[derive(Default)]
pub struct Replication {
    pub log: ReplicationLog,
    /// Set while this server replicates a master (REPLICAOF host port).
    replica: AtomicBool,
    /// The master this server replicates, and its link's state.
    pub master: Mutex<Option<replica::MasterLink>>,
    /// The generation of the link task REPLICAOF asked for last.
    start_link: AtomicU64,
    link_requested: tokio::sync::Notify,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Settings the command gate reads (`gate`).
    pub gate: gate::GateConfig,
    /// Scripts waiting for or holding the write order (`order::LongHold`).
    long_holds: AtomicUsize,
    /// `replica-ack-mode` and `replica-ack-timeout` (`consistency`).
    pub acks: consistency::AckPolicy,
    /// Replicas waiting for a shared diskless snapshot (`diskless`).
    diskless: diskless::DisklessGroup,
    /// The FAILOVER under way (`failover`), and the wake-up of its task.
    pub failover: Mutex<failover::Failover>,
    failover_requested: tokio::sync::Notify,
}

impl Replication {
    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Acquire)
    }

    pub(crate) fn set_replica(&self, replica: bool) {
        self.replica.store(replica, Ordering::Release);
        crate::log::set_replica_role(replica);
    }

    /// CONFIG RESETSTAT: the sync counters of INFO stats, as Redis's
    /// `resetServerStats`.
    pub fn reset_stats(&self) {
        for counter in [
            &self.sync_full,
            &self.sync_partial_ok,
            &self.sync_partial_err,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Whether the link to this replica's master is up.
    pub fn link_up(&self) -> bool {
        self.master
            .lock()
            .as_ref()
            .is_some_and(|l| l.state == replica::LinkState::Connected)
    }

    /// Makes the replication settings of `config` take effect.
    pub fn configure(&self, config: &crate::config::Config) {
        self.gate.refresh(config);
        self.acks.refresh(config);
        let backlog_size = config.get_i64("repl-backlog-size").max(16 * 1024) as usize;
        self.log.configure(
            backlog_size,
            replica_output_limit(config.get("client-output-buffer-limit")),
        );
    }
}

/// The `slave` class of `client-output-buffer-limit`.
fn replica_output_limit(directive: &str) -> ferrite_replication::OutputLimit {
    let words: Vec<&str> = directive.split_whitespace().collect();
    let mut limit = ferrite_replication::OutputLimit::default();
    for group in words.chunks(4) {
        if let [class, hard, soft, seconds] = group {
            if *class == "slave" || *class == "replica" {
                limit.hard = hard.parse().unwrap_or(0);
                limit.soft = soft.parse().unwrap_or(0);
                limit.soft_seconds = seconds.parse().unwrap_or(0);
            }
        }
    }
    limit
}

/// Starts replication's background work: the master cron (PINGs, backlog
/// TTL), the replica link supervisor, and `replicaof` from the config file
/// (a no-op if loading the RDB file already resumed that link).
pub fn start(server: std::sync::Arc<crate::server::Server>) {
    master::spawn_cron(server.clone());
    failover::spawn_cron(server.clone());
    replica::spawn_supervisor(server.clone());
    if let Some((host, port)) = configured_master(&server) {
        replica::replicate(&server, &host, port);
    }
}

/// The master `replicaof` names, if any.
pub(crate) fn configured_master(server: &crate::server::Server) -> Option<(String, u16)> {
    let configured = server.config.read().get("replicaof").to_string();
    let (host, port) = configured.split_once(' ')?;
    Some((host.to_string(), port.parse().ok()?))
}

/// The replication stream an RDB file continues: Redis's `rdbSaveInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbStreamInfo {
    /// The database the stream had selected (`repl-stream-db`).
    pub db: usize,
    pub replid: String,
    /// The offset of the last byte of the stream the file includes.
    pub offset: u64,
}

impl RdbStreamInfo {
    /// The `repl-*` AUX fields of a loaded file, when all three are present and valid.
    pub fn from_aux(aux: &[(String, String)]) -> Option<RdbStreamInfo> {
        let field = |name: &str| aux.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let replid = field("repl-id").filter(|id| id.len() == 40)?;
        Some(RdbStreamInfo {
            db: field("repl-stream-db")?.parse().ok()?,
            replid: replid.to_string(),
            offset: field("repl-offset")?.parse().ok()?,
        })
    }
}

/// Redis's rdbPopulateSaveInfo: the stream a file saved now continues, for a master with a
/// backlog (its replicas may continue from it) or a replica (it may continue from its master).
pub fn rdb_stream_info(server: &crate::server::Server) -> Option<RdbStreamInfo> {
    let repl = &server.replication;
    let db = if repl.is_replica() {
        repl.master.lock().as_ref()?.db
    } else if repl.log.is_active() {
        repl.log.selected_db().unwrap_or(0)
    } else {
        return None;
    };
    let status = repl.log.status();
    Some(RdbStreamInfo {
        db,
        replid: status.ids.replid,
        offset: status.master_repl_offset,
    })
}

/// Redis's loadDataFromDisk: the stream a loaded file continues. A replica
/// (`replicaof` set) adopts it as its history and its cached master, so the
/// first PSYNC asks to continue from it; a master keeps it as replid2 with
/// an empty backlog from its offset (`ReplicationLog::resume_as_master`),
/// into which the keys the load dropped as expired are fed as DEL (UNLINK
/// with `lazyfree-lazy-expire`), so its former replicas continue partially.
pub fn resume_from_rdb(
    server: &crate::server::Server,
    stream: RdbStreamInfo,
    expired: &[(usize, Vec<u8>)],
) {
    let Some((host, port)) = configured_master(server) else {
        let _order = order::write_order_exclusive(server);
        let log = &server.replication.log;
        log.resume_as_master(&stream.replid, stream.offset);
        server.keyspace.stats().expired_log.set_enabled(true);
        let del = propagate::expiry_deletion(server);
        for (db, key) in expired {
            log.feed(Some(*db), &[del, key.as_slice()]);
        }
        return;
    };
    server
        .replication
        .log
        .adopt_master(&stream.replid, stream.offset);
    replica::replicate(server, &host, port);
    if let Some(link) = server.replication.master.lock().as_mut() {
        link.db = stream.db;
    }
}

/// Replication state of one client connection.
#[derive(Debug, Default)]
pub struct ClientRepl {
    /// Effects of the running command (or of EXEC's commands) not yet fed.
    pub effects: Vec<(usize, Vec<Bytes>)>,
    /// Expiries found after those effects (fed after them, each on its own).
    pub trailing: Vec<(usize, Vec<Bytes>)>,
    /// A script's redis.set_repl left out replicas: its commands' own
    /// effects are not recorded (the expiries they find still are).
    pub drop_own_effects: bool,
    /// The log offset after this client's last fed write (WAIT waits for it).
    pub woff: u64,
    /// This connection is the link to this server's master.
    pub is_master: bool,
    /// The client replaying the AOF: what it runs is fed nowhere.
    pub replaying_aof: bool,
    /// REPLCONF listening-port (0 until announced).
    pub listening_port: u16,
    /// REPLCONF capa psync2: +CONTINUE carries the replid.
    pub capa_psync2: bool,
    /// REPLCONF capa eof: it reads `$EOF:<mark>` (diskless) snapshots.
    pub capa_eof: bool,
    /// REPLCONF rdb-only 1: it wants the snapshot and no stream after it
    /// (redis-cli --rdb); the link closes once the snapshot is sent.
    pub rdb_only: bool,
    /// REPLCONF rdb-filter-only: what the snapshot leaves out (Redis's
    /// `SLAVE_REQ_RDB_EXCLUDE_DATA` / `_FUNCTIONS`).
    pub exclude_data: bool,
    pub exclude_functions: bool,
    /// What the connection does once the current reply is written.
    pub deferred: Option<Deferred>,
}

/// Work a command leaves to the connection task, which owns the socket.
#[derive(Debug)]
pub enum Deferred {
    /// SYNC or PSYNC: the connection becomes a replica link.
    Sync(master::SyncRequest),
    /// WAIT numreplicas timeout: reply once enough replicas acknowledged.
    Wait {
        replicas: usize,
        offset: u64,
        timeout_ms: u64,
    },
}
