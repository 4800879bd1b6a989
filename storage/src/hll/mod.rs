//! HyperLogLog values exactly as Redis 7.0's `hyperloglog.c` stores them: a
//! string of a 16-byte header (`HYLL`, encoding byte, 3 reserved bytes, the
//! cached cardinality as 8 little-endian bytes whose top bit marks it
//! invalid) followed by 16384 registers, sparse (run-length opcodes) or
//! dense (6 bits each). Because the value is a plain Redis string in Redis's
//! format, HLLs move between Ferrite and Redis through RDB files, DUMP and
//! replication, and both compute the same counts from the same registers.
//!
//! Functions taking `&mut Vec<u8>` or `&[u8]` HLL bytes expect a value that
//! passed [`check`], Redis's `isHLLObjectOrReply`.

mod dense;
mod estimate;
mod murmur;
mod selftest;
mod sparse;

pub use murmur::murmur_hash64a;
pub use selftest::self_test;

/// Bits of the hash that index a register.
const P: u32 = 14;
/// Bits of the hash whose leading-zero run is counted.
const Q: usize = 64 - P as usize;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
const HDR_SIZE: usize = 16;
/// Length of a dense HLL string.
pub const DENSE_SIZE: usize = HDR_SIZE + dense::DENSE_BYTES;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
/// Offset of the cached cardinality's byte that holds the invalid bit.
const CARD_MSB: usize = 15;

/// `hll-sparse-max-bytes`'s default.
pub const DEFAULT_SPARSE_MAX_BYTES: usize = 3000;

/// The two encodings a valid HLL has (PFDEBUG ENCODING names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// Why a string is not a usable HLL, with Redis's reply for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HllError {
    /// Not an HLL string at all (too short, bad magic or encoding, a dense
    /// HLL of the wrong length).
    NotHll,
    /// Looks like an HLL but its registers cannot be decoded.
    Corrupted,
}

impl HllError {
    /// The error reply Redis sends.
    pub fn message(self) -> &'static str {
        match self {
            HllError::NotHll => "WRONGTYPE Key is not a valid HyperLogLog string value.",
            HllError::Corrupted => "INVALIDOBJ Corrupted HLL object detected",
        }
    }
}

/// Sparse opcodes that do not decode to exactly all registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Corrupted;

impl From<Corrupted> for HllError {
    fn from(_: Corrupted) -> HllError {
        HllError::Corrupted
    }
}

/// Redis's `isHLLObjectOrReply`: the encoding of `bytes` if they are an HLL.
pub fn check(bytes: &[u8]) -> Result<Encoding, HllError> {
    if bytes.len() < HDR_SIZE || &bytes[..4] != b"HYLL" {
        return Err(HllError::NotHll);
    }
    match bytes[4] {
        DENSE if bytes.len() == DENSE_SIZE => Ok(Encoding::Dense),
        SPARSE => Ok(Encoding::Sparse),
        _ => Err(HllError::NotHll),
    }
}

fn encoding(hll: &[u8]) -> Encoding {
    if hll[4] == DENSE {
        Encoding::Dense
    } else {
        Encoding::Sparse
    }
}

/// A new empty HLL (`createHLLObject`): sparse, cached cardinality 0.
pub fn new_empty() -> Vec<u8> {
    let mut hll = Vec::with_capacity(HDR_SIZE + 2);
    hll.extend_from_slice(b"HYLL");
    hll.push(SPARSE);
    hll.extend_from_slice(&[0; HDR_SIZE - 5]);
    hll.extend_from_slice(&sparse::empty_registers());
    hll
}

/// Marks the cached cardinality invalid (after PFADD changed a register).
pub fn invalidate_cache(hll: &mut [u8]) {
    hll[CARD_MSB] |= 0x80;
}

/// Raises register `index` to `count` (`hllSparseSet` / `hllDenseSet`),
/// turning a sparse HLL dense when Redis would; true if it changed.
fn set_register(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: usize,
) -> Result<bool, HllError> {
    if encoding(hll) == Encoding::Sparse {
        match sparse::set(hll, index, count, sparse_max_bytes)? {
            sparse::SetOutcome::Unchanged => return Ok(false),
            sparse::SetOutcome::Updated => return Ok(true),
            sparse::SetOutcome::Promote => *hll = sparse::to_dense(hll)?,
        }
    }
    Ok(dense::raise(&mut hll[HDR_SIZE..], index, count))
}

