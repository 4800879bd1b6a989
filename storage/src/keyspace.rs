//! The whole keyspace: the databases behind one gate, the hasher that places
//! keys in shards, keyspace statistics, and the active expire cycle.
//!
//! Ordinary commands hold the gate shared (cheap) and lock only their shards;
//! commands that must see or change every database at once (SWAPDB, FLUSHALL,
//! DEBUG RELOAD, later MULTI/EXEC and scripts) hold it exclusively.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::RandomState;
use std::ops::Deref;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::db::{Db, KeyHash, ScanBatch, SHARD_COUNT};
use crate::encoding::EncodingLimitsCell;
use crate::events::{KeyEvents, KeyReporter};
use crate::expiry::{ExpiryPolicy, ReplicaExpires, TrackedKey};
use crate::lfu::LfuParams;
use crate::now_ms;
use crate::rdb::{self, RdbError, RdbSummary};
use crate::shard::{Entry, ShardAccess, ShardGuard};
use crate::snapshot::{SnapshotJob, Snapshots};
use crate::value::ValueType;

/// Counters the keyspace keeps for INFO, and switches DEBUG flips.
#[derive(Debug)]
pub struct KeyspaceStats {
    expired_keys: AtomicU64,
    active_expire_enabled: AtomicBool,
    /// Set while an LFU eviction policy is configured: accesses then update
    /// each key's frequency counter.
    lfu_enabled: AtomicBool,
    lfu_log_factor: AtomicU32,
    lfu_decay_minutes: AtomicU32,
    /// Keys removed because they expired, while a replication log wants
    /// each removal propagated as a DEL.
    pub expired_log: ExpiredLog,
    /// Set while this keyspace replicates a master, which then decides
    /// when keys expire (see [`ExpiryPolicy`]).
    replica: AtomicBool,
    /// The keys a writable replica's clients gave an expiry.
    pub replica_expires: ReplicaExpires,
    /// Until this time (Unix ms; 0: never) lazy expiry hides expired keys
    /// instead of deleting them: a client pause keeps the dataset as it is.
    expiry_held_until_ms: AtomicU64,
}

/// The keys expiry (or `maxmemory` eviction) removed, in the order they were
/// removed, collected only while switched on (a master with a replication
/// log), to be propagated as DEL. Pushed under the
/// shard lock that removed the key, so a later write to the same key always
/// finds the removal already here.
#[derive(Debug, Default)]
pub struct ExpiredLog {
    enabled: AtomicBool,
    /// Switched on while the append-only file is written (it feeds the
    /// removals too, whatever the replication log does).
    for_aof: AtomicBool,
    pending: AtomicUsize,
    keys: parking_lot::Mutex<Vec<(usize, Vec<u8>)>>,
}

impl ExpiredLog {
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
        if !enabled && !self.for_aof.load(Ordering::Acquire) {
            self.take();
        }
    }

    /// Collects removals for the append-only file too (or no longer).
    pub fn set_aof_enabled(&self, enabled: bool) {
        self.for_aof.store(enabled, Ordering::Release);
        if !enabled && !self.enabled.load(Ordering::Acquire) {
            self.take();
        }
    }

    pub fn push(&self, db: usize, key: &[u8]) {
        if self.enabled.load(Ordering::Relaxed) || self.for_aof.load(Ordering::Relaxed) {
            self.keys.lock().push((db, key.to_vec()));
            self.pending.fetch_add(1, Ordering::Release);
        }
    }

    /// Whether removals are waiting (cheap: one atomic load).
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire) > 0
    }

    /// The removals collected so far, as (database, key).
    pub fn take(&self) -> Vec<(usize, Vec<u8>)> {
        let mut keys = self.keys.lock();
        self.pending.store(0, Ordering::Release);
        std::mem::take(&mut *keys)
    }
}

impl KeyspaceStats {
    pub fn expired_keys(&self) -> u64 {
        self.expired_keys.load(Ordering::Relaxed)
    }

