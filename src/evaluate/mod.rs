//! Running rules: the one evaluation path every entry point calls.
//!
//! [`run`] judges a set of rules as of one time and returns a [`RunReport`]: the findings, every
//! per-rule failure (rule, query file, error) and per-query timings and row counts. `analyze`,
//! each step of a `backtest`, the demo, the detection-quality test and the scheduled run
//! (`forewarn run`, the daemon) all go through it; nothing else loops over rules.
//!
//! Windows come from a [`Windows`] provider: live from a [`Source`] (rules that share a window
//! share one fetch), or sliced out of a backtest's range frames ([`backtest::BacktestData`]),
//! which equals a fresh query because buckets are epoch-aligned and every as-of time is floored
//! to its rule's bucket (see `window`).
//!
//! One rule's failure never stops the others: its error is recorded in the report and the
//! remaining rules are still judged. A report with failures is not "all clear"
//! ([`RunReport::is_complete`]); the CLI exits 1 for it.

pub mod backtest;
pub mod select;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::config::Rule;
use crate::detect::{self, DetectError, EvalContext};
use crate::findings::{Finding, Severity, Status};
use crate::source::{Source, SourceError};
use crate::window::{self, timefmt, QueryKind, WindowFrame, WindowSpec};

pub use backtest::{steps, BacktestData, BacktestRange};
pub use select::{load_rules, select_rules, SelectError};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error("slicing the {query} window for {as_of}")]
    Slice {
        query: QueryKind,
        as_of: String,
        #[source]
        source: polars::error::PolarsError,
    },
    #[error("the {query} window was not fetched for this backtest")]
    NotFetched { query: QueryKind },
    /// A window's failure, shared by every rule (and backtest step) that reads it.
    #[error(transparent)]
    Shared(Arc<EvalError>),
}

/// One rule that could not be judged in a run.
#[derive(Debug, Clone)]
pub struct RuleFailure {
    pub rule: String,
    pub query: QueryKind,
    /// The SQL file(s) behind the window (`restarts.sql` also joins `pod_events.sql`).
    pub query_files: Vec<String>,
    /// Shared: every rule reading a failed window carries the same error.
    pub error: Arc<EvalError>,
}

impl std::fmt::Display for RuleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rule {} ({}): {}",
            self.rule,
            self.query_files.join(" + "),
            self.error
        )
    }
}

/// What one window cost: fetched from the source, or sliced from a backtest frame.
#[derive(Debug, Clone)]
pub struct QueryStat {
    pub query: QueryKind,
    pub since: OffsetDateTime,
    pub until: OffsetDateTime,
    pub bucket: Duration,
    pub rows: usize,
    pub seconds: f64,
    /// The rules that read this window.
    pub rules: Vec<String>,
    pub failed: bool,
}

/// The outcome of judging a set of rules as of one time.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub as_of: OffsetDateTime,
    /// The rules judged (in order), failed or not.
    pub rules: Vec<String>,
    pub findings: Vec<Finding>,
    pub failures: Vec<RuleFailure>,
    pub queries: Vec<QueryStat>,
}

impl RunReport {
    /// Every rule was judged: an empty finding list then really means "all clear".
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }

    /// The highest severity among firing findings.
    pub fn highest_firing(&self) -> Option<Severity> {
        highest_firing(&self.findings)
    }

    /// The findings, or the failures when any rule could not be judged.
    pub fn into_result(self) -> Result<Vec<Finding>, RunFailed> {
        if self.failures.is_empty() {
            Ok(self.findings)
        } else {
            Err(RunFailed {
                failures: self.failures,
            })
        }
    }
}

/// Some rules could not be judged; the message lists each with its query file and error.
#[derive(Debug, thiserror::Error)]
#[error("{} rule(s) could not be judged: {}", failures.len(), failures.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "))]
pub struct RunFailed {
    pub failures: Vec<RuleFailure>,
}

/// The highest severity among firing findings.
pub fn highest_firing(findings: &[Finding]) -> Option<Severity> {
    findings
        .iter()
        .filter(|f| f.status == Status::Firing)
        .map(|f| f.severity)
        .max()
}

/// The window a rule judges as of `as_of`.
pub fn rule_window(rule: &Rule, as_of: OffsetDateTime) -> WindowSpec {
    WindowSpec::ending_at(as_of, rule.window.0, rule.bucket.0)
}

/// Judges one rule on its window frame.
pub fn judge(
    rule: &Rule,
    frame: &WindowFrame,
    window: WindowSpec,
) -> Result<Vec<Finding>, DetectError> {
    let detector = detect::detector_for(rule.signal);
    detector.detect(frame, &EvalContext { rule, window })
}

