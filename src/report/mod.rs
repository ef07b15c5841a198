//! The daily trend report (`forewarn report daily`): where the cluster is heading, not only what
//! fired. It reads the same window queries as the detectors over the last day (and the day and
//! week before, for comparison), runs the rules once at the end of the day for the forecasts,
//! adds forewarn's own day from the state, and renders HTML (charts as PNG), plain text and a
//! short Slack summary.
//!
//! A window that cannot be read is said so in the report and fails the command: a report that
//! could not see its data never reads as a quiet day.

pub mod chart;
pub mod deliver;
pub mod gather;
pub mod history;
pub mod html;
pub mod job;
pub mod text;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::config::{Rule, RuleSet};
use crate::evaluate::{self, Windows};
use crate::findings::{Finding, Signal};
use crate::source::Source;
use crate::window::{timefmt, QueryKind, WindowSpec};

use gather::{ErrorsDay, HeartbeatsDay, MemoryDay, MemoryEntity, RestartsDay, ServiceDay};

/// What the report covers and how much it shows.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub until: OffsetDateTime,
    pub period: Duration,
    /// Entities per list.
    pub top: usize,
}

impl ReportOptions {
    pub fn since(&self) -> OffsetDateTime {
        self.until - self.period
    }
}

/// A number on the report's day and the two comparison days (absent: no data that day).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Compared {
    pub today: f64,
    pub day_before: Option<f64>,
    pub week_before: Option<f64>,
}

/// A window that could not be read, or a part of the report that could not be made.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub part: String,
    pub error: String,
}

