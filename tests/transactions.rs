//! MULTI/EXEC/WATCH against a real server: queued replies, EXECABORT, a
//! transaction is atomic for other clients, WATCH races between clients
//! through the redis crate's optimistic-locking helper, and clients blocked
//! on keys a transaction pushed to are served after EXEC.

mod common;

use common::Server;

#[test]
fn exec_replies_with_each_queued_reply() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"MULTI\r\nSET a 1\r\nINCR a\r\nLPUSH a x\r\nGET a\r\nEXEC\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n");
    conn.expect(
        b"*4\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n2\r\n",
    );
    conn.send(b"EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nWATCH a\r\nDISCARD\r\n");
    conn.expect(b"-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n");
    conn.expect(
        b"-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n+OK\r\n",
    );
}

#[test]
fn a_command_refused_while_queueing_aborts_the_transaction() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"MULTI\r\nSET a 1\r\nNOSUCH x\r\nGET\r\nSET b 2\r\nEXEC\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n");
    conn.expect(b"-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n");
    conn.expect(b"-ERR wrong number of arguments for 'get' command\r\n+QUEUED\r\n");
    conn.expect(b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    conn.send(b"EXISTS a b\r\n");
    conn.expect(b":0\r\n");
}

#[test]
fn blocking_commands_do_not_block_inside_multi() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"MULTI\r\nBLPOP empty 0\r\nBLMOVE a b LEFT LEFT 0\r\nEXEC\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n*-1\r\n$-1\r\n");
}

#[test]
fn a_transaction_is_atomic_for_other_clients() {
    let server = Server::start();
    let writer = {
        let mut conn = server.client();
        std::thread::spawn(move || {
            for _ in 0..200 {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for _ in 0..50 {
                    pipe.cmd("INCR").arg("counter").ignore();
                }
                pipe.query::<()>(&mut conn).expect("exec");
            }
        })
    };
    let mut reader = server.client();
    while !writer.is_finished() {
        let value: Option<u64> = redis::cmd("GET")
            .arg("counter")
            .query(&mut reader)
            .expect("get");
        let value = value.unwrap_or(0);
        assert_eq!(value % 50, 0, "saw half a transaction: {value}");
    }
    writer.join().expect("writer thread");
    let value: u64 = redis::cmd("GET")
        .arg("counter")
        .query(&mut reader)
        .expect("get");
    assert_eq!(value, 200 * 50);
}

