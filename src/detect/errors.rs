//! Error rate: a service's error ratio against its own baseline.
//!
//! Per service (cluster, namespace, ServiceName), the window splits into the recent span and the
//! baseline before it. A finding needs all of:
//! - volume: enough requests recently and in the baseline, and enough recent errors;
//! - significance: a one-sided two-proportion test (Fisher's exact test);
//! - effect: the recent ratio at least `min_ratio_increase` × the baseline and
//!   `min_absolute_increase` above it.
//!
//! So a chronically high but flat ratio, traffic that swings at a constant ratio, and a service
//! with a handful of requests stay quiet. Every service with enough volume is a test, so the
//! significance level is divided among them (Bonferroni): with dozens of services judged every
//! few minutes, an uncorrected 0.001 would raise a false alarm every run or two.
//!
//! A gradual rise that has already lifted the baseline is caught by the trend path
//! (`trend`): a volume-weighted test that the errors concentrate after a hinge (the exact
//! conditional score test of a log-linear trend, a Cochran–Armitage test with a hinge), tried
//! from several hinges, with the ratio since then a material multiple of the ratio before. Its
//! absolute minimum is its own (`trend_min_absolute_increase`): on a busy service a fraction of
//! a percent climbing to five times itself is significant — and worth a warning — long before it
//! adds a whole percentage point. Optional SLO burn-rate alerts need both of
//! a long and a short window above their factor.

use serde::{Deserialize, Serialize};

use crate::config::validate::is_probability;
use crate::config::DurationText;
use crate::detect::frame::{entity, groups, Columns};
use crate::detect::select::{selected_groups, Selected};
use crate::detect::stats;
use crate::detect::{DetectError, Detector, EvalContext};
use crate::findings::{duration_text, Entity, Evidence, Finding, Severity, Signal};
use crate::window::{QueryKind, WindowFrame};

mod trend;

use trend::ScoredBucket;

pub struct ErrorRateDetector;

/// Where a service's requests and errors are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    /// Log records of the service; errors by severity (ERROR/FATAL).
    #[default]
    Logs,
    /// Server and consumer spans of the service; errors by span status.
    Traces,
}

/// The `errors:` section of a rule: a service's error ratio against its own baseline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorParams {
    /// `logs` (default) or `traces`.
    pub source: ErrorSource,
    /// The recent span compared with the rest of the window (the baseline).
    pub recent: DurationText,
    /// One-sided significance level of the two-proportion test (Fisher exact), divided among
    /// the services the rule selects that have the volume to be judged (Bonferroni).
    pub significance: f64,
    /// Requests needed in the recent span.
    pub min_requests: u64,
    /// Errors needed in the recent span.
    pub min_errors: u64,
    /// Requests needed in the baseline.
    pub min_baseline_requests: u64,
    /// Recent ratio must be at least this multiple of the baseline ratio …
    pub min_ratio_increase: f64,
    /// … and at least this much higher in absolute terms (0.01 = one percentage point).
    pub min_absolute_increase: f64,
    /// Critical at this multiple of the baseline ratio.
    pub critical_ratio_increase: f64,
    /// Also judge the ratio's trend (gradual rises): a volume-weighted test that errors
    /// concentrate after a hinge, against the ratio before it.
    pub trend: bool,
    /// The trend path's minimum effect in absolute terms (0.001 = 0.1 percentage point): a
    /// creep on a busy service is material long before it adds a whole point, and its volume
    /// makes it significant early; `min_ratio_increase` applies as well.
    pub trend_min_absolute_increase: f64,
    /// Optional SLO burn-rate mode.
    pub burn_rate: Option<BurnRateParams>,
}

impl Default for ErrorParams {
    fn default() -> Self {
        ErrorParams {
            source: ErrorSource::Logs,
            recent: DurationText::secs(15 * 60),
            significance: 0.001,
            min_requests: 50,
            min_errors: 5,
            min_baseline_requests: 200,
            min_ratio_increase: 2.0,
            min_absolute_increase: 0.01,
            critical_ratio_increase: 5.0,
            trend: true,
            trend_min_absolute_increase: 0.001,
            burn_rate: None,
        }
    }
}

