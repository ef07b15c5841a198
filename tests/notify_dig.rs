//! The "dig in" queries notifications carry must run as pasted: real findings from the shipped
//! rules over generated data, each finding's query executed against the real ClickHouse engine
//! holding the same data (both exporter generations), returning the finding's telemetry.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use forewarn::act::notify::dig_query;
use forewarn::config::RuleSet;
use forewarn::demo::generate::{generate, DemoParams};
use forewarn::findings::{Finding, Signal};
use forewarn::source::introspect::Generation;
use forewarn::source::{ParquetSource, Source, TelemetryNames};
use support::server;
use time::macros::datetime;

/// Distinct findings (one per rule + entity) of a backtest over the generated data.
async fn findings_of(
    dir: &std::path::Path,
    labels: &forewarn::demo::model::Labels,
) -> Vec<Finding> {
    let source = Source::Parquet(ParquetSource::open(dir, TelemetryNames::default()).unwrap());
    let set = RuleSet::embedded().unwrap();
    let rules: Vec<_> = set.enabled_rules().collect();
    let from = labels.start + time::Duration::hours(2);
    let outcome = forewarn::evaluate::backtest::drive::<std::convert::Infallible>(
        &source,
        &rules,
        forewarn::evaluate::BacktestRange::new(from, labels.end, Duration::from_secs(900)),
        |_, _, _| Ok(()),
    )
    .await
    .unwrap();
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let mut distinct = BTreeMap::new();
    for finding in outcome.findings {
        distinct.entry(finding.id.clone()).or_insert(finding);
    }
    distinct.into_values().collect()
}

async fn rows(client: &clickhouse::Client, sql: &str) -> Result<usize, String> {
    let bytes = client
        .query_raw(sql)
        .fetch_bytes("TabSeparated")
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(bytes.iter().filter(|b| **b == b'\n').count())
}

#[tokio::test(flavor = "multi_thread")]
async fn dig_queries_run_as_pasted_and_show_the_findings_data() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = generate(&DemoParams {
        seed: 11,
        hours: 8.0,
        end: datetime!(2026-11-20 12:00 UTC),
        scale: 0.3,
    });
    forewarn::demo::parquet::write_dataset(&dataset, dir.path()).unwrap();
    let labels = dataset.labels.clone();
    drop(dataset);
    let findings = findings_of(dir.path(), &labels).await;
    let per_signal = |signal| findings.iter().filter(|f| f.signal == signal).count();
    for signal in [
        Signal::MemoryPressure,
        Signal::ErrorRate,
        Signal::RestartFrequency,
    ] {
        assert!(per_signal(signal) > 0, "no {signal} finding to dig into");
    }

    let names = TelemetryNames::default();
    for generation in [Generation::G1, Generation::G2] {
        let config = server().fresh_database().await;
        let client = config.writable_client();
        forewarn::schema::apply(&client, generation, &names)
            .await
            .unwrap();
        forewarn::demo::load::load_dataset(dir.path(), &config, &names)
            .await
            .unwrap();
        for finding in &findings {
            let sql = dig_query(finding);
            let found = rows(&client, &sql).await.unwrap_or_else(|e| {
                panic!(
                    "{generation}: dig query of {} failed: {e}\n{sql}",
                    finding.rule
                )
            });
            // A missing heartbeat may have no beat left in its window; everything else shows
            // the telemetry the detector judged.
            if finding.signal != Signal::HeartbeatMissing {
                assert!(
                    found > 0,
                    "{generation}: no rows for {}\n{sql}",
                    finding.rule
                );
            }
        }
        // Positive control: the filters do filter — another entity's query finds nothing.
        let mut stranger = findings
            .iter()
            .find(|f| f.signal == Signal::MemoryPressure)
            .unwrap()
            .clone();
        stranger
            .entity
            .insert("pod".into(), "no-such-pod' OR '1'='1".into());
        assert_eq!(rows(&client, &dig_query(&stranger)).await.unwrap(), 0);
    }
}
