//! One daily report from start to finish — read the state, build, draw, write, send — shared
//! by `forewarn report daily`, `forewarn run daily-report` and the daemon's scheduled job.

use std::path::PathBuf;

use crate::act::notify::{AnyReceiver, Delivered, NotifyError, ReceiverConfig};
use crate::config::notify::NotifyConfig;
use crate::config::RuleSet;
use crate::source::Source;
use crate::state::{AnyStore, StateError, StateStore};

use super::chart::ChartError;
use super::{build, deliver, history, html, text, DailyReport, ReportOptions};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("reading forewarn's history for the report")]
    State(#[source] StateError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("writing the report to {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the report has nowhere to go: rules/notify.yaml has no `report: receivers:` (add email or slack receivers there, or leave out --send)")]
    NoReceivers,
    #[error("report receiver {receiver}")]
    Receiver {
        receiver: String,
        #[source]
        source: Box<crate::act::notify::ReceiverConfigError>,
    },
}

impl ReportError {
    /// Errors a person fixes in the configuration (exit 2).
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            ReportError::NoReceivers | ReportError::Receiver { .. }
        )
    }
}

pub struct DailyJob<'a> {
    pub source: &'a Source,
    pub rules: &'a RuleSet,
    pub notify: &'a NotifyConfig,
    pub store: Option<&'a AnyStore>,
    /// Why there is no store, said in the report.
    pub no_store_note: Option<String>,
    pub options: ReportOptions,
    pub out: Option<PathBuf>,
    pub send: bool,
}

pub struct DailyOutcome {
    pub report: DailyReport,
    pub written: Option<PathBuf>,
    pub deliveries: Vec<(String, Result<Delivered, NotifyError>)>,
}

impl DailyOutcome {
    /// Every part made and every delivery made.
    pub fn succeeded(&self) -> bool {
        self.report.is_complete() && self.deliveries.iter().all(|(_, r)| r.is_ok())
    }
}

/// The configured report receivers, built (secrets from `env`) before anything is gathered, so
/// a missing webhook fails fast.
pub fn receivers(
    notify: &NotifyConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, AnyReceiver)>, ReportError> {
    if notify.report_receivers.is_empty() {
        return Err(ReportError::NoReceivers);
    }
    notify
        .report_receivers
        .iter()
        .map(|name| {
            let receiver = notify
                .receiver(name)
                .expect("validated: report receivers exist");
            let typed = ReceiverConfig::from_type_and_config(
                name,
                receiver.kind.as_str(),
                receiver.config.clone(),
            )
            .and_then(|c| c.build_with(name, &env))
            .map_err(|source| ReportError::Receiver {
                receiver: name.clone(),
                source: Box::new(source),
            })?;
            Ok((name.clone(), typed))
        })
        .collect()
}

/// The report a job runs, when it is a report job.
pub fn report_of(rules: &RuleSet, job: &str) -> Option<crate::config::rules::ReportKind> {
    rules
        .jobs
        .iter()
        .find(|j| j.name == job)
        .and_then(|j| j.report)
}

/// The scheduled daily report: the 24 h before `as_of`, sent to the report receivers (with
/// `dry_run`, built and returned but sent nowhere).
pub async fn scheduled_daily(
    source: &Source,
    rules: &RuleSet,
    notify: &NotifyConfig,
    store: &AnyStore,
    as_of: time::OffsetDateTime,
    dry_run: bool,
) -> Result<DailyOutcome, ReportError> {
    DailyJob {
        source,
        rules,
        notify,
        store: Some(store),
        no_store_note: None,
        options: ReportOptions {
            until: as_of,
            period: std::time::Duration::from_secs(86_400),
            top: 5,
        },
        out: None,
        send: !dry_run,
    }
    .run()
    .await
}

impl DailyJob<'_> {
    pub async fn run(self) -> Result<DailyOutcome, ReportError> {
        let receivers = if self.send {
            receivers(self.notify, |v| std::env::var(v).ok())?
        } else {
            Vec::new()
        };
        let state = match self.store {
            Some(store) => {
                let mut events = Vec::new();
                for job in &self.rules.jobs {
                    events.extend(
                        store
                            .events_for_job(&job.name)
                            .await
                            .map_err(ReportError::State)?,
                    );
                }
                let actions = store.action_events().await.map_err(ReportError::State)?;
                Some(history::state_day(
                    &events,
                    &actions,
                    self.options.since(),
                    self.options.until,
                ))
            }
            None => None,
        };
        let report = build(
            self.source,
            self.rules,
            state,
            self.no_store_note.clone(),
            &self.options,
        )
        .await;
        let charts = html::charts(&report)?;
        let written = match &self.out {
            Some(path) => {
                let body = match path.extension().and_then(|e| e.to_str()) {
                    Some("txt") => text::render(&report),
                    Some("json") => serde_json::to_string_pretty(&report).unwrap_or_default(),
                    _ => deliver::html_file(&report, &charts),
                };
                std::fs::write(path, body).map_err(|source| ReportError::Write {
                    path: path.clone(),
                    source,
                })?;
                Some(path.clone())
            }
            None => None,
        };
        let results = deliver::send(&receivers, &report, &charts).await;
        let deliveries = receivers
            .iter()
            .map(|(name, _)| name.clone())
            .zip(results)
            .collect();
        Ok(DailyOutcome {
            report,
            written,
            deliveries,
        })
    }
}
