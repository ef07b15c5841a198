//! What a notification says, independent of where it goes: one message per (route, receiver,
//! group) with the findings it announces and each one's lifecycle change. The state decides
//! *what* to announce and computes the idempotency key; receivers only render and deliver.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::findings::{rfc3339_z, Finding, FindingWindow, Severity, Signal, Status};

use super::dig::dig_query;

/// A finding's lifecycle step that a notification announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// First announcement of an episode.
    New,
    /// Still firing; re-announced after the repeat interval.
    Repeat,
    /// Still firing, at a higher severity than last announced.
    Escalated,
    /// The episode is over.
    Resolved,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Repeat => "repeat",
            Change::Escalated => "escalated",
            Change::Resolved => "resolved",
        }
    }

    /// True for every change but `Resolved`.
    pub fn is_firing(self) -> bool {
        self != Change::Resolved
    }
}

/// One finding inside a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationItem {
    pub change: Change,
    pub finding: Finding,
    /// When the episode opened (the "since when" a person reads).
    #[serde(with = "rfc3339_z")]
    pub first_seen_at: OffsetDateTime,
    /// Ready-to-run ClickHouse SQL showing this finding's entity over its window.
    pub dig_query: String,
}

/// The rule name of the synthetic finding that says forewarn cannot read its source.
pub const MONITOR_BLIND_RULE: &str = "forewarn-monitor-blind";

impl NotificationItem {
    /// An item for `finding`, with its dig query written by [`dig_query`].
    pub fn new(change: Change, finding: Finding, first_seen_at: OffsetDateTime) -> Self {
        let dig_query = dig_query(&finding);
        NotificationItem {
            change,
            finding,
            first_seen_at,
            dig_query,
        }
    }

    /// "Monitor blind": forewarn could not read `source` (e.g. `clickhouse`), so silence means
    /// nothing. A synthetic critical finding keyed by the source, so it is deduplicated like
    /// any finding and resolved (`Change::Resolved`) when the source answers again.
    /// `error` is shown to people: pass it already redacted.
    pub fn monitor_blind(
        change: Change,
        source: &str,
        error: &str,
        first_seen_at: OffsetDateTime,
        evaluated_at: OffsetDateTime,
    ) -> Self {
        let entity = BTreeMap::from([("source".to_string(), source.to_string())]);
        let mut evidence = serde_json::Map::new();
        evidence.insert("error".into(), Value::String(error.to_string()));
        let (status, summary) = if change.is_firing() {
            (
                Status::Firing,
                format!("forewarn cannot read its source {source}: no finding means nothing until it answers"),
            )
        } else {
            (
                Status::Resolved,
                format!("forewarn reads its source {source} again"),
            )
        };
        let finding = Finding::new(
            MONITOR_BLIND_RULE,
            Signal::HeartbeatMissing,
            Severity::Critical,
            status,
            entity,
            evaluated_at,
            FindingWindow {
                from: first_seen_at,
                to: evaluated_at,
            },
            summary,
            evidence,
            None,
        );
        NotificationItem::new(change, finding, first_seen_at)
    }

    pub fn is_monitor_blind(&self) -> bool {
        self.finding.rule == MONITOR_BLIND_RULE
    }
}

/// One message to one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Idempotency key, deterministic for what is announced (computed by the caller): the
    /// outbox resends under the same key, receivers that can deduplicate use it.
    pub key: String,
    pub route: String,
    pub receiver: String,
    pub title: String,
    pub items: Vec<NotificationItem>,
    /// Set for a storm: people get this one summary instead of a flood of details; machine
    /// receivers (Alertmanager, webhook) still get every item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<StormSummary>,
}

impl Notification {
    pub fn new(
        key: impl Into<String>,
        route: impl Into<String>,
        receiver: impl Into<String>,
        title: impl Into<String>,
        items: Vec<NotificationItem>,
    ) -> Notification {
        Notification {
            key: key.into(),
            route: route.into(),
            receiver: receiver.into(),
            title: title.into(),
            items,
            summary: None,
        }
    }

    /// The storm form of the same message: one summary of all items by rule and namespace.
    pub fn into_storm(mut self) -> Notification {
        self.summary = Some(StormSummary::of(&self.items));
        self
    }

    /// The highest severity among the firing items (`None` when all resolve).
    pub fn top_severity(&self) -> Option<Severity> {
        self.items
            .iter()
            .filter(|i| i.change.is_firing())
            .map(|i| i.finding.severity)
            .max()
    }
}

