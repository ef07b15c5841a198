//! The Parquet source: a directory with the exporter's tables as Parquet (`otel_logs.parquet`,
//! `otel_metrics_gauge.parquet`, or folders of those names holding many files), read lazily by
//! Polars into the *same* window frames the ClickHouse queries return.
//!
//! Each function here mirrors one file in `queries/`; the integration tests that load one
//! dataset into ClickHouse and into Parquet (generated, and hand-made edge cases) hold them to
//! identical frames. The lists both need (event reasons, workload kinds, span kinds) come from
//! `window::vocabulary`, which the SQL receives as parameters; where an aggregate must pick one
//! row (names of a bucket, the latest gauge value), both sides pick the latest by time (gauge
//! values: the greatest at equal times), so row order in the files never matters.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::source::canaries::MatchOn;
use crate::source::names::TelemetryNames;
use crate::source::parameters::error_severity_texts;
use crate::source::SourceError;
use crate::window::vocabulary::{
    event_column, ERROR_STATUS_CODES, POD_EVENT_COUNTS, REQUEST_SPAN_KINDS, WORKLOAD_KINDS,
};
use crate::window::{self, timefmt, utc_nanos, ColumnType, QueryKind, WindowFrame, WindowSpec};

pub struct ParquetSource {
    dir: PathBuf,
    names: TelemetryNames,
}

impl ParquetSource {
    pub fn open(dir: &Path, names: TelemetryNames) -> Result<ParquetSource, SourceError> {
        if !dir.is_dir() {
            return Err(SourceError::Parquet {
                path: dir.display().to_string(),
                message: "not a directory (expected a folder holding otel_logs.parquet, \
                          otel_metrics_gauge.parquet …)"
                    .into(),
            });
        }
        Ok(ParquetSource {
            dir: dir.to_path_buf(),
            names,
        })
    }

    /// `otel_logs.parquet` (a file, or a folder of files), else a folder `otel_logs/`.
    fn table_path(&self, table: &str) -> Option<(PathBuf, bool)> {
        let file = self.dir.join(format!("{table}.parquet"));
        if file.is_file() {
            return Some((file, false));
        }
        if file.is_dir() {
            return Some((file, true));
        }
        let folder = self.dir.join(table);
        folder.is_dir().then_some((folder, true))
    }

    fn scan(&self, table: &str, query: QueryKind) -> Result<LazyFrame, SourceError> {
        let (path, is_dir) = self
            .table_path(table)
            .ok_or_else(|| SourceError::MissingTable {
                query: format!("{} (parquet)", query.file_name()),
                table: format!("{table} (no {table}.parquet in {})", self.dir.display()),
            })?;
        let pattern = if is_dir {
            path.join("**").join("*.parquet")
        } else {
            path.clone()
        };
        let args = ScanArgsParquet {
            glob: is_dir,
            allow_missing_columns: true,
            ..Default::default()
        };
        LazyFrame::scan_parquet(PlRefPath::new(pattern.display().to_string()), args).map_err(|e| {
            SourceError::Parquet {
                path: path.display().to_string(),
                message: e.to_string(),
            }
        })
    }

