//! How XREADGROUP, XCLAIM and XAUTOCLAIM are propagated, as Redis 7.0's
//! `streamPropagateXCLAIM`, `streamPropagateGroupID` and
//! `streamPropagateConsumerCreation` feed them: never as they ran, but one
//! `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID
//! id` per entry made pending (or claimed), `XGROUP SETID key group id
//! ENTRIESREAD n` for a NOACK read's new last ID and `XGROUP CREATECONSUMER`
//! for the consumer a NOACK read created. Derived, like every rewrite, from
//! the request, the reply and the state the command left (the pending
//! entries' owner, time and count; the group's last ID and read counter).
//!
//! What the state no longer says is approximated: a claim of an entry
//! deleted from the stream is fed (so the replica drops its pending entry)
//! naming the claiming consumer with time and count 0, where Redis names
//! the entry's old owner, time and count; XCLAIM feeds it for every such ID
//! (Redis only for IDs that were pending). A NOACK read's consumer creation
//! is known only for the command itself (`ClientState::reported_change`),
//! not for a blocked client it serves later.

use bytes::Bytes;
use ferrite_storage::stream::{ConsumerGroup, StreamId, StreamValue};
use ferrite_storage::KeyspaceRead;

use super::reply::Reply;
use super::rewrite::Ran;

type Command = Vec<Bytes>;

fn word(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

fn text(value: impl ToString) -> Bytes {
    Bytes::from(value.to_string())
}

/// The pending-entry fields of one propagated XCLAIM.
struct Pending<'a> {
    consumer: &'a [u8],
    time: u64,
    count: u64,
}

fn xclaim_command(
    key: &Bytes,
    group: &Bytes,
    id: StreamId,
    pending: Pending<'_>,
    last: StreamId,
) -> Command {
    vec![
        word("XCLAIM"),
        key.clone(),
        group.clone(),
        Bytes::copy_from_slice(pending.consumer),
        word("0"),
        text(id),
        word("TIME"),
        text(pending.time),
        word("RETRYCOUNT"),
        text(pending.count),
        word("FORCE"),
        word("JUSTID"),
        word("LASTID"),
        text(last),
    ]
}

/// The XCLAIM of a pending entry as the command left it.
fn claimed(
    key: &Bytes,
    group_name: &Bytes,
    group: &ConsumerGroup,
    id: StreamId,
    last: StreamId,
) -> Option<Command> {
    let nack = group.pending().get(&id)?;
    let pending = Pending {
        consumer: &nack.consumer,
        time: nack.delivery_time,
        count: nack.delivery_count,
    };
    Some(xclaim_command(key, group_name, id, pending, last))
}

/// The XCLAIM that drops the pending entry of a deleted entry.
fn dropped(key: &Bytes, group: &Bytes, consumer: &[u8], id: StreamId, last: StreamId) -> Command {
    let pending = Pending {
        consumer,
        time: 0,
        count: 0,
    };
    xclaim_command(key, group, id, pending, last)
}

fn setid(key: &Bytes, group_name: &Bytes, group: &ConsumerGroup) -> Command {
    let entries_read = group.entries_read.map_or(-1, |n| n as i64);
    vec![
        word("XGROUP"),
        word("SETID"),
        key.clone(),
        group_name.clone(),
        text(group.last_id),
        word("ENTRIESREAD"),
        text(entries_read),
    ]
}

fn parse_id(text: &[u8]) -> Option<StreamId> {
    StreamId::parse(text, 0, true).ok()
}

/// The ID an entry of a reply names: a bare ID (JUSTID) or `[id, fields]`.
fn entry_id(entry: &Reply<'_>) -> Option<StreamId> {
    match entry {
        Reply::Text(id) => parse_id(id),
        _ => entry
            .elements()
            .first()
            .and_then(Reply::text)
            .and_then(parse_id),
    }
}

/// Runs `f` on the stream at `key` as the command left it.
fn with_stream<R>(
    ks: &KeyspaceRead<'_>,
    db: usize,
    key: &[u8],
    f: impl FnOnce(&StreamValue) -> R,
) -> Option<R> {
    let hashed = ks.key(key);
    let mut shard = ks.lock(db, &hashed);
    shard.peek(&hashed).and_then(|e| e.value.as_stream()).map(f)
}

