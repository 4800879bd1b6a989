//! The blocking sorted-set pops: BZPOPMIN, BZPOPMAX, BZMPOP. Like the list
//! ones, each is its non-blocking attempt plus the keys to wait on until a
//! write (ZADD, ZUNIONSTORE, ...) makes one of them non-empty.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;

use super::zsets::{parse_zmpop_args, pop_first_nonempty, write_mpop_reply};
use crate::blocking::{keys_before_timeout, parse_timeout, pop_or_block, TimeoutReply};
use crate::command::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};
use crate::notify::DbEvents;
use ferrite_storage::KeyspaceRead;

const ACL: &[&str] = &["@write", "@sortedset", "@fast", "@blocking"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("bzpopmin", -3, bzpopmin).key_specs(&[KeySpec::range(1, -2, 1, RW | ACCESS | DELETE)]).flags(&["write", "noscript", "fast", "blocking"]).acl(ACL).doc("sorted-set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    CommandSpec::new("bzpopmax", -3, bzpopmax).key_specs(&[KeySpec::range(1, -2, 1, RW | ACCESS | DELETE)]).flags(&["write", "noscript", "fast", "blocking"]).acl(ACL).doc("sorted-set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped."),
    CommandSpec::new("bzmpop", -5, bzmpop).key_specs(&[KeySpec::new(RW | ACCESS | DELETE, BeginSearch::Index(2), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["write", "blocking"]).acl(&["@write", "@sortedset", "@slow", "@blocking"]).doc("sorted-set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
];

/// BZPOPMIN/BZPOPMAX: `[key, member, score]` from the first non-empty key.
fn pop_one(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    max: bool,
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let popped = pop_first_nonempty(ks, events, keys_before_timeout(args), max, 1)?;
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

fn attempt_bzpopmin(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    pop_one(ks, events, args, false, out)
}

fn attempt_bzpopmax(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    pop_one(ks, events, args, true, out)
}

fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop_or_block(ctx, args, attempt_bzpopmin)
}

fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop_or_block(ctx, args, attempt_bzpopmax)
}

fn attempt_bzmpop(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let parsed = parse_zmpop_args(&args[2..])?;
    let popped = pop_first_nonempty(ks, events, parsed.keys, parsed.max, parsed.count)?;
    let Some((key, elements)) = popped else {
        return Ok(false);
    };
    write_mpop_reply(out, key, &elements);
    Ok(true)
}

fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&args[1])?;
    let keys = parse_zmpop_args(&args[2..])?.keys.to_vec();
    ctx.serve_or_block(
        keys,
        Vec::new(),
        args,
        timeout,
        TimeoutReply::NullArray,
        attempt_bzmpop,
    )
}
