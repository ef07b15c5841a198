//! The state-backed commands of the CLI (`run`, `findings`, `history`, `silence`): each loads
//! the configuration, opens the source settings and the state store, and calls the library.

use std::io::{IsTerminal, Write};

use anyhow::Context;

use forewarn::act::notify::DeadmanPinger;
use forewarn::error::ConfigError;
use forewarn::evaluate;
use forewarn::output::FindingsFormat;
use forewarn::run::{Delivery, JobRunner, Receivers, RunRequest};
use forewarn::state::history::{EventKind, NewEvent};
use forewarn::state::{derive, AnyStore, Matcher, Silence, StateStore};
use forewarn::window::timefmt;

use crate::exit::Outcome;
use crate::{time_flag, FindingsArgs, HistoryArgs, RunArgs, SilenceCommand, SourceArgs, StateArgs};

pub(crate) async fn open_store(source: &SourceArgs, state: &StateArgs) -> anyhow::Result<AnyStore> {
    let settings = source.settings()?;
    match state.settings().open(&settings).await {
        Ok(store) => Ok(store),
        Err(forewarn::run::OpenStateError::NoStore) => Err(ConfigError::flag(
            "--state",
            "",
            forewarn::run::OpenStateError::NoStore.to_string(),
        )
        .into()),
        Err(e) => Err(anyhow::Error::new(e).context("opening the state store")),
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let whole = forewarn::config::whole::load(args.rules.as_deref()).map_err(ConfigError::from)?;
    let (rules, notify) = (whole.rules, whole.notify);
    let remediation = forewarn::run::Remediation {
        runbooks: whole.runbooks,
        kube: forewarn::run::KubeAccess::new(args.kube_context.clone()),
    };
    let as_of = match &args.at {
        Some(at) => time_flag("--at", at)?,
        None => time::OffsetDateTime::now_utc(),
    };
    let settings = args.source.scheduled_settings()?.watching(&rules);
    if forewarn::report::job::report_of(&rules, &args.job).is_some() {
        // A report job: the daily report of the 24 h before --at, sent to notify.yaml's
        // `report:` receivers (with --dry-run: printed, sent nowhere).
        let store = open_store(&args.source, &args.state).await?;
        let source = settings.open().await?;
        let outcome = forewarn::report::job::scheduled_daily(
            &source,
            &rules,
            &notify,
            &store,
            as_of,
            args.dry_run,
        )
        .await
        .with_context(|| format!("run {}", args.job))?;
        return crate::report_command::print(&outcome, args.json);
    }
    let receivers = Receivers::build(&notify, |v| std::env::var(v).ok())
        .map_err(|e| ConfigError::flag("rules/notify.yaml", "receivers", e.to_string()))?;
    let deadman = DeadmanPinger::from_env().context("FOREWARN_DEADMAN_URL")?;
    let store = open_store(&args.source, &args.state).await?;
    let delivery = Delivery::Send(receivers);
    let runner = JobRunner {
        rules: &rules,
        notify: &notify,
        source: &settings,
        store: &store,
        delivery: &delivery,
        deadman: deadman.as_ref(),
        remediation: Some(&remediation),
    };
    runner.job_rules(&args.job).map_err(|e| match e {
        forewarn::run::RunError::Select(e) => anyhow::Error::from(ConfigError::from(e)),
        other => ConfigError::flag("JOB", &args.job, other.to_string()).into(),
    })?;
    let started = std::time::Instant::now();
    let summary = runner
        .run(&RunRequest {
            job: args.job.clone(),
            as_of,
            dry_run: args.dry_run,
        })
        .await
        .with_context(|| format!("run {}", args.job))?;
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        for message in &summary.messages {
            writeln!(out, "would send to {}:", message.receiver)?;
            writeln!(
                out,
                "{}\n",
                forewarn::act::notify::email::plain_text(message)
            )?;
        }
    }
    if !args.json {
        for action in &summary.remediation.actions {
            writeln!(out, "{action}")?;
        }
    }
    for failure in &summary.failures {
        eprintln!("error: {failure}");
    }
    if let Some(blind) = &summary.blind {
        eprintln!("error: monitor blind: {blind}");
    }
    if args.json {
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{summary}")?;
    }
    forewarn::run::summary::log_summary(&summary, started.elapsed().as_secs_f64());
    Ok(if summary.is_complete() {
        Outcome::Completed
    } else {
        Outcome::Failed
    })
}

