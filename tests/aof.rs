//! The append-only file end to end: data written with `appendonly yes`
//! comes back after a restart; a rewrite while clients write loses and
//! repeats nothing; a torn tail is truncated with `aof-load-truncated yes`
//! and stops the server with `no`; and the multi-part AOF a real Redis
//! 7.0 (`/usr/bin/redis-server`) writes loads into Ferrite and the other
//! way round.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{eventually, free_port, temp_dir, wait_exit, Server};
use redis::Value;

const REDIS: &str = "/usr/bin/redis-server";

fn ferrite(dir: &Path, extra: &[&str]) -> Server {
    let log = dir.join("server.log").display().to_string();
    let mut args = vec!["--appendonly", "yes", "--logfile", &log];
    args.extend_from_slice(extra);
    Server::start_in(dir.to_path_buf(), None, &args)
}

use common::query as run;

fn text(con: &mut redis::Connection, args: &[&str]) -> String {
    match run(con, args) {
        Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => format!("{other:?}"),
    }
}

fn info_field(con: &mut redis::Connection, name: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .to_string()
}

/// SHUTDOWN NOSAVE: the AOF is what must keep the data.
fn stop(server: Server) {
    let mut con = server.client();
    let _ = redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query::<Value>(&mut con);
    assert_eq!(server.exit_keeping_dir(), Some(0));
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).expect("manifest")
}

fn write_sample(con: &mut redis::Connection) {
    run(con, &["SET", "string", "hello"]);
    run(con, &["INCRBY", "counter", "41"]);
    run(con, &["INCR", "counter"]);
    run(con, &["RPUSH", "list", "a", "b", "c"]);
    run(con, &["HSET", "hash", "f", "v"]);
    run(con, &["ZADD", "zset", "1.5", "m"]);
    run(con, &["SET", "volatile", "v", "EX", "3600"]);
    run(con, &["MULTI"]);
    run(con, &["SADD", "set", "x", "y"]);
    run(con, &["SELECT", "5"]);
    run(con, &["SET", "in-db-5", "yes"]);
    run(con, &["EXEC"]);
    run(con, &["SELECT", "0"]);
}

fn check_sample(con: &mut redis::Connection) {
    assert_eq!(text(con, &["GET", "string"]), "hello");
    assert_eq!(text(con, &["GET", "counter"]), "42");
    assert_eq!(
        run(con, &["LRANGE", "list", "0", "-1"]),
        Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"b".to_vec()),
            Value::BulkString(b"c".to_vec())
        ])
    );
    assert_eq!(text(con, &["HGET", "hash", "f"]), "v");
    assert_eq!(text(con, &["ZSCORE", "zset", "m"]), "1.5");
    assert_eq!(run(con, &["SCARD", "set"]), Value::Int(2));
    match run(con, &["TTL", "volatile"]) {
        Value::Int(ttl) => assert!((3500..=3600).contains(&ttl), "ttl {ttl}"),
        other => panic!("TTL: {other:?}"),
    }
    run(con, &["SELECT", "5"]);
    assert_eq!(text(con, &["GET", "in-db-5"]), "yes");
    run(con, &["SELECT", "0"]);
}

