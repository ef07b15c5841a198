//! The rollup tables: per signal, tables at one-minute resolution whose columns hold exactly the
//! aggregates the signal's window query takes, in mergeable form (`SimpleAggregateFunction`:
//! max, min, sum; "latest" as the max of a (time, value) tuple), plus one row per series for
//! its names. A bucket of any whole number of minutes merges from them to the value the raw
//! query computes, so the window read from a rollup equals the raw window.
//!
//! `{LAST_VALUE}`-style markers in the column lists are expanded by [`Table::columns`].

use crate::window::QueryKind;

/// One rollup table: its columns and the SELECT (run by ClickHouse) that aggregates raw
/// samples into its rows.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// `{{name}}` in the read query stands for this table.
    pub placeholder: &'static str,
    pub columns: &'static str,
    pub order_by: &'static str,
    /// Keyed by minute (partitioned by day, kept `RETENTION_DAYS`); else one row per series,
    /// kept that long after it was last seen.
    pub per_minute: bool,
    pub select: &'static str,
    /// The sharding key on a cluster: a series' rows meet on one shard.
    pub shard_by: &'static str,
}

/// One signal's rollup: its tables and the window query that reads them.
#[derive(Debug)]
pub struct Rollup {
    pub name: &'static str,
    pub kind: QueryKind,
    pub tables: &'static [Table],
    pub read: &'static str,
    /// For a series-keyed window: the query reading its series' names (`read` then reads rows
    /// keyed by `series_key`; see `window::normalize_keyed`).
    pub names_read: Option<&'static str>,
    /// `{{ranked}}` in `read` and `names_read`: the series ranked in the window's order.
    pub ranked: Option<&'static str>,
    /// Where `read` has `{{buckets}}`: the window's minute rows merged into buckets, and (cheaper)
    /// taken as they are when the bucket is one minute.
    pub buckets: Option<Buckets>,
    /// Reads the logs table (its sort-key predicate depends on the generation).
    pub uses_logs: bool,
}

/// The two forms of a read's `{{buckets}}` part.
#[derive(Debug)]
pub struct Buckets {
    pub merged: &'static str,
    pub minutes: &'static str,
}

impl Rollup {
    /// Whether a read of `bucket_s` buckets takes the minute rows as they are (no merging).
    pub fn reads_minutes_whole(&self, bucket_s: u64) -> bool {
        self.buckets.is_some() && bucket_s == 60
    }

    /// The read query for buckets of `bucket_s` seconds (placeholders of the tables remain).
    pub fn read_sql(&self, bucket_s: u64) -> String {
        match &self.buckets {
            Some(b) if self.reads_minutes_whole(bucket_s) => {
                self.read.replace("{{buckets}}", b.minutes)
            }
            Some(b) => self.read.replace("{{buckets}}", b.merged),
            None => self.read.to_string(),
        }
        .replace("{{ranked}}", self.ranked.unwrap_or_default())
    }

    /// The query reading the series' names (placeholders of the tables remain).
    pub fn names_read_sql(&self) -> Option<String> {
        self.names_read
            .map(|sql| sql.replace("{{ranked}}", self.ranked.unwrap_or_default()))
    }
}

const LAST_VALUE: &str = "SimpleAggregateFunction(max, Tuple(DateTime64(9), Float64))";
const NAME: &str = "SimpleAggregateFunction(max, String)";

pub const MEMORY: Rollup = Rollup {
    name: "memory",
    kind: QueryKind::Memory,
    tables: &[
        Table {
            name: "rollup_memory_minute",
            placeholder: "{{minutes}}",
            columns: "pod_uid String, container String, minute DateTime('UTC'), \
                      opt_out SimpleAggregateFunction(max, String), \
                      working_set_max SimpleAggregateFunction(max, Float64), \
                      working_set_min SimpleAggregateFunction(min, Float64), \
                      working_set_sum SimpleAggregateFunction(sum, Float64), \
                      samples SimpleAggregateFunction(sum, UInt64), \
                      limit_last {LAST_VALUE}, request_last {LAST_VALUE}, \
                      restart_last {LAST_VALUE}, \
                      restart_samples SimpleAggregateFunction(sum, UInt64), \
                      spec_samples SimpleAggregateFunction(sum, UInt64), version UInt64",
            order_by: "minute, pod_uid, container",
            per_minute: true,
            select: include_str!("memory_minute.sql"),
            shard_by: "cityHash64(pod_uid, container)",
        },
        Table {
            name: "rollup_memory_names",
            placeholder: "{{series}}",
            columns: "pod_uid String, container String, cluster {NAME}, \
                      namespace {NAME}, pod {NAME}, node {NAME}, \
                      workload {NAME}, \
                      last_seen SimpleAggregateFunction(max, DateTime('UTC')), version UInt64",
            order_by: "pod_uid, container",
            per_minute: false,
            select: include_str!("memory_names.sql"),
            shard_by: "cityHash64(pod_uid, container)",
        },
    ],
    read: include_str!("memory_read.sql"),
    names_read: Some(include_str!("memory_names_read.sql")),
    ranked: Some(include_str!("memory_ranked.sql")),
    buckets: Some(Buckets {
        merged: include_str!("memory_buckets.sql"),
        minutes: include_str!("memory_minutes.sql"),
    }),
    uses_logs: false,
};

pub const ERRORS: Rollup = Rollup {
    name: "errors",
    kind: QueryKind::Errors,
    tables: &[Table {
        name: "rollup_errors",
        placeholder: "{{errors}}",
        columns: "minute DateTime('UTC'), cluster String, namespace String, service String, \
                  opt_out SimpleAggregateFunction(max, String), \
                  total SimpleAggregateFunction(sum, UInt64), \
                  errors SimpleAggregateFunction(sum, UInt64), version UInt64",
        order_by: "minute, cluster, namespace, service",
        per_minute: true,
        select: include_str!("errors.sql"),
        shard_by: "cityHash64(cluster, namespace, service)",
    }],
    read: include_str!("errors_read.sql"),
    names_read: None,
    ranked: None,
    buckets: None,
    uses_logs: true,
};

pub const ALL: [&Rollup; 2] = [&MEMORY, &ERRORS];

impl Table {
    /// The column definitions, markers expanded.
    pub fn columns(&self) -> String {
        self.columns
            .replace("{LAST_VALUE}", LAST_VALUE)
            .replace("{NAME}", NAME)
    }

    /// The key columns that identify a series (the order key without the minute).
    pub fn series_key(&self) -> &'static str {
        self.order_by.trim_start_matches("minute, ")
    }
}

/// The rollup that serves `kind`'s window, if there is one.
pub fn for_kind(kind: QueryKind) -> Option<&'static Rollup> {
    ALL.into_iter().find(|r| r.kind == kind)
}
