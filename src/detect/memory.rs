//! Memory pressure: a container's working set climbing toward its limit.
//!
//! Method, per container incarnation (pod UID + container), on bucket minima — the GC floor,
//! so a sawtooth whose floor is flat stays quiet however high its peaks:
//! 1. Split at restarts: where the container's restart counter rises (the frame carries it), a
//!    new segment starts. Without a restart counter, a floor dropping below `reset_fraction` of
//!    the recent floor is taken for a restart.
//! 2. The workload's own history: finished incarnations of the same workload and container in
//!    the window (earlier runs of a CronJob, replaced pods of a ReplicaSet) that were not
//!    killed show how high it goes normally; a climb no higher than that is quiet.
//! 3. For each trailing fit span (the rule's `fit_windows` and the whole segment) with enough
//!    points, the floor's shape is judged before its trend (`shape`):
//!    - a level shift is not a trend: where one change of level fits better than a line or a
//!      "flat, then rising" hinge, only the points after the change are judged;
//!    - a cycle is judged over whole cycles: with a dominant period in the residuals, the span
//!      must hold two cycles and their lowest floors must rise;
//!    - the rise must be significant (Mann–Kendall p < significance) with a Theil–Sen
//!      interval above zero, widened by the residuals' lag-1 autocorrelation (smooth noise and
//!      slow cycles carry fewer independent points than they count), material
//!      (≥ `min_growth_fraction_per_hour` of the limit per hour), and visible in the floor
//!      itself (the last quarter's lowest floor above the first quarter's by half what the
//!      slope predicts);
//!    - where "flat, then rising" explains far more than a line, the rate after the hinge is
//!      the one forecast (a line through the flat part understates a young leak).
//! 4. The young-leak path (`short_window`): a short span with fewer points but stronger
//!    evidence — a stricter level, a rise that keeps its pace (warm-ups slow down), the limit
//!    within `short_within` even at the slope's lower bound, and new ground (the incarnation
//!    did not already hold its current level before the span).
//! 5. The newest `tail` span must still rise, and the forecast uses its slope (and that
//!    slope's interval) where that is lower (the current rate: a warm-up after a restart
//!    decelerates). Collections must not be managing it: where the segment shows GC
//!    collections (peaks falling back without a restart), the troughs they leave must rise.
//! 6. Forecast: time until the current peak plus slope × t reaches the limit, with an interval
//!    from the slope's interval and the floor's noise; its earliest bound also carries each
//!    recent GC top forward at the slope's upper bound (the newest bucket may sit in a trough),
//!    and a curvature in the rise widens it by the parabola's band (the latest bound from 95 %
//!    two-sided, the earliest — which sets the severity — only from p ≈ 5·10⁻⁴). Warn
//!    within `warning_within`, critical when the earliest bound is within `critical_within`;
//!    the summary says when.
//! 7. Relapse (`relapse`): where the incarnation right before was OOM-killed at its limit, the
//!    container's earlier killed climbs in the window forecast this one (its level matched to
//!    the age a killed climb had it, scaled by pace), from `relapse::MIN_POINTS` buckets on;
//!    their range joins the trend's interval.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::validate::is_probability;
use crate::config::DurationText;
use crate::detect::frame::{entity, groups, workload as frame_workload, Columns};
use crate::detect::select::{selected_series, Selected};
use crate::detect::stats;
use crate::detect::{DetectError, Detector, EvalContext};
use crate::findings::{bytes_text, duration_text, Evidence, Finding, Severity, Signal};
use crate::window::{QueryKind, WindowFrame};

mod curvature;
mod relapse;
mod shape;

pub struct MemoryDetector;

/// The `memory:` section of a rule: the working set's trend toward the limit, and when it gets
/// there.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryParams {
    /// Warn when the limit is forecast to be reached within this horizon.
    pub warning_within: DurationText,
    /// Critical when within this horizon.
    pub critical_within: DurationText,
    /// Buckets needed in the current segment (since the last restart) before judging.
    pub min_points: usize,
    /// Mann–Kendall significance level for the rise of the GC floor.
    pub significance: f64,
    /// Trailing spans the trend is fitted over (plus the whole segment); the most urgent
    /// significant one counts. Short spans catch fast leaks, long ones slow ones.
    pub fit_windows: Vec<DurationText>,
    /// The most recent span whose slope must agree (still rising).
    pub tail: DurationText,
    /// A drop of the floor below this fraction of the recent floor is a restart: the series
    /// starts over.
    pub reset_fraction: f64,
    /// Ignore growth slower than this fraction of the limit per hour.
    pub min_growth_fraction_per_hour: f64,
    /// Also judge containers without a limit (info findings on significant growth only).
    pub include_unlimited: bool,
    /// The young-leak path: a short trailing span judged with fewer points but stronger
    /// evidence — a stricter significance, a rise that does not slow down (a warm-up does),
    /// and the limit reached within `short_within` even at the slope's lower bound.
    pub short_window: Option<DurationText>,
    /// Points the short span needs (instead of `min_points`).
    pub short_min_points: usize,
    /// Mann–Kendall significance on the short span.
    pub short_significance: f64,
    /// The short path warns only when the limit is reached within this even at the lower
    /// bound of the slope.
    pub short_within: DurationText,
}

impl Default for MemoryParams {
    fn default() -> Self {
        MemoryParams {
            warning_within: DurationText::secs(2 * 3600),
            critical_within: DurationText::secs(30 * 60),
            min_points: 45,
            significance: 0.01,
            fit_windows: vec![DurationText::secs(3600), DurationText::secs(2 * 3600)],
            tail: DurationText::secs(30 * 60),
            reset_fraction: 0.7,
            min_growth_fraction_per_hour: 0.02,
            include_unlimited: false,
            short_window: Some(DurationText::secs(20 * 60)),
            short_min_points: 12,
            short_significance: 1e-4,
            short_within: DurationText::secs(3600),
        }
    }
}

impl MemoryParams {
    /// (field, message) for each value out of range.
    pub fn problems(&self, _window: DurationText) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.critical_within > self.warning_within {
            problems.push(("critical_within", "must not exceed warning_within".into()));
        }
        if !is_probability(self.significance) {
            problems.push(("significance", "must be between 0 and 1".into()));
        }
        if self.min_points < 4 {
            problems.push(("min_points", "must be at least 4".into()));
        }
        if !is_probability(self.short_significance) {
            problems.push(("short_significance", "must be between 0 and 1".into()));
        }
        if self.short_min_points < 6 {
            problems.push(("short_min_points", "must be at least 6".into()));
        }
        if !(0.0..1.0).contains(&self.reset_fraction) {
            problems.push(("reset_fraction", "must be in [0, 1)".into()));
        }
        problems
    }
}

