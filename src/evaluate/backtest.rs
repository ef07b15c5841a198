//! Backtests: the rules judged as of every step of a past range, through the same [`run`] as a
//! live evaluation. The range is walked in chunks of as-of times: per chunk each (query, bucket)
//! is fetched once and sliced per step, then dropped, so memory follows the chunk (plus the
//! rules' windows), not the range. Steps are independent, so the chunk size never changes a
//! finding.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{rule_window, run, EvalError, RuleFailure, RunReport, Windows};
use crate::config::Rule;
use crate::detect;
use crate::findings::Finding;
use crate::source::Source;
use crate::window::{timefmt, QueryKind, WindowFrame, WindowSpec};

/// A backtest's frames: one per (query, bucket), covering the whole range. A window that could
/// not be fetched keeps its error, so every step reports the rules it fails.
pub struct BacktestData {
    frames: BTreeMap<(QueryKind, u64), Result<WindowFrame, Arc<EvalError>>>,
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
    ) -> BacktestData {
        let mut ranges: BTreeMap<(QueryKind, u64), WindowSpec> = BTreeMap::new();
        for rule in rules {
            let query = detect::query_for(rule);
            let first = rule_window(rule, from);
            let last = rule_window(rule, to);
            let entry = ranges
                .entry((query, rule.bucket.0.as_secs()))
                .or_insert(WindowSpec {
                    since: first.since,
                    until: last.until,
                    bucket: rule.bucket.0,
                });
            entry.since = entry.since.min(first.since);
            entry.until = entry.until.max(last.until);
        }
        let mut frames = BTreeMap::new();
        for (key, window) in ranges {
            let started = Instant::now();
            let frame = source.fetch_window(key.0, &window).await;
            match &frame {
                Ok(frame) => tracing::debug!(
                    query = %key.0,
                    since = %timefmt::rfc3339(window.since),
                    until = %timefmt::rfc3339(window.until),
                    rows = frame.height(),
                    seconds = started.elapsed().as_secs_f64(),
                    "backtest window fetched"
                ),
                Err(error) => tracing::warn!(query = %key.0, %error, "backtest window failed"),
            }
            frames.insert(key, frame.map_err(|e| Arc::new(EvalError::from(e))));
        }
        BacktestData { frames }
    }

    /// The slice of a fetched range frame that a fresh query of `spec` would return.
    pub(super) fn slice(
        &self,
        query: QueryKind,
        spec: &WindowSpec,
    ) -> Result<WindowFrame, EvalError> {
        match self.frames.get(&(query, spec.bucket.as_secs())) {
            None => Err(EvalError::NotFetched { query }),
            Some(Err(error)) => Err(EvalError::Shared(Arc::clone(error))),
            Some(Ok(frame)) => super::slice(frame, query, spec),
        }
    }
}

/// The as-of times a backtest judges, and how many of them share one fetch.
#[derive(Debug, Clone, Copy)]
pub struct BacktestRange {
    /// First as-of time (floored to `step`, then the first step not before it).
    pub from: OffsetDateTime,
    /// Last as-of time, inclusive.
    pub to: OffsetDateTime,
    pub step: Duration,
    /// The span of as-of times fetched together. Each chunk re-reads the rules' longest window
    /// before its first step, so a chunk much shorter than the windows reads data repeatedly; a
    /// chunk much longer holds more rows at once.
    pub chunk: Duration,
}

impl BacktestRange {
    /// Six hours of as-of times per fetch: with the shipped 3–6 h windows each row is read about
    /// twice (a day of the demo at 1.5× scale: 113 s, 1.4 GiB; 1 h chunks: 0.8 GiB at 3.3× the
    /// time, bench/report.md).
    pub const DEFAULT_CHUNK: Duration = Duration::from_secs(6 * 3600);

    pub fn new(from: OffsetDateTime, to: OffsetDateTime, step: Duration) -> BacktestRange {
        BacktestRange {
            from,
            to,
            step,
            chunk: Self::DEFAULT_CHUNK,
        }
    }

    pub fn with_chunk(self, chunk: Duration) -> BacktestRange {
        BacktestRange { chunk, ..self }
    }

    /// The as-of times, split into consecutive chunks (each at least one step).
    pub fn chunks(&self) -> Vec<Vec<OffsetDateTime>> {
        let mut chunks: Vec<Vec<OffsetDateTime>> = Vec::new();
        for as_of in steps(self.from, self.to, self.step) {
            match chunks.last_mut() {
                Some(chunk) if as_of - chunk[0] < self.chunk => chunk.push(as_of),
                _ => chunks.push(vec![as_of]),
            }
        }
        chunks
    }
}

/// What a whole backtest produced.
pub struct BacktestOutcome {
    pub steps: usize,
    pub findings: Vec<Finding>,
    /// Distinct (rule, error) failures over all steps.
    pub failures: Vec<RuleFailure>,
    pub seconds: f64,
}

/// Runs every step of `range`, fetching chunk by chunk; `on_step(index, total, report)` sees
/// each step's report (to print findings, advance a progress bar) and may stop the backtest
/// with an error.
pub async fn drive<E>(
    source: &Source,
    rules: &[&Rule],
    range: BacktestRange,
    mut on_step: impl FnMut(usize, usize, &RunReport) -> Result<(), E>,
) -> Result<BacktestOutcome, E> {
    let started = Instant::now();
    let chunks = range.chunks();
    let total = chunks.iter().map(Vec::len).sum();
    let mut outcome = BacktestOutcome {
        steps: total,
        findings: Vec::new(),
        failures: Vec::new(),
        seconds: 0.0,
    };
    let mut index = 0;
    for chunk in &chunks {
        let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
        let data = BacktestData::fetch(source, rules, first, last).await;
        let windows = Windows::Backtest(&data);
        for as_of in chunk {
            let report = run(&windows, rules, *as_of).await;
            on_step(index, total, &report)?;
            index += 1;
            for failure in report.failures {
                let seen = outcome.failures.iter().any(|f| {
                    f.rule == failure.rule && f.error.to_string() == failure.error.to_string()
                });
                if !seen {
                    outcome.failures.push(failure);
                }
            }
            outcome.findings.extend(report.findings);
        }
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}
