//! Window frames: the seam between sources and detectors.
//!
//! Every source (ClickHouse, a Parquet directory) answers the same [`QueryKind`]s with frames of
//! exactly the schema documented here and in the header of `queries/<name>.sql`. [`normalize`]
//! enforces that schema (column set, order, types, row order), so the two sources produce frames
//! that compare equal and detectors never see source-specific quirks.
//!
//! Buckets are aligned to the Unix epoch (`toStartOfInterval`), so the window for `[since, until)`
//! equals the slice of any larger window with `bucket` in that range, provided `since` and `until`
//! fall on bucket boundaries. Backtests rely on this to fetch once and slice per step.

use std::fmt;
use std::time::Duration;

use polars::prelude::*;
use time::OffsetDateTime;

pub mod timefmt;
pub mod vocabulary;

/// One window query. `PodEvents` is fetched alongside `Restarts` and joined into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueryKind {
    Memory,
    Errors,
    Restarts,
    PodEvents,
    Heartbeats,
    /// The errors window computed from spans (`otel_traces`) instead of logs.
    TraceErrors,
}

impl QueryKind {
    pub const ALL: [QueryKind; 6] = [
        QueryKind::Memory,
        QueryKind::Errors,
        QueryKind::Restarts,
        QueryKind::PodEvents,
        QueryKind::Heartbeats,
        QueryKind::TraceErrors,
    ];

    /// The query's name, also its file name in `queries/` without `.sql`.
    pub fn name(self) -> &'static str {
        match self {
            QueryKind::Memory => "memory",
            QueryKind::Errors => "errors",
            QueryKind::Restarts => "restarts",
            QueryKind::PodEvents => "pod_events",
            QueryKind::Heartbeats => "heartbeats",
            QueryKind::TraceErrors => "trace_errors",
        }
    }

    pub fn file_name(self) -> String {
        format!("{}.sql", self.name())
    }

    pub fn from_name(name: &str) -> Option<QueryKind> {
        QueryKind::ALL.into_iter().find(|q| q.name() == name)
    }

    /// The frame's columns in order, with their types. Key columns come first; [`normalize`]
    /// sorts rows by all of them.
    pub fn schema(self) -> &'static [(&'static str, ColumnType)] {
        use ColumnType::*;
        match self {
            QueryKind::Memory => &[
                ("bucket", Time),
                ("cluster", Text),
                ("namespace", Text),
                ("pod", Text),
                ("pod_uid", Text),
                ("container", Text),
                ("node", Text),
                ("workload", Text),
                ("opt_out", Text),
                ("working_set_max_bytes", Float),
                ("working_set_min_bytes", Float),
                ("working_set_avg_bytes", Float),
                ("samples", Count),
                ("limit_bytes", Float),
                ("request_bytes", Float),
                ("restart_count", Float),
            ],
            QueryKind::Errors | QueryKind::TraceErrors => &[
                ("bucket", Time),
                ("cluster", Text),
                ("namespace", Text),
                ("service", Text),
                ("opt_out", Text),
                ("total", Count),
                ("errors", Count),
            ],
            QueryKind::Restarts => &[
                ("bucket", Time),
                ("cluster", Text),
                ("namespace", Text),
                ("pod", Text),
                ("pod_uid", Text),
                ("container", Text),
                ("workload", Text),
                ("opt_out", Text),
                ("restarts", Count),
                ("restart_count", Float),
                ("first_jump", Count),
            ],
            QueryKind::PodEvents => &[
                ("bucket", Time),
                ("cluster", Text),
                ("namespace", Text),
                ("pod", Text),
                ("backoff_events", Count),
                ("oom_events", Count),
                ("unhealthy_events", Count),
                ("killing_events", Count),
                ("failed_events", Count),
            ],
            QueryKind::Heartbeats => &[
                ("bucket", Time),
                ("cluster", Text),
                ("canary", Text),
                ("matcher", Text),
                ("beats", Count),
                ("first_seen_at", Time),
                ("last_seen_at", Time),
            ],
        }
    }

    /// Columns that identify a row (rows are sorted by these).
    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            QueryKind::Memory | QueryKind::Restarts => &[
                "cluster",
                "namespace",
                "pod",
                "container",
                "pod_uid",
                "bucket",
            ],
            QueryKind::Errors | QueryKind::TraceErrors => {
                &["cluster", "namespace", "service", "bucket"]
            }
            QueryKind::PodEvents => &["cluster", "namespace", "pod", "bucket"],
            QueryKind::Heartbeats => &["cluster", "canary", "bucket", "matcher"],
        }
    }
}

