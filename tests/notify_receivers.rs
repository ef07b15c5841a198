//! Each notification receiver and the dead-man pinger against loopback fakes that speak the real
//! protocols (HTTP for Slack, Alertmanager, webhooks and healthchecks; aiosmtpd for SMTP),
//! asserting the exact requests that arrived — and that no secret reaches the log output.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use forewarn::act::notify::config::{AlertmanagerConfig, EmailConfig, SlackConfig, WebhookConfig};
use forewarn::act::notify::email::TlsMode;
use forewarn::act::notify::slack;
use forewarn::act::notify::{
    AnyReceiver, Change, DeadmanPinger, Notification, NotificationItem, Receiver, ReceiverConfig,
    RetryPolicy, Secret,
};
use forewarn::findings::{Evidence, Finding, FindingWindow, Severity, Signal, Status};
use hmac::{Hmac, Mac};
use mail_parser::MimeHeaders;
use serde_json::Value;
use sha2::Sha256;
use support::loopback::Loopback;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::OffsetDateTime;

const SLACK_PATH: &str = "/slack/services/T0FOREWARN/B0FOREWARN/slack-token-SECRET-4f1c";
const WEBHOOK_PATH: &str = "/hooks/forewarn-hook-SECRET-9a7e";
const HMAC_SECRET: &str = "hmac-key-SECRET-77d1";
const SMTP_PASSWORD: &str = "smtp-password-SECRET-31b0";
const DEADMAN_UUID: &str = "5b3c9f0e-0d1a-4e6b-9c1e-deadmanSECRET";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff_ms: 50,
        max_backoff_ms: 100,
        max_total_wait_s: 3.0,
        request_timeout_s: 5.0,
    }
}

fn memory_finding(namespace: &str, pod: &str, severity: Severity) -> Finding {
    let entity = BTreeMap::from([
        ("cluster".to_string(), "prod-eu".to_string()),
        ("namespace".to_string(), namespace.to_string()),
        ("pod".to_string(), pod.to_string()),
        ("container".to_string(), "app".to_string()),
        (
            "workload".to_string(),
            format!("Deployment/{namespace}-api"),
        ),
    ]);
    Finding::new(
        "memory-pressure",
        Signal::MemoryPressure,
        severity,
        Status::Firing,
        entity,
        datetime!(2026-11-23 12:00 UTC),
        FindingWindow {
            from: datetime!(2026-11-23 06:00 UTC),
            to: datetime!(2026-11-23 12:00 UTC),
        },
        format!("{pod}/app working set will reach its limit in 42 min"),
        Evidence::new()
            .num("working_set_bytes", 1_932_735_283.0)
            .num("limit_bytes", 2_147_483_648.0)
            .num("time_to_limit_s", 2520.0)
            .num("trend_r2", 0.97)
            .build(),
        Some("https://runbooks.example/memory-pressure".into()),
    )
}

fn item(change: Change, finding: Finding) -> NotificationItem {
    NotificationItem::new(change, finding, datetime!(2026-11-23 10:15 UTC))
}

fn two_item_notification() -> Notification {
    Notification::new(
        "k-7c1e2f",
        "shop-critical",
        "team-slack",
        "forewarn: shop",
        vec![
            item(
                Change::New,
                memory_finding("shop", "cart-1", Severity::Critical),
            ),
            item(
                Change::Resolved,
                memory_finding("shop", "cart-2", Severity::Warning),
            ),
        ],
    )
}

/// 120 findings over 6 rules and 20 namespaces.
fn storm_notification() -> Notification {
    let mut items = Vec::new();
    for i in 0..120 {
        let mut finding = memory_finding(
            &format!("ns-{}", i % 20),
            &format!("pod-{i}"),
            Severity::Warning,
        );
        finding.rule = format!("rule-{}", i % 6);
        items.push(item(Change::New, finding));
    }
    Notification::new("k-storm", "all", "team-slack", "forewarn: storm", items)
}

fn build(config: ReceiverConfig, env: &[(&str, String)]) -> AnyReceiver {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    config
        .build_with("receiver-under-test", |name| env.get(name).cloned())
        .unwrap_or_else(|e| panic!("building the receiver: {e}"))
}

