//! `forewarn canary` against the shipped heartbeat rule, through the real binary and the real
//! ClickHouse engine: the canary beating with `--direct` is up, silent it is down after period +
//! grace, beating again it is resolved. The stdout line, stored the way the collector's filelog
//! pipeline stores it, is recognised by the same default matcher.

mod support;

use std::process::{Command, Output};

use forewarn::source::ClickHouseConfig;
use serde_json::Value;
use support::{forewarn_bin, server};
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);

fn at(seconds: i64) -> String {
    forewarn::window::timefmt::rfc3339(T0 + time::Duration::seconds(seconds))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn connection(config: &ClickHouseConfig) -> Vec<String> {
    vec![
        "--clickhouse-url".into(),
        config.url.clone(),
        "--clickhouse-database".into(),
        config.database.clone().unwrap(),
    ]
}

fn forewarn(args: &[String]) -> Output {
    let out = Command::new(forewarn_bin())
        .args(args)
        .env_remove("FOREWARN_RULES")
        .output()
        .expect("running forewarn");
    assert!(out.status.success(), "forewarn {args:?}: {}", stderr(&out));
    out
}

async fn database() -> ClickHouseConfig {
    let config = server().fresh_database().await;
    let mut args = vec!["schema".to_string(), "--apply".into()];
    args.extend(connection(&config));
    forewarn(&args);
    config
}

fn beat(config: &ClickHouseConfig, name: &str, seconds: i64) {
    let mut args = vec![
        "canary".to_string(),
        "--name".into(),
        name.into(),
        "--direct".into(),
        "--cluster".into(),
        "test-cluster".into(),
        "--at".into(),
        at(seconds),
    ];
    args.extend(connection(config));
    let out = forewarn(&args);
    assert!(out.stdout.is_empty(), "--direct prints no second beat");
}

/// The shipped heartbeat rule's findings as of `T0 + seconds`.
fn heartbeat_findings(config: &ClickHouseConfig, seconds: i64) -> Vec<Value> {
    let mut args = vec![
        "analyze".to_string(),
        "--rule".into(),
        "canary-heartbeat".into(),
        "--output".into(),
        "jsonl".into(),
        "--at".into(),
        at(seconds),
    ];
    args.extend(connection(config));
    let out = forewarn(&args);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn about<'a>(findings: &'a [Value], canary: &str) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|f| f["entity"]["canary"] == canary)
        .collect()
}

#[tokio::test]
async fn a_direct_canary_is_up_then_down_after_period_and_grace_then_resolved() {
    let config = database().await;
    // Positive control: before any beat the discovering rule says it sees no canary at all.
    let before = heartbeat_findings(&config, -60);
    assert_eq!(about(&before, "*").len(), 1, "{before:?}");

    // Ten beats a minute apart (period 60 s, grace one period).
    for k in 0..10 {
        beat(&config, "edge", k * 60);
    }
    let up = heartbeat_findings(&config, 9 * 60 + 30);
    assert!(up.is_empty(), "beating: up, nothing to report: {up:?}");
    // Late but within the grace: still quiet.
    let late = heartbeat_findings(&config, 9 * 60 + 90);
    assert!(about(&late, "edge").is_empty(), "{late:?}");

    // Silent for more than period + grace: down (as-of times are floored to the rule's
    // one-minute bucket: 10:12:10 judges as of 10:12, three minutes after the last beat).
    let down = heartbeat_findings(&config, 9 * 60 + 190);
    let edge = about(&down, "edge");
    assert_eq!(edge.len(), 1, "{down:?}");
    assert_eq!(edge[0]["status"], "firing");
    assert_eq!(edge[0]["severity"], "critical");
    assert_eq!(edge[0]["signal"], "heartbeat_missing");
    assert_eq!(edge[0]["entity"]["cluster"], "test-cluster");

    // Beating again: resolved.
    for k in 15..18 {
        beat(&config, "edge", k * 60);
    }
    let resumed = heartbeat_findings(&config, 17 * 60 + 10);
    let edge = about(&resumed, "edge");
    assert_eq!(edge.len(), 1, "{resumed:?}");
    assert_eq!(edge[0]["status"], "resolved");
}

#[tokio::test]
async fn the_stdout_line_stored_as_the_filelog_pipeline_stores_it_is_a_beat() {
    let config = database().await;
    let mut rows = Vec::new();
    for k in 0..6 {
        let out = forewarn(&[
            "canary".into(),
            "--name".into(),
            "piped".into(),
            "--at".into(),
            at(k * 60),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(text.lines().count(), 1, "one line: {text}");
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["canary.name"], "piped");
        assert_eq!(line["level"], "INFO");
        // filelog + json_parser: the keys become log attributes (time and level are consumed
        // as timestamp and severity), the line stays the body.
        let mut attributes = line.as_object().unwrap().clone();
        let time = attributes.remove("time").unwrap();
        attributes.remove("level");
        let parsed = OffsetDateTime::parse(
            time.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        rows.push(serde_json::json!({
            "Timestamp": forewarn::canary::clickhouse_time(parsed),
            "SeverityText": "INFO",
            "SeverityNumber": 9,
            "ServiceName": "",
            "Body": text.trim(),
            "ResourceAttributes": {"k8s.cluster.name": "piped-cluster", "k8s.pod.name": "canary-29"},
            "LogAttributes": attributes,
        }));
    }
    forewarn::canary::insert_rows(&config, "otel_logs", &rows)
        .await
        .unwrap();
    let up = heartbeat_findings(&config, 5 * 60 + 30);
    assert!(up.is_empty(), "{up:?}");
    let down = heartbeat_findings(&config, 5 * 60 + 190);
    let piped = about(&down, "piped");
    assert_eq!(
        piped.len(),
        1,
        "recognised by the default matcher: {down:?}"
    );
    assert_eq!(piped[0]["entity"]["cluster"], "piped-cluster");
}
