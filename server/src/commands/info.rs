//! INFO: Redis's sections and field names, filled from Ferrite's state.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use ferrite_storage::KeyspaceRead;

use crate::server::Server;
use crate::stats::{CommandStat, ServerStats};

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Which sections the INFO arguments ask for, in Redis's order.
pub fn sections_for(args: &[String]) -> Vec<&'static str> {
    if args.is_empty() {
        return DEFAULT_SECTIONS.to_vec();
    }
    let wanted: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    let has = |name: &str| wanted.iter().any(|w| w == name);
    if has("all") || has("everything") {
        return ALL_SECTIONS.to_vec();
    }
    let mut sections: Vec<&'static str> = Vec::new();
    if has("default") {
        sections.extend(DEFAULT_SECTIONS);
    }
    for section in ALL_SECTIONS {
        if has(section) && !sections.contains(section) {
            sections.push(section);
        }
    }
    sections
}

/// The INFO text of `sections`; `ks` is the caller's view of the keyspace.
pub fn render(server: &Server, ks: &KeyspaceRead<'_>, sections: &[&str]) -> String {
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        match *section {
            "server" => server_section(server, &mut out),
            "clients" => clients_section(server, &mut out),
            "memory" => memory_section(server, &mut out),
            "persistence" => persistence_section(server, &mut out),
            "stats" => stats_section(server, &mut out),
            "replication" => replication_section(server, &mut out),
            "cpu" => cpu_section(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => commandstats_section(server, &mut out),
            "errorstats" => errorstats_section(server, &mut out),
            "latencystats" => latencystats_section(server, &mut out),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => keyspace_section(ks, &mut out),
            _ => {}
        }
    }
    out
}

macro_rules! field {
    ($out:expr, $name:expr, $value:expr) => {
        let _ = write!($out, "{}:{}\r\n", $name, $value);
    };
}

