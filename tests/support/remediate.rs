//! The remediation end-to-end harness shared by tests/remediate_e2e.rs and
//! tests/remediate_faults.rs: demo telemetry in the ClickHouse test server (loaded once per
//! test binary), the loopback Kubernetes API server (tests/support/kubeapi.py) holding the
//! Deployments, ReplicaSets and Pods behind the demo's findings, reached by the real `kube`
//! client through a kubeconfig file, a loopback Slack receiver, and the real binary driven as
//! a CronJob drives it (`forewarn run JOB --at T`), with `approve`, `reject` and `actions`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use forewarn::demo::model::{Incident, Labels};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::kubeapi::{KubeApi, Recorded};
use super::loopback::Loopback;
use super::{forewarn_bin, TestServer};

pub const SLACK_PATH: &str = "/slack/services/T0/B0/remediate";
pub const END: &str = "2026-11-20T12:00:00Z";
pub const OLD_LIMIT: &str = "512Mi";
pub const NEW_LIMIT: &str = "768Mi";
/// The ReplicaSet of a seeded Deployment's current revision, and of the one before it.
pub const CURRENT_HASH: &str = "5d8f";
pub const PREVIOUS_HASH: &str = "6c4a";

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    forewarn::window::timefmt::rfc3339(t)
}

/// `t` rounded down to a 5-minute boundary (a `frequent` run's schedule).
pub fn floor5(t: OffsetDateTime) -> OffsetDateTime {
    let s = t.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(s - s.rem_euclid(300)).unwrap()
}

/// The demo telemetry in the test server.
pub struct Telemetry {
    pub server: TestServer,
    pub labels: Labels,
    _data: tempfile::TempDir,
}

pub fn telemetry() -> &'static Telemetry {
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

/// The demo's incidents of `kind` (`memory_leak`, `crash_loop`, `error_burst`, ...) that have
/// an impact time, earliest impact first.
pub fn incidents(kind: &str) -> Vec<&'static Incident> {
    let mut found: Vec<&Incident> = telemetry()
        .labels
        .incidents
        .iter()
        .filter(|i| i.kind == kind && i.impact_at.is_some())
        .collect();
    found.sort_by_key(|i| i.impact_at);
    found
}

/// The demo's first memory leak warned before its OOM kill.
pub fn leak() -> &'static Incident {
    incidents("memory_leak")
        .into_iter()
        .next()
        .expect("the demo has a memory leak")
}

/// A time during the first leak (20 min before the kill) and one 40 min after, when the
/// restarted container is quiet.
pub fn leak_times() -> (OffsetDateTime, OffsetDateTime) {
    let impact = leak().impact_at.unwrap();
    (
        floor5(impact - time::Duration::minutes(20)),
        floor5(impact + time::Duration::minutes(40)),
    )
}

