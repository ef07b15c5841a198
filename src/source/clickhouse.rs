//! The ClickHouse source: the official `clickhouse` crate over HTTP.
//!
//! Each window is one SQL file with typed server-side parameters (`{since:DateTime64(9)}`, table
//! names as `Identifier`s; the full set in `source::parameters`, bound to every query) — values
//! are never spliced into SQL. The aggregation runs inside
//! ClickHouse; the aggregated window comes back as `ArrowStream` and goes straight into Polars.
//! The read path is `readonly=2` (no writes, no DDL; settings still allowed) with
//! `max_execution_time` and `max_result_rows`, so forewarn cannot write to or overload the
//! telemetry store.

use std::fmt;
use std::time::{Duration, Instant};

use clickhouse::Client;
use polars::io::SerReader;
use polars::prelude::{DataFrame, IpcStreamReader};

use crate::rollup::Rollups;
use crate::source::introspect::{Generation, SchemaProblem, TableColumns, TableRole};
use crate::source::names::TelemetryNames;
use crate::source::parameters::{self, Parameter, ParameterValue};
use crate::source::queries::QuerySet;
use crate::source::SourceError;
use crate::window::{self, QueryKind, WindowFrame, WindowSpec};

/// How to reach ClickHouse. `Debug` never prints the password.
#[derive(Clone)]
pub struct ClickHouseConfig {
    pub url: String,
    pub user: String,
    pub password: Option<String>,
    pub database: Option<String>,
    pub query_timeout: Duration,
    pub max_result_rows: u64,
}

impl fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &redact_url(&self.url))
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("query_timeout", &self.query_timeout)
            .field("max_result_rows", &self.max_result_rows)
            .finish()
    }
}

impl ClickHouseConfig {
    pub fn new(url: impl Into<String>) -> ClickHouseConfig {
        ClickHouseConfig {
            url: url.into(),
            user: "default".into(),
            password: None,
            database: None,
            query_timeout: Duration::from_secs(60),
            max_result_rows: 5_000_000,
        }
    }

    /// A client for writes (schema, demo load): same connection, no read-only guard.
    pub fn writable_client(&self) -> Client {
        let mut client = Client::default()
            .with_url(self.url.clone())
            .with_user(self.user.clone());
        if let Some(password) = &self.password {
            client = client.with_password(password.clone());
        }
        if let Some(database) = &self.database {
            client = client.with_database(database.clone());
        }
        client
    }

    pub(crate) fn read_client(&self) -> Client {
        self.writable_client()
            .with_setting("readonly", "2")
            .with_setting(
                "max_execution_time",
                self.query_timeout.as_secs().max(1).to_string(),
            )
            .with_setting("max_result_rows", self.max_result_rows.to_string())
            .with_setting("result_overflow_mode", "throw")
    }

    /// Turns a crate error into one that names what failed, with every secret removed.
    pub fn describe_error(&self, error: clickhouse::error::Error, context: &str) -> SourceError {
        classify_error(self, error, context)
    }
}

/// Table generations found by introspection, or why a table cannot be read.
#[derive(Debug, Clone)]
struct TableStatus {
    table: String,
    state: Result<Generation, TableIssue>,
}

#[derive(Debug, Clone)]
enum TableIssue {
    Missing,
    Schema(SchemaProblem),
}

pub struct ClickHouseSource {
    config: ClickHouseConfig,
    client: Client,
    names: TelemetryNames,
    queries: QuerySet,
    database: String,
    logs: TableStatus,
    metrics: TableStatus,
    traces: TableStatus,
    rollups: Option<Rollups>,
}

/// What ClickHouse reported about one query (from `X-ClickHouse-Summary`).
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryStats {
    pub server_elapsed: Option<Duration>,
    pub read_rows: Option<u64>,
    pub read_bytes: Option<u64>,
    pub result_rows: usize,
    pub received_bytes: u64,
    pub wall: Duration,
    /// The rollup that served the window (`crate::rollup`); `None` when raw samples were read.
    pub rollup: Option<&'static str>,
    /// Where a rollup read spliced onto the process's previous window began: it sent only the
    /// rows from there on (`crate::rollup::cache`).
    pub spliced_from: Option<time::OffsetDateTime>,
}

