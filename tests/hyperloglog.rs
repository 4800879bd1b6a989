//! HyperLogLog end to end against a real redis-server: the same commands
//! give the same replies and leave the same string bytes (GET) on both,
//! HLL values cross between the two by DUMP/RESTORE and replication in both
//! directions, and PFCOUNT's cache write is propagated (only when it wrote)
//! and works on a read-only replica.

mod common;

use common::repl::{connect, field, info, wait_in_sync};
use common::{Redis, Server};

/// A reply as comparable text: the value, or the error's code and detail.
fn reply(con: &mut redis::Connection, args: &[Vec<u8>]) -> String {
    let mut command = redis::cmd(std::str::from_utf8(&args[0]).expect("command name"));
    for arg in &args[1..] {
        command.arg(&arg[..]);
    }
    match command.query::<redis::Value>(con) {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!("error {:?} {:?}", e.code(), e.detail()),
    }
}

fn words(text: &str) -> Vec<Vec<u8>> {
    text.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// `PFADD key` of elements `prefix<from>` .. `prefix<to - 1>`.
fn pfadd_range(key: &str, prefix: &str, from: u32, to: u32) -> Vec<Vec<u8>> {
    let mut args = words(&format!("PFADD {key}"));
    args.extend((from..to).map(|i| format!("{prefix}{i}").into_bytes()));
    args
}

/// Runs `args` on both servers and asserts the same reply.
fn same(ferrite: &mut redis::Connection, redis: &mut redis::Connection, args: &[Vec<u8>]) {
    let ours = reply(ferrite, args);
    let theirs = reply(redis, args);
    let shown: Vec<String> = args
        .iter()
        .take(4)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(ours, theirs, "reply to {shown:?}");
}

fn same_text(ferrite: &mut redis::Connection, redis: &mut redis::Connection, text: &str) {
    same(ferrite, redis, &words(text));
}

#[test]
fn pf_commands_reply_and_store_as_real_redis() {
    let server = Server::start();
    let real = Redis::start(&[]);
    let (mut f, mut r) = (connect(server.port), connect(real.port));
    let f = &mut f;
    let r = &mut r;
    for text in [
        "PFADD h",
        "GET h",
        "PFCOUNT h",
        "GET h",
        "PFADD h a b c",
        "PFADD h a b c",
        "PFADD h ",
        "GET h",
        "OBJECT ENCODING h",
    ] {
        same_text(f, r, text);
    }
    // From a few registers to dense, with the cache written and reused.
    let mut added = 0;
    for batch in [1, 10, 50, 200, 500, 1000, 3000, 20000] {
        same(f, r, &pfadd_range("h", "e", added, added + batch));
        added += batch;
        for text in [
            "GET h",
            "PFCOUNT h",
            "GET h",
            "PFCOUNT h",
            "PFDEBUG ENCODING h",
        ] {
            same_text(f, r, text);
        }
    }
    // Unions, with missing keys, into new and existing keys.
    same(f, r, &pfadd_range("h2", "x", 0, 300));
    same(f, r, &pfadd_range("h3", "e", 0, 100));
    for text in [
        "PFCOUNT h2 h3 nokey",
        "PFCOUNT h h2 h3",
        "PFMERGE m h2 h3 nokey",
        "GET m",
        "PFCOUNT m",
        "PFDEBUG DECODE m",
        "PFMERGE h3 h2",
        "GET h3",
        "PFMERGE m h",
        "GET m",
        "PFDEBUG ENCODING m",
        "PFMERGE empty",
        "GET empty",
        "PFDEBUG GETREG h2",
        "GET h2",
        "PFDEBUG TODENSE h3",
        "PFDEBUG TODENSE h3",
        "GET h3",
        "PFDEBUG DECODE h3",
    ] {
        same_text(f, r, text);
    }
    // A lower hll-sparse-max-bytes makes HLLs dense sooner.
    same_text(f, r, "CONFIG SET hll-sparse-max-bytes 100");
    same(f, r, &pfadd_range("s", "e", 0, 40));
    for text in [
        "PFDEBUG ENCODING s",
        "GET s",
        "CONFIG GET hll-sparse-max-bytes",
    ] {
        same_text(f, r, text);
    }
    // Errors.
    for text in [
        "SET str foo",
        "PFADD str a",
        "PFCOUNT str",
        "PFCOUNT h str",
        "PFMERGE str h",
        "PFMERGE h str",
        "SET num 12345",
        "PFCOUNT num",
        "LPUSH list a",
        "PFCOUNT list",
        "PFCOUNT h list",
        "PFADD c a b c",
        "APPEND c hello",
        "PFCOUNT c",
        "PFCOUNT c h",
        "PFMERGE d c",
        "PFADD c zzz",
        "SETRANGE c 4 x",
        "PFCOUNT c",
        "PFADD d a",
        "SETRANGE d 4 \x00",
        "PFCOUNT d",
        "PFDEBUG GETREG nokey",
        "PFDEBUG FOO nokey",
        "PFDEBUG FOO h",
        "PFDEBUG DECODE h",
        "PFDEBUG GETREG",
    ] {
        same_text(f, r, text);
    }
    // A large cardinality.
    for start in (0..200_000).step_by(10_000) {
        same(f, r, &pfadd_range("big", "b", start, start + 10_000));
    }
    same_text(f, r, "PFCOUNT big");
    same_text(f, r, "PFCOUNT big h h2");
}

/// A DUMP payload of `key` on one server restored on the other counts the
/// same there.
fn restore_elsewhere(from: &mut redis::Connection, to: &mut redis::Connection, key: &str) {
    let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(from).expect("dump");
    let _: () = redis::cmd("RESTORE")
        .arg(key)
        .arg(0)
        .arg(payload)
        .arg("REPLACE")
        .query(to)
        .expect("restore");
    let count = |con: &mut redis::Connection| -> i64 {
        redis::cmd("PFCOUNT").arg(key).query(con).expect("pfcount")
    };
    assert_eq!(count(to), count(from));
}

#[test]
fn hll_values_cross_by_dump_and_restore() {
    let server = Server::start();
    let real = Redis::start(&[]);
    let (mut f, mut r) = (connect(server.port), connect(real.port));
    let _: i64 = redis::cmd("PFADD")
        .arg("sparse")
        .arg(&["a", "b", "c"])
        .query(&mut f)
        .unwrap();
    let elements: Vec<String> = (0..5000).map(|i| format!("e{i}")).collect();
    let _: i64 = redis::cmd("PFADD")
        .arg("dense")
        .arg(&elements)
        .query(&mut r)
        .unwrap();
    restore_elsewhere(&mut f, &mut r, "sparse");
    restore_elsewhere(&mut r, &mut f, "dense");
}

fn get(port: u16, key: &str) -> Vec<u8> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut connect(port))
        .expect("get")
}

