//! Threads doing whole-keyspace work beside the request path (the snapshot
//! walk of BGSAVE and of a full sync) run at a lower scheduling priority.
//! Redis forks such work into a child the kernel schedules like any process;
//! Ferrite's walk shares the process with the workers serving clients, and on
//! a machine with as many cores as workers (the default) it took their CPU:
//! the master's p99 during a full sync rose with it. At nice 10 the walk
//! gets the cores the workers leave idle (CFS still gives it a share, so it
//! always finishes), and its commands-side cost stays per key (`snapshot.rs`).

use tracing::debug;

/// The nice value of background threads (0 is the default, 19 the lowest).
const BACKGROUND_NICE: libc::c_int = 10;

/// Lowers the calling thread's priority. On Linux the nice value belongs to
/// the thread, not the process; elsewhere this does nothing.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take no pointers; they only read
        // and change the calling thread's scheduling attributes.
        let failed = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BACKGROUND_NICE) != 0
        };
        if failed {
            debug!(
                "Could not lower the priority of a background thread: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Starts `work` on a new low-priority thread called `name`; its result
/// arrives on the returned channel.
pub fn spawn<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<tokio::sync::oneshot::Receiver<T>> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_priority();
            // The receiver is gone only if the waiting task was dropped.
            let _ = done.send(work());
        })?;
    Ok(result)
}

/// [`spawn`], then waits for the result without holding a tokio worker.
pub async fn run<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    spawn(name, work)?
        .await
        .map_err(|_| std::io::Error::other(format!("the {name} thread ended without a result")))
}

/// `rdb-key-save-delay` (microseconds per key, a debugging directive
/// Redis's tests use to make a save or rewrite slow): before a background
/// walk, waits that long for each key there is, reading the directive again every
/// few milliseconds (so setting it to 0 ends the wait) and stopping early
/// once `abandoned` says the work is no longer wanted.
pub fn key_save_delay(server: &crate::server::Server, abandoned: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    let keys: u64 = {
        let ks = server.keyspace.read();
        (0..ks.database_count())
            .map(|db| ks.counts(db).0 as u64)
            .sum()
    };
    loop {
        let per_key = server.config.read().get_i64("rdb-key-save-delay").max(0) as u64;
        let total = std::time::Duration::from_micros(per_key.saturating_mul(keys));
        if started.elapsed() >= total || abandoned() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
