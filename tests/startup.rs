//! Starting and stopping the process: config files, overrides, startup errors,
//! signals, SHUTDOWN, and redis-cli against it.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use common::{binary, temp_dir, Server};

#[test]
fn unknown_directive_is_a_startup_error() {
    let dir = temp_dir("badconf");
    let file = dir.join("bad.conf");
    std::fs::write(&file, "port 7000\nno-such-directive yes\n").unwrap();
    let output = Command::new(binary()).arg(&file).output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at line 2"), "{stderr}");
    assert!(stderr.contains(">>> 'no-such-directive yes'"), "{stderr}");
    assert!(
        stderr.contains("Bad directive or wrong number of arguments"),
        "{stderr}"
    );
    let output = Command::new(binary())
        .args(["--port"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("wrong number of arguments"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn config_file_include_and_rewrite() {
    let server_dir = temp_dir("conf");
    let included = server_dir.join("included.conf");
    std::fs::write(&included, "hz 15\n").unwrap();
    let file = server_dir.join("ferrite.conf");
    std::fs::write(
        &file,
        format!(
            "# comment kept\ninclude {}\nbind 127.0.0.1\nsave \"\"\n",
            included.display()
        ),
    )
    .unwrap();
    let port = common::free_port();
    let mut child = Command::new(binary())
        .arg(&file)
        .args([
            "--port",
            &port.to_string(),
            "--dir",
            &server_dir.display().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start");
    std::thread::sleep(Duration::from_millis(300));
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["CONFIG", "GET", "hz"]), "hz\n15");
    assert_eq!(cli(&["CONFIG", "SET", "maxmemory-samples", "7"]), "OK");
    assert_eq!(cli(&["CONFIG", "REWRITE"]), "OK");
    let rewritten = std::fs::read_to_string(&file).unwrap();
    assert!(rewritten.contains("# comment kept"));
    assert!(rewritten.contains("maxmemory-samples \"7\""), "{rewritten}");
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(server_dir).ok();
}

#[test]
fn sigterm_and_shutdown_exit_cleanly() {
    let mut server = Server::start();
    let pid = server_pid(&server);
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));

    let mut server = Server::start();
    let out = Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "SHUTDOWN", "NOSAVE"])
        .output()
        .expect("redis-cli");
    assert!(out.status.success() || out.status.code() == Some(1));
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

fn server_pid(server: &Server) -> u32 {
    let out = Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "INFO", "server"])
        .output()
        .expect("redis-cli");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("process_id")
}

#[test]
fn redis_cli_works_unchanged() {
    let server = Server::start();
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &server.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert_eq!(cli(&["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(&["GET", "greeting"]), "hello world\n");
    assert_eq!(cli(&["--raw", "INCR", "counter"]), "1\n");
    assert_eq!(
        cli(&["-3", "HELLO", "3"]).lines().next(),
        Some("server redis")
    );
    assert!(cli(&["--scan", "--pattern", "gre*"]).contains("greeting"));
    assert_eq!(
        cli(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        "a\nb\n"
    );
    assert_eq!(cli(&["DBSIZE"]), "2\n");
}

#[test]
fn unix_socket_and_pid_file() {
    let dir = temp_dir("unixsocket");
    let socket = dir.join("redis.sock");
    let pidfile = dir.join("redis.pid");
    let server = Server::start_in(
        dir.clone(),
        None,
        &[
            "--unixsocket",
            &socket.display().to_string(),
            "--unixsocketperm",
            "700",
            "--pidfile",
            &pidfile.display().to_string(),
        ],
    );
    let pid = std::fs::read_to_string(&pidfile).expect("pid file");
    assert!(pid.trim().parse::<u32>().is_ok(), "{pid:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let mut unix = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    unix.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    unix.write_all(b"CLIENT INFO\r\n").unwrap();
    let mut reply = Vec::new();
    while !reply.ends_with(b"\n\r\n") {
        let mut chunk = [0u8; 4096];
        let n = unix.read(&mut chunk).expect("reply");
        assert!(n > 0, "connection closed");
        reply.extend_from_slice(&chunk[..n]);
    }
    let reply = String::from_utf8_lossy(&reply);
    let addr = format!(" addr={}:0 laddr={}:0 ", socket.display(), socket.display());
    assert!(reply.contains(&addr), "{reply}");
    unix.write_all(b"SHUTDOWN NOSAVE\r\n").unwrap();
    assert_eq!(server.exit_keeping_dir(), Some(0));
    assert!(!socket.exists() && !pidfile.exists());
    std::fs::remove_dir_all(dir).ok();
}

/// A crash (DEBUG SEGFAULT) writes Redis's bug report with a stack trace to
/// the log, and the process still dies of the signal.
#[test]
fn a_crash_writes_a_bug_report_with_a_stack_trace() {
    use std::os::unix::process::ExitStatusExt;
    let dir = temp_dir("crash");
    let log = dir.join("crash.log");
    let port = common::free_port();
    let mut child = Command::new(binary())
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--enable-debug-command", "yes"])
        .args(["--logfile", &log.display().to_string()])
        .spawn()
        .expect("start ferrite-server");
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut con = loop {
        match client.get_connection() {
            Ok(con) => break con,
            Err(e) if std::time::Instant::now() > deadline => panic!("server not up: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let _ = redis::cmd("DEBUG")
        .arg("SEGFAULT")
        .query::<redis::Value>(&mut con);
    let status = child.wait().expect("wait for the server");
    assert_eq!(status.signal(), Some(11), "{status:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        text.contains("=== REDIS BUG REPORT START: Cut & paste starting from here ==="),
        "{text}"
    );
    assert!(
        text.contains("Redis 7.0.15 crashed by signal: 11, si_code: -6"),
        "{text}"
    );
    assert!(text.contains("------ STACK TRACE ------"), "{text}");
    assert!(text.contains("=== REDIS BUG REPORT END."), "{text}");
}
