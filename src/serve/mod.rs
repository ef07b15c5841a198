//! `forewarn serve`: the long-running daemon — every job of the rule set on its own schedule
//! (tokio-cron-scheduler), each tick one run through the same [`JobRunner`] as `forewarn run`.
//!
//! - One run of a job at a time: a tick that finds the job's previous run still going is
//!   skipped, logged and counted (`forewarn_skipped_ticks_total`). Across replicas, the state
//!   store's claim lets only one run of a slot go on.
//! - Each run is bounded by its budget ([`JobSchedule::run_budget`], or `--run-timeout`).
//! - `/healthz`, `/readyz` (configuration loaded, source reachable, state store writable),
//!   `/metrics` ([`metrics`]).
//! - Shutdown (mini-redis's shape): the signal stops the scheduler and the listener, the runs
//!   in flight get a grace period to finish, then the daemon returns; [`ServeReport`] says
//!   whether any had to be abandoned.

pub mod http;
pub mod lease;
pub mod metrics;
pub mod zones;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::act::notify::DeadmanPinger;
use crate::config::notify::NotifyConfig;
use crate::config::RuleSet;
use crate::run::{Delivery, JobRunner, Remediation, RunRequest};
use crate::schedule::JobSchedule;
use crate::source::SourceSettings;
use crate::state::{AnyStore, StateStore};
use metrics::{Metrics, RunOutcome};

/// Everything a run needs, owned by the daemon for its lifetime.
pub struct Daemon {
    pub rules: RuleSet,
    pub notify: NotifyConfig,
    pub source: SourceSettings,
    pub store: AnyStore,
    pub delivery: Delivery,
    pub deadman: Option<DeadmanPinger>,
    pub remediation: Option<Remediation>,
    /// With several replicas: only the Lease holder runs jobs. `None`: this one always does.
    pub lease: Option<lease::Elector>,
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: std::net::SocketAddr,
    /// How long runs in flight may take to finish after the shutdown signal.
    pub shutdown_grace: Duration,
    /// Overrides every job's run budget.
    pub run_timeout: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("job {job}: {message}")]
    Schedule { job: String, message: String },
    #[error("the scheduler: {0}")]
    Scheduler(String),
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeReport {
    /// Runs still going when the grace period ran out.
    pub abandoned_runs: usize,
}

/// The state shared by the ticks and the HTTP pages.
struct Shared {
    daemon: Daemon,
    metrics: Metrics,
    /// Whether this replica holds the Lease (always, without one).
    leader: Arc<AtomicBool>,
    /// No new runs start once set.
    stopping: AtomicBool,
    in_flight: AtomicUsize,
    finished: Notify,
}

