//! `forewarn check`: validate the whole configuration (rules, notify.yaml and its receivers, the
//! source settings) without running anything, and with `connect`, that the source answers and
//! has the tables the queries read, and how many canaries each heartbeat rule sees now (a
//! dead-man check that sees none watches nothing).

use std::path::Path;

use crate::config::{Rule, RuleSet};
use crate::detect::heartbeats::canaries_seen;
use crate::detect::EvalContext;
use crate::error::ConfigError;
use crate::evaluate::{rule_window, EvalError};
use crate::findings::Signal;
use crate::source::introspect::Generation;
use crate::source::{OpenError, Source, SourceError, SourceSettings};
use crate::window::QueryKind;

/// What `check` found. Configuration errors are returned as [`ConfigError`] instead.
pub struct CheckReport {
    pub rules: RuleSet,
    /// Where the rules came from (a directory, or the shipped rules).
    pub rules_origin: String,
    pub connection: Option<Connection>,
    /// With `connect`: the canaries each heartbeat rule sees in its window ending now.
    pub canaries: Vec<CanaryCount>,
}

/// How many distinct canaries (cluster, name) one heartbeat rule sees.
pub struct CanaryCount {
    pub rule: String,
    /// What the rule's matchers recognise.
    pub matched: String,
    pub seen: Result<usize, EvalError>,
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
    /// Everything checked is usable (a rule seeing no canary is a warning, not a failure:
    /// the canaries may simply not run yet).
    pub fn is_ok(&self) -> bool {
        let connected = match &self.connection {
            Some(Connection::ClickHouse { problems, .. }) => problems.is_empty(),
            _ => true,
        };
        connected && self.canaries.iter().all(|c| c.seen.is_ok())
    }
}

/// Validates the rules and the source settings; with `connect`, opens the source.
pub async fn check(
    rules_dir: Option<&Path>,
    settings: &SourceSettings,
    connect: bool,
) -> Result<CheckReport, OpenError> {
    let whole = crate::config::whole::load(rules_dir).map_err(ConfigError::from)?;
    let (rules, notify) = (whole.rules, whole.notify);
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
    // The heartbeats window must carry the canaries the rules' own matchers recognise.
    let settings = settings.clone().watching(&rules);
    let mut canaries = Vec::new();
    let connection = if connect {
        let source = settings.open().await?;
        let now = time::OffsetDateTime::now_utc();
        for rule in rules
            .rules
            .iter()
            .filter(|r| r.signal == Signal::HeartbeatMissing)
        {
            canaries.push(CanaryCount {
                rule: rule.name.clone(),
                matched: rule.heartbeat_params().matched_text(),
                seen: count_canaries(&source, rule, now).await,
            });
        }
        Some(match source {
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
        canaries,
    })
}

/// The distinct canaries `rule` sees in its window ending at `now`.
async fn count_canaries(
    source: &Source,
    rule: &Rule,
    now: time::OffsetDateTime,
) -> Result<usize, EvalError> {
    let window = rule_window(rule, now);
    let frame = source.fetch_window(QueryKind::Heartbeats, &window).await?;
    Ok(canaries_seen(&frame, &EvalContext { rule, window })?.len())
}
