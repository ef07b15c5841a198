//! Missing canary heartbeats, with healthchecks.io semantics: a check's state derives from its
//! last ping, its period and its grace — nothing else.
//!
//! - `up`: the last beat is at most one period old; `late`: past the period but within the
//!   grace (quiet — jitter is normal); `down`: period + grace have passed → a critical finding.
//! - Declared canaries (rule `canaries:`) have a period and grace; one never seen is down.
//! - Discovered canaries (seen in the window): the period is the median interval between
//!   beats, so one late beat or one gap does not skew it; the grace is `grace_periods` periods
//!   (at least a minute).
//! - Recovery: after a gap longer than period + grace, a canary beating again is reported as
//!   `resolved` for `resolved_for`.
//! - Recognition: the window carries, per row, the matcher that recognised the beats
//!   (`source::canaries`); a rule with `match:` watches only its matchers' rows, one without
//!   watches every matcher the source applies.
//! - A discovering rule that sees no canary at all in its window is not quiet: a dead-man check
//!   watching nothing is itself a critical `heartbeat_missing` finding (entity `canary: *`)
//!   naming what it matched, so a broken pipeline or a wrong matcher is seen. When declared
//!   canaries already fire as never seen, their summaries say so instead (no extra finding).

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::config::DurationText;
use crate::source::canaries::{describe, CanaryMatcher};

use crate::detect::frame::{entity, Columns};
use crate::detect::select::admits;
use crate::detect::stats;
use crate::detect::{DetectError, Detector, EvalContext};
use crate::findings::{duration_text, Entity, Evidence, Finding, Severity, Signal, Status};
use crate::window::{timefmt, QueryKind, WindowFrame};

pub struct HeartbeatDetector;

/// The `heartbeats:` section of a rule: missing canary heartbeats (healthchecks.io semantics:
/// period + grace).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatParams {
    /// Canaries that must beat; one never seen is down.
    pub canaries: Vec<DeclaredCanary>,
    /// Also watch canaries seen in the window but not declared (period estimated from beats).
    pub discover: bool,
    /// Beats needed to estimate a discovered canary's period.
    pub min_beats: u64,
    /// Grace for discovered canaries, as a multiple of the estimated period (at least 1 min).
    pub grace_periods: f64,
    /// How long after a recovery a `resolved` finding is reported.
    pub resolved_for: DurationText,
    /// How this rule's canaries are recognised; empty: every matcher the source applies (the
    /// defaults: `--canary-attribute`, `canary`, `canary.name`, `app` pod labels like
    /// `*canary*` / `heartbeat*`).
    #[serde(rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<CanaryMatcher>,
}

impl Default for HeartbeatParams {
    fn default() -> Self {
        HeartbeatParams {
            canaries: Vec::new(),
            discover: true,
            min_beats: 4,
            grace_periods: 1.0,
            resolved_for: DurationText::secs(15 * 60),
            matchers: Vec::new(),
        }
    }
}

impl HeartbeatParams {
    /// (field, message) for each value out of range.
    pub fn problems(&self, _window: DurationText) -> Vec<(&'static str, String)> {
        self.canaries
            .iter()
            .filter(|c| c.period.0.as_secs() == 0)
            .map(|c| {
                (
                    "canaries.period",
                    format!("canary `{}`: must be at least 1s", c.name),
                )
            })
            .chain(self.matchers.iter().flat_map(CanaryMatcher::problems))
            .collect()
    }