fn pfcount(port: u16, key: &str) -> i64 {
    redis::cmd("PFCOUNT")
        .arg(key)
        .query(&mut connect(port))
        .expect("pfcount")
}

fn pfadd(port: u16, key: &str, elements: &[&str]) {
    let _: i64 = redis::cmd("PFADD")
        .arg(key)
        .arg(elements)
        .query(&mut connect(port))
        .expect("pfadd");
}

fn offset(port: u16) -> String {
    field(&info(port, "replication"), "master_repl_offset")
}

const ELEMENTS: &[&str] = &[
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q",
];

/// `master` feeds `replica` (either may be a real redis-server): the HLL
/// arrives as written, a PFCOUNT that caches its cardinality is fed (the
/// replica's copy gets the cache too), one that found it cached is not, and
/// PFCOUNT on the read-only replica writes its own cache.
fn pfcount_replicates(master: u16, replica: u16) {
    pfadd(master, "hll", ELEMENTS);
    wait_in_sync(master, replica);
    let uncached = get(master, "hll");
    assert_eq!(get(replica, "hll"), uncached);
    assert_eq!(pfcount(master, "hll"), 17);
    wait_in_sync(master, replica);
    let cached = get(master, "hll");
    assert_ne!(cached, uncached);
    assert_eq!(get(replica, "hll"), cached);
    let before = offset(master);
    assert_eq!(pfcount(master, "hll"), 17);
    assert_eq!(offset(master), before, "a cached PFCOUNT feeds nothing");

    pfadd(master, "other", ELEMENTS);
    wait_in_sync(master, replica);
    let uncached = get(replica, "other");
    assert_eq!(pfcount(replica, "other"), 17);
    assert_ne!(
        get(replica, "other"),
        uncached,
        "the replica cached the count"
    );
    assert_eq!(get(master, "other"), uncached);
}

