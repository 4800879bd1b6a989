//! RDB persistence: saving the keyspace to `dir`/`dbfilename` (SAVE, BGSAVE,
//! `save` points, SHUTDOWN, DEBUG RELOAD), loading it at startup, and the
//! counters INFO's persistence section reports.
//!
//! SAVE serialises every database while holding the keyspace gate
//! exclusively, so the file is one point in time; the file is then written to
//! `temp-<pid>.rdb`, synced and renamed over the old one, as Redis does.
//!
//! BGSAVE does not stop commands: the `rdb-saver` thread starts a storage
//! snapshot (`Keyspace::begin_snapshot`, the gate held exclusively only for
//! that instant) and walks it to the end while commands run; a command that
//! touches a shard the walk has not reached captures that shard first, so
//! the file is the keyspace as it was when BGSAVE started.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrite_storage::{now_ms, rdb, Db, KeyspaceExclusive, LoadedRdb, SnapshotJob};
use parking_lot::{Condvar, Mutex};
use tracing::{info, warn};

use crate::client::ClientState;
use crate::scripting::functions::FunctionEngine;
use crate::server::Server;

/// Seconds Redis waits before retrying a failed automatic save.
const BGSAVE_RETRY_DELAY_S: u64 = 5;

/// Persistence state shared by the commands, the saver thread and INFO.
#[derive(Debug)]
pub struct Persistence {
    /// Changes since the last successful save (Redis's `server.dirty`).
    dirty: AtomicU64,
    bgsave_in_progress: AtomicBool,
    bgsave_started_s: AtomicU64,
    last_bgsave_ok: AtomicBool,
    /// Duration of the last background save in seconds; -1 before the first.
    last_bgsave_time_s: AtomicI64,
    last_bgsave_try_s: AtomicU64,
    /// Unix time of the last successful save (LASTSAVE).
    last_save_s: AtomicU64,
    /// SAVE commands and background saves started (INFO `rdb_saves`).
    saves: AtomicU64,
    last_load_keys_loaded: AtomicU64,
    last_load_keys_expired: AtomicU64,
    /// Wakes the saver thread for a BGSAVE.
    wake: Condvar,
    wake_lock: Mutex<()>,
    /// Tells [`kill_background_save`] the background save ended.
    ended: Condvar,
    /// The running background save's snapshot, to hurry it when killed.
    running_job: Mutex<Option<Arc<SnapshotJob>>>,
    /// FLUSHALL or SHUTDOWN stopped the running background save: its file is dropped.
    killed: AtomicBool,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            dirty: AtomicU64::new(0),
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started_s: AtomicU64::new(0),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_time_s: AtomicI64::new(-1),
            last_bgsave_try_s: AtomicU64::new(0),
            last_save_s: AtomicU64::new(now_s()),
            saves: AtomicU64::new(0),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
            wake: Condvar::new(),
            wake_lock: Mutex::new(()),
            ended: Condvar::new(),
            running_job: Mutex::new(None),
            killed: AtomicBool::new(false),
        }
    }
}

impl Persistence {
    pub fn changes_since_last_save(&self) -> u64 {
        self.dirty.load(Ordering::Relaxed)
    }

    pub fn last_save_s(&self) -> u64 {
        self.last_save_s.load(Ordering::Relaxed)
    }

    pub fn bgsave_in_progress(&self) -> bool {
        self.bgsave_in_progress.load(Ordering::SeqCst)
    }

    /// Starts a background save; false if one is already running.
    pub fn request_bgsave(&self) -> bool {
        if self
            .bgsave_in_progress
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        self.saves.fetch_add(1, Ordering::Relaxed);
        self.bgsave_started_s.store(now_s(), Ordering::Relaxed);
        self.last_bgsave_try_s.store(now_s(), Ordering::Relaxed);
        let _guard = self.wake_lock.lock();
        self.wake.notify_one();
        true
    }

