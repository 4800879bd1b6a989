//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL,
//! FCALL_RO and FUNCTION. The engines are in `crate::scripting`; a script
//! runs with the keyspace held exclusively (inside EXEC, through EXEC's
//! hold), so it is atomic like a transaction.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::client::ClientState;
use crate::command::{is, parse_i64, text, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};
use crate::scripting::eval::ScriptFlags;
use crate::scripting::invoke::{self, Entry, Invocation};
use crate::scripting::run::{busy_threshold, with_exclusive_scope, RunInfo};
use crate::scripting::vm::Vm;
use crate::scripting::{eval::EvalEngine, functions::FunctionEngine};
use crate::server::Server;
use crate::transaction::ExclusiveScope;
use ferrite_resp::ReplyWriter;

use super::introspection::help_reply;

const RUN_FLAGS: &[&str] = &[
    "noscript",
    "skip_monitor",
    "may_replicate",
    "no_mandatory_keys",
    "stale",
];
const RUN_RO_FLAGS: &[&str] = &[
    "noscript",
    "skip_monitor",
    "no_mandatory_keys",
    "stale",
    "readonly",
];
const ACL: &[&str] = &["@slow", "@scripting"];

/// Redis's key spec of the script runners: `numkeys` at 2, then the keys.
const fn numkeys_spec(flags: u16) -> KeySpec {
    KeySpec::new(
        flags,
        BeginSearch::Index(2),
        FindKeys::Keynum {
            keynumidx: 0,
            firstkey: 1,
            step: 1,
        },
    )
}
const RW_KEYS: KeySpec = numkeys_spec(RW | ACCESS | UPDATE);
const RO_KEYS: KeySpec = numkeys_spec(RO | ACCESS);
/// EVAL and FCALL (Redis notes them; EVALSHA's spec has no note).
const RW_NOTED: &[KeySpec] =
    &[RW_KEYS
        .notes("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")];
const RO_NOTED: &[KeySpec] =
    &[RO_KEYS
        .notes("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")];

const fn runner(
    name: &'static str,
    handler: crate::command::Handler,
    flags: &'static [&'static str],
    key_specs: &'static [KeySpec],
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, -3, handler)
        .flags(flags)
        .key_specs(key_specs)
        .acl(ACL)
        .doc("scripting", summary)
}

pub const COMMANDS: &[CommandSpec] = &[
    runner(
        "eval",
        eval,
        RUN_FLAGS,
        RW_NOTED,
        "Executes a server-side Lua script.",
    ),
    runner(
        "evalsha",
        evalsha,
        RUN_FLAGS,
        &[RW_KEYS],
        "Executes a server-side Lua script by SHA1 digest.",
    ),
    runner(
        "eval_ro",
        eval_ro,
        RUN_RO_FLAGS,
        RO_NOTED,
        "Executes a read-only server-side Lua script.",
    ),
    runner(
        "evalsha_ro",
        evalsha_ro,
        RUN_RO_FLAGS,
        &[RO_KEYS],
        "Executes a read-only server-side Lua script by SHA1 digest.",
    ),
    runner("fcall", fcall, RUN_FLAGS, RW_NOTED, "Invokes a function."),
    runner(
        "fcall_ro",
        fcall_ro,
        RUN_RO_FLAGS,
        RO_NOTED,
        "Invokes a read-only function.",
    ),
    CommandSpec::container("script", SCRIPT_SUBCOMMANDS).doc(
        "scripting",
        "A container for Lua scripts management commands.",
    ),
    CommandSpec::container("function", FUNCTION_SUBCOMMANDS)
        .doc("scripting", "A container for function commands."),
];

