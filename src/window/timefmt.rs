//! Time helpers shared by sources, detectors and the CLI: flooring to buckets, nanosecond
//! conversions, and the text forms ClickHouse parameters and humans use.

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn to_nanos(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

pub fn from_nanos(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ns as i128).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Floors `t` to a multiple of `step` since the Unix epoch (what `toStartOfInterval` does).
pub fn floor_to(t: OffsetDateTime, step: Duration) -> OffsetDateTime {
    let step_ns = step.as_nanos().max(1) as i128;
    let ns = t.unix_timestamp_nanos();
    from_nanos((ns - ns.rem_euclid(step_ns)) as i64)
}

/// `2026-11-23 06:00:00.000000000`: the text form of a `DateTime64(9)` query parameter (UTC).
pub fn clickhouse_datetime64(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

/// RFC 3339 in UTC with a `Z`, whole seconds unless there is a fraction.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// Parses RFC 3339 (`2026-11-23T06:00:00Z`), or `now`, or `now-2h` / `-2h` (relative to now).
pub fn parse_time(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    if let Some(rest) = text.strip_prefix("now-").or_else(|| text.strip_prefix('-')) {
        let ago = humantime::parse_duration(rest)
            .map_err(|e| format!("`{text}`: bad relative time: {e}"))?;
        return Ok(now - ago);
    }
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        format!("`{text}` is not a time: use RFC 3339 like 2026-11-23T06:00:00Z, or now-2h ({e})")
    })
}

/// Parses a duration like `5m`, `1h30m`, `90s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration like 5m or 2h: {e}"))
}
