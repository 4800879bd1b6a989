//! XREADGROUP: reading a stream through a consumer group (Redis 7.0's
//! `xreadCommand` with GROUP, `streamReplyWithRange` with a group and
//! `streamReplyWithRangeFromConsumerPEL`). `>` delivers entries after the
//! group's last ID, recording them as pending for the consumer unless
//! NOACK; an explicit ID replays the consumer's own pending entries after
//! it. With BLOCK and nothing new it waits in the blocking registry, and a
//! blocked client is served (or failed, as `blocked.c` does when its key
//! or group goes away) by the writes to its keys. Propagation is derived
//! from the reply and the group state in `repl/group_effects.rs`.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::stream::{StreamId, StreamMeta, StreamValue};
use ferrite_storage::{now_ms, KeyHash, KeyspaceRead, ShardGuard};

use super::streams::{
    blocked_args, parse_id, parse_xread, refuse_block_in_script, write_entries, write_served,
    xread_streams,
};
use super::typed::value_at;
use crate::blocking::TimeoutReply;
use crate::command::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};
use crate::notify::{class, DbEvents};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xreadgroup", -7, xreadgroup).key_specs(&[KeySpec::new(RO | ACCESS, BeginSearch::Keyword { keyword: "STREAMS", startfrom: 4 }, FindKeys::Range { lastkey: -1, step: 1, limit: 2 })]).flags(&["write", "blocking"]).acl(&["@write", "@stream", "@slow", "@blocking"]).doc("stream", "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block."),
];

/// What a key's ID asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// `>`: entries the group has not delivered yet.
    New,
    /// The consumer's pending entries after this ID.
    HistoryAfter(StreamId),
}

/// Whether the read runs for the command itself or for a blocked client
/// (whose key or group may have gone away since it blocked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Direct,
    Blocked,
}

