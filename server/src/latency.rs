//! LATENCY monitor: per-event spikes above `latency-monitor-threshold`
//! milliseconds, a history of the last 160 samples per event, as Redis keeps.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::server::Server;

const HISTORY_LEN: usize = 160;

/// Records `elapsed` for `event` when the monitor is on and it reached the
/// threshold (Redis's `latencyAddSampleIfNeeded`).
pub fn add_sample_if_needed(server: &Server, event: &str, elapsed: Duration) {
    let threshold = server.hot.latency_threshold_ms.load(Ordering::Relaxed);
    let millis = elapsed.as_millis() as u64;
    if threshold > 0 && millis >= threshold {
        server.latency.lock().record(event, millis);
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LatencySample {
    pub time_s: u64,
    pub latency_ms: u64,
}

#[derive(Debug, Default)]
pub struct LatencyEvent {
    pub samples: VecDeque<LatencySample>,
    pub max_ms: u64,
}

#[derive(Debug, Default)]
pub struct LatencyMonitor {
    pub events: BTreeMap<String, LatencyEvent>,
}

impl LatencyMonitor {
    /// Records a sample; samples in the same second keep the larger latency.
    pub fn record(&mut self, event: &str, latency_ms: u64) {
        let now = ferrite_storage::now_ms() / 1000;
        let history = self.events.entry(event.to_string()).or_default();
        history.max_ms = history.max_ms.max(latency_ms);
        match history.samples.back_mut() {
            Some(last) if last.time_s == now => last.latency_ms = last.latency_ms.max(latency_ms),
            _ => {
                history.samples.push_back(LatencySample {
                    time_s: now,
                    latency_ms,
                });
                if history.samples.len() > HISTORY_LEN {
                    history.samples.pop_front();
                }
            }
        }
    }

    /// Resets the named events (all when `names` is empty); returns how many.
    pub fn reset(&mut self, names: &[String]) -> usize {
        if names.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        names
            .iter()
            .filter(|name| self.events.remove(name.as_str()).is_some())
            .count()
    }
}
