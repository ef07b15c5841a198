//! The `forewarn` command line: parses arguments, calls the library, maps outcomes to exit codes
//! (0 completed · 1 the run failed · 2 usage or configuration error · 3 `--fail-on` tripped).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use forewarn::config::{Rule, RuleSet};
use forewarn::findings::{Finding, Severity};
use forewarn::output::FrameFormat;
use forewarn::source::introspect::Generation;
use forewarn::source::queries::QuerySet;
use forewarn::source::{ClickHouseConfig, ClickHouseSource, ParquetSource, Source, TelemetryNames};
use forewarn::window::{timefmt, QueryKind, WindowSpec};

mod exit;
use exit::{ConfigError, Outcome};

/// forewarn — warns about Kubernetes trouble before it becomes an incident.
///
/// Reads OpenTelemetry logs, events and metrics that the collector's ClickHouse exporter
/// stored, aggregates windows of them inside ClickHouse, and judges trends: memory climbing
/// toward a limit, error ratios rising, restarts speeding up, canaries going silent.
///
/// Start with `forewarn demo`: it generates a synthetic cluster and shows what forewarn finds.
#[derive(Parser)]
#[command(
    name = "forewarn",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the rules once (as of now or --at) and print the findings. Takes no actions.
    Analyze(AnalyzeArgs),
    /// Evaluate the rules at every step of a past range and print every finding (JSON lines).
    Backtest(BacktestArgs),
    /// Run one window query and print the aggregated frame a detector would read.
    Query(QueryArgs),
    /// Print the exporter's table DDL (or create the tables with --apply).
    Schema(SchemaArgs),
    /// Run the demo: a synthetic cluster, backtested, with what was found vs. injected.
    /// `demo generate DIR` / `demo load DIR` write the data or load it into ClickHouse.
    Demo(DemoArgs),
    /// Validate the rules and configuration; with --connect, also that the source answers and
    /// has the expected tables. Exits 2 on any configuration error.
    Check(CheckArgs),
}

#[derive(Args, Clone)]
struct RuleArgs {
    /// A directory of rule files (*.yaml) replacing the shipped rules.
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Only the rules of this job (repeatable).
    #[arg(long = "job")]
    jobs: Vec<String>,
    /// Only this rule (repeatable).
    #[arg(long = "rule")]
    rule_names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FindingsFormat {
    Table,
    Json,
    Jsonl,
}

#[derive(Args)]
struct AnalyzeArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// Evaluate as of this time instead of now: RFC 3339 or `now-2h`.
    #[arg(long)]
    at: Option<String>,
    /// Default: a table on a terminal, JSON lines otherwise.
    #[arg(long, value_enum)]
    output: Option<FindingsFormat>,
    /// Exit with code 3 when a firing finding is at or above this severity.
    #[arg(long, value_enum, value_name = "LEVEL")]
    fail_on: Option<Severity>,
}

#[derive(Args)]
struct BacktestArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    rules: RuleArgs,
    /// First as-of time: RFC 3339 or `now-12h`.
    #[arg(long)]
    from: String,
    /// Last as-of time (inclusive).
    #[arg(long, default_value = "now")]
    to: String,
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    step: std::time::Duration,
    #[arg(long, value_enum, default_value = "jsonl")]
    output: FindingsFormat,
    /// The demo's labels.json: score precision, recall and lead time per signal (stderr).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
}

/// Where the telemetry comes from.
#[derive(Args, Clone)]
struct SourceArgs {
    /// `clickhouse` (with the connection flags) or `parquet:DIR` (a directory of exporter tables
    /// as Parquet, e.g. from `forewarn demo generate`).
    #[arg(long, env = "FOREWARN_SOURCE", default_value = "clickhouse")]
    source: String,
    #[command(flatten)]
    clickhouse: ClickHouseArgs,
    #[command(flatten)]
    names: NameArgs,
    /// A directory of .sql files replacing the embedded window queries of the same name
    /// (memory.sql, errors.sql, restarts.sql, pod_events.sql, heartbeats.sql).
    #[arg(long, env = "FOREWARN_QUERIES", value_name = "DIR")]
    queries: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct ClickHouseArgs {
    /// ClickHouse HTTP(S) endpoint.
    #[arg(
        long,
        env = "FOREWARN_CLICKHOUSE_URL",
        default_value = "http://localhost:8123"
    )]
    clickhouse_url: String,
    #[arg(long, env = "FOREWARN_CLICKHOUSE_USER", default_value = "default")]
    clickhouse_user: String,
    /// Never logged or shown in errors. Prefer the environment variable over the flag.
    #[arg(long, env = "FOREWARN_CLICKHOUSE_PASSWORD", hide_env_values = true)]
    clickhouse_password: Option<String>,
    /// Database holding the exporter's tables (`default` for ClickStack, often `otel`).
    #[arg(long, env = "FOREWARN_CLICKHOUSE_DATABASE")]
    clickhouse_database: Option<String>,
    /// Client-side limit per query; also sent as ClickHouse's max_execution_time.
    #[arg(long, env = "FOREWARN_QUERY_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    query_timeout: std::time::Duration,
    /// ClickHouse's max_result_rows for window queries (the query fails rather than flood forewarn).
    #[arg(long, env = "FOREWARN_MAX_RESULT_ROWS", default_value_t = 5_000_000)]
    max_result_rows: u64,
}

