//! Pub/Sub against a real server: exact reply bytes in RESP2 and RESP3,
//! subscribed mode, client introspection, and a subscriber that stops reading.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{eventually, hello3, send, RawConnection, Server};

/// Reads one bulk string reply.
fn read_bulk(conn: &mut RawConnection) -> String {
    let header = conn.read_line();
    let len: usize = header[1..].parse().expect("bulk length");
    let mut body = vec![0u8; len + 2];
    conn.stream.read_exact(&mut body).expect("bulk body");
    body.truncate(len);
    String::from_utf8(body).expect("utf-8 bulk")
}

fn numsub(conn: &mut redis::Connection, channel: &str) -> i64 {
    let reply: (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query(conn)
        .expect("PUBSUB NUMSUB");
    reply.1
}

#[test]
fn resp2_channels_and_patterns() {
    let server = Server::start();
    let mut sub = server.raw();
    let mut publisher = server.raw();
    sub.send(b"SUBSCRIBE chan1 chan2\r\n");
    sub.expect(
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nchan1\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nchan2\r\n:2\r\n",
    );
    publisher.send(b"PUBLISH chan1 hello\r\n");
    publisher.expect(b":1\r\n");
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$5\r\nchan1\r\n$5\r\nhello\r\n");

    sub.send(b"PSUBSCRIBE ch*\r\n");
    sub.expect(b"*3\r\n$10\r\npsubscribe\r\n$3\r\nch*\r\n:3\r\n");
    publisher.send(b"PUBLISH chan2 x\r\nPUBLISH other y\r\n");
    publisher.expect(b":2\r\n:0\r\n");
    sub.expect(b"*3\r\n$7\r\nmessage\r\n$5\r\nchan2\r\n$1\r\nx\r\n");
    sub.expect(b"*4\r\n$8\r\npmessage\r\n$3\r\nch*\r\n$5\r\nchan2\r\n$1\r\nx\r\n");

    publisher.send(b"PUBSUB NUMSUB chan1 nothing\r\nPUBSUB NUMPAT\r\nPUBSUB CHANNELS *1\r\n");
    publisher
        .expect(b"*4\r\n$5\r\nchan1\r\n:1\r\n$7\r\nnothing\r\n:0\r\n:1\r\n*1\r\n$5\r\nchan1\r\n");
    publisher.send(b"INFO stats\r\n");
    let stats = read_bulk(&mut publisher);
    assert!(stats.contains("pubsub_channels:2\r\npubsub_patterns:1\r\npubsubshard_channels:0\r\n"));

    sub.send(
        b"UNSUBSCRIBE chan1\r\nPUNSUBSCRIBE ch*\r\nUNSUBSCRIBE chan2\r\nPUNSUBSCRIBE\r\nPING\r\n",
    );
    sub.expect(b"*3\r\n$11\r\nunsubscribe\r\n$5\r\nchan1\r\n:2\r\n");
    sub.expect(b"*3\r\n$12\r\npunsubscribe\r\n$3\r\nch*\r\n:1\r\n");
    sub.expect(b"*3\r\n$11\r\nunsubscribe\r\n$5\r\nchan2\r\n:0\r\n");
    sub.expect(b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n");
    sub.expect(b"+PONG\r\n");
    publisher.send(b"PUBLISH chan1 gone\r\n");
    publisher.expect(b":0\r\n");
}

#[test]
fn resp2_subscribed_mode_allows_only_subscription_commands() {
    let server = Server::start();
    let mut sub = server.raw();
    sub.send(b"SSUBSCRIBE shard\r\n");
    sub.expect(b"*3\r\n$10\r\nssubscribe\r\n$5\r\nshard\r\n:1\r\n");
    sub.send(b"GET k\r\nCONFIG GET port\r\nPING\r\nPING hi\r\n");
    sub.expect(b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    sub.expect(b"-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n");
    sub.expect(b"*2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");

    let mut other = server.client();
    let published: i64 = redis::cmd("SPUBLISH")
        .arg("shard")
        .arg("m")
        .query(&mut other)
        .unwrap();
    assert_eq!(published, 1);
    sub.expect(b"*3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$1\r\nm\r\n");
    // A shard channel is not an ordinary channel.
    assert_eq!(numsub(&mut other, "shard"), 0);

    // RESET leaves subscribed mode and drops every subscription.
    sub.send(b"RESET\r\nGET k\r\n");
    sub.expect(b"+RESET\r\n$-1\r\n");
    let shard: (String, i64) = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg("shard")
        .query(&mut other)
        .unwrap();
    assert_eq!(shard, ("shard".to_string(), 0));
}

#[test]
fn resp3_messages_are_pushes_between_replies() {
    let server = Server::start();
    let mut conn = server.raw();
    hello3(&mut conn);
    conn.send(b"SUBSCRIBE a\r\nSET k v\r\nPUBLISH a x\r\nGET k\r\nPING\r\n");
    conn.expect(b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n+OK\r\n");
    // The publisher's own message comes before PUBLISH's reply, as in Redis.
    conn.expect(b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n:1\r\n$1\r\nv\r\n+PONG\r\n");

    let mut other = server.raw();
    other.send(b"PUBLISH a y\r\n");
    other.expect(b":1\r\n");
    conn.expect(b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\ny\r\n");

    conn.send(b"UNSUBSCRIBE\r\nUNSUBSCRIBE\r\n");
    conn.expect(b">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n");
    conn.expect(b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
}

#[test]
fn confirmations_survive_client_reply_off() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"CLIENT REPLY OFF\r\nSUBSCRIBE c\r\n");
    conn.expect(b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
}

#[test]
fn pubsub_clients_in_client_list_and_kill() {
    let server = Server::start();
    let mut sub = server.raw();
    sub.send(b"SUBSCRIBE a b\r\nPSUBSCRIBE p*\r\n");
    sub.expect(b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n");
    let mut admin = server.client();
    let listing: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut admin)
        .unwrap();
    assert_eq!(listing.lines().count(), 1);
    assert!(listing.contains(" flags=P db=0 sub=2 psub=1 ssub=0 "));
    let normal: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("normal")
        .query(&mut admin)
        .unwrap();
    assert_eq!(normal.lines().count(), 1);
    assert!(normal.contains(" flags=N db=0 sub=0 psub=0 ssub=0 "));

    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut admin)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(sub.is_closed());
    eventually("the killed client's subscriptions to go", || {
        numsub(&mut admin, "a") == 0
    });
    let patterns: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query(&mut admin)
        .unwrap();
    assert_eq!(patterns, 0);
}

#[test]
fn disconnecting_unsubscribes() {
    let server = Server::start();
    let mut sub = server.raw();
    sub.send(b"SUBSCRIBE gone\r\n");
    sub.expect(b"*3\r\n$9\r\nsubscribe\r\n$4\r\ngone\r\n:1\r\n");
    let mut admin = server.client();
    assert_eq!(numsub(&mut admin, "gone"), 1);
    drop(sub);
    eventually("the closed subscriber to be unsubscribed", || {
        numsub(&mut admin, "gone") == 0
    });
}

fn resident_bytes(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query(conn).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory_rss:"))
        .and_then(|value| value.trim().parse().ok())
        .expect("used_memory_rss in INFO memory")
}

#[test]
fn subscriber_that_stops_reading_is_disconnected() {
    let log_dir = common::temp_dir("pubsub-log");
    let log = log_dir.join("server.log");
    let server = Server::start_with(&["--logfile", log.to_str().expect("utf-8 path")]);
    let mut publisher = server.client();
    let set: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 1mb 256kb 60")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(set, "OK");
    let limits: (String, String) = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-output-buffer-limit")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(
        limits.1,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 262144 60"
    );

    let mut sub = server.raw();
    send(&mut sub, &[b"SUBSCRIBE", b"flood"]);
    sub.expect(b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n");
    let rss_before = resident_bytes(&mut publisher);

    // 64 KB messages, up to 256 MB in all: far beyond the socket buffers and
    // the limit, so the subscriber (which reads nothing) must be dropped.
    let payload = vec![b'x'; 64 * 1024];
    let mut receivers = Vec::new();
    for _ in 0..4096 {
        let count: i64 = redis::cmd("PUBLISH")
            .arg("flood")
            .arg(&payload)
            .query(&mut publisher)
            .unwrap();
        receivers.push(count);
        if count == 0 {
            break;
        }
    }
    assert_eq!(
        receivers.last(),
        Some(&0),
        "the subscriber was never dropped"
    );
    assert!(receivers[..receivers.len() - 1].iter().all(|&c| c == 1));
    assert_eq!(numsub(&mut publisher, "flood"), 0);

    // The subscriber sees what the kernel buffered, then the end.
    sub.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    sub.stream
        .read_to_end(&mut rest)
        .expect("connection closed by the server");

    // Dropped once the kernel's socket buffers and the 1 MB limit were full,
    // not after queueing everything: memory stayed bounded.
    let rss_after = resident_bytes(&mut publisher);
    let published = receivers.len() as u64 * payload.len() as u64;
    assert!(
        published < 32 << 20,
        "{published} bytes published before the drop"
    );
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < 32 << 20,
        "RSS grew {growth} bytes while {published} bytes were published"
    );
    let text = std::fs::read_to_string(&log).expect("read the log");
    assert!(
        text.contains("scheduled to be closed ASAP for overcoming of output buffer limits."),
        "log: {text}"
    );
    let _ = std::fs::remove_dir_all(&log_dir);
}

/// Shard channels are positioned like keys (for cluster routing) but are not
/// keys: their key specs are NOT_KEY, so GETKEYS finds none, as in Redis.
#[test]
fn shard_channels_are_not_keys() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"COMMAND GETKEYS SPUBLISH ch msg\r\nCOMMAND GETKEYS SSUBSCRIBE a b\r\n");
    conn.expect(
        b"-ERR The command has no key arguments\r\n-ERR The command has no key arguments\r\n",
    );
}
