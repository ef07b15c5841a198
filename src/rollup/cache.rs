//! The window a long-lived process (the daemon) read last, kept per query and bucket width, so
//! its next read of that window — moved on by a run's interval — reads from the rollup only the
//! buckets since, plus the overlap, and splices them onto the rows it still holds
//! (`window::splice`).
//!
//! Rows arriving late land in the overlap, as they do for a pull rollup's re-aggregation: a
//! spliced window equals the window read whole wherever the rollup's minutes before the overlap
//! did not change since the previous read.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use crate::window::splice::Previous;
use crate::window::timefmt::floor_to;
use crate::window::{QueryKind, WindowSpec};

struct Entry {
    /// The rollup's fingerprint the window was read under: rows built otherwise are not spliced.
    fingerprint: String,
    window: WindowSpec,
    previous: Previous,
}

/// The previous windows of one process, shared by every source it opens.
#[derive(Default)]
pub struct WindowCache {
    entries: Mutex<HashMap<(QueryKind, Duration), Entry>>,
}

impl fmt::Debug for WindowCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        write!(f, "WindowCache {{ windows: {held} }}")
    }
}

impl WindowCache {
    pub fn new() -> WindowCache {
        WindowCache::default()
    }

    /// The previous window `window` can be spliced onto, and where its kept rows end (the
    /// read then starts there). It is taken out: a read that fails leaves nothing stale, and
    /// two jobs reading the same window at once simply both read it whole.
    pub fn take(
        &self,
        kind: QueryKind,
        window: &WindowSpec,
        fingerprint: &str,
        overlap: Duration,
        earliest_fill: Option<OffsetDateTime>,
    ) -> Option<(Previous, OffsetDateTime)> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.remove(&(kind, window.bucket))?;
        if entry.fingerprint != fingerprint {
            return None;
        }
        let keep_until = keep_until(&entry.window, window, overlap, earliest_fill)?;
        Some((entry.previous, keep_until))
    }

    /// Keeps `previous`, the window just read, for the next read.
    pub fn keep(&self, kind: QueryKind, window: WindowSpec, fingerprint: &str, previous: Previous) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                (kind, window.bucket),
                Entry {
                    fingerprint: fingerprint.to_string(),
                    window,
                    previous,
                },
            );
        }
    }
}

/// Where the rows of `previous` that `window` keeps end: `overlap` before the previous window's
/// end, or where this run aggregated minutes again if that is earlier, on a bucket boundary.
/// `None` where nothing can be kept: another bucket, a window that moved back or past the
/// previous one, or a start off a bucket boundary (its first bucket is partial, so its rows
/// differ from the previous window's whole bucket).
pub fn keep_until(
    previous: &WindowSpec,
    window: &WindowSpec,
    overlap: Duration,
    earliest_fill: Option<OffsetDateTime>,
) -> Option<OffsetDateTime> {
    let bucket = window.bucket;
    if previous.bucket != bucket
        || bucket.is_zero()
        || floor_to(window.since, bucket) != window.since
        || window.since < previous.since
        || window.until < previous.until
    {
        return None;
    }
    let mut until = previous.until - overlap;
    if let Some(fill) = earliest_fill {
        until = until.min(fill);
    }
    let until = floor_to(until, bucket);
    (until > window.since).then_some(until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const MIN: Duration = Duration::from_secs(60);

    fn spec(until: OffsetDateTime, bucket: Duration) -> WindowSpec {
        WindowSpec::ending_at(until, Duration::from_secs(3 * 3600), bucket)
    }

    #[test]
    fn the_next_window_keeps_rows_up_to_the_overlap_before_the_previous_end() {
        let previous = spec(datetime!(2026-12-07 12:00 UTC), MIN);
        let next = spec(datetime!(2026-12-07 12:05 UTC), MIN);
        assert_eq!(
            keep_until(&previous, &next, 10 * MIN, None),
            Some(datetime!(2026-12-07 11:50 UTC))
        );
        // A run that aggregated from earlier (a gap, a fresh rollup) keeps less.
        assert_eq!(
            keep_until(
                &previous,
                &next,
                10 * MIN,
                Some(datetime!(2026-12-07 10:00 UTC))
            ),
            Some(datetime!(2026-12-07 10:00 UTC))
        );
        // 5-minute buckets: kept rows end on a bucket boundary.
        let previous = spec(datetime!(2026-12-07 12:00 UTC), 5 * MIN);
        let next = spec(datetime!(2026-12-07 12:05 UTC), 5 * MIN);
        assert_eq!(
            keep_until(&previous, &next, 7 * MIN, None),
            Some(datetime!(2026-12-07 11:50 UTC))
        );
    }

    #[test]
    fn nothing_is_kept_for_another_bucket_a_window_moved_back_or_past_or_off_its_buckets() {
        let previous = spec(datetime!(2026-12-07 12:00 UTC), MIN);
        let other_bucket = spec(datetime!(2026-12-07 12:05 UTC), 5 * MIN);
        assert_eq!(keep_until(&previous, &other_bucket, 10 * MIN, None), None);
        let back = spec(datetime!(2026-12-07 11:55 UTC), MIN);
        assert_eq!(keep_until(&previous, &back, 10 * MIN, None), None);
        let past = spec(datetime!(2026-12-07 15:00 UTC), MIN);
        assert_eq!(keep_until(&previous, &past, 10 * MIN, None), None);
        let previous5 = spec(datetime!(2026-12-07 12:00 UTC), 5 * MIN);
        let off = WindowSpec {
            since: datetime!(2026-12-07 09:07 UTC),
            until: datetime!(2026-12-07 12:07 UTC),
            bucket: 5 * MIN,
        };
        assert_eq!(keep_until(&previous5, &off, 10 * MIN, None), None);
        // Control: the same moves by whole buckets keep rows.
        let on = spec(datetime!(2026-12-07 12:10 UTC), 5 * MIN);
        assert!(keep_until(&previous5, &on, 10 * MIN, None).is_some());
    }
}
