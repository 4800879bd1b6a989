//! Client-side caching against a real server: the exact invalidation
//! messages in RESP3 (pushes to the tracking client) and RESP2 (messages on
//! `__redis__:invalidate` to the client invalidations are redirected to),
//! for keys written directly, in MULTI/EXEC, by a script, through
//! replication, and for keys that expire, are flushed or overflow
//! `tracking-table-max-keys`.

mod common;

use common::{eventually, hello3, send, RawConnection, Server};

/// The RESP3 push invalidating `keys`.
fn push(keys: &[&str]) -> Vec<u8> {
    let mut bytes = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len()).into_bytes();
    for key in keys {
        bytes.extend_from_slice(format!("${}\r\n{key}\r\n", key.len()).as_bytes());
    }
    bytes
}

/// The RESP2 message on `__redis__:invalidate` invalidating `key`.
fn message(key: &str) -> Vec<u8> {
    format!(
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n${}\r\n{key}\r\n",
        key.len()
    )
    .into_bytes()
}

/// A RESP2 client subscribed to `__redis__:invalidate`, and its id.
fn redirect_target(server: &Server) -> (RawConnection, String) {
    let mut conn = server.raw();
    conn.send(b"CLIENT ID\r\n");
    let id = conn.read_line()[1..].to_string();
    conn.send(b"SUBSCRIBE __redis__:invalidate\r\n");
    conn.expect(b"*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n");
    (conn, id)
}

fn tracking_resp3(server: &Server, options: &str) -> RawConnection {
    let mut conn = server.raw();
    hello3(&mut conn);
    conn.send(format!("CLIENT TRACKING ON {options}\r\n").as_bytes());
    conn.expect(b"+OK\r\n");
    conn
}

#[test]
fn resp3_invalidations_follow_the_reply_of_the_command_that_caused_them() {
    let server = Server::start();
    let mut tracker = tracking_resp3(&server, "");
    let mut writer = server.raw();
    writer.send(b"SET k v\r\n");
    writer.expect(b"+OK\r\n");
    tracker.send(b"GET k\r\n");
    tracker.expect(b"$1\r\nv\r\n");
    writer.send(b"SET k w\r\n");
    writer.expect(b"+OK\r\n");
    tracker.expect(&push(&["k"]));

    // The client's own write: the push comes after the reply; once sent, the
    // key is no longer tracked until read again.
    tracker.send(b"GET k\r\nSET k x\r\nSET k y\r\nPING\r\n");
    tracker.expect(b"$1\r\nw\r\n+OK\r\n");
    tracker.expect(&push(&["k"]));
    tracker.expect(b"+OK\r\n+PONG\r\n");

    // Inside a transaction, after EXEC's reply.
    tracker.send(b"MGET a b\r\nMULTI\r\nINCR a\r\nGET b\r\nEXEC\r\n");
    tracker.expect(b"*2\r\n_\r\n_\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n_\r\n");
    tracker.expect(&push(&["a"]));
}

