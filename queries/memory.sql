-- forewarn window: memory
-- Returns one row per container incarnation (pod UID + container) and bucket:
--   bucket DateTime64(9,'UTC')   start of the bucket (toStartOfInterval, aligned to the epoch)
--   cluster, namespace, pod, pod_uid, container, node, workload  String ("" when unknown)
--   opt_out String  the pod's opt-out label (resource attribute opt_out_attribute), "" if unset
--   working_set_max_bytes, working_set_min_bytes, working_set_avg_bytes  Float64 (the bucket's
--       peak, GC floor and mean of container.memory.working_set)
--   samples UInt64
--   limit_bytes, request_bytes  Nullable(Float64): NULL = no limit/request reported (0 counts as none)
--   restart_count Nullable(Float64): the k8s.container.restarts gauge (latest in the bucket), so
--       detectors split the series at restarts exactly instead of guessing from memory drops
-- Parameters: since, until DateTime64(9); bucket_s UInt32; gauge_table Identifier;
--   working_set_metric, limit_metric, request_metric, restarts_metric, cluster_attribute,
--   opt_out_attribute String.
-- The usage side groups by a hash of the resource map and copies the map once per group: pulling
-- strings out of the map for every sample doubles ClickHouse's work (build-notes.md).
WITH usage AS (
    SELECT
        cityHash64(ResourceAttributes) AS series,
        toStartOfInterval(TimeUnix, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        any(ResourceAttributes) AS resource,
        max(Value) AS working_set_max_bytes,
        min(Value) AS working_set_min_bytes,
        avg(Value) AS working_set_avg_bytes,
        count() AS samples
    FROM {gauge_table:Identifier}
    WHERE MetricName = {working_set_metric:String}
      AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
      AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
    GROUP BY series, bucket_start
),
spec AS (
    SELECT
        ResourceAttributes['k8s.pod.uid'] AS pod_uid,
        ResourceAttributes['k8s.container.name'] AS container,
        toStartOfInterval(TimeUnix, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        nullIf(argMaxIf(Value, TimeUnix, MetricName = {limit_metric:String}), 0) AS limit_bytes,
        nullIf(argMaxIf(Value, TimeUnix, MetricName = {request_metric:String}), 0) AS request_bytes,
        if(countIf(MetricName = {restarts_metric:String}) = 0, NULL,
           argMaxIf(Value, TimeUnix, MetricName = {restarts_metric:String})) AS restart_count,
        any(multiIf(
            ResourceAttributes['k8s.deployment.name'] != '', concat('Deployment/', ResourceAttributes['k8s.deployment.name']),
            ResourceAttributes['k8s.statefulset.name'] != '', concat('StatefulSet/', ResourceAttributes['k8s.statefulset.name']),
            ResourceAttributes['k8s.daemonset.name'] != '', concat('DaemonSet/', ResourceAttributes['k8s.daemonset.name']),
            ResourceAttributes['k8s.cronjob.name'] != '', concat('CronJob/', ResourceAttributes['k8s.cronjob.name']),
            ResourceAttributes['k8s.job.name'] != '', concat('Job/', ResourceAttributes['k8s.job.name']),
            '')) AS workload
    FROM {gauge_table:Identifier}
    WHERE MetricName IN ({limit_metric:String}, {request_metric:String}, {restarts_metric:String})
      AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
      AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
    GROUP BY pod_uid, container, bucket_start
)
SELECT
    toDateTime64(u.bucket_start, 9, 'UTC') AS bucket,
    u.resource[{cluster_attribute:String}] AS cluster,
    u.resource['k8s.namespace.name'] AS namespace,
    u.resource['k8s.pod.name'] AS pod,
    u.resource['k8s.pod.uid'] AS pod_uid,
    u.resource['k8s.container.name'] AS container,
    u.resource['k8s.node.name'] AS node,
    u.resource[{opt_out_attribute:String}] AS opt_out,
    s.workload AS workload,
    u.working_set_max_bytes AS working_set_max_bytes,
    u.working_set_min_bytes AS working_set_min_bytes,
    u.working_set_avg_bytes AS working_set_avg_bytes,
    u.samples AS samples,
    s.limit_bytes AS limit_bytes,
    s.request_bytes AS request_bytes,
    s.restart_count AS restart_count
FROM usage AS u
LEFT JOIN spec AS s
    ON s.pod_uid = u.resource['k8s.pod.uid']
   AND s.container = u.resource['k8s.container.name']
   AND s.bucket_start = u.bucket_start
ORDER BY cluster, namespace, pod, container, pod_uid, bucket
