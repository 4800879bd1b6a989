//! ACLs end to end: users described byte for byte as a real redis-server
//! describes them, permission checks and their NOPERM texts (directly, in
//! MULTI/EXEC and in scripts), the ACL log, AUTH/HELLO, disconnections on
//! user changes, and users from the config file and the aclfile.

mod common;

use std::process::Command;

use common::{binary, call, hello3, raw, temp_dir, Redis, Server};

/// Rule sets whose descriptions need no more than one single-command rule
/// (Redis lists single commands in its hash table's order).
const RULE_SETS: &[&[&str]] = &[
    &[],
    &[
        "on", ">p1", ">p2", "~k*", "%R~r*", "%W~w*", "%RW~rw*", "&ch", "+@string", "-set",
    ],
    &["reset", "+@all", "-@dangerous"],
    &["reset", "-@all", "+@hash", "+client|id"],
    &["reset", "+@all", "-config|set", "allkeys", "allchannels"],
    &["reset", "-@all", "+select|0", "+select|1", "nopass", "on"],
    &[
        "on",
        "nopass",
        "+get",
        "(+set ~x* &c)",
        "(~y* %R~z* +@list)",
    ],
    &[
        "#e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "skip-sanitize-payload",
    ],
];

#[test]
fn users_are_described_as_redis_describes_them() {
    let server = Server::start();
    let redis = Redis::start(&[]);
    for (i, rules) in RULE_SETS.iter().enumerate() {
        let name = format!("user{i}");
        let mut args = vec!["ACL", "SETUSER", name.as_str()];
        args.extend_from_slice(rules);
        for resp3 in [false, true] {
            let mut ours = raw(server.port);
            let mut theirs = raw(redis.port);
            if resp3 {
                hello3(&mut ours);
                hello3(&mut theirs);
            }
            assert_eq!(call(&mut ours, &args), "+OK\r\n");
            assert_eq!(call(&mut theirs, &args), "+OK\r\n");
            for command in [
                vec!["ACL", "GETUSER", name.as_str()],
                vec!["ACL", "LIST"],
                vec!["ACL", "USERS"],
            ] {
                assert_eq!(
                    call(&mut ours, &command),
                    call(&mut theirs, &command),
                    "{command:?} after {rules:?}"
                );
            }
        }
    }
}

#[test]
fn rule_errors_are_redis_errors() {
    let server = Server::start();
    let redis = Redis::start(&[]);
    let cases: &[&[&str]] = &[
        &["ACL", "SETUSER", "u", "+nosuchcommand"],
        &["ACL", "SETUSER", "u", "+@nosuchcategory"],
        &["ACL", "SETUSER", "u", "bogus"],
        &["ACL", "SETUSER", "u", "allkeys", "~x"],
        &["ACL", "SETUSER", "u", "&*", "&x"],
        &["ACL", "SETUSER", "u", "<notthere"],
        &["ACL", "SETUSER", "u", "#abc"],
        &["ACL", "SETUSER", "u", "+config|get|x"],
        &["ACL", "SETUSER", "u", "(+get", "~x"],
        &["ACL", "SETUSER", "a b"],
        &["ACL", "DELUSER", "default"],
        &["ACL", "CAT", "nope"],
        &["ACL", "GENPASS", "5000"],
        &["ACL", "DRYRUN", "nobody", "get", "x"],
        &["ACL", "DRYRUN", "default", "nosuch", "x"],
        &["ACL", "DRYRUN", "default", "get"],
        &["ACL", "LOAD"],
        &["ACL", "SAVE"],
        &["AUTH", "x"],
        &["AUTH", "default", "x"],
        &["ACL", "GETUSER", "nobody"],
        &["ACL", "WHOAMI"],
    ];
    let mut ours = raw(server.port);
    let mut theirs = raw(redis.port);
    for args in cases {
        assert_eq!(call(&mut ours, args), call(&mut theirs, args), "{args:?}");
    }
}

/// Authenticates a new connection as `user` with password `pass`.
fn login(port: u16, user: &str, pass: &str) -> common::RawConnection {
    let mut conn = raw(port);
    assert_eq!(call(&mut conn, &["AUTH", user, pass]), "+OK\r\n");
    conn
}

