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

// ---------------------------------------------------------------------------------------------
// Hand-made edge cases the generator never produces. Both sources must give identical windows,
// and the shapes that used to split them are pinned to one answer.

use support::fixtures::{Log, Telemetry};

const T0: time::OffsetDateTime = datetime!(2026-11-20 10:00 UTC);
const MIB: f64 = 1024.0 * 1024.0;
const CLUSTER: (&str, &str) = ("k8s.cluster.name", "prod");
const NAMESPACE: (&str, &str) = ("k8s.namespace.name", "shop");
const OPT_OUT: &str = "k8s.pod.labels.forewarn.io/opt-out";
const WORKING_SET: &str = "container.memory.working_set";
const LIMIT: &str = "k8s.container.memory_limit";
const REQUEST: &str = "k8s.container.memory_request";
const RESTARTS: &str = "k8s.container.restarts";

/// `T0 + ms` milliseconds. Metrics use whole seconds: G2 stores `TimeUnix` as `DateTime`.
fn at_ms(ms: i64) -> time::OffsetDateTime {
    T0 + time::Duration::milliseconds(ms)
}

fn at(s: i64) -> time::OffsetDateTime {
    at_ms(s * 1000)
}

/// A container's resource attributes (kubeletstats and k8s_cluster shapes alike).
fn container<'a>(
    pod: &'a str,
    uid: &'a str,
    name: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        CLUSTER,
        NAMESPACE,
        ("k8s.pod.name", pod),
        ("k8s.pod.uid", uid),
        ("k8s.container.name", name),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

