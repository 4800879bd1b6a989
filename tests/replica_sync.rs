//! A full sync as Redis shows it on both ends: the replica's loading states
//! while a `repl-diskless-load swapdb` snapshot arrives (`loading:1` and
//! -LOADING for a new history, `async_loading:1` with the old data served
//! for the same one), and the master ending a link whose replica sends
//! anything but acknowledgements, or refusing a PSYNC with a bad offset.

mod common;

use common::repl::{cmd, connect, field, info, wait_in_sync, wait_until};
use common::Server;

/// The reply of one command, errors included, as text.
fn reply(port: u16, args: &[&str]) -> String {
    let mut con = connect(port);
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    match command.query::<redis::Value>(&mut con) {
        Ok(redis::Value::BulkString(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(redis::Value::Okay) => "OK".into(),
        Ok(redis::Value::Int(n)) => n.to_string(),
        Ok(other) => format!("{other:?}"),
        Err(error) => format!(
            "{}: {}",
            error.code().unwrap_or("?"),
            error.detail().unwrap_or("")
        ),
    }
}

/// A master whose diskless snapshots take about 20 seconds (200 keys, 0.1 s
/// each) until `rdb-key-save-delay` is set back to 0.
fn slow_master() -> Server {
    let master = Server::start_with(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    cmd(master.port, &["DEBUG", "POPULATE", "200", "master"]);
    master
}

fn loading_flags(port: u16) -> (String, String) {
    let persistence = info(port, "persistence");
    (
        field(&persistence, "loading"),
        field(&persistence, "async_loading"),
    )
}

#[test]
fn a_swapdb_load_of_a_new_history_refuses_commands_until_it_is_installed() {
    let master = slow_master();
    let replica = Server::start_with(&["--repl-diskless-load", "swapdb"]);
    cmd(replica.port, &["SET", "mykey", "old"]);
    cmd(
        master.port,
        &["CONFIG", "SET", "rdb-key-save-delay", "100000"],
    );
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_until("the replica to be loading", || {
        loading_flags(replica.port) == ("1".into(), "0".into())
    });
    assert_eq!(
        reply(replica.port, &["GET", "mykey"]),
        "LOADING: Redis is loading the dataset in memory"
    );
    assert!(!field(&info(replica.port, "persistence"), "loading_start_time").is_empty());
    cmd(master.port, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_in_sync(master.port, replica.port);
    assert_eq!(loading_flags(replica.port), ("0".into(), "0".into()));
    assert_eq!(reply(replica.port, &["DBSIZE"]), "200");
    assert_eq!(reply(replica.port, &["GET", "master:0"]), "value:0");
}

#[test]
fn a_swapdb_load_of_the_same_history_serves_the_old_data_meanwhile() {
    let master = slow_master();
    let replica = Server::start_with(&[
        "--repl-diskless-load",
        "swapdb",
        "--replica-read-only",
        "no",
    ]);
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    cmd(replica.port, &["SET", "mykey", "replica-only"]);
    // A full sync of the same history: the link is cut and the backlog
    // no longer reaches the replica's offset.
    cmd(
        master.port,
        &["CONFIG", "SET", "rdb-key-save-delay", "100000"],
    );
    let filler = "A".repeat(16384);
    let mut cut = redis::pipe();
    cut.atomic()
        .cmd("CONFIG")
        .arg("SET")
        .arg("repl-backlog-size")
        .arg("16384")
        .cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica");
    for n in 0..4 {
        cut.cmd("SET").arg(format!("filler:{n}")).arg(&filler);
    }
    let _: redis::Value = cut.query(&mut connect(master.port)).expect("the cut");
    wait_until("the replica to be loading asynchronously", || {
        loading_flags(replica.port) == ("0".into(), "1".into())
    });
    assert_eq!(reply(replica.port, &["GET", "mykey"]), "replica-only");
    assert_eq!(
        reply(replica.port, &["REPLICAOF", "NO", "ONE"]),
        "LOADING: Redis is loading the dataset in memory"
    );
    assert_eq!(
        reply(replica.port, &["CONFIG", "SET", "appendonly", "no"]),
        "LOADING: Redis is loading the dataset in memory"
    );
    cmd(master.port, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    wait_in_sync(master.port, replica.port);
    assert_eq!(loading_flags(replica.port), ("0".into(), "0".into()));
    assert_eq!(reply(replica.port, &["EXISTS", "mykey"]), "0");
    assert_eq!(reply(replica.port, &["DBSIZE"]), "204");
}

#[test]
fn the_master_ends_a_link_whose_replica_sends_a_command() {
    let master = Server::start();
    let mut link = master.raw();
    link.send(b"PSYNC ? -1\r\n");
    assert!(link.read_line().starts_with("+FULLRESYNC "));
    // The master reads the PING while it prepares or sends the snapshot,
    // and ends the link (whatever of the snapshot it sent).
    link.send(b"PING\r\n");
    link.stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut link.stream, &mut rest).expect("the master closes the link");
    wait_until("the replica to be gone", || {
        field(&info(master.port, "replication"), "connected_slaves") == "0"
    });
}

#[test]
fn acknowledgements_keep_a_link_open() {
    let master = Server::start();
    let mut link = master.raw();
    link.send(b"PSYNC ? -1\r\n");
    assert!(link.read_line().starts_with("+FULLRESYNC "));
    common::repl::skip_snapshot(&mut link);
    link.send(b"REPLCONF ACK 0\r\nREPLCONF ACK notanumber\r\n");
    cmd(master.port, &["SET", "k", "v"]);
    // The stream goes on (PINGs of the cron may come first).
    let mut received = Vec::new();
    while received.last().is_none_or(|c: &Vec<String>| c[0] != "SET") {
        received.push(common::read_command(&mut link));
    }
    assert_eq!(
        received[received.len() - 2..],
        [vec!["SELECT", "0"], vec!["SET", "k", "v"]]
    );
    assert_eq!(
        field(&info(master.port, "replication"), "connected_slaves"),
        "1"
    );
}

#[test]
fn psync_with_a_bad_offset_is_refused() {
    let master = Server::start();
    let mut con = master.raw();
    con.send(b"PSYNC replicationid offset_str\r\nPING\r\n");
    assert_eq!(
        con.read_line(),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(con.read_line(), "+PONG");
}