fn slack_receiver(fake: &Loopback) -> AnyReceiver {
    build(
        ReceiverConfig::Slack(SlackConfig {
            webhook_url_env: "TEST_SLACK_URL".into(),
            retry: fast_retry(),
        }),
        &[("TEST_SLACK_URL", fake.url(SLACK_PATH))],
    )
}

/// Every tracing event of this test binary (trace and up), in a buffer the tests read back.
/// Global rather than per test: tracing caches callsite interest process-wide, so a
/// thread-local subscriber misses events whose callsite another test hit first. Every test
/// calls this first, so the secret check covers what all of them logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture_logs() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

#[tokio::test]
async fn slack_blocks_say_what_where_how_sure_since_runbook_and_dig_query() {
    capture_logs();
    let fake = Loopback::start();
    let delivered = slack_receiver(&fake)
        .send(&two_item_notification())
        .await
        .expect("delivered");
    assert_eq!((delivered.kind, delivered.attempts), ("slack", 1));
    assert_eq!(delivered.response, "HTTP 200");

    let requests = fake.requests().await;
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", SLACK_PATH)
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(
        body["text"],
        "forewarn: shop: 2 findings (1 new, 1 resolved)"
    );
    let blocks = body["blocks"].as_array().expect("blocks");
    slack::check_limits(blocks).expect("within Block Kit limits");
    assert_eq!(blocks.len(), 2 + 2 * 2);
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "forewarn: shop");
    assert_eq!(blocks[1]["type"], "context");

    let first = blocks[2]["text"]["text"].as_str().unwrap();
    assert!(
        first.starts_with("*NEW · critical · memory-pressure*\ncart-1/app working set"),
        "{first}"
    );
    assert!(first.contains("*Where:* cluster=prod-eu container=app namespace=shop pod=cart-1 workload=Deployment/shop-api"), "{first}");
    assert!(
        first.contains("working_set_bytes=1932735283 (1.80 GiB)"),
        "{first}"
    );
    assert!(first.contains("time_to_limit_s=2520 (42 min)"), "{first}");
    assert!(first.contains("*Since:* 2026-11-23T10:15:00Z"), "{first}");
    assert!(
        first.contains("*Runbook:* <https://runbooks.example/memory-pressure|"),
        "{first}"
    );
    let dig = blocks[3]["text"]["text"].as_str().unwrap();
    assert!(
        dig.starts_with("*Dig in* (ClickHouse):\n```SELECT"),
        "{dig}"
    );
    assert!(dig.ends_with("```"), "{dig}");
    assert!(
        dig.contains("ResourceAttributes['k8s.pod.name'] = 'cart-1'"),
        "{dig}"
    );
    // `<` in the SQL is escaped for mrkdwn (Slack shows it as `<`).
    assert!(
        dig.contains("TimeUnix &lt; toDateTime64('2026-11-23 12:00:00.000000000', 9, 'UTC')"),
        "{dig}"
    );
    let second = blocks[4]["text"]["text"].as_str().unwrap();
    assert!(
        second.starts_with("*RESOLVED · warning · memory-pressure*"),
        "{second}"
    );
}