/// Twenty minutes from T0 of memory, restarts, logs, heartbeats and events, with:
/// - `cart-7d9f`: its node changes at 150 s, its opt-out label appears at 450 s and its
///   Deployment is renamed at 750 s — each inside a 1 m and a 5 m bucket;
/// - `pay-5c4b`: every working-set and restarts sample twice, and two different limits at 330 s;
/// - `worker-0`: its restart gauge resets to 0 at 255 s (inside a bucket), two different values
///   at 600 s, then a new incarnation (new pod UID) at 900 s starting at 5;
/// - `idle-1` has limits but no working set; `backup-29` is a CronJob's Job;
/// - `checkout` logs: severities by number and by text (lower-case), one record three times,
///   the opt-out label from 500 s; a canary whose beats are duplicated and pause for 4 minutes;
/// - pod events in all three shapes, duplicated, plus events of other kinds, other reasons and
///   a body that is not JSON.
fn edge_cases() -> Telemetry {
    let mut t = Telemetry::default();
    for i in 0..80i64 {
        let s = i * 15;
        let node = if s < 150 { "node-a" } else { "node-b" };
        let mut extra = vec![("k8s.node.name", node)];
        if s >= 450 {
            extra.push((OPT_OUT, "true"));
        }
        let cart = container("cart-7d9f", "uid-cart", "app", &extra);
        t.gauge(WORKING_SET, &cart, at(s), (100 + i) as f64 * MIB);
        let pay = container("pay-5c4b", "uid-pay", "api", &[("k8s.node.name", "node-a")]);
        for _ in 0..2 {
            t.gauge(WORKING_SET, &pay, at(s), (200 + i % 4) as f64 * MIB);
        }
        let worker = container("worker-0", "uid-worker", "worker", &[]);
        t.gauge(WORKING_SET, &worker, at(s), (50 + i % 7) as f64 * MIB);
        let backup = container("backup-29", "uid-backup", "dump", &[]);
        t.gauge(WORKING_SET, &backup, at(s), 30.0 * MIB);
    }
    for i in 0..40i64 {
        let s = i * 30;
        let deployment = if s < 750 { "cart" } else { "cart-v2" };
        let cart = container(
            "cart-7d9f",
            "uid-cart",
            "app",
            &[("k8s.deployment.name", deployment)],
        );
        t.gauge(LIMIT, &cart, at(s), 512.0 * MIB)
            .gauge(REQUEST, &cart, at(s), 256.0 * MIB)
            .gauge(RESTARTS, &cart, at(s), 0.0);
        let pay = container(
            "pay-5c4b",
            "uid-pay",
            "api",
            &[("k8s.deployment.name", "pay")],
        );
        t.gauge(LIMIT, &pay, at(s), 1024.0 * MIB)
            .gauge(REQUEST, &pay, at(s), 0.0);
        for _ in 0..2 {
            t.gauge(RESTARTS, &pay, at(s), 1.0);
        }
        let idle = container(
            "idle-1",
            "uid-idle",
            "app",
            &[("k8s.deployment.name", "idle")],
        );
        t.gauge(LIMIT, &idle, at(s), 64.0 * MIB)
            .gauge(RESTARTS, &idle, at(s), 0.0);
        let backup = container(
            "backup-29",
            "uid-backup",
            "dump",
            &[
                ("k8s.cronjob.name", "backup"),
                ("k8s.job.name", "backup-29"),
            ],
        );
        t.gauge(LIMIT, &backup, at(s), 128.0 * MIB);
    }
    let pay = container(
        "pay-5c4b",
        "uid-pay",
        "api",
        &[("k8s.deployment.name", "pay")],
    );
    t.gauge(LIMIT, &pay, at(330), 2048.0 * MIB);

    let worker = container(
        "worker-0",
        "uid-worker",
        "worker",
        &[("k8s.statefulset.name", "worker")],
    );
    for i in 0..60i64 {
        let s = i * 15;
        let count = match s {
            0..=45 => 0.0,
            60..=105 => 1.0,
            120..=240 => 2.0,
            255..=270 => 0.0,
            285..=585 => 1.0,
            _ => 3.0,
        };
        t.gauge(RESTARTS, &worker, at(s), count);
    }
    t.gauge(RESTARTS, &worker, at(240), 2.0)
        .gauge(RESTARTS, &worker, at(600), 2.0);
    let reborn = container(
        "worker-0",
        "uid-worker-2",
        "worker",
        &[("k8s.statefulset.name", "worker")],
    );
    for i in 0..20i64 {
        let s = 900 + i * 15;
        t.gauge(RESTARTS, &reborn, at(s), if s < 1050 { 5.0 } else { 6.0 });
        let usage = container("worker-0", "uid-worker-2", "worker", &[]);
        t.gauge(WORKING_SET, &usage, at(s), 40.0 * MIB);
    }

    let checkout = [CLUSTER, NAMESPACE, ("k8s.pod.name", "checkout-1")];
    let checkout_opted_out = [
        CLUSTER,
        NAMESPACE,
        ("k8s.pod.name", "checkout-1"),
        (OPT_OUT, "true"),
    ];
    for i in 0..120i64 {
        let s = i * 10;
        let (severity_number, severity_text) = match i % 6 {
            0 => (17, "ERROR"),
            1 => (0, "error"),
            2 => (0, "Fatal"),
            3 => (0, "warn"),
            _ => (9, "INFO"),
        };
        let resource: &[(&str, &str)] = if s < 500 {
            &checkout
        } else {
            &checkout_opted_out
        };
        t.log(
            at_ms(s * 1000 + 123),
            Log {
                service: "checkout",
                resource,
                severity_number,
                severity_text,
                body: "GET /cart",
                ..Log::default()
            },
        );
    }
    for _ in 0..3 {
        t.log(
            at_ms(183_500),
            Log {
                service: "checkout",
                resource: &checkout,
                severity_number: 17,
                severity_text: "ERROR",
                body: "payment declined",
                ..Log::default()
            },
        );
    }
    let beat = Log {
        service: "checkout",
        resource: &checkout,
        severity_number: 17,
        severity_text: "ERROR",
        body: "canary beat",
        attributes: &[("canary.name", "synthetic-checkout")],
    };
    for i in 0..40i64 {
        let s = i * 30;
        if !(600..840).contains(&s) {
            t.log(at_ms(s * 1000 + 7), beat.clone());
        }
    }
    t.log(at_ms(360_007), beat.clone());

    let pod_object = |name: &'static str| -> [(&'static str, &'static str); 3] {
        [
            CLUSTER,
            ("k8s.object.kind", "Pod"),
            ("k8s.object.name", name),
        ]
    };
    let receiver = |reason: &'static str| -> [(&'static str, &'static str); 2] {
        [("k8s.event.reason", reason), ("k8s.namespace.name", "shop")]
    };
    let worker_object = pod_object("worker-0");
    let pay_object = pod_object("pay-5c4b");
    let backoff = receiver("BackOff");
    let oom = receiver("OOMKilling");
    let pulled = receiver("Pulled");
    for ms in [260_500, 280_250, 280_250] {
        t.log(
            at_ms(ms),
            Log {
                resource: &worker_object,
                severity_number: 13,
                severity_text: "WARN",
                body: "Back-off restarting failed container",
                attributes: &backoff,
                ..Log::default()
            },
        );
    }
    t.log(
        at(400),
        Log {
            resource: &pay_object,
            severity_number: 13,
            severity_text: "WARN",
            body: "OOM",
            attributes: &oom,
            ..Log::default()
        },
    );
    t.log(
        at(420),
        Log {
            resource: &worker_object,
            severity_number: 9,
            severity_text: "INFO",
            body: "pulled",
            attributes: &pulled,
            ..Log::default()
        },
    );
    let node_object = [
        CLUSTER,
        ("k8s.object.kind", "Node"),
        ("k8s.object.name", "node-a"),
    ];
    t.log(
        at(410),
        Log {
            resource: &node_object,
            severity_number: 13,
            severity_text: "WARN",
            body: "node back-off",
            attributes: &backoff,
            ..Log::default()
        },
    );
    let watched = [("k8s.resource.name", "events")];
    for (s, body) in [
        (
            250,
            r#"{"type":"ADDED","object":{"reason":"Killing","type":"Normal","involvedObject":{"kind":"Pod","name":"worker-0","namespace":"shop"}}}"#,
        ),
        (
            700,
            r#"{"type":"MODIFIED","object":{"reason":"Failed","type":"Warning","regarding":{"kind":"Pod","name":"backup-29","namespace":"shop"}}}"#,
        ),
        (130, "not json"),
    ] {
        t.log(
            at(s),
            Log {
                resource: &[CLUSTER],
                body,
                attributes: &watched,
                ..Log::default()
            },
        );
    }
    let clickstack = [
        ("type", "ADDED"),
        (
            "object",
            r#"{"reason":"Unhealthy","note":"Readiness probe failed","regarding":{"kind":"Pod","name":"cart-7d9f","namespace":"shop"}}"#,
        ),
    ];
    t.log(
        at(125),
        Log {
            resource: &[CLUSTER],
            attributes: &clickstack,
            ..Log::default()
        },
    );
    t
}

