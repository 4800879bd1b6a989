//! CLIENT PAUSE / UNPAUSE: holds back commands from normal clients (all
//! commands, or only writes) until a deadline or UNPAUSE; FAILOVER holds
//! back writes on its own until it ends (UNPAUSE does not release them).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseScope {
    All,
    Write,
}

#[derive(Debug, Default)]
pub struct PauseState {
    /// Fast path: false while no pause was requested since the last UNPAUSE
    /// (checked on every command without taking the lock).
    active: AtomicBool,
    current: Mutex<Option<(PauseScope, Instant)>>,
    /// Writes held by a FAILOVER (Redis's PAUSE_DURING_FAILOVER purpose).
    failover: AtomicBool,
    unpaused: Notify,
}

impl PauseState {
    /// Pauses until `until`; a later deadline or wider scope wins, as in Redis.
    pub fn pause(&self, scope: PauseScope, duration: Duration) {
        let until = Instant::now() + duration;
        let mut current = self.current.lock();
        self.active.store(true, Ordering::SeqCst);
        *current = match *current {
            Some((old_scope, old_until)) if old_until > Instant::now() => {
                let scope = if old_scope == PauseScope::All || scope == PauseScope::All {
                    PauseScope::All
                } else {
                    PauseScope::Write
                };
                Some((scope, old_until.max(until)))
            }
            _ => Some((scope, until)),
        };
    }

    pub fn unpause(&self) {
        *self.current.lock() = None;
        self.active.store(false, Ordering::SeqCst);
        self.unpaused.notify_waiters();
    }

    /// FAILOVER holds (or releases) every write until it ends.
    pub fn hold_writes(&self, hold: bool) {
        self.failover.store(hold, Ordering::SeqCst);
        if !hold {
            self.unpaused.notify_waiters();
        }
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) || self.failover.load(Ordering::Relaxed)
    }

    /// How long a command must still wait (None when it may run now).
    pub fn remaining(&self, is_write: bool) -> Option<Duration> {
        if is_write && self.failover.load(Ordering::SeqCst) {
            // Until `hold_writes(false)` notifies; rechecked now and then.
            return Some(Duration::from_secs(1));
        }
        let current = *self.current.lock();
        let (scope, until) = current?;
        let now = Instant::now();
        if until <= now || (scope == PauseScope::Write && !is_write) {
            return None;
        }
        Some(until - now)
    }

    /// Waits until the pause that applies to this command is over.
    pub async fn wait(&self, is_write: bool) {
        while let Some(remaining) = self.remaining(is_write) {
            let notified = self.unpaused.notified();
            let _ = tokio::time::timeout(remaining, notified).await;
        }
    }
}
