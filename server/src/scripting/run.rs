//! The running script as other clients see it: whether one runs and for
//! how long, SCRIPT KILL / FUNCTION KILL requests, and the BUSY rule.
//!
//! A script holds the replication write order and the keyspace gate
//! exclusively for its whole run (see `repl::order` for how writers wait
//! behind it). Other
//! connections must not wait for the gate inside a tokio worker (with two
//! workers, two such waits would stall the runtime and SCRIPT KILL would
//! never be read). So a connection checks this state before it executes a
//! request: while a script runs it waits asynchronously until the script
//! ends, or — once the script has run for `busy-reply-threshold` ms —
//! replies `-BUSY` unless the command has the `allow_busy` flag. The script
//! itself runs under `block_in_place`, so its worker's other connections
//! move to another thread.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrite_replication::WriteOrder;
use parking_lot::Mutex;
use tokio::sync::Notify;

use ferrite_resp::ReplyWriter;

use crate::client::ClientState;
use crate::repl::order::LongHold;
use crate::repl::propagate;
use crate::server::Server;
use crate::transaction::{ExclusiveScope, MultiState};

const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// What FUNCTION STATS reports of the running script.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub started: Instant,
    /// EVAL/EVALSHA (SCRIPT KILL applies) rather than FCALL (FUNCTION KILL).
    pub eval: bool,
    /// The function's name, or the script's SHA1.
    pub name: String,
    pub command: Vec<Bytes>,
}

/// The server-wide state of the script being run, if any.
#[derive(Debug, Default)]
pub struct RunState {
    current: Mutex<Option<RunInfo>>,
    running: AtomicBool,
    kill: AtomicBool,
    /// The script ran a write command: SCRIPT KILL refuses (UNKILLABLE).
    dirty: AtomicBool,
    slow_logged: AtomicBool,
    finished: Notify,
}

impl RunState {
    pub fn begin(&self, info: RunInfo) {
        *self.current.lock() = Some(info);
        self.kill.store(false, Ordering::SeqCst);
        self.dirty.store(false, Ordering::SeqCst);
        self.slow_logged.store(false, Ordering::SeqCst);
        self.running.store(true, Ordering::SeqCst);
    }

    pub fn end(&self) {
        self.running.store(false, Ordering::SeqCst);
        *self.current.lock() = None;
        self.kill.store(false, Ordering::SeqCst);
        self.finished.notify_waiters();
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    pub fn info(&self) -> Option<RunInfo> {
        self.current.lock().clone()
    }

    /// Whether the running script has written.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::SeqCst)
    }

    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    pub fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::SeqCst)
    }

    /// Logs Redis's slow-script warning once per run, when the script has
    /// run past the threshold.
    pub fn note_progress(&self, threshold: Duration) {
        let Some(info) = self.info() else { return };
        let elapsed = info.started.elapsed();
        if elapsed >= threshold && !self.slow_logged.swap(true, Ordering::SeqCst) {
            let kill = if info.eval {
                "SCRIPT KILL"
            } else {
                "FUNCTION KILL"
            };
            tracing::warn!(
                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {kill} command. Script name is: {}.",
                elapsed.as_millis(),
                info.name
            );
        }
    }

    /// SCRIPT KILL (`eval` true) or FUNCTION KILL: the error text when the
    /// running script cannot be killed this way.
    pub fn request_kill(&self, eval: bool) -> Result<(), &'static str> {
        let current = self.current.lock();
        let Some(info) = current.as_ref() else {
            return Err("NOTBUSY No scripts in execution right now.");
        };
        if self.dirty.load(Ordering::SeqCst) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        match (eval, info.eval) {
            (true, false) => Err(BUSY_FUNCTION),
            (false, true) => Err(BUSY_EVAL),
            _ => {
                self.kill.store(true, Ordering::SeqCst);
                Ok(())
            }
        }
    }
}

/// `busy-reply-threshold` (alias `lua-time-limit`); zero disables it.
pub fn busy_threshold(server: &Server) -> Duration {
    let ms = server.config.read().get_i64("busy-reply-threshold");
    Duration::from_millis(ms.max(0) as u64)
}

