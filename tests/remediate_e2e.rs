//! Remediation end to end, as a CronJob runs it: demo telemetry in the ClickHouse test server,
//! the loopback Kubernetes API server (tests/support/kubeapi.py) holding the Deployments,
//! ReplicaSets and Pods behind the demo's findings, reached by the real `kube` client through a
//! kubeconfig file, and a loopback Slack receiver. Each test drives the real binary
//! (`forewarn run`, `approve`, `reject`, `actions`) and asserts the exact writes the API server
//! received, what the history and the receivers say.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use forewarn::demo::model::Labels;
use serde_json::{json, Value};
use support::kubeapi::{KubeApi, Recorded};
use support::loopback::Loopback;
use support::{forewarn_bin, TestServer};
use time::OffsetDateTime;

const SLACK_PATH: &str = "/slack/services/T0/B0/remediate";
const END: &str = "2026-11-20T12:00:00Z";
const OLD_LIMIT: &str = "512Mi";
const NEW_LIMIT: &str = "768Mi";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn rfc3339(t: OffsetDateTime) -> String {
    forewarn::window::timefmt::rfc3339(t)
}

/// The demo telemetry in the test server, loaded once per test binary.
struct Telemetry {
    server: TestServer,
    labels: Labels,
    _data: tempfile::TempDir,
}

