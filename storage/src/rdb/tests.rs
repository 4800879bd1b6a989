//! RDB files: round trips through Ferrite's writer, Redis's own test assets
//! (RDB versions 2 to 10, every compact encoding), and corrupt or truncated
//! input, which must be refused with an offset and never half-loaded.

use crate::encoding::EncodingLimits;
use crate::hash::HashValue;
use crate::keyspace::Keyspace;
use crate::list::ListValue;
use crate::set::SetValue;
use crate::shard::Entry;
use crate::stream::{StreamId, StreamValue, Trim};
use crate::value::{StringValue, Value};
use crate::zset::ZSetValue;

fn put(ks: &Keyspace, db: usize, key: &[u8], value: Value, expire: Option<u64>) {
    let read = ks.read();
    let k = read.key(key);
    read.lock(db, &k)
        .insert(&k, Entry::with_expiry(value, expire));
}

fn get(ks: &Keyspace, db: usize, key: &[u8]) -> Option<Entry> {
    let read = ks.read();
    let k = read.key(key);
    let mut shard = read.lock(db, &k);
    shard.peek(&k).cloned()
}

fn string(s: &[u8]) -> Value {
    Value::String(StringValue::from_bytes(s))
}

/// Every type, in small and large encodings, over several databases.
fn sample_keyspace() -> Keyspace {
    let ks = Keyspace::new(16);
    let limits = EncodingLimits::default();
    put(&ks, 0, b"str", string(b"hello"), None);
    put(&ks, 0, b"int", string(b"-123456789012"), None);
    put(&ks, 0, b"big", string(&[b'x'; 100_000]), None);
    put(&ks, 0, b"", string(b"empty key name"), None);
    let future = crate::now_ms() + 3_600_000;
    put(&ks, 0, b"volatile", string(b"v"), Some(future));
    put(&ks, 0, b"gone", string(b"v"), Some(1));
    let small_list = ListValue::from_items([&b"a"[..], b"1", b""], &limits);
    let big_list = ListValue::from_items((0..1000).map(|i| format!("item:{i}")), &limits);
    put(&ks, 1, b"list", Value::List(Box::new(small_list)), None);
    put(&ks, 1, b"biglist", Value::List(Box::new(big_list)), None);
    let (mut intset, mut set) = (SetValue::new(), SetValue::new());
    for i in 0..600 {
        set.add(format!("m{i}").as_bytes(), &limits);
        intset.add(i.to_string().as_bytes(), &limits);
    }
    put(&ks, 2, b"set", Value::Set(set), None);
    put(&ks, 2, b"intset", Value::Set(intset), None);
    let (mut small_hash, mut big_hash) = (HashValue::new(), HashValue::new());
    small_hash.set(b"f", b"v", &limits);
    for i in 0..1000 {
        big_hash.set(format!("f{i}").as_bytes(), &[b'v'; 10], &limits);
    }
    put(&ks, 3, b"hash", Value::Hash(small_hash), None);
    put(&ks, 3, b"bighash", Value::Hash(big_hash), Some(future));
    let (mut small_zset, mut big_zset) = (ZSetValue::default(), ZSetValue::default());
    small_zset.insert(b"a", 1.5, &limits);
    small_zset.insert(b"b", f64::NEG_INFINITY, &limits);
    for i in 0..500 {
        big_zset.insert(format!("m{i}").as_bytes(), i as f64 / 3.0, &limits);
    }
    put(&ks, 15, b"zset", Value::ZSet(small_zset), None);
    put(&ks, 15, b"bigzset", Value::ZSet(big_zset), None);
    put(
        &ks,
        4,
        b"stream",
        Value::Stream(Box::new(sample_stream(3))),
        None,
    );
    put(
        &ks,
        4,
        b"bigstream",
        Value::Stream(Box::new(sample_stream(1000))),
        None,
    );
    ks
}

