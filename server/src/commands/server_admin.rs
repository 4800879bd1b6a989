//! Server administration: INFO, CONFIG, TIME, DEBUG, SLOWLOG, LATENCY, MEMORY,
//! SHUTDOWN, LASTSAVE, FUNCTION FLUSH.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ferrite_storage::{encode_dump_payload, Entry, StringValue, Value};

use crate::command::{is, parse_f64, parse_i64, text, CmdError, CmdResult, CommandSpec, Ctx};
use crate::config::{self, find};
use crate::key_spec::{flags::*, KeySpec};
use crate::server::Server;

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
/// SLOWLOG's subcommands: admin, but allowed in scripts (Redis 7.0).
const ADMIN_SCRIPTABLE: &[&str] = &["admin", "loading", "stale"];
const ADMIN_ACL: &[&str] = &["@admin", "@slow", "@dangerous"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("info", -1, info)
        .flags(&["loading", "stale", "sentinel"])
        .acl(&["@slow", "@dangerous"])
        .doc(
            "server",
            "Returns information and statistics about the server.",
        ),
    CommandSpec::container("config", CONFIG_SUBCOMMANDS)
        .doc("server", "A container for server configuration commands."),
    CommandSpec::new("time", 1, time)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast"])
        .doc("server", "Returns the server time."),
    CommandSpec::new("lastsave", 1, lastsave)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast", "@admin", "@dangerous"])
        .doc(
            "server",
            "Returns the Unix timestamp of the last successful save to disk.",
        ),
    CommandSpec::new("shutdown", -1, shutdown)
        .flags(&[
            "admin",
            "noscript",
            "loading",
            "stale",
            "no_multi",
            "sentinel",
            "allow_busy",
        ])
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        ),
    CommandSpec::new("debug", -2, debug)
        .flags(&["admin", "noscript", "loading", "stale"])
        .acl(ADMIN_ACL)
        .doc("server", "A container for debugging commands."),
    CommandSpec::container("slowlog", SLOWLOG_SUBCOMMANDS)
        .doc("server", "A container for slow log commands."),
    CommandSpec::container("latency", LATENCY_SUBCOMMANDS)
        .doc("server", "A container for latency diagnostics commands."),
    CommandSpec::container("memory", MEMORY_SUBCOMMANDS)
        .doc("server", "A container for memory diagnostics commands."),
];

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, config_get)
        .flags(ADMIN)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "Returns the effective values of configuration parameters.",
        ),
    CommandSpec::new("set", -4, config_set)
        .flags(&["admin", "noscript", "loading", "stale"])
        .acl(ADMIN_ACL)
        .doc("server", "Sets configuration parameters in-flight."),
    CommandSpec::new("resetstat", 2, config_resetstat)
        .flags(ADMIN)
        .acl(ADMIN_ACL)
        .doc("server", "Resets the server's statistics."),
    CommandSpec::new("rewrite", 2, config_rewrite)
        .flags(ADMIN)
        .acl(ADMIN_ACL)
        .doc("server", "Persists the effective configuration to file."),
    CommandSpec::new("help", 2, config_help)
        .flags(&["loading", "stale"])
        .acl(&["@slow"])
        .doc(
            "server",
            "Returns helpful text about the different subcommands.",
        ),
];

const SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -2, slowlog_get)
        .flags(ADMIN_SCRIPTABLE)
        .acl(ADMIN_ACL)
        .doc("server", "Returns the slow log's entries."),
    CommandSpec::new("len", 2, slowlog_len)
        .flags(ADMIN_SCRIPTABLE)
        .acl(ADMIN_ACL)
        .doc("server", "Returns the number of entries in the slow log."),
    CommandSpec::new("reset", 2, slowlog_reset)
        .flags(ADMIN_SCRIPTABLE)
        .acl(ADMIN_ACL)
        .doc("server", "Clears all entries from the slow log."),
    CommandSpec::new("help", 2, slowlog_help)
        .flags(&["loading", "stale"])
        .acl(&["@slow"])
        .doc(
            "server",
            "Show helpful text about the different subcommands",
        ),
];

