-- forewarn rollup: memory limits, requests, restart counter and owner per container
-- incarnation and minute: the aggregate states of queries/memory.sql's `spec` part.
WITH toDateTime64(TimeUnix, 9) AS sample_time
SELECT
    ResourceAttributes['k8s.pod.uid'] AS pod_uid,
    ResourceAttributes['k8s.container.name'] AS container,
    toDateTime(toStartOfMinute(TimeUnix), 'UTC') AS minute,
    argMaxIfState(Value, (sample_time, Value), MetricName = {limit_metric:String}) AS limit_bytes,
    argMaxIfState(Value, (sample_time, Value), MetricName = {request_metric:String}) AS request_bytes,
    argMaxIfState(Value, (sample_time, Value), MetricName = {restarts_metric:String}) AS restart_count,
    countIfState(MetricName = {restarts_metric:String}) AS restart_samples,
    argMaxState(arrayFirst(w -> w != '', arrayMap((kind, attribute) -> if(ResourceAttributes[attribute] != '',
            concat(kind, '/', ResourceAttributes[attribute]), ''),
        {workload_kinds:Array(String)}, {workload_name_attributes:Array(String)})), sample_time) AS workload,
    {version:UInt64} AS version
FROM {gauge_table:Identifier}
WHERE MetricName IN ({limit_metric:String}, {request_metric:String}, {restarts_metric:String})
  AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
  AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
GROUP BY pod_uid, container, minute
