//! The daily report and `explain` as a user meets them: the injected incidents' entities in the
//! right sections, a report that renders in a real browser with every image loaded, an email
//! that parses as multipart/alternative with related images, the Slack summary, missing hours
//! named, an unreadable source never reported as a quiet day — and `explain` showing the very
//! numbers a finding carries, against the ClickHouse test server.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use mail_parser::MimeHeaders;
use serde_json::Value;
use support::loopback::Loopback;
use support::{demo_dir, forewarn_bin};

const END: &str = "2026-11-20T12:00:00Z";

fn forewarn(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(forewarn_bin());
    command
        .args(args)
        .env("RUST_LOG", "error")
        .env_remove("FOREWARN_RULES")
        .env_remove("FOREWARN_STATE");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("running forewarn")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn labels() -> forewarn::demo::model::Labels {
    serde_json::from_str(&std::fs::read_to_string(demo_dir().join("labels.json")).unwrap()).unwrap()
}

fn source() -> String {
    format!("parquet:{}", demo_dir().display())
}

/// The report of the demo's 8 hours, as JSON, with the HTML written to `out`.
fn demo_report(out: &Path, period: &str) -> (Value, Output) {
    let output = forewarn(
        &[
            "report",
            "daily",
            "--source",
            &source(),
            "--at",
            END,
            "--period",
            period,
            "--top",
            "8",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let json = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (json, output)
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_injected_incidents_are_in_their_sections() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let (report, out) = demo_report(&html, "8h");
    assert!(out.status.success(), "{}", text(&out));
    let labels = labels();
    let mut checked = 0;
    for incident in &labels.incidents {
        let entity = |k: &str| incident.entity.get(k).cloned().unwrap_or_default();
        match incident.signal.as_str() {
            "memory_pressure" => {
                let mut pods = names(&report["memory"]["closest"], "pod");
                pods.extend(names(&report["memory"]["fastest"], "pod"));
                assert!(
                    pods.contains(&entity("pod")),
                    "memory incident {} ({}) not among {pods:?}",
                    entity("pod"),
                    incident.kind
                );
            }
            "error_rate" => {
                let mut services = names(&report["errors"]["highest"], "service");
                services.extend(names(&report["errors"]["rising"], "service"));
                assert!(
                    services.contains(&entity("service")),
                    "error incident {} not among {services:?}",
                    entity("service")
                );
            }
            "restart_frequency" => {
                let pods = names(&report["restarts"]["top"], "pod");
                assert!(
                    pods.contains(&entity("pod")),
                    "restart incident {} not among {pods:?}",
                    entity("pod")
                );
            }
            "heartbeat_missing" => {
                let canary = report["heartbeats"]["canaries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["canary"] == entity("canary").as_str())
                    .unwrap_or_else(|| panic!("canary {} not in the report", entity("canary")))
                    .clone();
                assert!(
                    !canary["outages"].as_array().unwrap().is_empty(),
                    "the silenced canary shows no outage: {canary}"
                );
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} incidents checked");
    // Positive control for the canaries: one that beat throughout shows no outage.
    let silenced: Vec<String> = labels
        .incidents
        .iter()
        .filter(|i| i.signal == "heartbeat_missing")
        .filter_map(|i| i.entity.get("canary").cloned())
        .collect();
    let healthy = report["heartbeats"]["canaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !silenced.contains(&c["canary"].as_str().unwrap_or("").to_string()))
        .expect("a canary without an injected outage");
    assert!(
        healthy["outages"].as_array().unwrap().is_empty(),
        "{healthy}"
    );
    assert!(!report["quiet"].as_bool().unwrap());
    assert!(
        report["missing"].as_array().unwrap().is_empty(),
        "{}",
        report["missing"]
    );

    // The HTML file: no scripts, every chart inline.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "no scripts in a mail report");
    let images = page.matches(r#"<img src="data:image/png;base64,"#).count();
    assert!(images >= 8, "{images} inline charts");
    assert!(page.contains("Memory") && page.contains("Error rates") && page.contains("Canaries"));
}

#[test]
fn hours_without_data_are_named() {
    // 24 hours over 8 hours of data: the 16 hours before the data are missing.
    let dir = tempfile::tempdir().unwrap();
    let (report, out) = demo_report(&dir.path().join("r.html"), "24h");
    assert!(out.status.success(), "{}", text(&out));
    let memory = report["missing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["window"] == "memory")
        .expect("the memory window's missing hours");
    let hours = memory["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 16, "{memory}");
    assert_eq!(hours[0], "2026-11-19T12:00:00Z");
    assert_eq!(hours[15], "2026-11-20T03:00:00Z");
    let page = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(
        page.contains("no rows 2026-11-19 12:00–04:00 UTC"),
        "the HTML names the missing hours"
    );
}

#[test]
fn an_unreadable_source_is_never_a_quiet_day() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = forewarn(
        &[
            "report",
            "daily",
            "--source",
            &format!("parquet:{}", empty.display()),
            "--at",
            END,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let printed = text(&out);
    assert!(!printed.contains("A quiet day"), "{printed}");
    assert!(printed.contains("could not"), "{printed}");
    // Positive control: the same command on the data succeeds.
    let out = forewarn(
        &[
            "report",
            "daily",
            "--source",
            &source(),
            "--at",
            END,
            "--period",
            "8h",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// Headless Chromium as the brief's probe starts it (no network chatter, fresh profile).
fn chromium(args: &[&str], profile: &Path) -> Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium is installed by scripts/install-test-deps.sh")
}

#[test]
fn the_report_renders_in_headless_chromium_with_every_image_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let (_, out) = demo_report(&html, "8h");
    assert!(out.status.success(), "{}", text(&out));

    let shot = dir.path().join("shot.png");
    let render = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=900,1600",
            &format!("file://{}", html.display()),
        ],
        &dir.path().join("profile-1"),
    );
    assert!(shot.exists(), "no screenshot: {}", text(&render));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut not_background = 0usize;
    for p in pixels.chunks(channels) {
        colours.insert((p[0] / 16, p[1] / 16, p[2] / 16));
        not_background += usize::from(p[0] < 235 || p[1] < 235 || p[2] < 235);
    }
    let total = pixels.len() / channels;
    assert!(
        colours.len() > 20,
        "a near-blank screenshot: {} colours",
        colours.len()
    );
    assert!(
        not_background * 100 > total,
        "only {not_background} of {total} pixels are not background"
    );

    // Every <img> decoded: the same page with a probe appended, its DOM dumped after load.
    let probed = dir.path().join("probed.html");
    let page = std::fs::read_to_string(&html).unwrap();
    let probe = r#"<script>window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var p = document.createElement('p'); p.id = 'probe';
  p.textContent = 'images=' + imgs.length + ' broken=' + broken.length;
  document.body.appendChild(p);
});</script></body>"#;
    std::fs::write(&probed, page.replace("</body>", probe)).unwrap();
    let dump = chromium(
        &[
            "--dump-dom",
            "--virtual-time-budget=5000",
            &format!("file://{}", probed.display()),
        ],
        &dir.path().join("profile-2"),
    );
    let dom = String::from_utf8_lossy(&dump.stdout);
    let result = dom
        .split("<p id=\"probe\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("the probe did not run: {}", text(&dump)));
    let images: usize = result
        .split_whitespace()
        .find_map(|w| w.strip_prefix("images="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(images >= 8, "{result}");
    assert!(result.ends_with("broken=0"), "{result}");
}

fn notify_yaml(fake: &Loopback) -> String {
    format!(
        "receivers:
  - name: platform-mail
    type: email
    config:
      smtp_host: 127.0.0.1
      smtp_port: {}
      tls: none
      from: forewarn@example.org
      to: [platform@example.org, oncall@example.org]
  - name: slack
    type: slack
    config: {{webhook_url_env: FW_TEST_SLACK_URL}}
default_receivers: []
report:
  receivers: [platform-mail, slack]
",
        fake.smtp_port
    )
}

fn rules_with(notify: &str) -> tempfile::TempDir {
    let rules = tempfile::tempdir().unwrap();
    for (file, contents) in forewarn::config::rules::EMBEDDED_RULES {
        let name = Path::new(file).file_name().unwrap();
        std::fs::write(rules.path().join(name), contents).unwrap();
    }
    std::fs::write(rules.path().join("notify.yaml"), notify).unwrap();
    rules
}

#[tokio::test(flavor = "multi_thread")]
async fn send_delivers_a_multipart_email_with_related_images_and_a_slack_summary() {
    let fake = Loopback::start();
    let rules = rules_with(&notify_yaml(&fake));
    let out = forewarn(
        &[
            "report",
            "daily",
            "--source",
            &source(),
            "--at",
            END,
            "--period",
            "8h",
            "--send",
            "--rules",
            rules.path().to_str().unwrap(),
        ],
        &[("FW_TEST_SLACK_URL", fake.url("/slack/report"))],
    );
    assert!(out.status.success(), "{}", text(&out));

    let mails = fake.mails().await;
    assert_eq!(mails.len(), 1, "one report email");
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos.len(), 2);
    let message = mail_parser::MessageParser::default()
        .parse(mail.data.as_bytes())
        .expect("the email parses");
    assert!(message
        .subject()
        .unwrap()
        .starts_with("forewarn daily report"));
    let root = message.content_type().unwrap();
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("alternative"))
    );
    let text_body = message.body_text(0).expect("a text part");
    assert!(text_body.contains("MEMORY"), "{text_body}");
    let html_body = message.body_html(0).expect("an HTML part");
    let cids: Vec<String> = html_body
        .split("src=\"cid:")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect();
    assert!(cids.len() >= 8, "{} cid images", cids.len());
    let mut related = false;
    let mut images = std::collections::BTreeSet::new();
    for part in &message.parts {
        if let Some(ct) = part.content_type() {
            if ct.ctype() == "multipart" && ct.subtype() == Some("related") {
                related = true;
            }
            if ct.ctype() == "image" && ct.subtype() == Some("png") {
                let id = part.content_id().expect("an image part has a Content-ID");
                assert!(part.contents().starts_with(b"\x89PNG"), "{id}");
                images.insert(id.trim_matches(['<', '>']).to_string());
            }
        }
    }
    assert!(related, "the HTML and its images are multipart/related");
    for cid in &cids {
        assert!(
            images.contains(cid),
            "cid:{cid} has no image part ({images:?})"
        );
    }

    let slack = fake.requests_to("/slack/report").await;
    assert_eq!(slack.len(), 1);
    let payload = slack[0].json();
    assert_eq!(payload["blocks"][0]["type"], "header");
    let body = payload["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        body.contains("Memory:") && body.contains("Restarts:"),
        "{body}"
    );
}

#[test]
fn send_without_report_receivers_is_a_configuration_error() {
    let rules = rules_with("receivers: []\ndefault_receivers: []\n");
    let out = forewarn(
        &[
            "report",
            "daily",
            "--source",
            &source(),
            "--at",
            END,
            "--send",
            "--rules",
            rules.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("report: receivers"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_prints_the_chart_and_the_findings_own_numbers() {
    let server = support::server();
    let config = server.fresh_database().await;
    let database = config.database.clone().unwrap();
    let connection = [
        ("FOREWARN_CLICKHOUSE_URL", server.url()),
        ("FOREWARN_CLICKHOUSE_DATABASE", database),
    ];
    let out = forewarn(&["demo", "load", demo_dir().to_str().unwrap()], &connection);
    assert!(out.status.success(), "{}", text(&out));
    let labels = labels();
    let leak = labels
        .incidents
        .iter()
        .filter(|i| i.kind == "memory_leak")
        .min_by_key(|i| i.impact_at)
        .expect("the demo has a memory leak");
    let kill = leak.impact_at.expect("the leak ends in an OOM kill");
    let at = forewarn::window::timefmt::rfc3339(kill - time::Duration::minutes(20));
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("state.sqlite");
    let state_flag = ["--state", state_file.to_str().unwrap()];

    let analyzed = forewarn(&["analyze", "--at", &at, "--output", "jsonl"], &connection);
    assert!(analyzed.status.code() == Some(0), "{}", text(&analyzed));
    let finding: Value = String::from_utf8_lossy(&analyzed.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|f| f["entity"]["pod"] == leak.entity["pod"].as_str())
        .expect("analyze flags the leaking pod");
    let id = finding["id"].as_str().unwrap();

    let explained = forewarn(
        &[
            "explain",
            id,
            "--at",
            &at,
            "--output",
            "json",
            state_flag[0],
            state_flag[1],
        ],
        &connection,
    );
    assert!(explained.status.success(), "{}", text(&explained));
    let explanation: Value = serde_json::from_slice(&explained.stdout).unwrap();
    assert_eq!(explanation["finding"]["evidence"], finding["evidence"]);
    for reason in explanation["reasoning"].as_array().unwrap() {
        let key = reason["key"].as_str().unwrap();
        assert_eq!(reason["value"], finding["evidence"][key], "{key}");
    }
    let series = explanation["series"].as_array().unwrap();
    assert!(series.len() > 20, "{} points", series.len());
    let last = series.last().unwrap()["value"].as_f64().unwrap();
    let peak = finding["evidence"]["working_set_bytes"].as_f64().unwrap();
    assert!(
        (last - peak).abs() / peak < 0.2,
        "last point {last} vs evidence {peak}"
    );
    assert!(explanation["query"]["sql"]
        .as_str()
        .unwrap()
        .contains("{since:DateTime64(9)}"));

    // The text form, by entity: the chart with its limit line, and the numbers as they read.
    let explained = forewarn(
        &[
            "explain",
            "--pod",
            leak.entity["pod"].as_str(),
            "--at",
            &at,
            state_flag[0],
            state_flag[1],
        ],
        &connection,
    );
    assert!(explained.status.success(), "{}", text(&explained));
    let printed = String::from_utf8_lossy(&explained.stdout);
    assert!(
        printed.contains('●') && printed.contains(" limit"),
        "{printed}"
    );
    let slope = finding["evidence"]["slope_bytes_per_s"].as_f64().unwrap();
    assert!(
        printed.contains(&forewarn::explain::reads(
            "slope_bytes_per_s",
            &Value::from(slope)
        )),
        "{printed}"
    );
    assert!(printed.contains("--param_since="), "{printed}");

    // Negative control: an entity without a finding is said so, not explained.
    let out = forewarn(
        &[
            "explain",
            "--pod",
            "no-such-pod",
            "--at",
            &at,
            state_flag[0],
            state_flag[1],
        ],
        &connection,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no finding for --pod no-such-pod"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_report_job_runs_as_forewarn_run_and_sends_the_last_24_hours() {
    let fake = Loopback::start();
    let rules = rules_with(&notify_yaml(&fake));
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("state.sqlite");
    let source = source();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "daily-report",
            "--source",
            &source,
            "--at",
            END,
            "--state",
            state_file.to_str().unwrap(),
            "--rules",
            rules.path().to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        forewarn(&args, &[("FW_TEST_SLACK_URL", fake.url("/slack/report"))])
    };
    // Two scheduled runs of the trend job first: their episodes are forewarn's own day.
    for at in ["2026-11-20T11:00:00Z", "2026-11-20T11:30:00Z"] {
        let out = forewarn(
            &[
                "run",
                "frequent",
                "--source",
                &source,
                "--at",
                at,
                "--state",
                state_file.to_str().unwrap(),
                "--rules",
                rules.path().to_str().unwrap(),
            ],
            &[("FW_TEST_SLACK_URL", fake.url("/slack/report"))],
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    // --dry-run builds the report and sends nothing.
    let out = run(&["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(fake.mails().await.is_empty());
    assert!(fake.requests_to("/slack/report").await.is_empty());

    let out = run(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The job's period is the 24 h before the run: 16 of them precede the 8 h of data.
    assert_eq!(report["since"], "2026-11-19T12:00:00Z");
    assert!(
        text(&out).contains("report sent to platform-mail"),
        "{}",
        text(&out)
    );
    assert_eq!(fake.mails().await.len(), 1);
    assert_eq!(fake.requests_to("/slack/report").await.len(), 1);
    // The state was read: forewarn's own day is in the report.
    let state = &report["state"];
    assert_eq!(state["runs"], 2, "{state}");
    assert!(state["findings_opened"].as_u64().unwrap() >= 2, "{state}");
    assert_eq!(
        state["notifications_delivered"], 0,
        "no route sends findings here: {state}"
    );
}

/// A day in which nothing happens: two containers flat well below their limits, a service with
/// a steady 1 % error ratio, a canary beating every minute — with `gap`, the canary is silent
/// for 40 minutes in the afternoon.
fn quiet_day(dir: &Path, gap: bool) {
    use support::fixtures::{Log, Telemetry};
    const MIB: f64 = 1024.0 * 1024.0;
    let start = time::macros::datetime!(2026-11-19 12:00 UTC);
    let mut t = Telemetry::default();
    let pod = |name: &'static str, uid: &'static str| {
        vec![
            ("k8s.cluster.name", "calm"),
            ("k8s.namespace.name", "shop"),
            ("k8s.pod.name", name),
            ("k8s.pod.uid", uid),
            ("k8s.container.name", "app"),
            ("k8s.deployment.name", "cart"),
        ]
    };
    let service = [("k8s.cluster.name", "calm"), ("k8s.namespace.name", "shop")];
    for minute in 0..24 * 60i64 {
        let at = start + time::Duration::minutes(minute);
        for (i, (name, uid)) in [("cart-a", "uid-a"), ("cart-b", "uid-b")]
            .into_iter()
            .enumerate()
        {
            let resource = pod(name, uid);
            let wobble = ((minute * 7 + i as i64 * 3) % 11) as f64;
            t.gauge(
                "container.memory.working_set",
                &resource,
                at,
                (300.0 + wobble) * MIB,
            )
            .gauge("k8s.container.memory_limit", &resource, at, 1024.0 * MIB)
            .gauge("k8s.container.restarts", &resource, at, 0.0);
        }
        for request in 0..20i64 {
            let error = (minute * 20 + request) % 100 == 0;
            t.log(
                at + time::Duration::seconds(request * 3),
                Log {
                    service: "cart",
                    resource: &service,
                    severity_number: if error { 17 } else { 9 },
                    severity_text: if error { "ERROR" } else { "INFO" },
                    body: "GET /cart",
                    ..Log::default()
                },
            );
        }
        // 14 h after the start: 02:00 to 02:40 on the report's day.
        let silent = gap && (14 * 60..14 * 60 + 40).contains(&minute);
        if !silent {
            t.log(
                at + time::Duration::seconds(1),
                Log {
                    service: "canary",
                    resource: &service,
                    severity_number: 9,
                    severity_text: "INFO",
                    body: "heartbeat",
                    attributes: &[("canary.name", "probe")],
                },
            );
        }
    }
    t.write_out_of_order(dir);
}

#[test]
fn a_quiet_day_is_a_short_honest_report_and_an_outage_breaks_the_quiet() {
    let at = "2026-11-20T12:00:00Z";
    let report = |gap: bool| {
        let dir = tempfile::tempdir().unwrap();
        quiet_day(dir.path(), gap);
        let source = format!("parquet:{}", dir.path().display());
        let text_out = forewarn(&["report", "daily", "--source", &source, "--at", at], &[]);
        let json_out = forewarn(
            &["report", "daily", "--source", &source, "--at", at, "--json"],
            &[],
        );
        assert!(text_out.status.success(), "{}", text(&text_out));
        assert!(json_out.status.success(), "{}", text(&json_out));
        let json: Value = serde_json::from_slice(&json_out.stdout).unwrap();
        (String::from_utf8_lossy(&text_out.stdout).to_string(), json)
    };
    let (printed, json) = report(false);
    assert_eq!(json["quiet"], true, "{printed}");
    assert!(printed.contains("A quiet day"), "{printed}");
    assert!(
        json["missing"].as_array().unwrap().is_empty(),
        "{}",
        json["missing"]
    );
    assert!(
        json["firing"].as_array().unwrap().is_empty(),
        "{}",
        json["firing"]
    );
    assert!(printed.lines().count() < 40, "short: {printed}");
    let ratio = json["errors"]["error_ratio"]["today"].as_f64().unwrap();
    assert!((ratio - 0.01).abs() < 0.001, "{ratio}");

    // Positive control: the same day with the canary silent for 40 minutes.
    let (printed, json) = report(true);
    assert_eq!(json["quiet"], false, "{printed}");
    assert!(!printed.contains("A quiet day"), "{printed}");
    let canary = &json["heartbeats"]["canaries"][0];
    assert_eq!(canary["outages"].as_array().unwrap().len(), 1, "{canary}");
    assert!(printed.contains("down 2026-11-20 02:"), "{printed}");
}
