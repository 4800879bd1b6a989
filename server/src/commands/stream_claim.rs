//! XCLAIM and XAUTOCLAIM: moving pending entries of a consumer group to
//! another consumer, as Redis 7.0's `xclaimCommand` and `xautoclaimCommand`
//! (arguments checked in their order, FORCE/JUSTID/IDLE/TIME/RETRYCOUNT/
//! LASTID, entries deleted from the stream dropped from the PEL and, for
//! XAUTOCLAIM, listed). Propagation is derived from the reply and the group
//! state in `repl/group_effects.rs`.

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::now_ms;
use ferrite_storage::stream::{Claim, StreamId, StreamValue};

use super::stream_groups::no_such_key_or_group;
use super::streams::{interval_id, parse_id, stream_to_read};
use crate::command::{is, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeySpec};
use crate::notify::{class, DbEvents};

const G: &str = "stream";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xclaim", -6, xclaim).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(&["write", "fast"]).acl(&["@write", "@stream", "@fast"]).doc(G, "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer."),
    CommandSpec::new("xautoclaim", -6, xautoclaim).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write", "fast"]).acl(&["@write", "@stream", "@fast"]).doc(G, "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer."),
];

/// An integer argument whose error Redis words itself.
fn integer(arg: &[u8], error: &str) -> Result<i64, CmdError> {
    parse_i64(arg).map_err(|_| CmdError::msg(format!("ERR {error}")))
}

/// XCLAIM's options after the IDs.
struct ClaimOptions {
    force: bool,
    justid: bool,
    /// Delivery time from IDLE or TIME, before Redis's sanity check.
    delivery_time: Option<i64>,
    retry_count: Option<u64>,
    last_id: StreamId,
}

fn parse_claim_options(args: &[Bytes], now: i64) -> Result<ClaimOptions, CmdError> {
    let mut options = ClaimOptions {
        force: false,
        justid: false,
        delivery_time: None,
        retry_count: None,
        last_id: StreamId::MIN,
    };
    let mut j = 0;
    while j < args.len() {
        let more = j + 1 < args.len();
        let opt = &args[j][..];
        if is(opt, "force") {
            options.force = true;
        } else if is(opt, "justid") {
            options.justid = true;
        } else if is(opt, "idle") && more {
            j += 1;
            let idle = integer(&args[j], "Invalid IDLE option argument for XCLAIM")?;
            options.delivery_time = Some(now.saturating_sub(idle));
        } else if is(opt, "time") && more {
            j += 1;
            options.delivery_time = Some(integer(
                &args[j],
                "Invalid TIME option argument for XCLAIM",
            )?);
        } else if is(opt, "retrycount") && more {
            j += 1;
            let count = integer(&args[j], "Invalid RETRYCOUNT option argument for XCLAIM")?;
            // A negative count is as if none was given (Redis's -1 default).
            options.retry_count = u64::try_from(count).ok();
        } else if is(opt, "lastid") && more {
            j += 1;
            options.last_id = parse_id(&args[j], 0, true)?;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    Ok(options)
}

/// Writes a claimed entry: its ID (JUSTID) or the entry itself.
fn write_claimed(out: &mut ReplyWriter, stream: &StreamValue, id: StreamId, justid: bool) {
    if justid {
        out.bulk(id.to_string().as_bytes());
        return;
    }
    match stream.range(id, id, false).next() {
        Some(entry) => {
            out.array(2);
            out.bulk(id.to_string().as_bytes());
            let fields = entry.fields();
            out.array(fields.len());
            for item in fields {
                out.bulk(item);
            }
        }
        // Claims only take entries that exist; nothing else can reach here.
        None => out.null_array(),
    }
}

/// Looks the claiming consumer up (or creates it, reporting the event)
/// the first time an entry is claimed.
struct Claimer<'a> {
    name: &'a [u8],
    ready: bool,
}

impl Claimer<'_> {
    fn ensure(
        &mut self,
        group: &mut ferrite_storage::stream::ConsumerGroup,
        events: &DbEvents<'_>,
        key: &[u8],
        now: u64,
    ) {
        if !self.ready {
            self.ready = true;
            if group.touch_or_create_consumer(self.name, now) {
                events.notify(class::STREAM, "xgroup-createconsumer", key);
            }
        }
    }
}

