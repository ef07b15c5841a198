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
-- Names (cluster, namespace, pod, node) are those of the bucket's latest working-set sample,
-- workload that of its latest limit/request/restarts sample, and the Parquet twin makes the same
-- choice, so a pod whose node or labels change inside a bucket is one row from both sources.
-- forewarn then takes the names out of the rows: the memory window is series-keyed (one row of
-- names per container incarnation, the greatest where its buckets disagree; src/window).
-- (At one instant a container reports one set of names; if two conflicting ones ever shared a
-- timestamp, argMax may keep either, where the twin keeps the greatest. Measured on 2.9 M
-- samples (chdb, 2 cores): any() 1.9 s, argMax by time 2.5 s, tuple tie-breaks on every name
-- 3.7 s — too dear for a case exporters do not produce.)
-- Gauge values are the latest too, the greatest at equal times (duplicate exports that
-- disagree), which costs little on the few spec rows.
-- Parameters (every query is bound the full set; see src/source/parameters.rs): since, until
--   DateTime64(9); bucket_s UInt32; gauge_table Identifier; working_set_metric, limit_metric,
--   request_metric, restarts_metric, cluster_attribute, opt_out_attribute String;
--   workload_kinds, workload_name_attributes Array(String) (kinds in precedence order, and the
--   resource attribute naming each: `Deployment/cart` from k8s.deployment.name = cart).
-- Both sides group by the two identity keys pulled out of the resource map (pod UID, container)
-- and carry the other names as aggregates: measured on 14.4 M samples, this is cheaper than
-- hashing the whole map (every key) or copying the map per group.
WITH usage AS (
    SELECT
        ResourceAttributes['k8s.pod.uid'] AS pod_uid,
        ResourceAttributes['k8s.container.name'] AS container,
        toStartOfInterval(TimeUnix, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        argMax(ResourceAttributes[{cluster_attribute:String}], TimeUnix) AS cluster,
        argMax(ResourceAttributes['k8s.namespace.name'], TimeUnix) AS namespace,
        argMax(ResourceAttributes['k8s.pod.name'], TimeUnix) AS pod,
        argMax(ResourceAttributes['k8s.node.name'], TimeUnix) AS node,
        max(ResourceAttributes[{opt_out_attribute:String}]) AS opt_out,
        max(Value) AS working_set_max_bytes,
        min(Value) AS working_set_min_bytes,
        avg(Value) AS working_set_avg_bytes,
        count() AS samples
    FROM {gauge_table:Identifier}
    WHERE MetricName = {working_set_metric:String}
      AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
      AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
    GROUP BY pod_uid, container, bucket_start
),
spec AS (
    SELECT
        ResourceAttributes['k8s.pod.uid'] AS pod_uid,
        ResourceAttributes['k8s.container.name'] AS container,
        toStartOfInterval(TimeUnix, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        nullIf(argMaxIf(Value, (TimeUnix, Value), MetricName = {limit_metric:String}), 0) AS limit_bytes,
        nullIf(argMaxIf(Value, (TimeUnix, Value), MetricName = {request_metric:String}), 0) AS request_bytes,
        if(countIf(MetricName = {restarts_metric:String}) = 0, NULL,
           argMaxIf(Value, (TimeUnix, Value), MetricName = {restarts_metric:String})) AS restart_count,
        argMax(owner, TimeUnix) AS workload
    FROM (
        SELECT
            TimeUnix,
            MetricName,
            Value,
            ResourceAttributes,
            arrayFirst(w -> w != '', arrayMap((kind, attribute) -> if(ResourceAttributes[attribute] != '',
                    concat(kind, '/', ResourceAttributes[attribute]), ''),
                {workload_kinds:Array(String)}, {workload_name_attributes:Array(String)})) AS owner
        FROM {gauge_table:Identifier}
        WHERE MetricName IN ({limit_metric:String}, {request_metric:String}, {restarts_metric:String})
          AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
          AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
    )
    GROUP BY pod_uid, container, bucket_start
)
SELECT
    toDateTime64(u.bucket_start, 9, 'UTC') AS bucket,
    u.cluster AS cluster,
    u.namespace AS namespace,
    u.pod AS pod,
    u.pod_uid AS pod_uid,
    u.container AS container,
    u.node AS node,
    s.workload AS workload,
    u.opt_out AS opt_out,
    u.working_set_max_bytes AS working_set_max_bytes,
    u.working_set_min_bytes AS working_set_min_bytes,
    u.working_set_avg_bytes AS working_set_avg_bytes,
    u.samples AS samples,
    s.limit_bytes AS limit_bytes,
    s.request_bytes AS request_bytes,
    s.restart_count AS restart_count
FROM usage AS u
LEFT JOIN spec AS s
    ON s.pod_uid = u.pod_uid
   AND s.container = u.container
   AND s.bucket_start = u.bucket_start
ORDER BY cluster, namespace, pod, container, pod_uid, bucket
