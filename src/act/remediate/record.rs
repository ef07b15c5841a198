//! What the history holds about remediation actions, and reading it back.
//!
//! An action is recorded **before** it is sent, as `EventKind::ActionRecorded { action_id }`
//! whose payload is an [`ActionRecord`] (JSON):
//!
//! ```json
//! {"action_id": "act-…", "episode_id": "…", "runbook": "oom-remediation", "step_index": 0,
//!  "step": {"raise_memory": {"factor": 1.5, "cap": "4Gi", "raise_request": false, "only": null}},
//!  "mode": "approve",
//!  "target": {"namespace": "shop", "kind": "Deployment", "name": "cart"}}
//! ```
//!
//! (`target` is `null` for notify / escalate steps of findings without a workload.) Everything
//! that happens to it afterwards is `EventKind::ActionUpdated { action_id, status }` with
//! `status` one of [`ActionStatus`] (`pending`, `approved`, `rejected`, `dry_run`, `applied`,
//! `failed`, `gone`, `effective`, `ineffective`, `refused`) and an [`ActionUpdate`] payload:
//!
//! ```json
//! {"runbook": "oom-remediation", "target": {"namespace": "shop", "kind": "Deployment",
//!  "name": "cart"}, "detail": "cooldown: …"}
//! ```
//!
//! A refusal is an `ActionUpdated` with status `refused` and **no** `ActionRecorded`: nothing
//! was recorded to be sent, so a later run may try the same action again once the fence
//! allows it. An id with an `ActionRecorded` event is never planned again.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::runbooks::{Mode, RunbookStep};
use crate::findings::{content_hash, WorkloadKind};
use crate::state::history::{EventKind, HistoryEvent, NewEvent};

/// The id of step `step_index` of `runbook` acting on episode `episode_id`: the same inputs
/// give the same id in every run, on every machine, so a repeated run finds its record. The
/// runbook is part of it because several runbooks may act on one episode (an error-rate rise
/// is rolled back and escalated): their step 0s are different actions.
pub fn action_id(episode_id: &str, runbook: &str, step_index: usize) -> String {
    let pairs = BTreeMap::from([
        ("episode_id".to_string(), episode_id.to_string()),
        ("runbook".to_string(), runbook.to_string()),
        ("step_index".to_string(), step_index.to_string()),
    ]);
    format!("act-{}", content_hash("remediation-action", &pairs))
}

/// The workload an action acts on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetRef {
    pub namespace: String,
    /// The Kubernetes kind (`Deployment`).
    pub kind: String,
    pub name: String,
}

impl TargetRef {
    pub fn new(namespace: &str, kind: WorkloadKind, name: &str) -> TargetRef {
        TargetRef {
            namespace: namespace.to_string(),
            kind: kind.as_str().to_string(),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for TargetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
    }
}

/// The payload of `ActionRecorded`: everything needed to carry the action out later (an
/// approval) and to count it against the fence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRecord {
    pub action_id: String,
    pub episode_id: String,
    pub runbook: String,
    pub step_index: usize,
    pub step: RunbookStep,
    pub mode: Mode,
    pub target: Option<TargetRef>,
    /// The rule whose finding started the episode (verification judges it again).
    #[serde(default)]
    pub rule: String,
    /// The finding's entity (the pod and container a step acts on, e.g. for an approval
    /// carried out later).
    #[serde(default)]
    pub entity: BTreeMap<String, String>,
}

impl ActionRecord {
    /// The `ActionRecorded` event for this action, under its finding's fingerprint so the
    /// finding's history (`forewarn history FINGERPRINT`) tells what was done about it.
    pub fn recorded_event(&self, at: OffsetDateTime, job: &str, run_id: &str) -> NewEvent {
        NewEvent {
            at,
            job: job.to_string(),
            run_id: run_id.to_string(),
            kind: EventKind::ActionRecorded {
                action_id: self.action_id.clone(),
            },
            fingerprint: self.fingerprint(),
            payload: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }

    /// The fingerprint of the finding the action is about (`None` for records written before
    /// the rule was kept).
    pub fn fingerprint(&self) -> Option<String> {
        (!self.rule.is_empty()).then(|| crate::findings::fingerprint(&self.rule, &self.entity))
    }

    /// `update`'s `ActionUpdated` event for this action, under its finding's fingerprint.
    pub fn update_event(
        &self,
        update: &ActionUpdate,
        status: ActionStatus,
        at: OffsetDateTime,
        job: &str,
        run_id: &str,
    ) -> NewEvent {
        NewEvent {
            fingerprint: self.fingerprint(),
            ..update.event(&self.action_id, status, at, job, run_id)
        }
    }

    /// Whether the action counts against caps and cooldowns: it writes to the cluster (or may,
    /// once approved). Dry runs and notifications change nothing.
    pub fn counts(&self) -> bool {
        self.mode != Mode::DryRun && self.step.writes_cluster()
    }
}

/// What happened to an action (the `status` of `ActionUpdated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Waiting for `forewarn approve ID`.
    Pending,
    Approved,
    Rejected,
    /// Sent with `dryRun=All` only.
    DryRun,
    Applied,
    Failed,
    /// The target no longer exists (404).
    Gone,
    /// Verified: the signal is gone.
    Effective,
    /// Verified: the signal is still there.
    Ineffective,
    /// The fence refused it (no `ActionRecorded` exists).
    Refused,
}

