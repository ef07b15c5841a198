//! The pods: one CronJob per job (`forewarn run JOB`), the canary's CronJob, and the
//! alternative `forewarn serve` Deployment with its PodDisruptionBudget — all from one hardened
//! pod shape (non-root, read-only root filesystem, no privilege escalation, every capability
//! dropped, seccomp `RuntimeDefault`), the rule files mounted from the ConfigMap and every
//! credential a `secretKeyRef`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::access::SERVICE_ACCOUNT;
use super::{
    labels, metadata, ManifestError, ManifestSettings, Sources, RULES_CONFIGMAP, RULES_MOUNT,
    SECRET_NAME, SERVE_PORT,
};
use crate::config::Job;
use crate::schedule::{kubernetes_schedule, JobSchedule};

/// The distroless `nonroot` user.
const NONROOT_UID: u64 = 65532;
/// How long `forewarn serve` lets in-flight runs finish after SIGTERM.
pub const SERVE_SHUTDOWN_GRACE_S: u64 = 60;

/// The ConfigMap key of a rule file (`runbooks/memory.yaml` → `runbooks.memory.yaml`: keys
/// cannot hold `/`); the volume maps it back to its path.
fn configmap_key(path: &str) -> String {
    path.replace('/', ".")
}

pub fn rules_configmap(files: &[(String, String)], settings: &ManifestSettings) -> Value {
    let data: serde_json::Map<String, Value> = files
        .iter()
        .map(|(path, text)| (configmap_key(path), json!(text)))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(RULES_CONFIGMAP, "rules", settings),
        "data": data,
    })
}

fn rules_volume(files: &[(String, String)]) -> Value {
    let items: Vec<Value> = files
        .iter()
        .map(|(path, _)| json!({"key": configmap_key(path), "path": path}))
        .collect();
    json!({"name": "rules", "configMap": {"name": RULES_CONFIGMAP, "items": items}})
}

fn secret_env(name: &str, key: &str, optional: bool) -> Value {
    json!({
        "name": name,
        "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key, "optional": optional}},
    })
}

