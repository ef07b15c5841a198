-- forewarn rollup: memory usage, one row per container incarnation (pod UID + container) and
-- minute, as aggregate states of exactly the aggregates queries/memory.sql's `usage` part takes,
-- so any bucket of whole minutes merges from these rows to the value the raw query computes.
-- Executed by ClickHouse as INSERT INTO <forewarn db>.rollup_memory_usage SELECT …; nothing
-- travels through forewarn. Parameters: the window set of src/source/parameters.rs, with
-- since/until the minutes to (re)aggregate, and version UInt64 (later aggregations of a minute
-- replace earlier ones). Sample times are taken as DateTime64(9) whatever the exporter
-- generation stores (G2: DateTime), so the states have one type.
WITH toDateTime64(TimeUnix, 9) AS sample_time
SELECT
    ResourceAttributes['k8s.pod.uid'] AS pod_uid,
    ResourceAttributes['k8s.container.name'] AS container,
    toDateTime(toStartOfMinute(TimeUnix), 'UTC') AS minute,
    argMaxState(ResourceAttributes[{cluster_attribute:String}], sample_time) AS cluster,
    argMaxState(ResourceAttributes['k8s.namespace.name'], sample_time) AS namespace,
    argMaxState(ResourceAttributes['k8s.pod.name'], sample_time) AS pod,
    argMaxState(ResourceAttributes['k8s.node.name'], sample_time) AS node,
    maxState(ResourceAttributes[{opt_out_attribute:String}]) AS opt_out,
    maxState(Value) AS working_set_max,
    minState(Value) AS working_set_min,
    avgState(Value) AS working_set_avg,
    countState() AS samples,
    {version:UInt64} AS version
FROM {gauge_table:Identifier}
WHERE MetricName = {working_set_metric:String}
  AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
  AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
GROUP BY pod_uid, container, minute
