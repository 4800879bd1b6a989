//! Client connections: the state a connection task owns ([`ClientState`]), the
//! part other clients may read or act on ([`ClientHandle`]: CLIENT LIST, KILL,
//! PAUSE), and the registry of all connected clients.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// What CLIENT REPLY asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Set by SKIP: the command being executed now has its reply dropped.
    SkipThis,
}

/// Where a client is connected from (or to): a TCP address, or the unix socket's path,
/// which Redis reports as `<path>:0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAddr {
    Tcp(SocketAddr),
    Unix(Arc<str>),
}

impl ClientAddr {
    /// The host part: the IP address, or the socket path.
    pub fn ip(&self) -> String {
        match self {
            ClientAddr::Tcp(addr) => addr.ip().to_string(),
            ClientAddr::Unix(path) => path.to_string(),
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAddr::Tcp(addr) => addr.fmt(f),
            ClientAddr::Unix(path) => write!(f, "{path}:0"),
        }
    }
}

/// Shared view of one client.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub peer: ClientAddr,
    pub local: ClientAddr,
    pub created: Instant,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_version: Mutex<String>,
    /// The ACL user the client is authenticated as (CLIENT LIST `user=`;
    /// ACL DELUSER disconnects its clients by it).
    pub user: Mutex<Bytes>,
    /// Full name of the last command run (CLIENT LIST `cmd=`).
    pub last_command: Mutex<&'static str>,
    pub db: AtomicUsize,
    pub resp: AtomicUsize,
    /// When the last command ran, in Unix milliseconds (idle time).
    pub last_interaction_ms: AtomicU64,
    pub query_buffer_len: AtomicUsize,
    /// Reply bytes waiting for the socket (CLIENT LIST `omem`).
    pub output_len: AtomicUsize,
    /// The query buffer and waiting replies, as last counted towards
    /// `maxmemory-clients` (CLIENT LIST `tot-mem`).
    pub memory: AtomicUsize,
    /// CLIENT NO-EVICT: never evicted for `maxmemory-clients`.
    pub no_evict: AtomicBool,
    /// When the waiting replies went over the soft output limit (ms), 0
    /// while under it.
    pub output_soft_limit_since_ms: AtomicU64,
    pub monitor: AtomicBool,
    /// Waiting in a blocking command (CLIENT LIST flag `b`).
    pub blocked: AtomicBool,
    /// Commands queued since MULTI, -1 outside a transaction (`multi=`).
    pub multi_queued: AtomicI64,
    /// A key this client watches was changed: its EXEC will fail.
    watch_dirty: AtomicBool,
    pub subscriptions: crate::pubsub::SubscriptionCounts,
    /// The queue Pub/Sub messages and tracking invalidations arrive in.
    pub outbox: crate::pubsub::Outbox,
    /// CLIENT TRACKING's mode, read by other clients' writes.
    pub tracking: crate::tracking::TrackingFlags,
    killed: AtomicBool,
    kill_notify: Notify,
    /// A [`ClientKind`]: replica and master links are told apart from others.
    kind: AtomicU8,
}

/// What a connection is to replication (CLIENT LIST/KILL TYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ClientKind {
    Normal = 0,
    /// A replica of this server (its SYNC/PSYNC link).
    Replica = 1,
    /// This server's master.
    Master = 2,
}

impl ClientHandle {
    pub fn new(id: u64, peer: ClientAddr, local: ClientAddr) -> ClientHandle {
        ClientHandle {
            id,
            peer,
            local,
            created: Instant::now(),
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_version: Mutex::new(String::new()),
            user: Mutex::new(Bytes::from_static(b"default")),
            last_command: Mutex::new("NULL"),
            db: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            last_interaction_ms: AtomicU64::new(ferrite_storage::now_ms()),
            query_buffer_len: AtomicUsize::new(0),
            output_len: AtomicUsize::new(0),
            memory: AtomicUsize::new(0),
            no_evict: AtomicBool::new(false),
            output_soft_limit_since_ms: AtomicU64::new(0),
            monitor: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            multi_queued: AtomicI64::new(-1),
            watch_dirty: AtomicBool::new(false),
            subscriptions: Default::default(),
            outbox: Default::default(),
            tracking: Default::default(),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            kind: AtomicU8::new(ClientKind::Normal as u8),
        }
    }

