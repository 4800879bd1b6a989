//! Clients blocked on keys (BLPOP and the other blocking pops).
//!
//! As in Redis, a blocked client is served by whoever makes its key ready: after
//! a write command that touched a key someone waits on, the waiters of that key
//! are tried in the order they blocked (FIFO), each by running its command's
//! non-blocking attempt and handing the reply bytes to its connection task. A
//! blocking command tries once and registers under the same registry lock, so a
//! push that lands between the two cannot be missed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use ferrite_resp::{Protocol, ReplyWriter};
use ferrite_storage::KeyspaceRead;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::command::{CmdError, CmdResult, Ctx};
use crate::notify::DbEvents;
use crate::server::Server;

/// A blocking command's non-blocking attempt: writes its reply and returns
/// true if there was something to serve, else writes nothing and returns false.
/// An error serves the client too: a blocked BRPOPLPUSH whose destination
/// turned into another type gets WRONGTYPE, as in Redis.
pub type Attempt = fn(
    ks: &KeyspaceRead<'_>,
    events: DbEvents<'_>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<bool, CmdError>;

/// Runs `attempt`, writing an error as the reply: true if the client is served.
/// With `wrong_type_waits`, a WRONGTYPE error leaves the client blocked
/// instead: a key it waits on that now holds another type is not ready
/// (Redis 7.0 serves a blocked client only from a key of the type it pops).
fn serve_with(
    attempt: Attempt,
    server: &Server,
    db: usize,
    args: &[Bytes],
    out: &mut ReplyWriter,
    wrong_type_waits: bool,
) -> bool {
    let events = DbEvents {
        notifier: &server.notifier,
        db,
    };
    match attempt(&server.keyspace.read(), events, args, out) {
        Ok(served) => served,
        Err(CmdError::WrongType) if wrong_type_waits => false,
        Err(error) => {
            out.error(error.text());
            true
        }
    }
}

/// What a blocked client receives when it stops waiting early.
#[derive(Debug)]
pub enum Wake {
    /// The reply bytes of its served command.
    Served(Vec<u8>),
    /// CLIENT UNBLOCK ... ERROR.
    UnblockedWithError,
    /// CLIENT UNBLOCK [TIMEOUT]: reply as if the timeout passed.
    UnblockedAsTimeout,
    /// The server became a replica (Redis's `disconnectAllBlockedClients`):
    /// an error, then the connection closes.
    RoleChanged,
}

/// The null a blocking command replies with on timeout.
#[derive(Debug, Clone, Copy)]
pub enum TimeoutReply {
    NullArray,
    NullBulk,
}

impl TimeoutReply {
    pub fn write(self, out: &mut ReplyWriter) {
        match self {
            TimeoutReply::NullArray => out.null_array(),
            TimeoutReply::NullBulk => out.null(),
        }
    }
}

/// A blocked client's state while its connection task waits.
#[derive(Debug)]
pub struct Blocked {
    pub wake: oneshot::Receiver<Wake>,
    pub timeout: Option<Duration>,
    pub timeout_reply: TimeoutReply,
    /// How long the command ran before it blocked: its slow log duration
    /// once served (the serving itself, done by the writer that made the
    /// key ready, is not added).
    pub ran_for: Duration,
}

struct Waiter {
    client_id: u64,
    db: usize,
    keys: Vec<Bytes>,
    pushes_to: Vec<Bytes>,
    args: Vec<Bytes>,
    protocol: Protocol,
    attempt: Attempt,
    wake: oneshot::Sender<Wake>,
}

#[derive(Default)]
struct Registry {
    by_key: HashMap<(usize, Bytes), VecDeque<u64>>,
    by_client: HashMap<u64, Waiter>,
}

#[derive(Default)]
pub struct BlockingRegistry {
    registry: Mutex<Registry>,
    blocked: AtomicUsize,
}

/// Everything a blocking command says about itself when it must wait.
pub struct BlockRequest<'a> {
    pub client_id: u64,
    pub db: usize,
    pub keys: Vec<Bytes>,
    /// Keys the command pushes to when served (BLMOVE's destination): they
    /// become ready in turn, so clients blocked on them are served too.
    pub pushes_to: Vec<Bytes>,
    pub args: &'a [Bytes],
    pub protocol: Protocol,
    pub timeout: Option<Duration>,
    pub timeout_reply: TimeoutReply,
    pub attempt: Attempt,
}

