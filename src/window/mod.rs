//! Window frames: the seam between sources and detectors.
//!
//! Every source (ClickHouse, a Parquet directory) answers the same [`QueryKind`]s with frames of
//! exactly the schema documented here and in the header of `queries/<name>.sql`. [`normalize`]
//! enforces that schema (column set, order, types, row order), so the two sources produce frames
//! that compare equal and detectors never see source-specific quirks.
//!
//! A window travels as a [`WindowFrame`]. The memory window is series-keyed: at one-minute
//! buckets it has ~180 rows per container, so its rows carry a `series` id and the names of
//! each series (cluster, namespace, pod, pod UID, container, node, workload, opt-out label) ride
//! once in the frame's `names`. Detectors look names up only for the series they report on;
//! [`WindowFrame::expanded`] gives the one-frame form of the schema for people (`query`,
//! `explain`, the report).
//!
//! Buckets are aligned to the Unix epoch (`toStartOfInterval`), so the window for `[since, until)`
//! equals the slice of any larger window with `bucket` in that range, provided `since` and `until`
//! fall on bucket boundaries. Backtests rely on this to fetch once and slice per step.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use polars::prelude::*;
use time::OffsetDateTime;

mod keys;
pub mod splice;
pub mod timefmt;
pub mod vocabulary;

pub(crate) use keys::{flagged as flagged_keys, values as plain_values};

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

    /// Whether the window is series-keyed: its rows carry a `series` id instead of the names
    /// of their series, which ride once per series in the frame's `names` (see [`WindowFrame`]).
    /// The memory window is: at one-minute buckets it has ~180 rows per container, and seven
    /// strings on each were most of its memory.
    pub fn series_keyed(self) -> bool {
        self == QueryKind::Memory
    }
}

/// The columns of a series-keyed window's rows, in order: the series id, then the schema's
/// non-name columns.
pub const SERIES_ROW_COLUMNS: [(&str, ColumnType); 9] = [
    ("series", ColumnType::Series),
    ("bucket", ColumnType::Time),
    ("working_set_max_bytes", ColumnType::Float),
    ("working_set_min_bytes", ColumnType::Float),
    ("working_set_avg_bytes", ColumnType::Float),
    ("samples", ColumnType::Count),
    ("limit_bytes", ColumnType::Float),
    ("request_bytes", ColumnType::Float),
    ("restart_count", ColumnType::Float),
];

/// The columns of a series-keyed window's names, in order. Row `i` names series `i`; series are
/// numbered in the order of [`SERIES_ORDER`], so rows sorted by (series, bucket) are in the
/// order the wide frame's key columns give.
pub const SERIES_NAME_COLUMNS: [&str; 9] = [
    "series",
    "cluster",
    "namespace",
    "pod",
    "pod_uid",
    "container",
    "node",
    "workload",
    "opt_out",
];

/// How a series-keyed window's series are numbered (the wide frame's key order).
pub const SERIES_ORDER: [&str; 5] = ["cluster", "namespace", "pod", "container", "pod_uid"];

/// What identifies a series (a container incarnation): Kubernetes never changes a pod UID's
/// namespace, name or node, so every other name is one value per series.
pub const SERIES_IDENTITY: [&str; 2] = ["pod_uid", "container"];

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
    /// A series id: the row of the window's names that names the row's series.
    Series,
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
            ColumnType::Series => DataType::UInt32,
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

/// A window as sources deliver it and detectors read it: its rows and, for a series-keyed
/// query ([`QueryKind::series_keyed`]), the names of its series once each (row `i` of `names`
/// names series `i`). Detectors read names only for the series they report on; anything that
/// shows a window to a person reads [`WindowFrame::expanded`], the one-frame form of the schema.
///
/// It dereferences to its rows: what holds for every window (height, `bucket`, the value
/// columns) is read off the rows alike for both forms.
#[derive(Debug, Clone)]
pub struct WindowFrame {
    pub rows: DataFrame,
    pub names: Option<DataFrame>,
}

impl Deref for WindowFrame {
    type Target = DataFrame;

