//! Benchmark: pulling a memory window of N containers × H hours × 15 s samples (default
//! 10,000 × 6 h = 14.4 M samples) from the real ClickHouse engine behind its HTTP interface.
//!
//! Side by side in one run, alternating: forewarn's pull (the aggregation pushed into
//! ClickHouse, ArrowStream straight into Polars) and the naive Python pull a user would write
//! (`bench/naive_pull.py`: raw rows as Arrow → Polars group-by → OLS slopes). Reports wall time,
//! rows/s, forewarn's peak RSS, ClickHouse's own time for the query (X-ClickHouse-Summary), and
//! the naive script's time and peak RSS. Median of `--runs`.
//!
//! `cargo run --example forewarn-bench -- [--containers 10000] [--hours 6] [--bucket 5m] [--runs 3]`

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use forewarn::source::introspect::Generation;
use forewarn::source::queries::QuerySet;
use forewarn::source::{ClickHouseConfig, ClickHouseSource, TelemetryNames};
use forewarn::window::{timefmt, QueryKind, WindowSpec};
use forewarn_devserver::DevServer;
use time::OffsetDateTime;

#[derive(Parser)]
#[command(about = "Benchmark forewarn's memory-window pull against the naive Python pull")]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    containers: u64,
    #[arg(long, default_value_t = 6)]
    hours: u64,
    /// Seconds between working-set samples.
    #[arg(long, default_value_t = 15)]
    interval: u64,
    /// Bucket widths to measure (repeatable).
    #[arg(long = "bucket", default_values = ["5m", "1m"], value_parser = timefmt::parse_duration)]
    buckets: Vec<Duration>,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also write the report (Markdown) here.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// This process's peak resident set (VmHWM), bytes.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

