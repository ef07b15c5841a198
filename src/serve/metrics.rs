//! The daemon's own metrics, in the Prometheus text format (`/metrics`): runs by job and
//! outcome, run durations, findings by rule and severity, notifications and actions by
//! outcome, the last successful run per job, and ticks skipped because a run was still going.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::run::RunSummary;

type Labels = Vec<(String, String)>;

/// Run durations, seconds: from a quick heartbeat run to a slow window pull.
const DURATION_BUCKETS_S: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS_S.iter().copied())
}

/// How a scheduled run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Judged everything, state updated.
    Completed,
    /// Ran, but the source could not be read or a rule failed (the monitor was blind).
    Failed,
    /// Exceeded its time budget and was stopped.
    TimedOut,
    /// Another run of the job (another replica) held the claim: did nothing.
    Claimed,
    /// Could not run at all (state store error).
    Error,
}

impl RunOutcome {
    pub fn label(self) -> &'static str {
        match self {
            RunOutcome::Completed => "completed",
            RunOutcome::Failed => "failed",
            RunOutcome::TimedOut => "timed_out",
            RunOutcome::Claimed => "claimed_elsewhere",
            RunOutcome::Error => "error",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    runs: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, fn() -> Histogram>,
    findings: Family<Labels, Counter>,
    notifications: Family<Labels, Counter>,
    actions: Family<Labels, Counter>,
    last_success: Family<Labels, Gauge<f64, AtomicU64>>,
    skipped: Family<Labels, Counter>,
}

fn job(job: &str) -> Labels {
    vec![("job".into(), job.into())]
}

impl Metrics {
    /// The metrics, with every job's series present (at zero) from the start.
    pub fn new(jobs: &[String]) -> Metrics {
        let mut registry = Registry::default();
        let runs = Family::<Labels, Counter>::default();
        let durations = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let findings = Family::<Labels, Counter>::default();
        let notifications = Family::<Labels, Counter>::default();
        let actions = Family::<Labels, Counter>::default();
        let last_success = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let skipped = Family::<Labels, Counter>::default();
        registry.register(
            "forewarn_runs",
            "Scheduled runs by job and outcome",
            runs.clone(),
        );
        registry.register(
            "forewarn_run_duration_seconds",
            "Duration of scheduled runs",
            durations.clone(),
        );
        registry.register(
            "forewarn_findings",
            "Firing findings reported by runs, by rule and severity",
            findings.clone(),
        );
        registry.register(
            "forewarn_notifications",
            "Notifications by outcome (sent, failed: queued in the outbox)",
            notifications.clone(),
        );
        registry.register(
            "forewarn_actions",
            "Remediation actions by outcome",
            actions.clone(),
        );
        registry.register(
            "forewarn_last_success_timestamp_seconds",
            "Unix time of the last completed run, by job",
            last_success.clone(),
        );
        registry.register(
            "forewarn_skipped_ticks",
            "Ticks skipped because the job's previous run was still going",
            skipped.clone(),
        );
        for name in jobs {
            let _ = skipped.get_or_create(&job(name));
            for outcome in ["completed", "failed"] {
                let mut labels = job(name);
                labels.push(("outcome".into(), outcome.into()));
                let _ = runs.get_or_create(&labels);
            }
        }
        Metrics {
            registry,
            runs,
            durations,
            findings,
            notifications,
            actions,
            last_success,
            skipped,
        }
    }

    pub fn skipped_tick(&self, name: &str) {
        self.skipped.get_or_create(&job(name)).inc();
    }

    /// Records one run that took `seconds`, with its summary when it produced one.
    pub fn record_run(
        &self,
        name: &str,
        outcome: RunOutcome,
        seconds: f64,
        summary: Option<&RunSummary>,
    ) {
        let mut labels = job(name);
        labels.push(("outcome".into(), outcome.label().into()));
        self.runs.get_or_create(&labels).inc();
        self.durations.get_or_create(&job(name)).observe(seconds);
        if outcome == RunOutcome::Completed {
            let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9;
            self.last_success.get_or_create(&job(name)).set(now);
        }
        let Some(summary) = summary else { return };
        for (rule, severity) in &summary.firing {
            let labels = vec![
                ("rule".into(), rule.clone()),
                ("severity".into(), severity.to_string()),
            ];
            self.findings.get_or_create(&labels).inc();
        }
        for (outcome, count) in [
            ("sent", summary.sent),
            ("failed", summary.failed),
            ("rejected", summary.rejected),
        ] {
            if count > 0 {
                self.notifications
                    .get_or_create(&vec![("outcome".into(), outcome.into())])
                    .inc_by(count as u64);
            }
        }
        for action in &summary.remediation.actions {
            self.actions
                .get_or_create(&vec![("outcome".into(), action.outcome.clone())])
                .inc();
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