    fn deref(&self) -> &DataFrame {
        &self.rows
    }
}

impl From<DataFrame> for WindowFrame {
    fn from(rows: DataFrame) -> WindowFrame {
        WindowFrame { rows, names: None }
    }
}

impl fmt::Display for WindowFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rows)?;
        if let Some(names) = &self.names {
            write!(f, "\nseries names:\n{names}")?;
        }
        Ok(())
    }
}

impl WindowFrame {
    /// Whether both hold the same rows and names (nulls equal).
    pub fn equals_missing(&self, other: &WindowFrame) -> bool {
        self.rows.equals_missing(&other.rows)
            && match (&self.names, &other.names) {
                (None, None) => true,
                (Some(a), Some(b)) => a.equals_missing(b),
                _ => false,
            }
    }

    /// The window in one frame of its query's [`QueryKind::schema`]: each row with its series'
    /// names. (A series-keyed window's `workload` and `opt_out` are its series', on every row.)
    pub fn expanded(&self, query: QueryKind) -> PolarsResult<DataFrame> {
        let Some(names) = &self.names else {
            return Ok(self.rows.clone());
        };
        let columns: Vec<Expr> = query.schema().iter().map(|(n, _)| col(*n)).collect();
        self.rows
            .clone()
            .lazy()
            .join(
                names.clone().lazy(),
                [col("series")],
                [col("series")],
                JoinArgs {
                    maintain_order: MaintainOrderJoin::Left,
                    ..JoinArgs::new(JoinType::Left)
                },
            )
            .select(columns)
            .collect()
    }
}

/// Brings a source's raw answer to the window schema: exactly the documented columns in order,
/// cast to their types (timestamps to UTC nanoseconds), rows sorted by the key columns. The
/// answer has the wide [`QueryKind::schema`]; a series-keyed query's names are then taken out of
/// its rows into the frame's names.
pub fn normalize(query: QueryKind, frame: DataFrame) -> Result<WindowFrame, FrameError> {
    let wide = shape(query, frame)?;
    if !query.series_keyed() {
        return Ok(wide.into());
    }
    let polars = |source| FrameError::Polars { query, source };
    let identity = SERIES_IDENTITY.map(col);
    // The names of a series are one value each (see SERIES_IDENTITY); should a source ever
    // disagree between buckets, the greatest is kept, which is what every source (and a
    // rollup's names, merged by max) agrees on. Each series gets a key here and is numbered
    // by `normalize_keyed`, as a rollup's answer is.
    let names = wide
        .clone()
        .lazy()
        .group_by(identity.clone())
        .agg(
            SERIES_NAME_COLUMNS[1..]
                .iter()
                .filter(|c| !SERIES_IDENTITY.contains(c))
                .map(|c| col(*c).max())
                .collect::<Vec<_>>(),
        )
        .with_row_index("series_key", None)
        .collect()
        .map_err(polars)?;
    let mut row_columns = vec![col("series_key")];
    row_columns.extend(SERIES_ROW_COLUMNS[1..].iter().map(|(c, _)| col(*c)));
    let rows = wide
        .lazy()
        .join(
            names
                .clone()
                .lazy()
                .select([col("pod_uid"), col("container"), col("series_key")]),
            identity.clone(),
            identity,
            JoinArgs {
                maintain_order: MaintainOrderJoin::Left,
                ..JoinArgs::new(JoinType::Inner)
            },
        )
        .select(row_columns)
        .collect()
        .map_err(polars)?;
    normalize_keyed(query, rows, names)
}

/// A series-keyed window from a source that keeps series apart already (the rollups): `rows`
/// has a `series_key` (any integer the source gives one series) and the row columns but
/// `series`; `names` has `series_key` and the name columns but `series`. Series are renumbered
/// in name order, and names of series without rows in the window are left out, so the frame
/// equals [`normalize`]'s of the same window read from raw samples.
pub fn normalize_keyed(
    query: QueryKind,
    rows: DataFrame,
    names: DataFrame,
) -> Result<WindowFrame, FrameError> {
    normalize_keyed_carrying(query, rows, names, None, false).map(|(frame, _)| frame)
}