/// The rows of `frame` matching `filters` (text columns) in the bucket starting at `bucket_s`.
fn rows_at(
    frame: &polars::prelude::DataFrame,
    filters: &[(&str, &str)],
    bucket_s: i64,
) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    let bucket = lit(forewarn::window::timefmt::to_nanos(at(bucket_s)))
        .cast(forewarn::window::ColumnType::Time.dtype());
    let mut predicate = col("bucket").eq(bucket);
    for (column, value) in filters {
        predicate = predicate.and(col(*column).eq(lit(*value)));
    }
    frame.clone().lazy().filter(predicate).collect().unwrap()
}

fn text(frame: &polars::prelude::DataFrame, column: &str) -> String {
    let value = frame.column(column).unwrap().get(0).unwrap();
    value.get_str().unwrap_or_default().to_string()
}

fn number(frame: &polars::prelude::DataFrame, column: &str) -> Option<f64> {
    let value = frame.column(column).unwrap().get(0).unwrap();
    value.extract::<f64>()
}

/// What the windows say about the edge cases, at 1 m buckets.
fn assert_pinned_answers_at_one_minute(
    source: &str,
    windows: &[(QueryKind, forewarn::window::WindowFrame)],
) {
    let window = |kind: QueryKind| &windows.iter().find(|(k, _)| *k == kind).unwrap().1;
    // The memory window is series-keyed: its rows read with their series' names.
    let memory = &window(QueryKind::Memory)
        .expanded(QueryKind::Memory)
        .unwrap();
    let cart = |bucket_s| rows_at(memory, &[("pod", "cart-7d9f")], bucket_s);
    assert_eq!(
        cart(120).height(),
        1,
        "{source}: one row though the node changed"
    );
    // One series has one set of names: where an exporter reported two for it (a node, a
    // workload), every source keeps the greatest, on every row.
    assert_eq!(
        text(&cart(120), "node"),
        "node-b",
        "{source}: the series' greatest node"
    );
    assert_eq!(text(&cart(0), "node"), "node-b", "{source}: on every row");
    assert_eq!(
        cart(420).height(),
        1,
        "{source}: one row though a label appeared"
    );
    assert_eq!(text(&cart(420), "opt_out"), "true", "{source}");
    assert_eq!(number(&cart(420), "samples"), Some(4.0), "{source}");
    assert_eq!(
        text(&cart(720), "workload"),
        "Deployment/cart-v2",
        "{source}"
    );
    assert_eq!(
        text(&cart(660), "workload"),
        "Deployment/cart-v2",
        "{source}: the series' greatest workload"
    );
    let pay = rows_at(memory, &[("pod", "pay-5c4b")], 300);
    assert_eq!(
        number(&pay, "samples"),
        Some(8.0),
        "{source}: duplicates count"
    );
    assert_eq!(
        number(&pay, "limit_bytes"),
        Some(2048.0 * MIB),
        "{source}: greatest at a tie"
    );
    assert_eq!(
        number(&pay, "request_bytes"),
        None,
        "{source}: 0 is no request"
    );
    let backup = rows_at(memory, &[("pod", "backup-29")], 0);
    assert_eq!(text(&backup, "workload"), "CronJob/backup", "{source}");
    assert_eq!(
        rows_at(memory, &[("pod", "idle-1")], 0).height(),
        0,
        "{source}"
    );
    let worker = rows_at(memory, &[("pod_uid", "uid-worker")], 240);
    assert_eq!(
        number(&worker, "restart_count"),
        Some(1.0),
        "{source}: latest gauge value"
    );

    let restarts = window(QueryKind::Restarts);
    let worker = |bucket_s| rows_at(restarts, &[("pod_uid", "uid-worker")], bucket_s);
    assert_eq!(
        number(&worker(240), "restarts"),
        Some(1.0),
        "{source}: reset, then +1"
    );
    assert_eq!(number(&worker(240), "restart_count"), Some(2.0), "{source}");
    assert_eq!(
        number(&worker(600), "restarts"),
        Some(2.0),
        "{source}: 1 → 2 → 3 at a tie"
    );
    assert_eq!(
        text(&worker(600), "workload"),
        "StatefulSet/worker",
        "{source}"
    );
    let reborn = |bucket_s| rows_at(restarts, &[("pod_uid", "uid-worker-2")], bucket_s);
    assert_eq!(
        number(&reborn(900), "restarts"),
        Some(0.0),
        "{source}: a new UID starts at 0"
    );
    assert_eq!(number(&reborn(1020), "restarts"), Some(1.0), "{source}");
    let pay = rows_at(restarts, &[("pod", "pay-5c4b")], 300);
    assert_eq!(
        number(&pay, "restarts"),
        Some(0.0),
        "{source}: duplicates are no jump"
    );

    let events = window(QueryKind::PodEvents);
    let worker = rows_at(events, &[("pod", "worker-0")], 240);
    assert_eq!(number(&worker, "backoff_events"), Some(3.0), "{source}");
    assert_eq!(number(&worker, "killing_events"), Some(1.0), "{source}");
    let pay = rows_at(events, &[("pod", "pay-5c4b")], 360);
    assert_eq!(number(&pay, "oom_events"), Some(1.0), "{source}");
    let cart = rows_at(events, &[("pod", "cart-7d9f")], 120);
    assert_eq!(number(&cart, "unhealthy_events"), Some(1.0), "{source}");
    let backup = rows_at(events, &[("pod", "backup-29")], 660);
    assert_eq!(number(&backup, "failed_events"), Some(1.0), "{source}");
    assert_eq!(
        events.height(),
        4,
        "{source}: other kinds and reasons are not counted"
    );

    let errors = window(QueryKind::Errors);
    let minute = |bucket_s| rows_at(errors, &[("service", "checkout")], bucket_s);
    assert_eq!(
        number(&minute(180), "total"),
        Some(9.0),
        "{source}: canary beats are no requests"
    );
    assert_eq!(number(&minute(180), "errors"), Some(6.0), "{source}");
    assert_eq!(text(&minute(480), "opt_out"), "true", "{source}");
    assert_eq!(errors.height(), 20, "{source}: one row per minute");

    let heartbeats = window(QueryKind::Heartbeats);
    let beats = rows_at(heartbeats, &[("canary", "synthetic-checkout")], 360);
    assert_eq!(number(&beats, "beats"), Some(3.0), "{source}");
    assert_eq!(
        heartbeats.height(),
        16,
        "{source}: four minutes without beats"
    );
}