/// A memory forecast from the end-of-day run of the rules.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryForecast {
    pub rule: String,
    pub severity: String,
    pub summary: String,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub exhaustion_at: Option<OffsetDateTime>,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub exhaustion_earliest_at: Option<OffsetDateTime>,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub exhaustion_latest_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryRow {
    #[serde(flatten)]
    pub entity: MemoryEntity,
    pub forecast: Option<MemoryForecast>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemorySection {
    pub containers: usize,
    pub without_limit: usize,
    pub above_80_percent: Compared,
    pub oom_kills: Compared,
    /// Highest peak working set against the limit.
    pub closest: Vec<MemoryRow>,
    /// Steepest hourly growth (against the limit).
    pub fastest: Vec<MemoryRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    #[serde(flatten)]
    pub service: ServiceDay,
    /// The summary of an error-rate finding firing at the end of the day.
    pub finding: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorsSection {
    pub services: usize,
    pub requests: Compared,
    pub error_ratio: Compared,
    pub highest: Vec<ServiceRow>,
    pub rising: Vec<ServiceRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestartsSection {
    pub restarts: Compared,
    pub containers_restarted: usize,
    pub top: Vec<gather::RestartEntity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeartbeatsSection {
    pub canaries: Vec<gather::CanaryDay>,
    pub uptime: Option<Compared>,
    pub outages: Compared,
}

/// Hours without any rows, per window.
#[derive(Debug, Clone, Serialize)]
pub struct MissingData {
    pub window: String,
    /// Hour starts (RFC 3339, UTC) with no data.
    pub hours: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DailyReport {
    #[serde(with = "crate::findings::rfc3339_z")]
    pub since: OffsetDateTime,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub until: OffsetDateTime,
    pub clusters: Vec<String>,
    /// One line per signal: what a person reads first (also the Slack summary).
    pub headlines: Vec<String>,
    pub quiet: bool,
    pub memory: Option<MemorySection>,
    pub errors: Option<ErrorsSection>,
    pub restarts: Option<RestartsSection>,
    pub heartbeats: Option<HeartbeatsSection>,
    /// Findings firing when the day ended.
    pub firing: Vec<Finding>,
    pub state: Option<history::StateDay>,
    /// Why forewarn's own day is absent (no state store), when it is.
    pub state_note: Option<String>,
    pub missing: Vec<MissingData>,
    pub problems: Vec<Problem>,
    /// Cluster-wide series for the summary charts (not in the JSON).
    #[serde(skip)]
    pub series: SummarySeries,
}

impl DailyReport {
    pub fn span_s(&self) -> f64 {
        (self.until - self.since).as_seconds_f64()
    }

    /// The report is complete: every window was read and every part made.
    pub fn is_complete(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn title(&self) -> String {
        format!(
            "forewarn daily report — {} to {} UTC",
            short_time(self.since),
            short_time(self.until)
        )
    }
}

/// The series of the per-signal summary charts.
#[derive(Debug, Clone, Default)]
pub struct SummarySeries {
    pub errors_hourly: Vec<gather::Point>,
    pub errors_hourly_day_before: Vec<gather::Point>,
    pub restarts_hourly: Vec<gather::Point>,
    pub restarts_hourly_day_before: Vec<gather::Point>,
}

pub fn short_time(t: OffsetDateTime) -> String {
    let rfc = timefmt::rfc3339(t);
    rfc.get(..16).unwrap_or(&rfc).replace('T', " ")
}

/// One signal's three days.
struct Days<T> {
    today: Result<T, Problem>,
    day_before: Option<T>,
    week_before: Option<T>,
}

const MEMORY_BUCKET: Duration = Duration::from_secs(300);
const HEARTBEAT_BUCKET: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);
const WEEK: Duration = Duration::from_secs(7 * 86_400);

/// Builds the report from the source (and the state's history, when there is one).
pub async fn build(
    source: &Source,
    rules: &RuleSet,
    state: Option<history::StateDay>,
    state_note: Option<String>,
    options: &ReportOptions,
) -> DailyReport {
    let since = options.since();
    let until = options.until;
    let span_s = options.period.as_secs_f64();
    let hours = (span_s / 3600.0).ceil() as usize;
    let mut problems = Vec::new();
    let mut missing = Vec::new();

    let grace = rules
        .rules
        .iter()
        .find_map(|r| r.heartbeats.as_ref().map(|h| h.grace_periods))
        .unwrap_or(1.0);

    macro_rules! days {
        ($query:expr, $bucket:expr, $compute:expr) => {{
            let fetch = |offset: Duration| {
                let spec = WindowSpec {
                    since: since - offset,
                    until: until - offset,
                    bucket: $bucket,
                };
                async move {
                    let frame = source.fetch_window($query, &spec).await;
                    (spec, frame)
                }
            };
            let (spec, today) = fetch(Duration::ZERO).await;
            let today = match today {
                Ok(frame) => {
                    let gaps = gather::missing_hours(&frame, $query, unix_s(spec.since), hours);
                    if !gaps.is_empty() {
                        missing.push(MissingData {
                            window: $query.name().to_string(),
                            hours: gaps
                                .iter()
                                .map(|h| {
                                    timefmt::rfc3339(
                                        spec.since + Duration::from_secs(*h as u64 * 3600),
                                    )
                                })
                                .collect(),
                        });
                    }
                    $compute(&frame, unix_s(spec.since)).map_err(|e| Problem {
                        part: $query.name().to_string(),
                        error: e.to_string(),
                    })
                }
                Err(e) => Err(Problem {
                    part: $query.name().to_string(),
                    error: crate::act::notify::error::chain(&e),
                }),
            };
            let earlier = |frame: Result<crate::window::WindowFrame, _>, since: OffsetDateTime| {
                frame
                    .ok()
                    .filter(|f: &crate::window::WindowFrame| f.height() > 0)
                    .and_then(|f| $compute(&f, unix_s(since)).ok())
            };
            let (spec_day, day) = fetch(DAY).await;
            let (spec_week, week) = fetch(WEEK).await;
            Days {
                today,
                day_before: earlier(day, spec_day.since),
                week_before: earlier(week, spec_week.since),
            }
        }};
    }

    let memory: Days<MemoryDay> = days!(QueryKind::Memory, MEMORY_BUCKET, |f, s| {
        gather::memory_day(f, s)
    });
    let errors: Days<ErrorsDay> = days!(QueryKind::Errors, MEMORY_BUCKET, |f, s| {
        gather::errors_day(f, s, span_s)
    });
    let restarts: Days<RestartsDay> = days!(QueryKind::Restarts, MEMORY_BUCKET, |f, s| {
        gather::restarts_day(f, s)
    });
    let heartbeats: Days<HeartbeatsDay> = days!(QueryKind::Heartbeats, HEARTBEAT_BUCKET, |f, s| {
        gather::heartbeats_day(f, s, span_s, grace)
    });

    // The rules once, as of the end of the day: the forecasts and what is firing now.
    let all: Vec<&Rule> = rules.rules.iter().filter(|r| r.enabled).collect();
    let run = evaluate::run(&Windows::Live { source }, &all, until).await;
    for failure in &run.failures {
        problems.push(Problem {
            part: format!("rule {}", failure.rule),
            error: crate::act::notify::error::chain(failure.error.as_ref()),
        });
    }
    let firing: Vec<Finding> = run
        .findings
        .into_iter()
        .filter(|f| f.status == crate::findings::Status::Firing)
        .collect();

    let mut clusters: std::collections::BTreeSet<String> = Default::default();
    let memory_section = match memory.today {
        Ok(mut today) => {
            clusters.extend(today.entities.iter().map(|e| e.cluster.clone()));
            let day_peaks = memory.day_before.as_ref().map(MemoryDay::peaks_by_workload);
            let week_peaks = memory
                .week_before
                .as_ref()
                .map(MemoryDay::peaks_by_workload);
            for e in &mut today.entities {
                let key = e.workload_key();
                e.peak_ratio_day_before = day_peaks.as_ref().and_then(|p| p.get(&key).copied());
                e.peak_ratio_week_before = week_peaks.as_ref().and_then(|p| p.get(&key).copied());
            }
            let forecasts = memory_forecasts(&firing);
            // Each container with its forecast, looked up once.
            let rows: Vec<MemoryRow> = today
                .entities
                .iter()
                .map(|e| MemoryRow {
                    forecast: forecasts
                        .get(&(
                            e.cluster.clone(),
                            e.namespace.clone(),
                            e.pod.clone(),
                            e.container.clone(),
                        ))
                        .cloned(),
                    entity: e.clone(),
                })
                .collect();
            let mut by_peak: Vec<&MemoryRow> = rows.iter().collect();
            // A container with a forecast comes first: it is where the day is heading.
            by_peak.sort_by(|a, b| {
                (b.forecast.is_some().cmp(&a.forecast.is_some()))
                    .then(b.entity.peak_ratio.total_cmp(&a.entity.peak_ratio))
            });
            let mut by_growth: Vec<&MemoryRow> = rows
                .iter()
                .filter(|r| r.entity.growth_ratio_per_h > 0.0)
                .collect();
            by_growth.sort_by(|a, b| {
                b.entity
                    .growth_ratio_per_h
                    .total_cmp(&a.entity.growth_ratio_per_h)
            });
            // OOM kills: those the memory window shows, or the pod events' count if higher.
            let events = |d: Option<&RestartsDay>| d.map(|d| d.oom_kills).unwrap_or(0);
            let kills = |m: &MemoryDay, r: Option<&RestartsDay>| m.oom_kills.max(events(r)) as f64;
            Some(MemorySection {
                containers: today.containers,
                without_limit: today.without_limit,
                above_80_percent: Compared {
                    today: today.above_80_percent as f64,
                    day_before: memory
                        .day_before
                        .as_ref()
                        .map(|d| d.above_80_percent as f64),
                    week_before: memory
                        .week_before
                        .as_ref()
                        .map(|d| d.above_80_percent as f64),
                },
                oom_kills: Compared {
                    today: kills(&today, restarts.today.as_ref().ok()),
                    day_before: memory
                        .day_before
                        .as_ref()
                        .map(|m| kills(m, restarts.day_before.as_ref())),
                    week_before: memory
                        .week_before
                        .as_ref()
                        .map(|m| kills(m, restarts.week_before.as_ref())),
                },
                closest: by_peak.into_iter().take(options.top).cloned().collect(),
                fastest: by_growth.into_iter().take(options.top).cloned().collect(),
            })
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };

    let mut series = SummarySeries::default();
    let errors_section = match errors.today {
        Ok(mut today) => {
            clusters.extend(today.entities.iter().map(|e| e.cluster.clone()));
            let day_ratios = errors.day_before.as_ref().map(ErrorsDay::ratios_by_service);
            let week_ratios = errors
                .week_before
                .as_ref()
                .map(ErrorsDay::ratios_by_service);
            for s in &mut today.entities {
                s.ratio_day_before = day_ratios.as_ref().and_then(|r| r.get(&s.key()).copied());
                s.ratio_week_before = week_ratios.as_ref().and_then(|r| r.get(&s.key()).copied());
            }
            // Each service with the summary of its firing error-rate finding, found once.
            let rows: Vec<ServiceRow> = today
                .entities
                .iter()
                .map(|s| ServiceRow {
                    finding: firing
                        .iter()
                        .find(|f| {
                            f.signal == Signal::ErrorRate
                                && f.entity.get("service") == Some(&s.service)
                                && f.entity.get("namespace") == Some(&s.namespace)
                        })
                        .map(|f| f.summary.clone()),
                    service: s.clone(),
                })
                .collect();
            // Enough volume for a ratio to mean something.
            let mut highest: Vec<&ServiceRow> =
                rows.iter().filter(|r| r.service.requests >= 100).collect();
            highest.sort_by(|a, b| b.service.error_ratio.total_cmp(&a.service.error_ratio));
            let mut rising: Vec<&ServiceRow> = rows
                .iter()
                .filter(|r| r.service.recent_requests >= 100 && r.service.rise() > 0.0)
                .collect();
            rising.sort_by(|a, b| {
                (b.finding.is_some().cmp(&a.finding.is_some()))
                    .then(b.service.rise().total_cmp(&a.service.rise()))
            });
            series.errors_hourly = today.hourly.clone();
            series.errors_hourly_day_before = errors
                .day_before
                .as_ref()
                .map(|d| d.hourly.clone())
                .unwrap_or_default();
            Some(ErrorsSection {
                services: today.services,
                requests: Compared {
                    today: today.requests as f64,
                    day_before: errors.day_before.as_ref().map(|d| d.requests as f64),
                    week_before: errors.week_before.as_ref().map(|d| d.requests as f64),
                },
                error_ratio: Compared {
                    today: today.ratio(),
                    day_before: errors.day_before.as_ref().map(ErrorsDay::ratio),
                    week_before: errors.week_before.as_ref().map(ErrorsDay::ratio),
                },
                highest: highest.into_iter().take(options.top).cloned().collect(),
                rising: rising.into_iter().take(options.top).cloned().collect(),
            })
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };

    let restarts_section = match restarts.today {
        Ok(today) => {
            let mut top = today.entities.clone();
            top.retain(|e| e.restarts > 0);
            top.sort_by_key(|e| std::cmp::Reverse(e.restarts));
            top.truncate(options.top);
            series.restarts_hourly = today.hourly.clone();
            series.restarts_hourly_day_before = restarts
                .day_before
                .as_ref()
                .map(|d| d.hourly.clone())
                .unwrap_or_default();
            Some(RestartsSection {
                restarts: Compared {
                    today: today.restarts as f64,
                    day_before: restarts.day_before.as_ref().map(|d| d.restarts as f64),
                    week_before: restarts.week_before.as_ref().map(|d| d.restarts as f64),
                },
                containers_restarted: today.containers_restarted,
                top,
            })
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };

    let heartbeats_section = match heartbeats.today {
        Ok(today) => {
            let mut canaries = today.canaries.clone();
            canaries.sort_by(|a, b| a.uptime.total_cmp(&b.uptime));
            Some(HeartbeatsSection {
                uptime: today.uptime().map(|u| Compared {
                    today: u,
                    day_before: heartbeats
                        .day_before
                        .as_ref()
                        .and_then(HeartbeatsDay::uptime),
                    week_before: heartbeats
                        .week_before
                        .as_ref()
                        .and_then(HeartbeatsDay::uptime),
                }),
                outages: Compared {
                    today: today.outages() as f64,
                    day_before: heartbeats.day_before.as_ref().map(|d| d.outages() as f64),
                    week_before: heartbeats.week_before.as_ref().map(|d| d.outages() as f64),
                },
                canaries,
            })
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };

    let mut report = DailyReport {
        since,
        until,
        clusters: clusters.into_iter().filter(|c| !c.is_empty()).collect(),
        headlines: Vec::new(),
        quiet: false,
        memory: memory_section,
        errors: errors_section,
        restarts: restarts_section,
        heartbeats: heartbeats_section,
        firing,
        state,
        state_note,
        missing,
        problems,
        series,
    };
    report.quiet = is_quiet(&report);
    report.headlines = text::headlines(&report);
    report
}

fn unix_s(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

type ContainerKey = (String, String, String, String);

fn memory_forecasts(firing: &[Finding]) -> BTreeMap<ContainerKey, MemoryForecast> {
    let time = |f: &Finding, key: &str| {
        f.evidence.get(key).and_then(|v| v.as_str()).and_then(|s| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
    };
    let mut out = BTreeMap::new();
    for f in firing.iter().filter(|f| f.signal == Signal::MemoryPressure) {
        let get = |k: &str| f.entity.get(k).cloned().unwrap_or_default();
        out.insert(
            (
                get("cluster"),
                get("namespace"),
                get("pod"),
                get("container"),
            ),
            MemoryForecast {
                rule: f.rule.clone(),
                severity: f.severity.to_string(),
                summary: f.summary.clone(),
                exhaustion_at: time(f, "exhaustion_at"),
                exhaustion_earliest_at: time(f, "exhaustion_earliest_at"),
                exhaustion_latest_at: time(f, "exhaustion_latest_at"),
            },
        );
    }
    out
}

/// Nothing a person needs to look at: no container near its limit, no error finding, no
/// restarts, no canary outage, nothing firing — and every window read.
fn is_quiet(report: &DailyReport) -> bool {
    report.problems.is_empty()
        && report.firing.is_empty()
        && report
            .memory
            .as_ref()
            .is_some_and(|m| m.above_80_percent.today == 0.0 && m.oom_kills.today == 0.0)
        && report
            .restarts
            .as_ref()
            .is_some_and(|r| r.restarts.today == 0.0)
        && report
            .heartbeats
            .as_ref()
            .is_some_and(|h| h.outages.today == 0.0)
}