    pub(crate) fn record_expired(&self, n: u64) {
        if n > 0 {
            self.expired_keys.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn reset(&self) {
        self.expired_keys.store(0, Ordering::Relaxed);
    }

    pub fn set_active_expire(&self, enabled: bool) {
        self.active_expire_enabled.store(enabled, Ordering::Relaxed);
    }

    /// Turns frequency tracking on or off and sets its parameters.
    pub fn configure_lfu(&self, enabled: bool, params: LfuParams) {
        self.lfu_log_factor
            .store(params.log_factor, Ordering::Relaxed);
        self.lfu_decay_minutes
            .store(params.decay_minutes, Ordering::Relaxed);
        self.lfu_enabled.store(enabled, Ordering::Relaxed);
    }

    pub(crate) fn lfu_params(&self) -> Option<LfuParams> {
        self.lfu_enabled.load(Ordering::Relaxed).then(|| LfuParams {
            log_factor: self.lfu_log_factor.load(Ordering::Relaxed),
            decay_minutes: self.lfu_decay_minutes.load(Ordering::Relaxed),
        })
    }

    pub fn active_expire_enabled(&self) -> bool {
        self.active_expire_enabled.load(Ordering::Relaxed)
    }

    /// Whether a master decides when keys expire (this is its replica).
    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Acquire)
    }

    /// The policy of lookups made for no client command in particular: a
    /// master deletes expired keys, a replica hides them.
    fn default_expiry(&self) -> ExpiryPolicy {
        if self.is_replica() {
            ExpiryPolicy::Hide
        } else {
            ExpiryPolicy::Delete
        }
    }

    /// Until `unix_ms` (0: from now on not), keys met expired are reported
    /// absent but not deleted, counted or logged (Redis's `expireIfNeeded`
    /// while clients are paused).
    pub fn hold_expiry_until(&self, unix_ms: u64) {
        self.expiry_held_until_ms.store(unix_ms, Ordering::Relaxed);
    }

    /// Whether lazy expiry only hides expired keys at `now_ms`.
    pub(crate) fn expiry_held(&self, now_ms: u64) -> bool {
        now_ms < self.expiry_held_until_ms.load(Ordering::Relaxed)
    }
}

/// What one active expire cycle did.
#[derive(Debug, Default, Clone, Copy)]
pub struct ActiveExpireReport {
    pub shards_visited: usize,
    pub keys_expired: usize,
    pub out_of_time: bool,
}

