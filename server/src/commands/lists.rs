//! List commands (Redis 7.0 semantics). The pop and move logic lives in
//! [`pop_from`], [`move_between`] and [`pop_first_nonempty`] so that the
//! blocking forms (BLPOP, BLMOVE, BLMPOP, ...) can call the same code once a
//! key they wait on becomes ready.

use bytes::Bytes;
use ferrite_storage::{
    EncodingLimits, Entry, KeyHash, KeyspaceRead, ListEnd, ListValue, ShardGuard, Value,
};

use super::typed::{remove_if_empty, value_at};
use crate::command::{is, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};
use crate::notify::{class, DbEvents};

const WDF: &[&str] = &["write", "denyoom", "fast"];
const WF: &[&str] = &["write", "fast"];
const WD: &[&str] = &["write", "denyoom"];
const W: &[&str] = &["write"];
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];

const WRITE_FAST: &[&str] = &["@write", "@list", "@fast"];
const WRITE_SLOW: &[&str] = &["@write", "@list", "@slow"];
const READ_FAST: &[&str] = &["@read", "@list", "@fast"];
const READ_SLOW: &[&str] = &["@read", "@list", "@slow"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, lpush).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(WDF).acl(WRITE_FAST).doc("list", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    CommandSpec::new("rpush", -3, rpush).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(WDF).acl(WRITE_FAST).doc("list", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    CommandSpec::new("lpushx", -3, lpushx).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(WDF).acl(WRITE_FAST).doc("list", "Prepends one or more elements to a list only when the list exists."),
    CommandSpec::new("rpushx", -3, rpushx).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(WDF).acl(WRITE_FAST).doc("list", "Appends an element to a list only when the list exists."),
    CommandSpec::new("lpop", -2, lpop).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE)]).flags(WF).acl(WRITE_FAST).doc("list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    CommandSpec::new("rpop", -2, rpop).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE)]).flags(WF).acl(WRITE_FAST).doc("list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    CommandSpec::new("llen", 2, llen).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(RF).acl(READ_FAST).doc("list", "Returns the length of a list."),
    CommandSpec::new("lindex", 3, lindex).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(READ_SLOW).doc("list", "Returns an element from a list by its index."),
    CommandSpec::new("lset", 4, lset).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(WD).acl(WRITE_SLOW).doc("list", "Sets the value of an element in a list by its index."),
    CommandSpec::new("lrange", 4, lrange).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(READ_SLOW).doc("list", "Returns a range of elements from a list."),
    CommandSpec::new("ltrim", 4, ltrim).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(W).acl(WRITE_SLOW).doc("list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    CommandSpec::new("lrem", 4, lrem).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(W).acl(WRITE_SLOW).doc("list", "Removes elements from a list. Deletes the list if the last element was removed."),
    CommandSpec::new("linsert", 5, linsert).key_specs(&[KeySpec::range(1, 0, 1, RW | INSERT)]).flags(WD).acl(WRITE_SLOW).doc("list", "Inserts an element before or after another element in a list."),
    CommandSpec::new("lpos", -3, lpos).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(R).acl(READ_SLOW).doc("list", "Returns the index of matching elements in a list."),
    CommandSpec::new("lmove", 5, lmove).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE), KeySpec::range(2, 0, 1, RW | INSERT)]).flags(WD).acl(WRITE_SLOW).doc("list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    CommandSpec::new("rpoplpush", 3, rpoplpush).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE), KeySpec::range(2, 0, 1, RW | INSERT)]).flags(WD).acl(WRITE_SLOW).doc("list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    CommandSpec::new("lmpop", -4, lmpop).key_specs(&[KeySpec::new(RW | ACCESS | DELETE, BeginSearch::Index(1), FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 })]).flags(&["write"]).acl(WRITE_SLOW).doc("list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
];

/// The list at `key` for a read command: counts the keyspace hit or miss
/// (a key of another type is a hit, as in Redis) and honours CLIENT NO-TOUCH.
fn read_list<'g>(
    ctx: &Ctx<'_>,
    shard: &'g mut ShardGuard<'_>,
    key: &KeyHash,
) -> Result<Option<&'g mut ListValue>, CmdError> {
    let found = value_at::<ListValue>(shard, key, !ctx.client.no_touch);
    ctx.record_lookup(!matches!(found, Ok(None)));
    found
}

