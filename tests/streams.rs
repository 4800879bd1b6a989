//! Streams end to end against a real redis-server: the same commands give
//! the same replies (RESP2 and RESP3), writes are fed to replicas and
//! notified as Redis feeds and notifies them (XADD with a generated ID),
//! XREAD BLOCK is served by XADD, and stream nodes are Redis's byte for byte
//! (DUMP payloads, RESTORE both ways, a Redis replica's full sync).

mod common;

use common::repl::skip_snapshot;
use common::{read_command, RawConnection, Server};

fn run(conn: &mut RawConnection, line: &str) -> String {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    common::send(conn, &args);
    String::from_utf8_lossy(&common::read_reply(conn)).into_owned()
}

/// Deterministic stream commands (explicit IDs) and their errors.
const SCRIPT: &[&str] = &[
    "XADD s 1-1 a 1 b 2",
    "XADD s 1-1 a 1",
    "XADD s 0-0 a 1",
    "XADD s 0 a 1",
    "XADD s 1-* c 3",
    "XADD big 1-18446744073709551615 a 1",
    "XADD big 1-* a 1",
    "XADD s 5 d 4",
    "XADD s 7-3 e 5",
    "XADD s x-1 a 1",
    "XADD s + a 1",
    "XADD s 9-1 a",
    "XADD s MAXLEN -1 9-1 a 1",
    "XADD s MAXLEN 1 MINID 1 9-1 a 1",
    "XADD s LIMIT 5 9-1 a 1",
    "XADD s MAXLEN = 10 LIMIT 5 9-1 a 1",
    "XADD missing NOMKSTREAM 1-1 a 1",
    "EXISTS missing",
    "XLEN s",
    "XLEN missing",
    "TYPE s",
    "OBJECT ENCODING s",
    "XRANGE s - +",
    "XRANGE s - + COUNT 2",
    "XRANGE s - + COUNT 0",
    "XRANGE s - + COUNT -3",
    "XRANGE s (1-1 +",
    "XRANGE s 1 1",
    "XRANGE s (1-1 (7-3",
    "XRANGE s - + COUNT",
    "XRANGE s - + LIMIT 1",
    "XRANGE s (- +",
    "XRANGE s (18446744073709551615-18446744073709551615 +",
    "XRANGE s - (0-0",
    "XRANGE missing - +",
    "XREVRANGE s + -",
    "XREVRANGE s + - COUNT 1",
    "XREVRANGE s 5 (1-1",
    "XREAD STREAMS s 1-2",
    "XREAD COUNT 1 STREAMS s missing 0 0",
    "XREAD STREAMS s $",
    "XREAD STREAMS s",
    "XREAD GROUP g c STREAMS s 0",
    "XREAD NOACK STREAMS s 0",
    "XREAD COUNT 1",
    "XREAD BLOCK -1 STREAMS s 0",
    "XREAD BLOCK x STREAMS s 0",
    "XDEL s 1-2 1-2 99-1",
    "XDEL s bad",
    "XDEL missing bad",
    "XTRIM s MAXLEN 2",
    "XTRIM s MINID 7",
    "XTRIM s",
    "XTRIM s LIMIT 1 MAXLEN 1",
    "XTRIM s MAXLEN 1 junk",
    "XTRIM missing MAXLEN 0",
    "XLEN s",
    "XSETID s 1-1",
    "XSETID s 8-0 ENTRIESADDED 0",
    "XSETID s 8-0 ENTRIESADDED -1",
    "XSETID s 8-0 MAXDELETEDID 9-0",
    "XSETID s 8-0 ENTRIESADDED 10 MAXDELETEDID 7-0",
    "XSETID missing 1-1",
    "XSETID s 8-0 junk",
    "XADD s 8-* f 6",
    "XINFO STREAM s",
    "XINFO STREAM s FULL",
    "XINFO STREAM s FULL COUNT 1",
    "XINFO STREAM s FULL COUNT 0",
    "XINFO STREAM s FULL COUNT -5",
    "XINFO STREAM s FULL COUNT x",
    "XINFO STREAM s FULL COUNT",
    "XINFO STREAM s junk",
    "XINFO STREAM missing",
    "XINFO STREAM",
    "XINFO HELP",
    "XINFO HELP x",
    "XINFO NOSUCH s",
    "XTRIM s MAXLEN 0",
    "XINFO STREAM s",
    "XINFO STREAM s FULL",
    "XLEN s",
    "EXISTS s",
    "XSETID s 18446744073709551615-18446744073709551615",
    "XADD s * a 1",
    "SET str x",
    "XADD str 1-1 a 1",
    "XRANGE str - +",
    "XLEN str",
    "XREAD STREAMS str 0",
    "XINFO STREAM str",
    "COMMAND GETKEYS XREAD COUNT 2 STREAMS a b 0 0",
];