#[test]
fn writes_come_back_after_a_restart() {
    let dir = temp_dir("aof-restart");
    let server = ferrite(&dir, &[]);
    let mut con = server.client();
    write_sample(&mut con);
    // Fed to replicas only, as in Redis.
    run(&mut con, &["PUBLISH", "channel", "message"]);
    assert_eq!(info_field(&mut con, "aof_enabled"), "1");
    assert_eq!(info_field(&mut con, "aof_last_write_status"), "ok");
    stop(server);
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let incr = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    assert!(incr.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n"));
    assert!(!incr.windows(7).any(|w| w == b"PUBLISH"));
    let server = ferrite(&dir, &[]);
    let mut con = server.client();
    check_sample(&mut con);
    // DEBUG LOADAOF empties the dataset and loads the same files again.
    run(&mut con, &["SET", "after-restart", "1"]);
    run(&mut con, &["DEBUG", "LOADAOF"]);
    check_sample(&mut con);
    assert_eq!(text(&mut con, &["GET", "after-restart"]), "1");
}

#[test]
fn a_rewrite_while_writing_loses_nothing() {
    let dir = temp_dir("aof-rewrite");
    let server = ferrite(&dir, &[]);
    let port = server.port;
    let writer = std::thread::spawn(move || {
        let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        for i in 0..20_000 {
            run(&mut con, &["INCR", "counter"]);
            run(&mut con, &["RPUSH", "list", &i.to_string()]);
        }
    });
    let mut con = server.client();
    eventually(
        "writes under way",
        || matches!(run(&mut con, &["LLEN", "list"]), Value::Int(n) if n > 1000),
    );
    assert_eq!(
        run(&mut con, &["BGREWRITEAOF"]),
        Value::SimpleString("Background append only file rewriting started".into())
    );
    writer.join().unwrap();
    eventually("the rewrite ends", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(info_field(&mut con, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info_field(&mut con, "aof_rewrites"), "1");
    stop(server);
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(!dir.join("appendonlydir/appendonly.aof.1.incr.aof").exists());
    let server = ferrite(&dir, &[]);
    let mut con = server.client();
    assert_eq!(text(&mut con, &["GET", "counter"]), "20000");
    assert_eq!(run(&mut con, &["LLEN", "list"]), Value::Int(20_000));
    assert_eq!(text(&mut con, &["LINDEX", "list", "-1"]), "19999");
}

#[test]
fn appendonly_yes_at_run_time_starts_with_a_rewrite() {
    let dir = temp_dir("aof-enable");
    let server = Server::start_in(dir.clone(), None, &[]);
    let mut con = server.client();
    run(&mut con, &["SET", "before", "1"]);
    run(&mut con, &["CONFIG", "SET", "appendonly", "yes"]);
    eventually("the first rewrite ends", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
            && info_field(&mut con, "aof_rewrite_scheduled") == "0"
    });
    run(&mut con, &["SET", "after", "2"]);
    stop(server);
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let server = ferrite(&dir, &[]);
    let mut con = server.client();
    assert_eq!(text(&mut con, &["GET", "before"]), "1");
    assert_eq!(text(&mut con, &["GET", "after"]), "2");
}

/// Writes an AOF with `INCR foo` three times, then a torn fourth.
fn torn_aof(tag: &str) -> PathBuf {
    let dir = temp_dir(tag);
    let server = ferrite(&dir, &[]);
    let mut con = server.client();
    for _ in 0..3 {
        run(&mut con, &["INCR", "foo"]);
    }
    stop(server);
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut bytes = std::fs::read(&incr).unwrap();
    bytes.extend_from_slice(b"*2\r\n$4\r\nincr\r\n$3\r\nfo");
    std::fs::write(&incr, bytes).unwrap();
    dir
}

#[test]
fn a_torn_tail_is_truncated_with_aof_load_truncated_yes() {
    let dir = torn_aof("aof-torn-yes");
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    let torn_len = std::fs::metadata(&incr).unwrap().len();
    let server = ferrite(&dir, &["--aof-load-truncated", "yes"]);
    let mut con = server.client();
    assert_eq!(text(&mut con, &["GET", "foo"]), "3");
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), torn_len - 20);
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.contains(
        "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!"
    ));
    assert!(log.contains(
        "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"
    ));
    run(&mut con, &["INCR", "foo"]);
    stop(server);
    let server = ferrite(&dir, &[]);
    assert_eq!(text(&mut server.client(), &["GET", "foo"]), "4");
}

#[test]
fn a_torn_tail_stops_the_server_with_aof_load_truncated_no() {
    let dir = torn_aof("aof-torn-no");
    let mut child = Command::new(common::binary())
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", &dir.display().to_string()])
        .args(["--logfile", &dir.join("server.log").display().to_string()])
        .args(["--appendonly", "yes", "--aof-load-truncated", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), Some(1));
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(log.contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>."));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real redis-server in `dir`, stopped (and its directory kept) by
/// [`RedisProcess::shutdown`].
struct RedisProcess {
    port: u16,
    child: Child,
}

impl RedisProcess {
    fn start(dir: &Path) -> RedisProcess {
        let port = free_port();
        let child = Command::new(REDIS)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", &dir.display().to_string(), "--save", ""])
            .args(["--appendonly", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        let process = RedisProcess { port, child };
        // PING answers -LOADING until the AOF is loaded.
        eventually("redis-server has loaded", || {
            process
                .client()
                .is_ok_and(|mut con| redis::cmd("PING").query::<String>(&mut con).is_ok())
        });
        process
    }

    fn client(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?.get_connection()
    }

    fn shutdown(mut self) {
        let mut con = self.client().unwrap();
        let _ = redis::cmd("SHUTDOWN")
            .arg("NOSAVE")
            .query::<Value>(&mut con);
        assert_eq!(wait_exit(&mut self.child, Duration::from_secs(10)), Some(0));
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ferrite_loads_the_aof_real_redis_wrote() {
    let dir = temp_dir("aof-from-redis");
    let redis = RedisProcess::start(&dir);
    let mut con = redis.client().unwrap();
    write_sample(&mut con);
    // A rewrite, so that Redis's own base (RDB preamble) is part of it.
    run(&mut con, &["BGREWRITEAOF"]);
    eventually("Redis's rewrite ends", || {
        info_field(&mut con, "aof_rewrite_in_progress") == "0"
    });
    run(&mut con, &["SET", "after-rewrite", "1"]);
    redis.shutdown();
    let server = ferrite(&dir, &[]);
    let mut con = server.client();
    check_sample(&mut con);
    assert_eq!(text(&mut con, &["GET", "after-rewrite"]), "1");
}

#[test]
fn real_redis_loads_the_aof_ferrite_wrote() {
    for preamble in ["yes", "no"] {
        let dir = temp_dir("aof-to-redis");
        let server = ferrite(&dir, &["--aof-use-rdb-preamble", preamble]);
        let mut con = server.client();
        run(&mut con, &["SET", "before-rewrite", "1"]);
        run(&mut con, &["BGREWRITEAOF"]);
        eventually("the rewrite ends", || {
            info_field(&mut con, "aof_rewrite_in_progress") == "0"
        });
        write_sample(&mut con);
        stop(server);
        let redis = RedisProcess::start(&dir);
        let mut con = redis.client().unwrap();
        check_sample(&mut con);
        assert_eq!(text(&mut con, &["GET", "before-rewrite"]), "1");
        redis.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
