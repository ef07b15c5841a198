//! "Dig in" queries: for each announced finding, one ClickHouse SQL statement a person can paste
//! into clickhouse-client to see the raw telemetry behind it — the finding's entity over its
//! window, per minute. Values are written as literals (no parameters to fill in), quoted so that
//! any label text stays inside its string.

use crate::config::rules::ErrorSource;
use crate::findings::{Finding, Signal};
use crate::source::TelemetryNames;
use crate::window::timefmt::clickhouse_datetime64;

use super::message::MONITOR_BLIND_RULE;

/// The dig query for `finding` with the default OpenTelemetry table and attribute names (error
/// rates from logs).
pub fn dig_query(finding: &Finding) -> String {
    dig_query_with(finding, &TelemetryNames::default(), ErrorSource::Logs)
}

/// The dig query for `finding` against tables and attributes named as in `names`; an error-rate
/// finding shows logs or spans as its rule counted them (`errors_from`).
pub fn dig_query_with(
    finding: &Finding,
    names: &TelemetryNames,
    errors_from: ErrorSource,
) -> String {
    if finding.rule == MONITOR_BLIND_RULE {
        // Nothing to dig in but whether the source answers at all.
        return "SELECT version() AS server_version, now() AS server_time".to_string();
    }
    match finding.signal {
        Signal::MemoryPressure => gauge_query(
            finding,
            names,
            &[
                &names.working_set_metric,
                &names.limit_metric,
                &names.request_metric,
                &names.restarts_metric,
            ],
        ),
        Signal::RestartFrequency => gauge_query(finding, names, &[&names.restarts_metric]),
        Signal::ErrorRate => match errors_from {
            ErrorSource::Logs => errors_query(finding, names),
            ErrorSource::Traces => trace_errors_query(finding, names),
        },
        Signal::HeartbeatMissing => heartbeats_query(finding, names),
    }
}

/// Per-minute peak of the container's gauges (`MetricName` per row).
fn gauge_query(finding: &Finding, names: &TelemetryNames, metrics: &[&str]) -> String {
    let metric_list = metrics
        .iter()
        .map(|m| string_literal(m))
        .collect::<Vec<_>>()
        .join(", ");
    let mut filters = vec![format!("MetricName IN ({metric_list})")];
    filters.extend(resource_filters(finding, names));
    filters.extend(time_filters("TimeUnix", finding));
    format!(
        "SELECT toStartOfMinute(TimeUnix) AS minute, MetricName, max(Value) AS value_max, \
         min(Value) AS value_min\nFROM {table}\nWHERE {filters}\nGROUP BY minute, MetricName\n\
         ORDER BY minute, MetricName",
        table = identifier(&names.gauge_table),
        filters = filters.join("\n  AND "),
    )
}

