//! `forewarn explain`: the data and the reasoning behind one finding — the window's series for
//! the finding's entity drawn in the terminal with its reference lines (limit and floor, the
//! error baseline, the expected beat period), the detector's evidence in numbers, and the
//! ClickHouse query with its bound parameters that reproduces the window.

pub mod plot;

use polars::prelude::DataFrame;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::detect::frame::Columns;
use crate::detect::DetectError;
use crate::findings::{bytes_text, duration_text, Finding, Signal};
use crate::output::selectors::select_rows;
use crate::source::names::TelemetryNames;
use crate::source::parameters::{window_parameters, ParameterValue};
use crate::window::{timefmt, QueryKind, WindowSpec};

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub finding: Finding,
    pub window: WindowText,
    /// What the series is (`working_set_max_bytes`, `error_ratio`, `restarts`, `beats`).
    pub series_name: String,
    pub series: Vec<SeriesPoint>,
    /// Reference lines drawn across the chart.
    pub lines: Vec<Reference>,
    /// The evidence in numbers: key, value as stored, and as a person reads it.
    pub reasoning: Vec<Reasoning>,
    pub query: Reproduce,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowText {
    #[serde(with = "crate::findings::rfc3339_z")]
    pub since: OffsetDateTime,
    #[serde(with = "crate::findings::rfc3339_z")]
    pub until: OffsetDateTime,
    pub bucket_s: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeriesPoint {
    #[serde(with = "crate::findings::rfc3339_z")]
    pub at: OffsetDateTime,
    pub value: f64,
    /// Pod events in this bucket (restarts), when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    pub label: String,
    pub value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reasoning {
    pub key: String,
    pub value: Value,
    pub reads: String,
}

/// The query that reproduces the window: the file, its SQL, and every parameter bound.
#[derive(Debug, Clone, Serialize)]
pub struct Reproduce {
    pub file: String,
    pub sql: String,
    pub parameters: Vec<(String, String, String)>,
}

impl Reproduce {
    /// A `clickhouse client` command line with the parameters as `--param_NAME=VALUE`.
    pub fn client_command(&self, file: &str) -> String {
        let mut out = String::from("clickhouse client");
        for (name, _, value) in &self.parameters {
            out.push_str(&format!(" \\\n  --param_{name}={}", shell_quote(value)));
        }
        out.push_str(&format!(" \\\n  --queries-file {file}"));
        out
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn parameter_text(value: &ParameterValue) -> String {
    match value {
        ParameterValue::Text(t) => t.clone(),
        ParameterValue::Number(n) => n.to_string(),
        ParameterValue::Texts(values) => {
            let quoted: Vec<String> = values
                .iter()
                .map(|v| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
                .collect();
            format!("[{}]", quoted.join(","))
        }
    }
}

/// How an evidence value reads, from its key's unit suffix.
pub fn reads(key: &str, value: &Value) -> String {
    let Some(v) = value.as_f64() else {
        return match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    };
    if key.ends_with("_bytes_per_s") {
        format!("{}/h", bytes_text(v * 3600.0))
    } else if key.ends_with("_bytes") {
        bytes_text(v)
    } else if key == "p_value" {
        format!("{v:.2e}")
    } else if key.ends_with("_ratio") {
        format!("{:.3} %", v * 100.0)
    } else if key.ends_with("_s") {
        duration_text(v)
    } else if value.is_u64() || value.is_i64() {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// The explanation of `finding` from its rule's window `frame` (the whole window; the
/// finding's entity is selected here).
pub fn explain(
    finding: Finding,
    frame: DataFrame,
    window: &WindowSpec,
    query: QueryKind,
    sql: String,
    names: &TelemetryNames,
) -> Result<Explanation, ExplainError> {
    let columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    // The entity's keys the window has a column for (the query selectors' set).
    let selectors: Vec<(&'static str, String)> = crate::output::selectors::SELECTORS
        .iter()
        .filter(|c| columns.iter().any(|have| have == *c))
        .filter_map(|c| finding.entity.get(*c).map(|v| (*c, v.clone())))
        .collect();
    let rows = select_rows(frame, query.name(), &selectors)
        .map_err(|e| ExplainError::Window(e.to_string()))?;
    let c = Columns::new(&rows, "explain", query);
    let t = c.seconds("bucket")?;
    let at = |i: usize| timefmt::from_nanos((t[i] * 1e9) as i64);
    let number = |key: &str| finding.evidence.get(key).and_then(Value::as_f64);
    let mut lines = Vec::new();
    let (series_name, mut series): (&str, Vec<SeriesPoint>) = match finding.signal {
        Signal::MemoryPressure => {
            let ws = c.float("working_set_max_bytes")?;
            if let Some(limit) = number("limit_bytes") {
                lines.push(Reference {
                    label: "limit".into(),
                    value: limit,
                });
            }
            if let Some(floor) = number("working_set_floor_bytes") {
                lines.push(Reference {
                    label: "floor".into(),
                    value: floor,
                });
            }
            let points = (0..rows.height())
                .filter_map(|i| {
                    Some(SeriesPoint {
                        at: at(i),
                        value: ws[i]?,
                        events: None,
                    })
                })
                .collect();
            ("working_set_max_bytes", points)
        }
        Signal::ErrorRate => {
            let (total, errors) = (c.count("total")?, c.count("errors")?);
            if let Some(baseline) = number("baseline_error_ratio") {
                lines.push(Reference {
                    label: "baseline".into(),
                    value: baseline,
                });
            }
            let points = (0..rows.height())
                .filter(|i| total[*i] > 0)
                .map(|i| SeriesPoint {
                    at: at(i),
                    value: errors[i] as f64 / total[i] as f64,
                    events: None,
                })
                .collect();
            ("error_ratio", points)
        }
        Signal::RestartFrequency => {
            let restarts = c.count("restarts")?;
            let event_columns: Vec<(&str, Vec<u64>)> = [
                ("OOMKilled", "oom_events"),
                ("BackOff", "backoff_events"),
                ("Unhealthy", "unhealthy_events"),
                ("Failed", "failed_events"),
            ]
            .iter()
            .filter_map(|(label, column)| Some((*label, c.count(column).ok()?)))
            .collect();
            let points = (0..rows.height())
                .map(|i| {
                    let events: Vec<String> = event_columns
                        .iter()
                        .filter(|(_, counts)| counts[i] > 0)
                        .map(|(label, counts)| format!("{label} ×{}", counts[i]))
                        .collect();
                    SeriesPoint {
                        at: at(i),
                        value: restarts[i] as f64,
                        events: (!events.is_empty()).then(|| events.join(", ")),
                    }
                })
                .collect();
            ("restarts", points)
        }
        Signal::HeartbeatMissing => {
            let beats = c.count("beats")?;
            // The beats a bucket should hold at the canary's own period.
            if let Some(period) = number("period_s").filter(|p| *p > 0.0) {
                lines.push(Reference {
                    label: format!("expected (one beat every {})", duration_text(period)),
                    value: window.bucket.as_secs_f64() / period,
                });
            }
            let points = (0..rows.height())
                .map(|i| SeriesPoint {
                    at: at(i),
                    value: beats[i] as f64,
                    events: None,
                })
                .collect();
            ("beats", points)
        }
    };
    series.sort_by_key(|p| p.at);
    let reasoning = finding
        .evidence
        .iter()
        .map(|(key, value)| Reasoning {
            key: key.clone(),
            value: value.clone(),
            reads: reads(key, value),
        })
        .collect();
    let parameters = window_parameters(names, window)
        .into_iter()
        .map(|p| {
            (
                p.name.to_string(),
                p.sql_type.to_string(),
                parameter_text(&p.value),
            )
        })
        .collect();
    Ok(Explanation {
        finding,
        window: WindowText {
            since: window.since,
            until: window.until,
            bucket_s: window.bucket_seconds(),
        },
        series_name: series_name.to_string(),
        series,
        lines,
        reasoning,
        query: Reproduce {
            file: format!("queries/{}", query.file_name()),
            sql,
            parameters,
        },
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("selecting the finding's entity in its window: {0}")]
    Window(String),
    #[error(transparent)]
    Column(#[from] DetectError),
}

/// The explanation for a person: chart, numbers, query.
pub fn render_text(e: &Explanation) -> String {
    let f = &e.finding;
    let mut out = String::new();
    out.push_str(&format!("{} [{}] {}\n", f.severity, f.rule, f.summary));
    let entity: Vec<String> = f.entity.iter().map(|(k, v)| format!("{k}={v}")).collect();
    out.push_str(&format!(
        "id {} · {} · evaluated at {}\n",
        f.id,
        entity.join(" "),
        timefmt::rfc3339(f.evaluated_at)
    ));
    out.push_str(&format!(
        "window {} → {} ({} s buckets)\n\n",
        timefmt::rfc3339(e.window.since),
        timefmt::rfc3339(e.window.until),
        e.window.bucket_s
    ));
    let (since, until) = (e.window.since, e.window.until);
    let offset = |t: OffsetDateTime| (t - since).as_seconds_f64();
    let points: Vec<(f64, f64)> = e.series.iter().map(|p| (offset(p.at), p.value)).collect();
    let marks: Vec<f64> = e
        .series
        .iter()
        .filter(|p| p.events.is_some())
        .map(|p| offset(p.at))
        .collect();
    let glyphs = ['━', '┄', '╌'];
    let lines: Vec<plot::Line> = e
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| plot::Line {
            value: l.value,
            glyph: glyphs[i % glyphs.len()],
            label: l.label.clone(),
        })
        .collect();
    let series_name = e.series_name.clone();
    let format = move |v: f64| match series_name.as_str() {
        "working_set_max_bytes" => bytes_text(v),
        "error_ratio" => format!("{:.2} %", v * 100.0),
        _ => format!("{v:.1}"),
    };
    out.push_str(&format!("{} for this entity:\n", e.series_name));
    out.push_str(&plot::render(&plot::TerminalChart {
        points: &points,
        span_s: (until - since).as_seconds_f64(),
        lines: &lines,
        marks: &marks,
        format: &format,
        start_label: crate::report::short_time(since)[11..].to_string(),
        end_label: format!("{} UTC", &crate::report::short_time(until)[11..]),
    }));
    if !marks.is_empty() {
        out.push_str("  ▲ pod events: ");
        let events: Vec<String> = e
            .series
            .iter()
            .filter_map(|p| {
                p.events
                    .as_ref()
                    .map(|ev| format!("{} {ev}", &crate::report::short_time(p.at)[11..]))
            })
            .collect();
        out.push_str(&events.join("; "));
        out.push('\n');
    }
    if e.series.is_empty() {
        out.push_str("  (no rows for this entity in the window)\n");
    }
    out.push_str("\nThe detector's reasoning:\n");
    let width = e.reasoning.iter().map(|r| r.key.len()).max().unwrap_or(0);
    for r in &e.reasoning {
        let raw = match &r.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if raw == r.reads {
            out.push_str(&format!("  {:width$}  {}\n", r.key, r.reads));
        } else {
            out.push_str(&format!("  {:width$}  {}  ({raw})\n", r.key, r.reads));
        }
    }
    out.push_str(&format!(
        "\nReproduce the window ({}; the parameters are bound by ClickHouse):\n",
        e.query.file
    ));
    out.push_str(&e.query.client_command(&e.query.file));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_reads_in_its_units() {
        assert_eq!(reads("limit_bytes", &Value::from(1073741824.0)), "1.00 GiB");
        assert_eq!(
            reads("time_to_exhaustion_s", &Value::from(1200.0)),
            "20 min"
        );
        assert_eq!(reads("recent_error_ratio", &Value::from(0.05)), "5.000 %");
        assert_eq!(reads("p_value", &Value::from(0.00012)), "1.20e-4");
        assert_eq!(
            reads("slope_bytes_per_s", &Value::from(1024.0)),
            "3.52 MiB/h"
        );
    }
}
