//! The notebooks in `notebooks/` run top to bottom against the ClickHouse test server holding
//! demo telemetry and forewarn's own state (written by two real `forewarn run`s), the way an
//! engineer opens them: `forewarn_sql` reads `queries/*.sql` and binds what
//! `forewarn query NAME --parameters` prints. Any cell error fails the test.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use forewarn_devserver::DevServer;
use support::loopback::Loopback;
use support::{forewarn_bin, TestServer};

const END: &str = "2026-11-20T12:00:00Z";
const SLACK_PATH: &str = "/slack/notebooks";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn notebooks() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join("notebooks"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ipynb"))
        .collect();
    found.sort();
    found
}

/// Runs `tests/support/run_notebooks.py` over `paths` with the notebooks' environment.
fn run_notebooks(paths: &[PathBuf], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(DevServer::python(repo()));
    cmd.arg(repo().join("tests/support/run_notebooks.py"))
        .args(paths)
        .env("FOREWARN_BIN", forewarn_bin());
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().unwrap()
}

fn forewarn(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(forewarn_bin());
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_notebook_runs_top_to_bottom_on_demo_data_and_forewarns_state() {
    let server = TestServer::start(None);
    let telemetry = server.fresh_database().await;
    let database = telemetry.database.clone().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = forewarn(
        &[
            "demo",
            "generate",
            data.path().to_str().unwrap(),
            "--seed",
            "3",
            "--hours",
            "8",
            "--end",
            END,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let env = vec![
        ("FOREWARN_CLICKHOUSE_URL", server.url()),
        ("FOREWARN_CLICKHOUSE_DATABASE", database.clone()),
    ];
    let out = forewarn(&["demo", "load", data.path().to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", text(&out));

    // forewarn's own state, from real runs: the shipped rules, one Slack route to a fake.
    let fake = Loopback::start();
    let rules = tempfile::tempdir().unwrap();
    for (file, contents) in forewarn::config::rules::EMBEDDED_RULES {
        let name = Path::new(file).file_name().unwrap();
        std::fs::write(rules.path().join(name), contents).unwrap();
    }
    std::fs::write(
        rules.path().join("notify.yaml"),
        "receivers:\n  - name: slack\n    type: slack\n    config: {webhook_url_env: FW_TEST_SLACK_URL}\nroutes:\n  - name: everything\n    receivers: [slack]\n",
    )
    .unwrap();
    let state_database = format!("{database}_state");
    let mut run_env = env.clone();
    run_env.extend([
        ("FOREWARN_RULES", rules.path().display().to_string()),
        ("FW_TEST_SLACK_URL", fake.url(SLACK_PATH)),
        ("FOREWARN_STATE_DATABASE", state_database.clone()),
    ]);
    let end_time = forewarn::window::timefmt::parse_time(END, time::OffsetDateTime::now_utc())
        .expect("END is RFC 3339");
    for hours_before in [2, 0] {
        let at = forewarn::window::timefmt::rfc3339(end_time - time::Duration::hours(hours_before));
        let out = forewarn(&["run", "frequent", "--at", &at], &run_env);
        assert!(out.status.success(), "run at {at}: {}", text(&out));
    }
    assert!(
        !fake.requests_to(SLACK_PATH).await.is_empty(),
        "the runs announced nothing, so the history notebook would read an empty story"
    );

    let since = forewarn::window::timefmt::rfc3339(end_time - time::Duration::hours(3));
    let mut notebook_env = env.clone();
    notebook_env.extend([
        ("FOREWARN_STATE_DATABASE", state_database),
        ("FOREWARN_SINCE", since),
        ("FOREWARN_UNTIL", END.to_string()),
    ]);
    let books = notebooks();
    assert!(
        books.len() >= 5,
        "expected the five notebooks, found {books:?}"
    );
    let out = run_notebooks(&books, &notebook_env);
    let report = text(&out);
    assert!(out.status.success(), "a notebook failed:\n{report}");
    for book in &books {
        let name = book.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("ok ") && l.contains(&name)),
            "{name} was not reported ok:\n{report}"
        );
    }

    // The control: the runner does fail on a cell error, with the notebook named.
    let broken = tempfile::tempdir().unwrap();
    let path = broken.path().join("broken.ipynb");
    std::fs::write(
        &path,
        r#"{"cells": [{"cell_type": "code", "execution_count": null, "id": "c0", "metadata": {}, "outputs": [], "source": "raise ValueError('cell error on purpose')"}], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}"#,
    )
    .unwrap();
    let out = run_notebooks(&[path], &notebook_env);
    let report = text(&out);
    assert!(!out.status.success(), "a raising cell passed:\n{report}");
    assert!(
        report.contains("FAILED") && report.contains("broken.ipynb"),
        "{report}"
    );
    assert!(report.contains("cell error on purpose"), "{report}");
}

#[test]
fn notebooks_are_committed_without_outputs() {
    for book in notebooks() {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&book).unwrap()).unwrap();
        for cell in json["cells"].as_array().unwrap() {
            if cell["cell_type"] == "code" {
                assert_eq!(
                    cell["outputs"],
                    serde_json::json!([]),
                    "{}: strip the outputs before committing",
                    book.display()
                );
                assert!(cell["execution_count"].is_null(), "{}", book.display());
            }
        }
    }
}
