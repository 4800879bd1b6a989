//! DUMP/RESTORE payloads in Redis's format, so values move between Redis and
//! Ferrite: `<RDB type><RDB value encoding><RDB version: u16 LE><CRC64: u64 LE>`.
//!
//! DUMP writes the plain RDB encodings (list: type 1, set: type 2, hash: type
//! 4, sorted set: type 5 `ZSET_2`), which every Redis 7.0 loads; RESTORE also
//! reads Redis 7.0's compact ones (quicklist of listpacks: 18, intset: 11,
//! listpack hash: 16, listpack sorted set: 17).

use std::fmt;

use crate::crc64::crc64;
use crate::encoding::EncodingLimits;
use crate::hash::HashValue;
use crate::list::{ListEnd, ListValue};
use crate::listpack;
use crate::lzf;
use crate::set::SetValue;
use crate::value::{StringValue, Value};
use crate::zset::ZSetValue;

/// The RDB version Redis 7.0 writes.
pub const RDB_VERSION: u16 = 10;

const RDB_TYPE_STRING: u8 = 0;
const RDB_TYPE_SET: u8 = 2;
const RDB_TYPE_HASH: u8 = 4;
const RDB_TYPE_SET_INTSET: u8 = 11;
const RDB_TYPE_HASH_LISTPACK: u8 = 16;
const RDB_TYPE_LIST: u8 = 1;
const RDB_TYPE_LIST_QUICKLIST_2: u8 = 18;

const QUICKLIST_NODE_PLAIN: usize = 1;
const QUICKLIST_NODE_PACKED: usize = 2;
const RDB_TYPE_ZSET_2: u8 = 5;
const RDB_TYPE_ZSET_LISTPACK: u8 = 17;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpError {
    /// Too short, newer RDB version, or CRC mismatch.
    VersionOrChecksum,
    /// The value encoding could not be read.
    BadFormat(&'static str),
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::VersionOrChecksum => {
                f.write_str("DUMP payload version or checksum are wrong")
            }
            DumpError::BadFormat(what) => write!(f, "Bad data format ({what})"),
        }
    }
}