fn server_section(server: &Server, out: &mut String) {
    let uptime = server.started.elapsed().as_secs();
    out.push_str("# Server\r\n");
    field!(out, "redis_version", crate::REDIS_VERSION);
    field!(out, "ferrite_version", env!("CARGO_PKG_VERSION"));
    field!(out, "redis_git_sha1", "00000000");
    field!(out, "redis_git_dirty", 0);
    field!(out, "redis_mode", "standalone");
    field!(out, "os", std::env::consts::OS);
    field!(out, "arch_bits", 64);
    field!(out, "multiplexing_api", "epoll");
    field!(out, "process_id", std::process::id());
    field!(out, "run_id", server.run_id);
    field!(out, "tcp_port", server.port.load(Ordering::Relaxed));
    field!(out, "server_time_usec", ferrite_storage::now_ms() * 1000);
    field!(out, "uptime_in_seconds", uptime);
    field!(out, "uptime_in_days", uptime / 86_400);
    field!(out, "hz", server.config.read().get("hz"));
    field!(
        out,
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    let config_file = server
        .config
        .read()
        .file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    field!(out, "config_file", config_file);
}

fn clients_section(server: &Server, out: &mut String) {
    out.push_str("# Clients\r\n");
    field!(out, "connected_clients", server.clients.len());
    field!(
        out,
        "maxclients",
        server.hot.maxclients.load(Ordering::Relaxed)
    );
    // Clients a pause postponed count as blocked, as in Redis.
    field!(
        out,
        "blocked_clients",
        server.blocking.blocked_clients() + server.pause.postponed_clients()
    );
    field!(out, "tracking_clients", server.tracking.client_count());
    field!(out, "clients_in_timeout_table", 0);
}

/// Resident set size from /proc (Linux); 0 where unavailable.
pub fn resident_memory() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn memory_section(server: &Server, out: &mut String) {
    let rss = resident_memory();
    // Allocated bytes, as Redis's zmalloc counts them (the resident size if
    // the binary's allocator does not count).
    let used = match crate::memory::allocated_bytes() {
        0 => rss,
        used => used,
    };
    let config = server.config.read();
    out.push_str("# Memory\r\n");
    field!(out, "used_memory", used);
    field!(out, "used_memory_human", human_bytes(used));
    field!(out, "used_memory_rss", rss);
    field!(out, "used_memory_rss_human", human_bytes(rss));
    field!(out, "used_memory_peak", used.max(rss));
    let scripting = server.scripting.memory();
    let vm_total = scripting.eval_vm + scripting.functions_vm;
    field!(out, "used_memory_lua", scripting.eval_vm);
    field!(out, "used_memory_vm_eval", scripting.eval_vm);
    field!(
        out,
        "used_memory_lua_human",
        human_bytes(scripting.eval_vm as u64)
    );
    field!(out, "number_of_cached_scripts", scripting.cached_scripts);
    field!(out, "number_of_functions", scripting.functions);
    field!(out, "number_of_libraries", scripting.libraries);
    field!(out, "used_memory_vm_functions", scripting.functions_vm);
    field!(out, "used_memory_vm_total", vm_total);
    field!(
        out,
        "used_memory_vm_total_human",
        human_bytes(vm_total as u64)
    );
    field!(out, "maxmemory", config.get_i64("maxmemory"));
    field!(
        out,
        "maxmemory_human",
        human_bytes(config.get_i64("maxmemory").max(0) as u64)
    );
    field!(out, "maxmemory_policy", config.get("maxmemory-policy"));
    let fragmentation = if used > 0 {
        rss as f64 / used as f64
    } else {
        0.0
    };
    field!(
        out,
        "mem_fragmentation_ratio",
        format!("{fragmentation:.2}")
    );
    // Everything allocated counts for `maxmemory` (Redis leaves out its
    // replication buffers and AOF buffer).
    field!(out, "mem_not_counted_for_evict", 0);
    // Redis's split of the one replication buffer: up to the backlog's
    // size it is the backlog's, the rest the replicas' (`getMemoryOverheadData`).
    let repl = &server.replication;
    let buffers = repl.log.buffer_memory();
    let backlog_size = config.get_i64("repl-backlog-size").max(0) as usize;
    let has_replicas = !repl.log.status().replicas.is_empty();
    let replicas_share = if has_replicas {
        buffers.saturating_sub(backlog_size)
    } else {
        0
    };
    field!(out, "mem_replication_backlog", buffers - replicas_share);
    field!(out, "mem_total_replication_buffers", buffers);
    field!(out, "mem_clients_slaves", replicas_share);
    field!(out, "mem_allocator", "mimalloc");
    field!(out, "lazyfree_pending_objects", 0);
}

fn human_bytes(bytes: u64) -> String {
    let units = [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (suffix, size) in units {
        if bytes >= size {
            return format!("{:.2}{suffix}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

fn persistence_section(server: &Server, out: &mut String) {
    out.push_str("# Persistence\r\n");
    server
        .persistence
        .info(out, server.keyspace.snapshot_running(), &server.loading);
    for (name, value) in crate::aof::info_fields(server) {
        field!(out, name, value);
    }
    for (name, value) in server.loading.progress_fields() {
        field!(out, name, value);
    }
}

fn stats_section(server: &Server, out: &mut String) {
    let s = &server.stats;
    let get = ServerStats::get;
    out.push_str("# Stats\r\n");
    field!(
        out,
        "total_connections_received",
        get(&s.total_connections_received)
    );
    field!(
        out,
        "total_commands_processed",
        get(&s.total_commands_processed)
    );
    field!(out, "total_net_input_bytes", get(&s.net_input_bytes));
    field!(out, "total_net_output_bytes", get(&s.net_output_bytes));
    field!(out, "rejected_connections", get(&s.rejected_connections));
    field!(out, "expired_keys", server.keyspace.stats().expired_keys());
    field!(
        out,
        "evicted_keys",
        ServerStats::get(&server.stats.evicted_keys)
    );
    field!(
        out,
        "evicted_clients",
        ServerStats::get(&server.stats.evicted_clients)
    );
    field!(out, "keyspace_hits", get(&s.keyspace_hits));
    field!(out, "keyspace_misses", get(&s.keyspace_misses));
    let pubsub = &server.pubsub;
    field!(
        out,
        "pubsub_channels",
        pubsub.active_count(crate::pubsub::Kind::Channel)
    );
    field!(
        out,
        "pubsub_patterns",
        pubsub.active_count(crate::pubsub::Kind::Pattern)
    );
    field!(
        out,
        "pubsubshard_channels",
        pubsub.active_count(crate::pubsub::Kind::Shard)
    );
    field!(
        out,
        "migrate_cached_sockets",
        server.migrate_sockets.count()
    );
    let (keys, items, prefixes) = server.tracking.totals();
    field!(out, "tracking_total_keys", keys);
    field!(out, "tracking_total_items", items);
    field!(out, "tracking_total_prefixes", prefixes);
    field!(out, "total_error_replies", get(&s.total_error_replies));
    let repl = &server.replication;
    field!(out, "sync_full", get(&repl.sync_full));
    field!(out, "sync_partial_ok", get(&repl.sync_partial_ok));
    field!(out, "sync_partial_err", get(&repl.sync_partial_err));
}

fn replication_section(server: &Server, out: &mut String) {
    crate::repl::info::section(server, out);
}

fn cpu_section(out: &mut String) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage struct into the pointer.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    out.push_str("# CPU\r\n");
    field!(out, "used_cpu_sys", seconds(usage.ru_stime));
    field!(out, "used_cpu_user", seconds(usage.ru_utime));
}

fn commandstats_section(server: &Server, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for (id, name, _) in server.commands.all() {
        let stat = &server.stats.commands[id];
        let calls = ServerStats::get(&stat.calls);
        let rejected = ServerStats::get(&stat.rejected_calls);
        let failed = ServerStats::get(&stat.failed_calls);
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let usec = ServerStats::get(&stat.usec);
        let per_call = if calls > 0 {
            usec as f64 / calls as f64
        } else {
            0.0
        };
        let _ = write!(out, "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n");
    }
}

fn errorstats_section(server: &Server, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    let errors = server.stats.errors.lock();
    let mut codes: Vec<_> = errors.iter().collect();
    codes.sort();
    for (code, count) in codes {
        let _ = write!(out, "errorstat_{code}:count={count}\r\n");
    }
}

/// `latency_percentiles_usec_<command>` for every command with calls
/// tracked since the last reset, at `latency-tracking-info-percentiles`.
fn latencystats_section(server: &Server, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    if !server.hot.latency_tracking.load(Ordering::Relaxed) {
        return;
    }
    let percentiles: Vec<f64> = server
        .config
        .read()
        .get("latency-tracking-info-percentiles")
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for (id, name, _) in server.commands.all() {
        let cdf = server.stats.commands[id].latency_cdf();
        if cdf.is_empty() {
            continue;
        }
        let values: Vec<String> = percentiles
            .iter()
            .filter_map(|&p| {
                let usec = CommandStat::latency_at_percentile(&cdf, p)?;
                Some(format!(
                    "p{}={:.3}",
                    crate::config::percentile_text(p),
                    usec as f64
                ))
            })
            .collect();
        let _ = write!(
            out,
            "latency_percentiles_usec_{name}:{}\r\n",
            values.join(",")
        );
    }
}

fn keyspace_section(ks: &KeyspaceRead<'_>, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for db in 0..ks.database_count() {
        let (keys, expires) = ks.counts(db);
        if keys > 0 {
            let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
}
