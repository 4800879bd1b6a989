//! Doubles printed as C's `%.17g`, which is how Redis 7.0 prints double replies
//! (`addReplyDouble`) and sorted-set scores.

/// Formats `value` exactly as `printf("%.17g")` does, with Redis's spelling of
/// infinities (`inf`, `-inf`) and `nan`.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    const PRECISION: i32 = 17;
    // `{:.16e}` gives 17 significant digits, rounded as printf rounds them.
    let scientific = format!("{:.*e}", (PRECISION - 1) as usize, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("Rust's {:e} format always has an exponent");
    let exponent: i32 = exponent.parse().expect("exponent is an integer");
    if !(-4..PRECISION).contains(&exponent) {
        let mantissa = trim_fraction_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        let decimals = (PRECISION - 1 - exponent).max(0) as usize;
        trim_fraction_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

/// Formats `value` as Redis's human mode of `ld2string` does (`%.17Lf`,
/// trailing zeros and a bare point removed, `-0` as `0`): how GEOPOS and
/// WITHCOORD print coordinates.
pub fn format_human_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let text = trim_fraction_zeros(&format!("{value:.17}")).to_string();
    if text == "-0" {
        "0".to_string()
    } else {
        text
    }
}

fn trim_fraction_zeros(number: &str) -> &str {
    if !number.contains('.') {
        return number;
    }
    number.trim_end_matches('0').trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::{format_double, format_human_double};

    #[test]
    fn human_mode_is_seventeen_decimals_trimmed() {
        assert_eq!(
            format_human_double(13.361389338970184),
            "13.36138933897018433"
        );
        assert_eq!(format_human_double(180.0), "180");
        assert_eq!(format_human_double(85.05112878), "85.0511287799999991");
        assert_eq!(format_human_double(-0.0), "0");
        assert_eq!(format_human_double(-1e-30), "0");
        assert_eq!(format_human_double(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn matches_printf_g17() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(100.0), "100");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(-2.0), "-2");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(12345678901234567.0), "12345678901234568");
    }
}
