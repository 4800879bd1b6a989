//! Stream commands without consumer groups (XADD, XLEN, XRANGE, XREVRANGE,
//! XDEL, XTRIM, XREAD with BLOCK, XSETID), with the arguments, replies and
//! error texts of Redis 7.0's `t_stream.c`; the value is
//! `ferrite_storage::stream`. XINFO is in `stream_info.rs`; consumer groups
//! are not here yet (STREAMS-STATUS.md).

use bytes::Bytes;
use ferrite_resp::{Protocol, ReplyWriter};
use ferrite_storage::stream::{
    AddError, AddId, SetIdError, StreamEntry, StreamId, StreamValue, Trim,
};
use ferrite_storage::{now_ms, Entry, KeyHash, KeyspaceRead, ShardGuard, Value};
use std::time::Duration;

use super::typed::{lock_keys, value_at};
use crate::blocking::TimeoutReply;
use crate::command::{is, parse_i64, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeySpec};
use crate::notify::{class, DbEvents};

const G: &str = "stream";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, xadd).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE).notes("UPDATE instead of INSERT because of the optional trimming feature")]).flags(&["write", "denyoom", "fast"]).acl(&["@write", "@stream", "@fast"]).doc(G, "Appends a new entry to a stream"),
    CommandSpec::new("xlen", 2, xlen).key_specs(&[KeySpec::range(1, 0, 1, RO)]).flags(&["readonly", "fast"]).acl(&["@read", "@stream", "@fast"]).doc(G, "Return the number of entries in a stream"),
    CommandSpec::new("xrange", -4, xrange).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@read", "@stream", "@slow"]).doc(G, "Return a range of elements in a stream, with IDs matching the specified IDs interval"),
    CommandSpec::new("xrevrange", -4, xrevrange).key_specs(&[KeySpec::range(1, 0, 1, RO | ACCESS)]).flags(&["readonly"]).acl(&["@read", "@stream", "@slow"]).doc(G, "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE"),
    CommandSpec::new("xdel", -3, xdel).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write", "fast"]).acl(&["@write", "@stream", "@fast"]).doc(G, "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist."),
    CommandSpec::new("xtrim", -4, xtrim).key_specs(&[KeySpec::range(1, 0, 1, RW | DELETE)]).flags(&["write"]).acl(&["@write", "@stream", "@slow"]).doc(G, "Trims the stream to (approximately if '~' is passed) a certain size"),
    CommandSpec::new("xread", -4, xread).key_specs(&[KeySpec::new(RO | ACCESS, BeginSearch::Keyword { keyword: "STREAMS", startfrom: 1 }, FindKeys::Range { lastkey: -1, step: 1, limit: 2 })]).flags(&["readonly", "blocking"]).acl(&["@read", "@stream", "@slow", "@blocking"]).doc(G, "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block."),
    CommandSpec::new("xsetid", -3, xsetid).key_specs(&[KeySpec::range(1, 0, 1, RW | UPDATE)]).flags(&["write", "denyoom", "fast"]).acl(&["@write", "@stream", "@fast"]).doc(G, "An internal command for replicating stream values"),
];

pub(super) fn invalid_id() -> CmdError {
    CmdError::msg("ERR Invalid stream ID specified as stream command argument")
}

pub(super) fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, CmdError> {
    StreamId::parse(arg, missing_seq, strict).map_err(|_| invalid_id())
}

/// The stream at `key` (`None` if absent), WRONGTYPE for other types, as
/// a write looks it up (Redis's `lookupKeyWrite`: no hit or miss counted).
pub(super) fn stream_at<'g>(
    ctx: &Ctx<'_>,
    shard: &'g mut ShardGuard<'_>,
    key: &KeyHash,
) -> Result<Option<&'g mut StreamValue>, CmdError> {
    value_at::<StreamValue>(shard, key, !ctx.client.no_touch)
}