#[test]
fn replies_are_redis_replies() {
    common::replies_as_redis(SCRIPT, run);
}

/// Writes with explicit or partial IDs (deterministic on both servers).
const WRITES: &[&str] = &[
    "XADD s 1-1 a 1",
    "XADD s 1-* b 2",
    "XADD s 2 c 3",
    "XADD s MAXLEN = 2 3-* d 4",
    "XADD missing NOMKSTREAM 1-1 a 1",
    "XDEL s 99-1",
    "XDEL s 2-0",
    "XTRIM s MINID 1",
    "XTRIM s MAXLEN 0",
    "XSETID s 10-0",
    "SET end 1",
];

#[test]
fn writes_replicate_and_notify_as_redis() {
    let ours = common::writes_fed_and_notified_as_redis(WRITES, run);
    assert_eq!(
        ours.fed,
        [
            "XADD s 1-1 a 1",
            "XADD s 1-2 b 2",
            "XADD s 2 c 3",
            "XADD s MAXLEN = 2 3-0 d 4",
            "XDEL s 2-0",
            "XTRIM s MAXLEN 0",
            "XSETID s 10-0",
            "SET end 1",
        ]
    );
    assert!(ours.events.contains(&"__keyevent@0__:xtrim s".to_string()));
}

#[test]
fn generated_ids_and_approximate_trims_are_fed_exactly() {
    let server = Server::start();
    let mut sync = server.raw();
    sync.send(b"SYNC\r\n");
    skip_snapshot(&mut sync);
    let mut client = server.raw();
    let reply = run(&mut client, "XADD s * a 1");
    let id = reply.lines().nth(1).expect("the generated ID").to_string();
    // Within one node `~` removes nothing: fed as the length it left.
    run(&mut client, "XADD s MAXLEN ~ 1 * b 2");
    run(&mut client, "CONFIG SET stream-node-max-entries 1");
    run(&mut client, "XADD s MAXLEN ~ 1 * c 3");
    let mut fed = Vec::new();
    while fed.len() < 3 {
        let command = read_command(&mut sync);
        if !command[0].eq_ignore_ascii_case("select") {
            fed.push(command);
        }
    }
    assert_eq!(fed[0], ["XADD", "s", &id, "a", "1"]);
    assert_eq!(fed[1][..5], ["XADD", "s", "MAXLEN", "=", "2"]);
    assert_ne!(fed[1][5], "*");
    // The first node (both entries) goes whole: one left.
    assert_eq!(fed[2][..5], ["XADD", "s", "MAXLEN", "=", "1"]);
}

