//! The sparse encoding: run-length opcodes after the header, Redis's
//! `ZERO` (`00xxxxxx`, 1 to 64 zero registers), `XZERO` (`01xxxxxx
//! yyyyyyyy`, 1 to 16384 zero registers) and `VAL` (`1vvvvvxx`, 1 to 4
//! registers of value 1 to 32). Every function here follows the C code of
//! `hyperloglog.c` step by step, including how it treats corrupted input, so
//! the bytes written (and the errors found) are the same as Redis's.

use super::{dense, Corrupted, DENSE, HDR_SIZE, REGISTERS};

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
/// Largest value a VAL opcode holds; a higher count makes the HLL dense.
pub const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
pub const XZERO_MAX_LEN: usize = 16384;

/// One decoded opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Zero(usize),
    XZero(usize),
    /// (value, run length)
    Val(u8, usize),
}

impl Op {
    /// Bytes the opcode takes.
    fn size(self) -> usize {
        match self {
            Op::XZero(_) => 2,
            _ => 1,
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(len) | Op::XZero(len) | Op::Val(_, len) => len,
        }
    }
}

/// The byte at `i`, 0 past the end (Redis reads the terminating NUL there).
fn byte_at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

fn is_zero(byte: u8) -> bool {
    byte & 0xc0 == 0
}

fn is_xzero(byte: u8) -> bool {
    byte & 0xc0 == XZERO_BIT
}

fn is_val(byte: u8) -> bool {
    byte & VAL_BIT != 0
}

fn val_value(byte: u8) -> u8 {
    ((byte >> 2) & 0x1f) + 1
}

fn val_len(byte: u8) -> usize {
    (byte & 0x3) as usize + 1
}

/// The opcode at `p` of `s`.
pub fn op_at(s: &[u8], p: usize) -> Op {
    let byte = s[p];
    if is_zero(byte) {
        Op::Zero((byte & 0x3f) as usize + 1)
    } else if is_xzero(byte) {
        Op::XZero(((((byte & 0x3f) as usize) << 8) | byte_at(s, p + 1) as usize) + 1)
    } else {
        Op::Val(val_value(byte), val_len(byte))
    }
}

fn val_op(value: u8, len: usize) -> u8 {
    ((value - 1) << 2 | (len as u8 - 1)) | VAL_BIT
}

fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        seq.push((l >> 8) as u8 | XZERO_BIT);
        seq.push((l & 0xff) as u8);
    } else {
        seq.push(len as u8 - 1);
    }
}

/// The opcodes of an empty HLL (`createHLLObject`): XZERO runs covering
/// every register.
pub fn empty_registers() -> Vec<u8> {
    let mut ops = Vec::new();
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        push_zeros(&mut ops, run);
        left -= run;
    }
    ops
}

/// Walks the opcodes of `s` (a whole HLL string) from the header on.
pub fn ops(s: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut p = HDR_SIZE;
    std::iter::from_fn(move || {
        if p >= s.len() {
            return None;
        }
        let op = op_at(s, p);
        p += op.size();
        Some(op)
    })
}

/// Calls `f(index, value)` for every register a VAL opcode sets, stopping
/// at an opcode that would pass the last register; Err unless the opcodes
/// cover exactly all registers (`hllSparseToDense`, `hllMerge`).
pub fn for_each_set(s: &[u8], mut f: impl FnMut(usize, u8)) -> Result<(), Corrupted> {
    let mut index = 0usize;
    for op in ops(s) {
        match op {
            Op::Zero(len) | Op::XZero(len) => index += len,
            Op::Val(value, len) => {
                if len + index > REGISTERS {
                    break;
                }
                for i in index..index + len {
                    f(i, value);
                }
                index += len;
            }
        }
    }
    if index == REGISTERS {
        Ok(())
    } else {
        Err(Corrupted)
    }
}

/// `hllSparseToDense`: the dense form of sparse HLL `s`, header copied.
pub fn to_dense(s: &[u8]) -> Result<Vec<u8>, Corrupted> {
    let mut out = vec![0u8; HDR_SIZE + dense::DENSE_BYTES];
    out[..HDR_SIZE].copy_from_slice(&s[..HDR_SIZE]);
    out[4] = DENSE;
    let registers = &mut out[HDR_SIZE..];
    for_each_set(s, |i, value| dense::set(registers, i, value))?;
    Ok(out)
}

/// Adds the histogram of register values (`hllSparseRegHisto`); Err if the
/// opcodes do not cover exactly all registers.
pub fn histogram(s: &[u8], histogram: &mut [u32; 64]) -> Result<(), Corrupted> {
    let mut index = 0usize;
    for op in ops(s) {
        let value = match op {
            Op::Val(value, _) => value as usize,
            _ => 0,
        };
        index += op.span();
        histogram[value] = histogram[value].wrapping_add(op.span() as u32);
    }
    if index == REGISTERS {
        Ok(())
    } else {
        Err(Corrupted)
    }
}

/// What [`set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    Unchanged,
    Updated,
    /// The HLL must become dense first: the count does not fit a VAL
    /// opcode, or the update would grow it past `hll-sparse-max-bytes`.
    Promote,
}

