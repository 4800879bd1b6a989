//! AOF rewrites without a fork: BGREWRITEAOF, the first rewrite of
//! `appendonly yes` at run time, automatic rewrites, and the base file
//! created at startup.
//!
//! A rewrite starts under the write order held exclusively (no write is
//! half-way): it opens the next incremental file (or, for the first rewrite
//! of `appendonly yes`, `temp-<appendfilename>.incr`), switches the feed to
//! it and starts a keyspace snapshot, so the snapshot is exactly the
//! dataset the new file continues. A background thread walks the snapshot
//! into `temp-rewriteaof-bg-<pid>.aof` and then does what Redis's
//! `backgroundRewriteDoneHandler` does: renames it into the new base, marks
//! the old base and incremental files as history in the manifest (written
//! through a temp file and a rename) and deletes them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use ferrite_replication::multibulk;
use ferrite_storage::{encode_dump_payload, now_ms, rdb, SnapshotJob};
use tracing::{info, warn};

use super::{aof_dir, aof_filename, feeding_changed, AofState, Appender};
use crate::server::Server;

/// What BGREWRITEAOF did.
pub enum Requested {
    Started,
    Scheduled,
    AlreadyRunning,
    Failed,
}

/// BGREWRITEAOF (Redis's `bgrewriteaofCommand`). `in_exec`: inside a
/// transaction, where the rewrite is only scheduled.
pub fn bgrewriteaof(server: &Server, in_exec: bool) -> Requested {
    let stats = &server.aof.stats;
    if stats.rewrite_in_progress.load(Ordering::SeqCst) {
        return Requested::AlreadyRunning;
    }
    if in_exec || snapshot_busy(server) {
        stats.rewrite_scheduled.store(true, Ordering::Relaxed);
        stats.consecutive_failures.store(0, Ordering::Relaxed);
        return Requested::Scheduled;
    }
    match start(server) {
        Ok(true) => Requested::Started,
        Ok(false) => {
            stats.rewrite_scheduled.store(true, Ordering::Relaxed);
            Requested::Scheduled
        }
        Err(()) => Requested::Failed,
    }
}

/// Whether another snapshot (BGSAVE, a full sync) runs: a rewrite waits.
fn snapshot_busy(server: &Server) -> bool {
    server.persistence.bgsave_in_progress() || server.keyspace.snapshot_running()
}

/// `appendonly yes` at run time (Redis's `startAppendOnly`).
pub(super) fn start_append_only(server: &Server, in_exec: bool) -> Result<(), String> {
    let aof = &server.aof;
    aof.set_state(AofState::WaitRewrite);
    if aof.stats.rewrite_in_progress.load(Ordering::SeqCst) {
        // Its base would lack what the temp incr file needs: it is
        // abandoned and a new one starts once it has let go of its snapshot.
        warn!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
        aof.generation.fetch_add(1, Ordering::SeqCst);
        aof.stats.rewrite_scheduled.store(true, Ordering::Relaxed);
    } else if snapshot_busy(server) {
        aof.stats.rewrite_scheduled.store(true, Ordering::Relaxed);
        warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
    } else if in_exec {
        aof.stats.rewrite_scheduled.store(true, Ordering::Relaxed);
        warn!("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
    } else {
        match start(server) {
            Ok(true) => {}
            Ok(false) => aof.stats.rewrite_scheduled.store(true, Ordering::Relaxed),
            Err(()) => {
                aof.set_state(AofState::Off);
                warn!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
                return Err("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation.".into());
            }
        }
    }
    if aof.stats.last_write_failed.swap(false, Ordering::Relaxed) {
        warn!("AOF reopen, just ignore the last error.");
    }
    Ok(())
}

/// A full sync replaced the dataset of a replica with `appendonly yes`:
/// the AOF starts over with a rewrite (Redis stops it before loading and
/// calls `restartAOFAfterSYNC` after).
pub fn restart_after_sync(server: &Server) {
    if server.aof.is_on() && !server.aof.stats.rewrite_in_progress.load(Ordering::SeqCst) {
        if matches!(start(server), Ok(false)) {
            server
                .aof
                .stats
                .rewrite_scheduled
                .store(true, Ordering::Relaxed);
        }
    } else if server.aof.is_on() {
        server
            .aof
            .stats
            .rewrite_scheduled
            .store(true, Ordering::Relaxed);
    }
}

/// The `aof-cron` thread's part: a scheduled rewrite once nothing else
/// snapshots, and the automatic rewrite on growth.
pub(super) fn cron(server: &Server) {
    let aof = &server.aof;
    let stats = &aof.stats;
    if stats.rewrite_in_progress.load(Ordering::SeqCst) || snapshot_busy(server) {
        return;
    }
    if stats.rewrite_scheduled.load(Ordering::Relaxed) {
        if let Ok(true) = start(server) {
            stats.rewrite_scheduled.store(false, Ordering::Relaxed);
        }
        return;
    }
    if aof.state() != AofState::On || rewrites_limited(server) {
        return;
    }
    let (percentage, min_size) = {
        let config = server.config.read();
        (
            config.get_i64("auto-aof-rewrite-percentage"),
            config.get_i64("auto-aof-rewrite-min-size").max(0) as u64,
        )
    };
    let current = super::Aof::current_size(&aof.inner.lock());
    if percentage <= 0 || current <= min_size {
        return;
    }
    let base = stats.rewrite_base_size.load(Ordering::Relaxed).max(1);
    let growth = (current * 100 / base) as i64 - 100;
    if growth >= percentage {
        info!("Starting automatic rewriting of AOF on {growth}% growth");
        let _ = start(server);
    }
}

/// After three failed rewrites in a row, automatic ones wait a minute
/// between attempts (a simpler form of Redis's `aofRewriteLimited`).
fn rewrites_limited(server: &Server) -> bool {
    let stats = &server.aof.stats;
    let since = (now_ms() / 1000).saturating_sub(stats.rewrite_started_s.load(Ordering::Relaxed));
    stats.consecutive_failures.load(Ordering::Relaxed) >= 3 && since < 60
}

/// Opens `name` in `dir` for appending from scratch.
fn create(dir: &Path, name: &str) -> Result<File, String> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join(name))
        .map_err(|e| format!("Can't open the append-only file {name}: {e}"))
}

