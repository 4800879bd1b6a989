//! Expiry on replicas, end to end, as Redis 7.0 has it: a replica never
//! deletes its master's keys because they expired (it hides them from its
//! own clients until the master's DEL arrives), its master's stream sees
//! them regardless, a writable replica deletes the expired keys its writes
//! meet and expires the keys its own clients gave a TTL, and a promoted
//! replica expires keys itself again.
//!
//! Keys that have already expired on the replica are made with
//! `DEBUG REPLICATE SET key value PXAT 1`: the master feeds the command
//! without running it, so only the replica holds the key.

mod common;

use common::repl::{cmd, connect, field, info, wait_in_sync};
use common::{wait_until, Redis, Server};
use redis::Value;

fn bulk(text: &str) -> Value {
    Value::BulkString(text.as_bytes().to_vec())
}

/// A fresh master and a replica of it, in sync.
fn master_and_replica() -> (Server, Server) {
    let master = Server::start();
    let replica = Server::start();
    let port = master.port.to_string();
    assert_eq!(
        cmd(replica.port, &["REPLICAOF", "127.0.0.1", &port]),
        Value::Okay
    );
    wait_in_sync(master.port, replica.port);
    (master, replica)
}

/// Feeds `args` to the replicas of `master` without running them there.
fn feed_only(master: &Server, replica: &Server, args: &[&str]) {
    let mut command = vec!["DEBUG", "REPLICATE"];
    command.extend_from_slice(args);
    assert_eq!(cmd(master.port, &command), Value::Okay);
    wait_in_sync(master.port, replica.port);
}

fn expired_keys(port: u16) -> String {
    field(&info(port, "stats"), "expired_keys")
}

#[test]
fn a_read_only_replica_hides_expired_keys_and_keeps_them_for_its_master() {
    let (master, replica) = master_and_replica();
    assert_eq!(cmd(master.port, &["SET", "live", "v"]), Value::Okay);
    feed_only(&master, &replica, &["SET", "k", "1", "PXAT", "1"]);
    let r = replica.port;
    assert_eq!(cmd(r, &["EXISTS", "k"]), Value::Int(0));
    assert_eq!(cmd(r, &["GET", "k"]), Value::Nil);
    assert_eq!(cmd(r, &["TTL", "k"]), Value::Int(-2));
    assert_eq!(cmd(r, &["TYPE", "k"]), Value::SimpleString("none".into()));
    assert_eq!(cmd(r, &["OBJECT", "ENCODING", "k"]), Value::Nil);
    assert_eq!(cmd(r, &["KEYS", "*"]), Value::Array(vec![bulk("live")]));
    assert_eq!(
        cmd(r, &["SCAN", "0"]),
        Value::Array(vec![bulk("0"), Value::Array(vec![bulk("live")])])
    );
    for _ in 0..20 {
        assert_eq!(cmd(r, &["RANDOMKEY"]), bulk("live"));
    }
    // None of those reads deleted it: it waits for the master's DEL.
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(2));
    let Value::SimpleString(object) = cmd(r, &["DEBUG", "OBJECT", "k"]) else {
        panic!("DEBUG OBJECT of a key still stored");
    };
    assert!(object.starts_with("Value at:"), "{object}");
    // A replica's snapshot keeps it too (its own replicas wait for the DEL).
    assert_eq!(cmd(r, &["DEBUG", "RELOAD"]), Value::Okay);
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(2));
    assert_eq!(expired_keys(r), "0");

    // The master's stream sees the key as it is: INCR finds 1 and keeps
    // the expiry, so the key is still hidden until PERSIST clears it.
    feed_only(&master, &replica, &["INCR", "k"]);
    assert_eq!(cmd(r, &["GET", "k"]), Value::Nil);
    feed_only(&master, &replica, &["PERSIST", "k"]);
    assert_eq!(cmd(r, &["GET", "k"]), bulk("2"));

    feed_only(&master, &replica, &["PEXPIREAT", "k", "1"]);
    feed_only(&master, &replica, &["DEL", "live"]);
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(1));
    // Every key has an expiry and all expired: RANDOMKEY gives up looking
    // for a live one and names an expired one, as Redis's dbRandomKey does.
    assert_eq!(cmd(r, &["RANDOMKEY"]), bulk("k"));
    feed_only(&master, &replica, &["DEL", "k"]);
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(0));
    assert_eq!(expired_keys(r), "0");
}

