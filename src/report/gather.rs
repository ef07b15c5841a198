//! The day's numbers per signal, computed from the same window frames the detectors read (at a
//! coarser bucket): who is closest to a limit, who is growing fastest, which services fail most
//! and which are rising, which containers restart and why, how the canaries fared, and which
//! hours had no data at all. Pure functions of frames, so they are tested without a source.

use std::collections::BTreeMap;

use polars::prelude::DataFrame;
use serde::Serialize;

use crate::detect::frame::{groups, Columns};
use crate::detect::DetectError;
use crate::window::{QueryKind, WindowFrame};

const RULE: &str = "daily report";

/// A point of a chart series: seconds since the report's start, value.
pub type Point = (f64, f64);

/// One container's memory over the day.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryEntity {
    pub cluster: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub workload: String,
    pub limit_bytes: f64,
    /// The day's highest working set as a fraction of the limit.
    pub peak_ratio: f64,
    /// The last bucket's working set as a fraction of the limit.
    pub last_ratio: f64,
    pub last_bytes: f64,
    /// Least-squares slope of the hourly peaks, as a fraction of the limit per hour.
    pub growth_ratio_per_h: f64,
    /// The same workload's peak ratio on the comparison days (matched by namespace, workload
    /// and container: pods of a Deployment change names, the workload does not).
    pub peak_ratio_day_before: Option<f64>,
    pub peak_ratio_week_before: Option<f64>,
    /// Restarts right after the working set reached its limit (see [`oom_kills`]).
    pub oom_kills: u64,
    /// Working set as a fraction of the limit, per bucket.
    #[serde(skip)]
    pub series: Vec<Point>,
}

impl MemoryEntity {
    pub fn workload_key(&self) -> String {
        workload_key(&self.namespace, &self.workload, &self.pod, &self.container)
    }
}

fn workload_key(namespace: &str, workload: &str, pod: &str, container: &str) -> String {
    let owner = if workload.is_empty() { pod } else { workload };
    format!("{namespace}/{owner}/{container}")
}

/// The memory window of a day, per container.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryDay {
    pub containers: usize,
    pub without_limit: usize,
    /// Containers whose peak reached 80 % of their limit.
    pub above_80_percent: usize,
    pub oom_kills: u64,
    #[serde(skip)]
    pub entities: Vec<MemoryEntity>,
}

impl MemoryDay {
    /// Peak ratio per workload key (for the comparison days).
    pub fn peaks_by_workload(&self) -> BTreeMap<String, f64> {
        let mut out: BTreeMap<String, f64> = BTreeMap::new();
        for e in &self.entities {
            let slot = out.entry(e.workload_key()).or_insert(0.0);
            *slot = slot.max(e.peak_ratio);
        }
        out
    }
}

/// The columns naming a container, shared by the memory and restarts windows (whose rows come
/// grouped by cluster, namespace, pod and container).
struct Containers<'a> {
    cluster: Vec<&'a str>,
    namespace: Vec<&'a str>,
    pod: Vec<&'a str>,
    container: Vec<&'a str>,
    workload: Vec<&'a str>,
}

