//! Which exporter generation a table has. The exporter never migrates a table it finds, so a
//! live cluster keeps whatever DDL its first collector created (reference/telemetry.md §1).
//! forewarn reads `system.columns` once per run and picks query variants accordingly.

use std::collections::BTreeMap;
use std::fmt;

/// The exporter's table generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Generation {
    /// Older: logs have `TimestampTime`, metrics `TimeUnix DateTime64(9)`.
    G1,
    /// Current: logs keyed by `toStartOfFiveMinutes(Timestamp)`, metrics `TimeUnix DateTime`.
    #[default]
    G2,
}

impl Generation {
    pub fn parse(text: &str) -> Option<Generation> {
        match text.to_ascii_lowercase().as_str() {
            "g1" => Some(Generation::G1),
            "g2" => Some(Generation::G2),
            _ => None,
        }
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Generation::G1 => "g1",
            Generation::G2 => "g2",
        })
    }
}

/// A table's columns and their ClickHouse types, as `system.columns` reports them.
#[derive(Debug, Clone, Default)]
pub struct TableColumns {
    pub table: String,
    pub columns: BTreeMap<String, String>,
}

/// What a table's columns say is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaProblem {
    MissingColumn {
        column: String,
    },
    ColumnType {
        column: String,
        found: String,
        expected: String,
    },
    /// The exporter's optional JSON mode (Map columns become `JSON`), which forewarn does not read.
    JsonMode {
        column: String,
    },
}

/// The kind of table forewarn reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRole {
    Logs,
    Metrics,
    Traces,
}

impl TableColumns {
    /// Checks the columns forewarn's queries use and returns the table's generation.
    pub fn classify(&self, role: TableRole) -> Result<Generation, SchemaProblem> {
        let (required, maps, time_column): (&[(&str, &str)], &[&str], &str) = match role {
            TableRole::Logs => (
                &[
                    ("Timestamp", "DateTime64"),
                    ("SeverityNumber", "UInt8"),
                    ("SeverityText", "String"),
                    ("ServiceName", "String"),
                    ("Body", "String"),
                ],
                &["ResourceAttributes", "LogAttributes"],
                "Timestamp",
            ),
            TableRole::Metrics => (
                &[
                    ("TimeUnix", "DateTime"),
                    ("MetricName", "String"),
                    ("Value", "Float64"),
                ],
                &["ResourceAttributes"],
                "TimeUnix",
            ),
            TableRole::Traces => (
                &[
                    ("Timestamp", "DateTime64"),
                    ("ServiceName", "String"),
                    ("SpanKind", "String"),
                    ("StatusCode", "String"),
                ],
                &["ResourceAttributes"],
                "Timestamp",
            ),
        };
        for map in maps {
            let found = self
                .columns
                .get(*map)
                .ok_or_else(|| SchemaProblem::MissingColumn {
                    column: map.to_string(),
                })?;
            if found.starts_with("JSON") {
                return Err(SchemaProblem::JsonMode {
                    column: map.to_string(),
                });
            }
            if !found.starts_with("Map(") {
                return Err(SchemaProblem::ColumnType {
                    column: map.to_string(),
                    found: found.clone(),
                    expected: "Map(LowCardinality(String), String)".into(),
                });
            }
        }
        for (column, family) in required {
            let found = self
                .columns
                .get(*column)
                .ok_or_else(|| SchemaProblem::MissingColumn {
                    column: column.to_string(),
                })?;
            if !type_in_family(found, family) {
                return Err(SchemaProblem::ColumnType {
                    column: column.to_string(),
                    found: found.clone(),
                    expected: family.to_string(),
                });
            }
        }
        Ok(match role {
            TableRole::Logs if self.columns.contains_key("TimestampTime") => Generation::G1,
            TableRole::Logs => Generation::G2,
            TableRole::Metrics if self.columns[time_column].starts_with("DateTime64") => {
                Generation::G1
            }
            TableRole::Metrics => Generation::G2,
            // The traces table kept one layout across the generations forewarn reads.
            TableRole::Traces => Generation::G2,
        })
    }
}

/// `LowCardinality(String)` is a String, `DateTime64(9)` is a DateTime, and so on.
fn type_in_family(found: &str, family: &str) -> bool {
    let inner = found
        .strip_prefix("LowCardinality(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(found);
    match family {
        "DateTime" => inner.starts_with("DateTime"),
        "DateTime64" => inner.starts_with("DateTime64"),
        "UInt8" => matches!(inner, "UInt8" | "UInt16" | "UInt32" | "Int32" | "Int64"),
        other => inner == other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cols: &[(&str, &str)]) -> TableColumns {
        TableColumns {
            table: "t".into(),
            columns: cols
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    const MAP: &str = "Map(LowCardinality(String), String)";

    #[test]
    fn metrics_generation_follows_the_time_column_type() {
        let g1 = table(&[
            ("TimeUnix", "DateTime64(9)"),
            ("MetricName", "String"),
            ("Value", "Float64"),
            ("ResourceAttributes", MAP),
        ]);
        let g2 = table(&[
            ("TimeUnix", "DateTime"),
            ("MetricName", "LowCardinality(String)"),
            ("Value", "Float64"),
            ("ResourceAttributes", MAP),
        ]);
        assert_eq!(g1.classify(TableRole::Metrics), Ok(Generation::G1));
        assert_eq!(g2.classify(TableRole::Metrics), Ok(Generation::G2));
    }

    #[test]
    fn json_mode_and_wrong_types_are_named() {
        let json = table(&[
            ("TimeUnix", "DateTime"),
            ("MetricName", "String"),
            ("Value", "Float64"),
            ("ResourceAttributes", "JSON"),
        ]);
        assert_eq!(
            json.classify(TableRole::Metrics),
            Err(SchemaProblem::JsonMode {
                column: "ResourceAttributes".into()
            })
        );
        let wrong = table(&[
            ("TimeUnix", "DateTime"),
            ("MetricName", "String"),
            ("Value", "String"),
            ("ResourceAttributes", MAP),
        ]);
        assert!(matches!(
            wrong.classify(TableRole::Metrics),
            Err(SchemaProblem::ColumnType { column, .. }) if column == "Value"
        ));
    }
}
