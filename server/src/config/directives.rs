//! Every configuration directive Ferrite knows: its name, aliases, kind,
//! default and whether CONFIG SET may change it. Names and defaults are Redis
//! 7.0's. Directives marked `Accepted` are read and reported (so Redis's config
//! files and test harness work) but have no effect yet; README says which.

/// How a directive's value is checked and normalised.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes, written with optional k/kb/m/mb/g/gb suffixes; reported as bytes.
    Memory {
        min: i64,
        max: i64,
    },
    /// `maxmemory-clients`: bytes as [`Kind::Memory`], or a percentage of
    /// `maxmemory` written `N%` (at most 100), reported as written.
    MemoryOrPercent,
    Enum(&'static [&'static str]),
    /// Free text (paths, passwords, flag strings).
    Text,
    /// A file or directory name inside `dir`, not empty and not a path
    /// (`appendfilename`, `appenddirname`); `noun` names it in the errors.
    BaseName {
        noun: &'static str,
    },
    /// `save`: pairs of seconds and changes, or empty.
    SavePoints,
    /// `bind`: one or more addresses.
    AddressList,
    /// `replicaof`: host and port, reported as `host port` (empty: not a replica).
    HostPort,
    /// `client-output-buffer-limit`: class hard soft seconds, repeated.
    OutputBufferLimits,
    /// `notify-keyspace-events`: class letters, reported in Redis's order.
    KeyspaceEvents,
    /// `latency-tracking-info-percentiles`: numbers in [0, 100], or empty.
    Percentiles,
    /// `shutdown-on-sigterm`/`-sigint`: `default`, or some of `save nosave now force`.
    ShutdownFlags,
}

/// Whether the server acts on the directive yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Implemented,
    /// Parsed, validated and reported by CONFIG GET, not yet acted upon.
    Accepted,
}

#[derive(Debug, Clone, Copy)]
pub struct Directive {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    /// CONFIG SET may change it at run time.
    pub mutable: bool,
    pub support: Support,
    /// Redis's `HIDDEN_CONFIG` (debugging knobs): CONFIG GET lists it only
    /// when asked for by its exact name, never for a pattern.
    pub hidden: bool,
}

const fn d(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Directive {
    Directive {
        name,
        aliases: &[],
        kind,
        default,
        mutable,
        support: Support::Implemented,
        hidden: false,
    }
}

const fn accepted(name: &'static str, kind: Kind, default: &'static str) -> Directive {
    Directive {
        name,
        aliases: &[],
        kind,
        default,
        mutable: true,
        support: Support::Accepted,
        hidden: false,
    }
}

const fn alias(mut directive: Directive, aliases: &'static [&'static str]) -> Directive {
    directive.aliases = aliases;
    directive
}

const fn hidden(mut directive: Directive) -> Directive {
    directive.hidden = true;
    directive
}

const MAX: i64 = i64::MAX;
const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
const fn mem(min: i64, max: i64) -> Kind {
    Kind::Memory { min, max }
}
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const YES_NO_BOOL: Kind = Kind::Bool;