/// One significant fit of the floor's trend.
#[derive(Debug, Clone)]
struct TrendFit {
    span_s: f64,
    points: usize,
    slope_per_s: f64,
    slope_low_per_s: f64,
    slope_high_per_s: f64,
    p_value: f64,
    seconds_to_limit: f64,
    /// Robust spread (1.4826 × MAD) of the floor around the fitted line: how far the current
    /// level may be off the trend by noise alone.
    noise_bytes: f64,
    /// The rising part's points (from the hinge, else the span) and the variance factor of
    /// their autocorrelation: the forecast interval also holds the crossings of bent rises
    /// these points cannot tell apart from a straight one.
    rise: Vec<(f64, f64)>,
    variance_inflation: f64,
    /// The span's parabola, where its curvature is beyond what the noise explains: the
    /// forecast interval then also holds the crossings of the curve's confidence band.
    curve: Option<curvature::Parabola>,
}

/// One series' rows of the memory window, as vectors.
struct SeriesRows {
    bucket: Vec<f64>,
    peak: Vec<Option<f64>>,
    floor: Vec<Option<f64>>,
    limit: Vec<Option<f64>>,
    restart_count: Vec<Option<f64>>,
}

impl Detector for MemoryDetector {
    fn query(&self) -> QueryKind {
        QueryKind::Memory
    }

