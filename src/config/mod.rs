//! Configuration: rules (what to detect, where, with which thresholds) and the jobs that
//! schedule them, validated as a whole before anything runs.

pub mod duration;
pub mod notify;
pub mod rules;

pub use duration::DurationText;
pub use rules::{Rule, RuleSet, RulesError};
