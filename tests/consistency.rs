//! The consistency modes (`replica-ack-mode async|one|all`,
//! `replica-ack-timeout`) end to end: a Ferrite master and Ferrite replicas
//! on loopback. A write's reply comes only once the promised replicas
//! acknowledged it (so the replica already serves it), pipelined writes and
//! MULTI/EXEC are settled together, and a write nobody acknowledged in time
//! gets the NOACK error instead of its reply while staying applied.

mod common;

use common::repl::{cmd, connect, field, info, signal, wait_in_sync};
use common::Server;

fn noack(acked: usize, required: usize, timeout_ms: u64) -> String {
    format!("-NOACK Write applied on the master, but acknowledged by only {acked} of {required} required replicas within {timeout_ms} ms")
}

fn replicate(replica: &Server, master: &Server) {
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
}

fn process_id(server: &Server) -> String {
    field(&info(server.port, "server"), "process_id")
}

/// Sends `requests` in one write and reads `lines` reply lines.
fn pipeline(server: &Server, requests: &str, lines: usize) -> Vec<String> {
    let mut raw = server.raw();
    raw.send(requests.as_bytes());
    (0..lines).map(|_| raw.read_line()).collect()
}

#[test]
fn one_replica_mode_replies_after_the_replica_applied_the_write() {
    let master = Server::start_with(&[
        "--replica-ack-mode",
        "one",
        "--replica-ack-timeout",
        "30000",
    ]);
    let replica = Server::start();
    replicate(&replica, &master);
    let mut m = connect(master.port);
    let mut r = connect(replica.port);
    for i in 0..50 {
        let reply: String = redis::cmd("SET")
            .arg("k")
            .arg(i)
            .query(&mut m)
            .expect("set");
        assert_eq!(reply, "OK");
        // Acknowledged means processed by the replica: it serves the value.
        let seen: String = redis::cmd("GET").arg("k").query(&mut r).expect("get");
        assert_eq!(seen, i.to_string());
    }
    let status = info(master.port, "replication");
    assert_eq!(field(&status, "replica_ack_mode"), "one");
    assert_eq!(field(&status, "replica_ack_timeout"), "30000");
    assert_eq!(field(&status, "replica_ack_timeouts"), "0");

    // Pipelined writes share one wait; every reply is the plain one.
    let replies = pipeline(
        &master,
        "SET a 1\r\nINCR a\r\nGET a\r\nMULTI\r\nINCR a\r\nINCR a\r\nEXEC\r\n",
        10,
    );
    assert_eq!(
        replies,
        ["+OK", ":2", "$1", "2", "+OK", "+QUEUED", "+QUEUED", "*2", ":3", ":4"]
    );
    let seen: String = redis::cmd("GET").arg("a").query(&mut r).expect("get");
    assert_eq!(seen, "4");
}

