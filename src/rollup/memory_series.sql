-- forewarn rollup: the names of each container incarnation, once per series (the latest seen):
-- cluster, namespace, pod and node from its working-set samples, the owning workload from its
-- limit/request/restarts samples. Sample times are taken as DateTime64(9) whatever the
-- exporter generation stores (G2: DateTime), so the columns have one type.
WITH toDateTime64(TimeUnix, 9) AS sample_time,
     MetricName = {working_set_metric:String} AS usage_sample
SELECT
    ResourceAttributes['k8s.pod.uid'] AS pod_uid,
    ResourceAttributes['k8s.container.name'] AS container,
    maxIf((sample_time, ResourceAttributes[{cluster_attribute:String}]), usage_sample) AS cluster,
    maxIf((sample_time, ResourceAttributes['k8s.namespace.name']), usage_sample) AS namespace,
    maxIf((sample_time, ResourceAttributes['k8s.pod.name']), usage_sample) AS pod,
    maxIf((sample_time, ResourceAttributes['k8s.node.name']), usage_sample) AS node,
    maxIf((sample_time, arrayFirst(w -> w != '', arrayMap((kind, attribute) -> if(ResourceAttributes[attribute] != '',
            concat(kind, '/', ResourceAttributes[attribute]), ''),
        {workload_kinds:Array(String)}, {workload_name_attributes:Array(String)}))), NOT usage_sample) AS workload,
    toDateTime(max(TimeUnix), 'UTC') AS last_seen,
    {version:UInt64} AS version
FROM {gauge_table:Identifier}
WHERE MetricName IN ({working_set_metric:String}, {limit_metric:String}, {request_metric:String}, {restarts_metric:String})
  AND toStartOfHour(TimeUnix) >= toStartOfHour({since:DateTime64(9)})
  AND TimeUnix >= {since:DateTime64(9)} AND TimeUnix < {until:DateTime64(9)}
GROUP BY pod_uid, container