/// What a read did.
struct Outcome {
    served: bool,
    /// A NOACK read created its consumer (propagated as XGROUP
    /// CREATECONSUMER, Redis's `streamPropagateConsumerCreation`).
    created_noack_consumer: bool,
}

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// What each key asks for, checked in Redis's order: per key its type, its
/// group, then its ID.
fn wants(
    guards: &mut [ShardGuard<'_>],
    keyed: &[(KeyHash<'_>, usize)],
    ids: &[Bytes],
    group: &[u8],
    mode: Mode,
) -> Result<Vec<Want>, CmdError> {
    let unblocked = || CmdError::msg("UNBLOCKED the stream key no longer exists");
    let mut wants = Vec::with_capacity(ids.len());
    for ((key, position), id) in keyed.iter().zip(ids) {
        let found = match value_at::<StreamValue>(&mut guards[*position], key, true) {
            Err(CmdError::WrongType) if mode == Mode::Blocked => return Err(unblocked()),
            found => found?,
        };
        let exists = found.is_some();
        let has_group = found.is_some_and(|s| s.groups().get(group).is_some());
        match (mode, exists, has_group) {
            (Mode::Blocked, false, _) => return Err(unblocked()),
            (Mode::Blocked, true, false) => {
                return Err(CmdError::msg(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                ))
            }
            (Mode::Direct, _, false) => {
                return Err(CmdError::msg(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key.bytes),
                lossy(group)
            )))
            }
            _ => {}
        }
        wants.push(match &id[..] {
            b"$" => return Err(CmdError::msg("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")),
            b">" => Want::New,
            // The largest ID is Redis's marker for `>`.
            text => match parse_id(text, 0, true)? {
                StreamId::MAX => Want::New,
                id => Want::HistoryAfter(id),
            },
        });
    }
    Ok(wants)
}

/// The read itself: writes the reply and returns what it did; a `>` key
/// with nothing new is left out, and nothing is written if no key is
/// served. A blocked client is served from its first ready key only, as
/// Redis serves it from the key that became ready.
fn read_group(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
    mode: Mode,
) -> Result<Outcome, CmdError> {
    let parsed = parse_xread(args, true)?;
    let (group, consumer) = parsed.group.clone().ok_or(CmdError::Syntax)?;
    let (keys, ids) = xread_streams(args, &parsed);
    let count = match parsed.count {
        0 => usize::MAX,
        n => n,
    };
    let hashed: Vec<(usize, KeyHash)> = keys.iter().map(|k| (events.db, ks.key(k))).collect();
    let (mut guards, positions) = ks.lock_many(&hashed);
    let keyed: Vec<(KeyHash, usize)> = hashed.into_iter().map(|(_, k)| k).zip(positions).collect();
    let wants = wants(&mut guards, &keyed, ids, &group, mode)?;
    let now = now_ms();
    let mut served = Vec::new();
    let mut created_noack_consumer = false;
    for (n, ((key, position), want)) in keyed.iter().zip(wants).enumerate() {
        let Some(stream) = value_at::<StreamValue>(&mut guards[*position], key, false)? else {
            continue;
        };
        let Some(start) = start_of(stream, &group, want) else {
            continue;
        };
        let group_state = stream
            .groups_mut()
            .get_mut(&group)
            .ok_or(CmdError::Syntax)?;
        if group_state.touch_or_create_consumer(&consumer, now) {
            events.notify(class::STREAM, "xgroup-createconsumer", key.bytes);
            created_noack_consumer |= parsed.noack;
        }
        let mut reply = ReplyWriter::new(out.protocol());
        match want {
            Want::New => deliver_new(
                stream,
                &group,
                &consumer,
                start,
                count,
                parsed.noack,
                now,
                &mut reply,
            ),
            Want::HistoryAfter(_) => {
                replay_history(stream, &group, &consumer, start, count, now, &mut reply)
            }
        }
        served.push((n, reply.into_vec()));
        if mode == Mode::Blocked {
            break;
        }
    }
    drop(guards);
    Ok(Outcome {
        served: write_served(out, keys, served),
        created_noack_consumer,
    })
}

/// Where a key's read starts, `None` if it serves nothing now: history
/// always serves (maybe nothing), `>` only when the stream has an entry
/// past the group's last ID.
fn start_of(stream: &StreamValue, group: &[u8], want: Want) -> Option<StreamId> {
    match want {
        // Past the largest ID Redis wraps to 0-0.
        Want::HistoryAfter(id) => Some(id.next().unwrap_or_default()),
        Want::New => {
            let last_delivered = stream.groups().get(group)?.last_id;
            let top = stream.range(StreamId::MIN, StreamId::MAX, true).next()?.id;
            (top > last_delivered)
                .then(|| last_delivered.next())
                .flatten()
        }
    }
}

/// `>`: the entries from `start`, each advancing the group's last ID and
/// read counter and, unless NOACK, made pending for the consumer.
#[allow(clippy::too_many_arguments)]
fn deliver_new(
    stream: &mut StreamValue,
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: usize,
    noack: bool,
    now: u64,
    reply: &mut ReplyWriter,
) {
    let entries: Vec<_> = stream
        .range(start, StreamId::MAX, false)
        .take(count)
        .collect();
    let ids: Vec<StreamId> = entries.iter().map(|e| e.id).collect();
    write_entries(reply, entries.into_iter());
    let meta = StreamMeta::of(stream);
    let Some(group) = stream.groups_mut().get_mut(group) else {
        return;
    };
    for id in ids {
        group.advance(&meta, id);
        if !noack {
            group.deliver(id, consumer, now);
        }
    }
}

/// An explicit ID: the consumer's pending entries from `start`, delivered
/// again (time and count updated); an entry deleted since shows as its ID
/// with a null.
fn replay_history(
    stream: &mut StreamValue,
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: usize,
    now: u64,
    reply: &mut ReplyWriter,
) {
    let ids: Vec<StreamId> = stream
        .groups()
        .get(group)
        .and_then(|g| g.consumer(consumer))
        .map(|c| c.pending().range(start..).take(count).copied().collect())
        .unwrap_or_default();
    let mut present = Vec::with_capacity(ids.len());
    reply.array(ids.len());
    for &id in &ids {
        match stream.range(id, id, false).next() {
            Some(entry) => {
                reply.array(2);
                reply.bulk(id.to_string().as_bytes());
                let fields = entry.fields();
                reply.array(fields.len());
                for item in fields {
                    reply.bulk(item);
                }
                present.push(id);
            }
            None => {
                reply.array(2);
                reply.bulk(id.to_string().as_bytes());
                reply.null_array();
            }
        }
    }
    if let Some(group) = stream.groups_mut().get_mut(group) {
        for id in present {
            group.redeliver(id, now);
        }
    }
}

/// A blocked XREADGROUP's attempt (`blocking::Attempt`).
fn attempt_blocked(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    read_group(ks, events, args, out, Mode::Blocked).map(|outcome| outcome.served)
}

/// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS
/// key... id...
fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_xread(args, true)?;
    refuse_block_in_script(ctx, &parsed, args)?;
    let outcome = read_group(&ctx.keyspace(), ctx.events(), args, ctx.out, Mode::Direct)?;
    ctx.client.reported_change |= outcome.created_noack_consumer;
    if outcome.served {
        return Ok(());
    }
    let Some(timeout) = parsed.block else {
        ctx.out.null_array();
        return Ok(());
    };
    // Nothing was served, so every ID is `>` (an explicit one always
    // serves): the blocked client re-runs the command as it is, with COUNT
    // 1000 if it gave none.
    let (keys, _) = xread_streams(args, &parsed);
    let mut waiting = blocked_args(args, &parsed);
    waiting.extend_from_slice(&args[parsed.streams_at..]);
    ctx.serve_or_block(
        keys.to_vec(),
        Vec::new(),
        &waiting,
        timeout,
        TimeoutReply::NullArray,
        attempt_blocked,
    )
}
