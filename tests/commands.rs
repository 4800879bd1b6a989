//! Commands through a real Rust client (the `redis` crate) against a real server.

mod common;

use common::Server;
use redis::{cmd, Connection, RedisResult, Value};

fn run<T: redis::FromRedisValue>(conn: &mut Connection, args: &[&str]) -> RedisResult<T> {
    let mut command = cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query(conn)
}

#[test]
fn strings_and_counters() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(run::<String>(&mut c, &["SET", "k", "v"]).unwrap(), "OK");
    assert_eq!(run::<i64>(&mut c, &["APPEND", "k", "alue"]).unwrap(), 5);
    assert_eq!(run::<String>(&mut c, &["GET", "k"]).unwrap(), "value");
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "k"]).unwrap(),
        "raw"
    );
    assert_eq!(run::<i64>(&mut c, &["INCRBY", "n", "41"]).unwrap(), 41);
    assert_eq!(run::<i64>(&mut c, &["INCR", "n"]).unwrap(), 42);
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "n"]).unwrap(),
        "int"
    );
    assert_eq!(
        run::<String>(&mut c, &["INCRBYFLOAT", "f", "10.5"]).unwrap(),
        "10.5"
    );
    assert_eq!(
        run::<String>(&mut c, &["INCRBYFLOAT", "f", "0.1"]).unwrap(),
        "10.6"
    );
    let error = run::<i64>(&mut c, &["INCR", "k"]).unwrap_err();
    assert_eq!(
        error.detail(),
        Some("value is not an integer or out of range")
    );
    assert_eq!(
        run::<i64>(&mut c, &["SETRANGE", "r", "3", "ab"]).unwrap(),
        5
    );
    assert_eq!(run::<Vec<u8>>(&mut c, &["GET", "r"]).unwrap(), b"\0\0\0ab");
    assert_eq!(
        run::<String>(&mut c, &["GETRANGE", "k", "-3", "-1"]).unwrap(),
        "lue"
    );
    assert_eq!(run::<String>(&mut c, &["LCS", "k", "k"]).unwrap(), "value");
    assert_eq!(
        run::<String>(&mut c, &["MSET", "a", "1", "b", "2"]).unwrap(),
        "OK"
    );
    assert_eq!(
        run::<Vec<Option<String>>>(&mut c, &["MGET", "a", "nope", "b"]).unwrap(),
        vec![Some("1".into()), None, Some("2".into())]
    );
    assert_eq!(
        run::<i64>(&mut c, &["MSETNX", "a", "x", "c", "3"]).unwrap(),
        0
    );
    assert_eq!(run::<Option<String>>(&mut c, &["GET", "c"]).unwrap(), None);
}

#[test]
fn set_options_and_expiry() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(
        run::<Option<String>>(&mut c, &["SET", "k", "1", "NX", "GET"]).unwrap(),
        None
    );
    assert_eq!(
        run::<Option<String>>(&mut c, &["SET", "k", "2", "XX", "GET", "EX", "100"]).unwrap(),
        Some("1".into())
    );
    let ttl: i64 = run(&mut c, &["TTL", "k"]).unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(
        run::<String>(&mut c, &["SET", "k", "3", "KEEPTTL"]).unwrap(),
        "OK"
    );
    assert!(run::<i64>(&mut c, &["PTTL", "k"]).unwrap() > 98_000);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "k", "50", "GT"]).unwrap(), 0);
    assert_eq!(run::<i64>(&mut c, &["EXPIRE", "k", "50", "LT"]).unwrap(), 1);
    assert_eq!(run::<i64>(&mut c, &["PERSIST", "k"]).unwrap(), 1);
    assert_eq!(run::<i64>(&mut c, &["TTL", "k"]).unwrap(), -1);
    assert_eq!(run::<i64>(&mut c, &["TTL", "missing"]).unwrap(), -2);
    let error = run::<String>(&mut c, &["SET", "k", "v", "EX", "0"]).unwrap_err();
    assert_eq!(error.detail(), Some("invalid expire time in 'set' command"));
    // A key that expires vanishes without being read (active expiry).
    assert_eq!(
        run::<String>(&mut c, &["SET", "short", "v", "PX", "30"]).unwrap(),
        "OK"
    );
    std::thread::sleep(std::time::Duration::from_millis(400));
    let info: String = run(&mut c, &["INFO", "keyspace"]).unwrap();
    assert!(info.contains("db0:keys=1,expires=0"), "{info}");
}

