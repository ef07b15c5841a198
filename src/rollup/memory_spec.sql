-- forewarn rollup: memory limits, requests and the restart counter per container incarnation
-- and minute: each the latest (time, value) pair — the greatest at equal times, as the raw
-- query's argMax by (time, value) — and how many samples the minute had.
WITH toDateTime64(TimeUnix, 9) AS sample_time
SELECT
    ResourceAttributes['k8s.pod.uid'] AS pod_uid,
    ResourceAttributes['k8s.container.name'] AS container,
    toDateTime(toStartOfMinute(TimeUnix), 'UTC') AS minute,
    maxIf((sample_time, Value), MetricName = {limit_metric:String}) AS limit_last,
    maxIf((sample_time, Value), MetricName = {request_metric:String}) AS request_last,
    maxIf((sample_time, Value), MetricName = {restarts_metric:String}) AS restart_last,
    countIf(MetricName = {restarts_metric:String}) AS restart_samples,
    {version:UInt64} AS version
FROM {gauge_table:Identifier}
WHERE MetricName IN ({limit_metric:String}, {request_metric:String}, {restarts_metric:String})
  AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
  AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
GROUP BY pod_uid, container, minute
