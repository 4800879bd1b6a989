//! MULTI/EXEC: the commands a client queues, and the scope in which EXEC runs
//! them atomically.
//!
//! EXEC holds the keyspace gate exclusively for the whole transaction, so no
//! other client's command runs in between, on any shard. The queued commands
//! reach the keyspace through the scope's view (the gate cannot be taken a
//! second time), and clients blocked on keys the transaction made ready are
//! served after the gate is released, as Redis serves them after EXEC.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use ferrite_resp::ReplyWriter;
use ferrite_storage::{KeyspaceExclusive, KeyspaceRead};

use crate::client::ClientState;
use crate::command::CommandSpec;
use crate::server::Server;

/// A client between MULTI and EXEC.
#[derive(Debug, Default)]
pub struct MultiState {
    pub commands: Vec<Vec<Bytes>>,
    /// A command was refused while queueing: EXEC replies EXECABORT.
    pub aborted: bool,
    /// A queued command has the `write` flag (Redis's `mstate.cmd_flags`): EXEC is then
    /// a write for the replica and min-replicas gates.
    pub writes: bool,
    /// A queued command has the `write` or `may_replicate` flag: EXEC takes the
    /// replication write order (a transaction of reads and REPLICAOF NO ONE does not,
    /// so the promotion inside it can take the order itself).
    pub may_replicate: bool,
    /// A queued command lacks the `stale` flag (Redis's `mstate.cmd_inv_flags`):
    /// EXEC is then refused on a stale replica with `replica-serve-stale-data no`.
    pub denies_stale: bool,
    /// A queued command lacks the `loading` flag: EXEC is refused with
    /// -LOADING while a blocking load runs (`loading::refusal`).
    pub denies_loading: bool,
    /// A queued command has the `no_async_loading` flag: EXEC is refused
    /// with -LOADING during an async load.
    pub denies_async_loading: bool,
}

impl MultiState {
    /// MULTI: enters the transaction state.
    pub fn begin(client: &mut ClientState) {
        client.multi = Some(MultiState::default());
        client.handle.multi_queued.store(0, Ordering::Relaxed);
    }

    /// Leaves the transaction state (EXEC, DISCARD, RESET), returning it.
    pub fn end(client: &mut ClientState) -> Option<MultiState> {
        client.handle.multi_queued.store(-1, Ordering::Relaxed);
        client.multi.take()
    }

    pub fn queue(client: &mut ClientState, request: &[Bytes], spec: &CommandSpec) {
        if let Some(multi) = client.multi.as_mut() {
            multi.commands.push(request.to_vec());
            multi.writes |= spec.has_flag("write");
            multi.may_replicate |= spec.has_flag("write") || spec.has_flag("may_replicate");
            multi.denies_stale |= !spec.has_flag("stale");
            multi.denies_loading |= !spec.has_flag("loading");
            multi.denies_async_loading |= spec.has_flag("no_async_loading");
            client
                .handle
                .multi_queued
                .store(multi.commands.len() as i64, Ordering::Relaxed);
        }
    }

    /// A command was refused while queueing.
    pub fn abort(client: &mut ClientState) {
        if let Some(multi) = client.multi.as_mut() {
            multi.aborted = true;
        }
    }
}

/// Writes the error of a command refused before it ran. A refused EXEC
/// (`exec`) discards its transaction and says why, as Redis's
/// `execCommandAbort`.
pub fn write_refusal(
    server: &Server,
    client: &mut ClientState,
    out: &mut ReplyWriter,
    exec: bool,
    error: &str,
) {
    if exec {
        MultiState::end(client);
        server.watches.unwatch_all(client);
        out.error(&format!(
            "EXECABORT Transaction discarded because of: {error}"
        ));
    } else {
        out.error(error);
    }
}

/// What a transaction's command made ready for clients blocked on keys.
enum Ready {
    Key(usize, Bytes),
    /// SWAPDB or MOVE changed what the database holds.
    Database(usize),
}

/// The keyspace held exclusively by a running transaction, and the keys its
/// commands made ready for blocked clients (served once it ends).
pub struct ExclusiveScope<'a> {
    keyspace: KeyspaceExclusive<'a>,
    ready: RefCell<Vec<Ready>>,
    /// The command that runs the scope holds the replication write order.
    under_write_order: bool,
}

impl<'a> ExclusiveScope<'a> {
    pub fn new(server: &'a Server) -> ExclusiveScope<'a> {
        ExclusiveScope {
            keyspace: server.keyspace.exclusive(),
            ready: RefCell::new(Vec::new()),
            under_write_order: false,
        }
    }

    /// Marks the scope as run by a command that holds the replication write
    /// order (EXEC of a transaction that may replicate), so a promotion
    /// inside it (REPLICAOF NO ONE) does not wait for the order again.
    pub fn under_write_order(mut self, held: bool) -> Self {
        self.under_write_order = held;
        self
    }

    pub fn holds_write_order(&self) -> bool {
        self.under_write_order
    }

    /// [`new`](Self::new), waiting at most `patience`.
    pub fn within(server: &'a Server, patience: Duration) -> Option<ExclusiveScope<'a>> {
        Some(ExclusiveScope {
            keyspace: server.keyspace.exclusive_within(patience)?,
            ready: RefCell::new(Vec::new()),
            under_write_order: false,
        })
    }

    pub fn keyspace(&self) -> &KeyspaceExclusive<'a> {
        &self.keyspace
    }

    pub fn view(&self) -> KeyspaceRead<'_> {
        self.keyspace.view()
    }

    /// Remembers keys of `db` that clients blocked on them should be tried for.
    pub fn defer_ready<K: AsRef<[u8]>>(&self, db: usize, keys: &[K]) {
        self.ready.borrow_mut().extend(
            keys.iter()
                .map(|key| Ready::Key(db, Bytes::copy_from_slice(key.as_ref()))),
        );
    }

    /// Remembers that every key of `db` may have become ready.
    pub fn defer_database_ready(&self, db: usize) {
        self.ready.borrow_mut().push(Ready::Database(db));
    }

    /// Releases the keyspace, then serves the blocked clients whose keys the
    /// transaction made ready, as of the real time (a key that expired while
    /// it ran serves no one).
    pub fn finish(self, server: &Server) {
        let ready = self.ready.into_inner();
        drop(self.keyspace);
        let _real_time = ferrite_storage::thaw_clock();
        for ready in ready {
            match ready {
                Ready::Key(db, key) => server.blocking.serve_keys(server, db, &[&key[..]]),
                Ready::Database(db) => server.blocking.serve_database(server, db),
            }
        }
    }
}