#[test]
fn scan_returns_every_key_once() {
    let server = Server::start();
    let mut c = server.client();
    for i in 0..1000 {
        run::<()>(&mut c, &["SET", &format!("key:{i}"), "v"]).unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, keys): (String, Vec<String>) =
            run(&mut c, &["SCAN", &cursor, "COUNT", "17", "MATCH", "key:*"]).unwrap();
        for key in keys {
            assert!(seen.insert(key));
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 1000);
}

#[test]
fn keys_rename_copy_move_swapdb() {
    let server = Server::start();
    let mut c = server.client();
    run::<()>(&mut c, &["SET", "src", "v", "EX", "100"]).unwrap();
    assert_eq!(
        run::<String>(&mut c, &["RENAME", "src", "dst"]).unwrap(),
        "OK"
    );
    assert!(run::<i64>(&mut c, &["TTL", "dst"]).unwrap() > 90);
    assert_eq!(
        run::<i64>(&mut c, &["COPY", "dst", "copy", "DB", "3"]).unwrap(),
        1
    );
    assert_eq!(run::<i64>(&mut c, &["MOVE", "dst", "3"]).unwrap(), 1);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "dst", "dst"]).unwrap(), 0);
    assert_eq!(run::<String>(&mut c, &["SWAPDB", "0", "3"]).unwrap(), "OK");
    let mut keys: Vec<String> = run(&mut c, &["KEYS", "*"]).unwrap();
    keys.sort();
    assert_eq!(keys, vec!["copy", "dst"]);
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]).unwrap(), 2);
    assert_eq!(run::<String>(&mut c, &["FLUSHALL"]).unwrap(), "OK");
    assert_eq!(run::<i64>(&mut c, &["DBSIZE"]).unwrap(), 0);
}

#[test]
fn dump_payload_round_trips_and_matches_redis_format() {
    let server = Server::start();
    let mut c = server.client();
    run::<()>(&mut c, &["SET", "k", "hello"]).unwrap();
    let payload: Vec<u8> = run(&mut c, &["DUMP", "k"]).unwrap();
    assert_eq!(&payload[..9], b"\x00\x05hello\x0a\x00");
    let mut restore = cmd("RESTORE");
    restore.arg("k2").arg(0).arg(&payload[..]);
    assert_eq!(restore.query::<String>(&mut c).unwrap(), "OK");
    assert_eq!(run::<String>(&mut c, &["GET", "k2"]).unwrap(), "hello");
    let mut corrupt = payload.clone();
    corrupt[3] ^= 0xff;
    let mut restore = cmd("RESTORE");
    restore.arg("k3").arg(0).arg(&corrupt[..]);
    let error = restore.query::<String>(&mut c).unwrap_err();
    assert_eq!(
        error.detail(),
        Some("DUMP payload version or checksum are wrong")
    );
}

/// A ziplist whose entries disagree with each other is refused with
/// Redis's reply, and the same ziplist mended is read (Redis 6.2 wrote
/// quicklists of ziplists).
#[test]
fn restore_checks_every_ziplist_entry() {
    let server = Server::start();
    let mut c = server.client();
    // Redis's corrupt-dump test "quicklist big ziplist prev len" (valid CRC):
    // a quicklist of one ziplist, "a\0" then "b\0", whose second entry
    // claims the entry before it is 14 bytes long; it is 4.
    let corrupt = b"\x0E\x01\x13\x13\x00\x00\x00\x0E\x00\x00\x00\x02\x00\x00\x02\x61\x00\x0E\x02\x62\x00\xFF\x09\x00\x49\x97\x30\xB2\x0D\xA1\xED\xAA";
    let restore = |c: &mut Connection, key: &str, payload: &[u8]| {
        cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(payload)
            .query::<String>(c)
    };
    let error = restore(&mut c, "k", corrupt).unwrap_err();
    assert_eq!(error.detail(), Some("Bad data format"));
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "k"]).unwrap(), 0);
    run::<()>(&mut c, &["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"]).unwrap();
    let mut mended = corrupt.to_vec();
    mended[17] = 0x04;
    assert_eq!(restore(&mut c, "k", &mended).unwrap(), "OK");
    let items: Vec<Vec<u8>> = run(&mut c, &["LRANGE", "k", "0", "-1"]).unwrap();
    assert_eq!(items, vec![b"a\0".to_vec(), b"b\0".to_vec()]);
}

