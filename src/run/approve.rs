//! What a person does about recorded actions: `forewarn approve ID` (the fence checked again
//! against the cluster and the history as they are now, then the action applied exactly
//! once), `forewarn reject ID --reason TEXT`, and `forewarn actions` (the ledger as a list,
//! or per runbook how many actions were applied and how many helped).
//!
//! Approving twice applies once: an action that is no longer pending is not sent again, and
//! two approvals racing each other are ordered by the store's atomic claim of the slot
//! `approve:ID`, so only one of them sends.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::act::kube;
use crate::act::remediate::carry::{carry_out, kube_target, Carry};
use crate::act::remediate::record::LedgerAction;
use crate::act::remediate::{ActionStatus, ActionUpdate, Fence, Ledger, TargetFacts, TargetRef};
use crate::config::runbooks::RunbookSet;
use crate::state::history::{EventKind, HistoryEvent, NewEvent};
use crate::state::{StateError, StateStore};

use super::remediate::{ActionLine, KubeAccess};

#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no action {id} in the state (see `forewarn actions`)")]
    Unknown { id: String },
    #[error("action {id} is {status}, not pending: only a pending action can be {what}")]
    NotPending {
        id: String,
        status: String,
        what: &'static str,
    },
    #[error("action {id}'s runbook `{runbook}` is not in the loaded runbooks")]
    NoRunbook { id: String, runbook: String },
    #[error("action {id}: {why}")]
    Kube { id: String, why: String },
    #[error("action {id} refused by the fence: {detail}")]
    Refused { id: String, detail: String },
    #[error(transparent)]
    State(#[from] StateError),
}

/// What `approve` did.
#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    pub line: ActionLine,
    /// Whether this call changed anything (false: it was already decided).
    pub acted: bool,
}

fn job_of(events: &[HistoryEvent], id: &str) -> Option<String> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::ActionRecorded { action_id } if action_id == id => Some(e.job.clone()),
        _ => None,
    })
}

/// The detail, the fence's reason and the request of the action's latest update.
fn last_detail(
    events: &[HistoryEvent],
    id: &str,
) -> (String, Option<String>, Option<serde_json::Value>) {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::ActionUpdated { action_id, .. } if action_id == id => Some((
                e.payload["detail"].as_str().unwrap_or_default().to_string(),
                e.payload["reason"].as_str().map(str::to_string),
                e.payload.get("request").filter(|r| !r.is_null()).cloned(),
            )),
            _ => None,
        })
        .unwrap_or_default()
}

fn line_of(id: &str, action: &LedgerAction, events: &[HistoryEvent]) -> ActionLine {
    let (detail, reason, request) = last_detail(events, id);
    let record = action.record.as_ref();
    ActionLine {
        action_id: id.to_string(),
        runbook: record.map(|r| r.runbook.clone()).unwrap_or_default(),
        step: record
            .map(|r| r.step.name().to_string())
            .unwrap_or_default(),
        target: action
            .target()
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-".into()),
        mode: record.map(|r| r.mode).unwrap_or_default(),
        outcome: action
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "recorded".into()),
        detail,
        reason,
        request,
        recorded: true,
    }
}

fn pending_ones(status: Option<ActionStatus>) -> bool {
    matches!(
        status,
        Some(ActionStatus::Pending) | Some(ActionStatus::Refused)
    )
}