#[tokio::test]
async fn slack_120_findings_are_summarised_within_block_kit_limits() {
    capture_logs();
    let fake = Loopback::start();
    let storm = storm_notification();
    slack_receiver(&fake).send(&storm).await.expect("delivered");
    let requests = fake.requests_to(SLACK_PATH).await;
    assert_eq!(requests.len(), 1);
    let body = requests[0].json();
    let blocks = body["blocks"].as_array().expect("blocks, not text only");
    slack::check_limits(blocks).expect("within limits");
    assert!(blocks.len() <= slack::MAX_BLOCKS);
    let all_text: String = blocks
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(all_text.contains("*120 findings*"), "{all_text}");
    // 120 findings over 6 rules × 20 namespaces fall into 60 (rule, namespace) groups.
    assert!(
        all_text.contains("• rule-0 in ns-0: 2, up to warning"),
        "{all_text}"
    );
    assert_eq!(all_text.matches("• rule-").count(), 60, "{all_text}");

    // Positive control: a storm too big for 50 sections is cut and counted, still valid.
    let huge_items = (0..2000)
        .map(|i| {
            let mut finding = memory_finding("shop", &format!("pod-{i}"), Severity::Warning);
            finding.rule = format!("a-rather-long-rule-name-{i:04}-{}", "x".repeat(60));
            item(Change::New, finding)
        })
        .collect();
    let huge =
        Notification::new("k-huge", "all", "team-slack", "forewarn: huge", huge_items).into_storm();
    let payload = slack::payload(&huge);
    let blocks = payload["blocks"].as_array().expect("blocks");
    slack::check_limits(blocks).expect("within limits");
    assert_eq!(blocks.len(), slack::MAX_BLOCKS);
    let last = blocks.last().unwrap()["text"]["text"].as_str().unwrap();
    assert!(
        last.starts_with("…and ") && last.ends_with(" more groups."),
        "{last}"
    );
    // And the detailed form, when it fits, is chosen for 24 items but not 25.
    let fits = Notification {
        items: storm.items[..24].to_vec(),
        ..storm.clone()
    };
    assert_eq!(slack::blocks(&fits).len(), 50);
    let over = Notification {
        items: storm.items[..25].to_vec(),
        ..storm.clone()
    };
    assert!(slack::blocks(&over).iter().any(|b| b["text"]["text"]
        .as_str()
        .unwrap_or("")
        .contains("*25 findings*")));
}

#[tokio::test]
async fn slack_429_then_200_is_delivered_once_after_retry_after() {
    capture_logs();
    let fake = Loopback::start();
    fake.script(
        SLACK_PATH,
        serde_json::json!([{"status": 429, "headers": {"Retry-After": "1"}, "body": "rate_limited"}]),
        serde_json::json!({"status": 200, "body": "ok"}),
    )
    .await;
    let started = Instant::now();
    let delivered = slack_receiver(&fake)
        .send(&two_item_notification())
        .await
        .expect("delivered after the 429");
    let elapsed = started.elapsed();
    assert_eq!(delivered.attempts, 2);
    let requests = fake.requests_to(SLACK_PATH).await;
    assert_eq!(requests.len(), 2, "exactly one retry");
    assert_eq!(requests[0].body, requests[1].body, "the same message again");
    let gap = requests[1].received_at - requests[0].received_at;
    assert!(gap >= 0.95, "Retry-After: 1 honoured, gap {gap:.3} s");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn slack_failing_for_good_or_for_now_is_told_apart() {
    capture_logs();
    let fake = Loopback::start();
    let receiver = slack_receiver(&fake);

    // Down: 500 for ever → a retryable error after max_attempts requests, bounded in time.
    fake.script(
        SLACK_PATH,
        serde_json::json!([]),
        serde_json::json!({"status": 500, "body": "boom"}),
    )
    .await;
    let started = Instant::now();
    let error = receiver
        .send(&two_item_notification())
        .await
        .expect_err("down");
    assert!(error.is_retryable(), "{error}");
    assert_eq!(fake.requests_to(SLACK_PATH).await.len(), 3);
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = error.detail();
    assert!(
        text.starts_with("receiver receiver-under-test: slack unavailable after 3 attempt(s)"),
        "{text}"
    );
    assert!(text.contains("HTTP 500: boom"), "{text}");

    // Rate limited beyond the wait budget: gives up at once, still retryable.
    let fake = Loopback::start();
    let receiver = slack_receiver(&fake);
    fake.script(
        SLACK_PATH,
        serde_json::json!([]),
        serde_json::json!({"status": 429, "headers": {"Retry-After": "120"}, "body": "rate_limited"}),
    )
    .await;
    let started = Instant::now();
    let error = receiver
        .send(&two_item_notification())
        .await
        .expect_err("limited");
    assert!(error.is_retryable(), "{error}");
    assert!(
        error
            .to_string()
            .contains("Retry-After 120 s is beyond the wait left"),
        "{error}"
    );
    assert_eq!(fake.requests_to(SLACK_PATH).await.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));

    // Refused (400 invalid_blocks): permanent, one request, not retried.
    fake.script(
        SLACK_PATH,
        serde_json::json!([]),
        serde_json::json!({"status": 400, "body": "invalid_blocks"}),
    )
    .await;
    let error = receiver
        .send(&two_item_notification())
        .await
        .expect_err("refused");
    assert!(!error.is_retryable(), "{error}");
    assert!(
        error.to_string().contains("HTTP 400: invalid_blocks"),
        "{error}"
    );
    assert_eq!(fake.requests_to(SLACK_PATH).await.len(), 2);
}