/// A stream of `n` entries over several nodes, some sharing the master
/// entry's fields and some not, with deleted and trimmed entries.
fn sample_stream(n: u64) -> StreamValue {
    let mut stream = StreamValue::default();
    for i in 1..=n {
        let value = i.to_string();
        let fields: [&[u8]; 4] = if i % 3 == 0 {
            [b"other", value.as_bytes(), b"x", b"-7"]
        } else {
            [b"field", value.as_bytes(), b"n", b"y"]
        };
        stream.append(StreamId::new(i, i % 2), &fields);
    }
    stream.delete(StreamId::new(2, 0));
    stream.trim(Trim::MaxLen(n - n / 4), None);
    stream
}

fn save(ks: &Keyspace) -> Vec<u8> {
    let dbs = ks.exclusive();
    let aux = [
        ("redis-ver", "7.0.15".to_string()),
        ("redis-bits", "64".into()),
    ];
    super::write(&dbs, &aux, &[LIBRARY], crate::now_ms()).to_vec()
}

const LIBRARY: &[u8] = b"#!lua name=lib\nredis.register_function('f', function() return 1 end)";

fn load(bytes: &[u8]) -> Result<Keyspace, super::RdbError> {
    let ks = Keyspace::new(16);
    let loaded = ks.load_rdb(bytes, 16, true)?;
    loaded.install(&ks.exclusive());
    Ok(ks)
}

#[test]
fn every_type_round_trips_with_expiries() {
    let original = sample_keyspace();
    let bytes = save(&original);
    assert_eq!(&bytes[..9], b"REDIS0010");
    let ks = Keyspace::new(16);
    let loaded = ks.load_rdb(&bytes, 16, true).unwrap();
    assert_eq!(loaded.keys_loaded, 15);
    assert_eq!(loaded.keys_expired, 0, "expired keys are not written");
    assert!(loaded.summary.checksum_verified);
    assert_eq!(loaded.summary.libraries, vec![LIBRARY.to_vec()]);
    assert_eq!(
        loaded.summary.aux,
        vec![
            ("redis-ver".to_string(), "7.0.15".to_string()),
            ("redis-bits".to_string(), "64".to_string())
        ]
    );
    loaded.install(&ks.exclusive());
    for (db, key) in [
        (0, &b"str"[..]),
        (0, b"int"),
        (0, b"big"),
        (0, b""),
        (0, b"volatile"),
        (1, b"list"),
        (1, b"biglist"),
        (2, b"set"),
        (2, b"intset"),
        (3, b"hash"),
        (3, b"bighash"),
        (4, b"stream"),
        (4, b"bigstream"),
        (15, b"zset"),
        (15, b"bigzset"),
    ] {
        let want = get(&original, db, key).unwrap();
        let got = get(&ks, db, key).unwrap();
        assert_eq!(
            got.value,
            want.value,
            "key {:?}",
            String::from_utf8_lossy(key)
        );
        assert_eq!(got.value.encoding_name(), want.value.encoding_name());
        assert_eq!(got.expire_at_ms(), want.expire_at_ms());
    }
    assert!(get(&ks, 0, b"gone").is_none());
    assert_eq!(ks.read().counts(0), (5, 1));
}

#[test]
fn empty_keyspace_is_the_minimal_file() {
    let bytes = super::write::<&[u8]>(&Keyspace::new(16).exclusive(), &[], &[], 0).to_vec();
    // The 18-byte empty RDB a Redis 7.0 replica accepts.
    assert_eq!(
        bytes,
        b"REDIS0010\xff\xa9\xfd\x37\xfe\x89\xa7\x7e\xeb".to_vec()
    );
}

#[test]
fn every_truncation_is_refused_without_loading_anything() {
    let ks = sample_keyspace();
    let bytes = save(&ks);
    // Every prefix, densely near the start (header, AUX, opcodes) and sampled after.
    let cuts = (0..2000).chain((2000..bytes.len()).step_by(997));
    for cut in cuts {
        let error = load(&bytes[..cut]).err().expect("truncated file refused");
        assert!(
            error.offset <= cut,
            "offset {} past cut {cut}",
            error.offset
        );
    }
}