impl fmt::Display for QueryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The logical type of a frame column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTC timestamp, nanoseconds.
    Time,
    Text,
    Float,
    Count,
}

impl ColumnType {
    pub fn dtype(self) -> DataType {
        match self {
            // Naive nanoseconds that are UTC by convention: zone labels differ between sources
            // (`UTC`, `Etc/UTC`, none) and would otherwise make equal instants compare unequal.
            ColumnType::Time => DataType::Datetime(TimeUnit::Nanoseconds, None),
            ColumnType::Text => DataType::String,
            ColumnType::Float => DataType::Float64,
            ColumnType::Count => DataType::UInt64,
        }
    }
}

/// The time range and bucket width of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Inclusive start.
    pub since: OffsetDateTime,
    /// Exclusive end (the as-of time).
    pub until: OffsetDateTime,
    pub bucket: Duration,
}

impl WindowSpec {
    /// A window of `lookback` ending at `as_of`, both aligned down to the bucket so every bucket
    /// in it is complete.
    pub fn ending_at(as_of: OffsetDateTime, lookback: Duration, bucket: Duration) -> WindowSpec {
        let until = timefmt::floor_to(as_of, bucket);
        let since = timefmt::floor_to(until - lookback, bucket);
        WindowSpec {
            since,
            until,
            bucket,
        }
    }

    pub fn bucket_seconds(&self) -> u32 {
        self.bucket.as_secs().max(1) as u32
    }
}

/// Why a frame does not have its window's schema.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the {query} query returned no column `{column}` (expected columns: {expected})")]
    MissingColumn {
        query: QueryKind,
        column: String,
        expected: String,
    },
    #[error(
        "the {query} query's column `{column}` has type {found}, which cannot become {expected}"
    )]
    ColumnType {
        query: QueryKind,
        column: String,
        found: String,
        expected: String,
    },
    #[error("polars failed shaping the {query} frame: {source}")]
    Polars {
        query: QueryKind,
        #[source]
        source: PolarsError,
    },
}