/// Starts a rewrite: `Ok(false)` when another snapshot runs (try again
/// later), `Err` when the files could not be set up (logged).
fn start(server: &Server) -> Result<bool, ()> {
    let aof = &server.aof;
    let dir = aof_dir(server);
    let filename = aof_filename(server);
    let failed = |e: String| {
        warn!("{e}");
        aof.stats.last_rewrite_failed.store(true, Ordering::Relaxed);
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        failed(format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        ));
        return Err(());
    }
    let _order = crate::repl::order::write_order_exclusive(server);
    if snapshot_busy(server) || aof.stats.rewrite_in_progress.load(Ordering::SeqCst) {
        return Ok(false);
    }
    // The file being left is complete and on disk before the switch.
    super::flush_and_sync(server);
    let state = aof.state();
    let generation = aof.generation.load(Ordering::SeqCst);
    // With the AOF off only a base is written (Redis's
    // `openNewIncrAofForAppend` opens nothing then).
    if state != AofState::Off {
        let mut inner = aof.inner.lock();
        let (name, manifest) = if state == AofState::WaitRewrite {
            (temp_incr_name(&filename), None)
        } else {
            let mut manifest = inner.manifest.clone();
            (manifest.new_incr(&filename), Some(manifest))
        };
        let file = create(&dir, &name).map_err(failed)?;
        if let Some(manifest) = manifest {
            manifest.persist(&dir, &filename).map_err(failed)?;
            inner.manifest = manifest;
            info!("Creating AOF incr file {name} on background rewrite");
        }
        inner.appender = Some(Appender {
            file: Arc::new(file),
            name,
            selected_db: None,
            pending: Vec::new(),
            size: 0,
            unsynced: false,
        });
    }
    let Some(job) = server.keyspace.begin_snapshot() else {
        return Ok(false);
    };
    if state == AofState::WaitRewrite {
        feeding_changed(server, true);
    }
    let stats = &aof.stats;
    stats.rewrite_in_progress.store(true, Ordering::SeqCst);
    stats.rewrite_scheduled.store(false, Ordering::Relaxed);
    stats.rewrites.fetch_add(1, Ordering::Relaxed);
    stats
        .rewrite_started_s
        .store(now_ms() / 1000, Ordering::Relaxed);
    let libraries = server.scripting.library_codes();
    drop(_order);
    info!(
        "Background append only file rewriting started by pid {}",
        std::process::id()
    );
    *aof.rewrite_job.lock() = Some(RewriteJob {
        snapshot: job,
        libraries,
        generation,
    });
    aof.rewrite_wake.notify_one();
    Ok(true)
}

/// A started rewrite, handed to the `aof-rewrite` thread.
pub(super) struct RewriteJob {
    snapshot: Arc<SnapshotJob>,
    libraries: Vec<Bytes>,
    generation: u64,
}

/// The `aof-rewrite` thread: runs each rewrite `start` hands it.
pub(super) fn rewriter_loop(server: &Server) {
    let aof = &server.aof;
    loop {
        let job = {
            let mut slot = aof.rewrite_job.lock();
            if slot.is_none() {
                aof.rewrite_wake
                    .wait_for(&mut slot, std::time::Duration::from_millis(100));
            }
            slot.take()
        };
        if server.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        if let Some(job) = job {
            run(server, &job.snapshot, &job.libraries, job.generation);
        }
    }
}

