//! The append-only file, as Redis 7.0's multi-part AOF (`aof.c`): a base
//! file (an RDB preamble, or commands) and incremental files of the write
//! commands since, named by a manifest in `appenddirname`.
//!
//! Every write reaches the file in the form the replication stream has
//! (`repl::propagate` feeds both, under the write order, which is serial
//! while the AOF is on: `ReplicationLog::set_serial_for_others`), SELECT
//! included, MULTI/EXEC-wrapped as Redis's `feedAppendOnlyFile`. The bytes a
//! command fed are written when it ends (`write_out`), and synced then with
//! `appendfsync always` (before the reply, as Redis's `beforeSleep`), once a
//! second by the `aof-cron` thread with `everysec`, never with `no`.
//!
//! A rewrite (`rewrite.rs`) needs no fork: under the write order it starts a
//! keyspace snapshot and switches the feed to a new incremental file at the
//! same instant, so the base written from the snapshot and the new file
//! together are the dataset. `load.rs` replays the files at startup and for
//! DEBUG LOADAOF. While `appendonly` is `no` the request path pays one
//! relaxed load (`is_on`).

mod load;
mod manifest;
mod rewrite;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrite_replication::multibulk;
use parking_lot::{Condvar, Mutex};
use tracing::warn;

use crate::server::Server;

pub use load::{debug_loadaof, load_at_startup};
pub use manifest::Manifest;
pub use rewrite::{bgrewriteaof, restart_after_sync, Requested};

/// Redis's `aof_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AofState {
    Off = 0,
    /// Enabled at run time: the first rewrite has not finished yet.
    WaitRewrite = 1,
    On = 2,
}

/// The incremental file the feed is written to.
struct Appender {
    file: Arc<File>,
    name: String,
    /// The database the file last selected; `None` forces a SELECT.
    selected_db: Option<usize>,
    /// Fed and not yet written (Redis's `aof_buf`).
    pending: Vec<u8>,
    /// Bytes in the file.
    size: u64,
    /// Written since the last fsync.
    unsynced: bool,
}

/// State under the AOF's lock: the manifest and the open incremental file.
#[derive(Default)]
struct Inner {
    manifest: Manifest,
    appender: Option<Appender>,
    /// Bytes of the base file, for `aof_current_size`.
    base_size: u64,
    /// The second of the last `#TS:` annotation (Redis's `aof_cur_timestamp`).
    last_timestamp_s: u64,
}

/// The append-only file's state, shared by the request path, the commands,
/// the `aof-cron` thread and rewrites.
#[derive(Default)]
pub struct Aof {
    state: AtomicU8,
    inner: Mutex<Inner>,
    /// Bumped when the AOF is switched off, so a rewrite started before
    /// leaves nothing behind.
    generation: AtomicU64,
    /// A started rewrite waiting for the `aof-rewrite` thread.
    rewrite_job: Mutex<Option<rewrite::RewriteJob>>,
    rewrite_wake: Condvar,
    pub(crate) stats: AofStats,
}

/// The figures INFO persistence reports.
#[derive(Default)]
pub(crate) struct AofStats {
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub rewrite_started_s: AtomicU64,
    /// -1 until the first rewrite ends (stored +1 so the default is -1).
    last_rewrite_time_s_plus_one: AtomicI64,
    pub last_rewrite_failed: AtomicBool,
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    pub last_write_failed: AtomicBool,
    /// `aof_rewrite_base_size`: the size when the last rewrite ended.
    pub rewrite_base_size: AtomicU64,
    /// DEBUG AOF-FLUSH-SLEEP: microseconds to wait before each write.
    pub flush_sleep_us: AtomicU64,
}

impl AofStats {
    pub fn set_last_rewrite_time(&self, seconds: i64) {
        self.last_rewrite_time_s_plus_one
            .store(seconds + 1, Ordering::Relaxed);
    }

    fn last_rewrite_time(&self) -> i64 {
        self.last_rewrite_time_s_plus_one.load(Ordering::Relaxed) - 1
    }
}

