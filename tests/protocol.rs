//! The wire protocol against a real server: inline and multibulk requests,
//! pipelines split at every byte, malformed input, claimed lengths, RESP3.

mod common;

use common::Server;

#[test]
fn inline_commands_and_bare_newlines() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"\r\n\nPING\r\nECHO \"a b\"\nSET k 'v 1'\r\nGET k\r\n");
    conn.expect(b"+PONG\r\n$3\r\na b\r\n+OK\r\n$3\r\nv 1\r\n");
}

#[test]
fn pipeline_split_at_every_byte_boundary() {
    let server = Server::start();
    let pipeline =
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nPING\r\n";
    let expected = b"+OK\r\n$5\r\nhello\r\n+PONG\r\n";
    for split in 1..pipeline.len() {
        let mut conn = server.raw();
        conn.send(&pipeline[..split]);
        std::thread::sleep(std::time::Duration::from_millis(2));
        conn.send(&pipeline[split..]);
        conn.expect(expected);
    }
}

#[test]
fn malformed_requests_get_redis_errors_and_close() {
    let mut server = Server::start();
    let cases: [(&[u8], &[u8]); 5] = [
        (
            b"*3000000000\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
            b"-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            b"*1\r\n$-10\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$blabla\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"set \"\"\"test-key\"\"\" test-value\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, reply) in cases {
        let mut conn = server.raw();
        conn.send(input);
        conn.expect(reply);
        assert!(
            conn.is_closed(),
            "connection stays open after {:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert!(server.is_alive());
    server.raw().send(b"PING\r\n");
}

#[test]
fn huge_claimed_lengths_do_not_allocate_or_crash() {
    let mut server = Server::start();
    let mut conn = server.raw();
    // Claims a 512 MB argument and 2^31-1 arguments, sends a few bytes, leaves.
    conn.send(b"*2147483647\r\n$536870912\r\nabc");
    drop(conn);
    let mut conn = server.raw();
    conn.send(b"PING\r\n");
    conn.expect(b"+PONG\r\n");
    assert!(server.is_alive());
}

#[test]
fn inline_request_over_64k_is_refused() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(&vec![b'a'; 70 * 1024]);
    conn.expect(b"-ERR Protocol error: too big inline request\r\n");
    assert!(conn.is_closed());
}

#[test]
fn unknown_command_and_arity_errors() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"FOO bar baz\r\nGET\r\nPING a b\r\n");
    conn.expect(b"-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n");
    conn.expect(b"-ERR wrong number of arguments for 'get' command\r\n");
    conn.expect(b"-ERR wrong number of arguments for 'ping' command\r\n");
}

#[test]
fn hello_switches_to_resp3() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"HELLO 3\r\n");
    let mut reply = vec![0u8; 4096];
    let n = std::io::Read::read(&mut conn.stream, &mut reply).expect("read");
    let text = String::from_utf8_lossy(&reply[..n]).to_string();
    assert!(text.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n"), "{text}");
    conn.send(b"GET missing\r\nDEBUG PROTOCOL double\r\nDEBUG PROTOCOL map\r\nHELLO 4\r\n");
    conn.expect(b"_\r\n,3.141\r\n%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n-NOPROTO unsupported protocol version\r\n");
}

/// A connection that fails (instead of hanging) when the server stops
/// reading or writing for a minute, and `count` ECHO requests of a
/// 1000-byte value with the reply each gets.
fn echo_pipeline(server: &Server, count: usize) -> (std::net::TcpStream, String, String) {
    let conn = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let guard = Some(std::time::Duration::from_secs(60));
    conn.set_write_timeout(guard).unwrap();
    conn.set_read_timeout(guard).unwrap();
    let value = "x".repeat(1000);
    let request = format!("*2\r\n$4\r\nECHO\r\n$1000\r\n{value}\r\n");
    let reply = format!("$1000\r\n{value}\r\n");
    (conn, request.repeat(count), reply)
}

/// Sends the requests of 20 MB of ECHO replies without reading, then reads
/// until the server closes the connection, before all the replies came.
fn assert_closed_before_all_replies(server: &Server) {
    use std::io::{Read, Write};
    let count = 20_000;
    let (mut conn, pipeline, reply) = echo_pipeline(server, count);
    // The server may close the connection while the pipeline is still
    // being written.
    let _ = conn.write_all(pipeline.as_bytes());
    let mut received = Vec::new();
    let _ = conn.read_to_end(&mut received);
    assert!(
        received.len() < reply.len() * count,
        "{} bytes",
        received.len()
    );
}

