//! The `forewarn` command line: parses arguments, calls the library, maps outcomes to exit codes
//! (0 completed · 1 the run failed · 2 usage or configuration error · 3 `--fail-on` tripped).

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::{IsTerminal, Write};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use forewarn::error::ConfigError;

/// Polars frees large buffers from many threads: glibc's per-thread arenas kept them (a 24 h
/// backtest peaked at 1.6 GB), jemalloc returns them (bench/report.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read as it starts: freed pages go back to the system at once. A window
/// is decoded in small batches in per-thread arenas and then rebuilt column by column; pages
/// kept for reuse (decay) held both copies at once: the daemon's first splice peaked at 340 MiB
/// with a 1 s decay and 208 MiB with none, a steady views run 219 -> 172 MiB, for about 10 %
/// more time on a read. The backtest sets a 1 s decay for itself ([`keep_freed_pages_for`]);
/// jemalloc's default 10 s had peaked at 1,195 MiB there (bench/report.md).
#[export_name = "_rjem_malloc_conf"]
pub static JEMALLOC_CONF: &[u8; 57] = b"background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0\0";

/// Has jemalloc keep freed pages for `ms` before returning them, in every arena and in those
/// created later. The backtest allocates and frees the same large buffers over and over:
/// returning them at once (the binary's setting) cost it 56 % more time (53 s against 34 s for
/// the 24 h demo backtest, bench/report.md). A failure leaves the setting as it was.
fn keep_freed_pages_for(ms: isize) {
    use std::ffi::c_void;
    use tikv_jemalloc_sys::mallctl;
    let write = |name: &str| {
        let name = format!("{name}\0");
        let mut value = ms;
        // SAFETY: a NUL-terminated name and a ssize_t value, as these mallctl names take.
        unsafe {
            mallctl(
                name.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                (&mut value as *mut isize).cast::<c_void>(),
                std::mem::size_of::<isize>(),
            )
        }
    };
    let mut arenas: u32 = 0;
    let mut len = std::mem::size_of::<u32>();
    // SAFETY: "arenas.narenas" reads an unsigned int into `arenas`.
    let read = unsafe {
        mallctl(
            c"arenas.narenas".as_ptr(),
            (&mut arenas as *mut u32).cast::<c_void>(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if read == 0 {
        for arena in 0..arenas {
            write(&format!("arena.{arena}.dirty_decay_ms"));
        }
    }
    write("arenas.dirty_decay_ms");
}
use forewarn::evaluate::{self, select_rules, RunReport, Windows};
use forewarn::findings::Severity;
use forewarn::output::{FindingsFormat, FrameFormat};
use forewarn::source::introspect::Generation;
use forewarn::source::{ClickHouseConfig, SourceSettings, SourceSpec, TelemetryNames};
use forewarn::window::{timefmt, QueryKind, WindowSpec};

mod commands;
mod exit;
mod explain_command;
mod jobs_command;
mod manifests_command;
mod remediate_cli;
mod report_command;
mod rollup_command;
mod serve_command;
use exit::Outcome;

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
    /// Run one job as its CronJob does: judge the job's rules, update the state (new, ongoing,
    /// resolved episodes), notify the routes of rules/notify.yaml, ping the dead-man URL.
    /// Ends with one summary line; exit 1 when the source could not be read (monitor blind).
    Run(RunArgs),
    /// List the open finding episodes in the state: first and last seen, severity, notified,
    /// silenced.
    Findings(FindingsArgs),
    /// Show one finding's timeline (episodes, announcements, notifications) by its fingerprint.
    History(HistoryArgs),
    /// Silence findings for a while: they are recorded but not announced.
    #[command(subcommand)]
    Silence(SilenceCommand),
    /// Approve a pending remediation action: the fence is checked again, then it is applied
    /// once (approving again does nothing).
    Approve(remediate_cli::ApproveArgs),
    /// Reject a pending remediation action, with a reason: it is never applied.
    Reject(remediate_cli::RejectArgs),
    /// List remediation actions (pending, applied, failed, verified, refused), or with
    /// --stats how many each runbook applied and how many were effective.
    Actions(remediate_cli::ActionsArgs),
    /// List the jobs: their schedules, the rules in each, and the next run times (UTC and
    /// local).
    Jobs(jobs_command::JobsArgs),
    /// Beat once as the canary NAME: one structured log line on stdout (what the collector's
    /// filelog pipeline carries into otel_logs), or with --direct the row inserted straight into
    /// ClickHouse. The heartbeat rules' default matcher recognises either.
    Canary(CanaryArgs),
    /// Generate the Kubernetes manifests (kubectl apply -k): namespace, ServiceAccount, RBAC
    /// for the runbooks, the rules ConfigMap, one CronJob per job, the canary, and the `serve`
    /// Deployment as an alternative.
    Manifests(manifests_command::ManifestsArgs),
    /// The daemon: run every job on its schedule (the same run as `forewarn run`), one run of a
    /// job at a time, each within its budget; /healthz, /readyz and /metrics on --listen;
    /// SIGTERM lets the runs in flight finish, then exits.
    Serve(serve_command::ServeArgs),
    /// Show the data and the reasoning behind a finding (by id, or --pod/--service/--canary):
    /// a terminal chart of its window, the detector's numbers, and the query that reproduces it.
    Explain(explain_command::ExplainArgs),
    /// Reports: `report daily` — the day in review with charts, as text, HTML or email.
    #[command(subcommand)]
    Report(report_command::ReportCommand),
    /// Rollups in forewarn's own database: `rollup status` (mode, reach, lag), `rollup backfill
    /// --since T` (fill history in chunks).
    #[command(subcommand)]
    Rollup(rollup_command::RollupCommand),
}

#[derive(Args)]
struct CanaryArgs {
    /// The canary's name (what heartbeat findings name).
    #[arg(long)]
    name: String,
    /// Insert the heartbeat into the logs table (connection flags) instead of printing it.
    #[arg(long)]
    direct: bool,
    /// The cluster, as the resource attribute --cluster-attribute (with --direct; in a
    /// pipeline the collector adds it).
    #[arg(long, env = "FOREWARN_CLUSTER")]
    cluster: Option<String>,
    /// The beat's time instead of now (replays, tests): RFC 3339 or `now-2m`.
    #[arg(long)]
    at: Option<String>,
    #[command(flatten)]
    clickhouse: ClickHouseArgs,
    #[command(flatten)]
    names: NameArgs,
}

/// Where forewarn keeps its state (episodes, notifications, silences).
#[derive(Args, Clone)]
pub(crate) struct StateArgs {
    /// An SQLite file (created if missing). Without it, the state lives in forewarn's own
    /// database on the ClickHouse source (see --state-database).
    #[arg(long = "state", env = "FOREWARN_STATE", value_name = "PATH")]
    sqlite: Option<PathBuf>,
    /// forewarn's own ClickHouse database for its state (it creates its tables there; the
    /// telemetry database is only read).
    #[arg(long, env = "FOREWARN_STATE_DATABASE", default_value = "forewarn")]
    state_database: String,
}

impl StateArgs {
    fn settings(&self) -> forewarn::run::StateSettings {
        forewarn::run::StateSettings {
            sqlite: self.sqlite.clone(),
            clickhouse_database: self.state_database.clone(),
        }
    }
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The job to run (see rules/jobs.yaml).
    job: String,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    state: StateArgs,
    /// A directory of rule files (and notify.yaml) replacing the shipped ones.
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Evaluate as of this time instead of now (replays, tests): RFC 3339 or `now-2h`.
    #[arg(long)]
    at: Option<String>,
    /// Print the messages that would be sent; send nothing, write nothing to the state.
    #[arg(long)]
    dry_run: bool,
    /// The summary as one JSON object instead of a line of text.
    #[arg(long)]
    json: bool,
    /// The kubeconfig context runbooks act through (default: in-cluster, else KUBECONFIG's
    /// current context).
    #[arg(long, env = "FOREWARN_KUBE_CONTEXT")]
    kube_context: Option<String>,
}

#[derive(Args)]
pub(crate) struct FindingsArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    state: StateArgs,
    /// Only this job's episodes (default: every job in the rules).
    #[arg(long = "job")]
    jobs: Vec<String>,
    #[arg(long, env = "FOREWARN_RULES", value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Default: a table on a terminal, JSON lines otherwise.
    #[arg(long, value_enum)]
    output: Option<FindingsFormat>,
}

#[derive(Args)]
pub(crate) struct HistoryArgs {
    /// The finding's `id` (its stable fingerprint).
    fingerprint: String,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    state: StateArgs,
    /// JSON lines instead of a readable timeline.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub(crate) enum SilenceCommand {
    /// Add a silence: findings matching every --match are recorded but not announced.
    Add {
        /// `name=value` on rule, signal, severity, cluster, namespace, pod, container, service,
        /// canary or workload (repeatable; all must match).
        #[arg(long = "match", value_name = "NAME=VALUE", required = true)]
        matchers: Vec<String>,
        /// How long from now (or from --start).
        #[arg(long = "for", value_parser = parse_duration)]
        duration: std::time::Duration,
        /// When it starts (default now): RFC 3339 or `now+…`/`now-…`.
        #[arg(long)]
        start: Option<String>,
        /// Why: shown in `silence list` and the history.
        #[arg(long)]
        comment: String,
        /// Who (default: $USER).
        #[arg(long, env = "USER", default_value = "forewarn")]
        author: String,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        state: StateArgs,
    },
    /// List silences in force (with --all, also expired ones).
    List {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        state: StateArgs,
    },
    /// End a silence now.
    Expire {
        id: String,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        state: StateArgs,
    },
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
    /// The span of as-of times that share one read of the source: memory follows the chunk plus
    /// the rules' windows, not the whole range (shorter: less memory, more re-reading). Never
    /// changes a finding.
    #[arg(long, default_value = "6h", value_parser = parse_duration)]
    chunk: std::time::Duration,
    #[arg(long, value_enum, default_value = "jsonl")]
    output: FindingsFormat,
    /// The demo's labels.json: score precision, recall and lead time per signal (stderr).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
}

/// Where the telemetry comes from.
#[derive(Args, Clone)]
pub(crate) struct SourceArgs {
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
    /// One-minute rollups in forewarn's own database (ClickHouse only): `pull` — each run has
    /// ClickHouse aggregate just the minutes since the last run (plus --rollup-overlap), then
    /// reads its window from the rollup; `views` — materialized views on the telemetry tables
    /// feed the rollups at insert time; `off` — read raw samples. Default: pull for scheduled
    /// runs (run, serve, the report job), off for ad-hoc commands. Without write access to its
    /// database forewarn says so once and reads raw windows.
    #[arg(long, env = "FOREWARN_ROLLUPS", value_enum, value_name = "MODE")]
    rollups: Option<forewarn::rollup::RollupMode>,
    /// How far before the previous run's end a pull-mode run aggregates again, for rows that
    /// arrive late (older late rows are not seen by rollups).
    #[arg(long, env = "FOREWARN_ROLLUP_OVERLAP", default_value = "10m", value_parser = parse_duration)]
    pub(crate) rollup_overlap: std::time::Duration,
    /// forewarn's own ClickHouse database for the rollup tables.
    #[arg(long, env = "FOREWARN_ROLLUP_DATABASE", default_value = "forewarn")]
    pub(crate) rollup_database: String,
    /// A ClickHouse cluster (a name in the server's `remote_servers`) to spread the rollups
    /// over: each rollup table is a `Distributed` table over `<table>_local` on every shard,
    /// sharded by series, so a series' minutes stay on one shard (pull mode only).
    #[arg(long, env = "FOREWARN_ROLLUP_CLUSTER", value_name = "NAME")]
    pub(crate) rollup_cluster: Option<String>,
    /// How the rollup DDL reaches a cluster's nodes: `on-cluster` — `ON CLUSTER` statements
    /// and Replicated*MergeTree local tables (replicas kept by ClickHouse Keeper); `local` — run
    /// only on the server forewarn connects to, with plain engines, for a `Replicated`
    /// database (which replicates DDL itself) or a one-node cluster.
    #[arg(
        long,
        env = "FOREWARN_ROLLUP_DDL",
        value_enum,
        default_value = "on-cluster",
        requires = "rollup_cluster"
    )]
    pub(crate) rollup_ddl: forewarn::rollup::ClusterDdl,
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

