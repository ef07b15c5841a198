//! Configuration and usage errors: the run never started. The CLI maps exactly this type to exit
//! code 2 (DESIGN.md exit codes); every other error is a failed run (exit 1).

use std::path::PathBuf;

use crate::config::RulesError;
use crate::evaluate::SelectError;
use crate::source::queries::QueryFileError;
use crate::source::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Select(#[from] SelectError),
    /// A flag's value could not be used (a time, a duration, a range).
    #[error("{flag} `{value}`: {reason}")]
    Flag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("--source `{0}`: use `clickhouse` or `parquet:DIR`")]
    SourceSpec(String),
    #[error("--queries {}", dir.display())]
    Queries {
        dir: PathBuf,
        #[source]
        source: QueryFileError,
    },
    #[error("--source parquet:{}", dir.display())]
    Parquet {
        dir: PathBuf,
        #[source]
        source: Box<SourceError>,
    },
    #[error("--labels {}", path.display())]
    Labels {
        path: PathBuf,
        #[source]
        source: crate::demo::score::LabelsError,
    },
    #[error("{}: no otel_*.parquet files to load (run `forewarn demo generate DIR` first)", dir.display())]
    NothingToLoad { dir: PathBuf },
}

impl ConfigError {
    /// A flag whose value failed to parse.
    pub fn flag(flag: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Flag {
            flag,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Whether an error (one link of a chain) is a configuration problem: the CLI's exit code 2.
pub fn is_configuration(error: &(dyn std::error::Error + 'static)) -> bool {
    error.is::<ConfigError>()
        || error.is::<RulesError>()
        || error.is::<SelectError>()
        || matches!(
            error.downcast_ref::<crate::source::OpenError>(),
            Some(crate::source::OpenError::Config(_))
        )
        || error
            .downcast_ref::<crate::report::job::ReportError>()
            .is_some_and(|e| e.is_configuration())
}
