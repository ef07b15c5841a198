//! Printing frames for people (an aligned table) and machines (CSV, JSON, JSON lines, Parquet).

use std::io::Write;

use polars::prelude::*;
use serde_json::{Map, Value};

use crate::window::timefmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FrameFormat {
    Table,
    Csv,
    Json,
    Jsonl,
    Parquet,
}

/// Writes `frame` to `out` in `format`. Timestamps print as RFC 3339 UTC.
pub fn write_frame(
    frame: &mut DataFrame,
    format: FrameFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        FrameFormat::Table => {
            write_table(frame, out)?;
        }
        FrameFormat::Csv => {
            let mut text = with_text_times(frame)?;
            CsvWriter::new(&mut *out)
                .include_header(true)
                .finish(&mut text)?;
        }
        FrameFormat::Json => {
            let rows = json_rows(frame)?;
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
        }
        FrameFormat::Jsonl => {
            for row in json_rows(frame)? {
                serde_json::to_writer(&mut *out, &row)?;
                writeln!(out)?;
            }
        }
        FrameFormat::Parquet => {
            let mut buffer = Vec::new();
            ParquetWriter::new(&mut buffer).finish(frame)?;
            out.write_all(&buffer)?;
        }
    }
    Ok(())
}

fn with_text_times(frame: &DataFrame) -> PolarsResult<DataFrame> {
    let mut columns = Vec::with_capacity(frame.width());
    for column in frame.columns() {
        if matches!(column.dtype(), DataType::Datetime(_, _)) {
            let text: Vec<Option<String>> = datetime_nanos(column)?
                .into_iter()
                .map(|v| v.map(|ns| timefmt::rfc3339(timefmt::from_nanos(ns))))
                .collect();
            columns.push(Column::new(column.name().clone(), text));
        } else {
            columns.push(column.clone());
        }
    }
    DataFrame::new_infer_height(columns)
}

fn datetime_nanos(column: &Column) -> PolarsResult<Vec<Option<i64>>> {
    let series = column
        .as_materialized_series()
        .cast(&DataType::Datetime(TimeUnit::Nanoseconds, None))?;
    let physical = series.to_physical_repr().into_owned();
    Ok(physical.i64()?.iter().collect())
}

/// One JSON object per row, keys in column order.
pub fn json_rows(frame: &DataFrame) -> PolarsResult<Vec<Value>> {
    let text = with_text_times(frame)?;
    let mut rows: Vec<Map<String, Value>> = vec![Map::new(); text.height()];
    for column in text.columns() {
        let name = column.name().to_string();
        for (i, row) in rows.iter_mut().enumerate() {
            let value = match column.get(i)? {
                AnyValue::Null => Value::Null,
                AnyValue::String(s) => Value::String(s.to_string()),
                AnyValue::StringOwned(s) => Value::String(s.to_string()),
                AnyValue::Boolean(b) => Value::Bool(b),
                AnyValue::Float64(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                AnyValue::Float32(f) => serde_json::Number::from_f64(f as f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                AnyValue::UInt64(v) => Value::from(v),
                AnyValue::UInt32(v) => Value::from(v),
                AnyValue::UInt8(v) => Value::from(v),
                AnyValue::Int64(v) => Value::from(v),
                AnyValue::Int32(v) => Value::from(v),
                other => Value::String(other.to_string()),
            };
            row.insert(name.clone(), value);
        }
    }
    Ok(rows.into_iter().map(Value::Object).collect())
}

/// The aligned table for a person at a terminal: sizes in KiB/MiB/GiB (`*_bytes`), ratios
/// as percentages (`*_ratio`), durations as minutes and hours (`*_s`), times as UTC; an errors
/// window also gets the error ratio of each row.
pub fn write_human_table(frame: &DataFrame, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut frame = frame.clone();
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    if names.iter().any(|n| n == "total") && names.iter().any(|n| n == "errors") {
        let ratio = frame
            .clone()
            .lazy()
            .with_column(
                (col("errors").cast(DataType::Float64) / col("total").cast(DataType::Float64))
                    .alias("error_ratio"),
            )
            .collect()?;
        frame = ratio;
    }
    write_cells(&frame, out, |name, value| match value {
        Value::Number(n) => {
            let f = n.as_f64()?;
            if name.ends_with("_bytes") {
                Some(crate::findings::bytes_text(f))
            } else if name.ends_with("_ratio") {
                Some(if f.is_finite() {
                    format!("{:.2}%", 100.0 * f)
                } else {
                    "-".into()
                })
            } else if name.ends_with("_s") {
                Some(crate::findings::duration_text(f))
            } else {
                None
            }
        }
        // RFC 3339 with its T and nanoseconds is for machines; a person reads minutes.
        Value::String(s) if s.len() > 16 && s.ends_with('Z') && s.as_bytes()[10] == b'T' => {
            Some(format!("{} {} UTC", &s[..10], &s[11..19]))
        }
        _ => None,
    })
}

/// A plain aligned table: every row, full strings (Polars' own display elides both).
fn write_table(frame: &DataFrame, out: &mut dyn Write) -> anyhow::Result<()> {
    write_cells(frame, out, |_, _| None)
}

/// The table, with `human` formatting a cell where it returns some text.
fn write_cells(
    frame: &DataFrame,
    out: &mut dyn Write,
    human: impl Fn(&str, &Value) -> Option<String>,
) -> anyhow::Result<()> {
    let rows = json_rows(frame)?;
    let headers: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            headers
                .iter()
                .map(|h| match &row[h] {
                    value if human(h, value).is_some() => human(h, value).unwrap_or_default(),
                    Value::Null => "-".to_string(),
                    Value::String(s) => s.clone(),
                    Value::Number(n) => match n.as_f64() {
                        Some(f) if n.is_f64() => format_float(f),
                        _ => n.to_string(),
                    },
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
                .max(h.len())
        })
        .collect();
    let line = |values: &[String]| {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(&headers))?;
    for row in &cells {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(out, "({} rows)", cells.len())?;
    Ok(())
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else {
        format!("{f:.3}")
    }
}