impl SourceArgs {
    fn settings(&self) -> Result<SourceSettings, ConfigError> {
        Ok(SourceSettings {
            spec: SourceSpec::parse(&self.source)?,
            clickhouse: self.clickhouse.config(),
            names: self.names.names(),
            queries: self.queries.clone(),
            rollups: self.rollup_settings(forewarn::rollup::RollupMode::Off)?,
        })
    }

    /// The settings of a scheduled run: rollups default to pull.
    pub(crate) fn scheduled_settings(&self) -> Result<SourceSettings, ConfigError> {
        let mut settings = self.settings()?;
        settings.rollups = self.rollup_settings(forewarn::rollup::RollupMode::Pull)?;
        Ok(settings)
    }

    fn rollup_settings(
        &self,
        default: forewarn::rollup::RollupMode,
    ) -> Result<Option<forewarn::rollup::RollupSettings>, ConfigError> {
        let mode = self.rollups.unwrap_or(default);
        let cluster = self
            .rollup_cluster
            .clone()
            .map(|name| forewarn::rollup::RollupCluster {
                name,
                ddl: self.rollup_ddl,
            });
        if let Some(cluster) = &cluster {
            if mode == forewarn::rollup::RollupMode::Views {
                return Err(ConfigError::flag(
                    "--rollup-cluster",
                    &cluster.name,
                    "views mode feeds each node's rollup from its own telemetry shard, which \
                     does not keep a series on one shard; use --rollups pull on a cluster",
                ));
            }
        }
        Ok(Some(forewarn::rollup::RollupSettings {
            mode,
            database: self.rollup_database.clone(),
            overlap: self.rollup_overlap,
            cluster,
            cache: None,
        }))
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
    /// The moment to look back from (the same as --until): `--at T --lookback 1h`.
    #[arg(long, conflicts_with = "until")]
    at: Option<String>,
    /// Start of the window; default: --until minus --lookback.
    #[arg(long)]
    since: Option<String>,
    #[arg(long, default_value = "3h", value_parser = parse_duration)]
    lookback: std::time::Duration,
    /// Bucket width.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    bucket: std::time::Duration,
    /// table: aligned columns — on a terminal (or with --human) in human units (MiB/GiB, %,
    /// minutes, UTC times); csv, json, jsonl, parquet: raw SI values and RFC 3339 times.
    #[arg(long, value_enum, default_value = "table")]
    output: FrameFormat,
    /// Human units in the table even when standard output is not a terminal.
    #[arg(long)]
    human: bool,
    /// Only this cluster's rows (exact match; selectors combine with AND). A selector that
    /// matches nothing prints an empty frame and says so on stderr (exit 0); one the window
    /// has no column for is a usage error (exit 2).
    #[arg(long)]
    cluster: Option<String>,
    /// Only this namespace's rows.
    #[arg(long)]
    namespace: Option<String>,
    /// Only this pod's rows (memory, restarts, pod_events).
    #[arg(long)]
    pod: Option<String>,
    /// Only this container's rows (memory, restarts).
    #[arg(long)]
    container: Option<String>,
    /// Only this service's rows (errors, trace_errors).
    #[arg(long)]
    service: Option<String>,
    /// Only this canary's rows (heartbeats).
    #[arg(long)]
    canary: Option<String>,
    /// Print the window's bound parameters as JSON (name → type and value, and the logs
    /// pruning predicate per table generation) instead of running it: for clients such as the
    /// notebooks that run `queries/NAME.sql` themselves and bind the same values.
    #[arg(long)]
    parameters: bool,
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
        /// Vary what a real cluster varies (scrape intervals and gaps, noise, GC periods, ramp
        /// shapes, traffic levels, sidecars, several clusters, more hard negatives), drawn from
        /// the seed: the data the detectors are judged on beyond the default story.
        #[arg(long)]
        wide: bool,
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

pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
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
        Command::Run(args) => commands::run(args).await,
        Command::Findings(args) => commands::findings(args).await,
        Command::History(args) => commands::history(args).await,
        Command::Silence(command) => commands::silence(command).await,
        Command::Approve(args) => remediate_cli::approve(args).await,
        Command::Reject(args) => remediate_cli::reject(args).await,
        Command::Actions(args) => remediate_cli::actions(args).await,
        Command::Jobs(args) => jobs_command::jobs(args).await,
        Command::Canary(args) => canary(args).await,
        Command::Manifests(args) => manifests_command::manifests(args).await,
        Command::Serve(args) => serve_command::serve(args).await,
        Command::Explain(args) => explain_command::explain(args).await,
        Command::Report(command) => report_command::report(command).await,
        Command::Rollup(command) => rollup_command::rollup(command).await,
    }
}

