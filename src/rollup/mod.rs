//! Rollups: per-signal one-minute aggregate tables in forewarn's own database, so a scheduled
//! run reads only what is new instead of every raw sample of its window.
//!
//! Two modes feed them:
//! - **pull** (the default for scheduled runs): before reading its window, a run has ClickHouse
//!   aggregate the minutes the rollup lacks — those since the previous run, plus `overlap` more
//!   for rows that arrive late — with one `INSERT … SELECT` per table (nothing travels through
//!   forewarn). The per-minute tables are `ReplacingMergeTree(version)` of mergeable aggregates
//!   keyed by series and minute: re-aggregating a minute replaces its row, so overlapping runs
//!   are idempotent, and the read (`FINAL`) merges whole minutes into any coarser bucket. Names
//!   live once per series (`tables`), so minutes carry numbers only.
//! - **views**: materialized views on the telemetry tables feed `AggregatingMergeTree` twins of
//!   the same tables at insert time, so no run reads raw samples at all. Only minutes from the
//!   views' creation on are fed; older ones are backfilled (`forewarn rollup backfill`).
//!
//! The telemetry database is only read (views mode creates its views there, which a user
//! allows by choosing it). When forewarn cannot write its database, it says so once and reads
//! raw windows; any failure of a rollup for one window falls back to the raw query for it, so
//! results are the same either way.

