//! The remediation stage of a run, after its notifications went out ("acts after it
//! notifies"):
//!
//! 1. **verify**: every action this job applied whose runbook's `verify_after` has passed is
//!    judged on this run's findings — the rule no longer fires on the target's pods →
//!    `effective`, announced as a resolution; it still does → `ineffective`, escalated once
//!    with what was tried and what the data shows now (and counted by the circuit breaker);
//! 2. **decide**: every firing, unsilenced finding of this run that a runbook takes is decided
//!    by [`crate::act::remediate::decide`] against the fence, with the target's labels and
//!    latest rollout read from the Kubernetes API (connected only when some runbook step needs
//!    the cluster): a pod's owner chain, or — for an error rate, which names a service — the
//!    Deployment named after the service. A refusal is recorded with its reason once per
//!    action and reason;
//! 3. **record, then act**: every planned action is appended as `ActionRecorded` (its id is
//!    deterministic from the episode, runbook and step) *before* any write is sent, so a
//!    repeated or crashed run finds the record and never acts twice. Then per mode: `dry_run`
//!    sends the write with `dryRun=All` and records the API server's verdict; `approve` records
//!    the planned request as pending and tells the route the `forewarn approve ID` command;
//!    `auto` applies it and records applied, gone (404) or failed;
//! 4. notices (approvals, escalations, resolutions) go through the routes and the outbox like
//!    any notification.
//!
//! An unreachable or forbidden API is recorded and escalated, and the run's outcome says so:
//! never "all clear".

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::act::kube::{self, KubeActionError, KubeContext, Target};
use crate::act::notify::{Change, Notification, NotificationItem};
use crate::act::remediate::carry::{carry_out, Carried, Carry};
use crate::act::remediate::{
    decide, record::LedgerAction, ActionRecord, ActionStatus, ActionUpdate, Candidate, Ledger,
    Outcome, RefusalReason, TargetFacts, TargetRef,
};
use crate::act::route::{self, Announced};
use crate::config::notify::NotifyConfig;
use crate::config::runbooks::{Mode, Runbook, RunbookSet, RunbookStep};
use crate::findings::{content_hash, Finding, Status, Workload};
use crate::state::history::{EventKind, HistoryEvent, NewEvent};
use crate::state::lifecycle::RunContext;
use crate::state::{derive, Announcement, AnnouncementKind, Episode, StateError, StateStore};

/// What remediation needs besides the run: the runbooks and how to reach the cluster.
pub struct Remediation {
    pub runbooks: RunbookSet,
    pub kube: KubeAccess,
}

/// A Kubernetes connection made on first use (most runs need none), at most once per process.
pub struct KubeAccess {
    /// `--kube-context`.
    pub context: Option<String>,
    client: OnceCell<Result<KubeContext, KubeUnavailable>>,
}

/// Why there is no Kubernetes API to talk to.
#[derive(Debug, Clone, PartialEq)]
pub enum KubeUnavailable {
    /// Not in a pod, no `KUBECONFIG`, no `~/.kube/config`, no `--kube-context`: remediation
    /// is not set up here (recorded, not escalated).
    NotConfigured,
    /// Configured, but the configuration or the client failed, or the API server refused a
    /// read (escalated).
    Failed(String),
    /// The API server gave no answer (no connection, or none in time): the rest of the run
    /// does not ask it again, so a hung server costs one timeout, not one per finding.
    Unreachable(String),
}

impl std::fmt::Display for KubeUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KubeUnavailable::NotConfigured => f.write_str(
                "no Kubernetes API is configured (not in a pod, no KUBECONFIG, no ~/.kube/config, no --kube-context)",
            ),
            KubeUnavailable::Failed(why) | KubeUnavailable::Unreachable(why) => {
                write!(f, "the Kubernetes API is unavailable: {why}")
            }
        }
    }
}

impl KubeAccess {
    pub fn new(context: Option<String>) -> KubeAccess {
        KubeAccess {
            context,
            client: OnceCell::new(),
        }
    }

    /// An already built context (tests, the daemon).
    pub fn with_context(ctx: KubeContext) -> KubeAccess {
        KubeAccess {
            context: None,
            client: OnceCell::new_with(Some(Ok(ctx))),
        }
    }