/// A time flag: RFC 3339, `now` or `now-2h`.
pub(crate) fn time_flag(
    flag: &'static str,
    text: &str,
) -> Result<time::OffsetDateTime, ConfigError> {
    timefmt::parse_time(text, time::OffsetDateTime::now_utc())
        .map_err(|reason| ConfigError::flag(flag, text, reason))
}

async fn canary(args: CanaryArgs) -> anyhow::Result<Outcome> {
    if args.name.trim().is_empty() {
        return Err(ConfigError::flag("--name", &args.name, "must not be empty").into());
    }
    let beat = forewarn::canary::Heartbeat {
        canary: args.name.clone(),
        at: match &args.at {
            Some(at) => time_flag("--at", at)?,
            None => time::OffsetDateTime::now_utc(),
        },
        cluster: args.cluster.clone(),
    };
    let names = args.names.names();
    if !args.direct {
        println!("{}", beat.log_line(&names));
        return Ok(Outcome::Completed);
    }
    let config = args.clickhouse.config();
    beat.insert(&config, &names).await?;
    // Not `canary`/`canary.name`: this log line is collected too, and must not match.
    tracing::info!(
        canary_name = %beat.canary,
        at = %timefmt::rfc3339(beat.at),
        table = %names.logs_table,
        "heartbeat inserted"
    );
    Ok(Outcome::Completed)
}

