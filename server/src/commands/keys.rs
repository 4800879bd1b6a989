//! Generic key commands: existence, deletion, expiry, renaming, copying,
//! iteration, DUMP/RESTORE, and database-wide commands.

use bytes::Bytes;
use ferrite_storage::{
    decode_dump_payload, encode_dump_payload, glob_match, DumpError, Entry, KeyHash,
};

use crate::command::{is, parse_i64, parse_scan_args, text, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeySpec};
use crate::notify::class;

const KEYSPACE: &[&str] = &["@keyspace"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, del).key_specs(&[KeySpec::range(1, -1, 1, RM | DELETE)]).flags(&["write"]).acl(&["@keyspace", "@write", "@slow"]).doc("generic", "Deletes one or more keys."),
    CommandSpec::new("unlink", -2, del).key_specs(&[KeySpec::range(1, -1, 1, RM | DELETE)]).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast"]).doc("generic", "Asynchronously deletes one or more keys."),
    CommandSpec::new("exists", -2, exists).key_specs(&[KeySpec::range(1, -1, 1, RO)]).flags(&["readonly", "fast"]).acl(&["@keyspace", "@read", "@fast"]).doc("generic", "Determines whether one or more keys exist."),
    CommandSpec::new("touch", -2, exists).key_specs(&[KeySpec::range(1, -1, 1, RO)]).flags(&["readonly", "fast"]).acl(&["@keyspace", "@read", "@fast"]).doc("generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    CommandSpec::new("type", 2, type_of).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(&["readonly", "fast"]).acl(&["@keyspace", "@read", "@fast"]).doc("generic", "Determines the type of value stored at a key."),
    CommandSpec::new("expire", -3, expire).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast"]).doc("generic", "Sets the expiration time of a key in seconds."),
    CommandSpec::new("pexpire", -3, pexpire).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast"]).doc("generic", "Sets the expiration time of a key in milliseconds."),
    CommandSpec::new("expireat", -3, expireat).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast"]).doc("generic", "Sets the expiration time of a key to a Unix timestamp."),
    CommandSpec::new("pexpireat", -3, pexpireat).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast"]).doc("generic", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    CommandSpec::new("ttl", 2, ttl).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly", "fast"]).acl(&["@keyspace", "@read", "@fast"]).doc("generic", "Returns the expiration time in seconds of a key."),
    CommandSpec::new("pttl", 2, pttl).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly", "fast"]).acl(&["@keyspace", "@read", "@fast"]).doc("generic", "Returns the expiration time in milliseconds of a key."),
    CommandSpec::new("expiretime", 2, expiretime).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly", "fast"]).acl(&["@keyspace", "@read", "@fast"]).doc("generic", "Returns the expiration time of a key as a Unix timestamp."),
    CommandSpec::new("pexpiretime", 2, pexpiretime).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly", "fast"]).acl(&["@keyspace", "@read", "@fast"]).doc("generic", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    CommandSpec::new("persist", 2, persist).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast"]).doc("generic", "Removes the expiration time of a key."),
    CommandSpec::new("keys", 2, keys).flags(&["readonly"]).acl(&["@keyspace", "@read", "@slow", "@dangerous"]).doc("generic", "Returns all key names that match a pattern."),
    CommandSpec::new("scan", -2, scan).flags(&["readonly"]).acl(&["@keyspace", "@read", "@slow"]).doc("generic", "Iterates over the key names in the database."),
    CommandSpec::new("randomkey", 1, randomkey).flags(&["readonly"]).acl(&["@keyspace", "@read", "@slow"]).doc("generic", "Returns a random key name from the database."),
    CommandSpec::new("rename", 3, rename).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE), KeySpec::range(2, 0, 1, OW | UPDATE)]).flags(&["write"]).acl(&["@keyspace", "@write", "@slow"]).doc("generic", "Renames a key and overwrites the destination."),
    CommandSpec::new("renamenx", 3, renamenx).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | DELETE), KeySpec::range(2, 0, 1, OW | INSERT)]).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast"]).doc("generic", "Renames a key only when the target key name doesn't exist."),
    CommandSpec::new("copy", -3, copy).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS), KeySpec::range(2, 0, 1, OW | UPDATE)]).flags(&["write", "denyoom"]).acl(&["@keyspace", "@write", "@slow"]).doc("generic", "Copies the value of a key to a new key."),
    CommandSpec::new("move", 3, move_key).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast"]).doc("generic", "Moves a key to another database."),
    CommandSpec::new("swapdb", 3, swapdb).flags(&["write", "fast"]).acl(&["@keyspace", "@write", "@fast", "@dangerous"]).doc("server", "Swaps two Redis databases."),
    CommandSpec::new("dump", 2, dump).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@keyspace", "@read", "@slow"]).doc("generic", "Returns a serialized representation of the value stored at a key."),
    CommandSpec::new("restore", -4, restore).key_specs(&[KeySpec::range(1, 0, 1, OW | UPDATE)]).flags(&["write", "denyoom"]).acl(&["@keyspace", "@write", "@slow", "@dangerous"]).doc("generic", "Creates a key from the serialized representation of a value."),
    CommandSpec::new("dbsize", 1, dbsize).flags(&["readonly", "fast"]).acl(&["@keyspace", "@read", "@fast"]).doc("server", "Returns the number of keys in the database."),
    CommandSpec::new("flushdb", -1, flushdb).flags(&["write"]).acl(&["@keyspace", "@write", "@slow", "@dangerous"]).doc("server", "Remove all keys from the current database."),
    CommandSpec::new("flushall", -1, flushall).flags(&["write"]).acl(&["@keyspace", "@write", "@slow", "@dangerous"]).doc("server", "Removes all keys from all databases."),
    CommandSpec::container("object", OBJECT_SUBCOMMANDS).doc("generic", "A container for object introspection commands."),
];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, object_encoding)
        .key_specs(&[KeySpec::range(2, 0, 1, RO)])
        .flags(&["readonly"])
        .acl(KEYSPACE)
        .doc(
            "generic",
            "Returns the internal encoding of a Redis object.",
        ),
    CommandSpec::new("refcount", 3, object_refcount)
        .key_specs(&[KeySpec::range(2, 0, 1, RO)])
        .flags(&["readonly"])
        .acl(KEYSPACE)
        .doc(
            "generic",
            "Returns the reference count of a value of a key.",
        ),
    CommandSpec::new("idletime", 3, object_idletime)
        .key_specs(&[KeySpec::range(2, 0, 1, RO)])
        .flags(&["readonly"])
        .acl(KEYSPACE)
        .doc(
            "generic",
            "Returns the time since the last access to a Redis object.",
        ),
    CommandSpec::new("freq", 3, object_freq)
        .key_specs(&[KeySpec::range(2, 0, 1, RO)])
        .flags(&["readonly"])
        .acl(KEYSPACE)
        .doc(
            "generic",
            "Returns the logarithmic access frequency counter of a Redis object.",
        ),
    CommandSpec::new("help", 2, object_help)
        .flags(&["loading", "stale"])
        .acl(KEYSPACE)
        .doc(
            "generic",
            "Returns helpful text about the different subcommands.",
        ),
];

fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let mut removed = 0;
    for arg in &args[1..] {
        let key = ks.key(arg);
        let mut shard = ks.lock(ctx.client.db, &key);
        if shard.remove(&key).is_some() {
            ctx.notify(class::GENERIC, "del", arg);
            removed += 1;
        }
    }
    drop(ks);
    ctx.out.integer(removed);
    Ok(())
}

/// EXISTS and TOUCH: how many of the keys exist (repeats counted).
fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let touch = is(&args[0], "touch") && !ctx.client.no_touch;
    let mut found = 0;
    for arg in &args[1..] {
        let key = ks.key(arg);
        let mut shard = ks.lock(ctx.client.db, &key);
        let present = if touch {
            shard.get(&key).is_some()
        } else {
            shard.contains(&key)
        };
        found += present as i64;
    }
    drop(ks);
    ctx.out.integer(found);
    Ok(())
}

fn type_of(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let name = ks
        .lock(ctx.client.db, &key)
        .peek(&key)
        .map_or("none", |e| e.value.value_type().name());
    drop(ks);
    ctx.out.simple(name);
    Ok(())
}

/// NX / XX / GT / LT of the EXPIRE family.
#[derive(Debug, Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(args: &[Bytes]) -> Result<ExpireFlags, CmdError> {
    let mut flags = ExpireFlags::default();
    for arg in args {
        if is(arg, "nx") {
            flags.nx = true;
        } else if is(arg, "xx") {
            flags.xx = true;
        } else if is(arg, "gt") {
            flags.gt = true;
        } else if is(arg, "lt") {
            flags.lt = true;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unsupported option {}",
                text(arg)
            )));
        }
    }
    if flags.nx && (flags.xx || flags.gt || flags.lt) {
        return Err(CmdError::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags.gt && flags.lt {
        return Err(CmdError::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(flags)
}

fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, true)
}
fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, true)
}
fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, false)
}
fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, false)
}