/// Redis's `getTempIncrAofName`.
fn temp_incr_name(filename: &str) -> String {
    format!("temp-{filename}.incr")
}

/// The rewrite thread: the snapshot into a temp base file, then the
/// manifest switch.
fn run(server: &Server, job: &SnapshotJob, libraries: &[Bytes], generation: u64) {
    let started = Instant::now();
    let dir = aof_dir(server);
    let temp = format!("temp-rewriteaof-bg-{}.aof", std::process::id());
    let abandoned = || server.aof.generation.load(Ordering::SeqCst) != generation;
    crate::background::key_save_delay(server, abandoned);
    // The delay above was this rewrite's (it stops when the rewrite is
    // abandoned); the walk adds none. The snapshot always runs to its end:
    // only then can another start.
    job.hurry();
    server.keyspace.complete_snapshot(job);
    let aof = &server.aof;
    let stats = &aof.stats;
    if abandoned() {
        // `appendonly no` meanwhile: Redis kills the child, which leaves
        // nothing and changes no status.
        stats.rewrite_in_progress.store(false, Ordering::SeqCst);
        return;
    }
    let rdb_preamble = server.config.read().get_bool("aof-use-rdb-preamble");
    let written = write_base(server, job, libraries, &dir.join(&temp), rdb_preamble);
    let outcome = written.and_then(|()| {
        info!("Successfully created the temporary AOF base file {temp}");
        info!("Background AOF rewrite terminated with success");
        finish(server, &dir, &temp, rdb_preamble, generation)
    });
    match outcome {
        Ok(()) => {
            stats.last_rewrite_failed.store(false, Ordering::Relaxed);
            stats.consecutive_failures.store(0, Ordering::Relaxed);
            info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            warn!("{e}");
            warn!("Background AOF rewrite terminated with error");
            let _ = std::fs::remove_file(dir.join(&temp));
            stats.last_rewrite_failed.store(true, Ordering::Relaxed);
            stats.consecutive_failures.fetch_add(1, Ordering::Relaxed);
            if aof.state() == AofState::WaitRewrite {
                // Redis drops what the temp incr file gathered and tries again.
                let filename = aof_filename(server);
                aof.inner.lock().appender = None;
                info!(
                    "Removing the temp incr aof file {} in the background",
                    temp_incr_name(&filename)
                );
                let _ = std::fs::remove_file(dir.join(temp_incr_name(&filename)));
                stats.rewrite_scheduled.store(true, Ordering::Relaxed);
            }
        }
    }
    stats.set_last_rewrite_time(started.elapsed().as_secs() as i64);
    stats.rewrite_in_progress.store(false, Ordering::SeqCst);
}

/// Writes the snapshot as a base file: an RDB (with `aof-base` set) or,
/// with `aof-use-rdb-preamble no`, commands.
fn write_base(
    server: &Server,
    job: &SnapshotJob,
    libraries: &[Bytes],
    path: &Path,
    rdb_preamble: bool,
) -> Result<(), String> {
    let file = job.take_rdb(&crate::persistence::aux_fields(None, true), libraries);
    let mut out = File::create(path).map_err(|e| {
        format!("Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): {e}")
    })?;
    let write_error =
        |e: std::io::Error| format!("Write error writing append only file on disk: {e}");
    if rdb_preamble {
        for piece in file.pieces() {
            out.write_all(piece).map_err(write_error)?;
        }
    } else {
        let bytes: Vec<u8> = file.pieces().flatten().copied().collect();
        let commands = as_commands(server, &bytes)?;
        out.write_all(&commands).map_err(write_error)?;
    }
    out.sync_all().map_err(write_error)
}

/// A base file of commands for `aof-use-rdb-preamble no`: a `#TS:`
/// annotation with `aof-timestamp-enabled`, FUNCTION LOAD
/// for each library, then per key `RESTORE key <abs-ms|0> <payload>
/// ABSTTL` after a SELECT of its database. (Redis writes each type's own
/// commands, RPUSH, SADD, ...; RESTORE rebuilds the same values in one
/// command per key and any Redis loads it.)
fn as_commands(server: &Server, rdb_bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let limits = server.keyspace.encoding_limits.get();
    let mut selected = None;
    let summary = rdb::parse(rdb_bytes, &limits, false, |parsed| {
        if selected != Some(parsed.db) {
            multibulk(
                &mut out,
                &[&b"SELECT"[..], parsed.db.to_string().as_bytes()],
            );
            selected = Some(parsed.db);
        }
        let ttl = parsed.expire_at_ms.unwrap_or(0).max(0).to_string();
        let payload = encode_dump_payload(&parsed.value);
        multibulk(
            &mut out,
            &[
                &b"RESTORE"[..],
                &parsed.key,
                ttl.as_bytes(),
                &payload,
                b"ABSTTL",
            ],
        );
        Ok(())
    })
    .map_err(|e| {
        format!(
            "Write error writing append only file on disk: {}",
            e.message
        )
    })?;
    let mut functions = Vec::new();
    if server.config.read().get_bool("aof-timestamp-enabled") {
        let now_s = now_ms() / 1000;
        functions.extend_from_slice(super::timestamp_annotation(now_s).as_bytes());
    }
    for code in &summary.libraries {
        multibulk(&mut functions, &[&b"FUNCTION"[..], b"LOAD", code]);
    }
    functions.extend_from_slice(&out);
    Ok(functions)
}