impl Aof {
    pub fn state(&self) -> AofState {
        match self.state.load(Ordering::Acquire) {
            1 => AofState::WaitRewrite,
            2 => AofState::On,
            _ => AofState::Off,
        }
    }

    fn set_state(&self, state: AofState) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// Whether writes are fed to the AOF (on, or waiting for its first
    /// rewrite): the one check the request path makes.
    pub fn is_on(&self) -> bool {
        self.state.load(Ordering::Relaxed) != AofState::Off as u8
    }

    /// Appends one command run in `db` (`None`: no database) to the pending
    /// bytes, after a `#TS:` annotation when `aof-timestamp-enabled` and the
    /// second changed, and a SELECT when the file is in another database.
    /// The caller holds the write order exclusively.
    pub fn feed<A: AsRef<[u8]>>(&self, server: &Server, db: Option<usize>, args: &[A]) {
        let timestamps = server.config.read().get_bool("aof-timestamp-enabled");
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let Some(appender) = inner.appender.as_mut() else {
            return;
        };
        let now_s = ferrite_storage::now_ms() / 1000;
        if timestamps && inner.last_timestamp_s < now_s {
            inner.last_timestamp_s = now_s;
            appender
                .pending
                .extend_from_slice(timestamp_annotation(now_s).as_bytes());
        }
        if let Some(db) = db {
            if appender.selected_db != Some(db) {
                let db_text = db.to_string();
                multibulk(&mut appender.pending, &[&b"SELECT"[..], db_text.as_bytes()]);
                appender.selected_db = Some(db);
            }
        }
        multibulk(&mut appender.pending, args);
    }

    /// Current size of the AOF (base + incremental files), as
    /// `aof_current_size`.
    fn current_size(inner: &Inner) -> u64 {
        inner.base_size + inner.appender.as_ref().map_or(0, |a| a.size)
    }
}

/// Redis's `#TS:<unix seconds>` line (skipped when a file is loaded).
fn timestamp_annotation(unix_s: u64) -> String {
    format!("#TS:{unix_s}\r\n")
}

/// Where the AOF's files live: `appenddirname`, relative to `dir` (the
/// working directory since startup).
pub(crate) fn aof_dir(server: &Server) -> PathBuf {
    PathBuf::from(server.config.read().get("appenddirname"))
}

fn aof_filename(server: &Server) -> String {
    server.config.read().get("appendfilename").to_string()
}

/// The `appendfsync` policy.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fsync {
    Always,
    EverySec,
    No,
}

fn fsync_policy(server: &Server) -> Fsync {
    let config = server.config.read();
    let rewriting = server.aof.stats.rewrite_in_progress.load(Ordering::Relaxed);
    if rewriting && config.get_bool("no-appendfsync-on-rewrite") {
        return Fsync::No;
    }
    match config.get("appendfsync") {
        "always" => Fsync::Always,
        "no" => Fsync::No,
        _ => Fsync::EverySec,
    }
}

/// Writes what the last command fed (and syncs it with `appendfsync
/// always`). Called by `repl::propagate` once a command's effects are fed,
/// still under the write order, and before its reply goes out.
pub fn write_out(server: &Server) {
    let aof = &server.aof;
    let mut inner = aof.inner.lock();
    let Some(appender) = inner.appender.as_mut() else {
        return;
    };
    if appender.pending.is_empty() {
        return;
    }
    let policy = fsync_policy(server);
    let sleep_us = aof.stats.flush_sleep_us.load(Ordering::Relaxed);
    if sleep_us > 0 {
        std::thread::sleep(Duration::from_micros(sleep_us));
    }
    let written = (&*appender.file).write_all(&appender.pending);
    match written {
        Ok(()) => {
            appender.size += appender.pending.len() as u64;
            appender.pending.clear();
            appender.unsynced = true;
            if aof.stats.last_write_failed.swap(false, Ordering::Relaxed) {
                warn!("AOF write error looks solved, Redis can write again.");
            }
        }
        Err(e) => {
            // The bytes stay pending and are retried with the next write.
            warn!("Error writing to the AOF file: {e}");
            aof.stats.last_write_failed.store(true, Ordering::Relaxed);
            return;
        }
    }
    if policy == Fsync::Always {
        if let Err(e) = appender.file.sync_data() {
            warn!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting...");
            std::process::exit(1);
        }
        appender.unsynced = false;
    }
}

