//! The remediation steps: each is planned from a fresh read (a [`Plan`] holds the exact request
//! it will send, so it can be recorded and printed first) and then applied.
//!
//! - rollout restart: the strategic-merge patch `kubectl rollout restart` sends
//!   (`spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]`);
//! - rollback: the previous ReplicaSet's template as a merge patch (`kubectl rollout undo`);
//! - delete one pod; scale within bounds through the `scale` subresource;
//! - raise a container's memory limit (and request) on the owning workload's pod template, a
//!   strategic-merge patch that merges `containers` by name.
//!
//! Patches computed from what was read (rollback, scale, memory) carry the object's
//! `resourceVersion`, so a concurrent change makes the API server answer 409 instead of being
//! overwritten. [`apply`] answers a 409 by planning again from a fresh read and sending once
//! more; a second 409 is returned.

use std::fmt;

use serde::Serialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use super::error::{KubeActionError, ObjectRef};
use super::memory::{format_bytes, parse_bytes, raised_bytes};
use super::request::{
    checked_name, send, DryRun, PlannedRequest, MERGE_PATCH, STRATEGIC_MERGE_PATCH,
};
use super::rollback::{previous_revision, replacing_merge_patch};
use super::target::{Target, WorkloadKind};
use super::KubeContext;

pub const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";

/// A step of a runbook, with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Restart a Deployment, StatefulSet or DaemonSet.
    RolloutRestart,
    /// Roll a Deployment back to its previous revision.
    Rollback,
    /// Delete one pod (in the target's namespace); its controller replaces it.
    DeletePod { pod: String },
    /// Change a Deployment's or StatefulSet's replicas by `by`, kept within the bounds.
    Scale {
        by: i32,
        min_replicas: i32,
        max_replicas: i32,
    },
    /// Raise a container's memory limit on the owning workload's pod template.
    RaiseMemory(MemoryRaise),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryRaise {
    pub container: String,
    /// The multiplier (> 1).
    pub factor: f64,
    /// The new limit never exceeds this.
    pub cap_bytes: u64,
    /// Raise the memory request by the same factor too (never above the new limit).
    pub raise_request: bool,
}

/// The kind of a step, without parameters (what RBAC rules are derived from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    RolloutRestart,
    Rollback,
    DeletePod,
    Scale,
    RaiseMemory,
}

impl StepKind {
    pub const ALL: [StepKind; 5] = [
        StepKind::RolloutRestart,
        StepKind::Rollback,
        StepKind::DeletePod,
        StepKind::Scale,
        StepKind::RaiseMemory,
    ];
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepKind::RolloutRestart => "rollout restart",
            StepKind::Rollback => "rollback",
            StepKind::DeletePod => "delete pod",
            StepKind::Scale => "scale",
            StepKind::RaiseMemory => "raise memory",
        })
    }
}

impl Step {
    pub fn kind(&self) -> StepKind {
        match self {
            Step::RolloutRestart => StepKind::RolloutRestart,
            Step::Rollback => StepKind::Rollback,
            Step::DeletePod { .. } => StepKind::DeletePod,
            Step::Scale { .. } => StepKind::Scale,
            Step::RaiseMemory(_) => StepKind::RaiseMemory,
        }
    }
}

/// A step ready to send: the exact request and a one-line description of what it does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub step: Step,
    pub target: Target,
    pub dry_run: DryRun,
    pub request: PlannedRequest,
    /// What the request does, for people: `scale Deployment shop/web from 2 to 4 replicas`.
    pub summary: String,
}

/// A step the API server accepted (or, in dry run, would accept).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// The request that succeeded (after a 409, the re-planned one).
    pub request: PlannedRequest,
    pub summary: String,
    /// The object as stored (or, in dry run, as it would be stored).
    pub response: Value,
    /// 1, or 2 when a 409 was answered by a fresh read and a second request.
    pub attempts: u32,
}

/// Reads what `step` needs about `target` and describes the request it will send.
pub async fn plan(
    ctx: &KubeContext,
    step: &Step,
    target: &Target,
    dry_run: DryRun,
) -> Result<Plan, KubeActionError> {
    let (request, summary) = match step {
        Step::RolloutRestart => plan_restart(ctx, target, dry_run).await?,
        Step::Rollback => plan_rollback(ctx, target, dry_run).await?,
        Step::DeletePod { pod } => plan_delete_pod(target, pod, dry_run)?,
        Step::Scale {
            by,
            min_replicas,
            max_replicas,
        } => plan_scale(ctx, target, *by, *min_replicas, *max_replicas, dry_run).await?,
        Step::RaiseMemory(raise) => plan_raise_memory(ctx, target, raise, dry_run).await?,
    };
    Ok(Plan {
        step: step.clone(),
        target: target.clone(),
        dry_run,
        request,
        summary,
    })
}

