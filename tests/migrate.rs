//! MIGRATE end to end: keys moved from Ferrite to a real redis-server and
//! back (each side's DUMP payload restored by the other), its options and
//! errors as Redis replies them, and the moved keys deleted on the
//! source's replicas by one DEL.

mod common;

use common::repl::skip_snapshot;
use common::{call, raw, stream_until_end, Redis, Server};

#[test]
fn keys_move_to_a_real_redis_and_back() {
    let ferrite = Server::start_with(&["--repl-ping-replica-period", "3600"]);
    let redis = Redis::start(&[]);
    let (fp, rp) = (ferrite.port.to_string(), redis.port.to_string());
    let mut ours = raw(ferrite.port);
    let mut theirs = raw(redis.port);
    let mut sync = raw(ferrite.port);
    sync.send(b"SYNC\r\n");
    skip_snapshot(&mut sync);

    call(&mut ours, &["SET", "s", "Some Value", "PX", "100000"]);
    call(&mut ours, &["RPUSH", "l", "a", "b", "c"]);
    call(&mut ours, &["HSET", "h", "f", "v"]);
    let migrate = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["MIGRATE".to_string(), "127.0.0.1".into(), rp.clone()];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let call_with = |conn: &mut common::RawConnection, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        call(conn, &args)
    };
    assert_eq!(
        call_with(&mut ours, migrate(&["s", "3", "5000"])),
        "+OK\r\n"
    );
    assert_eq!(call(&mut ours, &["EXISTS", "s"]), ":0\r\n");
    call(&mut theirs, &["SELECT", "3"]);
    assert_eq!(call(&mut theirs, &["GET", "s"]), "$10\r\nSome Value\r\n");
    let ttl = call(&mut theirs, &["PTTL", "s"]);
    let ttl: i64 = ttl.trim_start_matches(':').trim().parse().expect("pttl");
    assert!(ttl > 0 && ttl <= 100_000, "{ttl}");

    // COPY keeps the keys here; a key already there needs REPLACE.
    let copy = migrate(&["", "3", "5000", "COPY", "KEYS", "l", "h", "missing"]);
    assert_eq!(call_with(&mut ours, copy), "+OK\r\n");
    assert_eq!(call(&mut ours, &["EXISTS", "l", "h"]), ":2\r\n");
    assert_eq!(
        call(&mut theirs, &["LRANGE", "l", "0", "-1"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        call_with(&mut ours, migrate(&["l", "3", "5000"])),
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(
        call_with(&mut ours, migrate(&["l", "3", "5000", "REPLACE"])),
        "+OK\r\n"
    );
    assert_eq!(
        call_with(&mut ours, migrate(&["", "3", "5000", "KEYS", "h"])),
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(call(&mut ours, &["EXISTS", "l", "h"]), ":1\r\n");

    // And back: Redis's MIGRATE into Ferrite.
    let back = [
        "MIGRATE",
        "127.0.0.1",
        &fp,
        "",
        "0",
        "5000",
        "KEYS",
        "s",
        "l",
    ];
    assert_eq!(call(&mut theirs, &back), "+OK\r\n");
    assert_eq!(call(&mut ours, &["GET", "s"]), "$10\r\nSome Value\r\n");
    assert_eq!(call(&mut ours, &["LLEN", "l"]), ":3\r\n");

    // Only the keys that moved away were deleted, each MIGRATE fed as DEL.
    call(&mut ours, &["SET", "end", "1"]);
    let fed: Vec<String> = stream_until_end(&mut sync)
        .iter()
        .filter(|c| !c[0].eq_ignore_ascii_case("select"))
        .map(|c| c.join(" "))
        .collect();
    let expected = [
        "SET s Some Value PXAT ",
        "RPUSH l a b c",
        "HSET h f v",
        "DEL s",
        "DEL l",
        "RESTORE s ",
        "RESTORE l ",
        "SET end 1",
    ];
    assert_eq!(fed.len(), expected.len(), "{fed:?}");
    for (command, prefix) in fed.iter().zip(expected) {
        assert!(
            command.starts_with(prefix),
            "{command:?} is not {prefix:?}..."
        );
    }
}

#[test]
fn options_and_errors_are_redis_s() {
    let ferrite = Server::start();
    let mut ours = raw(ferrite.port);
    let port = ferrite.port.to_string();
    let closed = common::free_port().to_string();
    call(&mut ours, &["SET", "k", "v"]);
    let cases: [(&[&str], &str); 6] = [
        (&["missing", "0", "100"], "+NOKEY\r\n"),
        (&["k", "0", "100", "KEYS", "a"], "-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string\r\n"),
        (&["k", "0", "100", "AUTH"], "-ERR syntax error\r\n"),
        (&["k", "0", "100", "BOGUS"], "-ERR syntax error\r\n"),
        (&["k", "x", "100"], "-ERR value is not an integer or out of range\r\n"),
        (&["", "0", "100", "KEYS"], "+NOKEY\r\n"),
    ];
    for (extra, reply) in cases {
        let mut args = vec!["MIGRATE", "127.0.0.1", &port];
        args.extend_from_slice(extra);
        assert_eq!(call(&mut ours, &args), reply, "{args:?}");
    }
    let args = ["MIGRATE", "127.0.0.1", &closed, "k", "0", "100"];
    assert_eq!(
        call(&mut ours, &args),
        "-IOERR error or timeout connecting to the client\r\n"
    );
    // Migrating into itself: the key exists there already.
    let args = ["MIGRATE", "127.0.0.1", &port, "k", "0", "100"];
    assert_eq!(
        call(&mut ours, &args),
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    let info = call(&mut ours, &["INFO", "stats"]);
    assert!(info.contains("migrate_cached_sockets:1\r\n"), "{info}");
}
