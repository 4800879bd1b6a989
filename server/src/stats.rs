//! Server-wide counters for INFO: connections, commands, per-command and
//! per-error statistics, keyspace hits and misses, network bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Latency buckets: bucket `i` counts calls that took at most 2^i microseconds.
pub const LATENCY_BUCKETS: usize = 32;

/// Per-command counters (`cmdstat_<name>` in INFO commandstats) and the
/// latency histogram LATENCY HISTOGRAM reports.
#[derive(Debug, Default)]
pub struct CommandStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected_calls: AtomicU64,
    pub failed_calls: AtomicU64,
    pub latency_histogram: [AtomicU64; LATENCY_BUCKETS],
}

impl CommandStat {
    fn reset(&self) {
        for counter in [
            &self.calls,
            &self.usec,
            &self.rejected_calls,
            &self.failed_calls,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        for bucket in &self.latency_histogram {
            bucket.store(0, Ordering::Relaxed);
        }
    }

    /// The latency (µs) under which `percentile` percent of the calls of
    /// `cdf` (a [`latency_cdf`](Self::latency_cdf)) took, as HdrHistogram's
    /// `hdr_value_at_percentile` gives it: the upper bound of the bucket
    /// holding that call (here a power of two, so up to twice the true
    /// value; Redis's HdrHistogram has 2 significant digits). None without
    /// calls.
    pub fn latency_at_percentile(cdf: &[(u64, u64)], percentile: f64) -> Option<u64> {
        let total = cdf.last()?.1;
        let wanted = ((percentile / 100.0 * total as f64 + 0.5) as u64).clamp(1, total);
        cdf.iter()
            .find(|&&(_, cumulative)| cumulative >= wanted)
            .map(|&(upper, _)| upper)
    }

    /// (upper bound in µs, cumulative count) for each bucket that adds calls.
    pub fn latency_cdf(&self) -> Vec<(u64, u64)> {
        let mut cumulative = 0;
        let mut points = Vec::new();
        for (i, bucket) in self.latency_histogram.iter().enumerate() {
            let count = bucket.load(Ordering::Relaxed);
            if count > 0 {
                cumulative += count;
                points.push((1u64 << i, cumulative));
            }
        }
        points
    }
}

#[derive(Debug, Default)]
pub struct ServerStats {
    pub total_connections_received: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub total_error_replies: AtomicU64,
    /// Keys removed by `maxmemory` eviction (INFO `evicted_keys`).
    pub evicted_keys: AtomicU64,
    /// Clients disconnected by `maxmemory-clients` (INFO `evicted_clients`).
    pub evicted_clients: AtomicU64,
    /// Indexed by command id (see `commands::table`).
    pub commands: Vec<CommandStat>,
    pub errors: Mutex<HashMap<String, u64>>,
}

impl ServerStats {
    pub fn new(command_count: usize) -> ServerStats {
        ServerStats {
            commands: (0..command_count).map(|_| CommandStat::default()).collect(),
            ..Default::default()
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn record_error(&self, code: &str) {
        Self::add(&self.total_error_replies, 1);
        let mut errors = self.errors.lock();
        // Redis caps distinct error codes at 128 to bound memory.
        if errors.len() < 128 || errors.contains_key(code) {
            *errors.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for counter in [
            &self.total_connections_received,
            &self.total_commands_processed,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.total_error_replies,
            &self.evicted_keys,
            &self.evicted_clients,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.commands.iter().for_each(CommandStat::reset);
        self.errors.lock().clear();
    }
}

/// A connection's command statistics not yet added to the shared counters.
///
/// Consecutive calls of the same command (a pipeline of SETs) are summed here
/// and added once, before the replies are written or when another command
/// runs, so shared counters are not hit once per pipelined command. Anyone who
/// has seen a reply therefore sees its command counted.
#[derive(Debug, Default)]
pub struct PendingCommandStats {
    command_id: Option<usize>,
    calls: u64,
    usec: u64,
    failed: u64,
    latency_buckets: [u32; LATENCY_BUCKETS],
}

impl PendingCommandStats {
    pub fn record(
        &mut self,
        stats: &ServerStats,
        command_id: usize,
        elapsed: std::time::Duration,
        failed: bool,
        track_latency: bool,
    ) {
        if self.command_id != Some(command_id) {
            self.flush(stats);
            self.command_id = Some(command_id);
        }
        self.calls += 1;
        self.usec += elapsed.as_micros() as u64;
        self.failed += failed as u64;
        if track_latency {
            self.latency_buckets[latency_bucket(elapsed.as_nanos() as u64)] += 1;
        }
    }

    /// The command whose calls are being summed.
    pub fn command_id(&self) -> Option<usize> {
        self.command_id
    }

    pub fn flush(&mut self, stats: &ServerStats) {
        let Some(command_id) = self.command_id.take() else {
            return;
        };
        let stat = &stats.commands[command_id];
        ServerStats::add(&stats.total_commands_processed, self.calls);
        ServerStats::add(&stat.calls, self.calls);
        ServerStats::add(&stat.usec, self.usec);
        if self.failed > 0 {
            ServerStats::add(&stat.failed_calls, self.failed);
        }
        for (bucket, count) in self.latency_buckets.iter_mut().enumerate() {
            if *count > 0 {
                ServerStats::add(&stat.latency_histogram[bucket], u64::from(*count));
                *count = 0;
            }
        }
        self.calls = 0;
        self.usec = 0;
        self.failed = 0;
    }
}

/// Bucket `i` holds calls that took at most 2^i microseconds.
fn latency_bucket(nanos: u64) -> usize {
    let micros = nanos.div_ceil(1000).max(1);
    ((64 - (micros - 1).leading_zeros()) as usize).min(LATENCY_BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_the_upper_bound_of_their_bucket() {
        let stat = CommandStat::default();
        let at = |p| CommandStat::latency_at_percentile(&stat.latency_cdf(), p);
        assert_eq!(at(50.0), None);
        // 3 calls of at most 1 µs, 1 of 3 µs (the 4 µs bucket).
        ServerStats::add(&stat.latency_histogram[latency_bucket(900)], 3);
        ServerStats::add(&stat.latency_histogram[latency_bucket(3_000)], 1);
        assert_eq!(at(0.0), Some(1));
        assert_eq!(at(50.0), Some(1));
        assert_eq!(at(75.0), Some(1));
        assert_eq!(at(99.0), Some(4));
        assert_eq!(at(100.0), Some(4));
    }
}
