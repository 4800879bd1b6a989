//! CLIENT PAUSE / UNPAUSE with real clients: what is postponed (and shown as
//! blocked) and what runs, the order of a postponed client's replies, the
//! argument errors, the dataset kept still (no expiry) while paused, and a
//! paused replica reading its master's stream without applying it.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, RawConnection, Server};

/// Reads one bulk string reply.
fn read_bulk(conn: &mut RawConnection) -> String {
    let header = conn.read_line();
    let len: usize = header.trim_start_matches('$').parse().expect("bulk length");
    let mut body = vec![0u8; len + 2];
    std::io::Read::read_exact(&mut conn.stream, &mut body).expect("bulk body");
    String::from_utf8_lossy(&body[..len]).into_owned()
}

fn info_field(conn: &mut RawConnection, section: &str, name: &str) -> String {
    conn.send(format!("INFO {section}\r\n").as_bytes());
    read_bulk(conn)
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
}

/// The CLIENT LIST line of the client named `name`.
fn client_line(conn: &mut RawConnection, name: &str) -> String {
    conn.send(b"CLIENT LIST\r\n");
    read_bulk(conn)
        .lines()
        .find(|line| line.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("no client named {name}"))
        .to_string()
}

#[test]
fn a_write_pause_postpones_writes_after_the_replies_before_them() {
    let server = Server::start();
    let mut admin = server.raw();
    admin.send(b"CLIENT PAUSE 100000 WRITE\r\n");
    admin.expect(b"+OK\r\n");
    let mut writer = server.raw();
    writer.send(b"CLIENT SETNAME writer\r\n");
    writer.expect(b"+OK\r\n");
    // Pipelined: the read's reply comes at once, the write waits.
    writer.send(b"GET k\r\nSET k v\r\nGET k\r\n");
    writer.expect(b"$-1\r\n");
    server.wait_blocked(1);
    let line = client_line(&mut admin, "writer");
    assert!(line.contains(" flags=b "), "{line}");
    assert!(line.contains(" cmd=set "), "{line}");
    // Reads from others go on; syntax errors are not postponed.
    admin.send(b"GET k\r\nSET k\r\n");
    admin.expect(b"$-1\r\n-ERR wrong number of arguments for 'set' command\r\n");
    admin.send(b"CLIENT UNPAUSE\r\n");
    admin.expect(b"+OK\r\n");
    writer.expect(b"+OK\r\n$1\r\nv\r\n");
    server.wait_blocked(0);
}

