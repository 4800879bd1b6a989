//! XINFO (Redis 7.0's `xinfoCommand`): STREAM, with FULL, and HELP. The
//! consumer-group subcommands (GROUPS, CONSUMERS) come with consumer groups
//! (STREAMS-STATUS.md); until then a stream has no groups, so STREAM says
//! `groups` 0 and FULL an empty `groups` array.

use bytes::Bytes;
use ferrite_storage::stream::{StreamId, StreamValue};

use super::streams::{stream_to_read, write_entries, write_entry};
use crate::command::{is, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeySpec};

const G: &str = "stream";

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("xinfo", SUBCOMMANDS)
    .doc(G, "A container for stream introspection commands")];

const SUBCOMMANDS: &[CommandSpec] = &[
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
            out.integer(0);
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
            // Consumer groups are not held yet: none to show.
            out.bulk(b"groups");
            out.array(0);
        }
    }
    Ok(())
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
