//! Restart frequency: crash loops forming, and restart rates rising against the container's
//! own history.
//!
//! Per container (cluster, namespace, pod, container — a crash loop keeps its pod):
//! - **crash loop**: at least `crash_loop_min_restarts` restarts within `crash_loop_within`.
//!   Kubernetes backs off 10 s, 20 s, 40 s … up to 5 min between restarts, so three restarts in
//!   30 minutes only happen when a container keeps dying. Critical at `critical_restarts` or
//!   with BackOff events.
//! - **rate rise**: at least `rate_min_restarts` in `rate_recent`, and an exact conditional
//!   Poisson test says the recent rate exceeds the rate over the rest of the container's
//!   history in the window (p < significance).
//!
//! A rolling update replaces pods without restarting containers, and a single restart is one
//! event: both stay quiet. The summary names the reasons seen in the pod's events.

use serde::{Deserialize, Serialize};

use crate::config::validate::is_probability;
use crate::config::DurationText;
use crate::detect::frame::{entity, first_non_empty, groups, workload as frame_workload, Columns};
use crate::detect::select::{selected_groups, Selected};
use crate::detect::stats;
use crate::detect::{DetectError, Detector, EvalContext};
use crate::findings::{duration_text, Evidence, Finding, Severity, Signal};
use crate::window::{QueryKind, WindowFrame};

pub struct RestartDetector;

/// The `restarts:` section of a rule: crash loops forming, restart rates rising.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestartParams {
    /// Span in which repeated restarts mean a crash loop is forming.
    pub crash_loop_within: DurationText,
    /// Restarts within that span that make a crash loop.
    pub crash_loop_min_restarts: u64,
    /// Critical at this many restarts within the span.
    pub critical_restarts: u64,
    /// Span whose restart rate is compared with the rest of the window.
    pub rate_recent: DurationText,
    /// Restarts needed in that span for a rate finding.
    pub rate_min_restarts: u64,
    /// Significance of the (exact, conditional Poisson) rate increase test.
    pub significance: f64,
}

impl Default for RestartParams {
    fn default() -> Self {
        RestartParams {
            crash_loop_within: DurationText::secs(30 * 60),
            crash_loop_min_restarts: 3,
            critical_restarts: 5,
            rate_recent: DurationText::secs(3600),
            rate_min_restarts: 2,
            significance: 0.05,
        }
    }
}

impl RestartParams {
    /// (field, message) for each value out of range, for a rule of this `window` (an empty
    /// field names the section).
    pub fn problems(&self, window: DurationText) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !is_probability(self.significance) {
            problems.push(("significance", "must be between 0 and 1".into()));
        }
        if self.rate_recent.0 >= window.0 || self.crash_loop_within.0 > window.0 {
            problems.push((
                "",
                format!("spans must be shorter than the window ({window})"),
            ));
        }
        problems
    }
}

/// Event reason columns and how a person calls them.
const REASONS: [(&str, &str); 5] = [
    ("oom_events", "OOMKilled"),
    ("backoff_events", "BackOff"),
    ("unhealthy_events", "Unhealthy"),
    ("killing_events", "Killing"),
    ("failed_events", "Failed"),
];

impl Detector for RestartDetector {
    fn query(&self) -> QueryKind {
        QueryKind::Restarts
    }