    fn configured(&self) -> bool {
        self.context.is_some()
            || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
            || std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
            || std::env::var_os("HOME")
                .is_some_and(|home| std::path::Path::new(&home).join(".kube/config").is_file())
    }

    /// The context, connecting on first use.
    pub async fn get(&self) -> Result<&KubeContext, KubeUnavailable> {
        self.client
            .get_or_init(|| async {
                if !self.configured() {
                    return Err(KubeUnavailable::NotConfigured);
                }
                kube::connect(self.context.as_deref())
                    .await
                    .map(KubeContext::new)
                    .map_err(|e| KubeUnavailable::Failed(e.to_string()))
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// One line per action a run (or a command) touched: `id runbook step target mode: outcome`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionLine {
    pub action_id: String,
    pub runbook: String,
    pub step: String,
    /// `namespace/Kind/name`, or `-`.
    pub target: String,
    pub mode: Mode,
    /// The status recorded (`applied`, `pending`, `refused`, ...).
    pub outcome: String,
    pub detail: String,
    /// Why the fence refused it (`cooldown`, `kube_unavailable`, ...), for a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request sent or checked (dry run), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<serde_json::Value>,
    /// This run recorded it (false: the same refusal was recorded by an earlier run).
    pub recorded: bool,
}

impl std::fmt::Display for ActionLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "action {} {} {} {} {}: {}",
            self.action_id,
            self.runbook,
            self.step,
            self.target,
            self.mode.as_str(),
            self.outcome
        )?;
        if !self.detail.is_empty() {
            write!(f, " — {}", self.detail)?;
        }
        if let Some(request) = &self.request {
            let query = request["query"].as_str().unwrap_or_default();
            write!(
                f,
                "\n    {} {}{}{}",
                request["method"].as_str().unwrap_or_default(),
                request["path"].as_str().unwrap_or_default(),
                if query.is_empty() { "" } else { "?" },
                query
            )?;
            if let Some(content_type) = request["content_type"].as_str() {
                write!(f, " ({content_type})")?;
            }
            if !request["body"].is_null() {
                write!(f, " {}", request["body"])?;
            }
        }
        Ok(())
    }
}

/// What the stage did, for the run's summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemediationSummary {
    pub actions: Vec<ActionLine>,
    /// Actions that failed or could not be attempted for a reason a person must fix (API
    /// unreachable, 403, ...): the run does not end "completed".
    pub failed: usize,
    /// Verification results this run: (action id, effective).
    pub verified: Vec<(String, bool)>,
}

/// Everything the stage reads.
pub struct StageInput<'a> {
    pub ctx: RunContext<'a>,
    pub notify: &'a NotifyConfig,
    /// The job's history as the run read it, plus the lifecycle events this run appended.
    pub history: &'a [HistoryEvent],
    /// This run's findings, and the rules it judged without failure.
    pub findings: &'a [Finding],
    pub judged: &'a BTreeSet<String>,
}

/// The stage's result: events to append as they happen are appended by the stage itself (so
/// the record precedes the request); the notices are returned for delivery.
pub struct StageOutput {
    pub summary: RemediationSummary,
    pub notices: Vec<Notification>,
}

fn target_text(target: Option<&TargetRef>) -> String {
    target.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
}

fn line(record: &ActionRecord, status: ActionStatus, update: &ActionUpdate) -> ActionLine {
    ActionLine {
        action_id: record.action_id.clone(),
        runbook: record.runbook.clone(),
        step: record.step.name().to_string(),
        target: target_text(record.target.as_ref()),
        mode: record.mode,
        outcome: status.as_str().to_string(),
        detail: update.detail.clone(),
        reason: update.reason.clone(),
        request: update.request.clone(),
        recorded: true,
    }
}

/// The route a runbook's notices go to: its first notify / escalate step's, else its circuit
/// breaker's; `None` means the routes that take the finding.
fn runbook_route(runbook: &Runbook) -> Option<&str> {
    runbook
        .steps
        .iter()
        .find_map(|s| match s {
            RunbookStep::Notify(r) | RunbookStep::Escalate(r) => Some(r.route.as_str()),
            _ => None,
        })
        .or(runbook.limits.circuit_breaker.escalate.as_deref())
}

