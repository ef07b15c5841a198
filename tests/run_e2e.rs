//! `forewarn run JOB` end to end, as a CronJob runs it: demo telemetry in the ClickHouse test
//! server (password-protected), loopback Slack / SMTP / Alertmanager / dead-man receivers that
//! record every request, and the state in forewarn's own ClickHouse database or in SQLite.
//! Each test drives the real binary and asserts what the receivers got and what the history
//! says. Every log line of every run is checked for secrets.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use forewarn::demo::model::Labels;
use forewarn::source::ClickHouseConfig;
use serde_json::{json, Value};
use support::loopback::{Loopback, Recorded};
use support::{forewarn_bin, TestServer};
use time::OffsetDateTime;

const PASSWORD: &str = "ch-pass-Zq81xK";
const SLACK_PATH: &str = "/slack/services/T0/B0/hook-secret-9f3a";
const DEADMAN_UUID: &str = "5f1a0c4e-0d6e-4b8e-9c57-deadbeef0001";
const END: &str = "2026-11-20T12:00:00Z";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// The password-protected server and the telemetry database, loaded once per test binary.
struct Telemetry {
    server: TestServer,
    database: String,
    data: tempfile::TempDir,
    labels: Labels,
}

fn telemetry() -> &'static Telemetry {
    static T: OnceLock<Telemetry> = OnceLock::new();
    T.get_or_init(|| {
        let server = TestServer::start(Some(PASSWORD));
        let data = tempfile::tempdir().unwrap();
        let out = Command::new(forewarn_bin())
            .args(["demo", "generate"])
            .arg(data.path())
            .args(["--seed", "5", "--hours", "8", "--end", END])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let database = "telemetry".to_string();
        // Inside a test's runtime: create the database from a thread with its own.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                tokio::runtime::Runtime::new().unwrap().block_on(async {
                    admin(&server)
                        .query_raw("CREATE DATABASE IF NOT EXISTS telemetry")
                        .execute()
                        .await
                        .unwrap();
                })
            });
        });
        let out = Command::new(forewarn_bin())
            .args(["demo", "load"])
            .arg(data.path())
            .args([
                "--clickhouse-url",
                &server.url(),
                "--clickhouse-database",
                &database,
            ])
            .env("FOREWARN_CLICKHOUSE_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let labels: Labels = serde_json::from_str(
            &std::fs::read_to_string(data.path().join("labels.json")).unwrap(),
        )
        .unwrap();
        Telemetry {
            server,
            database,
            data,
            labels,
        }
    })
}

fn admin(server: &TestServer) -> clickhouse::Client {
    let mut config = ClickHouseConfig::new(server.url());
    config.password = Some(PASSWORD.into());
    config.writable_client()
}

/// A memory leak of the demo, warned before its OOM kill: a time to run "during" it (20 min
/// before the kill), and one 40 min after the kill, when the restarted container has been quiet
/// for longer than the routes' `resolve_after` and too young to be judged a leak again.
fn leak_times(labels: &Labels) -> (OffsetDateTime, OffsetDateTime, String) {
    let leak = labels
        .incidents
        .iter()
        .filter(|i| i.kind == "memory_leak" && i.impact_at.is_some())
        .min_by_key(|i| i.impact_at)
        .expect("the demo has a memory leak");
    let impact = leak.impact_at.unwrap();
    let floor = |t: OffsetDateTime| {
        let s = t.unix_timestamp();
        OffsetDateTime::from_unix_timestamp(s - s.rem_euclid(300)).unwrap()
    };
    let during = floor(impact - time::Duration::minutes(20));
    let after = floor(impact + time::Duration::minutes(40));
    (during, after, leak.entity["pod"].clone())
}

fn rfc3339(t: OffsetDateTime) -> String {
    forewarn::window::timefmt::rfc3339(t)
}

/// Where a test's state lives.
#[derive(Clone)]
enum State {
    ClickHouse(String),
    Sqlite(PathBuf),
}

struct Harness {
    fake: Loopback,
    rules: tempfile::TempDir,
    state: State,
    clickhouse_url: String,
    logs: std::cell::RefCell<String>,
    _state_dir: tempfile::TempDir,
}