fn telemetry() -> &'static Telemetry {
    static T: OnceLock<Telemetry> = OnceLock::new();
    T.get_or_init(|| {
        let server = TestServer::start(None);
        let data = tempfile::tempdir().unwrap();
        let out = Command::new(forewarn_bin())
            .args(["demo", "generate"])
            .arg(data.path())
            .args(["--seed", "5", "--hours", "8", "--end", END])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = Command::new(forewarn_bin())
            .args(["demo", "load"])
            .arg(data.path())
            .args(["--clickhouse-url", &server.url()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let labels: Labels = serde_json::from_str(
            &std::fs::read_to_string(data.path().join("labels.json")).unwrap(),
        )
        .unwrap();
        Telemetry {
            server,
            labels,
            _data: data,
        }
    })
}

/// The demo's first memory leak warned before its OOM kill: a time during it (20 min before
/// the kill) and one 40 min after, when the restarted container is quiet.
fn leak_times() -> (OffsetDateTime, OffsetDateTime) {
    let leak = telemetry()
        .labels
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
    (
        floor(impact - time::Duration::minutes(20)),
        floor(impact + time::Duration::minutes(40)),
    )
}

/// How the test's runbooks are set.
struct Setup {
    /// The mode of the memory runbook.
    mode: &'static str,
    limits: &'static str,
}

struct Harness {
    kube: KubeApi,
    slack: Loopback,
    rules: tempfile::TempDir,
    state: tempfile::TempDir,
}

/// A finding as `forewarn analyze` prints it (the contract).
fn findings_at(at: OffsetDateTime) -> Vec<Value> {
    let out = Command::new(forewarn_bin())
        .args(["analyze", "--output", "jsonl", "--at", &rfc3339(at)])
        .args(["--clickhouse-url", &telemetry().server.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The memory-pressure finding of the leak as of `at`: (namespace, pod, container, deployment).
fn leak_finding(at: OffsetDateTime) -> (String, String, String, String) {
    let leak = telemetry()
        .labels
        .incidents
        .iter()
        .filter(|i| i.kind == "memory_leak" && i.impact_at.is_some())
        .min_by_key(|i| i.impact_at)
        .unwrap();
    let finding = findings_at(at)
        .into_iter()
        .find(|f| {
            f["rule"] == "memory-pressure" && f["entity"]["pod"] == leak.entity["pod"].as_str()
        })
        .expect("the leak is found");
    let e = &finding["entity"];
    let workload = e["workload"].as_str().expect("a workload");
    let deployment = workload.strip_prefix("Deployment/").expect("a Deployment");
    (
        e["namespace"].as_str().unwrap().into(),
        e["pod"].as_str().unwrap().into(),
        e["container"].as_str().unwrap().into(),
        deployment.into(),
    )
}

impl Harness {
    fn new(setup: Setup) -> Harness {
        let kube = KubeApi::start();
        let slack = Loopback::start();
        let rules = tempfile::tempdir().unwrap();
        for (file, contents) in forewarn::config::rules::EMBEDDED_RULES {
            let name = Path::new(file).file_name().unwrap();
            std::fs::write(rules.path().join(name), contents).unwrap();
        }
        std::fs::write(
            rules.path().join("notify.yaml"),
            "receivers:
  - name: slack
    type: slack
    config:
      webhook_url_env: FW_TEST_SLACK_URL
      retry: {max_attempts: 2, initial_backoff_ms: 50, max_backoff_ms: 100, max_total_wait_s: 5, request_timeout_s: 5}
routes:
  - name: oncall
    receivers: [slack]
group_by: [namespace, rule]
",
        )
        .unwrap();
        std::fs::create_dir(rules.path().join("runbooks")).unwrap();
        std::fs::write(
            rules.path().join("runbooks/test.yaml"),
            format!(
                "runbooks:
  - name: oom-remediation
    triggers: [{{rule: memory-pressure, signal: memory_pressure, severity: warning}}]
    mode: {mode}
    steps:
      - raise_memory: {{factor: 1.5, cap: 4Gi}}
      - notify: {{route: oncall}}
    limits: {limits}
    verify_after: 10m
  - name: crashloop-remediation
    triggers: [{{rule: restart-frequency, signal: restart_frequency, severity: warning}}]
    mode: dry_run
    steps: [{{rollout_restart: {{}}}}]
  - name: escalate-to-owner
    triggers:
      - {{rule: error-rate, signal: error_rate, severity: warning}}
      - {{rule: canary-heartbeat, signal: heartbeat_missing, severity: warning}}
    mode: auto
    steps: [{{escalate: {{route: oncall}}}}]
",
                mode = setup.mode,
                limits = setup.limits
            ),
        )
        .unwrap();
        Harness {
            kube,
            slack,
            rules,
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// Seeds, for every finding with a Deployment as of `at`, the Deployment (a memory limit
    /// of 512Mi on each container named), its ReplicaSet and the pod, as a cluster holds them.
    fn seed_cluster(&self, at: OffsetDateTime, labels_of: impl Fn(&str) -> Value) {
        let mut workloads: std::collections::BTreeMap<
            (String, String),
            (Vec<String>, Vec<String>),
        > = Default::default();
        for f in findings_at(at) {
            let e = &f["entity"];
            let (Some(ns), Some(pod), Some(workload)) = (
                e["namespace"].as_str(),
                e["pod"].as_str(),
                e["workload"]
                    .as_str()
                    .and_then(|w| w.strip_prefix("Deployment/")),
            ) else {
                continue;
            };
            let entry = workloads.entry((ns.into(), workload.into())).or_default();
            if let Some(c) = e["container"].as_str() {
                if !entry.0.iter().any(|x| x == c) {
                    entry.0.push(c.into());
                }
            }
            if !entry.1.iter().any(|x| x == pod) {
                entry.1.push(pod.into());
            }
        }
        for ((ns, name), (mut containers, pods)) in workloads {
            if containers.is_empty() {
                containers.push("app".into());
            }
            let template = json!({
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers.iter().map(|c| json!({
                    "name": c, "image": format!("{name}:1"),
                    "resources": {"limits": {"memory": OLD_LIMIT}, "requests": {"memory": "256Mi"}}
                })).collect::<Vec<_>>()}
            });
            let stored = self.kube.seed(json!([{
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns, "labels": labels_of(&name),
                             "annotations": {"deployment.kubernetes.io/revision": "1"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": template}
            }]));
            let uid = stored[0]["metadata"]["uid"].clone();
            let rs = format!("{name}-5d8f");
            let mut objects = vec![json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs, "namespace": ns,
                             "creationTimestamp": "2026-11-19T00:00:00Z",
                             "annotations": {"deployment.kubernetes.io/revision": "1"},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                  "name": name, "uid": uid, "controller": true}]},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": template}
            })];
            for pod in pods {
                objects.push(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns, "labels": {"app": name},
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                      "name": rs, "controller": true}]},
                    "spec": template["spec"]
                }));
            }
            self.kube.seed(Value::Array(objects));
        }
        self.kube.clear_requests();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(forewarn_bin());
        cmd.args(args)
            .args(["--clickhouse-url", &telemetry().server.url()])
            .arg("--state")
            .arg(self.state.path().join("state.db"))
            .env("FOREWARN_RULES", self.rules.path())
            .env("FW_TEST_SLACK_URL", self.slack.url(SLACK_PATH))
            .env("KUBECONFIG", self.kube.kubeconfig_path())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("USER", "tester")
            .env("RUST_LOG", "info");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_job(&self, at: OffsetDateTime) -> Output {
        self.run(&["run", "frequent", "--at", &rfc3339(at)])
    }

    /// Writes the API server stored (dry runs excluded).
    fn writes(&self) -> Vec<Recorded> {
        self.kube
            .requests()
            .into_iter()
            .filter(Recorded::persists)
            .collect()
    }

    async fn slack_texts(&self) -> Vec<String> {
        self.slack
            .requests_to(SLACK_PATH)
            .await
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    fn limit_of(&self, ns: &str, deployment: &str) -> Value {
        self.kube.object("Deployment", ns, deployment).unwrap()["spec"]["template"]["spec"]
            ["containers"]
            .clone()
    }
}