/// As [`stream_at`] for a read, counting a keyspace hit or miss.
pub(super) fn stream_to_read<'g>(
    ctx: &Ctx<'_>,
    shard: &'g mut ShardGuard<'_>,
    key: &KeyHash,
) -> Result<Option<&'g mut StreamValue>, CmdError> {
    let found = stream_at(ctx, shard, key)?;
    ctx.record_lookup(found.is_some());
    Ok(found)
}

/// The trimming XADD and XTRIM were asked for (Redis's `streamAddTrimArgs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimArgs {
    pub trim: Option<Trim>,
    /// `~`: Redis may trim less than asked (whole nodes only); it then
    /// propagates the trim as `=` with the resulting length or first ID.
    pub approx: bool,
    /// Entries one trim may remove (`None`: no bound).
    pub limit: Option<u64>,
    /// `~` without LIMIT: the bound is Redis's default, 100 nodes' worth
    /// of entries (`limit_for`).
    pub default_limit: bool,
    /// Position of the MAXLEN/MINID threshold argument.
    pub threshold_at: usize,
}

/// XADD's arguments: the trim, NOMKSTREAM, the ID and its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddArgs {
    pub trim: TrimArgs,
    pub no_mkstream: bool,
    pub id: AddId,
    pub id_at: usize,
}

impl TrimArgs {
    /// The bound on entries removed, with `stream-node-max-entries` at
    /// `node_max_entries`: for `~` without LIMIT, 100 nodes' worth, between
    /// 10000 (a limit of 0) and a million, as Redis's.
    pub fn limit_for(&self, node_max_entries: i64) -> Option<u64> {
        if !self.default_limit {
            return self.limit;
        }
        match node_max_entries.saturating_mul(100) {
            ..=0 => Some(10_000),
            limit => Some(limit.min(1_000_000) as u64),
        }
    }
}

