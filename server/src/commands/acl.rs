//! ACL and its subcommands (Redis's `aclCommand`): replies and errors over
//! the users and log of `crate::acl`.

use bytes::Bytes;
use rand::RngCore;

use crate::acl::selector::{Denied, Selector};
use crate::acl::{self, user};
use crate::command::{is, parse_i64, text, CmdError, CmdResult, CommandSpec, Ctx};

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale", "sentinel"];
const PLAIN: &[&str] = &["noscript", "loading", "stale", "sentinel"];

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("acl", SUBCOMMANDS)
    .flags(&["sentinel"])
    .doc("server", "A container for Access List Control commands ")];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cat", -2, cat).flags(PLAIN).doc(
        "server",
        "List the ACL categories or the commands inside a category",
    ),
    CommandSpec::new("deluser", -3, deluser).flags(ADMIN).doc(
        "server",
        "Remove the specified ACL users and the associated rules",
    ),
    CommandSpec::new("dryrun", -4, dryrun).flags(ADMIN).doc(
        "server",
        "Returns whether the user can execute the given command without executing the command.",
    ),
    CommandSpec::new("genpass", -2, genpass).flags(PLAIN).doc(
        "server",
        "Generate a pseudorandom secure password to use for ACL users",
    ),
    CommandSpec::new("getuser", 3, getuser)
        .flags(ADMIN)
        .doc("server", "Get the rules for a specific ACL user"),
    CommandSpec::new("help", 2, help)
        .flags(&["loading", "stale", "sentinel"])
        .doc(
            "server",
            "Show helpful text about the different subcommands",
        ),
    CommandSpec::new("list", 2, list).flags(ADMIN).doc(
        "server",
        "List the current ACL rules in ACL config file format",
    ),
    CommandSpec::new("load", 2, load)
        .flags(ADMIN)
        .doc("server", "Reload the ACLs from the configured ACL file"),
    CommandSpec::new("log", -2, log).flags(ADMIN).doc(
        "server",
        "List latest events denied because of ACLs in place",
    ),
    CommandSpec::new("save", 2, save).flags(ADMIN).doc(
        "server",
        "Save the current ACL rules in the configured ACL file",
    ),
    CommandSpec::new("setuser", -3, setuser).flags(ADMIN).doc(
        "server",
        "Modify or create the rules for a specific ACL user",
    ),
    CommandSpec::new("users", 2, users).flags(ADMIN).doc(
        "server",
        "List the username of all the configured ACL rules",
    ),
    CommandSpec::new("whoami", 2, whoami).flags(PLAIN).doc(
        "server",
        "Return the name of the user associated to the current connection",
    ),
];