    /// INFO's persistence section, in Redis's field order. A full sync's
    /// snapshot (`replication_snapshot`) counts as a background save in
    /// `rdb_bgsave_in_progress`, as Redis's RDB child does for a SYNC.
    pub fn info(
        &self,
        out: &mut String,
        replication_snapshot: bool,
        loading: &crate::loading::LoadingState,
    ) {
        let (loading, async_loading) = loading.flags();
        let running = self.bgsave_in_progress();
        let current = if running {
            now_s().saturating_sub(self.bgsave_started_s.load(Ordering::Relaxed)) as i64
        } else {
            -1
        };
        let fields: [(&str, String); 18] = [
            ("loading", loading.to_string()),
            ("async_loading", async_loading.to_string()),
            ("current_cow_peak", "0".into()),
            ("current_cow_size", "0".into()),
            ("current_cow_size_age", "0".into()),
            ("current_fork_perc", "0.00".into()),
            ("current_save_keys_processed", "0".into()),
            ("current_save_keys_total", "0".into()),
            (
                "rdb_changes_since_last_save",
                self.changes_since_last_save().to_string(),
            ),
            (
                "rdb_bgsave_in_progress",
                ((running || replication_snapshot) as u8).to_string(),
            ),
            ("rdb_last_save_time", self.last_save_s().to_string()),
            (
                "rdb_last_bgsave_status",
                if self.last_bgsave_ok.load(Ordering::Relaxed) {
                    "ok".into()
                } else {
                    "err".into()
                },
            ),
            (
                "rdb_last_bgsave_time_sec",
                self.last_bgsave_time_s.load(Ordering::Relaxed).to_string(),
            ),
            ("rdb_current_bgsave_time_sec", current.to_string()),
            ("rdb_saves", self.saves.load(Ordering::Relaxed).to_string()),
            ("rdb_last_cow_size", "0".into()),
            (
                "rdb_last_load_keys_expired",
                self.last_load_keys_expired
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "rdb_last_load_keys_loaded",
                self.last_load_keys_loaded
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
        ];
        for (name, value) in fields {
            out.push_str(name);
            out.push(':');
            out.push_str(&value);
            out.push_str("\r\n");
        }
    }
}

/// Counts a write command that succeeded (or a read that rewrote its key,
/// PFCOUNT caching a cardinality) as one change for the save points and
/// `rdb_changes_since_last_save`, or as the changes it counted itself
/// (`ClientState::dirty`). (Redis counts each key a command changes and
/// skips writes that changed nothing; this is coarser for the others.)
pub fn count_change(server: &Server, client: &mut ClientState, command_id: usize, failed: bool) {
    let wrote = server.commands.spec(command_id).has_flag("write") || client.reported_change;
    let changes = client.dirty.take().unwrap_or(wrote as u64);
    if !failed && changes > 0 {
        server
            .persistence
            .dirty
            .fetch_add(changes, Ordering::Relaxed);
    }
}

fn now_s() -> u64 {
    now_ms() / 1000
}

/// Where the RDB file lives: `dbfilename` inside `dir`. The server changed
/// into `dir` at startup, so a relative `dir` is already the working
/// directory (joining it again would nest it).
fn rdb_path(server: &Server) -> PathBuf {
    let config = server.config.read();
    let dir = Path::new(config.get("dir"));
    if dir.is_absolute() {
        dir.join(config.get("dbfilename"))
    } else {
        PathBuf::from(config.get("dbfilename"))
    }
}

/// The AUX fields Redis 7.0 writes. A file saved on disk also says which replication
/// stream it continues (`repl-stream-db`, `repl-id`, `repl-offset`) when there is one, so
/// a replica restarted from it can resynchronise partially; a full sync's payload does not
/// (the replica takes both from `+FULLRESYNC`).
/// `aof_base`: the file is an AOF's base (Redis's `aof-base` AUX field).
pub(crate) fn aux_fields(on_disk: Option<&Server>, aof_base: bool) -> Vec<(&'static str, String)> {
    let mut aux = vec![
        ("redis-ver", crate::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", now_s().to_string()),
        ("used-mem", crate::commands::resident_memory().to_string()),
    ];
    if let Some(stream) = on_disk.and_then(crate::repl::rdb_stream_info) {
        aux.push(("repl-stream-db", stream.db.to_string()));
        aux.push(("repl-id", stream.replid));
        aux.push(("repl-offset", stream.offset.to_string()));
    }
    aux.push(("aof-base", (aof_base as u8).to_string()));
    aux
}

/// The temp file saves write to (`temp-<pid>.rdb` in `dir`, the working
/// directory), as Redis names it.
fn temp_file_name() -> PathBuf {
    PathBuf::from(format!("temp-{}.rdb", std::process::id()))
}

/// Removes the temp file of a save in progress (a second SIGINT exits during
/// one, as Redis's `rdbRemoveTempFile`).
pub fn remove_temp_file() {
    let _ = std::fs::remove_file(temp_file_name());
}

/// Creates `temp-<pid>.rdb` beside the target, writes the file `produce`
/// makes into it (the temp file exists while it is made, as Redis's saving
/// child creates it first), syncs it and renames it over the target, so a
/// crash never leaves a partial file in place. A failure removes the temp file.
fn write_file(
    path: &Path,
    produce: impl FnOnce() -> Result<rdb::RdbFile, String>,
) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let temp = dir.join(temp_file_name());
    let mut file = std::fs::File::create(&temp).map_err(|e| {
        let cwd = std::env::current_dir().unwrap_or_default();
        format!(
            "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
            temp.display(),
            cwd.display()
        )
    })?;
    let file_contents = produce().inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })?;
    let written = file_contents
        .pieces()
        .try_for_each(|piece| file.write_all(piece))
        .map_err(|e| ("write", e))
        .and_then(|_| file.sync_all().map_err(|e| ("fsync", e)));
    if let Err((operation, e)) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("Write error saving DB on disk({operation}): {e}"));
    }
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!(
            "Error moving temp DB file {} on the final destination {}: {e}",
            temp.display(),
            path.display()
        )
    })
}