#[test]
fn config_get_set_and_info() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(
        run::<String>(&mut c, &["CONFIG", "SET", "maxmemory", "10mb", "hz", "20"]).unwrap(),
        "OK"
    );
    let pairs: Vec<String> = run(&mut c, &["CONFIG", "GET", "maxmemory", "hz"]).unwrap();
    assert_eq!(pairs, vec!["maxmemory", "10485760", "hz", "20"]);
    let error = run::<String>(&mut c, &["CONFIG", "SET", "daemonize", "yes"]).unwrap_err();
    assert_eq!(
        error.detail(),
        Some(
            "CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
        )
    );
    let error = run::<String>(&mut c, &["CONFIG", "SET", "hz", "5", "hz", "6"]).unwrap_err();
    assert_eq!(
        error.detail(),
        Some("CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter")
    );
    let error = run::<String>(&mut c, &["CONFIG", "SET", "maxmemory-clients", "101%"]).unwrap_err();
    assert_eq!(
        error.detail(),
        Some("CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100")
    );
    let set: String = run(&mut c, &["CONFIG", "SET", "maxmemory-clients", "10%"]).unwrap();
    assert_eq!(set, "OK");
    let pairs: Vec<String> = run(&mut c, &["CONFIG", "GET", "maxmemory-clients"]).unwrap();
    assert_eq!(pairs, vec!["maxmemory-clients", "10%"]);
    let info: String = run(&mut c, &["INFO"]).unwrap();
    let run_id = info
        .lines()
        .find_map(|l| l.strip_prefix("run_id:"))
        .expect("run_id");
    assert_eq!(run_id.trim().len(), 40);
    assert!(info.contains("# Keyspace"));
    let info: String = run(&mut c, &["INFO", "commandstats"]).unwrap();
    assert!(info.contains("cmdstat_config|set:calls=5"), "{info}");
}

/// CONFIG SET port listens on the new port and closes the old one; a port
/// that cannot be bound fails the whole call and changes nothing.
#[test]
fn config_set_port_moves_the_listener() {
    let server = Server::start();
    let mut c = server.client();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port().to_string();
    let args = [
        "CONFIG",
        "SET",
        "maxmemory",
        "12345678",
        "port",
        &taken_port,
    ];
    let error = run::<String>(&mut c, &args).unwrap_err();
    assert_eq!(
        error.detail(),
        Some("CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.")
    );
    let pairs: Vec<String> = run(&mut c, &["CONFIG", "GET", "maxmemory"]).unwrap();
    assert_eq!(pairs, vec!["maxmemory", "0"]);
    drop(taken);

    let new_port = common::free_port();
    let set: String = run(&mut c, &["CONFIG", "SET", "port", &new_port.to_string()]).unwrap();
    assert_eq!(set, "OK");
    assert!(std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err());
    let mut moved = common::raw(new_port);
    moved.send(b"PING\r\n");
    moved.expect(b"+PONG\r\n");
    let info: String = run(&mut c, &["INFO", "server"]).unwrap();
    assert!(info.contains(&format!("tcp_port:{new_port}\r\n")), "{info}");
}

#[test]
fn client_list_kill_and_names() {
    let server = Server::start();
    let mut a = server.client();
    let mut b = server.client();
    assert_eq!(
        run::<String>(&mut b, &["CLIENT", "SETNAME", "victim"]).unwrap(),
        "OK"
    );
    let id: i64 = run(&mut b, &["CLIENT", "ID"]).unwrap();
    let list: String = run(&mut a, &["CLIENT", "LIST"]).unwrap();
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=victim"),
        "{list}"
    );
    assert_eq!(
        run::<i64>(&mut a, &["CLIENT", "KILL", "ID", &id.to_string()]).unwrap(),
        1
    );
    assert!(run::<Value>(&mut b, &["PING"]).is_err());
    let error = run::<String>(&mut a, &["CLIENT", "NOPE"]).unwrap_err();
    assert_eq!(
        error.detail(),
        Some("unknown subcommand 'NOPE'. Try CLIENT HELP.")
    );
}

#[test]
fn requirepass_gates_commands() {
    let server = Server::start_with(&["--requirepass", "secret"]);
    let mut conn = server.raw();
    conn.send(b"GET k\r\nAUTH wrong\r\nAUTH secret\r\nGET k\r\n");
    conn.expect(b"-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n$-1\r\n");
}

