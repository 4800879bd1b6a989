//! Replication end to end with real processes on loopback: a Ferrite master
//! with Ferrite replicas (full sync, the stream, partial resync after the
//! link is killed, a chained replica, WAIT, promotion), and interop with a
//! real redis-server in both directions. Data is compared key by key
//! (type, contents, absolute expiry), since Ferrite's DEBUG DIGEST is not
//! Redis's.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, temp_dir, Server};

/// Every key of databases 0..4 as "db key" -> "type contents expiry".
fn contents(port: u16) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for db in 0..4 {
        let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/{db}"))
            .expect("client")
            .get_connection()
            .expect("connection");
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).expect("keys");
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut con).expect("type");
            let value = match kind.as_str() {
                "string" => redis::cmd("GET").arg(&key).query::<String>(&mut con),
                "list" => redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query::<Vec<String>>(&mut con)
                    .map(|v| v.join(",")),
                "hash" => redis::cmd("HGETALL")
                    .arg(&key)
                    .query::<BTreeMap<String, String>>(&mut con)
                    .map(|v| format!("{v:?}")),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query::<Vec<String>>(&mut con)
                    .map(|mut v| {
                        v.sort();
                        v.join(",")
                    }),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query::<Vec<String>>(&mut con)
                    .map(|v| v.join(",")),
                other => Ok(other.to_string()),
            }
            .expect("value");
            let expiry: i64 = redis::cmd("PEXPIRETIME")
                .arg(&key)
                .query(&mut con)
                .expect("pexpiretime");
            all.insert(format!("{db} {key}"), format!("{kind} {value} {expiry}"));
        }
    }
    all
}

fn info(port: u16, section: &str) -> String {
    let mut con = connect(port);
    redis::cmd("INFO")
        .arg(section)
        .query(&mut con)
        .expect("info")
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_default()
        .to_string()
}

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("client")
        .get_connection()
        .expect("connection")
}

fn cmd(port: u16, args: &[&str]) -> redis::Value {
    let mut con = connect(port);
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query(&mut con).expect("command")
}

/// Waits (at most a minute) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// Waits until `replica`'s link is up and it processed everything `master` fed.
fn wait_in_sync(master: u16, replica: u16) {
    wait_until("the replica to catch up", || {
        let r = info(replica, "replication");
        let m = info(master, "replication");
        field(&r, "master_link_status") == "up"
            && field(&r, "slave_repl_offset") == field(&m, "master_repl_offset")
    });
}

/// Writes every data type, expiries and several databases.
fn write_dataset(port: u16, tag: &str) {
    let mut con = connect(port);
    let run = |con: &mut redis::Connection, args: &[String]| {
        let mut command = redis::cmd(&args[0]);
        for arg in &args[1..] {
            command.arg(arg);
        }
        command.query::<redis::Value>(con).expect("write");
    };
    for i in 0..50 {
        let s = |t: &str| t.replace("{i}", &i.to_string()).replace("{t}", tag);
        for line in [
            "SET str:{t}:{i} value{i}",
            "SET ttl:{t}:{i} v EX 1000",
            "INCRBYFLOAT float:{t} 1.5",
            "RPUSH list:{t} a{i} b{i}",
            "LPOP list:{t}",
            "HSET hash:{t} f{i} v{i}",
            "SADD set:{t} m{i} {i}",
            "ZADD zset:{t} {i} m{i}",
            "ZINCRBY zset:{t} 0.5 m0",
            "EXPIRE str:{t}:{i} 5000",
        ] {
            let args: Vec<String> = s(line).split(' ').map(str::to_string).collect();
            run(&mut con, &args);
        }
    }
    redis::cmd("SPOP")
        .arg(format!("set:{tag}"))
        .arg(3)
        .query::<redis::Value>(&mut con)
        .expect("spop");
    redis::cmd("SELECT")
        .arg(2)
        .query::<()>(&mut con)
        .expect("select");
    redis::cmd("SET")
        .arg(format!("db2:{tag}"))
        .arg("x")
        .query::<()>(&mut con)
        .expect("set");
    redis::cmd("MULTI").query::<()>(&mut con).expect("multi");
    redis::cmd("INCR")
        .arg("counter")
        .query::<()>(&mut con)
        .expect("queued");
    redis::cmd("LPUSH")
        .arg("l2")
        .arg("a")
        .query::<()>(&mut con)
        .expect("queued");
    redis::cmd("EXEC")
        .query::<redis::Value>(&mut con)
        .expect("exec");
}

