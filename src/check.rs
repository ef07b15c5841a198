//! `forewarn check`: validate the whole configuration (rules, notify.yaml and its receivers, the
//! source settings) without running anything, and with `connect`, that the source answers and
//! has the tables the queries read.

use std::path::Path;

use crate::config::RuleSet;
use crate::error::ConfigError;
use crate::evaluate::load_rules;
use crate::source::introspect::Generation;
use crate::source::{OpenError, Source, SourceError, SourceSettings};

/// What `check` found. Configuration errors are returned as [`ConfigError`] instead.
pub struct CheckReport {
    pub rules: RuleSet,
    /// Where the rules came from (a directory, or the shipped rules).
    pub rules_origin: String,
    pub connection: Option<Connection>,
}

/// What connecting to the source showed.
pub enum Connection {
    ClickHouse {
        logs: Option<Generation>,
        metrics: Option<Generation>,
        /// Missing tables or columns, wrong types: the run would fail on these.
        problems: Vec<SourceError>,
    },
    Parquet,
}

impl CheckReport {
    /// Everything checked is usable.
    pub fn is_ok(&self) -> bool {
        match &self.connection {
            Some(Connection::ClickHouse { problems, .. }) => problems.is_empty(),
            _ => true,
        }
    }
}

/// Validates the rules and the source settings; with `connect`, opens the source.
pub async fn check(
    rules_dir: Option<&Path>,
    settings: &SourceSettings,
    connect: bool,
) -> Result<CheckReport, OpenError> {
    let rules = load_rules(rules_dir).map_err(ConfigError::from)?;
    let notify = match rules_dir {
        Some(dir) => crate::config::notify::NotifyConfig::load_dir_or_embedded(dir),
        None => crate::config::notify::NotifyConfig::embedded(),
    }
    .map_err(|problems| ConfigError::Rules(crate::config::RulesError::Invalid { problems }))?;
    // Each receiver's typed settings (not its secrets: those are read when a run starts).
    for receiver in &notify.receivers {
        crate::act::notify::ReceiverConfig::from_type_and_config(
            &receiver.name,
            receiver.kind.as_str(),
            receiver.config.clone(),
        )
        .map_err(|e| ConfigError::flag("notify.yaml", &receiver.name, e.to_string()))?;
    }
    settings.validate()?;
    let rules_origin = rules_dir
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "shipped rules".into());
    let connection = if connect {
        Some(match settings.open().await? {
            Source::ClickHouse(source) => {
                let (logs, metrics) = source.generations();
                Connection::ClickHouse {
                    logs,
                    metrics,
                    problems: source.table_problems(),
                }
            }
            Source::Parquet(_) => Connection::Parquet,
        })
    } else {
        None
    };
    Ok(CheckReport {
        rules,
        rules_origin,
        connection,
    })
}
