//! One active expire cycle (`Keyspace::active_expire_cycle`, run `hz` times a
//! second by the server) over 16 databases, 100 000 keys in the first: with no key that
//! expires anywhere (the usual case under redis-benchmark, where the cycle
//! should cost nothing), and with 1000 keys with a distant TTL in one database.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ferrite_storage::{Entry, Keyspace, StringValue, Value};

fn keyspace(with_ttl: usize) -> Keyspace {
    let ks = Keyspace::new(16);
    let read = ks.read();
    for i in 0..100_000 {
        let name = format!("key:{i}");
        let key = read.key(name.as_bytes());
        let expire = (i < with_ttl).then_some(u64::MAX);
        let value = Value::String(StringValue::from_bytes(b"v"));
        read.lock(0, &key)
            .insert(&key, Entry::with_expiry(value, expire));
    }
    drop(read);
    ks
}

fn expire_cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("active_expire_cycle");
    for (name, with_ttl) in [("no_ttl", 0), ("1000_ttl_in_db0", 1000)] {
        let ks = keyspace(with_ttl);
        group.bench_function(name, |b| {
            b.iter(|| ks.active_expire_cycle(Duration::from_secs(1)))
        });
    }
    group.finish();
}

criterion_group!(benches, expire_cycle);
criterion_main!(benches);
