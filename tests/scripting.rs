//! Lua scripting against a real server: exact reply bytes of the type
//! conversions, error texts, a job queue run by several clients through one
//! script that writes keys it never declared, SCRIPT KILL of a busy script
//! from another client, and functions.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::Server;

fn send_eval(conn: &mut common::RawConnection, command: &str, script: &str) {
    let request = format!(
        "*3\r\n${}\r\n{command}\r\n${}\r\n{script}\r\n$1\r\n0\r\n",
        command.len(),
        script.len()
    );
    conn.send(request.as_bytes());
}

/// The first line of the reply to `EVAL script 0`.
fn eval_bytes(conn: &mut common::RawConnection, script: &str) -> String {
    send_eval(conn, "EVAL", script);
    conn.read_line()
}

#[test]
fn lua_values_become_redis_replies() {
    let server = Server::start();
    let mut conn = server.raw();
    send_eval(
        &mut conn,
        "EVAL",
        "return {1, 'two', {3.9}, false, nil, 'x'}",
    );
    conn.expect(b"*4\r\n:1\r\n$3\r\ntwo\r\n*1\r\n:3\r\n$-1\r\n");
    assert_eq!(eval_bytes(&mut conn, "return true"), ":1");
    assert_eq!(eval_bytes(&mut conn, "return false"), "$-1");
    assert_eq!(eval_bytes(&mut conn, "return {ok='fine'}"), "+fine");
    assert_eq!(
        eval_bytes(&mut conn, "return redis.error_reply('MY_CODE custom')"),
        "-MY_CODE custom"
    );
    assert_eq!(eval_bytes(&mut conn, "return 100.5"), ":100");
    conn.send(b"HELLO 3\r\n");
    while conn.read_line() != "modules" {}
    assert_eq!(conn.read_line(), "*0");
    assert_eq!(
        eval_bytes(&mut conn, "redis.setresp(3); return {double=3.5}"),
        ",3.5"
    );
    assert_eq!(eval_bytes(&mut conn, "redis.setresp(3); return true"), "#t");
    assert_eq!(eval_bytes(&mut conn, "return {map={a=1}}"), "%1");
    conn.expect(b"$1\r\na\r\n:1\r\n");
}

#[test]
fn redis_replies_become_lua_values() {
    let server = Server::start();
    let mut client = server.client();
    let _: () = redis::cmd("RPUSH")
        .arg("l")
        .arg("a")
        .arg("b")
        .query(&mut client)
        .unwrap();
    let got: Vec<String> = redis::cmd("EVAL")
        .arg(
            "local n = redis.call('llen', KEYS[1]) \
             local l = redis.call('lrange', KEYS[1], 0, -1) \
             local s = redis.call('set', 'k', 'v') \
             local missing = redis.call('get', 'nope') \
             local e = redis.pcall('incr', KEYS[1]) \
             return {type(n), tostring(n), l[2], s.ok, tostring(missing), e.err}",
        )
        .arg(1)
        .arg("l")
        .query(&mut client)
        .unwrap();
    assert_eq!(
        got,
        vec![
            "number",
            "2",
            "b",
            "OK",
            "false",
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        ]
    );
}