    fn parquet_error(&self, query: QueryKind) -> impl Fn(PolarsError) -> SourceError + '_ {
        move |e| SourceError::Parquet {
            path: self.dir.display().to_string(),
            message: format!("{}: {e}", query.file_name()),
        }
    }

    /// Fetches one window, normalised to its frame schema.
    pub fn fetch(&self, kind: QueryKind, window: &WindowSpec) -> Result<WindowFrame, SourceError> {
        let raw = match kind {
            QueryKind::Memory => self.memory(window),
            QueryKind::Restarts => self.restarts(window),
            QueryKind::Errors => self.errors(window),
            QueryKind::PodEvents => self.pod_events(window),
            QueryKind::Heartbeats => self.heartbeats(window),
            QueryKind::TraceErrors => self.trace_errors(window),
        }?;
        window::normalize(kind, raw).map_err(|e| SourceError::Frame {
            query: format!("{} (parquet)", kind.file_name()),
            source: e,
        })
    }

    /// The type of the table's time column: a timestamp, or integer seconds (G2 metrics
    /// exported from ClickHouse carry `DateTime` that way).
    fn time_type(
        &self,
        lf: &mut LazyFrame,
        name: &str,
        query: QueryKind,
    ) -> Result<DataType, SourceError> {
        let schema = lf.collect_schema().map_err(self.parquet_error(query))?;
        let dtype = schema
            .get(name)
            .cloned()
            .ok_or_else(|| SourceError::MissingColumn {
                query: format!("{} (parquet)", query.file_name()),
                table: self.dir.display().to_string(),
                column: name.to_string(),
            })?;
        if matches!(dtype, DataType::Datetime(_, _)) || dtype.is_integer() {
            return Ok(dtype);
        }
        Err(SourceError::ColumnType {
            query: format!("{} (parquet)", query.file_name()),
            table: self.dir.display().to_string(),
            column: name.to_string(),
            found: dtype.to_string(),
            expected: "a timestamp".into(),
        })
    }

    /// Rows of `table` in the window, with `time` (naive UTC ns) and `bucket` columns added.
    fn windowed(
        &self,
        table: &str,
        time_name: &str,
        query: QueryKind,
        window: &WindowSpec,
    ) -> Result<LazyFrame, SourceError> {
        let mut lf = self.scan(table, query)?;
        let dtype = self.time_type(&mut lf, time_name, query)?;
        Ok(lf
            .filter(in_window(time_name, &dtype, window))
            .with_column(naive_utc_nanos(time_name, &dtype).alias("time"))
            .with_column(
                col("time")
                    .dt()
                    .truncate(lit(format!("{}s", window.bucket_seconds())))
                    .alias("bucket"),
            ))
    }

    fn memory(&self, window: &WindowSpec) -> Result<DataFrame, SourceError> {
        let n = &self.names;
        let q = QueryKind::Memory;
        let gauge = self.windowed(&n.gauge_table, "TimeUnix", q, window)?;
        let usage = gauge
            .clone()
            .filter(col("MetricName").eq(lit(n.working_set_metric.as_str())))
            .with_columns([
                map_get("ResourceAttributes", &n.cluster_attribute).alias("cluster"),
                map_get("ResourceAttributes", "k8s.namespace.name").alias("namespace"),
                map_get("ResourceAttributes", "k8s.pod.name").alias("pod"),
                map_get("ResourceAttributes", "k8s.pod.uid").alias("pod_uid"),
                map_get("ResourceAttributes", "k8s.container.name").alias("container"),
                map_get("ResourceAttributes", "k8s.node.name").alias("node"),
                map_get("ResourceAttributes", &n.opt_out_attribute).alias("opt_out"),
            ])
            // memory.sql's grouping: the identity keys only; the names are the latest sample's.
            .group_by([col("pod_uid"), col("container"), col("bucket")])
            .agg(
                latest_by_time(&["cluster", "namespace", "pod", "node"])
                    .into_iter()
                    .chain([
                        col("opt_out").max(),
                        col("Value").max().alias("working_set_max_bytes"),
                        col("Value").min().alias("working_set_min_bytes"),
                        col("Value").mean().alias("working_set_avg_bytes"),
                        len().alias("samples"),
                    ])
                    .collect::<Vec<_>>(),
            );
        // argMaxIf(Value, (TimeUnix, Value), MetricName = metric): the latest value of `metric`,
        // the greatest at equal times (null when the bucket has none).
        let latest = |metric: &str| {
            let of_metric = col("MetricName").eq(lit(metric));
            let latest_time = col("time").filter(of_metric.clone()).max();
            col("Value")
                .filter(of_metric.and(col("time").eq(latest_time)))
                .max()
        };
        let spec = gauge
            .filter(
                col("MetricName")
                    .eq(lit(n.limit_metric.as_str()))
                    .or(col("MetricName").eq(lit(n.request_metric.as_str())))
                    .or(col("MetricName").eq(lit(n.restarts_metric.as_str()))),
            )
            .with_columns([
                map_get("ResourceAttributes", "k8s.pod.uid").alias("pod_uid"),
                map_get("ResourceAttributes", "k8s.container.name").alias("container"),
                workload_expr().alias("workload"),
            ])
            .group_by([col("pod_uid"), col("container"), col("bucket")])
            .agg(
                [
                    null_if_zero(latest(&n.limit_metric)).alias("limit_bytes"),
                    null_if_zero(latest(&n.request_metric)).alias("request_bytes"),
                    latest(&n.restarts_metric).alias("restart_count"),
                ]
                .into_iter()
                .chain(latest_by_time(&["workload"]))
                .collect::<Vec<_>>(),
            );
        let keys = [col("pod_uid"), col("container"), col("bucket")];
        usage
            .join(spec, keys.clone(), keys, JoinArgs::new(JoinType::Left))
            .with_column(col("workload").fill_null(lit("")))
            .collect_streaming()
            .map_err(self.parquet_error(q))
    }

    fn restarts(&self, window: &WindowSpec) -> Result<DataFrame, SourceError> {
        let n = &self.names;
        let q = QueryKind::Restarts;
        let gauge = self.windowed(&n.gauge_table, "TimeUnix", q, window)?;
        let partition = [col("pod_uid"), col("container")];
        let previous = col("Value")
            .shift(lit(1))
            .over(partition)
            .map_err(self.parquet_error(q))?;
        let jump = col("Value") - previous;
        gauge
            .filter(col("MetricName").eq(lit(n.restarts_metric.as_str())))
            .with_columns([
                map_get("ResourceAttributes", &n.cluster_attribute).alias("cluster"),
                map_get("ResourceAttributes", "k8s.namespace.name").alias("namespace"),
                map_get("ResourceAttributes", "k8s.pod.name").alias("pod"),
                map_get("ResourceAttributes", "k8s.pod.uid").alias("pod_uid"),
                map_get("ResourceAttributes", "k8s.container.name").alias("container"),
                workload_expr().alias("workload"),
                map_get("ResourceAttributes", &n.opt_out_attribute).alias("opt_out"),
            ])
            // restarts.sql orders each container's samples by time, then value.
            .sort(
                ["pod_uid", "container", "time", "Value"],
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .with_column(
                when(jump.clone().gt(lit(0.0)))
                    .then(jump)
                    .otherwise(lit(0.0))
                    .alias("jump"),
            )
            .group_by([col("pod_uid"), col("container"), col("bucket")])
            .agg(
                latest_by_time(&["cluster", "namespace", "pod", "workload"])
                    .into_iter()
                    .chain([
                        col("opt_out").max(),
                        col("jump").sum().cast(DataType::UInt64).alias("restarts"),
                        col("Value").max().alias("restart_count"),
                        first_jump().alias("first_jump"),
                    ])
                    .collect::<Vec<_>>(),
            )
            .collect_streaming()
            .map_err(self.parquet_error(q))
    }

    fn errors(&self, window: &WindowSpec) -> Result<DataFrame, SourceError> {
        let n = &self.names;
        let q = QueryKind::Errors;
        let texts = Series::new("texts".into(), error_severity_texts(n));
        let severity = col("SeverityNumber").cast(DataType::Int32);
        let is_error = severity
            .clone()
            .gt_eq(lit(n.error_severity_min as i32))
            .or(severity.eq(lit(0)).and(
                col("SeverityText")
                    .str()
                    .to_uppercase()
                    .is_in(lit(texts).implode(false), false),
            ));
        let requests = self
            .windowed(&n.logs_table, "Timestamp", q, window)?
            .filter(
                col("ServiceName")
                    .neq(lit(""))
                    .and(map_get("LogAttributes", &n.canary_attribute).eq(lit(""))),
            );
        self.request_counts(requests, is_error, q)
    }

    fn trace_errors(&self, window: &WindowSpec) -> Result<DataFrame, SourceError> {
        let n = &self.names;
        let q = QueryKind::TraceErrors;
        let set = |values: &[&str]| {
            lit(Series::new(
                "set".into(),
                values.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            ))
            .implode(false)
        };
        let spans = self
            .windowed(&n.traces_table, "Timestamp", q, window)?
            .filter(
                col("SpanKind")
                    .cast(DataType::String)
                    .is_in(set(&REQUEST_SPAN_KINDS), false)
                    .and(col("ServiceName").neq(lit(""))),
            );
        let is_error = col("StatusCode")
            .cast(DataType::String)
            .is_in(set(&ERROR_STATUS_CODES), false);
        self.request_counts(spans, is_error, q)
    }

    /// Requests and errors per service and bucket (the errors window's shape), from request
    /// records (log lines or spans) and the expression that marks an error.
    fn request_counts(
        &self,
        requests: LazyFrame,
        is_error: Expr,
        q: QueryKind,
    ) -> Result<DataFrame, SourceError> {
        let n = &self.names;
        requests
            .with_columns([
                map_get("ResourceAttributes", &n.cluster_attribute).alias("cluster"),
                map_get("ResourceAttributes", "k8s.namespace.name").alias("namespace"),
                col("ServiceName").cast(DataType::String).alias("service"),
                is_error.alias("is_error"),
                map_get("ResourceAttributes", &n.opt_out_attribute).alias("opt_out"),
            ])
            .group_by([
                col("bucket"),
                col("cluster"),
                col("namespace"),
                col("service"),
            ])
            .agg([
                col("opt_out").max(),
                len().alias("total"),
                col("is_error").cast(DataType::UInt64).sum().alias("errors"),
            ])
            .collect_streaming()
            .map_err(self.parquet_error(q))
    }

    /// heartbeats.sql's twin: the first matcher a record satisfies names its canary and
    /// labels its row.
    fn heartbeats(&self, window: &WindowSpec) -> Result<DataFrame, SourceError> {
        let n = &self.names;
        let q = QueryKind::Heartbeats;
        let mut canary = lit(NULL).cast(DataType::String);
        let mut matcher = lit(NULL).cast(DataType::String);
        for m in n.canary_matchers().iter().rev() {
            let looked_at = match m.on {
                MatchOn::LogAttribute => map_get("LogAttributes", &m.key),
                MatchOn::ResourceAttribute => map_get("ResourceAttributes", &m.key),
                MatchOn::Service => col("ServiceName").cast(DataType::String),
                MatchOn::Body => col("Body").cast(DataType::String).fill_null(lit("")),
            };
            let matcher_of_row = m.clone();
            let hit = looked_at.clone().map(
                move |c| {
                    let hits: BooleanChunked = c
                        .str()?
                        .iter()
                        .map(|v| Some(matcher_of_row.matches(v.unwrap_or(""))))
                        .collect();
                    Ok(hits.with_name(c.name().clone()).into_column())
                },
                |_, field| Ok(Field::new(field.name().clone(), DataType::Boolean)),
            );
            let service = col("ServiceName").cast(DataType::String).fill_null(lit(""));
            let name = match m.on {
                MatchOn::LogAttribute | MatchOn::ResourceAttribute => looked_at,
                MatchOn::Service | MatchOn::Body => when(service.clone().neq(lit("")))
                    .then(service)
                    .otherwise(lit(m.label())),
            };
            canary = when(hit.clone()).then(name).otherwise(canary);
            matcher = when(hit).then(lit(m.label())).otherwise(matcher);
        }
        self.windowed(&n.logs_table, "Timestamp", q, window)?
            .with_columns([canary.alias("canary"), matcher.alias("matcher")])
            .filter(col("matcher").is_not_null())
            .with_column(map_get("ResourceAttributes", &n.cluster_attribute).alias("cluster"))
            .group_by([col("bucket"), col("cluster"), col("canary"), col("matcher")])
            .agg([
                len().alias("beats"),
                col("time").min().alias("first_seen_at"),
                col("time").max().alias("last_seen_at"),
            ])
            .collect_streaming()
            .map_err(self.parquet_error(q))
    }

    /// Kubernetes events are few, and two of their three shapes carry JSON, so the candidate
    /// rows are filtered lazily and their JSON parsed with serde (as ClickHouse's JSONExtract
    /// does in the SQL twin).
    fn pod_events(&self, window: &WindowSpec) -> Result<DataFrame, SourceError> {
        let n = &self.names;
        let q = QueryKind::PodEvents;
        let candidates = self
            .windowed(&n.logs_table, "Timestamp", q, window)?
            .with_columns([
                map_get("LogAttributes", "k8s.event.reason").alias("receiver_reason"),
                map_get("LogAttributes", "k8s.resource.name").alias("resource_name"),
                map_get("LogAttributes", "object").alias("object_attribute"),
            ])
            .filter(
                col("receiver_reason")
                    .neq(lit(""))
                    .or(col("resource_name").eq(lit("events")))
                    .or(col("object_attribute").neq(lit(""))),
            )
            .select([
                col("bucket"),
                map_get("ResourceAttributes", &n.cluster_attribute).alias("cluster"),
                col("receiver_reason"),
                map_get("LogAttributes", "k8s.namespace.name").alias("receiver_namespace"),
                map_get("ResourceAttributes", "k8s.object.kind").alias("receiver_kind"),
                map_get("ResourceAttributes", "k8s.object.name").alias("receiver_name"),
                col("object_attribute"),
                col("Body"),
            ])
            .collect_streaming()
            .map_err(self.parquet_error(q))?;

        let text = |name: &str| -> Result<Vec<String>, SourceError> {
            let c = candidates.column(name).map_err(self.parquet_error(q))?;
            let c = c.str().map_err(self.parquet_error(q))?;
            Ok(c.iter().map(|v| v.unwrap_or("").to_string()).collect())
        };
        let (clusters, reasons, namespaces, kinds, names, objects, bodies) = (
            text("cluster")?,
            text("receiver_reason")?,
            text("receiver_namespace")?,
            text("receiver_kind")?,
            text("receiver_name")?,
            text("object_attribute")?,
            text("Body")?,
        );
        let buckets = candidates
            .column("bucket")
            .map_err(self.parquet_error(q))?
            .as_materialized_series()
            .to_physical_repr()
            .into_owned();
        let buckets = buckets.i64().map_err(self.parquet_error(q))?;

        let mut out_bucket = Vec::new();
        let mut out_cluster = Vec::new();
        let mut out_namespace = Vec::new();
        let mut out_pod = Vec::new();
        let mut out_column = Vec::new();
        for i in 0..candidates.height() {
            let event = if !reasons[i].is_empty() {
                Some((
                    reasons[i].clone(),
                    namespaces[i].clone(),
                    kinds[i].clone(),
                    names[i].clone(),
                ))
            } else {
                let object = if !objects[i].is_empty() {
                    serde_json::from_str::<serde_json::Value>(&objects[i]).ok()
                } else {
                    serde_json::from_str::<serde_json::Value>(&bodies[i])
                        .ok()
                        .and_then(|b| b.get("object").cloned())
                };
                object.map(|o| event_of_object(&o))
            };
            let Some((reason, namespace, kind, name)) = event else {
                continue;
            };
            let Some(column) = event_column(&reason) else {
                continue;
            };
            if kind != "Pod" {
                continue;
            }
            out_bucket.push(buckets.get(i).unwrap_or_default());
            out_cluster.push(clusters[i].clone());
            out_namespace.push(namespace);
            out_pod.push(name);
            out_column.push(column);
        }
        let events = DataFrame::new_infer_height(vec![
            Column::new("bucket".into(), out_bucket),
            Column::new("cluster".into(), out_cluster),
            Column::new("namespace".into(), out_namespace),
            Column::new("pod".into(), out_pod),
            Column::new("column".into(), out_column),
        ])
        .map_err(self.parquet_error(q))?;
        let counts: Vec<Expr> = POD_EVENT_COUNTS
            .iter()
            .map(|count| {
                col("column")
                    .eq(lit(count.column))
                    .cast(DataType::UInt64)
                    .sum()
                    .alias(count.column)
            })
            .collect();
        events
            .lazy()
            .with_column(col("bucket").cast(ColumnType::Time.dtype()))
            .group_by([col("bucket"), col("cluster"), col("namespace"), col("pod")])
            .agg(counts)
            .collect_streaming()
            .map_err(self.parquet_error(q))
    }
}

