//! Stream consumer groups end to end against a real redis-server: the same
//! commands give the same replies (RESP2 and RESP3; idle times blanked),
//! writes are fed to replicas and notified as Redis feeds and notifies them
//! (XREADGROUP/XCLAIM/XAUTOCLAIM as XCLAIM, NOACK reads as XGROUP SETID and
//! CREATECONSUMER; delivery times blanked), and a blocked XREADGROUP is
//! served by XADD, and failed as Redis fails it when its key or group goes.

mod common;

use common::repl::skip_snapshot;
use common::{read_command, read_reply, send, Server};

fn run(conn: &mut common::RawConnection, line: &str) -> String {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    send(conn, &args);
    let reply = String::from_utf8_lossy(&read_reply(conn)).into_owned();
    if line.starts_with("XINFO CONSUMERS") || line.starts_with("XPENDING s g -") {
        blank_idle_times(&reply)
    } else {
        reply
    }
}

/// Blanks the milliseconds in XINFO CONSUMERS (after `idle`) and XPENDING's
/// extended form (the third field of each `*4` row).
fn blank_idle_times(reply: &str) -> String {
    let mut lines: Vec<String> = reply.split("\r\n").map(str::to_string).collect();
    for i in 0..lines.len() {
        if lines[i] == "idle" && i + 1 < lines.len() {
            lines[i + 1] = ":<ms>".into();
        }
        if lines[i] == "*4" && i + 5 < lines.len() {
            lines[i + 5] = ":<ms>".into();
        }
    }
    lines.join("\r\n")
}

/// Deterministic group commands (explicit IDs) and their errors.
const SCRIPT: &[&str] = &[
    "XGROUP CREATE s g $ MKSTREAM",
    "XGROUP CREATE s g $",
    "XGROUP CREATE missing g $",
    "XGROUP CREATE s g2 0 ENTRIESREAD -2",
    "XGROUP CREATE s g3 0 ENTRIESREAD x",
    "XGROUP CREATE s g4 0 BADOPT",
    "XGROUP CREATE s g5 bad-id",
    "XGROUP CREATE s late 0 ENTRIESREAD 7",
    "XADD s 1-0 a 1",
    "XADD s 2-0 b 2",
    "XADD s 3-0 c 3",
    "XADD s 4-0 d 4",
    "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s >",
    "XREADGROUP GROUP g alice STREAMS s 0",
    "XREADGROUP GROUP g alice COUNT 1 STREAMS s 1-0",
    "XREADGROUP GROUP g nobody STREAMS s 0",
    "XREADGROUP GROUP nog c STREAMS s >",
    "XREADGROUP GROUP g c STREAMS s $",
    "XREADGROUP GROUP g c STREAMS s",
    "XREADGROUP COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g c STREAMS missing >",
    "XREAD STREAMS s >",
    "XPENDING s g",
    "XPENDING s nog",
    "XPENDING s g - + 0",
    "XPENDING s g - + 10",
    "XPENDING s g - + 10 bob",
    "XPENDING s g IDLE 5 - +",
    "XPENDING s g - + x",
    "XPENDING s g (1-0 + 10 nobody",
    "XACK s g 1-0 1-0 9-0",
    "XACK s g bad",
    "XACK s nog 1-0",
    "XINFO GROUPS s",
    "XINFO GROUPS missing",
    "XINFO CONSUMERS s g",
    "XINFO CONSUMERS s nog",
    "XDEL s 3-0",
    "XINFO GROUPS s",
    "XREADGROUP GROUP g bob STREAMS s 0",
    "XCLAIM s g carol 0 2-0 3-0 JUSTID",
    "XCLAIM s g carol 0 4-0",
    "XCLAIM s g carol x 4-0",
    "XCLAIM s g carol 0 4-0 BADOPT",
    "XCLAIM s g carol 0 4-0 IDLE x",
    "XCLAIM s g carol 0 4-0 RETRYCOUNT 7 JUSTID",
    "XCLAIM s nog carol 0 4-0",
    "XPENDING s g",
    "XAUTOCLAIM s g dave 0 0 COUNT 1",
    "XAUTOCLAIM s g dave 0 0 COUNT 0",
    "XAUTOCLAIM s g dave 0 (0 JUSTID",
    "XAUTOCLAIM s g dave 0 0 BAD",
    "XAUTOCLAIM s nog dave 0 0",
    "XGROUP CREATECONSUMER s g erin",
    "XGROUP CREATECONSUMER s g erin",
    "XGROUP CREATECONSUMER s nog erin",
    "XGROUP DELCONSUMER s g dave",
    "XGROUP DELCONSUMER s g nobody",
    "XINFO CONSUMERS s g",
    "XGROUP SETID s g 0 ENTRIESREAD 0",
    "XINFO GROUPS s",
    "XGROUP SETID s g $",
    "XGROUP SETID s g -",
    "XGROUP SETID s g 0 MKSTREAM",
    "XGROUP SETID s nog 0",
    "XINFO GROUPS s",
    "XREADGROUP GROUP late x NOACK STREAMS s >",
    "XPENDING s late",
    "XINFO GROUPS s",
    "XGROUP DESTROY s late",
    "XGROUP DESTROY s g",
    "XGROUP DESTROY s g",
    "XGROUP HELP",
    "XGROUP FOO s g",
    "XGROUP DESTROY s",
    "XINFO FOO s",
    "XREADGROUP GROUP g c NOACK STREAMS s >",
    "XREADGROUP GROUP g c BLOCK 10 MULTI STREAMS s >",
    "SET str x",
    "XGROUP CREATE str g $",
    "XREADGROUP GROUP g c STREAMS str >",
    "XINFO GROUPS str",
    "XPENDING str g",
    "XACK str g 1-0",
    "COMMAND GETKEYS XREADGROUP GROUP g c STREAMS a b > >",
];