impl Shared {
    /// One tick of `job`: skipped when its previous run is still going, else one bounded run.
    async fn tick(self: Arc<Self>, job: String, running: Arc<AtomicBool>, budget: Duration) {
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        if !self.leader.load(Ordering::SeqCst) {
            tracing::debug!(job, "not the leader: tick left to the Lease holder");
            return;
        }
        if running.swap(true, Ordering::SeqCst) {
            self.metrics.skipped_tick(&job);
            tracing::warn!(job, "the previous run is still going: tick skipped");
            return;
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.run_once(&job, budget).await;
        running.store(false, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.finished.notify_waiters();
    }

    async fn run_once(&self, job: &str, budget: Duration) {
        let d = &self.daemon;
        if crate::report::job::report_of(&d.rules, job).is_some() {
            return self.report_once(job, budget).await;
        }
        let runner = JobRunner {
            rules: &d.rules,
            notify: &d.notify,
            source: &d.source,
            store: &d.store,
            delivery: &d.delivery,
            deadman: d.deadman.as_ref(),
            remediation: d.remediation.as_ref(),
        };
        let request = RunRequest {
            job: job.to_string(),
            as_of: time::OffsetDateTime::now_utc(),
            dry_run: false,
        };
        let started = Instant::now();
        let result = tokio::time::timeout(budget, runner.run(&request)).await;
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(Ok(summary)) => {
                let outcome = if summary.skipped {
                    RunOutcome::Claimed
                } else if summary.is_complete() {
                    RunOutcome::Completed
                } else {
                    RunOutcome::Failed
                };
                self.metrics
                    .record_run(job, outcome, seconds, Some(&summary));
                crate::run::summary::log_summary(&summary, seconds);
            }
            Ok(Err(error)) => {
                self.metrics
                    .record_run(job, RunOutcome::Error, seconds, None);
                tracing::error!(job, error = %error, "run failed");
            }
            Err(_) => {
                self.metrics
                    .record_run(job, RunOutcome::TimedOut, seconds, None);
                tracing::error!(
                    job,
                    budget_s = budget.as_secs_f64(),
                    "run exceeded its time budget and was stopped"
                );
            }
        }
    }
}

impl Shared {
    /// A report job's tick: the daily report of the last 24 h, sent to its receivers.
    async fn report_once(&self, job: &str, budget: Duration) {
        let d = &self.daemon;
        let started = Instant::now();
        let work = async {
            let source = d.source.open().await.map_err(|e| e.to_string())?;
            crate::report::job::scheduled_daily(
                &source,
                &d.rules,
                &d.notify,
                &d.store,
                time::OffsetDateTime::now_utc(),
                false,
            )
            .await
            .map_err(|e| crate::act::notify::error::chain(&e))
        };
        let result = tokio::time::timeout(budget, work).await;
        let seconds = started.elapsed().as_secs_f64();
        let outcome = match &result {
            Ok(Ok(done)) if done.succeeded() => RunOutcome::Completed,
            Ok(Ok(_)) => RunOutcome::Failed,
            Ok(Err(_)) => RunOutcome::Error,
            Err(_) => RunOutcome::TimedOut,
        };
        self.metrics.record_run(job, outcome, seconds, None);
        match result {
            Ok(Ok(done)) => {
                let failed: Vec<String> = done
                    .deliveries
                    .iter()
                    .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
                    .collect();
                tracing::info!(
                    job,
                    duration_s = seconds,
                    quiet = done.report.quiet,
                    problems = done.report.problems.len(),
                    delivered = done.deliveries.len() - failed.len(),
                    failed = ?failed,
                    "daily report"
                );
            }
            Ok(Err(error)) => tracing::error!(job, %error, "daily report failed"),
            Err(_) => tracing::error!(
                job,
                budget_s = budget.as_secs_f64(),
                "daily report exceeded its time budget"
            ),
        }
    }
}

impl http::Pages for Shared {
    async fn ready(&self) -> Result<String, String> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err("shutting down\n".into());
        }
        let mut problems = Vec::new();
        if let Err(error) = self.daemon.source.open().await {
            problems.push(format!("source unreachable: {error}"));
        }
        // A real write, idempotent: the same claim every time.
        if let Err(error) = self
            .daemon
            .store
            .claim_run("forewarn-readyz", "readyz", "probe")
            .await
        {
            problems.push(format!("state store not writable: {error}"));
        }
        if problems.is_empty() {
            Ok(format!(
                "ready: {} jobs, {} rules; source reachable; state writable\n",
                self.daemon.rules.jobs.len(),
                self.daemon.rules.rules.len()
            ))
        } else {
            Err(problems.join("\n") + "\n")
        }
    }

    fn metrics(&self) -> String {
        self.metrics.encode()
    }
}