async fn query(args: QueryArgs) -> anyhow::Result<Outcome> {
    let until = match &args.at {
        Some(at) => time_flag("--at", at)?,
        None => time_flag("--until", &args.until)?,
    };
    let window = match &args.since {
        Some(since) => WindowSpec {
            since: timefmt::floor_to(time_flag("--since", since)?, args.bucket),
            until: timefmt::floor_to(until, args.bucket),
            bucket: args.bucket,
        },
        None => WindowSpec::ending_at(until, args.lookback, args.bucket),
    };
    if window.since >= window.until {
        return Err(ConfigError::flag(
            "--since",
            &timefmt::rfc3339(window.since),
            format!(
                "empty window: not before --until {}",
                timefmt::rfc3339(window.until)
            ),
        )
        .into());
    }
    let settings = args.source.settings()?;
    if args.parameters {
        let described = forewarn::source::parameters::describe(&settings.names, &window);
        println!("{}", serde_json::to_string_pretty(&described)?);
        return Ok(Outcome::Completed);
    }
    let source = settings.open().await?;
    // What `query` prints is the window in one frame: a series-keyed window's rows with their
    // names.
    let frame = source
        .fetch_window(args.name, &window)
        .await?
        .expanded(args.name)
        .context("joining the window's series names")?;
    tracing::info!(
        query = %args.name,
        since = %timefmt::rfc3339(window.since),
        until = %timefmt::rfc3339(window.until),
        rows = frame.height(),
        "window fetched"
    );
    let selectors: Vec<(&'static str, String)> = forewarn::output::selectors::SELECTORS
        .iter()
        .copied()
        .zip([
            &args.cluster,
            &args.namespace,
            &args.pod,
            &args.container,
            &args.service,
            &args.canary,
        ])
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect();
    let fetched = frame.height();
    let window_name = args.name.to_string();
    let mut frame = forewarn::output::selectors::select_rows(frame, &window_name, &selectors)
        .map_err(|e| match e {
            not_in_window @ forewarn::output::selectors::SelectorError::NotInWindow {
                selector,
                ..
            } => {
                let value = selectors
                    .iter()
                    .find(|(name, _)| *name == selector)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or_default();
                anyhow::Error::from(ConfigError::flag(
                    forewarn::output::selectors::flag(selector),
                    value,
                    not_in_window.to_string(),
                ))
            }
            other => other.into(),
        })?;
    if !selectors.is_empty() && frame.height() == 0 {
        let given: Vec<String> = selectors
            .iter()
            .map(|(k, v)| format!("--{k} {v}"))
            .collect();
        eprintln!(
            "no rows match {} in the {window_name} window ({fetched} rows before selecting)",
            given.join(" ")
        );
    }
    let mut stdout = std::io::stdout().lock();
    let human = args.human || std::io::IsTerminal::is_terminal(&std::io::stdout());
    if args.output == FrameFormat::Table && human {
        forewarn::output::write_human_table(&frame, &mut stdout)?;
    } else {
        forewarn::output::write_frame(&mut frame, args.output, &mut stdout)?;
    }
    Ok(Outcome::Completed)
}

async fn schema(args: SchemaArgs) -> anyhow::Result<Outcome> {
    let names = args.names.names();
    if !args.apply {
        print!("{}", forewarn::schema::script(args.generation, &names));
        return Ok(Outcome::Completed);
    }
    let config = args.clickhouse.config();
    forewarn::schema::apply(&config.writable_client(), args.generation, &names)
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
        return demo_story(args).await;
    };
    match command {
        DemoCommand::Generate {
            dir,
            seed,
            hours,
            end,
            scale,
            wide,
        } => {
            let end = time_flag("--end", &end)?;
            if !(hours > 0.0 && hours <= 24.0 * 14.0) {
                return Err(ConfigError::flag(
                    "--hours",
                    &hours.to_string(),
                    "use more than 0 and at most 336",
                )
                .into());
            }
            if !(scale > 0.0 && scale <= 100.0) {
                return Err(ConfigError::flag(
                    "--scale",
                    &scale.to_string(),
                    "use more than 0 and at most 100",
                )
                .into());
            }
            let params = forewarn::demo::generate::DemoParams {
                seed,
                hours,
                end: timefmt::floor_to(end, std::time::Duration::from_secs(60)),
                scale,
            };
            let variety = if wide {
                forewarn::demo::generate::Variety::Wide
            } else {
                forewarn::demo::generate::Variety::Default
            };
            let dataset = forewarn::demo::generate::generate_with(&params, variety);
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
            forewarn::schema::apply(&config.writable_client(), generation, &names)
                .await
                .map_err(|e| config.describe_error(e, "creating the exporter tables"))?;
            let loaded = forewarn::demo::load::load_dataset(&dir, &config, &names).await?;
            if loaded.is_empty() {
                return Err(ConfigError::NothingToLoad { dir }.into());
            }
            for (table, bytes) in loaded {
                eprintln!("loaded {table} ({bytes} bytes of Parquet)");
            }
            Ok(Outcome::Completed)
        }
    }
}

