//! The replication log of one server: its ids and offset, the backlog, the
//! attached replicas' cursors, and the lock that orders writes.
//!
//! Ordering. Writes run concurrently on different shards, so "the order the
//! effects happened in" is only well defined if applying a write and
//! appending it to the stream happen as one step. While the log is active (a
//! backlog exists, i.e. a replica attached once), a write holds [`WriteOrder`]
//! exclusively from before it touches the keyspace until its effects are
//! appended; while it is inactive, writes hold it shared, so they run in
//! parallel and nothing is appended. Activation takes it exclusively, so no
//! write is half-way (applied but not yet appended) when the log starts: the
//! snapshot of a full sync and the stream after it cannot miss or repeat a
//! write. Lock order: the write order first, then the keyspace, then this
//! log's own state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::watch;

use crate::backlog::Backlog;
use crate::encode::multibulk;
use crate::ids::ReplicationIds;
use crate::replicas::{OutputLimit, Replica, ReplicaState};

/// Held by a write from before it runs until its effects are appended.
pub enum WriteOrder<'a> {
    /// The log is inactive: writes run in parallel and append nothing.
    Parallel(RwLockReadGuard<'a, ()>),
    /// The log is active: this write runs alone and appends its effects.
    Serial(RwLockWriteGuard<'a, ()>),
}

impl WriteOrder<'_> {
    /// Whether the holder must append what it changes.
    pub fn appends(&self) -> bool {
        matches!(self, WriteOrder::Serial(_))
    }
}

/// What a replica link gets when it asks for more stream.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamRead {
    Bytes(Vec<u8>),
    /// Nothing new since its cursor.
    UpToDate,
    /// It overran its output limit or was removed: close the link.
    Closed,
}

/// INFO/ROLE's view of the log, copied out under its lock.
#[derive(Debug, Clone)]
pub struct LogStatus {
    pub ids: ReplicationIds,
    pub master_repl_offset: u64,
    pub backlog_active: bool,
    pub backlog_first_byte_offset: u64,
    pub backlog_histlen: u64,
    pub replicas: Vec<Replica>,
}

struct Inner {
    ids: ReplicationIds,
    /// Offset of the last byte fed (INFO `master_repl_offset`).
    offset: u64,
    backlog: Option<Backlog>,
    backlog_size: usize,
    /// The database the stream last selected; `None` forces a SELECT.
    selected_db: Option<usize>,
    replicas: Vec<Replica>,
    limit: OutputLimit,
    /// When the last replica went away (for `repl-backlog-ttl`).
    no_replicas_since: Option<Instant>,
    /// The offset just after the last `REPLCONF GETACK *` fed (0: none).
    getack_end: u64,
}

impl Inner {
    fn getack_follows(&self, offset: u64) -> bool {
        self.getack_end > offset && self.getack_end <= self.offset
    }
}

/// See the module documentation.
pub struct ReplicationLog {
    order: RwLock<()>,
    active: AtomicBool,
    /// Another consumer of the write order (the append-only file) needs
    /// writes serialised even while no backlog exists.
    serial_for_others: AtomicBool,
    inner: Mutex<Inner>,
    /// The offset after each feed: replica links wait on it.
    fed: watch::Sender<u64>,
    /// Bumped on every ACK: WAIT waits on it.
    acked: watch::Sender<u64>,
}

impl Default for ReplicationLog {
    fn default() -> Self {
        Self::new()
    }
}

/// Stream bytes handed to a replica link at a time.
const READ_CHUNK: usize = 256 * 1024;