#[test]
fn ferrite_replicas_sync_stream_resume_and_chain() {
    let master = Server::start_with(&["--repl-diskless-sync", "no"]);
    let replica = Server::start();
    let chained = Server::start();
    write_dataset(master.port, "before");
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    cmd(
        chained.port,
        &["REPLICAOF", "127.0.0.1", &replica.port.to_string()],
    );
    write_dataset(master.port, "during");
    wait_in_sync(master.port, replica.port);
    wait_in_sync(replica.port, chained.port);
    let expected = contents(master.port);
    assert_eq!(contents(replica.port), expected);
    assert_eq!(contents(chained.port), expected);

    // Writes are refused on a read-only replica.
    let mut con = connect(replica.port);
    let refused = redis::cmd("SET").arg("k").arg("v").query::<()>(&mut con);
    assert_eq!(
        refused.expect_err("read only").detail(),
        Some("You can't write against a read only replica.")
    );

    // Cut the link from the replica's side: it continues partially.
    assert_eq!(field(&info(master.port, "stats"), "sync_full"), "1");
    cmd(replica.port, &["CLIENT", "KILL", "TYPE", "master"]);
    write_dataset(master.port, "after-cut");
    wait_in_sync(master.port, replica.port);
    // ... and from the master's side.
    cmd(master.port, &["CLIENT", "KILL", "TYPE", "replica"]);
    write_dataset(master.port, "after-second-cut");
    wait_in_sync(master.port, replica.port);
    wait_in_sync(replica.port, chained.port);
    let stats = info(master.port, "stats");
    assert_eq!(field(&stats, "sync_full"), "1");
    assert_eq!(field(&stats, "sync_partial_ok"), "2");
    let expected = contents(master.port);
    assert_eq!(contents(replica.port), expected);
    assert_eq!(contents(chained.port), expected);

    // WAIT counts the replica once it acknowledged the client's write.
    let mut con = connect(master.port);
    redis::cmd("SET")
        .arg("w")
        .arg("1")
        .query::<()>(&mut con)
        .expect("set");
    let acked: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(0)
        .query(&mut con)
        .expect("wait");
    assert_eq!(acked, 1);

    // Promotion keeps the data and the old id as replid2.
    let old_id = field(&info(master.port, "replication"), "master_replid");
    cmd(replica.port, &["REPLICAOF", "NO", "ONE"]);
    let promoted = info(replica.port, "replication");
    assert_eq!(field(&promoted, "role"), "master");
    assert_eq!(field(&promoted, "master_replid2"), old_id);
    assert_eq!(contents(replica.port), contents(master.port));
    cmd(replica.port, &["SET", "new", "write"]);
    wait_in_sync(replica.port, chained.port);
    assert_eq!(contents(chained.port), contents(replica.port));
}

/// A real redis-server, stopped on drop.
struct Redis {
    port: u16,
    child: Child,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start(extra: &[&str]) -> Redis {
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

/// Data written before the replica attaches (full sync), while it is
/// attached (stream) and after the link is cut from the side that runs
/// `CLIENT KILL TYPE kill_type` (partial resync) all reaches the replica, with
/// exactly one full and one partial sync counted by the master.
fn sync_stream_and_resume(master: u16, replica: u16, kill_on: u16, kill_type: &str) {
    wait_in_sync(master, replica);
    write_dataset(master, "streamed");
    wait_in_sync(master, replica);
    assert_eq!(contents(replica), contents(master));
    cmd(kill_on, &["CLIENT", "KILL", "TYPE", kill_type]);
    write_dataset(master, "after-cut");
    wait_in_sync(master, replica);
    let stats = info(master, "stats");
    assert_eq!(field(&stats, "sync_full"), "1");
    assert_eq!(field(&stats, "sync_partial_ok"), "1");
    assert_eq!(contents(replica), contents(master));
}

#[test]
fn real_redis_replicates_from_ferrite() {
    let master = Server::start();
    write_dataset(master.port, "before");
    let redis = Redis::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    sync_stream_and_resume(master.port, redis.port, master.port, "replica");
}

#[test]
fn ferrite_replicates_from_real_redis() {
    let redis = Redis::start(&["--repl-diskless-sync-delay", "0"]);
    write_dataset(redis.port, "before");
    let replica = Server::start();
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &redis.port.to_string()],
    );
    sync_stream_and_resume(redis.port, replica.port, replica.port, "master");
}