#[test]
fn watch_races_lose_no_update() {
    let server = Server::start();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut conn = server.client();
            std::thread::spawn(move || {
                let mut retries = 0u32;
                for _ in 0..100 {
                    // WATCH, read, then MULTI/EXEC; retried while EXEC returns null.
                    let _: () = redis::transaction(&mut conn, &["balance"], |conn, pipe| {
                        let balance: Option<i64> = redis::cmd("GET").arg("balance").query(conn)?;
                        let next = balance.unwrap_or(0) + 1;
                        let result: Option<()> = pipe.set("balance", next).ignore().query(conn)?;
                        if result.is_none() {
                            retries += 1;
                        }
                        Ok(result)
                    })
                    .expect("transaction");
                }
                retries
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client thread");
    }
    let mut conn = server.client();
    let balance: i64 = redis::cmd("GET")
        .arg("balance")
        .query(&mut conn)
        .expect("get");
    assert_eq!(balance, 400);
}

#[test]
fn watched_key_changed_by_another_client_fails_exec() {
    let server = Server::start();
    let mut watcher = server.raw();
    let mut other = server.raw();
    watcher.send(b"SET k 1\r\nWATCH k missing\r\n");
    watcher.expect(b"+OK\r\n+OK\r\n");
    other.send(b"DEL missing\r\nAPPEND k 2\r\n");
    other.expect(b":0\r\n:2\r\n");
    watcher.send(b"MULTI\r\nGET k\r\nEXEC\r\nMULTI\r\nGET k\r\nEXEC\r\n");
    watcher.expect(b"+OK\r\n+QUEUED\r\n*-1\r\n+OK\r\n+QUEUED\r\n*1\r\n$2\r\n12\r\n");
}

#[test]
fn a_write_that_changed_nothing_leaves_watchers_alone() {
    let server = Server::start();
    let mut watcher = server.raw();
    let mut other = server.raw();
    watcher.send(b"SADD s a\r\nSET k v\r\nWATCH s k\r\n");
    watcher.expect(b":1\r\n+OK\r\n+OK\r\n");
    // A member already there, SET NX on an existing key, EXPIRE XX on a key
    // without expiry: nothing changed, as Redis judges it.
    other.send(b"SADD s a\r\nSET k w NX\r\nEXPIRE k 100 XX\r\n");
    other.expect(b":0\r\n$-1\r\n:0\r\n");
    watcher.send(b"MULTI\r\nGET k\r\nEXEC\r\n");
    watcher.expect(b"+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n");
    // SMOVE of a member the destination already has changes only the
    // source.
    watcher.send(b"WATCH s\r\n");
    watcher.expect(b"+OK\r\n");
    other.send(b"SADD src a\r\nSMOVE src s a\r\nSISMEMBER src a\r\n");
    other.expect(b":1\r\n:1\r\n:0\r\n");
    watcher.send(b"MULTI\r\nGET k\r\nEXEC\r\n");
    watcher.expect(b"+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n");
    // A write that changed the key still aborts the transaction.
    watcher.send(b"WATCH s\r\n");
    watcher.expect(b"+OK\r\n");
    other.send(b"SADD s b\r\n");
    other.expect(b":1\r\n");
    watcher.send(b"MULTI\r\nGET k\r\nEXEC\r\n");
    watcher.expect(b"+OK\r\n+QUEUED\r\n*-1\r\n");
}

#[test]
fn a_push_inside_multi_serves_blocked_clients_after_exec() {
    let server = Server::start();
    let mut blocked = server.raw();
    blocked.send(b"BLPOP list 0\r\n");
    server.wait_blocked(1);
    let mut pusher = server.raw();
    pusher.send(b"MULTI\r\nLPUSH list a\r\nLPUSH list b\r\nLPUSH list c\r\nEXEC\r\n");
    pusher.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:1\r\n:2\r\n:3\r\n");
    // The blocked client sees the transaction's end state: the last push.
    blocked.expect(b"*2\r\n$4\r\nlist\r\n$1\r\nc\r\n");
    pusher.send(b"LRANGE list 0 -1\r\n");
    pusher.expect(b"*2\r\n$1\r\nb\r\n$1\r\na\r\n");
}

/// EXEC is judged as a whole when it arrives, as Redis's processCommand
/// does: the queued commands after a REPLICAOF still run, and a server
/// that became a read-only replica since MULTI discards the transaction.
#[test]
fn exec_is_refused_or_run_as_a_whole_when_the_role_changes() {
    let server = Server::start();
    let mut conn = server.raw();
    // Nothing listens on port 1: the link stays down, the data stays.
    conn.send(b"MULTI\r\nSET a 1\r\nREPLICAOF 127.0.0.1 1\r\nSET b 2\r\nEXEC\r\nSET c 3\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n+OK\r\n+OK\r\n");
    conn.expect(b"-READONLY You can't write against a read only replica.\r\n");
    conn.send(b"MGET a b\r\nREPLICAOF NO ONE\r\n");
    conn.expect(b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n+OK\r\n");
    // Queued on a master; another client makes it a replica before EXEC.
    let mut other = server.raw();
    conn.send(b"MULTI\r\nSET d 4\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n");
    other.send(b"REPLICAOF 127.0.0.1 1\r\n");
    other.expect(b"+OK\r\n");
    conn.send(b"EXEC\r\nEXEC\r\n");
    conn.expect(b"-EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica.\r\n");
    conn.expect(b"-ERR EXEC without MULTI\r\n");
    // The same for a stale replica and a queued command not flagged stale.
    other.send(b"REPLICAOF NO ONE\r\nCONFIG SET replica-serve-stale-data no\r\n");
    other.expect(b"+OK\r\n+OK\r\n");
    conn.send(b"MULTI\r\nGET a\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n");
    other.send(b"REPLICAOF 127.0.0.1 1\r\n");
    other.expect(b"+OK\r\n");
    conn.send(b"EXEC\r\n");
    conn.expect(b"-EXECABORT Transaction discarded because of: MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n");
}
