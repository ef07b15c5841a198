-- forewarn window: memory, read from the rollups (the frame of queries/memory.sql).
-- {{usage}} and {{spec}} are the rollup tables (with FINAL where re-aggregated minutes replace
-- earlier rows); buckets of bucket_s (a whole number of minutes) merge their minutes' states.
WITH usage AS (
    SELECT
        pod_uid,
        container,
        toStartOfInterval(minute, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        argMaxMerge(cluster) AS cluster,
        argMaxMerge(namespace) AS namespace,
        argMaxMerge(pod) AS pod,
        argMaxMerge(node) AS node,
        maxMerge(opt_out) AS opt_out,
        maxMerge(working_set_max) AS working_set_max_bytes,
        minMerge(working_set_min) AS working_set_min_bytes,
        avgMerge(working_set_avg) AS working_set_avg_bytes,
        countMerge(samples) AS samples
    FROM {{usage}}
    WHERE minute >= {since:DateTime64(9)} AND minute < {until:DateTime64(9)}
    GROUP BY pod_uid, container, bucket_start
),
spec AS (
    SELECT
        pod_uid,
        container,
        toStartOfInterval(minute, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        nullIf(argMaxIfMerge(limit_bytes), 0) AS limit_bytes,
        nullIf(argMaxIfMerge(request_bytes), 0) AS request_bytes,
        if(countIfMerge(restart_samples) = 0, NULL, argMaxIfMerge(restart_count)) AS restart_count,
        argMaxMerge(workload) AS workload
    FROM {{spec}}
    WHERE minute >= {since:DateTime64(9)} AND minute < {until:DateTime64(9)}
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
