//! `forewarn canary`: one heartbeat of a named canary — the thing the heartbeat rules watch, so
//! a broken telemetry pipeline is exactly what they notice.
//!
//! By default the beat is one JSON log line on stdout. A CronJob running it has its stdout
//! collected by the OpenTelemetry Collector's `filelog` receiver (the container parser, then a
//! `json_parser` from the body into the record's attributes, `time` as the timestamp, `level` as
//! the severity) and enriched by `k8sattributes` (pod, namespace, labels) and a `resource`
//! processor (`k8s.cluster.name`); the `clickhouseexporter` stores it in `otel_logs` with
//! `LogAttributes['canary.name'] = NAME` — the first of the default canary matchers
//! (`source::canaries`). The attribute key follows `--canary-attribute`, so the canary and the
//! rules' matcher agree even when it is renamed.
//!
//! `--direct` skips the pipeline and inserts the same record into the logs table itself (for
//! pipelines forewarn does not trust yet). It then prints nothing on stdout: a collected copy
//! of the line would be a second beat and halve the estimated period.

use bytes::Bytes;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::schema::quote_identifier;
use crate::source::{ClickHouseConfig, SourceError, TelemetryNames};
use crate::window::timefmt;

/// The service name canary records carry (what `k8sattributes` would not set for a plain pod).
pub const CANARY_SERVICE: &str = "forewarn-canary";
/// The log message of every beat.
pub const HEARTBEAT_MESSAGE: &str = "heartbeat";

/// One beat.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub canary: String,
    pub at: OffsetDateTime,
    /// The cluster the canary runs in (in a pipeline the collector adds it).
    pub cluster: Option<String>,
}

impl Heartbeat {
    /// The structured log line written to stdout.
    pub fn log_line(&self, names: &TelemetryNames) -> Value {
        let mut line = Map::new();
        line.insert("time".into(), json!(timefmt::rfc3339(self.at)));
        line.insert("level".into(), json!("INFO"));
        line.insert("message".into(), json!(HEARTBEAT_MESSAGE));
        line.insert(names.canary_attribute.clone(), json!(self.canary));
        line.insert("service.name".into(), json!(CANARY_SERVICE));
        Value::Object(line)
    }

    /// The `otel_logs` row the pipeline would store for [`Heartbeat::log_line`]: its keys as log
    /// attributes, the line as the body, INFO severity.
    pub fn row(&self, names: &TelemetryNames) -> Value {
        let line = self.log_line(names);
        let attributes: Map<String, Value> = line
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !matches!(k.as_str(), "time" | "level" | "message"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut resource = Map::new();
        resource.insert("service.name".into(), json!(CANARY_SERVICE));
        if let Some(cluster) = &self.cluster {
            resource.insert(names.cluster_attribute.clone(), json!(cluster));
        }
        // What k8sattributes adds, when the pod knows it (downward API).
        for (env, key) in [
            ("POD_NAME", "k8s.pod.name"),
            ("POD_NAMESPACE", "k8s.namespace.name"),
        ] {
            if let Ok(value) = std::env::var(env) {
                resource.insert(key.into(), json!(value));
            }
        }
        json!({
            "Timestamp": clickhouse_time(self.at),
            "SeverityText": "INFO",
            "SeverityNumber": 9,
            "ServiceName": CANARY_SERVICE,
            "Body": line.to_string(),
            "ResourceAttributes": resource,
            "LogAttributes": attributes,
        })
    }

    /// Inserts the beat into the logs table.
    pub async fn insert(
        &self,
        config: &ClickHouseConfig,
        names: &TelemetryNames,
    ) -> Result<(), SourceError> {
        insert_rows(config, &names.logs_table, &[self.row(names)]).await
    }
}

/// Inserts `otel_logs` rows given as JSON objects (the shape of [`Heartbeat::row`]).
pub async fn insert_rows(
    config: &ClickHouseConfig,
    table: &str,
    rows: &[Value],
) -> Result<(), SourceError> {
    // The timestamp travels as text and is read as UTC explicitly: no dependence on the
    // server's time zone.
    let sql = format!(
        "INSERT INTO {} (Timestamp, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes, LogAttributes) \
         SELECT toDateTime64(Timestamp, 9, 'UTC'), SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes, LogAttributes \
         FROM input('Timestamp String, SeverityText String, SeverityNumber UInt8, ServiceName String, Body String, ResourceAttributes Map(String, String), LogAttributes Map(String, String)') \
         FORMAT JSONEachRow",
        quote_identifier(table)
    );
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    let context = format!("inserting a heartbeat into {table}");
    let mut insert = config.writable_client().insert_formatted_with(sql);
    insert
        .send(Bytes::from(body))
        .await
        .map_err(|e| config.describe_error(e, &context))?;
    insert
        .end()
        .await
        .map_err(|e| config.describe_error(e, &context))
}

/// `YYYY-MM-DD hh:mm:ss.nnnnnnnnn`, what `toDateTime64(…, 9, 'UTC')` reads.
pub fn clickhouse_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_line_carries_the_canary_under_the_matchers_attribute() {
        let beat = Heartbeat {
            canary: "edge".into(),
            at: datetime!(2026-11-20 10:00:01.5 UTC),
            cluster: Some("prod".into()),
        };
        let mut names = TelemetryNames::default();
        let line = beat.log_line(&names);
        assert_eq!(line["canary.name"], "edge");
        assert_eq!(line["time"], "2026-11-20T10:00:01.5Z");
        names.canary_attribute = "beat.of".into();
        let row = beat.row(&names);
        assert_eq!(row["LogAttributes"]["beat.of"], "edge");
        assert!(row["LogAttributes"].get("canary.name").is_none());
        assert_eq!(row["ResourceAttributes"]["k8s.cluster.name"], "prod");
        assert_eq!(row["Timestamp"], "2026-11-20 10:00:01.500000000");
    }
}
