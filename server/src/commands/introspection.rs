//! Introspection of clients and commands: CLIENT, COMMAND, MONITOR.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::command_info::{write_command_info, write_key_flags};
use super::docs::write_docs;
use crate::client::{ClientState, ReplyMode};
use crate::command::{is, parse_i64, text, CmdError, CmdResult, CommandSpec, Ctx};
use crate::pause::{PausePurpose, PauseScope};

const CONN: &[&str] = &["@slow", "@connection"];
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("client", CLIENT_SUBCOMMANDS)
        .doc("connection", "A container for client connection commands."),
    CommandSpec::container("command", COMMAND_SUBCOMMANDS)
        .with_handler(-1, command_info)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc("server", "Returns detailed information about all commands."),
    CommandSpec::new("monitor", 1, monitor)
        .flags(ADMIN)
        .acl(&["@admin", "@slow", "@dangerous"])
        .doc(
            "server",
            "Listens for all requests received by the server in real-time.",
        ),
];

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("id", 2, client_id)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Returns the unique client ID of the connection.",
        ),
    CommandSpec::new("setname", 3, client_setname)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc("connection", "Sets the connection name."),
    CommandSpec::new("getname", 2, client_getname)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc("connection", "Returns the name of the connection."),
    CommandSpec::new("setinfo", 4, client_setinfo)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Sets information specific to the client or connection.",
        ),
    CommandSpec::new("info", 2, client_info)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc("connection", "Returns information about the connection."),
    CommandSpec::new("list", -2, client_list)
        .flags(ADMIN)
        .acl(&["@admin", "@slow", "@dangerous", "@connection"])
        .doc("connection", "Lists open connections."),
    CommandSpec::new("kill", -3, client_kill)
        .flags(ADMIN)
        .acl(&["@admin", "@slow", "@dangerous", "@connection"])
        .doc("connection", "Terminates open connections."),
    CommandSpec::new("pause", -3, client_pause)
        .flags(ADMIN)
        .acl(&["@admin", "@slow", "@dangerous", "@connection"])
        .doc("connection", "Suspends commands processing."),
    CommandSpec::new("unpause", 2, client_unpause)
        .flags(ADMIN)
        .acl(&["@admin", "@slow", "@dangerous", "@connection"])
        .doc(
            "connection",
            "Resumes processing commands from paused clients.",
        ),
    CommandSpec::new("unblock", -3, client_unblock)
        .flags(&["admin", "noscript", "loading", "stale"])
        .acl(&["@admin", "@slow", "@dangerous", "@connection"])
        .doc(
            "connection",
            "Unblocks a client blocked by a blocking command from a different connection.",
        ),
    CommandSpec::new("reply", 3, client_reply)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Instructs the server whether to reply to commands.",
        ),
    CommandSpec::new("no-evict", 3, client_no_evict)
        .flags(ADMIN)
        .acl(&["@admin", "@slow", "@dangerous", "@connection"])
        .doc(
            "connection",
            "Sets the client eviction mode of the connection.",
        ),
    CommandSpec::new("no-touch", 3, client_no_touch)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        ),
    CommandSpec::new("help", 2, client_help)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Returns helpful text about the different subcommands.",
        ),
    CommandSpec::new("tracking", -3, super::tracking::client_tracking)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Controls server-assisted client-side caching for the connection.",
        ),
    CommandSpec::new("caching", 3, super::tracking::client_caching)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Instructs the server whether to track the keys in the next request.",
        ),
    CommandSpec::new("getredir", 2, super::tracking::client_getredir)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Returns the client ID to which the connection's tracking notifications are redirected.",
        ),
    CommandSpec::new("trackinginfo", 2, super::tracking::client_trackinginfo)
        .flags(&["noscript", "loading", "stale"])
        .acl(CONN)
        .doc(
            "connection",
            "Returns information about server-assisted client-side caching for the connection.",
        ),
];