impl ActionStatus {
    pub const ALL: [ActionStatus; 10] = [
        ActionStatus::Pending,
        ActionStatus::Approved,
        ActionStatus::Rejected,
        ActionStatus::DryRun,
        ActionStatus::Applied,
        ActionStatus::Failed,
        ActionStatus::Gone,
        ActionStatus::Effective,
        ActionStatus::Ineffective,
        ActionStatus::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Approved => "approved",
            ActionStatus::Rejected => "rejected",
            ActionStatus::DryRun => "dry_run",
            ActionStatus::Applied => "applied",
            ActionStatus::Failed => "failed",
            ActionStatus::Gone => "gone",
            ActionStatus::Effective => "effective",
            ActionStatus::Ineffective => "ineffective",
            ActionStatus::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<ActionStatus> {
        ActionStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The payload of `ActionUpdated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionUpdate {
    pub runbook: String,
    pub target: Option<TargetRef>,
    /// Why (a refusal's reason, an API error, what verification saw); already redacted.
    pub detail: String,
    /// A refusal's reason (`cooldown`, `opted_out`, ...): the same refusal of the same action
    /// is recorded once, not every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request sent (or, in dry run, checked): verb, path, query, content type, body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
}

impl ActionUpdate {
    /// The `ActionUpdated` event for `action_id`.
    pub fn event(
        &self,
        action_id: &str,
        status: ActionStatus,
        at: OffsetDateTime,
        job: &str,
        run_id: &str,
    ) -> NewEvent {
        NewEvent {
            at,
            job: job.to_string(),
            run_id: run_id.to_string(),
            kind: EventKind::ActionUpdated {
                action_id: action_id.to_string(),
                status: status.as_str().to_string(),
            },
            fingerprint: None,
            payload: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// One recorded action as the history tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerAction {
    /// `None` when the payload could not be read (it still counts against the global cap).
    pub record: Option<ActionRecord>,
    pub recorded_at: OffsetDateTime,
    /// Every update in history order.
    pub updates: Vec<(OffsetDateTime, ActionStatus)>,
}

impl LedgerAction {
    pub fn status(&self) -> Option<ActionStatus> {
        self.updates.last().map(|(_, s)| *s)
    }

    /// Counts against caps and cooldowns: a cluster write that was not rejected.
    pub fn counts(&self) -> bool {
        self.record.as_ref().is_none_or(ActionRecord::counts)
            && !self
                .updates
                .iter()
                .any(|(_, s)| *s == ActionStatus::Rejected)
    }

    pub fn target(&self) -> Option<&TargetRef> {
        self.record.as_ref().and_then(|r| r.target.as_ref())
    }

    pub fn runbook(&self) -> Option<&str> {
        self.record.as_ref().map(|r| r.runbook.as_str())
    }

    /// The latest time it was recorded or applied (what a cooldown counts from).
    pub fn last_acted_at(&self) -> OffsetDateTime {
        self.updates
            .iter()
            .filter(|(_, s)| *s == ActionStatus::Applied)
            .map(|(at, _)| *at)
            .fold(self.recorded_at, OffsetDateTime::max)
    }

    /// Its final judgement, if any: `Some(true)` effective, `Some(false)` failed or
    /// ineffective, with when it was made.
    pub fn outcome(&self) -> Option<(OffsetDateTime, bool)> {
        self.updates.iter().rev().find_map(|(at, s)| match s {
            ActionStatus::Effective => Some((*at, true)),
            ActionStatus::Failed | ActionStatus::Ineffective => Some((*at, false)),
            _ => None,
        })
    }
}

/// The recorded actions of a history, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub actions: BTreeMap<String, LedgerAction>,
}

impl Ledger {
    /// Reads the `ActionRecorded` / `ActionUpdated` events (others are ignored). Updates of
    /// ids never recorded (refusals) are not actions.
    pub fn from_events(events: &[HistoryEvent]) -> Ledger {
        let mut ledger = Ledger::default();
        let mut ordered: Vec<&HistoryEvent> = events.iter().collect();
        ordered.sort_by_key(|e| e.seq);
        for event in ordered {
            match &event.kind {
                EventKind::ActionRecorded { action_id } => {
                    ledger
                        .actions
                        .entry(action_id.clone())
                        .or_insert_with(|| LedgerAction {
                            record: serde_json::from_value(event.payload.clone()).ok(),
                            recorded_at: event.at,
                            updates: Vec::new(),
                        });
                }
                EventKind::ActionUpdated { action_id, status } => {
                    if let (Some(action), Some(status)) = (
                        ledger.actions.get_mut(action_id),
                        ActionStatus::parse(status),
                    ) {
                        action.updates.push((event.at, status));
                    }
                }
                _ => {}
            }
        }
        ledger
    }

    pub fn is_recorded(&self, action_id: &str) -> bool {
        self.actions.contains_key(action_id)
    }

    /// Adds an action decided in this run (so later decisions of the same run count it).
    pub fn add(&mut self, record: ActionRecord, at: OffsetDateTime) {
        self.actions.insert(
            record.action_id.clone(),
            LedgerAction {
                record: Some(record),
                recorded_at: at,
                updates: Vec::new(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::runbooks::Plain;
    use time::macros::datetime;

    #[test]
    fn action_id_is_deterministic_and_differs_by_episode_runbook_and_step() {
        let id = action_id("ep-1", "rb", 0);
        assert_eq!(id, action_id("ep-1", "rb", 0));
        assert!(id.starts_with("act-") && id.len() == 20, "{id}");
        assert_ne!(id, action_id("ep-1", "rb", 1));
        assert_ne!(id, action_id("ep-2", "rb", 0));
        assert_ne!(id, action_id("ep-1", "other", 0));
        // Fixed across versions: the history of earlier runs relies on it (FNV-1a 64).
        assert_eq!(id, "act-0373281406159f05");
    }

    #[test]
    fn payloads_have_the_documented_shape_and_read_back() {
        let record = ActionRecord {
            action_id: action_id("ep", "crashloop-remediation", 0),
            episode_id: "ep".into(),
            runbook: "crashloop-remediation".into(),
            step_index: 0,
            step: RunbookStep::RolloutRestart(Plain::default()),
            mode: Mode::Auto,
            target: Some(TargetRef::new("shop", WorkloadKind::Deployment, "cart")),
            rule: "restart-frequency".into(),
            entity: BTreeMap::from([
                ("namespace".into(), "shop".into()),
                ("pod".into(), "cart-1".into()),
            ]),
        };
        let at = datetime!(2026-01-01 12:00 UTC);
        let event = record.recorded_event(at, "frequent", "run-1");
        assert_eq!(
            event.payload,
            serde_json::json!({
                "action_id": record.action_id, "episode_id": "ep",
                "runbook": "crashloop-remediation", "step_index": 0,
                "step": {"rollout_restart": {"only": null}}, "mode": "auto",
                "target": {"namespace": "shop", "kind": "Deployment", "name": "cart"},
                "rule": "restart-frequency", "entity": {"namespace": "shop", "pod": "cart-1"}
            })
        );
        let update = ActionUpdate {
            runbook: "crashloop-remediation".into(),
            target: record.target.clone(),
            detail: "patched".into(),
            reason: None,
            request: None,
        };
        let updated = update.event(
            &record.action_id,
            ActionStatus::Applied,
            at,
            "frequent",
            "run-1",
        );
        assert_eq!(
            updated.kind,
            EventKind::ActionUpdated {
                action_id: record.action_id.clone(),
                status: "applied".into()
            }
        );
        let refused = ActionUpdate {
            detail: "cooldown".into(),
            ..update
        }
        .event("act-other", ActionStatus::Refused, at, "frequent", "run-1");
        let events: Vec<HistoryEvent> = [event, updated, refused]
            .into_iter()
            .enumerate()
            .map(|(i, e)| HistoryEvent::from_new(i as u64 + 1, e))
            .collect();
        let ledger = Ledger::from_events(&events);
        assert_eq!(ledger.actions.len(), 1, "a refusal is not an action");
        let action = &ledger.actions[&record.action_id];
        assert_eq!(action.record.as_ref(), Some(&record));
        assert_eq!(action.status(), Some(ActionStatus::Applied));
        assert!(action.counts());
        for status in ActionStatus::ALL {
            assert_eq!(ActionStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
    }
}
