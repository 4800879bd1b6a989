//! One run of a script or function: KEYS/ARGV, the dispatcher behind
//! redis.call/pcall/setresp/set_repl for the length of the run, the
//! SCRIPT KILL hook, and the caller's reply (the return value or Redis's
//! `... script: <name>, on @user_script:<line>.` error).
//!
//! redis.call runs the command exactly as EXEC runs a queued one:
//! `connection::execute` with the script's exclusive scope, into a scratch
//! writer in the script's protocol (redis.setresp), whose bytes are then
//! parsed into Lua values. Nothing depends on the keys the caller declared.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, Value, VmState};

use ferrite_resp::{Protocol, ReplyWriter};

use crate::client::ClientState;
use crate::connection::execute;
use crate::server::Server;
use crate::stats::ServerStats;
use crate::transaction::ExclusiveScope;

use super::convert::{error_reply_table, lua_to_reply, reply_to_lua, script_error_table};
use super::run::RunState;
use super::vm::{self, error_message, Vm};

/// redis.set_repl's flags (Redis's PROPAGATE_REPL and PROPAGATE_AOF|REPL).
const REPL_REPLICA: i64 = 2;
const REPL_ALL: i64 = 3;

/// What is being run and under which rules.
pub struct Invocation<'a> {
    pub server: &'a Server,
    pub scope: &'a ExclusiveScope<'a>,
    /// The calling client: its database and connection.
    pub caller: &'a ClientState,
    /// EVAL_RO/FCALL_RO or a `no-writes` script: write commands refused.
    pub read_only: bool,
    /// False when memory was over `maxmemory` as a script without flags
    /// started: its first write is refused with OOM.
    pub allow_oom: bool,
    /// The SHA1 of an EVAL script or the name of a function (error replies).
    pub name: &'a str,
    pub threshold: Duration,
}