/// A master that sends no PING meanwhile, so its offset moves only by writes.
const QUIET_MASTER: &[&str] = &["--repl-ping-replica-period", "3600"];

fn replicate_from(master: u16, replica: u16) {
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(master)
        .query(&mut connect(replica))
        .expect("replicaof");
    wait_in_sync(master, replica);
}

#[test]
fn pfcount_cache_is_propagated_ferrite_to_ferrite() {
    let master = Server::start_with(QUIET_MASTER);
    let replica = Server::start();
    replicate_from(master.port, replica.port);
    pfcount_replicates(master.port, replica.port);
}

#[test]
fn pfcount_cache_is_propagated_ferrite_to_redis() {
    let master = Server::start_with(QUIET_MASTER);
    let replica = Redis::start(&[]);
    replicate_from(master.port, replica.port);
    pfcount_replicates(master.port, replica.port);
}

#[test]
fn pfcount_cache_is_propagated_redis_to_ferrite() {
    let master = Redis::start(&[QUIET_MASTER, &["--repl-diskless-sync-delay", "0"]].concat());
    let replica = Server::start();
    replicate_from(master.port, replica.port);
    pfcount_replicates(master.port, replica.port);
}

/// EXEC's reply after another client ran PFCOUNT on the watched HLL.
fn exec_after_pfcount(port: u16, key: &str) -> redis::Value {
    let mut watcher = connect(port);
    let _: () = redis::cmd("WATCH")
        .arg(key)
        .query(&mut watcher)
        .expect("watch");
    pfcount(port, key);
    redis::pipe()
        .atomic()
        .cmd("PING")
        .query(&mut watcher)
        .expect("exec")
}

#[test]
fn pfcount_that_caches_touches_watched_keys_as_in_redis() {
    let server = Server::start();
    let real = Redis::start(&[]);
    for port in [server.port, real.port] {
        pfadd(port, "hll", ELEMENTS);
        // The first PFCOUNT writes the cache: the watched key changed.
        assert_eq!(exec_after_pfcount(port, "hll"), redis::Value::Nil);
        // The next one only reads it.
        assert_ne!(exec_after_pfcount(port, "hll"), redis::Value::Nil);
    }
}

/// The keyspace events a subscriber to every channel of `port` receives for
/// the PF* commands, as "channel message", up to the final SET's.
fn pf_events(port: u16) -> Vec<String> {
    let mut con = connect(port);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut con)
        .expect("config set");
    let mut listener = connect(port);
    let mut pubsub = listener.as_pubsub();
    pubsub.psubscribe("__key*__:*").expect("psubscribe");
    for text in [
        "PFADD h a b",
        "PFADD h a",
        "PFCOUNT h",
        "PFMERGE m h",
        "PFDEBUG TODENSE h",
        "PFADD h zz",
        "SET end 1",
    ] {
        let args = words(text);
        reply(&mut con, &args);
    }
    let mut events = Vec::new();
    loop {
        let message = pubsub.get_message().expect("message");
        let payload: String = message.get_payload().expect("payload");
        events.push(format!("{} {payload}", message.get_channel_name()));
        if payload == "end" {
            return events;
        }
    }
}

#[test]
fn pf_commands_notify_as_redis() {
    let server = Server::start();
    let real = Redis::start(&[]);
    let ours = pf_events(server.port);
    assert_eq!(ours, pf_events(real.port));
    assert!(ours.contains(&"__keyevent@0__:pfadd m".to_string()));
}