/// Sends a plan; a 409 is answered by planning again from a fresh read and sending once more.
pub async fn apply(ctx: &KubeContext, plan: Plan) -> Result<Applied, KubeActionError> {
    match send(ctx, &plan.request).await {
        Ok(response) => Ok(Applied {
            request: plan.request,
            summary: plan.summary,
            response,
            attempts: 1,
        }),
        Err(e) if e.is_conflict() => {
            tracing::info!(step = %plan.step.kind(), target = %plan.target, "409 Conflict: planning again from a fresh read");
            let fresh = self::plan(ctx, &plan.step, &plan.target, plan.dry_run).await?;
            match send(ctx, &fresh.request).await {
                Ok(response) => Ok(Applied {
                    request: fresh.request,
                    summary: fresh.summary,
                    response,
                    attempts: 2,
                }),
                Err(KubeActionError::Conflict {
                    verb,
                    object,
                    message,
                    ..
                }) => Err(KubeActionError::Conflict {
                    verb,
                    object,
                    attempts: 2,
                    message,
                }),
                Err(other) => Err(other),
            }
        }
        Err(e) => Err(e),
    }
}

/// [`plan`] then [`apply`].
pub async fn run_step(
    ctx: &KubeContext,
    step: &Step,
    target: &Target,
    dry_run: DryRun,
) -> Result<Applied, KubeActionError> {
    apply(ctx, plan(ctx, step, target, dry_run).await?).await
}

fn not_applicable(step: StepKind, target: &Target, why: impl Into<String>) -> KubeActionError {
    KubeActionError::NotApplicable {
        step,
        target: target.clone(),
        why: why.into(),
    }
}

fn require_kind(
    step: StepKind,
    target: &Target,
    allowed: &[WorkloadKind],
) -> Result<(), KubeActionError> {
    if allowed.contains(&target.kind) {
        Ok(())
    } else {
        let names: Vec<String> = allowed.iter().map(|k| k.to_string()).collect();
        Err(not_applicable(
            step,
            target,
            format!("only a {} can be acted on this way", names.join(" or ")),
        ))
    }
}

fn resource_version(object: &Value) -> Value {
    object["metadata"]["resourceVersion"].clone()
}

async fn plan_restart(
    ctx: &KubeContext,
    target: &Target,
    dry_run: DryRun,
) -> Result<(PlannedRequest, String), KubeActionError> {
    use WorkloadKind::*;
    require_kind(
        StepKind::RolloutRestart,
        target,
        &[Deployment, StatefulSet, DaemonSet],
    )?;
    let current = send(ctx, &PlannedRequest::read(target.object())).await?;
    if current["spec"]["paused"].as_bool() == Some(true) {
        return Err(not_applicable(
            StepKind::RolloutRestart,
            target,
            "the Deployment is paused (resume it first, as kubectl requires)",
        ));
    }
    let restarted_at = (ctx.clock)()
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .expect("0 ns is valid")
        .format(&Rfc3339)
        .expect("a UTC time formats as RFC 3339");
    let body = json!({"spec": {"template": {"metadata": {"annotations": {
        RESTARTED_AT_ANNOTATION: restarted_at}}}}});
    let summary = format!("rollout restart {target} (restartedAt {restarted_at})");
    Ok((
        PlannedRequest::patch(target.object(), STRATEGIC_MERGE_PATCH, body, dry_run),
        summary,
    ))
}

async fn plan_rollback(
    ctx: &KubeContext,
    target: &Target,
    dry_run: DryRun,
) -> Result<(PlannedRequest, String), KubeActionError> {
    require_kind(StepKind::Rollback, target, &[WorkloadKind::Deployment])?;
    let (deployment, items) = super::rollback::deployment_and_replicasets(ctx, target).await?;
    let previous = previous_revision(&deployment, &items)
        .map_err(|why| not_applicable(StepKind::Rollback, target, why))?;
    let Some(template_patch) =
        replacing_merge_patch(&deployment["spec"]["template"], &previous.template)
    else {
        return Err(not_applicable(
            StepKind::Rollback,
            target,
            format!(
                "the current template already matches revision {}",
                previous.revision
            ),
        ));
    };
    let body = json!({"metadata": {"resourceVersion": resource_version(&deployment)},
                      "spec": {"template": template_patch}});
    let summary = format!(
        "roll back {target} from revision {} to revision {} (ReplicaSet {})",
        previous.current_revision, previous.revision, previous.replicaset
    );
    Ok((
        PlannedRequest::patch(target.object(), MERGE_PATCH, body, dry_run),
        summary,
    ))
}

fn plan_delete_pod(
    target: &Target,
    pod: &str,
    dry_run: DryRun,
) -> Result<(PlannedRequest, String), KubeActionError> {
    let pod = Target {
        kind: WorkloadKind::Pod,
        namespace: target.namespace.clone(),
        name: checked_name("pod", pod)?.to_string(),
    };
    let summary = format!("delete {pod} (its controller {target} replaces it)");
    Ok((PlannedRequest::delete(pod.object(), dry_run), summary))
}

