//! Rollups against the real ClickHouse engine: windows and findings read from the rollups equal
//! those read from raw samples, including rows that arrive late (after a run aggregated their
//! minute), in pull mode and in views mode; and without the overlap the late rows are missed
//! (the control that shows the comparison can fail).

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use forewarn::demo::generate::{generate, DemoParams};
use forewarn::rollup::cache::WindowCache;
use forewarn::rollup::{ClusterDdl, RollupCluster, RollupMode, RollupSettings, Rollups};
use forewarn::source::introspect::Generation;
use forewarn::source::queries::QuerySet;
use forewarn::source::{ClickHouseConfig, ClickHouseSource, Source, TelemetryNames};
use forewarn::window::{QueryKind, WindowSpec};
use support::{cluster_server, forewarn_bin, server, TEST_CLUSTER};
use time::macros::datetime;
use time::OffsetDateTime;

const MINUTE: Duration = Duration::from_secs(60);

fn dataset(dir: &std::path::Path, end: OffsetDateTime, seed: u64) {
    let params = DemoParams {
        seed,
        hours: 4.0,
        end,
        scale: 0.3,
    };
    let dataset = generate(&params);
    forewarn::demo::parquet::write_dataset(&dataset, dir).unwrap();
}

async fn load(dir: &std::path::Path, generation: Generation) -> ClickHouseConfig {
    load_into(server(), dir, generation).await
}

async fn load_into(
    server: &support::TestServer,
    dir: &std::path::Path,
    generation: Generation,
) -> ClickHouseConfig {
    let config = server.fresh_database().await;
    let names = TelemetryNames::default();
    forewarn::schema::apply(&config.writable_client(), generation, &names)
        .await
        .unwrap();
    forewarn::demo::load::load_dataset(dir, &config, &names)
        .await
        .unwrap();
    config
}