#[test]
fn corruption_is_refused_with_its_offset() {
    let mut bytes = save(&sample_keyspace());
    let flipped = bytes.len() / 2;
    bytes[flipped] ^= 0x55;
    assert!(load(&bytes).is_err());

    let mut bad_crc = save(&sample_keyspace());
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    let error = load(&bad_crc).err().unwrap();
    assert!(error.message.starts_with("Wrong RDB checksum"), "{error}");
    assert_eq!(error.offset, bad_crc.len() - 8);
    // A checksum of zero means "not computed" and is accepted.
    let mut no_crc = save(&sample_keyspace());
    let len = no_crc.len();
    no_crc[len - 8..].fill(0);
    assert!(load(&no_crc).is_ok());

    let error = load(b"REDIS0011\xff").err().unwrap();
    assert_eq!(
        error.to_string(),
        "Can't handle RDB format version 11 (at byte offset 5)"
    );
    let error = load(b"RUBIS0010\xff").err().unwrap();
    assert_eq!(error.message, "Wrong signature trying to load DB from file");
}

#[test]
fn huge_lengths_do_not_allocate() {
    // A list claiming 2^62 elements, then nothing.
    let mut bytes = b"REDIS0010\xfe\x00\x01\x01k\x81".to_vec();
    bytes.extend_from_slice(&(1u64 << 62).to_be_bytes());
    let error = load(&bytes).err().unwrap();
    assert_eq!(
        error.to_string(),
        "Key 'k' (RDB type 1): element count larger than the data (at byte offset 11)"
    );
}

#[test]
fn refuses_what_ferrite_cannot_hold() {
    // An empty stream claiming one consumer group, cut before it.
    let stream = b"REDIS0010\xfe\x00\x13\x01s\0\0\0\0\0\0\0\0\0\x01";
    let error = load(stream).err().unwrap();
    assert!(
        error.message.starts_with("Key 's' (RDB type 19): "),
        "{}",
        error.message
    );
    let truncated_function = b"REDIS0010\xf5\x09lib\xff";
    let error = load(truncated_function).err().unwrap();
    assert_eq!(error.offset, 9);
    assert_eq!(error.message, "Failed loading library payload");
    let duplicate = b"REDIS0010\x00\x01k\x01a\x00\x01k\x01b\xff\0\0\0\0\0\0\0\0";
    let error = load(duplicate).err().unwrap();
    assert_eq!(error.message, "Duplicated key 'k' found in RDB file");
    assert_eq!(error.offset, 14);
    let far_db = b"REDIS0010\xfe\x20\x00\x01k\x01a\xff\0\0\0\0\0\0\0\0";
    assert!(load(far_db).err().unwrap().message.contains("16 databases"));
}

#[test]
fn a_failed_load_leaves_the_keyspace_as_it_was() {
    let ks = sample_keyspace();
    let mut bytes = save(&ks);
    let len = bytes.len();
    bytes[len - 1] ^= 1;
    assert!(ks.load_rdb(&bytes, 16, true).is_err());
    assert_eq!(get(&ks, 0, b"str").unwrap().value, string(b"hello"));
}

