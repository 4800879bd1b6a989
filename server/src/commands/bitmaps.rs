//! Bitmap commands on strings (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD, BITFIELD_RO): the arguments, lookups, replies and events of
//! Redis 7.0's `bitops.c`, checked in its order; the bit math is
//! `ferrite_storage::bits`. Integer-encoded strings are read as their text.
//!
//! SETBIT, BITFIELD and BITOP may write nothing (a bit set to what it was, a
//! BITFIELD whose writes all failed or changed nothing, a BITOP of empty
//! sources onto a missing key); their replies cannot say so, so they report a
//! change through `ClientState::reported_change`, and only then are they
//! propagated (as they ran) and count as writes for WATCH and tracking, as
//! Redis's `server.dirty`/`signalModifiedKey` are only touched then.
//!
//! Bit offsets are limited by `proto-max-bulk-len` for every client (Redis
//! lets its master and AOF exceed it).

use bytes::Bytes;
use ferrite_storage::bits::{self, BitOp, Overflow, PosRange, Unit};
use ferrite_storage::{Entry, KeyHash, ShardGuard, StringValue, Value};

use super::strings::max_string_len;
use super::typed::{lock_keys, value_at};
use crate::command::{is, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeyRef, KeySpec};
use crate::notify::class;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, setbit).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE)]).flags(&["write", "denyoom"]).acl(&["@write", "@bitmap", "@slow"]).doc("bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
    CommandSpec::new("getbit", 3, getbit).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly", "fast"]).acl(&["@read", "@bitmap", "@fast"]).doc("bitmap", "Returns a bit value by offset."),
    CommandSpec::new("bitcount", -2, bitcount).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@read", "@bitmap", "@slow"]).doc("bitmap", "Counts the number of set bits (population counting) in a string."),
    CommandSpec::new("bitpos", -3, bitpos).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@read", "@bitmap", "@slow"]).doc("bitmap", "Finds the first set (1) or clear (0) bit in a string."),
    CommandSpec::new("bitop", -4, bitop).key_specs(&[KeySpec::range(2, 0, 1, OW | UPDATE), KeySpec::range(3, -1, 1, RO | ACCESS)]).flags(&["write", "denyoom"]).acl(&["@write", "@bitmap", "@slow"]).doc("bitmap", "Performs bitwise operations on multiple strings, and stores the result."),
    CommandSpec::new("bitfield", -2, bitfield).key_specs(&[KeySpec::range(1, 0, 1, RW | ACCESS | UPDATE | VARIABLE_FLAGS).notes("This command allows both access and modification of the key")]).key_finder(bitfield_keys).flags(&["write", "denyoom"]).acl(&["@write", "@bitmap", "@slow"]).doc("bitmap", "Performs arbitrary bitfield integer operations on strings."),
    CommandSpec::new("bitfield_ro", -2, bitfield_ro).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly", "fast"]).acl(&["@read", "@bitmap", "@fast"]).doc("bitmap", "Performs arbitrary read-only bitfield integer operations on strings."),
];

/// BITFIELD's key, read-only while its operations before the first write (or
/// anything unparsable) are GETs and OVERFLOWs (Redis's `bitfieldGetKeys`).
fn bitfield_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let mut read_only = true;
    let mut i = 2;
    while i < args.len() {
        let (arg, remaining) = (&args[i], args.len() - i - 1);
        if is(arg, "get") && remaining >= 2 {
            i += 3;
        } else if is(arg, "overflow") && remaining >= 1 {
            i += 2;
        } else {
            read_only = false;
            break;
        }
    }
    let flags = if read_only {
        RO | ACCESS
    } else {
        RW | ACCESS | UPDATE
    };
    vec![KeyRef { pos: 1, flags }]
}

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// Reports what a write changed (see the module doc): `changes` for the
/// save points, and whether it is propagated and counts as a write.
fn report_changes(ctx: &mut Ctx<'_>, changes: u64) {
    ctx.client.dirty = Some(changes);
    ctx.client.reported_change = changes > 0;
}

