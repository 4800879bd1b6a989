//! DUMP/RESTORE payloads in Redis's format, so values move between Redis and
//! Ferrite: `<RDB type><RDB value encoding><RDB version: u16 LE><CRC64: u64 LE>`.
//!
//! Strings and sorted sets (written as RDB `ZSET_2`, which Redis 7.0 loads)
//! exist so far; the other collection types add their RDB encodings here
//! when they arrive.

use std::fmt;

use crate::crc64::crc64;
use crate::encoding::EncodingLimits;
use crate::lzf;
use crate::value::{StringValue, Value};
use crate::zset::ZSetValue;

/// The RDB version Redis 7.0 writes.
pub const RDB_VERSION: u16 = 10;

const RDB_TYPE_STRING: u8 = 0;
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
/// not checked (`DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`). Collections get the
/// encoding `limits` call for.
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
    let entries = listpack_entries(blob)?;
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

/// The entries of a listpack, integers formatted as text.
fn listpack_entries(blob: &[u8]) -> Result<Vec<Vec<u8>>, DumpError> {
    const BAD: DumpError = DumpError::BadFormat("corrupt listpack");
    if blob.len() < 7 {
        return Err(BAD);
    }
    let total = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if total != blob.len() || blob.last() != Some(&0xff) {
        return Err(BAD);
    }
    let mut r = Reader {
        data: &blob[..blob.len() - 1],
        pos: 6,
    };
    let mut entries = Vec::new();
    while r.pos < r.data.len() {
        let start = r.pos;
        let first = r.byte()?;
        let int = |bytes: &[u8]| -> i64 {
            let mut buf = [0u8; 8];
            buf[..bytes.len()].copy_from_slice(bytes);
            let shift = 64 - 8 * bytes.len() as u32;
            (i64::from_le_bytes(buf) << shift) >> shift
        };
        let entry = match first {
            0x00..=0x7f => (first as i64).to_string().into_bytes(),
            0x80..=0xbf => r.take((first & 0x3f) as usize)?.to_vec(),
            0xc0..=0xdf => {
                let raw = (((first & 0x1f) as i64) << 8) | r.byte()? as i64;
                ((raw << 51) >> 51).to_string().into_bytes()
            }
            0xe0..=0xef => {
                let len = (((first & 0x0f) as usize) << 8) | r.byte()? as usize;
                r.take(len)?.to_vec()
            }
            0xf0 => {
                let len = u32::from_le_bytes(r.take(4)?.try_into().expect("4")) as usize;
                r.take(len)?.to_vec()
            }
            0xf1 => int(r.take(2)?).to_string().into_bytes(),
            0xf2 => int(r.take(3)?).to_string().into_bytes(),
            0xf3 => int(r.take(4)?).to_string().into_bytes(),
            0xf4 => int(r.take(8)?).to_string().into_bytes(),
            _ => return Err(BAD),
        };
        let entry_len = r.pos - start;
        let backlen = match entry_len {
            0..=127 => 1,
            128..=16383 => 2,
            16384..=2097151 => 3,
            2097152..=268435455 => 4,
            _ => 5,
        };
        r.take(backlen)?;
        entries.push(entry);
    }
    Ok(entries)
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
    value.with_bytes(|bytes| {
        write_length(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    });
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
