//! A run that cannot judge everything never looks like "all clear": when one rule's query is
//! broken, the other rules' findings still print, the broken rule is named with its query file,
//! and the process exits 1.

mod support;

use std::process::Command;

use support::{forewarn_bin, server};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_query_fails_its_rule_only_and_the_run_exits_1() {
    let data = tempfile::tempdir().unwrap();
    let end = "2026-11-20T12:00:00Z";
    let out = Command::new(forewarn_bin())
        .args(["demo", "generate"])
        .arg(data.path())
        .args(["--seed", "5", "--hours", "6", "--end", end])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let database = server().fresh_database().await.database.unwrap();
    let url = server().url();
    let connection = ["--clickhouse-url", &url, "--clickhouse-database", &database];
    let out = Command::new(forewarn_bin())
        .args(["demo", "load"])
        .arg(data.path())
        .args(connection)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Positive control: with the shipped queries the run completes and finds something.
    let analyze = |queries: Option<&std::path::Path>| {
        let mut cmd = Command::new(forewarn_bin());
        cmd.args([
            "analyze",
            "--at",
            "2026-11-20T11:55:00Z",
            "--output",
            "jsonl",
        ])
        .args(connection)
        .env("RUST_LOG", "error")
        .env_remove("FOREWARN_RULES");
        if let Some(dir) = queries {
            cmd.arg("--queries").arg(dir);
        }
        cmd.output().unwrap()
    };
    let good = analyze(None);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stderr));
    let rules_of = |stdout: &[u8]| -> Vec<String> {
        text(stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["rule"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let good_rules = rules_of(&good.stdout);
    assert!(
        good_rules.iter().any(|r| r != "error-rate"),
        "the control run should find something besides error rates: {good_rules:?}"
    );

    // errors.sql broken: the error-rate rule fails, named with its file; the others still run.
    let queries = tempfile::tempdir().unwrap();
    std::fs::write(
        queries.path().join("errors.sql"),
        "SELEC broken FROM {logs_table:Identifier}",
    )
    .unwrap();
    let broken = analyze(Some(queries.path()));
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken.stderr));
    let err = text(&broken.stderr);
    assert!(err.contains("rule error-rate"), "{err}");
    assert!(err.contains("errors.sql"), "{err}");
    assert!(err.contains("could not be judged"), "{err}");
    let broken_rules = rules_of(&broken.stdout);
    let expected: Vec<_> = good_rules
        .iter()
        .filter(|r| *r != "error-rate")
        .cloned()
        .collect();
    assert_eq!(
        broken_rules, expected,
        "the other rules' findings must still print"
    );
}
