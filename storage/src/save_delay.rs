//! `rdb-key-save-delay`: a pause after each key a save writes, as Redis's
//! `debugDelay` in `rdbSaveKeyValuePair`. Redis's test suite uses it to keep a
//! save (or a full sync) running long enough to act while it runs. Ferrite's
//! snapshot walk pauses after each shard for as many keys as it serialised,
//! outside the shard's lock, so commands are never slowed by it (Redis's
//! delay runs in the saving child, never in the server).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The configured delay in microseconds per key (0: none).
#[derive(Debug, Default)]
pub struct SaveDelay {
    micros: AtomicI64,
}

impl SaveDelay {
    pub fn set(&self, micros: i64) {
        self.micros.store(micros, Ordering::Relaxed);
    }

    /// Sleeps for `keys` keys' worth of delay. A negative delay `-n` is
    /// Redis's statistical short sleep: 1 µs per key with probability 1/n.
    pub fn after_keys(&self, keys: u64) {
        let micros = self.micros.load(Ordering::Relaxed);
        let total = match micros {
            0 => return,
            m if m > 0 => (m as u64).saturating_mul(keys),
            m => {
                use rand::Rng;
                let mut rng = rand::thread_rng();
                let one_in = m.unsigned_abs();
                (0..keys).filter(|_| rng.gen_range(0..one_in) == 0).count() as u64
            }
        };
        if total > 0 {
            std::thread::sleep(Duration::from_micros(total));
        }
    }
}
