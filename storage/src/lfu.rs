//! Redis's LFU counter: an 8-bit logarithmic access counter that grows with
//! probability 1/((counter - 5) * log_factor + 1) and decays by one every
//! `decay_minutes` of idleness (`LFULogIncr`, `LFUDecrAndReturn` in evict.c).

/// A new key's counter (`LFU_INIT_VAL`), so fresh keys are not evicted first.
pub const INITIAL: u8 = 5;

/// `lfu-log-factor` and `lfu-decay-time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LfuParams {
    pub log_factor: u32,
    pub decay_minutes: u32,
}

impl Default for LfuParams {
    fn default() -> Self {
        LfuParams {
            log_factor: 10,
            decay_minutes: 1,
        }
    }
}

/// The counter after decaying for the time since `last_access_s`.
pub fn decayed(counter: u8, last_access_s: u32, now_s: u32, params: LfuParams) -> u8 {
    if params.decay_minutes == 0 {
        return counter;
    }
    let idle_minutes = now_s.saturating_sub(last_access_s) / 60;
    let periods = idle_minutes / params.decay_minutes;
    counter.saturating_sub(periods.min(255) as u8)
}

/// One access: increments with decreasing probability as the counter grows.
pub fn log_increment(counter: u8, params: LfuParams) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = counter.saturating_sub(INITIAL) as f64;
    let probability = 1.0 / (base * params.log_factor as f64 + 1.0);
    if rand::random::<f64>() < probability {
        counter + 1
    } else {
        counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decays_per_period_and_saturates() {
        let params = LfuParams::default();
        assert_eq!(decayed(10, 0, 180, params), 7);
        assert_eq!(decayed(2, 0, 6000, params), 0);
        assert_eq!(log_increment(255, params), 255);
        assert_eq!(log_increment(INITIAL, params), INITIAL + 1);
    }
}