const fn admin(
    name: &'static str,
    arity: i32,
    handler: crate::command::Handler,
    flags: &'static [&'static str],
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, handler)
        .flags(flags)
        .acl(ACL)
        .doc("scripting", summary)
}

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    admin(
        "exists",
        -3,
        script_exists,
        &["noscript"],
        "Determines whether server-side Lua scripts exist in the script cache.",
    ),
    admin(
        "flush",
        -2,
        script_flush,
        &["noscript"],
        "Removes all server-side Lua scripts from the script cache.",
    ),
    admin(
        "help",
        2,
        script_help,
        &["loading", "stale"],
        "Returns helpful text about the different subcommands.",
    ),
    admin(
        "kill",
        2,
        script_kill,
        &["noscript", "allow_busy"],
        "Terminates a server-side Lua script during execution.",
    ),
    admin(
        "load",
        3,
        script_load,
        &["noscript", "stale"],
        "Loads a server-side Lua script to the script cache.",
    ),
];

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    admin(
        "delete",
        3,
        function_delete,
        &["noscript", "write"],
        "Deletes a library and its functions.",
    ),
    admin(
        "dump",
        2,
        function_dump,
        &["noscript"],
        "Dumps all libraries into a serialized binary payload.",
    ),
    admin(
        "flush",
        -2,
        function_flush,
        &["noscript", "write"],
        "Deletes all libraries and functions.",
    ),
    admin(
        "help",
        2,
        function_help,
        &["loading", "stale"],
        "Returns helpful text about the different subcommands.",
    ),
    admin(
        "kill",
        2,
        function_kill,
        &["noscript", "allow_busy"],
        "Terminates a function during execution.",
    ),
    admin(
        "list",
        -2,
        function_list,
        &["noscript"],
        "Returns information about all libraries.",
    ),
    admin(
        "load",
        -3,
        function_load,
        &["noscript", "write", "denyoom"],
        "Creates a library.",
    ),
    admin(
        "restore",
        -3,
        function_restore,
        &["noscript", "write", "denyoom"],
        "Restores all libraries from a payload.",
    ),
    admin(
        "stats",
        2,
        function_stats,
        &["noscript", "allow_busy"],
        "Returns information about a function during execution.",
    ),
];

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
const RO_WITH_WRITES: &str = "ERR Can not execute a script with write flag using *_ro command.";

