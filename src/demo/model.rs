//! The in-memory form of a generated cluster, in the OpenTelemetry exporter's vocabulary.
//!
//! Points reference their series (and log records their resource) by index, so a few hundred
//! containers × hours of 15-second samples stay compact: the attribute maps exist once per
//! series, not once per point. `demo::parquet` expands them into the exporter's table layout.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An OpenTelemetry attribute map (`Map(LowCardinality(String), String)` in ClickHouse).
pub type Attributes = Vec<(String, String)>;

/// A telemetry resource: who emitted the data (`ResourceAttributes`, `ServiceName`).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `ServiceName` column: the `service.name` resource attribute, empty for k8s receivers.
    pub service_name: String,
    pub attributes: Attributes,
}

/// One metric time series: metric name plus its resource and data-point attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    pub metric_name: String,
    pub description: String,
    pub unit: String,
    /// Index into `Dataset::resources`.
    pub resource: u32,
    /// Data-point attributes (`Attributes` column).
    pub attributes: Attributes,
}

/// One gauge data point (`otel_metrics_gauge` row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    /// Index into `Dataset::gauge_series`.
    pub series: u32,
    /// Nanoseconds since the Unix epoch, UTC.
    pub time_unix_ns: i64,
    pub value: f64,
}

/// One log record (`otel_logs` row).
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Index into `Dataset::resources`.
    pub resource: u32,
    /// Nanoseconds since the Unix epoch, UTC.
    pub timestamp_ns: i64,
    /// OpenTelemetry severity number: 9 INFO, 13 WARN, 17 ERROR, 21 FATAL.
    pub severity_number: u8,
    pub severity_text: String,
    pub body: String,
    /// `LogAttributes` column.
    pub attributes: Attributes,
    /// `ScopeName` column (e.g. the receiver that produced the record).
    pub scope_name: String,
}

/// A whole generated cluster plus the truth about what was injected into it.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub resources: Vec<Resource>,
    pub gauge_series: Vec<MetricSeries>,
    pub gauge_points: Vec<MetricPoint>,
    pub logs: Vec<LogRecord>,
    pub labels: Labels,
}

/// `labels.json`: what the generator injected, so backtests can score detectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub seed: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
    /// Incidents a detector should find.
    pub incidents: Vec<Incident>,
    /// Hard negatives: patterns that look alarming but are not incidents.
    pub negatives: Vec<Negative>,
}

/// An injected incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// One of `memory_pressure`, `error_rate`, `restart_frequency`, `heartbeat_missing`.
    pub signal: String,
    /// What was injected, e.g. `memory_leak`, `error_burst`, `crash_loop`, `canary_stopped`.
    pub kind: String,
    /// The keys a finding's entity must match (subset match), e.g. cluster/namespace/pod/container.
    pub entity: BTreeMap<String, String>,
    /// When the abnormal behaviour starts.
    #[serde(with = "time::serde::rfc3339")]
    pub onset_at: OffsetDateTime,
    /// When the harm happens (OOM kill, crash loop established, heartbeat overdue); lead time is
    /// measured against this.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub impact_at: Option<OffsetDateTime>,
    /// When the abnormal behaviour ends (None: it lasts to the end of the data). Alerts on the
    /// entity until then are about this incident.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub resolved_at: Option<OffsetDateTime>,
    pub description: String,
}

/// An injected hard negative (no detector should fire on it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Negative {
    pub signal: String,
    pub kind: String,
    pub entity: BTreeMap<String, String>,
    pub description: String,
}

impl Default for Labels {
    fn default() -> Self {
        Labels {
            seed: 0,
            start: OffsetDateTime::UNIX_EPOCH,
            end: OffsetDateTime::UNIX_EPOCH,
            incidents: Vec::new(),
            negatives: Vec::new(),
        }
    }
}
