//! Connections from another address: protected mode refuses a client that
//! is not local with Redis's `-DENIED` text, and a replica's connection to
//! its master leaves from `bind-source-addr`. Both use 127.0.0.2, a loopback
//! address that Redis's rule (exactly 127.0.0.1 or ::1) does not count as local.

mod common;

use common::repl::{cmd, field, info, wait_in_sync, wait_until};
use common::{temp_dir, Server};

#[test]
fn protected_mode_refuses_a_replica_from_another_address_until_turned_off() {
    let master = Server::start();
    let dir = temp_dir("bind-source");
    let log = dir.join("server.log");
    let log_arg = log.display().to_string();
    let replica = Server::start_in(
        dir,
        None,
        &["--bind-source-addr", "127.0.0.2", "--logfile", &log_arg],
    );
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_until("the master to refuse the replica", || {
        field(&info(master.port, "stats"), "rejected_connections") != "0"
    });
    wait_until("the replica to log the refusal", || {
        std::fs::read_to_string(&log).unwrap_or_default().contains(
            "Error reply to PING from master: '-DENIED Redis is running in protected mode because \
             protected mode is enabled and no password is set for the default user.",
        )
    });
    assert_eq!(
        field(&info(replica.port, "replication"), "master_link_status"),
        "down"
    );

    cmd(master.port, &["CONFIG", "SET", "protected-mode", "no"]);
    wait_in_sync(master.port, replica.port);
    let slave0 = field(&info(master.port, "replication"), "slave0");
    assert!(slave0.starts_with("ip=127.0.0.2,"), "{slave0}");
}

#[test]
fn protected_mode_serves_local_clients_and_clients_of_a_server_with_a_password() {
    let server = Server::start();
    assert_eq!(
        cmd(server.port, &["CONFIG", "GET", "protected-mode"]),
        redis::Value::Array(vec![
            redis::Value::BulkString(b"protected-mode".to_vec()),
            redis::Value::BulkString(b"yes".to_vec()),
        ])
    );
    let replica = Server::start_with(&["--bind-source-addr", "127.0.0.2"]);
    cmd(server.port, &["CONFIG", "SET", "requirepass", "secret"]);
    cmd(replica.port, &["CONFIG", "SET", "masterauth", "secret"]);
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &server.port.to_string()],
    );
    wait_until("the replica to connect", || {
        field(&info(replica.port, "replication"), "master_link_status") == "up"
    });
    let mut con = redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", server.port))
        .expect("client")
        .get_connection()
        .expect("connection");
    let stats: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut con)
        .expect("INFO");
    assert_eq!(field(&stats, "rejected_connections"), "0");
}
