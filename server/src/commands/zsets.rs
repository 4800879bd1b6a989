//! Sorted set commands, with Redis 7.0's arguments, replies and error texts
//! (t_zset.c). Sets are not a Ferrite type yet, so ZUNION/ZINTER/ZDIFF and
//! friends answer WRONGTYPE for any input key that is not a sorted set.
//!
//! Popping is in [`pop_elements`] so that the blocking forms (BZPOPMIN,
//! BZPOPMAX, BZMPOP) can reuse it.

use std::collections::HashMap;

use bytes::Bytes;
use ferrite_resp::{format_double, Protocol, ReplyWriter};
use ferrite_storage::{
    glob_match, Bound, EncodingLimits, Entry, KeyHash, KeyspaceRead, ShardGuard, Value, ZSetValue,
};
use rand::Rng;

use super::typed::{remove_if_empty, value_at};
use crate::command::{
    is, parse_f64, parse_i64, parse_scan_args, CmdError, CmdResult, CommandSpec, Ctx, ScanArgs,
};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};
use crate::notify::{class, DbEvents};

const WF: &[&str] = &["write", "denyoom", "fast"];
const RF: &[&str] = &["readonly", "fast"];
const R: &[&str] = &["readonly"];
const AW_F: &[&str] = &["@write", "@sortedset", "@fast"];
const AW_S: &[&str] = &["@write", "@sortedset", "@slow"];
const AR_F: &[&str] = &["@read", "@sortedset", "@fast"];
const AR_S: &[&str] = &["@read", "@sortedset", "@slow"];
const G: &str = "sorted-set";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, zadd).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(WF).acl(AW_F).doc(G, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    CommandSpec::new("zincrby", 4, zincrby).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(AW_F).doc(G, "Increments the score of a member in a sorted set."),
    CommandSpec::new("zrem", -3, zrem).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write", "fast"]).acl(AW_F).doc(G, "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    CommandSpec::new("zcard", 2, zcard).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(RF).acl(AR_F).doc(G, "Returns the number of members in a sorted set."),
    CommandSpec::new("zscore", 3, zscore).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(AR_F).doc(G, "Returns the score of a member in a sorted set."),
    CommandSpec::new("zmscore", -3, zmscore).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(AR_F).doc(G, "Returns the score of one or more members in a sorted set."),
    CommandSpec::new("zrank", 3, zrank).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(AR_F).doc(G, "Returns the index of a member in a sorted set ordered by ascending scores."),
    CommandSpec::new("zrevrank", 3, zrevrank).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(AR_F).doc(G, "Returns the index of a member in a sorted set ordered by descending scores."),
    CommandSpec::new("zcount", 4, zcount).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(AR_F).doc(G, "Returns the count of members in a sorted set that have scores within a range."),
    CommandSpec::new("zlexcount", 4, zlexcount).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(AR_F).doc(G, "Returns the number of members in a sorted set within a lexicographical range."),
    CommandSpec::new("zrange", -4, zrange).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(AR_S).doc(G, "Returns members in a sorted set within a range of indexes."),
    CommandSpec::new("zrangebyscore", -4, zrangebyscore).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(AR_S).doc(G, "Returns members in a sorted set within a range of scores."),
    CommandSpec::new("zrevrangebyscore", -4, zrevrangebyscore).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(AR_S).doc(G, "Returns members in a sorted set within a range of scores in reverse order."),
    CommandSpec::new("zrangebylex", -4, zrangebylex).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(AR_S).doc(G, "Returns members in a sorted set within a lexicographical range."),
    CommandSpec::new("zrevrangebylex", -4, zrevrangebylex).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(AR_S).doc(G, "Returns members in a sorted set within a lexicographical range in reverse order."),
    CommandSpec::new("zrevrange", -4, zrevrange).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(AR_S).doc(G, "Returns members in a sorted set within a range of indexes in reverse order."),
    CommandSpec::new("zrangestore", -5, zrangestore).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE), KeySpec::range(2, 0, 1, RO | ACCESS)]).flags(&["write", "denyoom"]).acl(AW_S).doc(G, "Stores a range of members from sorted set in a key."),
    CommandSpec::new("zremrangebyrank", 4, zremrangebyrank).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write"]).acl(AW_S).doc(G, "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    CommandSpec::new("zremrangebyscore", 4, zremrangebyscore).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write"]).acl(AW_S).doc(G, "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    CommandSpec::new("zremrangebylex", 4, zremrangebylex).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write"]).acl(AW_S).doc(G, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    CommandSpec::new("zpopmin", -2, zpopmin).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE)]).flags(&["write", "fast"]).acl(AW_F).doc(G, "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    CommandSpec::new("zpopmax", -2, zpopmax).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE)]).flags(&["write", "fast"]).acl(AW_F).doc(G, "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    CommandSpec::new("zmpop", -4, zmpop).key_specs(&[KeySpec::new(RW | ACCESS | DELETE, BeginSearch::Index(1), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["write"]).acl(AW_S).doc(G, "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
    CommandSpec::new("zunionstore", -4, zunionstore).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE), KeySpec::new(RO | ACCESS, BeginSearch::Index(2), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["write", "denyoom"]).acl(AW_S).doc(G, "Stores the union of multiple sorted sets in a key."),
    CommandSpec::new("zinterstore", -4, zinterstore).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE), KeySpec::new(RO | ACCESS, BeginSearch::Index(2), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["write", "denyoom"]).acl(AW_S).doc(G, "Stores the intersect of multiple sorted sets in a key."),
    CommandSpec::new("zdiffstore", -4, zdiffstore).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE), KeySpec::new(RO | ACCESS, BeginSearch::Index(2), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["write", "denyoom"]).acl(AW_S).doc(G, "Stores the difference of multiple sorted sets in a key."),
    CommandSpec::new("zunion", -3, zunion).key_specs(&[KeySpec::new(RO | ACCESS, BeginSearch::Index(1), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["readonly"]).acl(AR_S).doc(G, "Returns the union of multiple sorted sets."),
    CommandSpec::new("zinter", -3, zinter).key_specs(&[KeySpec::new(RO | ACCESS, BeginSearch::Index(1), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["readonly"]).acl(AR_S).doc(G, "Returns the intersect of multiple sorted sets."),
    CommandSpec::new("zdiff", -3, zdiff).key_specs(&[KeySpec::new(RO | ACCESS, BeginSearch::Index(1), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["readonly"]).acl(AR_S).doc(G, "Returns the difference between multiple sorted sets."),
    CommandSpec::new("zintercard", -3, zintercard).key_specs(&[KeySpec::new(RO | ACCESS, BeginSearch::Index(1), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["readonly"]).acl(AR_S).doc(G, "Returns the number of members of the intersect of multiple sorted sets."),
    CommandSpec::new("zrandmember", -2, zrandmember).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(AR_S).doc(G, "Returns one or more random members from a sorted set."),
    CommandSpec::new("zscan", -3, zscan).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(AR_S).doc(G, "Iterates over members and scores of a sorted set."),
];

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

/// An element copied out of a sorted set: (score, member).
type Element = (f64, Vec<u8>);

fn new_entry(zset: ZSetValue) -> Entry {
    Entry::new(Value::ZSet(zset))
}

/// Writes elements as Redis does: members, or with scores a flat array in
/// RESP2 and an array of [member, score] pairs in RESP3.
fn reply_elements<'a>(
    out: &mut ReplyWriter,
    elements: impl ExactSizeIterator<Item = (f64, &'a [u8])>,
    withscores: bool,
) {
    reply_counted(out, elements.len(), elements, withscores);
}

/// As [`reply_elements`] for an iterator known to yield exactly `n` items.
fn reply_counted<'a>(
    out: &mut ReplyWriter,
    n: usize,
    elements: impl Iterator<Item = (f64, &'a [u8])>,
    withscores: bool,
) {
    let nested = withscores && out.protocol() == Protocol::Resp3;
    out.array(if withscores && !nested { n * 2 } else { n });
    for (score, member) in elements {
        if nested {
            out.array(2);
        }
        out.bulk(member);
        if withscores {
            out.double(score);
        }
    }
}

fn reply_owned(out: &mut ReplyWriter, elements: &[(f64, Vec<u8>)], withscores: bool) {
    reply_elements(out, elements.iter().map(|(s, m)| (*s, &m[..])), withscores);
}

// ---------------------------------------------------------------- ZADD

/// ZADD's options.
#[derive(Default, Clone, Copy)]
pub(super) struct AddFlags {
    pub(super) nx: bool,
    pub(super) xx: bool,
    gt: bool,
    lt: bool,
    pub(super) ch: bool,
    incr: bool,
}

/// What adding one element did.
enum AddOutcome {
    Added,
    Updated,
    /// Nothing changed (the score was equal, or a condition failed).
    Unchanged,
    Skipped,
}

/// Redis's `zsetAdd`: adds or updates `member` under the ZADD flags.
/// Returns the outcome and, with INCR, the new score.
fn add_element(
    zset: &mut ZSetValue,
    member: &[u8],
    score: f64,
    flags: AddFlags,
    limits: &EncodingLimits,
) -> Result<(AddOutcome, f64), CmdError> {
    match zset.score(member) {
        Some(current) => {
            if flags.nx {
                return Ok((AddOutcome::Skipped, current));
            }
            let mut new = score;
            if flags.incr {
                new += current;
                if new.is_nan() {
                    return Err(CmdError::msg("ERR resulting score is not a number (NaN)"));
                }
            }
            if (flags.lt && new >= current) || (flags.gt && new <= current) {
                return Ok((AddOutcome::Skipped, current));
            }
            if new != current {
                zset.insert(member, new, limits);
                Ok((AddOutcome::Updated, new))
            } else {
                Ok((AddOutcome::Unchanged, new))
            }
        }
        None if flags.xx => Ok((AddOutcome::Skipped, 0.0)),
        None => {
            zset.insert(member, score, limits);
            Ok((AddOutcome::Added, score))
        }
    }
}

fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let arg = &args[i];
        if is(arg, "nx") {
            flags.nx = true;
        } else if is(arg, "xx") {
            flags.xx = true;
        } else if is(arg, "gt") {
            flags.gt = true;
        } else if is(arg, "lt") {
            flags.lt = true;
        } else if is(arg, "ch") {
            flags.ch = true;
        } else if is(arg, "incr") {
            flags.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &args[i..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(CmdError::msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && pairs.len() > 2 {
        return Err(CmdError::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let scores = pairs
        .iter()
        .step_by(2)
        .map(|s| parse_f64(s))
        .collect::<Result<Vec<f64>, CmdError>>()?;
    let elements: Vec<(f64, &Bytes)> = scores
        .into_iter()
        .zip(pairs.iter().skip(1).step_by(2))
        .collect();
    add_generic(ctx, &args[1], &elements, flags)
}

fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let increment = parse_f64(&args[2])?;
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add_generic(ctx, &args[1], &[(increment, &args[3])], flags)
}

/// ZADD's work (shared with GEOADD, which Redis runs as a ZADD).
pub(super) fn add_generic(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    elements: &[(f64, &Bytes)],
    flags: AddFlags,
) -> CmdResult {
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(key);
    let mut shard = ks.lock(ctx.client.db, &key);
    if value_at::<ZSetValue>(&mut shard, &key, true)?.is_none() {
        if flags.xx {
            drop(shard);
            if flags.incr {
                ctx.out.null();
            } else {
                ctx.out.integer(0);
            }
            return Ok(());
        }
        let first_len = elements.first().map_or(0, |(_, m)| m.len());
        shard.insert(&key, new_entry(ZSetValue::for_new(&limits, 0, first_len)));
    }
    let (mut added, mut updated, mut processed, mut last) = (0, 0, 0, 0.0);
    let mut failure = None;
    if let Some(zset) = value_at::<ZSetValue>(&mut shard, &key, false)? {
        for (score, member) in elements {
            match add_element(zset, member, *score, flags, &limits) {
                Ok((outcome, score)) => {
                    last = score;
                    match outcome {
                        AddOutcome::Added => {
                            added += 1;
                            processed += 1;
                        }
                        AddOutcome::Updated => {
                            updated += 1;
                            processed += 1;
                        }
                        AddOutcome::Unchanged => processed += 1,
                        AddOutcome::Skipped => {}
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    if added + updated > 0 {
        let event = if flags.incr { "zincr" } else { "zadd" };
        ctx.notify(class::ZSET, event, key.bytes);
    }
    remove_if_empty::<ZSetValue>(&mut shard, &key);
    drop(shard);
    if let Some(e) = failure {
        return Err(e);
    }
    if flags.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .integer(if flags.ch { added + updated } else { added });
    }
    Ok(())
}

// ---------------------------------------------------------------- simple reads and ZREM

fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let mut removed = 0;
    if let Some(zset) = value_at::<ZSetValue>(&mut shard, &key, true)? {
        for member in &args[2..] {
            if zset.remove(member).is_some() {
                removed += 1;
            }
            if zset.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        ctx.notify(class::ZSET, "zrem", key.bytes);
        if remove_if_empty::<ZSetValue>(&mut shard, &key) {
            ctx.notify(class::GENERIC, "del", key.bytes);
        }
    }
    drop(shard);
    ctx.out.integer(removed);
    Ok(())
}

/// Runs `f` on the sorted set at `key` (None if absent) with the shard locked,
/// counting a keyspace hit or miss.
pub(super) fn with_zset<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&mut ZSetValue>, &mut ReplyWriter) -> R,
) -> Result<R, CmdError> {
    let ks = ctx.keyspace();
    let key = ks.key(key);
    let mut shard = ks.lock(ctx.client.db, &key);
    let zset = value_at::<ZSetValue>(&mut shard, &key, !ctx.client.no_touch)?;
    ctx.record_lookup(zset.is_some());
    Ok(f(zset, ctx.out))
}

fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_zset(ctx, &args[1], |z, out| {
        out.integer(z.map_or(0, |z| z.len() as i64))
    })
}

fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_zset(ctx, &args[1], |z, out| {
        match z.and_then(|z| z.score(&args[2])) {
            Some(score) => out.double(score),
            None => out.null(),
        }
    })
}

fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_zset(ctx, &args[1], |z, out| {
        out.array(args.len() - 2);
        for member in &args[2..] {
            match z.as_ref().and_then(|z| z.score(member)) {
                Some(score) => out.double(score),
                None => out.null(),
            }
        }
    })
}

fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, true)
}

fn rank_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    with_zset(ctx, &args[1], |z, out| {
        let rank = z.and_then(|z| {
            let (rank, _) = z.rank(&args[2])?;
            Some(if rev { z.len() - 1 - rank } else { rank })
        });
        match rank {
            Some(rank) => out.integer(rank as i64),
            None => out.null(),
        }
    })
}

// ---------------------------------------------------------------- ranges

/// A lex range bound: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Copy)]
enum Lex<'a> {
    Min,
    Max,
    Inclusive(&'a [u8]),
    Exclusive(&'a [u8]),
}

fn parse_lex(arg: &[u8]) -> Result<Lex<'_>, CmdError> {
    match arg {
        b"-" => Ok(Lex::Min),
        b"+" => Ok(Lex::Max),
        [b'[', rest @ ..] => Ok(Lex::Inclusive(rest)),
        [b'(', rest @ ..] => Ok(Lex::Exclusive(rest)),
        _ => Err(CmdError::msg(NOT_LEX_RANGE)),
    }
}

fn parse_score(arg: &[u8]) -> Result<Bound, CmdError> {
    let err = |_| CmdError::msg(NOT_FLOAT_RANGE);
    match arg {
        [b'(', rest @ ..] => parse_f64(rest).map(Bound::Exclusive).map_err(err),
        _ => parse_f64(arg).map(Bound::Inclusive).map_err(err),
    }
}

/// Which elements a range command selects.
#[derive(Clone, Copy)]
enum Range<'a> {
    /// Start and stop indexes (negative from the end), both inclusive.
    Rank(i64, i64),
    Score(Bound, Bound),
    Lex(Lex<'a>, Lex<'a>),
}

impl<'a> Range<'a> {
    fn parse(kind: RangeKind, min: &'a [u8], max: &'a [u8]) -> Result<Range<'a>, CmdError> {
        Ok(match kind {
            RangeKind::Rank => Range::Rank(parse_i64(min)?, parse_i64(max)?),
            RangeKind::Score => Range::Score(parse_score(min)?, parse_score(max)?),
            RangeKind::Lex => Range::Lex(parse_lex(min)?, parse_lex(max)?),
        })
    }

    /// The ascending ranks `start..end` the range covers.
    fn ranks(&self, zset: &ZSetValue) -> (usize, usize) {
        let len = zset.len();
        match *self {
            Range::Rank(start, stop) => rank_span(len, start, stop).unwrap_or((0, 0)),
            Range::Score(min, max) => (zset.score_lower_rank(min), zset.score_upper_rank(max)),
            Range::Lex(min, max) => {
                let lower = match min {
                    Lex::Min => 0,
                    Lex::Max => len,
                    Lex::Inclusive(x) => zset.count_while(|_, m| m < x),
                    Lex::Exclusive(x) => zset.count_while(|_, m| m <= x),
                };
                let upper = match max {
                    Lex::Min => 0,
                    Lex::Max => len,
                    Lex::Inclusive(x) => zset.count_while(|_, m| m <= x),
                    Lex::Exclusive(x) => zset.count_while(|_, m| m < x),
                };
                (lower, upper)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum RangeKind {
    Rank,
    Score,
    Lex,
}

/// Normalises Redis start/stop indexes to ascending ranks `start..end`.
fn rank_span(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize + 1))
}

/// Selects a range: ascending ranks from `range`, then REV, then LIMIT
/// (offset, count; a negative count means all).
fn select<'z>(
    zset: &'z ZSetValue,
    range: Range<'_>,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(f64, &'z [u8])> {
    let (lower, upper) = match range {
        Range::Rank(start, stop) if rev => {
            // Indexes count from the highest element.
            match rank_span(zset.len(), start, stop) {
                Some((s, e)) => (zset.len() - e, zset.len() - s),
                None => (0, 0),
            }
        }
        _ => range.ranks(zset),
    };
    if lower >= upper || offset < 0 {
        return Vec::new();
    }
    let available = upper - lower;
    let offset = offset as usize;
    if offset >= available {
        return Vec::new();
    }
    let take = if limit < 0 {
        available - offset
    } else {
        (limit as usize).min(available - offset)
    };
    if rev {
        zset.iter_from(zset.len() - upper + offset, true)
            .take(take)
            .collect()
    } else {
        zset.iter_from(lower + offset, false).take(take).collect()
    }
}

/// The parsed form of ZRANGE and its older variants.
struct RangeRequest<'a> {
    range: Range<'a>,
    rev: bool,
    offset: i64,
    limit: i64,
    withscores: bool,
}

/// Redis's `zrangeGenericCommand` argument parsing. `args[0]` is the source
/// key; `kind`/`rev` are fixed by the older commands, None for ZRANGE.
fn parse_range_request<'a>(
    args: &'a [Bytes],
    mut kind: Option<RangeKind>,
    mut rev: Option<bool>,
    store: bool,
) -> Result<RangeRequest<'a>, CmdError> {
    let mut withscores = false;
    let (mut offset, mut limit) = (0, -1);
    let mut limit_given = false;
    let mut j = 3;
    while j < args.len() {
        let arg = &args[j];
        let left = args.len() - j - 1;
        if !store && is(arg, "withscores") {
            withscores = true;
        } else if is(arg, "limit") && left >= 2 {
            offset = parse_i64(&args[j + 1])?;
            limit = parse_i64(&args[j + 2])?;
            limit_given = true;
            j += 2;
        } else if rev.is_none() && is(arg, "rev") {
            rev = Some(true);
        } else if kind.is_none() && is(arg, "bylex") {
            kind = Some(RangeKind::Lex);
        } else if kind.is_none() && is(arg, "byscore") {
            kind = Some(RangeKind::Score);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let kind = kind.unwrap_or(RangeKind::Rank);
    if limit_given && kind == RangeKind::Rank {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == RangeKind::Lex {
        return Err(CmdError::msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (&args[1], &args[2]);
    if rev && kind != RangeKind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    Ok(RangeRequest {
        range: Range::parse(kind, min, max)?,
        rev,
        offset,
        limit,
        withscores,
    })
}

fn range_command(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    kind: Option<RangeKind>,
    rev: Option<bool>,
) -> CmdResult {
    let request = parse_range_request(&args[1..], kind, rev, false)?;
    with_zset(ctx, &args[1], |z, out| match z {
        None => out.array(0),
        Some(z) => {
            let elements = select(z, request.range, request.rev, request.offset, request.limit);
            reply_elements(out, elements.into_iter(), request.withscores);
        }
    })
}

fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_command(ctx, args, None, None)
}

fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_command(ctx, args, Some(RangeKind::Rank), Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_command(ctx, args, Some(RangeKind::Score), Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_command(ctx, args, Some(RangeKind::Score), Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_command(ctx, args, Some(RangeKind::Lex), Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_command(ctx, args, Some(RangeKind::Lex), Some(true))
}

/// Replaces `dst` with `elements` (deleting it when there are none), and
/// reports `event` (or `del` when an existing key was deleted).
pub(super) fn store_result(
    shard: &mut ShardGuard<'_>,
    dst: &KeyHash,
    elements: &[(f64, Vec<u8>)],
    limits: &EncodingLimits,
    events: DbEvents<'_>,
    event: &str,
) {
    if elements.is_empty() {
        if shard.remove(dst).is_some() {
            events.notify(class::GENERIC, "del", dst.bytes);
        }
        return;
    }
    let max_len = elements.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    let mut zset = ZSetValue::for_new(limits, elements.len(), max_len);
    for (score, member) in elements {
        zset.insert(member, *score, limits);
    }
    shard.insert(dst, new_entry(zset));
    events.notify(class::ZSET, event, dst.bytes);
}

fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let request = parse_range_request(&args[2..], None, None, true)?;
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let keys = [
        (ctx.client.db, ks.key(&args[1])),
        (ctx.client.db, ks.key(&args[2])),
    ];
    let (mut guards, positions) = ks.lock_many(&keys);
    let elements: Vec<(f64, Vec<u8>)> =
        match value_at::<ZSetValue>(&mut guards[positions[1]], &keys[1].1, true)? {
            None => Vec::new(),
            Some(z) => select(z, request.range, request.rev, request.offset, request.limit)
                .into_iter()
                .map(|(s, m)| (s, m.to_vec()))
                .collect(),
        };
    store_result(
        &mut guards[positions[0]],
        &keys[0].1,
        &elements,
        &limits,
        ctx.events(),
        "zrangestore",
    );
    drop(guards);
    ctx.out.integer(elements.len() as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    count_generic(ctx, args, RangeKind::Score)
}

fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    count_generic(ctx, args, RangeKind::Lex)
}

fn count_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: RangeKind) -> CmdResult {
    let range = Range::parse(kind, &args[2], &args[3])?;
    with_zset(ctx, &args[1], |z, out| {
        let count = z.map_or(0, |z| {
            let (lower, upper) = range.ranks(z);
            upper.saturating_sub(lower)
        });
        out.integer(count as i64)
    })
}

fn remrange_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: RangeKind) -> CmdResult {
    let range = Range::parse(kind, &args[2], &args[3])?;
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let removed = match value_at::<ZSetValue>(&mut shard, &key, true)? {
        None => 0,
        Some(z) => {
            let (lower, upper) = range.ranks(z);
            z.remove_rank_range(lower, upper)
        }
    };
    if removed > 0 {
        let event = match kind {
            RangeKind::Rank => "zremrangebyrank",
            RangeKind::Score => "zremrangebyscore",
            RangeKind::Lex => "zremrangebylex",
        };
        ctx.notify(class::ZSET, event, key.bytes);
        if remove_if_empty::<ZSetValue>(&mut shard, &key) {
            ctx.notify(class::GENERIC, "del", key.bytes);
        }
    }
    drop(shard);
    ctx.out.integer(removed as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    remrange_generic(ctx, args, RangeKind::Rank)
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    remrange_generic(ctx, args, RangeKind::Score)
}

fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    remrange_generic(ctx, args, RangeKind::Lex)
}

// ---------------------------------------------------------------- pops

/// Pops up to `count` elements from the sorted set at `key`, lowest first
/// (highest first with `max`), deleting the key when it empties. `Ok(None)`
/// when the key does not exist. Shared with the blocking pops.
pub(crate) fn pop_elements(
    shard: &mut ShardGuard<'_>,
    key: &KeyHash,
    max: bool,
    count: usize,
    events: DbEvents<'_>,
) -> Result<Option<Vec<Element>>, CmdError> {
    let Some(zset) = value_at::<ZSetValue>(shard, key, true)? else {
        return Ok(None);
    };
    let mut popped = Vec::with_capacity(count.min(zset.len()));
    while popped.len() < count {
        match zset.pop(max) {
            Some(element) => popped.push(element),
            None => break,
        }
    }
    if !popped.is_empty() {
        let event = if max { "zpopmax" } else { "zpopmin" };
        events.notify(class::ZSET, event, key.bytes);
        if remove_if_empty::<ZSetValue>(shard, key) {
            events.notify(class::GENERIC, "del", key.bytes);
        }
    }
    Ok(Some(popped))
}

/// Parses a count that must be ≥ `min` (Redis's `getRangeLongFromObjectOrReply`:
/// with a `message`, it is the error for any bad value).
fn parse_count(arg: &[u8], min: i64, message: Option<&str>) -> Result<i64, CmdError> {
    let n = parse_i64(arg);
    match (n, message) {
        (Ok(n), _) if n >= min => Ok(n),
        (_, Some(m)) => Err(CmdError::msg(format!("ERR {m}"))),
        (Err(e), None) => Err(e),
        (Ok(_), None) => Err(CmdError::msg("ERR value is out of range, must be positive")),
    }
}

fn zpop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        Some(arg) => Some(parse_count(arg, 0, None)? as usize),
        None => None,
    };
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let popped = pop_elements(&mut shard, &key, max, count.unwrap_or(1), ctx.events())?;
    drop(shard);
    let popped = popped.unwrap_or_default();
    let nested = count.is_some() && ctx.out.protocol() == Protocol::Resp3;
    if nested {
        reply_owned(ctx.out, &popped, true);
    } else {
        ctx.out.array(popped.len() * 2);
        for (score, member) in &popped {
            ctx.out.bulk(member);
            ctx.out.double(*score);
        }
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, true)
}

/// The parsed arguments of ZMPOP (and of BZMPOP after its timeout).
pub(crate) struct ZmpopArgs<'a> {
    pub keys: &'a [Bytes],
    pub max: bool,
    pub count: usize,
}

/// Parses `numkeys key... MIN|MAX [COUNT count]` starting at `args[0]`.
pub(crate) fn parse_zmpop_args(args: &[Bytes]) -> Result<ZmpopArgs<'_>, CmdError> {
    let Some(numkeys) = args.first() else {
        return Err(CmdError::Syntax);
    };
    let numkeys = parse_count(numkeys, 1, Some("numkeys should be greater than 0"))? as usize;
    let where_index = numkeys.checked_add(1).ok_or(CmdError::Syntax)?;
    let Some(direction) = args.get(where_index) else {
        return Err(CmdError::Syntax);
    };
    let max = if is(direction, "min") {
        false
    } else if is(direction, "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_index + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            count = Some(
                parse_count(&args[j + 1], 1, Some("count should be greater than 0"))? as usize,
            );
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(ZmpopArgs {
        keys: &args[1..where_index],
        max,
        count: count.unwrap_or(1),
    })
}

/// The key popped from and its popped elements.
pub(crate) type KeyAndElements<'k> = (&'k Bytes, Vec<Element>);

/// Pops up to `count` elements from the first of `keys` holding a sorted set.
pub(crate) fn pop_first_nonempty<'k>(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    keys: &'k [Bytes],
    max: bool,
    count: usize,
) -> Result<Option<KeyAndElements<'k>>, CmdError> {
    let hashed: Vec<(usize, KeyHash)> = keys.iter().map(|k| (events.db, ks.key(k))).collect();
    let (mut guards, positions) = ks.lock_many(&hashed);
    for ((name, (_, key)), &position) in keys.iter().zip(&hashed).zip(&positions) {
        if let Some(popped) = pop_elements(&mut guards[position], key, max, count, events)? {
            return Ok(Some((name, popped)));
        }
    }
    Ok(None)
}

