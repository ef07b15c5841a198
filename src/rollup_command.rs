//! `forewarn rollup status|backfill`: what the rollups in forewarn's own database hold, and
//! filling their history.

use clap::{Args, Subcommand};

use forewarn::error::ConfigError;
use forewarn::findings::duration_text;
use forewarn::rollup::tables::Rollup;
use forewarn::rollup::{RollupMode, Rollups};
use forewarn::source::introspect::Generation;
use forewarn::source::{ClickHouseSource, Source, SourceError, SourceSpec};
use forewarn::window::timefmt;

use crate::exit::Outcome;
use crate::{parse_duration, progress_bar, time_flag, SourceArgs};

#[derive(Subcommand)]
pub(crate) enum RollupCommand {
    /// Which rollup mode is active, and per rollup: the first minute it holds, how far it
    /// reaches, its lag behind now, its rows and series, and whether it was built with the
    /// current names and queries.
    Status(StatusArgs),
    /// Fill the rollups from --since to --until in bounded chunks (one INSERT … SELECT per chunk
    /// and table, run by ClickHouse), with a progress bar on a terminal. In views mode only the
    /// minutes before the views' creation are filled.
    Backfill(BackfillArgs),
}

#[derive(Args)]
pub(crate) struct StatusArgs {
    /// JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Args)]
pub(crate) struct BackfillArgs {
    /// The first minute to fill: RFC 3339 or `now-7d`.
    #[arg(long)]
    since: String,
    /// Fill up to here (exclusive).
    #[arg(long, default_value = "now")]
    until: String,
    /// How much one statement aggregates.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    chunk: std::time::Duration,
    #[command(flatten)]
    source: SourceArgs,
}

pub(crate) async fn rollup(command: RollupCommand) -> anyhow::Result<Outcome> {
    match command {
        RollupCommand::Status(args) => status(args).await,
        RollupCommand::Backfill(args) => backfill(args).await,
    }
}

/// Opens the ClickHouse source with its rollups (pull unless --rollups says otherwise).
async fn open(source: &SourceArgs) -> anyhow::Result<Box<ClickHouseSource>> {
    let settings = source.scheduled_settings()?;
    if settings.spec != SourceSpec::ClickHouse {
        return Err(ConfigError::flag(
            "--source",
            "parquet",
            "rollups live in ClickHouse: use --source clickhouse",
        )
        .into());
    }
    if settings.rollups.as_ref().map(|r| r.mode) == Some(RollupMode::Off) {
        return Err(
            ConfigError::flag("--rollups", "off", "rollups are off: choose pull or views").into(),
        );
    }
    match settings.open().await? {
        Source::ClickHouse(source) => Ok(source),
        Source::Parquet(_) => unreachable!("the spec is ClickHouse"),
    }
}

fn generation_of(
    source: &ClickHouseSource,
) -> impl Fn(&Rollup) -> Result<Generation, SourceError> + '_ {
    move |rollup: &Rollup| {
        if rollup.uses_logs {
            source.logs_generation(&format!("rollup {}", rollup.name))
        } else {
            // The metrics queries read the same columns in both generations.
            Ok(Generation::G2)
        }
    }
}

fn rollups_of(source: &ClickHouseSource) -> &Rollups {
    source.rollups().expect("open() gives rollups")
}

async fn status(args: StatusArgs) -> anyhow::Result<Outcome> {
    let source = open(&args.source).await?;
    let rollups = rollups_of(&source);
    let now = time::OffsetDateTime::now_utc();
    let statuses = rollups
        .status(source.names(), generation_of(&source), now)
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "mode": rollups.mode(),
                "database": args.source.rollup_database,
                "cluster": args.source.rollup_cluster,
                "ddl": args.source.rollup_cluster.as_ref().map(|_| args.source.rollup_ddl),
                "overlap_seconds": args.source.rollup_overlap.as_secs(),
                "rollups": statuses,
            }))?
        );
        return Ok(Outcome::Completed);
    }
    let spread = match &args.source.rollup_cluster {
        Some(cluster) => format!(
            ", Distributed over cluster {cluster} ({} DDL)",
            match args.source.rollup_ddl {
                forewarn::rollup::ClusterDdl::OnCluster => "ON CLUSTER",
                forewarn::rollup::ClusterDdl::Local => "local",
            }
        ),
        None => String::new(),
    };
    println!(
        "rollups: {} mode, database {}{spread} (overlap {})",
        rollups.mode().name(),
        args.source.rollup_database,
        duration_text(args.source.rollup_overlap.as_secs_f64())
    );
    println!(
        "{:<8} {:<21} {:<21} {:>10} {:>10} {:>7}  current",
        "rollup", "covered from", "reaches", "lag", "rows", "series"
    );
    for s in &statuses {
        println!(
            "{:<8} {:<21} {:<21} {:>10} {:>10} {:>7}  {}",
            s.rollup,
            s.covered_from.as_deref().unwrap_or("-"),
            s.reach.as_deref().unwrap_or("-"),
            s.lag_seconds
                .map(duration_text)
                .unwrap_or_else(|| "-".into()),
            s.rows,
            s.series,
            if s.current {
                "yes"
            } else {
                "no (rebuilt on the next run)"
            }
        );
    }
    Ok(Outcome::Completed)
}

async fn backfill(args: BackfillArgs) -> anyhow::Result<Outcome> {
    let minute = std::time::Duration::from_secs(60);
    let since = timefmt::floor_to(time_flag("--since", &args.since)?, minute);
    let until = timefmt::floor_to(time_flag("--until", &args.until)?, minute);
    if since >= until {
        return Err(ConfigError::flag(
            "--since",
            &args.since,
            format!("must be before --until ({})", timefmt::rfc3339(until)),
        )
        .into());
    }
    if args.chunk < minute {
        return Err(ConfigError::flag("--chunk", "", "must be at least 1m").into());
    }
    let source = open(&args.source).await?;
    let rollups = rollups_of(&source);
    let bar = progress_bar("rollup backfill", "chunks");
    let started = std::time::Instant::now();
    let filled = rollups
        .backfill(
            since,
            until,
            args.chunk,
            source.names(),
            generation_of(&source),
            |rollup, done, total| {
                if let Some(bar) = &bar {
                    bar.set_message(rollup.to_string());
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                }
            },
        )
        .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for (rollup, coverage) in filled {
        println!(
            "{rollup}: holds {} to {}",
            timefmt::rfc3339(coverage.from),
            timefmt::rfc3339(coverage.reach)
        );
    }
    eprintln!(
        "backfilled {} to {} in {:.1} s",
        timefmt::rfc3339(since),
        timefmt::rfc3339(until),
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome::Completed)
}
