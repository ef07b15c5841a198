//! Which minutes a run must (re)aggregate before it reads its window from a rollup.
//!
//! A rollup covers one contiguous range `[from, reach)` of whole minutes. A run asks for the
//! window `[since, until)`; it aggregates what the coverage lacks, and re-aggregates the last
//! `overlap` before the reach, where rows arriving late (after the previous run read them) land.
//! A later aggregation of a minute replaces the earlier one, so the overlap is idempotent.

use std::time::Duration;

use time::OffsetDateTime;

/// The contiguous range of minutes a rollup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    pub from: OffsetDateTime,
    pub reach: OffsetDateTime,
}

/// A half-open range of time to aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
}

/// What a run does: the ranges to aggregate, and the coverage afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub fills: Vec<Fill>,
    pub coverage: Coverage,
}

/// The plan for reading `[since, until)` from a rollup holding `coverage`.
pub fn plan(
    coverage: Option<Coverage>,
    since: OffsetDateTime,
    until: OffsetDateTime,
    overlap: Duration,
) -> Plan {
    let whole = Fill { since, until };
    let held = match coverage {
        // A window wholly before what is held (the daily report's week before): aggregate it,
        // but claim nothing, so the scheduled runs' coverage stays as it is.
        Some(held) if until < held.from => {
            return Plan {
                fills: vec![whole],
                coverage: held,
            }
        }
        Some(held) if since <= held.reach => held,
        // Nothing held, or a gap since the last run (forewarn was down): start afresh from the
        // window; what lies before the gap is no longer claimed.
        _ => {
            return Plan {
                fills: vec![whole],
                coverage: Coverage {
                    from: since,
                    reach: until,
                },
            }
        }
    };
    let mut fills = Vec::new();
    if since < held.from {
        fills.push(Fill {
            since,
            until: held.from,
        });
    }
    // Late rows land in the minutes just before the reach: aggregate those again, up to the
    // window's end. A window that ends well inside the coverage (an earlier as-of) reads as is.
    let again = (held.reach - overlap).max(held.from).max(since);
    if until > again {
        fills.push(Fill {
            since: again,
            until,
        });
    }
    Plan {
        fills,
        coverage: Coverage {
            from: held.from.min(since),
            reach: held.reach.max(until),
        },
    }
}

/// Splits a fill into chunks of at most `chunk`, so one statement never aggregates an unbounded
/// range (backfills of weeks).
pub fn chunks(fill: Fill, chunk: Duration) -> Vec<Fill> {
    let mut out = Vec::new();
    let mut start = fill.since;
    while start < fill.until {
        let end = (start + chunk).min(fill.until);
        out.push(Fill {
            since: start,
            until: end,
        });
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_first_run_aggregates_its_whole_window() {
        let p = plan(
            None,
            datetime!(2026-11-20 09:00 UTC),
            datetime!(2026-11-20 12:00 UTC),
            10 * MIN,
        );
        assert_eq!(
            p.fills,
            vec![Fill {
                since: datetime!(2026-11-20 09:00 UTC),
                until: datetime!(2026-11-20 12:00 UTC)
            }]
        );
        assert_eq!(p.coverage.reach, datetime!(2026-11-20 12:00 UTC));
    }

    #[test]
    fn a_steady_run_aggregates_only_the_new_minutes_and_the_overlap() {
        let held = Coverage {
            from: datetime!(2026-11-20 09:00 UTC),
            reach: datetime!(2026-11-20 12:00 UTC),
        };
        let p = plan(
            Some(held),
            datetime!(2026-11-20 09:05 UTC),
            datetime!(2026-11-20 12:05 UTC),
            10 * MIN,
        );
        assert_eq!(
            p.fills,
            vec![Fill {
                since: datetime!(2026-11-20 11:50 UTC),
                until: datetime!(2026-11-20 12:05 UTC)
            }]
        );
        assert_eq!(
            p.coverage,
            Coverage {
                from: datetime!(2026-11-20 09:00 UTC),
                reach: datetime!(2026-11-20 12:05 UTC)
            }
        );
    }

    #[test]
    fn a_window_older_than_the_overlap_reads_as_held_and_a_longer_one_fills_its_start() {
        let held = Coverage {
            from: datetime!(2026-11-20 09:00 UTC),
            reach: datetime!(2026-11-20 12:00 UTC),
        };
        let inside = plan(
            Some(held),
            datetime!(2026-11-20 09:00 UTC),
            datetime!(2026-11-20 11:00 UTC),
            10 * MIN,
        );
        assert!(inside.fills.is_empty(), "{:?}", inside.fills);
        assert_eq!(inside.coverage, held);
        let longer = plan(
            Some(held),
            datetime!(2026-11-20 06:00 UTC),
            datetime!(2026-11-20 12:00 UTC),
            10 * MIN,
        );
        assert_eq!(
            longer.fills,
            vec![
                Fill {
                    since: datetime!(2026-11-20 06:00 UTC),
                    until: datetime!(2026-11-20 09:00 UTC)
                },
                Fill {
                    since: datetime!(2026-11-20 11:50 UTC),
                    until: datetime!(2026-11-20 12:00 UTC)
                }
            ]
        );
    }

    #[test]
    fn a_gap_after_the_coverage_starts_afresh() {
        let held = Coverage {
            from: datetime!(2026-11-20 09:00 UTC),
            reach: datetime!(2026-11-20 10:00 UTC),
        };
        let p = plan(
            Some(held),
            datetime!(2026-11-20 11:00 UTC),
            datetime!(2026-11-20 14:00 UTC),
            10 * MIN,
        );
        assert_eq!(
            p.coverage,
            Coverage {
                from: datetime!(2026-11-20 11:00 UTC),
                reach: datetime!(2026-11-20 14:00 UTC)
            }
        );
        assert_eq!(p.fills.len(), 1);
    }

    #[test]
    fn a_window_before_the_coverage_is_aggregated_without_moving_it() {
        let held = Coverage {
            from: datetime!(2026-11-20 09:00 UTC),
            reach: datetime!(2026-11-20 12:00 UTC),
        };
        let week_before = plan(
            Some(held),
            datetime!(2026-11-12 12:00 UTC),
            datetime!(2026-11-13 12:00 UTC),
            10 * MIN,
        );
        assert_eq!(week_before.coverage, held);
        assert_eq!(
            week_before.fills,
            vec![Fill {
                since: datetime!(2026-11-12 12:00 UTC),
                until: datetime!(2026-11-13 12:00 UTC)
            }]
        );
    }

    #[test]
    fn chunks_cover_the_fill_exactly() {
        let fill = Fill {
            since: datetime!(2026-11-20 00:00 UTC),
            until: datetime!(2026-11-20 14:30 UTC),
        };
        let parts = chunks(fill, Duration::from_secs(6 * 3600));
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].since, fill.since);
        assert_eq!(parts[2].until, fill.until);
        assert!(parts.windows(2).all(|w| w[0].until == w[1].since));
    }
}
