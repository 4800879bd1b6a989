//! Redis's listpack format: reading the listpacks Redis 7.0's DUMP payloads
//! and RDB files hold (quicklist nodes, small hashes and sorted sets, stream
//! nodes), and building and editing them in place for stream nodes, which
//! Ferrite keeps as Redis's exact bytes. Every read is bounds-checked:
//! payloads come from clients.
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 = unknown),
//! elements, the EOF byte 0xff. Each element is its encoding (an integer or
//! a string with its length) followed by its "backlen": the encoding's size
//! as a reversed varint, so the list can be walked from either end.

use std::borrow::Cow;

/// Why a listpack was refused.
pub(crate) const CORRUPT: &str = "corrupt listpack";

const EOF: u8 = 0xff;
/// Bytes before the first element.
pub(crate) const HEADER: usize = 6;
/// The element count meaning "count them" (Redis's `LP_HDR_NUMELE_UNKNOWN`).
const COUNT_UNKNOWN: u16 = u16::MAX;

/// One element's value as stored: integers are kept as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The value as Redis's `lpGet` gives it: integers as decimal text.
    pub(crate) fn to_bytes(self) -> Cow<'a, [u8]> {
        match self {
            Elem::Int(n) => Cow::Owned(int_text(n)),
            Elem::Str(s) => Cow::Borrowed(s),
        }
    }

    /// The integer, if the element is one.
    pub(crate) fn int(self) -> Option<i64> {
        match self {
            Elem::Int(n) => Some(n),
            Elem::Str(_) => None,
        }
    }
}

/// The elements of the listpack in `bytes`, integers formatted as decimal text.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    check(bytes)?;
    let mut items = Vec::new();
    let mut pos = HEADER;
    while let Some((elem, next)) = get(bytes, pos)? {
        items.push(elem.to_bytes().into_owned());
        pos = next;
    }
    Ok(items)
}

/// Checks the whole structure of `bytes` as Redis's deep
/// `lpValidateIntegrity`: header, every element and its backlen, the count,
/// and EOF as the last byte. A checked listpack is walked without errors.
pub(crate) fn check(bytes: &[u8]) -> Result<(), &'static str> {
    let header = bytes.get(..HEADER).ok_or(CORRUPT)?;
    let total = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let declared = u16::from_le_bytes([header[4], header[5]]);
    if total != bytes.len() {
        return Err(CORRUPT);
    }
    let mut count = 0usize;
    let mut pos = HEADER;
    loop {
        if *bytes.get(pos).ok_or(CORRUPT)? == EOF {
            if pos + 1 != bytes.len() {
                return Err(CORRUPT);
            }
            break;
        }
        let (_, entry_len) = element(&bytes[pos..])?;
        let mut backlen = [0u8; 5];
        let backlen = encode_backlen(entry_len, &mut backlen);
        let end = pos + entry_len;
        if bytes.get(end..end + backlen.len()) != Some(backlen) {
            return Err(CORRUPT);
        }
        pos = end + backlen.len();
        count += 1;
    }
    if declared != COUNT_UNKNOWN && declared as usize != count {
        return Err(CORRUPT);
    }
    Ok(())
}

