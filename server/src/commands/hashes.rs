//! Hash commands (Redis 7.0's `t_hash.c`): fields and values of one key, stored
//! as `ferrite_storage::HashValue`.

use bytes::Bytes;
use ferrite_storage::{glob_match, HashValue};
use rand::Rng;

use super::typed::{collection_for_write, remove_if_empty, value_at};
use crate::command::{
    is, parse_f64, parse_i64, parse_scan_args, parse_signed_count, scan_window, CmdError,
    CmdResult, CommandSpec, Ctx,
};
use crate::commands::strings::format_human_float;
use crate::key_spec::{flags::*, KeySpec};
use crate::notify::class;

const WF: &[&str] = &["write", "denyoom", "fast"];
const RF: &[&str] = &["readonly", "fast"];
const R: &[&str] = &["readonly"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, hset).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(WF).acl(&["@write", "@hash", "@fast"]).doc("hash", "Creates or modifies the value of a field in a hash."),
    CommandSpec::new("hsetnx", 4, hsetnx).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(WF).acl(&["@write", "@hash", "@fast"]).doc("hash", "Sets the value of a field in a hash only when the field doesn't exist."),
    CommandSpec::new("hmset", -4, hmset).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(WF).acl(&["@write", "@hash", "@fast"]).doc("hash", "Sets the values of multiple fields."),
    CommandSpec::new("hget", 3, hget).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(&["@read", "@hash", "@fast"]).doc("hash", "Returns the value of a field in a hash."),
    CommandSpec::new("hmget", -3, hmget).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(&["@read", "@hash", "@fast"]).doc("hash", "Returns the values of all fields in a hash."),
    CommandSpec::new("hdel", -3, hdel).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write", "fast"]).acl(&["@write", "@hash", "@fast"]).doc("hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    CommandSpec::new("hlen", 2, hlen).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(RF).acl(&["@read", "@hash", "@fast"]).doc("hash", "Returns the number of fields in a hash."),
    CommandSpec::new("hstrlen", 3, hstrlen).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(RF).acl(&["@read", "@hash", "@fast"]).doc("hash", "Returns the length of the value of a field."),
    CommandSpec::new("hexists", 3, hexists).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(RF).acl(&["@read", "@hash", "@fast"]).doc("hash", "Determines whether a field exists in a hash."),
    CommandSpec::new("hkeys", 2, hkeys).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@hash", "@slow"]).doc("hash", "Returns all fields in a hash."),
    CommandSpec::new("hvals", 2, hvals).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@hash", "@slow"]).doc("hash", "Returns all values in a hash."),
    CommandSpec::new("hgetall", 2, hgetall).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@hash", "@slow"]).doc("hash", "Returns all fields and values in a hash."),
    CommandSpec::new("hincrby", 4, hincrby).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(&["@write", "@hash", "@fast"]).doc("hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    CommandSpec::new("hincrbyfloat", 4, hincrbyfloat).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(&["@write", "@hash", "@fast"]).doc("hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    CommandSpec::new("hrandfield", -2, hrandfield).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@hash", "@slow"]).doc("hash", "Returns one or more random fields from a hash."),
    CommandSpec::new("hscan", -3, hscan).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(&["@read", "@hash", "@slow"]).doc("hash", "Iterates over fields and values of a hash."),
];

fn wrong_args(ctx: &Ctx<'_>) -> CmdError {
    CmdError::msg(format!(
        "ERR wrong number of arguments for '{}' command",
        ctx.command_name
    ))
}

/// HSET and HMSET: sets every pair, returns how many fields are new.
fn set_pairs(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<i64, CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(wrong_args(ctx));
    }
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let hash = collection_for_write::<HashValue>(&mut shard, &key)?;
    let longest = args[2..].iter().map(|a| a.len()).max().unwrap_or(0);
    hash.fit_lengths(longest, &limits);
    let mut created = 0;
    for pair in args[2..].chunks_exact(2) {
        created += hash.set(&pair[0], &pair[1], &limits) as i64;
    }
    ctx.notify(class::HASH, "hset", key.bytes);
    Ok(created)
}

fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let created = set_pairs(ctx, args)?;
    ctx.out.integer(created);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_pairs(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    if value_at::<HashValue>(&mut shard, &key, true)?.is_some_and(|h| h.contains(&args[2])) {
        drop(shard);
        ctx.out.integer(0);
        return Ok(());
    }
    collection_for_write::<HashValue>(&mut shard, &key)?.set(&args[2], &args[3], &limits);
    ctx.notify(class::HASH, "hset", key.bytes);
    drop(shard);
    ctx.out.integer(1);
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    match value_at::<HashValue>(&mut shard, &key, !ctx.client.no_touch)?
        .and_then(|h| h.get(&args[2]))
    {
        Some(value) => ctx.out.bulk(value),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let hash = value_at::<HashValue>(&mut shard, &key, !ctx.client.no_touch)?;
    ctx.out.array(args.len() - 2);
    for field in &args[2..] {
        match hash.as_ref().and_then(|h| h.get(field)) {
            Some(value) => ctx.out.bulk(value),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let mut deleted = 0;
    if let Some(hash) = value_at::<HashValue>(&mut shard, &key, true)? {
        for field in &args[2..] {
            deleted += hash.remove(field) as i64;
            if hash.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify(class::HASH, "hdel", key.bytes);
        if remove_if_empty::<HashValue>(&mut shard, &key) {
            ctx.notify(class::GENERIC, "del", key.bytes);
        }
    }
    drop(shard);
    ctx.out.integer(deleted);
    Ok(())
}

/// Runs `f` on the hash at `args[1]` (None when missing) for a read-only reply.
fn with_hash<R>(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    f: impl FnOnce(&mut Ctx<'_>, Option<&HashValue>) -> R,
) -> Result<R, CmdError> {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let hash = value_at::<HashValue>(&mut shard, &key, !ctx.client.no_touch)?;
    Ok(f(ctx, hash.map(|h| &*h)))
}

fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_hash(ctx, args, |ctx, h| {
        ctx.out.integer(h.map_or(0, |h| h.len() as i64))
    })
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_hash(ctx, args, |ctx, h| {
        let len = h.and_then(|h| h.get(&args[2])).map_or(0, |v| v.len());
        ctx.out.integer(len as i64)
    })
}

fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_hash(ctx, args, |ctx, h| {
        ctx.out
            .integer(h.is_some_and(|h| h.contains(&args[2])) as i64)
    })
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_hash(ctx, args, |ctx, h| {
        ctx.out.array(h.map_or(0, |h| h.len()));
        for (field, _) in h.into_iter().flat_map(|h| h.iter()) {
            ctx.out.bulk(field);
        }
    })
}

fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_hash(ctx, args, |ctx, h| {
        ctx.out.array(h.map_or(0, |h| h.len()));
        for (_, value) in h.into_iter().flat_map(|h| h.iter()) {
            ctx.out.bulk(value);
        }
    })
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    with_hash(ctx, args, |ctx, h| {
        ctx.out.map(h.map_or(0, |h| h.len()));
        for (field, value) in h.into_iter().flat_map(|h| h.iter()) {
            ctx.out.bulk(field);
            ctx.out.bulk(value);
        }
    })
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let by = parse_i64(&args[3])?;
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let hash = collection_for_write::<HashValue>(&mut shard, &key)?;
    let current = match hash.get(&args[2]) {
        Some(value) => {
            parse_i64(value).map_err(|_| CmdError::msg("ERR hash value is not an integer"))?
        }
        None => 0,
    };
    let result = current.checked_add(by).ok_or(CmdError::Overflow);
    if let Ok(result) = result {
        hash.set(
            &args[2],
            itoa::Buffer::new().format(result).as_bytes(),
            &limits,
        );
        ctx.notify(class::HASH, "hincrby", key.bytes);
    }
    remove_if_empty::<HashValue>(&mut shard, &key);
    drop(shard);
    ctx.out.integer(result?);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let by = parse_f64(&args[3])?;
    if !by.is_finite() {
        return Err(CmdError::msg("ERR value is NaN or Infinity"));
    }
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let hash = collection_for_write::<HashValue>(&mut shard, &key)?;
    let current = match hash.get(&args[2]) {
        Some(value) => parse_f64(value).map_err(|_| CmdError::msg("ERR hash value is not a float")),
        None => Ok(0.0),
    };
    let result = current.and_then(|current| {
        let result = current + by;
        if result.is_finite() {
            Ok(format_human_float(result))
        } else {
            Err(CmdError::msg("ERR increment would produce NaN or Infinity"))
        }
    });
    if let Ok(text) = &result {
        hash.set(&args[2], text.as_bytes(), &limits);
        ctx.notify(class::HASH, "hincrbyfloat", key.bytes);
    }
    remove_if_empty::<HashValue>(&mut shard, &key);
    drop(shard);
    ctx.out.bulk(result?.as_bytes());
    Ok(())
}

fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 {
        return with_hash(ctx, args, |ctx, h| {
            let mut rng = rand::thread_rng();
            let picked = h
                .filter(|h| !h.is_empty())
                .and_then(|h| h.entry_at(rng.gen_range(0..h.len())));
            match picked {
                Some((field, _)) => ctx.out.bulk(field),
                None => ctx.out.null(),
            }
        });
    }
    let count = parse_signed_count(&args[2])?;
    let with_values = match args.len() {
        3 => false,
        4 if is(&args[3], "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    with_hash(ctx, args, |ctx, h| {
        let Some(hash) = h.filter(|_| count != 0) else {
            ctx.out.array(0);
            return;
        };
        let resp3 = ctx.out.protocol() == ferrite_resp::Protocol::Resp3;
        let mut rng = rand::thread_rng();
        let write_pick = |ctx: &mut Ctx<'_>, position: usize| {
            if let Some((field, value)) = hash.entry_at(position) {
                if with_values && resp3 {
                    ctx.out.array(2);
                }
                ctx.out.bulk(field);
                if with_values {
                    ctx.out.bulk(value);
                }
            }
        };
        let header = |ctx: &mut Ctx<'_>, picks: usize| {
            ctx.out.array(if with_values && !resp3 {
                picks * 2
            } else {
                picks
            });
        };
        if count < 0 {
            // With repetitions: streamed, never collected (the count may be huge).
            let n = count.unsigned_abs() as usize;
            header(ctx, n);
            for _ in 0..n {
                write_pick(ctx, rng.gen_range(0..hash.len()));
            }
            return;
        }
        let picks: Vec<usize> = if count as usize >= hash.len() {
            (0..hash.len()).collect()
        } else {
            rand::seq::index::sample(&mut rng, hash.len(), count as usize).into_vec()
        };
        header(ctx, picks.len());
        for position in picks {
            write_pick(ctx, position);
        }
    })
}

fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scan = parse_scan_args(args, 2, false)?;
    with_hash(ctx, args, |ctx, h| {
        let Some(hash) = h else {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            ctx.out.array(0);
            return;
        };
        // The compact encoding is returned whole, as Redis does.
        let (start, end) = if hash.encoding_name() == "listpack" {
            (0, hash.len())
        } else {
            scan_window(scan.cursor, scan.count, hash.len())
        };
        let next = start as u64;
        let found: Vec<(&[u8], &[u8])> = (start..end)
            .filter_map(|i| hash.entry_at(i))
            .filter(|(field, _)| scan.pattern.is_none_or(|p| glob_match(p, field, false)))
            .collect();
        ctx.out.array(2);
        ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
        ctx.out.array(found.len() * 2);
        for (field, value) in found {
            ctx.out.bulk(field);
            ctx.out.bulk(value);
        }
    })
}