const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("count", 2, command_count)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc("server", "Returns a count of commands."),
    CommandSpec::new("info", -2, command_info)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc(
            "server",
            "Returns information about one, multiple or all commands.",
        ),
    CommandSpec::new("docs", -2, command_docs)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc(
            "server",
            "Returns documentary information about one, multiple or all commands.",
        ),
    CommandSpec::new("list", -2, command_list)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc("server", "Returns a list of command names."),
    CommandSpec::new("getkeys", -4, command_getkeys)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc(
            "server",
            "Extracts the key names from an arbitrary command.",
        ),
    CommandSpec::new("getkeysandflags", -4, command_getkeysandflags)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc(
            "server",
            "Extract keys and access flags given a full Redis command",
        ),
    CommandSpec::new("help", 2, command_help)
        .flags(&["loading", "stale"])
        .acl(CONN)
        .doc(
            "server",
            "Returns helpful text about the different subcommands.",
        ),
];

/// Redis's HELP reply: a title line, the given lines, and the HELP line.
pub fn help_reply(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        ctx.out.simple(line);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

pub fn validate_client_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&c| c <= b' ' || c > b'~') {
        return Err(CmdError::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn client_id(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.integer(ctx.client.handle.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    validate_client_name(&args[2])?;
    *ctx.client.handle.name.lock() = text(&args[2]);
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let name = ctx.client.handle.name.lock().clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let value = &args[3];
    if value.iter().any(|c| !(b'!'..=b'~').contains(c)) {
        return Err(CmdError::msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            text(&args[2]).to_ascii_uppercase()
        )));
    }
    let target = if is(&args[2], "lib-name") {
        &ctx.client.handle.lib_name
    } else if is(&args[2], "lib-ver") {
        &ctx.client.handle.lib_version
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unrecognized option '{}'",
            text(&args[2])
        )));
    };
    *target.lock() = text(value);
    ctx.out.ok();
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let line = ctx.client.handle.info_line();
    ctx.out.verbatim("txt", format!("{line}\n").as_bytes());
    Ok(())
}

fn client_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut type_filter: Option<String> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "type") && i + 1 < args.len() {
            let kind = text(&args[i + 1]).to_ascii_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&kind.as_str()) {
                return Err(CmdError::msg(format!(
                    "ERR Unknown client type '{}'",
                    text(&args[i + 1])
                )));
            }
            type_filter = Some(kind);
            i += 2;
        } else if is(&args[i], "id") && i + 1 < args.len() {
            let mut list = Vec::new();
            for arg in &args[i + 1..] {
                let id = parse_i64(arg)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CmdError::msg("ERR Invalid client ID"))?;
                list.push(id as u64);
            }
            ids = Some(list);
            i = args.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut listing = String::new();
    for handle in ctx.server.clients.all() {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&handle.id)) {
            continue;
        }
        if type_filter
            .as_deref()
            .is_some_and(|t| crate::client::type_name(t) != handle.client_type())
        {
            continue;
        }
        listing.push_str(&handle.info_line());
        listing.push('\n');
    }
    ctx.out.verbatim("txt", listing.as_bytes());
    Ok(())
}

/// Closes a client's connection. A replica also leaves the replication
/// log at once, as Redis frees it within the command: what is written next
/// may trim the backlog past its offset (its link task ends on its own).
fn kill_client(server: &crate::server::Server, handle: &crate::client::ClientHandle) {
    handle.kill();
    if handle.kind() == crate::client::ClientKind::Replica {
        server.replication.log.remove_replica(handle.id);
    }
}

fn client_kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let all = ctx.server.clients.all();
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let address = text(&args[2]);
        let target = all.iter().find(|h| h.peer.to_string() == address);
        let Some(target) = target else {
            return Err(CmdError::msg("ERR No such client"));
        };
        kill_client(ctx.server, target);
        ctx.out.ok();
        return Ok(());
    }
    let mut filters: Vec<(String, String)> = Vec::new();
    let mut skip_me = true;
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        let option = text(&args[i]).to_ascii_lowercase();
        let value = text(value);
        match option.as_str() {
            "id" => {
                parse_i64(value.as_bytes())
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CmdError::msg("ERR client-id should be greater than 0"))?;
            }
            "type" => {
                if !["normal", "master", "replica", "slave", "pubsub"]
                    .contains(&value.to_ascii_lowercase().as_str())
                {
                    return Err(CmdError::msg(format!("ERR Unknown client type '{value}'")));
                }
            }
            "skipme" => {
                skip_me = match value.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(CmdError::Syntax),
                };
            }
            "user" => {
                if ctx.server.acl.user(value.as_bytes()).is_none() {
                    return Err(CmdError::msg(format!("ERR No such user '{value}'")));
                }
            }
            "addr" | "laddr" | "maxage" => {}
            _ => return Err(CmdError::Syntax),
        }
        filters.push((option, value));
        i += 2;
    }
    let me = ctx.client.handle.id;
    let mut killed = 0;
    for handle in all {
        if skip_me && handle.id == me {
            continue;
        }
        let matches = filters.iter().all(|(option, value)| match option.as_str() {
            "id" => handle.id.to_string() == *value,
            "addr" => handle.peer.to_string() == *value,
            "laddr" => handle.local.to_string() == *value,
            "type" => crate::client::type_name(&value.to_ascii_lowercase()) == handle.client_type(),
            "user" => handle.user.lock()[..] == *value.as_bytes(),
            "maxage" => value
                .parse::<u64>()
                .is_ok_and(|age| handle.created.elapsed().as_secs() >= age),
            _ => true,
        });
        if matches {
            kill_client(ctx.server, &handle);
            killed += 1;
        }
    }
    ctx.out.integer(killed);
    Ok(())
}

