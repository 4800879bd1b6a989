//! The cardinality estimate from a register histogram: Otmar Ertl's improved
//! estimator ("New cardinality estimation algorithms for HyperLogLog
//! sketches", arXiv:1702.01284), computed exactly as Redis 7.0's `hllCount`
//! so both servers answer the same number for the same registers.

use super::{Q, REGISTERS};

/// 0.5 / ln(2), Redis's `HLL_ALPHA_INF`.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// `hllSigma`.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

/// `hllTau`.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

/// The estimate for a histogram of register values (index = value).
pub fn cardinality(histogram: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histogram[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histogram[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histogram[0] as f64 / m);
    // llroundl: halfway cases away from zero, as f64::round.
    (ALPHA_INF * m * m / z).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_zero() {
        let mut histogram = [0u32; 64];
        histogram[0] = REGISTERS as u32;
        assert_eq!(cardinality(&histogram), 0);
    }

    #[test]
    fn one_register_set_is_one() {
        let mut histogram = [0u32; 64];
        histogram[0] = REGISTERS as u32 - 1;
        histogram[1] = 1;
        assert_eq!(cardinality(&histogram), 1);
    }
}