/// [`normalize_keyed`], carrying one more column of `rows` through it: the carried column comes
/// back beside the frame, row for row with its rows (what a splice needs of a read that the
/// window itself does not keep; see [`splice`]). `typed`: the row columns have their window
/// types already (a splice's rows: both sides were typed), so they are not typed again.
pub fn normalize_keyed_carrying(
    query: QueryKind,
    mut rows: DataFrame,
    names: DataFrame,
    carry: Option<&str>,
    typed: bool,
) -> Result<(WindowFrame, Option<Column>), FrameError> {
    let already_typed = typed;
    let polars = |source| FrameError::Polars { query, source };
    let name_columns: Vec<(&str, ColumnType)> = SERIES_NAME_COLUMNS[1..]
        .iter()
        .map(|c| (*c, ColumnType::Text))
        .collect();
    let mut name_exprs = column_exprs(query, &names, &name_columns)?;
    name_exprs.insert(0, col("series_key").cast(DataType::UInt64));
    let key_column = rows
        .column("series_key")
        .map_err(|_| missing(query, "series_key", &SERIES_ROW_COLUMNS))?
        .cast(&DataType::UInt64)
        .map_err(polars)?;
    let keys = key_column.u64().map_err(polars)?;
    let present = DataFrame::new_infer_height(vec![UInt64Chunked::from_vec(
        "series_key".into(),
        keys::distinct(keys),
    )
    .into_column()])
    .map_err(polars)?
    .lazy();
    let names = names.lazy().select(name_exprs).join(
        present,
        [col("series_key")],
        [col("series_key")],
        JoinArgs::new(JoinType::Inner),
    );
    let names = numbered(names).collect().map_err(polars)?;
    let number = keys::KeyTable::new(
        names
            .column("series_key")
            .and_then(|c| c.u64().cloned())
            .map_err(polars)?
            .into_no_null_iter()
            .zip(
                names
                    .column("series")
                    .and_then(|c| c.u32().cloned())
                    .map_err(polars)?
                    .into_no_null_iter(),
            ),
    );
    let series: UInt32Chunked = match keys::values(keys) {
        Some(plain) => plain.map(|k| number.get(k)).collect(),
        None => keys.iter().map(|k| k.and_then(|k| number.get(k))).collect(),
    };
    drop(key_column);
    let _ = rows.drop_in_place("series_key");
    // Column by column, each dropped from the answer once typed: a 1.8 M-row window is never
    // held twice (the answer is most of a run's memory).
    let mut typed = vec![series.with_name("series".into()).into_column()];
    for (name, ty) in &SERIES_ROW_COLUMNS[1..] {
        let expr = column_exprs(query, &rows, &[(name, *ty)])?.remove(0);
        let column = rows.drop_in_place(name).map_err(polars)?;
        // Rounding a column of whole bytes changes nothing: keep it instead of a copy.
        if already_typed || (*ty == ColumnType::Float && rounds_to_itself(&column)) {
            typed.push(column);
            continue;
        }
        let one = DataFrame::new_infer_height(vec![column])
            .and_then(|f| f.lazy().select([expr]).collect())
            .map_err(polars)?;
        typed.extend(one.into_columns());
    }
    if let Some(carry) = carry {
        let carried = rows
            .drop_in_place(carry)
            .map_err(|_| missing(query, carry, &SERIES_ROW_COLUMNS))?;
        typed.push(carried);
    }
    drop(rows);
    let rows = DataFrame::new_infer_height(typed).map_err(polars)?;
    // Rows of a series without names (none, unless the names table lost one) cannot be named.
    let rows = if rows.column("series").map_err(polars)?.null_count() > 0 {
        let known = rows.column("series").map_err(polars)?.is_not_null();
        rows.filter(&known).map_err(polars)?
    } else {
        rows
    };
    // A source that sends rows in the window's order (the rollup: by rank) is not sorted again.
    let rows = if is_sorted_by_series(&rows) {
        rows
    } else {
        sorted_by_series(rows).map_err(polars)?
    };
    let mut rows = rows;
    let carried = carry
        .map(|c| rows.drop_in_place(c))
        .transpose()
        .map_err(polars)?;
    let names = names.select(SERIES_NAME_COLUMNS).map_err(polars)?;
    Ok((
        WindowFrame {
            rows,
            names: Some(names),
        },
        carried,
    ))
}

