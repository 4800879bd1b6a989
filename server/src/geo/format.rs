//! How GEO replies print numbers, as Redis does: distances with exactly four
//! decimals (`fixedpoint_d2string`), coordinates as `%.17Lf` with trailing
//! zeros removed (`ld2string`'s human mode).

/// A distance with four decimals, rounded half to even as `llrint` does.
pub fn distance(value: f64) -> String {
    if value == 0.0 {
        return "0.0000".to_string();
    }
    let scaled = (value * 10000.0).round_ties_even();
    // llrint of a value past the i64 range gives i64::MIN on x86-64.
    let scaled = if scaled >= -9223372036854775808.0 && scaled < 9223372036854775808.0 {
        scaled as i64
    } else {
        i64::MIN
    };
    let sign = if scaled < 0 { "-" } else { "" };
    let magnitude = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", magnitude / 10000, magnitude % 10000)
}

/// A coordinate: 17 decimals, trailing zeros (and a bare point) removed.
pub fn coordinate(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let mut text = format!("{value:.17}");
    if text.contains('.') {
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
    }
    if text == "-0" {
        text = "0".to_string();
    }
    text
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

    #[test]
    fn coordinates_as_redis_prints_them() {
        assert_eq!(coordinate(13.361389338970184), "13.36138933897018433");
        assert_eq!(coordinate(180.0), "180");
        assert_eq!(coordinate(85.05112878), "85.0511287799999991");
        assert_eq!(coordinate(-0.0), "0");
        assert_eq!(coordinate(-1e-30), "0");
    }
}
