//! Whether a dataset is being loaded, as Redis's `server.loading` and
//! `server.async_loading`. INFO reports it; while a load replaces the
//! keyspace, commands without the `loading` flag get `-LOADING` (Redis's
//! processCommand); during an async load (a replica's swapdb load of the same
//! replication history, the old data served meanwhile) only the
//! `no_async_loading` commands and the configs that deny it do.
//!
//! Ferrite's loads never leave a half-loaded keyspace visible: the new data
//! is built apart and installed at once. The state is what Redis's clients
//! and tests observe while that happens.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use crate::client::ClientState;
use crate::command::CommandSpec;

/// Redis's `shared.loadingerr`.
pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";

const IDLE: u8 = 0;
const BLOCKING: u8 = 1;
const ASYNC: u8 = 2;

/// How a load shows while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadingMode {
    /// INFO `loading:1`; commands without the `loading` flag are refused.
    Blocking,
    /// INFO `async_loading:1`; the old data is served meanwhile.
    Async,
}

/// The load in progress, if any, and its progress (INFO's `loading_*` fields).
#[derive(Default)]
pub struct LoadingState {
    mode: AtomicU8,
    started_s: AtomicU64,
    total_bytes: AtomicU64,
    loaded_bytes: AtomicU64,
}

/// Ends the load it was returned for when dropped (Redis's `stopLoading`),
/// whether the load succeeded or not.
pub struct LoadingGuard<'a> {
    state: &'a LoadingState,
}

impl Drop for LoadingGuard<'_> {
    fn drop(&mut self) {
        self.state.mode.store(IDLE, Ordering::SeqCst);
    }
}

impl LoadingState {
    /// Starts a load of `total_bytes` (0 when unknown, as for an RDB streamed
    /// with an EOF mark); it lasts until the guard is dropped.
    pub fn begin(&self, mode: LoadingMode, total_bytes: u64) -> LoadingGuard<'_> {
        self.started_s.store(now_s(), Ordering::Relaxed);
        self.total_bytes.store(total_bytes, Ordering::Relaxed);
        self.loaded_bytes.store(0, Ordering::Relaxed);
        let mode = match mode {
            LoadingMode::Blocking => BLOCKING,
            LoadingMode::Async => ASYNC,
        };
        self.mode.store(mode, Ordering::SeqCst);
        LoadingGuard { state: self }
    }

    /// Bytes of the dataset read so far.
    pub fn set_loaded(&self, bytes: u64) {
        self.loaded_bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn loaded(&self) -> u64 {
        self.loaded_bytes.load(Ordering::Relaxed)
    }

    pub fn mode(&self) -> Option<LoadingMode> {
        match self.mode.load(Ordering::SeqCst) {
            BLOCKING => Some(LoadingMode::Blocking),
            ASYNC => Some(LoadingMode::Async),
            _ => None,
        }
    }

    /// Any load, blocking or async (Redis's `server.loading`, which an async
    /// load sets too): what CONFIG SET's `DENY_LOADING_CONFIG` checks.
    pub fn any(&self) -> bool {
        self.mode().is_some()
    }

    /// INFO's `loading` and `async_loading`.
    pub fn flags(&self) -> (u8, u8) {
        match self.mode() {
            Some(LoadingMode::Blocking) => (1, 0),
            Some(LoadingMode::Async) => (0, 1),
            None => (0, 0),
        }
    }

    /// INFO's progress fields, printed while a load runs, in Redis's order
    /// and with its estimates.
    pub fn progress_fields(&self) -> Vec<(&'static str, String)> {
        if !self.any() {
            return Vec::new();
        }
        let started = self.started_s.load(Ordering::Relaxed);
        let total = self.total_bytes.load(Ordering::Relaxed);
        let loaded = self.loaded_bytes.load(Ordering::Relaxed);
        let (percent, remaining) = if total > 0 {
            (
                loaded as f64 / total as f64 * 100.0,
                total.saturating_sub(loaded),
            )
        } else {
            (0.0, 1)
        };
        let elapsed = now_s().saturating_sub(started);
        let eta = if elapsed == 0 {
            1
        } else {
            elapsed.saturating_mul(remaining) / (loaded + 1)
        };
        vec![
            ("loading_start_time", started.to_string()),
            ("loading_total_bytes", total.to_string()),
            ("loading_rdb_used_mem", "0".into()),
            ("loading_loaded_bytes", loaded.to_string()),
            ("loading_loaded_perc", format!("{percent:.2}")),
            ("loading_eta_seconds", eta.to_string()),
        ]
    }
}

/// The `-LOADING` refusal a command gets while a load runs, if any (Redis's
/// processCommand: during a blocking load every command without the
/// `loading` flag; during an async one those flagged `no_async_loading`).
/// An EXEC is judged by what it queued, as Redis does.
pub fn refusal(
    state: &LoadingState,
    client: &ClientState,
    spec: &CommandSpec,
    name: &str,
) -> Option<&'static str> {
    let mode = state.mode()?;
    if client.repl.is_master {
        return None;
    }
    let exec = if name == "exec" {
        client.multi.as_ref()
    } else {
        None
    };
    let refused = match mode {
        LoadingMode::Blocking => {
            !spec.has_flag("loading") || exec.is_some_and(|multi| multi.denies_loading)
        }
        LoadingMode::Async => {
            spec.has_flag("no_async_loading")
                || exec.is_some_and(|multi| multi.denies_async_loading)
        }
    };
    refused.then_some(LOADING_ERROR)
}

fn now_s() -> u64 {
    ferrite_storage::now_ms() / 1000
}