#[test]
fn a_writable_replica_deletes_what_its_writes_meet_and_expires_its_own_keys() {
    let (master, replica) = master_and_replica();
    let r = replica.port;
    assert_eq!(
        cmd(r, &["CONFIG", "SET", "replica-read-only", "no"]),
        Value::Okay
    );
    feed_only(&master, &replica, &["SET", "key1", "5", "PXAT", "1"]);
    feed_only(&master, &replica, &["SET", "key2", "5", "PXAT", "1"]);
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(2));
    // A write deletes the expired key it meets and starts afresh.
    assert_eq!(cmd(r, &["INCR", "key1"]), Value::Int(1));
    assert_eq!(cmd(r, &["TTL", "key1"]), Value::Int(-1));
    // A read only hides it.
    assert_eq!(cmd(r, &["GET", "key2"]), Value::Nil);
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(2));
    assert_eq!(expired_keys(r), "1");

    // A key this replica's client gave a TTL is expired by the replica's
    // own active cycle; the master's expired key2 is not.
    assert_eq!(cmd(r, &["SET", "own", "v", "PX", "1"]), Value::Okay);
    wait_until("the replica to expire its own key", || {
        expired_keys(r) == "2"
    });
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(2));
    assert_eq!(cmd(r, &["EXISTS", "key1"]), Value::Int(1));
    assert!(matches!(
        cmd(r, &["DEBUG", "OBJECT", "key2"]),
        Value::SimpleString(_)
    ));
}

#[test]
fn a_promoted_replica_expires_keys_itself() {
    let (master, replica) = master_and_replica();
    let r = replica.port;
    feed_only(&master, &replica, &["SET", "met", "v", "PXAT", "1"]);
    feed_only(&master, &replica, &["SET", "swept", "v", "PXAT", "1"]);
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(2));
    assert_eq!(cmd(r, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), Value::Okay);
    assert_eq!(cmd(r, &["REPLICAOF", "NO", "ONE"]), Value::Okay);
    // Lazily: the read deletes what it meets.
    assert_eq!(cmd(r, &["GET", "met"]), Value::Nil);
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(1));
    // Actively.
    assert_eq!(cmd(r, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), Value::Okay);
    wait_until("the active cycle to expire the other key", || {
        cmd(r, &["DBSIZE"]) == Value::Int(0)
    });
    assert_eq!(expired_keys(r), "2");
}

#[test]
fn a_replica_loading_its_masters_snapshot_keeps_the_expired_keys_in_it() {
    // Redis's snapshot holds the keys it has not deleted yet, expired ones
    // included; its replica keeps them until the DEL arrives.
    let master = Redis::start(&["--enable-debug-command", "yes"]);
    let m = master.port;
    assert_eq!(cmd(m, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), Value::Okay);
    let expire_at = ferrite_storage::now_ms() + 50;
    let at = expire_at.to_string();
    assert_eq!(cmd(m, &["SET", "k", "v", "PXAT", &at]), Value::Okay);
    wait_until("the key's expiry time to pass", || {
        ferrite_storage::now_ms() > expire_at
    });
    let replica = Server::start();
    let r = replica.port;
    assert_eq!(
        cmd(r, &["REPLICAOF", "127.0.0.1", &m.to_string()]),
        Value::Okay
    );
    wait_until("the replica to load the snapshot", || {
        field(&info(r, "replication"), "master_link_status") == "up"
    });
    assert_eq!(cmd(r, &["DBSIZE"]), Value::Int(1));
    assert_eq!(cmd(r, &["EXISTS", "k"]), Value::Int(0));
    // The master deletes it when a client meets it, and feeds the DEL.
    let _: Option<String> = redis::cmd("GET")
        .arg("k")
        .query(&mut connect(m))
        .expect("get");
    wait_until("the master's DEL to arrive", || {
        cmd(r, &["DBSIZE"]) == Value::Int(0)
    });
}