/// A bit offset as Redis's `getBitOffsetFromArgument` accepts it:
/// non-negative, its byte within `proto-max-bulk-len`; with `width` (BITFIELD)
/// `#N` means N times the field width.
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], width: Option<u32>) -> Result<u64, CmdError> {
    let (digits, multiplier) = match (arg.first(), width) {
        (Some(b'#'), Some(width)) => (&arg[1..], width as i64),
        _ => (arg, 1),
    };
    parse_i64(digits)
        .ok()
        .and_then(|offset| offset.checked_mul(multiplier))
        .filter(|&offset| offset >= 0 && (offset as u64 >> 3) < max_string_len(ctx))
        .map(|offset| offset as u64)
        .ok_or(CmdError::msg(BAD_OFFSET))
}

/// The string at `key` as a growable buffer padded with zero bytes up to
/// bit `max_bit`, created if missing (Redis's `lookupStringForBitCommand`);
/// true if it was created or grew.
fn bits_for_write<'g>(
    shard: &'g mut ShardGuard<'_>,
    key: &KeyHash,
    max_bit: u64,
) -> Result<(&'g mut Vec<u8>, bool), CmdError> {
    let created = value_at::<StringValue>(shard, key, true)?.is_none();
    if created {
        let raw = StringValue::Raw(Box::default());
        shard.insert(key, Entry::new(Value::String(raw)));
    }
    let buf = value_at::<StringValue>(shard, key, true)?
        .ok_or(CmdError::WrongType)?
        .make_raw();
    let grew = bits::grow_to_bit(buf, max_bit);
    Ok((buf, created || grew))
}

fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &args[2], None)?;
    let on = match parse_i64(&args[3]) {
        Ok(0) => false,
        Ok(1) => true,
        _ => return Err(CmdError::msg("ERR bit is not an integer or out of range")),
    };
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let (buf, dirty) = bits_for_write(&mut shard, &key, offset)?;
    let (old, flipped) = bits::set_bit(buf, offset, on);
    let changed = dirty || flipped;
    if changed {
        ctx.notify(class::STRING, "setbit", key.bytes);
    }
    report_changes(ctx, changed as u64);
    drop(shard);
    ctx.out.integer(old as i64);
    Ok(())
}

/// Runs `f` on the bytes of the string at `key` (`None` if missing) under
/// its shard's lock, after Redis's read lookup: WRONGTYPE for other types,
/// the access time (unless CLIENT NO-TOUCH), keyspace hits and misses.
fn read_string<R>(
    ctx: &Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&[u8]>) -> Result<R, CmdError>,
) -> Result<R, CmdError> {
    let touch = !ctx.client.no_touch;
    let ks = ctx.keyspace();
    let key = ks.key(key);
    let mut shard = ks.lock(ctx.client.db, &key);
    let found = value_at::<StringValue>(&mut shard, &key, touch)?;
    ctx.record_lookup(found.is_some());
    match found {
        Some(value) => value.with_bytes(|bytes| f(Some(bytes))),
        None => f(None),
    }
}

fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &args[2], None)?;
    let bit = read_string(ctx, &args[1], |bytes| {
        Ok(bytes.is_some_and(|b| bits::get_bit(b, offset)))
    })?;
    ctx.out.integer(bit as i64);
    Ok(())
}

fn unit(arg: &[u8]) -> Result<Unit, CmdError> {
    if is(arg, "bit") {
        Ok(Unit::Bit)
    } else if is(arg, "byte") {
        Ok(Unit::Byte)
    } else {
        Err(CmdError::Syntax)
    }
}

fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = read_string(ctx, &args[1], |bytes| {
        // As in Redis, a missing key counts 0 whatever the other arguments.
        let Some(bytes) = bytes else { return Ok(0) };
        let range = match args.len() {
            2 => None,
            4 | 5 => {
                let (start, end) = (parse_i64(&args[2])?, parse_i64(&args[3])?);
                if start < 0 && end < 0 && start > end {
                    return Ok(0);
                }
                let unit = args.get(4).map_or(Ok(Unit::Byte), |arg| unit(arg))?;
                Some((start, end, unit))
            }
            _ => return Err(CmdError::Syntax),
        };
        Ok(bits::count(bytes, range))
    })?;
    ctx.out.integer(count as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let bit = match parse_i64(&args[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::msg("ERR The bit argument must be 1 or 0.")),
    };
    let pos = read_string(ctx, &args[1], |bytes| {
        // A missing key is an endless run of zero bits.
        let Some(bytes) = bytes else {
            return Ok(if bit { -1 } else { 0 });
        };
        let range = match args.len() {
            3 => None,
            4..=6 => {
                let start = parse_i64(&args[3])?;
                let unit = args.get(5).map_or(Ok(Unit::Byte), |arg| unit(arg))?;
                let end = args.get(4).map(|arg| parse_i64(arg)).transpose()?;
                Some(PosRange { start, end, unit })
            }
            _ => return Err(CmdError::Syntax),
        };
        Ok(bits::position(bytes, bit, range))
    })?;
    ctx.out.integer(pos);
    Ok(())
}

fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = &args[1];
    let op = if is(name, "and") {
        BitOp::And
    } else if is(name, "or") {
        BitOp::Or
    } else if is(name, "xor") {
        BitOp::Xor
    } else if is(name, "not") {
        BitOp::Not
    } else {
        return Err(CmdError::Syntax);
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let touch = !ctx.client.no_touch;
    let ks = ctx.keyspace();
    let (mut guards, keys) = lock_keys(ctx, &ks, &args[2..]);
    // The sources are copied: two of them (or one and the destination) may
    // live in the same shard.
    let mut sources = Vec::with_capacity(keys.len() - 1);
    for (key, position) in &keys[1..] {
        let found = value_at::<StringValue>(&mut guards[*position], key, touch)?;
        ctx.record_lookup(found.is_some());
        sources.push(found.map(|value| value.to_vec()).unwrap_or_default());
    }
    let sources: Vec<&[u8]> = sources.iter().map(Vec::as_slice).collect();
    let result = bits::combine(op, &sources);
    let len = result.len();
    let (dest, position) = &keys[0];
    let shard = &mut guards[*position];
    if len > 0 {
        let value = StringValue::Raw(Box::new(result));
        shard.insert(dest, Entry::new(Value::String(value)));
        ctx.notify(class::STRING, "set", dest.bytes);
        report_changes(ctx, 1);
    } else if shard.remove(dest).is_some() {
        ctx.notify(class::GENERIC, "del", dest.bytes);
        report_changes(ctx, 1);
    } else {
        report_changes(ctx, 0);
    }
    drop(guards);
    ctx.out.integer(len as i64);
    Ok(())
}

/// One BITFIELD operation, parsed.
#[derive(Debug, Clone, Copy)]
struct Field {
    signed: bool,
    bits: u32,
    offset: u64,
    op: FieldOp,
    overflow: Overflow,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// A bitfield type, `i1`..`i64` or `u1`..`u63` (Redis's
/// `getBitfieldTypeFromArgument`): whether it is signed, and its width.
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let invalid = || CmdError::msg(BAD_TYPE);
    let (signed, max) = match arg.first() {
        Some(b'i') => (true, 64),
        Some(b'u') => (false, 63),
        _ => return Err(invalid()),
    };
    match parse_i64(&arg[1..]) {
        Ok(bits) if (1..=max).contains(&bits) => Ok((signed, bits as u32)),
        _ => Err(invalid()),
    }
}

