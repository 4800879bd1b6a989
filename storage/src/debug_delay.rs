//! Redis's hidden debug configs `rdb-key-save-delay` and `key-load-delay`:
//! microseconds to sleep per key a snapshot walk serialises (BGSAVE, a full
//! sync) or an RDB load reads, so tests can keep a save or load running.
//! A negative value `-n` sleeps 1 µs once every `n` keys, as Redis's
//! `debugDelay` sleeps 1 µs with probability 1/n ("statistically sleeping
//! less often"), here deterministic. Only the walk sleeps: a command that
//! captures a shard for the snapshot is never delayed, as Redis's parent
//! process is not while its child saves.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

/// The two delays, set from the configuration.
#[derive(Debug, Default)]
pub struct DebugDelays {
    save_us: AtomicI32,
    load_us: AtomicI32,
    /// Keys counted towards the next 1 µs of a negative delay.
    counted: AtomicU64,
}

impl DebugDelays {
    pub fn set(&self, key_save_us: i32, key_load_us: i32) {
        self.save_us.store(key_save_us, Ordering::Relaxed);
        self.load_us.store(key_load_us, Ordering::Relaxed);
    }

    /// After a walk serialised `keys` keys.
    pub fn after_saving(&self, keys: usize) {
        self.sleep(self.save_us.load(Ordering::Relaxed), keys);
    }

    /// After a load read one key.
    pub(crate) fn after_loading_key(&self) {
        self.sleep(self.load_us.load(Ordering::Relaxed), 1);
    }

    fn sleep(&self, per_key_us: i32, keys: usize) {
        let micros = self.micros(per_key_us, keys);
        if micros > 0 {
            std::thread::sleep(Duration::from_micros(micros));
        }
    }

    /// How long `keys` keys sleep at `per_key_us`.
    fn micros(&self, per_key_us: i32, keys: usize) -> u64 {
        match per_key_us {
            0 => 0,
            positive if positive > 0 => positive as u64 * keys as u64,
            negative => {
                let every = u64::from(negative.unsigned_abs());
                let before = self.counted.fetch_add(keys as u64, Ordering::Relaxed);
                (before + keys as u64) / every - before / every
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DebugDelays;

    #[test]
    fn positive_delays_count_per_key_negative_ones_every_nth_key() {
        let delays = DebugDelays::default();
        assert_eq!(delays.micros(0, 1000), 0);
        assert_eq!(delays.micros(1_000_000, 3), 3_000_000);
        // -4: 1 µs per 4 keys, counted across calls.
        assert_eq!(delays.micros(-4, 3), 0);
        assert_eq!(delays.micros(-4, 1), 1);
        assert_eq!(delays.micros(-4, 9), 2);
    }
}
