//! The flags a command is judged by before it runs, as Redis's
//! `getCommandFlags` (src/server.c) computes them: EVAL, EVALSHA, FCALL and
//! their read-only forms take the flags their script or function declares
//! (`#!lua flags=...`, `register_function{flags=...}`), so a `no-writes`
//! script is not a write; an EXEC is judged by what it queued.

use bytes::Bytes;

use crate::client::ClientState;
use crate::command::CommandSpec;
use crate::scripting::eval::{parse_shebang, ScriptFlags};
use crate::server::Server;

/// Whether the request may write or feed the replication stream (Redis's
/// `is_may_replicate_command`): what CLIENT PAUSE WRITE holds back.
pub fn may_replicate(
    server: &Server,
    client: &ClientState,
    spec: &CommandSpec,
    name: &str,
    request: &[Bytes],
) -> bool {
    if name == "exec" {
        // Judged when EXEC comes rather than when each command was queued
        // (Redis's `mstate.cmd_flags`): the same unless a script was loaded
        // or flushed in between.
        return client.multi.as_ref().is_some_and(|multi| {
            multi.commands.iter().any(|queued| {
                let Some((id, spec)) = queued.first().and_then(|n| server.commands.lookup(n))
                else {
                    return false;
                };
                may_replicate(server, client, spec, server.commands.full_name(id), queued)
            })
        });
    }
    match declared_flags(server, name, request) {
        Some(flags) if !flags.compat => !flags.no_writes,
        _ => spec.has_flag("write") || spec.has_flag("may_replicate"),
    }
}

/// The flags the script or function a request runs declares, if it runs one
/// Redis can tell before running it (Redis's `evalGetCommandFlags` and
/// `fcallGetCommandFlags`): an EVAL's own shebang, a cached script's, a
/// loaded function's.
fn declared_flags(server: &Server, name: &str, request: &[Bytes]) -> Option<ScriptFlags> {
    let target = request.get(1)?;
    match name {
        "eval" | "eval_ro" => parse_shebang(target).ok().map(|(flags, _)| flags),
        "evalsha" | "evalsha_ro" if target.len() == 40 => server
            .scripting
            .engines()
            .eval
            .get(target)
            .map(|script| script.flags),
        "fcall" | "fcall_ro" => server
            .scripting
            .engines()
            .functions
            .function(target)
            .map(|function| function.flags),
        _ => None,
    }
}
