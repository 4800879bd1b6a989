//! MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pass |
//! AUTH2 user pass] [KEYS key...]: DUMP of each key sent to the target as
//! RESTORE, and (without COPY) the keys the target acknowledged deleted
//! here, propagated as one DEL, as Redis's `migrateCommand`.
//!
//! Unlike Redis, other clients keep running while MIGRATE waits for the
//! target. A key written meanwhile is not deleted (the target has the value
//! sent, this server keeps the newer one) rather than losing the write.

use std::time::Duration;

use bytes::Bytes;
use ferrite_storage::encode_dump_payload;

use crate::command::{is, parse_i64, text, CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, BeginSearch, FindKeys, KeyRef, KeySpec};
use crate::migrate::Target;
use crate::notify::class;

/// MIGRATE's keys where its KEYS spec is incomplete (Redis's
/// `migrateGetKeys`): the key argument, or every argument after KEYS when
/// the key argument is empty (none when it is not: a syntax error MIGRATE
/// reports itself), skipping AUTH's and AUTH2's values on the way.
fn migrate_keys(args: &[Bytes]) -> Vec<KeyRef> {
    let (mut first, mut count) = (3, 1);
    let mut i = 6;
    while i < args.len() {
        if is(&args[i], "keys") {
            if args[3].is_empty() {
                first = i + 1;
                count = args.len() - first;
            } else {
                count = 0;
            }
            break;
        }
        if is(&args[i], "auth") {
            i += 1;
        } else if is(&args[i], "auth2") {
            i += 2;
        }
        i += 1;
    }
    (first..first + count)
        .map(|pos| KeyRef {
            pos,
            flags: RW | ACCESS | DELETE,
        })
        .collect()
}

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("migrate", -6, migrate)
    .key_specs(&[
        KeySpec::range(3, 0, 1, RW | ACCESS | DELETE),
        KeySpec::new(
            RW | ACCESS | DELETE | INCOMPLETE,
            BeginSearch::Keyword {
                keyword: "KEYS",
                startfrom: -2,
            },
            FindKeys::Range {
                lastkey: -1,
                step: 1,
                limit: 0,
            },
        ),
    ])
    .key_finder(migrate_keys)
    .flags(&["write"])
    .acl(&["@keyspace", "@write", "@slow", "@dangerous"])
    .doc(
        "generic",
        "Atomically transfer a key from a Redis instance to another one.",
    )];

/// MIGRATE's options, parsed as Redis parses them.
struct Options<'a> {
    copy: bool,
    replace: bool,
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    keys: &'a [Bytes],
}

fn parse_options(args: &[Bytes]) -> Result<Options<'_>, CmdError> {
    let mut options = Options {
        copy: false,
        replace: false,
        auth: None,
        keys: &args[3..4],
    };
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "copy") {
            options.copy = true;
        } else if is(&args[j], "replace") {
            options.replace = true;
        } else if is(&args[j], "auth") {
            if more < 1 {
                return Err(CmdError::Syntax);
            }
            options.auth = Some((None, &args[j + 1]));
            j += 1;
        } else if is(&args[j], "auth2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            options.auth = Some((Some(&args[j + 1]), &args[j + 2]));
            j += 2;
        } else if is(&args[j], "keys") {
            if !args[3].is_empty() {
                return Err(CmdError::msg(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            options.keys = &args[j + 1..];
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(options)
}

/// A key to send: its name, the DUMP payload sent, and its RESTORE.
struct Outgoing<'a> {
    key: &'a Bytes,
    payload: Vec<u8>,
    restore: Vec<u8>,
}

fn migrate(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let options = parse_options(args)?;
    let timeout = parse_i64(&args[5])?;
    let db = parse_i64(&args[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let outgoing = dump_keys(ctx, &options);
    if outgoing.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let (host, port) = (text(&args[1]), text(&args[2]));
    let target = Target {
        host: &host,
        port: &port,
        timeout,
        auth: options.auth,
        db,
    };
    let restores: Vec<&[u8]> = outgoing.iter().map(|o| o.restore.as_slice()).collect();
    let sockets = &ctx.server.migrate_sockets;
    let transfer = crate::scripting::run::off_worker(|| sockets.transfer(&target, &restores));
    if options.copy {
        ctx.client.dirty = Some(0);
    } else {
        let acknowledged: Vec<&Outgoing<'_>> = transfer
            .acknowledged
            .iter()
            .map(|&i| &outgoing[i])
            .collect();
        delete_sent(ctx, &acknowledged);
    }
    match transfer.error {
        Some(error) => Err(CmdError::msg(error)),
        None => {
            ctx.out.ok();
            Ok(())
        }
    }
}

/// The keys that exist, dumped, with their RESTORE commands (TTL relative,
/// at least 1 ms; a key that expired meanwhile is left out).
fn dump_keys<'a>(ctx: &Ctx<'_>, options: &Options<'a>) -> Vec<Outgoing<'a>> {
    let ks = ctx.keyspace();
    let now = ks.now_ms();
    let mut outgoing = Vec::new();
    for name in options.keys {
        let key = ks.key(name);
        let mut shard = ks.lock(ctx.client.db, &key);
        let Some(entry) = shard.get(&key) else {
            continue;
        };
        let ttl = match entry.expire_at_ms() {
            Some(at) if at < now => continue,
            Some(at) => (at - now).max(1),
            None => 0,
        };
        let payload = encode_dump_payload(&entry.value);
        let ttl = ttl.to_string();
        let mut restore_args: Vec<&[u8]> = vec![b"RESTORE", name, ttl.as_bytes(), &payload];
        if options.replace {
            restore_args.push(b"REPLACE");
        }
        let mut restore = Vec::new();
        ferrite_replication::multibulk(&mut restore, &restore_args);
        outgoing.push(Outgoing {
            key: name,
            payload,
            restore,
        });
    }
    outgoing
}

/// Deletes the keys the target acknowledged, unless written since they were
/// dumped; the deletions are propagated as one DEL.
fn delete_sent(ctx: &mut Ctx<'_>, sent: &[&Outgoing<'_>]) {
    let ks = ctx.keyspace();
    let mut deleted: Vec<Bytes> = Vec::new();
    for outgoing in sent {
        let key = ks.key(outgoing.key);
        let mut shard = ks.lock(ctx.client.db, &key);
        let unchanged = shard
            .peek(&key)
            .is_some_and(|entry| encode_dump_payload(&entry.value) == outgoing.payload);
        if unchanged && shard.remove(&key).is_some() {
            ctx.notify(class::GENERIC, "del", outgoing.key);
            deleted.push(outgoing.key.clone());
        }
    }
    drop(ks);
    ctx.client.dirty = Some(deleted.len() as u64);
    if !deleted.is_empty() && !ctx.client.repl.drop_own_effects {
        deleted.insert(0, Bytes::from_static(b"DEL"));
        ctx.client.repl.effects.push((ctx.client.db, deleted));
    }
}