fn eval(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_eval(ctx, args, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_eval(ctx, args, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_eval(ctx, args, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_eval(ctx, args, true, true)
}

fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_function(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_function(ctx, args, true)
}

/// `numkeys` checked against the arguments: how many of `args[3..]` are keys.
fn key_count(args: &[Bytes], not_a_number: CmdError) -> Result<usize, CmdError> {
    let count = parse_i64(&args[2]).map_err(|_| not_a_number)?;
    if count > (args.len() - 3) as i64 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if count < 0 {
        return Err(CmdError::msg("ERR Number of keys can't be negative"));
    }
    Ok(count as usize)
}

/// Whether a run is read-only, or the error for a writing script run by a
/// `*_RO` command.
fn read_only(flags: ScriptFlags, ro_command: bool) -> Result<bool, CmdError> {
    let declares_no_writes = !flags.compat && flags.no_writes;
    if ro_command && !flags.compat && !flags.no_writes {
        return Err(CmdError::msg(RO_WITH_WRITES));
    }
    Ok(ro_command || declares_no_writes)
}

/// The replication refusals a flagged script gets before it runs (see
/// `gate::script_refusal`); scripts without a shebang get none up front.
fn check_replication_state(
    server: &Server,
    caller: &ClientState,
    flags: ScriptFlags,
    read_only: bool,
) -> Result<(), CmdError> {
    if flags.compat {
        return Ok(());
    }
    match crate::repl::gate::script_refusal(server, caller, !read_only, flags.allow_stale) {
        Some(refusal) => Err(CmdError::msg(refusal)),
        None => Ok(()),
    }
}

/// Whether a run may use memory while `maxmemory` is exceeded, or the OOM
/// error refusing it (Redis 7.0): read-only runs and `allow-oom` scripts
/// may; a script with a shebang is otherwise refused up front; a script
/// without one (backwards compatible) runs, but its first write is refused
/// if memory was over the limit when it started.
fn allow_oom(server: &Server, flags: ScriptFlags, read_only: bool) -> Result<bool, CmdError> {
    if read_only || flags.allow_oom || !crate::eviction::over_limit(server) {
        return Ok(true);
    }
    if flags.compat {
        Ok(false)
    } else {
        Err(CmdError::msg(crate::eviction::OOM_ERROR))
    }
}

fn run_eval(ctx: &mut Ctx<'_>, args: &[Bytes], by_sha: bool, ro_command: bool) -> CmdResult {
    crate::commands::feed_monitors(ctx.server, ctx.client, args);
    let numkeys = key_count(args, CmdError::NotInteger)?;
    if by_sha && args[1].len() != 40 {
        return Err(CmdError::msg(NOSCRIPT));
    }
    let server = ctx.server;
    let out = &mut *ctx.out;
    with_exclusive_scope(
        server,
        ctx.client,
        ctx.scope,
        ctx.command_name,
        |scope, caller| {
            let mut engines = server.scripting.engines();
            let sha = if by_sha {
                String::from_utf8_lossy(&args[1]).to_ascii_lowercase()
            } else {
                engines.eval.load(&args[1]).map_err(CmdError::Other)?
            };
            let Some(script) = engines.eval.get(sha.as_bytes()) else {
                return Err(CmdError::msg(NOSCRIPT));
            };
            let target = Target {
                vm: &engines.eval.vm,
                entry: Entry::Eval(&script.function),
                flags: script.flags,
                name: &sha,
                eval: true,
            };
            let ran = start_run(
                server, scope, caller, out, target, ro_command, args, numkeys,
            );
            server.scripting.engines_changed(&engines);
            ran
        },
    )
}

fn run_function(ctx: &mut Ctx<'_>, args: &[Bytes], ro_command: bool) -> CmdResult {
    crate::commands::feed_monitors(ctx.server, ctx.client, args);
    let numkeys = key_count(args, CmdError::msg("ERR Bad number of keys provided"))?;
    let server = ctx.server;
    let out = &mut *ctx.out;
    with_exclusive_scope(
        server,
        ctx.client,
        ctx.scope,
        ctx.command_name,
        |scope, caller| {
            let engines = server.scripting.engines();
            let Some(function) = engines.functions.function(&args[1]) else {
                return Err(CmdError::msg("ERR Function not found"));
            };
            let target = Target {
                vm: &engines.functions.vm,
                entry: Entry::Function(&function.function),
                flags: ScriptFlags {
                    compat: false,
                    ..function.flags
                },
                name: &function.name,
                eval: false,
            };
            let ran = start_run(
                server, scope, caller, out, target, ro_command, args, numkeys,
            );
            server.scripting.engines_changed(&engines);
            ran
        },
    )
}

/// What EVAL/EVALSHA or FCALL found to run.
struct Target<'a> {
    vm: &'a Vm,
    entry: Entry<'a>,
    flags: ScriptFlags,
    /// The script's SHA1 or the function's name.
    name: &'a str,
    /// EVAL/EVALSHA (SCRIPT KILL applies) rather than FCALL (FUNCTION KILL).
    eval: bool,
}

/// Checks that `target` may run (its flags against the command and the
/// server's state, in Redis's order), runs it with `args[3..]` split into
/// `numkeys` keys and the arguments, and leaves its effects in `caller`.
#[allow(clippy::too_many_arguments)]
fn start_run(
    server: &Server,
    scope: &ExclusiveScope<'_>,
    caller: &mut ClientState,
    out: &mut ReplyWriter,
    target: Target<'_>,
    ro_command: bool,
    args: &[Bytes],
    numkeys: usize,
) -> CmdResult {
    let read_only = read_only(target.flags, ro_command)?;
    check_replication_state(server, caller, target.flags, read_only)?;
    let invocation = Invocation {
        server,
        scope,
        caller: &*caller,
        read_only,
        allow_oom: allow_oom(server, target.flags, read_only)?,
        name: target.name,
        threshold: busy_threshold(server),
    };
    server.scripting.run.begin(RunInfo {
        started: std::time::Instant::now(),
        eval: target.eval,
        name: target.name.to_string(),
        command: args.to_vec(),
    });
    let (keys, argv) = args[3..].split_at(numkeys);
    let effects = invoke::run(
        target.vm,
        &invocation,
        &server.scripting.run,
        target.entry,
        keys,
        argv,
        out,
    );
    server.scripting.run.end();
    effects.hand_to(caller);
    Ok(())
}

fn script_exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let engines = ctx.server.scripting.engines();
    ctx.out.array(args.len() - 2);
    for sha in &args[2..] {
        ctx.out.integer(engines.eval.contains(sha) as i64);
    }
    Ok(())
}

/// `[ASYNC|SYNC]` of SCRIPT FLUSH and FUNCTION FLUSH (both flush at once).
fn check_flush_mode(args: &[Bytes], error: &str) -> CmdResult {
    match args.len() {
        2 => Ok(()),
        3 if is(&args[2], "async") || is(&args[2], "sync") => Ok(()),
        _ => Err(CmdError::msg(error)),
    }
}

fn new_engine<T>(made: mlua::Result<T>) -> Result<T, CmdError> {
    made.map_err(|e| CmdError::msg(format!("ERR Failed to create the Lua engine: {e}")))
}

fn script_flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    check_flush_mode(args, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")?;
    let fresh = new_engine(EvalEngine::new())?;
    let mut engines = ctx.server.scripting.engines();
    engines.eval = fresh;
    ctx.server.scripting.engines_changed(&engines);
    drop(engines);
    ctx.out.ok();
    Ok(())
}

fn script_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scripting = &ctx.server.scripting;
    let mut engines = scripting.engines();
    let loaded = engines.eval.load(&args[2]);
    scripting.engines_changed(&engines);
    drop(engines);
    let sha = loaded.map_err(CmdError::Other)?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.server
        .scripting
        .run
        .request_kill(true)
        .map_err(CmdError::msg)?;
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

fn function_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut replace = false;
    let mut at = 2;
    while at < args.len() - 1 {
        if !is(&args[at], "replace") {
            return Err(CmdError::msg(format!(
                "ERR Unknown option given: {}",
                text(&args[at])
            )));
        }
        replace = true;
        at += 1;
    }
    let code = &args[at];
    let scripting = &ctx.server.scripting;
    let name = crate::scripting::run::off_worker(|| {
        let mut engines = scripting.engines();
        let loaded = engines.functions.load(code, replace);
        scripting.libraries_changed(&engines);
        loaded
    })
    .map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scripting = &ctx.server.scripting;
    let mut engines = scripting.engines();
    let deleted = engines.functions.delete(&args[2]);
    scripting.libraries_changed(&engines);
    drop(engines);
    if !deleted {
        return Err(CmdError::msg("ERR Library not found"));
    }
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args));
    }
    check_flush_mode(args, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")?;
    let fresh = new_engine(FunctionEngine::new())?;
    ctx.server.scripting.replace_functions(fresh);
    ctx.out.ok();
    Ok(())
}

