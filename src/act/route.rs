//! The pure front of the notification pipeline (Alertmanager's shape): `route` picks the routes
//! each announced finding goes to (first match wins, `continue` goes on), `group` bundles them
//! into one batch per route, receiver and group key, and `storm_limit` folds a route's batches
//! into one summary when there are too many. No I/O and no clock: the run's as-of time comes
//! in, so a re-run over the same findings yields the same batches and idempotency keys, and the
//! sender can tell a batch it already delivered.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::config::notify::{NotifyConfig, Route};
use crate::findings::{content_hash, Finding};
use crate::window::timefmt;

/// Why a finding is being announced this run (the state's verdict): one type shared with the
/// messages the receivers render.
pub use crate::act::notify::message::Change;

/// A finding the state decided to announce, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Announced {
    pub finding: Finding,
    pub change: Change,
}

/// An announced finding on one route that took it.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// Position in matching order (`NotifyConfig::route_at`); the default route comes last.
    pub route_index: usize,
    pub route: String,
    pub announced: Announced,
}

/// The routes each finding goes to, in input order and then route order. A finding no route
/// takes goes to the default route when there is one (and nowhere otherwise — validation
/// ensures some route then takes everything).
pub fn route(config: &NotifyConfig, announced: &[Announced]) -> Vec<Routed> {
    let mut routed = Vec::new();
    for item in announced {
        let mut matched = false;
        for (index, route) in config.routes.iter().enumerate() {
            if route.matcher.matches(&item.finding) {
                matched = true;
                routed.push(Routed {
                    route_index: index,
                    route: route.name.clone(),
                    announced: item.clone(),
                });
                if !route.continue_matching {
                    break;
                }
            }
        }
        if let (false, Some(default)) = (matched, &config.default_route) {
            routed.push(Routed {
                route_index: config.routes.len(),
                route: default.name.clone(),
                announced: item.clone(),
            });
        }
    }
    routed
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    /// The findings of one group key.
    Group,
    /// A storm: all of a route's groups for one receiver folded into one message.
    Summary { groups: usize },
}

/// One message to one receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub route_index: usize,
    pub route: String,
    pub receiver: String,
    /// `(key, value)` in the route's `group_by` order (absent keys as ""); empty for a summary.
    pub group: Vec<(String, String)>,
    pub kind: BatchKind,
    /// Most severe first, then by rule and finding id.
    pub items: Vec<Announced>,
    /// The run's as-of time.
    pub as_of: OffsetDateTime,
}

impl Batch {
    /// Stable across re-runs of the same run: route, receiver, kind, group key, the finding ids
    /// with their changes (order-independent) and the as-of time. The sender records it, so a
    /// batch is never delivered twice.
    pub fn idempotency_key(&self) -> String {
        let mut parts = BTreeMap::new();
        parts.insert("receiver".to_string(), self.receiver.clone());
        parts.insert("as_of".to_string(), timefmt::rfc3339(self.as_of));
        let kind = match self.kind {
            BatchKind::Group => "group".to_string(),
            BatchKind::Summary { groups } => format!("summary of {groups}"),
        };
        parts.insert("kind".to_string(), kind);
        for (key, value) in &self.group {
            parts.insert(format!("group.{key}"), value.clone());
        }
        for item in &self.items {
            parts.insert(
                format!("finding.{}", item.finding.id),
                item.change.as_str().to_string(),
            );
        }
        content_hash(&self.route, &parts)
    }
}

/// The value a finding has for a `group_by` key ("" when it has none).
pub fn group_value(finding: &Finding, key: &str) -> String {
    match key {
        "signal" => finding.signal.as_str().to_string(),
        "severity" => finding.severity.to_string(),
        "rule" => finding.rule.clone(),
        other => finding.entity.get(other).cloned().unwrap_or_default(),
    }
}

/// One batch per (route, receiver, group key), in route, receiver and group-key order. A route
/// without receivers (`default_receivers: []`) yields none: its findings are recorded only.
pub fn group(config: &NotifyConfig, routed: &[Routed], as_of: OffsetDateTime) -> Vec<Batch> {
    let mut groups: BTreeMap<(usize, usize, Vec<String>), Vec<Announced>> = BTreeMap::new();
    for item in routed {
        let Some(route) = config.route_at(item.route_index) else {
            continue;
        };
        let values: Vec<String> = route
            .group_by
            .iter()
            .map(|key| group_value(&item.announced.finding, key))
            .collect();
        for receiver in 0..route.receivers.len() {
            groups
                .entry((item.route_index, receiver, values.clone()))
                .or_default()
                .push(item.announced.clone());
        }
    }
    groups
        .into_iter()
        .filter_map(|((route_index, receiver, values), mut items)| {
            let route: &Route = config.route_at(route_index)?;
            sort_items(&mut items);
            Some(Batch {
                route_index,
                route: route.name.clone(),
                receiver: route.receivers[receiver].clone(),
                group: route.group_by.iter().cloned().zip(values).collect(),
                kind: BatchKind::Group,
                items,
                as_of,
            })
        })
        .collect()
}