#[test]
fn errors_use_redis_texts() {
    let server = Server::start();
    let mut conn = server.raw();
    let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
    conn.send(format!("EVALSHA {sha} 0\r\n").as_bytes());
    conn.expect(b"-NOSCRIPT No matching script. Please use EVAL.\r\n");
    conn.send(b"SCRIPT LOAD \"return 1\"\r\n");
    conn.expect(format!("$40\r\n{sha}\r\n").as_bytes());
    conn.send(
        format!(
            "EVALSHA {} 0\r\nSCRIPT EXISTS {sha} ffff\r\n",
            sha.to_uppercase()
        )
        .as_bytes(),
    );
    conn.expect(b":1\r\n*2\r\n:1\r\n:0\r\n");
    conn.send(b"EVAL \"return 1\" 2 a\r\nEVAL \"return 1\" -1\r\n");
    conn.expect(b"-ERR Number of keys can't be greater than number of args\r\n");
    conn.expect(b"-ERR Number of keys can't be negative\r\n");
    let reply = eval_bytes(&mut conn, "return a");
    assert!(
        reply.starts_with(
            "-ERR Script attempted to access nonexistent global variable 'a' script: "
        ),
        "{reply}"
    );
    assert!(reply.ends_with(", on @user_script:1."), "{reply}");
    let reply = eval_bytes(&mut conn, "x = 1");
    assert!(
        reply.starts_with("-ERR user_script:1: Attempt to modify a readonly table script:"),
        "{reply}"
    );
    let reply = eval_bytes(&mut conn, "return redis.call('blpop', 'q', 0)");
    assert!(
        reply.starts_with("-ERR This Redis command is not allowed from script script:"),
        "{reply}"
    );
    send_eval(&mut conn, "EVAL_RO", "return redis.call('set', 'x', 1)");
    let reply = conn.read_line();
    assert!(
        reply.starts_with("-ERR Write commands are not allowed from read-only scripts. script:"),
        "{reply}"
    );
    let reply = eval_bytes(
        &mut conn,
        "#!lua flags=no-writes\nreturn redis.call('set', 'x', 1)",
    );
    assert!(
        reply.starts_with("-ERR Write commands are not allowed from read-only scripts."),
        "{reply}"
    );
    assert_eq!(
        eval_bytes(&mut conn, "#!lua badger=1\nreturn 1"),
        "-ERR Unknown lua shebang option: badger=1"
    );
}

/// Several clients drain one queue with a script that pops a job and
/// records it under keys it never declared (as BullMQ and Sidekiq do):
/// every job is processed exactly once.
#[test]
fn a_queued_script_job_queue_loses_and_duplicates_nothing() {
    let server = Server::start();
    let mut producer = server.client();
    const JOBS: usize = 2000;
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(500) {
        let _: () = redis::cmd("RPUSH")
            .arg("queue")
            .arg(chunk)
            .query(&mut producer)
            .unwrap();
    }
    let script = redis::Script::new(
        "local job = redis.call('LPOP', KEYS[1]) \
         if not job then return false end \
         redis.call('SET', 'job:' .. job, ARGV[1]) \
         redis.call('INCR', 'done') \
         redis.call('RPUSH', 'log:' .. ARGV[1], job) \
         return job",
    );
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let mut conn = server.client();
            let script = script.clone();
            std::thread::spawn(move || {
                let mut taken = Vec::new();
                while let Some(job) = script
                    .key("queue")
                    .arg(format!("w{worker}"))
                    .invoke::<Option<usize>>(&mut conn)
                    .unwrap()
                {
                    taken.push(job);
                }
                taken
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for worker in workers {
        for job in worker.join().unwrap() {
            assert!(seen.insert(job), "job {job} popped twice");
        }
    }
    assert_eq!(seen.len(), JOBS);
    let done: usize = redis::cmd("GET").arg("done").query(&mut producer).unwrap();
    assert_eq!(done, JOBS);
    let mut logged = 0;
    for worker in 0..4 {
        let len: usize = redis::cmd("LLEN")
            .arg(format!("log:w{worker}"))
            .query(&mut producer)
            .unwrap();
        logged += len;
    }
    assert_eq!(logged, JOBS);
    let owner: String = redis::cmd("GET")
        .arg("job:1999")
        .query(&mut producer)
        .unwrap();
    assert!(owner.starts_with('w'));
}

#[test]
fn script_kill_stops_a_busy_script_from_another_client() {
    let server = Server::start_with(&["--busy-reply-threshold", "100"]);
    let mut busy = server.raw();
    busy.send(b"EVAL \"while true do end\" 0\r\n");
    let mut other = server.raw();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        other.send(b"PING\r\n");
        let reply = other.read_line();
        if reply.starts_with("-BUSY") {
            assert_eq!(
                reply,
                "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
            );
            break;
        }
        assert!(Instant::now() < deadline, "never saw BUSY");
        std::thread::sleep(Duration::from_millis(20));
    }
    other.send(b"FUNCTION KILL\r\n");
    assert!(other.read_line().starts_with("-BUSY"));
    other.send(b"SCRIPT KILL\r\n");
    other.expect(b"+OK\r\n");
    let reply = busy.read_line();
    assert!(
        reply.starts_with("-ERR Script killed by user with SCRIPT KILL... script:"),
        "{reply}"
    );
    other.send(b"PING\r\nSCRIPT KILL\r\n");
    other.expect(b"+PONG\r\n-NOTBUSY No scripts in execution right now.\r\n");
}

#[test]
fn a_script_that_wrote_cannot_be_killed() {
    let server = Server::start_with(&["--busy-reply-threshold", "50"]);
    let mut busy = server.raw();
    busy.send(b"EVAL \"redis.call('set', 'x', 1) local t = redis.call('time') while tonumber(redis.call('time')[1]) < t[1] + 2 do end return 'done'\" 0\r\n");
    let mut other = server.raw();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        other.send(b"SCRIPT KILL\r\n");
        let reply = other.read_line();
        if reply.starts_with("-UNKILLABLE") {
            break;
        }
        assert!(Instant::now() < deadline, "never saw UNKILLABLE: {reply}");
        std::thread::sleep(Duration::from_millis(20));
    }
    busy.expect(b"$4\r\ndone\r\n");
}