/// What XADD and XTRIM options say; XTRIM has no NOMKSTREAM or ID.
struct AddOrTrim {
    trim: TrimArgs,
    no_mkstream: bool,
    /// The ID and its position (`None` when the arguments end first).
    id: Option<(AddId, usize)>,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`: options from argument 2 on; for
/// XADD the first argument that is no option is the ID. `from_master`
/// lifts the LIMIT (a master's trim was rewritten to be exact).
fn parse_add_or_trim(args: &[Bytes], xadd: bool, from_master: bool) -> Result<AddOrTrim, CmdError> {
    let mut trim = TrimArgs {
        trim: None,
        approx: false,
        limit: None,
        default_limit: false,
        threshold_at: 0,
    };
    let mut no_mkstream = false;
    let mut id = None;
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i][..];
        if xadd && opt == b"*" {
            id = Some((AddId::Auto, i));
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if trim.trim.is_some() {
                return Err(CmdError::msg("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"));
            }
            trim.approx = false;
            let next = &args[i + 1][..];
            if more >= 2 && (next == b"~" || next == b"=") {
                trim.approx = next == b"~";
                i += 1;
            }
            let threshold = &args[i + 1];
            trim.trim = Some(if is(opt, "maxlen") {
                let max = parse_i64(threshold)?;
                if max < 0 {
                    return Err(CmdError::msg("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(max as u64)
            } else {
                Trim::MinId(parse_id(threshold, 0, true)?)
            });
            i += 1;
            trim.threshold_at = i;
        } else if is(opt, "limit") && more > 0 {
            let limit = parse_i64(&args[i + 1])?;
            if limit < 0 {
                return Err(CmdError::msg("ERR The LIMIT argument must be >= 0."));
            }
            trim.limit = Some(limit as u64);
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            no_mkstream = true;
        } else if xadd {
            let parsed = StreamId::parse_for_add(opt).map_err(|_| invalid_id())?;
            id = Some((parsed, i));
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if trim.limit.is_some_and(|l| l > 0) && trim.trim.is_none() {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && trim.trim.is_none() {
        return Err(CmdError::msg(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if from_master {
        trim.limit = None;
    } else if limit_given {
        if !trim.approx {
            return Err(CmdError::msg(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else {
        trim.default_limit = trim.approx;
    }
    // LIMIT 0 means no bound, as in Redis.
    trim.limit = trim.limit.filter(|&l| l > 0);
    Ok(AddOrTrim {
        trim,
        no_mkstream,
        id,
    })
}

impl AddArgs {
    /// XADD's arguments up to the ID (a missing ID is an arity error, as
    /// Redis finds the fields missing).
    pub fn parse(args: &[Bytes], from_master: bool) -> Result<AddArgs, CmdError> {
        let parsed = parse_add_or_trim(args, true, from_master)?;
        let (id, id_at) = parsed.id.unwrap_or((AddId::Auto, args.len()));
        Ok(AddArgs {
            trim: parsed.trim,
            no_mkstream: parsed.no_mkstream,
            id,
            id_at,
        })
    }
}

/// XTRIM's arguments.
pub fn parse_xtrim(args: &[Bytes], from_master: bool) -> Result<TrimArgs, CmdError> {
    parse_add_or_trim(args, false, from_master).map(|parsed| parsed.trim)
}

/// The argument an approximate trim is propagated with in place of its
/// threshold: the stream's resulting length, or its first ID.
pub fn exact_threshold(trim: Trim, stream: &StreamValue) -> Bytes {
    match trim {
        Trim::MaxLen(_) => Bytes::from(stream.len().to_string()),
        Trim::MinId(_) => Bytes::from(stream.first_id().to_string()),
    }
}

fn wrong_arity(ctx: &Ctx<'_>) -> CmdError {
    CmdError::msg(format!(
        "ERR wrong number of arguments for '{}' command",
        ctx.command_name
    ))
}

fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = AddArgs::parse(args, ctx.client.repl.is_master)?;
    let fields = args.get(parsed.id_at + 1..).unwrap_or_default();
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err(wrong_arity(ctx));
    }
    if parsed.id == AddId::Exact(StreamId::MIN) {
        return Err(CmdError::msg(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    if stream_at(ctx, &mut shard, &key)?.is_none() {
        if parsed.no_mkstream {
            drop(shard);
            ctx.out.null();
            return Ok(());
        }
        shard.insert(&key, Entry::new(Value::Stream(Box::default())));
    }
    let stream = stream_at(ctx, &mut shard, &key)?.ok_or(CmdError::WrongType)?;
    let id = stream.next_id(parsed.id, now_ms()).map_err(|e| match e {
        AddError::Exhausted => CmdError::msg(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ),
        AddError::NotAboveTop => CmdError::msg(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        ),
        // Redis's reply here comes from a stale errno; this is what it says.
        AddError::SequenceExhausted => CmdError::msg("ERR Elements are too large to be stored"),
    })?;
    let fields: Vec<&[u8]> = fields.iter().map(|f| &f[..]).collect();
    if !StreamValue::fits(&fields) {
        return Err(CmdError::msg("ERR Elements are too large to be stored"));
    }
    let limits = ctx.encoding_limits();
    stream.append_with(id, &fields, limits.stream_nodes());
    let trimmed = trim_stream(stream, &parsed.trim, limits.stream_node_max_entries) > 0;
    ctx.out.bulk(id.to_string().as_bytes());
    ctx.notify(class::STREAM, "xadd", key.bytes);
    if trimmed {
        ctx.notify(class::STREAM, "xtrim", key.bytes);
    }
    Ok(())
}

fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let len = stream_to_read(ctx, &mut shard, &key)?.map_or(0, |s| s.len());
    drop(shard);
    ctx.out.integer(len as i64);
    Ok(())
}

/// Writes an array of `[id, [field, value, ...]]`, one per entry.
pub(super) fn write_entries<'a>(
    out: &mut ReplyWriter,
    entries: impl Iterator<Item = StreamEntry<'a>>,
) {
    let entries: Vec<_> = entries.collect();
    out.array(entries.len());
    for entry in &entries {
        write_entry(out, entry);
    }
}

/// Writes `[id, [field, value, ...]]`.
pub(super) fn write_entry(out: &mut ReplyWriter, entry: &StreamEntry<'_>) {
    out.array(2);
    out.bulk(entry.id.to_string().as_bytes());
    let fields = entry.fields();
    out.array(fields.len());
    for item in fields {
        out.bulk(item);
    }
}

fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, true)
}

/// An interval bound: `(` makes it exclusive (Redis's
/// `streamParseIntervalIDOrReply`), `missing_seq` completes a bare `<ms>`.
pub(super) fn interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    match arg.strip_prefix(b"(") {
        Some(rest) if arg.len() > 1 => Ok((parse_id(rest, missing_seq, true)?, true)),
        _ => Ok((parse_id(arg, missing_seq, false)?, false)),
    }
}

/// XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n].
fn range_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let (mut start, start_ex) = interval_id(start_arg, 0)?;
    if start_ex {
        start = start
            .next()
            .ok_or_else(|| CmdError::msg("ERR invalid start ID for the interval"))?;
    }
    let (mut end, end_ex) = interval_id(end_arg, u64::MAX)?;
    if end_ex {
        end = end
            .prev()
            .ok_or_else(|| CmdError::msg("ERR invalid end ID for the interval"))?;
    }
    let mut count: Option<usize> = None;
    let mut i = 4;
    while i < args.len() {
        if is(&args[i], "count") && i + 1 < args.len() {
            count = Some(parse_i64(&args[i + 1])?.max(0) as usize);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    match stream_to_read(ctx, &mut shard, &key)? {
        None => ctx.out.array(0),
        Some(_) if count == Some(0) => ctx.out.null_array(),
        Some(stream) => write_entries(
            ctx.out,
            stream
                .range(start, end, rev)
                .take(count.unwrap_or(usize::MAX)),
        ),
    }
    Ok(())
}

fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let Some(stream) = stream_at(ctx, &mut shard, &key)? else {
        drop(shard);
        ctx.out.integer(0);
        return Ok(());
    };
    // Every ID is checked before any is deleted, as Redis does.
    let ids = args[2..]
        .iter()
        .map(|arg| parse_id(arg, 0, true))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = ids.into_iter().filter(|&id| stream.delete(id)).count();
    if deleted > 0 {
        ctx.notify(class::STREAM, "xdel", key.bytes);
    }
    drop(shard);
    ctx.out.integer(deleted as i64);
    Ok(())
}

/// Applies XADD's or XTRIM's trim (`=` exactly, `~` by whole nodes); the
/// number of entries removed.
fn trim_stream(stream: &mut StreamValue, args: &TrimArgs, node_max_entries: i64) -> u64 {
    let limit = args.limit_for(node_max_entries);
    match args.trim {
        Some(trim) if args.approx => stream.trim_approx(trim, limit),
        Some(trim) => stream.trim(trim, limit),
        None => 0,
    }
}

fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_xtrim(args, ctx.client.repl.is_master)?;
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let node_max_entries = ctx.encoding_limits().stream_node_max_entries;
    let removed = match stream_at(ctx, &mut shard, &key)? {
        Some(stream) => trim_stream(stream, &parsed, node_max_entries),
        None => 0,
    };
    if removed > 0 {
        ctx.notify(class::STREAM, "xtrim", key.bytes);
    }
    drop(shard);
    ctx.out.integer(removed as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let id = parse_id(&args[2], 0, true)?;
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(&args[i], "entriesadded") && more {
            let added = parse_i64(&args[i + 1])?;
            if added < 0 {
                return Err(CmdError::msg("ERR entries_added must be positive"));
            }
            entries_added = Some(added as u64);
        } else if is(&args[i], "maxdeletedid") && more {
            let max = parse_id(&args[i + 1], 0, true)?;
            if id < max {
                return Err(CmdError::msg("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"));
            }
            max_deleted = Some(max);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let ks = ctx.keyspace();
    let key = ks.key(&args[1]);
    let mut shard = ks.lock(ctx.client.db, &key);
    let stream = stream_at(ctx, &mut shard, &key)?.ok_or(CmdError::NoSuchKey)?;
    stream
        .set_id(id, entries_added, max_deleted)
        .map_err(|e| match e {
            SetIdError::BelowTop => CmdError::msg(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ),
            SetIdError::AddedBelowLength => CmdError::msg(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ),
        })?;
    ctx.notify(class::STREAM, "xsetid", key.bytes);
    drop(shard);
    ctx.out.ok();
    Ok(())
}

/// XREAD's and XREADGROUP's options (Redis's `xreadCommand` parsing).
pub struct XreadArgs {
    /// COUNT (0: none).
    pub count: usize,
    /// BLOCK: `Some(None)` waits forever.
    pub block: Option<Option<Duration>>,
    /// Position of the first key.
    pub streams_at: usize,
    /// XREADGROUP's GROUP: the group and consumer names.
    pub group: Option<(Bytes, Bytes)>,
    /// XREADGROUP's NOACK.
    pub noack: bool,
}

/// Parses XREAD (`readgroup` false) or XREADGROUP arguments.
pub fn parse_xread(args: &[Bytes], readgroup: bool) -> Result<XreadArgs, CmdError> {
    let mut parsed = XreadArgs {
        count: 0,
        block: None,
        streams_at: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i][..];
        if is(opt, "block") && more > 0 {
            let ms = parse_i64(&args[i + 1])
                .map_err(|_| CmdError::msg("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(CmdError::msg("ERR timeout is negative"));
            }
            parsed.block = Some((ms > 0).then(|| Duration::from_millis(ms as u64)));
            i += 2;
        } else if is(opt, "count") && more > 0 {
            parsed.count = parse_i64(&args[i + 1])?.max(0) as usize;
            i += 2;
        } else if is(opt, "streams") && more > 0 {
            parsed.streams_at = i + 1;
            if !(args.len() - parsed.streams_at).is_multiple_of(2) {
                return Err(CmdError::msg("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."));
            }
            if readgroup && parsed.group.is_none() {
                return Err(CmdError::msg("ERR Missing GROUP option for XREADGROUP"));
            }
            return Ok(parsed);
        } else if is(opt, "group") && more >= 2 {
            if !readgroup {
                return Err(CmdError::msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            parsed.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if is(opt, "noack") {
            if !readgroup {
                return Err(CmdError::msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            parsed.noack = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Err(CmdError::Syntax)
}

/// Redis refuses BLOCK from scripts (not only when it would block).
pub(super) fn refuse_block_in_script(
    ctx: &Ctx<'_>,
    parsed: &XreadArgs,
    args: &[Bytes],
) -> CmdResult {
    if parsed.block.is_some() && ctx.client.in_script {
        return Err(CmdError::msg(format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(&args[0])
        )));
    }
    Ok(())
}

/// The keys and IDs after STREAMS.
pub(super) fn xread_streams<'a>(
    args: &'a [Bytes],
    parsed: &XreadArgs,
) -> (&'a [Bytes], &'a [Bytes]) {
    let rest = &args[parsed.streams_at..];
    rest.split_at(rest.len() / 2)
}

/// The ID each stream is read after, checked in Redis's order (each key's
/// type, then its ID); `$` is the stream's last ID (0-0 for a missing key).
fn xread_after(
    guards: &mut [ShardGuard<'_>],
    keys: &[(KeyHash<'_>, usize)],
    ids: &[Bytes],
) -> Result<Vec<StreamId>, CmdError> {
    let mut after = Vec::with_capacity(ids.len());
    for ((key, position), id) in keys.iter().zip(ids) {
        let last = value_at::<StreamValue>(&mut guards[*position], key, true)?.map(|s| s.last_id());
        after.push(match &id[..] {
            b"$" => last.unwrap_or_default(),
            b">" => return Err(CmdError::msg("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")),
            text => parse_id(text, 0, true)?,
        });
    }
    Ok(after)
}

/// XREAD's reading: the entries after each stream's ID, for the streams
/// that have some; false (nothing written) if none has. Run for blocked
/// clients too, it has no client: its lookups count no keyspace hits or
/// misses (Redis counts two per key).
fn attempt_xread(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError> {
    let parsed = parse_xread(args, false)?;
    let (keys, ids) = xread_streams(args, &parsed);
    let count = if parsed.count == 0 {
        usize::MAX
    } else {
        parsed.count
    };
    let hashed: Vec<(usize, KeyHash)> = keys.iter().map(|k| (events.db, ks.key(k))).collect();
    let (mut guards, positions) = ks.lock_many(&hashed);
    let keyed: Vec<(KeyHash, usize)> = hashed.into_iter().map(|(_, k)| k).zip(positions).collect();
    let after = xread_after(&mut guards, &keyed, ids)?;
    let mut served: Vec<(usize, Vec<u8>)> = Vec::new();
    for (n, (key, position)) in keyed.iter().enumerate() {
        let Some(stream) = value_at::<StreamValue>(&mut guards[*position], key, false)? else {
            continue;
        };
        let Some(start) = after[n].next() else {
            continue;
        };
        let mut entries = stream
            .range(start, StreamId::MAX, false)
            .take(count)
            .peekable();
        if entries.peek().is_none() {
            continue;
        }
        let mut reply = ReplyWriter::new(out.protocol());
        write_entries(&mut reply, entries);
        served.push((n, reply.into_vec()));
    }
    drop(guards);
    Ok(write_served(out, keys, served))
}

/// XREAD's and XREADGROUP's reply: for each stream served (its position
/// in `keys` and its entries' reply), the key and the entries, as an array
/// of pairs in RESP2 and a map in RESP3; false (nothing written) if none.
pub(super) fn write_served(
    out: &mut ReplyWriter,
    keys: &[Bytes],
    served: Vec<(usize, Vec<u8>)>,
) -> bool {
    if served.is_empty() {
        return false;
    }
    let resp2 = out.protocol() == Protocol::Resp2;
    if resp2 {
        out.array(served.len());
    } else {
        out.map(served.len());
    }
    for (n, entries) in served {
        if resp2 {
            out.array(2);
        }
        out.bulk(&keys[n]);
        out.raw(&entries);
    }
    true
}

/// COUNT of a blocked XREAD that gave none (Redis's
/// `XREAD_BLOCKED_DEFAULT_COUNT`).
const BLOCKED_DEFAULT_COUNT: &[u8] = b"1000";

/// The start of a blocked XREAD's or XREADGROUP's command: the options as
/// given, then COUNT 1000 if they set none (or 0), then STREAMS; the caller
/// appends the keys and IDs.
pub(super) fn blocked_args(args: &[Bytes], parsed: &XreadArgs) -> Vec<Bytes> {
    let mut waiting: Vec<Bytes> = args[..parsed.streams_at - 1].to_vec();
    if parsed.count == 0 {
        waiting.extend([
            Bytes::from_static(b"COUNT"),
            Bytes::from_static(BLOCKED_DEFAULT_COUNT),
        ]);
    }
    waiting.push(args[parsed.streams_at - 1].clone());
    waiting
}

/// XREAD [COUNT n] [BLOCK ms] STREAMS key... id...: the entries after each
/// ID; with BLOCK and nothing to read, waits for an XADD to one of the keys.
/// A blocked client re-runs the command with `$` replaced by the IDs it
/// stood for when it blocked (and COUNT 1000 when none was given).
fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let parsed = parse_xread(args, false)?;
    refuse_block_in_script(ctx, &parsed, args)?;
    if attempt_xread(&ctx.keyspace(), ctx.events(), args, ctx.out)? {
        return Ok(());
    }
    let Some(timeout) = parsed.block else {
        ctx.out.null_array();
        return Ok(());
    };
    let (keys, ids) = xread_streams(args, &parsed);
    let ks = ctx.keyspace();
    let (mut guards, hashed) = lock_keys(ctx, &ks, keys);
    let after = xread_after(&mut guards, &hashed, ids)?;
    drop(guards);
    drop(ks);
    let mut waiting = blocked_args(args, &parsed);
    waiting.extend_from_slice(keys);
    waiting.extend(after.iter().map(|id| Bytes::from(id.to_string())));
    ctx.serve_or_block(
        keys.to_vec(),
        Vec::new(),
        &waiting,
        timeout,
        TimeoutReply::NullArray,
        attempt_xread,
    )
}
