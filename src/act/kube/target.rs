//! What a remediation acts on: the workload that owns a pod, found through the API.
//!
//! A finding names a pod; restarts, rollbacks and memory raises act on its controller. The
//! chain follows `metadata.ownerReferences` entries with `controller: true`: Pod → ReplicaSet →
//! Deployment, Pod → StatefulSet / DaemonSet, Pod → Job → CronJob. A pod without a controller
//! is its own target.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::error::{KubeActionError, ObjectRef};
use super::request::{checked_name, send, PlannedRequest};
use super::KubeContext;

/// The findings' workload kind: one type from detection to remediation.
pub use crate::findings::WorkloadKind;

/// What the Kubernetes API needs to know of a workload kind.
impl WorkloadKind {
    /// The API group ("" is core).
    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Deployment
            | WorkloadKind::StatefulSet
            | WorkloadKind::DaemonSet
            | WorkloadKind::ReplicaSet => "apps",
            WorkloadKind::Job | WorkloadKind::CronJob => "batch",
            WorkloadKind::Pod => "",
        }
    }

    /// The plural resource name in paths and RBAC rules.
    pub fn resource(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::Job => "jobs",
            WorkloadKind::CronJob => "cronjobs",
            WorkloadKind::ReplicaSet => "replicasets",
            WorkloadKind::Pod => "pods",
        }
    }

    /// The `kind` field of such an object.
    pub fn kind_name(self) -> &'static str {
        self.as_str()
    }

    fn api_version(self) -> &'static str {
        match self.group() {
            "apps" => "apps/v1",
            "batch" => "batch/v1",
            _ => "v1",
        }
    }

    /// The kind an ownerReference names (`kind` and `apiVersion` both checked).
    fn of_owner(kind: &str, api_version: &str) -> Option<WorkloadKind> {
        [
            WorkloadKind::Deployment,
            WorkloadKind::StatefulSet,
            WorkloadKind::DaemonSet,
            WorkloadKind::Job,
            WorkloadKind::CronJob,
            WorkloadKind::ReplicaSet,
            WorkloadKind::Pod,
        ]
        .into_iter()
        .find(|k| k.kind_name() == kind && k.api_version() == api_version)
    }
}

/// A workload (or a bare pod) to act on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Target {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
}

impl Target {
    /// The object itself.
    pub fn object(&self) -> ObjectRef {
        ObjectRef {
            group: self.kind.group().to_string(),
            resource: self.kind.resource().to_string(),
            subresource: None,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// The workload that controls `pod` in `namespace`: its owner chain, read through the API.
pub async fn resolve_owner(
    ctx: &KubeContext,
    namespace: &str,
    pod: &str,
) -> Result<Target, KubeActionError> {
    let pod = Target {
        kind: WorkloadKind::Pod,
        namespace: checked_name("namespace", namespace)?.to_string(),
        name: checked_name("pod", pod)?.to_string(),
    };
    let Some(owner) = owner_of(ctx, &pod).await?.0 else {
        return Ok(pod);
    };
    // A ReplicaSet is normally a Deployment's, a Job a CronJob's: follow one more link.
    let grand_kind = match owner.kind {
        WorkloadKind::ReplicaSet => WorkloadKind::Deployment,
        WorkloadKind::Job => WorkloadKind::CronJob,
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => return Ok(owner),
        other => return Err(unexpected_controller(&pod, other, &owner.name)),
    };
    match owner_of(ctx, &owner).await?.0 {
        None => Ok(owner),
        Some(grand) if grand.kind == grand_kind => Ok(grand),
        Some(grand) => Err(unexpected_controller(&owner, grand.kind, &grand.name)),
    }
}

/// The workload behind a pod and what a runbook's fence and triggers need to know of it,
/// from the same reads as [`resolve_owner`] (pod, its controller, that one's controller).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadFacts {
    pub target: Target,
    /// The target's own labels (where an opt-out label is looked for).
    pub labels: BTreeMap<String, String>,
    /// When the rollout that made the pod's ReplicaSet started (its creation time), if the
    /// pod belongs to the Deployment's current revision.
    pub rollout_started_at: Option<OffsetDateTime>,
}

/// [`resolve_owner`] with the target's labels and its latest rollout (one more read: the
/// target itself, for its labels).
pub async fn resolve_facts(
    ctx: &KubeContext,
    namespace: &str,
    pod: &str,
) -> Result<WorkloadFacts, KubeActionError> {
    let pod = Target {
        kind: WorkloadKind::Pod,
        namespace: checked_name("namespace", namespace)?.to_string(),
        name: checked_name("pod", pod)?.to_string(),
    };
    let (owner, pod_object) = owner_of(ctx, &pod).await?;
    let Some(owner) = owner else {
        return Ok(facts_of(pod, &pod_object, None));
    };
    // A ReplicaSet is normally a Deployment's, a Job a CronJob's: follow one more link.
    let grand_kind = match owner.kind {
        WorkloadKind::ReplicaSet => WorkloadKind::Deployment,
        WorkloadKind::Job => WorkloadKind::CronJob,
        WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
            let object = send(ctx, &PlannedRequest::read(owner.object())).await?;
            return Ok(facts_of(owner, &object, None));
        }
        other => return Err(unexpected_controller(&pod, other, &owner.name)),
    };
    let (grand, owner_object) = owner_of(ctx, &owner).await?;
    match grand {
        None => Ok(facts_of(owner, &owner_object, None)),
        Some(grand) if grand.kind == grand_kind => {
            let object = send(ctx, &PlannedRequest::read(grand.object())).await?;
            let current = |o: &Value| {
                o["metadata"]["annotations"][super::rollback::REVISION_ANNOTATION]
                    .as_str()
                    .map(str::to_string)
            };
            let rollout = (grand.kind == WorkloadKind::Deployment
                && current(&owner_object).is_some()
                && current(&owner_object) == current(&object))
            .then(|| created_at(&owner_object))
            .flatten();
            Ok(facts_of(grand, &object, rollout))
        }
        Some(grand) => Err(unexpected_controller(&owner, grand.kind, &grand.name)),
    }
}

/// The facts of a workload named directly (when the pod a finding names is gone): its
/// labels, read with one request.
pub async fn workload_facts(
    ctx: &KubeContext,
    target: &Target,
) -> Result<WorkloadFacts, KubeActionError> {
    checked_name("namespace", &target.namespace)?;
    checked_name("workload", &target.name)?;
    let object = send(ctx, &PlannedRequest::read(target.object())).await?;
    Ok(facts_of(target.clone(), &object, None))
}

/// The facts of the Deployment behind a service a finding names (error rates are per
/// service): by convention the Deployment named like the service in its namespace — the
/// OpenTelemetry service name Kubernetes operators give a workload — with its latest rollout:
/// the creation time of the ReplicaSet of its current revision (one list of its
/// ReplicaSets, as `kubectl rollout history` reads them).
pub async fn service_facts(
    ctx: &KubeContext,
    namespace: &str,
    service: &str,
) -> Result<WorkloadFacts, KubeActionError> {
    let target = Target {
        kind: WorkloadKind::Deployment,
        namespace: checked_name("namespace", namespace)?.to_string(),
        name: checked_name("service", service)?.to_string(),
    };
    let (deployment, replicasets) =
        super::rollback::deployment_and_replicasets(ctx, &target).await?;
    let uid = deployment["metadata"]["uid"].as_str().unwrap_or_default();
    let revision = |o: &Value| {
        o["metadata"]["annotations"][super::rollback::REVISION_ANNOTATION]
            .as_str()
            .map(str::to_string)
    };
    let rollout = replicasets
        .iter()
        .filter(|rs| {
            rs["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| {
                    refs.iter().any(|r| {
                        r["controller"].as_bool() == Some(true) && r["uid"].as_str() == Some(uid)
                    })
                })
        })
        .find(|rs| revision(rs).is_some() && revision(rs) == revision(&deployment))
        .and_then(created_at);
    Ok(facts_of(target, &deployment, rollout))
}