    fn detect(&self, frame: &WindowFrame, ctx: &EvalContext) -> Result<Vec<Finding>, DetectError> {
        let rule = ctx.rule;
        let params = rule.memory_params();
        let columns = Columns::new(frame, &rule.name, QueryKind::Memory);
        // Names are one row per series: read for the series judged, not for every bucket.
        let names = columns.series_names(frame)?;
        let cluster = names.text("cluster")?;
        let namespace = names.text("namespace")?;
        let pod = names.text("pod")?;
        let container = names.text("container")?;
        let workload = names.text("workload")?;
        let opt_out = names.text("opt_out")?;
        let series_of = columns.series("series")?;
        let series_at = |rows: &std::ops::Range<usize>| series_of[rows.start] as usize;
        // A series' values are read for that series alone: a whole one-minute window's columns
        // as vectors would take more memory than the window itself.
        let bucket_of = columns.nanos_rows("bucket")?;
        let peak_of = columns.float_rows("working_set_max_bytes")?;
        let floor_of = columns.float_rows("working_set_min_bytes")?;
        let limit_of = columns.float_rows("limit_bytes")?;
        let restart_count_of = columns.float_rows("restart_count")?;
        let read = |rows: &std::ops::Range<usize>| SeriesRows {
            bucket: bucket_of.seconds(rows.clone()),
            peak: peak_of.rows(rows.clone()),
            floor: floor_of.rows(rows.clone()),
            limit: limit_of.rows(rows.clone()),
            restart_count: restart_count_of.rows(rows.clone()),
        };

        let bucket_s = ctx.window.bucket.as_secs_f64();
        let as_of_s = ctx.as_of().unix_timestamp_nanos() as f64 / 1e9;
        let since_s = ctx.window.since.unix_timestamp_nanos() as f64 / 1e9;
        let mut findings = Vec::new();
        let series = groups(frame.height(), |i| series_of[i]);
        // How high each workload's finished incarnations went (as a fraction of their limit)
        // without a restart: the workload's own history within the window.
        let mut precedents: HashMap<(&str, &str, &str, &str), Precedent> = HashMap::new();
        for rows in &series {
            let owner = workload[series_at(rows)];
            if owner.is_empty() {
                continue;
            }
            // Most series are still running: only ended ones are read whole.
            let ended = bucket_of.seconds_at(rows.end - 1) + 2.5 * bucket_s < as_of_s;
            if !ended {
                continue;
            }
            let SeriesRows {
                bucket,
                peak,
                limit,
                restart_count,
                ..
            } = read(rows);
            let restarted = {
                let counts: Vec<f64> = restart_count.iter().flatten().copied().collect();
                counts.windows(2).any(|w| w[1] > w[0])
            };
            let Some(limit) = limit.iter().flatten().copied().find(|l| *l > 0.0) else {
                continue;
            };
            let height = peak.iter().flatten().copied().fold(0.0, f64::max) / limit;
            // One that reached its limit was killed there, not finished.
            if restarted || height >= KILLED_AT {
                continue;
            }
            let id = series_at(rows);
            let key = (cluster[id], namespace[id], owner, container[id]);
            let lifetime_s = bucket[bucket.len() - 1] - bucket[0] + bucket_s;
            let entry = precedents
                .entry(key)
                .or_insert(Precedent { height, lifetime_s });
            entry.height = entry.height.max(height);
            entry.lifetime_s = entry.lifetime_s.max(lifetime_s);
        }
        let selected = selected_series(rule, series, |rows| {
            let id = series_at(rows);
            let entity = entity(&[
                ("cluster", cluster[id]),
                ("namespace", namespace[id]),
                ("pod", pod[id]),
                ("container", container[id]),
            ])
            .with_workload(frame_workload(workload[id]));
            (entity, vec![opt_out[id]])
        });
        // Each series is judged alone, so the series are judged in parallel (the window's
        // order is kept): the fits are most of a 10,000-series run.
        let judged = selected
            .into_par_iter()
            .map(
                |Selected {
                     rows: range,
                     entity,
                 }|
                 -> Result<Option<Finding>, DetectError> {
                    let SeriesRows {
                        bucket,
                        peak,
                        floor,
                        limit,
                        restart_count,
                    } = read(&range);
                    // A series that stopped reporting (completed batch pod, replaced pod) is gone.
                    let last_bucket = bucket[bucket.len() - 1];
                    if last_bucket + 2.5 * bucket_s < as_of_s {
                        return Ok(None);
                    }
                    let limit_bytes = limit.iter().rev().flatten().copied().find(|l| *l > 0.0);
                    if limit_bytes.is_none() && !params.include_unlimited {
                        return Ok(None);
                    }
                    let points: Vec<Point> = (0..bucket.len())
                        .filter_map(|i| {
                            Some(Point {
                                t: bucket[i] + bucket_s / 2.0,
                                floor: floor[i]?,
                                peak: peak[i]?,
                                restarts: restart_count[i],
                            })
                        })
                        .collect();
                    let segment = current_segment(&points, params.reset_fraction);
                    let after_a_kill = limit_bytes.is_some_and(|limit| {
                        let before = &points[..points.len() - segment.len()];
                        before[before.len().saturating_sub(5)..]
                            .iter()
                            .any(|p| p.peak >= KILLED_AT * limit)
                            && segment.len() < points.len()
                    });
                    let short_path = params
                        .short_window
                        .filter(|_| segment.len() >= params.short_min_points);
                    // Right after a kill the container's earlier climbs can judge a segment younger
                    // than any fit span's (see `relapse`).
                    let relapse_may_judge = after_a_kill && segment.len() >= relapse::MIN_POINTS;
                    if segment.len() < params.min_points
                        && short_path.is_none()
                        && !relapse_may_judge
                    {
                        return Ok(None);
                    }
                    // The working set that meets the limit next is the top of the recent GC cycles, not
                    // wherever the current cycle happens to be: the highest peak over the tail span.
                    let tail_from = as_of_s - params.tail.as_secs_f64();
                    let current_peak = segment
                        .iter()
                        .filter(|p| p.t >= tail_from)
                        .map(|p| p.peak)
                        .fold(segment[segment.len() - 1].peak, f64::max);
                    let recent = &segment[segment.len().saturating_sub(5)..];
                    let current_floor = recent.iter().map(|p| p.floor).fold(f64::MAX, f64::min);
                    let reference = limit_bytes.unwrap_or(current_peak.max(1.0));
                    let min_slope = params.min_growth_fraction_per_hour * reference / 3600.0;

                    // Been this high before and collected without a restart: a slow GC cycle, not a leak.
                    // Without a restart counter the segment starts at a deep drop, which may be a full
                    // collection as well as a restart: the collections are then looked for over the
                    // whole series, and only a drop from the limit counts as a kill.
                    let counted = points.iter().any(|p| p.restarts.is_some());
                    let history = if counted { segment } else { &points[..] };
                    let killed_at = limit_bytes.map(|limit| KILLED_AT * limit);
                    if managed_by_collections(
                        history,
                        current_peak,
                        reference,
                        min_slope,
                        killed_at,
                        bucket_s,
                    ) {
                        return Ok(None);
                    }

                    // This workload has been here before and finished without being killed (an
                    // earlier run of the same CronJob, an earlier pod of the same ReplicaSet): a climb
                    // to the height its predecessors reached is its normal shape, not a leak.
                    let id = series_at(&range);
                    let key = (cluster[id], namespace[id], workload[id], container[id]);
                    let precedent = precedents.get(&key).copied();
                    if let (Some(limit), Some(p)) = (limit_bytes, precedent) {
                        if current_peak / limit <= p.height + PRECEDENT_MARGIN {
                            return Ok(None);
                        }
                    }
                    // How long this incarnation may still run, by its predecessors' lifetimes: a
                    // batch run that will have finished before the limit is not going to be killed.
                    let age_s = as_of_s - points[0].t + bucket_s / 2.0;
                    let expected_remaining_s = precedent.map(|p| p.lifetime_s - age_s);

                    let regular = Strictness {
                        min_points: params.min_points,
                        significance: params.significance,
                        within_at_lower_bound: None,
                        after_a_kill,
                    };
                    let mut spans: Vec<(f64, Strictness)> = params
                        .fit_windows
                        .iter()
                        .map(|w| (w.as_secs_f64(), regular))
                        .collect();
                    spans.push((f64::INFINITY, regular));
                    if let Some(short) = short_path {
                        spans.push((
                            short.as_secs_f64(),
                            Strictness {
                                min_points: params.short_min_points,
                                significance: params.short_significance,
                                within_at_lower_bound: Some(params.short_within.as_secs_f64()),
                                after_a_kill,
                            },
                        ));
                    }
                    let mut best: Option<TrendFit> = None;
                    for (span, strictness) in spans {
                        let Some(fit) = fit_span(
                            segment,
                            span,
                            bucket_s,
                            &params,
                            strictness,
                            min_slope,
                            limit_bytes,
                            current_peak,
                        ) else {
                            continue;
                        };
                        if best
                            .as_ref()
                            .is_none_or(|b| fit.seconds_to_limit < b.seconds_to_limit)
                        {
                            best = Some(fit);
                        }
                    }
                    // Killed at its limit right before this incarnation: the course the container's
                    // earlier climbs took to their kills is this climb's forecast (and warns where a
                    // trend fitted to a young climb cannot yet).
                    let relapse =
                        limit_bytes
                            .filter(|_| after_a_kill && counted)
                            .and_then(|limit| {
                                // A pod created in the window: its first incarnation's start was seen.
                                let began_in_window =
                                    points[0].t - bucket_s / 2.0 > since_s + bucket_s;
                                relapse::forecast(
                                    &points,
                                    segment,
                                    began_in_window,
                                    limit,
                                    bucket_s,
                                    params.significance,
                                )
                            });
                    let fit = match (best, relapse) {
                        (Some(fit), _) => fit,
                        (None, Some(_)) => match segment_trend(segment, bucket_s) {
                            Some(fit) => fit,
                            None => return Ok(None),
                        },
                        (None, None) => return Ok(None),
                    };
                    // Forecast with the current rate: the newest `tail` span's slope where it is lower than
                    // the span's. A leak keeps its rate; a warm-up after a (re)start decelerates toward
                    // its normal level and a stopped leak flattens, and a straight line over the whole
                    // span would overstate how fast either is still growing.
                    // Only the rise counts: where the fit found "flat, then rising", the flat part
                    // before the hinge is not the current rate.
                    let rise_from = fit.rise.first().map_or(f64::MIN, |(t, _)| *t);
                    let tail_start = (as_of_s - params.tail.as_secs_f64()).max(rise_from);
                    let (tx, ty): (Vec<f64>, Vec<f64>) = segment
                        .iter()
                        .filter(|p| p.t >= tail_start)
                        .map(|p| (p.t, p.floor))
                        .unzip();
                    let mut fit = fit;
                    if tx.len() >= 4 {
                        let Some(tail) = stats::theil_sen(&tx, &ty) else {
                            return Ok(None);
                        };
                        if tail.slope <= 0.0 {
                            return Ok(None);
                        }
                        if tail.slope < fit.slope_per_s {
                            // The forecast's interval is the interval of the slope it uses: the tail's
                            // own (widened by its residuals' autocorrelation, as the span's is). The
                            // span's interval may lie wholly above the tail's rate, and its upper
                            // bound would then make the earliest time (and the severity) out of a rate
                            // the newest points contradict.
                            let residuals = residuals(&tx, &ty, &tail);
                            let inflation = shape::autocorrelation_inflation(
                                shape::autocorrelation(&residuals, 1),
                            );
                            (fit.slope_low_per_s, fit.slope_high_per_s) =
                                widened_interval(&tail, inflation);
                            fit.slope_per_s = tail.slope;
                            if let Some(limit) = limit_bytes {
                                fit.seconds_to_limit =
                                    stats::forecast_crossing(tail.slope, current_peak, limit)
                                        .unwrap_or(f64::INFINITY);
                            }
                        }
                    }
                    if let Some(relapse) = relapse {
                        fit.seconds_to_limit = relapse.expected_s;
                    }
                    let name = entity.get("container").unwrap_or_default().to_string();
                    let mut evidence = Evidence::new()
                        .num("working_set_bytes", current_peak)
                        .num("working_set_floor_bytes", current_floor)
                        .num("slope_bytes_per_s", fit.slope_per_s)
                        .num("slope_ci_low_bytes_per_s", fit.slope_low_per_s)
                        .num("slope_ci_high_bytes_per_s", fit.slope_high_per_s)
                        .num("p_value", fit.p_value)
                        .num("fit_window_s", fit.span_s)
                        .int("points", fit.points as u64);
                    let (severity, summary) = match limit_bytes {
                        Some(limit_bytes) => {
                            if fit.seconds_to_limit > params.warning_within.as_secs_f64() {
                                return Ok(None);
                            }
                            // The range to plan for: the slope's confidence interval and the floor's
                            // noise around the trend (two robust standard deviations).
                            let interval = stats::forecast_crossing_interval(
                                fit.slope_per_s,
                                fit.slope_low_per_s,
                                fit.slope_high_per_s,
                                current_peak,
                                2.0 * fit.noise_bytes,
                                limit_bytes,
                            )
                            .unwrap_or(stats::CrossingInterval {
                                earliest_s: fit.seconds_to_limit,
                                expected_s: fit.seconds_to_limit,
                                latest_s: f64::INFINITY,
                            });
                            // The limit is met by the peak, and the peak is no lower than the floor:
                            // the floor rising at the slope's lower bound reaches the limit no earlier
                            // than the kill can come at the latest.
                            let interval = stats::CrossingInterval {
                                latest_s: stats::forecast_crossing(
                                    fit.slope_low_per_s.min(fit.slope_per_s),
                                    current_floor,
                                    limit_bytes,
                                )
                                .unwrap_or(f64::INFINITY)
                                .max(interval.latest_s),
                                ..interval
                            };
                            // The kill comes when the top of a GC cycle meets the limit. A cycle's top
                            // seen a few minutes ago has risen with the trend since, and the newest
                            // bucket may sit in a trough: each recent peak carried forward at the
                            // slope's upper bound is a height the series may already stand at (plus
                            // the noise margin the line's interval uses).
                            let interval = stats::CrossingInterval {
                                earliest_s: stats::forecast_crossing(
                                    fit.slope_high_per_s,
                                    projected_peak(
                                        segment,
                                        tail_from,
                                        as_of_s,
                                        fit.slope_high_per_s,
                                    ) + 2.0 * fit.noise_bytes,
                                    limit_bytes,
                                )
                                .map_or(interval.earliest_s, |e| e.min(interval.earliest_s)),
                                ..interval
                            };
                            let interval = widened_by_bends(
                                interval,
                                &fit,
                                as_of_s,
                                current_peak,
                                limit_bytes,
                                &params,
                                bucket_s,
                            );
                            let interval = match &fit.curve {
                                Some(curve) => widened_by_curve(
                                    interval,
                                    curve,
                                    as_of_s,
                                    current_peak,
                                    limit_bytes,
                                    2.0 * fit.noise_bytes,
                                    &params,
                                    bucket_s,
                                ),
                                None => interval,
                            };
                            // The earlier kills' range joins the trend's: either may be the course.
                            let interval = match relapse {
                                Some(relapse) => {
                                    evidence = evidence
                                        .int("earlier_kills", relapse.kills as u64)
                                        .num("relapse_pace", relapse.pace);
                                    stats::CrossingInterval {
                                        earliest_s: interval.earliest_s.min(relapse.earliest_s),
                                        expected_s: relapse.expected_s,
                                        latest_s: interval.latest_s.max(relapse.latest_s),
                                    }
                                }
                                None => interval,
                            };
                            // Its predecessors finished by now-plus-this: judged by them, it ends
                            // before even the earliest plausible crossing (with a quarter to spare).
                            if expected_remaining_s.is_some_and(|remaining| {
                                1.25 * remaining.max(0.0) + bucket_s < interval.earliest_s
                            }) {
                                return Ok(None);
                            }
                            let at = |s: f64| ctx.as_of() + time::Duration::seconds_f64(s);
                            evidence = evidence
                                .num("limit_bytes", limit_bytes)
                                .num("usage_ratio", current_peak / limit_bytes)
                                .num("time_to_exhaustion_s", fit.seconds_to_limit)
                                .num("noise_bytes", fit.noise_bytes)
                                .time("exhaustion_at", at(fit.seconds_to_limit))
                                .time("exhaustion_earliest_at", at(interval.earliest_s));
                            // An open interval (the slope may be zero) has no latest time: the
                            // evidence then says so by the latest seconds being absent.
                            if interval.latest_s.is_finite() {
                                evidence = evidence
                                    .num("time_to_exhaustion_latest_s", interval.latest_s)
                                    .time("exhaustion_latest_at", at(interval.latest_s));
                            }
                            evidence =
                                evidence.num("time_to_exhaustion_earliest_s", interval.earliest_s);
                            // Severity follows the earliest plausible time: a person must act when the
                            // limit *may* be reached within the critical horizon.
                            let severity =
                                if interval.earliest_s <= params.critical_within.as_secs_f64() {
                                    Severity::Critical
                                } else {
                                    Severity::Warning
                                };
                            let mut when = if fit.seconds_to_limit <= 0.0 {
                                "at the limit now".to_string()
                            } else {
                                format!(
                                    "limit reached in {} (likely ~{})",
                                    range_text(interval.earliest_s, interval.latest_s),
                                    duration_text(fit.seconds_to_limit)
                                )
                            };
                            if let Some(relapse) = relapse {
                                let times = match relapse.kills {
                                    1 => "once".to_string(),
                                    n => format!("{n}×"),
                                };
                                when.push_str(&format!(
                                    ", as it climbed before it was OOM-killed {times}"
                                ));
                            }
                            (
                                severity,
                                format!(
                                    "{name}: working set {} of {} ({:.0}%), +{}/min, {when}",
                                    bytes_text(current_peak),
                                    bytes_text(limit_bytes),
                                    100.0 * current_peak / limit_bytes,
                                    bytes_text(fit.slope_per_s * 60.0),
                                ),
                            )
                        }
                        None => (
                            Severity::Info,
                            format!(
                                "{name}: working set {} and growing +{}/min with no memory limit",
                                bytes_text(current_peak),
                                bytes_text(fit.slope_per_s * 60.0)
                            ),
                        ),
                    };
                    Ok(Some(ctx.firing(
                        Signal::MemoryPressure,
                        severity,
                        entity,
                        summary,
                        evidence,
                    )))
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        findings.extend(judged.into_iter().flatten());
        Ok(findings)
    }
}

/// The floor's trend over the whole segment, not judged by the trend's tests: the rate and
/// interval a forecast from the container's earlier kills reports beside its own.
fn segment_trend(segment: &[Point], bucket_s: f64) -> Option<TrendFit> {
    let (xs, ys): (Vec<f64>, Vec<f64>) = segment.iter().map(|p| (p.t, p.floor)).unzip();
    let trend = stats::theil_sen(&xs, &ys)?;
    let (low, high) = trend.slope_confidence_interval(0.95);
    let residuals = residuals(&xs, &ys, &trend);
    Some(TrendFit {
        span_s: xs[xs.len() - 1] - xs[0] + bucket_s,
        points: xs.len(),
        slope_per_s: trend.slope,
        slope_low_per_s: low,
        slope_high_per_s: high,
        p_value: stats::mann_kendall(&ys)?.p_increasing,
        seconds_to_limit: f64::INFINITY,
        noise_bytes: 1.4826 * stats::mad(&residuals).unwrap_or(0.0),
        rise: xs.iter().copied().zip(ys.iter().copied()).collect(),
        variance_inflation: 1.0,
        curve: None,
    })
}

/// A finished incarnation whose peak came this close to its limit is taken to have been killed
/// there (the working set is sampled, so the sample before an OOM kill is a little below it).
const KILLED_AT: f64 = 0.97;

/// What a workload's finished, unkilled incarnations in the window show: the highest they
/// went (a fraction of their limit) and the longest they ran.
#[derive(Debug, Clone, Copy)]
struct Precedent {
    height: f64,
    lifetime_s: f64,
}

/// How far (as a fraction of the limit) above its predecessors' height a workload must climb
/// before its climb is judged as a trend.
const PRECEDENT_MARGIN: f64 = 0.02;

/// How much evidence a fit span needs: the regular spans need `min_points` and the rule's
/// significance; the short (young-leak) span needs fewer points but a stricter level, a rise
/// that does not slow down, and the limit within a horizon even at the slope's lower bound.
#[derive(Debug, Clone, Copy)]
struct Strictness {
    min_points: usize,
    significance: f64,
    within_at_lower_bound: Option<f64>,
    /// The incarnation before this one was killed at its limit: a climb that slows down is
    /// then the same climb again, not a warm-up, and need not keep its pace.
    after_a_kill: bool,
}

/// One bucket of a container's memory series.
#[derive(Debug, Clone, Copy)]
struct Point {
    /// Bucket midpoint, seconds since the epoch.
    t: f64,
    floor: f64,
    peak: f64,
    /// The restart counter, where the cluster reports it.
    restarts: Option<f64>,
}

/// The points since the last restart. With a restart counter: after its last increase. Without
/// one: after the last floor falling below `reset_fraction` of the three buckets before it.
/// The restart's own bucket is left out: it holds both incarnations (the old one's peak, the new
/// one's floor), and the old peak would read as memory the new process gave back.
fn current_segment(points: &[Point], reset_fraction: f64) -> &[Point] {
    let mut start = 0;
    if points.iter().any(|p| p.restarts.is_some()) {
        let mut last_count: Option<f64> = None;
        for (i, p) in points.iter().enumerate() {
            if let Some(count) = p.restarts {
                if last_count.is_some_and(|last| count > last) {
                    start = i + 1;
                }
                last_count = Some(count);
            }
        }
        return &points[start..];
    }
    for i in 1..points.len() {
        // Right after a reset there is nothing yet to compare with (and an empty minimum would
        // reset at every point after it, leaving no segment at all).
        let recent = &points[i.saturating_sub(3).max(start)..i];
        if recent.is_empty() {
            continue;
        }
        let recent_floor = recent.iter().map(|p| p.floor).fold(f64::MAX, f64::min);
        if points[i].floor < reset_fraction * recent_floor {
            start = i + 1;
        }
    }
    &points[start..]
}

/// Whether the process is managing its memory by collections rather than leaking: the segment
/// shows collections (a bucket whose peak falls at least a tenth of the reference below the
/// highest peak since the previous collection, without a restart) and
/// - with two or more, the troughs they leave do not rise by `min_slope` (a sawtooth whose
///   floor is flat; a leak under GC raises its troughs and is judged on);
/// - with one, the working set has not yet climbed past the peak that was collected (a slow
///   cycle seen once cannot show a trend, but it shows the process gives this level back).
///
/// The trough a collection left is read by `trough_left`: not simply the floor of the bucket
/// whose peak shows the drop.
///
/// A drop from `killed_at` or above is an OOM kill, not a collection: what came before it
/// belonged to another incarnation and is forgotten.
fn managed_by_collections(
    segment: &[Point],
    current_peak: f64,
    reference: f64,
    min_slope: f64,
    killed_at: Option<f64>,
    bucket_s: f64,
) -> bool {
    let drop = 0.1 * reference;
    let mut troughs: Vec<(f64, f64)> = Vec::new();
    let mut collected_peaks: Vec<f64> = Vec::new();
    let mut running_max = f64::MIN;
    for (i, p) in segment.iter().enumerate() {
        let trough = trough_left(segment, i, bucket_s);
        if p.peak < running_max - drop && killed_at.is_some_and(|k| running_max >= k) {
            troughs.clear();
            collected_peaks.clear();
            running_max = p.peak;
        } else if p.peak < running_max - drop {
            troughs.push((p.t, trough));
            collected_peaks.push(running_max);
            running_max = p.peak;
        } else {
            running_max = running_max.max(p.peak);
        }
    }
    match troughs.len() {
        0 => return false,
        1 => return current_peak < collected_peaks[0] + 0.02 * reference,
        _ => {}
    }
    let (xs, ys): (Vec<f64>, Vec<f64>) = troughs.iter().copied().unzip();
    let rise_per_s = (ys[ys.len() - 1] - ys[0]) / (xs[xs.len() - 1] - xs[0]).max(1.0);
    let slope = stats::theil_sen(&xs, &ys)
        .map(|t| t.slope)
        .unwrap_or(rise_per_s);
    slope.min(rise_per_s) < min_slope
}

/// The trough left by a collection first seen in `segment[i]`'s peak. A collection may land
/// mid-bucket: that bucket's peak is still the old top and its floor already the trough, and
/// the drop shows only in the next bucket's peak — so the lower floor of the two. After a gap
/// (missed scrapes) the collection came at an unseen time within it and the heap has refilled
/// since: the floor less the refill over half the gap, at the rate the heap rose before it.
fn trough_left(segment: &[Point], i: usize, bucket_s: f64) -> f64 {
    let p = &segment[i];
    let Some(previous) = i.checked_sub(1).map(|k| &segment[k]) else {
        return p.floor;
    };
    let mut trough = p.floor.min(previous.floor);
    let gap_s = p.t - previous.t;
    if gap_s > 1.5 * bucket_s {
        let before = &segment[i.saturating_sub(6)..i];
        let (xs, ys): (Vec<f64>, Vec<f64>) = before.iter().map(|q| (q.t, q.floor)).unzip();
        if let Some(rise) = stats::ols(&xs, &ys) {
            trough = trough.min(p.floor - rise.slope.max(0.0) * gap_s / 2.0);
        }
    }
    trough
}

/// The trend of the floor over the trailing `span_s` of the segment, if it is significant,
/// material and visible in the floor's lowest values.
#[allow(clippy::too_many_arguments)]
fn fit_span(
    segment: &[Point],
    span_s: f64,
    bucket_s: f64,
    params: &MemoryParams,
    strictness: Strictness,
    min_slope: f64,
    limit_bytes: Option<f64>,
    current_peak: f64,
) -> Option<TrendFit> {
    let end = segment.last()?.t;
    // A span longer than the segment duplicates the whole-segment fit — except for a relapse:
    // the container's previous incarnation was OOM-killed at its limit, and a segment younger
    // than the short window is judged whole with the short path's (stronger) evidence, since
    // the whole-segment fit asks for `min_points` and would wait until the kill is near. A
    // first incarnation (a new pod, a batch run starting steeply) still needs the whole short
    // window.
    let relapse = strictness.within_at_lower_bound.is_some() && strictness.after_a_kill;
    if span_s.is_finite() && (segment.len() as f64) * bucket_s < span_s * 0.9 && !relapse {
        return None;
    }
    let points: Vec<&Point> = segment.iter().filter(|p| p.t > end - span_s).collect();
    // A young leak climbs onto new ground. Where this incarnation's floor already held the
    // level it has now before the short span began, the short rise is a return to it (noise
    // that wanders, a slow cycle), which the longer spans judge; the short path's few points
    // cannot tell such a wander from a leak.
    if strictness.within_at_lower_bound.is_some() {
        let before: Vec<f64> = segment
            .iter()
            .take_while(|p| p.t <= end - span_s)
            .map(|p| p.floor)
            .collect();
        let newest = &points[points.len() - (points.len() / 4).max(1)..];
        let newest_floor = newest.iter().map(|p| p.floor).fold(f64::MAX, f64::min);
        if held_level(&before, HELD_BUCKETS).is_some_and(|held| newest_floor <= held) {
            return None;
        }
    }
    let fit = Fit {
        bucket_s,
        params,
        strictness,
        min_slope,
        limit_bytes,
        current_peak,
    };
    fit.points(&points)
}

/// The floor's residuals around a Theil–Sen line.
fn residuals(xs: &[f64], ys: &[f64], trend: &stats::TheilSen) -> Vec<f64> {
    xs.iter()
        .zip(ys)
        .map(|(x, y)| y - trend.predict(*x))
        .collect()
}

/// A Theil–Sen slope's 95 % interval, each side widened by `inflation` (the residuals' AR(1)
/// effective-sample factor: smooth noise and slow cycles carry fewer independent points than
/// they count).
fn widened_interval(trend: &stats::TheilSen, inflation: f64) -> (f64, f64) {
    let (low, high) = trend.slope_confidence_interval(0.95);
    (
        trend.slope - (trend.slope - low) * inflation,
        trend.slope + (high - trend.slope) * inflation,
    )
}

/// The highest level the floor held for `buckets` consecutive buckets (the largest of the
/// rolling minima): a level reached, not a spike.
fn held_level(floors: &[f64], buckets: usize) -> Option<f64> {
    floors
        .windows(buckets)
        .map(|w| w.iter().copied().fold(f64::MAX, f64::min))
        .reduce(f64::max)
}

/// How many consecutive buckets make a level held (see `held_level`).
const HELD_BUCKETS: usize = 3;

/// What one fit is judged against.
struct Fit<'a> {
    bucket_s: f64,
    params: &'a MemoryParams,
    strictness: Strictness,
    min_slope: f64,
    limit_bytes: Option<f64>,
    current_peak: f64,
}

impl Fit<'_> {
    fn crossing(&self, slope: f64) -> f64 {
        match self.limit_bytes {
            Some(limit) => {
                stats::forecast_crossing(slope, self.current_peak, limit).unwrap_or(f64::INFINITY)
            }
            None => f64::INFINITY,
        }
    }

