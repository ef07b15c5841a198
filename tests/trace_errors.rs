//! Error rates from span status: the trace_errors window is identical from ClickHouse and from
//! Parquet, and a rule with `errors.source: traces` fires on a burst of failed server spans.

mod support;

use std::time::Duration;

use forewarn::config::RuleSet;
use forewarn::source::introspect::Generation;
use forewarn::source::queries::QuerySet;
use forewarn::source::{ClickHouseSource, ParquetSource, Source, TelemetryNames};
use forewarn::window::{timefmt, QueryKind, WindowSpec};
use polars::prelude::*;
use support::server;
use time::macros::datetime;

/// Three hours of spans for one service: 40 server spans a minute (plus client spans that are
/// not requests), 1% errors, then 20% errors in the last 15 minutes.
fn spans() -> DataFrame {
    let start = datetime!(2026-11-20 09:00 UTC);
    let (mut ts, mut kind, mut status) = (Vec::new(), Vec::new(), Vec::new());
    for minute in 0..180i64 {
        for i in 0..40i64 {
            let t = start + time::Duration::seconds(minute * 60 + i);
            let failing = if minute >= 165 {
                i % 5 == 0
            } else {
                (minute * 40 + i) % 100 == 0
            };
            ts.push(timefmt::to_nanos(t));
            kind.push(if i % 2 == 0 {
                "Server"
            } else {
                "SPAN_KIND_SERVER"
            });
            status.push(if failing { "Error" } else { "Ok" });
            ts.push(timefmt::to_nanos(t));
            kind.push("Client");
            status.push("Error");
        }
    }
    let n = ts.len();
    let resource = |k: &str, v: &str| {
        // One {key, value} list per row.
        let s = df!("key" => [k, "k8s.cluster.name"], "value" => [v, "prod"]).unwrap();
        s.lazy()
            .select([as_struct(vec![col("key"), col("value")])
                .implode(false)
                .alias("m")])
            .collect()
            .unwrap()
            .column("m")
            .unwrap()
            .get(0)
            .unwrap()
            .into_static()
    };
    let map = resource("k8s.namespace.name", "shop");
    DataFrame::new_infer_height(vec![
        Column::new("Timestamp".into(), ts)
            .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
            .unwrap(),
        Column::new("SpanKind".into(), kind),
        Column::new("StatusCode".into(), status),
        Column::new("ServiceName".into(), vec!["checkout"; n]),
        Column::new("SpanName".into(), vec!["POST /pay"; n]),
        Column::new_scalar(
            "ResourceAttributes".into(),
            Scalar::new(map.dtype(), map),
            n,
        ),
    ])
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_errors_agree_across_sources_and_a_traces_rule_fires() {
    let dir = tempfile::tempdir().unwrap();
    let mut frame = spans();
    let path = dir.path().join("otel_traces.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut frame)
        .unwrap();

    let config = server().fresh_database().await;
    let names = TelemetryNames::default();
    let client = config.writable_client();
    forewarn::schema::apply(&client, Generation::G2, &names)
        .await
        .unwrap();
    let mut insert = client.insert_formatted_with(
        "INSERT INTO otel_traces (Timestamp, SpanKind, StatusCode, ServiceName, SpanName, ResourceAttributes) \
         SELECT Timestamp, SpanKind, StatusCode, ServiceName, SpanName, CAST(ResourceAttributes, 'Map(String, String)') \
         FROM input('Timestamp DateTime64(9), SpanKind String, StatusCode String, ServiceName String, SpanName String, ResourceAttributes Array(Tuple(key String, value String))') FORMAT Parquet",
    );
    insert
        .send(std::fs::read(&path).unwrap().into())
        .await
        .unwrap();
    insert.end().await.unwrap();

    let clickhouse = Source::ClickHouse(Box::new(
        ClickHouseSource::connect(config, names.clone(), QuerySet::embedded())
            .await
            .unwrap(),
    ));
    let parquet = Source::Parquet(ParquetSource::open(dir.path(), names).unwrap());
    let window = WindowSpec {
        since: datetime!(2026-11-20 09:00 UTC),
        until: datetime!(2026-11-20 12:00 UTC),
        bucket: Duration::from_secs(300),
    };
    let a = clickhouse
        .fetch(QueryKind::TraceErrors, &window)
        .await
        .unwrap();
    let b = parquet
        .fetch(QueryKind::TraceErrors, &window)
        .await
        .unwrap();
    assert_eq!(a.height(), 36);
    assert!(a.equals_missing(&b), "clickhouse:\n{a}\nparquet:\n{b}");
    // Client spans are not requests: 40 server spans a minute, 200 per bucket.
    let totals = a.column("total").unwrap().u64().unwrap();
    assert!(totals.iter().all(|t| t == Some(200)), "{a}");

    let set = RuleSet::embedded().unwrap();
    let mut rule = set
        .rules
        .iter()
        .find(|r| r.name == "error-rate")
        .unwrap()
        .clone();
    let mut params = rule.error_params();
    params.source = forewarn::config::rules::ErrorSource::Traces;
    rule.errors = Some(params);
    let findings = forewarn::evaluate::analyze(&clickhouse, &[&rule], window.until)
        .await
        .unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].entity["service"], "checkout");
    assert!(
        findings[0].summary.contains("error ratio 20.00%"),
        "{}",
        findings[0].summary
    );
}
