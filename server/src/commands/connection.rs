//! Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use ferrite_resp::Protocol;

use crate::command::{is, parse_i64, text, CmdError, CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, ping)
        .flags(&["fast", "sentinel"])
        .acl(&["@fast", "@connection"])
        .doc("connection", "Returns the server's liveliness response."),
    CommandSpec::new("echo", 2, echo)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast", "@connection"])
        .doc("connection", "Returns the given string."),
    CommandSpec::new("quit", -1, quit)
        .flags(&[
            "allow_busy",
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
        ])
        .acl(&["@fast", "@connection"])
        .doc("connection", "Closes the connection."),
    CommandSpec::new("reset", 1, reset)
        .flags(&[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ])
        .acl(&["@fast", "@connection"])
        .doc("connection", "Resets the connection."),
    CommandSpec::new("hello", -1, hello)
        .flags(&[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "sentinel",
            "allow_busy",
        ])
        .acl(&["@fast", "@connection"])
        .doc("connection", "Handshakes with the Redis server."),
    CommandSpec::new("auth", -2, auth)
        .flags(&[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "sentinel",
            "allow_busy",
        ])
        .acl(&["@fast", "@connection"])
        .doc("connection", "Authenticates the connection."),
    CommandSpec::new("select", 2, select)
        .flags(&["loading", "stale", "fast"])
        .acl(&["@fast", "@connection"])
        .doc("connection", "Changes the selected database."),
];

fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let subscribed = ctx.client.pubsub.is_subscribed() && ctx.out.protocol() == Protocol::Resp2;
    match args {
        // RESP2 subscribed mode: `["pong", message or ""]`.
        [_] | [_, _] if subscribed => {
            ctx.out.array(2);
            ctx.out.bulk(b"pong");
            ctx.out.bulk(args.get(1).map_or(&b""[..], |m| m.as_ref()));
        }
        [_] => ctx.out.simple("PONG"),
        [_, message] => ctx.out.bulk(message),
        _ => {
            return Err(CmdError::msg(
                "ERR wrong number of arguments for 'ping' command",
            ))
        }
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    crate::transaction::MultiState::end(ctx.client);
    ctx.server.watches.unwatch_all(ctx.client);
    let client = &mut *ctx.client;
    client.select(0);
    client.reply_mode = crate::client::ReplyMode::On;
    client.no_touch = false;
    client.handle.no_evict.store(false, Ordering::Relaxed);
    // Redis's clientSetDefaultAuth.
    client.authenticated = !ctx.server.acl.auth_required();
    crate::acl::set_client_user(&ctx.server.acl, client, ctx.server.acl.default_user());
    client.handle.name.lock().clear();
    ctx.server.pubsub.unsubscribe_all(ctx.client);
    super::tracking::disable(ctx.server, ctx.client);
    if ctx.client.handle.monitor.swap(false, Ordering::SeqCst) {
        ctx.server.monitors.fetch_sub(1, Ordering::SeqCst);
    }
    set_protocol(ctx, Protocol::Resp2);
    ctx.out.simple("RESET");
    Ok(())
}

fn set_protocol(ctx: &mut Ctx<'_>, protocol: Protocol) {
    ctx.out.set_protocol(protocol);
    ctx.client
        .handle
        .resp
        .store(protocol.version() as usize, Ordering::Relaxed);
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (user, password): (&[u8], &[u8]) = match args {
        [_, password] => {
            let default = ctx.server.acl.default_user();
            if default.has(crate::acl::user::NOPASS) {
                return Err(CmdError::msg("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
            }
            (b"default", password)
        }
        [_, user, password] => (user, password),
        _ => return Err(CmdError::Syntax),
    };
    let in_multi = ctx.scope.is_some();
    if !crate::acl::authenticate(ctx.server, ctx.client, (user, password), &args[0], in_multi) {
        return Err(CmdError::msg(WRONGPASS));
    }
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut protocol = None;
    let mut rest = &args[1..];
    if let Some((version, tail)) = rest.split_first() {
        let version = parse_i64(version)
            .map_err(|_| CmdError::msg("ERR Protocol version is not an integer or out of range"))?;
        protocol = Some(match version {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(CmdError::msg("NOPROTO unsupported protocol version")),
        });
        rest = tail;
    }
    let mut name = None;
    while let Some((option, tail)) = rest.split_first() {
        if is(option, "auth") && tail.len() >= 2 {
            // Authenticated as the option is read, as Redis does.
            let credentials = (&tail[0][..], &tail[1][..]);
            let in_multi = ctx.scope.is_some();
            if !crate::acl::authenticate(ctx.server, ctx.client, credentials, &args[0], in_multi) {
                return Err(CmdError::msg(WRONGPASS));
            }
            rest = &tail[2..];
        } else if is(option, "setname") && !tail.is_empty() {
            name = Some(tail[0].clone());
            rest = &tail[1..];
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                text(option)
            )));
        }
    }
    if !ctx.client.authenticated {
        return Err(CmdError::msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(name) = name {
        super::introspection::validate_client_name(&name)?;
        *ctx.client.handle.name.lock() = text(&name);
    }
    if let Some(protocol) = protocol {
        set_protocol(ctx, protocol);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.integer(out.protocol().version());
    out.bulk(b"id");
    out.integer(ctx.client.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let index = parse_i64(&args[1])?;
    if index < 0 || index as usize >= ctx.server.keyspace.database_count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.client.select(index as usize);
    ctx.out.ok();
    Ok(())
}