fn value_env(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// Every `*_env` value in the receivers' configuration: the variables holding their secrets.
fn receiver_env_vars(sources: &Sources<'_>) -> BTreeSet<String> {
    fn collect(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match v {
                        Value::String(name) if key.ends_with("_env") => {
                            out.insert(name.clone());
                        }
                        other => collect(other, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut vars = BTreeSet::new();
    for receiver in &sources.notify.receivers {
        collect(&receiver.config, &mut vars);
    }
    vars
}

/// The environment of a `run` or `serve` pod: connection settings as values, every secret as
/// a reference. `deadman_key`: the Secret key of the dead-man URL (one check per job).
fn run_env(sources: &Sources<'_>, settings: &ManifestSettings, deadman_key: &str) -> Vec<Value> {
    let mut env = vec![
        value_env("FOREWARN_RULES", RULES_MOUNT),
        value_env("FOREWARN_CLICKHOUSE_URL", &settings.clickhouse_url),
        value_env(
            "FOREWARN_CLICKHOUSE_DATABASE",
            &settings.clickhouse_database,
        ),
        secret_env("FOREWARN_CLICKHOUSE_USER", "FOREWARN_CLICKHOUSE_USER", true),
        secret_env(
            "FOREWARN_CLICKHOUSE_PASSWORD",
            "FOREWARN_CLICKHOUSE_PASSWORD",
            false,
        ),
        secret_env("FOREWARN_DEADMAN_URL", deadman_key, true),
    ];
    let mut optional: BTreeSet<String> = receiver_env_vars(sources);
    // An email receiver added to notify.yaml reads these by convention.
    optional.insert("FOREWARN_SMTP_USERNAME".into());
    optional.insert("FOREWARN_SMTP_PASSWORD".into());
    for name in optional {
        env.push(secret_env(&name, &name, true));
    }
    env.push(json!({
        "name": "POD_NAME",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }));
    env.push(json!({
        "name": "POD_NAMESPACE",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    }));
    env
}

fn container_security() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": NONROOT_UID,
        "runAsGroup": NONROOT_UID,
        "readOnlyRootFilesystem": true,
        "allowPrivilegeEscalation": false,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

fn pod_security() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": NONROOT_UID,
        "runAsGroup": NONROOT_UID,
        "fsGroup": NONROOT_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

struct Resources {
    cpu_request: &'static str,
    memory_request: &'static str,
    memory_limit: &'static str,
}

/// Judging windows holds aggregated frames in Polars: memory is what matters. No CPU limit
/// (throttling only makes runs slower and later).
const RUN_RESOURCES: Resources = Resources {
    cpu_request: "100m",
    memory_request: "256Mi",
    memory_limit: "1Gi",
};
const CANARY_RESOURCES: Resources = Resources {
    cpu_request: "10m",
    memory_request: "16Mi",
    memory_limit: "64Mi",
};

fn resources(r: &Resources) -> Value {
    json!({
        "requests": {"cpu": r.cpu_request, "memory": r.memory_request},
        "limits": {"memory": r.memory_limit},
    })
}

fn container(
    settings: &ManifestSettings,
    args: &[&str],
    env: Vec<Value>,
    resources_of: &Resources,
    mounts: Vec<Value>,
) -> serde_json::Map<String, Value> {
    let mut c = serde_json::Map::new();
    c.insert("name".into(), json!("forewarn"));
    c.insert("image".into(), json!(settings.image));
    c.insert("imagePullPolicy".into(), json!("IfNotPresent"));
    c.insert("args".into(), json!(args));
    c.insert("env".into(), json!(env));
    c.insert("resources".into(), resources(resources_of));
    c.insert("securityContext".into(), container_security());
    c.insert("volumeMounts".into(), json!(mounts));
    c
}

fn run_mounts() -> Vec<Value> {
    vec![
        json!({"name": "rules", "mountPath": RULES_MOUNT, "readOnly": true}),
        json!({"name": "tmp", "mountPath": "/tmp"}),
    ]
}

fn run_volumes(sources: &Sources<'_>) -> Vec<Value> {
    vec![
        rules_volume(&sources.files),
        json!({"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}),
    ]
}

/// When a CronJob runs and how long a run may wait and take.
struct Timing<'a> {
    /// 5 fields, minute first.
    schedule: String,
    time_zone: Option<&'a str>,
    starting_deadline_s: u64,
    active_deadline_s: u64,
}

fn cronjob(
    name: &str,
    component: &str,
    settings: &ManifestSettings,
    timing: Timing<'_>,
    pod_spec: Value,
) -> Value {
    let active_deadline_s = timing.active_deadline_s;
    let mut spec = serde_json::Map::new();
    spec.insert("schedule".into(), json!(timing.schedule));
    if let Some(zone) = timing.time_zone {
        spec.insert("timeZone".into(), json!(zone));
    }
    spec.insert("concurrencyPolicy".into(), json!("Forbid"));
    spec.insert(
        "startingDeadlineSeconds".into(),
        json!(timing.starting_deadline_s),
    );
    spec.insert("successfulJobsHistoryLimit".into(), json!(3));
    spec.insert("failedJobsHistoryLimit".into(), json!(3));
    spec.insert(
        "jobTemplate".into(),
        json!({
            "metadata": {"labels": labels(component)},
            "spec": {
                // A failed run is not retried: the next tick is the retry, and the dead-man
                // check and the run's own `/fail` ping say it failed.
                "backoffLimit": 0,
                "activeDeadlineSeconds": active_deadline_s,
                "ttlSecondsAfterFinished": 3600,
                "template": {
                    "metadata": {"labels": labels(component)},
                    "spec": pod_spec,
                },
            },
        }),
    );
    json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(name, component, settings),
        "spec": spec,
    })
}

/// The CronJob of one job: `forewarn run JOB` on the job's schedule, bounded by its budget.
pub fn job_cronjob(
    sources: &Sources<'_>,
    job: &Job,
    settings: &ManifestSettings,
) -> Result<Value, ManifestError> {
    let schedule = JobSchedule::of(job)?;
    let deadman_key = format!(
        "FOREWARN_DEADMAN_URL_{}",
        job.name.to_uppercase().replace('-', "_")
    );
    let container = container(
        settings,
        &["run", &job.name],
        run_env(sources, settings, &deadman_key),
        &RUN_RESOURCES,
        run_mounts(),
    );
    let pod = json!({
        "serviceAccountName": SERVICE_ACCOUNT,
        "restartPolicy": "Never",
        "securityContext": pod_security(),
        "containers": [container],
        "volumes": run_volumes(sources),
    });
    let component = format!("job-{}", job.name);
    Ok(cronjob(
        &format!("forewarn-{}", job.name),
        &component,
        settings,
        Timing {
            schedule: kubernetes_schedule(job)?,
            time_zone: job.time_zone.as_deref(),
            starting_deadline_s: schedule.starting_deadline().as_secs(),
            active_deadline_s: schedule.run_budget().as_secs(),
        },
        pod,
    ))
}

/// The canary's name in the heartbeat findings (its cluster comes from the collector).
pub const CANARY_NAME: &str = "forewarn-pipeline";

/// The canary: one heartbeat a minute on stdout, through the cluster's log pipeline. No API
/// access (no token mounted), no secrets, no rules. Its pods carry no `app` label: the
/// default matcher's `app=*canary*` would make their other log lines beats too.
pub fn canary_cronjob(settings: &ManifestSettings) -> Value {
    let container = container(
        settings,
        &["canary", "--name", CANARY_NAME],
        Vec::new(),
        &CANARY_RESOURCES,
        Vec::new(),
    );
    let pod = json!({
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": false,
        "restartPolicy": "Never",
        "securityContext": pod_security(),
        "containers": [container],
    });
    cronjob(
        "forewarn-canary",
        "canary",
        settings,
        Timing {
            schedule: "* * * * *".into(),
            time_zone: None,
            starting_deadline_s: 30,
            active_deadline_s: 30,
        },
        pod,
    )
}

/// `forewarn serve`: two replicas, one runs jobs (the Lease), both answer probes.
pub fn serve_deployment(sources: &Sources<'_>, settings: &ManifestSettings) -> Value {
    let mut container = container(
        settings,
        &[
            "serve",
            "--listen",
            &format!("0.0.0.0:{SERVE_PORT}"),
            "--shutdown-grace",
            &format!("{SERVE_SHUTDOWN_GRACE_S}s"),
            "--lease",
            super::access::LEASE_NAME,
        ],
        run_env(sources, settings, "FOREWARN_DEADMAN_URL"),
        &RUN_RESOURCES,
        run_mounts(),
    );
    container.insert(
        "ports".into(),
        json!([{"name": "http", "containerPort": SERVE_PORT, "protocol": "TCP"}]),
    );
    container.insert(
        "livenessProbe".into(),
        json!({
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        }),
    );
    container.insert(
        "readinessProbe".into(),
        json!({
            "httpGet": {"path": "/readyz", "port": "http"},
            "initialDelaySeconds": 5,
            "periodSeconds": 15,
            "timeoutSeconds": 10,
            "failureThreshold": 2,
        }),
    );
    let selector = json!({
        "app.kubernetes.io/name": "forewarn",
        "app.kubernetes.io/component": "serve",
    });
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata("forewarn-serve", "serve", settings),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "template": {
                "metadata": {
                    "labels": labels("serve"),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": SERVE_PORT.to_string(),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "securityContext": pod_security(),
                    // In-flight runs get the shutdown grace, plus time to exit.
                    "terminationGracePeriodSeconds": SERVE_SHUTDOWN_GRACE_S + 15,
                    "containers": [container],
                    "volumes": run_volumes(sources),
                },
            },
        },
    })
}

pub fn serve_pdb(settings: &ManifestSettings) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata("forewarn-serve", "serve", settings),
        "spec": {
            "minAvailable": 1,
            "selector": {"matchLabels": {
                "app.kubernetes.io/name": "forewarn",
                "app.kubernetes.io/component": "serve",
            }},
        },
    })
}
