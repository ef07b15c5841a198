//! Sources: where window frames come from. ClickHouse in production; a Parquet directory for
//! the demo, offline analysis and tests. Both answer every [`QueryKind`] with the same schema.

pub mod canaries;
pub mod clickhouse;
pub mod introspect;
pub mod names;
pub mod parameters;
pub mod parquet;
pub mod queries;
pub mod spec;

use crate::window::{self, FrameError, QueryKind, WindowFrame, WindowSpec};

pub use self::clickhouse::{ClickHouseConfig, ClickHouseSource};
pub use self::names::TelemetryNames;
pub use self::parquet::ParquetSource;
pub use self::spec::{OpenError, SourceSettings, SourceSpec};

/// Everything that can go wrong fetching a window. Messages name the query file and table; no
/// variant ever carries a password.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot reach ClickHouse at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("ClickHouse at {url} rejected user `{user}`: authentication failed (wrong user or password)")]
    Authentication { url: String, user: String },
    #[error("ClickHouse at {url} has no database `{database}`")]
    UnknownDatabase { url: String, database: String },
    #[error("{query}: table {table} does not exist (create it with `forewarn schema --apply`, or set the table name)")]
    MissingTable { query: String, table: String },
    #[error("{query}: table {table} has no column `{column}`")]
    MissingColumn {
        query: String,
        table: String,
        column: String,
    },
    #[error("{query}: column `{column}` of table {table} has type {found}, expected {expected}")]
    ColumnType {
        query: String,
        table: String,
        column: String,
        found: String,
        expected: String,
    },
    #[error("table {table} uses the exporter's JSON mode (column `{column}` is JSON, not Map); forewarn reads only Map columns")]
    JsonMode { table: String, column: String },
    #[error("{query}: query timed out after {seconds:.0} s (raise --query-timeout, or narrow the window)")]
    Timeout { query: String, seconds: f64 },
    #[error("{query}: ClickHouse error {code}: {message}")]
    Server {
        query: String,
        code: u32,
        message: String,
    },
    #[error("{query}: cannot decode the ArrowStream answer: {message}")]
    Decode { query: String, message: String },
    #[error("{query}: {source}")]
    Frame {
        query: String,
        #[source]
        source: FrameError,
    },
    #[error("parquet source {path}: {message}")]
    Parquet { path: String, message: String },
}

/// A configured source of window frames. (One per run: the variants' size difference is moot.)
#[allow(clippy::large_enum_variant)]
pub enum Source {
    ClickHouse(Box<ClickHouseSource>),
    Parquet(ParquetSource),
}

impl Source {
    /// Fetches one query's window, normalised to its schema.
    pub async fn fetch(
        &self,
        kind: QueryKind,
        window: &WindowSpec,
    ) -> Result<WindowFrame, SourceError> {
        match self {
            Source::ClickHouse(source) => source.fetch(kind, window).await,
            Source::Parquet(source) => source.fetch(kind, window),
        }
    }

    /// The window a detector reads for a query: like [`Source::fetch`], except that the restarts
    /// window carries its pods' event reasons (the `pod_events` query joined in).
    pub async fn fetch_window(
        &self,
        kind: QueryKind,
        window: &WindowSpec,
    ) -> Result<WindowFrame, SourceError> {
        let frame = self.fetch(kind, window).await?;
        if kind != QueryKind::Restarts {
            return Ok(frame);
        }
        let events = self.fetch(QueryKind::PodEvents, window).await?;
        window::join_pod_events(frame.rows, events.rows)
            .map(WindowFrame::from)
            .map_err(|e| SourceError::Frame {
                query: "restarts.sql + pod_events.sql".into(),
                source: e,
            })
    }
}
