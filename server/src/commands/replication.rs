//! Replication commands: SYNC and PSYNC (the connection becomes a replica
//! link, `crate::repl::master`), REPLCONF, REPLICAOF/SLAVEOF, FAILOVER
//! (`crate::repl::failover`), ROLE and WAIT.

use bytes::Bytes;

use crate::command::{is, parse_i64, text, CmdError, CmdResult, CommandSpec, Ctx};
use crate::repl::master::SyncRequest;
use crate::repl::{failover, replica, Deferred};

const ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sync", 1, sync)
        .flags(&["admin", "noscript", "no_async_loading", "no_multi"])
        .acl(ADMIN)
        .doc("server", "An internal command used in replication."),
    CommandSpec::new("psync", -3, psync)
        .flags(&["admin", "noscript", "no_async_loading", "no_multi"])
        .acl(ADMIN)
        .doc("server", "An internal command used in replication."),
    CommandSpec::new("replconf", -1, replconf)
        .flags(&["admin", "noscript", "loading", "stale", "allow_busy"])
        .acl(ADMIN)
        .doc("server", "An internal command for configuring the replication stream."),
    CommandSpec::new("replicaof", 3, replicaof)
        .flags(&["admin", "noscript", "stale", "no_async_loading"])
        .acl(ADMIN)
        .doc("server", "Configures a server as replica of another, or promotes it to a master."),
    CommandSpec::new("slaveof", 3, replicaof)
        .flags(&["admin", "noscript", "stale", "no_async_loading"])
        .acl(ADMIN)
        .doc("server", "Sets a Redis server as a replica of another, or promotes it to being a master."),
    CommandSpec::new("failover", -1, failover_command)
        .flags(&["admin", "noscript", "stale"])
        .acl(ADMIN)
        .doc("server", "Starts a coordinated failover from a server to one of its replicas."),
    CommandSpec::new("role", 1, role)
        .flags(&["noscript", "loading", "stale", "fast"])
        .acl(&["@admin", "@fast", "@dangerous"])
        .doc("server", "Returns the replication role."),
    CommandSpec::new("wait", 3, wait)
        .flags(&["noscript"])
        .acl(&["@slow", "@connection"])
        .doc("generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."),
];

/// Redis refuses a (P)SYNC while failing over, and from a replica whose own
/// link is down.
fn check_can_sync(ctx: &Ctx<'_>) -> CmdResult {
    if failover::phase(ctx.server) != failover::Phase::None {
        return Err(CmdError::msg(crate::repl::master::FAILING_OVER));
    }
    let repl = &ctx.server.replication;
    if repl.is_replica() {
        let up = repl
            .master
            .lock()
            .as_ref()
            .is_some_and(|l| l.state == replica::LinkState::Connected);
        if !up {
            return Err(CmdError::msg(
                "NOMASTERLINK Can't SYNC while not connected with my master",
            ));
        }
    }
    Ok(())
}

/// A filtered snapshot is only sent diskless (Redis never writes one to
/// disk), so the replica must read `$EOF:` transfers.
fn check_filter_capa(ctx: &Ctx<'_>) -> CmdResult {
    let repl = &ctx.client.repl;
    if (repl.exclude_data || repl.exclude_functions) && !repl.capa_eof {
        return Err(CmdError::msg(
            "ERR Filtered replica requires EOF capability",
        ));
    }
    Ok(())
}

fn sync(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.client.repl.is_master || ctx.client.repl.deferred.is_some() {
        return Ok(());
    }
    check_can_sync(ctx)?;
    check_filter_capa(ctx)?;
    ctx.client.repl.deferred = Some(Deferred::Sync(SyncRequest {
        psync: None,
        take_over: false,
    }));
    Ok(())
}

fn psync(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.client.repl.is_master || ctx.client.repl.deferred.is_some() {
        return Ok(());
    }
    let take_over = args.len() > 3 && is(&args[3], "failover");
    if take_over {
        check_failover_request(ctx, &args[1])?;
    } else {
        check_can_sync(ctx)?;
    }
    check_filter_capa(ctx)?;
    let Ok(offset) = parse_i64(&args[2]) else {
        let name = crate::repl::master::replica_name(ctx.client);
        tracing::info!("Replica {name} asks for synchronization");
        tracing::warn!("Replica {name} asks for synchronization but with a wrong offset");
        return Err(CmdError::msg("ERR value is not an integer or out of range"));
    };
    ctx.client.repl.deferred = Some(Deferred::Sync(SyncRequest {
        psync: Some((text(&args[1]), offset)),
        take_over,
    }));
    Ok(())
}