impl Harness {
    fn new(state: &str) -> Harness {
        let fake = Loopback::start();
        let rules = tempfile::tempdir().unwrap();
        for (file, contents) in forewarn::config::rules::EMBEDDED_RULES {
            let name = Path::new(file).file_name().unwrap();
            std::fs::write(rules.path().join(name), contents).unwrap();
        }
        let notify = format!(
            "receivers:
  - name: slack
    type: slack
    config:
      webhook_url_env: FW_TEST_SLACK_URL
      retry: {{max_attempts: 3, initial_backoff_ms: 50, max_backoff_ms: 200, max_total_wait_s: 5, request_timeout_s: 5}}
  - name: mail
    type: email
    config: {{smtp_host: 127.0.0.1, smtp_port: {smtp}, tls: none, from: forewarn@example.test, to: [oncall@example.test]}}
  - name: am
    type: alertmanager
    config: {{url: 'http://127.0.0.1:{http}/am'}}
routes:
  - name: everything
    receivers: [slack, mail, am]
group_by: [namespace, rule]
",
            smtp = fake.smtp_port,
            http = fake.http_port
        );
        std::fs::write(rules.path().join("notify.yaml"), notify).unwrap();
        let state_dir = tempfile::tempdir().unwrap();
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let state = match state {
            "sqlite" => State::Sqlite(state_dir.path().join("state.db")),
            _ => State::ClickHouse(format!(
                "forewarn_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )),
        };
        Harness {
            fake,
            rules,
            state,
            clickhouse_url: telemetry().server.url(),
            logs: Default::default(),
            _state_dir: state_dir,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let t = telemetry();
        let mut cmd = Command::new(forewarn_bin());
        cmd.args(args)
            .args(["--clickhouse-url", &self.clickhouse_url])
            .args(["--clickhouse-database", &t.database])
            .env("FOREWARN_CLICKHOUSE_PASSWORD", PASSWORD)
            .env("FOREWARN_RULES", self.rules.path())
            .env("FW_TEST_SLACK_URL", self.fake.url(SLACK_PATH))
            .env(
                "FOREWARN_DEADMAN_URL",
                self.fake.url(&format!("/ping/{DEADMAN_UUID}")),
            )
            .env("RUST_LOG", "debug")
            .env("USER", "tester");
        match &self.state {
            State::ClickHouse(db) => cmd.args(["--state-database", db]),
            State::Sqlite(path) => cmd.arg("--state").arg(path),
        };
        cmd
    }

    /// Runs a command, keeping its log lines for the secret check.
    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        self.logs.borrow_mut().push_str(&text(&out.stderr));
        out
    }

    fn run_job(&self, at: OffsetDateTime) -> Output {
        self.run(&["run", "frequent", "--at", &rfc3339(at)])
    }

    async fn slack(&self) -> Vec<Recorded> {
        self.fake.requests_to(SLACK_PATH).await
    }

    /// No secret in any log line of any run of this harness.
    fn assert_no_secrets(&self) {
        let logs = self.logs.borrow();
        assert!(!logs.is_empty(), "no log lines captured");
        for secret in [PASSWORD, "hook-secret-9f3a", DEADMAN_UUID] {
            assert!(
                !logs.contains(secret),
                "a secret ({secret}) appears in the logs:\n{}",
                logs.lines()
                    .filter(|l| l.contains(secret))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

fn summary_line(out: &Output) -> String {
    text(&out.stdout)
        .lines()
        .rfind(|l| l.starts_with("run frequent"))
        .unwrap_or_else(|| {
            panic!(
                "no summary line: {}\n{}",
                text(&out.stdout),
                text(&out.stderr)
            )
        })
        .to_string()
}

fn slack_text(request: &Recorded) -> String {
    request.json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The whole loop on one store: announce once, stay quiet on a repeat, announce the
/// resolution, and the history shows it all.
async fn announce_once_then_resolve(state: &str) {
    let t = telemetry();
    let h = Harness::new(state);
    let (during, after, pod) = leak_times(&t.labels);

    let first = h.run_job(during);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let line = summary_line(&first);
    assert!(line.contains("completed"), "{line}");
    let slack = h.slack().await;
    assert!(!slack.is_empty(), "the first run announced nothing: {line}");
    let leak_message = slack
        .iter()
        .find(|r| r.body.contains(&pod))
        .unwrap_or_else(|| panic!("no Slack message names the leaking pod {pod}"));
    assert!(leak_message.json()["blocks"]
        .as_array()
        .is_some_and(|b| !b.is_empty()));
    let mails = h.fake.mails().await;
    assert_eq!(mails.len(), slack.len(), "one mail per Slack message");
    assert!(mails
        .iter()
        .any(|m| m.data.contains("multipart/alternative")));
    let alerts = h.fake.requests_to("/am/api/v2/alerts").await;
    assert_eq!(alerts.len(), slack.len());
    let fingerprint = alerts
        .iter()
        .flat_map(|r| r.json().as_array().cloned().unwrap_or_default())
        .find(|a| {
            a["labels"]["pod"] == pod.as_str() && a["labels"]["alertname"] == "memory-pressure"
        })
        .map(|a| a["labels"]["fingerprint"].as_str().unwrap().to_string())
        .expect("an Alertmanager alert for the leaking pod");
    // The dead-man heard start and success, paired by the run id.
    let pings = h.fake.requests().await;
    let ping_path = format!("/ping/{DEADMAN_UUID}");
    let start = pings
        .iter()
        .find(|r| r.path == format!("{ping_path}/start"))
        .expect("a /start ping");
    let success = pings
        .iter()
        .find(|r| r.path == ping_path)
        .expect("a success ping");
    assert!(start.query.starts_with("rid=") && start.query == success.query);

    // The same time again: nothing new is announced.
    let again = h.run_job(during);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let line = summary_line(&again);
    assert!(line.contains(" 0 new"), "{line}");
    assert_eq!(
        h.slack().await.len(),
        slack.len(),
        "the repeat run announced again"
    );

    // After the leak is over: its resolution is announced.
    let later = h.run_job(after);
    assert_eq!(later.status.code(), Some(0), "{}", text(&later.stderr));
    let line = summary_line(&later);
    let resolved_slack: Vec<_> = h.slack().await.into_iter().skip(slack.len()).collect();
    assert!(
        resolved_slack
            .iter()
            .any(|r| r.body.contains(&pod) && slack_text(r).contains("resolved")),
        "no resolution of {pod} announced ({line}): {:?}",
        resolved_slack.iter().map(slack_text).collect::<Vec<_>>()
    );
    let am_resolution = h
        .fake
        .requests_to("/am/api/v2/alerts")
        .await
        .into_iter()
        .skip(alerts.len())
        .flat_map(|r| r.json().as_array().cloned().unwrap_or_default())
        .find(|a| a["labels"]["fingerprint"] == fingerprint.as_str())
        .expect("Alertmanager hears the resolution");
    let ends_at = OffsetDateTime::parse(
        am_resolution["endsAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(ends_at <= OffsetDateTime::now_utc() + time::Duration::seconds(5));

    // `forewarn history` tells the episode's story.
    let history = h.run(&["history", &fingerprint]);
    assert_eq!(history.status.code(), Some(0), "{}", text(&history.stderr));
    let story = text(&history.stdout);
    for kind in ["episode_opened", "episode_resolved"] {
        assert!(story.contains(kind), "{kind} missing from:\n{story}");
    }
    // With ClickHouse, forewarn's own database holds it, beside the telemetry.
    if let State::ClickHouse(db) = &h.state {
        let kinds = admin(&t.server)
            .query_raw(&format!(
                "SELECT kind FROM `{db}`.history ORDER BY seq FORMAT TabSeparated"
            ))
            .fetch_bytes("TabSeparated")
            .unwrap()
            .collect()
            .await
            .unwrap();
        let kinds = text(&kinds);
        for kind in [
            "run_started",
            "episode_opened",
            "notification_queued",
            "notification_delivered",
            "episode_resolved",
            "run_finished",
        ] {
            assert!(kinds.contains(kind), "{kind} not in {db}.history:\n{kinds}");
        }
    }
    h.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn run_announces_once_and_resolves_with_clickhouse_state() {
    announce_once_then_resolve("clickhouse").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn run_announces_once_and_resolves_with_sqlite_state() {
    announce_once_then_resolve("sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_429_then_200_is_delivered_once() {
    let h = Harness::new("sqlite");
    let (during, _, _) = leak_times(&telemetry().labels);
    h.fake
        .script(
            SLACK_PATH,
            json!([{"status": 429, "headers": {"Retry-After": "1"}, "body": "rate_limited"}]),
            json!({"status": 200, "body": "ok"}),
        )
        .await;
    let out = h.run_job(during);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let slack = h.slack().await;
    let mails = h.fake.mails().await.len();
    // One message per mail; Slack saw each once, plus the one answered 429.
    assert!(mails > 0);
    assert_eq!(slack.len(), mails + 1, "{}", summary_line(&out));
    assert_eq!(
        slack[0].body, slack[1].body,
        "the 429'd message is sent again"
    );
    assert!(summary_line(&out).contains("0 queued for retry"));
    h.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_down_for_a_whole_run_is_delivered_on_the_next_run_once() {
    let h = Harness::new("sqlite");
    let (during, _, _) = leak_times(&telemetry().labels);
    h.fake
        .script(
            SLACK_PATH,
            json!([]),
            json!({"status": 503, "body": "down"}),
        )
        .await;
    let out = h.run_job(during);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let messages = h.fake.mails().await.len();
    assert!(messages > 0);
    let line = summary_line(&out);
    assert!(
        line.contains(&format!("{messages} queued for retry")),
        "{line}"
    );
    let failed_bodies: std::collections::BTreeSet<String> =
        h.slack().await.into_iter().map(|r| r.body).collect();
    assert_eq!(failed_bodies.len(), messages);

    // Slack is back: the next run sends the outbox, each message once.
    h.fake
        .script(SLACK_PATH, json!([]), json!({"status": 200, "body": "ok"}))
        .await;
    let before = h.slack().await.len();
    let next = h.run_job(during + time::Duration::minutes(5));
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    let delivered: Vec<String> = h
        .slack()
        .await
        .into_iter()
        .skip(before)
        .map(|r| r.body)
        .collect();
    for body in &failed_bodies {
        assert_eq!(
            delivered.iter().filter(|b| *b == body).count(),
            1,
            "a queued message was not delivered exactly once"
        );
    }
    // And a third run sends none of them again.
    let before = h.slack().await.len();
    let third = h.run_job(during + time::Duration::minutes(10));
    assert_eq!(third.status.code(), Some(0));
    let resent = h
        .slack()
        .await
        .into_iter()
        .skip(before)
        .filter(|r| failed_bodies.contains(&r.body))
        .count();
    assert_eq!(resent, 0);
    h.assert_no_secrets();
}

/// A receiver that refuses the message for good (Slack 400) is not asked again run after run:
/// the run says so and fails (exit 1, so the dead-man and the CronJob show it), the history
/// keeps the refusal, and the next run — Slack healthy again — does not resend it. (Its
/// control is the 503 test above: a receiver that is down gets the message on the next run.)
#[tokio::test(flavor = "multi_thread")]
async fn slack_400_is_recorded_as_rejected_and_never_resent() {
    let h = Harness::new("sqlite");
    let (during, _, _) = leak_times(&telemetry().labels);
    h.fake
        .script(
            SLACK_PATH,
            json!([]),
            json!({"status": 400, "body": "invalid_blocks"}),
        )
        .await;
    let out = h.run_job(during);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let messages = h.fake.mails().await.len();
    assert!(messages > 0);
    let line = summary_line(&out);
    assert!(
        line.contains("0 queued for retry")
            && line.contains(&format!("{messages} REJECTED by the receiver")),
        "{line}"
    );
    let rejected: std::collections::BTreeSet<String> =
        h.slack().await.into_iter().map(|r| r.body).collect();
    assert_eq!(rejected.len(), messages, "each message was tried once");

    let findings = h.run(&["findings", "--output", "jsonl"]);
    let fingerprint = text(&findings.stdout)
        .lines()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|f| f["fingerprint"].as_str().map(str::to_string))
        .expect("an open finding");
    let history = h.run(&["history", &fingerprint]);
    let story = text(&history.stdout);
    assert!(
        story.contains("notification_rejected") && story.contains("invalid_blocks"),
        "the refusal is in the history:\n{story}"
    );

    h.fake
        .script(SLACK_PATH, json!([]), json!({"status": 200, "body": "ok"}))
        .await;
    let before = h.slack().await.len();
    let next = h.run_job(during + time::Duration::minutes(5));
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    let resent = h
        .slack()
        .await
        .into_iter()
        .skip(before)
        .filter(|r| rejected.contains(&r.body))
        .count();
    assert_eq!(resent, 0, "a rejected message was sent again");
    h.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn clickhouse_unreachable_is_announced_blind_once_and_resolved() {
    let mut h = Harness::new("sqlite");
    let (during, _, _) = leak_times(&telemetry().labels);
    // Nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let real = std::mem::replace(&mut h.clickhouse_url, dead);

    let first = h.run_job(during);
    assert_eq!(first.status.code(), Some(1), "a blind run must not succeed");
    assert!(
        summary_line(&first).contains("monitor blind"),
        "{}",
        summary_line(&first)
    );
    let fails = h
        .fake
        .requests_to(&format!("/ping/{DEADMAN_UUID}/fail"))
        .await;
    assert_eq!(fails.len(), 1);
    assert!(fails[0].body.contains("ClickHouse"), "{}", fails[0].body);
    let blind: Vec<_> = h
        .slack()
        .await
        .into_iter()
        .filter(|r| r.body.contains("cannot read its source"))
        .collect();
    assert_eq!(blind.len(), 1, "monitor blind announced once");

    let second = h.run_job(during + time::Duration::minutes(5));
    assert_eq!(second.status.code(), Some(1));
    let blind_again = h
        .slack()
        .await
        .into_iter()
        .filter(|r| r.body.contains("cannot read its source"))
        .count();
    assert_eq!(
        blind_again, 1,
        "a second failing run repeats the announcement"
    );

    h.clickhouse_url = real;
    let back = h.run_job(during + time::Duration::minutes(10));
    assert_eq!(back.status.code(), Some(0), "{}", text(&back.stderr));
    assert!(
        h.slack()
            .await
            .iter()
            .any(|r| r.body.contains("reads its source") && slack_text(r).contains("resolved")),
        "the end of blindness is announced"
    );
    h.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_racing_runs_one_notifies() {
    let h = Harness::new("clickhouse");
    let (during, _, _) = leak_times(&telemetry().labels);
    let at = rfc3339(during);
    let spawn = || {
        h.command(&["run", "frequent", "--at", &at])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    h.logs
        .borrow_mut()
        .push_str(&(text(&a.stderr) + &text(&b.stderr)));
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b.stderr));
    let skipped = [&a, &b]
        .iter()
        .filter(|o| summary_line(o).contains("skipped"))
        .count();
    assert_eq!(skipped, 1, "{}\n{}", summary_line(&a), summary_line(&b));
    let slack = h.slack().await;
    let bodies: std::collections::BTreeSet<_> = slack.iter().map(|r| r.body.clone()).collect();
    assert!(!slack.is_empty());
    assert_eq!(bodies.len(), slack.len(), "a message was sent twice");
    h.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silenced_finding_is_recorded_but_not_announced() {
    let h = Harness::new("sqlite");
    let t = telemetry();
    let (during, _, pod) = leak_times(&t.labels);
    let namespace = t
        .labels
        .incidents
        .iter()
        .find(|i| i.entity.get("pod") == Some(&pod))
        .and_then(|i| i.entity.get("namespace").cloned())
        .unwrap();
    let add = h.run(&[
        "silence",
        "add",
        "--match",
        &format!("pod={pod}"),
        "--for",
        "1000d",
        "--start",
        &rfc3339(during - time::Duration::hours(1)),
        "--comment",
        "known leak, fix deploying",
    ]);
    assert_eq!(add.status.code(), Some(0), "{}", text(&add.stderr));
    let list = h.run(&["silence", "list"]);
    assert!(
        text(&list.stdout).contains("known leak"),
        "{}",
        text(&list.stdout)
    );

    let out = h.run_job(during);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = summary_line(&out);
    assert!(!line.contains(" 0 silenced"), "{line}");
    // Positive control: other findings are still announced; the silenced pod is not.
    let slack = h.slack().await;
    assert!(!slack.is_empty(), "nothing announced at all: {line}");
    assert!(
        !slack.iter().any(|r| r.body.contains(&pod)),
        "the silenced pod {pod} (namespace {namespace}) was announced"
    );
    // The open episodes show it silenced.
    let findings = h.run(&["findings", "--output", "jsonl"]);
    let silenced: Vec<Value> = text(&findings.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["entity"]["pod"] == pod.as_str())
        .collect();
    assert!(!silenced.is_empty(), "{}", text(&findings.stdout));
    assert!(silenced.iter().all(|e| e["silenced_by"].is_string()));
    h.assert_no_secrets();
    let _ = &t.data;
}