#[test]
fn functions_load_list_call_and_delete() {
    let server = Server::start();
    let mut conn = server.client();
    let code = "#!lua name=mylib\n\
        redis.register_function('incr_by', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)\n\
        redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}";
    let name: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(code)
        .query(&mut conn)
        .unwrap();
    assert_eq!(name, "mylib");
    let n: i64 = redis::cmd("FCALL")
        .arg("incr_by")
        .arg(1)
        .arg("c")
        .arg(5)
        .query(&mut conn)
        .unwrap();
    assert_eq!(n, 5);
    let v: String = redis::cmd("FCALL_RO")
        .arg("peek")
        .arg(1)
        .arg("c")
        .query(&mut conn)
        .unwrap();
    assert_eq!(v, "5");
    let err = redis::cmd("FCALL_RO")
        .arg("incr_by")
        .arg(1)
        .arg("c")
        .arg(1)
        .query::<i64>(&mut conn)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Can not execute a script with write flag using *_ro command."),
        "{err}"
    );
    let err = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(code)
        .query::<String>(&mut conn)
        .unwrap_err();
    assert!(
        err.to_string().contains("Library 'mylib' already exists"),
        "{err}"
    );
    let mut raw = server.raw();
    raw.send(b"FUNCTION LIST LIBRARYNAME my*\r\n");
    raw.expect(b"*1\r\n*6\r\n$12\r\nlibrary_name\r\n$5\r\nmylib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n$9\r\nfunctions\r\n*2\r\n");
    raw.expect(
        b"*6\r\n$4\r\nname\r\n$7\r\nincr_by\r\n$11\r\ndescription\r\n$-1\r\n$5\r\nflags\r\n*0\r\n",
    );
    raw.expect(b"*6\r\n$4\r\nname\r\n$4\r\npeek\r\n$11\r\ndescription\r\n$5\r\nreads\r\n$5\r\nflags\r\n*1\r\n+no-writes\r\n");
    raw.send(b"FUNCTION DELETE mylib\r\nFCALL peek 0\r\nFUNCTION DELETE mylib\r\n");
    raw.expect(b"+OK\r\n-ERR Function not found\r\n-ERR Library not found\r\n");
}

#[test]
fn function_restore_errors_are_redis_errors() {
    let server = Server::start();
    let mut raw = server.raw();
    // The payload of FUNCTION DUMP with no library: just the footer.
    raw.send(b"FUNCTION DUMP\r\n");
    raw.expect(b"$10\r\n\x0a\x00");
    let mut footer = [0u8; 10];
    std::io::Read::read_exact(&mut raw.stream, &mut footer).expect("rest of the payload");
    raw.send(b"FUNCTION RESTORE x BAD\r\nFUNCTION RESTORE x\r\nFUNCTION RESTORE a b c\r\n");
    raw.expect(
        b"-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n",
    );
    raw.expect(b"-ERR DUMP payload version or checksum are wrong\r\n");
    raw.expect(b"-ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.\r\n");
    raw.send(b"FUNCTION FLUSH SYNC extra\r\nFUNCTION FLUSH LATER\r\n");
    raw.expect(
        b"-ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.\r\n",
    );
    raw.expect(b"-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n");
    // A payload whose records are not functions (a key's DUMP).
    let mut conn = server.client();
    redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut conn)
        .unwrap();
    let dump: Vec<u8> = redis::cmd("DUMP").arg("k").query(&mut conn).unwrap();
    let err = redis::cmd("FUNCTION")
        .arg("RESTORE")
        .arg(dump)
        .query::<()>(&mut conn)
        .unwrap_err();
    assert_eq!(err.detail(), Some("given type is not a function"));
}