fn expire_generic(ctx: &mut Ctx<'_>, args: &[Bytes], unit_ms: i64, relative: bool) -> CmdResult {
    let when = parse_i64(&args[2])?;
    let flags = parse_expire_flags(&args[3..])?;
    let invalid = || {
        CmdError::msg(format!(
            "ERR invalid expire time in '{}' command",
            ctx.command_name
        ))
    };
    let mut when_ms = when.checked_mul(unit_ms).ok_or_else(invalid)?;
    let ks = ctx.keyspace();
    let now = ks.now_ms();
    if relative {
        when_ms = when_ms.checked_add(now as i64).ok_or_else(invalid)?;
    }
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let Some(entry) = shard.peek(&key) else {
        drop(shard);
        drop(ks);
        ctx.out.integer(0);
        return Ok(());
    };
    let current = entry.expire_at_ms().map(|t| t as i64);
    let allowed = match current {
        None => !(flags.xx || flags.gt),
        Some(current) => {
            !flags.nx && (!flags.gt || when_ms > current) && (!flags.lt || when_ms < current)
        }
    };
    if allowed {
        if ctx.expired_at_once(when_ms, now) {
            shard.remove(&key);
            ctx.notify(class::GENERIC, "del", key.bytes);
        } else {
            // On a replica a time before the epoch is kept as already past.
            shard.set_expiry(&key, Some(when_ms.max(1) as u64));
            ctx.notify(class::GENERIC, "expire", key.bytes);
        }
    }
    drop(shard);
    drop(ks);
    ctx.out.integer(allowed as i64);
    Ok(())
}

/// Remaining time or absolute expiry of a key: -2 missing, -1 no expiry.
fn expiry_query(ctx: &mut Ctx<'_>, args: &[Bytes], report: fn(u64, u64) -> i64) -> CmdResult {
    let ks = ctx.keyspace();
    let now = ks.now_ms();
    let key = ks.key(&args[1]);
    let reply = match ks.lock(ctx.client.db, &key).peek(&key) {
        None => -2,
        Some(entry) => entry.expire_at_ms().map_or(-1, |at| report(at, now)),
    };
    drop(ks);
    ctx.out.integer(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expiry_query(ctx, args, |at, now| {
        ((at.saturating_sub(now) + 500) / 1000) as i64
    })
}
fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expiry_query(ctx, args, |at, now| at.saturating_sub(now) as i64)
}
fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expiry_query(ctx, args, |at, _| (at / 1000) as i64)
}
fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expiry_query(ctx, args, |at, _| at as i64)
}

fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let had_expiry = shard.peek(&key).is_some_and(|e| e.expire_at_ms().is_some());
    if had_expiry {
        shard.set_expiry(&key, None);
        ctx.notify(class::GENERIC, "persist", key.bytes);
    }
    drop(shard);
    drop(ks);
    ctx.out.integer(had_expiry as i64);
    Ok(())
}

fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pattern = &args[1];
    let ks = ctx.keyspace();
    let now = ks.now_ms();
    let all = pattern.as_ref() == b"*";
    let mut found = Vec::new();
    ks.for_each_shard(ctx.client.db, |shard| {
        for (key, _, entry) in shard.iter() {
            if !entry.is_expired(now) && (all || glob_match(pattern, key, false)) {
                found.push(key.to_vec());
            }
        }
    });
    drop(ks);
    ctx.out.array(found.len());
    for key in found {
        ctx.out.bulk(&key);
    }
    Ok(())
}

fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scan = parse_scan_args(args, 1, true)?;
    let ks = ctx.keyspace();
    let batch = ks.scan(
        ctx.client.db,
        scan.cursor,
        scan.count,
        |key| scan.pattern.is_none_or(|p| glob_match(p, key, false)),
        |value_type| {
            scan.type_filter
                .is_none_or(|t| t.eq_ignore_ascii_case(value_type.name().as_bytes()))
        },
    );
    drop(ks);
    ctx.out.array(2);
    ctx.out.bulk(batch.next_cursor.to_string().as_bytes());
    ctx.out.array(batch.keys.len());
    for key in &batch.keys {
        ctx.out.bulk(key);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let key = ctx.keyspace().random_key(ctx.client.db);
    match key {
        Some(key) => ctx.out.bulk(&key),
        None => ctx.out.null(),
    }
    Ok(())
}

fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let renamed = rename_generic(ctx, args, false)?;
    debug_assert!(renamed);
    ctx.out.ok();
    Ok(())
}

fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let renamed = rename_generic(ctx, args, true)?;
    ctx.out.integer(renamed as i64);
    Ok(())
}

/// Moves the entry (value and expiry) from one key to another.
fn rename_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    only_if_missing: bool,
) -> Result<bool, CmdError> {
    let ks = ctx.keyspace();
    let db = ctx.client.db;
    let keys = [(db, ks.key(&args[1])), (db, ks.key(&args[2]))];
    let (mut guards, positions) = ks.lock_many(&keys);
    let (source, target) = (&keys[0].1, &keys[1].1);
    if !guards[positions[0]].contains(source) {
        return Err(CmdError::NoSuchKey);
    }
    if source.bytes == target.bytes {
        return Ok(!only_if_missing);
    }
    if only_if_missing && guards[positions[1]].contains(target) {
        return Ok(false);
    }
    let entry = guards[positions[0]]
        .remove(source)
        .ok_or(CmdError::NoSuchKey)?;
    // Redis deletes an existing target first, so the target is always `new`.
    guards[positions[1]].remove(target);
    guards[positions[1]].insert(target, entry);
    ctx.notify(class::GENERIC, "rename_from", source.bytes);
    ctx.notify(class::GENERIC, "rename_to", target.bytes);
    Ok(true)
}

fn parse_db_index(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, CmdError> {
    let index = parse_i64(arg)?;
    if index < 0 || index as usize >= ctx.server.keyspace.database_count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok(index as usize)
}

fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut target_db = ctx.client.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            target_db = parse_db_index(ctx, &args[i + 1])?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if target_db == ctx.client.db && args[1] == args[2] {
        return Err(CmdError::msg(
            "ERR source and destination objects are the same",
        ));
    }
    let ks = ctx.keyspace();
    let keys = [
        (ctx.client.db, ks.key(&args[1])),
        (target_db, ks.key(&args[2])),
    ];
    let copied = copy_entry(ctx, &ks, &keys, replace);
    drop(ks);
    if copied && target_db != ctx.client.db {
        ctx.keys_written(target_db, &[&args[2][..]]);
    }
    ctx.out.integer(copied as i64);
    Ok(())
}

fn copy_entry(
    ctx: &Ctx<'_>,
    ks: &ferrite_storage::KeyspaceRead<'_>,
    keys: &[(usize, KeyHash); 2],
    replace: bool,
) -> bool {
    let (mut guards, positions) = ks.lock_many(keys);
    let Some(entry) = guards[positions[0]].peek(&keys[0].1).map(|e| e.clone()) else {
        return false;
    };
    let target = &keys[1].1;
    if !replace && guards[positions[1]].contains(target) {
        return false;
    }
    // Redis deletes a replaced target first, so the target is always `new`.
    guards[positions[1]].remove(target);
    guards[positions[1]].insert(target, entry);
    ctx.notify_db(class::GENERIC, "copy_to", keys[1].0, target.bytes);
    true
}

