//! Canary matchers through both sources: one hand-made logs table holding every recognised
//! shape (log attribute `canary`, `canary.name`, pod labels, service name, body) and records
//! that look alike but are not canaries, loaded into the real ClickHouse engine (both exporter
//! generations) and written as Parquet. Both must recognise exactly the same canaries, and the
//! heartbeat rule must say "no canary seen" when its window holds none.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use forewarn::config::{Rule, RuleSet};
use forewarn::evaluate::{run, Windows};
use forewarn::findings::Signal;
use forewarn::source::canaries::CanaryMatcher;
use forewarn::source::introspect::Generation;
use forewarn::source::queries::QuerySet;
use forewarn::source::{ClickHouseSource, ParquetSource, Source, TelemetryNames};
use forewarn::window::{QueryKind, WindowSpec};
use polars::prelude::DataFrame;
use support::fixtures::{Log, Telemetry};
use support::{forewarn_bin, server};
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);
const APP: &str = "k8s.pod.labels.app";

fn at(seconds: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(seconds)
}

/// The matchers a rule adds to the defaults: a service-name and a body matcher.
fn rule_matchers() -> Vec<CanaryMatcher> {
    vec![
        CanaryMatcher::service(Some("pinger-*")),
        CanaryMatcher::body("heartbeat ok"),
    ]
}

/// Every shape beating once a minute for five minutes, with look-alikes that are not canaries.
fn shapes() -> Telemetry {
    let mut t = Telemetry::default();
    let cluster = ("k8s.cluster.name", "prod");
    for minute in 0..5i64 {
        let s = minute * 60 + 7;
        let beat = |t: &mut Telemetry, service, resource: &[(&str, &str)], body, attributes| {
            t.log(
                at(s),
                Log {
                    service,
                    resource,
                    severity_number: 9,
                    severity_text: "INFO",
                    body,
                    attributes,
                },
            );
        };
        // forewarn's own canary, and the other generator's attribute.
        beat(
            &mut t,
            "probe",
            &[cluster],
            "beat",
            &[("canary.name", "beta")],
        );
        beat(&mut t, "probe", &[cluster], "beat", &[("canary", "alpha")]);
        // Both attributes on one record: the first matcher (canary.name) names it, once.
        beat(
            &mut t,
            "probe",
            &[cluster],
            "beat",
            &[("canary", "gamma"), ("canary.name", "gamma")],
        );
        // A heartbeat CronJob's pods, by their `app` label.
        beat(&mut t, "cron", &[cluster, (APP, "heartbeat-cron")], "", &[]);
        beat(
            &mut t,
            "cron",
            &[cluster, (APP, "eu-canary-probe")],
            "",
            &[],
        );
        // The rule's own matchers: a service name and a body.
        beat(&mut t, "pinger-eu", &[cluster], "pong", &[]);
        beat(&mut t, "batch", &[cluster], "job: heartbeat ok (3 ms)", &[]);
        // Look-alikes: none of these is a canary.
        beat(
            &mut t,
            "checkout",
            &[cluster, (APP, "checkout")],
            "GET /cart",
            &[],
        );
        beat(&mut t, "cron", &[cluster, (APP, "my-heartbeat")], "", &[]);
        beat(
            &mut t,
            "pinger",
            &[cluster],
            "heartbeat failed",
            &[("canary", "")],
        );
    }
    t.gauge("container.memory.working_set", &[cluster], at(7), 1.0);
    t
}

/// The (canary, matcher) pairs a heartbeats window holds, and its beats per canary.
fn recognised(frame: &DataFrame) -> BTreeSet<(String, String, u64)> {
    let text = |name: &str| -> Vec<String> {
        frame
            .column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect()
    };
    let (canary, matcher) = (text("canary"), text("matcher"));
    let beats = frame.column("beats").unwrap().u64().unwrap();
    let mut totals: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for i in 0..frame.height() {
        *totals
            .entry((canary[i].clone(), matcher[i].clone()))
            .or_default() += beats.get(i).unwrap_or(0);
    }
    totals.into_iter().map(|((c, m), b)| (c, m, b)).collect()
}

fn names() -> TelemetryNames {
    let mut names = TelemetryNames::default();
    names.watch_rule_matchers(&rule_matchers());
    names
}

async fn sources(dir: &std::path::Path, generation: Generation) -> (Source, Source) {
    let config = server().fresh_database().await;
    forewarn::schema::apply(&config.writable_client(), generation, &names())
        .await
        .unwrap();
    forewarn::demo::load::load_dataset(dir, &config, &names())
        .await
        .unwrap();
    let clickhouse = ClickHouseSource::connect(config, names(), QuerySet::embedded())
        .await
        .unwrap();
    (
        Source::ClickHouse(Box::new(clickhouse)),
        Source::Parquet(ParquetSource::open(dir, names()).unwrap()),
    )
}

