//! Redis 7.0's shutdown sequence (server.c `prepareForShutdown`,
//! `finishShutdown`, `abortShutdown`, `sigShutdownHandler`). SHUTDOWN and
//! SIGTERM/SIGINT end in the same steps: stop a running BGSAVE (its temp file
//! removed), save when asked to (or by default when save points are set), and
//! only then make the accept loop return. A failed save keeps the server
//! running unless FORCE is given, for a signal as for the command.
//!
//! A signal only records that a shutdown is wanted (Redis's `shutdown_asap`);
//! the cron starts it with the flags of `shutdown-on-sigterm`/`-sigint`, so
//! DEBUG PAUSE-CRON holds it back and SHUTDOWN ABORT can cancel it, and a
//! second SIGINT while it is pending or running exits at once, deleting the
//! temp RDB file of a save in progress ("You insist... exiting now.").
//!
//! Partial: `shutdown-timeout` is not acted on, so a shutdown does not wait
//! for lagging replicas (Redis pauses writes and waits up to that long unless
//! NOW is given).

use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use tracing::{info, warn};

use crate::server::Server;

/// The flags of SHUTDOWN and of `shutdown-on-sigterm`/`-sigint`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    pub now: bool,
    pub force: bool,
}

impl ShutdownFlags {
    /// Sets the flag `word` names (any case); false if it names none.
    pub fn set(&mut self, word: &[u8]) -> bool {
        let flag = match word.to_ascii_lowercase().as_slice() {
            b"save" => &mut self.save,
            b"nosave" => &mut self.nosave,
            b"now" => &mut self.now,
            b"force" => &mut self.force,
            _ => return false,
        };
        *flag = true;
        true
    }

    /// The value CONFIG GET reports for `shutdown-on-sig*` set to `args`
    /// (words in one argument or several), with Redis's errors.
    pub fn canonical(args: &[String]) -> Result<String, String> {
        let mut flags = ShutdownFlags::default();
        let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
        for word in &words {
            if !word.eq_ignore_ascii_case("default") && !flags.set(word.as_bytes()) {
                return Err(
                    "argument(s) must be one of the following: default, save, nosave, now, force"
                        .into(),
                );
            }
        }
        if words.is_empty() {
            return Err("wrong number of arguments".into());
        }
        if flags.save && flags.nosave {
            return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
        }
        let names = [
            (flags.save, "save"),
            (flags.nosave, "nosave"),
            (flags.now, "now"),
            (flags.force, "force"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        Ok(if set.is_empty() {
            "default".into()
        } else {
            set.join(" ")
        })
    }

    /// The flags of a canonical `shutdown-on-sig*` value.
    fn from_config(value: &str) -> ShutdownFlags {
        let mut flags = ShutdownFlags::default();
        for word in value.split_whitespace() {
            flags.set(word.as_bytes());
        }
        flags
    }
}

/// The signals that ask for a shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Int,
}

impl Signal {
    fn directive(self) -> &'static str {
        match self {
            Signal::Term => "shutdown-on-sigterm",
            Signal::Int => "shutdown-on-sigint",
        }
    }
}

/// Why a shutdown did not happen (the reasons are in the log).
#[derive(Debug)]
pub struct ShutdownFailed;

/// Where a shutdown stands.
#[derive(Debug, Default)]
pub struct ShutdownState {
    /// The signal that asked for a shutdown not yet finished or cancelled
    /// (Redis's `shutdown_asap` and `last_sig_received`).
    requested: Mutex<Option<Signal>>,
    /// Held while the sequence runs, so a SHUTDOWN and a signal's shutdown
    /// do not save at the same time.
    running: Mutex<()>,
}

/// A shutdown signal arrived (called from the task that listens for them).
pub fn on_signal(server: &Server, signal: Signal) {
    let mut requested = server.shutdown_state.requested.lock();
    if requested.is_some() && signal == Signal::Int {
        warn!("You insist... exiting now.");
        crate::persistence::remove_temp_file();
        std::process::exit(1);
    }
    warn!(
        "{}",
        match signal {
            Signal::Term => "Received SIGTERM scheduling shutdown...",
            Signal::Int => "Received SIGINT scheduling shutdown...",
        }
    );
    *requested = Some(signal);
}

/// The cron's part (Redis's `serverCron`): starts the shutdown a signal asked for.
pub fn cron(server: &Server) {
    let Some(signal) = *server.shutdown_state.requested.lock() else {
        return;
    };
    let flags = ShutdownFlags::from_config(server.config.read().get(signal.directive()));
    // A failure is logged, and the server goes on.
    let _ = shutdown(server, flags);
}

/// SHUTDOWN ABORT: cancels a shutdown a signal asked for; false if none was.
pub fn abort(server: &Server) -> bool {
    if server.shutdown_state.requested.lock().take().is_none() {
        return false;
    }
    info!("Shutdown manually aborted.");
    true
}

/// Runs the shutdown sequence; on success the accept loop returns and the
/// process exits. On failure the server goes on, with any shutdown a signal
/// asked for cancelled.
pub fn shutdown(server: &Server, flags: ShutdownFlags) -> Result<(), ShutdownFailed> {
    let _one_at_a_time = server.shutdown_state.running.lock();
    if server.shutting_down.load(Ordering::SeqCst) {
        return Ok(());
    }
    warn!("User requested shutdown...");
    match finish(server, flags) {
        Ok(()) => {
            server.request_shutdown();
            Ok(())
        }
        Err(failed) => {
            warn!("Errors trying to shut down the server. Check the logs for more information.");
            *server.shutdown_state.requested.lock() = None;
            Err(failed)
        }
    }
}

/// Redis's `finishShutdown`, the steps before the process may exit.
fn finish(server: &Server, flags: ShutdownFlags) -> Result<(), ShutdownFailed> {
    crate::persistence::kill_background_save(server);
    crate::aof::before_exit(server);
    let wants_save = (crate::persistence::has_save_points(server) && !flags.nosave) || flags.save;
    if wants_save && crate::persistence::save_before_exit(server).is_err() {
        if !flags.force {
            warn!("Error trying to save the DB, can't exit.");
            return Err(ShutdownFailed);
        }
        warn!("Error trying to save the DB. Exit anyway.");
    }
    Ok(())
}
