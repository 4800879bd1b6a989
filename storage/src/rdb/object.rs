//! RDB value encodings: a value written as `<type byte><body>` and read back
//! from any encoding Redis 7.0 or 6.2 writes. DUMP payloads and RDB files
//! share this code.
//!
//! Ferrite writes the plain encodings (string 0, list 1, set 2, hash 4, sorted
//! set 5), which every Redis since 4.0 loads, and streams as Redis 7.0 does
//! (19, `stream`). It reads those plus Redis's
//! compact ones: zipmap (9), ziplists (10, 12, 13), intset (11), quicklists of
//! ziplists (14) and of listpacks (18), listpacks (16, 17), the text-score
//! sorted set (3) and the older stream record (15). Collections are rebuilt in the encoding the current
//! thresholds call for, as Redis's loader converts them.

use super::codec::{write_bytes, write_length, write_string_value, CodecResult, Reader};
use super::stream::{read_stream, write_stream};
use crate::encoding::EncodingLimits;
use crate::hash::HashValue;
use crate::list::{ListEnd, ListValue};
use crate::listpack;
use crate::set::SetValue;
use crate::value::{StringValue, Value};
use crate::zset::ZSetValue;
use crate::{ziplist, zipmap};

pub(crate) const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
pub(crate) const TYPE_ZSET_2: u8 = 5;
const TYPE_MODULE_PRE_GA: u8 = 6;
const TYPE_MODULE_2: u8 = 7;
const TYPE_HASH_ZIPMAP: u8 = 9;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;

const QUICKLIST_NODE_PLAIN: usize = 1;
const QUICKLIST_NODE_PACKED: usize = 2;

/// The error for a collection with no elements: Redis's loader skips such
/// keys with a warning, RESTORE refuses them.
pub(crate) const EMPTY_VALUE: &str = "empty collection";

/// Whether `byte` is a value type (as opposed to an RDB opcode).
pub(crate) fn is_value_type(byte: u8) -> bool {
    matches!(byte, 0..=7 | 9..=19)
}

/// Appends `value` as its RDB type byte and body.
pub(crate) fn write_object(out: &mut Vec<u8>, value: &Value) {
    out.push(object_type(value));
    write_body(out, value)
}

/// The RDB type `write_body` writes `value` as.
pub(crate) fn object_type(value: &Value) -> u8 {
    match value {
        Value::String(_) => TYPE_STRING,
        Value::Set(_) => TYPE_SET,
        Value::Hash(_) => TYPE_HASH,
        Value::List(_) => TYPE_LIST,
        Value::ZSet(_) => TYPE_ZSET_2,
        Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
    }
}