#[test]
fn loads_expired_keys_as_expired_and_honours_idle_and_freq() {
    let mut bytes = b"REDIS0010\xfe\x00".to_vec();
    bytes.push(0xfc);
    bytes.extend_from_slice(&1000i64.to_le_bytes());
    bytes.extend_from_slice(b"\x00\x03old\x01v");
    bytes.extend_from_slice(b"\xf8\x40\x64\xf9\x07\x00\x03new\x01v");
    bytes.push(0xfd);
    bytes.extend_from_slice(&(i32::MAX).to_le_bytes());
    bytes.extend_from_slice(b"\x00\x04late\x01v\xff");
    bytes.extend_from_slice(&[0; 8]);
    let ks = Keyspace::new(16);
    let loaded = ks.load_rdb(&bytes, 16, true).unwrap();
    assert_eq!((loaded.keys_loaded, loaded.keys_expired), (2, 1));
    loaded.install(&ks.exclusive());
    let read = ks.read();
    let k = read.key(b"new");
    let mut shard = read.lock(0, &k);
    let entry = shard.peek(&k).unwrap().clone();
    // The seconds clock may tick between the load and this read.
    let idle = shard.idle_seconds(&entry);
    assert!((100..=101).contains(&idle), "idle {idle}");
    drop(shard);
    let late = read.key(b"late");
    let expiry = read.lock(0, &late).peek(&late).unwrap().expire_at_ms();
    assert_eq!(expiry, Some(i32::MAX as u64 * 1000));
}

fn asset(name: &str) -> Keyspace {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    load(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Elements of a value in the order Redis's `csvdump` helper prints them
/// (sets and hashes sorted, sorted sets by score).
fn flat(value: &Value) -> Vec<String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match value {
        Value::String(s) => vec![text(&s.to_vec())],
        Value::List(l) => l.iter().map(text).collect(),
        Value::Set(s) => {
            let mut members: Vec<String> = s.iter().map(|m| text(&m.to_vec())).collect();
            members.sort();
            members
        }
        Value::Hash(h) => {
            let mut pairs: Vec<(String, String)> =
                h.iter().map(|(f, v)| (text(f), text(v))).collect();
            pairs.sort();
            pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
        }
        Value::ZSet(z) => z
            .iter()
            .flat_map(|(score, m)| [text(m), format!("{score}")])
            .collect(),
        Value::Stream(s) => s
            .range(StreamId::MIN, StreamId::MAX, false)
            .flat_map(|e| {
                let fields: Vec<String> = e.fields().map(text).collect();
                std::iter::once(e.id.to_string()).chain(fields)
            })
            .collect(),
    }
}

#[test]
fn loads_redis_encodings_asset() {
    // tests/integration/rdb.tcl "RDB encoding loading test" (RDB version 4).
    let ks = asset("encodings.rdb");
    let value = |key: &[u8]| flat(&get(&ks, 0, key).unwrap().value).join(",");
    assert_eq!(value(b"compressible"), "a".repeat(137));
    assert_eq!(
        value(b"hash"),
        "a,1,aa,10,aaa,100,b,2,bb,20,bbb,200,c,3,cc,30,ccc,300,ddd,400,eee,5000000000"
    );
    assert_eq!(value(b"hash_zipped"), "a,1,b,2,c,3");
    let list = "1,2,3,a,b,c,100000,6000000000";
    assert_eq!(value(b"list"), [list, list, list].join(","));
    assert_eq!(value(b"list_zipped"), list);
    assert_eq!(value(b"number"), "10");
    assert_eq!(value(b"set"), "1,100000,2,3,6000000000,a,b,c");
    assert_eq!(value(b"set_zipped_1"), "1,2,3,4");
    assert_eq!(value(b"set_zipped_2"), "100000,200000,300000,400000");
    assert_eq!(
        value(b"set_zipped_3"),
        "1000000000,2000000000,3000000000,4000000000,5000000000,6000000000"
    );
    assert_eq!(value(b"string"), "Hello World");
    assert_eq!(
        value(b"zset"),
        "a,1,b,2,c,3,aa,10,bb,20,cc,30,aaa,100,bbb,200,ccc,300,aaaa,1000,cccc,123456789,bbbb,5000000000"
    );
    assert_eq!(value(b"zset_zipped"), "a,1,b,2,c,3");
    assert_eq!(ks.read().counts(0).0, 13);
}

#[test]
fn loads_redis_compact_encoding_assets() {
    // convert-zipmap-hash-on-load.tcl, convert-ziplist-*-on-load.tcl, rdb.tcl.
    let ks = asset("hash-zipmap.rdb");
    let hash = get(&ks, 0, b"hash").unwrap().value;
    assert_eq!(flat(&hash), ["f1", "v1", "f2", "v2"].map(String::from));
    assert_eq!(hash.encoding_name(), "listpack");
    let ks = asset("hash-ziplist.rdb");
    let hash = get(&ks, 0, b"hash").unwrap().value;
    assert_eq!(flat(&hash), ["f1", "v1", "f2", "v2"].map(String::from));
    let ks = asset("zset-ziplist.rdb");
    let zset = get(&ks, 0, b"zset").unwrap().value;
    assert_eq!(flat(&zset), ["one", "1", "two", "2"].map(String::from));
    let ks = asset("list-quicklist.rdb");
    assert_eq!(flat(&get(&ks, 0, b"list").unwrap().value), ["7"]);
    assert_eq!(flat(&get(&ks, 0, b"x").unwrap().value), ["7"]);
    // A "lua" AUX field (a script saved by Redis 6) and no keys: skipped.
    let ks = asset("scriptbackup.rdb");
    assert_eq!(ks.read().counts(0), (0, 0));
}

#[test]
fn redis_corrupt_assets() {
    // corrupt-dump.tcl: empty collections are skipped, by name.
    let path = format!(
        "{}/tests/fixtures/corrupt_empty_keys.rdb",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let loaded = Keyspace::new(16).load_rdb(&bytes, 16, true).unwrap();
    assert_eq!(loaded.keys_loaded, 0);
    let mut skipped = loaded.summary.empty_keys.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            "hash",
            "hash_ziplist",
            "list_quicklist",
            "list_quicklist_empty_ziplist",
            "list_ziplist",
            "set",
            "zset",
            "zset_listpack",
            "zset_ziplist"
        ]
    );
    // A ziplist with a broken entry, in a file saved without a checksum.
    let path = format!(
        "{}/tests/fixtures/corrupt_ziplist.rdb",
        env!("CARGO_MANIFEST_DIR")
    );
    let error = load(&std::fs::read(path).unwrap()).err().unwrap();
    assert!(
        error
            .message
            .contains("Hash ziplist integrity check failed."),
        "{error}"
    );
}