#[tokio::test]
async fn email_arrives_as_multipart_alternative_with_auth() {
    capture_logs();
    let fake = Loopback::with_smtp_login("forewarn", SMTP_PASSWORD);
    let config = EmailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: Some(fake.smtp_port),
        tls: TlsMode::None,
        username_env: Some("TEST_SMTP_USER".into()),
        password_env: Some("TEST_SMTP_PASSWORD".into()),
        ca_file: None,
        from: "forewarn <forewarn@example.org>".into(),
        to: vec!["oncall@example.org".into(), "shop-team@example.org".into()],
        timeout_s: 10.0,
    };
    let env = [
        ("TEST_SMTP_USER", "forewarn".to_string()),
        ("TEST_SMTP_PASSWORD", SMTP_PASSWORD.to_string()),
    ];
    let receiver = build(ReceiverConfig::Email(config.clone()), &env);
    let delivered = receiver.send(&two_item_notification()).await.expect("sent");
    assert_eq!(delivered.kind, "email");
    assert!(
        delivered.response.starts_with("SMTP 250"),
        "{}",
        delivered.response
    );

    let mails = fake.mails().await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.login.as_deref(), Some("forewarn"));
    assert_eq!(mail.server, "plain");
    assert_eq!(mail.mail_from, "forewarn@example.org");
    assert_eq!(
        mail.rcpt_tos,
        ["oncall@example.org", "shop-team@example.org"]
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(mail.data.as_bytes())
        .expect("an RFC 5322 message");
    let content_type = parsed.content_type().expect("content type");
    assert_eq!(content_type.ctype(), "multipart");
    assert_eq!(content_type.subtype(), Some("alternative"));
    assert_eq!(parsed.message_id(), Some("k-7c1e2f@forewarn"));
    assert_eq!(
        parsed.subject(),
        Some("forewarn: shop: 2 findings (1 new, 1 resolved)")
    );
    assert_eq!(parsed.text_body.len(), 1);
    assert_eq!(parsed.html_body.len(), 1);
    let text = parsed.body_text(0).expect("text part");
    assert!(text.contains("NEW · critical · memory-pressure"), "{text}");
    assert!(
        text.contains("Where:    cluster=prod-eu container=app namespace=shop pod=cart-1"),
        "{text}"
    );
    assert!(
        text.contains("Runbook:  https://runbooks.example/memory-pressure"),
        "{text}"
    );
    assert!(text.contains("    FROM `otel_metrics_gauge`"), "{text}");
    let html = parsed.body_html(0).expect("html part");
    assert!(
        html.contains("<h3>RESOLVED · warning · memory-pressure</h3>"),
        "{html}"
    );
    assert!(
        html.contains("<pre>SELECT toStartOfMinute(TimeUnix)"),
        "{html}"
    );
    assert!(html.contains("TimeUnix &lt; toDateTime64("), "{html}");
    assert!(!mail.data.contains(SMTP_PASSWORD));

    // Positive control for AUTH: a wrong password is refused for good (535), and the error
    // does not carry the password either.
    let wrong = [
        ("TEST_SMTP_USER", "forewarn".to_string()),
        ("TEST_SMTP_PASSWORD", "wrong-SECRET-password".to_string()),
    ];
    let error = build(ReceiverConfig::Email(config), &wrong)
        .send(&two_item_notification())
        .await
        .expect_err("refused");
    assert!(!error.is_retryable(), "{}", error.detail());
    assert!(
        !error.detail().contains("wrong-SECRET-password"),
        "{}",
        error.detail()
    );
    assert_eq!(fake.mails().await.len(), 1);
}

