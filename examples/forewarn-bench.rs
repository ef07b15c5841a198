//! Benchmark: the memory rule's window (default 3 h) over N containers × H hours × 15 s samples
//! (default 10,000 × 6 h = 14.4 M samples) in the real ClickHouse engine behind its HTTP
//! interface.
//!
//! Side by side in one run, per bucket width, each measurement in its own process (so each peak
//! RSS is that measurement's own):
//! - the naive Python pull a user would write (`bench/naive_pull.py`: raw rows as Arrow →
//!   Polars group-by → OLS slopes);
//! - forewarn's cold pull: the raw window query (aggregation pushed into ClickHouse,
//!   ArrowStream straight into Polars);
//! - forewarn's first rollup run: an empty rollup aggregated over the window, then read;
//! - forewarn's steady-state run, as a CronJob every 5 minutes does it: the rollup extended by
//!   the 5 new minutes plus the 10-minute overlap (`INSERT … SELECT` in ClickHouse), then the
//!   window read from the rollup;
//! - the same steady run in views mode: materialized views fed the rollup at insert time (the
//!   generated history backfilled once), so the run only reads its window;
//! - the daemon (`forewarn serve`) in both modes: one long-lived process whose runs, 5 minutes
//!   apart, splice each window onto the one before (the window cache, `rollup::cache`), so a
//!   run reads from the rollup only the last 15 minutes' rows (5 new + the overlap).
//!
//! Reports wall time, ClickHouse's own time (X-ClickHouse-Summary) and peak RSS (VmHWM).
//! Median of `--runs`.
//!
//! `cargo run --example forewarn-bench -- [--containers 10000] [--hours 6] [--window 3h] [--bucket 5m] [--runs 3]`

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use forewarn::rollup::cache::WindowCache;
use forewarn::rollup::{RollupMode, RollupSettings, Rollups};
use forewarn::source::introspect::Generation;
use forewarn::source::queries::QuerySet;
use forewarn::source::{ClickHouseConfig, ClickHouseSource, TelemetryNames};
use forewarn::window::{timefmt, QueryKind, WindowSpec};
use forewarn_devserver::DevServer;
use time::OffsetDateTime;

/// The forewarn binary's allocator and options (src/main.rs), so the measured pulls are the
/// shipped binary's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[export_name = "_rjem_malloc_conf"]
pub static JEMALLOC_CONF: &[u8; 57] = b"background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0\0";

#[derive(Parser)]
#[command(about = "Benchmark forewarn's memory-window reads against the naive Python pull")]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    containers: u64,
    /// Hours of generated samples.
    #[arg(long, default_value_t = 6)]
    hours: u64,
    /// The window a run reads (the shipped memory rule: 3h).
    #[arg(long, default_value = "3h", value_parser = timefmt::parse_duration)]
    window: Duration,
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
    /// Internal: run one measurement in this process and print it as JSON.
    #[arg(long, hide = true)]
    child: Option<String>,
    #[arg(long, hide = true)]
    url: Option<String>,
    #[arg(long, hide = true)]
    as_of: Option<String>,
    #[arg(long, hide = true)]
    rollup_database: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.child.clone() {
        Some(mode) => runtime.block_on(child(args, &mode)),
        None => runtime.block_on(run(args)),
    }
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

fn bench_config(url: &str) -> ClickHouseConfig {
    let mut config = ClickHouseConfig::new(url);
    config.database = Some("bench".into());
    config.query_timeout = Duration::from_secs(900);
    config.max_result_rows = 50_000_000;
    config
}

/// One measurement: connect, (extend the rollup and) read the memory window as of `--as-of`,
/// and judge it with the shipped memory rule. A daemon measurement (`daemon-pull`,
/// `daemon-views`) is one long-lived process: a first run reads the window whole, then
/// `--runs` runs follow 5 minutes apart, each opening the source afresh as the daemon does but
/// splicing its window onto the previous one (the process's window cache); it reports the
/// median of those runs and the process's peak RSS over all of them.
async fn child(args: Args, mode: &str) -> anyhow::Result<()> {
    let config = bench_config(args.url.as_deref().context("--url")?);
    let as_of = timefmt::parse_time(
        args.as_of.as_deref().context("--as-of")?,
        OffsetDateTime::now_utc(),
    )
    .map_err(anyhow::Error::msg)?;
    let daemon = mode.starts_with("daemon-");
    let cache = daemon.then(|| Arc::new(WindowCache::new()));
    let runs = if daemon { args.runs + 1 } else { 1 };
    let mut measured = Vec::new();
    for i in 0..runs {
        let run = one_run(&args, &config, mode, cache.clone(), as_of + STEP * i as u32).await?;
        if daemon && i > 0 && run.spliced_from.is_none() {
            bail!("daemon run {i} read its window whole, not spliced onto the previous one");
        }
        if !daemon || i > 0 {
            measured.push(run);
        }
    }
    let detect_s = measured[0]
        .detect_s
        .map(|_| median(measured.iter().map(|m| m.detect_s.unwrap_or(0.0)).collect()));
    println!(
        "{}",
        serde_json::json!({
            "wall_s": median(measured.iter().map(|m| m.wall_s).collect()),
            "server_s": median(measured.iter().map(|m| m.server_s).collect()),
            "rows": measured[0].rows,
            "detect_s": detect_s,
            "peak_rss_bytes": peak_rss_bytes(),
        })
    );
    Ok(())
}

