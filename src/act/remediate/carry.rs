//! Carrying out one recorded cluster action through [`crate::act::kube`]: the step resolved
//! from the record (its entity names the pod and container), planned from a fresh read, then
//! sent with server-side dry run (`dry_run`), only planned (`approve`: recorded as pending),
//! or applied (`auto`, and an approval). What happened comes back as the status and the
//! [`ActionUpdate`] to record; nothing here writes to the state.

use serde_json::json;

use crate::act::kube::{self, DryRun, KubeActionError, KubeContext, PlannedRequest, Target};
use crate::config::runbooks::Mode;
use crate::findings::WorkloadKind;

use super::record::{ActionRecord, ActionStatus, ActionUpdate};

/// How far to go with a recorded action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carry {
    /// Send it with `dryRun=All`: the API server says whether it would accept it.
    DryRun,
    /// Read and describe the request only (it waits for an approval).
    PlanOnly,
    /// Send it.
    Apply,
}

impl Carry {
    /// What a run does with an action of `mode`.
    pub fn for_mode(mode: Mode) -> Carry {
        match mode {
            Mode::DryRun => Carry::DryRun,
            Mode::Approve => Carry::PlanOnly,
            Mode::Auto => Carry::Apply,
        }
    }
}

/// What carrying out an action did.
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub status: ActionStatus,
    pub update: ActionUpdate,
    /// The request, as sent or as it would be sent.
    pub request: Option<PlannedRequest>,
    /// An API failure that a person must fix (403, timeouts, refusals): escalated.
    pub needs_person: bool,
}

/// The request as recorded: verb, path, query, content type, body.
pub fn request_json(request: &PlannedRequest) -> serde_json::Value {
    json!({
        "verb": request.verb.rbac(),
        "method": request.verb.method(),
        "path": request.path,
        "query": request.query,
        "content_type": request.content_type,
        "body": request.body,
    })
}

fn kind_of(name: &str) -> Option<WorkloadKind> {
    WorkloadKind::ALL.into_iter().find(|k| k.as_str() == name)
}

/// The kube target of a record (`None` without one, or with an unknown kind).
pub fn kube_target(record: &ActionRecord) -> Option<Target> {
    let target = record.target.as_ref()?;
    Some(Target {
        kind: kind_of(&target.kind)?,
        namespace: target.namespace.clone(),
        name: target.name.clone(),
    })
}

/// Plans and (per `carry`) sends the cluster step of `record`.
pub async fn carry_out(ctx: &KubeContext, record: &ActionRecord, carry: Carry) -> Carried {
    let update = |detail: String, request: Option<&PlannedRequest>| ActionUpdate {
        runbook: record.runbook.clone(),
        target: record.target.clone(),
        detail,
        reason: None,
        request: request.map(request_json),
    };
    let failed = |detail: String, needs_person: bool| Carried {
        status: ActionStatus::Failed,
        update: update(detail, None),
        request: None,
        needs_person,
    };
    let Some(target) = kube_target(record) else {
        return failed("the action has no workload to act on".into(), false);
    };
    let Some(step) = record.step.kube_step(&record.entity) else {
        return failed(
            format!(
                "step {} needs the finding's pod or container, which it does not name",
                record.step.name()
            ),
            false,
        );
    };
    let dry_run = match carry {
        Carry::DryRun => DryRun::Server,
        Carry::PlanOnly | Carry::Apply => DryRun::No,
    };
    let plan = match kube::plan(ctx, &step, &target, dry_run).await {
        Ok(plan) => plan,
        Err(error) => return from_error(record, &error, None, update),
    };
    if carry == Carry::PlanOnly {
        let detail = format!("waiting for approval: {}", plan.summary);
        return Carried {
            status: ActionStatus::Pending,
            update: update(detail, Some(&plan.request)),
            request: Some(plan.request),
            needs_person: false,
        };
    }
    let planned = plan.request.clone();
    match kube::apply(ctx, plan).await {
        Ok(applied) => {
            let retried = if applied.attempts > 1 {
                format!(
                    " (after a 409 Conflict, on a fresh read: attempt {})",
                    applied.attempts
                )
            } else {
                String::new()
            };
            let (status, detail) = match carry {
                Carry::DryRun => (
                    ActionStatus::DryRun,
                    format!(
                        "the API server accepts it (dry run, nothing changed): {}{retried}",
                        applied.summary
                    ),
                ),
                _ => (
                    ActionStatus::Applied,
                    format!("{}{retried}", applied.summary),
                ),
            };
            Carried {
                status,
                update: update(detail, Some(&applied.request)),
                request: Some(applied.request),
                needs_person: false,
            }
        }
        Err(error) => from_error(record, &error, Some(planned), update),
    }
}

fn from_error(
    record: &ActionRecord,
    error: &KubeActionError,
    request: Option<PlannedRequest>,
    update: impl Fn(String, Option<&PlannedRequest>) -> ActionUpdate,
) -> Carried {
    let dry = record.mode == Mode::DryRun;
    if error.is_target_gone() {
        return Carried {
            status: ActionStatus::Gone,
            update: update(format!("skipped: {error}"), request.as_ref()),
            request,
            needs_person: false,
        };
    }
    let not_applicable = matches!(error, KubeActionError::NotApplicable { .. });
    let detail = if dry {
        format!("the API server would refuse it (dry run): {error}")
    } else {
        error.to_string()
    };
    Carried {
        // A dry run that the API server rejects is still a dry run: nothing was tried.
        status: if dry {
            ActionStatus::DryRun
        } else {
            ActionStatus::Failed
        },
        update: update(detail, request.as_ref()),
        request,
        needs_person: !not_applicable,
    }
}
