//! FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms], as Redis 7.0's
//! `failoverCommand` and `updateFailoverStatus`: the master holds back
//! writes, waits until the target replica (or any replica) acknowledged its
//! whole stream, then becomes a replica of it and sends `PSYNC <replid>
//! <offset> FAILOVER`, on which the target promotes itself and continues
//! the old master partially. The handshake's outcome ends the failover
//! (`replica`); an error reply aborts it and the old master is a master
//! again. No acknowledged write is lost: writes are held from the start,
//! and the switch happens under the write order only while the target has
//! acknowledged exactly the current offset.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::info;

use super::replica;
use crate::command::{is, parse_i64, text, CmdError, CmdResult};
use crate::pause::{PausePurpose, PauseScope, UNTIL_UNPAUSED};
use crate::server::Server;

/// `master_failover_state` in INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    None,
    /// Writes are held; waiting for a replica to catch up.
    WaitForSync,
    /// This server is a replica of the target and sends PSYNC FAILOVER.
    InProgress,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::None => "no-failover",
            Phase::WaitForSync => "waiting-for-sync",
            Phase::InProgress => "failover-in-progress",
        }
    }
}

/// The failover under way, if any.
#[derive(Debug, Default)]
pub struct Failover {
    pub phase: Phase,
    /// TO host port, or the replica found caught up.
    target: Option<(String, u16)>,
    deadline: Option<Instant>,
    force: bool,
}

/// How often the failover checks whether the target caught up (Redis runs
/// its replication cron every 100 ms during a failover).
const CHECK_PERIOD: Duration = Duration::from_millis(100);

