//! Point-in-time snapshots that do not stop writes (BGSAVE, full syncs): the
//! idea Dragonfly uses, with a shard as the unit of progress and a key as the
//! unit of copy-on-write.
//!
//! A snapshot starts with the keyspace gate held exclusively for an instant
//! (no command is mid-way), which fixes its point in time and a new epoch.
//! From then on a background walk visits every shard and serialises it. A
//! command that locks a shard the walk has not reached yet *attaches* a
//! capture to it (`ShardCapture`, O(1)); from then on, the first time any key
//! of that shard is looked up, changed, created or removed, the shard first
//! serialises that one key as it was at the snapshot's start (or records
//! that it did not exist) and marks it settled. When the walk reaches the
//! shard it serialises every key not settled, which no command has touched,
//! so is still as it was. Operations on a whole shard (clearing it, the
//! active expire sweep) complete the shard's capture first. So each key is
//! captured exactly once, as of the snapshot's start, while a command only
//! pays for the keys it touches: serialising a whole shard in the first
//! command to lock it (about a thousand keys with a million in a database)
//! made the master's p99 during a full sync several times its usual value.
//! Commands inside a transaction or script lock shards through the exclusive
//! hold's view and capture the same way. Operations that swap or replace
//! whole databases (SWAPDB, loading an RDB file:
//! `KeyspaceExclusive::swap_databases`, `LoadedRdb::install`) first complete
//! every shard's capture, so the snapshot never sees their effects.
//!
//! Each completed shard stays its own buffer (`DbChunk::pieces`) and the file
//! is handed out as those pieces (`RdbFile`): appending every shard to one
//! growing buffer copied it over and over (and zeroed fresh pages for each
//! copy) under the database's chunk lock.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::rdb::{self, RdbFile};
use crate::shard::{Entry, Shard};

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
    /// Shards whose `snapshot_epoch` is below this have not been reached.
    epoch: u64,
    /// The snapshot's point in time: keys expired then are left out.
    now_ms: u64,
    databases: Vec<Mutex<DbChunk>>,
    /// Every shard was captured; no more capturing happens.
    complete: AtomicBool,
    /// The walk goes on without `rdb-key-save-delay`'s pauses (its save was
    /// abandoned: SHUTDOWN stops a BGSAVE).
    hurried: AtomicBool,
}

/// The captured keys of one database, in RDB key encoding: one piece per
/// completed shard, in completion order.
#[derive(Default)]
pub(crate) struct DbChunk {
    pub(crate) pieces: Vec<Vec<u8>>,
    pub(crate) keys: u64,
    pub(crate) volatile: u64,
}

impl DbChunk {
    /// Serialises `key` into `piece` unless it expired at `now_ms`.
    fn write(&mut self, piece: &mut Vec<u8>, now_ms: u64, key: &[u8], entry: &Entry) {
        if entry.is_expired(now_ms) {
            return;
        }
        rdb::write_entry(piece, key, entry);
        self.keys += 1;
        self.volatile += entry.expire_at_ms().is_some() as u64;
    }

    /// Appends the keys of `entries` not expired at `now_ms`, as one piece.
    pub(crate) fn add<'a>(
        &mut self,
        now_ms: u64,
        entries: impl Iterator<Item = (&'a [u8], &'a Entry)>,
    ) {
        let mut piece = Vec::new();
        for (key, entry) in entries {
            self.write(&mut piece, now_ms, key, entry);
        }
        self.push(piece);
    }

    fn push(&mut self, piece: Vec<u8>) {
        if !piece.is_empty() {
            self.pieces.push(piece);
        }
    }

    /// Moves `other`'s keys after this chunk's.
    fn append(&mut self, other: DbChunk) {
        self.pieces.extend(other.pieces);
        self.keys += other.keys;
        self.volatile += other.volatile;
    }
}

/// A running snapshot's capture of one shard it has not completed: the keys
/// commands touched since, serialised as they were before the first touch.
pub(crate) struct ShardCapture {
    job: Arc<SnapshotJob>,
    db: usize,
    /// Keys serialised already, or absent at the snapshot's start: the
    /// shard's completion skips them.
    settled: HashSet<Box<[u8]>, ahash::RandomState>,
    chunk: DbChunk,
    piece: Vec<u8>,
}

