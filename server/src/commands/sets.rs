//! Set commands (Redis 7.0's `t_set.c`): unordered collections of distinct
//! strings, stored as `ferrite_storage::SetValue`.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{glob_match, Entry, KeyHash, Member, SetValue, Value};
use rand::Rng;

use super::typed::{collection_for_write, remove_if_empty, value_at};
use crate::command::{
    parse_i64, parse_scan_args, parse_signed_count, scan_window, CmdError, CmdResult, CommandSpec,
    Ctx,
};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};
use crate::notify::class;

const WF: &[&str] = &["write", "denyoom", "fast"];
const W: &[&str] = &["write", "denyoom"];
const RF: &[&str] = &["readonly", "fast"];
const R: &[&str] = &["readonly"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, sadd).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(WF).acl(&["@write", "@set", "@fast"]).doc("set", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    CommandSpec::new("srem", -3, srem).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write", "fast"]).acl(&["@write", "@set", "@fast"]).doc("set", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    CommandSpec::new("scard", 2, scard).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(RF).acl(&["@read", "@set", "@fast"]).doc("set", "Returns the number of members in a set."),
    CommandSpec::new("sismember", 3, sismember).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(RF).acl(&["@read", "@set", "@fast"]).doc("set", "Determines whether a member belongs to a set."),
    CommandSpec::new("smismember", -3, smismember).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(&["@read", "@set", "@fast"]).doc("set", "Determines whether multiple members belong to a set."),
    CommandSpec::new("smembers", 2, smembers).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@set", "@slow"]).doc("set", "Returns all members of a set."),
    CommandSpec::new("srandmember", -2, srandmember).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@set", "@slow"]).doc("set", "Get one or multiple random members from a set"),
    CommandSpec::new("spop", -2, spop).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE)]).flags(&["write", "fast"]).acl(&["@write", "@set", "@fast"]).doc("set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    CommandSpec::new("smove", 4, smove).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE), KeySpec::range(2, 0, 1, RW | INSERT)]).flags(&["write", "fast"]).acl(&["@write", "@set", "@fast"]).doc("set", "Moves a member from one set to another."),
    CommandSpec::new("sinter", -2, sinter).key_specs(&[KeySpec::range(1, -1, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@set", "@slow"]).doc("set", "Returns the intersect of multiple sets."),
    CommandSpec::new("sintercard", -3, sintercard).key_specs(&[KeySpec::new(RO | ACCESS, BeginSearch::Index(1), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["readonly"]).acl(&["@read", "@set", "@slow"]).doc("set", "Returns the number of members of the intersect of multiple sets."),
    CommandSpec::new("sinterstore", -3, sinterstore).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE), KeySpec::range(2, -1, 1, RO | ACCESS)]).flags(W).acl(&["@write", "@set", "@slow"]).doc("set", "Stores the intersect of multiple sets in a key."),
    CommandSpec::new("sunion", -2, sunion).key_specs(&[KeySpec::range(1, -1, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@set", "@slow"]).doc("set", "Returns the union of multiple sets."),
    CommandSpec::new("sunionstore", -3, sunionstore).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE), KeySpec::range(2, -1, 1, RO | ACCESS)]).flags(W).acl(&["@write", "@set", "@slow"]).doc("set", "Stores the union of multiple sets in a key."),
    CommandSpec::new("sdiff", -2, sdiff).key_specs(&[KeySpec::range(1, -1, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@set", "@slow"]).doc("set", "Returns the difference of multiple sets."),
    CommandSpec::new("sdiffstore", -3, sdiffstore).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE), KeySpec::range(2, -1, 1, RO | ACCESS)]).flags(W).acl(&["@write", "@set", "@slow"]).doc("set", "Stores the difference of multiple sets in a key."),
    CommandSpec::new("sscan", -3, sscan).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@set", "@slow"]).doc("set", "Iterates over members of a set."),
];

fn write_member(out: &mut ReplyWriter, member: Member<'_>) {
    match member {
        Member::Int(n) => out.bulk_integer(n),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// Runs `f` on the set at `args[1]` (None when missing), for read-only replies.
fn with_set<R>(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    f: impl FnOnce(&mut Ctx<'_>, Option<&SetValue>) -> R,
) -> Result<R, CmdError> {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let set = value_at::<SetValue>(&mut shard, &key, !ctx.client.no_touch)?;
    Ok(f(ctx, set.map(|s| &*s)))
}

fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let set = collection_for_write::<SetValue>(&mut shard, &key)?;
    let mut added = 0;
    for member in &args[2..] {
        added += set.add(member, &limits) as i64;
    }
    if added > 0 {
        ctx.notify(class::SET, "sadd", key.bytes);
    }
    drop(shard);
    ctx.out.integer(added);
    Ok(())
}

fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let mut removed = 0;
    if let Some(set) = value_at::<SetValue>(&mut shard, &key, true)? {
        for member in &args[2..] {
            removed += set.remove(member) as i64;
            if set.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        ctx.notify(class::SET, "srem", key.bytes);
        if remove_if_empty::<SetValue>(&mut shard, &key) {
            ctx.notify(class::GENERIC, "del", key.bytes);
        }
    }
    drop(shard);
    ctx.out.integer(removed);
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_set(ctx, args, |ctx, s| {
        ctx.out.integer(s.map_or(0, |s| s.len() as i64))
    })
}

fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_set(ctx, args, |ctx, s| {
        ctx.out
            .integer(s.is_some_and(|s| s.contains(&args[2])) as i64)
    })
}

fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_set(ctx, args, |ctx, s| {
        ctx.out.array(args.len() - 2);
        for member in &args[2..] {
            ctx.out
                .integer(s.is_some_and(|s| s.contains(member)) as i64);
        }
    })
}

fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_set(ctx, args, |ctx, s| {
        ctx.out.set(s.map_or(0, |s| s.len()));
        for member in s.into_iter().flat_map(|s| s.iter()) {
            write_member(ctx.out, member);
        }
    })
}

fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => {
            return with_set(ctx, args, |ctx, s| {
                match s.and_then(|s| s.random_member(&mut rand::thread_rng())) {
                    Some(member) => write_member(ctx.out, member),
                    None => ctx.out.null(),
                }
            })
        }
        3 => {}
        _ => return Err(CmdError::Syntax),
    }
    let count = parse_signed_count(&args[2])?;
    with_set(ctx, args, |ctx, s| {
        let Some(set) = s.filter(|s| count != 0 && !s.is_empty()) else {
            ctx.out.array(0);
            return;
        };
        let mut rng = rand::thread_rng();
        if count < 0 {
            let n = count.unsigned_abs() as usize;
            ctx.out.array(n);
            for _ in 0..n {
                let member = set.member_at(rng.gen_range(0..set.len()));
                if let Some(member) = member {
                    write_member(ctx.out, member);
                }
            }
            return;
        }
        let members = set.random_distinct(count as usize, &mut rng);
        ctx.out.array(members.len());
        for member in members {
            write_member(ctx.out, member);
        }
    })
}

fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => {
            // Redis's getPositiveLongFromObjectOrReply: one error for both cases.
            let n = parse_i64(&args[2])
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| CmdError::msg("ERR value is out of range, must be positive"))?;
            Some(n as usize)
        }
        _ => return Err(CmdError::Syntax),
    };
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let popped = match value_at::<SetValue>(&mut shard, &key, true)? {
        Some(set) => set.pop_random(count.unwrap_or(1), &mut rand::thread_rng()),
        None => Vec::new(),
    };
    if !popped.is_empty() {
        ctx.notify(class::SET, "spop", key.bytes);
        if remove_if_empty::<SetValue>(&mut shard, &key) {
            ctx.notify(class::GENERIC, "del", key.bytes);
        }
    }
    drop(shard);
    match count {
        None => match popped.first() {
            Some(member) => ctx.out.bulk(member),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.set(popped.len());
            for member in &popped {
                ctx.out.bulk(member);
            }
        }
    }
    Ok(())
}

fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limits = ctx.encoding_limits();
    let db = ctx.client.db;
    let ks = ctx.keyspace();
    let keys = [(db, ks.key(&args[1])), (db, ks.key(&args[2]))];
    let (src, dst) = (&keys[0].1, &keys[1].1);
    let member = &args[3];
    let (mut guards, positions) = ks.lock_many(&keys);
    let (src_at, dst_at) = (positions[0], positions[1]);
    let Some(src_is_set) = guards[src_at].get(src).map(|e| e.value.as_set().is_some()) else {
        drop(guards);
        ctx.out.integer(0);
        return Ok(());
    };
    let dst_is_set = guards[dst_at].get(dst).map(|e| e.value.as_set().is_some());
    if !src_is_set || dst_is_set == Some(false) {
        return Err(CmdError::WrongType);
    }
    let mut dst_unchanged = false;
    let moved = if args[1] == args[2] {
        guards[src_at]
            .find(src)
            .and_then(|e| e.value.as_set())
            .is_some_and(|s| s.contains(member))
    } else {
        let removed = value_at::<SetValue>(&mut guards[src_at], src, false)?
            .is_some_and(|s| s.remove(member));
        if removed {
            ctx.notify(class::SET, "srem", src.bytes);
            if remove_if_empty::<SetValue>(&mut guards[src_at], src) {
                ctx.notify(class::GENERIC, "del", src.bytes);
            }
            if collection_for_write::<SetValue>(&mut guards[dst_at], dst)?.add(member, &limits) {
                ctx.notify(class::SET, "sadd", dst.bytes);
            } else {
                dst_unchanged = true;
            }
        }
        removed
    };
    drop(guards);
    drop(ks);
    if dst_unchanged {
        ctx.client.unchanged_keys.push(args[2].clone());
    }
    ctx.out.integer(moved as i64);
    Ok(())
}

