//! String commands.

use bytes::Bytes;
use ferrite_storage::{Entry, KeyHash, StringValue, Value};

use super::typed::value_at;
use crate::command::{is, parse_f64, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeyRef, KeySpec};
use crate::notify::class;

const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const RF: &[&str] = &["readonly", "fast"];

/// SET's key, whose flags depend on GET (Redis's `setGetKeys`).
fn set_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let flags = if args.iter().skip(3).any(|arg| is(arg, "get")) {
        RW | ACCESS | UPDATE
    } else {
        OW | UPDATE
    };
    vec![KeyRef { pos: 1, flags }]
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, get).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(RF).acl(&["@read", "@string", "@fast"]).doc("string", "Returns the string value of a key."),
    CommandSpec::new("set", -3, set).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE | VARIABLE_FLAGS).notes("RW and ACCESS due to the optional `GET` argument")]).key_finder(set_keys).flags(W).acl(&["@write", "@string", "@slow"]).doc("string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    CommandSpec::new("setnx", 3, setnx).key_specs(&[KeySpec::range(1, 0, 1, OW | INSERT)]).flags(WF).acl(&["@write", "@string", "@fast"]).doc("string", "Set the string value of a key only when the key doesn't exist."),
    CommandSpec::new("setex", 4, setex).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE)]).flags(W).acl(&["@write", "@string", "@slow"]).doc("string", "Sets the string value and expiration time of a key."),
    CommandSpec::new("psetex", 4, psetex).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE)]).flags(W).acl(&["@write", "@string", "@slow"]).doc("string", "Sets both string value and expiration time in milliseconds of a key."),
    CommandSpec::new("mget", -2, mget).key_specs(&[KeySpec::range(1, -1, 1, RO | ACCESS)]).flags(RF).acl(&["@read", "@string", "@fast"]).doc("string", "Atomically returns the string values of one or more keys."),
    CommandSpec::new("mset", -3, mset).key_specs(&[KeySpec::range(1, -1, 2, OW | UPDATE)]).flags(W).acl(&["@write", "@string", "@slow"]).doc("string", "Atomically creates or modifies the string values of one or more keys."),
    CommandSpec::new("msetnx", -3, msetnx).key_specs(&[KeySpec::range(1, -1, 2, OW | INSERT)]).flags(W).acl(&["@write", "@string", "@slow"]).doc("string", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    CommandSpec::new("getset", 3, getset).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(&["@write", "@string", "@fast"]).doc("string", "Returns the previous string value of a key after setting it to a new value."),
    CommandSpec::new("getdel", 2, getdel).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE)]).flags(&["write", "fast"]).acl(&["@write", "@string", "@fast"]).doc("string", "Returns the string value of a key after deleting the key."),
    CommandSpec::new("getex", -2, getex).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE).notes("RW and UPDATE because it changes the TTL")]).flags(&["write", "fast"]).acl(&["@write", "@string", "@fast"]).doc("string", "Returns the string value of a key after setting its expiration time."),
    CommandSpec::new("append", 3, append).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(WF).acl(&["@write", "@string", "@fast"]).doc("string", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    CommandSpec::new("strlen", 2, strlen).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(RF).acl(&["@read", "@string", "@fast"]).doc("string", "Returns the length of a string value."),
    CommandSpec::new("incr", 2, incr).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(&["@write", "@string", "@fast"]).doc("string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    CommandSpec::new("decr", 2, decr).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(&["@write", "@string", "@fast"]).doc("string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    CommandSpec::new("incrby", 3, incrby).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(&["@write", "@string", "@fast"]).doc("string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    CommandSpec::new("decrby", 3, decrby).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(&["@write", "@string", "@fast"]).doc("string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    CommandSpec::new("incrbyfloat", 3, incrbyfloat).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(WF).acl(&["@write", "@string", "@fast"]).doc("string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    CommandSpec::new("setrange", 4, setrange).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(W).acl(&["@write", "@string", "@slow"]).doc("string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    CommandSpec::new("getrange", 4, getrange).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@read", "@string", "@slow"]).doc("string", "Returns a substring of the string stored at a key."),
    CommandSpec::new("substr", 4, getrange).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@read", "@string", "@slow"]).doc("string", "Returns a substring from a string value."),
    CommandSpec::new("lcs", -3, lcs).key_specs(&[KeySpec::range(1, 1, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@read", "@string", "@slow"]).doc("string", "Finds the longest common substring."),
];

fn string_value(value: Value) -> Entry {
    Entry::new(value)
}

pub(super) fn new_string(bytes: &[u8]) -> Value {
    Value::String(StringValue::from_bytes(bytes))
}

pub(super) fn max_string_len(ctx: &Ctx<'_>) -> u64 {
    ctx.server
        .hot
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed)
}

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let touch = !ctx.client.no_touch;
    match value_at::<StringValue>(&mut shard, &key, touch)? {
        Some(value) => {
            value.with_bytes(|b| ctx.out.bulk(b));
            ctx.record_lookup(true);
        }
        None => {
            ctx.out.null();
            ctx.record_lookup(false);
        }
    }
    Ok(())
}

/// When a SET-like command makes the key expire.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ExpirySpec {
    /// Clear any existing expiry.
    Clear,
    Keep,
    At(u64),
}

/// Turns an EX/PX/EXAT/PXAT argument into an absolute time, with Redis's checks.
fn expiry_from_arg(
    ctx: &Ctx<'_>,
    arg: &[u8],
    unit_ms: i64,
    relative: bool,
    now_ms: u64,
) -> Result<u64, CmdError> {
    let value = parse_i64(arg)?;
    let invalid = || {
        CmdError::msg(format!(
            "ERR invalid expire time in '{}' command",
            ctx.command_name
        ))
    };
    if value <= 0 || (unit_ms == 1000 && value > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut ms = value * unit_ms;
    if relative {
        ms = ms.checked_add(now_ms as i64).ok_or_else(invalid)?;
    }
    Ok(ms as u64)
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum Condition {
    Always,
    IfMissing,
    IfExists,
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let now = ferrite_storage::now_ms();
    let mut condition = Condition::Always;
    let mut expiry = ExpirySpec::Clear;
    let mut expiry_given = false;
    let mut return_old = false;
    let mut i = 3;
    while i < args.len() {
        let option = &args[i];
        let next = args.get(i + 1);
        if is(option, "nx") && condition == Condition::Always {
            condition = Condition::IfMissing;
        } else if is(option, "xx") && condition == Condition::Always {
            condition = Condition::IfExists;
        } else if is(option, "get") && !return_old {
            return_old = true;
        } else if is(option, "keepttl") && !expiry_given {
            expiry = ExpirySpec::Keep;
            expiry_given = true;
        } else if let (Some((unit, relative)), Some(value), false) =
            (expiry_option(option), next, expiry_given)
        {
            expiry = ExpirySpec::At(expiry_from_arg(ctx, value, unit, relative, now)?);
            expiry_given = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    set_generic(ctx, &args[1], &args[2], condition, expiry, return_old)
}

/// EX, PX, EXAT, PXAT: (unit in ms, relative to now).
fn expiry_option(option: &[u8]) -> Option<(i64, bool)> {
    if is(option, "ex") {
        Some((1000, true))
    } else if is(option, "px") {
        Some((1, true))
    } else if is(option, "exat") {
        Some((1000, false))
    } else if is(option, "pxat") {
        Some((1, false))
    } else {
        None
    }
}

fn set_generic(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    value: &Bytes,
    condition: Condition,
    expiry: ExpirySpec,
    return_old: bool,
) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(key);
    let mut shard = ks.lock(ctx.client.db, &key);
    let (exists, old_value, old_expiry) = match shard.get(&key) {
        Some(entry) => {
            let old = if return_old {
                Some(entry.value.as_string().ok_or(CmdError::WrongType)?.to_vec())
            } else {
                None
            };
            (true, old, entry.expire_at_ms())
        }
        None => (false, None, None),
    };
    let allowed = match condition {
        Condition::Always => true,
        Condition::IfMissing => !exists,
        Condition::IfExists => exists,
    };
    if allowed {
        let expire_at = match expiry {
            ExpirySpec::Clear => None,
            ExpirySpec::Keep => old_expiry,
            ExpirySpec::At(at) => Some(at),
        };
        shard.insert(&key, Entry::with_expiry(new_string(value), expire_at));
        ctx.notify(class::STRING, "set", key.bytes);
        if let ExpirySpec::At(_) = expiry {
            ctx.notify(class::GENERIC, "expire", key.bytes);
        }
    }
    drop(shard);
    if return_old {
        match old_value {
            Some(old) => ctx.out.bulk(&old),
            None => ctx.out.null(),
        }
    } else if allowed {
        ctx.out.ok();
    } else {
        ctx.out.null();
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let created = !shard.contains(&key);
    if created {
        shard.insert(&key, string_value(new_string(&args[2])));
        ctx.notify(class::STRING, "set", key.bytes);
    }
    drop(shard);
    ctx.out.integer(created as i64);
    Ok(())
}

fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let at = expiry_from_arg(ctx, &args[2], 1000, true, ferrite_storage::now_ms())?;
    set_generic(
        ctx,
        &args[1],
        &args[3],
        Condition::Always,
        ExpirySpec::At(at),
        false,
    )
}

fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let at = expiry_from_arg(ctx, &args[2], 1, true, ferrite_storage::now_ms())?;
    set_generic(
        ctx,
        &args[1],
        &args[3],
        Condition::Always,
        ExpirySpec::At(at),
        false,
    )
}

fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_generic(
        ctx,
        &args[1],
        &args[2],
        Condition::Always,
        ExpirySpec::Clear,
        true,
    )
}

fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let keys: Vec<(usize, KeyHash)> = args[1..]
        .iter()
        .map(|k| (ctx.client.db, ks.key(k)))
        .collect();
    let (mut guards, positions) = ks.lock_many(&keys);
    ctx.out.array(keys.len());
    for ((_, key), position) in keys.iter().zip(positions) {
        let shard = &mut guards[position];
        match shard.get(key).and_then(|entry| entry.value.as_string()) {
            Some(value) => value.with_bytes(|b| ctx.out.bulk(b)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    mset_generic(ctx, args, false)
}

fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    mset_generic(ctx, args, true)
}

fn mset_generic(ctx: &mut Ctx<'_>, args: &[Bytes], only_if_none_exist: bool) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.command_name
        )));
    }
    let ks = ctx.keyspace();
    let pairs: Vec<(usize, KeyHash)> = args[1..]
        .iter()
        .step_by(2)
        .map(|k| (ctx.client.db, ks.key(k)))
        .collect();
    let (mut guards, positions) = ks.lock_many(&pairs);
    if only_if_none_exist {
        let any_exists = pairs
            .iter()
            .zip(&positions)
            .any(|((_, key), &p)| guards[p].contains(key));
        if any_exists {
            drop(guards);
            ctx.out.integer(0);
            return Ok(());
        }
    }
    for (((_, key), &position), value) in pairs
        .iter()
        .zip(&positions)
        .zip(args[2..].iter().step_by(2))
    {
        guards[position].insert(key, string_value(new_string(value)));
        ctx.notify(class::STRING, "set", key.bytes);
    }
    drop(guards);
    if only_if_none_exist {
        ctx.out.integer(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let Some(value) = value_at::<StringValue>(&mut shard, &key, true)?.map(|v| v.to_vec()) else {
        drop(shard);
        ctx.out.null();
        return Ok(());
    };
    shard.remove(&key);
    ctx.notify(class::GENERIC, "del", key.bytes);
    drop(shard);
    ctx.out.bulk(&value);
    Ok(())
}

fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let now = ferrite_storage::now_ms();
    let mut change: Option<Option<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        let option = &args[i];
        if is(option, "persist") && change.is_none() {
            change = Some(None);
        } else if let (Some((unit, relative)), Some(value), true) =
            (expiry_option(option), args.get(i + 1), change.is_none())
        {
            change = Some(Some(expiry_from_arg(ctx, value, unit, relative, now)?));
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let Some(value) = value_at::<StringValue>(&mut shard, &key, true)?.map(|v| v.to_vec()) else {
        drop(shard);
        ctx.out.null();
        return Ok(());
    };
    match change {
        Some(Some(at)) if ctx.expired_at_once(at as i64, now) => {
            shard.remove(&key);
            ctx.notify(class::GENERIC, "del", key.bytes);
        }
        Some(Some(at)) => {
            shard.set_expiry(&key, Some(at));
            ctx.notify(class::GENERIC, "expire", key.bytes);
        }
        Some(None) => {
            let had_ttl = shard.peek(&key).is_some_and(|e| e.expire_at_ms().is_some());
            if had_ttl {
                shard.set_expiry(&key, None);
                ctx.notify(class::GENERIC, "persist", key.bytes);
            }
        }
        None => {}
    }
    drop(shard);
    ctx.out.bulk(&value);
    Ok(())
}

fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limit = max_string_len(ctx);
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let new_len = match value_at::<StringValue>(&mut shard, &key, true)? {
        Some(value) => {
            if (value.len() + args[2].len()) as u64 > limit {
                return Err(CmdError::msg(TOO_BIG));
            }
            let raw = value.make_raw();
            raw.extend_from_slice(&args[2]);
            raw.len()
        }
        None => {
            shard.insert(&key, string_value(new_string(&args[2])));
            args[2].len()
        }
    };
    ctx.notify(class::STRING, "append", key.bytes);
    drop(shard);
    ctx.out.integer(new_len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let len = value_at::<StringValue>(&mut shard, &key, true)?.map_or(0, |v| v.len());
    drop(shard);
    ctx.out.integer(len as i64);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], parse_i64(&args[2])?)
}

fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let by = parse_i64(&args[2])?;
    let negated = by
        .checked_neg()
        .ok_or_else(|| CmdError::msg("ERR decrement would overflow"))?;
    incr_by(ctx, &args[1], negated)
}

