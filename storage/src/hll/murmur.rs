//! Redis's element hash: MurmurHash2, 64-bit version (`MurmurHash64A`),
//! endian-neutral as Redis modified it, and the register/run-length pair an
//! element maps to (`hllPatLen`). Both must match Redis bit for bit, or the
//! same elements would set different registers here and there.

use super::{P, Q, REGISTERS};

/// The seed Redis's `hllPatLen` hashes elements with.
const SEED: u64 = 0xadc8_3b19;

/// `MurmurHash64A(key, len, seed)`.
pub fn murmur_hash64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let mut k = u64::from_le_bytes(bytes);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate().rev() {
            h ^= (byte as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `element` updates and the length of the `000..1` pattern
/// of its hash (1 to Q+1), Redis's `hllPatLen`.
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur_hash64a(element, SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    // The top bit set makes the count end at Q+1 at most.
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_redis() {
        // Computed by Redis 7.0.15's MurmurHash64A compiled from its source.
        let cases: [(&[u8], u64); 5] = [
            (b"", 0xd8df_ea65_85bc_9732),
            (b"a", 0x53d2_470a_9b43_b1a7),
            (b"abcdefgh", 0xf3a6_5df5_5991_4567),
            (b"hello world", 0xa919_bc30_51f6_24b7),
            (b"12345678901234567", 0xc535_f864_a860_2e5e),
        ];
        for (key, hash) in cases {
            assert_eq!(murmur_hash64a(key, SEED), hash, "{key:?}");
        }
    }

    #[test]
    fn pattern_takes_index_from_low_bits() {
        let (index, count) = pattern(b"a");
        assert_eq!(index, (0x53d2_470a_9b43_b1a7_u64 & 16383) as usize);
        let rest = 0x53d2_470a_9b43_b1a7_u64 >> 14;
        assert_eq!(count as u32, rest.trailing_zeros() + 1);
    }
}
