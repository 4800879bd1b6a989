//! Replication end to end with real processes on loopback: a Ferrite master
//! with Ferrite replicas (full sync, the stream, partial resync after the
//! link is killed, a chained replica, WAIT, promotion), and interop with a
//! real redis-server in both directions. Data is compared key by key
//! (type, contents, absolute expiry), since Ferrite's DEBUG DIGEST is not
//! Redis's.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::repl::{cmd, connect, field, info, skip_snapshot, wait_in_sync};
use common::{temp_dir, Redis, Server};

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
    all.insert("functions".into(), libraries(port));
    all
}

/// FUNCTION LIST WITHCODE, one entry per library in name order (Redis lists
/// them in hash order), and what each library's function returns.
fn libraries(port: u16) -> String {
    let mut con = connect(port);
    let listed: Vec<redis::Value> = redis::cmd("FUNCTION")
        .arg("LIST")
        .arg("WITHCODE")
        .query(&mut con)
        .expect("function list");
    let mut entries: Vec<String> = listed.iter().map(|l| format!("{l:?}")).collect();
    entries.sort();
    let mut names: Vec<String> = listed
        .iter()
        .map(|library| {
            let fields: BTreeMap<String, redis::Value> =
                redis::from_redis_value(library).expect("library");
            redis::from_redis_value(&fields["library_name"]).expect("library name")
        })
        .collect();
    names.sort();
    for name in names {
        // write_dataset's library lib_<tag> holds the function f_<tag>.
        let function = format!("f{}", name.trim_start_matches("lib"));
        let called: String = redis::cmd("FCALL_RO")
            .arg(function)
            .arg(0)
            .query(&mut con)
            .expect("fcall_ro");
        entries.push(called);
    }
    entries.join("\n")
}