/// The element starting at `pos` and where the next one starts; `None` at
/// EOF.
pub(crate) fn get(bytes: &[u8], pos: usize) -> Result<Option<(Elem<'_>, usize)>, &'static str> {
    let data = bytes.get(pos..).ok_or(CORRUPT)?;
    if *data.first().ok_or(CORRUPT)? == EOF {
        return Ok(None);
    }
    let (elem, entry_len) = element(data)?;
    let next = pos + entry_len + backlen_size(entry_len);
    if next >= bytes.len() {
        return Err(CORRUPT);
    }
    Ok(Some((elem, next)))
}

/// An empty listpack (`lpNew`).
pub(crate) fn new() -> Vec<u8> {
    let mut lp = Vec::with_capacity(HEADER + 1);
    lp.extend_from_slice(&((HEADER + 1) as u32).to_le_bytes());
    lp.extend_from_slice(&0u16.to_le_bytes());
    lp.push(EOF);
    lp
}

/// Appends `value` as Redis's `lpAppend` does: as an integer when it is the
/// canonical text of one (`lpStringToInt64`), else as a string.
pub(crate) fn push_str(lp: &mut Vec<u8>, value: &[u8]) {
    match string_to_int(value) {
        Some(n) => push_int(lp, n),
        None => push_encoded(lp, |out| encode_string(out, value)),
    }
}

/// Appends the integer `n` (`lpAppendInteger`).
pub(crate) fn push_int(lp: &mut Vec<u8>, n: i64) {
    push_encoded(lp, |out| encode_int(out, n));
}

/// Replaces the integer element at `pos` (an element start) with `n`
/// (`lpReplaceInteger`); elements after it move if its size changes.
pub(crate) fn replace_int(lp: &mut Vec<u8>, pos: usize, n: i64) {
    let Ok(Some((_, next))) = get(lp, pos) else {
        return;
    };
    let mut encoded = Vec::with_capacity(14);
    encode_with_backlen(&mut encoded, |out| encode_int(out, n));
    lp.splice(pos..next, encoded);
    set_total(lp);
}

fn push_encoded(lp: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    lp.pop(); // EOF
    encode_with_backlen(lp, encode);
    lp.push(EOF);
    set_total(lp);
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    if count != COUNT_UNKNOWN {
        lp[4..6].copy_from_slice(&(count + 1).to_le_bytes());
    }
}

fn set_total(lp: &mut [u8]) {
    let total = lp.len() as u32;
    lp[..4].copy_from_slice(&total.to_le_bytes());
}

fn encode_with_backlen(out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    encode(out);
    let mut backlen = [0u8; 5];
    let backlen = encode_backlen(out.len() - start, &mut backlen);
    out.extend_from_slice(backlen);
}

/// `lpEncodeIntegerGetType`: the smallest integer encoding holding `n`.
fn encode_int(out: &mut Vec<u8>, n: i64) {
    let le = n.to_le_bytes();
    match n {
        0..=127 => out.push(n as u8),
        -4096..=4095 => {
            let v = (n as u16) & 0x1fff;
            out.extend_from_slice(&[0xc0 | (v >> 8) as u8, v as u8]);
        }
        -32768..=32767 => out.extend_from_slice(&[0xf1, le[0], le[1]]),
        -8388608..=8388607 => out.extend_from_slice(&[0xf2, le[0], le[1], le[2]]),
        -2147483648..=2147483647 => out.extend_from_slice(&[0xf3, le[0], le[1], le[2], le[3]]),
        _ => {
            out.push(0xf4);
            out.extend_from_slice(&le);
        }
    }
}

/// `lpEncodeString`: 6-bit, 12-bit or 32-bit length, then the bytes.
fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 64 {
        out.push(0x80 | len as u8);
    } else if len < 4096 {
        out.extend_from_slice(&[0xe0 | (len >> 8) as u8, len as u8]);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

/// `lpEncodeBacklen`: `len` as a varint whose first byte is the most
/// significant group, continuation bits on all but that first byte.
fn encode_backlen(len: usize, buf: &mut [u8; 5]) -> &[u8] {
    let size = backlen_size(len);
    for (i, byte) in buf[..size].iter_mut().enumerate() {
        let shift = 7 * (size - 1 - i);
        let group = ((len >> shift) & 127) as u8;
        *byte = if i == 0 { group } else { group | 128 };
    }
    &buf[..size]
}

/// How many bytes Redis's `lpEncodeBacklen` uses for an entry of `len` bytes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Redis's `lpStringToInt64`: the integer whose canonical decimal text is
/// `s` (no sign but `-`, no leading zeros, at most 20 bytes).
fn string_to_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if !matches!(digits.first(), Some(b'1'..=b'9')) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn slice(data: &[u8], start: usize, len: usize) -> Result<&[u8], &'static str> {
    data.get(start..start.checked_add(len).ok_or(CORRUPT)?)
        .ok_or(CORRUPT)
}

fn int_text(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// One element at the start of `data`: its value and its length without
/// backlen.
fn element(data: &[u8]) -> Result<(Elem<'_>, usize), &'static str> {
    let first = *data.first().ok_or(CORRUPT)?;
    let byte = |i: usize| data.get(i).copied().ok_or(CORRUPT);
    if first & 0x80 == 0 {
        return Ok((Elem::Int((first & 0x7f) as i64), 1));
    }
    if first & 0xc0 == 0x80 {
        let len = (first & 0x3f) as usize;
        return Ok((Elem::Str(slice(data, 1, len)?), 1 + len));
    }
    if first & 0xe0 == 0xc0 {
        let raw = (((first & 0x1f) as i64) << 8) | byte(1)? as i64;
        let value = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
        return Ok((Elem::Int(value), 2));
    }
    if first & 0xf0 == 0xe0 {
        let len = (((first & 0x0f) as usize) << 8) | byte(1)? as usize;
        return Ok((Elem::Str(slice(data, 2, len)?), 2 + len));
    }
    let fixed = |n: usize| -> Result<i64, &'static str> {
        let raw = slice(data, 1, n)?;
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(raw);
        let unsigned = u64::from_le_bytes(buf);
        let shift = 64 - 8 * n as u32;
        Ok(((unsigned << shift) as i64) >> shift)
    };
    match first {
        0xf0 => {
            let len = u32::from_le_bytes(slice(data, 1, 4)?.try_into().map_err(|_| CORRUPT)?);
            let len = len as usize;
            Ok((Elem::Str(slice(data, 5, len)?), 5 + len))
        }
        0xf1 => Ok((Elem::Int(fixed(2)?), 3)),
        0xf2 => Ok((Elem::Int(fixed(3)?), 4)),
        0xf3 => Ok((Elem::Int(fixed(4)?), 5)),
        0xf4 => Ok((Elem::Int(fixed(8)?), 9)),
        _ => Err(CORRUPT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_encoding() {
        // Built by hand following listpack.c: "a", 5, -1 (13-bit), 1000 (13-bit),
        // 100000 (int24), and a 70-byte string (12-bit length).
        let mut body = vec![0x81, b'a', 2, 5, 1, 0xdf, 0xff, 2, 0xc3, 0xe8, 2];
        body.extend_from_slice(&[0xf2, 0xa0, 0x86, 0x01, 4]);
        body.extend_from_slice(&[0xe0, 70]);
        body.extend_from_slice(&[b'x'; 70]);
        body.push(72);
        let mut lp = Vec::new();
        lp.extend_from_slice(&((6 + body.len() + 1) as u32).to_le_bytes());
        lp.extend_from_slice(&6u16.to_le_bytes());
        lp.extend_from_slice(&body);
        lp.push(EOF);
        let items = decode(&lp).unwrap();
        assert_eq!(items[0], b"a");
        assert_eq!(items[1], b"5");
        assert_eq!(items[2], b"-1");
        assert_eq!(items[3], b"1000");
        assert_eq!(items[4], b"100000");
        assert_eq!(items[5], vec![b'x'; 70]);
        assert!(decode(&lp[..lp.len() - 1]).is_err());
        assert!(decode(&[1, 0, 0]).is_err());

        // The writer produces the same bytes.
        let mut built = new();
        for item in [&b"a"[..], b"5", b"-1", b"1000", b"100000", &[b'x'; 70]] {
            push_str(&mut built, item);
        }
        assert_eq!(built, lp);
    }

    #[test]
    fn integers_round_trip_and_replace_in_place() {
        let mut lp = new();
        let values = [0, 127, 128, -4096, 4095, -32768, 32767, 8388607, -8388608];
        let extremes = [i32::MIN as i64, i32::MAX as i64, i64::MIN, i64::MAX];
        for &n in values.iter().chain(&extremes) {
            push_int(&mut lp, n);
        }
        push_str(&mut lp, b"007");
        push_str(&mut lp, &[b'y'; 5000]);
        check(&lp).unwrap();
        let items = decode(&lp).unwrap();
        assert_eq!(items[1], b"127");
        assert_eq!(items[12], b"9223372036854775807");
        assert_eq!(items[13], b"007");
        assert_eq!(items[14].len(), 5000);
        replace_int(&mut lp, HEADER, 1_000_000);
        check(&lp).unwrap();
        assert_eq!(get(&lp, HEADER).unwrap().unwrap().0, Elem::Int(1_000_000));
        assert_eq!(string_to_int(b"-0"), None);
        assert_eq!(string_to_int(b"+1"), None);
        assert_eq!(string_to_int(b"99999999999999999999"), None);
    }
}
