//! Remediation decisions, without I/O: which runbook steps an announcement leads to, under
//! which id, and whether the fence lets them through. The run records what is decided here
//! (before anything is sent) and hands the cluster steps to [`crate::act::kube`].
//!
//! - [`record`]: the deterministic action id, the payloads of `ActionRecorded` /
//!   `ActionUpdated` events, and the ledger read back from the history.
//! - [`fence`]: namespace allowlist, opt-out label, hourly caps, per-target cooldown and the
//!   circuit breaker, all counted from the history.
//! - [`carry`]: one recorded cluster action planned and sent through [`crate::act::kube`]
//!   (dry run, plan only for an approval, or applied), and what to record about it.
//! - [`decide`]: announcements × runbooks → planned actions or refusals, never an action
//!   whose id is already recorded.

pub mod carry;
pub mod decide;
pub mod fence;
pub mod record;

pub use decide::{decide, Candidate, Outcome, RunbookDecision};
pub use fence::{Fence, Refusal, RefusalReason, TargetFacts};
pub use record::{action_id, ActionRecord, ActionStatus, ActionUpdate, Ledger, TargetRef};