/// Records a successful save of a snapshot taken when `dirty_at_snapshot`
/// changes were pending (later changes stay counted).
fn saved(server: &Server, dirty_at_snapshot: u64) {
    let p = &server.persistence;
    p.dirty.fetch_sub(dirty_at_snapshot, Ordering::Relaxed);
    p.last_save_s.store(now_s(), Ordering::Relaxed);
}

/// Saves while the caller holds the keyspace gate exclusively (`databases`).
fn save_locked(server: &Server, databases: &[Db]) -> Result<(), String> {
    let dirty = server.persistence.changes_since_last_save();
    let libraries = server.scripting.library_codes();
    let cutoff = server.keyspace.snapshot_cutoff_ms();
    write_file(&rdb_path(server), || {
        let file = rdb::write(
            databases,
            &aux_fields(Some(server), false),
            &libraries,
            cutoff,
        );
        // Everything waits for SAVE anyway, so the pauses come together.
        server
            .keyspace
            .debug_delays
            .after_saving(file.keys() as usize);
        Ok(file)
    })?;
    saved(server, dirty);
    info!("DB saved on disk");
    Ok(())
}

/// The SAVE command: counted in `rdb_saves`, then [`save`].
pub fn save_command(server: &Server) -> Result<(), String> {
    server.persistence.saves.fetch_add(1, Ordering::Relaxed);
    save(server)
}

/// A synchronous save; commands wait until the file is on disk.
pub fn save(server: &Server) -> Result<(), String> {
    let databases = server.keyspace.exclusive();
    save_locked(server, &databases).inspect_err(|e| warn!("{e}"))
}

