//! Blocking pops with several real clients: FIFO service, timeouts, CLIENT
//! UNBLOCK, and a pop served by a push from another client.

mod common;

use std::time::{Duration, Instant};

use common::Server;

#[test]
fn blocked_clients_are_served_in_order() {
    let server = Server::start();
    let mut first = server.raw();
    first.send(b"BLPOP list other 0\r\n");
    server.wait_blocked(1);
    let mut second = server.raw();
    second.send(b"BLPOP list 0\r\n");
    server.wait_blocked(2);
    let mut pusher = server.raw();
    pusher.send(b"RPUSH list a b c\r\n");
    pusher.expect(b":3\r\n");
    first.expect(b"*2\r\n$4\r\nlist\r\n$1\r\na\r\n");
    second.expect(b"*2\r\n$4\r\nlist\r\n$1\r\nb\r\n");
    pusher.send(b"LRANGE list 0 -1\r\n");
    pusher.expect(b"*1\r\n$1\r\nc\r\n");
    server.wait_blocked(0);
}

#[test]
fn timeouts_and_unblock() {
    let server = Server::start();
    let mut conn = server.raw();
    let started = Instant::now();
    conn.send(b"BLPOP missing 0.2\r\n");
    conn.expect(b"*-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(150));
    conn.send(b"BLMOVE src dst LEFT RIGHT 0.05\r\n");
    conn.expect(b"$-1\r\n");
    conn.send(b"BLPOP missing -1\r\n");
    conn.expect(b"-ERR timeout is negative\r\n");
    conn.send(b"BLPOP missing abc\r\n");
    conn.expect(b"-ERR timeout is not a float or out of range\r\n");

    let mut blocked = server.raw();
    blocked.send(b"CLIENT ID\r\n");
    let id = blocked.read_line().trim_start_matches(':').to_string();
    blocked.send(b"BRPOP missing 0\r\n");
    server.wait_blocked(1);
    let mut admin = server.raw();
    admin.send(format!("CLIENT UNBLOCK {id} ERROR\r\n").as_bytes());
    admin.expect(b":1\r\n");
    blocked.expect(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
}

#[test]
fn blmove_is_served_by_a_push() {
    let server = Server::start();
    let mut waiter = server.raw();
    waiter.send(b"BLMOVE src dst RIGHT LEFT 0\r\n");
    server.wait_blocked(1);
    let mut pusher = server.raw();
    pusher.send(b"LPUSH src x\r\n");
    pusher.expect(b":1\r\n");
    waiter.expect(b"$1\r\nx\r\n");
    pusher.send(b"LRANGE dst 0 -1\r\nEXISTS src\r\n");
    pusher.expect(b"*1\r\n$1\r\nx\r\n:0\r\n");
}

/// A key a client waits on that a transaction leaves holding another type
/// is not ready: the client stays blocked (Redis 7.0), and a later push
/// serves it; a blocked move whose destination has another type gets
/// WRONGTYPE.
#[test]
fn a_key_of_another_type_keeps_a_pop_waiting() {
    let server = Server::start();
    let mut popper = server.raw();
    popper.send(b"BLPOP list 0\r\n");
    server.wait_blocked(1);
    let mut writer = server.raw();
    writer.send(b"MULTI\r\nLPUSH list a\r\nDEL list\r\nSET list foo\r\nEXEC\r\n");
    writer.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:1\r\n:1\r\n+OK\r\n");
    server.wait_blocked(1);
    writer.send(b"DEL list\r\nLPUSH list b\r\n");
    writer.expect(b":1\r\n:1\r\n");
    popper.expect(b"*2\r\n$4\r\nlist\r\n$1\r\nb\r\n");

    let mut mover = server.raw();
    writer.send(b"SET dst x\r\n");
    writer.expect(b"+OK\r\n");
    mover.send(b"BLMOVE src dst LEFT RIGHT 0\r\n");
    server.wait_blocked(1);
    writer.send(b"LPUSH src v\r\n");
    writer.expect(b":1\r\n");
    mover.expect(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
}

/// A command that blocks goes into the slow log when it is served, not when
/// it blocks (Redis's updateStatsOnUnblock), so it comes after the push
/// that served it.
#[test]
fn a_blocked_command_is_slow_logged_when_served() {
    let server = Server::start_with(&["--slowlog-log-slower-than", "0"]);
    let mut admin = server.raw();
    let mut waiter = server.raw();
    waiter.send(b"BLPOP list 0\r\n");
    server.wait_blocked(1);
    admin.send(b"SLOWLOG RESET\r\n");
    admin.expect(b"+OK\r\n");
    admin.send(b"SLOWLOG LEN\r\n");
    // SLOWLOG RESET itself, logged once it ran; not the blocked BLPOP.
    admin.expect(b":1\r\n");
    admin.send(b"RPUSH list a\r\n");
    admin.expect(b":1\r\n");
    waiter.expect(b"*2\r\n$4\r\nlist\r\n$1\r\na\r\n");
    admin.send(b"SLOWLOG GET 1\r\n");
    let newest = common::read_reply(&mut admin);
    let blpop = b"*3\r\n$5\r\nBLPOP\r\n$4\r\nlist\r\n$1\r\n0\r\n";
    assert!(
        newest.windows(blpop.len()).any(|w| w == blpop),
        "newest slow log entry: {}",
        String::from_utf8_lossy(&newest)
    );
}