/// ZMPOP's reply: `[key, [[member, score], ...]]`.
pub(crate) fn write_mpop_reply(out: &mut ReplyWriter, key: &[u8], popped: &[Element]) {
    out.array(2);
    out.bulk(key);
    out.array(popped.len());
    for (score, member) in popped {
        out.array(2);
        out.bulk(member);
        out.double(*score);
    }
}

fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_zmpop_args(&args[1..])?;
    let ks = ctx.keyspace();
    let popped = pop_first_nonempty(&ks, ctx.events(), parsed.keys, parsed.max, parsed.count)?;
    drop(ks);
    match popped {
        Some((key, popped)) => write_mpop_reply(ctx.out, key, &popped),
        None => ctx.out.null_array(),
    }
    Ok(())
}

// ---------------------------------------------------------------- union, intersection, difference

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => *target = target.min(value),
        Aggregate::Max => *target = target.max(value),
    }
}

/// The options after the input keys.
struct SetOpOptions {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

fn parse_set_op_options(
    args: &[Bytes],
    numkeys: usize,
    op: SetOp,
    store: bool,
    cardinality_only: bool,
) -> Result<SetOpOptions, CmdError> {
    let mut options = SetOpOptions {
        weights: vec![1.0; numkeys],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = 0;
    while j < args.len() {
        let remaining = args.len() - j;
        let arg = &args[j];
        if op != SetOp::Diff && !cardinality_only && remaining > numkeys && is(arg, "weights") {
            for (i, weight) in args[j + 1..=j + numkeys].iter().enumerate() {
                options.weights[i] = parse_f64(weight)
                    .map_err(|_| CmdError::msg("ERR weight value is not a float"))?;
            }
            j += numkeys + 1;
        } else if op != SetOp::Diff && !cardinality_only && remaining >= 2 && is(arg, "aggregate") {
            let how = &args[j + 1];
            options.aggregate = if is(how, "sum") {
                Aggregate::Sum
            } else if is(how, "min") {
                Aggregate::Min
            } else if is(how, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !store && !cardinality_only && is(arg, "withscores") {
            options.withscores = true;
            j += 1;
        } else if cardinality_only && remaining >= 2 && is(arg, "limit") {
            options.limit = parse_count(&args[j + 1], 0, Some("LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(options)
}

/// Computes a union, intersection or difference (unsorted; `limit` > 0
/// stops an intersection after that many elements).
fn compute_set_op(
    inputs: &[Option<ZSetValue>],
    op: SetOp,
    options: &SetOpOptions,
) -> Vec<(f64, Vec<u8>)> {
    let weighted = |score: f64, weight: f64| {
        let v = score * weight;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    match op {
        SetOp::Union => {
            let mut acc: HashMap<&[u8], f64, ahash::RandomState> = HashMap::default();
            for (input, &weight) in inputs.iter().zip(&options.weights) {
                let Some(zset) = input else { continue };
                for (score, member) in zset.iter() {
                    let value = weighted(score, weight);
                    acc.entry(member)
                        .and_modify(|t| aggregate(t, value, options.aggregate))
                        .or_insert(value);
                }
            }
            acc.into_iter().map(|(m, s)| (s, m.to_vec())).collect()
        }
        SetOp::Inter => {
            let mut order: Vec<(usize, &ZSetValue)> = Vec::with_capacity(inputs.len());
            for (i, input) in inputs.iter().enumerate() {
                match input {
                    Some(z) => order.push((i, z)),
                    None => return Vec::new(),
                }
            }
            order.sort_by_key(|(_, z)| z.len());
            let Some(&(first_index, first)) = order.first() else {
                return Vec::new();
            };
            let mut out = Vec::new();
            'elements: for (score, member) in first.iter() {
                let mut total = weighted(score, options.weights[first_index]);
                for &(i, other) in &order[1..] {
                    match other.score(member) {
                        Some(s) => aggregate(
                            &mut total,
                            weighted(s, options.weights[i]),
                            options.aggregate,
                        ),
                        None => continue 'elements,
                    }
                }
                out.push((total, member.to_vec()));
                if options.limit > 0 && out.len() >= options.limit {
                    break;
                }
            }
            out
        }
        SetOp::Diff => {
            let Some(Some(first)) = inputs.first() else {
                return Vec::new();
            };
            first
                .iter()
                .filter(|(_, m)| inputs[1..].iter().flatten().all(|z| z.score(m).is_none()))
                .map(|(s, m)| (s, m.to_vec()))
                .collect()
        }
    }
}

/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD: Redis's
/// `zunionInterDiffGenericCommand`. `numkeys_index` is where numkeys is.
/// An input of ZUNION/ZINTER/ZDIFF: a sorted set, or a plain set whose
/// members all score 1 (as Redis accepts); WRONGTYPE for anything else.
fn input_as_zset(
    shard: &mut ShardGuard<'_>,
    key: &KeyHash,
    limits: &EncodingLimits,
) -> Result<Option<ZSetValue>, CmdError> {
    let Some(entry) = shard.get(key) else {
        return Ok(None);
    };
    if let Some(zset) = entry.value.as_zset() {
        return Ok(Some(zset.clone()));
    }
    let set = entry.value.as_set().ok_or(CmdError::WrongType)?;
    let mut zset = ZSetValue::default();
    for member in set.iter() {
        member.with_bytes(|bytes| zset.insert(bytes, 1.0, limits));
    }
    Ok(Some(zset))
}

fn set_op_command(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    numkeys_index: usize,
    op: SetOp,
    cardinality_only: bool,
) -> CmdResult {
    let store = numkeys_index == 2;
    let numkeys = parse_i64(&args[numkeys_index])?;
    if numkeys < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.command_name
        )));
    }
    let first_key = numkeys_index + 1;
    if numkeys as usize > args.len() - first_key {
        return Err(CmdError::Syntax);
    }
    let numkeys = numkeys as usize;
    let options = parse_set_op_options(
        &args[first_key + numkeys..],
        numkeys,
        op,
        store,
        cardinality_only,
    );
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let db = ctx.client.db;
    let mut keys: Vec<(usize, KeyHash)> = args[first_key..first_key + numkeys]
        .iter()
        .map(|k| (db, ks.key(k)))
        .collect();
    if store {
        keys.push((db, ks.key(&args[1])));
    }
    let (mut guards, positions) = ks.lock_many(&keys);
    let mut inputs = Vec::with_capacity(numkeys);
    for ((_, key), &position) in keys.iter().zip(&positions).take(numkeys) {
        inputs.push(input_as_zset(&mut guards[position], key, &limits)?);
    }
    let options = options?;
    let mut result = compute_set_op(&inputs, op, &options);
    if cardinality_only {
        drop(guards);
        ctx.out.integer(result.len() as i64);
        return Ok(());
    }
    if store {
        let (_, dst) = &keys[numkeys];
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store_result(
            &mut guards[positions[numkeys]],
            dst,
            &result,
            &limits,
            ctx.events(),
            event,
        );
        drop(guards);
        ctx.out.integer(result.len() as i64);
        return Ok(());
    }
    drop(guards);
    result.sort_by(|(s1, m1), (s2, m2)| {
        s1.partial_cmp(s2)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| m1.cmp(m2))
    });
    reply_owned(ctx.out, &result, options.withscores);
    Ok(())
}

fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_command(ctx, args, 2, SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_command(ctx, args, 2, SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_command(ctx, args, 2, SetOp::Diff, false)
}

fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_command(ctx, args, 1, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_command(ctx, args, 1, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_command(ctx, args, 1, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_op_command(ctx, args, 1, SetOp::Inter, true)
}

// ---------------------------------------------------------------- ZRANDMEMBER, ZSCAN

fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(count_arg) = args.get(2) else {
        return with_zset(ctx, &args[1], |z, out| {
            match z.and_then(|z| {
                let rank = rand::thread_rng().gen_range(0..z.len().max(1));
                z.get_by_rank(rank)
            }) {
                Some((_, member)) => out.bulk(member),
                None => out.null(),
            }
        });
    };
    let count = parse_i64(count_arg)?;
    if count == i64::MIN {
        return Err(CmdError::msg(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    let withscores = match args.get(3) {
        None => false,
        Some(arg) if args.len() == 4 && is(arg, "withscores") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    with_zset(ctx, &args[1], |z, out| {
        let Some(z) = z.filter(|_| count != 0) else {
            out.array(0);
            return;
        };
        let mut rng = rand::thread_rng();
        if count < 0 {
            // Repetitions allowed: stream the picks (the count may be huge).
            let n = count.unsigned_abs() as usize;
            let picks = (0..n).filter_map(|_| z.get_by_rank(rng.gen_range(0..z.len())));
            reply_counted(out, n, picks, withscores);
            return;
        }
        let picks: Vec<usize> = if count as usize >= z.len() {
            (0..z.len()).collect()
        } else {
            rand::seq::index::sample(&mut rng, z.len(), count as usize).into_vec()
        };
        let elements = picks.into_iter().filter_map(|rank| z.get_by_rank(rank));
        let elements: Vec<(f64, &[u8])> = elements.collect();
        reply_elements(out, elements.into_iter(), withscores);
    })
}

fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ScanArgs {
        cursor,
        pattern,
        count,
        ..
    } = parse_scan_args(args, 2, false)?;
    with_zset(ctx, &args[1], |z, out| {
        let Some(z) = z else {
            out.array(2);
            out.bulk(b"0");
            out.array(0);
            return;
        };
        // A compact set is returned whole, as Redis does; a large one by rank.
        let (start, take) = match z {
            ZSetValue::Listpack(_) => (0, z.len()),
            ZSetValue::Skiplist(_) => (cursor as usize, count),
        };
        let batch: Vec<(f64, &[u8])> = z
            .iter_from(start, false)
            .take(take)
            .filter(|(_, m)| pattern.is_none_or(|p| glob_match(p, m, false)))
            .collect();
        let next = start.saturating_add(take);
        let next = if next >= z.len() { 0 } else { next };
        out.array(2);
        out.bulk(next.to_string().as_bytes());
        out.array(batch.len() * 2);
        for (score, member) in batch {
            out.bulk(member);
            out.bulk(format_double(score).as_bytes());
        }
    })
}