#[test]
fn a_write_nobody_acknowledged_gets_noack_but_stays_applied() {
    let master = Server::start_with(&["--replica-ack-mode", "one", "--replica-ack-timeout", "200"]);
    let replies = pipeline(
        &master,
        "SET k v\r\nGET k\r\nDEL missing\r\nMULTI\r\nSET x 1\r\nINCR x\r\nEXEC\r\nGET x\r\n\
         EVAL \"redis.call('set', 's', '1') return redis.call('incr', 's')\" 0\r\n\
         EVAL \"return redis.call('get', 's')\" 0\r\n",
        13,
    );
    let error = noack(0, 1, 200);
    assert_eq!(
        replies,
        [
            error.as_str(),
            "$1",
            "v",
            // Nothing changed, nothing to replicate: the plain reply.
            ":0",
            "+OK",
            "+QUEUED",
            "+QUEUED",
            // The transaction is one write, with one reply.
            error.as_str(),
            "$1",
            "2",
            // A script's writes are one write too; a read-only one waits
            // for nothing.
            error.as_str(),
            "$1",
            "2",
        ]
    );
    let status = info(master.port, "replication");
    assert_eq!(field(&status, "replica_ack_timeouts"), "3");

    // CONFIG SET changes the mode at run time; async replies at once.
    let mut m = connect(master.port);
    let set: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-ack-mode")
        .arg("async")
        .query(&mut m)
        .expect("config set");
    assert_eq!(set, "OK");
    let reply: String = redis::cmd("SET")
        .arg("k")
        .arg("w")
        .query(&mut m)
        .expect("set");
    assert_eq!(reply, "OK");
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("replica-ack-*")
        .query(&mut m)
        .expect("config get");
    assert_eq!(
        got,
        ["replica-ack-mode", "async", "replica-ack-timeout", "200"]
    );
    let bad = redis::cmd("CONFIG")
        .arg("SET")
        .arg("replica-ack-mode")
        .arg("quorum")
        .query::<String>(&mut m)
        .expect_err("invalid mode");
    assert!(
        bad.to_string()
            .contains("argument(s) must be one of the following: async, one, all"),
        "{bad}"
    );
}

#[test]
fn all_replica_mode_reports_the_replica_that_did_not_acknowledge() {
    let master = Server::start_with(&[
        "--replica-ack-mode",
        "all",
        "--replica-ack-timeout",
        "30000",
    ]);
    let first = Server::start();
    let second = Server::start();
    replicate(&first, &master);
    replicate(&second, &master);
    let mut m = connect(master.port);
    let reply: String = redis::cmd("SET")
        .arg("k")
        .arg("1")
        .query(&mut m)
        .expect("set");
    assert_eq!(reply, "OK");
    for replica in [&first, &second] {
        let mut r = connect(replica.port);
        let seen: String = redis::cmd("GET").arg("k").query(&mut r).expect("get");
        assert_eq!(seen, "1");
    }

    // A stopped replica cannot acknowledge: after the timeout the write is
    // reported as acknowledged by one of the two.
    cmd(
        master.port,
        &["CONFIG", "SET", "replica-ack-timeout", "300"],
    );
    let pid = process_id(&second);
    signal(&pid, "-STOP");
    let replies = pipeline(&master, "SET k 2\r\nGET k\r\n", 3);
    assert_eq!(replies, [noack(1, 2, 300).as_str(), "$1", "2"]);
    signal(&pid, "-CONT");
    wait_in_sync(master.port, second.port);
    let mut r = connect(second.port);
    let seen: String = redis::cmd("GET").arg("k").query(&mut r).expect("get");
    assert_eq!(seen, "2");
    let reply: String = redis::cmd("SET")
        .arg("k")
        .arg("3")
        .query(&mut m)
        .expect("set");
    assert_eq!(reply, "OK");
}

/// WAIT counts a SIGSTOPped replica out from the moment `kill` returns,
/// as with Redis: the replication link runs on the main thread, the one
/// the kernel stops first. (On a worker thread the link went on applying
/// and acknowledging for a moment: up to one round in five acknowledged
/// under load.)
#[test]
fn a_stopped_replica_acknowledges_nothing_once_kill_returned() {
    let master = Server::start();
    let replica = Server::start();
    replicate(&replica, &master);
    let pid = process_id(&replica);
    let mut m = connect(master.port);
    for round in 0..100 {
        signal(&pid, "-STOP");
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(round)
            .query(&mut m)
            .expect("set");
        let _: i64 = redis::cmd("INCR").arg("k").query(&mut m).expect("incr");
        let acked: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(20)
            .query(&mut m)
            .expect("wait");
        assert_eq!(acked, 0, "round {round}: a stopped replica acknowledged");
        signal(&pid, "-CONT");
        let acked: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(0)
            .query(&mut m)
            .expect("wait");
        assert_eq!(
            acked, 1,
            "round {round}: the resumed replica did not acknowledge"
        );
    }
}