async fn check(args: CheckArgs) -> anyhow::Result<Outcome> {
    use forewarn::check::Connection;
    let settings = args.source.settings()?;
    let report = forewarn::check::check(args.rules.as_deref(), &settings, args.connect).await?;
    println!(
        "rules OK: {} rules in {} jobs ({})",
        report.rules.rules.len(),
        report.rules.jobs.len(),
        report.rules_origin
    );
    match &report.connection {
        None => println!("configuration OK"),
        Some(Connection::Parquet) => println!("Parquet directory OK"),
        Some(Connection::ClickHouse {
            logs,
            metrics,
            problems,
        }) => {
            for problem in problems {
                eprintln!("error: {problem}");
            }
            if problems.is_empty() {
                let text =
                    |g: &Option<Generation>| g.map(|g| g.to_string()).unwrap_or_else(|| "-".into());
                println!(
                    "ClickHouse OK: logs table generation {}, metrics table generation {}",
                    text(logs),
                    text(metrics)
                );
            }
        }
    }
    for count in &report.canaries {
        match &count.seen {
            Ok(0) => eprintln!(
                "warning: heartbeat rule {}: no canary seen in its window (matching {})",
                count.rule, count.matched
            ),
            Ok(seen) => println!(
                "heartbeat rule {}: {seen} canaries seen (matching {})",
                count.rule, count.matched
            ),
            Err(error) => eprintln!(
                "error: heartbeat rule {}: cannot count canaries: {error}",
                count.rule
            ),
        }
    }
    Ok(if report.is_ok() {
        Outcome::Completed
    } else {
        Outcome::Failed
    })
}