#[test]
fn scripts_inside_multi_see_the_transaction() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"MULTI\r\nSET a 1\r\nEVAL \"return redis.call('incr', 'a')\" 0\r\nEXEC\r\n");
    conn.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:2\r\n");
}

#[test]
fn info_memory_counts_cached_scripts_and_libraries() {
    let server = Server::start();
    let mut con = server.client();
    let memory = |con: &mut redis::Connection| -> String {
        redis::cmd("INFO").arg("memory").query(con).expect("info")
    };
    for body in ["return 1", "return 2", "return 1"] {
        redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(body)
            .query::<String>(&mut con)
            .expect("script load");
    }
    redis::cmd("EVAL")
        .arg("return 3")
        .arg(0)
        .query::<i64>(&mut con)
        .expect("eval");
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
        .query::<String>(&mut con)
        .expect("function load");
    let info = memory(&mut con);
    assert!(
        info.contains("\r\nnumber_of_cached_scripts:3\r\n"),
        "{info}"
    );
    assert!(
        info.contains("\r\nnumber_of_functions:1\r\nnumber_of_libraries:1\r\n"),
        "{info}"
    );
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut con)
        .expect("script flush");
    assert!(memory(&mut con).contains("\r\nnumber_of_cached_scripts:0\r\n"));
}

#[test]
fn commands_a_script_calls_count_in_commandstats() {
    let server = Server::start();
    let mut conn = server.client();
    let failed: i64 = redis::cmd("EVAL")
        .arg("local t = redis.pcall('select', 99); redis.call('set', 'k', 'v'); return t['err'] and 1 or 0")
        .arg(0)
        .query(&mut conn)
        .expect("eval");
    assert_eq!(failed, 1);
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut conn)
        .expect("info");
    let stat = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(&format!("cmdstat_{name}:")))
            .map(|fields| {
                fields
                    .split(',')
                    .filter(|f| !f.starts_with("usec"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
    };
    assert_eq!(
        stat("select").as_deref(),
        Some("calls=1,rejected_calls=0,failed_calls=1")
    );
    assert_eq!(
        stat("set").as_deref(),
        Some("calls=1,rejected_calls=0,failed_calls=0")
    );
}

#[test]
fn a_script_sees_keys_expire_as_of_its_start() {
    let server = Server::start();
    let mut conn = server.client();
    // DEBUG is a noscript command; Redis's tests lift that the same way.
    let _: () = redis::cmd("DEBUG")
        .arg("SET-DISABLE-DENY-SCRIPTS")
        .arg(1)
        .query(&mut conn)
        .expect("debug");
    let script = "redis.call('set', 'k', 'v', 'PX', 1); redis.call('debug', 'sleep', 0.01); return redis.call('exists', 'k')";
    let inside: i64 = redis::cmd("EVAL")
        .arg(script)
        .arg(0)
        .query(&mut conn)
        .expect("eval");
    assert_eq!(inside, 1);
    let after: i64 = redis::cmd("EXISTS")
        .arg("k")
        .query(&mut conn)
        .expect("exists");
    assert_eq!(after, 0);
}

#[test]
fn redis_call_takes_as_many_arguments_as_unpack_gives() {
    let server = Server::start();
    let mut conn = server.client();
    // Lua 5.1's unpack gives at most 7,999 here; Redis's own test pushes that many.
    let script =
        "local a = {} for i = 1, 7999 do a[i] = i end return redis.call('rpush', 'l', unpack(a))";
    let pushed: i64 = redis::cmd("EVAL")
        .arg(script)
        .arg(0)
        .query(&mut conn)
        .expect("eval");
    assert_eq!(pushed, 7999);
    let last: Vec<i64> = redis::cmd("LRANGE")
        .arg("l")
        .arg(-2)
        .arg(-1)
        .query(&mut conn)
        .expect("lrange");
    assert_eq!(last, [7998, 7999]);
}