#[test]
fn replies_are_redis_replies() {
    common::replies_as_redis(SCRIPT, run);
}

/// Group writes; each XREADGROUP/XCLAIM/XAUTOCLAIM is fed as Redis feeds it.
const WRITES: &[&str] = &[
    "XGROUP CREATE s g 0 MKSTREAM",
    "XADD s 1-0 a 1",
    "XADD s 2-0 b 2",
    "XADD s 3-0 c 3",
    "XGROUP CREATECONSUMER s g alice",
    "XGROUP CREATECONSUMER s g alice",
    "XREADGROUP GROUP g alice COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g bob NOACK COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g alice STREAMS s 0",
    "XACK s g 1-0",
    "XACK s g 1-0",
    "XREADGROUP GROUP g alice STREAMS s >",
    "XCLAIM s g bob 0 3-0",
    "XCLAIM s g bob 0 3-0 JUSTID RETRYCOUNT 5",
    "XAUTOCLAIM s g carol 0 0",
    "XGROUP SETID s g 1-0 ENTRIESREAD 1",
    "XGROUP DELCONSUMER s g bob",
    "XGROUP DESTROY s g",
    "XGROUP DESTROY s g",
    "SET end 1",
];

/// Blanks XCLAIM's TIME (the delivery time, a clock reading).
fn blank_times(command: &mut [String]) {
    if let Some(at) = command.iter().position(|a| a == "TIME") {
        if let Some(time) = command.get_mut(at + 1) {
            *time = "<ms>".into();
        }
    }
}

#[test]
fn writes_replicate_and_notify_as_redis() {
    let ours = common::writes_fed_and_notified_as_redis_with(WRITES, run, blank_times);
    assert!(ours.fed.contains(
        &"XCLAIM s g alice 0 1-0 TIME <ms> RETRYCOUNT 1 FORCE JUSTID LASTID 1-0".to_string()
    ));
    assert!(ours
        .fed
        .contains(&"XGROUP SETID s g 2-0 ENTRIESREAD 2".to_string()));
    assert!(ours
        .events
        .contains(&"__keyevent@0__:xgroup-createconsumer s".to_string()));
}

/// A blocked XREADGROUP's reply once `unblock` (run by another client) ends
/// its wait.
fn blocked_reply(server: &Server, setup: &[&str], unblock: &str) -> String {
    let mut client = server.raw();
    for line in setup {
        run(&mut client, line);
    }
    let mut reader = server.raw();
    send(
        &mut reader,
        &[
            b"XREADGROUP",
            b"GROUP",
            b"g",
            b"c",
            b"BLOCK",
            b"0",
            b"STREAMS",
            b"s",
            b">",
        ],
    );
    server.wait_blocked(1);
    run(&mut client, unblock);
    String::from_utf8_lossy(&read_reply(&mut reader)).into_owned()
}