/// INCR and friends: integer arithmetic in place, keeping the key's expiry.
fn incr_by(ctx: &mut Ctx<'_>, key: &Bytes, by: i64) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(key);
    let mut shard = ks.lock(ctx.client.db, &key);
    let result = match value_at::<StringValue>(&mut shard, &key, true)? {
        Some(value) => {
            let current = value.as_i64().ok_or(CmdError::NotInteger)?;
            let result = current.checked_add(by).ok_or(CmdError::Overflow)?;
            *value = StringValue::Int(result);
            result
        }
        None => {
            shard.insert(&key, string_value(Value::String(StringValue::Int(by))));
            by
        }
    };
    ctx.notify(class::STRING, "incrby", key.bytes);
    drop(shard);
    ctx.out.integer(result);
    Ok(())
}

fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let by = parse_f64(&args[2])?;
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let current = match value_at::<StringValue>(&mut shard, &key, true)? {
        Some(value) => value.with_bytes(parse_f64)?,
        None => 0.0,
    };
    let result = current + by;
    if !result.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = format_human_float(result);
    match shard.get(&key) {
        Some(entry) => entry.value = new_string(text.as_bytes()),
        None => {
            shard.insert(&key, string_value(new_string(text.as_bytes())));
        }
    }
    ctx.notify(class::STRING, "incrbyfloat", key.bytes);
    drop(shard);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// INCRBYFLOAT's result text: plain decimal, shortest form that reads back to