/// Parses LEFT / RIGHT.
pub(crate) fn parse_end(arg: &[u8]) -> Result<ListEnd, CmdError> {
    if is(arg, "left") {
        Ok(ListEnd::Left)
    } else if is(arg, "right") {
        Ok(ListEnd::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Parses a non-negative integer, replying `message` for anything else
/// (Redis's `getPositiveLongFromObjectOrReply`).
fn parse_non_negative(arg: &[u8], message: &str) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::msg(message)),
    }
}

/// Turns Redis's inclusive `start`/`end` (negative from the tail) into a
/// half-open range within a list of `len`; `None` if it is empty.
fn resolve_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, (end.min(len - 1) + 1) as usize))
}

/// A list index (negative from the tail) as a position, if in range.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let position = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    (0..len as i64)
        .contains(&position)
        .then_some(position as usize)
}

fn push_generic(ctx: &mut Ctx<'_>, args: &[Bytes], end: ListEnd, only_existing: bool) -> CmdResult {
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let len = match value_at::<ListValue>(&mut shard, &key, true)? {
        Some(list) => {
            for value in &args[2..] {
                list.push(end, value, &limits);
            }
            list.len()
        }
        None if only_existing => 0,
        None => {
            let mut list = ListValue::new();
            for value in &args[2..] {
                list.push(end, value, &limits);
            }
            let len = list.len();
            shard.insert(&key, Entry::new(Value::List(Box::new(list))));
            len
        }
    };
    if len > 0 {
        ctx.notify(class::LIST, push_event(end), key.bytes);
    }
    drop(shard);
    ctx.out.integer(len as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, ListEnd::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, ListEnd::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, ListEnd::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, ListEnd::Right, true)
}

fn push_event(end: ListEnd) -> &'static str {
    match end {
        ListEnd::Left => "lpush",
        ListEnd::Right => "rpush",
    }
}

fn pop_event(end: ListEnd) -> &'static str {
    match end {
        ListEnd::Left => "lpop",
        ListEnd::Right => "rpop",
    }
}

/// Reports elements popped from `end` of the list at `key`, then deletes the
/// key if the list is empty (Redis's `listElementsRemoved`).
fn popped_from(shard: &mut ShardGuard<'_>, key: &KeyHash, end: ListEnd, events: DbEvents<'_>) {
    events.notify(class::LIST, pop_event(end), key.bytes);
    if remove_if_empty::<ListValue>(shard, key) {
        events.notify(class::GENERIC, "del", key.bytes);
    }
}

/// Pops up to `count` elements from `end` of the list at `key`, in pop order,
/// deleting the key if the list empties. `Ok(None)` if there is no such key.
pub(crate) fn pop_from(
    shard: &mut ShardGuard<'_>,
    key: &KeyHash,
    end: ListEnd,
    count: usize,
    limits: &EncodingLimits,
    events: DbEvents<'_>,
) -> Result<Option<Vec<Vec<u8>>>, CmdError> {
    let Some(list) = value_at::<ListValue>(shard, key, true)? else {
        return Ok(None);
    };
    let mut popped = Vec::with_capacity(count.min(list.len()));
    while popped.len() < count {
        match list.pop(end, limits) {
            Some(value) => popped.push(value),
            None => break,
        }
    }
    if !popped.is_empty() {
        popped_from(shard, key, end, events);
    }
    Ok(Some(popped))
}

fn pop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], end: ListEnd) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.command_name
        )));
    }
    let count = match args.get(2) {
        Some(arg) => Some(parse_non_negative(
            arg,
            "ERR value is out of range, must be positive",
        )?),
        None => None,
    };
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let popped = pop_from(
        &mut shard,
        &key,
        end,
        count.map_or(1, |n| n as usize),
        &limits,
        ctx.events(),
    )?;
    drop(shard);
    match (popped, count) {
        (None, None) => ctx.out.null(),
        (None, Some(_)) => ctx.out.null_array(),
        (Some(values), None) => match values.first() {
            Some(value) => ctx.out.bulk(value),
            None => ctx.out.null(),
        },
        (Some(values), Some(_)) => {
            ctx.out.array(values.len());
            for value in &values {
                ctx.out.bulk(value);
            }
        }
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, ListEnd::Left)
}

fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, ListEnd::Right)
}

fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let len = read_list(ctx, &mut shard, &key)?.map_or(0, |list| list.len());
    drop(shard);
    ctx.out.integer(len as i64);
    Ok(())
}

fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let Some(list) = read_list(ctx, &mut shard, &key)? else {
        drop(shard);
        ctx.out.null();
        return Ok(());
    };
    let index = parse_i64(&args[2])?;
    match resolve_index(index, list.len()).and_then(|i| list.get(i)) {
        Some(value) => ctx.out.bulk(value),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let list = value_at::<ListValue>(&mut shard, &key, true)?.ok_or(CmdError::NoSuchKey)?;
    let index = parse_i64(&args[2])?;
    let position =
        resolve_index(index, list.len()).ok_or_else(|| CmdError::msg("ERR index out of range"))?;
    list.set(position, &args[3], &limits);
    ctx.notify(class::LIST, "lset", key.bytes);
    drop(shard);
    ctx.out.ok();
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let start = parse_i64(&args[2])?;
    let end = parse_i64(&args[3])?;
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let Some(list) = read_list(ctx, &mut shard, &key)? else {
        drop(shard);
        ctx.out.array(0);
        return Ok(());
    };
    match resolve_range(start, end, list.len()) {
        None => ctx.out.array(0),
        Some((from, to)) => {
            ctx.out.array(to - from);
            for value in list.range(from, to) {
                ctx.out.bulk(value);
            }
        }
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let start = parse_i64(&args[2])?;
    let end = parse_i64(&args[3])?;
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    if let Some(list) = value_at::<ListValue>(&mut shard, &key, true)? {
        let (from, to) = resolve_range(start, end, list.len()).unwrap_or((0, 0));
        list.retain_range(from, to, &limits);
        ctx.notify(class::LIST, "ltrim", key.bytes);
        if remove_if_empty::<ListValue>(&mut shard, &key) {
            ctx.notify(class::GENERIC, "del", key.bytes);
        }
    }
    drop(shard);
    ctx.out.ok();
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = parse_i64(&args[2])?;
    let element = &args[3][..];
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let mut removed = 0;
    if let Some(list) = value_at::<ListValue>(&mut shard, &key, true)? {
        let limit = match count.unsigned_abs() {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let len = list.len();
        let mut indexes: Vec<usize> = if count >= 0 {
            list.iter()
                .enumerate()
                .filter(|(_, value)| *value == element)
                .map(|(i, _)| i)
                .take(limit)
                .collect()
        } else {
            list.iter()
                .rev()
                .enumerate()
                .filter(|(_, value)| *value == element)
                .map(|(i, _)| len - 1 - i)
                .take(limit)
                .collect()
        };
        indexes.sort_unstable();
        removed = indexes.len();
        list.remove_indexes(&indexes, &limits);
        if removed > 0 {
            ctx.notify(class::LIST, "lrem", key.bytes);
            if remove_if_empty::<ListValue>(&mut shard, &key) {
                ctx.notify(class::GENERIC, "del", key.bytes);
            }
        }
    }
    drop(shard);
    ctx.out.integer(removed as i64);
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let reply = match value_at::<ListValue>(&mut shard, &key, true)? {
        None => 0,
        Some(list) => match list.iter().position(|value| value == &args[3][..]) {
            None => -1,
            Some(pivot) => {
                list.insert(pivot + after as usize, &args[4], &limits);
                ctx.notify(class::LIST, "linsert", key.bytes);
                list.len() as i64
            }
        },
    };
    drop(shard);
    ctx.out.integer(reply);
    Ok(())
}

fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let element = &args[2][..];
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let option = &args[i];
        let value = args.get(i + 1);
        match value {
            Some(value) if is(option, "rank") => {
                rank = parse_i64(value)?;
                if rank == 0 {
                    return Err(CmdError::msg(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list",
                    ));
                }
            }
            Some(value) if is(option, "count") => {
                count = Some(parse_non_negative(value, "ERR COUNT can't be negative")?);
            }
            Some(value) if is(option, "maxlen") => {
                maxlen = parse_non_negative(value, "ERR MAXLEN can't be negative")?;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let Some(list) = read_list(ctx, &mut shard, &key)? else {
        drop(shard);
        match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let len = list.len();
    let scan = match maxlen {
        0 => len,
        n => usize::try_from(n).unwrap_or(usize::MAX).min(len),
    };
    // Redis negates the rank in a C long: -LONG_MIN stays LONG_MIN, which then
    // matches from the first match at the tail, as rank -1 does.
    let skip = match rank {
        i64::MIN => 0,
        _ => usize::try_from(rank.unsigned_abs() - 1).unwrap_or(usize::MAX),
    };
    let wanted = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let matches: Vec<usize> = if rank > 0 {
        list.iter()
            .take(scan)
            .enumerate()
            .filter(|(_, value)| *value == element)
            .map(|(i, _)| i)
            .skip(skip)
            .take(wanted)
            .collect()
    } else {
        list.iter()
            .rev()
            .take(scan)
            .enumerate()
            .filter(|(_, value)| *value == element)
            .map(|(i, _)| len - 1 - i)
            .skip(skip)
            .take(wanted)
            .collect()
    };
    drop(shard);
    match count {
        Some(_) => {
            ctx.out.array(matches.len());
            for index in matches {
                ctx.out.integer(index as i64);
            }
        }
        None => match matches.first() {
            Some(&index) => ctx.out.integer(index as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// Pops one element from `from` of the list at `source` and pushes it at `to`
/// of the list at `destination` (created if absent), atomically. `Ok(None)`
/// if there is no source list; WRONGTYPE if either key holds another type.
pub(crate) fn move_between(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    source: &[u8],
    destination: &[u8],
    from: ListEnd,
    to: ListEnd,
    limits: &EncodingLimits,
) -> Result<Option<Vec<u8>>, CmdError> {
    let db = events.db;
    let keys = [(db, ks.key(source)), (db, ks.key(destination))];
    let (mut guards, positions) = ks.lock_many(&keys);
    let (source_key, destination_key) = (&keys[0].1, &keys[1].1);
    let source_shard = &mut guards[positions[0]];
    let Some(list) = value_at::<ListValue>(source_shard, source_key, true)? else {
        return Ok(None);
    };
    if source == destination {
        let Some(value) = list.pop(from, limits) else {
            return Ok(None);
        };
        list.push(to, &value, limits);
        events.notify(class::LIST, push_event(to), source);
        events.notify(class::LIST, pop_event(from), source);
        return Ok(Some(value));
    }
    if list.is_empty() {
        return Ok(None);
    }
    // WRONGTYPE for the destination before anything is popped, as Redis does.
    value_at::<ListValue>(&mut guards[positions[1]], destination_key, true)?;
    let source_shard = &mut guards[positions[0]];
    let Some(value) =
        value_at::<ListValue>(source_shard, source_key, false)?.and_then(|l| l.pop(from, limits))
    else {
        return Ok(None);
    };
    // Redis pushes (and reports the push) before it reports the pop.
    let destination_shard = &mut guards[positions[1]];
    match value_at::<ListValue>(destination_shard, destination_key, false)? {
        Some(list) => list.push(to, &value, limits),
        None => {
            let mut list = ListValue::new();
            list.push(to, &value, limits);
            destination_shard.insert(destination_key, Entry::new(Value::List(Box::new(list))));
        }
    }
    events.notify(class::LIST, push_event(to), destination);
    popped_from(&mut guards[positions[0]], source_key, from, events);
    Ok(Some(value))
}

fn move_reply(ctx: &mut Ctx<'_>, args: &[Bytes], from: ListEnd, to: ListEnd) -> CmdResult {
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let moved = move_between(&ks, ctx.events(), &args[1], &args[2], from, to, &limits)?;
    drop(ks);
    match moved {
        Some(value) => ctx.out.bulk(&value),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let from = parse_end(&args[3])?;
    let to = parse_end(&args[4])?;
    move_reply(ctx, args, from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    move_reply(ctx, args, ListEnd::Right, ListEnd::Left)
}

/// The parsed arguments of LMPOP (and BLMPOP after its timeout).
pub(crate) struct MpopArgs<'a> {
    pub keys: &'a [Bytes],
    pub end: ListEnd,
    pub count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT count]` starting at `args[0]`.
pub(crate) fn parse_mpop_args(args: &[Bytes]) -> Result<MpopArgs<'_>, CmdError> {
    let numkeys = match args.first().map(|arg| parse_i64(arg)) {
        Some(Ok(n)) if n > 0 => n as usize,
        _ => return Err(CmdError::msg("ERR numkeys should be greater than 0")),
    };
    let where_index = numkeys.checked_add(1).ok_or(CmdError::Syntax)?;
    let where_arg = args.get(where_index).ok_or(CmdError::Syntax)?;
    let end = parse_end(where_arg)?;
    let mut count = None;
    let mut i = where_index + 1;
    while i < args.len() {
        match args.get(i + 1) {
            Some(value) if count.is_none() && is(&args[i], "count") => {
                count = match parse_i64(value) {
                    Ok(n) if n > 0 => Some(n as usize),
                    _ => return Err(CmdError::msg("ERR count should be greater than 0")),
                };
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    Ok(MpopArgs {
        keys: &args[1..where_index],
        end,
        count: count.unwrap_or(1),
    })
}

/// The key LMPOP popped from and the elements, in pop order.
pub(crate) type KeyAndValues<'k> = (&'k Bytes, Vec<Vec<u8>>);

/// Pops up to `count` elements from the first of `keys` that holds a
/// non-empty list; WRONGTYPE if a key before it holds another type.
pub(crate) fn pop_first_nonempty<'k>(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    keys: &'k [Bytes],
    end: ListEnd,
    count: usize,
    limits: &EncodingLimits,
) -> Result<Option<KeyAndValues<'k>>, CmdError> {
    let hashed: Vec<(usize, KeyHash)> = keys.iter().map(|key| (events.db, ks.key(key))).collect();
    let (mut guards, positions) = ks.lock_many(&hashed);
    for ((_, key), (name, &position)) in hashed.iter().zip(keys.iter().zip(&positions)) {
        let shard = &mut guards[position];
        if value_at::<ListValue>(shard, key, true)?.is_some_and(|list| !list.is_empty()) {
            let popped = pop_from(shard, key, end, count, limits, events)?.unwrap_or_default();
            return Ok(Some((name, popped)));
        }
    }
    Ok(None)
}

fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_mpop_args(&args[1..])?;
    let limits = ctx.encoding_limits();
    let ks = ctx.keyspace();
    let popped = pop_first_nonempty(
        &ks,
        ctx.events(),
        parsed.keys,
        parsed.end,
        parsed.count,
        &limits,
    )?;
    drop(ks);
    match popped {
        None => ctx.out.null_array(),
        Some((key, values)) => {
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.array(values.len());
            for value in &values {
                ctx.out.bulk(value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(resolve_range(0, -1, 5), Some((0, 5)));
        assert_eq!(resolve_range(-100, 100, 5), Some((0, 5)));
        assert_eq!(resolve_range(3, 1, 5), None);
        assert_eq!(resolve_range(5, 10, 5), None);
        assert_eq!(resolve_range(-2, -1, 5), Some((3, 5)));
        assert_eq!(resolve_range(0, -6, 5), None);
    }

    #[test]
    fn indexes_follow_redis() {
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
    }

    #[test]
    fn mpop_arguments() {
        let args: Vec<Bytes> = ["2", "a", "b", "left", "count", "3"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        let parsed = parse_mpop_args(&args).unwrap();
        assert_eq!(parsed.keys.len(), 2);
        assert_eq!((parsed.end, parsed.count), (ListEnd::Left, 3));
        let bad: Vec<Bytes> = ["0", "a", "left"].iter().map(|s| Bytes::from(*s)).collect();
        assert!(parse_mpop_args(&bad).is_err());
        let huge: Vec<Bytes> = ["9223372036854775807", "a"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        assert_eq!(parse_mpop_args(&huge).err(), Some(CmdError::Syntax));
    }
}