#[test]
fn a_snapshot_is_the_keyspace_at_its_start_while_writes_go_on() {
    let ks = sample_keyspace();
    let before = save(&ks);
    let job = ks.begin_snapshot().expect("no snapshot running");
    assert!(ks.begin_snapshot().is_none(), "one snapshot at a time");
    // Writes after the start: a changed value, a deleted key, a new key,
    // a changed expiry, in databases the walk has not reached.
    put(&ks, 0, b"str", string(b"changed"), None);
    put(&ks, 15, b"new", string(b"new"), None);
    {
        let read = ks.read();
        let k = read.key(b"bighash");
        read.lock(3, &k).remove(&k);
        let v = read.key(b"volatile");
        read.lock(0, &v).set_expiry(&v, None);
    }
    ks.complete_snapshot(&job);
    assert!(job.is_complete());
    let snapshot = load(&job.take_rdb::<&[u8]>(&[], &[]).to_vec()).unwrap();
    let reference = load(&before).unwrap();
    for (db, key) in [
        (0, &b"str"[..]),
        (0, b"volatile"),
        (3, b"bighash"),
        (1, b"biglist"),
        (15, b"bigzset"),
    ] {
        // Value and expiry: the access clock differs when the two loads
        // fall in different seconds.
        let contents = |ks: &Keyspace| get(ks, db, key).map(|e| (e.expire_at_ms(), e.value));
        assert_eq!(
            contents(&snapshot),
            contents(&reference),
            "db {db} key {}",
            String::from_utf8_lossy(key)
        );
    }
    assert!(get(&snapshot, 15, b"new").is_none());
    for db in 0..16 {
        assert_eq!(snapshot.read().counts(db), reference.read().counts(db));
    }
    // The live keyspace has the writes.
    assert_eq!(get(&ks, 0, b"str").unwrap().value, string(b"changed"));
}

