//! How GEO replies print distances, as Redis does: with exactly four
//! decimals (`fixedpoint_d2string`). (Coordinates are printed by
//! `ferrite_resp::format_human_double`.)

/// A distance with four decimals, rounded half to even as `llrint` does.
pub fn distance(value: f64) -> String {
    if value == 0.0 {
        return "0.0000".to_string();
    }
    let scaled = (value * 10000.0).round_ties_even();
    // llrint of a value past the i64 range gives i64::MIN on x86-64.
    let scaled = if (-9223372036854775808.0..9223372036854775808.0).contains(&scaled) {
        scaled as i64
    } else {
        i64::MIN
    };
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", magnitude / 10000, magnitude % 10000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_have_four_decimals() {
        assert_eq!(distance(0.0), "0.0000");
        assert_eq!(distance(166274.15156960033), "166274.1516");
        assert_eq!(distance(0.00004), "0.0000");
        assert_eq!(distance(0.7750), "0.7750");
        assert_eq!(distance(-2.5), "-2.5000");
    }
}