/// A notice about an action: one message per receiver of `route` (when notify.yaml has it),
/// else of the routes that take the finding. The finding is the episode's, its summary the
/// notice, so receivers render it like any finding; the key is the action and what happened.
#[allow(clippy::too_many_arguments)] // each is one part of the notice; a struct would only rename them
pub fn notices(
    notify: &NotifyConfig,
    route_name: Option<&str>,
    finding: &Finding,
    first_seen_at: OffsetDateTime,
    change: Change,
    title: &str,
    text: &str,
    key: (&str, &str),
) -> Vec<Notification> {
    let mut noticed = finding.clone();
    noticed.summary = text.to_string();
    noticed
        .evidence
        .insert("action_id".into(), serde_json::Value::String(key.0.into()));
    if change == Change::Resolved {
        noticed.status = Status::Resolved;
    }
    let named = route_name.and_then(|name| {
        notify
            .routes
            .iter()
            .chain(notify.default_route.iter())
            .find(|r| r.name == name)
    });
    let routes: Vec<&crate::config::notify::Route> = match named {
        Some(route) => vec![route],
        None => {
            let routed = route::route(
                notify,
                &[Announced {
                    finding: noticed.clone(),
                    change,
                }],
            );
            routed
                .iter()
                .filter_map(|r| {
                    notify
                        .routes
                        .iter()
                        .chain(notify.default_route.iter())
                        .find(|x| x.name == r.route)
                })
                .collect()
        }
    };
    let mut out = Vec::new();
    for route in routes {
        for receiver in &route.receivers {
            let parts = BTreeMap::from([
                ("action_id".to_string(), key.0.to_string()),
                ("what".to_string(), key.1.to_string()),
                ("route".to_string(), route.name.clone()),
                ("receiver".to_string(), receiver.clone()),
            ]);
            out.push(Notification::new(
                content_hash("remediation-notice", &parts),
                route.name.clone(),
                receiver.clone(),
                title.to_string(),
                vec![NotificationItem::new(
                    change,
                    noticed.clone(),
                    first_seen_at,
                )],
            ));
        }
    }
    out
}

/// What the cluster says about a finding's target.
enum Resolved {
    Facts(TargetFacts),
    /// The finding names no pod (nor workload), or both are gone: nothing to act on.
    NoTarget(String),
    Unavailable(KubeUnavailable),
}

async fn resolve(access: &KubeAccess, finding: &Finding) -> Resolved {
    let ctx = match access.get().await {
        Ok(ctx) => ctx,
        Err(e) => return Resolved::Unavailable(e),
    };
    let namespace = finding.entity.get("namespace");
    let workload = finding.workload();
    let facts = |f: kube::WorkloadFacts| {
        Resolved::Facts(TargetFacts {
            target: TargetRef::new(&f.target.namespace, f.target.kind, &f.target.name),
            labels: f.labels,
            last_rollout_at: f.rollout_started_at,
        })
    };
    let unavailable = |e: KubeActionError| {
        Resolved::Unavailable(if e.is_unreachable() {
            KubeUnavailable::Unreachable(e.to_string())
        } else {
            KubeUnavailable::Failed(e.to_string())
        })
    };
    let by_workload = |namespace: &str, workload: &Workload| Target {
        kind: workload.kind,
        namespace: namespace.to_string(),
        name: workload.name.clone(),
    };
    let (Some(namespace), pod) = (namespace, finding.entity.get("pod")) else {
        return Resolved::NoTarget("the finding names no namespace".into());
    };
    let pod_error = match (pod, finding.entity.get("service")) {
        (Some(pod), _) => match kube::resolve_facts(ctx, namespace, pod).await {
            Ok(f) => return facts(f),
            Err(e) if e.is_target_gone() => e.to_string(),
            Err(e) => return unavailable(e),
        },
        // An error rate is per service: the Deployment named after it, if there is one.
        (None, Some(service)) if workload.is_none() => {
            return match kube::service_facts(ctx, namespace, service).await {
                Ok(f) => facts(f),
                Err(e) if e.is_target_gone() => Resolved::NoTarget(format!(
                    "no Deployment {namespace}/{service} is named after service {service}: {e}"
                )),
                Err(e) => unavailable(e),
            };
        }
        (None, _) => "the finding names no pod".to_string(),
    };
    // The pod is gone (restarted, rescheduled): its workload, as the telemetry names it.
    let Some(workload) = workload else {
        return Resolved::NoTarget(format!("target gone: {pod_error}"));
    };
    match kube::workload_facts(ctx, &by_workload(namespace, &workload)).await {
        Ok(f) => facts(f),
        Err(e) if e.is_target_gone() => {
            Resolved::NoTarget(format!("target gone: {pod_error}; {e}"))
        }
        Err(e) => unavailable(e),
    }
}

