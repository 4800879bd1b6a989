//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. Queueing happens in
//! the dispatcher (`crate::connection`); EXEC runs the queue atomically in an
//! [`ExclusiveScope`] (see `crate::transaction`).

use bytes::Bytes;

use crate::command::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::connection::execute;
use crate::key_spec::{flags::*, KeySpec};
use crate::transaction::{ExclusiveScope, MultiState};

const FAST: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];
const ACL_FAST: &[&str] = &["@fast", "@transaction"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, multi)
        .flags(FAST)
        .acl(ACL_FAST)
        .doc("transactions", "Starts a transaction."),
    CommandSpec::new("exec", 1, exec)
        .flags(&["noscript", "loading", "stale", "skip_slowlog"])
        .acl(&["@slow", "@transaction"])
        .doc("transactions", "Executes all commands in a transaction."),
    CommandSpec::new("discard", 1, discard)
        .flags(FAST)
        .acl(ACL_FAST)
        .doc("transactions", "Discards a transaction."),
    CommandSpec::new("watch", -2, watch)
        .key_specs(&[KeySpec::range(1, -1, 1, RO)])
        .flags(FAST)
        .acl(ACL_FAST)
        .doc(
            "transactions",
            "Monitors changes to keys to determine the execution of a transaction.",
        ),
    CommandSpec::new("unwatch", 1, unwatch)
        .flags(FAST)
        .acl(ACL_FAST)
        .doc(
            "transactions",
            "Forgets about watched keys of a transaction.",
        ),
];

fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR MULTI calls can not be nested"));
    }
    MultiState::begin(ctx.client);
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if MultiState::end(ctx.client).is_none() {
        return Err(CmdError::msg("ERR DISCARD without MULTI"));
    }
    ctx.server.watches.unwatch_all(ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Runs the queued commands with the keyspace held exclusively, so no other
/// client's command runs in between; replies with their replies as an array.
/// A command refused while queueing aborts the whole transaction
/// (EXECABORT); a touched or expired watched key makes EXEC reply null.
fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let Some(multi) = MultiState::end(ctx.client) else {
        return Err(CmdError::msg("ERR EXEC without MULTI"));
    };
    if multi.aborted {
        ctx.server.watches.unwatch_all(ctx.client);
        return Err(CmdError::msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let server = ctx.server;
    // `propagate::order_for` took the write order for EXEC on the same condition.
    let scope = ExclusiveScope::new(server).under_write_order(multi.may_replicate);
    let stale = server
        .watches
        .transaction_is_stale(&scope.view(), ctx.client);
    server.watches.unwatch_all(ctx.client);
    if stale {
        drop(scope);
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(multi.commands.len());
    for request in &multi.commands {
        // Run in EXEC's scope: never postponed.
        let _ = execute(server, ctx.client, ctx.out, request, Some(&scope));
    }
    crate::repl::propagate::flush(server, ctx.client, "exec");
    scope.finish(server);
    Ok(())
}

fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR WATCH inside MULTI is not allowed"));
    }
    let ks = ctx.keyspace();
    let db = ctx.client.db;
    for key in &args[1..] {
        ctx.server.watches.watch(&ks, ctx.client, db, key);
    }
    drop(ks);
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.server.watches.unwatch_all(ctx.client);
    ctx.out.ok();
    Ok(())
}
