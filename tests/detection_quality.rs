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