#[tokio::test]
async fn alertmanager_gets_v2_alerts_that_outlive_the_next_run_and_resolve_now() {
    capture_logs();
    let fake = Loopback::start();
    let receiver = build(
        ReceiverConfig::Alertmanager(AlertmanagerConfig {
            url: Some(fake.url("/am/")),
            url_env: None,
            resend_validity_s: 600,
            generator_url: Some("https://forewarn.example/report".into()),
            retry: fast_retry(),
        }),
        &[],
    );
    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    receiver
        .send(&two_item_notification())
        .await
        .expect("posted");
    let after = OffsetDateTime::now_utc();

    let requests = fake.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/am/api/v2/alerts")
    );
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    let alerts = requests[0].json();
    let alerts = alerts.as_array().expect("a JSON array");
    assert_eq!(alerts.len(), 2);

    let firing = &alerts[0];
    let expected_id = memory_finding("shop", "cart-1", Severity::Critical).id;
    assert_eq!(
        firing["labels"],
        serde_json::json!({
            "alertname": "memory-pressure", "signal": "memory_pressure", "severity": "critical",
            "cluster": "prod-eu", "namespace": "shop", "pod": "cart-1", "container": "app",
            "workload": "Deployment/shop-api", "fingerprint": expected_id,
        })
    );
    assert_eq!(
        firing["annotations"]["summary"],
        "cart-1/app working set will reach its limit in 42 min"
    );
    assert_eq!(
        firing["annotations"]["runbook_url"],
        "https://runbooks.example/memory-pressure"
    );
    assert_eq!(firing["annotations"]["change"], "new");
    assert!(firing["annotations"]["dig_query"]
        .as_str()
        .unwrap()
        .contains("'cart-1'"));
    assert_eq!(firing["startsAt"], "2026-11-23T10:15:00Z");
    assert_eq!(
        firing["generatorURL"],
        format!("https://forewarn.example/report?finding={expected_id}")
    );
    let time = |v: &Value| OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap();
    let ends = time(&firing["endsAt"]);
    assert!(
        ends >= before + Duration::from_secs(600) && ends <= after + Duration::from_secs(600),
        "{ends}"
    );

    let resolved = &alerts[1];
    assert_eq!(resolved["labels"]["pod"], "cart-2");
    assert_eq!(resolved["annotations"]["change"], "resolved");
    let ends = time(&resolved["endsAt"]);
    assert!(
        ends >= before && ends <= after,
        "resolution ends now: {ends}"
    );
}

#[tokio::test]
async fn webhook_sends_the_findings_contract_signed_with_hmac() {
    capture_logs();
    let fake = Loopback::start();
    let signed = build(
        ReceiverConfig::Webhook(WebhookConfig {
            url_env: "TEST_HOOK_URL".into(),
            secret_env: Some("TEST_HOOK_SECRET".into()),
            retry: fast_retry(),
        }),
        &[
            ("TEST_HOOK_URL", fake.url(WEBHOOK_PATH)),
            ("TEST_HOOK_SECRET", HMAC_SECRET.to_string()),
        ],
    );
    let notification = two_item_notification();
    signed.send(&notification).await.expect("posted");

    let requests = fake.requests_to(WEBHOOK_PATH).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-forewarn-key"), Some("k-7c1e2f"));
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_SECRET.as_bytes()).unwrap();
    mac.update(request.body.as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        request.header("x-forewarn-signature"),
        Some(expected.as_str())
    );

    let body = request.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["key"], "k-7c1e2f");
    assert_eq!(body["route"], "shop-critical");
    assert_eq!(body["receiver"], "team-slack");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["change"], "new");
    assert_eq!(items[1]["change"], "resolved");
    assert_eq!(items[0]["first_seen_at"], "2026-11-23T10:15:00Z");
    assert_eq!(items[0]["dig_query"], notification.items[0].dig_query);
    // The finding is the contract itself: it parses back into the same Finding.
    let finding: Finding = serde_json::from_value(items[0]["finding"].clone()).unwrap();
    assert_eq!(finding, notification.items[0].finding);

    // Positive control: a tampered body would not verify, and without a secret no header.
    let mut mac = Hmac::<Sha256>::new_from_slice(HMAC_SECRET.as_bytes()).unwrap();
    mac.update(request.body.replace("cart-1", "cart-9").as_bytes());
    assert_ne!(
        format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        expected
    );
    let unsigned = build(
        ReceiverConfig::Webhook(WebhookConfig {
            url_env: "TEST_HOOK_URL".into(),
            secret_env: None,
            retry: fast_retry(),
        }),
        &[("TEST_HOOK_URL", fake.url(WEBHOOK_PATH))],
    );
    unsigned.send(&notification).await.expect("posted");
    let requests = fake.requests_to(WEBHOOK_PATH).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("x-forewarn-signature"), None);
    assert_eq!(requests[1].body, requests[0].body);
}