const PARITY_QUERIES: [QueryKind; 5] = [
    QueryKind::Memory,
    QueryKind::Errors,
    QueryKind::Restarts,
    QueryKind::PodEvents,
    QueryKind::Heartbeats,
];

#[tokio::test(flavor = "multi_thread")]
async fn hand_made_edge_cases_give_identical_windows_from_both_sources() {
    let dir = tempfile::tempdir().unwrap();
    edge_cases().write_out_of_order(dir.path());
    let parquet =
        Source::Parquet(ParquetSource::open(dir.path(), TelemetryNames::default()).unwrap());
    let data = WindowSpec {
        since: T0,
        until: at(1200),
        bucket: Duration::from_secs(60),
    };
    let empty = WindowSpec {
        since: at(7200),
        until: at(10800),
        bucket: Duration::from_secs(60),
    };
    for generation in [Generation::G1, Generation::G2] {
        let config = load(dir.path(), generation).await;
        let clickhouse = Source::ClickHouse(Box::new(
            ClickHouseSource::connect(config, TelemetryNames::default(), QuerySet::embedded())
                .await
                .unwrap(),
        ));
        for bucket in [Duration::from_secs(60), Duration::from_secs(300)] {
            for (name, window) in [("data", data), ("empty", empty)] {
                let window = WindowSpec { bucket, ..window };
                let mut windows = Vec::new();
                for query in PARITY_QUERIES {
                    let from_clickhouse = clickhouse.fetch(query, &window).await.unwrap();
                    let from_parquet = parquet.fetch(query, &window).await.unwrap();
                    let context = format!("{query} ({generation}, {name}, bucket {bucket:?})");
                    assert_eq!(
                        from_clickhouse.height() == 0,
                        name == "empty",
                        "{context}: {from_clickhouse}"
                    );
                    assert_eq!(
                        from_clickhouse.schema(),
                        from_parquet.schema(),
                        "{context}: schemas differ"
                    );
                    assert!(
                        from_clickhouse.equals_missing(&from_parquet),
                        "{context}: frames differ:\nclickhouse:\n{from_clickhouse}\nparquet:\n{from_parquet}"
                    );
                    windows.push((query, from_clickhouse));
                }
                if name == "data" && bucket == Duration::from_secs(60) {
                    assert_pinned_answers_at_one_minute(&format!("{generation}"), &windows);
                }
                if name == "data" && bucket == Duration::from_secs(300) {
                    let memory = &windows[0].1.expanded(QueryKind::Memory).unwrap();
                    let cart = rows_at(memory, &[("pod", "cart-7d9f")], 0);
                    assert_eq!(cart.height(), 1, "one 5 m row though the node changed");
                    assert_eq!(text(&cart, "node"), "node-b");
                    let restarts = &windows[2].1;
                    let worker = rows_at(restarts, &[("pod_uid", "uid-worker")], 0);
                    assert_eq!(number(&worker, "restarts"), Some(3.0), "+1, +1, reset, +1");
                }
            }
        }
    }
}