fn sort_items(items: &mut [Announced]) {
    items.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then_with(|| a.finding.rule.cmp(&b.finding.rule))
            .then_with(|| a.finding.id.cmp(&b.finding.id))
            .then_with(|| a.change.cmp(&b.change))
    });
}

/// Above `storm_threshold` batches for one route and receiver, those batches become one summary
/// batch (at the place of the first); the others pass unchanged, in order.
pub fn storm_limit(config: &NotifyConfig, batches: Vec<Batch>) -> Vec<Batch> {
    let mut counts: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for batch in &batches {
        *counts
            .entry((batch.route_index, batch.receiver.clone()))
            .or_default() += 1;
    }
    let mut out: Vec<Batch> = Vec::new();
    let mut summaries: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for batch in batches {
        let target = (batch.route_index, batch.receiver.clone());
        let groups = counts[&target];
        if groups <= config.storm_threshold {
            out.push(batch);
            continue;
        }
        match summaries.get(&target) {
            Some(&position) => out[position].items.extend(batch.items),
            None => {
                summaries.insert(target, out.len());
                out.push(Batch {
                    group: Vec::new(),
                    kind: BatchKind::Summary { groups },
                    ..batch
                });
            }
        }
    }
    for &position in summaries.values() {
        sort_items(&mut out[position].items);
    }
    out
}

