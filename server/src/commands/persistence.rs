//! SAVE and BGSAVE: writing the keyspace to the RDB file on request (the
//! work itself is in `crate::persistence`).

use bytes::Bytes;

use crate::command::{is, CmdError, CmdResult, CommandSpec, Ctx};
use crate::persistence;

const ACL: &[&str] = &["@admin", "@slow", "@dangerous"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, save)
        .flags(&["admin", "noscript", "no_async_loading", "no_multi"])
        .acl(ACL)
        .doc("server", "Synchronously saves the database(s) to disk."),
    CommandSpec::new("bgrewriteaof", 1, bgrewriteaof)
        .flags(&["admin", "noscript", "no_async_loading"])
        .acl(ACL)
        .doc(
            "server",
            "Asynchronously rewrites the append-only file to disk.",
        ),
    CommandSpec::new("bgsave", -1, bgsave)
        .flags(&["admin", "noscript", "no_async_loading"])
        .acl(ACL)
        .doc("server", "Asynchronously saves the database(s) to disk."),
];

fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.server.persistence.bgsave_in_progress() {
        return Err(CmdError::msg("ERR Background save already in progress"));
    }
    persistence::save_command(ctx.server).map_err(|_| CmdError::msg("ERR"))?;
    ctx.out.ok();
    Ok(())
}

/// BGREWRITEAOF (Redis's `bgrewriteaofCommand`).
fn bgrewriteaof(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    use crate::aof::Requested;
    match crate::aof::bgrewriteaof(ctx.server, ctx.scope.is_some()) {
        Requested::Started => ctx
            .out
            .simple("Background append only file rewriting started"),
        Requested::Scheduled => ctx
            .out
            .simple("Background append only file rewriting scheduled"),
        Requested::AlreadyRunning => {
            return Err(CmdError::msg(
                "ERR Background append only file rewriting already in progress",
            ))
        }
        Requested::Failed => return Err(CmdError::msg(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
        )),
    }
    Ok(())
}

/// BGSAVE [SCHEDULE]: while an AOF rewrite runs, SCHEDULE makes it start
/// once the rewrite is done (and it is refused without). A running save is
/// refused either way.
fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let schedule = match &args[1..] {
        [] => false,
        [option] if is(option, "schedule") => true,
        _ => return Err(CmdError::Syntax),
    };
    if ctx.server.persistence.bgsave_in_progress() {
        return Err(CmdError::msg("ERR Background save already in progress"));
    }
    let rewriting = ctx
        .server
        .aof
        .stats
        .rewrite_in_progress
        .load(std::sync::atomic::Ordering::SeqCst);
    if rewriting && !schedule {
        return Err(CmdError::msg("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
    }
    if !ctx.server.persistence.request_bgsave() {
        return Err(CmdError::msg("ERR Background save already in progress"));
    }
    if rewriting {
        ctx.out.simple("Background saving scheduled");
    } else {
        ctx.out.simple("Background saving started");
    }
    Ok(())
}