async fn admin(config: &ClickHouseConfig, sql: &str) {
    config
        .writable_client()
        .query_raw(sql)
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count(config: &ClickHouseConfig, sql: &str) -> u64 {
    config
        .writable_client()
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A source of `config`'s telemetry, with rollups in `mode` kept in `database`.
async fn source(
    config: &ClickHouseConfig,
    mode: RollupMode,
    database: &str,
    overlap: Duration,
) -> Source {
    source_on(config, mode, database, overlap, None, None).await
}

/// A pull-rollup source of a long-lived process: it keeps each window it reads to splice the
/// next one onto.
async fn cached_source(config: &ClickHouseConfig, database: &str, overlap: Duration) -> Source {
    let cache = Arc::new(WindowCache::new());
    source_on(
        config,
        RollupMode::Pull,
        database,
        overlap,
        None,
        Some(cache),
    )
    .await
}

async fn source_on(
    config: &ClickHouseConfig,
    mode: RollupMode,
    database: &str,
    overlap: Duration,
    cluster: Option<RollupCluster>,
    cache: Option<Arc<WindowCache>>,
) -> Source {
    let source = ClickHouseSource::connect(
        config.clone(),
        TelemetryNames::default(),
        QuerySet::embedded(),
    )
    .await
    .unwrap();
    let telemetry = source.database().to_string();
    let rollups = (mode != RollupMode::Off).then(|| {
        Rollups::new(
            RollupSettings {
                mode,
                database: database.into(),
                overlap,
                cluster,
                cache,
            },
            config,
            &telemetry,
        )
    });
    Source::ClickHouse(Box::new(source.with_rollups(rollups)))
}

fn rollups(source: &Source) -> &Rollups {
    match source {
        Source::ClickHouse(s) => s.rollups().unwrap(),
        Source::Parquet(_) => unreachable!(),
    }
}

/// The window as `source` reads it, which must be from its rollup (not a fallback to raw).
async fn from_rollup(
    source: &Source,
    kind: QueryKind,
    window: &WindowSpec,
) -> forewarn::window::WindowFrame {
    let Source::ClickHouse(s) = source else {
        unreachable!()
    };
    let (frame, stats) = s.fetch_with_stats(kind, window).await.unwrap();
    assert_eq!(
        stats.rollup,
        Some(kind.name()),
        "{kind} was read from raw samples, not from its rollup"
    );
    frame
}

/// Every rolled-up window of `as_of` (1- and 5-minute buckets) equals the raw one.
async fn assert_same_windows(raw: &Source, rolled: &Source, as_of: OffsetDateTime, what: &str) {
    for kind in [QueryKind::Memory, QueryKind::Errors] {
        for bucket in [MINUTE, 5 * MINUTE] {
            let window = WindowSpec::ending_at(as_of, Duration::from_secs(3 * 3600), bucket);
            let expected = raw.fetch(kind, &window).await.unwrap();
            let got = from_rollup(rolled, kind, &window).await;
            assert!(expected.height() > 100, "{kind} has data");
            assert!(
                got.equals_missing(&expected),
                "{what}: {kind} at {bucket:?} buckets differs from the raw window:\nrollup:\n{got}\nraw:\n{expected}"
            );
        }
    }
    assert_eq!(rollups(rolled).disabled_because(), None);
}

/// Moves a third of the rows of `[from, to)` out of the telemetry tables, to bring them back
/// later as late arrivals; returns how many.
async fn hold_back(config: &ClickHouseConfig, from: &str, to: &str) -> u64 {
    let mut held = 0;
    for (table, time) in [
        ("otel_metrics_gauge", "TimeUnix"),
        ("otel_logs", "Timestamp"),
    ] {
        let pick = format!(
            "{time} >= toDateTime64('{from}', 9, 'UTC') AND {time} < toDateTime64('{to}', 9, 'UTC') \
             AND cityHash64(toString({time}), toString(ResourceAttributes)) % 3 = 0"
        );
        admin(config, &format!("CREATE TABLE late_{table} AS {table}")).await;
        admin(
            config,
            &format!("INSERT INTO late_{table} SELECT * FROM {table} WHERE {pick}"),
        )
        .await;
        admin(
            config,
            &format!("ALTER TABLE {table} DELETE WHERE {pick} SETTINGS mutations_sync = 2"),
        )
        .await;
        held += count(config, &format!("SELECT count() FROM late_{table}")).await;
    }
    held
}

async fn arrive_late(config: &ClickHouseConfig) {
    for table in ["otel_metrics_gauge", "otel_logs"] {
        admin(
            config,
            &format!("INSERT INTO {table} SELECT * FROM late_{table}"),
        )
        .await;
    }
}

/// The runs of the late-rows tests: the first at FIRST, the second at SECOND.
const FIRST: OffsetDateTime = datetime!(2026-11-20 11:30 UTC);
const SECOND: OffsetDateTime = datetime!(2026-11-20 11:35 UTC);

/// 4 h of demo telemetry (seed `seed`) loaded into a fresh database of `server`, with the rows
/// of the 8 minutes before FIRST held back (`arrive_late` brings them); (config, database).
async fn with_late_rows(
    server: &support::TestServer,
    dir: &std::path::Path,
    seed: u64,
) -> (ClickHouseConfig, String) {
    dataset(dir, datetime!(2026-11-20 12:00 UTC), seed);
    let config = load_into(server, dir, Generation::G2).await;
    let db = config.database.clone().unwrap();
    let held = hold_back(&config, "2026-11-20 11:22:00", "2026-11-20 11:30:00").await;
    assert!(held > 500, "{held} rows held back");
    (config, db)
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_rollups_give_the_raw_windows_also_after_late_rows_and_miss_them_without_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = with_late_rows(server(), dir.path(), 11).await;

    let raw = source(&config, RollupMode::Off, "", MINUTE).await;
    let pulled = source(&config, RollupMode::Pull, &format!("{db}_fw"), 10 * MINUTE).await;
    let no_overlap = source(
        &config,
        RollupMode::Pull,
        &format!("{db}_fw0"),
        Duration::ZERO,
    )
    .await;
    let memory = WindowSpec::ending_at(SECOND, Duration::from_secs(3 * 3600), MINUTE);

    assert_same_windows(&raw, &pulled, FIRST, "first run").await;
    no_overlap
        .fetch(
            QueryKind::Memory,
            &WindowSpec::ending_at(FIRST, Duration::from_secs(3 * 3600), MINUTE),
        )
        .await
        .unwrap();
    arrive_late(&config).await;
    assert_same_windows(&raw, &pulled, SECOND, "after late rows").await;

    // The control: a rollup that never looks back misses the late rows of its last run.
    let expected = raw.fetch(QueryKind::Memory, &memory).await.unwrap();
    let missed = from_rollup(&no_overlap, QueryKind::Memory, &memory).await;
    let samples = |f: &polars::prelude::DataFrame| {
        f.column("samples")
            .unwrap()
            .as_materialized_series()
            .sum::<u64>()
            .unwrap()
    };
    assert!(
        samples(&missed) < samples(&expected),
        "without overlap the late samples are lost: {} vs {}",
        samples(&missed),
        samples(&expected)
    );

    // A steady run aggregated only what is new: the coverage moved to the second run's end.
    let names = TelemetryNames::default();
    let status = rollups(&pulled)
        .status(&names, |_| Ok(Generation::G2), SECOND)
        .await
        .unwrap();
    for s in &status {
        assert_eq!(s.reach.as_deref(), Some("2026-11-20T11:35:00Z"), "{s:?}");
        assert_eq!(
            s.covered_from.as_deref(),
            Some("2026-11-20T08:30:00Z"),
            "{s:?}"
        );
        assert!(s.current && s.rows > 0, "{s:?}");
    }
}

/// The window as `source` reads it from its rollup, and where it was spliced onto the window
/// the source read before (`None`: read whole).
async fn read_spliced(
    source: &Source,
    window: &WindowSpec,
) -> (forewarn::window::WindowFrame, Option<OffsetDateTime>) {
    let Source::ClickHouse(s) = source else {
        unreachable!()
    };
    let (frame, stats) = s.fetch_with_stats(QueryKind::Memory, window).await.unwrap();
    assert_eq!(stats.rollup, Some("memory"), "read from raw samples");
    (frame, stats.spliced_from)
}

/// A long-lived process (the daemon) splices each memory window onto the one it read before:
/// it reads from the rollup only the buckets since the overlap began, and its windows equal the
/// raw ones run after run, also after late rows. The control: a process that keeps every
/// bucket it read (no overlap) keeps the minutes the late rows changed as they were, though the
/// rollup it reads has them, so its window differs from the raw one.
#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_reads_only_the_new_buckets_and_still_gets_the_raw_windows_after_late_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = with_late_rows(server(), dir.path(), 12).await;
    let database = format!("{db}_fw");
    let raw = source(&config, RollupMode::Off, "", MINUTE).await;
    let daemon = cached_source(&config, &database, 10 * MINUTE).await;
    let keeps_all = cached_source(&config, &database, Duration::ZERO).await;
    let lookback = Duration::from_secs(3 * 3600);
    let buckets = [MINUTE, 5 * MINUTE];

    for bucket in buckets {
        let window = WindowSpec::ending_at(FIRST, lookback, bucket);
        let (first, spliced) = read_spliced(&daemon, &window).await;
        assert_eq!(spliced, None, "the first read is whole");
        assert!(first.equals_missing(&raw.fetch(QueryKind::Memory, &window).await.unwrap()));
        read_spliced(&keeps_all, &window).await;
    }
    arrive_late(&config).await;
    for bucket in buckets {
        let window = WindowSpec::ending_at(SECOND, lookback, bucket);
        let expected = raw.fetch(QueryKind::Memory, &window).await.unwrap();
        let (got, spliced) = read_spliced(&daemon, &window).await;
        assert_eq!(
            spliced,
            Some(FIRST - 10 * MINUTE),
            "{bucket:?}: read from the overlap on"
        );
        assert!(
            got.equals_missing(&expected),
            "{bucket:?}: the spliced window differs from the raw one after late rows:\nspliced:\n{got}\nraw:\n{expected}"
        );
        let (stale, spliced) = read_spliced(&keeps_all, &window).await;
        assert_eq!(spliced, Some(FIRST), "{bucket:?}");
        assert!(
            !stale.equals_missing(&expected),
            "{bucket:?}: keeping the late minutes as first read must miss their late rows"
        );
    }
    // Run after run as a 5-minute schedule moves the window on.
    let mut as_of = SECOND;
    while as_of < datetime!(2026-11-20 12:00 UTC) {
        let previous = as_of;
        as_of += 5 * MINUTE;
        for bucket in buckets {
            let window = WindowSpec::ending_at(as_of, lookback, bucket);
            let (got, spliced) = read_spliced(&daemon, &window).await;
            assert_eq!(spliced, Some(previous - 10 * MINUTE), "{as_of} {bucket:?}");
            let expected = raw.fetch(QueryKind::Memory, &window).await.unwrap();
            assert!(
                got.equals_missing(&expected),
                "{as_of} at {bucket:?}: the spliced window differs from the raw one"
            );
        }
    }
}

/// The rollups spread over a cluster (here one shard: the test engine runs no distributed DDL
/// and has no other node): every table is `Distributed` over its `_local` table, runs insert
/// and read through it, and the windows equal the raw ones, also after late rows.
#[tokio::test(flavor = "multi_thread")]
async fn rollups_on_a_cluster_are_distributed_tables_and_give_the_raw_windows() {
    let dir = tempfile::tempdir().unwrap();
    let (config, db) = with_late_rows(cluster_server(), dir.path(), 13).await;
    let raw = source(&config, RollupMode::Off, "", MINUTE).await;
    let database = format!("{db}_fwc");
    let spread = source_on(
        &config,
        RollupMode::Pull,
        &database,
        10 * MINUTE,
        Some(RollupCluster {
            name: TEST_CLUSTER.into(),
            ddl: ClusterDdl::Local,
        }),
        None,
    )
    .await;

    assert_same_windows(&raw, &spread, FIRST, "first run on the cluster").await;
    arrive_late(&config).await;
    assert_same_windows(&raw, &spread, SECOND, "after late rows on the cluster").await;

    for table in [
        "rollup_memory_minute",
        "rollup_memory_names",
        "rollup_errors",
        "rollup_coverage",
    ] {
        let engine = |name: String| {
            let config = config.clone();
            let database = database.clone();
            async move {
                config
                    .writable_client()
                    .query("SELECT engine FROM system.tables WHERE database = ? AND name = ?")
                    .bind(database)
                    .bind(name)
                    .fetch_one::<String>()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(engine(table.to_string()).await, "Distributed", "{table}");
        assert_ne!(
            engine(format!("{table}_local")).await,
            "Distributed",
            "{table}_local"
        );
        let local = count(
            &config,
            &format!("SELECT count() FROM `{database}`.`{table}_local`"),
        )
        .await;
        assert!(local > 0, "{table}_local holds the rows");
    }
    // `rollup status` reads through the Distributed tables too.
    let status = rollups(&spread)
        .status(&TelemetryNames::default(), |_| Ok(Generation::G2), SECOND)
        .await
        .unwrap();
    for s in &status {
        assert_eq!(s.reach.as_deref(), Some("2026-11-20T11:35:00Z"), "{s:?}");
        assert!(s.current && s.rows > 0 && s.series > 0, "{s:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn analyze_prints_the_same_findings_from_rollups_and_raw_samples() {
    let dir = tempfile::tempdir().unwrap();
    let end = datetime!(2026-11-20 12:00 UTC);
    dataset(dir.path(), end, 5);
    let config = load(dir.path(), Generation::G1).await;
    let db = config.database.clone().unwrap();
    hold_back(&config, "2026-11-20 11:45:00", "2026-11-20 11:50:00").await;
    let analyze = |at: &str, rollups: &str| {
        let out = Command::new(forewarn_bin())
            .args([
                "analyze",
                "--output",
                "jsonl",
                "--at",
                at,
                "--rollups",
                rollups,
            ])
            .args([
                "--clickhouse-url",
                &server().url(),
                "--clickhouse-database",
                &db,
            ])
            .args(["--rollup-database", &format!("{db}_fw")])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !stderr.contains("reading raw"),
            "the rollup was used: {stderr}"
        );
        String::from_utf8(out.stdout).unwrap()
    };
    analyze("2026-11-20T11:50:00Z", "pull");
    arrive_late(&config).await;
    let from_rollups = analyze("2026-11-20T12:00:00Z", "pull");
    let from_raw = analyze("2026-11-20T12:00:00Z", "off");
    assert!(
        from_raw.lines().count() >= 3,
        "the demo's incidents are found: {from_raw}"
    );
    assert_eq!(from_rollups, from_raw);
    // forewarn's database holds the rollups; the telemetry database gained nothing.
    assert!(
        count(
            &config,
            &format!("SELECT count() FROM `{db}_fw`.rollup_memory_minute")
        )
        .await
            > 0
    );
    assert_eq!(
        count(&config, &format!("SELECT count() FROM system.tables WHERE database = '{db}' AND name LIKE '%rollup%'")).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn views_feed_the_rollups_at_insert_time_and_give_the_raw_windows() {
    // Views feed the minutes after their creation, so the data is stamped from just after now.
    let now = OffsetDateTime::now_utc();
    let end =
        forewarn::window::timefmt::floor_to(now, MINUTE) + Duration::from_secs(4 * 3600 + 180);
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), end, 11);
    let config = server().fresh_database().await;
    let db = config.database.clone().unwrap();
    let names = TelemetryNames::default();
    forewarn::schema::apply(&config.writable_client(), Generation::G1, &names)
        .await
        .unwrap();
    let viewed = source(&config, RollupMode::Views, &format!("{db}_fw"), 10 * MINUTE).await;
    // The first read creates the views (on an empty window).
    let empty = WindowSpec::ending_at(now, Duration::from_secs(3600), MINUTE);
    viewed.fetch(QueryKind::Memory, &empty).await.unwrap();
    viewed.fetch(QueryKind::Errors, &empty).await.unwrap();
    forewarn::demo::load::load_dataset(dir.path(), &config, &names)
        .await
        .unwrap();
    let fed = count(
        &config,
        &format!("SELECT count() FROM `{db}_fw`.rollup_memory_minute_fed"),
    )
    .await;
    assert!(fed > 1000, "the views fed {fed} rows at insert time");
    // One pod carries the opt-out label for ten minutes (its working-set samples sent again
    // with it): a series opts out where any minute of its window does, from the views' partial
    // rows as from raw samples.
    let (from, to) = (
        forewarn::window::timefmt::clickhouse_datetime64(end - Duration::from_secs(90 * 60)),
        forewarn::window::timefmt::clickhouse_datetime64(end - Duration::from_secs(80 * 60)),
    );
    admin(
        &config,
        &format!(
            "INSERT INTO otel_metrics_gauge SELECT * REPLACE (mapUpdate(ResourceAttributes, \
             map('{}', 'true')) AS ResourceAttributes) FROM otel_metrics_gauge \
             WHERE MetricName = 'container.memory.working_set' \
               AND ResourceAttributes['k8s.pod.uid'] = (SELECT min(ResourceAttributes['k8s.pod.uid']) \
                   FROM otel_metrics_gauge WHERE MetricName = 'container.memory.working_set') \
               AND TimeUnix >= toDateTime64('{from}', 9, 'UTC') AND TimeUnix < toDateTime64('{to}', 9, 'UTC')",
            names.opt_out_attribute
        ),
    )
    .await;
    let raw = source(&config, RollupMode::Off, "", MINUTE).await;
    assert_same_windows(&raw, &viewed, end, "views").await;
    // The control: the label reached the window, on one series.
    let window = WindowSpec::ending_at(end, Duration::from_secs(3 * 3600), MINUTE);
    let series = raw
        .fetch(QueryKind::Memory, &window)
        .await
        .unwrap()
        .names
        .unwrap();
    let opted_out = series
        .column("opt_out")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .filter(|label| *label == Some("true"))
        .count();
    assert_eq!(opted_out, 1, "{series}");
    let status = rollups(&viewed)
        .status(&names, |_| Ok(Generation::G1), end)
        .await
        .unwrap();
    assert!(
        status
            .iter()
            .all(|s| s.mode == RollupMode::Views && s.current && s.rows > 0),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_write_access_to_its_database_forewarn_says_so_and_reads_raw_windows() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path(), datetime!(2026-11-20 12:00 UTC), 11);
    let config = load(dir.path(), Generation::G2).await;
    let db = config.database.clone().unwrap();
    let out = |rollups: &str, user: &str| {
        Command::new(forewarn_bin())
            .args([
                "analyze",
                "--output",
                "jsonl",
                "--at",
                "2026-11-20T12:00:00Z",
            ])
            .args(["--rollups", rollups])
            .args([
                "--clickhouse-url",
                &server().url(),
                "--clickhouse-database",
                &db,
            ])
            .args(["--clickhouse-user", user])
            .args(["--rollup-database", &format!("{db}_fw")])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    // `reader` has a readonly=2 profile on the test server: it may read, never write.
    let refused = out("pull", "reader");
    let raw = out("off", "default");
    assert!(
        refused.status.success() && raw.status.success(),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!raw.stdout.is_empty(), "findings to compare");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(
        stderr.matches("rollups are off").count(),
        1,
        "said once: {stderr}"
    );
    assert!(
        stderr.contains("READONLY") || stderr.contains("readonly"),
        "{stderr}"
    );
    assert_eq!(refused.stdout, raw.stdout);
    // The control: a usable database gives the same rows without the warning.
    let used = out("pull", "default");
    assert!(!String::from_utf8_lossy(&used.stderr).contains("rollups are off"));
    assert_eq!(used.stdout, raw.stdout);
}
