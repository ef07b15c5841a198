-- forewarn window: restarts
-- Returns one row per container incarnation (pod UID + container) and bucket:
--   bucket DateTime64(9,'UTC'), cluster, namespace, pod, pod_uid, container, workload  String
--   opt_out String         the pod's opt-out label value, "" if unset
--   restarts UInt64        positive jumps of the k8s.container.restarts gauge inside the bucket
--   restart_count Float64  the gauge's highest value in the bucket
-- The gauge is a count that resets (new pod, re-list), so only positive jumps between
-- consecutive samples of the same pod UID + container count; never raw differences.
-- Parameters: since, until DateTime64(9); bucket_s UInt32; gauge_table Identifier;
--   restarts_metric, cluster_attribute, opt_out_attribute String.
SELECT
    toDateTime64(toStartOfInterval(time_unix, toIntervalSecond({bucket_s:UInt32})), 9, 'UTC') AS bucket,
    any(cluster_name) AS cluster,
    any(namespace_name) AS namespace,
    any(pod_name) AS pod,
    pod_uid,
    container,
    any(workload_name) AS workload,
    max(opt_out_value) AS opt_out,
    toUInt64(sum(jump)) AS restarts,
    max(restart_value) AS restart_count
FROM (
    SELECT
        TimeUnix AS time_unix,
        ResourceAttributes[{cluster_attribute:String}] AS cluster_name,
        ResourceAttributes['k8s.namespace.name'] AS namespace_name,
        ResourceAttributes['k8s.pod.name'] AS pod_name,
        ResourceAttributes['k8s.pod.uid'] AS pod_uid,
        ResourceAttributes['k8s.container.name'] AS container,
        multiIf(
            ResourceAttributes['k8s.deployment.name'] != '', concat('Deployment/', ResourceAttributes['k8s.deployment.name']),
            ResourceAttributes['k8s.statefulset.name'] != '', concat('StatefulSet/', ResourceAttributes['k8s.statefulset.name']),
            ResourceAttributes['k8s.daemonset.name'] != '', concat('DaemonSet/', ResourceAttributes['k8s.daemonset.name']),
            ResourceAttributes['k8s.cronjob.name'] != '', concat('CronJob/', ResourceAttributes['k8s.cronjob.name']),
            ResourceAttributes['k8s.job.name'] != '', concat('Job/', ResourceAttributes['k8s.job.name']),
            '') AS workload_name,
        ResourceAttributes[{opt_out_attribute:String}] AS opt_out_value,
        Value AS restart_value,
        greatest(Value - lagInFrame(Value, 1, Value) OVER (
            PARTITION BY pod_uid, container ORDER BY TimeUnix
            ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), 0) AS jump
    FROM {gauge_table:Identifier}
    WHERE MetricName = {restarts_metric:String}
      AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
      AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
)
GROUP BY pod_uid, container, bucket
ORDER BY cluster, namespace, pod, container, pod_uid, bucket