/// N findings summarised by (rule, namespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StormSummary {
    pub total: usize,
    /// Largest groups first, then by rule and namespace.
    pub groups: Vec<StormGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StormGroup {
    pub rule: String,
    /// `""` when the findings carry no namespace (e.g. canaries).
    pub namespace: String,
    pub count: usize,
    pub resolved: usize,
    pub max_severity: Severity,
}

impl StormSummary {
    pub fn of(items: &[NotificationItem]) -> StormSummary {
        let mut groups: BTreeMap<(String, String), StormGroup> = BTreeMap::new();
        for item in items {
            let namespace = item
                .finding
                .entity
                .get("namespace")
                .cloned()
                .unwrap_or_default();
            let group = groups
                .entry((item.finding.rule.clone(), namespace.clone()))
                .or_insert_with(|| StormGroup {
                    rule: item.finding.rule.clone(),
                    namespace,
                    count: 0,
                    resolved: 0,
                    max_severity: item.finding.severity,
                });
            group.count += 1;
            if item.change == Change::Resolved {
                group.resolved += 1;
            }
            group.max_severity = group.max_severity.max(item.finding.severity);
        }
        let mut groups: Vec<StormGroup> = groups.into_values().collect();
        groups.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| {
                (a.rule.as_str(), a.namespace.as_str())
                    .cmp(&(b.rule.as_str(), b.namespace.as_str()))
            })
        });
        StormSummary {
            total: items.len(),
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn blind(change: Change) -> NotificationItem {
        NotificationItem::monitor_blind(
            change,
            "clickhouse",
            "cannot reach ClickHouse: connection refused",
            datetime!(2026-11-23 10:00 UTC),
            datetime!(2026-11-23 10:10 UTC),
        )
    }

    #[test]
    fn monitor_blind_is_one_episode_from_firing_to_resolved() {
        let firing = blind(Change::New);
        let resolved = blind(Change::Resolved);
        assert!(firing.is_monitor_blind() && resolved.is_monitor_blind());
        assert_eq!(
            firing.finding.id, resolved.finding.id,
            "same fingerprint: deduplicated"
        );
        assert_eq!(firing.finding.status, Status::Firing);
        assert_eq!(resolved.finding.status, Status::Resolved);
        assert_eq!(firing.finding.severity, Severity::Critical);
        assert_eq!(
            firing.finding.evidence["error"],
            "cannot reach ClickHouse: connection refused"
        );
        assert!(firing.dig_query.starts_with("SELECT version()"));
        // Positive control: another source is another episode.
        let other = NotificationItem::monitor_blind(
            Change::New,
            "parquet",
            "gone",
            datetime!(2026-11-23 10:00 UTC),
            datetime!(2026-11-23 10:10 UTC),
        );
        assert_ne!(other.finding.id, firing.finding.id);
    }

    #[test]
    fn storm_summary_groups_by_rule_and_namespace_largest_first() {
        let mut items = Vec::new();
        for (rule, namespace, severity, change) in [
            ("memory", "shop", Severity::Warning, Change::New),
            ("memory", "shop", Severity::Critical, Change::Resolved),
            ("errors", "pay", Severity::Warning, Change::New),
            ("memory", "pay", Severity::Info, Change::Repeat),
            ("memory", "shop", Severity::Warning, Change::New),
        ] {
            let mut item = blind(change);
            item.finding.rule = rule.into();
            item.finding.severity = severity;
            item.finding.entity = BTreeMap::from([("namespace".into(), namespace.into())]);
            items.push(item);
        }
        let summary = StormSummary::of(&items);
        assert_eq!(summary.total, 5);
        let groups: Vec<_> = summary
            .groups
            .iter()
            .map(|g| {
                (
                    g.rule.as_str(),
                    g.namespace.as_str(),
                    g.count,
                    g.resolved,
                    g.max_severity,
                )
            })
            .collect();
        assert_eq!(
            groups,
            [
                ("memory", "shop", 3, 1, Severity::Critical),
                ("errors", "pay", 1, 0, Severity::Warning),
                ("memory", "pay", 1, 0, Severity::Info),
            ]
        );
        let notification = Notification::new("k", "r", "x", "t", items).into_storm();
        assert_eq!(notification.summary.as_ref().unwrap().total, 5);
        assert_eq!(notification.top_severity(), Some(Severity::Warning));
    }
}
