-- forewarn window: memory, read from the rollups (the frame of queries/memory.sql, in its
-- order). The `minutes` part is the window's rows of rollup_memory_minute in buckets of bucket_s:
-- memory_buckets.sql merges the minutes of coarser buckets, memory_minutes.sql takes one-minute
-- buckets as they are (the minute rows are whole after FINAL; merging them again costs 2 s of
-- 5 on 1.8 M rows). The names come from rollup_memory_names. A bucket's workload is its series' owner
-- where the bucket has limit/request/restarts samples, as in the raw query's join.
-- The order: each series is ranked once by its names (a few thousand rows), and the rows are
-- sorted by (rank, bucket) — integers, instead of six strings per row. Measured on 1.8 M rows
-- (chdb, 2 cores): 2.1 s against 3.0 s for sorting by the names, and 8 s for sorting in Polars.
WITH minutes AS (
{{buckets}}
),
series AS (
    SELECT
        pod_uid,
        container,
        cluster,
        namespace,
        pod,
        node,
        workload,
        row_number() OVER (ORDER BY cluster, namespace, pod, container, pod_uid) AS series_rank
    FROM (
        SELECT
            pod_uid,
            container,
            max(cluster) AS cluster,
            max(namespace) AS namespace,
            max(pod) AS pod,
            max(node) AS node,
            max(workload) AS workload
        FROM {{series}}
        GROUP BY pod_uid, container
        -- A series with a sample in the window was last seen inside or after it.
        HAVING max(last_seen) >= toStartOfMinute({since:DateTime64(9)})
    )
)
SELECT
    toDateTime64(m.bucket_start, 9, 'UTC') AS bucket,
    n.cluster AS cluster,
    n.namespace AS namespace,
    n.pod AS pod,
    m.pod_uid AS pod_uid,
    m.container AS container,
    n.node AS node,
    if(m.matched, n.workload, '') AS workload,
    m.opt_out_value AS opt_out,
    m.ws_max AS working_set_max_bytes,
    m.ws_min AS working_set_min_bytes,
    m.working_set_total / m.sample_count AS working_set_avg_bytes,
    m.sample_count AS samples,
    m.limit_bytes AS limit_bytes,
    m.request_bytes AS request_bytes,
    m.restart_count AS restart_count
FROM minutes AS m
LEFT JOIN series AS n
    ON n.pod_uid = m.pod_uid
   AND n.container = m.container
ORDER BY n.series_rank, m.bucket_start