/// Every query is bound the whole parameter set, so an operator's `--queries` override can use
/// the shared vocabulary too: here a pod_events.sql that keeps only the OOM reasons.
#[tokio::test(flavor = "multi_thread")]
async fn a_query_override_can_use_the_shared_vocabulary_parameters() {
    let dir = tempfile::tempdir().unwrap();
    edge_cases().write_out_of_order(dir.path());
    let config = load(dir.path(), Generation::G2).await;
    let overrides = tempfile::tempdir().unwrap();
    let embedded = QuerySet::embedded().get(QueryKind::PodEvents).sql.clone();
    let only_oom = embedded.replace(
        "reason IN {event_reasons:Array(String)}",
        "reason IN {oom_reasons:Array(String)}",
    );
    assert_ne!(only_oom, embedded);
    std::fs::write(overrides.path().join("pod_events.sql"), only_oom).unwrap();
    let window = WindowSpec {
        since: T0,
        until: at(1200),
        bucket: Duration::from_secs(60),
    };
    for (queries, expected_pods) in [
        (QuerySet::embedded(), 4),
        (QuerySet::with_overrides(overrides.path()).unwrap(), 1),
    ] {
        let source = ClickHouseSource::connect(config.clone(), TelemetryNames::default(), queries)
            .await
            .unwrap();
        let events = source.fetch(QueryKind::PodEvents, &window).await.unwrap();
        assert_eq!(events.height(), expected_pods, "{events}");
        assert_eq!(
            number(&rows_at(&events, &[("pod", "pay-5c4b")], 360), "oom_events"),
            Some(1.0)
        );
    }
}

