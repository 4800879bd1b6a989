//! FAILOVER end to end with two Ferrite processes on loopback: Redis's
//! error replies, a failover under a write load that loses no
//! acknowledged write (the old master continues the new one partially),
//! ABORT, a timeout without FORCE, and the target's checks of
//! `PSYNC <replid> <offset> FAILOVER`.

mod common;

use std::thread;

use common::repl::{cmd, connect, field, info, signal, wait_in_sync, wait_until};
use common::Server;

fn error(port: u16, args: &[&str]) -> String {
    let mut con = connect(port);
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    let err = command
        .query::<redis::Value>(&mut con)
        .expect_err("an error reply");
    format!(
        "{} {}",
        err.code().unwrap_or("?"),
        err.detail().unwrap_or("")
    )
}

fn replicate(replica: &Server, master: &Server) {
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
}

/// CONFIG GET replicaof's value.
fn replicaof_config(port: u16) -> String {
    let (_, value): (String, String) = redis::cmd("CONFIG")
        .arg("GET")
        .arg("replicaof")
        .query(&mut connect(port))
        .expect("config get");
    value
}

fn failover_state(port: u16) -> String {
    field(&info(port, "replication"), "master_failover_state")
}

#[test]
fn failover_errors_are_redis_s() {
    let master = Server::start();
    let replica = Server::start();
    let port = replica.port.to_string();
    assert_eq!(
        error(master.port, &["FAILOVER"]),
        "ERR FAILOVER requires connected replicas."
    );
    replicate(&replica, &master);
    assert_eq!(
        error(master.port, &["FAILOVER", "TO", "127.0.0.1", "1"]),
        "ERR FAILOVER target HOST and PORT is not a replica."
    );
    assert_eq!(
        error(master.port, &["FAILOVER", "TO", "127.0.0.1", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        error(master.port, &["FAILOVER", "FORCE", "TIMEOUT", "100"]),
        "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    );
    assert_eq!(
        error(
            master.port,
            &["FAILOVER", "TO", "127.0.0.1", &port, "FORCE"]
        ),
        "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    );
    assert_eq!(
        error(master.port, &["FAILOVER", "TIMEOUT", "0"]),
        "ERR FAILOVER timeout must be greater than 0"
    );
    assert_eq!(
        error(master.port, &["FAILOVER", "BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(
        error(master.port, &["FAILOVER", "ABORT"]),
        "ERR No failover in progress."
    );
    assert_eq!(
        error(replica.port, &["FAILOVER", "TO", "127.0.0.1", &port]),
        "ERR FAILOVER is not valid when server is a replica."
    );
    // PSYNC FAILOVER as the target checks it.
    let mut raw = master.raw();
    raw.send(b"PSYNC 0123 5 FAILOVER\r\n");
    assert_eq!(
        raw.read_line(),
        "-ERR PSYNC FAILOVER can't be sent to a master."
    );
    let mut raw = replica.raw();
    raw.send(b"PSYNC 0123 5 FAILOVER\r\n");
    assert_eq!(
        raw.read_line(),
        "-ERR PSYNC FAILOVER replid must match my replid."
    );
    assert_eq!(failover_state(master.port), "no-failover");
}

#[test]
fn failover_under_write_load_loses_no_acknowledged_write() {
    let master = Server::start();
    let replica = Server::start();
    replicate(&replica, &master);
    let (mport, rport) = (master.port, replica.port);
    // Each writer counts the INCRs it got a reply for, until READONLY.
    let writers: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                let mut con = connect(mport);
                let mut acknowledged = 0u64;
                loop {
                    match redis::cmd("INCR").arg("counter").query::<i64>(&mut con) {
                        Ok(_) => acknowledged += 1,
                        Err(e) => {
                            assert_eq!(e.code(), Some("READONLY"), "{e}");
                            return acknowledged;
                        }
                    }
                }
            })
        })
        .collect();
    wait_until("writes to be served", || {
        let mut con = connect(mport);
        redis::cmd("GET")
            .arg("counter")
            .query::<Option<i64>>(&mut con)
            .expect("get")
            .unwrap_or(0)
            > 1000
    });
    let reply = cmd(mport, &["FAILOVER", "TO", "127.0.0.1", &rport.to_string()]);
    assert_eq!(reply, redis::Value::Okay);
    let acknowledged: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    wait_until("the failover to end", || {
        failover_state(mport) == "no-failover"
            && field(&info(mport, "replication"), "master_link_status") == "up"
    });
    let old = info(mport, "replication");
    assert_eq!(field(&old, "role"), "slave");
    assert_eq!(field(&old, "master_port"), rport.to_string());
    let new = info(rport, "replication");
    assert_eq!(field(&new, "role"), "master");
    assert_eq!(field(&new, "connected_slaves"), "1");
    // `replicaof` follows the switch on both sides.
    assert_eq!(replicaof_config(mport), format!("127.0.0.1 {rport}"));
    assert_eq!(replicaof_config(rport), "");
    let stats = info(rport, "stats");
    assert_eq!(field(&stats, "sync_partial_ok"), "1");
    assert_eq!(field(&stats, "sync_full"), "0");
    let mut con = connect(rport);
    let counter: u64 = redis::cmd("GET")
        .arg("counter")
        .query(&mut con)
        .expect("get");
    assert_eq!(counter, acknowledged);
    // The new master's writes reach the old one.
    redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query::<()>(&mut con)
        .expect("set");
    wait_in_sync(rport, mport);
    let mut old = connect(mport);
    let after: String = redis::cmd("GET").arg("after").query(&mut old).expect("get");
    assert_eq!(after, "1");
}

#[test]
fn abort_and_timeout_leave_the_master_a_master() {
    let master = Server::start();
    let replica = Server::start();
    replicate(&replica, &master);
    let pid = field(&info(replica.port, "server"), "process_id");
    let port = replica.port.to_string();
    // A stopped replica never catches up with the write.
    signal(&pid, "-STOP");
    cmd(master.port, &["SET", "k", "1"]);
    cmd(master.port, &["FAILOVER", "TO", "127.0.0.1", &port]);
    assert_eq!(failover_state(master.port), "waiting-for-sync");
    assert_eq!(
        error(master.port, &["FAILOVER"]),
        "ERR FAILOVER already in progress."
    );
    assert_eq!(
        error(master.port, &["REPLICAOF", "NO", "ONE"]),
        "ERR REPLICAOF not allowed while failing over."
    );
    assert_eq!(
        error(master.port, &["PSYNC", "?", "-1"]),
        "NOMASTERLINK Can't SYNC while failing over"
    );
    // Writes wait; reads are served.
    let mut held = master.raw();
    held.send(b"SET k 2\r\n");
    assert_eq!(
        cmd(master.port, &["GET", "k"]),
        redis::Value::BulkString(b"1".to_vec())
    );
    assert_eq!(cmd(master.port, &["FAILOVER", "ABORT"]), redis::Value::Okay);
    assert_eq!(held.read_line(), "+OK");
    assert_eq!(failover_state(master.port), "no-failover");
    assert_eq!(field(&info(master.port, "replication"), "role"), "master");

    // Without FORCE a timeout aborts the failover.
    cmd(master.port, &["FAILOVER", "TIMEOUT", "300"]);
    wait_until("the failover to time out", || {
        failover_state(master.port) == "no-failover"
    });
    assert_eq!(field(&info(master.port, "replication"), "role"), "master");
    assert_eq!(cmd(master.port, &["SET", "k", "3"]), redis::Value::Okay);
    signal(&pid, "-CONT");
    wait_in_sync(master.port, replica.port);
}

/// A replica asked to take over applies what its master had already sent
/// it before it becomes a master, so the old master (and its other
/// replicas, which got the same stream) continue it partially. With FORCE
/// the old master fails over to a target that has not acknowledged its
/// last writes; single-threaded Redis reads its master's socket before it
/// gets to a new connection's PSYNC. Here the target is stopped while its
/// master writes and the PSYNC FAILOVER arrives on a new connection, so on
/// SIGCONT both sockets are readable at once; repeated because which one
/// a multi-threaded server served first was a race.
#[test]
fn failover_target_applies_the_stream_it_received_before_taking_over() {
    let master = Server::start();
    let replica = Server::start();
    let pid = field(&info(replica.port, "server"), "process_id");
    for round in 0..10 {
        replicate(&replica, &master);
        signal(&pid, "-STOP");
        cmd(master.port, &["SET", "case", &round.to_string()]);
        let status = info(master.port, "replication");
        let replid = field(&status, "master_replid");
        let offset: u64 = field(&status, "master_repl_offset")
            .parse()
            .expect("offset");
        let mut old_master = replica.raw();
        old_master.send(
            format!(
                "REPLCONF capa psync2\r\nPSYNC {replid} {} FAILOVER\r\n",
                offset + 1
            )
            .as_bytes(),
        );
        signal(&pid, "-CONT");
        assert_eq!(old_master.read_line(), "+OK");
        let reply = old_master.read_line();
        assert!(reply.starts_with("+CONTINUE "), "round {round}: {reply}");
        assert_eq!(
            cmd(replica.port, &["GET", "case"]),
            redis::Value::BulkString(round.to_string().into_bytes()),
            "round {round}"
        );
        assert_eq!(field(&info(replica.port, "replication"), "role"), "master");
    }
}
