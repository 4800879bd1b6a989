//! XINFO (Redis 7.0's `xinfoCommand`): STREAM, with FULL, and HELP here;
//! GROUPS and CONSUMERS in `stream_groups.rs`, under the same container.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::stream::{ConsumerGroup, StreamId, StreamMeta, StreamValue};

use super::streams::{stream_to_read, write_entries, write_entry};
use crate::command::{is, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeySpec};

const G: &str = "stream";

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("xinfo", SUBCOMMANDS)
    .doc(G, "A container for stream introspection commands")];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("consumers", 4, super::stream_groups::xinfo_consumers)
        .key_specs(&[KeySpec::range(2, 0, 1, RO | ACCESS)])
        .flags(&["readonly"])
        .acl(&["@read", "@stream", "@slow"])
        .doc(G, "List the consumers in a consumer group"),
    CommandSpec::new("groups", 3, super::stream_groups::xinfo_groups)
        .key_specs(&[KeySpec::range(2, 0, 1, RO | ACCESS)])
        .flags(&["readonly"])
        .acl(&["@read", "@stream", "@slow"])
        .doc(G, "List the consumer groups of a stream"),
    CommandSpec::new("stream", -3, xinfo_stream)
        .key_specs(&[KeySpec::range(2, 0, 1, RO | ACCESS)])
        .flags(&["readonly"])
        .acl(&["@read", "@stream", "@slow"])
        .doc(G, "Get information about a stream"),
    CommandSpec::new("help", 2, xinfo_help)
        .flags(&["loading", "stale"])
        .acl(&["@stream", "@slow"])
        .doc(G, "Show helpful text about the different subcommands"),
];

fn xinfo_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::introspection::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}

/// `XINFO STREAM <key> [FULL [COUNT <count>]]`: `None` for the summary,
/// else the entries FULL shows at most (0: all).
fn parse_options(args: &[Bytes]) -> Result<Option<usize>, CmdError> {
    match &args[3..] {
        [] => Ok(None),
        [full] if is(full, "full") => Ok(Some(10)),
        [full, count, n] if is(full, "full") && is(count, "count") => {
            let n = parse_i64(n)?;
            Ok(Some(if n < 0 { 10 } else { n as usize }))
        }
        _ => Err(CmdError::subcommand_syntax(args)),
    }
}

fn xinfo_stream(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let full = parse_options(args)?;
    let ks = ctx.keyspace();
    let key = ks.key(&args[2]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let stream = stream_to_read(ctx, &mut shard, &key)?.ok_or(CmdError::NoSuchKey)?;
    let out = &mut ctx.out;
    out.map(if full.is_some() { 9 } else { 10 });
    write_summary(out, stream);
    match full {
        None => {
            out.bulk(b"groups");
            out.integer(stream.groups().len() as i64);
            for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
                out.bulk(name);
                match stream.range(StreamId::MIN, StreamId::MAX, rev).next() {
                    Some(entry) => write_entry(out, &entry),
                    None => out.null(),
                }
            }
        }
        Some(count) => {
            out.bulk(b"entries");
            let entries = stream.range(StreamId::MIN, StreamId::MAX, false);
            let limit = if count == 0 { usize::MAX } else { count };
            write_entries(out, entries.take(limit));
            out.bulk(b"groups");
            let meta = StreamMeta::of(stream);
            out.array(stream.groups().len());
            for (name, group) in stream.groups().iter() {
                write_full_group(out, &meta, name, group, limit);
            }
        }
    }
    Ok(())
}

/// One group as XINFO STREAM FULL shows it: at most `limit` pending
/// entries, for the group and for each consumer.
fn write_full_group(
    out: &mut ReplyWriter,
    meta: &StreamMeta,
    name: &[u8],
    group: &ConsumerGroup,
    limit: usize,
) {
    out.map(7);
    out.bulk(b"name");
    out.bulk(name);
    out.bulk(b"last-delivered-id");
    out.bulk(group.last_id.to_string().as_bytes());
    out.bulk(b"entries-read");
    match group.entries_read {
        Some(read) => out.integer(read as i64),
        None => out.null(),
    }
    out.bulk(b"lag");
    match group.lag(meta) {
        Some(lag) => out.integer(lag),
        None => out.null(),
    }
    out.bulk(b"pel-count");
    out.integer(group.pending().len() as i64);
    out.bulk(b"pending");
    let pending: Vec<_> = group.pending().iter().take(limit).collect();
    out.array(pending.len());
    for (id, nack) in pending {
        out.array(4);
        out.bulk(id.to_string().as_bytes());
        out.bulk(&nack.consumer);
        out.integer(nack.delivery_time as i64);
        out.integer(nack.delivery_count as i64);
    }
    out.bulk(b"consumers");
    out.array(group.consumers().len());
    for (consumer_name, consumer) in group.consumers() {
        out.map(4);
        out.bulk(b"name");
        out.bulk(consumer_name);
        out.bulk(b"seen-time");
        out.integer(consumer.seen_time as i64);
        out.bulk(b"pel-count");
        out.integer(consumer.pending().len() as i64);
        out.bulk(b"pending");
        let ids: Vec<_> = consumer.pending().iter().take(limit).collect();
        out.array(ids.len());
        for id in ids {
            out.array(3);
            out.bulk(id.to_string().as_bytes());
            let nack = group.pending().get(id);
            out.integer(nack.map_or(0, |n| n.delivery_time as i64));
            out.integer(nack.map_or(0, |n| n.delivery_count as i64));
        }
    }
}

/// The fields both forms start with.
fn write_summary(out: &mut ferrite_resp::ReplyWriter, stream: &StreamValue) {
    out.bulk(b"length");
    out.integer(stream.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.integer(stream.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.integer(stream.radix_tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    out.bulk(stream.last_id().to_string().as_bytes());
    out.bulk(b"max-deleted-entry-id");
    out.bulk(stream.max_deleted_id().to_string().as_bytes());
    out.bulk(b"entries-added");
    out.integer(stream.entries_added() as i64);
    out.bulk(b"recorded-first-entry-id");
    out.bulk(stream.first_id().to_string().as_bytes());
}