#[test]
fn writes_under_an_exclusive_hold_are_captured_shard_by_shard() {
    let ks = sample_keyspace();
    let job = ks.begin_snapshot().unwrap();
    {
        // A transaction: the gate held exclusively, a write through its view.
        let exclusive = ks.exclusive();
        let view = exclusive.view();
        let key = view.key(b"str");
        view.lock(0, &key).insert(
            &key,
            Entry::new(Value::String(StringValue::from_bytes(b"new"))),
        );
    }
    assert!(
        !job.is_complete(),
        "an exclusive hold alone does not end it"
    );
    ks.complete_snapshot(&job);
    let snapshot = load(&job.take_rdb::<&[u8]>(&[], &[]).to_vec()).unwrap();
    assert_eq!(get(&snapshot, 0, b"str").unwrap().value, string(b"hello"));
}

#[test]
fn swapping_databases_completes_a_running_snapshot_first() {
    let ks = sample_keyspace();
    let job = ks.begin_snapshot().unwrap();
    // SWAPDB: databases 0 and 1 trade places.
    ks.exclusive().swap_databases(0, 1);
    assert!(job.is_complete());
    ks.complete_snapshot(&job);
    let snapshot = load(&job.take_rdb::<&[u8]>(&[], &[]).to_vec()).unwrap();
    assert_eq!(get(&snapshot, 0, b"str").unwrap().value, string(b"hello"));
    assert!(get(&snapshot, 1, b"str").is_none());
    assert!(ks.begin_snapshot().is_some(), "a new snapshot can start");
}

#[test]
fn keys_used_during_a_snapshot_are_captured_one_by_one_as_they_were() {
    // 4000 keys: every shard of database 0 holds several.
    let ks = Keyspace::new(16);
    let name = |i: u32| format!("key:{i}").into_bytes();
    for i in 0..4000 {
        put(&ks, 0, &name(i), string(format!("v{i}").as_bytes()), None);
        put(&ks, 2, &name(i), string(b"in db 2"), None);
    }
    let job = ks.begin_snapshot().unwrap();
    for i in (0..4000).step_by(3) {
        put(&ks, 0, &name(i), string(b"changed"), None);
        put(&ks, 0, &name(i), string(b"changed twice"), None);
    }
    {
        let read = ks.read();
        for i in (1..4000).step_by(7) {
            let key = name(i);
            let k = read.key(&key);
            let mut shard = read.lock(0, &k);
            shard.remove(&k);
            if i % 2 == 0 {
                shard.insert(&k, Entry::new(string(b"recreated")));
            }
        }
        // Created and deleted again during the snapshot: never in it.
        let k = read.key(b"ephemeral");
        read.lock(0, &k).insert(&k, Entry::new(string(b"x")));
        read.lock(0, &k).remove(&k);
        // FLUSHDB of database 2: whole shards, cleared after their capture.
        read.for_each_shard(2, |shard| {
            shard.clear();
        });
    }
    put(&ks, 0, b"new", string(b"new"), None);
    ks.complete_snapshot(&job);
    let snapshot = load(&job.take_rdb::<&[u8]>(&[], &[]).to_vec()).unwrap();
    assert_eq!(snapshot.read().counts(0), (4000, 0));
    assert_eq!(snapshot.read().counts(2), (4000, 0));
    for i in 0..4000 {
        let value = get(&snapshot, 0, &name(i)).map(|entry| entry.value);
        assert_eq!(value, Some(string(format!("v{i}").as_bytes())), "key:{i}");
    }
    assert!(get(&snapshot, 0, b"ephemeral").is_none());
    assert!(get(&snapshot, 0, b"new").is_none());
    assert_eq!(ks.read().counts(2), (0, 0));
}
