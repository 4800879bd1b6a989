//! The bit math of Redis 7.0's `bitops.c` on plain byte strings, apart
//! from commands and replies so it can be tested (and benchmarked) alone:
//! single bits, population counts and first-bit searches over BYTE or BIT
//! ranges, BITOP's combination of strings, and BITFIELD's integers of 1 to
//! 64 bits at any bit offset with Redis's overflow rules.
//!
//! Bit 0 is the most significant bit of the first byte, as in Redis.

/// Whether a BITCOUNT/BITPOS range counts bytes (the default) or bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Byte,
    Bit,
}

/// Sets or clears bit `offset` of `buf`, growing it with zero bytes to reach
/// it. Returns the bit's old value and whether the string changed (grew or
/// the bit flipped): Redis only signals and propagates SETBIT then.
pub fn set_bit(buf: &mut Vec<u8>, offset: u64, on: bool) -> (bool, bool) {
    let grew = grow_to_bit(buf, offset);
    let (byte, mask) = locate(offset);
    let old = buf[byte] & mask != 0;
    if on {
        buf[byte] |= mask;
    } else {
        buf[byte] &= !mask;
    }
    (old, grew || old != on)
}

/// Bit `offset` of `bytes`; bits past the end are 0.
pub fn get_bit(bytes: &[u8], offset: u64) -> bool {
    let (byte, mask) = locate(offset);
    bytes.get(byte).is_some_and(|b| b & mask != 0)
}

/// Pads `buf` with zero bytes so bit `max_bit` exists (Redis's
/// `lookupStringForBitCommand`); true if it grew.
pub fn grow_to_bit(buf: &mut Vec<u8>, max_bit: u64) -> bool {
    let needed = (max_bit >> 3) as usize + 1;
    let grew = buf.len() < needed;
    if grew {
        buf.resize(needed, 0);
    }
    grew
}

fn locate(offset: u64) -> (usize, u8) {
    ((offset >> 3) as usize, 1u8 << (7 - (offset & 7)))
}

/// The number of set bits in `bytes` (Redis's `redisPopcount`).
pub fn popcount(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut count: u64 = chunks
        .by_ref()
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])).count_ones() as u64)
        .sum();
    count += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    count
}

/// The position of the first bit equal to `bit` in `bytes` (Redis's
/// `redisBitpos`): looking for a 0 in a string of ones gives the first bit
/// past its end (the string is thought of as zero padded); looking for a 1
/// in zeros gives -1.
pub fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0 } else { 0xff };
    match bytes.iter().position(|&b| b != skip) {
        Some(i) => {
            let byte = if bit { bytes[i] } else { !bytes[i] };
            (i as i64) * 8 + byte.leading_zeros() as i64
        }
        None if bit => -1,
        None => bytes.len() as i64 * 8,
    }
}

/// A range resolved against a string of `len` bytes as BITCOUNT and BITPOS
/// resolve it: negative indexes count from the end, both ends are clamped,
/// and a BIT range becomes its bytes plus masks of the bits of the first
/// and last byte that lie outside it.
struct Span {
    start: i64,
    end: i64,
    first_outside: u8,
    last_outside: u8,
}

impl Span {
    fn resolve(len: usize, start: i64, end: i64, unit: Unit) -> Span {
        let mut total = len as i64;
        if unit == Unit::Bit {
            total <<= 3;
        }
        let clamp = |i: i64| if i < 0 { (total + i).max(0) } else { i };
        let (mut start, mut end) = (clamp(start), clamp(end));
        if end >= total {
            end = total - 1;
        }
        let (mut first_outside, mut last_outside) = (0, 0);
        if unit == Unit::Bit && start <= end {
            first_outside = !((1u16 << (8 - (start & 7))) - 1) as u8;
            last_outside = ((1u16 << (7 - (end & 7))) - 1) as u8;
            start >>= 3;
            end >>= 3;
        }
        Span {
            start,
            end,
            first_outside,
            last_outside,
        }
    }
}

/// BITCOUNT: the set bits of `bytes`, or of `range` (start, end, unit) of it.
pub fn count(bytes: &[u8], range: Option<(i64, i64, Unit)>) -> u64 {
    let Some((start, end, unit)) = range else {
        return popcount(bytes);
    };
    if start < 0 && end < 0 && start > end {
        return 0;
    }
    let span = Span::resolve(bytes.len(), start, end, unit);
    if span.start > span.end {
        return 0;
    }
    let (start, end) = (span.start as usize, span.end as usize);
    let outside = [
        bytes[start] & span.first_outside,
        bytes[end] & span.last_outside,
    ];
    popcount(&bytes[start..=end]) - popcount(&outside)
}