/// XREADGROUP's effects, per stream whose new entries (`>`) it served.
pub fn xreadgroup(ks: &KeyspaceRead<'_>, ran: &Ran<'_>, reply: &Reply<'_>) -> Vec<Command> {
    let Ok(parsed) = crate::commands::parse_xread(ran.args, true) else {
        return Vec::new();
    };
    let Some((group_name, consumer)) = parsed.group else {
        return Vec::new();
    };
    let rest = &ran.args[parsed.streams_at..];
    let (keys, ids) = rest.split_at(rest.len() / 2);
    // RESP2: [[key, entries]...]; RESP3: a map, read back flattened.
    let items = reply.elements();
    let pairs: Vec<(&[u8], &[Reply<'_>])> = if items.first().is_some_and(|i| i.text().is_some()) {
        items
            .chunks(2)
            .filter_map(|pair| Some((pair.first()?.text()?, pair.get(1)?.elements())))
            .collect()
    } else {
        items
            .iter()
            .filter_map(|pair| {
                Some((
                    pair.elements().first()?.text()?,
                    pair.elements().get(1)?.elements(),
                ))
            })
            .collect()
    };
    let mut effects = Vec::new();
    for (key, entries) in pairs {
        let Some(position) = keys.iter().position(|k| &k[..] == key) else {
            continue;
        };
        let key = &keys[position];
        let new_entries = &ids[position][..] == b">";
        let commands = with_stream(ks, ran.db, key, |stream| {
            let mut commands = Vec::new();
            let Some(group) = stream.groups().get(&group_name) else {
                return commands;
            };
            if parsed.noack && ran.reported_change {
                commands.push(vec![
                    word("XGROUP"),
                    word("CREATECONSUMER"),
                    key.clone(),
                    group_name.clone(),
                    consumer.clone(),
                ]);
            }
            if !new_entries || entries.is_empty() {
                return commands;
            }
            if parsed.noack {
                commands.push(setid(key, &group_name, group));
                return commands;
            }
            for id in entries.iter().filter_map(entry_id) {
                // Each delivery moved the group's last ID to the entry.
                commands.extend(claimed(key, &group_name, group, id, id));
            }
            commands
        });
        effects.extend(commands.unwrap_or_default());
    }
    effects
}

/// XCLAIM's effects: each claimed entry, in the order of the IDs given,
/// and the drop of every given ID the stream no longer has; the group's new
/// last ID alone when nothing else is fed and LASTID set it.
pub fn xclaim(ks: &KeyspaceRead<'_>, ran: &Ran<'_>, reply: &Reply<'_>) -> Vec<Command> {
    let args = ran.args;
    let (key, group_name, consumer) = (&args[1], &args[2], &args[3]);
    let ids: Vec<StreamId> = args[5..].iter().map_while(|a| parse_id(a)).collect();
    let options = &args[5 + ids.len()..];
    let last_id_arg = options
        .iter()
        .position(|o| o.eq_ignore_ascii_case(b"lastid"))
        .and_then(|at| options.get(at + 1))
        .and_then(|id| parse_id(id));
    let mut claimed_ids = reply.elements().iter().filter_map(entry_id).peekable();
    with_stream(ks, ran.db, key, |stream| {
        let Some(group) = stream.groups().get(group_name) else {
            return Vec::new();
        };
        let mut commands = Vec::new();
        for &id in &ids {
            if claimed_ids.next_if_eq(&id).is_some() {
                commands.extend(claimed(key, group_name, group, id, group.last_id));
            } else if stream.range(id, id, false).next().is_none() {
                commands.push(dropped(key, group_name, consumer, id, group.last_id));
            }
        }
        if commands.is_empty() && last_id_arg == Some(group.last_id) {
            commands.push(setid(key, group_name, group));
        }
        commands
    })
    .unwrap_or_default()
}

/// XAUTOCLAIM's effects: the claimed and the dropped (deleted) entries, in
/// the PEL order the command went through them.
pub fn xautoclaim(ks: &KeyspaceRead<'_>, ran: &Ran<'_>, reply: &Reply<'_>) -> Vec<Command> {
    let args = ran.args;
    let (key, group_name, consumer) = (&args[1], &args[2], &args[3]);
    let parts = reply.elements();
    let (Some(claimed_part), Some(deleted_part)) = (parts.get(1), parts.get(2)) else {
        return Vec::new();
    };
    let mut ids: Vec<(StreamId, bool)> = claimed_part
        .elements()
        .iter()
        .filter_map(entry_id)
        .map(|id| (id, true))
        .chain(
            deleted_part
                .elements()
                .iter()
                .filter_map(entry_id)
                .map(|id| (id, false)),
        )
        .collect();
    ids.sort_unstable();
    with_stream(ks, ran.db, key, |stream| {
        let Some(group) = stream.groups().get(group_name) else {
            return Vec::new();
        };
        ids.iter()
            .filter_map(|&(id, was_claimed)| match was_claimed {
                true => claimed(key, group_name, group, id, group.last_id),
                false => Some(dropped(key, group_name, consumer, id, group.last_id)),
            })
            .collect()
    })
    .unwrap_or_default()
}
