//! Loads a demo Parquet directory into ClickHouse through the `clickhouse` crate: each table's
//! Parquet file is streamed as the body of an `INSERT … SELECT … FROM input(…) FORMAT Parquet`,
//! which turns the Parquet `{key, value}` lists into the exporter's `Map` columns server-side.

use std::path::Path;

use bytes::Bytes;

use crate::demo::parquet::{GAUGE_FILE, LOGS_FILE};
use crate::schema::quote_identifier;
use crate::source::{ClickHouseConfig, SourceError, TelemetryNames};

const MAP: &str = "Array(Tuple(key String, value String))";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("loading {file} into {table}: {source}")]
    Insert {
        file: String,
        table: String,
        #[source]
        source: SourceError,
    },
}

/// Inserts the demo tables found in `dir`; returns (table, bytes sent) per file loaded.
pub async fn load_dataset(
    dir: &Path,
    config: &ClickHouseConfig,
    names: &TelemetryNames,
) -> Result<Vec<(String, u64)>, LoadError> {
    let client = config.writable_client();
    let plans = [
        (
            GAUGE_FILE,
            names.gauge_table.as_str(),
            "ResourceAttributes, ServiceName, MetricName, MetricDescription, MetricUnit, StartTimeUnix, TimeUnix, Value, Flags",
            format!(
                "CAST(ResourceAttributes, 'Map(String, String)'), ServiceName, MetricName, MetricDescription, MetricUnit, StartTimeUnix, TimeUnix, Value, Flags \
                 FROM input('ResourceAttributes {MAP}, ServiceName String, MetricName String, MetricDescription String, MetricUnit String, StartTimeUnix DateTime64(9), TimeUnix DateTime64(9), Value Float64, Flags UInt32')"
            ),
        ),
        (
            LOGS_FILE,
            names.logs_table.as_str(),
            "Timestamp, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes, ScopeName, LogAttributes",
            format!(
                "Timestamp, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, ServiceName, Body, CAST(ResourceAttributes, 'Map(String, String)'), ScopeName, CAST(LogAttributes, 'Map(String, String)') \
                 FROM input('Timestamp DateTime64(9), TraceId String, SpanId String, TraceFlags UInt8, SeverityText String, SeverityNumber UInt8, ServiceName String, Body String, ResourceAttributes {MAP}, ScopeName String, LogAttributes {MAP}')"
            ),
        ),
    ];
    let mut loaded = Vec::new();
    for (file, table, columns, select) in plans {
        let path = dir.join(file);
        if !path.exists() {
            continue;
        }
        let data = std::fs::read(&path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let size = data.len() as u64;
        let sql = format!(
            "INSERT INTO {} ({columns}) SELECT {select} FORMAT Parquet",
            quote_identifier(table)
        );
        let insert_error = |e| LoadError::Insert {
            file: path.display().to_string(),
            table: table.to_string(),
            source: config.describe_error(e, &format!("INSERT INTO {table}")),
        };
        let mut insert = client.insert_formatted_with(sql);
        insert.send(Bytes::from(data)).await.map_err(insert_error)?;
        insert.end().await.map_err(insert_error)?;
        loaded.push((table.to_string(), size));
    }
    Ok(loaded)
}
