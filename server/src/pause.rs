//! Client pauses (Redis 7.0's `pauseClients`, src/networking.c): CLIENT
//! PAUSE and FAILOVER each hold back commands for a purpose of their own —
//! every command (ALL) or only those that may write or replicate (WRITE) —
//! until a deadline or until that purpose ends (CLIENT UNPAUSE ends only
//! the CLIENT PAUSE one). The most restrictive live purpose applies.
//!
//! A held command is *postponed*, not refused: dispatch reports it before it
//! runs, the connection waits for [`PauseState::changed`] while it goes on
//! reading the socket, then processes the command again from the start, as
//! Redis re-runs `processCommand` for a client it unblocks. While any pause
//! is in force the dataset stays as it is: expired keys are hidden but not
//! deleted and nothing is evicted (see `is_paused`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::server::Server;

/// The deadline of a pause that lasts until its purpose ends it (Redis
/// passes LLONG_MAX for FAILOVER's).
pub const UNTIL_UNPAUSED: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What a pause holds back. `Write` holds commands that may write or
/// replicate; `All` holds every command (ordered: All is more restrictive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseScope {
    Write,
    All,
}

/// Who asked for a pause (Redis's `pause_purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePurpose {
    ClientCommand,
    Failover,
}

/// One purpose's pause: its scope and when it ends.
#[derive(Debug, Clone, Copy)]
struct PauseEvent {
    scope: PauseScope,
    until: Instant,
}

/// The pause in force: the most restrictive live purpose, and the furthest
/// deadline among the purposes of that scope.
#[derive(Debug, Clone, Copy)]
struct InForce {
    scope: PauseScope,
    until: Instant,
}

#[derive(Debug, Default)]
pub struct PauseState {
    /// Fast path: false while no purpose holds a pause (checked on every
    /// command without taking the lock).
    active: AtomicBool,
    /// Indexed by purpose: client command, failover.
    events: Mutex<[Option<PauseEvent>; 2]>,
    /// Woken when a pause ends or becomes less restrictive.
    eased: Notify,
    /// Clients waiting for a pause to end (counted in INFO's `blocked_clients`).
    postponed: AtomicUsize,
}

fn slot(purpose: PausePurpose) -> usize {
    match purpose {
        PausePurpose::ClientCommand => 0,
        PausePurpose::Failover => 1,
    }
}

/// Pauses for `purpose` until `until` (see [`PauseState::pause`]); lazy
/// expiry only hides expired keys until every pause is over.
pub fn pause(server: &Server, purpose: PausePurpose, scope: PauseScope, until: Instant) {
    server.pause.pause(purpose, scope, until);
    hold_expiry(server);
}

/// Ends `purpose`'s pause (CLIENT UNPAUSE, a FAILOVER that ended).
pub fn unpause(server: &Server, purpose: PausePurpose) {
    server.pause.unpause(purpose);
    hold_expiry(server);
}

/// Tells the keyspace until when expired keys stay (the furthest deadline
/// of any purpose: a pause that ends by its deadline needs no call).
fn hold_expiry(server: &Server) {
    let until_ms = server.pause.held_until().map_or(0, |until| {
        let left = until.saturating_duration_since(Instant::now());
        ferrite_storage::now_ms().saturating_add(left.as_millis().min(u64::MAX as u128) as u64)
    });
    server.keyspace.stats().hold_expiry_until(until_ms);
}

impl PauseState {
    /// Pauses for `purpose` until `until`; if that purpose already pauses,
    /// the later deadline and the wider scope win, as in Redis.
    fn pause(&self, purpose: PausePurpose, scope: PauseScope, until: Instant) {
        let mut events = self.events.lock();
        let before = in_force(&mut events);
        let event = &mut events[slot(purpose)];
        *event = Some(match *event {
            Some(old) => PauseEvent {
                scope: old.scope.max(scope),
                until: old.until.max(until),
            },
            None => PauseEvent { scope, until },
        });
        self.settle(&mut events, before);
    }

    fn unpause(&self, purpose: PausePurpose) {
        let mut events = self.events.lock();
        let before = in_force(&mut events);
        events[slot(purpose)] = None;
        self.settle(&mut events, before);
    }