/// XCLAIM key group consumer min-idle-time id... [IDLE ms] [TIME ms]
/// [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id].
fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let events = ctx.events();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let stream = stream_to_read(ctx, &mut shard, &key)?
        .filter(|s| s.groups().get(&args[2]).is_some())
        .ok_or_else(|| no_such_key_or_group(&args[1], &args[2]))?;
    let min_idle = integer(&args[4], "Invalid min-idle-time argument for XCLAIM")?.max(0);
    // The IDs run up to the first argument that is not one; the options
    // follow.
    let ids: Vec<StreamId> = args[5..]
        .iter()
        .map_while(|arg| parse_id(arg, 0, true).ok())
        .collect();
    let now = now_ms() as i64;
    let options = parse_claim_options(&args[5 + ids.len()..], now)?;
    let delivery_time = match options.delivery_time {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    } as u64;
    let exists: Vec<bool> = ids
        .iter()
        .map(|&id| stream.range(id, id, false).next().is_some())
        .collect();
    let group = stream
        .groups_mut()
        .get_mut(&args[2])
        .ok_or(CmdError::Syntax)?;
    if options.last_id > group.last_id {
        group.last_id = options.last_id;
    }
    let claim = Claim {
        delivery_time,
        retry_count: options.retry_count,
        justid: options.justid,
    };
    let mut claimer = Claimer {
        name: &args[3],
        ready: false,
    };
    let mut claimed = Vec::new();
    for (&id, exists) in ids.iter().zip(exists) {
        let pending = group.pending().get(&id);
        if !exists {
            // The entry is gone: its pending entry goes too.
            group.remove_pending(id);
            continue;
        }
        match pending {
            None if !options.force => continue,
            Some(nack) if min_idle > 0 && now - (nack.delivery_time as i64) < min_idle => continue,
            _ => {}
        }
        claimer.ensure(group, &events, key.bytes, now as u64);
        group.claim(id, claimer.name, claim);
        claimed.push(id);
    }
    ctx.out.array(claimed.len());
    for id in claimed {
        write_claimed(ctx.out, stream, id, options.justid);
    }
    Ok(())
}

/// XAUTOCLAIM's COUNT bound (Redis's `LONG_MAX / max(sizeof(streamID), 10)`).
const MAX_AUTOCLAIM_COUNT: i64 = i64::MAX / 16;

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID].
fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let min_idle = integer(&args[4], "Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let (mut start, start_ex) = interval_id(&args[5], 0)?;
    if start_ex {
        start = start
            .next()
            .ok_or_else(|| CmdError::msg("ERR invalid start ID for the interval"))?;
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            count = integer(&args[j + 1], "COUNT must be > 0")?;
            if !(1..=MAX_AUTOCLAIM_COUNT).contains(&count) {
                return Err(CmdError::msg("ERR COUNT must be > 0"));
            }
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let events = ctx.events();
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let stream = stream_to_read(ctx, &mut shard, &key)?
        .filter(|s| s.groups().get(&args[2]).is_some())
        .ok_or_else(|| no_such_key_or_group(&args[1], &args[2]))?;
    let mut count = count as u64;
    let mut attempts = count.saturating_mul(10);
    // The PEL entries the scan may look at (each attempt looks at one),
    // plus the one after them, the next call's cursor.
    let candidates: Vec<(StreamId, bool)> = stream
        .groups()
        .get(&args[2])
        .map(|g| g.pending().range(start..).map(|(&id, _)| id))
        .into_iter()
        .flatten()
        .take(
            usize::try_from(attempts)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        )
        .map(|id| (id, stream.range(id, id, false).next().is_some()))
        .collect();
    let group = stream
        .groups_mut()
        .get_mut(&args[2])
        .ok_or(CmdError::Syntax)?;
    let now = now_ms();
    let claim = Claim {
        delivery_time: now,
        retry_count: None,
        justid,
    };
    let mut claimer = Claimer {
        name: &args[3],
        ready: false,
    };
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    let mut examined = 0;
    while attempts > 0 && count > 0 && examined < candidates.len() {
        attempts -= 1;
        let (id, exists) = candidates[examined];
        examined += 1;
        if !exists {
            group.remove_pending(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        let idle_enough = group.pending().get(&id).is_some_and(|nack| {
            min_idle == 0 || now as i64 - nack.delivery_time as i64 >= min_idle
        });
        if !idle_enough {
            continue;
        }
        claimer.ensure(group, &events, key.bytes, now);
        group.claim(id, claimer.name, claim);
        claimed.push(id);
        count -= 1;
    }
    let cursor = candidates
        .get(examined)
        .map_or(StreamId::MIN, |&(id, _)| id);
    ctx.out.array(3);
    ctx.out.bulk(cursor.to_string().as_bytes());
    ctx.out.array(claimed.len());
    for id in claimed {
        write_claimed(ctx.out, stream, id, justid);
    }
    ctx.out.array(deleted.len());
    for id in deleted {
        ctx.out.bulk(id.to_string().as_bytes());
    }
    Ok(())
}
