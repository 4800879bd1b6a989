//! `repl-timeout` on both ends of a link, against a peer played by the
//! test over loopback: a Ferrite master disconnects a replica that stops
//! acknowledging, and a Ferrite replica drops (then reconnects to) a master
//! that goes silent after the full sync.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::repl::{cmd, field, info, wait_until};
use common::{RawConnection, Server};

/// Reads until the peer closes the connection.
fn wait_closed(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) => panic!("the peer kept the connection open: {e}"),
        }
    }
}

/// Plays a replica up to the end of the snapshot: returns the connection
/// and the RDB payload it received.
fn psync_as_replica(master: &Server) -> (RawConnection, Vec<u8>) {
    let mut raw = master.raw();
    raw.send(b"REPLCONF listening-port 7777\r\n");
    assert_eq!(raw.read_line(), "+OK");
    raw.send(b"PSYNC ? -1\r\n");
    assert!(raw.read_line().starts_with("+FULLRESYNC "));
    let header = raw.read_line();
    let len: usize = header
        .strip_prefix('$')
        .and_then(|l| l.parse().ok())
        .expect("a $<len> header");
    let mut rdb = vec![0u8; len];
    raw.stream.read_exact(&mut rdb).expect("the snapshot");
    (raw, rdb)
}

#[test]
fn master_disconnects_a_replica_that_stopped_acknowledging() {
    let master = Server::start_with(&["--repl-timeout", "1"]);
    let (mut raw, _) = psync_as_replica(&master);
    wait_until("the replica to be listed", || {
        field(&info(master.port, "replication"), "connected_slaves") == "1"
    });
    // It never sends REPLCONF ACK: the master closes the link.
    wait_closed(&mut raw.stream);
    wait_until("the replica to be gone", || {
        field(&info(master.port, "replication"), "connected_slaves") == "0"
    });
}

/// Reads from `stream` until `needle` arrived.
fn read_until(stream: &mut TcpStream, needle: &str) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = stream.read(&mut chunk).expect("read from the replica");
        assert!(n > 0, "the replica closed before sending {needle}");
        seen.extend_from_slice(&chunk[..n]);
    }
}

/// Plays a master up to the end of a full sync with `rdb`, then says nothing.
fn serve_full_sync(listener: &TcpListener, rdb: &[u8]) -> TcpStream {
    let (mut stream, _) = listener.accept().expect("the replica connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    read_until(&mut stream, "PING");
    stream.write_all(b"+PONG\r\n").expect("write");
    read_until(&mut stream, "psync2");
    stream.write_all(b"+OK\r\n+OK\r\n").expect("write");
    read_until(&mut stream, "PSYNC");
    let replid = "a".repeat(40);
    stream
        .write_all(format!("+FULLRESYNC {replid} 0\r\n${}\r\n", rdb.len()).as_bytes())
        .expect("write");
    stream.write_all(rdb).expect("write");
    stream
}

#[test]
fn replica_drops_a_silent_master_and_reconnects() {
    // A real snapshot to hand over, taken from a Ferrite master.
    let source = Server::start();
    let (_link, rdb) = psync_as_replica(&source);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let replica = Server::start_with(&["--repl-timeout", "1"]);
    cmd(replica.port, &["REPLICAOF", "127.0.0.1", &port.to_string()]);
    let mut first = serve_full_sync(&listener, &rdb);
    wait_until("the link to come up", || {
        field(&info(replica.port, "replication"), "master_link_status") == "up"
    });
    // No data nor PING: the replica closes the link, then connects again.
    wait_closed(&mut first);
    let (mut second, _) = listener.accept().expect("the replica reconnects");
    second
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    read_until(&mut second, "PING");
}