/// `column` is missing from `query`'s answer, which should have had `expected`.
fn missing(query: QueryKind, column: &str, expected: &[(&str, ColumnType)]) -> FrameError {
    FrameError::MissingColumn {
        query,
        column: column.to_string(),
        expected: expected
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Whether a Float64 column is unchanged by the three-decimal rounding of [`column_exprs`]:
/// whole numbers (bytes, counters) well inside f64's exact range.
fn rounds_to_itself(column: &Column) -> bool {
    let Ok(values) = column.f64() else {
        return false;
    };
    let whole = |v: f64| v.fract() == 0.0 && v.abs() < 1e12;
    match keys::values(values) {
        Some(mut plain) => plain.all(whole),
        None => values.iter().flatten().all(whole),
    }
}

/// A time column's instants as nanoseconds (its physical values; the buffers are shared).
fn bucket_nanos(column: &Column) -> PolarsResult<Int64Chunked> {
    Ok(column
        .as_materialized_series()
        .to_physical_repr()
        .i64()?
        .clone())
}

/// A row's place in (series, bucket) order as one integer: buckets are whole seconds of the
/// epoch, which fit 32 bits until 2106.
fn series_bucket_key(series: u64, bucket_ns: i64) -> u64 {
    (series << 32) | (bucket_ns.div_euclid(1_000_000_000) as u64 & 0xffff_ffff)
}

fn is_sorted_by_series(rows: &DataFrame) -> bool {
    let (Ok(series), Ok(bucket)) = (rows.column("series"), rows.column("bucket")) else {
        return false;
    };
    let (Ok(series), Ok(bucket)) = (series.u32(), bucket_nanos(bucket)) else {
        return false;
    };
    // Rows with a null series or bucket are not in order.
    let (Some(series), Some(bucket)) = (keys::values(series), keys::values(&bucket)) else {
        return false;
    };
    let mut previous: Option<(u32, i64)> = None;
    for pair in series.zip(bucket) {
        if previous.is_some_and(|p| p >= pair) {
            return false;
        }
        previous = Some(pair);
    }
    true
}

/// Rows in (series, bucket) order, moved one column at a time (a sort of the whole frame
/// would hold it twice).
fn sorted_by_series(mut rows: DataFrame) -> PolarsResult<DataFrame> {
    let series = rows.column("series")?.u32()?.clone();
    let bucket = bucket_nanos(rows.column("bucket")?)?;
    let key: UInt64Chunked = UInt64Chunked::from_iter_values(
        "key".into(),
        series
            .into_no_null_iter()
            .zip(bucket.iter())
            .map(|(s, t)| series_bucket_key(s as u64, t.unwrap_or(0))),
    );
    let order = key.arg_sort(SortOptions::default());
    drop(key);
    let names: Vec<PlSmallStr> = rows.get_column_names_owned();
    let mut moved = Vec::with_capacity(names.len());
    for name in &names {
        let column = rows.drop_in_place(name)?;
        moved.push(column.take(&order)?);
    }
    DataFrame::new_infer_height(moved)
}

/// Names in [`SERIES_ORDER`] (nulls as ""), each given its row number as its `series`.
fn numbered(names: LazyFrame) -> LazyFrame {
    names
        .with_columns(
            SERIES_NAME_COLUMNS[1..]
                .iter()
                .map(|c| col(*c).fill_null(lit("")))
                .collect::<Vec<_>>(),
        )
        .sort(SERIES_ORDER, SortMultipleOptions::default())
        .with_row_index("series", None)
        .with_column(col("series").cast(ColumnType::Series.dtype()))
}

/// The casting expressions of `columns`, checked against what `frame` has.
fn column_exprs(
    query: QueryKind,
    frame: &DataFrame,
    columns: &[(&str, ColumnType)],
) -> Result<Vec<Expr>, FrameError> {
    let mut exprs = Vec::with_capacity(columns.len());
    for (name, ty) in columns {
        let column = frame
            .column(name)
            .map_err(|_| missing(query, name, columns))?;
        let found = column.dtype().clone();
        let compatible = match ty {
            ColumnType::Time => matches!(found, DataType::Datetime(_, _)),
            ColumnType::Text => matches!(found, DataType::String),
            ColumnType::Float | ColumnType::Count => found.is_primitive_numeric(),
            ColumnType::Series => found.is_integer(),
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
    Ok(exprs)
}

/// The wide form of a source's answer: the schema's columns, typed, in key order.
fn shape(query: QueryKind, frame: DataFrame) -> Result<DataFrame, FrameError> {
    let exprs = column_exprs(query, &frame, query.schema())?;
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
pub fn empty_frame(query: QueryKind) -> WindowFrame {
    let empty = |columns: &[(&str, ColumnType)]| {
        let columns: Vec<Column> = columns
            .iter()
            .map(|(name, ty)| Column::new_empty((*name).into(), &ty.dtype()))
            .collect();
        DataFrame::new_infer_height(columns).expect("schema columns are unique")
    };
    if !query.series_keyed() {
        return empty(query.schema()).into();
    }
    let names: Vec<(&str, ColumnType)> = SERIES_NAME_COLUMNS
        .iter()
        .map(|c| match *c {
            "series" => (*c, ColumnType::Series),
            _ => (*c, ColumnType::Text),
        })
        .collect();
    WindowFrame {
        rows: empty(&SERIES_ROW_COLUMNS),
        names: Some(empty(&names)),
    }
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
/// alone returns them. A series-keyed frame keeps its names whole: series without rows in the
/// slice are never looked up.
pub fn slice(
    frame: &WindowFrame,
    query: QueryKind,
    window: &WindowSpec,
) -> PolarsResult<WindowFrame> {
    let rows = rows_in_window(&frame.rows, window)?;
    let rows = if query == QueryKind::Restarts {
        restarts_read_alone(rows)?
    } else {
        rows
    };
    Ok(WindowFrame {
        rows,
        names: frame.names.clone(),
    })
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
    let ns = bucket_nanos(frame.column("bucket")?)?;
    let mask: BooleanChunked = ns
        .iter()
        .map(|v| v.map(|t| t >= since && t < until))
        .collect();
    frame.filter(&mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    fn times(minutes: &[i64]) -> Column {
        Column::new(
            "bucket".into(),
            minutes.iter().map(|m| m * MIN).collect::<Vec<_>>(),
        )
        .cast(&ColumnType::Time.dtype())
        .unwrap()
    }

    fn texts(name: &str, values: &[&str]) -> Column {
        Column::new(name.into(), values.to_vec())
    }

    fn floats(name: &str, values: &[f64]) -> Column {
        Column::new(name.into(), values.to_vec())
    }

    /// Two containers over three minutes, as a raw memory query answers: `web` (pod uid-w)
    /// moved node between its buckets and names its workload on one; `api` sorts first.
    fn wide() -> DataFrame {
        let columns = [
            times(&[0, 1, 2, 0, 1, 2]),
            texts("cluster", &["c"; 6]),
            texts("namespace", &["shop"; 6]),
            texts(
                "pod",
                &["web-1", "web-1", "web-1", "api-1", "api-1", "api-1"],
            ),
            texts(
                "pod_uid",
                &["uid-w", "uid-w", "uid-w", "uid-a", "uid-a", "uid-a"],
            ),
            texts("container", &["app"; 6]),
            texts("node", &["n1", "n2", "n2", "n1", "n1", "n1"]),
            texts("workload", &["", "Deployment/web", "", "", "", ""]),
            texts("opt_out", &["", "", "", "", "true", ""]),
        ]
        .into_iter()
        .chain(values())
        .collect::<Vec<_>>();
        DataFrame::new_infer_height(columns).unwrap()
    }

    /// The six rows' values (web's three minutes, then api's), in the schema's order.
    fn values() -> Vec<Column> {
        vec![
            floats(
                "working_set_max_bytes",
                &[10.0, 11.0, 12.0, 20.0, 21.0, 22.0],
            ),
            floats(
                "working_set_min_bytes",
                &[9.0, 10.0, 11.0, 19.0, 20.0, 21.0],
            ),
            floats(
                "working_set_avg_bytes",
                &[9.5, 10.5, 11.5, 19.5, 20.5, 21.5],
            ),
            Column::new("samples".into(), vec![4u64; 6]),
            floats("limit_bytes", &[100.0; 6]),
            floats("request_bytes", &[50.0; 6]),
            floats("restart_count", &[0.0; 6]),
        ]
    }

    fn column_text(frame: &DataFrame, name: &str) -> Vec<String> {
        frame
            .column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn a_memory_window_carries_each_series_names_once() {
        let frame = normalize(QueryKind::Memory, wide()).unwrap();
        let names = frame.names.as_ref().expect("memory is series-keyed");
        assert_eq!(names.height(), 2, "one row per series");
        assert_eq!(
            column_text(names, "pod"),
            ["api-1", "web-1"],
            "numbered in name order"
        );
        assert_eq!(
            column_text(names, "node"),
            ["n1", "n2"],
            "the greatest of two"
        );
        assert_eq!(column_text(names, "workload"), ["", "Deployment/web"]);
        assert_eq!(column_text(names, "opt_out"), ["true", ""]);
        let row_columns: Vec<&str> = frame
            .get_column_names()
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            row_columns,
            SERIES_ROW_COLUMNS.map(|(c, _)| c),
            "no names on rows"
        );
        let series: Vec<u32> = frame
            .column("series")
            .unwrap()
            .u32()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(series, [0, 0, 0, 1, 1, 1], "rows in (series, bucket) order");

        // The one-frame form has the schema, each row named by its series.
        let expanded = frame.expanded(QueryKind::Memory).unwrap();
        let columns: Vec<&str> = expanded
            .get_column_names()
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            columns,
            QueryKind::Memory
                .schema()
                .iter()
                .map(|(c, _)| *c)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            column_text(&expanded, "pod"),
            ["api-1", "api-1", "api-1", "web-1", "web-1", "web-1"]
        );
        assert_eq!(
            column_text(&expanded, "workload")[3..],
            ["Deployment/web"; 3]
        );
    }

    #[test]
    fn a_keyed_read_numbers_its_series_as_a_raw_read_does() {
        let raw = normalize(QueryKind::Memory, wide()).unwrap();
        // The rollup's form: rows keyed by any integer per series (web first here), and names
        // of a series with no rows in the window (left out).
        let rows = DataFrame::new_infer_height(
            [
                Column::new("series_key".into(), vec![7u64, 7, 7, 3, 3, 3]),
                times(&[0, 1, 2, 0, 1, 2]),
            ]
            .into_iter()
            .chain(values())
            .collect(),
        )
        .unwrap();
        let names = DataFrame::new_infer_height(vec![
            Column::new("series_key".into(), vec![7u64, 3, 5]),
            texts("cluster", &["c"; 3]),
            texts("namespace", &["shop"; 3]),
            texts("pod", &["web-1", "api-1", "aaa-gone"]),
            texts("pod_uid", &["uid-w", "uid-a", "uid-g"]),
            texts("container", &["app"; 3]),
            texts("node", &["n2", "n1", "n1"]),
            texts("workload", &["Deployment/web", "", ""]),
            texts("opt_out", &["", "true", ""]),
        ])
        .unwrap();
        let keyed = normalize_keyed(QueryKind::Memory, rows, names).unwrap();
        assert!(keyed.equals_missing(&raw), "keyed:\n{keyed}\nraw:\n{raw}");
        // Control: the comparison sees names, not only rows.
        let mut renamed = raw.clone();
        renamed.names = Some(
            raw.names
                .clone()
                .unwrap()
                .lazy()
                .with_column(lit("n9").alias("node"))
                .collect()
                .unwrap(),
        );
        assert!(!keyed.equals_missing(&renamed));
    }
}