#[tokio::test]
async fn deadman_pings_start_success_and_fail_with_the_run_id() {
    capture_logs();
    let fake = Loopback::start();
    let base = format!("/ping/{DEADMAN_UUID}");
    let pinger = DeadmanPinger::new(Secret::new(fake.url(&base))).expect("pinger");
    let run_id = DeadmanPinger::new_run_id();
    assert!(pinger.start(&run_id).await);
    assert!(pinger.success(&run_id).await);
    let error_text = format!("source unreachable: {}", "é".repeat(6_000));
    assert!(pinger.fail(&run_id, &error_text).await);

    let requests = fake.requests().await;
    let seen: Vec<(&str, &str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.query.as_str()))
        .collect();
    let rid = format!("rid={run_id}");
    assert_eq!(
        seen,
        [
            ("GET", format!("{base}/start").as_str(), rid.as_str()),
            ("GET", base.as_str(), rid.as_str()),
            ("POST", format!("{base}/fail").as_str(), rid.as_str()),
        ]
    );
    let fail_body = &requests[2].body;
    assert_eq!(fail_body.len(), 10_000, "cut to healthchecks' 10,000 bytes");
    assert!(fail_body.starts_with("source unreachable: é"));

    // A failing dead-man never fails the run: the ping reports false, nothing panics.
    fake.script(
        &format!("{base}/start"),
        serde_json::json!([]),
        serde_json::json!({"status": 503}),
    )
    .await;
    assert!(!pinger.start(&run_id).await);
    let closed = DeadmanPinger::new(Secret::new("http://127.0.0.1:9/ping/x")).unwrap();
    assert!(!closed.success(&run_id).await);
}

#[tokio::test]
async fn no_secret_reaches_the_log_or_an_error() {
    let captured = capture_logs();
    let fake = Loopback::start();

    // Slack down (debug lines for each retry), a webhook on a closed port (network errors),
    // an SMTP login refused, a dead-man answering 500.
    fake.script(
        SLACK_PATH,
        serde_json::json!([]),
        serde_json::json!({"status": 500, "body": "down"}),
    )
    .await;
    let slack_error = slack_receiver(&fake)
        .send(&two_item_notification())
        .await
        .expect_err("down");
    let closed_hook = format!("http://127.0.0.1:9{WEBHOOK_PATH}");
    let hook_error = build(
        ReceiverConfig::Webhook(WebhookConfig {
            url_env: "TEST_HOOK_URL".into(),
            secret_env: Some("TEST_HOOK_SECRET".into()),
            retry: fast_retry(),
        }),
        &[
            ("TEST_HOOK_URL", closed_hook),
            ("TEST_HOOK_SECRET", HMAC_SECRET.to_string()),
        ],
    )
    .send(&two_item_notification())
    .await
    .expect_err("closed port");
    assert!(hook_error.is_retryable(), "{}", hook_error.detail());
    let deadman_path = format!("/ping/{DEADMAN_UUID}");
    fake.script(
        &deadman_path,
        serde_json::json!([]),
        serde_json::json!({"status": 500}),
    )
    .await;
    let pinger = DeadmanPinger::new(Secret::new(fake.url(&deadman_path))).unwrap();
    assert!(!pinger.success("rid-1").await);

    let receivers_debug = format!("{:?} {:?}", slack_receiver(&fake), Secret::new(HMAC_SECRET));
    let log = captured.text();
    // Positive controls: the log has the retry and dead-man lines, the errors their causes.
    assert!(
        log.contains("notification attempt failed; retrying"),
        "{log}"
    );
    assert!(
        log.contains("dead-man ping failed; the run goes on"),
        "{log}"
    );
    assert!(
        hook_error.detail().contains("error sending request"),
        "{}",
        hook_error.detail()
    );
    let everything = format!(
        "{log}\n{}\n{}\n{receivers_debug}\n{slack_error:?}\n{hook_error:?}",
        slack_error.detail(),
        hook_error.detail()
    );
    for secret in [
        SLACK_PATH,
        "slack-token-SECRET",
        "forewarn-hook-SECRET",
        HMAC_SECRET,
        DEADMAN_UUID,
        SMTP_PASSWORD,
    ] {
        assert!(
            !everything.contains(secret),
            "{secret:?} leaked:\n{everything}"
        );
    }
}

