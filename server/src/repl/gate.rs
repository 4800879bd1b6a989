//! The refusals replication adds to command dispatch, in the order Redis's
//! `processCommand` checks them: too few good replicas for a write
//! (`min-replicas-to-write`), a write on a read-only replica, and any
//! command not flagged "stale" on a replica whose link is down with
//! `replica-serve-stale-data no`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::client::ClientState;
use crate::command::CommandSpec;
use crate::config::Config;
use crate::server::Server;

/// The settings the gate reads on every command, cached from the config.
#[derive(Debug)]
pub struct GateConfig {
    min_replicas_to_write: AtomicU64,
    min_replicas_max_lag: AtomicU64,
    read_only: AtomicBool,
    serve_stale: AtomicBool,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            min_replicas_to_write: AtomicU64::new(0),
            min_replicas_max_lag: AtomicU64::new(10),
            read_only: AtomicBool::new(true),
            serve_stale: AtomicBool::new(true),
        }
    }
}

impl GateConfig {
    pub fn refresh(&self, config: &Config) {
        self.min_replicas_to_write.store(
            config.get_i64("min-replicas-to-write").max(0) as u64,
            Ordering::Relaxed,
        );
        self.min_replicas_max_lag.store(
            config.get_i64("min-replicas-max-lag").max(0) as u64,
            Ordering::Relaxed,
        );
        self.read_only
            .store(config.get_bool("replica-read-only"), Ordering::Relaxed);
        self.serve_stale.store(
            config.get_bool("replica-serve-stale-data"),
            Ordering::Relaxed,
        );
    }

    /// `replica-read-only`.
    pub fn read_only(&self) -> bool {
        self.read_only.load(Ordering::Relaxed)
    }

    /// `min-replicas-to-write` and `min-replicas-max-lag`, when set.
    pub fn min_replicas(&self) -> Option<(usize, u64)> {
        let min = self.min_replicas_to_write.load(Ordering::Relaxed);
        let lag = self.min_replicas_max_lag.load(Ordering::Relaxed);
        (min > 0 && lag > 0).then_some((min as usize, lag))
    }
}

/// Whether `spec` (or, for EXEC, a command of the queued transaction) writes.
pub(crate) fn writes(client: &ClientState, spec: &CommandSpec, name: &str) -> bool {
    if name == "exec" {
        return client.multi.as_ref().is_some_and(|multi| multi.writes);
    }
    spec.has_flag("write")
}

/// Whether `spec` (or, for EXEC, a command of the queued transaction) is
/// refused on a stale replica.
fn denies_stale(client: &ClientState, spec: &CommandSpec, name: &str) -> bool {
    if name == "exec" {
        return client
            .multi
            .as_ref()
            .is_some_and(|multi| multi.denies_stale);
    }
    !spec.has_flag("stale")
}

/// Checked again once a write holds the write order: a master demoted
/// (REPLICAOF, FAILOVER) while the write waited for the order must not
/// apply it, since it would no longer be fed to anyone.
pub fn refusal_under_order(
    server: &Server,
    client: &ClientState,
    spec: &CommandSpec,
    name: &str,
) -> Option<&'static str> {
    let repl = &server.replication;
    let demoted = !client.repl.is_master && repl.is_replica();
    (demoted && repl.gate.read_only.load(Ordering::Relaxed) && writes(client, spec, name))
        .then_some("READONLY You can't write against a read only replica.")
}

/// The error a command gets instead of running, if any.
pub fn refusal(
    server: &Server,
    client: &ClientState,
    spec: &CommandSpec,
    name: &str,
) -> Option<&'static str> {
    let repl = &server.replication;
    let gate = &repl.gate;
    if client.repl.is_master {
        return None;
    }
    if !repl.is_replica() {
        return (writes(client, spec, name) && short_of_good_replicas(server))
            .then_some(NOREPLICAS);
    }
    if gate.read_only.load(Ordering::Relaxed) && writes(client, spec, name) {
        return Some("READONLY You can't write against a read only replica.");
    }
    if !gate.serve_stale.load(Ordering::Relaxed)
        && denies_stale(client, spec, name)
        && !repl.link_up()
    {
        return Some(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        );
    }
    None
}

/// The refusal a script with a shebang (or a function) gets before it runs,
/// as Redis's `scriptPrepareForRun` checks it: on a replica whose link is
/// down with `replica-serve-stale-data no` unless it allows stale data; if
/// it may write, on a read-only replica and on a master short of good
/// replicas. Scripts without a shebang are only checked at their first
/// write, by [`refusal`] in the command they call.
pub fn script_refusal(
    server: &Server,
    caller: &ClientState,
    may_write: bool,
    allow_stale: bool,
) -> Option<&'static str> {
    let repl = &server.replication;
    let gate = &repl.gate;
    if caller.repl.is_master {
        return None;
    }
    if repl.is_replica() {
        if !allow_stale && !gate.serve_stale.load(Ordering::Relaxed) && !repl.link_up() {
            return Some("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.");
        }
        if may_write && gate.read_only.load(Ordering::Relaxed) {
            return Some("READONLY Can not run script with write flag on readonly replica");
        }
        return None;
    }
    (may_write && short_of_good_replicas(server)).then_some(NOREPLICAS)
}

const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// `min-replicas-to-write` is set and fewer replicas than that have sent
/// an ACK within `min-replicas-max-lag` seconds.
fn short_of_good_replicas(server: &Server) -> bool {
    let repl = &server.replication;
    repl.gate
        .min_replicas()
        .is_some_and(|(min, lag)| repl.log.good_replicas(lag) < min)
}
