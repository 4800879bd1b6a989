//! A real ferrite-server process on a free loopback port, stopped on drop.

#![allow(dead_code)] // each test binary uses a different subset

pub mod repl;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    child: Child,
    pub dir: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("local addr")
        .port()
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrite-server"))
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrite-test-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    /// Starts a server with `extra` arguments after the test defaults. The
    /// free port it picks may be taken by another test before the server
    /// binds it; a server that exits at once is started again on another.
    pub fn start_with(extra: &[&str]) -> Server {
        Self::start_in(temp_dir("server"), None, extra)
    }

    /// Starts in `dir` (removed on drop), with `config_file` first on the
    /// command line.
    pub fn start_in(dir: PathBuf, config_file: Option<&Path>, extra: &[&str]) -> Server {
        for _ in 0..3 {
            let port = free_port();
            let mut args: Vec<String> = config_file
                .map(|file| file.display().to_string())
                .into_iter()
                .collect();
            args.extend([
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                "".into(),
                "--dir".into(),
                dir.display().to_string(),
                "--enable-debug-command".into(),
                "yes".into(),
                // As Redis's own test config: full syncs start at once.
                "--repl-diskless-sync-delay".into(),
                "0".into(),
            ]);
            args.extend(extra.iter().map(|s| s.to_string()));
            let child = Command::new(binary())
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start ferrite-server");
            let mut server = Server {
                port,
                child,
                dir: dir.clone(),
            };
            if server.wait_until_ready() {
                return server;
            }
            server.exit_keeping_dir();
        }
        panic!("ferrite-server did not start (three ports tried)");
    }

    /// Waits until the server answers; false if it exited first.
    fn wait_until_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                // Any reply counts (a server with requirepass answers -NOAUTH).
                if stream.write_all(b"PING\r\n").is_ok() {
                    let mut first = [0u8; 1];
                    if stream.read_exact(&mut first).is_ok()
                        && (first[0] == b'+' || first[0] == b'-')
                    {
                        return true;
                    }
                }
            }
            if !self.is_alive() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("ferrite-server did not start on port {}", self.port);
    }

    pub fn raw(&self) -> RawConnection {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        RawConnection { stream }
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("client")
            .get_connection()
            .expect("connection")
    }

    /// Waits until INFO reports `n` blocked clients.
    pub fn wait_blocked(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut client = self.client();
        while Instant::now() < deadline {
            let info: String = redis::cmd("INFO")
                .arg("clients")
                .query(&mut client)
                .expect("info");
            if info.contains(&format!("blocked_clients:{n}\r\n")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("never saw {n} blocked clients");
    }

    /// True while the process is running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        wait_exit(&mut self.child, timeout)
    }

    /// Waits for the process to exit (after SHUTDOWN), leaving its directory for a restart.
    pub fn exit_keeping_dir(mut self) -> Option<i32> {
        let code = self.wait_exit(Duration::from_secs(10));
        self.dir = PathBuf::new();
        code
    }
}

/// Waits up to `timeout` for `child` to exit; its exit code, if it did.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A socket speaking raw bytes.
pub struct RawConnection {
    pub stream: TcpStream,
}

impl RawConnection {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads exactly `expected.len()` bytes and compares them.
    pub fn expect(&mut self, expected: &[u8]) {
        let mut got = vec![0u8; expected.len()];
        self.stream
            .read_exact(&mut got)
            .unwrap_or_else(|e| panic!("reading {:?}: {e}", String::from_utf8_lossy(expected)));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// One reply line without its CRLF.
    pub fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            self.stream.read_exact(&mut byte).expect("reading a line");
            line.push(byte[0]);
        }
        line.truncate(line.len() - 2);
        String::from_utf8_lossy(&line).into_owned()
    }

    /// True once the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0))
    }
}

/// Sends one command as a multibulk request.
pub fn send(conn: &mut RawConnection, args: &[&[u8]]) {
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg);
        request.extend_from_slice(b"\r\n");
    }
    conn.send(&request);
}