#[test]
fn xread_block_is_served_by_xadd() {
    let server = Server::start();
    let mut client = server.raw();
    run(&mut client, "XADD s 1-1 a 1");
    let mut reader = server.raw();
    common::send(
        &mut reader,
        &[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"],
    );
    server.wait_blocked(1);
    run(&mut client, "XADD s 2-1 b 2");
    assert_eq!(
        String::from_utf8_lossy(&common::read_reply(&mut reader)),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(run(&mut client, "XREAD BLOCK 10 STREAMS s $"), "*-1\r\n");
}

/// Writes that shape a stream's nodes: small nodes (7 entries), entries
/// with and without the master entry's fields, integers and strings,
/// deletions inside and at the ends of nodes, `~` and `=` trims, XSETID.
fn node_script() -> Vec<String> {
    let mut lines = vec!["CONFIG SET stream-node-max-entries 7".to_string()];
    for i in 1..=60 {
        lines.push(match i % 4 {
            0 => format!("XADD s {i}-1 other {i} n -{i}"),
            1 => format!("XADD s {i}-1 field value{i} n {}", i * 1000),
            _ => format!("XADD s {i}-1 field v n 007"),
        });
    }
    for id in [
        "3-1", "8-1", "15-1", "16-1", "17-1", "18-1", "19-1", "20-1", "21-1", "60-1",
    ] {
        lines.push(format!("XDEL s {id}"));
    }
    lines.push("XTRIM s MAXLEN ~ 45".to_string());
    lines.push("XTRIM s MINID 26".to_string());
    lines.push("XSETID s 70-0 ENTRIESADDED 100 MAXDELETEDID 65-0".to_string());
    lines.push("CONFIG SET stream-node-max-entries 0 stream-node-max-bytes 60".to_string());
    for i in 1..=12 {
        lines.push(format!("XADD bytes {i}-0 f {}", "x".repeat(i)));
    }
    lines.push("XADD empty 1-1 a 1".to_string());
    lines.push("XDEL empty 1-1".to_string());
    // One entry per node, IDs that branch the radix tree at many depths;
    // deletions make it merge branches back.
    lines.push("CONFIG SET stream-node-max-entries 1 stream-node-max-bytes 4096".to_string());
    let ids = [
        "1-0",
        "1-1",
        "1-256",
        "2-0",
        "255-7",
        "256-0",
        "65536-0",
        "65536-65536",
        "4294967296-3",
        "1099511627776-0",
        "1099511627777-0",
        "72057594037927936-1",
    ];
    for id in ids {
        lines.push(format!("XADD wide {id} f v"));
    }
    lines.push("XINFO STREAM wide".to_string());
    for id in ["1-256", "65536-0", "1-0", "72057594037927936-1"] {
        lines.push(format!("XDEL wide {id}"));
        lines.push("XINFO STREAM wide".to_string());
    }
    lines.push("XTRIM wide MAXLEN ~ 5".to_string());
    lines.push("XINFO STREAM wide".to_string());
    lines
}

fn dump(conn: &mut RawConnection, key: &str) -> Vec<u8> {
    common::send(conn, &[b"DUMP", key.as_bytes()]);
    common::read_reply(conn)
}

#[test]
fn nodes_and_dump_payloads_are_redis_byte_for_byte() {
    let server = Server::start();
    let redis = common::Redis::start(&["--rdbcompression", "no"]);
    let (mut ours, mut theirs) = (server.raw(), common::raw(redis.port));
    for line in node_script() {
        assert_eq!(run(&mut ours, &line), run(&mut theirs, &line), "{line}");
    }
    for key in ["s", "bytes", "empty", "wide"] {
        assert_eq!(dump(&mut ours, key), dump(&mut theirs, key), "DUMP {key}");
        let reads = [
            "XRANGE {} - +",
            "XREVRANGE {} + - COUNT 5",
            "XLEN {}",
            "XINFO STREAM {}",
            "XINFO STREAM {} FULL COUNT 0",
        ];
        for read in reads {
            let line = read.replace("{}", key);
            assert_eq!(run(&mut ours, &line), run(&mut theirs, &line), "{line}");
        }
    }
    // Redis's LZF-compressed payload restores into Ferrite as the same
    // stream, and Ferrite's into Redis.
    run(&mut theirs, "CONFIG SET rdbcompression yes");
    let compressed = dump(&mut theirs, "s");
    let plain = dump(&mut ours, "s");
    assert_ne!(compressed, plain);
    let restore = |conn: &mut RawConnection, key: &str, reply: &[u8]| {
        let payload = payload_of(reply);
        common::send(conn, &[b"RESTORE", key.as_bytes(), b"0", payload]);
        String::from_utf8_lossy(&common::read_reply(conn)).into_owned()
    };
    assert_eq!(restore(&mut ours, "copy", &compressed), "+OK\r\n");
    assert_eq!(restore(&mut theirs, "copy", &plain), "+OK\r\n");
    assert_eq!(dump(&mut ours, "copy"), plain);
    let line = "XRANGE copy - +";
    assert_eq!(run(&mut ours, line), run(&mut theirs, line));
    assert_eq!(run(&mut ours, line), run(&mut ours, "XRANGE s - +"));
}

/// The payload of a `$<len>` bulk reply.
fn payload_of(reply: &[u8]) -> &[u8] {
    let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    &reply[start..reply.len() - 2]
}

#[test]
fn a_redis_replica_of_ferrite_gets_its_streams() {
    let server = Server::start();
    let mut ours = server.raw();
    for line in node_script() {
        run(&mut ours, &line);
    }
    let port = server.port.to_string();
    // The replica appends with the node limits the script left on the master.
    let redis = common::Redis::start(&[
        "--rdbcompression",
        "no",
        "--stream-node-max-entries",
        "1",
        "--replicaof",
        "127.0.0.1",
        &port,
    ]);
    common::repl::wait_in_sync(server.port, redis.port);
    run(&mut ours, "XADD s 80-1 after sync");
    common::repl::wait_in_sync(server.port, redis.port);
    let mut theirs = common::raw(redis.port);
    for key in ["s", "bytes", "empty", "wide"] {
        assert_eq!(dump(&mut ours, key), dump(&mut theirs, key), "DUMP {key}");
    }
}

#[test]
fn a_stream_with_consumer_groups_restores_from_redis() {
    let server = Server::start();
    let redis = common::Redis::start(&[]);
    let mut theirs = common::raw(redis.port);
    run(&mut theirs, "XADD s 1-1 a 1");
    run(&mut theirs, "XGROUP CREATE s g 0");
    let reply = dump(&mut theirs, "s");
    let mut ours = server.raw();
    common::send(&mut ours, &[b"RESTORE", b"s", b"0", payload_of(&reply)]);
    assert_eq!(common::read_reply(&mut ours), b"+OK\r\n");
    for conn in [&mut ours, &mut theirs] {
        common::send(conn, &[b"XINFO", b"GROUPS", b"s"]);
    }
    assert_eq!(
        String::from_utf8_lossy(&common::read_reply(&mut ours)),
        String::from_utf8_lossy(&common::read_reply(&mut theirs))
    );
}
