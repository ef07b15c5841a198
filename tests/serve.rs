//! `forewarn serve` through the real binary: a job every 2 s against the ClickHouse test server
//! (an empty logs table, so the heartbeat rule fires "no canary seen" every run), the state in
//! SQLite, Slack and the dead-man URL on the loopback fakes. `/metrics` scraped twice counts
//! runs and findings; a run slower than the schedule makes ticks skip; a run over its budget is
//! stopped; SIGTERM during a run lets it finish and exits 0.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::kubeapi::KubeApi;
use support::loopback::Loopback;
use support::{forewarn_bin, server};

const SLACK_PATH: &str = "/slack/services/T0/B0/serve-hook";
const DEADMAN: &str = "/ping/5f1a0c4e-0d6e-4b8e-9c57-5e12e0000001";

fn rules_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "jobs.yaml",
        "jobs:\n  - name: quick\n    schedule: \"*/2 * * * * *\"\n    description: every 2 s\n",
    );
    write(
        "quick.yaml",
        "rules:\n  - name: quick-canaries\n    signal: heartbeat_missing\n    job: quick\n    window: 10m\n    bucket: 1m\n",
    );
    write(
        "notify.yaml",
        "receivers:\n  - name: slack\n    type: slack\n    config:\n      webhook_url_env: FW_TEST_SLACK_URL\nroutes:\n  - name: everything\n    receivers: [slack]\n",
    );
    std::fs::create_dir(dir.path().join("runbooks")).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` → (status, body).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// The value of the sample `name{labels}` (labels exactly as exposed), 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Daemon {
    child: Child,
    port: u16,
    _rules: tempfile::TempDir,
    _state: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; (exit code, stderr).
    fn wait(mut self, timeout: Duration) -> (Option<i32>, String) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                return (status.code(), err);
            }
            assert!(start.elapsed() < timeout, "serve did not exit");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

async fn start(fake: &Loopback, extra: &[&str]) -> Daemon {
    start_with_env(fake, extra, &[]).await
}

async fn start_with_env(fake: &Loopback, extra: &[&str], envs: &[(&str, &Path)]) -> Daemon {
    let config = server().fresh_database().await;
    let database = config.database.clone().unwrap();
    let out = Command::new(forewarn_bin())
        .args(["schema", "--apply", "--clickhouse-url", &config.url])
        .args(["--clickhouse-database", &database])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = rules_dir();
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(forewarn_bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--clickhouse-url",
            &config.url,
            "--clickhouse-database",
            &database,
        ])
        .arg("--state")
        .arg(state.path().join("state.db"))
        .args(extra)
        .env("FOREWARN_RULES", rules.path())
        .env("FW_TEST_SLACK_URL", fake.url(SLACK_PATH))
        .env("FOREWARN_DEADMAN_URL", fake.url(DEADMAN))
        .envs(envs.iter().map(|(k, v)| (*k, *v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let daemon = Daemon {
        child,
        port,
        _rules: rules,
        _state: state,
    };
    wait_for("/healthz", Duration::from_secs(30), || {
        get(port, "/healthz").is_some_and(|(s, _)| s == 200)
    });
    daemon
}

fn runs(metrics: &str, outcome: &str) -> f64 {
    sample(
        metrics,
        &format!("forewarn_runs_total{{job=\"quick\",outcome=\"{outcome}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_the_job_on_its_schedule_and_reports_metrics() {
    let fake = Loopback::start();
    let daemon = start(&fake, &[]).await;
    let port = daemon.port;

    let (status, ready) = get(port, "/readyz").unwrap();
    assert_eq!(status, 200, "{ready}");
    assert!(
        ready.contains("source reachable; state writable"),
        "{ready}"
    );
    assert_eq!(get(port, "/nothing").unwrap().0, 404);

    let mut first = String::new();
    wait_for("a completed run", Duration::from_secs(20), || {
        first = get(port, "/metrics").unwrap().1;
        runs(&first, "completed") >= 1.0
    });
    let findings = "forewarn_findings_total{rule=\"quick-canaries\",severity=\"critical\"}";
    assert!(sample(&first, findings) >= 1.0, "{first}");
    assert!(
        first.contains("forewarn_run_duration_seconds_bucket{"),
        "{first}"
    );
    assert!(
        sample(
            &first,
            "forewarn_last_success_timestamp_seconds{job=\"quick\"}"
        ) > 1.7e9,
        "{first}"
    );
    assert!(
        first.contains("forewarn_skipped_ticks_total{job=\"quick\"} 0"),
        "{first}"
    );

    std::thread::sleep(Duration::from_secs(5));
    let second = get(port, "/metrics").unwrap().1;
    assert!(
        runs(&second, "completed") >= runs(&first, "completed") + 1.0,
        "runs keep being counted:\n{first}\n---\n{second}"
    );
    assert!(sample(&second, findings) > sample(&first, findings));
    // The same run as `forewarn run`: the finding was announced once, not once per run.
    let slack = fake.requests_to(SLACK_PATH).await;
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert!(
        slack[0].body.contains("no canary seen"),
        "{}",
        slack[0].body
    );
    assert!(sample(&second, "forewarn_notifications_total{outcome=\"sent\"}") >= 1.0);

    daemon.sigterm();
    let (code, log) = daemon.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("\"message\":\"run finished\""), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_run_makes_ticks_skip_and_sigterm_lets_it_finish() {
    let fake = Loopback::start();
    // The dead-man `/start` ping answers after 3 s: each run takes longer than the 2 s period.
    let slow = json!({"status": 200, "body": "OK", "delay_s": 3.0});
    fake.script(&format!("{DEADMAN}/start"), json!([]), slow)
        .await;
    let daemon = start(&fake, &["--shutdown-grace", "20s"]).await;
    let port = daemon.port;

    let mut metrics = String::new();
    wait_for("a skipped tick", Duration::from_secs(20), || {
        metrics = get(port, "/metrics").unwrap().1;
        sample(&metrics, "forewarn_skipped_ticks_total{job=\"quick\"}") >= 1.0
    });
    // Wait until a run is in flight (its `/start` was received, its answer still pending).
    let starts_before = fake.requests_to(&format!("{DEADMAN}/start")).await.len();
    let mut in_flight_since = Instant::now();
    for _ in 0..50 {
        let starts = fake.requests_to(&format!("{DEADMAN}/start")).await;
        if starts.len() > starts_before {
            in_flight_since = Instant::now();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let successes_before = fake.requests_to(DEADMAN).await.len();
    daemon.sigterm();
    let (code, log) = daemon.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    assert!(
        in_flight_since.elapsed() >= Duration::from_secs(2),
        "serve waited for the run in flight"
    );
    let shutting = log.find("shutting down").expect("the shutdown is logged");
    assert!(
        log[shutting..].contains("\"message\":\"run finished\""),
        "the run in flight finished after SIGTERM: {log}"
    );
    let successes = fake.requests_to(DEADMAN).await.len();
    assert_eq!(successes, successes_before + 1, "its success ping was sent");
    assert!(log.contains("tick skipped"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_over_its_budget_is_stopped_and_counted() {
    let fake = Loopback::start();
    let slow = json!({"status": 200, "body": "OK", "delay_s": 3.0});
    fake.script(&format!("{DEADMAN}/start"), json!([]), slow)
        .await;
    let daemon = start(&fake, &["--run-timeout", "1s"]).await;
    let port = daemon.port;
    let mut metrics = String::new();
    wait_for("a timed-out run", Duration::from_secs(20), || {
        metrics = get(port, "/metrics").unwrap().1;
        runs(&metrics, "timed_out") >= 1.0
    });
    assert_eq!(runs(&metrics, "completed"), 0.0, "{metrics}");
    daemon.sigterm();
    let (code, log) = daemon.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("exceeded its time budget"), "{log}");
}

fn lease_args(identity: &str) -> Vec<String> {
    [
        "--lease",
        "forewarn-serve",
        "--lease-namespace",
        "forewarn",
        "--identity",
        identity,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--lease-duration".to_string(), "3s".to_string()])
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_lease_holder_runs_jobs_and_a_replica_takes_over_when_it_stops_renewing() {
    let fake = Loopback::start();
    let kube = KubeApi::start();
    let kubeconfig = kube.kubeconfig_path();
    let env = [("KUBECONFIG", kubeconfig.as_path())];
    let args_a = lease_args("replica-a");
    let args_a: Vec<&str> = args_a.iter().map(String::as_str).collect();
    let a = start_with_env(&fake, &args_a, &env).await;
    wait_for("replica a runs", Duration::from_secs(20), || {
        runs(&get(a.port, "/metrics").unwrap().1, "completed") >= 1.0
    });
    let args_b = lease_args("replica-b");
    let args_b: Vec<&str> = args_b.iter().map(String::as_str).collect();
    let b = start_with_env(&fake, &args_b, &env).await;
    let a_before = runs(&get(a.port, "/metrics").unwrap().1, "completed");
    std::thread::sleep(Duration::from_secs(5));
    let b_metrics = get(b.port, "/metrics").unwrap().1;
    assert_eq!(runs(&b_metrics, "completed"), 0.0, "b waits: {b_metrics}");
    assert!(runs(&get(a.port, "/metrics").unwrap().1, "completed") > a_before);
    let lease = kube
        .object("Lease", "forewarn", "forewarn-serve")
        .expect("the lease exists");
    assert_eq!(lease["spec"]["holderIdentity"], "replica-a", "{lease}");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 3);

    // A dies without releasing: b takes over once the lease has not been renewed for 3 s.
    let mut a = a;
    a.child.kill().unwrap();
    let _ = a.child.wait();
    let killed = Instant::now();
    wait_for("replica b takes over", Duration::from_secs(20), || {
        runs(&get(b.port, "/metrics").unwrap().1, "completed") >= 1.0
    });
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "not before the lease lapsed"
    );
    let lease = kube.object("Lease", "forewarn", "forewarn-serve").unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "replica-b", "{lease}");
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");

    // A clean stop releases the lease.
    b.sigterm();
    let (code, log) = b.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("lease released"), "{log}");
    let lease = kube.object("Lease", "forewarn", "forewarn-serve").unwrap();
    assert!(
        lease["spec"]
            .get("holderIdentity")
            .is_none_or(|h| h.is_null()),
        "{lease}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_the_daily_report_job_and_sends_its_summary() {
    let fake = Loopback::start();
    let rules = rules_dir();
    let write = |name: &str, text: &str| std::fs::write(rules.path().join(name), text).unwrap();
    write(
        "jobs.yaml",
        "jobs:\n  - name: quick\n    schedule: \"0 0 0 1 1 *\"\n  - name: report\n    schedule: \"*/5 * * * * *\"\n    report: daily\n",
    );
    write(
        "notify.yaml",
        "receivers:\n  - name: slack\n    type: slack\n    config:\n      webhook_url_env: FW_TEST_SLACK_URL\nroutes:\n  - name: everything\n    receivers: [slack]\nreport:\n  receivers: [slack]\n",
    );
    let daemon = start_with_env(&fake, &[], &[("FOREWARN_RULES", rules.path())]).await;
    let port = daemon.port;
    let series = "forewarn_runs_total{job=\"report\",outcome=\"completed\"}";
    let mut metrics = String::new();
    wait_for("a completed report run", Duration::from_secs(40), || {
        metrics = get(port, "/metrics").unwrap().1;
        sample(&metrics, series) >= 1.0
    });
    let slack = fake.requests_to(SLACK_PATH).await;
    assert!(!slack.is_empty(), "{metrics}");
    let payload = slack[0].json();
    let header = payload["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(header.starts_with("forewarn daily report"), "{payload}");
    // An empty database: the report says which data is missing rather than all clear.
    let body = payload["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(body.contains("Missing data"), "{body}");
    assert!(body.contains("no canary beat"), "{body}");
    daemon.sigterm();
    let (code, log) = daemon.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("daily report"), "{log}");
}