/// All databases.
pub struct Keyspace {
    gate: RwLock<Vec<Db>>,
    /// Fixed at creation (loading an RDB file replaces the databases with as
    /// many), so reading it never takes the gate: a command holding the gate
    /// shared must not take it again while an exclusive holder waits.
    database_count: usize,
    /// Collection encoding thresholds (CONFIG SET changes them).
    pub encoding_limits: EncodingLimitsCell,
    /// `rdb-key-save-delay` and `key-load-delay` (CONFIG SET changes them).
    pub debug_delays: crate::DebugDelays,
    /// Who hears about keys appearing and expiring (keyspace notifications).
    pub events: KeyEvents,
    hasher: RandomState,
    stats: KeyspaceStats,
    /// Where the next active expire cycle resumes: db * SHARD_COUNT + shard.
    expire_cursor: AtomicUsize,
    /// The BGSAVE snapshot in progress: shards are captured before use.
    snapshots: Snapshots,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        let databases = databases.max(1);
        Keyspace {
            database_count: databases,
            encoding_limits: EncodingLimitsCell::default(),
            debug_delays: crate::DebugDelays::default(),
            events: KeyEvents::default(),
            gate: RwLock::new((0..databases).map(|_| Db::default()).collect()),
            hasher: RandomState::new(),
            stats: KeyspaceStats {
                expired_keys: AtomicU64::new(0),
                active_expire_enabled: AtomicBool::new(true),
                lfu_enabled: AtomicBool::new(false),
                lfu_log_factor: AtomicU32::new(LfuParams::default().log_factor),
                lfu_decay_minutes: AtomicU32::new(LfuParams::default().decay_minutes),
                expired_log: ExpiredLog::default(),
                replica: AtomicBool::new(false),
                replica_expires: ReplicaExpires::default(),
                expiry_held_until_ms: AtomicU64::new(0),
            },
            expire_cursor: AtomicUsize::new(0),
            snapshots: Snapshots::default(),
        }
    }

    pub fn stats(&self) -> &KeyspaceStats {
        &self.stats
    }

    /// Makes this keyspace a replica's (its master decides when keys expire:
    /// they are hidden, not deleted, and the active cycle expires only the
    /// keys the replica's own clients gave an expiry) or a master's again.
    pub fn set_replica(&self, replica: bool) {
        self.stats.replica.store(replica, Ordering::Release);
    }

    /// Shared access for ordinary commands, with the expiry policy of the
    /// server's role (a command picks its own with [`KeyspaceRead::with_expiry`]).
    pub fn read(&self) -> KeyspaceRead<'_> {
        KeyspaceRead {
            dbs: Databases::Shared(self.gate.read()),
            keyspace: self,
            now_ms: now_ms(),
            expiry: self.stats.default_expiry(),
        }
    }

    /// Exclusive access: no other command runs while this is held. Commands
    /// run through its view capture shards for a running snapshot like any
    /// other; only swapping or replacing whole databases completes it first.
    pub fn exclusive(&self) -> KeyspaceExclusive<'_> {
        KeyspaceExclusive {
            dbs: self.gate.write(),
            keyspace: self,
        }
    }

    /// [`exclusive`](Self::exclusive), waiting at most `patience`.
    pub fn exclusive_within(&self, patience: Duration) -> Option<KeyspaceExclusive<'_>> {
        Some(KeyspaceExclusive {
            dbs: self.gate.try_write_for(patience)?,
            keyspace: self,
        })
    }

    /// Starts a point-in-time snapshot of every database (BGSAVE) without
    /// stopping commands: see `snapshot.rs`. `None` if one is running.
    /// Drive it to the end with [`Keyspace::complete_snapshot`].
    pub fn begin_snapshot(&self) -> Option<Arc<SnapshotJob>> {
        let databases = self.gate.write();
        if self.snapshots.is_active() {
            return None;
        }
        Some(
            self.snapshots
                .begin(databases.len(), self.snapshot_cutoff_ms()),
        )
    }

    /// Whether a snapshot (BGSAVE, a full sync, an AOF rewrite) is running.
    pub fn snapshot_running(&self) -> bool {
        self.snapshots.is_active()
    }

    /// Keys expired at this time are left out of snapshots (BGSAVE, SAVE, a
    /// full sync): none (0), as Redis saves every key it holds. A master
    /// restarted from its file drops the expired ones while loading and
    /// feeds them to its replicas as DEL (they count in
    /// `rdb_last_load_keys_expired`); a replica keeps the keys its master
    /// has not deleted yet, so its own replicas hold them too until the
    /// master's DEL reaches them through it.
    pub fn snapshot_cutoff_ms(&self) -> u64 {
        0
    }

    /// Captures every shard `job` has not captured yet, one shard lock at a
    /// time with the gate held shared (commands run in between), then ends it.
    /// The keys stay in the job ([`SnapshotJob::take_rdb`]).
    pub fn complete_snapshot(&self, job: &SnapshotJob) {
        self.walk_snapshot(job, |_| {});
    }

    /// As [`complete_snapshot`](Self::complete_snapshot), handing the
    /// captured keys to `emit` as they are serialised (database, piece), in
    /// database order, instead of keeping them: a full sync streams them.
    pub fn stream_snapshot(&self, job: &SnapshotJob, mut emit: impl FnMut(usize, Vec<u8>)) {
        self.walk_snapshot(job, |db| {
            for piece in job.take_pieces(db) {
                emit(db, piece);
            }
        });
    }

    /// The walk: every shard in (database, shard) order, `after_shard(db)`
    /// after each. A job a database swap completed meanwhile has nothing
    /// left to capture, but its keys are still handed out database by
    /// database. After each shard, with its lock released, the walk pauses
    /// for `rdb-key-save-delay` per key it held, unless the job was hurried.
    fn walk_snapshot(&self, job: &SnapshotJob, mut after_shard: impl FnMut(usize)) {
        for db in 0..self.database_count {
            for index in 0..SHARD_COUNT {
                if !job.is_complete() {
                    let read = self.read();
                    let saved = read.lock_index(db, index).shard.complete_capture();
                    drop(read);
                    if !job.is_hurried() {
                        self.debug_delays.after_saving(saved);
                    }
                }
                after_shard(db);
            }
        }
        self.snapshots.finish(Some(job));
    }

    pub fn database_count(&self) -> usize {
        self.database_count
    }

    /// Removes expired keys shard by shard, resuming where the last cycle
    /// stopped, until every shard was visited once or `budget` is spent.
    /// (Redis samples keys from its expires table; Ferrite's shards are small,
    /// so it sweeps whole shards that have any key with an expiry.)
    pub fn active_expire_cycle(&self, budget: Duration) -> ActiveExpireReport {
        let mut report = ActiveExpireReport::default();
        if !self.stats.active_expire_enabled() {
            return report;
        }
        let start = Instant::now();
        let dbs = self.gate.read();
        let total = dbs.len() * SHARD_COUNT;
        let now = now_ms();
        let mut position = self.expire_cursor.load(Ordering::Relaxed) % total;
        let mut passed = 0;
        while passed < total {
            let db = position / SHARD_COUNT;
            if !dbs[db].has_volatile_keys() {
                // Redis's cycle skips a database with no expires, too.
                let rest = SHARD_COUNT - position % SHARD_COUNT;
                passed += rest;
                position = (position + rest) % total;
                continue;
            }
            passed += 1;
            let access = self.access(now, Some(db), ExpiryPolicy::Delete);
            let mut shard = dbs[db].lock_shard(db, position % SHARD_COUNT, access);
            self.snapshots.before_access(db, &mut shard.shard);
            report.keys_expired += shard.remove_expired();
            drop(shard);
            report.shards_visited += 1;
            position = (position + 1) % total;
            if report.shards_visited % 64 == 0 && start.elapsed() > budget {
                report.out_of_time = true;
                break;
            }
        }
        self.expire_cursor.store(position, Ordering::Relaxed);
        report
    }

    /// A replica's active cycle (Redis's `expireSlaveKeys`): only the keys
    /// its own clients gave an expiry (writable replica) are expired; its
    /// master's keys wait for the master's DEL. Stops once `budget` is spent.
    /// It visits every remembered key each cycle (Redis samples a few), so
    /// its cost grows with how many keys a writable replica's clients
    /// gave an expiry.
    pub fn expire_replica_keys(&self, budget: Duration) -> ActiveExpireReport {
        let mut report = ActiveExpireReport::default();
        if !self.stats.active_expire_enabled() {
            return report;
        }
        let start = Instant::now();
        let read = self.read();
        for (visited, (db, key)) in self.stats.replica_expires.snapshot().iter().enumerate() {
            let Some(database) = read.dbs.get(*db) else {
                continue;
            };
            let index = read.key(key).shard_index();
            let access = self.access(read.now_ms, Some(*db), ExpiryPolicy::DeleteAndTrack);
            let mut shard = database.lock_shard(*db, index, access);
            self.snapshots.before_access(*db, &mut shard.shard);
            if shard.expire_tracked(key) == TrackedKey::Expired {
                report.keys_expired += 1;
            }
            report.shards_visited += 1;
            if visited % 64 == 63 && start.elapsed() > budget {
                report.out_of_time = true;
                break;
            }
        }
        report
    }

    /// Reads the RDB file in `bytes` into `count` fresh databases (the live
    /// ones are untouched), dropping keys already expired (a master's; a
    /// replica keeps them for its master's DEL) and refusing duplicate keys
    /// and databases beyond `count`, as Redis's loader does.
    pub fn load_rdb(
        &self,
        bytes: &[u8],
        count: usize,
        verify_checksum: bool,
    ) -> Result<LoadedRdb, RdbError> {
        let databases: Vec<Db> = (0..count).map(|_| Db::default()).collect();
        let limits = self.encoding_limits.get();
        let now = now_ms();
        let keep_expired = self.stats.is_replica();
        let (mut keys_loaded, mut keys_expired) = (0u64, 0u64);
        let mut expired = Vec::new();
        let summary = rdb::parse(bytes, &limits, verify_checksum, |parsed| {
            self.debug_delays.after_loading_key();
            let Some(db) = databases.get(parsed.db) else {
                return Err(format!(
                    "FATAL: Data file was created with a Redis server configured to handle more than {count} databases"
                ));
            };
            let expire_at = match parsed.expire_at_ms {
                Some(at) if at <= now as i64 && !keep_expired => {
                    keys_expired += 1;
                    expired.push((parsed.db, parsed.key));
                    return Ok(());
                }
                Some(at) => Some(at as u64),
                None => None,
            };
            let key = KeyHash {
                bytes: &parsed.key,
                hash: self.hash(&parsed.key),
            };
            let access = self.access(now, None, ExpiryPolicy::Ignore);
            let mut shard = db.lock_shard(parsed.db, key.shard_index(), access);
            if shard
                .insert(&key, Entry::with_expiry(parsed.value, expire_at))
                .is_some()
            {
                return Err(format!(
                    "Duplicated key '{}' found in RDB file",
                    String::from_utf8_lossy(&parsed.key)
                ));
            }
            if let Some(idle) = parsed.idle_s {
                shard.set_idle(&key, idle.min(u32::MAX as u64) as u32);
            }
            if let Some(counter) = parsed.frequency {
                shard.set_frequency(&key, counter);
            }
            keys_loaded += 1;
            Ok(())
        })?;
        Ok(LoadedRdb {
            databases,
            keys_loaded,
            keys_expired,
            expired,
            summary,
        })
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// What locking a shard at `now_ms` takes, reporting key events of
    /// database `reports` (none: loading, eviction samples).
    fn access(&self, now_ms: u64, reports: Option<usize>, expiry: ExpiryPolicy) -> ShardAccess<'_> {
        ShardAccess {
            stats: &self.stats,
            hasher: &self.hasher,
            now_ms,
            reporter: reports.map(|db| KeyReporter {
                db,
                events: &self.events,
            }),
            expiry,
        }
    }
}

