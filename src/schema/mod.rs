//! The exporter's DDL for the tables forewarn reads, per generation, so an empty ClickHouse
//! (tests, a new user) gets exactly the tables a collector would have created.

use crate::source::introspect::Generation;
use crate::source::TelemetryNames;

const G1: &str = include_str!("g1.sql");
const G2: &str = include_str!("g2.sql");
/// Spans: one layout across both generations, so one file serves both.
const TRACES: &str = include_str!("traces.sql");

/// The DDL statements for `generation`, with the configured table names.
pub fn statements(generation: Generation, names: &TelemetryNames) -> Vec<String> {
    let tables = match generation {
        Generation::G1 => G1,
        Generation::G2 => G2,
    };
    let text = format!("{tables}\n{TRACES}");
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    body.split("\n;")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.replace("{logs_table}", &quote_identifier(&names.logs_table))
                .replace("{traces_table}", &quote_identifier(&names.traces_table))
                .replace("{gauge_table}", &quote_identifier(&names.gauge_table))
                .replace("{sum_table}", &quote_identifier(&names.sum_table))
        })
        .collect()
}

/// The DDL as one printable script.
pub fn script(generation: Generation, names: &TelemetryNames) -> String {
    let mut out =
        format!("-- OpenTelemetry clickhouseexporter tables, generation {generation}\n\n");
    for statement in statements(generation, names) {
        out.push_str(&statement);
        out.push_str(";\n\n");
    }
    out
}

/// A backquoted ClickHouse identifier (table names come from configuration, not users' data,
/// but are quoted so any name works).
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// Creates the tables (if missing) through `client`.
pub async fn apply(
    client: &clickhouse::Client,
    generation: Generation,
    names: &TelemetryNames,
) -> Result<(), clickhouse::error::Error> {
    for statement in statements(generation, names) {
        client.query_raw(&statement).execute().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_differ_where_the_exporter_changed() {
        let names = TelemetryNames::default();
        let g1 = script(Generation::G1, &names);
        let g2 = script(Generation::G2, &names);
        assert!(g1.contains("TimestampTime DateTime"));
        assert!(!g2.contains("TimestampTime"));
        assert!(g2.contains("EventName String"));
        assert!(g1.contains("TimeUnix DateTime64(9)"));
        assert!(g2.contains("TimeUnix DateTime CODEC"));
        assert_eq!(statements(Generation::G2, &names).len(), 4);
        assert!(g2.contains("StatusCode LowCardinality(String)"));
    }
}