    /// Asks the connection task to close the connection.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves once [`ClientHandle::kill`] was called.
    pub async fn killed(&self) {
        while !self.is_killed() {
            self.kill_notify.notified().await;
        }
    }

    pub fn set_watch_dirty(&self, dirty: bool) {
        self.watch_dirty.store(dirty, Ordering::SeqCst);
    }

    pub fn watch_dirty(&self) -> bool {
        self.watch_dirty.load(Ordering::SeqCst)
    }

    pub fn touch(&self) {
        self.touch_at(ferrite_storage::now_ms());
    }

    /// Records an interaction at `unix_ms`, a time the caller just read.
    pub fn touch_at(&self, unix_ms: u64) {
        self.last_interaction_ms.store(unix_ms, Ordering::Relaxed);
    }

    pub fn idle_seconds(&self) -> u64 {
        let now = ferrite_storage::now_ms();
        now.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed)) / 1000
    }

    pub fn set_kind(&self, kind: ClientKind) {
        self.kind.store(kind as u8, Ordering::Relaxed);
    }

    pub fn kind(&self) -> ClientKind {
        match self.kind.load(Ordering::Relaxed) {
            1 => ClientKind::Replica,
            2 => ClientKind::Master,
            _ => ClientKind::Normal,
        }
    }

    /// The client type CLIENT LIST/KILL TYPE filter on (`normal`, `slave`,
    /// `master` or `pubsub`, Redis's `getClientTypeName`).
    pub fn client_type(&self) -> &'static str {
        match self.kind.load(Ordering::Relaxed) {
            1 => return "slave",
            2 => return "master",
            _ => {}
        }
        if self.subscriptions.is_subscribed() {
            "pubsub"
        } else {
            "normal"
        }
    }

    /// Redis's CLIENT LIST / CLIENT INFO line.
    pub fn info_line(&self) -> String {
        let multi = self.multi_queued.load(Ordering::Relaxed);
        use crate::pubsub::Kind;
        let mut flags = String::new();
        if self.monitor.load(Ordering::Relaxed) {
            flags.push('O');
        }
        if multi >= 0 {
            flags.push('x');
        }
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        self.tracking.push_list_flags(&mut flags);
        if self.watch_dirty() {
            flags.push('d');
        }
        if self.subscriptions.is_subscribed() {
            flags.push('P');
        }
        match self.kind.load(Ordering::Relaxed) {
            1 => flags.push('S'),
            2 => flags.push('M'),
            _ => {}
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let qbuf = self.query_buffer_len.load(Ordering::Relaxed);
        let omem = self.output_len.load(Ordering::Relaxed);
        let tot_mem = self.memory.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={flags} db={} sub={} psub={} ssub={} multi={multi} qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={omem} tot-mem={tot_mem} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.peer,
            self.local,
            self.name.lock(),
            self.created.elapsed().as_secs(),
            self.idle_seconds(),
            self.db.load(Ordering::Relaxed),
            self.subscriptions.get(Kind::Channel),
            self.subscriptions.get(Kind::Pattern),
            self.subscriptions.get(Kind::Shard),
            self.last_command.lock(),
            String::from_utf8_lossy(&self.user.lock()),
            self.tracking.shown_redirect(),
            self.resp.load(Ordering::Relaxed),
            self.lib_name.lock(),
            self.lib_version.lock(),
        )
    }
}