impl<'a> Containers<'a> {
    fn read(c: &Columns<'a>) -> Result<Containers<'a>, DetectError> {
        Ok(Containers {
            cluster: c.text("cluster")?,
            namespace: c.text("namespace")?,
            pod: c.text("pod")?,
            container: c.text("container")?,
            workload: c.text("workload")?,
        })
    }
}

pub fn memory_day(window: &WindowFrame, since_s: f64) -> Result<MemoryDay, DetectError> {
    // The day's report names every container on each of its rows: the wide form.
    let frame = &window
        .expanded(QueryKind::Memory)
        .map_err(|_| DetectError::Column {
            rule: RULE.to_string(),
            query: QueryKind::Memory,
            column: "series".to_string(),
        })?;
    let c = Columns::new(frame, RULE, QueryKind::Memory);
    let Containers {
        cluster,
        namespace,
        pod,
        container,
        workload,
    } = Containers::read(&c)?;
    let t = c.seconds("bucket")?;
    let ws = c.float("working_set_max_bytes")?;
    let limit = c.float("limit_bytes")?;
    let restart_count = c.float("restart_count")?;
    let mut day = MemoryDay::default();
    for range in groups(frame.height(), |i| {
        (cluster[i], namespace[i], pod[i], container[i])
    }) {
        day.containers += 1;
        let kills = oom_kills(&range, &t, &ws, &limit, &restart_count);
        let mut points: Vec<(f64, f64, f64)> = range
            .clone()
            .filter_map(|i| {
                let limit = limit[i].filter(|l| *l > 0.0)?;
                Some((t[i] - since_s, ws[i]?, limit))
            })
            .collect();
        if points.is_empty() {
            day.without_limit += 1;
            continue;
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (_, last_bytes, last_limit) = *points.last().expect("not empty");
        let series: Vec<Point> = points.iter().map(|(t, w, l)| (*t, w / l)).collect();
        let peak_ratio = series.iter().map(|p| p.1).fold(0.0, f64::max);
        let hourly = hourly_max(&series);
        let i = range.start;
        let entity = MemoryEntity {
            cluster: cluster[i].to_string(),
            namespace: namespace[i].to_string(),
            pod: pod[i].to_string(),
            container: container[i].to_string(),
            workload: crate::detect::frame::first_non_empty(&workload[range.clone()]).to_string(),
            limit_bytes: last_limit,
            peak_ratio,
            last_ratio: last_bytes / last_limit,
            last_bytes,
            growth_ratio_per_h: slope(&hourly),
            peak_ratio_day_before: None,
            peak_ratio_week_before: None,
            oom_kills: kills,
            series,
        };
        day.above_80_percent += usize::from(peak_ratio >= 0.8);
        day.oom_kills += kills;
        day.entities.push(entity);
    }
    Ok(day)
}

/// How often a container was killed at its limit: the restart counter went up (or, without a
/// counter, the working set fell below 60 %) right after a bucket whose peak reached 97 % of the
/// limit. Read from the memory window itself, because clusters differ in whether an OOM kill
/// leaves a Kubernetes event.
fn oom_kills(
    range: &std::ops::Range<usize>,
    t: &[f64],
    ws: &[Option<f64>],
    limit: &[Option<f64>],
    restart_count: &[Option<f64>],
) -> u64 {
    let mut rows: Vec<usize> = range.clone().collect();
    rows.sort_by(|a, b| t[*a].total_cmp(&t[*b]));
    let ratio = |i: usize| match (ws[i], limit[i]) {
        (Some(w), Some(l)) if l > 0.0 => Some(w / l),
        _ => None,
    };
    let mut kills = 0;
    for pair in rows.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        let Some(peak) = ratio(before) else { continue };
        if peak < 0.97 {
            continue;
        }
        let restarted = match (restart_count[before], restart_count[after]) {
            (Some(a), Some(b)) => b > a,
            _ => ratio(after).is_some_and(|r| r < 0.6),
        };
        kills += u64::from(restarted);
    }
    kills
}

/// One service's error ratio over the day.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceDay {
    pub cluster: String,
    pub namespace: String,
    pub service: String,
    pub requests: u64,
    pub errors: u64,
    pub error_ratio: f64,
    /// The ratio over the last quarter of the day, and the rest of the day before it.
    pub recent_ratio: f64,
    pub recent_requests: u64,
    pub earlier_ratio: f64,
    /// The same service's whole-day ratio on the comparison days.
    pub ratio_day_before: Option<f64>,
    pub ratio_week_before: Option<f64>,
    /// Hourly error ratio (hours without requests are left out).
    #[serde(skip)]
    pub hourly: Vec<Point>,
}

impl ServiceDay {
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.cluster, self.namespace, self.service)
    }

    /// How much the recent ratio exceeds its baseline: the day before's ratio where known,
    /// else the earlier part of this day.
    pub fn rise(&self) -> f64 {
        self.recent_ratio - self.ratio_day_before.unwrap_or(self.earlier_ratio)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ErrorsDay {
    pub services: usize,
    pub requests: u64,
    pub errors: u64,
    /// Cluster-wide hourly error ratio.
    #[serde(skip)]
    pub hourly: Vec<Point>,
    #[serde(skip)]
    pub entities: Vec<ServiceDay>,
}

impl ErrorsDay {
    pub fn ratio(&self) -> f64 {
        ratio(self.errors, self.requests)
    }

    pub fn ratios_by_service(&self) -> BTreeMap<String, f64> {
        self.entities
            .iter()
            .map(|s| (s.key(), s.error_ratio))
            .collect()
    }
}

fn ratio(errors: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        errors as f64 / total as f64
    }
}