/// The SQL files a query's window is built from.
pub fn query_files(query: QueryKind) -> Vec<String> {
    let mut files = vec![query.file_name()];
    if query == QueryKind::Restarts {
        files.push(QueryKind::PodEvents.file_name());
    }
    files
}

type WindowKey = (QueryKind, i64, i64, u64);

fn window_key(query: QueryKind, window: &WindowSpec) -> WindowKey {
    (
        query,
        timefmt::to_nanos(window.since),
        timefmt::to_nanos(window.until),
        window.bucket.as_secs(),
    )
}

/// Where a run's windows come from.
pub enum Windows<'a> {
    /// Fetched from the source; a window two rules share is fetched once per run.
    Live { source: &'a Source },
    /// Sliced out of frames fetched once for a whole backtest range.
    Backtest(&'a BacktestData),
}

impl Windows<'_> {
    async fn window(&self, query: QueryKind, spec: &WindowSpec) -> Result<WindowFrame, EvalError> {
        match self {
            Windows::Live { source } => Ok(source.fetch_window(query, spec).await?),
            Windows::Backtest(data) => data.slice(query, spec),
        }
    }
}

/// Judges `rules` as of `as_of`. Never fails as a whole: each rule's failure is in the report.
pub async fn run(windows: &Windows<'_>, rules: &[&Rule], as_of: OffsetDateTime) -> RunReport {
    let mut frames: BTreeMap<WindowKey, Result<WindowFrame, Arc<EvalError>>> = BTreeMap::new();
    let mut stats: BTreeMap<WindowKey, QueryStat> = BTreeMap::new();
    let mut report = RunReport {
        as_of,
        rules: rules.iter().map(|r| r.name.clone()).collect(),
        findings: Vec::new(),
        failures: Vec::new(),
        queries: Vec::new(),
    };
    for rule in rules {
        let window = rule_window(rule, as_of);
        let query = detect::query_for(rule);
        let key = window_key(query, &window);
        if let std::collections::btree_map::Entry::Vacant(slot) = frames.entry(key) {
            let started = Instant::now();
            // Debug spans: with RUST_LOG=debug a slow run says which query and detector took
            // its time (span close events carry the durations).
            let span = tracing::debug_span!(
                "source_query",
                %query,
                since = %timefmt::rfc3339(window.since),
                until = %timefmt::rfc3339(window.until)
            );
            let fetched = tracing::Instrument::instrument(windows.window(query, &window), span)
                .await
                .map_err(Arc::new);
            let seconds = started.elapsed().as_secs_f64();
            let rows = fetched.as_ref().map(|f| f.height()).unwrap_or(0);
            if let Err(error) = &fetched {
                tracing::warn!(%query, error = %error, "window failed");
            }
            stats.insert(
                key,
                QueryStat {
                    query,
                    since: window.since,
                    until: window.until,
                    bucket: window.bucket,
                    rows,
                    seconds,
                    rules: Vec::new(),
                    failed: fetched.is_err(),
                },
            );
            slot.insert(fetched);
        }
        if let Some(stat) = stats.get_mut(&key) {
            stat.rules.push(rule.name.clone());
        }
        let judged = match &frames[&key] {
            Ok(frame) => {
                let _span =
                    tracing::debug_span!("detector", rule = %rule.name, signal = %rule.signal)
                        .entered();
                judge(rule, frame, window).map_err(|e| Arc::new(EvalError::from(e)))
            }
            Err(error) => Err(Arc::clone(error)),
        };
        match judged {
            Ok(found) => report.findings.extend(found),
            Err(error) => report.failures.push(RuleFailure {
                rule: rule.name.clone(),
                query,
                query_files: query_files(query),
                error,
            }),
        }
    }
    report.queries = stats.into_values().collect();
    report
}

/// Runs every rule once as of `as_of` against a live source; any rule failure is an error.
pub async fn analyze(
    source: &Source,
    rules: &[&Rule],
    as_of: OffsetDateTime,
) -> Result<Vec<Finding>, RunFailed> {
    run(&Windows::Live { source }, rules, as_of)
        .await
        .into_result()
}

pub(crate) fn slice_error(
    query: QueryKind,
    as_of: OffsetDateTime,
    source: polars::error::PolarsError,
) -> EvalError {
    EvalError::Slice {
        query,
        as_of: timefmt::rfc3339(as_of),
        source,
    }
}

pub(crate) fn slice(
    frame: &WindowFrame,
    query: QueryKind,
    spec: &WindowSpec,
) -> Result<WindowFrame, EvalError> {
    window::slice(frame, query, spec).map_err(|e| slice_error(query, spec.until, e))
}