pub const DIRECTIVES: &[Directive] = &[
    d("port", int(0, 65535), "6379", true),
    d("bind", Kind::AddressList, "127.0.0.1 -::1", true),
    d("databases", int(1, i32::MAX as i64), "16", false),
    d("maxclients", int(1, i32::MAX as i64), "10000", true),
    d("timeout", int(0, i32::MAX as i64), "0", true),
    d("tcp-keepalive", int(0, i32::MAX as i64), "300", true),
    d("requirepass", Kind::Text, "", true),
    d("aclfile", Kind::Text, "", false),
    d("acllog-max-len", int(0, MAX), "128", true),
    d(
        "acl-pubsub-default",
        Kind::Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
        true,
    ),
    d("loglevel", Kind::Enum(LOGLEVELS), "notice", true),
    d("logfile", Kind::Text, "", false),
    d("always-show-logo", YES_NO_BOOL, "no", false),
    d("daemonize", Kind::Enum(&["no"]), "no", false),
    d("pidfile", Kind::Text, "", false),
    d("unixsocket", Kind::Text, "", false),
    // Octal, as Redis reads it (checked when the socket is created).
    d("unixsocketperm", Kind::Text, "0", false),
    d("dir", Kind::Text, "", true),
    d("dbfilename", Kind::Text, "dump.rdb", true),
    d("hz", int(1, 500), "10", true),
    // Redis raises hz with the number of clients; Ferrite's cron runs at `hz`.
    accepted("dynamic-hz", YES_NO_BOOL, "yes"),
    // Ferrite's meaning: the number of threads executing connections (tokio
    // workers); 0 means one per CPU core.
    d("io-threads", int(0, 128), "0", false),
    d(
        "proto-max-bulk-len",
        mem(1024 * 1024, i64::MAX),
        "536870912",
        true,
    ),
    d(
        "client-query-buffer-limit",
        mem(1024 * 1024, i64::MAX),
        "1073741824",
        true,
    ),
    d(
        "enable-debug-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        false,
    ),
    d(
        "enable-protected-configs",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        false,
    ),
    d(
        "enable-module-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
        false,
    ),
    d("slowlog-log-slower-than", int(-1, i64::MAX), "10000", true),
    d("slowlog-max-len", int(0, i64::MAX), "128", true),
    d("latency-monitor-threshold", int(0, i64::MAX), "0", true),
    d("latency-tracking", YES_NO_BOOL, "yes", true),
    d(
        "latency-tracking-info-percentiles",
        Kind::Percentiles,
        "50 99 99.9",
        true,
    ),
    d("tracking-table-max-keys", int(0, MAX), "1000000", true),
    d("lazyfree-lazy-user-flush", YES_NO_BOOL, "no", true),
    d("lazyfree-lazy-user-del", YES_NO_BOOL, "no", true),
    d("lazyfree-lazy-expire", YES_NO_BOOL, "no", true),
    d("lazyfree-lazy-eviction", YES_NO_BOOL, "no", true),
    d("lazyfree-lazy-server-del", YES_NO_BOOL, "no", true),
    d("lfu-log-factor", int(0, i32::MAX as i64), "10", true),
    d("lfu-decay-time", int(0, i32::MAX as i64), "1", true),
    alias(
        d("replica-lazy-flush", YES_NO_BOOL, "no", true),
        &["slave-lazy-flush"],
    ),
    // Persistence and replication: values are validated and reported; the
    // replication issue makes them act.
    accepted("save", Kind::SavePoints, "3600 1 300 100 60 10000"),
    accepted("rdbcompression", YES_NO_BOOL, "yes"),
    accepted("rdbchecksum", YES_NO_BOOL, "yes"),
    accepted("stop-writes-on-bgsave-error", YES_NO_BOOL, "yes"),
    accepted(
        "sanitize-dump-payload",
        Kind::Enum(&["no", "yes", "clients"]),
        "no",
    ),
    d("appendonly", YES_NO_BOOL, "no", true),
    d(
        "appendfilename",
        Kind::BaseName { noun: "filename" },
        "appendonly.aof",
        false,
    ),
    d(
        "appenddirname",
        Kind::BaseName { noun: "dirname" },
        "appendonlydir",
        false,
    ),
    d(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "everysec",
        true,
    ),
    d("no-appendfsync-on-rewrite", YES_NO_BOOL, "no", true),
    d("aof-use-rdb-preamble", YES_NO_BOOL, "yes", true),
    d("aof-load-truncated", YES_NO_BOOL, "yes", true),
    d("aof-disable-auto-gc", YES_NO_BOOL, "no", true),
    d(
        "auto-aof-rewrite-percentage",
        int(0, i32::MAX as i64),
        "100",
        true,
    ),
    d(
        "auto-aof-rewrite-min-size",
        mem(0, i64::MAX),
        "67108864",
        true,
    ),
    // The base is written in one go and synced at the end.
    accepted("aof-rewrite-incremental-fsync", YES_NO_BOOL, "yes"),
    d("aof-timestamp-enabled", YES_NO_BOOL, "no", true),
    accepted("activerehashing", YES_NO_BOOL, "yes"),
    d("notify-keyspace-events", Kind::KeyspaceEvents, "", true),
    accepted(
        "propagation-error-behavior",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore",
    ),
    d("repl-diskless-sync", YES_NO_BOOL, "yes", true),
    d(
        "repl-diskless-sync-delay",
        int(0, i32::MAX as i64),
        "5",
        true,
    ),
    d(
        "repl-diskless-sync-max-replicas",
        int(0, i32::MAX as i64),
        "0",
        true,
    ),
    accepted(
        "repl-diskless-load",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
    ),
    d("repl-backlog-size", mem(1, i64::MAX), "1048576", true),
    d("repl-backlog-ttl", int(0, i32::MAX as i64), "3600", true),
    d("repl-timeout", int(1, i32::MAX as i64), "60", true),
    d(
        "repl-ping-replica-period",
        int(1, i32::MAX as i64),
        "10",
        true,
    ),
    alias(
        d("replica-serve-stale-data", YES_NO_BOOL, "yes", true),
        &["slave-serve-stale-data"],
    ),
    alias(
        d("replica-read-only", YES_NO_BOOL, "yes", true),
        &["slave-read-only"],
    ),
    alias(
        accepted("replica-priority", int(0, i32::MAX as i64), "100"),
        &["slave-priority"],
    ),
    alias(
        d("min-replicas-to-write", int(0, i32::MAX as i64), "0", true),
        &["min-slaves-to-write"],
    ),
    alias(
        d("min-replicas-max-lag", int(0, i32::MAX as i64), "10", true),
        &["min-slaves-max-lag"],
    ),
    d("masterauth", Kind::Text, "", true),
    d("masteruser", Kind::Text, "", true),
    // Also kept current by REPLICAOF (CONFIG GET and CONFIG REWRITE show the live master).
    alias(d("replicaof", Kind::HostPort, "", false), &["slaveof"]),
    d("replica-announce-ip", Kind::Text, "", true),
    // Ferrite's own: how many replicas acknowledge a write before its reply
    // (crate::repl::consistency).
    d(
        "replica-ack-mode",
        Kind::Enum(&["async", "one", "all"]),
        "async",
        true,
    ),
    d("replica-ack-timeout", int(1, i32::MAX as i64), "1000", true),
    d("replica-announce-port", int(0, 65535), "0", true),
    // Enforced for the pubsub class (crate::pubsub) and the replica class
    // (crate::repl); normal clients are unlimited by default.
    d(
        "client-output-buffer-limit",
        Kind::OutputBufferLimits,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
    ),
    d("maxmemory", mem(0, i64::MAX), "0", true),
    d(
        "maxmemory-policy",
        Kind::Enum(&[
            "volatile-lru",
            "allkeys-lru",
            "volatile-lfu",
            "allkeys-lfu",
            "volatile-random",
            "allkeys-random",
            "volatile-ttl",
            "noeviction",
        ]),
        "noeviction",
        true,
    ),
    d("maxmemory-samples", int(1, 64), "5", true),
    accepted("maxmemory-clients", Kind::MemoryOrPercent, "0"),
    alias(
        accepted("busy-reply-threshold", int(0, MAX), "5000"),
        &["lua-time-limit"],
    ),
    d("protected-mode", YES_NO_BOOL, "yes", true),
    accepted("crash-memcheck-enabled", YES_NO_BOOL, "yes"),
    hidden(accepted("use-exit-on-panic", YES_NO_BOOL, "no")),
    hidden(d(
        "rdb-key-save-delay",
        int(i32::MIN as i64, i32::MAX as i64),
        "0",
        true,
    )),
    hidden(d(
        "key-load-delay",
        int(i32::MIN as i64, i32::MAX as i64),
        "0",
        true,
    )),
    hidden(accepted("watchdog-period", int(0, i32::MAX as i64), "0")),
    hidden(accepted(
        "loading-process-events-interval-bytes",
        int(1024, i32::MAX as i64),
        "2097152",
    )),
    alias(
        d(
            "list-max-listpack-size",
            int(i32::MIN as i64, i32::MAX as i64),
            "-2",
            true,
        ),
        &["list-max-ziplist-size"],
    ),
    accepted("list-compress-depth", int(0, i32::MAX as i64), "0"),
    alias(
        d("hash-max-listpack-entries", int(0, MAX), "512", true),
        &["hash-max-ziplist-entries"],
    ),
    alias(
        d("hash-max-listpack-value", int(0, MAX), "64", true),
        &["hash-max-ziplist-value"],
    ),
    d("set-max-intset-entries", int(0, MAX), "512", true),
    alias(
        d("zset-max-listpack-entries", int(0, MAX), "128", true),
        &["zset-max-ziplist-entries"],
    ),
    alias(
        d("zset-max-listpack-value", int(0, MAX), "64", true),
        &["zset-max-ziplist-value"],
    ),
    d("hll-sparse-max-bytes", mem(0, MAX), "3000", true),
    d("stream-node-max-entries", int(0, MAX), "100", true),
    d("stream-node-max-bytes", mem(0, MAX), "4096", true),
    d("shutdown-on-sigint", Kind::ShutdownFlags, "default", true),
    d("shutdown-on-sigterm", Kind::ShutdownFlags, "default", true),
    // Not acted on: SHUTDOWN does not wait for lagging replicas (see shutdown.rs).
    accepted("shutdown-timeout", int(0, i32::MAX as i64), "10"),
    d("bind-source-addr", Kind::Text, "", true),
];

pub fn find(name: &str) -> Option<&'static Directive> {
    let lower = name.to_ascii_lowercase();
    DIRECTIVES
        .iter()
        .find(|d| d.name == lower || d.aliases.contains(&lower.as_str()))
}
