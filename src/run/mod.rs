//! `forewarn run JOB`: one scheduled run, as a Kubernetes CronJob pod (or a daemon tick) makes
//! it — evaluate the job's rules, let the state decide what is new, ongoing or over, and tell
//! the routes' receivers. Every step is recorded in the state's append-only history.
//!
//! The order is what makes it safe to repeat:
//! 1. claim the run (job + as-of slot) atomically in the store: of two racing runs one goes on;
//! 2. evaluate ([`crate::evaluate::run`]); a source that cannot be read makes the monitor
//!    *blind* — announced like a finding, never reported as "all clear";
//! 3. the lifecycle ([`crate::state::lifecycle`]) turns findings into episode events and
//!    announcements (new, repeat, escalated, resolved; silenced ones recorded only). Episodes of
//!    rules that could not be judged are left alone: a failed query resolves nothing;
//! 4. announcements pass route → group → storm limit ([`crate::act::route`]) into messages;
//! 5. every message is queued in the history *before* it is sent, then marked delivered or
//!    failed; failed ones stay in the outbox and are sent first on the next run, under the same
//!    idempotency key — never lost, never sent twice;
//! 6. the dead-man URL hears `/start`, then success or `/fail`.

pub mod approve;
pub mod deliver;
pub mod remediate;
pub mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use time::OffsetDateTime;

use crate::act::notify::{DeadmanPinger, NotificationItem};
use crate::act::route::{Announced, Change};
use crate::config::notify::NotifyConfig;
use crate::config::{Rule, RuleSet};
use crate::evaluate::{self, RunReport, SelectError, Windows};
use crate::findings::Finding;
use crate::source::{SourceSettings, SourceSpec};
use crate::state::derive;
use crate::state::history::{AnnouncementKind, EventKind, HistoryEvent, NewEvent, RunOutcome};
use crate::state::lifecycle::{self, LifecyclePolicy, RunContext, Step};
use crate::state::{AnyStore, StateError, StateStore};
use crate::window::timefmt;

pub use deliver::{Delivery, Receivers};
pub use remediate::{KubeAccess, Remediation};
pub use summary::RunSummary;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("job {job} has no enabled rules")]
    EmptyJob { job: String },
    #[error("the state store")]
    State(#[from] StateError),
}

/// Everything a run needs besides the job and the time.
pub struct JobRunner<'a> {
    pub rules: &'a RuleSet,
    pub notify: &'a NotifyConfig,
    pub source: &'a SourceSettings,
    pub store: &'a AnyStore,
    pub delivery: &'a Delivery,
    pub deadman: Option<&'a DeadmanPinger>,
    /// Runbooks and the cluster; `None`: the run only notifies.
    pub remediation: Option<&'a Remediation>,
}

/// One run of one job.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub job: String,
    /// The as-of time the rules are judged at (`--at`, or now).
    pub as_of: OffsetDateTime,
    /// Print what would be sent; send nothing and write nothing to the state.
    pub dry_run: bool,
}

/// The source's name in the history (`clickhouse` or `parquet:DIR`).
fn source_name(spec: &SourceSpec) -> String {
    match spec {
        SourceSpec::ClickHouse => "clickhouse".into(),
        SourceSpec::Parquet(dir) => format!("parquet:{}", dir.display()),
    }
}

/// The lifecycle policy for a finding: that of the first route that takes it.
fn policy_for(config: &NotifyConfig, finding: &Finding) -> LifecyclePolicy {
    let route = config
        .routes
        .iter()
        .find(|r| r.matcher.matches(finding))
        .or(config.default_route.as_ref());
    match route {
        Some(route) => LifecyclePolicy {
            repeat_interval: route.repeat_interval.0,
            resolve_after: route.resolve_after.0,
        },
        None => LifecyclePolicy::default(),
    }
}

fn change_of(kind: AnnouncementKind) -> Change {
    match kind {
        AnnouncementKind::New => Change::New,
        AnnouncementKind::Repeat => Change::Repeat,
        AnnouncementKind::Escalated => Change::Escalated,
        AnnouncementKind::Resolved => Change::Resolved,
    }
}