/// Appends the body of `value` in the plain encoding of `object_type`
/// (streams in their only one, their nodes' listpacks).
pub(crate) fn write_body(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => write_string_value(out, s),
        Value::Set(set) => {
            write_length(out, set.len() as u64);
            for member in set.iter() {
                member.with_bytes(|b| write_bytes(out, b));
            }
        }
        Value::Hash(hash) => {
            write_length(out, hash.len() as u64);
            for (field, value) in hash.iter() {
                write_bytes(out, field);
                write_bytes(out, value);
            }
        }
        Value::List(list) => {
            write_length(out, list.len() as u64);
            for item in list.iter() {
                write_bytes(out, item);
            }
        }
        Value::ZSet(z) => {
            write_length(out, z.len() as u64);
            // Highest first, as Redis writes them (so loading prepends).
            for (score, member) in z.iter_from(0, true) {
                write_bytes(out, member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Value::Stream(stream) => write_stream(out, stream),
    }
}

/// Reads the body of a value of RDB type `value_type`.
pub(crate) fn read_object(
    value_type: u8,
    reader: &mut Reader<'_>,
    limits: &EncodingLimits,
) -> CodecResult<Value> {
    Ok(match value_type {
        TYPE_STRING => Value::String(StringValue::from_bytes(&reader.string()?)),
        TYPE_LIST => build_list(read_strings(reader)?, limits)?,
        TYPE_SET => build_set(read_strings(reader)?, limits)?,
        TYPE_ZSET | TYPE_ZSET_2 => {
            let len = reader.count(2)?;
            let mut pairs = Vec::with_capacity(len);
            for _ in 0..len {
                let member = reader.string()?;
                let score = if value_type == TYPE_ZSET_2 {
                    reader.binary_double()?
                } else {
                    reader.text_double()?
                };
                pairs.push((member, score));
            }
            build_zset(pairs, limits)?
        }
        TYPE_HASH => {
            let len = reader.count(2)?;
            let mut pairs = Vec::with_capacity(len);
            for _ in 0..len {
                pairs.push((reader.string()?, reader.string()?));
            }
            build_hash(pairs, limits)?
        }
        TYPE_HASH_ZIPMAP => compact(reader, "Zipmap integrity check failed.", |blob| {
            build_hash(zipmap::decode(blob)?, limits)
        })?,
        TYPE_LIST_ZIPLIST => compact(reader, "List ziplist integrity check failed.", |blob| {
            build_list(ziplist::decode(blob)?, limits)
        })?,
        TYPE_SET_INTSET => compact(reader, "Intset integrity check failed.", |blob| {
            build_set(read_intset(blob)?, limits)
        })?,
        TYPE_ZSET_ZIPLIST => compact(reader, "Zset ziplist integrity check failed.", |blob| {
            zset_from_flat(ziplist::decode(blob)?, limits)
        })?,
        TYPE_HASH_ZIPLIST => compact(reader, "Hash ziplist integrity check failed.", |blob| {
            hash_from_flat(ziplist::decode(blob)?, limits)
        })?,
        TYPE_HASH_LISTPACK => compact(reader, "Hash listpack integrity check failed.", |blob| {
            hash_from_flat(listpack::decode(blob)?, limits)
        })?,
        TYPE_ZSET_LISTPACK => compact(reader, "Zset listpack integrity check failed.", |blob| {
            zset_from_flat(listpack::decode(blob)?, limits)
        })?,
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => read_quicklist(value_type, reader, limits)?,
        TYPE_STREAM_LISTPACKS => read_stream(reader, false)?,
        TYPE_STREAM_LISTPACKS_2 => read_stream(reader, true)?,
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
            return Err("module values are not supported by Ferrite")
        }
        _ => return Err("unknown value type"),
    })
}

/// A value stored as one blob in a compact encoding (ziplist, listpack,
/// intset, zipmap), built by `build`. Whatever is wrong with the blob, its
/// structure, duplicates or an odd number of map entries, is reported as
/// Redis reports a failed integrity check of that encoding; an empty
/// collection is told apart, as Redis's loader skips those.
fn compact(
    reader: &mut Reader<'_>,
    integrity_failed: &'static str,
    build: impl FnOnce(&[u8]) -> CodecResult<Value>,
) -> CodecResult<Value> {
    let blob = reader.string()?;
    build(&blob).map_err(|e| {
        if e == EMPTY_VALUE {
            e
        } else {
            integrity_failed
        }
    })
}

/// A count, then that many strings (plain lists and sets).
fn read_strings(reader: &mut Reader<'_>) -> CodecResult<Vec<Vec<u8>>> {
    let len = reader.count(1)?;
    let mut items = Vec::with_capacity(len);
    for _ in 0..len {
        items.push(reader.string()?);
    }
    Ok(items)
}

fn build_list(items: Vec<Vec<u8>>, limits: &EncodingLimits) -> CodecResult<Value> {
    if items.is_empty() {
        return Err(EMPTY_VALUE);
    }
    Ok(Value::List(Box::new(ListValue::from_items(items, limits))))
}

/// A set from RDB members; duplicates are corruption.
fn build_set(members: Vec<Vec<u8>>, limits: &EncodingLimits) -> CodecResult<Value> {
    if members.is_empty() {
        return Err(EMPTY_VALUE);
    }
    let mut set = SetValue::new();
    for member in &members {
        if !set.add(member, limits) {
            return Err("Duplicate set members detected");
        }
    }
    Ok(Value::Set(set))
}

/// A hash from RDB pairs; duplicate fields are corruption.
fn build_hash(pairs: Vec<(Vec<u8>, Vec<u8>)>, limits: &EncodingLimits) -> CodecResult<Value> {
    if pairs.is_empty() {
        return Err(EMPTY_VALUE);
    }
    let mut hash = HashValue::new();
    for (field, value) in &pairs {
        if !hash.set(field, value, limits) {
            return Err("Duplicate hash fields detected");
        }
    }
    Ok(Value::Hash(hash))
}

/// A sorted set from (member, score) pairs; NaN scores and duplicate members
/// are corruption.
fn build_zset(pairs: Vec<(Vec<u8>, f64)>, limits: &EncodingLimits) -> CodecResult<Value> {
    if pairs.is_empty() {
        return Err(EMPTY_VALUE);
    }
    let mut zset = ZSetValue::Skiplist(Box::default());
    for (member, score) in &pairs {
        if score.is_nan() {
            return Err("Zset with NAN score detected");
        }
        if zset.insert(member, *score, limits).is_some() {
            return Err("Duplicate zset fields detected");
        }
    }
    zset.shrink_if_fits(limits);
    Ok(Value::ZSet(zset))
}

/// Alternating entries of a ziplist or listpack, paired up.
fn pairs(items: Vec<Vec<u8>>) -> CodecResult<Vec<(Vec<u8>, Vec<u8>)>> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of entries in a map encoding");
    }
    let mut items = items.into_iter();
    let mut pairs = Vec::with_capacity(items.len() / 2);
    while let (Some(first), Some(second)) = (items.next(), items.next()) {
        pairs.push((first, second));
    }
    Ok(pairs)
}

