//! The dense encoding: 16384 registers of 6 bits packed from the least
//! significant bit of each byte up (Redis's `HLL_DENSE_GET_REGISTER` /
//! `HLL_DENSE_SET_REGISTER`), 12288 bytes after the header.

use super::{BITS, REGISTERS, REGISTER_MAX};

/// Bytes of the dense registers.
pub const DENSE_BYTES: usize = (REGISTERS * BITS).div_ceil(8);

/// Register `index` of dense `registers`. Redis reads the byte after the
/// last register from the string's terminating NUL; here it reads as 0.
pub fn get(registers: &[u8], index: usize) -> u8 {
    let byte = index * BITS / 8;
    let fb = (index * BITS) & 7;
    let b0 = registers[byte] as u32;
    let b1 = registers.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

/// Sets register `index` of dense `registers` to `value` (at most 63).
pub fn set(registers: &mut [u8], index: usize, value: u8) {
    let byte = index * BITS / 8;
    let fb = (index * BITS) & 7;
    let max = REGISTER_MAX as u32;
    let value = value as u32;
    registers[byte] &= !(max << fb) as u8;
    registers[byte] |= (value << fb) as u8;
    if let Some(next) = registers.get_mut(byte + 1) {
        *next &= !(max >> (8 - fb)) as u8;
        *next |= (value >> (8 - fb)) as u8;
    }
}

/// Raises register `index` to `count` if it is lower (`hllDenseSet`); true
/// if it changed.
pub fn raise(registers: &mut [u8], index: usize, count: u8) -> bool {
    if count > get(registers, index) {
        set(registers, index, count);
        true
    } else {
        false
    }
}

/// Adds the histogram of register values to `histogram`
/// (`hllDenseRegHisto`): every 3 bytes hold 4 registers.
pub fn histogram(registers: &[u8], histogram: &mut [u32; 64]) {
    for chunk in registers.chunks_exact(3) {
        let (b0, b1, b2) = (chunk[0], chunk[1], chunk[2]);
        histogram[(b0 & 63) as usize] += 1;
        histogram[((b0 >> 6 | b1 << 2) & 63) as usize] += 1;
        histogram[((b1 >> 4 | b2 << 4) & 63) as usize] += 1;
        histogram[(b2 >> 2) as usize] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_do_not_disturb_neighbours() {
        let mut registers = vec![0u8; DENSE_BYTES];
        for i in 0..REGISTERS {
            set(&mut registers, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(get(&registers, i), (i % 64) as u8, "register {i}");
        }
        set(&mut registers, 1, 0);
        assert_eq!(get(&registers, 0), 0);
        assert_eq!(get(&registers, 1), 0);
        assert_eq!(get(&registers, 2), 2);
    }

    #[test]
    fn layout_is_redis_bit_order() {
        // Register 1 is the top 2 bits of byte 0 and the low 4 of byte 1.
        let mut registers = vec![0u8; DENSE_BYTES];
        set(&mut registers, 1, 0b111111);
        assert_eq!(&registers[..2], &[0b1100_0000, 0b0000_1111]);
        set(&mut registers, REGISTERS - 1, 63);
        assert_eq!(registers[DENSE_BYTES - 1], 0b1111_1100);
    }

    #[test]
    fn histogram_counts_every_register() {
        let mut registers = vec![0u8; DENSE_BYTES];
        set(&mut registers, 5, 7);
        set(&mut registers, REGISTERS - 1, 63);
        let mut histo = [0u32; 64];
        histogram(&registers, &mut histo);
        assert_eq!(histo[0], REGISTERS as u32 - 2);
        assert_eq!(histo[7], 1);
        assert_eq!(histo[63], 1);
    }
}