/// Approves pending action `id` on behalf of `who`: checks the fence again with the
/// workload's labels as they are now, claims the approval, records it, applies the step and
/// records the outcome.
pub async fn approve(
    store: &impl StateStore,
    runbooks: &RunbookSet,
    kube_access: &KubeAccess,
    id: &str,
    who: &str,
    now: OffsetDateTime,
) -> Result<Decided, DecideError> {
    let events = store.action_events().await?;
    let ledger = Ledger::from_events(&events);
    let action = ledger
        .actions
        .get(id)
        .ok_or_else(|| DecideError::Unknown { id: id.into() })?;
    let status = action.status();
    if !pending_ones(status) {
        let done = matches!(
            status,
            Some(ActionStatus::Approved)
                | Some(ActionStatus::Applied)
                | Some(ActionStatus::Effective)
                | Some(ActionStatus::Ineffective)
                | Some(ActionStatus::Failed)
                | Some(ActionStatus::Gone)
        );
        if done {
            // Approved before: never sent again.
            return Ok(Decided {
                line: line_of(id, action, &events),
                acted: false,
            });
        }
        return Err(DecideError::NotPending {
            id: id.into(),
            status: status.map(|s| s.as_str()).unwrap_or("recorded").into(),
            what: "approved",
        });
    }
    let record = action
        .record
        .clone()
        .ok_or_else(|| DecideError::Unknown { id: id.into() })?;
    let runbook = runbooks
        .get(&record.runbook)
        .ok_or_else(|| DecideError::NoRunbook {
            id: id.into(),
            runbook: record.runbook.clone(),
        })?;
    let job = job_of(&events, id).unwrap_or_default();
    let run_id = crate::act::notify::DeadmanPinger::new_run_id();
    let ctx = kube_access.get().await.map_err(|e| DecideError::Kube {
        id: id.into(),
        why: e.to_string(),
    })?;
    let record_update = |status: ActionStatus, update: ActionUpdate| -> NewEvent {
        record.update_event(&update, status, now, &job, &run_id)
    };
    let base = ActionUpdate {
        runbook: record.runbook.clone(),
        target: record.target.clone(),
        detail: String::new(),
        reason: None,
        request: None,
    };
    // The fence again, as things are now (without the action itself).
    let target = kube_target(&record).ok_or_else(|| DecideError::Kube {
        id: id.into(),
        why: "the action names no workload".into(),
    })?;
    let facts = match kube::workload_facts(ctx, &target).await {
        Ok(f) => f,
        Err(e) if e.is_target_gone() => {
            let update = ActionUpdate {
                detail: format!("skipped: {e}"),
                ..base.clone()
            };
            store
                .append(&[record_update(ActionStatus::Gone, update.clone())])
                .await?;
            let mut line = line_of(id, action, &events);
            line.outcome = "gone".into();
            line.reason = None;
            line.detail = update.detail;
            return Ok(Decided { line, acted: true });
        }
        Err(e) => {
            return Err(DecideError::Kube {
                id: id.into(),
                why: e.to_string(),
            })
        }
    };
    let mut others = ledger.clone();
    others.actions.remove(id);
    let fence_facts = TargetFacts {
        target: TargetRef::new(
            &facts.target.namespace,
            facts.target.kind,
            &facts.target.name,
        ),
        labels: facts.labels,
        last_rollout_at: None,
    };
    if let Err(refusal) = Fence::new(runbooks).check_ledger(&others, runbook, &fence_facts, now, 1)
    {
        let update = ActionUpdate {
            detail: format!("at approval: {}", refusal.detail),
            reason: Some(refusal.reason.as_str().to_string()),
            ..base.clone()
        };
        store
            .append(&[record_update(ActionStatus::Refused, update)])
            .await?;
        return Err(DecideError::Refused {
            id: id.into(),
            detail: refusal.detail,
        });
    }
    if !store
        .claim_run(&job, &run_id, &format!("approve:{id}"))
        .await?
    {
        return Ok(Decided {
            line: line_of(id, action, &events),
            acted: false,
        });
    }
    store
        .append(&[record_update(
            ActionStatus::Approved,
            ActionUpdate {
                detail: format!("approved by {who}"),
                ..base.clone()
            },
        )])
        .await?;
    let carried = carry_out(ctx, &record, Carry::Apply).await;
    store
        .append(&[record_update(carried.status, carried.update.clone())])
        .await?;
    let mut line = line_of(id, action, &events);
    line.outcome = carried.status.as_str().into();
    line.reason = carried.update.reason;
    line.detail = carried.update.detail;
    line.request = carried.update.request;
    Ok(Decided { line, acted: true })
}