    /// Whether the least-squares parabola through a slowing rise reaches the limit (less the
    /// current peak's height above the newest floor) within `within` of the newest point.
    fn slowing_curve_meets_limit(&self, xs: &[f64], ys: &[f64], within: f64) -> bool {
        let (Some(limit), Some(curve)) = (self.limit_bytes, curvature::fit(xs, ys, 1.0)) else {
            return false;
        };
        let now = xs[xs.len() - 1];
        let target = limit - (self.current_peak - ys[ys.len() - 1]).max(0.0);
        let (_, reached) = curve.band_crossings(now, target, 0.0, 0.0, within, self.bucket_s);
        reached.is_some()
    }

    fn points(&self, points: &[&Point]) -> Option<TrendFit> {
        let strictness = self.strictness;
        if points.len() < strictness.min_points {
            return None;
        }
        let xs: Vec<f64> = points.iter().map(|p| p.t).collect();
        let ys: Vec<f64> = points.iter().map(|p| p.floor).collect();
        // Cheap screen before the O(n²) statistics: by least squares the floor must rise fast
        // enough to matter within twice the warning horizon.
        let screen = stats::ols(&xs, &ys)?;
        if screen.slope < self.min_slope {
            return None;
        }
        if self.limit_bytes.is_some()
            && self.crossing(screen.slope) > 2.0 * self.params.warning_within.as_secs_f64()
        {
            return None;
        }

        // A level shift is not a trend: where one change of level explains the floor better
        // than a line or than "flat, then rising", only what came after the change is judged
        // (and it must rise on its own, with enough points to show it).
        let line_sse = screen.residual_std.powi(2) * (screen.n as f64 - 2.0);
        let hinge = shape::best_hinge(&xs, &ys, 3);
        // How far "flat, then rising" improves on the line (an F-like ratio).
        let hinge_over_line = |hinge_sse: f64| {
            (line_sse - hinge_sse) / (hinge_sse / (xs.len() as f64 - 3.0)).max(f64::MIN_POSITIVE)
        };
        if let Some(shift) = shape::best_level_shift(&ys, 3) {
            if shift.sse < line_sse.min(hinge.map_or(f64::INFINITY, |h| h.1)) {
                return self.points(&points[shift.at..]);
            }
        }

        // A young leak a few buckets old on the short span: the flat part before it widens
        // the whole span's interval (a line through a hinge leaves residuals that follow each
        // other) and dilutes its rank test, not the evidence. Where "flat, then rising" beats
        // a flat level at the short path's strict level (its position searched, its noise's
        // autocorrelation counted), the rise after the hinge is judged on its own — with the
        // short path's other demands (the limit near at its slope's lower bound, its pace
        // kept, new ground) and its own ranks at the regular level.
        if let (Some(_), Some((k, hinge_sse))) = (strictness.within_at_lower_bound, hinge) {
            let young = xs.len() - k;
            let hinge_p = shape::hinge_rise_p_value(&xs, &ys, k, xs.len().saturating_sub(3));
            // ...and beats a line as the hinge's slope must (a warm-up's slowing curve beats a
            // flat level at any bend, but not a line).
            if k > 0
                && young >= MIN_YOUNG_RISE
                && hinge_over_line(hinge_sse) > HINGE_F
                && hinge_p.is_some_and(|p| p < strictness.significance)
            {
                let rise = Fit {
                    strictness: Strictness {
                        min_points: MIN_YOUNG_RISE,
                        significance: self.params.significance,
                        ..strictness
                    },
                    ..*self
                };
                if let Some(mut fit) = rise.points(&points[k..]) {
                    fit.p_value = fit.p_value.max(hinge_p.unwrap_or(1.0));
                    return Some(fit);
                }
            }
        }

        let trend = stats::theil_sen(&xs, &ys)?;
        let residuals = residuals(&xs, &ys, &trend);
        // Residuals that follow each other (slow cycles, smooth noise) carry fewer independent
        // points than they count: widen the interval by the AR(1) effective-sample factor.
        let inflation = shape::autocorrelation_inflation(shape::autocorrelation(&residuals, 1));
        let (low, high) = widened_interval(&trend, inflation);
        let (mut slope, mut low, mut high) = (trend.slope, low, high);
        if low <= 0.0 || slope < self.min_slope {
            return None;
        }
        let mk = stats::mann_kendall(&ys)?;
        if mk.p_increasing >= strictness.significance {
            return None;
        }

        // A cycle is judged over whole cycles: with a dominant period in the residuals, the
        // span must hold two of them and the cycles' lowest floors must rise.
        let line_residuals: Vec<f64> = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| y - screen.predict(*x))
            .collect();
        if let Some(period) = shape::dominant_period(&line_residuals, 4, MIN_CYCLE_CORRELATION) {
            if !rises_over_whole_cycles(&xs, &ys, period, slope) {
                return None;
            }
        }