/// The keyspace held exclusively: by a transaction (MULTI/EXEC) or a command
/// that changes whole databases. The commands it runs see the keyspace
/// through [`KeyspaceExclusive::view`], since the gate cannot be taken again.
pub struct KeyspaceExclusive<'a> {
    dbs: RwLockWriteGuard<'a, Vec<Db>>,
    keyspace: &'a Keyspace,
}

impl KeyspaceExclusive<'_> {
    /// Ordinary command access while the gate is held exclusively.
    pub fn view(&self) -> KeyspaceRead<'_> {
        KeyspaceRead {
            dbs: Databases::Held(&self.dbs),
            keyspace: self.keyspace,
            now_ms: now_ms(),
            expiry: self.keyspace.stats.default_expiry(),
        }
    }

    /// SWAPDB: exchanges the contents of two databases, shard by shard (only
    /// a shared borrow is needed, so a transaction's view can do it too).
    pub fn swap_databases(&self, first: usize, second: usize) {
        if first != second {
            self.complete_snapshot();
            self.dbs[first].swap_contents(&self.dbs[second]);
        }
    }

    /// Captures every shard a running snapshot has not reached yet and ends
    /// it: whole databases are about to be swapped or replaced, which the
    /// per-shard capture on lock cannot see.
    fn complete_snapshot(&self) {
        let snapshots = &self.keyspace.snapshots;
        if snapshots.is_active() {
            for (index, db) in self.dbs.iter().enumerate() {
                db.for_each_raw_shard(|shard| snapshots.capture_whole(index, shard));
            }
            snapshots.finish(None);
        }
    }
}

