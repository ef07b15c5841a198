-- forewarn window: memory rows, read from the rollups (the rows of the series-keyed memory
-- window; its names come from memory_names_read.sql). The `minutes` part is the window's rows
-- of rollup_memory_minute in buckets of bucket_s: memory_buckets.sql merges the minutes of
-- coarser buckets, memory_minutes.sql takes one-minute buckets as they are (the minute rows
-- are whole after FINAL; merging them again costs 2 s of 5 on 1.8 M rows).
-- A row carries its series as the series' rank in name order (memory_ranked.sql) instead of
-- six strings, and whether its bucket had limit/request/restarts samples (`matched`: the raw
-- query's join names a workload only then). The rows come in (rank, bucket) order, which is
-- the window's order, so forewarn numbers them without sorting (or holding) them again.
-- Rows are read from `rows_since` on: the window's start, or, where a long-lived process splices
-- this window onto the one it read before (rollup/cache.rs), the first bucket it does not keep.
WITH ranked AS (
{{ranked}}
)
SELECT
    r.series_rank AS series_key,
    toDateTime64(m.bucket_start, 9, 'UTC') AS bucket,
    m.ws_max AS working_set_max_bytes,
    m.ws_min AS working_set_min_bytes,
    m.working_set_total / m.sample_count AS working_set_avg_bytes,
    m.sample_count AS samples,
    m.limit_bytes AS limit_bytes,
    m.request_bytes AS request_bytes,
    m.restart_count AS restart_count,
    m.matched AS matched
FROM (
{{buckets}}
) AS m
INNER JOIN (SELECT pod_uid, container, series_rank FROM ranked) AS r
    ON r.pod_uid = m.pod_uid
   AND r.container = m.container
ORDER BY series_key, bucket