/// Called before a connection executes `request`: waits while a script
/// runs, and once it runs past the threshold refuses commands without the
/// `allow_busy` flag with `-BUSY` (true: the refusal was written).
pub async fn refuse_while_busy(
    server: &Server,
    client: &mut ClientState,
    out: &mut ReplyWriter,
    request: &[Bytes],
) -> bool {
    let run = &server.scripting.run;
    if allows_busy(server, request) {
        return false;
    }
    loop {
        let finished = run.finished.notified();
        tokio::pin!(finished);
        finished.as_mut().enable();
        let Some(info) = run.info() else {
            return false;
        };
        let threshold = busy_threshold(server);
        let elapsed = info.started.elapsed();
        if !threshold.is_zero() && elapsed >= threshold {
            let busy = if info.eval { BUSY_EVAL } else { BUSY_FUNCTION };
            let exec = request
                .first()
                .is_some_and(|name| name.eq_ignore_ascii_case(b"exec"));
            let exec = exec && client.multi.is_some();
            crate::transaction::write_refusal(server, client, out, exec, busy);
            MultiState::abort(client);
            if let Some(code) = out.take_last_error_code() {
                server.stats.record_error(&code);
            }
            return true;
        }
        let wait = if threshold.is_zero() {
            Duration::from_secs(3600)
        } else {
            threshold - elapsed
        };
        tokio::select! {
            _ = &mut finished => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

fn allows_busy(server: &Server, request: &[Bytes]) -> bool {
    let Some((id, spec)) = request.first().and_then(|n| server.commands.lookup(n)) else {
        return true;
    };
    let spec = match request.get(1) {
        Some(sub) if !spec.subcommands.is_empty() => server
            .commands
            .lookup_subcommand(id, sub)
            .map_or(spec, |(_, sub)| sub),
        _ => spec,
    };
    spec.has_flag("allow_busy")
}

/// Runs `f` off the tokio worker pool when possible: scripts and library
/// loads may run for long, and must not keep a worker from reading other
/// connections (SCRIPT KILL among them). On a thread the runtime did not
/// start (the main thread, where the replication link runs) it runs in
/// place: that blocks no worker, and `block_in_place` would panic there.
pub fn off_worker<R>(f: impl FnOnce() -> R) -> R {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread && RUNTIME_THREAD.with(Cell::get) {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

thread_local! {
    static RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as one the runtime started (its workers and
/// blocking threads): `Builder::on_thread_start`.
pub fn mark_runtime_thread() {
    RUNTIME_THREAD.with(|t| t.set(true));
}

/// Runs the script `f` (`name`: the calling command, EVAL or FCALL) with
/// the keyspace held exclusively, as EXEC runs a transaction: inside EXEC
/// through its hold (EXEC feeds the effects `f` leaves in `client`), else
/// holding the replication write order and the gate, feeding the effects
/// once `f` returns and then serving the clients blocked on keys the script
/// made ready (their pops follow the script in the stream, as in Redis).
///
/// Where both can be had within a moment and the runtime has other
/// workers, the script runs in place: handing the worker off (`off_worker`) costs two
/// thread switches, more than a short script itself. A script that turns
/// out long then occupies this worker only; the others keep serving
/// (SCRIPT KILL among them), since every other script waits for this one
/// asynchronously (`refuse_while_busy`) and writers wait off the worker pool
/// (`repl::order`). Otherwise it waits for them off the worker pool.
pub fn with_exclusive_scope<R>(
    server: &Server,
    client: &mut ClientState,
    scope: Option<&ExclusiveScope<'_>>,
    name: &str,
    f: impl FnOnce(&ExclusiveScope<'_>, &mut ClientState) -> R,
) -> R {
    if let Some(scope) = scope {
        return f(scope, client);
    }
    let _long_hold = LongHold::claim(server);
    if other_workers_exist() {
        if let Some(order) = server.replication.log.order_within(IN_PLACE_PATIENCE) {
            if let Some(scope) = ExclusiveScope::within(server, IN_PLACE_PATIENCE) {
                return run_holding(server, client, name, order, scope, f);
            }
        }
    }
    off_worker(|| {
        let order = server.replication.log.order();
        let scope = ExclusiveScope::new(server);
        run_holding(server, client, name, order, scope, f)
    })
}

/// How long a script waits in place for the order and for the gate (held
/// by a short command or another short script, typically) before it waits
/// off the worker pool instead.
const IN_PLACE_PATIENCE: Duration = Duration::from_micros(200);

/// Whether this thread is a worker of a runtime with more than one.
fn other_workers_exist() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|h| {
        h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            && h.metrics().num_workers() > 1
    })
}

/// [`with_exclusive_scope`]'s run once the order and the gate are held.
fn run_holding<R>(
    server: &Server,
    client: &mut ClientState,
    name: &str,
    order: WriteOrder<'_>,
    scope: ExclusiveScope<'_>,
    f: impl FnOnce(&ExclusiveScope<'_>, &mut ClientState) -> R,
) -> R {
    let result = f(&scope, client);
    propagate::flush(server, client, name);
    scope.finish(server);
    drop(order);
    result
}
