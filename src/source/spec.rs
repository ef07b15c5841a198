//! `--source`: which source a command reads, parsed once and opened in one place.

use std::path::{Path, PathBuf};

use super::queries::QuerySet;
use super::{
    ClickHouseConfig, ClickHouseSource, ParquetSource, Source, SourceError, TelemetryNames,
};
use crate::error::ConfigError;

/// `clickhouse` (the connection settings say where) or `parquet:DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    ClickHouse,
    Parquet(PathBuf),
}

impl SourceSpec {
    pub fn parse(text: &str) -> Result<SourceSpec, ConfigError> {
        if let Some(dir) = text.strip_prefix("parquet:") {
            return Ok(SourceSpec::Parquet(PathBuf::from(dir)));
        }
        if text == "clickhouse" {
            return Ok(SourceSpec::ClickHouse);
        }
        Err(ConfigError::SourceSpec(text.to_string()))
    }
}

/// Why a source could not be opened: bad configuration (exit 2) or a source that does not
/// answer (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Everything needed to open a source.
#[derive(Clone)]
pub struct SourceSettings {
    pub spec: SourceSpec,
    pub clickhouse: ClickHouseConfig,
    pub names: TelemetryNames,
    /// A directory of .sql files replacing the embedded queries of the same name.
    pub queries: Option<PathBuf>,
    /// Rollups in forewarn's own database (ClickHouse sources only); `None` reads raw windows.
    pub rollups: Option<crate::rollup::RollupSettings>,
}

impl SourceSettings {
    /// The same settings with the heartbeat rules' own canary matchers added, so the
    /// heartbeats window carries every canary some rule of `rules` recognises.
    pub fn watching(mut self, rules: &crate::config::RuleSet) -> SourceSettings {
        self.names.watch_rules(&rules.rules);
        self
    }

    /// The query set: embedded, with `--queries` overrides.
    pub fn query_set(&self) -> Result<QuerySet, ConfigError> {
        match &self.queries {
            Some(dir) => QuerySet::with_overrides(dir).map_err(|source| ConfigError::Queries {
                dir: dir.clone(),
                source,
            }),
            None => Ok(QuerySet::embedded()),
        }
    }

    /// Checks the configuration without connecting (query overrides readable, Parquet
    /// directory laid out as expected).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.query_set()?;
        if let SourceSpec::Parquet(dir) = &self.spec {
            open_parquet(dir, self.names.clone())?;
        }
        Ok(())
    }

    /// Opens the source; a ClickHouse source connects and introspects its tables.
    pub async fn open(&self) -> Result<Source, OpenError> {
        let queries = self.query_set()?;
        match &self.spec {
            SourceSpec::Parquet(dir) => Ok(Source::Parquet(open_parquet(dir, self.names.clone())?)),
            SourceSpec::ClickHouse => {
                let source =
                    ClickHouseSource::connect(self.clickhouse.clone(), self.names.clone(), queries)
                        .await?;
                let rollups = self
                    .rollups
                    .clone()
                    .filter(|r| r.mode != crate::rollup::RollupMode::Off)
                    .map(|r| crate::rollup::Rollups::new(r, &self.clickhouse, source.database()));
                let source = source.with_rollups(rollups);
                Ok(Source::ClickHouse(Box::new(source)))
            }
        }
    }
}

fn open_parquet(dir: &Path, names: TelemetryNames) -> Result<ParquetSource, ConfigError> {
    ParquetSource::open(dir, names).map_err(|source| ConfigError::Parquet {
        dir: dir.to_path_buf(),
        source: Box::new(source),
    })
}