#[test]
fn replica_restarted_from_its_rdb_resyncs_partially() {
    let master = Server::start();
    write_dataset(master.port, "before");
    let dir = temp_dir("restarted-replica");
    let config_file = dir.join("replica.conf");
    std::fs::write(&config_file, "").expect("write config file");
    let replica = Server::start_in(dir.clone(), Some(&config_file), &[]);
    let master_port = master.port.to_string();
    cmd(replica.port, &["REPLICAOF", "127.0.0.1", &master_port]);
    let replicaof: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("replicaof")
        .query(&mut connect(replica.port))
        .expect("config get");
    assert_eq!(
        replicaof,
        ["replicaof".to_string(), format!("127.0.0.1 {master_port}")]
    );
    wait_in_sync(master.port, replica.port);
    // CONFIG REWRITE keeps the live master; SHUTDOWN SAVE stores the stream position.
    cmd(replica.port, &["CONFIG", "REWRITE"]);
    let rewritten = std::fs::read_to_string(&config_file).expect("read config file");
    assert!(
        rewritten.contains(&format!("\nreplicaof 127.0.0.1 {master_port}\n")),
        "{rewritten}"
    );
    let _ = redis::cmd("SHUTDOWN")
        .arg("SAVE")
        .query::<redis::Value>(&mut connect(replica.port));
    assert_eq!(replica.exit_keeping_dir(), Some(0));
    write_dataset(master.port, "while-down");
    let replica = Server::start_in(dir, Some(&config_file), &[]);
    wait_in_sync(master.port, replica.port);
    let stats = info(master.port, "stats");
    assert_eq!(field(&stats, "sync_full"), "1");
    assert_eq!(field(&stats, "sync_partial_ok"), "1");
    assert_eq!(contents(replica.port), contents(master.port));
}

/// A fresh master and a replica of it, in sync.
fn master_and_replica() -> (Server, Server) {
    let master = Server::start();
    let replica = Server::start();
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    (master, replica)
}

#[test]
fn a_transaction_of_reads_runs_on_a_read_only_replica() {
    let (master, replica) = master_and_replica();
    let mut con = replica.raw();
    con.send(b"MULTI\r\nGET k\r\nEXEC\r\n");
    con.expect(b"+OK\r\n+QUEUED\r\n*1\r\n$-1\r\n");
    con.send(b"MULTI\r\nSET k v\r\nEXEC\r\n");
    con.expect(b"+OK\r\n-READONLY You can't write against a read only replica.\r\n-EXECABORT Transaction discarded because of previous errors.\r\n");
    // A promotion inside a transaction of reads takes the write order itself.
    con.send(b"MULTI\r\nGET k\r\nREPLICAOF NO ONE\r\nEXEC\r\nSET k v\r\n");
    con.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n$-1\r\n+OK\r\n+OK\r\n");
}

#[test]
fn debug_replicate_feeds_replicas_without_running_the_command() {
    let (master, replica) = master_and_replica();
    // No SELECT is fed: the replica's master client is still in database 0.
    cmd(
        master.port,
        &["DEBUG", "REPLICATE", "SET", "diverged", "yes"],
    );
    wait_in_sync(master.port, replica.port);
    assert_eq!(
        cmd(master.port, &["EXISTS", "diverged"]),
        redis::Value::Int(0)
    );
    let value: String = redis::cmd("GET")
        .arg("diverged")
        .query(&mut connect(replica.port))
        .expect("get");
    assert_eq!(value, "yes");
}