/// The compiled code and how it is called.
pub enum Entry<'a> {
    /// An EVAL chunk: KEYS and ARGV are globals.
    Eval(&'a Function),
    /// A registered function: called as `f(KEYS, ARGV)`.
    Function(&'a Function),
}

/// What a run leaves for the replication stream: the effects of the writes
/// its redis.calls made (Redis 7.0's effects replication) and the expiries
/// they found, recorded by `connection::execute` on the run's own client.
pub struct RunEffects(ClientState);

impl RunEffects {
    /// Adds them to `client`'s pending effects, fed when its command ends
    /// (or with the rest of its transaction inside EXEC).
    pub fn hand_to(mut self, client: &mut ClientState) {
        client.repl.effects.append(&mut self.0.repl.effects);
        client.repl.trailing.append(&mut self.0.repl.trailing);
    }
}

/// Runs `entry` and writes the caller's reply into `out`. The effects are
/// returned even when the script raised an error after writing.
pub fn run(
    vm: &Vm,
    invocation: &Invocation<'_>,
    run_state: &Arc<RunState>,
    entry: Entry<'_>,
    keys: &[Bytes],
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> RunEffects {
    let _frozen = ferrite_storage::freeze_clock();
    let mut client = ClientState::new(invocation.caller.handle.clone(), true);
    client.db = invocation.caller.db;
    // Its calls are checked against the caller's user.
    client.acl = invocation.caller.acl.clone();
    client.in_script = true;
    // Read commands of the script remember the declared keys for a
    // tracking caller (the client shares the caller's handle and mode).
    if invocation
        .caller
        .handle
        .tracking
        .has(crate::tracking::flag::ON)
    {
        client.tracking.caching = invocation.caller.tracking.caching;
        client.tracking.script_keys = Some(keys.to_vec());
    }
    let ran = run_protected(
        vm,
        invocation,
        run_state,
        &mut client,
        entry,
        keys,
        args,
        out,
    );
    // Also after an error: the run's dispatcher is gone with its scope.
    let _ = vm.end_dispatch();
    // The commands the script called count in INFO commandstats, before
    // the script's own command, as in Redis.
    client.pending_stats.flush(&invocation.server.stats);
    if let Err(error) = ran {
        out.error(&format!(
            "ERR Error running script {}, {}",
            invocation.name,
            error_message(&error)
        ));
    }
    vm.lua.remove_hook();
    vm.after_run();
    let _ = vm.ctl.raw_set(&vm.names.killed, Value::Nil);
    let _ = vm.ctl.raw_set(&vm.names.pending, Value::Nil);
    RunEffects(client)
}

#[allow(clippy::too_many_arguments)]
fn run_protected(
    vm: &Vm,
    invocation: &Invocation<'_>,
    run_state: &Arc<RunState>,
    client: &mut ClientState,
    entry: Entry<'_>,
    keys: &[Bytes],
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> mlua::Result<()> {
    let lua = &vm.lua;
    let strings = |items: &[Bytes]| -> mlua::Result<mlua::Table> {
        let table = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            table.raw_set(i + 1, lua.create_string(item)?)?;
        }
        Ok(table)
    };
    let keys_table = strings(keys)?;
    let args_table = strings(args)?;
    install_hook(vm, run_state.clone(), invocation.threshold);
    let protocol = Cell::new(Protocol::Resp2);
    lua.scope(|scope| {
        // One dispatcher per run, for redis.call/pcall (straight from their
        // C entry, `vm::pack_and_forward`) and the prelude's `ctl.run`.
        let dispatch = scope.create_function_mut(|lua, (op, arg): (Value, Value)| {
            let raise = match op {
                Value::Integer(vm::OP_CALL) => true,
                Value::Integer(vm::OP_PCALL) => false,
                Value::Integer(vm::OP_ACL_CHECK) => return acl_check(lua, invocation, client, vm),
                Value::String(name) => {
                    return prelude_op(client, &protocol, &name.to_str()?, arg);
                }
                _ => return Err(mlua::Error::runtime("redis.call: bad dispatch")),
            };
            let reply = call_command(lua, vm, invocation, run_state, client, protocol.get())?;
            // redis.call raises a Redis error reply as the error table
            // itself: it is left in `ctl.pending`, where the message
            // handler and the sandbox's pcall pick it up, because a Rust
            // function cannot raise a table.
            if raise && is_error_table(&reply, &vm.names.err) {
                vm.ctl.raw_set(&vm.names.pending, reply)?;
                return Err(mlua::Error::runtime("redis.call failed"));
            }
            Ok(reply)
        })?;
        vm.lend_dispatcher(&dispatch)?;
        let (ok, value): (bool, Value) = match entry {
            Entry::Eval(function) => {
                vm.globals.raw_set(&vm.names.keys, keys_table)?;
                vm.globals.raw_set(&vm.names.argv, args_table)?;
                vm.run_eval.call(function.clone())?
            }
            Entry::Function(function) => {
                vm.run_fcall
                    .call((function.clone(), keys_table, args_table))?
            }
        };
        if ok {
            lua_to_reply(out, &vm.names, &value, protocol.get() == Protocol::Resp3);
        } else {
            write_script_error(out, &value, invocation.name);
        }
        Ok(())
    })
}

/// Every 100 000 instructions: the slow-script warning and SCRIPT KILL
/// (unless `threshold` is zero: then neither, as in Redis), and a nudge to
/// the other tokio workers: a script run in place on a worker
/// (`run::with_exclusive_scope`) that gets here is not a short one, and
/// the tasks queued on its worker must be taken by the others.
fn install_hook(vm: &Vm, run_state: Arc<RunState>, threshold: Duration) {
    let ctl = vm.ctl.clone();
    vm.lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        move |_, _| {
            wake_idle_workers();
            if threshold.is_zero() {
                return Ok(VmState::Continue);
            }
            run_state.note_progress(threshold);
            if run_state.kill_requested() {
                tracing::warn!("Lua script killed by user with SCRIPT KILL.");
                ctl.raw_set("killed", true)?;
                return Err(mlua::Error::runtime(
                    "Script killed by user with SCRIPT KILL...",
                ));
            }
            Ok(VmState::Continue)
        },
    );
}

/// Makes an idle worker take the tasks queued on this one. A task spawned
/// on a worker goes to its "next task" slot, which only that worker runs,
/// and the task it displaces goes to the queue other workers steal from,
/// with a wake-up of an idle worker. Two empty tasks displace whatever
/// waited in that slot (a connection task, say) and guarantee the wake-up.
fn wake_idle_workers() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async {});
        runtime.spawn(async {});
    }
}