impl fmt::Debug for ShardCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardCapture")
            .field("epoch", &self.job.epoch)
            .field("db", &self.db)
            .field("settled", &self.settled.len())
            .finish()
    }
}

impl ShardCapture {
    /// Called before `key` is used: `stored` is its entry as stored now,
    /// unchanged since the snapshot's start unless the key is settled.
    pub(crate) fn preserve(&mut self, key: &[u8], stored: Option<&Entry>) {
        if self.settled.contains(key) {
            return;
        }
        if let Some(entry) = stored {
            self.chunk
                .write(&mut self.piece, self.job.now_ms, key, entry);
        }
        self.settled.insert(key.into());
    }

    /// Serialises the keys of `entries` (the shard's) not settled yet and
    /// hands the shard's keys to the job.
    pub(crate) fn complete<'a>(mut self, entries: impl Iterator<Item = (&'a [u8], &'a Entry)>) {
        for (key, entry) in entries {
            if !self.settled.contains(key) {
                self.chunk
                    .write(&mut self.piece, self.job.now_ms, key, entry);
            }
        }
        self.chunk.push(self.piece);
        if self.chunk.keys == 0 {
            return;
        }
        if let Some(target) = self.job.databases.get(self.db) {
            target.lock().append(self.chunk);
        }
    }
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
            hurried: AtomicBool::new(false),
        });
        *self.job.lock() = Some(job.clone());
        self.active.store(true, Ordering::Release);
        job
    }

    /// Called with shard `shard` of database `db` locked, before a command
    /// uses it: attaches the running job's capture if the shard was not
    /// reached yet (its keys are then captured one by one as they are used).
    pub(crate) fn before_access(&self, db: usize, shard: &mut Shard) {
        // A shard the newest job reached needs nothing (epochs only grow,
        // under the gate held exclusively, which the caller holds shared):
        // checked before the job's mutex, which every command would
        // otherwise take while a snapshot runs.
        if !self.is_active() || shard.snapshot_epoch >= self.last_epoch.load(Ordering::Relaxed) {
            return;
        }
        let job = self.job.lock().clone();
        let Some(job) = job else {
            return;
        };
        if shard.snapshot_epoch >= job.epoch || job.is_complete() {
            return;
        }
        // A capture left by an earlier job (none should be: a job ends
        // only once every shard is complete) goes to that job.
        shard.complete_capture();
        shard.snapshot_epoch = job.epoch;
        shard.capture = Some(Box::new(ShardCapture {
            job,
            db,
            settled: HashSet::default(),
            chunk: DbChunk::default(),
            piece: Vec::new(),
        }));
    }

    /// Captures the whole shard for the running job, if it has not yet.
    pub(crate) fn capture_whole(&self, db: usize, shard: &mut Shard) {
        self.before_access(db, shard);
        shard.complete_capture();
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

impl fmt::Debug for SnapshotJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotJob")
            .field("epoch", &self.epoch)
            .field("complete", &self.is_complete())
            .finish()
    }
}

impl SnapshotJob {
    pub fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Makes the walk finish without pausing for `rdb-key-save-delay`.
    pub fn hurry(&self) {
        self.hurried.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_hurried(&self) -> bool {
        self.hurried.load(Ordering::Relaxed)
    }

    /// The serialised keys of database `db` captured so far (removed from
    /// the job).
    pub(crate) fn take_pieces(&self, db: usize) -> Vec<Vec<u8>> {
        self.databases
            .get(db)
            .map(|chunk| std::mem::take(&mut chunk.lock().pieces))
            .unwrap_or_default()
    }

    /// The RDB file of the finished snapshot, with `aux` fields and the
    /// function `libraries` the caller took at the snapshot's start. The
    /// captured keys move into the file: a second call has none.
    pub fn take_rdb<C: AsRef<[u8]>>(&self, aux: &[(&str, String)], libraries: &[C]) -> RdbFile {
        let chunks = self
            .databases
            .iter()
            .map(|db| std::mem::take(&mut *db.lock()));
        rdb::assemble(chunks, aux, libraries)
    }
}
