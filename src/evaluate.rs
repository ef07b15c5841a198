//! Running rules: once as of a time (`analyze`, a scheduled run) or at every step of a range
//! (`backtest`). Both fetch each window through the same [`Source`] and judge it with the same
//! detectors; the backtest fetches each (query, bucket) once for the whole range and slices it
//! per step, which equals a fresh query because buckets are epoch-aligned and every as-of time
//! is floored to its rule's bucket (see `window`).

use std::collections::BTreeMap;
use std::time::Duration;

use polars::prelude::DataFrame;
use time::OffsetDateTime;

use crate::config::Rule;
use crate::detect::{self, DetectError, EvalContext};
use crate::findings::Finding;
use crate::source::{Source, SourceError};
use crate::window::{self, timefmt, QueryKind, WindowSpec};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error("slicing the {query} window: {message}")]
    Slice { query: QueryKind, message: String },
}

/// The window a rule judges as of `as_of`.
pub fn rule_window(rule: &Rule, as_of: OffsetDateTime) -> WindowSpec {
    WindowSpec::ending_at(as_of, rule.window.0, rule.bucket.0)
}

/// Judges one rule on its window frame.
pub fn judge(
    rule: &Rule,
    frame: &DataFrame,
    window: WindowSpec,
) -> Result<Vec<Finding>, DetectError> {
    let detector = detect::detector_for(rule.signal);
    detector.detect(frame, &EvalContext { rule, window })
}

/// Runs every rule once as of `as_of`. Rules sharing a window share one fetch.
pub async fn analyze(
    source: &Source,
    rules: &[&Rule],
    as_of: OffsetDateTime,
) -> Result<Vec<Finding>, EvalError> {
    let mut cache: BTreeMap<(QueryKind, i64, i64, u64), DataFrame> = BTreeMap::new();
    let mut findings = Vec::new();
    for rule in rules {
        let window = rule_window(rule, as_of);
        let query = detect::query_for(rule);
        let key = (
            query,
            timefmt::to_nanos(window.since),
            timefmt::to_nanos(window.until),
            window.bucket.as_secs(),
        );
        let frame = match cache.entry(key) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(source.fetch_window(query, &window).await?)
            }
        };
        findings.extend(judge(rule, frame, window)?);
    }
    Ok(findings)
}

/// A backtest's frames: one per (query, bucket), covering the whole range.
pub struct BacktestData {
    frames: BTreeMap<(QueryKind, u64), DataFrame>,
}

/// The as-of times of a backtest: every `step` from `from` to `to` inclusive (floored to step).
pub fn steps(from: OffsetDateTime, to: OffsetDateTime, step: Duration) -> Vec<OffsetDateTime> {
    let mut out = Vec::new();
    let mut t = timefmt::floor_to(from, step);
    if t < from {
        t += step;
    }
    while t <= to {
        out.push(t);
        t += step;
    }
    out
}

impl BacktestData {
    /// Fetches, per (query, bucket), everything the rules need for as-of times in [from, to].
    pub async fn fetch(
        source: &Source,
        rules: &[&Rule],
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<BacktestData, EvalError> {
        let mut ranges: BTreeMap<(QueryKind, u64), (OffsetDateTime, OffsetDateTime, Duration)> =
            BTreeMap::new();
        for rule in rules {
            let query = detect::query_for(rule);
            let first = rule_window(rule, from);
            let last = rule_window(rule, to);
            let entry = ranges.entry((query, rule.bucket.0.as_secs())).or_insert((
                first.since,
                last.until,
                rule.bucket.0,
            ));
            entry.0 = entry.0.min(first.since);
            entry.1 = entry.1.max(last.until);
        }
        let mut frames = BTreeMap::new();
        for ((query, bucket_s), (since, until, bucket)) in ranges {
            let window = WindowSpec {
                since,
                until,
                bucket,
            };
            let started = std::time::Instant::now();
            let frame = source.fetch_window(query, &window).await?;
            tracing::debug!(
                %query,
                since = %timefmt::rfc3339(since),
                until = %timefmt::rfc3339(until),
                rows = frame.height(),
                seconds = started.elapsed().as_secs_f64(),
                "backtest window fetched"
            );
            frames.insert((query, bucket_s), frame);
        }
        Ok(BacktestData { frames })
    }

    /// Runs every rule as of `as_of` on slices of the fetched frames.
    pub fn evaluate(
        &self,
        rules: &[&Rule],
        as_of: OffsetDateTime,
    ) -> Result<Vec<Finding>, EvalError> {
        let mut findings = Vec::new();
        for rule in rules {
            let query = detect::query_for(rule);
            let window = rule_window(rule, as_of);
            let Some(frame) = self.frames.get(&(query, rule.bucket.0.as_secs())) else {
                continue;
            };
            let slice = window::slice(frame, &window).map_err(|e| EvalError::Slice {
                query,
                message: e.to_string(),
            })?;
            findings.extend(judge(rule, &slice, window)?);
        }
        Ok(findings)
    }
}
