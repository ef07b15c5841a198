//! Detectors: one module per signal behind one small trait — a window frame, the rule's
//! parameters and the as-of time in, findings out. Statistics live in [`stats`].
//!
//! Every detector first passes the frame's entity groups through one selector stage
//! ([`select`]): what the rule does not select is never judged nor counted. Each signal's
//! parameter section (`memory:`, `errors:` …) is typed next to its detector.
//!
//! **Who owns resolution.** A detector is stateless: it reports what it sees in the window *as of
//! now* — a finding per entity that is firing now, nothing for one that is not. It never decides
//! that a problem "has resolved": an entity dropping out of the findings is not a resolution
//! (the data may be missing, the rule disabled, a run may have failed). The state (issue 11)
//! owns episodes: it keys them by the finding's `id` (rule + identity keys,
//! [`crate::findings::fingerprint`]) and decides when one has resolved. The one `resolved`
//! status a detector emits — a heartbeat beating again after an outage — is an observation of
//! the window (the recovery is in the data), which the state may use as evidence.

pub mod errors;
pub mod frame;
pub mod heartbeats;
pub mod memory;
pub mod restarts;
pub mod select;
pub mod stats;

use time::OffsetDateTime;

use crate::config::Rule;
use crate::findings::{Entity, Evidence, Finding, FindingWindow, Severity, Signal, Status};
use crate::window::{QueryKind, WindowFrame, WindowSpec};

/// What a detector is judging: the rule and the window (its `until` is the as-of time).
pub struct EvalContext<'a> {
    pub rule: &'a Rule,
    pub window: WindowSpec,
}

impl EvalContext<'_> {
    pub fn as_of(&self) -> OffsetDateTime {
        self.window.until
    }

    pub fn finding_window(&self) -> FindingWindow {
        FindingWindow {
            from: self.window.since,
            to: self.window.until,
        }
    }

    /// A firing finding of this context's rule about `entity`, as of the window's end, with
    /// the rule's runbook.
    pub fn firing(
        &self,
        signal: Signal,
        severity: Severity,
        entity: Entity,
        summary: String,
        evidence: Evidence,
    ) -> Finding {
        Finding::new(
            &self.rule.name,
            signal,
            severity,
            Status::Firing,
            entity,
            self.as_of(),
            self.finding_window(),
            summary,
            evidence.build(),
            self.rule.runbook.clone(),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("rule {rule}: the {query} frame lacks column `{column}` or it has the wrong type")]
    Column {
        rule: String,
        query: QueryKind,
        column: String,
    },
}

pub trait Detector {
    /// The window this detector reads.
    fn query(&self) -> QueryKind;
    fn detect(&self, frame: &WindowFrame, ctx: &EvalContext) -> Result<Vec<Finding>, DetectError>;
}

/// The detector for a signal.
pub fn detector_for(signal: Signal) -> Box<dyn Detector + Send + Sync> {
    match signal {
        Signal::MemoryPressure => Box::new(memory::MemoryDetector),
        Signal::ErrorRate => Box::new(errors::ErrorRateDetector),
        Signal::RestartFrequency => Box::new(restarts::RestartDetector),
        Signal::HeartbeatMissing => Box::new(heartbeats::HeartbeatDetector),
    }
}

/// The window a rule's detector reads.
pub fn query_for(rule: &Rule) -> QueryKind {
    match rule.signal {
        Signal::MemoryPressure => QueryKind::Memory,
        Signal::ErrorRate => match rule.error_params().source {
            errors::ErrorSource::Logs => QueryKind::Errors,
            errors::ErrorSource::Traces => QueryKind::TraceErrors,
        },
        Signal::RestartFrequency => QueryKind::Restarts,
        Signal::HeartbeatMissing => QueryKind::Heartbeats,
    }
}
