//! DUMP/RESTORE payloads in Redis's format, so values move between Redis and
//! Ferrite: `<RDB type><RDB value encoding><RDB version: u16 LE><CRC64: u64 LE>`.
//!
//! The value encoding is the RDB one (`rdb::object`): DUMP writes the plain
//! encodings, RESTORE reads every encoding Redis 7.0 and 6.2 write.
//! FUNCTION DUMP/RESTORE payloads have the same footer around RDB function
//! records (`rdb::functions`) instead of a value.

use std::fmt;

use crate::crc64::crc64;
use crate::encoding::EncodingLimits;
use crate::rdb::codec::Reader;
use crate::rdb::functions::{is_function_opcode, read_library, write_libraries};
use crate::rdb::object::{read_object, write_object};
use crate::rdb::RDB_VERSION;
use crate::value::Value;

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpError {
    /// Too short, newer RDB version, or CRC mismatch.
    VersionOrChecksum,
    /// The value encoding could not be read, and why (Redis's wording, e.g.
    /// "Zset ziplist integrity check failed."): RESTORE replies only "Bad
    /// data format", as Redis, and logs the reason.
    BadFormat(&'static str),
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::VersionOrChecksum => {
                f.write_str("DUMP payload version or checksum are wrong")
            }
            DumpError::BadFormat(_) => f.write_str("Bad data format"),
        }
    }
}

/// Serializes `value` as a DUMP payload.
pub fn encode_dump_payload(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_object(&mut out, value);
    with_footer(out)
}

/// `body` followed by the footer every payload ends with: the RDB version
/// and the CRC-64 of everything before the CRC.
fn with_footer(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// Checks and decodes a DUMP payload. With `verify_checksum` false the CRC is
/// not checked (`DEBUG SET-SKIP-CHECKSUM-VALIDATION 1`). Collections are built
/// in the encoding `limits` call for.
pub fn decode_dump_payload(
    payload: &[u8],
    verify_checksum: bool,
    limits: &EncodingLimits,
) -> Result<Value, DumpError> {
    let mut reader = Reader::new(checked_body(payload, verify_checksum)?);
    let value_type = reader.byte().map_err(DumpError::BadFormat)?;
    let value = read_object(value_type, &mut reader, limits).map_err(DumpError::BadFormat)?;
    if reader.remaining() != 0 {
        return Err(DumpError::BadFormat("trailing bytes"));
    }
    Ok(value)
}

/// The payload without its footer, if the footer's RDB version is one
/// Ferrite reads and (with `verify_checksum`) its CRC-64 matches, as Redis's
/// `verifyDumpPayload`.
fn checked_body(payload: &[u8], verify_checksum: bool) -> Result<&[u8], DumpError> {
    if payload.len() < 10 {
        return Err(DumpError::VersionOrChecksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(DumpError::VersionOrChecksum);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..10]);
    if verify_checksum && crc64(0, &payload[..payload.len() - 8]) != u64::from_le_bytes(crc) {
        return Err(DumpError::VersionOrChecksum);
    }
    Ok(body)
}

/// FUNCTION DUMP's payload: one RDB function record per library (its code),
/// then the RDB version and CRC-64, as Redis's `functionDumpCommand`.
pub fn encode_function_payload<C: AsRef<[u8]>>(libraries: &[C]) -> Vec<u8> {
    let mut out = Vec::new();
    write_libraries(&mut out, libraries);
    with_footer(out)
}

/// The library codes of a FUNCTION RESTORE payload. The error is the reply
/// Redis gives (without `ERR `).
pub fn decode_function_payload(
    payload: &[u8],
    verify_checksum: bool,
) -> Result<Vec<Vec<u8>>, String> {
    let body = checked_body(payload, verify_checksum).map_err(|e| e.to_string())?;
    let mut reader = Reader::new(body);
    let mut libraries = Vec::new();
    while reader.remaining() > 0 {
        let opcode = reader
            .byte()
            .map_err(|_| "can not read data type".to_string())?;
        if !is_function_opcode(opcode) {
            return Err("given type is not a function".to_string());
        }
        libraries.push(read_library(opcode, &mut reader)?);
    }
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::HashValue;
    use crate::list::ListValue;
    use crate::set::SetValue;
    use crate::value::StringValue;
    use crate::zset::ZSetValue;

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
        let set = Value::Set(set);
        let decoded = decode_dump_payload(&encode_dump_payload(&set), true, &limits).unwrap();
        assert_eq!(decoded, set);
        let mut hash = HashValue::new();
        hash.set(b"f", b"v", &limits);
        let hash = Value::Hash(hash);
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
        let value = Value::ZSet(z);
        let payload = encode_dump_payload(&value);
        assert_eq!(payload[0], crate::rdb::object::TYPE_ZSET_2);
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
        let mut payload = vec![17];
        crate::rdb::codec::write_bytes(&mut payload, &lp);
        payload.extend_from_slice(&[10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let value = decode_dump_payload(&payload, false, &EncodingLimits::default()).unwrap();
        let Value::ZSet(z) = value else {
            panic!("not a sorted set")
        };
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

    #[test]
    fn function_payloads_round_trip_and_refuse_what_redis_refuses() {
        let code = b"#!lua name=lib\nredis.register_function('f', function() return 1 end)";
        let payload = encode_function_payload(&[code.as_slice()]);
        assert_eq!(payload[0], 0xf5);
        assert_eq!(
            decode_function_payload(&payload, true),
            Ok(vec![code.to_vec()])
        );
        assert_eq!(
            decode_function_payload(b"bad_payload", true),
            Err("DUMP payload version or checksum are wrong".to_string())
        );
        let value = encode_dump_payload(&Value::String(StringValue::from_bytes(b"x")));
        assert_eq!(
            decode_function_payload(&value, true),
            Err("given type is not a function".to_string())
        );
        assert_eq!(
            decode_function_payload(&encode_function_payload::<&[u8]>(&[]), true),
            Ok(vec![])
        );
    }

    #[test]
    fn corrupt_stream_payloads_are_refused_or_consistent_never_a_panic() {
        use crate::stream::{StreamId, StreamValue};
        let mut stream = StreamValue::default();
        for i in 1..=12u64 {
            let value = i.to_string();
            let fields: [&[u8]; 4] = [b"f", value.as_bytes(), b"g", b"-3"];
            stream.append(
                StreamId::new(i, 0),
                &fields[..if i % 5 == 0 { 2 } else { 4 }],
            );
        }
        stream.delete(StreamId::new(4, 0));
        let payload = encode_dump_payload(&Value::Stream(Box::new(stream)));
        let limits = EncodingLimits::default();
        let body = payload.len() - 10;
        for at in 0..body {
            for flip in [0x01u8, 0x10, 0x80, 0xff] {
                let mut bad = payload.clone();
                bad[at] ^= flip;
                if let Ok(Value::Stream(s)) = decode_dump_payload(&bad, false, &limits) {
                    let all = s.range(StreamId::MIN, StreamId::MAX, false).count();
                    assert_eq!(all, s.len(), "byte {at} ^ {flip:#x}");
                }
            }
            let mut cut = payload[..at].to_vec();
            cut.extend_from_slice(&payload[body..]);
            assert!(decode_dump_payload(&cut, false, &limits).is_err());
        }
    }
}