impl BlockingRegistry {
    /// Number of blocked clients (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// Tries the command once more under the registry lock; if it still has
    /// nothing to serve, registers the client and returns how to wait.
    pub fn block(
        &self,
        server: &Server,
        request: BlockRequest<'_>,
        out: &mut ReplyWriter,
    ) -> Option<Blocked> {
        let mut registry = self.registry.lock();
        if serve_with(
            request.attempt,
            server,
            request.db,
            request.args,
            out,
            false,
        ) {
            return None;
        }
        let (sender, receiver) = oneshot::channel();
        for key in &request.keys {
            registry
                .by_key
                .entry((request.db, key.clone()))
                .or_default()
                .push_back(request.client_id);
        }
        registry.by_client.insert(
            request.client_id,
            Waiter {
                client_id: request.client_id,
                db: request.db,
                keys: request.keys,
                pushes_to: request.pushes_to,
                args: request.args.to_vec(),
                protocol: request.protocol,
                attempt: request.attempt,
                wake: sender,
            },
        );
        self.blocked
            .store(registry.by_client.len(), Ordering::Relaxed);
        Some(Blocked {
            wake: receiver,
            timeout: request.timeout,
            timeout_reply: request.timeout_reply,
            ran_for: Duration::ZERO,
        })
    }

    /// Serves, in FIFO order, clients blocked on any of `keys` of database `db`,
    /// then those blocked on keys the served commands pushed to.
    pub fn serve_keys(&self, server: &Server, db: usize, keys: &[&[u8]]) {
        if self.blocked_clients() == 0 {
            return;
        }
        let mut registry = self.registry.lock();
        let mut ready: VecDeque<Bytes> = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
        while let Some(key) = ready.pop_front() {
            let map_key = (db, key);
            while let Some(&client_id) = registry
                .by_key
                .get(&map_key)
                .and_then(|queue| queue.front())
            {
                let Some(waiter) = registry.by_client.get(&client_id) else {
                    break;
                };
                let mut out = ReplyWriter::new(waiter.protocol);
                // A move's WRONGTYPE is its destination's, and serves the
                // client with the error; a pop's keeps it waiting.
                let wrong_type_waits = waiter.pushes_to.is_empty();
                let served = serve_with(
                    waiter.attempt,
                    server,
                    waiter.db,
                    &waiter.args,
                    &mut out,
                    wrong_type_waits,
                );
                if !served {
                    break;
                }
                if let Some(waiter) = remove(&mut registry, client_id) {
                    count_failure(server, &waiter.args, out.as_bytes());
                    crate::repl::propagate::served(server, waiter.db, &waiter.args, out.as_bytes());
                    let ks = server.keyspace.read();
                    server.watches.touch(&ks, waiter.db, &waiter.keys);
                    server.watches.touch(&ks, waiter.db, &waiter.pushes_to);
                    drop(ks);
                    if server.tracking.is_active() {
                        let writer = Some(client_id);
                        server.tracking.invalidate(writer, &waiter.keys);
                        server.tracking.invalidate(writer, &waiter.pushes_to);
                    }
                    ready.extend(waiter.pushes_to.iter().cloned());
                    let _ = waiter.wake.send(Wake::Served(out.as_bytes().to_vec()));
                }
            }
        }
        self.blocked
            .store(registry.by_client.len(), Ordering::Relaxed);
    }

    /// Serves clients blocked on any key of database `db` (after SWAPDB or
    /// MOVE changed what the database holds).
    pub fn serve_database(&self, server: &Server, db: usize) {
        if self.blocked_clients() == 0 {
            return;
        }
        let keys: Vec<Bytes> = self
            .registry
            .lock()
            .by_key
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect();
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
        self.serve_keys(server, db, &keys);
    }

