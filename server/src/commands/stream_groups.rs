//! Stream consumer-group administration and inspection: XGROUP (CREATE,
//! SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP), XACK, XPENDING and
//! XINFO GROUPS / CONSUMERS, with the arguments, checks (in Redis's order),
//! replies and errors of Redis 7.0's `t_stream.c`. Reading through a group
//! is `stream_readgroup.rs`, claiming `stream_claim.rs`; the state is
//! `ferrite_storage::stream::ConsumerGroups`.

use bytes::Bytes;
use ferrite_storage::stream::{ConsumerGroup, StreamId, StreamMeta, StreamValue};
use ferrite_storage::{now_ms, Entry, Value};

use super::introspection::help_reply;
use super::streams::{interval_id, parse_id, stream_at, stream_to_read};
use crate::command::{is, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeySpec};
use crate::notify::class;

const G: &str = "stream";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("xgroup", XGROUP_SUBCOMMANDS).doc(G, "A container for consumer groups commands"),
    CommandSpec::new("xack", -4, xack).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(&["write", "fast"]).acl(&["@write", "@stream", "@fast"]).doc(G, "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL."),
    CommandSpec::new("xpending", -3, xpending).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@read", "@stream", "@slow"]).doc(G, "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged."),
];

const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("create", -5, xgroup)
        .key_specs(&[KeySpec::range(2, 0, 1, RW | INSERT)])
        .flags(&["write", "denyoom"])
        .acl(&["@write", "@stream", "@slow"])
        .doc(G, "Create a consumer group."),
    CommandSpec::new("setid", -5, xgroup)
        .key_specs(&[KeySpec::range(2, 0, 1, RW | UPDATE)])
        .flags(&["write"])
        .acl(&["@write", "@stream", "@slow"])
        .doc(
            G,
            "Set a consumer group to an arbitrary last delivered ID value.",
        ),
    CommandSpec::new("destroy", 4, xgroup)
        .key_specs(&[KeySpec::range(2, 0, 1, RW | DELETE)])
        .flags(&["write"])
        .acl(&["@write", "@stream", "@slow"])
        .doc(G, "Destroy a consumer group."),
    CommandSpec::new("createconsumer", 5, xgroup)
        .key_specs(&[KeySpec::range(2, 0, 1, RW | INSERT)])
        .flags(&["write", "denyoom"])
        .acl(&["@write", "@stream", "@slow"])
        .doc(G, "Create a consumer in a consumer group."),
    CommandSpec::new("delconsumer", 5, xgroup)
        .key_specs(&[KeySpec::range(2, 0, 1, RW | DELETE)])
        .flags(&["write"])
        .acl(&["@write", "@stream", "@slow"])
        .doc(G, "Delete a consumer from a consumer group."),
    CommandSpec::new("help", 2, xgroup)
        .flags(&["loading", "stale"])
        .acl(&["@stream", "@slow"])
        .doc(G, "Show helpful text about the different subcommands"),
];

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// XGROUP's and XINFO CONSUMERS' NOGROUP.
fn no_such_group(group: &[u8], key: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        text(group),
        text(key)
    ))
}

/// XPENDING's, XCLAIM's and XAUTOCLAIM's NOGROUP.
pub(super) fn no_such_key_or_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        text(key),
        text(group)
    ))
}

/// ENTRIESREAD's value: -1 (unknown) or a count.
fn parse_entries_read(arg: &[u8]) -> Result<Option<u64>, CmdError> {
    match parse_i64(arg)? {
        -1 => Ok(None),
        n if n < 0 => Err(CmdError::msg(
            "ERR value for ENTRIESREAD must be positive or -1",
        )),
        n => Ok(Some(n as u64)),
    }
}

