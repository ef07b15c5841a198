//! Memory quantities (`512Mi`, `1.5Gi`, `1e9`) and how far a limit may be raised.
//!
//! A raise multiplies the current value by a factor, rounds up to a whole MiB (so the patch
//! reads like a limit a person would write) and never exceeds the cap.

const MI: u64 = 1 << 20;

/// A Kubernetes memory quantity in bytes; `None` if it is not one (or is fractional bytes).
pub fn parse_bytes(quantity: &str) -> Option<u64> {
    let quantity = quantity.trim();
    let suffixes: [(&str, f64); 12] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, multiplier) = suffixes
        .iter()
        .find_map(|(suffix, m)| quantity.strip_suffix(suffix).map(|n| (n, *m)))
        .unwrap_or((quantity, 1.0));
    if number.is_empty() || !number.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let bytes = value * multiplier;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then(|| bytes.ceil() as u64)
}

/// Bytes as the largest binary suffix that divides them exactly (`768Mi`), else plain bytes.
pub(crate) fn format_bytes(bytes: u64) -> String {
    let suffixes = [
        ("Ei", 60),
        ("Pi", 50),
        ("Ti", 40),
        ("Gi", 30),
        ("Mi", 20),
        ("Ki", 10),
    ];
    for (suffix, shift) in suffixes {
        let unit = 1u64 << shift;
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// `current_bytes × factor`, rounded up to a whole MiB, at most `cap_bytes`.
pub(crate) fn raised_bytes(current_bytes: u64, factor: f64, cap_bytes: u64) -> u64 {
    let wanted = (current_bytes as f64 * factor).ceil();
    let wanted = if wanted >= u64::MAX as f64 {
        u64::MAX
    } else {
        wanted as u64
    };
    let rounded = wanted.div_ceil(MI).saturating_mul(MI);
    rounded.min(cap_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KI: u64 = 1 << 10;

    #[test]
    fn quantities_parse_in_every_notation() {
        assert_eq!(parse_bytes("512Mi"), Some(512 * MI));
        assert_eq!(parse_bytes("1.5Gi"), Some(1536 * MI));
        assert_eq!(parse_bytes("500M"), Some(500_000_000));
        assert_eq!(parse_bytes("128974848"), Some(128_974_848));
        assert_eq!(parse_bytes("1e9"), Some(1_000_000_000));
        assert_eq!(parse_bytes("64Ki"), Some(64 * KI));
        assert_eq!(parse_bytes("Mi"), None);
        assert_eq!(parse_bytes("lots"), None);
    }

    #[test]
    fn bytes_format_with_the_largest_exact_suffix() {
        assert_eq!(format_bytes(768 * MI), "768Mi");
        assert_eq!(format_bytes(2048 * MI), "2Gi");
        assert_eq!(format_bytes(1000), "1000");
    }

    #[test]
    fn a_raise_rounds_up_to_a_mebibyte_and_stops_at_the_cap() {
        assert_eq!(raised_bytes(512 * MI, 1.5, 4096 * MI), 768 * MI);
        assert_eq!(raised_bytes(500_000_000, 1.5, 4096 * MI), 716 * MI);
        assert_eq!(raised_bytes(512 * MI, 4.0, 1024 * MI), 1024 * MI);
    }
}