    /// Updates the fast path and wakes the postponed clients when the pause
    /// in force became less restrictive (they are processed again and may
    /// be postponed again).
    fn settle(&self, events: &mut [Option<PauseEvent>; 2], before: Option<InForce>) {
        let after = in_force(events);
        self.active.store(after.is_some(), Ordering::SeqCst);
        let eased = match (before, after) {
            (Some(before), Some(after)) => after.scope < before.scope,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if eased {
            self.eased.notify_waiters();
        }
    }

    /// Whether a pause may be in force (one relaxed load; see [`postpones`]).
    ///
    /// [`postpones`]: PauseState::postpones
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Whether any pause is in force (Redis's
    /// `checkClientPauseTimeoutAndReturnIfPaused`): expiry and eviction
    /// then leave the dataset alone.
    pub fn is_paused(&self) -> bool {
        if !self.active.load(Ordering::Relaxed) {
            return false;
        }
        let mut events = self.events.lock();
        let before = in_force(&mut events);
        self.settle(&mut events, before);
        before.is_some()
    }

    /// When the last live pause of any purpose ends.
    fn held_until(&self) -> Option<Instant> {
        let mut events = self.events.lock();
        in_force(&mut events)?;
        events.iter().flatten().map(|e| e.until).max()
    }

    /// Whether a command is postponed now: every command under an ALL
    /// pause, one that may write or replicate under a WRITE pause.
    pub fn postpones(&self, may_replicate: bool) -> bool {
        if !self.active.load(Ordering::Relaxed) {
            return false;
        }
        let current = in_force(&mut self.events.lock());
        current.is_some_and(|p| p.scope == PauseScope::All || may_replicate)
    }

    /// Resolves when a postponed command should be processed again: the
    /// pause ended or eased, or its deadline passed (a pause extended
    /// meanwhile postpones the command again).
    pub async fn changed(&self) {
        let notified = self.eased.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let until = in_force(&mut self.events.lock()).map(|p| p.until);
        let Some(until) = until else {
            return;
        };
        let remaining = until.saturating_duration_since(Instant::now());
        // Deadlines pass by the clock: whoever looks next notices (Redis
        // checks them in its cron and before each command).
        let _ = tokio::time::timeout(remaining + Duration::from_millis(1), notified).await;
    }

    /// Counts a client as postponed while the returned guard lives.
    pub fn postponed_client(&self) -> PostponedGuard<'_> {
        self.postponed.fetch_add(1, Ordering::Relaxed);
        PostponedGuard(self)
    }

    /// Clients waiting for a pause to end.
    pub fn postponed_clients(&self) -> usize {
        self.postponed.load(Ordering::Relaxed)
    }
}

/// A postponed client, counted until dropped.
pub struct PostponedGuard<'a>(&'a PauseState);

impl Drop for PostponedGuard<'_> {
    fn drop(&mut self) {
        self.0.postponed.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Drops the purposes whose deadline passed and returns the pause in force.
fn in_force(events: &mut [Option<PauseEvent>; 2]) -> Option<InForce> {
    let now = Instant::now();
    for event in events.iter_mut() {
        if event.is_some_and(|e| e.until <= now) {
            *event = None;
        }
    }
    let scope = events.iter().flatten().map(|e| e.scope).max()?;
    let until = events
        .iter()
        .flatten()
        .filter(|e| e.scope == scope)
        .map(|e| e.until)
        .max()?;
    Some(InForce { scope, until })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later(secs: u64) -> Instant {
        Instant::now() + Duration::from_secs(secs)
    }

    #[test]
    fn the_most_restrictive_purpose_applies_and_unpause_ends_only_its_own() {
        let pause = PauseState::default();
        assert!(!pause.postpones(true));
        pause.pause(PausePurpose::Failover, PauseScope::Write, later(100));
        pause.pause(PausePurpose::ClientCommand, PauseScope::All, later(10));
        assert!(pause.postpones(false));
        pause.unpause(PausePurpose::ClientCommand);
        assert!(!pause.postpones(false));
        assert!(pause.postpones(true));
        assert!(pause.is_paused());
        pause.unpause(PausePurpose::Failover);
        assert!(!pause.is_paused());
    }

    #[test]
    fn a_later_pause_of_a_purpose_keeps_the_wider_scope_and_later_deadline() {
        let pause = PauseState::default();
        pause.pause(PausePurpose::ClientCommand, PauseScope::All, later(100));
        pause.pause(PausePurpose::ClientCommand, PauseScope::Write, later(1));
        assert!(pause.postpones(false));
        let until = in_force(&mut pause.events.lock()).map(|p| p.until);
        assert!(until.is_some_and(|u| u > later(50)));
    }

    #[test]
    fn a_pause_whose_deadline_passed_is_over() {
        let pause = PauseState::default();
        pause.pause(PausePurpose::ClientCommand, PauseScope::All, Instant::now());
        assert!(!pause.postpones(true));
        assert!(!pause.is_paused());
    }
}
