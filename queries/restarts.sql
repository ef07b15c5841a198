-- forewarn window: restarts
-- Returns one row per container incarnation (pod UID + container) and bucket:
--   bucket DateTime64(9,'UTC'), cluster, namespace, pod, pod_uid, container, workload  String
--   opt_out String         the pod's opt-out label value (the greatest seen), "" if unset
--   restarts UInt64        positive jumps of the k8s.container.restarts gauge inside the bucket
--   restart_count Float64  the gauge's highest value in the bucket
--   first_jump UInt64      the jump counted at the bucket's first sample (from the sample
--                          before it, 0 for a container's first sample in the read): a
--                          backtest subtracts it where its range frame starts a window, so a
--                          window sliced out of a longer read equals one read alone
-- The gauge is a count that resets (new pod, re-list), so only positive jumps between
-- consecutive samples of the same pod UID + container count; never raw differences. Samples
-- are ordered by time, then value, so duplicate and out-of-order rows count the same in both
-- sources. Names are those of the bucket's latest sample, as in memory.sql.
-- Parameters (every query is bound the full set; see src/source/parameters.rs): since, until
--   DateTime64(9); bucket_s UInt32; gauge_table Identifier; restarts_metric, cluster_attribute,
--   opt_out_attribute String; workload_kinds, workload_name_attributes Array(String).
SELECT
    toDateTime64(toStartOfInterval(time_unix, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    argMax(cluster_name, time_unix) AS cluster,
    argMax(namespace_name, time_unix) AS namespace,
    argMax(pod_name, time_unix) AS pod,
    pod_uid,
    container,
    argMax(workload_name, time_unix) AS workload,
    max(opt_out_value) AS opt_out,
    toUInt64(sum(jump)) AS restarts,
    max(restart_value) AS restart_count,
    -- The earliest sample by (time, value), the greatest jump among exact duplicates (the
    -- second of two equal samples jumps 0).
    toUInt64(argMin(jump, (time_unix, restart_value, -jump))) AS first_jump
FROM (
    SELECT
        TimeUnix AS time_unix,
        ResourceAttributes[{cluster_attribute:String}] AS cluster_name,
        ResourceAttributes['k8s.namespace.name'] AS namespace_name,
        ResourceAttributes['k8s.pod.name'] AS pod_name,
        ResourceAttributes['k8s.pod.uid'] AS pod_uid,
        ResourceAttributes['k8s.container.name'] AS container,
        arrayFirst(w -> w != '', arrayMap((kind, attribute) -> if(ResourceAttributes[attribute] != '',
                concat(kind, '/', ResourceAttributes[attribute]), ''),
            {workload_kinds:Array(String)}, {workload_name_attributes:Array(String)})) AS workload_name,
        ResourceAttributes[{opt_out_attribute:String}] AS opt_out_value,
        Value AS restart_value,
        greatest(Value - lagInFrame(Value, 1, Value) OVER (
            PARTITION BY pod_uid, container ORDER BY TimeUnix, Value
            ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), 0) AS jump
    FROM {gauge_table:Identifier}
    WHERE MetricName = {restarts_metric:String}
      AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
      AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
)
GROUP BY pod_uid, container, bucket
ORDER BY cluster, namespace, pod, container, pod_uid, bucket