impl ClickHouseSource {
    /// Connects and introspects the exporter's tables once.
    pub async fn connect(
        config: ClickHouseConfig,
        names: TelemetryNames,
        queries: QuerySet,
    ) -> Result<ClickHouseSource, SourceError> {
        let client = config.read_client();
        let tables = vec![
            names.logs_table.clone(),
            names.gauge_table.clone(),
            names.traces_table.clone(),
        ];
        // The database is named explicitly when configured rather than read back from the
        // session, so what is checked is exactly what the queries will read.
        let sql = "SELECT database, table, name, type FROM system.columns \
                   WHERE database = if(empty({database:String}), currentDatabase(), {database:String}) \
                   AND table IN {tables:Array(String)} ORDER BY table, name";
        let configured = config.database.clone().unwrap_or_default();
        let parameters = [
            Parameter {
                name: "tables",
                sql_type: "Array(String)",
                value: ParameterValue::Texts(tables),
            },
            Parameter {
                name: "database",
                sql_type: "String",
                value: ParameterValue::Text(configured),
            },
        ];
        let (frame, _) =
            run_arrow_query(&config, &client, sql, &parameters, "system.columns").await?;
        let frame = frame.unwrap_or_default();
        let mut logs = TableColumns {
            table: names.logs_table.clone(),
            ..Default::default()
        };
        let mut metrics = TableColumns {
            table: names.gauge_table.clone(),
            ..Default::default()
        };
        let mut traces = TableColumns {
            table: names.traces_table.clone(),
            ..Default::default()
        };
        let database = match (&config.database, frame.height()) {
            (Some(db), _) => db.clone(),
            (None, 0) => "default".into(),
            (None, _) => string_at(&frame, "database", 0),
        };
        for row in 0..frame.height() {
            let table = string_at(&frame, "table", row);
            let name = string_at(&frame, "name", row);
            let ty = string_at(&frame, "type", row);
            if table == names.logs_table {
                logs.columns.insert(name.clone(), ty.clone());
            }
            if table == names.gauge_table {
                metrics.columns.insert(name.clone(), ty.clone());
            }
            if table == names.traces_table {
                traces.columns.insert(name, ty);
            }
        }
        let status = |t: &TableColumns, role| TableStatus {
            table: t.table.clone(),
            state: if t.columns.is_empty() {
                Err(TableIssue::Missing)
            } else {
                t.classify(role).map_err(TableIssue::Schema)
            },
        };
        let logs = status(&logs, TableRole::Logs);
        let metrics = status(&metrics, TableRole::Metrics);
        let traces = status(&traces, TableRole::Traces);
        tracing::debug!(?logs, ?metrics, "introspected exporter tables");
        Ok(ClickHouseSource {
            config,
            client,
            names,
            queries,
            database,
            logs,
            metrics,
            traces,
            rollups: None,
        })
    }

    /// The generations found: (logs, metrics); `None` where the table is missing or unusable.
    pub fn generations(&self) -> (Option<Generation>, Option<Generation>) {
        (
            self.logs.state.as_ref().ok().copied(),
            self.metrics.state.as_ref().ok().copied(),
        )
    }

    /// The logs table's generation, or why it cannot be read (`context` names the reader).
    pub fn logs_generation(&self, context: &str) -> Result<Generation, SourceError> {
        self.table_error(&self.logs, context)
    }

    /// Problems with the tables, as errors a user can act on (for `forewarn check --connect`).
    pub fn table_problems(&self) -> Vec<SourceError> {
        [&self.logs, &self.metrics]
            .into_iter()
            .filter_map(|status| self.table_error(status, "forewarn check").err())
            .collect()
    }