/// the same double, never `-0`. (Redis computes in `long double` and prints
/// 17 digits; results agree except where `long double` rounding differs.)
pub(crate) fn format_human_float(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    format!("{value}")
}

fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = parse_i64(&args[2])?;
    if offset < 0 {
        return Err(CmdError::msg("ERR offset is out of range"));
    }
    let patch = &args[3];
    let limit = max_string_len(ctx);
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let new_len = match value_at::<StringValue>(&mut shard, &key, true)? {
        Some(value) => {
            if patch.is_empty() {
                value.len()
            } else {
                if offset as u64 + patch.len() as u64 > limit {
                    return Err(CmdError::msg(TOO_BIG));
                }
                let raw = value.make_raw();
                splice(raw, offset as usize, patch);
                raw.len()
            }
        }
        None => {
            if patch.is_empty() {
                0
            } else {
                if offset as u64 + patch.len() as u64 > limit {
                    return Err(CmdError::msg(TOO_BIG));
                }
                let mut raw = Vec::new();
                splice(&mut raw, offset as usize, patch);
                let len = raw.len();
                shard.insert(
                    &key,
                    string_value(Value::String(StringValue::Raw(Box::new(raw)))),
                );
                len
            }
        }
    };
    if !patch.is_empty() {
        ctx.notify(class::STRING, "setrange", key.bytes);
    }
    drop(shard);
    ctx.out.integer(new_len as i64);
    Ok(())
}