impl JobRunner<'_> {
    /// The rules of `job`.
    pub fn job_rules(&self, job: &str) -> Result<Vec<&Rule>, RunError> {
        let rules = evaluate::select_rules(self.rules, &[job.to_string()], &[])?;
        if rules.is_empty() {
            return Err(RunError::EmptyJob { job: job.into() });
        }
        Ok(rules)
    }

    /// Runs the job once. Errors are about forewarn's own state; a source that cannot be read
    /// is not an error here but a blind run ([`RunSummary::blind`]).
    #[tracing::instrument(name = "run", level = "info", skip_all, fields(job = %request.job))]
    pub async fn run(&self, request: &RunRequest) -> Result<RunSummary, RunError> {
        let rules = self.job_rules(&request.job)?;
        let run_id = DeadmanPinger::new_run_id();
        let job = request.job.as_str();
        let now = request.as_of;
        let mut summary = RunSummary::new(job, &run_id, now, request.dry_run);
        if !request.dry_run {
            // The claim's slot: the as-of minute and how many runs of the job have finished.
            // Runs that overlap read the same count, so exactly one of them goes on; a run
            // after a finished one gets a fresh slot (and the state deduplicates); a run that
            // crashed blocks only its own as-of minute.
            let finished = self
                .store
                .events_for_job(job)
                .await?
                .iter()
                .filter(|e| matches!(e.kind, EventKind::RunFinished { .. }))
                .count();
            let slot = format!(
                "{}#{finished}",
                timefmt::rfc3339(timefmt::floor_to(now, Duration::from_secs(60)))
            );
            if !self.store.claim_run(job, &run_id, &slot).await? {
                summary.skipped = true;
                tracing::warn!(
                    job,
                    slot,
                    "another run of this job holds this slot: skipped"
                );
                return Ok(summary);
            }
            // A skipped run never started: only the claimant pings.
            if let Some(deadman) = self.deadman {
                deadman.start(&run_id).await;
            }
        }
        // Evaluate. A source that does not open fails every rule of the run.
        let report = match self.source.open().await {
            Ok(source) => Ok(evaluate::run(&Windows::Live { source: &source }, &rules, now).await),
            Err(error) => Err(error.to_string()),
        };
        self.settle(request, &run_id, report, summary).await
    }

    /// Everything after evaluation: the lifecycle, blindness, messages, delivery and the
    /// history. `report` is the evaluation of the job's rules as of the request's time, or why
    /// the source could not be read. (A replay over a backtest's reports calls this directly.)
    pub async fn settle(
        &self,
        request: &RunRequest,
        run_id: &str,
        report: Result<RunReport, String>,
        mut summary: RunSummary,
    ) -> Result<RunSummary, RunError> {
        let job = request.job.as_str();
        let now = request.as_of;
        let ctx = RunContext { job, run_id, now };
        let mut events = vec![event(&ctx, EventKind::RunStarted, None)];
        let (findings, judged, read): (Vec<Finding>, BTreeSet<String>, Result<(), String>) =
            match &report {
                Ok(report) => (
                    report.findings.clone(),
                    judged_rules(report),
                    if report.is_complete() {
                        Ok(())
                    } else {
                        Err(report
                            .failures
                            .iter()
                            .map(|f| f.to_string())
                            .collect::<Vec<_>>()
                            .join("; "))
                    },
                ),
                Err(error) => (Vec::new(), BTreeSet::new(), Err(error.clone())),
            };
        if let Ok(report) = &report {
            summary.failures = report.failures.iter().map(|f| f.to_string()).collect();
            summary.findings = report.findings.len();
            summary.firing = report
                .findings
                .iter()
                .filter(|f| f.status == crate::findings::Status::Firing)
                .map(|f| (f.rule.clone(), f.severity))
                .collect();
        }

        // Lifecycle, per route policy; only episodes of rules judged this run may resolve.
        let history = self.store.events_for_job(job).await?;
        let open: Vec<_> = derive::open_episodes(&history)
            .into_iter()
            .filter(|e| judged.contains(&e.rule))
            .collect();
        let silences = self.store.silences(now).await?;
        let step = self.lifecycle(&open, &findings, &silences, ctx);
        summary.counts = step.counts;
        events.extend(step.events);
        let first_seen: BTreeMap<String, OffsetDateTime> = step
            .announcements
            .iter()
            .map(|a| (a.finding.id.clone(), a.episode.first_seen_at))
            .collect();
        let mut announced: Vec<Announced> = step
            .announcements
            .into_iter()
            .map(|a| Announced {
                finding: a.finding,
                change: change_of(a.kind),
            })
            .collect();

        // Blindness: announced once, repeated per policy, its end announced.
        let source = source_name(&self.source.spec);
        let blind = derive::blind_sources(&history);
        let blind_policy = LifecyclePolicy::default();
        let (blind_events, blind_announcement) = lifecycle::source_step(
            &blind,
            &source,
            read.as_ref().map(|_| ()).map_err(|e| e.as_str()),
            ctx,
            &blind_policy,
        );
        events.extend(blind_events);
        let mut blind_first_seen = None;
        if let Some(b) = blind_announcement {
            let item = NotificationItem::monitor_blind(
                change_of(b.kind),
                &source,
                b.error.as_deref().unwrap_or(""),
                b.since_at,
                now,
            );
            blind_first_seen = Some((item.finding.id.clone(), b.since_at));
            announced.push(Announced {
                finding: item.finding,
                change: item.change,
            });
        }
        summary.blind = read.err();

        // Messages: route → group → storm limit, then the outbox first, then this run's.
        let mut first_seen = first_seen;
        first_seen.extend(blind_first_seen);
        let messages = deliver::messages(self.notify, &announced, &first_seen, now);
        let outcome = if summary.blind.is_some() {
            RunOutcome::Failed
        } else {
            RunOutcome::Completed
        };
        if request.dry_run {
            summary.messages = messages;
            summary.outcome = outcome;
            return Ok(summary);
        }
        self.store.append(&events).await?;
        let delivered = deliver::send_all(
            self.delivery,
            self.store,
            &ctx,
            &history,
            messages,
            &mut summary,
        )
        .await?;
        summary.messages = delivered;
        summary.outcome = outcome;
        // Remediation acts after the run notified, on what this run judged.
        if let Some(remediation) = self.remediation {
            let mut seen = history.clone();
            let next = seen.last().map(|e| e.seq).unwrap_or(0) + 1;
            seen.extend(
                events
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(|(i, e)| HistoryEvent::from_new(next + i as u64, e)),
            );
            let stage = remediation
                .stage(
                    self.store,
                    remediate::StageInput {
                        ctx,
                        notify: self.notify,
                        history: &seen,
                        findings: &findings,
                        judged: &judged,
                    },
                )
                .await?;
            let told = deliver::send_all(
                self.delivery,
                self.store,
                &ctx,
                &[],
                stage.notices,
                &mut summary,
            )
            .await?;
            summary.messages.extend(told);
            summary.remediation = stage.summary;
        }
        self.store
            .append(&[event(&ctx, EventKind::RunFinished { outcome }, None)])
            .await?;
        if let Some(deadman) = self.deadman {
            match &summary.blind {
                None => deadman.success(run_id).await,
                Some(error) => deadman.fail(run_id, error).await,
            };
        }
        Ok(summary)
    }

    /// The lifecycle step, with each finding and episode under its own route's policy.
    fn lifecycle(
        &self,
        open: &[derive::Episode],
        findings: &[Finding],
        silences: &[crate::state::Silence],
        ctx: RunContext<'_>,
    ) -> Step {
        type PolicyKey = (Duration, Duration);
        let key = |p: &LifecyclePolicy| (p.repeat_interval, p.resolve_after);
        let mut parts: BTreeMap<PolicyKey, (LifecyclePolicy, Vec<derive::Episode>, Vec<Finding>)> =
            BTreeMap::new();
        for episode in open {
            let policy = policy_for(self.notify, &episode.finding);
            parts
                .entry(key(&policy))
                .or_insert_with(|| (policy, Vec::new(), Vec::new()))
                .1
                .push(episode.clone());
        }
        for finding in findings {
            let policy = policy_for(self.notify, finding);
            parts
                .entry(key(&policy))
                .or_insert_with(|| (policy, Vec::new(), Vec::new()))
                .2
                .push(finding.clone());
        }
        let mut step = Step::default();
        for (policy, open, findings) in parts.into_values() {
            let part = lifecycle::step(&open, &findings, silences, ctx, &policy);
            step.events.extend(part.events);
            step.announcements.extend(part.announcements);
            step.counts.new += part.counts.new;
            step.counts.ongoing += part.counts.ongoing;
            step.counts.resolved += part.counts.resolved;
            step.counts.silenced += part.counts.silenced;
        }
        step
    }
}

