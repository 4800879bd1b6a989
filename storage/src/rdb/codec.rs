//! The RDB primitives every RDB value and file is made of: lengths (6, 14, 32
//! or 64 bits), strings (raw, integer-encoded, LZF-compressed) and binary
//! doubles. Shared by DUMP payloads and RDB files, so both read exactly what
//! Redis writes.

use crate::lzf;
use crate::value::StringValue;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Why a read failed; the reader's position says where.
pub(crate) type CodecResult<T> = Result<T, &'static str>;

/// A byte string in the plain RDB string encoding.
pub(crate) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_length(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A string value, integer-encoded when it is an integer that fits 32 bits
/// (as Redis's `rdbSaveStringObject` does).
pub(crate) fn write_string_value(out: &mut Vec<u8>, value: &StringValue) {
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

/// A cursor over RDB bytes; every read is bounds-checked, so no length in the
/// input can make it read past the end or allocate more than the input holds.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pub(crate) pos: usize,
}

/// A length, or the special string encoding a `11xxxxxx` prefix announces.
enum Length {
    Plain(u64),
    Special(u8),
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    /// Bytes not read yet (an upper bound for any pre-allocation).
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> CodecResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or("unexpected end of data")?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    pub(crate) fn byte(&mut self) -> CodecResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn array<const N: usize>(&mut self) -> CodecResult<[u8; N]> {
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(self.take(N)?);
        Ok(bytes)
    }

    fn length(&mut self) -> CodecResult<Length> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Length::Plain((first & 0x3f) as u64),
            1 => Length::Plain((((first & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 if first == 0x80 => Length::Plain(u32::from_be_bytes(self.array()?) as u64),
            2 if first == 0x81 => Length::Plain(u64::from_be_bytes(self.array()?)),
            2 => return Err("unknown length encoding"),
            _ => Length::Special(first & 0x3f),
        })
    }

    /// A plain length (an element count, a database number ...).
    pub(crate) fn plain_length(&mut self) -> CodecResult<usize> {
        usize::try_from(self.plain_u64()?).map_err(|_| "length too large")
    }

    /// A plain length read as a 64-bit number (stream IDs and counters).
    pub(crate) fn plain_u64(&mut self) -> CodecResult<u64> {
        match self.length()? {
            Length::Plain(n) => Ok(n),
            Length::Special(_) => Err("expected a length, found a string encoding"),
        }
    }

    /// A count of elements that each take at least `min_bytes` bytes: refused
    /// when the rest of the input cannot hold that many, so callers may
    /// pre-allocate it.
    pub(crate) fn count(&mut self, min_bytes: usize) -> CodecResult<usize> {
        let n = self.plain_length()?;
        if n.saturating_mul(min_bytes.max(1)) > self.remaining() {
            return Err("element count larger than the data");
        }
        Ok(n)
    }

    pub(crate) fn string(&mut self) -> CodecResult<Vec<u8>> {
        match self.length()? {
            Length::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| "length too large")?;
                Ok(self.take(n)?.to_vec())
            }
            Length::Special(ENC_INT8) => Ok(int_text(self.byte()? as i8 as i64)),
            Length::Special(ENC_INT16) => Ok(int_text(i16::from_le_bytes(self.array()?) as i64)),
            Length::Special(ENC_INT32) => Ok(int_text(i32::from_le_bytes(self.array()?) as i64)),
            Length::Special(ENC_LZF) => {
                let compressed_len = self.plain_length()?;
                let len = self.plain_length()?;
                let compressed = self.take(compressed_len)?;
                lzf::decompress(compressed, len).ok_or("corrupt LZF data")
            }
            Length::Special(_) => Err("unknown string encoding"),
        }
    }

    /// A little-endian binary double (`ZSET_2` scores).
    pub(crate) fn binary_double(&mut self) -> CodecResult<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A double as text with a one-byte length (RDB `ZSET` scores): 253 is
    /// NaN, 254 +inf, 255 -inf.
    pub(crate) fn text_double(&mut self) -> CodecResult<f64> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            len => std::str::from_utf8(self.take(len as usize)?)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or("bad double value"),
        }
    }
}

fn int_text(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_at_every_width() {
        for len in [
            0,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ] {
            let mut out = Vec::new();
            write_length(&mut out, len);
            let mut reader = Reader::new(&out);
            let mut wide = Reader::new(&out);
            assert_eq!(reader.plain_length().unwrap() as u64, len);
            assert_eq!(reader.remaining(), 0);
            assert!(wide.take(out.len() + 1).is_err());
        }
    }

    #[test]
    fn strings_read_every_encoding() {
        let mut out = Vec::new();
        write_string_value(&mut out, &StringValue::from_bytes(b"-5"));
        write_string_value(&mut out, &StringValue::from_bytes(b"3000"));
        write_string_value(&mut out, &StringValue::from_bytes(b"-100000"));
        write_string_value(&mut out, &StringValue::from_bytes(b"9999999999"));
        out.extend_from_slice(&[0xc3, 6, 9, 2, b'a', b'b', b'c', 4 << 5, 2]);
        let mut reader = Reader::new(&out);
        for expected in [&b"-5"[..], b"3000", b"-100000", b"9999999999", b"abcabcabc"] {
            assert_eq!(reader.string().unwrap(), expected);
        }
        assert_eq!(reader.string(), Err("unexpected end of data"));
    }

    #[test]
    fn counts_larger_than_the_data_are_refused() {
        let mut out = Vec::new();
        write_length(&mut out, 1 << 40);
        assert_eq!(
            Reader::new(&out).count(1),
            Err("element count larger than the data")
        );
    }

    #[test]
    fn text_doubles() {
        let data = [3, b'1', b'.', b'5', 254, 255, 253, 2, b'x', b'y'];
        let mut reader = Reader::new(&data);
        assert_eq!(reader.text_double(), Ok(1.5));
        assert_eq!(reader.text_double(), Ok(f64::INFINITY));
        assert_eq!(reader.text_double(), Ok(f64::NEG_INFINITY));
        assert!(reader.text_double().unwrap().is_nan());
        assert_eq!(reader.text_double(), Err("bad double value"));
    }
}
