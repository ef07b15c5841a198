-- forewarn window: memory, read from the rollups (the frame of queries/memory.sql).
-- {{usage}}, {{spec}} and {{series}} are the rollup tables (with FINAL where re-aggregated rows
-- replace earlier ones); buckets of bucket_s (a whole number of minutes) merge their minutes.
-- A bucket's workload is its series' owner where the bucket has limit/request/restarts samples,
-- as in the raw query's join. No ORDER BY: the frame is sorted in Polars (window::normalize).
WITH usage AS (
    SELECT
        pod_uid,
        container,
        toStartOfInterval(minute, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        max(opt_out) AS opt_out_value,
        max(working_set_max) AS ws_max,
        min(working_set_min) AS ws_min,
        sum(working_set_sum) AS working_set_total,
        sum(samples) AS sample_count
    FROM {{usage}}
    WHERE minute >= {since:DateTime64(9)} AND minute < {until:DateTime64(9)}
    GROUP BY pod_uid, container, bucket_start
),
spec AS (
    SELECT
        pod_uid,
        container,
        toStartOfInterval(minute, toIntervalSecond({bucket_s:UInt32})) AS bucket_start,
        nullIf(max(limit_last).2, 0) AS limit_bytes,
        nullIf(max(request_last).2, 0) AS request_bytes,
        if(sum(restart_samples) = 0, NULL, max(restart_last).2) AS restart_count,
        toUInt8(1) AS matched
    FROM {{spec}}
    WHERE minute >= {since:DateTime64(9)} AND minute < {until:DateTime64(9)}
    GROUP BY pod_uid, container, bucket_start
),
series AS (
    SELECT
        pod_uid,
        container,
        max(cluster).2 AS cluster,
        max(namespace).2 AS namespace,
        max(pod).2 AS pod,
        max(node).2 AS node,
        max(workload).2 AS workload
    FROM {{series}}
    GROUP BY pod_uid, container
)
SELECT
    toDateTime64(u.bucket_start, 9, 'UTC') AS bucket,
    n.cluster AS cluster,
    n.namespace AS namespace,
    n.pod AS pod,
    u.pod_uid AS pod_uid,
    u.container AS container,
    n.node AS node,
    if(s.matched = 1, n.workload, '') AS workload,
    u.opt_out_value AS opt_out,
    u.ws_max AS working_set_max_bytes,
    u.ws_min AS working_set_min_bytes,
    u.working_set_total / u.sample_count AS working_set_avg_bytes,
    u.sample_count AS samples,
    s.limit_bytes AS limit_bytes,
    s.request_bytes AS request_bytes,
    s.restart_count AS restart_count
FROM usage AS u
LEFT JOIN spec AS s
    ON s.pod_uid = u.pod_uid
   AND s.container = u.container
   AND s.bucket_start = u.bucket_start
LEFT JOIN series AS n
    ON n.pod_uid = u.pod_uid
   AND n.container = u.container
