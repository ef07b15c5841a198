//! `forewarn explain`: one finding's window, chart, numbers and reproducing query — by its id
//! (looked up in the state, else among the findings as of --at) or by entity selectors.

use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use forewarn::config::Rule;
use forewarn::error::ConfigError;
use forewarn::evaluate::{self, Windows};
use forewarn::findings::Finding;
use forewarn::source::introspect::Generation;
use forewarn::source::{Source, SourceSpec};
use forewarn::state::StateStore;

use crate::exit::Outcome;
use crate::{time_flag, SourceArgs, StateArgs};

#[derive(Args)]
pub(crate) struct ExplainArgs {
    /// The finding's `id` (its fingerprint, as `analyze`, `findings` and notifications show it).
    /// Without it, the entity selectors pick the findings to explain.
    finding: Option<String>,
    /// The findings of this pod (memory, restarts).
    #[arg(long)]
    pod: Option<String>,
    /// With --pod: only this container.
    #[arg(long)]
    container: Option<String>,
    /// The findings of this service (error rates).
    #[arg(long)]
    service: Option<String>,
    /// The findings of this canary (heartbeats).
    #[arg(long)]
    canary: Option<String>,
    #[arg(long)]
    namespace: Option<String>,
    #[arg(long)]
    cluster: Option<String>,
    /// Judge as of this time (RFC 3339 or `now-2h`); a finding found in the state is explained
    /// as of its own evaluation time.
    #[arg(long, default_value = "now")]
    at: String,
    /// `text` (chart, numbers, query) or `json` (the same, one object per finding).
    #[arg(long, value_enum, default_value = "text")]
    output: ExplainFormat,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    state: StateArgs,
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExplainFormat {
    Text,
    Json,
}

pub(crate) async fn explain(args: ExplainArgs) -> anyhow::Result<Outcome> {
    let selectors: BTreeMap<String, String> = [
        ("pod", &args.pod),
        ("container", &args.container),
        ("service", &args.service),
        ("canary", &args.canary),
        ("namespace", &args.namespace),
        ("cluster", &args.cluster),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
    .collect();
    let entity_given = ["pod", "service", "canary"]
        .iter()
        .any(|k| selectors.contains_key(*k));
    if args.finding.is_none() && !entity_given {
        return Err(ConfigError::flag(
            "FINDING_ID",
            "",
            "give a finding id, or an entity with --pod, --service or --canary",
        )
        .into());
    }
    let whole = forewarn::config::whole::load(args.rules.as_deref()).map_err(ConfigError::from)?;
    let settings = args.source.settings()?.watching(&whole.rules);
    let at = time_flag("--at", &args.at)?;

    // A finding id: the state knows when it was evaluated and what it said.
    let mut stored: Option<Finding> = None;
    if let Some(id) = &args.finding {
        let has_state =
            args.state.sqlite.is_some() || !matches!(settings.spec, SourceSpec::Parquet(_));
        if has_state {
            let store = crate::commands::open_store(&args.source, &args.state).await?;
            let events = store.episode_history(id).await?;
            stored = events
                .iter()
                .rev()
                .find_map(|e| serde_json::from_value::<Finding>(e.payload.clone()).ok());
        }
    }
    let source = settings.open().await?;
    let findings: Vec<Finding> = match stored {
        Some(f) => vec![f],
        None => {
            let rules: Vec<&Rule> = whole.rules.rules.iter().filter(|r| r.enabled).collect();
            let report = evaluate::run(&Windows::Live { source: &source }, &rules, at).await;
            if !report.failures.is_empty() {
                for failure in &report.failures {
                    eprintln!(
                        "error: rule {} could not be judged: {}",
                        failure.rule,
                        forewarn::act::notify::error::chain(failure.error.as_ref())
                    );
                }
            }
            report
                .findings
                .into_iter()
                .filter(|f| match &args.finding {
                    Some(id) => &f.id == id,
                    None => f.entity_matches(&selectors),
                })
                .collect()
        }
    };
    if findings.is_empty() {
        let what = match &args.finding {
            Some(id) => format!("finding {id}"),
            None => {
                let pairs: Vec<String> = selectors
                    .iter()
                    .map(|(k, v)| format!("--{k} {v}"))
                    .collect();
                format!("finding for {}", pairs.join(" "))
            }
        };
        eprintln!(
            "no {what} as of {} (not in the state, and the rules do not find it then); try --at",
            forewarn::window::timefmt::rfc3339(at)
        );
        return Ok(Outcome::Failed);
    }
    let mut out = std::io::stdout().lock();
    for finding in findings {
        let explanation = explain_one(&source, &whole.rules.rules, &settings, finding).await?;
        match args.output {
            ExplainFormat::Json => {
                serde_json::to_writer(&mut out, &explanation)?;
                writeln!(out)?;
            }
            ExplainFormat::Text => {
                write!(out, "{}", forewarn::explain::render_text(&explanation))?;
                writeln!(out)?;
            }
        }
    }
    Ok(Outcome::Completed)
}

async fn explain_one(
    source: &Source,
    rules: &[Rule],
    settings: &forewarn::source::SourceSettings,
    finding: Finding,
) -> anyhow::Result<forewarn::explain::Explanation> {
    let rule = rules
        .iter()
        .find(|r| r.name == finding.rule)
        .ok_or_else(|| {
            ConfigError::flag(
                "FINDING_ID",
                &finding.id,
                format!("its rule `{}` is not in the rules", finding.rule),
            )
        })?;
    let window = evaluate::rule_window(rule, finding.evaluated_at);
    let query = forewarn::detect::query_for(rule);
    // The explanation shows the entity's rows with their names: the wide form.
    let frame = source
        .fetch_window(query, &window)
        .await?
        .expanded(query)
        .context("joining the window's series names")?;
    let generation = match source {
        Source::ClickHouse(c) => c.generations().0.unwrap_or(Generation::G2),
        _ => Generation::G2,
    };
    let sql = settings.query_set()?.render(query, generation);
    Ok(forewarn::explain::explain(
        finding,
        frame,
        &window,
        query,
        sql,
        &settings.names,
    )?)
}
