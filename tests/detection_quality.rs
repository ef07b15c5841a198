//! Detection quality on generated clusters from seeds other than the demo's default: the shipped
//! rules must reach precision and recall ≥ 0.9 per signal, and warn of every OOM kill at least
//! 15 minutes ahead. (scripts/seed-sweep.sh runs the same over many seeds.)

use std::time::Duration;

use forewarn::config::RuleSet;
use forewarn::demo::generate::{generate, DemoParams};
use forewarn::evaluate::{steps, BacktestData};
use forewarn::findings::Signal;
use forewarn::source::{ParquetSource, Source, TelemetryNames};
use time::macros::datetime;

async fn score_seed(seed: u64) -> forewarn::score::ScoreReport {
    let dir = tempfile::tempdir().unwrap();
    let dataset = generate(&DemoParams {
        seed,
        hours: 12.0,
        end: datetime!(2026-11-20 12:00 UTC),
        scale: 1.0,
    });
    forewarn::demo::parquet::write_dataset(&dataset, dir.path()).unwrap();
    let labels = dataset.labels.clone();
    drop(dataset);
    let source =
        Source::Parquet(ParquetSource::open(dir.path(), TelemetryNames::default()).unwrap());
    let set = RuleSet::embedded().unwrap();
    let rules: Vec<_> = set.enabled_rules().collect();
    let from = labels.start + time::Duration::hours(2);
    let data = BacktestData::fetch(&source, &rules, from, labels.end)
        .await
        .unwrap();
    let mut findings = Vec::new();
    for as_of in steps(from, labels.end, Duration::from_secs(300)) {
        findings.extend(data.evaluate(&rules, as_of).unwrap());
    }
    forewarn::score::score(&labels, &findings)
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