/// Redis's `backgroundRewriteDoneHandler` after a successful child: the
/// new base, the temp incr file renamed (first rewrite of `appendonly
/// yes`), older files to history, the manifest persisted, history deleted.
fn finish(
    server: &Server,
    dir: &Path,
    temp: &str,
    rdb_preamble: bool,
    generation: u64,
) -> Result<(), String> {
    let aof = &server.aof;
    let filename = aof_filename(server);
    let mut inner = aof.inner.lock();
    // Checked under the lock `appendonly no` takes after bumping it.
    if aof.generation.load(Ordering::SeqCst) != generation {
        return Err("the AOF was switched off during the rewrite".to_string());
    }
    let mut manifest = inner.manifest.clone();
    let base = manifest.new_base(&filename, rdb_preamble);
    std::fs::rename(dir.join(temp), dir.join(&base)).map_err(|e| {
        format!(
            "Error trying to rename the temporary AOF base file {temp} into {}: {e}",
            dir.join(&base).display()
        )
    })?;
    info!("Successfully renamed the temporary AOF base file {temp} into {base}");
    if aof.state() == AofState::WaitRewrite {
        let temp_incr = temp_incr_name(&filename);
        let incr = manifest.new_incr(&filename);
        if let Err(e) = std::fs::rename(dir.join(&temp_incr), dir.join(&incr)) {
            let _ = std::fs::remove_file(dir.join(&base));
            return Err(format!(
                "Error trying to rename the temporary AOF incr file {} into {}: {e}",
                dir.join(&temp_incr).display(),
                dir.join(&incr).display()
            ));
        }
        info!("Successfully renamed the temporary AOF incr file {temp_incr} into {incr}");
        if let Some(appender) = inner.appender.as_mut() {
            appender.name = incr;
        }
    }
    manifest.incr_to_history(inner.appender.is_some());
    if let Err(e) = manifest.persist(dir, &filename) {
        let _ = std::fs::remove_file(dir.join(&base));
        return Err(e);
    }
    inner.manifest = manifest;
    inner.base_size = std::fs::metadata(dir.join(&base)).map_or(0, |m| m.len());
    let current = super::Aof::current_size(&inner);
    aof.stats
        .rewrite_base_size
        .store(current, Ordering::Relaxed);
    delete_history(server, &mut inner.manifest, dir, &filename);
    if aof.state() == AofState::WaitRewrite {
        aof.set_state(AofState::On);
    }
    Ok(())
}

/// Deletes the history files and persists the manifest without them
/// (Redis's `aofDelHistoryFiles`), unless `aof-disable-auto-gc`.
pub(super) fn delete_history(
    server: &Server,
    manifest: &mut super::Manifest,
    dir: &Path,
    filename: &str,
) {
    if manifest.history.is_empty() || server.config.read().get_bool("aof-disable-auto-gc") {
        return;
    }
    for info in manifest.history.drain(..) {
        info!("Removing the history file {} in the background", info.name);
        let _ = std::fs::remove_file(dir.join(&info.name));
    }
    if let Err(e) = manifest.persist(dir, filename) {
        warn!("{e}");
    }
}

/// At startup with `appendonly yes` and no AOF yet: a base file of the
/// (empty) dataset, written synchronously (Redis's
/// `aofOpenIfNeededOnServerStart`).
pub(super) fn create_base_at_startup(
    server: &Server,
    manifest: &mut super::Manifest,
    dir: &Path,
) -> Result<(), String> {
    let filename = aof_filename(server);
    let rdb_preamble = server.config.read().get_bool("aof-use-rdb-preamble");
    let base = manifest.new_base(&filename, rdb_preamble);
    let job = server
        .keyspace
        .begin_snapshot()
        .ok_or("a snapshot is already running")?;
    server.keyspace.complete_snapshot(&job);
    let libraries = server.scripting.library_codes();
    write_base(server, &job, &libraries, &dir.join(&base), rdb_preamble)?;
    info!("Creating AOF base file {base} on server start");
    Ok(())
}