    /// What the rule's matchers recognise, for people.
    pub fn matched_text(&self) -> String {
        if self.matchers.is_empty() {
            "the source's canary matchers: --canary-attribute (default canary.name), \
             log attribute canary, pod label app = *canary* or heartbeat*"
                .into()
        } else {
            describe(&self.matchers)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredCanary {
    pub name: String,
    #[serde(default)]
    pub cluster: Option<String>,
    pub period: DurationText,
    pub grace: DurationText,
}

/// What the window says about one canary.
struct Beats {
    canary: String,
    entity: Entity,
    /// Whether the rule selects this canary (a declared canary seen only where the rule does
    /// not look is not "never seen").
    selected: bool,
    count: u64,
    first_seen_s: f64,
    last_seen_s: f64,
    /// Intervals between beats (within buckets as averages, between consecutive buckets exactly).
    intervals_s: Vec<f64>,
    /// (gap start, gap end) between consecutive beat buckets.
    gaps: Vec<(f64, f64)>,
}

impl Detector for HeartbeatDetector {
    fn query(&self) -> QueryKind {
        QueryKind::Heartbeats
    }

    fn detect(&self, frame: &WindowFrame, ctx: &EvalContext) -> Result<Vec<Finding>, DetectError> {
        let rule = ctx.rule;
        let params = rule.heartbeat_params();
        let seen = read_beats(frame, ctx)?;
        let as_of_s = ctx.as_of().unix_timestamp_nanos() as f64 / 1e9;
        let mut findings = Vec::new();
        let mut declared_names = std::collections::BTreeSet::new();
        for declared in &params.canaries {
            declared_names.insert(declared.name.clone());
            let matches: Vec<&Beats> = seen
                .iter()
                .filter(|b| {
                    b.canary == declared.name
                        && declared
                            .cluster
                            .as_ref()
                            .is_none_or(|c| b.entity.get("cluster") == Some(c.as_str()))
                })
                .collect();
            let period = declared.period.as_secs_f64();
            let grace = declared.grace.as_secs_f64();
            if matches.is_empty() {
                let entity =
                    canary_entity(declared.cluster.as_deref().unwrap_or(""), &declared.name);
                if !admits(rule, &entity, &[]) {
                    continue;
                }
                let evidence = Evidence::new()
                    .num("period_s", period)
                    .num("grace_s", grace)
                    .int("beats_in_window", 0)
                    .text("state", "down");
                findings.push(ctx.firing(
                    Signal::HeartbeatMissing,
                    Severity::Critical,
                    entity,
                    format!(
                        "canary {}: no heartbeat in the last {} (expected every {})",
                        declared.name,
                        duration_text(
                            ctx.window.until.unix_timestamp() as f64
                                - ctx.window.since.unix_timestamp() as f64
                        ),
                        duration_text(period)
                    ),
                    evidence,
                ));
                continue;
            }
            for b in matches {
                findings.extend(judge(b, period, grace, as_of_s, &params, ctx));
            }
        }
        if params.discover && !seen.iter().any(|b| b.selected) {
            if findings.is_empty() {
                findings.extend(nothing_seen(&params, ctx));
            } else {
                // Declared canaries already fire as never seen; say that nothing is seen at all.
                for finding in &mut findings {
                    finding.summary.push_str(&format!(
                        "; no canary seen at all: check the pipeline or the matcher ({})",
                        params.matched_text()
                    ));
                }
            }
        }
        if params.discover {
            for b in seen.iter().filter(|b| !declared_names.contains(&b.canary)) {
                if b.count < params.min_beats {
                    continue;
                }
                let Some(period) = stats::median(&b.intervals_s) else {
                    continue;
                };
                let grace = (params.grace_periods * period).max(60.0);
                findings.extend(judge(b, period, grace, as_of_s, &params, ctx));
            }
        }
        Ok(findings)
    }
}

/// The canaries a rule sees in a heartbeats window: (cluster, canary) of each it selects.
pub fn canaries_seen(frame: &DataFrame, ctx: &EvalContext) -> Result<Vec<Entity>, DetectError> {
    Ok(read_beats(frame, ctx)?
        .into_iter()
        .filter(|b| b.selected)
        .map(|b| b.entity)
        .collect())
}

/// (bucket, beats, first seen, last seen) of one canary's bucket, seconds.
type BucketBeats = (f64, u64, f64, f64);

/// The window's rows the rule watches (its matchers' rows), folded per canary; rows of one
/// bucket recognised by different matchers count as one bucket.
fn read_beats(frame: &DataFrame, ctx: &EvalContext) -> Result<Vec<Beats>, DetectError> {
    let rule = ctx.rule;
    let params = rule.heartbeat_params();
    let columns = Columns::new(frame, &rule.name, QueryKind::Heartbeats);
    let cluster = columns.text("cluster")?;
    let canary = columns.text("canary")?;
    let matcher = columns.text("matcher")?;
    let bucket = columns.seconds("bucket")?;
    let beats = columns.count("beats")?;
    let first_seen = columns.seconds("first_seen_at")?;
    let last_seen = columns.seconds("last_seen_at")?;
    let labels: Vec<String> = params.matchers.iter().map(CanaryMatcher::label).collect();
    let watched = |i: usize| labels.is_empty() || labels.iter().any(|l| l == matcher[i]);

    // Bucket rows per (cluster, canary), in frame order (sorted by canary, then bucket).
    let mut per_canary: Vec<((&str, &str), Vec<BucketBeats>)> = Vec::new();
    for i in (0..frame.height()).filter(|&i| watched(i)) {
        let key = (cluster[i], canary[i]);
        if per_canary.last().is_none_or(|(k, _)| *k != key) {
            per_canary.push((key, Vec::new()));
        }
        let rows = &mut per_canary.last_mut().expect("pushed above").1;
        match rows.last_mut() {
            Some(row) if row.0 == bucket[i] => {
                row.1 += beats[i];
                row.2 = row.2.min(first_seen[i]);
                row.3 = row.3.max(last_seen[i]);
            }
            _ => rows.push((bucket[i], beats[i], first_seen[i], last_seen[i])),
        }
    }

    let mut seen = Vec::new();
    for ((cluster, canary), rows) in per_canary {
        let entity = canary_entity(cluster, canary);
        let mut b = Beats {
            canary: canary.to_string(),
            selected: admits(rule, &entity, &[]),
            entity,
            count: 0,
            first_seen_s: f64::MAX,
            last_seen_s: f64::MIN,
            intervals_s: Vec::new(),
            gaps: Vec::new(),
        };
        let mut previous_last: Option<f64> = None;
        for (_, beats, first, last) in rows {
            b.count += beats;
            b.first_seen_s = b.first_seen_s.min(first);
            b.last_seen_s = b.last_seen_s.max(last);
            if beats >= 2 {
                let average = (last - first) / (beats - 1) as f64;
                b.intervals_s
                    .extend(std::iter::repeat_n(average, (beats - 1) as usize));
            }
            if let Some(prev) = previous_last {
                b.intervals_s.push(first - prev);
                b.gaps.push((prev, first));
            }
            previous_last = Some(last);
        }
        seen.push(b);
    }
    Ok(seen)
}

/// A discovering rule that sees no canary at all: the check watches nothing.
fn nothing_seen(params: &HeartbeatParams, ctx: &EvalContext) -> Option<Finding> {
    // Not filtered by the rule's selection: seeing nothing where it looks is the finding.
    let entity = canary_entity("", "*");
    let window_s =
        ctx.window.until.unix_timestamp() as f64 - ctx.window.since.unix_timestamp() as f64;
    let matched = params.matched_text();
    let evidence = Evidence::new()
        .int("canaries_seen", 0)
        .num("window_s", window_s)
        .text("matched", &matched)
        .text("state", "none_seen");
    Some(ctx.firing(
        Signal::HeartbeatMissing,
        Severity::Critical,
        entity,
        format!(
            "no canary seen in the last {}: check the pipeline or the matcher ({matched})",
            duration_text(window_s)
        ),
        evidence,
    ))
}

/// A canary's entity: its cluster where known, and its name.
fn canary_entity(cluster: &str, canary: &str) -> Entity {
    entity(&[("cluster", cluster), ("canary", canary)])
}

fn judge(
    b: &Beats,
    period: f64,
    grace: f64,
    as_of_s: f64,
    params: &HeartbeatParams,
    ctx: &EvalContext,
) -> Option<Finding> {
    if !b.selected {
        return None;
    }
    let entity = b.entity.clone();
    let silent_for = as_of_s - b.last_seen_s;
    let evidence = |state: &str| {
        Evidence::new()
            .time(
                "last_seen_at",
                timefmt::from_nanos((b.last_seen_s * 1e9) as i64),
            )
            .num("silent_for_s", silent_for)
            .num("period_s", period)
            .num("grace_s", grace)
            .int("beats_in_window", b.count)
            .text("state", state)
    };
    if silent_for > period + grace {
        return Some(Finding::new(
            &ctx.rule.name,
            Signal::HeartbeatMissing,
            Severity::Critical,
            Status::Firing,
            entity,
            ctx.as_of(),
            ctx.finding_window(),
            format!(
                "canary {}: silent for {} (beats every {}, grace {}) — down",
                b.canary,
                duration_text(silent_for),
                duration_text(period),
                duration_text(grace)
            ),
            evidence("down").build(),
            ctx.rule.runbook.clone(),
        ));
    }
    // Beating again: report the recovery from the latest outage, for a while.
    let outage = b
        .gaps
        .iter()
        .rev()
        .find(|(start, end)| end - start > period + grace)?;
    if as_of_s - outage.1 > params.resolved_for.as_secs_f64() {
        return None;
    }
    let mut evidence = evidence("up")
        .time("outage_from", timefmt::from_nanos((outage.0 * 1e9) as i64))
        .time("outage_to", timefmt::from_nanos((outage.1 * 1e9) as i64))
        .num("outage_s", outage.1 - outage.0);
    evidence = evidence.num("recovered_for_s", as_of_s - outage.1);
    Some(Finding::new(
        &ctx.rule.name,
        Signal::HeartbeatMissing,
        Severity::Info,
        Status::Resolved,
        entity,
        ctx.as_of(),
        ctx.finding_window(),
        format!(
            "canary {}: beating again after {} of silence",
            b.canary,
            duration_text(outage.1 - outage.0)
        ),
        evidence.build(),
        ctx.rule.runbook.clone(),
    ))
}