impl Deref for KeyspaceExclusive<'_> {
    type Target = Vec<Db>;

    fn deref(&self) -> &Vec<Db> {
        &self.dbs
    }
}

/// How a [`KeyspaceRead`] holds the databases: its own shared guard, or a
/// borrow of an exclusive guard someone up the stack holds.
enum Databases<'a> {
    Shared(RwLockReadGuard<'a, Vec<Db>>),
    Held(&'a [Db]),
}

impl Deref for Databases<'_> {
    type Target = [Db];

    fn deref(&self) -> &[Db] {
        match self {
            Databases::Shared(guard) => guard,
            Databases::Held(dbs) => dbs,
        }
    }
}

/// Databases read from an RDB file, not yet in use: a file that fails to load
/// never leaves a half-loaded keyspace behind.
pub struct LoadedRdb {
    databases: Vec<Db>,
    pub keys_loaded: u64,
    /// Keys whose expiry had passed: dropped, as a master's loader does.
    pub keys_expired: u64,
    /// Those keys (database, name), which a master starting up feeds its
    /// replicas as DEL (Redis's `RDBFLAGS_FEED_REPL`).
    pub expired: Vec<(usize, Vec<u8>)>,
    pub summary: RdbSummary,
}

impl LoadedRdb {
    /// DEBUG RELOAD NOFLUSH: adds the live keys of `databases` to the loaded
    /// ones, so that installing keeps them. A key in both stays the file's
    /// with `file_wins` (MERGE, as Redis's `RDBFLAGS_ALLOW_DUP`), and is an
    /// error otherwise (Redis aborts the process there; Ferrite changes
    /// nothing and reports it).
    pub fn keep_live_keys(
        &self,
        databases: &KeyspaceExclusive<'_>,
        file_wins: bool,
    ) -> Result<(), String> {
        let keyspace = databases.keyspace;
        let now = now_ms();
        for (index, (live, loaded)) in databases.dbs.iter().zip(&self.databases).enumerate() {
            let mut outcome = Ok(());
            live.for_each_live_entry(now, |bytes, entry| {
                if outcome.is_err() {
                    return;
                }
                let key = KeyHash {
                    bytes,
                    hash: keyspace.hash(bytes),
                };
                // The loaded databases are not live yet: nothing expires there.
                let access = ShardAccess {
                    stats: &keyspace.stats,
                    hasher: &keyspace.hasher,
                    now_ms: now,
                    reporter: None,
                    expiry: ExpiryPolicy::Ignore,
                };
                let mut shard = loaded.lock_shard(index, key.shard_index(), access);
                if shard.peek(&key).is_none() {
                    shard.insert(&key, entry.clone());
                } else if !file_wins {
                    outcome = Err(format!(
                        "Duplicated key '{}' found in RDB file",
                        String::from_utf8_lossy(bytes)
                    ));
                }
            });
            outcome?;
        }
        Ok(())
    }

