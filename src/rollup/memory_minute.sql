-- forewarn rollup: memory, one row per container incarnation (pod UID + container) and minute,
-- holding exactly what queries/memory.sql aggregates, in mergeable form: the working set's
-- max, min, sum and count and the opt-out label's greatest value (its `usage` part), and the
-- latest limit, request and restart counter as the max of a (time, value) pair — the greatest
-- at equal times, as the raw query's argMax by (time, value) — with how many limit/request/
-- restarts samples the minute had (its `spec` part). One table and one pass over the raw rows
-- for both parts: the read needs no join between them. A minute with spec samples only keeps
-- its row (samples = 0, the working-set extremes at their identities) so a coarser bucket sees
-- the spec sample, as the raw query's join does; the read drops buckets without samples.
-- The names (cluster, namespace, pod, node, workload) are kept once per series instead, in
-- rollup_memory_names: Kubernetes never changes a pod UID's namespace, name or node.
-- Executed by ClickHouse as INSERT INTO <forewarn db>.rollup_memory_minute SELECT …; nothing
-- travels through forewarn. Parameters: the window set of src/source/parameters.rs, with
-- since/until the minutes to (re)aggregate, and version UInt64 (a later aggregation of a minute
-- replaces the earlier one).
WITH toDateTime64(TimeUnix, 9) AS sample_time,
     MetricName = {working_set_metric:String} AS usage_sample
SELECT
    ResourceAttributes['k8s.pod.uid'] AS pod_uid,
    ResourceAttributes['k8s.container.name'] AS container,
    toDateTime(toStartOfMinute(TimeUnix), 'UTC') AS minute,
    maxIf(ResourceAttributes[{opt_out_attribute:String}], usage_sample) AS opt_out,
    if(countIf(usage_sample) = 0, -inf, maxIf(Value, usage_sample)) AS working_set_max,
    if(countIf(usage_sample) = 0, inf, minIf(Value, usage_sample)) AS working_set_min,
    sumIf(Value, usage_sample) AS working_set_sum,
    countIf(usage_sample) AS samples,
    maxIf((sample_time, Value), MetricName = {limit_metric:String}) AS limit_last,
    maxIf((sample_time, Value), MetricName = {request_metric:String}) AS request_last,
    maxIf((sample_time, Value), MetricName = {restarts_metric:String}) AS restart_last,
    countIf(MetricName = {restarts_metric:String}) AS restart_samples,
    countIf(NOT usage_sample) AS spec_samples,
    {version:UInt64} AS version
FROM {gauge_table:Identifier}
WHERE MetricName IN ({working_set_metric:String}, {limit_metric:String}, {request_metric:String}, {restarts_metric:String})
  AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
  AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
GROUP BY pod_uid, container, minute
