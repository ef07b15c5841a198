-- forewarn rollup: memory usage, one row per container incarnation (pod UID + container) and
-- minute, holding exactly what queries/memory.sql's `usage` part aggregates, in mergeable form
-- (max, min, sum and count of the working set; the opt-out label's greatest value), so any
-- bucket of whole minutes merges from these rows to the value the raw query computes.
-- The names (cluster, namespace, pod, node, workload) are kept once per series instead, in
-- rollup_memory_series: Kubernetes never changes a pod UID's namespace, name or node.
-- Executed by ClickHouse as INSERT INTO <forewarn db>.rollup_memory_usage SELECT …; nothing
-- travels through forewarn. Parameters: the window set of src/source/parameters.rs, with
-- since/until the minutes to (re)aggregate, and version UInt64 (a later aggregation of a minute
-- replaces the earlier one).
SELECT
    ResourceAttributes['k8s.pod.uid'] AS pod_uid,
    ResourceAttributes['k8s.container.name'] AS container,
    toDateTime(toStartOfMinute(TimeUnix), 'UTC') AS minute,
    max(ResourceAttributes[{opt_out_attribute:String}]) AS opt_out,
    max(Value) AS working_set_max,
    min(Value) AS working_set_min,
    sum(Value) AS working_set_sum,
    count() AS samples,
    {version:UInt64} AS version
FROM {gauge_table:Identifier}
WHERE MetricName = {working_set_metric:String}
  AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
  AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
GROUP BY pod_uid, container, minute