async fn analyze(args: AnalyzeArgs) -> anyhow::Result<Outcome> {
    let set = evaluate::load_rules(args.rules.rules.as_deref()).map_err(ConfigError::from)?;
    let rules = select_rules(&set, &args.rules.jobs, &args.rules.rule_names)?;
    let as_of = match &args.at {
        Some(at) => time_flag("--at", at)?,
        None => time::OffsetDateTime::now_utc(),
    };
    let source = args.source.settings()?.watching(&set).open().await?;
    let report = evaluate::run(&Windows::Live { source: &source }, &rules, as_of).await;
    let format = args.output.unwrap_or(FindingsFormat::for_terminal(
        std::io::stdout().is_terminal(),
    ));
    forewarn::output::write_findings(&report.findings, format, &mut std::io::stdout().lock())?;
    forewarn::output::findings::write_failures(&report.failures, &mut std::io::stderr().lock())?;
    tracing::info!(
        rules = rules.len(),
        findings = report.findings.len(),
        failed_rules = report.failures.len(),
        as_of = %timefmt::rfc3339(as_of),
        "analysis complete"
    );
    Ok(outcome_of(&report, args.fail_on))
}

/// Exit 1 when any rule could not be judged (never "all clear"), else 3 when `--fail-on` trips.
fn outcome_of(report: &RunReport, fail_on: Option<Severity>) -> Outcome {
    if !report.is_complete() {
        return Outcome::Failed;
    }
    match (fail_on, report.highest_firing()) {
        (Some(level), Some(highest)) if highest >= level => Outcome::FailOn,
        _ => Outcome::Completed,
    }
}