/// A set operation over several keys.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// What becomes of a set operation's result.
enum Output<'a> {
    /// Reply with the members (a set in RESP3).
    Reply,
    /// Store into this key (deleting it if the result is empty); reply the size.
    Store(&'a Bytes),
    /// Reply how many members, stopping at this limit (0 = none).
    Cardinality(usize),
}

fn set_operation(ctx: &mut Ctx<'_>, op: Op, sources: &[Bytes], output: Output<'_>) -> CmdResult {
    let limits = ctx.encoding_limits();
    let db = ctx.client.db;
    let ks = ctx.keyspace();
    let mut keys: Vec<(usize, KeyHash)> = sources.iter().map(|k| (db, ks.key(k))).collect();
    if let Output::Store(dst) = output {
        keys.push((db, ks.key(dst)));
    }
    let (mut guards, positions) = ks.lock_many(&keys);
    // Expire and touch each source, and check its type, before reading them together.
    for ((_, key), &at) in keys.iter().zip(&positions).take(sources.len()) {
        if guards[at]
            .get(key)
            .is_some_and(|e| e.value.as_set().is_none())
        {
            return Err(CmdError::WrongType);
        }
    }
    let sets: Vec<Option<&SetValue>> = keys
        .iter()
        .zip(&positions)
        .take(sources.len())
        .map(|((_, key), &at)| guards[at].find(key).and_then(|e| e.value.as_set()))
        .collect();
    let card_limit = match output {
        Output::Cardinality(limit) if limit > 0 => limit,
        _ => usize::MAX,
    };
    let members: Vec<Member<'_>> = match op {
        Op::Inter => intersection(&sets, card_limit),
        Op::Diff => match sets.first().copied().flatten() {
            Some(first) => first
                .iter()
                .filter(|&m| {
                    !sets[1..]
                        .iter()
                        .flatten()
                        .any(|other| other.contains_member(m))
                })
                .collect(),
            None => Vec::new(),
        },
        Op::Union => Vec::new(),
    };
    let mut result = SetValue::new();
    if op == Op::Union {
        for member in sets.iter().flatten().flat_map(|s| s.iter()) {
            member.with_bytes(|b| result.add(b, &limits));
        }
    }
    match output {
        Output::Cardinality(_) => {
            let count = members.len();
            drop(members);
            drop(sets);
            drop(guards);
            ctx.out.integer(count as i64);
        }
        Output::Reply if op == Op::Union => {
            drop(sets);
            drop(guards);
            ctx.out.set(result.len());
            for member in result.iter() {
                write_member(ctx.out, member);
            }
        }
        Output::Reply => {
            ctx.out.set(members.len());
            for member in members {
                write_member(ctx.out, member);
            }
        }
        Output::Store(_) => {
            for member in &members {
                member.with_bytes(|b| result.add(b, &limits));
            }
            drop(members);
            drop(sets);
            let dst_at = positions[sources.len()];
            let dst = &keys[sources.len()].1;
            let len = result.len();
            if len == 0 {
                if guards[dst_at].remove(dst).is_some() {
                    ctx.notify(class::GENERIC, "del", dst.bytes);
                }
            } else {
                guards[dst_at].insert(dst, Entry::new(Value::Set(result)));
                let event = match op {
                    Op::Inter => "sinterstore",
                    Op::Union => "sunionstore",
                    Op::Diff => "sdiffstore",
                };
                ctx.notify(class::SET, event, dst.bytes);
            }
            drop(guards);
            ctx.out.integer(len as i64);
        }
    }
    Ok(())
}

