//! Keyspace notifications against a real server: the exact sequence of
//! `__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>` messages a pattern
//! subscriber receives for a few command families, for expiry and for new
//! keys, and the `notify-keyspace-events` flag strings.

mod common;

use std::io::Read;

use common::{RawConnection, Server};

/// A subscriber to every channel, on a raw socket.
struct Listener {
    conn: RawConnection,
}

impl Listener {
    fn new(server: &Server) -> Listener {
        let mut conn = server.raw();
        conn.send(b"PSUBSCRIBE *\r\n");
        conn.expect(b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n");
        Listener { conn }
    }

    fn bulk(&mut self) -> String {
        let header = self.conn.read_line();
        let len: usize = header[1..].parse().expect("bulk length");
        let mut body = vec![0u8; len + 2];
        self.conn.stream.read_exact(&mut body).expect("bulk body");
        body.truncate(len);
        String::from_utf8(body).expect("utf-8 bulk")
    }

    /// The next message as "channel message".
    fn next(&mut self) -> String {
        assert_eq!(self.conn.read_line(), "*4");
        assert_eq!(self.bulk(), "pmessage");
        assert_eq!(self.bulk(), "*");
        let channel = self.bulk();
        let message = self.bulk();
        format!("{channel} {message}")
    }

    /// Every message up to the `end` marker published by [`finish`].
    fn until_end(&mut self) -> Vec<String> {
        let mut messages = Vec::new();
        loop {
            let message = self.next();
            if message == "end end" {
                return messages;
            }
            messages.push(message);
        }
    }
}

/// Publishes the marker that ends [`Listener::until_end`]: it is queued after
/// every event of the commands the same connection ran before it.
fn finish(client: &mut redis::Connection) {
    redis::cmd("PUBLISH")
        .arg("end")
        .arg("end")
        .exec(client)
        .expect("publish");
}

fn run(client: &mut redis::Connection, command: &[&str]) {
    let mut cmd = redis::cmd(command[0]);
    for arg in &command[1..] {
        cmd.arg(*arg);
    }
    cmd.exec(client)
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
}

fn configure(client: &mut redis::Connection, flags: &str) {
    run(client, &["CONFIG", "SET", "notify-keyspace-events", flags]);
}

#[test]
fn flags_are_reported_in_redis_order_and_bad_letters_refused() {
    let server = Server::start_with(&["--notify-keyspace-events", "Elg"]);
    let mut client = server.client();
    let get = |client: &mut redis::Connection| -> String {
        let reply: (String, String) = redis::cmd("CONFIG")
            .arg("GET")
            .arg("notify-keyspace-events")
            .query(client)
            .expect("config get");
        reply.1
    };
    assert_eq!(get(&mut client), "glE");
    configure(&mut client, "KA");
    assert_eq!(get(&mut client), "AK");
    configure(&mut client, "nmxKE");
    assert_eq!(get(&mut client), "xnKEm");
    let error = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Kq")
        .exec(&mut client)
        .expect_err("q is no class");
    assert!(
        error
            .to_string()
            .contains("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        "{error}"
    );
    assert_eq!(get(&mut client), "xnKEm");
}

#[test]
fn strings_and_generic_events_on_both_channels() {
    let server = Server::start();
    let mut client = server.client();
    configure(&mut client, "KEA");
    let mut listener = Listener::new(&server);
    run(&mut client, &["SET", "foo", "bar", "EX", "100"]);
    run(&mut client, &["SETNX", "foo", "x"]);
    run(&mut client, &["APPEND", "foo", "!"]);
    run(&mut client, &["RENAME", "foo", "baz"]);
    run(&mut client, &["PERSIST", "baz"]);
    run(&mut client, &["PERSIST", "baz"]);
    run(&mut client, &["DEL", "baz", "missing"]);
    finish(&mut client);
    assert_eq!(
        listener.until_end(),
        [
            "__keyspace@0__:foo set",
            "__keyevent@0__:set foo",
            "__keyspace@0__:foo expire",
            "__keyevent@0__:expire foo",
            "__keyspace@0__:foo append",
            "__keyevent@0__:append foo",
            "__keyspace@0__:foo rename_from",
            "__keyevent@0__:rename_from foo",
            "__keyspace@0__:baz rename_to",
            "__keyevent@0__:rename_to baz",
            "__keyspace@0__:baz persist",
            "__keyevent@0__:persist baz",
            "__keyspace@0__:baz del",
            "__keyevent@0__:del baz",
        ]
    );
}

#[test]
fn list_moves_report_the_push_then_the_pop_then_the_deletion() {
    let server = Server::start();
    let mut client = server.client();
    configure(&mut client, "Klg");
    let mut listener = Listener::new(&server);
    run(&mut client, &["RPUSH", "src", "a", "b"]);
    run(&mut client, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]);
    run(&mut client, &["LPUSHX", "missing", "x"]);
    run(&mut client, &["LPOP", "src"]);
    run(&mut client, &["LREM", "dst", "0", "nothing"]);
    run(&mut client, &["LTRIM", "dst", "1", "0"]);
    finish(&mut client);
    assert_eq!(
        listener.until_end(),
        [
            "__keyspace@0__:src rpush",
            "__keyspace@0__:dst rpush",
            "__keyspace@0__:src lpop",
            "__keyspace@0__:src lpop",
            "__keyspace@0__:src del",
            "__keyspace@0__:dst ltrim",
            "__keyspace@0__:dst del",
        ]
    );
}

#[test]
fn blocked_pop_served_later_reports_its_pop() {
    let server = Server::start();
    let mut client = server.client();
    configure(&mut client, "Kl");
    let mut listener = Listener::new(&server);
    let port = server.port;
    let waiter = std::thread::spawn(move || {
        let mut blocked = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .expect("client")
            .get_connection()
            .expect("connection");
        let popped: (String, String) = redis::cmd("BLPOP")
            .arg("queue")
            .arg(0)
            .query(&mut blocked)
            .expect("blpop");
        popped
    });
    server.wait_blocked(1);
    run(&mut client, &["RPUSH", "queue", "job"]);
    assert_eq!(
        waiter.join().expect("waiter"),
        ("queue".to_string(), "job".to_string())
    );
    finish(&mut client);
    assert_eq!(
        listener.until_end(),
        ["__keyspace@0__:queue rpush", "__keyspace@0__:queue lpop"]
    );
}

#[test]
fn hash_set_and_sorted_set_events_only_when_something_changed() {
    let server = Server::start();
    let mut client = server.client();
    configure(&mut client, "Eghsz");
    let mut listener = Listener::new(&server);
    run(&mut client, &["HSET", "h", "f", "1"]);
    run(&mut client, &["HINCRBY", "h", "f", "2"]);
    run(&mut client, &["HDEL", "h", "nope"]);
    run(&mut client, &["HDEL", "h", "f"]);
    run(&mut client, &["SADD", "s", "a", "b"]);
    run(&mut client, &["SADD", "s", "a"]);
    run(&mut client, &["SMOVE", "s", "t", "a"]);
    run(&mut client, &["SINTERSTORE", "u", "s", "t"]);
    run(&mut client, &["ZADD", "z", "1", "a", "2", "b"]);
    run(&mut client, &["ZADD", "z", "1", "a"]);
    run(&mut client, &["ZINCRBY", "z", "5", "a"]);
    run(&mut client, &["ZREMRANGEBYSCORE", "z", "0", "3"]);
    run(&mut client, &["ZPOPMAX", "z"]);
    finish(&mut client);
    assert_eq!(
        listener.until_end(),
        [
            "__keyevent@0__:hset h",
            "__keyevent@0__:hincrby h",
            "__keyevent@0__:hdel h",
            "__keyevent@0__:del h",
            "__keyevent@0__:sadd s",
            "__keyevent@0__:srem s",
            "__keyevent@0__:sadd t",
            "__keyevent@0__:zadd z",
            "__keyevent@0__:zincr z",
            "__keyevent@0__:zremrangebyscore z",
            "__keyevent@0__:zpopmax z",
            "__keyevent@0__:del z",
        ]
    );
}

#[test]
fn new_keys_are_reported_once_in_their_database() {
    let server = Server::start();
    let mut client = server.client();
    configure(&mut client, "En");
    let mut listener = Listener::new(&server);
    run(&mut client, &["SET", "a", "1"]);
    run(&mut client, &["SET", "a", "2"]);
    run(&mut client, &["RPUSH", "list", "x"]);
    run(&mut client, &["RPUSH", "list", "y"]);
    run(&mut client, &["SELECT", "3"]);
    run(&mut client, &["INCR", "counter"]);
    finish(&mut client);
    assert_eq!(
        listener.until_end(),
        [
            "__keyevent@0__:new a",
            "__keyevent@0__:new list",
            "__keyevent@3__:new counter",
        ]
    );
}

#[test]
fn expired_keys_are_reported_on_access_and_by_the_active_cycle() {
    let server = Server::start();
    let mut client = server.client();
    configure(&mut client, "Ex");
    let mut listener = Listener::new(&server);
    run(&mut client, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    run(&mut client, &["SET", "lazy", "v", "PX", "1"]);
    // Wait (no timing assertion) until the key's millisecond has passed.
    loop {
        let ttl: i64 = redis::cmd("PTTL")
            .arg("lazy")
            .query(&mut client)
            .expect("pttl");
        if ttl <= 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let value: Option<String> = redis::cmd("GET")
        .arg("lazy")
        .query(&mut client)
        .expect("get");
    assert_eq!(value, None);
    finish(&mut client);
    assert_eq!(listener.until_end(), ["__keyevent@0__:expired lazy"]);

    run(&mut client, &["SET", "active", "v", "PX", "1"]);
    run(&mut client, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    assert_eq!(listener.next(), "__keyevent@0__:expired active");
}