/// One background save, run on the saver thread.
fn background_save(server: &Server) {
    info!("Background saving started by pid {}", std::process::id());
    let started = Instant::now();
    let p = &server.persistence;
    let dirty = p.changes_since_last_save();
    let written = match server.keyspace.begin_snapshot() {
        Some(job) => write_file(&rdb_path(server), || {
            *p.running_job.lock() = Some(job.clone());
            if p.killed.load(Ordering::SeqCst) {
                job.hurry();
            }
            // The libraries as of just after the snapshot's instant: FUNCTION
            // LOAD and friends do not take the gate, so one racing with
            // BGSAVE may or may not be in the file (a full sync's snapshot
            // takes them under the write order, exactly at its offset).
            let libraries = server.scripting.library_codes();
            server.keyspace.complete_snapshot(&job);
            p.running_job.lock().take();
            if p.killed.load(Ordering::SeqCst) {
                return Err("Background save killed".to_string());
            }
            Ok(job.take_rdb(&aux_fields(Some(server), false), &libraries))
        }),
        None => Err("Background save refused: a snapshot is already running".to_string()),
    };
    match written {
        // Stopped by FLUSHALL or SHUTDOWN: not an error (Redis kills its
        // child with SIGUSR1, which leaves the last status as it was).
        Err(_) if p.killed.load(Ordering::SeqCst) => {}
        Ok(()) => {
            saved(server, dirty);
            info!("DB saved on disk");
            info!("Background saving terminated with success");
            p.last_bgsave_ok.store(true, Ordering::Relaxed);
        }
        Err(e) => {
            warn!("{e}");
            warn!("Background saving error");
            p.last_bgsave_ok.store(false, Ordering::Relaxed);
        }
    }
    p.last_bgsave_time_s
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
}