/// Runs the daemon until `shutdown` resolves, then drains.
pub async fn serve(
    daemon: Daemon,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<ServeReport, ServeError> {
    use tokio_cron_scheduler::{Job, JobScheduler};

    let mut daemon = daemon;
    let elector = daemon.lease.take();
    let jobs: Vec<String> = daemon.rules.jobs.iter().map(|j| j.name.clone()).collect();
    let schedules: Vec<(String, String, JobSchedule)> = daemon
        .rules
        .jobs
        .iter()
        .map(|job| {
            JobSchedule::of(job)
                .map(|s| (job.name.clone(), job.schedule.clone(), s))
                .map_err(|e| ServeError::Schedule {
                    job: job.name.clone(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    let shared = Arc::new(Shared {
        metrics: Metrics::new(&jobs),
        leader: Arc::new(AtomicBool::new(elector.is_none())),
        daemon,
        stopping: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        finished: Notify::new(),
    });
    let listener = http::bind(options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: options.listen,
            source,
        })?;
    let local = listener.local_addr().unwrap_or(options.listen);

    let scheduler_error =
        |e: tokio_cron_scheduler::JobSchedulerError| ServeError::Scheduler(e.to_string());
    let scheduler = JobScheduler::new().await.map_err(scheduler_error)?;
    let mut zoned = Vec::new();
    for (name, expression, schedule) in &schedules {
        let job = daemon_job(name, expression, schedule, &options, &shared);
        let zone = schedule.time_zone;
        let make = move || {
            let job = job.clone();
            Job::new_async_tz(
                job.expression.clone().as_str(),
                zone,
                move |_id, _scheduler| {
                    let shared = job.shared.clone();
                    let name = job.name.clone();
                    let running = job.running.clone();
                    let budget = job.budget;
                    Box::pin(async move { shared.tick(name, running, budget).await })
                },
            )
        };
        let offset_s = zones::utc_offset_s(&zone, chrono::Utc::now());
        let cron_job = make().map_err(|e| ServeError::Schedule {
            job: name.clone(),
            message: e.to_string(),
        })?;
        let id = scheduler.add(cron_job).await.map_err(scheduler_error)?;
        if zone != chrono_tz::UTC {
            zoned.push(zones::ZonedJob {
                name: name.clone(),
                zone,
                offset_s,
                id,
                make: Box::new(make),
            });
        }
        tracing::info!(
            job = %name,
            schedule = %expression,
            time_zone = %schedule.time_zone.name(),
            "scheduled"
        );
    }
    let stop_elector = Arc::new(Notify::new());
    let elector_task = elector
        .map(|elector| tokio::spawn(elector.run(shared.leader.clone(), stop_elector.clone())));
    scheduler.start().await.map_err(scheduler_error)?;
    // Zoned jobs follow their zone's offset changes (daylight saving time).
    let stop_zones = Arc::new(Notify::new());
    let zones_task = tokio::spawn(zones::follow_offsets(
        scheduler.clone(),
        zoned,
        Duration::from_secs(30),
        stop_zones.clone(),
    ));
    tracing::info!(listen = %local, jobs = jobs.len(), "serving");

    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_task = tokio::spawn(http::serve(listener, shared.clone(), async move {
        let _ = http_stopped.await;
    }));

    shutdown.await;
    tracing::info!(
        in_flight = shared.in_flight.load(Ordering::SeqCst),
        grace_s = options.shutdown_grace.as_secs_f64(),
        "shutting down: no new runs; waiting for the runs in flight"
    );
    shared.stopping.store(true, Ordering::SeqCst);
    stop_zones.notify_one();
    let _zoned = zones_task.await;
    let mut scheduler = scheduler;
    if let Err(error) = scheduler.shutdown().await {
        tracing::warn!(%error, "stopping the scheduler");
    }
    let deadline = tokio::time::Instant::now() + options.shutdown_grace;
    loop {
        // Registered before the check, so a run finishing in between is not missed.
        let finished = shared.finished.notified();
        if shared.in_flight.load(Ordering::SeqCst) == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, finished).await.is_err() {
            break;
        }
    }
    let abandoned_runs = shared.in_flight.load(Ordering::SeqCst);
    // Released only now: a successor starts no run while one of ours is still going.
    if let Some(task) = elector_task {
        stop_elector.notify_one();
        let _ = task.await;
    }
    let _ = stop_http.send(());
    let _ = http_task.await;
    if abandoned_runs > 0 {
        tracing::error!(
            abandoned_runs,
            "the grace period ran out with runs in flight"
        );
    } else {
        tracing::info!("stopped");
    }
    Ok(ServeReport { abandoned_runs })
}

/// What one scheduled job's ticks need.
#[derive(Clone)]
struct DaemonJob {
    name: String,
    expression: String,
    budget: Duration,
    running: Arc<AtomicBool>,
    shared: Arc<Shared>,
}

fn daemon_job(
    name: &str,
    expression: &str,
    schedule: &JobSchedule,
    options: &ServeOptions,
    shared: &Arc<Shared>,
) -> DaemonJob {
    DaemonJob {
        name: name.to_string(),
        expression: expression.to_string(),
        budget: options.run_timeout.unwrap_or_else(|| schedule.run_budget()),
        running: Arc::new(AtomicBool::new(false)),
        shared: shared.clone(),
    }
}