fn function_dump(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let codes = ctx.server.scripting.library_codes();
    ctx.out
        .bulk(&ferrite_storage::encode_function_payload(&codes));
    Ok(())
}

/// FUNCTION RESTORE <payload> [FLUSH|APPEND|REPLACE]: a payload that does
/// not load leaves the libraries as they were.
fn function_restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let (flush, replace) =
        match args.get(3) {
            None => (false, false),
            Some(policy) if is(policy, "append") => (false, false),
            Some(policy) if is(policy, "replace") => (false, true),
            Some(policy) if is(policy, "flush") => (true, false),
            Some(_) => return Err(CmdError::msg(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let verify = !ctx.server.debug_skip_checksum.load(Ordering::Relaxed);
    let codes: Vec<Bytes> = ferrite_storage::decode_function_payload(&args[2], verify)
        .map_err(|e| CmdError::msg(format!("ERR {e}")))?
        .into_iter()
        .map(Bytes::from)
        .collect();
    let scripting = &ctx.server.scripting;
    crate::scripting::run::off_worker(|| {
        if flush {
            scripting.replace_functions(FunctionEngine::with_libraries(codes)?);
            return Ok(());
        }
        let mut engines = scripting.engines();
        let added = engines.functions.add_libraries(codes, replace);
        scripting.libraries_changed(&engines);
        added
    })
    .map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.out.ok();
    Ok(())
}

fn function_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.server
        .scripting
        .run
        .request_kill(false)
        .map_err(CmdError::msg)?;
    ctx.out.ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut at = 2;
    while at < args.len() {
        if is(&args[at], "withcode") && !with_code {
            with_code = true;
        } else if is(&args[at], "libraryname") && pattern.is_none() {
            at += 1;
            let name = args
                .get(at)
                .ok_or_else(|| CmdError::msg("ERR library name argument was not given"))?;
            pattern = Some(name);
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unknown argument {}",
                text(&args[at])
            )));
        }
        at += 1;
    }
    let engines = ctx.server.scripting.engines();
    let libraries: Vec<_> = engines
        .functions
        .libraries()
        .filter(|lib| {
            pattern.is_none_or(|p| ferrite_storage::glob_match(p, lib.name.as_bytes(), false))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array(libraries.len());
    for library in libraries {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(library.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(library.functions.len());
        for function in library.functions.values() {
            out.map(3);
            out.bulk(b"name");
            out.bulk(function.name.as_bytes());
            out.bulk(b"description");
            match &function.description {
                Some(description) => out.bulk(description.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let flags = function.flags.names();
            out.set(flags.len());
            for flag in flags {
                out.simple(flag);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&library.code);
        }
    }
    Ok(())
}

fn function_stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let running = ctx.server.scripting.run.info();
    let (libraries, functions) = ctx.server.scripting.function_counts();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running.filter(|info| !info.eval) {
        None => out.null(),
        Some(info) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(info.name.as_bytes());
            out.bulk(b"command");
            out.array(info.command.len());
            for arg in &info.command {
                out.bulk(arg);
            }
            out.bulk(b"duration_ms");
            out.integer(info.started.elapsed().as_millis() as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.integer(libraries as i64);
    out.bulk(b"functions_count");
    out.integer(functions as i64);
    Ok(())
}

fn function_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