/// Per-minute log records and errors of the service (counted as the errors window does).
fn errors_query(finding: &Finding, names: &TelemetryNames) -> String {
    let mut filters = Vec::new();
    if let Some(service) = finding.entity.get("service") {
        filters.push(format!("ServiceName = {}", string_literal(service)));
    }
    filters.extend(resource_filters(finding, names));
    filters.extend(time_filters("Timestamp", finding));
    let texts = names
        .error_severity_texts
        .iter()
        .map(|t| string_literal(&t.to_uppercase()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT toStartOfMinute(Timestamp) AS minute, count() AS records, \
         countIf(SeverityNumber >= {min} OR (SeverityNumber = 0 AND upper(SeverityText) IN ({texts}))) \
         AS errors, round(errors / records, 4) AS error_ratio\nFROM {table}\nWHERE {filters}\n\
         GROUP BY minute\nORDER BY minute",
        min = names.error_severity_min,
        table = identifier(&names.logs_table),
        filters = filters.join("\n  AND "),
    )
}

/// Per-minute requests (server and consumer spans) and errors (span status) of the service.
fn trace_errors_query(finding: &Finding, names: &TelemetryNames) -> String {
    let mut filters = Vec::new();
    if let Some(service) = finding.entity.get("service") {
        filters.push(format!("ServiceName = {}", string_literal(service)));
    }
    filters.push(
        "SpanKind IN ('Server', 'SPAN_KIND_SERVER', 'Consumer', 'SPAN_KIND_CONSUMER')".to_string(),
    );
    filters.extend(resource_filters(finding, names));
    filters.extend(time_filters("Timestamp", finding));
    format!(
        "SELECT toStartOfMinute(Timestamp) AS minute, count() AS requests, \
         countIf(StatusCode IN ('Error', 'STATUS_CODE_ERROR')) AS errors, \
         round(errors / requests, 4) AS error_ratio\nFROM {table}\nWHERE {filters}\n\
         GROUP BY minute\nORDER BY minute",
        table = identifier(&names.traces_table),
        filters = filters.join("\n  AND "),
    )
}

/// Per-minute beats of the canary and the last one seen.
fn heartbeats_query(finding: &Finding, names: &TelemetryNames) -> String {
    let canary_key = format!("LogAttributes[{}]", string_literal(&names.canary_attribute));
    let mut filters = vec![match finding.entity.get("canary") {
        Some(canary) => format!("{canary_key} = {}", string_literal(canary)),
        None => format!("{canary_key} != ''"),
    }];
    filters.extend(resource_filters(finding, names));
    filters.extend(time_filters("Timestamp", finding));
    format!(
        "SELECT toStartOfMinute(Timestamp) AS minute, {canary_key} AS canary, count() AS beats, \
         max(Timestamp) AS last_beat_at\nFROM {table}\nWHERE {filters}\nGROUP BY minute, canary\n\
         ORDER BY minute, canary",
        table = identifier(&names.logs_table),
        filters = filters.join("\n  AND "),
    )
}

/// `ResourceAttributes[...] = '...'` for every entity key that names a resource attribute.
fn resource_filters(finding: &Finding, names: &TelemetryNames) -> Vec<String> {
    let mut filters = Vec::new();
    for (key, value) in &finding.entity {
        let attribute = match key.as_str() {
            "cluster" => names.cluster_attribute.clone(),
            "namespace" => "k8s.namespace.name".to_string(),
            "pod" => "k8s.pod.name".to_string(),
            "container" => "k8s.container.name".to_string(),
            "workload" => match value.split_once('/') {
                Some((kind, name)) => {
                    let attribute = format!("k8s.{}.name", kind.to_lowercase());
                    filters.push(format!(
                        "ResourceAttributes[{}] = {}",
                        string_literal(&attribute),
                        string_literal(name)
                    ));
                    continue;
                }
                None => continue,
            },
            _ => continue,
        };
        if value.is_empty() {
            continue;
        }
        filters.push(format!(
            "ResourceAttributes[{}] = {}",
            string_literal(&attribute),
            string_literal(value)
        ));
    }
    filters
}

fn time_filters(column: &str, finding: &Finding) -> [String; 2] {
    [
        format!(
            "{column} >= toDateTime64({}, 9, 'UTC')",
            string_literal(&clickhouse_datetime64(finding.window.from))
        ),
        format!(
            "{column} < toDateTime64({}, 9, 'UTC')",
            string_literal(&clickhouse_datetime64(finding.window.to))
        ),
    ]
}

/// A ClickHouse string literal: single quotes, with `\` and `'` escaped and control characters
/// written as escapes, so no value can end the string early.
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32 & 0xff)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A back-quoted identifier (`db.table` stays two parts).
fn identifier(name: &str) -> String {
    name.split('.')
        .map(|part| format!("`{}`", part.replace('\\', "\\\\").replace('`', "\\`")))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;

    use super::*;
    use crate::findings::{FindingWindow, Severity, Status};

    fn finding(signal: Signal, entity: &[(&str, &str)]) -> Finding {
        Finding::new(
            "rule",
            signal,
            Severity::Warning,
            Status::Firing,
            entity
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            datetime!(2026-11-23 12:00 UTC),
            FindingWindow {
                from: datetime!(2026-11-23 06:00 UTC),
                to: datetime!(2026-11-23 12:00 UTC),
            },
            "s".into(),
            Default::default(),
            None,
        )
    }

    #[test]
    fn memory_query_names_the_container_and_window() {
        let sql = dig_query(&finding(
            Signal::MemoryPressure,
            &[
                ("namespace", "shop"),
                ("pod", "cart-1"),
                ("container", "app"),
                ("workload", "Deployment/cart"),
            ],
        ));
        assert!(sql.contains("FROM `otel_metrics_gauge`"), "{sql}");
        assert!(
            sql.contains("ResourceAttributes['k8s.pod.name'] = 'cart-1'"),
            "{sql}"
        );
        assert!(
            sql.contains("ResourceAttributes['k8s.container.name'] = 'app'"),
            "{sql}"
        );
        assert!(
            sql.contains("ResourceAttributes['k8s.deployment.name'] = 'cart'"),
            "{sql}"
        );
        assert!(sql.contains("'container.memory.working_set'"), "{sql}");
        assert!(
            sql.contains("TimeUnix >= toDateTime64('2026-11-23 06:00:00.000000000', 9, 'UTC')"),
            "{sql}"
        );
        assert!(sql.contains("TimeUnix < toDateTime64('2026-11-23 12:00:00.000000000', 9, 'UTC')"));
    }

    #[test]
    fn errors_and_heartbeats_read_the_logs() {
        let sql = dig_query(&finding(
            Signal::ErrorRate,
            &[("namespace", "shop"), ("service", "cart")],
        ));
        assert!(
            sql.contains("FROM `otel_logs`") && sql.contains("ServiceName = 'cart'"),
            "{sql}"
        );
        let sql = dig_query(&finding(
            Signal::HeartbeatMissing,
            &[("canary", "checkout")],
        ));
        assert!(
            sql.contains("LogAttributes['canary.name'] = 'checkout'"),
            "{sql}"
        );
    }

    #[test]
    fn quotes_cannot_escape_the_literal() {
        assert_eq!(string_literal(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(string_literal("x\ny"), r"'x\ny'");
        let sql = dig_query(&finding(Signal::ErrorRate, &[("service", "x' OR 1=1 --")]));
        assert!(sql.contains(r"ServiceName = 'x\' OR 1=1 --'"), "{sql}");
    }
}
