//! COMMAND GETKEYS / GETKEYSANDFLAGS / INFO against what Redis 7.0.15
//! replies: key flags and key specs for a few commands written out as real
//! Redis returns them, and COMMAND INFO of every Ferrite command compared
//! with a real redis-server's.

mod common;

use common::{Redis, Server};
use redis::Value;

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .expect("connection")
}

fn query(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con).expect("reply")
}

/// A reply as compact text: `[a, b]` for arrays and sets, `{k: v}` for maps.
fn render(value: &Value) -> String {
    let list = |items: &[Value]| {
        let items: Vec<String> = items.iter().map(render).collect();
        format!("[{}]", items.join(", "))
    };
    match value {
        Value::Nil => "nil".into(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::Okay => "OK".into(),
        Value::Array(items) | Value::Set(items) => list(items),
        Value::Map(pairs) => {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", render(k), render(v)))
                .collect();
            format!("{{{}}}", pairs.join(", "))
        }
        other => format!("{other:?}"),
    }
}

fn error(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    let err = cmd.query::<Value>(con).expect_err("an error reply");
    format!(
        "{} {}",
        err.code().unwrap_or(""),
        err.detail().unwrap_or("")
    )
}

#[test]
fn getkeysandflags_reports_redis_key_flags() {
    let server = Server::start();
    let mut con = connect(server.port);
    let cases: &[(&[&str], &str)] = &[
        (&["set", "k1", "v1"], "[[k1, [OW, update]]]"),
        (&["set", "k1", "v1", "get"], "[[k1, [RW, access, update]]]"),
        (
            &["mset", "k1", "v1", "k2", "v2"],
            "[[k1, [OW, update]], [k2, [OW, update]]]",
        ),
        (
            &["lmove", "k1", "k2", "left", "right"],
            "[[k1, [RW, access, delete]], [k2, [RW, insert]]]",
        ),
        (
            &["sort", "k1", "store", "k2"],
            "[[k1, [RO, access]], [k2, [OW, update]]]",
        ),
        (
            &["zunionstore", "d", "2", "a", "b"],
            "[[d, [OW, update]], [a, [RO, access]], [b, [RO, access]]]",
        ),
        (
            &["eval", "x", "2", "a", "b"],
            "[[a, [RW, access, update]], [b, [RW, access, update]]]",
        ),
        (&["eval", "x", "0"], "[]"),
        (
            &["rename", "a", "b"],
            "[[a, [RW, access, delete]], [b, [OW, update]]]",
        ),
        (
            &["blmpop", "0", "2", "a", "b", "left"],
            "[[a, [RW, access, delete]], [b, [RW, access, delete]]]",
        ),
        (&["object", "encoding", "k"], "[[k, [RO]]]"),
        (&["getdel", "k"], "[[k, [RW, access, delete]]]"),
    ];
    for (command, expected) in cases {
        let mut args = vec!["COMMAND", "GETKEYSANDFLAGS"];
        args.extend_from_slice(command);
        assert_eq!(render(&query(&mut con, &args)), *expected, "{command:?}");
    }
    let getkeys = query(&mut con, &["COMMAND", "GETKEYS", "memory", "usage", "k"]);
    assert_eq!(render(&getkeys), "[k]");
}

#[test]
fn getkeys_errors_are_redis_errors() {
    let server = Server::start();
    let mut con = connect(server.port);
    let cases: &[(&[&str], &str)] = &[
        (
            &["get", "a", "b"],
            "ERR Invalid number of arguments specified for command",
        ),
        (&["nosuch", "a"], "ERR Invalid command specified"),
        (&["ping", "x"], "ERR The command has no key arguments"),
        (&["config", "nosuch"], "ERR Invalid command specified"),
        (
            &["zunionstore", "d", "5", "a"],
            "ERR Invalid arguments specified for command",
        ),
        (
            &["ssubscribe", "channel"],
            "ERR The command has no key arguments",
        ),
    ];
    for (command, expected) in cases {
        let mut args = vec!["COMMAND", "GETKEYS"];
        args.extend_from_slice(command);
        assert_eq!(error(&mut con, &args), *expected, "{command:?}");
    }
}

#[test]
fn command_info_reports_redis_key_specs() {
    let server = Server::start();
    let mut con = connect(server.port);
    let info =
        |con: &mut redis::Connection, name: &str| match query(con, &["COMMAND", "INFO", name]) {
            Value::Array(mut entries) => match entries.remove(0) {
                Value::Array(fields) => fields,
                other => panic!("COMMAND INFO {name}: {other:?}"),
            },
            other => panic!("COMMAND INFO {name}: {other:?}"),
        };
    // (name, first/last/step, key specs) as Redis 7.0.15 replies (RESP2).
    let cases = [
        (
            "lmove",
            "1 2 1",
            "[[flags, [RW, access, delete], begin_search, [type, index, spec, [index, 1]], \
             find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]], \
             [flags, [RW, insert], begin_search, [type, index, spec, [index, 2]], \
             find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]]]",
        ),
        (
            "zunionstore",
            "1 1 1",
            "[[flags, [OW, update], begin_search, [type, index, spec, [index, 1]], \
             find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]], \
             [flags, [RO, access], begin_search, [type, index, spec, [index, 2]], \
             find_keys, [type, keynum, spec, [keynumidx, 0, firstkey, 1, keystep, 1]]]]",
        ),
        (
            "sort_ro",
            "1 1 1",
            "[[flags, [RO, access], begin_search, [type, index, spec, [index, 1]], \
             find_keys, [type, range, spec, [lastkey, 0, keystep, 1, limit, 0]]], \
             [notes, For the optional BY/GET keyword. It is marked 'unknown' because the key \
             names derive from the content of the key we sort, flags, [RO, access], \
             begin_search, [type, unknown, spec, []], find_keys, [type, unknown, spec, []]]]",
        ),
        (
            "mset",
            "1 -1 2",
            "[[flags, [OW, update], begin_search, [type, index, spec, [index, 1]], \
             find_keys, [type, range, spec, [lastkey, -1, keystep, 2, limit, 0]]]]",
        ),
    ];
    for (name, range, specs) in cases {
        let fields = info(&mut con, name);
        let got_range: Vec<String> = fields[3..6].iter().map(render).collect();
        assert_eq!(got_range.join(" "), range, "{name} range");
        assert_eq!(render(&fields[8]), specs, "{name} key specs");
    }
    for (name, movable) in [
        ("eval", true),
        ("sort", true),
        ("set", false),
        ("lmove", false),
    ] {
        let flags = render(&info(&mut con, name)[2]);
        assert_eq!(flags.contains("movablekeys"), movable, "{name}: {flags}");
    }
}

/// COMMAND INFO's fields but the nested subcommands (compared on their own:
/// their order is Redis's dict order), with flags, categories and tips as
/// sorted sets.
fn comparable(fields: &[Value]) -> Vec<String> {
    let sorted = |value: &Value| -> String {
        let mut items: Vec<String> = match value {
            Value::Array(items) | Value::Set(items) => items.iter().map(render).collect(),
            other => vec![render(other)],
        };
        items.sort();
        items.join(" ")
    };
    vec![
        render(&fields[0]),
        render(&fields[1]),
        sorted(&fields[2]),
        render(&fields[3]),
        render(&fields[4]),
        render(&fields[5]),
        sorted(&fields[6]),
        sorted(&fields[7]),
        render(&fields[8]),
    ]
}

/// Runs `compare(name, ferrite, redis)` for every command Ferrite lists,
/// with a Ferrite server and a real redis-server side by side.
fn against_real_redis(
    mut compare: impl FnMut(&str, &mut redis::Connection, &mut redis::Connection),
) {
    let server = Server::start();
    let redis_server = Redis::start(&[]);
    let (mut ferrite, mut redis) = (connect(server.port), connect(redis_server.port));
    let names: Vec<String> = redis::cmd("COMMAND")
        .arg("LIST")
        .query(&mut ferrite)
        .expect("COMMAND LIST");
    for name in &names {
        compare(name, &mut ferrite, &mut redis);
    }
}

#[test]
fn command_info_matches_real_redis_for_every_command() {
    let mut compared = 0;
    against_real_redis(|name, ferrite, redis| {
        let theirs = query(redis, &["COMMAND", "INFO", name]);
        let ours = query(ferrite, &["COMMAND", "INFO", name]);
        let (Value::Array(theirs), Value::Array(ours)) = (theirs, ours) else {
            panic!("COMMAND INFO {name}: not arrays");
        };
        // Commands newer than 7.0 (CLIENT NO-TOUCH, CLIENT SETINFO) are nil there.
        if let (Value::Array(theirs), Value::Array(ours)) = (&theirs[0], &ours[0]) {
            assert_eq!(comparable(ours), comparable(theirs), "COMMAND INFO {name}");
            compared += 1;
        }
    });
    assert!(compared > 200, "compared only {compared} commands");
}

#[test]
fn command_docs_are_redis_docs() {
    let server = Server::start();
    let mut con = connect(server.port);
    let docs = render(&query(&mut con, &["COMMAND", "DOCS", "get", "set"]));
    assert!(docs.starts_with(
        "[get, [summary, Get the value of a key, since, 1.0.0, group, string, \
         complexity, O(1), arguments, [[name, key, type, key, key_spec_index, 0]]], set, "
    ));
    let set = render(&query(&mut con, &["COMMAND", "DOCS", "set"]));
    for part in [
        "history, [[2.6.12, Added the `EX`, `PX`, `NX` and `XX` options.]",
        "[name, get, type, pure-token, token, GET, since, 6.2.0, flags, [optional]]",
    ] {
        assert!(set.contains(part), "{part} not in {set}");
    }
    let unknown = render(&query(&mut con, &["COMMAND", "DOCS", "nosuch"]));
    assert_eq!(unknown, "[]");
}

#[test]
fn command_docs_match_real_redis_for_every_command() {
    // Subcommands are compared on their own (their order is Redis's dict order).
    let without_subcommands = |name: &str, reply: &Value| match reply {
        Value::Array(pair) => match &pair[1] {
            Value::Array(fields) => fields
                .chunks(2)
                .filter(|kv| render(&kv[0]) != "subcommands")
                .map(|kv| format!("{}: {}", render(&kv[0]), render(&kv[1])))
                .collect::<Vec<_>>(),
            other => panic!("COMMAND DOCS {name}: {other:?}"),
        },
        other => panic!("COMMAND DOCS {name}: {other:?}"),
    };
    against_real_redis(|name, ferrite, redis| {
        let theirs = query(redis, &["COMMAND", "DOCS", name]);
        if theirs == Value::Array(Vec::new()) {
            return; // newer than Redis 7.0
        }
        let ours = query(ferrite, &["COMMAND", "DOCS", name]);
        assert_eq!(
            without_subcommands(name, &ours),
            without_subcommands(name, &theirs),
            "COMMAND DOCS {name}"
        );
    });
}

/// MONITOR shows EVAL and FCALL before the commands their scripts run, and
/// a script's commands as coming from `lua`, as Redis does.
#[test]
fn monitor_shows_a_script_before_its_commands() {
    let server = Server::start();
    let mut monitor = server.raw();
    monitor.send(b"MONITOR\r\n");
    monitor.expect(b"+OK\r\n");
    let mut caller = server.raw();
    caller.send(b"EVAL \"return redis.call('set','foo','bar')\" 0\r\n");
    caller.expect(b"+OK\r\n");
    let eval = monitor.read_line();
    assert!(
        eval.ends_with("\"EVAL\" \"return redis.call('set','foo','bar')\" \"0\""),
        "{eval}"
    );
    let set = monitor.read_line();
    assert!(set.ends_with(" [0 lua] \"set\" \"foo\" \"bar\""), "{set}");
}