        let quarter = (points.len() / 4).max(2);
        let early_floor = ys[..quarter].iter().copied().fold(f64::MAX, f64::min);
        let late_floor = ys[ys.len() - quarter..]
            .iter()
            .copied()
            .fold(f64::MAX, f64::min);
        let predicted_rise = slope * (xs[xs.len() - quarter] - xs[quarter - 1]).max(0.0);
        if late_floor - early_floor < 0.5 * predicted_rise {
            return None;
        }

        // Flat, then rising: the rise is the part after the hinge, and its rate is what the
        // forecast needs (a line through the flat part understates a young leak). The hinge
        // must explain far more than a line does (its position is searched, so the bar is
        // well above an F(1, n−3) critical value).
        // Where the rise starts: the curve of the forecast is fitted from there on.
        let mut rise_start = 0;
        if let Some((k, hinge_sse)) = hinge {
            if hinge_over_line(hinge_sse) > HINGE_F && xs.len() - k >= MIN_YOUNG_RISE {
                if let Some(after) = stats::theil_sen(&xs[k..], &ys[k..]) {
                    let (a_low, a_high) = widened_interval(&after, inflation);
                    if after.slope > slope && a_low > 0.0 {
                        rise_start = k;
                        (slope, low, high) = (after.slope, a_low, a_high);
                    }
                }
            }
        }

