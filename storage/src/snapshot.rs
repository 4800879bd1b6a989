//! Point-in-time snapshots that do not stop writes (BGSAVE): the idea
//! Dragonfly uses, at shard granularity.
//!
//! A snapshot starts with the keyspace gate held exclusively for an instant
//! (no command is mid-way), which fixes its point in time and a new epoch.
//! From then on a background walk visits every shard, and *any* command that
//! locks a shard the walk has not reached yet first serialises that shard's
//! entries into the snapshot, under the shard's own lock, before it reads or
//! changes anything. Each shard is therefore captured exactly once, as it was
//! at the snapshot's start, while commands keep running; a write only pays
//! for serialising one small shard, once; that holds for commands run inside
//! a transaction or script too (they lock shards through the exclusive
//! hold's view). Operations that swap or replace whole databases (SWAPDB,
//! loading an RDB file: `KeyspaceExclusive::swap_databases`,
//! `LoadedRdb::install`) first capture every shard not yet captured, so the
//! snapshot never sees their effects.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::rdb;
use crate::shard::Shard;

/// The snapshot in progress, if any.
#[derive(Default)]
pub(crate) struct Snapshots {
    /// Set while a job is running: the only thing the request path reads
    /// when no snapshot runs.
    active: AtomicBool,
    last_epoch: AtomicU64,
    job: Mutex<Option<Arc<SnapshotJob>>>,
}

/// One snapshot: the serialised keys of each database, filled shard by shard.
pub struct SnapshotJob {
    /// Shards whose `snapshot_epoch` is below this have not been captured.
    epoch: u64,
    /// The snapshot's point in time: keys expired then are left out.
    now_ms: u64,
    databases: Vec<Mutex<DbChunk>>,
    /// Every shard was captured; no more capturing happens.
    complete: AtomicBool,
}

/// The captured keys of one database, in RDB key encoding.
#[derive(Default)]
pub(crate) struct DbChunk {
    pub(crate) bytes: Vec<u8>,
    pub(crate) keys: u64,
    pub(crate) volatile: u64,
}

impl Snapshots {
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Starts a job for `databases` databases as of `now_ms`. The caller
    /// holds the keyspace gate exclusively.
    pub(crate) fn begin(&self, databases: usize, now_ms: u64) -> Arc<SnapshotJob> {
        let epoch = self.last_epoch.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(SnapshotJob {
            epoch,
            now_ms,
            databases: (0..databases).map(|_| Mutex::default()).collect(),
            complete: AtomicBool::new(false),
        });
        *self.job.lock() = Some(job.clone());
        self.active.store(true, Ordering::Release);
        job
    }

    /// Called with shard `shard` of database `db` locked, before a command
    /// uses it: captures the shard if the running job has not yet.
    pub(crate) fn before_access(&self, db: usize, shard: &mut Shard) {
        if !self.is_active() {
            return;
        }
        let job = self.job.lock().clone();
        if let Some(job) = job {
            job.capture(db, shard);
        }
    }

    /// Ends the running job, if it is `job` (or any job, with `None`);
    /// every shard must have been captured.
    pub(crate) fn finish(&self, job: Option<&SnapshotJob>) {
        let mut slot = self.job.lock();
        let matches = match (slot.as_ref(), job) {
            (Some(running), Some(job)) => running.epoch == job.epoch,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if let Some(running) = slot.take_if(|_| matches) {
            running.complete.store(true, Ordering::Release);
            self.active.store(false, Ordering::Release);
        }
    }
}

impl SnapshotJob {
    fn capture(&self, db: usize, shard: &mut Shard) {
        if shard.snapshot_epoch >= self.epoch || self.complete.load(Ordering::Acquire) {
            return;
        }
        shard.snapshot_epoch = self.epoch;
        let mut chunk = DbChunk::default();
        for (key, entry) in shard.entries() {
            if entry.is_expired(self.now_ms) {
                continue;
            }
            chunk.add(key, entry);
        }
        if chunk.keys == 0 {
            return;
        }
        let Some(target) = self.databases.get(db) else {
            return;
        };
        let mut target = target.lock();
        target.bytes.extend_from_slice(&chunk.bytes);
        target.keys += chunk.keys;
        target.volatile += chunk.volatile;
    }

    pub fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// The RDB file of the finished snapshot, with `aux` fields and the
    /// function `libraries` the caller took at the snapshot's start.
    pub fn to_rdb<C: AsRef<[u8]>>(&self, aux: &[(&str, String)], libraries: &[C]) -> Vec<u8> {
        let chunks: Vec<_> = self.databases.iter().map(|db| db.lock()).collect();
        rdb::assemble(chunks.iter().map(|chunk| &**chunk), aux, libraries)
    }
}
