//! The collection structures on their own: the sorted set's two forms (the
//! compact packed one and the member index over an order-statistics treap),
//! and the compact forms of hashes, sets and lists against their full forms.
//! Each benchmark builds a collection the way commands do, through the
//! storage crate's public API, so encoding conversions happen as in the server.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrite_storage::{EncodingLimits, HashValue, ListEnd, ListValue, SetValue, ZSetValue};

fn member(i: usize) -> Vec<u8> {
    format!("member:{i:08}").into_bytes()
}

/// Scores spread over the set without being in insertion order.
fn score(i: usize) -> f64 {
    ((i * 7919) % 1_000_003) as f64
}

fn zset_of(n: usize, limits: &EncodingLimits) -> ZSetValue {
    let mut z = ZSetValue::for_new(limits, n, 15);
    for i in 0..n {
        z.insert(&member(i), score(i), limits);
    }
    z
}

fn sorted_sets(c: &mut Criterion) {
    let limits = EncodingLimits::default();
    let mut group = c.benchmark_group("zset");
    for n in [100usize, 100_000] {
        let z = zset_of(n, &limits);
        group.bench_with_input(
            BenchmarkId::new(format!("insert_{}", z.encoding_name()), n),
            &n,
            |b, &n| {
                let mut z = z.clone();
                let mut i = n;
                b.iter(|| {
                    z.insert(&member(i % (2 * n)), score(i), &limits);
                    i += 1;
                })
            },
        );
        // redis-benchmark's ZADD: a new score for a member already there.
        group.bench_with_input(
            BenchmarkId::new(format!("update_score_{}", z.encoding_name()), n),
            &n,
            |b, &n| {
                let mut z = z.clone();
                let mut i = 0;
                b.iter(|| {
                    i += 1;
                    z.insert(&member((i * 31) % n), score(i * 13), &limits);
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("rank_{}", z.encoding_name()), n),
            &n,
            |b, &n| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 7) % n;
                    black_box(z.rank(&member(i)))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("range10_{}", z.encoding_name()), n),
            &n,
            |b, &n| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 13) % n;
                    black_box(z.iter_from(i, false).take(10).count())
                })
            },
        );
    }
    group.finish();
}

fn compact_forms(c: &mut Criterion) {
    let compact = EncodingLimits::default();
    let full = EncodingLimits {
        hash_max_listpack_entries: 0,
        set_max_intset_entries: 0,
        list_max_listpack_size: 0,
        ..EncodingLimits::default()
    };
    let mut group = c.benchmark_group("compact");
    for (name, limits) in [("compact", &compact), ("full", &full)] {
        group.bench_function(BenchmarkId::new("hash_10_fields_hset_hget", name), |b| {
            b.iter(|| {
                let mut h = HashValue::new();
                for i in 0..10 {
                    h.set(format!("f{i}").as_bytes(), b"value-of-16bytes", limits);
                }
                black_box(h.get(b"f7").is_some())
            })
        });
        group.bench_function(BenchmarkId::new("set_10_ints_sadd_sismember", name), |b| {
            b.iter(|| {
                let mut s = SetValue::new();
                for i in 0..10 {
                    s.add(format!("{}", 1_000_000 + i).as_bytes(), limits);
                }
                black_box(s.contains(b"1000007"))
            })
        });
        group.bench_function(BenchmarkId::new("list_20_rpush_lpop", name), |b| {
            b.iter(|| {
                let mut l = ListValue::new();
                for _ in 0..20 {
                    l.push(ListEnd::Right, b"element-16-bytes", limits);
                }
                while l.pop(ListEnd::Left, limits).is_some() {}
                black_box(l.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sorted_sets, compact_forms);
criterion_main!(benches);
