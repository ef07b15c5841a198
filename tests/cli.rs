//! The command line as a user meets it: exit codes, rule errors with file/line/column, the
//! findings contract on stdout, and no half-runs when configuration is broken.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{demo_dir, forewarn_bin};

fn forewarn(args: &[&str]) -> Output {
    Command::new(forewarn_bin())
        .args(args)
        .env("RUST_LOG", "error")
        .env_remove("FOREWARN_RULES")
        .output()
        .expect("running forewarn")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn shipped_rules_copy(dir: &Path) {
    for (file, contents) in forewarn::config::rules::EMBEDDED_RULES {
        let name = Path::new(file).file_name().unwrap();
        std::fs::write(dir.join(name), contents).unwrap();
    }
}

#[test]
fn check_accepts_the_shipped_rules() {
    let out = forewarn(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("rules OK"));
}

#[test]
fn a_broken_rule_is_named_by_file_line_column_and_field_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    shipped_rules_copy(dir.path());
    let broken = std::fs::read_to_string(dir.path().join("memory.yaml"))
        .unwrap()
        .replace("warning_within: 2h", "warning_within: two hours");
    std::fs::write(dir.path().join("memory.yaml"), broken).unwrap();
    let rules = dir.path().to_str().unwrap();

    let out = forewarn(&["check", "--rules", rules]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let line = std::fs::read_to_string(dir.path().join("memory.yaml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("two hours"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("memory.yaml:{line}:")), "{err}");
    assert!(err.contains("warning_within"), "{err}");
    assert!(err.contains("`two hours` is not a duration"), "{err}");

    // The same rules make analyze refuse before touching any source: no findings, exit 2.
    let source = format!("parquet:{}", demo_dir().display());
    let out = forewarn(&[
        "analyze", "--rules", rules, "--source", &source, "--output", "jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "a broken rule set half-ran: {}",
        text(&out.stdout)
    );
}

#[test]
fn an_unknown_field_in_a_rule_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    shipped_rules_copy(dir.path());
    let broken = std::fs::read_to_string(dir.path().join("errors.yaml"))
        .unwrap()
        .replace(
            "      min_errors: 5\n",
            "      min_errors: 5\n      min_erors: 3\n",
        );
    std::fs::write(dir.path().join("errors.yaml"), broken).unwrap();
    let out = forewarn(&["check", "--rules", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("errors.yaml:"), "{err}");
    assert!(err.contains("min_erors"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = forewarn(&["query", "cpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown window `cpu`"));
    let out = forewarn(&["analyze", "--source", "s3:bucket"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("use `clickhouse` or `parquet:DIR`"));
}

fn labels() -> forewarn::demo::model::Labels {
    serde_json::from_str(&std::fs::read_to_string(demo_dir().join("labels.json")).unwrap()).unwrap()
}

#[test]
fn analyze_prints_contract_findings_and_fail_on_exits_3() {
    // As of 20 minutes before the first OOM kill, the leaking container must be flagged.
    let labels = labels();
    let leak = labels
        .incidents
        .iter()
        .filter(|i| i.kind == "memory_leak")
        .min_by_key(|i| i.impact_at)
        .expect("the demo injects memory leaks");
    let at =
        forewarn::window::timefmt::rfc3339(leak.impact_at.unwrap() - time::Duration::minutes(20));
    let source = format!("parquet:{}", demo_dir().display());
    let out = forewarn(&[
        "analyze", "--source", &source, "--at", &at, "--output", "jsonl",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let findings: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON finding"))
        .collect();
    let hit = findings
        .iter()
        .find(|f| f["signal"] == "memory_pressure" && f["entity"]["pod"] == leak.entity["pod"])
        .unwrap_or_else(|| panic!("no memory finding for {:?} in {findings:#?}", leak.entity));
    let keys: Vec<&str> = hit
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "rule",
        "signal",
        "severity",
        "status",
        "entity",
        "evaluated_at",
        "window",
        "summary",
        "evidence",
        "runbook",
    ] {
        assert!(keys.contains(&key), "finding lacks `{key}`: {hit}");
    }
    // Windows end on bucket boundaries: the finding is as of the 1-minute bucket before --at.
    let floored = forewarn::window::timefmt::floor_to(
        leak.impact_at.unwrap() - time::Duration::minutes(20),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(
        hit["evaluated_at"],
        serde_json::Value::String(forewarn::window::timefmt::rfc3339(floored))
    );
    assert!(hit["evidence"]["limit_bytes"].as_f64().unwrap() > 0.0);
    assert!(hit["evidence"]["exhaustion_at"].is_string());
    assert!(hit["summary"]
        .as_str()
        .unwrap()
        .contains("limit reached in"));

    let out = forewarn(&[
        "analyze",
        "--source",
        &source,
        "--at",
        &at,
        "--output",
        "jsonl",
        "--fail-on",
        "warning",
    ]);
    assert_eq!(out.status.code(), Some(3));
    // Before any incident, nothing fires and --fail-on stays 0.
    let quiet = forewarn::window::timefmt::rfc3339(labels.start + time::Duration::hours(2));
    let out = forewarn(&[
        "analyze",
        "--source",
        &source,
        "--at",
        &quiet,
        "--fail-on",
        "critical",
        "--output",
        "jsonl",
        "--rule",
        "memory-pressure",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn backtest_prints_jsonl_and_scores_itself_against_labels() {
    let labels = labels();
    let source = format!("parquet:{}", demo_dir().display());
    let from = forewarn::window::timefmt::rfc3339(labels.start + time::Duration::hours(2));
    let to = forewarn::window::timefmt::rfc3339(labels.end);
    let labels_file = demo_dir().join("labels.json");
    let out = forewarn(&[
        "backtest",
        "--source",
        &source,
        "--from",
        &from,
        "--to",
        &to,
        "--step",
        "5m",
        "--output",
        "jsonl",
        "--labels",
        labels_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let times: std::collections::BTreeSet<String> = stdout
        .lines()
        .map(|l| {
            let f: serde_json::Value = serde_json::from_str(l).unwrap();
            f["evaluated_at"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(times.len() > 5, "findings at several steps: {times:?}");
    let err = text(&out.stderr);
    assert!(err.contains("steps evaluated"), "{err}");
    assert!(err.contains("precision") && err.contains("recall"), "{err}");
    assert!(err.contains("first detection per entity"), "{err}");
}

#[test]
fn backtest_chunks_change_memory_not_findings() {
    let labels = labels();
    let source = format!("parquet:{}", demo_dir().display());
    let from = forewarn::window::timefmt::rfc3339(labels.start + time::Duration::hours(2));
    let to = forewarn::window::timefmt::rfc3339(labels.end);
    let backtest = |chunk: &str| {
        let out = forewarn(&[
            "backtest", "--source", &source, "--from", &from, "--to", &to, "--step", "10m",
            "--chunk", chunk, "--output", "jsonl",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // One fetch for the whole range against one per 50 minutes (five steps, the last chunk
    // shorter): every step sees the same window either way.
    let whole = backtest("1000h");
    let chunked = backtest("50m");
    let signals: std::collections::BTreeSet<String> = whole
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["signal"].to_string())
        .collect();
    assert!(
        signals.len() >= 3,
        "findings of several signals: {signals:?}"
    );
    assert_eq!(whole.lines().count(), chunked.lines().count());
    for (a, b) in whole.lines().zip(chunked.lines()) {
        assert_eq!(a, b);
    }

    let out = forewarn(&[
        "backtest", "--source", &source, "--from", &from, "--to", &to, "--chunk", "0s",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--chunk"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_demo_runs_and_reports_what_it_found() {
    let out = forewarn(&["demo", "--seed", "3", "--hours", "8"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Injected incidents and what forewarn said"),
        "{stdout}"
    );
    assert!(stdout.contains("precision"));
    assert!(stdout.contains("first warned"), "{stdout}");
    // Every injected incident is listed, and every one was found: no ✗ lines, and each
    // signal's `found d/n` column has d == n > 0.
    assert!(
        !stdout.contains("✗"),
        "the demo missed incidents:\n{stdout}"
    );
    for signal in forewarn::findings::Signal::ALL {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(signal.as_str()))
            .unwrap_or_else(|| panic!("no score row for {signal}:\n{stdout}"));
        let found = row.split_whitespace().nth(3).unwrap();
        let (detected, injected) = found.split_once('/').unwrap();
        let (detected, injected): (u32, u32) =
            (detected.parse().unwrap(), injected.parse().unwrap());
        assert!(injected > 0, "no {signal} incident injected: {row}");
        assert_eq!(detected, injected, "{signal}: {row}");
    }
    let found_lines = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("✓"))
        .count();
    assert!(found_lines >= 4, "{stdout}");
    // The replayed scheduled runs: what the team would have heard, announcements and
    // resolutions.
    let received = stdout
        .split("What the team would have received")
        .nth(1)
        .unwrap_or_else(|| panic!("no replay of the runs:\n{stdout}"));
    assert!(received.contains("(1 new)"), "{received}");
    assert!(received.contains("resolved)"), "{received}");
}

#[test]
fn query_prints_every_output_format() {
    let source = format!("parquet:{}", demo_dir().display());
    let base = [
        "query",
        "heartbeats",
        "--source",
        &source,
        "--since",
        "2026-11-20T06:00:00Z",
        "--until",
        "2026-11-20T12:00:00Z",
        "--bucket",
        "15m",
    ];
    let run = |format: &str| {
        let mut args = base.to_vec();
        args.extend(["--output", format]);
        let out = forewarn(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            text(&out.stderr)
        );
        out.stdout
    };
    let jsonl = text(&run("jsonl"));
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!rows.is_empty());
    assert!(
        rows[0]["canary"].is_string()
            && rows[0]["beats"].is_u64()
            && rows[0]["last_seen_at"].as_str().unwrap().ends_with('Z')
    );
    let json: Vec<serde_json::Value> = serde_json::from_slice(&run("json")).unwrap();
    assert_eq!(json, rows);
    let csv = text(&run("csv"));
    assert!(
        csv.starts_with("bucket,cluster,canary,matcher,beats,first_seen_at,last_seen_at\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), rows.len() + 1);
    let table = text(&run("table"));
    assert!(table.contains(&format!("({} rows)", rows.len())), "{table}");
    let parquet = run("parquet");
    assert_eq!(&parquet[..4], b"PAR1");
}

#[test]
fn a_broken_notify_yaml_is_located_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    shipped_rules_copy(dir.path());
    // Positive control: the shipped notify.yaml beside the rules passes.
    std::fs::write(
        dir.path().join("notify.yaml"),
        forewarn::config::notify::EMBEDDED_NOTIFY.1,
    )
    .unwrap();
    let out = forewarn(&["check", "--rules", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A route naming a receiver that does not exist: exit 2, file:line:column.
    std::fs::write(
        dir.path().join("notify.yaml"),
        "receivers: []\nroutes:\n  - name: all\n    receivers: [nobody]\n",
    )
    .unwrap();
    let out = forewarn(&["check", "--rules", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("notify.yaml:4:"), "{err}");
    assert!(err.contains("nobody"), "{err}");
}

/// `forewarn query` with selectors: `--pod` keeps only that pod's rows (and without it other
/// pods are there: the positive control), a selector the window has no column for is a usage
/// error naming the ones it has, one that matches nothing says so; `--human` prints sizes in
/// MiB/GiB and UTC times where csv keeps raw bytes and RFC 3339.
#[test]
fn query_selects_rows_and_prints_human_units_on_request() {
    let source = format!("parquet:{}", demo_dir().display());
    let base = [
        "query",
        "memory",
        "--source",
        &source,
        "--at",
        "2026-11-20T11:00:00Z",
        "--lookback",
        "15m",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        forewarn(&args)
    };
    let pods_of = |out: &Output| -> std::collections::BTreeSet<String> {
        text(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|row| row["pod"].as_str().unwrap().to_string())
            .collect()
    };
    let all = run(&["--output", "jsonl"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all.stderr));
    let pods = pods_of(&all);
    assert!(pods.len() > 1, "the control needs several pods: {pods:?}");
    let pod = pods.iter().next().unwrap().clone();
    let one = run(&["--output", "jsonl", "--pod", &pod]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    assert_eq!(pods_of(&one), [pod.clone()].into());

    let wrong = run(&["--service", "cart"]);
    assert_eq!(wrong.status.code(), Some(2));
    let message = text(&wrong.stderr);
    assert!(
        message.contains("--service `cart`") && message.contains("--pod, --container"),
        "{message}"
    );

    let none = run(&["--pod", "no-such-pod"]);
    assert_eq!(none.status.code(), Some(0));
    assert!(
        text(&none.stderr).contains("no rows match --pod no-such-pod in the memory window"),
        "{}",
        text(&none.stderr)
    );

    let human = run(&["--pod", &pod, "--human"]);
    let table = text(&human.stdout);
    assert!(table.contains(" MiB") || table.contains(" GiB"), "{table}");
    assert!(table.contains(" UTC"), "{table}");
    let csv = run(&["--pod", &pod, "--output", "csv"]);
    let csv = text(&csv.stdout);
    assert!(!csv.contains("MiB") && csv.contains("T10:"), "{csv}");
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    // `forewarn query … | head -1`: the pipe closes after the first line.
    let source = format!("parquet:{}", demo_dir().display());
    let mut child = Command::new(forewarn_bin())
        .args([
            "query",
            "memory",
            "--source",
            &source,
            "--at",
            "2026-11-20T12:00:00Z",
            "--bucket",
            "1m",
            "--output",
            "csv",
        ])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("bucket,"), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