#[test]
fn hashes_and_sets() {
    let server = Server::start();
    let mut c = server.client();
    assert_eq!(
        run::<i64>(&mut c, &["HSET", "h", "a", "1", "b", "2"]).unwrap(),
        2
    );
    assert_eq!(
        run::<i64>(&mut c, &["HINCRBY", "h", "a", "41"]).unwrap(),
        42
    );
    assert_eq!(
        run::<Vec<(String, String)>>(&mut c, &["HGETALL", "h"]).unwrap(),
        vec![("a".into(), "42".into()), ("b".into(), "2".into())]
    );
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "h"]).unwrap(),
        "listpack"
    );
    assert_eq!(run::<String>(&mut c, &["TYPE", "h"]).unwrap(), "hash");
    assert_eq!(run::<i64>(&mut c, &["HDEL", "h", "a", "b"]).unwrap(), 2);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "h"]).unwrap(), 0);

    assert_eq!(
        run::<i64>(&mut c, &["SADD", "s", "3", "1", "2"]).unwrap(),
        3
    );
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "s"]).unwrap(),
        "intset"
    );
    assert_eq!(run::<i64>(&mut c, &["SADD", "s", "x"]).unwrap(), 1);
    assert_eq!(
        run::<String>(&mut c, &["OBJECT", "ENCODING", "s"]).unwrap(),
        "hashtable"
    );
    assert_eq!(
        run::<i64>(&mut c, &["SADD", "t", "2", "3", "4"]).unwrap(),
        3
    );
    let mut inter = run::<Vec<String>>(&mut c, &["SINTER", "s", "t"]).unwrap();
    inter.sort();
    assert_eq!(inter, vec!["2", "3"]);
    assert_eq!(
        run::<i64>(&mut c, &["SUNIONSTORE", "u", "s", "t"]).unwrap(),
        5
    );
    assert_eq!(
        run::<i64>(&mut c, &["SINTERCARD", "2", "s", "t", "LIMIT", "1"]).unwrap(),
        1
    );
    let error =
        run::<i64>(&mut c, &["SADD", "h2", "x"]).and(run::<i64>(&mut c, &["HSET", "s", "f", "v"]));
    assert_eq!(
        error.unwrap_err().detail(),
        Some("Operation against a key holding the wrong kind of value")
    );
    assert_eq!(run::<i64>(&mut c, &["SMOVE", "t", "s", "4"]).unwrap(), 1);
    assert_eq!(run::<i64>(&mut c, &["SCARD", "s"]).unwrap(), 5);
    let popped = run::<Vec<String>>(&mut c, &["SPOP", "t", "10"]).unwrap();
    assert_eq!(popped.len(), 2);
    assert_eq!(run::<i64>(&mut c, &["EXISTS", "t"]).unwrap(), 0);
    let payload = run::<Vec<u8>>(&mut c, &["DUMP", "s"]).unwrap();
    assert_eq!(payload[0], 2, "plain RDB set encoding");
}

#[test]
fn lists_end_to_end() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(
        b"RPUSH l a b c a\r\nLPUSH l z\r\nLRANGE l 0 -1\r\nLPOS l a COUNT 0\r\n\
          LMOVE l dst RIGHT LEFT\r\nLMPOP 2 none l RIGHT COUNT 9\r\nEXISTS l\r\n\
          LPOP l 2\r\nLPOP l\r\nSET s x\r\nLPUSH s y\r\nLINDEX dst 0\r\nTYPE dst\r\n\
          OBJECT ENCODING dst\r\nLSET dst 5 x\r\nLPOS dst a RANK 0\r\n",
    );
    conn.expect(
        b":4\r\n:5\r\n*5\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n\
          *2\r\n:1\r\n:4\r\n$1\r\na\r\n*2\r\n$1\r\nl\r\n*4\r\n$1\r\nc\r\n$1\r\nb\r\n\
          $1\r\na\r\n$1\r\nz\r\n:0\r\n*-1\r\n$-1\r\n+OK\r\n\
          -WRONGTYPE Operation against a key holding the wrong kind of value\r\n\
          $1\r\na\r\n+list\r\n$9\r\nquicklist\r\n-ERR index out of range\r\n\
          -ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n",
    );
}