        // The short path's stronger evidence: the limit close even at the slope's lower
        // bound, and a rise that keeps its pace (a warm-up slows down; a leak does not) — or,
        // where it slows, whose slowing curve still meets the limit within the horizon (a
        // warm-up levels off below its limit; a leak that slows toward it does not).
        if let Some(within) = strictness.within_at_lower_bound {
            let half = xs.len() / 2;
            let first = stats::theil_sen(&xs[..half], &ys[..half])?.slope;
            let second = stats::theil_sen(&xs[half..], &ys[half..])?.slope;
            if self.crossing(low) > within {
                return None;
            }
            if second < KEEPS_PACE * first
                && !strictness.after_a_kill
                && !self.slowing_curve_meets_limit(&xs, &ys, within)
            {
                return None;
            }
        }

        let noise_bytes = 1.4826 * stats::mad(&residuals).unwrap_or(0.0);
        let curve = curvature::fit(&xs[rise_start..], &ys[rise_start..], inflation * inflation)
            .filter(|curve| curve.curvature_z().abs() > CURVATURE_Z);
        Some(TrendFit {
            noise_bytes,
            curve,
            rise: xs[rise_start..]
                .iter()
                .copied()
                .zip(ys[rise_start..].iter().copied())
                .collect(),
            variance_inflation: inflation * inflation,
            span_s: (xs[xs.len() - 1] - xs[0]) + self.bucket_s,
            points: points.len(),
            slope_per_s: slope,
            slope_low_per_s: low,
            slope_high_per_s: high,
            p_value: mk.p_increasing,
            seconds_to_limit: self.crossing(slope),
        })
    }
}