fn setuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = &args[2];
    if acl::selector::has_spaces(name) {
        return Err(CmdError::msg(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    acl::set_user(ctx.server, ctx.client, name, &args[3..]).map_err(CmdError::msg)?;
    ctx.out.ok();
    Ok(())
}

fn deluser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args[2..].iter().any(|name| &name[..] == b"default") {
        return Err(CmdError::msg("ERR The 'default' user cannot be removed"));
    }
    let mut deleted = 0;
    for name in &args[2..] {
        if acl::delete_user(ctx.server, ctx.client, name) {
            deleted += 1;
        }
    }
    ctx.out.integer(deleted);
    Ok(())
}

fn getuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.server.acl.user(&args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags: Vec<&str> = user::FLAG_NAMES
        .iter()
        .filter(|(flag, _)| user.has(*flag))
        .map(|(_, name)| *name)
        .collect();
    out.set(flags.len());
    for flag in flags {
        out.bulk(flag.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(user.passwords.len());
    for password in &user.passwords {
        out.bulk(password.as_bytes());
    }
    write_selector(ctx, &user.selectors[0]);
    ctx.out.bulk(b"selectors");
    ctx.out.array(user.selectors.len() - 1);
    for selector in &user.selectors[1..] {
        ctx.out.map(3);
        write_selector(ctx, selector);
    }
    Ok(())
}

/// A selector's `commands`, `keys` and `channels` fields (Redis's
/// `aclAddReplySelectorDescription`).
fn write_selector(ctx: &mut Ctx<'_>, selector: &Selector) {
    let out = &mut *ctx.out;
    out.bulk(b"commands");
    out.bulk(acl::command_rules(&ctx.server.acl.index, selector).as_bytes());
    out.bulk(b"keys");
    if selector.all_keys {
        out.bulk(b"~*");
    } else {
        out.bulk(&joined(&selector.patterns, |p, into| p.describe(into)));
    }
    out.bulk(b"channels");
    if selector.all_channels {
        out.bulk(b"&*");
    } else {
        out.bulk(&joined(&selector.channels, |channel, into| {
            into.push(b'&');
            into.extend_from_slice(channel);
        }));
    }
}

/// Items described one after another, separated by spaces.
fn joined<T>(items: &[T], describe: impl Fn(&T, &mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        describe(item, &mut out);
    }
    out
}

fn list(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let lines = acl::file::user_lines(&ctx.server.acl);
    ctx.out.array(lines.len());
    for line in lines {
        ctx.out.bulk(&line);
    }
    Ok(())
}

fn users(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let users = ctx.server.acl.users();
    ctx.out.array(users.len());
    for user in users {
        ctx.out.bulk(&user.name);
    }
    Ok(())
}

fn whoami(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    match ctx.client.acl.user() {
        Some(user) => ctx.out.bulk(&user.name),
        None => ctx.out.null(),
    }
    Ok(())
}

/// The configured `aclfile`, or Redis's error when there is none.
fn aclfile(ctx: &Ctx<'_>) -> Result<String, CmdError> {
    let path = ctx.server.config.read().get("aclfile").to_string();
    if path.is_empty() {
        return Err(CmdError::msg("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."));
    }
    Ok(path)
}

fn load(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let path = aclfile(ctx)?;
    acl::file::reload(ctx.server, ctx.client, &path)
        .map_err(|errors| CmdError::msg(format!("ERR {errors}")))?;
    ctx.out.ok();
    Ok(())
}

fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let path = aclfile(ctx)?;
    if !acl::file::save_file(&ctx.server.acl, &path) {
        return Err(CmdError::msg("ERR There was an error trying to save the ACLs. Please check the server logs for more information"));
    }
    ctx.out.ok();
    Ok(())
}

fn cat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    use crate::command::ACL_CATEGORY_ORDER;
    match args {
        [_, _] => {
            ctx.out.array(ACL_CATEGORY_ORDER.len());
            for category in ACL_CATEGORY_ORDER {
                ctx.out.bulk(&category.as_bytes()[1..]);
            }
        }
        [_, _, name] => {
            let category = acl::commands::category_index(name).ok_or_else(|| {
                let shown: String = text(name).chars().take(128).collect();
                CmdError::msg(format!("ERR Unknown category '{shown}'"))
            })?;
            let index = &ctx.server.acl.index;
            let names: Vec<&str> = index
                .ids()
                .filter(|&id| index.in_category(id, category))
                .map(|id| index.full_name(id))
                .collect();
            ctx.out.array(names.len());
            for name in names {
                ctx.out.bulk(name.as_bytes());
            }
        }
        _ => return Err(CmdError::subcommand_syntax(args)),
    }
    Ok(())
}

/// Redis's `GENPASS_MAX_BITS`.
const GENPASS_MAX_BITS: i64 = 4096;

fn genpass(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let bits = match args {
        [_, _] => 256,
        [_, _, bits] => parse_i64(bits)?,
        _ => return Err(CmdError::subcommand_syntax(args)),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(CmdError::msg(format!("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}")));
    }
    let chars = (bits as usize).div_ceil(4);
    let mut random = vec![0u8; chars.div_ceil(2)];
    rand::thread_rng().fill_bytes(&mut random);
    let mut hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(chars);
    ctx.out.bulk(hex.as_bytes());
    Ok(())
}

fn log(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = match args {
        [_, _] => 10,
        [_, _, arg] if is(arg, "reset") => {
            ctx.server.acl.log.lock().reset();
            ctx.out.ok();
            return Ok(());
        }
        [_, _, count] => parse_i64(count)?.max(0) as usize,
        _ => return Err(CmdError::subcommand_syntax(args)),
    };
    ctx.server
        .acl
        .log
        .lock()
        .write(ctx.out, count, acl::now_ms());
    Ok(())
}

fn dryrun(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let server = ctx.server;
    let user = server
        .acl
        .user(&args[2])
        .ok_or_else(|| CmdError::msg(format!("ERR User '{}' not found", text(&args[2]))))?;
    let request = &args[3..];
    let (id, spec) = acl::lookup_command(server, request)
        .ok_or_else(|| CmdError::msg(format!("ERR Command '{}' not found", text(&request[0]))))?;
    if !spec.arity_ok(request.len()) {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            server.commands.full_name(id)
        )));
    }
    match user.check(&server.acl.index, id, spec, request) {
        Ok(()) => ctx.out.ok(),
        Err(denied) => {
            let message = match denied {
                Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    server.commands.full_name(id)
                ),
                Denied::Key(pos) => format!(
                    "This user has no permissions to access the '{}' key",
                    text(&request[pos])
                ),
                Denied::Channel(pos) => format!(
                    "This user has no permissions to access the '{}' channel",
                    text(&request[pos])
                ),
            };
            ctx.out.bulk(message.as_bytes());
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::introspection::help_reply(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}