/// Brings a source's raw answer to the window schema: exactly the documented columns in order,
/// cast to their types (timestamps to UTC nanoseconds), rows sorted by the key columns.
pub fn normalize(query: QueryKind, frame: DataFrame) -> Result<DataFrame, FrameError> {
    let schema = query.schema();
    let mut exprs = Vec::with_capacity(schema.len());
    for (name, ty) in schema {
        let column = frame.column(name).map_err(|_| FrameError::MissingColumn {
            query,
            column: name.to_string(),
            expected: schema
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let found = column.dtype().clone();
        let compatible = match ty {
            ColumnType::Time => matches!(found, DataType::Datetime(_, _)),
            ColumnType::Text => matches!(found, DataType::String),
            ColumnType::Float | ColumnType::Count => found.is_primitive_numeric(),
        } || found == DataType::Null;
        if !compatible {
            return Err(FrameError::ColumnType {
                query,
                column: name.to_string(),
                found: found.to_string(),
                expected: ty.dtype().to_string(),
            });
        }
        let expr = match ty {
            ColumnType::Time if found != DataType::Null => utc_nanos(col(*name)),
            // Sums and means of the same values differ in the last bits between engines
            // (summation order); to a thousandth of a byte/ratio unit they agree.
            ColumnType::Float => col(*name).cast(ty.dtype()).round(3, RoundMode::HalfToEven),
            _ => col(*name).cast(ty.dtype()),
        };
        exprs.push(expr.alias(*name));
    }
    let shaped = frame
        .lazy()
        .select(exprs)
        .collect()
        .map_err(|source| FrameError::Polars { query, source })?;
    // Sources usually deliver key order already (the SQL orders by the keys): checking is one
    // pass, sorting would copy the whole frame.
    if is_sorted_by_keys(&shaped, query.key_columns()) {
        return Ok(shaped);
    }
    let keys: Vec<PlSmallStr> = query.key_columns().iter().map(|k| (*k).into()).collect();
    shaped
        .sort(
            keys,
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .map_err(|source| FrameError::Polars { query, source })
}

/// Whether rows are in ascending order of `keys` (strings bytewise, times by instant).
fn is_sorted_by_keys(frame: &DataFrame, keys: &[&str]) -> bool {
    enum Key<'a> {
        Text(Vec<Option<&'a str>>),
        Time(Vec<Option<i64>>),
    }
    let mut columns = Vec::with_capacity(keys.len());
    let mut physical = Vec::new();
    for key in keys {
        let Ok(column) = frame.column(key) else {
            return false;
        };
        if column.dtype() == &DataType::String {
            let Ok(ca) = column.str() else { return false };
            columns.push(Key::Text(ca.iter().collect()));
        } else {
            physical.push(
                column
                    .as_materialized_series()
                    .to_physical_repr()
                    .into_owned(),
            );
            let Ok(ca) = physical[physical.len() - 1].i64() else {
                return false;
            };
            columns.push(Key::Time(ca.iter().collect()));
        }
    }
    (1..frame.height()).all(|i| {
        for key in &columns {
            let ordering = match key {
                Key::Text(v) => v[i - 1].cmp(&v[i]),
                Key::Time(v) => v[i - 1].cmp(&v[i]),
            };
            match ordering {
                std::cmp::Ordering::Less => return true,
                std::cmp::Ordering::Greater => return false,
                std::cmp::Ordering::Equal => continue,
            }
        }
        true
    })
}

/// A datetime expression as naive UTC nanoseconds, whatever its unit and zone label.
pub fn utc_nanos(expr: Expr) -> Expr {
    expr.dt()
        .cast_time_unit(TimeUnit::Nanoseconds)
        .to_physical()
        .cast(ColumnType::Time.dtype())
}

/// An empty frame with the query's schema (for a source that has no data for it).
pub fn empty_frame(query: QueryKind) -> DataFrame {
    let columns: Vec<Column> = query
        .schema()
        .iter()
        .map(|(name, ty)| Column::new_empty((*name).into(), &ty.dtype()))
        .collect();
    DataFrame::new_infer_height(columns).expect("schema columns are unique")
}

/// Joins pod events into the restart frame: per row, the event reason counts of its pod in its
/// bucket (0 where none were seen).
pub fn join_pod_events(restarts: DataFrame, events: DataFrame) -> Result<DataFrame, FrameError> {
    let on = [col("bucket"), col("cluster"), col("namespace"), col("pod")];
    restarts
        .lazy()
        .join(
            events.lazy(),
            on.clone(),
            on,
            // Detectors walk each container's rows as one contiguous run: keep the left order.
            JoinArgs {
                maintain_order: MaintainOrderJoin::Left,
                ..JoinArgs::new(JoinType::Left)
            },
        )
        .with_columns(
            vocabulary::POD_EVENT_COUNTS
                .iter()
                .map(|c| col(c.column).fill_null(lit(0u64)))
                .collect::<Vec<_>>(),
        )
        .collect()
        .map_err(|source| FrameError::Polars {
            query: QueryKind::Restarts,
            source,
        })
}

/// The rows of a (larger) frame whose bucket lies in `[since, until)`, as a read of that window
/// alone returns them.
pub fn slice(frame: &DataFrame, query: QueryKind, window: &WindowSpec) -> PolarsResult<DataFrame> {
    let rows = rows_in_window(frame, window)?;
    if query == QueryKind::Restarts {
        return restarts_read_alone(rows);
    }
    Ok(rows)
}

/// A restarts read counts no jump at a container's first sample (it has no sample before it),
/// where a longer read counted the jump from the sample before the window: the first bucket of
/// each container gives back its `first_jump`.
fn restarts_read_alone(rows: DataFrame) -> PolarsResult<DataFrame> {
    let first = col("bucket").eq(col("bucket")
        .min()
        .over([col("pod_uid"), col("container")])?);
    rows.lazy()
        .with_columns([
            when(first.clone())
                .then(col("restarts") - col("first_jump"))
                .otherwise(col("restarts"))
                .alias("restarts"),
            when(first)
                .then(lit(0u64))
                .otherwise(col("first_jump"))
                .alias("first_jump"),
        ])
        .collect()
}

/// The rows of `frame` whose bucket lies in `[since, until)`.
pub fn rows_in_window(frame: &DataFrame, window: &WindowSpec) -> PolarsResult<DataFrame> {
    let since = timefmt::to_nanos(window.since);
    let until = timefmt::to_nanos(window.until);
    let bucket = frame.column("bucket")?.as_materialized_series().clone();
    let ns = bucket.to_physical_repr().into_owned();
    let ns = ns.i64()?;
    let mask: BooleanChunked = ns
        .iter()
        .map(|v| v.map(|t| t >= since && t < until))
        .collect();
    frame.filter(&mask)
}