const LATENCY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("latest", 2, latency_latest)
        .flags(ADMIN)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "Returns the latest latency samples for all events.",
        ),
    CommandSpec::new("history", 3, latency_history)
        .flags(ADMIN)
        .acl(ADMIN_ACL)
        .doc("server", "Returns timestamp-latency samples for an event."),
    CommandSpec::new("reset", -2, latency_reset)
        .flags(ADMIN)
        .acl(ADMIN_ACL)
        .doc("server", "Resets the latency data for one or more events."),
    CommandSpec::new("doctor", 2, latency_doctor)
        .flags(ADMIN)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "Returns a human-readable latency analysis report.",
        ),
    CommandSpec::new("histogram", -2, latency_histogram)
        .flags(ADMIN)
        .acl(ADMIN_ACL)
        .doc(
            "server",
            "Returns the cumulative distribution of latencies of a subset or all commands.",
        ),
    CommandSpec::new("help", 2, latency_help)
        .flags(&["loading", "stale"])
        .acl(&["@slow"])
        .doc(
            "server",
            "Returns helpful text about the different subcommands.",
        ),
];

const MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("usage", -3, memory_usage)
        .key_specs(&[KeySpec::range(2, 0, 1, RO)])
        .flags(&["readonly"])
        .acl(&["@read", "@slow"])
        .doc("server", "Estimates the memory usage of a key."),
    CommandSpec::new("help", 2, memory_help)
        .flags(&["loading", "stale"])
        .acl(&["@slow"])
        .doc(
            "server",
            "Returns helpful text about the different subcommands.",
        ),
];

fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let wanted: Vec<String> = args[1..].iter().map(|a| text(a)).collect();
    let sections = super::info::sections_for(&wanted);
    let report = super::info::render(ctx.server, &ctx.keyspace(), &sections);
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

fn config_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let config = ctx.server.config.read();
    let mut found: Vec<(&str, String)> = Vec::new();
    for pattern in &args[2..] {
        for (name, value) in config.matching(pattern) {
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, value.to_string()));
            }
        }
    }
    drop(config);
    ctx.out.map(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pairs = &args[2..];
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::msg(
            "ERR wrong number of arguments for 'config|set' command",
        ));
    }
    if ctx.server.loading.any() && names_config_denied_while_loading(pairs) {
        return Err(CmdError::msg(crate::loading::LOADING_ERROR));
    }
    let mut staged = ctx.server.config.read().clone();
    let mut seen: Vec<&'static str> = Vec::new();
    for pair in pairs.chunks(2) {
        let name = text(&pair[0]);
        let Some(directive) = find(&name) else {
            return Err(CmdError::msg(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        if seen.contains(&directive.name) {
            return Err(CmdError::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            )));
        }
        seen.push(directive.name);
        staged
            .set(&name, &[text(&pair[1])], false)
            .map_err(|reason| {
                CmdError::msg(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                ))
            })?;
    }
    rebind_if_changed(ctx.server, &staged, pairs)?;
    let appendonly = staged.get_bool("appendonly");
    if appendonly != ctx.server.config.read().get_bool("appendonly") {
        let caller = match ctx.scope {
            None => crate::aof::Caller::Alone,
            Some(scope) => crate::aof::Caller::InExec {
                holds_write_order: scope.holds_write_order(),
            },
        };
        crate::aof::set_enabled(ctx.server, appendonly, caller).map_err(|reason| {
            CmdError::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument 'appendonly') - {reason}"
            ))
        })?;
    }
    ctx.server.apply_config(staged);
    if crate::eviction::over_limit(ctx.server) {
        tracing::warn!(
            "WARNING: the new maxmemory value set via CONFIG SET ({}) is smaller than the current memory usage ({}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.",
            ctx.server.hot.maxmemory.load(std::sync::atomic::Ordering::Relaxed),
            crate::memory::allocated_bytes()
        );
        crate::eviction::perform_evictions(ctx.server, &ctx.keyspace());
    }
    ctx.out.ok();
    Ok(())
}

/// Redis's `DENY_LOADING_CONFIG` directives: a CONFIG SET naming one while a
/// load runs gets -LOADING, which takes precedence over the errors of later
/// pairs (not over an unknown or immutable directive named before it).
fn names_config_denied_while_loading(pairs: &[Bytes]) -> bool {
    const DENIED: [&str; 3] = ["appendonly", "repl-diskless-load", "dir"];
    for pair in pairs.chunks(2) {
        match find(&text(&pair[0])) {
            Some(directive) if DENIED.contains(&directive.name) => return true,
            Some(directive) if directive.mutable => {}
            _ => return false,
        }
    }
    false
}

