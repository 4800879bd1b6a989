//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO: a client's side of
//! client-side caching (the table and the messages are in `tracking.rs`).
//! Checks and error texts are Redis 7.0's `clientCommand`.

use bytes::Bytes;

use crate::client::ClientState;
use crate::command::{is, parse_i64, CmdError, CmdResult, Ctx};
use crate::server::Server;
use crate::tracking::{flag, Options};

/// CLIENT TRACKING (ON|OFF) [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
/// [OPTOUT] [NOLOOP].
pub fn client_tracking(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let options = parse_options(ctx, &args[3..])?;
    if is(&args[2], "on") {
        check_options(ctx.client, &options)?;
        enable(ctx.server, ctx.client, options);
    } else if is(&args[2], "off") {
        disable(ctx.server, ctx.client);
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

fn parse_options(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Options, CmdError> {
    let mut options = Options::default();
    let mut i = 0;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        let arg = &args[i];
        if is(arg, "redirect") && has_value {
            i += 1;
            if options.redirect != 0 {
                return Err(CmdError::msg(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = parse_i64(&args[i])?;
            // The client must exist now, even if it may go away later.
            if id <= 0 || ctx.server.clients.get(id as u64).is_none() {
                return Err(CmdError::msg(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
            options.redirect = id as u64;
        } else if is(arg, "bcast") {
            options.flags |= flag::BCAST;
        } else if is(arg, "optin") {
            options.flags |= flag::OPTIN;
        } else if is(arg, "optout") {
            options.flags |= flag::OPTOUT;
        } else if is(arg, "noloop") {
            options.flags |= flag::NOLOOP;
        } else if is(arg, "prefix") && has_value {
            i += 1;
            options.prefixes.push(args[i].clone());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(options)
}

/// Redis's checks of ON's options against each other and the client's
/// current mode, in its order.
fn check_options(client: &ClientState, options: &Options) -> CmdResult {
    let current = &client.handle.tracking;
    let wants = |bit| options.flags & bit != 0;
    if !wants(flag::BCAST) && !options.prefixes.is_empty() {
        return Err(CmdError::msg(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if current.has(flag::ON) && current.has(flag::BCAST) != wants(flag::BCAST) {
        return Err(CmdError::msg(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if wants(flag::BCAST) && (wants(flag::OPTIN) || wants(flag::OPTOUT)) {
        return Err(CmdError::msg(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if wants(flag::OPTIN) && wants(flag::OPTOUT) {
        return Err(CmdError::msg(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if (wants(flag::OPTIN) && current.has(flag::OPTOUT))
        || (wants(flag::OPTOUT) && current.has(flag::OPTIN))
    {
        return Err(CmdError::msg(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if wants(flag::BCAST) {
        check_prefix_collisions(client, &options.prefixes)?;
    }
    Ok(())
}

/// Two prefixes overlap when one starts the other: a key would be
/// invalidated twice (Redis's `checkPrefixCollisionsOrReply`).
fn check_prefix_collisions(client: &ClientState, prefixes: &[Bytes]) -> CmdResult {
    let overlaps = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let shown = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    for (i, prefix) in prefixes.iter().enumerate() {
        if let Some(existing) = client
            .tracking
            .prefixes
            .iter()
            .find(|p| overlaps(p, prefix))
        {
            return Err(CmdError::msg(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                shown(prefix),
                shown(existing)
            )));
        }
        if let Some(other) = prefixes[i + 1..].iter().find(|p| overlaps(p, prefix)) {
            return Err(CmdError::msg(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                shown(prefix),
                shown(other)
            )));
        }
    }
    Ok(())
}

fn enable(server: &Server, client: &mut ClientState, options: Options) {
    server
        .tracking
        .enable(&client.handle, &mut client.tracking, options);
    server.refresh_key_reports();
}

/// Turns tracking off for `client` (CLIENT TRACKING OFF, RESET, disconnect).
pub fn disable(server: &Server, client: &mut ClientState) {
    if client.handle.tracking.has(flag::ON) {
        server
            .tracking
            .disable(&client.handle, &mut client.tracking);
        server.refresh_key_reports();
    }
}

/// CLIENT CACHING YES|NO: whether the next command's keys are tracked in
/// OPTIN/OPTOUT mode.
pub fn client_caching(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mode = &ctx.client.handle.tracking;
    if !mode.has(flag::ON) {
        return Err(CmdError::msg(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    }
    if is(&args[2], "yes") {
        if !mode.has(flag::OPTIN) {
            return Err(CmdError::msg(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(&args[2], "no") {
        if !mode.has(flag::OPTOUT) {
            return Err(CmdError::msg(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.client.tracking.caching = true;
    ctx.out.ok();
    Ok(())
}

pub fn client_getredir(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.integer(ctx.client.handle.tracking.shown_redirect());
    Ok(())
}

/// CLIENT TRACKINGINFO: a map of `flags` (a set), `redirect`, `prefixes`.
pub fn client_trackinginfo(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let mode = &ctx.client.handle.tracking;
    let caching = ctx.client.tracking.caching;
    let mut flags = vec![if mode.has(flag::ON) { "on" } else { "off" }];
    if mode.has(flag::BCAST) {
        flags.push("bcast");
    }
    if mode.has(flag::OPTIN) {
        flags.push("optin");
        if caching {
            flags.push("caching-yes");
        }
    }
    if mode.has(flag::OPTOUT) {
        flags.push("optout");
        if caching {
            flags.push("caching-no");
        }
    }
    if mode.has(flag::NOLOOP) {
        flags.push("noloop");
    }
    if mode.has(flag::BROKEN_REDIR) {
        flags.push("broken_redirect");
    }
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for name in flags {
        out.bulk(name.as_bytes());
    }
    out.bulk(b"redirect");
    out.integer(mode.shown_redirect());
    out.bulk(b"prefixes");
    out.array(ctx.client.tracking.prefixes.len());
    for prefix in &ctx.client.tracking.prefixes {
        out.bulk(prefix);
    }
    Ok(())
}

/// After a command: the keys a read-only command fetched are remembered for
/// a tracking client (Redis's `call` and `trackingRememberKeys`). A script's
/// read commands remember the keys the script declared instead; EVAL_RO,
/// EVALSHA_RO and FCALL_RO themselves remember nothing.
pub fn remember_keys(server: &Server, client: &ClientState, command_id: usize, request: &[Bytes]) {
    let mode = &client.handle.tracking;
    if !mode.has(flag::ON) || mode.has(flag::BCAST) {
        return;
    }
    let spec = server.commands.spec(command_id);
    let name = server.commands.full_name(command_id);
    if !spec.has_flag("readonly")
        || spec.has_flag("pubsub")
        || matches!(name, "eval_ro" | "evalsha_ro" | "fcall_ro")
    {
        return;
    }
    let caching = client.tracking.caching;
    if (mode.has(flag::OPTIN) && !caching) || (mode.has(flag::OPTOUT) && caching) {
        return;
    }
    let keys: Vec<&[u8]> = match &client.tracking.script_keys {
        Some(keys) => keys.iter().map(|k| k.as_ref()).collect(),
        None => spec
            .key_positions(request)
            .into_iter()
            .map(|i| request[i].as_ref())
            .collect(),
    };
    if !keys.is_empty() {
        server.tracking.remember(client.handle.id, &keys);
    }
}

/// CLIENT CACHING lasts for one command, or the transaction it precedes
/// (Redis's `resetClient`): cleared after any top-level command but CLIENT
/// itself, unless a MULTI is open.
pub fn end_of_command(client: &mut ClientState, request: &[Bytes]) {
    if client.tracking.caching
        && client.multi.is_none()
        && !request.first().is_some_and(|name| is(name, "client"))
    {
        client.tracking.caching = false;
    }
}