impl ErrorParams {
    /// (field, message) for each value out of range, for a rule of this `window`.
    pub fn problems(&self, window: DurationText) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !is_probability(self.significance) {
            problems.push(("significance", "must be between 0 and 1".into()));
        }
        if self.recent.0 >= window.0 {
            problems.push((
                "recent",
                format!("must be shorter than the window ({window})"),
            ));
        }
        if self.min_ratio_increase < 1.0 {
            problems.push(("min_ratio_increase", "must be at least 1".into()));
        }
        if let Some(b) = &self.burn_rate {
            if !is_probability(b.objective) {
                problems.push((
                    "burn_rate.objective",
                    "must be between 0 and 1 (e.g. 0.999)".into(),
                ));
            }
            for a in &b.alerts {
                if a.long.0 > window.0 || a.short.0 > a.long.0 {
                    problems.push((
                        "burn_rate.alerts",
                        format!("windows must satisfy short ≤ long ≤ the rule window ({window})"),
                    ));
                }
            }
        }
        problems
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BurnRateParams {
    /// The availability objective, e.g. 0.999.
    pub objective: f64,
    /// Each alert needs both windows above the factor (multi-window burn rate).
    pub alerts: Vec<BurnRateAlert>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BurnRateAlert {
    pub long: DurationText,
    pub short: DurationText,
    pub factor: f64,
    pub severity: Severity,
}

/// The trend path's rise spans: from two thirds of the window back (a third of it is left as
/// the baseline), halving while a span still holds this many buckets. A 3 h window tries 2 h,
/// 1 h and 30 min; a 6 h one adds 4 h, so a long window lengthens the baseline a slow creep on
/// a service with few errors is judged against, without losing the short spans.
const TREND_MIN_SPAN_BUCKETS: f64 = 6.0;

/// The rise spans (seconds) for a window and bucket, longest first.
fn trend_spans(window_s: f64, bucket_s: f64) -> Vec<f64> {
    std::iter::successors(Some(window_s * 2.0 / 3.0), |span| Some(span / 2.0))
        .take_while(|span| *span >= TREND_MIN_SPAN_BUCKETS * bucket_s)
        .collect()
}

impl Detector for ErrorRateDetector {
    fn query(&self) -> QueryKind {
        QueryKind::Errors
    }

    fn detect(&self, frame: &WindowFrame, ctx: &EvalContext) -> Result<Vec<Finding>, DetectError> {
        let rule = ctx.rule;
        let params = rule.error_params();
        let columns = Columns::new(frame, &rule.name, crate::detect::query_for(rule));
        let cluster = columns.text("cluster")?;
        let namespace = columns.text("namespace")?;
        let service = columns.text("service")?;
        let opt_out = columns.text("opt_out")?;
        let bucket = columns.seconds("bucket")?;
        let total = columns.count("total")?;
        let errors = columns.count("errors")?;

        let as_of_s = ctx.as_of().unix_timestamp_nanos() as f64 / 1e9;
        let recent_start = as_of_s - params.recent.as_secs_f64();
        let bucket_s = ctx.window.bucket.as_secs_f64();
        let window_s = (ctx.window.until - ctx.window.since).as_seconds_f64();
        // The services the rule selects, each with its buckets and its recent/baseline split,
        // computed once.
        let selected = selected_groups(
            rule,
            groups(frame.height(), |i| (cluster[i], namespace[i], service[i])),
            Some(&opt_out),
            |rows| {
                entity(&[
                    ("cluster", cluster[rows.start]),
                    ("namespace", namespace[rows.start]),
                    ("service", service[rows.start]),
                ])
            },
        );
        let services: Vec<(Entity, Vec<BucketCounts>, Split)> = selected
            .into_iter()
            .map(|Selected { rows, entity }| {
                let buckets: Vec<BucketCounts> =
                    rows.map(|i| (bucket[i], total[i], errors[i])).collect();
                let split = Split::of(&buckets, recent_start);
                (entity, buckets, split)
            })
            .collect();
        // The number of tests this step: selected services with the volume to be judged at all.
        let tested = services
            .iter()
            .filter(|(_, _, split)| split.has_volume(&params))
            .count()
            .max(1);
        let mut params = params;
        params.significance /= tested as f64;
        let mut findings = Vec::new();
        for (entity, rows, split) in services {
            // The step and trend tests need volume; burn rates apply their own minimums.
            let judgeable = split.judgeable(&params);
            let judged = judgeable
                .then(|| judge_step(&split, &params))
                .flatten()
                .or_else(|| {
                    (split.has_volume(&params) && params.trend)
                        .then(|| judge_trend(&rows, &split, as_of_s, bucket_s, window_s, &params))
                        .flatten()
                })
                .or_else(|| judge_burn_rate(&rows, as_of_s, &params));
            let Some(judgement) = judged else { continue };
            let name = entity.get("service").unwrap_or_default().to_string();
            let summary = format!(
                "{name}: error ratio {:.2}% over the last {} ({} of {} requests) vs {:.2}% baseline — {}",
                100.0 * judgement.recent_ratio,
                params.recent,
                judgement.recent_errors,
                judgement.recent_total,
                100.0 * judgement.baseline_ratio,
                judgement.reason
            );
            let mut evidence = Evidence::new()
                .num("recent_error_ratio", judgement.recent_ratio)
                .num("baseline_error_ratio", judgement.baseline_ratio)
                .int("recent_errors", judgement.recent_errors)
                .int("recent_requests", judgement.recent_total)
                .int("baseline_errors", judgement.baseline_errors)
                .int("baseline_requests", judgement.baseline_total)
                .num("p_value", judgement.p_value)
                .num("recent_window_s", params.recent.as_secs_f64())
                .text("method", judgement.method);
            // A multiple of nothing is meaningless: only a non-zero baseline gets one.
            if judgement.baseline_ratio > 0.0 {
                evidence = evidence.num(
                    "ratio_increase",
                    judgement.recent_ratio / judgement.baseline_ratio,
                );
            }
            findings.push(ctx.firing(
                Signal::ErrorRate,
                judgement.severity,
                entity,
                summary,
                evidence,
            ));
        }
        Ok(findings)
    }
}

struct Judgement {
    severity: Severity,
    method: &'static str,
    reason: String,
    recent_ratio: f64,
    baseline_ratio: f64,
    recent_errors: u64,
    recent_total: u64,
    baseline_errors: u64,
    baseline_total: u64,
    p_value: f64,
}

fn sums(rows: &[(f64, u64, u64)], keep: impl Fn(f64) -> bool) -> (u64, u64) {
    rows.iter()
        .filter(|r| keep(r.0))
        .fold((0, 0), |(t, e), r| (t + r.1, e + r.2))
}

/// One bucket of a service: (bucket start in epoch seconds, requests, errors).
type BucketCounts = (f64, u64, u64);

/// A service's requests and errors in the recent span and in the baseline before it.
#[derive(Debug, Clone, Copy)]
struct Split {
    recent_total: u64,
    recent_errors: u64,
    baseline_total: u64,
    baseline_errors: u64,
}

impl Split {
    fn of(rows: &[(f64, u64, u64)], recent_start: f64) -> Split {
        let (recent_total, recent_errors) = sums(rows, |t| t >= recent_start);
        let (baseline_total, baseline_errors) = sums(rows, |t| t < recent_start);
        Split {
            recent_total,
            recent_errors,
            baseline_total,
            baseline_errors,
        }
    }

    /// Enough requests recently and in the baseline to judge a ratio.
    fn has_volume(&self, params: &ErrorParams) -> bool {
        self.recent_total >= params.min_requests
            && self.baseline_total >= params.min_baseline_requests
    }

    /// Volume, and enough recent errors to speak of a rise at all.
    fn judgeable(&self, params: &ErrorParams) -> bool {
        self.has_volume(params) && self.recent_errors >= params.min_errors
    }

    fn recent_ratio(&self) -> f64 {
        self.recent_errors as f64 / self.recent_total as f64
    }

    fn baseline_ratio(&self) -> f64 {
        self.baseline_errors as f64 / self.baseline_total as f64
    }
}

/// Recent span against the baseline: significance and effect (the caller checked volume).
fn judge_step(split: &Split, params: &ErrorParams) -> Option<Judgement> {
    let Split {
        recent_total,
        recent_errors,
        baseline_total,
        baseline_errors,
    } = *split;
    let recent_ratio = split.recent_ratio();
    let baseline_ratio = split.baseline_ratio();
    if !effect_is_material(recent_ratio, baseline_ratio, params) {
        return None;
    }
    let p_value = proportion_p_value(baseline_errors, baseline_total, recent_errors, recent_total)?;
    if p_value >= params.significance {
        return None;
    }
    let severity = if recent_ratio >= params.critical_ratio_increase * baseline_ratio.max(1e-9)
        && recent_ratio - baseline_ratio >= 5.0 * params.min_absolute_increase
    {
        Severity::Critical
    } else {
        Severity::Warning
    };
    Some(Judgement {
        severity,
        method: "fisher_exact",
        reason: if baseline_ratio > 0.0 {
            format!("{:.1}× its baseline", recent_ratio / baseline_ratio)
        } else {
            "up from no errors".to_string()
        },
        recent_ratio,
        baseline_ratio,
        recent_errors,
        recent_total,
        baseline_errors,
        baseline_total,
        p_value,
    })
}

fn effect_is_material(recent_ratio: f64, baseline_ratio: f64, params: &ErrorParams) -> bool {
    recent_ratio >= params.min_ratio_increase * baseline_ratio
        && recent_ratio - baseline_ratio >= params.min_absolute_increase
}

/// One-sided p-value that the recent proportion exceeds the baseline: Fisher's exact test.
/// Both ratios are estimates, and the z approximation overstates significance in exactly the
/// small-count tail where noise alarms come from (22 errors where 9 were expected: z gives
/// 5e-5, the exact test 2e-4).
fn proportion_p_value(
    baseline_errors: u64,
    baseline_total: u64,
    recent_errors: u64,
    recent_total: u64,
) -> Option<f64> {
    stats::two_proportion_test(baseline_errors, baseline_total, recent_errors, recent_total)
        .map(|t| t.p_value_exact)
}

/// A gradual rise: errors concentrate, volume-weighted, after a hinge some time back
/// (`trend::hinge_trend_test`), and the ratio over the latest third of that span is a material
/// multiple of the ratio before the hinge (the service's own baseline). The rise is tried from
/// several hinges (`trend_spans`: a creep may have started any time), so the level is divided
/// among them as well (Bonferroni). Only the minimum volume is checked by the
/// caller: the recent span may hold a handful of errors, and the test knows how few that is.
fn judge_trend(
    rows: &[BucketCounts],
    split: &Split,
    as_of_s: f64,
    bucket_s: f64,
    window_s: f64,
    params: &ErrorParams,
) -> Option<Judgement> {
    let spans = trend_spans(window_s, bucket_s);
    let level = params.significance / spans.len() as f64;
    let mut best: Option<(f64, Judgement)> = None;
    for span in spans {
        let hinge = as_of_s - span;
        let scored: Vec<ScoredBucket> = rows
            .iter()
            .map(|&(t, requests, errors)| ScoredBucket {
                score: if t >= hinge {
                    ((t - hinge) / bucket_s).floor() as u32 + 1
                } else {
                    0
                },
                requests,
                errors,
            })
            .collect();
        let (before_total, before_errors) = sums(rows, |t| t < hinge);
        let latest_start = as_of_s - (span / 3.0).max(params.recent.as_secs_f64());
        let (latest_total, latest_errors) = sums(rows, |t| t >= latest_start);
        let window_errors: u64 = rows.iter().map(|r| r.2).sum();
        if before_total < params.min_baseline_requests
            || latest_total < params.min_requests
            || window_errors < params.min_errors
        {
            continue;
        }
        let before_ratio = before_errors as f64 / before_total as f64;
        let latest_ratio = latest_errors as f64 / latest_total as f64;
        if latest_ratio < params.min_ratio_increase * before_ratio
            || latest_ratio - before_ratio < params.trend_min_absolute_increase
        {
            continue;
        }
        let Some(test) = trend::hinge_trend_test(&scored) else {
            continue;
        };
        if test.p_value >= level || best.as_ref().is_some_and(|(p, _)| *p <= test.p_value) {
            continue;
        }
        let judgement = Judgement {
            severity: Severity::Warning,
            method: "binomial_trend",
            reason: format!(
                "rising for ~{}: {:.2}% before, {:.2}% over the last {} ({:.1}× its baseline)",
                duration_text(span),
                100.0 * before_ratio,
                100.0 * latest_ratio,
                duration_text(as_of_s - latest_start),
                if before_ratio > 0.0 {
                    latest_ratio / before_ratio
                } else {
                    f64::INFINITY
                }
            ),
            recent_ratio: split.recent_ratio(),
            baseline_ratio: before_ratio,
            recent_errors: split.recent_errors,
            recent_total: split.recent_total,
            baseline_errors: before_errors,
            baseline_total: before_total,
            p_value: test.p_value,
        };
        best = Some((test.p_value, judgement));
    }
    best.map(|(_, j)| j)
}

/// SLO burn rate: error ratio / error budget, over a long and a short window, both above the
/// alert's factor.
fn judge_burn_rate(
    rows: &[(f64, u64, u64)],
    as_of_s: f64,
    params: &ErrorParams,
) -> Option<Judgement> {
    let burn = params.burn_rate.as_ref()?;
    let budget = 1.0 - burn.objective;
    let ratio_since = |span: f64| {
        let (t, e) = sums(rows, |b| b >= as_of_s - span);
        (t, e, if t > 0 { e as f64 / t as f64 } else { 0.0 })
    };
    let mut alerts: Vec<_> = burn.alerts.iter().collect();
    alerts.sort_by_key(|a| std::cmp::Reverse(a.severity));
    for alert in alerts {
        let (long_total, long_errors, long_ratio) = ratio_since(alert.long.as_secs_f64());
        let (short_total, short_errors, short_ratio) = ratio_since(alert.short.as_secs_f64());
        if long_total < params.min_requests || short_errors < params.min_errors.min(1) {
            continue;
        }
        if long_ratio / budget >= alert.factor && short_ratio / budget >= alert.factor {
            return Some(Judgement {
                severity: alert.severity,
                method: "burn_rate",
                reason: format!(
                    "burning the {:.3}% error budget {:.1}× over {} and {:.1}× over {}",
                    100.0 * budget,
                    long_ratio / budget,
                    alert.long,
                    short_ratio / budget,
                    alert.short
                ),
                recent_ratio: short_ratio,
                baseline_ratio: budget,
                recent_errors: short_errors,
                recent_total: short_total,
                baseline_errors: long_errors,
                baseline_total: long_total,
                p_value: f64::NAN,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::trend_spans;

    #[test]
    fn trend_spans_halve_from_two_thirds_of_the_window_down_to_six_buckets() {
        let minutes = |spans: Vec<f64>| spans.iter().map(|s| s / 60.0).collect::<Vec<_>>();
        // The 3 h window keeps the spans it always had; 6 h adds the 4 h one.
        assert_eq!(
            minutes(trend_spans(3.0 * 3600.0, 300.0)),
            [120.0, 60.0, 30.0]
        );
        assert_eq!(
            minutes(trend_spans(6.0 * 3600.0, 300.0)),
            [240.0, 120.0, 60.0, 30.0]
        );
        // A 1 h window of one-minute buckets: 40, 20, 10 min (5 min would be five buckets); a
        // window too short for a six-bucket span has none.
        assert_eq!(minutes(trend_spans(3600.0, 60.0)), [40.0, 20.0, 10.0]);
        assert!(trend_spans(1200.0, 300.0).is_empty());
    }
}