/// Listens on the new `port`/`bind` of a CONFIG SET before anything of it
/// is applied, so that a port that cannot be bound leaves every directive
/// of the call as it was (Redis rolls the call back).
fn rebind_if_changed(
    server: &Server,
    staged: &config::Config,
    pairs: &[Bytes],
) -> Result<(), CmdError> {
    let (port, bind) = (staged.get_i64("port") as u16, staged.get("bind"));
    let current = server.config.read();
    let bind_changed = bind != current.get("bind");
    if port == current.get_i64("port") as u16 && !bind_changed {
        return Ok(());
    }
    drop(current);
    let changed = if bind_changed { "bind" } else { "port" };
    server
        .listeners
        .rebind(bind, port, bind_changed)
        .map_err(|reason| {
            let named = pairs
                .chunks(2)
                .map(|pair| text(&pair[0]))
                .find(|name| find(name).is_some_and(|d| d.name == changed))
                .unwrap_or_default();
            CmdError::msg(format!(
                "ERR CONFIG SET failed (possibly related to argument '{named}') - {reason}"
            ))
        })?;
    server.port.store(port, Ordering::Relaxed);
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.server.stats.reset();
    ctx.server.keyspace.stats().reset();
    ctx.server.replication.reset_stats();
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let config = ctx.server.config.read().clone();
    let users: Vec<String> = if config.get("aclfile").is_empty() {
        crate::acl::file::user_lines(&ctx.server.acl)
            .iter()
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect()
    } else {
        Vec::new()
    };
    config::rewrite(&config, &users).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::introspection::help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

fn time(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_integer(now.as_secs() as i64);
    ctx.out.bulk_integer(now.subsec_micros() as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.integer(ctx.server.persistence.last_save_s() as i64);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: `shutdown::shutdown`
/// (saves first with SAVE, or by default when save points are configured;
/// a failed save keeps the server running unless FORCE is given), or ABORT
/// of a shutdown a signal asked for.
fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut flags = crate::shutdown::ShutdownFlags::default();
    let mut abort = false;
    for arg in &args[1..] {
        if is(arg, "abort") {
            abort = true;
        } else if !flags.set(arg) {
            return Err(CmdError::Syntax);
        }
    }
    let any_flag = flags != crate::shutdown::ShutdownFlags::default();
    if (abort && any_flag) || (flags.save && flags.nosave) {
        return Err(CmdError::Syntax);
    }
    if abort {
        if crate::shutdown::abort(ctx.server) {
            ctx.out.ok();
            return Ok(());
        }
        return Err(CmdError::msg("ERR No shutdown in progress."));
    }
    if crate::shutdown::shutdown(ctx.server, flags).is_err() {
        return Err(CmdError::msg("ERR Errors trying to SHUTDOWN. Check logs."));
    }
    ctx.client.close_after_reply = true;
    Ok(())
}

fn slowlog_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = match args.get(2) {
        None => 10,
        Some(n) => {
            let n = parse_i64(n)
                .map_err(|_| CmdError::msg("ERR count should be greater than or equal to -1"))?;
            if n < -1 {
                return Err(CmdError::msg(
                    "ERR count should be greater than or equal to -1",
                ));
            }
            if n == -1 {
                usize::MAX
            } else {
                n as usize
            }
        }
    };
    let entries: Vec<_> = ctx.server.slowlog.lock().entries(count).cloned().collect();
    ctx.out.array(entries.len());
    for entry in entries {
        ctx.out.array(6);
        ctx.out.integer(entry.id as i64);
        ctx.out.integer(entry.time_s as i64);
        ctx.out.integer(entry.duration_us as i64);
        ctx.out.array(entry.args.len());
        for arg in &entry.args {
            ctx.out.bulk(arg);
        }
        ctx.out.bulk(entry.peer.as_bytes());
        ctx.out.bulk(entry.client_name.as_bytes());
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let len = ctx.server.slowlog.lock().len();
    ctx.out.integer(len as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.server.slowlog.lock().reset();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::introspection::help_reply(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

fn latency_latest(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let monitor = ctx.server.latency.lock();
    let events: Vec<_> = monitor
        .events
        .iter()
        .filter_map(|(name, event)| {
            event
                .samples
                .back()
                .map(|last| (name.clone(), *last, event.max_ms))
        })
        .collect();
    drop(monitor);
    ctx.out.array(events.len());
    for (name, last, max) in events {
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.integer(last.time_s as i64);
        ctx.out.integer(last.latency_ms as i64);
        ctx.out.integer(max as i64);
    }
    Ok(())
}

fn latency_history(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let samples: Vec<_> = ctx
        .server
        .latency
        .lock()
        .events
        .get(text(&args[2]).as_str())
        .map(|e| e.samples.iter().copied().collect())
        .unwrap_or_default();
    ctx.out.array(samples.len());
    for sample in samples {
        ctx.out.array(2);
        ctx.out.integer(sample.time_s as i64);
        ctx.out.integer(sample.latency_ms as i64);
    }
    Ok(())
}

fn latency_reset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let names: Vec<String> = args[2..].iter().map(|a| text(a)).collect();
    let reset = ctx.server.latency.lock().reset(&names);
    ctx.out.integer(reset as i64);
    Ok(())
}

fn latency_doctor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let monitor = ctx.server.latency.lock();
    let mut report = String::new();
    if monitor.events.is_empty() {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n");
    } else {
        report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        for (i, (name, event)) in monitor.events.iter().enumerate() {
            let average = event.samples.iter().map(|s| s.latency_ms).sum::<u64>()
                / event.samples.len().max(1) as u64;
            report.push_str(&format!(
                "{}. {name}: {} latency spikes (average {average}ms, mean deviation 0ms, period 0 sec). Worst all time event {}ms.\n",
                i + 1,
                event.samples.len(),
                event.max_ms
            ));
        }
    }
    drop(monitor);
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

/// Commands named in LATENCY HISTOGRAM's arguments (a container stands for
/// its subcommands; unknown names are skipped), or every command.
fn histogram_targets(ctx: &Ctx<'_>, names: &[Bytes]) -> Vec<usize> {
    let table = &ctx.server.commands;
    if names.is_empty() {
        return table.all().map(|(id, _, _)| id).collect();
    }
    let mut ids = Vec::new();
    for name in names {
        let lower = text(name).to_ascii_lowercase();
        for (id, full_name, _) in table.all() {
            let is_sub_of = full_name
                .split_once('|')
                .is_some_and(|(parent, _)| parent == lower);
            if (full_name == lower || is_sub_of) && !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

fn latency_histogram(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    type Histogram = (&'static str, u64, Vec<(u64, u64)>);
    let histograms: Vec<Histogram> = histogram_targets(ctx, &args[2..])
        .into_iter()
        .filter_map(|id| {
            let stat = &ctx.server.stats.commands[id];
            let cdf = stat.latency_cdf();
            let calls = cdf.last().map_or(0, |&(_, total)| total);
            (calls > 0).then(|| (ctx.server.commands.full_name(id), calls, cdf))
        })
        .collect();
    ctx.out.map(histograms.len());
    for (name, calls, cdf) in histograms {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.integer(calls as i64);
        ctx.out.bulk(b"histogram_usec");
        ctx.out.map(cdf.len());
        for (micros, cumulative) in cdf {
            ctx.out.integer(micros as i64);
            ctx.out.integer(cumulative as i64);
        }
    }
    Ok(())
}

fn latency_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::introspection::help_reply(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
        ],
    );
    Ok(())
}

/// Bytes a key costs: the key, the value's heap and the table slot.
fn memory_usage(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match args.get(3..) {
        Some([]) | None => {}
        Some([samples, n]) if is(samples, "samples") => {
            parse_i64(n)?;
        }
        _ => return Err(CmdError::Syntax),
    }
    let ks = ctx.keyspace();
    let key = ks.key(&args[2]);
    let usage = ks.lock(ctx.client.db, &key).peek(&key).map(|entry| {
        let heap = entry.value.heap_size();
        args[2].len() + heap + std::mem::size_of::<Entry>() + 16
    });
    drop(ks);
    match usage {
        Some(bytes) => ctx.out.integer(bytes as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn memory_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::introspection::help_reply(
        ctx,
        "MEMORY",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

/// DEBUG REPLICATE <command> [args]: feeds the command to the replicas without running it
/// (no SELECT), as Redis's replicationFeedSlaves with no database; a replica feeds nothing.
fn debug_replicate(ctx: &mut Ctx<'_>, command: &[Bytes]) -> CmdResult {
    if ctx.scope.is_some() {
        // EXEC may already hold the write order this needs.
        return Err(CmdError::msg(
            "ERR DEBUG REPLICATE is not supported inside MULTI or scripts",
        ));
    }
    let repl = &ctx.server.replication;
    if !repl.is_replica() {
        let order = repl.log.order();
        if order.appends() {
            repl.log.feed(None, command);
        }
    }
    ctx.out.ok();
    Ok(())
}

/// DEBUG SET-... <0|1> of a server-wide flag.
fn set_debug_flag(
    ctx: &mut Ctx<'_>,
    flag: fn(&crate::server::Server) -> &AtomicBool,
    value: &[u8],
) -> CmdResult {
    flag(ctx.server).store(parse_i64(value)? != 0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// DEBUG SLEEP: Redis's one thread sleeps, so nothing in the server runs meanwhile
/// (no replies, no replication keepalives, no cron); tests rely on that to make a
/// server unresponsive. This worker sleeps, and every other runtime worker is given
/// a task that sleeps until the same deadline. The tasks are spawned from a plain
/// thread so they go to the runtime's shared queue, where any idle or yielding
/// worker takes one (a task spawned from this worker would sit in its own queue).
fn sleep_whole_server(duration: Duration) {
    let deadline = std::time::Instant::now() + duration;
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let others = runtime.metrics().num_workers().saturating_sub(1);
        std::thread::spawn(move || {
            for _ in 0..others {
                runtime.spawn(async move {
                    std::thread::sleep(
                        deadline.saturating_duration_since(std::time::Instant::now()),
                    )
                });
            }
        });
    }
    std::thread::sleep(duration);
}

fn debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.server.config.read().get("enable-debug-command") == "no" {
        return Err(CmdError::msg("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."));
    }
    let sub = text(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("log", 3) => {
            tracing::warn!("DEBUG LOG: {}", text(&args[2]));
            ctx.out.ok();
        }
        ("sleep", 3) => {
            let seconds = parse_f64(&args[2])?;
            sleep_whole_server(Duration::from_secs_f64(seconds.clamp(0.0, 3600.0)));
            ctx.out.ok();
        }
        ("set-active-expire", 3) => {
            ctx.server
                .keyspace
                .stats()
                .set_active_expire(parse_i64(&args[2])? != 0);
            ctx.out.ok();
        }
        ("set-skip-checksum-validation", 3) => {
            set_debug_flag(ctx, |s| &s.debug_skip_checksum, &args[2])?
        }
        ("set-disable-deny-scripts", 3) => {
            set_debug_flag(ctx, |s| &s.debug_disable_deny_scripts, &args[2])?
        }
        ("pause-cron", 3) => set_debug_flag(ctx, |s| &s.debug_pause_cron, &args[2])?,
        ("object", 3) => debug_object(ctx, &args[2])?,
        ("populate", 3..=5) => debug_populate(ctx, &args[2..])?,
        ("segfault", _) => {
            // Redis writes through a pointer it made invalid; raising the
            // signal reaches the same crash report (crash.rs).
            // SAFETY: raise only delivers a signal to this process.
            unsafe { libc::raise(libc::SIGSEGV) };
        }
        ("replicate", n) if n >= 3 => debug_replicate(ctx, &args[2..])?,
        ("reload", _) => debug_reload(ctx, &args[2..])?,
        ("aof-flush-sleep", 3) => {
            let micros = parse_i64(&args[2])?.max(0) as u64;
            ctx.server
                .aof
                .stats
                .flush_sleep_us
                .store(micros, Ordering::Relaxed);
            ctx.out.ok();
        }
        ("loadaof", 2) => {
            if ctx.scope.is_some() {
                // Replaying needs the keyspace the transaction holds.
                return Err(CmdError::msg(
                    "ERR DEBUG LOADAOF is not supported inside MULTI or scripts",
                ));
            }
            crate::aof::debug_loadaof(ctx.server);
            ctx.out.ok();
        }
        ("quicklist-packed-threshold", 3) => {
            // Redis keeps list elements above this size in nodes of their own.
            // Ferrite's large lists already hold every element in its own
            // allocation, so only the argument is checked.
            let size = config::parse_memory(&text(&args[2])).filter(|&n| n >= 0);
            if size.is_none_or(|n| n > (1 << 32) - (1 << 20)) {
                return Err(CmdError::msg(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                ));
            }
            ctx.out.ok();
        }
        ("digest", 2) => {
            let digest = crate::digest::dataset_digest(&ctx.keyspace());
            ctx.out.simple(&digest);
        }
        ("digest-value", _) => {
            let digests: Vec<String> = args[2..]
                .iter()
                .map(|key| crate::digest::key_digest(&ctx.keyspace(), ctx.client.db, key))
                .collect();
            ctx.out.array(digests.len());
            for digest in digests {
                ctx.out.simple(&digest);
            }
        }
        ("protocol", 3) => crate::debug_protocol::reply(ctx, &text(&args[2]).to_ascii_lowercase())?,
        ("help", _) => super::introspection::help_reply(
            ctx,
            "DEBUG",
            &[
                "AOF-FLUSH-SLEEP <microsec>",
                "    Server will sleep before flushing the AOF, this is used for testing.",
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "LOADAOF",
                "    Flush the AOF buffers on disk and reload the AOF in memory.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "OBJECT <key>",
                "    Show low level info about the <key> and associated value.",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> string keys named key:<num>. If <prefix> is specified then",
                "    it is used instead of the 'key' prefix. These are not propagated to",
                "    replicas.",
                "PAUSE-CRON <0|1>",
                "    Stop periodic cron job processing.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type.",
                "RELOAD [option ...]",
                "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
                "    * MERGE: conflicting keys will be loaded from RDB.",
                "    * NOFLUSH: the existing database will not be removed before load, but",
                "      conflicting keys make the reload fail (and change nothing).",
                "    * NOSAVE: the database will be loaded from an existing RDB file.",
                "QUICKLIST-PACKED-THRESHOLD <size>",
                "    Accepted for compatibility: large list elements are always stored apart.",
                "REPLICATE <string>",
                "    Replicates the provided string to replicas, allowing data divergence.",
                "SEGFAULT",
                "    Crash the server with sigsegv.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background.",
                "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
                "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        ),
        _ => return Err(CmdError::subcommand_syntax(args)),
    }
    Ok(())
}

/// DEBUG POPULATE count [prefix] [size]: string keys `<prefix>:<n>` (prefix
/// `key` by default) for n below count, each `value:<n>` cut or zero-padded
/// to `size` bytes when given, skipping keys that exist, as Redis's. Like
/// Redis it feeds nothing to replicas and sends no keyspace events.
fn debug_populate(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let positive = |arg: &Bytes| {
        parse_i64(arg)?
            .try_into()
            .map_err(|_| CmdError::msg("ERR value is out of range, must be positive"))
    };
    let count: u64 = positive(&args[0])?;
    let prefix: &[u8] = args.get(1).map_or(b"key", |p| p);
    let size: u64 = args.get(2).map(positive).transpose()?.unwrap_or(0);
    if size > super::strings::max_string_len(ctx) {
        return Err(CmdError::msg(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    let size = size as usize;
    let ks = ctx.keyspace();
    for n in 0..count {
        let name = [prefix, b":", n.to_string().as_bytes()].concat();
        let key = ks.key(&name);
        let mut shard = ks.lock(ctx.client.db, &key);
        if shard.contains(&key) {
            continue;
        }
        let mut value = format!("value:{n}").into_bytes();
        if size > 0 {
            value.resize(size, 0);
        }
        shard.insert(
            &key,
            Entry::new(Value::String(StringValue::from_bytes(&value))),
        );
    }
    ctx.out.ok();
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE].
fn debug_reload(ctx: &mut Ctx<'_>, options: &[Bytes]) -> CmdResult {
    use crate::persistence::{debug_reload, ReloadFailure, ReloadOptions};
    let mut chosen = ReloadOptions::default();
    for option in options {
        if is(option, "merge") {
            chosen.merge = true;
        } else if is(option, "noflush") {
            chosen.noflush = true;
        } else if is(option, "nosave") {
            chosen.nosave = true;
        } else {
            return Err(CmdError::msg(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    match ctx.with_exclusive(|databases| debug_reload(ctx.server, databases, chosen)) {
        Ok(()) => {}
        Err(ReloadFailure::Save) => return Err(CmdError::msg("ERR")),
        Err(ReloadFailure::Load) => {
            return Err(CmdError::msg("ERR Error trying to load the RDB dump"))
        }
    }
    ctx.out.ok();
    Ok(())
}

fn debug_object(ctx: &mut Ctx<'_>, key_arg: &Bytes) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(key_arg);
    let shard = ks.lock(ctx.client.db, &key);
    // Redis reads the table directly: an expired key not yet deleted is there.
    let Some(entry) = shard.stored(&key).cloned() else {
        return Err(CmdError::NoSuchKey);
    };
    let idle = shard.idle_seconds(&entry);
    drop(shard);
    drop(ks);
    let refcount = entry.value.refcount();
    // The "address" identifies the key's slot; it is stable while the key lives.
    let line = format!(
        "Value at:0x{:x} refcount:{refcount} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{idle}",
        key.hash & 0xffff_ffff_ffff,
        entry.value.encoding_name(),
        encode_dump_payload(&entry.value).len().saturating_sub(11),
        entry.last_access_s() & 0xff_ffff,
    );
    ctx.out.simple(&line);
    Ok(())
}