    /// Stops waiting for `client_id` (timeout, disconnect); false if it was
    /// served (or unblocked) meanwhile, in which case its wake message is sent.
    pub fn cancel(&self, client_id: u64) -> bool {
        let mut registry = self.registry.lock();
        let removed = remove(&mut registry, client_id).is_some();
        self.blocked
            .store(registry.by_client.len(), Ordering::Relaxed);
        removed
    }

    /// REPLICAOF host port: every blocked client stops waiting with
    /// [`Wake::RoleChanged`], since the keys it waits for now change only
    /// through the master's stream, which must not serve it.
    pub fn unblock_all_for_role_change(&self) {
        let mut registry = self.registry.lock();
        let ids: Vec<u64> = registry.by_client.keys().copied().collect();
        for id in ids {
            if let Some(waiter) = remove(&mut registry, id) {
                let _ = waiter.wake.send(Wake::RoleChanged);
            }
        }
        self.blocked
            .store(registry.by_client.len(), Ordering::Relaxed);
    }

    /// CLIENT UNBLOCK: wakes a blocked client; false if it was not blocked.
    pub fn unblock(&self, client_id: u64, with_error: bool) -> bool {
        let mut registry = self.registry.lock();
        let Some(waiter) = remove(&mut registry, client_id) else {
            return false;
        };
        self.blocked
            .store(registry.by_client.len(), Ordering::Relaxed);
        let wake = if with_error {
            Wake::UnblockedWithError
        } else {
            Wake::UnblockedAsTimeout
        };
        let _ = waiter.wake.send(wake);
        true
    }
}

/// A blocked client served an error (a blocked XREADGROUP whose key or
/// group went): counted as its command's failure, as Redis's
/// `updateStatsOnUnblock` does (errorstats, failed_calls).
fn count_failure(server: &Server, args: &[Bytes], reply: &[u8]) {
    let Some(error) = reply.strip_prefix(b"-") else {
        return;
    };
    let code = error.split(|&b| b == b' ').next().unwrap_or_default();
    server.stats.record_error(&String::from_utf8_lossy(code));
    if let Some((id, _)) = args.first().and_then(|name| server.commands.lookup(name)) {
        crate::stats::ServerStats::add(&server.stats.commands[id].failed_calls, 1);
    }
}

fn remove(registry: &mut Registry, client_id: u64) -> Option<Waiter> {
    let waiter = registry.by_client.remove(&client_id)?;
    for key in &waiter.keys {
        let map_key = (waiter.db, key.clone());
        if let Some(queue) = registry.by_key.get_mut(&map_key) {
            queue.retain(|id| *id != waiter.client_id);
            if queue.is_empty() {
                registry.by_key.remove(&map_key);
            }
        }
    }
    Some(waiter)
}

/// The keys of BLPOP, BRPOP, BZPOPMIN and BZPOPMAX: everything between the
/// command name and the timeout.
pub fn keys_before_timeout(args: &[Bytes]) -> &[Bytes] {
    &args[1..args.len() - 1]
}

/// BLPOP/BRPOP/BZPOPMIN/BZPOPMAX: serves at once with `attempt`, or blocks
/// on every key until the timeout (the last argument).
pub fn pop_or_block(ctx: &mut Ctx<'_>, args: &[Bytes], attempt: Attempt) -> CmdResult {
    let timeout = parse_timeout(&args[args.len() - 1])?;
    ctx.serve_or_block(
        keys_before_timeout(args).to_vec(),
        Vec::new(),
        args,
        timeout,
        TimeoutReply::NullArray,
        attempt,
    )
}

/// Parses a blocking timeout in seconds (decimals allowed), as Redis does.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let invalid = || CmdError::msg("ERR timeout is not a float or out of range");
    let text = std::str::from_utf8(arg).map_err(|_| invalid())?;
    let seconds: f64 = text.trim().parse().map_err(|_| invalid())?;
    if !seconds.is_finite() || text.trim() != text {
        return Err(invalid());
    }
    if seconds < 0.0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    if seconds == 0.0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_secs_f64(seconds.min(1e9))))
}