    fn table_error(&self, status: &TableStatus, query: &str) -> Result<Generation, SourceError> {
        match &status.state {
            Ok(generation) => Ok(*generation),
            Err(TableIssue::Missing) => Err(SourceError::MissingTable {
                query: query.into(),
                table: format!("{}.{}", self.database, status.table),
            }),
            Err(TableIssue::Schema(SchemaProblem::MissingColumn { column })) => {
                Err(SourceError::MissingColumn {
                    query: query.into(),
                    table: format!("{}.{}", self.database, status.table),
                    column: column.clone(),
                })
            }
            Err(TableIssue::Schema(SchemaProblem::ColumnType {
                column,
                found,
                expected,
            })) => Err(SourceError::ColumnType {
                query: query.into(),
                table: format!("{}.{}", self.database, status.table),
                column: column.clone(),
                found: found.clone(),
                expected: expected.clone(),
            }),
            Err(TableIssue::Schema(SchemaProblem::JsonMode { column })) => {
                Err(SourceError::JsonMode {
                    table: format!("{}.{}", self.database, status.table),
                    column: column.clone(),
                })
            }
        }
    }

    /// Fetches one window, normalised to its frame schema.
    pub async fn fetch(
        &self,
        kind: QueryKind,
        window: &WindowSpec,
    ) -> Result<WindowFrame, SourceError> {
        self.fetch_with_stats(kind, window).await.map(|(f, _)| f)
    }

    pub async fn fetch_with_stats(
        &self,
        kind: QueryKind,
        window: &WindowSpec,
    ) -> Result<(WindowFrame, QueryStats), SourceError> {
        let origin = self.queries.get(kind).origin.clone();
        let uses_logs = matches!(
            kind,
            QueryKind::Errors | QueryKind::PodEvents | QueryKind::Heartbeats
        );
        let status = match kind {
            QueryKind::TraceErrors => &self.traces,
            _ if uses_logs => &self.logs,
            _ => &self.metrics,
        };
        let generation = self.table_error(status, &origin)?;
        let logs_generation = if uses_logs {
            generation
        } else {
            Generation::G2
        };
        if let Some(rollups) = &self.rollups {
            if rollups.serves(kind, window, &self.queries) {
                match rollups
                    .fetch(kind, window, &self.names, logs_generation)
                    .await
                {
                    Ok(answer) => return Ok(answer),
                    Err(e) => tracing::warn!(
                        query = %origin,
                        error = %e,
                        "cannot use the rollup for this window: reading raw samples"
                    ),
                }
            }
        }
        let sql = self.queries.render(kind, logs_generation);
        let parameters = parameters::window_parameters(&self.names, window);
        run_window_query(&self.config, &self.client, kind, &sql, &parameters, &origin).await
    }

    /// Reads rollups instead of raw samples where they serve a window (see `crate::rollup`).
    pub fn with_rollups(mut self, rollups: Option<Rollups>) -> ClickHouseSource {
        self.rollups = rollups;
        self
    }

    pub fn rollups(&self) -> Option<&Rollups> {
        self.rollups.as_ref()
    }

    pub fn config(&self) -> &ClickHouseConfig {
        &self.config
    }

    /// The telemetry database the queries read.
    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn names(&self) -> &TelemetryNames {
        &self.names
    }

    pub fn queries(&self) -> &QuerySet {
        &self.queries
    }
}

/// Binds each parameter to its `{name:Type}` placeholder.
pub(crate) fn bind(
    mut query: clickhouse::query::Query,
    parameters: &[Parameter],
) -> clickhouse::query::Query {
    for parameter in parameters {
        query = match &parameter.value {
            ParameterValue::Text(text) => query.param(parameter.name, text),
            ParameterValue::Number(number) => query.param(parameter.name, number),
            ParameterValue::Texts(texts) => query.param(parameter.name, texts),
        };
    }
    query
}

