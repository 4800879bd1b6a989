//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, (S)PUBLISH and PUBSUB.
//! The registry and delivery are `crate::pubsub`; this file turns arguments
//! into registry calls and writes Redis's confirmations.

use bytes::Bytes;

use crate::command::{CmdError, CmdResult, CommandSpec, Ctx};
use crate::key_spec::{flags::*, KeySpec};
use crate::pubsub::Kind;

const SUBSCRIBE_FLAGS: &[&str] = &["pubsub", "noscript", "loading", "stale", "sentinel"];
const SHARD_SUBSCRIBE_FLAGS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const PUBLISH_FLAGS: &[&str] = &["pubsub", "loading", "stale", "fast", "may_replicate"];
const INSPECT_FLAGS: &[&str] = &["pubsub", "loading", "stale"];
const SLOW: &[&str] = &["@pubsub", "@slow"];
const FAST: &[&str] = &["@pubsub", "@fast"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, subscribe)
        .flags(SUBSCRIBE_FLAGS)
        .acl(SLOW)
        .doc(
            "pubsub",
            "Listen for messages published to the given channels",
        ),
    CommandSpec::new("unsubscribe", -1, unsubscribe)
        .flags(SUBSCRIBE_FLAGS)
        .acl(SLOW)
        .doc(
            "pubsub",
            "Stop listening for messages posted to the given channels",
        ),
    CommandSpec::new("psubscribe", -2, psubscribe)
        .flags(SUBSCRIBE_FLAGS)
        .acl(SLOW)
        .doc(
            "pubsub",
            "Listen for messages published to channels matching the given patterns",
        ),
    CommandSpec::new("punsubscribe", -1, punsubscribe)
        .flags(SUBSCRIBE_FLAGS)
        .acl(SLOW)
        .doc(
            "pubsub",
            "Stop listening for messages posted to channels matching the given patterns",
        ),
    CommandSpec::new("ssubscribe", -2, ssubscribe)
        .key_specs(&[KeySpec::range(1, -1, 1, NOT_KEY)])
        .flags(SHARD_SUBSCRIBE_FLAGS)
        .acl(SLOW)
        .doc(
            "pubsub",
            "Listen for messages published to the given shard channels",
        ),
    CommandSpec::new("sunsubscribe", -1, sunsubscribe)
        .key_specs(&[KeySpec::range(1, -1, 1, NOT_KEY)])
        .flags(SHARD_SUBSCRIBE_FLAGS)
        .acl(SLOW)
        .doc(
            "pubsub",
            "Stop listening for messages posted to the given shard channels",
        ),
    CommandSpec::new("publish", 3, publish)
        .flags(PUBLISH_FLAGS)
        .acl(FAST)
        .doc("pubsub", "Post a message to a channel"),
    CommandSpec::new("spublish", 3, spublish)
        .key_specs(&[KeySpec::range(1, 0, 1, NOT_KEY)])
        .flags(PUBLISH_FLAGS)
        .acl(FAST)
        .doc("pubsub", "Post a message to a shard channel"),
    CommandSpec::container("pubsub", PUBSUB_SUBCOMMANDS)
        .doc("pubsub", "A container for Pub/Sub commands"),
];

const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("channels", -2, pubsub_channels)
        .flags(INSPECT_FLAGS)
        .acl(SLOW)
        .doc("pubsub", "List active channels"),
    CommandSpec::new("numsub", -2, pubsub_numsub)
        .flags(INSPECT_FLAGS)
        .acl(SLOW)
        .doc("pubsub", "Get the count of subscribers for channels"),
    CommandSpec::new("numpat", 2, pubsub_numpat)
        .flags(INSPECT_FLAGS)
        .acl(SLOW)
        .doc(
            "pubsub",
            "Get the count of unique patterns pattern subscriptions",
        ),
    CommandSpec::new("shardchannels", -2, pubsub_shardchannels)
        .flags(INSPECT_FLAGS)
        .acl(SLOW)
        .doc("pubsub", "List active shard channels"),
    CommandSpec::new("shardnumsub", -2, pubsub_shardnumsub)
        .flags(INSPECT_FLAGS)
        .acl(SLOW)
        .doc("pubsub", "Get the count of subscribers for shard channels"),
    CommandSpec::new("help", 2, pubsub_help)
        .flags(&["loading", "stale"])
        .acl(&["@slow"])
        .doc(
            "pubsub",
            "Show helpful text about the different subcommands",
        ),
];

fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_each(ctx, Kind::Channel, &args[1..])
}

fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_each(ctx, Kind::Pattern, &args[1..])
}

fn ssubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_each(ctx, Kind::Shard, &args[1..])
}

fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_each(ctx, Kind::Channel, &args[1..])
}

fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_each(ctx, Kind::Pattern, &args[1..])
}

fn sunsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_each(ctx, Kind::Shard, &args[1..])
}

/// Subscribes to each name, confirming each (already subscribed or not).
fn subscribe_each(ctx: &mut Ctx<'_>, kind: Kind, names: &[Bytes]) -> CmdResult {
    let start = ctx.out.len();
    for name in names {
        ctx.server.pubsub.subscribe(ctx.client, kind, name);
        confirm(ctx, kind, kind.subscribe_word(), Some(name));
    }
    let pushed = ctx.out.len() - start;
    ctx.client.pubsub.set_push_reply_bytes(pushed);
    Ok(())
}

/// Unsubscribes from each name (all of this kind when none is given),
/// confirming each; with nothing to unsubscribe from, one confirmation with a
/// null name.
fn unsubscribe_each(ctx: &mut Ctx<'_>, kind: Kind, names: &[Bytes]) -> CmdResult {
    let start = ctx.out.len();
    let names = match names {
        [] => ctx.client.pubsub.names(kind),
        names => names.to_vec(),
    };
    if names.is_empty() {
        confirm(ctx, kind, kind.unsubscribe_word(), None);
    }
    for name in &names {
        ctx.server.pubsub.unsubscribe(ctx.client, kind, name);
        confirm(ctx, kind, kind.unsubscribe_word(), Some(name));
    }
    let pushed = ctx.out.len() - start;
    ctx.client.pubsub.set_push_reply_bytes(pushed);
    Ok(())
}

/// `[word, name, count]`, a push in RESP3.
fn confirm(ctx: &mut Ctx<'_>, kind: Kind, word: &[u8], name: Option<&[u8]>) {
    let count = ctx.client.pubsub.count(kind);
    ctx.out.push(3);
    ctx.out.bulk(word);
    match name {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
    ctx.out.integer(count as i64);
}

fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    publish_to(ctx, Kind::Channel, args)
}

fn spublish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    publish_to(ctx, Kind::Shard, args)
}

/// Replies with the number of receivers. A (RESP3) publisher subscribed to
/// the channel gets its own message before that reply, as in Redis.
fn publish_to(ctx: &mut Ctx<'_>, kind: Kind, args: &[Bytes]) -> CmdResult {
    let receivers = ctx.server.pubsub.publish(kind, &args[1], &args[2]);
    let start = ctx.out.len();
    ctx.client.pubsub.drain_into(ctx.out);
    let pushed = ctx.out.len() - start;
    ctx.client.pubsub.set_push_reply_bytes(pushed);
    ctx.out.integer(receivers as i64);
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    list_active(ctx, Kind::Channel, args)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    list_active(ctx, Kind::Shard, args)
}

/// PUBSUB CHANNELS / SHARDCHANNELS `[pattern]`.
fn list_active(ctx: &mut Ctx<'_>, kind: Kind, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let names = ctx
        .server
        .pubsub
        .active(kind, args.get(2).map(|p| p.as_ref()));
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(&name);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    count_subscribers(ctx, Kind::Channel, &args[2..])
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    count_subscribers(ctx, Kind::Shard, &args[2..])
}

/// PUBSUB NUMSUB / SHARDNUMSUB: name, count pairs in a flat array.
fn count_subscribers(ctx: &mut Ctx<'_>, kind: Kind, names: &[Bytes]) -> CmdResult {
    ctx.out.array(names.len() * 2);
    for name in names {
        ctx.out.bulk(name);
        let count = ctx.server.pubsub.subscribers(kind, name);
        ctx.out.integer(count as i64);
    }
    Ok(())
}

fn pubsub_numpat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let patterns = ctx.server.pubsub.active_count(Kind::Pattern);
    ctx.out.integer(patterns as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    super::introspection::help_reply(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