#[derive(Args, Clone)]
struct NameArgs {
    #[arg(long, env = "FOREWARN_LOGS_TABLE", default_value = "otel_logs")]
    logs_table: String,
    /// Spans, for rules with `errors.source: traces`.
    #[arg(long, env = "FOREWARN_TRACES_TABLE", default_value = "otel_traces")]
    traces_table: String,
    #[arg(
        long,
        env = "FOREWARN_GAUGE_TABLE",
        default_value = "otel_metrics_gauge"
    )]
    gauge_table: String,
    #[arg(long, env = "FOREWARN_SUM_TABLE", default_value = "otel_metrics_sum")]
    sum_table: String,
    #[arg(
        long,
        env = "FOREWARN_WORKING_SET_METRIC",
        default_value = "container.memory.working_set"
    )]
    working_set_metric: String,
    #[arg(
        long,
        env = "FOREWARN_LIMIT_METRIC",
        default_value = "k8s.container.memory_limit"
    )]
    limit_metric: String,
    #[arg(
        long,
        env = "FOREWARN_REQUEST_METRIC",
        default_value = "k8s.container.memory_request"
    )]
    request_metric: String,
    #[arg(
        long,
        env = "FOREWARN_RESTARTS_METRIC",
        default_value = "k8s.container.restarts"
    )]
    restarts_metric: String,
    /// Resource attribute naming the cluster.
    #[arg(
        long,
        env = "FOREWARN_CLUSTER_ATTRIBUTE",
        default_value = "k8s.cluster.name"
    )]
    cluster_attribute: String,
    /// Resource attribute of the pod label that opts a workload out of forewarn.
    #[arg(
        long,
        env = "FOREWARN_OPT_OUT_ATTRIBUTE",
        default_value = "k8s.pod.labels.forewarn.io/opt-out"
    )]
    opt_out_attribute: String,
    /// Log attribute that marks a heartbeat and names its canary.
    #[arg(long, env = "FOREWARN_CANARY_ATTRIBUTE", default_value = "canary.name")]
    canary_attribute: String,
}

impl NameArgs {
    fn names(&self) -> TelemetryNames {
        TelemetryNames {
            logs_table: self.logs_table.clone(),
            traces_table: self.traces_table.clone(),
            gauge_table: self.gauge_table.clone(),
            sum_table: self.sum_table.clone(),
            working_set_metric: self.working_set_metric.clone(),
            limit_metric: self.limit_metric.clone(),
            request_metric: self.request_metric.clone(),
            restarts_metric: self.restarts_metric.clone(),
            cluster_attribute: self.cluster_attribute.clone(),
            canary_attribute: self.canary_attribute.clone(),
            opt_out_attribute: self.opt_out_attribute.clone(),
            ..TelemetryNames::default()
        }
    }
}

impl ClickHouseArgs {
    fn config(&self) -> ClickHouseConfig {
        ClickHouseConfig {
            url: self.clickhouse_url.clone(),
            user: self.clickhouse_user.clone(),
            password: self.clickhouse_password.clone(),
            database: self.clickhouse_database.clone(),
            query_timeout: self.query_timeout,
            max_result_rows: self.max_result_rows,
        }
    }
}

