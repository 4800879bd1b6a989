//! Feeding the replication log from the command path.
//!
//! `connection::execute` calls [`order_for`] before a write runs (the write
//! order of `ferrite_replication::ReplicationLog`), [`record`] after each
//! command that succeeded, and [`flush`] once the top-level command is done;
//! EXEC's queued commands only record, so a transaction's effects are fed
//! together, wrapped in MULTI/EXEC when there is more than one (Redis 7.0's
//! `propagatePendingCommands`). Keys lazy expiry removed meanwhile are fed
//! as DEL (UNLINK with `lazyfree-lazy-expire`) before or with the command
//! that found them expired; the active expire cycle feeds its own.
//!
//! The append-only file gets the same commands (`feed_one`), on a replica
//! too (the stream it applies), and writes them when each command's
//! effects are fed (`crate::aof::write_out`).

use std::time::Duration;

use bytes::Bytes;
use ferrite_replication::WriteOrder;
use ferrite_storage::KeyspaceRead;

use super::rewrite::{self, Lazyfree, Ran};
use crate::client::ClientState;
use crate::command::CommandSpec;
use crate::server::Server;
use crate::transaction::ExclusiveScope;

/// Commands Redis flags "may-replicate" that Ferrite has and that propagate
/// (PFCOUNT only when it rewrote its key: `ClientState::reported_change`).
const ALSO_PROPAGATED: &[&str] = &["publish", "spublish", "pfcount"];

/// Commands that may touch arbitrary keys: their lazy-expiry DELs are not
/// wrapped in MULTI/EXEC (Redis's CMD_TOUCHES_ARBITRARY_KEYS).
const ARBITRARY_KEYS: &[&str] = &["scan", "randomkey", "keys"];

/// Taken by a top-level command before its handler runs: the write order
/// for writes and EXEC, nothing for other commands.
pub fn order_for<'a>(
    server: &'a Server,
    client: &ClientState,
    spec: &CommandSpec,
    name: &str,
    scope: Option<&ExclusiveScope<'_>>,
) -> Option<WriteOrder<'a>> {
    let exec_writes = name == "exec" && client.multi.as_ref().is_some_and(|m| m.may_replicate);
    let writes = spec.has_flag("write") || exec_writes || ALSO_PROPAGATED.contains(&name);
    if scope.is_some() || !writes {
        return None;
    }
    let order = super::order::write_order(server);
    // Keys another thread's lookups expired go out before this write; the
    // order is already held (exclusively, since it appends).
    if order.appends() && server.keyspace.stats().expired_log.has_pending() {
        feed_expired(server, Some(()));
    }
    Some(order)
}

fn lazyfree(server: &Server) -> Lazyfree {
    let config = server.config.read();
    Lazyfree {
        expire: config.get_bool("lazyfree-lazy-expire"),
        user_del: config.get_bool("lazyfree-lazy-user-del"),
    }
}

/// Whether this server feeds its own writes to replicas (a master with a
/// backlog).
fn feeding_replicas(server: &Server) -> bool {
    server.replication.log.is_active() && !server.replication.is_replica()
}

/// Whether writes are fed anywhere: to replicas, or to the AOF.
fn feeding(server: &Server) -> bool {
    server.aof.is_on() || feeding_replicas(server)
}

/// Feeds one command to the replication log (a master's) and the AOF;
/// PUBLISH and SPUBLISH go to replicas only (Redis's `PROPAGATE_REPL`).
fn feed_one<A: AsRef<[u8]>>(server: &Server, db: Option<usize>, command: &[A]) {
    if feeding_replicas(server) {
        server.replication.log.feed(db, command);
    }
    if server.aof.is_on() && !replicas_only(command) {
        server.aof.feed(server, db, command);
    }
}

fn replicas_only<A: AsRef<[u8]>>(command: &[A]) -> bool {
    command.first().is_some_and(|name| {
        let name = name.as_ref();
        name.eq_ignore_ascii_case(b"publish") || name.eq_ignore_ascii_case(b"spublish")
    })
}

/// A command's (or a cycle's) effects are all fed: the AOF writes them.
fn fed(server: &Server) {
    if server.aof.is_on() {
        crate::aof::write_out(server);
    }
}

/// After command `command_id` ran without error: remembers what it
/// propagates in the client's pending effects. Returns whether it changed
/// anything (it has effects) when it is a write that was judged, `None`
/// when nothing is fed.
pub fn record(
    server: &Server,
    client: &mut ClientState,
    command_id: usize,
    request: &[Bytes],
    reply: &[u8],
    scope: Option<&ExclusiveScope<'_>>,
) -> Option<bool> {
    let name = server.commands.full_name(command_id);
    let spec = server.commands.spec(command_id);
    if !(spec.has_flag("write") || ALSO_PROPAGATED.contains(&name))
        || !feeding(server)
        || client.repl.replaying_aof
    {
        return None;
    }
    let ran = Ran {
        name,
        args: request,
        reply,
        db: client.db,
        reported_change: client.reported_change,
    };
    let effects = match scope {
        Some(scope) => rewrite::effects(&scope.view(), lazyfree(server), &ran),
        None => rewrite::effects(&server.keyspace.read(), lazyfree(server), &ran),
    };
    // Keys the command's own lookups found expired are deleted before its
    // effects (SET on an expired key: DEL, then SET); any other expiry was
    // found after them (a blocked client tried once SWAPDB ran) or by a
    // command it commutes with, so it follows, outside any MULTI/EXEC, as
    // Redis feeds what serving blocked clients expires.
    let mut expired = Vec::new();
    take_expired(server, &mut expired);
    let db = client.db;
    let own_keys: Vec<&[u8]> = spec
        .key_positions(request)
        .into_iter()
        .map(|i| request[i].as_ref())
        .collect();
    let (before, after): (Vec<_>, Vec<_>) = expired
        .into_iter()
        .partition(|(key_db, command)| *key_db == db && own_keys.contains(&command[1].as_ref()));
    let changed = !effects.is_empty();
    let drop_own = client.repl.drop_own_effects;
    let pending = &mut client.repl.effects;
    pending.extend(before);
    if !drop_own {
        pending.extend(effects.into_iter().map(|command| (db, command)));
    }
    client.repl.trailing.extend(after);
    Some(changed)
}