/// Rejects pending action `id` with `reason`: it is never applied.
pub async fn reject(
    store: &impl StateStore,
    id: &str,
    who: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Decided, DecideError> {
    let events = store.action_events().await?;
    let ledger = Ledger::from_events(&events);
    let action = ledger
        .actions
        .get(id)
        .ok_or_else(|| DecideError::Unknown { id: id.into() })?;
    if action.status() == Some(ActionStatus::Rejected) {
        return Ok(Decided {
            line: line_of(id, action, &events),
            acted: false,
        });
    }
    if !pending_ones(action.status()) {
        return Err(DecideError::NotPending {
            id: id.into(),
            status: action
                .status()
                .map(|s| s.as_str())
                .unwrap_or("recorded")
                .into(),
            what: "rejected",
        });
    }
    let job = job_of(&events, id).unwrap_or_default();
    let update = ActionUpdate {
        runbook: action.runbook().unwrap_or_default().to_string(),
        target: action.target().cloned(),
        detail: format!("rejected by {who}: {reason}"),
        reason: None,
        request: None,
    };
    store
        .append(&[match &action.record {
            Some(record) => record.update_event(&update, ActionStatus::Rejected, now, &job, "cli"),
            None => update.event(id, ActionStatus::Rejected, now, &job, "cli"),
        }])
        .await?;
    let mut line = line_of(id, action, &events);
    line.outcome = "rejected".into();
    line.detail = update.detail;
    Ok(Decided { line, acted: true })
}

/// Every action in the history, oldest first (refusals of actions never recorded included,
/// as `refused`).
pub fn action_lines(events: &[HistoryEvent]) -> Vec<ActionLine> {
    let ledger = Ledger::from_events(events);
    let mut lines: Vec<(OffsetDateTime, ActionLine)> = ledger
        .actions
        .iter()
        .map(|(id, a)| (a.recorded_at, line_of(id, a, events)))
        .collect();
    let mut refused: BTreeMap<String, (OffsetDateTime, ActionLine)> = BTreeMap::new();
    for e in events {
        if let EventKind::ActionUpdated { action_id, status } = &e.kind {
            if ledger.is_recorded(action_id) || status != "refused" {
                continue;
            }
            let update: Option<ActionUpdate> = serde_json::from_value(e.payload.clone()).ok();
            let Some(update) = update else { continue };
            refused.insert(
                action_id.clone(),
                (
                    e.at,
                    ActionLine {
                        action_id: action_id.clone(),
                        runbook: update.runbook,
                        step: "-".into(),
                        target: update
                            .target
                            .map(|t| t.to_string())
                            .unwrap_or_else(|| "-".into()),
                        mode: Default::default(),
                        outcome: "refused".into(),
                        detail: update.detail,
                        reason: update.reason,
                        request: None,
                        recorded: true,
                    },
                ),
            );
        }
    }
    lines.extend(refused.into_values());
    lines.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.action_id.cmp(&b.1.action_id)));
    lines.into_iter().map(|(_, l)| l).collect()
}

/// Per runbook: how many actions were recorded, are pending, were applied, helped, did not,
/// failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunbookStats {
    pub runbook: String,
    pub recorded: usize,
    pub pending: usize,
    pub applied: usize,
    pub effective: usize,
    pub ineffective: usize,
    pub failed: usize,
    pub dry_run: usize,
}

pub fn stats(events: &[HistoryEvent]) -> Vec<RunbookStats> {
    let ledger = Ledger::from_events(events);
    let mut by: BTreeMap<String, RunbookStats> = BTreeMap::new();
    // Notify / escalate steps are messages, not remediations.
    for action in ledger
        .actions
        .values()
        .filter(|a| a.record.as_ref().is_some_and(|r| r.step.writes_cluster()))
    {
        let name = action.runbook().unwrap_or("?").to_string();
        let s = by.entry(name.clone()).or_insert_with(|| RunbookStats {
            runbook: name,
            ..RunbookStats::default()
        });
        let ever = |status: ActionStatus| action.updates.iter().any(|(_, x)| *x == status);
        s.recorded += 1;
        s.pending += usize::from(action.status() == Some(ActionStatus::Pending));
        s.applied += usize::from(ever(ActionStatus::Applied));
        s.effective += usize::from(ever(ActionStatus::Effective));
        s.ineffective += usize::from(ever(ActionStatus::Ineffective));
        s.failed += usize::from(ever(ActionStatus::Failed));
        s.dry_run += usize::from(ever(ActionStatus::DryRun));
    }
    by.into_values().collect()
}