/// A hash from a ziplist or listpack of alternating fields and values.
fn hash_from_flat(items: Vec<Vec<u8>>, limits: &EncodingLimits) -> CodecResult<Value> {
    build_hash(pairs(items)?, limits)
}

/// A sorted set from a ziplist or listpack of alternating members and scores
/// (scores as text or integers).
fn zset_from_flat(items: Vec<Vec<u8>>, limits: &EncodingLimits) -> CodecResult<Value> {
    let scored = pairs(items)?
        .into_iter()
        .map(|(member, score)| {
            let score = std::str::from_utf8(&score)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .ok_or("bad score")?;
            Ok((member, score))
        })
        .collect::<CodecResult<Vec<_>>>()?;
    build_zset(scored, limits)
}

/// The members of a Redis intset blob: encoding width (u32), count (u32), then
/// sorted little-endian integers of that width.
fn read_intset(blob: &[u8]) -> CodecResult<Vec<Vec<u8>>> {
    const BAD: &str = "corrupt intset";
    let header = |at: usize| -> Option<usize> {
        let bytes: [u8; 4] = blob.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(bytes) as usize)
    };
    let (width, count) = header(0).zip(header(4)).ok_or(BAD)?;
    let expected_len = width.checked_mul(count).and_then(|n| n.checked_add(8));
    if ![2, 4, 8].contains(&width) || expected_len != Some(blob.len()) {
        return Err(BAD);
    }
    let mut members: Vec<Vec<u8>> = Vec::with_capacity(count);
    let mut previous: Option<i64> = None;
    for chunk in blob[8..].chunks_exact(width) {
        let mut bytes = [0u8; 8];
        bytes[..width].copy_from_slice(chunk);
        let shift = 64 - 8 * width as u32;
        let n = (i64::from_le_bytes(bytes) << shift) >> shift;
        if previous.is_some_and(|p| p >= n) {
            return Err(BAD);
        }
        previous = Some(n);
        members.push(n.to_string().into_bytes());
    }
    Ok(members)
}

/// A quicklist: nodes that are each a ziplist (type 14), or a listpack or one
/// plain element (type 18, which prefixes each node with its container kind).
fn read_quicklist(
    value_type: u8,
    reader: &mut Reader<'_>,
    limits: &EncodingLimits,
) -> CodecResult<Value> {
    let nodes = reader.count(2)?;
    let mut list = ListValue::new();
    for _ in 0..nodes {
        let container = if value_type == TYPE_LIST_QUICKLIST_2 {
            reader.plain_length()?
        } else {
            QUICKLIST_NODE_PACKED
        };
        let data = reader.string()?;
        if data.is_empty() {
            return Err("empty quicklist node");
        }
        let items = match container {
            QUICKLIST_NODE_PLAIN => {
                list.push(ListEnd::Right, &data, limits);
                continue;
            }
            QUICKLIST_NODE_PACKED if value_type == TYPE_LIST_QUICKLIST => {
                ziplist::decode(&data).map_err(|_| "Ziplist integrity check failed.")?
            }
            QUICKLIST_NODE_PACKED => {
                listpack::decode(&data).map_err(|_| "Listpack integrity check failed.")?
            }
            _ => return Err("Quicklist integrity check failed."),
        };
        for item in items {
            list.push(ListEnd::Right, &item, limits);
        }
    }
    if list.is_empty() {
        return Err(EMPTY_VALUE);
    }
    Ok(Value::List(Box::new(list)))
}