fn move_key(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let target_db = parse_db_index(ctx, &args[2])?;
    if target_db == ctx.client.db {
        return Err(CmdError::msg(
            "ERR source and destination objects are the same",
        ));
    }
    let ks = ctx.keyspace();
    let keys = [
        (ctx.client.db, ks.key(&args[1])),
        (target_db, ks.key(&args[1])),
    ];
    let (mut guards, positions) = ks.lock_many(&keys);
    let moved =
        guards[positions[0]].contains(&keys[0].1) && !guards[positions[1]].contains(&keys[1].1);
    if moved {
        let entry: Option<Entry> = guards[positions[0]].remove(&keys[0].1);
        if let Some(entry) = entry {
            guards[positions[1]].insert(&keys[1].1, entry);
        }
        ctx.notify(class::GENERIC, "move_from", &args[1]);
        ctx.notify_db(class::GENERIC, "move_to", target_db, &args[1]);
    }
    drop(guards);
    drop(ks);
    if moved {
        ctx.keys_written(target_db, &[&args[1][..]]);
    }
    ctx.out.integer(moved as i64);
    Ok(())
}

fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let first = parse_i64(&args[1]).map_err(|_| CmdError::msg("ERR invalid first DB index"))?;
    let second = parse_i64(&args[2]).map_err(|_| CmdError::msg("ERR invalid second DB index"))?;
    let count = ctx.server.keyspace.database_count() as i64;
    if first < 0 || first >= count || second < 0 || second >= count {
        return Err(CmdError::DbIndexOutOfRange);
    }
    let (first, second) = (first as usize, second as usize);
    ctx.with_exclusive(|keyspace| {
        let view = keyspace.view();
        ctx.server.watches.touch_swapped(&view, first, second);
        drop(view);
        keyspace.swap_databases(first, second);
    });
    ctx.database_ready(first);
    ctx.database_ready(second);
    ctx.out.ok();
    Ok(())
}

fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let payload = ks
        .lock(ctx.client.db, &key)
        .peek(&key)
        .map(|e| encode_dump_payload(&e.value));
    drop(ks);
    match payload {
        Some(payload) => ctx.out.bulk(&payload),
        None => ctx.out.null(),
    }
    Ok(())
}

fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ttl = parse_i64(&args[2])?;
    let (mut replace, mut absolute, mut idle, mut frequency) = (false, false, None, None);
    let mut i = 4;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
        } else if is(&args[i], "absttl") {
            absolute = true;
        } else if is(&args[i], "idletime") && i + 1 < args.len() {
            let seconds = parse_i64(&args[i + 1])?;
            if seconds < 0 {
                return Err(CmdError::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(seconds);
            i += 1;
        } else if is(&args[i], "freq") && i + 1 < args.len() {
            let freq = parse_i64(&args[i + 1])?;
            if !(0..=255).contains(&freq) {
                return Err(CmdError::msg(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            frequency = Some(freq as u8);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if idle.is_some() && frequency.is_some() {
        return Err(CmdError::Syntax);
    }
    if ttl < 0 {
        return Err(CmdError::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let ks = ctx.keyspace();
    let now = ks.now_ms();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    if !replace && shard.contains(&key) {
        return Err(CmdError::msg("BUSYKEY Target key name already exists."));
    }
    let verify = !ctx
        .server
        .debug_skip_checksum
        .load(std::sync::atomic::Ordering::Relaxed);
    let limits = ctx.server.keyspace.encoding_limits.get();
    let value = decode_dump_payload(&args[3], verify, &limits).map_err(|e| {
        if let DumpError::BadFormat(reason) = e {
            // Redis logs a refused payload's reason at verbose level.
            tracing::debug!("Internal error in RDB reading of a RESTORE payload -> {reason}");
        }
        CmdError::msg(format!("ERR {e}"))
    })?;
    let expire_at = match (ttl, absolute) {
        (0, _) => None,
        (ttl, true) => Some(ttl as u64),
        (ttl, false) => Some(now.saturating_add(ttl as u64)),
    };
    let deleted = replace && shard.remove(&key).is_some();
    if expire_at.is_some_and(|at| ctx.expired_at_once(at as i64, now)) {
        if deleted {
            ctx.notify(class::GENERIC, "del", key.bytes);
        }
    } else {
        shard.insert(&key, Entry::with_expiry(value, expire_at));
        ctx.notify(class::GENERIC, "restore", key.bytes);
        if let Some(idle) = idle {
            shard.set_idle(&key, idle.min(u32::MAX as i64) as u32);
        }
        if let Some(frequency) = frequency {
            shard.set_frequency(&key, frequency);
        }
    }
    drop(shard);
    drop(ks);
    ctx.out.ok();
    Ok(())
}

fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let (keys, _) = ctx.keyspace().counts(ctx.client.db);
    ctx.out.integer(keys as i64);
    Ok(())
}

/// FLUSHDB / FLUSHALL take an optional ASYNC or SYNC; both free at once here.
fn parse_flush_mode(args: &[Bytes]) -> CmdResult {
    match args {
        [_] => Ok(()),
        [_, mode] if is(mode, "async") || is(mode, "sync") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    parse_flush_mode(args)?;
    let ks = ctx.keyspace();
    ctx.server.watches.touch_flushed(&ks, &[ctx.client.db]);
    ctx.server.tracking.invalidate_all();
    ks.for_each_shard(ctx.client.db, |shard| {
        shard.clear();
    });
    drop(ks);
    // Clients blocked in XREADGROUP on a flushed stream fail (Redis's
    // scanDatabaseForDeletedStreams); other blocked clients keep waiting.
    ctx.database_ready(ctx.client.db);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    parse_flush_mode(args)?;
    // As Redis, a running BGSAVE is stopped: its file would hold what is
    // being deleted.
    crate::persistence::stop_background_save(ctx.server);
    let ks = ctx.keyspace();
    let all: Vec<usize> = (0..ks.database_count()).collect();
    ctx.server.watches.touch_flushed(&ks, &all);
    ctx.server.tracking.invalidate_all();
    // Before the shards: a key given an expiry meanwhile stays remembered.
    ctx.server.keyspace.stats().replica_expires.clear();
    for &db in &all {
        ks.for_each_shard(db, |shard| {
            shard.clear();
        });
    }
    drop(ks);
    for db in all {
        ctx.database_ready(db);
    }
    ctx.out.ok();
    Ok(())
}

/// Looks up a key for OBJECT without touching its access time.
fn with_entry<R>(ctx: &Ctx<'_>, key: &[u8], f: impl FnOnce(&Entry, u32) -> R) -> Option<R> {
    let ks = ctx.keyspace();
    let key = ks.key(key);
    let mut shard = ks.lock(ctx.client.db, &key);
    let entry = shard.peek(&key)?.clone();
    let idle = shard.idle_seconds(&entry);
    Some(f(&entry, idle))
}

fn object_encoding(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match with_entry(ctx, &args[2], |e, _| e.value.encoding_name()) {
        Some(name) => ctx.out.bulk(name.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_refcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let refcount = with_entry(ctx, &args[2], |e, _| e.value.refcount());
    match refcount {
        Some(n) => ctx.out.integer(n),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_idletime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx
        .server
        .config
        .read()
        .get("maxmemory-policy")
        .contains("lfu")
    {
        return Err(CmdError::msg("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    match with_entry(ctx, &args[2], |_, idle| idle) {
        Some(idle) => ctx.out.integer(idle as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let frequency = {
        let ks = ctx.keyspace();
        let key = ks.key(&args[2]);
        let mut shard = ks.lock(ctx.client.db, &key);
        let entry = shard.peek(&key).map(|e| e.clone());
        entry.map(|e| shard.frequency(&e))
    };
    let Some(frequency) = frequency else {
        ctx.out.null();
        return Ok(());
    };
    if ctx
        .server
        .config
        .read()
        .get("maxmemory-policy")
        .contains("lfu")
    {
        ctx.out.integer(frequency as i64);
        return Ok(());
    }
    Err(CmdError::msg("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."))
}

fn object_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::introspection::help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