pub fn errors_day(frame: &DataFrame, since_s: f64, span_s: f64) -> Result<ErrorsDay, DetectError> {
    let c = Columns::new(frame, RULE, QueryKind::Errors);
    let (cluster, namespace, service) =
        (c.text("cluster")?, c.text("namespace")?, c.text("service")?);
    let t = c.seconds("bucket")?;
    let total = c.count("total")?;
    let errors = c.count("errors")?;
    let recent_from = span_s * 0.75;
    let mut day = ErrorsDay::default();
    let mut cluster_hours: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for range in groups(frame.height(), |i| (cluster[i], namespace[i], service[i])) {
        let mut hours: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        let (mut recent, mut earlier) = ((0u64, 0u64), (0u64, 0u64));
        for i in range.clone() {
            let offset = t[i] - since_s;
            let hour = (offset / 3600.0).floor() as i64;
            for slot in [
                hours.entry(hour).or_default(),
                cluster_hours.entry(hour).or_default(),
            ] {
                slot.0 += errors[i];
                slot.1 += total[i];
            }
            let part = if offset >= recent_from {
                &mut recent
            } else {
                &mut earlier
            };
            part.0 += errors[i];
            part.1 += total[i];
        }
        let (e, n) = (recent.0 + earlier.0, recent.1 + earlier.1);
        day.services += 1;
        day.requests += n;
        day.errors += e;
        let i = range.start;
        day.entities.push(ServiceDay {
            cluster: cluster[i].to_string(),
            namespace: namespace[i].to_string(),
            service: service[i].to_string(),
            requests: n,
            errors: e,
            error_ratio: ratio(e, n),
            recent_ratio: ratio(recent.0, recent.1),
            recent_requests: recent.1,
            earlier_ratio: ratio(earlier.0, earlier.1),
            ratio_day_before: None,
            ratio_week_before: None,
            hourly: hourly_ratio(&hours),
        });
    }
    day.hourly = hourly_ratio(&cluster_hours);
    Ok(day)
}

fn hourly_ratio(hours: &BTreeMap<i64, (u64, u64)>) -> Vec<Point> {
    hours
        .iter()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(h, (e, n))| (*h as f64 * 3600.0 + 1800.0, *e as f64 / *n as f64))
        .collect()
}

