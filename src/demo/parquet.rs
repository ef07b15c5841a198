//! Writes a generated [`Dataset`] as a Parquet directory in the exporter's table layout
//! (`otel_metrics_gauge.parquet`, `otel_logs.parquet`) plus `labels.json`.
//!
//! Map columns are written as Parquet lists of `{key, value}` structs, the shape Polars reads
//! from a ClickHouse `Map` export, so the Parquet source reads both the same way.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::demo::model::{Attributes, Dataset};
use crate::window::ColumnType;

#[derive(Debug, thiserror::Error)]
pub enum DemoWriteError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the {table} table: {source}")]
    Polars {
        table: String,
        #[source]
        source: PolarsError,
    },
}

pub const GAUGE_FILE: &str = "otel_metrics_gauge.parquet";
pub const LOGS_FILE: &str = "otel_logs.parquet";
pub const LABELS_FILE: &str = "labels.json";

/// Rows per Parquet row group: a demo day at 1.5× scale is ~40 gauge row groups of ~35 minutes
/// each, so a backtest chunk decodes its own span (Polars' default, 262,144 rows, holds hours
/// of every series and each read decodes them whole).
const ROW_GROUP_ROWS: usize = 65_536;

/// Writes the dataset into `dir` (created if missing).
pub fn write_dataset(dataset: &Dataset, dir: &Path) -> Result<(), DemoWriteError> {
    std::fs::create_dir_all(dir).map_err(|source| DemoWriteError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let polars_err = |table: &str| {
        let table = table.to_string();
        move |source| DemoWriteError::Polars {
            table: table.clone(),
            source,
        }
    };
    let mut gauge = gauge_frame(dataset).map_err(polars_err("otel_metrics_gauge"))?;
    write_parquet(&mut gauge, &dir.join(GAUGE_FILE))?;
    let mut logs = logs_frame(dataset).map_err(polars_err("otel_logs"))?;
    write_parquet(&mut logs, &dir.join(LOGS_FILE))?;
    let labels_path = dir.join(LABELS_FILE);
    let labels = serde_json::to_string_pretty(&dataset.labels).expect("labels serialise");
    std::fs::write(&labels_path, labels + "\n").map_err(|source| DemoWriteError::Io {
        path: labels_path.display().to_string(),
        source,
    })
}

fn write_parquet(frame: &mut DataFrame, path: &Path) -> Result<(), DemoWriteError> {
    let file = File::create(path).map_err(|source| DemoWriteError::Io {
        path: path.display().to_string(),
        source,
    })?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(ROW_GROUP_ROWS))
        .finish(frame)
        .map_err(|source| DemoWriteError::Polars {
            table: path.display().to_string(),
            source,
        })?;
    Ok(())
}

/// One map per owner row: a `list[struct{key, value}]` column in owner order.
fn map_column(name: &str, maps: &[&Attributes]) -> PolarsResult<Column> {
    let mut owner = Vec::new();
    let mut keys: Vec<Option<&str>> = Vec::new();
    let mut values: Vec<Option<&str>> = Vec::new();
    for (i, attributes) in maps.iter().enumerate() {
        if attributes.is_empty() {
            // A placeholder keeps the owner in the group-by; it is filtered out below, leaving
            // an empty map rather than a missing row.
            owner.push(i as u32);
            keys.push(None);
            values.push(None);
        }
        for (k, v) in attributes.iter() {
            owner.push(i as u32);
            keys.push(Some(k));
            values.push(Some(v));
        }
    }
    let flat = DataFrame::new_infer_height(vec![
        Column::new("owner".into(), owner),
        Column::new("key".into(), keys),
        Column::new("value".into(), values),
    ])?;
    let grouped = flat
        .lazy()
        .group_by_stable([col("owner")])
        .agg([as_struct(vec![col("key"), col("value")]).alias(name)])
        .select([col(name)
            .list()
            .eval(element().filter(element().struct_().field_by_name("key").is_not_null()))])
        .collect()?;
    Ok(grouped.column(name)?.clone())
}

fn time_column(name: &str, nanos: Vec<i64>) -> PolarsResult<Column> {
    Column::new(name.into(), nanos).cast(&ColumnType::Time.dtype())
}