/// Switches the connection to RESP3 and skips HELLO's map (its last element
/// is the empty `modules` array).
pub fn hello3(conn: &mut RawConnection) {
    conn.send(b"HELLO 3\r\n");
    while conn.read_line() != "*0" {}
}

/// Runs one command through the redis crate, panicking with the command on
/// an error reply.
pub fn query(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

/// Polls `condition` for up to 30 seconds (for what happens
/// asynchronously: disconnects, a replica's sync on a busy machine).
pub fn eventually(what: &str, condition: impl FnMut() -> bool) {
    poll_until(
        what,
        Duration::from_secs(30),
        Duration::from_millis(20),
        condition,
    );
}

/// Waits (at most a minute) until `done` holds.
pub fn wait_until(what: &str, done: impl FnMut() -> bool) {
    poll_until(
        what,
        Duration::from_secs(60),
        Duration::from_millis(50),
        done,
    );
}

/// Checks `condition` every `period` until it holds; panics naming `what`
/// once `timeout` has passed.
fn poll_until(
    what: &str,
    timeout: Duration,
    period: Duration,
    mut condition: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(period);
    }
    panic!("timed out waiting for {what}");
}

/// A real redis-server, stopped on drop.
pub struct Redis {
    pub port: u16,
    child: Child,
    pub dir: std::path::PathBuf,
}

