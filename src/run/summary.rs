//! What one run did, in one line for people and logs and as JSON for machines.

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use crate::act::notify::Notification;
use crate::run::remediate::RemediationSummary;
use crate::state::history::RunOutcome;
use crate::state::lifecycle::StepCounts;
use crate::window::timefmt;

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub job: String,
    pub run_id: String,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub as_of: OffsetDateTime,
    pub dry_run: bool,
    /// Another run of the job held the claim: this one did nothing.
    pub skipped: bool,
    pub outcome: RunOutcome,
    /// Firing and resolved findings the detectors reported.
    pub findings: usize,
    /// (rule, severity) of each firing finding (the daemon's metrics).
    #[serde(skip)]
    pub firing: Vec<(String, crate::findings::Severity)>,
    #[serde(skip)]
    pub counts: StepCounts,
    /// Messages delivered this run (the outbox of earlier runs included).
    pub sent: usize,
    /// Messages that failed and wait in the outbox for the next run.
    pub failed: usize,
    /// Messages their receiver refused for good (recorded, never resent): the run is then not
    /// complete, so a person learns that the notification path is broken.
    pub rejected: usize,
    /// Why the monitor is blind: the source (or some rules' windows) could not be read.
    pub blind: Option<String>,
    /// Rules that could not be judged, with their query files.
    pub failures: Vec<String>,
    /// What was (or in a dry run, would be) sent.
    #[serde(skip)]
    pub messages: Vec<Notification>,
    /// What the runbooks did (actions, refusals, verifications).
    pub remediation: RemediationSummary,
}

impl RunSummary {
    pub fn new(job: &str, run_id: &str, as_of: OffsetDateTime, dry_run: bool) -> RunSummary {
        RunSummary {
            job: job.into(),
            run_id: run_id.into(),
            as_of,
            dry_run,
            skipped: false,
            outcome: RunOutcome::Completed,
            findings: 0,
            firing: Vec::new(),
            counts: StepCounts::default(),
            sent: 0,
            failed: 0,
            rejected: 0,
            blind: None,
            failures: Vec::new(),
            messages: Vec::new(),
            remediation: RemediationSummary::default(),
        }
    }

    /// The run judged everything it was asked to (exit code 0).
    pub fn is_complete(&self) -> bool {
        self.skipped
            || (self.outcome == RunOutcome::Completed
                && self.remediation.failed == 0
                && self.rejected == 0)
    }
}

/// The one structured line every run logs: what it judged, found, sent and did, and how long
/// it took (`forewarn run` and each tick of `forewarn serve`).
pub fn log_summary(summary: &RunSummary, seconds: f64) {
    tracing::info!(
        job = %summary.job,
        run_id = %summary.run_id,
        as_of = %timefmt::rfc3339(summary.as_of),
        duration_s = seconds,
        skipped = summary.skipped,
        findings = summary.findings,
        firing = summary.firing.len(),
        new = summary.counts.new,
        ongoing = summary.counts.ongoing,
        resolved = summary.counts.resolved,
        silenced = summary.counts.silenced,
        sent = summary.sent,
        queued = summary.failed,
        rejected = summary.rejected,
        actions = summary.remediation.actions.len(),
        actions_failed = summary.remediation.failed,
        outcome = if summary.is_complete() { "completed" } else { "failed" },
        "run finished"
    );
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = timefmt::rfc3339(self.as_of);
        if self.skipped {
            return write!(
                f,
                "run {} as of {at}: skipped — another run of this job holds the claim",
                self.job
            );
        }
        let c = &self.counts;
        let sending = if self.dry_run {
            format!("{} would be sent (dry run)", self.messages.len())
        } else {
            let mut text = format!("{} sent, {} queued for retry", self.sent, self.failed);
            if self.rejected > 0 {
                text += &format!(
                    ", {} REJECTED by the receiver (not resent; `forewarn history` of their findings shows why)",
                    self.rejected
                );
            }
            text
        };
        write!(
            f,
            "run {} as of {at}: {} — findings {} new, {} ongoing, {} resolved, {} silenced; notifications {sending}",
            self.job,
            match self.outcome {
                RunOutcome::Completed => "completed",
                RunOutcome::Failed => "FAILED (monitor blind)",
            },
            c.new,
            c.ongoing,
            c.resolved,
            c.silenced,
        )?;
        let actions = &self.remediation.actions;
        if !actions.is_empty() {
            let recorded = actions.iter().filter(|a| a.recorded).count();
            write!(f, "; actions {} ({recorded} recorded now", actions.len())?;
            if self.remediation.failed > 0 {
                write!(f, ", {} FAILED", self.remediation.failed)?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}