/// One row per resource: its index, attribute map and service name (joined onto rows).
fn resources_frame(dataset: &Dataset) -> PolarsResult<DataFrame> {
    let resource_maps: Vec<&Attributes> = dataset.resources.iter().map(|r| &r.attributes).collect();
    DataFrame::new_infer_height(vec![
        Column::new(
            "resource".into(),
            (0..dataset.resources.len() as u32).collect::<Vec<_>>(),
        ),
        map_column("ResourceAttributes", &resource_maps)?,
        Column::new(
            "ServiceName".into(),
            dataset
                .resources
                .iter()
                .map(|r| r.service_name.as_str())
                .collect::<Vec<_>>(),
        ),
    ])
}

fn gauge_frame(dataset: &Dataset) -> PolarsResult<DataFrame> {
    let series = &dataset.gauge_series;
    let resources = resources_frame(dataset)?;
    let series_frame = DataFrame::new_infer_height(vec![
        Column::new(
            "series".into(),
            (0..series.len() as u32).collect::<Vec<_>>(),
        ),
        Column::new(
            "resource".into(),
            series.iter().map(|s| s.resource).collect::<Vec<_>>(),
        ),
        Column::new(
            "MetricName".into(),
            series
                .iter()
                .map(|s| s.metric_name.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "MetricDescription".into(),
            series
                .iter()
                .map(|s| s.description.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "MetricUnit".into(),
            series.iter().map(|s| s.unit.as_str()).collect::<Vec<_>>(),
        ),
    ])?;
    let points = &dataset.gauge_points;
    let times: Vec<i64> = points.iter().map(|p| p.time_unix_ns).collect();
    let points_frame = DataFrame::new_infer_height(vec![
        Column::new(
            "series".into(),
            points.iter().map(|p| p.series).collect::<Vec<_>>(),
        ),
        time_column("TimeUnix", times.clone())?,
        time_column("StartTimeUnix", times)?,
        Column::new(
            "Value".into(),
            points.iter().map(|p| p.value).collect::<Vec<_>>(),
        ),
    ])?;
    points_frame
        .lazy()
        .join(
            series_frame.lazy(),
            [col("series")],
            [col("series")],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            resources.lazy(),
            [col("resource")],
            [col("resource")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("ResourceAttributes"),
            col("ServiceName"),
            col("MetricName"),
            col("MetricDescription"),
            col("MetricUnit"),
            col("StartTimeUnix"),
            col("TimeUnix"),
            col("Value"),
            lit(0u32).alias("Flags"),
        ])
        // Time order, so each row group covers a short span and a window's read skips the
        // rest by the row groups' statistics.
        .sort(
            ["TimeUnix"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
}

fn logs_frame(dataset: &Dataset) -> PolarsResult<DataFrame> {
    let logs = &dataset.logs;
    let resources = resources_frame(dataset)?;
    let log_maps: Vec<&Attributes> = logs.iter().map(|l| &l.attributes).collect();
    let records = DataFrame::new_infer_height(vec![
        Column::new(
            "resource".into(),
            logs.iter().map(|l| l.resource).collect::<Vec<_>>(),
        ),
        time_column(
            "Timestamp",
            logs.iter().map(|l| l.timestamp_ns).collect::<Vec<_>>(),
        )?,
        Column::new(
            "SeverityText".into(),
            logs.iter()
                .map(|l| l.severity_text.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "SeverityNumber".into(),
            logs.iter().map(|l| l.severity_number).collect::<Vec<_>>(),
        ),
        Column::new(
            "Body".into(),
            logs.iter().map(|l| l.body.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "ScopeName".into(),
            logs.iter()
                .map(|l| l.scope_name.as_str())
                .collect::<Vec<_>>(),
        ),
        map_column("LogAttributes", &log_maps)?,
    ])?;
    records
        .lazy()
        .join(
            resources.lazy(),
            [col("resource")],
            [col("resource")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("Timestamp"),
            lit("").alias("TraceId"),
            lit("").alias("SpanId"),
            lit(0u8).alias("TraceFlags"),
            col("SeverityText"),
            col("SeverityNumber"),
            col("ServiceName"),
            col("Body"),
            col("ResourceAttributes"),
            col("ScopeName"),
            col("LogAttributes"),
        ])
        .sort(
            ["Timestamp"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
}