pub mod cache;
pub mod plan;
pub mod tables;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clickhouse::{Client, Row};
use polars::prelude::{
    col, lit, when, BooleanChunked, Column, DataFrame, DataType, IntoColumn, IntoLazy,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::source::clickhouse::{bind, run_arrow_query, run_window_query, QueryStats};
use crate::source::introspect::Generation;
use crate::source::parameters::{window_parameters, Parameter, ParameterValue};
use crate::source::queries::{logs_time_prune, QuerySet};
use crate::source::{ClickHouseConfig, SourceError, TelemetryNames};
use crate::window::splice::{splice, Previous};
use crate::window::timefmt::{self, floor_to, rfc3339};
use crate::window::{self, FrameError, QueryKind, WindowFrame, WindowSpec};

use self::cache::WindowCache;
use self::plan::{Coverage, Fill};
use self::tables::{Rollup, Table};

/// How long rollup rows are kept: the daily report compares with the week before, and a month
/// of minutes per series is still small beside the raw samples.
pub const RETENTION_DAYS: u32 = 35;

/// The longest range one statement aggregates in a run (a backfill uses shorter chunks).
pub const RUN_CHUNK: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RollupMode {
    /// Read raw samples for every window.
    Off,
    /// Each run aggregates the minutes since the last run (plus the overlap), then reads the
    /// rollup.
    Pull,
    /// Materialized views on the telemetry tables feed the rollups at insert time.
    Views,
}

impl RollupMode {
    pub fn name(self) -> &'static str {
        match self {
            RollupMode::Off => "off",
            RollupMode::Pull => "pull",
            RollupMode::Views => "views",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RollupSettings {
    pub mode: RollupMode,
    /// forewarn's own database (the rollup tables live there).
    pub database: String,
    /// How far before the previous run's end each run aggregates again, for late rows.
    pub overlap: Duration,
    /// Spread the rollups over a cluster's shards (pull mode).
    pub cluster: Option<RollupCluster>,
    /// The previous windows of a long-lived process (the daemon): its next read of a window
    /// reads only the buckets since, plus the overlap. `None` reads every window whole.
    pub cache: Option<Arc<WindowCache>>,
}

/// A ClickHouse cluster the rollups are spread over: each table is a `Distributed` table of
/// the same name over `<name>_local` on every shard, sharded by series (a series' minutes meet
/// on one shard, so `FINAL` and the per-series merges are exact shard by shard).
#[derive(Debug, Clone)]
pub struct RollupCluster {
    /// The cluster's name in the servers' `remote_servers`.
    pub name: String,
    pub ddl: ClusterDdl,
}

/// How the rollup DDL reaches a cluster's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterDdl {
    /// `ON CLUSTER` statements; local tables are Replicated*MergeTree (ClickHouse Keeper keeps
    /// each shard's replicas; the default replica path of the server is used).
    OnCluster,
    /// Statements run on the server forewarn is connected to, with plain engines: for a
    /// `Replicated` database (it replicates DDL itself) or a cluster of one node.
    Local,
}

/// Whether the rollups are usable, found out on first use.
#[derive(Debug, Clone)]
enum Readiness {
    Unknown,
    Ready,
    Disabled(String),
}

/// The rollups of one ClickHouse source.
pub struct Rollups {
    settings: RollupSettings,
    config: ClickHouseConfig,
    /// The telemetry database (where views mode creates its views).
    telemetry_database: String,
    writer: Client,
    reader: Client,
    readiness: Mutex<Readiness>,
}

/// What extending a rollup over a window did.
struct Extension {
    coverage: Coverage,
    /// The fingerprint the rollup's rows are built under.
    fingerprint: String,
    /// Where the earliest minute aggregated in this run begins (`None`: none were).
    earliest_fill: Option<OffsetDateTime>,
}

/// What `forewarn rollup status` shows of one rollup.
#[derive(Debug, Clone, Serialize)]
pub struct RollupStatus {
    pub rollup: &'static str,
    pub mode: RollupMode,
    pub tables: Vec<String>,
    /// RFC 3339: the first minute the rollup holds.
    pub covered_from: Option<String>,
    /// RFC 3339: where the rollup's minutes end (pull: the last run's window end; views: the
    /// newest minute fed, +1 minute).
    pub reach: Option<String>,
    pub lag_seconds: Option<f64>,
    pub rows: u64,
    pub series: u64,
    /// Whether the rollup was built with the current names and queries (else the next run
    /// starts it afresh).
    pub current: bool,
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct CoverageRow {
    rollup: String,
    mode: String,
    fingerprint: String,
    #[serde(with = "clickhouse::serde::time::datetime64::micros")]
    covered_from: OffsetDateTime,
    #[serde(with = "clickhouse::serde::time::datetime64::micros")]
    reach: OffsetDateTime,
    #[serde(with = "clickhouse::serde::time::datetime64::micros")]
    updated_at: OffsetDateTime,
}

#[derive(Debug, Row, Deserialize)]
struct TableFacts {
    rows: u64,
    series: u64,
    newest: u32,
}

/// A name for DDL, backquoted (identifiers cannot be bound as parameters there).
fn quoted(identifier: &str) -> String {
    format!("`{}`", identifier.replace('\\', "\\\\").replace('`', "\\`"))
}

fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

const MINUTE: Duration = Duration::from_secs(60);

fn minute_aligned(t: OffsetDateTime) -> bool {
    floor_to(t, MINUTE) == t
}

fn ceil_minute(t: OffsetDateTime) -> OffsetDateTime {
    let floor = floor_to(t, MINUTE);
    if floor == t {
        t
    } else {
        floor + MINUTE
    }
}

/// Replaces each `{name:Type}` placeholder with its value as a literal: a materialized view's
/// definition cannot take parameters. Table identifiers are qualified with `database`.
fn with_literals(sql: &str, parameters: &[Parameter], database: &str) -> String {
    let mut sql = sql.to_string();
    for parameter in parameters {
        let placeholder = format!("{{{}:{}}}", parameter.name, parameter.sql_type);
        if !sql.contains(&placeholder) {
            continue;
        }
        let literal = match (&parameter.value, parameter.sql_type) {
            (ParameterValue::Text(t), "Identifier") => {
                format!("{}.{}", quoted(database), quoted(t))
            }
            (ParameterValue::Text(t), "DateTime64(9)") => {
                format!("toDateTime64({}, 9, 'UTC')", string_literal(t))
            }
            (ParameterValue::Text(t), _) => string_literal(t),
            (ParameterValue::Number(n), _) => n.to_string(),
            (ParameterValue::Texts(ts), _) => format!(
                "[{}]::Array(String)",
                ts.iter()
                    .map(|t| string_literal(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        sql = sql.replace(&placeholder, &literal);
    }
    sql
}

impl Rollups {
    pub fn new(
        settings: RollupSettings,
        config: &ClickHouseConfig,
        telemetry_database: &str,
    ) -> Rollups {
        let mut writer = config.writable_client().with_setting("async_insert", "0");
        if settings.cluster.is_some() {
            // A run reads what it has just aggregated: inserts reach the shards before they
            // return instead of being queued by the Distributed table.
            writer = writer.with_setting("insert_distributed_sync", "1");
        }
        let writer = writer.with_setting(
            "max_execution_time",
            config.query_timeout.as_secs().max(1).to_string(),
        );
        Rollups {
            reader: config.read_client(),
            writer,
            config: config.clone(),
            telemetry_database: telemetry_database.to_string(),
            settings,
            readiness: Mutex::new(Readiness::Unknown),
        }
    }

    pub fn mode(&self) -> RollupMode {
        self.settings.mode
    }

    /// Why the rollups are not used, once that is known.
    pub fn disabled_because(&self) -> Option<String> {
        match &*self.readiness.lock().unwrap() {
            Readiness::Disabled(why) => Some(why.clone()),
            _ => None,
        }
    }

    /// Whether a rollup answers `kind`'s window exactly: forewarn's own query, whole minutes.
    pub fn serves(&self, kind: QueryKind, window: &WindowSpec, queries: &QuerySet) -> bool {
        self.settings.mode != RollupMode::Off
            && self.disabled_because().is_none()
            && tables::for_kind(kind).is_some()
            && queries.is_embedded(kind)
            && window.bucket.as_secs() >= 60
            && window.bucket.as_secs().is_multiple_of(60)
            && window.bucket.subsec_nanos() == 0
            && minute_aligned(window.since)
            && minute_aligned(window.until)
    }

    fn table_name(&self, table: &Table) -> String {
        match self.settings.mode {
            RollupMode::Views => format!("{}_fed", table.name),
            _ => table.name.to_string(),
        }
    }

    fn qualified(&self, name: &str) -> String {
        format!("{}.{}", quoted(&self.settings.database), quoted(name))
    }

    fn error(&self, context: &str, e: clickhouse::error::Error) -> SourceError {
        self.config.describe_error(e, context)
    }

    async fn execute(&self, sql: &str, context: &str) -> Result<(), SourceError> {
        self.writer
            .query_raw(sql)
            .execute()
            .await
            .map_err(|e| self.error(context, e))
    }

    /// Creates forewarn's database and the rollup tables of the mode (once per source); a
    /// failure disables the rollups for this source, said once.
    async fn ensure_ready(&self) -> Result<(), SourceError> {
        if let Readiness::Ready = &*self.readiness.lock().unwrap() {
            return Ok(());
        }
        match self.create_tables().await {
            Ok(()) => {
                *self.readiness.lock().unwrap() = Readiness::Ready;
                Ok(())
            }
            Err(e) => {
                let why = e.to_string();
                tracing::warn!(
                    database = %self.settings.database,
                    error = %why,
                    "rollups are off: forewarn cannot create its rollup tables in its own database; reading raw windows"
                );
                *self.readiness.lock().unwrap() = Readiness::Disabled(why);
                Err(e)
            }
        }
    }

    async fn create_tables(&self) -> Result<(), SourceError> {
        for (statement, context) in self.ddl() {
            self.execute(&statement, &context).await?;
        }
        Ok(())
    }

    /// ` ON CLUSTER <name>` where DDL goes to every node, else "".
    fn on_cluster(&self) -> String {
        match &self.settings.cluster {
            Some(RollupCluster {
                name,
                ddl: ClusterDdl::OnCluster,
            }) => format!(" ON CLUSTER {}", quoted(name)),
            _ => String::new(),
        }
    }

    /// Where a table's rows are stored: itself on one server, `<name>_local` under a
    /// `Distributed` table of its name on a cluster.
    fn storage_name(&self, name: &str) -> String {
        match &self.settings.cluster {
            Some(_) => format!("{name}_local"),
            None => name.to_string(),
        }
    }

    /// The statements creating forewarn's database and the mode's rollup tables, each with
    /// what it does (for errors).
    fn ddl(&self) -> Vec<(String, String)> {
        let on = self.on_cluster();
        let replicated = matches!(
            &self.settings.cluster,
            Some(RollupCluster {
                ddl: ClusterDdl::OnCluster,
                ..
            })
        );
        let engine = |name: &str| {
            if replicated {
                format!("Replicated{name}")
            } else {
                name.to_string()
            }
        };
        let mut statements = vec![(
            format!(
                "CREATE DATABASE IF NOT EXISTS {}{on}",
                quoted(&self.settings.database)
            ),
            "rollup: create database".to_string(),
        )];
        // One table (local or not) and, on a cluster, the Distributed table over it.
        let mut table = |name: &str, definition: String, layout: String, shard_by: &str| {
            let storage = self.storage_name(name);
            statements.push((
                format!(
                    "CREATE TABLE IF NOT EXISTS {}{on} {definition} {layout}",
                    self.qualified(&storage)
                ),
                format!("rollup: create {storage}"),
            ));
            if let Some(cluster) = &self.settings.cluster {
                statements.push((
                    format!(
                        "CREATE TABLE IF NOT EXISTS {}{on} AS {} \
                         ENGINE = Distributed({}, {}, {}, {shard_by})",
                        self.qualified(name),
                        self.qualified(&storage),
                        string_literal(&cluster.name),
                        string_literal(&self.settings.database),
                        string_literal(&storage),
                    ),
                    format!("rollup: create {name} (Distributed)"),
                ));
            }
        };
        // Views feed partial aggregates per insert block, which AggregatingMergeTree merges;
        // pulled minutes are whole and a later aggregation of one replaces it (sums would
        // double otherwise). A series' names are maxima, which merge idempotently either way.
        let merging = |t: &Table| self.settings.mode == RollupMode::Views || !t.per_minute;
        for rollup in tables::ALL {
            for t in rollup.tables {
                let layout = if t.per_minute {
                    format!(
                        "PARTITION BY toDate(minute) ORDER BY ({}) \
                         TTL minute + INTERVAL {RETENTION_DAYS} DAY",
                        t.order_by
                    )
                } else {
                    format!(
                        "ORDER BY ({}) TTL last_seen + INTERVAL {RETENTION_DAYS} DAY",
                        t.order_by
                    )
                };
                let (engine, version) = if merging(t) {
                    (
                        format!("{}()", engine("AggregatingMergeTree")),
                        "version SimpleAggregateFunction(max, UInt64)",
                    )
                } else {
                    (
                        format!("{}(version)", engine("ReplacingMergeTree")),
                        "version UInt64",
                    )
                };
                table(
                    &self.table_name(t),
                    format!(
                        "({}) ENGINE = {engine}",
                        t.columns().replace("version UInt64", version)
                    ),
                    layout,
                    t.shard_by,
                );
            }
        }
        table(
            "rollup_coverage",
            format!(
                "(rollup String, mode String, fingerprint String, \
                 covered_from DateTime64(6, 'UTC'), reach DateTime64(6, 'UTC'), \
                 updated_at DateTime64(6, 'UTC')) ENGINE = {}(updated_at)",
                engine("ReplacingMergeTree")
            ),
            "ORDER BY (rollup, mode)".to_string(),
            "cityHash64(rollup)",
        );
        statements
    }

    /// The insert SELECT of `table`, rendered for the logs generation.
    fn select_sql(&self, table: &Table, generation: Generation) -> String {
        table
            .select
            .replace("{{logs_time_prune}}", logs_time_prune(generation))
    }

    /// A digest of what a rollup's rows depend on: its SQL and every parameter it uses
    /// except the window. Rows built under another digest (names changed, a new forewarn) are
    /// not reused.
    fn fingerprint(
        &self,
        rollup: &Rollup,
        names: &TelemetryNames,
        generation: Generation,
    ) -> String {
        let mut hasher = Sha256::new();
        hasher.update(rollup.name);
        hasher.update(rollup.read_sql(60));
        hasher.update(rollup.read_sql(120));
        hasher.update(rollup.names_read_sql().unwrap_or_default());
        let probe = WindowSpec {
            since: OffsetDateTime::UNIX_EPOCH,
            until: OffsetDateTime::UNIX_EPOCH,
            bucket: Duration::from_secs(60),
        };
        let parameters = window_parameters(names, &probe);
        for table in rollup.tables {
            let sql = self.select_sql(table, generation);
            hasher.update(&sql);
            for parameter in &parameters {
                if matches!(parameter.name, "since" | "until" | "bucket_s") {
                    continue;
                }
                if sql.contains(&format!("{{{}:", parameter.name)) {
                    hasher.update(format!("{}={:?};", parameter.name, parameter.value));
                }
            }
        }
        hex::encode(&hasher.finalize()[..8])
    }

    async fn coverage_row(&self, rollup: &Rollup) -> Result<Option<CoverageRow>, SourceError> {
        let sql = format!(
            "SELECT ?fields FROM {} FINAL WHERE rollup = ? AND mode = ?",
            self.qualified("rollup_coverage")
        );
        self.reader
            .query(&sql)
            .bind(rollup.name)
            .bind(self.settings.mode.name())
            .fetch_optional::<CoverageRow>()
            .await
            .map_err(|e| self.error("rollup: read rollup_coverage", e))
    }

    async fn write_coverage(
        &self,
        rollup: &Rollup,
        fingerprint: &str,
        coverage: Coverage,
    ) -> Result<(), SourceError> {
        let mut insert = self
            .writer
            .clone()
            .with_database(&self.settings.database)
            .insert::<CoverageRow>("rollup_coverage")
            .await
            .map_err(|e| self.error("rollup: write rollup_coverage", e))?;
        insert
            .write(&CoverageRow {
                rollup: rollup.name.into(),
                mode: self.settings.mode.name().into(),
                fingerprint: fingerprint.into(),
                covered_from: coverage.from,
                reach: coverage.reach,
                updated_at: OffsetDateTime::now_utc(),
            })
            .await
            .map_err(|e| self.error("rollup: write rollup_coverage", e))?;
        insert
            .end()
            .await
            .map_err(|e| self.error("rollup: write rollup_coverage", e))
    }

    async fn truncate(&self, rollup: &Rollup) -> Result<(), SourceError> {
        for table in rollup.tables {
            // A Distributed table holds no rows: its shards' local tables are emptied.
            let sql = format!(
                "TRUNCATE TABLE {}{}",
                self.qualified(&self.storage_name(&self.table_name(table))),
                self.on_cluster()
            );
            self.execute(&sql, &format!("rollup: truncate {}", table.name))
                .await?;
        }
        Ok(())
    }

    /// Has ClickHouse aggregate `fill` into each of `rollup`'s tables.
    async fn aggregate(
        &self,
        rollup: &Rollup,
        fill: Fill,
        names: &TelemetryNames,
        generation: Generation,
    ) -> Result<(), SourceError> {
        let window = WindowSpec {
            since: fill.since,
            until: fill.until,
            bucket: Duration::from_secs(60),
        };
        let mut parameters = window_parameters(names, &window);
        parameters.push(Parameter {
            name: "version",
            sql_type: "UInt64",
            value: ParameterValue::Number(OffsetDateTime::now_utc().unix_timestamp_nanos() as u64),
        });
        for table in rollup.tables {
            let sql = format!(
                "INSERT INTO {} {}",
                self.qualified(&self.table_name(table)),
                self.select_sql(table, generation)
            );
            let context = format!("rollup: aggregate into {}", table.name);
            let query = bind(self.writer.query_raw(&sql), &parameters);
            match tokio::time::timeout(self.config.query_timeout, query.execute()).await {
                Err(_) => {
                    return Err(SourceError::Timeout {
                        query: context,
                        seconds: self.config.query_timeout.as_secs_f64(),
                    })
                }
                Ok(result) => result.map_err(|e| self.error(&context, e))?,
            }
        }
        Ok(())
    }

    /// The coverage `rollup` holds under `fingerprint`; rows of another fingerprint are
    /// removed (in views mode, the views are made again with the current definition).
    async fn current_coverage(
        &self,
        rollup: &Rollup,
        fingerprint: &str,
        names: &TelemetryNames,
        generation: Generation,
    ) -> Result<Option<Coverage>, SourceError> {
        let row = self.coverage_row(rollup).await?;
        match row {
            Some(row) if row.fingerprint == fingerprint => Ok(Some(Coverage {
                from: row.covered_from,
                reach: row.reach,
            })),
            stale => {
                if stale.is_some() {
                    tracing::info!(
                        rollup = rollup.name,
                        "rollup built with other names or queries: starting it afresh"
                    );
                    self.truncate(rollup).await?;
                }
                if self.settings.mode == RollupMode::Views {
                    let from = self.create_views(rollup, names, generation).await?;
                    let coverage = Coverage { from, reach: from };
                    self.write_coverage(rollup, fingerprint, coverage).await?;
                    return Ok(Some(coverage));
                }
                Ok(None)
            }
        }
    }

    /// Creates the materialized views feeding `rollup`'s tables; returns the first minute
    /// they feed completely.
    async fn create_views(
        &self,
        rollup: &Rollup,
        names: &TelemetryNames,
        generation: Generation,
    ) -> Result<OffsetDateTime, SourceError> {
        let everything = WindowSpec {
            since: OffsetDateTime::UNIX_EPOCH,
            until: time::macros::datetime!(2262-01-01 00:00 UTC),
            bucket: Duration::from_secs(60),
        };
        let mut parameters = window_parameters(names, &everything);
        parameters.push(Parameter {
            name: "version",
            sql_type: "UInt64",
            value: ParameterValue::Number(0),
        });
        for table in rollup.tables {
            let view = self.view_name(table);
            self.execute(
                &format!("DROP VIEW IF EXISTS {view}"),
                &format!("rollup: drop view {view}"),
            )
            .await?;
            let select = with_literals(
                &self.select_sql(table, generation),
                &parameters,
                &self.telemetry_database,
            );
            let sql = format!(
                "CREATE MATERIALIZED VIEW {view} TO {} AS {select}",
                self.qualified(&self.table_name(table))
            );
            self.execute(&sql, &format!("rollup: create view {view}"))
                .await?;
        }
        // The minute in which the views appeared is partly fed; the next one is whole.
        Ok(ceil_minute(OffsetDateTime::now_utc()))
    }

    fn view_name(&self, table: &Table) -> String {
        format!(
            "{}.{}",
            quoted(&self.telemetry_database),
            quoted(&format!("forewarn_{}", table.name))
        )
    }

    /// Extends `rollup` over `[since, until)` as the mode requires.
    #[allow(clippy::too_many_arguments)] // one call site per caller; a struct would only rename them
    async fn extend(
        &self,
        rollup: &Rollup,
        since: OffsetDateTime,
        until: OffsetDateTime,
        names: &TelemetryNames,
        generation: Generation,
        chunk: Duration,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Extension, SourceError> {
        let fingerprint = self.fingerprint(rollup, names, generation);
        let held = self
            .current_coverage(rollup, &fingerprint, names, generation)
            .await?;
        let (fills, coverage) = match (self.settings.mode, held) {
            // Views feed everything from their creation on; only older minutes are filled.
            (RollupMode::Views, Some(held)) => {
                let fills = if since < held.from {
                    vec![Fill {
                        since,
                        until: held.from.min(until),
                    }]
                } else {
                    Vec::new()
                };
                (
                    fills,
                    Coverage {
                        from: held.from.min(since),
                        reach: held.reach,
                    },
                )
            }
            (_, held) => {
                let plan = plan::plan(held, since, until, self.settings.overlap);
                (plan.fills, plan.coverage)
            }
        };
        let parts: Vec<Fill> = fills
            .into_iter()
            .flat_map(|fill| plan::chunks(fill, chunk))
            .collect();
        for (done, part) in parts.iter().enumerate() {
            progress(done, parts.len());
            self.aggregate(rollup, *part, names, generation).await?;
        }
        progress(parts.len(), parts.len());
        if held != Some(coverage) {
            self.write_coverage(rollup, &fingerprint, coverage).await?;
        }
        Ok(Extension {
            coverage,
            earliest_fill: parts.iter().map(|p| p.since).min(),
            fingerprint,
        })
    }

    /// The window of `kind` read from its rollup, after extending the rollup over it.
    pub async fn fetch(
        &self,
        kind: QueryKind,
        window: &WindowSpec,
        names: &TelemetryNames,
        generation: Generation,
    ) -> Result<(WindowFrame, QueryStats), SourceError> {
        let rollup = tables::for_kind(kind).expect("serves() checked the kind");
        let started = Instant::now();
        self.ensure_ready().await?;
        let extension = self
            .extend(
                rollup,
                window.since,
                window.until,
                names,
                generation,
                RUN_CHUNK,
                |_, _| {},
            )
            .await?;
        let bucket_s = window.bucket.as_secs();
        // FINAL keeps the latest aggregation of each re-aggregated minute (pull), and merges
        // the partial rows views feed where minutes are read without merging them.
        let final_needed =
            self.settings.mode == RollupMode::Pull || rollup.reads_minutes_whole(bucket_s);
        let with_tables = |mut sql: String, final_needed: bool| {
            for table in rollup.tables {
                let source = if final_needed && table.per_minute {
                    format!("{} FINAL", self.qualified(&self.table_name(table)))
                } else {
                    self.qualified(&self.table_name(table))
                };
                sql = sql.replace(table.placeholder, &source);
            }
            sql
        };
        let sql = with_tables(rollup.read_sql(bucket_s), final_needed);
        let mut parameters = window_parameters(names, window);
        let origin = format!("rollup {} ({})", rollup.name, self.settings.mode.name());
        let (frame, mut stats) = match rollup.names_read_sql() {
            None => {
                run_window_query(&self.config, &self.reader, kind, &sql, &parameters, &origin)
                    .await?
            }
            Some(names_read) => {
                // The names read takes the greatest of aggregates that max merges, so the
                // partial rows views feed need no merging for it (FINAL took 100 ms of it on a
                // 1.8 M-row window); re-aggregated minutes of pull mode do.
                let names_sql = with_tables(names_read, self.settings.mode == RollupMode::Pull);
                let names_origin = format!("{origin}: series names");
                let (series, _) = run_arrow_query(
                    &self.config,
                    &self.reader,
                    &names_sql,
                    &parameters,
                    &names_origin,
                )
                .await?;
                // A window read before by this process keeps its rows up to `keep_until`; the
                // read then sends only the rows from there on.
                let previous = self.settings.cache.as_ref().and_then(|cache| {
                    cache.take(
                        kind,
                        window,
                        &extension.fingerprint,
                        self.settings.overlap,
                        extension.earliest_fill,
                    )
                });
                let rows_since = previous.as_ref().map_or(window.since, |(_, keep)| *keep);
                parameters.push(Parameter {
                    name: "rows_since",
                    sql_type: "DateTime64(9)",
                    value: ParameterValue::Text(timefmt::clickhouse_datetime64(rows_since)),
                });
                let (rows, mut stats) =
                    run_arrow_query(&self.config, &self.reader, &sql, &parameters, &origin).await?;
                let frame_error = |e| SourceError::Frame {
                    query: origin.clone(),
                    source: e,
                };
                let (frame, carried) = match (rows, series, previous) {
                    (rows, Some(series), Some((previous, keep_until))) => {
                        stats.spliced_from = Some(keep_until);
                        let rows = splice(
                            kind,
                            previous,
                            window.since,
                            keep_until,
                            rows,
                            &series,
                            MATCHED,
                        )
                        .map_err(frame_error)?;
                        keyed_frame(kind, rows, series, true).map_err(frame_error)?
                    }
                    (Some(rows), Some(series), None) => {
                        keyed_frame(kind, rows, series, false).map_err(frame_error)?
                    }
                    _ => (window::empty_frame(kind), None),
                };
                if let (Some(cache), Some(carried)) = (&self.settings.cache, carried) {
                    cache.keep(
                        kind,
                        *window,
                        &extension.fingerprint,
                        Previous {
                            frame: frame.clone(),
                            carried,
                        },
                    );
                }
                (frame, stats)
            }
        };
        stats.wall = started.elapsed();
        stats.result_rows = frame.height();
        stats.rollup = Some(rollup.name);
        tracing::debug!(
            rollup = rollup.name,
            rows = frame.height(),
            wall_ms = stats.wall.as_millis() as u64,
            "window read from the rollup"
        );
        Ok((frame, stats))
    }

    /// Fills every rollup from `since` to `until` in chunks of `chunk` (older minutes than
    /// they hold; in pull mode also up to `until`), reporting (rollup, done, total).
    pub async fn backfill(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
        chunk: Duration,
        names: &TelemetryNames,
        generation_of: impl Fn(&Rollup) -> Result<Generation, SourceError>,
        mut progress: impl FnMut(&str, usize, usize),
    ) -> Result<Vec<(&'static str, Coverage)>, SourceError> {
        self.ensure_ready().await?;
        let mut out = Vec::new();
        for rollup in tables::ALL {
            let generation = generation_of(rollup)?;
            let coverage = self
                .extend(
                    rollup,
                    since,
                    until,
                    names,
                    generation,
                    chunk,
                    |done, total| progress(rollup.name, done, total),
                )
                .await?
                .coverage;
            out.push((rollup.name, coverage));
        }
        Ok(out)
    }

    /// What each rollup holds, how far it reaches and its lag behind `now`.
    pub async fn status(
        &self,
        names: &TelemetryNames,
        generation_of: impl Fn(&Rollup) -> Result<Generation, SourceError>,
        now: OffsetDateTime,
    ) -> Result<Vec<RollupStatus>, SourceError> {
        self.ensure_ready().await?;
        let mut out = Vec::new();
        for rollup in tables::ALL {
            let row = self.coverage_row(rollup).await?;
            let current = match (&row, generation_of(rollup)) {
                (Some(row), Ok(generation)) => {
                    row.fingerprint == self.fingerprint(rollup, names, generation)
                }
                _ => false,
            };
            let first = &rollup.tables[0];
            let key = first.series_key();
            let sql = format!(
                "SELECT count() AS rows, uniqExact({key}) AS series, \
                 toUInt32(max(minute)) AS newest FROM {}",
                self.qualified(&self.table_name(first))
            );
            let facts = self
                .reader
                .query(&sql)
                .fetch_one::<TableFacts>()
                .await
                .map_err(|e| self.error("rollup status", e))?;
            let newest = (facts.rows > 0).then(|| {
                OffsetDateTime::from_unix_timestamp(facts.newest as i64)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH)
                    + Duration::from_secs(60)
            });
            let reach = match self.settings.mode {
                RollupMode::Views => newest,
                _ => row.as_ref().map(|r| r.reach),
            };
            out.push(RollupStatus {
                rollup: rollup.name,
                mode: self.settings.mode,
                tables: rollup
                    .tables
                    .iter()
                    .map(|t| format!("{}.{}", self.settings.database, self.table_name(t)))
                    .collect(),
                covered_from: row.as_ref().map(|r| rfc3339(r.covered_from)),
                reach: reach.map(rfc3339),
                lag_seconds: reach.map(|r| (now - r).as_seconds_f64().max(0.0)),
                rows: facts.rows,
                series: facts.series,
                current,
            });
        }
        Ok(out)
    }
}

/// The column of a memory rollup read's rows that says whether its bucket had
/// limit/request/restarts samples.
const MATCHED: &str = "matched";

/// The series-keyed window from the rollup's rows and names: a series' workload is named only
/// where one of its buckets had limit/request/restarts samples (`matched`), as in the raw
/// query's join. `matched` comes back beside it, row for row (a splice needs it). `typed`: the
/// rows come typed already (a splice's).
fn keyed_frame(
    kind: QueryKind,
    rows: DataFrame,
    series: DataFrame,
    typed: bool,
) -> Result<(WindowFrame, Option<Column>), FrameError> {
    let polars = |source| FrameError::Polars {
        query: kind,
        source,
    };
    // As a flag (ClickHouse sends UInt8), so the carried column and a splice's fresh rows agree.
    let mut rows = rows;
    let flags = rows
        .column(MATCHED)
        .and_then(|c| c.cast(&DataType::Boolean))
        .map_err(polars)?;
    rows.with_column(flags.clone()).map_err(polars)?;
    let keys = rows
        .column("series_key")
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(polars)?;
    let matched = window::flagged_keys(keys.u64().map_err(polars)?, flags.bool().map_err(polars)?);
    drop(keys);
    let series_keys = series
        .column("series_key")
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(polars)?;
    let named: BooleanChunked = series_keys
        .u64()
        .map_err(polars)?
        .iter()
        .map(|k| k.is_some_and(|k| matched.binary_search(&k).is_ok()))
        .collect();
    let mut series = series;
    series
        .with_column(named.with_name(MATCHED.into()).into_column())
        .map_err(polars)?;
    let series = series
        .lazy()
        .with_column(
            when(col(MATCHED))
                .then(col("workload"))
                .otherwise(lit(""))
                .alias("workload"),
        )
        .collect()
        .map_err(polars)?;
    window::normalize_keyed_carrying(kind, rows, series, Some(MATCHED), typed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn literals_replace_every_placeholder_and_escape_quotes() {
        let parameters = vec![
            Parameter {
                name: "gauge_table",
                sql_type: "Identifier",
                value: ParameterValue::Text("otel_metrics_gauge".into()),
            },
            Parameter {
                name: "working_set_metric",
                sql_type: "String",
                value: ParameterValue::Text("it's".into()),
            },
            Parameter {
                name: "kinds",
                sql_type: "Array(String)",
                value: ParameterValue::Texts(vec!["a".into(), "b\\".into()]),
            },
        ];
        let sql = with_literals(
            "SELECT {kinds:Array(String)} FROM {gauge_table:Identifier} WHERE m = {working_set_metric:String}",
            &parameters,
            "otel",
        );
        assert_eq!(
            sql,
            "SELECT ['a', 'b\\\\']::Array(String) FROM `otel`.`otel_metrics_gauge` WHERE m = 'it\\'s'"
        );
    }

    /// The DDL statements of pull rollups in `forewarn`, on `cluster` when given.
    fn statements(cluster: Option<(&str, ClusterDdl)>) -> Vec<String> {
        let cluster = cluster.map(|(name, ddl)| RollupCluster {
            name: name.into(),
            ddl,
        });
        Rollups::new(
            RollupSettings {
                mode: RollupMode::Pull,
                database: "forewarn".into(),
                overlap: Duration::from_secs(600),
                cluster,
                cache: None,
            },
            &ClickHouseConfig::new("http://localhost:8123"),
            "otel",
        )
        .ddl()
        .into_iter()
        .map(|(sql, _)| sql)
        .collect()
    }

    #[test]
    fn on_a_cluster_every_rollup_table_is_distributed_over_replicated_shards() {
        let ddl = statements(Some(("prod", ClusterDdl::OnCluster)));
        assert_eq!(
            ddl[0],
            "CREATE DATABASE IF NOT EXISTS `forewarn` ON CLUSTER `prod`"
        );
        let local = |name: &str| {
            ddl.iter()
                .find(|s| {
                    s.starts_with(&format!(
                        "CREATE TABLE IF NOT EXISTS `forewarn`.`{name}_local` "
                    ))
                })
                .unwrap_or_else(|| panic!("no {name}_local in {ddl:#?}"))
        };
        let distributed = |name: &str| {
            ddl.iter()
                .find(|s| {
                    s.starts_with(&format!("CREATE TABLE IF NOT EXISTS `forewarn`.`{name}` "))
                })
                .unwrap_or_else(|| panic!("no {name} in {ddl:#?}"))
        };
        for (name, engine, shard_by) in [
            (
                "rollup_memory_minute",
                "ReplicatedReplacingMergeTree(version)",
                "cityHash64(pod_uid, container)",
            ),
            (
                "rollup_memory_names",
                "ReplicatedAggregatingMergeTree()",
                "cityHash64(pod_uid, container)",
            ),
            (
                "rollup_errors",
                "ReplicatedReplacingMergeTree(version)",
                "cityHash64(cluster, namespace, service)",
            ),
            (
                "rollup_coverage",
                "ReplicatedReplacingMergeTree(updated_at)",
                "cityHash64(rollup)",
            ),
        ] {
            let local = local(name);
            assert!(local.contains(" ON CLUSTER `prod` "), "{local}");
            assert!(local.contains(&format!("ENGINE = {engine}")), "{local}");
            let distributed = distributed(name);
            assert_eq!(
                distributed,
                &format!(
                    "CREATE TABLE IF NOT EXISTS `forewarn`.`{name}` ON CLUSTER `prod` AS \
                     `forewarn`.`{name}_local` ENGINE = Distributed('prod', 'forewarn', \
                     '{name}_local', {shard_by})"
                )
            );
        }
        // A database that replicates its own DDL: no ON CLUSTER, plain engines, still Distributed.
        let local_ddl = statements(Some(("prod", ClusterDdl::Local)));
        assert!(local_ddl
            .iter()
            .all(|s| !s.contains("ON CLUSTER") && !s.contains("Replicated")));
        assert_eq!(
            local_ddl
                .iter()
                .filter(|s| s.contains("Distributed("))
                .count(),
            4
        );
        // Control: one server has neither.
        let single = statements(None);
        assert!(single.iter().all(|s| !s.contains("ON CLUSTER")
            && !s.contains("Distributed")
            && !s.contains("_local")));
        assert_eq!(single.len(), 5, "{single:#?}");
    }

    #[test]
    fn the_minute_views_start_in_is_not_claimed() {
        assert_eq!(
            ceil_minute(datetime!(2026-11-20 12:00:01 UTC)),
            datetime!(2026-11-20 12:01 UTC)
        );
        assert_eq!(
            ceil_minute(datetime!(2026-11-20 12:00 UTC)),
            datetime!(2026-11-20 12:00 UTC)
        );
    }
}