/// Under ALL every command waits, CLIENT UNPAUSE and INFO included (as in
/// Redis), so only the pause's end releases them; a later WRITE pause of
/// the same purpose keeps ALL and extends it.
#[test]
fn an_all_pause_postpones_every_command_until_it_ends() {
    let server = Server::start();
    let mut conn = server.raw();
    let started = Instant::now();
    conn.send(b"MULTI\r\nCLIENT PAUSE 200 ALL\r\nCLIENT PAUSE 400 WRITE\r\nEXEC\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n+OK\r\n");
    let mut other = server.raw();
    other.send(b"CLIENT UNPAUSE\r\nGET k\r\n");
    other.expect(b"+OK\r\n$-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[test]
fn pause_arguments_are_checked_as_redis_does() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"CLIENT PAUSE abc WRITE\r\n");
    conn.expect(b"-ERR timeout is not an integer or out of range\r\n");
    conn.send(b"CLIENT PAUSE -1\r\n");
    conn.expect(b"-ERR timeout is negative\r\n");
    // The mode is checked before the timeout.
    conn.send(b"CLIENT PAUSE abc NONE\r\n");
    conn.expect(b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n");
    conn.send(b"CLIENT PAUSE 10 WRITE extra\r\n");
    conn.expect(
        b"-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n",
    );
    // A zero timeout pauses nothing.
    conn.send(b"CLIENT PAUSE 0\r\nSET k v\r\n");
    conn.expect(b"+OK\r\n+OK\r\n");
}

#[test]
fn transactions_and_scripts_are_judged_by_what_they_may_write() {
    let server = Server::start();
    let mut admin = server.raw();
    admin.send(b"SET k v\r\n");
    admin.expect(b"+OK\r\n");
    let mut queued = server.raw();
    queued.send(b"MULTI\r\nSET k w\r\n");
    queued.expect(b"+OK\r\n+QUEUED\r\n");
    admin.send(b"CLIENT PAUSE 100000 WRITE\r\n");
    admin.expect(b"+OK\r\n");
    // A read-only transaction and no-writes scripts run.
    let mut reader = server.raw();
    reader.send(b"MULTI\r\nGET k\r\nEXEC\r\n");
    reader.expect(b"+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n");
    common::send(
        &mut reader,
        &[b"EVAL", b"#!lua flags=no-writes\nreturn 1", b"0"],
    );
    reader.expect(b":1\r\n");
    common::send(
        &mut reader,
        &[b"EVAL_RO", b"return redis.call('get', KEYS[1])", b"1", b"k"],
    );
    reader.expect(b"$1\r\nv\r\n");
    // EXEC of a write and a script without flags wait.
    queued.send(b"EXEC\r\n");
    server.wait_blocked(1);
    let mut script = server.raw();
    common::send(&mut script, &[b"EVAL", b"return 2", b"0"]);
    server.wait_blocked(2);
    // Queueing a write in MULTI is postponed too, as Redis checks the pause first.
    let mut queueing = server.raw();
    queueing.send(b"MULTI\r\nSET other x\r\n");
    queueing.expect(b"+OK\r\n");
    server.wait_blocked(3);
    admin.send(b"CLIENT UNPAUSE\r\n");
    admin.expect(b"+OK\r\n");
    queued.expect(b"*1\r\n+OK\r\n");
    script.expect(b":2\r\n");
    queueing.expect(b"+QUEUED\r\n");
}

#[test]
fn a_postponed_client_that_disconnects_or_is_killed_is_no_longer_blocked() {
    let server = Server::start();
    let mut admin = server.raw();
    admin.send(b"CLIENT PAUSE 100000 WRITE\r\n");
    admin.expect(b"+OK\r\n");
    let mut leaving = server.raw();
    leaving.send(b"SET a 1\r\n");
    let mut killed = server.raw();
    killed.send(b"CLIENT ID\r\n");
    let id = killed.read_line().trim_start_matches(':').to_string();
    killed.send(b"SET b 1\r\n");
    server.wait_blocked(2);
    drop(leaving);
    server.wait_blocked(1);
    admin.send(format!("CLIENT KILL ID {id}\r\n").as_bytes());
    admin.expect(b":1\r\n");
    assert!(killed.is_closed());
    server.wait_blocked(0);
    admin.send(b"CLIENT UNPAUSE\r\nEXISTS a b\r\n");
    admin.expect(b"+OK\r\n:0\r\n");
}

#[test]
fn expired_keys_are_hidden_but_kept_while_paused() {
    let server = Server::start();
    let mut conn = server.raw();
    // Atomically, so neither kind of expiry can run before the pause.
    conn.send(b"MULTI\r\nSET k v PX 1\r\nCLIENT PAUSE 100000 WRITE\r\nEXEC\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n+OK\r\n");
    let expired_before = info_field(&mut conn, "stats", "expired_keys");
    eventually("the key to expire", || {
        conn.send(b"GET k\r\n");
        let missing = conn.read_line() == "$-1";
        if !missing {
            conn.expect(b"v\r\n");
        }
        missing
    });
    // Neither the lookups nor the active cycle deleted it.
    conn.send(b"DBSIZE\r\n");
    conn.expect(b":1\r\n");
    assert_eq!(
        info_field(&mut conn, "stats", "expired_keys"),
        expired_before
    );
    conn.send(b"CLIENT UNPAUSE\r\nGET k\r\nDBSIZE\r\n");
    conn.expect(b"+OK\r\n$-1\r\n:0\r\n");
    let expired_after: u64 = info_field(&mut conn, "stats", "expired_keys")
        .parse()
        .expect("count");
    assert_eq!(
        expired_after,
        expired_before.parse::<u64>().expect("count") + 1
    );
}

/// A paused replica reads its master's stream on but applies none of it
/// (its master link is postponed like any client) until the pause ends.
#[test]
fn a_paused_replica_reads_the_stream_but_applies_it_after_the_pause() {
    use common::repl::{cmd, field, info, wait_in_sync};
    // No PINGs: they would be applied (not writes) while the SET waits.
    let master = Server::start_with(&["--repl-ping-replica-period", "3600"]);
    let replica = Server::start();
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    // A first write, so the stream's SELECT is applied before the pause.
    cmd(master.port, &["SET", "first", "1"]);
    wait_in_sync(master.port, replica.port);
    cmd(replica.port, &["CLIENT", "PAUSE", "100000", "WRITE"]);
    let applied = field(&info(replica.port, "replication"), "slave_repl_offset");
    cmd(master.port, &["SET", "k", "v"]);
    let fed = field(&info(master.port, "replication"), "master_repl_offset");
    eventually("the replica to read the write", || {
        field(&info(replica.port, "replication"), "slave_read_repl_offset") == fed
    });
    let replication = info(replica.port, "replication");
    assert_eq!(field(&replication, "slave_repl_offset"), applied);
    assert_eq!(cmd(replica.port, &["GET", "k"]), redis::Value::Nil);
    // The master link is postponed, as a blocked client.
    assert_eq!(
        field(&info(replica.port, "clients"), "blocked_clients"),
        "1"
    );
    cmd(replica.port, &["CLIENT", "UNPAUSE"]);
    wait_in_sync(master.port, replica.port);
    assert_eq!(
        cmd(replica.port, &["GET", "k"]),
        redis::Value::BulkString(b"v".to_vec())
    );
}
