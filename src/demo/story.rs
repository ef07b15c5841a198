//! The demo's story: generate a synthetic cluster, backtest rules over it through the same
//! evaluation path as every other entry point, and score what was found against what was
//! injected. `forewarn demo` prints it; `tests/detection_quality.rs` asserts on it.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::config::Rule;
use crate::demo::generate::{generate, DemoParams};
use crate::demo::model::Labels;
use crate::demo::parquet::{write_dataset, DemoWriteError};
use crate::demo::score::{score, ScoreReport};
use crate::evaluate::backtest::{drive, BacktestOutcome};
use crate::evaluate::RunReport;
use crate::source::{ParquetSource, Source, SourceError, TelemetryNames};
use crate::window::timefmt;

/// The backtest step of the demo and the detection-quality sweep.
pub const STEP: Duration = Duration::from_secs(300);

/// Backtests start once the detectors have two hours of history behind them (the memory
/// rule's longest fit span): judging a series from its first hour cannot tell a slow GC cycle
/// from a leak.
pub const WARM_UP: time::Duration = time::Duration::hours(2);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("writing the demo data")]
    Write(#[from] DemoWriteError),
    #[error("reading the demo data back")]
    Read(#[from] SourceError),
}

/// What a demo run produced.
pub struct DemoStory {
    pub params: DemoParams,
    pub metric_points: usize,
    pub log_records: usize,
    pub generated_s: f64,
    pub rules: Vec<String>,
    pub from: OffsetDateTime,
    pub labels: Labels,
    pub backtest: BacktestOutcome,
    pub score: ScoreReport,
}

/// Generates the cluster of `params` into `dir` (Parquet + labels), backtests `rules` over it
/// every [`STEP`] after [`WARM_UP`], and scores the findings. `on_step` sees each step's report.
pub async fn run(
    params: &DemoParams,
    rules: &[&Rule],
    dir: &Path,
    on_step: impl FnMut(usize, usize, &RunReport),
) -> Result<DemoStory, DemoError> {
    let started = Instant::now();
    let dataset = generate(params);
    write_dataset(&dataset, dir)?;
    let generated_s = started.elapsed().as_secs_f64();
    let labels = dataset.labels.clone();
    let (metric_points, log_records) = (dataset.gauge_points.len(), dataset.logs.len());
    drop(dataset);
    let source = Source::Parquet(ParquetSource::open(dir, TelemetryNames::default())?);
    let from = labels.start + WARM_UP;
    let mut on_step = on_step;
    let backtest = drive::<std::convert::Infallible>(
        &source,
        rules,
        from,
        labels.end,
        STEP,
        |i, n, report| {
            on_step(i, n, report);
            Ok(())
        },
    )
    .await
    .unwrap_or_else(|never| match never {});
    let score = score(&labels, &backtest.findings);
    Ok(DemoStory {
        params: params.clone(),
        metric_points,
        log_records,
        generated_s,
        rules: rules.iter().map(|r| r.name.clone()).collect(),
        from,
        labels,
        backtest,
        score,
    })
}

impl DemoStory {
    /// The text `forewarn demo` prints: the setup, each incident with forewarn's first warning,
    /// and the per-signal scores.
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "forewarn demo — a synthetic cluster, {} h of telemetry ({} metric points, {} log records, seed {}),\n\
             generated in {:.1} s; the rules ({}) backtested every 5 min from {} to {} in {:.1} s.\n",
            self.params.hours,
            self.metric_points,
            self.log_records,
            self.params.seed,
            self.generated_s,
            self.rules.join(", "),
            timefmt::rfc3339(self.from),
            timefmt::rfc3339(self.labels.end),
            self.backtest.seconds,
        )?;
        crate::demo::render::write_demo_report(&self.score, &self.backtest.findings, out)?;
        crate::output::findings::write_failures(&self.backtest.failures, out)
    }
}