async fn plan_scale(
    ctx: &KubeContext,
    target: &Target,
    by: i32,
    min_replicas: i32,
    max_replicas: i32,
    dry_run: DryRun,
) -> Result<(PlannedRequest, String), KubeActionError> {
    use WorkloadKind::*;
    require_kind(StepKind::Scale, target, &[Deployment, StatefulSet])?;
    if min_replicas < 0 || min_replicas > max_replicas {
        return Err(not_applicable(
            StepKind::Scale,
            target,
            format!("the bounds {min_replicas}..={max_replicas} are empty or negative"),
        ));
    }
    let scale_object = ObjectRef {
        subresource: Some("scale".into()),
        ..target.object()
    };
    let scale = send(ctx, &PlannedRequest::read(scale_object.clone())).await?;
    let Some(current) = scale["spec"]["replicas"].as_i64() else {
        return Err(KubeActionError::Unexpected {
            verb: "get",
            object: Box::new(scale_object),
            detail: "the Scale has no spec.replicas".into(),
        });
    };
    let desired = (current + i64::from(by)).clamp(i64::from(min_replicas), i64::from(max_replicas));
    if desired == current {
        return Err(not_applicable(
            StepKind::Scale,
            target,
            format!("already at {current} replicas, the bound of {min_replicas}..={max_replicas}"),
        ));
    }
    let body = json!({"metadata": {"resourceVersion": resource_version(&scale)},
                      "spec": {"replicas": desired}});
    let summary = format!(
        "scale {target} from {current} to {desired} replicas (asked {by:+}, bounds {min_replicas}..={max_replicas})"
    );
    Ok((
        PlannedRequest::patch(scale_object, MERGE_PATCH, body, dry_run),
        summary,
    ))
}

async fn plan_raise_memory(
    ctx: &KubeContext,
    target: &Target,
    raise: &MemoryRaise,
    dry_run: DryRun,
) -> Result<(PlannedRequest, String), KubeActionError> {
    use WorkloadKind::*;
    let step = StepKind::RaiseMemory;
    if target.kind == Pod {
        return Err(not_applicable(
            step,
            target,
            "a bare pod's resources cannot be changed (the API server rejects it); it has no \
             controller whose template could be patched",
        ));
    }
    require_kind(step, target, &[Deployment, StatefulSet, DaemonSet])?;
    if !(raise.factor.is_finite() && raise.factor > 1.0) {
        return Err(not_applicable(
            step,
            target,
            format!("the factor {} must be above 1", raise.factor),
        ));
    }
    let workload = send(ctx, &PlannedRequest::read(target.object())).await?;
    let containers = workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(container) = containers
        .iter()
        .find(|c| c["name"].as_str() == Some(raise.container.as_str()))
    else {
        return Err(not_applicable(
            step,
            target,
            format!("it has no container {:?}", raise.container),
        ));
    };
    let memory_of = |field: &str| -> Result<Option<(String, u64)>, KubeActionError> {
        let Some(quantity) = container["resources"][field]["memory"].as_str() else {
            return Ok(None);
        };
        let bytes = parse_bytes(quantity).ok_or_else(|| {
            not_applicable(
                step,
                target,
                format!(
                    "container {:?} {field}.memory {quantity:?} is not a quantity",
                    raise.container
                ),
            )
        })?;
        Ok(Some((quantity.to_string(), bytes)))
    };
    let Some((old_limit, old_limit_bytes)) = memory_of("limits")? else {
        return Err(not_applicable(
            step,
            target,
            format!(
                "container {:?} has no memory limit to raise",
                raise.container
            ),
        ));
    };
    let new_limit_bytes = raised_bytes(old_limit_bytes, raise.factor, raise.cap_bytes);
    if new_limit_bytes <= old_limit_bytes {
        return Err(not_applicable(
            step,
            target,
            format!(
                "container {:?} memory limit {old_limit} is already at or above the cap {}",
                raise.container,
                format_bytes(raise.cap_bytes)
            ),
        ));
    }
    let new_limit = format_bytes(new_limit_bytes);
    let mut resources = json!({"limits": {"memory": new_limit}});
    let mut summary = format!(
        "raise {target} container {:?} memory limit {old_limit} → {new_limit}",
        raise.container
    );
    if raise.raise_request {
        if let Some((old_request, old_request_bytes)) = memory_of("requests")? {
            let new_request = format_bytes(raised_bytes(
                old_request_bytes,
                raise.factor,
                new_limit_bytes,
            ));
            summary.push_str(&format!(", request {old_request} → {new_request}"));
            resources["requests"] = json!({"memory": new_request});
        }
    }
    let body = json!({
        "metadata": {"resourceVersion": resource_version(&workload)},
        "spec": {"template": {"spec": {"containers": [
            {"name": raise.container, "resources": resources}
        ]}}}
    });
    Ok((
        PlannedRequest::patch(target.object(), STRATEGIC_MERGE_PATCH, body, dry_run),
        summary,
    ))
}
