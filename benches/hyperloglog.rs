//! The HyperLogLog code on its own (`ferrite_storage::hll`): PFADD of new
//! elements into a sparse and a dense HLL, PFCOUNT's estimate of each (the
//! work of a PFCOUNT whose cache is invalid), and the union PFCOUNT of
//! several keys and PFMERGE compute.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrite_storage::hll;

fn element(i: u64) -> [u8; 8] {
    i.to_le_bytes()
}

fn hll_of(n: u64) -> Vec<u8> {
    let mut value = hll::new_empty();
    for i in 0..n {
        hll::add(&mut value, &element(i), hll::DEFAULT_SPARSE_MAX_BYTES).expect("valid HLL");
    }
    value
}

fn pfadd(c: &mut Criterion) {
    let mut group = c.benchmark_group("pfadd");
    for (name, start) in [("sparse", 100u64), ("dense", 100_000)] {
        let base = hll_of(start);
        assert_eq!(hll::check(&base).ok().map(|e| e.name()), Some(name));
        group.bench_function(name, |b| {
            let mut value = base.clone();
            let mut i = 1u64 << 40;
            b.iter(|| {
                // Keep a sparse HLL sparse: start again before it fills up.
                if name == "sparse" && i.is_multiple_of(64) {
                    value = base.clone();
                }
                i += 1;
                hll::add(&mut value, &element(i), hll::DEFAULT_SPARSE_MAX_BYTES)
            })
        });
    }
    group.finish();
}

fn pfcount(c: &mut Criterion) {
    let mut group = c.benchmark_group("pfcount");
    for (name, n) in [("sparse", 1000u64), ("dense", 100_000)] {
        let value = hll_of(n);
        group.bench_function(name, |b| b.iter(|| hll::count(black_box(&value))));
    }
    let sources: Vec<Vec<u8>> = [1000u64, 10_000, 100_000].map(hll_of).into();
    group.bench_function("union_of_3", |b| {
        b.iter(|| {
            let mut union = hll::Union::default();
            for source in &sources {
                union.merge(source).expect("valid HLL");
            }
            union.count()
        })
    });
    group.finish();
}

criterion_group!(benches, pfadd, pfcount);
criterion_main!(benches);