#[derive(Args)]
struct QueryArgs {
    /// The window: memory, errors, restarts (with pod event reasons), pod_events, heartbeats,
    /// trace_errors (the errors window from span status).
    #[arg(value_parser = parse_query_kind)]
    name: QueryKind,
    #[command(flatten)]
    source: SourceArgs,
    /// End of the window (exclusive): RFC 3339, `now`, or `now-2h`.
    #[arg(long, default_value = "now")]
    until: String,
    /// Start of the window; default: --until minus --lookback.
    #[arg(long)]
    since: Option<String>,
    #[arg(long, default_value = "3h", value_parser = parse_duration)]
    lookback: std::time::Duration,
    /// Bucket width.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    bucket: std::time::Duration,
    #[arg(long, value_enum, default_value = "table")]
    output: FrameFormat,
}

#[derive(Args)]
struct SchemaArgs {
    /// Exporter table generation: g1 (older collectors) or g2 (current).
    #[arg(long, default_value = "g2", value_parser = parse_generation)]
    generation: Generation,
    /// Create the tables (IF NOT EXISTS) in the ClickHouse given by the connection flags.
    #[arg(long)]
    apply: bool,
    #[command(flatten)]
    clickhouse: ClickHouseArgs,
    #[command(flatten)]
    names: NameArgs,
}