/// Parses the `save` directive ("3600 1 300 100") into (seconds, changes).
fn save_points(server: &Server) -> Vec<(u64, u64)> {
    let config = server.config.read();
    let numbers: Vec<u64> = config
        .get("save")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

pub fn has_save_points(server: &Server) -> bool {
    !save_points(server).is_empty()
}

/// The save point due now, as Redis's `serverCron` checks them: enough
/// changes, enough time since the last save, and the last attempt succeeded
/// or is old enough to retry.
fn due_save_point(server: &Server) -> Option<(u64, u64)> {
    let p = &server.persistence;
    let now = now_s();
    let since_save = now.saturating_sub(p.last_save_s());
    let retry_ok = p.last_bgsave_ok.load(Ordering::Relaxed)
        || now.saturating_sub(p.last_bgsave_try_s.load(Ordering::Relaxed)) > BGSAVE_RETRY_DELAY_S;
    save_points(server).into_iter().find(|&(seconds, changes)| {
        p.changes_since_last_save() >= changes && since_save > seconds && retry_ok
    })
}

/// Starts the `rdb-saver` thread: it runs BGSAVE requests and checks the
/// save points ten times a second.
pub fn spawn_saver(server: Arc<Server>) {
    let spawned = std::thread::Builder::new()
        .name("rdb-saver".into())
        .spawn(move || {
            crate::background::lower_priority();
            saver_loop(&server)
        });
    if let Err(e) = spawned {
        warn!("Can't start the RDB saver thread: {e}");
    }
}

/// The `rdb-saver` thread's loop: BGSAVE requests and the save points.
fn saver_loop(server: &Server) {
    loop {
        let p = &server.persistence;
        {
            let mut guard = p.wake_lock.lock();
            if !p.bgsave_in_progress() {
                p.wake.wait_for(&mut guard, Duration::from_millis(100));
            }
        }
        if server.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        if !p.bgsave_in_progress() {
            if let Some((seconds, changes)) = due_save_point(server) {
                info!("{changes} changes in {seconds} seconds. Saving...");
                p.request_bgsave();
            }
        }
        if p.bgsave_in_progress() && server.keyspace.snapshot_running() {
            // BGSAVE SCHEDULE during an AOF rewrite: it starts once the
            // rewrite's snapshot is done.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        if p.bgsave_in_progress() {
            background_save(server);
            let _guard = p.wake_lock.lock();
            p.killed.store(false, Ordering::SeqCst);
            p.bgsave_in_progress.store(false, Ordering::SeqCst);
            p.ended.notify_all();
        }
    }
}

/// Reads the RDB file into `count` fresh databases, logging as Redis's
/// loader does.
fn read_rdb(server: &Server, count: usize) -> Result<Option<LoadedRdb>, String> {
    let path = rdb_path(server);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let verify = server.config.read().get_bool("rdbchecksum");
    let loaded = server
        .keyspace
        .load_rdb(&bytes, count, verify)
        .map_err(|e| {
            format!(
                "Internal error in RDB reading offset {}: {}",
                e.offset, e.message
            )
        })?;
    let summary = &loaded.summary;
    let aux = |name: &str| {
        summary
            .aux
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(version) = aux("redis-ver") {
        info!("Loading RDB produced by version {version}");
    }
    if let Some(ctime) = aux("ctime").and_then(|c| c.parse::<i64>().ok()) {
        info!("RDB age {} seconds", now_s() as i64 - ctime);
    }
    if let Some(used) = aux("used-mem").and_then(|m| m.parse::<f64>().ok()) {
        info!(
            "RDB memory usage when created {:.2} Mb",
            used / 1024.0 / 1024.0
        );
    }
    if verify && summary.version >= 5 && !summary.checksum_verified {
        warn!("RDB file was saved with checksum disabled: no check performed.");
    }
    for key in &summary.empty_keys {
        warn!("rdbLoadObject skipping empty key: {key}");
    }
    if summary.empty_keys.is_empty() {
        info!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            loaded.keys_loaded, loaded.keys_expired
        );
    } else {
        warn!(
            "Done loading RDB, keys loaded: {}, keys expired: {}, empty keys skipped: {}.",
            loaded.keys_loaded,
            loaded.keys_expired,
            summary.empty_keys.len()
        );
    }
    let p = &server.persistence;
    p.last_load_keys_loaded
        .store(loaded.keys_loaded, Ordering::Relaxed);
    p.last_load_keys_expired
        .store(loaded.keys_expired, Ordering::Relaxed);
    Ok(Some(loaded))
}

/// Loads the RDB file at startup, if there is one. An unreadable file is
/// fatal (the caller exits), as in Redis.
pub fn load_at_startup(server: &Server) -> Result<(), String> {
    let started = Instant::now();
    let count = server.keyspace.database_count();
    // A server configured as a replica keeps the file's expired keys for its
    // master's DEL, as Redis's loader does when it is not a master.
    if crate::repl::configured_master(server).is_some() {
        server.keyspace.set_replica(true);
    }
    let Some(mut loaded) = read_rdb(server, count).inspect_err(|e| {
        warn!("{e}");
        warn!("Terminating server after rdb file reading failure.");
    })?
    else {
        return Ok(());
    };
    let stream = crate::repl::RdbStreamInfo::from_aux(&loaded.summary.aux);
    let loaded_expired = std::mem::take(&mut loaded.expired);
    let functions = functions_of(&loaded).inspect_err(|e| {
        warn!("{e}");
        warn!("Terminating server after rdb file reading failure.");
    })?;
    loaded.install(&server.keyspace.exclusive());
    server.scripting.replace_functions(functions);
    info!(
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    if let Some(stream) = stream {
        crate::repl::resume_from_rdb(server, stream, &loaded_expired);
    }
    Ok(())
}

/// The function engine an RDB file's libraries make, to replace the
/// current one (Redis flushes the libraries with the keys before loading).
pub(crate) fn functions_of(loaded: &LoadedRdb) -> Result<FunctionEngine, String> {
    FunctionEngine::with_libraries(library_codes(loaded))
        .map_err(|e| format!("Failed loading library, {e}"))
}

fn library_codes(loaded: &LoadedRdb) -> Vec<Bytes> {
    let libraries = &loaded.summary.libraries;
    libraries
        .iter()
        .map(|c| Bytes::copy_from_slice(c))
        .collect()
}

/// Which half of DEBUG RELOAD failed (the reason is in the log).
pub enum ReloadFailure {
    Save,
    Load,
}

/// DEBUG RELOAD's options, as Redis names them.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReloadOptions {
    /// NOSAVE: load the file as it is.
    pub nosave: bool,
    /// NOFLUSH: load on top of the current keys and libraries.
    pub noflush: bool,
    /// MERGE: with NOFLUSH, what the file holds replaces what is there.
    pub merge: bool,
}

/// DEBUG RELOAD: save (unless NOSAVE), then replace the keyspace and the
/// libraries with the file's contents (or, with NOFLUSH, add the file's to
/// them), all under the exclusive gate (`databases`, held by the caller or
/// by the running transaction). A file that fails to load, or a key or
/// library already there without MERGE, leaves everything as it was.
pub fn debug_reload(
    server: &Server,
    databases: &KeyspaceExclusive<'_>,
    options: ReloadOptions,
) -> Result<(), ReloadFailure> {
    if !options.nosave {
        save_locked(server, databases).map_err(|e| {
            warn!("{e}");
            ReloadFailure::Save
        })?;
    }
    let loaded = match read_rdb(server, databases.len()) {
        Ok(Some(loaded)) => loaded,
        Ok(None) => {
            warn!("Fatal error loading the DB: No such file or directory.");
            return Err(ReloadFailure::Load);
        }
        Err(e) => {
            warn!("{e}");
            return Err(ReloadFailure::Load);
        }
    };
    let load_failed = |e: String| {
        warn!("{e}");
        ReloadFailure::Load
    };
    if options.noflush {
        loaded
            .keep_live_keys(databases, options.merge)
            .map_err(load_failed)?;
        let scripting = &server.scripting;
        let mut engines = scripting.engines();
        let added = engines
            .functions
            .add_libraries(library_codes(&loaded), options.merge);
        scripting.libraries_changed(&engines);
        added.map_err(|e| load_failed(format!("Failed loading library, {e}")))?;
    } else {
        let functions = functions_of(&loaded).map_err(load_failed)?;
        server.scripting.replace_functions(functions);
    }
    loaded.install(databases);
    server.tracking.invalidate_all();
    warn!("DB reloaded by DEBUG RELOAD");
    Ok(())
}

/// Stops a running background save, as Redis kills its saving child (FLUSHALL,
/// SHUTDOWN): the snapshot walk finishes without `rdb-key-save-delay`'s pauses
/// (Ferrite's walk cannot be abandoned half way: commands hold captures of
/// it), its file is not written, its temp file is removed and the changes
/// stay counted. Returns at once; false if no background save was running.
pub fn stop_background_save(server: &Server) -> bool {
    let p = &server.persistence;
    let _guard = p.wake_lock.lock();
    if !p.bgsave_in_progress() {
        return false;
    }
    p.killed.store(true, Ordering::SeqCst);
    if let Some(job) = p.running_job.lock().as_ref() {
        job.hurry();
    }
    true
}

/// SHUTDOWN's [`stop_background_save`], returning once the save has ended
/// (the final save must not race it for the temp file). The caller holds no
/// part of the keyspace gate, which the walk may still need.
pub fn kill_background_save(server: &Server) {
    if !stop_background_save(server) {
        return;
    }
    warn!("There is a child saving an .rdb. Killing it!");
    let p = &server.persistence;
    let mut guard = p.wake_lock.lock();
    while p.bgsave_in_progress() {
        p.ended.wait_for(&mut guard, Duration::from_millis(100));
    }
}

/// Saving on the way out: SHUTDOWN (SAVE, or by default when save points
/// are configured) and SIGTERM/SIGINT.
pub fn save_before_exit(server: &Server) -> Result<(), String> {
    info!("Saving the final RDB snapshot before exiting.");
    save(server)
}
