//! The window queries: one SQL file per window in `queries/`, compiled into the binary so
//! forewarn works from any directory, and replaceable file by file with `--queries DIR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::source::introspect::Generation;
use crate::window::QueryKind;

const EMBEDDED: [(QueryKind, &str); 6] = [
    (QueryKind::Memory, include_str!("../../queries/memory.sql")),
    (QueryKind::Errors, include_str!("../../queries/errors.sql")),
    (
        QueryKind::Restarts,
        include_str!("../../queries/restarts.sql"),
    ),
    (
        QueryKind::PodEvents,
        include_str!("../../queries/pod_events.sql"),
    ),
    (
        QueryKind::Heartbeats,
        include_str!("../../queries/heartbeats.sql"),
    ),
    (
        QueryKind::TraceErrors,
        include_str!("../../queries/trace_errors.sql"),
    ),
];

/// The placeholder a logs query uses for its sort-key predicate (differs per generation).
const LOGS_TIME_PRUNE: &str = "{{logs_time_prune}}";

/// A query's text and where it came from (for error messages).
#[derive(Debug, Clone)]
pub struct QueryText {
    /// `queries/memory.sql (embedded)` or the override file's path.
    pub origin: String,
    pub sql: String,
}

#[derive(Debug, Clone)]
pub struct QuerySet {
    texts: BTreeMap<QueryKind, QueryText>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryFileError {
    #[error("cannot read queries directory {dir}: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read query file {file}: {source}")]
    File {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: unknown query file (expected one of: {expected})")]
    Unknown { file: PathBuf, expected: String },
}

impl Default for QuerySet {
    fn default() -> Self {
        QuerySet::embedded()
    }
}

impl QuerySet {
    pub fn embedded() -> QuerySet {
        let texts = EMBEDDED
            .iter()
            .map(|(kind, sql)| {
                (
                    *kind,
                    QueryText {
                        origin: format!("queries/{} (embedded)", kind.file_name()),
                        sql: sql.to_string(),
                    },
                )
            })
            .collect();
        QuerySet { texts }
    }

    /// The embedded queries, with every `NAME.sql` found in `dir` replacing its namesake.
    pub fn with_overrides(dir: &Path) -> Result<QuerySet, QueryFileError> {
        let mut set = QuerySet::embedded();
        let entries = std::fs::read_dir(dir).map_err(|source| QueryFileError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| QueryFileError::Dir {
                    dir: dir.to_path_buf(),
                    source,
                })?
                .path();
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let kind = QueryKind::from_name(stem).ok_or_else(|| QueryFileError::Unknown {
                file: path.clone(),
                expected: QueryKind::ALL.map(|k| k.file_name()).join(", "),
            })?;
            let sql = std::fs::read_to_string(&path).map_err(|source| QueryFileError::File {
                file: path.clone(),
                source,
            })?;
            set.texts.insert(
                kind,
                QueryText {
                    origin: path.display().to_string(),
                    sql,
                },
            );
        }
        Ok(set)
    }

    /// Whether `kind` is forewarn's own query (not replaced by a `--queries` file): rollups
    /// aggregate exactly what the embedded queries do, so an override is read raw.
    pub fn is_embedded(&self, kind: QueryKind) -> bool {
        self.get(kind).sql
            == EMBEDDED
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, sql)| *sql)
                .unwrap_or_default()
    }

    pub fn get(&self, kind: QueryKind) -> &QueryText {
        &self.texts[&kind]
    }

    /// The SQL to send for `kind` against a logs table of `logs_generation`.
    pub fn render(&self, kind: QueryKind, logs_generation: Generation) -> String {
        self.get(kind)
            .sql
            .replace(LOGS_TIME_PRUNE, logs_time_prune(logs_generation))
    }
}

/// The predicate `{{logs_time_prune}}` stands for: the logs table's sort key of that generation,
/// so the primary key prunes. Public so clients running `queries/*.sql` themselves (the
/// notebooks, through `forewarn query --parameters`) substitute exactly what forewarn does.
pub fn logs_time_prune(logs_generation: Generation) -> &'static str {
    match logs_generation {
        Generation::G1 => "TimestampTime >= toDateTime({since:DateTime64(9)})",
        Generation::G2 => {
            "toStartOfFiveMinutes(Timestamp) >= toStartOfFiveMinutes({since:DateTime64(9)})"
        }
    }
}