/// What one run of a measurement took.
struct Run {
    wall_s: f64,
    server_s: f64,
    rows: usize,
    detect_s: Option<f64>,
    spliced_from: Option<OffsetDateTime>,
}

/// One scheduled run as of `as_of`: open the source, read the memory window (from the rollup
/// unless `raw`), judge it.
async fn one_run(
    args: &Args,
    config: &ClickHouseConfig,
    mode: &str,
    cache: Option<Arc<WindowCache>>,
    as_of: OffsetDateTime,
) -> anyhow::Result<Run> {
    let bucket = args.buckets[0];
    let window = WindowSpec::ending_at(as_of, args.window, bucket);
    let t = Instant::now();
    let source = ClickHouseSource::connect(
        config.clone(),
        TelemetryNames::default(),
        QuerySet::embedded(),
    )
    .await?;
    let rollup_mode = match mode {
        "views" | "views-backfill" | "daemon-views" => RollupMode::Views,
        _ => RollupMode::Pull,
    };
    let source = match mode {
        "raw" => source,
        _ => {
            let database = source.database().to_string();
            source.with_rollups(Some(Rollups::new(
                RollupSettings {
                    mode: rollup_mode,
                    database: args.rollup_database.clone().context("--rollup-database")?,
                    overlap: Duration::from_secs(600),
                    cluster: None,
                    cache,
                },
                config,
                &database,
            )))
        }
    };
    if mode == "views-backfill" {
        // The views feed minutes from their creation on; the generated history is backfilled.
        let rollups = source.rollups().context("rollups")?;
        rollups
            .backfill(
                window.since - STEP * args.runs as u32,
                window.until,
                Duration::from_secs(3600),
                &TelemetryNames::default(),
                |_| Ok(Generation::G2),
                |_, _, _| {},
            )
            .await?;
    }
    let (frame, stats) = source.fetch_with_stats(QueryKind::Memory, &window).await?;
    let wall = t.elapsed().as_secs_f64();
    if let Some(why) = source.rollups().and_then(|r| r.disabled_because()) {
        bail!("the rollup was not used: {why}");
    }
    if mode != "raw" && stats.rollup.is_none() {
        bail!("the window was read from raw samples, not from the rollup (see the warning above)");
    }
    // A scheduled run judges the window too: the shipped memory rule, where its window and
    // bucket are the measured ones (3 h, 1 min), so the peak is the whole run's.
    let rules = forewarn::config::RuleSet::embedded()?;
    let rule = rules
        .rules
        .iter()
        .find(|r| r.signal == forewarn::findings::Signal::MemoryPressure)
        .context("the shipped memory rule")?;
    let judged = Instant::now();
    let findings = (forewarn::evaluate::rule_window(rule, as_of) == window)
        .then(|| forewarn::evaluate::judge(rule, &frame, window))
        .transpose()?
        .map(|f| f.len());
    Ok(Run {
        wall_s: wall,
        server_s: stats.server_elapsed.map_or(f64::NAN, |d| d.as_secs_f64()),
        rows: frame.height(),
        detect_s: findings.map(|_| judged.elapsed().as_secs_f64()),
        spliced_from: stats.spliced_from,
    })
}

/// A CronJob's (and the daemon's) interval between runs.
const STEP: Duration = Duration::from_secs(300);

struct Measured {
    wall_s: f64,
    server_s: f64,
    rows: u64,
    /// The shipped memory rule's detector on the window (where it reads this window).
    detect_s: Option<f64>,
    peak_rss_bytes: f64,
}

