//! Bitmap commands end to end, against a real redis-server fed the same
//! commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO replies (errors included) must be Redis's byte for byte, and
//! the writes must reach replicas and keyspace subscribers as Redis sends
//! them (nothing for the writes that changed nothing).

mod common;

use common::RawConnection;

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Replies are compared command by command, in this order.
const SCRIPT: &[&str] = &[
    // SETBIT / GETBIT, growth and errors.
    "SETBIT b 7 1",
    "SETBIT b 7 1",
    "SETBIT b 100 0",
    "GET b",
    "GETBIT b 7",
    "GETBIT b 6",
    "GETBIT b 100000",
    "GETBIT missing 3",
    "SETBIT b -1 1",
    "SETBIT b x 1",
    "SETBIT b 1 2",
    "SETBIT b 1 -0",
    "GETBIT b 01",
    "OBJECT ENCODING b",
    "LPUSH list a",
    "SETBIT list 1 1",
    "GETBIT list 1",
    // Integer-encoded strings are their text.
    "SET n 12345",
    "GETBIT n 2",
    "BITCOUNT n",
    "BITPOS n 1",
    "BITFIELD_RO n GET u8 0 GET i16 4",
    "SETBIT n 6 1",
    "GET n",
    // BITCOUNT.
    "SET s foobar",
    "BITCOUNT s",
    "BITCOUNT s 0 0",
    "BITCOUNT s 1 1",
    "BITCOUNT s 1 1 BYTE",
    "BITCOUNT s 5 30 BIT",
    "BITCOUNT s -3 -1 bit",
    "BITCOUNT s -1 -2 nonsense",
    "BITCOUNT s 0 100",
    "BITCOUNT s 3 1",
    "BITCOUNT s 0",
    "BITCOUNT s 0 1 BYTE extra",
    "BITCOUNT s a 1",
    "BITCOUNT s 0 1 WORD",
    "BITCOUNT missing a b c",
    "BITCOUNT list",
    // BITPOS.
    "SET p \\xff\\xf0\\x00",
    "BITPOS p 0",
    "BITPOS p 1 2",
    "BITPOS p 0 0 0",
    "BITPOS p 0 0 -1",
    "BITPOS p 1 7 15 BIT",
    "BITPOS p 0 3 13 bit",
    "BITPOS p 1 20 23 BIT",
    "BITPOS p 1 -1",
    "BITPOS p 2",
    "BITPOS p x",
    "BITPOS p 1 0 1 2 3",
    "BITPOS p 1 0 1 BITS",
    "BITPOS missing 0 junk",
    "BITPOS missing 1",
    "BITPOS list 1",
    "SET ones \\xff\\xff",
    "BITPOS ones 0",
    "BITPOS ones 0 0",
    "BITPOS ones 0 0 -1",
    "BITPOS ones 0 0 15 BIT",
    // BITOP.
    "SET a \\xff\\x0f\\x33",
    "SET c \\x0f",
    "BITOP AND dst a c",
    "GET dst",
    "BITOP or dst a c missing",
    "GET dst",
    "BITOP XOR dst a c",
    "GET dst",
    "BITOP NOT dst a",
    "GET dst",
    "OBJECT ENCODING dst",
    "BITOP NOT dst a c",
    "BITOP NAND dst a c",
    "BITOP AND dst a list",
    "BITOP AND n n c",
    "GET n",
    "BITOP OR dst missing missing2",
    "EXISTS dst",
    "BITOP OR dst missing",
    // BITFIELD.
    "BITFIELD f SET u8 0 255 GET u8 0 INCRBY u8 0 1 GET i8 0",
    "BITFIELD f OVERFLOW SAT INCRBY u8 0 300 INCRBY i8 8 -200 OVERFLOW FAIL INCRBY u8 0 1",
    "BITFIELD f SET i5 #3 -7 GET i5 #3 GET u5 #3",
    "BITFIELD f OVERFLOW WRAP SET i8 0 200 OVERFLOW SAT SET u8 8 -1 OVERFLOW FAIL SET i4 16 9",
    "BITFIELD f INCRBY i64 0 9223372036854775807 INCRBY i64 0 1",
    "BITFIELD f OVERFLOW SAT INCRBY i64 0 -9223372036854775807 INCRBY i64 0 -9",
    "BITFIELD f GET u63 1 GET i64 3 GET u1 200",
    "GET f",
    "BITFIELD f",
    "BITFIELD missing GET u8 0 GET i8 8",
    "EXISTS missing",
    "BITFIELD f GET u64 0",
    "BITFIELD f GET i65 0",
    "BITFIELD f GET i0 0",
    "BITFIELD f GET x8 0",
    "BITFIELD f GET u8 -1",
    "BITFIELD f GET u8 #-1",
    "BITFIELD f GET i64 #9223372036854775807",
    "BITFIELD f SET u8 0 x",
    "BITFIELD f OVERFLOW MAYBE",
    "BITFIELD f GET u8",
    "BITFIELD f FOO u8 0",
    "BITFIELD list GET u8 0",
    "BITFIELD_RO f GET u8 0 GET i8 #1",
    "BITFIELD_RO f GET u8 0 SET u8 0 1",
    "BITFIELD_RO list SET u8 0 1",
    "BITFIELD fresh OVERFLOW FAIL INCRBY u2 0 9",
    "EXISTS fresh",
    "STRLEN fresh",
    // Offsets are bounded by proto-max-bulk-len.
    "CONFIG SET proto-max-bulk-len 1048576",
    "SETBIT big 8388608 1",
    "GETBIT big 8388608",
    "BITFIELD big SET u8 8388608 1",
    "SETBIT big 8388607 1",
    "STRLEN big",
    "BITCOUNT big",
    "BITPOS big 1",
    "BITPOS big 1 -1 -1 BIT",
    "CONFIG SET proto-max-bulk-len 536870912",
    // Key flags, BITFIELD's depending on its operations.
    "COMMAND GETKEYSANDFLAGS BITFIELD k GET u8 0 OVERFLOW SAT GET i8 8",
    "COMMAND GETKEYSANDFLAGS BITFIELD k GET u8 0 INCRBY u8 0 1",
    "COMMAND GETKEYSANDFLAGS BITFIELD k",
    "COMMAND GETKEYSANDFLAGS BITFIELD k GET u8",
    "COMMAND GETKEYSANDFLAGS BITFIELD_RO k GET u8 0",
    "COMMAND GETKEYSANDFLAGS BITOP AND d a b",
    "COMMAND GETKEYSANDFLAGS SETBIT k 1 1",
];