/// XGROUP <subcommand> ...: one handler for every subcommand, as Redis's
/// `xgroupCommand` (the options, key and group are checked the same way).
fn xgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1][..];
    if args.len() == 2 && is(sub, "help") {
        help_reply(ctx, "XGROUP", XGROUP_HELP);
        return Ok(());
    }
    if args.len() < 4 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let create = is(sub, "create");
    let setid = is(sub, "setid");
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 5;
    while i < args.len() {
        if create && is(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(&args[i], "entriesread") && i + 1 < args.len() {
            entries_read = parse_entries_read(&args[i + 1])?;
            i += 2;
        } else {
            return Err(CmdError::subcommand_syntax(args));
        }
    }
    let (key_name, group_name) = (&args[2][..], &args[3][..]);
    let ks = ctx.keyspace();
    let key = ks.key(key_name);
    let mut shard = ks.lock(ctx.client.db, &key);
    let exists = stream_at(ctx, &mut shard, &key)?.is_some();
    if !mkstream {
        let Some(stream) = stream_at(ctx, &mut shard, &key)? else {
            return Err(CmdError::msg("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
        };
        let needs_group = setid || is(sub, "createconsumer") || is(sub, "delconsumer");
        if needs_group && stream.groups().get(group_name).is_none() {
            return Err(no_such_group(group_name, key_name));
        }
    }
    let event = if create && (5..=8).contains(&args.len()) {
        let last = stream_at(ctx, &mut shard, &key)?.map(|s| s.last_id());
        let id = match &args[4][..] {
            b"$" => last.unwrap_or_default(),
            arg => parse_id(arg, 0, true)?,
        };
        if !exists {
            shard.insert(&key, Entry::new(Value::Stream(Box::default())));
        }
        let stream = stream_at(ctx, &mut shard, &key)?.ok_or(CmdError::WrongType)?;
        if !stream.groups_mut().create(group_name, id, entries_read) {
            return Err(CmdError::msg(
                "BUSYGROUP Consumer Group name already exists",
            ));
        }
        ctx.out.ok();
        Some("xgroup-create")
    } else {
        // Every other subcommand found its key (and group) above.
        let stream =
            stream_at(ctx, &mut shard, &key)?.ok_or_else(|| CmdError::subcommand_syntax(args))?;
        group_subcommand(ctx, args, stream, entries_read)?
    };
    if let Some(event) = event {
        ctx.notify(class::STREAM, event, key.bytes);
    }
    Ok(())
}

/// XGROUP SETID, DESTROY, CREATECONSUMER and DELCONSUMER on an existing
/// stream: writes the reply, returns the event to report (if any).
fn group_subcommand(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    stream: &mut StreamValue,
    entries_read: Option<u64>,
) -> Result<Option<&'static str>, CmdError> {
    let sub = &args[1][..];
    let group_name = &args[3][..];
    let last_id = stream.last_id();
    let groups = stream.groups_mut();
    if is(sub, "setid") && (args.len() == 5 || args.len() == 7) {
        let id = match &args[4][..] {
            b"$" => last_id,
            arg => parse_id(arg, 0, false)?,
        };
        let group = groups.get_mut(group_name).ok_or(CmdError::Syntax)?;
        group.last_id = id;
        group.entries_read = entries_read;
        ctx.out.ok();
        Ok(Some("xgroup-setid"))
    } else if is(sub, "destroy") && args.len() == 4 {
        let destroyed = groups.destroy(group_name);
        ctx.out.integer(destroyed as i64);
        Ok(destroyed.then_some("xgroup-destroy"))
    } else if is(sub, "createconsumer") && args.len() == 5 {
        let group = groups.get_mut(group_name).ok_or(CmdError::Syntax)?;
        let created = group.create_consumer(&args[4], now_ms());
        ctx.out.integer(created as i64);
        Ok(created.then_some("xgroup-createconsumer"))
    } else if is(sub, "delconsumer") && args.len() == 5 {
        let group = groups.get_mut(group_name).ok_or(CmdError::Syntax)?;
        let pending = group.delete_consumer(&args[4]);
        ctx.out.integer(pending.unwrap_or(0) as i64);
        Ok(pending.map(|_| "xgroup-delconsumer"))
    } else {
        Err(CmdError::subcommand_syntax(args))
    }
}

/// XACK key group id...: the number of IDs that were pending.
fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let group = match stream_to_read(ctx, &mut shard, &key)? {
        Some(stream) => stream.groups_mut().get_mut(&args[2]),
        None => None,
    };
    let Some(group) = group else {
        ctx.out.integer(0);
        return Ok(());
    };
    // All IDs are checked first: the reply cannot be an error once some
    // were acknowledged.
    let ids = args[3..]
        .iter()
        .map(|arg| parse_id(arg, 0, true))
        .collect::<Result<Vec<_>, _>>()?;
    let acked = ids.into_iter().filter(|&id| group.ack(id)).count();
    drop(shard);
    ctx.out.integer(acked as i64);
    Ok(())
}

/// XPENDING's extended form: [IDLE min] start end count [consumer].
struct PendingRange<'a> {
    min_idle: i64,
    start: StreamId,
    end: StreamId,
    count: usize,
    consumer: Option<&'a [u8]>,
}

fn parse_pending_range(args: &[Bytes]) -> Result<PendingRange<'_>, CmdError> {
    let mut at = 3;
    let mut min_idle = 0;
    if is(&args[3], "idle") {
        min_idle = parse_i64(&args[4])?;
        if args.len() < 8 {
            return Err(CmdError::Syntax);
        }
        at += 2;
    }
    let count = parse_i64(&args[at + 2])?.max(0) as usize;
    let (mut start, start_ex) = interval_id(&args[at], 0)?;
    if start_ex {
        start = start
            .next()
            .ok_or_else(|| CmdError::msg("ERR invalid start ID for the interval"))?;
    }
    let (mut end, end_ex) = interval_id(&args[at + 1], u64::MAX)?;
    if end_ex {
        end = end
            .prev()
            .ok_or_else(|| CmdError::msg("ERR invalid end ID for the interval"))?;
    }
    Ok(PendingRange {
        min_idle,
        start,
        end,
        count,
        consumer: args.get(at + 3).map(|c| &c[..]),
    })
}