fn measure(
    url: &str,
    mode: &str,
    as_of: OffsetDateTime,
    args: &Args,
    bucket: Duration,
    rollup_database: &str,
) -> anyhow::Result<Measured> {
    let out = Command::new(std::env::current_exe()?)
        .args([
            "--child",
            mode,
            "--url",
            url,
            "--as-of",
            &timefmt::rfc3339(as_of),
        ])
        .args(["--bucket", &format!("{}s", bucket.as_secs())])
        .args(["--window", &format!("{}s", args.window.as_secs())])
        .args(["--rollup-database", rollup_database])
        .env("RUST_LOG", "warn")
        .output()
        .context("running a measurement")?;
    if !out.status.success() {
        bail!(
            "measurement {mode} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("measurement output")?;
    Ok(Measured {
        wall_s: line["wall_s"].as_f64().unwrap_or(f64::NAN),
        server_s: line["server_s"].as_f64().unwrap_or(f64::NAN),
        rows: line["rows"].as_u64().unwrap_or(0),
        detect_s: line["detect_s"].as_f64(),
        peak_rss_bytes: line["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN),
    })
}

fn mib(bytes: f64) -> String {
    format!("{:.0} MiB", bytes / 1048576.0)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = DevServer::start(repo, None)?;
    let admin = ClickHouseConfig::new(server.url()).writable_client();
    admin
        .query_raw("CREATE DATABASE IF NOT EXISTS bench")
        .execute()
        .await?;
    let config = bench_config(&server.url());
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
    let window_samples = samples as f64 * args.window.as_secs_f64() / (args.hours as f64 * 3600.0);

    let mut report = String::new();
    report.push_str(&format!(
        "# forewarn memory-window benchmark\n\n\
         {} containers × {} h × {} s = {} working-set samples (+ {} limit/request samples), \
         G2 exporter schema, real ClickHouse engine (chdb-core) behind the HTTP interface on \
         loopback; generated in {load_s:.1} s. Each run reads the memory rule's window of {} \
         (≈ {:.1} M working-set samples). Each measurement runs in its own process; median of {} \
         runs (the first rollup run: once per bucket, on an empty rollup).\n\n\
         | bucket | read | wall s | + memory rule s | ClickHouse's own s | result rows | peak RSS | naive / this |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
        args.containers,
        args.hours,
        args.interval,
        samples,
        spec_rows * 2,
        humantime::format_duration(args.window),
        window_samples / 1e6,
        args.runs
    ));
    for bucket in &args.buckets {
        let rollup_database = format!("bench_fw_{}s", bucket.as_secs());
        let mut naive = Vec::new();
        let mut raw = Vec::new();
        for _ in 0..args.runs {
            raw.push(measure(&server.url(), "raw", until, &args, *bucket, "")?);
            naive.push(naive_pull(
                repo,
                &server,
                until - args.window,
                until,
                *bucket,
            )?);
        }
        // The least any raw memory window costs the engine: every working-set and limit/request
        // sample's identity (two map keys) grouped by bucket, nothing else computed or sent.
        let mut floor = Vec::new();
        for _ in 0..args.runs {
            floor.push(least_raw_aggregation(&config, until - args.window, until, *bucket).await?);
        }
        // A CronJob every 5 minutes: the first run fills the rollup, each later one adds 5 minutes.
        let first_as_of = until - STEP * args.runs as u32;
        let first = measure(
            &server.url(),
            "rollup",
            first_as_of,
            &args,
            *bucket,
            &rollup_database,
        )?;
        let mut steady = Vec::new();
        for i in 1..=args.runs {
            steady.push(measure(
                &server.url(),
                "rollup",
                first_as_of + STEP * i as u32,
                &args,
                *bucket,
                &rollup_database,
            )?);
        }
        // Views mode: materialized views fed the rollup at insert time (here: backfilled once,
        // not measured), so a steady run only reads its window.
        let views_database = format!("bench_fwv_{}s", bucket.as_secs());
        measure(
            &server.url(),
            "views-backfill",
            until,
            &args,
            *bucket,
            &views_database,
        )?;
        let mut views = Vec::new();
        for _ in 0..args.runs {
            views.push(measure(
                &server.url(),
                "views",
                until,
                &args,
                *bucket,
                &views_database,
            )?);
        }
        // The daemon: one process, its window cache kept from run to run (a first run reads
        // the window whole, then each run every 5 minutes splices onto the previous window).
        let daemon_pull = measure(
            &server.url(),
            "daemon-pull",
            first_as_of,
            &args,
            *bucket,
            &format!("bench_fwd_{}s", bucket.as_secs()),
        )?;
        let daemon_views = measure(
            &server.url(),
            "daemon-views",
            first_as_of,
            &args,
            *bucket,
            &views_database,
        )?;
        let naive_s = median(naive.iter().map(|n| n.0).collect());
        let naive_rss = median(naive.iter().map(|n| n.1).collect());
        let row = |label: &str, m: &[Measured]| {
            let wall = median(m.iter().map(|x| x.wall_s).collect());
            let detect = m[0]
                .detect_s
                .map(|_| median(m.iter().map(|x| x.detect_s.unwrap_or(0.0)).collect()));
            format!(
                "| {} | {label} | {wall:.2} | {} | {:.2} | {} | {} | {:.1}× |\n",
                humantime::format_duration(*bucket),
                detect.map(|d| format!("{d:.2}")).unwrap_or_default(),
                median(m.iter().map(|x| x.server_s).collect()),
                m[0].rows,
                mib(median(m.iter().map(|x| x.peak_rss_bytes).collect())),
                naive_s / (wall + detect.unwrap_or(0.0)),
            )
        };
        report.push_str(&format!(
            "| {} | naive Python pull (raw samples, its slopes included) | {naive_s:.2} | | | | {} | 1.0× |\n",
            humantime::format_duration(*bucket),
            mib(naive_rss)
        ));
        let floor_s = median(floor);
        report.push_str(&format!(
            "| {} | ClickHouse's least raw aggregation (identity × bucket of every working-set and \
             limit/request sample, FORMAT Null): a cold pull's floor | {floor_s:.2} | | {floor_s:.2} | | | {:.1}× |\n",
            humantime::format_duration(*bucket),
            naive_s / floor_s
        ));
        report.push_str(&row("forewarn cold pull (raw window query)", &raw));
        report.push_str(&row(
            "forewarn first rollup run (aggregate window, read)",
            &[first],
        ));
        report.push_str(&row(
            "forewarn steady run (5 new min + 10 min overlap, read rollup)",
            &steady,
        ));
        report.push_str(&row(
            "forewarn steady run, views mode (read rollup only)",
            &views,
        ));
        report.push_str(&row(
            "forewarn daemon run (pull; window spliced onto the previous: reads the last 15 min)",
            &[daemon_pull],
        ));
        report.push_str(&row(
            "forewarn daemon run, views mode (window spliced onto the previous)",
            &[daemon_views],
        ));
    }
    report.push_str(
        "\nwall = a fresh process's connect + introspection + (rollup extension) + query + \
         ArrowStream transfer + Polars decode and normalisation; ClickHouse's own = elapsed of the \
         window read from X-ClickHouse-Summary (the rollup's INSERT … SELECT is in wall only). Peak \
         RSS is each process's VmHWM (the server is a separate process). The naive pull fetches raw \
         rows of the working-set metric only (no limits) and aggregates in Polars. + memory rule = \
         the shipped memory-pressure rule's detector on the window read (at its own 1-minute \
         bucket only); naive / this compares the naive pull, which fits its own slopes, with \
         forewarn's read plus that detector, and peak RSS covers both.\n",
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

/// Seconds the engine takes for the least aggregation a raw memory window needs: the series
/// identity of every working-set and limit/request sample of `[since, until)`, grouped by
/// bucket, with the working set's peak — what any cold pull must have ClickHouse do.
async fn least_raw_aggregation(
    config: &ClickHouseConfig,
    since: OffsetDateTime,
    until: OffsetDateTime,
    bucket: Duration,
) -> anyhow::Result<f64> {
    let sql = format!(
        "SELECT ResourceAttributes['k8s.pod.uid'] AS pod_uid, \
                ResourceAttributes['k8s.container.name'] AS container, \
                toStartOfInterval(TimeUnix, toIntervalSecond({bucket_s})) AS bucket, \
                maxIf(Value, MetricName = 'container.memory.working_set') AS peak, count() AS samples \
         FROM otel_metrics_gauge \
         WHERE MetricName IN ('container.memory.working_set', 'k8s.container.memory_limit', \
                              'k8s.container.memory_request') \
           AND TimeUnix >= toDateTime64('{since}', 9, 'UTC') AND TimeUnix < toDateTime64('{until}', 9, 'UTC') \
         GROUP BY pod_uid, container, bucket FORMAT Null",
        bucket_s = bucket.as_secs(),
        since = timefmt::clickhouse_datetime64(since),
        until = timefmt::clickhouse_datetime64(until),
    );
    let started = Instant::now();
    config
        .writable_client()
        .query_raw(&sql)
        .with_setting("max_execution_time", "0")
        .execute()
        .await
        .context("the least raw aggregation")?;
    Ok(started.elapsed().as_secs_f64())
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