/// BITPOS's optional range: a start, an optional end, and the unit.
#[derive(Debug, Clone, Copy)]
pub struct PosRange {
    pub start: i64,
    pub end: Option<i64>,
    pub unit: Unit,
}

/// BITPOS: the first bit equal to `bit` in `bytes` or in `range` of it, -1
/// if none. Without an explicit end, looking for a 0 past a run of ones
/// finds the bit after the string, as in Redis.
pub fn position(bytes: &[u8], bit: bool, range: Option<PosRange>) -> i64 {
    let Some(range) = range else {
        return first_bit(bytes, bit);
    };
    let default_end = match range.unit {
        Unit::Byte => bytes.len() as i64 - 1,
        Unit::Bit => ((bytes.len() as i64) << 3) + 7,
    };
    let span = Span::resolve(
        bytes.len(),
        range.start,
        range.end.unwrap_or(default_end),
        range.unit,
    );
    if span.start > span.end {
        return -1;
    }
    let end = span.end as usize;
    let mut start = span.start as usize;
    let mut remaining = end - start + 1;
    // The edge bytes with their outside bits forced to the value not sought.
    let edge = |byte: u8, outside: u8| if bit { byte & !outside } else { byte | outside };
    let pos = 'found: {
        if span.first_outside != 0 {
            let mut byte = edge(bytes[start], span.first_outside);
            if span.last_outside != 0 && remaining == 1 {
                byte = edge(byte, span.last_outside);
            }
            let pos = first_bit(&[byte], bit);
            if remaining == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            remaining -= 1;
        }
        let whole = remaining - (span.last_outside != 0) as usize;
        if whole > 0 {
            let pos = first_bit(&bytes[start..start + whole], bit);
            if remaining == whole || (pos != -1 && pos != (whole as i64) << 3) {
                break 'found pos;
            }
            start += whole;
            remaining -= whole;
        }
        first_bit(&[edge(bytes[end], span.last_outside)], bit)
    };
    // With an explicit end the string is not zero padded past it.
    if range.end.is_some() && !bit && pos == (remaining as i64) << 3 {
        return -1;
    }
    if pos == -1 {
        -1
    } else {
        pos + ((start as i64) << 3)
    }
}

/// A BITOP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP's result: the sources combined byte by byte, shorter ones padded
/// with zero bytes, as long as the longest (empty if all are empty). NOT
/// takes one source.
pub fn combine(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let byte_at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let Some((first, rest)) = sources.split_first() else {
        return Vec::new();
    };
    (0..len)
        .map(|i| {
            let start = byte_at(first, i);
            rest.iter()
                .fold(if op == BitOp::Not { !start } else { start }, |acc, s| {
                    let byte = byte_at(s, i);
                    match op {
                        BitOp::And => acc & byte,
                        BitOp::Or => acc | byte,
                        BitOp::Xor => acc ^ byte,
                        BitOp::Not => acc,
                    }
                })
        })
        .collect()
}

/// The `bits`-wide unsigned integer at bit `offset` of `bytes` (bits past
/// the end read as 0). `bits` is 1 to 64.
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0u64, |value, j| {
        (value << 1) | get_bit(bytes, offset + j) as u64
    })
}