fn heartbeat_rule() -> Rule {
    RuleSet::embedded()
        .unwrap()
        .rules
        .into_iter()
        .find(|r| r.signal == Signal::HeartbeatMissing)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_canary_shape_is_recognised_alike_by_both_sources() {
    let dir = tempfile::tempdir().unwrap();
    shapes().write_out_of_order(dir.path());
    let expected: BTreeSet<(String, String, u64)> = [
        ("alpha", "log attribute canary"),
        ("batch", "body contains \"heartbeat ok\""),
        ("beta", "log attribute canary.name"),
        (
            "eu-canary-probe",
            "resource attribute k8s.pod.labels.app = *canary*",
        ),
        ("gamma", "log attribute canary.name"),
        (
            "heartbeat-cron",
            "resource attribute k8s.pod.labels.app = heartbeat*",
        ),
        ("pinger-eu", "service = pinger-*"),
    ]
    .into_iter()
    .map(|(c, m)| (c.to_string(), m.to_string(), 5))
    .collect();
    for generation in [Generation::G1, Generation::G2] {
        let (clickhouse, parquet) = sources(dir.path(), generation).await;
        for bucket in [60, 300] {
            let window = WindowSpec {
                since: T0,
                until: at(600),
                bucket: Duration::from_secs(bucket),
            };
            let context = format!("{generation}, bucket {bucket} s");
            let from_clickhouse = clickhouse
                .fetch(QueryKind::Heartbeats, &window)
                .await
                .unwrap();
            let from_parquet = parquet.fetch(QueryKind::Heartbeats, &window).await.unwrap();
            assert!(
                from_clickhouse.equals_missing(&from_parquet),
                "{context}: frames differ:\nclickhouse:\n{from_clickhouse}\nparquet:\n{from_parquet}"
            );
            assert_eq!(recognised(&from_clickhouse), expected, "{context}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_rule_matchers_only_the_default_shapes_are_recognised() {
    let dir = tempfile::tempdir().unwrap();
    shapes().write_out_of_order(dir.path());
    let window = WindowSpec {
        since: T0,
        until: at(600),
        bucket: Duration::from_secs(60),
    };
    let frame = ParquetSource::open(dir.path(), TelemetryNames::default())
        .unwrap()
        .fetch(QueryKind::Heartbeats, &window)
        .unwrap();
    let canaries: BTreeSet<String> = recognised(&frame).into_iter().map(|r| r.0).collect();
    assert_eq!(
        canaries,
        [
            "alpha",
            "beta",
            "eu-canary-probe",
            "gamma",
            "heartbeat-cron"
        ]
        .map(String::from)
        .into(),
    );
    // `--canary-attribute` leads the defaults: a record with both attributes is now `alpha`'s
    // shape's (log attribute canary) first.
    let names = TelemetryNames {
        canary_attribute: "canary".into(),
        ..TelemetryNames::default()
    };
    let frame = ParquetSource::open(dir.path(), names)
        .unwrap()
        .fetch(QueryKind::Heartbeats, &window)
        .unwrap();
    assert!(recognised(&frame).contains(&("gamma".into(), "log attribute canary".into(), 5)));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_canary_seen_fires_through_both_sources_on_a_window_without_canaries() {
    let dir = tempfile::tempdir().unwrap();
    shapes().write_out_of_order(dir.path());
    let rule = heartbeat_rule();
    let (clickhouse, parquet) = sources(dir.path(), Generation::G2).await;
    for source in [&clickhouse, &parquet] {
        // Hours after the last beat, the 6 h window still holds the canaries: they are down,
        // and "no canary seen" stays quiet (the positive control).
        let report = run(&Windows::Live { source }, &[&rule], at(3 * 3600)).await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let canaries: BTreeSet<&str> = report
            .findings
            .iter()
            .filter_map(|f| f.entity.get("canary").map(String::as_str))
            .collect();
        assert_eq!(canaries.len(), 7, "every canary down: {canaries:?}");
        assert!(!canaries.contains("*"), "{canaries:?}");
        // A day later the window holds nothing: the rule says it watches nothing.
        let report = run(&Windows::Live { source }, &[&rule], at(30 * 3600)).await;
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        let f = &report.findings[0];
        assert_eq!(f.entity.get("canary").map(String::as_str), Some("*"));
        assert!(
            f.summary
                .starts_with("no canary seen in the last 6.0 h: check the pipeline or the matcher"),
            "{}",
            f.summary
        );
    }
}

/// `forewarn check --connect` prints how many canaries the heartbeat rule sees now, and warns
/// when it sees none.
#[test]
fn check_connect_reports_the_canaries_each_heartbeat_rule_sees() {
    let check = |dir: &std::path::Path| {
        let out = std::process::Command::new(forewarn_bin())
            .args(["check", "--connect", "--source"])
            .arg(format!("parquet:{}", dir.display()))
            .env("RUST_LOG", "error")
            .env_remove("FOREWARN_RULES")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    // Two canaries beating in the last few minutes (one by attribute, one by pod label), and a
    // look-alike that is not one.
    let now = OffsetDateTime::now_utc();
    let mut t = Telemetry::default();
    for minute in 1..6i64 {
        let when = now - time::Duration::minutes(minute);
        let log = |service, resource, attributes| Log {
            service,
            resource,
            severity_number: 9,
            severity_text: "INFO",
            body: "beat",
            attributes,
        };
        t.log(when, log("probe", &[], &[("canary", "alpha")]));
        t.log(when, log("cron", &[(APP, "heartbeat-cron")], &[]));
        t.log(when, log("checkout", &[(APP, "checkout")], &[]));
    }
    t.gauge("container.memory.working_set", &[], now, 1.0);
    let live = tempfile::tempdir().unwrap();
    t.write_out_of_order(live.path());
    let (stdout, stderr) = check(live.path());
    assert!(
        stdout.contains("heartbeat rule canary-heartbeat: 2 canaries seen (matching "),
        "{stdout}{stderr}"
    );
    assert!(!stderr.contains("no canary seen"), "{stderr}");
    // Control: the same check on telemetry from long ago sees none, and says so.
    let old = tempfile::tempdir().unwrap();
    shapes().write_out_of_order(old.path());
    let (stdout, stderr) = check(old.path());
    assert!(
        stderr.contains("warning: heartbeat rule canary-heartbeat: no canary seen in its window"),
        "{stdout}{stderr}"
    );
    assert!(!stdout.contains("canaries seen"), "{stdout}");
}