/// Without a subcommand: generate a synthetic cluster into a temp dir, backtest the shipped
/// rules over it, and show what forewarn found, when, and how early, next to what was injected.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct DemoArgs {
    #[command(subcommand)]
    command: Option<DemoCommand>,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    #[arg(long, default_value_t = 12.0)]
    hours: f64,
    /// Keep the generated data in this directory instead of a temp dir.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// A directory of rule files replacing the shipped rules.
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum DemoCommand {
    /// Write a synthetic cluster (exporter-schema Parquet + labels.json of what was injected).
    Generate {
        /// Output directory (created if missing).
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Hours of data, ending at --end.
        #[arg(long, default_value_t = 12.0)]
        hours: f64,
        /// End of the data (exclusive): RFC 3339, `now`, or `now-1h`. Floored to the minute.
        #[arg(long, default_value = "now")]
        end: String,
        /// Size multiplier (1.0 ≈ 250 containers).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Load a generated directory into ClickHouse (creating the exporter's tables if missing).
    Load {
        dir: PathBuf,
        /// Table generation to create when the tables do not exist yet.
        #[arg(long, default_value = "g2", value_parser = parse_generation)]
        generation: Generation,
        #[command(flatten)]
        clickhouse: ClickHouseArgs,
        #[command(flatten)]
        names: NameArgs,
    },
}

#[derive(Args)]
struct CheckArgs {
    /// A directory of rule files (*.yaml) to validate instead of the shipped rules.
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Also connect to the source and check its tables.
    #[arg(long)]
    connect: bool,
    #[command(flatten)]
    source: SourceArgs,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    timefmt::parse_duration(text)
}

fn parse_query_kind(text: &str) -> Result<QueryKind, String> {
    QueryKind::from_name(text).ok_or_else(|| {
        format!(
            "unknown window `{text}`; one of: {}",
            QueryKind::ALL.map(|k| k.name()).join(", ")
        )
    })
}

fn parse_generation(text: &str) -> Result<Generation, String> {
    Generation::parse(text).ok_or_else(|| format!("`{text}`: use g1 or g2"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    forewarn::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(run(cli));
    exit::report(outcome)
}

async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Analyze(args) => analyze(args).await,
        Command::Backtest(args) => backtest(args).await,
        Command::Query(args) => query(args).await,
        Command::Schema(args) => schema(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Check(args) => check(args).await,
    }
}

async fn open_source(args: &SourceArgs) -> anyhow::Result<Source> {
    let names = args.names.names();
    let queries = match &args.queries {
        Some(dir) => QuerySet::with_overrides(dir).map_err(|e| ConfigError(e.to_string()))?,
        None => QuerySet::embedded(),
    };
    if let Some(dir) = args.source.strip_prefix("parquet:") {
        let source = ParquetSource::open(std::path::Path::new(dir), names)
            .map_err(|e| ConfigError(e.to_string()))?;
        return Ok(Source::Parquet(source));
    }
    if args.source != "clickhouse" {
        return Err(ConfigError(format!(
            "--source `{}`: use `clickhouse` or `parquet:DIR`",
            args.source
        ))
        .into());
    }
    let source = ClickHouseSource::connect(args.clickhouse.config(), names, queries).await?;
    Ok(Source::ClickHouse(Box::new(source)))
}

async fn query(args: QueryArgs) -> anyhow::Result<Outcome> {
    let now = time::OffsetDateTime::now_utc();
    let until = timefmt::parse_time(&args.until, now).map_err(ConfigError)?;
    let window = match &args.since {
        Some(since) => {
            let since = timefmt::parse_time(since, now).map_err(ConfigError)?;
            WindowSpec {
                since: timefmt::floor_to(since, args.bucket),
                until: timefmt::floor_to(until, args.bucket),
                bucket: args.bucket,
            }
        }
        None => WindowSpec::ending_at(until, args.lookback, args.bucket),
    };
    if window.since >= window.until {
        return Err(ConfigError(format!(
            "empty window: since {} is not before until {}",
            timefmt::rfc3339(window.since),
            timefmt::rfc3339(window.until)
        ))
        .into());
    }
    let source = open_source(&args.source).await?;
    let mut frame = source.fetch_window(args.name, &window).await?;
    tracing::info!(
        query = %args.name,
        since = %timefmt::rfc3339(window.since),
        until = %timefmt::rfc3339(window.until),
        rows = frame.height(),
        "window fetched"
    );
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    forewarn::output::write_frame(&mut frame, args.output, &mut out)?;
    Ok(Outcome::Completed)
}

async fn schema(args: SchemaArgs) -> anyhow::Result<Outcome> {
    let names = args.names.names();
    if !args.apply {
        print!("{}", forewarn::schema::script(args.generation, &names));
        return Ok(Outcome::Completed);
    }
    let config = args.clickhouse.config();
    let client = config.writable_client();
    forewarn::schema::apply(&client, args.generation, &names)
        .await
        .map_err(|e| config.describe_error(e, "forewarn schema --apply"))?;
    eprintln!(
        "created the {} exporter tables ({}, {}, {}, {}) where missing",
        args.generation, names.logs_table, names.traces_table, names.gauge_table, names.sum_table
    );
    Ok(Outcome::Completed)
}

async fn demo(args: DemoArgs) -> anyhow::Result<Outcome> {
    let Some(command) = args.command else {
        return demo_run(args).await;
    };
    match command {
        DemoCommand::Generate {
            dir,
            seed,
            hours,
            end,
            scale,
        } => {
            let now = time::OffsetDateTime::now_utc();
            let end = timefmt::parse_time(&end, now).map_err(ConfigError)?;
            if !(hours > 0.0 && hours <= 24.0 * 14.0) {
                return Err(ConfigError(format!(
                    "--hours {hours}: use more than 0 and at most 336"
                ))
                .into());
            }
            if !(scale > 0.0 && scale <= 100.0) {
                return Err(ConfigError(format!(
                    "--scale {scale}: use more than 0 and at most 100"
                ))
                .into());
            }
            let params = forewarn::demo::generate::DemoParams {
                seed,
                hours,
                end: timefmt::floor_to(end, std::time::Duration::from_secs(60)),
                scale,
            };
            let dataset = forewarn::demo::generate::generate(&params);
            forewarn::demo::parquet::write_dataset(&dataset, &dir)
                .with_context(|| format!("writing demo data to {}", dir.display()))?;
            eprintln!(
                "wrote {} gauge points, {} log records, {} incidents and {} hard negatives to {} ({} → {})",
                dataset.gauge_points.len(),
                dataset.logs.len(),
                dataset.labels.incidents.len(),
                dataset.labels.negatives.len(),
                dir.display(),
                timefmt::rfc3339(dataset.labels.start),
                timefmt::rfc3339(dataset.labels.end),
            );
            Ok(Outcome::Completed)
        }
        DemoCommand::Load {
            dir,
            generation,
            clickhouse,
            names,
        } => {
            let config = clickhouse.config();
            let names = names.names();
            let client = config.writable_client();
            forewarn::schema::apply(&client, generation, &names)
                .await
                .map_err(|e| config.describe_error(e, "creating the exporter tables"))?;
            let loaded = forewarn::demo::load::load_dataset(&dir, &config, &names).await?;
            if loaded.is_empty() {
                return Err(ConfigError(format!(
                    "{}: no otel_*.parquet files to load (run `forewarn demo generate DIR` first)",
                    dir.display()
                ))
                .into());
            }
            for (table, bytes) in loaded {
                eprintln!("loaded {table} ({bytes} bytes of Parquet)");
            }
            Ok(Outcome::Completed)
        }
    }
}

async fn check(args: CheckArgs) -> anyhow::Result<Outcome> {
    let rules = load_rules(args.rules.as_deref())?;
    println!(
        "rules OK: {} rules in {} jobs ({})",
        rules.rules.len(),
        rules.jobs.len(),
        args.rules
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "shipped rules".into())
    );
    if let Some(dir) = &args.source.queries {
        QuerySet::with_overrides(dir).map_err(|e| ConfigError(e.to_string()))?;
    }
    if let Some(dir) = args.source.source.strip_prefix("parquet:") {
        ParquetSource::open(std::path::Path::new(dir), args.source.names.names())
            .map_err(|e| ConfigError(e.to_string()))?;
    }
    if !args.connect {
        println!("configuration OK");
        return Ok(Outcome::Completed);
    }
    match open_source(&args.source).await? {
        Source::ClickHouse(source) => {
            let problems = source.table_problems();
            let (logs, metrics) = source.generations();
            for problem in &problems {
                eprintln!("error: {problem}");
            }
            if !problems.is_empty() {
                return Ok(Outcome::Failed);
            }
            println!(
                "ClickHouse OK: logs table generation {}, metrics table generation {}",
                logs.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
                metrics.map(|g| g.to_string()).unwrap_or_else(|| "-".into())
            );
        }
        Source::Parquet(_) => println!("Parquet directory OK"),
    }
    Ok(Outcome::Completed)
}

fn load_rules(dir: Option<&std::path::Path>) -> anyhow::Result<RuleSet> {
    let set = match dir {
        Some(dir) => RuleSet::load_dir(dir),
        None => RuleSet::embedded(),
    };
    set.map_err(|e| ConfigError(e.to_string().trim_end().to_string()).into())
}

fn select_rules<'a>(set: &'a RuleSet, args: &RuleArgs) -> anyhow::Result<Vec<&'a Rule>> {
    for job in &args.jobs {
        if !set.jobs.iter().any(|j| &j.name == job) {
            return Err(ConfigError(format!("--job {job}: no such job")).into());
        }
    }
    for name in &args.rule_names {
        if !set.rules.iter().any(|r| &r.name == name) {
            return Err(ConfigError(format!("--rule {name}: no such rule")).into());
        }
    }
    Ok(set
        .enabled_rules()
        .filter(|r| args.jobs.is_empty() || args.jobs.contains(&r.job))
        .filter(|r| args.rule_names.is_empty() || args.rule_names.contains(&r.name))
        .collect())
}