/// Writes every data type, expiries and several databases, and loads a
/// function library named after `tag`.
fn write_dataset(port: u16, tag: &str) {
    let mut con = connect(port);
    let library = tag.replace('-', "_");
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(format!(
            "#!lua name=lib_{library}\nredis.register_function{{function_name='f_{library}', \
             callback=function() return '{tag}' end, flags={{'no-writes'}}}}"
        ))
        .query::<String>(&mut con)
        .expect("function load");
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
    // Scripts reach replicas as their effects, including a key they did
    // not declare and the rewrites of INCRBYFLOAT and EXPIRE.
    let script = "redis.call('SET', KEYS[1], ARGV[1]) \
        redis.call('INCRBYFLOAT', 'undeclared:' .. KEYS[2], '0.5') \
        redis.call('EXPIRE', KEYS[1], 1000) \
        return redis.call('RPUSH', KEYS[2], ARGV[1])";
    for i in 0..5 {
        redis::cmd("EVAL")
            .arg(script)
            .arg(2)
            .arg(format!("script:{tag}:{i}"))
            .arg(format!("scriptlist:{tag}"))
            .arg(format!("{tag}{i}"))
            .query::<i64>(&mut con)
            .expect("eval");
    }
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

/// A real redis-server replicating from a Ferrite master started with
/// `master_args`; its log (in its dir) is returned.
fn real_redis_replica_of_ferrite(master_args: &[&str]) -> String {
    let master = Server::start_with(master_args);
    write_dataset(master.port, "before");
    let redis = Redis::start(&[
        "--replicaof",
        "127.0.0.1",
        &master.port.to_string(),
        "--logfile",
        "redis.log",
    ]);
    sync_stream_and_resume(master.port, redis.port, master.port, "replica");
    std::fs::read_to_string(redis.dir.join("redis.log")).expect("redis-server's log")
}

#[test]
fn real_redis_replicates_from_ferrite_diskless() {
    // `repl-diskless-sync yes` is the default (common::Server sets the delay to 0).
    let log = real_redis_replica_of_ferrite(&[]);
    assert!(log.contains("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF"));
}

#[test]
fn real_redis_replicates_from_ferrite_with_a_delayed_diskless_sync() {
    let log = real_redis_replica_of_ferrite(&["--repl-diskless-sync-delay", "1"]);
    assert!(log.contains("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF"));
}

#[test]
fn real_redis_replicates_from_ferrite_disk_style() {
    let log = real_redis_replica_of_ferrite(&["--repl-diskless-sync", "no"]);
    assert!(log.contains("MASTER <-> REPLICA sync: receiving "));
    assert!(!log.contains("with EOF"));
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
fn script_effects_are_fed_as_redis_feeds_them() {
    let master = Server::start_with(&["--repl-ping-replica-period", "3600"]);
    let mut sync = master.raw();
    sync.send(b"SYNC\r\n");
    skip_snapshot(&mut sync);
    let mut con = connect(master.port);
    let eval = |con: &mut redis::Connection, script: &str, keys: &[&str]| {
        redis::cmd("EVAL")
            .arg(script)
            .arg(keys.len())
            .arg(keys)
            .query::<redis::Value>(con)
            .expect("eval")
    };
    // Several writes: MULTI/EXEC around them, an undeclared key included.
    eval(
        &mut con,
        "redis.call('set', KEYS[1], '1') redis.call('incr', 'other')",
        &["a"],
    );
    sync.expect(
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n\
          *3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nincr\r\n$5\r\nother\r\n\
          *1\r\n$4\r\nEXEC\r\n",
    );
    // One write: fed alone. Reads and refused writes feed nothing.
    eval(
        &mut con,
        "redis.call('get', 'a') redis.pcall('lpush', KEYS[1], 'x') return redis.call('del', 'other')",
        &["a"],
    );
    sync.expect(b"*2\r\n$3\r\ndel\r\n$5\r\nother\r\n");
    // redis.set_repl(REPL_NONE) keeps later calls from the replicas.
    eval(
        &mut con,
        "redis.call('set', 'x', '1') redis.set_repl(redis.REPL_NONE) \
         redis.call('set', 'y', '2') redis.set_repl(redis.REPL_ALL) redis.call('set', 'z', '3')",
        &[],
    );
    sync.expect(
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nx\r\n$1\r\n1\r\n\
          *3\r\n$3\r\nset\r\n$1\r\nz\r\n$1\r\n3\r\n*1\r\n$4\r\nEXEC\r\n",
    );
    // A function's effects, and a script inside MULTI: one transaction.
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=lib\nredis.register_function('bump', function(keys) return redis.call('incrby', keys[1], 5) end)")
        .query::<String>(&mut con)
        .expect("function load");
    sync.expect(b"*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n");
    let _library = sync.read_line();
    let _code = sync.read_line();
    redis::cmd("FCALL")
        .arg("bump")
        .arg(1)
        .arg("n")
        .query::<i64>(&mut con)
        .expect("fcall");
    sync.expect(b"*3\r\n$6\r\nincrby\r\n$1\r\nn\r\n$1\r\n5\r\n");
    let replies: Vec<redis::Value> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("m")
        .arg("1")
        .cmd("EVAL")
        .arg("return redis.call('append', KEYS[1], 'x')")
        .arg(1)
        .arg("m")
        .query(&mut con)
        .expect("multi");
    assert_eq!(replies.len(), 2);
    sync.expect(
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nm\r\n$1\r\n1\r\n\
          *3\r\n$6\r\nappend\r\n$1\r\nm\r\n$1\r\nx\r\n*1\r\n$4\r\nEXEC\r\n",
    );
}

/// A busy script holds the write order while a replica is attached: the
/// master's PING (every second) and writers that arrive meanwhile wait
/// without stalling the server, even with a single worker thread, so
/// SCRIPT KILL is still served and the writes then reach the replica.
#[test]
fn writers_wait_behind_a_busy_script_without_stalling_the_server() {
    let master = Server::start_with(&[
        "--io-threads",
        "1",
        "--repl-ping-replica-period",
        "1",
        "--busy-reply-threshold",
        "100",
    ]);
    let replica = Server::start();
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    let mut busy = master.raw();
    busy.send(b"EVAL \"while true do end\" 0\r\n");
    let mut writers: Vec<_> = (0..4).map(|_| master.raw()).collect();
    for (i, writer) in writers.iter_mut().enumerate() {
        writer.send(format!("SET w{i} v\r\n").as_bytes());
    }
    // Once a command is refused with BUSY the script runs; the master cron
    // then tries to feed a PING behind it.
    let mut probe = master.raw();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        probe.send(b"PING\r\n");
        if probe.read_line().starts_with("-BUSY ") {
            break;
        }
        assert!(Instant::now() < deadline, "the script never ran");
    }
    std::thread::sleep(Duration::from_millis(1500));
    let mut killer = master.raw();
    killer.send(b"SCRIPT KILL\r\n");
    assert_eq!(killer.read_line(), "+OK");
    let killed = busy.read_line();
    assert!(
        killed.starts_with("-ERR") && killed.contains("Script killed by user with SCRIPT KILL"),
        "{killed}"
    );
    // Each writer ran after the script (+OK) or was refused once the script
    // had run past busy-reply-threshold (-BUSY).
    let mut written = Vec::new();
    for (i, writer) in writers.iter_mut().enumerate() {
        let reply = writer.read_line();
        match reply.as_str() {
            "+OK" => written.push(format!("0 w{i}")),
            busy_reply => assert!(busy_reply.starts_with("-BUSY "), "{busy_reply}"),
        }
    }
    wait_in_sync(master.port, replica.port);
    let on_replica = contents(replica.port);
    for key in &written {
        assert!(on_replica.contains_key(key), "{key} missing on the replica");
    }
    assert_eq!(on_replica, contents(master.port));
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
    // A key only the replica holds, already expired: hidden, kept for the
    // master's DEL, so saved and loaded again by the restarted replica.
    cmd(
        master.port,
        &["DEBUG", "REPLICATE", "SET", "hidden", "1", "PXAT", "1"],
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
    assert!(matches!(
        cmd(replica.port, &["DEBUG", "OBJECT", "hidden"]),
        redis::Value::SimpleString(_)
    ));
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
    let (_master, replica) = master_and_replica();
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

#[test]
fn a_full_sync_replaces_the_replicas_libraries() {
    let master = Server::start();
    let replica = Server::start();
    let library = |name: &str| {
        format!(
            "#!lua name={name}\nredis.register_function{{function_name='{name}', \
             callback=function() return '{name}' end, flags={{'no-writes'}}}}"
        )
    };
    cmd(master.port, &["FUNCTION", "LOAD", &library("theirs")]);
    cmd(replica.port, &["FUNCTION", "LOAD", &library("mine")]);
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    assert_eq!(
        cmd(replica.port, &["FCALL_RO", "theirs", "0"]),
        redis::Value::BulkString(b"theirs".to_vec())
    );
    let mut con = connect(replica.port);
    let missing = redis::cmd("FCALL_RO")
        .arg("mine")
        .arg(0)
        .query::<String>(&mut con)
        .unwrap_err();
    assert_eq!(missing.detail(), Some("Function not found"));
    assert_eq!(
        cmd(replica.port, &["FUNCTION", "LIST"]),
        cmd(master.port, &["FUNCTION", "LIST"])
    );

    // FUNCTION FLUSH and RESTORE reach the replica through the stream.
    let mut master_con = connect(master.port);
    let payload: Vec<u8> = redis::cmd("FUNCTION")
        .arg("DUMP")
        .query(&mut master_con)
        .expect("function dump");
    cmd(master.port, &["FUNCTION", "FLUSH"]);
    wait_in_sync(master.port, replica.port);
    assert_eq!(
        cmd(replica.port, &["FUNCTION", "LIST"]),
        redis::Value::Array(vec![])
    );
    redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(payload)
        .query::<()>(&mut master_con)
        .expect("function restore");
    wait_in_sync(master.port, replica.port);
    assert_eq!(
        cmd(replica.port, &["FCALL_RO", "theirs", "0"]),
        redis::Value::BulkString(b"theirs".to_vec())
    );
}

#[test]
fn a_transaction_that_writes_can_promote_a_writable_replica() {
    let (_master, replica) = master_and_replica();
    cmd(replica.port, &["CONFIG", "SET", "replica-read-only", "no"]);
    // EXEC holds the write order for its write; the promotion inside it
    // must not wait for it again.
    let mut con = replica.raw();
    con.send(b"MULTI\r\nSET k v\r\nREPLICAOF NO ONE\r\nEXEC\r\n");
    con.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n+OK\r\n");
    assert_eq!(field(&info(replica.port, "replication"), "role"), "master");
    con.send(b"GET k\r\n");
    con.expect(b"$1\r\nv\r\n");
}

#[test]
fn exec_is_checked_once_and_a_refused_exec_discards_its_transaction() {
    let server = Server::start();
    let mut con = server.raw();
    // Demoted inside the transaction: its later write still runs, since
    // only EXEC itself is checked (as Redis's execCommand).
    let closed = common::free_port().to_string();
    let demote = format!(
        "MULTI\r\nSET a 1\r\nREPLICAOF 127.0.0.1 {closed}\r\nSET b 2\r\nEXEC\r\nSET c 3\r\n"
    );
    con.send(demote.as_bytes());
    con.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n+OK\r\n+OK\r\n");
    con.expect(b"-READONLY You can't write against a read only replica.\r\n");
    con.send(b"REPLICAOF NO ONE\r\nMGET a b\r\n");
    con.expect(b"+OK\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    // Refused when EXEC comes: the transaction is discarded, with the reason.
    con.send(b"MULTI\r\nINCR a\r\n");
    con.expect(b"+OK\r\n+QUEUED\r\n");
    cmd(
        server.port,
        &["CONFIG", "SET", "min-replicas-to-write", "2"],
    );
    con.send(b"EXEC\r\nEXEC\r\nGET a\r\n");
    con.expect(b"-EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write.\r\n");
    con.expect(b"-ERR EXEC without MULTI\r\n$1\r\n1\r\n");
}

/// A diskless full sync streams the snapshot while it is walked; a replica
/// that goes away mid-transfer must not leave that walk unfinished: the
/// next replica gets a whole, consistent snapshot and BGSAVE can run.
#[test]
fn a_replica_gone_mid_transfer_leaves_the_snapshot_finished() {
    let master = Server::start_with(&["--repl-diskless-sync-delay", "0"]);
    // ~20 MB of values: far more than the socket buffers hold.
    let mut con = connect(master.port);
    let value = "x".repeat(1000);
    for batch in 0..20 {
        let mut mset = redis::cmd("MSET");
        for i in 0..1000 {
            mset.arg(format!("key:{batch}:{i}")).arg(&value);
        }
        mset.query::<()>(&mut con).expect("mset");
    }
    let mut gone = master.raw();
    gone.send(b"REPLCONF capa eof capa psync2\r\n");
    assert_eq!(gone.read_line(), "+OK");
    gone.send(b"PSYNC ? -1\r\n");
    assert!(gone.read_line().starts_with("+FULLRESYNC "));
    let header = loop {
        let line = gone.read_line();
        if let Some(header) = line.trim_start_matches('\n').strip_prefix('$') {
            break header.to_string();
        }
    };
    assert!(header.starts_with("EOF:"), "{header}");
    drop(gone);
    redis::cmd("SET")
        .arg("after")
        .arg("the cut")
        .query::<()>(&mut con)
        .expect("set");

    let replica = Server::start();
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    assert_eq!(contents(replica.port), contents(master.port));
    let keys: i64 = redis::cmd("DBSIZE")
        .query(&mut connect(replica.port))
        .expect("dbsize");
    assert_eq!(keys, 20_001);
    let reply: String = redis::cmd("BGSAVE").query(&mut con).expect("bgsave");
    assert_eq!(reply, "Background saving started");
}

/// A replica pointed at another master and back continues its master's
/// stream partially in the database that stream had selected: the master
/// selects again only when its database changes. (It applied the rest in
/// database 0.) The two REPLICAOFs follow each other at once, which also
/// started two links for the second master (two partial resyncs, the
/// stream applied twice).
#[test]
fn a_partial_resync_after_replicaof_elsewhere_continues_in_the_selected_db() {
    let (master, replica) = master_and_replica();
    let mut db9 = redis::Client::open(format!("redis://127.0.0.1:{}/9", master.port))
        .expect("client")
        .get_connection()
        .expect("connection");
    redis::cmd("SET")
        .arg("k")
        .arg("before")
        .query::<()>(&mut db9)
        .expect("set");
    wait_in_sync(master.port, replica.port);
    let nowhere = common::free_port().to_string();
    cmd(replica.port, &["REPLICAOF", "127.0.0.1", &nowhere]);
    redis::cmd("SET")
        .arg("k")
        .arg("after")
        .query::<()>(&mut db9)
        .expect("set");
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    assert_eq!(field(&info(master.port, "stats"), "sync_partial_ok"), "1");
    assert_eq!(contents(replica.port), contents(master.port));
}

/// Replicas asking for a diskless sync together share one snapshot: with
/// `repl-diskless-sync-max-replicas 2` the second's arrival starts it (the
/// delay would be an hour), both get the same `+FULLRESYNC` offset and
/// EOF mark, and INFO counts one snapshot in `rdb_bgsave_in_progress`
/// while `rdb-key-save-delay` keeps it running.
#[test]
fn replicas_that_wait_together_share_one_diskless_snapshot() {
    let master = Server::start_with(&[
        "--repl-diskless-sync-delay",
        "3600",
        "--repl-diskless-sync-max-replicas",
        "2",
    ]);
    for i in 0..10 {
        cmd(master.port, &["SET", &format!("k{i}"), "v"]);
    }
    let handshake = |raw: &mut common::RawConnection| {
        raw.send(b"REPLCONF capa eof capa psync2\r\n");
        assert_eq!(raw.read_line(), "+OK");
        raw.send(b"PSYNC ? -1\r\n");
    };
    let mut first = master.raw();
    handshake(&mut first);
    common::wait_until("the first replica to wait", || {
        field(&info(master.port, "replication"), "slave0").contains("state=wait_bgsave")
    });
    assert_eq!(
        field(&info(master.port, "persistence"), "rdb_bgsave_in_progress"),
        "0"
    );
    cmd(
        master.port,
        &["CONFIG", "SET", "rdb-key-save-delay", "200000"],
    );
    let mut second = master.raw();
    handshake(&mut second);
    let fullresync = |raw: &mut common::RawConnection| loop {
        let line = raw.read_line();
        let line = line.trim_start_matches('\n');
        if !line.is_empty() {
            return line.to_string();
        }
    };
    let (a, b) = (fullresync(&mut first), fullresync(&mut second));
    assert!(a.starts_with("+FULLRESYNC "), "{a}");
    assert_eq!(a, b);
    assert_eq!(
        field(&info(master.port, "persistence"), "rdb_bgsave_in_progress"),
        "1"
    );
    let (a, b) = (first.read_line(), second.read_line());
    assert!(a.starts_with("$EOF:"), "{a}");
    assert_eq!(a, b);
    cmd(master.port, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
}

/// A master restarted from the RDB file it saved keeps the stream the file
/// continues as replid2, with an empty backlog from the file's offset
/// (Redis's `loadDataFromDisk`), so its replica continues partially.
#[test]
fn master_restarted_from_its_rdb_continues_its_stream_as_replid2() {
    let dir = temp_dir("restarted-master");
    let master = Server::start_in(dir.clone(), None, &[]);
    let replica = Server::start();
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    write_dataset(master.port, "before");
    wait_in_sync(master.port, replica.port);
    let before = info(master.port, "replication");
    let replid = field(&before, "master_replid");
    let offset: u64 = field(&before, "master_repl_offset")
        .parse()
        .expect("offset");
    let _ = redis::cmd("SHUTDOWN")
        .arg("SAVE")
        .query::<redis::Value>(&mut connect(master.port));
    assert_eq!(master.exit_keeping_dir(), Some(0));
    let master = Server::start_in(dir, None, &[]);
    let after = info(master.port, "replication");
    assert_ne!(field(&after, "master_replid"), replid);
    assert_eq!(field(&after, "master_replid2"), replid);
    assert_eq!(
        field(&after, "second_repl_offset"),
        (offset + 1).to_string()
    );
    assert_eq!(field(&after, "master_repl_offset"), offset.to_string());
    assert_eq!(field(&after, "repl_backlog_active"), "1");
    assert_eq!(
        field(&after, "repl_backlog_first_byte_offset"),
        (offset + 1).to_string()
    );
    assert_eq!(field(&after, "repl_backlog_histlen"), "0");
    cmd(
        replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_in_sync(master.port, replica.port);
    let stats = info(master.port, "stats");
    assert_eq!(field(&stats, "sync_partial_ok"), "1");
    assert_eq!(field(&stats, "sync_full"), "0");
    assert_eq!(contents(replica.port), contents(master.port));
}

/// A client blocked on a master that becomes a replica gets Redis's
/// UNBLOCKED error and its connection closes (`disconnectAllBlockedClients`):
/// served later by the new master's stream, it would pop what the master
/// keeps.
#[test]
fn clients_blocked_on_a_master_that_becomes_a_replica_are_unblocked_and_closed() {
    let master = Server::start();
    let becomes_replica = Server::start();
    let mut blocked = becomes_replica.raw();
    blocked.send(b"BLPOP foo 0\r\n");
    becomes_replica.wait_blocked(1);
    cmd(
        becomes_replica.port,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    assert_eq!(
        blocked.read_line(),
        "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
    );
    assert!(blocked.is_closed());
    wait_in_sync(master.port, becomes_replica.port);
    cmd(master.port, &["RPUSH", "foo", "a", "b", "c"]);
    wait_in_sync(master.port, becomes_replica.port);
    assert_eq!(contents(becomes_replica.port), contents(master.port));
}
