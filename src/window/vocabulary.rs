//! The Kubernetes and OpenTelemetry vocabulary the windows are defined in, written once.
//!
//! The ClickHouse queries and their Polars twins both need these lists (which event reasons land
//! in which count column, which owner attribute names which workload kind, which span kinds are
//! requests). They live here only: the Parquet source reads the constants, and the ClickHouse
//! source binds them into every query as typed parameters (`source::parameters`), so the SQL
//! files carry no copy that could drift.

/// One count column of the `pod_events` window and the event reasons it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCount {
    /// The frame column (`UInt64`).
    pub column: &'static str,
    /// The query parameter (`Array(String)`) that carries `reasons` into the SQL.
    pub parameter: &'static str,
    /// Kubernetes event reasons (kubelet's, and node-problem-detector's `OOMKilling`).
    pub reasons: &'static [&'static str],
}

/// The `pod_events` count columns in frame order. A reason belongs to one column at most.
pub const POD_EVENT_COUNTS: [EventCount; 5] = [
    EventCount {
        column: "backoff_events",
        parameter: "backoff_reasons",
        reasons: &["BackOff"],
    },
    EventCount {
        column: "oom_events",
        parameter: "oom_reasons",
        reasons: &["OOMKilled", "OOMKilling"],
    },
    EventCount {
        column: "unhealthy_events",
        parameter: "unhealthy_reasons",
        reasons: &["Unhealthy"],
    },
    EventCount {
        column: "killing_events",
        parameter: "killing_reasons",
        reasons: &["Killing"],
    },
    EventCount {
        column: "failed_events",
        parameter: "failed_reasons",
        reasons: &["Failed"],
    },
];

/// Every reason the `pod_events` window counts (the `event_reasons` parameter).
pub fn event_reasons() -> Vec<&'static str> {
    POD_EVENT_COUNTS
        .iter()
        .flat_map(|count| count.reasons.iter().copied())
        .collect()
}

/// The count column an event reason lands in, if the window counts it.
pub fn event_column(reason: &str) -> Option<&'static str> {
    POD_EVENT_COUNTS
        .iter()
        .find(|count| count.reasons.contains(&reason))
        .map(|count| count.column)
}

/// A workload kind and the k8s_cluster resource attribute that names a pod's owner of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadKind {
    /// `Deployment`, as written in the `workload` column (`Deployment/cart`).
    pub kind: &'static str,
    pub name_attribute: &'static str,
}

/// Workload kinds in order of precedence: a pod's `workload` is `Kind/name` of the first kind
/// whose attribute is non-empty (a Deployment's pods also carry their ReplicaSet, which is not
/// listed, and a CronJob's pods their Job, which comes after it).
pub const WORKLOAD_KINDS: [WorkloadKind; 5] = [
    WorkloadKind {
        kind: "Deployment",
        name_attribute: "k8s.deployment.name",
    },
    WorkloadKind {
        kind: "StatefulSet",
        name_attribute: "k8s.statefulset.name",
    },
    WorkloadKind {
        kind: "DaemonSet",
        name_attribute: "k8s.daemonset.name",
    },
    WorkloadKind {
        kind: "CronJob",
        name_attribute: "k8s.cronjob.name",
    },
    WorkloadKind {
        kind: "Job",
        name_attribute: "k8s.job.name",
    },
];

/// Span kinds that are requests a service was asked to serve, in both spellings exporters use
/// (`Server` today, `SPAN_KIND_SERVER` in older ones).
pub const REQUEST_SPAN_KINDS: [&str; 4] = [
    "Server",
    "SPAN_KIND_SERVER",
    "Consumer",
    "SPAN_KIND_CONSUMER",
];

/// Span status codes that mark a failed request, in both spellings.
pub const ERROR_STATUS_CODES: [&str; 2] = ["Error", "STATUS_CODE_ERROR"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{ColumnType, QueryKind};

    #[test]
    fn the_pod_events_schema_ends_with_the_count_columns_in_order() {
        let schema = QueryKind::PodEvents.schema();
        let tail: Vec<_> = schema[schema.len() - POD_EVENT_COUNTS.len()..].to_vec();
        let expected: Vec<_> = POD_EVENT_COUNTS
            .iter()
            .map(|c| (c.column, ColumnType::Count))
            .collect();
        assert_eq!(tail, expected);
    }

    #[test]
    fn each_reason_lands_in_one_column() {
        let reasons = event_reasons();
        assert_eq!(reasons.len(), 6);
        for reason in &reasons {
            let columns = POD_EVENT_COUNTS
                .iter()
                .filter(|c| c.reasons.contains(reason))
                .count();
            assert_eq!(columns, 1, "{reason}");
        }
        assert_eq!(event_column("OOMKilling"), Some("oom_events"));
        assert_eq!(event_column("BackOff"), Some("backoff_events"));
        assert_eq!(event_column("Pulled"), None);
    }
}