/// Writes and syncs everything fed so far, whatever the policy: before a
/// rewrite switches files, DEBUG LOADAOF, SHUTDOWN and `appendonly no`.
pub fn flush_and_sync(server: &Server) {
    write_out(server);
    let file = {
        let mut inner = server.aof.inner.lock();
        inner.appender.as_mut().map(|a| {
            a.unsynced = false;
            a.file.clone()
        })
    };
    if let Some(file) = file {
        if let Err(e) = file.sync_data() {
            warn!("Fail to fsync the AOF file: {e}");
        }
    }
}

/// The `everysec` fsync, off the request path: the file handle is cloned
/// under the lock and synced outside it.
fn fsync_every_second(server: &Server) {
    if fsync_policy(server) != Fsync::EverySec {
        return;
    }
    let file = {
        let mut inner = server.aof.inner.lock();
        match inner.appender.as_mut() {
            Some(a) if a.unsynced => {
                a.unsynced = false;
                Some(a.file.clone())
            }
            _ => None,
        }
    };
    if let Some(file) = file {
        if let Err(e) = file.sync_data() {
            warn!("Fail to fsync the AOF file: {e}");
            server
                .aof
                .stats
                .last_write_failed
                .store(true, Ordering::Relaxed);
        }
    }
}

/// SHUTDOWN and a signal: the AOF is written and synced before exiting
/// (Redis's `prepareForShutdown` calls `flushAppendOnlyFile(1)` and fsyncs).
/// The write order is not waited for: a busy script may hold it (SHUTDOWN
/// NOSAVE works then). A transaction being fed meanwhile may leave its
/// MULTI without the EXEC, which loading reverts (`aof-load-truncated`).
pub fn before_exit(server: &Server) {
    if server.aof.is_on() {
        tracing::info!("Calling fsync() on the AOF file.");
        flush_and_sync(server);
    }
}

/// Where CONFIG SET runs: on its own, or inside a transaction or script
/// (whose hold of the write order, if any, it shares).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Alone,
    InExec { holds_write_order: bool },
}

/// `appendonly` changed by CONFIG SET: starts (rewrite first; only
/// scheduled inside a transaction) or stops the AOF, as Redis's
/// `updateAppendonly`.
pub fn set_enabled(server: &Server, enabled: bool, caller: Caller) -> Result<(), String> {
    let state = server.aof.state();
    if !enabled && state != AofState::Off {
        stop(server, caller)?;
    } else if enabled && state == AofState::Off {
        rewrite::start_append_only(server, caller != Caller::Alone)?;
    }
    Ok(())
}

/// Switches the AOF off (Redis's `stopAppendOnly`): what is pending is
/// written and synced, the file closed, a running rewrite abandoned.
fn stop(server: &Server, caller: Caller) -> Result<(), String> {
    let log = &server.replication.log;
    // Inside a transaction the keyspace is held already: the order (taken
    // before it) is only waited for briefly, so the lock order holds.
    let _order = match caller {
        Caller::Alone => Some(crate::repl::order::write_order_exclusive(server)),
        Caller::InExec {
            holds_write_order: true,
        } => None,
        Caller::InExec {
            holds_write_order: false,
        } => Some(
            log.order_exclusive_within(Duration::from_millis(100))
                .ok_or("the write order is busy, try again")?,
        ),
    };
    flush_and_sync(server);
    let aof = &server.aof;
    if aof.stats.rewrite_in_progress.load(Ordering::SeqCst) {
        // The rewrite thread notices and leaves its files (Redis kills the child).
        tracing::info!("Killing running AOF rewrite child: {}", std::process::id());
    }
    aof.generation.fetch_add(1, Ordering::SeqCst);
    aof.inner.lock().appender = None;
    aof.set_state(AofState::Off);
    aof.stats.rewrite_scheduled.store(false, Ordering::Relaxed);
    feeding_changed(server, false);
    Ok(())
}