/// How many (autocorrelation-widened) standard errors the curvature must be from zero before
/// the curve's band may move the forecast interval's latest bound: 95 % two-sided. A later
/// latest bound costs only width (severity follows the earliest bound), and a slowing bend
/// left out puts the kill after the range.
const CURVATURE_Z: f64 = 1.96;

/// The same for the earliest bound: p ≈ 5·10⁻⁴ two-sided. The earliest bound sets the
/// severity, and each container is fitted over several spans at every step: a straight leak
/// must not turn critical by a chance curvature.
const CURVATURE_Z_EARLIEST: f64 = 3.5;

/// The autocorrelation a dominant period must reach to count as a cycle.
const MIN_CYCLE_CORRELATION: f64 = 0.3;

/// How much the hinge model must improve on the line (an F-like ratio) before its slope is used.
const HINGE_F: f64 = 12.0;

/// The buckets a young rise needs after its hinge before the hinge's evidence may stand in
/// for the short span's rank test (the same count the hinge's slope needs to be used).
const MIN_YOUNG_RISE: usize = 6;

/// The short path's second-half slope must be at least this fraction of the first half's.
const KEEPS_PACE: f64 = 0.7;

/// Whether a floor with a cycle of `period` points rises over whole cycles: at least two of
/// them in the span (counted back from its end), each cycle's lowest floor above the first's by
/// half of what `slope` predicts between them.
fn rises_over_whole_cycles(xs: &[f64], ys: &[f64], period: usize, slope: f64) -> bool {
    let cycles = ys.len() / period;
    if cycles < 2 {
        return false;
    }
    let lowest = |c: usize| {
        let end = ys.len() - c * period;
        let start = end - period;
        let (i, v) = ys[start..end]
            .iter()
            .enumerate()
            .fold(
                (0, f64::MAX),
                |(bi, bv), (i, &v)| if v < bv { (i, v) } else { (bi, bv) },
            );
        (xs[start + i], v)
    };
    // Cycle 0 is the newest; cycles - 1 the oldest whole one.
    let (t_old, v_old) = lowest(cycles - 1);
    let (t_new, v_new) = lowest(0);
    v_new - v_old >= 0.5 * slope * (t_new - t_old).max(0.0)
}

