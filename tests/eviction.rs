//! `maxmemory` against a real server: commands that need memory are refused
//! with Redis's OOM error under `noeviction` (in and out of MULTI), and the
//! eviction policies delete keys, count them and announce them, until the
//! allocated bytes are under the limit.

mod common;

use common::Server;

fn info_field(conn: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(conn).expect("info");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
}

#[test]
fn noeviction_refuses_writes_but_not_reads() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"SET k v\r\nCONFIG SET maxmemory 1\r\n");
    conn.expect(b"+OK\r\n+OK\r\n");
    conn.send(b"SET k2 v\r\nGET k\r\nDEL k\r\n");
    conn.expect(b"-OOM command not allowed when used memory > 'maxmemory'.\r\n$1\r\nv\r\n:1\r\n");
    conn.send(b"MULTI\r\nGET k\r\nDISCARD\r\n");
    conn.expect(b"+OK\r\n-OOM command not allowed when used memory > 'maxmemory'.\r\n+OK\r\n");
    conn.send(b"CONFIG SET maxmemory 0\r\nMULTI\r\nSET x 1\r\nGET x\r\nCONFIG SET maxmemory 1\r\n");
    conn.expect(b"+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n");
    conn.send(b"EXEC\r\n");
    conn.expect(b"*3\r\n+OK\r\n$1\r\n1\r\n+OK\r\n");
    conn.send(b"MULTI\r\nGET x\r\n");
    conn.expect(b"+OK\r\n-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    conn.send(b"EXEC\r\nCONFIG SET maxmemory 0\r\n");
    conn.expect(b"-EXECABORT Transaction discarded because of previous errors.\r\n+OK\r\n");
}

#[test]
fn allkeys_lru_evicts_until_under_the_limit_and_announces_it() {
    let server = Server::start();
    let mut conn = server.client();
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.set(format!("key:{i}"), vec![b'x'; 1000]).ignore();
    }
    let () = pipe.query(&mut conn).expect("load");
    let mut subscriber = server.raw();
    subscriber.send(b"CONFIG SET notify-keyspace-events Ee\r\nPSUBSCRIBE __keyevent*\r\n");
    subscriber.expect(b"+OK\r\n*3\r\n$10\r\npsubscribe\r\n$11\r\n__keyevent*\r\n:1\r\n");
    let used = info_field(&mut conn, "memory", "used_memory");
    let limit = used - 500_000;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query(&mut conn)
        .expect("policy");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query(&mut conn)
        .expect("limit");
    let evicted = info_field(&mut conn, "stats", "evicted_keys");
    let keys: u64 = redis::cmd("DBSIZE").query(&mut conn).expect("dbsize");
    assert!(evicted >= 400, "evicted {evicted}");
    assert_eq!(keys + evicted, 2000);
    // The first eviction, announced on the keyevent channel.
    let header = [
        "*4",
        "$8",
        "pmessage",
        "$11",
        "__keyevent*",
        "$22",
        "__keyevent@0__:evicted",
    ];
    for line in header {
        assert_eq!(subscriber.read_line(), line);
    }
}

#[test]
fn volatile_policies_evict_only_keys_with_a_ttl() {
    let server = Server::start();
    let mut conn = server.raw();
    conn.send(b"SET plain v\r\nSET temp v EX 100\r\nCONFIG SET maxmemory-policy volatile-ttl\r\n");
    conn.expect(b"+OK\r\n+OK\r\n+OK\r\n");
    conn.send(b"CONFIG SET maxmemory 1\r\nEXISTS plain temp\r\nSET other v\r\n");
    conn.expect(b"+OK\r\n:1\r\n-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    conn.send(b"CONFIG SET maxmemory 0\r\nSET other v\r\n");
    conn.expect(b"+OK\r\n+OK\r\n");
}
