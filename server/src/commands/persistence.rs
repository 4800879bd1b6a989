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

/// BGSAVE [SCHEDULE]. SCHEDULE only matters in Redis while an AOF rewrite
/// runs, which Ferrite never has; a running save is refused either way.
fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match &args[1..] {
        [] => {}
        [option] if is(option, "schedule") => {}
        _ => return Err(CmdError::Syntax),
    }
    if !ctx.server.persistence.request_bgsave() {
        return Err(CmdError::msg("ERR Background save already in progress"));
    }
    ctx.out.simple("Background saving started");
    Ok(())
}
