//! The typed parameters bound to every window query.
//!
//! ClickHouse substitutes `{name:Type}` placeholders server-side, so values are never spliced
//! into SQL. Every query gets the same full set — the window, the configured table, metric and
//! attribute names, and the shared vocabulary (`window::vocabulary`: event reasons, workload
//! kinds, span kinds) — so a `--queries DIR` override may use any of them, and a list the Polars
//! twin also needs exists once, in Rust. ClickHouse ignores parameters a query does not use.
//!
//! | parameter | type | value |
//! |---|---|---|
//! | `since`, `until` | `DateTime64(9)` | the window, `[since, until)` |
//! | `bucket_s` | `UInt32` | bucket width in seconds |
//! | `logs_table`, `gauge_table`, `traces_table` | `Identifier` | table names |
//! | `working_set_metric`, `limit_metric`, `request_metric`, `restarts_metric` | `String` | metric names |
//! | `cluster_attribute`, `opt_out_attribute`, `canary_attribute` | `String` | attribute keys |
//! | `canary_match_on`, `canary_match_keys`, `canary_match_patterns`, `canary_match_labels` | `Array(String)` | the canary matchers in precedence order, one element each (`source::canaries`) |
//! | `error_severity_min` | `UInt8` | lowest error severity number |
//! | `error_severity_texts` | `Array(String)` | error severity texts, upper-cased |
//! | `event_reasons` | `Array(String)` | every reason `pod_events` counts |
//! | `backoff_reasons`, `oom_reasons`, `unhealthy_reasons`, `killing_reasons`, `failed_reasons` | `Array(String)` | the reasons of each count column |
//! | `workload_kinds`, `workload_name_attributes` | `Array(String)` | workload kinds and their owner attributes, in precedence order |
//! | `request_span_kinds`, `error_status_codes` | `Array(String)` | spans that are requests, statuses that are errors |

use crate::source::canaries::CanaryMatcher;
use crate::source::names::TelemetryNames;
use crate::window::vocabulary::{
    self, ERROR_STATUS_CODES, POD_EVENT_COUNTS, REQUEST_SPAN_KINDS, WORKLOAD_KINDS,
};
use crate::window::{timefmt, WindowSpec};

/// A parameter's value, in the shape the ClickHouse client serialises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterValue {
    Text(String),
    Number(u64),
    Texts(Vec<String>),
}

/// One `{name:Type}` placeholder's binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: &'static str,
    /// The ClickHouse type the SQL declares it with (`{name:Type}`).
    pub sql_type: &'static str,
    pub value: ParameterValue,
}

/// Error severity texts as the SQL compares them: `upper(SeverityText)` is matched against
/// these, and the Parquet twin upper-cases both sides too.
pub fn error_severity_texts(names: &TelemetryNames) -> Vec<String> {
    names
        .error_severity_texts
        .iter()
        .map(|text| text.to_uppercase())
        .collect()
}

/// Every parameter a window query may use, for `window`.
pub fn window_parameters(names: &TelemetryNames, window: &WindowSpec) -> Vec<Parameter> {
    use ParameterValue::{Number, Text, Texts};
    let text = |name, sql_type, value: &str| Parameter {
        name,
        sql_type,
        value: Text(value.to_string()),
    };
    let texts = |name, values: Vec<String>| Parameter {
        name,
        sql_type: "Array(String)",
        value: Texts(values),
    };
    let owned = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let mut parameters = vec![
        text(
            "since",
            "DateTime64(9)",
            &timefmt::clickhouse_datetime64(window.since),
        ),
        text(
            "until",
            "DateTime64(9)",
            &timefmt::clickhouse_datetime64(window.until),
        ),
        Parameter {
            name: "bucket_s",
            sql_type: "UInt32",
            value: Number(window.bucket_seconds().into()),
        },
        text("logs_table", "Identifier", &names.logs_table),
        text("gauge_table", "Identifier", &names.gauge_table),
        text("traces_table", "Identifier", &names.traces_table),
        text("working_set_metric", "String", &names.working_set_metric),
        text("limit_metric", "String", &names.limit_metric),
        text("request_metric", "String", &names.request_metric),
        text("restarts_metric", "String", &names.restarts_metric),
        text("cluster_attribute", "String", &names.cluster_attribute),
        text("opt_out_attribute", "String", &names.opt_out_attribute),
        text("canary_attribute", "String", &names.canary_attribute),
        Parameter {
            name: "error_severity_min",
            sql_type: "UInt8",
            value: Number(names.error_severity_min.into()),
        },
        texts("error_severity_texts", error_severity_texts(names)),
        texts("event_reasons", owned(&vocabulary::event_reasons())),
    ];
    let matchers = names.canary_matchers();
    let each = |f: fn(&CanaryMatcher) -> String| matchers.iter().map(f).collect::<Vec<_>>();
    parameters.extend([
        texts("canary_match_on", each(|m| m.on.sql_name().to_string())),
        texts("canary_match_keys", each(|m| m.key.clone())),
        texts("canary_match_patterns", each(CanaryMatcher::pattern)),
        texts("canary_match_labels", each(CanaryMatcher::label)),
    ]);
    for count in &POD_EVENT_COUNTS {
        parameters.push(texts(count.parameter, owned(count.reasons)));
    }
    parameters.extend([
        texts(
            "workload_kinds",
            WORKLOAD_KINDS.iter().map(|w| w.kind.to_string()).collect(),
        ),
        texts(
            "workload_name_attributes",
            WORKLOAD_KINDS
                .iter()
                .map(|w| w.name_attribute.to_string())
                .collect(),
        ),
        texts("request_span_kinds", owned(&REQUEST_SPAN_KINDS)),
        texts("error_status_codes", owned(&ERROR_STATUS_CODES)),
    ]);
    parameters
}

