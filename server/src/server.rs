//! The process-wide state every connection shares, and the server's lifecycle:
//! bind, accept, background jobs (active expiry), shutdown on signal or SHUTDOWN.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{broadcast, Notify};
use tracing::{info, warn};

use ferrite_storage::Keyspace;

use crate::client::{ClientAddr, ClientRegistry};
use crate::commands::CommandTable;
use crate::config::Config;
use crate::latency::LatencyMonitor;
use crate::pause::PauseState;
use crate::slowlog::Slowlog;
use crate::stats::ServerStats;

/// Config values the request path reads on every command, cached as atomics so
/// it never takes the config lock.
#[derive(Debug, Default)]
pub struct HotConfig {
    pub proto_max_bulk_len: AtomicU64,
    pub query_buffer_limit: AtomicU64,
    pub maxclients: AtomicU64,
    pub slowlog_slower_than_us: AtomicI64,
    pub slowlog_max_len: AtomicU64,
    pub latency_threshold_ms: AtomicU64,
    pub latency_tracking: AtomicBool,
    /// `maxmemory` in bytes (0: no limit).
    pub maxmemory: AtomicU64,
    /// `maxmemory-policy` as `eviction::Policy::code`.
    pub maxmemory_policy: AtomicU8,
    pub maxmemory_samples: AtomicU64,
}

impl HotConfig {
    fn refresh(&self, config: &Config) {
        let get = |name| config.get_i64(name);
        self.proto_max_bulk_len
            .store(get("proto-max-bulk-len") as u64, Ordering::Relaxed);
        self.query_buffer_limit
            .store(get("client-query-buffer-limit") as u64, Ordering::Relaxed);
        self.maxclients
            .store(get("maxclients") as u64, Ordering::Relaxed);
        self.slowlog_slower_than_us
            .store(get("slowlog-log-slower-than"), Ordering::Relaxed);
        self.slowlog_max_len
            .store(get("slowlog-max-len") as u64, Ordering::Relaxed);
        self.latency_threshold_ms
            .store(get("latency-monitor-threshold") as u64, Ordering::Relaxed);
        self.latency_tracking
            .store(config.get_bool("latency-tracking"), Ordering::Relaxed);
        self.maxmemory
            .store(get("maxmemory").max(0) as u64, Ordering::Relaxed);
        let policy = crate::eviction::Policy::parse(config.get("maxmemory-policy"));
        self.maxmemory_policy
            .store(policy.code(), Ordering::Relaxed);
        self.maxmemory_samples
            .store(get("maxmemory-samples").max(1) as u64, Ordering::Relaxed);
    }
}

/// Shared state of the running server.
pub struct Server {
    pub config: RwLock<Config>,
    pub hot: HotConfig,
    pub keyspace: Keyspace,
    pub commands: CommandTable,
    /// Users, their permissions and the ACL log.
    pub acl: crate::acl::Acl,
    pub clients: Arc<ClientRegistry>,
    pub stats: ServerStats,
    pub slowlog: Mutex<Slowlog>,
    pub latency: Mutex<LatencyMonitor>,
    pub replication: crate::repl::Replication,
    pub pause: PauseState,
    pub blocking: crate::blocking::BlockingRegistry,
    pub watches: crate::watch::WatchRegistry,
    pub pubsub: Arc<crate::pubsub::PubSub>,
    /// `client-output-buffer-limit normal`: replies waiting for a client's
    /// socket past it close the connection.
    pub normal_output_limits: crate::output::OutputLimits,
    /// `maxmemory-clients`: what normal clients use, evicted past it.
    pub client_memory: crate::client_eviction::ClientMemory,
    /// Keyspace notifications (`notify-keyspace-events`); the keyspace
    /// reports new and expired keys to it too.
    pub notifier: Arc<crate::notify::Notifier>,
    /// Client-side caching: who may cache which keys.
    pub tracking: Arc<crate::tracking::Tracking>,
    /// EVAL scripts, function libraries and the running script.
    pub scripting: crate::scripting::Scripting,
    /// 40 hex characters, new on every start (INFO run_id).
    pub run_id: String,
    pub started: Instant,
    /// The TCP port (`port`; CONFIG SET may change it).
    pub port: AtomicU16,
    pub listeners: crate::listen::Listeners,
    /// MIGRATE's connections to its targets.
    pub migrate_sockets: crate::migrate::SocketCache,
    /// Commands as MONITOR prints them.
    pub monitor_feed: broadcast::Sender<bytes::Bytes>,
    pub monitors: AtomicU64,
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
    /// A shutdown a signal asked for, and the sequence's lock.
    pub shutdown_state: crate::shutdown::ShutdownState,
    pub persistence: crate::persistence::Persistence,
    /// A dataset load in progress (INFO `loading`, `-LOADING` refusals).
    pub loading: crate::loading::LoadingState,
    pub aof: crate::aof::Aof,
    pub debug_pause_cron: AtomicBool,
    /// DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE skips the CRC check.
    pub debug_skip_checksum: AtomicBool,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call `noscript` commands
    /// (Redis's tests use it to run CLIENT LIST or DEBUG PROTOCOL from Lua).
    pub debug_disable_deny_scripts: AtomicBool,
}

