//! Configuration: rules (what to detect, where, with which thresholds) and the jobs that
//! schedule them, validated as a whole before anything runs.
//!
//! - [`rules`]: the rule set's types and loading (files, the embedded defaults).
//! - [`location`]: YAML to typed values, errors placed by file, line, column and field.
//! - [`validate`]: checks across the whole set once every file parsed.
//! - [`select`]: which entities a rule looks at (filters, opt-out label).
//! - [`error`]: the one error type, listing every problem.
//! - [`notify`]: `notify.yaml`, who hears of which findings (validated with the rules).
//! - [`runbooks`]: `runbooks/*.yaml`, what remediation may do.
//! - [`whole`]: all of it loaded and cross-checked together.
//! - [`runbooks`]: `runbooks/*.yaml`, what forewarn may do about a finding and within which fence.
//!
//! Each signal's parameter section (`MemoryParams`, `ErrorParams`, …) lives next to its detector
//! in [`crate::detect`] and is re-exported from [`rules`].

pub mod duration;
pub mod error;
pub mod location;
pub mod notify;
pub mod rules;
pub mod runbooks;
pub mod select;
pub mod validate;
pub mod whole;

pub use duration::DurationText;
pub use error::{RuleProblem, RulesError};
pub use rules::{Job, Origin, Rule, RuleSet};
pub use select::{Filter, Selector};