/// Serializes `value` as a DUMP payload.
pub fn encode_dump_payload(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::String(s) => {
            out.push(RDB_TYPE_STRING);
            write_string_value(&mut out, s);
        }
        Value::Set(set) => {
            out.push(RDB_TYPE_SET);
            write_length(&mut out, set.len() as u64);
            for member in set.iter() {
                member.with_bytes(|b| write_bytes(&mut out, b));
            }
        }
        Value::Hash(hash) => {
            out.push(RDB_TYPE_HASH);
            write_length(&mut out, hash.len() as u64);
            for (field, value) in hash.iter() {
                write_bytes(&mut out, field);
                write_bytes(&mut out, value);
            }
        }
        Value::List(list) => {
            out.push(RDB_TYPE_LIST);
            write_length(&mut out, list.len() as u64);
            for item in list.iter() {
                write_bytes(&mut out, item);
            }
        }
        Value::ZSet(z) => {
            out.push(RDB_TYPE_ZSET_2);
            write_length(&mut out, z.len() as u64);
            // Highest first, as Redis writes them (so loading prepends).
            for (score, member) in z.iter_from(0, true) {
                write_length(&mut out, member.len() as u64);
                out.extend_from_slice(member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks and decodes a DUMP payload. With `verify_checksum` false the CRC is
/// not checked (`DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`). Collections are built
/// in the encoding `limits` call for.
pub fn decode_dump_payload(
    payload: &[u8],
    verify_checksum: bool,
    limits: &EncodingLimits,
) -> Result<Value, DumpError> {
    if payload.len() < 10 {
        return Err(DumpError::VersionOrChecksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(DumpError::VersionOrChecksum);
    }
    let crc = u64::from_le_bytes(footer[2..10].try_into().expect("8 bytes"));
    if verify_checksum && crc64(0, &payload[..payload.len() - 8]) != crc {
        return Err(DumpError::VersionOrChecksum);
    }
    let mut reader = Reader { data: body, pos: 0 };
    let value = match reader.byte()? {
        RDB_TYPE_STRING => Value::String(StringValue::from_bytes(&reader.string()?)),
        RDB_TYPE_SET => {
            let len = reader.plain_length()?;
            let mut members = Vec::with_capacity(len.min(body.len()));
            for _ in 0..len {
                members.push(reader.string()?);
            }
            build_set(members, limits)?
        }
        RDB_TYPE_HASH => {
            let len = reader.plain_length()?;
            let mut pairs = Vec::with_capacity(len.min(body.len()));
            for _ in 0..len {
                pairs.push((reader.string()?, reader.string()?));
            }
            build_hash(pairs, limits)?
        }
        RDB_TYPE_SET_INTSET => build_set(read_intset(&reader.string()?)?, limits)?,
        RDB_TYPE_HASH_LISTPACK => {
            let items = listpack::decode(&reader.string()?).map_err(DumpError::BadFormat)?;
            if items.len() % 2 != 0 {
                return Err(DumpError::BadFormat("odd listpack hash"));
            }
            let mut items = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                pairs.push((field, value));
            }
            build_hash(pairs, limits)?
        }
        RDB_TYPE_LIST => {
            let len = reader.plain_length()?;
            if len == 0 {
                return Err(DumpError::BadFormat("empty list"));
            }
            let mut list = ListValue::new();
            for _ in 0..len {
                list.push(ListEnd::Right, &reader.string()?, limits);
            }
            Value::List(Box::new(list))
        }
        RDB_TYPE_LIST_QUICKLIST_2 => Value::List(Box::new(read_quicklist(&mut reader, limits)?)),
        RDB_TYPE_ZSET_2 => Value::ZSet(Box::new(read_zset(&mut reader, limits)?)),
        RDB_TYPE_ZSET_LISTPACK => {
            let blob = reader.string()?;
            Value::ZSet(Box::new(zset_from_listpack(&blob, limits)?))
        }
        _ => return Err(DumpError::BadFormat("unsupported value type")),
    };
    if reader.pos != body.len() {
        return Err(DumpError::BadFormat("trailing bytes"));
    }
    Ok(value)
}

/// A set from RDB members; duplicates or no members are corruption.
fn build_set(members: Vec<Vec<u8>>, limits: &EncodingLimits) -> Result<Value, DumpError> {
    let mut set = SetValue::new();
    for member in &members {
        if !set.add(member, limits) {
            return Err(DumpError::BadFormat("duplicate set member"));
        }
    }
    if set.is_empty() {
        return Err(DumpError::BadFormat("empty set"));
    }
    Ok(Value::Set(Box::new(set)))
}

/// A hash from RDB pairs; duplicate fields or no fields are corruption.
fn build_hash(pairs: Vec<(Vec<u8>, Vec<u8>)>, limits: &EncodingLimits) -> Result<Value, DumpError> {
    let mut hash = HashValue::new();
    for (field, value) in &pairs {
        if !hash.set(field, value, limits) {
            return Err(DumpError::BadFormat("duplicate hash field"));
        }
    }
    if hash.is_empty() {
        return Err(DumpError::BadFormat("empty hash"));
    }
    Ok(Value::Hash(Box::new(hash)))
}

/// The members of a Redis intset blob: encoding width (u32), count (u32), then
/// sorted little-endian integers of that width.
fn read_intset(blob: &[u8]) -> Result<Vec<Vec<u8>>, DumpError> {
    let bad = DumpError::BadFormat("corrupt intset");
    let header = |at: usize| -> Option<usize> {
        let bytes: [u8; 4] = blob.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(bytes) as usize)
    };
    let (width, count) = header(0).zip(header(4)).ok_or(bad.clone())?;
    if ![2, 4, 8].contains(&width) || blob.len() != 8 + width * count {
        return Err(bad);
    }
    let mut members: Vec<Vec<u8>> = Vec::with_capacity(count);
    let mut previous: Option<i64> = None;
    for chunk in blob[8..].chunks_exact(width) {
        let mut bytes = [0u8; 8];
        bytes[..width].copy_from_slice(chunk);
        let shift = 64 - 8 * width as u32;
        let n = (i64::from_le_bytes(bytes) << shift) >> shift;
        if previous.is_some_and(|p| p >= n) {
            return Err(bad);
        }
        previous = Some(n);
        members.push(n.to_string().into_bytes());
    }
    Ok(members)
}

/// A byte string in the plain RDB string encoding.
fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_length(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Redis 7.0's own list payload: nodes that are each one plain element or a
/// listpack of elements.
fn read_quicklist(
    reader: &mut Reader<'_>,
    limits: &EncodingLimits,
) -> Result<ListValue, DumpError> {
    let nodes = reader.plain_length()?;
    let mut list = ListValue::new();
    for _ in 0..nodes {
        let container = reader.plain_length()?;
        let data = reader.string()?;
        if data.is_empty() {
            return Err(DumpError::BadFormat("empty quicklist node"));
        }
        match container {
            QUICKLIST_NODE_PLAIN => list.push(ListEnd::Right, &data, limits),
            QUICKLIST_NODE_PACKED => {
                for item in listpack::decode(&data).map_err(DumpError::BadFormat)? {
                    list.push(ListEnd::Right, &item, limits);
                }
            }
            _ => return Err(DumpError::BadFormat("quicklist integrity check failed")),
        }
    }
    if list.is_empty() {
        return Err(DumpError::BadFormat("empty list"));
    }
    Ok(list)
}

/// An RDB `ZSET_2` body: a length, then member strings each followed by a
/// little-endian binary double.
fn read_zset(reader: &mut Reader<'_>, limits: &EncodingLimits) -> Result<ZSetValue, DumpError> {
    let len = reader.plain_length()?;
    if len == 0 {
        return Err(DumpError::BadFormat("empty sorted set"));
    }
    let mut zset = ZSetValue::Skiplist(Box::default());
    for _ in 0..len {
        let member = reader.string()?;
        let score = f64::from_le_bytes(reader.take(8)?.try_into().expect("8 bytes"));
        if score.is_nan() {
            return Err(DumpError::BadFormat("NaN score"));
        }
        if zset.insert(&member, score, limits).is_some() {
            return Err(DumpError::BadFormat("duplicate sorted set member"));
        }
    }
    zset.shrink_if_fits(limits);
    Ok(zset)
}

/// A sorted set stored as a listpack (what Redis 7.0 dumps for small sorted
/// sets): alternating member and score entries.
fn zset_from_listpack(blob: &[u8], limits: &EncodingLimits) -> Result<ZSetValue, DumpError> {
    let entries = listpack::decode(blob).map_err(DumpError::BadFormat)?;
    if entries.is_empty() || entries.len() % 2 != 0 {
        return Err(DumpError::BadFormat("odd or empty sorted set listpack"));
    }
    let mut zset = ZSetValue::Skiplist(Box::default());
    for pair in entries.chunks(2) {
        let score = std::str::from_utf8(&pair[1])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|s| !s.is_nan())
            .ok_or(DumpError::BadFormat("bad score"))?;
        if zset.insert(&pair[0], score, limits).is_some() {
            return Err(DumpError::BadFormat("duplicate sorted set member"));
        }
    }
    zset.shrink_if_fits(limits);
    Ok(zset)
}

fn write_string_value(out: &mut Vec<u8>, value: &StringValue) {
    if let Some(n) = value.as_i64() {
        if let Ok(small) = i8::try_from(n) {
            out.push(0xc0 | ENC_INT8);
            out.extend_from_slice(&small.to_le_bytes());
            return;
        }
        if let Ok(medium) = i16::try_from(n) {
            out.push(0xc0 | ENC_INT16);
            out.extend_from_slice(&medium.to_le_bytes());
            return;
        }
        if let Ok(large) = i32::try_from(n) {
            out.push(0xc0 | ENC_INT32);
            out.extend_from_slice(&large.to_le_bytes());
            return;
        }
    }
    value.with_bytes(|bytes| write_bytes(out, bytes));
}

/// RDB length encoding (6-bit, 14-bit, 32-bit or 64-bit).
pub(crate) fn write_length(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// A cursor over an RDB-encoded value; every read is bounds-checked.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A length, or the special string encoding a `11xxxxxx` prefix announces.
enum Length {
    Plain(u64),
    Special(u8),
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DumpError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len());
        let end = end.ok_or(DumpError::BadFormat("truncated"))?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, DumpError> {
        Ok(self.take(1)?[0])
    }

    fn length(&mut self) -> Result<Length, DumpError> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Length::Plain((first & 0x3f) as u64),
            1 => Length::Plain((((first & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 if first == 0x80 => {
                Length::Plain(u32::from_be_bytes(self.take(4)?.try_into().expect("4")) as u64)
            }
            2 if first == 0x81 => {
                Length::Plain(u64::from_be_bytes(self.take(8)?.try_into().expect("8")))
            }
            2 => return Err(DumpError::BadFormat("unknown length encoding")),
            _ => Length::Special(first & 0x3f),
        })
    }

    fn plain_length(&mut self) -> Result<usize, DumpError> {
        match self.length()? {
            Length::Plain(n) => {
                usize::try_from(n).map_err(|_| DumpError::BadFormat("length too large"))
            }
            Length::Special(_) => Err(DumpError::BadFormat("expected a length")),
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, DumpError> {
        match self.length()? {
            Length::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| DumpError::BadFormat("length too large"))?;
                Ok(self.take(n)?.to_vec())
            }
            Length::Special(ENC_INT8) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Length::Special(ENC_INT16) => {
                let v = i16::from_le_bytes(self.take(2)?.try_into().expect("2"));
                Ok(v.to_string().into_bytes())
            }
            Length::Special(ENC_INT32) => {
                let v = i32::from_le_bytes(self.take(4)?.try_into().expect("4"));
                Ok(v.to_string().into_bytes())
            }
            Length::Special(ENC_LZF) => {
                let compressed_len = self.plain_length()?;
                let len = self.plain_length()?;
                let compressed = self.take(compressed_len)?;
                lzf::decompress(compressed, len).ok_or(DumpError::BadFormat("corrupt LZF data"))
            }
            Length::Special(_) => Err(DumpError::BadFormat("unknown string encoding")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_redis_bytes() {
        // `redis-cli DUMP` of SET k hello on Redis 7.0.
        let value = Value::String(StringValue::from_bytes(b"hello"));
        let payload = encode_dump_payload(&value);
        assert_eq!(&payload[..8], b"\x00\x05hello\x0a");
        assert_eq!(
            decode_dump_payload(&payload, true, &EncodingLimits::default()).unwrap(),
            value
        );
        let number = Value::String(StringValue::from_bytes(b"-1234567"));
        assert_eq!(
            decode_dump_payload(
                &encode_dump_payload(&number),
                true,
                &EncodingLimits::default()
            )
            .unwrap(),
            number
        );
    }

    #[test]
    fn collections_round_trip_and_read_redis_compact_encodings() {
        let limits = EncodingLimits::default();
        let mut set = SetValue::new();
        set.add(b"1", &limits);
        set.add(b"x", &limits);
        let set = Value::Set(Box::new(set));
        let decoded = decode_dump_payload(&encode_dump_payload(&set), true, &limits).unwrap();
        assert_eq!(decoded, set);
        let mut hash = HashValue::new();
        hash.set(b"f", b"v", &limits);
        let hash = Value::Hash(Box::new(hash));
        let decoded = decode_dump_payload(&encode_dump_payload(&hash), true, &limits).unwrap();
        assert_eq!(decoded, hash);

        // Redis 7.0: SADD s 1 2 3; DUMP s.
        let intset = b"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00\n\x00\xc3\xd8\xa9\xdcL\xdc\x80\x1d";
        let value = decode_dump_payload(intset, false, &limits).unwrap();
        assert_eq!(value.encoding_name(), "intset");
        assert_eq!(value.as_set().map(SetValue::len), Some(3));
        // Redis 7.0: HSET h f v n 12; DUMP h.
        let listpack =
            b"\x10\x12\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81n\x02\x0c\x01\xff\n\x00";
        let mut payload = listpack.to_vec();
        payload.extend_from_slice(&[0; 8]);
        let value = decode_dump_payload(&payload, false, &limits).unwrap();
        let hash = value.as_hash().unwrap();
        assert_eq!(hash.get(b"f"), Some(&b"v"[..]));
        assert_eq!(hash.get(b"n"), Some(&b"12"[..]));
    }

    #[test]
    fn lists_round_trip_as_rdb_type_1() {
        let limits = EncodingLimits::default();
        let list = ListValue::from_items([&b"a"[..], b"12", &[b'x'; 100]], &limits);
        let value = Value::List(Box::new(list));
        let payload = encode_dump_payload(&value);
        assert_eq!(&payload[..7], b"\x01\x03\x01a\x0212");
        assert_eq!(decode_dump_payload(&payload, true, &limits).unwrap(), value);
    }

    #[test]
    fn sorted_sets_round_trip() {
        let limits = EncodingLimits::default();
        let mut z = ZSetValue::default();
        z.insert(b"a", 1.5, &limits);
        z.insert(b"b", f64::NEG_INFINITY, &limits);
        let value = Value::ZSet(Box::new(z));
        let payload = encode_dump_payload(&value);
        assert_eq!(payload[0], RDB_TYPE_ZSET_2);
        let back = decode_dump_payload(&payload, true, &limits).unwrap();
        assert_eq!(back, value);
        assert_eq!(back.encoding_name(), "listpack");
    }

    #[test]
    fn reads_redis_listpack_sorted_sets() {
        // Redis 7.0: ZADD z 1 a 2.5 b -3 c; DUMP z.
        let mut lp = vec![0u8; 6];
        for entry in [
            &b"\x81c\x02"[..],
            b"\xdf\xfd\x02",
            b"\x81a\x02",
            b"\x01\x01",
            b"\x81b\x02",
            b"\x832.5\x04",
        ] {
            lp.extend_from_slice(entry);
        }
        lp.push(0xff);
        let total = lp.len() as u32;
        lp[..4].copy_from_slice(&total.to_le_bytes());
        lp[4..6].copy_from_slice(&6u16.to_le_bytes());
        let z = zset_from_listpack(&lp, &EncodingLimits::default()).unwrap();
        let got: Vec<(f64, Vec<u8>)> = z.iter().map(|(s, m)| (s, m.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                (-3.0, b"c".to_vec()),
                (1.0, b"a".to_vec()),
                (2.5, b"b".to_vec())
            ]
        );
    }

    #[test]
    fn rejects_corruption() {
        let mut payload = encode_dump_payload(&Value::String(StringValue::from_bytes(b"x")));
        payload[1] ^= 1;
        assert_eq!(
            decode_dump_payload(&payload, true, &EncodingLimits::default()),
            Err(DumpError::VersionOrChecksum)
        );
        assert!(decode_dump_payload(b"short", true, &EncodingLimits::default()).is_err());
    }
}