/// Runs one window query and returns its frame, normalised to `kind`'s schema.
pub(crate) async fn run_window_query(
    config: &ClickHouseConfig,
    client: &Client,
    kind: QueryKind,
    sql: &str,
    parameters: &[Parameter],
    origin: &str,
) -> Result<(WindowFrame, QueryStats), SourceError> {
    let started = Instant::now();
    let (raw, mut stats) = run_arrow_query(config, client, sql, parameters, origin).await?;
    let frame = match raw {
        None => window::empty_frame(kind),
        Some(raw) => window::normalize(kind, raw).map_err(|e| SourceError::Frame {
            query: origin.to_string(),
            source: e,
        })?,
    };
    stats.result_rows = frame.height();
    stats.wall = started.elapsed();
    Ok((frame, stats))
}

/// Runs one query for an `ArrowStream` answer: the frame as ClickHouse sent it (`None` when it
/// sent nothing: no rows), and what the query cost.
pub(crate) async fn run_arrow_query(
    config: &ClickHouseConfig,
    client: &Client,
    sql: &str,
    parameters: &[Parameter],
    origin: &str,
) -> Result<(Option<DataFrame>, QueryStats), SourceError> {
    let started = Instant::now();
    let timeout = config.query_timeout;
    // The answer is decoded as it arrives, on a blocking thread: the process never holds the
    // whole ArrowStream body beside the frame it becomes (at 1.8 M rows, 130 MB twice over).
    let (chunks, arriving) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let decoder = tokio::task::spawn_blocking(move || decode_arrow_stream(arriving));
    let run = async move {
        let query = bind(client.query_raw(sql), parameters);
        let mut cursor = query.fetch_bytes("ArrowStream")?;
        while let Some(chunk) = cursor.next().await? {
            if chunks.send(chunk).await.is_err() {
                // The decoder stopped (a broken stream): its error says why.
                break;
            }
        }
        let summary = cursor.summary().cloned();
        Ok::<_, clickhouse::error::Error>((summary, cursor.received_bytes()))
    };
    let (summary, received_bytes) = match tokio::time::timeout(timeout, run).await {
        Err(_) => {
            return Err(SourceError::Timeout {
                query: origin.to_string(),
                seconds: timeout.as_secs_f64(),
            })
        }
        Ok(Err(e)) => return Err(classify_error(config, e, origin)),
        Ok(Ok(v)) => v,
    };
    let decoded = decoder.await.map_err(|e| SourceError::Decode {
        query: origin.to_string(),
        message: e.to_string(),
    })?;
    let frame = match decoded {
        Ok(frame) => frame,
        Err(message) => {
            return Err(SourceError::Decode {
                query: origin.to_string(),
                message,
            })
        }
    };
    let stats = QueryStats {
        server_elapsed: summary
            .as_ref()
            .and_then(|s| s.elapsed_ns())
            .map(Duration::from_nanos),
        read_rows: summary.as_ref().and_then(|s| s.read_rows()),
        read_bytes: summary.as_ref().and_then(|s| s.read_bytes()),
        result_rows: frame.as_ref().map_or(0, |f| f.height()),
        received_bytes,
        wall: started.elapsed(),
        rollup: None,
        spliced_from: None,
    };
    Ok((frame, stats))
}

/// Reads an Arrow IPC stream from its chunks as they arrive (`None`: the answer was empty, no
/// rows). Batches stay as they came (no rechunk): whatever reads the frame next copies it once.
fn decode_arrow_stream(
    arriving: tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> Result<Option<DataFrame>, String> {
    let mut reader = ChunkReader {
        arriving,
        current: bytes::Bytes::new(),
        seen: 0,
    };
    // An empty body is an empty answer; anything else must be a whole stream.
    if reader.fill().map_err(|e| e.to_string())? == 0 {
        return Ok(None);
    }
    IpcStreamReader::new(reader)
        .set_rechunk(false)
        .finish()
        .map(Some)
        .map_err(|e| e.to_string())
}

/// A blocking [`std::io::Read`] over the chunks of an HTTP body.
struct ChunkReader {
    arriving: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
    seen: u64,
}

impl ChunkReader {
    /// Waits for the next non-empty chunk unless one is at hand; 0 at the end of the body.
    fn fill(&mut self) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.arriving.blocking_recv() {
                Some(chunk) => {
                    self.seen += chunk.len() as u64;
                    self.current = chunk;
                }
                None => return Ok(0),
            }
        }
        Ok(self.current.len())
    }
}