/// Makes writes serial (and expired keys collected) while the AOF is fed.
fn feeding_changed(server: &Server, on: bool) {
    server.replication.log.set_serial_for_others(on);
    server.keyspace.stats().expired_log.set_aof_enabled(on);
}

/// Starts the `aof-cron` thread (the `everysec` fsync, scheduled and
/// automatic rewrites: Redis's `serverCron` part for the AOF) and the
/// `aof-rewrite` thread that walks each rewrite's snapshot.
pub fn spawn_threads(server: Arc<Server>) {
    let rewriter = server.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            crate::background::lower_priority();
            rewrite::rewriter_loop(&rewriter)
        });
    if let Err(e) = spawned {
        warn!("Can't start the AOF rewrite thread: {e}");
    }
    let spawned = std::thread::Builder::new()
        .name("aof-cron".into())
        .spawn(move || {
            let mut ticks = 0u64;
            loop {
                std::thread::sleep(Duration::from_millis(100));
                if server.shutting_down.load(Ordering::Relaxed) {
                    return;
                }
                ticks += 1;
                if server.aof.is_on() && ticks.is_multiple_of(10) {
                    fsync_every_second(&server);
                }
                rewrite::cron(&server);
            }
        });
    if let Err(e) = spawned {
        warn!("Can't start the AOF thread: {e}");
    }
}

/// INFO persistence's aof_* fields, in Redis's order (the second group
/// only while the AOF is enabled, as Redis prints it).
pub fn info_fields(server: &Server) -> Vec<(&'static str, String)> {
    let aof = &server.aof;
    let stats = &aof.stats;
    let running = stats.rewrite_in_progress.load(Ordering::Relaxed);
    let current = if running {
        let started = stats.rewrite_started_s.load(Ordering::Relaxed);
        (ferrite_storage::now_ms() / 1000).saturating_sub(started) as i64
    } else {
        -1
    };
    let status = |failed: bool| if failed { "err" } else { "ok" }.to_string();
    let scheduled = stats.rewrite_scheduled.load(Ordering::Relaxed) as u8;
    let mut fields = vec![
        ("aof_enabled", (aof.is_on() as u8).to_string()),
        ("aof_rewrite_in_progress", (running as u8).to_string()),
        ("aof_rewrite_scheduled", scheduled.to_string()),
        (
            "aof_last_rewrite_time_sec",
            stats.last_rewrite_time().to_string(),
        ),
        ("aof_current_rewrite_time_sec", current.to_string()),
        (
            "aof_last_bgrewrite_status",
            status(stats.last_rewrite_failed.load(Ordering::Relaxed)),
        ),
        (
            "aof_rewrites",
            stats.rewrites.load(Ordering::Relaxed).to_string(),
        ),
        (
            "aof_rewrites_consecutive_failures",
            stats
                .consecutive_failures
                .load(Ordering::Relaxed)
                .to_string(),
        ),
        (
            "aof_last_write_status",
            status(stats.last_write_failed.load(Ordering::Relaxed)),
        ),
        ("aof_last_cow_size", "0".into()),
        ("module_fork_in_progress", "0".into()),
        ("module_fork_last_cow_size", "0".into()),
    ];
    if server.config.read().get_bool("appendonly") {
        let inner = aof.inner.lock();
        let pending = inner.appender.as_ref().map_or(0, |a| a.pending.len());
        fields.extend([
            ("aof_current_size", Aof::current_size(&inner).to_string()),
            (
                "aof_base_size",
                stats.rewrite_base_size.load(Ordering::Relaxed).to_string(),
            ),
            ("aof_pending_rewrite", scheduled.to_string()),
            ("aof_buffer_length", pending.to_string()),
            // Syncs run on the `aof-cron` thread, not as queued jobs, and a
            // write never waits for one: both stay 0.
            ("aof_pending_bio_fsync", "0".into()),
            ("aof_delayed_fsync", "0".into()),
        ]);
    }
    fields
}
