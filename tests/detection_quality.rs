//! Detection quality on generated clusters from seeds other than the demo's default: the shipped
//! rules must reach precision and recall ≥ 0.9 per signal, and warn of every OOM kill at least
//! 15 minutes ahead. (scripts/seed-sweep.sh runs the same over many seeds.)

use forewarn::config::RuleSet;
use forewarn::demo::generate::DemoParams;
use forewarn::findings::Signal;
use time::macros::datetime;

/// The demo's own path: generate, backtest through `evaluate::run` every 5 min, score.
async fn score_seed(seed: u64) -> forewarn::demo::score::ScoreReport {
    let dir = tempfile::tempdir().unwrap();
    let params = DemoParams {
        seed,
        hours: 12.0,
        end: datetime!(2026-11-20 12:00 UTC),
        scale: 1.0,
    };
    let set = RuleSet::embedded().unwrap();
    let rules: Vec<_> = set.enabled_rules().collect();
    let story = forewarn::demo::story::run(&params, &rules, dir.path(), |_, _, _| {})
        .await
        .unwrap();
    assert!(
        story.backtest.failures.is_empty(),
        "seed {seed}: rules failed: {:?}",
        story.backtest.failures
    );
    story.score
}

#[tokio::test(flavor = "multi_thread")]
async fn shipped_rules_reach_precision_and_recall_on_unseen_seeds() {
    for seed in [21, 34] {
        let report = score_seed(seed).await;
        for signal in Signal::ALL {
            let s = &report.signals[&signal];
            assert!(
                s.incidents > 0,
                "seed {seed}: no {signal} incidents injected"
            );
            assert!(
                s.recall.unwrap() >= 0.9,
                "seed {seed}: {signal} recall {:?} ({}/{})",
                s.recall,
                s.detected,
                s.incidents
            );
            assert!(
                s.precision.unwrap_or(1.0) >= 0.9,
                "seed {seed}: {signal} precision {:?}, false positives {:?}",
                s.precision,
                s.false_positives
            );
        }
        for incident in report.incidents.iter().filter(|i| i.kind == "memory_leak") {
            let lead = incident.lead_time_s.expect("every OOM kill warned");
            assert!(
                lead >= 15.0 * 60.0,
                "seed {seed}: OOM of {:?} warned only {lead:.0} s ahead",
                incident.entity
            );
        }
    }
}

/// The widened generator (`Variety::Wide`): other scrape intervals, noise, GC periods, traffic
/// over three orders of magnitude, busy-service error creeps, OOM-kill loops, several clusters.
/// Generated, backtested every 5 min after the 2 h warm-up, scored — the demo's path without
/// the notification replay.
async fn score_wide_seed(seed: u64) -> forewarn::demo::score::ScoreReport {
    use forewarn::demo::generate::{generate_with, Variety};
    use forewarn::source::{ParquetSource, Source, TelemetryNames};
    let dir = tempfile::tempdir().unwrap();
    let params = DemoParams {
        seed,
        hours: 12.0,
        end: datetime!(2026-11-20 12:00 UTC),
        scale: 1.0,
    };
    let dataset = generate_with(&params, Variety::Wide);
    forewarn::demo::parquet::write_dataset(&dataset, dir.path()).unwrap();
    let labels = dataset.labels.clone();
    drop(dataset);
    let set = RuleSet::embedded().unwrap();
    let rules: Vec<_> = set.enabled_rules().collect();
    let mut names = TelemetryNames::default();
    names.watch_rules(rules.iter().copied());
    let source = Source::Parquet(ParquetSource::open(dir.path(), names).unwrap());
    let outcome = forewarn::evaluate::backtest::drive::<std::convert::Infallible>(
        &source,
        &rules,
        forewarn::evaluate::BacktestRange::new(
            labels.start + forewarn::demo::story::WARM_UP,
            labels.end,
            forewarn::demo::story::STEP,
        ),
        |_, _, _| Ok(()),
    )
    .await
    .unwrap_or_else(|never| match never {});
    assert!(
        outcome.failures.is_empty(),
        "wide seed {seed}: rules failed: {:?}",
        outcome.failures
    );
    forewarn::demo::score::score(&labels, &outcome.findings)
}

/// Wide seeds the gate runs (each ≈ WIDE_SEED_SECONDS in a debug build on 2 cores).
const WIDE_SEEDS: [u64; 2] = [7, 9];

/// Error rate, restarts and heartbeats must hold on wide data.
const WIDE_GATE: f64 = 0.95;

/// Memory pressure on wide data. Recall holds the common gate since the young-leak path and
/// the shape checks landed (1.00 on every wide seed 1–15); precision is held a step lower:
/// batch runs higher and longer than any predecessor in the window and a slow GC cycle still
/// make single false episodes (worst measured 0.95, wide seed 15; 0.96 on the gated seed 9).
const WIDE_MEMORY_MIN_PRECISION: f64 = 0.90;
const WIDE_MEMORY_MIN_RECALL: f64 = WIDE_GATE;

/// The share of memory warnings whose stated interval holds the actual OOM kill (issue 12's
/// target; measured 0.99 and 0.93 on the gated seeds, 0.84 at the worst of wide seeds 1–15).
const WIDE_MEMORY_MIN_INTERVAL_COVERAGE: f64 = 0.80;

#[tokio::test(flavor = "multi_thread")]
async fn shipped_rules_hold_on_wide_seeds() {
    for seed in WIDE_SEEDS {
        let report = score_wide_seed(seed).await;
        for signal in Signal::ALL {
            let s = &report.signals[&signal];
            let (min_precision, min_recall) = match signal {
                Signal::MemoryPressure => (WIDE_MEMORY_MIN_PRECISION, WIDE_MEMORY_MIN_RECALL),
                _ => (WIDE_GATE, WIDE_GATE),
            };
            assert!(
                s.incidents > 0,
                "wide seed {seed}: no {signal} incidents injected"
            );
            assert!(
                s.recall.unwrap() >= min_recall,
                "wide seed {seed}: {signal} recall {:?} ({}/{}), missed {:?}",
                s.recall,
                s.detected,
                s.incidents,
                s.missed_by_kind
            );
            assert!(
                s.precision.unwrap_or(1.0) >= min_precision,
                "wide seed {seed}: {signal} precision {:?}, false episodes by kind {:?}",
                s.precision,
                s.false_by_kind
            );
        }
        let forecast = report.signals[&Signal::MemoryPressure]
            .forecast
            .as_ref()
            .expect("memory warnings carry forecasts");
        let coverage = forecast
            .warning_coverage
            .expect("forecasts carry intervals");
        assert!(
            coverage >= WIDE_MEMORY_MIN_INTERVAL_COVERAGE,
            "wide seed {seed}: the interval held the OOM kill at {}/{} warnings ({coverage:.2})",
            forecast.warnings_covered,
            forecast.warning_intervals
        );
    }
}
