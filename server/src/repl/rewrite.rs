//! The deterministic form in which a command that ran is propagated, as
//! Redis 7.0 rewrites it: relative and absolute expiries become PXAT /
//! PEXPIREAT, SPOP becomes SREM (or DEL), INCRBYFLOAT becomes SET ... KEEPTTL,
//! blocking pops become their non-blocking forms with the key and count they
//! served, GETDEL becomes DEL, GEOADD becomes ZADD, and writes that changed nothing are not
//! propagated. The rewrite is derived from the request, the reply the command
//! wrote, and (for expiries) the key's expiry as the command left it, so
//! command handlers need no replication code.
//!
//! "Changed nothing" is judged from the reply for the commands whose reply
//! says so (DEL returning 0, LPOP returning nil, SET NX refused...); other
//! writes are propagated whenever they did not fail, which over-approximates
//! Redis's `server.dirty` (e.g. ZADD that re-sets an equal score).

use bytes::Bytes;
use ferrite_storage::stream::AddId;
use ferrite_storage::KeyspaceRead;

use super::reply::Reply;
use crate::commands::TrimArgs;

/// A command that ran without error.
pub struct Ran<'a> {
    /// Full lowercase name (`set`, `client|kill`).
    pub name: &'a str,
    pub args: &'a [Bytes],
    /// The reply bytes it wrote.
    pub reply: &'a [u8],
    pub db: usize,
    /// The command said it changed its key (`ClientState::reported_change`).
    pub reported_change: bool,
}

/// `lazyfree-*` settings that choose DEL or UNLINK.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lazyfree {
    pub expire: bool,
    pub user_del: bool,
}

type Command = Vec<Bytes>;