pub async fn findings(args: FindingsArgs) -> anyhow::Result<Outcome> {
    let rules = evaluate::load_rules(args.rules.as_deref()).map_err(ConfigError::from)?;
    let jobs: Vec<String> = if args.jobs.is_empty() {
        rules.jobs.iter().map(|j| j.name.clone()).collect()
    } else {
        args.jobs.clone()
    };
    let store = open_store(&args.source, &args.state).await?;
    let mut episodes = Vec::new();
    for job in &jobs {
        episodes.extend(derive::open_episodes(&store.events_for_job(job).await?));
    }
    episodes.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen_at.cmp(&b.first_seen_at))
    });
    let format = args.output.unwrap_or(FindingsFormat::for_terminal(
        std::io::stdout().is_terminal(),
    ));
    let mut out = std::io::stdout().lock();
    match format {
        FindingsFormat::Table => {
            if episodes.is_empty() {
                writeln!(out, "no open findings")?;
            }
            for e in &episodes {
                writeln!(
                    out,
                    "{:<8} {:<18} {}\n         first seen {} · last seen {} · {} · {}\n         id {}",
                    e.severity.to_string().to_uppercase(),
                    e.rule,
                    forewarn::output::findings::entity_text(&e.entity),
                    timefmt::rfc3339(e.first_seen_at),
                    timefmt::rfc3339(e.last_seen_at),
                    match e.last_announced_at {
                        Some(at) => format!("notified {}", timefmt::rfc3339(at)),
                        None => "not notified".into(),
                    },
                    match &e.silenced_by {
                        Some(id) => format!("silenced by {id}"),
                        None => "not silenced".into(),
                    },
                    e.fingerprint,
                )?;
            }
        }
        FindingsFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &episodes)?;
            writeln!(out)?;
        }
        FindingsFormat::Jsonl => {
            for e in &episodes {
                serde_json::to_writer(&mut out, e)?;
                writeln!(out)?;
            }
        }
    }
    Ok(Outcome::Completed)
}

pub async fn history(args: HistoryArgs) -> anyhow::Result<Outcome> {
    let store = open_store(&args.source, &args.state).await?;
    let events = store.episode_history(&args.fingerprint).await?;
    let mut out = std::io::stdout().lock();
    if events.is_empty() {
        eprintln!("no history for {}", args.fingerprint);
        return Ok(Outcome::Failed);
    }
    for e in &events {
        if args.json {
            serde_json::to_writer(&mut out, e)?;
            writeln!(out)?;
            continue;
        }
        let kind = serde_json::to_value(&e.kind).unwrap_or_default();
        let detail: Vec<String> = kind
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, v)| *k != "kind" && !v.is_null())
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            v.as_str().map(str::to_string).unwrap_or(v.to_string())
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        writeln!(
            out,
            "{} {:<10} {:<20} {}",
            timefmt::rfc3339(e.at),
            e.job,
            e.kind.name(),
            detail.join(" ")
        )?;
    }
    Ok(Outcome::Completed)
}

/// Silences belong to no job: they apply to every job's findings.
const SILENCE_JOB: &str = "*";

pub async fn silence(command: SilenceCommand) -> anyhow::Result<Outcome> {
    let now = time::OffsetDateTime::now_utc();
    let mut out = std::io::stdout().lock();
    match command {
        SilenceCommand::Add {
            matchers,
            duration,
            start,
            comment,
            author,
            source,
            state,
        } => {
            let matchers = matchers
                .iter()
                .map(|m| {
                    Matcher::parse(m).map_err(|e| ConfigError::flag("--match", m, e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let starts_at = match &start {
                Some(s) => time_flag("--start", s)?,
                None => now,
            };
            let ends_at = starts_at + duration;
            let silence = Silence::new(matchers, starts_at, ends_at, comment, author)
                .map_err(|e| ConfigError::flag("silence", "", e.to_string()))?;
            let store = open_store(&source, &state).await?;
            store
                .append(&[NewEvent {
                    at: now,
                    job: SILENCE_JOB.into(),
                    run_id: "cli".into(),
                    kind: EventKind::SilenceAdded {
                        silence: silence.clone(),
                    },
                    fingerprint: None,
                    payload: serde_json::Value::Null,
                }])
                .await?;
            writeln!(
                out,
                "silence {} added: until {}",
                silence.id,
                timefmt::rfc3339(silence.ends_at)
            )?;
        }
        SilenceCommand::List { all, source, state } => {
            let store = open_store(&source, &state).await?;
            let events = store.silence_events().await?;
            let silences = if all {
                derive::all_silences(&events)
            } else {
                derive::active_silences(&events, now)
            };
            if silences.is_empty() {
                writeln!(out, "no silences{}", if all { "" } else { " in force" })?;
            }
            for s in silences {
                let matchers: Vec<String> = s
                    .matchers
                    .iter()
                    .map(|m| format!("{}={}", m.name, m.value))
                    .collect();
                writeln!(
                    out,
                    "{}  {} → {}  {}  by {}: {}",
                    s.id,
                    timefmt::rfc3339(s.starts_at),
                    timefmt::rfc3339(s.ends_at),
                    matchers.join(","),
                    s.created_by,
                    s.comment
                )?;
            }
        }
        SilenceCommand::Expire { id, source, state } => {
            let store = open_store(&source, &state).await?;
            let events = store.silence_events().await?;
            if !derive::active_silences(&events, now)
                .iter()
                .any(|s| s.id == id)
            {
                return Err(
                    ConfigError::flag("ID", &id, "no silence with this id is in force").into(),
                );
            }
            store
                .append(&[NewEvent {
                    at: now,
                    job: SILENCE_JOB.into(),
                    run_id: "cli".into(),
                    kind: EventKind::SilenceExpired {
                        silence_id: id.clone(),
                    },
                    fingerprint: None,
                    payload: serde_json::Value::Null,
                }])
                .await?;
            writeln!(out, "silence {id} expired")?;
        }
    }
    Ok(Outcome::Completed)
}