/// One container's restarts over the day, with the reasons its pod's events gave.
#[derive(Debug, Clone, Serialize)]
pub struct RestartEntity {
    pub cluster: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub workload: String,
    pub restarts: u64,
    /// Event reasons seen on the pod (OOMKilled, BackOff, Unhealthy, Failed), by count.
    pub reasons: BTreeMap<String, u64>,
    /// Restarts per hour of the day.
    #[serde(skip)]
    pub hourly: Vec<Point>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RestartsDay {
    pub restarts: u64,
    pub containers_restarted: usize,
    pub oom_kills: u64,
    #[serde(skip)]
    pub hourly: Vec<Point>,
    #[serde(skip)]
    pub entities: Vec<RestartEntity>,
}

const REASONS: [(&str, &str); 4] = [
    ("oom_events", "OOMKilled"),
    ("backoff_events", "BackOff"),
    ("unhealthy_events", "Unhealthy"),
    ("failed_events", "Failed"),
];

pub fn restarts_day(frame: &DataFrame, since_s: f64) -> Result<RestartsDay, DetectError> {
    let c = Columns::new(frame, RULE, QueryKind::Restarts);
    let Containers {
        cluster,
        namespace,
        pod,
        container,
        workload,
    } = Containers::read(&c)?;
    let t = c.seconds("bucket")?;
    let restarts = c.count("restarts")?;
    let reasons: Vec<(&str, Vec<u64>)> = REASONS
        .iter()
        .map(|(column, label)| Ok((*label, c.count(column)?)))
        .collect::<Result<_, DetectError>>()?;
    let mut day = RestartsDay::default();
    let mut cluster_hours: BTreeMap<i64, u64> = BTreeMap::new();
    for range in groups(frame.height(), |i| {
        (cluster[i], namespace[i], pod[i], container[i])
    }) {
        let mut hours: BTreeMap<i64, u64> = BTreeMap::new();
        let mut counted: BTreeMap<String, u64> = BTreeMap::new();
        let mut total = 0;
        for i in range.clone() {
            let hour = ((t[i] - since_s) / 3600.0).floor() as i64;
            *hours.entry(hour).or_default() += restarts[i];
            *cluster_hours.entry(hour).or_default() += restarts[i];
            total += restarts[i];
            for (label, counts) in &reasons {
                if counts[i] > 0 {
                    *counted.entry(label.to_string()).or_default() += counts[i];
                }
            }
        }
        // Pod events are per pod: a pod's events repeat on each of its containers' rows, so
        // OOM kills are counted once per pod below.
        let i = range.start;
        if total == 0 && counted.is_empty() {
            continue;
        }
        day.restarts += total;
        day.containers_restarted += usize::from(total > 0);
        day.entities.push(RestartEntity {
            cluster: cluster[i].to_string(),
            namespace: namespace[i].to_string(),
            pod: pod[i].to_string(),
            container: container[i].to_string(),
            workload: crate::detect::frame::first_non_empty(&workload[range.clone()]).to_string(),
            restarts: total,
            reasons: counted,
            hourly: hours
                .iter()
                .map(|(h, n)| (*h as f64 * 3600.0 + 1800.0, *n as f64))
                .collect(),
        });
    }
    let mut oom_by_pod: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for e in &day.entities {
        let oom = e.reasons.get("OOMKilled").copied().unwrap_or(0);
        let slot = oom_by_pod
            .entry((e.cluster.clone(), e.namespace.clone(), e.pod.clone()))
            .or_default();
        *slot = (*slot).max(oom);
    }
    day.oom_kills = oom_by_pod.values().sum();
    day.hourly = cluster_hours
        .iter()
        .map(|(h, n)| (*h as f64 * 3600.0 + 1800.0, *n as f64))
        .collect();
    Ok(day)
}

/// One canary's day: when it beat, its usual period, and the gaps longer than period + grace.
#[derive(Debug, Clone, Serialize)]
pub struct CanaryDay {
    pub cluster: String,
    pub canary: String,
    pub beats: u64,
    /// The median time between beats.
    pub period_s: f64,
    pub uptime: f64,
    pub outages: Vec<Outage>,
    /// Seconds since the report's start of each bucket with a beat.
    #[serde(skip)]
    pub beat_offsets: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outage {
    /// Seconds since the report's start.
    pub from_s: f64,
    pub to_s: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HeartbeatsDay {
    pub canaries: Vec<CanaryDay>,
}

impl HeartbeatsDay {
    pub fn outages(&self) -> usize {
        self.canaries.iter().map(|c| c.outages.len()).sum()
    }

    pub fn uptime(&self) -> Option<f64> {
        if self.canaries.is_empty() {
            return None;
        }
        Some(self.canaries.iter().map(|c| c.uptime).sum::<f64>() / self.canaries.len() as f64)
    }
}

/// A gap counts as an outage once it exceeds the period by `grace_periods` periods (the
/// heartbeat rule's own tolerance).
pub fn heartbeats_day(
    frame: &DataFrame,
    since_s: f64,
    span_s: f64,
    grace_periods: f64,
) -> Result<HeartbeatsDay, DetectError> {
    let c = Columns::new(frame, RULE, QueryKind::Heartbeats);
    let (cluster, canary) = (c.text("cluster")?, c.text("canary")?);
    let t = c.seconds("bucket")?;
    let beats = c.count("beats")?;
    let mut day = HeartbeatsDay::default();
    // Rows are sorted by cluster, canary, bucket, matcher: one canary may appear under several
    // matchers, so its beats are merged.
    for range in groups(frame.height(), |i| (cluster[i], canary[i])) {
        let mut offsets: Vec<f64> = range
            .clone()
            .filter(|i| beats[*i] > 0)
            .map(|i| t[i] - since_s)
            .collect();
        offsets.sort_by(f64::total_cmp);
        offsets.dedup();
        let count: u64 = range.clone().map(|i| beats[i]).sum();
        let mut gaps: Vec<f64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        let period_s = gaps.get(gaps.len() / 2).copied().unwrap_or(span_s);
        let tolerated = period_s * (1.0 + grace_periods);
        // The day's edges count: silence from the start, or until the end, is an outage too.
        let mut edges = vec![0.0];
        edges.extend(offsets.iter().copied());
        edges.push(span_s);
        let mut outages = Vec::new();
        for w in edges.windows(2) {
            if w[1] - w[0] > tolerated {
                outages.push(Outage {
                    from_s: w[0] + if w[0] == 0.0 { 0.0 } else { period_s },
                    to_s: w[1],
                });
            }
        }
        let down: f64 = outages.iter().map(|o| (o.to_s - o.from_s).max(0.0)).sum();
        let i = range.start;
        day.canaries.push(CanaryDay {
            cluster: cluster[i].to_string(),
            canary: canary[i].to_string(),
            beats: count,
            period_s,
            uptime: (1.0 - down / span_s).clamp(0.0, 1.0),
            outages,
            beat_offsets: offsets,
        });
    }
    Ok(day)
}

/// Hours of the day (0-based from the start) in which a window has no rows at all.
pub fn missing_hours(
    frame: &DataFrame,
    query: QueryKind,
    since_s: f64,
    hours: usize,
) -> Vec<usize> {
    let Ok(c) = Columns::new(frame, RULE, query).seconds("bucket") else {
        return (0..hours).collect();
    };
    let mut seen = vec![false; hours];
    for t in c {
        let h = ((t - since_s) / 3600.0).floor();
        if h >= 0.0 && (h as usize) < hours {
            seen[h as usize] = true;
        }
    }
    (0..hours).filter(|h| !seen[*h]).collect()
}

fn hourly_max(series: &[Point]) -> Vec<Point> {
    let mut hours: BTreeMap<i64, f64> = BTreeMap::new();
    for (t, v) in series {
        let slot = hours.entry((t / 3600.0).floor() as i64).or_insert(f64::MIN);
        *slot = slot.max(*v);
    }
    hours
        .into_iter()
        .map(|(h, v)| (h as f64 + 0.5, v))
        .collect()
}

/// Least-squares slope of `y` on `x` (0 with fewer than 3 points).
fn slope(points: &[Point]) -> f64 {
    if points.len() < 3 {
        return 0.0;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn times(minutes: &[i64]) -> Vec<i64> {
        minutes.iter().map(|m| m * 60_000_000_000).collect()
    }

    #[test]
    fn a_canary_silent_for_longer_than_period_and_grace_is_an_outage() {
        // Beats every minute, then 30 minutes of silence, then beats again.
        let mut minutes: Vec<i64> = (0..60).collect();
        minutes.extend(90..120);
        let n = minutes.len();
        let bucket = Series::new("bucket".into(), times(&minutes))
            .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
            .unwrap();
        let frame = DataFrame::new(
            n,
            vec![
                bucket.into(),
                Series::new("cluster".into(), vec!["c"; n]).into(),
                Series::new("canary".into(), vec!["probe"; n]).into(),
                Series::new("matcher".into(), vec!["canary.name"; n]).into(),
                Series::new("beats".into(), vec![1u64; n]).into(),
            ],
        )
        .unwrap();
        let day = heartbeats_day(&frame, 0.0, 120.0 * 60.0, 1.0).unwrap();
        let canary = &day.canaries[0];
        assert_eq!(canary.period_s, 60.0);
        assert_eq!(canary.outages.len(), 1, "{:?}", canary.outages);
        let outage = &canary.outages[0];
        assert_eq!((outage.from_s / 60.0, outage.to_s / 60.0), (60.0, 90.0));
        assert!((canary.uptime - 0.75).abs() < 0.01, "{}", canary.uptime);
        // Positive control: the same canary beating throughout has no outage.
        let all: Vec<i64> = (0..120).collect();
        let bucket = Series::new("bucket".into(), times(&all))
            .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
            .unwrap();
        let frame = DataFrame::new(
            120,
            vec![
                bucket.into(),
                Series::new("cluster".into(), vec!["c"; 120]).into(),
                Series::new("canary".into(), vec!["probe"; 120]).into(),
                Series::new("matcher".into(), vec!["canary.name"; 120]).into(),
                Series::new("beats".into(), vec![1u64; 120]).into(),
            ],
        )
        .unwrap();
        let day = heartbeats_day(&frame, 0.0, 120.0 * 60.0, 1.0).unwrap();
        assert!(day.canaries[0].outages.is_empty());
        assert_eq!(day.canaries[0].uptime, 1.0);
    }

    #[test]
    fn missing_hours_are_those_without_rows() {
        let minutes: Vec<i64> = vec![5, 70, 250];
        let bucket = Series::new("bucket".into(), times(&minutes))
            .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))
            .unwrap();
        let frame = DataFrame::new(3, vec![bucket.into()]).unwrap();
        assert_eq!(
            missing_hours(&frame, QueryKind::Memory, 0.0, 6),
            vec![2, 3, 5]
        );
    }

    #[test]
    fn the_hourly_slope_ranks_a_climb_above_a_sawtooth() {
        let climb: Vec<Point> = (0..288)
            .map(|i| (i as f64 * 300.0, 0.3 + i as f64 / 600.0))
            .collect();
        let saw: Vec<Point> = (0..288)
            .map(|i| (i as f64 * 300.0, 0.4 + 0.2 * ((i % 12) as f64 / 12.0)))
            .collect();
        let climb_slope = slope(&hourly_max(&climb));
        let saw_slope = slope(&hourly_max(&saw));
        assert!((climb_slope - 0.02).abs() < 0.002, "{climb_slope}"); // 12 buckets an hour × 1/600
        assert!(saw_slope.abs() < 0.005, "{saw_slope}");
    }
}
