//! Scoring a backtest against the demo's `labels.json`: per signal precision, recall and lead
//! time (impact minus first detection).
//!
//! - An incident is *detected* by a firing finding of its signal whose entity contains the
//!   incident's entity keys, evaluated between `onset − 1 h` and `impact + 1 h` (for memory
//!   pressure: before the OOM kill — a warning after it is no warning).
//! - Precision counts *alert episodes*: the consecutive steps at which one fingerprint (rule +
//!   entity) fires, split where it stops firing for longer than [`EPISODE_GAP`]. An episode is a
//!   true positive if any of its findings concerns an incident (its entity, between onset − 1 h
//!   and the incident's resolution + 1 h); otherwise a false positive — so
//!   noise hours before a real incident on the same entity still counts against precision.
//!   Resolved findings are not judged.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;

use crate::demo::model::{Incident, Labels};
use crate::findings::{Finding, Signal, Status};

const SLACK: time::Duration = time::Duration::hours(1);
/// A fingerprint silent for longer than this starts a new episode when it fires again.
pub const EPISODE_GAP: time::Duration = time::Duration::minutes(15);

#[derive(Debug, Clone, Serialize)]
pub struct IncidentResult {
    pub signal: Signal,
    pub kind: String,
    pub entity: BTreeMap<String, String>,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub onset_at: OffsetDateTime,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub impact_at: Option<OffsetDateTime>,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub first_detected_at: Option<OffsetDateTime>,
    /// impact − first detection (positive = warned ahead).
    pub lead_time_s: Option<f64>,
    /// The first detecting finding's forecast (memory): `exhaustion_at`, and its interval.
    #[serde(
        with = "crate::findings::rfc3339_z::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub forecast_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_interval: Option<ForecastInterval>,
    /// Every detecting finding's interval (memory), in time order: what a person reading each
    /// warning was told.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warning_intervals: Vec<ForecastInterval>,
}

/// A forecast's interval, as the first warning stated it. An open one (no latest time: the
/// rise may level off before the limit) holds every kill after its earliest time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForecastInterval {
    #[serde(with = "crate::findings::rfc3339_z")]
    pub earliest: OffsetDateTime,
    #[serde(with = "crate::findings::rfc3339_z::option")]
    pub latest: Option<OffsetDateTime>,
}

/// A memory finding's stated interval, if it has one.
fn interval_of(finding: &Finding) -> Option<ForecastInterval> {
    Some(ForecastInterval {
        earliest: evidence_time(finding, "exhaustion_earliest_at")?,
        latest: evidence_time(finding, "exhaustion_latest_at"),
    })
}

impl ForecastInterval {
    pub fn holds(&self, kill: OffsetDateTime) -> bool {
        self.earliest <= kill && self.latest.is_none_or(|l| kill <= l)
    }
}