/// A progress bar on stderr when it is a terminal, counting `unit`s (its message names the
/// part in progress).
pub(crate) fn progress_bar(label: &str, unit: &str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{spinner}} {label} {{msg}} {{bar:40}} {{pos}}/{{len}} {unit} {{elapsed}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

async fn backtest(args: BacktestArgs) -> anyhow::Result<Outcome> {
    keep_freed_pages_for(1000);
    let set = evaluate::load_rules(args.rules.rules.as_deref()).map_err(ConfigError::from)?;
    let rules = select_rules(&set, &args.rules.jobs, &args.rules.rule_names)?;
    let from = time_flag("--from", &args.from)?;
    let to = time_flag("--to", &args.to)?;
    if from > to {
        return Err(ConfigError::flag("--from", &args.from, "must not be after --to").into());
    }
    // A zero step would never advance; a zero chunk would hold no step.
    for (flag, value) in [("--step", args.step), ("--chunk", args.chunk)] {
        if value.is_zero() {
            return Err(ConfigError::flag(flag, "0", "must be more than zero").into());
        }
    }
    let labels = match &args.labels {
        Some(path) => Some(forewarn::demo::score::load_labels(path).map_err(|source| {
            ConfigError::Labels {
                path: path.clone(),
                source,
            }
        })?),
        None => None,
    };
    let source = args.source.settings()?.watching(&set).open().await?;
    let bar = progress_bar("backtest", "steps");
    let range = evaluate::BacktestRange::new(from, to, args.step).with_chunk(args.chunk);
    let outcome = evaluate::backtest::drive(
        &source,
        &rules,
        range,
        |_, total, report| -> anyhow::Result<()> {
            forewarn::output::write_findings(
                &report.findings,
                args.output,
                &mut std::io::stdout().lock(),
            )?;
            if let Some(bar) = &bar {
                bar.set_length(total as u64);
                bar.inc(1);
            }
            Ok(())
        },
    )
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut err = std::io::stderr().lock();
    forewarn::output::findings::write_backtest_summary(
        &outcome.findings,
        outcome.steps,
        outcome.seconds,
        &mut err,
    )?;
    if let Some(labels) = labels {
        let report = forewarn::demo::score::score(&labels, &outcome.findings);
        forewarn::demo::render::write_score(&report, &mut err)?;
    }
    forewarn::output::findings::write_failures(&outcome.failures, &mut err)?;
    Ok(if outcome.failures.is_empty() {
        Outcome::Completed
    } else {
        Outcome::Failed
    })
}

async fn demo_story(args: DemoArgs) -> anyhow::Result<Outcome> {
    let set = evaluate::load_rules(args.rules.as_deref()).map_err(ConfigError::from)?;
    let rules: Vec<_> = set.enabled_rules().collect();
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
        end: timefmt::floor_to(time::OffsetDateTime::now_utc(), forewarn::demo::story::STEP),
        scale: 1.0,
    };
    let bar = progress_bar("demo backtest", "steps");
    let story = forewarn::demo::story::run(&params, &rules, &dir, |_, total, _| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.inc(1);
        }
    })
    .await
    .with_context(|| format!("the demo in {}", dir.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    story.write(&mut out)?;
    if let Some(dir) = &args.keep {
        writeln!(
            out,
            "\nData kept in {} (try: forewarn analyze --source parquet:{} --at {})",
            dir.display(),
            dir.display(),
            timefmt::rfc3339(story.labels.end)
        )?;
    }
    Ok(if story.backtest.failures.is_empty() {
        Outcome::Completed
    } else {
        Outcome::Failed
    })
}