/// (reason, namespace, kind, name) of a core/v1 (`involvedObject`) or events.k8s.io/v1
/// (`regarding`) Event object.
fn event_of_object(object: &serde_json::Value) -> (String, String, String, String) {
    let s = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).unwrap_or("").to_string();
    let target = object
        .get("involvedObject")
        .or_else(|| object.get("regarding"));
    (
        s(object.get("reason")),
        s(target.and_then(|t| t.get("namespace"))),
        s(target.and_then(|t| t.get("kind"))),
        s(target.and_then(|t| t.get("name"))),
    )
}

/// Collecting on Polars' streaming engine: a window's rows pass through in morsels, so peak
/// memory follows the aggregated frame rather than every decoded row with its attribute maps (a
/// 5 h backtest chunk of the demo at 1.5× scale: 818 → 602 MiB, and faster).
trait CollectStreaming {
    fn collect_streaming(self) -> PolarsResult<DataFrame>;
}

impl CollectStreaming for LazyFrame {
    fn collect_streaming(self) -> PolarsResult<DataFrame> {
        // Several frames come only from a plan with several sinks, which these never are.
        self.collect_with_engine(Engine::Streaming)
            .map(|result| result.unwrap_single())
    }
}

/// A time column (of a type [`ParquetSource::time_type`] accepted) as naive UTC nanoseconds.
fn naive_utc_nanos(name: &str, dtype: &DataType) -> Expr {
    match dtype {
        DataType::Datetime(_, _) => utc_nanos(col(name)),
        _ => {
            (col(name).cast(DataType::Int64) * lit(1_000_000_000i64)).cast(ColumnType::Time.dtype())
        }
    }
}