/// The `bits`-wide two's complement integer at bit `offset` of `bytes`.
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let value = get_unsigned(bytes, offset, bits);
    if bits < 64 && value & (1u64 << (bits - 1)) != 0 {
        (value | (u64::MAX << bits)) as i64
    } else {
        value as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset` of `buf`, which
/// must already hold them (see [`grow_to_bit`]).
pub fn set_unsigned(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let on = value & (1u64 << (bits as u64 - 1 - j)) != 0;
        let (byte, mask) = locate(offset + j);
        if on {
            buf[byte] |= mask;
        } else {
            buf[byte] &= !mask;
        }
    }
}

/// BITFIELD's OVERFLOW behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// The value BITFIELD stores for `value + incr` in an unsigned integer of
/// `bits` (1 to 63) bits: `Some` of it (wrapped or saturated on overflow),
/// or `None` when it overflows under [`Overflow::Fail`]. Redis's
/// `checkUnsignedBitfieldOverflow`.
pub fn unsigned_result(value: u64, incr: i64, bits: u32, overflow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrapped = || value.wrapping_add(incr as u64) & !u64::MAX.checked_shl(bits).unwrap_or(0);
    let limit = if value > max || (incr > 0 && incr > max_incr) {
        max
    } else if incr < 0 && incr < min_incr {
        0
    } else {
        return Some(value.wrapping_add(incr as u64));
    };
    match overflow {
        Overflow::Wrap => Some(wrapped()),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    }
}

/// The signed counterpart of [`unsigned_result`] (`bits` 1 to 64), Redis's
/// `checkSignedBitfieldOverflow`: wrapping goes round to the most negative
/// value.
pub fn signed_result(value: i64, incr: i64, bits: u32, overflow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    let limit = if value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr)
    {
        max
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        min
    } else {
        return Some(value.wrapping_add(incr));
    };
    match overflow {
        Overflow::Wrap => Some(wrapped()),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setbit_grows_and_reports_change() {
        let mut buf = Vec::new();
        assert_eq!(set_bit(&mut buf, 7, true), (false, true));
        assert_eq!(buf, [0x01]);
        assert_eq!(set_bit(&mut buf, 7, true), (true, false));
        assert_eq!(set_bit(&mut buf, 17, false), (false, true));
        assert_eq!(buf, [0x01, 0, 0]);
        assert!(get_bit(&buf, 7));
        assert!(!get_bit(&buf, 1000));
    }

    #[test]
    fn counts_whole_and_ranges() {
        let foobar = b"foobar";
        assert_eq!(count(foobar, None), 26);
        assert_eq!(count(foobar, Some((0, 0, Unit::Byte))), 4);
        assert_eq!(count(foobar, Some((1, 1, Unit::Byte))), 6);
        assert_eq!(count(foobar, Some((5, 30, Unit::Bit))), 17);
        assert_eq!(count(foobar, Some((-1, -2, Unit::Byte))), 0);
        assert_eq!(count(b"", Some((0, -1, Unit::Byte))), 0);
        assert_eq!(count(b"\xff", Some((1, 1, Unit::Bit))), 1);
        assert_eq!(count(&[0xffu8; 100], None), 800);
    }

    #[test]
    fn positions() {
        assert_eq!(first_bit(b"\xff\xf0\x00", false), 12);
        assert_eq!(first_bit(b"\x00\xff\xf0", true), 8);
        assert_eq!(first_bit(b"\x00\x00", true), -1);
        assert_eq!(first_bit(b"\xff\xff", false), 16);
        let full = Some(PosRange {
            start: 0,
            end: Some(-1),
            unit: Unit::Byte,
        });
        assert_eq!(position(b"\xff\xff", false, full), -1);
        let from_two = Some(PosRange {
            start: 2,
            end: None,
            unit: Unit::Byte,
        });
        assert_eq!(position(b"\x00\xff\x00\x01", true, from_two), 31);
        let bits = Some(PosRange {
            start: 7,
            end: Some(15),
            unit: Unit::Bit,
        });
        assert_eq!(position(b"\x00\xff\xf0", true, bits), 8);
        assert_eq!(position(b"\x01\xff", true, bits), 7);
    }

    #[test]
    fn combines() {
        assert_eq!(combine(BitOp::And, &[b"\xff\x0f", b"\x0f"]), [0x0f, 0]);
        assert_eq!(combine(BitOp::Or, &[b"\xf0", b"\x0f\x01"]), [0xff, 1]);
        assert_eq!(combine(BitOp::Xor, &[b"\xff", b"\x0f"]), [0xf0]);
        assert_eq!(combine(BitOp::Not, &[b"\x0f"]), [0xf0]);
        assert!(combine(BitOp::Or, &[b"", b""]).is_empty());
    }

    #[test]
    fn bitfields() {
        let mut buf = vec![0u8; 2];
        set_unsigned(&mut buf, 7, 5, 23);
        assert_eq!(buf, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&buf, 7, 5), 23);
        assert_eq!(get_signed(&buf, 7, 5), -9);
        assert_eq!(get_unsigned(&buf, 15, 64), 0);
        set_unsigned(&mut buf, 0, 16, u64::MAX);
        assert_eq!(get_signed(&buf, 0, 64), -(1 << 48));
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(unsigned_result(255, 1, 8, Overflow::Wrap), Some(0));
        assert_eq!(unsigned_result(255, 1, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_result(255, 1, 8, Overflow::Fail), None);
        assert_eq!(unsigned_result(0, -1, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_result(0, -1, 8, Overflow::Wrap), Some(255));
        assert_eq!(
            unsigned_result(-1i64 as u64, 0, 8, Overflow::Sat),
            Some(255)
        );
        assert_eq!(signed_result(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_result(-128, -1, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_result(100, 0, 8, Overflow::Fail), Some(100));
        assert_eq!(signed_result(200, 0, 8, Overflow::Wrap), Some(-56));
        assert_eq!(
            signed_result(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(
            signed_result(i64::MAX, 1, 64, Overflow::Sat),
            Some(i64::MAX)
        );
        assert_eq!(signed_result(i64::MIN, -1, 64, Overflow::Fail), None);
    }
}