#[test]
fn resp2_invalidations_are_redirected_to_a_subscriber() {
    let server = Server::start();
    let (mut target, id) = redirect_target(&server);
    let mut tracker = server.raw();
    send(
        &mut tracker,
        &[b"CLIENT", b"TRACKING", b"on", b"REDIRECT", id.as_bytes()],
    );
    tracker.expect(b"+OK\r\n");
    tracker.send(b"CLIENT GETREDIR\r\nMGET a b\r\n");
    tracker.expect(format!(":{id}\r\n*2\r\n$-1\r\n$-1\r\n").as_bytes());

    // Only keys that were read, once each, in the order written.
    let mut writer = server.raw();
    writer.send(b"MSET c 1 b 2 a 3\r\nSET a 4\r\n");
    writer.expect(b"+OK\r\n+OK\r\n");
    target.expect(&message("b"));
    target.expect(&message("a"));

    // A script's write invalidates like any other.
    tracker.send(b"GET s\r\n");
    tracker.expect(b"$-1\r\n");
    writer.send(b"EVAL \"return redis.call('set', KEYS[1], 'x')\" 1 s\r\n");
    writer.expect(b"+OK\r\n");
    target.expect(&message("s"));

    // FLUSHALL invalidates everything with a null.
    writer.send(b"FLUSHALL\r\n");
    writer.expect(b"+OK\r\n");
    target.expect(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n");
}

#[test]
fn bcast_sends_one_message_per_prefix_and_noloop_skips_own_writes() {
    let server = Server::start();
    let mut tracker = tracking_resp3(&server, "BCAST PREFIX a: PREFIX b: NOLOOP");
    let mut writer = server.raw();
    writer.send(b"MULTI\r\nSET a:1 x\r\nSET b:1 x\r\nSET c:1 x\r\nSET a:2 x\r\nEXEC\r\n");
    writer.expect(
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n",
    );
    tracker.expect(&push(&["a:1", "a:2"]));
    tracker.expect(&push(&["b:1"]));
    // NOLOOP: the tracker's own write is not sent back to it.
    tracker.send(b"SET a:3 x\r\nPING\r\n");
    tracker.expect(b"+OK\r\n+PONG\r\n");

    tracker.send(
        b"CLIENT TRACKING ON BCAST PREFIX a:x\r\nCLIENT TRACKING ON BCAST PREFIX c PREFIX cd\r\n",
    );
    tracker.expect(b"-ERR Prefix 'a:x' overlaps with an existing prefix 'a:'. Prefixes for a single client must not overlap.\r\n");
    tracker.expect(b"-ERR Prefix 'c' overlaps with another provided prefix 'cd'. Prefixes for a single client must not overlap.\r\n");
    tracker.send(b"CLIENT TRACKINGINFO\r\nCLIENT TRACKING ON\r\n");
    tracker.expect(b"%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\nbcast\r\n$6\r\nnoloop\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*2\r\n$2\r\na:\r\n$2\r\nb:\r\n");
    tracker.expect(b"-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n");

    let mut info = server.client();
    let stats: String = redis::cmd("INFO").arg("stats").query(&mut info).unwrap();
    assert!(stats.contains(
        "tracking_total_keys:0\r\ntracking_total_items:0\r\ntracking_total_prefixes:2\r\n"
    ));
    let clients: String = redis::cmd("INFO").arg("clients").query(&mut info).unwrap();
    assert!(clients.contains("tracking_clients:1\r\n"));
}

#[test]
fn optin_tracks_only_after_caching_yes() {
    let server = Server::start();
    let mut tracker = tracking_resp3(&server, "OPTIN");
    tracker.send(b"CLIENT CACHING no\r\nGET a\r\nCLIENT CACHING yes\r\nGET b\r\nGET c\r\n");
    tracker.expect(b"-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n_\r\n+OK\r\n_\r\n_\r\n");
    let mut writer = server.raw();
    writer.send(b"MSET a 1 c 1 b 1\r\n");
    writer.expect(b"+OK\r\n");
    tracker.expect(&push(&["b"]));
    tracker.send(b"CLIENT TRACKING OFF\r\nCLIENT CACHING yes\r\nCLIENT TRACKINGINFO\r\n");
    tracker.expect(b"+OK\r\n-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n");
    tracker.expect(b"%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n");
}

#[test]
fn a_gone_redirect_target_is_reported_to_the_tracker() {
    let server = Server::start();
    let (mut target, id) = redirect_target(&server);
    let mut tracker = tracking_resp3(&server, &format!("REDIRECT {id}"));
    tracker.send(b"GET k\r\n");
    tracker.expect(b"_\r\n");
    target.send(b"QUIT\r\n");
    target.expect(b"+OK\r\n");
    assert!(target.is_closed());
    let mut writer = server.client();
    let mut info = server.client();
    eventually("the target to be gone", || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut info).unwrap();
        !list.contains(&format!("id={id} "))
    });
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut writer)
        .unwrap();
    tracker.expect(format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{id}\r\n").as_bytes());
    send(&mut tracker, &[b"CLIENT", b"INFO"]);
    let line = tracker.read_line();
    let info_line = tracker.read_line();
    assert!(line.starts_with('='), "verbatim string: {line}");
    assert!(info_line.contains(" flags=tR "), "{info_line}");
    assert!(info_line.contains(&format!(" redir={id} ")), "{info_line}");
}

#[test]
fn expired_keys_are_invalidated() {
    let server = Server::start();
    let mut tracker = tracking_resp3(&server, "");
    let mut writer = server.raw();
    writer.send(b"SET gone v PX 100\r\n");
    writer.expect(b"+OK\r\n");
    tracker.send(b"GET gone\r\n");
    let reply = tracker.read_line();
    if reply == "$1" {
        tracker.expect(b"v\r\n");
        // Removed by the active expire cycle (or a later read).
        tracker.expect(&push(&["gone"]));
    } else {
        assert_eq!(reply, "_", "already expired when read");
    }
}

#[test]
fn keys_over_tracking_table_max_keys_are_invalidated() {
    let server = Server::start();
    let mut tracker = tracking_resp3(&server, "");
    let mut writer = server.raw();
    tracker.send(b"MGET x y\r\n");
    tracker.expect(b"*2\r\n_\r\n_\r\n");
    writer.send(b"CONFIG SET tracking-table-max-keys 1\r\n");
    writer.expect(b"+OK\r\n");
    // One of the two keys is dropped from the table, as if it had changed.
    let first = push(&["x"]);
    let mut got = vec![0u8; first.len()];
    std::io::Read::read_exact(&mut tracker.stream, &mut got).unwrap();
    assert!(
        got == first || got == push(&["y"]),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let mut info = server.client();
    let stats: String = redis::cmd("INFO").arg("stats").query(&mut info).unwrap();
    assert!(stats.contains("tracking_total_keys:1\r\ntracking_total_items:1\r\n"));
}

#[test]
fn writes_from_the_replication_stream_invalidate_on_the_replica() {
    let master = Server::start();
    let replica = Server::start();
    let mut admin = replica.client();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(master.port)
        .query(&mut admin)
        .unwrap();
    let mut writer = master.client();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("1")
        .query(&mut writer)
        .unwrap();
    eventually("the replica to sync", || {
        let value: Option<String> = redis::cmd("GET").arg("k").query(&mut admin).unwrap();
        value.as_deref() == Some("1")
    });
    let mut tracker = tracking_resp3(&replica, "");
    tracker.send(b"GET k\r\n");
    tracker.expect(b"$1\r\n1\r\n");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("2")
        .query(&mut writer)
        .unwrap();
    tracker.expect(&push(&["k"]));
}
