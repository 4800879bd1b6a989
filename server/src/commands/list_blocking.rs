//! The blocking list pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP. Each tries
//! its non-blocking form first; with nothing to pop it blocks the client on its
//! keys (see `crate::blocking`), and the same attempt serves it later, when a
//! write makes one of the keys non-empty.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::ListEnd;

use super::lists::{move_between, parse_end, parse_mpop_args, pop_first_nonempty};
use crate::blocking::{parse_timeout, TimeoutReply};
use crate::command::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::server::Server;

const FLAGS: &[&str] = &["write", "blocking"];
const ACL: &[&str] = &["@write", "@list", "@slow", "@blocking"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("blpop", -3, blpop).flags(FLAGS).keys(1, -2, 1).acl(ACL).doc("list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    CommandSpec::new("brpop", -3, brpop).flags(FLAGS).keys(1, -2, 1).acl(ACL).doc("list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    CommandSpec::new("blmove", 6, blmove).flags(&["write", "denyoom", "blocking"]).keys(1, 2, 1).acl(ACL).doc("list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    CommandSpec::new("brpoplpush", 4, brpoplpush).flags(&["write", "denyoom", "blocking"]).keys(1, 2, 1).acl(ACL).doc("list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    CommandSpec::new("blmpop", -5, blmpop).flags(&["write", "blocking", "movablekeys"]).acl(ACL).doc("list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
];

/// BLPOP/BRPOP: pops one element from the first non-empty list of `keys`.
fn try_pop_one(
    server: &Server,
    db: usize,
    keys: &[Bytes],
    end: ListEnd,
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let limits = server.keyspace.encoding_limits.get();
    let ks = server.keyspace.read();
    let popped = pop_first_nonempty(&ks, db, keys, end, 1, &limits)?;
    drop(ks);
    let Some((key, values)) = popped else {
        return Ok(false);
    };
    let Some(value) = values.first() else {
        return Ok(false);
    };
    out.array(2);
    out.bulk(key);
    out.bulk(value);
    Ok(true)
}

fn pop_keys(args: &[Bytes]) -> &[Bytes] {
    &args[1..args.len() - 1]
}

/// A blocked client is served by whatever its attempt replies, an error
/// included (BRPOPLPUSH onto a key of another type gets WRONGTYPE, as in Redis).
fn served(attempt: Result<bool, CmdError>, out: &mut ReplyWriter) -> bool {
    attempt.unwrap_or_else(|error| {
        out.error(error.text());
        true
    })
}

fn serve_blpop(server: &Server, db: usize, args: &[Bytes], out: &mut ReplyWriter) -> bool {
    served(
        try_pop_one(server, db, pop_keys(args), ListEnd::Left, out),
        out,
    )
}

fn serve_brpop(server: &Server, db: usize, args: &[Bytes], out: &mut ReplyWriter) -> bool {
    served(
        try_pop_one(server, db, pop_keys(args), ListEnd::Right, out),
        out,
    )
}

fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, ListEnd::Left, serve_blpop)
}

fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, ListEnd::Right, serve_brpop)
}

fn blocking_pop(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    end: ListEnd,
    serve: crate::blocking::TryServe,
) -> CmdResult {
    let timeout = parse_timeout(&args[args.len() - 1])?;
    if try_pop_one(ctx.server, ctx.client.db, pop_keys(args), end, ctx.out)? {
        return Ok(());
    }
    ctx.block_on(
        pop_keys(args).to_vec(),
        Vec::new(),
        args,
        timeout,
        TimeoutReply::NullArray,
        serve,
    );
    Ok(())
}

/// BLMOVE/BRPOPLPUSH: the ends to pop from and push to.
fn move_ends(args: &[Bytes]) -> Result<(ListEnd, ListEnd), CmdError> {
    if args.len() == 6 {
        Ok((parse_end(&args[3])?, parse_end(&args[4])?))
    } else {
        Ok((ListEnd::Right, ListEnd::Left))
    }
}

fn try_move(
    server: &Server,
    db: usize,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let (from, to) = move_ends(args)?;
    let limits = server.keyspace.encoding_limits.get();
    let ks = server.keyspace.read();
    let moved = move_between(&ks, db, &args[1], &args[2], from, to, &limits)?;
    drop(ks);
    match moved {
        Some(value) => {
            out.bulk(&value);
            Ok(true)
        }
        None => Ok(false),
    }
}

fn serve_move(server: &Server, db: usize, args: &[Bytes], out: &mut ReplyWriter) -> bool {
    served(try_move(server, db, args, out), out)
}

fn blocking_move(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    move_ends(args)?;
    let timeout = parse_timeout(&args[args.len() - 1])?;
    if try_move(ctx.server, ctx.client.db, args, ctx.out)? {
        return Ok(());
    }
    ctx.block_on(
        vec![args[1].clone()],
        vec![args[2].clone()],
        args,
        timeout,
        TimeoutReply::NullBulk,
        serve_move,
    );
    Ok(())
}

fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_move(ctx, args)
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_move(ctx, args)
}

fn try_mpop(
    server: &Server,
    db: usize,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let parsed = parse_mpop_args(&args[2..])?;
    let limits = server.keyspace.encoding_limits.get();
    let ks = server.keyspace.read();
    let popped = pop_first_nonempty(&ks, db, parsed.keys, parsed.end, parsed.count, &limits)?;
    drop(ks);
    let Some((key, values)) = popped else {
        return Ok(false);
    };
    out.array(2);
    out.bulk(key);
    out.array(values.len());
    for value in &values {
        out.bulk(value);
    }
    Ok(true)
}

fn serve_mpop(server: &Server, db: usize, args: &[Bytes], out: &mut ReplyWriter) -> bool {
    served(try_mpop(server, db, args, out), out)
}

fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&args[1])?;
    let keys = parse_mpop_args(&args[2..])?.keys.to_vec();
    if try_mpop(ctx.server, ctx.client.db, args, ctx.out)? {
        return Ok(());
    }
    ctx.block_on(
        keys,
        Vec::new(),
        args,
        timeout,
        TimeoutReply::NullArray,
        serve_mpop,
    );
    Ok(())
}