/// Whether `finding` (this run's) is the rule of `record` still firing on its target.
fn still_fires_on(record: &ActionRecord, finding: &Finding) -> bool {
    let Some(target) = &record.target else {
        return finding.rule == record.rule
            && finding.status == Status::Firing
            && finding.entity == record.entity;
    };
    finding.rule == record.rule
        && finding.status == Status::Firing
        && finding.entity.get("namespace") == Some(&target.namespace)
        && (finding
            .workload()
            .is_some_and(|w| w.kind.as_str() == target.kind && w.name == target.name)
            || (target.kind == "Pod" && finding.entity.get("pod") == Some(&target.name)))
}

fn applied_at(action: &LedgerAction) -> Option<OffsetDateTime> {
    action
        .updates
        .iter()
        .rev()
        .find(|(_, s)| *s == ActionStatus::Applied)
        .map(|(at, _)| *at)
}

/// Refusals already recorded: (action id, reason).
fn recorded_refusals(events: &[HistoryEvent]) -> BTreeSet<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ActionUpdated { action_id, status } if status == "refused" => {
                let reason = e.payload["reason"].as_str().unwrap_or_default().to_string();
                Some((action_id.clone(), reason))
            }
            _ => None,
        })
        .collect()
}

impl Remediation {
    /// Runs the stage (see the module header). Appends every action event itself, in order.
    #[tracing::instrument(name = "actions", level = "info", skip_all, fields(job = %input.ctx.job))]
    pub async fn stage(
        &self,
        store: &impl StateStore,
        input: StageInput<'_>,
    ) -> Result<StageOutput, StateError> {
        let ctx = input.ctx;
        let now = ctx.now;
        let mut summary = RemediationSummary::default();
        let mut notices_out = Vec::new();
        let action_events = store.action_events().await?;
        let episodes: BTreeMap<String, Episode> = derive::episodes(input.history)
            .into_iter()
            .map(|e| (e.fingerprint.clone(), e))
            .collect();
        let append = |events: Vec<NewEvent>| async move { store.append(&events).await };

        // 1. Verification of this job's applied actions.
        let ledger = Ledger::from_events(&action_events);
        let job_actions: BTreeSet<&str> = action_events
            .iter()
            .filter(|e| e.job == ctx.job)
            .filter_map(|e| match &e.kind {
                EventKind::ActionRecorded { action_id } => Some(action_id.as_str()),
                _ => None,
            })
            .collect();
        for (id, action) in &ledger.actions {
            let Some(record) = &action.record else {
                continue;
            };
            if !job_actions.contains(id.as_str())
                || action.status() != Some(ActionStatus::Applied)
                || !record.step.writes_cluster()
                || !input.judged.contains(&record.rule)
            {
                continue;
            }
            let Some(runbook) = self.runbooks.get(&record.runbook) else {
                continue;
            };
            let Some(applied) = applied_at(action) else {
                continue;
            };
            let due = applied
                + time::Duration::try_from(runbook.verify_after.0).unwrap_or(time::Duration::MAX);
            if now < due {
                continue;
            }
            let still: Vec<&Finding> = input
                .findings
                .iter()
                .filter(|f| still_fires_on(record, f))
                .collect();
            let episode = episodes
                .values()
                .find(|e| e.episode_id == record.episode_id);
            let Some(finding) = still.first().copied().or(episode.map(|e| &e.finding)) else {
                continue;
            };
            let first_seen = episode.map(|e| e.first_seen_at).unwrap_or(now);
            let target = target_text(record.target.as_ref());
            let (status, detail, change, title) = if still.is_empty() {
                (
                    ActionStatus::Effective,
                    format!(
                        "{} no longer fires on {target} {} after {} ({id}): resolved",
                        record.rule,
                        runbook.verify_after,
                        record.step.name()
                    ),
                    Change::Resolved,
                    format!(
                        "[forewarn] RESOLVED by {}: {} on {target}",
                        record.runbook, record.rule
                    ),
                )
            } else {
                let now_shows: Vec<&str> = still.iter().map(|f| f.summary.as_str()).collect();
                (
                    ActionStatus::Ineffective,
                    format!(
                        "{} still fires on {target} {} after {} ({id}) — tried: {}; the data shows now: {}",
                        record.rule,
                        runbook.verify_after,
                        record.step.name(),
                        record.step.name(),
                        now_shows.join("; ")
                    ),
                    Change::Escalated,
                    format!("[forewarn] ESCALATED: {} did not help on {target}", record.runbook),
                )
            };
            let update = ActionUpdate {
                runbook: record.runbook.clone(),
                target: record.target.clone(),
                detail: detail.clone(),
                reason: None,
                request: None,
            };
            append(vec![
                record.update_event(&update, status, now, ctx.job, ctx.run_id)
            ])
            .await?;
            summary
                .verified
                .push((id.clone(), status == ActionStatus::Effective));
            summary.actions.push(line(record, status, &update));
            notices_out.extend(notices(
                input.notify,
                runbook_route(runbook),
                finding,
                first_seen,
                change,
                &title,
                &detail,
                (id, status.as_str()),
            ));
        }
        // The verdicts just recorded count for the circuit breaker below.
        let action_events = if summary.verified.is_empty() {
            action_events
        } else {
            store.action_events().await?
        };

        // 2. Candidates: this run's firing findings of unsilenced episodes a runbook may take.
        let mut announcements = Vec::new();
        for finding in input.findings {
            if finding.status != Status::Firing {
                continue;
            }
            let Some(episode) = episodes.get(&finding.id) else {
                continue;
            };
            if episode.silenced_by.is_some() || episode.resolved_at.is_some() {
                continue;
            }
            let runbooks: Vec<&Runbook> = self
                .runbooks
                .runbooks
                .iter()
                .filter(|r| r.takes(finding, true) || r.takes(finding, false))
                .collect();
            if runbooks.is_empty() {
                continue;
            }
            let needs_cluster = runbooks
                .iter()
                .any(|r| r.steps.iter().any(RunbookStep::writes_cluster));
            announcements.push((
                Announcement {
                    kind: AnnouncementKind::Repeat,
                    episode: episode.clone(),
                    finding: finding.clone(),
                },
                needs_cluster,
            ));
        }
        let mut resolved = Vec::new();
        let mut unreachable: Option<KubeUnavailable> = None;
        for (announcement, needs_cluster) in &announcements {
            let facts = match (&unreachable, *needs_cluster) {
                (_, false) => Resolved::NoTarget(String::new()),
                (Some(why), true) => Resolved::Unavailable(why.clone()),
                (None, true) => resolve(&self.kube, &announcement.finding).await,
            };
            if let (None, Resolved::Unavailable(KubeUnavailable::Unreachable(why))) =
                (&unreachable, &facts)
            {
                unreachable = Some(KubeUnavailable::Unreachable(format!(
                    "not asked again this run, an earlier request got no answer ({why})"
                )));
            }
            resolved.push(facts);
        }
        let candidates: Vec<Candidate<'_>> = announcements
            .iter()
            .zip(&resolved)
            .map(|((announcement, _), r)| Candidate {
                announcement,
                target: match r {
                    Resolved::Facts(f) => Some(f.clone()),
                    _ => None,
                },
            })
            .collect();
        let decisions = decide(&self.runbooks, &action_events, &candidates, now);
        let already_refused = recorded_refusals(&action_events);

        // 3. Record, then act.
        for mut decision in decisions {
            let Some(index) = announcements
                .iter()
                .position(|(a, _)| a.episode.episode_id == decision.episode_id)
            else {
                continue;
            };
            let announcement = &announcements[index].0;
            let Some(runbook) = self.runbooks.get(&decision.runbook) else {
                continue;
            };
            if let Outcome::Refused { refusal, .. } = &mut decision.outcome {
                if refusal.reason == RefusalReason::NoTarget {
                    match &resolved[index] {
                        Resolved::Unavailable(why) => {
                            refusal.reason = RefusalReason::KubeUnavailable;
                            refusal.detail = why.to_string();
                        }
                        Resolved::NoTarget(why) if !why.is_empty() => {
                            refusal.detail = why.clone();
                        }
                        _ => {}
                    }
                }
            }
            match &decision.outcome {
                Outcome::Refused {
                    refusal,
                    escalate,
                    actions,
                } => {
                    let events: Vec<NewEvent> = decision
                        .events(now, ctx.job, ctx.run_id)
                        .into_iter()
                        .filter(|e| match &e.kind {
                            EventKind::ActionUpdated { action_id, .. } => !already_refused
                                .contains(&(
                                    action_id.clone(),
                                    refusal.reason.as_str().to_string(),
                                )),
                            _ => true,
                        })
                        .collect();
                    let fresh: BTreeSet<String> = events
                        .iter()
                        .filter_map(|e| match &e.kind {
                            EventKind::ActionUpdated { action_id, .. } => Some(action_id.clone()),
                            _ => None,
                        })
                        .collect();
                    append(events).await?;
                    let unreachable = refusal.reason == RefusalReason::KubeUnavailable
                        && !matches!(
                            resolved[index],
                            Resolved::Unavailable(KubeUnavailable::NotConfigured)
                        );
                    if unreachable {
                        summary.failed += 1;
                    }
                    for action in actions {
                        let update = ActionUpdate {
                            runbook: action.runbook.clone(),
                            target: action.target.clone(),
                            detail: format!("{} ({})", refusal.detail, refusal.reason.as_str()),
                            reason: Some(refusal.reason.as_str().to_string()),
                            request: None,
                        };
                        let mut l = line(action, ActionStatus::Refused, &update);
                        l.recorded = fresh.contains(&action.action_id);
                        summary.actions.push(l);
                    }
                    // Escalated once: when the refusal is first recorded.
                    let first = actions.iter().find(|a| fresh.contains(&a.action_id));
                    if let (Some(first), true) = (first, unreachable || escalate.is_some()) {
                        let text = format!(
                            "forewarn could not act on {} ({}): {} — a person must look",
                            announcement.finding.summary, runbook.name, refusal.detail
                        );
                        notices_out.extend(notices(
                            input.notify,
                            escalate.as_deref().or(runbook_route(runbook)),
                            &announcement.finding,
                            announcement.episode.first_seen_at,
                            Change::Escalated,
                            &format!("[forewarn] ESCALATED: {} cannot act", runbook.name),
                            &text,
                            (&first.action_id, "refused"),
                        ));
                    }
                }
                Outcome::Planned { actions, .. } => {
                    if actions.is_empty() {
                        continue;
                    }
                    // Recorded before anything is sent.
                    append(decision.events(now, ctx.job, ctx.run_id)).await?;
                    let mut told: Vec<String> = Vec::new();
                    let mut pending: Vec<&ActionRecord> = Vec::new();
                    let mut route_step_ran = false;
                    for action in actions {
                        let (status, update) = if action.step.writes_cluster() {
                            let carried = match self.kube.get().await {
                                Ok(kctx) => {
                                    carry_out(kctx, action, Carry::for_mode(action.mode)).await
                                }
                                Err(why) => Carried {
                                    status: ActionStatus::Failed,
                                    update: ActionUpdate {
                                        runbook: action.runbook.clone(),
                                        target: action.target.clone(),
                                        detail: why.to_string(),
                                        reason: None,
                                        request: None,
                                    },
                                    request: None,
                                    needs_person: true,
                                },
                            };
                            if carried.status == ActionStatus::Pending {
                                pending.push(action);
                            }
                            if carried.needs_person && action.mode != Mode::DryRun {
                                summary.failed += 1;
                                let text = format!(
                                    "{} {} on {} failed ({}): {} — a person must look",
                                    action.runbook,
                                    action.step.name(),
                                    target_text(action.target.as_ref()),
                                    action.action_id,
                                    carried.update.detail
                                );
                                notices_out.extend(notices(
                                    input.notify,
                                    runbook_route(runbook),
                                    &announcement.finding,
                                    announcement.episode.first_seen_at,
                                    Change::Escalated,
                                    &format!("[forewarn] ESCALATED: {} failed", runbook.name),
                                    &text,
                                    (&action.action_id, "failed"),
                                ));
                            }
                            told.push(format!(
                                "{} {} on {}: {} — {}",
                                action.step.name(),
                                action.action_id,
                                target_text(action.target.as_ref()),
                                carried.status.as_str(),
                                carried.update.detail
                            ));
                            (carried.status, carried.update)
                        } else {
                            route_step_ran = true;
                            let (RunbookStep::Notify(step) | RunbookStep::Escalate(step)) =
                                &action.step
                            else {
                                continue;
                            };
                            let mut text = match &action.step {
                                RunbookStep::Escalate(_) => format!(
                                    "escalated to a person by runbook {}: {}",
                                    action.runbook, announcement.finding.summary
                                ),
                                _ => format!(
                                    "runbook {} on {}",
                                    action.runbook, announcement.finding.summary
                                ),
                            };
                            for t in &told {
                                text.push_str(&format!("\n• {t}"));
                            }
                            for p in &pending {
                                text.push_str(&approval_text(p));
                            }
                            let status = if action.mode == Mode::DryRun {
                                ActionStatus::DryRun
                            } else {
                                notices_out.extend(notices(
                                    input.notify,
                                    Some(step.route.as_str()),
                                    &announcement.finding,
                                    announcement.episode.first_seen_at,
                                    if matches!(action.step, RunbookStep::Escalate(_)) {
                                        Change::Escalated
                                    } else {
                                        Change::New
                                    },
                                    &title_for(&action.runbook, &pending),
                                    &text,
                                    (&action.action_id, "told"),
                                ));
                                ActionStatus::Applied
                            };
                            let verb = if status == ActionStatus::DryRun {
                                "would tell"
                            } else {
                                "told"
                            };
                            (
                                status,
                                ActionUpdate {
                                    runbook: action.runbook.clone(),
                                    target: action.target.clone(),
                                    detail: format!("{verb} route {}", step.route),
                                    reason: None,
                                    request: None,
                                },
                            )
                        };
                        append(vec![
                            action.update_event(&update, status, now, ctx.job, ctx.run_id)
                        ])
                        .await?;
                        summary.actions.push(line(action, status, &update));
                    }
                    // An approval must reach a person even when the runbook tells no route.
                    if !route_step_ran && !pending.is_empty() {
                        let mut text = format!(
                            "runbook {} on {}",
                            runbook.name, announcement.finding.summary
                        );
                        for p in &pending {
                            text.push_str(&approval_text(p));
                        }
                        notices_out.extend(notices(
                            input.notify,
                            runbook_route(runbook),
                            &announcement.finding,
                            announcement.episode.first_seen_at,
                            Change::New,
                            &title_for(&runbook.name, &pending),
                            &text,
                            (&pending[0].action_id, "pending"),
                        ));
                    }
                }
            }
        }
        Ok(StageOutput {
            summary,
            notices: notices_out,
        })
    }
}

/// The commands a person runs to decide a pending action.
pub fn approval_text(action: &ActionRecord) -> String {
    format!(
        "\n• approval needed for {} {} on {}: run `forewarn approve {id}` or `forewarn reject {id} --reason TEXT`",
        action.runbook,
        action.step.name(),
        target_text(action.target.as_ref()),
        id = action.action_id
    )
}

fn title_for(runbook: &str, pending: &[&ActionRecord]) -> String {
    match pending {
        [] => format!("[forewarn] ACTION: runbook {runbook}"),
        [one] => format!(
            "[forewarn] APPROVAL NEEDED: {} {} ({})",
            runbook,
            one.step.name(),
            one.action_id
        ),
        many => format!(
            "[forewarn] APPROVAL NEEDED: {} actions of {runbook}",
            many.len()
        ),
    }
}
