//! The bitmap math on its own (`ferrite_storage::bits`): BITCOUNT over a
//! whole 1 MiB string and over a BIT range of it, and SETBIT at scattered
//! offsets of a string that already holds them (no growth).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrite_storage::bits::{self, Unit};

const LEN: usize = 1 << 20;

/// A string of pseudo-random bytes (a 64-bit LCG).
fn bitmap() -> Vec<u8> {
    let mut state = 7u64;
    (0..LEN)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

fn bitcount(c: &mut Criterion) {
    let value = bitmap();
    let mut group = c.benchmark_group("bitcount");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.bench_function("whole", |b| b.iter(|| bits::count(black_box(&value), None)));
    let range = Some((3, (LEN as i64) * 8 - 5, Unit::Bit));
    group.bench_function("bit_range", |b| {
        b.iter(|| bits::count(black_box(&value), range))
    });
    group.finish();
}

fn setbit(c: &mut Criterion) {
    let mut value = bitmap();
    let bit_len = (LEN as u64) * 8;
    let mut offset = 0u64;
    c.bench_function("setbit", |b| {
        b.iter(|| {
            offset = (offset + 7_919) % bit_len;
            bits::set_bit(&mut value, black_box(offset), offset & 1 == 0)
        })
    });
}

criterion_group!(benches, bitcount, setbit);
criterion_main!(benches);
