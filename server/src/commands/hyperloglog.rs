//! HyperLogLog commands (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST): the
//! arguments, lookups and replies of Redis 7.0's `hyperloglog.c`; the values
//! and their algorithms are `ferrite_storage::hll`.
//!
//! PFCOUNT of one key writes the cardinality it computed into the value
//! (Redis caches it there), and PFDEBUG GETREG/TODENSE may turn a sparse HLL
//! dense; neither reply says so, so they report it through
//! `ClientState::reported_change`, which makes the command propagate (as
//! Redis's `server.dirty++` does) and count as a write of its key for WATCH
//! and client tracking.

use bytes::Bytes;
use ferrite_storage::hll::{self, HllError};
use ferrite_storage::{Entry, KeyHash, ShardGuard, StringValue, Value};

use super::typed::{lock_keys, value_at};
use crate::command::{is, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeySpec};
use crate::notify::class;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, pfadd).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(&["write", "denyoom", "fast"]).acl(&["@write", "@hyperloglog", "@fast"]).doc("hyperloglog", "Adds the specified elements to the specified HyperLogLog."),
    CommandSpec::new("pfcount", -2, pfcount).key_specs(&[KeySpec::range(1, -1, 1, RW | ACCESS).notes("RW because it may change the internal representation of the key, and propagate to replicas")]).flags(&["readonly", "may_replicate"]).acl(&["@read", "@hyperloglog", "@slow"]).doc("hyperloglog", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s)."),
    CommandSpec::new("pfmerge", -2, pfmerge).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | INSERT), KeySpec::range(2, -1, 1, RO | ACCESS)]).flags(&["write", "denyoom"]).acl(&["@write", "@hyperloglog", "@slow"]).doc("hyperloglog", "Merge N different HyperLogLogs into a single one."),
    CommandSpec::new("pfdebug", 3, pfdebug).key_specs(&[KeySpec::range(2, 0, 1, RW | ACCESS)]).flags(&["write", "denyoom", "admin"]).acl(&["@write", "@hyperloglog", "@admin", "@slow", "@dangerous"]).doc("hyperloglog", "Internal commands for debugging HyperLogLog values"),
    CommandSpec::new("pfselftest", 1, pfselftest).flags(&["admin"]).acl(&["@hyperloglog", "@admin", "@slow", "@dangerous"]).doc("hyperloglog", "An internal command for testing HyperLogLog values"),
];

fn hll_error(error: HllError) -> CmdError {
    CmdError::msg(error.message())
}

/// `hll-sparse-max-bytes` in force.
fn sparse_max_bytes(ctx: &Ctx<'_>) -> usize {
    ctx.encoding_limits().hll_sparse_max_bytes.max(0) as usize
}

/// The HLL at `key` ready to modify (Redis's `isHLLObjectOrReply` then
/// `dbUnshareStringValue`, which makes the string `raw`); `None` if absent.
fn hll_at<'g>(
    shard: &'g mut ShardGuard<'_>,
    key: &KeyHash,
    touch: bool,
) -> Result<Option<&'g mut Vec<u8>>, CmdError> {
    let Some(value) = value_at::<StringValue>(shard, key, touch)? else {
        return Ok(None);
    };
    value.with_bytes(hll::check).map_err(hll_error)?;
    Ok(Some(value.make_raw()))
}

/// The HLL at `key`, created empty if missing; true if it was created.
fn hll_or_new<'g>(
    shard: &'g mut ShardGuard<'_>,
    key: &KeyHash,
) -> Result<(&'g mut Vec<u8>, bool), CmdError> {
    let created = value_at::<StringValue>(shard, key, true)?.is_none();
    if created {
        let empty = StringValue::Raw(Box::new(hll::new_empty()));
        shard.insert(key, Entry::new(Value::String(empty)));
    }
    let hll = hll_at(shard, key, true)?.ok_or(CmdError::WrongType)?;
    Ok((hll, created))
}

fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let max_bytes = sparse_max_bytes(ctx);
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let (hll, mut updated) = hll_or_new(&mut shard, &key)?;
    for element in &args[2..] {
        updated |= hll::add(hll, element, max_bytes).map_err(hll_error)?;
    }
    if updated {
        hll::invalidate_cache(hll);
        ctx.notify(class::STRING, "pfadd", key.bytes);
    }
    drop(shard);
    ctx.out.integer(updated as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        return pfcount_union(ctx, &args[1..]);
    }
    let touch = !ctx.client.no_touch;
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let card = match hll_at(&mut shard, &key, touch)? {
        None => {
            ctx.record_lookup(false);
            0
        }
        Some(hll) => {
            ctx.record_lookup(true);
            let (card, cached) = hll::cached_count(hll).map_err(hll_error)?;
            ctx.client.reported_change |= cached;
            card
        }
    };
    drop(shard);
    ctx.out.integer(card as i64);
    Ok(())
}

/// The union of the HLLs at `keys` (missing keys count as empty), checked
/// and merged in order as Redis does, under one lock of all their shards.
fn union_of(
    ctx: &Ctx<'_>,
    guards: &mut [ShardGuard<'_>],
    keys: &[(KeyHash<'_>, usize)],
) -> Result<hll::Union, CmdError> {
    let touch = !ctx.client.no_touch;
    let mut union = hll::Union::default();
    for (key, position) in keys {
        let found = value_at::<StringValue>(&mut guards[*position], key, touch)?;
        ctx.record_lookup(found.is_some());
        if let Some(value) = found {
            value
                .with_bytes(|bytes| union.merge(bytes))
                .map_err(hll_error)?;
        }
    }
    Ok(union)
}

fn pfcount_union(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let (mut guards, keys) = lock_keys(ctx, &ks, keys);
    let card = union_of(ctx, &mut guards, &keys)?.count();
    drop(guards);
    ctx.out.integer(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let max_bytes = sparse_max_bytes(ctx);
    let ks = ctx.keyspace();
    // The destination is merged first, as in Redis.
    let (mut guards, keys) = lock_keys(ctx, &ks, &args[1..]);
    let union = union_of(ctx, &mut guards, &keys)?;
    let (dest, position) = &keys[0];
    let (hll, _) = hll_or_new(&mut guards[*position], dest)?;
    union.store(hll, max_bytes).map_err(hll_error)?;
    // Redis announces PFMERGE as a mass PFADD.
    ctx.notify(class::STRING, "pfadd", dest.bytes);
    drop(guards);
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[2]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let hll = hll_at(&mut shard, &key, true)?
        .ok_or_else(|| CmdError::msg("ERR The specified key does not exist"))?;
    let subcommand = &args[1];
    if is(subcommand, "getreg") {
        let converted = hll::to_dense(hll).map_err(hll_error)?;
        ctx.client.reported_change |= converted;
        ctx.out.array(hll::REGISTERS);
        for register in hll::dense_registers(hll) {
            ctx.out.integer(register as i64);
        }
    } else if is(subcommand, "decode") {
        let decoded = hll::describe_sparse(hll)
            .ok_or_else(|| CmdError::msg("ERR HLL encoding is not sparse"))?;
        ctx.out.bulk(decoded.as_bytes());
    } else if is(subcommand, "encoding") {
        let encoding = hll::check(hll).map_err(hll_error)?;
        ctx.out.simple(encoding.name());
    } else if is(subcommand, "todense") {
        let converted = hll::to_dense(hll).map_err(hll_error)?;
        ctx.client.reported_change |= converted;
        ctx.out.integer(converted as i64);
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(subcommand)
        )));
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    hll::self_test(sparse_max_bytes(ctx)).map_err(CmdError::msg)?;
    ctx.out.ok();
    Ok(())
}