/// State owned by the connection task.
#[derive(Debug)]
pub struct ClientState {
    pub handle: Arc<ClientHandle>,
    pub db: usize,
    pub authenticated: bool,
    /// The ACL user commands are checked against (none for internal
    /// clients, which may run anything).
    pub acl: crate::acl::ClientAcl,
    pub reply_mode: ReplyMode,
    /// CLIENT NO-TOUCH: reads do not update keys' access time.
    pub no_touch: bool,
    /// The client of a script run: its redis.calls run as it (Redis's
    /// CLIENT_SCRIPT), so commands can answer deterministically.
    pub in_script: bool,
    /// Keys the running write names but left unchanged although it changed
    /// others (SMOVE's destination that had the member): WATCH and client
    /// tracking leave them alone. Cleared after each command.
    pub unchanged_keys: Vec<Bytes>,
    /// Set by a command whose reply does not tell whether it changed its
    /// key's value: PFCOUNT that cached the cardinality it computed, PFDEBUG
    /// that made an HLL dense, SETBIT/BITFIELD/BITOP that changed their key
    /// (without it they are not propagated). Such a command is then
    /// propagated and counts as a write of its keys (Redis's `server.dirty++`
    /// and `signalModifiedKey`). Cleared after each command.
    pub reported_change: bool,
    /// Set by a command that counts its own changes for the save points, as
    /// Redis's `server.dirty += n` (SETBIT, BITFIELD and BITOP: 0 when they
    /// changed nothing, BITFIELD one per field changed); other writes count
    /// one. Taken by `persistence::count_change` after each command.
    pub dirty: Option<u64>,
    /// Close the connection once the current replies are written (QUIT).
    pub close_after_reply: bool,
    pub pending_stats: crate::stats::PendingCommandStats,
    /// Set by a blocking command that found nothing to serve.
    pub blocked: Option<crate::blocking::Blocked>,
    /// Between MULTI and EXEC/DISCARD: the queued commands.
    pub multi: Option<crate::transaction::MultiState>,
    /// Keys this client WATCHes.
    pub watched: Vec<crate::watch::WatchedKey>,
    /// Pub/Sub subscriptions and the queue pushes arrive in.
    pub pubsub: crate::pubsub::ClientSubscriptions,
    /// CLIENT TRACKING state only this connection needs.
    pub tracking: crate::tracking::ClientTracking,
    /// Pending replication effects, REPLCONF announcements, WAIT's offset.
    pub repl: crate::repl::ClientRepl,
}

impl ClientState {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> ClientState {
        ClientState {
            pubsub: crate::pubsub::ClientSubscriptions::new(&handle),
            tracking: Default::default(),
            handle,
            db: 0,
            authenticated,
            acl: Default::default(),
            reply_mode: ReplyMode::On,
            no_touch: false,
            in_script: false,
            unchanged_keys: Vec::new(),
            reported_change: false,
            dirty: None,
            close_after_reply: false,
            pending_stats: Default::default(),
            blocked: None,
            multi: None,
            watched: Vec::new(),
            repl: Default::default(),
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.handle.db.store(db, Ordering::Relaxed);
    }
}

/// The client type a CLIENT LIST/KILL TYPE argument names (`replica` is
/// Redis's other name for `slave`).
pub fn type_name(name: &str) -> &str {
    if name == "replica" {
        "slave"
    } else {
        name
    }
}

/// All connected clients, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    pub fn register(&self, peer: ClientAddr, local: ClientAddr) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle::new(id, peer, local));
        self.clients.lock().insert(id, handle.clone());
        handle
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// The clients not killed yet. A killed client's connection task
    /// unregisters it once it notices; Redis frees a killed client at once,
    /// so CLIENT LIST, CLIENT KILL and INFO already leave it out.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        let clients = self.clients.lock();
        clients
            .values()
            .filter(|c| !c.is_killed())
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        let clients = self.clients.lock();
        clients.values().filter(|c| !c.is_killed()).count()
    }
}