/// Members of every set, scanning the smallest; empty if any set is missing.
fn intersection<'s>(sets: &[Option<&'s SetValue>], limit: usize) -> Vec<Member<'s>> {
    let Some(mut present) = sets.iter().copied().collect::<Option<Vec<&SetValue>>>() else {
        return Vec::new();
    };
    present.sort_by_key(|s| s.len());
    let Some((smallest, others)) = present.split_first() else {
        return Vec::new();
    };
    smallest
        .iter()
        .filter(|&m| others.iter().all(|s| s.contains_member(m)))
        .take(limit)
        .collect()
}

fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_operation(ctx, Op::Inter, &args[1..], Output::Reply)
}

fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_operation(ctx, Op::Inter, &args[2..], Output::Store(&args[1]))
}

fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_operation(ctx, Op::Union, &args[1..], Output::Reply)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_operation(ctx, Op::Union, &args[2..], Output::Store(&args[1]))
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_operation(ctx, Op::Diff, &args[1..], Output::Reply)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_operation(ctx, Op::Diff, &args[2..], Output::Store(&args[1]))
}

fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys_error = || CmdError::msg("ERR numkeys should be greater than 0");
    let numkeys = parse_i64(&args[1]).map_err(|_| numkeys_error())?;
    if numkeys < 1 {
        return Err(numkeys_error());
    }
    if numkeys as u64 > (args.len() - 2) as u64 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = end;
    while i < args.len() {
        match args.get(i + 1) {
            Some(value) if crate::command::is(&args[i], "limit") => {
                let n = parse_i64(value)
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| CmdError::msg("ERR LIMIT can't be negative"))?;
                limit = usize::try_from(n).unwrap_or(usize::MAX);
                i += 2;
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    set_operation(ctx, Op::Inter, &args[2..end], Output::Cardinality(limit))
}

fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scan = parse_scan_args(args, 2, false)?;
    with_set(ctx, args, |ctx, s| {
        let Some(set) = s else {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            ctx.out.array(0);
            return;
        };
        // An intset is returned whole, as Redis does.
        let (start, end) = if set.encoding_name() == "intset" {
            (0, set.len())
        } else {
            scan_window(scan.cursor, scan.count, set.len())
        };
        let next = start as u64;
        let found: Vec<Member<'_>> = (start..end)
            .filter_map(|i| set.member_at(i))
            .filter(|m| {
                scan.pattern
                    .is_none_or(|p| m.with_bytes(|b| glob_match(p, b, false)))
            })
            .collect();
        ctx.out.array(2);
        ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
        ctx.out.array(found.len());
        for member in found {
            write_member(ctx.out, member);
        }
    })
}