/// A window's bound parameters as JSON, for clients that run `queries/*.sql` themselves (the
/// notebooks, through `forewarn query NAME --parameters`): every parameter with its declared
/// type and value, and the `{{logs_time_prune}}` predicate per logs-table generation. Printed
/// by forewarn rather than copied into each client, so the two never bind different values.
pub fn describe(names: &TelemetryNames, window: &WindowSpec) -> serde_json::Value {
    use crate::source::introspect::Generation;
    use crate::source::queries::logs_time_prune;
    let parameters: serde_json::Map<String, serde_json::Value> = window_parameters(names, window)
        .into_iter()
        .map(|parameter| {
            let value = match parameter.value {
                ParameterValue::Text(text) => serde_json::Value::from(text),
                ParameterValue::Number(number) => serde_json::Value::from(number),
                ParameterValue::Texts(texts) => serde_json::Value::from(texts),
            };
            (
                parameter.name.to_string(),
                serde_json::json!({ "type": parameter.sql_type, "value": value }),
            )
        })
        .collect();
    serde_json::json!({
        "since": timefmt::rfc3339(window.since),
        "until": timefmt::rfc3339(window.until),
        "parameters": parameters,
        "logs_time_prune": {
            "g1": logs_time_prune(Generation::G1),
            "g2": logs_time_prune(Generation::G2),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use time::macros::datetime;

    use super::*;
    use crate::source::queries::QuerySet;
    use crate::window::QueryKind;

    /// `(name, type)` of every `{name:Type}` placeholder in `sql` (not `{{…}}` templates, nor
    /// JSON in comments).
    fn placeholders(sql: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut rest = sql;
        while let Some(open) = rest.find('{') {
            rest = &rest[open + 1..];
            let Some((name, after)) = rest.split_once(':') else {
                break;
            };
            let is_name = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !is_name {
                continue;
            }
            let close = after.find('}').expect("placeholder closes");
            found.push((name.to_string(), after[..close].to_string()));
        }
        found
    }

    fn window() -> WindowSpec {
        WindowSpec {
            since: datetime!(2026-11-20 10:00 UTC),
            until: datetime!(2026-11-20 11:00 UTC),
            bucket: Duration::from_secs(300),
        }
    }

    #[test]
    fn every_placeholder_of_the_embedded_queries_is_bound_with_its_declared_type() {
        let parameters = window_parameters(&TelemetryNames::default(), &window());
        let queries = QuerySet::embedded();
        let mut used = BTreeSet::new();
        for kind in QueryKind::ALL {
            let sql = &queries.get(kind).sql;
            for (name, sql_type) in placeholders(sql) {
                let bound = parameters
                    .iter()
                    .find(|p| p.name == name)
                    .unwrap_or_else(|| panic!("{kind}: {{{name}}} is not bound"));
                assert_eq!(bound.sql_type, sql_type, "{kind}: {{{name}}}");
                used.insert(name);
            }
        }
        let unused: Vec<_> = parameters
            .iter()
            .filter(|p| !used.contains(p.name))
            .map(|p| p.name)
            .collect();
        assert!(unused.is_empty(), "bound but used by no query: {unused:?}");
    }

    #[test]
    fn the_vocabulary_is_bound_from_its_single_definition() {
        let parameters = window_parameters(&TelemetryNames::default(), &window());
        let value = |name: &str| {
            parameters
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.value.clone())
                .unwrap()
        };
        let texts = |v: &[&str]| ParameterValue::Texts(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(value("oom_reasons"), texts(&["OOMKilled", "OOMKilling"]));
        assert_eq!(
            value("event_reasons"),
            texts(&[
                "BackOff",
                "OOMKilled",
                "OOMKilling",
                "Unhealthy",
                "Killing",
                "Failed"
            ])
        );
        assert_eq!(
            value("workload_kinds"),
            texts(&["Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"])
        );
        assert_eq!(value("bucket_s"), ParameterValue::Number(300));
        assert_eq!(
            value("since"),
            ParameterValue::Text("2026-11-20 10:00:00.000000000".into())
        );
    }

    #[test]
    fn severity_texts_are_bound_upper_cased_as_the_sql_compares_them() {
        let names = TelemetryNames {
            error_severity_texts: vec!["error".into(), "Fatal".into()],
            ..TelemetryNames::default()
        };
        let parameters = window_parameters(&names, &window());
        let texts = parameters
            .iter()
            .find(|p| p.name == "error_severity_texts")
            .unwrap();
        assert_eq!(
            texts.value,
            ParameterValue::Texts(vec!["ERROR".into(), "FATAL".into()])
        );
    }

    #[test]
    fn the_described_parameters_are_the_bound_ones() {
        let names = TelemetryNames::default();
        let described = describe(&names, &window());
        let parameters = described["parameters"].as_object().expect("an object");
        let bound = window_parameters(&names, &window());
        assert_eq!(parameters.len(), bound.len());
        for parameter in &bound {
            assert_eq!(parameters[parameter.name]["type"], parameter.sql_type);
        }
        assert_eq!(
            parameters["since"]["value"],
            timefmt::clickhouse_datetime64(window().since)
        );
        assert_eq!(parameters["bucket_s"]["value"], 300);
        assert_eq!(parameters["logs_table"]["value"], "otel_logs");
        assert!(described["logs_time_prune"]["g2"]
            .as_str()
            .unwrap()
            .contains("toStartOfFiveMinutes(Timestamp)"));
    }
}