/// The FAILOVER command.
pub fn command(server: &Server, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 && is(&args[1], "abort") {
        if server.replication.failover.lock().phase == Phase::None {
            return Err(CmdError::msg("ERR No failover in progress."));
        }
        abort(server, "Failover manually aborted");
        return Ok(());
    }
    let (mut timeout_ms, mut force, mut target) = (0i64, false, None::<(String, i64)>);
    let mut j = 1;
    while j < args.len() {
        if is(&args[j], "timeout") && j + 1 < args.len() && timeout_ms == 0 {
            timeout_ms = parse_i64(&args[j + 1])?;
            if timeout_ms <= 0 {
                return Err(CmdError::msg("ERR FAILOVER timeout must be greater than 0"));
            }
            j += 2;
        } else if is(&args[j], "to") && j + 2 < args.len() && target.is_none() {
            target = Some((text(&args[j + 1]), parse_i64(&args[j + 2])?));
            j += 3;
        } else if is(&args[j], "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let repl = &server.replication;
    let mut failover = repl.failover.lock();
    if failover.phase != Phase::None {
        return Err(CmdError::msg("ERR FAILOVER already in progress."));
    }
    if repl.is_replica() {
        return Err(CmdError::msg(
            "ERR FAILOVER is not valid when server is a replica.",
        ));
    }
    let status = repl.log.status();
    if status.replicas.is_empty() {
        return Err(CmdError::msg("ERR FAILOVER requires connected replicas."));
    }
    if force && (timeout_ms == 0 || target.is_none()) {
        return Err(CmdError::msg(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    let target = match target {
        Some((host, port)) => {
            let replica = status
                .replicas
                .iter()
                .find(|r| r.ip.eq_ignore_ascii_case(&host) && i64::from(r.listening_port) == port)
                .ok_or_else(|| {
                    CmdError::msg("ERR FAILOVER target HOST and PORT is not a replica.")
                })?;
            if replica.state != ferrite_replication::ReplicaState::Online {
                return Err(CmdError::msg("ERR FAILOVER target replica is not online."));
            }
            info!("FAILOVER requested to {host}:{port}.");
            Some((host, replica.listening_port))
        }
        None => {
            info!("FAILOVER requested to any replica.");
            None
        }
    };
    *failover = Failover {
        phase: Phase::WaitForSync,
        target,
        deadline: (timeout_ms > 0)
            .then(|| Instant::now() + Duration::from_millis(timeout_ms as u64)),
        force,
    };
    drop(failover);
    crate::pause::pause(
        server,
        PausePurpose::Failover,
        PauseScope::Write,
        Instant::now() + UNTIL_UNPAUSED,
    );
    repl.failover_requested.notify_one();
    Ok(())
}

/// Redis's `abortFailover`: a failover in progress makes this server a
/// master again; writes are released.
pub fn abort(server: &Server, reason: &str) {
    let repl = &server.replication;
    let mut failover = repl.failover.lock();
    if failover.phase == Phase::None {
        return;
    }
    match &failover.target {
        Some((host, port)) => info!("FAILOVER to {host}:{port} aborted: {reason}"),
        None => info!("FAILOVER to any replica aborted: {reason}"),
    }
    let in_progress = failover.phase == Phase::InProgress;
    *failover = Failover::default();
    drop(failover);
    if in_progress {
        replica::promote(server, false);
    }
    crate::pause::unpause(server, PausePurpose::Failover);
}

/// Redis's `clearFailoverState`: the failover ended (the target answered
/// the PSYNC FAILOVER handshake); writes are released, to be refused as
/// a replica's.
pub fn finish(server: &Server) {
    *server.replication.failover.lock() = Failover::default();
    crate::pause::unpause(server, PausePurpose::Failover);
}

/// The phase INFO shows; also read by the replica link's PSYNC.
pub fn phase(server: &Server) -> Phase {
    server.replication.failover.lock().phase
}

/// Runs each failover FAILOVER starts, checking every `CHECK_PERIOD`.
pub fn spawn_cron(server: Arc<Server>) {
    tokio::spawn(async move {
        loop {
            server.replication.failover_requested.notified().await;
            while phase(&server) == Phase::WaitForSync {
                tokio::time::sleep(CHECK_PERIOD).await;
                update(&server);
            }
        }
    });
}

/// Redis's `updateFailoverStatus`.
fn update(server: &Server) {
    let repl = &server.replication;
    let (deadline, force, target) = {
        let failover = repl.failover.lock();
        if failover.phase != Phase::WaitForSync {
            return;
        }
        (failover.deadline, failover.force, failover.target.clone())
    };
    if deadline.is_some_and(|d| d <= Instant::now()) {
        match (force, target) {
            (true, Some((host, port))) => {
                info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                switch(server, &host, port);
            }
            _ => abort(server, "Replica never caught up before timeout"),
        }
        return;
    }
    // Checked under the write order, so nothing can be fed between the
    // check that the target has everything and the demotion.
    let _order = super::order::write_order_exclusive(server);
    let status = repl.log.status();
    let offset = status.master_repl_offset;
    let caught_up = status.replicas.iter().find(|r| {
        r.ack_offset == offset
            && r.state == ferrite_replication::ReplicaState::Online
            && target.as_ref().is_none_or(|(host, port)| {
                r.ip.eq_ignore_ascii_case(host) && r.listening_port == *port
            })
    });
    if let Some(replica) = caught_up {
        info!(
            "Failover target {}:{} is synced, failing over.",
            replica.ip, replica.listening_port
        );
        switch_holding_order(server, &replica.ip, replica.listening_port);
    }
}

/// Becomes a replica of the target, whose link then sends PSYNC FAILOVER.
fn switch(server: &Server, host: &str, port: u16) {
    let _order = super::order::write_order_exclusive(server);
    switch_holding_order(server, host, port);
}

fn switch_holding_order(server: &Server, host: &str, port: u16) {
    {
        let mut failover = server.replication.failover.lock();
        if failover.phase != Phase::WaitForSync {
            return;
        }
        failover.target = Some((host.to_string(), port));
        failover.phase = Phase::InProgress;
    }
    replica::replicate(server, host, port);
}