/// The interval joined with the crossings of the bent rises (slowing, speeding up) that the
/// rising points cannot tell apart from a straight one — a young leak's first half hour does
/// not say whether it will keep its pace, so the range to plan for holds both — and with the
/// crossing at the newest half's rate where that rate is beyond the slope's interval.
fn widened_by_bends(
    interval: stats::CrossingInterval,
    fit: &TrendFit,
    now_s: f64,
    current_peak: f64,
    limit: f64,
    params: &MemoryParams,
    bucket_s: f64,
) -> stats::CrossingInterval {
    let (xs, ys): (Vec<f64>, Vec<f64>) = fit.rise.iter().copied().unzip();
    let Some(&start) = xs.first() else {
        return interval;
    };
    let last_floor = ys.last().copied().unwrap_or(current_peak);
    let target = limit - (current_peak - last_floor).max(0.0);
    let horizon_s = 4.0 * params.warning_within.as_secs_f64();
    let rise = curvature::Rise {
        xs: &xs,
        ys: &ys,
        start_s: start - bucket_s,
        variance_inflation: fit.variance_inflation,
    };
    let crossing = |bend| curvature::plausible_bend_crossing(&rise, bend, now_s, target, horizon_s);
    let mut widened = interval;
    let slowest = curvature::SLOWING_POWERS
        .iter()
        .filter_map(|&power| crossing(curvature::Bend::Slowing { power }))
        .reduce(f64::max);
    if let Some(later) = slowest {
        widened.latest_s = widened.latest_s.max(later);
    }
    if let Some(sooner) = crossing(curvature::Bend::Speeding) {
        widened.earliest_s = widened.earliest_s.min(sooner);
    }
    // A rise that is speeding up: the newest half's rate, where it is beyond the slope's
    // interval, may be the rate from now on.
    let half = xs.len() / 2;
    if half >= 3 {
        if let Some(newest) = stats::theil_sen(&xs[half..], &ys[half..]) {
            if newest.slope > fit.slope_high_per_s {
                if let Some(sooner) = stats::forecast_crossing(
                    newest.slope,
                    current_peak + 2.0 * fit.noise_bytes,
                    limit,
                ) {
                    widened.earliest_s = widened.earliest_s.min(sooner);
                }
            }
        }
    }
    widened
}

/// The highest of the peaks since `from_s`, each carried forward to `now_s` at `slope_per_s`:
/// where the top of the series stands now if it kept rising at that rate.
fn projected_peak(segment: &[Point], from_s: f64, now_s: f64, slope_per_s: f64) -> f64 {
    segment
        .iter()
        .filter(|p| p.t >= from_s)
        .map(|p| p.peak + slope_per_s.max(0.0) * (now_s - p.t).max(0.0))
        .fold(segment[segment.len() - 1].peak, f64::max)
}

/// The linear interval joined with the crossings of a curved floor's confidence band (95 %,
/// plus the noise margin the line's interval uses). The curve is of the floor; the limit is
/// met by the peak, so the band aims at the limit less the current peak's height above the
/// curve. A lower band that never reaches it within the horizon leaves the interval open: a
/// slowing leak may level off before the limit.
#[allow(clippy::too_many_arguments)]
fn widened_by_curve(
    linear: stats::CrossingInterval,
    curve: &curvature::Parabola,
    now_s: f64,
    current_peak: f64,
    limit: f64,
    margin: f64,
    params: &MemoryParams,
    bucket_s: f64,
) -> stats::CrossingInterval {
    let gap = (current_peak - curve.value(now_s)).max(0.0);
    let horizon_s = 4.0 * params.warning_within.as_secs_f64();
    let (earliest, latest) = curve.band_crossings(
        now_s,
        limit - gap,
        1.96,
        margin,
        horizon_s,
        bucket_s.clamp(15.0, 60.0),
    );
    let earliest = earliest.filter(|_| curve.curvature_z().abs() > CURVATURE_Z_EARLIEST);
    stats::CrossingInterval {
        earliest_s: earliest.map_or(linear.earliest_s, |e| e.min(linear.earliest_s)),
        expected_s: linear.expected_s,
        latest_s: latest.map_or(f64::INFINITY, |l| l.max(linear.latest_s)),
    }
}

/// "12–25 min", "40 min–2.5 h", or "20 min or later" for an open interval.
fn range_text(earliest_s: f64, latest_s: f64) -> String {
    if !latest_s.is_finite() {
        return format!("{} or later", duration_text(earliest_s));
    }
    let (low, high) = (duration_text(earliest_s), duration_text(latest_s));
    if low == high {
        return low;
    }
    match (low.strip_suffix(" min"), high.ends_with(" min")) {
        (Some(number), true) => format!("{number}–{high}"),
        _ => format!("{low}–{high}"),
    }
}
