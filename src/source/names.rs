//! Table, metric and attribute names forewarn reads. Defaults are the OpenTelemetry exporter's
//! and receivers'; a pipeline with other names is mapped here without code changes.

use serde::{Deserialize, Serialize};

use crate::source::canaries::CanaryMatcher;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryNames {
    pub logs_table: String,
    /// Spans, for error rates from span status.
    pub traces_table: String,
    pub gauge_table: String,
    pub sum_table: String,
    /// kubeletstats: what the OOM killer compares with the limit.
    pub working_set_metric: String,
    /// k8s_cluster: a container's memory limit (absent or 0 = no limit).
    pub limit_metric: String,
    pub request_metric: String,
    /// k8s_cluster: a gauge of restarts per pod UID + container (it resets).
    pub restarts_metric: String,
    /// Resource attribute naming the cluster (set by a processor; empty when absent).
    pub cluster_attribute: String,
    /// Resource attribute carrying the pod label that opts a workload out of forewarn (the
    /// k8sattributes processor exposes pod labels as `k8s.pod.labels.<label>`).
    pub opt_out_attribute: String,
    /// Log attribute that marks a canary heartbeat and names the canary.
    pub canary_attribute: String,
    /// Further ways of recognising canaries, after the defaults
    /// ([`CanaryMatcher::defaults`] of `canary_attribute`); see [`TelemetryNames::canary_matchers`].
    pub canary_matchers: Vec<CanaryMatcher>,
    /// Log records at or above this severity number count as errors (17 = ERROR).
    pub error_severity_min: u8,
    /// Severity texts that count as errors when a record has no severity number.
    pub error_severity_texts: Vec<String>,
}

impl Default for TelemetryNames {
    fn default() -> Self {
        TelemetryNames {
            logs_table: "otel_logs".into(),
            traces_table: "otel_traces".into(),
            gauge_table: "otel_metrics_gauge".into(),
            sum_table: "otel_metrics_sum".into(),
            working_set_metric: "container.memory.working_set".into(),
            limit_metric: "k8s.container.memory_limit".into(),
            request_metric: "k8s.container.memory_request".into(),
            restarts_metric: "k8s.container.restarts".into(),
            cluster_attribute: "k8s.cluster.name".into(),
            canary_attribute: "canary.name".into(),
            canary_matchers: Vec::new(),
            opt_out_attribute: "k8s.pod.labels.forewarn.io/opt-out".into(),
            error_severity_min: 17,
            error_severity_texts: vec!["ERROR".into(), "FATAL".into(), "CRITICAL".into()],
        }
    }
}

impl TelemetryNames {
    /// Every matcher the heartbeats query applies, in precedence order: the defaults (led by
    /// `canary_attribute`), then `canary_matchers`.
    pub fn canary_matchers(&self) -> Vec<CanaryMatcher> {
        let mut list = CanaryMatcher::defaults(&self.canary_attribute);
        for matcher in &self.canary_matchers {
            if !list.contains(matcher) {
                list.push(matcher.clone());
            }
        }
        list
    }

    /// Adds the matchers heartbeat rules declare (`heartbeats.match:`), so the heartbeats
    /// window carries their canaries too. Call it where a source is opened for rules.
    /// Adds the canary matchers of every heartbeat rule among `rules`.
    pub fn watch_rules<'a>(&mut self, rules: impl IntoIterator<Item = &'a crate::config::Rule>) {
        self.watch_rule_matchers(
            rules
                .into_iter()
                .filter_map(|r| r.heartbeats.as_ref())
                .flat_map(|h| h.matchers.iter()),
        );
    }

    pub fn watch_rule_matchers<'a>(
        &mut self,
        matchers: impl IntoIterator<Item = &'a CanaryMatcher>,
    ) {
        for matcher in matchers {
            if !self.canary_matchers.contains(matcher) {
                self.canary_matchers.push(matcher.clone());
            }
        }
    }
}