/// Polars' reader asks for `Seek` to skip a message's padding: a stream is read forward, so
/// seeking ahead skips bytes and seeking back is refused.
impl std::io::Seek for ChunkReader {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let position = self.seen - self.current.len() as u64;
        let target = match to {
            std::io::SeekFrom::Start(at) => at as i128,
            std::io::SeekFrom::Current(by) => position as i128 + by as i128,
            std::io::SeekFrom::End(_) => -1,
        };
        if target < position as i128 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "an ArrowStream answer is read forward only",
            ));
        }
        let mut skip = (target - position as i128) as u64;
        while skip > 0 {
            let available = self.fill()? as u64;
            if available == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let n = available.min(skip);
            bytes::Buf::advance(&mut self.current, n as usize);
            skip -= n;
        }
        Ok(target as u64)
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill()?;
        let n = available.min(buf.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}

fn string_at(frame: &DataFrame, column: &str, row: usize) -> String {
    frame
        .column(column)
        .ok()
        .and_then(|c| c.get(row).ok())
        .and_then(|v| v.get_str().map(str::to_string))
        .unwrap_or_default()
}

/// Removes `user:password@` from a URL so it can be shown.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The `Code: N.` of a ClickHouse exception text.
fn exception_code(text: &str) -> Option<u32> {
    let rest = text.split("Code: ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The first line of a ClickHouse exception, without the stack trace and version noise.
fn exception_summary(text: &str) -> String {
    let line = text.lines().next().unwrap_or(text).trim();
    let line = line.split(" (version ").next().unwrap_or(line);
    // ClickHouse echoes the whole rewritten query after "In scope"; the query file is named
    // separately, so keep the message and the exception name.
    match line.split_once(" In scope ") {
        Some((message, rest)) => {
            let name = rest
                .rsplit_once(". (")
                .map(|(_, n)| format!(" ({n}"))
                .unwrap_or_default();
            format!("{message}{name}")
        }
        None => line.to_string(),
    }
}

fn classify_error(
    config: &ClickHouseConfig,
    error: clickhouse::error::Error,
    query: &str,
) -> SourceError {
    use clickhouse::error::Error as E;
    let scrub = |text: String| -> String {
        match &config.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "***"),
            _ => text,
        }
    };
    let url = redact_url(&config.url);
    match error {
        E::Network(e) => SourceError::Unreachable {
            url,
            message: scrub(error_chain(&*e)),
        },
        E::TimedOut => SourceError::Timeout {
            query: query.into(),
            seconds: config.query_timeout.as_secs_f64(),
        },
        E::BadResponse(text) => {
            let text = scrub(text);
            match exception_code(&text) {
                Some(516) | Some(192) | Some(193) | Some(194) => SourceError::Authentication {
                    url,
                    user: config.user.clone(),
                },
                Some(81) => SourceError::UnknownDatabase {
                    url,
                    database: config.database.clone().unwrap_or_default(),
                },
                Some(60) => SourceError::MissingTable {
                    query: query.into(),
                    table: exception_summary(&text),
                },
                Some(159) => SourceError::Timeout {
                    query: query.into(),
                    seconds: config.query_timeout.as_secs_f64(),
                },
                Some(code) => SourceError::Server {
                    query: query.into(),
                    code,
                    message: exception_summary(&text),
                },
                None => SourceError::Server {
                    query: query.into(),
                    code: 0,
                    message: exception_summary(&text),
                },
            }
        }
        other => SourceError::Server {
            query: query.into(),
            code: 0,
            message: scrub(other.to_string()),
        },
    }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}
