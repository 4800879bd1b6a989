//! The blocking list pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP. Each is
//! its non-blocking attempt plus the keys to wait on (see `crate::blocking`):
//! the attempt replies at once when it can, and serves the blocked client
//! later, when a write makes one of the keys non-empty.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::ListEnd;

use super::lists::{move_between, parse_end, parse_mpop_args, pop_first_nonempty};
use crate::blocking::{keys_before_timeout, parse_timeout, pop_or_block, TimeoutReply};
use crate::command::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};
use crate::notify::DbEvents;
use ferrite_storage::KeyspaceRead;

const FLAGS: &[&str] = &["write", "noscript", "blocking"];
const ACL: &[&str] = &["@write", "@list", "@slow", "@blocking"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("blpop", -3, blpop).key_specs(&[KeySpec::range(1, -2, 1, RW | ACCESS | DELETE)]).flags(FLAGS).acl(ACL).doc("list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    CommandSpec::new("brpop", -3, brpop).key_specs(&[KeySpec::range(1, -2, 1, RW | ACCESS | DELETE)]).flags(FLAGS).acl(ACL).doc("list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    CommandSpec::new("blmove", 6, blmove).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE), KeySpec::range(2, 0, 1, RW | INSERT)]).flags(&["write", "denyoom", "noscript", "blocking"]).acl(ACL).doc("list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    CommandSpec::new("brpoplpush", 4, brpoplpush).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE), KeySpec::range(2, 0, 1, RW | INSERT)]).flags(&["write", "denyoom", "noscript", "blocking"]).acl(ACL).doc("list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    CommandSpec::new("blmpop", -5, blmpop).key_specs(&[KeySpec::new(RW | ACCESS | DELETE, BeginSearch::Index(2), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["write", "blocking"]).acl(ACL).doc("list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
];

/// BLPOP/BRPOP: `[key, element]` from the first non-empty list.
fn pop_one(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    end: ListEnd,
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let limits = ks.encoding_limits();
    let popped = pop_first_nonempty(ks, events, keys_before_timeout(args), end, 1, &limits)?;
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

fn attempt_blpop(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    pop_one(ks, events, args, ListEnd::Left, out)
}

fn attempt_brpop(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    pop_one(ks, events, args, ListEnd::Right, out)
}

fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop_or_block(ctx, args, attempt_blpop)
}

fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop_or_block(ctx, args, attempt_brpop)
}

/// BLMOVE/BRPOPLPUSH: the ends to pop from and push to.
fn move_ends(args: &[Bytes]) -> Result<(ListEnd, ListEnd), CmdError> {
    if args.len() == 6 {
        Ok((parse_end(&args[3])?, parse_end(&args[4])?))
    } else {
        Ok((ListEnd::Right, ListEnd::Left))
    }
}

fn attempt_move(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let (from, to) = move_ends(args)?;
    let limits = ks.encoding_limits();
    let moved = move_between(ks, events, &args[1], &args[2], from, to, &limits)?;
    match moved {
        Some(value) => {
            out.bulk(&value);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// BLMOVE and BRPOPLPUSH; the destination becomes ready when one is served.
fn blocking_move(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    move_ends(args)?;
    let timeout = parse_timeout(&args[args.len() - 1])?;
    ctx.serve_or_block(
        vec![args[1].clone()],
        vec![args[2].clone()],
        args,
        timeout,
        TimeoutReply::NullBulk,
        attempt_move,
    )
}

fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_move(ctx, args)
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    blocking_move(ctx, args)
}

fn attempt_mpop(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let parsed = parse_mpop_args(&args[2..])?;
    let limits = ks.encoding_limits();
    let popped = pop_first_nonempty(ks, events, parsed.keys, parsed.end, parsed.count, &limits)?;
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

fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&args[1])?;
    let keys = parse_mpop_args(&args[2..])?.keys.to_vec();
    ctx.serve_or_block(
        keys,
        Vec::new(),
        args,
        timeout,
        TimeoutReply::NullArray,
        attempt_mpop,
    )
}