fn splice(target: &mut Vec<u8>, offset: usize, patch: &[u8]) {
    let end = offset + patch.len();
    if target.len() < end {
        target.resize(end, 0);
    }
    target[offset..end].copy_from_slice(patch);
}

fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let start = parse_i64(&args[2])?;
    let end = parse_i64(&args[3])?;
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let Some(value) = value_at::<StringValue>(&mut shard, &key, true)? else {
        drop(shard);
        ctx.out.bulk(b"");
        return Ok(());
    };
    value.with_bytes(|bytes| match clamp_range(start, end, bytes.len()) {
        Some((from, to)) => ctx.out.bulk(&bytes[from..=to]),
        None => ctx.out.bulk(b""),
    });
    Ok(())
}

/// Redis's GETRANGE index arithmetic: negative indexes count from the end.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let mut end = if end < 0 { (len + end).max(0) } else { end };
    if end >= len {
        end = len - 1;
    }
    if len == 0 || start > end {
        return None;
    }
    Some((start as usize, end as usize))
}

fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut want_len, mut want_idx, mut with_match_len, mut min_match_len) =
        (false, false, false, 0u64);
    let mut i = 3;
    while i < args.len() {
        let option = &args[i];
        if is(option, "len") {
            want_len = true;
        } else if is(option, "idx") {
            want_idx = true;
        } else if is(option, "withmatchlen") {
            with_match_len = true;
        } else if is(option, "minmatchlen") && i + 1 < args.len() {
            min_match_len = parse_i64(&args[i + 1])?.max(0) as u64;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if want_len && want_idx {
        return Err(CmdError::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (a, b) = {
        let ks = ctx.keyspace();
        let fetch = |arg: &Bytes| -> Result<Vec<u8>, CmdError> {
            let key = ks.key(arg);
            let mut shard = ks.lock(ctx.client.db, &key);
            match shard.get(&key) {
                None => Ok(Vec::new()),
                Some(entry) => entry.value.as_string().map(|s| s.to_vec()).ok_or_else(|| {
                    CmdError::msg("ERR The specified keys must contain string values")
                }),
            }
        };
        (fetch(&args[1])?, fetch(&args[2])?)
    };
    let table_bytes = (a.len() as u64 + 1) * (b.len() as u64 + 1) * 4;
    if table_bytes > max_string_len(ctx) {
        return Err(CmdError::msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let result = crate::lcs::longest_common_subsequence(&a, &b);
    if want_len {
        ctx.out.integer(result.text.len() as i64);
    } else if want_idx {
        let matches: Vec<_> = result
            .matches
            .iter()
            .filter(|m| min_match_len == 0 || m.len() >= min_match_len)
            .collect();
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(matches.len());
        for m in matches {
            ctx.out.array(if with_match_len { 3 } else { 2 });
            ctx.out.array(2);
            ctx.out.integer(m.a.0 as i64);
            ctx.out.integer(m.a.1 as i64);
            ctx.out.array(2);
            ctx.out.integer(m.b.0 as i64);
            ctx.out.integer(m.b.1 as i64);
            if with_match_len {
                ctx.out.integer(m.len() as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.integer(result.text.len() as i64);
    } else {
        ctx.out.bulk(&result.text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clamp_range;

    #[test]
    fn getrange_indexes() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(-1, -5, 5), None);
        assert_eq!(clamp_range(0, 100, 5), Some((0, 4)));
    }
}
