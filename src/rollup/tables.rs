//! The rollup tables: per signal, one or more tables at one-minute resolution whose columns are
//! ClickHouse aggregate states of exactly the aggregates the signal's window query takes. A
//! bucket of any whole number of minutes merges (`-Merge`) from them to the value the raw query
//! computes, so the window read from a rollup equals the raw window.

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
    pub select: &'static str,
}

/// One signal's rollup: its tables and the window query that reads them.
#[derive(Debug)]
pub struct Rollup {
    pub name: &'static str,
    pub kind: QueryKind,
    pub tables: &'static [Table],
    pub read: &'static str,
    /// Reads the logs table (its sort-key predicate depends on the generation).
    pub uses_logs: bool,
}

pub const MEMORY: Rollup = Rollup {
    name: "memory",
    kind: QueryKind::Memory,
    tables: &[
        Table {
            name: "rollup_memory_usage",
            placeholder: "{{usage}}",
            columns: "pod_uid String, container String, minute DateTime('UTC'), \
                      cluster AggregateFunction(argMax, String, DateTime64(9)), \
                      namespace AggregateFunction(argMax, String, DateTime64(9)), \
                      pod AggregateFunction(argMax, String, DateTime64(9)), \
                      node AggregateFunction(argMax, String, DateTime64(9)), \
                      opt_out AggregateFunction(max, String), \
                      working_set_max AggregateFunction(max, Float64), \
                      working_set_min AggregateFunction(min, Float64), \
                      working_set_avg AggregateFunction(avg, Float64), \
                      samples AggregateFunction(count), version UInt64",
            order_by: "minute, pod_uid, container",
            select: include_str!("memory_usage.sql"),
        },
        Table {
            name: "rollup_memory_spec",
            placeholder: "{{spec}}",
            columns: "pod_uid String, container String, minute DateTime('UTC'), \
                      limit_bytes AggregateFunction(argMaxIf, Float64, Tuple(DateTime64(9), Float64), UInt8), \
                      request_bytes AggregateFunction(argMaxIf, Float64, Tuple(DateTime64(9), Float64), UInt8), \
                      restart_count AggregateFunction(argMaxIf, Float64, Tuple(DateTime64(9), Float64), UInt8), \
                      restart_samples AggregateFunction(countIf, UInt8), \
                      workload AggregateFunction(argMax, String, DateTime64(9)), version UInt64",
            order_by: "minute, pod_uid, container",
            select: include_str!("memory_spec.sql"),
        },
    ],
    read: include_str!("memory_read.sql"),
    uses_logs: false,
};

pub const ERRORS: Rollup = Rollup {
    name: "errors",
    kind: QueryKind::Errors,
    tables: &[Table {
        name: "rollup_errors",
        placeholder: "{{errors}}",
        columns: "minute DateTime('UTC'), cluster String, namespace String, service String, \
                  opt_out AggregateFunction(max, String), total AggregateFunction(count), \
                  errors AggregateFunction(countIf, UInt8), version UInt64",
        order_by: "minute, cluster, namespace, service",
        select: include_str!("errors.sql"),
    }],
    read: include_str!("errors_read.sql"),
    uses_logs: true,
};

pub const ALL: [&Rollup; 2] = [&MEMORY, &ERRORS];

/// The rollup that serves `kind`'s window, if there is one.
pub fn for_kind(kind: QueryKind) -> Option<&'static Rollup> {
    ALL.into_iter().find(|r| r.kind == kind)
}
