//! Detectors: one module per signal behind one small trait — a window frame, the rule's
//! parameters and the as-of time in, findings out. Statistics live in [`stats`].

pub mod errors;
pub mod frame;
pub mod heartbeats;
pub mod memory;
pub mod restarts;
pub mod select;
pub mod stats;

use polars::prelude::DataFrame;
use time::OffsetDateTime;

use crate::config::Rule;
use crate::findings::{Finding, FindingWindow, Signal};
use crate::window::{QueryKind, WindowSpec};

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
    fn detect(&self, frame: &DataFrame, ctx: &EvalContext) -> Result<Vec<Finding>, DetectError>;
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
