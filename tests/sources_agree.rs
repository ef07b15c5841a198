//! One generated dataset, loaded into the real ClickHouse engine (both exporter generations)
//! and written as Parquet, must give identical window frames through both sources — for every
//! query, and through the CLI's output.

mod support;

use std::process::Command;
use std::time::Duration;

use forewarn::demo::generate::{generate, DemoParams};
use forewarn::source::introspect::Generation;
use forewarn::source::queries::QuerySet;
use forewarn::source::{ClickHouseSource, ParquetSource, Source, TelemetryNames};
use forewarn::window::{QueryKind, WindowSpec};
use support::{forewarn_bin, server};
use time::macros::datetime;

fn small_dataset(dir: &std::path::Path) -> forewarn::demo::model::Labels {
    let params = DemoParams {
        seed: 11,
        hours: 4.0,
        end: datetime!(2026-11-20 12:00 UTC),
        scale: 0.3,
    };
    let dataset = generate(&params);
    forewarn::demo::parquet::write_dataset(&dataset, dir).unwrap();
    dataset.labels
}

async fn load(dir: &std::path::Path, generation: Generation) -> forewarn::source::ClickHouseConfig {
    let config = server().fresh_database().await;
    let names = TelemetryNames::default();
    forewarn::schema::apply(&config.writable_client(), generation, &names)
        .await
        .unwrap();
    let loaded = forewarn::demo::load::load_dataset(dir, &config, &names)
        .await
        .unwrap();
    assert_eq!(loaded.len(), 2, "both tables loaded");
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn every_window_is_identical_from_clickhouse_and_parquet_on_both_generations() {
    let dir = tempfile::tempdir().unwrap();
    let labels = small_dataset(dir.path());
    let parquet =
        Source::Parquet(ParquetSource::open(dir.path(), TelemetryNames::default()).unwrap());
    for generation in [Generation::G1, Generation::G2] {
        let config = load(dir.path(), generation).await;
        let clickhouse =
            ClickHouseSource::connect(config, TelemetryNames::default(), QuerySet::embedded())
                .await
                .unwrap();
        assert_eq!(
            clickhouse.generations(),
            (Some(generation), Some(generation))
        );
        let clickhouse = Source::ClickHouse(Box::new(clickhouse));
        for bucket in [Duration::from_secs(60), Duration::from_secs(300)] {
            let window = WindowSpec {
                since: labels.start,
                until: labels.end,
                bucket,
            };
            // trace_errors has no demo data (the generator writes no spans); tests/trace_errors.rs.
            for query in QueryKind::ALL
                .into_iter()
                .filter(|q| *q != QueryKind::TraceErrors)
            {
                let from_clickhouse = clickhouse.fetch(query, &window).await.unwrap();
                let from_parquet = parquet.fetch(query, &window).await.unwrap();
                assert!(
                    from_clickhouse.height() > 0,
                    "{query} ({generation}) returned no rows"
                );
                assert_eq!(
                    from_clickhouse.schema(),
                    from_parquet.schema(),
                    "{query} ({generation}) schemas differ"
                );
                assert!(
                    from_clickhouse.equals_missing(&from_parquet),
                    "{query} ({generation}, bucket {bucket:?}) frames differ:\nclickhouse:\n{from_clickhouse}\nparquet:\n{from_parquet}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_query_command_prints_the_same_from_both_sources() {
    let dir = tempfile::tempdir().unwrap();
    let labels = small_dataset(dir.path());
    // Loaded through the CLI, as a user would.
    let database = server().fresh_database().await.database.unwrap();
    let out = Command::new(forewarn_bin())
        .args(["demo", "load"])
        .arg(dir.path())
        .args([
            "--clickhouse-url",
            &server().url(),
            "--clickhouse-database",
            &database,
            "--generation",
            "g1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("loaded otel_metrics_gauge"));
    let out = Command::new(forewarn_bin())
        .args([
            "check",
            "--connect",
            "--clickhouse-url",
            &server().url(),
            "--clickhouse-database",
            &database,
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("generation g1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let config = forewarn::source::ClickHouseConfig {
        database: Some(database),
        ..forewarn::source::ClickHouseConfig::new(server().url())
    };
    let since = forewarn::window::timefmt::rfc3339(labels.start);
    let until = forewarn::window::timefmt::rfc3339(labels.end);
    let run = |source_args: Vec<String>| {
        let out = Command::new(forewarn_bin())
            .args([
                "query", "memory", "--since", &since, "--until", &until, "--output", "csv",
            ])
            .args(source_args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let from_parquet = run(vec![
        "--source".into(),
        format!("parquet:{}", dir.path().display()),
    ]);
    let from_clickhouse = run(vec![
        "--clickhouse-url".into(),
        server().url(),
        "--clickhouse-database".into(),
        config.database.clone().unwrap(),
    ]);
    assert!(from_parquet.lines().count() > 100, "{from_parquet}");
    assert!(from_parquet.starts_with(
        "bucket,cluster,namespace,pod,pod_uid,container,node,workload,opt_out,working_set_max_bytes"
    ));
    assert_eq!(from_parquet, from_clickhouse);
}

/// The detectors see the same frames, so `analyze` must report the same findings through either
/// source — checked at the first OOM kill's eve, where the demo has findings of several kinds.
#[tokio::test(flavor = "multi_thread")]
async fn analyze_finds_the_same_through_clickhouse_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let params = DemoParams {
        seed: 17,
        hours: 8.0,
        end: datetime!(2026-11-20 12:00 UTC),
        scale: 0.5,
    };
    let dataset = generate(&params);
    forewarn::demo::parquet::write_dataset(&dataset, dir.path()).unwrap();
    let labels = dataset.labels.clone();
    drop(dataset);
    let config = load(dir.path(), Generation::G2).await;
    let clickhouse = Source::ClickHouse(Box::new(
        ClickHouseSource::connect(config, TelemetryNames::default(), QuerySet::embedded())
            .await
            .unwrap(),
    ));
    let parquet =
        Source::Parquet(ParquetSource::open(dir.path(), TelemetryNames::default()).unwrap());
    let set = forewarn::config::RuleSet::embedded().unwrap();
    let rules: Vec<_> = set.enabled_rules().collect();
    let mut compared = 0;
    for incident in labels
        .incidents
        .iter()
        .filter(|i| i.impact_at.is_some())
        .take(4)
    {
        let as_of = incident.impact_at.unwrap() - time::Duration::minutes(20);
        let a = forewarn::evaluate::analyze(&clickhouse, &rules, as_of)
            .await
            .unwrap();
        let b = forewarn::evaluate::analyze(&parquet, &rules, as_of)
            .await
            .unwrap();
        assert_eq!(a, b, "findings differ as of {as_of}");
        compared += a.len();
    }
    assert!(compared > 0, "no findings to compare");
}

/// A table may be a folder of many Parquet files (`otel_logs/part-*.parquet`, or a folder named
/// `otel_logs.parquet`): the windows are the same as from one file.
#[tokio::test(flavor = "multi_thread")]
async fn parquet_tables_split_into_folders_of_files_give_the_same_windows() {
    use polars::prelude::{LazyFrame, ParquetWriter, PlRefPath};
    let single = tempfile::tempdir().unwrap();
    let labels = small_dataset(single.path());
    let split = tempfile::tempdir().unwrap();
    for (table, folder) in [
        ("otel_logs", "otel_logs"),
        ("otel_metrics_gauge", "otel_metrics_gauge.parquet"),
    ] {
        let file = single.path().join(format!("{table}.parquet"));
        let frame = LazyFrame::scan_parquet(
            PlRefPath::new(file.display().to_string()),
            Default::default(),
        )
        .unwrap()
        .collect()
        .unwrap();
        let dir = split.path().join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let half = frame.height() / 2;
        for (i, mut part) in [
            frame.slice(0, half),
            frame.slice(half as i64, frame.height() - half),
        ]
        .into_iter()
        .enumerate()
        {
            let out = std::fs::File::create(dir.join(format!("part-{i}.parquet"))).unwrap();
            ParquetWriter::new(out).finish(&mut part).unwrap();
        }
    }
    let one =
        Source::Parquet(ParquetSource::open(single.path(), TelemetryNames::default()).unwrap());
    let many =
        Source::Parquet(ParquetSource::open(split.path(), TelemetryNames::default()).unwrap());
    let window = WindowSpec {
        since: labels.start,
        until: labels.end,
        bucket: Duration::from_secs(300),
    };
    for query in QueryKind::ALL
        .into_iter()
        .filter(|q| *q != QueryKind::TraceErrors)
    {
        let a = one.fetch(query, &window).await.unwrap();
        let b = many.fetch(query, &window).await.unwrap();
        assert!(
            a.height() > 0 && a.equals_missing(&b),
            "{query}: one file and a folder of files differ"
        );
    }
}
