//! RDB persistence end to end: a real Redis 7.0 (`/usr/bin/redis-server`)
//! writes a file with every type in small and large encodings and function
//! libraries that Ferrite loads, Ferrite's SAVE is loaded by Redis, FUNCTION
//! DUMP payloads move both ways, and Ferrite keeps its data across SHUTDOWN
//! and DEBUG RELOAD (with its NOFLUSH and MERGE options) and refuses a
//! corrupt file; a shutdown (SHUTDOWN or a signal) that cannot save keeps
//! the server running, as Redis's.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, temp_dir, wait_exit};
use redis::Value;

/// A process on a loopback port with its own directory, stopped on drop.
struct Process {
    port: u16,
    child: Child,
}

impl Process {
    fn start(program: &Path, dir: &Path, extra: &[&str]) -> Process {
        let port = free_port();
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--logfile".into(),
            dir.join("server.log").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(program)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let process = Process { port, child };
        process.wait_ready();
        process
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut con) = self.try_connect() {
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server on port {} did not start", self.port);
    }

    fn try_connect(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?.get_connection()
    }

    fn connect(&self) -> redis::Connection {
        self.try_connect().expect("connect")
    }

    /// Sends `signal` (TERM, INT) to the process.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// Sends SHUTDOWN with `mode` and waits for the process to exit.
    fn shutdown(mut self, mode: &str) -> Option<i32> {
        let mut con = self.connect();
        let _ = redis::cmd("SHUTDOWN").arg(mode).query::<Value>(&mut con);
        wait_exit(&mut self.child, Duration::from_secs(10))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const REDIS: &str = "/usr/bin/redis-server";

fn ferrite(dir: &Path, extra: &[&str]) -> Process {
    let mut args = vec!["--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    Process::start(&common::binary(), dir, &args)
}

fn redis(dir: &Path) -> Process {
    Process::start(
        Path::new(REDIS),
        dir,
        &["--save", "", "--enable-debug-command", "yes"],
    )
}

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        TempDir(temp_dir(tag))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

use common::query as run;

/// Every type in its small and large encodings, over two databases, with
/// expiries; values long enough for Redis to LZF-compress them.
fn populate(con: &mut redis::Connection) {
    let long = "compressible-".repeat(50);
    let huge_element = "x".repeat(20_000);
    let mut commands: Vec<Vec<String>> = vec![
        vec!["SET".into(), "string".into(), "hello".into()],
        vec!["SET".into(), "int".into(), "-12345".into()],
        vec!["SET".into(), "bigint".into(), "9000000000".into()],
        vec!["SET".into(), "long".into(), long.clone()],
        vec![
            "SET".into(),
            "volatile".into(),
            "v".into(),
            "PX".into(),
            "3600000".into(),
        ],
        vec![
            "RPUSH".into(),
            "list".into(),
            "a".into(),
            "1".into(),
            "-7".into(),
            long.clone(),
        ],
        vec![
            "RPUSH".into(),
            "plainnode".into(),
            "a".into(),
            huge_element,
            "b".into(),
        ],
        vec![
            "HSET".into(),
            "hash".into(),
            "f".into(),
            "v".into(),
            "n".into(),
            "12".into(),
        ],
        vec![
            "SADD".into(),
            "intset".into(),
            "1".into(),
            "-2".into(),
            "70000".into(),
        ],
        vec![
            "SADD".into(),
            "set".into(),
            "a".into(),
            "b".into(),
            "3".into(),
        ],
        vec![
            "ZADD".into(),
            "zset".into(),
            "1".into(),
            "a".into(),
            "2.5".into(),
            "b".into(),
            "-inf".into(),
            "c".into(),
        ],
        vec!["SELECT".into(), "3".into()],
        vec!["SET".into(), "other-db".into(), "x".into()],
        ["XADD", "stream", "1-1", "f", "v", "n", "1"]
            .map(String::from)
            .to_vec(),
        ["XADD", "stream", "2-1", "f", "w", "n", "-20"]
            .map(String::from)
            .to_vec(),
        ["XADD", "stream", "3-5", "other", &long]
            .map(String::from)
            .to_vec(),
        ["XDEL", "stream", "2-1"].map(String::from).to_vec(),
        vec!["EXPIRE".into(), "other-db".into(), "7200".into()],
        vec!["SELECT".into(), "0".into()],
    ];
    let mut biglist = vec!["RPUSH".to_string(), "biglist".into()];
    let mut bighash = vec!["HSET".to_string(), "bighash".into()];
    let mut bigset = vec!["SADD".to_string(), "bigset".into()];
    let mut bigintset = vec!["SADD".to_string(), "bigintset".into()];
    let mut bigzset = vec!["ZADD".to_string(), "bigzset".into()];
    for i in 0..2000 {
        biglist.push(format!("element:{i}"));
        bighash.extend([format!("field:{i}"), format!("value:{i}")]);
        bigset.push(format!("member:{i}"));
        bigintset.push((i * 7).to_string());
        bigzset.extend([format!("{}", i as f64 / 7.0), format!("m{i}")]);
    }
    commands.extend([biglist, bighash, bigset, bigintset, bigzset]);
    // A stream of several nodes, trimmed into its first remaining node.
    for i in 1..=300 {
        let id = format!("{i}-0");
        commands.push(
            ["XADD", "bigstream", &id, "field", &format!("value:{i}")]
                .map(String::from)
                .to_vec(),
        );
    }
    commands.push(
        ["XTRIM", "bigstream", "MAXLEN", "250"]
            .map(String::from)
            .to_vec(),
    );
    for command in commands {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        run(con, &args);
    }
    // Libraries: long enough for Redis to LZF-compress their code.
    for library in LIBRARIES {
        run(con, &["FUNCTION", "LOAD", library]);
    }
}

const LIBRARIES: [&str; 2] = [
    "#!lua name=greetings\n\
     local function greet(name) return 'hello ' .. name end\n\
     redis.register_function('greet', function(keys, args) return greet(args[1]) end)",
    "#!lua name=checks\n\
     redis.register_function{function_name='alive', description='pings the server', \
     callback=function() return redis.call('PING') end, flags={'no-writes'}}",
];

/// What the libraries hold: FUNCTION LIST WITHCODE per library, in name
/// order (Redis lists them in hash order), and a call of each function.
fn libraries(con: &mut redis::Connection) -> String {
    let mut listed = Vec::new();
    for name in ["checks", "greetings"] {
        listed.push(format!(
            "{:?}",
            run(con, &["FUNCTION", "LIST", "LIBRARYNAME", name, "WITHCODE"])
        ));
    }
    listed.push(format!("{:?}", run(con, &["FCALL", "greet", "0", "you"])));
    listed.push(format!("{:?}", run(con, &["FCALL", "alive", "0"])));
    listed.join("\n")
}

/// Key (as `db/key`) to its type, absolute expiry and value.
type Contents = BTreeMap<String, String>;

/// The dataset of databases 0 and 3 as text, order-independent where the
/// type is unordered, with each key's absolute expiry.
fn contents(con: &mut redis::Connection) -> Contents {
    let mut all = BTreeMap::new();
    for db in ["0", "3"] {
        run(con, &["SELECT", db]);
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(con).expect("KEYS");
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(con).expect("TYPE");
            let value = match kind.as_str() {
                "string" => format!("{:?}", run(con, &["GET", &key])),
                "list" => format!("{:?}", run(con, &["LRANGE", &key, "0", "-1"])),
                "zset" => format!("{:?}", run(con, &["ZRANGE", &key, "0", "-1", "WITHSCORES"])),
                "stream" => format!(
                    "{:?} {:?}",
                    run(con, &["XINFO", "STREAM", &key]),
                    run(con, &["XRANGE", &key, "-", "+"])
                ),
                "set" => {
                    let mut members: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
                        .arg(&key)
                        .query(con)
                        .expect("SMEMBERS");
                    members.sort();
                    format!("{members:?}")
                }
                "hash" => {
                    let fields: BTreeMap<Vec<u8>, Vec<u8>> =
                        redis::cmd("HGETALL").arg(&key).query(con).expect("HGETALL");
                    format!("{fields:?}")
                }
                other => panic!("unexpected type {other}"),
            };
            let expiry: i64 = redis::cmd("PEXPIRETIME")
                .arg(&key)
                .query(con)
                .expect("PEXPIRETIME");
            all.insert(format!("{db}/{key}"), format!("{kind} {expiry} {value}"));
        }
    }
    run(con, &["SELECT", "0"]);
    all.insert("functions".into(), libraries(con));
    all
}

fn info_persistence(con: &mut redis::Connection) -> String {
    redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("INFO")
}

/// Waits until the server's log (in `dir`) has `line`; the log.
fn wait_for_log(dir: &Path, line: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        if log.contains(line) || Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fills `server` (whose directory is `dir`), SAVEs and stops it; returns
/// what it held. Its dump.rdb is then copied into `target_dir`.
fn populate_save_and_stop(server: Process, dir: &Path, target_dir: &Path) -> Contents {
    let mut con = server.connect();
    populate(&mut con);
    let expected = contents(&mut con);
    assert_eq!(expected.len(), 20, "19 keys and the libraries");
    assert_eq!(run(&mut con, &["SAVE"]), Value::Okay);
    drop(con);
    assert_eq!(server.shutdown("NOSAVE"), Some(0));
    std::fs::copy(dir.join("dump.rdb"), target_dir.join("dump.rdb")).expect("copy dump.rdb");
    expected
}

#[test]
fn ferrite_loads_what_redis_saved() {
    let redis_dir = TempDir::new("redis-save");
    let dir = TempDir::new("ferrite-load");
    let expected = populate_save_and_stop(redis(&redis_dir.0), &redis_dir.0, &dir.0);
    let server = ferrite(&dir.0, &["--save", ""]);
    let mut con = server.connect();
    assert_eq!(contents(&mut con), expected);
    let info = info_persistence(&mut con);
    assert!(info.contains("rdb_last_load_keys_loaded:19\r\n"), "{info}");
    let log = std::fs::read_to_string(dir.0.join("server.log")).unwrap();
    assert!(log.contains("Loading RDB produced by version 7.0"), "{log}");
    assert!(
        log.contains("Done loading RDB, keys loaded: 19, keys expired: 0."),
        "{log}"
    );
    assert!(log.contains("DB loaded from disk: "), "{log}");
}

#[test]
fn redis_loads_what_ferrite_saved() {
    let dir = TempDir::new("ferrite-save");
    let redis_dir = TempDir::new("redis-load");
    let server = ferrite(&dir.0, &["--save", ""]);
    let expected = populate_save_and_stop(server, &dir.0, &redis_dir.0);
    let log = std::fs::read_to_string(dir.0.join("server.log")).unwrap();
    assert!(log.contains("DB saved on disk"), "{log}");
    let redis = redis(&redis_dir.0);
    let mut con = redis.connect();
    assert_eq!(contents(&mut con), expected);
    // Redis converted the plain encodings to its compact ones on load.
    assert_eq!(
        run(&mut con, &["OBJECT", "ENCODING", "hash"]),
        Value::BulkString(b"listpack".to_vec())
    );
    assert_eq!(
        run(&mut con, &["OBJECT", "ENCODING", "intset"]),
        Value::BulkString(b"intset".to_vec())
    );
}

#[test]
fn data_survives_shutdown_bgsave_and_debug_reload() {
    let dir = TempDir::new("ferrite-restart");
    let server = ferrite(&dir.0, &["--save", "3600 1"]);
    let mut con = server.connect();
    populate(&mut con);
    let expected = contents(&mut con);
    assert_eq!(run(&mut con, &["DEBUG", "RELOAD"]), Value::Okay);
    assert_eq!(contents(&mut con), expected);
    let info = info_persistence(&mut con);
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");

    run(&mut con, &["SET", "after-reload", "1"]);
    std::fs::remove_file(dir.0.join("dump.rdb")).unwrap();
    assert_eq!(
        run(&mut con, &["BGSAVE"]),
        Value::SimpleString("Background saving started".into())
    );
    wait_for_file(&dir.0.join("dump.rdb"));
    drop(con);
    // SHUTDOWN saves by default when save points are configured.
    assert_eq!(server.shutdown("NOW"), Some(0));
    let log = std::fs::read_to_string(dir.0.join("server.log")).unwrap();
    assert!(
        log.contains("Saving the final RDB snapshot before exiting."),
        "{log}"
    );

    let server = ferrite(&dir.0, &["--save", ""]);
    let mut con = server.connect();
    let mut after = contents(&mut con);
    assert_eq!(
        after.remove("0/after-reload"),
        Some(format!("string -1 {:?}", Value::BulkString(b"1".to_vec())))
    );
    assert_eq!(after, expected);
}

#[test]
fn a_corrupt_file_stops_startup_with_a_clear_error() {
    let dir = TempDir::new("ferrite-corrupt");
    let server = ferrite(&dir.0, &["--save", ""]);
    let mut con = server.connect();
    populate(&mut con);
    run(&mut con, &["SAVE"]);
    drop(con);
    assert_eq!(server.shutdown("NOSAVE"), Some(0));
    let path = dir.0.join("dump.rdb");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, &bytes).unwrap();

    let mut child = Command::new(common::binary())
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", &dir.0.display().to_string()])
        .args(["--logfile", &dir.0.join("server.log").display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferrite-server");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), Some(1));
    let log = std::fs::read_to_string(dir.0.join("server.log")).unwrap();
    assert!(
        log.contains("Internal error in RDB reading offset "),
        "{log}"
    );
    assert!(
        log.contains("Terminating server after rdb file reading failure."),
        "{log}"
    );
}

#[test]
fn function_payloads_move_between_redis_and_ferrite() {
    let redis_dir = TempDir::new("redis-functions");
    let dir = TempDir::new("ferrite-functions");
    let redis = redis(&redis_dir.0);
    let ferrite = ferrite(&dir.0, &["--save", ""]);
    let (mut from_redis, mut to_ferrite) = (redis.connect(), ferrite.connect());
    for library in LIBRARIES {
        run(&mut from_redis, &["FUNCTION", "LOAD", library]);
    }
    let expected = libraries(&mut from_redis);
    let payload: Vec<u8> = redis::cmd("FUNCTION")
        .arg("DUMP")
        .query(&mut from_redis)
        .expect("FUNCTION DUMP");
    let restore = |con: &mut redis::Connection, payload: &[u8], policy: &[&str]| {
        redis::cmd("FUNCTION")
            .arg("RESTORE")
            .arg(payload)
            .arg(policy)
            .query::<String>(con)
    };
    assert_eq!(restore(&mut to_ferrite, &payload, &[]).unwrap(), "OK");
    assert_eq!(libraries(&mut to_ferrite), expected);
    // APPEND (the default) refuses a library that exists; nothing changes.
    let refused = restore(&mut to_ferrite, &payload, &["APPEND"]).unwrap_err();
    assert!(
        matches!(
            refused.detail(),
            Some("Library checks already exists" | "Library greetings already exists")
        ),
        "{refused}"
    );
    assert_eq!(libraries(&mut to_ferrite), expected);

    // And back: Ferrite's payload restores into Redis, replacing its libraries.
    let payload: Vec<u8> = redis::cmd("FUNCTION")
        .arg("DUMP")
        .query(&mut to_ferrite)
        .expect("FUNCTION DUMP");
    run(&mut from_redis, &["FUNCTION", "FLUSH"]);
    assert_eq!(
        restore(&mut from_redis, &payload, &["REPLACE"]).unwrap(),
        "OK"
    );
    assert_eq!(libraries(&mut from_redis), expected);
}

#[test]
fn debug_reload_noflush_adds_the_file_to_what_is_there() {
    let dir = TempDir::new("ferrite-noflush");
    let server = ferrite(&dir.0, &["--save", ""]);
    let mut con = server.connect();
    run(&mut con, &["SET", "saved", "from-file"]);
    run(&mut con, &["FUNCTION", "LOAD", LIBRARIES[0]]);
    run(&mut con, &["SAVE"]);
    run(&mut con, &["SET", "saved", "changed"]);
    run(&mut con, &["SET", "unsaved", "kept"]);
    run(&mut con, &["FUNCTION", "LOAD", LIBRARIES[1]]);
    // Without MERGE, a key or library in both refuses the reload.
    let refused = redis::cmd("DEBUG")
        .arg(&["RELOAD", "NOSAVE", "NOFLUSH"])
        .query::<String>(&mut con)
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "An error was signalled by the server - ResponseError: Error trying to load the RDB dump"
    );
    assert_eq!(
        run(&mut con, &["GET", "saved"]),
        Value::BulkString(b"changed".to_vec())
    );
    // With MERGE the file's key and library win; the rest stays.
    assert_eq!(
        run(&mut con, &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"]),
        Value::Okay
    );
    assert_eq!(
        run(&mut con, &["GET", "saved"]),
        Value::BulkString(b"from-file".to_vec())
    );
    assert_eq!(
        run(&mut con, &["GET", "unsaved"]),
        Value::BulkString(b"kept".to_vec())
    );
    assert_eq!(
        run(&mut con, &["FCALL", "greet", "0", "me"]),
        Value::BulkString(b"hello me".to_vec())
    );
    assert_eq!(
        run(&mut con, &["FCALL", "alive", "0"]),
        Value::SimpleString("PONG".into())
    );
    // A plain DEBUG RELOAD (NOSAVE) replaces keys and libraries with the file's.
    assert_eq!(run(&mut con, &["DEBUG", "RELOAD", "NOSAVE"]), Value::Okay);
    assert_eq!(run(&mut con, &["EXISTS", "unsaved"]), Value::Int(0));
    let missing = redis::cmd("FCALL")
        .arg(&["alive", "0"])
        .query::<i64>(&mut con)
        .unwrap_err();
    assert_eq!(missing.detail(), Some("Function not found"));
}

fn error_text(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    match cmd.query::<Value>(con) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("{}: expected an error, got {v:?}", args.join(" ")),
    }
}

#[test]
fn a_shutdown_that_cannot_save_keeps_the_server_running() {
    let dir = TempDir::new("ferrite-shutdown-fails");
    let mut server = ferrite(&dir.0, &["--save", "3600 1"]);
    let mut con = server.connect();
    run(&mut con, &["SET", "k", "v"]);
    // A directory in the file's place: the rename of the temp file fails.
    std::fs::create_dir(dir.0.join("dump.rdb")).unwrap();

    server.signal("TERM");
    let log = wait_for_log(&dir.0, "Errors trying to shut down the server.");
    assert!(
        log.contains("Received SIGTERM scheduling shutdown..."),
        "{log}"
    );
    assert!(
        log.contains("Error trying to save the DB, can't exit."),
        "{log}"
    );
    assert_eq!(run(&mut con, &["PING"]), Value::SimpleString("PONG".into()));

    let error = error_text(&mut con, &["SHUTDOWN"]);
    assert!(
        error.contains("Errors trying to SHUTDOWN. Check logs."),
        "{error}"
    );
    let error = error_text(&mut con, &["SHUTDOWN", "ABORT"]);
    assert!(error.contains("No shutdown in progress."), "{error}");
    let error = error_text(&mut con, &["SHUTDOWN", "ABORT", "NOW"]);
    assert!(error.contains("syntax error"), "{error}");

    let error = error_text(
        &mut con,
        &["CONFIG", "SET", "shutdown-on-sigterm", "save nosave"],
    );
    assert!(
        error.contains("shutdown options SAVE and NOSAVE can't be used simultaneously"),
        "{error}"
    );
    let error = error_text(&mut con, &["CONFIG", "SET", "shutdown-on-sigterm", "later"]);
    assert!(
        error.contains(
            "argument(s) must be one of the following: default, save, nosave, now, force"
        ),
        "{error}"
    );
    run(
        &mut con,
        &["CONFIG", "SET", "shutdown-on-sigterm", "NOW nosave"],
    );
    assert_eq!(
        run(&mut con, &["CONFIG", "GET", "shutdown-on-sigterm"]),
        Value::Array(vec![
            Value::BulkString(b"shutdown-on-sigterm".to_vec()),
            Value::BulkString(b"nosave now".to_vec()),
        ])
    );
    // With NOSAVE the signal's shutdown goes ahead.
    server.signal("TERM");
    assert_eq!(
        wait_exit(&mut server.child, Duration::from_secs(10)),
        Some(0)
    );
}

#[test]
fn shutdown_abort_cancels_a_signal_the_cron_has_not_acted_on() {
    let dir = TempDir::new("ferrite-shutdown-abort");
    let server = ferrite(&dir.0, &["--save", ""]);
    let mut con = server.connect();
    run(&mut con, &["DEBUG", "PAUSE-CRON", "1"]);
    server.signal("TERM");
    wait_for_log(&dir.0, "Received SIGTERM scheduling shutdown...");
    assert_eq!(run(&mut con, &["SHUTDOWN", "ABORT"]), Value::Okay);
    let log = wait_for_log(&dir.0, "Shutdown manually aborted.");
    assert!(log.contains("Shutdown manually aborted."), "{log}");
    run(&mut con, &["DEBUG", "PAUSE-CRON", "0"]);
    assert_eq!(run(&mut con, &["PING"]), Value::SimpleString("PONG".into()));
    let error = error_text(&mut con, &["SHUTDOWN", "ABORT"]);
    assert!(error.contains("No shutdown in progress."), "{error}");
}

#[test]
fn a_second_sigint_during_the_final_save_exits_and_removes_the_temp_file() {
    let dir = TempDir::new("ferrite-shutdown-insist");
    let mut server = ferrite(&dir.0, &["--save", "3600 1"]);
    let mut con = server.connect();
    for i in 0..20 {
        run(&mut con, &["SET", &i.to_string(), "v"]);
    }
    // 20 keys at 100 ms each: the final save takes 2 s.
    run(&mut con, &["CONFIG", "SET", "rdb-key-save-delay", "100000"]);
    let temp = dir.0.join(format!("temp-{}.rdb", server.child.id()));
    server.signal("INT");
    wait_for_file(&temp);
    assert!(temp.exists(), "the final save's temp file");
    server.signal("INT");
    assert_eq!(
        wait_exit(&mut server.child, Duration::from_secs(10)),
        Some(1)
    );
    assert!(!temp.exists());
    let log = std::fs::read_to_string(dir.0.join("server.log")).unwrap();
    assert!(log.contains("You insist... exiting now."), "{log}");
    assert!(!dir.0.join("dump.rdb").exists());
}

#[test]
fn shutdown_stops_a_running_background_save() {
    let dir = TempDir::new("ferrite-shutdown-bgsave");
    let server = ferrite(&dir.0, &["--save", ""]);
    let mut con = server.connect();
    for i in 0..20 {
        run(&mut con, &["SET", &i.to_string(), "v"]);
    }
    // 20 keys at a second each: the background save would take 20 s.
    run(
        &mut con,
        &["CONFIG", "SET", "rdb-key-save-delay", "1000000"],
    );
    run(&mut con, &["BGSAVE"]);
    let temp = dir.0.join(format!("temp-{}.rdb", server.child.id()));
    wait_for_file(&temp);
    assert!(temp.exists(), "the background save's temp file");
    drop(con);
    assert_eq!(server.shutdown("NOSAVE"), Some(0));
    let log = std::fs::read_to_string(dir.0.join("server.log")).unwrap();
    assert!(
        log.contains("There is a child saving an .rdb. Killing it!"),
        "{log}"
    );
    assert!(!log.contains("Background saving terminated"), "{log}");
    assert!(!temp.exists());
    assert!(!dir.0.join("dump.rdb").exists());
}

/// `redis-cli --rdb` / `--functions-rdb` (REPLCONF rdb-only, rdb-filter-only):
/// the file has the keys and libraries, or the libraries only, and the
/// connection closes after it.
#[test]
fn redis_cli_dumps_the_rdb_or_only_its_functions() {
    let dir = TempDir::new("ferrite-cli-rdb");
    let server = ferrite(&dir.0, &["--save", "", "--repl-diskless-sync-delay", "0"]);
    let mut con = server.connect();
    assert_eq!(
        run(&mut con, &["DEBUG", "POPULATE", "100", "key", "10"]),
        Value::Okay
    );
    assert_eq!(
        run(&mut con, &["GET", "key:7"]),
        Value::BulkString(b"value:7\0\0\0".to_vec())
    );
    let error = error_text(&mut con, &["DEBUG", "POPULATE", "-1"]);
    assert!(
        error.contains("value is out of range, must be positive"),
        "{error}"
    );
    run(
        &mut con,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=lib1\nredis.register_function('func1', function() return 123 end)",
        ],
    );
    let error = error_text(&mut con, &["REPLCONF", "rdb-filter-only", "keys"]);
    assert!(
        error.contains("Unsupported rdb-filter-only option: keys"),
        "{error}"
    );
    let error = error_text(&mut con, &["REPLCONF", "rdb-only", "2"]);
    assert!(
        error.contains("value is out of range, value must between 0 and 1"),
        "{error}"
    );
    for (flag, keys) in [("--rdb", 100), ("--functions-rdb", 0)] {
        let file = dir.0.join("cli.rdb");
        let output = Command::new("redis-cli")
            .args(["-p", &server.port.to_string(), flag])
            .arg(&file)
            .output()
            .expect("run redis-cli");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("Transfer finished with success"),
            "{stderr}"
        );
        std::fs::rename(&file, dir.0.join("dump.rdb")).unwrap();
        run(&mut con, &["SET", "should-not-exist", "1"]);
        assert_eq!(run(&mut con, &["DEBUG", "RELOAD", "NOSAVE"]), Value::Okay);
        assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(keys));
        assert_eq!(run(&mut con, &["FCALL", "func1", "0"]), Value::Int(123));
        if keys == 0 {
            assert_eq!(
                run(&mut con, &["DEBUG", "POPULATE", "100", "key", "10"]),
                Value::Okay
            );
        }
    }
}