/// `hllSparseSet` up to its promotion: raises register `index` to `count`
/// in place, splitting and merging opcodes as Redis does.
pub fn set(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<SetOutcome, Corrupted> {
    if count > VAL_MAX_VALUE {
        return Ok(SetOutcome::Promote);
    }
    // Step 1: the opcode covering `index`.
    let end = s.len();
    let mut p = HDR_SIZE;
    let mut first = 0usize;
    let mut prev = None;
    let mut span = 0usize;
    while p < end {
        let op = op_at(s, p);
        span = op.span();
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += op.size();
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupted);
    }
    let op = op_at(s, p);
    // Step 2: the trivial updates in place.
    match op {
        Op::Val(old, _) if old >= count => return Ok(SetOutcome::Unchanged),
        Op::Val(_, 1) | Op::Zero(1) => s[p] = val_op(count, 1),
        _ => {
            // The general case: split the opcode around `index`.
            let last = first + span - 1;
            let mut seq = Vec::with_capacity(5);
            match op {
                Op::Val(current, _) => {
                    if index != first {
                        seq.push(val_op(current, index - first));
                    }
                    seq.push(val_op(count, 1));
                    if index != last {
                        seq.push(val_op(current, last - index));
                    }
                }
                _ => {
                    if index != first {
                        push_zeros(&mut seq, index - first);
                    }
                    seq.push(val_op(count, 1));
                    if index != last {
                        push_zeros(&mut seq, last - index);
                    }
                }
            }
            // Step 3: substitute the sequence for the opcode.
            let old_len = op.size();
            if seq.len() > old_len && end + seq.len() - old_len > max_bytes {
                return Ok(SetOutcome::Promote);
            }
            let new_len = end + seq.len() - old_len;
            // An XZERO cut short by the end of the string counts its missing
            // byte, as Redis's length arithmetic does.
            s.splice(p..(p + old_len).min(end), seq);
            s.truncate(new_len);
        }
    }
    merge_adjacent(s, prev.unwrap_or(HDR_SIZE));
    super::invalidate_cache(s);
    Ok(SetOutcome::Updated)
}

/// Step 4 of `hllSparseSet`: merges adjacent VAL opcodes of equal value,
/// scanning up to 5 opcodes from `p`.
fn merge_adjacent(s: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let byte = s[p];
        if is_xzero(byte) {
            p += 2;
            continue;
        }
        if is_zero(byte) {
            p += 1;
            continue;
        }
        if let Some(&next) = s.get(p + 1) {
            if is_val(next) && val_value(byte) == val_value(next) {
                let len = val_len(byte) + val_len(next);
                if len <= VAL_MAX_LEN {
                    s[p + 1] = val_op(val_value(byte), len);
                    s.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
}

/// `PFDEBUG DECODE`: the opcodes as `z:<len>`, `Z:<len>`, `v:<value>,<len>`.
pub fn describe(s: &[u8]) -> String {
    let parts: Vec<String> = ops(s)
        .map(|op| match op {
            Op::Zero(len) => format!("z:{len}"),
            Op::XZero(len) => format!("Z:{len}"),
            Op::Val(value, len) => format!("v:{value},{len}"),
        })
        .collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hll(ops: &[u8]) -> Vec<u8> {
        let mut s = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        s.extend_from_slice(ops);
        s
    }

    #[test]
    fn empty_is_one_xzero() {
        assert_eq!(empty_registers(), vec![0x7f, 0xff]);
        assert_eq!(describe(&hll(&empty_registers())), "Z:16384");
    }

    #[test]
    fn set_splits_xzero_then_merges_neighbours() {
        let mut s = hll(&empty_registers());
        assert_eq!(set(&mut s, 100, 3, 3000), Ok(SetOutcome::Updated));
        assert_eq!(describe(&s), "Z:100 v:3,1 Z:16283");
        assert_eq!(s[15] & 0x80, 0x80, "cache invalidated");
        assert_eq!(set(&mut s, 101, 3, 3000), Ok(SetOutcome::Updated));
        assert_eq!(describe(&s), "Z:100 v:3,2 Z:16282");
        assert_eq!(set(&mut s, 100, 2, 3000), Ok(SetOutcome::Unchanged));
        assert_eq!(set(&mut s, 5, 1, 3000), Ok(SetOutcome::Updated));
        assert_eq!(describe(&s), "z:5 v:1,1 Z:94 v:3,2 Z:16282");
    }

    #[test]
    fn promotion_when_too_big_or_too_high() {
        let mut s = hll(&empty_registers());
        assert_eq!(set(&mut s, 0, 33, 3000), Ok(SetOutcome::Promote));
        assert_eq!(set(&mut s, 10, 1, 18), Ok(SetOutcome::Promote));
    }

    #[test]
    fn coverage_is_checked() {
        let short = hll(&[0x7f, 0xfe]); // 16383 registers
        assert_eq!(histogram(&short, &mut [0; 64]), Err(Corrupted));
        assert!(to_dense(&short).is_err());
        let mut short = short;
        assert_eq!(set(&mut short, 16383, 1, 3000), Err(Corrupted));
    }
}