fn write_findings(findings: &[Finding], format: FindingsFormat) -> anyhow::Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        FindingsFormat::Table => forewarn::report::write_findings_table(findings, &mut out)?,
        FindingsFormat::Json => {
            serde_json::to_writer_pretty(&mut out, findings)?;
            writeln!(out)?;
        }
        FindingsFormat::Jsonl => {
            for f in findings {
                serde_json::to_writer(&mut out, f)?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

async fn analyze(args: AnalyzeArgs) -> anyhow::Result<Outcome> {
    use std::io::IsTerminal;
    let set = load_rules(args.rules.rules.as_deref())?;
    let rules = select_rules(&set, &args.rules)?;
    let now = time::OffsetDateTime::now_utc();
    let as_of = match &args.at {
        Some(at) => timefmt::parse_time(at, now).map_err(ConfigError)?,
        None => now,
    };
    let source = open_source(&args.source).await?;
    let findings = forewarn::evaluate::analyze(&source, &rules, as_of).await?;
    let format = args.output.unwrap_or(if std::io::stdout().is_terminal() {
        FindingsFormat::Table
    } else {
        FindingsFormat::Jsonl
    });
    write_findings(&findings, format)?;
    tracing::info!(rules = rules.len(), findings = findings.len(), as_of = %timefmt::rfc3339(as_of), "analysis complete");
    Ok(fail_on(&findings, args.fail_on))
}

fn fail_on(findings: &[Finding], level: Option<Severity>) -> Outcome {
    match (level, forewarn::report::highest_firing(findings)) {
        (Some(level), Some(highest)) if highest >= level => Outcome::FailOn,
        _ => Outcome::Completed,
    }
}

async fn backtest(args: BacktestArgs) -> anyhow::Result<Outcome> {
    let set = load_rules(args.rules.rules.as_deref())?;
    let rules = select_rules(&set, &args.rules)?;
    let now = time::OffsetDateTime::now_utc();
    let from = timefmt::parse_time(&args.from, now).map_err(ConfigError)?;
    let to = timefmt::parse_time(&args.to, now).map_err(ConfigError)?;
    if from > to {
        return Err(ConfigError("--from must not be after --to".into()).into());
    }
    let labels = match &args.labels {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("--labels {}: {e}", path.display())))?;
            Some(
                serde_json::from_str::<forewarn::demo::model::Labels>(&text)
                    .map_err(|e| ConfigError(format!("--labels {}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let source = open_source(&args.source).await?;
    let started = std::time::Instant::now();
    let findings = run_backtest(&source, &rules, from, to, args.step, true, |batch| {
        write_findings(batch, args.output)
    })
    .await?;
    let steps = forewarn::evaluate::steps(from, to, args.step).len();
    let mut err = std::io::stderr().lock();
    forewarn::report::write_backtest_summary(
        &findings,
        steps,
        started.elapsed().as_secs_f64(),
        &mut err,
    )?;
    if let Some(labels) = labels {
        let report = forewarn::score::score(&labels, &findings);
        forewarn::report::write_score(&report, &mut err)?;
    }
    Ok(Outcome::Completed)
}

/// Fetches once, evaluates every step, hands each step's findings to `emit`, returns them all.
async fn run_backtest(
    source: &Source,
    rules: &[&Rule],
    from: time::OffsetDateTime,
    to: time::OffsetDateTime,
    step: std::time::Duration,
    progress: bool,
    mut emit: impl FnMut(&[Finding]) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Finding>> {
    use std::io::IsTerminal;
    let data = forewarn::evaluate::BacktestData::fetch(source, rules, from, to).await?;
    let steps = forewarn::evaluate::steps(from, to, step);
    let bar = (progress && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(steps.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} backtest {bar:40} {pos}/{len} steps {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut all = Vec::new();
    for as_of in steps {
        let findings = data.evaluate(rules, as_of)?;
        emit(&findings)?;
        all.extend(findings);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(all)
}

async fn demo_run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let set = load_rules(args.rules.as_deref())?;
    let rules: Vec<&Rule> = set.enabled_rules().collect();
    let temp;
    let dir = match &args.keep {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("creating a temp dir for the demo data")?;
            temp.path().to_path_buf()
        }
    };
    let params = forewarn::demo::generate::DemoParams {
        seed: args.seed,
        hours: args.hours,
        end: timefmt::floor_to(
            time::OffsetDateTime::now_utc(),
            std::time::Duration::from_secs(300),
        ),
        scale: 1.0,
    };
    let started = std::time::Instant::now();
    let dataset = forewarn::demo::generate::generate(&params);
    forewarn::demo::parquet::write_dataset(&dataset, &dir)
        .with_context(|| format!("writing demo data to {}", dir.display()))?;
    let generated_s = started.elapsed().as_secs_f64();
    let labels = dataset.labels.clone();
    let (points, logs) = (dataset.gauge_points.len(), dataset.logs.len());
    drop(dataset);
    let source = Source::Parquet(ParquetSource::open(&dir, TelemetryNames::default())?);
    // Start once the detectors have two hours of history behind them (the memory rule's
    // longest fit span): judging a series from its first hour cannot tell a slow GC cycle
    // from a leak.
    let from = labels.start + time::Duration::hours(2);
    let started = std::time::Instant::now();
    let findings = run_backtest(
        &source,
        &rules,
        from,
        labels.end,
        std::time::Duration::from_secs(300),
        true,
        |_| Ok(()),
    )
    .await?;
    let backtest_s = started.elapsed().as_secs_f64();
    let report = forewarn::score::score(&labels, &findings);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    use std::io::Write;
    writeln!(
        out,
        "forewarn demo — a synthetic cluster, {} h of telemetry ({} metric points, {} log records, seed {}),\n\
         generated in {generated_s:.1} s; the shipped rules ({}) backtested every 5 min from {} to {} in {backtest_s:.1} s.\n",
        args.hours,
        points,
        logs,
        args.seed,
        rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
        timefmt::rfc3339(from),
        timefmt::rfc3339(labels.end),
    )?;
    forewarn::report::write_demo_report(&report, &findings, &mut out)?;
    if let Some(dir) = &args.keep {
        writeln!(
            out,
            "\nData kept in {} (try: forewarn analyze --source parquet:{} --at {})",
            dir.display(),
            dir.display(),
            timefmt::rfc3339(labels.end)
        )?;
    }
    Ok(Outcome::Completed)
}
