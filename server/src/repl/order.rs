//! Taking the replication write order from a tokio worker without stalling
//! the runtime.
//!
//! Writes hold the order for microseconds, so waiting for it in place is
//! right, except while a script holds it: a script keeps it for its whole
//! run (seconds, until it ends or SCRIPT KILL). A worker blocked that long
//! stops reading its other connections; with two workers, two such waits
//! stall the runtime and SCRIPT KILL is never read. So a caller waits a
//! moment in place and, once it sees that a long holder is there, waits
//! off the worker pool instead. The check repeats every moment, so a script
//! that claims the order after the caller started waiting is noticed too.

use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrite_replication::WriteOrder;
use parking_lot::RwLockWriteGuard;

use crate::scripting::run::off_worker;
use crate::server::Server;

/// How long a caller waits in place before it looks for a long holder again.
const PATIENCE: Duration = Duration::from_millis(1);

/// The write order a write command holds (shared or exclusive, see
/// `ReplicationLog::order`).
pub fn write_order(server: &Server) -> WriteOrder<'_> {
    let log = &server.replication.log;
    patiently(server, || log.order_within(PATIENCE), || log.order())
}

/// The write order held exclusively, for appends without a write command
/// around them (PING, GETACK, expiry, the start of a full sync).
pub fn write_order_exclusive(server: &Server) -> RwLockWriteGuard<'_, ()> {
    let log = &server.replication.log;
    patiently(
        server,
        || log.order_exclusive_within(PATIENCE),
        || log.order_exclusive(),
    )
}

/// Tries `attempt` (which waits up to [`PATIENCE`]) until it succeeds, or
/// until a long holder has claimed the order: then waits with `wait` off
/// the worker pool.
fn patiently<G>(server: &Server, attempt: impl Fn() -> Option<G>, wait: impl FnOnce() -> G) -> G {
    loop {
        if let Some(guard) = attempt() {
            return guard;
        }
        if long_hold_claimed(server) {
            return off_worker(wait);
        }
    }
}

fn long_hold_claimed(server: &Server) -> bool {
    server.replication.long_holds.load(Ordering::Acquire) > 0
}

/// Announces, for as long as it lives, that its owner waits for or holds the
/// write order for long (a script run). Taken before the order itself.
pub struct LongHold<'a>(&'a Server);

impl<'a> LongHold<'a> {
    pub fn claim(server: &'a Server) -> LongHold<'a> {
        server.replication.long_holds.fetch_add(1, Ordering::AcqRel);
        LongHold(server)
    }
}

impl Drop for LongHold<'_> {
    fn drop(&mut self) {
        self.0.replication.long_holds.fetch_sub(1, Ordering::AcqRel);
    }
}