/// The reply for a script that raised an error: the error table's `err`,
/// then where it happened.
fn write_script_error(out: &mut ReplyWriter, error: &Value, name: &str) {
    let Value::Table(table) = error else {
        out.error(&format!(
            "ERR Error running script {name}, execution failure"
        ));
        return;
    };
    let text = |field: &str| match table.raw_get::<Value>(field) {
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        Ok(Value::Number(n)) => Some((n as i64).to_string()),
        Ok(Value::Integer(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut message = text("err").unwrap_or_else(|| "ERR unknown error".to_string());
    if let (Some(source), Some(line)) = (text("source"), text("line")) {
        message.push_str(&format!(" script: {name}, on {source}:{line}."));
    }
    out.error(&message);
    if matches!(
        table.raw_get::<Value>("ignore_error_stats_update"),
        Ok(Value::Boolean(true))
    ) {
        out.take_last_error_code();
    }
}

/// Whether a redis.call reply is an error table (`{err = ...}`).
fn is_error_table(reply: &Value, err: &mlua::String) -> bool {
    matches!(reply, Value::Table(t) if t.raw_get::<Value>(err).is_ok_and(|e| !e.is_nil()))
}

/// redis.acl_check_cmd: whether the caller's user may run the command
/// its arguments (in the VM's call slot) make, or the error text.
fn acl_check(
    lua: &Lua,
    invocation: &Invocation<'_>,
    client: &ClientState,
    vm: &Vm,
) -> mlua::Result<Value> {
    let text = |text: &str| lua.create_string(text).map(Value::String);
    let request = match vm.call_slot.take() {
        Some(Ok(request)) => request,
        Some(Err(message)) => return text(message),
        None => return Err(mlua::Error::runtime("redis.call: bad dispatch")),
    };
    match crate::acl::command_allowed(invocation.server, &client.acl, &request) {
        Some(allowed) => Ok(Value::Boolean(allowed)),
        None => text("Invalid command passed to redis.acl_check_cmd()"),
    }
}

/// The prelude's operations on the running script (`ctl.run(name, arg)`).
fn prelude_op(
    client: &mut ClientState,
    protocol: &Cell<Protocol>,
    name: &str,
    arg: Value,
) -> mlua::Result<Value> {
    match name {
        "setresp" => {
            let version = match arg {
                Value::Number(n) => n as i64,
                Value::Integer(n) => n,
                _ => 2,
            };
            protocol.set(if version == 3 {
                Protocol::Resp3
            } else {
                Protocol::Resp2
            });
            Ok(Value::Nil)
        }
        "set_repl" => {
            // REPL_REPLICA (2) set: later calls' effects reach the
            // replicas. Ferrite has no AOF, so REPL_AOF (1) alone
            // selects nothing.
            let flags = match arg {
                Value::Number(n) => n as i64,
                Value::Integer(n) => n,
                _ => REPL_ALL,
            };
            client.repl.drop_own_effects = flags & REPL_REPLICA == 0;
            Ok(Value::Nil)
        }
        _ => Ok(Value::Nil),
    }
}

/// redis.call/pcall: the arguments its C entry left in the call slot
/// become a request, checked as Redis checks commands from scripts, then
/// executed in the script's scope.
fn call_command(
    lua: &Lua,
    vm: &Vm,
    invocation: &Invocation<'_>,
    run_state: &RunState,
    client: &mut ClientState,
    protocol: Protocol,
) -> mlua::Result<Value> {
    let server = invocation.server;
    let request = match vm.call_slot.take() {
        Some(Ok(request)) => request,
        Some(Err(message)) => return script_error_table(lua, message),
        None => return Err(mlua::Error::runtime("redis.call: bad dispatch")),
    };
    let Some((mut id, mut spec)) = server.commands.lookup(&request[0]) else {
        return reject(
            lua,
            server,
            None,
            "Unknown Redis command called from script",
        );
    };
    if !spec.subcommands.is_empty() && request.len() >= 2 {
        if let Some((sub_id, sub)) = server.commands.lookup_subcommand(id, &request[1]) {
            id = sub_id;
            spec = sub;
        }
    }
    if !spec.arity_ok(request.len()) {
        return reject(
            lua,
            server,
            Some(id),
            "Wrong number of args calling Redis command from script",
        );
    }
    if spec.has_flag("noscript")
        && !server
            .debug_disable_deny_scripts
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        return reject(
            lua,
            server,
            Some(id),
            "This Redis command is not allowed from script",
        );
    }
    if let Err(refusal) = crate::acl::check_script_call(server, client, id, spec, &request) {
        return reject_with(lua, server, Some(id), "ERR", &refusal);
    }
    let writes = spec.has_flag("write") || spec.has_flag("may_replicate");
    if invocation.read_only && writes {
        return reject(
            lua,
            server,
            Some(id),
            "Write commands are not allowed from read-only scripts.",
        );
    }
    if !invocation.allow_oom && spec.has_flag("denyoom") && !run_state.is_dirty() {
        return reject_with(lua, server, Some(id), "OOM", crate::eviction::OOM_ERROR);
    }
    if spec.has_flag("write") {
        run_state.mark_dirty();
    }
    let mut out = ReplyWriter::new(protocol);
    // Run in the script's scope: never postponed.
    let _ = execute(server, client, &mut out, &request, Some(invocation.scope));
    reply_to_lua(lua, &vm.names, out.as_bytes())
}

/// A command refused before running: counted as Redis counts it (an error
/// reply, a rejected call of the command) and returned as an error table.
fn reject(lua: &Lua, server: &Server, id: Option<usize>, message: &str) -> mlua::Result<Value> {
    reject_with(lua, server, id, "ERR", &format!("ERR {message}"))
}

/// [`reject`] with the error's own code (`text` starts with it).
fn reject_with(
    lua: &Lua,
    server: &Server,
    id: Option<usize>,
    code: &str,
    text: &str,
) -> mlua::Result<Value> {
    server.stats.record_error(code);
    if let Some(id) = id {
        ServerStats::add(&server.stats.commands[id].rejected_calls, 1);
    }
    error_reply_table(lua, text.as_bytes())
}