/// Severity texts are matched upper-cased on both sides, whatever case the configuration uses
/// (ClickHouse used to compare `upper(SeverityText)` with the texts as configured).
#[tokio::test(flavor = "multi_thread")]
async fn configured_severity_texts_match_in_any_case_through_both_sources() {
    let dir = tempfile::tempdir().unwrap();
    edge_cases().write_out_of_order(dir.path());
    let config = load(dir.path(), Generation::G2).await;
    let window = WindowSpec {
        since: T0,
        until: at(1200),
        bucket: Duration::from_secs(60),
    };
    // Minute 10:03 holds one record each of ERROR (17), "error", "Fatal", "warn" (0), two INFO
    // and three duplicated ERROR (17) records.
    for (texts, expected_errors) in [(vec!["fatal"], 5.0), (vec!["Warn", "ERROR"], 6.0)] {
        let names = TelemetryNames {
            error_severity_texts: texts.iter().map(|t| t.to_string()).collect(),
            ..TelemetryNames::default()
        };
        let clickhouse = Source::ClickHouse(Box::new(
            ClickHouseSource::connect(config.clone(), names.clone(), QuerySet::embedded())
                .await
                .unwrap(),
        ));
        let parquet = Source::Parquet(ParquetSource::open(dir.path(), names).unwrap());
        let from_clickhouse = clickhouse.fetch(QueryKind::Errors, &window).await.unwrap();
        let from_parquet = parquet.fetch(QueryKind::Errors, &window).await.unwrap();
        assert!(
            from_clickhouse.equals_missing(&from_parquet),
            "{texts:?}:\nclickhouse:\n{from_clickhouse}\nparquet:\n{from_parquet}"
        );
        let minute = rows_at(&from_clickhouse, &[("service", "checkout")], 180);
        assert_eq!(
            number(&minute, "errors"),
            Some(expected_errors),
            "{texts:?}"
        );
    }
}