async fn run(args: Args) -> anyhow::Result<()> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = DevServer::start(repo, None)?;
    let admin = ClickHouseConfig::new(server.url()).writable_client();
    admin
        .query_raw("CREATE DATABASE IF NOT EXISTS bench")
        .execute()
        .await?;
    let mut config = ClickHouseConfig::new(server.url());
    config.database = Some("bench".into());
    config.query_timeout = Duration::from_secs(600);
    config.max_result_rows = 50_000_000;
    let names = TelemetryNames::default();
    forewarn::schema::apply(&config.writable_client(), Generation::G2, &names).await?;

    let until = timefmt::floor_to(OffsetDateTime::now_utc(), Duration::from_secs(3600));
    let since = until - Duration::from_secs(args.hours * 3600);
    let samples = args.containers * args.hours * 3600 / args.interval;
    let started = Instant::now();
    // Generated inside the engine: realistic resource maps (10 keys) per container, a working
    // set with per-container level, drift and noise; limits and requests every 60 s.
    let resource = "map('k8s.cluster.name', 'bench', 'k8s.namespace.name', concat('ns-', toString(c % 40)), \
        'k8s.pod.name', concat('app-', toString(intDiv(c, 3)), '-7d9f8c6b5-', lower(hex(c))), \
        'k8s.pod.uid', toString(cityHash64(c)), 'k8s.container.name', concat('c', toString(c % 3)), \
        'k8s.node.name', concat('node-', toString(c % 60)), 'container.id', lower(hex(cityHash64(c, 7))), \
        'k8s.pod.start_time', '2026-11-20T00:00:00Z', 'cloud.region', 'eu-west-1', 'host.arch', 'amd64')";
    let insert_usage = format!(
        "INSERT INTO otel_metrics_gauge (ResourceAttributes, ServiceName, MetricName, MetricUnit, StartTimeUnix, TimeUnix, Value) \
         SELECT {resource}, '', 'container.memory.working_set', 'By', toDateTime({{since:DateTime64(9)}}), \
                toDateTime({{since:DateTime64(9)}}) + s * {interval}, \
                2e8 + (c % 97) * 4e6 + s * (c % 11) * 2000 + (cityHash64(c, s) % 5000000) \
         FROM (SELECT number % {n} AS c, intDiv(number, {n}) AS s FROM numbers({samples}))",
        interval = args.interval,
        n = args.containers,
    );
    admin_query(&config, &insert_usage, since)
        .await
        .context("generating working-set samples")?;
    let spec_rows = args.containers * args.hours * 60;
    let insert_spec = format!(
        "INSERT INTO otel_metrics_gauge (ResourceAttributes, ServiceName, MetricName, MetricUnit, StartTimeUnix, TimeUnix, Value) \
         SELECT mapConcat({resource}, map('k8s.deployment.name', concat('app-', toString(intDiv(c, 3))))), '', m, 'By', \
                toDateTime({{since:DateTime64(9)}}), toDateTime({{since:DateTime64(9)}}) + s * 60, \
                if(m = 'k8s.container.memory_limit', 1073741824, 536870912) \
         FROM (SELECT number % {n} AS c, intDiv(number, {n}) AS s FROM numbers({spec_rows})) \
         ARRAY JOIN ['k8s.container.memory_limit', 'k8s.container.memory_request'] AS m",
        n = args.containers,
    );
    admin_query(&config, &insert_spec, since)
        .await
        .context("generating limits")?;
    let load_s = started.elapsed().as_secs_f64();

    let mut report = String::new();
    report.push_str(&format!(
        "# forewarn memory-window pull benchmark\n\n\
         {} containers × {} h × {} s = {} working-set samples (+ {} limit/request samples), \
         G2 exporter schema, real ClickHouse engine (chdb-core) behind the HTTP interface on \
         loopback; generated in {load_s:.1} s. Median of {} alternating runs.\n\n\
         | bucket | forewarn wall s | ClickHouse's own s | wall / ClickHouse | result rows | rows/s (input) | forewarn peak RSS | naive Python total s | naive peak RSS | naive / forewarn |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        args.containers, args.hours, args.interval, samples, spec_rows * 2, args.runs
    ));
    for bucket in &args.buckets {
        let window = WindowSpec {
            since,
            until,
            bucket: *bucket,
        };
        let mut walls = Vec::new();
        let mut servers = Vec::new();
        let mut naive_totals = Vec::new();
        let mut naive_rss = Vec::new();
        let mut rows = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            let source =
                ClickHouseSource::connect(config.clone(), names.clone(), QuerySet::embedded())
                    .await?;
            let (frame, stats) = source.fetch_with_stats(QueryKind::Memory, &window).await?;
            walls.push(t.elapsed().as_secs_f64());
            servers.push(
                stats
                    .server_elapsed
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(f64::NAN),
            );
            rows = frame.height();
            drop(frame);
            let naive = naive_pull(repo, &server, since, until, *bucket)?;
            naive_totals.push(naive.0);
            naive_rss.push(naive.1);
        }
        let wall = median(walls);
        let server_s = median(servers);
        let naive_s = median(naive_totals);
        report.push_str(&format!(
            "| {} | {wall:.2} | {server_s:.2} | {:.2} | {rows} | {:.1} M | {:.0} MiB | {naive_s:.2} | {:.0} MiB | {:.2}× |\n",
            humantime::format_duration(*bucket),
            wall / server_s,
            samples as f64 / wall / 1e6,
            peak_rss_bytes() as f64 / 1048576.0,
            median(naive_rss) / 1048576.0,
            naive_s / wall,
        ));
    }
    report.push_str(
        "\nforewarn wall = connect + introspection + query + ArrowStream transfer + Polars decode and \
         normalisation; ClickHouse's own = elapsed from X-ClickHouse-Summary. forewarn peak RSS is \
         this process's VmHWM (the server is a separate process). The naive pull fetches raw rows \
         of the working-set metric only (no limits) and aggregates in Polars.\n",
    );
    println!("{report}");
    if let Some(path) = args.report {
        std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn admin_query(
    config: &ClickHouseConfig,
    sql: &str,
    since: OffsetDateTime,
) -> anyhow::Result<()> {
    config
        .writable_client()
        .query_raw(sql)
        .param("since", timefmt::clickhouse_datetime64(since))
        .with_setting("max_execution_time", "0")
        .execute()
        .await?;
    Ok(())
}

/// Runs the naive script; (total seconds, peak RSS bytes).
fn naive_pull(
    repo: &Path,
    server: &DevServer,
    since: OffsetDateTime,
    until: OffsetDateTime,
    bucket: Duration,
) -> anyhow::Result<(f64, f64)> {
    let out = Command::new(DevServer::python(repo))
        .arg(repo.join("bench/naive_pull.py"))
        .args(["--url", &server.url(), "--database", "bench"])
        .args([
            "--since",
            &timefmt::rfc3339(since),
            "--until",
            &timefmt::rfc3339(until),
        ])
        .args(["--bucket", &bucket.as_secs().to_string()])
        .output()
        .context("running bench/naive_pull.py")?;
    if !out.status.success() {
        bail!(
            "naive_pull.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("naive_pull.py output")?;
    Ok((
        line["total_s"].as_f64().unwrap_or(f64::NAN),
        line["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN),
    ))
}
