//! `forewarn report daily`: the daily trend report — to stdout, a file (`--out`), and with
//! `--send` to the receivers of rules/notify.yaml's `report:`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use forewarn::error::ConfigError;
use forewarn::report::job::{DailyJob, DailyOutcome};
use forewarn::report::{text, ReportOptions};
use forewarn::source::SourceSpec;

use crate::exit::Outcome;
use crate::{parse_duration, time_flag, SourceArgs, StateArgs};

#[derive(Subcommand)]
pub(crate) enum ReportCommand {
    /// The day in review: containers closest to their memory limit and fastest-growing (with
    /// forecasts), services with the highest and fastest-rising error ratios, restarts and their
    /// reasons, canary uptime and outages, and forewarn's own day from the state — each compared
    /// with the day and the week before, with charts. Prints the text; --out writes HTML (or
    /// .txt / .json), --send delivers it (exit 1 when a window could not be read or a delivery
    /// failed).
    Daily(DailyArgs),
}

#[derive(Args)]
pub(crate) struct DailyArgs {
    /// The day: a date (`2026-12-02`: that UTC day, midnight to midnight) or the end of the
    /// period (RFC 3339, `now`, `now-1h`).
    #[arg(long, default_value = "now")]
    at: String,
    /// How far back the report looks from its end.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    period: std::time::Duration,
    /// Entities per list.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Write the report here: .html (charts inline as data: URIs), .txt or .json.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Send it to rules/notify.yaml's `report: receivers:` (email: the whole report; Slack: the
    /// headlines).
    #[arg(long)]
    send: bool,
    /// The report as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    pub(crate) state: StateArgs,
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
}

/// `--at`: a date means the whole of that UTC day.
fn report_end(text: &str) -> Result<time::OffsetDateTime, ConfigError> {
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, &date_format) {
        return Ok(date.next_day().unwrap_or(date).midnight().assume_utc());
    }
    time_flag("--at", text)
}

pub(crate) async fn report(command: ReportCommand) -> anyhow::Result<Outcome> {
    match command {
        ReportCommand::Daily(args) => daily(args).await,
    }
}

async fn daily(args: DailyArgs) -> anyhow::Result<Outcome> {
    if args.period.is_zero() {
        return Err(ConfigError::flag("--period", "0s", "must be longer than zero").into());
    }
    let until = report_end(&args.at)?;
    let whole = forewarn::config::whole::load(args.rules.as_deref()).map_err(ConfigError::from)?;
    let settings = args.source.settings()?.watching(&whole.rules);
    let parquet = matches!(settings.spec, SourceSpec::Parquet(_));
    let store = if parquet && args.state.sqlite.is_none() {
        None
    } else {
        Some(crate::commands::open_store(&args.source, &args.state).await?)
    };
    let source = settings.open().await?;
    let outcome = DailyJob {
        source: &source,
        rules: &whole.rules,
        notify: &whole.notify,
        store: store.as_ref(),
        no_store_note: store.is_none().then(|| {
            "No state store (--state PATH): forewarn's own findings, notifications and actions are not included.".to_string()
        }),
        options: ReportOptions {
            until,
            period: args.period,
            top: args.top,
        },
        out: args.out.clone(),
        send: args.send,
    }
    .run()
    .await?;
    print(&outcome, args.json)
}

pub(crate) fn print(outcome: &DailyOutcome, json: bool) -> anyhow::Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut stdout, &outcome.report)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", text::render(&outcome.report))?;
    }
    if let Some(path) = &outcome.written {
        eprintln!("report written to {}", path.display());
    }
    for (name, result) in &outcome.deliveries {
        match result {
            Ok(d) => eprintln!("report sent to {name} ({}, {})", d.kind, d.response),
            Err(e) => eprintln!(
                "error: the report was NOT delivered to {name}: {}",
                forewarn::act::notify::error::chain(e)
            ),
        }
    }
    for p in &outcome.report.problems {
        eprintln!("error: could not read {}: {}", p.part, p.error);
    }
    Ok(if outcome.succeeded() {
        Outcome::Completed
    } else {
        Outcome::Failed
    })
}