impl Server {
    pub fn new(config: Config, port: u16) -> Server {
        let databases = config.get_i64("databases") as usize;
        let commands = CommandTable::new();
        let stats = ServerStats::new(commands.len());
        let acl = crate::acl::Acl::new(&commands);
        let pubsub = Arc::new(crate::pubsub::PubSub::default());
        let notifier = Arc::new(crate::notify::Notifier::new(pubsub.clone()));
        let clients = Arc::new(ClientRegistry::default());
        let tracking = Arc::new(crate::tracking::Tracking::new(
            clients.clone(),
            pubsub.clone(),
        ));
        let keyspace = Keyspace::new(databases);
        keyspace.events.observe(Arc::new(KeyHooks {
            notifier: notifier.clone(),
            tracking: tracking.clone(),
        }));
        let server = Server {
            config: RwLock::new(Config::default()),
            hot: HotConfig::default(),
            keyspace,
            commands,
            acl,
            clients,
            stats,
            slowlog: Mutex::new(Slowlog::default()),
            latency: Mutex::new(LatencyMonitor::default()),
            replication: Default::default(),
            pause: PauseState::default(),
            blocking: Default::default(),
            watches: Default::default(),
            pubsub,
            normal_output_limits: Default::default(),
            client_memory: Default::default(),
            notifier,
            tracking,
            scripting: crate::scripting::Scripting::new()
                .expect("the built-in Lua sandbox always loads"),
            run_id: random_hex(40),
            started: Instant::now(),
            port: AtomicU16::new(port),
            listeners: crate::listen::Listeners::default(),
            migrate_sockets: Default::default(),
            monitor_feed: broadcast::channel(4096).0,
            monitors: AtomicU64::new(0),
            shutdown: Notify::new(),
            shutting_down: AtomicBool::new(false),
            shutdown_state: Default::default(),
            persistence: Default::default(),
            loading: Default::default(),
            aof: Default::default(),
            debug_pause_cron: AtomicBool::new(false),
            debug_skip_checksum: AtomicBool::new(false),
            debug_disable_deny_scripts: AtomicBool::new(false),
        };
        server.apply_config(config);
        server
    }

    /// Makes a new configuration take effect (at startup and after CONFIG SET).
    pub fn apply_config(&self, config: Config) {
        self.hot.refresh(&config);
        self.acl.configure(&config);
        // `requirepass` is the default user's password (as Redis's
        // `updateRequirePass`), set only when it changes.
        let requirepass = config.get("requirepass");
        if requirepass != self.config.read().get("requirepass") {
            self.acl.set_default_password(&self.commands, requirepass);
        }
        self.replication.configure(&config);
        let output_limits = config.get("client-output-buffer-limit");
        self.pubsub.configure_limits(output_limits);
        self.normal_output_limits.configure(output_limits, "normal");
        self.client_memory.configure(
            config.get("maxmemory-clients"),
            self.hot.maxmemory.load(Ordering::Relaxed),
        );
        let events = crate::notify::parse_flags(config.get("notify-keyspace-events")).unwrap_or(0);
        self.notifier.set_flags(events);
        self.tracking
            .set_max_keys(config.get_i64("tracking-table-max-keys").max(0) as u64);
        self.refresh_key_reports();
        self.slowlog
            .lock()
            .trim(config.get_i64("slowlog-max-len") as usize);
        let lfu = config.get("maxmemory-policy").contains("lfu");
        let params = ferrite_storage::LfuParams {
            log_factor: config.get_i64("lfu-log-factor") as u32,
            decay_minutes: config.get_i64("lfu-decay-time") as u32,
        };
        self.keyspace.stats().configure_lfu(lfu, params);
        self.keyspace
            .encoding_limits
            .set(ferrite_storage::EncodingLimits {
                list_max_listpack_size: config.get_i64("list-max-listpack-size"),
                hash_max_listpack_entries: config.get_i64("hash-max-listpack-entries"),
                hash_max_listpack_value: config.get_i64("hash-max-listpack-value"),
                set_max_intset_entries: config.get_i64("set-max-intset-entries"),
                zset_max_listpack_entries: config.get_i64("zset-max-listpack-entries"),
                zset_max_listpack_value: config.get_i64("zset-max-listpack-value"),
                hll_sparse_max_bytes: config.get_i64("hll-sparse-max-bytes"),
                stream_node_max_entries: config.get_i64("stream-node-max-entries"),
                stream_node_max_bytes: config.get_i64("stream-node-max-bytes"),
            });
        self.keyspace.debug_delays.set(
            config.get_i64("rdb-key-save-delay") as i32,
            config.get_i64("key-load-delay") as i32,
        );
        *self.config.write() = config;
        crate::repl::consistency::keep_log_active(self);
    }