/// A client that sends its whole pipeline before reading any reply (as
/// redis-py's and Jedis's pipelines do) gets every reply, even when requests
/// and replies are each far larger than the sockets' buffers: the server
/// keeps reading while replies wait for the client.
#[test]
fn pipeline_sent_whole_before_reading_is_answered() {
    use std::io::{Read, Write};
    let server = Server::start();
    let count = 50_000; // 50 MB each way
    let (mut conn, pipeline, reply) = echo_pipeline(&server, count);
    conn.write_all(pipeline.as_bytes())
        .expect("the whole pipeline is taken before any reply is read");
    let mut replies = vec![0u8; reply.len() * count];
    conn.read_exact(&mut replies).expect("every reply");
    assert!(replies.chunks(reply.len()).all(|r| r == reply.as_bytes()));
    assert_eq!(common::call(&mut server.raw(), &["PING"]), "+PONG\r\n");
}

/// Replies waiting for a client past `client-output-buffer-limit normal`
/// close its connection, as Redis does.
#[test]
fn normal_output_limit_closes_a_client_that_does_not_read() {
    let server = Server::start();
    let mut admin = server.raw();
    let limit = "normal 1mb 0 0";
    let set = ["CONFIG", "SET", "client-output-buffer-limit", limit];
    assert_eq!(common::call(&mut admin, &set), "+OK\r\n");
    assert_closed_before_all_replies(&server);
    assert_eq!(common::call(&mut admin, &["PING"]), "+PONG\r\n");
}

/// Past `maxmemory-clients`, the client using the most memory (here its
/// unread replies) is disconnected and counted in INFO, as Redis 7.0 does;
/// a CLIENT NO-EVICT client is spared.
#[test]
fn maxmemory_clients_evicts_the_biggest_client() {
    let server = Server::start();
    let mut admin = server.raw();
    let set = ["CONFIG", "SET", "maxmemory-clients", "1mb"];
    assert_eq!(common::call(&mut admin, &set), "+OK\r\n");
    assert_eq!(
        common::call(&mut admin, &["CLIENT", "NO-EVICT", "on"]),
        "+OK\r\n"
    );
    assert_closed_before_all_replies(&server);
    let info = common::call(&mut admin, &["INFO", "stats"]);
    assert!(info.contains("\r\nevicted_clients:1\r\n"), "{info}");
    let me = common::call(&mut admin, &["CLIENT", "INFO"]);
    assert!(me.contains(" flags=e "), "{me}");
}

#[test]
fn quit_stops_the_pipeline() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"PING\r\nQUIT\r\nSET after quit\r\n");
    conn.expect(b"+PONG\r\n+OK\r\n");
    assert!(conn.is_closed());
    let mut conn = server.raw();
    conn.send(b"EXISTS after\r\n");
    conn.expect(b":0\r\n");
}

#[test]
fn monitor_streams_other_clients_commands() {
    let server = Server::start();
    let mut monitor = server.raw();
    monitor.send(b"MONITOR\r\n");
    monitor.expect(b"+OK\r\n");
    let mut client = server.raw();
    client.send(b"SET \"a b\" 1\r\n");
    client.expect(b"+OK\r\n");
    let line = monitor.read_line();
    assert!(line.starts_with('+'), "{line}");
    assert!(line.contains(" [0 127.0.0.1:"), "{line}");
    assert!(line.ends_with("] \"SET\" \"a b\" \"1\""), "{line}");
}

#[test]
fn reset_ends_monitor() {
    let server = Server::start();
    let mut monitor = server.raw();
    monitor.send(b"MONITOR\r\nRESET\r\n");
    monitor.expect(b"+OK\r\n+RESET\r\n");
    let mut client = server.raw();
    client.send(b"SET a 1\r\n");
    client.expect(b"+OK\r\n");
    // No monitor line before the reply: the feed ended with RESET.
    monitor.send(b"CLIENT INFO\r\n");
    let header = monitor.read_line();
    assert!(header.starts_with('$'), "{header}");
    let info = monitor.read_line();
    assert!(info.contains(" flags=N "), "{info}");
}

#[test]
fn client_reply_off_and_skip() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"CLIENT REPLY SKIP\r\nSET k 1\r\nGET k\r\nCLIENT REPLY OFF\r\nGET k\r\nCLIENT REPLY ON\r\nPING\r\n");
    conn.expect(b"$1\r\n1\r\n+OK\r\n+PONG\r\n");
}