    fn detect(&self, frame: &WindowFrame, ctx: &EvalContext) -> Result<Vec<Finding>, DetectError> {
        let rule = ctx.rule;
        let params = rule.restart_params();
        let columns = Columns::new(frame, &rule.name, QueryKind::Restarts);
        let cluster = columns.text("cluster")?;
        let namespace = columns.text("namespace")?;
        let pod = columns.text("pod")?;
        let container = columns.text("container")?;
        let workload = columns.text("workload")?;
        let opt_out = columns.text("opt_out")?;
        let bucket = columns.seconds("bucket")?;
        let restarts = columns.count("restarts")?;
        let mut reason_counts = Vec::new();
        for (column, label) in REASONS {
            // Frames straight from the restarts query (without pod events) have no reasons.
            let counts = if frame.column(column).is_ok() {
                columns.count(column)?
            } else {
                vec![0; frame.height()]
            };
            reason_counts.push((label, counts));
        }

        let bucket_s = ctx.window.bucket.as_secs_f64();
        let as_of_s = ctx.as_of().unix_timestamp_nanos() as f64 / 1e9;
        let mut findings = Vec::new();
        // Rows are sorted by cluster, namespace, pod, container, pod_uid, bucket.
        let containers = groups(frame.height(), |i| {
            (cluster[i], namespace[i], pod[i], container[i])
        });
        for Selected {
            rows: range,
            entity,
        } in selected_groups(rule, containers, Some(&opt_out), |rows| {
            entity(&[
                ("cluster", cluster[rows.start]),
                ("namespace", namespace[rows.start]),
                ("pod", pod[rows.start]),
                ("container", container[rows.start]),
            ])
            .with_workload(frame_workload(first_non_empty(&workload[rows.clone()])))
        }) {
            let first = range.start;
            let count_since = |start: f64| -> u64 {
                range
                    .clone()
                    .filter(|&i| bucket[i] >= start)
                    .map(|i| restarts[i])
                    .sum()
            };
            let loop_start = as_of_s - params.crash_loop_within.as_secs_f64();
            let in_loop_span = count_since(loop_start);
            let rate_start = as_of_s - params.rate_recent.as_secs_f64();
            let recent = count_since(rate_start);
            let total: u64 = range.clone().map(|i| restarts[i]).sum();
            if in_loop_span == 0 && recent == 0 {
                continue;
            }
            let reasons: Vec<(&str, u64)> = reason_counts
                .iter()
                .map(|(label, counts)| {
                    (
                        *label,
                        range
                            .clone()
                            .filter(|&i| bucket[i] >= rate_start)
                            .map(|i| counts[i])
                            .sum(),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            let backoff = reasons.iter().any(|(l, _)| *l == "BackOff");
            let observed_from = bucket[first];
            let judged = judge(
                &params,
                in_loop_span,
                recent,
                total - recent,
                (rate_start - observed_from).max(bucket_s),
                params.rate_recent.as_secs_f64(),
                backoff,
            );
            let Some((severity, kind, p_value)) = judged else {
                continue;
            };
            let reason_text = if reasons.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    reasons
                        .iter()
                        .map(|(l, n)| format!("{l} {n}×"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let name = format!("{}/{}", pod[first], container[first]);
            let summary = match kind {
                "crash_loop" => format!(
                    "{name}: {in_loop_span} restarts in {} — crash loop forming{reason_text}",
                    duration_text(params.crash_loop_within.as_secs_f64())
                ),
                _ => format!(
                    "{name}: {recent} restarts in the last {} vs {} in the {} before — restart rate rising{reason_text}",
                    duration_text(params.rate_recent.as_secs_f64()),
                    total - recent,
                    duration_text((rate_start - observed_from).max(0.0))
                ),
            };
            let mut evidence = Evidence::new()
                .text("pattern", kind)
                .int("restarts_in_crash_loop_window", in_loop_span)
                .num(
                    "crash_loop_window_s",
                    params.crash_loop_within.as_secs_f64(),
                )
                .int("restarts_recent", recent)
                .num("recent_window_s", params.rate_recent.as_secs_f64())
                .int("restarts_before", total - recent)
                .num("baseline_window_s", (rate_start - observed_from).max(0.0))
                .num("p_value", p_value);
            for (label, n) in &reasons {
                evidence = evidence.int(&format!("{}_events", label.to_lowercase()), *n);
            }
            findings.push(ctx.firing(
                Signal::RestartFrequency,
                severity,
                entity,
                summary,
                evidence,
            ));
        }
        Ok(findings)
    }
}

/// (severity, pattern, p-value) when the counts make a finding.
fn judge(
    params: &RestartParams,
    in_loop_span: u64,
    recent: u64,
    before: u64,
    before_exposure_s: f64,
    recent_exposure_s: f64,
    backoff: bool,
) -> Option<(Severity, &'static str, f64)> {
    let rate = stats::poisson_rate_increase(before, before_exposure_s, recent, recent_exposure_s);
    let p_value = rate.map(|r| r.p_value).unwrap_or(f64::NAN);
    if in_loop_span >= params.crash_loop_min_restarts {
        let severity = if in_loop_span >= params.critical_restarts || backoff {
            Severity::Critical
        } else {
            Severity::Warning
        };
        return Some((severity, "crash_loop", p_value));
    }
    if recent >= params.rate_min_restarts && p_value < params.significance {
        return Some((Severity::Warning, "rate_rising", p_value));
    }
    None
}