fn no_labels(_: &str) -> Value {
    json!({})
}

/// The `action …` lines a command printed.
fn action_lines(out: &Output) -> Vec<String> {
    text(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("action "))
        .map(str::to_string)
        .collect()
}

fn the_raise(ns: &str, deployment: &str, container: &str, writes: &[Recorded]) -> Recorded {
    let raises: Vec<&Recorded> = writes
        .iter()
        .filter(|r| r.path == format!("/apis/apps/v1/namespaces/{ns}/deployments/{deployment}"))
        .collect();
    assert_eq!(
        raises.len(),
        1,
        "one write to the leaking Deployment: {writes:?}"
    );
    let raise = raises[0].clone();
    assert_eq!(raise.method, "PATCH");
    assert_eq!(
        raise.content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
    let body = raise.body.clone().unwrap();
    assert_eq!(
        body["spec"],
        json!({"template": {"spec": {"containers": [
            {"name": container, "resources": {"limits": {"memory": NEW_LIMIT}}}
        ]}}})
    );
    assert!(body["metadata"]["resourceVersion"].is_string());
    raise
}

const OPEN_LIMITS: &str = "{allowed_namespaces: [\"*\"], max_actions_per_hour: 5, cooldown: 1h}";

#[tokio::test(flavor = "multi_thread")]
async fn auto_raises_the_leaking_deployment_once_then_verifies_it_effective() {
    let (during, after) = leak_times();
    let (ns, pod, container, deployment) = leak_finding(during);
    let h = Harness::new(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);

    let first = h.run_job(during);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}\n{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    let lines = action_lines(&first);
    let applied = lines
        .iter()
        .find(|l| {
            l.contains(&format!(
                "oom-remediation raise_memory {ns}/Deployment/{deployment} auto: applied"
            ))
        })
        .unwrap_or_else(|| panic!("no applied raise for {pod}: {lines:#?}"));
    let id = applied.split_whitespace().nth(1).unwrap().to_string();
    assert!(id.starts_with("act-"), "{applied}");
    the_raise(&ns, &deployment, &container, &h.writes());
    assert_eq!(
        h.limit_of(&ns, &deployment)
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == container.as_str())
            .unwrap()["resources"]["limits"]["memory"],
        NEW_LIMIT
    );
    // The pod's owner chain was read before the write: pod, ReplicaSet, Deployment.
    let reads: Vec<String> = h.kube.requests().iter().map(Recorded::line).collect();
    let pod_read = format!("GET /api/v1/namespaces/{ns}/pods/{pod}");
    let write = format!("PATCH /apis/apps/v1/namespaces/{ns}/deployments/{deployment}");
    let pod_at = reads
        .iter()
        .position(|r| *r == pod_read)
        .expect("the pod was read");
    let write_at = reads.iter().position(|r| *r == write).unwrap();
    assert!(pod_at < write_at, "{reads:#?}");
    // The notify step told the route what was done.
    let slack = h.slack_texts().await;
    assert!(
        slack
            .iter()
            .any(|b| b.contains(&id) && b.contains(NEW_LIMIT)),
        "no Slack message names {id}: {slack:#?}"
    );

    // Again as of the same time, and 5 min later: the record is found, nothing is sent again.
    for at in [during, during + time::Duration::minutes(5)] {
        let again = h.run_job(at);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
        assert!(
            !action_lines(&again).iter().any(|l| l.contains(&id)),
            "{:#?}",
            action_lines(&again)
        );
    }
    the_raise(&ns, &deployment, &container, &h.writes());

    // As of a time the data shows recovery: effective, and the resolution is announced.
    let sent_before = h.slack_texts().await.len();
    let later = h.run_job(after);
    assert_eq!(later.status.code(), Some(0), "{}", text(&later.stderr));
    let lines = action_lines(&later);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&id) && l.contains(": effective")),
        "{lines:#?}"
    );
    let announced: Vec<String> = h
        .slack_texts()
        .await
        .into_iter()
        .skip(sent_before)
        .collect();
    assert!(
        announced
            .iter()
            .any(|b| b.contains(&id) && b.contains("RESOLVED by oom-remediation")),
        "{announced:#?}"
    );
    the_raise(&ns, &deployment, &container, &h.writes());

    let stats = h.run(&["actions", "--stats", "--json"]);
    assert_eq!(stats.status.code(), Some(0), "{}", text(&stats.stderr));
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    let oom = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["runbook"] == "oom-remediation")
        .unwrap()
        .clone();
    assert!(oom["applied"].as_u64().unwrap() >= 1, "{oom}");
    assert!(oom["effective"].as_u64().unwrap() >= 1, "{oom}");
    let verified = h.run(&["actions", "--status", "effective", "--json"]);
    let verified: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert!(verified
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action_id"] == id.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_patches_nothing_until_approved_then_once() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    let h = Harness::new(Setup {
        mode: "approve",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    let first = h.run_job(during);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}\n{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    let lines = action_lines(&first);
    let pending = lines
        .iter()
        .find(|l| {
            l.contains(&format!(
                "raise_memory {ns}/Deployment/{deployment} approve: pending"
            ))
        })
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let id = pending.split_whitespace().nth(1).unwrap().to_string();
    assert!(
        h.writes().is_empty(),
        "written before approval: {:?}",
        h.writes()
    );
    // The notification carries the commands.
    let slack = h.slack_texts().await;
    assert!(
        slack
            .iter()
            .any(|b| b.contains(&format!("forewarn approve {id}"))
                && b.contains(&format!("forewarn reject {id} --reason"))),
        "{slack:#?}"
    );
    let listed = h.run(&["actions", "--status", "pending", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action_id"] == id.as_str()));
    // A repeated run does not apply it either.
    h.run_job(during);
    assert!(h.writes().is_empty());

    let approved = h.run(&["approve", &id]);
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}\n{}",
        text(&approved.stdout),
        text(&approved.stderr)
    );
    assert!(
        text(&approved.stdout).contains(": applied"),
        "{}",
        text(&approved.stdout)
    );
    the_raise(&ns, &deployment, &container, &h.writes());
    let twice = h.run(&["approve", &id]);
    assert_eq!(twice.status.code(), Some(0), "{}", text(&twice.stderr));
    assert!(
        text(&twice.stdout).contains("nothing done"),
        "{}",
        text(&twice.stdout)
    );
    the_raise(&ns, &deployment, &container, &h.writes());
    // And a reject after it is refused (it is not pending any more).
    let reject = h.run(&["reject", &id, "--reason", "too late"]);
    assert_eq!(reject.status.code(), Some(2), "{}", text(&reject.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_action_is_never_applied() {
    let (during, _) = leak_times();
    let (ns, _pod, _container, deployment) = leak_finding(during);
    let h = Harness::new(Setup {
        mode: "approve",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    let first = h.run_job(during);
    let id = action_lines(&first)
        .iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} approve: pending")))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .unwrap();
    let rejected = h.run(&["reject", &id, "--reason", "not during the sale"]);
    assert_eq!(
        rejected.status.code(),
        Some(0),
        "{}",
        text(&rejected.stderr)
    );
    assert!(text(&rejected.stdout).contains("rejected by tester: not during the sale"));
    let approve = h.run(&["approve", &id]);
    assert_eq!(approve.status.code(), Some(2), "{}", text(&approve.stderr));
    assert!(h.writes().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_request_and_makes_no_persisting_request() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    let h = Harness::new(Setup {
        mode: "dry_run",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    let first = h.run_job(during);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/{deployment}");
    assert!(
        out.contains(&format!("raise_memory {ns}/Deployment/{deployment} dry_run: dry_run — the API server accepts it")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "PATCH {path}?dryRun=All (application/strategic-merge-patch+json)"
        )),
        "{out}"
    );
    assert!(out.contains(NEW_LIMIT), "{out}");
    let requests = h.kube.requests();
    assert!(requests.iter().all(|r| !r.persists()), "{requests:#?}");
    let checked: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .collect();
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0].query, "dryRun=All");
    assert_eq!(
        h.limit_of(&ns, &deployment).as_array().unwrap()[0]["resources"]["limits"]["memory"],
        OLD_LIMIT
    );
    let _ = container;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_names_the_verb_and_resource_and_fails_the_run() {
    let (during, _) = leak_times();
    let (ns, _pod, _container, deployment) = leak_finding(during);
    let h = Harness::new(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    h.kube.fail(json!({"method": "PATCH", "path_regex": format!("deployments/{deployment}$"), "status": 403, "times": 5}));
    let run = h.run_job(during);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}\n{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let out = text(&run.stdout);
    let line = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} auto: failed")))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("cannot patch resource \"deployments\""),
        "{line}"
    );
    assert!(
        line.contains("add to the Role: apiGroups: [\"apps\"], resources: [\"deployments\"], verbs: [\"patch\"]"),
        "{line}"
    );
    // The refused PATCH was answered 403 and stored nothing.
    assert_eq!(
        h.limit_of(&ns, &deployment).as_array().unwrap()[0]["resources"]["limits"]["memory"],
        OLD_LIMIT
    );
    // Escalated once.
    let slack = h.slack_texts().await;
    assert!(
        slack
            .iter()
            .any(|b| b.contains("ESCALATED") && b.contains("cannot patch")),
        "{slack:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn target_gone_is_recorded_and_a_conflict_is_retried_once() {
    let (during, _) = leak_times();
    let (ns, _pod, container, deployment) = leak_finding(during);
    // 409 once: retried on a fresh read, applied.
    let h = Harness::new(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    h.kube.fail(json!({"method": "PATCH", "path_regex": format!("deployments/{deployment}$"), "status": 409, "times": 1}));
    let run = h.run_job(during);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let line = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} auto: applied")))
        .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
    assert!(line.contains("after a 409 Conflict"), "{line}");
    let patches: Vec<Recorded> = h
        .kube
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with(&format!("deployments/{deployment}")))
        .collect();
    assert_eq!(patches.len(), 2, "retried once: {patches:#?}");
    let _ = container;

    // 404 on the write: the target is gone — recorded, skipped, no crash.
    let h = Harness::new(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    h.seed_cluster(during, no_labels);
    h.kube.fail(json!({"method": "PATCH", "path_regex": format!("deployments/{deployment}$"), "status": 404, "times": 1}));
    let run = h.run_job(during);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(
        action_lines(&run).iter().any(|l| l.contains(&format!(
            "{ns}/Deployment/{deployment} auto: gone — skipped"
        ))),
        "{}",
        text(&run.stdout)
    );
    let gone = h.run(&["actions", "--status", "gone", "--json"]);
    let gone: Value = serde_json::from_slice(&gone.stdout).unwrap();
    assert_eq!(gone.as_array().unwrap().len(), 1, "{gone}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fences_leave_opted_out_and_foreign_workloads_untouched() {
    let (during, _) = leak_times();
    let (ns, _pod, _container, deployment) = leak_finding(during);
    // Opted out by the label on the Deployment.
    let h = Harness::new(Setup {
        mode: "auto",
        limits: OPEN_LIMITS,
    });
    let leaking = deployment.clone();
    h.seed_cluster(during, move |name| {
        if name == leaking {
            json!({"forewarn.io/remediate": "false"})
        } else {
            json!({})
        }
    });
    let run = h.run_job(during);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let refused = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} auto: refused")))
        .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
    assert!(refused.contains("opted out"), "{refused}");
    assert!(h.writes().iter().all(|w| !w.path.ends_with(&deployment)));
    // Recorded once, not every run.
    let again = h.run_job(during + time::Duration::minutes(5));
    let refusals = h.run(&["actions", "--status", "refused", "--json"]);
    let refusals: Value = serde_json::from_slice(&refusals.stdout).unwrap();
    assert!(!refusals.as_array().unwrap().is_empty());
    assert!(text(&again.stdout).contains("refused"));

    // Outside the allowed namespaces.
    let h = Harness::new(Setup {
        mode: "auto",
        limits: "{allowed_namespaces: [\"nowhere-*\"], max_actions_per_hour: 5, cooldown: 1h}",
    });
    h.seed_cluster(during, no_labels);
    let run = h.run_job(during);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let refused = action_lines(&run)
        .into_iter()
        .find(|l| l.contains(&format!("{ns}/Deployment/{deployment} auto: refused")))
        .unwrap_or_else(|| panic!("{}", text(&run.stdout)));
    assert!(refused.contains("outside runbook"), "{refused}");
    assert!(h.writes().is_empty(), "{:?}", h.writes());
    // Positive control: the auto test above patches the same Deployment with open limits.
}
