//! The blocking sorted-set pops: BZPOPMIN, BZPOPMAX, BZMPOP. Like the list
//! ones, each tries its non-blocking form and otherwise blocks the client on
//! its keys until a write (ZADD, ZUNIONSTORE, ...) makes one of them non-empty.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;

use super::zsets::{parse_zmpop_args, pop_first_nonempty, write_mpop_reply};
use crate::blocking::{parse_timeout, TimeoutReply, TryServe};
use crate::command::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::server::Server;

const ACL: &[&str] = &["@write", "@sortedset", "@fast", "@blocking"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("bzpopmin", -3, bzpopmin).flags(&["write", "fast", "blocking"]).keys(1, -2, 1).acl(ACL).doc("sorted-set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    CommandSpec::new("bzpopmax", -3, bzpopmax).flags(&["write", "fast", "blocking"]).keys(1, -2, 1).acl(ACL).doc("sorted-set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped."),
    CommandSpec::new("bzmpop", -5, bzmpop).flags(&["write", "blocking", "movablekeys"]).acl(&["@write", "@sortedset", "@slow", "@blocking"]).doc("sorted-set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
];

/// A blocked client is served by whatever its attempt replies, errors included.
fn served(attempt: Result<bool, CmdError>, out: &mut ReplyWriter) -> bool {
    attempt.unwrap_or_else(|error| {
        out.error(error.text());
        true
    })
}

/// BZPOPMIN/BZPOPMAX: `[key, member, score]` from the first non-empty key.
fn try_pop_one(
    server: &Server,
    db: usize,
    args: &[Bytes],
    max: bool,
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let keys = &args[1..args.len() - 1];
    let ks = server.keyspace.read();
    let popped = pop_first_nonempty(&ks, db, keys, max, 1)?;
    drop(ks);
    let Some((key, elements)) = popped else {
        return Ok(false);
    };
    let Some((score, member)) = elements.first() else {
        return Ok(false);
    };
    out.array(3);
    out.bulk(key);
    out.bulk(member);
    out.double(*score);
    Ok(true)
}

fn serve_bzpopmin(server: &Server, db: usize, args: &[Bytes], out: &mut ReplyWriter) -> bool {
    served(try_pop_one(server, db, args, false, out), out)
}

fn serve_bzpopmax(server: &Server, db: usize, args: &[Bytes], out: &mut ReplyWriter) -> bool {
    served(try_pop_one(server, db, args, true, out), out)
}

fn blocking_pop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool, serve: TryServe) -> CmdResult {
    let timeout = parse_timeout(&args[args.len() - 1])?;
    if try_pop_one(ctx.server, ctx.client.db, args, max, ctx.out)? {
        return Ok(());
    }
    let keys = args[1..args.len() - 1].to_vec();
    ctx.block_on(
        keys,
        Vec::new(),
        args,
        timeout,
        TimeoutReply::NullArray,
        serve,
    );
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, false, serve_bzpopmin)
}

fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, true, serve_bzpopmax)
}

fn try_mpop(
    server: &Server,
    db: usize,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let parsed = parse_zmpop_args(&args[2..])?;
    let ks = server.keyspace.read();
    let popped = pop_first_nonempty(&ks, db, parsed.keys, parsed.max, parsed.count)?;
    drop(ks);
    let Some((key, elements)) = popped else {
        return Ok(false);
    };
    write_mpop_reply(out, key, &elements);
    Ok(true)
}

fn serve_bzmpop(server: &Server, db: usize, args: &[Bytes], out: &mut ReplyWriter) -> bool {
    served(try_mpop(server, db, args, out), out)
}

fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&args[1])?;
    let keys = parse_zmpop_args(&args[2..])?.keys.to_vec();
    if try_mpop(ctx.server, ctx.client.db, args, ctx.out)? {
        return Ok(());
    }
    ctx.block_on(
        keys,
        Vec::new(),
        args,
        timeout,
        TimeoutReply::NullArray,
        serve_bzmpop,
    );
    Ok(())
}