/// `since <= t < until` on the file's own time column, compared in its own type: Polars pushes
/// that into the scan, skipping row groups whose statistics lie outside the window and decoding
/// the attribute maps of the window's rows only (a predicate on the derived naive-UTC `time`
/// would be evaluated after decoding every row of the file).
fn in_window(name: &str, dtype: &DataType, window: &WindowSpec) -> Expr {
    // t·k >= since ⇔ t >= ⌈since/k⌉ and t·k < until ⇔ t < ⌈until/k⌉, for a column counting
    // k-nanosecond units: exact whatever the unit.
    let ceil = |nanos: i64, k: i64| -(-nanos).div_euclid(k);
    let at = |nanos: i64| match dtype {
        DataType::Datetime(unit, zone) => {
            let k = match unit {
                TimeUnit::Nanoseconds => 1,
                TimeUnit::Microseconds => 1_000,
                TimeUnit::Milliseconds => 1_000_000,
            };
            lit(ceil(nanos, k)).cast(DataType::Datetime(*unit, zone.clone()))
        }
        integer_seconds => lit(ceil(nanos, 1_000_000_000)).cast(integer_seconds.clone()),
    };
    let (since, until) = (
        at(timefmt::to_nanos(window.since)),
        at(timefmt::to_nanos(window.until)),
    );
    col(name).gt_eq(since).and(col(name).lt(until))
}