/// `PSYNC <replid> <offset> FAILOVER` from this replica's master handing
/// over (Redis's `syncCommand`): checked here; the connection task then
/// has the replica become a master (`repl::master::prepare_sync`) and
/// serves the PSYNC as any other.
fn check_failover_request(ctx: &mut Ctx<'_>, replid: &[u8]) -> CmdResult {
    let replid = text(replid);
    tracing::warn!("Failover request received for replid {replid}.");
    if !ctx.server.replication.is_replica() {
        return Err(CmdError::msg(
            "ERR PSYNC FAILOVER can't be sent to a master.",
        ));
    }
    if replid != ctx.server.replication.log.ids().replid {
        return Err(CmdError::msg(
            "ERR PSYNC FAILOVER replid must match my replid.",
        ));
    }
    Ok(())
}

fn replconf(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    for pair in args[1..].chunks(2) {
        let (option, value) = (&pair[0], &pair[1]);
        if is(option, "listening-port") {
            let port = parse_i64(value)
                .ok()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or(CmdError::NotInteger)?;
            ctx.client.repl.listening_port = port;
        } else if is(option, "ip-address") {
            // Accepted; the replica is listed under its connection's address.
        } else if is(option, "capa") {
            if is(value, "psync2") {
                ctx.client.repl.capa_psync2 = true;
            } else if is(value, "eof") {
                ctx.client.repl.capa_eof = true;
            }
        } else if is(option, "rdb-only") {
            let rdb_only = parse_i64(value)?;
            if !(0..=1).contains(&rdb_only) {
                return Err(CmdError::msg(
                    "ERR value is out of range, value must between 0 and 1",
                ));
            }
            ctx.client.repl.rdb_only = rdb_only == 1;
        } else if is(option, "rdb-filter-only") {
            // Only the "functions" filter exists (Redis 7.0): everything else
            // is left out of the snapshot.
            let filters = ferrite_resp::split_args(value)
                .ok_or_else(|| CmdError::msg("ERR Missing rdb-filter-only values"))?;
            let repl = &mut ctx.client.repl;
            repl.exclude_data = true;
            repl.exclude_functions = true;
            for filter in &filters {
                if !is(filter, "functions") {
                    return Err(CmdError::msg(format!(
                        "ERR Unsupported rdb-filter-only option: {}",
                        text(filter)
                    )));
                }
                repl.exclude_functions = false;
            }
        } else if is(option, "ack") || is(option, "getack") {
            // Only meaningful on a replica link, which handles them itself.
            return Ok(());
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized REPLCONF option: {}",
                text(option)
            )));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn replicaof(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.client.repl.is_master {
        return Err(CmdError::msg(
            "ERR Command is not valid when client is a replica.",
        ));
    }
    if failover::phase(ctx.server) != failover::Phase::None {
        return Err(CmdError::msg(
            "ERR REPLICAOF not allowed while failing over.",
        ));
    }
    let who = ctx.client.handle.info_line();
    if is(&args[1], "no") && is(&args[2], "one") {
        if ctx.server.replication.is_replica() {
            let order_held = ctx.scope.is_some_and(|s| s.holds_write_order());
            replica::promote(ctx.server, order_held);
            tracing::info!("MASTER MODE enabled (user request from '{who}')");
        }
        ctx.out.ok();
        return Ok(());
    }
    let port = parse_i64(&args[2])
        .ok()
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| CmdError::msg("ERR Invalid master port"))?;
    let host = text(&args[1]);
    if !replica::replicate(ctx.server, &host, port as u16) {
        tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
        ctx.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    tracing::info!("REPLICAOF {host}:{port} enabled (user request from '{who}')");
    ctx.out.ok();
    Ok(())
}

fn failover_command(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    failover::command(ctx.server, args)?;
    ctx.out.ok();
    Ok(())
}

fn role(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    crate::repl::info::role(ctx.server, ctx.out);
    Ok(())
}

fn wait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.server.replication.is_replica() {
        return Err(CmdError::msg(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let replicas = parse_i64(&args[1])?;
    let timeout = parse_i64(&args[2])
        .map_err(|_| CmdError::msg("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    let offset = ctx.client.repl.woff;
    let acked = ctx.server.replication.log.count_acked(offset);
    if ctx.scope.is_some() || acked as i64 >= replicas {
        ctx.out.integer(acked as i64);
        return Ok(());
    }
    ctx.client.repl.deferred = Some(Deferred::Wait {
        replicas: replicas.max(0) as usize,
        offset,
        timeout_ms: timeout as u64,
    });
    Ok(())
}
