//! CLUSTER (and READONLY, READWRITE) as a Redis 7.0 server started without
//! `cluster-enabled` has them:
//! Ferrite has no cluster mode, so every subcommand (HELP too) replies that
//! cluster support is disabled, after the usual subcommand and arity
//! checks. The subcommands are declared with Redis's arity and flags so
//! COMMAND INFO, COMMAND LIST and COMMAND DOCS describe them as Redis does.

use bytes::Bytes;

use crate::command::{CmdError, CmdResult, CommandSpec, Ctx};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("cluster", SUBCOMMANDS)
        .doc("cluster", "A container for cluster commands"),
    // READONLY and READWRITE also reply that cluster support is disabled.
    CommandSpec::new("readonly", 1, disabled)
        .flags(&["fast", "loading", "stale"])
        .acl(&["@fast", "@connection"])
        .doc(
            "cluster",
            "Enables read queries for a connection to a cluster replica node",
        ),
    CommandSpec::new("readwrite", 1, disabled)
        .flags(&["fast", "loading", "stale"])
        .acl(&["@fast", "@connection"])
        .doc(
            "cluster",
            "Disables read queries for a connection to a cluster replica node",
        ),
];

/// Redis's flags for the subcommands that change the cluster.
const ADMIN: &[&str] = &["admin", "stale", "no_async_loading"];
const READ: &[&str] = &["stale"];

const fn sub(name: &'static str, arity: i32, flags: &'static [&'static str]) -> CommandSpec {
    CommandSpec::new(name, arity, disabled)
        .flags(flags)
        // The summaries are Redis's, in docs_data.rs.
        .doc("cluster", "")
}

const SUBCOMMANDS: &[CommandSpec] = &[
    sub("addslots", -3, ADMIN),
    sub("addslotsrange", -4, ADMIN),
    sub("bumpepoch", 2, ADMIN),
    sub("count-failure-reports", 3, &["admin", "stale"]),
    sub("countkeysinslot", 3, READ),
    sub("delslots", -3, ADMIN),
    sub("delslotsrange", -4, ADMIN),
    sub("failover", -2, ADMIN),
    sub("flushslots", 2, ADMIN),
    sub("forget", 3, ADMIN),
    sub("getkeysinslot", 4, READ),
    sub("help", 2, &["loading", "stale"]),
    sub("info", 2, READ),
    sub("keyslot", 3, READ),
    sub("links", 2, READ),
    sub("meet", -4, ADMIN),
    sub("myid", 2, READ),
    sub("nodes", 2, READ),
    sub("replicas", 3, &["admin", "stale"]),
    sub("replicate", 3, ADMIN),
    sub("reset", -2, &["admin", "stale", "noscript"]),
    sub("saveconfig", 2, ADMIN),
    sub("set-config-epoch", 3, ADMIN),
    sub("setslot", -4, ADMIN),
    sub("shards", 2, READ),
    sub("slaves", 3, &["admin", "stale"]),
    sub("slots", 2, READ),
];

fn disabled(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::msg(
        "ERR This instance has cluster support disabled",
    ))
}