    /// Chooses which key events the keyspace reports: new keys for
    /// notifications, expired keys for notifications or client tracking.
    /// Called when either changes.
    pub fn refresh_key_reports(&self) {
        let (created, expired) = crate::notify::keyspace_reports(self.notifier.flags());
        self.keyspace
            .events
            .report(created, expired || self.tracking.is_active());
    }

    /// Asks the accept loop to stop; the process exits once it has.
    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown.notify_one();
    }
}

/// What the keyspace reports new and expired keys to: keyspace
/// notifications, and client tracking (an expired key is invalidated).
struct KeyHooks {
    notifier: Arc<crate::notify::Notifier>,
    tracking: Arc<crate::tracking::Tracking>,
}

impl ferrite_storage::KeyObserver for KeyHooks {
    fn created(&self, db: usize, key: &[u8]) {
        self.notifier.created(db, key);
    }

    fn expired(&self, db: usize, key: &[u8]) {
        self.notifier.expired(db, key);
        if self.tracking.is_active() {
            self.tracking.invalidate(None, &[key]);
        }
    }
}

pub fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// `unixsocket`: listens on `path` (a stale socket file there is removed first, as Redis
/// does), with `unixsocketperm` (octal, 0 = leave as created) as the file's mode.
pub fn bind_unix(path: &str, perm: &str) -> std::io::Result<UnixListener> {
    let fail = |e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("Failed opening Unix socket: {e}"))
    };
    let mode = u32::from_str_radix(perm, 8).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("Invalid unixsocketperm '{perm}'"),
        )
    })?;
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(fail)?;
    if mode != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fail)?;
    }
    Ok(listener)
}

/// Accepts connections on every listener until shutdown.
pub async fn serve(server: Arc<Server>, listeners: Vec<TcpListener>, unix: Option<UnixListener>) {
    spawn_background_jobs(server.clone());
    server.listeners.start(&server, listeners);
    info!("Ready to accept connections");
    if let Some(listener) = unix {
        let path: Arc<str> = server.config.read().get("unixsocket").into();
        info!("The server is now ready to accept connections at {path}");
        let server = server.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let addr = ClientAddr::Unix(path.clone());
                        let server = server.clone();
                        tokio::spawn(crate::connection::handle(
                            server,
                            stream,
                            addr.clone(),
                            addr,
                        ));
                    }
                    Err(e) => crate::listen::accept_failed(e).await,
                }
            }
        });
    }
    spawn_signal_listener(server.clone());
    server.shutdown.notified().await;
    let unixsocket = server.config.read().get("unixsocket").to_string();
    if !unixsocket.is_empty() {
        info!("Removing the unix socket file.");
        let _ = std::fs::remove_file(unixsocket);
    }
    info!("Ferrite is now ready to exit, bye bye...");
}

/// Hands SIGTERM and SIGINT to `shutdown::on_signal`, for as long as the
/// process runs (a second SIGINT during a shutdown exits at once).
fn spawn_signal_listener(server: Arc<Server>) {
    use crate::shutdown::Signal;
    use tokio::signal::unix::{signal, SignalKind};
    let (term, int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            warn!("Can't listen for shutdown signals: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        let (mut term, mut int) = (term, int);
        loop {
            let signal = tokio::select! {
                _ = term.recv() => Signal::Term,
                _ = int.recv() => Signal::Int,
            };
            crate::shutdown::on_signal(&server, signal);
        }
    });
}

/// Periodic work Redis does in `serverCron`: a shutdown a signal asked for,
/// the active expire cycle (then the tracking table's limit and BCAST
/// invalidations of expired keys), and background saves (BGSAVE and `save`
/// points).
fn spawn_background_jobs(server: Arc<Server>) {
    crate::persistence::spawn_saver(server.clone());
    crate::aof::spawn_threads(server.clone());
    crate::repl::start(server.clone());
    std::thread::Builder::new()
        .name("active-expire".into())
        .spawn(move || loop {
            let hz = server.config.read().get_i64("hz").clamp(1, 500) as u64;
            let period = Duration::from_millis(1000 / hz);
            std::thread::sleep(period);
            if server.shutting_down.load(Ordering::Relaxed) {
                return;
            }
            if !server.debug_pause_cron.load(Ordering::Relaxed) {
                crate::shutdown::cron(&server);
                // Redis's slow cycle: at most 25% of each period; none while
                // clients are paused (the dataset stays as it is).
                if !server.pause.is_paused() {
                    let started = std::time::Instant::now();
                    crate::repl::propagate::active_expire_cycle(&server, period / 4);
                    crate::latency::add_sample_if_needed(
                        &server,
                        "expire-cycle",
                        started.elapsed(),
                    );
                }
                if server.tracking.is_active() {
                    server.tracking.enforce_limit();
                    server.tracking.broadcast();
                }
            }
        })
        .expect("spawning the active expire thread");
}