/// The findings as `forewarn analyze` prints them (the contract), for `job`'s rules or all.
pub fn findings_at(at: OffsetDateTime) -> Vec<Value> {
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

/// The finding of `rule` on the incident's entity as of `at`, if it fires.
pub fn finding_of(rule: &str, incident: &Incident, at: OffsetDateTime) -> Option<Value> {
    findings_at(at).into_iter().find(|f| {
        f["rule"] == rule
            && incident
                .entity
                .iter()
                .filter(|(k, _)| k.as_str() != "cluster")
                .all(|(k, v)| f["entity"][k.as_str()] == v.as_str())
    })
}

/// The memory-pressure finding of the leak as of `at`: (namespace, pod, container, deployment).
pub fn leak_finding(at: OffsetDateTime) -> (String, String, String, String) {
    let finding = finding_of("memory-pressure", leak(), at).expect("the leak is found");
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

/// notify.yaml of the tests' own runbooks: one route `oncall` to the loopback Slack.
pub const TEST_NOTIFY: &str = "receivers:
  - name: slack
    type: slack
    config:
      webhook_url_env: FW_TEST_SLACK_URL
      retry: {max_attempts: 2, initial_backoff_ms: 50, max_backoff_ms: 100, max_total_wait_s: 5, request_timeout_s: 5}
routes:
  - name: oncall
    receivers: [slack]
group_by: [namespace, rule]
";

/// The runbooks the shipped rules name (`oom-remediation`, `crashloop-remediation`,
/// `escalate-to-owner`), the memory one in `mode` within `limits`.
pub fn memory_runbooks(mode: &str, limits: &str) -> String {
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
{CRASHLOOP_AND_ESCALATE}"
    )
}

/// The other two runbooks the shipped rules name, quiet ones (dry run, escalate).
pub const CRASHLOOP_AND_ESCALATE: &str = "  - name: crashloop-remediation
    triggers: [{rule: restart-frequency, signal: restart_frequency, severity: warning}]
    mode: dry_run
    steps: [{rollout_restart: {}}]
  - name: escalate-to-owner
    triggers:
      - {rule: error-rate, signal: error_rate, severity: warning}
      - {rule: canary-heartbeat, signal: heartbeat_missing, severity: warning}
    mode: auto
    steps: [{escalate: {route: oncall}}]
";

/// How one seeded Deployment looks besides its containers.
#[derive(Debug, Clone)]
pub struct Seed {
    pub labels: Value,
    /// When its current revision (2) rolled out; `None`: one revision, rolled out long ago.
    pub rollout_at: Option<OffsetDateTime>,
}

impl Default for Seed {
    fn default() -> Seed {
        Seed {
            labels: json!({}),
            rollout_at: None,
        }
    }
}

pub struct Harness {
    pub kube: KubeApi,
    pub slack: Loopback,
    pub rules: tempfile::TempDir,
    pub state: tempfile::TempDir,
    kubeconfig: Mutex<PathBuf>,
}

impl Harness {
    /// The shipped rules with the tests' notify.yaml and `runbooks` as the only runbooks file.
    pub fn new(runbooks: &str) -> Harness {
        let h = Harness::empty();
        for (file, contents) in forewarn::config::rules::EMBEDDED_RULES {
            let name = Path::new(file).file_name().unwrap();
            std::fs::write(h.rules.path().join(name), contents).unwrap();
        }
        std::fs::write(h.rules.path().join("notify.yaml"), TEST_NOTIFY).unwrap();
        std::fs::create_dir(h.rules.path().join("runbooks")).unwrap();
        h.write_runbooks(runbooks);
        h
    }

    /// The repository's rules/ as shipped (rules, notify.yaml, runbooks), each runbook file
    /// passed through `edit` (identity for the shipped set).
    pub fn shipped(edit: impl Fn(&str) -> String) -> Harness {
        let h = Harness::empty();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        for entry in std::fs::read_dir(&shipped).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                std::fs::copy(&path, h.rules.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        std::fs::create_dir(h.rules.path().join("runbooks")).unwrap();
        for entry in std::fs::read_dir(shipped.join("runbooks")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                h.rules
                    .path()
                    .join("runbooks")
                    .join(path.file_name().unwrap()),
                edit(&text),
            )
            .unwrap();
        }
        h
    }

    fn empty() -> Harness {
        let kube = KubeApi::start();
        let kubeconfig = Mutex::new(kube.kubeconfig_path());
        Harness {
            kube,
            slack: Loopback::start(),
            rules: tempfile::tempdir().unwrap(),
            state: tempfile::tempdir().unwrap(),
            kubeconfig,
        }
    }

    /// Replaces the tests' runbooks file (a later command loads the new one).
    pub fn write_runbooks(&self, runbooks: &str) {
        std::fs::write(self.rules.path().join("runbooks/test.yaml"), runbooks).unwrap();
    }

    /// Points later commands at another kubeconfig file.
    pub fn use_kubeconfig(&self, path: PathBuf) {
        *self.kubeconfig.lock().unwrap() = path;
    }

    /// Points later commands at the loopback API server again.
    pub fn use_loopback_kubeconfig(&self) {
        self.use_kubeconfig(self.kube.kubeconfig_path());
    }

    /// Seeds, for every finding with a Deployment as of `at`, the Deployment (a memory limit
    /// of 512Mi on each container named), its ReplicaSet and the pod, as a cluster holds them.
    pub fn seed_cluster(&self, at: OffsetDateTime, labels_of: impl Fn(&str) -> Value) {
        self.seed_cluster_with(at, |name| Seed {
            labels: labels_of(name),
            rollout_at: None,
        })
    }

    /// [`Harness::seed_cluster`], each Deployment shaped by `seed_of(name)`: its labels, and
    /// whether revision 2 rolled out recently (then the ReplicaSet of revision 1, with the
    /// image `NAME:1`, is still there and the current one runs `NAME:2`).
    pub fn seed_cluster_with(&self, at: OffsetDateTime, seed_of: impl Fn(&str) -> Seed) {
        let mut workloads: std::collections::BTreeMap<
            (String, String),
            (Vec<String>, Vec<String>),
        > = Default::default();
        for f in findings_at(at) {
            let e = &f["entity"];
            let Some(ns) = e["namespace"].as_str() else {
                continue;
            };
            // A service's error rate: the Deployment named after it (the demo's convention).
            let (workload, pod) = match (e["workload"].as_str(), e["service"].as_str()) {
                (Some(w), _) => match w.strip_prefix("Deployment/") {
                    Some(w) => (w, e["pod"].as_str()),
                    None => continue,
                },
                (None, Some(service)) => (service, None),
                _ => continue,
            };
            let entry = workloads.entry((ns.into(), workload.into())).or_default();
            if let Some(c) = e["container"].as_str() {
                if !entry.0.iter().any(|x| x == c) {
                    entry.0.push(c.into());
                }
            }
            if let Some(pod) = pod {
                if !entry.1.iter().any(|x| x == pod) {
                    entry.1.push(pod.into());
                }
            }
        }
        for ((ns, name), (mut containers, pods)) in workloads {
            if containers.is_empty() {
                containers.push(name.clone());
            }
            let seed = seed_of(&name);
            let template = |revision: u32, hash: Option<&str>| {
                let mut labels = json!({"app": name});
                if let Some(hash) = hash {
                    labels["pod-template-hash"] = json!(hash);
                }
                json!({
                    "metadata": {"labels": labels},
                    "spec": {"containers": containers.iter().map(|c| json!({
                        "name": c, "image": format!("{name}:{revision}"),
                        "resources": {"limits": {"memory": OLD_LIMIT}, "requests": {"memory": "256Mi"}}
                    })).collect::<Vec<_>>()}
                })
            };
            let current = if seed.rollout_at.is_some() { 2 } else { 1 };
            let stored = self.kube.seed(json!([{
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns, "labels": seed.labels,
                             "annotations": {"deployment.kubernetes.io/revision": current.to_string()}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                         "template": template(current, None)}
            }]));
            let uid = stored[0]["metadata"]["uid"].clone();
            let replicaset = |hash: &str, revision: u32, created: String, replicas: u32| {
                json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": format!("{name}-{hash}"), "namespace": ns,
                                 "labels": {"app": name, "pod-template-hash": hash},
                                 "creationTimestamp": created,
                                 "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                      "name": name, "uid": uid, "controller": true}]},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                             "template": template(revision, Some(hash))}
                })
            };
            let mut objects = match seed.rollout_at {
                None => vec![replicaset(
                    CURRENT_HASH,
                    1,
                    "2026-11-19T00:00:00Z".into(),
                    2,
                )],
                Some(at) => vec![
                    replicaset(PREVIOUS_HASH, 1, "2026-11-01T00:00:00Z".into(), 0),
                    replicaset(CURRENT_HASH, 2, rfc3339(at), 2),
                ],
            };
            let pod_template = template(current, Some(CURRENT_HASH));
            for pod in pods {
                objects.push(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns,
                                 "labels": pod_template["metadata"]["labels"],
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                      "name": format!("{name}-{CURRENT_HASH}"),
                                                      "controller": true}]},
                    "spec": pod_template["spec"]
                }));
            }
            self.kube.seed(Value::Array(objects));
        }
        self.kube.clear_requests();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(forewarn_bin());
        cmd.args(args)
            .args(["--clickhouse-url", &telemetry().server.url()])
            .arg("--state")
            .arg(self.state.path().join("state.db"))
            .env("FOREWARN_RULES", self.rules.path())
            .env("FW_TEST_SLACK_URL", self.slack.url(SLACK_PATH))
            .env("FOREWARN_SLACK_WEBHOOK_URL", self.slack.url(SLACK_PATH))
            .env_remove("FOREWARN_ALERTMANAGER_URL")
            .env("KUBECONFIG", &*self.kubeconfig.lock().unwrap())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("USER", "tester")
            .env("RUST_LOG", "info");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `forewarn run frequent --at AT`.
    pub fn run_job(&self, at: OffsetDateTime) -> Output {
        self.run(&["run", "frequent", "--at", &rfc3339(at)])
    }

    /// Writes the API server stored (dry runs excluded).
    pub fn writes(&self) -> Vec<Recorded> {
        self.kube
            .requests()
            .into_iter()
            .filter(Recorded::persists)
            .collect()
    }

    pub async fn slack_texts(&self) -> Vec<String> {
        self.slack
            .requests_to(SLACK_PATH)
            .await
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    pub fn limit_of(&self, ns: &str, deployment: &str) -> Value {
        self.kube.object("Deployment", ns, deployment).unwrap()["spec"]["template"]["spec"]
            ["containers"]
            .clone()
    }

    /// `forewarn actions [--status S] --json`.
    pub fn actions(&self, status: Option<&str>) -> Vec<Value> {
        let mut args = vec!["actions", "--json"];
        if let Some(status) = status {
            args.extend(["--status", status]);
        }
        let out = self.run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

pub fn no_labels(_: &str) -> Value {
    json!({})
}

/// The `action …` lines a command printed (each with its request line, when it has one).
pub fn action_lines(out: &Output) -> Vec<String> {
    text(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("action "))
        .map(str::to_string)
        .collect()
}

/// The id of the first action line containing `needle`.
pub fn action_id_of(out: &Output, needle: &str) -> String {
    action_lines(out)
        .iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no action line has {needle:?}:\n{}", text(&out.stdout)))
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// The one write to the leaking Deployment, checked to be the memory raise.
pub fn the_raise(ns: &str, deployment: &str, container: &str, writes: &[Recorded]) -> Recorded {
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

pub const OPEN_LIMITS: &str =
    "{allowed_namespaces: [\"*\"], max_actions_per_hour: 5, cooldown: 1h}";