    /// Replaces every database's contents with the loaded ones (shard by
    /// shard, so a transaction holding the gate can do it too), after
    /// completing a running snapshot. The keys a writable replica's clients
    /// gave an expiry are forgotten with the data they were in.
    pub fn install(self, databases: &KeyspaceExclusive<'_>) {
        debug_assert_eq!(databases.dbs.len(), self.databases.len());
        databases.complete_snapshot();
        databases.keyspace.stats.replica_expires.clear();
        for (live, loaded) in databases.dbs.iter().zip(&self.databases) {
            live.swap_contents(loaded);
        }
    }
}

/// The keyspace held shared, with the time the command started and how its
/// lookups treat expired keys.
pub struct KeyspaceRead<'a> {
    dbs: Databases<'a>,
    keyspace: &'a Keyspace,
    now_ms: u64,
    expiry: ExpiryPolicy,
}

impl<'a> KeyspaceRead<'a> {
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The same access, with lookups treating expired keys as `expiry` says.
    pub fn with_expiry(mut self, expiry: ExpiryPolicy) -> Self {
        self.expiry = expiry;
        self
    }

    pub fn database_count(&self) -> usize {
        self.dbs.len()
    }

    /// The collection encoding thresholds in force.
    pub fn encoding_limits(&self) -> crate::EncodingLimits {
        self.keyspace.encoding_limits.get()
    }