/// Turns `\xNN` escapes of a script word into its bytes.
fn unescape(word: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = word.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'\\' && tail.first() == Some(&b'x') && tail.len() >= 3 {
            let hex = std::str::from_utf8(&tail[1..3]).expect("ascii escape");
            bytes.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            rest = &tail[3..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    bytes
}

fn run(conn: &mut RawConnection, line: &str) -> String {
    let args: Vec<Vec<u8>> = words(line).into_iter().map(unescape).collect();
    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    common::send(conn, &args);
    String::from_utf8_lossy(&common::read_reply(conn)).into_owned()
}

#[test]
fn replies_are_redis_replies() {
    common::replies_as_redis(SCRIPT, run);
}

/// Writes that change something and writes that do not; `SET end 1` last.
const WRITES: &[&str] = &[
    "SETBIT k 3 1",
    "SETBIT k 3 1",
    "SETBIT k 2 0",
    "SETBIT k 20 0",
    "BITFIELD k GET u8 0",
    "BITFIELD k SET u4 0 1",
    "BITFIELD k SET u4 0 2",
    "BITFIELD k SET u4 0 2",
    "BITFIELD k OVERFLOW FAIL INCRBY u4 0 100",
    "BITFIELD k INCRBY i8 8 5 GET u8 8",
    "BITFIELD_RO k GET u8 0",
    "SET other \\x0f",
    "BITOP OR dst k other",
    "BITOP AND dst2 nothing nothing2",
    "BITOP NOT dst nothing",
    "SET end 1",
];

#[test]
fn writes_replicate_and_notify_as_redis() {
    let ours = common::writes_fed_and_notified_as_redis(WRITES, run);
    // Only the writes that changed something are fed, as they ran.
    assert_eq!(
        ours.fed,
        [
            "SETBIT k 3 1",
            "SETBIT k 20 0",
            "BITFIELD k SET u4 0 2",
            "BITFIELD k INCRBY i8 8 5 GET u8 8",
            "SET other \u{f}",
            "BITOP OR dst k other",
            "BITOP NOT dst nothing",
            "SET end 1",
        ]
    );
    assert!(ours.events.contains(&"__keyevent@0__:setbit k".to_string()));
    assert!(ours.events.contains(&"__keyevent@0__:del dst".to_string()));
}