/// The command an expired key is fed as: DEL, or UNLINK with `lazyfree-lazy-expire`.
pub(crate) fn expiry_deletion(server: &Server) -> &'static [u8] {
    if lazyfree(server).expire {
        b"UNLINK"
    } else {
        b"DEL"
    }
}

/// Lazy-expired keys waiting in the storage log, as DEL/UNLINK effects.
fn take_expired(server: &Server, effects: &mut Vec<(usize, Vec<Bytes>)>) {
    let log = &server.keyspace.stats().expired_log;
    if !log.has_pending() {
        return;
    }
    let name = Bytes::from_static(expiry_deletion(server));
    effects.extend(
        log.take()
            .into_iter()
            .map(|(db, key)| (db, vec![name.clone(), Bytes::from(key)])),
    );
}

/// Feeds the expired keys waiting, each on its own (no MULTI), taking the
/// write order unless the caller holds it (`held`).
fn feed_expired(server: &Server, held: Option<()>) {
    let _order = held
        .is_none()
        .then(|| super::order::write_order_exclusive(server));
    let mut effects = Vec::new();
    take_expired(server, &mut effects);
    for (db, command) in effects {
        feed_one(server, Some(db), &command);
    }
    fed(server);
}

/// Feeds the client's pending effects: one as is, several wrapped in
/// MULTI/EXEC. Called when a top-level command ends and by EXEC before it
/// serves blocked clients.
pub fn flush(server: &Server, client: &mut ClientState, name: &str) {
    if !feeding(server) {
        client.repl.effects.clear();
        client.repl.trailing.clear();
        return;
    }
    let effects = std::mem::take(&mut client.repl.effects);
    let mut trailing = std::mem::take(&mut client.repl.trailing);
    take_expired(server, &mut trailing);
    let log = &server.replication.log;
    if !effects.is_empty() {
        feed_wrapped(server, &effects, name);
    }
    for (db, command) in &trailing {
        feed_one(server, Some(*db), command);
    }
    if !effects.is_empty() || !trailing.is_empty() {
        client.repl.woff = log.master_repl_offset();
        fed(server);
    }
}

/// Feeds one command's (or transaction's) effects, wrapped in MULTI/EXEC
/// when there is more than one.
fn feed_wrapped(server: &Server, effects: &[(usize, Vec<Bytes>)], name: &str) {
    let wrap = effects.len() > 1 && !ARBITRARY_KEYS.contains(&name);
    if wrap {
        feed_one(server, Some(effects[0].0), &[&b"MULTI"[..]]);
    }
    let last_db = effects[effects.len() - 1].0;
    for (db, command) in effects {
        feed_one(server, Some(*db), command);
    }
    if wrap {
        feed_one(server, Some(last_db), &[&b"EXEC"[..]]);
    }
}

/// After a command that did not take the write order (a read): feeds the
/// keys its lookups found expired, if any.
pub fn flush_expired_after_read(server: &Server) {
    if feeding(server) && server.keyspace.stats().expired_log.has_pending() {
        feed_expired(server, None);
    }
}

/// A blocked client was served by the write that made its key ready
/// (`blocking::serve_keys`, under that write's order): feeds its pop in
/// the non-blocking form.
pub fn served(server: &Server, db: usize, args: &[Bytes], reply: &[u8]) {
    if !feeding(server) || args.is_empty() {
        return;
    }
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let ran = Ran {
        name: &name,
        args,
        reply,
        db,
        reported_change: false,
    };
    let ks: KeyspaceRead<'_> = server.keyspace.read();
    let effects = rewrite::effects(&ks, lazyfree(server), &ran);
    drop(ks);
    for command in effects {
        feed_one(server, Some(db), &command);
    }
    fed(server);
}

/// One active expire cycle; with a log or the AOF, under the write order,
/// each removed key fed as DEL. A replica expires only the keys its own
/// clients gave an expiry (its master's DELs expire the rest), and feeds
/// nothing.
pub fn active_expire_cycle(server: &Server, budget: Duration) {
    if server.replication.is_replica() {
        server.keyspace.expire_replica_keys(budget);
        return;
    }
    if !feeding(server) {
        server.keyspace.active_expire_cycle(budget);
        return;
    }
    let _order = super::order::write_order_exclusive(server);
    server.keyspace.active_expire_cycle(budget);
    feed_expired(server, Some(()));
}