/// XPENDING key group [[IDLE min] start end count [consumer]].
fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let summary = args.len() == 3;
    if !summary && !(6..=9).contains(&args.len()) {
        return Err(CmdError::Syntax);
    }
    let range = if summary {
        None
    } else {
        Some(parse_pending_range(args)?)
    };
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let group = stream_to_read(ctx, &mut shard, &key)?
        .and_then(|stream| stream.groups().get(&args[2]))
        .ok_or_else(|| no_such_key_or_group(&args[1], &args[2]))?;
    match range {
        None => pending_summary(ctx, group),
        Some(range) => pending_entries(ctx, group, &range),
    }
    Ok(())
}

/// [count, smallest ID, largest ID, [[consumer, its count as a string]...]].
fn pending_summary(ctx: &mut Ctx<'_>, group: &ConsumerGroup) {
    let pel = group.pending();
    ctx.out.array(4);
    ctx.out.integer(pel.len() as i64);
    let (Some((first, _)), Some((last, _))) = (pel.first_key_value(), pel.last_key_value()) else {
        ctx.out.null();
        ctx.out.null();
        ctx.out.null_array();
        return;
    };
    ctx.out.bulk(first.to_string().as_bytes());
    ctx.out.bulk(last.to_string().as_bytes());
    let owners: Vec<_> = group
        .consumers()
        .filter(|(_, c)| !c.pending().is_empty())
        .collect();
    ctx.out.array(owners.len());
    for (name, consumer) in owners {
        ctx.out.array(2);
        ctx.out.bulk(name);
        ctx.out.bulk_integer(consumer.pending().len() as i64);
    }
}

/// [[id, consumer, ms since last delivery, deliveries]...] of the range.
fn pending_entries(ctx: &mut Ctx<'_>, group: &ConsumerGroup, range: &PendingRange<'_>) {
    let ids: Box<dyn Iterator<Item = StreamId>> = match range.consumer {
        Some(name) => match group.consumer(name) {
            Some(consumer) => Box::new(consumer.pending().range(range.start..).copied()),
            None => {
                ctx.out.array(0);
                return;
            }
        },
        None => Box::new(group.pending().range(range.start..).map(|(&id, _)| id)),
    };
    let now = now_ms() as i64;
    let pel = group.pending();
    let rows: Vec<_> = ids
        .take_while(|&id| id <= range.end)
        .filter_map(|id| pel.get(&id).map(|nack| (id, nack)))
        .filter(|(_, nack)| {
            range.min_idle == 0 || now - nack.delivery_time as i64 >= range.min_idle
        })
        .take(range.count)
        .collect();
    ctx.out.array(rows.len());
    for (id, nack) in rows {
        ctx.out.array(4);
        ctx.out.bulk(id.to_string().as_bytes());
        ctx.out.bulk(&nack.consumer);
        ctx.out.integer((now - nack.delivery_time as i64).max(0));
        ctx.out.integer(nack.delivery_count as i64);
    }
}

/// The stream of XINFO's key: `no such key` when missing.
fn xinfo_stream<'g>(
    ctx: &Ctx<'_>,
    shard: &'g mut ferrite_storage::ShardGuard<'_>,
    key: &ferrite_storage::KeyHash,
) -> Result<&'g mut StreamValue, CmdError> {
    stream_to_read(ctx, shard, key)?.ok_or(CmdError::NoSuchKey)
}

/// XINFO GROUPS key: name, consumers, pending, last-delivered-id,
/// entries-read and lag of each group.
pub(super) fn xinfo_groups(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[2]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let stream = xinfo_stream(ctx, &mut shard, &key)?;
    let meta = StreamMeta::of(stream);
    let out = &mut *ctx.out;
    out.array(stream.groups().len());
    for (name, group) in stream.groups().iter() {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.integer(group.consumers().len() as i64);
        out.bulk(b"pending");
        out.integer(group.pending().len() as i64);
        out.bulk(b"last-delivered-id");
        out.bulk(group.last_id.to_string().as_bytes());
        out.bulk(b"entries-read");
        match group.entries_read {
            Some(read) => out.integer(read as i64),
            None => out.null(),
        }
        out.bulk(b"lag");
        match group.lag(&meta) {
            Some(lag) => out.integer(lag),
            None => out.null(),
        }
    }
    Ok(())
}

/// XINFO CONSUMERS key group: name, pending and idle of each consumer.
pub(super) fn xinfo_consumers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[2]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let stream = xinfo_stream(ctx, &mut shard, &key)?;
    let group = stream
        .groups()
        .get(&args[3])
        .ok_or_else(|| no_such_group(&args[3], &args[2]))?;
    let now = now_ms() as i64;
    let out = &mut *ctx.out;
    out.array(group.consumers().len());
    for (name, consumer) in group.consumers() {
        out.map(3);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.integer(consumer.pending().len() as i64);
        out.bulk(b"idle");
        out.integer((now - consumer.seen_time as i64).max(0));
    }
    Ok(())
}
