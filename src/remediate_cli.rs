//! The remediation commands of the CLI: `approve`, `reject` and `actions`. Each opens the
//! state store the way `run` and `findings` do and calls [`forewarn::run::approve`].

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use forewarn::error::ConfigError;
use forewarn::run::approve::{self, DecideError};
use forewarn::run::KubeAccess;
use forewarn::state::StateStore;

use crate::commands::open_store;
use crate::exit::Outcome;
use crate::{SourceArgs, StateArgs};

#[derive(Args)]
pub(crate) struct ApproveArgs {
    /// The action's id (`act-…`, from the notification or `forewarn actions`).
    id: String,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    state: StateArgs,
    /// A directory of rule files, notify.yaml and runbooks/ replacing the shipped ones.
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
    /// The kubeconfig context to use (default: in-cluster, else KUBECONFIG's current context).
    #[arg(long, env = "FOREWARN_KUBE_CONTEXT")]
    kube_context: Option<String>,
    /// Who approves (recorded).
    #[arg(long, env = "USER", default_value = "forewarn")]
    author: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct RejectArgs {
    id: String,
    /// Why (recorded).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    state: StateArgs,
    #[arg(long, env = "USER", default_value = "forewarn")]
    author: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct ActionsArgs {
    /// Only actions whose current status is this (pending, approved, rejected, dry_run,
    /// applied, failed, gone, effective, ineffective, refused).
    #[arg(long)]
    status: Option<String>,
    /// Per runbook: how many actions were applied and how many were effective.
    #[arg(long)]
    stats: bool,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    state: StateArgs,
}

fn decide_error(e: DecideError) -> anyhow::Error {
    match e {
        DecideError::Unknown { .. }
        | DecideError::NotPending { .. }
        | DecideError::NoRunbook { .. } => ConfigError::flag("ID", "", e.to_string()).into(),
        other => anyhow::Error::new(other),
    }
}

fn print(decided: &approve::Decided, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, decided)?;
        writeln!(out)?;
    } else if decided.acted {
        writeln!(out, "{}", decided.line)?;
    } else {
        writeln!(out, "{} (already decided: nothing done)", decided.line)?;
    }
    Ok(())
}

pub async fn approve(args: ApproveArgs) -> anyhow::Result<Outcome> {
    let whole = forewarn::config::whole::load(args.rules.as_deref()).map_err(ConfigError::from)?;
    let store = open_store(&args.source, &args.state).await?;
    let access = KubeAccess::new(args.kube_context.clone());
    let decided = match approve::approve(
        &store,
        &whole.runbooks,
        &access,
        &args.id,
        &args.author,
        time::OffsetDateTime::now_utc(),
    )
    .await
    {
        Ok(decided) => decided,
        Err(e @ (DecideError::Refused { .. } | DecideError::Kube { .. })) => {
            eprintln!("error: {e}");
            return Ok(Outcome::Failed);
        }
        Err(e) => return Err(decide_error(e)),
    };
    print(&decided, args.json)?;
    Ok(match decided.line.outcome.as_str() {
        "failed" => Outcome::Failed,
        _ => Outcome::Completed,
    })
}

pub async fn reject(args: RejectArgs) -> anyhow::Result<Outcome> {
    let store = open_store(&args.source, &args.state).await?;
    let decided = approve::reject(
        &store,
        &args.id,
        &args.author,
        &args.reason,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .map_err(decide_error)?;
    print(&decided, args.json)?;
    Ok(Outcome::Completed)
}

pub async fn actions(args: ActionsArgs) -> anyhow::Result<Outcome> {
    if let Some(status) = &args.status {
        if forewarn::act::remediate::ActionStatus::parse(status).is_none() {
            return Err(ConfigError::flag(
                "--status",
                status,
                "one of pending, approved, rejected, dry_run, applied, failed, gone, effective, ineffective, refused",
            )
            .into());
        }
    }
    let store = open_store(&args.source, &args.state).await?;
    let events = store.action_events().await?;
    let mut out = std::io::stdout().lock();
    if args.stats {
        let stats = approve::stats(&events);
        if args.json {
            serde_json::to_writer(&mut out, &stats)?;
            writeln!(out)?;
        } else if stats.is_empty() {
            writeln!(out, "no actions")?;
        } else {
            for s in &stats {
                writeln!(
                    out,
                    "{}: {} recorded, {} applied, {} effective, {} ineffective, {} failed, {} pending, {} dry run",
                    s.runbook, s.recorded, s.applied, s.effective, s.ineffective, s.failed, s.pending, s.dry_run
                )?;
            }
        }
        return Ok(Outcome::Completed);
    }
    let lines: Vec<_> = approve::action_lines(&events)
        .into_iter()
        .filter(|l| args.status.as_ref().is_none_or(|s| &l.outcome == s))
        .collect();
    if args.json {
        serde_json::to_writer(&mut out, &lines)?;
        writeln!(out)?;
    } else if lines.is_empty() {
        writeln!(out, "no actions")?;
    } else {
        for line in &lines {
            writeln!(out, "{line}")?;
        }
    }
    Ok(Outcome::Completed)
}