/// CLIENT PAUSE <timeout> [WRITE|ALL], checked in Redis's order (the mode,
/// then the timeout). A timeout of 0 ends at once, but still widens the
/// scope of a CLIENT PAUSE in force, as Redis's `pauseClients` does.
fn client_pause(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        )));
    }
    let scope = match args.get(3) {
        None => PauseScope::All,
        Some(mode) if is(mode, "all") => PauseScope::All,
        Some(mode) if is(mode, "write") => PauseScope::Write,
        Some(_) => return Err(CmdError::msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let millis = parse_i64(&args[2])
        .map_err(|_| CmdError::msg("ERR timeout is not an integer or out of range"))?;
    if millis < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    let until = Instant::now() + Duration::from_millis(millis as u64);
    crate::pause::pause(ctx.server, PausePurpose::ClientCommand, scope, until);
    ctx.out.ok();
    Ok(())
}

fn client_unblock(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let id = parse_i64(&args[2])?;
    let with_error = match args.get(3) {
        None => false,
        Some(mode) if is(mode, "timeout") => false,
        Some(mode) if is(mode, "error") => true,
        Some(_) => {
            return Err(CmdError::msg(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    if args.len() > 4 {
        return Err(CmdError::Syntax);
    }
    let unblocked = id > 0 && ctx.server.blocking.unblock(id as u64, with_error);
    ctx.out.integer(unblocked as i64);
    Ok(())
}

fn client_unpause(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    crate::pause::unpause(ctx.server, PausePurpose::ClientCommand);
    ctx.out.ok();
    Ok(())
}

fn client_reply(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mode = &args[2];
    if is(mode, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if is(mode, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(mode, "skip") {
        if ctx.client.reply_mode == ReplyMode::On {
            ctx.client.reply_mode = ReplyMode::Skip;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn client_no_evict(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let on = on_off(&args[2])?;
    ctx.client.handle.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn client_no_touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ctx.client.no_touch = on_off(&args[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME, MAXAGE.",
            "LIST [options ...]",
            "    Return information about client connections. Options: TYPE, ID.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    );
    Ok(())
}

fn command_count(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let count = ctx.server.commands.top_level().count();
    ctx.out.integer(count as i64);
    Ok(())
}

/// COMMAND (no subcommand) and COMMAND INFO [name ...].
fn command_info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let table = &ctx.server.commands;
    if args.len() <= 2 {
        let specs: Vec<_> = table.top_level().collect();
        ctx.out.array(specs.len());
        for spec in specs {
            write_command_info(ctx.out, spec, spec.name);
        }
        return Ok(());
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match find_command(ctx, name) {
            Some((full_name, spec)) => write_command_info(ctx.out, spec, full_name),
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// A command by name, or a subcommand as `container|sub`.
fn find_command(ctx: &Ctx<'_>, name: &[u8]) -> Option<(&'static str, &'static CommandSpec)> {
    let table = &ctx.server.commands;
    let name = text(name).to_ascii_lowercase();
    match name.split_once('|') {
        Some((container, sub)) => {
            let (id, _) = table.lookup(container.as_bytes())?;
            let (sub_id, spec) = table.lookup_subcommand(id, sub.as_bytes())?;
            Some((table.full_name(sub_id), spec))
        }
        None => {
            let (id, spec) = table.lookup(name.as_bytes())?;
            Some((table.full_name(id), spec))
        }
    }
}

fn command_docs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let specs: Vec<(&'static str, &'static CommandSpec)> = if args.len() <= 2 {
        ctx.server
            .commands
            .top_level()
            .map(|s| (s.name, s))
            .collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|name| find_command(ctx, name))
            .collect()
    };
    ctx.out.map(specs.len());
    for (name, spec) in specs {
        ctx.out.bulk(name.as_bytes());
        write_docs(ctx.out, spec, name);
    }
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE|ACLCAT|PATTERN value]: every command and
/// subcommand by full name, or those the filter keeps (no module commands
/// exist, so MODULE keeps none; an unknown category keeps none).
fn command_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    enum Filter<'a> {
        All,
        Module,
        AclCategory(String),
        Pattern(&'a [u8]),
    }
    let filter = match &args[2..] {
        [] => Filter::All,
        [by, kind, value] if is(by, "filterby") => {
            if is(kind, "module") {
                Filter::Module
            } else if is(kind, "aclcat") {
                Filter::AclCategory(format!("@{}", text(value)))
            } else if is(kind, "pattern") {
                Filter::Pattern(value)
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let names: Vec<&str> = ctx
        .server
        .commands
        .all()
        .filter(|(_, name, spec)| match &filter {
            Filter::All => true,
            Filter::Module => false,
            Filter::AclCategory(category) => spec
                .acl_categories()
                .iter()
                .any(|c| c.eq_ignore_ascii_case(category)),
            Filter::Pattern(pattern) => ferrite_storage::glob_match(pattern, name.as_bytes(), true),
        })
        .map(|(_, name, _)| name)
        .collect();
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

fn command_getkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    write_keys(ctx, args, false)
}

fn command_getkeysandflags(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    write_keys(ctx, args, true)
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS (Redis's `getKeysSubcommandImpl`).
fn write_keys(ctx: &mut Ctx<'_>, args: &[Bytes], with_flags: bool) -> CmdResult {
    let command = &args[2..];
    let table = &ctx.server.commands;
    let Some((id, mut spec)) = table.lookup(&command[0]) else {
        return Err(CmdError::msg("ERR Invalid command specified"));
    };
    if !spec.subcommands.is_empty() && command.len() > 1 {
        match table.lookup_subcommand(id, &command[1]) {
            Some((_, sub)) => spec = sub,
            None => return Err(CmdError::msg("ERR Invalid command specified")),
        }
    }
    if !spec.has_keys() {
        return Err(CmdError::msg("ERR The command has no key arguments"));
    }
    if !spec.arity_ok(command.len()) {
        return Err(CmdError::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = spec.find_keys(command);
    if keys.is_empty() && !spec.has_flag("no_mandatory_keys") {
        return Err(CmdError::msg("ERR Invalid arguments specified for command"));
    }
    ctx.out.array(keys.len());
    for key in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(&command[key.pos]);
            write_key_flags(ctx.out, key.flags);
        } else {
            ctx.out.bulk(&command[key.pos]);
        }
    }
    Ok(())
}

fn command_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

fn monitor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if !ctx.client.handle.monitor.swap(true, Ordering::SeqCst) {
        ctx.server.monitors.fetch_add(1, Ordering::SeqCst);
    }
    ctx.out.ok();
    Ok(())
}

/// `+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"` as MONITOR prints it.
pub fn monitor_line(client: &ClientState, request: &[Bytes]) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // A script's commands show `lua` where a client's show its address.
    let source = if client.in_script {
        "lua".to_string()
    } else {
        client.handle.peer.to_string()
    };
    let mut line = format!(
        "+{}.{:06} [{} {source}]",
        now.as_secs(),
        now.subsec_micros(),
        client.db,
    );
    for arg in request {
        line.push_str(" \"");
        for &byte in arg.iter() {
            match byte {
                b'\\' => line.push_str("\\\\"),
                b'"' => line.push_str("\\\""),
                b'\n' => line.push_str("\\n"),
                b'\r' => line.push_str("\\r"),
                b'\t' => line.push_str("\\t"),
                0x20..=0x7e => line.push(byte as char),
                _ => line.push_str(&format!("\\x{byte:02x}")),
            }
        }
        line.push('"');
    }
    line.push_str("\r\n");
    Bytes::from(line)
}