/// route → group → storm limit: the messages this run sends, given what the state announced.
pub fn plan(config: &NotifyConfig, announced: &[Announced], as_of: OffsetDateTime) -> Vec<Batch> {
    storm_limit(config, group(config, &route(config, announced), as_of))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::findings::{FindingWindow, Severity, Signal, Status};

    type GroupKey = Vec<(String, String)>;

    const AS_OF: OffsetDateTime = time::macros::datetime!(2026-01-01 12:00 UTC);

    fn config(text: &str) -> NotifyConfig {
        let receivers = "receivers:\n  - name: slack\n    type: slack\n  - name: am\n    type: alertmanager\n  - name: mail\n    type: email\n";
        NotifyConfig::from_text("n.yaml", &format!("{receivers}{text}")).expect("valid config")
    }

    fn announced(
        rule: &str,
        severity: Severity,
        namespace: &str,
        pod: &str,
        change: Change,
    ) -> Announced {
        let entity: BTreeMap<String, String> =
            [("cluster", "eu-1"), ("namespace", namespace), ("pod", pod)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let finding = Finding::new(
            rule,
            Signal::MemoryPressure,
            severity,
            if change == Change::Resolved {
                Status::Resolved
            } else {
                Status::Firing
            },
            entity,
            AS_OF,
            FindingWindow {
                from: AS_OF,
                to: AS_OF,
            },
            format!("{rule} on {pod}"),
            serde_json::Map::new(),
            None,
        );
        Announced { finding, change }
    }

    fn routes_of(routed: &[Routed], pod: &str) -> Vec<String> {
        routed
            .iter()
            .filter(|r| r.announced.finding.entity.get("pod").map(String::as_str) == Some(pod))
            .map(|r| r.route.clone())
            .collect()
    }

    const TIERED: &str = "routes:\n  - name: shop\n    match:\n      namespace: shop*\n    receivers: [mail]\n  - name: urgent\n    match:\n      severity: warning\n    receivers: [slack]\n  - name: rest\n    receivers: [am]\n";

    #[test]
    fn the_first_matching_route_wins() {
        let config = config(TIERED);
        let routed = route(
            &config,
            &[
                announced("mem", Severity::Critical, "shop-eu", "a", Change::New),
                announced("mem", Severity::Critical, "payments", "b", Change::New),
                announced("mem", Severity::Info, "payments", "c", Change::New),
            ],
        );
        assert_eq!(routes_of(&routed, "a"), ["shop"]);
        assert_eq!(routes_of(&routed, "b"), ["urgent"]);
        assert_eq!(routes_of(&routed, "c"), ["rest"]);
        assert_eq!(routed.len(), 3);
    }

    #[test]
    fn continue_lets_later_routes_take_the_finding_too() {
        let config = config(&TIERED.replace(
            "    receivers: [mail]\n",
            "    receivers: [mail]\n    continue: true\n",
        ));
        let routed = route(
            &config,
            &[
                announced("mem", Severity::Critical, "shop-eu", "a", Change::New),
                announced("mem", Severity::Info, "shop", "c", Change::New),
                announced("mem", Severity::Info, "payments", "d", Change::New),
            ],
        );
        assert_eq!(routes_of(&routed, "a"), ["shop", "urgent"]);
        assert_eq!(routes_of(&routed, "c"), ["shop", "rest"]);
        assert_eq!(routes_of(&routed, "d"), ["rest"]);
        let indices: Vec<usize> = routed.iter().map(|r| r.route_index).collect();
        assert_eq!(indices, [0, 1, 0, 2, 2]);
    }

    #[test]
    fn the_default_route_takes_only_what_no_route_matched() {
        let config = config(
            "routes:\n  - name: shop\n    match:\n      namespace: shop\n    receivers: [mail]\n    continue: true\n  - name: urgent\n    match:\n      severity: critical\n    receivers: [slack]\ndefault_receivers: [am]\n",
        );
        let routed = route(
            &config,
            &[
                // Matched by `shop` (continue) and by nothing after: not the default.
                announced("mem", Severity::Info, "shop", "a", Change::New),
                announced("mem", Severity::Warning, "payments", "b", Change::New),
                announced("mem", Severity::Critical, "payments", "c", Change::New),
            ],
        );
        assert_eq!(routes_of(&routed, "a"), ["shop"]);
        assert_eq!(routes_of(&routed, "b"), ["default"]);
        assert_eq!(routes_of(&routed, "c"), ["urgent"]);
        let default = routed.iter().find(|r| r.route == "default").unwrap();
        assert_eq!(default.route_index, 2);
        assert_eq!(config.route_at(2).unwrap().receivers, ["am"]);
        assert!(config.route_at(3).is_none());
    }

    #[test]
    fn default_receivers_none_records_without_batches() {
        let config = config(
            "routes:\n  - name: shop\n    match:\n      namespace: shop\n    receivers: [mail]\ndefault_receivers: []\n",
        );
        let items = [
            announced("mem", Severity::Info, "shop", "a", Change::New),
            announced("mem", Severity::Info, "payments", "b", Change::New),
        ];
        let routed = route(&config, &items);
        assert_eq!(routes_of(&routed, "b"), ["default"]);
        let batches = plan(&config, &items, AS_OF);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].receiver, "mail");
        assert_eq!(batches[0].items, [items[0].clone()]);
    }

    #[test]
    fn findings_are_grouped_per_route_receiver_and_group_key() {
        let config = config("routes:\n  - name: all\n    receivers: [slack, am]\n");
        let items = [
            announced("mem", Severity::Warning, "shop", "a", Change::New),
            announced("mem", Severity::Critical, "shop", "b", Change::Escalated),
            announced("mem", Severity::Warning, "payments", "c", Change::New),
            announced("restarts", Severity::Warning, "shop", "d", Change::Resolved),
        ];
        let batches = plan(&config, &items, AS_OF);
        let summary: Vec<(String, GroupKey, Vec<String>)> = batches
            .iter()
            .map(|b| {
                let pods = b
                    .items
                    .iter()
                    .map(|i| i.finding.entity["pod"].clone())
                    .collect();
                (b.receiver.clone(), b.group.clone(), pods)
            })
            .collect();
        let key = |ns: &str, rule: &str| {
            vec![
                ("namespace".to_string(), ns.to_string()),
                ("rule".to_string(), rule.to_string()),
            ]
        };
        let pods = |p: &[&str]| p.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert_eq!(
            summary,
            [
                ("slack".into(), key("payments", "mem"), pods(&["c"])),
                ("slack".into(), key("shop", "mem"), pods(&["b", "a"])),
                ("slack".into(), key("shop", "restarts"), pods(&["d"])),
                ("am".into(), key("payments", "mem"), pods(&["c"])),
                ("am".into(), key("shop", "mem"), pods(&["b", "a"])),
                ("am".into(), key("shop", "restarts"), pods(&["d"])),
            ]
        );
        assert!(batches
            .iter()
            .all(|b| b.kind == BatchKind::Group && b.as_of == AS_OF));
        // The same input in another order plans the same batches.
        let mut reversed = items.to_vec();
        reversed.reverse();
        assert_eq!(plan(&config, &reversed, AS_OF), batches);
    }

    #[test]
    fn an_empty_group_by_makes_one_message_and_absent_keys_group_as_empty() {
        let one = config("routes:\n  - name: all\n    receivers: [slack]\n    group_by: []\n");
        let items = [
            announced("mem", Severity::Warning, "shop", "a", Change::New),
            announced("restarts", Severity::Info, "payments", "b", Change::New),
        ];
        let batches = plan(&one, &items, AS_OF);
        assert_eq!(batches.len(), 1);
        assert!(batches[0].group.is_empty());
        assert_eq!(batches[0].items.len(), 2);

        let by_namespace =
            config("routes:\n  - name: all\n    receivers: [slack]\n    group_by: [namespace]\n");
        let items = [
            announced("canary", Severity::Critical, "", "x", Change::New),
            announced("canary", Severity::Critical, "", "y", Change::New),
            announced("mem", Severity::Warning, "shop", "a", Change::New),
        ];
        let batches = plan(&by_namespace, &items, AS_OF);
        let groups: Vec<&Vec<(String, String)>> = batches.iter().map(|b| &b.group).collect();
        assert_eq!(
            groups,
            [
                &vec![("namespace".to_string(), String::new())],
                &vec![("namespace".to_string(), "shop".to_string())],
            ]
        );
        assert_eq!(batches[0].items.len(), 2);
        assert_eq!(group_value(&items[0].finding, "signal"), "memory_pressure");
        assert_eq!(group_value(&items[0].finding, "severity"), "critical");
    }

    fn storm(groups: usize, threshold: usize) -> Vec<Batch> {
        let config = config(&format!(
            "storm_threshold: {threshold}\nroutes:\n  - name: shop\n    match:\n      namespace: shop-*\n    receivers: [slack, am]\n    group_by: [namespace]\n  - name: rest\n    receivers: [mail]\n"
        ));
        let mut items: Vec<Announced> = (0..groups)
            .map(|i| {
                announced(
                    "mem",
                    Severity::Warning,
                    &format!("shop-{i}"),
                    "p",
                    Change::New,
                )
            })
            .collect();
        items.push(announced(
            "mem",
            Severity::Warning,
            "payments",
            "q",
            Change::New,
        ));
        plan(&config, &items, AS_OF)
    }

    #[test]
    fn at_the_storm_threshold_each_group_is_its_own_message() {
        let batches = storm(3, 3);
        assert_eq!(batches.len(), 3 * 2 + 1);
        assert!(batches.iter().all(|b| b.kind == BatchKind::Group));
    }

    #[test]
    fn above_the_storm_threshold_a_route_sends_one_summary_per_receiver() {
        let batches = storm(4, 3);
        let shape: Vec<(&str, &str, BatchKind, usize)> = batches
            .iter()
            .map(|b| (b.route.as_str(), b.receiver.as_str(), b.kind, b.items.len()))
            .collect();
        assert_eq!(
            shape,
            [
                ("shop", "slack", BatchKind::Summary { groups: 4 }, 4),
                ("shop", "am", BatchKind::Summary { groups: 4 }, 4),
                // The other route is below the threshold and unaffected.
                ("rest", "mail", BatchKind::Group, 1),
            ]
        );
        assert!(batches[0].group.is_empty());
        let namespaces: BTreeSet<&str> = batches[0]
            .items
            .iter()
            .map(|i| i.finding.entity["namespace"].as_str())
            .collect();
        assert_eq!(namespaces.len(), 4);
    }

    #[test]
    fn the_idempotency_key_depends_on_content_not_order() {
        let config =
            config("routes:\n  - name: all\n    receivers: [slack, am]\n    group_by: []\n");
        let a = announced("mem", Severity::Warning, "shop", "a", Change::New);
        let b = announced("mem", Severity::Warning, "shop", "b", Change::New);
        let key = |items: &[Announced], as_of: OffsetDateTime| {
            plan(&config, items, as_of)
                .iter()
                .map(Batch::idempotency_key)
                .collect::<Vec<_>>()
        };
        let keys = key(&[a.clone(), b.clone()], AS_OF);
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1], "receivers differ");
        assert_eq!(keys[0].len(), 16);
        assert_eq!(key(&[b.clone(), a.clone()], AS_OF), keys);
        let later = AS_OF + time::Duration::minutes(5);
        assert_ne!(key(&[a.clone(), b.clone()], later), keys);
        let resolved = Announced {
            change: Change::Resolved,
            ..b.clone()
        };
        assert_ne!(key(&[a.clone(), resolved], AS_OF), keys);
        assert_ne!(key(&[a], AS_OF), keys);
    }

    #[test]
    fn the_shipped_config_sends_critical_to_slack_and_everything_to_alertmanager() {
        let config = NotifyConfig::embedded().unwrap();
        let items = [
            announced("mem", Severity::Critical, "shop", "a", Change::New),
            announced("mem", Severity::Warning, "shop", "b", Change::New),
            announced("mem", Severity::Info, "shop", "c", Change::New),
        ];
        let routed = route(&config, &items);
        assert_eq!(
            routes_of(&routed, "a"),
            ["everything-to-alertmanager", "critical-to-slack"]
        );
        assert_eq!(
            routes_of(&routed, "b"),
            ["everything-to-alertmanager", "warnings-to-slack"]
        );
        assert_eq!(routes_of(&routed, "c"), ["everything-to-alertmanager"]);
        let receivers: Vec<String> = plan(&config, &items, AS_OF)
            .into_iter()
            .map(|b| b.receiver)
            .collect();
        assert_eq!(receivers, ["alertmanager", "slack-oncall", "slack-oncall"]);
    }
}