/// A time evidence key of a finding (RFC 3339 text, as `Evidence::time` writes it).
fn evidence_time(finding: &Finding, key: &str) -> Option<OffsetDateTime> {
    let text = finding.evidence.get(key)?.as_str()?;
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SignalScore {
    pub incidents: usize,
    pub detected: usize,
    /// Alert episodes (see the module docs).
    pub finding_groups: usize,
    pub true_positive_groups: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub min_lead_time_s: Option<f64>,
    pub median_lead_time_s: Option<f64>,
    /// Entities that fired without an incident.
    pub false_positives: Vec<BTreeMap<String, String>>,
    /// False episodes by the hard-negative kind whose entity they fired on (`unlabelled` when
    /// none: the detector found something the labels do not describe; `outside_incident` when
    /// the entity has an incident of this signal but the episode is nowhere near it).
    pub false_by_kind: BTreeMap<String, usize>,
    /// Incidents not detected in time, by incident kind.
    pub missed_by_kind: BTreeMap<String, usize>,
    /// Memory only: how the first warning's forecast compares with the actual OOM kill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastScore>,
}

/// The first warning's forecast of each detected OOM kill against the kill itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForecastScore {
    /// First warnings that carry a forecast (`exhaustion_at`).
    pub forecasts: usize,
    /// Those that also carry an interval (`exhaustion_earliest_at`, and
    /// `exhaustion_latest_at` unless it is open).
    pub intervals: usize,
    /// Of those, the open ones (no latest time).
    pub open: usize,
    /// Of those, the ones whose interval holds the actual kill.
    pub covered: usize,
    /// covered / intervals (None without intervals).
    pub interval_coverage: Option<f64>,
    /// First-warning intervals that missed: the kill came before the earliest time, or after
    /// the latest.
    pub kill_before_earliest: usize,
    pub kill_after_latest: usize,
    /// Over every warning of a detected kill (each firing finding with an interval from onset
    /// to the kill), not only the first: how many held the kill.
    pub warning_intervals: usize,
    pub warnings_covered: usize,
    pub warning_coverage: Option<f64>,
    /// exhaustion_at − impact (positive: forecast too late), median over the forecasts.
    pub median_error_s: Option<f64>,
    /// The error of largest magnitude, with its sign.
    pub worst_error_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreReport {
    pub signals: BTreeMap<Signal, SignalScore>,
    pub incidents: Vec<IncidentResult>,
}

/// Whether a firing finding is about this incident at all (for precision): its signal and
/// entity, from shortly before onset until shortly after the incident resolves (ongoing
/// incidents never resolve within the data).
fn concerns(finding: &Finding, incident: &Incident) -> bool {
    finding.status == Status::Firing
        && finding.signal.as_str() == incident.signal
        && finding.entity_matches(&incident.entity)
        && finding.evaluated_at >= incident.onset_at - SLACK
        && incident
            .resolved_at
            .is_none_or(|end| finding.evaluated_at <= end + SLACK)
}

/// Whether a firing finding detects the incident in time to count for recall: between an hour
/// before onset and an hour after impact — except memory pressure, whose point is the warning
/// before the OOM kill: a finding after the kill does not count.
fn detects(finding: &Finding, incident: &Incident) -> bool {
    let impact = incident.impact_at.unwrap_or(incident.onset_at);
    let latest = if incident.signal == Signal::MemoryPressure.as_str() {
        impact
    } else {
        impact + SLACK
    };
    finding.status == Status::Firing
        && finding.signal.as_str() == incident.signal
        && finding.entity_matches(&incident.entity)
        && finding.evaluated_at >= incident.onset_at - SLACK
        && finding.evaluated_at <= latest
}

pub fn score(labels: &Labels, findings: &[Finding]) -> ScoreReport {
    let mut signals: BTreeMap<Signal, SignalScore> = Signal::ALL
        .iter()
        .map(|s| (*s, SignalScore::default()))
        .collect();
    let mut incidents = Vec::new();
    for incident in &labels.incidents {
        let Some(signal) = Signal::parse(&incident.signal) else {
            continue;
        };
        // The detecting findings, in time order; a warning before the same container's
        // previous OOM kill was a warning of that kill. The first of them: of several at that
        // step, the one with a forecast.
        let previous_kill = previous_kill(labels, incident);
        let mut warnings: Vec<&Finding> = findings
            .iter()
            .filter(|f| detects(f, incident))
            .filter(|f| previous_kill.is_none_or(|kill| f.evaluated_at > kill))
            .collect();
        warnings.sort_by_key(|f| (f.evaluated_at, evidence_time(f, "exhaustion_at").is_none()));
        let first_finding = warnings.first().copied();
        let warning_intervals = warnings.iter().filter_map(|f| interval_of(f)).collect();
        let first = first_finding.map(|f| f.evaluated_at);
        let forecast_at = first_finding.and_then(|f| evidence_time(f, "exhaustion_at"));
        let forecast_interval = first_finding.and_then(interval_of);
        let lead = match (incident.impact_at, first) {
            (Some(impact), Some(first)) => Some((impact - first).as_seconds_f64()),
            _ => None,
        };
        let entry = signals.entry(signal).or_default();
        entry.incidents += 1;
        if first.is_some() {
            entry.detected += 1;
        } else {
            *entry
                .missed_by_kind
                .entry(incident.kind.clone())
                .or_default() += 1;
        }
        incidents.push(IncidentResult {
            signal,
            kind: incident.kind.clone(),
            entity: incident.entity.clone(),
            onset_at: incident.onset_at,
            impact_at: incident.impact_at,
            first_detected_at: first,
            lead_time_s: lead,
            forecast_at,
            forecast_interval,
            warning_intervals,
        });
    }
    let mut firing: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.status == Status::Firing)
        .collect();
    firing.sort_by(|a, b| a.id.cmp(&b.id).then(a.evaluated_at.cmp(&b.evaluated_at)));
    // (signal, hit, entity) per episode.
    let mut episodes: Vec<(Signal, bool, BTreeMap<String, String>)> = Vec::new();
    let mut previous: Option<&Finding> = None;
    for finding in firing {
        let hit = labels.incidents.iter().any(|i| concerns(finding, i));
        let continues = previous.is_some_and(|p| {
            p.id == finding.id && finding.evaluated_at - p.evaluated_at <= EPISODE_GAP
        });
        match episodes.last_mut() {
            Some(last) if continues => last.1 |= hit,
            _ => episodes.push((finding.signal, hit, finding.entity.clone())),
        }
        previous = Some(finding);
    }
    for (signal, hit, entity) in &episodes {
        let entry = signals.entry(*signal).or_default();
        entry.finding_groups += 1;
        if *hit {
            entry.true_positive_groups += 1;
        } else {
            entry.false_positives.push(entity.clone());
            *entry
                .false_by_kind
                .entry(false_kind(labels, *signal, entity))
                .or_default() += 1;
        }
    }
    for (signal, entry) in signals.iter_mut() {
        entry.precision = (entry.finding_groups > 0)
            .then(|| entry.true_positive_groups as f64 / entry.finding_groups as f64);
        entry.recall =
            (entry.incidents > 0).then(|| entry.detected as f64 / entry.incidents as f64);
        (entry.min_lead_time_s, entry.median_lead_time_s) = min_and_median(
            incidents
                .iter()
                .filter(|i| i.signal == *signal)
                .filter_map(|i| i.lead_time_s)
                .collect(),
        );
        if *signal == Signal::MemoryPressure {
            entry.forecast = Some(forecast_score(
                incidents.iter().filter(|i| i.signal == *signal),
            ));
        }
    }
    ScoreReport { signals, incidents }
}