/// BITFIELD's operations in order, each with the OVERFLOW in force for it.
fn parse_fields(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Vec<Field>, CmdError> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 0;
    while i < args.len() {
        let (name, remaining) = (&args[i], args.len() - i - 1);
        if is(name, "overflow") && remaining >= 1 {
            let kind = &args[i + 1];
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::msg("ERR Invalid OVERFLOW type specified"));
            };
            i += 2;
            continue;
        }
        let get = is(name, "get") && remaining >= 2;
        let write = (is(name, "set") || is(name, "incrby")) && remaining >= 3;
        if !get && !write {
            return Err(CmdError::Syntax);
        }
        let (signed, bits) = field_type(&args[i + 1])?;
        let offset = bit_offset(ctx, &args[i + 2], Some(bits))?;
        let op = if get {
            FieldOp::Get
        } else {
            let value = parse_i64(&args[i + 3])?;
            if is(name, "set") {
                FieldOp::Set(value)
            } else {
                FieldOp::IncrBy(value)
            }
        };
        fields.push(Field {
            signed,
            bits,
            offset,
            op,
            overflow,
        });
        i += if get { 3 } else { 4 };
    }
    Ok(fields)
}

/// GET's reply: the field read from `bytes` (zero padded).
fn read_field(bytes: &[u8], field: &Field) -> i64 {
    if field.signed {
        bits::get_signed(bytes, field.offset, field.bits)
    } else {
        bits::get_unsigned(bytes, field.offset, field.bits) as i64
    }
}

/// Runs a SET or INCRBY on `buf`: its reply (the old value for SET, the new
/// one for INCRBY) and whether the field changed, or `None` when it
/// overflowed under OVERFLOW FAIL (nothing is written then).
fn write_field(buf: &mut [u8], field: &Field) -> Option<(i64, bool)> {
    let Field {
        signed,
        bits,
        offset,
        op,
        overflow,
    } = *field;
    let (value, incr) = match op {
        FieldOp::Set(value) => (value, 0),
        FieldOp::IncrBy(incr) => (0, incr),
        FieldOp::Get => return Some((read_field(buf, field), false)),
    };
    let is_incr = matches!(op, FieldOp::IncrBy(_));
    let (old, new) = if signed {
        let old = bits::get_signed(buf, offset, bits);
        let base = if is_incr { old } else { value };
        (
            old as u64,
            bits::signed_result(base, incr, bits, overflow)? as u64,
        )
    } else {
        let old = bits::get_unsigned(buf, offset, bits);
        let base = if is_incr { old } else { value as u64 };
        (old, bits::unsigned_result(base, incr, bits, overflow)?)
    };
    bits::set_unsigned(buf, offset, bits, new);
    let reply = if is_incr { new } else { old };
    Some((reply as i64, old != new))
}

fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let fields = parse_fields(ctx, &args[2..])?;
    let highest_write = fields
        .iter()
        .filter(|field| field.op != FieldOp::Get)
        .map(|field| field.offset + field.bits as u64 - 1)
        .max();
    let Some(max_bit) = highest_write else {
        let values = read_string(ctx, &args[1], |bytes| {
            let bytes = bytes.unwrap_or_default();
            Ok(fields
                .iter()
                .map(|field| read_field(bytes, field))
                .collect::<Vec<_>>())
        })?;
        ctx.out.array(values.len());
        for value in values {
            ctx.out.integer(value);
        }
        return Ok(());
    };
    if read_only {
        return Err(CmdError::msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let (buf, dirty) = bits_for_write(&mut shard, &key, max_bit)?;
    ctx.out.array(fields.len());
    let mut changes = 0u64;
    for field in &fields {
        match write_field(buf, field) {
            Some((reply, changed)) => {
                ctx.out.integer(reply);
                changes += (field.op != FieldOp::Get && (dirty || changed)) as u64;
            }
            None => ctx.out.null(),
        }
    }
    if changes > 0 {
        ctx.notify(class::STRING, "setbit", key.bytes);
    }
    report_changes(ctx, changes);
    Ok(())
}