#[test]
fn commands_keys_and_channels_are_checked() {
    let server = Server::start();
    let mut admin = raw(server.port);
    let setup = [
        "ACL",
        "SETUSER",
        "alice",
        "on",
        ">pw",
        "~obj:*",
        "%R~ro:*",
        "&news.*",
        "+get",
        "+set",
        "+publish",
        "+subscribe",
        "+psubscribe",
        "+multi",
        "+exec",
        "+eval",
    ];
    assert_eq!(call(&mut admin, &setup), "+OK\r\n");
    let mut alice = login(server.port, "alice", "pw");
    assert_eq!(
        call(&mut alice, &["ACL", "WHOAMI"]),
        "-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n"
    );
    assert_eq!(call(&mut alice, &["SET", "obj:1", "v"]), "+OK\r\n");
    assert_eq!(call(&mut alice, &["GET", "ro:1"]), "$-1\r\n");
    assert_eq!(
        call(&mut alice, &["SET", "ro:1", "v"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(
        call(&mut alice, &["HSET", "obj:1", "f", "v"]),
        "-NOPERM this user has no permissions to run the 'hset' command\r\n"
    );
    assert_eq!(call(&mut alice, &["PUBLISH", "news.a", "m"]), ":0\r\n");
    assert_eq!(
        call(&mut alice, &["PUBLISH", "sport", "m"]),
        "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"
    );
    // A PSUBSCRIBE pattern must equal an allowed pattern literally.
    assert_eq!(
        call(&mut alice, &["PSUBSCRIBE", "news.a*"]),
        "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"
    );
    // Queued commands are checked when queued...
    assert_eq!(call(&mut alice, &["MULTI"]), "+OK\r\n");
    assert_eq!(
        call(&mut alice, &["GET", "other"]),
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_eq!(
        call(&mut alice, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // ... and again at EXEC.
    assert_eq!(call(&mut alice, &["MULTI"]), "+OK\r\n");
    assert_eq!(call(&mut alice, &["GET", "obj:1"]), "+QUEUED\r\n");
    assert_eq!(
        call(&mut admin, &["ACL", "SETUSER", "alice", "-get"]),
        "+OK\r\n"
    );
    assert_eq!(
        call(&mut alice, &["EXEC"]),
        "*1\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n"
    );
    // A script's calls are checked against the caller.
    let reply = call(
        &mut alice,
        &["EVAL", "return redis.call('hset', 'obj:1', 'f', 'v')", "0"],
    );
    assert!(
        reply.starts_with(
            "-ERR The user executing the script can't run this command or subcommand script:"
        ),
        "{reply}"
    );
    assert_eq!(
        call(&mut admin, &["ACL", "DRYRUN", "alice", "set", "ro:1", "v"]),
        "$53\r\nThis user has no permissions to access the 'ro:1' key\r\n"
    );
    assert_eq!(
        call(&mut admin, &["ACL", "DRYRUN", "alice", "set", "obj:2", "v"]),
        "+OK\r\n"
    );
}

/// The fields of ACL LOG's newest entry other than its age and client info.
fn newest_log_entry(conn: &mut common::RawConnection) -> Vec<String> {
    let reply = call(conn, &["ACL", "LOG", "1"]);
    let lines: Vec<&str> = reply.split("\r\n").collect();
    // *1, *14, then key/value pairs (bulk strings and the count):
    // the first five pairs without the bulk lengths.
    lines[2..22]
        .iter()
        .filter(|line| !line.starts_with('$'))
        .map(|line| line.to_string())
        .collect()
}

#[test]
fn denials_and_failed_logins_are_logged() {
    let server = Server::start();
    let mut admin = raw(server.port);
    let setup = [
        "ACL", "SETUSER", "bob", "on", ">pw", "~k", "+get", "+multi", "+discard",
    ];
    assert_eq!(call(&mut admin, &setup), "+OK\r\n");
    let mut bob = login(server.port, "bob", "pw");
    call(&mut bob, &["GET", "other"]);
    let fields = [
        "count", ":1", "reason", "key", "context", "toplevel", "object", "other", "username", "bob",
    ];
    assert_eq!(newest_log_entry(&mut admin), fields);
    // The same event again within a minute bumps the count.
    call(&mut bob, &["GET", "other"]);
    assert_eq!(newest_log_entry(&mut admin)[1], ":2");
    call(&mut bob, &["MULTI"]);
    call(&mut bob, &["SET", "k", "v"]);
    let fields = [
        "count", ":1", "reason", "command", "context", "multi", "object", "set", "username", "bob",
    ];
    assert_eq!(newest_log_entry(&mut admin), fields);
    call(&mut bob, &["DISCARD"]);
    call(&mut bob, &["AUTH", "bob", "wrong"]);
    let fields = [
        "count", ":1", "reason", "auth", "context", "toplevel", "object", "AUTH", "username", "bob",
    ];
    assert_eq!(newest_log_entry(&mut admin), fields);
    let reply = call(&mut admin, &["ACL", "LOG", "1"]);
    assert!(reply.contains("cmd=auth user=bob"), "{reply}");
    assert_eq!(call(&mut admin, &["ACL", "LOG", "RESET"]), "+OK\r\n");
    assert_eq!(call(&mut admin, &["ACL", "LOG"]), "*0\r\n");
}

#[test]
fn requirepass_is_the_default_users_password() {
    let server = Server::start_with(&["--requirepass", "secret"]);
    let mut conn = raw(server.port);
    assert_eq!(
        call(&mut conn, &["GET", "x"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        call(&mut conn, &["HELLO", "3", "AUTH", "default", "nope"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(call(&mut conn, &["AUTH", "secret"]), "+OK\r\n");
    assert_eq!(call(&mut conn, &["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
    let list = call(&mut conn, &["ACL", "LIST"]);
    assert!(
        list.contains("user default on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~* &* +@all"),
        "{list}"
    );
    assert_eq!(
        call(&mut conn, &["CONFIG", "SET", "requirepass", ""]),
        "+OK\r\n"
    );
    let list = call(&mut conn, &["ACL", "LIST"]);
    assert_eq!(list, "*1\r\n$34\r\nuser default on nopass ~* &* +@all\r\n");
    // Clients that connect now are authenticated at once.
    let mut fresh = raw(server.port);
    assert_eq!(call(&mut fresh, &["GET", "x"]), "$-1\r\n");
}

#[test]
fn user_changes_disconnect_clients() {
    let server = Server::start();
    let mut admin = raw(server.port);
    let setup = [
        "ACL", "SETUSER", "carol", "on", "nopass", "+@all", "~*", "&chat",
    ];
    assert_eq!(call(&mut admin, &setup), "+OK\r\n");
    let mut subscriber = login(server.port, "carol", "x");
    assert_eq!(
        call(&mut subscriber, &["SUBSCRIBE", "chat"]),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nchat\r\n:1\r\n"
    );
    let mut other = login(server.port, "carol", "x");
    // Keeping the channel keeps the subscriber.
    assert_eq!(
        call(&mut admin, &["ACL", "SETUSER", "carol", "&more"]),
        "+OK\r\n"
    );
    assert_eq!(call(&mut other, &["PING"]), "+PONG\r\n");
    assert_eq!(
        call(&mut admin, &["ACL", "SETUSER", "carol", "resetchannels"]),
        "+OK\r\n"
    );
    assert!(subscriber.is_closed());
    assert_eq!(call(&mut other, &["PING"]), "+PONG\r\n");
    assert_eq!(
        call(&mut admin, &["CLIENT", "LIST", "TYPE", "normal"])
            .matches("user=carol")
            .count(),
        1
    );
    assert_eq!(
        call(&mut admin, &["CLIENT", "KILL", "USER", "nobody"]),
        "-ERR No such user 'nobody'\r\n"
    );
    assert_eq!(
        call(&mut admin, &["CLIENT", "KILL", "USER", "carol"]),
        ":1\r\n"
    );
    assert!(other.is_closed());
    let mut third = login(server.port, "carol", "x");
    assert_eq!(
        call(&mut admin, &["ACL", "DELUSER", "carol", "nobody"]),
        ":1\r\n"
    );
    assert!(third.is_closed());
    // A client deleting its own user gets the reply, then is disconnected.
    let setup = ["ACL", "SETUSER", "dave", "on", "nopass", "+@all", "~*"];
    assert_eq!(call(&mut admin, &setup), "+OK\r\n");
    let mut dave = login(server.port, "dave", "x");
    assert_eq!(call(&mut dave, &["ACL", "DELUSER", "dave"]), ":1\r\n");
    assert!(dave.is_closed());
}

#[test]
fn aclfile_save_and_load() {
    let dir = temp_dir("aclfile");
    std::fs::write(
        dir.join("users.acl"),
        "user alice on >pw ~* +@all\nuser default on nopass ~* &* +@all\n",
    )
    .unwrap();
    let server = Server::start_in(dir.clone(), None, &["--aclfile", "users.acl"]);
    let mut conn = raw(server.port);
    assert_eq!(
        call(&mut conn, &["ACL", "USERS"]),
        "*2\r\n$5\r\nalice\r\n$7\r\ndefault\r\n"
    );
    assert_eq!(
        call(
            &mut conn,
            &["ACL", "SETUSER", "bob", "on", "nopass", "+get"]
        ),
        "+OK\r\n"
    );
    assert_eq!(call(&mut conn, &["ACL", "SAVE"]), "+OK\r\n");
    let saved = std::fs::read_to_string(dir.join("users.acl")).unwrap();
    assert_eq!(
        saved,
        "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* resetchannels +@all\n\
         user bob on nopass resetchannels -@all +get\n\
         user default on nopass ~* &* +@all\n"
    );
    std::fs::write(
        dir.join("users.acl"),
        "user carol on nopass +@all\nuser bad +nosuch\n",
    )
    .unwrap();
    assert_eq!(
        call(&mut conn, &["ACL", "LOAD"]),
        "-ERR users.acl:2: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n"
    );
    std::fs::write(dir.join("users.acl"), "user carol on nopass +@all\n").unwrap();
    let mut bob = login(server.port, "bob", "x");
    assert_eq!(call(&mut conn, &["ACL", "LOAD"]), "+OK\r\n");
    assert!(bob.is_closed());
    let carol = "user carol on nopass resetchannels +@all";
    let default = "user default on nopass ~* &* +@all";
    assert_eq!(
        call(&mut conn, &["ACL", "LIST"]),
        format!(
            "*2\r\n${}\r\n{carol}\r\n${}\r\n{default}\r\n",
            carol.len(),
            default.len()
        )
    );
}

#[test]
fn startup_errors_name_the_problem() {
    let dir = temp_dir("aclstart");
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port 0\nuser alice on bogus\n").unwrap();
    let output = Command::new(binary()).arg(&conf).output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Redis names the argument at the rule's index (here the user name).
    assert!(stderr.contains("at line 2"), "{stderr}");
    assert!(
        stderr.contains("Error in user declaration 'alice': Syntax error"),
        "{stderr}"
    );
    std::fs::write(dir.join("users.acl"), "user alice on +nosuch\n").unwrap();
    let port = common::free_port().to_string();
    let output = Command::new(binary())
        .args(["--port", &port, "--dir"])
        .arg(&dir)
        .args(["--aclfile", "users.acl"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Aborting Redis startup because of ACL errors: users.acl:1: Error in applying operation '+nosuch'"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// MIGRATE's keys after KEYS (its incomplete key spec: Redis's
/// `migrateGetKeys`) are checked by ACLs and listed by COMMAND GETKEYS as
/// Redis does.
#[test]
fn migrate_keys_after_keys_are_checked_as_redis_checks_them() {
    let server = Server::start();
    let redis = Redis::start(&[]);
    let setup = [
        "ACL",
        "SETUSER",
        "t",
        "+@all",
        "%R~read*",
        "%W~write*",
        "%RW~rw*",
    ];
    let mut ours = raw(server.port);
    let mut theirs = raw(redis.port);
    assert_eq!(call(&mut ours, &setup), call(&mut theirs, &setup));
    for key in ["rw", "read", "write"] {
        let cases: [&[&str]; 5] = [
            &["MIGRATE", "h", "1", key, "0", "500"],
            &["MIGRATE", "h", "1", "", "0", "500", "KEYS", key],
            &[
                "MIGRATE", "h", "1", "", "0", "500", "AUTH", "KEYS", "KEYS", key,
            ],
            &[
                "MIGRATE", "h", "1", "", "0", "500", "AUTH2", "KEYS", "1", "KEYS", key,
            ],
            &["MIGRATE", "h", "1", "x", "0", "500", "KEYS", key],
        ];
        for case in cases {
            let dryrun: Vec<&str> = ["ACL", "DRYRUN", "t"].iter().chain(case).copied().collect();
            assert_eq!(
                call(&mut ours, &dryrun),
                call(&mut theirs, &dryrun),
                "{dryrun:?}"
            );
            let getkeys: Vec<&str> = ["COMMAND", "GETKEYS"].iter().chain(case).copied().collect();
            assert_eq!(
                call(&mut ours, &getkeys),
                call(&mut theirs, &getkeys),
                "{getkeys:?}"
            );
        }
    }
}