/// The smallest and the median (upper median) of some lead times; None without any.
pub(crate) fn min_and_median(mut leads: Vec<f64>) -> (Option<f64>, Option<f64>) {
    leads.sort_by(|a, b| a.total_cmp(b));
    (leads.first().copied(), leads.get(leads.len() / 2).copied())
}

/// What a false episode on `entity` hit: the kind of the hard negative of this signal whose
/// entity it is (the most specific, i.e. with the most keys, when several are), else
/// `outside_incident` or `unlabelled`.
fn false_kind(labels: &Labels, signal: Signal, entity: &BTreeMap<String, String>) -> String {
    let on_entity = |wanted: &BTreeMap<String, String>| {
        wanted
            .iter()
            .all(|(k, v)| entity.get(k).is_some_and(|mine| mine == v))
    };
    labels
        .negatives
        .iter()
        .filter(|n| n.signal == signal.as_str() && on_entity(&n.entity))
        .max_by_key(|n| n.entity.len())
        .map(|n| n.kind.clone())
        .unwrap_or_else(|| {
            let near_incident = labels
                .incidents
                .iter()
                .any(|i| i.signal == signal.as_str() && on_entity(&i.entity));
            if near_incident {
                "outside_incident".into()
            } else {
                "unlabelled".into()
            }
        })
}

/// The latest OOM kill of the same entity before this memory incident's onset.
fn previous_kill(labels: &Labels, incident: &Incident) -> Option<OffsetDateTime> {
    if incident.signal != Signal::MemoryPressure.as_str() {
        return None;
    }
    labels
        .incidents
        .iter()
        .filter(|other| other.signal == incident.signal && other.entity == incident.entity)
        .filter_map(|other| other.impact_at)
        .filter(|kill| *kill < incident.onset_at)
        .max()
}

/// Forecast error and interval coverage over the detected incidents' first warnings.
fn forecast_score<'a>(incidents: impl Iterator<Item = &'a IncidentResult>) -> ForecastScore {
    let mut score = ForecastScore::default();
    let mut errors = Vec::new();
    for incident in incidents {
        let (Some(impact), Some(forecast)) = (incident.impact_at, incident.forecast_at) else {
            continue;
        };
        score.forecasts += 1;
        errors.push((forecast - impact).as_seconds_f64());
        if let Some(interval) = incident.forecast_interval {
            score.intervals += 1;
            score.open += usize::from(interval.latest.is_none());
            if interval.holds(impact) {
                score.covered += 1;
            } else if impact < interval.earliest {
                score.kill_before_earliest += 1;
            } else {
                score.kill_after_latest += 1;
            }
        }
        score.warning_intervals += incident.warning_intervals.len();
        score.warnings_covered += incident
            .warning_intervals
            .iter()
            .filter(|i| i.holds(impact))
            .count();
    }
    score.interval_coverage =
        (score.intervals > 0).then(|| score.covered as f64 / score.intervals as f64);
    score.warning_coverage = (score.warning_intervals > 0)
        .then(|| score.warnings_covered as f64 / score.warning_intervals as f64);
    errors.sort_by(|a, b| a.total_cmp(b));
    score.median_error_s = (!errors.is_empty()).then(|| errors[errors.len() / 2]);
    score.worst_error_s = errors
        .iter()
        .copied()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()));
    score
}

#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error("cannot read it")]
    Read(#[source] std::io::Error),
    #[error("not a labels.json written by `forewarn demo generate`")]
    Parse(#[source] serde_json::Error),
}

/// Reads a `labels.json` written by `forewarn demo generate`.
pub fn load_labels(path: &std::path::Path) -> Result<Labels, LabelsError> {
    let text = std::fs::read_to_string(path).map_err(LabelsError::Read)?;
    serde_json::from_str(&text).map_err(LabelsError::Parse)
}