impl ReplicationLog {
    pub fn new() -> ReplicationLog {
        ReplicationLog {
            order: RwLock::new(()),
            active: AtomicBool::new(false),
            serial_for_others: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                ids: ReplicationIds::fresh(),
                offset: 0,
                backlog: None,
                backlog_size: 1 << 20,
                selected_db: None,
                replicas: Vec::new(),
                limit: OutputLimit::default(),
                no_replicas_since: None,
                getack_end: 0,
            }),
            fed: watch::channel(0).0,
            acked: watch::channel(0).0,
        }
    }

    /// Taken by every write command (see the module documentation).
    pub fn order(&self) -> WriteOrder<'_> {
        if !self.serial() {
            let shared = self.order.read();
            if !self.serial() {
                return WriteOrder::Parallel(shared);
            }
        }
        WriteOrder::Serial(self.order.write())
    }

    /// [`order`](Self::order), waiting at most `patience`: lets a caller on an
    /// async worker find out that the holder is a long one (a script) and
    /// wait somewhere else.
    pub fn order_within(&self, patience: Duration) -> Option<WriteOrder<'_>> {
        if !self.serial() {
            let shared = self.order.try_read_for(patience)?;
            if !self.serial() {
                return Some(WriteOrder::Parallel(shared));
            }
        }
        self.order.try_write_for(patience).map(WriteOrder::Serial)
    }

    /// Taken by whatever must append without a write command around it
    /// (expiry, PING, snapshot start, role changes).
    pub fn order_exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.order.write()
    }

    /// [`order_exclusive`](Self::order_exclusive), waiting at most `patience`.
    pub fn order_exclusive_within(&self, patience: Duration) -> Option<RwLockWriteGuard<'_, ()>> {
        self.order.try_write_for(patience)
    }

    /// Whether writes take the order exclusively.
    fn serial(&self) -> bool {
        self.active.load(Ordering::Acquire) || self.serial_for_others.load(Ordering::Acquire)
    }

    /// Makes writes take the order exclusively (and so run one at a time,
    /// in the order they append) whether or not a backlog exists: the
    /// append-only file needs the same total order as the stream. The
    /// caller holds the order exclusively while it switches this.
    pub fn set_serial_for_others(&self, serial: bool) {
        self.serial_for_others.store(serial, Ordering::Release);
    }

    /// A backlog exists: writes are appended.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    pub fn configure(&self, backlog_size: usize, limit: OutputLimit) {
        let mut inner = self.inner.lock();
        inner.backlog_size = backlog_size;
        inner.limit = limit;
        if let Some(backlog) = inner.backlog.as_mut() {
            backlog.set_size(backlog_size);
            backlog.trim(None);
        }
    }

    pub fn ids(&self) -> ReplicationIds {
        self.inner.lock().ids.clone()
    }

    /// The database the stream selected last (`None` until a write selects one).
    pub fn selected_db(&self) -> Option<usize> {
        self.inner.lock().selected_db
    }

    pub fn master_repl_offset(&self) -> u64 {
        self.inner.lock().offset
    }

    pub fn status(&self) -> LogStatus {
        let inner = self.inner.lock();
        LogStatus {
            ids: inner.ids.clone(),
            master_repl_offset: inner.offset,
            backlog_active: inner.backlog.is_some(),
            backlog_first_byte_offset: inner.backlog.as_ref().map_or(0, Backlog::first_offset),
            backlog_histlen: inner.backlog.as_ref().map_or(0, Backlog::histlen),
            replicas: inner.replicas.clone(),
        }
    }

    /// Appends one command run in database `db` (`None`: no database, as
    /// PING), preceded by a SELECT when the stream is in another database.
    /// The caller holds the write order exclusively.
    pub fn feed<A: AsRef<[u8]>>(&self, db: Option<usize>, args: &[A]) {
        let mut bytes = Vec::with_capacity(64);
        let mut inner = self.inner.lock();
        if inner.backlog.is_none() {
            return;
        }
        if let Some(db) = db {
            if inner.selected_db != Some(db) {
                multibulk(&mut bytes, &[&b"SELECT"[..], db.to_string().as_bytes()]);
                inner.selected_db = Some(db);
            }
        }
        multibulk(&mut bytes, args);
        self.append_locked(&mut inner, &bytes);
    }

    /// Whether a `REPLCONF GETACK *` was fed after `offset` (so every replica
    /// that reads it acknowledges at least `offset`).
    pub fn getack_follows(&self, offset: u64) -> bool {
        self.inner.lock().getack_follows(offset)
    }

    /// Feeds `REPLCONF GETACK *` unless one already follows `offset`. The
    /// caller holds the write order exclusively.
    pub fn feed_getack(&self, offset: u64) {
        {
            let inner = self.inner.lock();
            if inner.backlog.is_none() || inner.getack_follows(offset) {
                return;
            }
        }
        self.feed(None, &[&b"REPLCONF"[..], b"GETACK", b"*"]);
        let mut inner = self.inner.lock();
        inner.getack_end = inner.offset;
    }

    /// Appends bytes received from this server's own master, unchanged
    /// (a replica forwards exactly the stream it applied).
    pub fn feed_raw(&self, bytes: &[u8]) {
        let mut inner = self.inner.lock();
        if inner.backlog.is_some() {
            self.append_locked(&mut inner, bytes);
        }
    }

    fn append_locked(&self, inner: &mut Inner, bytes: &[u8]) {
        let Some(backlog) = inner.backlog.as_mut() else {
            return;
        };
        backlog.append(bytes);
        inner.offset += bytes.len() as u64;
        let next = inner.offset + 1;
        let now = Instant::now();
        let limit = inner.limit;
        for replica in inner.replicas.iter_mut() {
            let Some(cursor) = replica.cursor else {
                continue;
            };
            if limit.exceeded(next - cursor, &mut replica.soft_since, now) {
                tracing::warn!(
                    "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
                    replica.description
                );
                replica.dropped = true;
                replica.cursor = None;
            }
        }
        Self::trim_locked(inner);
        self.fed.send_replace(inner.offset);
    }

    /// Trims the backlog to its size, keeping what an attached replica
    /// still needs (the buffer Redis 7.0 shares between the backlog and its
    /// replicas shrinks once no replica holds its oldest blocks).
    fn trim_locked(inner: &mut Inner) {
        let keep_from = inner.replicas.iter().filter_map(|r| r.cursor).min();
        if let Some(backlog) = inner.backlog.as_mut() {
            backlog.trim(keep_from);
        }
    }

    /// Bytes allocated for the replication buffer, which the backlog and
    /// the replicas' pending output share (INFO `mem_total_replication_buffers`).
    pub fn buffer_memory(&self) -> usize {
        self.inner
            .lock()
            .backlog
            .as_ref()
            .map_or(0, Backlog::allocated)
    }

    /// A replica link starts (SYNC/PSYNC received).
    pub fn add_replica(&self, replica: Replica) {
        let mut inner = self.inner.lock();
        inner.replicas.retain(|r| r.id != replica.id);
        inner.replicas.push(replica);
        inner.no_replicas_since = None;
    }

    pub fn remove_replica(&self, id: u64) {
        let mut inner = self.inner.lock();
        inner.replicas.retain(|r| r.id != id);
        Self::trim_locked(&mut inner);
        if inner.replicas.is_empty() {
            inner.no_replicas_since = Some(Instant::now());
        }
        drop(inner);
        self.acked.send_modify(|n| *n += 1);
    }

    /// Starts replica `id`'s stream at the current offset for a full sync,
    /// creating the backlog (with a new replication id) if there is none.
    /// The caller holds the write order exclusively and starts the snapshot
    /// under the same hold. Returns the id and offset for `+FULLRESYNC`.
    pub fn begin_full_sync(&self, id: u64) -> (String, u64) {
        let mut inner = self.inner.lock();
        self.ensure_backlog(&mut inner);
        inner.selected_db = None;
        let next = inner.offset + 1;
        if let Some(replica) = inner.replicas.iter_mut().find(|r| r.id == id) {
            replica.cursor = Some(next);
            replica.state = ReplicaState::WaitBgsave;
        }
        (inner.ids.replid.clone(), inner.offset)
    }

    /// Creates the backlog (with a new replication id) if there is none, so
    /// writes are appended even before a replica attaches (the consistency
    /// modes wait for offsets). The caller holds the write order exclusively.
    pub fn activate(&self) {
        let mut inner = self.inner.lock();
        self.ensure_backlog(&mut inner);
    }

    fn ensure_backlog(&self, inner: &mut Inner) {
        if inner.backlog.is_none() {
            inner.ids = ReplicationIds::fresh();
            inner.backlog = Some(Backlog::new(inner.offset + 1, inner.backlog_size));
            self.active.store(true, Ordering::Release);
        }
    }

    /// PSYNC `replid` `offset`: continues replica `id` from `offset` if the
    /// ids and the backlog allow it (returning the current replid).
    pub fn try_continue(&self, id: u64, replid: &str, offset: u64) -> Option<String> {
        let mut inner = self.inner.lock();
        let backlog = inner.backlog.as_ref()?;
        if !inner.ids.accepts(replid, offset) || !backlog.covers(offset) {
            return None;
        }
        let replica = inner.replicas.iter_mut().find(|r| r.id == id)?;
        replica.cursor = Some(offset);
        replica.state = ReplicaState::Online;
        Some(inner.ids.replid.clone())
    }

    /// Why a PSYNC was refused, for the log: the id or the range.
    pub fn backlog_range(&self) -> Option<(u64, u64)> {
        let inner = self.inner.lock();
        inner
            .backlog
            .as_ref()
            .map(|b| (b.first_offset(), b.next_offset().saturating_sub(1)))
    }

    pub fn set_state(&self, id: u64, state: ReplicaState) {
        let mut inner = self.inner.lock();
        if let Some(replica) = inner.replicas.iter_mut().find(|r| r.id == id) {
            replica.state = state;
            if state == ReplicaState::Online {
                replica.ack_time = Instant::now();
            }
        }
    }

    pub fn set_listening_port(&self, id: u64, port: u16) {
        let mut inner = self.inner.lock();
        if let Some(replica) = inner.replicas.iter_mut().find(|r| r.id == id) {
            replica.listening_port = port;
        }
    }

    /// The next stream bytes for replica `id`, advancing its cursor.
    pub fn read_for(&self, id: u64) -> StreamRead {
        let mut inner = self.inner.lock();
        let Inner {
            backlog, replicas, ..
        } = &mut *inner;
        let Some(replica) = replicas.iter_mut().find(|r| r.id == id) else {
            return StreamRead::Closed;
        };
        let (Some(cursor), Some(backlog)) = (replica.cursor, backlog.as_ref()) else {
            return StreamRead::Closed;
        };
        match backlog.read(cursor, READ_CHUNK) {
            Some(bytes) if bytes.is_empty() => StreamRead::UpToDate,
            Some(bytes) => {
                replica.cursor = Some(cursor + bytes.len() as u64);
                StreamRead::Bytes(bytes)
            }
            None => StreamRead::Closed,
        }
    }

    /// REPLCONF ACK from replica `id`.
    pub fn ack(&self, id: u64, offset: u64) {
        let mut inner = self.inner.lock();
        if let Some(replica) = inner.replicas.iter_mut().find(|r| r.id == id) {
            replica.ack_offset = replica.ack_offset.max(offset);
            replica.ack_time = Instant::now();
        }
        drop(inner);
        self.acked.send_modify(|n| *n += 1);
    }

    /// How long online replica `id` has sent no ACK (`repl-timeout`).
    pub fn online_silence(&self, id: u64) -> Option<std::time::Duration> {
        let inner = self.inner.lock();
        inner
            .replicas
            .iter()
            .find(|r| r.id == id && r.state == ReplicaState::Online)
            .map(|r| r.ack_time.elapsed())
    }

    /// Online replicas that acknowledged at least `offset` (WAIT).
    pub fn count_acked(&self, offset: u64) -> usize {
        let inner = self.inner.lock();
        inner
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Online && r.ack_offset >= offset)
            .count()
    }

    /// Online replicas whose last ACK is at most `max_lag` seconds old
    /// (`min-replicas-to-write`).
    pub fn good_replicas(&self, max_lag: u64) -> usize {
        let inner = self.inner.lock();
        let now = Instant::now();
        inner
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Online && r.lag_seconds(now) <= max_lag)
            .count()
    }

    /// Wakes when the stream grows.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.fed.subscribe()
    }

    /// Wakes when a replica acknowledges or leaves.
    pub fn subscribe_acks(&self) -> watch::Receiver<u64> {
        self.acked.subscribe()
    }

    /// This server stops being a replica (REPLICAOF NO ONE): Redis's
    /// `shiftReplicationId`, and the next write selects its database again.
    pub fn promote(&self) {
        let mut inner = self.inner.lock();
        let offset = inner.offset;
        inner.ids.shift(offset);
        inner.selected_db = None;
        self.ensure_backlog_keeping_ids(&mut inner);
    }

    fn ensure_backlog_keeping_ids(&self, inner: &mut Inner) {
        if inner.backlog.is_none() {
            inner.backlog = Some(Backlog::new(inner.offset + 1, inner.backlog_size));
            self.active.store(true, Ordering::Release);
        }
    }

    /// A replica loaded its master's snapshot taken at `offset` under
    /// `replid`: it adopts both, forgets replid2 and starts a fresh backlog
    /// (so its own replicas can continue from it, and it can be promoted).
    pub fn adopt_master(&self, replid: &str, offset: u64) {
        let mut inner = self.inner.lock();
        inner.ids.replid = replid.to_string();
        inner.ids.clear_previous();
        inner.offset = offset;
        inner.getack_end = 0;
        inner.backlog = Some(Backlog::new(offset + 1, inner.backlog_size));
        inner.selected_db = None;
        inner.replicas.iter_mut().for_each(|r| {
            r.dropped = true;
            r.cursor = None;
        });
        self.active.store(true, Ordering::Release);
        self.fed.send_replace(offset);
    }

    /// A master started from an RDB file that continues stream `replid` up
    /// to `offset` (Redis's `loadDataFromDisk`): its fresh id stays, the
    /// file's becomes replid2 up to `offset + 1`, and an empty backlog
    /// starts there, so its former replicas can continue partially. The
    /// next command fed selects its database.
    pub fn resume_as_master(&self, replid: &str, offset: u64) {
        let mut inner = self.inner.lock();
        inner.ids.replid2 = replid.to_string();
        inner.ids.second_repl_offset = offset as i64 + 1;
        inner.offset = offset;
        inner.getack_end = 0;
        inner.backlog = Some(Backlog::new(offset + 1, inner.backlog_size));
        inner.selected_db = None;
        inner.no_replicas_since = Some(Instant::now());
        self.active.store(true, Ordering::Release);
        self.fed.send_replace(offset);
    }

    /// `+CONTINUE <replid>` with a new id (the master was promoted): the old
    /// id stays valid up to here.
    pub fn master_changed_id(&self, replid: &str) {
        let mut inner = self.inner.lock();
        if inner.ids.replid != replid {
            inner.ids.replid2 = std::mem::replace(&mut inner.ids.replid, replid.to_string());
            inner.ids.second_repl_offset = inner.offset as i64 + 1;
        }
    }

    /// Closes every replica link (they reconnect and PSYNC again).
    pub fn drop_replicas(&self) {
        let mut inner = self.inner.lock();
        inner.replicas.iter_mut().for_each(|r| {
            r.dropped = true;
            r.cursor = None;
        });
        drop(inner);
        self.fed.send_modify(|_| {});
    }

    /// Whether replica `id` must be closed.
    pub fn is_dropped(&self, id: u64) -> bool {
        let inner = self.inner.lock();
        inner
            .replicas
            .iter()
            .find(|r| r.id == id)
            .is_none_or(|r| r.dropped)
    }

    /// Frees the backlog after `ttl_s` seconds without replicas (Redis's
    /// `replicationCron`), changing the replid so a later PSYNC with the
    /// old one cannot be accepted over writes that were never logged. Only
    /// a master does this; the caller holds the write order exclusively.
    pub fn expire_backlog(&self, ttl_s: u64) -> bool {
        let mut inner = self.inner.lock();
        let expired = ttl_s > 0
            && inner.backlog.is_some()
            && inner
                .no_replicas_since
                .is_some_and(|since| since.elapsed().as_secs() >= ttl_s);
        if expired {
            inner.backlog = None;
            inner.getack_end = 0;
            inner.ids = ReplicationIds::fresh();
            inner.no_replicas_since = None;
            self.active.store(false, Ordering::Release);
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(id: u64) -> Replica {
        Replica::new(id, "127.0.0.1".into(), 6380, format!("id={id}"))
    }

    #[test]
    fn nothing_is_logged_before_a_replica_syncs() {
        let log = ReplicationLog::new();
        assert!(!log.order().appends());
        log.feed(Some(0), &[&b"SET"[..], b"k", b"v"]);
        assert_eq!(log.master_repl_offset(), 0);
    }

    #[test]
    fn full_sync_then_stream_with_select_then_partial_resync() {
        let log = ReplicationLog::new();
        log.add_replica(replica(7));
        let (replid, offset) = log.begin_full_sync(7);
        assert_eq!(offset, 0);
        assert!(log.order().appends());
        log.feed(Some(0), &[&b"SET"[..], b"k", b"v"]);
        log.feed(Some(0), &[&b"DEL"[..], b"k"]);
        let select = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n".to_vec();
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".to_vec();
        let del = b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n".to_vec();
        let all = [select.clone(), set.clone(), del.clone()].concat();
        assert_eq!(log.read_for(7), StreamRead::Bytes(all.clone()));
        assert_eq!(log.read_for(7), StreamRead::UpToDate);
        assert_eq!(log.master_repl_offset(), all.len() as u64);
        // Reconnect after the SELECT and SET: the DEL follows.
        log.add_replica(replica(8));
        let continue_at = (select.len() + set.len() + 1) as u64;
        assert_eq!(
            log.try_continue(8, &replid, continue_at),
            Some(replid.clone())
        );
        assert_eq!(log.read_for(8), StreamRead::Bytes(del));
        assert_eq!(log.try_continue(8, "x", continue_at), None);
        assert_eq!(log.try_continue(8, &replid, all.len() as u64 + 2), None);
        log.ack(8, all.len() as u64);
        assert_eq!(log.count_acked(all.len() as u64), 1);
    }

    #[test]
    fn a_replica_over_its_hard_limit_is_dropped() {
        let log = ReplicationLog::new();
        log.configure(
            16,
            OutputLimit {
                hard: 20,
                soft: 0,
                soft_seconds: 0,
            },
        );
        log.add_replica(replica(1));
        log.begin_full_sync(1);
        log.feed(None, &[&b"PING"[..]]);
        assert!(!log.is_dropped(1));
        log.feed(None, &[&b"PING"[..]]);
        assert!(log.is_dropped(1));
        assert_eq!(log.read_for(1), StreamRead::Closed);
        assert_eq!(log.status().backlog_histlen, 16);
    }

    #[test]
    fn a_master_resumed_from_a_file_continues_its_old_id_as_replid2() {
        let log = ReplicationLog::new();
        let old = "b".repeat(40);
        log.resume_as_master(&old, 500);
        let status = log.status();
        assert_ne!(status.ids.replid, old);
        assert_eq!(status.ids.replid2, old);
        assert_eq!(status.ids.second_repl_offset, 501);
        assert_eq!(status.master_repl_offset, 500);
        assert_eq!(status.backlog_first_byte_offset, 501);
        assert_eq!(status.backlog_histlen, 0);
        log.add_replica(replica(3));
        assert!(log.try_continue(3, &old, 501).is_some());
        assert!(log.try_continue(3, &old, 502).is_none());
    }

    #[test]
    fn promotion_keeps_the_old_id_as_replid2() {
        let log = ReplicationLog::new();
        log.adopt_master("a".repeat(40).as_str(), 100);
        log.promote();
        let ids = log.ids();
        assert_eq!(ids.replid2, "a".repeat(40));
        assert_eq!(ids.second_repl_offset, 101);
        assert_ne!(ids.replid, "a".repeat(40));
    }
}