#[tokio::test]
async fn email_goes_over_starttls_and_tls_and_never_falls_back_to_plain() {
    capture_logs();
    let fake = Loopback::with_tls("forewarn", SMTP_PASSWORD);
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca_dir.path().join("ca.pem");
    std::fs::write(&ca_file, fake.ca_pem.as_deref().expect("the fake's CA")).unwrap();
    let env = [
        ("TEST_SMTP_USER", "forewarn".to_string()),
        ("TEST_SMTP_PASSWORD", SMTP_PASSWORD.to_string()),
    ];
    let config = |tls: TlsMode, port: u16, ca: Option<std::path::PathBuf>| {
        ReceiverConfig::Email(EmailConfig {
            smtp_host: "127.0.0.1".into(),
            smtp_port: Some(port),
            tls,
            username_env: Some("TEST_SMTP_USER".into()),
            password_env: Some("TEST_SMTP_PASSWORD".into()),
            ca_file: ca,
            from: "forewarn@example.org".into(),
            to: vec!["oncall@example.org".into()],
            timeout_s: 10.0,
        })
    };
    let starttls_port = fake.starttls_port.unwrap();
    let smtps_port = fake.smtps_port.unwrap();

    build(
        config(TlsMode::Starttls, starttls_port, Some(ca_file.clone())),
        &env,
    )
    .send(&two_item_notification())
    .await
    .expect("sent over STARTTLS");
    build(
        config(TlsMode::Tls, smtps_port, Some(ca_file.clone())),
        &env,
    )
    .send(&two_item_notification())
    .await
    .expect("sent over TLS");
    let mails = fake.mails().await;
    let servers: Vec<(&str, Option<&str>)> = mails
        .iter()
        .map(|m| (m.server.as_str(), m.login.as_deref()))
        .collect();
    assert_eq!(
        servers,
        [("starttls", Some("forewarn")), ("smtps", Some("forewarn"))]
    );
    for mail in &mails {
        let parsed = mail_parser::MessageParser::default()
            .parse(mail.data.as_bytes())
            .unwrap();
        assert_eq!(
            parsed.content_type().unwrap().subtype(),
            Some("alternative")
        );
    }

    // Positive controls: a certificate nobody vouches for is refused (retryable: fix the
    // trust and the outbox sends it), and STARTTLS required against a server without it
    // fails instead of sending the login in plain text.
    let error = build(config(TlsMode::Starttls, starttls_port, None), &env)
        .send(&two_item_notification())
        .await
        .expect_err("unknown CA");
    assert!(error.is_retryable(), "{}", error.detail());
    let plain_only = Loopback::with_smtp_login("forewarn", SMTP_PASSWORD);
    let error = build(
        config(TlsMode::Starttls, plain_only.smtp_port, Some(ca_file)),
        &env,
    )
    .send(&two_item_notification())
    .await
    .expect_err("no STARTTLS offered");
    assert!(
        !error.detail().contains(SMTP_PASSWORD),
        "{}",
        error.detail()
    );
    assert_eq!(plain_only.mails().await.len(), 0);
    assert_eq!(fake.mails().await.len(), 2);
}
