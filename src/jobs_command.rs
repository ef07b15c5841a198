//! `forewarn jobs`: the jobs of the rule set, their schedules, the rules in each, and when each
//! runs next — in UTC and in a local zone (`--tz`, else the job's own zone, else this machine's).

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use forewarn::config::RuleSet;
use forewarn::error::ConfigError;
use forewarn::evaluate;
use forewarn::schedule::{parse_time_zone, to_chrono, JobSchedule};
use forewarn::window::timefmt;

use crate::exit::Outcome;
use crate::time_flag;

#[derive(Args)]
pub(crate) struct JobsArgs {
    /// A directory of rule files (*.yaml) replacing the shipped rules.
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<std::path::PathBuf>,
    /// One JSON array instead of text.
    #[arg(long)]
    json: bool,
    /// Show local times in this IANA zone (default: the job's zone, else this machine's).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// How many next run times per job.
    #[arg(long, default_value_t = 3)]
    count: usize,
    /// Compute the next runs after this time instead of now: RFC 3339 or `now+1h`.
    #[arg(long)]
    at: Option<String>,
}

#[derive(Serialize)]
struct JobListing {
    name: String,
    schedule: String,
    time_zone: String,
    description: String,
    rules: Vec<RuleEntry>,
    next_runs: Vec<NextRun>,
}

#[derive(Serialize)]
struct RuleEntry {
    name: String,
    signal: String,
    enabled: bool,
}

#[derive(Serialize)]
struct NextRun {
    utc: String,
    /// RFC 3339 with the local zone's offset.
    local: String,
    /// How the local time reads to a person (`2026-11-20 08:00:00 CET`).
    #[serde(skip)]
    local_text: String,
}

/// Where local times are shown.
enum LocalZone {
    Named(chrono_tz::Tz),
    Machine,
}

impl LocalZone {
    fn show(&self, t: DateTime<Utc>) -> (String, String) {
        match self {
            LocalZone::Named(zone) => {
                let t = t.with_timezone(zone);
                (t.to_rfc3339(), t.format("%Y-%m-%d %H:%M:%S %Z").to_string())
            }
            LocalZone::Machine => {
                let t = t.with_timezone(&chrono::Local);
                (
                    t.to_rfc3339(),
                    t.format("%Y-%m-%d %H:%M:%S %:z").to_string(),
                )
            }
        }
    }
}

fn listing(
    set: &RuleSet,
    after: time::OffsetDateTime,
    count: usize,
    tz: Option<chrono_tz::Tz>,
) -> Result<Vec<JobListing>, ConfigError> {
    let mut jobs = Vec::new();
    for job in &set.jobs {
        let schedule = JobSchedule::of(job)
            .map_err(|e| ConfigError::flag("--rules", &job.name, e.to_string()))?;
        let zone = match (tz, &job.time_zone) {
            (Some(tz), _) => LocalZone::Named(tz),
            (None, Some(_)) => LocalZone::Named(schedule.time_zone),
            (None, None) => LocalZone::Machine,
        };
        let next_runs = schedule
            .next_runs(after, count)
            .into_iter()
            .filter_map(to_chrono)
            .map(|t| {
                let (local, local_text) = zone.show(t);
                NextRun {
                    utc: timefmt::rfc3339(forewarn::schedule::from_chrono(t).unwrap_or(after)),
                    local,
                    local_text,
                }
            })
            .collect();
        jobs.push(JobListing {
            name: job.name.clone(),
            schedule: job.schedule.clone(),
            time_zone: schedule.time_zone.name().to_string(),
            description: job.description.clone(),
            rules: set
                .rules
                .iter()
                .filter(|r| r.job == job.name)
                .map(|r| RuleEntry {
                    name: r.name.clone(),
                    signal: r.signal.to_string(),
                    enabled: r.enabled,
                })
                .collect(),
            next_runs,
        });
    }
    Ok(jobs)
}

pub(crate) async fn jobs(args: JobsArgs) -> anyhow::Result<Outcome> {
    let set = evaluate::load_rules(args.rules.as_deref()).map_err(ConfigError::from)?;
    let tz = match &args.tz {
        Some(text) => Some(parse_time_zone(text).map_err(|m| ConfigError::flag("--tz", text, m))?),
        None => None,
    };
    let after = match &args.at {
        Some(at) => time_flag("--at", at)?,
        None => time::OffsetDateTime::now_utc(),
    };
    let jobs = listing(&set, after, args.count, tz)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &jobs)?;
        writeln!(out)?;
        return Ok(Outcome::Completed);
    }
    for (i, job) in jobs.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}  `{}` ({})", job.name, job.schedule, job.time_zone)?;
        if !job.description.is_empty() {
            writeln!(out, "  {}", job.description)?;
        }
        let rules: Vec<String> = job
            .rules
            .iter()
            .map(|r| {
                if r.enabled {
                    format!("{} ({})", r.name, r.signal)
                } else {
                    format!("{} ({}, disabled)", r.name, r.signal)
                }
            })
            .collect();
        if rules.is_empty() {
            writeln!(out, "  rules: none")?;
        } else {
            writeln!(out, "  rules: {}", rules.join(", "))?;
        }
        for run in &job.next_runs {
            writeln!(out, "  next:  {}  {}", run.utc, run.local_text)?;
        }
    }
    Ok(Outcome::Completed)
}