/// PFADD of one element (`hllAdd`); true if a register changed. The caller
/// invalidates the cached cardinality once it added every element.
pub fn add(hll: &mut Vec<u8>, element: &[u8], sparse_max_bytes: usize) -> Result<bool, HllError> {
    let (index, count) = murmur::pattern(element);
    set_register(hll, index, count, sparse_max_bytes)
}

/// The register histogram of `hll`; Err for sparse opcodes that do not
/// cover exactly all registers.
fn histogram(hll: &[u8]) -> Result<[u32; 64], HllError> {
    let mut histo = [0u32; 64];
    match encoding(hll) {
        Encoding::Dense => dense::histogram(&hll[HDR_SIZE..], &mut histo),
        Encoding::Sparse => sparse::histogram(hll, &mut histo)?,
    }
    Ok(histo)
}

/// The estimated cardinality of `hll`, computed from its registers.
pub fn count(hll: &[u8]) -> Result<u64, HllError> {
    Ok(estimate::cardinality(&histogram(hll)?))
}

/// PFCOUNT of one key: the cached cardinality if valid, else the estimate,
/// which is then cached. Returns it and whether the value was rewritten.
pub fn cached_count(hll: &mut [u8]) -> Result<(u64, bool), HllError> {
    let mut card = [0u8; 8];
    card.copy_from_slice(&hll[8..HDR_SIZE]);
    if card[7] & 0x80 == 0 {
        return Ok((u64::from_le_bytes(card), false));
    }
    let estimate = count(hll)?;
    hll[8..HDR_SIZE].copy_from_slice(&estimate.to_le_bytes());
    Ok((estimate, true))
}

/// PFDEBUG TODENSE (`hllSparseToDense`): true if it was sparse.
pub fn to_dense(hll: &mut Vec<u8>) -> Result<bool, HllError> {
    if encoding(hll) == Encoding::Dense {
        return Ok(false);
    }
    *hll = sparse::to_dense(hll)?;
    Ok(true)
}

/// The register values of a dense `hll` (PFDEBUG GETREG after TODENSE).
pub fn dense_registers(hll: &[u8]) -> impl Iterator<Item = u8> + '_ {
    (0..REGISTERS).map(move |i| dense::get(&hll[HDR_SIZE..], i))
}

/// PFDEBUG DECODE: the sparse opcodes spelled out, `None` for a dense HLL.
pub fn describe_sparse(hll: &[u8]) -> Option<String> {
    (encoding(hll) == Encoding::Sparse).then(|| sparse::describe(hll))
}

/// The register-wise maximum of several HLLs, for PFCOUNT of several keys
/// and PFMERGE (Redis's `max` array).
#[derive(Clone)]
pub struct Union {
    registers: Box<[u8; REGISTERS]>,
    any_dense: bool,
}

impl Default for Union {
    fn default() -> Self {
        Union {
            registers: Box::new([0; REGISTERS]),
            any_dense: false,
        }
    }
}

impl Union {
    /// Merges `bytes` in (`hllMerge`), checking them as [`check`] does.
    pub fn merge(&mut self, bytes: &[u8]) -> Result<(), HllError> {
        let max = &mut self.registers;
        match check(bytes)? {
            Encoding::Dense => {
                self.any_dense = true;
                for (i, max) in max.iter_mut().enumerate() {
                    *max = (*max).max(dense::get(&bytes[HDR_SIZE..], i));
                }
            }
            Encoding::Sparse => sparse::for_each_set(bytes, |i, value| {
                max[i] = max[i].max(value);
            })?,
        }
        Ok(())
    }

    /// The estimated cardinality of the union.
    pub fn count(&self) -> u64 {
        let mut histo = [0u32; 64];
        for &value in self.registers.iter() {
            histo[value as usize] += 1;
        }
        estimate::cardinality(&histo)
    }

    /// Writes the union into `dest` (an HLL, already merged in if it
    /// existed), dense if any merged HLL was, and invalidates its cache:
    /// PFMERGE's write.
    pub fn store(&self, dest: &mut Vec<u8>, sparse_max_bytes: usize) -> Result<(), HllError> {
        if self.any_dense {
            to_dense(dest)?;
        }
        for (index, &value) in self.registers.iter().enumerate() {
            if value != 0 {
                set_register(dest, index, value, sparse_max_bytes)?;
            }
        }
        invalidate_cache(dest);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