fn word(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

fn number(n: impl ToString) -> Bytes {
    Bytes::from(n.to_string())
}

fn delete(lazy: bool, key: &Bytes) -> Command {
    vec![word(if lazy { "UNLINK" } else { "DEL" }), key.clone()]
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// The key's expiry (absolute ms) and whether it exists, as the command left it.
fn expiry(ks: &KeyspaceRead<'_>, db: usize, key: &[u8]) -> (bool, Option<u64>) {
    let hashed = ks.key(key);
    let mut shard = ks.lock(db, &hashed);
    match shard.peek(&hashed) {
        Some(entry) => (true, entry.expire_at_ms()),
        None => (false, None),
    }
}

/// The commands to propagate for `ran` (none, one, or several).
pub fn effects(ks: &KeyspaceRead<'_>, lazy: Lazyfree, ran: &Ran<'_>) -> Vec<Command> {
    let Some(reply) = Reply::parse(ran.reply) else {
        // A blocking command that blocked wrote nothing yet.
        return Vec::new();
    };
    let args = ran.args;
    let key = || args[1].clone();
    let one = |command: Command| vec![command];
    match ran.name {
        "set" => set(ks, ran, &reply),
        "setex" | "psetex" => match expiry(ks, ran.db, &args[1]) {
            (true, Some(at)) => one(vec![
                word("SET"),
                key(),
                args[3].clone(),
                word("PXAT"),
                number(at),
            ]),
            _ => Vec::new(),
        },
        "getset" => one(vec![word("SET"), key(), args[2].clone()]),
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            if reply != Reply::Integer(1) {
                return Vec::new();
            }
            match expiry(ks, ran.db, &args[1]) {
                (true, Some(at)) => one(vec![word("PEXPIREAT"), key(), number(at)]),
                _ => one(delete(lazy.expire, &args[1])),
            }
        }
        "getex" => getex(ks, lazy, ran, &reply),
        "getdel" if !reply.is_null() => one(delete(lazy.user_del, &args[1])),
        // MIGRATE records the DEL of the keys it moved itself (the reply
        // does not say which).
        "migrate" => Vec::new(),
        "incrbyfloat" => match reply.text() {
            Some(value) => one(vec![
                word("SET"),
                key(),
                Bytes::copy_from_slice(value),
                word("KEEPTTL"),
            ]),
            None => Vec::new(),
        },
        "hincrbyfloat" => match reply.text() {
            Some(value) => one(vec![
                word("HSET"),
                key(),
                args[2].clone(),
                Bytes::copy_from_slice(value),
            ]),
            None => Vec::new(),
        },
        "spop" => spop(ks, ran, &reply),
        "blpop" | "brpop" => popped_key(&reply).map_or_else(Vec::new, |k| {
            one(vec![
                word(if ran.name == "blpop" { "LPOP" } else { "RPOP" }),
                k,
            ])
        }),
        "bzpopmin" | "bzpopmax" => popped_key(&reply).map_or_else(Vec::new, |k| {
            one(vec![
                word(if ran.name == "bzpopmin" {
                    "ZPOPMIN"
                } else {
                    "ZPOPMAX"
                }),
                k,
            ])
        }),
        "blmove" if !reply.is_null() => one(vec![
            word("LMOVE"),
            key(),
            args[2].clone(),
            args[3].clone(),
            args[4].clone(),
        ]),
        "brpoplpush" if !reply.is_null() => one(vec![word("RPOPLPUSH"), key(), args[2].clone()]),
        "lmpop" | "blmpop" | "zmpop" | "bzmpop" => multi_pop(ran, &reply),
        "restore" => restore(ks, lazy, ran),
        "sort" if !args.iter().any(|a| is(a, "store")) => Vec::new(),
        // Redis runs GEOADD as the ZADD of the encoded positions.
        "geoadd" => crate::commands::GeoAdd::parse(args)
            .map(|geoadd| one(geoadd.as_zadd(args)))
            .unwrap_or_default(),
        "xadd" if !reply.is_null() => one(xadd(ks, ran, &reply)),
        "xtrim" if !matches!(reply, Reply::Integer(0)) => one(xtrim(ks, ran)),
        "xreadgroup" => super::group_effects::xreadgroup(ks, ran, &reply),
        "xclaim" => super::group_effects::xclaim(ks, ran, &reply),
        "xautoclaim" => super::group_effects::xautoclaim(ks, ran, &reply),
        // Without STORE (the reply is then an array) they wrote nothing.
        "georadius" | "georadiusbymember" if !matches!(reply, Reply::Integer(_)) => Vec::new(),
        // Propagated as they ran when they rewrote the HLL, as Redis does.
        "pfcount" | "pfdebug" if !ran.reported_change => Vec::new(),
        // Propagated as they ran only when they changed their key.
        "setbit" | "bitfield" | "bitop" if !ran.reported_change => Vec::new(),
        _ if reply_says_nothing_changed(ran.name, args, &reply) => Vec::new(),
        _ => one(args.to_vec()),
    }
}

/// XADD: with the ID it generated in place of `*` or `<ms>-*`, and a `~`
/// trim as `=` with the resulting length or first ID (Redis's
/// `streamRewriteApproxSpecifier` and `streamRewriteTrimArgument`).
fn xadd(ks: &KeyspaceRead<'_>, ran: &Ran<'_>, reply: &Reply<'_>) -> Command {
    let mut command = ran.args.to_vec();
    let Ok(parsed) = crate::commands::AddArgs::parse(ran.args, false) else {
        return command;
    };
    if !matches!(parsed.id, AddId::Exact(_)) {
        if let (Some(id), Some(arg)) = (reply.text(), command.get_mut(parsed.id_at)) {
            *arg = Bytes::copy_from_slice(id);
        }
    }
    exact_trim(ks, ran, parsed.trim, &mut command);
    command
}

/// XTRIM: a `~` trim as `=` with the resulting length or first ID.
fn xtrim(ks: &KeyspaceRead<'_>, ran: &Ran<'_>) -> Command {
    let mut command = ran.args.to_vec();
    if let Ok(trim) = crate::commands::parse_xtrim(ran.args, false) {
        exact_trim(ks, ran, trim, &mut command);
    }
    command
}

/// Rewrites an approximate trim in `command` to the exact one it did.
fn exact_trim(ks: &KeyspaceRead<'_>, ran: &Ran<'_>, trim: TrimArgs, command: &mut Command) {
    let (true, Some(how)) = (trim.approx, trim.trim) else {
        return;
    };
    let hashed = ks.key(&ran.args[1]);
    let mut shard = ks.lock(ran.db, &hashed);
    let Some(stream) = shard.peek(&hashed).and_then(|e| e.value.as_stream()) else {
        return;
    };
    let threshold = crate::commands::exact_threshold(how, stream);
    drop(shard);
    command[trim.threshold_at - 1] = word("=");
    command[trim.threshold_at] = threshold;
}

/// SET: propagated without GET, and with any expiry as `PXAT <ms>`; not at
/// all when NX/XX refused it.
fn set(ks: &KeyspaceRead<'_>, ran: &Ran<'_>, reply: &Reply<'_>) -> Vec<Command> {
    let args = ran.args;
    let options = &args[3..];
    let has = |name| options.iter().any(|a| is(a, name));
    let get = has("get");
    let applied = match (has("nx"), has("xx"), get) {
        (true, _, true) => reply.is_null(),
        (_, true, true) => !reply.is_null(),
        (true, _, false) | (_, true, false) => !reply.is_null(),
        _ => true,
    };
    if !applied {
        return Vec::new();
    }
    if ["ex", "px", "exat", "pxat"].iter().any(|o| has(o)) {
        return match expiry(ks, ran.db, &args[1]) {
            (true, Some(at)) => vec![vec![
                word("SET"),
                args[1].clone(),
                args[2].clone(),
                word("PXAT"),
                number(at),
            ]],
            _ => Vec::new(),
        };
    }
    let kept: Command = args
        .iter()
        .enumerate()
        .filter(|(i, a)| *i < 3 || !is(a, "get"))
        .map(|(_, a)| a.clone())
        .collect();
    vec![kept]
}

/// GETEX: PEXPIREAT for a new expiry, DEL when it was already in the past,
/// PERSIST, or nothing without options.
fn getex(ks: &KeyspaceRead<'_>, lazy: Lazyfree, ran: &Ran<'_>, reply: &Reply<'_>) -> Vec<Command> {
    let args = ran.args;
    if args.len() < 3 || reply.is_null() {
        return Vec::new();
    }
    let (exists, at) = expiry(ks, ran.db, &args[1]);
    if is(&args[2], "persist") {
        return if exists {
            vec![vec![word("PERSIST"), args[1].clone()]]
        } else {
            Vec::new()
        };
    }
    match (exists, at) {
        (true, Some(at)) => vec![vec![word("PEXPIREAT"), args[1].clone(), number(at)]],
        (false, _) => vec![delete(lazy.expire, &args[1])],
        (true, None) => Vec::new(),
    }
}

/// SPOP: SREM of the popped member; with a count, one SREM per member, or
/// DEL when the whole set was popped.
fn spop(ks: &KeyspaceRead<'_>, ran: &Ran<'_>, reply: &Reply<'_>) -> Vec<Command> {
    let key = &ran.args[1];
    let srem = |member: &[u8]| vec![word("SREM"), key.clone(), Bytes::copy_from_slice(member)];
    if ran.args.len() == 2 {
        return reply.text().map(srem).into_iter().collect();
    }
    let members: Vec<&[u8]> = reply.elements().iter().filter_map(Reply::text).collect();
    if members.is_empty() {
        return Vec::new();
    }
    if !expiry(ks, ran.db, key).0 {
        return vec![vec![word("DEL"), key.clone()]];
    }
    members.into_iter().map(srem).collect()
}

/// The key a blocking pop served (first element of its reply).
fn popped_key(reply: &Reply<'_>) -> Option<Bytes> {
    reply
        .elements()
        .first()
        .and_then(Reply::text)
        .map(Bytes::copy_from_slice)
}

/// LMPOP/BLMPOP/ZMPOP/BZMPOP: `[LR]POP key n` or `ZPOP(MIN|MAX) key n`, n
/// being how many elements were popped.
fn multi_pop(ran: &Ran<'_>, reply: &Reply<'_>) -> Vec<Command> {
    let (Some(key), Some(popped)) = (popped_key(reply), reply.elements().get(1)) else {
        return Vec::new();
    };
    let count = popped.elements().len();
    let list = ran.name.ends_with("lmpop");
    let from_start = ran.args.iter().any(|a| is(a, "left") || is(a, "min"));
    let name = match (list, from_start) {
        (true, true) => "LPOP",
        (true, false) => "RPOP",
        (false, true) => "ZPOPMIN",
        (false, false) => "ZPOPMAX",
    };
    vec![vec![word(name), key, number(count)]]
}

/// RESTORE with a relative TTL: the absolute time, with ABSTTL appended.
fn restore(ks: &KeyspaceRead<'_>, lazy: Lazyfree, ran: &Ran<'_>) -> Vec<Command> {
    let args = ran.args;
    let relative_ttl = &args[2][..] != b"0" && !args[4..].iter().any(|a| is(a, "absttl"));
    if !relative_ttl {
        return vec![args.to_vec()];
    }
    match expiry(ks, ran.db, &args[1]) {
        (true, Some(at)) => {
            let mut command = args.to_vec();
            command[2] = number(at);
            command.push(word("ABSTTL"));
            vec![command]
        }
        _ => vec![delete(lazy.expire, &args[1])],
    }
}

/// Whether `ran`, a write that did not fail, changed nothing: it has no
/// effects to propagate. WATCH and client tracking leave such writes out,
/// as Redis's `signalModifiedKey` is only called for a modified key.
pub fn changed_nothing(ks: &KeyspaceRead<'_>, ran: &Ran<'_>) -> bool {
    effects(ks, Lazyfree::default(), ran).is_empty()
}

/// Whether the reply of a write says it changed nothing.
fn reply_says_nothing_changed(name: &str, args: &[Bytes], reply: &Reply<'_>) -> bool {
    const ZERO_MEANS_NOTHING: &[&str] = &[
        "del",
        "unlink",
        "persist",
        "setnx",
        "hsetnx",
        "srem",
        "hdel",
        "zrem",
        "zremrangebyscore",
        "zremrangebyrank",
        "zremrangebylex",
        "lrem",
        "smove",
        "renamenx",
        "msetnx",
        "lpushx",
        "rpushx",
        "sadd",
        "move",
        "copy",
        "pfadd",
        "linsert",
        "xdel",
        "xtrim",
        "xack",
        "xgroup|destroy",
        "xgroup|createconsumer",
    ];
    const NULL_MEANS_NOTHING: &[&str] = &[
        "lpop",
        "rpop",
        "zpopmin",
        "zpopmax",
        "lmove",
        "rpoplpush",
        "zadd",
        "xadd",
    ];
    match reply {
        Reply::Integer(0) => ZERO_MEANS_NOTHING.contains(&name),
        Reply::Integer(-1) => name == "linsert",
        Reply::Null => NULL_MEANS_NOTHING.contains(&name),
        Reply::Array(items) if items.is_empty() => {
            ["lpop", "rpop", "zpopmin", "zpopmax"].contains(&name) && args.len() > 2
        }
        _ => false,
    }
}
