//! Streams end to end against a real redis-server: the same commands give
//! the same replies (RESP2 and RESP3), writes are fed to replicas and
//! notified as Redis feeds and notifies them (XADD with a generated ID),
//! XREAD BLOCK is served by XADD, and, until streams are written in RDB
//! format, SAVE and DUMP refuse stream keys instead of dropping them.

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
    "XTRIM s MAXLEN 0",
    "XLEN s",
    "EXISTS s",
    "XSETID s 18446744073709551615-18446744073709551615",
    "XADD s * a 1",
    "SET str x",
    "XADD str 1-1 a 1",
    "XRANGE str - +",
    "XLEN str",
    "XREAD STREAMS str 0",
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
    run(&mut client, "XADD s MAXLEN ~ 1 * b 2");
    let mut fed = Vec::new();
    while fed.len() < 2 {
        let command = read_command(&mut sync);
        if !command[0].eq_ignore_ascii_case("select") {
            fed.push(command);
        }
    }
    assert_eq!(fed[0], ["XADD", "s", &id, "a", "1"]);
    assert_eq!(fed[1][..5], ["XADD", "s", "MAXLEN", "=", "1"]);
    assert_ne!(fed[1][5], "*");
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

#[test]
fn stream_keys_make_save_and_dump_fail() {
    let server = Server::start();
    let mut client = server.raw();
    run(&mut client, "XADD s 1-1 a 1");
    assert_eq!(run(&mut client, "SAVE"), "-ERR\r\n");
    assert_eq!(
        run(&mut client, "DUMP s"),
        "-ERR stream keys cannot be saved in RDB format yet (Ferrite does not write streams)\r\n"
    );
}