impl Redis {
    pub fn start(extra: &[&str]) -> Redis {
        let port = free_port();
        let dir = temp_dir("redis");
        let child = Command::new("/usr/bin/redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--dir", &dir.display().to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        wait_until("redis-server to start", || {
            redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection())
                .is_ok()
        });
        Redis { port, child, dir }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw connection to `port`, reads timing out after 10 s.
pub fn raw(port: u16) -> RawConnection {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    RawConnection { stream }
}

/// Reads one whole reply, nested aggregates included, as its raw bytes.
pub fn read_reply(conn: &mut RawConnection) -> Vec<u8> {
    let line = conn.read_line();
    let mut bytes = format!("{line}\r\n").into_bytes();
    let (kind, rest) = line.split_at(1);
    let n: i64 = rest.parse().unwrap_or(0);
    match kind {
        "$" | "=" | "!" if n >= 0 => {
            let mut body = vec![0u8; n as usize + 2];
            conn.stream.read_exact(&mut body).expect("bulk body");
            bytes.extend(body);
        }
        "*" | "~" | ">" | "%" => {
            let items = if kind == "%" { 2 * n } else { n };
            for _ in 0..items.max(0) {
                bytes.extend(read_reply(conn));
            }
        }
        _ => {}
    }
    bytes
}

/// Sends `args` as one command and returns its whole reply as text.
pub fn call(conn: &mut RawConnection, args: &[&str]) -> String {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    send(conn, &args);
    String::from_utf8_lossy(&read_reply(conn)).into_owned()
}

/// One command of a replication stream.
pub fn read_command(conn: &mut RawConnection) -> Vec<String> {
    let header = conn.read_line();
    let n: usize = header
        .strip_prefix('*')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a command: {header:?}"));
    (0..n)
        .map(|_| {
            let _len = conn.read_line();
            conn.read_line()
        })
        .collect()
}

/// Reads the stream after `SYNC` up to the final `SET end 1`.
pub fn stream_until_end(sync: &mut RawConnection) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    loop {
        let command = read_command(sync);
        let end = command
            .first()
            .is_some_and(|c| c.eq_ignore_ascii_case("set"))
            && command.get(1).is_some_and(|k| k == "end");
        commands.push(command);
        if end {
            return commands;
        }
    }
}

/// Keyspace notifications (`channel payload`) up to the `set` of `end`.
pub fn events_until_end(subscriber: &mut RawConnection) -> Vec<String> {
    let mut events = Vec::new();
    loop {
        // pmessage, pattern, channel, payload
        let message = read_command(subscriber);
        let event = format!("{} {}", message[2], message[3]);
        let end = event == "__keyevent@0__:set end";
        events.push(event);
        if end {
            return events;
        }
    }
}

/// A Ferrite server and a redis-server configured alike for comparing
/// replication streams and keyspace events: every event class notified, no
/// replica PINGs in the stream.
pub fn servers_with_events() -> (Server, Redis) {
    let config = [
        "--repl-ping-replica-period",
        "3600",
        "--notify-keyspace-events",
        "KEA",
    ];
    (Server::start_with(&config), Redis::start(&config))
}

/// What a server fed its replicas (SELECT left out) and notified.
pub struct FedAndNotified {
    pub fed: Vec<String>,
    pub events: Vec<String>,
}

/// Runs `writes` (the last one `SET end 1`) with `run` on a Ferrite server
/// and a redis-server configured alike, asserting the same replies, the
/// same replication stream and the same keyspace events; returns Ferrite's.
pub fn writes_fed_and_notified_as_redis(
    writes: &[&str],
    run: fn(&mut RawConnection, &str) -> String,
) -> FedAndNotified {
    writes_fed_and_notified_as_redis_with(writes, run, |_| {})
}

/// As [`writes_fed_and_notified_as_redis`], comparing each fed command after
/// `normalize` (which blanks what differs between runs, such as times).
pub fn writes_fed_and_notified_as_redis_with(
    writes: &[&str],
    run: fn(&mut RawConnection, &str) -> String,
    normalize: fn(&mut [String]),
) -> FedAndNotified {
    let (server, redis) = servers_with_events();
    let ports = [server.port, redis.port];
    let mut streams: Vec<RawConnection> = ports
        .iter()
        .map(|&port| {
            let mut sync = raw(port);
            sync.send(b"SYNC\r\n");
            repl::skip_snapshot(&mut sync);
            sync
        })
        .collect();
    let mut events: Vec<RawConnection> = ports
        .iter()
        .map(|&port| {
            let mut subscriber = raw(port);
            call(&mut subscriber, &["PSUBSCRIBE", "__key*@0__:*"]);
            subscriber
        })
        .collect();
    let (mut ours, mut theirs) = (raw(server.port), raw(redis.port));
    for line in writes {
        assert_eq!(run(&mut ours, line), run(&mut theirs, line), "{line}");
    }
    let mut their_stream = stream_until_end(&mut streams[1]);
    let mut our_stream = stream_until_end(&mut streams[0]);
    their_stream.iter_mut().for_each(|c| normalize(c));
    our_stream.iter_mut().for_each(|c| normalize(c));
    assert_eq!(our_stream, their_stream);
    let their_events = events_until_end(&mut events[1]);
    let our_events = events_until_end(&mut events[0]);
    assert_eq!(our_events, their_events);
    FedAndNotified {
        fed: our_stream
            .iter()
            .filter(|c| !c[0].eq_ignore_ascii_case("select"))
            .map(|c| c.join(" "))
            .collect(),
        events: our_events,
    }
}

/// Runs `script` with `run` on a fresh Ferrite server and a fresh
/// redis-server, in RESP2 and then in RESP3 (after FLUSHALL), asserting that
/// every reply is Redis's byte for byte.
pub fn replies_as_redis(script: &[&str], run: fn(&mut RawConnection, &str) -> String) {
    let server = Server::start();
    let redis = Redis::start(&[]);
    for resp3 in [false, true] {
        let (mut ours, mut theirs) = (raw(server.port), raw(redis.port));
        call(&mut ours, &["FLUSHALL"]);
        call(&mut theirs, &["FLUSHALL"]);
        if resp3 {
            hello3(&mut ours);
            hello3(&mut theirs);
        }
        for line in script {
            assert_eq!(
                run(&mut ours, line),
                run(&mut theirs, line),
                "{line} (RESP3: {resp3})"
            );
        }
    }
}