fn facts_of(target: Target, object: &Value, rollout: Option<OffsetDateTime>) -> WorkloadFacts {
    let labels = object["metadata"]["labels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    WorkloadFacts {
        target,
        labels,
        rollout_started_at: rollout,
    }
}

fn created_at(object: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(
        object["metadata"]["creationTimestamp"].as_str()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()
}

/// Reads `object` and returns its controller, if it has one, with the object as read.
async fn owner_of(
    ctx: &KubeContext,
    object: &Target,
) -> Result<(Option<Target>, Value), KubeActionError> {
    let answer = send(ctx, &PlannedRequest::read(object.object())).await?;
    let Some((kind, name)) = controller_of(&answer) else {
        return Ok((None, answer));
    };
    let Some(kind) = kind else {
        return Err(KubeActionError::Unexpected {
            verb: "get",
            object: Box::new(object.object()),
            detail: format!(
                "controlled by {}, which forewarn cannot act on",
                describe_controller(&answer)
            ),
        });
    };
    let owner = Target {
        kind,
        namespace: object.namespace.clone(),
        name: checked_name("owner", &name)?.to_string(),
    };
    Ok((Some(owner), answer))
}

fn unexpected_controller(of: &Target, kind: WorkloadKind, name: &str) -> KubeActionError {
    KubeActionError::Unexpected {
        verb: "get",
        object: Box::new(of.object()),
        detail: format!("controlled by {kind} {name}, which forewarn cannot act on"),
    }
}

/// The controller ownerReference: `(kind if known, name)`.
fn controller_of(object: &Value) -> Option<(Option<WorkloadKind>, String)> {
    let owner = object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"].as_bool() == Some(true))?;
    let kind = WorkloadKind::of_owner(
        owner["kind"].as_str().unwrap_or_default(),
        owner["apiVersion"].as_str().unwrap_or_default(),
    );
    Some((kind, owner["name"].as_str()?.to_string()))
}

fn describe_controller(object: &Value) -> String {
    object["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|refs| {
            refs.iter()
                .find(|r| r["controller"].as_bool() == Some(true))
        })
        .map(|r| {
            format!(
                "{} {} ({})",
                r["kind"].as_str().unwrap_or("?"),
                r["name"].as_str().unwrap_or("?"),
                r["apiVersion"].as_str().unwrap_or("?")
            )
        })
        .unwrap_or_default()
}