/// `map[key]` for a Parquet map column (a list of `{key, value}` structs); "" when absent, as
/// ClickHouse returns for a missing map key.
pub fn map_get(map: &str, key: &str) -> Expr {
    col(map)
        .list()
        .eval(
            element()
                .filter(element().struct_().field_by_name("key").eq(lit(key)))
                .struct_()
                .field_by_name("value"),
        )
        .list()
        .first()
        .fill_null(lit(""))
}

/// restarts.sql's `argMin(jump, (time, value, -jump))`: the jump at the bucket's earliest sample
/// by (time, value), the greatest among exact duplicates.
fn first_jump() -> Expr {
    let first_time = col("time").min();
    let at_first_time = col("time").eq(first_time);
    let first_value = col("Value").filter(at_first_time.clone()).min();
    col("jump")
        .filter(at_first_time.and(col("Value").eq(first_value)))
        .max()
        .cast(DataType::UInt64)
}

fn null_if_zero(value: Expr) -> Expr {
    when(value.clone().eq(lit(0.0)))
        .then(lit(NULL).cast(DataType::Float64))
        .otherwise(value)
}

/// `Kind/name` of the owning workload, from the k8s_cluster resource attributes.
fn workload_expr() -> Expr {
    let mut expr = lit("");
    for workload in WORKLOAD_KINDS.iter().rev() {
        let name = map_get("ResourceAttributes", workload.name_attribute);
        expr = when(name.clone().neq(lit("")))
            .then(lit(format!("{}/", workload.kind)) + name)
            .otherwise(expr);
    }
    expr
}

/// Each of `names` as in the group's latest row: ClickHouse's `argMax(name, TimeUnix)`, so
/// both sources pick the same row however the rows are ordered in the files. At equal times
/// this keeps the greatest value, where ClickHouse may keep either (see memory.sql).
fn latest_by_time(names: &[&str]) -> Vec<Expr> {
    // The greatest (time, name) pair is the greatest string "time digits ‖ name" when every
    // time has the same number of digits (ns + 10^18: 19 digits from 1970 to 2229). A plain
    // max streams; a filter inside the aggregation would hold every row of the window.
    const DIGITS: i64 = 19;
    let time_digits =
        (col("time").to_physical() + lit(1_000_000_000_000_000_000i64)).cast(DataType::String);
    names
        .iter()
        .map(|name| {
            (time_digits.clone() + col(*name))
                .max()
                .str()
                .slice(lit(DIGITS), lit(NULL))
                .alias(*name)
        })
        .collect()
}