/// The rules a report judged without failure.
fn judged_rules(report: &RunReport) -> BTreeSet<String> {
    let failed: BTreeSet<&str> = report.failures.iter().map(|f| f.rule.as_str()).collect();
    report
        .rules
        .iter()
        .filter(|r| !failed.contains(r.as_str()))
        .cloned()
        .collect()
}

pub(crate) fn event(ctx: &RunContext<'_>, kind: EventKind, fingerprint: Option<&str>) -> NewEvent {
    event_with(ctx, kind, fingerprint, serde_json::Value::Null)
}

pub(crate) fn event_with(
    ctx: &RunContext<'_>,
    kind: EventKind,
    fingerprint: Option<&str>,
    payload: serde_json::Value,
) -> NewEvent {
    NewEvent {
        at: ctx.now,
        job: ctx.job.to_string(),
        run_id: ctx.run_id.to_string(),
        kind,
        fingerprint: fingerprint.map(str::to_string),
        payload,
    }
}

/// Where the state lives: an SQLite file (`--state PATH`), or forewarn's own database on the
/// ClickHouse source (`--state-database`, default `forewarn`).
#[derive(Debug, Clone)]
pub struct StateSettings {
    pub sqlite: Option<std::path::PathBuf>,
    pub clickhouse_database: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenStateError {
    #[error(
        "a run needs a state store: with a Parquet source, give --state PATH (an SQLite file)"
    )]
    NoStore,
    #[error(transparent)]
    State(#[from] StateError),
}

impl StateSettings {
    pub async fn open(&self, source: &SourceSettings) -> Result<AnyStore, OpenStateError> {
        if let Some(path) = &self.sqlite {
            return Ok(AnyStore::Sqlite(
                crate::state::SqliteStore::open(path).await?,
            ));
        }
        match source.spec {
            SourceSpec::ClickHouse => Ok(AnyStore::ClickHouse(Box::new(
                crate::state::ClickHouseStore::connect(
                    source.clickhouse.clone(),
                    &self.clickhouse_database,
                )
                .await?,
            ))),
            SourceSpec::Parquet(_) => Err(OpenStateError::NoStore),
        }
    }
}