#[test]
fn blocked_xreadgroup_is_served_by_xadd_and_fed_as_xclaim() {
    let server = Server::start();
    let mut sync = server.raw();
    sync.send(b"SYNC\r\n");
    skip_snapshot(&mut sync);
    let setup = ["XGROUP CREATE s g $ MKSTREAM"];
    assert_eq!(
        blocked_reply(&server, &setup, "XADD s 1-1 a 1"),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    let mut fed = Vec::new();
    while fed.len() < 3 {
        let command = read_command(&mut sync);
        if !command[0].eq_ignore_ascii_case("select") {
            fed.push(command);
        }
    }
    assert_eq!(fed[2][..6], ["XCLAIM", "s", "g", "c", "0", "1-1"]);
    assert_eq!(
        fed[2][8..],
        ["RETRYCOUNT", "1", "FORCE", "JUSTID", "LASTID", "1-1"]
    );
}

#[test]
fn blocked_xreadgroup_fails_when_its_key_or_group_goes() {
    let server = Server::start();
    let setup = ["DEL s", "XGROUP CREATE s g $ MKSTREAM"];
    assert_eq!(
        blocked_reply(&server, &setup, "DEL s"),
        "-UNBLOCKED the stream key no longer exists\r\n"
    );
    assert_eq!(
        blocked_reply(&server, &setup, "XGROUP DESTROY s g"),
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
    assert_eq!(
        blocked_reply(&server, &setup, "SET s x"),
        "-UNBLOCKED the stream key no longer exists\r\n"
    );
    // Another write to the stream leaves it waiting for new entries.
    let mut client = server.raw();
    run(&mut client, "DEL s");
    run(&mut client, "XGROUP CREATE s g $ MKSTREAM");
    run(&mut client, "XADD s 1-1 a 1");
    assert_eq!(
        run(&mut client, "XREADGROUP GROUP g c BLOCK 10 STREAMS s >"),
        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        run(&mut client, "XREADGROUP GROUP g c BLOCK 10 STREAMS s >"),
        "*-1\r\n"
    );
}

/// What a replica holds after group reads and claims on its master.
fn replica_group_state(master: u16, replica: u16) -> Vec<String> {
    use common::repl::{cmd, wait_in_sync};
    cmd(replica, &["REPLICAOF", "127.0.0.1", &master.to_string()]);
    wait_in_sync(master, replica);
    let mut client = common::raw(master);
    for line in [
        "XGROUP CREATE s g 0 MKSTREAM",
        "XGROUP CREATE s quiet 0",
        "XADD s 1-0 a 1",
        "XADD s 2-0 b 2",
        "XADD s 3-0 c 3",
        "XADD s 4-0 d 4",
        "XREADGROUP GROUP g alice COUNT 2 STREAMS s >",
        "XREADGROUP GROUP quiet nobody NOACK COUNT 3 STREAMS s >",
        "XREADGROUP GROUP g bob STREAMS s >",
        "XACK s g 3-0",
        "XDEL s 2-0",
        "XCLAIM s g carol 0 1-0 2-0",
        "XAUTOCLAIM s g dave 0 3-0 COUNT 1",
    ] {
        run(&mut client, line);
    }
    wait_in_sync(master, replica);
    let mut conn = common::raw(replica);
    [
        "XINFO GROUPS s",
        "XPENDING s g",
        "XPENDING s g - + 10",
        "XINFO CONSUMERS s g",
        "XINFO CONSUMERS s quiet",
    ]
    .iter()
    .map(|line| run(&mut conn, line))
    .collect()
}

/// Group reads and claims on a master leave a Ferrite replica with the
/// groups, pending entries and consumers a Redis replica of Redis has
/// (Redis's "Consumer group last ID propagation to slave" and
/// "Replication tests of XCLAIM with deleted entries" need a replica the
/// external test mode lacks).
#[test]
fn a_replica_holds_the_group_state_a_redis_replica_holds() {
    let (master, replica) = (Server::start(), Server::start());
    let ours = replica_group_state(master.port, replica.port);
    let (redis_master, redis_replica) = (common::Redis::start(&[]), common::Redis::start(&[]));
    let theirs = replica_group_state(redis_master.port, redis_replica.port);
    assert_eq!(ours, theirs);
}