    pub fn key<'k>(&self, bytes: &'k [u8]) -> KeyHash<'k> {
        KeyHash {
            bytes,
            hash: self.keyspace.hash(bytes),
        }
    }

    /// Locks the shard holding `key` in database `db`.
    pub fn lock(&self, db: usize, key: &KeyHash) -> ShardGuard<'_> {
        self.lock_index(db, key.shard_index())
    }

    /// Locks shard `index` of database `db`, capturing it first for a
    /// snapshot in progress that has not reached it.
    fn lock_index(&self, db: usize, index: usize) -> ShardGuard<'_> {
        let access = self.keyspace.access(self.now_ms, Some(db), self.expiry);
        let mut guard = self.dbs[db].lock_shard(db, index, access);
        self.keyspace.snapshots.before_access(db, &mut guard.shard);
        guard
    }

    /// Locks every shard holding one of `keys` (pairs of database and key), in
    /// ascending (database, shard) order so concurrent multi-key commands
    /// cannot deadlock. Returns the guards and, for each key, its guard's index.
    pub fn lock_many(&self, keys: &[(usize, KeyHash)]) -> (Vec<ShardGuard<'_>>, Vec<usize>) {
        let mut order: Vec<(usize, usize)> = keys
            .iter()
            .map(|(db, key)| (*db, key.shard_index()))
            .collect();
        order.sort_unstable();
        order.dedup();
        let guards = order
            .iter()
            .map(|&(db, shard)| self.lock_index(db, shard))
            .collect();
        let positions = keys
            .iter()
            .map(|(db, key)| {
                order
                    .binary_search(&(*db, key.shard_index()))
                    .expect("every key's shard was locked")
            })
            .collect();
        (guards, positions)
    }

    /// Calls `f` on every shard of database `db`, one lock at a time.
    pub fn for_each_shard(&self, db: usize, mut f: impl FnMut(&mut ShardGuard<'_>)) {
        for index in 0..self.dbs[db].shard_count() {
            f(&mut self.lock_index(db, index));
        }
    }

    /// One page of SCAN over database `db` (see `Db::scan`: expired keys
    /// the pattern matches are deleted, not returned).
    pub fn scan(
        &self,
        db: usize,
        cursor: u64,
        count: usize,
        matches: impl FnMut(&[u8]) -> bool,
        keep_type: impl FnMut(ValueType) -> bool,
    ) -> ScanBatch {
        Db::scan(
            cursor,
            count,
            |index| self.lock_index(db, index),
            matches,
            keep_type,
        )
    }

    /// Live keys and keys with an expiry in database `db`.
    pub fn counts(&self, db: usize) -> (usize, usize) {
        let (mut keys, mut volatile) = (0, 0);
        self.for_each_shard(db, |shard| {
            keys += shard.len();
            volatile += shard.volatile_len();
        });
        (keys, volatile)
    }

    /// A uniformly random live key of database `db` (RANDOMKEY): one pass
    /// over the shards picks a shard with probability proportional to its
    /// size, then a key in it. A pick that lands on an expired key deletes it
    /// (lazy expiry, as Redis's `dbRandomKey` does) and picks again, so the
    /// loop ends: every retry removes a key. A replica hides expired keys
    /// without deleting them, as does a master while a client pause holds
    /// expiry, so when every key has an expiry (all may have expired) it
    /// returns the 100th expired pick, as Redis does on a replica. It locks
    /// every shard once per pick, so it is for RANDOMKEY, not for hot paths.
    pub fn random_key(&self, db: usize) -> Option<Vec<u8>> {
        use rand::Rng;
        let database = &self.dbs[db];
        let mut rng = rand::thread_rng();
        let mut tries_left = 100;
        loop {
            let (mut seen, mut volatile) = (0usize, 0usize);
            let mut chosen = None;
            for index in 0..database.shard_count() {
                let shard = self.lock_index(db, index);
                let len = shard.len();
                seen += len;
                volatile += shard.volatile_len();
                if len > 0 && rng.gen_range(0..seen) < len {
                    chosen = Some(index);
                }
            }
            let mut shard = self.lock_index(db, chosen?);
            let n = rng.gen_range(0..shard.len().max(1));
            let (key, expired) = shard.nth_key(n).map(|(k, e)| (k.to_vec(), e))?;
            if !expired {
                return Some(key);
            }
            let deletes =
                self.expiry.deletes_expired() && !self.keyspace.stats.expiry_held(self.now_ms);
            if !deletes && seen == volatile {
                tries_left -= 1;
                if tries_left == 0 {
                    return Some(key);
                }
            }
            shard.expire_if_due(&key);
        }
    }

    /// A random live key of database `db`, cheaply: the first key found
    /// from a random shard on, so keys after long runs of empty shards are
    /// favoured (eviction's samples, where that is acceptable).
    pub fn sample_key(&self, db: usize) -> Option<Vec<u8>> {
        self.random_key_where(db, false)
    }

    /// A random live key of database `db` that has an expiry (what Redis's
    /// volatile eviction policies sample from).
    pub fn random_volatile_key(&self, db: usize) -> Option<Vec<u8>> {
        self.random_key_where(db, true)
    }

    fn random_key_where(&self, db: usize, volatile_only: bool) -> Option<Vec<u8>> {
        use rand::Rng;
        let database = &self.dbs[db];
        let start = rand::thread_rng().gen_range(0..database.shard_count());
        for step in 0..database.shard_count() {
            let index = (start + step) % database.shard_count();
            let access = self.keyspace.access(self.now_ms, None, self.expiry);
            let shard = database.lock_shard(db, index, access);
            if shard.is_empty() || (volatile_only && shard.volatile_len() == 0) {
                continue;
            }
            if volatile_only {
                let now = self.now_ms;
                let volatile: Vec<&[u8]> = shard
                    .iter()
                    .filter(|(_, _, entry)| {
                        entry.expire_at_ms().is_some() && !entry.is_expired(now)
                    })
                    .map(|(key, _, _)| key)
                    .collect();
                if volatile.is_empty() {
                    continue;
                }
                let n = rand::thread_rng().gen_range(0..volatile.len());
                return Some(volatile[n].to_vec());
            }
            let n = rand::thread_rng().gen_range(0..shard.len());
            if let Some(key) = shard.nth_live_key(n).or_else(|| shard.nth_live_key(0)) {
                return Some(key.to_vec());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{StringValue, Value};

    fn set(ks: &Keyspace, key: &str, expire: Option<u64>) {
        let read = ks.read();
        let k = read.key(key.as_bytes());
        let mut shard = read.lock(0, &k);
        shard.insert(
            &k,
            Entry::with_expiry(Value::String(StringValue::from_bytes(b"v")), expire),
        );
    }

    #[test]
    fn scan_returns_every_key_once_despite_inserts() {
        let ks = Keyspace::new(1);
        for i in 0..5000 {
            set(&ks, &format!("key:{i}"), None);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let batch = ks.read().scan(0, cursor, 37, |_| true, |_| true);
            for k in batch.keys {
                assert!(seen.insert(k), "duplicate key");
            }
            // Writes between pages must not hide keys present all along.
            set(&ks, &format!("new:{round}"), None);
            round += 1;
            cursor = batch.next_cursor;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..5000 {
            assert!(seen.contains(format!("key:{i}").as_bytes()));
        }
    }

    #[test]
    fn random_keys_are_uniform_whatever_the_shards() {
        let ks = Keyspace::new(1);
        set(&ks, "foo", None);
        set(&ks, "bar", None);
        let mut foo = 0;
        for _ in 0..2000 {
            if ks.read().random_key(0).as_deref() == Some(&b"foo"[..]) {
                foo += 1;
            }
        }
        // Binomial(2000, 1/2): outside 800..1200 with probability below 1e-18.
        assert!((800..1200).contains(&foo), "foo picked {foo} times of 2000");
    }

    #[test]
    fn scan_and_random_key_delete_the_expired_keys_they_meet() {
        let ks = Keyspace::new(1);
        set(&ks, "a:1", Some(1));
        set(&ks, "b:1", Some(1));
        set(&ks, "live", None);
        let batch = ks.read().scan(0, 0, 100, |k| k.starts_with(b"a"), |_| true);
        assert!(batch.keys.is_empty());
        // Only the expired key the pattern matched is gone.
        assert_eq!(ks.stats().expired_keys(), 1);
        assert_eq!(ks.read().random_key(0).as_deref(), Some(&b"live"[..]));
        set(&ks, "live", Some(1));
        assert_eq!(ks.read().random_key(0), None);
        assert_eq!(ks.stats().expired_keys(), 3);
        assert_eq!(ks.read().counts(0), (0, 0));
    }

    #[test]
    fn a_replica_hides_or_ignores_expired_keys_and_expires_only_its_own() {
        let ks = Keyspace::new(1);
        ks.set_replica(true);
        set(&ks, "master", Some(1));
        let lookup = |expiry: ExpiryPolicy| {
            let read = ks.read().with_expiry(expiry);
            let k = read.key(b"master");
            let found = read.lock(0, &k).get(&k).is_some();
            found
        };
        assert!(!lookup(ExpiryPolicy::Hide));
        assert!(lookup(ExpiryPolicy::Ignore));
        assert_eq!(ks.read().counts(0), (1, 1));
        // Neither the active cycle nor a scan deletes the master's key.
        ks.expire_replica_keys(Duration::from_secs(1));
        assert!(ks
            .read()
            .scan(0, 0, 100, |_| true, |_| true)
            .keys
            .is_empty());
        assert_eq!(ks.read().random_key(0).as_deref(), Some(&b"master"[..]));
        assert_eq!(ks.stats().expired_keys(), 0);
        // A writable replica's write deletes it, and the expiry it sets is
        // the replica's to enforce.
        assert!(!lookup(ExpiryPolicy::DeleteAndTrack));
        {
            let read = ks.read().with_expiry(ExpiryPolicy::DeleteAndTrack);
            let k = read.key(b"own");
            read.lock(0, &k).insert(
                &k,
                Entry::with_expiry(Value::String(StringValue::from_bytes(b"v")), Some(1)),
            );
        }
        assert_eq!(ks.stats().replica_expires.len(), 1);
        let report = ks.expire_replica_keys(Duration::from_secs(1));
        assert_eq!(report.keys_expired, 1);
        assert!(ks.stats().replica_expires.is_empty());
        assert_eq!(ks.stats().expired_keys(), 2);
        assert_eq!(ks.read().counts(0), (0, 0));
    }

    #[test]
    fn expired_keys_vanish_lazily_and_actively() {
        let ks = Keyspace::new(1);
        set(&ks, "gone", Some(1));
        set(&ks, "swept", Some(1));
        set(&ks, "kept", None);
        {
            let read = ks.read();
            let k = read.key(b"gone");
            assert!(read.lock(0, &k).get(&k).is_none());
        }
        assert_eq!(ks.stats().expired_keys(), 1);
        let report = ks.active_expire_cycle(Duration::from_secs(1));
        assert_eq!(report.keys_expired, 1);
        assert_eq!(ks.read().counts(0), (1, 0));
    }

    #[test]
    fn the_active_cycle_visits_only_databases_with_expiring_keys() {
        let ks = Keyspace::new(3);
        set(&ks, "kept", None);
        let cycle = || ks.active_expire_cycle(Duration::from_secs(1));
        assert_eq!(cycle().shards_visited, 0);
        set(&ks, "later", Some(u64::MAX));
        assert_eq!(cycle().shards_visited, SHARD_COUNT);
        // The count moves with the keys: database 2 now has them.
        ks.exclusive().swap_databases(0, 2);
        assert_eq!(cycle().shards_visited, SHARD_COUNT);
        assert!(!ks.read().dbs[0].has_volatile_keys());
        assert!(ks.read().dbs[2].has_volatile_keys());
        ks.exclusive().swap_databases(0, 2);
        let read = ks.read();
        let k = read.key(b"later");
        assert!(read.lock(0, &k).set_expiry(&k, None));
        drop(read);
        assert_eq!(cycle().shards_visited, 0);
    }
}
